/* fec.c — RFC 5109 parity FEC: FEC header (§7.3) and ULP level headers (§7.4) parse and write,
 * parity generation (§8.1) and recovery (§8.2) of one missing packet with level 0. */
#include "ec_fec.h"
#include "ec_rtp.h"

int ec_fec_mask_count(uint64_t mask)
{
    int n = 0;
    while (mask != 0u) {
        mask &= mask - 1u;
        n++;
    }
    return n;
}

int ec_fec_parse(const uint8_t *payload, size_t len, ec_fec_header *h)
{
    size_t off, lh;
    if (payload == NULL || h == NULL) {
        return EC_ERR_ARG;
    }
    if (len < EC_FEC_HEADER + EC_FEC_LEVEL_SHORT || len > 65535u || (payload[0] & 0x80u) != 0u) {
        return EC_ERR_MALFORMED;
    }
    h->long_mask = (uint8_t)((payload[0] >> 6) & 1u);
    h->p = (uint8_t)((payload[0] >> 5) & 1u);
    h->x = (uint8_t)((payload[0] >> 4) & 1u);
    h->cc = (uint8_t)(payload[0] & 0x0fu);
    h->m = (uint8_t)(payload[1] >> 7);
    h->pt = (uint8_t)(payload[1] & 0x7fu);
    h->sn_base = ec_rd16(payload + 2);
    h->ts_recovery = ec_rd32(payload + 4);
    h->length_recovery = ec_rd16(payload + 8);
    lh = h->long_mask ? EC_FEC_LEVEL_LONG : EC_FEC_LEVEL_SHORT;
    off = EC_FEC_HEADER;
    h->levels = 0;
    h->mask = 0;
    h->prot_len = 0;
    h->data_off = 0;
    while (off < len) {
        uint16_t pl;
        uint64_t wire;
        unsigned i, bits = h->long_mask ? 48u : 16u;
        if (len - off < lh) {
            return EC_ERR_MALFORMED;
        }
        pl = ec_rd16(payload + off);
        wire = ec_rd16(payload + off + 2);
        if (h->long_mask) {
            wire = (wire << 32) | ec_rd32(payload + off + 4);
        }
        off += lh;
        if (pl > len - off) {
            return EC_ERR_MALFORMED;
        }
        if (h->levels == 0u) {
            if (wire == 0u) {
                return EC_ERR_MALFORMED;
            }
            for (i = 0; i < bits; i++) {
                if (wire & ((uint64_t)1 << (bits - 1u - i))) {
                    h->mask |= (uint64_t)1 << i;
                }
            }
            h->prot_len = pl;
            h->data_off = (uint16_t)off;
        }
        off += pl;
        if (h->levels < 255u) {
            h->levels++;
        }
    }
    return EC_OK;
}

