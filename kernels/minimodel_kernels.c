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

/* acc += a * b, lane by lane. With relaxed SIMD (the kernels' second build, clang
 * -mrelaxed-simd) this is f32x4.relaxed_madd: a fused multiply-add where the machine has
 * one (one rounding instead of two), an unfused one elsewhere. Every accumulation below goes
 * through MADD in the same order whatever the batch, so a row's result stays independent
 * of its batch in both builds; the builds differ from each other only by that rounding. */
#if defined(__wasm_relaxed_simd__)
#define MADD(acc, a, b) ((acc) = __builtin_wasm_relaxed_madd_f32x4((a), (b), (acc)))
#else
#define MADD(acc, a, b) ((acc) += (a) * (b))
#endif
#define LOAD(p) (*(const f4u *)(p))
#define STORE(p, v) (*(f4u *)(p) = (v))

typedef int i4 __attribute__((vector_size(16)));

static inline i4 splat_i(int x) { return (i4){x, x, x, x}; }
static inline f4 splat(float x) { return (f4){x, x, x, x}; }
static inline float hsum(f4 v) { return (v[0] + v[1]) + (v[2] + v[3]); }
/* {hsum(a), hsum(b), hsum(c), hsum(d)}, each lane summed in hsum's order (so the same
 * bits), by a 4x4 transpose: 8 shuffles and 3 vector adds instead of 16 lane extracts and
 * 12 scalar adds. */
static inline f4 hsum4(f4 a, f4 b, f4 c, f4 d) {
    f4 ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5);
    f4 ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7), cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
    f4 lane0 = __builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5), lane1 = __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7);
    f4 lane2 = __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5), lane3 = __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7);
    return (lane0 + lane1) + (lane2 + lane3);
}
/* Lane-wise select by a comparison's mask (C has no vector ?:). */
static inline f4 select4(i4 mask, f4 a, f4 b) { return (f4)((mask & (i4)a) | (~mask & (i4)b)); }
static inline f4 vmax(f4 a, f4 b) { return select4((i4)(a > b), a, b); }
static inline f4 vmin(f4 a, f4 b) { return select4((i4)(a < b), a, b); }

/* e**x for each lane (Cephes expf: range reduction by ln 2 in two parts, a degree-5
 * polynomial; within 2 ulp of the exact value over [-87.3, 88.7]). Below -87.3 the result
 * is 0, above 88.7 it is clamped (callers pass x <= 0: softmax, erf). n = x / ln 2 is
 * rounded to nearest by adding 1.5 * 2**23 (Cephes takes floor(x / ln 2 + 0.5), which
 * differs only at halves and leaves r in the same [-ln 2 / 2, ln 2 / 2]): the float-to-int
 * conversion it replaces is a long instruction sequence in V8; GELU layers 5-7% faster. */
static inline f4 exp4(f4 x) {
    const f4 hi = splat(88.3762626647949f), lo = splat(-87.3365447504f);
    f4 clamped = vmin(vmax(x, lo), hi);
    const f4 magic = splat(12582912.0f); /* 1.5 * 2**23: adding it rounds to an integer */
    f4 big = clamped * splat(1.44269504088896341f) + magic;
    f4 fn = big - magic;
    i4 n = (i4)big - (i4)magic;
    f4 r = clamped - fn * splat(0.693359375f) - fn * splat(-2.12194440e-4f);
    f4 z = r * r;
    f4 y = splat(1.9875691500e-4f);
    y = y * r + splat(1.3981999507e-3f);
    y = y * r + splat(8.3334519073e-3f);
    y = y * r + splat(4.1665795894e-2f);
    y = y * r + splat(1.6666665459e-1f);
    y = y * r + splat(5.0000001201e-1f);
    y = y * z + r + splat(1.0f);
    f4 scale = (f4)((n + 127) << 23); /* 2**n, by its bits */
    f4 result = y * scale;
    return (f4)((i4)result & (i4)(x >= lo)); /* 0 below the range */
}

