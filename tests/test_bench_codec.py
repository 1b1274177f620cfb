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


def test_opus_on_m4_reports_instructions_state_stack_and_flash() -> None:
    r = codec.opus_m4()
    ops = {"opus-enc-c0", "opus-enc-c3", "opus-enc-c5", "opus-enc-c5-loss10", "opus-dec", "opus-dec-plc", "opus-dec-fec"}
    for build in ("m4", "m4_plain_c", "m4_os"):
        assert set(r["instructions_per_20ms"][build]) == ops
        for op, c in r["instructions_per_20ms"][build].items():
            assert c["frames"] > 0 and 0 < c["mean"] <= c["max"], (build, op, c)
    m4 = r["instructions_per_20ms"]["m4"]
    # complexity costs instructions; the DSP instructions save some; decoding is far cheaper
    assert m4["opus-enc-c0"]["mean"] < m4["opus-enc-c3"]["mean"] < m4["opus-enc-c5"]["mean"]
    assert m4["opus-enc-c5"]["mean"] < r["instructions_per_20ms"]["m4_plain_c"]["opus-enc-c5"]["mean"]
    assert m4["opus-dec"]["mean"] < m4["opus-enc-c0"]["mean"] / 3
    assert 20_000 < r["state_bytes"]["opus-enc"] < 30_000 and 15_000 < r["state_bytes"]["opus-dec"] < 20_000
    assert set(r["stack_bytes"]) == ops and all(0 < v < 64 * 1024 for v in r["stack_bytes"].values())
    assert 0 < r["libopus_flash"]["Os"]["flash"] < r["libopus_flash"]["O2"]["flash"]
    assert r["libopus_flash"]["O2"]["static_ram"] == 0  # no globals, no static buffers
