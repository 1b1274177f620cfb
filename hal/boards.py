# boards.py — pins and peripherals of the real boards the `board` backend supports, by
# sys.platform: "rp2" (Raspberry Pi Pico / Pico W, RP2040) and "pyboard" (STM32 boards such as
# the Nucleo-F446RE running MicroPython's stm32 port). I2S tuples: (id, sck, ws, sd).
import sys

BOARDS = {
    "rp2": {"led": "LED", "button": 14, "mic": (0, 16, 17, 18), "speaker": (1, 10, 11, 12)},
    "pyboard": {"led": "LED_GREEN", "button": "SW", "mic": (2, "B13", "B12", "B15"), "speaker": (3, "B3", "A15", "B5")},
}


def board():
    cfg = BOARDS.get(sys.platform)
    if cfg is None:
        raise OSError(19, "no hal board configuration for " + sys.platform)
    return cfg
