// clock_devkit.c — the devkit board's clock: ticks_ms and ticks_us read a hardware counter (the
// CMSDK APB timer TIMER0 at 0x40000000, free-running down from 0xFFFFFFFF at the 25 MHz system
// clock, ARM DDI 0479 "Cortex-M System Design Kit", APB timer) instead of counting SysTick
// interrupts. Under QEMU a SysTick interrupt is lost whenever the host keeps the CPU's thread
// away past the next tick, so a count of them runs slow (measured here with the host's two cores
// busy: 123 ms lost in 10.5 s, 1.2 %), while a counter that is read is always exact. The audio
// and camera devices (audio.c, camera.c) pace their frames on this clock, and time.time() is the
// time at power-on plus it (time_devkit.c), so it stays on the host's wall clock.
//
// The port's ticks.c (its SysTick count, kept running: it wakes WFI every millisecond) is
// replaced through the linker's --wrap (clock.part.mk). TIMER0 wraps every 2^32 cycles (171.8 s):
// the SysTick count, which only ever falls behind, tells how many wraps a long gap between two
// reads hid. Under QEMU -icount shift=0 one counter cycle is 40 instructions, as before.
#include <stdint.h>

#define TIMER0_CTRL   (*(volatile uint32_t *)0x40000000)
#define TIMER0_VALUE  (*(volatile uint32_t *)0x40000004)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008)
#define TIMER_CTRL_ENABLE 1u
#define CYCLES_PER_MS 25000u
#define CYCLES_PER_US 25u
#define COARSE_SLACK_MS 2u  // a SysTick count read may be up to a tick ahead of a counter read

void __real_ticks_init(void);
uintptr_t __real_ticks_ms(void);

static uint64_t total_cycles;  // since ticks_init
static uint32_t last_value;    // TIMER0 at the last read
static uint32_t last_coarse;   // the SysTick millisecond count at the last read

void __wrap_ticks_init(void) {
    __real_ticks_init();
    TIMER0_CTRL = 0;
    TIMER0_RELOAD = 0xFFFFFFFFu;
    TIMER0_VALUE = 0xFFFFFFFFu;
    TIMER0_CTRL = TIMER_CTRL_ENABLE;
    last_value = 0xFFFFFFFFu;
    last_coarse = (uint32_t)__real_ticks_ms();
}

// Cycles since power-on. Called from thread mode and from interrupts (lwIP at PendSV): the
// update runs with interrupts masked.
static uint64_t devkit_cycles(void) {
    uint32_t primask;
    __asm volatile ("mrs %0, primask; cpsid i" : "=r"(primask) :: "memory");
    uint32_t value = TIMER0_VALUE;
    uint32_t coarse = (uint32_t)__real_ticks_ms();
    uint64_t delta = (uint32_t)(last_value - value);  // the timer counts down
    uint64_t at_least = (uint64_t)(uint32_t)(coarse - last_coarse);
    at_least = at_least > COARSE_SLACK_MS ? (at_least - COARSE_SLACK_MS) * CYCLES_PER_MS : 0;
    while (delta < at_least) {
        delta += (uint64_t)1 << 32;  // wraps hidden by a long gap between reads
    }
    total_cycles += delta;
    last_value = value;
    last_coarse = coarse;
    uint64_t now = total_cycles;
    __asm volatile ("msr primask, %0" :: "r"(primask) : "memory");
    return now;
}

uintptr_t __wrap_ticks_ms(void) {
    return (uintptr_t)(uint32_t)(devkit_cycles() / CYCLES_PER_MS);
}

uintptr_t __wrap_ticks_us(void) {
    return (uintptr_t)(uint32_t)(devkit_cycles() / CYCLES_PER_US);
}
