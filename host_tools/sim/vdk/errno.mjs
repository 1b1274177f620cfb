// Makes the npm build's OSError numbers those of a board.
//
// emscripten's syscalls report WASI errno values (ENOENT is 44, EACCES is 2, ...) and the npm
// build passes them to Python unchanged, while MicroPython on a board (and mpremote, and
// MicroPython's own `errno` module) use the Linux numbers (ENOENT 2, EACCES 13). The wasm imports
// that implement syscalls are wrapped here so that their error results are translated. EAGAIN and
// EINTR stay as they are: musl's retry loops compare against its own values for those.
//
// The same wrapper lets stat("") mean the current directory, as the VFS of a board does
// (mpremote's `fs ls :` stats ""): emscripten rejects the empty path.

// WASI errno (index) -> Linux errno.
const WASI_TO_LINUX = [
  0, 7, 13, 98, 99, 97, 11, 114, 9, 74, 16, 125, 10, 103, 111, 104, 35, 89, 33, 122, 17, 14, 27,
  113, 43, 84, 115, 4, 22, 5, 106, 21, 40, 24, 31, 90, 72, 36, 100, 102, 101, 23, 105, 19, 2, 8,
  37, 67, 12, 42, 92, 28, 38, 107, 20, 39, 131, 88, 95, 25, 6, 75, 130, 1, 32, 71, 93, 91, 34,
  30, 29, 3, 116, 110, 26, 18, 1,
];
const KEEP = new Set([6, 27]); // EAGAIN, EINTR

function linux(wasi) {
  return KEEP.has(wasi) ? wasi : (WASI_TO_LINUX[wasi] ?? wasi);
}

const STAT_PATH_ARG = { __syscall_stat64: 0, __syscall_lstat64: 0, __syscall_newfstatat: 1 };

/**
 * Returns a copy of `env` with the syscall imports wrapped. `dot()` must return the address of a
 * NUL-terminated "." in linear memory (allocated once MicroPython is up), `heapU8()` a view of it.
 */
export function wrapSyscalls(env, { dot, heapU8 }) {
  const out = { ...env };
  for (const [name, fn] of Object.entries(env)) {
    if (typeof fn !== "function") continue;
    if (name.startsWith("__syscall_")) {
      const pathArg = STAT_PATH_ARG[name];
      out[name] = (...args) => {
        if (pathArg !== undefined && args[pathArg] && heapU8()[args[pathArg]] === 0) {
          args[pathArg] = dot();
        }
        const r = fn(...args);
        return typeof r === "number" && r < 0 && r > -4096 ? -linux(-r) : r;
      };
    } else if (name.startsWith("fd_")) {
      out[name] = (...args) => {
        const r = fn(...args);
        return typeof r === "number" && r > 0 ? linux(r) : r;
      };
    }
  }
  return out;
}
