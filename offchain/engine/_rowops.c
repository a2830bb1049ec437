/* Exact integer row kernels: SOFTMAX, LAYERNORM and RMSNORM over the last axis, bit for bit the integers of
 * offchain/engine/intmath_softmax.softmax and intmath_norm.layernorm / rmsnorm (their numpy code is the
 * definition; tests/engine/test_rowops.py compares the two on every input class).
 *
 * Every step below is the same integer formula as the Python one, with the bounds the Python docstrings state
 * (so no intermediate leaves int64). C details that matter for exactness:
 *   - `>>` of a negative int64 is an arithmetic (floor) shift in GCC and Clang (implementation-defined in ISO C;
 *     GCC documents "signed >> acts on negative numbers by sign extension"), which is numpy's >> too. The static
 *     assert below refuses a compiler that does otherwise.
 *   - left shifts are only applied to non-negative values (a left shift of a negative is undefined); a negative
 *     value is scaled by multiplying with 2^s instead.
 *   - divisions are of non-negative numerators by positive divisors, where C's truncation is the floor.
 *
 * Input rows may be int8/int16/int32/int64 (each row is widened into an int64 scratch row); outputs are written
 * saturated to [lo, hi] straight into an int8/int16/int32/int64 array. The row loops run without the GIL, on the
 * calling thread. The hot loops are compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and the baseline, chosen at
 * load time (target_clones); the integers never depend on the clone.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Static_assert((-3LL >> 1) == -2LL, "signed >> must be an arithmetic (floor) shift");

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__linux__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

/* intmath_act constants (checked against the Python ones by tests/engine/test_rowops.py through constants()). */
#define ONE_Q30 (1LL << 30)
#define LOG2E_Q30 1549082005LL
#define EXP_CLAMP 64
static const int64_t EXP2_POLY_Q30[6] = {-744261020, 257939319, -59584401, 10288824, -1371676, 118043};
#define C0 (-744261020LL)
#define C1 257939319LL
#define C2 (-59584401LL)
#define C3 10288824LL
#define C4 (-1371676LL)
#define C5 118043LL
/* intmath_norm constants. */
#define Z_FRAC 20
#define NORM_BITS 22

/* floor(v / 2^30) for |v| < 2^61: the value fits int32, and its two's complement is bits 30..61 of v's (the same
 * integer as v >> 30; written so that AVX2, which has no 64-bit arithmetic shift, vectorises it too). */
static inline int64_t floor_q30(int64_t v) { return (int64_t)(int32_t)(uint32_t)((uint64_t)v >> 30); }

/* exp2_frac_q30(r) for 0 <= r < 2^30: acc = r*C5, then acc = C[k] + round(acc*r / 2^30) (k = 4..0: each partial
 * |acc| < 2^30, so acc*r < 2^60), result 2^30 + round(acc*r / 2^30), in (2^29, 2^30]. The products are of two
 * int32-range values. */
static inline int64_t exp2_frac_q30(int64_t r) {
    int32_t r32 = (int32_t)r;
    int64_t acc = (int64_t)r32 * C5;
    acc = C4 + floor_q30(acc + (1LL << 29));
    acc = C3 + floor_q30((int64_t)(int32_t)acc * r32 + (1LL << 29));
    acc = C2 + floor_q30((int64_t)(int32_t)acc * r32 + (1LL << 29));
    acc = C1 + floor_q30((int64_t)(int32_t)acc * r32 + (1LL << 29));
    acc = C0 + floor_q30((int64_t)(int32_t)acc * r32 + (1LL << 29));
    return ONE_Q30 + floor_q30((int64_t)(int32_t)acc * r32 + (1LL << 29));
}

/* exp_neg_q30(w, f_in) for 0 <= w: w = min(w, top = 64 << f_in) <= 2^30; u = rshift_round(w * LOG2E_Q30, f_in)
 * (< 2^61, non-negative: a logical shift); z = u >> 30, p = exp2_frac_q30(u mod 2^30); result
 * rshift_round(p, min(z, 62)) = floor((2p >> s + 1) / 2) (p <= 2^30, so 2p >> s is exact and s = 62 gives 0). */
