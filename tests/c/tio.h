/* tio.h — the tiny I/O port the C test harness runs on, one implementation per target:
 *   tio_host.c     the host (stdio), built with ASan/UBSan
 *   tio_semihost.c Cortex-M under QEMU (ARM semihosting, no libc), with SysTick for tick counts
 *   tio_wasm.c     wasm32 under Node (functions imported from the JS runner)
 * The harness itself (vectors.c) is the same source on every target and prints one line per
 * vector, so the outputs of all targets can be compared as text. */
#ifndef TIO_H
#define TIO_H

#include <stddef.h>
#include <stdint.h>

/* The program: each harness program defines tio_main; every port's entry point (main, the
 * Cortex-M reset handler, the wasm export) calls it and exits with the status it returns. */
int tio_main(void);

/* Opens a file for binary reading (path relative to the project root); returns a handle >= 0 or
 * a negative number. */
int tio_open(const char *path);
/* Reads up to n bytes; returns the count read (0 at end of file) or a negative number. */
long tio_read(int handle, void *buf, size_t n);
void tio_close(int handle);
/* Writes a NUL-terminated string to standard output. */
void tio_puts(const char *s);
/* Ends the program with this exit status. */
void tio_exit(int status);
/* A monotonic counter for cost measurement. On Cortex-M under QEMU with -icount shift=0 it counts
 * executed instructions (SysTick on the 25 MHz processor clock: one tick is 40 instructions; the
 * port multiplies). Returns 0 where no such counter exists (host, wasm). */
uint32_t tio_instructions(void);
/* The program's arguments as one space-separated string ("" when none): host argv[1..], QEMU's
 * -append (semihosting SYS_GET_CMDLINE, program name stripped), or the wasm runner's argv. */
const char *tio_cmdline(void);
/* Target name printed in the harness header: "host", "cortex-m0", "cortex-m3", "cortex-m4", "wasm32". */
const char *tio_target(void);

#endif
