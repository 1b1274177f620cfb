// lan_netif.c — the devkit's LAN9118 as lwIP's Ethernet interface (see lan_netif.h).
//
// Where lwIP runs: at PendSV, the lowest exception priority, as on ports/stm32. Two things pend
// PendSV: the Ethernet interrupt (it masks the controller's interrupts; PendSV reads the waiting
// frames into lwIP and unmasks them), and the SysTick when lwIP's next timeout is due or frames
// wait in the controller (the SysTick compares two words; nothing polls). The board's SysTick
// fires only when asked (board.c): a new next timeout asks for it at that time, frames left in
// the controller a millisecond later (devkit_tick_within). The idle does not sleep past lwIP's
// next timer (devkit_net_idle_ms).
//
// Received frames go to lwIP at most RX_BUDGET per millisecond; the rest wait in the LAN9118's
// FIFO (10 KiB) for a SysTick a millisecond later. The host's scheduler delivers a devkit's traffic in lumps (a
// QEMU that did not run for 50 ms gets 50 ms of datagrams at once), which a real link does not:
// handed over at once, a lump overflows a UDP socket's queue in modlwip (4 datagrams) before the
// Python code that reads it gets to run. MicroPython code that calls
// lwIP (extmod/modlwip.c, network.LAN) takes the lock: BASEPRI at PendSV's priority, so the
// Ethernet and console interrupts still run and only the lwIP service waits. When the lock is
// released the next timeout is read again (a socket call may have started a TCP timer).
//
// lwIP's memory (pbufs, PCBs) is its own static pool, never the Python heap, so PendSV does not
// touch the garbage collector.
#include <string.h>

#include "py/mphal.h"
#include "py/runtime.h"
#include "extmod/modnetwork.h"
#include "lwip/init.h"
#include "lwip/dhcp.h"
#include "lwip/etharp.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "lan9118.h"
#include "lan_netif.h"
#include "semihost.h"

#define SCB_ICSR       (*(volatile uint32_t *)0xE000ED04)
#define SCB_PRI_PENDSV (*(volatile uint8_t *)0xE000ED22)
#define ICSR_PENDSVSET (1u << 28)
#define NVIC_ISER(n)   (*(volatile uint32_t *)(0xE000E100 + 4 * (n)))
#define NVIC_ICER(n)   (*(volatile uint32_t *)(0xE000E180 + 4 * (n)))
#define NVIC_ICPR(n)   (*(volatile uint32_t *)(0xE000E280 + 4 * (n)))
#define NVIC_IPR(n)    (*(volatile uint8_t *)(0xE000E400 + (n)))

// Priorities (upper bits count): the Ethernet above PendSV, below the console's UART (0x80).
#define PRI_ETH    0xA0
#define PRI_PENDSV 0xF0

// Frames handed to lwIP per service run (one run per millisecond while frames wait).
#define RX_BUDGET 2

static lan9118_t lan;
static struct netif lan_netif;
static bool lwip_ready;      // lwip_init() done (once per power-on)
static bool netif_added;
static volatile bool lan_up; // the controller is initialised and its interrupt enabled
static volatile bool rx_backlog; // frames left in the controller for the next SysTick
static bool mac_set;
static uint8_t mac_addr[6];
static uint32_t rx_no_pbuf;
static uint32_t service_runs;

// lwIP's next timeout, for the SysTick: armed is written after due.
static volatile uint32_t timer_due;
static volatile bool timer_armed;
static void (*systick_prev)(void);

// Frame buffers: RX only at PendSV, TX only inside lwIP (PendSV or under the lock).
static uint32_t rx_buf[(LAN9118_MAX_FRAME + 4 + 3) / 4];
static uint32_t tx_buf[(LAN9118_MAX_FRAME + 3) / 4];

extern volatile uint32_t devkit_wake_seq;  // board.c

static inline void pend_service(void) {
    SCB_ICSR = ICSR_PENDSVSET;
}

// ---- the lwIP lock (MICROPY_PY_LWIP_ENTER/EXIT)
// Also asks the board for a SysTick at the next timeout when that changed (most unlocks leave it
// as it was: the SysTick already comes then, and the counters are not read).
static void timer_rearm(void) {
    struct sys_timeo *next = *sys_timeouts_get_next_timeout();
    if (next == NULL) {
        timer_armed = false;
    } else if (!timer_armed || timer_due != next->time) {
        timer_due = next->time;
        timer_armed = true;
        int32_t left = (int32_t)(next->time - (uint32_t)mp_hal_ticks_ms());
        devkit_tick_within(left < 1 ? 1u : (uint32_t)left);
    }
}

