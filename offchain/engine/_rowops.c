/* Exact integer row kernels: SOFTMAX, LAYERNORM and RMSNORM over the last axis, bit for bit the integers of
 * offchain/engine/intmath_softmax.softmax and intmath_norm.layernorm / rmsnorm (their numpy code is the
 * definition; tests/engine/test_rowops.py compares the two on every input class and on every instruction set).
 *
 * Every step below is the same integer formula as the Python one, with the bounds the Python docstrings state
 * (so no intermediate leaves int64). C details that matter for exactness:
 *   - `>>` of a negative int64 is an arithmetic (floor) shift in GCC and Clang (implementation-defined in ISO C;
 *     GCC documents that signed `>>` acts on negative numbers by sign extension), which is numpy's `>>` too. The
 *     static assert below refuses a compiler that does otherwise.
 *   - left shifts are only applied to non-negative values (a left shift of a negative is undefined); a negative
 *     value is scaled by multiplying with 2^s instead (the caller passes beta << sb already shifted).
 *   - divisions are of non-negative numerators by positive divisors, where C's truncation is the floor.
 *
 * Input rows may be int8/int16/int32/int64 (each row is widened into an int64 scratch row); outputs are written
 * saturated to [lo, hi] straight into an int8/int16/int32/int64 array. The row loops run without the GIL, on up
 * to `threads` threads of the module's worker pool, _pool.h (contiguous row ranges, each thread writing only its own rows) when there is enough work.
 *
 * Instruction sets: each row function is compiled three times, for AVX-512 (x86-64-v4's features), AVX2
 * (x86-64-v3's) and the baseline ("generic"; the only one off x86), and the best the CPU runs is chosen at
 * import; set_isa() picks a lower one (tests run each). The Q30 exp polynomial has hand-written AVX-512 and
 * AVX2 versions (vpmuldq: every Horner product is of two int32-range values); the rest is plain C that GCC
 * vectorises. The integers never depend on the instruction set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_isa.h"
#include "_pool.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X86 1
#include <immintrin.h>
#else
#define HAVE_X86 0
#endif

_Static_assert((-3LL >> 1) == -2LL, "signed >> must be an arithmetic (floor) shift");

#define AI static inline __attribute__((always_inline))

/* intmath_act constants (tests/engine/test_rowops.py compares them with the Python ones through constants()). */
#define ONE_Q30 (1LL << 30)
#define LOG2E_Q30 1549082005LL
#define EXP_CLAMP 64
#define C0 (-744261020LL)
#define C1 257939319LL
#define C2 (-59584401LL)
#define C3 10288824LL
#define C4 (-1371676LL)
#define C5 118043LL
/* intmath_norm constants. */
#define Z_FRAC 20
#define NORM_BITS 22

