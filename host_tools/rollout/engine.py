"""The rollout loop.

For each wave (waves.py) every device of the wave, in parallel (a bounded pool):
  flash the image for a test boot (host_tools.flash.session.Flasher, mode "test": upload, mark
  test, reset — MCUboot boots it without making it permanent), then run the health checks on it.
When the whole wave passed, each device is confirmed (image state write, confirm; read back) and
the next wave starts. When a device failed, the rollout halts: every touched device of the wave
goes back to the image it was confirmed on before (device.py: Link.revert), which must then pass
the same checks, confirmed; later waves are never touched.

Every step is written to the ledger before and after (ledger.py). Running the same command again
resumes: confirmed devices are skipped; a device left in `flashing` or `testing` is inspected —
running the new image: checked again; running the previous one: flashed again (the upload
resumes from the device's offset); in its bootloader: flashed; a halting rollout finishes its
rollback first.

Exit codes: 0 complete, 1 halted (or a rollback that did not verify), 2 usage, 3 transport error
(the ledger keeps the state; rerun the same command to resume).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from host_tools.firmware import mcuboot
from host_tools.flash.errors import FlashError, FlashTimeout, ImageRejected, NotInBootloader, Rollback
from host_tools.rollout import health, ledger, waves
from host_tools.rollout.device import DeviceRef, Link, RevertError
from host_tools.rollout.ledger import DeviceRow, NewDevice, Rollout, RolloutLedger
from host_tools.smp.client import SmpError
from host_tools.transport import PortNotFound, TransportError

EXIT_OK, EXIT_HALTED, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3
CONFIRM_WAIT_S = 15.0  # the application confirms a freshly booted image itself after 3 s

Log = Callable[[str], None]


class UsageError(ValueError):
    """Bad input: exit 2, nothing touched."""


class Unreachable(RuntimeError):
    """A device could not be reached (port gone, timeout): exit 3, resumable."""


@dataclass(frozen=True)
class ImageFile:
    path: Path
    version: str
    hash: str

    @staticmethod
    def load(path: Path) -> ImageFile:
        """The signed image, checked whole on the host before any device sees it."""
        if not path.is_file():
            raise UsageError(f"{path}: no such image (build one with `edgecall build --version X.Y.Z`)")
        data = path.read_bytes()
        try:
            img = mcuboot.parse(data)
        except mcuboot.InvalidImage as e:
            raise UsageError(f"{path}: not a valid MCUboot image ({e}); rebuild it with `edgecall build`") from None
        if hashlib.sha256(img.hashed).digest() != img.hash:
            raise UsageError(f"{path}: the image is corrupt (its SHA-256 does not match its hash TLV); "
                             "rebuild it with `edgecall build`")
        if img.total_size != len(data):
            raise UsageError(f"{path}: {len(data) - img.total_size} stray bytes after the image's TLVs; "
                             "rebuild it with `edgecall build`")
        return ImageFile(path, str(img.version), img.hash.hex())


@dataclass
class Options:
    image: Path
    devices: list[DeviceRef]
    waves: list[int]
    health: list[str]
    ledger: Path = ledger.DEFAULT_PATH
    link: Link = field(default_factory=Link)
    jobs: int = 4


@dataclass
class Outcome:
    exit_code: int
    message: str
    rollout: Rollout | None = None
    devices: list[DeviceRow] = field(default_factory=list)
    unreachable: dict[str, str] = field(default_factory=dict)

    def failed(self) -> list[dict[str, Any]]:
        return [{"device": d.name, "wave": d.wave + 1, "state": d.state, "error": d.error}
                for d in self.devices if d.error]

    def as_dict(self) -> dict[str, Any]:
        r = self.rollout
        return {"ok": self.exit_code == 0, "exit_code": self.exit_code, "message": self.message,
                "rollout": r.as_dict() if r else None,
                "devices": [d.as_dict() for d in self.devices],
                "failed": self.failed(), "unreachable": self.unreachable}


class LedgerLock:
    """One rollout process per ledger file (flock: released by the kernel if the process dies)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self.f: IO[str] | None = None

    def __enter__(self) -> LedgerLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise UsageError(f"{self.path.with_suffix('')}: a rollout is already running on this ledger "
                             f"(pid {holder}); wait for it, or stop it (it resumes when run again)") from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        self.f = f
        return self

    def __exit__(self, *exc: object) -> None:
        if self.f:
            fcntl.flock(self.f, fcntl.LOCK_UN)
            self.f.close()


