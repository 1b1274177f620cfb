"""Issue 17, item 8: after any input, however long or malformed, the device console answers again
within 2 s of the input stopping. A real virtual devkit on its pty takes a bounded blast of random
bytes (20 s or 400 KiB at the default 115200 baud, 0x03 and 0x04 excluded: they would interrupt or
reset), read back as a terminal would; then one SMP request — sent at once, glued to the junk,
without a newline before it, and not retried — must be answered within 2 s, by the same boot (no
reset). Then junk that ends in a frame's start marker, and again one request. On both kinds of
devkit: the WebAssembly one (REPL beside the application) and the ARM one (the application owns
the console, as on a board)."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.transport import SerialTransport, TransportError, open_port
from host_tools.firmware.image import build_image
from host_tools.sim import manager
from tests.devkits import devkits, sim_dir

DEVICE = "junk1"
BLAST_SECONDS = 20.0
BLAST_BYTES = 400 * 1024
ANSWER_WITHIN = 2.0
JUNK = bytes(b for b in range(256) if b not in (0x03, 0x04))


@contextmanager
def arm_devkit(root: Path) -> Iterator[Path]:
    """An ARM devkit running the application's image (the console is the application's stdin)."""
    with sim_dir(root):
        image = Path(build_image().path).read_bytes()
        manager.start(ids=[DEVICE], root=root, factory_image=image)
        yield root


@pytest.fixture(scope="module", params=["wasm", "arm"])
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SerialTransport]:
    root = tmp_path_factory.mktemp("sim")
    with (devkits(root, [DEVICE]) if request.param == "wasm" else arm_devkit(root)):
        t = resolve(None, DEVICE)
        with open_port(t.port, ignore_pids=t.allowed_holders) as tr:
            DeviceConsole(tr).wait_ready(30)
            yield tr


def blast(port: SerialTransport, rng: random.Random, seconds: float, limit: int, tail: bytes = b"") -> tuple[int, float]:
    """Writes junk (then `tail`) while a reader drains what the device sends; returns (bytes
    written, the time the input stopped)."""
    stop = threading.Event()

    def drain() -> None:
        while not stop.is_set():
            port.read(65536, 0.05)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    sent, t0 = 0, time.monotonic()
    try:
        while sent < limit and time.monotonic() - t0 < seconds:
            chunk = bytes(rng.choice(JUNK) for _ in range(512))
            try:
                port.write(chunk)
            except TransportError as exc:
                pytest.fail(f"the device stopped taking input after {sent} bytes of junk ({exc})")
            sent += len(chunk)
        port.write(tail)
        stopped = time.monotonic()
    finally:
        stop.set()
        reader.join(5)
    return sent, stopped


def answer_time(port: SerialTransport, stopped: float) -> float:
    dev = DeviceConsole(port, timeout=ANSWER_WITHIN)
    assert dev.echo("still here") == "still here"  # one request, at once: SmpTimeout fails the test
    return time.monotonic() - stopped


def test_a_junk_blast_leaves_the_console_answering(port: SerialTransport) -> None:
    uptime = int(DeviceConsole(port).info()["uptime_ms"])
    sent, stopped = blast(port, random.Random(17), BLAST_SECONDS, BLAST_BYTES)
    took = answer_time(port, stopped)
    print(f"{sent} bytes of junk; the console answered {took:.2f} s after the input stopped")
    assert sent >= 100 * 1024, f"only {sent} bytes of junk went in within {BLAST_SECONDS} s"
    assert took <= ANSWER_WITHIN
    info = DeviceConsole(port).info()
    assert int(info["uptime_ms"]) > uptime, "the device was reset"


def test_junk_that_ends_in_a_frame_start_does_not_hide_the_next_request(port: SerialTransport) -> None:
    rng = random.Random(8)
    for tail in (b"\x06\x09QUJD", b"\n\x06\x09AAAAAAAA", b"\x06", b"\x04\x14" + b"A" * 200):
        _, stopped = blast(port, rng, 1.0, 8 * 1024, tail)
        assert answer_time(port, stopped) <= ANSWER_WITHIN, tail