enum { ISA_GENERIC = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
static const char *ISA_NAMES[] = {"generic", "avx2", "avx512"};

/* ------------------------------------------------------------------------------------------------------------ */
/* exp_neg_q30 (intmath_act._exp_neg_parts, exp2_frac_q30, _scale_exp)                                          */
/* ------------------------------------------------------------------------------------------------------------ */

/* floor(v / 2^30) for |v| < 2^61 whose result fits int32: its two's complement is bits 30..61 of v's. */
AI int64_t floor_q30(int64_t v) { return (int64_t)(int32_t)(uint32_t)((uint64_t)v >> 30); }

/* exp2_frac_q30(r) for 0 <= r < 2^30: acc = r*C5, then acc = C[k] + round(acc*r / 2^30) for k = 4..0 (each partial
 * |acc| < 2^30, so acc*r < 2^60), result 2^30 + round(acc*r / 2^30), in (2^29, 2^30]. */
AI int64_t exp2_frac_q30(int64_t r) {
    int64_t acc = C4 + floor_q30(r * C5 + (1LL << 29));
    acc = C3 + floor_q30(acc * r + (1LL << 29));
    acc = C2 + floor_q30(acc * r + (1LL << 29));
    acc = C1 + floor_q30(acc * r + (1LL << 29));
    acc = C0 + floor_q30(acc * r + (1LL << 29));
    return ONE_Q30 + floor_q30(acc * r + (1LL << 29));
}

/* exp_neg_q30(w, f_in) for w >= 0: w = min(w, top = 64 << f_in) <= 2^30; u = rshift_round(w * LOG2E_Q30, f_in)
 * (0 <= w * LOG2E_Q30 < 2^61); z = u >> 30, p = exp2_frac_q30(u mod 2^30); result rshift_round(p, min(z, 62)),
 * = ((2p >> s) + 1) >> 1 (p <= 2^30: 2p >> s is exact, and s = 62 gives 0). half = 2^(f_in - 1), or 0. */
AI int64_t exp_neg_q30(int64_t w, int f_in, int64_t top, int64_t half) {
    if (w > top) w = top;
    int64_t u = (w * LOG2E_Q30 + half) >> f_in;
    int64_t z = u >> 30;
    int64_t p = exp2_frac_q30(u & (ONE_Q30 - 1));
    int64_t s = z < 62 ? z : 62;
    return (((2 * p) >> s) + 1) >> 1;
}

/* e[j] = exp_neg_q30(m - x[j]) for j in [j0, len) (m - x[j] in [0, 2^32)); returns their sum. */
AI int64_t exps_scalar(const int64_t *x, int64_t *e, Py_ssize_t j0, Py_ssize_t len, int64_t m, int f_in) {
    const int64_t top = (int64_t)EXP_CLAMP << f_in, half = f_in > 0 ? 1LL << (f_in - 1) : 0;
    int64_t s = 0;
    for (Py_ssize_t j = j0; j < len; j++) {
        e[j] = exp_neg_q30(m - x[j], f_in, top, half);
        s += e[j];
    }
    return s;
}

#if HAVE_X86
/* The same integers, 8 lanes at a time. _mm512_mul_epi32 multiplies the low 32 bits of each lane as signed int32
 * into an exact int64: every product here (w * LOG2E_Q30, r * C5, acc * r) is of two values inside int32's range,
 * held sign-correct in their int64 lanes. */
__attribute__((target("avx512f,avx512dq"))) static int64_t exps_avx512(const int64_t *x, int64_t *e,
                                                                        Py_ssize_t len, int64_t m, int f_in) {
    const __m512i vm = _mm512_set1_epi64(m), top = _mm512_set1_epi64((int64_t)EXP_CLAMP << f_in);
    const __m512i log2e = _mm512_set1_epi64(LOG2E_Q30), half = _mm512_set1_epi64(f_in > 0 ? 1LL << (f_in - 1) : 0);
    const __m512i mask30 = _mm512_set1_epi64(ONE_Q30 - 1), r29 = _mm512_set1_epi64(1LL << 29);
    const __m512i one = _mm512_set1_epi64(ONE_Q30), s62 = _mm512_set1_epi64(62), inc = _mm512_set1_epi64(1);
    const __m512i c0 = _mm512_set1_epi64(C0), c1 = _mm512_set1_epi64(C1), c2 = _mm512_set1_epi64(C2);
    const __m512i c3 = _mm512_set1_epi64(C3), c4 = _mm512_set1_epi64(C4), c5 = _mm512_set1_epi64(C5);
    const __m128i fin = _mm_cvtsi32_si128(f_in);
    __m512i sum = _mm512_setzero_si512();
    Py_ssize_t j = 0;
    for (; j + 8 <= len; j += 8) {
        __m512i w = _mm512_min_epi64(_mm512_sub_epi64(vm, _mm512_loadu_si512((const void *)(x + j))), top);
        __m512i u = _mm512_srl_epi64(_mm512_add_epi64(_mm512_mul_epi32(w, log2e), half), fin);
        __m512i z = _mm512_srli_epi64(u, 30), r = _mm512_and_si512(u, mask30);
#define STEP(acc, c) _mm512_add_epi64(c, _mm512_srai_epi64(_mm512_add_epi64(_mm512_mul_epi32(acc, r), r29), 30))
        __m512i acc = STEP(c5, c4);
        acc = STEP(acc, c3);
        acc = STEP(acc, c2);
        acc = STEP(acc, c1);
        acc = STEP(acc, c0);
        __m512i p = STEP(acc, one);
#undef STEP
        __m512i sh = _mm512_min_epi64(z, s62);
        __m512i v = _mm512_srli_epi64(_mm512_add_epi64(_mm512_srlv_epi64(_mm512_add_epi64(p, p), sh), inc), 1);
        _mm512_storeu_si512((void *)(e + j), v);
        sum = _mm512_add_epi64(sum, v);
    }
    return _mm512_reduce_add_epi64(sum) + exps_scalar(x, e, j, len, m, f_in);
}

/* 4 lanes with AVX2, which has no 64-bit arithmetic shift and no 64-bit min: each Horner step's floor(v / 2^30)
 * is taken with a logical shift, whose low 32 bits are the (int32-range) result's two's complement; the next
 * _mm256_mul_epi32 reads only those low 32 bits, and p (in (2^29, 2^30]) is its low 32 bits. */
__attribute__((target("avx2"))) static int64_t exps_avx2(const int64_t *x, int64_t *e, Py_ssize_t len, int64_t m,
                                                         int f_in) {
    const __m256i vm = _mm256_set1_epi64x(m), top = _mm256_set1_epi64x((int64_t)EXP_CLAMP << f_in);
    const __m256i log2e = _mm256_set1_epi64x(LOG2E_Q30);
    const __m256i half = _mm256_set1_epi64x(f_in > 0 ? 1LL << (f_in - 1) : 0);
    const __m256i mask30 = _mm256_set1_epi64x(ONE_Q30 - 1), r29 = _mm256_set1_epi64x(1LL << 29);
    const __m256i one = _mm256_set1_epi64x(ONE_Q30), s62 = _mm256_set1_epi64x(62), inc = _mm256_set1_epi64x(1);
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFFLL);
    const __m256i c0 = _mm256_set1_epi64x(C0), c1 = _mm256_set1_epi64x(C1), c2 = _mm256_set1_epi64x(C2);
    const __m256i c3 = _mm256_set1_epi64x(C3), c4 = _mm256_set1_epi64x(C4), c5 = _mm256_set1_epi64x(C5);
    const __m128i fin = _mm_cvtsi32_si128(f_in);
    __m256i sum = _mm256_setzero_si256();
    Py_ssize_t j = 0;
    for (; j + 4 <= len; j += 4) {
        __m256i w = _mm256_sub_epi64(vm, _mm256_loadu_si256((const __m256i *)(x + j)));
        w = _mm256_blendv_epi8(w, top, _mm256_cmpgt_epi64(w, top));
        __m256i u = _mm256_srl_epi64(_mm256_add_epi64(_mm256_mul_epi32(w, log2e), half), fin);
        __m256i z = _mm256_srli_epi64(u, 30), r = _mm256_and_si256(u, mask30);
#define STEP(acc, c) _mm256_add_epi64(c, _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(acc, r), r29), 30))
        __m256i acc = STEP(c5, c4);
        acc = STEP(acc, c3);
        acc = STEP(acc, c2);
        acc = STEP(acc, c1);
        acc = STEP(acc, c0);
        __m256i p = _mm256_and_si256(STEP(acc, one), low32);
#undef STEP
        __m256i sh = _mm256_blendv_epi8(z, s62, _mm256_cmpgt_epi64(z, s62));
        __m256i v = _mm256_srli_epi64(_mm256_add_epi64(_mm256_srlv_epi64(_mm256_add_epi64(p, p), sh), inc), 1);
        _mm256_storeu_si256((__m256i *)(e + j), v);
        sum = _mm256_add_epi64(sum, v);
    }
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    return _mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1) + exps_scalar(x, e, j, len, m, f_in);
}
#endif

