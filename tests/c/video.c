/* video.c — the video test harness: one source for host, Cortex-M (QEMU) and wasm32.
 *
 * It encodes deterministic test images with the baseline JPEG encoder (ec_jpeg.h), streaming the
 * input one MCU row at a time and the output through small slices, packetizes them as RTP/JPEG
 * (ec_rtpjpeg.h) and H.264 access units as RTP (ec_rtph264.h), depacketizes them again, and prints
 * one line per case:  <name> <count> <fnv1a-64 of the bytes>  so the targets can be compared.
 * Commands: `vectors small` (sizes up to 64x48: fits the Cortex-M0's 16 KB of RAM), `vectors large`
 * (QVGA frames: not on the M0), `errors` (API error paths), `bench` (instructions per QVGA frame
 * where the target counts them, state sizes). Self-checks print FAIL lines and exit 1. */
#include <stddef.h>
#include <stdint.h>

#include "ec_jpeg.h"
#include "ec_rtph264.h"
#include "ec_rtpjpeg.h"
#include "hutil.h"
#include "tio.h"

/* Keeps the big buffers of the test cases out of their callers' frames (the M0 has 12 KB of stack). */
#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

/* ---- small utilities (no libc) ---- */

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

/* ---- deterministic test images ---- */

static uint32_t hash32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static int clamp8(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : v;
}

/* A picture with gradients, an 8-pixel checkerboard in blue, a bright disc and a little noise. */
static void pixel(int x, int y, int w, int h, uint32_t seed, int *r, int *g, int *b)
{
    uint32_t n = hash32((uint32_t)y * 65599u + (uint32_t)x * 131u + seed);
    int dx = 2 * x - w, dy = 2 * y - h, rr = (w < h ? w : h);
    *r = x * 255 / (w > 1 ? w - 1 : 1);
    *g = y * 255 / (h > 1 ? h - 1 : 1);
    *b = ((x / 8 + y / 8) & 1) ? 190 : 70;
    if (dx * dx + dy * dy < rr * rr / 4) {
        *r = (*r + 255) / 2;
        *g = (*g + 230) / 2;
    }
    *r = clamp8(*r + (int)(n & 7u) - 4);
    *g = clamp8(*g + (int)((n >> 3) & 7u) - 4);
    *b = clamp8(*b + (int)((n >> 6) & 7u) - 4);
}

static void yuv_of(int r, int g, int b, int *y, int *u, int *v)
{
    *y = (r + 2 * g + b) / 4;
    *u = clamp8(128 + (b - *y) / 2);
    *v = clamp8(128 + (r - *y) / 2);
}

/* Bytes of one MCU row's input in `fmt`, packed (strides = line widths), planes one after another. */
static size_t row_bytes(int fmt, int w, int mcu_h)
{
    int cw = (w + 1) / 2;
    switch (fmt) {
    case EC_JPEG_RGB888:
        return (size_t)3 * w * mcu_h;
    case EC_JPEG_RGB565LE:
    case EC_JPEG_RGB565BE:
        return (size_t)2 * w * mcu_h;
    case EC_JPEG_YUYV:
        return (size_t)4 * cw * mcu_h;
    case EC_JPEG_I420:
        return (size_t)w * mcu_h + (size_t)2 * cw * (mcu_h / 2);
    default:
        return (size_t)w * mcu_h + (size_t)2 * cw * mcu_h;
    }
}

