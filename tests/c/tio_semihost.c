/* tio_semihost.c — the tio port (tio.h) for Cortex-M: ARM semihosting through `bkpt 0xab`
 * (ARM "Semihosting for AArch32 and AArch64", v2.0), no libc.
 *
 * Under QEMU (`-semihosting-config enable=on,target=native`): files are opened on the host
 * relative to QEMU's working directory; output goes to the semihosting console; the exit status
 * of SYS_EXIT_EXTENDED becomes QEMU's exit code; the command line is the `arg=` list (first
 * word, the program name, stripped).
 *
 * tio_instructions(): SysTick runs on the processor clock (F_CPU, from the board definition) with
 * a full 24-bit reload; its interrupt counts the reloads, so the count is exact across wraps. Under
 * `-icount shift=0` one instruction takes 1 ns of virtual time, so one tick is 1e9 / F_CPU
 * instructions: 40 on mps2 (25 MHz), 62.5 on microbit (16 MHz). Built by the edgecall-qemu
 * platform (EDGECALL_QEMU defined) the port returns instructions; elsewhere (a real board with a
 * debug probe that serves semihosting) it returns processor cycles. Under an Arduino core
 * (real boards only) the core owns main() and SysTick: the harness runs from setup() and the
 * counter reads 0. */
#include "tio.h"

int tio_main(void);

#define SYS_OPEN 0x01
#define SYS_CLOSE 0x02
#define SYS_WRITE0 0x04
#define SYS_READ 0x06
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define OPEN_MODE_RB 1 /* fopen() mode "rb" */

static int semihost(int op, void *arg)
{
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static size_t cstrlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

int tio_open(const char *path)
{
    uint32_t block[3];
    int h;
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = OPEN_MODE_RB;
    block[2] = (uint32_t)cstrlen(path);
    h = semihost(SYS_OPEN, block);
    return h < 0 ? -1 : h;
}

long tio_read(int handle, void *buf, size_t n)
{
    uint32_t block[3];
    int left;
    if (handle < 0) {
        return -1;
    }
    block[0] = (uint32_t)handle;
    block[1] = (uint32_t)(uintptr_t)buf;
    block[2] = (uint32_t)n;
    left = semihost(SYS_READ, block); /* the number of bytes NOT read */
    if (left < 0 || (size_t)left > n) {
        return -1;
    }
    return (long)(n - (size_t)left);
}

void tio_close(int handle)
{
    uint32_t block[1];
    if (handle >= 0) {
        block[0] = (uint32_t)handle;
        semihost(SYS_CLOSE, block);
    }
}

void tio_puts(const char *s)
{
    semihost(SYS_WRITE0, (void *)(uintptr_t)s);
}

void tio_exit(int status)
{
    uint32_t block[2];
    block[0] = ADP_STOPPED_APPLICATION_EXIT;
    block[1] = (uint32_t)status;
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {
    }
}

const char *tio_cmdline(void)
{
    static char line[384];
    static int fetched;
    static const char *args = "";
    if (!fetched) {
        uint32_t block[2];
        fetched = 1;
        block[0] = (uint32_t)(uintptr_t)line;
        block[1] = sizeof line - 1;
        if (semihost(SYS_GET_CMDLINE, block) == 0 && block[1] < sizeof line) {
            const char *p = line;
            line[block[1]] = '\0';
            while (*p != '\0' && *p != ' ') { /* the program name */
                p++;
            }
            while (*p == ' ') {
                p++;
            }
            args = p;
        }
    }
    return args;
}

const char *tio_target(void)
{
#if defined(__ARM_ARCH_6M__)
    return "cortex-m0";
#elif defined(__ARM_ARCH_7EM__)
    return "cortex-m4";
#elif defined(__ARM_ARCH_7M__)
    return "cortex-m3";
#else
    return "cortex-m";
#endif
}

#if defined(ARDUINO)

uint32_t tio_instructions(void)
{
    return 0;
}

void setup(void);
void loop(void);

void setup(void)
{
    tio_exit(tio_main());
}

void loop(void)
{
}

#else /* bare metal: our SysTick, our main */

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define CSR_ENABLE_TICKINT_CPUCLK 7u
#define ICSR_PENDSTSET (1u << 26)
#define RELOAD 0x00ffffffu /* 2^24 ticks per period */

#if defined(EDGECALL_QEMU)
#if !defined(F_CPU) || (2000000000 % (F_CPU)) != 0
#error "tio_semihost.c: F_CPU must divide 2e9 (instructions per tick = 1e9 / F_CPU, in halves)"
#endif
#define HALF_INSTRUCTIONS_PER_TICK (2000000000u / (uint32_t)(F_CPU))
#else
#define HALF_INSTRUCTIONS_PER_TICK 2u /* real hardware: processor cycles */
#endif

static volatile uint32_t systick_wraps;
static int systick_running;

void SysTick_Handler(void);

void SysTick_Handler(void)
{
    systick_wraps++;
}

static void systick_start(void)
{
    SYST_CSR = 0;
    SYST_RVR = RELOAD;
    SYST_CVR = 0;
    SYST_CSR = CSR_ENABLE_TICKINT_CPUCLK;
    while (SYST_CVR == 0) { /* the counter loads RELOAD on its first tick */
    }
    systick_running = 1;
}

uint32_t tio_instructions(void)
{
    uint32_t wraps, now, pending;
    uint64_t ticks;
    if (!systick_running) {
        systick_start();
    }
    do {
        wraps = systick_wraps;
        now = SYST_CVR;
        pending = SCB_ICSR & ICSR_PENDSTSET;
    } while (wraps != systick_wraps);
    if (pending && now > RELOAD / 2u) { /* reloaded, interrupt not taken yet */
        wraps++;
    }
    ticks = ((uint64_t)wraps << 24) + (RELOAD - now);
    return (uint32_t)((ticks * HALF_INSTRUCTIONS_PER_TICK) >> 1);
}

int main(void);

int main(void)
{
    return tio_main();
}

#endif
