// The device's network stack, in the main thread (device.mjs): Node dgram / net sockets driven by
// the worker's hal.vdk.net calls (postMessage {type: "net", op, ...}) and answered through the
// net inbox ring (hal_net_wire.mjs). It lives in the main thread so that traffic keeps flowing
// while the MicroPython worker is busy in a synchronous loop: what arrives waits in the ring.
//
// Flow control: datagrams that do not fit in the ring are dropped (as a board's stack drops them
// when its buffers are full). TCP data is never dropped: it waits in `pending` and the socket is
// paused while that backlog is large or while the worker asks for it (its own buffer is full).

import dgram from "node:dgram";
import net from "node:net";
import {
  REPLY, UDP_DATA, TCP_CONNECTED, TCP_DATA, TCP_CLOSED, TCP_SENT, record,
} from "./hal_net_wire.mjs";

const TCP_CHUNK = 16 * 1024;
const BACKLOG_PAUSE = 64 * 1024;

export class NetHost {
  /** @param {import("./ring.mjs").Ring} inbox */
  constructor(inbox, log) {
    this.inbox = inbox;
    this.log = log;
    this.socks = new Map();
    this.pending = [];
    this.pendingBytes = 0;
    this.waiting = false;
    this.closed = false;
    this.udpDropped = 0;
  }

  put(rec) {
    if (this.closed) return;
    if (this.pending.length === 0 && this.inbox.free() >= rec.length) {
      this.inbox.push(rec);
      return;
    }
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    this.flowControl();
    this.waitSpace();
  }

  waitSpace() {
    if (this.waiting || this.closed) return;
    this.waiting = true;
    this.inbox.spaceAsync().then(() => {
      this.waiting = false;
      this.flush();
    });
  }

  flush() {
    while (this.pending.length > 0 && this.inbox.free() >= this.pending[0].length) {
      const rec = this.pending.shift();
      this.pendingBytes -= rec.length;
      this.inbox.push(rec);
    }
    this.flowControl();
    if (this.pending.length > 0) this.waitSpace();
  }

  flowControl() {
    const backlogged = this.pendingBytes > BACKLOG_PAUSE;
    for (const s of this.socks.values()) {
      if (s.kind !== "tcp") continue;
      const pause = backlogged || s.workerPaused;
      if (pause && !s.sock.isPaused()) s.sock.pause();
      else if (!pause && s.sock.isPaused()) s.sock.resume();
    }
  }

  handle(msg) {
    if (this.closed) return;
    const op = this[`op_${msg.op}`];
    if (op) op.call(this, msg);
    else this.log(`net: unknown op ${msg.op}`);
  }

  op_udp_open({ id, port, host }) {
    const sock = dgram.createSocket(host && host.includes(":") ? "udp6" : "udp4");
    const s = { kind: "udp", sock, bound: false };
    this.socks.set(id, s);
    sock.on("error", (e) => {
      if (!s.bound) {
        this.put(record(REPLY, id, { payload: new TextEncoder().encode(e.code ?? "EIO") }));
        this.socks.delete(id);
        sock.close();
      }
    });
    sock.on("message", (data, rinfo) => {
      const rec = record(UDP_DATA, id, { host: rinfo.address, port: rinfo.port, payload: data });
      if (this.inbox.free() >= rec.length) this.inbox.push(rec);
      else this.udpDropped++;
    });
    sock.bind({ port, address: host || undefined }, () => {
      s.bound = true;
      this.put(record(REPLY, id, { port: sock.address().port }));
    });
  }

  op_udp_send({ id, host, port, data }) {
    const s = this.socks.get(id);
    if (!s || s.kind !== "udp") return;
    s.sock.send(data, port, host, (err) => {
      if (err) this.log(`net: udp send to ${host}:${port}: ${err.code ?? err.message}`);
    });
  }

  op_udp_close({ id }) {
    const s = this.socks.get(id);
    if (!s) return;
    this.socks.delete(id);
    try {
      s.sock.close();
    } catch {
      // not bound yet
    }
  }

  op_tcp_open({ id, host, port }) {
    const sock = net.connect({ host, port });
    const s = { kind: "tcp", sock, workerPaused: false, reported: false };
    this.socks.set(id, s);
    const closed = (code) => {
      if (s.reported) return;
      s.reported = true;
      this.put(record(TCP_CLOSED, id, { payload: new TextEncoder().encode(code) }));
    };
    sock.on("connect", () => this.put(record(TCP_CONNECTED, id)));
    sock.on("data", (data) => {
      for (let at = 0; at < data.length; at += TCP_CHUNK) {
        this.put(record(TCP_DATA, id, { payload: data.subarray(at, at + TCP_CHUNK) }));
      }
    });
    sock.on("error", (e) => closed(e.code ?? "EIO"));
    sock.on("close", () => {
      closed("");
      this.socks.delete(id);
    });
  }

  op_tcp_send({ id, data }) {
    const s = this.socks.get(id);
    if (!s || s.kind !== "tcp") return;
    s.sock.write(data, () => {
      const n = new Uint8Array(4);
      new DataView(n.buffer).setUint32(0, data.length, true);
      this.put(record(TCP_SENT, id, { payload: n }));
    });
  }

  op_tcp_flow({ id, pause }) {
    const s = this.socks.get(id);
    if (!s || s.kind !== "tcp") return;
    s.workerPaused = pause;
    this.flowControl();
  }

  op_tcp_close({ id }) {
    const s = this.socks.get(id);
    if (!s || s.kind !== "tcp") return;
    s.reported = true; // the worker has forgotten it
    s.sock.end();
    setTimeout(() => s.sock.destroy(), 2000).unref();
  }

  /** The worker is gone (reset): close everything. */
  close() {
    this.closed = true;
    for (const s of this.socks.values()) {
      try {
        if (s.kind === "udp") s.sock.close();
        else s.sock.destroy();
      } catch {
        // already closed
      }
    }
    this.socks.clear();
    this.pending = [];
  }
}
