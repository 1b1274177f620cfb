/* rtph264.c — H.264 over RTP, RFC 6184 non-interleaved mode: Single NAL Unit packets (§5.6),
 * STAP-A (§5.7.1, receive), FU-A (§5.8); Annex B byte streams (ITU-T H.264 Annex B) in and out;
 * RTP fixed header (RFC 3550 §5.1); RTCP PLI (RFC 4585 §6.1 and §6.3.1). */
#include "ec_rtph264.h"
#include "ec_rtp.h"

#define PACK_MAGIC 0x48325041u   /* "H2PA" */
#define DEPACK_MAGIC 0x48324450u /* "H2DP" */
#define RTP_HDR 12
#define NAL_STAP_A 24
#define NAL_FU_A 28
#define NAL_IDR 5

static void copy(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        d[i] = s[i];
    }
}

/* ---- RTP (RFC 3550 §5.1) ---- */

typedef struct {
    int marker;
    uint16_t seq;
    uint32_t ts, ssrc;
    const uint8_t *payload;
    size_t len;
} rtp_packet;

static int rtp_parse(const uint8_t *p, size_t len, rtp_packet *r)
{
    ec_rtp_header h;
    if (p == NULL || len > 65535u || ec_rtp_parse(p, len, &h) != EC_OK) {
        return EC_ERR_MALFORMED;
    }
    r->marker = h.marker;
    r->seq = h.seq;
    r->ts = h.ts;
    r->ssrc = h.ssrc;
    r->payload = p + h.payload_off;
    r->len = h.payload_len;
    return 0;
}

/* ---- Annex B ---- */

/* Position of the first byte of the next start code prefix 00 00 01 at or after i, or len. */
static uint32_t find_start_code(const uint8_t *p, uint32_t i, uint32_t len)
{
    while (i + 2 < len) {
        if (p[i + 2] > 1) {
            i += 3; /* no prefix can start at i, i + 1 or i + 2 */
        } else if (p[i + 2] == 1 && p[i + 1] == 0 && p[i] == 0) {
            return i;
        } else {
            i++;
        }
    }
    return len;
}

/* From pos (just after a start code), finds the next non-empty NAL unit; trailing zero bytes
 * (trailing_zero_8bits, the zero_byte of a 4-byte start code) are not part of it. */
static int locate_nal(ec_rtph264_pack *st, uint32_t pos)
{
    const uint8_t *p = st->au;
    uint32_t len = st->au_len;
    while (pos < len) {
        uint32_t sc = find_start_code(p, pos, len);
        uint32_t end = sc;
        while (end > pos && p[end - 1] == 0) {
            end--;
        }
        if (end > pos) {
            st->nal = pos;
            st->nal_end = end;
            st->next = sc < len ? sc + 3 : len;
            return 1;
        }
        if (sc >= len) {
            break;
        }
        pos = sc + 3;
    }
    return 0;
}

/* ---- packetizer ---- */

size_t ec_rtph264_pack_state_size(void)
{
    return sizeof(ec_rtph264_pack);
}

int ec_rtph264_pack_init(ec_rtph264_pack *st, size_t st_size, uint32_t ssrc, int pt, int mtu, uint16_t seq)
{
    int rc;
    if (pt < 0 || pt > 127 || mtu < EC_RTPH264_MIN_MTU || mtu > 65535) {
        return EC_ERR_ARG;
    }
    rc = ec_rtp_state_clear(st, st_size, sizeof(ec_rtph264_pack));
    if (rc != EC_OK) {
        return rc;
    }
    st->ssrc = ssrc;
    st->pt = (uint8_t)pt;
    st->mtu = (uint16_t)mtu;
    st->seq = seq;
    st->magic = PACK_MAGIC;
    return EC_OK;
}

