/* Compute kernels behind minimodel's numpy code, like BLAS behind numpy.
 *
 * Written with GCC/Clang vector extensions so the same source builds
 *   - for the browser: clang --target=wasm32 -msimd128 as an Emscripten side module
 *     (WebAssembly SIMD), which Pyodide loads from the minimodel wheel and Python calls
 *     through ctypes;
 *   - natively (gcc/clang -shared -fPIC), so the CPython tests check these very
 *     functions against numpy.
 * No libc, no globals, no allocation: Python owns every buffer and every check
 * (shapes, finiteness); these functions trust their arguments.
 */

#include <stddef.h>

typedef float f4 __attribute__((vector_size(16)));
/* Same vector, but loads/stores through it may be unaligned. */
typedef float f4u __attribute__((vector_size(16), aligned(4)));

#define EXPORT __attribute__((visibility("default")))
#define LOAD(p) (*(const f4u *)(p))
#define STORE(p, v) (*(f4u *)(p) = (v))

static inline f4 splat(float x) { return (f4){x, x, x, x}; }
static inline float hsum(f4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }

/* Size in floats of W packed by mm_pack for K inputs and N outputs. */
EXPORT size_t mm_packed_size(int K, int N) { return (size_t)((N + 7) / 8) * 8 * (size_t)K; }

/* Pack row-major W (N x K; row n = weights of output n) into panels of 8 outputs:
 * P[panel][k][0..8) = W[panel*8 + j][k], zero-padded past N. The GEMM below then
 * reads two contiguous vectors per k. */
EXPORT void mm_pack(const float *W, float *P, int K, int N) {
    for (int n0 = 0; n0 < N; n0 += 8) {
        float *panel = P + (size_t)(n0 / 8) * 8 * K;
        for (int k = 0; k < K; k++) {
            for (int j = 0; j < 8; j++) {
                int n = n0 + j;
                panel[(size_t)k * 8 + j] = n < N ? W[(size_t)n * K + k] : 0.0f;
            }
        }
    }
}

static inline void store_row(float *y, int n0, int N, const float *b, f4 lo, f4 hi, int relu) {
    float tmp[8];
    STORE(tmp, lo);
    STORE(tmp + 4, hi);
    int count = N - n0 < 8 ? N - n0 : 8;
    for (int j = 0; j < count; j++) {
        float v = tmp[j] + b[n0 + j];
        if (v - v != 0.0f)
            v = v - v; /* an overflow (+-inf) becomes NaN, so ReLU cannot hide it as 0 */
        else if (relu && v < 0.0f)
            v = 0.0f;
        y[n0 + j] = v;
    }
}

/* Y (M x N) = X (M x K) @ W.T + b, then ReLU if relu != 0. W given packed by mm_pack.
 * A value that overflowed float32 comes out as NaN (never clamped to 0 by the ReLU), so
 * the caller's finiteness check sees it.
 *
 * Why a row's result never depends on its batch: every output Y[m][n] is computed with the
 * same float32 operations in the same order wherever row m sits and whatever M is: one
 * accumulator lane, acc = 0; for k = 0..K-1: acc += X[m][k] * W[n][k]; then acc + b[n].
 * The loops below only choose how many rows and outputs share the work (4 rows x 8
 * outputs, or 1 row x 16 outputs for the rows left over); they never split or reorder a
 * sum, so predict(x) equals every row of predictBatch bit for bit (tested in CPython and
 * in the browser). */
