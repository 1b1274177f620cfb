# clock.part.mk — the board's clock from a hardware counter (clock_devkit.c): ticks_ms/ticks_us
# read the CMSDK dual timer instead of counting SysTick interrupts, which QEMU loses when the host
# is busy.
SRC_C += $(DEVKIT_DIR)/clock_devkit.c

LDFLAGS += -Wl,--wrap=ticks_init -Wl,--wrap=ticks_ms -Wl,--wrap=ticks_us
