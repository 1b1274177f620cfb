// The device's CPU: one MicroPython instance (the official npm WebAssembly build) in a worker
// thread. One worker lives from a reset to the next; a soft or hard reset is a new worker.
//
// It reads the UART receive ring, writes the transmit ring, and is a thin front end to the npm
// build's event-driven REPL: it declines raw-paste (answers "R\x00", mpremote then uses the plain
// raw REPL), and turns Ctrl-D / SystemExit into a soft reset (the main thread restarts it).
//
// The REPL runs beside the application here (on a board the application owns the UART), and what
// it holds before running it (a line, a paste-mode block, a raw-REPL block) lives in the heap the
// application uses. Unbounded input (junk that enters paste mode and never sends Ctrl-D) would
// fill that heap, and a MemoryError inside the REPL has no handler (nlr_jump_fail spins: the
// device is dead until power-cycled). So input the REPL holds beyond REPL_HOLD_MAX bytes is
// cancelled with Ctrl-C, as a user would, and the device log says so.

import { parentPort, workerData } from "node:worker_threads";
import { createRequire } from "node:module";
import { capHeap } from "./heapcap.mjs";
import { Flash, MOUNT } from "./flash.mjs";
import { probe } from "./probe.mjs";
import { Ring } from "./ring.mjs";
import { bootSource } from "./machine.mjs";
import { wrapSyscalls } from "./errno.mjs";
import { installHal } from "./hal_vdk.mjs";

const require = createRequire(import.meta.url);
const PYEXEC_FORCED_EXIT = 0x100;
const RAW_BANNER = "raw REPL; CTRL-B to exit\r\n";
const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;
const REPL_HOLD_MAX = 32 * 1024;

const { memory, module, rxSab, txSab, heap, pystack, flashDir, uid, mode: startMode, resetCause } =
  workerData;
let demux = null; // the UART receive demux (hal_console.mjs): SMP console frames vs the REPL
const rx = new Ring(rxSab);
const tx = new Ring(txSab);
const encoder = new TextEncoder();

// The npm loader instantiates the binary it reads from disk; hand it the precompiled module with
// the shared memory instead (see wasm_shared.mjs).
// Its syscalls are wrapped too, for board errno numbers (see errno.mjs).
let dotPtr = 0;
const instantiate = WebAssembly.instantiate.bind(WebAssembly);
WebAssembly.instantiate = async (_binary, imports) => {
  const syscalls = {
    dot: () => dotPtr,
    heapU8: () => new Uint8Array(memory.buffer),
  };
  const env = { ...wrapSyscalls(imports.env, syscalls), memory };
  const wasi = wrapSyscalls(imports.wasi_snapshot_preview1, syscalls);
  const instance = await instantiate(module, { ...imports, env, wasi_snapshot_preview1: wasi });
  return { module, instance };
};

let halted = false;
let outTail = "";
let muted = false;
let inRepl = false; // while the REPL handles a received byte (its echo, and what a line runs)
function out(byte) {
  if (muted) return;
  outTail = (outTail + String.fromCharCode(byte)).slice(-RAW_BANNER.length - 1);
  // A flooded REPL sheds its output rather than stall the UART's receive side: with the transmit
  // FIFO full and more input waiting, its echo would hold everything behind it (SMP requests
  // too) to the line rate of its output, which junk multiplies (line redraws).
  if (inRepl && tx.free() === 0 && (rx.used() > 0 || demux.replWaiting() > 0)) return;
  tx.pushBlocking(byte);
}
function write(text) {
  for (const b of encoder.encode(text)) out(b);
}

function stdinChar() {
  // sys.stdin reads block like a UART read; EOF only if interrupted.
  for (;;) {
    const c = demux.next();
    if (c >= 0) return c;
    rx.waitData(demux.pollMs(50));
    if (interruptPending()) return null;
  }
}

let kbdWords = null;
function interruptPending() {
  if (!kbdWords) return false;
  const h = new Int32Array(memory.buffer);
  return kbdWords.some(([addr, value]) => value !== 0 && h[addr >> 2] === value);
}

// emscripten reports each refused memory growth on console.error; with the heap capped (see
// heapcap.mjs) a refusal is the expected outcome, so those lines are dropped. The loader binds
// console.error when it runs, which is why this comes first.
const consoleError = console.error.bind(console);
console.error = (...args) => {
  const text = String(args[0] ?? "");
  if (/^(growMemory|Failed to grow the heap|Cannot enlarge memory)/.test(text)) return;
  consoleError(...args);
};

const { loadMicroPython } = await import(
  require.resolve("@micropython/micropython-webassembly-pyscript")
);
const mp = await loadMicroPython({
  heapsize: heap,
  pystack,
  linebuffer: false,
  stdout: (bytes) => bytes.forEach(out),
  stderr: (bytes) => bytes.forEach(out),
  stdin: stdinChar,
});
const mod = mp._module;
dotPtr = mod._malloc(2);
new Uint8Array(memory.buffer).set([0x2e, 0], dotPtr);
capHeap(mod, heap);

// The npm build cannot scan wasm locals, so its GC only collects when control is back at the top
// level in JS (after a REPL char, runPython, ...), never inside a call from JS into Python such as
// the npm asyncio's timer callbacks. A no-op top-level call after each timer or promise callback
// gives the pending collection its chance, so asyncio apps whose tasks sleep or wait run in the
// capped heap as on a board. (Code that never returns to JS, e.g. a synchronous loop, cannot be
// collected until it does: a limit of the npm build.)
let lastCollect = 0;
function collectAtTopLevel() {
  const now = performance.now();
  if (now - lastCollect < 0.25 || halted) return;
  lastCollect = now;
  mp.runPython("");
}
const afterCallback =
  (fn) =>
  (...args) => {
    try {
      return fn(...args);
    } finally {
      collectAtTopLevel();
    }
  };
