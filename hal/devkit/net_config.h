// net_config.h — the devkit's network configuration (included by edgecall_config.h): lwIP's
// socket module (extmod/modlwip.c) and the network module with network.LAN, the LAN9118
// Ethernet (network_lan.c, lan_netif.c, lan9118.c). lwIP runs at PendSV priority; MicroPython
// takes the lwIP lock by raising BASEPRI above PendSV (as ports/stm32 does), so the Ethernet
// and console interrupts stay live while Python code is inside lwIP.
#define MICROPY_PY_NETWORK          (1)
#define MICROPY_PY_NETWORK_HOSTNAME_DEFAULT "edgecall-devkit"
#define MICROPY_PY_SOCKET           (1)
#define MICROPY_PY_LWIP_SOCK_RAW    (1)

#define MICROPY_PORT_NETWORK_INTERFACES \
    { MP_ROM_QSTR(MP_QSTR_LAN), MP_ROM_PTR(&network_lan_type) },

#ifndef __ASSEMBLER__
#include <stdint.h>
extern const struct _mp_obj_type_t network_lan_type;
uint32_t devkit_net_lock(void);
void devkit_net_unlock(uint32_t state);
#endif

#define MICROPY_PY_LWIP_ENTER   uint32_t devkit_net_lock_state = devkit_net_lock();
#define MICROPY_PY_LWIP_REENTER devkit_net_lock_state = devkit_net_lock();
#define MICROPY_PY_LWIP_EXIT    devkit_net_unlock(devkit_net_lock_state);
