// Video for hal.vdk.video: a camera -> JPEG -> RTP/JPEG sender and an RTP/JPEG -> display
// receiver, on the wasm32 native_codec (ec_jpeg.h, ec_rtpjpeg.h; RFC 2435) that hal.vdk.codec
// loads (one shared instance: hal_codec.mjs codecLibrary, so library_bytes() counts video too).
//
// Frames and JPEG data never enter the MicroPython heap: the camera (hal_camera.mjs CameraSource,
// RGB565 little-endian) writes straight into a frame buffer in the codec library's memory, the
// encoder writes the scan into a buffer there, and the packetizer's packets wait in a JS queue;
// only packets (<= 1200 bytes) cross into the VM, one per video_tx_poll. On the receiving side
// packets are copied into the codec memory and a complete frame goes from there to a file.
//
// Files in the device's state folder (`sim start` empties them, host_tools/sim/camera.py):
//   camera.times   "<unix seconds> <camera frame k> <rtp ts>" per capture
//   display/       every frame a receiver completes, as <seq:06d>.jpg (seq 1, 2, ...)
//   display.times  "<unix seconds> <rtp ts> <file name> <bytes>" per displayed frame
//
// Every function returns a count or a negative code: EC_ERR_* (-1 .. -5), ERR_BUFFER (-100),
// ERR_HANDLE (-101), ERR_NO_LIBRARY (-102).

import fs from "node:fs";
import path from "node:path";
import { ERR_BUFFER } from "./hal_mem.mjs";
import { ERR_HANDLE, ERR_NO_LIBRARY } from "./hal_codec.mjs";
import { CameraSource } from "./hal_camera.mjs";

const EC_ERR_ARG = -1;
const EC_ERR_MALFORMED = -4;
const EC_ERR_UNSUPPORTED = -5;
const JPEG_RGB565LE = 1;
const JPEG_SCAN_ONLY = 1;
export const MAX_QUEUE = 64; // packets waiting in a sender before whole old frames are dropped
export const MAX_PACKET = 1200; // largest mtu: what one poll brings into the VM
export const ERR_NO_MEMORY = -103; // the codec library's memory cannot grow
const MAX_IN_PACKET = 65535; // larger "packets" are counted as malformed
const TX = 1;
const RX = 2;

const stamp = () => (Date.now() / 1000).toFixed(3);