/* GELU with the exact erf form, 0.5 x (1 + erf(x / sqrt 2)), as BERT defines it. erf by
 * Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7): the GELU is within about 1e-7 |x| of
 * the exact one, below float32's own rounding for |x| < 1 and near it elsewhere. */
static inline f4 gelu4(f4 x) {
    f4 a = x * splat(0.70710678118654752f);
    f4 abs_a = (f4)((i4)a & splat_i(0x7FFFFFFF));
    f4 t = splat(1.0f) / (splat(1.0f) + splat(0.3275911f) * abs_a);
    f4 poly = splat(1.061405429f);
    poly = poly * t + splat(-1.453152027f);
    poly = poly * t + splat(1.421413741f);
    poly = poly * t + splat(-0.284496736f);
    poly = poly * t + splat(0.254829592f);
    poly = poly * t;
    f4 erf_abs = splat(1.0f) - poly * exp4(-(abs_a * abs_a));
    f4 erf = (f4)((i4)erf_abs | ((i4)a & splat_i((int)0x80000000u)));
    return splat(0.5f) * x * (splat(1.0f) + erf);
}

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

/* The activation applied after the bias: the `act` argument of mm_linear. */
enum { ACT_NONE = 0, ACT_RELU = 1, ACT_GELU = 2 };

/* y[n0..n0+8) = act(acc + b[n0..n0+8)), for the 8 sums of one row and one panel (lo, hi).
 * A full panel is added, checked and stored as two vectors; only a last, partial panel goes
 * through small arrays. (When every panel did, their copies compiled to memset/memcpy calls,
 * imported from Pyodide in the SIMD128 build, on every row of every panel: E2's products
 * were 5-12% slower in Chromium.) Both paths do the same float32 operations on each value,
 * so they give the same bits. */
static inline f4 finish4(f4 v, int act) {
    if (act == ACT_GELU) return gelu4(v);
    f4 d = v - v; /* an overflow (+-inf) becomes NaN, so ReLU cannot hide it as 0 */
    v = select4((i4)(d != splat(0)), d, v); /* NaN != 0 too: it stays NaN */
    if (act == ACT_RELU) v = select4((i4)(v < splat(0)), splat(0), v);
    return v;
}

static inline void store_row(float *y, int n0, int N, const float *b, f4 lo, f4 hi, int act) {
    if (N - n0 >= 8) {
        STORE(y + n0, finish4(lo + LOAD(b + n0), act));
        STORE(y + n0 + 4, finish4(hi + LOAD(b + n0 + 4), act));
        return;
    }
    const int count = N - n0;
    float acc[8], bias[8], out[8];
    STORE(acc, lo);
    STORE(acc + 4, hi);
    for (int j = 0; j < 8; j++) bias[j] = j < count ? b[n0 + j] : 0.0f;
    STORE(out, finish4(LOAD(acc) + LOAD(bias), act));
    STORE(out + 4, finish4(LOAD(acc + 4) + LOAD(bias + 4), act));
    for (int j = 0; j < count; j++) y[n0 + j] = out[j];
}

/* Y (M x N) = X (M x K) @ W.T + b, then the activation `act` (ACT_NONE, ACT_RELU or
 * ACT_GELU). W given packed by mm_pack.
 * A value that overflowed float32 comes out as NaN (never clamped to 0 by the ReLU), so
 * the caller's finiteness check sees it.
 *
 * Why a row's result never depends on its batch: every output Y[m][n] is computed with the
 * same float32 operations in the same order wherever row m sits and whatever M is: one
 * accumulator lane, acc = 0; for k = 0..K-1: acc += X[m][k] * W[n][k]; then acc + b[n].
 * The loops below only choose which rows are done together (chunks of rows that stay in
 * cache) and how many rows and outputs share the work (4 rows x 8 outputs; for the 1 or 2
 * rows left over, 16 outputs; for 3 left over, 8); they never split or reorder a sum, so
 * predict(x) equals every row of predictBatch bit for bit (tested in CPython and in the
 * browser). */

