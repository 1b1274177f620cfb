"""`edgecall bench video`: the JPEG encoder's cost and size, measured in one run on this machine.

- Cortex-M4 instructions to encode one QVGA frame (QEMU mps2-an386, `-icount shift=0`, counted by the
  video harness tests/c/video.c `bench`: RGB565 4:2:0, I420 4:2:0, YUYV 4:2:2 at quality 75);
- encoder RAM: the state (ec_jpeg_enc), the input one MCU row needs, an output slice (one RTP
  packet; any size works) and the stack of the encoder's deepest call (arm-none-eabi-gcc
  -fstack-usage at -Os, M4);
- flash and static RAM of the video modules at -Os for Cortex-M0 and M4 (arm-none-eabi-size);
- host encode speed against Pillow (libjpeg-turbo) on the same image, quality and subsampling, in the
  same process: median of repeats, and the file sizes.
"""
from __future__ import annotations

import io
import re
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from host_tools.bench import emit, table
from host_tools.bench import cortexm as cm

MODULES = ("jpeg", "rtpjpeg", "rtph264")
TARGETS = {"m4_qvga_instructions": 15_000_000}
RTP_PACKET = 1200


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def cortex_m4_instructions() -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per-frame instruction counts and the harness's state/buffer sizes (bytes) on the M4."""
    from host_tools.native import cortexm

    elf = cortexm.build("mps2-an386", "video")
    code, text = cortexm.run(elf, "mps2-an386", "bench", timeout=600)
    if code != 0:
        raise RuntimeError(f"video bench harness on mps2-an386 exited {code}: {text[-400:]}")
    frames = {m.group(1): {"instructions": int(m.group(2)), "bytes": int(m.group(3))}
              for m in re.finditer(r"^bench (\S+) frames=1 mean=(\d+) max=\d+ bytes=(\d+)$", text, re.M)}
    sizes = {m.group(1): int(m.group(2)) for m in re.finditer(r"^size (\S+) (\d+)$", text, re.M)}
    return frames, sizes


def footprint() -> dict[str, Any]:
    return cm.footprint(tuple(MODULES))


def encoder_stack_bytes() -> int:
    """Stack of ec_jpeg_enc_write plus its deepest callee (M4, -Os, -fstack-usage)."""
    obj = cm.compile_object("m4", "jpeg", ("-fstack-usage",))
    su = obj[:-2] + ".su"
    frames: dict[str, int] = {}
    with open(su, encoding="utf-8") as f:
        for ln in f:
            parts = ln.rstrip("\n").split("\t")
            frames[parts[0].rsplit(":", 1)[-1]] = int(parts[1])
    write = frames.get("ec_jpeg_enc_write", 0)
    callees = [v for k, v in frames.items() if not k.startswith("ec_jpeg_")]
    return write + (max(callees) if callees else 0)


def host_speed(repeats: int) -> list[dict[str, Any]]:
    from PIL import Image

    import native_codec as nc

    rng = np.random.default_rng(0)
    try:
        from skimage import data

        photo = data.astronaut()
    except ImportError:  # a synthetic stand-in when scikit-image is missing
        y, x = np.mgrid[0:512, 0:512]
        photo = np.clip(np.stack([x // 2, y // 2, (x + y) // 4], -1) + rng.integers(-8, 9, (512, 512, 3)), 0,
                        255).astype(np.uint8)
    qvga = np.asarray(Image.fromarray(photo).resize((320, 240)))
    rows = []
    for name, img in (("512x512", photo), ("qvga", qvga)):
        pil = Image.fromarray(img)

        def pillow(pil: Any = pil) -> bytes:
            b = io.BytesIO()
            pil.save(b, "JPEG", quality=75, subsampling=2)
            return b.getvalue()

        enc = nc.JpegEncoder(img.shape[1], img.shape[0], "rgb888", 75, "420")
        ours_s = _median_time(lambda: enc.encode(img), repeats)
        peer_s = _median_time(pillow, repeats)
        rows.append({"image": name, "quality": 75, "subsampling": "420",
                     "ours_ms": round(ours_s * 1e3, 3), "ours_bytes": len(enc.encode(img)),
                     "pillow_ms": round(peer_s * 1e3, 3), "pillow_bytes": len(pillow()),
                     "ours_mpixels_per_s": round(img.shape[0] * img.shape[1] / ours_s / 1e6, 1),
                     "speed_vs_pillow": round(peer_s / ours_s, 2)})
    return rows


def run(json_out: bool, quick: bool = False) -> int:
    import platform as _platform

    from native_codec import lib

    repeats = 5 if quick else 31
    frames, sizes = cortex_m4_instructions()
    size = footprint()
    state = int(lib.ec_jpeg_enc_state_size())
    stack = encoder_stack_bytes()
    ram = {
        "state": state,
        "stack": stack,
        "output_slice": RTP_PACKET,
        "input_mcu_row_qvga_rgb565": sizes.get("qvga_rgb565_mcu_row", 320 * 16 * 2),
        "input_mcu_row_qvga_i420": sizes.get("qvga_i420_mcu_row", 320 * 16 * 3 // 2),
    }
    ram["total_qvga_rgb565"] = state + stack + RTP_PACKET + ram["input_mcu_row_qvga_rgb565"]
    host = host_speed(repeats)
    m4 = frames.get("jpeg-qvga-rgb565-420-q75", {}).get("instructions", 0)
    result = {
        "schema": 1,
        "bench": "video",
        "machine": {"cpu": _platform.processor() or _platform.machine(), "python": _platform.python_version()},
        "repeats": repeats,
        "m4_qvga_frame": frames,
        "encoder_ram_bytes": ram,
        "state_bytes": {k: v for k, v in sizes.items() if k.startswith("ec_")},
        "footprint_os": size,
        "host_encode": host,
        "targets": [{"name": "m4_qvga_rgb565_420_instructions", "value": m4,
                     "target": TARGETS["m4_qvga_instructions"], "met": 0 < m4 <= TARGETS["m4_qvga_instructions"]}],
    }
    emit(result, json_out, _print_human)
    return 0


def _print_human(r: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    t = table("Cortex-M4: one QVGA frame (QEMU mps2-an386, -icount shift=0)", ("case", "instructions", "bytes"))
    for name, v in r["m4_qvga_frame"].items():
        t.add_row(name, f"{v['instructions']:,}", str(v["bytes"]))
    con.print(t)
    t = Table(title="Encoder RAM (bytes)")
    t.add_column("item")
    t.add_column("bytes")
    for k, v in r["encoder_ram_bytes"].items():
        t.add_row(k, str(v))
    con.print(t)
    con.print(cm.footprint_table(r["footprint_os"]))
    t = table("Host JPEG encode (median), quality 75, 4:2:0", ("image", "ours ms", "bytes", "Pillow ms", "bytes", "Pillow time / ours"))
    for row in r["host_encode"]:
        t.add_row(row["image"], str(row["ours_ms"]), str(row["ours_bytes"]), str(row["pillow_ms"]),
                  str(row["pillow_bytes"]), f"{row['speed_vs_pillow']}×")
    con.print(t)
    for row in r["targets"]:
        con.print(f"{'met ' if row['met'] else 'MISSED'} {row['name']}: {row['value']:,} (target {row['target']:,})")


if __name__ == "__main__":
    sys.exit(run(json_out="--json" in sys.argv, quick="--quick" in sys.argv))
