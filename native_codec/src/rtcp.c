/* rtcp.c — RTCP compound packets (RFC 3550 §6.4 SR/RR, §6.5 SDES, §6.6 BYE, validity checks of
 * A.2), generic NACK (RFC 4585 §6.1 common feedback header, §6.2.1 FCI), and the per-source
 * receiver statistics of RFC 3550 A.1 (sequence validation), A.3 (expected, lost, fraction
 * lost) and A.8 (interarrival jitter, integer form). */
#include "ec_rtcp.h"
#include "ec_rtp.h"

#define NTP_UNIX_OFFSET 0x83AA7E80u /* seconds from 1900 to 1970 */

/* ---- parse ---- */

static void read_block(const uint8_t *p, ec_rtcp_block *b)
{
    uint32_t cl = ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
    b->ssrc = ec_rd32(p);
    b->fraction_lost = p[4];
    b->cumulative_lost = (cl & 0x800000u) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
    b->ext_highest_seq = ec_rd32(p + 8);
    b->jitter = ec_rd32(p + 12);
    b->lsr = ec_rd32(p + 16);
    b->dlsr = ec_rd32(p + 20);
}

static void keep_blocks(ec_rtcp_info *info, const uint8_t *p, unsigned count)
{
    unsigned i;
    for (i = 0; i < count && info->n_blocks < EC_RTCP_MAX_BLOCKS; i++) {
        read_block(p + EC_RTCP_REPORT_BLOCK * i, &info->blocks[info->n_blocks]);
        info->n_blocks++;
    }
}

/* SDES body: count chunks, each an SSRC, items, a null item and zero padding to 32 bits. */
static int check_sdes(const uint8_t *body, size_t n, unsigned count)
{
    size_t off = 0;
    unsigned c;
    for (c = 0; c < count; c++) {
        if (n - off < 4u) {
            return EC_ERR_MALFORMED;
        }
        off += 4;
        for (;;) {
            if (off >= n) {
                return EC_ERR_MALFORMED; /* no terminating null item */
            }
            if (body[off] == 0u) {
                off++;
                break;
            }
            if (n - off < 2u || (size_t)body[off + 1] > n - off - 2u) {
                return EC_ERR_MALFORMED;
            }
            off += 2u + body[off + 1];
        }
        /* the null item is followed by zeros to the next 32-bit boundary (body starts aligned) */
        while (off % 4u != 0u) {
            if (off >= n) {
                return EC_ERR_MALFORMED;
            }
            off++;
        }
    }
    return EC_OK;
}

