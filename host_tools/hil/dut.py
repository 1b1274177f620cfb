"""A device under test: a virtual devkit or a real board on a serial port, seen through its
device console, with a transcript of the serial traffic kept for diagnostic bundles.

The console port stays open between requests and is reopened after a transport error (a power
cut, a board that re-enumerates). Everything here is synchronous.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import Target, resolve
from host_tools.transport import TransportError, open_port
from host_tools.transport.serial import SerialTransport

TRANSCRIPT_LINES = 400


@dataclass
class Dut:
    id: str
    kind: str  # "virtual" | "board"
    port: str
    baud: int = 921600
    sim_dir: Path | None = None  # a devkit's state folder (speaker and mic files)
    timeout: float = 5.0
    uid: str = ""  # the channel uid it was provisioned with
    host_address: str | None = None  # how the device reaches this machine (an ARM devkit: 10.0.2.2)
    arch: str = ""  # the devkit's kind ("arm", "wasm") or "" for a board
    transcript: deque[str] = field(default_factory=lambda: deque(maxlen=TRANSCRIPT_LINES))
    _transport: SerialTransport | None = None
    _console: DeviceConsole | None = None

    # ---- the console ----
    def target(self) -> Target:
        """The port to open now and the processes allowed to hold it: a devkit's pty changes each
        time it starts, and its supervisor holds it (also when a devkit's pty is given as --port)."""
        if self.kind == "virtual":
            t = resolve(None, self.id, self.sim_dir.parent if self.sim_dir else None)
            self.port = t.port
            return t
        return resolve(self.port, None)

    def _open(self) -> DeviceConsole:
        target = self.target()
        t = open_port(target.port, self.baud, ignore_pids=target.allowed_holders)
        t.record()
        self._transport = t
        self._console = DeviceConsole(t, timeout=self.timeout)
        return self._console

    @property
    def console(self) -> DeviceConsole:
        return self._console or self._open()

    def _flush_transcript(self) -> None:
        t = self._transport
        if t is None or not t.transcript:
            return
        for when, kind, data in t.transcript:
            text = data.decode("ascii", "backslashreplace")
            stamp = time.strftime("%H:%M:%S", time.localtime(when)) + f"{when % 1:.3f}"[1:]
            self.transcript.append(f"{stamp} {kind} {text}")
        t.transcript.clear()

    def request(self, fn: str, *args: Any, retries: int = 1, **kwargs: Any) -> Any:
        """console.<fn>(...) with one reopen of the port after a transport error."""
        for attempt in range(retries + 1):
            try:
                return getattr(self.console, fn)(*args, **kwargs)
            except TransportError:
                self.close()
                if attempt == retries:
                    raise
                time.sleep(0.2)
            finally:
                self._flush_transcript()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._flush_transcript()
        if self._transport is not None:
            try:
                self._transport.close()
            except TransportError:
                pass
        self._transport = None
        self._console = None

    # ---- conveniences ----
    def info(self) -> dict[str, Any]:
        return dict(self.request("info"))

    def call_status(self) -> dict[str, Any]:
        return dict(self.request("call_status"))

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        return dict(self.request("call", op, **fields))

    def wait_ready(self, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                return dict(self.request("wait_ready", timeout=max(1.0, min(5.0, deadline - time.monotonic()))))
            except (TransportError, TimeoutError) as e:
                last = e
                self.close()
                time.sleep(0.3)
        raise TimeoutError(f"{self.id}: the application did not answer within {timeout:.0f} s ({last})")

    def wait_status(self, pred: Any, timeout: float, what: str, poll: float = 0.05) -> dict[str, Any]:
        """Polls call_status until pred(status) holds; TimeoutError naming `what` and the last state."""
        deadline = time.monotonic() + timeout
        st: dict[str, Any] = {}
        while True:
            st = self.call_status()
            if pred(st):
                return st
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.id}: not {what} within {timeout:g} s (state {st.get('state')}, "
                                   f"call {st.get('call_state')})")
            time.sleep(poll)

    def bundle(self) -> dict[str, Any]:
        """The diagnostic bundle: info, log ring, call statistics, heap history, transcript."""
        out: dict[str, Any] = {}
        for key, fn in (("info", "info"), ("call_stats", "call_status"), ("stats", "stats")):
            try:
                out[key] = self.request(fn)
            except (TransportError, TimeoutError, OSError, RuntimeError) as e:
                out[key] = {"error": str(e)}
        try:
            out["log"] = self.request("log", 0).get("entries", [])
        except (TransportError, TimeoutError, OSError, RuntimeError) as e:
            out["log"] = [f"unavailable: {e}"]
        stats = out.get("stats", {})
        out["heap_history"] = stats.get("heap_history", []) if isinstance(stats, dict) else []
        out["transcript"] = list(self.transcript)[-200:]
        return out
