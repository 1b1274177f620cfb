/* string.h — the part of C99 §7.21 that libopus uses, for freestanding wasm32 builds (no libc
 * headers there). The functions are the runtime's (tests/c/tio_rt.c, native_codec/wasm/rt.c). */
#ifndef EDGECALL_FREESTANDING_STRING_H
#define EDGECALL_FREESTANDING_STRING_H

#include <stddef.h>

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
