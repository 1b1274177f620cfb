/* rt.c — the freestanding runtime of the wasm32 library build of native_codec
 * (build/wasm/native_codec.wasm, loaded by the virtual devkit with no imports).
 *
 * - memcpy, memmove, memset, memcmp, strlen (C99 §7.21): the compiler emits calls to them for
 *   struct copies and initialisers; there is no libc on wasm32.
 * - ec_wasm_alloc(size) / ec_wasm_reset(): a bump allocator in linear memory above __heap_base
 *   (the end of static data and the stack as laid out by wasm-ld), 16-byte aligned, growing the
 *   memory as needed. The host allocates codec states and buffers with it (never at fixed
 *   addresses) and frees everything at once with ec_wasm_reset().
 * - ec_wasm_media_*: the media stack's configurations filled from plain int arguments and the
 *   sizes of its statistics, so that the host needs no copy of the struct layouts (ec_media.h);
 *   with EC_MEDIA_WITH_OPUS (libopus linked) also the Opus settings and counters.
 * - ec_wasm_jpeg_*, ec_wasm_rtpjpeg_*: the same for video (ec_jpeg.h, ec_rtpjpeg.h): encoder
 *   parameters from ints, a whole-frame encode of one packed plane, and the depacketizer's
 *   counters. */
#include <stddef.h>
#include <stdint.h>

#include "ec_jpeg.h"
#include "ec_media.h"
#include "ec_rtpjpeg.h"

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

/* ---- media stack glue (ec_media.h) ---- */

size_t ec_wasm_media_config_bytes(void);
size_t ec_wasm_media_tx_config(ec_media_tx_config *cfg, int codec, int ptime_ms, int max_ptime_ms, int red,
                               int fec_group, int nack, int cache_packets, int adapt, int g722_bitrate, int pt_red,
                               int pt_fec, int rtcp_interval_ms, uint32_t ssrc, uint32_t ts0, uint32_t seq0,
                               uint32_t fec_seq0, int pt_opus, int opus_bitrate, int opus_complexity,
                               int opus_loss_perc);
size_t ec_wasm_media_rx_config(ec_media_rx_config *cfg, int codec, int ptime_ms, int max_ptime_ms, int buffer_ms,
                               int fixed_delay_ms, int min_delay_ms, int max_delay_ms, int nack, int nack_retry_ms,
                               int fec_slots, int pt_red, int pt_fec, int rtcp_interval_ms, uint32_t ssrc,
                               int pt_opus);
size_t ec_wasm_media_tx_stats_words(void);
size_t ec_wasm_media_rx_stats_words(void);

/* Bytes of memory enough for either configuration. */
size_t ec_wasm_media_config_bytes(void)
{
    return sizeof(ec_media_tx_config) > sizeof(ec_media_rx_config) ? sizeof(ec_media_tx_config)
                                                                     : sizeof(ec_media_rx_config);
}

/* Fills *cfg; returns ec_media_tx_state_size(cfg): 0 when the configuration is not valid. */
size_t ec_wasm_media_tx_config(ec_media_tx_config *cfg, int codec, int ptime_ms, int max_ptime_ms, int red,
                               int fec_group, int nack, int cache_packets, int adapt, int g722_bitrate, int pt_red,
                               int pt_fec, int rtcp_interval_ms, uint32_t ssrc, uint32_t ts0, uint32_t seq0,
                               uint32_t fec_seq0, int pt_opus, int opus_bitrate, int opus_complexity,
                               int opus_loss_perc)
{
    if (cfg == NULL) {
        return 0;
    }
    cfg->codec = codec;
    cfg->ptime_ms = ptime_ms;
    cfg->max_ptime_ms = max_ptime_ms;
    cfg->red = red;
    cfg->fec_group = fec_group;
    cfg->nack = nack;
    cfg->cache_packets = cache_packets;
    cfg->adapt = adapt;
    cfg->g722_bitrate = g722_bitrate;
    cfg->pt_red = pt_red;
    cfg->pt_fec = pt_fec;
    cfg->rtcp_interval_ms = rtcp_interval_ms;
    cfg->ssrc = ssrc;
    cfg->ts0 = ts0;
    cfg->seq0 = (uint16_t)seq0;
    cfg->fec_seq0 = (uint16_t)fec_seq0;
    cfg->pt_opus = pt_opus; /* Opus only: 0 selects the defaults (ec_media.h) */
    cfg->opus_bitrate = opus_bitrate;
    cfg->opus_complexity = opus_complexity;
    cfg->opus_loss_perc = opus_loss_perc;
    return ec_media_tx_state_size(cfg);
}

