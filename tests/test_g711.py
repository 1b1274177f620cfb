"""G.711: bit-exact with the ITU-T G.191 reference files and with Python's audioop."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import native_codec as nc
from host_tools.audiofiles import low_bytes, read_le16

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

LAWS = [("ulaw", "u"), ("alaw", "a")]
ALL = np.arange(-32768, 32768, dtype=np.int16)


@pytest.mark.parametrize("law,tag", LAWS)
def test_reference_files(testdata: Path, law: str, tag: str) -> None:
    d = testdata / "itu-stl" / "g711"
    src = read_le16(d / "sweep.src")
    assert np.array_equal(src, ALL)  # the sweep covers every 16-bit value
    codes = nc.g711_encode(src, law)
    assert codes == low_bytes(d / f"sweep-r.{tag}")
    assert np.array_equal(nc.g711_decode(low_bytes(d / f"sweep-r.{tag}"), law), read_le16(d / f"sweep-r.{tag}-{tag}"))
    assert np.array_equal(nc.g711_decode(codes, law), read_le16(d / f"sweep-r.re{tag}"))


def test_alaw_equals_audioop_for_every_input() -> None:
    assert nc.g711_encode(ALL, "alaw") == audioop.lin2alaw(ALL.tobytes(), 2)


def test_ulaw_against_audioop_for_every_input() -> None:
    """G.191 and audioop reduce a negative 16-bit input to a 14-bit magnitude differently: G.191
    takes (~x) >> 2 = floor((-x - 1) / 4), audioop -(x >> 2) = ceil(-x / 4), one step more. We
    follow G.191 (the ITU reference files above), so audioop's code for a negative x is exactly
    ours for x - 4 (clipped at -32768); for x >= 0 they are the same function."""
    x = ALL.astype(np.int32)
    ours = np.frombuffer(nc.g711_encode(ALL, "ulaw"), dtype=np.uint8)
    theirs = np.frombuffer(audioop.lin2ulaw(ALL.tobytes(), 2), dtype=np.uint8)
    neg = x < 0
    assert np.array_equal(ours[~neg], theirs[~neg])
    shifted = np.maximum(x[neg] - 4, -32768).astype(np.int16)
    assert np.array_equal(np.frombuffer(nc.g711_encode(shifted, "ulaw"), dtype=np.uint8), theirs[neg])
    assert int((ours != theirs).sum()) == 508  # where the one step crosses a decision level


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_decode_equals_audioop_for_every_code(law: str) -> None:
    codes = bytes(range(256))
    ref = audioop.ulaw2lin(codes, 2) if law == "ulaw" else audioop.alaw2lin(codes, 2)
    assert nc.g711_decode(codes, law).tobytes() == ref


def test_empty_input() -> None:
    assert nc.g711_encode(np.zeros(0, np.int16)) == b""
    assert len(nc.g711_decode(b"")) == 0


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros(4, np.float32), "dtype int16"),
        (np.zeros(4, np.int32), "dtype int16"),
        (np.zeros((2, 2), np.int16), "one-dimensional"),
        ([1, 2, 3], "numpy array"),
    ],
)
def test_encode_rejects_bad_input(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nc.g711_encode(bad)  # type: ignore[arg-type]


def test_bad_law_and_data() -> None:
    with pytest.raises(ValueError, match="'ulaw' or 'alaw'"):
        nc.g711_encode(np.zeros(2, np.int16), "mulaw")
    with pytest.raises(ValueError, match="bytes"):
        nc.g711_decode("abc")  # type: ignore[arg-type]