/* ------------------------------------------------------------------------------------------------------------ */
/* rows                                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

AI void load_row(const void *base, Py_ssize_t itemsize, Py_ssize_t row, Py_ssize_t n, int64_t *dst) {
#define LOAD(T)                                                                                               \
    {                                                                                                         \
        const T *s = (const T *)base + row * n;                                                               \
        for (Py_ssize_t j = 0; j < n; j++) dst[j] = s[j];                                                     \
        break;                                                                                                \
    }
    switch (itemsize) {
    case 1: LOAD(int8_t)
    case 2: LOAD(int16_t)
    case 4: LOAD(int32_t)
    default: memcpy(dst, (const int64_t *)base + row * n, (size_t)n * 8);
    }
#undef LOAD
}

/* out row = clamp(src, lo, hi) in the output's width. */
AI void store_row(void *base, Py_ssize_t itemsize, Py_ssize_t row, Py_ssize_t n, const int64_t *src, int64_t lo,
                  int64_t hi) {
#define STORE(T)                                                                                              \
    {                                                                                                         \
        T *d = (T *)base + row * n;                                                                           \
        for (Py_ssize_t j = 0; j < n; j++) {                                                                  \
            int64_t v = src[j];                                                                               \
            v = v < lo ? lo : v;                                                                              \
            d[j] = (T)(v > hi ? hi : v);                                                                      \
        }                                                                                                     \
        break;                                                                                                \
    }
    switch (itemsize) {
    case 1: STORE(int8_t)
    case 2: STORE(int16_t)
    case 4: STORE(int32_t)
    default: STORE(int64_t)
    }
#undef STORE
}

