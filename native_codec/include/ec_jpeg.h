/* ec_jpeg.h — baseline JPEG encoder (ITU-T T.81 sequential DCT, Huffman, 8-bit; JFIF 1.01).
 *
 * Three components Y, Cb, Cr (T.81 Annex A, JFIF colour space), 4:2:0 (Y 2x2, MCU 16x16) or
 * 4:2:2 (Y 2x1, MCU 16x8). Quantisation: the tables of T.81 Annex K.1 scaled by the IJG quality
 * formula (quality 1..100, entries clamped to 1..255: baseline). Entropy coding: the standard
 * Huffman tables of Annex K.3 (K.3.3.1, K.3.3.2). Optional restart interval (DRI + RSTn, B.2.4.4).
 * The forward DCT is an integer AAN flow graph whose output scaling is folded into the quantiser.
 *
 * Input formats (ec_jpeg_rows: planes and strides of one MCU row, or of the whole frame):
 *   EC_JPEG_RGB888    plane 0: R,G,B bytes per pixel
 *   EC_JPEG_RGB565LE  plane 0: 16-bit RGB565 per pixel, little-endian (low byte first)
 *   EC_JPEG_RGB565BE  plane 0: the same, big-endian (the byte order of most camera ports)
 *   EC_JPEG_YUYV      plane 0: packed 4:2:2 Y0 Cb Y1 Cr (full-range BT.601 = JFIF)
 *   EC_JPEG_I420      planes 0,1,2: Y, Cb, Cr; chroma half width and half height (rounded up)
 *   EC_JPEG_I422      planes 0,1,2: Y, Cb, Cr; chroma half width (rounded up), full height
 * RGB inputs may be coded 4:2:0 or 4:2:2; YUYV and I422 likewise (4:2:0 averages line pairs);
 * I420 only 4:2:0. Edges of sizes that are not whole MCUs are filled by replicating the last column
 * and line.
 *
 * Streaming: the output is produced in slices of any size into caller buffers, and the input is
 * read one MCU row at a time, so a frame needs neither a whole input nor a whole output buffer:
 *
 *     ec_jpeg_enc st; ec_jpeg_enc_init(&st, sizeof st, &params);
 *     while (!ec_jpeg_enc_done(&st)) {
 *         int row = ec_jpeg_enc_row(&st);        // the MCU row the next call reads
 *         ... fill `rows` with lines row*mcu_height .. (row+1)*mcu_height-1 of the image ...
 *         int n = ec_jpeg_enc_write(&st, &rows, out, sizeof out);   // n >= 0 bytes
 *         ... send out[0..n) ...
 *     }
 *
 * A call stops when `out` is full, when it has finished its MCU row (the caller then supplies
 * the next one), or at the end of the stream. The rows must stay unchanged while
 * ec_jpeg_enc_row() still reports the same row. The state is plain memory (about 1.1 KB) and holds
 * the current MCU, so any output slice size works, even 1 byte; a call with at least
 * EC_JPEG_BLOCK_MAX bytes of room codes whole blocks at a time (the fast path). With
 * EC_JPEG_SCAN_ONLY the stream is only the entropy-coded segment (no markers before SOS and no
 * EOI), as RTP/JPEG carries it. */
#ifndef EC_JPEG_H
#define EC_JPEG_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

/* input formats */
#define EC_JPEG_RGB888 0
#define EC_JPEG_RGB565LE 1
#define EC_JPEG_RGB565BE 2
#define EC_JPEG_YUYV 3
#define EC_JPEG_I420 4
#define EC_JPEG_I422 5

/* chroma subsampling of the coded image */
#define EC_JPEG_420 0
#define EC_JPEG_422 1

/* flags */
#define EC_JPEG_SCAN_ONLY 1u /* emit only the entropy-coded segment (for RTP/JPEG, RFC 2435) */

/* The largest header ec_jpeg_header writes (SOI, APP0, 2 DQT, SOF0, 4 DHT, DRI, SOS). */
#define EC_JPEG_HEADER_MAX 629
/* Worst-case coded bytes of one 8x8 block (all 64 coefficients of the longest codes, every byte
 * stuffed), plus a restart marker: a bound for sizing, never needed by the API. */
#define EC_JPEG_BLOCK_MAX 420

typedef struct {
    uint16_t width;            /* 1..65535 */
    uint16_t height;           /* 1..65535 */
    uint8_t format;            /* EC_JPEG_RGB888 .. EC_JPEG_I422 */
    uint8_t subsampling;       /* EC_JPEG_420 or EC_JPEG_422 */
    uint8_t quality;           /* 1..100 (IJG scale) */
    uint8_t flags;             /* 0 or EC_JPEG_SCAN_ONLY */
    uint16_t restart_interval; /* MCUs between restart markers, 0 = none */
} ec_jpeg_params;

/* Pixel source: plane pointers and strides (bytes from one line to the next). For
 * ec_jpeg_enc_write they point at the first line of the current MCU row, for ec_jpeg_enc_frame at
 * the first line of the image. Unused planes may be NULL. Each plane must hold its lines (all of the
 * MCU row's lines that exist in the image; I420 chroma: half as many, rounded up) of at least
 * width * 3 (RGB888), width * 2 (RGB565), 4 * ceil(width / 2) (YUYV), width (Y) or ceil(width / 2)
 * (Cb, Cr) bytes: the encoder reads nothing else. */
typedef struct {
    const uint8_t *plane[3];
    size_t stride[3];
} ec_jpeg_rows;

