"""The MicroPython side: `build` compiles firmware/ and hal/ to .mpy with mpy-cross into the file
set a device's flash holds; `check` type-checks it against the RP2040 and STM32 stubs."""