for (const name of ["setTimeout", "setInterval", "setImmediate"]) {
  const orig = globalThis[name];
  globalThis[name] = (fn, ...rest) => orig(typeof fn === "function" ? afterCallback(fn) : fn, ...rest);
}
const then = Promise.prototype.then;
Promise.prototype.then = function (onFulfilled, onRejected) {
  return then.call(
    this,
    typeof onFulfilled === "function" ? afterCallback(onFulfilled) : onFulfilled,
    typeof onRejected === "function" ? afterCallback(onRejected) : onRejected,
  );
};

const flash = new Flash(mp.FS, flashDir);
for (const dir of ["/home/web_user", "/home", "/tmp"]) {
  try {
    mp.FS.rmdir(dir);
  } catch {
    // already gone
  }
}
flash.load();
flash.install();

const probed = probe(mp, memory);
kbdWords = probed.kbd;

function halt(message) {
  halted = true;
  parentPort.postMessage(message);
  // Never return to Python: the main thread terminates this worker.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}

mp.registerJsModule("_vdk", {
  uid,
  reset_cause: resetCause,
  reset: () => halt({ type: "reset", kind: "hard" }),
  bootloader: () => halt({ type: "bootloader" }),
});
({ demux } = installHal(mp, {
  ...workerData,
  rx,
  post: (msg) => parentPort.postMessage(msg),
  uartWrite: (bytes) => bytes.forEach((b) => tx.pushBlocking(b)),
  log: (text) => process.stderr.write(`[vdk worker] ${text}\n`),
}));
mp.runPython(bootSource(MOUNT));
parentPort.postMessage({ type: "probe", probe: probed });

let mode = startMode;

/** Runs a flash file like a board's pyexec_file(); returns true when it asked for a soft reset. */
function runFile(name) {
  try {
    return mp.runPython(`__import__("_vdkboot").run(${JSON.stringify(name)})`) === true;
  } catch (e) {
    write(`${e.message ?? e}\r\n`);
    return false;
  }
}

function softReset() {
  write("MPY: soft reboot\r\n");
  halt({ type: "reset", kind: "soft", mode });
}

let rawLen = 0;
let pasteMatch = 0;
let held = 0; // bytes the friendly REPL may hold (its line, continuation or paste block)

function processChar(c) {
  if (mode === "raw") {
    if (c === CTRL_B) mode = "friendly";
    rawLen = c === CTRL_A || c === CTRL_C || c === CTRL_D ? 0 : rawLen + 1;
  } else {
    held++;
  }
  inRepl = true;
  let ret;
  try {
    ret = mp.replProcessChar(c);
  } finally {
    inRepl = false;
  }
  if (outTail.endsWith(RAW_BANNER + ">") || outTail.endsWith(RAW_BANNER)) {
    mode = "raw";
    rawLen = 0;
  }
  // The primary prompt after a byte that ends input: the REPL holds nothing any more. (Typed
  // text cannot fake it: paste mode answers those bytes with "=== ", raw mode echoes nothing.)
  if (c <= CTRL_D || c === 0x0a || c === 0x0d) {
    if (outTail.endsWith(">>> ")) held = 0;
  }
  if (ret & PYEXEC_FORCED_EXIT) softReset();
  else if (mode === "raw" ? rawLen > REPL_HOLD_MAX : held > REPL_HOLD_MAX) {
    process.stderr.write(`[vdk worker] REPL input over ${REPL_HOLD_MAX} bytes not run: cancelled (Ctrl-C)\n`);
    mp.replProcessChar(CTRL_C);
    rawLen = 0;
    held = 0;
  }
}

/**
 * A Ctrl-C that the main thread turned into a pending KeyboardInterrupt just as the code finished
 * would fire in the next command; at the prompt it is dropped instead.
 */
function dropStaleInterrupt() {
  if (mod._mp_hal_get_interrupt_char() !== -1) return;
  const h = new Int32Array(memory.buffer);
  for (const [addr, value, idle] of kbdWords) {
    if (value !== 0 && h[addr >> 2] === value) Atomics.store(h, addr >> 2, idle);
  }
}

/** One received byte: raw-paste requests are declined here, everything else goes to the REPL. */
function feed(c) {
  dropStaleInterrupt();
  if (pasteMatch === 1) {
    pasteMatch = 0;
    if (c === 0x41) {
      pasteMatch = 2;
      return;
    }
    processChar(CTRL_E);
    processChar(c);
    return;
  }
  if (pasteMatch === 2) {
    pasteMatch = 0;
    if (c === CTRL_A) {
      write("R\x00");
      return;
    }
    processChar(CTRL_E);
    processChar(0x41);
    processChar(c);
    return;
  }
  if (mode === "raw" && rawLen === 0 && c === CTRL_E) {
    pasteMatch = 1;
    return;
  }
  processChar(c);
}

function boot() {
  const reset = runFile("boot.py");
  parentPort.postMessage({ type: "ready" }); // boot.py done: what `sim start` waits for
  if (reset) return softReset();
  if (mode === "friendly" && runFile("main.py")) return softReset();
  // After a reset in raw mode a board prints only the raw REPL banner, not the friendly one.
  muted = mode === "raw";
  mp.replInit();
  muted = false;
  if (mode === "raw") {
    mode = "friendly";
    processChar(CTRL_A);
  }
}

boot();
// Atomics.waitAsync does not keep a worker's event loop alive by itself.
setInterval(() => {}, 1 << 30);
while (!halted) {
  await demux.wait();
  for (let c = demux.next(); c >= 0 && !halted; c = demux.next()) feed(c);
}