/* Fills buf with MCU row `row` (mcu_h lines, fewer at the bottom) and sets up rows. */
static void make_rows(int fmt, int w, int h, int mcu_h, int row, uint32_t seed, uint8_t *buf, ec_jpeg_rows *rows)
{
    int y0 = row * mcu_h, lines = h - y0 < mcu_h ? h - y0 : mcu_h, cw = (w + 1) / 2;
    int x, y, r, g, b, yy, u, v;
    rows->plane[1] = rows->plane[2] = NULL;
    rows->stride[1] = rows->stride[2] = 0;
    rows->plane[0] = buf;
    if (fmt == EC_JPEG_RGB888 || fmt == EC_JPEG_RGB565LE || fmt == EC_JPEG_RGB565BE) {
        size_t bpp = fmt == EC_JPEG_RGB888 ? 3 : 2;
        rows->stride[0] = bpp * (size_t)w;
        for (y = 0; y < lines; y++) {
            for (x = 0; x < w; x++) {
                uint8_t *p = buf + (size_t)y * rows->stride[0] + bpp * (size_t)x;
                pixel(x, y0 + y, w, h, seed, &r, &g, &b);
                if (bpp == 3) {
                    p[0] = (uint8_t)r;
                    p[1] = (uint8_t)g;
                    p[2] = (uint8_t)b;
                } else {
                    unsigned c = (unsigned)(r >> 3) << 11 | (unsigned)(g >> 2) << 5 | (unsigned)(b >> 3);
                    p[fmt == EC_JPEG_RGB565LE ? 0 : 1] = (uint8_t)c;
                    p[fmt == EC_JPEG_RGB565LE ? 1 : 0] = (uint8_t)(c >> 8);
                }
            }
        }
        return;
    }
    if (fmt == EC_JPEG_YUYV) {
        rows->stride[0] = 4 * (size_t)cw;
        for (y = 0; y < lines; y++) {
            for (x = 0; x < 2 * cw; x++) {
                uint8_t *p = buf + (size_t)y * rows->stride[0] + 2 * (size_t)x;
                pixel(x < w ? x : w - 1, y0 + y, w, h, seed, &r, &g, &b);
                yuv_of(r, g, b, &yy, &u, &v);
                p[0] = (uint8_t)yy;
                p[1] = (uint8_t)((x & 1) ? v : u);
            }
        }
        return;
    }
    {
        int clines = fmt == EC_JPEG_I420 ? (lines + 1) / 2 : lines;
        int cmax = fmt == EC_JPEG_I420 ? mcu_h / 2 : mcu_h;
        uint8_t *pu = buf + (size_t)w * mcu_h, *pv = pu + (size_t)cw * cmax;
        rows->stride[0] = (size_t)w;
        rows->plane[1] = pu;
        rows->plane[2] = pv;
        rows->stride[1] = rows->stride[2] = (size_t)cw;
        for (y = 0; y < lines; y++) {
            for (x = 0; x < w; x++) {
                pixel(x, y0 + y, w, h, seed, &r, &g, &b);
                yuv_of(r, g, b, &yy, &u, &v);
                buf[(size_t)y * w + x] = (uint8_t)yy;
            }
        }
        for (y = 0; y < clines; y++) {
            int sy = fmt == EC_JPEG_I420 ? 2 * y : y;
            for (x = 0; x < cw; x++) {
                pixel(2 * x < w ? 2 * x : w - 1, y0 + sy, w, h, seed, &r, &g, &b);
                yuv_of(r, g, b, &yy, &u, &v);
                pu[(size_t)y * cw + x] = (uint8_t)u;
                pv[(size_t)y * cw + x] = (uint8_t)v;
            }
        }
    }
}

/* ---- JPEG ---- */

typedef struct {
    uint16_t w, h;
    uint8_t fmt, sub, q;
    uint16_t ri;
} jcase;

static const char *fmt_name[] = {"rgb888", "rgb565le", "rgb565be", "yuyv", "i420", "i422"};

static void case_name(char *name, size_t cap, const char *prefix, const jcase *c)
{
    name[0] = '\0';
    scat(name, cap, prefix);
    scat(name, cap, "-");
    fmt_u(name, cap, c->w);
    scat(name, cap, "x");
    fmt_u(name, cap, c->h);
    scat(name, cap, "-");
    scat(name, cap, fmt_name[c->fmt]);
    scat(name, cap, c->sub == EC_JPEG_420 ? "-420-q" : "-422-q");
    fmt_u(name, cap, c->q);
    if (c->ri) {
        scat(name, cap, "-ri");
        fmt_u(name, cap, c->ri);
    }
}

static uint32_t g_instr; /* instructions spent inside the encoder by the last encode() */

/* Encodes one image, streaming rows through rowbuf and output through `slice`-byte pieces into
 * the digest (and into `out` when given). Returns the stream length or a negative code. */
