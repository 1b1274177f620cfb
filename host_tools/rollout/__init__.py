"""`edgecall rollout`: a staged firmware rollout over a fleet, MCUboot/mcumgr style.

waves.py   the device list split into waves by cumulative percentages
ledger.py  the rollout's state in SQLite (WAL, one transaction per step): what resumes it
device.py  one device: what it runs (image hash, version, confirmed), confirm, revert through the bootloader
health.py  health checks (boot, selftest) against an expected image
engine.py  the loop: wave by wave, flash for a test boot, check, confirm the wave or halt and roll it back
cli.py     `edgecall rollout IMAGE …` and `edgecall rollout status`
"""
