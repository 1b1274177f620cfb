// The `_vdkhal` JS module: what the Python modules of hal/vdk/ call (one function group per
// hal_*.mjs file). Installed by the worker right after `_vdk`; costs no boot time beyond
// registering it (the codec library loads on first use).
//
// Byte passing: Python passes id(obj) of bytes / bytearray / memoryview / array objects and the
// functions read or fill them in place (hal_mem.mjs). No function ever throws into the VM
// (guard): failures are negative return codes that the Python side turns into exceptions.

import path from "node:path";
import { PyMem, guard } from "./hal_mem.mjs";
import { UartDemux, consoleFunctions } from "./hal_console.mjs";
import { codecFunctions, codecLibrary } from "./hal_codec.mjs";
import { boardFunctions, resetLeds } from "./hal_board.mjs";
import { audioFunctions } from "./hal_audio.mjs";
import { cameraFunctions } from "./hal_camera.mjs";
import { videoFunctions } from "./hal_video.mjs";
import { netFunctions } from "./hal_net.mjs";
import { Ring } from "./ring.mjs";

/**
 * @param mp the npm MicroPython instance
 * @param {object} o  memory (MicroPython's), rx (UART receive Ring), stateDir, mic, camera,
 *   inboxSab (net inbox ring), post(msg) (to the main thread), uartWrite(bytes), log(text)
 * @returns {{demux: UartDemux}} the UART receive demux the worker's REPL loop reads through
 */
export function installHal(mp, o) {
  const mem = new PyMem(o.memory);
  const demux = new UartDemux(o.rx);
  const stateDir = o.stateDir ?? path.dirname(o.flashDir);
  try {
    resetLeds(stateDir);
  } catch (e) {
    o.log(`hal: ${e.message}`);
  }
  const codecLib = codecLibrary(o.log); // one instance for the codecs and video
  const fns = {
    _types: (...t) => mem.setTypes(...t),
    nbytes: (id) => mem.nbytes(id),
    ...consoleFunctions(demux, mem, o.uartWrite),
    ...codecFunctions(mem, o.log, undefined, codecLib),
    ...boardFunctions(stateDir),
    ...audioFunctions(mem, stateDir, o.mic),
    ...cameraFunctions(mem, o.camera),
    ...videoFunctions(mem, codecLib, o.camera, stateDir, o.log),
    ...netFunctions(mem, new Ring(o.inboxSab), (msg) => o.post({ type: "net", ...msg })),
  };
  mp.registerJsModule("_vdkhal", guard(fns, o.log));
  mp.runPython(
    "import _vdkhal, array\n" +
      "_vdkhal._types(id(bytes), id(bytearray), id(memoryview), id(array.array))\n" +
      "del _vdkhal, array",
  );
  return { demux };
}
