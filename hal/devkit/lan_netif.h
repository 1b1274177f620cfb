// lan_netif.h — the devkit's Ethernet interface in lwIP: the LAN9118 (lan9118.c) as an lwIP
// netif, lwIP's service at PendSV priority (received frames, lwIP's timers), the lwIP lock, and
// the board hooks board.c calls. network_lan.c is its Python face (network.LAN).
#ifndef EDGECALL_LAN_NETIF_H
#define EDGECALL_LAN_NETIF_H

#include <stdbool.h>
#include <stdint.h>

struct netif;

// Board hooks (board.c). irq_install puts the Ethernet interrupt, PendSV and a SysTick that
// also wakes lwIP's timers into the board's vector table (before VTOR points at it); init runs
// after each mp_init() (lwIP itself is initialised once, at the first boot).
void devkit_net_irq_install(uint32_t *table);
void devkit_net_init(void);

// The interface: start resets the LAN9118, brings the netif up and starts DHCP (0, or a negative
// LAN9118_E* code); stop takes it down. status: 0 inactive, 1 active without link, 2 link up
// without an address, 3 link up with an address.
int devkit_lan_start(void);
void devkit_lan_stop(void);
bool devkit_lan_active(void);
int devkit_lan_status(void);
struct netif *devkit_lan_netif(void);

// The MAC address: derived from the board's unique id (uid= on the command line) as a locally
// administered unicast address, unless set; set only while the interface is inactive.
void devkit_lan_mac(uint8_t mac[6]);
void devkit_lan_set_mac(const uint8_t mac[6]);

// Counters: frames received, dropped on receive (errors, no pbuf), sent, dropped on send, and
// how many times the lwIP service (PendSV) ran.
#define DEVKIT_LAN_COUNTERS 5
void devkit_lan_counters(uint32_t out[DEVKIT_LAN_COUNTERS]);

#endif
