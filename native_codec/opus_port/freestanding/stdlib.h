/* stdlib.h — the part of C99 §7.20 that libopus uses, for freestanding wasm32 builds (no libc
 * headers there): abs(). malloc and free are not needed: custom_support.h replaces them (no heap). */
#ifndef EDGECALL_FREESTANDING_STDLIB_H
#define EDGECALL_FREESTANDING_STDLIB_H

#include <stddef.h>

static inline int abs(int x)
{
    return x < 0 ? -x : x;
}

#endif