static long encode(const jcase *c, uint8_t flags, uint32_t seed, size_t slice, uint8_t *rowbuf, digest *d,
                   uint8_t *out, size_t out_cap)
{
    ec_jpeg_enc st;
    ec_jpeg_params p;
    ec_jpeg_rows rows;
    uint8_t piece[256];
    int have = -1, rc;
    long total = 0;
    p.width = c->w;
    p.height = c->h;
    p.format = c->fmt;
    p.subsampling = c->sub;
    p.quality = c->q;
    p.flags = flags;
    p.restart_interval = c->ri;
    rc = ec_jpeg_enc_init(&st, sizeof st, &p);
    if (rc != EC_OK) {
        return rc;
    }
    g_instr = 0;
    if (slice > sizeof piece) {
        slice = sizeof piece;
    }
    while (!ec_jpeg_enc_done(&st)) {
        int row = ec_jpeg_enc_row(&st);
        uint32_t t;
        int n;
        if (row < (int)((c->h + st.mcu_h - 1) / st.mcu_h) && row != have) {
            make_rows(c->fmt, c->w, c->h, st.mcu_h, row, seed, rowbuf, &rows);
            have = row;
        }
        t = tio_instructions();
        n = ec_jpeg_enc_write(&st, &rows, piece, slice);
        g_instr += tio_instructions() - t;
        if (n < 0) {
            return n;
        }
        dg_bytes(d, piece, (size_t)n);
        if (out != NULL) {
            if ((size_t)total + (size_t)n > out_cap) {
                return EC_ERR_SHORT_BUFFER;
            }
            {
                int i;
                for (i = 0; i < n; i++) {
                    out[total + i] = piece[i];
                }
            }
        }
        total += n;
    }
    d->n = (uint32_t)total;
    return total;
}

/* Encodes with three slice sizes; all must give the same stream. Prints it. */
NOINLINE static void jpeg_case(const jcase *c, uint8_t *rowbuf)
{
    static const size_t slices[3] = {512, 1, 61};
    char name[80];
    digest d[3];
    int i;
    case_name(name, sizeof name, "jpeg", c);
    for (i = 0; i < 3; i++) {
        long n;
        dg_init(&d[i]);
        n = encode(c, 0, 7u, slices[i], rowbuf, &d[i], NULL, 0);
        if (n <= 0) {
            fail(name);
            return;
        }
    }
    if (d[0].h != d[1].h || d[0].h != d[2].h || d[0].n != d[1].n || d[0].n != d[2].n) {
        fail(name);
    }
    report(name, &d[0]);
}

/* ---- RTP/JPEG ---- */

#define SMALL_MTU 300
#define SMALL_SCAN 1024
#define SMALL_FRAME (SMALL_SCAN + EC_RTPJPEG_FRAME_OVERHEAD)

/* Streams the scan straight from the encoder into RTP/JPEG packets (no frame buffer), digests
 * the packets, and (frame != NULL) depacketizes them: the result must be the JFIF stream with
 * digest jfif. */
NOINLINE static void rtpjpeg_stream_case(const jcase *c, uint8_t *pkt, int mtu, uint8_t *rowbuf, uint8_t *frame,
                                         size_t frame_cap, const digest *jfif)
{
    ec_jpeg_enc st;
    ec_jpeg_params p;
    ec_jpeg_rows rows;
    ec_rtpjpeg_pack pk;
    ec_rtpjpeg_depack dp;
    ec_rtpjpeg_frame fr;
    char name[80];
    digest d;
    int have = -1, packets = 0, got = 0;
    case_name(name, sizeof name, "rtpjpeg-stream", c);
    p.width = c->w;
    p.height = c->h;
    p.format = c->fmt;
    p.subsampling = c->sub;
    p.quality = c->q;
    p.flags = EC_JPEG_SCAN_ONLY;
    p.restart_interval = c->ri;
    if (ec_jpeg_enc_init(&st, sizeof st, &p) != EC_OK ||
        ec_rtpjpeg_frame_for(c->w, c->h, c->sub, c->q, c->ri, &fr) != EC_OK ||
        ec_rtpjpeg_pack_init(&pk, sizeof pk, 0x11223344u, EC_RTPJPEG_PT, mtu, 1000) != EC_OK ||
        ec_rtpjpeg_pack_stream(&pk, &fr, 90000u) != EC_OK || ec_rtpjpeg_depack_init(&dp, sizeof dp) != EC_OK) {
        fail(name);
        return;
    }
    dg_init(&d);
    while (!ec_jpeg_enc_done(&st)) {
        int h = ec_rtpjpeg_pack_header(&pk, pkt, (size_t)mtu), used = 0, len, last;
        if (h < 0) {
            fail(name);
            return;
        }
        while (used < mtu - h && !ec_jpeg_enc_done(&st)) {
            int row = ec_jpeg_enc_row(&st), n;
            if (row < (int)((c->h + st.mcu_h - 1) / st.mcu_h) && row != have) {
                make_rows(c->fmt, c->w, c->h, st.mcu_h, row, 7u, rowbuf, &rows);
                have = row;
            }
            n = ec_jpeg_enc_write(&st, &rows, pkt + h + used, (size_t)(mtu - h - used));
            if (n < 0) {
                fail(name);
                return;
            }
            used += n;
        }
        ec_jpeg_enc_write(&st, NULL, NULL, 0); /* steps that write nothing: is the scan done? */
        last = ec_jpeg_enc_done(&st);
        if (used == 0) {
            break; /* the previous packet ended the scan exactly: impossible, commit set last */
        }
        len = ec_rtpjpeg_pack_commit(&pk, pkt, (size_t)used, last);
        if (len <= 0) {
            fail(name);
            return;
        }
        dg_bytes(&d, pkt, (size_t)len);
        d.n += (uint32_t)len;
        packets++;
        if (frame != NULL) {
            int n = ec_rtpjpeg_depack_push(&dp, pkt, (size_t)len, frame, frame_cap);
            if (n > 0) {
                digest back;
                dg_init(&back);
                dg_bytes(&back, frame, (size_t)n);
                got++;
                if (!last || back.h != jfif->h || (uint32_t)n != jfif->n) {
                    fail(name);
                }
            }
        }
    }
    if (frame != NULL && got != 1) {
        fail(name);
    }
    report(name, &d);
}

