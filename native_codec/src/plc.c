/* plc.c — packet-loss concealment on decoded PCM, integer arithmetic only.
 *
 * 8 kHz: ITU-T G.711 Appendix I (09/1999), "A high quality low-complexity algorithm for packet
 * loss concealment with G.711" (the algorithm of its AT&T "LowcFE" reference): 10 ms frames, a
 * 48.75 ms history (3 x 15 ms max pitch + 3.75 ms overlap), pitch by normalised
 * cross-correlation of the last 20 ms against lags of 5..15 ms (coarse search on every 2nd
 * sample and lag, then a fine search around the winner), waveform repetition of 1, then 2, then
 * 3 pitch periods with a 1/4-period overlap-add at each join, attenuation of 20 % per 10 ms from
 * the second lost frame on, silence after 60 ms, an overlap-add into the first good frame that
 * grows by 4 ms per lost frame, and a 3.75 ms output delay. Written from the Appendix's
 * description; no reference code is copied.
 *
 * Bit-exactness: the reference computes in double precision. Its correlations and energies are
 * sums of integer products that a double holds exactly, so here they are exact 64-bit integers,
 * and the normalised correlations c/sqrt(e) are compared exactly (c1^2 e2 against c2^2 e1 in
 * 128-bit arithmetic, signs handled). The overlap-add windows and attenuation ramps are
 * fixed-point values in units of 2^-62, which hold the reference's accumulated double ramp
 * values exactly (each of them is a multiple of 2^-62); every product and sum is rounded to 53
 * significant bits, half to even, as a double is, before the reference's float-to-short
 * truncation toward zero. Plain Q15 ramps are not enough: ideal results that are exact
 * integers are common, and the reference then lands a hair above or below them, which flips
 * the truncation by one LSB (and the error repeats with every pitch period played out). With
 * this the output equals the ITU-T STL reference vectors (f2_10.raw, f2_10_2.raw) exactly.
 *
 * 16 kHz (audio decoded from G.722): the same algorithm with every length in samples doubled
 * (pitch 80..240, history 780, overlap and output delay up to 60, recovery overlap +64 per
 * lost frame), the coarse pitch search on every 4th sample (the same 4 kHz grid as at 8 kHz),
 * the energy floor of the fine search doubled (it sums twice as many samples) and the
 * per-sample attenuation step halved (still 20 % per 10 ms). G.722 Appendix III and IV were
 * not used: both live inside the G.722 decoder (III extrapolates the 16 kHz output, then runs
 * it through the QMF analysis and partial ADPCM encoders to update the decoder state and
 * time-warps at recovery; IV extrapolates in the sub-bands and updates the ADPCM states), so
 * they need the decoder's internals, whereas this module sits after any decoder on plain PCM
 * and shares one design with the 8 kHz path; III also costs far more RAM and cycles than this.
 * Keeping the G.722 ADPCM state sensible across a loss remains the decoder's business.
 *
 * No floating point, no libc, no globals but const data; state is the caller's ec_plc. */
#include "ec_plc.h"

#define PLC_MAGIC 0x504C4331u /* "PLC1" */
#define ERASECNT_CAP 7        /* from 7 lost frames on, nothing depends on the count */

/* ---- 2^-62 fixed point that reproduces IEEE double rounding -------------------------------- */

#define ONE_W ((uint64_t)1 << 62) /* 1.0 in units of 2^-62 */

typedef struct {
    uint64_t hi, lo;
} u128;

static int bitlen64(uint64_t x)
{
    int n = 0;
    if (x >> 32) { n += 32; x >>= 32; }
    if (x >> 16) { n += 16; x >>= 16; }
    if (x >> 8) { n += 8; x >>= 8; }
    if (x >> 4) { n += 4; x >>= 4; }
    if (x >> 2) { n += 2; x >>= 2; }
    if (x >> 1) { n += 1; x >>= 1; }
    return n + (int)x;
}

/* r = a * b, exactly. (The u128 helpers work through pointers: on Cortex-M0 a by-value copy
 * of a 16-byte struct becomes a memcpy call.) */
