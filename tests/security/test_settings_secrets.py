"""Issue 17, item 3: a provisioned device's token stays on the device. Through the console's
settings group (mcumgr settings_mgmt) the provisioning record and every other secret key
(firmware/edgecall/provision.py SECRET_PREFIXES) can be neither read, nor written, nor deleted,
under any spelling that reaches the same storage file; so the refusal to provision twice cannot be
bypassed there either. The provisioning commands answer with digests, never the token. A real
station (the CLI) provisions a real virtual devkit; the token is read back only over the raw REPL,
as the tests of the station do, to look for it in everything the console answered."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import pytest

from host_tools.device.console import DeviceConsole
from host_tools.device.resolve import resolve
from host_tools.paths import ROOT
from host_tools.smp.client import SmpError
from host_tools.smp.serial import FrameDecoder
from host_tools.token import accesstoken2 as at
from host_tools.transport import SerialTransport, open_port
from tests.devkits import device_token as read_token, devkits

APP = "970CA35de60c44645bbae8a215061b33"
CERT = "5CFd2fd1755d40ecb72977518be15d3b"
DEVICE = "secret1"
EACCESSDENIED = 11


class Recording:
    """The port, keeping every byte the device sent (to search its answers for the token)."""

    def __init__(self, port: SerialTransport) -> None:
        self.port = port
        self.received = bytearray()

    def write(self, data: bytes) -> None:
        self.port.write(data)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        data = self.port.read(max_bytes, timeout)
        self.received += data
        return data

    def carries(self, token: str) -> bool:
        """Whether any SMP packet the device sent (decoded from its base64 frames) holds the token."""
        bodies = FrameDecoder().feed(bytes(self.received))
        assert bodies, "no SMP answers recorded"
        return any(token.encode() in b for b in bodies)


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    work = tmp_path_factory.mktemp("station")
    (work / "cert").write_text(CERT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EDGECALL_APP_ID": APP, "EDGECALL_LEDGER_KEY_FILE": str(work / "key")}
    env.pop("EDGECALL_APP_CERT", None)
    with devkits(tmp_path_factory.mktemp("sim"), [DEVICE]) as root:
        env["EDGECALL_SIM_DIR"] = str(root)
        p = subprocess.run([sys.executable, "-m", "host_tools", "provision", "--device", DEVICE, "--channel", "room",
                            "--uid-from-serial", "--ttl", "3600", "--app-cert-file", str(work / "cert"),
                            "--ledger", str(work / "ledger.sqlite3"), "--json"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stdout + p.stderr
        yield {"digest": json.loads(p.stdout)["results"][0]["token_sha256"], "token": device_token()}


def device_token() -> str:
    token = read_token(resolve(None, DEVICE).port)
    assert token is not None and token.startswith("007"), token
    return token


@pytest.fixture()
def console(provisioned: dict[str, str]) -> Iterator[tuple[DeviceConsole, Recording]]:
    t = resolve(None, DEVICE)
    with open_port(t.port, ignore_pids=t.allowed_holders) as port:
        rec = Recording(port)
        dev = DeviceConsole(rec, timeout=10)
        dev.wait_ready(30)
        yield dev, rec


def refused(call: Any) -> SmpError:
    with pytest.raises(SmpError) as exc:
        call()
    assert exc.value.rc == EACCESSDENIED, exc.value
    return exc.value


@pytest.mark.parametrize("name", ["prov/record", "prov__record", "prov/", "prov/other", "secret/wifi-psk", "secret__x"])
def test_secret_keys_cannot_be_read_written_or_deleted(console: tuple[DeviceConsole, Recording],
                                                       provisioned: dict[str, str], name: str) -> None:
    dev, rec = console
    err = refused(lambda: dev.setting_get(name))
    assert "provisioning commands" in (err.reason or "")
    forged = cbor2.dumps({"app_id": APP, "channel": "room", "uid": "intruder", "token": "007forged", "expires": 1})
    refused(lambda: dev.setting_set(name, forged))
    refused(lambda: dev.setting_delete(name))
    state = dev.provisioning()
    assert state["state"] == "provisioned" and state["digest"] == provisioned["digest"] and state["uid"] != "intruder"
    assert not rec.carries(provisioned["token"])


def test_the_refusal_to_provision_twice_holds(console: tuple[DeviceConsole, Recording], provisioned: dict[str, str]) -> None:
    dev, rec = console
    record = {"app_id": APP, "channel": "room", "uid": "intruder", "expires": 2**31,
              "token": at.build(APP, b"x" * 32, "room", "intruder", 3600)}
    refused(lambda: dev.store_provisioning(record))  # provisioned: only a re-provisioning replaces it
    refused(lambda: dev.setting_delete("prov/record"))  # and the record cannot be deleted first
    refused(lambda: dev.store_provisioning(record))
    state = dev.provisioning()
    assert state["digest"] == provisioned["digest"] and state["uid"] != "intruder"
    assert not rec.carries(provisioned["token"])


def test_the_device_still_holds_the_stations_token(provisioned: dict[str, str]) -> None:
    assert device_token() == provisioned["token"]  # nothing above replaced or removed it


def test_other_settings_still_work_and_no_answer_carries_the_token(console: tuple[DeviceConsole, Recording],
                                                                   provisioned: dict[str, str]) -> None:
    dev, rec = console
    dev.setting_set("wifi/ssid", b"lab-5g")
    assert dev.setting_get("wifi/ssid") == b"lab-5g"
    dev.setting_delete("wifi/ssid")
    with pytest.raises(SmpError, match="no such entry"):
        dev.setting_get("wifi/ssid")
    state = dev.provisioning()
    assert state["digest"] == at.token_hash(provisioned["token"]) == provisioned["digest"]
    dev.log()
    dev.stats()
    assert not rec.carries(provisioned["token"])
