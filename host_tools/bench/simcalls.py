"""ARM devkits in calls (part of `edgecall bench sim`): the whole device's instructions per 20 ms
call frame, and how many devkits hold calls in real time on this machine.

The devkits are the HIL's: ARM devkits (MicroPython on QEMU mps2-an386) with the signed firmware
image of the working tree in their primary slot, provisioned by the station into one channel of a
channel server in this process, dialling it at 10.0.2.2 (QEMU's user-mode network); their
microphone plays speech from ../shared/testdata (speech_16k.wav, looped to outlast the call).

Instructions per frame (`instructions_per_frame`)
- One pair of devkits runs under `-icount shift=0` with the TCG plugin host_tools/bench/insn_count.c
  loaded into each QEMU: every translated block adds its length to a counter each time it runs,
  so the count is everything the device's CPU executed — MicroPython, the C codecs and media
  stack, lwIP, interrupt handlers, the idle loop — and it does not depend on how fast the host
  ran it. The plugin writes the count with the host's monotonic time every 20 ms; the count at
  the window's two ends is interpolated from those samples.
- Windows: joined and idle (signalling keep-alives only) after the pair's first boot, then one
  call per codec (G.722, Opus; a calls b, both receive audio, 1 s to settle), each the first call
  of a fresh boot of both devkits (see Fleet.restart), held for the window. Nothing talks to the
  devices' consoles inside a window.
- A frame is 20 ms of the device's own clock. Under -icount the device's clock advances one ns
  per instruction while the CPU runs (a 1 GHz core) and with the host's clock while it sleeps, so
  it falls behind the host's while the device works faster than QEMU emulates it. The device's
  uptime is read just before and just after each window; its rate against the host's clock over
  that span converts the window to device time: frames = window * rate / 20 ms.
- Figures per device (the caller and the callee) and their mean, with the call's own statistics
  over the window. Under -icount the devices' clocks lag the host's by up to ~25 % in a call, so
  calls there conceal a few % — it does not change the count per frame (without -icount, where
  the clocks keep up, the same figures come out within a few %).

Devkits holding calls in real time (`calls_real_time`)
- Plain devkits (no -icount, no plugin: as `sim start` runs them). Step k = k pairs,
  2k devkits, all k calls at once through the one channel server, held HOLD_S seconds. The devkits
  of step k stay for step k+1, which adds one pair; before each step they are started again from
  their flash, so every call is the first of its devkit's boot.
- Per device, from its call statistics at the end of the hold (the whole call, first audio
  included): concealed % (10 ms blocks played concealed / played) and microphone overruns
  (frames the firmware read too late, hal/devkit/audio.c). A step holds real time when every
  call was set up with audio both ways, every device concealed < 1 % and had 0 overruns. For
  diagnosis each device's clock rate against the host's over the hold (its call's ms) is recorded:
  a receiver whose peer's clock runs slower than its own conceals the difference (a devkit's
  clock reads the CMSDK dual timer, which keeps the host's time; a board's crystal does not).
- This machine is shared: a step that fails is run once more and fails only if its repeat fails
  too (both attempts are in the JSON). Each step records the devkits' CPU (per devkit, % of one
  core), how busy the whole machine was over the hold, and how busy it was before the first step
  (`machine_busy_before_pct`: other people's load).
- Steps go up until the first that fails (or max_pairs); `devkits_real_time` is the devkits of
  the last step that held; the goal is 16.
"""
from __future__ import annotations

import os
import shutil
import statistics
import time
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_tools.bench import insncount
from host_tools.bench.sim import CLK_TCK, _cpu_ticks, _group_pids
from host_tools.channel.thread import ServerThread
from host_tools.hil import calls, fleet
from host_tools.hil.dut import Dut
from host_tools.paths import TESTDATA
from host_tools.sim import manager, state
from host_tools.smp.client import SmpError
from host_tools.transport import TransportError

SPEECH = TESTDATA / "speech" / "speech_16k.wav"
FRAME_MS = 20
GOAL_DEVKITS = 16
CONCEALED_LIMIT_PCT = 1.0
HOLD_S = 20.0
MAX_PAIRS = 12
SETTLE_S = 1.0
AUDIO_TIMEOUT_S = 15.0
CODECS = ("g722", "opus")  # wideband: the microphone is 16 kHz speech
DeviceErrors = (TimeoutError, RuntimeError, SmpError, TransportError, OSError)


class BenchError(RuntimeError):
    """A devkit did not start, join or answer; the message says which and what it showed."""


