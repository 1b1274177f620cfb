// semihost.c — ARM semihosting (Arm "Semihosting for AArch32 and AArch64" v2.0: SYS_OPEN 0x01,
// SYS_CLOSE 0x02, SYS_WRITE 0x05, SYS_READ 0x06, SYS_SEEK 0x0A, SYS_FLEN 0x0C,
// SYS_WRITE0 0x04, SYS_GET_CMDLINE 0x15, SYS_EXIT_EXTENDED 0x20) for the devkit board under QEMU.
#include <string.h>

#include "semihost.h"

static uint32_t sh_call(uint32_t op, const void *arg) {
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ __volatile__ ("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int sh_open(const char *path, int mode) {
    uint32_t args[3] = { (uint32_t)path, (uint32_t)mode, (uint32_t)strlen(path) };
    return (int)sh_call(0x01, args);
}

int sh_open_append(const char *path) {
    int fd = sh_open(path, SH_MODE_AB);
    if (fd < 0) {
        return fd;
    }
    int len = sh_flen(fd);
    if (len < 0 || sh_seek(fd, (uint32_t)len) != 0) {
        sh_close(fd);
        return -1;
    }
    return fd;
}

int sh_close(int fd) {
    uint32_t args[1] = { (uint32_t)fd };
    return (int)sh_call(0x02, args);
}

int sh_read(int fd, void *buf, size_t len) {
    uint32_t args[3] = { (uint32_t)fd, (uint32_t)buf, (uint32_t)len };
    uint32_t left = sh_call(0x06, args);  // bytes NOT read
    return left > len ? -1 : (int)(len - left);
}

int sh_write(int fd, const void *buf, size_t len) {
    uint32_t args[3] = { (uint32_t)fd, (uint32_t)buf, (uint32_t)len };
    uint32_t left = sh_call(0x05, args);  // bytes NOT written
    return left > len ? -1 : (int)(len - left);
}

int sh_seek(int fd, uint32_t pos) {
    uint32_t args[2] = { (uint32_t)fd, pos };
    return (int)sh_call(0x0A, args);
}

int sh_flen(int fd) {
    uint32_t args[1] = { (uint32_t)fd };
    return (int)sh_call(0x0C, args);
}

int sh_cmdline(char *buf, size_t len) {
    uint32_t args[2] = { (uint32_t)buf, (uint32_t)len };
    if (len == 0) {
        return -1;
    }
    buf[0] = 0;
    int rc = (int)sh_call(0x15, args);
    buf[len - 1] = 0;
    return rc;
}

const char *sh_arg(const char *key, char *out, size_t out_len) {
    static char cmdline[256];
    static int loaded;
    if (!loaded) {
        if (sh_cmdline(cmdline, sizeof(cmdline)) != 0) {
            cmdline[0] = 0;
        }
        loaded = 1;
    }
    size_t klen = strlen(key);
    const char *p = cmdline;
    while (*p) {
        while (*p == ' ') {
            p++;
        }
        const char *end = p;
        while (*end && *end != ' ') {
            end++;
        }
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = (size_t)(end - p) - klen - 1;
            if (n + 1 > out_len) {
                return NULL;
            }
            memcpy(out, p + klen + 1, n);
            out[n] = 0;
            return out;
        }
        p = end;
    }
    return NULL;
}

void sh_write0(const char *text) {
    sh_call(0x04, text);
}

void sh_exit(int status) {
    // SYS_EXIT_EXTENDED: reason ADP_Stopped_ApplicationExit with the status as QEMU's exit code.
    uint32_t args[2] = { 0x20026, (uint32_t)status };
    sh_call(0x20, args);
    for (;;) {
    }
}
