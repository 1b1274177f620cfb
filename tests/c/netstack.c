/* netstack.c — trace-driven scenarios of the media network stack (ec_media.h and the RTP, RTCP,
 * RED, FEC and jitter-buffer modules under it), one source for host, Cortex-M (QEMU) and wasm32.
 *
 * Each scenario runs a sender and a receiver joined by a simulated channel — a built-in PRNG
 * drives random or Gilbert-Elliott loss, uniform jitter (hence reordering), duplication, and
 * rewrites for timestamp jumps and an SSRC change; feedback (RR, NACK) goes back to the sender —
 * on synthetic voiced audio, and prints one line:
 *     <name> rx=<received> lost=<lost> rec=<recovered> nack=<nack-recovered> conc=<concealed>
 *            late=<late> jit=<jitter> tgt=<target ms> pcm=<fnv1a-64 of the output> net=<fnv1a-64
 *            of every packet sent both ways>
 * so every target's output can be compared as text. `malformed` feeds mutated packets to the
 * parsers and the receiver and digests their results. Memory fits the microbit (16 KB RAM): the
 * states live on the stack, the channel's packet slots in .bss.
 * Commands: `scenarios` (default), `bench` (instructions per 20 ms frame to send — encode,
 * packetise, RED/FEC — and to receive — depacketise, jitter buffer, decode, PLC — where the
 * target has an instruction counter). */
#include <stddef.h>
#include <stdint.h>

#include "ec_fec.h"
#include "ec_media.h"
#include "ec_red.h"
#include "ec_rtcp.h"
#include "ec_rtp.h"
#include "hutil.h"
#include "tio.h"

/* ---- small utilities (no libc) ---- */

static void field(char *line, size_t cap, const char *name, int32_t v)
{
    scat(line, cap, " ");
    scat(line, cap, name);
    scat(line, cap, "=");
    fmt_i(line, cap, v);
}

/* xorshift32 */
static uint32_t rnd(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* true with probability pm / 1000 */
static int chance(uint32_t *s, uint32_t pm)
{
    return rnd(s) % 1000u < pm;
}

/* ---- synthetic voiced audio: harmonics of a gliding pitch, syllable envelope, a little noise ---- */

static const int16_t sine64[64] = {
    0,      3212,   6393,   9512,   12539,  15446,  18204,  20787,  23170,  25329,  27245,  28898,  30273,
    31356,  32137,  32609,  32767,  32609,  32137,  31356,  30273,  28898,  27245,  25329,  23170,  20787,
    18204,  15446,  12539,  9512,   6393,   3212,   0,      -3212,  -6393,  -9512,  -12539, -15446, -18204,
    -20787, -23170, -25329, -27245, -28898, -30273, -31356, -32137, -32609, -32767, -32609, -32137, -31356,
    -30273, -28898, -27245, -25329, -23170, -20787, -18204, -15446, -12539, -9512,  -6393,  -3212};

typedef struct {
    uint32_t phase, env_phase, n, noise;
    uint32_t rate, unit; /* unit: phase step of 1 Hz */
} synth;

static void synth_init(synth *s, uint32_t rate, uint32_t seed)
{
    s->phase = 0;
    s->env_phase = 0;
    s->n = 0;
    s->noise = seed | 1u;
    s->rate = rate;
    s->unit = 0xffffffffu / rate;
}

static void synth_run(synth *s, int16_t *out, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        /* pitch 110..190 Hz over a 1.3 s cycle, 5 harmonics, 3 Hz syllable envelope */
        uint32_t pitch = (uint32_t)(150 + sine64[(s->n * 640u / (13u * s->rate)) & 63u] / 820);
        int32_t acc = 0, env;
        uint32_t k;
        s->phase += pitch * s->unit;
        for (k = 1; k <= 5; k++) {
            acc += sine64[((s->phase * k) >> 26) & 63u] / (int32_t)k;
        }
        s->env_phase += 3u * s->unit;
        env = 8192 + sine64[s->env_phase >> 26] / 4;
        acc = (acc * env) >> 16;
        acc += (int32_t)(rnd(&s->noise) & 0xffu) - 128;
        out[i] = (int16_t)(acc > 32767 ? 32767 : (acc < -32768 ? -32768 : acc));
        s->n++;
    }
}

