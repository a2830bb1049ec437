/* The engine's exact integer kernels: matrix products with the requantisation epilogue (LINEAR, MATMUL), and the
 * elementwise ADD / SUB / MUL and ROPE passes. Every value equals the numpy definition's (the ops modules); tests compare
 * them bit for bit.
 *
 * matmul: out[i, m, n] = requantise(sum_k a[i, m, k] * b[i or 0, n, k] + bias[n], shift). a is int16 (int8
 * activations are widened to int16 by the caller: M x K is small), b is int8 or int16 (torch's [out, in] weight
 * layout, read as stored: never widened as a whole), out is int8/16/32 (saturated) or int64 (the exact sum).
 *
 * Exactness (AVX2 path). Each step loads 16 k-values: b's 16 int8 are sign-extended to int16 (vpmovsxbw) and
 * vpmaddwd multiplies them with a's 16 int16, adding adjacent products into 8 int32 lanes. One lane gains
 * |a0 b0 + a1 b1| <= 2 * 2^15 * 2^7 = 2^23 per step (the bound is reached by a = -32768, b = -128), so a lane
 * that takes at most KBLOCK / 16 <= 255 steps stays within 255 * 2^23 < 2^31: no int32 partial can overflow. After
 * each K block the 8 lanes are widened to int64 and added to the sums. The int64 total is the exact sum; it fits
 * because the engine refuses any node whose accumulator bound exceeds 2^62 (ops/linear.py). Additions of
 * integers are associative, so the order (lanes, blocks, threads) cannot change the result.
 *
 * int16 x int16: b is split exactly as b = 256 hi + lo with hi = b >> 8 in [-128, 127] and lo = b & 255 in
 * [0, 255]; vpmaddwd gives |a hi pair| <= 2^23 and |a lo pair| <= 2 * 2^15 * 255 < 2^24 per step in two int32 lane
 * sets, so a block of at most 127 steps stays below 2^31; sum = 256 sum(hi) + sum(lo) in int64. (vpmaddwd on the
 * unsplit operands would wrap: (-32768)(-32768) * 2 = 2^31.)
 *
 * AVX-512 (VNNI) path, chosen at run time where the CPU has AVX512-BW and AVX512-VNNI: the same products 32
 * k-values per step (vpmovsxbw zmm, then vpdpwssd, which adds the pair sums to the int32 lanes without
 * saturation, i.e. exactly while no lane leaves int32), so the same per-step lane bounds hold and a block of
 * KBLOCK / 32 steps is within them. Products of two activations with a short K take a column-vector variant
 * (see run_vertical) with the same lane bounds.
 *
 * AMX path, chosen at run time where the CPU has AMX-TILE and AMX-INT8 and Linux grants the tile state: products of
 * at least AMX_MIN_M rows as tile multiplies of exact byte planes (the AMX section below: the split, its bounds). Every
 * path is tested bit for bit (set_isa picks one).
 *
 * Threads (a persistent worker pool, _pool.h, used for large work only) split the items (MATMUL's heads) or N into
 * contiguous ranges, or an elementwise output into element ranges; each thread writes only its own outputs.
 *
 * Built by setup.py as offchain.engine._kernels; offchain/engine/kernels.py falls back to numpy when this
 * module is missing or avx2() is false (non-x86 CPUs, or x86 CPUs without AVX2).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_isa.h"
#include "_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#else
#define HAVE_X86 0
#endif
/* The AMX path needs x86-64 and a compiler with the AMX intrinsics (gcc 11, clang 12); without them the module
 * builds the vector kernels only. */
#if HAVE_X86 && defined(__x86_64__) && \
    ((defined(__clang__) && __clang_major__ >= 12) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 11))
#define HAVE_AMX 1
#else
#define HAVE_AMX 0
#endif

/* K values per int32 accumulation block: at most 127 vpmaddwd steps of 16 (the int16 x int16 bound above). */
#ifndef KBLOCK
#define KBLOCK 1024
#endif
/* Bytes of a (int16) per row block: half of this CPU kind's 2 MiB L2 per core. */
#ifndef A_BLOCK_BYTES
#define A_BLOCK_BYTES (1 << 20)
#endif
_Static_assert(KBLOCK % 16 == 0 && KBLOCK / 16 <= 127, "an int32 lane must not overflow (2^24 per step)");
_Static_assert(4 * (KBLOCK / 32) * (1LL << 23) < (1LL << 31), "four int8-b lanes must add in int32 (tile512)");
/* Products below this many multiply-adds run on the calling thread (thread start-up costs ~50 us). */
#define MIN_PARALLEL_MACS (1LL << 21)
#define MAX_THREADS 64

enum { ISA_NONE = 0, ISA_AVX2 = 1, ISA_AVX512 = 2, ISA_AMX = 3 };

typedef struct {
    const int16_t *a; /* [items or 1, m, k] */
    const void *b;    /* int8 or int16 [items or 1, n, k] */
    int b16;          /* 1: b is int16 */
    int isa;          /* ISA_AVX2, ISA_AVX512 or ISA_AMX */
    Py_ssize_t m, n, k;
    Py_ssize_t a_step, b_step; /* elements between items (0: one operand shared by every item) */
    Py_ssize_t i0, i1;         /* this thread's items [i0, i1) */
    Py_ssize_t n0, n1;         /* and columns [n0, n1) */
    const int32_t *bias;       /* NULL or [n], added to the exact sum */
    int shift;                 /* requantisation: out = saturate(rshift_round(sum + bias, shift)) */
    int out_size;              /* bytes per output element: 1, 2, 4 (saturated) or 8 (the exact sum, shift 0) */
    void *out;                 /* [items, m, n] */
    int failed;                /* set when the thread's scratch could not be allocated */
} Job;

#if HAVE_X86

__attribute__((target("avx2"), always_inline)) static inline int64_t hsum_epi32(__m256i v) {
    __m256i wide = _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                                    _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(wide), _mm256_extracti128_si256(wide, 1));
    return (int64_t)_mm_cvtsi128_si64(s) + (int64_t)_mm_extract_epi64(s, 1);
}

/* One MR x NR tile of out over k in [k0, k1), k1 - k0 <= KBLOCK; MR and NR are constants after inlining, so
 * the accumulators live in registers. */
__attribute__((target("avx2"), always_inline)) static inline void tile(
    const int16_t *a, const int8_t *b, int64_t *out, Py_ssize_t k, Py_ssize_t n,
    Py_ssize_t k0, Py_ssize_t k1, const int MR, const int NR) {
    __m256i acc[4][4];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = _mm256_setzero_si256();
    Py_ssize_t kv = k0 + ((k1 - k0) & ~(Py_ssize_t)15);
    for (Py_ssize_t p = k0; p < kv; p += 16) {
        __m256i bv[4];
        for (int j = 0; j < NR; j++)
            bv[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + j * k + p)));
        for (int i = 0; i < MR; i++) {
            __m256i av = _mm256_loadu_si256((const __m256i *)(a + i * k + p));
            for (int j = 0; j < NR; j++) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(av, bv[j]));
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            int64_t s = hsum_epi32(acc[i][j]);
            for (Py_ssize_t p = kv; p < k1; p++) s += (int64_t)a[i * k + p] * (int64_t)b[j * k + p];
            out[i * n + j] += s;
        }
}

typedef void (*TileFn)(const int16_t *, const int8_t *, int64_t *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                       Py_ssize_t);

#define TILE(MR, NR)                                                                                          \
    __attribute__((target("avx2"), noinline)) static void tile_##MR##x##NR(                                   \
        const int16_t *a, const int8_t *b, int64_t *out, Py_ssize_t k, Py_ssize_t n, Py_ssize_t k0,          \
        Py_ssize_t k1) {                                                                                      \
        tile(a, b, out, k, n, k0, k1, MR, NR);                                                                \
    }
TILE(1, 1) TILE(1, 2) TILE(1, 3) TILE(1, 4)
TILE(2, 1) TILE(2, 2) TILE(2, 3) TILE(2, 4)
TILE(3, 1) TILE(3, 2) TILE(3, 3) TILE(3, 4)
TILE(4, 1) TILE(4, 2) TILE(4, 3) TILE(4, 4)

static const TileFn TILES[4][4] = {
    {tile_1x1, tile_1x2, tile_1x3, tile_1x4},
    {tile_2x1, tile_2x2, tile_2x3, tile_2x4},
    {tile_3x1, tile_3x2, tile_3x3, tile_3x4},
    {tile_4x1, tile_4x2, tile_4x3, tile_4x4},
};

/* int16 x int16: b split into hi (int8 range) and lo (0..255), two accumulator sets (see the header). */
__attribute__((target("avx2"), always_inline)) static inline void tile16(
    const int16_t *a, const int16_t *b, int64_t *out, Py_ssize_t k, Py_ssize_t n,
    Py_ssize_t k0, Py_ssize_t k1, const int MR, const int NR) {
    __m256i hi_acc[2][2], lo_acc[2][2];
    const __m256i low_byte = _mm256_set1_epi16(0xFF);
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) hi_acc[i][j] = lo_acc[i][j] = _mm256_setzero_si256();
    Py_ssize_t kv = k0 + ((k1 - k0) & ~(Py_ssize_t)15);
    for (Py_ssize_t p = k0; p < kv; p += 16) {
        __m256i hi[2], lo[2];
        for (int j = 0; j < NR; j++) {
            __m256i bv = _mm256_loadu_si256((const __m256i *)(b + j * k + p));
            hi[j] = _mm256_srai_epi16(bv, 8);
            lo[j] = _mm256_and_si256(bv, low_byte);
        }
        for (int i = 0; i < MR; i++) {
            __m256i av = _mm256_loadu_si256((const __m256i *)(a + i * k + p));
            for (int j = 0; j < NR; j++) {
                hi_acc[i][j] = _mm256_add_epi32(hi_acc[i][j], _mm256_madd_epi16(av, hi[j]));
                lo_acc[i][j] = _mm256_add_epi32(lo_acc[i][j], _mm256_madd_epi16(av, lo[j]));
            }
        }
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            int64_t s = 256 * hsum_epi32(hi_acc[i][j]) + hsum_epi32(lo_acc[i][j]);
            for (Py_ssize_t p = kv; p < k1; p++) s += (int64_t)a[i * k + p] * (int64_t)b[j * k + p];
            out[i * n + j] += s;
        }
}

typedef void (*Tile16Fn)(const int16_t *, const int16_t *, int64_t *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                         Py_ssize_t);

#define TILE16(MR, NR)                                                                                        \
    __attribute__((target("avx2"), noinline)) static void tile16_##MR##x##NR(                                 \
        const int16_t *a, const int16_t *b, int64_t *out, Py_ssize_t k, Py_ssize_t n, Py_ssize_t k0,         \
        Py_ssize_t k1) {                                                                                      \
        tile16(a, b, out, k, n, k0, k1, MR, NR);                                                              \
    }
