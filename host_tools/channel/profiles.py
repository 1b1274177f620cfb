"""Named impairment profiles for the relay (and JSON for custom ones)."""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path

from host_tools.channel.impair import Impairment

PROFILES: dict[str, Impairment] = {
    "clean": Impairment(),
    "lan-100ms": Impairment(delay_ms=50.0),  # 100 ms round trip
    "wifi-busy": Impairment(p=0.01, r=0.5, loss_bad=0.5, loss_good=0.005, delay_ms=15.0, jitter_ms=12.0, reorder=0.01),
    "cellular-edge": Impairment(p=0.02, r=0.3, loss_bad=0.6, loss_good=0.01, delay_ms=80.0, jitter_ms=40.0,
                                jitter_dist="pareto", duplicate=0.005, rate_kbps=256.0),
    "lossy-30": Impairment(p=0.15, r=0.35, loss_bad=0.7, loss_good=0.0),
}


def load(spec: str) -> Impairment:
    """A profile name, a JSON object, or a path to a JSON file with Impairment's fields."""
    if spec in PROFILES:
        return PROFILES[spec]
    text = Path(spec).read_text() if not spec.lstrip().startswith("{") and Path(spec).exists() else spec
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"unknown impairment profile {spec!r}; use one of {', '.join(PROFILES)} or JSON") from None
    known = {f.name for f in fields(Impairment)}
    bad = set(data) - known
    if bad:
        raise ValueError(f"unknown impairment fields {sorted(bad)}; known: {sorted(known)}")
    return Impairment(**data)


def describe(imp: Impairment) -> dict[str, object]:
    return {**asdict(imp), "mean_loss": round(imp.mean_loss(), 4)}