/* Whole-scan packetizer (restart-aligned when c->ri), packets delivered in reverse order. */
NOINLINE static void rtpjpeg_scan_case(const jcase *c, int mtu, uint8_t *rowbuf, uint8_t *frame, size_t frame_cap,
                              const digest *jfif)
{
    uint8_t scan[SMALL_SCAN];
    uint8_t pkt[SMALL_MTU];
    uint16_t plen[64];
    ec_rtpjpeg_pack pk;
    ec_rtpjpeg_depack dp;
    ec_rtpjpeg_frame fr;
    char name[80];
    digest d, ds;
    long n;
    int count = 0, i, got = 0;
    case_name(name, sizeof name, "rtpjpeg-scan", c);
    dg_init(&ds);
    n = encode(c, EC_JPEG_SCAN_ONLY, 7u, 512, rowbuf, &ds, scan, sizeof scan);
    if (n <= 0 || mtu > SMALL_MTU || ec_rtpjpeg_frame_for(c->w, c->h, c->sub, c->q, c->ri, &fr) != EC_OK ||
        ec_rtpjpeg_pack_init(&pk, sizeof pk, 0x55667788u, 96, mtu, 65530) != EC_OK ||
        ec_rtpjpeg_pack_frame(&pk, &fr, scan, (size_t)n, 0xfffffff0u) != EC_OK ||
        ec_rtpjpeg_depack_init(&dp, sizeof dp) != EC_OK) {
        fail(name);
        return;
    }
    dg_init(&d);
    for (;;) {
        int len = ec_rtpjpeg_pack_next(&pk, pkt, sizeof pkt);
        if (len <= 0 || count == 64) {
            if (len < 0 || count == 64) {
                fail(name);
            }
            break;
        }
        dg_bytes(&d, pkt, (size_t)len);
        d.n += (uint32_t)len;
        plen[count++] = (uint16_t)len;
    }
    report(name, &d);
    /* packetize again (same packets) and deliver them last first */
    ec_rtpjpeg_pack_init(&pk, sizeof pk, 0x55667788u, 96, mtu, 65530);
    for (i = count - 1; i >= 0; i--) {
        int k, len = 0, r;
        ec_rtpjpeg_pack_frame(&pk, &fr, scan, (size_t)n, 0xfffffff0u);
        for (k = 0; k <= i; k++) {
            len = ec_rtpjpeg_pack_next(&pk, pkt, sizeof pkt);
        }
        if (len != plen[i]) {
            fail(name);
        }
        r = ec_rtpjpeg_depack_push(&dp, pkt, (size_t)len, frame, frame_cap);
        if (r > 0) {
            digest back;
            dg_init(&back);
            dg_bytes(&back, frame, (size_t)r);
            got++;
            if (i != 0 || back.h != jfif->h || (uint32_t)r != jfif->n) {
                fail(name);
            }
        }
    }
    if (got != 1) {
        fail(name);
    }
}

/* ---- H.264 ---- */

#define AU_MAX 3200

/* An access unit of NAL units with the given types and sizes: 4-byte start codes, payload
 * bytes 1..255 (no start code emulation). Returns its length. */