TILE16(1, 1) TILE16(1, 2) TILE16(2, 1) TILE16(2, 2)

static const Tile16Fn TILES16[2][2] = {{tile16_1x1, tile16_1x2}, {tile16_2x1, tile16_2x2}};

__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline int64_t hsum512(__m512i v) {
    __m512i wide = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                                    _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    return (int64_t)_mm512_reduce_add_epi64(wide);
}

/* AVX-512 VNNI MR x NR tile; b int8 (B16 = 0) or int16 split into hi/lo (B16 = 1). 32 registers: up to 4 x 4
 * narrow accumulators, 4 x 2 (x 2 halves) wide ones. */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void tile512(
    const int16_t *a, const void *bp, int64_t *out, Py_ssize_t k, Py_ssize_t n,
    Py_ssize_t k0, Py_ssize_t k1, const int MR, const int NR, const int B16) {
    __m512i acc[4][4], lo_acc[4][4];
    const __m512i low_byte = _mm512_set1_epi16(0xFF);
    const int8_t *b8 = (const int8_t *)bp;
    const int16_t *b16 = (const int16_t *)bp;
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = lo_acc[i][j] = _mm512_setzero_si512();
    Py_ssize_t kv = k0 + ((k1 - k0) & ~(Py_ssize_t)31);
    for (Py_ssize_t p = k0; p < kv; p += 32) {
        __m512i hi[4], lo[4];
        for (int j = 0; j < NR; j++) {
            if (B16) {
                __m512i bv = _mm512_loadu_si512((const void *)(b16 + j * k + p));
                hi[j] = _mm512_srai_epi16(bv, 8);
                lo[j] = _mm512_and_si512(bv, low_byte);
            } else {
                hi[j] = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b8 + j * k + p)));
            }
        }
        for (int i = 0; i < MR; i++) {
            __m512i av = _mm512_loadu_si512((const void *)(a + i * k + p));
            for (int j = 0; j < NR; j++) {
                acc[i][j] = _mm512_dpwssd_epi32(acc[i][j], av, hi[j]);
                if (B16) lo_acc[i][j] = _mm512_dpwssd_epi32(lo_acc[i][j], av, lo[j]);
            }
        }
    }
    if (!B16 && NR == 4) {
        /* The four int8-b sums of a row reduced together: pairs of lanes, then pairs of pairs, added in int32
         * (a lane holds at most KBLOCK / 32 = 32 steps of 2^23 = 2^28, four of them 2^30 < 2^31), then the four
         * 128-bit groups widened to int64 and added: one 4 x int64 vector of the row's four sums. */
        for (int i = 0; i < MR; i++) {
            __m512i t0 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[i][0], acc[i][1]),
                                          _mm512_unpackhi_epi32(acc[i][0], acc[i][1]));
            __m512i t1 = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[i][2], acc[i][3]),
                                          _mm512_unpackhi_epi32(acc[i][2], acc[i][3]));
            __m512i u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
            __m512i w = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(u)),
                                         _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(u, 1)));
            __m256i r = _mm256_add_epi64(_mm512_castsi512_si256(w), _mm512_extracti64x4_epi64(w, 1));
            __m256i o = _mm256_loadu_si256((const __m256i *)(out + i * n));
            _mm256_storeu_si256((__m256i *)(out + i * n), _mm256_add_epi64(o, r));
            for (int j = 0; j < NR; j++)
                for (Py_ssize_t p = kv; p < k1; p++) out[i * n + j] += (int64_t)a[i * k + p] * (int64_t)b8[j * k + p];
        }
        return;
    }
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            int64_t s = B16 ? 256 * hsum512(acc[i][j]) + hsum512(lo_acc[i][j]) : hsum512(acc[i][j]);
            for (Py_ssize_t p = kv; p < k1; p++)
                s += (int64_t)a[i * k + p] * (B16 ? (int64_t)b16[j * k + p] : (int64_t)b8[j * k + p]);
            out[i * n + j] += s;
        }
}

typedef void (*TileAnyFn)(const int16_t *, const void *, int64_t *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                          Py_ssize_t);

#define TILE512(MR, NR, B16)                                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static void tile512_##B16##_##MR##x##NR( \
        const int16_t *a, const void *b, int64_t *out, Py_ssize_t k, Py_ssize_t n, Py_ssize_t k0,            \
        Py_ssize_t k1) {                                                                                      \
        tile512(a, b, out, k, n, k0, k1, MR, NR, B16);                                                        \
    }
TILE512(1, 1, 0) TILE512(1, 2, 0) TILE512(1, 3, 0) TILE512(1, 4, 0)
TILE512(2, 1, 0) TILE512(2, 2, 0) TILE512(2, 3, 0) TILE512(2, 4, 0)
TILE512(3, 1, 0) TILE512(3, 2, 0) TILE512(3, 3, 0) TILE512(3, 4, 0)
TILE512(4, 1, 0) TILE512(4, 2, 0) TILE512(4, 3, 0) TILE512(4, 4, 0)
TILE512(1, 1, 1) TILE512(1, 2, 1) TILE512(2, 1, 1) TILE512(2, 2, 1)
TILE512(3, 1, 1) TILE512(3, 2, 1) TILE512(4, 1, 1) TILE512(4, 2, 1)

static const TileAnyFn TILES512[4][4] = {
    {tile512_0_1x1, tile512_0_1x2, tile512_0_1x3, tile512_0_1x4},
    {tile512_0_2x1, tile512_0_2x2, tile512_0_2x3, tile512_0_2x4},
    {tile512_0_3x1, tile512_0_3x2, tile512_0_3x3, tile512_0_3x4},
    {tile512_0_4x1, tile512_0_4x2, tile512_0_4x3, tile512_0_4x4},
};
static const TileAnyFn TILES512_16[4][2] = {
    {tile512_1_1x1, tile512_1_1x2}, {tile512_1_2x1, tile512_1_2x2},
    {tile512_1_3x1, tile512_1_3x2}, {tile512_1_4x1, tile512_1_4x2},
};

/* One mr x nr tile of acc (row length ld) from a's row r and b's row c, over k in [k0, k1). */
static void run_tile(const Job *job, const int16_t *a, const void *b, int64_t *acc, Py_ssize_t ld, Py_ssize_t mr,
                     Py_ssize_t r, Py_ssize_t c, Py_ssize_t k0, Py_ssize_t k1, int nr) {
    const Py_ssize_t k = job->k;
    const int16_t *ar = a + r * k;
    if (job->isa >= ISA_AVX512 && job->b16)
        TILES512_16[mr - 1][nr - 1](ar, (const int16_t *)b + c * k, acc, k, ld, k0, k1);
    else if (job->isa >= ISA_AVX512)
        TILES512[mr - 1][nr - 1](ar, (const int8_t *)b + c * k, acc, k, ld, k0, k1);
    else if (job->b16)
        TILES16[mr - 1][nr - 1](ar, (const int16_t *)b + c * k, acc, k, ld, k0, k1);
    else
        TILES[mr - 1][nr - 1](ar, (const int8_t *)b + c * k, acc, k, ld, k0, k1);
}

#endif

/* The protocol's requantisation (offchain/engine/ops/fixed.py rescale): for s > 0 the rounding shift
 * (v + 2^(s-1)) >> s (gcc's >> on a negative int64 is arithmetic, i.e. floor, as numpy's), for s < 0 a clip to
 * the values that cannot saturate either way, then the exact left shift; then saturation to [lo, hi]. */
static inline int64_t requantise(int64_t v, int s, int64_t lo, int64_t hi) {
    if (s > 0) {
        v = (v + ((int64_t)1 << (s - 1))) >> s;
    } else if (s < 0) {
        int64_t l = -((-lo) >> -s) - 1, h = (hi >> -s) + 1;
        v = v < l ? l : v > h ? h : v;
        v = (int64_t)((uint64_t)v << -s);
    }
    return v < lo ? lo : v > hi ? hi : v;
}

#define EW_CHUNK 512
#if HAVE_X86 && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default"))) /* chosen at load time */
#else
#define CLONES
#endif
CLONES static void add_bias(int64_t *v, const int64_t *acc, const int32_t *bias, Py_ssize_t len) {
    if (bias)
        for (Py_ssize_t j = 0; j < len; j++) v[j] = acc[j] + bias[j];
    else
        for (Py_ssize_t j = 0; j < len; j++) v[j] = acc[j];
}

/* Stores v requantised by s in the output's width; returns 1 if s > 0 and some |v| >= 2^62, which rshift_round
 * refuses (the caller then lets the numpy path raise its error), else 0. */
CLONES static int store(void *out, int size, const int64_t *v, Py_ssize_t len, int s) {
    const int64_t lo = size == 8 ? INT64_MIN : -((int64_t)1 << (8 * size - 1));
    const int64_t hi = size == 8 ? INT64_MAX : ((int64_t)1 << (8 * size - 1)) - 1;
    const int64_t limit = ((int64_t)1 << 62) - 1;
    int64_t tmp[EW_CHUNK];
    int bad = 0;
    if (s > 0) {
        const int64_t half = (int64_t)1 << (s - 1);
        for (Py_ssize_t j = 0; j < len; j++) {
            bad |= (v[j] > limit) | (v[j] < -limit);
            int64_t x = (v[j] + half) >> s;
            tmp[j] = x < lo ? lo : x > hi ? hi : x;
        }
    } else {
        for (Py_ssize_t j = 0; j < len; j++) tmp[j] = requantise(v[j], s, lo, hi);
    }
    switch (size) {
    case 1: for (Py_ssize_t j = 0; j < len; j++) ((int8_t *)out)[j] = (int8_t)tmp[j]; break;
    case 2: for (Py_ssize_t j = 0; j < len; j++) ((int16_t *)out)[j] = (int16_t)tmp[j]; break;
    case 4: for (Py_ssize_t j = 0; j < len; j++) ((int32_t *)out)[j] = (int32_t)tmp[j]; break;
    default: for (Py_ssize_t j = 0; j < len; j++) ((int64_t *)out)[j] = tmp[j];
    }
    return bad;
}

/* Writes rows [m0, m1) x columns [c, c + nr) of one item from acc (row length ld): bias, requantisation, in runs
 * of at most EW_CHUNK columns through store(). */
