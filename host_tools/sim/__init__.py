"""Virtual devkits: MicroPython (the official WebAssembly build) on a pseudo-terminal.

One device = one supervisor process (``supervisor.py``: the pty, UART pacing, the power switch)
running one Node process (``vdk/device.mjs``: the MicroPython VM in a worker, REPL front end,
flash mirror). ``manager`` starts, stops, lists and power-cuts devices; ``cli.register`` adds the
``edgecall sim`` subcommands.
"""
from __future__ import annotations

from host_tools.sim.manager import DeviceInfo, list_devices, power_cut, start, stop, stop_all

__all__ = ["DeviceInfo", "list_devices", "power_cut", "start", "stop", "stop_all"]