static size_t make_au(uint8_t *au, const uint8_t *types, const uint16_t *sizes, int n, uint32_t seed)
{
    size_t len = 0;
    int i, k;
    for (i = 0; i < n; i++) {
        au[len++] = 0;
        au[len++] = 0;
        au[len++] = 0;
        au[len++] = 1;
        au[len++] = (uint8_t)(0x60 | types[i]);
        for (k = 1; k < sizes[i]; k++) {
            au[len++] = (uint8_t)(1u + hash32(seed + (uint32_t)(i * 7919 + k)) % 255u);
        }
    }
    return len;
}

static int push_all(ec_rtph264_pack *pk, ec_rtph264_depack *dp, const uint8_t *au, size_t len, uint32_t ts,
                    int drop, uint8_t *out, digest *d)
{
    uint8_t pkt[400];
    int res = 0, i = 0;
    if (ec_rtph264_pack_au(pk, au, len, ts) != EC_OK) {
        return -100;
    }
    for (;;) {
        int n = ec_rtph264_pack_next(pk, pkt, sizeof pkt), r;
        if (n <= 0) {
            return n < 0 ? n : res;
        }
        if (d != NULL) {
            dg_bytes(d, pkt, (size_t)n);
            d->n += (uint32_t)n;
        }
        if (i++ == drop) {
            continue;
        }
        r = ec_rtph264_depack_push(dp, pkt, (size_t)n, out, AU_MAX);
        if (r != 0) {
            res = r;
        }
    }
}

NOINLINE static void h264_cases(void)
{
    static const uint8_t t_idr[4] = {7, 8, 6, 5};
    static const uint16_t s_idr[4] = {22, 6, 31, 2500};
    static const uint8_t t_p[2] = {9, 1};
    static const uint16_t s_p[2] = {2, 900};
    uint8_t au[AU_MAX], out[AU_MAX], pli[EC_RTPH264_PLI_SIZE];
    ec_rtph264_pack pk;
    ec_rtph264_depack dp;
    digest d;
    size_t len;
    int r;
    char line[96];
    dg_init(&d);
    ec_rtph264_pack_init(&pk, sizeof pk, 0xcafe0001u, 96, 400, 65534);
    ec_rtph264_depack_init(&dp, sizeof dp);
    /* loss-free: IDR, P, P; each comes back byte for byte */
    len = make_au(au, t_idr, s_idr, 4, 1);
    r = push_all(&pk, &dp, au, len, 3000, -1, out, &d);
    if (r != (int)len || !same(au, out, len)) {
        fail("h264 idr roundtrip");
    }
    len = make_au(au, t_p, s_p, 2, 2);
    r = push_all(&pk, &dp, au, len, 6000, -1, out, &d);
    if (r != (int)len || !same(au, out, len)) {
        fail("h264 p roundtrip");
    }
    report("h264-packets", &d);
    /* loss: a P frame loses its second packet -> dropped, keyframe needed, next P dropped too */
    len = make_au(au, t_p, s_p, 2, 3);
    r = push_all(&pk, &dp, au, len, 9000, 1, out, NULL);
    if (r != 0 || ec_rtph264_needs_keyframe(&dp) != 1) {
        fail("h264 loss detected");
    }
    len = make_au(au, t_p, s_p, 2, 4);
    r = push_all(&pk, &dp, au, len, 12000, -1, out, NULL);
    if (r != 0 || ec_rtph264_needs_keyframe(&dp) != 1) {
        fail("h264 p after loss dropped");
    }
    ec_rtph264_pli(0x0badf00du, dp.ssrc, pli, sizeof pli);
    dg_init(&d);
    dg_bytes(&d, pli, sizeof pli);
    d.n = sizeof pli;
    report("rtcp-pli", &d);
    len = make_au(au, t_idr, s_idr, 4, 5);
    r = push_all(&pk, &dp, au, len, 15000, -1, out, NULL);
    if (r != (int)len || !same(au, out, len) || ec_rtph264_needs_keyframe(&dp) != 0) {
        fail("h264 keyframe recovers");
    }
    /* STAP-A (aggregation, RFC 6184 5.7.1) with SPS and PPS, marker set */
    {
        static const uint8_t stap[12 + 1 + 2 + 4 + 2 + 3] = {
            0x80, 0xe0, 0x00, 0x10, 0, 0, 0x4e, 0x20, 0xca, 0xfe, 0x00, 0x02,
            0x78, 0x00, 0x04, 0x67, 0x42, 0x00, 0x1e, 0x00, 0x03, 0x68, 0xce, 0x38};
        static const uint8_t want[] = {0, 0, 0, 1, 0x67, 0x42, 0x00, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0x38};
        ec_rtph264_depack_init(&dp, sizeof dp);
        r = ec_rtph264_depack_push(&dp, stap, sizeof stap, out, AU_MAX);
        if (r != (int)sizeof want || !same(out, want, sizeof want)) {
            fail("h264 stap-a");
        }
    }
    line[0] = '\0';
    scat(line, sizeof line, "h264-depack delivered=");
    fmt_u(line, sizeof line, dp.delivered);
    scat(line, sizeof line, " failures=");
    fmt_i(line, sizeof line, failures);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

/* ---- the vector sets ---- */

#define SMALL_ROW (16 * 64 * 3)

NOINLINE static void small_jpeg(void)
{
    static const jcase cases[] = {
        {1, 1, EC_JPEG_RGB888, EC_JPEG_420, 75, 0},     {1, 1, EC_JPEG_RGB565LE, EC_JPEG_422, 100, 0},
        {7, 5, EC_JPEG_RGB888, EC_JPEG_422, 50, 1},     {17, 9, EC_JPEG_RGB565BE, EC_JPEG_420, 10, 0},
        {33, 17, EC_JPEG_YUYV, EC_JPEG_422, 95, 2},     {33, 17, EC_JPEG_YUYV, EC_JPEG_420, 75, 0},
        {31, 31, EC_JPEG_I420, EC_JPEG_420, 1, 3},      {31, 31, EC_JPEG_I422, EC_JPEG_422, 75, 0},
        {31, 31, EC_JPEG_I422, EC_JPEG_420, 50, 0},     {64, 48, EC_JPEG_RGB565LE, EC_JPEG_420, 75, 0},
        {64, 48, EC_JPEG_RGB888, EC_JPEG_420, 100, 2},  {64, 48, EC_JPEG_RGB888, EC_JPEG_422, 10, 0},
        {64, 48, EC_JPEG_I420, EC_JPEG_420, 95, 1},
    };
    uint8_t rowbuf[SMALL_ROW];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jpeg_case(&cases[i], rowbuf);
    }
}