AI int bit_length(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

/* Floor square root of 0 <= v < 2^62 (unique, so any exact method gives intmath_core.isqrt's integer): the double
 * estimate is within 1 of it, and the two integer checks make it exact ((s+1)^2 <= 2^62 + 2^32 fits uint64). */
AI int64_t isqrt_exact(int64_t v) {
    uint64_t x = (uint64_t)v;
    uint64_t s = (uint64_t)sqrt((double)x);
    while (s * s > x) s--;
    while ((s + 1) * (s + 1) <= x) s++;
    return (int64_t)s;
}

typedef struct {
    const void *x;
    Py_ssize_t x_size;
    void *out;
    Py_ssize_t out_size;
    Py_ssize_t n;
    int64_t lo, hi;
    /* softmax */
    const int64_t *lens, *table;
    int f_in, f_out;
    /* norm */
    const int64_t *gamma, *bias;
    int centred, shift;
    int64_t eps_num;
} Rows;

/* One softmax row (intmath_softmax.softmax): m = max of the valid x, e = exp_neg_q30(m - x) (table or polynomial),
 * S = sum e, out = div_round(e << f_out, S) = floor((2 (e << f_out) + S) / (2S)) for valid j, 0 beyond. Returns 1
 * (refused) for a valid value outside int32. xs, e: 2 n scratch. */
AI int softmax_row(const Rows *a, Py_ssize_t r, int64_t *xs, const int isa) {
    const Py_ssize_t n = a->n, len = (Py_ssize_t)a->lens[r];
    int64_t *e = xs + n;
    load_row(a->x, a->x_size, r, n, xs);
    int64_t m = xs[0], mn = xs[0];
    for (Py_ssize_t j = 1; j < len; j++) {
        m = xs[j] > m ? xs[j] : m;
        mn = xs[j] < mn ? xs[j] : mn;
    }
    if (mn < -(1LL << 31) || m >= (1LL << 31)) return 1;
    int64_t s;
    if (a->table) {
        const int64_t top = (int64_t)EXP_CLAMP << a->f_in, *table = a->table;
        s = 0;
        for (Py_ssize_t j = 0; j < len; j++) {
            int64_t d = m - xs[j];
            e[j] = table[d < top ? d : top];
            s += e[j];
        }
    }
#if HAVE_X86
    else if (isa == ISA_AVX512)
        s = exps_avx512(xs, e, len, m, a->f_in);
    else if (isa == ISA_AVX2)
        s = exps_avx2(xs, e, len, m, a->f_in);
#endif
    else
        s = exps_scalar(xs, e, 0, len, m, a->f_in);
    /* N = 2 (e << f_out) + S < 2^62 and D = 2S in [2^31, 2^47] (the max element gives 2^30; S <= 2^16 2^30), so
     * q <= 2^31. The double quotient N * (1/D) is within 2^-19 of N / D (three roundings of 2^-53 relative), so
     * its truncation is q - 1, q or q + 1; the exact remainder N - q0 D (|.| < 2^63) corrects it. */
    const int64_t d = 2 * s;
    const double inv = 1.0 / (double)d;
    const int f_out = a->f_out;
    for (Py_ssize_t j = 0; j < len; j++) {
        int64_t num = 2 * (e[j] << f_out) + s;
        int64_t q = (int64_t)((double)num * inv);
        int64_t rem = num - q * d;
        q -= rem < 0;
        q += rem >= d;
        e[j] = q;
    }
    for (Py_ssize_t j = len; j < n; j++) e[j] = 0;
    store_row(a->out, a->out_size, r, n, e, a->lo, a->hi);
    return 0;
}

/* One LayerNorm (centred) or RMSNorm row: steps 1-5 of intmath_norm's docstring, i.e. _normalise_rows and the
 * gamma / beta step. Returns 1 (refused) for a value outside int32 (int64 input). c: n scratch. */
AI int norm_row(const Rows *a, Py_ssize_t r, int64_t *c, const int isa) {
    (void)isa;
    const Py_ssize_t n = a->n;
    load_row(a->x, a->x_size, r, n, c);
    int bad = 0;
    if (a->x_size == 8) {
        for (Py_ssize_t j = 0; j < n; j++) bad |= c[j] < -(1LL << 31) || c[j] >= (1LL << 31);
        if (bad) return 1;
    }
    /* step 1: c = n x - sum(x) (|c| < 2^48) or x; m = max |c| */
    int64_t m = 0;
    if (a->centred) {
        int64_t sum = 0;
        for (Py_ssize_t j = 0; j < n; j++) sum += c[j];
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t v = (int64_t)n * c[j] - sum;
            c[j] = v;
            int64_t av = v < 0 ? -v : v;
            m = av > m ? av : m;
        }
    } else {
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t av = c[j] < 0 ? -c[j] : c[j];
            m = av > m ? av : m;
        }
    }
    /* step 2: k = max(0, bit_length(m) - 22), c' = rshift_round(c, k) (|c'| <= 2^22); step 3: U = sum c'^2
     * (<= 2^16 2^44) + rshift_round(eps_num, 2k), < 2^62 */
    int k = bit_length((uint64_t)m) - NORM_BITS;
    if (k < 0) k = 0;
    int64_t u = 0;
    if (k > 0) {
        const int64_t h = 1LL << (k - 1);
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t v = (c[j] + h) >> k;
            c[j] = v;
            u += v * v;
        }
        u += (a->eps_num + (1LL << (2 * k - 1))) >> (2 * k);
    } else {
        for (Py_ssize_t j = 0; j < n; j++) u += c[j] * c[j];
        u += a->eps_num;
    }
    /* step 4: G = (62 - bit_length(U)) >> 1, s = isqrt((U << 2G) // n) (>= 2^22), r = div_round(2^60, s) (<= 2^38),
     * z = rshift_round(c' r, 40 - G) (|c' r| <= 2^60, |z| < 2^29); z = 0 when U = 0 */
    int64_t rr = 0;
    int zs = 9;
    if (u > 0) {
        int g = (62 - bit_length((uint64_t)u)) >> 1;
        int64_t s = isqrt_exact((int64_t)(((uint64_t)u << (2 * g)) / (uint64_t)n));
        rr = ((1LL << 61) + s) / (2 * s);
        zs = 60 - Z_FRAC - g;
    }
    /* step 5: out = rshift_round(z gamma + (beta << sb), shift), |z gamma + bias| < 2^61 */
    const int64_t zh = 1LL << (zs - 1), sh = a->shift, h = sh > 0 ? 1LL << (sh - 1) : 0;
    const int64_t *gamma = a->gamma, *bias = a->bias;
    if (bias) {
        for (Py_ssize_t j = 0; j < n; j++) c[j] = (((c[j] * rr + zh) >> zs) * gamma[j] + bias[j] + h) >> sh;
    } else {
        for (Py_ssize_t j = 0; j < n; j++) c[j] = (((c[j] * rr + zh) >> zs) * gamma[j] + h) >> sh;
    }
    store_row(a->out, a->out_size, r, n, c, a->lo, a->hi);
    return 0;
}

