"""An SMP client over any byte transport: sends a request, waits for the response with the same
sequence number, group and command, and turns SMP error replies into SmpError."""
from __future__ import annotations

import time
from typing import Any, Protocol

import cbor2

from host_tools.smp.serial import OP_READ, OP_READ_RSP, OP_WRITE, OP_WRITE_RSP, FrameDecoder, Header, encode_frames

# mcumgr's MGMT_ERR codes, for messages
MGMT_ERR = {0: "ok", 1: "unknown error", 2: "out of memory", 3: "invalid argument", 4: "timeout", 5: "no such entry",
            6: "bad state", 7: "message too large", 8: "not supported", 9: "corrupt", 10: "busy",
            11: "access denied", 12: "protocol version too old", 13: "protocol version too new"}


class ByteTransport(Protocol):
    def write(self, data: bytes) -> None: ...
    def read(self, max_bytes: int, timeout: float) -> bytes: ...


class SmpTimeout(TimeoutError):
    """No response in time."""


class SmpError(RuntimeError):
    """The device answered with an error code."""

    def __init__(self, group: int, cmd: int, rc: int, err_group: int | None = None, reason: str | None = None) -> None:
        self.group, self.cmd, self.rc, self.err_group, self.reason = group, cmd, rc, err_group, reason
        why = f": {reason}" if reason else ""
        super().__init__(f"device refused group {group} command {cmd}: {MGMT_ERR.get(rc, 'error')} (rc {rc}){why}")


class SmpClient:
    def __init__(self, transport: ByteTransport, timeout: float = 5.0, version: int = 1, max_frame: int = 127) -> None:
        self.transport = transport
        self.timeout = timeout
        self.version = version
        self.max_frame = max_frame
        self.decoder = FrameDecoder()
        self._seq = 0

    def request(self, group: int, cmd: int, payload: dict[str, Any] | None = None, write: bool = False,
                timeout: float | None = None) -> dict[str, Any]:
        data = cbor2.dumps(payload or {})
        self._seq = (self._seq + 1) & 0xFF
        hdr = Header(OP_WRITE if write else OP_READ, 0, len(data), group, self._seq, cmd, self.version)
        for frame in encode_frames(hdr.pack() + data, self.max_frame):
            self.transport.write(frame)
        want_op = OP_WRITE_RSP if write else OP_READ_RSP
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SmpTimeout(f"no SMP response to group {group} command {cmd} within {self.timeout if timeout is None else timeout:.1f} s")
            for body in self.decoder.feed(self.transport.read(4096, min(left, 0.2))):
                rsp = self._match(body, hdr, want_op)
                if rsp is not None:
                    return rsp

    def _match(self, body: bytes, req: Header, op: int) -> dict[str, Any] | None:
        try:
            h = Header.unpack(body)
        except ValueError:
            return None
        if (h.op, h.group, h.seq, h.id) != (op, req.group, req.seq, req.id):
            return None  # a stale or unrelated packet
        try:
            rsp = cbor2.loads(body[8 : 8 + h.length])
        except Exception:  # noqa: BLE001 - any CBOR failure is a corrupt response
            self.decoder.errors.append("response is not CBOR")
            return None
        if not isinstance(rsp, dict):
            return None
        err = rsp.get("err")
        rsn = rsp.get("rsn") if isinstance(rsp.get("rsn"), str) else None
        if isinstance(err, dict) and err.get("rc", 0) != 0:
            raise SmpError(req.group, req.id, int(err["rc"]), err.get("group"), rsn)
        if rsp.get("rc", 0) != 0:
            raise SmpError(req.group, req.id, int(rsp["rc"]), reason=rsn)
        return rsp

    def read(self, group: int, cmd: int, payload: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        return self.request(group, cmd, payload, write=False, timeout=timeout)

    def write(self, group: int, cmd: int, payload: dict[str, Any] | None = None, timeout: float | None = None) -> dict[str, Any]:
        return self.request(group, cmd, payload, write=True, timeout=timeout)