static void epilogue(const Job *job, Py_ssize_t item, const int64_t *acc, Py_ssize_t ld, Py_ssize_t m0,
                     Py_ssize_t m1, Py_ssize_t c, int nr) {
    int64_t v[EW_CHUNK];
    if (nr <= 8) { /* a column group of the horizontal kernel: inline, no calls per row */
        const int size = job->out_size, s = job->shift;
        const int64_t lo = size == 8 ? INT64_MIN : -((int64_t)1 << (8 * size - 1));
        const int64_t hi = size == 8 ? INT64_MAX : ((int64_t)1 << (8 * size - 1)) - 1;
#define EPILOGUE_ROWS(T)                                                                                     \
    for (Py_ssize_t r = m0; r < m1; r++) {                                                                    \
        T *o = (T *)job->out + (item * job->m + r) * job->n + c;                                              \
        for (int j = 0; j < nr; j++)                                                                          \
            o[j] = (T)requantise(acc[(r - m0) * ld + j] + (job->bias ? job->bias[c + j] : 0), s, lo, hi);     \
    }
        switch (size) {
        case 1: EPILOGUE_ROWS(int8_t) break;
        case 2: EPILOGUE_ROWS(int16_t) break;
        case 4: EPILOGUE_ROWS(int32_t) break;
        default: EPILOGUE_ROWS(int64_t)
        }
#undef EPILOGUE_ROWS
        return;
    }
    for (Py_ssize_t r = m0; r < m1; r++) {
        for (Py_ssize_t j0 = 0; j0 < nr; j0 += EW_CHUNK) {
            Py_ssize_t len = nr - j0 < EW_CHUNK ? nr - j0 : EW_CHUNK;
            const int64_t *row = acc + (r - m0) * ld + j0;
            add_bias(v, row, job->bias ? job->bias + c + j0 : NULL, len);
            /* |sum + bias| < 2^62 (ops/linear.py bounds the sum to 2^61), so store() never reports a value */
            store((char *)job->out + ((item * job->m + r) * job->n + c + j0) * job->out_size, job->out_size, v, len,
                  job->shift);
        }
    }
}

#if HAVE_X86

/* ---- Column-vector kernel (AVX-512) for products of two activations (MATMUL: attention scores and mixes) --------
 * The kernel above sums each output along K inside one register and reduces it at the end of every K block: with
 * attention's short K (a head dimension of 32-128) that reduction costs as much as the products. Here a register
 * holds 16 OUTPUTS instead: b is packed per call (it is an activation, N x K, small next to M x N x K) into k-pairs,
 * packed[p][n] = (b[n][2p], b[n][2p + 1]) as two int16 (int16 b: its hi and lo bytes as two such planes, the split
 * of the header), and vpdpwssd adds a[m][2p] b[n][2p] + a[m][2p + 1] b[n][2p + 1] (a's pair broadcast) to output n's
 * int32 lane. Lane bounds are the header's, per pair step: |a hi-pair| <= 2^23, |a lo-pair| < 2^24, so after at
 * most VBLOCK = 127 pair steps the lanes are widened and added to the int64 sums. */
#define VBLOCK 127
#define VROWS 4  /* rows per tile */
#define VCOLS 2  /* 16-column vectors per tile */

/* Pack b [n, k] (int8 or int16) into hi/lo planes of [kp][npad] int32 pairs; lo only for int16 b. */
static void pack_pairs(const void *b, int b16, Py_ssize_t n, Py_ssize_t k, Py_ssize_t npad, int32_t *hi, int32_t *lo) {
    const Py_ssize_t kp = (k + 1) / 2;
    memset(hi, 0, (size_t)kp * npad * sizeof(int32_t));
    if (b16) memset(lo, 0, (size_t)kp * npad * sizeof(int32_t));
    for (Py_ssize_t j = 0; j < n; j++) {
        for (Py_ssize_t q = 0; q < k; q++) {
            int32_t v = b16 ? ((const int16_t *)b)[j * k + q] : ((const int8_t *)b)[j * k + q];
            /* int16 b = 256 * (v >> 8) + (v & 255): both halves fit an int16 lane */
            int16_t h = b16 ? (int16_t)(v >> 8) : (int16_t)v, l = (int16_t)(v & 255);
            int16_t *ph = (int16_t *)&hi[(q / 2) * npad + j];
            ph[q & 1] = h;
            if (b16) ((int16_t *)&lo[(q / 2) * npad + j])[q & 1] = l;
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void vtile(
    const int16_t *a, Py_ssize_t k, const int32_t *hi, const int32_t *lo, Py_ssize_t npad, int64_t *acc,
    Py_ssize_t ld, const int MR, const int B16) {
    const Py_ssize_t kp = (k + 1) / 2;
    for (Py_ssize_t p0 = 0; p0 < kp; p0 += VBLOCK) {
        Py_ssize_t p1 = p0 + VBLOCK < kp ? p0 + VBLOCK : kp;
        __m512i sh[VROWS][VCOLS], sl[VROWS][VCOLS];
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < VCOLS; v++) sh[i][v] = sl[i][v] = _mm512_setzero_si512();
        for (Py_ssize_t p = p0; p < p1; p++) {
            __m512i bh[VCOLS], bl[VCOLS];
            for (int v = 0; v < VCOLS; v++) {
                bh[v] = _mm512_loadu_si512((const void *)(hi + p * npad + 16 * v));
                if (B16) bl[v] = _mm512_loadu_si512((const void *)(lo + p * npad + 16 * v));
            }
            for (int i = 0; i < MR; i++) {
                /* a's pair (2p, 2p + 1); an odd K's last pair has no second value (its b plane is 0 there) */
                uint32_t lo16 = (uint16_t)a[i * k + 2 * p];
                uint32_t hi16 = 2 * p + 1 < k ? (uint16_t)a[i * k + 2 * p + 1] : 0;
                __m512i av = _mm512_set1_epi32((int32_t)(lo16 | hi16 << 16));
                for (int v = 0; v < VCOLS; v++) {
                    sh[i][v] = _mm512_dpwssd_epi32(sh[i][v], av, bh[v]);
                    if (B16) sl[i][v] = _mm512_dpwssd_epi32(sl[i][v], av, bl[v]);
                }
            }
        }
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < VCOLS; v++) {
                int64_t *o = acc + i * ld + 16 * v;
                for (int half = 0; half < 2; half++) {
                    __m256i h8 = half ? _mm512_extracti64x4_epi64(sh[i][v], 1) : _mm512_castsi512_si256(sh[i][v]);
                    __m512i wide = _mm512_cvtepi32_epi64(h8);
                    if (B16) {
                        __m256i l8 = half ? _mm512_extracti64x4_epi64(sl[i][v], 1) : _mm512_castsi512_si256(sl[i][v]);
                        wide = _mm512_add_epi64(_mm512_slli_epi64(wide, 8), _mm512_cvtepi32_epi64(l8));
                    }
                    _mm512_storeu_si512((void *)(o + 8 * half),
                                        _mm512_add_epi64(_mm512_loadu_si512((const void *)(o + 8 * half)), wide));
                }
            }
    }
}

typedef void (*VTileFn)(const int16_t *, Py_ssize_t, const int32_t *, const int32_t *, Py_ssize_t, int64_t *,
                        Py_ssize_t);
#define VTILE(MR, B16)                                                                                        \
    __attribute__((target("avx512f,avx512bw,avx512vnni"), noinline)) static void vtile_##B16##_##MR(           \
        const int16_t *a, Py_ssize_t k, const int32_t *hi, const int32_t *lo, Py_ssize_t npad, int64_t *acc,   \
        Py_ssize_t ld) {                                                                                      \
        vtile(a, k, hi, lo, npad, acc, ld, MR, B16);                                                          \
    }
VTILE(1, 0) VTILE(2, 0) VTILE(3, 0) VTILE(4, 0) VTILE(1, 1) VTILE(2, 1) VTILE(3, 1) VTILE(4, 1)
static const VTileFn VTILES[2][VROWS] = {{vtile_0_1, vtile_0_2, vtile_0_3, vtile_0_4},
                                         {vtile_1_1, vtile_1_2, vtile_1_3, vtile_1_4}};

/* Whether the column-vector kernel takes this job: AVX-512, b an activation (one per item), K short enough that
 * the horizontal kernel's per-output reduction dominates, N at least one vector. */
static int vertical(const Job *job) {
    return job->isa >= ISA_AVX512 && job->b_step != 0 && job->k <= 256 && job->n >= 16;
}

static void run_vertical(Job *job) {
    const Py_ssize_t m = job->m, n = job->n, k = job->k, kp = (k + 1) / 2;
    const Py_ssize_t npad = (n + 16 * VCOLS - 1) / (16 * VCOLS) * (16 * VCOLS);
    int32_t *hi = malloc((size_t)kp * npad * sizeof(int32_t));
    int32_t *lo = job->b16 ? malloc((size_t)kp * npad * sizeof(int32_t)) : NULL;
    int64_t *acc = malloc((size_t)VROWS * npad * sizeof(int64_t));
    if (hi == NULL || acc == NULL || (job->b16 && lo == NULL)) {
        job->failed = 1;
        free(hi), free(lo), free(acc);
        return;
    }
    for (Py_ssize_t item = job->i0; item < job->i1; item++) {
        const int16_t *a = job->a + item * job->a_step;
        pack_pairs((const char *)job->b + item * job->b_step * (job->b16 ? 2 : 1), job->b16, n, k, npad, hi, lo);
        for (Py_ssize_t r = 0; r < m; r += VROWS) {
            int mr = (int)(m - r < VROWS ? m - r : VROWS);
            memset(acc, 0, (size_t)VROWS * npad * sizeof(int64_t));
            /* this thread's columns [n0, n1) (all of them when the items are split between threads) */
            for (Py_ssize_t c = job->n0 / (16 * VCOLS) * (16 * VCOLS); c < job->n1; c += 16 * VCOLS)
                VTILES[job->b16][mr - 1](a + r * k, k, hi + c, lo ? lo + c : NULL, npad, acc + c, npad);
            epilogue(job, item, acc + job->n0, npad, r, r + mr, job->n0, (int)(job->n1 - job->n0));
        }
    }
    free(hi), free(lo), free(acc);
}

/* Jobs run_amx has taken (tests check that the AMX path, not a vector kernel, computed a product). */
static atomic_llong amx_jobs_run;

#if HAVE_AMX
/* ---- AMX path (Sapphire Rapids and later): tile products of int8 planes ------------------------------------------
 * A tile multiply (TDPB[SU][SU]D) adds C[i][j] += sum_k A[i][k] B[k][j] over 16 x 16 int32 outputs and 64 k-values
 * of int8 operands, signed or unsigned per operand, 1024 products per instruction per 16 cycles. Our operands are
 * wider, so they are split exactly into byte planes: a (int16) = 256 hi + lo with hi = a >> 8 in [-128, 127]
 * (signed) and lo = a & 255 in [0, 255] (unsigned); int16 b the same way; int8 b is one signed plane. A row block
 * of a whose values all fit int8 (the engine's int8 activations, widened by the caller) is one signed plane, a
 * itself. The sum is then the planes' sums weighted by 256^(a plane + b plane), in int64:
 *     int8 b:  256 sum(hi b) + sum(lo b)                              (a narrow: sum(a b))
 *     int16 b: 65536 sum(hi bh) + 256 (sum(hi bl) + sum(lo bh)) + sum(lo bl)   (a narrow: 256 sum(a bh) + sum(a bl))
 * Per k-value one int32 accumulator gains at most 128 * 255 + 255 * 128 = 65280 (the mixed sum; every other is
 * smaller; it is reached by a = b = -32513, hi -128 and lo 255), so a block of AMX_KBLOCK = 32768 k-values stays
 * within 32768 * 65280 < 2^31 (32960, the next multiple of 64, would not): the tile adds wrap nowhere.
 * After each block the int32 tiles are widened and added to the int64 sums.
 *
 * Layout: A operands are a's planes, row-major (16 rows x 64 bytes per tile, row stride kp). B operands are b's
 * planes repacked per 16-column panel into the tiles' "VNNI" order (row q of a tile holds k-values 4q..4q+3 of each
 * of the 16 columns: a 16 x 16 transpose of 4-byte groups), once per row block and panel and shared by all its row
 * tiles. Rows past m, columns past the job's range and k-values past K are zero in the planes, so every tile is
 * full size and the padding adds nothing. */
