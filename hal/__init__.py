# hal — the firmware's only door to hardware.
#
# Parts: console (the device console's byte stream beside the REPL), storage (atomic key-value
# settings), clock, led, button, audio (20 ms frames in and out), net (UDP, TCP), camera (frames),
# codec (the C codecs and media stack of native_codec), video (camera → JPEG → RTP/JPEG out,
# RTP/JPEG in → display, frames never in the MicroPython heap). Each part has one module per
# backend:
#   hal.board.<part>  boards through MicroPython's machine module (real boards: RP2040, STM32;
#                     the pins of each are in hal.boards) and the devkit
#   hal.emu.<part>    the devkit (MicroPython's qemu port on QEMU mps2-an386) has the board
#                     backend, except for the parts in EMU, which the emulated board has as
#                     devices of its own (hal/devkit/audio.c, camera.c, panel.c, video.c)
# storage and boot (the running image's confirmation) are shared: they only need a filesystem.
# Use `hal.part("console")`.
import sys

BACKEND = "devkit" if sys.platform == "qemu" else "board"
SHARED = ("storage", "boot")
EMU = ("audio", "camera", "led", "button", "video") if sys.platform == "qemu" else ()

_loaded = {}  # type: dict[str, object]


def part(name):
    """The backend module of one hal part (imported once)."""
    mod = _loaded.get(name)
    if mod is None:
        pkg = "hal" if name in SHARED else "hal.emu" if name in EMU else "hal.board"
        mod = __import__(pkg + "." + name, None, None, [name])
        _loaded[name] = mod
    return mod
