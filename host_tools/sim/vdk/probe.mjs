// Finds, in a freshly initialised MicroPython instance, the linear-memory words that the device's
// main thread must write to interrupt running code, and the word that holds the interrupt char.
//
// The npm build exports mp_sched_keyboard_interrupt() (what a board's UART IRQ calls on Ctrl-C)
// but the VM runs in a worker, and a call can only come from the thread that owns the instance.
// With the memory shared (wasm_shared.mjs) the main thread can make the same stores instead; this
// module learns which stores by diffing memory around one call of the export. Likewise it learns
// where mp_interrupt_char lives by setting it twice through micropython.kbd_intr().

function snapshot(memory) {
  return new Int32Array(memory.buffer.slice(0));
}

function diff(before, after) {
  const out = [];
  const n = Math.min(before.length, after.length);
  for (let i = 0; i < n; i++) {
    if (before[i] !== after[i]) out.push([i * 4, before[i], after[i]]);
  }
  return out;
}

/**
 * Returns {kbd: [[addr, value, idleValue], ...], intrCharAddr}. Leaves the interpreter as it found it
 * (no pending exception, interrupt char restored).
 */
export function probe(mp, memory) {
  const mod = mp._module;
  const heap32 = () => new Int32Array(memory.buffer);

  // Raise one KeyboardInterrupt first so that the exception's traceback pointer is non-NULL: the
  // export resets it to NULL, and the main thread has to do the same.
  mod._mp_sched_keyboard_interrupt();
  try {
    mp.runPython("for _ in range(4):\n    pass\n");
  } catch (e) {
    if (e.type !== "KeyboardInterrupt") throw e;
  }
  // The raise leaves the scheduler state PENDING; one more loop runs the scheduler back to IDLE,
  // so that the diff below sees the IDLE -> PENDING store too.
  mp.runPython("for _ in range(4):\n    pass\n");

  const before = snapshot(memory);
  mod._mp_sched_keyboard_interrupt();
  const after = snapshot(memory);
  const changed = diff(before, after);
  if (changed.length === 0 || changed.length > 4) {
    throw new Error(`probe: mp_sched_keyboard_interrupt changed ${changed.length} words`);
  }
  // Undo: the pending exception must not fire on the first line the user types.
  const h = heap32();
  for (const [addr, old] of changed) h[addr >> 2] = old;
  // Order of the main thread's stores: the traceback pointer (a pointer becoming NULL), then the
  // pending exception (NULL becoming a pointer), the scheduler state (IDLE -> PENDING) last: the
  // VM reads the exception only after it sees the scheduler state change.
  const rank = ([, old, value]) => (value === 0 && old > 1 ? 0 : value !== 0 ? 1 : 2);
  const kbd = [...changed].sort((a, b) => rank(a) - rank(b)).map(([addr, old, value]) => [addr, value, old]);

  const original = mod._mp_hal_get_interrupt_char();
  const s0 = snapshot(memory);
  mp.runPython("import micropython\nmicropython.kbd_intr(0x5a)\n");
  const s1 = snapshot(memory);
  mp.runPython("micropython.kbd_intr(0x4b)\n");
  const s2 = snapshot(memory);
  mp.runPython(`micropython.kbd_intr(${original})\ndel micropython\n`);
  const candidates = [];
  for (let i = 0; i < s1.length; i++) {
    if (s1[i] === 0x5a && s2[i] === 0x4b && s0[i] === original) candidates.push(i * 4);
  }
  if (candidates.length !== 1) {
    throw new Error(`probe: found ${candidates.length} candidates for the interrupt char`);
  }
  return { kbd, intrCharAddr: candidates[0] };
}