/* rows [r0, r1) of one kind; returns 1 when a row was refused. scratch: 2 n int64. */
typedef int (*RowsFn)(const Rows *, Py_ssize_t, Py_ssize_t, int64_t *);

#define ROWS_FN(NAME, BODY, ISA, ATTR)                                                                        \
    ATTR static int NAME(const Rows *a, Py_ssize_t r0, Py_ssize_t r1, int64_t *scratch) {                     \
        for (Py_ssize_t r = r0; r < r1; r++)                                                                  \
            if (BODY(a, r, scratch, ISA)) return 1;                                                           \
        return 0;                                                                                             \
    }
ROWS_FN(softmax_generic, softmax_row, ISA_GENERIC, )
ROWS_FN(norm_generic, norm_row, ISA_GENERIC, )
#if HAVE_X86
/* x86-64-v3 and v4's vector features, named one by one (older GCC and Clang know no "arch=x86-64-v4"). */
#define TARGET_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt")))
#define TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512cd,avx2,fma,bmi,bmi2,popcnt")))
ROWS_FN(softmax_avx2, softmax_row, ISA_AVX2, TARGET_AVX2)
ROWS_FN(norm_avx2, norm_row, ISA_AVX2, TARGET_AVX2)
ROWS_FN(softmax_avx512, softmax_row, ISA_AVX512, TARGET_AVX512)
ROWS_FN(norm_avx512, norm_row, ISA_AVX512, TARGET_AVX512)
static const RowsFn SOFTMAX_FNS[] = {softmax_generic, softmax_avx2, softmax_avx512};
static const RowsFn NORM_FNS[] = {norm_generic, norm_avx2, norm_avx512};
#else
static const RowsFn SOFTMAX_FNS[] = {softmax_generic};
static const RowsFn NORM_FNS[] = {norm_generic};
#endif