uint32_t devkit_net_lock(void) {
    uint32_t old;
    __asm volatile ("mrs %0, basepri" : "=r" (old));
    __asm volatile ("msr basepri_max, %0" : : "r" (PRI_PENDSV) : "memory");
    return old;
}

void devkit_net_unlock(uint32_t state) {
    if (state == 0 && lwip_ready) {
        timer_rearm();
    }
    __asm volatile ("msr basepri, %0" : : "r" (state) : "memory");
}

// ---- lwIP's system hooks
u32_t sys_now(void) {
    return mp_hal_ticks_ms();
}

uint32_t devkit_net_rand(void) {
    static uint32_t state;
    if (state == 0) {
        extern uint32_t devkit_random_seed(void);
        state = devkit_random_seed() | 1;
    }
    // xorshift32
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
}

// ---- interrupts
static void lan_irq(void) {
    // Mask the controller (the line falls); PendSV reads the frames and unmasks it.
    if (lan_up) {
        lan9118_irq_mask(&lan);
    }
    pend_service();
}

static void lan_systick(void) {
    systick_prev();
    int32_t left = (int32_t)(timer_due - (uint32_t)mp_hal_ticks_ms());
    if (rx_backlog || (timer_armed && left <= 0)) {
        timer_armed = false;
        rx_backlog = false;
        pend_service();
    } else if (timer_armed) {
        devkit_tick_within((uint32_t)left);  // the clock's ms not reached yet: come back then
    }
}

// Hands up to RX_BUDGET frames to lwIP; true when the budget ran out (frames may be left).
static bool lan_receive(void) {
    for (int taken = 0; taken < RX_BUDGET; taken++) {
        int n = lan9118_rx(&lan, rx_buf, sizeof(rx_buf));
        if (n == 0) {
            return false;
        }
        if (n < 0) {
            continue;
        }
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_POOL);
        if (p == NULL) {
            rx_no_pbuf++;
            continue;
        }
        pbuf_take(p, rx_buf, (u16_t)n);
        if (lan_netif.input(p, &lan_netif) != ERR_OK) {
            pbuf_free(p);
        }
    }
    return true;
}

static void lan_service(void) {
    // PendSV: never runs while MicroPython holds the lwIP lock.
    service_runs++;
    devkit_wake_seq++;  // sockets may have become ready (board.c's idle looks again)
    if (lan_up) {
        uint32_t sts = lan9118_irq_pending(&lan);
        lan9118_irq_ack(&lan, sts);
        if (sts & LAN9118_INT_PHY) {
            lan9118_ack_phy(&lan);
            if (lan9118_link_up(&lan)) {
                netif_set_link_up(&lan_netif);
            } else {
                netif_set_link_down(&lan_netif);
            }
        }
        if (lan_receive()) {
            rx_backlog = true;  // the interrupt stays masked: the SysTick comes back in 1 ms
            devkit_tick_within(1);
        } else {
            lan9118_irq_unmask(&lan);
        }
    }
    if (lwip_ready) {
        sys_check_timeouts();
        timer_rearm();
    }
}

// The longest the idle may sleep (board.c, devkit_idle): not past lwIP's next timer, and only
// a millisecond while frames wait in the controller.
uint32_t devkit_net_idle_ms(uint32_t ms) {
    if (rx_backlog) {
        return 1;
    }
    if (timer_armed) {
        int32_t left = (int32_t)(timer_due - (uint32_t)mp_hal_ticks_ms());
        if (left < 1) {
            return 1;
        }
        if ((uint32_t)left < ms) {
            ms = (uint32_t)left;
        }
    }
    return ms;
}

void devkit_net_irq_install(uint32_t *table) {
    systick_prev = (void (*)(void))table[15];
    table[14] = (uint32_t)lan_service;
    table[15] = (uint32_t)lan_systick;
    table[16 + LAN9118_IRQ] = (uint32_t)lan_irq;
    SCB_PRI_PENDSV = PRI_PENDSV;
    NVIC_IPR(LAN9118_IRQ) = PRI_ETH;
}

void devkit_net_init(void) {
    if (!lwip_ready) {
        uint32_t s = devkit_net_lock();
        lwip_init();
        lwip_ready = true;
        devkit_net_unlock(s);
    }
    mod_network_init();
}