/* R (1 to 4) rows of X, from row m, against one panel of 8 outputs. Called with a constant
 * R, which the compiler unrolls into 2R accumulator chains. */
static inline __attribute__((always_inline)) void panel_rows(const float *X, const float *panel, const float *b,
                                                             float *Y, int m, int R, int K, int N, int n0, int act) {
    f4 lo[4], hi[4];
    const float *x[4];
    for (int r = 0; r < R; r++) {
        lo[r] = hi[r] = splat(0);
        x[r] = X + (size_t)(m + r) * K;
    }
    for (int k = 0; k < K; k++) {
        f4 wl = LOAD(panel + (size_t)k * 8), wh = LOAD(panel + (size_t)k * 8 + 4);
        for (int r = 0; r < R; r++) {
            f4 v = splat(x[r][k]);
            MADD(lo[r], v, wl);
            MADD(hi[r], v, wh);
        }
    }
    for (int r = 0; r < R; r++) store_row(Y + (size_t)(m + r) * N, n0, N, b, lo[r], hi[r], act);
}

/* R (1 or 2) rows against two panels p and q = p's next (16 outputs, from n0): 4R chains
 * where panel_rows would have 2R. A multiply-add takes 4 cycles and a core starts two per
 * cycle, so 2 or 4 chains leave it waiting: one query's 10 tokens (4 + 4 + 2 rows) ran
 * 4-20% faster through all of E1's shapes, measured in Chromium, same bits. */
static inline __attribute__((always_inline)) void panel_pair_rows(const float *X, const float *p, const float *b,
                                                                  float *Y, int m, int R, int K, int N, int n0,
                                                                  int act) {
    const float *q = p + (size_t)8 * K;
    f4 lo[2], hi[2], lo2[2], hi2[2];
    const float *x[2];
    for (int r = 0; r < R; r++) {
        lo[r] = hi[r] = lo2[r] = hi2[r] = splat(0);
        x[r] = X + (size_t)(m + r) * K;
    }
    for (int k = 0; k < K; k++) {
        f4 pl = LOAD(p + (size_t)k * 8), ph = LOAD(p + (size_t)k * 8 + 4);
        f4 ql = LOAD(q + (size_t)k * 8), qh = LOAD(q + (size_t)k * 8 + 4);
        for (int r = 0; r < R; r++) {
            f4 v = splat(x[r][k]);
            MADD(lo[r], v, pl);
            MADD(hi[r], v, ph);
            MADD(lo2[r], v, ql);
            MADD(hi2[r], v, qh);
        }
    }
    for (int r = 0; r < R; r++) {
        store_row(Y + (size_t)(m + r) * N, n0, N, b, lo[r], hi[r], act);
        store_row(Y + (size_t)(m + r) * N, n0 + 8, N, b, lo2[r], hi2[r], act);
    }
}

/* M rows in 4-row blocks, panel by panel; the rows left over go with each panel (or pair
 * of panels) while it is still in cache, so the weights are read from memory once per
 * call, however many rows there are. */
