/* tio_wasm.c — the tio port (tio.h) for wasm32: every primitive is a function imported from the
 * JS runner (module "tio"; tests/wasm/run_harness.mjs supplies them). Strings cross as
 * (pointer, length) into the exported linear memory; the runner calls the exported tio_main()
 * of the harness and exits with its result, or with the status passed to tio.exit (which throws
 * in JS, so it never returns here). No counter: tio_instructions() is 0. */
#include "tio.h"

#define TIO_IMPORT(name) __attribute__((import_module("tio"), import_name(name)))

TIO_IMPORT("open") int tio_js_open(const char *path, size_t len);
TIO_IMPORT("read") long tio_js_read(int handle, void *buf, size_t n);
TIO_IMPORT("close") void tio_js_close(int handle);
TIO_IMPORT("write") void tio_js_write(const char *s, size_t len);
TIO_IMPORT("exit") void tio_js_exit(int status);
/* Copies up to cap bytes of the command line to buf; returns its full length. */
TIO_IMPORT("cmdline") size_t tio_js_cmdline(char *buf, size_t cap);

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
    int h = tio_js_open(path, cstrlen(path));
    return h < 0 ? -1 : h;
}

long tio_read(int handle, void *buf, size_t n)
{
    return tio_js_read(handle, buf, n);
}

void tio_close(int handle)
{
    tio_js_close(handle);
}

void tio_puts(const char *s)
{
    tio_js_write(s, cstrlen(s));
}

void tio_exit(int status)
{
    tio_js_exit(status);
    __builtin_unreachable();
}

uint32_t tio_instructions(void)
{
    return 0;
}

const char *tio_cmdline(void)
{
    static char line[1024];
    static int fetched;
    if (!fetched) {
        size_t n = tio_js_cmdline(line, sizeof line - 1);
        line[n < sizeof line - 1 ? n : sizeof line - 1] = '\0';
        fetched = 1;
    }
    return line;
}

const char *tio_target(void)
{
    return "wasm32";
}
