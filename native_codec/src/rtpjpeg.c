/* rtpjpeg.c — RTP/JPEG, RFC 2435 (packetizer and depacketizer) over RTP, RFC 3550 §5.1.
 *
 * Headers: main JPEG header (§3.1: type-specific, fragment offset, type, Q, width/8, height/8),
 * Restart Marker header (§3.1.7) for types 64..127, Quantization Table header (§3.1.8) in the
 * packet at fragment offset 0 when Q >= 128. The receiver rebuilds the JFIF header that §4 and
 * Appendix B describe with ec_jpeg_header (the same bytes the encoder writes), the Appendix A
 * tables (ec_jpeg_quant_tables) for Q < 128, and appends EOI. The JFIF parser walks the marker
 * segments of T.81 B.2 and accepts what RFC 2435 can carry. */
#include "ec_rtpjpeg.h"
#include "ec_rtp.h"

#include "ec_jpeg.h"

#define PACK_MAGIC 0x524a5041u   /* "RJPA" */
#define DEPACK_MAGIC 0x524a4450u /* "RJDP" */
#define RTP_HDR 12
#define JPEG_HDR 8
#define RST_HDR 4
#define QT_HDR (4 + 128)
#define RESERVE EC_RTPJPEG_FRAME_OVERHEAD /* room kept before the scan in the reassembly buffer */

static void copy(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        d[i] = s[i];
    }
}

static int same(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return 0;
        }
    }
    return 1;
}

/* ---- RTP (RFC 3550 §5.1) ---- */

typedef struct {
    int marker;
    int pt;
    uint16_t seq;
    uint32_t ts, ssrc;
    const uint8_t *payload;
    size_t len;
} rtp_packet;

/* Parses the fixed header, CSRCs, header extension and padding; 0 or EC_ERR_MALFORMED. */
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

static void rtp_write(uint8_t *p, int marker, int pt, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    p[0] = 0x80;
    p[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
    ec_wr16(p + 2, seq);
    ec_wr32(p + 4, ts);
    ec_wr32(p + 8, ssrc);
}

/* ---- frame descriptions ---- */

static int q_for_tables(const uint8_t *tables)
{
    uint8_t t[128];
    int q;
    for (q = 1; q <= 99; q++) {
        ec_jpeg_quant_tables(q, t);
        if (same(t, tables, 128)) {
            return q;
        }
    }
    return 255;
}

int ec_rtpjpeg_frame_for(uint16_t width, uint16_t height, int subsampling, int quality, uint16_t restart_interval,
                         ec_rtpjpeg_frame *fr)
{
    if (fr == NULL || width == 0 || height == 0 || width > EC_RTPJPEG_MAX_SIZE || height > EC_RTPJPEG_MAX_SIZE ||
        (subsampling != EC_JPEG_420 && subsampling != EC_JPEG_422) || quality < 1 || quality > 100) {
        return EC_ERR_ARG;
    }
    fr->type = subsampling == EC_JPEG_420 ? 1 : 0;
    fr->width = width;
    fr->height = height;
    fr->restart_interval = restart_interval;
    ec_jpeg_quant_tables(quality, fr->tables);
    fr->q = (uint8_t)(quality <= 99 ? quality : 255);
    return EC_OK;
}

/* The DHT segment body [p, p + n) defines only standard tables; 1 if so. */
static int dht_standard(const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t cnt = 0, tl, i;
        const uint8_t *std;
        if (n < 17) {
            return 0;
        }
        for (i = 1; i <= 16; i++) {
            cnt += p[i];
        }
        tl = 17 + cnt;
        std = ec_jpeg_std_dht(p[0], &i);
        if (tl > n || std == NULL || i != tl - 1 || !same(p + 1, std, tl - 1)) {
            return 0;
        }
        p += tl;
        n -= tl;
    }
    return 1;
}

