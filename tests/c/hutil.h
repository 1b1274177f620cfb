/* hutil.h — what every C harness program (vectors.c, netstack.c, video.c) needs and no target's
 * libc is there to give: the FNV-1a 64 digest they print, string building for their output lines,
 * and the failure count with its "FAIL" and "<name> <count> <digest>" lines. Header-only, so no
 * build rule changes per target; each program is one translation unit including it once. */
#ifndef HUTIL_H
#define HUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "tio.h"

typedef struct {
    uint64_t h;
    uint32_t n;
} digest;

static inline void dg_init(digest *d)
{
    d->h = 0xcbf29ce484222325ull;
    d->n = 0;
}

static inline void dg_bytes(digest *d, const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        d->h ^= p[i];
        d->h *= 0x100000001b3ull;
    }
}

static inline void dg_u32(digest *d, uint32_t v)
{
    uint8_t b[4];
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
    dg_bytes(d, b, 4);
}

/* 16-bit samples as little-endian bytes, whatever the target's byte order. */
static inline void dg_pcm(digest *d, const int16_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        uint8_t b[2];
        b[0] = (uint8_t)((uint16_t)s[i] & 0xffu);
        b[1] = (uint8_t)((uint16_t)s[i] >> 8);
        dg_bytes(d, b, 2);
    }
}

static inline size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}

/* Appends src to the NUL-terminated dst, never past cap bytes. */
static inline void scat(char *dst, size_t cap, const char *src)
{
    size_t n = slen(dst), i = 0;
    while (src[i] != '\0' && n + 1 < cap) {
        dst[n++] = src[i++];
    }
    dst[n] = '\0';
}

static inline void fmt_u(char *dst, size_t cap, uint32_t v)
{
    char tmp[12], out[12];
    int i = 0, j = 0;
    do {
        tmp[i++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0u);
    while (i > 0) {
        out[j++] = tmp[--i];
    }
    out[j] = '\0';
    scat(dst, cap, out);
}

static inline void fmt_i(char *dst, size_t cap, int32_t v)
{
    if (v < 0) {
        scat(dst, cap, "-");
        fmt_u(dst, cap, 0u - (uint32_t)v);
    } else {
        fmt_u(dst, cap, (uint32_t)v);
    }
}

static inline void fmt_hex64(char *dst, size_t cap, uint64_t v)
{
    char out[17];
    int i;
    for (i = 15; i >= 0; i--) {
        out[i] = "0123456789abcdef"[v & 0xfu];
        v >>= 4;
    }
    out[16] = '\0';
    scat(dst, cap, out);
}

static int failures; /* checks that failed; the program's exit status is non-zero if any did */

static inline void fail(const char *what)
{
    tio_puts("FAIL ");
    tio_puts(what);
    tio_puts("\n");
    failures++;
}

/* One result line: "<name> <count> <fnv1a-64>\n". */
static inline void report(const char *name, const digest *d)
{
    char line[112] = "";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " ");
    fmt_u(line, sizeof line, d->n);
    scat(line, sizeof line, " ");
    fmt_hex64(line, sizeof line, d->h);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

/* Whether the command line s starts with the word w (then *rest: what follows, blanks skipped). */
static inline int word_eq(const char *s, const char *w, const char **rest)
{
    size_t i = 0;
    while (w[i] != '\0' && s[i] == w[i]) {
        i++;
    }
    if (w[i] != '\0' || (s[i] != '\0' && s[i] != ' ')) {
        return 0;
    }
    while (s[i] == ' ') {
        i++;
    }
    *rest = s + i;
    return 1;
}

/* Instruction (or cycle) counts of a benchmarked operation: frames, sum, worst frame; stack is
 * free for a harness that also measures stack depth. */
typedef struct {
    uint32_t frames, total, worst, stack;
} meter;

static inline void meter_add(meter *m, uint32_t t0, uint32_t t1)
{
    uint32_t d = t1 - t0;
    m->frames++;
    m->total += d;
    if (d > m->worst) {
        m->worst = d;
    }
}

#endif
