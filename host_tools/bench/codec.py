"""`edgecall bench codec`: codec speed and size, measured in one run on this machine.

- host throughput (Msamples/s, median of repeats) of each codec against a peer on the same input:
  audioop for G.711 and IMA ADPCM (both called from Python on whole buffers), spandsp (Debian's
  build, called in the same process as ours; host_tools/bench/g722_host.c, which compiles our
  codec with the host extension's compiler and flags) and ffmpeg's encoder/decoder for G.722
  (ffmpeg's `-benchmark` user time minus a pass-through run of the same audio, so that process
  start and file I/O are not counted against it);
- instructions per 20 ms frame on Cortex-M0 (QEMU microbit) and Cortex-M4 (QEMU mps2-an386), counted
  deterministically with `-icount shift=0` and SysTick by the C harness (tests/c/vectors.c bench);
- flash and static RAM per codec module at -Os for M0 and M4 (arm-none-eabi-size), and state
  sizes. (The media network stack and video modules are measured by their own benchmarks.)
- Opus (libopus 1.3.1 from Debian's source package, fixed point, host_tools/native/opus.py) on the
  Cortex-M4: instructions per 20 ms frame of 16 kHz speech at 24 kbit/s for complexity 0, 3 and 5,
  decoding, concealment and FEC recovery (tests/c/opus_harness.c bench), in the M4 build (libopus's
  ARMv7E-M DSP inline assembly, -O2) and in plain C; encoder and decoder state and deepest stack;
  libopus's flash in the linked image at -O2 and -Os (from the linker map: only what is kept).
- `_nc.mpy`, native_codec as MicroPython dynamic native modules for boards (armv6m, armv7m,
  armv7emsp with Opus; host_tools/native/natmod.py): file size, heap taken once imported, and
  instructions per 20 ms frame called from MicroPython (each exact file loaded into MicroPython's
  stock ports/qemu on QEMU mps2-an500 under -icount shift=0, time.ticks_us() calibrated against a
  loop of known length): the measuring loop itself (loop+slice, included in every other
  figure), G.722 encode+decode into the caller's buffers and with new bytes, the
  media stack's sender (push + poll_into) and receiver (on_packet + pull_into +
  poll_feedback_into) for G.722 and, where present, Opus (24 kbit/s, complexity 0).
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from host_tools.bench import emit, table
from host_tools.bench import cortexm as cm
from host_tools.paths import BUILD, NATIVE_INCLUDE, NATIVE_SRC, TESTDATA

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SECONDS_OF_AUDIO = 60
CODEC_MODULES = ("g711", "g722", "adpcm", "plc")
TARGETS = {
    "g711_vs_audioop": 2.0,
    "g722_vs_best_peer": 1.5,
    "g722_m4_instructions_per_frame": 200_000,
    "m0_total_flash_bytes": 16 * 1024,
}


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _speech(rate: int) -> np.ndarray:
    """About SECONDS_OF_AUDIO seconds of the shared speech at `rate`."""
    from host_tools.audiofiles import read_le16, read_wav  # the test data readers

    if rate == 8000:
        parts = [read_wav(TESTDATA / "speech" / f)[0] for f in ("or105.wav", "or109.wav", "or114.wav")]
    else:
        parts = [read_wav(TESTDATA / "speech" / "speech_16k.wav")[0], read_le16(TESTDATA / "itu-stl/g722/inpsp.bin")]
    one = np.concatenate(parts)
    reps = -(-SECONDS_OF_AUDIO * rate // len(one))
    return np.tile(one, reps)[: SECONDS_OF_AUDIO * rate].copy()


def _ratio_row(name: str, n: int, ours_s: float, peer: str, peer_s: float) -> dict[str, Any]:
    return {
        "codec": name,
        "samples": n,
        "ours_msamples_per_s": round(n / ours_s / 1e6, 2),
        "peer": peer,
        "peer_msamples_per_s": round(n / peer_s / 1e6, 2),
        "ratio": round(peer_s / ours_s, 2),
    }


def host_python_peers(repeats: int) -> list[dict[str, Any]]:
    import native_codec as nc

    pcm = _speech(8000)
    raw = pcm.tobytes()
    n = len(pcm)
    rows = []
    for law, enc_peer, dec_peer in (("ulaw", audioop.lin2ulaw, audioop.ulaw2lin), ("alaw", audioop.lin2alaw, audioop.alaw2lin)):
        codes = nc.g711_encode(pcm, law)
        rows.append(_ratio_row(f"g711-{law}-encode", n, _median_time(lambda: nc.g711_encode(pcm, law), repeats), "audioop", _median_time(lambda: enc_peer(raw, 2), repeats)))
        rows.append(_ratio_row(f"g711-{law}-decode", n, _median_time(lambda: nc.g711_decode(codes, law), repeats), "audioop", _median_time(lambda: dec_peer(codes, 2), repeats)))
    payload = nc.AdpcmEncoder("dvi4").encode(pcm[: n // 2 * 2])
    rows.append(_ratio_row("adpcm-encode", n, _median_time(lambda: nc.AdpcmEncoder("dvi4").encode(pcm), repeats), "audioop", _median_time(lambda: audioop.lin2adpcm(raw, 2, None), repeats)))
    rows.append(_ratio_row("adpcm-decode", n, _median_time(lambda: nc.AdpcmDecoder("dvi4").decode(payload), repeats), "audioop", _median_time(lambda: audioop.adpcm2lin(payload[4:], 2, None), repeats)))
    return rows


def _build_g722_host() -> Path:
    exe = BUILD / "bench" / "g722_host"
    exe.parent.mkdir(parents=True, exist_ok=True)
    src = Path(__file__).with_name("g722_host.c")
    from host_tools.native import host

    cc = host.EXTENSION_CC if shutil.which(host.EXTENSION_CC) else "gcc"
    cmd = [cc, *host.EXTENSION_CFLAGS, f"-I{NATIVE_INCLUDE}", str(src), str(NATIVE_SRC / "g722.c"), "-o", str(exe), "-lspandsp"]
    subprocess.run(cmd, check=True, timeout=120)
    return exe


def _ffmpeg_utime(args: list[str]) -> float:
    p = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-benchmark", *args], capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {p.stderr[-400:]}")
    m = re.search(r"bench: utime=([0-9.]+)s", p.stderr)
    if not m:
        raise RuntimeError("ffmpeg -benchmark printed no utime")
    return float(m.group(1))


def host_g722(repeats: int) -> list[dict[str, Any]]:
    pcm = _speech(16000)
    work = BUILD / "bench"
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "speech16k.raw"
    pcm.astype("<i2").tofile(raw)
    res = json.loads(subprocess.run([str(_build_g722_host()), str(raw), str(repeats)], check=True, capture_output=True, text=True, timeout=600).stdout)
    n = res["samples"]
    rows = [
        _ratio_row("g722-encode", n, res["ours_encode_s"], "spandsp", res["spandsp_encode_s"]),
        _ratio_row("g722-decode", n, res["ours_decode_s"], "spandsp", res["spandsp_decode_s"]),
    ]
    rows[0]["peer_agrees_bit_exact"] = res["spandsp_codewords_equal"]
    if shutil.which("ffmpeg"):
        pcm_in = ["-f", "s16le", "-ar", "16000", "-ac", "1", "-i", str(raw)]
        g722 = work / "speech16k.g722"
        subprocess.run(["ffmpeg", "-v", "error", "-y", *pcm_in, "-c:a", "g722", "-f", "g722", str(g722)], check=True, timeout=300)
        ff = [_ffmpeg_utime([*pcm_in, "-c:a", "g722", "-f", "null", "-"]) for _ in range(max(3, repeats // 3))]
        base = [_ffmpeg_utime([*pcm_in, "-c:a", "pcm_s16le", "-f", "null", "-"]) for _ in range(max(3, repeats // 3))]
        ffd = [_ffmpeg_utime(["-f", "g722", "-i", str(g722), "-c:a", "pcm_s16le", "-f", "null", "-"]) for _ in range(max(3, repeats // 3))]
        enc_s = max(statistics.median(ff) - statistics.median(base), 1e-6)
        dec_s = max(statistics.median(ffd) - statistics.median(base) / 2, 1e-6)
        rows.append(_ratio_row("g722-encode", n, res["ours_encode_s"], "ffmpeg", enc_s))
        rows.append(_ratio_row("g722-decode", n, res["ours_decode_s"], "ffmpeg", dec_s))
    return rows


def cortex_m_instructions() -> dict[str, dict[str, dict[str, int]]]:
    return cm.instructions("vectors", "bench ../shared/testdata")


def footprint(modules: tuple[str, ...] = CODEC_MODULES) -> dict[str, Any]:
    """Flash and static RAM of each codec module at -Os for M0 and M4."""
    return cm.footprint(modules)


OPUS_ENVS = {"m4": "mps2-an386-opus", "m4_plain_c": "mps2-an386-opus-c", "m4_os": "mps2-an386-opus-os"}
_OPUS_LINE = re.compile(r"^(state|stack) (\S+) (\d+)$", re.M)


def opus_m4() -> dict[str, Any]:
    """Opus on the Cortex-M4 (QEMU mps2-an386, -icount shift=0): instructions per 20 ms frame per
    build, state and stack bytes, libopus's flash at -O2 and -Os."""
    from host_tools.native import cortexm

    instr: dict[str, dict[str, dict[str, int]]] = {}
    flash: dict[str, dict[str, int]] = {}
    state: dict[str, int] = {}
    stack: dict[str, int] = {}
    for name, env in OPUS_ENVS.items():
        elf = cortexm.build(env, "opus_harness")
        code, text = cortexm.run(elf, cortexm.machine(env), "bench ../shared/testdata", timeout=600)
        if code != 0:
            raise RuntimeError(f"opus_harness bench on {env} exited {code}: {text[-400:]}")
        instr[name] = {m.group(1): {"frames": int(m.group(2)), "mean": int(m.group(3)), "max": int(m.group(4))}
                       for m in cm.BENCH_LINE.finditer(text)}
        if name != "m4_plain_c":
            flash["O2" if name == "m4" else "Os"] = cm.linked_footprint(elf.with_suffix(".map"), "libopus")
        if name == "m4":
            for m in _OPUS_LINE.finditer(text):
                (state if m.group(1) == "state" else stack)[m.group(2)] = int(m.group(3))
    return {
        "codec": "libopus 1.3.1 (Debian 1.3.1-3), fixed point, mono 16 kHz, 24 kbit/s, VOIP",
        "instructions_per_20ms": instr,
        "state_bytes": state,
        "stack_bytes": stack,
        "libopus_flash": flash,
    }


