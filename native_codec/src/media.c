/* media.c — media sender and receiver (see ec_media.h): RFC 3550/3551 packetisation of PCMU,
 * PCMA, DVI4 and G.722, RFC 2198 redundancy, RFC 5109 parity FEC, RFC 3550 SR/RR with the
 * statistics of its appendix A, RFC 4585 generic NACK with a retransmission cache, the
 * jitter buffer of ec_jb.h and the concealment of ec_plc.h; with EC_MEDIA_WITH_OPUS also Opus
 * (RFC 7587 payload, libopus 1.3.1 with its in-band FEC and PLC). */
#include "ec_media.h"

#include "ec_g711.h"
#include "ec_red.h"
#include "ec_rtp.h"

#ifdef EC_MEDIA_WITH_OPUS
#include "opus.h"
#define OPUS_TICKS_PER_MS 48u /* RTP clock of Opus (RFC 7587 §4.1) */
#define IS_OPUS(st) ((st)->codec == EC_MEDIA_OPUS)
#else
#define IS_OPUS(st) 0
#endif

#define TX_MAGIC 0x4D545831u /* "MTX1" */
#define RX_MAGIC 0x4D525831u /* "MRX1" */
#define ENT_VALID 1u
#define ENT_RTX 2u
#define MIN_RTX_GAP_MS 40u
#define NACK_REORDER_PACKETS 2u /* ask for a missing packet once 2 later ones have come, or... */
#define NACK_REORDER_MIN_MS 2u  /* ...after max(1.5 x jitter, 2 ms) */
#define RECOVERY_HOLD_MS 10000u /* the recovery allowance lasts this long after the last RED / retransmission */
#define RTX_MARGIN_MS 10u
#define RTX_MAX_MS 150u         /* the allowance never exceeds this; none when most retransmissions are slower */
#define RTX_QUANTILE_PCT 90u    /* the allowance covers this share of the retransmissions */
#define RTX_LOWER_MS 20u        /* the allowance falls only when it could be this much lower ... */
#define RTX_LOWER_HOLD_MS 3000u /* ... for this long (it rises at once) */
#define TICKS_PER_MS 8u
#define QUIET_RATIO 64u /* a quiet block: its mean magnitude 36 dB under the level follower */
#define QUIET_BLOCKS 8u /* 80 ms of quiet blocks: a pause */

static size_t align8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

/* pt, audio rate, samples per 10 ms block, bytes per block, extra bytes in the first block */
static int codec_params(int codec, int32_t *pt, int32_t *rate, int32_t *bs, int32_t *bb, int32_t *extra)
{
    switch (codec) {
    case EC_MEDIA_PCMU:
        *pt = EC_RTP_PT_PCMU, *rate = 8000, *bs = 80, *bb = 80, *extra = 0;
        return EC_OK;
    case EC_MEDIA_PCMA:
        *pt = EC_RTP_PT_PCMA, *rate = 8000, *bs = 80, *bb = 80, *extra = 0;
        return EC_OK;
    case EC_MEDIA_G722:
        *pt = EC_RTP_PT_G722, *rate = 16000, *bs = 160, *bb = 80, *extra = 0;
        return EC_OK;
    case EC_MEDIA_DVI4:
        *pt = EC_RTP_PT_DVI4, *rate = 8000, *bs = 80, *bb = 40, *extra = EC_DVI4_HEADER;
        return EC_OK;
#ifdef EC_MEDIA_WITH_OPUS
    case EC_MEDIA_OPUS: /* pt: the configuration's; a 20 ms packet fills two slots of <= 80 bytes */
        *pt = EC_MEDIA_OPUS_PT, *rate = 16000, *bs = 160, *bb = EC_MEDIA_OPUS_MAX_PAYLOAD / 2, *extra = 0;
        return EC_OK;
#endif
    default:
        return EC_ERR_ARG;
    }
}

int ec_media_block_samples(int codec)
{
    int32_t pt, rate, bs, bb, extra;
    return codec_params(codec, &pt, &rate, &bs, &bb, &extra) == EC_OK ? (int)bs : EC_ERR_ARG;
}

static int ptime_ok(int ms, int max)
{
    return ms >= 10 && ms <= max && ms % 10 == 0;
}

static void put_rtp(uint8_t *out, unsigned pt, unsigned marker, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    out[0] = 0x80u;
    out[1] = (uint8_t)((marker ? 0x80u : 0u) | pt);
    ec_wr16(out + 2, seq);
    ec_wr32(out + 4, ts);
    ec_wr32(out + 8, ssrc);
}

/* Appends SDES (CNAME "ec-" + the SSRC in hex) to the `len` bytes of RTCP already in out; the
 * compound's length, or the error (also a negative len, passed on). */
static int append_sdes(uint32_t ssrc, int len, uint8_t *out, size_t cap)
{
    uint8_t cname[11];
    int i, n;
    if (len < 0) {
        return len;
    }
    cname[0] = 'e';
    cname[1] = 'c';
    cname[2] = '-';
    for (i = 0; i < 8; i++) {
        cname[3 + i] = (uint8_t)"0123456789abcdef"[(ssrc >> (28 - 4 * i)) & 0xfu];
    }
    n = ec_rtcp_write_sdes_cname(ssrc, cname, sizeof cname, out + len, cap - (size_t)len);
    return n < 0 ? n : len + n;
}

/* ======================================================================================== */
/* sender                                                                                   */
/* ======================================================================================== */

typedef struct {
    uint16_t seq;
    uint16_t len;
    uint32_t ts;
    uint32_t sent_ms;
    uint8_t flags;
    uint8_t marker;
    uint8_t blocks;
    uint8_t pad;
} tx_entry;

static const uint32_t level_up_q8[4] = {0u, 8u, 20u, 51u}; /* 3 %, 8 %, 20 % */

/* What sender and receiver configurations share: dynamic payload types for RED and FEC, distinct,
 * and an RTCP interval from 100 ms to 60 s. */
static int rtp_params_ok(int pt_red, int pt_fec, int rtcp_interval_ms)
{
    if (pt_red < 96 || pt_red > 127 || pt_fec < 96 || pt_fec > 127 || pt_red == pt_fec) {
        return 0;
    }
    return rtcp_interval_ms >= 100 && rtcp_interval_ms <= 60000;
}

#ifdef EC_MEDIA_WITH_OPUS
static int opus_pt(int pt_opus)
{
    return pt_opus == 0 ? EC_MEDIA_OPUS_PT : pt_opus;
}

static int opus_pt_ok(int pt_opus, int pt_red, int pt_fec)
{
    int pt = opus_pt(pt_opus);
    return pt >= 96 && pt <= 127 && pt != pt_red && pt != pt_fec;
}

/* The Opus part of a sender's state: after the cache, then the OpusEncoder. */
typedef struct {
    int32_t bitrate, loss_perc, fec;
    int32_t base_bitrate; /* the configured bitrate (without FEC) */
    uint32_t encode_errors;
    int16_t pcm[160]; /* the first 10 ms block of the frame being built */
} opus_tx_part;

/* The Opus part of a receiver's state: after the jitter buffer's ring, then the OpusDecoder. */
typedef struct {
    uint32_t have_ref, ref48, ref8; /* RTP (48 kHz) -> buffer (8 kHz) timeline */
    uint32_t cached;                /* pcm's second half is the output for timestamp next_ts */
    uint32_t next_ts;
    uint32_t plc_next;              /* the block at next_ts is to be concealment: its frame's second half went out early */
    uint32_t recovered_fec, plc_frames, plc_blocks, bad, decode_errors;
    int16_t pcm[320];
} opus_rx_part;

static opus_tx_part *OTX(const ec_media_tx *st)
{
    return (opus_tx_part *)(void *)((uint8_t *)st + align8(st->cache_off + st->n_cache * st->entry_size));
}

static OpusEncoder *opus_encoder(ec_media_tx *st)
{
    return (OpusEncoder *)(void *)((uint8_t *)OTX(st) + align8(sizeof(opus_tx_part)));
}

/* libopus spends a share of the bits on in-band FEC: with it on, at least EC_MEDIA_OPUS_FEC_BITRATE. */
static int32_t opus_bitrate_for(int32_t base, int32_t fec)
{
    return fec && base < EC_MEDIA_OPUS_FEC_BITRATE ? EC_MEDIA_OPUS_FEC_BITRATE : base;
}

static opus_rx_part *ORX(const ec_media_rx *st)
{
    return (opus_rx_part *)(void *)((uint8_t *)st + align8(st->fec_off)); /* Opus: no FEC slots */
}

static OpusDecoder *opus_dec(ec_media_rx *st)
{
    return (OpusDecoder *)(void *)((uint8_t *)ORX(st) + align8(sizeof(opus_rx_part)));
}
#endif