int ec_fec_write(const ec_fec_source *src, size_t n, uint16_t sn_base, uint8_t *out, size_t cap)
{
    size_t i, j, prot = 0, lh, need;
    uint64_t mask = 0;
    unsigned maxoff = 0, bits;
    uint8_t b0 = 0, b1 = 0;
    uint32_t ts = 0;
    uint16_t lenrec = 0;
    uint8_t *data;
    if (src == NULL || out == NULL || n == 0u || n > EC_FEC_MAX_GROUP) {
        return EC_ERR_ARG;
    }
    for (i = 0; i < n; i++) {
        unsigned d = (uint16_t)(src[i].seq - sn_base);
        if (d >= EC_FEC_MAX_GROUP || (mask & ((uint64_t)1 << d)) || src[i].pt > 127u ||
            (src[i].payload == NULL && src[i].len > 0u)) {
            return EC_ERR_ARG;
        }
        mask |= (uint64_t)1 << d;
        if (d > maxoff) {
            maxoff = d;
        }
        if (src[i].len > prot) {
            prot = src[i].len;
        }
    }
    lh = maxoff >= 16u ? EC_FEC_LEVEL_LONG : EC_FEC_LEVEL_SHORT;
    bits = maxoff >= 16u ? 48u : 16u;
    need = EC_FEC_HEADER + lh + prot;
    if (need > 65535u) {
        return EC_ERR_ARG;
    }
    if (cap < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    data = out + EC_FEC_HEADER + lh;
    for (j = 0; j < prot; j++) {
        data[j] = 0;
    }
    for (i = 0; i < n; i++) {
        /* P, X, CC are 0 in the packets this module protects (no padding, extension or CSRCs) */
        b1 ^= (uint8_t)((src[i].marker ? 0x80u : 0u) | src[i].pt);
        ts ^= src[i].ts;
        lenrec ^= src[i].len;
        for (j = 0; j < src[i].len; j++) {
            data[j] ^= src[i].payload[j];
        }
    }
    if (lh == EC_FEC_LEVEL_LONG) {
        b0 |= 0x40u;
    }
    out[0] = b0;
    out[1] = b1;
    ec_wr16(out + 2, sn_base);
    ec_wr32(out + 4, ts);
    ec_wr16(out + 8, lenrec);
    ec_wr16(out + 10, (uint32_t)prot);
    {
        uint64_t wire = 0;
        for (i = 0; i < bits; i++) {
            if (mask & ((uint64_t)1 << i)) {
                wire |= (uint64_t)1 << (bits - 1u - i);
            }
        }
        if (bits == 48u) {
            ec_wr16(out + 12, (uint32_t)(wire >> 32));
            ec_wr32(out + 14, (uint32_t)wire);
        } else {
            ec_wr16(out + 12, (uint32_t)wire);
        }
    }
    return (int)need;
}

int ec_fec_recover(const ec_fec_header *h, const uint8_t *fec_payload, size_t fec_len, const ec_fec_source *present,
                   size_t n, ec_fec_recovered *rec, uint8_t *out, size_t cap)
{
    uint64_t seen = 0, missing;
    uint8_t b0, b1;
    uint32_t ts;
    uint16_t len;
    size_t i, j;
    unsigned d;
    if (h == NULL || fec_payload == NULL || rec == NULL || out == NULL || (present == NULL && n > 0u) ||
        (size_t)h->data_off + h->prot_len > fec_len) {
        return EC_ERR_ARG;
    }
    if ((size_t)ec_fec_mask_count(h->mask) != n + 1u) {
        return EC_ERR_ARG;
    }
    b0 = (uint8_t)((h->p << 5) | (h->x << 4) | h->cc);
    b1 = (uint8_t)((h->m << 7) | h->pt);
    ts = h->ts_recovery;
    len = h->length_recovery;
    for (i = 0; i < n; i++) {
        d = (uint16_t)(present[i].seq - h->sn_base);
        if (d >= EC_FEC_MAX_GROUP || !(h->mask & ((uint64_t)1 << d)) || (seen & ((uint64_t)1 << d)) ||
            (present[i].payload == NULL && present[i].len > 0u)) {
            return EC_ERR_ARG;
        }
        seen |= (uint64_t)1 << d;
        b1 ^= (uint8_t)((present[i].marker ? 0x80u : 0u) | (present[i].pt & 0x7fu));
        ts ^= present[i].ts;
        len ^= present[i].len;
    }
    if (len > h->prot_len) {
        return EC_ERR_UNSUPPORTED;
    }
    if (cap < len) {
        return EC_ERR_SHORT_BUFFER;
    }
    for (j = 0; j < len; j++) {
        out[j] = fec_payload[h->data_off + j];
    }
    for (i = 0; i < n; i++) {
        size_t m = present[i].len < len ? present[i].len : len;
        for (j = 0; j < m; j++) {
            out[j] ^= present[i].payload[j];
        }
    }
    missing = h->mask & ~seen;
    d = 0;
    while (!(missing & ((uint64_t)1 << d))) {
        d++;
    }
    rec->seq = (uint16_t)(h->sn_base + d);
    rec->p = (uint8_t)((b0 >> 5) & 1u);
    rec->x = (uint8_t)((b0 >> 4) & 1u);
    rec->cc = (uint8_t)(b0 & 0x0fu);
    rec->marker = (uint8_t)(b1 >> 7);
    rec->pt = (uint8_t)(b1 & 0x7fu);
    rec->ts = ts;
    rec->len = len;
    return (int)len;
}

void ec_fec_bits_init(ec_fec_bits *acc, const ec_fec_header *h)
{
    acc->b0 = (uint8_t)((h->p << 5) | (h->x << 4) | h->cc);
    acc->b1 = (uint8_t)((h->m << 7) | h->pt);
    acc->ts = h->ts_recovery;
    acc->len = h->length_recovery;
}

void ec_fec_bits_add(ec_fec_bits *acc, unsigned marker, unsigned pt, uint32_t ts, uint16_t len)
{
    acc->b1 ^= (uint8_t)((marker ? 0x80u : 0u) | (pt & 0x7fu));
    acc->ts ^= ts;
    acc->len ^= len;
}

void ec_fec_xor(uint8_t *dst, const uint8_t *src, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        dst[i] ^= src[i];
    }
}
