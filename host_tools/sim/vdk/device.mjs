// One virtual devkit:
//   node device.mjs --flash DIR --uid HEX [--heap BYTES] [--reset-cause N] [--control-fd FD]
//                   [--state-dir DIR] [--mic WAV] [--camera DIR]
//
// stdin/stdout are the device's UART (the Python supervisor connects them to a pty and paces
// them at the line's baud rate); the control fd, if given, receives one JSON line per event
// ({"event": "ready" | "bootloader" | "reset"}) for the supervisor. stderr is the device log.
//
// This main thread is the UART and the reset circuit. It owns the receive/transmit rings and the
// MicroPython worker (worker.mjs), restarting it on a soft reset. On Ctrl-C while code runs it
// makes the stores of mp_sched_keyboard_interrupt() in the worker's shared memory, which is what
// a board's UART interrupt does. machine.reset() exits with HARD_RESET_EXIT so the supervisor
// starts a new process on the same pty. It is also the network stack of hal.vdk.net
// (hal_net_host.mjs); the state dir (default: the flash folder's parent) holds the files of the
// other hal parts, the microphone plays the WAV file and the camera shows the folder's images.

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import { Ring } from "./ring.mjs";
import { NetHost } from "./hal_net_host.mjs";
import { INBOX_CAPACITY } from "./hal_net_wire.mjs";
import { shareMemory } from "./wasm_shared.mjs";

const require = createRequire(import.meta.url);
const HARD_RESET_EXIT = 42;
const RX_CAPACITY = 1024;
const TX_CAPACITY = 1024;

function parseArgs(argv) {
  const opts = {
    heap: 192 * 1024,
    pystack: 2048,
    flash: null,
    uid: "00",
    resetCause: 1,
    controlFd: null,
    stateDir: null,
    mic: null,
    camera: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === "--heap") opts.heap = parseInt(v, 10);
    else if (k === "--flash") opts.flash = v;
    else if (k === "--uid") opts.uid = v;
    else if (k === "--reset-cause") opts.resetCause = parseInt(v, 10);
    else if (k === "--control-fd") opts.controlFd = parseInt(v, 10);
    else if (k === "--state-dir") opts.stateDir = v;
    else if (k === "--mic") opts.mic = v;
    else if (k === "--camera") opts.camera = v;
    else throw new Error(`unknown argument ${k}`);
    i++;
  }
  if (!opts.flash) throw new Error("--flash DIR is required");
  opts.stateDir ??= path.dirname(path.resolve(opts.flash));
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const log = (msg) => {
  // Lines are cut: an error inside the minified npm bundle would otherwise print all of it.
  const text = String(msg)
    .split("\n")
    .map((l) => (l.length > 400 ? l.slice(0, 400) + "…" : l))
    .join("\n");
  process.stderr.write(`[vdk ${new Date().toISOString()}] ${text}\n`);
};

const control = opts.controlFd;
function notify(event, extra = {}) {
  if (control !== null) fs.writeSync(control, JSON.stringify({ event, ...extra }) + "\n");
}

const wasmPath = path.join(
  path.dirname(require.resolve("@micropython/micropython-webassembly-pyscript")),
  "micropython.wasm",
);
const shared = shareMemory(fs.readFileSync(wasmPath), 0);
const wasmModule = new WebAssembly.Module(shared.binary);

const rx = Ring.create(RX_CAPACITY);
const tx = Ring.create(TX_CAPACITY);

// ---- transmit: drain the TX ring into stdout, one write in flight (backpressure to the worker)
// stdout is a small pipe that Node may have made non-blocking: a full pipe (the supervisor paces
// its reads at the line rate) is EAGAIN, and a write may be partial; both are retried.
function writeAll(chunk) {
  return new Promise((resolve, reject) => {
    const attempt = (at) =>
      fs.write(1, chunk, at, chunk.length - at, null, (err, n) => {
        if (err && err.code === "EAGAIN") setTimeout(() => attempt(at), 2);
        else if (err) reject(err);
        else if (at + n < chunk.length) attempt(at + n);
        else resolve();
      });
    attempt(0);
  });
}
async function pumpTx() {
  for (;;) {
    await tx.dataAsync();
    const chunk = tx.take();
    if (chunk.length === 0) continue;
    await writeAll(chunk);
  }
}
pumpTx().catch((e) => {
  log(`tx: ${e.message}`);
  process.exit(1);
});

