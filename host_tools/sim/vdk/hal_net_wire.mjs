// The records the main thread's network stack (hal_net_host.mjs) puts into the device's net
// inbox ring for the worker (hal_net.mjs): a 12-byte header
//   u32 total length (header included), u8 kind, u8 host length, u16 port, u32 socket id
// then the host (ASCII) and the payload. A record is pushed whole or not at all.

export const HEADER = 12;
export const INBOX_CAPACITY = 256 * 1024;

export const REPLY = 1; // port: the bound port; payload: error code name (empty when ok)
export const UDP_DATA = 2; // host, port, payload: a datagram
export const TCP_CONNECTED = 3;
export const TCP_DATA = 4; // payload: received bytes
export const TCP_CLOSED = 5; // payload: error code name (empty: closed by the peer)
export const TCP_SENT = 6; // payload: u32 LE count of bytes handed to the OS

const ascii = new TextEncoder();

export function record(kind, id, { host = "", port = 0, payload = null } = {}) {
  const h = ascii.encode(host);
  const body = payload ?? new Uint8Array(0);
  const out = new Uint8Array(HEADER + h.length + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.length, true);
  out[4] = kind;
  out[5] = h.length;
  dv.setUint16(6, port, true);
  dv.setUint32(8, id, true);
  out.set(h, HEADER);
  out.set(body, HEADER + h.length);
  return out;
}

const text = new TextDecoder();

/** Takes the next whole record from the ring, or null. */
export function takeRecord(ring) {
  if (ring.used() < HEADER) return null;
  const head = ring.take(HEADER);
  const dv = new DataView(head.buffer);
  const total = dv.getUint32(0, true);
  const rest = ring.take(total - HEADER);
  const hostLen = head[5];
  return {
    kind: head[4],
    port: dv.getUint16(6, true),
    id: dv.getUint32(8, true),
    host: text.decode(rest.subarray(0, hostLen)),
    payload: rest.subarray(hostLen),
  };
}
