"""`edgecall bench netstack`: the media network stack's size, speed and robustness, in one run.

- flash and static RAM per module (rtp, rtcp, red, fec, jb, media) at -Os for Cortex-M0 and M4
  (arm-none-eabi-size of each object, as `bench codec` does for the codecs);
- instructions per 20 ms frame to send (encode, packetise, RED/FEC, RTCP) and to receive
  (depacketise, jitter buffer, decode, concealment, feedback) on Cortex-M0 (QEMU microbit) and
  Cortex-M4 (QEMU mps2-an386), from the netstack harness's `bench` (tests/c/netstack.c), counted
  with `-icount shift=0` and SysTick;
- state sizes of typical sender and receiver configurations;
- libFuzzer runs of every parser (tests/fuzz/*.c, clang -fsanitize=fuzzer,address,undefined):
  executions, executions per second, crashes. `fuzz_runs` executions each (the suite runs
  20,000; the benchmark 1,000,000 with --fuzz).

The fuzz helpers (build_fuzzer, write_seeds, run_fuzzer) are shared with tests/test_fuzz.py.
"""
from __future__ import annotations

import re
import shutil
import struct
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from host_tools.bench import emit, table
from host_tools.bench import cortexm as cm
from host_tools.paths import BUILD, NATIVE_INCLUDE, NATIVE_SRC, ROOT

MODULES = ("rtp", "rtcp", "red", "fec", "jb", "media")
FUZZ_DIR = ROOT / "tests" / "fuzz"
FUZZ_BUILD = BUILD / "fuzz"
FUZZERS = ("rtp", "rtcp", "red", "fec", "media_rx")
# the sources each fuzzer links (all of native_codec for the receive path)
_FUZZ_SOURCES = {"rtp": ("rtp",), "rtcp": ("rtcp", "rtp"), "red": ("red",), "fec": ("fec", "rtp"), "media_rx": None}
FUZZ_FLAGS = ["-std=c99", "-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all",
              "-Wall", "-Wextra", "-Werror"]
BENCH_FUZZ_RUNS = 1_000_000
TARGETS = {"g722_receive_m4_instructions_per_frame": 150_000, "m0_netstack_flash_bytes": 24 * 1024,
           "g722_receiver_state_bytes": 24 * 1024}


class ToolMissing(RuntimeError):
    """A program this module needs is not installed."""


# ---- fuzzing ----------------------------------------------------------------------------------

def _clang() -> str:
    found = shutil.which("clang-14") or shutil.which("clang")
    if found is None:
        raise ToolMissing("clang not found: install the Debian package clang (with libFuzzer: libclang-rt-14-dev)")
    return found


def _opus_link() -> tuple[list[str], list[Path]]:
    """The receive path is fuzzed with Opus when libopus is available (host_tools.native.opus's
    host archive, not instrumented itself): compiler arguments and the inputs they add."""
    from host_tools.native import opus

    try:
        lib = opus.host_archive()
    except (opus.FetchError, opus.BuildError, OSError, subprocess.SubprocessError) as exc:
        print(f"warning: fuzz_media_rx is built without Opus: {str(exc).splitlines()[0]}", file=sys.stderr)
        return [], []
    return ["-DEC_MEDIA_WITH_OPUS", f"-I{opus.SRC / 'include'}", str(lib)], [lib]


