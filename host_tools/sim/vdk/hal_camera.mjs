// The camera for hal.vdk.camera: each frame() is the next frame of a deterministic moving test
// pattern (frame k: red = x + 4k, green = y + 2k, blue = 16 * ((x / 8) ^ (y / 8)) + k, all mod
// 256), whose first 4 bytes are overwritten with k (unsigned 32-bit big-endian), k = 1, 2, ...
// With `sim start --camera DIR`, frames are instead the raw files of DIR (sorted by name) whose
// size is exactly width * height * bytes-per-pixel, in a loop (no counter is written into them).
// RGB565 pixels are 16-bit little-endian words (r:5 g:6 b:5); RGB888 is r, g, b bytes.

import fs from "node:fs";
import path from "node:path";
import { ERR_BUFFER } from "./hal_mem.mjs";

function pattern(view, w, h, bpp, k) {
  let at = 0;
  for (let y = 0; y < h; y++) {
    const g = (y + 2 * k) & 0xff;
    for (let x = 0; x < w; x++) {
      const r = (x + 4 * k) & 0xff;
      const b = (16 * ((x >> 3) ^ (y >> 3)) + k) & 0xff;
      if (bpp === 2) {
        const v = ((r >> 3) << 11) | ((g >> 2) << 5) | (b >> 3);
        view[at++] = v & 0xff;
        view[at++] = v >> 8;
      } else {
        view[at++] = r;
        view[at++] = g;
        view[at++] = b;
      }
    }
  }
  if (view.length >= 4) {
    view[0] = (k >>> 24) & 0xff;
    view[1] = (k >>> 16) & 0xff;
    view[2] = (k >>> 8) & 0xff;
    view[3] = k & 0xff;
  }
}

/** The raw image files of `folder` (sorted by name) that are exactly `size` bytes long. */
function images(folder, size) {
  if (!folder) return [];
  try {
    return fs
      .readdirSync(folder)
      .sort()
      .map((n) => path.join(folder, n))
      .filter((p) => fs.statSync(p).isFile() && fs.statSync(p).size === size);
  } catch {
    return [];
  }
}

/**
 * One camera stream: next(view) fills a view of exactly w * h * bpp bytes with the next frame
 * (the test pattern, or the folder's files) and returns its number k (1, 2, ...). Shared by
 * hal.vdk.camera and hal.vdk.video (which encodes frames without them entering the VM's heap).
 */
export class CameraSource {
  constructor(folder, w, h, bpp) {
    this.w = w;
    this.h = h;
    this.bpp = bpp;
    this.k = 0;
    this.files = images(folder, w * h * bpp);
  }

  next(view) {
    this.k++;
    if (this.files.length > 0) view.set(fs.readFileSync(this.files[(this.k - 1) % this.files.length]));
    else pattern(view, this.w, this.h, this.bpp, this.k);
    return this.k;
  }
}

export function cameraFunctions(mem, folder) {
  const cams = new Map();
  let next = 1;

  return {
    cam_open: (w, h, bpp) => {
      if (!(w > 0 && h > 0 && (bpp === 2 || bpp === 3))) return -1;
      cams.set(next, new CameraSource(folder, w, h, bpp));
      return next++;
    },
    cam_close: (h) => (cams.delete(h) ? 0 : -1),
    /** Fills the object (exactly one frame long) with the next frame; returns its number. */
    cam_frame: (h, id) => {
      const c = cams.get(h);
      if (!c) return -1;
      const b = mem.open(id);
      if (b === null || b.view.length !== c.w * c.h * c.bpp) return ERR_BUFFER;
      const k = c.next(b.view);
      b.done();
      return k;
    },
  };
}
