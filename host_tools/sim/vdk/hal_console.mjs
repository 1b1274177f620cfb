// The UART receive demux: SMP console frames to the console buffer, everything else to the REPL.
//
// As with Zephyr's shell + mcumgr on one UART, a frame is a line that starts with 0x06 0x09
// (first frame of a packet) or 0x04 0x14 (continuation) at the start of the stream or right
// after "\n", and ends with "\n" (inclusive). A lone 0x06 / 0x04 there is held until the next
// byte decides; if none comes within HOLD_MS (100 ms; e.g. a raw-REPL command ending in "\n" followed by
// Ctrl-D, after which the host waits for the answer) it goes to the REPL.
//
// Beyond that rule, a first frame (0x06 0x09, never a continuation) is also recognised anywhere
// in REPL text: the host's SMP client sends no newline first, and what came before may be
// anything, e.g. junk or a terminal's keystrokes without a line end (Zephyr looks for the header
// at the start of each received chunk). Text never holds 0x06 0x09; the REPL loses nothing but a
// Ctrl-F that is held until the next byte (or HOLD_MS). Continuations always follow a frame's
// "\n", so a Ctrl-D at those places is not held.
//
// Complete frames are queued for hal.vdk.console.read(); the queue is bounded (CONSOLE_MAX bytes,
// the oldest frames are dropped and counted). A frame longer than CONSOLE_MAX is dropped too.
// Ctrl-C is not seen here: device.mjs handles it on arrival.
//
// The demux pulls from the RX ring whenever the REPL wants input and whenever Python polls the
// console, so a synchronous loop polling the console gets its frames while REPL bytes wait in
// `repl` (bounded by REPL_MAX; beyond it they stay in the ring, which backpressures the UART).

const LF = 0x0a;
const HOLD_MS = 100; // generous: the pacing supervisor may stall for tens of ms on a loaded machine
const CONSOLE_MAX = 8192;
const REPL_MAX = 4096;

const LINE_START = 0; // after "\n" or at the start: 0x06 and 0x04 may begin a frame
const HOLD = 2;
const FRAME = 3;
const SKIP = 4;
const SOFT_START = 5; // inside REPL text: only 0x06 may

/** The state after a byte that went to the REPL. */
function after(c) {
  return c === LF ? LINE_START : SOFT_START;
}

class ByteQueue {
  constructor() {
    this.buf = new Uint8Array(256);
    this.head = 0;
    this.tail = 0;
  }

  get length() {
    return this.tail - this.head;
  }

  push(c) {
    if (this.tail === this.buf.length) {
      const n = this.length;
      if (n * 2 > this.buf.length) {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf.subarray(this.head, this.tail));
        this.buf = bigger;
      } else {
        this.buf.copyWithin(0, this.head, this.tail);
      }
      this.head = 0;
      this.tail = n;
    }
    this.buf[this.tail++] = c;
  }

  shift() {
    const c = this.buf[this.head++];
    if (this.head === this.tail) this.head = this.tail = 0;
    return c;
  }
}

export class UartDemux {
  /** @param {import("./ring.mjs").Ring} rx the UART receive ring */
  constructor(rx) {
    this.rx = rx;
    this.repl = new ByteQueue();
    this.frames = [];
    this.consoleBytes = 0;
    this.dropped = 0; // console frames dropped (queue full or oversized)
    this.state = LINE_START;
    this.held = -1;
    this.heldAt = 0;
    this.frame = null;
    this.frameLen = 0;
  }

  /** Takes up to n bytes from the RX ring. */
  take(n) {
    return this.rx.take(n);
  }

  /** REPL bytes received and not yet taken by the REPL. */
  replWaiting() {
    return this.repl.length;
  }

  /** Moves what the RX ring holds into the REPL queue and the console buffer (Python polls). */
  pump() {
    while (this.repl.length < REPL_MAX && this.rx.used() > 0) {
      for (const c of this.take(Math.min(256, REPL_MAX - this.repl.length))) this.byte(c);
    }
    this.expire();
  }

