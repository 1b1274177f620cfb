/* ec_red.h — RTP payload for redundant audio data (RFC 2198 §3).
 *
 * A RED payload is a chain of block headers — 4 bytes for each redundant block (F = 1, block
 * PT, 14-bit timestamp offset, 10-bit length), then 1 byte for the primary (F = 0, PT) — followed
 * by the blocks' data in the same order; the primary takes the rest of the payload. The parser
 * rejects a chain that runs past the payload, data lengths that add up to more than the payload,
 * and chains longer than EC_RED_MAX_BLOCKS; it never reads outside the buffer. */
#ifndef EC_RED_H
#define EC_RED_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_RED_MAX_BLOCKS 8          /* redundant blocks + primary a payload may carry */
#define EC_RED_MAX_TS_OFFSET 0x3fffu /* 14 bits */
#define EC_RED_MAX_LEN 0x3ffu        /* 10 bits */

typedef struct {
    uint8_t pt;         /* block payload type */
    uint8_t primary;    /* 1 for the last (primary) block */
    uint16_t ts_offset; /* subtract from the RTP timestamp (0 for the primary) */
    uint16_t off;       /* data position in the RED payload */
    uint16_t len;       /* data bytes */
} ec_red_block;

/* Parses a RED payload (the RTP payload, len < 65536). Fills up to max blocks, oldest first and
 * the primary last. Returns the block count (>= 1), EC_ERR_ARG or EC_ERR_MALFORMED (also when the
 * payload has more than max or EC_RED_MAX_BLOCKS blocks). */
int ec_red_parse(const uint8_t *payload, size_t len, ec_red_block *blocks, size_t max);

/* Writes a RED payload from n blocks (the last one is the primary; its ts_offset is ignored),
 * block i's data taken from data[i]. Returns the payload length, EC_ERR_ARG (n == 0 or above
 * EC_RED_MAX_BLOCKS, pt > 127, a redundant block's offset or length beyond 14 / 10 bits) or
 * EC_ERR_SHORT_BUFFER. */
int ec_red_write(const ec_red_block *blocks, const uint8_t *const *data, size_t n, uint8_t *out, size_t cap);

#endif
