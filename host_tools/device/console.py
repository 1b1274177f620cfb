"""The device console client: the firmware's SMP groups (firmware/edgecall/mgmt.py) as methods."""
from __future__ import annotations

import time
from typing import Any

from host_tools.smp.client import ByteTransport, SmpClient

GROUP_OS, GROUP_IMAGE, GROUP_SETTINGS, GROUP_APP = 0, 1, 3, 64


class DeviceConsole:
    def __init__(self, transport: ByteTransport, timeout: float = 5.0) -> None:
        self.smp = SmpClient(transport, timeout=timeout)

    def echo(self, text: str) -> str:
        return str(self.smp.read(GROUP_OS, 0, {"d": text})["r"])

    def active_image(self) -> dict[str, Any]:
        """The running slot's entry of mcumgr's image state read (version, hash, confirmed, ...);
        {} when the image group lists none."""
        images = self.smp.read(GROUP_IMAGE, 0).get("images", [])
        return dict(next((i for i in images if i.get("active")), {}))

    def info(self) -> dict[str, Any]:
        return self.smp.read(GROUP_APP, 0)

    def log(self, since: int = 0) -> dict[str, Any]:
        return self.smp.read(GROUP_APP, 1, {"since": since})

    def selftest(self) -> dict[str, Any]:
        return self.smp.read(GROUP_APP, 2, timeout=60)

    def stats(self) -> dict[str, Any]:
        return self.smp.read(GROUP_APP, 3)

    def reset(self) -> None:
        """Asks for a reset (the device answers first, then resets); see reboot()."""
        self.smp.write(GROUP_OS, 5, {})

    def reboot(self, timeout: float = 30.0) -> dict[str, Any]:
        """Resets the device and waits until the new boot's application answers."""
        before = int(self.info()["uptime_ms"])
        t0 = time.monotonic()
        self.reset()
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            info = self.wait_ready(timeout=max(0.5, deadline - time.monotonic()))
            if int(info["uptime_ms"]) < before + (time.monotonic() - t0) * 1000 - 50:
                return info  # a fresh boot: its uptime is behind the old one's
            time.sleep(0.1)
        raise TimeoutError(f"the device did not come back from the reset within {timeout:.0f} s")

    def get_time(self) -> int:
        return int(self.smp.read(GROUP_OS, 4)["ut"])

    def set_time(self, unix_seconds: int | None = None) -> None:
        self.smp.write(GROUP_OS, 4, {"ut": int(time.time()) if unix_seconds is None else unix_seconds})

    def setting_get(self, name: str) -> bytes:
        return bytes(self.smp.read(GROUP_SETTINGS, 0, {"name": name})["val"])

    def setting_set(self, name: str, value: bytes) -> None:
        self.smp.write(GROUP_SETTINGS, 0, {"name": name, "val": value})

    def setting_delete(self, name: str) -> None:
        self.smp.write(GROUP_SETTINGS, 1, {"name": name})

    def wait_ready(self, timeout: float = 20.0) -> dict[str, Any]:
        """Polls `info` until the application answers (after a boot or reset)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                return self.smp.read(GROUP_APP, 0, timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            except TimeoutError as exc:
                last = exc
        raise TimeoutError(f"the application did not answer within {timeout:.0f} s ({last})")

    def provisioning(self) -> dict[str, Any]:
        return self.smp.read(GROUP_APP, 16)

    def store_provisioning(self, record: dict[str, Any], reprovision: bool = False, renew: bool = False) -> str:
        """Writes the record; returns the device's SHA-256 of the token it now holds."""
        rsp = self.smp.write(GROUP_APP, 17, {"record": record, "reprovision": reprovision, "renew": renew}, timeout=15)
        return str(rsp["digest"])

    # ---- calls (firmware/edgecall/call.py) ----
    def call_status(self) -> dict[str, Any]:
        """Signalling state, join/setup/first-audio times and, in a call, the media statistics."""
        return self.smp.read(GROUP_APP, 32)

    def call(self, op: str, **fields: Any) -> dict[str, Any]:
        """A call request: op "join", "leave", "invite" (to=UID), "accept" or "hangup"."""
        return self.smp.write(GROUP_APP, 33, {"op": op, **fields})