// ---- the netif
static err_t lan_linkoutput(struct netif *netif, struct pbuf *p) {
    (void)netif;
    if (p->tot_len > LAN9118_MAX_FRAME) {
        return ERR_BUF;
    }
    pbuf_copy_partial(p, tx_buf, p->tot_len, 0);
    return lan9118_tx(&lan, tx_buf, p->tot_len) == 0 ? ERR_OK : ERR_IF;
}

static err_t lan_netif_init(struct netif *netif) {
    netif->name[0] = 'e';
    netif->name[1] = 'n';
    netif->output = etharp_output;
    netif->linkoutput = lan_linkoutput;
    netif->mtu = 1500;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, mac_addr, 6);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP;
    return ERR_OK;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void mac_from_uid(uint8_t mac[6]) {
    // FNV-1a (64 bit) over the unique id's bytes, as machine.unique_id() returns them; the first
    // byte marks a locally administered unicast address.
    char hex[17];
    uint64_t h = 0xcbf29ce484222325ull;
    if (sh_arg("uid", hex, sizeof(hex)) != NULL) {
        for (int i = 0; i < 8; i++) {
            int hi = hexval(hex[2 * i]);
            int lo = hi < 0 ? -1 : hexval(hex[2 * i + 1]);
            uint8_t b = hi < 0 || lo < 0 ? 0 : (uint8_t)(hi << 4 | lo);
            h = (h ^ b) * 0x100000001b3ull;
            if (hi < 0 || lo < 0) {
                break;
            }
        }
    }
    mac[0] = 0x02;
    for (int i = 1; i < 6; i++) {
        mac[i] = (uint8_t)(h >> (8 * (i - 1)));
    }
}

void devkit_lan_mac(uint8_t mac[6]) {
    if (!mac_set) {
        mac_from_uid(mac_addr);
        mac_set = true;
    }
    memcpy(mac, mac_addr, 6);
}

void devkit_lan_set_mac(const uint8_t mac[6]) {
    memcpy(mac_addr, mac, 6);
    mac_set = true;
}

int devkit_lan_start(void) {
    if (lan_up) {
        return 0;
    }
    uint8_t mac[6];
    devkit_lan_mac(mac);
    int rc = lan9118_init(&lan, LAN9118_BASE, mac);
    if (rc != 0) {
        return rc;
    }
    bool link = lan9118_link_up(&lan);

    uint32_t s = devkit_net_lock();
    if (!netif_added) {
        netif_add(&lan_netif, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4, NULL, lan_netif_init, ethernet_input);
        netif_added = true;
    }
    netif_set_hostname(&lan_netif, mod_network_hostname_data);
    netif_set_default(&lan_netif);
    netif_set_up(&lan_netif);
    if (link) {
        netif_set_link_up(&lan_netif);
    }
    dhcp_start(&lan_netif);
    lan_up = true;
    devkit_net_unlock(s);

    NVIC_ICPR(LAN9118_IRQ / 32) = 1u << (LAN9118_IRQ % 32);
    NVIC_ISER(LAN9118_IRQ / 32) = 1u << (LAN9118_IRQ % 32);
    pend_service();  // frames that arrived before the interrupt was enabled
    return 0;
}

void devkit_lan_stop(void) {
    if (!lan_up) {
        return;
    }
    NVIC_ICER(LAN9118_IRQ / 32) = 1u << (LAN9118_IRQ % 32);
    uint32_t s = devkit_net_lock();
    lan_up = false;
    dhcp_release_and_stop(&lan_netif);
    netif_set_link_down(&lan_netif);
    netif_set_down(&lan_netif);
    netif_remove(&lan_netif);
    netif_added = false;
    devkit_net_unlock(s);
    lan9118_deinit(&lan);
}

bool devkit_lan_active(void) {
    return lan_up;
}

int devkit_lan_status(void) {
    if (!lan_up) {
        return 0;
    }
    if (!netif_is_link_up(&lan_netif)) {
        return 1;
    }
    return ip4_addr_isany_val(*netif_ip4_addr(&lan_netif)) ? 2 : 3;
}

struct netif *devkit_lan_netif(void) {
    return &lan_netif;
}

void devkit_lan_counters(uint32_t out[DEVKIT_LAN_COUNTERS]) {
    out[0] = lan.rx_frames;
    out[1] = lan.rx_dropped + rx_no_pbuf;
    out[2] = lan.tx_frames;
    out[3] = lan.tx_dropped;
    out[4] = service_runs;
}
