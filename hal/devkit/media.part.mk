# media.part.mk — the board's microphone and speaker (audio.c, module _devkit_audio), camera
# (camera.c, module _devkit_camera), LEDs and buttons (panel.c, module _devkit_panel), frame memory
# and display (video.c, module _devkit_video): files in the device folder on the host, through
# semihosting, media paced by the board's clock. hal/emu is their hal backend.
SRC_C += \
	$(DEVKIT_DIR)/audio.c \
	$(DEVKIT_DIR)/camera.c \
	$(DEVKIT_DIR)/panel.c \
	$(DEVKIT_DIR)/video.c \
