/* ec_rtp.h — RTP fixed header (RFC 3550 §5.1, §5.3.1), parsing and writing, and the audio
 * payload types of RFC 3551 §6 that EdgeCall packetises.
 *
 * The parser checks everything the header announces against the bytes given: version 2, the
 * CSRC list, the header extension and the padding must all fit; otherwise EC_ERR_MALFORMED. It
 * never reads outside [pkt, pkt + len). The payload is returned as an offset and length into
 * the packet (no copy).
 *
 * RFC 3551 clock rates: PCMU (PT 0), PCMA (PT 8), DVI4 (PT 5) and G.722 (PT 9) all use an
 * 8000 Hz RTP clock — for G.722 although it samples at 16 kHz (RFC 3551 §4.5.2). */
#ifndef EC_RTP_H
#define EC_RTP_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_RTP_HEADER 12 /* fixed header bytes */
#define EC_RTP_VERSION 2
#define EC_RTP_MAX_CSRC 15

/* Static payload types (RFC 3551 table 4). */
#define EC_RTP_PT_PCMU 0
#define EC_RTP_PT_DVI4 5
#define EC_RTP_PT_PCMA 8
#define EC_RTP_PT_G722 9

typedef struct {
    uint8_t padding;   /* P bit */
    uint8_t extension; /* X bit */
    uint8_t cc;        /* CSRC count */
    uint8_t marker;    /* M bit */
    uint8_t pt;        /* payload type, 0..127 */
    uint16_t seq;
    uint32_t ts;
    uint32_t ssrc;
    uint32_t csrc[EC_RTP_MAX_CSRC];
    uint16_t ext_profile; /* when extension: the 16-bit profile-defined field */
    uint16_t ext_words;   /* when extension: its length in 32-bit words (after the 4-byte header) */
    uint16_t payload_off; /* payload position in the packet */
    uint16_t payload_len; /* payload bytes (padding excluded) */
    uint8_t pad_len;      /* padding bytes at the end (0 when no P bit) */
} ec_rtp_header;

/* Parses an RTP packet of len bytes (len < 65536). Returns EC_OK, EC_ERR_ARG (NULL) or
 * EC_ERR_MALFORMED: shorter than 12 bytes, version != 2, CSRC list, extension or padding beyond
 * the packet, or a padding count of 0. On error *h is unspecified. */
int ec_rtp_parse(const uint8_t *pkt, size_t len, ec_rtp_header *h);

/* For the _init functions of the RTP payload (de)packetizers: checks the caller's state buffer
 * and clears the first `need` bytes. EC_ERR_ARG (NULL), EC_ERR_SHORT_BUFFER (st_size < need)
 * or EC_OK. */
int ec_rtp_state_clear(void *st, size_t st_size, size_t need);

/* Writes the header fields of h (V=2, P=0, X=0, h->cc CSRCs from h->csrc, M, PT, seq, ts,
 * SSRC) followed by plen payload bytes. Returns the packet length, EC_ERR_ARG (pt > 127,
 * cc > 15, NULL) or EC_ERR_SHORT_BUFFER. payload may be NULL when plen is 0. */
int ec_rtp_write(const ec_rtp_header *h, const uint8_t *payload, size_t plen, uint8_t *out, size_t cap);

/* Big-endian helpers shared by the packet modules. */
static inline uint16_t ec_rd16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}
static inline uint32_t ec_rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void ec_wr16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void ec_wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