int ec_rtcp_parse(const uint8_t *pkt, size_t len, ec_rtcp_info *info)
{
    size_t off = 0;
    int n = 0;
    if (pkt == NULL || info == NULL) {
        return EC_ERR_ARG;
    }
    info->flags = 0;
    info->ssrc = 0;
    info->n_blocks = 0;
    info->n_nack = 0;
    info->nack_sender = info->nack_media = 0;
    info->n_packets = 0;
    if (len < 4u || len % 4u != 0u) {
        return EC_ERR_MALFORMED;
    }
    while (off < len) {
        const uint8_t *p = pkt + off;
        unsigned count, pt;
        size_t plen, blen;
        const uint8_t *body;
        if (len - off < 4u || (p[0] >> 6) != 2u) {
            return EC_ERR_MALFORMED;
        }
        count = p[0] & 0x1fu;
        pt = p[1];
        plen = 4u * ((size_t)ec_rd16(p + 2) + 1u);
        if (plen > len - off) {
            return EC_ERR_MALFORMED;
        }
        blen = plen - 4u;
        if (p[0] & 0x20u) {
            unsigned pad;
            if (off + plen != len) {
                return EC_ERR_MALFORMED; /* padding only on the last packet (A.2) */
            }
            pad = p[plen - 1];
            if (pad == 0u || pad > blen) {
                return EC_ERR_MALFORMED;
            }
            blen -= pad;
        }
        body = p + 4;
        switch (pt) {
        case EC_RTCP_SR:
            if (blen < 24u + (size_t)EC_RTCP_REPORT_BLOCK * count) {
                return EC_ERR_MALFORMED;
            }
            if ((info->flags & (EC_RTCP_HAS_SR | EC_RTCP_HAS_RR)) == 0u) {
                info->ssrc = ec_rd32(body);
                info->sr.ntp_sec = ec_rd32(body + 4);
                info->sr.ntp_frac = ec_rd32(body + 8);
                info->sr.rtp_ts = ec_rd32(body + 12);
                info->sr.packets = ec_rd32(body + 16);
                info->sr.octets = ec_rd32(body + 20);
                info->flags |= EC_RTCP_HAS_SR;
            }
            keep_blocks(info, body + 24, count);
            break;
        case EC_RTCP_RR:
            if (blen < 4u + (size_t)EC_RTCP_REPORT_BLOCK * count) {
                return EC_ERR_MALFORMED;
            }
            if ((info->flags & (EC_RTCP_HAS_SR | EC_RTCP_HAS_RR)) == 0u) {
                info->ssrc = ec_rd32(body);
                info->flags |= EC_RTCP_HAS_RR;
            }
            keep_blocks(info, body + 4, count);
            break;
        case EC_RTCP_SDES:
            if (check_sdes(body, blen, count) != EC_OK) {
                return EC_ERR_MALFORMED;
            }
            info->flags |= EC_RTCP_HAS_SDES;
            break;
        case EC_RTCP_BYE:
            if (blen < 4u * (size_t)count) {
                return EC_ERR_MALFORMED;
            }
            if (blen > 4u * (size_t)count) {
                size_t r = 4u * (size_t)count; /* optional reason: length octet + text */
                if ((size_t)body[r] > blen - r - 1u) {
                    return EC_ERR_MALFORMED;
                }
            }
            info->flags |= EC_RTCP_HAS_BYE;
            break;
        case EC_RTCP_RTPFB:
            if (blen < 8u) {
                return EC_ERR_MALFORMED;
            }
            if (count == 1u) { /* generic NACK: one or more 4-byte FCIs */
                size_t i, nf;
                if (blen < 12u || (blen - 8u) % 4u != 0u) {
                    return EC_ERR_MALFORMED;
                }
                nf = (blen - 8u) / 4u;
                if ((info->flags & EC_RTCP_HAS_NACK) == 0u) {
                    info->nack_sender = ec_rd32(body);
                    info->nack_media = ec_rd32(body + 4);
                }
                for (i = 0; i < nf && info->n_nack < EC_RTCP_MAX_NACK; i++) {
                    info->nack[info->n_nack].pid = ec_rd16(body + 8 + 4 * i);
                    info->nack[info->n_nack].blp = ec_rd16(body + 10 + 4 * i);
                    info->n_nack++;
                }
                info->flags |= EC_RTCP_HAS_NACK;
            }
            break;
        default:
            break; /* APP, PSFB, XR, ...: length already checked */
        }
        off += plen;
        n++;
    }
    info->n_packets = (uint32_t)n;
    return n;
}

int ec_rtcp_is_rtcp(const uint8_t *pkt, size_t len)
{
    return pkt != NULL && len >= 2u && pkt[1] >= 192u && pkt[1] <= 223u;
}

/* ---- write ---- */

static void write_block(uint8_t *p, const ec_rtcp_block *b)
{
    int32_t cl = b->cumulative_lost;
    if (cl > 0x7fffff) {
        cl = 0x7fffff;
    } else if (cl < -0x800000) {
        cl = -0x800000;
    }
    ec_wr32(p, b->ssrc);
    ec_wr32(p + 4, ((uint32_t)b->fraction_lost << 24) | ((uint32_t)cl & 0xffffffu));
    ec_wr32(p + 8, b->ext_highest_seq);
    ec_wr32(p + 12, b->jitter);
    ec_wr32(p + 16, b->lsr);
    ec_wr32(p + 20, b->dlsr);
}

static void write_header(uint8_t *p, unsigned count, unsigned pt, size_t plen)
{
    p[0] = (uint8_t)(0x80u | count);
    p[1] = (uint8_t)pt;
    ec_wr16(p + 2, (uint32_t)(plen / 4u - 1u));
}

