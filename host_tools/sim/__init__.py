"""Virtual devkits: MicroPython on an emulated Cortex-M4 board (QEMU mps2-an386, the board folder
hal/devkit) behind a pseudo-terminal.

One device = one supervisor process (``supervisor.py``: the pty, UART pacing, the power switch,
the bootloader) running one QEMU (``qemu.py``), the board's flash a littlefs image in its
state folder (``state.py``). ``manager`` starts, stops, lists and power-cuts devices; ``cli.register`` adds the
``edgecall sim`` subcommands.
"""
from __future__ import annotations

from host_tools.sim.manager import DeviceInfo, list_devices, power_cut, start, stop, stop_all

__all__ = ["DeviceInfo", "list_devices", "power_cut", "start", "stop", "stop_all"]