static void mul64(u128 *r, uint64_t a, uint64_t b)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    r->lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
    r->hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

static int cmp128(const u128 *a, const u128 *b)
{
    if (a->hi != b->hi) return a->hi > b->hi ? 1 : -1;
    if (a->lo != b->lo) return a->lo > b->lo ? 1 : -1;
    return 0;
}

/* a += b */
static void add128(u128 *a, const u128 *b)
{
    uint64_t lo = a->lo + b->lo;
    a->hi = a->hi + b->hi + (lo < a->lo);
    a->lo = lo;
}

/* a = b - a, for b >= a */
static void rsub128(u128 *a, const u128 *b)
{
    uint64_t lo = b->lo - a->lo;
    a->hi = b->hi - a->hi - (b->lo < a->lo);
    a->lo = lo;
}

/* Bit k of v (0 <= k < 128). */
static int bit128(const u128 *v, int k)
{
    return (int)((k >= 64 ? v->hi >> (k - 64) : v->lo >> k) & 1u);
}

/* Whether any bit of v below bit k is set. */
static int below128(const u128 *v, int k)
{
    if (k <= 0) return 0;
    if (k >= 64) return v->lo != 0 || (k > 64 && (v->hi << (128 - k)) != 0);
    return (v->lo << (64 - k)) != 0;
}

/* v rounded to 53 significant bits, half to even: what a double holds of an exact value. */
static void round53(u128 *v)
{
    int b = v->hi ? 64 + bitlen64(v->hi) : bitlen64(v->lo);
    int s = b - 53;
    uint64_t keep;
    if (s <= 0) return;
    keep = s >= 64 ? v->hi >> (s - 64) : (v->lo >> s) | (v->hi << (64 - s));
    if (bit128(v, s - 1) && (below128(v, s - 1) || (keep & 1u))) keep++; /* keep <= 2^53 */
    if (s >= 64) {
        v->hi = keep << (s - 64);
        v->lo = 0;
    } else {
        v->hi = keep >> (64 - s);
        v->lo = keep << s;
    }
}

/* The integer part of a non-negative 2^-62 value (the value is < 2^64 here). */
static uint64_t int_part(const u128 *v)
{
    return (v->hi << 2) | (v->lo >> 62);
}

static uint64_t mag64(int64_t x)
{
    return x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
}

/* A double rounding of a signed 2^-62 value held exactly in an int64 (|x| < 2^63). */
static int64_t rnd_w(int64_t x)
{
    u128 v;
    v.hi = 0;
    v.lo = mag64(x);
    round53(&v);
    return x < 0 ? -(int64_t)v.lo : (int64_t)v.lo;
}

/* The double product of two non-negative 2^-62 values, back in 2^-62 units. For every product
 * formed here (1/n times a gain, (1 - 1/n) times a gain) the result is >= 2^-10, so its last
 * significant bit is >= 2^-62 and the shift drops only zeros. */
static int64_t mul_w(int64_t a, int64_t b)
{
    u128 v;
    mul64(&v, (uint64_t)a, (uint64_t)b);
    round53(&v);
    return (int64_t)int_part(&v);
}

/* The double nearest to 1/n (n = 1..160), in 2^-62 units. */
static int64_t recip_w(int32_t n)
{
    uint64_t q = 0;
    uint32_t r = 0, d = (uint32_t)n;
    int i, s;
    for (i = 62; i >= 0; i--) { /* 2^62 / n by shift and subtract: no division helper */
        r = (r << 1) | (i == 62 ? 1u : 0u);
        if (r >= d) {
            r -= d;
            q |= (uint64_t)1 << i;
        }
    }
    s = bitlen64(q) - 53;
    if (s > 0) {
        uint64_t keep = q >> s;
        uint64_t halfbit = (q >> (s - 1)) & 1u;
        int sticky = r != 0 || (q & ((((uint64_t)1) << (s - 1)) - 1u)) != 0;
        if (halfbit && (sticky || (keep & 1u))) keep++;
        q = keep << s;
    }
    return (int64_t)q;
}

