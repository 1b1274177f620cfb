# net.mk — the devkit's network (included by mpconfigboard.mk): lwIP and MicroPython's lwIP socket
# module (extmod/modlwip.c), the network module with network.LAN over the board's LAN9118
# Ethernet. lwipopts.h and lwIP's arch/ headers are in lwip/; the rest is configured in
# net_config.h.
MICROPY_PY_LWIP = 1

INC += -I$(DEVKIT_DIR)/lwip

SRC_C += \
	$(DEVKIT_DIR)/lan9118.c \
	$(DEVKIT_DIR)/lan_netif.c \
	$(DEVKIT_DIR)/network_lan.c \
