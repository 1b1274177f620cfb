// The C codecs for hal.vdk.codec: the wasm32 library build of native_codec
// (build/wasm/native_codec.wasm, no imports), instantiated in the device's worker on first use
// (it costs a few ms, so boot does not pay for it).
//
// Memory in the codec instance: ec_wasm_alloc is a bump allocator (reset only), so this keeps a
// tiny free list on top of it. States are allocated once per codec object and come back to the
// list on close() (MicroPython's npm build runs no __del__); the I/O scratch areas are reused
// and grow by doubling. Nothing is ever given back to ec_wasm_alloc within a VM lifetime.
//
// The media stack (ec_media.h) is here too: a sender or receiver is one state like a codec's, its
// configuration is filled by rt.c's ec_wasm_media_*_config from plain ints, and its statistics
// are copied out as the raw 32-bit words of the C struct (hal/vdk/_media.py names them).
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

  /** Bytes taken from ec_wasm_alloc so far (closed states are reused, never given back). */
  taken() {
    let n = 0;
    for (const size of this.sizes.values()) n += size;
    return n;
  }
}

const MEDIA_TX = 5;
const MEDIA_RX = 6;
const MAX_PACKET = 1024; // EC_MEDIA_MAX_PACKET

const KINDS = {
  1: ["ec_g722_enc_state_size", (x, st, size, p) => x.ec_g722_enc_init(st, size, p)],
  2: ["ec_g722_dec_state_size", (x, st, size, p) => x.ec_g722_dec_init(st, size, p)],
  3: ["ec_adpcm_state_size", (x, st, size) => x.ec_adpcm_init(st, size)],
  4: ["ec_plc_state_size", (x, st, size, p) => x.ec_plc_init(st, size, p)],
};

/**
 * The device's one codec library instance, loaded on first use: get() -> CodecLib or null (the
 * failure is logged). hal_codec and hal_video share it, so library_bytes() counts both.
 */
export function codecLibrary(log, libraryPath = LIBRARY) {
  let lib = null;
  return {
    get() {
      if (lib === null) {
        try {
          lib = new CodecLib(libraryPath);
        } catch (e) {
          log(`codec: cannot load ${libraryPath}: ${e.message} (build it: python -m host_tools.native.wasm)`);
          return null;
        }
      }
      return lib;
    },
    loaded: () => lib !== null,
  };
}