static int detect_isa(void) {
#if HAVE_X86
    __builtin_cpu_init();
    int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi") &&
             __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
    int v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512cd");
    if (v4) return ISA_AVX512;
    if (v3) return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

static int isa_choice = -1;

static int current_isa(void) {
    if (isa_choice < 0) isa_choice = detect_isa();
    return isa_choice;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Python entry points                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

/* A C-contiguous signed-integer buffer of ndim dimensions; itemsize 1, 2, 4 or 8, or 8 only when `only8`. */
static int get_buffer(PyObject *obj, Py_buffer *view, int ndim, const char *name, int writable, int only8) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return -1;
    const char *fmt = view->format ? view->format : "B";
    if (*fmt == '<' || *fmt == '=' || *fmt == '@') fmt++;
    int kind_ok = (*fmt == 'b' || *fmt == 'h' || *fmt == 'i' || *fmt == 'l' || *fmt == 'q') && fmt[1] == '\0';
    Py_ssize_t is = view->itemsize;
    int size_ok = only8 ? is == 8 : (is == 1 || is == 2 || is == 4 || is == 8);
    if (view->ndim != ndim || !kind_ok || !size_ok) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous %d-D signed %s array, got ndim %d format %s "
                     "itemsize %zd", name, ndim, only8 ? "int64" : "int8/16/32/64", view->ndim,
                     view->format ? view->format : "B", is);
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* The saturation bounds must contain 0 and fit the output's width. */
static int check_bounds(long long lo, long long hi, Py_ssize_t itemsize) {
    long long wmin = itemsize == 8 ? INT64_MIN : -(1LL << (8 * itemsize - 1));
    long long wmax = itemsize == 8 ? INT64_MAX : (1LL << (8 * itemsize - 1)) - 1;
    if (lo > hi || lo < wmin || hi > wmax || lo > 0 || hi < 0) {
        PyErr_Format(PyExc_ValueError, "saturation bounds [%lld, %lld] must contain 0 and fit the int%zd output",
                     lo, hi, itemsize * 8);
        return -1;
    }
    return 0;
}

/* Elements per thread below which the rows stay on the calling thread (a thread start costs ~50 us). */
#define MIN_PARALLEL_ELEMENTS (1 << 16)
#define MAX_THREADS 64

typedef struct {
    RowsFn fn;
    const Rows *a;
    Py_ssize_t r0, r1;
    int64_t *scratch;
    int bad;
} RowJob;

static void *row_job(void *arg) {
    RowJob *job = arg;
    job->bad = job->fn(job->a, job->r0, job->r1, job->scratch);
    return NULL;
}

/* Runs fn over all rows without the GIL, on at most `threads` threads; -1 with an exception set on failure. */
static int run_rows(RowsFn fn, const Rows *a, Py_ssize_t rows, int threads) {
    if (rows == 0) return 0;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((long long)threads > (long long)rows * a->n / MIN_PARALLEL_ELEMENTS)
        threads = (int)((long long)rows * a->n / MIN_PARALLEL_ELEMENTS);
    if (threads > rows) threads = (int)rows;
    if (threads < 1) threads = 1;
    RowJob jobs[MAX_THREADS];
    int64_t *scratch = malloc((size_t)a->n * 2 * sizeof(int64_t) * threads);
    if (!scratch) {
        PyErr_NoMemory();
        return -1;
    }
    for (int t = 0; t < threads; t++)
        jobs[t] = (RowJob){fn, a, rows * t / threads, rows * (t + 1) / threads, scratch + (size_t)a->n * 2 * t, 0};
    int bad = 0;
    Py_BEGIN_ALLOW_THREADS;
    pool_run(row_job, jobs, sizeof(RowJob), threads);
    for (int t = 0; t < threads; t++) bad |= jobs[t].bad;
    Py_END_ALLOW_THREADS;
    free(scratch);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "x has values outside the int32 range");
        return -1;
    }
    return 0;
}

