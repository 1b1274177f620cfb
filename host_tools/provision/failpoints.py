"""Failpoints for fault-injection tests: EDGECALL_FAILPOINT="kill:reserved" makes the station
process die at once (as if killed) right after that step; "disconnect:store" drops the serial link
just after sending the store request. Unset in normal use: then every call is a no-op."""
from __future__ import annotations

import os

ENV = "EDGECALL_FAILPOINT"


def hit(action: str, step: str) -> bool:
    return os.environ.get(ENV, "") == f"{action}:{step}"


def kill_after(step: str) -> None:
    if hit("kill", step):
        os._exit(137)