export function codecFunctions(mem, log, libraryPath = LIBRARY, library = codecLibrary(log, libraryPath)) {
  let lib = null;
  const handles = new Map(); // handle -> {kind, st}
  let nextHandle = 1;

  function load() {
    if (lib === null) lib = library.get();
    return lib !== null;
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

  /** A state of `size` bytes set up by init(st) (< 0: failed, given back); its handle. */
  function newState(kind, size, init) {
    const st = lib.alloc(size);
    const rc = init(st);
    if (rc < 0) {
      lib.release(st);
      return rc;
    }
    const h = nextHandle++;
    handles.set(h, { kind, st });
    return h;
  }

  /** A media state from config(cfgPtr) -> state size (0: invalid) and init(st, size, cfgPtr). */
  function mediaNew(kind, config, init) {
    if (!load()) return ERR_NO_LIBRARY;
    const cfg = lib.area(0, lib.x.ec_wasm_media_config_bytes());
    const size = config(cfg);
    if (size === 0) return -1; // EC_ERR_ARG
    return newState(kind, size, (st) => init(st, size, cfg));
  }

  /** fn(st, ptr, len) on a copy of the bytes-like object inId. */
  function withInput(h, kind, inId, fn) {
    const st = state(h, kind);
    if (!st) return ERR_HANDLE;
    const src = mem.read(inId);
    if (src === null) return ERR_BUFFER;
    const pin = lib.area(0, src.length);
    lib.u8().set(src, pin);
    return fn(st, pin, src.length);
  }

  /** fn(st, outPtr, capBytes) -> byte count, copied into the object outId (at least cap long). */
  function withOutput(h, kind, outId, cap, fn) {
    const st = state(h, kind);
    if (!st) return ERR_HANDLE;
    const dst = mem.buf(outId);
    if (dst === null || !dst.writable || dst.len < cap) return ERR_BUFFER;
    const pout = lib.area(1, cap);
    const n = fn(st, pout, cap);
    if (n <= 0) return n;
    return mem.write(outId, new Uint8Array(lib.x.memory.buffer, pout, n)) < 0 ? ERR_BUFFER : n;
  }

  return {
    codec_new: (kind, param) => {
      if (!load()) return ERR_NO_LIBRARY;
      const k = KINDS[kind];
      if (!k) return -1;
      const size = lib.x[k[0]]();
      return newState(kind, size, (st) => k[1](lib.x, st, size, param));
    },
    codec_free: (h) => {
      const s = handles.get(h);
      if (!s) return ERR_HANDLE;
      handles.delete(h);
      lib.release(s.st);
      return 0;
    },
    /** Bytes the library holds (states and scratch areas, in use or on the free list). */
    codec_heap: () => (library.loaded() ? library.get().taken() : 0),
    /** 1 when the codec library links libopus (its build falls back to none without it). */
    codec_has_opus: () => (load() && typeof lib.x.opus_encoder_get_size === "function" ? 1 : 0),
    // ---- media stack: uint32 arguments arrive as their int32 bit patterns ----
    // The Opus settings (ptOpus, opusBitrate, opusComplexity, opusLossPerc; ec_media.h) are optional:
    // left out, they arrive as 0, the library's defaults.
    codec_media_tx_new: (codec, ptime, maxPtime, red, fecGroup, nack, cache, adapt, g722Bitrate, ptRed, ptFec,
      rtcpInterval, ssrc, ts0, seq0, fecSeq0, ptOpus = 0, opusBitrate = 0, opusComplexity = 0, opusLossPerc = 0) =>
      mediaNew(
        MEDIA_TX,
        (cfg) => lib.x.ec_wasm_media_tx_config(cfg, codec, ptime, maxPtime, red, fecGroup, nack, cache, adapt,
          g722Bitrate, ptRed, ptFec, rtcpInterval, ssrc, ts0, seq0, fecSeq0, ptOpus, opusBitrate, opusComplexity,
          opusLossPerc),
        (st, size, cfg) => lib.x.ec_media_tx_init(st, size, cfg),
      ),
    codec_media_rx_new: (codec, ptime, maxPtime, bufferMs, fixedDelay, minDelay, maxDelay, nack, nackRetry,
      fecSlots, ptRed, ptFec, rtcpInterval, ssrc, ptOpus = 0) =>
      mediaNew(
        MEDIA_RX,
        (cfg) => lib.x.ec_wasm_media_rx_config(cfg, codec, ptime, maxPtime, bufferMs, fixedDelay, minDelay,
          maxDelay, nack, nackRetry, fecSlots, ptRed, ptFec, rtcpInterval, ssrc, ptOpus),
        (st, size, cfg) => lib.x.ec_media_rx_init(st, size, cfg),
      ),
    /** PCM (whole 10 ms blocks) in; the packets it completes wait for codec_media_tx_poll. */
    codec_media_tx_push: (h, pcmId, now) =>
      withInput(h, MEDIA_TX, pcmId, (st, p, n) => lib.x.ec_media_tx_push(st, p, n >> 1, now)),
    /** The next packet into outId (a 1024-byte buffer): its length, 0 when none. */
    codec_media_tx_poll: (h, now, outId) =>
      withOutput(h, MEDIA_TX, outId, MAX_PACKET, (st, p, cap) => lib.x.ec_media_tx_poll(st, now, p, cap)),
    codec_media_tx_packet: (h, pktId, now) =>
      withInput(h, MEDIA_TX, pktId, (st, p, n) => lib.x.ec_media_tx_on_packet(st, p, n, now)),
    codec_media_rx_packet: (h, pktId, now) =>
      withInput(h, MEDIA_RX, pktId, (st, p, n) => lib.x.ec_media_rx_packet(st, p, n, now)),
    codec_media_rx_feedback: (h, now, outId) =>
      withOutput(h, MEDIA_RX, outId, MAX_PACKET, (st, p, cap) => lib.x.ec_media_rx_poll_feedback(st, now, p, cap)),
    /** Samples of one codec_media_rx_pull frame. */
    codec_media_rx_frame: (h) => {
      const st = state(h, MEDIA_RX);
      return st ? lib.x.ec_media_rx_frame_samples(st) : ERR_HANDLE;
    },
    /** One frame into outId (at least frame samples * 2 bytes): the sample count. */
    codec_media_rx_pull: (h, now, outId) => {
      const st = state(h, MEDIA_RX);
      if (!st) return ERR_HANDLE;
      const bytes = 2 * lib.x.ec_media_rx_frame_samples(st);
      const n = withOutput(h, MEDIA_RX, outId, bytes, (s, p, cap) => {
        const k = lib.x.ec_media_rx_pull(s, now, p, cap >> 1);
        return k < 0 ? k : 2 * k;
      });
      return n < 0 ? n : n >> 1;
    },
    /** The statistics struct as 32-bit words into outId; returns the struct's word count. */
    codec_media_stats: (h, now, outId) => {
      const s = handles.get(h);
      if (!s || (s.kind !== MEDIA_TX && s.kind !== MEDIA_RX)) return ERR_HANDLE;
      const words = s.kind === MEDIA_TX ? lib.x.ec_wasm_media_tx_stats_words() : lib.x.ec_wasm_media_rx_stats_words();
      const dst = mem.buf(outId);
      if (dst === null || !dst.writable) return ERR_BUFFER;
      const p = lib.area(1, 4 * words);
      const rc = s.kind === MEDIA_TX ? lib.x.ec_media_tx_get_stats(s.st, p) : lib.x.ec_media_rx_get_stats(s.st, now, p);
      if (rc < 0) return rc;
      const n = Math.min(4 * words, dst.len);
      return mem.write(outId, new Uint8Array(lib.x.memory.buffer, p, n)) < 0 ? ERR_BUFFER : words;
    },
    /** An Opus sender's or receiver's counters (ec_media_opus_stats) as 32-bit words into outId;
     * returns the word count, EC_ERR_ARG (-1) for another codec, EC_ERR_UNSUPPORTED (-5) for a
     * library built without Opus. */
    codec_media_opus_stats: (h, outId) => {
      const s = handles.get(h);
      if (!s || (s.kind !== MEDIA_TX && s.kind !== MEDIA_RX)) return ERR_HANDLE;
      if (!lib.x.ec_wasm_media_opus_stats) return -5;
      const dst = mem.buf(outId);
      if (dst === null || !dst.writable) return ERR_BUFFER;
      const p = lib.area(1, 64);
      const words = lib.x.ec_wasm_media_opus_stats(s.st, s.kind === MEDIA_TX ? 1 : 0, p);
      if (words < 0) return words;
      const n = Math.min(4 * words, dst.len);
      return mem.write(outId, new Uint8Array(lib.x.memory.buffer, p, n)) < 0 ? ERR_BUFFER : words;
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
