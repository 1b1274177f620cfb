// edgecall_config.h — the EdgeCall devkit's MicroPython configuration (MP_CONFIGFILE): the qemu
// port's own mpconfigport.h, then what a board of ours adds to it. Included by py/mpconfig.h.
#include <mpconfigport.h>

// asyncio, select.poll on stdin, the standard library a board has.
#undef MICROPY_PY_ASYNCIO
#define MICROPY_PY_ASYNCIO          (1)
#define MICROPY_PY_SELECT           (1)
#define MICROPY_PY_OS_UNAME         (1)
#define MICROPY_PY_SYS_STDIO_BUFFER (1)
#define MICROPY_PY_TIME_GMTIME_LOCALTIME_MKTIME (1)
#define MICROPY_PY_TIME_TIME_TIME_NS (1)
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC (devkit_random_seed())
#define MICROPY_HELPER_REPL         (1)
#define MICROPY_KBD_EXCEPTION       (1)
#define MICROPY_ENABLE_SCHEDULER    (1)
#define MICROPY_SCHEDULER_DEPTH     (8)
// The bytecode interpreter dispatches through a table of labels (GCC's computed goto), as the
// stm32 and rp2 ports build it: fewer instructions per opcode than the switch.
#define MICROPY_OPT_COMPUTED_GOTO   (1)
// Python function frames on a stack of their own (board.c's pystack) instead of the GC heap: a
// frame larger than 11 words (most methods) was allocated and freed on the heap at every call, and
// gc_alloc's first-fit scan through a fragmented heap made that the devkit's costliest routine.
#define MICROPY_ENABLE_PYSTACK      (1)
#define MICROPY_BOARD_PYSTACK_WORDS (8192)

// machine: the board's reset, bootloader, reset cause, unique id, idle, watchdog (CMSDK APB
// watchdog of the mps2 FPGA image), in machine_devkit.c.
#undef MICROPY_PY_MACHINE_INCLUDEFILE
#define MICROPY_PY_MACHINE_INCLUDEFILE "machine_devkit.c"
#define MICROPY_PY_MACHINE_BOOTLOADER (1)
#define MICROPY_PY_MACHINE_BARE_METAL_FUNCS (1)
#define MICROPY_PY_MACHINE_WDT      (1)
#define MICROPY_PY_MACHINE_WDT_INCLUDEFILE "machine_devkit_wdt.c"

// Idle: sleep until the wait's end or the next interrupt (the UART, the Ethernet), tickless
// (board.c, devkit_idle), so an idle devkit costs its host almost nothing. The SysTick fires only
// when asked (devkit_tick_within), not every millisecond.
#define MICROPY_INTERNAL_WFE(TIMEOUT_MS) devkit_idle(TIMEOUT_MS)

// The board: semihosting, the flash block device, the devkit module.
#define MICROPY_HW_BOARD_EDGECALL   (1)
#define MICROPY_BOARD_FLASH_BYTES   (1024 * 1024)
#define MICROPY_BOARD_FLASH_BLOCK   (4096)
#define MICROPY_BOARD_CONSOLE_RX    (2048)

#ifndef __ASSEMBLER__
#include <stdint.h>
uint32_t devkit_random_seed(void);
void devkit_idle(intptr_t timeout_ms);
void devkit_tick_within(uint32_t ms);
#endif

// time.time() and file times: the host's time at power-on plus the board's ticks.
#define MICROPY_PY_TIME_INCLUDEFILE "time_devkit.c"
#define MICROPY_EPOCH_IS_1970       (1)

// The board's Ethernet (LAN9118) with lwIP: net_config.h when present.
#if defined(__has_include)
#if __has_include("net_config.h")
#include "net_config.h"
#endif
#endif

// FAT (vfs.VfsFat on RAM disks and other block devices), as ports/rp2 configures it.
#define MICROPY_FATFS_ENABLE_LFN       (1)
#define MICROPY_FATFS_LFN_CODE_PAGE    437
#define MICROPY_FATFS_RPATH            (2)
#define MICROPY_FATFS_MAX_SS           (4096)
