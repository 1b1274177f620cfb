"""The device side of a deploy, over mpremote's SerialTransport (raw REPL, raw-paste when offered).

Files are written in chunks of at most 256 bytes, each a bytes literal in a `write` call (a few
chunks per exec); no binascii on the device for the data, since some ports' binascii allocates a lot
for large inputs. Hashes are computed on the device with hashlib.sha256 over a file read with
readinto into a 256-byte buffer."""
from __future__ import annotations

import hashlib
import posixpath
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mpremote.transport import TransportError  # type: ignore[import-untyped]
from mpremote.transport_serial import SerialTransport  # type: ignore[import-untyped]

CHUNK = 256
CHUNKS_PER_EXEC = 8

# Defined once per raw-REPL session (globals persist between raw-REPL execs).
HELPERS = """
def _ec_h(p):
    import hashlib, binascii
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256()
    b = bytearray(256)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _ec_md(p):
    import os
    try:
        os.mkdir(p)
    except OSError as e:
        if e.args[0] != 17:
            raise
"""


class DeployError(RuntimeError):
    """A transport or device-side failure (exit code 3)."""


class VerifyError(RuntimeError):
    """A written file's device hash differs from the host's (exit code 1)."""


@dataclass
class FileResult:
    path: str
    size: int
    sha256: str
    status: str  # "written" | "unchanged"
    verified: bool
    device_sha256: str | None = None


@dataclass
class DeployReport:
    port: str
    variant: str
    root: str
    files: list[FileResult] = field(default_factory=list)
    bytes_written: int = 0
    seconds: float = 0.0
    write_seconds: float = 0.0
    native: dict[str, Any] | None = None  # the _nc.mpy decision (host_tools/deploy/native.py)

    @property
    def written(self) -> int:
        return sum(f.status == "written" for f in self.files)

    @property
    def unchanged(self) -> int:
        return sum(f.status == "unchanged" for f in self.files)

    @property
    def verify_failed(self) -> list[str]:
        return [f.path for f in self.files if f.status == "written" and not f.verified]

    @property
    def throughput_bps(self) -> float:
        return self.bytes_written / self.write_seconds if self.write_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"port": self.port, "variant": self.variant, "root": self.root,
                "files": [asdict(f) for f in self.files],
                "totals": {"files": len(self.files), "written": self.written, "unchanged": self.unchanged,
                           "verified": sum(f.verified for f in self.files), "verify_failed": self.verify_failed,
                           "bytes_written": self.bytes_written, "seconds": round(self.seconds, 3),
                           "write_seconds": round(self.write_seconds, 3),
                           "throughput_bytes_per_s": round(self.throughput_bps, 1)},
                "native": self.native,
                "ok": not self.verify_failed}


