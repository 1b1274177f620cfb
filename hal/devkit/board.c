// board.c — the EdgeCall devkit board (QEMU mps2-an386, Cortex-M4F): its main() (the boot
// sequence of a MicroPython board, as ports/rp2 and ports/stm32 run it: _boot.py mounts the
// flash, then boot.py, then main.py unless the raw REPL asked for the soft reset, then the REPL),
// an interrupt-driven console receive path on UART0 with Ctrl-C (the port polls its UART, which
// cannot interrupt running code), a SysTick that fires only when something asked for it, and an
// idle that sleeps (WFI) instead of spinning: tickless, the SysTick set to the end of the wait
// (see devkit_tick_within, devkit_idle). These take
// the place of the port's main, mp_hal_stdin_rx_chr, mp_hal_stdio_poll and mp_hal_delay_* through
// the linker's --wrap (mpconfigboard.mk); the MicroPython tree is not edited.
//
// UART0 is the CMSDK APB UART at 0x40004000 (receive interrupt: IRQ 0 of the mps2 FPGA image).
// The receive ring holds MICROPY_BOARD_CONSOLE_RX bytes; when it is full the receive interrupt
// is masked, so the UART holds the next byte and QEMU stops taking bytes from the host: flow
// control, nothing dropped.
#include <string.h>

#include "py/compile.h"
#include "py/runtime.h"
#include "py/gc.h"
#include "py/mphal.h"
#include "py/frozenmod.h"
#include "py/builtin.h"
#include "py/stream.h"
#include "shared/readline/readline.h"
#include "shared/runtime/gchelper.h"
#include "shared/runtime/pyexec.h"
#include "shared/runtime/interrupt_char.h"
#include "semihost.h"

#define UART0_DATA   (*(volatile uint32_t *)0x40004000)
#define UART0_STATE  (*(volatile uint32_t *)0x40004004)
#define UART0_CTRL   (*(volatile uint32_t *)0x40004008)
#define UART0_INTCLR (*(volatile uint32_t *)0x4000400C)
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_RXIRQ   (1u << 3)
#define UART_INT_RX       (1u << 1)
#define IRQ_UART0_RX 0

#define SCB_VTOR     (*(volatile uint32_t *)0xE000ED08)
#define NVIC_ISER(n) (*(volatile uint32_t *)(0xE000E100 + 4 * (n)))
#define NVIC_ICER(n) (*(volatile uint32_t *)(0xE000E180 + 4 * (n)))
#define NVIC_IPR(n)  (*(volatile uint8_t *)(0xE000E400 + (n)))

#define NUM_VECTORS (16 + 32)

#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define TICK_CYCLES 25000u   // the port's SysTick: 1 ms of the 25 MHz processor clock
#define IDLE_MAX_MS 500u     // longest sleep (SysTick's reload is 24 bits: 671 ms)

static uint32_t vector_table[64] __attribute__((aligned(256)));
static uint32_t gc_heap[MICROPY_HEAP_SIZE / sizeof(uint32_t)];
// Python frames (MICROPY_ENABLE_PYSTACK): 32 KiB, as deep as the 32 KiB C stack lets calls nest.
static mp_obj_t pystack[MICROPY_BOARD_PYSTACK_WORDS];

// Bumped by every interrupt that can make something ready for the code that waits (a console
// byte; the network's service, lan_netif.c), so that the idle knows whether one came since the
// waiting code last looked (devkit_idle).
volatile uint32_t devkit_wake_seq;

// ---- console receive ring (single producer: the IRQ; single consumer: MicroPython)
static uint8_t rx_ring[MICROPY_BOARD_CONSOLE_RX];
static volatile uint32_t rx_head, rx_tail;  // head: written by the IRQ; tail: by the reader

static inline uint32_t rx_count(void) {
    return rx_head - rx_tail;
}