static inline int64_t exp_neg_q30(int64_t w, int f_in, int64_t top, uint64_t half) {
    if (w > top) w = top;
    uint64_t u = ((uint64_t)((int64_t)(int32_t)w * LOG2E_Q30) + half) >> f_in;
    int64_t z = (int64_t)(u >> 30);
    int64_t p = exp2_frac_q30((int64_t)(u & (uint64_t)(ONE_Q30 - 1)));
    int64_t s = z < 62 ? z : 62;
    return (int64_t)((((uint64_t)p << 1) >> s) + 1) >> 1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* buffers                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------ */

/* A C-contiguous signed-integer buffer of ndim dimensions; itemsize 1, 2, 4 or 8 unless `only8`. */
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

static inline void load_row(const void *base, Py_ssize_t itemsize, Py_ssize_t row, Py_ssize_t n, int64_t *dst) {
    switch (itemsize) {
    case 1: { const int8_t *s = (const int8_t *)base + row * n; for (Py_ssize_t j = 0; j < n; j++) dst[j] = s[j]; break; }
    case 2: { const int16_t *s = (const int16_t *)base + row * n; for (Py_ssize_t j = 0; j < n; j++) dst[j] = s[j]; break; }
    case 4: { const int32_t *s = (const int32_t *)base + row * n; for (Py_ssize_t j = 0; j < n; j++) dst[j] = s[j]; break; }
    default: memcpy(dst, (const int64_t *)base + row * n, (size_t)n * 8);
    }
}

/* out row = clamp(src, lo, hi) in the output's width. */
static inline void store_row(void *base, Py_ssize_t itemsize, Py_ssize_t row, Py_ssize_t n, const int64_t *src,
                             int64_t lo, int64_t hi) {
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

/* The saturation bounds must fit the output's width. */
static int check_bounds(int64_t lo, int64_t hi, Py_ssize_t itemsize) {
    int64_t wmin = itemsize == 8 ? INT64_MIN : -(1LL << (8 * itemsize - 1));
    int64_t wmax = itemsize == 8 ? INT64_MAX : (1LL << (8 * itemsize - 1)) - 1;
    if (lo > hi || lo < wmin || hi > wmax || lo > 0 || hi < 0) {
        PyErr_Format(PyExc_ValueError, "saturation bounds [%lld, %lld] must contain 0 and fit the int%zd output",
                     (long long)lo, (long long)hi, itemsize * 8);
        return -1;
    }
    return 0;
}

static inline int bit_length(uint64_t v) { return v ? 64 - __builtin_clzll(v) : 0; }

/* Floor square root of 0 <= v < 2^62 (unique, so any exact method gives intmath_core.isqrt's integer): the double
 * estimate is within 1 of it, and the two integer checks make it exact ((s+1)^2 <= 2^62 + 2^32 fits uint64). */
static inline int64_t isqrt_exact(int64_t v) {
    uint64_t x = (uint64_t)v;
    uint64_t s = (uint64_t)sqrt((double)x);
    while (s * s > x) s--;
    while ((s + 1) * (s + 1) <= x) s++;
    return (int64_t)s;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* softmax                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------ */

/* e[j] = exp_neg_q30(m - x[j]) for j < len (m - x[j] in [0, 2^32)); returns their sum (<= 2^16 * 2^30). */
CLONES static int64_t softmax_exps(const int64_t *x, int64_t *e, Py_ssize_t len, int64_t m, int f_in,
                                   const int64_t *table) {
    const int64_t top = (int64_t)EXP_CLAMP << f_in;
    int64_t s = 0;
    if (table) {
        for (Py_ssize_t j = 0; j < len; j++) {
            int64_t d = m - x[j];
            e[j] = table[d < top ? d : top];
            s += e[j];
        }
    } else {
        const uint64_t half = f_in > 0 ? (uint64_t)1 << (f_in - 1) : 0;
        for (Py_ssize_t j = 0; j < len; j++) {
            e[j] = exp_neg_q30(m - x[j], f_in, top, half);
            s += e[j];
        }
    }
    return s;
}

/* q[j] = div_round(e[j] << f_out, S) = floor((2 (e[j] << f_out) + S) / (2S)) for j < len, 0 beyond. All terms are
 * non-negative: N = 2 (e << f_out) + S < 2^62, D = 2S in [2^31, 2^47], q <= 2^31. The double quotient N * (1/D)
 * has relative error < 2^-50, i.e. < 2^-19 absolute, so its truncation is q - 1, q or q + 1; the exact remainder
 * N - q0 D (|.| < 2^63) fixes it. */
CLONES static void softmax_divide(int64_t *e, Py_ssize_t len, Py_ssize_t n, int64_t s, int f_out) {
    const int64_t d = 2 * s;
    const double inv = 1.0 / (double)d;
    for (Py_ssize_t j = 0; j < len; j++) {
        int64_t num = 2 * (e[j] << f_out) + s;
        int64_t q = (int64_t)((double)num * inv);
        int64_t rem = num - q * d;
        q -= rem < 0;
        q += rem >= d;
        e[j] = q;
    }
    for (Py_ssize_t j = len; j < n; j++) e[j] = 0;
}

PyDoc_STRVAR(softmax_doc,
             "softmax_rows(x, lens, table, f_in, f_out, lo, hi, out)\n--\n\n"
             "intmath_softmax.softmax over rows, exactly. x: int8/16/32/64 [R, n] (int32 range), lens: int64 [R]\n"
             "valid lengths in [1, n], table: int64 [(64 << f_in) + 1] exp_neg_q30 table or None (computed here),\n"
             "0 <= f_in <= 24, 0 <= f_out <= 30, out: int8/16/32/64 [R, n] written saturated to [lo, hi].");

static PyObject *softmax_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *lo_obj, *to, *oo;
    int f_in, f_out;
    long long lo, hi;
    if (!PyArg_ParseTuple(args, "OOOiiLLO", &xo, &lo_obj, &to, &f_in, &f_out, &lo, &hi, &oo)) return NULL;
    if (f_in < 0 || f_in > 24 || f_out < 0 || f_out > 30) {
        PyErr_Format(PyExc_ValueError, "f_in=%d must be in [0, 24] and f_out=%d in [0, 30]", f_in, f_out);
        return NULL;
    }
    Py_buffer x, lens, out, tab;
    int have_tab = to != Py_None;
    if (get_buffer(xo, &x, 2, "x", 0, 0) < 0) return NULL;
    if (get_buffer(lo_obj, &lens, 1, "lens", 0, 1) < 0) goto fail_x;
    if (get_buffer(oo, &out, 2, "out", 1, 0) < 0) goto fail_lens;
    if (have_tab && get_buffer(to, &tab, 1, "table", 0, 1) < 0) goto fail_out;
    Py_ssize_t rows = x.shape[0], n = x.shape[1];
    if (out.shape[0] != rows || out.shape[1] != n || lens.shape[0] != rows) {
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
    if (rows > 0 && n > 0) {
        int64_t *xs = malloc((size_t)n * 2 * sizeof(int64_t));
        if (!xs) {
            PyErr_NoMemory();
            goto fail_tab;
        }
        int64_t *e = xs + n;
        const int64_t *table = have_tab ? (const int64_t *)tab.buf : NULL;
        const int64_t xmin = -(1LL << 31), xmax = (1LL << 31) - 1;
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS;
        for (Py_ssize_t r = 0; r < rows && !bad; r++) {
            load_row(x.buf, x.itemsize, r, n, xs);
            Py_ssize_t len = (Py_ssize_t)lv[r];
            int64_t m = xs[0], mn = xs[0];
            for (Py_ssize_t j = 1; j < len; j++) {
                m = xs[j] > m ? xs[j] : m;
                mn = xs[j] < mn ? xs[j] : mn;
            }
            if (mn < xmin || m > xmax) { /* the caller checks; refuse rather than leave the bounds */
                bad = 1;
                break;
            }
            int64_t s = softmax_exps(xs, e, len, m, f_in, table);
            softmax_divide(e, len, n, s, f_out);
            store_row(out.buf, out.itemsize, r, n, e, lo, hi);
        }
        Py_END_ALLOW_THREADS;
        free(xs);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "x has values outside the int32 range");
            goto fail_tab;
        }
    }
    if (have_tab) PyBuffer_Release(&tab);
    PyBuffer_Release(&out);
    PyBuffer_Release(&lens);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
fail_tab:
    if (have_tab) PyBuffer_Release(&tab);
fail_out:
    PyBuffer_Release(&out);
fail_lens:
    PyBuffer_Release(&lens);
fail_x:
    PyBuffer_Release(&x);
    return NULL;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* LayerNorm / RMSNorm                                                                                          */
/* ------------------------------------------------------------------------------------------------------------ */

/* c[j] = n x[j] - sum(x) (centred) or x[j]; returns max |c| (|c| < 2^49). */
CLONES static int64_t norm_centre(int64_t *c, Py_ssize_t n, int centred) {
    int64_t m = 0;
    if (centred) {
        int64_t sum = 0;
        for (Py_ssize_t j = 0; j < n; j++) sum += c[j];
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t v = (int64_t)n * c[j] - sum;
            c[j] = v;
            int64_t a = v < 0 ? -v : v;
            m = a > m ? a : m;
        }
    } else {
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t a = c[j] < 0 ? -c[j] : c[j];
            m = a > m ? a : m;
        }
    }
    return m;
}