# Runs on the device with _nc imported and the helpers of host_tools.native.mpqemu: instructions
# per 20 ms frame (mean over `frames`), `ipus` instructions per time.ticks_us() microsecond.
NATMOD_BENCH = r'''
import time, gc

def _per_frame(fn, frames, ipus):
    gc.collect()
    t0 = time.ticks_us()
    for i in range(frames):
        fn(i)
    return int(time.ticks_diff(time.ticks_us(), t0) * ipus / frames)

def bench(pcm_path, frames, ipus):
    pcm = memoryview(sh_read(pcm_path))
    out = {}
    enc, dec = _nc.g722_enc_new(64000), _nc.g722_dec_new(64000)
    codes, back = bytearray(160), bytearray(640)
    def g722_into(i):
        _nc.g722_encode_into(enc, pcm[640 * i:640 * i + 640], codes)
        _nc.g722_decode_into(dec, codes, back)
    def g722_alloc(i):
        _nc.g722_decode(dec, _nc.g722_encode(enc, pcm[640 * i:640 * i + 640]))
    def loop_only(i):
        pcm[640 * i:640 * i + 640]
    out['loop+slice'] = _per_frame(loop_only, frames, ipus)  # the harness's own share of each figure
    out['g722-enc+dec'] = _per_frame(g722_into, frames, ipus)
    out['g722-enc+dec-new-bytes'] = _per_frame(g722_alloc, frames, ipus)
    codecs = [(2, 'g722')] + ([(4, 'opus')] if hasattr(_nc, 'opus_version') else [])
    for code, name in codecs:
        def tx_new():
            return _nc.media_tx_new(code, 20, 40, 0, 0, 1, 16, 0, 64000, 96, 97, 1000, 1, 2, 3, 4, 111, 24000, 0, 0)
        rec, pkts = tx_new(), []
        for i in range(frames):
            _nc.media_tx_push(rec, pcm[640 * i:640 * i + 640], 20 * i)
            got = []
            p = _nc.media_tx_poll(rec, 20 * i)
            while p is not None:
                got.append(p)
                p = _nc.media_tx_poll(rec, 20 * i)
            pkts.append(got)
        tx = tx_new()
        rx = _nc.media_rx_new(code, 20, 60, 400, None, 0, 0, 1, 100, 2, 96, 97, 1000, 9)
        buf, play = bytearray(_nc.MAX_PACKET), bytearray(640)
        def send(i):
            _nc.media_tx_push(tx, pcm[640 * i:640 * i + 640], 20 * i)
            while _nc.media_tx_poll_into(tx, buf, 20 * i):
                pass
        def receive(i):
            for p in pkts[i]:
                _nc.media_rx_packet(rx, p, 20 * i)
            _nc.media_rx_pull_into(rx, play, 20 * i)
            while _nc.media_rx_poll_feedback_into(rx, buf, 20 * i):
                pass
        out['media-%s-tx' % name] = _per_frame(send, frames, ipus)
        out['media-%s-rx' % name] = _per_frame(receive, frames, ipus)
        out['media-%s-tx+rx' % name] = out['media-%s-tx' % name] + out['media-%s-rx' % name]
    return out
'''


