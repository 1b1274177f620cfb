"""AccessToken2-compatible tokens: the shared vector, verification, expiry, malformed tokens, and
the rule that the app certificate never shows in any output."""
from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from host_tools.paths import ROOT
from host_tools.token import accesstoken2 as at

CERT = b"5CFd2fd1755d40ecb72977518be15d3b"
OTHER = b"0123456789abcdef0123456789abcdef"
APP = "970CA35de60c44645bbae8a215061b33"


@pytest.fixture(scope="module")
def vector(testdata: Path) -> dict:
    return json.loads((testdata / "accesstoken2.json").read_text())["vectors"][0]


def test_vector_reproduced_bit_for_bit(vector: dict) -> None:
    s = vector["services"][0]
    token = at.build(vector["app_id"], vector["app_certificate"].encode(), s["channel_name"], s["uid"],
                     vector["expire"], {int(k): v for k, v in s["privileges"].items()},
                     salt=vector["salt"], issue_ts=vector["issue_ts"])
    assert token == vector["token"]
    t = at.parse(token)
    assert (t.app_id, t.issue_ts, t.expire, t.salt) == (APP, 1111111, 600, 1)
    assert t.services[0].uid == "2882341273" and t.services[0].privileges == {1: 600}


def test_verifies_with_the_certificate_only() -> None:
    tok = at.build(APP, CERT, "ch", 42, 3600)
    assert at.verify(tok, CERT).valid
    v = at.verify(tok, OTHER)
    assert not v.valid and "bad signature" in v.reason


def test_expiry_and_privilege_expiry() -> None:
    tok = at.build(APP, CERT, "ch", 42, 600, {1: 600, 2: 60}, issue_ts=1_000_000)
    assert at.verify(tok, CERT, now=1_000_599, privilege=1).valid
    assert at.verify(tok, CERT, now=1_000_600).reason == "expired"
    assert at.verify(tok, CERT, now=1_000_100, privilege=2).reason == "privilege publish-audio expired"
    assert at.verify(tok, CERT, now=1_000_100, privilege=3).reason == "privilege publish-video not granted"


def test_claims_checked() -> None:
    tok = at.build(APP, CERT, "room", "alice", 600)
    assert at.verify(tok, CERT, channel="room", uid="alice").valid
    assert at.verify(tok, CERT, channel="other").reason == "token is for another channel"
    assert at.verify(tok, CERT, uid="bob").reason == "token is for another uid"
    assert at.parse(at.build(APP, CERT, "room", 0, 600)).services[0].uid == ""


def test_any_altered_byte_is_caught() -> None:
    tok = at.build(APP, CERT, "room", 7, 600)
    raw = bytearray(zlib.decompress(base64.b64decode(tok[3:])))
    for i in range(34, len(raw)):  # every byte of the signed info
        bad = bytearray(raw)
        bad[i] ^= 0x01
        forged = "007" + base64.b64encode(zlib.compress(bytes(bad))).decode()
        assert not at.verify(forged, CERT).valid


@pytest.mark.parametrize(
    "token,match",
    [
        ("006abc", "version prefix"),
        ("007!!!", "base64"),
        ("007" + base64.b64encode(b"not zlib").decode(), "zlib"),
        ("007" + base64.b64encode(zlib.compress(b"\x20\x00" + b"x" * 10)).decode(), "truncated"),
    ],
)
def test_malformed_tokens(token: str, match: str) -> None:
    with pytest.raises(at.TokenError, match=match):
        at.parse(token)
    assert not at.verify(token, CERT).valid


def test_trailing_bytes_rejected() -> None:
    tok = at.build(APP, CERT, "room", 7, 600)
    raw = zlib.decompress(base64.b64decode(tok[3:])) + b"\x00"
    with pytest.raises(at.TokenError, match="unexpected bytes"):
        at.parse("007" + base64.b64encode(zlib.compress(raw)).decode())


def test_bad_build_arguments() -> None:
    with pytest.raises(at.TokenError, match="32 hexadecimal"):
        at.build("xyz", CERT, "c", 1, 60)
    with pytest.raises(at.TokenError, match="ttl"):
        at.build(APP, CERT, "c", 1, 0)
    with pytest.raises(at.TokenError, match="uid"):
        at.build(APP, CERT, "c", 2**32, 60)


def edgecall(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "EDGECALL_APP_CERT"}
    e.update(env or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=60)


def test_cli_build_verify_inspect_and_no_leak(tmp_path: Path, vector: dict) -> None:
    cert_file = tmp_path / "cert"
    cert_file.write_text(vector["app_certificate"] + "\n")
    s = vector["services"][0]
    b = edgecall("token", "build", "--app-id", APP, "--channel", s["channel_name"], "--uid", s["uid"], "--ttl", "600",
                 "--privilege", "join=600", "--salt", "1", "--issue-ts", "1111111", "--app-cert-file", str(cert_file))
    assert b.returncode == 0, b.stderr
    assert b.stdout.strip() == vector["token"]
    ok = edgecall("token", "verify", vector["token"], "--now", "1111200", "--json", env={"EDGECALL_APP_CERT": vector["app_certificate"]})
    assert ok.returncode == 0 and json.loads(ok.stdout) == {"valid": True, "reason": "ok"}
    late = edgecall("token", "verify", vector["token"], "--now", "1111711", "--app-cert-file", str(cert_file))
    assert late.returncode == 1 and "expired" in late.stderr
    wrong = edgecall("token", "verify", vector["token"], "--now", "1111200", env={"EDGECALL_APP_CERT": OTHER.decode()})
    assert wrong.returncode == 1 and "bad signature" in wrong.stderr
    ins = edgecall("token", "inspect", vector["token"], "--json")
    assert json.loads(ins.stdout)["services"][0]["privileges"] == {"join": 600}
    for p in (b, ok, late, wrong, ins):
        assert vector["app_certificate"] not in p.stdout + p.stderr
        assert OTHER.decode() not in p.stdout + p.stderr


def test_cli_refuses_certificate_on_the_command_line() -> None:
    p = edgecall("token", "build", "--app-id", APP, "--channel", "c", "--uid", "1", "--ttl", "60", "--app-cert", CERT.decode())
    assert p.returncode == 2 and "unrecognized arguments: --app-cert" in p.stderr
    assert CERT.decode() not in p.stdout + p.stderr  # usage errors name options, not values
    p = edgecall("token", "build", "--app-id", APP, "--channel", "c", "--uid", "1", "--ttl", "60", "--app-cert-file", CERT.decode())
    assert p.returncode == 2 and "cannot read the file" in p.stderr and CERT.decode() not in p.stderr
    p = edgecall("token", "build", "--app-id", APP, "--channel", "c", "--uid", "1", "--ttl", "60")
    assert p.returncode == 2 and "EDGECALL_APP_CERT" in p.stderr
