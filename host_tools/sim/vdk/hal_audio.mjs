// Audio for hal.vdk.audio: a microphone that plays a host WAV file in real time and a speaker
// that records into host files.
//
// Microphone: frame k (k = 1, 2, ...) becomes readable `k` frame periods after the stream was
// opened, as from an I2S DMA ring; if the reader falls more than MIC_RING frames behind, the
// oldest are overwritten (counted in `overruns`), so the stream stays in real time. After the
// end of the file the microphone gives silence. No file: silence.
// Speaker: every frame written is appended to <state>/speaker.raw (16-bit LE mono) and a line
// "<unix seconds> <byte offset> <bytes>" to <state>/speaker.times; the microphone logs the
// frames it delivers to <state>/mic.times the same way (offsets into the WAV's samples), so a
// HIL runner can align what was received with what was sent. `sim start` truncates them.

import fs from "node:fs";
import path from "node:path";
import { ERR_BUFFER } from "./hal_mem.mjs";

const MIC_RING = 8;
export const ERR_WAV = -110; // not a 16-bit mono PCM WAV file (or unreadable)
export const ERR_RATE = -111; // its rate is not the stream's

/** {rate, pcm: Uint8Array} of a 16-bit mono PCM WAV file, or an error code. */
export function readWav(file) {
  let data;
  try {
    data = fs.readFileSync(file);
  } catch {
    return ERR_WAV;
  }
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tag = (at) => data.toString("latin1", at, at + 4);
  if (data.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") return ERR_WAV;
  let fmt = null;
  for (let at = 12; at + 8 <= data.length; ) {
    const id = tag(at);
    const size = dv.getUint32(at + 4, true);
    const body = at + 8;
    if (id === "fmt " && size >= 16) {
      fmt = {
        format: dv.getUint16(body, true),
        channels: dv.getUint16(body + 2, true),
        rate: dv.getUint32(body + 4, true),
        bits: dv.getUint16(body + 14, true),
      };
    } else if (id === "data" && fmt) {
      const pcmFormat = fmt.format === 1 || fmt.format === 0xfffe;
      if (!pcmFormat || fmt.channels !== 1 || fmt.bits !== 16) return ERR_WAV;
      const end = Math.min(data.length, body + size) & ~1;
      return { rate: fmt.rate, pcm: new Uint8Array(data.buffer, data.byteOffset + body, end - body) };
    }
    at = body + size + (size & 1);
  }
  return ERR_WAV;
}

export function audioFunctions(mem, stateDir, defaultMic) {
  const streams = new Map();
  let next = 1;
  let mic = defaultMic || null;
  const speakerRaw = path.join(stateDir, "speaker.raw");
  const speakerTimes = path.join(stateDir, "speaker.times");
  const micTimes = path.join(stateDir, "mic.times");

  function ready(s) {
    const due = Math.floor((performance.now() - s.t0) / s.frameMs);
    if (due - s.taken > MIC_RING) {
      s.overruns += due - s.taken - MIC_RING;
      s.taken = due - MIC_RING;
    }
    return due > s.taken;
  }

  return {
    /** Sets the microphone file for streams opened from now on ("" = silence). */
    audio_set_mic: (file) => {
      mic = file || null;
      return 0;
    },
    audio_open: (rate, frameMs, micFile, speakerFile) => {
      if (!(rate > 0) || !(frameMs > 0) || (rate * frameMs) % 1000 !== 0) return -1;
      let pcm = null;
      const src = micFile || mic;
      if (src) {
        const wav = readWav(src);
        if (typeof wav === "number") return wav;
        if (wav.rate !== rate) return ERR_RATE;
        pcm = wav.pcm;
      }
      const h = next++;
      streams.set(h, {
        frameBytes: (rate * frameMs * 2) / 1000,
        frameMs,
        t0: performance.now(),
        taken: 0,
        overruns: 0,
        pcm,
        speaker: speakerFile || speakerRaw,
        speakerTimes: speakerFile ? `${speakerFile}.times` : speakerTimes,
      });
      return h;
    },
    audio_close: (h) => (streams.delete(h) ? 0 : -1),
    /** Bytes of the next microphone frame if one is due, else 0. */
    audio_ready: (h) => {
      const s = streams.get(h);
      if (!s) return -1;
      return ready(s) ? s.frameBytes : 0;
    },
    /** Copies the next due frame into the object (exactly one frame long); 0 if none is due. */
    audio_read: (h, id) => {
      const s = streams.get(h);
      if (!s) return -1;
      const b = mem.open(id);
      if (b === null || b.view.length !== s.frameBytes) return ERR_BUFFER;
      if (!ready(s)) return 0;
      const at = s.taken * s.frameBytes;
      s.taken++;
      b.view.fill(0);
      if (s.pcm !== null && at < s.pcm.length) b.view.set(s.pcm.subarray(at, at + s.frameBytes));
      b.done();
      fs.appendFileSync(micTimes, `${(Date.now() / 1000).toFixed(3)} ${at} ${s.frameBytes}\n`);
      return s.frameBytes;
    },
    audio_overruns: (h) => streams.get(h)?.overruns ?? -1,
    audio_write: (h, id) => {
      const s = streams.get(h);
      const data = mem.read(id);
      if (!s) return -1;
      if (data === null) return ERR_BUFFER;
      let offset = 0;
      try {
        offset = fs.statSync(s.speaker).size;
      } catch {
        offset = 0;
      }
      fs.appendFileSync(s.speaker, data);
      fs.appendFileSync(s.speakerTimes, `${(Date.now() / 1000).toFixed(3)} ${offset} ${data.length}\n`);
      return data.length;
    },
  };
}
