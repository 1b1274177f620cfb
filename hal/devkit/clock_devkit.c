// clock_devkit.c — the devkit board's clock: ticks_ms and ticks_us read a hardware counter
// instead of counting SysTick interrupts. Under QEMU a SysTick interrupt is lost whenever the
// host keeps the CPU's thread away past the next tick, so a count of them runs slow: on this
// machine with its two cores busy, 14 s behind after a few minutes of calls, enough for a call's
// speaker frames to be stamped outside the call. A counter that is read is always right.
//
// The counter: timer 1 of the CMSDK APB dual timer (0x40002000, ARM DDI 0479 "Cortex-M System
// Design Kit", dual-input timers) in free-running 32-bit mode with the /16 prescaler: 1.5625 MHz
// from the 25 MHz system clock, one count every 0.64 us, counting down and wrapping every
// 2^32 counts (45.8 min). Reads are accumulated into the clock, so it never loses time as long
// as something reads it within 45 minutes (the idle loop does at least twice a second).
// The audio and camera devices (audio.c, camera.c) pace their frames on this clock, and
// time.time() is the time at power-on plus it (time_devkit.c), so it stays on the host's.
//
// The port's ticks.c (its SysTick count, kept running: it ends the idle's WFI, board.c) is
// replaced through the linker's --wrap (clock.part.mk).
#include <stdint.h>

#define DUAL_BASE 0x40002000u
#define T1_LOAD    (*(volatile uint32_t *)(DUAL_BASE + 0x00u))
#define T1_VALUE   (*(volatile uint32_t *)(DUAL_BASE + 0x04u))
#define T1_CONTROL (*(volatile uint32_t *)(DUAL_BASE + 0x08u))
#define CTRL_ENABLE (1u << 7)
#define CTRL_PRESCALE_16 (1u << 2)
#define CTRL_SIZE_32 (1u << 1)
// counts per time: 25 MHz / 16 = 1562.5 counts per ms = 3125 per 2 ms; 25 per 16 us
#define COUNTS_PER_2MS 3125u
#define COUNTS_PER_16US 25u

void __real_ticks_init(void);

static uint32_t last_value;  // the counter at the last read
// The clock in ms and us (wrapping as ticks_ms/ticks_us do) and what is left of the counts read
// so far below one ms (in units of counts * 2: 3125 a ms) and one us (counts * 16: 25 a us).
// Kept as the counts come in, so that a read divides only the counts since the last one in 32
// bits (the Cortex-M4's UDIV) instead of the whole 64-bit count (a libgcc __udivmoddi4 call, 2 %
// of an idle devkit's instructions): the same values as total * 2 / 3125 and total * 16 / 25.
static uint32_t ms_now, ms_rem;
static uint32_t us_now, us_rem;

void __wrap_ticks_init(void) {
    __real_ticks_init();
    T1_CONTROL = 0;
    T1_LOAD = 0xFFFFFFFFu;  // also sets the value
    T1_CONTROL = CTRL_ENABLE | CTRL_PRESCALE_16 | CTRL_SIZE_32;  // free-running, no interrupt
    last_value = T1_VALUE;
    ms_now = ms_rem = us_now = us_rem = 0;
}

// q = units / d, *rem = units % d, in 32 bits when units fits (always, unless a read comes
// minutes after the previous one).
static uint32_t div_units(uint64_t units, uint32_t d, uint32_t *rem) {
    if (units <= 0xFFFFFFFFu) {
        uint32_t u = (uint32_t)units;
        uint32_t q = u / d;
        *rem = u - q * d;
        return q;
    }
    uint64_t q = units / d;
    *rem = (uint32_t)(units - q * d);
    return (uint32_t)q;
}

// Takes the counts since the last read into the clock. Called from thread mode and from
// interrupts (lwIP at PendSV): the update runs with interrupts masked.
static void devkit_counts(uint32_t *ms, uint32_t *us) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uint32_t value = T1_VALUE;
    uint32_t delta = last_value - value;  // counting down; one wrap between reads is fine
    last_value = value;
    if (delta != 0) {
        ms_now += div_units((uint64_t)delta * 2u + ms_rem, COUNTS_PER_2MS, &ms_rem);
        us_now += div_units((uint64_t)delta * 16u + us_rem, COUNTS_PER_16US, &us_rem);
    }
    *ms = ms_now;
    *us = us_now;
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
}

uintptr_t __wrap_ticks_ms(void) {
    uint32_t ms, us;
    devkit_counts(&ms, &us);
    return (uintptr_t)ms;
}

uintptr_t __wrap_ticks_us(void) {
    uint32_t ms, us;
    devkit_counts(&ms, &us);
    return (uintptr_t)us;
}
