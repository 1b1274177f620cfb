"""App-only deploy to a stock MicroPython board: copy the firmware file set to its filesystem over
the raw REPL, skipping files whose SHA-256 already matches and verifying every written file by a
SHA-256 computed on the device. `edgecall deploy --port P|--device ID [--json]`."""
from __future__ import annotations

from host_tools.deploy.raw_repl import DeployError, DeployReport, FileResult, RawRepl, VerifyError, deploy

__all__ = ["DeployError", "DeployReport", "FileResult", "RawRepl", "VerifyError", "deploy"]
