/* ec_fec.h — generic XOR parity FEC in the RTP payload format of RFC 5109 (ULP FEC, §7).
 *
 * An FEC packet's payload is the 10-byte FEC header (§7.3: E, L, P/X/CC/M/PT recovery, SN base,
 * TS recovery, length recovery), then one or more ULP level headers (§7.4: protection length and
 * a 16-bit mask, or 48 bits with L = 1) each followed by its protected bytes. Bit i of the mask
 * (most significant first) marks the media packet with sequence number SN base + i. This module
 * uses level 0 only (full protection of every packet up to the protection length) and parses
 * further levels just to check their lengths.
 *
 * The protected "bit string" of a media packet (§8.1): its P, X, CC, M and PT fields, timestamp,
 * the length of everything after the 12-byte fixed header, and those bytes, zero-padded to the
 * protection length. The parity is the XOR of the bit strings; with one member of the group
 * missing, XOR-ing the parity with the others gives it back. */
#ifndef EC_FEC_H
#define EC_FEC_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_FEC_HEADER 10
#define EC_FEC_LEVEL_SHORT 4 /* protection length + 16-bit mask */
#define EC_FEC_LEVEL_LONG 8  /* protection length + 48-bit mask */
#define EC_FEC_MAX_GROUP 48  /* packets one level-0 mask can name */

typedef struct {
    uint8_t long_mask;  /* L */
    uint8_t p, x, cc;   /* recovery fields */
    uint8_t m, pt;
    uint16_t sn_base;
    uint32_t ts_recovery;
    uint16_t length_recovery;
    uint16_t prot_len;  /* level 0 protection length */
    uint64_t mask;      /* level 0, normalised: bit i set = SN base + i protected */
    uint16_t data_off;  /* level 0 protected bytes: offset in the FEC payload, prot_len long */
    uint8_t levels;     /* level headers found */
} ec_fec_header;

/* One media packet of a protection group, as the bit string sees it. */
typedef struct {
    uint16_t seq;
    uint8_t marker;
    uint8_t pt;
    uint32_t ts;
    const uint8_t *payload; /* everything after the 12-byte fixed header */
    uint16_t len;
} ec_fec_source;

/* What ec_fec_recover rebuilds. */
typedef struct {
    uint16_t seq;
    uint8_t p, x, cc, marker, pt;
    uint32_t ts;
    uint16_t len; /* bytes after the fixed header, written to the output buffer */
} ec_fec_recovered;

/* Parses an FEC payload (the RTP payload of an FEC packet). Returns EC_OK, EC_ERR_ARG or
 * EC_ERR_MALFORMED (shorter than the headers, E bit set, an empty level-0 mask, a level's
 * protected bytes beyond the payload). */
int ec_fec_parse(const uint8_t *payload, size_t len, ec_fec_header *h);

/* Builds the FEC payload that protects n media packets (1..EC_FEC_MAX_GROUP, sequence numbers
 * within 48 of sn_base, level 0, protection length = the longest payload). Returns the payload
 * length, EC_ERR_ARG or EC_ERR_SHORT_BUFFER. */
int ec_fec_write(const ec_fec_source *src, size_t n, uint16_t sn_base, uint8_t *out, size_t cap);

/* Recovers the one packet of the mask that is not among the n present ones (which must all be
 * in the mask and distinct). Writes its post-header bytes to out. Returns the recovered length,
 * EC_ERR_ARG (n + 1 != packets in the mask, a present packet outside it), EC_ERR_SHORT_BUFFER,
 * or EC_ERR_UNSUPPORTED (the recovered length exceeds the protection length: only part of the
 * packet is protected). */
int ec_fec_recover(const ec_fec_header *h, const uint8_t *fec_payload, size_t fec_len, const ec_fec_source *present,
                   size_t n, ec_fec_recovered *rec, uint8_t *out, size_t cap);

/* Incremental recovery, for packets that are not contiguous in memory: start from the FEC
 * header's recovery fields, add the fields of every present packet (and XOR their bytes into a
 * copy of the level-0 data with ec_fec_xor); what remains are the missing packet's fields. */
typedef struct {
    uint8_t b0;  /* P, X, CC as in the first octet of an RTP header */
    uint8_t b1;  /* M and PT as in the second */
    uint32_t ts;
    uint16_t len;
} ec_fec_bits;

void ec_fec_bits_init(ec_fec_bits *acc, const ec_fec_header *h);
void ec_fec_bits_add(ec_fec_bits *acc, unsigned marker, unsigned pt, uint32_t ts, uint16_t len);
/* dst[i] ^= src[i] for i < n. */
void ec_fec_xor(uint8_t *dst, const uint8_t *src, size_t n);

/* Number of packets in a normalised mask. */
int ec_fec_mask_count(uint64_t mask);

#endif