/* Fills *cfg; returns ec_media_rx_state_size(cfg): 0 when the configuration is not valid. */
size_t ec_wasm_media_rx_config(ec_media_rx_config *cfg, int codec, int ptime_ms, int max_ptime_ms, int buffer_ms,
                               int fixed_delay_ms, int min_delay_ms, int max_delay_ms, int nack, int nack_retry_ms,
                               int fec_slots, int pt_red, int pt_fec, int rtcp_interval_ms, uint32_t ssrc,
                               int pt_opus)
{
    if (cfg == NULL) {
        return 0;
    }
    cfg->codec = codec;
    cfg->ptime_ms = ptime_ms;
    cfg->max_ptime_ms = max_ptime_ms;
    cfg->buffer_ms = buffer_ms;
    cfg->fixed_delay_ms = fixed_delay_ms;
    cfg->min_delay_ms = min_delay_ms;
    cfg->max_delay_ms = max_delay_ms;
    cfg->nack = nack;
    cfg->nack_retry_ms = nack_retry_ms;
    cfg->fec_slots = fec_slots;
    cfg->pt_red = pt_red;
    cfg->pt_fec = pt_fec;
    cfg->rtcp_interval_ms = rtcp_interval_ms;
    cfg->ssrc = ssrc;
    cfg->pt_opus = pt_opus;
    return ec_media_rx_state_size(cfg);
}

/* The statistics structs are all 32-bit fields: their sizes in words (the host names them). */
size_t ec_wasm_media_tx_stats_words(void)
{
    return sizeof(ec_media_tx_stats) / 4u;
}

size_t ec_wasm_media_rx_stats_words(void)
{
    return sizeof(ec_media_rx_stats) / 4u;
}

/* The Opus counters of a sender (tx = 1) or receiver (tx = 0) into out (ec_media_opus_stats, all
 * 32-bit words): the word count, or EC_ERR_ARG (not Opus) / EC_ERR_UNSUPPORTED (a build without
 * Opus). */
int ec_wasm_media_opus_stats(const void *st, int tx, uint32_t *out);
int ec_wasm_media_opus_stats(const void *st, int tx, uint32_t *out)
{
#ifdef EC_MEDIA_WITH_OPUS
    int r = tx ? ec_media_tx_opus_stats((const ec_media_tx *)st, (ec_media_opus_stats *)(void *)out)
               : ec_media_rx_opus_stats((const ec_media_rx *)st, (ec_media_opus_stats *)(void *)out);
    return r < 0 ? r : (int)(sizeof(ec_media_opus_stats) / 4u);
#else
    (void)st;
    (void)tx;
    (void)out;
    return EC_ERR_UNSUPPORTED;
#endif
}

/* ---- video glue (ec_jpeg.h, ec_rtpjpeg.h) ---- */

size_t ec_wasm_jpeg_params_bytes(void);
size_t ec_wasm_jpeg_config(ec_jpeg_params *p, int width, int height, int format, int subsampling, int quality,
                           int flags, int restart_interval);
int ec_wasm_jpeg_encode(ec_jpeg_enc *st, const uint8_t *frame, size_t stride, uint8_t *out, size_t cap);
size_t ec_wasm_rtpjpeg_frame_bytes(void);
int ec_wasm_rtpjpeg_depack_counts(const ec_rtpjpeg_depack *st, uint32_t *out);

/* Bytes of an ec_jpeg_params. */
size_t ec_wasm_jpeg_params_bytes(void)
{
    return sizeof(ec_jpeg_params);
}

/* Fills *p; returns ec_jpeg_enc_state_size(), or 0 when a value does not fit its field (the
 * encoder's init checks the rest). */
size_t ec_wasm_jpeg_config(ec_jpeg_params *p, int width, int height, int format, int subsampling, int quality,
                           int flags, int restart_interval)
{
    if (p == NULL || width < 1 || width > 65535 || height < 1 || height > 65535 || format < 0 || format > 255 ||
        subsampling < 0 || subsampling > 255 || quality < 1 || quality > 100 || flags < 0 || flags > 255 ||
        restart_interval < 0 || restart_interval > 65535) {
        return 0;
    }
    p->width = (uint16_t)width;
    p->height = (uint16_t)height;
    p->format = (uint8_t)format;
    p->subsampling = (uint8_t)subsampling;
    p->quality = (uint8_t)quality;
    p->flags = (uint8_t)flags;
    p->restart_interval = (uint16_t)restart_interval;
    return ec_jpeg_enc_state_size();
}

/* ec_jpeg_enc_frame for a frame of one packed plane (RGB888, RGB565, YUYV) starting at `frame`,
 * lines `stride` bytes apart: the next bytes of the stream into out (cap bytes). */
int ec_wasm_jpeg_encode(ec_jpeg_enc *st, const uint8_t *frame, size_t stride, uint8_t *out, size_t cap)
{
    ec_jpeg_rows rows;
    if (frame == NULL) {
        return EC_ERR_ARG;
    }
    rows.plane[0] = frame;
    rows.plane[1] = NULL;
    rows.plane[2] = NULL;
    rows.stride[0] = stride;
    rows.stride[1] = 0;
    rows.stride[2] = 0;
    return ec_jpeg_enc_frame(st, &rows, out, cap);
}

/* Bytes of an ec_rtpjpeg_frame (filled by ec_rtpjpeg_frame_for). */
size_t ec_wasm_rtpjpeg_frame_bytes(void)
{
    return sizeof(ec_rtpjpeg_frame);
}

/* out[0] = frames delivered, out[1] = frames given up (incomplete); EC_ERR_ARG without a state. */
int ec_wasm_rtpjpeg_depack_counts(const ec_rtpjpeg_depack *st, uint32_t *out)
{
    if (st == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    out[0] = st->frames;
    out[1] = st->dropped;
    return 2;
}