static void linear_rows(const float *X, const float *P, const float *b, float *Y, int M, int K, int N, int act) {
    const int full = M - M % 4, tail = M - full;
    int n0 = 0;
    if (tail == 1 || tail == 2) { /* predict's single row is this case too */
        for (; n0 + 8 < N; n0 += 16) {
            const float *p = P + (size_t)(n0 / 8) * 8 * K;
            for (int m = 0; m < full; m += 4) {
                panel_rows(X, p, b, Y, m, 4, K, N, n0, act);
                panel_rows(X, p + (size_t)8 * K, b, Y, m, 4, K, N, n0 + 8, act);
            }
            if (tail == 1) panel_pair_rows(X, p, b, Y, full, 1, K, N, n0, act);
            else panel_pair_rows(X, p, b, Y, full, 2, K, N, n0, act);
        }
    }
    for (; n0 < N; n0 += 8) { /* every panel, or the last one left by the pairs above */
        const float *panel = P + (size_t)(n0 / 8) * 8 * K;
        for (int m = 0; m < full; m += 4) panel_rows(X, panel, b, Y, m, 4, K, N, n0, act);
        switch (tail) {
            case 1: panel_rows(X, panel, b, Y, full, 1, K, N, n0, act); break;
            case 2: panel_rows(X, panel, b, Y, full, 2, K, N, n0, act); break;
            case 3: panel_rows(X, panel, b, Y, full, 3, K, N, n0, act); break;
        }
    }
}

EXPORT void mm_linear(const float *X, const float *P, const float *b, float *Y, int M, int K, int N,
                      int act) {
    /* Rows in chunks of about 128 KiB of X: a chunk meets every panel while its rows are in
     * cache, so X is read from memory once, not once per panel (the 3,063 x 384 inputs of
     * the text benchmark's E2 by 1,536 or 1,152 outputs: 12-17% faster, measured natively;
     * chunks of 32 KiB to 512 KiB all gave the same). */
    int chunk = (32768 / (K > 0 ? K : 1)) & ~3;
    if (chunk < 16) chunk = 16;
    for (int m0 = 0; m0 < M; m0 += chunk) {
        int rows = M - m0 < chunk ? M - m0 : chunk;
        linear_rows(X + (size_t)m0 * K, P, b, Y + (size_t)m0 * N, rows, K, N, act);
    }
}

/* One query row of one head: o = softmax(q K^T / sqrt(Dh)) V over the len keys and values
 * (rows `stride` floats apart), the scores in scratch.
 *
 * Every score is one accumulator over d in order, and every output chunk of 4 one
 * accumulator over the keys in order, as when this took one sum at a time: the loops only
 * run several of those independent sums side by side (4 keys; 8 chunks, all of Dh = 32),
 * so that a multiply-add need not wait for the one before it, and the 4 scores' lanes are
 * added by hsum4 in hsum's order. The bits are the same (checked against the one-at-a-time
 * version on every length from 0 to 23 and head sizes 4 to 68); E2's attention (16 texts of
 * 53 tokens, 12 heads) went from 3.7-4.2 to 6.4-7.2 GFLOP/s in V8 (Node 20). */
static inline void attention_row(const float *q, const float *keys, const float *values, float *o, float *scratch,
                                 int len, int stride, int Dh, f4 scale) {
    float top = -3.4e38f;
    int j = 0;
    for (; j + 4 <= len; j += 4) {
        const float *k0 = keys + (size_t)j * stride, *k1 = k0 + stride, *k2 = k1 + stride, *k3 = k2 + stride;
        f4 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
        for (int d = 0; d < Dh; d += 4) {
            f4 qv = LOAD(q + d);
            MADD(a0, qv, LOAD(k0 + d));
            MADD(a1, qv, LOAD(k1 + d));
            MADD(a2, qv, LOAD(k2 + d));
            MADD(a3, qv, LOAD(k3 + d));
        }
        const f4 s = hsum4(a0 * scale, a1 * scale, a2 * scale, a3 * scale);
        STORE(scratch + j, s);
        for (int t = 0; t < 4; t++)
            if (s[t] > top) top = s[t];
    }
    for (; j < len; j++) {
        const float *k = keys + (size_t)j * stride;
        f4 acc = splat(0);
        for (int d = 0; d < Dh; d += 4) MADD(acc, LOAD(q + d), LOAD(k + d));
        float score = hsum(acc * scale);
        scratch[j] = score;
        if (score > top) top = score;
    }
    float total = 0;
    j = 0;
    for (; j + 4 <= len; j += 4) {
        f4 e = exp4(LOAD(scratch + j) - splat(top));
        STORE(scratch + j, e);
        total += hsum(e);
    }
    for (; j < len; j++) {
        f4 e = exp4(splat(scratch[j] - top));
        scratch[j] = e[0];
        total += e[0];
    }
    const f4 inverse = splat(1.0f / total);
    int d = 0;
    for (; d + 32 <= Dh; d += 32) {
        f4 acc[8];
        for (int c = 0; c < 8; c++) acc[c] = splat(0);
        for (int jj = 0; jj < len; jj++) {
            const f4 p = splat(scratch[jj]);
            const float *v = values + (size_t)jj * stride + d;
            for (int c = 0; c < 8; c++) MADD(acc[c], p, LOAD(v + 4 * c));
        }
        for (int c = 0; c < 8; c++) STORE(o + d + 4 * c, acc[c] * inverse);
    }
    for (; d < Dh; d += 4) {
        f4 acc = splat(0);
        for (int jj = 0; jj < len; jj++) MADD(acc, splat(scratch[jj]), LOAD(values + (size_t)jj * stride + d));
        STORE(o + d, acc * inverse);
    }
}

