// The C codecs for hal.vdk.codec: the wasm32 library build of native_codec
// (build/wasm/native_codec.wasm, no imports), instantiated in the device's worker on first use
// (it costs a few ms, so boot does not pay for it).
//
// Memory in the codec instance: ec_wasm_alloc is a bump allocator (reset only), so this keeps a
// tiny free list on top of it. States are allocated once per codec object and come back to the
// list on close() (MicroPython's npm build runs no __del__); the I/O scratch areas are reused
// and grow by doubling. Nothing is ever given back to ec_wasm_alloc within a VM lifetime.
//
// Every function returns a count or a negative code: the C library's EC_ERR_* (-1 .. -5),
// ERR_BUFFER (-100, see hal_mem.mjs), ERR_HANDLE (-101), ERR_NO_LIBRARY (-102).

import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { ERR_BUFFER } from "./hal_mem.mjs";

export const ERR_HANDLE = -101;
export const ERR_NO_LIBRARY = -102;
const ALIGN = 16;

export const LIBRARY = fileURLToPath(new URL("../../../build/wasm/native_codec.wasm", import.meta.url));

class CodecLib {
  constructor(path) {
    const module = new WebAssembly.Module(fs.readFileSync(path));
    this.x = new WebAssembly.Instance(module, {}).exports;
    this.free = []; // [ptr, size], sizes multiples of ALIGN
    this.sizes = new Map(); // ptr -> size of blocks handed out
    this.scratch = [0, 0, 0, 0]; // ptr, size of the input and output areas
  }

  alloc(n) {
    const size = Math.max(ALIGN, Math.ceil(n / ALIGN) * ALIGN);
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const s = this.free[i][1];
      if (s >= size && (best < 0 || s < this.free[best][1])) best = i;
    }
    let ptr;
    if (best >= 0) {
      [ptr] = this.free.splice(best, 1)[0];
    } else {
      ptr = this.x.ec_wasm_alloc(size);
      if (!ptr) throw new Error(`codec memory exhausted (${size} bytes)`);
      this.sizes.set(ptr, size);
    }
    return ptr;
  }

  release(ptr) {
    if (ptr) this.free.push([ptr, this.sizes.get(ptr)]);
  }

  /** The input (which = 0) or output (1) scratch area, at least n bytes. */
  area(which, n) {
    const at = which * 2;
    if (this.scratch[at + 1] < n) {
      this.release(this.scratch[at]);
      let size = 1024;
      while (size < n) size *= 2;
      this.scratch[at] = this.alloc(size);
      this.scratch[at + 1] = this.sizes.get(this.scratch[at]);
    }
    return this.scratch[at];
  }

  u8() {
    return new Uint8Array(this.x.memory.buffer);
  }
}

const KINDS = {
  1: ["ec_g722_enc_state_size", (x, st, size, p) => x.ec_g722_enc_init(st, size, p)],
  2: ["ec_g722_dec_state_size", (x, st, size, p) => x.ec_g722_dec_init(st, size, p)],
  3: ["ec_adpcm_state_size", (x, st, size) => x.ec_adpcm_init(st, size)],
  4: ["ec_plc_state_size", (x, st, size, p) => x.ec_plc_init(st, size, p)],
};