#define AMX_KBLOCK 32768
#define AMX_MIN_M 16 /* fewer rows: the vector kernels (decode steps are bound by reading the weights anyway) */
_Static_assert(AMX_KBLOCK % 64 == 0 && (long long)AMX_KBLOCK * 65280 < (1LL << 31),
               "an AMX int32 accumulator must not overflow within a K block");

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) TileConfig;

#define AMX_TARGET "amx-tile,amx-int8,avx512f,avx512bw,avx512vl"
/* The tile intrinsics are asm statements that take addresses in registers: the barrier keeps the compiler from
 * moving plain stores to a tile's source past its load, or loads of a stored tile before the store. */
#define MEMORY_BARRIER() __asm__ __volatile__("" ::: "memory")

/* 16 x 16 transpose of 4-byte groups: r[i] holds row i's groups 0..15; afterwards r[q] holds group q of rows
 * 0..15. */
__attribute__((target(AMX_TARGET), always_inline)) static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            t[8 * h + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0x88);
            t[8 * h + 4 + i] = _mm512_shuffle_i32x4(r[8 * h + i], r[8 * h + 4 + i], 0xdd);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd);
    }
}

/* 64 int16 of row `row` from k-value k0 (zero past k), as two zmm. */
__attribute__((target(AMX_TARGET), always_inline)) static inline void load64_16(const int16_t *row, Py_ssize_t k0,
                                                                                 Py_ssize_t k, __m512i *x0,
                                                                                 __m512i *x1) {
    Py_ssize_t left = k - k0;
    __mmask32 m0 = left >= 32 ? ~(__mmask32)0 : left <= 0 ? 0 : (((__mmask32)1 << left) - 1);
    __mmask32 m1 = left >= 64 ? ~(__mmask32)0 : left <= 32 ? 0 : (((__mmask32)1 << (left - 32)) - 1);
    *x0 = _mm512_maskz_loadu_epi16(m0, row + k0);
    *x1 = _mm512_maskz_loadu_epi16(m1, row + k0 + 32);
}

/* The low bytes of x0, x1 (64 int16) as 64 bytes. */
__attribute__((target(AMX_TARGET), always_inline)) static inline __m512i low_bytes(__m512i x0, __m512i x1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(x0)), _mm512_cvtepi16_epi8(x1), 1);
}

/* Whether every a value of rows [r0, r1) fits int8. */
__attribute__((target(AMX_TARGET))) static int rows_fit_int8(const int16_t *a, Py_ssize_t r0, Py_ssize_t r1,
                                                              Py_ssize_t k) {
    const int16_t *p = a + r0 * k;
    Py_ssize_t len = (r1 - r0) * k, i = 0;
    __m512i lo = _mm512_set1_epi16(-128), hi = _mm512_set1_epi16(127);
    for (; i + 32 <= len; i += 32) { /* wide activations fail in the first vectors */
        __m512i v = _mm512_loadu_si512((const void *)(p + i));
        if (_mm512_cmplt_epi16_mask(v, lo) | _mm512_cmpgt_epi16_mask(v, hi)) return 0;
    }
    for (; i < len; i++)
        if (p[i] < -128 || p[i] > 127) return 0;
    return 1;
}

/* a's rows [r0, r1) as planes [rows rounded up to 16][kp] (narrow: one plane, a's values; else hi and lo). */
__attribute__((target(AMX_TARGET))) static void split_a(const int16_t *a, Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k,
                                                         Py_ssize_t kp, int narrow, uint8_t *hi, uint8_t *lo) {
    Py_ssize_t rows = (r1 - r0 + 15) & ~(Py_ssize_t)15;
    for (Py_ssize_t r = 0; r < rows; r++) {
        for (Py_ssize_t k0 = 0; k0 < kp; k0 += 64) {
            __m512i x0 = _mm512_setzero_si512(), x1 = x0;
            if (r0 + r < r1) load64_16(a + (r0 + r) * k, k0, k, &x0, &x1);
            if (narrow) {
                _mm512_storeu_si512((void *)(hi + r * kp + k0), low_bytes(x0, x1));
            } else {
                _mm512_storeu_si512((void *)(hi + r * kp + k0),
                                    low_bytes(_mm512_srai_epi16(x0, 8), _mm512_srai_epi16(x1, 8)));
                _mm512_storeu_si512((void *)(lo + r * kp + k0), low_bytes(x0, x1));
            }
        }
    }
}

/* b's rows [c, c + cols) (cols <= 16; the rest zero) as a B panel [kp / 4][16 columns x 4 bytes] per plane
 * (int8 b: hi only, b's values; int16 b: hi and lo). */
__attribute__((target(AMX_TARGET))) static void pack_b(const void *b, int b16, Py_ssize_t c, Py_ssize_t cols,
                                                        Py_ssize_t k, Py_ssize_t kp, uint8_t *hi, uint8_t *lo) {
    for (Py_ssize_t k0 = 0; k0 < kp; k0 += 64) {
        __m512i rh[16], rl[16];
        Py_ssize_t left = k - k0;
        __mmask64 mask = left >= 64 ? ~(__mmask64)0 : left <= 0 ? 0 : (((__mmask64)1 << left) - 1);
        for (int j = 0; j < 16; j++) {
            rh[j] = rl[j] = _mm512_setzero_si512();
            if (j >= cols) continue;
            if (b16) {
                __m512i x0, x1;
                load64_16((const int16_t *)b + (c + j) * k, k0, k, &x0, &x1);
                rh[j] = low_bytes(_mm512_srai_epi16(x0, 8), _mm512_srai_epi16(x1, 8));
                rl[j] = low_bytes(x0, x1);
            } else {
                rh[j] = _mm512_maskz_loadu_epi8(mask, (const int8_t *)b + (c + j) * k + k0);
            }
        }
        transpose16(rh);
        for (int q = 0; q < 16; q++) _mm512_storeu_si512((void *)(hi + (k0 / 4 + q) * 64), rh[q]);
        if (b16) {
            transpose16(rl);
            for (int q = 0; q < 16; q++) _mm512_storeu_si512((void *)(lo + (k0 / 4 + q) * 64), rl[q]);
        }
    }
}

/* The plane sums of one 16-row tile of a against `panels` 16-column panels (int8 b: up to 2; int16 b: 1) over
 * k-values [k0, k1), as int32 tiles in t (4 x 256): int8 b: t0, t1 = hi b (a narrow: a b) for panels 0, 1 and
 * t2, t3 = lo b; int16 b: t0 = hi bh, t1 = hi bl + lo bh, t2 = lo bl (a narrow: t0 = a bh, t1 = a bl). Tile
 * registers: 0-3 those sums, 4-5 a's planes, 6-7 b's panels (int8 b) or planes (int16 b). */