static int tx_config_ok(const ec_media_tx_config *c)
{
    int32_t pt, rate, bs, bb, extra;
    if (c == NULL || codec_params(c->codec, &pt, &rate, &bs, &bb, &extra) != EC_OK) {
        return 0;
    }
    if (!ptime_ok(c->max_ptime_ms, EC_MEDIA_MAX_PTIME_MS) || !ptime_ok(c->ptime_ms, c->max_ptime_ms)) {
        return 0;
    }
    if ((c->red != 0 && c->red != 1) || (c->nack != 0 && c->nack != 1) || (c->adapt != 0 && c->adapt != 1)) {
        return 0;
    }
    if (c->fec_group != 0 && (c->fec_group < 2 || c->fec_group > EC_MEDIA_MAX_FEC_GROUP)) {
        return 0;
    }
    if (c->cache_packets < 8 || c->cache_packets < c->fec_group + 6 || c->cache_packets > 1024) {
        return 0;
    }
    if (c->codec == EC_MEDIA_G722 && c->g722_bitrate != 64000 && c->g722_bitrate != 56000 &&
        c->g722_bitrate != 48000) {
        return 0;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (c->codec == EC_MEDIA_OPUS) {
        int b = c->opus_bitrate == 0 ? EC_MEDIA_OPUS_BITRATE : c->opus_bitrate;
        if (c->ptime_ms != 20 || c->red != 0 || c->fec_group != 0 || !opus_pt_ok(c->pt_opus, c->pt_red, c->pt_fec) ||
            b < 6000 || b > 64000 || c->opus_complexity < 0 || c->opus_complexity > 10 || c->opus_loss_perc < 0 ||
            c->opus_loss_perc > 100) {
            return 0;
        }
    }
#endif
    return rtp_params_ok(c->pt_red, c->pt_fec, c->rtcp_interval_ms);
}

static size_t tx_entry_size(const ec_media_tx_config *c)
{
    int32_t pt = 0, rate = 0, bs = 0, bb = 0, extra = 0;
#ifdef EC_MEDIA_WITH_OPUS
    if (c->codec == EC_MEDIA_OPUS) {
        return (sizeof(tx_entry) + EC_MEDIA_OPUS_MAX_PAYLOAD + 3u) & ~(size_t)3u;
    }
#endif
    codec_params(c->codec, &pt, &rate, &bs, &bb, &extra);
    return (sizeof(tx_entry) + (size_t)extra + (size_t)bb * (size_t)(c->max_ptime_ms / 10) + 3u) & ~(size_t)3u;
}

size_t ec_media_tx_state_size(const ec_media_tx_config *cfg)
{
    if (!tx_config_ok(cfg)) {
        return 0;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (cfg->codec == EC_MEDIA_OPUS) {
        return align8(align8(align8(sizeof(ec_media_tx)) + (size_t)cfg->cache_packets * tx_entry_size(cfg)) +
                      sizeof(opus_tx_part)) + (size_t)opus_encoder_get_size(1);
    }
#endif
    return align8(sizeof(ec_media_tx)) + (size_t)cfg->cache_packets * tx_entry_size(cfg);
}

static tx_entry *entry(ec_media_tx *st, uint16_t seq)
{
    return (tx_entry *)(void *)((uint8_t *)st + st->cache_off + (size_t)(seq % st->n_cache) * st->entry_size);
}

static uint8_t *entry_data(tx_entry *e)
{
    return (uint8_t *)(e + 1);
}

static int bits_of(int bitrate)
{
    return bitrate == 56000 ? 7 : (bitrate == 48000 ? 6 : 8);
}

int ec_media_tx_init(ec_media_tx *st, size_t size, const ec_media_tx_config *cfg)
{
    size_t need = ec_media_tx_state_size(cfg), i;
    if (st == NULL || need == 0u) {
        return EC_ERR_ARG;
    }
    if (size < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    codec_params(cfg->codec, &st->pt, &st->rate, &st->block_samples, &st->block_bytes, &st->extra);
    st->codec = cfg->codec;
    st->base_ptime_ms = cfg->ptime_ms;
    st->max_ptime_ms = cfg->max_ptime_ms;
    st->ptime_blocks = st->next_ptime_blocks = cfg->ptime_ms / 10;
    st->red = st->cfg_red = cfg->red;
    st->fec_group = st->cfg_fec = cfg->fec_group;
    st->g722_bits = cfg->codec == EC_MEDIA_G722 ? bits_of(cfg->g722_bitrate) : 8;
    st->nack = cfg->nack;
    st->adapt = cfg->adapt;
    st->pt_red = cfg->pt_red;
    st->pt_fec = cfg->pt_fec;
    st->rtcp_interval_ms = cfg->rtcp_interval_ms;
    st->ssrc = cfg->ssrc;
    st->ts = cfg->ts0;
    st->seq = cfg->seq0;
    st->next_send = cfg->seq0;
    st->fec_seq = cfg->fec_seq0;
    st->pad0 = 0;
    st->cur_blocks = 0;
    st->cur_ts = cfg->ts0;
    st->n_cache = (uint32_t)cfg->cache_packets;
    st->entry_size = (uint32_t)tx_entry_size(cfg);
    st->cache_off = (uint32_t)align8(sizeof(ec_media_tx));
    st->group_count = 0;
    st->group_base = 0;
    st->fecq_n = 0;
    for (i = 0; i < EC_MEDIA_TXQ; i++) {
        st->fecq_base[i] = 0;
        st->fecq_count[i] = 0;
    }
    st->started = 0;
    st->next_sr_ms = 0;
    st->down_count = 0;
    st->win_have = 0;
    st->win_ms = st->win_ext = 0;
    st->burst_q4 = 16u;
    st->burst_seen = 0;
    st->win_lost = 0;
    {
        ec_media_tx_stats z = {0};
        st->st = z;
    }
    st->st.rtt_ms = -1;
    st->st.level = cfg->red ? 2u : (cfg->fec_group ? 1u : 0u);
    for (i = 0; i < st->n_cache; i++) {
        tx_entry *e = (tx_entry *)(void *)((uint8_t *)st + st->cache_off + i * st->entry_size);
        e->flags = 0;
        e->seq = 0;
    }
    if (cfg->codec == EC_MEDIA_G722) {
        if (ec_g722_enc_init(&st->enc.g722, sizeof st->enc.g722, 64000) != EC_OK) {
            return EC_ERR_ARG;
        }
    } else if (cfg->codec == EC_MEDIA_DVI4) {
        ec_adpcm_init(&st->enc.adpcm, sizeof st->enc.adpcm);
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (cfg->codec == EC_MEDIA_OPUS) {
        OpusEncoder *enc;
        opus_tx_part *o = OTX(st), z = {0};
        *o = z;
        st->pt = opus_pt(cfg->pt_opus);
        enc = opus_encoder(st);
        OTX(st)->base_bitrate = cfg->opus_bitrate == 0 ? EC_MEDIA_OPUS_BITRATE : cfg->opus_bitrate;
        OTX(st)->loss_perc = cfg->opus_loss_perc;
        OTX(st)->fec = cfg->opus_loss_perc > 0;
        OTX(st)->bitrate = opus_bitrate_for(OTX(st)->base_bitrate, OTX(st)->fec);
        OTX(st)->encode_errors = 0;
        if (opus_encoder_init(enc, 16000, 1, OPUS_APPLICATION_VOIP) != OPUS_OK ||
            opus_encoder_ctl(enc, OPUS_SET_BITRATE(OTX(st)->bitrate)) != OPUS_OK ||
            opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(cfg->opus_complexity)) != OPUS_OK ||
            opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(OTX(st)->loss_perc)) != OPUS_OK ||
            opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(OTX(st)->fec)) != OPUS_OK) {
            return EC_ERR_ARG;
        }
        st->st.level = (uint32_t)OTX(st)->fec;
    }
#endif
    st->magic = TX_MAGIC;
    return EC_OK;
}

static void encode_block(ec_media_tx *st, const int16_t *pcm, uint8_t *dst)
{
    int i;
    switch (st->codec) {
    case EC_MEDIA_PCMU:
        ec_g711_encode(EC_G711_ULAW, pcm, 80, dst, 80);
        break;
    case EC_MEDIA_PCMA:
        ec_g711_encode(EC_G711_ALAW, pcm, 80, dst, 80);
        break;
    case EC_MEDIA_G722:
        ec_g722_encode(&st->enc.g722, pcm, 160, dst, 80);
        if (st->g722_bits < 8) {
            /* 56/48 kbit/s: clear the lower-band bits a mode-2/3 decoder ignores */
            uint8_t mask = (uint8_t)(0xffu << (8 - st->g722_bits));
            for (i = 0; i < 80; i++) {
                dst[i] &= mask;
            }
        }
        break;
    default: /* DVI4: first sample in the high nibble (RFC 3551 §4.5.1) */
        for (i = 0; i < 80; i += 2) {
            unsigned hi = ec_adpcm_encode_sample(&st->enc.adpcm, pcm[i]);
            unsigned lo = ec_adpcm_encode_sample(&st->enc.adpcm, pcm[i + 1]);
            dst[i / 2] = (uint8_t)((hi << 4) | lo);
        }
        break;
    }
}

#ifdef EC_MEDIA_WITH_OPUS
/* A packet is complete in cache entry e: number it, mark it, start the SR clock. */
static void finish_packet(ec_media_tx *st, tx_entry *e, uint32_t now_ms)
{
    e->seq = st->seq;
    e->ts = st->cur_ts;
    e->blocks = (uint8_t)st->cur_blocks;
    e->marker = st->started ? 0u : 1u; /* first packet of the talkspurt (RFC 3551 §4.1) */
    e->sent_ms = now_ms;
    e->flags = ENT_VALID;
    if (!st->started) {
        st->started = 1;
        st->next_sr_ms = now_ms + (uint32_t)st->rtcp_interval_ms / 2u;
    }
    st->seq++;
    st->cur_blocks = 0;
}

/* Opus: 10 ms blocks are gathered into 20 ms frames, each encoded into one packet. */
static void opus_push_block(ec_media_tx *st, const int16_t *pcm, uint32_t now_ms)
{
    tx_entry *e = entry(st, st->seq);
    int i, r;
    if (st->cur_blocks == 0u) {
        st->cur_ts = st->ts;
        for (i = 0; i < 160; i++) {
            OTX(st)->pcm[i] = pcm[i];
        }
        st->ts += EC_MEDIA_OPUS_TS_PER_FRAME / 2u;
        st->cur_blocks = 1;
        return;
    }
    {
        int16_t frame[320];
        for (i = 0; i < 160; i++) {
            frame[i] = OTX(st)->pcm[i];
            frame[160 + i] = pcm[i];
        }
        st->ts += EC_MEDIA_OPUS_TS_PER_FRAME / 2u;
        e->flags = 0;
        r = opus_encode(opus_encoder(st), frame, 320, entry_data(e),
                        EC_MEDIA_OPUS_MAX_PAYLOAD);
    }
    if (r < 1) {
        OTX(st)->encode_errors++;
        st->cur_blocks = 0; /* the frame is not sent: the receiver sees a timestamp gap */
        return;
    }
    e->len = (uint16_t)r;
    st->cur_blocks = 2;
    finish_packet(st, e, now_ms);
}
#endif

int ec_media_tx_push(ec_media_tx *st, const int16_t *pcm, size_t n, uint32_t now_ms)
{
    size_t k, nb;
    if (st == NULL || st->magic != TX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (pcm == NULL || n == 0u || n % (size_t)st->block_samples != 0u) {
        return EC_ERR_ARG;
    }
    nb = n / (size_t)st->block_samples;
    if (nb > (size_t)(st->max_ptime_ms / 10)) {
        return EC_ERR_ARG;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        for (k = 0; k < nb; k++) {
            opus_push_block(st, pcm + k * 160u, now_ms);
        }
        return EC_OK;
    }
#endif
    for (k = 0; k < nb; k++) {
        tx_entry *e = entry(st, st->seq);
        if (st->cur_blocks == 0u) {
            st->ptime_blocks = st->next_ptime_blocks;
            st->cur_ts = st->ts;
            e->flags = 0;
            if (st->codec == EC_MEDIA_DVI4) {
                uint8_t *h = entry_data(e);
                ec_wr16(h, (uint32_t)(uint16_t)(int16_t)st->enc.adpcm.predictor);
                h[2] = (uint8_t)st->enc.adpcm.index;
                h[3] = 0;
            }
        }
        encode_block(st, pcm + k * (size_t)st->block_samples,
                     entry_data(e) + st->extra + st->cur_blocks * (uint32_t)st->block_bytes);
        st->ts += EC_JB_BLOCK_TS;
        st->cur_blocks++;
        if (st->cur_blocks == (uint32_t)st->ptime_blocks) {
            e->seq = st->seq;
            e->ts = st->cur_ts;
            e->len = (uint16_t)(st->extra + (int32_t)st->cur_blocks * st->block_bytes);
            e->blocks = (uint8_t)st->cur_blocks;
            e->marker = st->started ? 0u : 1u; /* first packet of the talkspurt (RFC 3551 §4.1) */
            e->sent_ms = now_ms;
            e->flags = ENT_VALID;
            if (!st->started) {
                st->started = 1;
                st->next_sr_ms = now_ms + (uint32_t)st->rtcp_interval_ms / 2u;
            }
            if (st->fec_group > 0) {
                if (st->group_count == 0u) {
                    st->group_base = st->seq;
                }
                st->group_count++;
                if (st->group_count == (uint32_t)st->fec_group) {
                    if (st->fecq_n < EC_MEDIA_TXQ) {
                        st->fecq_base[st->fecq_n] = st->group_base;
                        st->fecq_count[st->fecq_n] = (uint8_t)st->group_count;
                        st->fecq_n++;
                    }
                    st->group_count = 0;
                }
            }
            st->seq++;
            st->cur_blocks = 0;
        }
    }
    return EC_OK;
}

static void fecq_pop(ec_media_tx *st)
{
    unsigned i;
    for (i = 1; i < st->fecq_n; i++) {
        st->fecq_base[i - 1] = st->fecq_base[i];
        st->fecq_count[i - 1] = st->fecq_count[i];
    }
    st->fecq_n--;
}

static int cached(ec_media_tx *st, uint16_t seq, tx_entry **out)
{
    tx_entry *e = entry(st, seq);
    *out = e;
    return (e->flags & ENT_VALID) && e->seq == seq;
}

static void count_sent(ec_media_tx *st, int len)
{
    st->st.packets++;
    st->st.octets += (uint32_t)(len - EC_RTP_HEADER);
}

static int send_plain(ec_media_tx *st, tx_entry *e, uint8_t *out, size_t cap)
{
    if (cap < EC_RTP_HEADER + (size_t)e->len) {
        return EC_ERR_SHORT_BUFFER;
    }
    put_rtp(out, (unsigned)st->pt, e->marker, e->seq, e->ts, st->ssrc);
    {
        const uint8_t *d = entry_data(e);
        size_t i;
        for (i = 0; i < e->len; i++) {
            out[EC_RTP_HEADER + i] = d[i];
        }
    }
    return EC_RTP_HEADER + e->len;
}

static int send_fec(ec_media_tx *st, uint16_t base, unsigned count, uint8_t *out, size_t cap)
{
    ec_fec_source src[EC_MEDIA_MAX_FEC_GROUP];
    unsigned i;
    int r;
    tx_entry *e = NULL;
    if (cap < EC_RTP_HEADER) {
        return EC_ERR_SHORT_BUFFER;
    }
    for (i = 0; i < count; i++) {
        if (!cached(st, (uint16_t)(base + i), &e)) {
            return 0; /* overwritten: drop this FEC packet */
        }
        src[i].seq = e->seq;
        src[i].marker = e->marker;
        src[i].pt = (uint8_t)st->pt;
        src[i].ts = e->ts;
        src[i].payload = entry_data(e);
        src[i].len = e->len;
    }
    r = ec_fec_write(src, count, base, out + EC_RTP_HEADER, cap - EC_RTP_HEADER);
    if (r < 0) {
        return r;
    }
    put_rtp(out, (unsigned)st->pt_fec, 0, st->fec_seq, e->ts, st->ssrc);
    st->fec_seq++;
    st->st.fec_packets++;
    return EC_RTP_HEADER + r;
}

static int send_media(ec_media_tx *st, tx_entry *e, uint8_t *out, size_t cap)
{
    tx_entry *prev = NULL;
    ec_red_block blk[EC_MEDIA_RED_MAX_DISTANCE + 1];
    const uint8_t *data[EC_MEDIA_RED_MAX_DISTANCE + 1];
    size_t n = 0;
    int r, d, k;
    uint32_t ts = e->ts;
    if (!st->red) {
        st->st.media_packets++;
        return send_plain(st, e, out, cap);
    }
    if (cap < EC_RTP_HEADER) {
        return EC_ERR_SHORT_BUFFER;
    }
    /* the st->red packets before this one, oldest first, as far back as they are cached and
     * contiguous in time */
    for (d = 1; d <= st->red; d++) {
        if (!cached(st, (uint16_t)(e->seq - (uint32_t)d), &prev) || prev->ts + EC_JB_BLOCK_TS * prev->blocks != ts ||
            prev->len > EC_RED_MAX_LEN) {
            break;
        }
        ts = prev->ts;
    }
    for (k = d - 1; k >= 1; k--) {
        cached(st, (uint16_t)(e->seq - (uint32_t)k), &prev);
        blk[n].pt = (uint8_t)st->pt;
        blk[n].primary = 0;
        blk[n].ts_offset = (uint16_t)(e->ts - prev->ts);
        blk[n].len = prev->len;
        data[n] = entry_data(prev);
        n++;
    }
    blk[n].pt = (uint8_t)st->pt;
    blk[n].primary = 1;
    blk[n].ts_offset = 0;
    blk[n].len = e->len;
    data[n] = entry_data(e);
    n++;
    /* the oldest redundant blocks give way when the caller's buffer is too small for all */
    k = 0;
    r = ec_red_write(blk, data, n, out + EC_RTP_HEADER, cap - EC_RTP_HEADER);
    while (r == EC_ERR_SHORT_BUFFER && (size_t)k + 1u < n) {
        k++;
        r = ec_red_write(blk + k, data + k, n - (size_t)k, out + EC_RTP_HEADER, cap - EC_RTP_HEADER);
    }
    if (r < 0) {
        return r;
    }
    put_rtp(out, (unsigned)st->pt_red, e->marker, e->seq, e->ts, st->ssrc);
    st->st.media_packets++;
    st->st.red_packets++;
    return EC_RTP_HEADER + r;
}

static int send_sr(ec_media_tx *st, uint32_t now_ms, uint8_t *out, size_t cap)
{
    ec_rtcp_sender_info si;
    int n;
    ec_rtcp_ntp_from_ms(now_ms, &si.ntp_sec, &si.ntp_frac);
    si.rtp_ts = st->ts;
    si.packets = st->st.packets;
    si.octets = st->st.octets;
    n = append_sdes(st->ssrc, ec_rtcp_write_sr(st->ssrc, &si, NULL, 0, out, cap), out, cap);
    if (n >= 0) {
        st->st.sr_sent++;
    }
    return n;
}

int ec_media_tx_poll(ec_media_tx *st, uint32_t now_ms, uint8_t *out, size_t cap)
{
    uint32_t i;
    int r;
    if (st == NULL || st->magic != TX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    /* 1. retransmissions */
    for (i = 0; i < st->n_cache; i++) {
        tx_entry *e = (tx_entry *)(void *)((uint8_t *)st + st->cache_off + i * st->entry_size);
        if ((e->flags & (ENT_VALID | ENT_RTX)) == (ENT_VALID | ENT_RTX)) {
            r = send_plain(st, e, out, cap);
            if (r > 0) {
                e->flags &= (uint8_t)~ENT_RTX;
                e->sent_ms = now_ms;
                st->st.retransmissions++;
                count_sent(st, r);
            }
            return r;
        }
    }
    /* 2. an FEC packet whose group has been sent */
    while (st->fecq_n > 0u) {
        uint16_t last = (uint16_t)(st->fecq_base[0] + st->fecq_count[0] - 1u);
        if ((int16_t)(uint16_t)(last - st->next_send) >= 0) {
            break; /* not all of its group is out yet */
        }
        r = send_fec(st, st->fecq_base[0], st->fecq_count[0], out, cap);
        if (r == EC_ERR_SHORT_BUFFER) {
            return r;
        }
        fecq_pop(st);
        if (r > 0) {
            count_sent(st, r);
            return r;
        }
    }
    /* 3. new media */
    if (st->next_send != st->seq) {
        tx_entry *e;
        if ((uint16_t)(st->seq - st->next_send) > st->n_cache) {
            st->next_send = (uint16_t)(st->seq - st->n_cache); /* overwritten: the caller did not poll */
        }
        if (cached(st, st->next_send, &e)) {
            r = send_media(st, e, out, cap);
            if (r < 0) {
                return r;
            }
            e->sent_ms = now_ms;
            st->next_send++;
            count_sent(st, r);
            return r;
        }
        st->next_send++;
    }
    /* 4. a sender report when due */
    if (st->started && (int32_t)(now_ms - st->next_sr_ms) >= 0) {
        r = send_sr(st, now_ms, out, cap);
        if (r > 0) {
            st->next_sr_ms = now_ms + (uint32_t)st->rtcp_interval_ms;
        }
        return r;
    }
    return 0;
}

/* A run of `run` consecutive packets asked for in one NACK (0: none): what RED of the current
 * distance left of a loss burst, so the burst was run + distance long. Into the mean burst length
 * (Q4, weight 1/8). */
static void note_burst(ec_media_tx *st, uint32_t run)
{
    int32_t l;
    if (run == 0u) {
        return;
    }
    run += (uint32_t)st->red;
    l = (int32_t)(run > 8u ? 8u : run) * 16;
    st->burst_q4 = (uint32_t)((int32_t)st->burst_q4 + (l - (int32_t)st->burst_q4) / 8);
    st->burst_seen = 1;
}

/* RED's distance at a level: the mean loss burst (rounded up), at least 1 at level 2 and 2 at
 * level 3, at most EC_MEDIA_RED_MAX_DISTANCE. */
static int32_t red_distance(const ec_media_tx *st, uint32_t level)
{
    int32_t d = (int32_t)((st->burst_q4 + 15u) >> 4), least = level >= 3u ? 2 : 1;
    if (d < least) {
        d = least;
    }
    return d > EC_MEDIA_RED_MAX_DISTANCE ? EC_MEDIA_RED_MAX_DISTANCE : d;
}

static void apply_level(ec_media_tx *st, uint32_t level)
{
    int32_t fec = 0, red = 0, bits = 8;
    switch (level) {
    case 1:
        fec = 4;
        if (fec > (int32_t)st->n_cache - 6) {
            fec = (int32_t)st->n_cache - 6;
        }
        break;
    case 2:
        red = red_distance(st, 2u);
        break;
    case 3:
        red = red_distance(st, 3u);
        bits = 7;
        break;
    default:
        break;
    }
    if (fec != st->fec_group) {
        st->group_count = 0; /* a partial group is left unprotected */
    }
    st->fec_group = fec;
    st->red = red;
    if (st->codec == EC_MEDIA_G722) {
        st->g722_bits = bits;
    }
    st->next_ptime_blocks = st->base_ptime_ms / 10;
    st->st.level = level;
}

#ifdef EC_MEDIA_WITH_OPUS
/* Opus adaptation (see ec_media.h): in-band FEC on from EC_MEDIA_OPUS_FEC_ON_Q8 of smoothed loss,
 * off below EC_MEDIA_OPUS_FEC_OFF_Q8; while it is on, the expected loss is the smoothed loss
 * (capped) and the bitrate at least EC_MEDIA_OPUS_FEC_BITRATE; while it is off, 0 and the
 * configured bitrate. */
static void opus_adapt(ec_media_tx *st, uint32_t s)
{
    OpusEncoder *enc = opus_encoder(st);
    int32_t perc = (int32_t)((s * 100u + 255u) / 256u), fec, bitrate;
    fec = OTX(st)->fec ? s >= EC_MEDIA_OPUS_FEC_OFF_Q8 : s >= EC_MEDIA_OPUS_FEC_ON_Q8;
    if (perc > EC_MEDIA_OPUS_MAX_LOSS_PERC) {
        perc = EC_MEDIA_OPUS_MAX_LOSS_PERC;
    }
    if (!fec) {
        perc = 0;
    }
    bitrate = opus_bitrate_for(OTX(st)->base_bitrate, fec);
    if (bitrate != OTX(st)->bitrate) {
        opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate));
        OTX(st)->bitrate = bitrate;
    }
    if (perc != OTX(st)->loss_perc) {
        opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(perc));
        OTX(st)->loss_perc = perc;
    }
    if (fec != OTX(st)->fec) {
        opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(fec));
        OTX(st)->fec = fec;
        st->st.level = (uint32_t)fec;
        st->st.level_changes++;
    }
}
#endif

