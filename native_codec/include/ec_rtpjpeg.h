/* ec_rtpjpeg.h — RTP payload format for JPEG-compressed video (RFC 2435), on RTP (RFC 3550).
 *
 * Packet = RTP header (12 bytes) + JPEG header (8, §3.1) + Restart Marker header (4, §3.1.7,
 * types 64..127) + Quantization Table header (4 + 128, §3.1.8, Q >= 128, first packet only) +
 * a fragment of the entropy-coded scan. Types 0 (4:2:2) and 1 (4:2:0), §4.1; the receiver rebuilds
 * the JFIF header (Appendix B style) with the standard Huffman tables and, for Q 1..99, the tables
 * of Appendix A (the IJG scaling: the tables ec_jpeg_quant_tables gives).
 *
 * Packetizer: ec_rtpjpeg_pack_frame + ec_rtpjpeg_pack_next for a whole scan in memory. With a
 * restart interval, packets start and end on restart intervals where they fit (F, L and the Restart
 * Count of §3.1.7 set accordingly; longer intervals are fragmented), so a receiver could decode
 * every complete interval. For a scan that is being encoded (no frame buffer),
 * ec_rtpjpeg_pack_stream + ec_rtpjpeg_pack_header / ec_rtpjpeg_pack_commit: the caller lets the
 * encoder write straight into the packet after the headers (restart count 0x3FFF: reassemble).
 *
 * Depacketizer: reassembles fragments by their offsets (any order, duplicates ignored) into a
 * caller buffer and returns a complete JFIF frame (header + scan + EOI) when the packet with the
 * marker bit and every byte before it have arrived. A frame with a gap when the next timestamp
 * starts is dropped; late copies of packets of the frame just delivered are ignored. Frames this encoder made with sizes that are multiples of 8 come back byte
 * for byte; RFC 2435 carries sizes in units of 8 pixels, so other sizes come back rounded up. */
#ifndef EC_RTPJPEG_H
#define EC_RTPJPEG_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_RTPJPEG_PT 26          /* static payload type of JPEG (RFC 3551) */
#define EC_RTPJPEG_MAX_SIZE 2040  /* largest width or height: 255 units of 8 pixels */
#define EC_RTPJPEG_MIN_MTU 192    /* room for all headers and the in-band tables */
/* Bytes a depacketizer buffer needs beyond the scan: the largest JFIF header, EOI. */
#define EC_RTPJPEG_FRAME_OVERHEAD 631

/* What RFC 2435 carries about a frame. */
typedef struct {
    uint8_t type;              /* 0: 4:2:2, 1: 4:2:0 (64 is added on the wire with restart markers) */
    uint8_t q;                 /* 1..99: Appendix A tables; 128..255: tables in-band (255: every frame) */
    uint16_t width;            /* pixels, 8..2040 (sent in units of 8, rounded up) */
    uint16_t height;
    uint16_t restart_interval; /* MCUs, 0 = none */
    uint8_t tables[128];       /* luminance, chrominance, zig-zag order; used when q >= 128 */
} ec_rtpjpeg_frame;

/* Describes a baseline JFIF stream (as ec_jpeg_enc writes it, or any baseline 4:2:0 / 4:2:2
 * YCbCr JPEG with the standard Huffman tables and 8-bit quantisation tables): fills *fr (q is
 * the Appendix A value whose tables match, else 255 with the tables) and the position of the
 * entropy-coded scan. Returns EC_OK, EC_ERR_MALFORMED or EC_ERR_UNSUPPORTED (progressive,
 * other sampling, custom Huffman tables, larger than 2040). */
int ec_rtpjpeg_parse_jfif(const uint8_t *jfif, size_t len, ec_rtpjpeg_frame *fr, size_t *scan_off, size_t *scan_len);
/* The frame description for a stream of ec_jpeg_enc with these parameters. */
int ec_rtpjpeg_frame_for(uint16_t width, uint16_t height, int subsampling, int quality, uint16_t restart_interval,
                         ec_rtpjpeg_frame *fr);