export function videoFunctions(mem, library, cameraFolder, stateDir, log) {
  const handles = new Map(); // handle -> state object (kind TX or RX)
  let nextHandle = 1;
  const cameraTimes = path.join(stateDir, "camera.times");
  const displayDir = path.join(stateDir, "display");
  const displayTimes = path.join(stateDir, "display.times");
  let displaySeq = 0; // number of the next display file; 0: not yet looked up

  /** The next display file number: one more than the largest already there (the folder is
   * emptied at `sim start`; a reset of the VM continues the numbering). */
  function nextSeq() {
    fs.mkdirSync(displayDir, { recursive: true });
    if (displaySeq === 0) {
      let top = 0;
      for (const n of fs.readdirSync(displayDir)) {
        const m = /^(\d+)\.jpg$/.exec(n);
        if (m) top = Math.max(top, Number(m[1]));
      }
      displaySeq = top + 1;
    }
    return displaySeq++;
  }

  function get(h, kind) {
    const s = handles.get(h);
    return s && s.kind === kind ? s : null;
  }

  function releaseAll(lib, s) {
    for (const k of ["enc", "fr", "pack", "frame", "scan", "pkt", "st", "buf"]) {
      if (s[k]) lib.release(s[k]);
      s[k] = 0;
    }
  }

  /** Encodes the frame buffer into the scan buffer (grown by doubling); the scan length. */
  function encode(lib, s) {
    const x = lib.x;
    let rc = x.ec_jpeg_enc_new_frame(s.enc);
    if (rc < 0) return rc;
    let len = 0;
    while (x.ec_jpeg_enc_done(s.enc) === 0) {
      if (len === s.scanCap) {
        const bigger = lib.alloc(2 * s.scanCap);
        lib.u8().copyWithin(bigger, s.scan, s.scan + len);
        lib.release(s.scan);
        s.scan = bigger;
        s.scanCap *= 2;
      }
      rc = x.ec_wasm_jpeg_encode(s.enc, s.frame, 2 * s.w, s.scan + len, s.scanCap - len);
      if (rc < 0) return rc;
      len += rc;
    }
    return len;
  }

  /** Drops whole frames, oldest first, while more than MAX_QUEUE packets wait; the newest frame
   * and one already partly sent are kept. */
  function trim(s) {
    while (s.queued > MAX_QUEUE) {
      const i = s.queue[0].at > 0 ? 1 : 0;
      if (i >= s.queue.length - 1) break;
      const [f] = s.queue.splice(i, 1);
      s.queued -= f.pkts.length;
      s.droppedFrames++;
    }
  }

  function words(outId, values) {
    const dst = mem.buf(outId);
    if (dst === null || !dst.writable || dst.len < 4 * values.length) return ERR_BUFFER;
    const w = Uint32Array.from(values, (v) => v >>> 0);
    return mem.write(outId, new Uint8Array(w.buffer)) < 0 ? ERR_BUFFER : values.length;
  }

  return {
    /** A sender: camera (RGB565) -> JPEG (scan only) -> RTP/JPEG. uint32 ssrc as its int32 bits. */
    video_tx_new: (w, h, quality, subsampling, restartInterval, ssrc, pt, mtu, seq) => {
      const lib = library.get();
      if (lib === null) return ERR_NO_LIBRARY;
      if (!(w >= 8 && w <= 2040 && h >= 8 && h <= 2040) || !(mtu >= 192 && mtu <= MAX_PACKET)) return EC_ERR_ARG;
      const x = lib.x;
      const s = { kind: TX, w, h, cam: new CameraSource(cameraFolder, w, h, 2), queue: [], queued: 0,
        frames: 0, packets: 0, octets: 0, droppedFrames: 0, lastBytes: 0, encodeUs: 0, mtu,
        enc: 0, fr: 0, pack: 0, frame: 0, scan: 0, pkt: 0, scanCap: 0 };
      const fail = (rc) => {
        releaseAll(lib, s);
        return rc;
      };
      try {
        const params = lib.area(0, x.ec_wasm_jpeg_params_bytes());
        const encSize = x.ec_wasm_jpeg_config(params, w, h, JPEG_RGB565LE, subsampling, quality, JPEG_SCAN_ONLY,
          restartInterval);
        if (encSize === 0) return EC_ERR_ARG;
        s.enc = lib.alloc(encSize);
        let rc = x.ec_jpeg_enc_init(s.enc, encSize, params);
        if (rc < 0) return fail(rc);
        s.fr = lib.alloc(x.ec_wasm_rtpjpeg_frame_bytes());
        rc = x.ec_rtpjpeg_frame_for(w, h, subsampling, quality, restartInterval, s.fr);
        if (rc < 0) return fail(rc);
        const packSize = x.ec_rtpjpeg_pack_state_size();
        s.pack = lib.alloc(packSize);
        rc = x.ec_rtpjpeg_pack_init(s.pack, packSize, ssrc >>> 0, pt, mtu, seq & 0xffff);
        if (rc < 0) return fail(rc);
        s.frame = lib.alloc(w * h * 2);
        s.scanCap = Math.max(4096, Math.ceil((w * h) / 2 / 16) * 16);
        s.scan = lib.alloc(s.scanCap);
        s.pkt = lib.alloc(mtu);
      } catch (e) {
        log(`video: ${e.message}`);
        return fail(ERR_NO_MEMORY);
      }
      const handle = nextHandle++;
      handles.set(handle, s);
      return handle;
    },
    /** Takes, encodes and packetizes the next camera frame with RTP timestamp ts; returns k. */
    video_tx_capture: (h, ts) => {
      const s = get(h, TX);
      if (s === null) return ERR_HANDLE;
      const lib = library.get();
      const x = lib.x;
      const k = s.cam.next(new Uint8Array(x.memory.buffer, s.frame, s.w * s.h * 2));
      const t0 = performance.now();
      const len = encode(lib, s);
      if (len < 0) return len;
      s.encodeUs = Math.round((performance.now() - t0) * 1000);
      let rc = x.ec_rtpjpeg_pack_frame(s.pack, s.fr, s.scan, len, ts >>> 0);
      if (rc < 0) return rc;
      const pkts = [];
      for (;;) {
        rc = x.ec_rtpjpeg_pack_next(s.pack, s.pkt, s.mtu);
        if (rc < 0) return rc;
        if (rc === 0) break;
        pkts.push(lib.u8().slice(s.pkt, s.pkt + rc));
      }
      s.queue.push({ pkts, at: 0 });
      s.queued += pkts.length;
      s.frames++;
      s.lastBytes = len;
      trim(s);
      fs.appendFileSync(cameraTimes, `${stamp()} ${k} ${ts >>> 0}\n`);
      return k;
    },
    /** The next queued packet into outId (a writable buffer of at least mtu bytes): its length, 0 if none. */
    video_tx_poll: (h, outId) => {
      const s = get(h, TX);
      if (s === null) return ERR_HANDLE;
      const dst = mem.buf(outId);
      if (dst === null || !dst.writable || dst.len < s.mtu) return ERR_BUFFER;
      if (s.queue.length === 0) return 0;
      const f = s.queue[0];
      const p = f.pkts[f.at];
      if (mem.write(outId, p) < 0) return ERR_BUFFER;
      f.at++;
      s.queued--;
      if (f.at === f.pkts.length) s.queue.shift();
      s.packets++;
      s.octets += p.length;
      return p.length;
    },
    /** The sender's counters as 32-bit words into outId; returns their count. */
    video_tx_stats: (h, outId) => {
      const s = get(h, TX);
      if (s === null) return ERR_HANDLE;
      return words(outId, [s.frames, s.packets, s.octets, s.droppedFrames, s.lastBytes, s.encodeUs, s.queued]);
    },
    /** A receiver whose frames (JFIF, header rebuilt) are at most maxFrameBytes long. */
    video_rx_new: (maxFrameBytes) => {
      const lib = library.get();
      if (lib === null) return ERR_NO_LIBRARY;
      if (!(maxFrameBytes >= 1024 && maxFrameBytes <= 1 << 24)) return EC_ERR_ARG;
      const x = lib.x;
      const size = x.ec_rtpjpeg_depack_state_size();
      const s = { kind: RX, st: 0, buf: 0, cap: maxFrameBytes, malformed: 0, packets: 0 };
      try {
        s.st = lib.alloc(size);
        const rc = x.ec_rtpjpeg_depack_init(s.st, size);
        if (rc < 0) {
          releaseAll(lib, s);
          return rc;
        }
        s.buf = lib.alloc(maxFrameBytes);
      } catch (e) {
        log(`video: ${e.message}`);
        releaseAll(lib, s);
        return ERR_NO_MEMORY;
      }
      const handle = nextHandle++;
      handles.set(handle, s);
      return handle;
    },
    /** One packet: 1 when it completed a frame (now on the display), else 0; bad packets count. */
    video_rx_packet: (h, pktId) => {
      const s = get(h, RX);
      if (s === null) return ERR_HANDLE;
      const src = mem.read(pktId);
      if (src === null) return ERR_BUFFER;
      s.packets++;
      if (src.length > MAX_IN_PACKET) {
        s.malformed++;
        return 0;
      }
      const lib = library.get();
      const pin = lib.area(0, src.length);
      lib.u8().set(src, pin);
      const n = lib.x.ec_rtpjpeg_depack_push(s.st, pin, src.length, s.buf, s.cap);
      if (n === EC_ERR_MALFORMED || n === EC_ERR_UNSUPPORTED) {
        s.malformed++;
        return 0;
      }
      if (n <= 0) return n;
      const ts = ((src[4] << 24) | (src[5] << 16) | (src[6] << 8) | src[7]) >>> 0;
      const name = `${String(nextSeq()).padStart(6, "0")}.jpg`;
      try {
        fs.writeFileSync(path.join(displayDir, name), new Uint8Array(lib.x.memory.buffer, s.buf, n));
        fs.appendFileSync(displayTimes, `${stamp()} ${ts} ${name} ${n}\n`);
      } catch (e) {
        log(`video: display: ${e.message}`);
      }
      return 1;
    },
    video_rx_stats: (h, outId) => {
      const s = get(h, RX);
      if (s === null) return ERR_HANDLE;
      const lib = library.get();
      const p = lib.area(1, 8);
      const rc = lib.x.ec_wasm_rtpjpeg_depack_counts(s.st, p);
      if (rc < 0) return rc;
      const c = new Uint32Array(lib.x.memory.buffer, p, 2);
      return words(outId, [c[0], c[1], s.malformed, s.packets]);
    },
    /** Gives a sender's or receiver's memory back to the codec library's free list. */
    video_free: (h) => {
      const s = handles.get(h);
      if (!s) return ERR_HANDLE;
      handles.delete(h);
      releaseAll(library.get(), s);
      return 0;
    },
  };
}