export function codecFunctions(mem, log, libraryPath = LIBRARY) {
  let lib = null;
  const handles = new Map(); // handle -> {kind, st}
  let nextHandle = 1;

  function load() {
    if (lib === null) {
      try {
        lib = new CodecLib(libraryPath);
      } catch (e) {
        log(`codec: cannot load ${libraryPath}: ${e.message} (build it: python -m host_tools.native.wasm)`);
        return false;
      }
    }
    return true;
  }

  /**
   * Runs fn(inPtr, inLen, outPtr, outCap) -> count on copies of the input object and copies
   * `outBytes(count)` bytes back into the output object. The output object must be exactly
   * as long as the caller computed; its size is the C function's out_cap.
   */
  function io(inId, outId, fn, outBytes) {
    if (!load()) return ERR_NO_LIBRARY;
    const src = inId === 0 ? new Uint8Array(0) : mem.read(inId);
    const dst = mem.buf(outId);
    if (src === null || dst === null || !dst.writable) return ERR_BUFFER;
    const pin = lib.area(0, src.length);
    const pout = lib.area(1, dst.len);
    lib.u8().set(src, pin);
    const n = fn(pin, src.length, pout, dst.len);
    if (n < 0) return n;
    const nbytes = outBytes(n);
    if (nbytes > dst.len) return ERR_BUFFER;
    return mem.write(outId, new Uint8Array(lib.x.memory.buffer, pout, nbytes)) < 0 ? ERR_BUFFER : n;
  }

  function state(h, kind) {
    const s = handles.get(h);
    return s && s.kind === kind ? s.st : 0;
  }

  return {
    codec_new: (kind, param) => {
      if (!load()) return ERR_NO_LIBRARY;
      const k = KINDS[kind];
      if (!k) return -1;
      const size = lib.x[k[0]]();
      const st = lib.alloc(size);
      const rc = k[1](lib.x, st, size, param);
      if (rc < 0) {
        lib.release(st);
        return rc;
      }
      const h = nextHandle++;
      handles.set(h, { kind, st });
      return h;
    },
    codec_free: (h) => {
      const s = handles.get(h);
      if (!s) return ERR_HANDLE;
      handles.delete(h);
      lib.release(s.st);
      return 0;
    },
    codec_g711_enc: (law, inId, outId) =>
      io(inId, outId, (pin, n, pout, cap) => lib.x.ec_g711_encode(law, pin, n >> 1, pout, cap), (n) => n),
    codec_g711_dec: (law, inId, outId) =>
      io(inId, outId, (pin, n, pout, cap) => lib.x.ec_g711_decode(law, pin, n, pout, cap >> 1), (n) => 2 * n),
    codec_g722_enc: (h, inId, outId) => {
      const st = state(h, 1);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_g722_encode(st, pin, n >> 1, pout, cap), (n) => n);
    },
    codec_g722_dec: (h, inId, outId) => {
      const st = state(h, 2);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_g722_decode(st, pin, n, pout, cap >> 1), (n) => 2 * n);
    },
    codec_dvi4_enc: (h, inId, outId) => {
      const st = state(h, 3);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_dvi4_encode(st, pin, n >> 1, pout, cap), (n) => n);
    },
    codec_dvi4_dec: (h, inId, outId) => {
      const st = state(h, 3);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_dvi4_decode(st, pin, n, pout, cap >> 1), (n) => 2 * n);
    },
    codec_ima_enc: (h, inId, outId) => {
      const st = state(h, 3);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_ima_wav_encode_block(st, pin, n >> 1, pout, cap), (n) => n);
    },
    codec_ima_dec: (h, inId, outId) => {
      const st = state(h, 3);
      if (!st) return ERR_HANDLE;
      return io(inId, outId, (pin, n, pout, cap) => lib.x.ec_ima_wav_decode_block(st, pin, n, pout, cap >> 1), (n) => 2 * n);
    },
    codec_plc_frame: (h) => {
      const st = state(h, 4);
      return st ? lib.x.ec_plc_frame_size(st) : ERR_HANDLE;
    },
    /** Conceals or passes whole 10 ms sub-frames; inId = 0: lost. */
    codec_plc: (h, inId, outId) => {
      const st = state(h, 4);
      if (!st) return ERR_HANDLE;
      const sub = lib.x.ec_plc_frame_size(st);
      return io(inId, outId, (pin, n, pout, cap) => {
        const total = inId === 0 ? cap >> 1 : n >> 1;
        if (total % sub !== 0 || total * 2 > cap) return -1;
        for (let i = 0; i < total; i += sub) {
          const rc =
            inId === 0
              ? lib.x.ec_plc_lost(st, pout + 2 * i, sub)
              : lib.x.ec_plc_good(st, pin + 2 * i, pout + 2 * i, sub);
          if (rc < 0) return rc;
        }
        return total;
      }, (n) => 2 * n);
    },
  };
}