int ec_rtph264_pack_au(ec_rtph264_pack *st, const uint8_t *annexb, size_t len, uint32_t ts)
{
    uint32_t sc, i;
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (annexb == NULL || len == 0 || len > 0x7fffffffu) {
        return EC_ERR_ARG;
    }
    st->active = 0;
    st->au = annexb;
    st->au_len = (uint32_t)len;
    sc = find_start_code(annexb, 0, st->au_len);
    for (i = 0; i < sc; i++) {
        if (annexb[i] != 0) {
            return EC_ERR_MALFORMED; /* bytes before the first start code */
        }
    }
    if (sc >= st->au_len || !locate_nal(st, sc + 3)) {
        return EC_ERR_MALFORMED;
    }
    {
        /* H.264 leaves nal_unit_type 0 and 24..31 unspecified and RFC 6184 gives 24..31 to its own
         * packet types: such NAL units cannot be sent */
        uint32_t first = st->nal, end = st->nal_end, next = st->next;
        int ok = 1;
        do {
            int t = annexb[st->nal] & 0x1f;
            if (t == 0 || t >= 24) {
                ok = 0;
            }
        } while (ok && st->next < st->au_len && locate_nal(st, st->next));
        st->nal = first;
        st->nal_end = end;
        st->next = next;
        if (!ok) {
            return EC_ERR_UNSUPPORTED;
        }
    }
    st->ts = ts;
    st->frag = 0;
    st->active = 1;
    return EC_OK;
}

int ec_rtph264_pack_next(ec_rtph264_pack *st, uint8_t *pkt, size_t cap)
{
    const uint8_t *nal;
    uint32_t size, n;
    int done;
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (!st->active) {
        return 0;
    }
    if (pkt == NULL || cap < st->mtu) {
        return EC_ERR_SHORT_BUFFER;
    }
    nal = st->au + st->nal;
    size = st->nal_end - st->nal;
    pkt[0] = 0x80;
    pkt[1] = st->pt;
    ec_wr16(pkt + 2, st->seq);
    ec_wr32(pkt + 4, st->ts);
    ec_wr32(pkt + 8, st->ssrc);
    if (st->frag == 0 && size <= (uint32_t)st->mtu - RTP_HDR) {
        copy(pkt + RTP_HDR, nal, size); /* Single NAL Unit packet */
        n = RTP_HDR + size;
        done = 1;
    } else {
        uint32_t room = (uint32_t)st->mtu - RTP_HDR - 2, left = size - 1 - st->frag, chunk = left < room ? left : room;
        int start = st->frag == 0;
        done = chunk == left;
        pkt[RTP_HDR] = (uint8_t)((nal[0] & 0xe0) | NAL_FU_A);                                  /* FU indicator */
        pkt[RTP_HDR + 1] = (uint8_t)((start ? 0x80 : 0) | (done ? 0x40 : 0) | (nal[0] & 0x1f)); /* FU header */
        copy(pkt + RTP_HDR + 2, nal + 1 + st->frag, chunk);
        st->frag += chunk;
        n = RTP_HDR + 2 + chunk;
    }
    st->seq++;
    if (done) {
        st->frag = 0;
        if (st->next >= st->au_len || !locate_nal(st, st->next)) {
            pkt[1] |= 0x80; /* marker: last packet of the access unit */
            st->active = 0;
        }
    }
    return (int)n;
}

/* ---- depacketizer ---- */

size_t ec_rtph264_depack_state_size(void)
{
    return sizeof(ec_rtph264_depack);
}

int ec_rtph264_depack_init(ec_rtph264_depack *st, size_t st_size)
{
    int rc = ec_rtp_state_clear(st, st_size, sizeof(ec_rtph264_depack));
    if (rc != EC_OK) {
        return rc;
    }
    st->magic = DEPACK_MAGIC;
    return EC_OK;
}

int ec_rtph264_needs_keyframe(const ec_rtph264_depack *st)
{
    if (st == NULL || st->magic != DEPACK_MAGIC) {
        return EC_ERR_STATE;
    }
    return st->needs_keyframe;
}

static void broken(ec_rtph264_depack *st)
{
    st->broken = 1;
    st->needs_keyframe = 1;
}

/* Appends a start code, the NAL header byte and n bytes of data to the access unit. */
static void append(ec_rtph264_depack *st, uint8_t *au, size_t cap, int start, uint8_t hdr, const uint8_t *data,
                   size_t n)
{
    size_t need = n + (start ? 5 : 0);
    if (st->broken) {
        return;
    }
    if (need > cap || st->len > cap - need) {
        broken(st);
        return;
    }
    if (start) {
        au[st->len] = 0;
        au[st->len + 1] = 0;
        au[st->len + 2] = 0;
        au[st->len + 3] = 1;
        au[st->len + 4] = hdr;
        st->len += 5;
        if ((hdr & 0x1f) == NAL_IDR) {
            st->has_idr = 1;
        }
    }
    copy(au + st->len, data, n);
    st->len += (uint32_t)n;
}