static void uart0_rx_irq(void) {
    // Acknowledge first, then drain: a byte that arrives after the last read raises the
    // interrupt again (acknowledging after the loop could clear the request of a byte that came
    // in meanwhile and leave it in the UART for good).
    UART0_INTCLR = UART_INT_RX;
    while (UART0_STATE & UART_STATE_RXFULL) {
        if (rx_count() >= sizeof(rx_ring)) {
            UART0_CTRL &= ~UART_CTRL_RXIRQ;  // full: leave the byte in the UART (flow control)
            break;
        }
        devkit_wake_seq++;
        uint8_t c = (uint8_t)UART0_DATA;
        if (c == mp_interrupt_char) {
            mp_sched_keyboard_interrupt();
            continue;
        }
        rx_ring[rx_head % sizeof(rx_ring)] = c;
        rx_head = rx_head + 1;
    }
}

static int rx_take(void) {
    if (rx_count() == 0) {
        return -1;
    }
    int c = rx_ring[rx_tail % sizeof(rx_ring)];
    rx_tail = rx_tail + 1;
    if (!(UART0_CTRL & UART_CTRL_RXIRQ)) {
        // Room again: take the byte the UART held, with interrupts masked so that the handler
        // does not run twice at once.
        uint32_t primask;
        __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
        UART0_CTRL |= UART_CTRL_RXIRQ;
        uart0_rx_irq();
        __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
    }
    return c;
}

static void (*port_systick)(void);
static void board_systick(void);

static void wdt_first_timeout(void) {
    // The watchdog's first time-out (its interrupt is the NMI on mps2): nothing to do, the second
    // one resets the board unless the application feeds it first.
}

// The board's network (lan_netif.c), when the firmware has one.
__attribute__((weak)) void devkit_net_irq_install(uint32_t *table) {
    (void)table;
}
__attribute__((weak)) void devkit_net_init(void) {
}

static void board_init(void) {
    // The port's vector table has the 16 system exceptions only: copy them into a table with
    // room for the FPGA image's interrupts and point VTOR at it.
    const uint32_t *boot_table = (const uint32_t *)SCB_VTOR;
    for (int i = 0; i < NUM_VECTORS; i++) {
        vector_table[i] = i < 16 ? boot_table[i] : boot_table[3];  // unused IRQs: HardFault
    }
    vector_table[2] = (uint32_t)wdt_first_timeout;
    port_systick = (void (*)(void))boot_table[15];
    vector_table[15] = (uint32_t)board_systick;  // before the network wraps it (lan_netif.c)
    vector_table[16 + IRQ_UART0_RX] = (uint32_t)uart0_rx_irq;
    devkit_net_irq_install(vector_table);
    __asm volatile ("dsb");
    SCB_VTOR = (uint32_t)vector_table;
    __asm volatile ("dsb; isb");
    NVIC_IPR(IRQ_UART0_RX) = 0x80;
    UART0_CTRL |= UART_CTRL_RXIRQ;
    NVIC_ISER(IRQ_UART0_RX / 32) = 1u << (IRQ_UART0_RX % 32);
    // A byte that reached the UART before its receive interrupt was enabled raised no request:
    // take it now, or the UART holds it (and QEMU every later byte) for good.
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uart0_rx_irq();
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
}

