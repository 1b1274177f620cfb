// Caps the MicroPython GC heap at the size it was initialised with.
//
// The npm build enables MICROPY_GC_SPLIT_HEAP_AUTO: when the heap is full the GC mallocs a new
// area (at least as large as the whole heap so far) from emscripten's C heap, so a 192 KiB device
// would quietly grow to megabytes. The linear memory here cannot grow (its maximum equals its
// initial size, see wasm_shared.mjs), so taking every free byte of the C heap, except a small
// reserve for the JS glue's own mallocs, makes such growth fail: the GC then raises MemoryError,
// as on a board.

/** Returns the number of bytes held. */
export function capHeap(mod, heapBytes) {
  const reserve = Math.max(4096, Math.min(64 * 1024, Math.floor(heapBytes / 2)));
  const reserved = mod._malloc(reserve);
  if (!reserved) throw new Error("heapcap: cannot reserve glue memory");
  let held = 0;
  for (let size = 1 << 26; size >= 16; ) {
    if (mod._malloc(size)) held += size;
    else size >>= 1;
  }
  mod._free(reserved);
  return held;
}