EXPORT void mm_linear(const float *X, const float *P, const float *b, float *Y, int M, int K, int N,
                      int relu) {
    int full = M - M % 4;
    for (int n0 = 0; n0 < N; n0 += 8) {
        const float *panel = P + (size_t)(n0 / 8) * 8 * K;
        for (int m = 0; m < full; m += 4) {
            const float *x0 = X + (size_t)m * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
            f4 a0 = splat(0), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
            for (int k = 0; k < K; k++) {
                f4 wl = LOAD(panel + (size_t)k * 8), wh = LOAD(panel + (size_t)k * 8 + 4);
                f4 v0 = splat(x0[k]), v1 = splat(x1[k]), v2 = splat(x2[k]), v3 = splat(x3[k]);
                a0 += v0 * wl; a1 += v0 * wh;
                b0 += v1 * wl; b1 += v1 * wh;
                c0 += v2 * wl; c1 += v2 * wh;
                d0 += v3 * wl; d1 += v3 * wh;
            }
            store_row(Y + (size_t)m * N, n0, N, b, a0, a1, relu);
            store_row(Y + (size_t)(m + 1) * N, n0, N, b, b0, b1, relu);
            store_row(Y + (size_t)(m + 2) * N, n0, N, b, c0, c1, relu);
            store_row(Y + (size_t)(m + 3) * N, n0, N, b, d0, d1, relu);
        }
    }
    /* The rows left over (all of them when M < 4, as for predict): two panels at a time,
     * so four independent accumulator chains hide the add latency, each chain still the
     * plain k-ordered sum of its output. */
    for (int m = full; m < M; m++) {
        const float *x = X + (size_t)m * K;
        int n0 = 0;
        for (; n0 + 8 < N; n0 += 16) {
            const float *p = P + (size_t)(n0 / 8) * 8 * K, *q = p + (size_t)8 * K;
            f4 a0 = splat(0), a1 = a0, b0 = a0, b1 = a0;
            for (int k = 0; k < K; k++) {
                f4 v = splat(x[k]);
                a0 += v * LOAD(p + (size_t)k * 8);
                a1 += v * LOAD(p + (size_t)k * 8 + 4);
                b0 += v * LOAD(q + (size_t)k * 8);
                b1 += v * LOAD(q + (size_t)k * 8 + 4);
            }
            store_row(Y + (size_t)m * N, n0, N, b, a0, a1, relu);
            store_row(Y + (size_t)m * N, n0 + 8, N, b, b0, b1, relu);
        }
        if (n0 < N) {
            const float *p = P + (size_t)(n0 / 8) * 8 * K;
            f4 a0 = splat(0), a1 = a0;
            for (int k = 0; k < K; k++) {
                f4 v = splat(x[k]);
                a0 += v * LOAD(p + (size_t)k * 8);
                a1 += v * LOAD(p + (size_t)k * 8 + 4);
            }
            store_row(Y + (size_t)m * N, n0, N, b, a0, a1, relu);
        }
    }
}

/* Cosine similarity with float64 sums: every float32 product and any sum of up to
 * 2**24 of them fits a double, so nothing overflows or underflows. 0 if a norm is 0.
 * The division is by sqrt(aa * bb), not sqrt(aa) * sqrt(bb): for b = a (or -a, or a
 * scaled by a power of two) ab and aa * bb are exactly ab and ab**2, and sqrt of a
 * correctly rounded square is the number itself, so cos(a, a) is exactly 1 (with two
 * square roots it could be 1 - 2**-52). aa * bb stays inside float64's range: from
 * (2**-149)**4 = 2**-596 up to (2**128 * 2**128 * 2**24)**2 = 2**560. */
EXPORT double mm_cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0, ab2 = 0, aa2 = 0, bb2 = 0;
    int i = 0;
    for (; i + 2 <= n; i += 2) {
        double x = a[i], y = b[i], u = a[i + 1], v = b[i + 1];
        ab += x * y; aa += x * x; bb += y * y;
        ab2 += u * v; aa2 += u * u; bb2 += v * v;
    }
    for (; i < n; i++) {
        double x = a[i], y = b[i];
        ab += x * y; aa += x * x; bb += y * y;
    }
    ab += ab2; aa += aa2; bb += bb2;
    if (aa == 0.0 || bb == 0.0) return 0.0;
    /* sqrt via the builtin, which lowers to f64.sqrt (wasm) or sqrtsd (native): no libm. */
    double r = ab / __builtin_sqrt(aa * bb);
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

/* One row's score with exactly the arithmetic of the four-row loop below, so a row's
 * score never depends on where it sits (equal rows tie exactly). */
static inline float row_score(const float *x, const float *q, int dim) {
    f4 s = splat(0);
    int d = 0;
    for (; d + 4 <= dim; d += 4) s += LOAD(x + d) * LOAD(q + d);
    float t = hsum(s);
    for (; d < dim; d++) t += x[d] * q[d];
    return t;
}

