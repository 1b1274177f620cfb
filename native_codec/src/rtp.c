/* rtp.c — RTP fixed header parse and write (RFC 3550 §5.1 header, §5.3.1 header extension,
 * padding as in §5.1 "P"). Bounds are checked before every read. */
#include "ec_rtp.h"

int ec_rtp_state_clear(void *st, size_t st_size, size_t need)
{
    size_t i;
    if (st == NULL) {
        return EC_ERR_ARG;
    }
    if (st_size < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    for (i = 0; i < need; i++) {
        ((uint8_t *)st)[i] = 0;
    }
    return EC_OK;
}

int ec_rtp_parse(const uint8_t *pkt, size_t len, ec_rtp_header *h)
{
    size_t off, end, i;
    if (pkt == NULL || h == NULL) {
        return EC_ERR_ARG;
    }
    if (len < EC_RTP_HEADER || len > 65535u) {
        return EC_ERR_MALFORMED;
    }
    if ((pkt[0] >> 6) != EC_RTP_VERSION) {
        return EC_ERR_MALFORMED;
    }
    h->padding = (uint8_t)((pkt[0] >> 5) & 1u);
    h->extension = (uint8_t)((pkt[0] >> 4) & 1u);
    h->cc = (uint8_t)(pkt[0] & 0x0fu);
    h->marker = (uint8_t)(pkt[1] >> 7);
    h->pt = (uint8_t)(pkt[1] & 0x7fu);
    h->seq = ec_rd16(pkt + 2);
    h->ts = ec_rd32(pkt + 4);
    h->ssrc = ec_rd32(pkt + 8);
    end = len;
    h->pad_len = 0;
    if (h->padding) {
        /* the last octet counts the padding, itself included (RFC 3550 §5.1) */
        unsigned n = pkt[len - 1];
        if (n == 0u || n > len - EC_RTP_HEADER) {
            return EC_ERR_MALFORMED;
        }
        h->pad_len = (uint8_t)n;
        end = len - n;
    }
    off = EC_RTP_HEADER;
    if (4u * h->cc > end - off) {
        return EC_ERR_MALFORMED;
    }
    for (i = 0; i < h->cc; i++) {
        h->csrc[i] = ec_rd32(pkt + off);
        off += 4;
    }
    h->ext_profile = 0;
    h->ext_words = 0;
    if (h->extension) {
        if (end - off < 4u) {
            return EC_ERR_MALFORMED;
        }
        h->ext_profile = ec_rd16(pkt + off);
        h->ext_words = ec_rd16(pkt + off + 2);
        off += 4;
        if (4u * (size_t)h->ext_words > end - off) {
            return EC_ERR_MALFORMED;
        }
        off += 4u * (size_t)h->ext_words;
    }
    h->payload_off = (uint16_t)off;
    h->payload_len = (uint16_t)(end - off);
    return EC_OK;
}

int ec_rtp_write(const ec_rtp_header *h, const uint8_t *payload, size_t plen, uint8_t *out, size_t cap)
{
    size_t need, i, off;
    if (h == NULL || out == NULL || (payload == NULL && plen > 0) || h->pt > 127u || h->cc > EC_RTP_MAX_CSRC) {
        return EC_ERR_ARG;
    }
    need = EC_RTP_HEADER + 4u * h->cc;
    if (plen > 65535u - need) {
        return EC_ERR_ARG;
    }
    need += plen;
    if (cap < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    out[0] = (uint8_t)((EC_RTP_VERSION << 6) | h->cc);
    out[1] = (uint8_t)((h->marker ? 0x80u : 0u) | h->pt);
    ec_wr16(out + 2, h->seq);
    ec_wr32(out + 4, h->ts);
    ec_wr32(out + 8, h->ssrc);
    off = EC_RTP_HEADER;
    for (i = 0; i < h->cc; i++) {
        ec_wr32(out + off, h->csrc[i]);
        off += 4;
    }
    for (i = 0; i < plen; i++) {
        out[off + i] = payload[i];
    }
    return (int)need;
}
