// A single-producer single-consumer byte ring in a SharedArrayBuffer, shared between the
// device's main thread (the "UART") and the MicroPython worker (the "CPU").
//
// Layout: Int32 header [head, tail] (free-running byte counters, wrapping at 2^32) followed by
// `capacity` data bytes (a power of two). The producer notifies on `head`, the consumer on `tail`,
// so either side can block (Atomics.wait) or await (Atomics.waitAsync) the other.

const HEAD = 0;
const TAIL = 1;
const HEADER_BYTES = 8;

export class Ring {
  /** @param {SharedArrayBuffer} sab */
  constructor(sab) {
    this.sab = sab;
    this.ctl = new Int32Array(sab, 0, 2);
    this.data = new Uint8Array(sab, HEADER_BYTES);
    this.capacity = this.data.length;
    this.mask = this.capacity - 1;
  }

  static create(capacity) {
    if (capacity & (capacity - 1)) throw new Error("ring capacity must be a power of two");
    return new Ring(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  used() {
    return (Atomics.load(this.ctl, HEAD) - Atomics.load(this.ctl, TAIL)) >>> 0;
  }

  free() {
    return this.capacity - this.used();
  }

  /** Copies as many bytes of `bytes` as fit; returns how many were taken. */
  push(bytes) {
    const head = Atomics.load(this.ctl, HEAD);
    const n = Math.min(bytes.length, this.capacity - ((head - Atomics.load(this.ctl, TAIL)) >>> 0));
    for (let i = 0; i < n; i++) this.data[(head + i) & this.mask] = bytes[i];
    if (n > 0) {
      Atomics.store(this.ctl, HEAD, (head + n) | 0);
      Atomics.notify(this.ctl, HEAD);
    }
    return n;
  }

  /** Pushes one byte, blocking (Atomics.wait, worker only) while the ring is full. */
  pushBlocking(byte) {
    for (;;) {
      const head = Atomics.load(this.ctl, HEAD);
      const tail = Atomics.load(this.ctl, TAIL);
      if (((head - tail) >>> 0) < this.capacity) {
        this.data[head & this.mask] = byte;
        Atomics.store(this.ctl, HEAD, (head + 1) | 0);
        Atomics.notify(this.ctl, HEAD);
        return;
      }
      Atomics.wait(this.ctl, TAIL, tail, 50);
    }
  }

  /** Removes and returns up to `max` bytes (a fresh Uint8Array, possibly empty). */
  take(max = Infinity) {
    const tail = Atomics.load(this.ctl, TAIL);
    const n = Math.min(max, (Atomics.load(this.ctl, HEAD) - tail) >>> 0);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.data[(tail + i) & this.mask];
    if (n > 0) {
      Atomics.store(this.ctl, TAIL, (tail + n) | 0);
      Atomics.notify(this.ctl, TAIL);
    }
    return out;
  }

  /** Blocks (worker only) until data is available or `timeoutMs` passes; returns bytes available. */
  waitData(timeoutMs) {
    const head = Atomics.load(this.ctl, HEAD);
    if (((head - Atomics.load(this.ctl, TAIL)) >>> 0) === 0) {
      Atomics.wait(this.ctl, HEAD, head, timeoutMs);
    }
    return this.used();
  }

  /** Resolves when the producer has pushed past what was seen now (or at once if data is waiting). */
  async dataAsync() {
    const head = Atomics.load(this.ctl, HEAD);
    if (((head - Atomics.load(this.ctl, TAIL)) >>> 0) > 0) return;
    const r = Atomics.waitAsync(this.ctl, HEAD, head);
    if (r.async) await r.value;
  }

  /** Resolves when the consumer has taken something (or at once if there is room). */
  async spaceAsync() {
    const tail = Atomics.load(this.ctl, TAIL);
    if (((Atomics.load(this.ctl, HEAD) - tail) >>> 0) < this.capacity) return;
    const r = Atomics.waitAsync(this.ctl, TAIL, tail);
    if (r.async) await r.value;
  }
}
