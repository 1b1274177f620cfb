/* startup_cortexm.c — reset and exception vectors for the edgecall-qemu boards (ARMv6-M and
 * ARMv7-M, Thumb): the vector table, a reset handler that copies .data from its load address and
 * zeroes .bss before calling main(), and a default handler for every other exception.
 *
 * The program runs on the process stack (PSP, from __thread_stack_top__ down), exception handlers
 * on the main stack (MSP, the 512 bytes above it), so a handler still has a stack when the
 * program's has overflowed. These images only run under QEMU with semihosting enabled, so an
 * unexpected exception (a fault, a stack overflow into unmapped memory on the microbit) is
 * reported on the semihosting console and ends QEMU with exit status 128 + the exception number
 * (HardFault: 131) instead of hanging.
 * A program handles SysTick by defining SysTick_Handler. No libc; symbols come from the linker
 * script (ldscripts/cortexm_sections.ld). */
#include <stdint.h>

extern uint32_t __data_load__[], __data_start__[], __data_end__[];
extern uint32_t __bss_start__[], __bss_end__[];
extern uint32_t __stack_top__[], __thread_stack_top__[];

int main(void);
void Reset_Handler(void);
void reset_c(void);
void Default_Handler(void);

void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

#define SH_SYS_WRITE0 0x04
#define SH_SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

/* Switches thread mode to the process stack (CONTROL.SPSEL = 1), then continues in C. */
__attribute__((naked)) void Reset_Handler(void)
{
    __asm__ volatile("ldr r0, =__thread_stack_top__\n\t"
                     "msr psp, r0\n\t"
                     "movs r0, #2\n\t"
                     "msr control, r0\n\t"
                     "isb\n\t"
                     "b reset_c\n\t"
                     ".ltorg");
}

/* Plain loops: GCC must not turn them into memcpy/memset calls the program may not provide. */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void reset_c(void)
{
    uint32_t *src = __data_load__;
    uint32_t *dst = __data_start__;
    if (src != dst) {
        while (dst < __data_end__) {
            *dst++ = *src++;
        }
    }
    for (dst = __bss_start__; dst < __bss_end__; dst++) {
        *dst = 0;
    }
    {
        int status = main();
        uint32_t block[2];
        block[0] = ADP_STOPPED_APPLICATION_EXIT;
        block[1] = (uint32_t)status;
        semihost(SH_SYS_EXIT_EXTENDED, block);
    }
    for (;;) {
    }
}

void Default_Handler(void)
{
    uint32_t ipsr, block[2];
    char msg[] = "\n*** unhandled exception 000 (see startup_cortexm.c)\n";
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    ipsr &= 0x1ffu;
    msg[25] = (char)('0' + ipsr / 100u);
    msg[26] = (char)('0' + ipsr / 10u % 10u);
    msg[27] = (char)('0' + ipsr % 10u);
    semihost(SH_SYS_WRITE0, msg);
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = 128u + (ipsr & 0x7fu);
    semihost(SH_SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

typedef void (*vector)(void);

/* Cortex-M system exceptions 0..15; external interrupts are not used by these images. */
__attribute__((section(".isr_vector"), used)) const vector cortexm_vectors[16] = {
    (vector)(uintptr_t)__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    0,
    0,
    0,
    0,
    SVC_Handler,
    DebugMon_Handler,
    0,
    PendSV_Handler,
    SysTick_Handler,
};