int ec_rtph264_depack_push(ec_rtph264_depack *st, const uint8_t *pkt, size_t len, uint8_t *au, size_t cap)
{
    rtp_packet r;
    int loss = 0, rc = 0, type;
    const uint8_t *p;
    size_t n;
    if (st == NULL || st->magic != DEPACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (au == NULL) {
        return EC_ERR_ARG;
    }
    if (rtp_parse(pkt, len, &r) != 0) {
        return EC_ERR_MALFORMED;
    }
    if (st->started) {
        int16_t d = (int16_t)(uint16_t)(r.seq - st->expected_seq);
        if (d < 0) {
            return 0; /* late or duplicate */
        }
        if (d > 0) {
            st->lost += (uint32_t)d;
            loss = 1;
        }
    }
    st->started = 1;
    st->expected_seq = (uint16_t)(r.seq + 1);
    st->ssrc = r.ssrc;
    if (st->active && r.ts != st->ts) { /* the previous access unit never saw its marker packet */
        st->active = 0;
        st->dropped++;
        st->needs_keyframe = 1;
        loss = 1;
    }
    if (!st->active) {
        st->active = 1;
        st->broken = 0;
        st->in_fu = 0;
        st->has_idr = 0;
        st->len = 0;
        st->ts = r.ts;
    }
    if (loss) {
        broken(st);
    }
    p = r.payload;
    n = r.len;
    type = n > 0 ? (p[0] & 0x1f) : -1;
    if (type < 0) {
        broken(st);
        rc = EC_ERR_MALFORMED;
    } else if (type >= 1 && type <= 23) {
        if (st->in_fu) {
            broken(st); /* an FU-A NAL unit lost its end */
            st->in_fu = 0;
        }
        append(st, au, cap, 1, p[0], p + 1, n - 1);
    } else if (type == NAL_STAP_A) {
        size_t i = 1;
        if (st->in_fu) {
            broken(st);
            st->in_fu = 0;
        }
        if (n < 4) {
            broken(st);
            rc = EC_ERR_MALFORMED;
        }
        while (rc == 0 && i < n) {
            size_t sz;
            if (n - i < 2) {
                broken(st);
                rc = EC_ERR_MALFORMED;
                break;
            }
            sz = ec_rd16(p + i);
            i += 2;
            if (sz == 0 || sz > n - i) {
                broken(st);
                rc = EC_ERR_MALFORMED;
                break;
            }
            append(st, au, cap, 1, p[i], p + i + 1, sz - 1);
            i += sz;
        }
    } else if (type == NAL_FU_A) {
        int s, e;
        if (n < 2 || ((p[1] & 0x80) && (p[1] & 0x40))) {
            broken(st);
            rc = EC_ERR_MALFORMED;
        } else {
            s = p[1] & 0x80;
            e = p[1] & 0x40;
            if (s) {
                if (st->in_fu) {
                    broken(st);
                }
                append(st, au, cap, 1, (uint8_t)((p[0] & 0xe0) | (p[1] & 0x1f)), p + 2, n - 2);
                st->in_fu = 1;
            } else if (!st->in_fu) {
                broken(st); /* its start was lost */
            } else {
                append(st, au, cap, 0, 0, p + 2, n - 2);
            }
            if (e) {
                st->in_fu = 0;
            }
        }
    } else if (type == 0 || type >= 30) {
        /* reserved and undefined types: ignored (RFC 6184 §5.4) */
    } else {
        st->unsupported++; /* STAP-B, MTAP16, MTAP24, FU-B: interleaved mode */
        broken(st);
    }
    if (!r.marker) {
        return rc;
    }
    st->active = 0;
    if (st->in_fu) {
        broken(st);
    }
    if (st->broken || (st->needs_keyframe && !st->has_idr) || st->len == 0) {
        st->dropped++;
        return rc;
    }
    if (st->has_idr) {
        st->needs_keyframe = 0;
    }
    st->delivered++;
    return (int)st->len;
}

int ec_rtph264_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out, size_t cap)
{
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    if (cap < EC_RTPH264_PLI_SIZE) {
        return EC_ERR_SHORT_BUFFER;
    }
    out[0] = 0x81; /* V=2, P=0, FMT=1 (PLI) */
    out[1] = 206;  /* PT=PSFB */
    ec_wr16(out + 2, 2);
    ec_wr32(out + 4, sender_ssrc);
    ec_wr32(out + 8, media_ssrc);
    return EC_RTPH264_PLI_SIZE;
}
