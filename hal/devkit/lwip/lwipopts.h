// lwipopts.h — lwIP's configuration for the devkit: MicroPython's common one (NO_SYS, raw API,
// DHCP, DNS, TCP window and MSS of a Pico W or an STM32 board, lwIP's memory outside the Python
// heap) over one Ethernet interface, IPv4 only. lwIP runs at PendSV priority (lan_netif.c); the
// lock that keeps MicroPython and PendSV apart is MICROPY_PY_LWIP_ENTER/EXIT (net_config.h).
#ifndef EDGECALL_DEVKIT_LWIPOPTS_H
#define EDGECALL_DEVKIT_LWIPOPTS_H

#include <stdint.h>

#define LWIP_IPV4                       1
#define LWIP_IPV6                       0

// Ephemeral ports, DHCP transaction ids and TCP initial sequence numbers differ per boot.
#define LWIP_RAND()                     devkit_net_rand()
uint32_t devkit_net_rand(void);

#include "extmod/lwip-include/lwipopts_common.h"

#endif