typedef struct {
    uint32_t magic;
    ec_jpeg_params p;
    uint8_t phase;        /* header, scan, trailer, done */
    uint8_t nblocks;      /* blocks per MCU: 6 (4:2:0) or 4 (4:2:2) */
    uint8_t mcu_h;        /* 16 or 8 */
    uint8_t blk;          /* block of the MCU being coded */
    uint8_t k;            /* next zig-zag index to code in the block; 0 = DC, 64 = block done */
    uint8_t last;         /* zig-zag index of the last non-zero coefficient of the block */
    uint8_t run;          /* zero run pending before coefficient k */
    uint8_t loaded;       /* 1 when mcu[] holds the samples of MCU (row, mcu_x) */
    uint8_t block_ready;  /* 1 when coef[] holds the quantised block blk */
    uint8_t rst_next;     /* n of the next RSTn marker, 0..7 */
    uint8_t nbits;        /* bits in acc, 0..7 between symbols */
    uint8_t npend;        /* bytes in pend[] not yet delivered */
    uint8_t pend_off;     /* first undelivered byte of pend[] */
    uint8_t pad_[3];
    uint16_t mcus_x;      /* MCUs per row */
    uint16_t mcu_rows;    /* MCU rows per frame */
    uint16_t row;         /* current MCU row */
    uint16_t mcu_x;       /* current MCU in the row */
    uint16_t rst_left;    /* MCUs before the next restart marker */
    uint16_t header_len;  /* bytes of the JFIF header (0 with EC_JPEG_SCAN_ONLY) */
    uint32_t header_pos;  /* header bytes delivered so far */
    uint32_t acc;         /* bit accumulator, nbits valid low bits */
    int16_t dc_pred[3];   /* DC predictors of Y, Cb, Cr (F.1.1.5.1) */
    uint8_t pend[14];     /* coded bytes of the last symbol that did not fit the caller's buffer */
    uint8_t qtab[128];    /* quantisation tables (luminance, chrominance), zig-zag order as in DQT */
    uint16_t recip[2][64]; /* reciprocals of the scaled quantiser steps, zig-zag order */
    uint8_t shift[2][64];  /* their shifts: q = (|F| * recip + 2^(shift-1)) >> shift */
    int16_t coef[64];      /* the current block, quantised, zig-zag order */
    uint8_t mcu[6][64];    /* samples of the current MCU: Y blocks, then Cb, Cr */
} ec_jpeg_enc;

size_t ec_jpeg_enc_state_size(void);
/* Checks the parameters and prepares a frame. Returns EC_OK, EC_ERR_ARG (a parameter out of
 * range), EC_ERR_UNSUPPORTED (I420 input coded 4:2:2) or EC_ERR_SHORT_BUFFER (st_size). */
int ec_jpeg_enc_init(ec_jpeg_enc *st, size_t st_size, const ec_jpeg_params *params);
/* Starts the next frame with the same parameters (no need to init again). */
int ec_jpeg_enc_new_frame(ec_jpeg_enc *st);
/* The MCU row the next ec_jpeg_enc_write reads, 0..mcu_rows-1; mcu_rows once all rows are coded
 * (then `rows` may be NULL); negative on a bad state. */
int ec_jpeg_enc_row(const ec_jpeg_enc *st);
/* Lines per MCU row: 16 (4:2:0) or 8 (4:2:2); the last MCU row has the remaining lines. */
int ec_jpeg_enc_mcu_height(const ec_jpeg_enc *st);
/* 1 once the whole stream (up to EOI) has been delivered, 0 before, negative on a bad state. */
int ec_jpeg_enc_done(const ec_jpeg_enc *st);
/* Writes the next bytes of the stream into out (cap bytes); reads the MCU row
 * ec_jpeg_enc_row() from `rows` (NULL: stop where input would be needed). Returns the number of
 * bytes written (0..cap) or EC_ERR_STATE / EC_ERR_ARG. */
int ec_jpeg_enc_write(ec_jpeg_enc *st, const ec_jpeg_rows *rows, uint8_t *out, size_t cap);
/* The same with `frame` describing the whole image: continues across MCU rows until out is full
 * or the stream ends. Returns the number of bytes written. */
int ec_jpeg_enc_frame(ec_jpeg_enc *st, const ec_jpeg_rows *frame, uint8_t *out, size_t cap);

/* The IJG quality scaling of the Annex K.1 tables (as RFC 2435 Appendix A for quality 1..99):
 * writes 128 bytes, luminance then chrominance, zig-zag order. quality 1..100. */
int ec_jpeg_quant_tables(int quality, uint8_t tables[128]);
/* Writes the JFIF header this encoder emits (SOI .. SOS) for the given frame into out; tables:
 * 128 bytes in zig-zag order. Returns its length or EC_ERR_ARG / EC_ERR_SHORT_BUFFER. Shared
 * with the RTP/JPEG depacketizer, which rebuilds the header RFC 2435 leaves out. */
int ec_jpeg_header(uint16_t width, uint16_t height, int subsampling, const uint8_t tables[128],
                   uint16_t restart_interval, uint8_t *out, size_t cap);
/* The standard Huffman table (T.81 Annex K.3) that DHT class/id tc_th (0x00 luminance DC, 0x10
 * luminance AC, 0x01 chrominance DC, 0x11 chrominance AC) carries: 16 BITS counts then HUFFVAL.
 * Returns NULL for another tc_th. */
const uint8_t *ec_jpeg_std_dht(int tc_th, size_t *len);

#endif
