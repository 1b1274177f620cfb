// Zero-copy byte passing between MicroPython and the `_vdkhal` JS functions.
//
// The npm build turns a Python bytes object passed to JS into a PyProxy (no buffer access) and a
// Uint8Array returned to Python into a JsProxy that bytes() copies element by element (~150 µs
// for 640 bytes). Both sides share one wasm memory, so instead Python passes id(obj) — the
// object's address in this port — and JS reads or writes the object's data in place (~2 µs).
//
// Only objects whose type word is one of the buffer types recorded at boot (bytes, bytearray,
// memoryview, array.array; see setTypes) are accepted, so a wrong argument is refused rather
// than read as garbage. Layouts (py/objstr.h, py/objarray.h of MicroPython 1.27, wasm32):
//   bytes:  {type, hash, len, data*}
//   array:  {type, typecode:8 | free:24 (memoryview: item offset), len (items), items*}
// Writing into a bytes object is only done for fresh results (`bytes(n)` made by the caller for
// this call); its hash word is then recomputed (qstr_compute_hash: djb2, 16 bits, never 0).

const ITEM_SIZE = { 1: 1, 98: 1, 66: 1, 104: 2, 72: 2, 105: 4, 73: 4, 108: 4, 76: 4, 102: 4, 113: 8, 81: 8, 100: 8 };
const RW_FLAG = 0x80;
export const ERR_BUFFER = -100; // not a bytes-like object (or read-only where a write was asked)

export class PyMem {
  /** @param {WebAssembly.Memory} memory MicroPython's (shared) memory */
  constructor(memory) {
    this.memory = memory;
    this.t = null;
  }

  /** Byte length of a bytes-like object, or ERR_BUFFER. */
  nbytes(id) {
    const b = this.buf(id);
    return b === null ? ERR_BUFFER : b.len;
  }

  setTypes(tBytes, tBytearray, tMemoryview, tArray) {
    this.t = { bytes: tBytes, bytearray: tBytearray, memoryview: tMemoryview, array: tArray };
    return 0;
  }

  u8() {
    return new Uint8Array(this.memory.buffer);
  }

  /** {ptr, len (bytes), isBytes, writable} of the object at address `id`, or null. */
  buf(id) {
    const t = this.t;
    const size = this.memory.buffer.byteLength;
    if (t === null || typeof id !== "number" || id <= 0 || id & 3 || id + 16 > size) return null;
    const h = new Uint32Array(this.memory.buffer, id, 4);
    const type = h[0];
    let ptr;
    let len;
    let isBytes = false;
    let writable = true;
    if (type === t.bytes) {
      [len, ptr] = [h[2], h[3]];
      isBytes = true;
    } else if (type === t.bytearray || type === t.array || type === t.memoryview) {
      const code = h[1] & 0xff;
      const item = ITEM_SIZE[code & 0x7f];
      if (!item) return null;
      len = h[2] * item;
      ptr = h[3];
      if (type === t.memoryview) {
        ptr += (h[1] >>> 8) * item;
        writable = (code & RW_FLAG) !== 0;
      }
    } else {
      return null;
    }
    if (len > 0 && (ptr <= 0 || ptr + len > size)) return null;
    return { ptr, len, isBytes, writable };
  }

  /** A view (no copy) of the object's bytes, or null. Valid until Python runs again. */
  read(id) {
    const b = this.buf(id);
    return b === null ? null : new Uint8Array(this.memory.buffer, b.ptr, b.len);
  }

  /**
   * Copies `src` into the start of the object at `id` (bytes: a fresh result object; bytearray,
   * array, writable memoryview). Returns src.length, or ERR_BUFFER if it is not writable or too
   * small.
   */
  write(id, src) {
    const b = this.buf(id);
    if (b === null || !b.writable || src.length > b.len) return ERR_BUFFER;
    const u8 = this.u8();
    u8.set(src, b.ptr);
    if (b.isBytes && b.len > 0) this.rehash(id, u8, b);
    return src.length;
  }

  /** A writable view of the object's data (fill it, then call done()). */
  open(id) {
    const b = this.buf(id);
    if (b === null || !b.writable) return null;
    const view = new Uint8Array(this.memory.buffer, b.ptr, b.len);
    return { view, done: () => b.isBytes && b.len > 0 && this.rehash(id, this.u8(), b) };
  }

  rehash(id, u8, b) {
    let hash = 5381;
    for (let i = b.ptr, end = b.ptr + b.len; i < end; i++) hash = (Math.imul(hash, 33) ^ u8[i]) >>> 0;
    hash &= 0xffff;
    new Uint32Array(this.memory.buffer, id, 4)[1] = hash === 0 ? 1 : hash;
  }
}

/**
 * Wraps every function of a module so that a JS exception never unwinds through the wasm VM
 * (the npm build does not turn it into a Python exception: it would abort the device). The
 * error is logged and the call returns `fallback`.
 */
export function guard(fns, log, fallback = -99) {
  const out = {};
  for (const [name, fn] of Object.entries(fns)) {
    if (typeof fn !== "function") {
      out[name] = fn;
      continue;
    }
    out[name] = (...args) => {
      try {
        return fn(...args);
      } catch (e) {
        log(`_vdkhal.${name}: ${e?.stack ?? e}`);
        return fallback;
      }
    };
  }
  return out;
}