NOINLINE static void small_rtp(void)
{
    static const jcase cases[] = {
        {48, 32, EC_JPEG_RGB565LE, EC_JPEG_420, 75, 0},
        {48, 32, EC_JPEG_RGB888, EC_JPEG_422, 50, 2},
        {32, 16, EC_JPEG_I420, EC_JPEG_420, 100, 0},
    };
    uint8_t rowbuf[16 * 48 * 3];
    uint8_t frame[SMALL_FRAME];
    uint8_t pkt[200];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        digest jfif;
        dg_init(&jfif);
        if (encode(&cases[i], 0, 7u, 512, rowbuf, &jfif, NULL, 0) <= 0) {
            fail("rtp source");
            continue;
        }
        rtpjpeg_stream_case(&cases[i], pkt, (int)sizeof pkt, rowbuf, frame, sizeof frame, &jfif);
        rtpjpeg_scan_case(&cases[i], 200, rowbuf, frame, sizeof frame, &jfif);
    }
}

#define LARGE_ROW (16 * 320 * 2)

NOINLINE static void large_sets(void)
{
    static const jcase cases[] = {
        {320, 240, EC_JPEG_RGB565LE, EC_JPEG_420, 75, 0},
        {320, 240, EC_JPEG_I420, EC_JPEG_420, 50, 20},
        {320, 240, EC_JPEG_YUYV, EC_JPEG_422, 90, 0},
        {318, 238, EC_JPEG_RGB565BE, EC_JPEG_422, 30, 7},
    };
    uint8_t rowbuf[LARGE_ROW];
    uint8_t pkt[1200];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jpeg_case(&cases[i], rowbuf);
        rtpjpeg_stream_case(&cases[i], pkt, (int)sizeof pkt, rowbuf, NULL, 0, NULL);
    }
}

/* ---- errors ---- */

static void err_line(const char *name, int got, int want)
{
    char line[80] = "err ";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " ");
    fmt_i(line, sizeof line, got);
    scat(line, sizeof line, "\n");
    tio_puts(line);
    if (got != want) {
        fail(name);
    }
}

