# mgmt.py — the console's command groups.
#   group 0, OS (mcumgr os_mgmt): 0 echo, 4 datetime get/set (Unix seconds in "ut"), 5 reset,
#            6 mcumgr parameters, 7 OS/application info
#   group 1, image (mcumgr img_mgmt): 0 state read — the running image, and on the ARM devkit
#            both slots with the flags their MCUboot trailers give (hal/boot.py slots()) — and
#            write with {"confirm": true} (hash absent or the running one) to confirm it; uploads
#            go to the bootloader (OS reset with {"boot_mode": 1} enters it)
#   group 3, settings (mcumgr settings_mgmt) on hal.storage: 0 read/write, 1 delete, 2 commit,
#            3 load, 4 save — commit/load/save are no-ops: every write is atomic and durable.
#            Secret keys (provision.SECRET_PREFIXES: the provisioning record and any credential)
#            are refused with EACCESSDENIED for read, write and delete, whatever spelling of the
#            name reaches the same storage file; only the provisioning commands below touch them
#   group 64, EdgeCall: 0 info, 1 log, 2 selftest, 3 stats, 16 provisioning state,
#            17 store a provisioning record ({"record", "reprovision", "renew"}; refused with
#            EACCESSDENIED if the device is provisioned and neither is set),
#            32 call status (signalling state, join/setup/first-audio times, media statistics),
#            33 call control {"op": "join"|"leave"|"invite" (with "to")|"accept"|"hangup"}
#            (EINVAL with "rsn" when the request does not fit the state)
import gc
import os
import sys
import time

import hal
from edgecall import log, smp
from edgecall.console import MgmtError
from edgecall.version import VERSION

_uname = os.uname()

GROUP_OS, GROUP_IMAGE, GROUP_SETTINGS, GROUP_APP = 0, 1, 3, 64


def _uid():
    try:
        import machine

        import binascii

        return binascii.hexlify(machine.unique_id()).decode()
    except (ImportError, AttributeError):
        return ""


def _slot():
    st = hal.part("storage").get("boot/slot")
    return st.decode() if st else "primary"


