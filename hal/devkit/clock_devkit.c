// clock_devkit.c — the devkit board's clock: ticks_ms and ticks_us read a hardware counter
// instead of counting SysTick interrupts. Under QEMU a SysTick interrupt is lost whenever the
// host keeps the CPU's thread away past the next tick, so a count of them runs slow: on this
// machine with its two cores busy, 14 s behind after a few minutes of calls, enough for a call's
// speaker frames to be stamped outside the call. A counter that is read is always right.
//
// The counter: timer 1 of the CMSDK APB dual timer (0x40002000, ARM DDI 0479 "Cortex-M System
// Design Kit", dual-input timers) in free-running 32-bit mode with the /16 prescaler: 1.5625 MHz
// from the 25 MHz system clock, one count every 0.64 us, counting down and wrapping every
// 2^32 counts (45.8 min). Reads are accumulated into a 64-bit count, so the clock never wraps
// as long as something reads it within 45 minutes (the idle loop does every millisecond).
// The audio and camera devices (audio.c, camera.c) pace their frames on this clock, and
// time.time() is the time at power-on plus it (time_devkit.c), so it stays on the host's.
//
// The port's ticks.c (its SysTick count, kept running: it wakes WFI every millisecond) is
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

static uint64_t total;       // counts since ticks_init
static uint32_t last_value;  // the counter at the last read

void __wrap_ticks_init(void) {
    __real_ticks_init();
    T1_CONTROL = 0;
    T1_LOAD = 0xFFFFFFFFu;  // also sets the value
    T1_CONTROL = CTRL_ENABLE | CTRL_PRESCALE_16 | CTRL_SIZE_32;  // free-running, no interrupt
    last_value = T1_VALUE;
    total = 0;
}

// Counts since power-on. Called from thread mode and from interrupts (lwIP at PendSV): the
// update runs with interrupts masked.
static uint64_t devkit_counts(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uint32_t value = T1_VALUE;
    total += (uint32_t)(last_value - value);  // counting down; one wrap between reads is fine
    last_value = value;
    uint64_t now = total;
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
    return now;
}

uintptr_t __wrap_ticks_ms(void) {
    return (uintptr_t)(uint32_t)(devkit_counts() * 2u / COUNTS_PER_2MS);
}

uintptr_t __wrap_ticks_us(void) {
    return (uintptr_t)(uint32_t)(devkit_counts() * 16u / COUNTS_PER_16US);
}
