/* jb.c — adaptive jitter buffer (see ec_jb.h): a timestamp-addressed ring of 10 ms blocks, a
 * relative-delay histogram with a forgetting factor and its 97th percentile (+ a recovery allowance) as the target delay
 * (after WebRTC NetEQ's DelayManager), and the per-block playout decision (play, conceal,
 * expand on underrun, skip after a concealed gap, stretch or compress toward the target in pauses, a merge only for a
 * lasting excess).
 * Integer arithmetic only; timestamps and times compare modulo 2^32. */
#include "ec_jb.h"

#define JB_MAGIC 0x4A42554Fu /* "JBUF" */
#define Q30 (1u << 30)
#define FORGET_Q15 32745u  /* 0.9993 per packet */
#define WINDOW_MS 4000u    /* two such windows: the minimum transit of the last 4..8 s */
#define QUANTILE_PERMILLE 30u /* 3 % of the mass above the target: the 97th percentile */
#define URGENT_PERMILLE 100u  /* a stretch is urgent below the 90th percentile */
#define COMPRESS_MS 20     /* compress when dn >= target + 20 ms ... */
#define COMPRESS_RUN 25    /* ... at 25 frame starts in a row (0.5 s at 20 ms), or at once when */
#define COMPRESS_URGENT_MS 80 /* dn >= target + 80 ms; both in a quiet block */
#define STRETCH_MS 0       /* stretch when dn < target - STRETCH_MS (no band below: late packets cost more), in a
                            * quiet block, or at once when dn < urgent_ms (URGENT_PERMILLE) */
#define PATIENCE_RUN 150   /* frame starts a step waits for a quiet block at most (3 s at 20 ms) */
#define TICKS_PER_MS 8u

static int lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static ec_jb_block *ring(ec_jb *jb)
{
    return (ec_jb_block *)(void *)((uint8_t *)jb + jb->blocks_off);
}

static const ec_jb_block *cring(const ec_jb *jb)
{
    return (const ec_jb_block *)(const void *)((const uint8_t *)jb + jb->blocks_off);
}

static size_t header_size(void)
{
    return (sizeof(ec_jb) + 7u) & ~(size_t)7u;
}

size_t ec_jb_state_size(uint32_t n_blocks)
{
    if (n_blocks < EC_JB_MIN_BLOCKS || n_blocks > EC_JB_MAX_BLOCKS) {
        return 0;
    }
    return header_size() + (size_t)n_blocks * sizeof(ec_jb_block);
}

static int cap_ms(const ec_jb *jb)
{
    return (int)jb->n_blocks * 10 - 40;
}

int ec_jb_init(ec_jb *jb, size_t size, uint32_t n_blocks, int fixed_delay_ms, int min_delay_ms, int max_delay_ms)
{
    size_t need = ec_jb_state_size(n_blocks), i;
    ec_jb_block *r;
    if (jb == NULL || need == 0u || fixed_delay_ms < 0 || min_delay_ms < 0 || max_delay_ms < 0 ||
        fixed_delay_ms > ((int)n_blocks - 2) * 10 || min_delay_ms > 2000 || max_delay_ms > 2000) {
        return EC_ERR_ARG;
    }
    if (size < need) {
        return EC_ERR_SHORT_BUFFER;
    }
    jb->n_blocks = n_blocks;
    jb->blocks_off = (uint32_t)header_size();
    jb->fixed_delay_ms = fixed_delay_ms;
    jb->min_delay_ms = min_delay_ms;
    jb->max_delay_ms = max_delay_ms;
    jb->started = jb->playing = jb->last_concealed = 0;
    jb->pad = 0;
    jb->origin = jb->play_ts = jb->end_ts = 0;
    jb->transit_ref = jb->transit_cur = jb->transit_prev = 0;
    jb->window_ms = 0;
    jb->hist_count = 0;
    jb->target_ms = jb->urgent_ms = 0;
    jb->high_run = jb->low_run = 0;
    jb->add_ms = jb->floor_ms = 0;
    for (i = 0; i < EC_JB_HIST_BINS; i++) {
        jb->hist[i] = 0;
    }
    jb->st.late = jb->st.duplicates = jb->st.overflow = jb->st.flushes = 0;
    jb->st.played = jb->st.concealed = jb->st.stretched = jb->st.compressed = jb->st.skipped = 0;
    jb->st.packets = 0;
    r = ring(jb);
    for (i = 0; i < n_blocks; i++) {
        r[i].flags = 0;
        r[i].ts = 0;
    }
    jb->magic = JB_MAGIC;
    jb->target_ms = fixed_delay_ms > 0 ? fixed_delay_ms : (min_delay_ms > 10 ? min_delay_ms : 10);
    return EC_OK;
}

