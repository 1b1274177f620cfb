# hal.board — real-board backend (RP2040, STM32) through MicroPython's machine module.
