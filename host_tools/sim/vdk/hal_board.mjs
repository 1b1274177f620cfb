// The board around the CPU for hal.vdk.clock, .led and .button, kept as files in the device's
// state folder (build/sim/<ID>/) so the host sees and drives them without a channel of its own:
//   rtc.json      {"offset": seconds}       the RTC: host clock + offset; survives resets
//   leds.json     {"leds": [bool, ...], "changes": n, "time": unix}   written on every change
//   buttons.json  {"<index>": {"down": ms, "up": ms, "count": n}}   written by `edgecall sim
//                 press` (Unix ms): a button is pressed while down <= now < up; count is the
//                 number of presses so far, so a press shorter than a poll is not missed.
// Files are replaced atomically (temporary + rename).

import fs from "node:fs";
import path from "node:path";

export const LED_COUNT = 8;
export const BUTTON_COUNT = 8;

export function writeJsonAtomic(file, value) {
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value) + "\n");
  fs.renameSync(tmp, file);
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch {
    return null;
  }
}

export function boardFunctions(stateDir) {
  const rtcFile = path.join(stateDir, "rtc.json");
  const ledFile = path.join(stateDir, "leds.json");
  const buttonFile = path.join(stateDir, "buttons.json");
  let offset = null;
  const leds = new Array(LED_COUNT).fill(false);
  let ledChanges = 0;
  let buttons = {};
  let buttonStamp = -1;

  function rtcOffset() {
    if (offset === null) offset = Number(readJson(rtcFile)?.offset ?? 0) || 0;
    return offset;
  }

  function button(index) {
    let stamp = 0;
    try {
      stamp = fs.statSync(buttonFile).mtimeMs;
    } catch {
      stamp = 0;
    }
    if (stamp !== buttonStamp) {
      buttonStamp = stamp;
      buttons = (stamp && readJson(buttonFile)) || {};
    }
    return buttons[String(index)] ?? null;
  }

  return {
    /** Microsecond ticks (performance.now, wrapping at 2^30 like MicroPython's ticks). */
    clock_ticks_us: () => Math.floor(performance.now() * 1000) & 0x3fffffff,
    /**
     * Unix time in ms from the host clock plus the RTC offset, as a decimal string (an integral
     * JS number reaches Python as a 32-bit int, too small for ms).
     */
    clock_time_ms: () => String(Math.floor(Date.now() + rtcOffset() * 1000)),
    /** unixSeconds: a decimal string (Python ints beyond 2^30 do not cross as numbers). */
    clock_set: (unixSeconds) => {
      const t = Number(unixSeconds);
      if (!Number.isFinite(t)) return -1;
      offset = t - Date.now() / 1000;
      writeJsonAtomic(rtcFile, { offset });
      return 0;
    },
    led_set: (index, on) => {
      if (!(index >= 0 && index < LED_COUNT)) return -1;
      const v = !!on;
      if (leds[index] !== v) {
        leds[index] = v;
        ledChanges++;
        writeJsonAtomic(ledFile, { leds, changes: ledChanges, time: Date.now() / 1000 });
      }
      return 0;
    },
    led_get: (index) => (index >= 0 && index < LED_COUNT ? (leds[index] ? 1 : 0) : -1),
    btn_pressed: (index) => {
      if (!(index >= 0 && index < BUTTON_COUNT)) return -1;
      const b = button(index);
      const now = Date.now();
      return b && b.down <= now && now < b.up ? 1 : 0;
    },
    btn_count: (index) => {
      if (!(index >= 0 && index < BUTTON_COUNT)) return -1;
      const b = button(index);
      return b && b.down <= Date.now() ? b.count | 0 : 0;
    },
  };
}

/** LEDs start off at each boot (the file says so until the firmware turns one on). */
export function resetLeds(stateDir) {
  writeJsonAtomic(path.join(stateDir, "leds.json"), {
    leds: new Array(LED_COUNT).fill(false),
    changes: 0,
    time: Date.now() / 1000,
  });
}
