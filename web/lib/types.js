// Types shared by the modules of the library (JSDoc only: this module exports no values).

/** Numeric input: a Float32Array, a Float64Array or an Array of numbers. @typedef {Float32Array | Float64Array | number[]} NumericInput */

/** A file: a URL (string or URL, resolved against the page), a Blob or File, an ArrayBuffer or a Uint8Array. @typedef {string | URL | Blob | ArrayBuffer | Uint8Array} FileSource */

export {};
