/* fuzz_red.c — libFuzzer target for the RFC 2198 RED payload parser (red.c): it never reads
 * outside the input, its blocks tile the payload, and writing them back gives the input again. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ec_red.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_red_block b[EC_RED_MAX_BLOCKS];
    const uint8_t *ptr[EC_RED_MAX_BLOCKS];
    static uint8_t out[65536];
    int n, i, m;
    size_t end;
    n = ec_red_parse(data, size, b, EC_RED_MAX_BLOCKS);
    if (n < 0) {
        return 0;
    }
    if (n < 1 || n > EC_RED_MAX_BLOCKS || !b[n - 1].primary) {
        __builtin_trap();
    }
    end = (size_t)4 * (size_t)(n - 1) + 1u;
    for (i = 0; i < n; i++) {
        if (b[i].off != end || (size_t)b[i].off + b[i].len > size) {
            __builtin_trap();
        }
        end += b[i].len;
        ptr[i] = data + b[i].off;
    }
    if (end != size) {
        __builtin_trap();
    }
    m = ec_red_write(b, ptr, (size_t)n, out, sizeof out);
    if (m != (int)size || memcmp(out, data, size) != 0) {
        __builtin_trap();
    }
    return 0;
}
