"""One device through a provisioning station.

Order (each arrow one durable step): reserve the token's hash in the ledger → write the record to
the device → read the device's digest back and compare → commit. A re-run finds where a crash left
things: the device holding the reserved token resumes at verification; a reservation the device
never got is replaced by a new token; a committed record that the device holds is left alone
(idempotent). A device holding a token the ledger does not know is refused, unless re-provisioning
is asked for with a reason. The app certificate mints tokens here and goes nowhere else.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from host_tools.device.console import DeviceConsole
from host_tools.ledger.ledger import Claims, Ledger
from host_tools.provision import failpoints
from host_tools.smp.client import SmpError
from host_tools.token import accesstoken2 as at


class ProvisionError(RuntimeError):
    """The device cannot be provisioned as asked; the message says why and what to do."""


@dataclass(frozen=True)
class Config:
    app_id: str
    app_cert: bytes
    channel: str
    ttl: int
    batch: str = "default"
    uid: str | None = None  # None: derive from the device's unique id
    reprovision_reason: str | None = None
    renew: bool = False
    renew_within: int | None = None  # renew only tokens expiring within this many seconds


@dataclass(frozen=True)
class Outcome:
    device_uid: str
    action: str  # provisioned | resumed | already | renewed | reprovisioned | not-due
    token_sha256: str
    expires: int

    def as_dict(self) -> dict[str, Any]:
        return {"device_uid": self.device_uid, "action": self.action, "token_sha256": self.token_sha256, "expires": self.expires}


def uid_for(cfg: Config, device_uid: str) -> str:
    return cfg.uid if cfg.uid is not None else f"dev-{device_uid}"


def provision(dev: DeviceConsole, ledger: Ledger, cfg: Config) -> Outcome:
    device_uid = str(dev.info()["uid"])
    if not device_uid:
        raise ProvisionError("the device reports no unique id")
    on_device = dev.provisioning()
    held = on_device.get("digest") if on_device.get("state") == "provisioned" else None
    uid = str(on_device["uid"]) if cfg.renew and held is not None else uid_for(cfg, device_uid)
    if cfg.renew and held is not None and cfg.renew_within is not None:
        if int(on_device["expires"]) - int(time.time()) > cfg.renew_within:
            return Outcome(device_uid, "not-due", str(held), int(on_device["expires"]))
    rec = ledger.get(device_uid, cfg.batch)
    if rec is not None and held == rec.token_sha256:
        if rec.state == "committed" and not cfg.renew and cfg.reprovision_reason is None:
            return Outcome(device_uid, "already", rec.token_sha256, rec.expires_at)
        if rec.state != "committed":
            for state in ("written", "verified", "committed"):
                ledger.advance(device_uid, cfg.batch, state, rec.token_sha256, "resumed: the device holds the reserved token")
            return Outcome(device_uid, "resumed", rec.token_sha256, rec.expires_at)
    if held is not None and not cfg.renew and cfg.reprovision_reason is None:
        known = [r for r in ledger.records() if r.device_uid == device_uid and r.token_sha256 == held]
        where = f" (batch {known[0].batch}, {known[0].state})" if known else " that this ledger does not know"
        raise ProvisionError(f"device {device_uid} already holds a token{where}; re-provision with --reprovision REASON")
    if cfg.renew and held is None:
        raise ProvisionError(f"device {device_uid} is not provisioned: nothing to renew")

    issued = int(time.time())
    token = at.build(cfg.app_id, cfg.app_cert, cfg.channel, uid, cfg.ttl, issue_ts=issued)
    digest = at.token_hash(token)
    reason = cfg.reprovision_reason or ("renewal before expiry" if cfg.renew else None)
    ledger.reserve(device_uid, cfg.batch, Claims(cfg.app_id, cfg.channel, uid), digest, issued, issued + cfg.ttl,
                   reprovision_reason=reason if rec is not None and rec.state == "committed" else None)
    failpoints.kill_after("reserved")
    record = {"app_id": cfg.app_id, "channel": cfg.channel, "uid": uid, "token": token, "expires": issued + cfg.ttl}
    if failpoints.hit("disconnect", "store"):
        dev.smp.transport.close()  # type: ignore[attr-defined]
    try:
        stored = dev.store_provisioning(record, reprovision=cfg.reprovision_reason is not None, renew=cfg.renew)
    except SmpError as exc:
        ledger.log_failure(device_uid, cfg.batch, "write", str(exc))
        raise ProvisionError(f"device {device_uid} refused the record: {exc}") from None
    if stored != digest:
        ledger.log_failure(device_uid, cfg.batch, "write", f"device reports token {stored}")
        raise ProvisionError(f"device {device_uid} stored a different token ({stored[:16]}…)")
    ledger.advance(device_uid, cfg.batch, "written", digest)
    failpoints.kill_after("written")
    back = dev.provisioning()
    if back.get("digest") != digest or back.get("channel") != cfg.channel or back.get("uid") != uid:
        ledger.log_failure(device_uid, cfg.batch, "verify", f"read back {back.get('digest')}")
        raise ProvisionError(f"device {device_uid}: the record read back does not match what was written")
    ledger.advance(device_uid, cfg.batch, "verified", digest)
    failpoints.kill_after("verified")
    ledger.advance(device_uid, cfg.batch, "committed", digest)
    action = "renewed" if cfg.renew else "reprovisioned" if cfg.reprovision_reason else "provisioned"
    return Outcome(device_uid, action, digest, issued + cfg.ttl)