__attribute__((target(AMX_TARGET))) static void amx_products(const uint8_t *ahi, const uint8_t *alo, Py_ssize_t kp,
                                                              const uint8_t *bp0, const uint8_t *bp1, int b16,
                                                              int narrow, int panels, Py_ssize_t k0, Py_ssize_t k1,
                                                              int32_t *t) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    MEMORY_BARRIER();
    if (!b16 && narrow) {
        for (Py_ssize_t p = k0; p < k1; p += 64) {
            _tile_loadd(4, ahi + p, kp);
            _tile_loadd(6, bp0 + p * 16, 64);
            _tile_dpbssd(0, 4, 6);
            if (panels > 1) {
                _tile_loadd(7, bp1 + p * 16, 64);
                _tile_dpbssd(1, 4, 7);
            }
        }
    } else if (!b16) {
        for (Py_ssize_t p = k0; p < k1; p += 64) {
            _tile_loadd(4, ahi + p, kp);
            _tile_loadd(5, alo + p, kp);
            _tile_loadd(6, bp0 + p * 16, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbusd(2, 5, 6);
            if (panels > 1) {
                _tile_loadd(7, bp1 + p * 16, 64);
                _tile_dpbssd(1, 4, 7);
                _tile_dpbusd(3, 5, 7);
            }
        }
    } else if (narrow) {
        for (Py_ssize_t p = k0; p < k1; p += 64) {
            _tile_loadd(4, ahi + p, kp);
            _tile_loadd(6, bp0 + p * 16, 64);
            _tile_loadd(7, bp1 + p * 16, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbsud(1, 4, 7);
        }
    } else {
        for (Py_ssize_t p = k0; p < k1; p += 64) {
            _tile_loadd(4, ahi + p, kp);
            _tile_loadd(5, alo + p, kp);
            _tile_loadd(6, bp0 + p * 16, 64);
            _tile_loadd(7, bp1 + p * 16, 64);
            _tile_dpbssd(0, 4, 6);
            _tile_dpbsud(1, 4, 7);
            _tile_dpbusd(1, 5, 6);
            _tile_dpbuud(2, 5, 7);
        }
    }
    _tile_stored(0, t, 64);
    _tile_stored(1, t + 256, 64);
    _tile_stored(2, t + 512, 64);
    _tile_stored(3, t + 768, 64);
    MEMORY_BARRIER();
}

/* Row i, 8 columns from column 8 h of panel p: the exact int64 sums (|each| < 2^62, ops/linear.py), i.e. amx_products'
 * tiles weighted by 256^(a plane + b plane). The left shifts of two's-complement int64 are exact: |tile| 2^16 < 2^47.
 * Called with constant b16 and narrow, so each variant compiles to its own few instructions. */
__attribute__((target(AMX_TARGET), always_inline)) static inline __m512i panel_sums(const int32_t *t, const int b16,
                                                                                   const int narrow, int p, int i,
                                                                                   int h) {
    const int32_t *row = t + 16 * i + 8 * h;
#define TILE_ROW(q) _mm512_cvtepi32_epi64(_mm256_loadu_si256((const __m256i *)(row + 256 * (q))))
    if (!b16 && narrow) return TILE_ROW(p);                                                     /* a b */
    if (!b16) return _mm512_add_epi64(_mm512_slli_epi64(TILE_ROW(p), 8), TILE_ROW(2 + p));      /* hi b, lo b */
    if (narrow) return _mm512_add_epi64(_mm512_slli_epi64(TILE_ROW(0), 8), TILE_ROW(1));        /* a bh, a bl */
    return _mm512_add_epi64(_mm512_add_epi64(_mm512_slli_epi64(TILE_ROW(0), 16), _mm512_slli_epi64(TILE_ROW(1), 8)),
                            TILE_ROW(2));                                   /* hi bh, hi bl + lo bh, lo bl */
#undef TILE_ROW
}

/* acc (16 rows x 32 columns) += the tile sums of every panel (K split over several blocks). */
__attribute__((target(AMX_TARGET), always_inline)) static inline void add_sums_as(int64_t *acc, const int32_t *t,
                                                                                   const int b16, const int narrow,
                                                                                   int panels) {
    for (int p = 0; p < panels; p++)
        for (int i = 0; i < 16; i++)
            for (int h = 0; h < 2; h++) {
                int64_t *o = acc + 32 * i + 16 * p + 8 * h;
                _mm512_storeu_si512((void *)o, _mm512_add_epi64(_mm512_loadu_si512((const void *)o),
                                                                panel_sums(t, b16, narrow, p, i, h)));
            }
}

__attribute__((target(AMX_TARGET))) static void add_sums(int64_t *acc, const int32_t *t, int b16, int narrow,
                                                          int panels) {
    if (b16)
        narrow ? add_sums_as(acc, t, 1, 1, panels) : add_sums_as(acc, t, 1, 0, panels);
    else
        narrow ? add_sums_as(acc, t, 0, 1, panels) : add_sums_as(acc, t, 0, 0, panels);
}

/* The epilogue straight from the tiles (K in one block, shift >= 0): rows [r, r + rows) x columns [c, c + nr) of
 * out = saturate(rshift_round(sum + bias, shift)), 8 columns per vector; the same values as epilogue(). One
 * variant per operand kind and output width (constant b16, narrow, size). */
__attribute__((target(AMX_TARGET), always_inline)) static inline void amx_store_as(
    const Job *job, Py_ssize_t item, Py_ssize_t r, int rows, Py_ssize_t c, int nr, const int32_t *t, const int b16,
    const int narrow, const int size) {
    const int s = job->shift;
    const __m512i lo = _mm512_set1_epi64(size == 8 ? INT64_MIN : -((int64_t)1 << (8 * size - 1)));
    const __m512i hi = _mm512_set1_epi64(size == 8 ? INT64_MAX : ((int64_t)1 << (8 * size - 1)) - 1);
    const __m512i half = _mm512_set1_epi64(s > 0 ? (int64_t)1 << (s - 1) : 0), count = _mm512_set1_epi64(s);
    const Py_ssize_t ld = job->n * size;
    for (int g = 0; g < (nr + 7) / 8; g++) {
        const int p = g / 2, h = g % 2, cols = nr - 8 * g < 8 ? nr - 8 * g : 8;
        const __mmask8 mask = (__mmask8)((1u << cols) - 1);
        const __m512i bias = job->bias ? _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(mask, job->bias + c + 8 * g))
                                       : _mm512_setzero_si512();
        char *o = (char *)job->out + ((item * job->m + r) * job->n + c + 8 * g) * size;
        for (int i = 0; i < rows; i++, o += ld) {
            __m512i v = _mm512_add_epi64(panel_sums(t, b16, narrow, p, i, h), bias);
            if (s > 0) v = _mm512_srav_epi64(_mm512_add_epi64(v, half), count);
            v = _mm512_min_epi64(_mm512_max_epi64(v, lo), hi);
            if (size == 1)
                _mm512_mask_cvtepi64_storeu_epi8(o, mask, v);
            else if (size == 2)
                _mm512_mask_cvtepi64_storeu_epi16(o, mask, v);
            else if (size == 4)
                _mm512_mask_cvtepi64_storeu_epi32(o, mask, v);
            else
                _mm512_mask_storeu_epi64(o, mask, v);
        }
    }
}

#define AMX_STORE_SIZES(B16, NARROW)                                                                          \
    switch (job->out_size) {                                                                                  \
    case 1: amx_store_as(job, item, r, rows, c, nr, t, B16, NARROW, 1); break;                                \
    case 2: amx_store_as(job, item, r, rows, c, nr, t, B16, NARROW, 2); break;                                \
    case 4: amx_store_as(job, item, r, rows, c, nr, t, B16, NARROW, 4); break;                                \
    default: amx_store_as(job, item, r, rows, c, nr, t, B16, NARROW, 8);                                      \
    }

__attribute__((target(AMX_TARGET))) static void amx_store(const Job *job, Py_ssize_t item, Py_ssize_t r, int rows,
                                                           Py_ssize_t c, int nr, const int32_t *t, int narrow) {
    if (job->b16 && narrow) {
        AMX_STORE_SIZES(1, 1)
    } else if (job->b16) {
        AMX_STORE_SIZES(1, 0)
    } else if (narrow) {
        AMX_STORE_SIZES(0, 1)
    } else {
        AMX_STORE_SIZES(0, 0)
    }
}
#undef AMX_STORE_SIZES

static int amx(const Job *job) { return job->isa == ISA_AMX && job->m >= AMX_MIN_M; }

typedef struct {
    Py_ssize_t item, r, c;
    int rows, nr, narrow;
    const int32_t *t; /* NULL: none */
} Pending;

__attribute__((target(AMX_TARGET))) static void run_amx(Job *job) {
    const Py_ssize_t m = job->m, k = job->k, kp = (k + 63) & ~(Py_ssize_t)63;
    const int b16 = job->b16, width = b16 ? 16 : 32; /* columns per step: 2 int8 panels or 1 int16 one */
    Py_ssize_t rows = A_BLOCK_BYTES / (2 * kp);
    rows = rows < 16 ? 16 : rows & ~(Py_ssize_t)15;
    if (rows > ((m + 15) & ~(Py_ssize_t)15)) rows = (m + 15) & ~(Py_ssize_t)15;
    uint8_t *ahi = aligned_alloc(64, (size_t)rows * kp), *alo = aligned_alloc(64, (size_t)rows * kp);
    uint8_t *bp = aligned_alloc(64, (size_t)2 * 16 * kp);
    int64_t *acc = aligned_alloc(64, (size_t)16 * 32 * sizeof(int64_t));
    int32_t *scratch = aligned_alloc(64, 2 * 4 * 256 * sizeof(int32_t));
    const int direct = kp <= AMX_KBLOCK && job->shift >= 0; /* one K block: out straight from the tiles */
    int flip = 0;
    Pending pending = {0}; /* the direct path's last tile group, stored after the next one's products */
    if (!ahi || !alo || !bp || !acc || !scratch) {
        job->failed = 1;
        free(ahi), free(alo), free(bp), free(acc), free(scratch);
        return;
    }
    TileConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.rows[t] = 16, cfg.colsb[t] = 64;
    _tile_loadconfig(&cfg);
    atomic_fetch_add(&amx_jobs_run, 1);
    for (Py_ssize_t item = job->i0; item < job->i1; item++) {
        const int16_t *a = job->a + item * job->a_step;
        const void *b = (const char *)job->b + item * job->b_step * (b16 ? 2 : 1);
        for (Py_ssize_t m0 = 0; m0 < m; m0 += rows) {
            Py_ssize_t m1 = m0 + rows < m ? m0 + rows : m;
            int narrow = rows_fit_int8(a, m0, m1, k);
            split_a(a, m0, m1, k, kp, narrow, ahi, alo);
            for (Py_ssize_t c = job->n0; c < job->n1; c += width) {
                int nr = (int)(job->n1 - c < width ? job->n1 - c : width);
                int panels = b16 ? 1 : (nr + 15) / 16;
                if (b16) {
                    pack_b(b, 1, c, nr, k, kp, bp, bp + 16 * kp);
                } else {
                    pack_b(b, 0, c, nr < 16 ? nr : 16, k, kp, bp, NULL);
                    if (panels > 1) pack_b(b, 0, c + 16, nr - 16, k, kp, bp + 16 * kp, NULL);
                }
                MEMORY_BARRIER();
                for (Py_ssize_t r = m0; r < m1; r += 16) {
                    const Py_ssize_t off = (r - m0) * kp;
                    const int rows_here = (int)(m1 - r < 16 ? m1 - r : 16);
                    /* two scratch halves in turn: a tile group's products are issued before the previous group's
                     * epilogue, which reads the other half, so the vector work overlaps the tile multiplies */
                    int32_t *t = scratch + 1024 * (flip ^= 1);
                    if (direct) {
                        amx_products(ahi + off, alo + off, kp, bp, bp + 16 * kp, b16, narrow, panels, 0, kp, t);
                        if (pending.t) amx_store(job, pending.item, pending.r, pending.rows, pending.c, pending.nr,
                                                 pending.t, pending.narrow);
                        pending = (Pending){item, r, c, rows_here, nr, narrow, t};
                        continue;
                    }
                    memset(acc, 0, (size_t)16 * 32 * sizeof(int64_t));
                    for (Py_ssize_t k0 = 0; k0 < kp; k0 += AMX_KBLOCK) {
                        amx_products(ahi + off, alo + off, kp, bp, bp + 16 * kp, b16, narrow, panels, k0,
                                     k0 + AMX_KBLOCK < kp ? k0 + AMX_KBLOCK : kp, t);
                        add_sums(acc, t, b16, narrow, panels);
                    }
                    epilogue(job, item, acc, 32, r, r + rows_here, c, nr);
                }
            }
        }
    }
    if (pending.t)
        amx_store(job, pending.item, pending.r, pending.rows, pending.c, pending.nr, pending.t, pending.narrow);
    _tile_release();
    free(ahi), free(alo), free(bp), free(acc), free(scratch);
}
#else
static int amx(const Job *job) {
    (void)job;
    return 0;
}
static void run_amx(Job *job) { (void)job; }
#endif

/* Rows per tile 4 (one a load feeds NR products); columns per tile 4 (2 for int16 b off AVX-512, and for int8 b
 * on AVX2 when several rows share the b loads). */
