// hal.vdk.net in the worker: UDP and TCP sockets whose Node side lives in the main thread
// (hal_net_host.mjs). Requests go out by postMessage; what comes back is read from the net inbox
// ring whenever Python calls in (so a synchronous polling loop works). Opening a UDP socket waits
// (Atomics.wait on the ring) for the bound port. Errors are -errno (Linux numbers, as on a board).
//
// Bounds: a UDP socket keeps at most UDP_QUEUE datagrams (the oldest are dropped and counted);
// a TCP socket asks the main thread to pause its connection above TCP_HIGH buffered bytes and to
// resume below TCP_LOW, and accepts at most TCP_WINDOW bytes not yet handed to the OS.

import os from "node:os";
import { ERR_BUFFER } from "./hal_mem.mjs";
import {
  REPLY, UDP_DATA, TCP_CONNECTED, TCP_DATA, TCP_CLOSED, TCP_SENT, takeRecord,
} from "./hal_net_wire.mjs";

const UDP_QUEUE = 32;
const TCP_HIGH = 64 * 1024;
const TCP_LOW = 16 * 1024;
const TCP_WINDOW = 64 * 1024;
const OPEN_TIMEOUT_MS = 5000;
const EBADF = 9;
const ENOTCONN = 107;
const ETIMEDOUT = 110;
const EIO = 5;

const text = new TextDecoder();

function errno(name) {
  if (!name) return 0;
  return os.constants.errno[name] ?? EIO;
}

export function netFunctions(mem, inbox, post) {
  const socks = new Map();
  let next = 1;

  function dispatch(r) {
    const s = socks.get(r.id);
    if (!s) return;
    if (r.kind === REPLY) {
      s.reply = r.payload.length ? -errno(text.decode(r.payload)) : r.port;
    } else if (r.kind === UDP_DATA) {
      s.queue.push([r.payload.slice(), r.host, r.port]);
      if (s.queue.length > UDP_QUEUE) {
        s.queue.shift();
        s.dropped++;
      }
    } else if (r.kind === TCP_CONNECTED) {
      s.state = 1;
    } else if (r.kind === TCP_DATA) {
      s.chunks.push(r.payload.slice());
      s.buffered += r.payload.length;
      if (!s.paused && s.buffered > TCP_HIGH) {
        s.paused = true;
        post({ op: "tcp_flow", id: r.id, pause: true });
      }
    } else if (r.kind === TCP_CLOSED) {
      s.state = 2;
      s.error = r.payload.length ? errno(text.decode(r.payload)) : 0;
    } else if (r.kind === TCP_SENT) {
      s.unacked -= new DataView(r.payload.buffer, r.payload.byteOffset, 4).getUint32(0, true);
    }
  }

  function poll() {
    for (let r = takeRecord(inbox); r !== null; r = takeRecord(inbox)) dispatch(r);
  }

  function sock(id, kind) {
    poll();
    const s = socks.get(id);
    return s && s.kind === kind ? s : null;
  }

  return {
    udp_open: (port, host) => {
      const id = next++;
      const s = { kind: "udp", queue: [], dropped: 0, reply: null, port: 0 };
      socks.set(id, s);
      post({ op: "udp_open", id, port, host: host || "" });
      const deadline = performance.now() + OPEN_TIMEOUT_MS;
      for (;;) {
        poll();
        if (s.reply !== null) break;
        const left = deadline - performance.now();
        if (left <= 0) {
          s.reply = -ETIMEDOUT;
          post({ op: "udp_close", id });
          break;
        }
        inbox.waitData(Math.min(left, 50));
      }
      if (s.reply < 0) {
        socks.delete(id);
        return s.reply;
      }
      s.port = s.reply;
      return id;
    },
    udp_port: (id) => sock(id, "udp")?.port ?? -EBADF,
    udp_send: (id, host, port, dataId) => {
      const s = sock(id, "udp");
      if (!s) return -EBADF;
      const data = mem.read(dataId);
      if (data === null) return ERR_BUFFER;
      post({ op: "udp_send", id, host, port, data: data.slice() });
      return data.length;
    },
    /** Length of the next queued datagram, or -1 when there is none. */
    udp_peek: (id) => {
      const s = sock(id, "udp");
      if (!s) return -EBADF;
      return s.queue.length ? s.queue[0][0].length : -1;
    },
    /** Copies the next datagram into the object (exactly its length); returns "port host". */
    udp_take: (id, bufId) => {
      const s = socks.get(id);
      if (!s || s.kind !== "udp" || s.queue.length === 0) return "";
      const [data, host, port] = s.queue[0];
      const b = mem.buf(bufId);
      if (b === null || b.len !== data.length || mem.write(bufId, data) < 0) return "";
      s.queue.shift();
      return `${port} ${host}`;
    },
    udp_dropped: (id) => sock(id, "udp")?.dropped ?? -EBADF,
    udp_close: (id) => {
      if (!socks.delete(id)) return -EBADF;
      post({ op: "udp_close", id });
      return 0;
    },
    tcp_open: (host, port) => {
      const id = next++;
      socks.set(id, {
        kind: "tcp", state: 0, error: 0, chunks: [], buffered: 0, paused: false, unacked: 0,
      });
      post({ op: "tcp_open", id, host, port });
      return id;
    },
    /** 0 connecting, 1 connected, 2 closed (by the peer, or failed: see tcp_error). */
    tcp_state: (id) => sock(id, "tcp")?.state ?? -EBADF,
    tcp_error: (id) => sock(id, "tcp")?.error ?? EBADF,
    /** Bytes buffered; 0: none yet; -1: none and the connection is closed (one poll for both). */
    tcp_avail: (id) => {
      const s = sock(id, "tcp");
      if (!s) return -EBADF;
      return s.buffered > 0 ? s.buffered : s.state === 2 ? -1 : 0;
    },
    /** Moves the first len(buf) buffered bytes (at most what tcp_avail said) into the object. */
    tcp_take: (id, bufId) => {
      const s = socks.get(id);
      if (!s || s.kind !== "tcp") return -EBADF;
      const b = mem.open(bufId);
      if (b === null || b.view.length > s.buffered) return ERR_BUFFER;
      let at = 0;
      while (at < b.view.length) {
        const c = s.chunks[0];
        const n = Math.min(c.length, b.view.length - at);
        b.view.set(c.subarray(0, n), at);
        at += n;
        if (n === c.length) s.chunks.shift();
        else s.chunks[0] = c.subarray(n);
      }
      b.done();
      s.buffered -= at;
      if (s.paused && s.buffered < TCP_LOW) {
        s.paused = false;
        post({ op: "tcp_flow", id, pause: false });
      }
      return at;
    },
    /** Queues up to the free window; returns the bytes accepted (0: try again later). */
    tcp_send: (id, dataId) => {
      const s = sock(id, "tcp");
      if (!s) return -EBADF;
      if (s.state === 2) return -(s.error || ENOTCONN);
      const data = mem.read(dataId);
      if (data === null) return ERR_BUFFER;
      const n = Math.min(data.length, TCP_WINDOW - s.unacked);
      if (n <= 0) return 0;
      s.unacked += n;
      post({ op: "tcp_send", id, data: data.slice(0, n) });
      return n;
    },
    tcp_close: (id) => {
      if (!socks.delete(id)) return -EBADF;
      post({ op: "tcp_close", id });
      return 0;
    },
  };
}
