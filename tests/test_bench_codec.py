"""The codec benchmark's deterministic parts (QEMU instruction counts, footprint) produce complete
figures; its timed parts run only in `./edgecall bench codec`."""
from __future__ import annotations

from host_tools.bench import codec


def test_instruction_counts_cover_every_codec_on_m0_and_m4() -> None:
    counts = codec.cortex_m_instructions()
    ops = {"g711-ulaw-enc", "g711-ulaw-dec", "g711-alaw-enc", "g711-alaw-dec", "g722-enc", "g722-dec",
           "adpcm-enc", "adpcm-dec", "plc8-good", "plc8-lost", "plc16-good", "plc16-lost"}
    for core in ("m0", "m4"):
        assert set(counts[core]) == ops
        for op, c in counts[core].items():
            assert c["frames"] > 0 and 0 < c["mean"] <= c["max"], (core, op, c)
    # the same code costs more instructions on the M0 (no 32-bit multiply-accumulate, Thumb-1)
    assert counts["m0"]["g722-enc"]["mean"] > counts["m4"]["g722-enc"]["mean"]


def test_footprint_is_per_codec_module() -> None:
    fp = codec.footprint()
    for core in ("m0", "m4"):
        assert set(fp[core]["modules"]) == set(codec.CODEC_MODULES)
        assert fp[core]["total_flash"] == sum(m["flash"] for m in fp[core]["modules"].values())
        assert all(m["static_ram"] == 0 for m in fp[core]["modules"].values())  # no globals, no static buffers