def build_fuzzer(name: str) -> Path:
    """build/fuzz/fuzz_<name>: tests/fuzz/fuzz_<name>.c with libFuzzer, ASan and UBSan."""
    if name not in FUZZERS:
        raise ValueError(f"unknown fuzzer {name!r}; fuzzers: {', '.join(FUZZERS)}")
    mods = _FUZZ_SOURCES[name]
    srcs = [FUZZ_DIR / f"fuzz_{name}.c"]
    srcs += sorted(NATIVE_SRC.glob("*.c")) if mods is None else [NATIVE_SRC / f"{m}.c" for m in mods]
    exe = FUZZ_BUILD / f"fuzz_{name}"
    opus_args, opus_inputs = _opus_link() if name == "media_rx" else ([], [])
    inputs = [*srcs, *NATIVE_INCLUDE.glob("*.h"), Path(__file__), *opus_inputs]
    if exe.exists() and exe.stat().st_mtime > max(p.stat().st_mtime for p in inputs):
        return exe
    FUZZ_BUILD.mkdir(parents=True, exist_ok=True)
    cmd = [_clang(), *FUZZ_FLAGS, f"-I{NATIVE_INCLUDE}", *map(str, srcs), *opus_args, "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"building fuzz_{name} failed:\n{' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return exe


def _trace(tx: Any, rx: Any, pcm: Any, seen: Any = None) -> bytes:
    """The receive-path trace of 12 frames of a sender into a receiver, frame 5 lost: records of
    (ms since the previous record, length, packet), the receiver's feedback included. seen(p) is
    called with every packet the sender made and every feedback packet."""
    trace = b""
    for i in range(12):
        step = 20
        for p in tx.push(pcm[i * 320:(i + 1) * 320], i * 20):
            if i != 5:
                trace += struct.pack("!BH", step, len(p)) + p
                step = 0
                rx.on_packet(p, i * 20 + 30)
            if seen is not None:
                seen(p)
        rx.pull(i * 20 + 30)
        for fb in rx.poll_feedback(i * 20 + 30):
            if seen is not None:
                seen(fb)
            trace += struct.pack("!BH", 0, len(fb)) + fb
    return trace


def _seed_packets() -> dict[str, list[bytes]]:
    """Valid inputs for each fuzzer, made by the binding: RTP with CSRCs/extension/padding, RTCP
    compounds (SR, RR, SDES, NACK, BYE), RED and FEC payloads, and packet traces (G.722 and Opus)
    for the receiver."""
    import numpy as np

    import native_codec as nc
    from native_codec._nc import ffi, lib

    tx = nc.MediaSender("g722", 20, red=True, fec_group=3, nack=True, ssrc=0x1234, seq=65533, ts=1, rtcp_interval_ms=100)
    rx = nc.MediaReceiver("g722", 20, ssrc=0x42, rtcp_interval_ms=100)
    t = np.arange(320 * 12)
    pcm = (6000 * np.sin(t * 0.07)).astype(np.int16)
    rtp: list[bytes] = []
    rtcp: list[bytes] = []
    red: list[bytes] = []
    fec: list[bytes] = []

    def seen(p: bytes) -> None:
        (rtcp if 192 <= p[1] <= 223 else rtp).append(p)
        if p[1] & 0x7F == 96:
            red.append(p[12:])
        if p[1] & 0x7F == 97:
            fec.append(p[12:])

    trace = _trace(tx, rx, pcm, seen)
    hdr = b"\xb2\x89\x12\x34\x00\x00\x00\x10\x00\x00\x00\x20" + b"\x00\x00\x00\x01" * 2  # P, X, CC=2
    rtp.append(hdr + b"\xbe\xde\x00\x01" + b"\x00" * 4 + b"payload" + b"\x00\x00\x03")
    buf = ffi.new("uint8_t[]", 256)
    n = lib.ec_rtcp_write_bye(7, buf, 256)
    rtcp.append(bytes(ffi.buffer(buf, n)))
    opus_tx = nc.MediaSender("opus", 20, ssrc=0x1234, seq=65533, ts=1, rtcp_interval_ms=100, opus_loss_perc=20)
    opus_rx = nc.MediaReceiver("opus", 20, ssrc=0x43, rtcp_interval_ms=100)
    opus_pcm = (6000 * np.sin(t * 0.07) * np.sin(t * 0.003)).astype(np.int16)
    return {"rtp": rtp, "rtcp": rtcp, "red": red, "fec": fec,
            "media_rx": [trace, _trace(opus_tx, opus_rx, opus_pcm)]}


def write_seeds(directory: Path) -> dict[str, Path]:
    """Seed corpora under directory/<fuzzer>; returns their paths."""
    out = {}
    for name, items in _seed_packets().items():
        d = directory / name
        d.mkdir(parents=True, exist_ok=True)
        for i, data in enumerate(items):
            (d / f"seed{i:03d}").write_bytes(data)
        out[name] = d
    return out


def run_fuzzer(name: str, runs: int, work: Path, seeds: Path | None = None, timeout: float = 900) -> dict[str, Any]:
    """Runs one fuzzer for `runs` executions (deterministic seed) with a fresh corpus in `work`.
    Returns executions, seconds, executions per second, crashes and the tail of the log on a crash."""
    exe = build_fuzzer(name)
    corpus = work / f"corpus_{name}"
    corpus.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), f"-runs={runs}", "-seed=1", "-max_len=1500", "-print_final_stats=1",
           f"-artifact_prefix={work}/crash_{name}_", str(corpus)]
    if seeds is not None:
        cmd.append(str(seeds))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - t0
    log = proc.stderr
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    execs = int(m.group(1)) if m else 0
    crashed = proc.returncode != 0 or "ERROR: " in log or "runtime error" in log
    res = {"fuzzer": name, "executions": execs, "seconds": round(seconds, 2),
           "exec_per_s": int(execs / seconds) if seconds > 0 else 0, "crashes": 1 if crashed else 0}
    cov = re.findall(r"cov: (\d+)", log)
    if cov:
        res["coverage_edges"] = int(cov[-1])
    if crashed:
        res["log"] = log[-3000:]
    return res