typedef struct {
    uint32_t magic;
    uint32_t ssrc;
    uint32_t ts;
    uint16_t seq;         /* sequence number of the next packet */
    uint16_t mtu;         /* largest packet, RTP header included */
    uint8_t pt;
    uint8_t active;       /* 1 while a frame is being packetized */
    uint8_t streaming;    /* 1: the caller supplies the payload (pack_stream) */
    uint8_t mid_interval; /* 1 when off is inside a restart interval (F = 0) */
    uint32_t off;         /* fragment offset of the next packet */
    uint32_t rst_count;   /* restart interval that begins (or continues) at off */
    const uint8_t *scan;  /* the caller's scan (pack_frame) */
    uint32_t scan_len;
    ec_rtpjpeg_frame fr;
} ec_rtpjpeg_pack;

size_t ec_rtpjpeg_pack_state_size(void);
/* mtu: EC_RTPJPEG_MIN_MTU..65535; pt 0..127; seq: the first sequence number. */
int ec_rtpjpeg_pack_init(ec_rtpjpeg_pack *st, size_t st_size, uint32_t ssrc, int pt, int mtu, uint16_t seq);
/* Starts a frame whose entropy-coded scan is scan[0..scan_len) (kept by the caller until the last
 * packet); ts is the RTP timestamp (90 kHz). EC_ERR_ARG for a bad description or an empty scan. */
int ec_rtpjpeg_pack_frame(ec_rtpjpeg_pack *st, const ec_rtpjpeg_frame *fr, const uint8_t *scan, size_t scan_len,
                          uint32_t ts);
/* Writes the next packet of the frame into pkt; returns its length, 0 when the frame is done. */
int ec_rtpjpeg_pack_next(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t cap);
/* Starts a frame whose scan the caller produces while sending. */
int ec_rtpjpeg_pack_stream(ec_rtpjpeg_pack *st, const ec_rtpjpeg_frame *fr, uint32_t ts);
/* Writes the headers of the next packet; returns their length h. The caller puts 1..mtu-h payload
 * bytes (the next bytes of the scan) at pkt + h, then calls pack_commit. */
int ec_rtpjpeg_pack_header(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t cap);
/* Completes the packet begun by pack_header: last = 1 for the frame's final packet (marker bit).
 * Returns the packet length. */
int ec_rtpjpeg_pack_commit(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t payload_len, int last);

#define EC_RTPJPEG_MAX_RANGES 16

typedef struct {
    uint32_t magic;
    uint8_t active;       /* a frame is being collected */
    uint8_t broken;       /* the frame cannot complete (inconsistent or too large) */
    uint8_t have_last;    /* the marker packet arrived: total is known */
    uint8_t have_tables;  /* tables[] hold this frame's in-band tables */
    uint8_t cached_q;     /* Q (128..254) whose tables are cached in cache[], 0 = none */
    uint8_t nranges;
    uint8_t type;         /* 0 or 1 */
    uint8_t q;
    uint16_t width, height, restart_interval;
    uint32_t ssrc, ts;
    uint32_t total;       /* scan length, once have_last */
    uint32_t range_start[EC_RTPJPEG_MAX_RANGES];
    uint32_t range_end[EC_RTPJPEG_MAX_RANGES];
    uint8_t have_done;    /* done_ts/done_ssrc name the last frame delivered */
    uint8_t pad_[3];
    uint32_t done_ts, done_ssrc;
    uint32_t frames;      /* frames delivered */
    uint32_t dropped;     /* frames given up */
    uint8_t tables[128];
    uint8_t cache[128];
} ec_rtpjpeg_depack;

size_t ec_rtpjpeg_depack_state_size(void);
int ec_rtpjpeg_depack_init(ec_rtpjpeg_depack *st, size_t st_size);
/* Takes one RTP packet. `frame` (cap bytes: the largest scan + EC_RTPJPEG_FRAME_OVERHEAD) is the
 * reassembly buffer: pass the same one with every packet. Returns the length of the complete
 * JFIF frame now at frame[0..n), 0 when no frame completed, EC_ERR_MALFORMED for a packet that does
 * not parse (ignored), EC_ERR_UNSUPPORTED for a type this receiver cannot rebuild (ignored). */
int ec_rtpjpeg_depack_push(ec_rtpjpeg_depack *st, const uint8_t *pkt, size_t len, uint8_t *frame, size_t cap);

#endif
