// Rewrites the MicroPython wasm binary so that its linear memory is imported as a *shared*
// WebAssembly.Memory instead of being defined inside the module.
//
// Why: the npm build has no VM poll hook, so a busy Python loop never calls out to JS. With the
// memory shared, the device's main thread can do what a UART receive interrupt does on a board:
// write MicroPython's pending-exception words (see probe.mjs) while the VM runs in a worker.
//
// The rewrite is purely structural (WebAssembly binary format, sections 2 "import" and
// 5 "memory"): the single defined memory is removed and an import env.memory with the same
// limits, flagged shared, is appended. Memory index 0 keeps meaning the same memory, so code,
// data segments and the "memory" export are untouched.

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;

function readLeb(buf, pos) {
  let result = 0;
  let shift = 0;
  let byte;
  do {
    byte = buf[pos++];
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [result, pos];
}

function leb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function nameBytes(s) {
  const b = Buffer.from(s, "utf8");
  return [...leb(b.length), ...b];
}

/** Parses the top-level sections: [{id, header, start, end}]; start..end is the payload. */
function sections(buf) {
  const out = [];
  let pos = 8;
  while (pos < buf.length) {
    const header = pos;
    const id = buf[pos++];
    let size;
    [size, pos] = readLeb(buf, pos);
    out.push({ id, header, start: pos, end: pos + size });
    pos += size;
  }
  return out;
}

/**
 * Returns {binary, initial, maximum}: `binary` imports env.memory (shared), with the module's own
 * initial page count and the given maximum (pages).
 */
export function shareMemory(binary, maximumPages) {
  const buf = Buffer.from(binary);
  if (buf.readUInt32LE(0) !== 0x6d736100) throw new Error("not a wasm binary");
  const secs = sections(buf);
  const mem = secs.find((s) => s.id === SECTION_MEMORY);
  const imp = secs.find((s) => s.id === SECTION_IMPORT);
  if (!mem || !imp) throw new Error("wasm binary has no memory or import section");
  let pos = mem.start;
  let count;
  [count, pos] = readLeb(buf, pos);
  if (count !== 1) throw new Error(`expected one memory, found ${count}`);
  const flags = buf[pos++];
  let initial;
  [initial, pos] = readLeb(buf, pos);
  const maximum = Math.max(initial, maximumPages);
  if (flags & 0x04) throw new Error("memory64 is not supported");

  let ipos = imp.start;
  let nimports;
  [nimports, ipos] = readLeb(buf, ipos);
  const entry = [
    ...nameBytes("env"),
    ...nameBytes("memory"),
    0x02, // import kind: memory
    0x03, // limits: has maximum, shared
    ...leb(initial),
    ...leb(maximum),
  ];
  const importPayload = Buffer.concat([
    Buffer.from(leb(nimports + 1)),
    buf.subarray(ipos, imp.end),
    Buffer.from(entry),
  ]);

  const parts = [buf.subarray(0, 8)];
  let prev = 8;
  for (const s of secs) {
    const headerStart = s.header;
    if (s.id === SECTION_IMPORT) {
      parts.push(buf.subarray(prev, headerStart));
      parts.push(Buffer.from([SECTION_IMPORT, ...leb(importPayload.length)]), importPayload);
      prev = s.end;
    } else if (s.id === SECTION_MEMORY) {
      parts.push(buf.subarray(prev, headerStart));
      prev = s.end;
    }
  }
  parts.push(buf.subarray(prev));
  return { binary: Buffer.concat(parts), initial, maximum };
}
