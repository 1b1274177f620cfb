// The device's flash: a folder on the host mirrored into MicroPython's MEMFS at /flash.
//
// At boot the folder is copied in. Afterwards the host copy changes only at the points where a
// board's filesystem commits: a file opened for writing is written back when it is closed or
// flushed (fsync), and unlink, rename, mkdir and rmdir are applied at once. A write-back goes to a
// temporary file beside the target and is renamed over it, so a power cut (SIGKILL) at any moment
// leaves either the old or the new version, never a mix. Data written but not yet closed or synced
// lives only in MEMFS and is lost on a power cut, as on a board.

import fs from "node:fs";
import path from "node:path";

export const MOUNT = "/flash";
const TMP_SUFFIX = ".vdk-tmp";
const O_ACCMODE = 3;

function isTemp(name) {
  return name.startsWith(".") && name.endsWith(TMP_SUFFIX);
}

export class Flash {
  /**
   * @param FS emscripten's FS object of the MicroPython instance
   * @param {string} hostDir the device's flash folder
   */
  constructor(FS, hostDir) {
    this.FS = FS;
    this.hostDir = path.resolve(hostDir);
    this.mirroring = false;
  }

  hostPath(memPath) {
    const rel = memPath === MOUNT ? "" : memPath.slice(MOUNT.length + 1);
    return path.join(this.hostDir, rel);
  }

  inFlash(memPath) {
    return typeof memPath === "string" && (memPath === MOUNT || memPath.startsWith(MOUNT + "/"));
  }

  /** Copies the host folder into MEMFS (removing stale temporaries left by a power cut). */
  load() {
    fs.mkdirSync(this.hostDir, { recursive: true });
    this.FS.mkdir(MOUNT);
    const walk = (hostDir, memDir) => {
      for (const ent of fs.readdirSync(hostDir, { withFileTypes: true })) {
        const h = path.join(hostDir, ent.name);
        const m = `${memDir}/${ent.name}`;
        if (ent.isDirectory()) {
          this.FS.mkdir(m);
          walk(h, m);
        } else if (isTemp(ent.name)) {
          fs.rmSync(h, { force: true });
        } else if (ent.isFile()) {
          this.FS.writeFile(m, fs.readFileSync(h));
        }
      }
    };
    walk(this.hostDir, MOUNT);
  }

  /** Hooks the FS operations that commit to flash. Call after load(). */
  install() {
    const FS = this.FS;
    const self = this;
    const wrap = (name, after) => {
      const orig = FS[name];
      FS[name] = function (...args) {
        const result = orig.apply(this, args);
        if (!self.mirroring) {
          self.mirroring = true;
          try {
            after(...args);
          } finally {
            self.mirroring = false;
          }
        }
        return result;
      };
    };
    wrap("close", (stream) => this.onClose(stream));
    wrap("unlink", (p) => this.onUnlink(FS.cwd(), p));
    wrap("rmdir", (p) => this.onRmdir(FS.cwd(), p));
    wrap("mkdir", (p) => this.onMkdir(FS.cwd(), p));
    wrap("rename", (a, b) => this.onRename(FS.cwd(), a, b));
    // fsync on a MEMFS file is a no-op in emscripten; give MEMFS's shared file stream ops one.
    const probePath = "/.vdk-probe";
    FS.writeFile(probePath, new Uint8Array(0));
    const streamOps = FS.lookupPath(probePath).node.stream_ops;
    FS.unlink(probePath);
    streamOps.fsync = (stream) => {
      if (this.isWriteStream(stream)) this.writeBack(FS.getPath(stream.node));
      return 0;
    };
  }

  abs(cwd, p) {
    return path.posix.resolve(cwd, p);
  }

  isWriteStream(stream) {
    return (stream.flags & O_ACCMODE) !== 0 && stream.node && this.FS.isFile(stream.node.mode);
  }

  onClose(stream) {
    if (!this.isWriteStream(stream)) return;
    let p;
    try {
      p = this.FS.getPath(stream.node);
      this.FS.lookupPath(p); // still linked?
    } catch {
      return;
    }
    if (this.inFlash(p)) this.writeBack(p);
  }

  writeBack(memPath) {
    if (!this.inFlash(memPath)) return;
    const data = this.FS.readFile(memPath);
    const host = this.hostPath(memPath);
    const tmp = path.join(path.dirname(host), `.${path.basename(host)}${TMP_SUFFIX}`);
    fs.mkdirSync(path.dirname(host), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, host);
  }

  onUnlink(cwd, p) {
    const a = this.abs(cwd, p);
    if (this.inFlash(a)) fs.rmSync(this.hostPath(a), { force: true });
  }

  onRmdir(cwd, p) {
    const a = this.abs(cwd, p);
    if (this.inFlash(a) && a !== MOUNT) fs.rmSync(this.hostPath(a), { recursive: true, force: true });
  }

  onMkdir(cwd, p) {
    const a = this.abs(cwd, p);
    if (this.inFlash(a)) fs.mkdirSync(this.hostPath(a), { recursive: true });
  }

  onRename(cwd, from, to) {
    const a = this.abs(cwd, from);
    const b = this.abs(cwd, to);
    if (this.inFlash(a) && this.inFlash(b)) {
      fs.renameSync(this.hostPath(a), this.hostPath(b));
    } else if (this.inFlash(b)) {
      const node = this.FS.lookupPath(b).node;
      if (this.FS.isFile(node.mode)) this.writeBack(b);
    } else if (this.inFlash(a)) {
      fs.rmSync(this.hostPath(a), { recursive: true, force: true });
    }
  }
}
