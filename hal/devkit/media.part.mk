# media.part.mk — the board's microphone and speaker (audio.c, module _devkit_audio) and camera
# (camera.c, module _devkit_camera): files in the device folder on the host, through semihosting,
# paced by the board's clock. hal/emu/audio.py and hal/emu/camera.py are their hal backends.
SRC_C += \
	$(DEVKIT_DIR)/audio.c \
	$(DEVKIT_DIR)/camera.c \
