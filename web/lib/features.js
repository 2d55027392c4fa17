// What the browser's WebAssembly can do, by validating tiny modules (no instantiation).

/** A v128.const instruction (16 bytes of value). @param {number} n */
const v128 = (n) => [0xfd, 0x0c, ...new Array(16).fill(n)];

/**
 * A module of one function () -> v128 with the given body (after its locals byte).
 * @param {number[]} code
 */
function moduleWith(code) {
  const body = [0x00, ...code, 0x0b];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x0a, body.length + 2, 0x01, body.length, ...body, // its code
  ]);
}

/** Whether WebAssembly SIMD (128-bit) is available. @returns {boolean} */
export function simdSupported() {
  return WebAssembly.validate(moduleWith(v128(1)));
}

/** Whether relaxed SIMD (f32x4.relaxed_madd) is available. @returns {boolean} */
export function relaxedSimdSupported() {
  return WebAssembly.validate(moduleWith([...v128(1), ...v128(2), ...v128(3), 0xfd, 0x85, 0x02]));
}

/** The kernel builds init({ kernels }) and createWorker({ kernels }) accept. */
export const KERNEL_CHOICES = ["auto", "relaxed-simd", "simd128", "numpy"];

/**
 * The kernel build to use: "auto" picks relaxed SIMD where the browser has it, else
 * SIMD128; an explicit build the browser cannot run is a clear error.
 * @param {string} choice  one of KERNEL_CHOICES
 * @param {string} where
 * @returns {"relaxed-simd" | "simd128" | "numpy"}
 */
export function resolveKernels(choice, where) {
  const relaxed = relaxedSimdSupported();
  if (choice === "auto") return relaxed ? "relaxed-simd" : "simd128";
  if (choice === "relaxed-simd" && !relaxed) {
    throw new Error(`${where}: this browser's WebAssembly has no relaxed SIMD; use kernels: "auto" or "simd128"`);
  }
  return /** @type {"relaxed-simd" | "simd128" | "numpy"} */ (choice);
}