/* Block index of ts relative to the origin, rounded down (ts may precede the origin). */
static int32_t block_index(const ec_jb *jb, uint32_t ts, uint32_t *rem)
{
    int32_t d = (int32_t)(ts - jb->origin);
    int32_t q = d / (int32_t)EC_JB_BLOCK_TS, r = d % (int32_t)EC_JB_BLOCK_TS;
    if (r < 0) {
        r += (int32_t)EC_JB_BLOCK_TS;
        q--;
    }
    *rem = (uint32_t)r;
    return q;
}

static uint32_t slot_of(const ec_jb *jb, uint32_t ts)
{
    uint32_t rem;
    int32_t q = block_index(jb, ts, &rem) % (int32_t)jb->n_blocks;
    return (uint32_t)(q < 0 ? q + (int32_t)jb->n_blocks : q);
}

uint32_t ec_jb_misalignment(const ec_jb *jb, uint32_t ts)
{
    uint32_t rem = 0;
    if (jb != NULL && jb->magic == JB_MAGIC && jb->started) {
        (void)block_index(jb, ts, &rem);
    }
    return rem;
}

const ec_jb_block *ec_jb_find(const ec_jb *jb, uint32_t ts)
{
    const ec_jb_block *b;
    if (jb == NULL || jb->magic != JB_MAGIC || !jb->started || ec_jb_misalignment(jb, ts) != 0u) {
        return NULL;
    }
    b = &cring(jb)[slot_of(jb, ts)];
    return ((b->flags & EC_JB_F_FULL) && b->ts == ts) ? b : NULL;
}

const ec_jb_block *ec_jb_find_seq(const ec_jb *jb, uint16_t seq)
{
    const ec_jb_block *r;
    uint32_t i, span;
    if (jb == NULL || jb->magic != JB_MAGIC || !jb->started) {
        return NULL;
    }
    r = cring(jb);
    span = jb->n_blocks * EC_JB_BLOCK_TS;
    for (i = 0; i < jb->n_blocks; i++) {
        if ((r[i].flags & (EC_JB_F_FULL | EC_JB_F_FIRST)) == (EC_JB_F_FULL | EC_JB_F_FIRST) && r[i].seq == seq &&
            r[i].ts - (jb->play_ts - span) < 2u * span) {
            return &r[i];
        }
    }
    return NULL;
}