static void run_job(Job *job) {
    if (amx(job)) {
        run_amx(job);
        return;
    }
    if (vertical(job)) {
        run_vertical(job);
        return;
    }
    const Py_ssize_t m = job->m, k = job->k;
    const int wide = job->isa >= ISA_AVX512;
    const int nr_full = job->b16 ? 2 : (m == 1 || wide) ? 4 : 2;
    const int mr_full = job->b16 && !wide ? 2 : 4;
    /* Rows of a per block: a block of a (at most A_BLOCK_BYTES) stays in L2 while the thread's weights stream
     * past it once per block, column group by column group (nr_full weight rows, contiguous in b), each group
     * from start to end over all K blocks: one sequential stream the hardware prefetcher follows (software
     * prefetching measured slower). Within a K block the group's weights (nr_full x KBLOCK) stay in L1 for
     * every row tile. A decode step (one row) reads every weight exactly once, front to back. The exact int64
     * sums of a block x group go to a small scratch (acc), then through the epilogue into out. */
    Py_ssize_t rows = A_BLOCK_BYTES / (2 * k);
    rows = rows < mr_full ? mr_full : rows - rows % mr_full;
    if (rows > m) rows = m;
    int64_t *acc = malloc((size_t)rows * nr_full * sizeof(int64_t));
    if (acc == NULL) {
        job->failed = 1;
        return;
    }
    for (Py_ssize_t item = job->i0; item < job->i1; item++) {
        const int16_t *a = job->a + item * job->a_step;
        const void *b = (const char *)job->b + item * job->b_step * (job->b16 ? 2 : 1);
        for (Py_ssize_t m0 = 0; m0 < m; m0 += rows) {
            Py_ssize_t m1 = m0 + rows < m ? m0 + rows : m;
            for (Py_ssize_t c = job->n0; c < job->n1; c += nr_full) {
                int nr = (int)(job->n1 - c < nr_full ? job->n1 - c : nr_full);
                memset(acc, 0, (size_t)rows * nr_full * sizeof(int64_t));
                for (Py_ssize_t k0 = 0; k0 < k; k0 += KBLOCK) {
                    Py_ssize_t k1 = k0 + KBLOCK < k ? k0 + KBLOCK : k;
                    for (Py_ssize_t r = m0; r < m1; r += mr_full)
                        run_tile(job, a, b, acc + (r - m0) * nr_full, nr_full, m1 - r < mr_full ? m1 - r : mr_full,
                                 r, c, k0, k1, nr);
                }
                epilogue(job, item, acc, nr_full, m0, m1, c, nr);
            }
        }
    }
    free(acc);
}

#else

static void run_job(Job *job) { (void)job; }

#endif

/* Runs fn on count jobs (job t at jobs + t * size) on the module's worker pool and the caller's thread (_pool.h);
 * called without the GIL. */
static void run_parallel(void *(*fn)(void *), void *jobs, size_t size, int count) { pool_run(fn, jobs, size, count); }

static void *thread_main(void *arg) {
    run_job((Job *)arg);
    return NULL;
}

/* The best ISA this CPU runs. */
static int detect_isa(void) {
    static int best = -1;
    if (best >= 0) return best;
    best = ISA_NONE;
#if HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vnni")) {
        best = ISA_AVX512;
#if HAVE_AMX && defined(__linux__)
        /* AMX: the CPU's AMX-TILE and AMX-INT8 bits (CPUID leaf 7 EDX 24, 25), then Linux's per-process
         * permission for the tile state (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), which fails where
         * the kernel or hypervisor does not support it. */
        unsigned eax, ebx, ecx, edx;
        if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (edx >> 24 & 1) && (edx >> 25 & 1) &&
            syscall(SYS_arch_prctl, 0x1023, 18) == 0)
            best = ISA_AMX;
#endif
    } else if (__builtin_cpu_supports("avx2")) {
        best = ISA_AVX2;
    }
#endif
    return best;
}

/* The ISA the products use: detect_isa() unless set_isa chose a lower one (tests run both). */
static int isa_choice = -1;

static int current_isa(void) {
    if (isa_choice < 0) isa_choice = detect_isa();
    return isa_choice;
}

static int have_avx2(void) { return detect_isa() >= ISA_AVX2; }

static const char *ISA_NAMES[] = {"none", "avx2", "avx512vnni", "amx"};

static int get_buffer(PyObject *obj, Py_buffer *view, const char *name, int writable) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
    int kind_ok = (*fmt == 'b' || *fmt == 'h' || *fmt == 'i' || *fmt == 'l' || *fmt == 'q') && fmt[1] == '\0';
    if (!kind_ok) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous signed integer array, got format %s", name,
                     view->format ? view->format : "B");
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(matmul_doc,
             "matmul(a, b, bias, shift, out, threads)\n--\n\n"
             "out[i, m, n] = requantise(sum_k a[i, m, k] * b[i or 0, n, k] + bias[n], shift), the sum exact.\n"
             "a: int16 [I, M, K]; b: int8 or int16 [I or 1, N, K] (1: shared by every item, as LINEAR's weight);\n"
             "bias: None or int32 [N]; out: int8/int16/int32 [I, M, N], rescaled by `shift` as ops/fixed.py's\n"
             "rescale (rounding right shift for shift > 0, exact left shift for shift < 0) and saturated to its\n"
             "dtype, or int64 (shift must be 0: the exact sum). All C-contiguous. Runs on at most `threads`\n"
             "threads, releasing the GIL. Raises RuntimeError when the CPU lacks AVX2.");

static PyObject *matmul(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo, *biaso, *oo;
    int shift, threads;
    if (!PyArg_ParseTuple(args, "OOOiOi", &ao, &bo, &biaso, &shift, &oo, &threads)) return NULL;
    if (!have_avx2()) {
        PyErr_SetString(PyExc_RuntimeError, "this CPU has no AVX2: use the numpy path");
        return NULL;
    }
    Py_buffer a = {0}, b = {0}, bias = {0}, out = {0};
    int have_bias = biaso != Py_None, ok = 0;
    if (get_buffer(ao, &a, "a", 0) < 0) return NULL;
    if (get_buffer(bo, &b, "b", 0) < 0) goto done_a;
    if (have_bias && get_buffer(biaso, &bias, "bias", 0) < 0) goto done_b;
    if (get_buffer(oo, &out, "out", 1) < 0) goto done_bias;
    if (a.ndim != 3 || a.itemsize != 2) {
        PyErr_Format(PyExc_TypeError, "a must be a 3-D int16 array, got ndim %d itemsize %zd", a.ndim, a.itemsize);
        goto done;
    }
    if (b.ndim != 3 || (b.itemsize != 1 && b.itemsize != 2)) {
        PyErr_Format(PyExc_TypeError, "b must be a 3-D int8 or int16 array, got ndim %d itemsize %zd", b.ndim,
                     b.itemsize);
        goto done;
    }
    if (out.ndim != 3 || (out.itemsize != 1 && out.itemsize != 2 && out.itemsize != 4 && out.itemsize != 8)) {
        PyErr_Format(PyExc_TypeError, "out must be a 3-D int8/16/32/64 array, got ndim %d itemsize %zd", out.ndim,
                     out.itemsize);
        goto done;
    }
    if (have_bias && (bias.ndim != 1 || bias.itemsize != 4)) {
        PyErr_Format(PyExc_TypeError, "bias must be a 1-D int32 array, got ndim %d itemsize %zd", bias.ndim,
                     bias.itemsize);
        goto done;
    }
    Py_ssize_t items = a.shape[0], m = a.shape[1], k = a.shape[2], n = b.shape[1];
    if ((b.shape[0] != items && b.shape[0] != 1) || b.shape[2] != k || out.shape[0] != items ||
        out.shape[1] != m || out.shape[2] != n || (have_bias && bias.shape[0] != n)) {
        PyErr_Format(PyExc_ValueError, "shapes a (%zd, %zd, %zd), b (%zd, %zd, %zd), out (%zd, %zd, %zd)%s do not match",
                     items, m, k, b.shape[0], b.shape[1], b.shape[2], out.shape[0], out.shape[1], out.shape[2],
                     have_bias ? " and bias" : "");
        goto done;
    }
    if (shift < -31 || shift > 62 || (out.itemsize == 8 && shift != 0)) {
        PyErr_Format(PyExc_ValueError, "shift %d outside [-31, 62] (0 for an int64 out)", shift);
        goto done;
    }
    if (items == 0 || m == 0 || n == 0) {
        ok = 1;
        goto done;
    }
    if (k == 0) {
        PyErr_SetString(PyExc_ValueError, "K must be at least 1");
        goto done;
    }
    if (threads < 1) threads = 1;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((long long)items * m * n * k < MIN_PARALLEL_MACS) threads = 1;
    Job base = {(const int16_t *)a.buf, b.buf, b.itemsize == 2, current_isa(), m, n, k, m * k,
                b.shape[0] == 1 ? 0 : n * k, 0, items, 0, n, have_bias ? (const int32_t *)bias.buf : NULL, shift,
                (int)out.itemsize, out.buf, 0};
    Job jobs[MAX_THREADS];
    int count = 0;
    if (items >= threads) { /* whole items per thread */
        Py_ssize_t per = (items + threads - 1) / threads;
        for (Py_ssize_t i = 0; i < items; i += per, count++) {
            jobs[count] = base;
            jobs[count].i0 = i;
            jobs[count].i1 = i + per < items ? i + per : items;
        }
    } else { /* column ranges in multiples of 4 (every tile width divides into them), one tile at least */
        const Py_ssize_t align = base.isa == ISA_AMX ? 32 : 4; /* AMX: whole 32-column steps */
        Py_ssize_t per = ((n + threads - 1) / threads + align - 1) & ~(align - 1);
        for (Py_ssize_t c = 0; c < n && count < threads; c += per, count++) {
            jobs[count] = base;
            jobs[count].n0 = c;
            jobs[count].n1 = c + per < n ? c + per : n;
        }
    }
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS;
    run_parallel(thread_main, jobs, sizeof(Job), count);
    for (int t = 0; t < count; t++) failed |= jobs[t].failed;
    Py_END_ALLOW_THREADS;
    if (failed)
        PyErr_NoMemory();
    else
        ok = 1;
done:
    PyBuffer_Release(&out);
done_bias:
    if (have_bias) PyBuffer_Release(&bias);
done_b:
    PyBuffer_Release(&b);
done_a:
    PyBuffer_Release(&a);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyObject *isa(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(ISA_NAMES[current_isa()]);
}

static PyObject *isas(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return isa_list(ISA_NAMES, ISA_AVX2, detect_isa());
}

static PyObject *amx_jobs(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyLong_FromLongLong((long long)atomic_load(&amx_jobs_run));
}

static PyObject *set_isa(PyObject *self, PyObject *args) {
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    int i = isa_index(name, ISA_NAMES, ISA_AVX2, ISA_AMX, detect_isa(), "avx2, avx512vnni or amx");
    if (i < 0) return NULL;
    isa_choice = i;
    Py_RETURN_NONE;
}

static PyObject *avx2(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyBool_FromLong(have_avx2());
}

/* ---- ADD / SUB / MUL (offchain/engine/ops/elementwise.py) ----------------------------------------------------
 * out[i] = requantise(f(a[i mod na], b[i mod nb]), s) with f = (a << sa) + (b << sb), (a << sa) - (b << sb) or a * b,
 * exact in int64 (the ops' checks bound |a << sa|, |b << sb| < 2^61 and |a * b| <= 2^62), then the requantisation
 * of the matmul epilogue. An operand whose size divides the output's repeats (the caller gives a trailing-block
 * broadcast, or size 1). Values go through an int64 chunk in L1 and are stored in the output's width. */
enum { EW_ADD = 0, EW_SUB = 1, EW_MUL = 2 };

typedef struct {
    const void *a, *b;
    int a_size, b_size, out_size; /* bytes per element */
    Py_ssize_t na, nb, n;
    int op, sa, sb, s;
    void *out;
    int narrow;        /* 1: f and its rounding fit int32 (binary_fits_int32), so the chunks are int32 */
    Py_ssize_t i0, i1; /* this thread's elements */
    int bad;           /* set when a value is beyond rshift_round's bound */
} Binary;
/* Elements per thread below which ADD / SUB / MUL stay on one thread. */
#define EW_MIN_PARALLEL (1 << 15)

/* Threads for an elementwise pass over n elements: at most `threads`, one per EW_MIN_PARALLEL elements, at least 1. */
static int elementwise_threads(Py_ssize_t n, int threads) {
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > n / EW_MIN_PARALLEL) threads = (int)(n / EW_MIN_PARALLEL);
    return threads < 1 ? 1 : threads;
}

