# hal.emu — the parts an emulated board has that MicroPython has no standard class for: the ARM
# devkit's (QEMU mps2-an386, hal/devkit) microphone, speaker, camera, LEDs and buttons, C devices of
# its firmware (hal/devkit/audio.c, camera.c, panel.c) whose far ends are files the host feeds and
# records. Each module has the API of its hal.vdk counterpart, so the firmware runs unchanged on
# either devkit.
