# micropython.mk — native_codec as the MicroPython user C module _nc (the binding mod_nc.c, the
# API of hal/stubs/_nc.pyi), for firmware builds such as the virtual devkit's:
#
#   make -C <micropython>/ports/<port> USER_C_MODULES=<abs path of native_codec> [NC_OPUS_DIR=<libopus 1.3.1>]
#
# MicroPython includes every <USER_C_MODULES>/*/micropython.mk; this is the only one under
# native_codec. It compiles mod_nc.c (scanned for qstrs, with its video functions: NC_VIDEO
# defaults to 1) and every native_codec/src/*.c (the firmware's --gc-sections drops what _nc does
# not reach, e.g. H.264 packetization). With NC_OPUS_DIR (the unpacked libopus 1.3.1 tree, host_tools/native/opus.py
# fetch()) it also compiles libopus from its own automake source lists with opus.py's DEFINES
# (fixed point, no heap, VLAs; third-party code, so with its own warnings off) and the media
# stack with EC_MEDIA_WITH_OPUS; its packets equal the host's bit for bit (NC_OPUS_EDSP below).
# libopus's objects are built at -O2 (the port builds the rest at -Os): a devkit in an Opus call
# runs 8 % fewer instructions (-O3 gains 1 % more for 36 KB of code).
# NC_OPUS_EDSP chooses, on a Cortex-M4/M7 (-mcpu in the port's CFLAGS), libopus's ARMv7E-M DSP
# inline assembly: silk (the default) gives it to SILK only (opus_silk_edsp.h keeps CELT's C
# macros), whose macros compute what their C forms compute: a devkit in an Opus call runs fewer
# instructions and its packets still equal the host's bit for bit (tests/test_natmod_media.py);
# 1 gives it to CELT too, whose MULT16_32_Q15 drops a bit: an encoder that is not bit-exact with
# the C code (complexity 0 with in-band FEC at 20 % expected loss gives other packets: scenario
# "opus", measured with the same option in native_codec/mpy/Makefile); 0: plain C.

NC_MPY_DIR := $(USERMOD_DIR)
NC_ROOT := $(patsubst %/,%,$(dir $(USERMOD_DIR)))

SRC_USERMOD_C += $(NC_MPY_DIR)/mod_nc.c
SRC_USERMOD_LIB_C += $(wildcard $(NC_ROOT)/src/*.c)
CFLAGS_USERMOD += -I$(NC_ROOT)/include

ifneq ($(NC_OPUS_DIR),)
NC_OPUS := $(abspath $(NC_OPUS_DIR))
include $(NC_OPUS)/celt_sources.mk
include $(NC_OPUS)/silk_sources.mk
include $(NC_OPUS)/opus_sources.mk
SRC_USERMOD_LIB_C += $(addprefix $(NC_OPUS)/,$(CELT_SOURCES) $(SILK_SOURCES) $(SILK_SOURCES_FIXED) $(OPUS_SOURCES))
CFLAGS_USERMOD += -DEC_MEDIA_WITH_OPUS -I$(NC_OPUS)/include

NC_OPUS_CFLAGS = -w -Werror=implicit-function-declaration -DOPUS_BUILD -DFIXED_POINT -DDISABLE_FLOAT_API \
    -DVAR_ARRAYS -DCUSTOM_SUPPORT -DPACKAGE_VERSION='"1.3.1"' -I$(NC_ROOT)/opus_port -I$(NC_OPUS)/celt \
    -I$(NC_OPUS)/silk -I$(NC_OPUS)/silk/fixed -O2
NC_OPUS_EDSP ?= silk
ifneq ($(filter -mcpu=cortex-m4% -mcpu=cortex-m7%,$(CFLAGS)),)
ifeq ($(NC_OPUS_EDSP),1)
NC_OPUS_CFLAGS += -DOPUS_ARM_INLINE_ASM -DOPUS_ARM_INLINE_EDSP -DOPUS_ARM_INLINE_MEDIA
endif
ifeq ($(NC_OPUS_EDSP),silk)
NC_OPUS_CFLAGS += -DOPUS_ARM_INLINE_ASM -DOPUS_ARM_INLINE_EDSP -include $(NC_MPY_DIR)/opus_silk_edsp.h
endif
endif
# libopus's objects only (their path under the build folder is the source's absolute path).
$(BUILD)/$(NC_OPUS)/%.o: CFLAGS += $(NC_OPUS_CFLAGS)
endif
