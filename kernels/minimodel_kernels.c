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
 * Register blocking: 4 rows of X by 8 outputs, eight accumulator vectors. */
EXPORT void mm_linear(const float *X, const float *P, const float *b, float *Y, int M, int K, int N,
                      int relu) {
    for (int n0 = 0; n0 < N; n0 += 8) {
        const float *panel = P + (size_t)(n0 / 8) * 8 * K;
        int m = 0;
        for (; m + 4 <= M; m += 4) {
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
        for (; m < M; m++) {
            const float *x = X + (size_t)m * K;
            f4 lo = splat(0), hi = lo, lo2 = lo, hi2 = lo;
            int k = 0;
            for (; k + 2 <= K; k += 2) {  /* two independent chains hide add latency */
                f4 v = splat(x[k]), u = splat(x[k + 1]);
                lo += v * LOAD(panel + (size_t)k * 8);
                hi += v * LOAD(panel + (size_t)k * 8 + 4);
                lo2 += u * LOAD(panel + (size_t)(k + 1) * 8);
                hi2 += u * LOAD(panel + (size_t)(k + 1) * 8 + 4);
            }
            for (; k < K; k++) {
                f4 v = splat(x[k]);
                lo += v * LOAD(panel + (size_t)k * 8);
                hi += v * LOAD(panel + (size_t)k * 8 + 4);
            }
            store_row(Y + (size_t)m * N, n0, N, b, lo + lo2, hi + hi2, relu);
        }
    }
}

/* Cosine similarity with float64 sums: every float32 product and any sum of up to
 * 2**24 of them fits a double, so nothing overflows or underflows. 0 if a norm is 0. */
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
    double r = ab / (__builtin_sqrt(aa) * __builtin_sqrt(bb));
    return r > 1.0 ? 1.0 : (r < -1.0 ? -1.0 : r);
}

static inline float dot(const float *x, const float *q, int dim) {
    f4 s0 = splat(0), s1 = s0;
    int d = 0;
    for (; d + 8 <= dim; d += 8) {
        s0 += LOAD(x + d) * LOAD(q + d);
        s1 += LOAD(x + d + 4) * LOAD(q + d + 4);
    }
    float s = hsum(s0 + s1);
    for (; d < dim; d++) s += x[d] * q[d];
    return s;
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
    for (; i < n; i++) scores[i] = dot(rows + (size_t)i * dim, q, dim);
}

/* The k best of scores[0..n) (k <= n), best first; ties go to the lower index.
 * Insertion into a sorted list of k: O(n) for the small k of a search. */
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