def looped_speech(path: Path, seconds: float, source: Path = SPEECH) -> Path:
    """A 16-bit mono WAV of `source` repeated to at least `seconds`: speech for a whole call."""
    if not source.is_file():
        raise FileNotFoundError(f"{source} not found (../shared/testdata beside the project?)")
    with wave.open(str(source), "rb") as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{source}: not 16-bit mono")
    repeats = max(1, int(seconds * rate * 2 / len(frames)) + 1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames * repeats)
    return path


@dataclass
class Fleet:
    """ARM devkits in one sim root, joined to one channel server (this process)."""

    root: Path
    mic: Path
    log: Callable[[str], None]
    icount_shift: int | None = None
    plugin: str | None = None

    def __post_init__(self) -> None:
        from host_tools.firmware import image

        self.root.mkdir(parents=True, exist_ok=True)
        self.factory = Path(image.build_image(out=self.root / "edgecall-bench-mps2-an386.bin").path).read_bytes()
        self.ident = fleet.Identity.fresh()
        self.server = ServerThread(self.ident.app_id, self.ident.app_cert)
        self.duts: list[Dut] = []

    def add(self, count: int, codec: str | None = None) -> list[Dut]:
        """`count` more devkits: started with the firmware, provisioned, joined and idle."""
        ids = [f"d{len(self.duts) + i}" for i in range(count)]
        try:
            infos = manager.start(ids=ids, root=self.root, blank=True, baud=fleet.BAUD, mic=self.mic,
                                  factory_image=self.factory, timeout=60,
                                  icount_shift=self.icount_shift, qemu_plugin=self.plugin)
        except manager.SimError as e:
            raise BenchError(f"ARM devkits {', '.join(ids)} did not start: {e}") from e
        new = [Dut(i.id, "virtual", i.port or "", fleet.BAUD, sim_dir=self.root / i.id,
                   host_address=fleet.SLIRP_HOST, arch=fleet.ARCH) for i in infos]
        self.duts += new
        try:
            fleet.join_all(new, str(self.root / "ledger.sqlite3"), self.ident, fleet.SLIRP_HOST, self.server.port,
                           codec=codec, timeout=60)
        except DeviceErrors as e:
            raise BenchError(f"ARM devkits {', '.join(ids)} did not join the channel: {e}; "
                             f"{diagnose(new)}") from e
        self.log(f"{', '.join(ids)} joined the channel")
        return new

    def set_codec(self, codec: str) -> None:
        fleet.configure(self.duts, fleet.SLIRP_HOST, self.server.port, codec=codec)
        calls.wait_joined(self.duts, timeout=30)

    def restart(self) -> None:
        """Every devkit stopped and started again from its flash (still provisioned and set up, it
        joins at boot): each measured call is the first of a boot. A later call on the same boot
        can fail: Opus's sender or receiver state (26-28 KB) does not fit the fragmented heap, the
        MemoryError ends the signalling task and the firmware's watchdog resets the board."""
        for d in self.duts:
            d.close()
        ids = [d.id for d in self.duts]
        for i in ids:
            manager.stop(i, self.root)
        try:
            infos = manager.start(ids=ids, root=self.root, baud=fleet.BAUD, mic=self.mic,
                                  factory_image=self.factory, timeout=60, icount_shift=self.icount_shift,
                                  qemu_plugin=self.plugin)
        except manager.SimError as e:
            raise BenchError(f"ARM devkits {', '.join(ids)} did not start again: {e}") from e
        for d, info in zip(self.duts, infos):
            d.port = info.port or ""
        try:
            for d in self.duts:
                d.wait_ready(60)
            calls.wait_joined(self.duts, timeout=60)
        except DeviceErrors as e:
            raise BenchError(f"ARM devkits {', '.join(ids)} did not join again after a restart: {e}; "
                             f"{diagnose(self.duts)}") from e

    def pids(self) -> list[int]:
        return [p for info in manager.list_devices(self.root) if info.pid for p in _group_pids(info.pid)]

    def close(self) -> None:
        fleet.stop(self.duts, self.root)
        self.server.stop()


def diagnose(duts: Iterable[Dut]) -> str:
    """What each device shows: call state and media statistics, its last log lines."""
    out = []
    for d in duts:
        b = d.bundle()
        st = b.get("call_stats", {})
        media = st.get("media") if isinstance(st, dict) else None
        logs = [e[3] if isinstance(e, list) and len(e) > 3 else str(e) for e in b.get("log", [])[-4:]]
        out.append(f"{d.id}: state {st.get('state') if isinstance(st, dict) else st}, "
                   f"call {st.get('call_state') if isinstance(st, dict) else '?'}, "
                   f"media {media}, log {logs}")
    return "; ".join(out)


