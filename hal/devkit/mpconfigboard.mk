# EdgeCall virtual devkit: MicroPython's ports/qemu on QEMU's mps2-an386 (Cortex-M4F, 25 MHz),
# built with this folder as BOARD_DIR (host_tools/native/devkit.py). Nothing in the MicroPython
# tree is edited: the board's own C (this folder) takes over main(), the console's receive path
# and the idle loop with the linker's --wrap, and edgecall_config.h (MP_CONFIGFILE) adds to the
# port's configuration.
QEMU_ARCH = arm
QEMU_MACHINE = mps2-an386

DEVKIT_DIR := $(abspath $(BOARD_DIR))

CFLAGS += -mthumb -mcpu=cortex-m4 -mfloat-abi=hard -mfpu=fpv4-sp-d16
CFLAGS += -DQEMU_SOC_MPS2
CFLAGS += -DMICROPY_HW_MCU_NAME='"Cortex-M4"'
CFLAGS += -DMP_CONFIGFILE='"$(DEVKIT_DIR)/edgecall_config.h"'
CFLAGS += -I$(DEVKIT_DIR)

LDSCRIPT = mcu/arm/mps2.ld
SRC_BOARD_O = shared/runtime/gchelper_native.o shared/runtime/gchelper_thumb2.o
MPY_CROSS_FLAGS += -march=armv7emsp

MICROPY_FLOAT_IMPL = float
SUPPORTS_HARDWARE_FP_SINGLE = 1

# An RP2040 build's heap.
MICROPY_HEAP_SIZE = 196608

# littlefs v2 on the board's flash (flashbdev.c); littlefs v1 and FAT for filesystems on other block
# devices (RAM disks, as MicroPython's own vfs tests make).
MICROPY_VFS_LFS2 = 1
MICROPY_VFS_LFS1 = 1
MICROPY_VFS_FAT = 1

FROZEN_MANIFEST ?= $(DEVKIT_DIR)/manifest.py

SRC_C += \
	$(DEVKIT_DIR)/board.c \
	$(DEVKIT_DIR)/semihost.c \
	$(DEVKIT_DIR)/flashbdev.c \
	$(DEVKIT_DIR)/moddevkit.c \
	shared/timeutils/timeutils.c \

# The board's main() (boot sequence of a board), its console receive path (interrupt-driven, with
# Ctrl-C) and its idle (WFI) replace the port's, which stay compiled but unused.
LDFLAGS += -Wl,--wrap=main -Wl,--wrap=mp_hal_stdin_rx_chr -Wl,--wrap=mp_hal_stdio_poll \
	-Wl,--wrap=mp_hal_delay_ms -Wl,--wrap=mp_hal_delay_us

# The board's Ethernet (LAN9118) with lwIP and the socket module: net.mk when present.
-include $(DEVKIT_DIR)/net.mk

# The board's other peripherals, one make fragment each (hal/devkit/*.part.mk: its C files and flags).
-include $(wildcard $(DEVKIT_DIR)/*.part.mk)
