/* fuzz_util.h — what the video fuzz targets share: an output buffer between canaries, and the
 * input read as a sequence of packets. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 32

/* A buffer of CANARY + cap + CANARY bytes; the caller's data goes at buf + CANARY. */
static inline void canaries_set(uint8_t *buf, size_t cap)
{
    memset(buf, 0x5a, CANARY + cap + CANARY);
}

/* Aborts when anything wrote outside buf[CANARY .. CANARY + cap). */
static inline void canaries_check(const uint8_t *buf, size_t cap)
{
    for (size_t i = 0; i < CANARY; i++) {
        if (buf[i] != 0x5a || buf[CANARY + cap + i] != 0x5a) {
            abort();
        }
    }
}

/* The next packet of the input: a 2-byte big-endian length, then that many bytes (the last one
 * cut at the end of the input). 0 when none is left. */
static inline int next_packet(const uint8_t *data, size_t size, size_t *pos, const uint8_t **pkt, size_t *len)
{
    size_t i = *pos, n;
    if (i + 2 > size) {
        return 0;
    }
    n = (size_t)data[i] << 8 | data[i + 1];
    i += 2;
    if (n > size - i) {
        n = size - i;
    }
    *pkt = data + i;
    *len = n;
    *pos = i + n;
    return 1;
}

#endif
