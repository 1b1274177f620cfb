// g722_library.mjs — runs the G.722 reference vector through the wasm32 library build of
// native_codec (build/wasm/native_codec.wasm, instantiated with no imports, as the virtual devkit
// does) and prints JSON: for the encoder and each decoder mode, whether the output equals the
// ITU reference file.   usage: node g722_library.mjs LIBRARY.wasm TESTDATA_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const [wasmPath, td] = process.argv.slice(2);
const { instance: { exports: x } } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const g722 = join(td, 'itu-stl', 'g722');

const le16 = (buf) => new Int16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + (buf.length & ~1)));
const lowBytes = (buf) => Uint8Array.from(le16(buf), (w) => w & 0xff);
const equal = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);

function alloc(bytes) {
  const p = x.ec_wasm_alloc(bytes);
  if (!p) throw new Error(`ec_wasm_alloc(${bytes}) failed`);
  return p;
}

const pcm = le16(readFileSync(join(g722, 'inpsp.bin')));
const refCodes = lowBytes(readFileSync(join(g722, 'codspw.cod')));
const result = { samples: pcm.length };

// encode
x.ec_wasm_reset();
const enc = alloc(x.ec_g722_enc_state_size());
if (x.ec_g722_enc_init(enc, x.ec_g722_enc_state_size(), 64000) !== 0) throw new Error('enc init');
const pIn = alloc(pcm.length * 2);
const pOut = alloc(pcm.length / 2);
new Int16Array(x.memory.buffer, pIn, pcm.length).set(pcm);
const n = x.ec_g722_encode(enc, pIn, pcm.length, pOut, pcm.length / 2);
result.encode_equal = n === refCodes.length && equal(new Uint8Array(x.memory.buffer, pOut, n), refCodes);

// decode in modes 1, 2, 3
for (const [mode, rate] of [[1, 64000], [2, 56000], [3, 48000]]) {
  x.ec_wasm_reset();
  const dec = alloc(x.ec_g722_dec_state_size());
  if (x.ec_g722_dec_init(dec, x.ec_g722_dec_state_size(), rate) !== 0) throw new Error('dec init');
  const pc = alloc(refCodes.length);
  const ps = alloc(refCodes.length * 4);
  new Uint8Array(x.memory.buffer, pc, refCodes.length).set(refCodes);
  const m = x.ec_g722_decode(dec, pc, refCodes.length, ps, refCodes.length * 2);
  const ref = le16(readFileSync(join(g722, `outsp${mode}.bin`)));
  result[`decode_mode${mode}_equal`] = m === ref.length && equal(new Int16Array(x.memory.buffer, ps, m), ref);
}
console.log(JSON.stringify(result));