int ec_jb_packet(const ec_jb *jb, const ec_jb_block *b, uint8_t *out, size_t cap)
{
    size_t off = 0, j;
    unsigned i;
    if (jb == NULL || b == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    for (i = 0; i < b->count; i++) {
        const ec_jb_block *k = ec_jb_find(jb, b->ts + EC_JB_BLOCK_TS * i);
        if (k == NULL || k->seq != b->seq || k->index != i || k->count != b->count) {
            return EC_ERR_MALFORMED;
        }
        if (cap - off < k->len) {
            return EC_ERR_SHORT_BUFFER;
        }
        for (j = 0; j < k->len; j++) {
            out[off + j] = k->data[j];
        }
        off += k->len;
    }
    return (int)off;
}

/* ---- delay statistics ---- */

static uint32_t mul_q15(uint32_t h, uint32_t f)
{
    return (h >> 15) * f + (((h & 0x7fffu) * f) >> 15);
}

static void update_target(ec_jb *jb)
{
    uint32_t total = 0, cum = 0, thr, thr_urgent;
    int b, t, hi, urgent = -1;
    for (b = 0; b < EC_JB_HIST_BINS; b++) {
        total += jb->hist[b] >> 2; /* Q28 sums: 48 bins cannot overflow */
    }
    thr = total - (uint32_t)(((uint64_t)total * QUANTILE_PERMILLE) / 1000u);
    thr_urgent = total - (uint32_t)(((uint64_t)total * URGENT_PERMILLE) / 1000u);
    for (b = 0; b < EC_JB_HIST_BINS - 1; b++) {
        cum += jb->hist[b] >> 2;
        if (urgent < 0 && cum >= thr_urgent) {
            urgent = b;
        }
        if (cum >= thr) {
            break;
        }
    }
    jb->urgent_ms = 10 * ((urgent < 0 ? b : urgent) + 1);
    t = 10 * (b + 1) + jb->add_ms;
    if (t < jb->floor_ms) {
        t = jb->floor_ms;
    }
    hi = cap_ms(jb);
    if (jb->max_delay_ms > 0 && jb->max_delay_ms < hi) {
        hi = jb->max_delay_ms;
    }
    if (t < jb->min_delay_ms) {
        t = jb->min_delay_ms;
    }
    if (t > hi) {
        t = hi;
    }
    jb->target_ms = t;
}

static void window_tick(ec_jb *jb, uint32_t now_ms, uint32_t transit)
{
    if (jb->fixed_delay_ms == 0 && now_ms - jb->window_ms >= WINDOW_MS) {
        jb->transit_prev = jb->transit_cur;
        jb->transit_cur = transit;
        jb->window_ms = now_ms;
    }
}

static void add_delay(ec_jb *jb, uint32_t now_ms, uint32_t transit)
{
    uint32_t f, rd_ms;
    int32_t rd;
    int b;
    if (jb->fixed_delay_ms > 0) {
        if (!jb->playing && lt(transit, jb->transit_ref)) {
            jb->transit_ref = transit;
        }
        return;
    }
    window_tick(jb, now_ms, transit);
    if (lt(transit, jb->transit_cur)) {
        jb->transit_cur = transit;
    }
    jb->transit_ref = lt(jb->transit_cur, jb->transit_prev) ? jb->transit_cur : jb->transit_prev;
    rd = (int32_t)(transit - jb->transit_ref);
    rd_ms = rd > 0 ? (uint32_t)rd / TICKS_PER_MS : 0u;
    b = rd_ms / 10u >= EC_JB_HIST_BINS ? EC_JB_HIST_BINS - 1 : (int)(rd_ms / 10u);
    /* forgetting factor: a running mean for the first packets, then 0.9993 */
    f = jb->hist_count < 32768u ? 32768u - 32768u / (jb->hist_count + 1u) : FORGET_Q15;
    if (f > FORGET_Q15) {
        f = FORGET_Q15;
    }
    {
        int i;
        for (i = 0; i < EC_JB_HIST_BINS; i++) {
            jb->hist[i] = mul_q15(jb->hist[i], f);
        }
    }
    jb->hist[b] += Q30 - mul_q15(Q30, f);
    if (jb->hist_count < 0xffffffffu) {
        jb->hist_count++;
    }
    update_target(jb);
}

/* ---- insert ---- */

static void clear_ring(ec_jb *jb)
{
    ec_jb_block *r = ring(jb);
    uint32_t i;
    for (i = 0; i < jb->n_blocks; i++) {
        r[i].flags = 0;
    }
}

static void start_at(ec_jb *jb, uint32_t now_ms, uint32_t ts, uint32_t transit)
{
    jb->started = 1;
    jb->playing = 0;
    jb->last_concealed = 0;
    jb->origin = ts;
    jb->play_ts = ts;
    jb->end_ts = ts;
    jb->transit_ref = jb->transit_cur = jb->transit_prev = transit;
    jb->window_ms = now_ms;
}

void ec_jb_reset_playout(ec_jb *jb)
{
    if (jb == NULL || jb->magic != JB_MAGIC) {
        return;
    }
    clear_ring(jb);
    jb->started = 0;
    jb->playing = 0;
    jb->last_concealed = 0;
}

int ec_jb_insert(ec_jb *jb, uint32_t now_ms, uint32_t ts, uint16_t seq, const uint8_t *payload, size_t len,
                 size_t extra, size_t block_bytes, unsigned flags, int update_delay)
{
    uint32_t transit = now_ms * TICKS_PER_MS - ts;
    size_t n, i, off;
    int32_t rel;
    unsigned stored = 0, dups = 0, skipped_late = 0;
    ec_jb_block *r;
    if (jb == NULL || jb->magic != JB_MAGIC) {
        return EC_ERR_STATE;
    }
    if (payload == NULL || block_bytes == 0u || len <= extra || (len - extra) % block_bytes != 0u ||
        extra + block_bytes > EC_JB_BLOCK_BYTES) {
        return EC_ERR_ARG;
    }
    n = (len - extra) / block_bytes;
    if (n > 255u || n > jb->n_blocks) {
        return EC_ERR_ARG;
    }
    if (!jb->started) {
        start_at(jb, now_ms, ts, transit);
    }
    if (ec_jb_misalignment(jb, ts) != 0u) {
        return EC_ERR_ARG;
    }
    if (!jb->playing && lt(ts, jb->play_ts) && (jb->end_ts - ts) / EC_JB_BLOCK_TS <= jb->n_blocks) {
        jb->play_ts = ts; /* an earlier packet before playout started: start from it */
    }
    rel = (int32_t)(ts - jb->play_ts) / (int32_t)EC_JB_BLOCK_TS;
    if (rel + (int32_t)n > (int32_t)jb->n_blocks) {
        if (jb->fixed_delay_ms > 0) {
            jb->st.overflow++;
            return EC_JB_OVERFLOW;
        }
        /* far ahead of playout (a long pause, a clock running fast): restart from here */
        clear_ring(jb);
        start_at(jb, now_ms, ts, transit);
        jb->st.flushes++;
        rel = 0;
        flags |= 0x100u;
    }
    r = ring(jb);
    off = 0;
    for (i = 0; i < n; i++) {
        size_t bl = block_bytes + (i == 0 ? extra : 0u), j;
        uint32_t t = ts + EC_JB_BLOCK_TS * (uint32_t)i;
        ec_jb_block *b = &r[slot_of(jb, t)];
        if (rel + (int32_t)i < 0) {
            skipped_late++;
        } else if ((b->flags & EC_JB_F_FULL) && b->ts == t) {
            dups++;
        } else {
            b->ts = t;
            b->seq = seq;
            b->len = (uint8_t)bl;
            b->flags = (uint8_t)(EC_JB_F_FULL | (i == 0 ? EC_JB_F_FIRST : 0u) | (flags & (EC_JB_F_MARKER | EC_JB_F_RECOVERED)));
            b->index = (uint8_t)i;
            b->count = (uint8_t)n;
            for (j = 0; j < bl; j++) {
                b->data[j] = payload[off + j];
            }
            stored++;
            if (lt(jb->end_ts, t + EC_JB_BLOCK_TS)) {
                jb->end_ts = t + EC_JB_BLOCK_TS;
            }
        }
        off += bl;
    }
    if (rel < 0) {
        jb->st.late++;
    }
    if (update_delay && (stored > 0u || dups == 0u)) {
        add_delay(jb, now_ms, transit); /* first arrivals, late ones included; not duplicates */
    }
    if (stored == 0u) {
        if (dups > 0u) {
            jb->st.duplicates++;
            return EC_JB_DUPLICATE;
        }
        return EC_JB_LATE;
    }
    jb->st.packets++;
    return (flags & 0x100u) ? EC_JB_FLUSHED : EC_JB_STORED;
}

/* ---- playout ---- */

/* Keeps the origin within 2^29 ticks of the playout point (slots stay the same: the origin moves
 * by whole turns of the ring). */
static void rebase_origin(ec_jb *jb)
{
    uint32_t span = EC_JB_BLOCK_TS * jb->n_blocks;
    int32_t d = (int32_t)(jb->play_ts - jb->origin);
    if (d >= 0x20000000 || d <= -0x20000000) {
        jb->origin += span * (uint32_t)(d / (int32_t)span);
    }
}

int ec_jb_delay_ms(const ec_jb *jb, uint32_t now_ms)
{
    if (jb == NULL || jb->magic != JB_MAGIC || !jb->started) {
        return 0;
    }
    return (int32_t)(now_ms * TICKS_PER_MS - jb->play_ts - jb->transit_ref) / (int32_t)TICKS_PER_MS;
}

void ec_jb_set_allowance(ec_jb *jb, int add_ms, int floor_ms)
{
    if (jb == NULL || jb->magic != JB_MAGIC || jb->fixed_delay_ms > 0 || add_ms < 0 || floor_ms < 0 ||
        add_ms > 2000 || floor_ms > 2000 || (add_ms == jb->add_ms && floor_ms == jb->floor_ms)) {
        return;
    }
    jb->add_ms = add_ms;
    jb->floor_ms = floor_ms;
    update_target(jb);
}

int ec_jb_relative_delay_ms(const ec_jb *jb, uint32_t now_ms, uint32_t ts)
{
    int32_t rd;
    if (jb == NULL || jb->magic != JB_MAGIC || !jb->started) {
        return 0;
    }
    rd = (int32_t)(now_ms * TICKS_PER_MS - ts - jb->transit_ref);
    return rd > 0 ? rd / (int32_t)TICKS_PER_MS : 0;
}

int ec_jb_target_ms(const ec_jb *jb)
{
    return (jb == NULL || jb->magic != JB_MAGIC) ? 0 : jb->target_ms;
}

int ec_jb_buffered_ms(const ec_jb *jb)
{
    if (jb == NULL || jb->magic != JB_MAGIC || !jb->started || !lt(jb->play_ts, jb->end_ts)) {
        return 0;
    }
    return (int)((jb->end_ts - jb->play_ts) / TICKS_PER_MS);
}

static void advance(ec_jb *jb, uint32_t blocks)
{
    jb->play_ts += EC_JB_BLOCK_TS * blocks;
    rebase_origin(jb);
}

int ec_jb_next(ec_jb *jb, uint32_t now_ms, int flags, ec_jb_action *act)
{
    int first = (flags & EC_JB_NEXT_FIRST) != 0, quiet = (flags & EC_JB_NEXT_QUIET) != 0;
    int32_t dn;
    const ec_jb_block *a;
    if (jb == NULL || jb->magic != JB_MAGIC) {
        return EC_ERR_STATE;
    }
    if (act == NULL) {
        return EC_ERR_ARG;
    }
    act->kind = EC_JB_SILENCE;
    act->a = act->b = NULL;
    act->skipped = 0;
    if (!jb->started) {
        return EC_OK;
    }
    dn = (int32_t)(now_ms * TICKS_PER_MS - jb->play_ts - jb->transit_ref);
    if (!jb->playing) {
        if (dn < jb->target_ms * (int32_t)TICKS_PER_MS) {
            return EC_OK;
        }
        jb->playing = 1;
    }
    a = ec_jb_find(jb, jb->play_ts);
    if (jb->fixed_delay_ms > 0) {
        if (a != NULL) {
            act->kind = EC_JB_PLAY;
            act->a = a;
            jb->st.played++;
        } else {
            act->kind = EC_JB_CONCEAL;
            jb->st.concealed++;
        }
        advance(jb, 1);
        return EC_OK;
    }
    if (a != NULL) {
        const ec_jb_block *b = ec_jb_find(jb, jb->play_ts + EC_JB_BLOCK_TS);
        int high = first && dn >= (jb->target_ms + COMPRESS_MS) * (int32_t)TICKS_PER_MS;
        int low = first && dn < (jb->target_ms - STRETCH_MS) * (int32_t)TICKS_PER_MS && !jb->last_concealed;
        if (first) {
            jb->high_run = high ? jb->high_run + 1u : 0u;
            jb->low_run = low ? jb->low_run + 1u : 0u;
        }
        /* a step waits for a quiet block (up to PATIENCE_RUN frames) unless it is urgent; a merge
         * also for the excess to last COMPRESS_RUN frames, unless it is large */
        if (high && b != NULL &&
            ((quiet && (jb->high_run >= COMPRESS_RUN ||
                        dn >= (jb->target_ms + COMPRESS_URGENT_MS) * (int32_t)TICKS_PER_MS)) ||
             jb->high_run >= COMPRESS_RUN + PATIENCE_RUN)) {
            jb->high_run = 0;
            act->kind = EC_JB_MERGE;
            act->a = a;
            act->b = b;
            jb->st.compressed++;
            jb->st.played += 2;
            jb->last_concealed = 0;
            advance(jb, 2);
        } else if (low && (quiet || jb->low_run + 1u > PATIENCE_RUN ||
                           dn < jb->urgent_ms * (int32_t)TICKS_PER_MS)) {
            jb->low_run = 0;
            act->kind = EC_JB_STRETCH;
            act->a = a;
            jb->st.stretched++;
        } else {
            act->kind = EC_JB_PLAY;
            act->a = a;
            jb->st.played++;
            jb->last_concealed = 0;
            advance(jb, 1);
        }
        return EC_OK;
    }
    if (lt(jb->play_ts, jb->end_ts)) {
        /* a gap with later blocks buffered: find the next one */
        uint32_t gap = 1, t = jb->play_ts + EC_JB_BLOCK_TS;
        const ec_jb_block *next = NULL;
        while (lt(t, jb->end_ts) && gap < jb->n_blocks) {
            next = ec_jb_find(jb, t);
            if (next != NULL) {
                break;
            }
            t += EC_JB_BLOCK_TS;
            gap++;
        }
        if (next != NULL && jb->last_concealed &&
            dn - (int32_t)(gap * EC_JB_BLOCK_TS) >= jb->target_ms * (int32_t)TICKS_PER_MS) {
            act->kind = EC_JB_PLAY;
            act->a = next;
            act->skipped = gap;
            jb->st.skipped += gap;
            jb->st.played++;
            jb->last_concealed = 0;
            advance(jb, gap + 1u);
            return EC_OK;
        }
        act->kind = EC_JB_CONCEAL;
        jb->st.concealed++;
        jb->last_concealed = 1;
        advance(jb, 1);
        return EC_OK;
    }
    /* underrun: conceal and wait for the block */
    act->kind = EC_JB_CONCEAL;
    jb->st.concealed++;
    jb->last_concealed = 1;
    return EC_OK;
}
