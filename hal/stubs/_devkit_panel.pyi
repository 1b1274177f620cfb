# _devkit_panel — the ARM devkit's LEDs and buttons as files the host sees (hal/devkit/panel.c);
# hal/emu/led.py and hal/emu/button.py use it.
def write_leds(data: bytes | bytearray | str) -> None: ...  # leds.json, replaced whole
def read_buttons(buf: bytearray | memoryview) -> int: ...  # buttons.json into buf; 0 without it