int ec_rtpjpeg_parse_jfif(const uint8_t *jfif, size_t len, ec_rtpjpeg_frame *fr, size_t *scan_off, size_t *scan_len)
{
    uint8_t dqt[4][64];
    uint8_t defined = 0; /* bit t: DQT table t seen */
    int tq[3] = {0, 0, 0};
    int have_sof = 0, sampling = 0;
    uint16_t width = 0, height = 0, dri = 0;
    size_t i = 2;
    if (jfif == NULL || fr == NULL || scan_off == NULL || scan_len == NULL) {
        return EC_ERR_ARG;
    }
    if (len < 4 || jfif[0] != 0xff || jfif[1] != 0xd8) {
        return EC_ERR_MALFORMED;
    }
    for (;;) {
        uint8_t m;
        size_t seg, body;
        if (i >= len || jfif[i] != 0xff) {
            return EC_ERR_MALFORMED;
        }
        while (i < len && jfif[i] == 0xff) { /* fill bytes (B.1.1.2) */
            i++;
        }
        if (i >= len) {
            return EC_ERR_MALFORMED;
        }
        m = jfif[i++];
        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            continue; /* stand-alone markers */
        }
        if (m == 0xd8 || m == 0xd9 || m == 0x00) {
            return EC_ERR_MALFORMED; /* SOI again, EOI before SOS */
        }
        if (len - i < 2) {
            return EC_ERR_MALFORMED;
        }
        seg = ec_rd16(jfif + i);
        if (seg < 2 || seg > len - i) {
            return EC_ERR_MALFORMED;
        }
        body = i + 2;
        switch (m) {
        case 0xc0:
        case 0xc1: { /* SOF0 / SOF1: 8-bit, three components */
            const uint8_t *p = jfif + body;
            if (seg != 17 || have_sof) {
                return seg < 8 ? EC_ERR_MALFORMED : EC_ERR_UNSUPPORTED;
            }
            if (p[0] != 8 || p[5] != 3) {
                return EC_ERR_UNSUPPORTED;
            }
            height = (uint16_t)ec_rd16(p + 1);
            width = (uint16_t)ec_rd16(p + 3);
            if (p[6] != 1 || p[9] != 2 || p[12] != 3 || p[10] != 0x11 || p[13] != 0x11 ||
                (p[7] != 0x21 && p[7] != 0x22) || p[8] > 3 || p[11] > 3 || p[14] != p[11]) {
                return EC_ERR_UNSUPPORTED;
            }
            sampling = p[7];
            tq[0] = p[8];
            tq[1] = p[11];
            tq[2] = p[14];
            have_sof = 1;
            break;
        }
        case 0xc4:
            if (!dht_standard(jfif + body, seg - 2)) {
                return EC_ERR_UNSUPPORTED;
            }
            break;
        case 0xdb: { /* DQT: 8-bit tables only */
            size_t k = body, end = i + seg;
            while (k < end) {
                int t = jfif[k] & 15;
                if ((jfif[k] >> 4) != 0 || t > 3) {
                    return EC_ERR_UNSUPPORTED;
                }
                if (end - k < 65) {
                    return EC_ERR_MALFORMED;
                }
                copy(dqt[t], jfif + k + 1, 64);
                defined = (uint8_t)(defined | 1u << t);
                k += 65;
            }
            break;
        }
        case 0xdd:
            if (seg != 4) {
                return EC_ERR_MALFORMED;
            }
            dri = (uint16_t)ec_rd16(jfif + body);
            break;
        case 0xda: { /* SOS: Y 0/0, Cb and Cr 1/1 (the tables RFC 2435 implies), full spectral range */
            const uint8_t *p = jfif + body;
            size_t s, e;
            if (seg != 12) {
                return seg < 3 ? EC_ERR_MALFORMED : EC_ERR_UNSUPPORTED;
            }
            if (!have_sof || p[0] != 3 || p[1] != 1 || p[2] != 0x00 || p[3] != 2 || p[4] != 0x11 || p[5] != 3 ||
                p[6] != 0x11 || p[7] != 0 || p[8] != 63 || p[9] != 0) {
                return have_sof ? EC_ERR_UNSUPPORTED : EC_ERR_MALFORMED;
            }
            if (!(defined >> tq[0] & 1) || !(defined >> tq[1] & 1)) {
                return EC_ERR_MALFORMED;
            }
            if (width == 0 || height == 0) {
                return EC_ERR_MALFORMED;
            }
            if (width > EC_RTPJPEG_MAX_SIZE || height > EC_RTPJPEG_MAX_SIZE) {
                return EC_ERR_UNSUPPORTED;
            }
            s = i + seg;
            for (e = s; e + 1 < len; e++) { /* the scan ends at the first marker other than RSTn */
                if (jfif[e] == 0xff && jfif[e + 1] != 0x00 && (jfif[e + 1] & 0xf8) != 0xd0) {
                    break;
                }
            }
            if (e + 1 >= len) {
                e = len;
            }
            if (e == s) {
                return EC_ERR_MALFORMED;
            }
            fr->type = sampling == 0x22 ? 1 : 0;
            fr->width = width;
            fr->height = height;
            fr->restart_interval = dri;
            copy(fr->tables, dqt[tq[0]], 64);
            copy(fr->tables + 64, dqt[tq[1]], 64);
            fr->q = (uint8_t)q_for_tables(fr->tables);
            *scan_off = s;
            *scan_len = e - s;
            return EC_OK;
        }
        default:
            if (m >= 0xc2 && m <= 0xcf) {
                return EC_ERR_UNSUPPORTED; /* progressive, lossless, arithmetic, hierarchical */
            }
            break; /* APPn, COM, ... */
        }
        i += seg;
    }
}