static inline int64_t load_at(const void *p, int size, Py_ssize_t i) {
    switch (size) {
    case 1: return ((const int8_t *)p)[i];
    case 2: return ((const int16_t *)p)[i];
    case 4: return ((const int32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

/* v[j] = x[j] for j < len (x of width size, or one repeated value when step is 0), widened to int64. */
CLONES static void widen(int64_t *v, const void *x, int size,
                                                                                Py_ssize_t step, Py_ssize_t len) {
    if (step == 0) {
        int64_t c = load_at(x, size, 0);
        for (Py_ssize_t j = 0; j < len; j++) v[j] = c;
    } else if (size == 1) {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int8_t *)x)[j];
    } else if (size == 2) {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int16_t *)x)[j];
    } else if (size == 4) {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int32_t *)x)[j];
    } else {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int64_t *)x)[j];
    }
}

CLONES static void combine(int64_t *va, const int64_t *vb,
                                                                                  Py_ssize_t len, int op, int sa,
                                                                                  int sb) {
    if (op == EW_MUL) {
        for (Py_ssize_t j = 0; j < len; j++) va[j] *= vb[j];
    } else {
        const int64_t ma = (int64_t)1 << sa, mb = op == EW_SUB ? -((int64_t)1 << sb) : (int64_t)1 << sb;
        for (Py_ssize_t j = 0; j < len; j++) va[j] = va[j] * ma + vb[j] * mb;
    }
}

/* The largest |x| over x's n values of width size: its dtype's bound for int8/int16; for a short int32 operand (an
 * attention mask, a bias row: at most 4096 values) its actual values; else 2^62 (not int32). */
static int64_t magnitude(const void *x, int size, Py_ssize_t n) {
    if (size <= 2) return (int64_t)1 << (8 * size - 1);
    if (size != 4 || n > 4096) return (int64_t)1 << 62;
    int64_t m = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t v = ((const int32_t *)x)[i];
        m = v < -m ? -v : v > m ? v : m;
    }
    return m;
}

/* Whether the int32 chunks may take the job: the shift is not a left shift and |f| plus the rounding half stays
 * below 2^31 for every operand value (int8/int16 operands by their dtype, |a| <= 2^15: a * b within 2^30,
 * (a << sa) + (b << sb) within 2^(15 + sa) + 2^(15 + sb); a short int32 operand by its values), so the int32 values
 * equal the int64 ones and no rshift_round bound can be reached. Twice the lanes per vector and half the bytes of
 * the int64 chunks. Decided once per call, before the threads split the elements. */
static int binary_fits_int32(const Binary *j) {
    if (j->s < 0) return 0;
    const int64_t ma = magnitude(j->a, j->a_size, j->na), mb = magnitude(j->b, j->b_size, j->nb);
    if (ma > INT32_MAX || mb > INT32_MAX) return 0;
    int64_t bound = j->op == EW_MUL ? ma * mb : (ma << j->sa) + (mb << j->sb);
    if (j->s > 0) bound += (int64_t)1 << (j->s - 1);
    return bound <= INT32_MAX;
}

CLONES static void widen32(int32_t *v, const void *x, int size, Py_ssize_t step, Py_ssize_t len) {
    if (step == 0) {
        int32_t c = (int32_t)load_at(x, size, 0);
        for (Py_ssize_t j = 0; j < len; j++) v[j] = c;
    } else if (size == 1) {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int8_t *)x)[j];
    } else if (size == 2) {
        for (Py_ssize_t j = 0; j < len; j++) v[j] = ((const int16_t *)x)[j];
    } else {
        memcpy(v, x, (size_t)len * sizeof(int32_t));
    }
}

/* f in int32, then requantise (s >= 0) and store; the shifts of negative values go through uint32 (defined). */
CLONES static void combine_store32(void *out, int size, int32_t *va, const int32_t *vb, Py_ssize_t len, int op,
                                   int sa, int sb, int s) {
    if (op == EW_MUL) {
        for (Py_ssize_t j = 0; j < len; j++) va[j] *= vb[j];
    } else if (op == EW_ADD) {
        for (Py_ssize_t j = 0; j < len; j++) va[j] = (int32_t)((uint32_t)va[j] << sa) + (int32_t)((uint32_t)vb[j] << sb);
    } else {
        for (Py_ssize_t j = 0; j < len; j++) va[j] = (int32_t)((uint32_t)va[j] << sa) - (int32_t)((uint32_t)vb[j] << sb);
    }
    const int32_t lo = size == 4 ? INT32_MIN : -(1 << (8 * size - 1)), hi = size == 4 ? INT32_MAX : (1 << (8 * size - 1)) - 1;
    const int32_t half = s > 0 ? 1 << (s - 1) : 0;
    if (s > 0)
        for (Py_ssize_t j = 0; j < len; j++) va[j] = (va[j] + half) >> s;
    for (Py_ssize_t j = 0; j < len; j++) va[j] = va[j] < lo ? lo : va[j] > hi ? hi : va[j];
    switch (size) {
    case 1: for (Py_ssize_t j = 0; j < len; j++) ((int8_t *)out)[j] = (int8_t)va[j]; break;
    case 2: for (Py_ssize_t j = 0; j < len; j++) ((int16_t *)out)[j] = (int16_t)va[j]; break;
    case 4: memcpy(out, va, (size_t)len * sizeof(int32_t)); break;
    default: for (Py_ssize_t j = 0; j < len; j++) ((int64_t *)out)[j] = va[j];
    }
}

static void *run_binary(void *arg) {
    Binary *job = arg;
    int64_t va[EW_CHUNK], vb[EW_CHUNK];
    int32_t *xa = (int32_t *)va, *xb = (int32_t *)vb; /* the int32 chunks use the same buffers */
    const char *a = job->a, *b = job->b;
    int bad = 0;
    for (Py_ssize_t i = job->i0, len; i < job->i1; i += len) {
        len = job->i1 - i < EW_CHUNK ? job->i1 - i : EW_CHUNK;
        /* a run [i, i + len) must not wrap around a repeating operand: cut it at the next wrap */
        if (job->na > 1 && i % job->na + len > job->na) len = job->na - i % job->na;
        if (job->nb > 1 && i % job->nb + len > job->nb) len = job->nb - i % job->nb;
        const void *pa = a + (job->na > 1 ? i % job->na : 0) * job->a_size;
        const void *pb = b + (job->nb > 1 ? i % job->nb : 0) * job->b_size;
        char *po = (char *)job->out + i * job->out_size;
        if (job->narrow) {
            widen32(xa, pa, job->a_size, job->na > 1, len);
            widen32(xb, pb, job->b_size, job->nb > 1, len);
            combine_store32(po, job->out_size, xa, xb, len, job->op, job->sa, job->sb, job->s);
        } else {
            widen(va, pa, job->a_size, job->na > 1, len);
            widen(vb, pb, job->b_size, job->nb > 1, len);
            combine(va, vb, len, job->op, job->sa, job->sb);
            bad |= store(po, job->out_size, va, len, job->s);
        }
    }
    job->bad = bad;
    return NULL;
}

PyDoc_STRVAR(binary_doc,
             "binary(a, b, op, sa, sb, s, out, threads)\n--\n\n"
             "out = requantise(f(a, b), s), f = (a << sa) + (b << sb) (op 0), (a << sa) - (b << sb) (op 1), a * b\n"
             "(op 2), exactly in int64. a, b: C-contiguous int8/16/32/64 arrays whose sizes divide out's (a smaller\n"
             "one repeats: size 1, or the output's trailing block); out: int8/16/32 saturated, or int64 with s = 0.\n"
             "The caller keeps f inside int64 (the ops' shift and dtype checks do). Returns False, out unspecified,\n"
             "when s > 0 and some |f| >= 2^62 (rshift_round's bound: the numpy path raises its error), else True.");

static PyObject *binary(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ao, *bo, *oo;
    int op, sa, sb, s, threads;
    if (!PyArg_ParseTuple(args, "OOiiiiOi", &ao, &bo, &op, &sa, &sb, &s, &oo, &threads)) return NULL;
    Py_buffer a = {0}, b = {0}, out = {0};
    int ok = 0;
    if (get_buffer(ao, &a, "a", 0) < 0) return NULL;
    if (get_buffer(bo, &b, "b", 0) < 0) goto done_a;
    if (get_buffer(oo, &out, "out", 1) < 0) goto done_b;
    Py_ssize_t na = a.len / (a.itemsize ? a.itemsize : 1), nb = b.len / (b.itemsize ? b.itemsize : 1);
    Py_ssize_t n = out.len / (out.itemsize ? out.itemsize : 1);
    if (op < EW_ADD || op > EW_MUL || sa < 0 || sa > 30 || sb < 0 || sb > 30 || s < -31 || s > 62 ||
        (out.itemsize == 8 && s != 0)) {
        PyErr_Format(PyExc_ValueError, "op %d, shifts %d, %d, %d outside op 0..2, 0..30, -31..62 (0 for int64 out)",
                     op, sa, sb, s);
        goto done;
    }
    if (na == 0 || nb == 0 || n % na != 0 || n % nb != 0) {
        PyErr_Format(PyExc_ValueError, "operand sizes %zd and %zd do not divide the output's %zd", na, nb, n);
        goto done;
    }
    Binary base = {a.buf, b.buf, (int)a.itemsize, (int)b.itemsize, (int)out.itemsize, na, nb, n, op, sa, sb, s,
                   out.buf, 0, 0, n, 0};
    base.narrow = binary_fits_int32(&base);
    Binary jobs[MAX_THREADS];
    threads = elementwise_threads(n, threads);
    int bad = 0;
    for (int t = 0; t < threads; t++) {
        jobs[t] = base;
        jobs[t].i0 = n * t / threads;
        jobs[t].i1 = n * (t + 1) / threads;
    }
    if (n > 0) {
        Py_BEGIN_ALLOW_THREADS;
        run_parallel(run_binary, jobs, sizeof(Binary), threads);
        Py_END_ALLOW_THREADS;
        for (int t = 0; t < threads; t++) bad |= jobs[t].bad;
    }
    ok = bad ? 2 : 1;
done:
    PyBuffer_Release(&out);
done_b:
    PyBuffer_Release(&b);
done_a:
    PyBuffer_Release(&a);
    if (!ok) return NULL;
    return PyBool_FromLong(ok == 1);
}