// ---- the CPU
let worker = null;
let probe = null;
let memory = null;
let firstBoot = true;
let netHost = null;

function interruptChar() {
  if (!probe) return -1;
  return new Int32Array(memory.buffer)[probe.intrCharAddr >> 2];
}

function keyboardInterrupt() {
  const h = new Int32Array(memory.buffer);
  for (const [addr, value] of probe.kbd) Atomics.store(h, addr >> 2, value);
}

function startWorker(mode, resetCause) {
  probe = null;
  netHost?.close();
  const inbox = Ring.create(INBOX_CAPACITY);
  netHost = new NetHost(inbox, log);
  const net = netHost;
  memory = new WebAssembly.Memory({
    initial: shared.initial,
    maximum: shared.maximum,
    shared: true,
  });
  const w = new Worker(new URL("./worker.mjs", import.meta.url), {
    workerData: {
      memory,
      module: wasmModule,
      rxSab: rx.sab,
      txSab: tx.sab,
      heap: opts.heap,
      pystack: opts.pystack,
      flashDir: opts.flash,
      uid: opts.uid,
      mode,
      resetCause,
      stateDir: opts.stateDir,
      mic: opts.mic,
      camera: opts.camera,
      inboxSab: inbox.sab,
    },
    stdout: false,
    stderr: false,
  });
  worker = w;
  w.on("message", (msg) => {
    if (w !== worker) return;
    if (msg.type === "net") {
      net.handle(msg);
    } else if (msg.type === "probe") {
      probe = msg.probe;
    } else if (msg.type === "ready") {
      if (firstBoot) notify("ready");
      firstBoot = false;
    } else if (msg.type === "reset" && msg.kind === "soft") {
      w.terminate();
      startWorker(msg.mode, 5);
    } else if (msg.type === "reset") {
      notify("reset");
      drainThenExit(HARD_RESET_EXIT);
    } else if (msg.type === "bootloader") {
      w.terminate();
      worker = null;
      probe = null;
      netHost.close();
      notify("bootloader");
      log("bootloader mode: application stopped (SMP lands with a later issue)");
    }
  });
  w.on("error", (e) => {
    if (w !== worker) return;
    log(`worker error: ${e.stack ?? e}`);
    process.exit(1);
  });
}

function drainThenExit(code) {
  const check = () => {
    if (tx.used() === 0) process.exit(code);
    setTimeout(check, 5);
  };
  check();
}

// ---- receive: stdin into the RX ring. Like a board's UART interrupt, every byte is checked on
// arrival: the interrupt char (Ctrl-C while code runs) becomes a KeyboardInterrupt and is dropped.
const pending = [];
let paused = false;

function deliver() {
  while (pending.length) {
    const chunk = pending[0];
    const n = worker === null ? chunk.length : rx.push(chunk); // bootloader: nothing listens yet
    if (n < chunk.length) {
      pending[0] = chunk.subarray(n);
      if (!paused) {
        paused = true;
        process.stdin.pause();
      }
      rx.spaceAsync().then(deliver);
      return;
    }
    pending.shift();
  }
  if (paused) {
    paused = false;
    process.stdin.resume();
  }
}

process.stdin.on("data", (data) => {
  const intr = interruptChar();
  let bytes = data;
  if (intr >= 0 && data.includes(intr)) {
    keyboardInterrupt();
    bytes = data.filter((c) => c !== intr);
  }
  if (bytes.length === 0) return;
  pending.push(bytes);
  if (pending.length === 1) deliver();
});
process.stdin.on("end", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));

startWorker("friendly", opts.resetCause);