// ---- the SysTick on demand, and the tickless idle (MICROPY_INTERNAL_WFE, edgecall_config.h)
//
// The port starts the SysTick at 1 ms (ports/qemu/mcu/arm/ticks.c), but nothing here needs a
// periodic tick: the clock is a counter that is read (clock_devkit.c), and the things that wait
// for a time ask for an interrupt at that time. Under QEMU every SysTick interrupt is a timer of
// the host's main loop and a kick of the CPU's thread, a millisecond apart while the core works
// (an Opus frame) or waits, so the SysTick here fires only when asked:
// - devkit_tick_within(ms): at most ms from now (lwIP's next timer and its receive backlog,
//   lan_netif.c): the count is restarted with that period if it would end later;
// - devkit_idle(timeout_ms): a wait sleeps in one piece, the SysTick set to the end of the wait
//   (at most IDLE_MAX_MS, and not past lwIP's next timer: devkit_net_idle_ms).
// A period is started by writing its reload and then the current value (which restarts the count
// from the reload), and its end is kept on the clock; its interrupt (board_systick) starts the
// next period at IDLE_MAX_MS the same way, so unasked the SysTick fires twice a second. (Setting the long reload right after the
// restart, for the counter to take at the period's end, does not work under QEMU: its SysTick
// takes the reload when it handles the restart, later, so the period was the long one.)
// An interrupt that ends a sleep early (the console, the Ethernet) leaves the count running to
// the wait's end, which the waiting code (select.poll's, asyncio's loop) shortens or renews with
// its next wait. The reprogramming and the WFI run with PRIMASK set: an interrupt that comes in
// between still ends the WFI (a pending interrupt wakes the core whatever PRIMASK says) and is
// taken when PRIMASK is cleared. One that came after the waiting code last looked and before this
// call cannot be seen here, except through devkit_wake_seq: then the call returns at once and the
// code looks again.
__attribute__((weak)) uint32_t devkit_net_idle_ms(uint32_t ms) {
    return ms;
}

static uint32_t idle_seen_seq;
static uint32_t tick_end_ms;  // the clock's ms when the current period ends

// Restarts the count with a period of ms (1..IDLE_MAX_MS) from now_ms; PRIMASK set by the caller.
static void tick_restart(uint32_t now_ms, uint32_t ms) {
    SYST_RVR = ms * TICK_CYCLES - 1u;
    SYST_CVR = 0;  // restarts the count from the reload just set
    tick_end_ms = now_ms + ms;
}

static void board_systick(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uint32_t now = (uint32_t)mp_hal_ticks_ms();
    // The end of the current period, unless a new one was started after this interrupt came
    // (then it is left to run: the interrupt belonged to the old one).
    if ((int32_t)(now - tick_end_ms) >= 0) {
        tick_restart(now, IDLE_MAX_MS);  // until something asks for an earlier one
    }
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
    port_systick();
}

void devkit_tick_within(uint32_t ms) {
    ms = ms < 1u ? 1u : ms > IDLE_MAX_MS ? IDLE_MAX_MS : ms;
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uint32_t now = (uint32_t)mp_hal_ticks_ms();
    // Kept in the clock's ms rather than read from the SysTick's counter, which QEMU shows as 0
    // from a restart until its main loop has taken the reload.
    if ((int32_t)(tick_end_ms - now) <= 0 || (int32_t)(tick_end_ms - (now + ms)) > 0) {
        tick_restart(now, ms);  // ended (its interrupt may be pending), or ends later than asked
    }
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
}

void devkit_idle(intptr_t timeout_ms) {
    uint32_t seq = devkit_wake_seq;
    if (seq != idle_seen_seq) {
        idle_seen_seq = seq;  // something came since the last wait: let the caller look first
        return;
    }
    uint32_t ms = timeout_ms < 0 || (uintptr_t)timeout_ms > IDLE_MAX_MS ? IDLE_MAX_MS : (uint32_t)timeout_ms;
    ms = devkit_net_idle_ms(ms);
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    if (devkit_wake_seq == seq) {
        tick_restart((uint32_t)mp_hal_ticks_ms(), ms < 1u ? 1u : ms);
        __asm volatile ("dsb; wfi" ::: "memory");
    }
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
    idle_seen_seq = devkit_wake_seq;
}

// ---- replacements for the port's HAL functions (--wrap)
int __wrap_mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = rx_take();
        if (c >= 0) {
            return c;
        }
        mp_event_wait_indefinite();
    }
}

uintptr_t __wrap_mp_hal_stdio_poll(uintptr_t poll_flags) {
    uintptr_t ret = 0;
    if ((poll_flags & MP_STREAM_POLL_RD) && rx_count() > 0) {
        ret |= MP_STREAM_POLL_RD;
    }
    if (poll_flags & MP_STREAM_POLL_WR) {
        ret |= MP_STREAM_POLL_WR;
    }
    return ret;
}

