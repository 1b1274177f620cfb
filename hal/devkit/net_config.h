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

// The scheduler's atomic sections mask interrupts: lwIP's service (PendSV) schedules socket
// callbacks (mp_sched_schedule) from interrupt context.
#ifndef MICROPY_BEGIN_ATOMIC_SECTION
#ifndef __ASSEMBLER__
static inline uint32_t devkit_irq_save(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask\n cpsid i" : "=r" (primask) : : "memory");
    return primask;
}
static inline void devkit_irq_restore(uint32_t primask) {
    __asm volatile ("msr primask, %0" : : "r" (primask) : "memory");
}
#endif
#define MICROPY_BEGIN_ATOMIC_SECTION()     devkit_irq_save()
#define MICROPY_END_ATOMIC_SECTION(state)  devkit_irq_restore(state)
#endif

#define MICROPY_PY_LWIP_ENTER   uint32_t devkit_net_lock_state = devkit_net_lock();
#define MICROPY_PY_LWIP_REENTER devkit_net_lock_state = devkit_net_lock();
#define MICROPY_PY_LWIP_EXIT    devkit_net_unlock(devkit_net_lock_state);