/* ---- the channel: packets in flight, in .bss ---- */

#define SLOTS 6
#define SLOT_BYTES 344 /* RTP + RED of two 20 ms G.722 frames: 12 + 5 + 2 * 160 */
#define FB_SLOTS 4
#define FB_BYTES 160

typedef struct {
    uint32_t due;
    uint32_t order;
    uint16_t len;
    uint8_t used;
    uint8_t pad;
} slot;

static uint8_t ch_data[SLOTS][SLOT_BYTES];
static slot ch_meta[SLOTS];
static uint8_t fb_data[FB_SLOTS][FB_BYTES];
static slot fb_meta[FB_SLOTS];
static uint8_t scratch[SLOT_BYTES];
static uint32_t order_counter;

static int free_slot(slot *meta, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (!meta[i].used) {
            return i;
        }
    }
    return -1;
}

/* the due packet that was sent first, or -1 */
static int next_due(const slot *meta, int n, uint32_t now)
{
    int i, best = -1;
    for (i = 0; i < n; i++) {
        if (meta[i].used && (int32_t)(now - meta[i].due) >= 0 &&
            (best < 0 || (int32_t)(meta[i].due - meta[best].due) < 0 ||
             (meta[i].due == meta[best].due && meta[i].order < meta[best].order))) {
            best = i;
        }
    }
    return best;
}

static void channel_reset(void)
{
    int i;
    for (i = 0; i < SLOTS; i++) {
        ch_meta[i].used = 0;
    }
    for (i = 0; i < FB_SLOTS; i++) {
        fb_meta[i].used = 0;
    }
    order_counter = 0;
}

/* ---- scenarios ---- */

typedef struct {
    const char *name;
    int codec, ptime, red, fec, nack, adapt;
    int fixed_delay, min_delay;
    uint32_t loss_pm;                   /* random loss, per mille */
    uint32_t ge_p, ge_r, ge_1h, ge_1k;  /* Gilbert-Elliott (netem), per mille; ge_p 0 = off */
    uint32_t base_ms, jitter_ms, dup_pm;
    uint16_t seq0;
    uint32_t ts0;
    int ts_jump_at;                     /* frame from which timestamps jump (0: never) */
    uint32_t ts_jump;
    int ssrc_change_at;                 /* frame from which the SSRC, seq and ts change */
    int frames;
    uint32_t seed;
} scenario;

static const scenario scenarios[] = {
    {"pcmu-clean-fixed", EC_MEDIA_PCMU, 20, 0, 0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 15, 4, 0, 100, 1000, 0, 0, 0, 200, 1},
    {"pcma-loss10-jitter40", EC_MEDIA_PCMA, 20, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 20, 40, 0, 65500, 0xfffff000u, 0, 0,
     0, 300, 2},
    {"g722-ge-red", EC_MEDIA_G722, 20, 1, 0, 0, 0, 0, 0, 0, 50, 350, 700, 10, 20, 25, 0, 7, 12345, 0, 0, 0, 300, 3},
    {"dvi4-fec4-jitter", EC_MEDIA_DVI4, 20, 0, 4, 0, 0, 0, 0, 80, 0, 0, 0, 0, 20, 30, 0, 400, 77, 0, 0, 0, 300, 4},
    {"g722-nack", EC_MEDIA_G722, 20, 0, 0, 1, 0, 0, 120, 60, 0, 0, 0, 0, 20, 10, 0, 1000, 5, 0, 0, 0, 300, 5},
    {"g722-adapt", EC_MEDIA_G722, 20, 0, 0, 0, 1, 0, 0, 250, 0, 0, 0, 0, 20, 10, 0, 3, 3, 0, 0, 0, 400, 6},
    {"pcmu-dup-reorder-wrap", EC_MEDIA_PCMU, 20, 0, 0, 0, 0, 60, 0, 20, 0, 0, 0, 0, 20, 70, 80, 65530, 0xffffff00u, 0, 0,
     0, 300, 7},
    {"pcma-tsjump-ssrc", EC_MEDIA_PCMA, 10, 1, 3, 0, 0, 0, 0, 30, 0, 0, 0, 0, 20, 15, 0, 100, 100, 100, 0x12345678u, 200,
     300, 8},
};

typedef struct {
    uint32_t ge_bad, rnd;
    int frame;
} chan_state;