/* Float-to-short conversion of the double value (w1 * x1 + w2 * x2), with the clamp to
 * [-32768, 32767] the reference applies; weights in 2^-62 units, |w| < 2. */
static int16_t wsum(int64_t w1, int32_t x1, int64_t w2, int32_t x2)
{
    int n1 = (w1 < 0) != (x1 < 0), n2 = (w2 < 0) != (x2 < 0), neg;
    u128 p1, p2;
    uint64_t ip;
    mul64(&p1, mag64(w1), (uint64_t)(x1 < 0 ? -x1 : x1));
    mul64(&p2, mag64(w2), (uint64_t)(x2 < 0 ? -x2 : x2));
    round53(&p1);
    round53(&p2);
    if (n1 == n2) {
        add128(&p1, &p2); /* p1 = |sum| */
        neg = n1;
    } else if (cmp128(&p1, &p2) >= 0) {
        rsub128(&p2, &p1); /* p2 = p1 - p2 */
        p1.hi = p2.hi;
        p1.lo = p2.lo;
        neg = n1;
    } else {
        rsub128(&p1, &p2); /* p1 = p2 - p1 */
        neg = n2;
    }
    round53(&p1);
    ip = int_part(&p1); /* truncation toward zero of the magnitude */
    if (neg) return ip >= 32768u ? (int16_t)-32768 : (int16_t)-(int32_t)ip;
    return ip >= 32767u ? (int16_t)32767 : (int16_t)ip;
}

/* Float-to-short conversion of the double product w * x, 0 <= w <= 1. */
static int16_t wmul(int64_t w, int32_t x)
{
    u128 p;
    int32_t ip;
    mul64(&p, (uint64_t)w, (uint64_t)(x < 0 ? -x : x));
    round53(&p);
    ip = (int32_t)int_part(&p);
    return (int16_t)(x < 0 ? -ip : ip);
}

/* The reference's gain 1 - (k - 1) * 0.2 for k = 1..6 lost frames, as doubles (k >= 6: 0). */
static const int64_t gain_w[6] = {
    0x4000000000000000, 0x3333333333333400, 0x2666666666666600,
    0x1999999999999800, 0x0CCCCCCCCCCCCC00, 0,
};

static int64_t gain_for(int32_t erasecnt)
{
    return erasecnt >= 6 ? 0 : gain_w[erasecnt - 1];
}

/* ---- parameters per rate ------------------------------------------------------------------- */

typedef struct {
    int32_t m;       /* 1 at 8 kHz, 2 at 16 kHz */
    int32_t frame;   /* 10 ms */
    int32_t pmin, pmax, pdiff;
    int32_t ovmax;   /* pmax / 4: output delay */
    int32_t hist;    /* 3 * pmax + ovmax */
    int32_t ndec;    /* coarse search decimation */
    int32_t corrlen; /* 20 ms */
    int32_t eoinc;   /* recovery overlap growth per lost frame, 4 ms */
    int64_t att;     /* per-sample attenuation step: 0.2 / frame as a double */
} plc_par;

static void par_for(plc_par *p, int32_t rate)
{
    int32_t m = rate == 16000 ? 2 : 1;
    p->m = m;
    p->frame = 80 * m;
    p->pmin = 40 * m;
    p->pmax = 120 * m;
    p->pdiff = 80 * m;
    p->ovmax = 30 * m;
    p->hist = 390 * m;
    p->ndec = 2 * m;
    p->corrlen = 160 * m;
    p->eoinc = 32 * m;
    p->att = m == 1 ? 0x28F5C28F5C28F6 : 0x147AE147AE147B;
}

/* ---- pitch search -------------------------------------------------------------------------- */