int ec_rtcp_write_sr(uint32_t ssrc, const ec_rtcp_sender_info *si, const ec_rtcp_block *blocks, size_t n,
                     uint8_t *out, size_t cap)
{
    size_t plen = 28u + EC_RTCP_REPORT_BLOCK * n, i;
    if (si == NULL || out == NULL || n > 31u || (n > 0u && blocks == NULL)) {
        return EC_ERR_ARG;
    }
    if (cap < plen) {
        return EC_ERR_SHORT_BUFFER;
    }
    write_header(out, (unsigned)n, EC_RTCP_SR, plen);
    ec_wr32(out + 4, ssrc);
    ec_wr32(out + 8, si->ntp_sec);
    ec_wr32(out + 12, si->ntp_frac);
    ec_wr32(out + 16, si->rtp_ts);
    ec_wr32(out + 20, si->packets);
    ec_wr32(out + 24, si->octets);
    for (i = 0; i < n; i++) {
        write_block(out + 28 + EC_RTCP_REPORT_BLOCK * i, &blocks[i]);
    }
    return (int)plen;
}

int ec_rtcp_write_rr(uint32_t ssrc, const ec_rtcp_block *blocks, size_t n, uint8_t *out, size_t cap)
{
    size_t plen = 8u + EC_RTCP_REPORT_BLOCK * n, i;
    if (out == NULL || n > 31u || (n > 0u && blocks == NULL)) {
        return EC_ERR_ARG;
    }
    if (cap < plen) {
        return EC_ERR_SHORT_BUFFER;
    }
    write_header(out, (unsigned)n, EC_RTCP_RR, plen);
    ec_wr32(out + 4, ssrc);
    for (i = 0; i < n; i++) {
        write_block(out + 8 + EC_RTCP_REPORT_BLOCK * i, &blocks[i]);
    }
    return (int)plen;
}

int ec_rtcp_write_sdes_cname(uint32_t ssrc, const uint8_t *cname, size_t cname_len, uint8_t *out, size_t cap)
{
    /* header 4 + ssrc 4 + type 1 + len 1 + text + null 1, padded to 32 bits */
    size_t plen, i;
    if (out == NULL || cname == NULL || cname_len == 0u || cname_len > 255u) {
        return EC_ERR_ARG;
    }
    plen = (4u + 4u + 2u + cname_len + 1u + 3u) & ~(size_t)3u;
    if (cap < plen) {
        return EC_ERR_SHORT_BUFFER;
    }
    write_header(out, 1u, EC_RTCP_SDES, plen);
    ec_wr32(out + 4, ssrc);
    out[8] = 1u; /* CNAME */
    out[9] = (uint8_t)cname_len;
    for (i = 0; i < cname_len; i++) {
        out[10 + i] = cname[i];
    }
    for (i = 10u + cname_len; i < plen; i++) {
        out[i] = 0u; /* null item and padding */
    }
    return (int)plen;
}

int ec_rtcp_write_bye(uint32_t ssrc, uint8_t *out, size_t cap)
{
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    if (cap < 8u) {
        return EC_ERR_SHORT_BUFFER;
    }
    write_header(out, 1u, EC_RTCP_BYE, 8u);
    ec_wr32(out + 4, ssrc);
    return 8;
}

int ec_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const ec_rtcp_nack_fci *fci, size_t n,
                       uint8_t *out, size_t cap)
{
    size_t plen = 12u + 4u * n, i;
    if (out == NULL || fci == NULL || n == 0u || n > EC_RTCP_MAX_NACK) {
        return EC_ERR_ARG;
    }
    if (cap < plen) {
        return EC_ERR_SHORT_BUFFER;
    }
    write_header(out, 1u, EC_RTCP_RTPFB, plen);
    ec_wr32(out + 4, sender_ssrc);
    ec_wr32(out + 8, media_ssrc);
    for (i = 0; i < n; i++) {
        ec_wr16(out + 12 + 4 * i, fci[i].pid);
        ec_wr16(out + 14 + 4 * i, fci[i].blp);
    }
    return (int)plen;
}

void ec_rtcp_ntp_from_ms(uint64_t ms, uint32_t *sec, uint32_t *frac)
{
    uint32_t rem = (uint32_t)(ms % 1000u);
    *sec = (uint32_t)(NTP_UNIX_OFFSET + ms / 1000u);
    *frac = (uint32_t)(((uint64_t)rem << 32) / 1000u);
}