class RawRepl:
    """A raw-REPL session on one port. `exclusive=False`: a virtual devkit's supervisor holds its pty."""

    def __init__(self, port: str, timeout: float = 10.0) -> None:
        self.port = port
        self.timeout = timeout
        try:
            self.t = SerialTransport(port, baudrate=115200, exclusive=False)
        except (TransportError, OSError) as e:
            raise DeployError(f"cannot open {port}: {e}") from e
        self._helpers = False
        self._fromhex: bool | None = None

    def __enter__(self) -> RawRepl:
        try:
            self.t.enter_raw_repl(soft_reset=False, timeout_overall=self.timeout)
        except (TransportError, OSError) as e:
            self.t.close()
            raise DeployError(f"could not enter the raw REPL on {self.port}: {e}") from e
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if self.t.in_raw_repl:
                self.t.exit_raw_repl()
        except OSError:
            pass
        finally:
            self.t.close()

    def exec(self, code: str) -> str:
        try:
            out, err = self.t.exec_raw(code, timeout=self.timeout)
        except (TransportError, OSError) as e:
            raise DeployError(f"raw REPL on {self.port}: {e}") from e
        if err:
            raise DeployError(f"device error: {err.decode(errors='replace').strip()}")
        return out.decode(errors="replace")

    def eval(self, expr: str) -> Any:
        import ast

        out = self.exec(f"print(repr({expr}))").strip()
        try:
            return ast.literal_eval(out)
        except (ValueError, SyntaxError) as e:
            raise DeployError(f"unexpected device output {out!r}") from e

    def ensure_helpers(self) -> None:
        if not self._helpers:
            self.exec(HELPERS)
            self._helpers = True

    def hashes(self, paths: list[str]) -> dict[str, str | None]:
        self.ensure_helpers()
        got = self.eval("{p: _ec_h(p) for p in %r}" % (paths,))
        if not isinstance(got, dict):
            raise DeployError(f"unexpected device hash answer {got!r}")
        return {str(k): (None if v is None else str(v)) for k, v in got.items()}

    def makedirs(self, path: str) -> None:
        self.ensure_helpers()
        parts = [p for p in path.split("/") if p]
        prefix = "/" if path.startswith("/") else ""
        dirs = []
        for i in range(1, len(parts) + 1):
            dirs.append(prefix + "/".join(parts[:i]))
        if dirs:
            self.exec("".join(f"_ec_md({d!r})\n" for d in dirs))

    def _literal(self, chunk: bytes) -> str:
        """The shorter of a bytes literal and bytes.fromhex('...') (2 chars a byte; used when the
        port has it) — the line rate, not the exec count, bounds a deploy's speed."""
        lit = repr(chunk)
        if self._fromhex is None:
            self._fromhex = self.exec("print(hasattr(bytes, 'fromhex'))").strip() == "True"
        if self._fromhex and 2 * len(chunk) + 16 < len(lit):
            return f"bytes.fromhex('{chunk.hex()}')"
        return lit

    def write_file(self, path: str, data: bytes) -> str | None:
        """Write `data` to `path` and return the device's SHA-256 of the file as written. The open,
        the first chunks, the last chunks, the close and the hash share execs: one exec per
        CHUNKS_PER_EXEC chunks."""
        self.ensure_helpers()
        chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        batches = [chunks[i : i + CHUNKS_PER_EXEC] for i in range(0, len(chunks), CHUNKS_PER_EXEC)]
        out = ""
        for n, batch in enumerate(batches):
            code = f"_ec_f = open({path!r}, 'wb')\n" if n == 0 else ""
            code += "".join(f"_ec_f.write({self._literal(c)})\n" for c in batch if c)
            if n == len(batches) - 1:
                code += f"_ec_f.close()\ndel _ec_f\nprint(repr(_ec_h({path!r})))\n"
            try:
                out = self.exec(code)
            except DeployError:
                try:
                    self.exec("try:\n _ec_f.close()\nexcept Exception:\n pass\n")
                except DeployError:
                    pass
                raise
        got = out.strip()
        return None if got in ("", "None") else got.strip("'")

    def reset(self) -> None:
        """machine.reset(): the device does not answer the exec; leave without waiting."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
        except (TransportError, OSError) as e:
            raise DeployError(f"reset on {self.port}: {e}") from e
        self.t.in_raw_repl = False

    def soft_reset(self) -> None:
        """Ctrl-D in the friendly REPL: boot.py and main.py run again."""
        try:
            self.t.exit_raw_repl()
            self.t.serial.write(b"\x04")
        except OSError as e:
            raise DeployError(f"soft reset on {self.port}: {e}") from e


Progress = Callable[[FileResult], None]


def deploy(port: str, files: Mapping[str, bytes], variant: str, *, progress: Progress | None = None,
           reset: str | None = None, timeout: float = 10.0, native: str | None = None) -> DeployReport:
    """Copy `files` (device path relative to the filesystem root -> contents) to the board on `port`.
    `reset`: None, "soft" (Ctrl-D) or "hard" (machine.reset()) after a successful deploy.
    `native`: None (no codec module), or "auto" / "none" / an architecture: the board's _nc.mpy
    goes to lib/_nc.mpy with the app (host_tools/deploy/native.py; NativeError if none fits)."""
    from host_tools.deploy import native as native_mod

    start = time.monotonic()
    with RawRepl(port, timeout) as repl:
        root = repl.eval("__import__('os').getcwd()")
        if not isinstance(root, str):
            raise DeployError(f"unexpected cwd {root!r}")
        report = DeployReport(port=port, variant=variant, root=root)
        if native is not None:
            choice, module = native_mod.plan(repl, native)
            report.native = choice.as_dict()
            if module is not None:
                files = {**files, native_mod.DEVICE_PATH: module}
        full = {name: posixpath.join(root, name) for name in files}
        want = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        before = repl.hashes(list(full.values()))
        made: set[str] = set()
        for name in sorted(files):
            data = files[name]
            if before.get(full[name]) == want[name]:
                r = FileResult(name, len(data), want[name], "unchanged", True, want[name])
            else:
                d = posixpath.dirname(full[name])
                if d and d != root and d not in made:
                    repl.makedirs(d)
                    made.add(d)
                t0 = time.monotonic()
                dev = repl.write_file(full[name], data)
                report.write_seconds += time.monotonic() - t0
                report.bytes_written += len(data)
                r = FileResult(name, len(data), want[name], "written", dev == want[name], dev)
            report.files.append(r)
            if progress is not None:
                progress(r)
        if reset == "hard" and not report.verify_failed:
            repl.reset()
        elif reset == "soft" and not report.verify_failed:
            repl.soft_reset()
    report.seconds = time.monotonic() - start
    return report


__all__ = ["DeployError", "DeployReport", "FileResult", "RawRepl", "VerifyError", "deploy"]