/* Sign of c1/sqrt(e1) - c2/sqrt(e2), exactly (e1, e2 > 0; |c| < 2^39, e < 2^40). */
static int ncorr_cmp(int64_t c1, int64_t e1, int64_t c2, int64_t e2)
{
    uint64_t m1, m2, h;
    u128 a, b;
    int r;
    if (c1 >= 0 && c2 < 0) return 1;
    if (c1 < 0 && c2 >= 0) return -1;
    m1 = mag64(c1);
    m2 = mag64(c2);
    mul64(&a, m1, m1); /* < 2^78 */
    h = a.hi * (uint64_t)e2;
    mul64(&a, a.lo, (uint64_t)e2);
    a.hi += h; /* c1^2 e2 < 2^118: no overflow */
    mul64(&b, m2, m2);
    h = b.hi * (uint64_t)e1;
    mul64(&b, b.lo, (uint64_t)e1);
    b.hi += h;
    r = cmp128(&a, &b);
    return c1 >= 0 ? r : -r;
}

/* Pitch period of the end of buf (hist samples), by the Appendix I two-stage search. */
static int32_t find_pitch(const plc_par *p, const int16_t *buf)
{
    const int16_t *l = buf + p->hist - p->corrlen;       /* the last 20 ms */
    const int16_t *r = buf + p->hist - p->corrlen - p->pmax; /* lag pmax .. pmin */
    const int16_t *rp;
    const int64_t minpow_c = 250, minpow_f = 250 * (int64_t)p->m;
    int64_t energy = 0, corr, bc, be, sc;
    int32_t i, j, k, best, nd = p->ndec;

    /* coarse search on every ndec-th sample and lag */
    rp = r;
    corr = 0;
    for (i = 0; i < p->corrlen; i += nd) {
        energy += (int32_t)rp[i] * rp[i];
        corr += (int32_t)rp[i] * l[i];
    }
    bc = corr;
    be = energy < minpow_c ? minpow_c : energy;
    best = 0;
    for (j = nd; j <= p->pdiff; j += nd) {
        energy -= (int32_t)rp[0] * rp[0];
        energy += (int32_t)rp[p->corrlen] * rp[p->corrlen];
        rp += nd;
        corr = 0;
        for (i = 0; i < p->corrlen; i += nd) corr += (int32_t)rp[i] * l[i];
        sc = energy < minpow_c ? minpow_c : energy;
        if (ncorr_cmp(corr, sc, bc, be) >= 0) {
            bc = corr;
            be = sc;
            best = j;
        }
    }

    /* fine search around the coarse winner */
    j = best - (nd - 1);
    if (j < 0) j = 0;
    k = best + (nd - 1);
    if (k > p->pdiff) k = p->pdiff;
    rp = r + j;
    energy = 0;
    corr = 0;
    for (i = 0; i < p->corrlen; i++) {
        energy += (int32_t)rp[i] * rp[i];
        corr += (int32_t)rp[i] * l[i];
    }
    bc = corr;
    be = energy < minpow_f ? minpow_f : energy;
    best = j;
    for (i = j + 1; i <= k; i++) {
        int32_t q;
        energy -= (int32_t)rp[0] * rp[0];
        energy += (int32_t)rp[p->corrlen] * rp[p->corrlen];
        rp++;
        corr = 0;
        for (q = 0; q < p->corrlen; q++) corr += (int32_t)rp[q] * l[q];
        sc = energy < minpow_f ? minpow_f : energy;
        if (ncorr_cmp(corr, sc, bc, be) > 0) {
            bc = corr;
            be = sc;
            best = i;
        }
    }
    return p->pmax - best;
}

/* ---- concealment --------------------------------------------------------------------------- */

/* Next sample of the repeated pitch buffer. */
static int16_t fe_next(ec_plc *st, int32_t hist)
{
    int16_t v = st->pitchbuf[hist - st->pitchblen + st->poffset];
    if (++st->poffset == st->pitchblen) st->poffset = 0;
    return v;
}

/* Overlap-add the saved last quarter period (lastq) with the quarter period before the start of
 * the pitch buffer, into the pitch buffer's end, so that the repetition joins smoothly. */
static void ola_pitchbuf(ec_plc *st, int32_t hist)
{
    int32_t i, cnt = st->poverlap;
    int16_t *o = st->pitchbuf + hist - cnt;
    const int16_t *rr = st->pitchbuf + hist - st->pitchblen - cnt;
    int64_t inc, lw, rw;
    if (cnt == 0) return;
    inc = recip_w(cnt);
    lw = rnd_w((int64_t)ONE_W - inc);
    rw = inc;
    for (i = 0; i < cnt; i++) {
        o[i] = wsum(lw, st->lastq[i], rw, rr[i]);
        lw = rnd_w(lw - inc);
        rw = rnd_w(rw + inc);
    }
}