static int lose(const scenario *sc, chan_state *c)
{
    if (sc->ge_p != 0u) {
        if (!c->ge_bad) {
            c->ge_bad = (uint32_t)chance(&c->rnd, sc->ge_p);
            return chance(&c->rnd, sc->ge_1k);
        }
        c->ge_bad = (uint32_t)!chance(&c->rnd, sc->ge_r);
        return chance(&c->rnd, sc->ge_1h);
    }
    return chance(&c->rnd, sc->loss_pm);
}

/* timestamp jump and SSRC change, on RTP packets only */
static void rewrite(const scenario *sc, int frame, uint8_t *p, size_t len)
{
    if (len < EC_RTP_HEADER || ec_rtcp_is_rtcp(p, len)) {
        return;
    }
    if (sc->ts_jump_at > 0 && frame >= sc->ts_jump_at) {
        ec_wr32(p + 4, ec_rd32(p + 4) + sc->ts_jump);
    }
    if (sc->ssrc_change_at > 0 && frame >= sc->ssrc_change_at) {
        ec_wr32(p + 8, 0xbbbb0000u);
        ec_wr16(p + 2, (uint32_t)ec_rd16(p + 2) + 20000u);
        ec_wr32(p + 4, ec_rd32(p + 4) + 8000000u);
    }
}

static void enqueue(uint8_t data[][SLOT_BYTES], slot *meta, int n, const uint8_t *p, size_t len, uint32_t due)
{
    int k = free_slot(meta, n);
    size_t i;
    if (k < 0 || len > SLOT_BYTES) {
        return; /* the channel is full: dropped */
    }
    for (i = 0; i < len; i++) {
        data[k][i] = p[i];
    }
    meta[k].len = (uint16_t)len;
    meta[k].due = due;
    meta[k].order = order_counter++;
    meta[k].used = 1;
}

static void enqueue_fb(const uint8_t *p, size_t len, uint32_t due)
{
    int k = free_slot(fb_meta, FB_SLOTS);
    size_t i;
    if (k < 0 || len > FB_BYTES) {
        return;
    }
    for (i = 0; i < len; i++) {
        fb_data[k][i] = p[i];
    }
    fb_meta[k].len = (uint16_t)len;
    fb_meta[k].due = due;
    fb_meta[k].order = order_counter++;
    fb_meta[k].used = 1;
}

/* sender packets into the channel: loss, jitter, duplication, rewrites */
static void send_all(const scenario *sc, ec_media_tx *tx, chan_state *c, uint32_t now, digest *net)
{
    int n;
    while ((n = ec_media_tx_poll(tx, now, scratch, sizeof scratch)) > 0) {
        rewrite(sc, c->frame, scratch, (size_t)n);
        dg_bytes(net, scratch, (size_t)n);
        if (lose(sc, c)) {
            continue;
        }
        enqueue(ch_data, ch_meta, SLOTS, scratch, (size_t)n,
                now + sc->base_ms + (sc->jitter_ms ? rnd(&c->rnd) % (sc->jitter_ms + 1u) : 0u));
        if (sc->dup_pm && chance(&c->rnd, sc->dup_pm)) {
            enqueue(ch_data, ch_meta, SLOTS, scratch, (size_t)n, now + sc->base_ms + rnd(&c->rnd) % 40u);
        }
    }
    if (n < 0) {
        fail("tx poll");
    }
}

static void tx_config(const scenario *sc, ec_media_tx_config *t)
{
    t->codec = sc->codec;
    t->ptime_ms = sc->ptime;
    t->max_ptime_ms = 20;
    t->red = sc->red;
    t->fec_group = sc->fec;
    t->nack = sc->nack;
    t->cache_packets = sc->fec + 6 > 8 ? sc->fec + 6 : 8;
    t->adapt = sc->adapt;
    t->g722_bitrate = 64000;
    t->pt_red = 96;
    t->pt_fec = 97;
    t->rtcp_interval_ms = 500;
    t->ssrc = 0x5eed0000u + sc->seed;
    t->ts0 = sc->ts0;
    t->seq0 = sc->seq0;
    t->fec_seq0 = 1;
}

