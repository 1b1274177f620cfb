/* tio_selftest.c — self test of a tio port (tio.h): the same source on host, Cortex-M under
 * QEMU and wasm32, so the outputs can be compared as text.
 *
 * Command line: PATH [STATUS]. Reads PATH (relative to the project root) in chunks and prints
 *     # tio_selftest on <target>
 *     args <the command line as the port delivers it>
 *     file <PATH> bytes=<length> fnv1a32=<FNV-1a 32-bit digest, 8 hex digits>
 *     calib expected=<E> measured=<M> empty=<Z>
 * then ends with tio_exit(STATUS) when STATUS is given, else returns 0 from tio_main (both paths
 * must reach the target's exit status); 2 on a usage error, 3 when PATH cannot be opened or read.
 * The calib line times a loop of exactly E instructions on Arm (a `subs`/`bne` pair per
 * iteration) between two tio_instructions() calls; Z is the reading of two calls back to back.
 * Only the "args" and "file" lines are target-independent; M and Z are 0 without a counter. */
#include "tio.h"

#define LOOP_ITERATIONS 1000000u
#define FNV32_OFFSET 0x811c9dc5u
#define FNV32_PRIME 0x01000193u

int tio_main(void);

static void put_u32(uint32_t v)
{
    char buf[11];
    int i = 10;
    buf[i] = '\0';
    do {
        buf[--i] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    tio_puts(buf + i);
}

static void put_hex32(uint32_t v)
{
    char buf[9];
    int i;
    for (i = 7; i >= 0; i--) {
        buf[i] = "0123456789abcdef"[v & 0xfu];
        v >>= 4;
    }
    buf[8] = '\0';
    tio_puts(buf);
}

/* Runs exactly 2 * n instructions on Arm (n >= 1). */
static void known_loop(uint32_t n)
{
#if defined(__arm__) && defined(__thumb__)
    __asm__ volatile(".syntax unified\n"
                     "1:\n\t"
                     "subs %0, %0, #1\n\t"
                     "bne 1b\n\t"
                     ".syntax divided"
                     : "+l"(n)
                     :
                     : "cc");
#else
    volatile uint32_t i;
    for (i = 0; i < n; i++) {
    }
#endif
}

static int parse_status(const char *s, int *status)
{
    int v = 0;
    if (*s == '\0') {
        return -1;
    }
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || v > 1000) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    *status = v;
    return 0;
}

int tio_main(void)
{
    const char *cmd = tio_cmdline();
    char path[160], word[16];
    unsigned char buf[256];
    size_t i = 0, j = 0;
    uint32_t bytes = 0, hash = FNV32_OFFSET, t0, t1;
    int status = 0, h;
    long r;

    tio_puts("# tio_selftest on ");
    tio_puts(tio_target());
    tio_puts("\nargs ");
    tio_puts(cmd);
    tio_puts("\n");

    while (cmd[i] != '\0' && cmd[i] != ' ' && i + 1 < sizeof path) {
        path[i] = cmd[i];
        i++;
    }
    path[i] = '\0';
    while (cmd[i] == ' ') {
        i++;
    }
    while (cmd[i] != '\0' && cmd[i] != ' ' && j + 1 < sizeof word) {
        word[j++] = cmd[i++];
    }
    word[j] = '\0';
    if (path[0] == '\0' || (cmd[i] != '\0') || (j > 0 && parse_status(word, &status) != 0)) {
        tio_puts("usage: tio_selftest PATH [STATUS]\n");
        return 2;
    }

    h = tio_open(path);
    if (h < 0) {
        tio_puts("error: cannot open ");
        tio_puts(path);
        tio_puts("\n");
        return 3;
    }
    while ((r = tio_read(h, buf, sizeof buf)) > 0) {
        long k;
        for (k = 0; k < r; k++) {
            hash = (hash ^ buf[k]) * FNV32_PRIME;
        }
        bytes += (uint32_t)r;
    }
    tio_close(h);
    if (r < 0) {
        tio_puts("error: cannot read ");
        tio_puts(path);
        tio_puts("\n");
        return 3;
    }
    tio_puts("file ");
    tio_puts(path);
    tio_puts(" bytes=");
    put_u32(bytes);
    tio_puts(" fnv1a32=");
    put_hex32(hash);
    tio_puts("\n");

    t0 = tio_instructions();
    known_loop(LOOP_ITERATIONS);
    t1 = tio_instructions();
    tio_puts("calib expected=");
    put_u32(2u * LOOP_ITERATIONS);
    tio_puts(" measured=");
    put_u32(t1 - t0);
    t0 = tio_instructions();
    t1 = tio_instructions();
    tio_puts(" empty=");
    put_u32(t1 - t0);
    tio_puts("\n");
    if (j > 0) {
        tio_exit(status);
    }
    return 0;
}