def natmod_figures(frames: int = 100) -> dict[str, Any]:
    """_nc.mpy per architecture: size, heap once imported, instructions per 20 ms frame."""
    from host_tools.native import mpqemu, natmod

    pcm = TESTDATA / "itu-stl" / "g722" / "inpsp.bin"  # 16 kHz speech, 6 s
    frames = min(frames, pcm.stat().st_size // 640)
    archs: dict[str, Any] = {}
    with mpqemu.Board(icount=True, timeout=600) as board:
        ipus = board.calibrate()
        for arch, path in natmod.build_all().items():
            board.soft_reset()
            board.load("/nc", {"_nc.mpy": path})
            free = board.exec("import gc\ngc.collect()\nf = gc.mem_free()\nimport _nc\ngc.collect()\n"
                              "print(f - gc.mem_free())")
            board.exec(NATMOD_BENCH)
            got = board.exec(f"print(bench({str(pcm.resolve())!r}, {frames}, {ipus!r}))", timeout=900)
            archs[arch] = {"mpy_bytes": path.stat().st_size, "loaded_heap_bytes": int(free),
                           "opus": arch in natmod.OPUS_ARCHS,
                           "instructions_per_20ms": {k: int(v) for k, v in eval(got).items()}}  # noqa: S307 - our device's dict of ints
    return {
        "board": f"MicroPython {mpqemu.micropython.VERSION} ports/qemu {mpqemu.BOARD} on QEMU {mpqemu.MACHINE} "
                 "(Cortex-M7), -icount shift=0",
        "instructions_per_us": ipus,
        "frames": frames,
        "archs": archs,
    }


def state_sizes() -> dict[str, int]:
    from native_codec import lib

    return {
        "g722_encoder": int(lib.ec_g722_enc_state_size()),
        "g722_decoder": int(lib.ec_g722_dec_state_size()),
        "adpcm": int(lib.ec_adpcm_state_size()),
        "plc": int(lib.ec_plc_state_size()),
    }


def _targets(host: list[dict[str, Any]], instr: dict[str, Any], size: dict[str, Any]) -> list[dict[str, Any]]:
    def row(name: str, value: float, target: float, higher_is_better: bool) -> dict[str, Any]:
        met = value >= target if higher_is_better else value <= target
        return {"name": name, "value": value, "target": target, "met": met}

    g711 = min(r["ratio"] for r in host if r["codec"].startswith("g711"))
    rows = [row("g711_vs_audioop (worst of enc/dec, both laws)", g711, TARGETS["g711_vs_audioop"], True)]
    for op in ("encode", "decode"):
        peers = [r for r in host if r["codec"] == f"g722-{op}"]
        best = min(peers, key=lambda r: r["ratio"])
        rows.append(row(f"g722_{op}_vs_faster_peer ({best['peer']})", best["ratio"], TARGETS["g722_vs_best_peer"], True))
    m4 = instr.get("m4", {})
    if "g722-enc" in m4 and "g722-dec" in m4:
        rows.append(row("g722_enc+dec_m4_instructions_per_20ms", m4["g722-enc"]["mean"] + m4["g722-dec"]["mean"],
                        TARGETS["g722_m4_instructions_per_frame"], False))
    rows.append(row("all_codecs_flash_m0_bytes", size["m0"]["total_flash"], TARGETS["m0_total_flash_bytes"], False))
    return rows


def run(json_out: bool, quick: bool) -> int:
    import platform as _platform

    if not TESTDATA.is_dir():
        print(f"edgecall bench codec: test data not found at {TESTDATA}", file=sys.stderr)
        return 2
    repeats = 3 if quick else 15
    host = host_python_peers(repeats) + host_g722(repeats)
    instr = cortex_m_instructions()
    size = footprint()
    result = {
        "schema": 1,
        "bench": "codec",
        "machine": {"cpu": _platform.processor() or _platform.machine(), "python": _platform.python_version()},
        "repeats": repeats,
        "host_throughput": host,
        "cortex_m_instructions_per_20ms": instr,
        "footprint_os": size,
        "state_bytes": state_sizes(),
        "opus_m4": opus_m4(),
        "natmod": natmod_figures(20 if quick else 100),
        "targets": _targets(host, instr, size),
    }
    m4 = instr.get("m4", {})
    if "g722-enc" in m4 and "g722-dec" in m4:  # what MicroPython's call adds to the bare-metal codec
        bare = m4["g722-enc"]["mean"] + m4["g722-dec"]["mean"]
        result["natmod"]["bare_metal_m4_g722_enc+dec"] = bare
        for a in result["natmod"]["archs"].values():
            a["g722_enc+dec_over_bare_metal_m4"] = a["instructions_per_20ms"]["g722-enc+dec"] - bare
    emit(result, json_out, _print_human)
    return 0


def _print_human(r: dict[str, Any]) -> None:
    from rich.console import Console

    con = Console()
    t = table("Host throughput (median, Msamples/s)", ("codec", "ours", "peer", "peer Ms/s", "ratio"))
    for row in r["host_throughput"]:
        t.add_row(row["codec"], f"{row['ours_msamples_per_s']}", row["peer"], f"{row['peer_msamples_per_s']}", f"{row['ratio']}×")
    con.print(t)
    con.print(cm.instructions_table(r["cortex_m_instructions_per_20ms"], "Instructions per 20 ms frame (QEMU, -icount shift=0)"))
    con.print(cm.footprint_table(r["footprint_os"]))
    con.print("state bytes: " + ", ".join(f"{k} {v}" for k, v in r["state_bytes"].items()))
    op = r["opus_m4"]
    con.print(cm.instructions_table(op["instructions_per_20ms"], f"Opus on Cortex-M4, instructions per 20 ms ({op['codec']})"))
    con.print("Opus state bytes: " + ", ".join(f"{k} {v}" for k, v in op["state_bytes"].items())
              + "; deepest stack: " + ", ".join(f"{k} {v}" for k, v in op["stack_bytes"].items()))
    con.print("libopus flash (linked, M4): " + ", ".join(f"-{k} {v['flash']}" for k, v in op["libopus_flash"].items()))
    nm = r["natmod"]
    t = table(f"_nc.mpy: instructions per 20 ms from MicroPython ({nm['board']})",
              ("op", *nm["archs"]))
    ops = sorted({op for a in nm["archs"].values() for op in a["instructions_per_20ms"]})
    for op in ops:
        t.add_row(op, *(str(a["instructions_per_20ms"].get(op, "-")) for a in nm["archs"].values()))
    t.add_row(".mpy bytes", *(str(a["mpy_bytes"]) for a in nm["archs"].values()))
    t.add_row("heap once imported", *(str(a["loaded_heap_bytes"]) for a in nm["archs"].values()))
    con.print(t)
    for row in r["targets"]:
        con.print(f"{'met ' if row['met'] else 'MISSED'} {row['name']}: {row['value']} (target {row['target']})")