static void rx_config(const scenario *sc, ec_media_rx_config *r)
{
    r->codec = sc->codec;
    r->ptime_ms = 20;
    r->max_ptime_ms = 20;
    r->buffer_ms = 160;
    r->fixed_delay_ms = sc->fixed_delay;
    r->min_delay_ms = sc->min_delay;
    r->max_delay_ms = 0;
    r->nack = sc->nack;
    r->nack_retry_ms = 50;
    r->fec_slots = 1;
    r->pt_red = 96;
    r->pt_fec = 97;
    r->rtcp_interval_ms = 500;
    r->ssrc = 0x4ecu;
}

/* Room for the states, sized to the configurations used (the microbit's 11.5 KB of stack holds
 * one receiver, one sender and the call chain under them): receiver G.722 with a 160 ms ring and
 * one FEC slot; sender G.722 with up to 9 cached packets (10 in the bench), DVI4 in `malformed`. */
#define TX_WORDS 264
#define TX_WORDS_BENCH 286
#define TX_WORDS_SMALL 192
#define RX_WORDS 795

static void run_scenario(const scenario *sc)
{
    uint64_t txm[TX_WORDS], rxm[RX_WORDS];
    ec_media_tx *tx = (ec_media_tx *)(void *)txm;
    ec_media_rx *rx = (ec_media_rx *)(void *)rxm;
    ec_media_tx_config tc;
    ec_media_rx_config rc;
    ec_media_rx_stats st;
    int16_t pcm[320];
    synth syn;
    chan_state ch;
    digest dpcm, dnet;
    uint32_t t, end;
    int bs, k, fs;
    char line[200] = "";
    tx_config(sc, &tc);
    rx_config(sc, &rc);
    if (ec_media_tx_state_size(&tc) > sizeof txm || ec_media_rx_state_size(&rc) > sizeof rxm) {
        fail("state sizes");
        return;
    }
    if (ec_media_tx_init(tx, sizeof txm, &tc) != EC_OK || ec_media_rx_init(rx, sizeof rxm, &rc) != EC_OK) {
        fail("init");
        return;
    }
    bs = ec_media_block_samples(sc->codec);
    fs = bs * 2;
    synth_init(&syn, (uint32_t)bs * 100u, sc->seed);
    ch.ge_bad = 0;
    ch.rnd = 0x9e3779b9u ^ (sc->seed * 0x85ebca6bu);
    ch.frame = 0;
    channel_reset();
    dg_init(&dpcm);
    dg_init(&dnet);
    end = (uint32_t)sc->frames * 20u + 200u;
    for (t = 0; t < end; t++) {
        int i;
        while ((i = next_due(ch_meta, SLOTS, t)) >= 0) {
            int r = ec_media_rx_packet(rx, ch_data[i], ch_meta[i].len, t);
            ch_meta[i].used = 0;
            if (r < 0) {
                fail("rx packet");
            }
        }
        while ((i = next_due(fb_meta, FB_SLOTS, t)) >= 0) {
            if (ec_media_tx_on_packet(tx, fb_data[i], fb_meta[i].len, t) != EC_OK) {
                fail("tx feedback");
            }
            fb_meta[i].used = 0;
            send_all(sc, tx, &ch, t, &dnet); /* retransmissions */
        }
        if (t % 20u == 0u && (int)(t / 20u) < sc->frames) {
            ch.frame = (int)(t / 20u);
            for (k = 0; k < 20 / sc->ptime; k++) {
                synth_run(&syn, pcm, (size_t)(fs * sc->ptime / 20));
                if (ec_media_tx_push(tx, pcm, (size_t)(fs * sc->ptime / 20), t) != EC_OK) {
                    fail("tx push");
                }
                send_all(sc, tx, &ch, t, &dnet);
            }
        }
        if (t % 20u == 10u) {
            int n = ec_media_rx_pull(rx, t, pcm, 320);
            if (n != fs) {
                fail("rx pull");
            }
            dg_pcm(&dpcm, pcm, (size_t)fs);
            while ((n = ec_media_rx_poll_feedback(rx, t, scratch, sizeof scratch)) > 0) {
                dg_bytes(&dnet, scratch, (size_t)n);
                enqueue_fb(scratch, (size_t)n, t + sc->base_ms);
            }
            send_all(sc, tx, &ch, t, &dnet); /* sender reports */
        }
    }
    ec_media_rx_get_stats(rx, end, &st);
    scat(line, sizeof line, sc->name);
    field(line, sizeof line, "rx", (int32_t)st.received);
    field(line, sizeof line, "lost", st.lost);
    field(line, sizeof line, "rec", (int32_t)(st.recovered_red + st.recovered_fec));
    field(line, sizeof line, "nack", (int32_t)st.nack_recovered);
    field(line, sizeof line, "conc", (int32_t)st.concealed);
    field(line, sizeof line, "late", (int32_t)st.late);
    field(line, sizeof line, "jit", (int32_t)st.jitter);
    field(line, sizeof line, "tgt", st.target_delay_ms);
    scat(line, sizeof line, " pcm=");
    fmt_hex64(line, sizeof line, dpcm.h);
    scat(line, sizeof line, " net=");
    fmt_hex64(line, sizeof line, dnet.h);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

/* Mutated packets into every parser and into a receiver; digest of all results. */
static void run_malformed(void)
{
    uint64_t txm[TX_WORDS_SMALL], rxm[RX_WORDS];
    ec_media_tx *tx = (ec_media_tx *)(void *)txm;
    ec_media_rx *rx = (ec_media_rx *)(void *)rxm;
    ec_media_tx_config tc;
    ec_media_rx_config rc;
    ec_rtp_header h;
    ec_red_block blocks[EC_RED_MAX_BLOCKS];
    ec_fec_header fh;
    ec_rtcp_info info;
    int16_t pcm[320];
    synth syn;
    digest d;
    uint32_t r = 0x1234567u, t;
    int n, i, counts[6] = {0, 0, 0, 0, 0, 0};
    char line[160] = "malformed";
    tx_config(&scenarios[3], &tc);
    tc.red = 1;
    tc.fec_group = 2;
    rx_config(&scenarios[3], &rc);
    if (ec_media_tx_init(tx, sizeof txm, &tc) != EC_OK || ec_media_rx_init(rx, sizeof rxm, &rc) != EC_OK) {
        fail("malformed init");
        return;
    }
    synth_init(&syn, 8000, 9);
    dg_init(&d);
    for (t = 0; t < 3000u; t += 20u) {
        synth_run(&syn, pcm, 160);
        ec_media_tx_push(tx, pcm, 160, t);
        while ((n = ec_media_tx_poll(tx, t, scratch, sizeof scratch)) > 0) {
            int m = (int)(rnd(&r) % 6u);
            for (i = 0; i < m; i++) {
                uint32_t op = rnd(&r) % 4u, pos = rnd(&r) % (uint32_t)n;
                if (op == 0u) {
                    scratch[pos] = (uint8_t)rnd(&r);
                } else if (op == 1u) {
                    n = (int)pos;
                } else if (op == 2u) {
                    scratch[pos] ^= (uint8_t)(1u << (rnd(&r) % 8u));
                } else if (n < SLOT_BYTES) {
                    scratch[n++] = (uint8_t)rnd(&r);
                }
                if (n == 0) {
                    break;
                }
            }
            dg_u32(&d, (uint32_t)ec_rtp_parse(scratch, (size_t)n, &h));
            dg_u32(&d, (uint32_t)ec_rtcp_parse(scratch, (size_t)n, &info));
            if (n > EC_RTP_HEADER) {
                dg_u32(&d, (uint32_t)ec_red_parse(scratch + EC_RTP_HEADER, (size_t)n - EC_RTP_HEADER, blocks,
                                                  EC_RED_MAX_BLOCKS));
                dg_u32(&d, (uint32_t)ec_fec_parse(scratch + EC_RTP_HEADER, (size_t)n - EC_RTP_HEADER, &fh));
            }
            i = ec_media_rx_packet(rx, scratch, (size_t)n, t + 20u);
            dg_u32(&d, (uint32_t)i);
            counts[i == EC_ERR_MALFORMED ? 0 : (i < 0 ? 1 : (i == EC_MEDIA_RX_MEDIA ? 2 : 3))]++;
            ec_media_tx_on_packet(tx, scratch, (size_t)n, t);
        }
        ec_media_rx_pull(rx, t + 20u, pcm, 320);
        dg_pcm(&d, pcm, 160);
        while ((n = ec_media_rx_poll_feedback(rx, t + 20u, scratch, sizeof scratch)) > 0) {
            dg_bytes(&d, scratch, (size_t)n);
        }
    }
    field(line, sizeof line, "bad", counts[0]);
    field(line, sizeof line, "unsupported", counts[1]);
    field(line, sizeof line, "media", counts[2]);
    field(line, sizeof line, "other", counts[3]);
    scat(line, sizeof line, " digest=");
    fmt_hex64(line, sizeof line, d.h);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

static void run_scenarios(void)
{
    size_t i;
    for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        run_scenario(&scenarios[i]);
    }
    run_malformed();
}

/* ---- bench: instructions per 20 ms frame ---- */

static void bench_line(const char *name, const meter *m)
{
    char line[112] = "bench ";
    scat(line, sizeof line, name);
    field(line, sizeof line, "frames", (int32_t)m->frames);
    field(line, sizeof line, "mean", (int32_t)(m->frames ? m->total / m->frames : 0u));
    field(line, sizeof line, "max", (int32_t)m->worst);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

#define BENCH_FRAMES 100

/* Sender with RED and FEC (group 4), receiver adaptive; 5 % loss and 20 ms jitter, so the
 * receive figure includes recoveries and concealment. Packets are delivered at once (in the
 * same frame) but with the jitter on their arrival time stamps. */
static void bench_codec(int codec, const char *tx_name, const char *rx_name)
{
    uint64_t txm[TX_WORDS_BENCH], rxm[RX_WORDS];
    ec_media_tx *tx = (ec_media_tx *)(void *)txm;
    ec_media_rx *rx = (ec_media_rx *)(void *)rxm;
    ec_media_tx_config tc;
    ec_media_rx_config rc;
    scenario sc = scenarios[2];
    int16_t pcm[320];
    synth syn;
    meter ms = {0, 0, 0, 0}, mr = {0, 0, 0, 0};
    uint32_t r = 99u, f;
    int fs = 2 * ec_media_block_samples(codec);
    sc.codec = codec;
    sc.red = 1;
    sc.fec = 4;
    tx_config(&sc, &tc);
    rx_config(&sc, &rc);
    if (ec_media_tx_init(tx, sizeof txm, &tc) != EC_OK || ec_media_rx_init(rx, sizeof rxm, &rc) != EC_OK) {
        fail("bench init");
        return;
    }
    synth_init(&syn, (uint32_t)fs * 50u, 5);
    for (f = 0; f < BENCH_FRAMES; f++) {
        uint32_t t0, t1, now = f * 20u, recv = 0;
        int n;
        synth_run(&syn, pcm, (size_t)fs);
        t0 = tio_instructions();
        ec_media_tx_push(tx, pcm, (size_t)fs, now);
        while ((n = ec_media_tx_poll(tx, now, ch_data[0], SLOT_BYTES)) > 0) {
            t1 = tio_instructions();
            if (!chance(&r, 50)) {
                uint32_t s = tio_instructions();
                ec_media_rx_packet(rx, ch_data[0], (size_t)n, now + 20u + rnd(&r) % 21u);
                recv += tio_instructions() - s;
            }
            t0 += tio_instructions() - t1; /* exclude the receiver from the send figure */
        }
        meter_add(&ms, t0, tio_instructions());
        t0 = tio_instructions();
        ec_media_rx_pull(rx, now + 30u, pcm, 320);
        while (ec_media_rx_poll_feedback(rx, now + 30u, scratch, sizeof scratch) > 0) {
        }
        meter_add(&mr, t0 - recv, tio_instructions()); /* receive time counted too */
    }
    bench_line(tx_name, &ms);
    bench_line(rx_name, &mr);
}

static void run_bench(void)
{
    bench_codec(EC_MEDIA_G722, "g722-send", "g722-receive");
    bench_codec(EC_MEDIA_PCMU, "pcmu-send", "pcmu-receive");
}

/* ---- main ---- */

int tio_main(void)
{
    const char *cmd = tio_cmdline();
    const char *rest = "";
    tio_puts("# netstack harness on ");
    tio_puts(tio_target());
    tio_puts("\n");
    if (word_eq(cmd, "bench", &rest)) {
        run_bench();
    } else {
        run_scenarios();
    }
    return failures ? 1 : 0;
}