void __wrap_mp_hal_delay_ms(mp_uint_t ms) {
    mp_uint_t start = mp_hal_ticks_ms();
    mp_uint_t elapsed;
    while ((elapsed = mp_hal_ticks_ms() - start) < ms) {
        mp_event_wait_ms(ms - elapsed);
    }
}

void __wrap_mp_hal_delay_us(mp_uint_t us) {
    if (us >= 2000) {
        __wrap_mp_hal_delay_ms(us / 1000);
        us %= 1000;
    }
    mp_uint_t start = mp_hal_ticks_us();
    while (mp_hal_ticks_us() - start < us) {
    }
}

uint32_t devkit_random_seed(void) {
    // Varies per boot: the device's unique id and the instructions run before the first call.
    char uid[24];
    uint32_t seed = mp_hal_ticks_us() * 2654435761u;
    if (sh_arg("uid", uid, sizeof(uid)) != NULL) {
        for (const char *p = uid; *p; p++) {
            seed = (seed ^ (uint8_t)*p) * 16777619u;
        }
    }
    return seed ^ (*(volatile uint32_t *)0xE000E018);  // SysTick's current value
}

// While the REPL has the board, its watchdog is frozen, as a debug build freezes it while a
// debugger halts the core (DBGMCU): interrupting the application with mpremote must not reset
// the board a few seconds later. The application arms it again when main.py starts it.
static void watchdog_freeze(void) {
    *(volatile uint32_t *)0x40008C00 = 0x1ACCE551u;  // LOCK: unlock
    *(volatile uint32_t *)0x40008008 = 0;            // CTRL: no interrupt, no reset
    *(volatile uint32_t *)0x4000800C = 1;            // INTCLR
    *(volatile uint32_t *)0x40008C00 = 0;
}

static bool has_frozen(const char *name) {
    int type;
    void *data;
    return mp_find_frozen_module(name, &type, &data) == MP_IMPORT_STAT_FILE;
}

// ---- the boot sequence
int __wrap_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    board_init();
    mp_cstack_init_with_sp_here(32 * 1024);
    gc_init(gc_heap, (char *)gc_heap + sizeof(gc_heap));
    bool booted = false;

    for (;;) {
        mp_pystack_init(pystack, &pystack[MICROPY_BOARD_PYSTACK_WORDS]);
        mp_init();
        readline_init0();
        devkit_net_init();
        mp_obj_list_append(mp_sys_path, MP_OBJ_NEW_QSTR(MP_QSTR__slash_lib));

        pyexec_frozen_module("_boot.py", false);
        if (!booted) {
            sh_write0("{\"event\": \"ready\"}\n");  // once per reset, not per soft reset
            booted = true;
        }
        int ret = pyexec_file_if_exists("boot.py");
        if (!(ret & PYEXEC_FORCED_EXIT) && pyexec_mode_kind == PYEXEC_MODE_FRIENDLY_REPL && ret != 0) {
            // main.py on the flash, else the application frozen into an EdgeCall image (_main.py).
            if (mp_import_stat("main.py") == MP_IMPORT_STAT_FILE || !has_frozen("_main.py")) {
                ret = pyexec_file_if_exists("main.py");
            } else {
                ret = pyexec_frozen_module("_main.py", true);
            }
        }
        if (!(ret & PYEXEC_FORCED_EXIT)) {
            watchdog_freeze();
            for (;;) {
                if (pyexec_mode_kind == PYEXEC_MODE_RAW_REPL) {
                    if (pyexec_raw_repl() != 0) {
                        break;
                    }
                } else {
                    if (pyexec_friendly_repl() != 0) {
                        break;
                    }
                }
            }
        }
        mp_printf(&mp_plat_print, "MPY: soft reboot\n");
        gc_sweep_all();
        mp_deinit();
    }
    return 0;
}
