"""MicroPython-only functions the firmware uses, added to CPython's time and asyncio so the
firmware's pure-logic modules run under pytest (their on-device behaviour is tested on virtual
devkits). Importing this module also puts firmware/ on sys.path."""
from __future__ import annotations

import asyncio
import sys
import time

from host_tools.paths import ROOT

_SHIMS = {
    time: {"ticks_ms": lambda: int(time.monotonic() * 1000), "ticks_diff": lambda a, b: a - b,
           "ticks_add": lambda a, b: a + b},
    asyncio: {"sleep_ms": lambda ms: asyncio.sleep(ms / 1000)},
}
for _mod, _fns in _SHIMS.items():
    for _name, _fn in _fns.items():
        if not hasattr(_mod, _name):
            setattr(_mod, _name, _fn)

if str(ROOT / "firmware") not in sys.path:
    sys.path.insert(0, str(ROOT / "firmware"))