  /**
   * The next byte for the REPL, or -1. Takes from the RX ring only up to the first REPL byte,
   * so what the REPL has not asked for stays in the ring (and survives a soft reset there).
   */
  next() {
    while (this.repl.length === 0 && this.rx.used() > 0) this.byte(this.take(1)[0]);
    if (this.repl.length === 0) this.expire();
    return this.repl.length > 0 ? this.repl.shift() : -1;
  }

  expire() {
    if (this.state === HOLD && this.rx.used() === 0 && performance.now() - this.heldAt >= HOLD_MS) {
      this.release();
    }
  }

  /** Resolves when next() may have something: RX data, or the hold time of a held byte ran out. */
  wait() {
    const data = this.rx.dataAsync();
    if (this.state !== HOLD) return data;
    const left = Math.max(1, HOLD_MS - (performance.now() - this.heldAt) + 1);
    return Promise.race([data, new Promise((resolve) => setTimeout(resolve, left))]);
  }

  /** How long a blocking reader should sleep before calling next() again. */
  pollMs(idleMs) {
    return this.state === HOLD ? Math.min(idleMs, HOLD_MS) : idleMs;
  }

  release() {
    this.repl.push(this.held);
    this.state = after(this.held);
    this.held = -1;
  }

  byte(c) {
    switch (this.state) {
      case LINE_START:
      case SOFT_START:
        if (c === 0x06 || (c === 0x04 && this.state === LINE_START)) {
          this.held = c;
          this.heldAt = performance.now();
          this.state = HOLD;
          return;
        }
        this.repl.push(c);
        this.state = after(c);
        return;
      case HOLD:
        if ((this.held === 0x06 && c === 0x09) || (this.held === 0x04 && c === 0x14)) {
          this.frame = new Uint8Array(128);
          this.frame[0] = this.held;
          this.frame[1] = c;
          this.frameLen = 2;
          this.held = -1;
          this.state = FRAME;
          return;
        }
        this.release();
        this.byte(c);
        return;
      case FRAME:
        if (this.frameLen === this.frame.length) {
          if (this.frameLen >= CONSOLE_MAX) {
            this.dropped++;
            this.frame = null;
            this.state = c === LF ? LINE_START : SKIP;
            return;
          }
          const bigger = new Uint8Array(this.frame.length * 2);
          bigger.set(this.frame);
          this.frame = bigger;
        }
        this.frame[this.frameLen++] = c;
        if (c === LF) {
          this.queue(this.frame.slice(0, this.frameLen));
          this.frame = null;
          this.state = LINE_START;
        }
        return;
      default: // SKIP: the rest of an oversized frame
        if (c === LF) this.state = LINE_START;
    }
  }

  queue(frame) {
    this.frames.push(frame);
    this.consoleBytes += frame.length;
    while (this.consoleBytes > CONSOLE_MAX) {
      this.consoleBytes -= this.frames.shift().length;
      this.dropped++;
    }
  }

  /** Takes every queued console byte (complete frames, in order). */
  takeConsole() {
    const out = new Uint8Array(this.consoleBytes);
    let at = 0;
    for (const f of this.frames) {
      out.set(f, at);
      at += f.length;
    }
    this.frames = [];
    this.consoleBytes = 0;
    return out;
  }
}

/** The `con_*` functions of `_vdkhal`. `uartWrite(bytes)` is the worker's paced TX path. */
export function consoleFunctions(demux, mem, uartWrite) {
  return {
    /** Pulls the RX ring, returns the console bytes ready (con_take then copies exactly them). */
    con_avail: () => {
      demux.pump();
      return demux.consoleBytes;
    },
    con_take: (id) => {
      const b = mem.buf(id);
      if (b === null || b.len !== demux.consoleBytes) return -100;
      return mem.write(id, demux.takeConsole());
    },
    con_write: (id) => {
      const data = mem.read(id);
      if (data === null) return -100;
      uartWrite(data.slice());
      return data.length;
    },
    con_dropped: () => demux.dropped,
  };
}
