/* The arithmetic peak of one core for the GEMM kernel's instruction mix, for bench/run.py
 * (window.fmaPeak): 12 independent accumulator chains of 4-lane multiply-adds, no memory
 * traffic. -DRELAXED: f32x4.relaxed_madd (a fused multiply-add on x86 with FMA and on ARM),
 * as kernels/minimodel_kernels.c's MADD in its relaxed-SIMD build; else f32x4.mul +
 * f32x4.add, as in its SIMD128 build. 12 chains cover the latency of either (4 cycles x 2
 * ports, or more). */
typedef float f4 __attribute__((vector_size(16)));
#ifdef RELAXED
#define MADD(a, x, y) (a = __builtin_wasm_relaxed_madd_f32x4(x, y, a))
#else
#define MADD(a, x, y) (a += (x) * (y))
#endif
__attribute__((visibility("default"))) float peak(int n, float s) {
  f4 x = {s, s, s, s}, y = {0.999f, 0.999f, 0.999f, 0.999f};
  f4 a0 = x, a1 = x + 1, a2 = x + 2, a3 = x + 3, a4 = x + 4, a5 = x + 5, a6 = x + 6, a7 = x + 7, a8 = x + 8, a9 = x + 9, a10 = x + 10, a11 = x + 11;
  for (int i = 0; i < n; i++) {
    MADD(a0, a0, y); MADD(a1, a1, y); MADD(a2, a2, y); MADD(a3, a3, y); MADD(a4, a4, y); MADD(a5, a5, y);
    MADD(a6, a6, y); MADD(a7, a7, y); MADD(a8, a8, y); MADD(a9, a9, y); MADD(a10, a10, y); MADD(a11, a11, y);
  }
  f4 t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
  return t[0] + t[1] + t[2] + t[3];
}