static void adapt(ec_media_tx *st, uint32_t fraction)
{
    uint32_t s = (st->st.loss_smoothed_q8 + fraction) / 2u;
    uint32_t level = st->st.level, target = level;
    st->st.loss_smoothed_q8 = s;
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        opus_adapt(st, s);
        return;
    }
#endif
    while (target < 3u && s >= level_up_q8[target + 1u]) {
        target++;
    }
    if (target == level && level > 0u && s < level_up_q8[level] / 2u) {
        st->down_count++;
        if (st->down_count >= 2u) {
            target = level - 1u;
        }
    } else if (target == level) {
        st->down_count = 0;
    }
    if (target != level) {
        st->down_count = 0;
        st->st.level_changes++;
        apply_level(st, target);
    }
}

/* A report block for our SSRC: adapts once per loss window (see ec_media.h). */
static void window_report(ec_media_tx *st, const ec_rtcp_block *b, uint32_t now_ms)
{
    uint32_t expected;
    int32_t lost;
    if (st->win_have && now_ms - st->win_ms < (uint32_t)EC_MEDIA_LOSS_WINDOW_MS) {
        return;
    }
    expected = b->ext_highest_seq - st->win_ext;
    lost = b->cumulative_lost - st->win_lost;
    if (st->win_have && expected > 0u && expected < 0x8000u) {
        uint32_t q8 = lost > 0 ? ((uint32_t)lost * 256u) / expected : 0u;
        if (!st->burst_seen) { /* no loss left after RED in this window: the bursts may be shorter */
            st->burst_q4 -= (st->burst_q4 - 16u) / 8u;
        }
        st->burst_seen = 0;
        adapt(st, q8 > 255u ? 255u : q8);
    }
    st->win_have = 1;
    st->win_ms = now_ms;
    st->win_ext = b->ext_highest_seq;
    st->win_lost = b->cumulative_lost;
}