static void scale_frame(const ec_plc *st, const plc_par *p, int16_t *out)
{
    int64_t g = gain_for(st->erasecnt);
    int32_t i;
    for (i = 0; i < p->frame; i++) {
        out[i] = wmul(g, out[i]);
        g = rnd_w(g - p->att);
    }
}

/* Plain copy / clear loops. The volatile destination keeps the compiler from turning them
 * into memcpy/memmove/memset calls, which a freestanding build does not have. Copies run
 * forward, so dst < src overlapping is fine. */
static void copy16(volatile int16_t *dst, const int16_t *src, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) dst[i] = src[i];
}

static void zero16(volatile int16_t *dst, int32_t n)
{
    int32_t i;
    for (i = 0; i < n; i++) dst[i] = 0;
}

/* Drop the oldest frame of the history and append frame samples from src. */
static void hist_push(ec_plc *st, const plc_par *p, const int16_t *src)
{
    copy16(st->history, st->history + p->frame, p->hist - p->frame);
    copy16(st->history + p->hist - p->frame, src, p->frame);
}

/* The output: the frame that ends ovmax samples before the end of the history (3.75 ms delay). */
static void hist_out(const ec_plc *st, const plc_par *p, int16_t *out)
{
    copy16(out, st->history + p->hist - p->frame - p->ovmax, p->frame);
}

static int check_state(const ec_plc *st)
{
    int32_t m, hist;
    if (st->magic != PLC_MAGIC) return EC_ERR_STATE;
    if (st->rate != 8000 && (st->rate != 16000 || EC_PLC_MAX_RATE < 16000)) return EC_ERR_STATE;
    m = st->rate == 16000 ? 2 : 1;
    hist = 390 * m;
    if (st->frame != 80 * m || st->erasecnt < 0 || st->erasecnt > ERASECNT_CAP) return EC_ERR_STATE;
    if (st->erasecnt > 0) { /* the concealment fields index the buffers: keep them in range */
        if (st->pitch < 40 * m || st->pitch > 120 * m || st->poverlap != st->pitch / 4 ||
            st->pitchblen < st->pitch || st->pitchblen > 3 * st->pitch || st->poffset < 0 ||
            st->poffset >= st->pitchblen || st->pitchblen + st->poverlap > hist)
            return EC_ERR_STATE;
    }
    return EC_OK;
}

size_t ec_plc_state_size(void)
{
    return sizeof(ec_plc);
}

int ec_plc_init(ec_plc *st, size_t st_size, int sample_rate)
{
    if (st == NULL) return EC_ERR_ARG;
    if (sample_rate != 8000 && (sample_rate != 16000 || EC_PLC_MAX_RATE < 16000)) return EC_ERR_ARG;
    if (st_size < sizeof(ec_plc)) return EC_ERR_SHORT_BUFFER;
    st->rate = sample_rate;
    st->frame = sample_rate == 16000 ? 160 : 80;
    st->erasecnt = 0;
    st->pitch = 0;
    st->poverlap = 0;
    st->poffset = 0;
    st->pitchblen = 0;
    zero16(st->history, EC_PLC_HIST_MAX);
    zero16(st->pitchbuf, EC_PLC_HIST_MAX);
    zero16(st->lastq, EC_PLC_OVL_MAX);
    st->magic = PLC_MAGIC;
    return EC_OK;
}

int ec_plc_frame_size(const ec_plc *st)
{
    int rc;
    if (st == NULL) return EC_ERR_ARG;
    rc = check_state(st);
    return rc < 0 ? rc : (int)st->frame;
}