class Engine:
    def __init__(self, opts: Options, log: Log | None = None) -> None:
        self.o = opts
        self.link = opts.link
        self.log: Log = log or (lambda msg: None)
        self.refs = {r.name: r for r in opts.devices}

    # ---- entry
    def run(self) -> Outcome:
        img = ImageFile.load(self.o.image)
        names = [r.name for r in self.o.devices]
        if not names:
            raise UsageError("name the devices: --device ID … or --port P …")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise UsageError(f"device(s) named twice: {', '.join(dup)}")
        waves.sizes(len(names), self.o.waves)  # WaveError (a UsageError for the CLI) before anything
        with LedgerLock(self.o.ledger):
            db = RolloutLedger(self.o.ledger)
            try:
                return self._run(db, img, names)
            finally:
                db.close()

    def _run(self, db: RolloutLedger, img: ImageFile, names: list[str]) -> Outcome:
        key = ledger.rollout_key(img.hash, names, self.o.waves, self.o.health)
        r = db.latest(key)
        if r is not None and r.state == ledger.COMPLETE:
            return Outcome(EXIT_OK, f"rollout #{r.id} of {r.version} is already complete", r, db.devices(r.id))
        if r is not None and r.state == ledger.HALTED:
            return Outcome(EXIT_HALTED, f"rollout #{r.id} of {r.version} halted at wave {(r.halted_wave or 0) + 1}; "
                           "fix the image and roll out a new build", r, db.devices(r.id))
        if r is None:
            clash = db.unfinished_with(names, key)
            if clash:
                other, busy = clash[0]
                raise UsageError(f"rollout #{other.id} ({other.version}) is unfinished on {', '.join(busy)}: run its "
                                 f"command again to finish it first (see `edgecall rollout status`)")
            started = self._start(db, img, names)
            if isinstance(started, Outcome):
                return started
            r = started
        else:
            self.log(f"resuming rollout #{r.id} of {r.version} ({r.state})")
        return self._waves(db, r)

    # ---- a new rollout: every device checked first, nothing touched if one is not ready
    def _start(self, db: RolloutLedger, img: ImageFile, names: list[str]) -> Rollout | Outcome:
        for n in names:
            try:
                self.refs[n].target(self.link.sim_root)
            except PortNotFound as e:
                raise UsageError(str(e)) from None
        unreachable: dict[str, str] = {}
        problems: list[str] = []
        found: dict[str, NewDevice] = {}
        plan = waves.split(names, self.o.waves)
        wave_of = {n: w for w, group in enumerate(plan) for n in group}

        def probe(name: str) -> None:
            try:
                cur = self.link.wait_running(self.refs[name], CONFIRM_WAIT_S, confirmed=True)
            except TransportError as e:
                unreachable[name] = str(e)
                return
            if cur is None:
                unreachable[name] = "the application does not answer on its console (in its bootloader? not running EdgeCall?)"
            elif not cur.hash:
                problems.append(f"{name}: runs files without a bootloader image (deployed?): nothing to roll back to; "
                                "flash a signed image first")
            elif not cur.confirmed:
                problems.append(f"{name}: its image {cur.version} is not confirmed (a test boot?); confirm it or reset it")
            else:
                same = cur.hash == img.hash
                found[name] = NewDevice(name, wave_of[name], cur.hash, cur.version,
                                        ledger.CONFIRMED if same else ledger.PENDING)

        with ThreadPoolExecutor(max_workers=max(1, self.o.jobs)) as pool:
            list(pool.map(probe, names))
        if unreachable:
            text = "; ".join(f"{k}: {v}" for k, v in sorted(unreachable.items()))
            return Outcome(EXIT_TRANSPORT, f"not started, no device touched: {text}", unreachable=unreachable)
        if problems:
            raise UsageError("not started, no device touched: " + "; ".join(sorted(problems)))
        key = ledger.rollout_key(img.hash, names, self.o.waves, self.o.health)
        r = db.create(key, str(self.o.image), img.hash, img.version, self.o.waves, self.o.health,
                      [found[n] for n in names])
        self.log(f"rollout #{r.id}: {img.version} ({img.hash[:12]}) to {len(names)} devices in waves "
                 f"{'/'.join(str(len(g)) for g in plan)}")
        return r

    # ---- the waves
    def _waves(self, db: RolloutLedger, r: Rollout) -> Outcome:
        nwaves = len(r.waves)
        for w in range(nwaves):
            r = db.rollout(r.id)
            if r.state == ledger.HALTING:
                return self._rollback_wave(db, r, r.halted_wave or 0)
            rows = [d for d in db.devices(r.id) if d.wave == w]
            if all(d.state == ledger.CONFIRMED for d in rows):
                continue
            self.log(f"wave {w + 1}/{nwaves}: {', '.join(d.name for d in rows)}")
            unreachable = self._pool(db, r, rows, self._advance)
            rows = [d for d in db.devices(r.id) if d.wave == w]
            if any(d.state == ledger.FAILED for d in rows):
                for d in rows:
                    if d.error:
                        self.log(f"{d.name}: FAILED — {d.error}")
                db.set_rollout_state(r.id, ledger.HALTING, w, f"wave {w + 1} failed: rolling it back")
                return self._rollback_wave(db, db.rollout(r.id), w)
            if unreachable:
                return self._unreachable(db, r, unreachable)
            unreachable = self._pool(db, r, rows, self._confirm)
            rows = [d for d in db.devices(r.id) if d.wave == w]
            if any(d.state == ledger.FAILED for d in rows):
                db.set_rollout_state(r.id, ledger.HALTING, w, f"wave {w + 1} could not be confirmed: rolling it back")
                return self._rollback_wave(db, db.rollout(r.id), w)
            if unreachable:
                return self._unreachable(db, r, unreachable)
            self.log(f"wave {w + 1}/{nwaves} confirmed")
        db.set_rollout_state(r.id, ledger.COMPLETE, message="every wave confirmed")
        r = db.rollout(r.id)
        return Outcome(EXIT_OK, f"rollout #{r.id} complete: {len(db.devices(r.id))} devices on {r.version}, confirmed",
                       r, db.devices(r.id))

    def _pool(self, db: RolloutLedger, r: Rollout, rows: Sequence[DeviceRow],
              step: Callable[[RolloutLedger, Rollout, DeviceRow], None]) -> dict[str, str]:
        """Runs `step` on each device in parallel; returns the devices that could not be reached."""
        out: dict[str, str] = {}

        def one(d: DeviceRow) -> None:
            try:
                step(db, r, d)
            except (TransportError, FlashTimeout, NotInBootloader, Unreachable) as e:
                out[d.name] = str(e)
                self.log(f"{d.name}: unreachable — {e}")

        with ThreadPoolExecutor(max_workers=max(1, min(self.o.jobs, len(rows)))) as pool:
            list(pool.map(one, rows))
        return out

    def _unreachable(self, db: RolloutLedger, r: Rollout, unreachable: dict[str, str]) -> Outcome:
        text = "; ".join(f"{k}: {v}" for k, v in sorted(unreachable.items()))
        return Outcome(EXIT_TRANSPORT, f"rollout #{r.id} paused, device(s) unreachable ({text}); reconnect them and "
                       "run the same command again to resume", db.rollout(r.id), db.devices(r.id), unreachable)

    # ---- one device, forward
    def _advance(self, db: RolloutLedger, r: Rollout, d: DeviceRow) -> None:
        step = ledger.next_step(r.state, d.state)
        ref = self.refs[d.name]
        if step == ledger.FLASH:
            self._flash(db, r, db.transition(r.id, d.name, ledger.FLASHING, "flashing for a test boot"))
        elif step == ledger.INSPECT:
            cur = self.link.running(ref)
            if cur is not None and cur.hash == r.image_hash:
                self.log(f"{d.name}: found running {cur.version} ({'confirmed' if cur.confirmed else 'on test'}): checking it")
                self._test(db, r, db.transition(r.id, d.name, ledger.TESTING, "inspected: runs the new image"))
            elif cur is None or cur.hash == d.prev_hash:
                what = "no application answers" if cur is None else f"runs the previous image {cur.version}"
                self.log(f"{d.name}: found {d.state}, {what}: flashing (again)")
                self._flash(db, r, db.transition(r.id, d.name, ledger.FLASHING, f"inspected: {what}"))
            else:
                db.transition(r.id, d.name, ledger.FAILED, error=f"runs neither the previous nor the new image "
                              f"({cur.version} {cur.hash[:12]})")
        elif step == ledger.CONFIRM:  # passed before an interruption: its check is repeated
            self._test(db, r, db.transition(r.id, d.name, ledger.TESTING, "resumed: checking again"))

    def _flash(self, db: RolloutLedger, r: Rollout, d: DeviceRow) -> None:
        try:
            res = self.link.flasher(self.refs[d.name]).run(Path(r.image_path), mode="test")
        except (Rollback, ImageRejected) as e:
            db.transition(r.id, d.name, ledger.FAILED, error=f"flash: {e}")
            return
        except FlashError as e:
            if isinstance(e, (FlashTimeout, NotInBootloader)):
                raise
            db.transition(r.id, d.name, ledger.FAILED, error=f"flash: {e}")
            return
        how = (f"uploaded {res.uploaded} bytes{f' (resumed at {res.resumed_from})' if res.resumed_from else ''}, "
               f"booted {res.version_after} on test in {res.seconds:.1f} s") if res.uploaded else \
            (res.events[-1] if res.events else "nothing uploaded")
        self.log(f"{d.name}: {how}")
        self._test(db, r, db.transition(r.id, d.name, ledger.TESTING, how, flashed=res.uploaded > 0))

    def _test(self, db: RolloutLedger, r: Rollout, d: DeviceRow) -> None:
        with self.link.console(self.refs[d.name]) as c:
            res = health.run(r.health, c, health.Expect(r.version, r.image_hash, None))
        if res.ok:
            self.log(f"{d.name}: health {res.check} passed")
            db.transition(r.id, d.name, ledger.PASSED, f"health {res.check} passed")
        else:
            db.transition(r.id, d.name, ledger.FAILED, error=f"health {res.reason()}")

    def _confirm(self, db: RolloutLedger, r: Rollout, d: DeviceRow) -> None:
        if d.state != ledger.PASSED:
            return
        try:
            cur = self.link.confirm(self.refs[d.name])
        except SmpError as e:
            db.transition(r.id, d.name, ledger.FAILED, error=f"confirm: {e}")
            return
        except TimeoutError as e:
            raise Unreachable(f"no answer to the confirm request ({e})") from None
        if cur.hash != r.image_hash or not cur.confirmed:
            db.transition(r.id, d.name, ledger.FAILED, error=f"confirm: the device runs {cur.version} "
                          f"{cur.hash[:12]}, {'confirmed' if cur.confirmed else 'unconfirmed'}")
            return
        db.transition(r.id, d.name, ledger.CONFIRMED, f"{cur.version} confirmed")

    # ---- one wave, back
    def _rollback_wave(self, db: RolloutLedger, r: Rollout, w: int) -> Outcome:
        rows = [d for d in db.devices(r.id) if d.wave == w]
        self.log(f"wave {w + 1} halted: rolling back {', '.join(d.name for d in rows if d.state != ledger.PENDING)}")
        bad: dict[str, str] = {}

        def back(db_: RolloutLedger, r_: Rollout, d: DeviceRow) -> None:
            if ledger.next_step(r_.state, d.state) != ledger.ROLLBACK:
                return
            err = self._rollback(db_, r_, d)
            if err:
                bad[d.name] = err

        unreachable = self._pool(db, r, rows, back)
        if unreachable:
            return self._unreachable(db, r, unreachable)
        failed = [d for d in db.devices(r.id) if d.wave == w and d.error]
        names = ", ".join(f"{d.name} ({d.error})" for d in failed)
        if bad:
            db.set_rollout_state(r.id, ledger.HALTED, w, "rollback did not verify on " + ", ".join(sorted(bad)))
            text = "; ".join(f"{k}: {v}" for k, v in sorted(bad.items()))
            msg = (f"rollout #{r.id} halted at wave {w + 1}: failed {names}; the rollback did NOT verify on: {text}")
        else:
            db.set_rollout_state(r.id, ledger.HALTED, w, "wave rolled back")
            msg = (f"rollout #{r.id} halted at wave {w + 1}: failed {names}; the wave is back on its previous "
                   "images, confirmed and healthy; later waves were not touched")
        return Outcome(EXIT_HALTED, msg, db.rollout(r.id), db.devices(r.id))

    def _rollback(self, db: RolloutLedger, r: Rollout, d: DeviceRow) -> str | None:
        """Back to the previous image and verified; the reason when it does not verify."""
        ref = self.refs[d.name]
        if d.state != ledger.ROLLING_BACK:
            d = db.transition(r.id, d.name, ledger.ROLLING_BACK, f"back to {d.prev_version}")
        cur = self.link.running(ref)
        try:
            if cur is not None and cur.hash == d.prev_hash:
                how = "already on the previous image"
                if not cur.confirmed:
                    self.link.confirm(ref)
                    how += ": confirmed it"
            else:
                how = self.link.revert(ref, d.prev_hash, d.prev_version)
        except (RevertError, SmpError) as e:
            db.transition(r.id, d.name, ledger.ROLLING_BACK, f"rollback failed: {e}")
            return str(e)
        except TimeoutError as e:
            raise Unreachable(f"no answer during the rollback ({e})") from None
        with self.link.console(ref) as c:
            res = health.run(r.health, c, health.Expect(d.prev_version, d.prev_hash, True))
        if not res.ok:
            db.transition(r.id, d.name, ledger.ROLLING_BACK, f"back on {d.prev_version} but unhealthy: {res.reason()}")
            return f"back on {d.prev_version} but health {res.reason()}"
        self.log(f"{d.name}: rolled back to {d.prev_version} ({how}); health {res.check} passed, confirmed")
        db.transition(r.id, d.name, ledger.ROLLED_BACK, f"{how}; health passed on {d.prev_version}, confirmed")
        return None
