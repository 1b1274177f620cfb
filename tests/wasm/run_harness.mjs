// run_harness.mjs — runs a wasm32 build of the C test harness (vectors.wasm, tio_selftest.wasm)
// under Node, without npm dependencies: it supplies the `tio` imports of tests/c/tio_wasm.c,
// calls the harness's exported tio_main() and exits with its status.
//
//   node tests/wasm/run_harness.mjs HARNESS.wasm [ARGS...]
//
// Files are opened read-only relative to the project root (two levels above this file), output
// goes to stdout, the command line is ARGS joined by spaces, the exit status is tio_main()'s
// return value or tio_exit()'s argument. Status 2 for a usage error, 134 when the module traps.
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

class ExitRequest extends Error {
  constructor(status) {
    super(`tio_exit(${status})`);
    this.status = status;
  }
}

function writeAll(fd, bytes) {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err; // non-blocking pipe full: retry
    }
  }
}

async function main(argv) {
  if (argv.length < 1) {
    process.stderr.write('usage: node tests/wasm/run_harness.mjs HARNESS.wasm [ARGS...]\n');
    return 2;
  }
  const wasmPath = path.resolve(argv[0]);
  const cmdline = Buffer.from(argv.slice(1).join(' '), 'utf8');
  const files = new Map();
  let nextHandle = 0;
  let memory = null;
  const bytesAt = (ptr, len) => new Uint8Array(memory.buffer, ptr >>> 0, len >>> 0);

  const tio = {
    open(ptr, len) {
      const rel = Buffer.from(bytesAt(ptr, len)).toString('utf8');
      try {
        const fd = openSync(path.resolve(ROOT, rel), 'r');
        files.set(nextHandle, fd);
        return nextHandle++;
      } catch {
        return -1;
      }
    },
    read(handle, ptr, n) {
      const fd = files.get(handle);
      if (fd === undefined) return -1;
      try {
        return readSync(fd, bytesAt(ptr, n), 0, n >>> 0, null);
      } catch {
        return -1;
      }
    },
    close(handle) {
      const fd = files.get(handle);
      if (fd !== undefined) {
        closeSync(fd);
        files.delete(handle);
      }
    },
    write(ptr, len) {
      writeAll(1, Buffer.from(bytesAt(ptr, len)));
    },
    exit(status) {
      throw new ExitRequest(status);
    },
    cmdline(ptr, cap) {
      bytesAt(ptr, Math.min(cap >>> 0, cmdline.length)).set(cmdline.subarray(0, cap >>> 0));
      return cmdline.length;
    },
  };

  let instance;
  try {
    ({ instance } = await WebAssembly.instantiate(readFileSync(wasmPath), { tio }));
  } catch (err) {
    process.stderr.write(`run_harness: cannot load ${wasmPath}: ${err.message}\n`);
    return 2;
  }
  memory = instance.exports.memory;
  if (typeof instance.exports.tio_main !== 'function' || !memory) {
    process.stderr.write(`run_harness: ${wasmPath} exports no tio_main() or memory\n`);
    return 2;
  }
  try {
    return instance.exports.tio_main();
  } catch (err) {
    if (err instanceof ExitRequest) return err.status;
    process.stderr.write(`run_harness: ${err.stack || err}\n`);
    return 134;
  } finally {
    for (const fd of files.values()) closeSync(fd);
  }
}

process.exitCode = await main(process.argv.slice(2));
