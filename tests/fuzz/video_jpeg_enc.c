/* video_jpeg_enc.c — libFuzzer target: the JPEG encoder (ec_jpeg.h) on parameters and pixels taken
 * from the input. The first bytes choose size, format, subsampling, quality, restart interval,
 * flags, slice size and line padding; the rest are the pixels (repeated to fill the frame). Checks:
 * no error after a successful init, the stream is a JFIF frame (SOI ... EOI) or a bare scan that
 * never contains a marker other than RSTn, output slices never overrun, and streaming through
 * tiny slices gives the same bytes as one large buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec_jpeg.h"

static uint8_t *g_pixels; /* frame-sized copy of the pixel bytes */

static size_t encode(const ec_jpeg_params *p, const ec_jpeg_rows *frame, size_t slice, uint8_t *out, size_t cap)
{
    ec_jpeg_enc st;
    uint8_t piece[1024 + 16];
    size_t total = 0;
    if (ec_jpeg_enc_init(&st, sizeof st, p) != EC_OK) {
        abort();
    }
    while (!ec_jpeg_enc_done(&st)) {
        int n;
        memset(piece + slice, 0xa5, 16); /* canary after the slice */
        n = ec_jpeg_enc_frame(&st, frame, piece, slice);
        if (n < 0 || (size_t)n > slice) {
            abort();
        }
        for (int i = 0; i < 16; i++) {
            if (piece[slice + i] != 0xa5) {
                abort();
            }
        }
        if (total + (size_t)n > cap) {
            abort(); /* larger than the worst case */
        }
        memcpy(out + total, piece, (size_t)n);
        total += (size_t)n;
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_jpeg_params p;
    ec_jpeg_rows frame;
    size_t w, h, pad, slice, plane_bytes[3], stride[3], total, blocks, cap, n1, n2, i;
    uint8_t *out1, *out2;
    int rc;
    if (size < 10) {
        return 0;
    }
    w = 1 + (data[0] | (data[1] & 1) << 8) % 160;
    h = 1 + (data[2] | (data[3] & 1) << 8) % 120;
    p.width = (uint16_t)w;
    p.height = (uint16_t)h;
    p.format = (uint8_t)(data[4] % 7); /* 6 is invalid */
    p.subsampling = (uint8_t)((data[4] >> 3) % 3);
    p.quality = (uint8_t)(data[5] % 102);
    p.flags = (uint8_t)(data[6] & 3);
    p.restart_interval = (uint16_t)(data[7] % 9);
    slice = 1 + (size_t)data[8] * 4;
    pad = data[9] & 7;
    data += 10;
    size -= 10;
    {
        ec_jpeg_enc st;
        rc = ec_jpeg_enc_init(&st, sizeof st, &p);
    }
    if (rc != EC_OK) {
        if (p.format <= EC_JPEG_I422 && p.subsampling <= 1 && p.quality >= 1 && p.quality <= 100 && p.flags <= 1 &&
            !(p.format == EC_JPEG_I420 && p.subsampling == EC_JPEG_422)) {
            abort(); /* valid parameters refused */
        }
        return 0;
    }
    {
        size_t cw = (w + 1) / 2, ch = p.format == EC_JPEG_I420 ? (h + 1) / 2 : h;
        size_t bpp = p.format == EC_JPEG_RGB888 ? 3 : 2;
        if (p.format >= EC_JPEG_I420) {
            stride[0] = w + pad;
            stride[1] = stride[2] = cw + pad;
            plane_bytes[0] = stride[0] * h;
            plane_bytes[1] = plane_bytes[2] = stride[1] * ch;
        } else {
            stride[0] = (p.format == EC_JPEG_YUYV ? 4 * cw : bpp * w) + pad;
            stride[1] = stride[2] = 0;
            plane_bytes[0] = stride[0] * h;
            plane_bytes[1] = plane_bytes[2] = 0;
        }
    }
    total = plane_bytes[0] + plane_bytes[1] + plane_bytes[2];
    g_pixels = malloc(total);
    for (i = 0; i < total; i++) {
        g_pixels[i] = size ? data[i % size] : (uint8_t)(i * 37);
    }
    frame.plane[0] = g_pixels;
    frame.plane[1] = p.format >= EC_JPEG_I420 ? g_pixels + plane_bytes[0] : NULL;
    frame.plane[2] = p.format >= EC_JPEG_I420 ? g_pixels + plane_bytes[0] + plane_bytes[1] : NULL;
    frame.stride[0] = stride[0];
    frame.stride[1] = stride[1];
    frame.stride[2] = stride[2];
    blocks = ((w + 15) / 16) * ((h + 15) / 16) * 6 + ((w + 15) / 16) * ((h + 7) / 8) * 4;
    cap = EC_JPEG_HEADER_MAX + 2 + blocks * EC_JPEG_BLOCK_MAX;
    out1 = malloc(cap);
    out2 = malloc(cap);
    n1 = encode(&p, &frame, 1024, out1, cap);
    n2 = encode(&p, &frame, slice, out2, cap);
    if (n1 != n2 || memcmp(out1, out2, n1) != 0) {
        abort(); /* streaming changed the stream */
    }
    {
        size_t s = 0, e = n1;
        if (!(p.flags & EC_JPEG_SCAN_ONLY)) {
            if (n1 < 4 || out1[0] != 0xff || out1[1] != 0xd8 || out1[n1 - 2] != 0xff || out1[n1 - 1] != 0xd9) {
                abort();
            }
            /* skip to the scan: walk the segments up to SOS */
            s = 2;
            while (s + 4 <= n1 && out1[s + 1] != 0xda) {
                s += 2 + ((size_t)out1[s + 2] << 8 | out1[s + 3]);
            }
            s += 2 + ((size_t)out1[s + 2] << 8 | out1[s + 3]);
            e = n1 - 2;
        }
        for (i = s; i + 1 < e; i++) { /* entropy-coded data: 0xff is stuffed or an RSTn marker */
            if (out1[i] == 0xff && out1[i + 1] != 0x00 && (out1[i + 1] & 0xf8) != 0xd0) {
                abort();
            }
        }
        if (e > s && out1[e - 1] == 0xff) {
            abort();
        }
    }
    free(out1);
    free(out2);
    free(g_pixels);
    return 0;
}