int ec_plc_good(ec_plc *st, const int16_t *in, int16_t *out, size_t n)
{
    plc_par p;
    int16_t *h;
    int32_t i;
    int rc;
    if (st == NULL) return EC_ERR_ARG;
    rc = check_state(st);
    if (rc < 0) return rc;
    if (in == NULL || out == NULL || n != (size_t)st->frame) return EC_ERR_ARG;
    par_for(&p, st->rate);

    hist_push(st, &p, in); /* all of in is read before out is written: in == out is fine */
    h = st->history + p.hist - p.frame;
    if (st->erasecnt) {
        /* Longer losses get a longer overlap from the concealment into the real signal; the
         * concealment side continues the pitch buffer, attenuated to where the loss left it. */
        int32_t olen = st->poverlap + (st->erasecnt - 1) * p.eoinc;
        int64_t inc, incg, lw, rw, g = gain_for(st->erasecnt);
        if (olen > p.frame) olen = p.frame;
        inc = recip_w(olen);
        incg = mul_w(inc, g);
        lw = mul_w(rnd_w((int64_t)ONE_W - inc), g);
        rw = inc;
        for (i = 0; i < olen; i++) {
            h[i] = wsum(lw, fe_next(st, p.hist), rw, h[i]);
            lw = rnd_w(lw - incg);
            rw = rnd_w(rw + inc);
        }
        st->erasecnt = 0;
    }
    hist_out(st, &p, out);
    return (int)n;
}

int ec_plc_lost(ec_plc *st, int16_t *out, size_t n)
{
    plc_par p;
    int32_t i;
    int rc;
    if (st == NULL) return EC_ERR_ARG;
    rc = check_state(st);
    if (rc < 0) return rc;
    if (out == NULL || n != (size_t)st->frame) return EC_ERR_ARG;
    par_for(&p, st->rate);

    if (st->erasecnt == 0) {
        /* Freeze the history as the pitch buffer, find the pitch and start with one period whose
         * end is overlap-added (1/4 period) with the signal before it. */
        copy16(st->pitchbuf, st->history, p.hist);
        st->pitch = find_pitch(&p, st->pitchbuf);
        st->poverlap = st->pitch >> 2;
        copy16(st->lastq, st->pitchbuf + p.hist - st->poverlap, st->poverlap);
        st->poffset = 0;
        st->pitchblen = st->pitch;
        ola_pitchbuf(st, p.hist);
        /* the smoothed quarter period also replaces the not yet output end of the history */
        copy16(st->history + p.hist - st->poverlap, st->pitchbuf + p.hist - st->poverlap,
               st->poverlap);
        for (i = 0; i < p.frame; i++) out[i] = fe_next(st, p.hist);
    } else if (st->erasecnt == 1 || st->erasecnt == 2) {
        /* Add a pitch period to the buffer; cross-fade from the old buffer to the new one. */
        int16_t tail[EC_PLC_OVL_MAX];
        int32_t save = st->poffset;
        int64_t inc, lw, rw;
        for (i = 0; i < st->poverlap; i++) tail[i] = fe_next(st, p.hist);
        st->poffset = save;
        while (st->poffset > st->pitch) st->poffset -= st->pitch;
        st->pitchblen += st->pitch;
        ola_pitchbuf(st, p.hist);
        for (i = 0; i < p.frame; i++) out[i] = fe_next(st, p.hist);
        if (st->poverlap > 0) {
            inc = recip_w(st->poverlap);
            lw = rnd_w((int64_t)ONE_W - inc);
            rw = inc;
            for (i = 0; i < st->poverlap; i++) {
                out[i] = wsum(lw, tail[i], rw, out[i]);
                lw = rnd_w(lw - inc);
                rw = rnd_w(rw + inc);
            }
        }
        scale_frame(st, &p, out);
    } else if (st->erasecnt > 5) {
        zero16(out, p.frame);
    } else {
        for (i = 0; i < p.frame; i++) out[i] = fe_next(st, p.hist);
        scale_frame(st, &p, out);
    }
    if (st->erasecnt < ERASECNT_CAP) st->erasecnt++;

    /* history <- out; out <- the frame delayed by the overlap length */
    hist_push(st, &p, out);
    hist_out(st, &p, out);
    return (int)n;
}