PyDoc_STRVAR(softmax_doc,
             "softmax_rows(x, lens, table, f_in, f_out, lo, hi, out, threads=1)\n--\n\n"
             "intmath_softmax.softmax over rows, exactly. x: int8/16/32/64 [R, n] (int32 range), lens: int64 [R]\n"
             "valid lengths in [1, n], table: int64 [(64 << f_in) + 1] exp_neg_q30 table or None (computed here),\n"
             "0 <= f_in <= 24, 0 <= f_out <= 30, out: int8/16/32/64 [R, n] written saturated to [lo, hi].");

static PyObject *softmax_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *lo_obj, *to, *oo;
    int f_in, f_out;
    long long lo, hi;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "OOOiiLLO|i", &xo, &lo_obj, &to, &f_in, &f_out, &lo, &hi, &oo, &threads)) return NULL;
    if (f_in < 0 || f_in > 24 || f_out < 0 || f_out > 30) {
        PyErr_Format(PyExc_ValueError, "f_in=%d must be in [0, 24] and f_out=%d in [0, 30]", f_in, f_out);
        return NULL;
    }
    Py_buffer x, lens, out, tab;
    int have_tab = to != Py_None, ok = 0;
    if (get_buffer(xo, &x, 2, "x", 0, 0) < 0) return NULL;
    if (get_buffer(lo_obj, &lens, 1, "lens", 0, 1) < 0) goto fail_x;
    if (get_buffer(oo, &out, 2, "out", 1, 0) < 0) goto fail_lens;
    if (have_tab && get_buffer(to, &tab, 1, "table", 0, 1) < 0) goto fail_out;
    Py_ssize_t rows = x.shape[0], n = x.shape[1];
    if (out.shape[0] != rows || out.shape[1] != n || lens.shape[0] != rows || n < 1) {
        PyErr_Format(PyExc_ValueError, "shapes x (%zd, %zd), lens (%zd,), out (%zd, %zd) do not match", rows, n,
                     lens.shape[0], out.shape[0], out.shape[1]);
        goto fail_tab;
    }
    if (have_tab && tab.shape[0] != ((Py_ssize_t)EXP_CLAMP << f_in) + 1) {
        PyErr_Format(PyExc_ValueError, "table has %zd entries, expected (64 << %d) + 1", tab.shape[0], f_in);
        goto fail_tab;
    }
    if (check_bounds(lo, hi, out.itemsize) < 0) goto fail_tab;
    const int64_t *lv = (const int64_t *)lens.buf;
    for (Py_ssize_t r = 0; r < rows; r++)
        if (lv[r] < 1 || lv[r] > n) {
            PyErr_Format(PyExc_ValueError, "lens[%zd] = %lld outside [1, %zd]", r, (long long)lv[r], n);
            goto fail_tab;
        }
    Rows a = {x.buf, x.itemsize, out.buf, out.itemsize, n, lo, hi, lv, have_tab ? (const int64_t *)tab.buf : NULL,
              f_in, f_out, NULL, NULL, 0, 0, 0};
    ok = run_rows(SOFTMAX_FNS[current_isa()], &a, rows, threads) == 0;
fail_tab:
    if (have_tab) PyBuffer_Release(&tab);
fail_out:
    PyBuffer_Release(&out);
fail_lens:
    PyBuffer_Release(&lens);
fail_x:
    PyBuffer_Release(&x);
    if (!ok) return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(norm_doc,
             "norm_rows(x, gamma, bias, centred, eps_num, shift, lo, hi, out, threads=1)\n--\n\n"
             "intmath_norm.layernorm (centred true, bias = beta << sb) or rmsnorm (centred false, bias None) over\n"
             "rows, exactly: steps 1-5 of intmath_norm's docstring. x: int8/16/32/64 [R, n] (int32 range, 1 <= n <= "
             "2^16),\ngamma: int64 [n] (int32 range), bias: int64 [n] (|bias| < 2^60) or None, 0 <= eps_num < 2^61\n"
             "(eps_lsb2 * n^3 or * n), shift = 20 + f_gamma - f_out in [0, 50], out: int8/16/32/64 [R, n] "
             "saturated\nto [lo, hi].");