/* scores[i] = rows[i, :] . q for n rows of dim floats. Four rows at a time share q. */
EXPORT void mm_scores(const float *rows, const float *q, float *scores, int n, int dim) {
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const float *r0 = rows + (size_t)i * dim, *r1 = r0 + dim, *r2 = r1 + dim, *r3 = r2 + dim;
        f4 s0 = splat(0), s1 = s0, s2 = s0, s3 = s0;
        int d = 0;
        for (; d + 4 <= dim; d += 4) {
            f4 v = LOAD(q + d);
            s0 += LOAD(r0 + d) * v;
            s1 += LOAD(r1 + d) * v;
            s2 += LOAD(r2 + d) * v;
            s3 += LOAD(r3 + d) * v;
        }
        float t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
        for (; d < dim; d++) {
            t0 += r0[d] * q[d]; t1 += r1[d] * q[d]; t2 += r2[d] * q[d]; t3 += r3[d] * q[d];
        }
        scores[i] = t0; scores[i + 1] = t1; scores[i + 2] = t2; scores[i + 3] = t3;
    }
    for (; i < n; i++) scores[i] = row_score(rows + (size_t)i * dim, q, dim);
}

typedef unsigned int u4 __attribute__((vector_size(16)));
typedef unsigned int u4u __attribute__((vector_size(16), aligned(2)));

/* Approximate scores from rows stored as bfloat16 (the high half of each float32), for
 * dim % 8 == 0: half the bytes of mm_scores to read, which is what a search waits on.
 * qp is the query with each block of 8 reordered as (0, 2, 4, 6, 1, 3, 5, 7), matching
 * the even and odd halves of each 32-bit word. Callers rescore the candidates exactly. */
EXPORT void mm_scores_bf16(const unsigned short *rows, const float *qp, float *scores, int n, int dim) {
    const u4 high = {0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u};
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const unsigned short *r0 = rows + (size_t)i * dim, *r1 = r0 + dim, *r2 = r1 + dim, *r3 = r2 + dim;
        f4 a0 = splat(0), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (int d = 0; d < dim; d += 8) {
            f4 qe = LOAD(qp + d), qo = LOAD(qp + d + 4);
            u4 v0 = *(const u4u *)(r0 + d), v1 = *(const u4u *)(r1 + d);
            u4 v2 = *(const u4u *)(r2 + d), v3 = *(const u4u *)(r3 + d);
            a0 += (f4)(v0 << 16) * qe; a1 += (f4)(v0 & high) * qo;
            b0 += (f4)(v1 << 16) * qe; b1 += (f4)(v1 & high) * qo;
            c0 += (f4)(v2 << 16) * qe; c1 += (f4)(v2 & high) * qo;
            d0 += (f4)(v3 << 16) * qe; d1 += (f4)(v3 & high) * qo;
        }
        scores[i] = hsum(a0 + a1); scores[i + 1] = hsum(b0 + b1);
        scores[i + 2] = hsum(c0 + c1); scores[i + 3] = hsum(d0 + d1);
    }
    for (; i < n; i++) {
        const unsigned short *r = rows + (size_t)i * dim;
        f4 a0 = splat(0), a1 = a0;
        for (int d = 0; d < dim; d += 8) {
            u4 v = *(const u4u *)(r + d);
            a0 += (f4)(v << 16) * LOAD(qp + d);
            a1 += (f4)(v & high) * LOAD(qp + d + 4);
        }
        scores[i] = hsum(a0 + a1);
    }
}

/* The k best of scores[0..n) (k <= n), best first; ties go to the lower index.
 * Insertion into a sorted list of k: O(n) for the small k of a search.
 * Why it is exactly a stable sort's first k: it only compares, never computes. A score
 * enters the full list only if strictly greater than the last kept (an equal, later
 * score loses to the earlier one), and moves up only past strictly smaller scores, so
 * equal scores stay in index order. Scores are never NaN (rows and query are finite). */
EXPORT void mm_topk(const float *scores, int n, int k, int *out_index, float *out_score) {
    int filled = 0;
    for (int i = 0; i < n; i++) {
        float s = scores[i];
        if (filled == k) {
            if (!(s > out_score[k - 1])) continue; /* equal: the earlier index stays */
        } else {
            filled++;
        }
        int j = filled - 1;
        while (j > 0 && out_score[j - 1] < s) {
            out_score[j] = out_score[j - 1];
            out_index[j] = out_index[j - 1];
            j--;
        }
        out_score[j] = s;
        out_index[j] = i;
    }
}