int ec_media_tx_on_packet(ec_media_tx *st, const uint8_t *pkt, size_t len, uint32_t now_ms)
{
    ec_rtcp_info info;
    uint32_t i;
    if (st == NULL || st->magic != TX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (pkt == NULL) {
        return EC_ERR_ARG;
    }
    if (!ec_rtcp_is_rtcp(pkt, len) || ec_rtcp_parse(pkt, len, &info) < 0) {
        return EC_ERR_MALFORMED;
    }
    for (i = 0; i < info.n_blocks; i++) {
        const ec_rtcp_block *b = &info.blocks[i];
        if (b->ssrc != st->ssrc) {
            continue;
        }
        st->st.rr_received++;
        st->st.fraction_lost = b->fraction_lost;
        st->st.cumulative_lost = b->cumulative_lost;
        st->st.jitter = b->jitter;
        if (b->lsr != 0u) {
            uint32_t rtt = ec_rtcp_ntp_mid_from_ms(now_ms) - b->lsr - b->dlsr;
            if ((int32_t)rtt >= 0) {
                st->st.rtt_ms = (int32_t)(((uint64_t)rtt * 1000u) >> 16);
            }
        }
        if (st->adapt) {
            window_report(st, b, now_ms);
        }
    }
    if ((info.flags & EC_RTCP_HAS_NACK) && info.nack_media == st->ssrc) {
        uint32_t gap = st->st.rtt_ms > (int32_t)MIN_RTX_GAP_MS ? (uint32_t)st->st.rtt_ms : MIN_RTX_GAP_MS;
        uint16_t last = 0;
        uint32_t run = 0;
        st->st.nack_received++;
        for (i = 0; i < info.n_nack; i++) {
            unsigned bit;
            for (bit = 0; bit <= 16u; bit++) {
                uint16_t seq;
                tx_entry *e;
                if (bit > 0u && !(info.nack[i].blp & (1u << (bit - 1u)))) {
                    continue;
                }
                seq = (uint16_t)(info.nack[i].pid + bit);
                if (run > 0u && seq == (uint16_t)(last + 1u)) {
                    run++;
                } else {
                    note_burst(st, run);
                    run = 1;
                }
                last = seq;
                st->st.nack_seqs++;
                if (!st->nack || !cached(st, seq, &e) || (int16_t)(uint16_t)(seq - st->next_send) >= 0) {
                    st->st.nack_unavailable++;
                    continue;
                }
                if (now_ms - e->sent_ms >= gap) {
                    e->flags |= ENT_RTX;
                }
            }
        }
        note_burst(st, run);
        if (st->adapt && st->st.level >= 2u) {
            st->red = red_distance(st, st->st.level);
        }
    }
    return EC_OK;
}

int ec_media_tx_get_stats(const ec_media_tx *st, ec_media_tx_stats *out)
{
    if (st == NULL || st->magic != TX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    *out = st->st;
    out->ptime_ms = (uint32_t)st->next_ptime_blocks * 10u;
    out->red = (uint32_t)st->red;
    out->fec_group = (uint32_t)st->fec_group;
    out->g722_bitrate = st->codec == EC_MEDIA_G722 ? (uint32_t)st->g722_bits * 8000u : 0u;
    return EC_OK;
}

#ifdef EC_MEDIA_WITH_OPUS
int ec_media_tx_opus_stats(const ec_media_tx *st, ec_media_opus_stats *out)
{
    ec_media_opus_stats z = {0};
    if (st == NULL || st->magic != TX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL || st->codec != EC_MEDIA_OPUS) {
        return EC_ERR_ARG;
    }
    *out = z;
    out->bitrate = (uint32_t)OTX(st)->bitrate;
    out->loss_perc = (uint32_t)OTX(st)->loss_perc;
    out->inband_fec = (uint32_t)OTX(st)->fec;
    out->encode_errors = OTX(st)->encode_errors;
    return EC_OK;
}
#endif

/* ======================================================================================== */
/* receiver                                                                                 */
/* ======================================================================================== */

static int rx_config_ok(const ec_media_rx_config *c)
{
    int32_t pt, rate, bs, bb, extra;
    if (c == NULL || codec_params(c->codec, &pt, &rate, &bs, &bb, &extra) != EC_OK) {
        return 0;
    }
    if (!ptime_ok(c->ptime_ms, EC_MEDIA_MAX_PTIME_MS) || !ptime_ok(c->max_ptime_ms, EC_MEDIA_MAX_PTIME_MS)) {
        return 0;
    }
    if (c->buffer_ms < 80 || c->buffer_ms < 2 * c->max_ptime_ms || c->buffer_ms % 10 != 0 ||
        c->buffer_ms > EC_JB_MAX_BLOCKS * 10) {
        return 0;
    }
    if (c->fixed_delay_ms < 0 || c->fixed_delay_ms > c->buffer_ms - 20 || c->min_delay_ms < 0 ||
        c->min_delay_ms > 2000 || c->max_delay_ms < 0 || c->max_delay_ms > 2000) {
        return 0;
    }
    if ((c->nack != 0 && c->nack != 1) || c->nack_retry_ms < 10 || c->nack_retry_ms > 1000) {
        return 0;
    }
    if (c->fec_slots < 0 || c->fec_slots > EC_MEDIA_MAX_FEC_SLOTS) {
        return 0;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (c->codec == EC_MEDIA_OPUS && (c->max_ptime_ms < 20 || !opus_pt_ok(c->pt_opus, c->pt_red, c->pt_fec))) {
        return 0;
    }
#endif
    return rtp_params_ok(c->pt_red, c->pt_fec, c->rtcp_interval_ms);
}

static size_t fec_entry_size(const ec_media_rx_config *c)
{
    int32_t pt = 0, rate = 0, bs = 0, bb = 0, extra = 0;
    codec_params(c->codec, &pt, &rate, &bs, &bb, &extra);
    /* len, age, FEC header, long level header, the longest payload */
    return (4u + EC_FEC_HEADER + EC_FEC_LEVEL_LONG + (size_t)extra + (size_t)bb * (size_t)(c->max_ptime_ms / 10) +
            3u) & ~(size_t)3u;
}

static size_t rx_jb_off(void)
{
    return offsetof(ec_media_rx, jb);
}

size_t ec_media_rx_state_size(const ec_media_rx_config *cfg)
{
    if (!rx_config_ok(cfg)) {
        return 0;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (cfg->codec == EC_MEDIA_OPUS) { /* no FEC slots: RFC 5109 is not used with Opus */
        return align8(align8(rx_jb_off() + align8(ec_jb_state_size((uint32_t)(cfg->buffer_ms / 10)))) +
                      sizeof(opus_rx_part)) + (size_t)opus_decoder_get_size(1);
    }
#endif
    return rx_jb_off() + align8(ec_jb_state_size((uint32_t)(cfg->buffer_ms / 10))) +
           (size_t)cfg->fec_slots * fec_entry_size(cfg);
}

static uint8_t *fec_slot(ec_media_rx *st, uint32_t i)
{
    return (uint8_t *)st + st->fec_off + (size_t)i * st->fec_entry;
}

static void fec_clear(ec_media_rx *st)
{
    uint32_t i;
    for (i = 0; i < st->n_fec; i++) {
        uint8_t *s = fec_slot(st, i);
        s[0] = s[1] = s[2] = s[3] = 0;
    }
}

int ec_media_rx_init(ec_media_rx *st, size_t size, const ec_media_rx_config *cfg)
{
    size_t need = ec_media_rx_state_size(cfg), jbsize;
    int r;
    uint32_t i;
    if (st == NULL || need == 0u) {
        return EC_ERR_ARG;
    }
    if (size < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    codec_params(cfg->codec, &st->pt, &st->rate, &st->block_samples, &st->block_bytes, &st->extra);
    st->codec = cfg->codec;
    st->ptime_blocks = cfg->ptime_ms / 10;
    st->max_blocks = cfg->max_ptime_ms / 10;
    st->pt_red = cfg->pt_red;
    st->pt_fec = cfg->pt_fec;
    st->nack = cfg->nack;
    st->nack_retry_ms = cfg->nack_retry_ms;
    st->rtcp_interval_ms = cfg->rtcp_interval_ms;
    st->ssrc = cfg->ssrc;
    st->have_source = 0;
    st->cand_ssrc = 0;
    st->cand_seq = st->cand_count = 0;
    st->ts_offset = 0;
    st->have_last = 0;
    st->last_ext_seq = st->last_ts = st->last_dur = 0;
    st->rebase = 0;
    st->have_sr = st->lsr = st->lsr_ms = 0;
    st->next_rr_ms = 0;
    st->rr_started = 0;
    st->n_nack = 0;
    st->asked_valid = st->asked_got = 0;
    st->rtx_arrivals = 0;
    st->asked_next = 0;
    st->rtx_seen = st->rtx_last_ms = st->rtx_floor_ms = st->rtx_low_ms = 0;
    for (i = 0; i < EC_MEDIA_RTX_BINS; i++) {
        st->rtx_hist[i] = 0;
    }
    st->red_seen = st->red_ms = st->red_last_ms = 0;
    st->level = st->quiet = 0;
    {
        ec_media_rx_stats z = {0};
        st->st = z;
    }
    st->st.g722_bitrate = cfg->codec == EC_MEDIA_G722 ? 64000u : 0u;
    jbsize = align8(ec_jb_state_size((uint32_t)(cfg->buffer_ms / 10)));
    r = ec_jb_init(&st->jb, jbsize, (uint32_t)(cfg->buffer_ms / 10), cfg->fixed_delay_ms, cfg->min_delay_ms,
                   cfg->max_delay_ms);
    if (r != EC_OK) {
        return r;
    }
    st->n_fec = (uint32_t)cfg->fec_slots;
#ifdef EC_MEDIA_WITH_OPUS
    if (cfg->codec == EC_MEDIA_OPUS) {
        st->n_fec = 0;
    }
#endif
    st->fec_entry = (uint32_t)fec_entry_size(cfg);
    st->fec_off = (uint32_t)(rx_jb_off() + jbsize);
    st->fec_age = 0;
    fec_clear(st);
    r = ec_plc_init(&st->plc, sizeof st->plc, st->rate);
    if (r != EC_OK) {
        return r;
    }
    if (cfg->codec == EC_MEDIA_G722) {
        r = ec_g722_dec_init(&st->dec.g722, sizeof st->dec.g722, 64000);
    } else if (cfg->codec == EC_MEDIA_DVI4) {
        r = ec_adpcm_init(&st->dec.adpcm, sizeof st->dec.adpcm);
    }
    if (r != EC_OK) {
        return r;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (cfg->codec == EC_MEDIA_OPUS) {
        opus_rx_part *o = ORX(st), z = {0};
        *o = z;
        st->pt = opus_pt(cfg->pt_opus);
        if (opus_decoder_init(opus_dec(st), 16000, 1) != OPUS_OK) {
            return EC_ERR_ARG;
        }
    }
#endif
    st->magic = RX_MAGIC;
    return EC_OK;
}

int ec_media_rx_frame_samples(const ec_media_rx *st)
{
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    return st->ptime_blocks * st->block_samples;
}

#ifdef EC_MEDIA_WITH_OPUS
/* An Opus payload: 2 (blocks) for one valid 20 ms packet of 2..EC_MEDIA_OPUS_MAX_PAYLOAD bytes, 0 for
 * a valid packet of another shape, EC_ERR_MALFORMED for bytes that are not an Opus packet. */
static int opus_payload_blocks(const uint8_t *p, size_t len)
{
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    if (len == 0u || len > 1275u * 3u + 7u || opus_packet_parse(p, (opus_int32)len, NULL, frames, sizes, NULL) < 0) {
        return EC_ERR_MALFORMED;
    }
    if (len < 2u || len > EC_MEDIA_OPUS_MAX_PAYLOAD || opus_packet_get_nb_samples(p, (opus_int32)len, 16000) != 320) {
        return 0;
    }
    return 2;
}

/* The jitter buffer's split of an Opus payload into two slots: extra (0 or 1) + two halves. */
static int opus_store(ec_media_rx *st, uint32_t now_ms, uint32_t ts, uint16_t seq, const uint8_t *p, size_t len,
                      unsigned flags, int update_delay)
{
    return ec_jb_insert(&st->jb, now_ms, ts, seq, p, len, len % 2u, len / 2u, flags, update_delay);
}
#endif

/* Is this a usable codec payload? Returns its block count or 0. */
static int payload_blocks(const ec_media_rx *st, const uint8_t *p, size_t len)
{
    size_t n;
    if (len < (size_t)(st->extra + st->block_bytes) || (len - (size_t)st->extra) % (size_t)st->block_bytes != 0u) {
        return 0;
    }
    n = (len - (size_t)st->extra) / (size_t)st->block_bytes;
    if (n > (size_t)st->max_blocks) {
        return 0;
    }
    if (st->codec == EC_MEDIA_DVI4 && p[2] > EC_ADPCM_MAX_INDEX) {
        return 0;
    }
    return (int)n;
}

/* ---- NACK list ---- */

/* asked_valid and asked_got hold one bit per slot */
typedef char nack_slots_fit_a_mask[EC_MEDIA_NACK_MAX <= 32 ? 1 : -1];

static int nack_asked(const ec_media_rx *st, uint16_t seq);

/* seq came: no more requests for it. */
static void nack_remove(ec_media_rx *st, uint16_t seq)
{
    uint32_t i, j;
    for (i = 0; i < st->n_nack; i++) {
        if (st->nack_list[i].seq == seq) {
            for (j = i + 1; j < st->n_nack; j++) {
                st->nack_list[j - 1] = st->nack_list[j];
            }
            st->n_nack--;
            return;
        }
    }
}

/* The slot of seq among the packets asked for recently, or -1. */
static int nack_asked(const ec_media_rx *st, uint16_t seq)
{
    int i;
    for (i = 0; i < EC_MEDIA_NACK_MAX; i++) {
        if (st->asked[i] == seq && (st->asked_valid >> i) & 1u) {
            return i;
        }
    }
    return -1;
}

enum { RTX_NONE, RTX_COPY, RTX_RECOVERY };

/* A packet that was asked for has come: is it a retransmission, and one that recovers it (see ec_media.h)?
 * One that comes sooner than EC_MEDIA_RTX_MIN_MS after the request is the original, late; a
 * second copy (the retransmission of a packet whose original came, late) recovers nothing.
 * Retransmissions are counted for the RR either way. */
static int nack_recovers(ec_media_rx *st, uint16_t seq, uint32_t now_ms)
{
    int i = nack_asked(st, seq), rtx, first;
    if (i < 0) {
        return RTX_NONE;
    }
    rtx = (uint16_t)((uint16_t)now_ms - st->asked_ms[i]) >= EC_MEDIA_RTX_MIN_MS;
    first = !((st->asked_got >> i) & 1u);
    st->asked_got |= 1u << i;
    st->rtx_arrivals += (uint32_t)rtx;
    return !rtx ? RTX_NONE : first ? RTX_RECOVERY : RTX_COPY;
}

/* RED or FEC rebuilt seq: no more requests for it, and a retransmission of it that comes later
 * recovers nothing. */
static void nack_rebuilt(ec_media_rx *st, uint16_t seq)
{
    int slot = nack_asked(st, seq);
    if (slot >= 0) {
        st->asked_got |= 1u << slot;
    }
    nack_remove(st, seq);
}

static void note_asked(ec_media_rx *st, uint16_t seq, uint32_t now_ms)
{
    uint32_t i = st->asked_next % EC_MEDIA_NACK_MAX;
    st->asked[i] = seq;
    st->asked_ms[i] = (uint16_t)now_ms;
    st->asked_valid |= 1u << i;
    st->asked_got &= ~(1u << i);
    st->asked_next = i + 1u;
}

/* The reorder window: a missing packet is asked for once two later ones have come, or once it
 * has been missing for 1.5 x the interarrival jitter (at least NACK_REORDER_MIN_MS). */
static int nack_due_first(const ec_media_rx *st, const ec_media_nack_entry *e, uint32_t now_ms)
{
    uint32_t ticks = IS_OPUS(st) ? 48u : TICKS_PER_MS;
    uint32_t wait = (st->src.jitter >> 4) * 3u / (2u * ticks);
    if (wait < NACK_REORDER_MIN_MS) {
        wait = NACK_REORDER_MIN_MS;
    }
    return (uint16_t)((uint16_t)ec_rtp_source_ext_max(&st->src) - e->seq) >= NACK_REORDER_PACKETS ||
           now_ms - e->sent_ms >= wait;
}

static void nack_add(ec_media_rx *st, uint16_t seq, uint32_t now_ms)
{
    uint32_t j;
    if (st->n_nack == EC_MEDIA_NACK_MAX) {
        for (j = 1; j < st->n_nack; j++) {
            st->nack_list[j - 1] = st->nack_list[j];
        }
        st->n_nack--;
    }
    st->nack_list[st->n_nack].seq = seq;
    st->nack_list[st->n_nack].tries = 0;
    st->nack_list[st->n_nack].pad = 0;
    st->nack_list[st->n_nack].sent_ms = now_ms; /* until the first NACK: when it went missing */
    st->n_nack++;
}

/* Forget requests for packets older than the one just played. */
static void nack_prune(ec_media_rx *st, uint16_t played_seq)
{
    uint32_t i = 0, j;
    while (i < st->n_nack) {
        if ((int16_t)(uint16_t)(st->nack_list[i].seq - played_seq) < 0) {
            for (j = i + 1; j < st->n_nack; j++) {
                st->nack_list[j - 1] = st->nack_list[j];
            }
            st->n_nack--;
        } else {
            i++;
        }
    }
}

/* ---- recovery allowance ---- */

/* A retransmission arrived with relative delay rd_ms: into the retransmissions' delay histogram
 * (each one weighs 1/16, older ones fade by 15/16). Only one that recovers a packet (recovery) keeps
 * the allowance on: the retransmission of a packet whose original came late, or that RED or FEC
 * rebuilt, tells how long retransmissions take, not that they are needed. */
static void note_rtx(ec_media_rx *st, uint32_t now_ms, int rd_ms, int recovery)
{
    uint32_t b = rd_ms > 0 ? (uint32_t)rd_ms / 10u : 0u, i;
    if (b >= EC_MEDIA_RTX_BINS) {
        b = EC_MEDIA_RTX_BINS - 1u;
    }
    for (i = 0; i < EC_MEDIA_RTX_BINS; i++) {
        st->rtx_hist[i] -= st->rtx_hist[i] >> 4;
    }
    st->rtx_hist[b] += 1u << 12;
    if (recovery) {
        st->rtx_last_ms = now_ms;
        st->rtx_seen = 1;
    }
}

/* The upper edge (ms) of the bin where pct % of the retransmissions' weight lies below. */
static uint32_t rtx_quantile(const ec_media_rx *st, uint32_t pct)
{
    uint32_t total = 0, cum = 0, i;
    for (i = 0; i < EC_MEDIA_RTX_BINS; i++) {
        total += st->rtx_hist[i];
    }
    for (i = 0; i + 1u < EC_MEDIA_RTX_BINS; i++) {
        cum += st->rtx_hist[i];
        if ((uint64_t)cum * 100u >= (uint64_t)total * pct) {
            break;
        }
    }
    return 10u * (i + 1u);
}

/* The jitter buffer's target covers recovery: the RED distance while RED packets come, and while
 * retransmissions come, the delay that covers RTX_QUANTILE_PCT % of them (+ a margin, at most
 * RTX_MAX_MS; none when half of them are slower than that). The retransmission floor rises at once
 * and falls only after a lower one has done for RTX_LOWER_HOLD_MS, so it does not follow every
 * retransmission (each change of the target costs time-scale steps). */
static void update_allowance(ec_media_rx *st, uint32_t now_ms)
{
    int add = 0;
    uint32_t want = 0;
    if (st->red_seen && now_ms - st->red_last_ms < RECOVERY_HOLD_MS) {
        add = (int)st->red_ms;
    }
    if (st->rtx_seen && now_ms - st->rtx_last_ms < RECOVERY_HOLD_MS && rtx_quantile(st, 50u) + RTX_MARGIN_MS <= RTX_MAX_MS) {
        want = rtx_quantile(st, RTX_QUANTILE_PCT) + RTX_MARGIN_MS;
        if (want > RTX_MAX_MS) {
            want = RTX_MAX_MS;
        }
    }
    if (want >= st->rtx_floor_ms) {
        st->rtx_floor_ms = want;
        st->rtx_low_ms = 0;
    } else if (want + RTX_LOWER_MS > st->rtx_floor_ms && want != 0u) {
        st->rtx_low_ms = 0; /* within the band: keep it */
    } else if (st->rtx_low_ms == 0u) {
        st->rtx_low_ms = now_ms | 1u;
    } else if (now_ms - st->rtx_low_ms >= RTX_LOWER_HOLD_MS) {
        st->rtx_floor_ms = want;
        st->rtx_low_ms = 0;
    }
    ec_jb_set_allowance(&st->jb, add, (int)st->rtx_floor_ms);
}

/* ---- FEC ---- */

/* Is the packet whose first block is b complete in the ring? Returns its length or -1. */
static int packet_len(const ec_media_rx *st, const ec_jb_block *b)
{
    unsigned i;
    int len = 0;
    for (i = 0; i < b->count; i++) {
        const ec_jb_block *k = ec_jb_find(&st->jb, b->ts + EC_JB_BLOCK_TS * i);
        if (k == NULL || k->seq != b->seq || k->index != i || k->count != b->count) {
            return -1;
        }
        len += k->len;
    }
    return len;
}

static int passed(const ec_media_rx *st, uint32_t media_ts)
{
    return st->jb.playing && (int32_t)(media_ts - st->jb.play_ts) < 0;
}

/* Tries the FEC packet in slot i. Returns 1 if the slot is done with (used or useless). */
static int fec_try(ec_media_rx *st, uint32_t i, uint32_t now_ms)
{
    uint8_t *slot = fec_slot(st, i);
    uint8_t *pay = slot + 4;
    size_t flen = ec_rd16(slot);
    ec_fec_header h;
    ec_fec_bits acc;
    uint16_t missing_seq = 0;
    unsigned missing = 0, bit;
    int n_blocks;
    uint32_t media_ts;
    if (ec_fec_parse(pay, flen, &h) != EC_OK) {
        return 1;
    }
    for (bit = 0; bit < EC_FEC_MAX_GROUP; bit++) {
        const ec_jb_block *b;
        if (!(h.mask & ((uint64_t)1 << bit))) {
            continue;
        }
        b = ec_jb_find_seq(&st->jb, (uint16_t)(h.sn_base + bit));
        if (b == NULL || packet_len(st, b) < 0) {
            missing++;
            missing_seq = (uint16_t)(h.sn_base + bit);
        }
    }
    if (missing == 0u) {
        return 1;
    }
    if (missing > 1u) {
        return 0;
    }
    /* recover in place: XOR the present packets into the level-0 data */
    ec_fec_bits_init(&acc, &h);
    for (bit = 0; bit < EC_FEC_MAX_GROUP; bit++) {
        const ec_jb_block *b;
        unsigned k;
        size_t off = 0;
        int len;
        if (!(h.mask & ((uint64_t)1 << bit)) || (uint16_t)(h.sn_base + bit) == missing_seq) {
            continue;
        }
        b = ec_jb_find_seq(&st->jb, (uint16_t)(h.sn_base + bit));
        len = packet_len(st, b);
        ec_fec_bits_add(&acc, (b->flags & EC_JB_F_MARKER) ? 1u : 0u, (unsigned)st->pt, b->ts - st->ts_offset,
                        (uint16_t)len);
        for (k = 0; k < b->count; k++) {
            const ec_jb_block *blk = ec_jb_find(&st->jb, b->ts + EC_JB_BLOCK_TS * k);
            size_t m = blk->len;
            if (off < h.prot_len) {
                if (m > h.prot_len - off) {
                    m = h.prot_len - off;
                }
                ec_fec_xor(pay + h.data_off + off, blk->data, m);
            }
            off += blk->len;
        }
    }
    if ((acc.b0 & 0x3fu) != 0u || (acc.b1 & 0x7fu) != (unsigned)st->pt || acc.len > h.prot_len) {
        return 1; /* not a packet this receiver can use */
    }
    n_blocks = payload_blocks(st, pay + h.data_off, acc.len);
    media_ts = acc.ts + st->ts_offset;
    if (n_blocks == 0 || ec_jb_misalignment(&st->jb, media_ts) != 0u ||
        passed(st, media_ts)) {
        return 1;
    }
    if (ec_jb_insert(&st->jb, now_ms, media_ts, missing_seq, pay + h.data_off, acc.len, (size_t)st->extra,
                     (size_t)st->block_bytes, EC_JB_F_RECOVERED | ((acc.b1 & 0x80u) ? EC_JB_F_MARKER : 0u),
                     0) == EC_JB_STORED) {
        st->st.recovered_fec++;
        nack_rebuilt(st, missing_seq);
    }
    return 1;
}

static void fec_try_all(ec_media_rx *st, uint32_t now_ms)
{
    int progress = 1, guard = 0;
    while (progress && guard++ < EC_MEDIA_MAX_FEC_SLOTS + 1) {
        uint32_t i;
        progress = 0;
        for (i = 0; i < st->n_fec; i++) {
            uint8_t *slot = fec_slot(st, i);
            if (ec_rd16(slot) != 0u && fec_try(st, i, now_ms)) {
                slot[0] = slot[1] = 0;
                progress = 1;
            }
        }
    }
}

static int on_fec(ec_media_rx *st, const uint8_t *pay, size_t len, uint32_t now_ms)
{
    ec_fec_header h;
    uint32_t i, pick = 0, oldest = 0xffffffffu;
    uint8_t *slot;
    size_t j;
    if (ec_fec_parse(pay, len, &h) != EC_OK) {
        st->st.malformed++;
        return EC_ERR_MALFORMED;
    }
    st->st.fec_packets++;
    if (st->n_fec == 0u || len > st->fec_entry - 4u) {
        return EC_MEDIA_RX_FEC; /* no room for it: counted, not used */
    }
    for (i = 0; i < st->n_fec; i++) {
        uint8_t *s = fec_slot(st, i);
        uint32_t age = ec_rd16(s + 2);
        if (ec_rd16(s) == 0u) {
            pick = i;
            break;
        }
        if ((uint16_t)(st->fec_age - age) > (uint16_t)(st->fec_age - oldest) || oldest == 0xffffffffu) {
            oldest = age;
            pick = i;
        }
    }
    slot = fec_slot(st, pick);
    ec_wr16(slot, (uint32_t)len);
    ec_wr16(slot + 2, st->fec_age);
    st->fec_age++;
    for (j = 0; j < len; j++) {
        slot[4 + j] = pay[j];
    }
    fec_try_all(st, now_ms);
    return EC_MEDIA_RX_FEC;
}

/* ---- packets ---- */

static void start_source(ec_media_rx *st, uint32_t ssrc, uint16_t seq, uint32_t now_ms)
{
    ec_rtp_source_init(&st->src, ssrc, seq, 1);
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        ORX(st)->have_ref = 0;
    }
#endif
    st->have_source = 1;
    st->have_sr = 0;
    st->have_last = 0;
    st->n_nack = 0;
    st->asked_valid = st->asked_got = 0;
    st->rtx_arrivals = 0;
    st->cand_count = 0;
    if (!st->rr_started) {
        st->rr_started = 1;
        st->next_rr_ms = now_ms + (uint32_t)st->rtcp_interval_ms;
    }
}

static int on_rtcp(ec_media_rx *st, const uint8_t *pkt, size_t len, uint32_t now_ms)
{
    ec_rtcp_info info;
    if (ec_rtcp_parse(pkt, len, &info) < 0) {
        st->st.malformed++;
        return EC_ERR_MALFORMED;
    }
    st->st.rtcp_packets++;
    if ((info.flags & EC_RTCP_HAS_SR) && st->have_source && info.ssrc == st->src.ssrc) {
        st->have_sr = 1;
        st->lsr = (info.sr.ntp_sec << 16) | (info.sr.ntp_frac >> 16);
        st->lsr_ms = now_ms;
        st->st.sr_received++;
    }
    return EC_MEDIA_RX_RTCP;
}

static int store_result(int r)
{
    switch (r) {
    case EC_JB_STORED:
    case EC_JB_FLUSHED:
        return EC_MEDIA_RX_MEDIA;
    case EC_JB_LATE:
        return EC_MEDIA_RX_LATE;
    case EC_JB_DUPLICATE:
        return EC_MEDIA_RX_DUPLICATE;
    case EC_JB_OVERFLOW:
        return EC_MEDIA_RX_OVERFLOW;
    default:
        return r;
    }
}

int ec_media_rx_packet(ec_media_rx *st, const uint8_t *pkt, size_t len, uint32_t now_ms)
{
    ec_rtp_header h;
    ec_red_block red[EC_RED_MAX_BLOCKS];
    int n_red = 0, nb, valid, r, result, in_order, nacked, rtx, i;
    const uint8_t *pay;
    size_t plen;
    uint32_t prev_max, ext, media_ts;
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (pkt == NULL) {
        return EC_ERR_ARG;
    }
    if (ec_rtcp_is_rtcp(pkt, len)) {
        return on_rtcp(st, pkt, len, now_ms);
    }
    if (ec_rtp_parse(pkt, len, &h) != EC_OK) {
        st->st.malformed++;
        return EC_ERR_MALFORMED;
    }
    pay = pkt + h.payload_off;
    plen = h.payload_len;
    if (h.pt == (unsigned)st->pt_fec) {
        if (!st->have_source || h.ssrc != st->src.ssrc) {
            st->st.ignored++;
            return EC_MEDIA_RX_IGNORED;
        }
        st->st.rtp_packets++;
        return on_fec(st, pay, plen, now_ms);
    }
    if (h.pt == (unsigned)st->pt_red && !IS_OPUS(st)) {
        n_red = ec_red_parse(pay, plen, red, EC_RED_MAX_BLOCKS);
        if (n_red < 0) {
            st->st.malformed++;
            return EC_ERR_MALFORMED;
        }
        if (red[n_red - 1].pt != (unsigned)st->pt) {
            st->st.ignored++;
            return EC_MEDIA_RX_IGNORED;
        }
        pay += red[n_red - 1].off;
        plen = red[n_red - 1].len;
    } else if (h.pt != (unsigned)st->pt) {
        st->st.ignored++;
        return EC_MEDIA_RX_IGNORED;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        nb = opus_payload_blocks(pay, plen);
        if (nb < 0) {
            ORX(st)->bad++;
            st->st.malformed++;
            return EC_ERR_MALFORMED;
        }
        if (nb == 0) {
            ORX(st)->bad++;
        }
    } else
#endif
    nb = payload_blocks(st, pay, plen);
    if (nb == 0) {
        st->st.ignored++;
        return EC_ERR_UNSUPPORTED;
    }
    /* source: the first SSRC, or another one after two packets of it in sequence */
    if (!st->have_source) {
        start_source(st, h.ssrc, h.seq, now_ms);
    } else if (h.ssrc != st->src.ssrc) {
        if (st->cand_count > 0u && st->cand_ssrc == h.ssrc && h.seq == (uint16_t)(st->cand_seq + 1u)) {
            st->cand_count++;
        } else {
            st->cand_ssrc = h.ssrc;
            st->cand_count = 1;
        }
        st->cand_seq = h.seq;
        if (st->cand_count < 2u) {
            st->st.ignored++;
            return EC_MEDIA_RX_IGNORED;
        }
        start_source(st, h.ssrc, h.seq, now_ms);
        fec_clear(st);
        st->rebase = 1;
        st->st.ssrc_changes++;
    }
    st->st.rtp_packets++;
    prev_max = ec_rtp_source_ext_max(&st->src);
    valid = ec_rtp_source_update_seq(&st->src, h.seq);
    if (!valid) {
        st->st.ignored++;
        return EC_MEDIA_RX_IGNORED;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        /* jitter in RTP units (48 kHz); then the timestamp on the buffer's 8 kHz timeline */
        ec_rtp_source_update_jitter(&st->src, now_ms * OPUS_TICKS_PER_MS, h.ts);
        ext = ec_rtp_source_ext_max(&st->src);
        in_order = ext != prev_max || st->src.received == 1u;
        {
            uint32_t ts48 = h.ts;
            if (!ORX(st)->have_ref) {
                ORX(st)->have_ref = 1;
                ORX(st)->ref48 = ts48;
                ORX(st)->ref8 = ts48;
            }
            h.ts = ORX(st)->ref8 + (uint32_t)((int32_t)(ts48 - ORX(st)->ref48) / 6);
            if (in_order) {
                ORX(st)->ref48 = ts48;
                ORX(st)->ref8 = h.ts;
            }
        }
    } else
#endif
    {
        ec_rtp_source_update_jitter(&st->src, now_ms * TICKS_PER_MS, h.ts);
        ext = ec_rtp_source_ext_max(&st->src);
        in_order = ext != prev_max || st->src.received == 1u;
    }
    if (n_red > 0) {
        st->st.red_packets++;
    }
    /* timeline: map RTP timestamps onto the buffer, absorbing jumps and SSRC changes */
    if (st->rebase) {
        st->ts_offset = st->jb.started ? st->jb.end_ts - h.ts : 0u;
        st->rebase = 0;
    } else if (in_order && st->have_last) {
        uint32_t g = ext - st->last_ext_seq;
        int32_t d = (int32_t)(h.ts - st->last_ts);
        if (g >= 1u && g < 0x10000u &&
            (d < (int32_t)(g * EC_JB_BLOCK_TS) || d > (int32_t)(g * EC_JB_BLOCK_TS * EC_MEDIA_MAX_BLOCKS)) &&
            !(h.marker && d > 0)) {
            uint32_t expected = st->last_ts + g * st->last_dur;
            st->ts_offset += expected - h.ts;
            st->st.ts_jumps++;
        }
    }
    media_ts = h.ts + st->ts_offset;
    if (ec_jb_misalignment(&st->jb, media_ts) != 0u) {
        uint32_t rem = ec_jb_misalignment(&st->jb, media_ts); /* off the 10 ms grid: realign */
        st->ts_offset -= rem;
        media_ts -= rem;
        st->st.ts_jumps++;
    }
    if (in_order) {
        st->have_last = 1;
        st->last_ext_seq = ext;
        st->last_ts = h.ts;
        st->last_dur = EC_JB_BLOCK_TS * (uint32_t)nb;
    }
    /* a retransmission (not a first arrival for the delay statistics) comes a round trip or more
     * after its request; the original, merely late, can come sooner */
    rtx = nack_recovers(st, h.seq, now_ms);
    nacked = rtx != RTX_NONE;
    nack_remove(st, h.seq);
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        r = opus_store(st, now_ms, media_ts, h.seq, pay, plen, h.marker ? EC_JB_F_MARKER : 0u, !nacked);
    } else
#endif
    r = ec_jb_insert(&st->jb, now_ms, media_ts, h.seq, pay, plen, (size_t)st->extra, (size_t)st->block_bytes,
                     h.marker ? EC_JB_F_MARKER : 0u, !nacked);
    result = store_result(r);
    if (rtx == RTX_RECOVERY && result == EC_MEDIA_RX_MEDIA) {
        st->st.nack_recovered++;
    }
    if (nacked) {
        note_rtx(st, now_ms, ec_jb_relative_delay_ms(&st->jb, now_ms, media_ts), rtx == RTX_RECOVERY);
    }
    if (n_red > 1) {
        st->red_last_ms = now_ms;
        st->red_ms = red[0].ts_offset / EC_JB_BLOCK_TS * 10u;
        st->red_seen = 1;
    }
    update_allowance(st, now_ms);
    /* RED: redundant blocks fill what is missing (sequence number: primary's - distance) */
    for (i = 0; i + 1 < n_red; i++) {
        const uint8_t *rp = pkt + h.payload_off + red[i].off;
        uint32_t rts = media_ts - red[i].ts_offset;
        uint16_t rseq = (uint16_t)(h.seq - (uint16_t)(n_red - 1 - i));
        int rb;
        if (red[i].pt != (unsigned)st->pt || red[i].ts_offset == 0u || red[i].ts_offset % EC_JB_BLOCK_TS != 0u) {
            continue;
        }
        rb = payload_blocks(st, rp, red[i].len);
        if (rb == 0 || (uint32_t)rb * EC_JB_BLOCK_TS > red[i].ts_offset || ec_jb_find(&st->jb, rts) != NULL ||
            ec_jb_find_seq(&st->jb, rseq) != NULL || passed(st, rts)) {
            continue;
        }
        if (ec_jb_insert(&st->jb, now_ms, rts, rseq, rp, red[i].len, (size_t)st->extra, (size_t)st->block_bytes,
                         EC_JB_F_RECOVERED, 0) == EC_JB_STORED) {
            st->st.recovered_red++;
            nack_rebuilt(st, rseq);
        }
    }
    if (st->n_fec > 0u) {
        fec_try_all(st, now_ms);
    }
    /* NACK the packets this one shows missing */
    if (st->nack && in_order && st->src.received > 1u && ext - prev_max > 1u && ext - prev_max < 0x8000u) {
        uint32_t s = ext - prev_max - 1u > EC_MEDIA_NACK_MAX ? ext - EC_MEDIA_NACK_MAX : prev_max + 1u;
        for (; s != ext; s++) {
            if (ec_jb_find_seq(&st->jb, (uint16_t)s) == NULL) {
                nack_add(st, (uint16_t)s, now_ms);
            }
        }
    }
    return result;
}

/* ---- playout ---- */

/* Tracks the output level: the mean magnitude of each 10 ms block against a peak follower that
 * halves in about 2 s. A block 36 dB (QUIET_RATIO) below it is quiet; QUIET_BLOCKS quiet blocks in
 * a row are a pause, where the buffer places its time-scale steps (not a soft consonant). */
static void note_level(ec_media_rx *st, const int16_t *pcm, int32_t n)
{
    uint32_t sum = 0, e;
    int32_t i;
    for (i = 0; i < n; i++) {
        int32_t v = pcm[i];
        sum += (uint32_t)(v < 0 ? -v : v);
    }
    e = sum / (uint32_t)n;
    st->level = e > st->level - st->level / 256u ? e : st->level - st->level / 256u;
    st->quiet = e * QUIET_RATIO > st->level ? 0u : (st->quiet < QUIET_BLOCKS ? st->quiet + 1u : QUIET_BLOCKS);
}

static int quiet_flag(const ec_media_rx *st)
{
    return st->quiet >= QUIET_BLOCKS ? EC_JB_NEXT_QUIET : 0;
}

static void decode_block(ec_media_rx *st, const ec_jb_block *b, int16_t *out)
{
    int r = 0, i;
    switch (st->codec) {
    case EC_MEDIA_PCMU:
        r = ec_g711_decode(EC_G711_ULAW, b->data, 80, out, 80);
        break;
    case EC_MEDIA_PCMA:
        r = ec_g711_decode(EC_G711_ALAW, b->data, 80, out, 80);
        break;
    case EC_MEDIA_G722: {
        unsigned any = 0;
        int bits;
        for (i = 0; i < 80; i++) {
            any |= b->data[i];
        }
        /* 56/48 kbit/s blocks have their 1 or 2 lowest bits clear in every codeword */
        bits = (any & 1u) ? 8 : ((any & 2u) ? 7 : 6);
        ec_g722_dec_set_bitrate(&st->dec.g722, bits * 8000);
        st->st.g722_bitrate = (uint32_t)bits * 8000u;
        r = ec_g722_decode(&st->dec.g722, b->data, 80, out, 160);
        break;
    }
    default:
        if (b->flags & EC_JB_F_FIRST) {
            r = ec_dvi4_decode(&st->dec.adpcm, b->data, b->len, out, 80);
        } else {
            for (i = 0; i < 40; i++) {
                out[2 * i] = ec_adpcm_decode_sample(&st->dec.adpcm, b->data[i] >> 4);
                out[2 * i + 1] = ec_adpcm_decode_sample(&st->dec.adpcm, b->data[i] & 0x0fu);
            }
        }
        break;
    }
    if (r < 0) {
        for (i = 0; i < st->block_samples; i++) {
            out[i] = 0;
        }
    }
}

#ifdef EC_MEDIA_WITH_OPUS

static void zero160(int16_t *out)
{
    int i;
    for (i = 0; i < 160; i++) {
        out[i] = 0;
    }
}

/* 10 ms of Opus PLC (an underrun or a stretch). */
static void opus_plc_block(ec_media_rx *st, int16_t *out)
{
    if (opus_decode(opus_dec(st), NULL, 0, out, 160, 0) != 160) {
        zero160(out);
    }
    ORX(st)->plc_blocks++;
}

/* A whole 20 ms frame (decoded, FEC or PLC) in opus_pcm: its first half goes out now, the second
 * is kept for the block at ts + 10 ms. */
static void opus_frame_out(ec_media_rx *st, uint32_t ts, int16_t *out)
{
    int i;
    for (i = 0; i < 160; i++) {
        out[i] = ORX(st)->pcm[i];
    }
    ORX(st)->cached = 1;
    ORX(st)->next_ts = ts + EC_JB_BLOCK_TS;
}

/* The packet whose first slot is b, re-assembled: its length, or -1. */
static int opus_packet(const ec_media_rx *st, const ec_jb_block *b, uint8_t *buf)
{
    int len;
    if (b == NULL || b->index != 0u || b->count != 2u) {
        return -1;
    }
    len = ec_jb_packet(&st->jb, b, buf, EC_MEDIA_OPUS_MAX_PAYLOAD);
    return len > 0 ? len : -1;
}

/* Output for the buffered block b (PLAY). */
static void opus_play(ec_media_rx *st, const ec_jb_block *b, int16_t *out)
{
    uint8_t buf[EC_MEDIA_OPUS_MAX_PAYLOAD];
    uint32_t first_ts = b->ts - EC_JB_BLOCK_TS * b->index;
    int len, i;
    if (ORX(st)->plc_next && ORX(st)->next_ts == b->ts) {
        ORX(st)->plc_next = 0;
        opus_plc_block(st, out); /* the concealment that a stretch or underrun put after the second half */
        return;
    }
    ORX(st)->plc_next = 0;
    if (ORX(st)->cached && ORX(st)->next_ts == b->ts) {
        for (i = 0; i < 160; i++) {
            out[i] = ORX(st)->pcm[160 + i];
        }
        ORX(st)->cached = 0;
        return;
    }
    ORX(st)->cached = 0;
    len = opus_packet(st, b->index == 0u ? b : ec_jb_find(&st->jb, first_ts), buf);
    if (len < 0) {
        opus_plc_block(st, out); /* half a packet (its first half came late): conceal */
        return;
    }
    if (opus_decode(opus_dec(st), buf, len, ORX(st)->pcm, 320, 0) != 320) {
        ORX(st)->decode_errors++;
        if (opus_decode(opus_dec(st), NULL, 0, ORX(st)->pcm, 320, 0) != 320) {
            for (i = 0; i < 320; i++) {
                ORX(st)->pcm[i] = 0;
            }
        }
    }
    if (b->index == 0u) {
        opus_frame_out(st, b->ts, out);
    } else {
        for (i = 0; i < 160; i++) {
            out[i] = ORX(st)->pcm[160 + i];
        }
    }
}

/* Does this (valid, mono, 20 ms) Opus packet carry in-band FEC for the frame before it? The LBRR
 * flag of a SILK or hybrid frame follows its VAD flag in the first byte of the range-coded data
 * (RFC 6716 §4.2.3; the same test as opus_packet_has_lbrr() of libopus 1.5). */
static int opus_has_lbrr(const uint8_t *p, int len)
{
    const unsigned char *frames[48];
    opus_int16 sizes[48];
    if ((p[0] >> 3) >= 16u || opus_packet_parse(p, len, NULL, frames, sizes, NULL) < 1 || sizes[0] == 0) {
        return 0; /* CELT-only: no LBRR */
    }
    return (frames[0][0] >> 6) & 1u;
}

/* Output for the missing block at ts, the buffer having moved on (a loss): the rest of the frame
 * already made, else the whole lost frame from the next packet's in-band FEC, else PLC. */
static void opus_lost(ec_media_rx *st, uint32_t ts, int16_t *out)
{
    uint8_t buf[EC_MEDIA_OPUS_MAX_PAYLOAD];
    int len, i;
    if (ORX(st)->plc_next && ORX(st)->next_ts == ts) {
        ORX(st)->plc_next = 0;
        opus_plc_block(st, out);
        return;
    }
    ORX(st)->plc_next = 0;
    if (ORX(st)->cached && ORX(st)->next_ts == ts) {
        for (i = 0; i < 160; i++) {
            out[i] = ORX(st)->pcm[160 + i];
        }
        ORX(st)->cached = 0;
        return;
    }
    ORX(st)->cached = 0;
    len = opus_packet(st, ec_jb_find(&st->jb, ts + 2u * EC_JB_BLOCK_TS), buf);
    if (len > 0 && opus_has_lbrr(buf, len) && opus_decode(opus_dec(st), buf, len, ORX(st)->pcm, 320, 1) == 320) {
        ORX(st)->recovered_fec++;
    } else if (opus_decode(opus_dec(st), NULL, 0, ORX(st)->pcm, 320, 0) == 320) {
        ORX(st)->plc_frames++;
    } else {
        for (i = 0; i < 320; i++) {
            ORX(st)->pcm[i] = 0;
        }
    }
    opus_frame_out(st, ts, out);
}

/* 10 ms of concealment (a stretch, or an underrun that waits) at the buffer's position due. When
 * due is the second half of the frame just decoded, that half goes out now and the concealment,
 * which continues from the frame's end, takes its place when the buffer plays it: in order. */
static void opus_conceal_at(ec_media_rx *st, uint32_t due, int16_t *out)
{
    int i;
    if (ORX(st)->cached && ORX(st)->next_ts == due) {
        for (i = 0; i < 160; i++) {
            out[i] = ORX(st)->pcm[160 + i];
        }
        ORX(st)->cached = 0;
        ORX(st)->plc_next = 1;
        return;
    }
    opus_plc_block(st, out);
}

/* ec_media_rx_pull for Opus: the same jitter-buffer decisions, Opus's decoding and concealment. */
static int opus_pull(ec_media_rx *st, uint32_t now_ms, int16_t *out)
{
    int16_t tmp[160];
    int32_t k, i;
    for (k = 0; k < st->ptime_blocks; k++) {
        int16_t *dst = out + k * 160;
        uint32_t due = st->jb.play_ts;
        int playing = st->jb.playing;
        ec_jb_action act;
        ec_jb_next(&st->jb, now_ms, k == 0 ? EC_JB_NEXT_FIRST | quiet_flag(st) : 0, &act);
        switch (act.kind) {
        case EC_JB_PLAY:
            opus_play(st, act.a, dst);
            nack_prune(st, act.a->seq);
            break;
        case EC_JB_MERGE:
            opus_play(st, act.a, tmp);
            opus_play(st, act.b, dst);
            nack_prune(st, act.b->seq);
            for (i = 0; i < 160; i++) {
                dst[i] = (int16_t)(((int32_t)tmp[i] * (160 - i) + (int32_t)dst[i] * i) / 160);
            }
            break;
        case EC_JB_CONCEAL:
            if (playing && st->jb.play_ts != due) {
                opus_lost(st, due, dst);
            } else {
                opus_conceal_at(st, due, dst);
            }
            break;
        case EC_JB_STRETCH:
            opus_conceal_at(st, due, dst);
            break;
        default:
            zero160(dst);
            st->st.silent++;
            break;
        }
    }
    for (k = 0; k < st->ptime_blocks; k++) {
        note_level(st, out + k * 160, 160);
    }
    return st->ptime_blocks * 160;
}

int ec_media_rx_opus_stats(const ec_media_rx *st, ec_media_opus_stats *out)
{
    ec_media_opus_stats z = {0};
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL || st->codec != EC_MEDIA_OPUS) {
        return EC_ERR_ARG;
    }
    *out = z;
    out->recovered_fec = ORX(st)->recovered_fec;
    out->plc_frames = ORX(st)->plc_frames;
    out->plc_blocks = ORX(st)->plc_blocks;
    out->bad_payloads = ORX(st)->bad;
    out->decode_errors = ORX(st)->decode_errors;
    return EC_OK;
}
#endif

int ec_media_rx_pull(ec_media_rx *st, uint32_t now_ms, int16_t *out, size_t cap)
{
    int16_t tmp[160];
    int32_t k, i, bs;
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    bs = st->block_samples;
    if (cap < (size_t)(st->ptime_blocks * bs)) {
        return EC_ERR_SHORT_BUFFER;
    }
#ifdef EC_MEDIA_WITH_OPUS
    if (st->codec == EC_MEDIA_OPUS) {
        return opus_pull(st, now_ms, out);
    }
#endif
    for (k = 0; k < st->ptime_blocks; k++) {
        int16_t *dst = out + k * bs;
        ec_jb_action act;
        ec_jb_next(&st->jb, now_ms, k == 0 ? EC_JB_NEXT_FIRST | quiet_flag(st) : 0, &act);
        switch (act.kind) {
        case EC_JB_PLAY:
            decode_block(st, act.a, dst);
            nack_prune(st, act.a->seq);
            ec_plc_good(&st->plc, dst, dst, (size_t)bs);
            break;
        case EC_JB_MERGE:
            decode_block(st, act.a, tmp);
            decode_block(st, act.b, dst);
            nack_prune(st, act.b->seq);
            for (i = 0; i < bs; i++) {
                dst[i] = (int16_t)(((int32_t)tmp[i] * (bs - i) + (int32_t)dst[i] * i) / bs);
            }
            ec_plc_good(&st->plc, dst, dst, (size_t)bs);
            break;
        case EC_JB_CONCEAL:
        case EC_JB_STRETCH:
            ec_plc_lost(&st->plc, dst, (size_t)bs);
            break;
        default:
            for (i = 0; i < bs; i++) {
                dst[i] = 0;
            }
            st->st.silent++;
            break;
        }
    }
    for (k = 0; k < st->ptime_blocks; k++) {
        note_level(st, out + k * bs, bs);
    }
    return st->ptime_blocks * bs;
}

/* ---- feedback ---- */

/* An RR; regular: 0 for one sent early with a NACK, whose fraction lost covers the interval
 * since the last regular report without ending it (so that the sender's loss estimate comes
 * from whole report intervals, not from the short gaps between NACKs). */
static int put_rr(ec_media_rx *st, uint32_t now_ms, uint8_t *out, size_t cap, int regular)
{
    ec_rtcp_block b;
    uint32_t ep = st->src.expected_prior, rp = st->src.received_prior, received = st->src.received;
    int n;
    st->src.received -= st->rtx_arrivals; /* first transmissions only (see ec_media.h) */
    ec_rtp_source_report(&st->src, &b);
    st->src.received = received;
    if (!regular) {
        st->src.expected_prior = ep;
        st->src.received_prior = rp;
    }
    if (st->have_sr) {
        b.lsr = st->lsr;
        b.dlsr = (uint32_t)(((uint64_t)(now_ms - st->lsr_ms) << 16) / 1000u);
    }
    st->st.fraction_lost = b.fraction_lost;
    n = append_sdes(st->ssrc, ec_rtcp_write_rr(st->ssrc, &b, 1, out, cap), out, cap);
    if (n >= 0) {
        st->st.rr_sent++;
    }
    return n;
}

int ec_media_rx_poll_feedback(ec_media_rx *st, uint32_t now_ms, uint8_t *out, size_t cap)
{
    ec_rtcp_nack_fci fci[EC_RTCP_MAX_NACK];
    size_t n_fci = 0;
    uint32_t i, due = 0;
    int a, b;
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    if (!st->have_source) {
        return 0;
    }
    /* drop requests asked often enough */
    i = 0;
    while (i < st->n_nack) {
        ec_media_nack_entry *e = &st->nack_list[i];
        if (e->tries >= EC_MEDIA_NACK_TRIES && now_ms - e->sent_ms >= (uint32_t)st->nack_retry_ms) {
            uint32_t j;
            for (j = i + 1; j < st->n_nack; j++) {
                st->nack_list[j - 1] = st->nack_list[j];
            }
            st->n_nack--;
        } else {
            i++;
        }
    }
    if (st->nack) {
        for (i = 0; i < st->n_nack; i++) {
            ec_media_nack_entry *e = &st->nack_list[i];
            if (e->tries == 0u ? nack_due_first(st, e, now_ms)
                               : e->tries < EC_MEDIA_NACK_TRIES && now_ms - e->sent_ms >= (uint32_t)st->nack_retry_ms) {
                uint16_t d = n_fci > 0u ? (uint16_t)(e->seq - fci[n_fci - 1].pid) : 0u;
                if (n_fci > 0u && d >= 1u && d <= 16u) {
                    fci[n_fci - 1].blp |= (uint16_t)(1u << (d - 1u));
                } else if (n_fci < EC_RTCP_MAX_NACK) {
                    fci[n_fci].pid = e->seq;
                    fci[n_fci].blp = 0;
                    n_fci++;
                } else {
                    continue;
                }
                if (e->tries == 0u) {
                    note_asked(st, e->seq, now_ms);
                }
                e->tries++;
                e->sent_ms = now_ms;
                due++;
            }
        }
    }
    if (n_fci > 0u) {
        a = put_rr(st, now_ms, out, cap, 0);
        if (a < 0) {
            return a;
        }
        b = ec_rtcp_write_nack(st->ssrc, st->src.ssrc, fci, n_fci, out + a, cap - (size_t)a);
        if (b < 0) {
            return b;
        }
        st->st.nack_sent++;
        st->st.nack_seqs += due;
        return a + b;
    }
    if ((int32_t)(now_ms - st->next_rr_ms) >= 0) {
        a = put_rr(st, now_ms, out, cap, 1);
        if (a > 0) {
            st->next_rr_ms = now_ms + (uint32_t)st->rtcp_interval_ms;
        }
        return a;
    }
    return 0;
}

int ec_media_rx_get_stats(const ec_media_rx *st, uint32_t now_ms, ec_media_rx_stats *out)
{
    const ec_jb_stats *j;
    if (st == NULL || st->magic != RX_MAGIC) {
        return EC_ERR_STATE;
    }
    if (out == NULL) {
        return EC_ERR_ARG;
    }
    *out = st->st;
    j = &st->jb.st;
    if (st->have_source) {
        out->ssrc = st->src.ssrc;
        out->received = st->src.received;
        out->ext_highest_seq = ec_rtp_source_ext_max(&st->src);
        out->expected = st->src.received == 0u && st->src.probation ? 0u
                                                                  : out->ext_highest_seq - st->src.base_seq + 1u;
        out->lost = (int32_t)(out->expected - out->received);
        out->jitter = st->src.jitter >> 4;
    }
    out->late = j->late;
    out->duplicates = j->duplicates;
    out->overflow = j->overflow;
    out->flushes = j->flushes;
    out->played = j->played;
    out->concealed = j->concealed;
    out->stretched = j->stretched;
    out->compressed = j->compressed;
    out->skipped = j->skipped;
    out->target_delay_ms = ec_jb_target_ms(&st->jb);
    out->delay_ms = st->jb.playing ? ec_jb_delay_ms(&st->jb, now_ms) : 0;
    out->buffered_ms = ec_jb_buffered_ms(&st->jb);
    return EC_OK;
}
