"""Health checks run on a device after it boots an image (and after a rollback).

boot      the console answers; the application runs the expected image (version and image hash)
          with the expected confirmed state; it reports no crash: no error in its log ring since
          this boot (console handler exceptions, watchdog, failed confirm, …) and every task still
          beating (the watchdog's view, `stats`).
selftest  boot's identity check, then the device's own self-test over its console: each codec on
          the shared vectors, digests compared with the host's build of native_codec
          (host_tools/device/selftest.py).

A check fails with a one-line reason; a console that stops answering is a failure (the image
hung it), a port that went away is not (TransportError, raised: the rollout resumes later).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from host_tools.device.console import DeviceConsole
from host_tools.smp.client import SmpError

CHECKS = ("boot", "selftest")
TASK_STALE_MS = 8000  # firmware/edgecall/app.py WATCHDOG_MS


class HealthError(ValueError):
    """An unknown check name (a usage error)."""


@dataclass(frozen=True)
class Expect:
    version: str
    hash: str  # hex image hash
    confirmed: bool | None = None  # None: either (a test boot may have confirmed itself)


@dataclass
class HealthResult:
    ok: bool
    check: str = ""
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def reason(self) -> str:
        return f"{self.check}: {self.error}" if self.error else "ok"


def parse(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in CHECKS]
    if not names or bad:
        raise HealthError(f"--health {text!r}: choose from {', '.join(CHECKS)} (comma-separated)")
    return list(dict.fromkeys(names))


@functools.lru_cache(maxsize=1)
def _expected_digests() -> dict[str, str]:
    from host_tools.device.selftest import expected

    return expected()


def identity(c: DeviceConsole, expect: Expect, details: dict[str, Any]) -> str | None:
    info = c.wait_ready(timeout=10.0)
    details["info"] = {k: info.get(k) for k in ("version", "uid", "uptime_ms", "heap_free")}
    if str(info.get("version")) != expect.version:
        return f"runs version {info.get('version')}, expected {expect.version}"
    active = c.active_image()
    if not active:
        return "the image group lists no active image"
    got = bytes(active.get("hash") or b"").hex()
    details["image"] = {"hash": got, "confirmed": bool(active.get("confirmed"))}
    if got != expect.hash:
        return f"runs image {got[:12] or '(none)'}, expected {expect.hash[:12]}"
    if expect.confirmed is not None and bool(active.get("confirmed")) != expect.confirmed:
        return f"image {'not ' if expect.confirmed else ''}confirmed, expected {'confirmed' if expect.confirmed else 'on test'}"
    return None


def no_crash(c: DeviceConsole, details: dict[str, Any]) -> str | None:
    entries = c.log(0).get("entries", [])
    errors = [str(e[3]) for e in entries if len(e) > 3 and e[2] == "error"]
    details["log_errors"] = errors
    if errors:
        return f"the application logged an error: {errors[-1]}"
    tasks = c.stats().get("tasks", {})
    stale = sorted(k for k, v in tasks.items() if int(v) > TASK_STALE_MS)
    details["tasks"] = tasks
    if stale:
        return f"task(s) {', '.join(stale)} stopped beating"
    return None


def selftest(c: DeviceConsole, details: dict[str, Any]) -> str | None:
    try:
        got = c.selftest()
    except SmpError as e:
        return f"the self-test did not run: {e}"
    want = _expected_digests()
    digests = got.get("digests", {})
    bad = [k for k, v in want.items() if digests.get(k) != v]
    details["selftest"] = {"ms": got.get("ms"), "mismatch": bad}
    if bad:
        return f"self-test mismatch in {', '.join(bad)} (device digests differ from the host's native_codec)"
    return None


def run(checks: Sequence[str], c: DeviceConsole, expect: Expect) -> HealthResult:
    """Runs the checks in order; the first failure ends it."""
    details: dict[str, Any] = {}
    steps: list[tuple[str, Any]] = [("boot", lambda: identity(c, expect, details))]
    if "boot" in checks:
        steps.append(("boot", lambda: no_crash(c, details)))
    if "selftest" in checks:
        steps.append(("selftest", lambda: selftest(c, details)))
    for name, step in steps:
        try:
            err = step()
        except TimeoutError as e:
            err = f"the console stopped answering ({e})"
        except SmpError as e:
            err = str(e)
        if err:
            return HealthResult(False, name, err, details)
    return HealthResult(True, "+".join(checks), None, details)