/* Multi-head self-attention of a padded batch, as BERT computes it. qkv holds B * L rows of
 * 3 * H * Dh values: each token's query, key and value projections (heads side by side).
 * For sequence b only its first lengths[b] tokens exist: a query attends to those keys
 * only (the attention mask of the padding), and the context rows of the padding are 0.
 * ctx gets B * L rows of H * Dh values; scratch holds L floats. Dh must be a multiple of 4.
 *
 * A sequence's context never depends on the padding or on the other sequences of the
 * batch: every sum runs over its own tokens, in order, so a text embedded alone or in any
 * batch gives the same bits. */
EXPORT void mm_attention(const float *qkv, const int *lengths, float *ctx, float *scratch, int B, int L, int H,
                         int Dh) {
    const int D = H * Dh, stride = 3 * D;
    const f4 scale = splat(1.0f / __builtin_sqrtf((float)Dh));
    for (int b = 0; b < B; b++) {
        const int len = lengths[b];
        const float *rows = qkv + (size_t)b * L * stride;
        float *out = ctx + (size_t)b * L * D;
        for (int h = 0; h < H; h++) {
            const float *keys = rows + D + h * Dh, *values = rows + 2 * D + h * Dh;
            for (int i = 0; i < len; i++) {
                const float *q = rows + (size_t)i * stride + h * Dh;
                float *o = out + (size_t)i * D + h * Dh;
                attention_row(q, keys, values, o, scratch, len, stride, Dh, scale);
            }
        }
        for (int i = len; i < L; i++)
            for (int d = 0; d < D; d++) out[(size_t)i * D + d] = 0.0f;
    }
}

/* out = LayerNorm(a + b) row by row (b may be a itself with add = 0: LayerNorm(a)):
 * (y - mean) / sqrt(var + eps) * gamma + beta, with mean and variance in two passes over
 * the row, in float32. dim must be a multiple of 4. out may be a or b. */