uint32_t ec_rtcp_ntp_mid_from_ms(uint64_t ms)
{
    uint32_t sec, frac;
    ec_rtcp_ntp_from_ms(ms, &sec, &frac);
    return (sec << 16) | (frac >> 16);
}

/* ---- receiver statistics (RFC 3550 A.1, A.3, A.8) ---- */

static void init_seq(ec_rtp_source *s, uint16_t seq)
{
    s->base_seq = seq;
    s->max_seq = seq;
    s->bad_seq = EC_RTP_SEQ_MOD + 1u; /* so seq == bad_seq is false */
    s->cycles = 0;
    s->received = 0;
    s->received_prior = 0;
    s->expected_prior = 0;
}

void ec_rtp_source_init(ec_rtp_source *s, uint32_t ssrc, uint16_t seq, uint16_t min_sequential)
{
    if (min_sequential < 1u) {
        min_sequential = 1u;
    }
    init_seq(s, seq);
    s->ssrc = ssrc;
    s->max_seq = (uint16_t)(seq - 1u);
    s->min_sequential = min_sequential;
    s->probation = min_sequential;
    s->transit = 0;
    s->jitter = 0;
    s->have_transit = 0;
}

int ec_rtp_source_update_seq(ec_rtp_source *s, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - s->max_seq);
    if (s->probation) {
        if (seq == (uint16_t)(s->max_seq + 1u)) {
            s->probation--;
            s->max_seq = seq;
            if (s->probation == 0u) {
                init_seq(s, seq);
                s->received++;
                return 1;
            }
        } else {
            s->probation = s->min_sequential - 1u;
            s->max_seq = seq;
        }
        return 0;
    } else if (udelta < EC_RTP_MAX_DROPOUT) {
        /* in order, with a permissible gap */
        if (seq < s->max_seq) {
            s->cycles += EC_RTP_SEQ_MOD; /* wrapped */
        }
        s->max_seq = seq;
    } else if (udelta <= EC_RTP_SEQ_MOD - EC_RTP_MAX_MISORDER) {
        /* a very large jump: resynchronise if the next packet follows it */
        if ((uint32_t)seq == s->bad_seq) {
            init_seq(s, seq);
        } else {
            s->bad_seq = ((uint32_t)seq + 1u) & (EC_RTP_SEQ_MOD - 1u);
            return 0;
        }
    } else {
        /* duplicate or reordered packet */
    }
    s->received++;
    return 1;
}

void ec_rtp_source_update_jitter(ec_rtp_source *s, uint32_t arrival, uint32_t rtp_ts)
{
    uint32_t transit = arrival - rtp_ts;
    uint32_t diff, d;
    if (!s->have_transit) {
        s->transit = transit;
        s->have_transit = 1;
        return;
    }
    diff = transit - s->transit;
    d = (diff & 0x80000000u) ? 0u - diff : diff;
    s->transit = transit;
    s->jitter += d - ((s->jitter + 8u) >> 4);
}

uint32_t ec_rtp_source_ext_max(const ec_rtp_source *s)
{
    return s->cycles + s->max_seq;
}

int32_t ec_rtp_source_lost(const ec_rtp_source *s)
{
    uint32_t expected = ec_rtp_source_ext_max(s) - s->base_seq + 1u;
    return (int32_t)(expected - s->received);
}

void ec_rtp_source_report(ec_rtp_source *s, ec_rtcp_block *b)
{
    uint32_t expected = ec_rtp_source_ext_max(s) - s->base_seq + 1u;
    uint32_t expected_interval = expected - s->expected_prior;
    uint32_t received_interval = s->received - s->received_prior;
    int32_t lost_interval = (int32_t)(expected_interval - received_interval);
    s->expected_prior = expected;
    s->received_prior = s->received;
    b->ssrc = s->ssrc;
    if (expected_interval == 0u || lost_interval <= 0) {
        b->fraction_lost = 0;
    } else {
        uint32_t f = ((uint32_t)lost_interval << 8) / expected_interval;
        b->fraction_lost = (uint8_t)(f > 255u ? 255u : f);
    }
    b->cumulative_lost = (int32_t)(expected - s->received);
    b->ext_highest_seq = ec_rtp_source_ext_max(s);
    b->jitter = s->jitter >> 4;
    b->lsr = 0;
    b->dlsr = 0;
}
