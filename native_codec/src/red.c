/* red.c — RFC 2198 §3 redundant audio payload: header chain parse and write. */
#include "ec_red.h"

int ec_red_parse(const uint8_t *payload, size_t len, ec_red_block *blocks, size_t max)
{
    size_t off = 0, n = 0, data, i;
    if (payload == NULL || blocks == NULL || max == 0u) {
        return EC_ERR_ARG;
    }
    if (len > 65535u) {
        return EC_ERR_MALFORMED;
    }
    for (;;) {
        if (n >= max || n >= EC_RED_MAX_BLOCKS || off >= len) {
            return EC_ERR_MALFORMED;
        }
        if ((payload[off] & 0x80u) == 0u) {
            blocks[n].pt = (uint8_t)(payload[off] & 0x7fu);
            blocks[n].primary = 1;
            blocks[n].ts_offset = 0;
            off += 1;
            n++;
            break;
        }
        if (len - off < 4u) {
            return EC_ERR_MALFORMED;
        }
        blocks[n].pt = (uint8_t)(payload[off] & 0x7fu);
        blocks[n].primary = 0;
        blocks[n].ts_offset = (uint16_t)(((unsigned)payload[off + 1] << 6) | (payload[off + 2] >> 2));
        blocks[n].len = (uint16_t)(((unsigned)(payload[off + 2] & 3u) << 8) | payload[off + 3]);
        off += 4;
        n++;
    }
    data = off;
    for (i = 0; i + 1 < n; i++) {
        if (blocks[i].len > len - data) {
            return EC_ERR_MALFORMED;
        }
        blocks[i].off = (uint16_t)data;
        data += blocks[i].len;
    }
    blocks[n - 1].off = (uint16_t)data;
    blocks[n - 1].len = (uint16_t)(len - data);
    return (int)n;
}

int ec_red_write(const ec_red_block *blocks, const uint8_t *const *data, size_t n, uint8_t *out, size_t cap)
{
    size_t need, i, j, off;
    if (blocks == NULL || data == NULL || out == NULL || n == 0u || n > EC_RED_MAX_BLOCKS) {
        return EC_ERR_ARG;
    }
    need = 4u * (n - 1u) + 1u;
    for (i = 0; i < n; i++) {
        if (blocks[i].pt > 127u || (data[i] == NULL && blocks[i].len > 0u)) {
            return EC_ERR_ARG;
        }
        if (i + 1 < n && (blocks[i].ts_offset > EC_RED_MAX_TS_OFFSET || blocks[i].len > EC_RED_MAX_LEN)) {
            return EC_ERR_ARG;
        }
        need += blocks[i].len;
    }
    if (need > 65535u) {
        return EC_ERR_ARG;
    }
    if (cap < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    off = 0;
    for (i = 0; i + 1 < n; i++) {
        out[off] = (uint8_t)(0x80u | blocks[i].pt);
        out[off + 1] = (uint8_t)(blocks[i].ts_offset >> 6);
        out[off + 2] = (uint8_t)(((blocks[i].ts_offset & 0x3fu) << 2) | (blocks[i].len >> 8));
        out[off + 3] = (uint8_t)blocks[i].len;
        off += 4;
    }
    out[off++] = blocks[n - 1].pt;
    for (i = 0; i < n; i++) {
        for (j = 0; j < blocks[i].len; j++) {
            out[off + j] = data[i][j];
        }
        off += blocks[i].len;
    }
    return (int)off;
}