def _invite(pairs: list[tuple[Dut, Dut]]) -> list[str | None]:
    """Every a calls its b at once; then each pair's error (None: both in the call, audio both ways)."""
    errors: list[str | None] = []
    for a, b in pairs:
        try:
            a.call("invite", to=b.uid)
            errors.append(None)
        except DeviceErrors as e:
            errors.append(f"{a.id}: invite failed: {e}")
    for i, (a, b) in enumerate(pairs):
        if errors[i] is not None:
            continue
        try:
            for d in (a, b):
                d.wait_status(lambda s: (s.get("media") or {}).get("first_audio_ms") is not None, AUDIO_TIMEOUT_S,
                              "in a call receiving audio", poll=0.2)
        except DeviceErrors as e:
            errors[i] = f"{e}; {diagnose((a, b))}"
    return errors


def _hang_up(pairs: list[tuple[Dut, Dut]]) -> None:
    for a, b in pairs:
        try:
            if a.call_status().get("call_state") not in ("idle", None):
                a.call("hangup")
        except DeviceErrors:
            pass
    for a, b in pairs:
        for d in (a, b):
            try:
                d.wait_status(calls.idle, 10, "idle after hang-up", poll=0.2)
            except DeviceErrors:
                pass


# ---- instructions per frame

def _uptime(d: Dut) -> tuple[int, int]:
    """(device uptime ms, host monotonic ns at the middle of the request)."""
    t0 = time.monotonic_ns()
    up = int(d.info()["uptime_ms"])
    return up, (t0 + time.monotonic_ns()) // 2


def _window(duts: list[Dut], seconds: float) -> list[dict[str, Any]]:
    """Counts every device's instructions over `seconds` with nothing on their consoles."""
    first = [_uptime(d) for d in duts]
    w0 = time.monotonic_ns()
    time.sleep(seconds)
    w1 = time.monotonic_ns()
    last = [_uptime(d) for d in duts]
    out = []
    for d, (g0, h0), (g1, h1) in zip(duts, first, last):
        assert d.sim_dir is not None
        samples = insncount.Samples.read_until(d.sim_dir, w1)
        insns = samples.at(w1) - samples.at(w0)
        rate = (g1 - g0) / ((h1 - h0) / 1e6)  # device ms per host ms
        device_ms = (w1 - w0) / 1e6 * rate
        frames = device_ms / FRAME_MS
        out.append({"device": d.id, "instructions": int(insns), "host_s": round((w1 - w0) / 1e9, 3),
                    "device_s": round(device_ms / 1000, 3), "device_clock_rate": round(rate, 4),
                    "instructions_per_frame": round(insns / frames)})
    return out


def _summary(per_device: list[dict[str, Any]]) -> dict[str, Any]:
    return {"instructions_per_frame": round(statistics.mean(r["instructions_per_frame"] for r in per_device)),
            "devices": per_device}


def instructions_per_frame(work: Path, codecs: Iterable[str], window_s: float, icount_shift: int = 0,
                           log: Callable[[str], None] = print) -> dict[str, Any]:
    """Instructions per 20 ms frame of a devkit pair, idle and in a call per codec (see the module's
    docstring). Raises BenchError when a devkit does not start, join or call."""
    work.mkdir(parents=True, exist_ok=True)
    codecs = list(codecs)
    mic = looped_speech(work / "speech.wav", window_s + 60)
    f = Fleet(work / "sim", mic, log, icount_shift=icount_shift, plugin=insncount.plugin_argument())
    result: dict[str, Any] = {"method": "TCG plugin host_tools/bench/insn_count.c (every executed block's "
                                        "instructions), frames of the device's clock",
                              "icount_shift": icount_shift, "window_s": window_s}
    try:
        a, b = f.add(2, codec=codecs[0])
        time.sleep(SETTLE_S)
        result["idle"] = _summary(_window([a, b], window_s))
        log(f"instructions per frame, joined and idle: {result['idle']['instructions_per_frame']}")
        in_call: dict[str, Any] = {}
        for codec in codecs:
            f.set_codec(codec)
            f.restart()
            (error,) = _invite([(a, b)])
            if error is not None:
                raise BenchError(f"{codec} call on ARM devkits under -icount: {error}")
            time.sleep(SETTLE_S)
            before = {d.id: d.call_status().get("media") or {} for d in (a, b)}
            entry = _summary(_window([a, b], window_s))
            after = {d.id: d.call_status().get("media") or {} for d in (a, b)}
            for r in entry["devices"]:
                s0, s1 = before[r["device"]], after[r["device"]]
                if s1.get("codec") != codec:
                    raise BenchError(f"{r['device']}: the call used {s1.get('codec')}, not {codec}")
                played = s1["rx"]["played"] - s0["rx"]["played"]
                r["call"] = {"concealed_pct": round(100.0 * (s1["rx"]["concealed"] - s0["rx"]["concealed"]) / played, 2)
                             if played else None,
                             "mic_overruns": s1["mic_overruns"] - s0["mic_overruns"],
                             "packets_sent": s1["tx"]["packets"] - s0["tx"]["packets"]}
            in_call[codec] = entry
            log(f"instructions per frame, in a {codec} call: {entry['instructions_per_frame']}")
            _hang_up([(a, b)])
        result["in_call"] = in_call
    finally:
        f.close()
    return result