static PyObject *norm_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *go, *bo, *oo;
    int centred, shift;
    long long eps_num, lo, hi;
    int threads = 1;
    if (!PyArg_ParseTuple(args, "OOOpLiLLO|i", &xo, &go, &bo, &centred, &eps_num, &shift, &lo, &hi, &oo, &threads))
        return NULL;
    if (eps_num < 0 || eps_num >= (1LL << 61) || shift < 0 || shift > 50) {
        PyErr_Format(PyExc_ValueError, "eps_num=%lld must be in [0, 2^61) and shift=%d in [0, 50]", eps_num, shift);
        return NULL;
    }
    Py_buffer x, g, b, out;
    int have_b = bo != Py_None, ok = 0;
    if (get_buffer(xo, &x, 2, "x", 0, 0) < 0) return NULL;
    if (get_buffer(go, &g, 1, "gamma", 0, 1) < 0) goto fail_x;
    if (have_b && get_buffer(bo, &b, 1, "bias", 0, 1) < 0) goto fail_g;
    if (get_buffer(oo, &out, 2, "out", 1, 0) < 0) goto fail_b;
    Py_ssize_t rows = x.shape[0], n = x.shape[1];
    if (out.shape[0] != rows || out.shape[1] != n || g.shape[0] != n || (have_b && b.shape[0] != n) || n < 1 ||
        n > (1 << 16)) {
        PyErr_Format(PyExc_ValueError, "shapes x (%zd, %zd), gamma (%zd,), out (%zd, %zd) do not match (or n "
                     "outside [1, 2^16])", rows, n, g.shape[0], out.shape[0], out.shape[1]);
        goto fail_out;
    }
    if (check_bounds(lo, hi, out.itemsize) < 0) goto fail_out;
    const int64_t *gv = (const int64_t *)g.buf, *bv = have_b ? (const int64_t *)b.buf : NULL;
    for (Py_ssize_t j = 0; j < n; j++)
        if (gv[j] < -(1LL << 31) || gv[j] >= (1LL << 31) || (bv && (bv[j] <= -(1LL << 60) || bv[j] >= (1LL << 60)))) {
            PyErr_Format(PyExc_ValueError, "gamma[%zd] outside int32 or bias[%zd] outside (-2^60, 2^60)", j, j);
            goto fail_out;
        }
    Rows a = {x.buf, x.itemsize, out.buf, out.itemsize, n, lo, hi, NULL, NULL, 0, 0, gv, bv, centred, shift,
              eps_num};
    ok = run_rows(NORM_FNS[current_isa()], &a, rows, threads) == 0;
fail_out:
    PyBuffer_Release(&out);
fail_b:
    if (have_b) PyBuffer_Release(&b);
fail_g:
    PyBuffer_Release(&g);
fail_x:
    PyBuffer_Release(&x);
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
    return isa_list(ISA_NAMES, ISA_GENERIC, detect_isa());
}

static PyObject *set_isa(PyObject *self, PyObject *args) {
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    int i = isa_index(name, ISA_NAMES, ISA_GENERIC, ISA_AVX512, detect_isa(), "generic, avx2 or avx512");
    if (i < 0) return NULL;
    isa_choice = i;
    Py_RETURN_NONE;
}

static PyObject *constants(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return Py_BuildValue("{s:L,s:L,s:i,s:(LLLLLL),s:i,s:i}", "ONE_Q30", (long long)ONE_Q30, "LOG2E_Q30",
                         (long long)LOG2E_Q30, "EXP_CLAMP", EXP_CLAMP, "EXP2_POLY_Q30", (long long)C0,
                         (long long)C1, (long long)C2, (long long)C3, (long long)C4, (long long)C5, "Z_FRAC",
                         Z_FRAC, "NORM_BITS", NORM_BITS);
}

static PyMethodDef methods[] = {
    {"softmax_rows", softmax_rows, METH_VARARGS, softmax_doc},
    {"norm_rows", norm_rows, METH_VARARGS, norm_doc},
    {"isa", isa, METH_NOARGS, "isa()\n--\n\nThe instruction set the rows use: avx512, avx2 or generic."},
    {"isas", isas, METH_NOARGS, "isas()\n--\n\nEvery instruction set this CPU runs (tests run each)."},
    {"set_isa", set_isa, METH_VARARGS,
     "set_isa(name)\n--\n\nUse 'generic', 'avx2' or 'avx512' (at most what the CPU runs); results never depend on it."},
    {"constants", constants, METH_NOARGS,
     "constants()\n--\n\nThe intmath constants compiled in (tests compare them with the Python ones)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowops",
                                    "Exact integer SOFTMAX / LAYERNORM / RMSNORM rows (intmath's integers).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rowops(void) {
    pool_init();
    return PyModule_Create(&module);
}
