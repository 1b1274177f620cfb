# slot.part.mk — the board's view of its MCUboot slots (included by mpconfigboard.mk through
# *.part.mk): the _devkit_slot module (slot.c) that reads the slots' images and trailers and
# confirms the running image (image_ok in the primary slot's trailer), used by hal/boot.py.
SRC_C += $(DEVKIT_DIR)/slot.c