# ---- devkits holding calls in real time

def _media_clock(d: Dut) -> tuple[dict[str, Any], int]:
    """(call status, host monotonic ns at the middle of the request)."""
    t0 = time.monotonic_ns()
    st = d.call_status()
    return st, (t0 + time.monotonic_ns()) // 2


def _call_figures(d: Dut, start: tuple[dict[str, Any], int] | None) -> dict[str, Any]:
    """The device's call at the end of the hold; `start`: its _media_clock() when the hold began,
    for its clock's rate against the host's over the hold (a devkit's clock loses the SysTick
    interrupts QEMU misses on a busy host; two clocks apart are concealment at the slower's peer)."""
    st, now = _media_clock(d)
    media = st.get("media") or {}
    if st.get("call_state") != "in-call" or not media:
        return {"device": d.id, "in_call": False, "state": st.get("state"), "call_state": st.get("call_state")}
    rate = None
    if start is not None and (start[0].get("media") or {}).get("ms") is not None:
        rate = round((media["ms"] - start[0]["media"]["ms"]) / ((now - start[1]) / 1e6), 4)
    rx = media["rx"]
    played = int(rx["played"])
    return {"device": d.id, "in_call": True, "codec": media["codec"], "call_s": round(media["ms"] / 1000, 1),
            "device_clock_rate": rate,
            "concealed_pct": round(100.0 * int(rx["concealed"]) / played, 2) if played else None,
            "mic_overruns": int(media["mic_overruns"]), "late": int(rx["late"]),
            "lost": max(0, int(rx["lost"])), "received": int(rx["received"]), "expected": int(rx["expected"]),
            "delay_ms": int(rx["delay_ms"]), "first_audio_ms": media["first_audio_ms"]}


def _device_ok(r: dict[str, Any]) -> bool:
    return (bool(r.get("in_call")) and r.get("concealed_pct") is not None
            and r["concealed_pct"] < CONCEALED_LIMIT_PCT and r["mic_overruns"] == 0)


def _step(f: Fleet, pairs: list[tuple[Dut, Dut]], hold_s: float) -> dict[str, Any]:
    """All pairs call at once, hold, and the devices' figures at the end of the hold."""
    t0 = time.monotonic()
    errors = _invite(pairs)
    setup_s = time.monotonic() - t0
    pids = f.pids()
    starts: dict[str, tuple[dict[str, Any], int] | None] = {}
    for d in (d for p in pairs for d in p):
        try:
            starts[d.id] = _media_clock(d)
        except DeviceErrors:
            starts[d.id] = None
    c0, h0, load0 = _cpu_ticks(pids), time.monotonic(), _machine_busy()
    time.sleep(hold_s)
    wall = time.monotonic() - h0
    cpu = (_cpu_ticks(pids) - c0) / CLK_TCK
    busy = _machine_busy(load0)
    devices: list[dict[str, Any]] = []
    for (a, b), err in zip(pairs, errors):
        for d in (a, b):
            try:
                devices.append(_call_figures(d, starts.get(d.id)))
            except DeviceErrors as e:
                devices.append({"device": d.id, "in_call": False, "error": str(e)})
    failed = [r for r in devices if not _device_ok(r)]
    call_errors = [e for e in errors if e is not None]
    diagnostics = None
    if failed or call_errors:
        diagnostics = diagnose([d for p in pairs for d in p if d.id in {r["device"] for r in failed}] or
                               [d for p, e in zip(pairs, errors) if e for d in p])
    _hang_up(pairs)
    concealed = [r["concealed_pct"] for r in devices if r.get("concealed_pct") is not None]
    rates = [r["device_clock_rate"] for r in devices if r.get("device_clock_rate") is not None]
    n = 2 * len(pairs)
    return {"pairs": len(pairs), "devkits": n, "calls_set_up": len(pairs) - len(call_errors),
            "setup_s": round(setup_s, 2), "hold_s": round(wall, 1),
            "concealed_pct_max": max(concealed) if concealed else None,
            "concealed_pct_mean": round(statistics.mean(concealed), 3) if concealed else None,
            "mic_overruns": sum(int(r.get("mic_overruns", 0)) for r in devices),
            "device_clock_rate_min": min(rates) if rates else None,
            "device_clock_rate_max": max(rates) if rates else None,
            "cpu_per_devkit_pct": round(100.0 * cpu / wall / n, 1),
            "devkits_share_of_machine_pct": round(100.0 * cpu / wall / (os.cpu_count() or 1), 1),
            "machine_busy_pct": busy, "load_average_1m": round(os.getloadavg()[0], 2),
            "real_time": not failed and not call_errors,
            "call_errors": call_errors, "failed_devices": [r["device"] for r in failed],
            "devices": devices, "diagnostics": diagnostics}


