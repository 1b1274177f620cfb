"""Call primitives the scenarios are made of: one call between two devices, driven and observed
through their device consoles (firmware/edgecall/call.py), with timings."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from host_tools.hil.dut import Dut
from host_tools.smp.client import SmpError
from host_tools.transport import TransportError

SETUP_TIMEOUT = 5.0
FIRST_AUDIO_TIMEOUT = 3.0
TEARDOWN_TIMEOUT = 5.0


@dataclass
class CallResult:
    ok: bool
    setup_ms: float | None = None  # invite request to both in a call (host clock)
    first_audio_ms: list[int] = field(default_factory=list)  # per device: in-call to first media packet
    started: float = 0.0  # unix time both were in the call
    ended: float = 0.0
    error: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)  # receiver statistics while held
    stats: dict[str, Any] = field(default_factory=dict)  # per device: media statistics at hang-up


def idle(st: dict[str, Any]) -> bool:
    return st.get("state") == "joined" and st.get("call_state") == "idle"


def wait_joined(duts: list[Dut], timeout: float = 15.0) -> None:
    for d in duts:
        d.wait_status(idle, timeout, "joined and idle")


def _sample(dut: Dut, t0: float) -> dict[str, Any] | None:
    media = dut.call_status().get("media")
    if not media:
        return None
    rx = media["rx"]
    expected = rx["expected"] or 0
    return {"t_s": round(time.time() - t0, 3), "delay_ms": rx["delay_ms"], "target_delay_ms": rx["target_delay_ms"],
            # RFC 3550's cumulative lost goes negative with duplicates and retransmissions: clamp it
            "loss_pct": round(100.0 * max(0, rx["lost"]) / expected, 2) if expected else 0.0, "late": rx["late"],
            "concealed": rx["concealed"], "played": rx["played"], "received": rx["received"],
            "expected": expected}


def call(a: Dut, b: Dut, hold_s: float = 0.5, sample_every: float = 0.0, sample_t0: float = 0.0) -> CallResult:
    """a calls b (b answers automatically), both wait for the other's audio, hold, a hangs up.
    Never raises for a failed call: the result says what went wrong."""
    res = CallResult(ok=False)
    t0 = time.monotonic()
    try:
        a.call("invite", to=b.uid)
        for d in (a, b):
            d.wait_status(lambda s: s.get("call_state") == "in-call", max(0.5, SETUP_TIMEOUT - (time.monotonic() - t0)),
                          "in a call")
        res.setup_ms = round((time.monotonic() - t0) * 1000.0, 1)
        res.started = time.time()
        for d in (a, b):
            st = d.wait_status(lambda s: (s.get("media") or {}).get("first_audio_ms") is not None,
                               FIRST_AUDIO_TIMEOUT, "receiving audio")
            res.first_audio_ms.append(int(st["media"]["first_audio_ms"]))
        end = time.monotonic() + hold_s
        while time.monotonic() < end:
            if sample_every > 0:
                s = _sample(b, sample_t0 or res.started)
                if s is not None:
                    res.samples.append(s)
                time.sleep(max(0.0, min(sample_every, end - time.monotonic())))
            else:
                time.sleep(max(0.0, end - time.monotonic()))
        for d in (a, b):
            st = d.call_status()
            if st.get("call_state") != "in-call":
                raise RuntimeError(f"{d.id}: the call dropped while held ({st.get('call_state')}, {st.get('state')})")
            res.stats[d.id] = st.get("media", {})
        res.ended = time.time()
        a.call("hangup")
        for d in (a, b):
            d.wait_status(idle, TEARDOWN_TIMEOUT, "back to idle after hang-up")
        res.ok = True
    except (TimeoutError, RuntimeError, SmpError, TransportError) as e:
        res.error = str(e)
        for d in (a, b):  # leave both idle for whatever comes next
            try:
                if d.call_status().get("call_state") not in ("idle", None):
                    d.call("hangup")
            except (TimeoutError, RuntimeError, SmpError, TransportError):
                pass
    return res
