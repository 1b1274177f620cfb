# hal.emu — the parts an emulated board has that MicroPython has no standard class for: the ARM
# devkit's (QEMU mps2-an386, hal/devkit) microphone, speaker, camera, LEDs and buttons, C devices of
# its firmware (hal/devkit/audio.c, camera.c, panel.c) whose far ends are files the host feeds and
# records. A real board's backend for the same part (hal.board) has the same API, so the firmware
# runs unchanged on both.