def fuzz_all(runs: int = BENCH_FUZZ_RUNS, work: Path | None = None, jobs: int = 2) -> list[dict[str, Any]]:
    """Every fuzzer for `runs` executions (two at a time on this 2-core machine)."""
    work = work or BUILD / "fuzz" / "work"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    seeds = write_seeds(work / "seeds")
    for name in FUZZERS:
        build_fuzzer(name)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda n: run_fuzzer(n, runs, work, seeds[n]), FUZZERS))


# ---- size and speed ---------------------------------------------------------------------------

def footprint() -> dict[str, Any]:
    return cm.footprint(tuple(MODULES))


def cortex_m_instructions() -> dict[str, dict[str, dict[str, int]]]:
    return cm.instructions("netstack", "bench")


def state_sizes() -> dict[str, int]:
    import native_codec as nc

    return {
        "receiver_g722_400ms_ring_40ms_ptime_2_fec_slots": nc.MediaReceiver("g722", 20, buffer_ms=400,
                                                                             max_ptime_ms=40).state_bytes,
        "receiver_pcmu_200ms_ring_20ms_ptime_1_fec_slot": nc.MediaReceiver("pcmu", 20, buffer_ms=200, max_ptime_ms=20,
                                                                            fec_slots=1).state_bytes,
        "sender_g722_red_fec4_16_cached_40ms": nc.MediaSender("g722", 20, red=True, fec_group=4, max_ptime_ms=40,
                                                              cache_packets=16).state_bytes,
        "sender_pcmu_8_cached_20ms": nc.MediaSender("pcmu", 20, max_ptime_ms=20, cache_packets=8).state_bytes,
    }


def _targets(instr: dict[str, Any], size: dict[str, Any], states: dict[str, int]) -> list[dict[str, Any]]:
    def row(name: str, value: float, target: float) -> dict[str, Any]:
        return {"name": name, "value": value, "target": target, "met": value <= target}

    rows = []
    m4 = instr.get("m4", {}).get("g722-receive")
    if m4:
        rows.append(row("g722_receive_m4_instructions_per_20ms", m4["mean"], TARGETS["g722_receive_m4_instructions_per_frame"]))
    rows.append(row("netstack_flash_m0_bytes", size["m0"]["total_flash"], TARGETS["m0_netstack_flash_bytes"]))
    rows.append(row("g722_receiver_state_bytes (20 x 20 ms ring)",
                    states["receiver_g722_400ms_ring_40ms_ptime_2_fec_slots"], TARGETS["g722_receiver_state_bytes"]))
    return rows


def run(json_out: bool, fuzz: bool = False, fuzz_runs: int = BENCH_FUZZ_RUNS) -> int:
    """The benchmark; with fuzz=True also every fuzzer for fuzz_runs executions. Returns the exit
    status (1 if a fuzzer crashed)."""
    import platform as _platform

    instr = cortex_m_instructions()
    size = footprint()
    states = state_sizes()
    result: dict[str, Any] = {
        "schema": 1,
        "bench": "netstack",
        "machine": {"cpu": _platform.processor() or _platform.machine(), "python": _platform.python_version()},
        "cortex_m_instructions_per_20ms": instr,
        "footprint_os": size,
        "state_bytes": states,
        "targets": _targets(instr, size, states),
    }
    if fuzz:
        result["fuzz"] = fuzz_all(fuzz_runs)
    emit(result, json_out, _print_human)
    return 1 if any(f["crashes"] for f in result.get("fuzz", [])) else 0


def _print_human(r: dict[str, Any]) -> None:
    from rich.console import Console

    con = Console()
    con.print(cm.instructions_table(r["cortex_m_instructions_per_20ms"], "Instructions per 20 ms frame (QEMU, -icount shift=0)"))
    con.print(cm.footprint_table(r["footprint_os"]))
    con.print("state bytes: " + ", ".join(f"{k} {v}" for k, v in r["state_bytes"].items()))
    if "fuzz" in r:
        t = table("libFuzzer (ASan + UBSan)", ("fuzzer", "executions", "exec/s", "edges", "crashes"))
        for f in r["fuzz"]:
            t.add_row(f["fuzzer"], str(f["executions"]), str(f["exec_per_s"]), str(f.get("coverage_edges", "-")),
                      str(f["crashes"]))
        con.print(t)
    for row in r["targets"]:
        con.print(f"{'met ' if row['met'] else 'MISSED'} {row['name']}: {row['value']} (target {row['target']})")


if __name__ == "__main__":
    sys.exit(run("--json" in sys.argv, fuzz="--fuzz" in sys.argv))
