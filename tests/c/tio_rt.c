/* tio_rt.c — the C library string functions a freestanding build needs (C99 §7.21.2.1 memcpy,
 * §7.21.2.2 memmove, §7.21.4.1 memcmp, §7.21.6.1 memset, §7.21.6.3 strlen): compilers emit calls
 * to them for struct copies, array initialisers and loops they recognise (GCC turns a hand-written
 * string length loop into strlen), even when the code never names them. Linked into the test
 * harness on Cortex-M (no libc) and wasm32. Simple byte loops: correct for any alignment, also on
 * Cortex-M0. */
#include <stddef.h>

/* Keep the compiler from turning these loops into calls to themselves. */
#if defined(__clang__)
#define RT_NO_LIBCALLS __attribute__((no_builtin))
#elif defined(__GNUC__)
#define RT_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define RT_NO_LIBCALLS
#endif

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

RT_NO_LIBCALLS void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n-- > 0) {
        *d++ = *s++;
    }
    return dst;
}

RT_NO_LIBCALLS void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n-- > 0) {
            *d++ = *s++;
        }
    } else if (d > s) {
        d += n;
        s += n;
        while (n-- > 0) {
            *--d = *--s;
        }
    }
    return dst;
}

RT_NO_LIBCALLS void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n-- > 0) {
        *d++ = (unsigned char)c;
    }
    return dst;
}

RT_NO_LIBCALLS int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n > 0; n--, p++, q++) {
        if (*p != *q) {
            return *p < *q ? -1 : 1;
        }
    }
    return 0;
}

RT_NO_LIBCALLS size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    return n;
}
