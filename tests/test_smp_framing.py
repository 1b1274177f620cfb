"""SMP over a serial console: the host codec (host_tools.smp) and the firmware's
(firmware/edgecall/smp.py, cbor.py, run here under CPython) agree both ways; frames never carry
0x03 (Ctrl-C) or 0x00; garbage, truncation, bad CRCs and oversize lengths are dropped and counted
without losing the next good packet."""
from __future__ import annotations

import sys

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.paths import ROOT
from host_tools.smp.serial import FrameDecoder, Header, crc16_xmodem, encode_frames

sys.path.insert(0, str(ROOT / "firmware"))
from edgecall import cbor as dev_cbor  # noqa: E402
from edgecall import smp as dev_smp  # noqa: E402

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=300) | st.text(max_size=100),
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=10) | st.integers(0, 1000), kids, max_size=6),
    max_leaves=30,
)


def test_crc_matches_the_known_check_value() -> None:
    assert crc16_xmodem(b"123456789") == 0x31C3 == dev_smp.crc16(b"123456789")


@given(cbor_values)
@settings(max_examples=300, deadline=None)
def test_cbor_both_ways(v: object) -> None:
    assert cbor2.loads(dev_cbor.encode(v)) == v
    assert dev_cbor.decode(cbor2.dumps(v)) == v


@given(st.binary(max_size=2000))
@settings(max_examples=200, deadline=None)
def test_frames_both_ways_and_never_contain_ctrl_c(body: bytes) -> None:
    host_frames = encode_frames(body)
    dev_frames = dev_smp.frames(body)
    assert host_frames == dev_frames
    for f in host_frames:
        assert len(f) <= 127 and 0x03 not in f and 0x00 not in f and f.endswith(b"\n")
    assert FrameDecoder().feed(b"".join(dev_frames)) == [body]
    assert dev_smp.Decoder().feed(b"".join(host_frames)) == [body]


def test_header_layout() -> None:
    h = Header(op=2, flags=0, length=300, group=64, seq=7, id=3, version=1)
    assert h.pack() == dev_smp.header(2, 64, 3, 7, 300, 1) == bytes([0x0A, 0, 1, 44, 0, 64, 7, 3])
    assert Header.unpack(h.pack()) == h
    assert dev_smp.parse_header(h.pack()) == {"op": 2, "version": 1, "flags": 0, "length": 300, "group": 64, "seq": 7, "id": 3}


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_garbage_never_raises_and_the_next_packet_survives(noise: bytes) -> None:
    good = encode_frames(b"\x01" * 200)
    for dec in (FrameDecoder(), dev_smp.Decoder()):
        got = dec.feed(noise + b"\n" + b"".join(good))
        assert got[-1:] == [b"\x01" * 200]


def test_bad_packets_are_counted_not_delivered() -> None:
    body = b"hello smp" * 30
    frames = encode_frames(body)
    corrupt = bytearray(frames[0])
    corrupt[10] = ord("A") if corrupt[10] != ord("A") else ord("B")  # flips payload bits: CRC fails
    truncated = frames[0]  # the packet never completes: the next start frame replaces it
    oversize = b"\x06\x09" + __import__("base64").b64encode(b"\xff\xff" + b"x" * 10) + b"\n"
    for dec, count in ((FrameDecoder(), lambda d: len(d.errors)), (dev_smp.Decoder(), lambda d: d.errors)):
        assert dec.feed(bytes(corrupt) + b"".join(frames[1:])) == []
        assert dec.feed(truncated) == []
        assert dec.feed(b"".join(frames)) == [body]
        assert dec.feed(b"\x04\x14QUJD\n") == []  # continuation with no start
        assert count(dec) >= 2
    dev = dev_smp.Decoder()
    assert dev.feed(oversize) == [] and dev.errors == 1 and "length" in dev.last_error


def test_cbor_rejects_malformed() -> None:
    import pytest

    for bad in (b"", b"\x18", b"\x5a\x00\x00\x00\x10ab", b"\x9b" + b"\xff" * 8, b"\xc1\x00", b"\xf9\x00\x00", b"\x01\x02"):
        with pytest.raises(ValueError):
            dev_cbor.decode(bad)
    deep = b"\x81" * 50 + b"\x00"
    with pytest.raises(ValueError, match="deep"):
        dev_cbor.decode(deep)


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_firmware_base64_matches_python(data: bytes) -> None:
    import base64

    enc = dev_smp.b64encode(data)
    assert enc == base64.b64encode(data)
    assert dev_smp.b64decode(enc) == data


def test_firmware_base64_rejects_what_python_rejects() -> None:
    import pytest

    for bad in (b"QUJ", b"QU=D", b"Q!JD", b"====", b"QUJD="):
        with pytest.raises(ValueError):
            dev_smp.b64decode(bad)


def test_host_finds_a_frame_after_device_output_on_the_same_line() -> None:
    frames = encode_frames(b"\x05" * 150)
    dec = FrameDecoder()
    assert dec.feed(b">>> " + frames[0] + b"log: hello " + b"".join(frames[1:])) == [b"\x05" * 150]
    assert bytes(dec.text).startswith(b">>> ")