/* ---- packetizer ---- */

size_t ec_rtpjpeg_pack_state_size(void)
{
    return sizeof(ec_rtpjpeg_pack);
}

int ec_rtpjpeg_pack_init(ec_rtpjpeg_pack *st, size_t st_size, uint32_t ssrc, int pt, int mtu, uint16_t seq)
{
    int rc;
    if (pt < 0 || pt > 127 || mtu < EC_RTPJPEG_MIN_MTU || mtu > 65535) {
        return EC_ERR_ARG;
    }
    rc = ec_rtp_state_clear(st, st_size, sizeof(ec_rtpjpeg_pack));
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

static int frame_ok(const ec_rtpjpeg_frame *fr)
{
    int i;
    if (fr == NULL || fr->type > 1 || fr->width == 0 || fr->height == 0 || fr->width > EC_RTPJPEG_MAX_SIZE ||
        fr->height > EC_RTPJPEG_MAX_SIZE || fr->q == 0 || (fr->q >= 100 && fr->q < 128)) {
        return 0;
    }
    if (fr->q >= 128) {
        for (i = 0; i < 128; i++) {
            if (fr->tables[i] == 0) {
                return 0;
            }
        }
    }
    return 1;
}

static void start(ec_rtpjpeg_pack *st, const ec_rtpjpeg_frame *fr, uint32_t ts)
{
    st->fr = *fr;
    st->ts = ts;
    st->off = 0;
    st->rst_count = 0;
    st->mid_interval = 0;
    st->active = 1;
}

int ec_rtpjpeg_pack_frame(ec_rtpjpeg_pack *st, const ec_rtpjpeg_frame *fr, const uint8_t *scan, size_t scan_len,
                          uint32_t ts)
{
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (!frame_ok(fr) || scan == NULL || scan_len == 0 || scan_len > 0xffffffu) {
        return EC_ERR_ARG;
    }
    start(st, fr, ts);
    st->scan = scan;
    st->scan_len = (uint32_t)scan_len;
    st->streaming = 0;
    return EC_OK;
}

int ec_rtpjpeg_pack_stream(ec_rtpjpeg_pack *st, const ec_rtpjpeg_frame *fr, uint32_t ts)
{
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (!frame_ok(fr)) {
        return EC_ERR_ARG;
    }
    start(st, fr, ts);
    st->scan = NULL;
    st->scan_len = 0;
    st->streaming = 1;
    return EC_OK;
}

/* Header bytes of the packet at the current offset. */
static size_t header_len(const ec_rtpjpeg_pack *st)
{
    size_t h = RTP_HDR + JPEG_HDR;
    if (st->fr.restart_interval != 0) {
        h += RST_HDR;
    }
    if (st->off == 0 && st->fr.q >= 128) {
        h += QT_HDR;
    }
    return h;
}

/* Writes RTP + JPEG (+ restart, + table) headers; F, L and count as given. */
static size_t write_headers(ec_rtpjpeg_pack *st, uint8_t *pkt, int marker, int f, int l, uint32_t count)
{
    uint8_t *p = pkt + RTP_HDR;
    rtp_write(pkt, marker, st->pt, st->seq, st->ts, st->ssrc);
    ec_wr32(p, st->off & 0xffffffu); /* type-specific 0, 24-bit fragment offset */
    p[4] = (uint8_t)(st->fr.type + (st->fr.restart_interval ? 64 : 0));
    p[5] = st->fr.q;
    p[6] = (uint8_t)((st->fr.width + 7u) / 8u);
    p[7] = (uint8_t)((st->fr.height + 7u) / 8u);
    p += JPEG_HDR;
    if (st->fr.restart_interval != 0) {
        ec_wr16(p, st->fr.restart_interval);
        ec_wr16(p + 2, (uint32_t)(f ? 0x8000 : 0) | (uint32_t)(l ? 0x4000 : 0) | (count & 0x3fffu));
        p += RST_HDR;
    }
    if (st->off == 0 && st->fr.q >= 128) {
        p[0] = 0; /* MBZ */
        p[1] = 0; /* precision: both tables 8-bit */
        ec_wr16(p + 2, 128);
        copy(p + 4, st->fr.tables, 128);
        p += QT_HDR;
    }
    return (size_t)(p - pkt);
}

int ec_rtpjpeg_pack_next(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t cap)
{
    size_t h, room, n, end;
    int f = 1, l = 1;
    uint32_t count = 0, markers = 0;
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (st->streaming) {
        return EC_ERR_ARG;
    }
    if (!st->active) {
        return 0;
    }
    if (pkt == NULL || cap < st->mtu) {
        return EC_ERR_SHORT_BUFFER;
    }
    h = header_len(st);
    room = st->mtu - h;
    n = st->scan_len - st->off;
    if (n > room) {
        n = room;
    }
    end = st->off + n;
    if (st->fr.restart_interval != 0) {
        /* The furthest restart-interval boundary (after an RSTn marker, or the scan end) in the
         * window; without one the interval is fragmented. */
        size_t i, best = 0;
        uint32_t seen = 0;
        for (i = st->off; i + 1 < end; i++) {
            if (st->scan[i] == 0xff && (st->scan[i + 1] & 0xf8) == 0xd0) {
                seen++;
                if (i + 2 <= end) {
                    best = i + 2;
                    markers = seen;
                }
                i++;
            }
        }
        if (end == st->scan_len) {
            best = end;
            markers = seen;
        }
        f = !st->mid_interval;
        count = st->rst_count % 0x3fffu;
        if (best > st->off) {
            end = best;
            l = 1;
        } else {
            l = 0;
            markers = 0;
        }
        n = end - st->off;
    }
    h = write_headers(st, pkt, end == st->scan_len, f, l, count);
    copy(pkt + h, st->scan + st->off, n);
    st->off = (uint32_t)end;
    st->rst_count += markers;
    st->mid_interval = (uint8_t)!l;
    st->seq++;
    if (st->off >= st->scan_len) {
        st->active = 0;
    }
    return (int)(h + n);
}

int ec_rtpjpeg_pack_header(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t cap)
{
    size_t h;
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (!st->streaming || !st->active) {
        return EC_ERR_ARG;
    }
    h = header_len(st);
    if (pkt == NULL || cap < h) {
        return EC_ERR_SHORT_BUFFER;
    }
    return (int)write_headers(st, pkt, 0, 1, 1, 0x3fff);
}

int ec_rtpjpeg_pack_commit(ec_rtpjpeg_pack *st, uint8_t *pkt, size_t payload_len, int last)
{
    size_t h;
    if (st == NULL || st->magic != PACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (!st->streaming || !st->active || pkt == NULL) {
        return EC_ERR_ARG;
    }
    h = header_len(st);
    if (payload_len == 0 || payload_len > st->mtu - h || st->off + payload_len > 0xffffffu) {
        return EC_ERR_ARG;
    }
    if (last) {
        pkt[1] |= 0x80;
    }
    st->off += (uint32_t)payload_len;
    st->seq++;
    if (last) {
        st->active = 0;
    }
    return (int)(h + payload_len);
}

/* ---- depacketizer ---- */

size_t ec_rtpjpeg_depack_state_size(void)
{
    return sizeof(ec_rtpjpeg_depack);
}

int ec_rtpjpeg_depack_init(ec_rtpjpeg_depack *st, size_t st_size)
{
    int rc = ec_rtp_state_clear(st, st_size, sizeof(ec_rtpjpeg_depack));
    if (rc != EC_OK) {
        return rc;
    }
    st->magic = DEPACK_MAGIC;
    return EC_OK;
}

static void drop(ec_rtpjpeg_depack *st)
{
    if (st->active) {
        st->dropped++;
    }
    st->active = 0;
}

/* Adds [s, e) to the sorted list of received ranges, merging; 0 when the list is full. */
static int add_range(ec_rtpjpeg_depack *st, uint32_t s, uint32_t e)
{
    int i, j, n = st->nranges;
    for (i = 0; i < n && st->range_end[i] < s; i++) {
    }
    if (i == n || e < st->range_start[i]) { /* disjoint: insert at i */
        if (n == EC_RTPJPEG_MAX_RANGES) {
            return 0;
        }
        for (j = n; j > i; j--) {
            st->range_start[j] = st->range_start[j - 1];
            st->range_end[j] = st->range_end[j - 1];
        }
        st->range_start[i] = s;
        st->range_end[i] = e;
        st->nranges++;
        return 1;
    }
    if (s < st->range_start[i]) {
        st->range_start[i] = s;
    }
    if (e > st->range_end[i]) {
        st->range_end[i] = e;
    }
    /* swallow following ranges that now touch */
    for (j = i + 1; j < n && st->range_start[j] <= st->range_end[i]; j++) {
        if (st->range_end[j] > st->range_end[i]) {
            st->range_end[i] = st->range_end[j];
        }
    }
    if (j > i + 1) {
        int gone = j - i - 1, k;
        for (k = i + 1; k + gone < n; k++) {
            st->range_start[k] = st->range_start[k + gone];
            st->range_end[k] = st->range_end[k + gone];
        }
        st->nranges = (uint8_t)(n - gone);
    }
    return 1;
}

static void move_down(uint8_t *d, const uint8_t *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        d[i] = s[i];
    }
}

int ec_rtpjpeg_depack_push(ec_rtpjpeg_depack *st, const uint8_t *pkt, size_t len, uint8_t *frame, size_t cap)
{
    rtp_packet r;
    const uint8_t *p;
    size_t n;
    uint32_t off;
    int type, q, w, h, dri = 0, rc;
    const uint8_t *qt = NULL;
    if (st == NULL || st->magic != DEPACK_MAGIC) {
        return EC_ERR_STATE;
    }
    if (frame == NULL) {
        return EC_ERR_ARG;
    }
    if (rtp_parse(pkt, len, &r) != 0 || r.len < JPEG_HDR) {
        return EC_ERR_MALFORMED;
    }
    p = r.payload;
    n = r.len;
    off = ec_rd32(p) & 0xffffffu;
    type = p[4];
    q = p[5];
    w = p[6] * 8;
    h = p[7] * 8;
    p += JPEG_HDR;
    n -= JPEG_HDR;
    if (type >= 64 && type <= 127) {
        if (n < RST_HDR) {
            return EC_ERR_MALFORMED;
        }
        dri = (int)ec_rd16(p);
        p += RST_HDR;
        n -= RST_HDR;
        type -= 64;
    }
    if (type > 1) {
        return EC_ERR_UNSUPPORTED;
    }
    if (q == 0 || w == 0 || h == 0) {
        return EC_ERR_MALFORMED;
    }
    if (q >= 128 && off == 0) {
        size_t ql;
        if (n < 4) {
            return EC_ERR_MALFORMED;
        }
        ql = ec_rd16(p + 2);
        if (n < 4 + ql) {
            return EC_ERR_MALFORMED;
        }
        if (p[1] != 0) {
            return EC_ERR_UNSUPPORTED; /* 16-bit tables */
        }
        if (ql != 0 && ql != 128) {
            return ql < 128 ? EC_ERR_MALFORMED : EC_ERR_UNSUPPORTED;
        }
        if (ql == 128) {
            qt = p + 4;
        }
        p += 4 + ql;
        n -= 4 + ql;
    }
    if (st->have_done && r.ts == st->done_ts && r.ssrc == st->done_ssrc) {
        return 0; /* a duplicate or late packet of the frame already delivered */
    }
    /* a new frame? (new timestamp or source) */
    if (st->active && (r.ts != st->ts || r.ssrc != st->ssrc)) {
        drop(st);
    }
    if (!st->active) {
        st->active = 1;
        st->broken = 0;
        st->have_last = 0;
        st->have_tables = 0;
        st->nranges = 0;
        st->ts = r.ts;
        st->ssrc = r.ssrc;
        st->type = (uint8_t)type;
        st->q = (uint8_t)q;
        st->width = (uint16_t)w;
        st->height = (uint16_t)h;
        st->restart_interval = (uint16_t)dri;
    } else if (st->type != type || st->q != q || st->width != w || st->height != h ||
               st->restart_interval != dri) {
        st->broken = 1;
    }
    if (st->broken) {
        return 0;
    }
    if (qt != NULL) {
        copy(st->tables, qt, 128);
        st->have_tables = 1;
    }
    if (n > 0) {
        if ((size_t)off + n > cap || cap - (size_t)off - n < RESERVE ||
            (st->have_last && (size_t)off + n > st->total) || !add_range(st, off, off + (uint32_t)n)) {
            st->broken = 1;
            return 0;
        }
        copy(frame + RESERVE + off, p, n);
    }
    if (r.marker) {
        if (st->have_last && st->total != off + n) {
            st->broken = 1;
            return 0;
        }
        st->have_last = 1;
        st->total = off + (uint32_t)n;
        if (st->nranges > 0 && st->range_end[st->nranges - 1] > st->total) {
            st->broken = 1;
            return 0;
        }
    }
    if (!st->have_last || st->nranges != 1 || st->range_start[0] != 0 || st->range_end[0] != st->total ||
        st->total == 0) {
        return 0;
    }
    /* complete: tables, header, scan, EOI */
    {
        uint8_t tables[128];
        if (st->q < 128) {
            ec_jpeg_quant_tables(st->q, tables);
        } else if (st->have_tables) {
            copy(tables, st->tables, 128);
            if (st->q < 255) {
                copy(st->cache, st->tables, 128);
                st->cached_q = st->q;
            }
        } else if (st->q < 255 && st->cached_q == st->q) {
            copy(tables, st->cache, 128);
        } else {
            drop(st);
            return 0;
        }
        rc = ec_jpeg_header(st->width, st->height, st->type == 1 ? EC_JPEG_420 : EC_JPEG_422, tables,
                            st->restart_interval, frame, RESERVE);
        if (rc < 0) {
            drop(st);
            return 0;
        }
        move_down(frame + rc, frame + RESERVE, st->total);
        frame[rc + st->total] = 0xff;
        frame[rc + st->total + 1] = 0xd9;
        st->active = 0;
        st->have_done = 1;
        st->done_ts = st->ts;
        st->done_ssrc = st->ssrc;
        st->frames++;
        return rc + (int)st->total + 2;
    }
}