/* c'[j] = rshift_round(c[j], k) (|c'| <= 2^22) in place; returns sum c'^2 (<= 2^16 * 2^44). */
CLONES static int64_t norm_reduce(int64_t *c, Py_ssize_t n, int k) {
    int64_t u = 0;
    if (k > 0) {
        const int64_t half = 1LL << (k - 1);
        for (Py_ssize_t j = 0; j < n; j++) {
            int64_t v = (c[j] + half) >> k;
            c[j] = v;
            u += (int64_t)(int32_t)v * (int32_t)v;
        }
    } else {
        for (Py_ssize_t j = 0; j < n; j++) u += (int64_t)(int32_t)c[j] * (int32_t)c[j];
    }
    return u;
}

/* out[j] = rshift_round(z[j] * gamma[j] + bias[j], shift) with z[j] = rshift_round(c'[j] r, zs) (|c' r| <= 2^60,
 * |z| < 2^29, |z gamma + bias| < 2^61), or z = 0 when zero. */
CLONES static void norm_scale(int64_t *c, Py_ssize_t n, int64_t r, int zs, int zero, const int64_t *gamma,
                              const int64_t *bias, int shift) {
    const int64_t zhalf = 1LL << (zs - 1);
    const int64_t half = shift > 0 ? 1LL << (shift - 1) : 0;
    for (Py_ssize_t j = 0; j < n; j++) {
        int64_t z = zero ? 0 : (c[j] * r + zhalf) >> zs;
        int64_t acc = (int64_t)(int32_t)z * (int32_t)gamma[j] + (bias ? bias[j] : 0);
        c[j] = (acc + half) >> shift;
    }
}