class Mgmt:
    def __init__(self, console, app):
        self.console = console
        self.app = app
        c = console.register
        c(GROUP_OS, 0, self.echo)
        c(GROUP_OS, 4, self.datetime)
        c(GROUP_OS, 5, self.reset)
        c(GROUP_OS, 6, self.params)
        c(GROUP_OS, 7, self.os_info)
        c(GROUP_IMAGE, 0, self.image_state)
        c(GROUP_SETTINGS, 0, self.setting)
        c(GROUP_SETTINGS, 1, self.setting_delete)
        for cmd in (2, 3, 4):
            c(GROUP_SETTINGS, cmd, lambda req, write: {})
        c(GROUP_APP, 0, self.info)
        c(GROUP_APP, 1, self.log)
        c(GROUP_APP, 2, self.selftest)
        c(GROUP_APP, 3, self.stats)
        c(GROUP_APP, 16, self.prov_state)
        c(GROUP_APP, 17, self.prov_store)
        c(GROUP_APP, 32, self.call_status)
        c(GROUP_APP, 33, self.call_control)

    # ---- OS ----
    def echo(self, req, write):
        d = req.get("d")
        if not isinstance(d, str):
            raise MgmtError(smp.EINVAL)
        return {"r": d}

    def datetime(self, req, write):
        clock = hal.part("clock")
        if write:
            ut = req.get("ut")
            if not isinstance(ut, int) or ut < 0:
                raise MgmtError(smp.EINVAL)
            clock.set_time(ut)
            return {}
        return {"ut": clock.time()}

    def reset(self, req, write):
        self.app.request_reset(req.get("force", 0), req.get("boot_mode", 0) == 1)
        return {}

    # ---- image ----
    def image_state(self, req, write):
        import binascii

        boot = hal.part("boot")
        h = boot.image_hash()
        raw = binascii.unhexlify(h) if h else b""
        if write:
            want = req.get("hash")
            if not req.get("confirm") or (want is not None and bytes(want) != raw):
                raise MgmtError(smp.ENOTSUP)  # test/upload: in the bootloader
            if h:
                boot.confirm()
        images = boot.slots()  # the running slot first; both slots where the trailers are readable
        for img in images:
            img["version"] = img["version"] or VERSION
        if not images:  # no bootloader image: the running firmware, nothing to confirm
            images = [{"image": 0, "slot": 0, "version": boot.version() or VERSION, "hash": raw,
                       "bootable": True, "pending": False, "confirmed": boot.confirmed(),
                       "active": True, "permanent": False}]
        return {"images": images, "splitStatus": 0}

    def params(self, req, write):
        return {"buf_size": 2048, "buf_count": 2}

    def os_info(self, req, write):
        fmt = req.get("format", "s")
        parts = {"s": "EdgeCall", "v": VERSION, "m": sys.platform, "o": "MicroPython " + ".".join(str(x) for x in sys.implementation.version[:3])}
        if not isinstance(fmt, str):
            raise MgmtError(smp.EINVAL)
        return {"output": " ".join(parts[ch] for ch in fmt if ch in parts)}

    # ---- settings ----
    def setting(self, req, write):
        from edgecall import provision

        storage = hal.part("storage")
        name = req.get("name")
        if provision.is_secret(name):
            raise MgmtError(smp.EACCESSDENIED, "secret key: use the provisioning commands")
        try:
            if write:
                val = req.get("val")
                if not isinstance(val, (bytes, bytearray)):
                    raise MgmtError(smp.EINVAL)
                storage.set(name, val)
                return {}
            val = storage.get(name)
        except ValueError:
            raise MgmtError(smp.EINVAL)
        if val is None:
            raise MgmtError(smp.ENOENT)
        return {"val": val}

    def setting_delete(self, req, write):
        from edgecall import provision

        name = req.get("name")
        if provision.is_secret(name):
            raise MgmtError(smp.EACCESSDENIED, "secret key: use the provisioning commands")
        try:
            found = hal.part("storage").delete(name)
        except ValueError:
            raise MgmtError(smp.EINVAL)
        if not found:
            raise MgmtError(smp.ENOENT)
        return {}

    # ---- EdgeCall ----
    def info(self, req, write):
        gc.collect()
        free, used = gc.mem_free(), gc.mem_alloc()
        return {
            "version": VERSION,
            "uid": _uid(),
            "heap_total": free + used,
            "heap_free": free,
            "heap_used": used,
            "uptime_ms": time.ticks_diff(time.ticks_ms(), self.app.started_ms),
            "slot": _slot(),
            "platform": sys.platform,
            "machine": _uname.machine,  # e.g. "MPS2 with Cortex-M4" (the board and its CPU)
            "micropython": _uname.version,  # the MicroPython build: "v1.27.0 on <build date>"
            "backend": hal.BACKEND,
        }

    def log(self, req, write):
        since = req.get("since", 0)
        if not isinstance(since, int):
            raise MgmtError(smp.EINVAL)
        entries, last = log.since(since)
        return {"entries": entries[-32:], "last": last}

    async def selftest(self, req, write):
        from edgecall import selftest

        t0 = time.ticks_ms()
        digests = await selftest.run(hal.part("codec"))
        return {"digests": digests, "ms": time.ticks_diff(time.ticks_ms(), t0)}

    def stats(self, req, write):
        return {"console": dict(self.console.stats, decoder_errors=self.console.decoder.errors),
                "heap_history": self.app.heap_history[-32:], "tasks": self.app.task_health()}

    # ---- provisioning ----
    def prov_state(self, req, write):
        from edgecall import provision

        return provision.state()

    def prov_store(self, req, write):
        from edgecall import provision

        if not write:
            raise MgmtError(smp.EINVAL)
        try:
            d = provision.store(req.get("record"), bool(req.get("reprovision")), bool(req.get("renew")))
        except provision.Refused:
            raise MgmtError(smp.EACCESSDENIED)
        except ValueError:
            raise MgmtError(smp.EINVAL)
        return {"digest": d}

    # ---- calls ----
    def call_status(self, req, write):
        from edgecall import call

        return call.get(self.app).status()

    def call_control(self, req, write):
        from edgecall import call

        svc = call.get(self.app)
        op = req.get("op")
        try:
            if op == "join":
                svc.start()
            elif op == "leave":
                svc.stop()
            elif op == "invite":
                return {"call": svc.invite(str(req.get("to")))}
            elif op == "accept":
                svc.accept()
            elif op == "hangup":
                svc.hangup()
            else:
                raise ValueError("unknown op %r" % (op,))
        except ValueError as e:
            raise MgmtError(smp.EINVAL, str(e))
        return {}