def _machine_busy(since: tuple[int, int] | None = None) -> Any:
    """With no argument: /proc/stat's (busy, total) jiffies now; with one: busy % since then."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    if since is None:
        return (total - idle, total)
    busy0, total0 = since
    return round(100.0 * ((total - idle) - busy0) / max(1, total - total0), 1)


def calls_real_time(work: Path, max_pairs: int = MAX_PAIRS, hold_s: float = HOLD_S, codec: str | None = None,
                    attempts: int = 2, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Steps of k pairs (k = 1, 2, ...) until one does not hold real time (see the module's docstring)."""
    work.mkdir(parents=True, exist_ok=True)
    mic = looped_speech(work / "speech.wav", hold_s + AUDIO_TIMEOUT_S + 30)
    before = _machine_busy()
    time.sleep(3.0)
    busy_before = _machine_busy(before)
    f = Fleet(work / "sim", mic, log)
    steps: list[dict[str, Any]] = []
    best = 0
    stopped = f"the last step ({max_pairs} pairs) held"
    try:
        for k in range(1, max_pairs + 1):
            try:
                if k > 1:
                    f.restart()  # every call of a step is the first of its devkit's boot
                f.add(2, codec=codec)
            except BenchError as e:
                steps.append({"pairs": k, "devkits": 2 * k, "real_time": False, "error": str(e)})
                stopped = f"step {k}: devkits did not start or join"
                break
            pairs = [(f.duts[i], f.duts[i + 1]) for i in range(0, 2 * k, 2)]
            r = _step(f, pairs, hold_s)
            if not r["real_time"] and attempts > 1:
                # The machine is shared: a burst of someone else's load is not the devkits' limit.
                # The step fails only when its repeat fails too; both are in the JSON.
                log(f"{r['devkits']} devkits: not real time ({r['failed_devices'] or r['call_errors']}); once more")
                try:
                    f.restart()
                    again = _step(f, pairs, hold_s)
                except BenchError as e:
                    again = {"pairs": k, "devkits": 2 * k, "real_time": False, "error": str(e)}
                again["first_attempt"] = r
                r = again
            steps.append(r)
            if "error" in r:
                stopped = f"step {k}: devkits did not start again for the repeat"
                break
            log(f"{r['devkits']} devkits in {r['pairs']} calls: "
                f"{'real time' if r['real_time'] else 'NOT real time'} (concealed max {r['concealed_pct_max']} %, "
                f"{r['mic_overruns']} overruns, {r['cpu_per_devkit_pct']} % CPU per devkit, "
                f"machine {r['machine_busy_pct']} % busy)")
            if not r["real_time"]:
                stopped = f"step {k} ({r['devkits']} devkits) did not hold real time"
                break
            best = r["devkits"]
    finally:
        f.close()
        shutil.rmtree(work / "sim", ignore_errors=True)
    return {"devkits_real_time": best, "goal": GOAL_DEVKITS, "goal_met": best >= GOAL_DEVKITS,
            "short_of_goal": max(0, GOAL_DEVKITS - best), "stopped": stopped, "hold_s": hold_s,
            "codec": codec or "the devices' default", "concealed_limit_pct": CONCEALED_LIMIT_PCT,
            "cores": os.cpu_count(), "machine_busy_before_pct": busy_before, "steps": steps}