EXPORT void mm_layernorm(const float *a, const float *b, const float *gamma, const float *beta, float *out,
                         int rows, int dim, float eps, int add) {
    const float inv_dim = 1.0f / (float)dim;
    for (int r = 0; r < rows; r++) {
        const float *x = a + (size_t)r * dim, *y = b + (size_t)r * dim;
        float *o = out + (size_t)r * dim;
        f4 sum = splat(0);
        for (int d = 0; d < dim; d += 4) {
            f4 v = add ? LOAD(x + d) + LOAD(y + d) : LOAD(x + d);
            STORE(o + d, v);
            sum += v;
        }
        const f4 mean = splat(hsum(sum) * inv_dim);
        f4 squares = splat(0);
        for (int d = 0; d < dim; d += 4) {
            f4 c = LOAD(o + d) - mean;
            squares += c * c;
        }
        const f4 inverse = splat(1.0f / __builtin_sqrtf(hsum(squares) * inv_dim + eps));
        for (int d = 0; d < dim; d += 4)
            STORE(o + d, (LOAD(o + d) - mean) * inverse * LOAD(gamma + d) + LOAD(beta + d));
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
    for (; d + 4 <= dim; d += 4) MADD(s, LOAD(x + d), LOAD(q + d));
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
            MADD(s0, LOAD(r0 + d), v);
            MADD(s1, LOAD(r1 + d), v);
            MADD(s2, LOAD(r2 + d), v);
            MADD(s3, LOAD(r3 + d), v);
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
            MADD(a0, (f4)(v0 << 16), qe); MADD(a1, (f4)(v0 & high), qo);
            MADD(b0, (f4)(v1 << 16), qe); MADD(b1, (f4)(v1 & high), qo);
            MADD(c0, (f4)(v2 << 16), qe); MADD(c1, (f4)(v2 & high), qo);
            MADD(d0, (f4)(v3 << 16), qe); MADD(d1, (f4)(v3 & high), qo);
        }
        scores[i] = hsum(a0 + a1); scores[i + 1] = hsum(b0 + b1);
        scores[i + 2] = hsum(c0 + c1); scores[i + 3] = hsum(d0 + d1);
    }
    for (; i < n; i++) {
        const unsigned short *r = rows + (size_t)i * dim;
        f4 a0 = splat(0), a1 = a0;
        for (int d = 0; d < dim; d += 8) {
            u4 v = *(const u4u *)(r + d);
            MADD(a0, (f4)(v << 16), LOAD(qp + d));
            MADD(a1, (f4)(v & high), LOAD(qp + d + 4));
        }
        scores[i] = hsum(a0 + a1);
    }
}

/* IEEE half-precision (float16) values, as model files store weights. A half is infinite
 * or NaN exactly when its 5 exponent bits are all ones. Widening a finite half is exact:
 * its magnitude bits moved to float32's places ((h & 0x7FFF) << 13) read as a float32 that
 * is the half's value times 2**-112 (the exponent biases differ by 127 - 15), for normal
 * and subnormal halves alike, so multiplying by 2**112 gives the value exactly; then the
 * sign bit. numpy's astype does the same per value, 5-10x slower in Pyodide. */
typedef unsigned short u16x4 __attribute__((vector_size(8), aligned(2)));

static inline i4 half_non_finite4(u4 v) { return (i4)((v & 0x7C00u) == 0x7C00u); }

static inline f4 widen_half4(u4 v) {
    const f4 magnitude = (f4)((v & 0x7FFFu) << 13) * splat(0x1p112f);
    return (f4)((u4)magnitude | ((v & 0x8000u) << 16));
}

/* Index of the first non-finite of h[0..n), or -1; with out != 0, out[i] = h[i] widened
 * (out is then complete only when -1 is returned). */
static inline int halves(const unsigned short *h, float *out, int n) {
    i4 bad = splat_i(0);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        const u4 v = __builtin_convertvector(*(const u16x4 *)(h + i), u4);
        bad |= half_non_finite4(v);
        if (out) STORE(out + i, widen_half4(v));
    }
    int found = (bad[0] | bad[1] | bad[2] | bad[3]) != 0;
    for (; i < n; i++) {
        const u4 v = {h[i], 0, 0, 0};
        found |= half_non_finite4(v)[0] != 0;
        if (out) out[i] = widen_half4(v)[0];
    }
    if (!found) return -1;
    for (i = 0; (h[i] & 0x7C00u) != 0x7C00u; i++) {}
    return i;
}

EXPORT int mm_check_halves(const unsigned short *h, int n) { return halves(h, 0, n); }

EXPORT int mm_widen_halves(const unsigned short *h, float *out, int n) { return halves(h, out, n); }

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
