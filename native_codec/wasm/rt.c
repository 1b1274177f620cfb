/* rt.c — the freestanding runtime of the wasm32 library build of native_codec
 * (build/wasm/native_codec.wasm, loaded by the virtual devkit with no imports).
 *
 * - memcpy, memmove, memset, memcmp, strlen (C99 §7.21): the compiler emits calls to them for
 *   struct copies and initialisers; there is no libc on wasm32.
 * - ec_wasm_alloc(size) / ec_wasm_reset(): a bump allocator in linear memory above __heap_base
 *   (the end of static data and the stack as laid out by wasm-ld), 16-byte aligned, growing the
 *   memory as needed. The host allocates codec states and buffers with it (never at fixed
 *   addresses) and frees everything at once with ec_wasm_reset(). */
#include <stddef.h>
#include <stdint.h>

/* Keep clang from turning these loops into calls to themselves. */
#define RT_NO_LIBCALLS __attribute__((no_builtin))

#define WASM_PAGE 65536u
#define ALLOC_ALIGN 16u

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
void *ec_wasm_alloc(size_t size);
void ec_wasm_reset(void);

extern unsigned char __heap_base;

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

static uintptr_t heap_top; /* 0: nothing allocated since the last reset */

/* Returns size bytes, 16-byte aligned and not cleared, or NULL when memory cannot grow. */
void *ec_wasm_alloc(size_t size)
{
    uintptr_t base = heap_top != 0 ? heap_top : (uintptr_t)&__heap_base;
    uintptr_t end;
    size_t pages_needed, pages_now;
    base = (base + (ALLOC_ALIGN - 1u)) & ~(uintptr_t)(ALLOC_ALIGN - 1u);
    if (base == 0 || size > UINTPTR_MAX - base) {
        return NULL;
    }
    end = base + size;
    pages_needed = (size_t)(end / WASM_PAGE) + ((end % WASM_PAGE) != 0u ? 1u : 0u);
    pages_now = __builtin_wasm_memory_size(0);
    if (pages_needed > pages_now && __builtin_wasm_memory_grow(0, pages_needed - pages_now) == SIZE_MAX) {
        return NULL;
    }
    heap_top = end;
    return (void *)base;
}

/* Forgets every allocation: the next ec_wasm_alloc starts again at __heap_base. */
void ec_wasm_reset(void)
{
    heap_top = 0;
}