NOINLINE static void run_errors(void)
{
    ec_jpeg_enc st;
    ec_jpeg_params p = {16, 16, EC_JPEG_RGB888, EC_JPEG_420, 75, 0, 0};
    ec_rtpjpeg_pack pk;
    ec_rtpjpeg_depack dp;
    ec_rtpjpeg_frame fr;
    ec_rtph264_pack hp;
    ec_rtph264_depack hd;
    uint8_t buf[64], frame[EC_RTPJPEG_FRAME_OVERHEAD + 16];
    size_t off, len;
    static const uint8_t junk[] = {0x80, 0x1a, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0}; /* short JPEG header */
    static const uint8_t bad_rtp[] = {0x40, 0x1a, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 75, 2, 2};
    static const uint8_t fu_both[] = {0x80, 0xe0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x7c, 0xc5, 1};
    static const uint8_t not_annexb[] = {0x65, 0x88, 0x84};
    static const uint8_t not_jfif[21] = {0xff, 0xd8, 0xff, 0xc2, 0x00, 0x11, 8, 0, 16, 0, 16, 3};
    for (off = 0; off < sizeof frame; off++) {
        frame[off] = 0;
    }
    st.magic = 0;
    err_line("jpeg-uninit", ec_jpeg_enc_write(&st, NULL, buf, sizeof buf), EC_ERR_STATE);
    err_line("jpeg-small-state", ec_jpeg_enc_init(&st, sizeof st - 1, &p), EC_ERR_SHORT_BUFFER);
    p.quality = 0;
    err_line("jpeg-quality-0", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.quality = 101;
    err_line("jpeg-quality-101", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.quality = 75;
    p.width = 0;
    err_line("jpeg-width-0", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.width = 16;
    p.format = 6;
    err_line("jpeg-format", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.format = EC_JPEG_I420;
    p.subsampling = EC_JPEG_422;
    err_line("jpeg-i420-as-422", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_UNSUPPORTED);
    p.subsampling = 2;
    err_line("jpeg-subsampling", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.subsampling = EC_JPEG_420;
    p.flags = 2;
    err_line("jpeg-flags", ec_jpeg_enc_init(&st, sizeof st, &p), EC_ERR_ARG);
    p.flags = 0;
    err_line("jpeg-init-ok", ec_jpeg_enc_init(&st, sizeof st, &p), EC_OK);
    err_line("jpeg-null-out", ec_jpeg_enc_write(&st, NULL, NULL, 5), EC_ERR_ARG);
    {
        ec_jpeg_rows rows = {{NULL, NULL, NULL}, {0, 0, 0}};
        err_line("jpeg-null-plane", ec_jpeg_enc_write(&st, &rows, buf, sizeof buf), EC_ERR_ARG);
    }
    err_line("jpeg-header-only", ec_jpeg_enc_write(&st, NULL, buf, sizeof buf), (int)sizeof buf);
    err_line("jpeg-tables-q0", ec_jpeg_quant_tables(0, frame), EC_ERR_ARG);
    err_line("jpeg-header-short", ec_jpeg_header(8, 8, EC_JPEG_420, frame, 0, buf, sizeof buf),
             EC_ERR_ARG); /* frame[] holds zeros: not valid tables */
    ec_jpeg_quant_tables(50, frame);
    err_line("jpeg-header-cap", ec_jpeg_header(8, 8, EC_JPEG_420, frame, 0, buf, sizeof buf), EC_ERR_SHORT_BUFFER);

    err_line("rtpjpeg-mtu", ec_rtpjpeg_pack_init(&pk, sizeof pk, 1, 26, EC_RTPJPEG_MIN_MTU - 1, 0), EC_ERR_ARG);
    err_line("rtpjpeg-pt", ec_rtpjpeg_pack_init(&pk, sizeof pk, 1, 128, 1200, 0), EC_ERR_ARG);
    err_line("rtpjpeg-init", ec_rtpjpeg_pack_init(&pk, sizeof pk, 1, 26, 1200, 0), EC_OK);
    err_line("rtpjpeg-size", ec_rtpjpeg_frame_for(2048, 8, EC_JPEG_420, 50, 0, &fr), EC_ERR_ARG);
    ec_rtpjpeg_frame_for(16, 16, EC_JPEG_420, 50, 0, &fr);
    err_line("rtpjpeg-empty-scan", ec_rtpjpeg_pack_frame(&pk, &fr, buf, 0, 0), EC_ERR_ARG);
    fr.q = 110;
    err_line("rtpjpeg-q-reserved", ec_rtpjpeg_pack_frame(&pk, &fr, buf, 4, 0), EC_ERR_ARG);
    err_line("rtpjpeg-not-jfif", ec_rtpjpeg_parse_jfif(buf, 4, &fr, &off, &len), EC_ERR_MALFORMED);
    err_line("rtpjpeg-progressive", ec_rtpjpeg_parse_jfif(not_jfif, sizeof not_jfif, &fr, &off, &len),
             EC_ERR_UNSUPPORTED);
    ec_rtpjpeg_depack_init(&dp, sizeof dp);
    err_line("rtpjpeg-short-packet", ec_rtpjpeg_depack_push(&dp, junk, sizeof junk, frame, sizeof frame),
             EC_ERR_MALFORMED);
    err_line("rtpjpeg-bad-version", ec_rtpjpeg_depack_push(&dp, bad_rtp, sizeof bad_rtp, frame, sizeof frame),
             EC_ERR_MALFORMED);

    err_line("h264-mtu", ec_rtph264_pack_init(&hp, sizeof hp, 1, 96, 31, 0), EC_ERR_ARG);
    ec_rtph264_pack_init(&hp, sizeof hp, 1, 96, 1200, 0);
    err_line("h264-not-annexb", ec_rtph264_pack_au(&hp, not_annexb, sizeof not_annexb, 0), EC_ERR_MALFORMED);
    err_line("h264-next-idle", ec_rtph264_pack_next(&hp, buf, sizeof buf), 0);
    ec_rtph264_depack_init(&hd, sizeof hd);
    err_line("h264-fu-start-end", ec_rtph264_depack_push(&hd, fu_both, sizeof fu_both, buf, sizeof buf),
             EC_ERR_MALFORMED);
    err_line("h264-keyframe-after-bad", ec_rtph264_needs_keyframe(&hd), 1);
    err_line("pli-short", ec_rtph264_pli(1, 2, buf, 11), EC_ERR_SHORT_BUFFER);
}

/* ---- bench ---- */

static void bench_line(const char *name, uint32_t instr, long bytes)
{
    char line[112] = "bench ";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " frames=1 mean=");
    fmt_u(line, sizeof line, instr);
    scat(line, sizeof line, " max=");
    fmt_u(line, sizeof line, instr);
    scat(line, sizeof line, " bytes=");
    fmt_u(line, sizeof line, (uint32_t)bytes);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

static void size_line(const char *name, size_t v)
{
    char line[64] = "size ";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " ");
    fmt_u(line, sizeof line, (uint32_t)v);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

NOINLINE static void run_bench(void)
{
    static const jcase cases[] = {
        {320, 240, EC_JPEG_RGB565LE, EC_JPEG_420, 75, 0},
        {320, 240, EC_JPEG_I420, EC_JPEG_420, 75, 0},
        {320, 240, EC_JPEG_YUYV, EC_JPEG_422, 75, 0},
    };
    static const char *names[] = {"jpeg-qvga-rgb565-420-q75", "jpeg-qvga-i420-q75", "jpeg-qvga-yuyv-422-q75"};
    uint8_t rowbuf[LARGE_ROW];
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        digest d;
        long n;
        dg_init(&d);
        n = encode(&cases[i], 0, 7u, 512, rowbuf, &d, NULL, 0);
        bench_line(names[i], g_instr, n);
    }
    size_line("ec_jpeg_enc", ec_jpeg_enc_state_size());
    size_line("ec_rtpjpeg_pack", ec_rtpjpeg_pack_state_size());
    size_line("ec_rtpjpeg_depack", ec_rtpjpeg_depack_state_size());
    size_line("ec_rtph264_pack", ec_rtph264_pack_state_size());
    size_line("ec_rtph264_depack", ec_rtph264_depack_state_size());
    size_line("jpeg_slice_min", 1);
    size_line("qvga_rgb565_mcu_row", row_bytes(EC_JPEG_RGB565LE, 320, 16));
    size_line("qvga_i420_mcu_row", row_bytes(EC_JPEG_I420, 320, 16));
}

/* ---- main ---- */

int tio_main(void)
{
    const char *cmd = tio_cmdline();
    const char *rest = "";
    tio_puts("# native_codec video harness on ");
    tio_puts(tio_target());
    tio_puts("\n");
    if (word_eq(cmd, "errors", &rest)) {
        run_errors();
    } else if (word_eq(cmd, "bench", &rest)) {
        run_bench();
    } else {
        if (!word_eq(cmd, "vectors", &rest)) {
            rest = cmd;
        }
        if (word_eq(rest, "large", &rest)) {
            large_sets();
        } else {
            small_jpeg();
            small_rtp();
            h264_cases();
        }
    }
    return failures ? 1 : 0;
}