PyDoc_STRVAR(norm_doc,
             "norm_rows(x, gamma, bias, centred, eps_num, shift, lo, hi, out)\n--\n\n"
             "intmath_norm.layernorm (centred=1, bias = beta << sb) or rmsnorm (centred=0, bias None) over rows,\n"
             "exactly: steps 1-5 of intmath_norm's docstring. x: int8/16/32/64 [R, n] (int32 range), gamma: int64 "
             "[n]\n(int32 range), bias: int64 [n] (|bias| < 2^60) or None, 0 <= eps_num < 2^61 (eps_lsb2 * n^3 or "
             "* n),\nshift = 20 + f_gamma - f_out in [0, 50], out: int8/16/32/64 [R, n] saturated to [lo, hi].");

static PyObject *norm_rows(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *xo, *go, *bo, *oo;
    int centred, shift;
    long long eps_num, lo, hi;
    if (!PyArg_ParseTuple(args, "OOOpLiLLO", &xo, &go, &bo, &centred, &eps_num, &shift, &lo, &hi, &oo)) return NULL;
    if (eps_num < 0 || eps_num >= (1LL << 61) || shift < 0 || shift > 50) {
        PyErr_Format(PyExc_ValueError, "eps_num=%lld must be in [0, 2^61) and shift=%d in [0, 50]", eps_num, shift);
        return NULL;
    }
    Py_buffer x, g, b, out;
    int have_b = bo != Py_None;
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
    if (rows > 0) {
        int64_t *c = malloc((size_t)n * sizeof(int64_t));
        if (!c) {
            PyErr_NoMemory();
            goto fail_out;
        }
        int bad = 0;
        Py_BEGIN_ALLOW_THREADS;
        for (Py_ssize_t r = 0; r < rows; r++) {
            load_row(x.buf, x.itemsize, r, n, c);
            if (x.itemsize == 8) {
                for (Py_ssize_t j = 0; j < n; j++) bad |= c[j] < -(1LL << 31) || c[j] >= (1LL << 31);
                if (bad) break;
            }
            /* steps 1-2: c, k = max(0, bit_length(max |c|) - 22), c' = rshift_round(c, k) */
            int64_t m = norm_centre(c, n, centred);
            int k = bit_length((uint64_t)m) - NORM_BITS;
            if (k < 0) k = 0;
            int64_t u = norm_reduce(c, n, k);
            /* step 3: U = sum c'^2 + rshift_round(eps_num, 2k) (< 2^62) */
            u += k > 0 ? (eps_num + (1LL << (2 * k - 1))) >> (2 * k) : eps_num;
            /* step 4: G = (62 - bit_length(U)) >> 1, s = isqrt((U << 2G) // n), r = div_round(2^60, s) */
            int64_t rr = 0;
            int gsh = 31;
            if (u > 0) {
                gsh = (62 - bit_length((uint64_t)u)) >> 1;
                int64_t s = isqrt_exact((int64_t)(((uint64_t)u << (2 * gsh)) / (uint64_t)n));
                rr = ((1LL << 61) + s) / (2 * s);
            }
            /* steps 4-5: z = rshift_round(c' r, 40 - G); out = rshift_round(z gamma + bias, shift) */
            norm_scale(c, n, rr, 60 - Z_FRAC - gsh, u == 0, gv, bv, shift);
            store_row(out.buf, out.itemsize, r, n, c, lo, hi);
        }
        Py_END_ALLOW_THREADS;
        free(c);
        if (bad) {
            PyErr_SetString(PyExc_ValueError, "x has values outside the int32 range");
            goto fail_out;
        }
    }
    PyBuffer_Release(&out);
    if (have_b) PyBuffer_Release(&b);
    PyBuffer_Release(&g);
    PyBuffer_Release(&x);
    Py_RETURN_NONE;
fail_out:
    PyBuffer_Release(&out);
fail_b:
    if (have_b) PyBuffer_Release(&b);
fail_g:
    PyBuffer_Release(&g);
fail_x:
    PyBuffer_Release(&x);
    return NULL;
}

static PyObject *constants(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return Py_BuildValue("{s:L,s:L,s:i,s:(LLLLLL),s:i,s:i}", "ONE_Q30", (long long)ONE_Q30, "LOG2E_Q30",
                         (long long)LOG2E_Q30, "EXP_CLAMP", EXP_CLAMP, "EXP2_POLY_Q30",
                         (long long)EXP2_POLY_Q30[0], (long long)EXP2_POLY_Q30[1], (long long)EXP2_POLY_Q30[2],
                         (long long)EXP2_POLY_Q30[3], (long long)EXP2_POLY_Q30[4], (long long)EXP2_POLY_Q30[5],
                         "Z_FRAC", Z_FRAC, "NORM_BITS", NORM_BITS);
}

static PyMethodDef methods[] = {
    {"softmax_rows", softmax_rows, METH_VARARGS, softmax_doc},
    {"norm_rows", norm_rows, METH_VARARGS, norm_doc},
    {"constants", constants, METH_NOARGS,
     "constants()\n--\n\nThe intmath constants compiled in (tests compare them with the Python ones)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowops",
                                    "Exact integer SOFTMAX / LAYERNORM / RMSNORM rows (intmath's integers).", -1,
                                    methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__rowops(void) { return PyModule_Create(&module); }