/* ---- ROPE (offchain/engine/ops/rope.py) -------------------------------------------------------------------------
 * out[r, t, i] = requantise(x[r, t, i] cos[t, i] -/+ x[r, t, i +/- h] sin[t, i], s), h = D / 2, computed as numpy
 * does it in int64 (wrapping like numpy's int64 if the operands allowed it: unsigned arithmetic here), then the
 * requantisation; like binary() it reports a value beyond rshift_round's bound. */
typedef struct {
    const void *x, *cos, *sin;
    int x_size, t_size, out_size; /* bytes per element (cos and sin share one) */
    Py_ssize_t rows, t, d;        /* x is [rows, t, d] */
    int s;
    void *out;
    Py_ssize_t r0, r1; /* this thread's rows of [rows * t, d] */
    int bad;
} Rope;

CLONES static void rope_row(int64_t *v, const int64_t *x, const int64_t *c, const int64_t *sn, Py_ssize_t d) {
    const Py_ssize_t h = d / 2;
    for (Py_ssize_t i = 0; i < h; i++)
        v[i] = (int64_t)((uint64_t)x[i] * (uint64_t)c[i] - (uint64_t)x[i + h] * (uint64_t)sn[i]);
    for (Py_ssize_t i = h; i < d; i++)
        v[i] = (int64_t)((uint64_t)x[i] * (uint64_t)c[i] + (uint64_t)x[i - h] * (uint64_t)sn[i]);
}

static void *run_rope(void *arg) {
    Rope *job = arg;
    int64_t x[EW_CHUNK], c[EW_CHUNK], sn[EW_CHUNK], v[EW_CHUNK];
    const Py_ssize_t d = job->d;
    int bad = 0;
    for (Py_ssize_t row = job->r0; row < job->r1; row++) {
        Py_ssize_t t = row % job->t;
        widen(x, (const char *)job->x + row * d * job->x_size, job->x_size, 1, d);
        widen(c, (const char *)job->cos + t * d * job->t_size, job->t_size, 1, d);
        widen(sn, (const char *)job->sin + t * d * job->t_size, job->t_size, 1, d);
        rope_row(v, x, c, sn, d);
        bad |= store((char *)job->out + row * d * job->out_size, job->out_size, v, d, job->s);
    }
    job->bad = bad;
    return NULL;
}

PyDoc_STRVAR(rope_doc,
             "rope(x, cos, sin, s, out, threads)\n--\n\n"
             "ROPE's forward: x [R, T, D] (D even, at most 2048), cos and sin [T, D] of one dtype, out [R, T, D] int8/16/32\n"
             "(saturated) or int64 (s = 0); all C-contiguous int8/16/32/64. Returns False when s > 0 and some value\n"
             "is beyond rshift_round's bound (out unspecified; the numpy path raises its error), else True.");

static PyObject *rope(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *co, *so, *oo;
    int s, threads;
    if (!PyArg_ParseTuple(args, "OOOiOi", &xo, &co, &so, &s, &oo, &threads)) return NULL;
    Py_buffer x = {0}, c = {0}, sn = {0}, out = {0};
    int ok = 0, bad = 0;
    if (get_buffer(xo, &x, "x", 0) < 0) return NULL;
    if (get_buffer(co, &c, "cos", 0) < 0) goto done_x;
    if (get_buffer(so, &sn, "sin", 0) < 0) goto done_c;
    if (get_buffer(oo, &out, "out", 1) < 0) goto done_s;
    if (x.ndim != 3 || c.ndim != 2 || sn.ndim != 2 || out.ndim != 3 || c.itemsize != sn.itemsize ||
        c.shape[0] != x.shape[1] || c.shape[1] != x.shape[2] || sn.shape[0] != x.shape[1] ||
        sn.shape[1] != x.shape[2] || out.shape[0] != x.shape[0] || out.shape[1] != x.shape[1] ||
        out.shape[2] != x.shape[2] || x.shape[2] % 2 != 0 || x.shape[2] > EW_CHUNK) {
        PyErr_SetString(PyExc_ValueError, "rope needs x [R, T, D] (D even, <= 2048), cos and sin [T, D] of one "
                                          "dtype, out [R, T, D]");
        goto done;
    }
    if (s < -31 || s > 62 || (out.itemsize == 8 && s != 0)) {
        PyErr_Format(PyExc_ValueError, "shift %d outside [-31, 62] (0 for an int64 out)", s);
        goto done;
    }
    Py_ssize_t rows = x.shape[0] * x.shape[1];
    Rope base = {x.buf, c.buf, sn.buf, (int)x.itemsize, (int)c.itemsize, (int)out.itemsize, x.shape[0], x.shape[1],
                 x.shape[2], s, out.buf, 0, rows, 0};
    Rope jobs[MAX_THREADS];
    Py_ssize_t n = rows * x.shape[2];
    threads = elementwise_threads(n, threads);
    for (int t = 0; t < threads; t++) {
        jobs[t] = base;
        jobs[t].r0 = rows * t / threads;
        jobs[t].r1 = rows * (t + 1) / threads;
    }
    if (n > 0) {
        Py_BEGIN_ALLOW_THREADS;
        run_parallel(run_rope, jobs, sizeof(Rope), threads);
        Py_END_ALLOW_THREADS;
        for (int t = 0; t < threads; t++) bad |= jobs[t].bad;
    }
    ok = bad ? 2 : 1;
done:
    PyBuffer_Release(&out);
done_s:
    PyBuffer_Release(&sn);
done_c:
    PyBuffer_Release(&c);
done_x:
    PyBuffer_Release(&x);
    if (!ok) return NULL;
    return PyBool_FromLong(ok == 1);
}

/* ---- Table lookups (offchain/engine/ops/activation.py): out[i] = table[bits of x[i]] ----------------------------
 * x int8 or int16, table of 2^8 or 2^16 entries indexed by the input's two's-complement bits (the caller rolls it),
 * entries of the output's width. */
typedef struct {
    const void *x;
    int x_size, out_size;
    const void *table;
    void *out;
    Py_ssize_t i0, i1;
} Gather;

#define GATHER_LOOP(TX, TO)                                                                                   \
    for (Py_ssize_t i = job->i0; i < job->i1; i++) ((TO *)job->out)[i] = ((const TO *)job->table)[((const TX *)job->x)[i]];

static void *run_gather(void *arg) {
    const Gather *job = arg;
    if (job->x_size == 1) {
        switch (job->out_size) {
        case 1: GATHER_LOOP(uint8_t, int8_t) break;
        case 2: GATHER_LOOP(uint8_t, int16_t) break;
        case 4: GATHER_LOOP(uint8_t, int32_t) break;
        default: GATHER_LOOP(uint8_t, int64_t)
        }
    } else {
        switch (job->out_size) {
        case 1: GATHER_LOOP(uint16_t, int8_t) break;
        case 2: GATHER_LOOP(uint16_t, int16_t) break;
        case 4: GATHER_LOOP(uint16_t, int32_t) break;
        default: GATHER_LOOP(uint16_t, int64_t)
        }
    }
    return NULL;
}

PyDoc_STRVAR(gather_doc,
             "gather(x, table, out, threads)\n--\n\n"
             "out[i] = table[x[i] as unsigned bits]: x int8 (table of 256) or int16 (table of 65536), table and out of\n"
             "one int8/16/32/64 dtype, x and out of one size; all C-contiguous.");

static PyObject *gather(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *to, *oo;
    int threads;
    if (!PyArg_ParseTuple(args, "OOOi", &xo, &to, &oo, &threads)) return NULL;
    Py_buffer x = {0}, table = {0}, out = {0};
    int ok = 0;
    if (get_buffer(xo, &x, "x", 0) < 0) return NULL;
    if (get_buffer(to, &table, "table", 0) < 0) goto done_x;
    if (get_buffer(oo, &out, "out", 1) < 0) goto done_t;
    Py_ssize_t n = x.len / x.itemsize;
    if ((x.itemsize != 1 && x.itemsize != 2) || table.len / table.itemsize != (Py_ssize_t)1 << (8 * x.itemsize) ||
        table.itemsize != out.itemsize || out.len / out.itemsize != n) {
        PyErr_SetString(PyExc_ValueError, "gather needs int8 or int16 x, a table of 2^bits entries of out's dtype, "
                                          "and out of x's size");
        goto done;
    }
    Gather jobs[MAX_THREADS];
    threads = elementwise_threads(n, threads);
    for (int t = 0; t < threads; t++)
        jobs[t] = (Gather){x.buf, (int)x.itemsize, (int)out.itemsize, table.buf, out.buf, n * t / threads,
                           n * (t + 1) / threads};
    Py_BEGIN_ALLOW_THREADS;
    run_parallel(run_gather, jobs, sizeof(Gather), threads);
    Py_END_ALLOW_THREADS;
    ok = 1;
done:
    PyBuffer_Release(&out);
done_t:
    PyBuffer_Release(&table);
done_x:
    PyBuffer_Release(&x);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"matmul", matmul, METH_VARARGS, matmul_doc},
    {"binary", binary, METH_VARARGS, binary_doc},
    {"rope", rope, METH_VARARGS, rope_doc},
    {"gather", gather, METH_VARARGS, gather_doc},
    {"avx2", avx2, METH_NOARGS, "avx2()\n--\n\nWhether this CPU runs the AVX2 kernels."},
    {"isa", isa, METH_NOARGS, "isa()\n--\n\nThe instruction set the products use: amx, avx512vnni, avx2 or none."},
    {"isas", isas, METH_NOARGS, "isas()\n--\n\nEvery instruction set this CPU runs the products on (tests run each)."},
    {"amx_jobs", amx_jobs, METH_NOARGS,
     "amx_jobs()\n--\n\nProduct jobs (one per thread and call) the AMX path has run in this process."},
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name)\n--\n\nUse 'avx2', 'avx512vnni' or 'amx' (at most what the CPU runs); results never depend on it."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels",
                                    "Exact int16 x int8 and int16 x int16 matrix products with the requantisation epilogue (AVX2, AVX-512 VNNI, AMX).", -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__kernels(void) {
    pool_init();
    return PyModule_Create(&module);
}
