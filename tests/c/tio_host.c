/* tio_host.c — the tio port (tio.h) for the host: stdio. main() joins argv[1..] with spaces into
 * the command line and runs the harness's tio_main(); files are opened relative to the current
 * directory (run from the project root). No instruction counter: tio_instructions() is 0.
 * The test suite builds it with -fsanitize=address,undefined. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tio.h"

#define MAX_FILES 16

int tio_main(void);

static FILE *files[MAX_FILES];
static char cmdline[4096];

int tio_open(const char *path)
{
    int h;
    for (h = 0; h < MAX_FILES; h++) {
        if (files[h] == NULL) {
            files[h] = fopen(path, "rb");
            return files[h] != NULL ? h : -1;
        }
    }
    return -1;
}

long tio_read(int handle, void *buf, size_t n)
{
    size_t got;
    if (handle < 0 || handle >= MAX_FILES || files[handle] == NULL) {
        return -1;
    }
    got = fread(buf, 1, n, files[handle]);
    if (got < n && ferror(files[handle])) {
        return -1;
    }
    return (long)got;
}

void tio_close(int handle)
{
    if (handle >= 0 && handle < MAX_FILES && files[handle] != NULL) {
        fclose(files[handle]);
        files[handle] = NULL;
    }
}

void tio_puts(const char *s)
{
    fputs(s, stdout);
}

void tio_exit(int status)
{
    fflush(stdout);
    exit(status);
}

uint32_t tio_instructions(void)
{
    return 0;
}

const char *tio_cmdline(void)
{
    return cmdline;
}

const char *tio_target(void)
{
    return "host";
}

int main(int argc, char **argv)
{
    size_t len = 0;
    int i;
    for (i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (len + n + 2 > sizeof cmdline) {
            fputs("tio_host: command line too long\n", stderr);
            return 2;
        }
        if (i > 1) {
            cmdline[len++] = ' ';
        }
        memcpy(cmdline + len, argv[i], n);
        len += n;
    }
    cmdline[len] = '\0';
    i = tio_main();
    fflush(stdout);
    return i;
}
