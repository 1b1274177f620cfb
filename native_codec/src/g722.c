/* g722.c — ITU-T G.722 7 kHz audio codec (SB-ADPCM within 64 kbit/s), fixed point.
 *
 * Implements the transmit and receive QMFs (G.722 §3.1, §4.3 and the filter of §6.1), the
 * lower sub-band 6-bit ADPCM encoder whose 4-bit core drives the predictor feedback (§3.3-§3.6),
 * the higher sub-band 2-bit ADPCM (§3.3-§3.6), the decoder in modes 1, 2 and 3 (§4.1-§4.2), and
 * the computational details of every block of §6.2: QUANTL/QUANTH, INVQAL/INVQBL/INVQAH,
 * LOGSCL/LOGSCH, SCALEL/SCALEH, RECONS, PARREC, UPPOL1, UPPOL2, UPZERO, FILTEP, FILTEZ, PREDIC,
 * with the 16-bit saturation of the fixed-point arithmetic the Recommendation specifies.
 * PCM is 16-bit at both ends (the sub-band signals are on the 15-bit scale of §6). */
#include "ec_g722.h"

#define INT_LIMIT 0x7fffffff
#define ENC_MAGIC 0x47373245u /* "G72E" */
#define DEC_MAGIC 0x47373244u /* "G72D" */

/* QMF coefficients h0..h23 (§6.1), scaled by 2^13; the filter is symmetric. */
static const int16_t qmf_h[24] = {3,    -11, -11, 53,   12,   -156, 32,   362, -210, -805, 951, 3876,
                                  3876, 951, -805, -210, 362, 32,   -156, 12,  53,   -11,  -11, 3};

/* QUANTL decision levels Q6(1)..Q6(29) (§6.2, Table 11), padded to 31 entries with Q6(29) so the
 * branch-free binary search below can run five fixed steps. */
static const int16_t q6[31] = {35,   72,   110,  150,  190,  233,  276,  323,  370,  422,  473,
                               530,  587,  650,  714,  786,  858,  940,  1023, 1121, 1219, 1339,
                               1458, 1612, 1765, 1980, 2195, 2557, 2919, 2919, 2919};

/* Output codes for mil = c + 1, c = 0..31 (mil capped at 30): ILP(mil) for a non-negative EL in
 * [0..31], ILN(mil) for a negative one in [32..63]. */
static const uint8_t ilpn[64] = {61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46,
                                 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 32, 32,
                                 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                                 17, 16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  4,  4};

/* Inverse quantiser outputs (×2^15 of the scale factor): QM4 (4-bit), QM5, QM6, QM2 (§6.2). */
static const int16_t qm4[16] = {0,     -20456, -12896, -8968, -6288, -4240, -2584, -1200,
                                20456, 12896,  8968,   6288,  4240,  2584,  1200,  0};
static const int16_t qm5[32] = {-280,  -280,  -23352, -17560, -14120, -11664, -9752, -8184,
                                -6864, -5712, -4696,  -3784,  -2960,  -2208,  -1520, -880,
                                23352, 17560, 14120,  11664,  9752,   8184,   6864,  5712,
                                4696,  3784,  2960,   2208,   1520,   880,    280,   -280};
static const int16_t qm6[64] = {
    -136,   -136,   -136,   -136,   -24808, -21904, -19008, -16704, -14984, -13512, -12280,
    -11192, -10232, -9360,  -8576,  -7856,  -7192,  -6576,  -6000,  -5456,  -4944,  -4464,
    -4008,  -3576,  -3168,  -2776,  -2400,  -2032,  -1688,  -1360,  -1040,  -728,   24808,
    21904,  19008,  16704,  14984,  13512,  12280,  11192,  10232,  9360,   8576,   7856,
    7192,   6576,   6000,   5456,   4944,   4464,   4008,   3576,   3168,   2776,   2400,
    2032,   1688,   1360,   1040,   728,    432,    136,    -432,   -136};
static const int16_t qm2[4] = {-7408, -1616, 7408, 1616};

/* LOGSCL: WL(RIL) folded with the RIL -> table index map; LOGSCH: WH(IH) likewise. */
static const int16_t wl4[16] = {-60, 3042, 1198, 538, 334, 172, 58, -30,
                                3042, 1198, 538, 334, 172, 58, -30, -60};
static const int16_t wh2[4] = {798, -214, 798, -214};

/* SCALEL/SCALEH antilog table ILB: round(2048 * 2^(i/32)). */
static const int16_t ilb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
                                2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228,
                                3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008};

#if defined(__GNUC__)
#define EC_INLINE static inline __attribute__((always_inline))
#else
#define EC_INLINE static inline
#endif

static inline int32_t sat16(int32_t x)
{
    return x > 32767 ? 32767 : (x < -32768 ? -32768 : x);
}

static inline int32_t clamp15(int32_t x)
{
    return x > 16383 ? 16383 : (x < -16384 ? -16384 : x);
}

/* The 24-tap QMF over a newest-first window w: with E = sum h(2i) w(2i) and O = sum h(2i+1) w(2i+1)
 * (§6.1), the transmit side needs E + O and E - O, the receive side E and O. Where the compiler
 * has 16-bit SIMD multiply-adds (pmaddwd and the like), both are formed as two full 24-term dot
 * products with h and with (-1)^k h; elsewhere as the two 12-term halves. Same integers either way. */
#if defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__)
#define QMF_DOT24 1
static const int16_t qmf_halt[24] = {3,    11,   -11, -53, 12,  156, 32,   -362, -210, 805, 951, -3876,
                                     3876, -951, -805, 210, 362, -32, -156, -12,  53,   11,  -11, -3};
#endif

/* Returns sum = E + O and diff = E - O. */
EC_INLINE void qmf_sum_diff(const int16_t *w, int32_t *sum, int32_t *diff)
{
    int32_t a = 0, b = 0;
    int i;
#ifdef QMF_DOT24
    for (i = 0; i < 24; i++) {
        a += (int32_t)qmf_h[i] * w[i];
        b += (int32_t)qmf_halt[i] * w[i];
    }
    *sum = a;
    *diff = b;
#else
    for (i = 0; i < 24; i += 2) {
        a += (int32_t)qmf_h[i] * w[i];
        b += (int32_t)qmf_h[i + 1] * w[i + 1];
    }
    *sum = a + b;
    *diff = a - b;
#endif
}

/* Returns E and O. */
EC_INLINE void qmf_even_odd(const int16_t *w, int32_t *even, int32_t *odd)
{
    int32_t a = 0, b = 0;
    int i;
#ifdef QMF_DOT24
    for (i = 0; i < 24; i++) {
        a += (int32_t)qmf_h[i] * w[i];
        b += (int32_t)qmf_halt[i] * w[i];
    }
    *even = (a + b) >> 1; /* both sums are exact: a + b = 2E, a - b = 2O */
    *odd = (a - b) >> 1;
#else
    for (i = 0; i < 24; i += 2) {
        a += (int32_t)qmf_h[i] * w[i];
        b += (int32_t)qmf_h[i + 1] * w[i + 1];
    }
    *even = a;
    *odd = b;
#endif
}

/* Stores a pair (newest first) in the doubled delay line and returns the 24-value window. */
EC_INLINE const int16_t *qmf_push(int16_t *line, int32_t *pos, int32_t newest, int32_t older)
{
    int32_t p = *pos;
    p = p == 0 ? 22 : p - 2;
    *pos = p;
    line[p] = (int16_t)newest;
    line[p + 24] = (int16_t)newest;
    line[p + 1] = (int16_t)older;
    line[p + 25] = (int16_t)older;
    return line + p;
}

/* LOGSCL + SCALEL (lower band: NBL in 0..18432, DETL = ILB-antilog << 2). */
EC_INLINE void scale_low(ec_g722_band *b, int ril)
{
    int32_t nb = ((b->nb * 127) >> 7) + wl4[ril];
    nb = nb < 0 ? 0 : (nb > 18432 ? 18432 : nb);
    b->nb = nb;
    b->det = (((int32_t)ilb[(nb >> 6) & 31] << 1) >> (9 - (nb >> 11))) << 2;
}

/* LOGSCH + SCALEH (higher band: NBH in 0..22528). */
EC_INLINE void scale_high(ec_g722_band *b, int ih)
{
    int32_t nb = ((b->nb * 127) >> 7) + wh2[ih];
    nb = nb < 0 ? 0 : (nb > 22528 ? 22528 : nb);
    b->nb = nb;
    b->det = (((int32_t)ilb[(nb >> 6) & 31] << 1) >> (11 - (nb >> 11))) << 2;
}

/* RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ and PREDIC for one band, given
 * its quantised difference signal dq (DLT or DH). Leaves the next prediction in b->s. Sign tests
 * are done with arithmetic rather than branches: their outcomes are unpredictable. */
EC_INLINE void adapt(ec_g722_band *b, int32_t dq)
{
    int32_t sz = 0, sp, rr0, a1, a2, wd, lim, m, g;
    int32_t pn0 = (int32_t)((uint32_t)(dq + b->sz) >> 31); /* PARREC: PLT = DLT + SZL < 0 */
    int32_t x1 = pn0 ^ b->pn1;                             /* 1 when sgn(PLT) != sgn(PLT1) */
    int32_t x2 = pn0 ^ b->pn2;

    /* RECONS: RLT = SL + DLT, kept doubled for FILTEP (2 * sat16(x) saturated == sat16(2x)). */
    rr0 = sat16(2 * (b->s + dq));

    /* UPPOL2. sat16(4 * AL1) >> 7, negated (and saturated) when the signs agree, equals the same
     * with AL1 clamped to +-8191 first, where the negation cannot overflow. */
    a1 = b->a1;
    wd = 4 * (a1 > 8191 ? 8191 : (a1 < -8191 ? -8191 : a1));
    m = x1 - 1; /* -1: negate */
    wd = (wd ^ m) - m;
    a2 = (wd >> 7) + 128 - 256 * x2 + ((b->a2 * 127) >> 7);
    a2 = a2 > 12288 ? 12288 : (a2 < -12288 ? -12288 : a2);
    /* UPPOL1 */
    a1 = ((a1 * 255) >> 8) + 192 - 384 * x1;
    lim = 15360 - a2;
    a1 = a1 > lim ? lim : (a1 < -lim ? -lim : a1);

    /* UPZERO + DELAYA + FILTEZ over d[] = 2 * DLTi. The sum is kept in 32 bits and saturated once,
     * in PREDIC. */
    g = (int32_t)(dq != 0) * 128;
#define ZTAP(i, newer)                                                                         \
    do {                                                                                       \
        int32_t t = (b->d[i] ^ dq) >> 31; /* -1 when the signs differ */                      \
        int32_t bi = ((b->b[i] * 255) >> 8) + ((g ^ t) - t);                                  \
        int32_t di = (newer);                                                                  \
        b->b[i] = bi;                                                                          \
        b->d[i] = di;                                                                          \
        sz += (di * bi) >> 15;                                                                 \
    } while (0)
    ZTAP(5, b->d[4]);
    ZTAP(4, b->d[3]);
    ZTAP(3, b->d[2]);
    ZTAP(2, b->d[1]);
    ZTAP(1, b->d[0]);
    ZTAP(0, 2 * dq);
#undef ZTAP

    /* FILTEP + PREDIC */
    sp = ((a1 * rr0) >> 15) + ((a2 * b->rr1) >> 15);
    b->rr2 = b->rr1;
    b->rr1 = rr0;
    b->a1 = a1;
    b->a2 = a2;
    b->pn2 = b->pn1;
    b->pn1 = pn0;
    b->sz = sz;
    b->s = sat16(sp + sz);
}

/* Zeroing goes through volatile stores so no compiler merges it into a memset call (the file has
 * to link freestanding, without libc). */
static void band_init(volatile ec_g722_band *b, int32_t det)
{
    int i;
    b->s = 0;
    b->sz = 0;
    b->rr1 = 0;
    b->rr2 = 0;
    b->a1 = 0;
    b->a2 = 0;
    b->pn1 = 0;
    b->pn2 = 0;
    for (i = 0; i < 6; i++) {
        b->d[i] = 0;
        b->b[i] = 0;
    }
    b->nb = 0;
    b->det = det;
}

static void line_init(volatile int16_t *line)
{
    int i;
    for (i = 0; i < 48; i++) {
        line[i] = 0;
    }
}

static int bits_for(int bitrate)
{
    return bitrate == 64000 ? 8 : (bitrate == 56000 ? 7 : (bitrate == 48000 ? 6 : 0));
}

size_t ec_g722_enc_state_size(void)
{
    return sizeof(ec_g722_enc);
}

int ec_g722_enc_init(ec_g722_enc *st, size_t st_size, int bitrate)
{
    int bits = bits_for(bitrate);
    if (st == NULL || bits == 0) {
        return EC_ERR_ARG;
    }
    if (st_size < sizeof(ec_g722_enc)) {
        return EC_ERR_SHORT_BUFFER;
    }
    st->bits_per_codeword = bits;
    st->qmf_pos = 0;
    band_init(&st->band[0], 32);
    band_init(&st->band[1], 8);
    line_init(st->qmf);
    st->magic = ENC_MAGIC;
    return EC_OK;
}

int ec_g722_encode(ec_g722_enc *st, const int16_t *pcm, size_t n_samples, uint8_t *out, size_t out_cap)
{
    size_t k, n;
    uint8_t mask;
    ec_g722_band *lo, *hi;
    if (st == NULL || pcm == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    if (st->magic != ENC_MAGIC) {
        return EC_ERR_STATE;
    }
    if ((n_samples & 1u) != 0 || n_samples / 2 > (size_t)INT_LIMIT) {
        return EC_ERR_ARG;
    }
    n = n_samples / 2;
    if (out_cap < n) {
        return EC_ERR_SHORT_BUFFER;
    }
    mask = (uint8_t)(0xffu << (8 - st->bits_per_codeword));
    lo = &st->band[0];
    hi = &st->band[1];
    for (k = 0; k < n; k++) {
        int32_t xl, xh, el, eh, wd, det, c, il, ih, ril;
        const int16_t *w = qmf_push(st->qmf, &st->qmf_pos, pcm[2 * k + 1], pcm[2 * k]);
        qmf_sum_diff(w, &xl, &xh);
        xl >>= 14;
        xh >>= 14;

        /* Lower band: SUBTRA, QUANTL, INVQAL. QUANTL finds how many decision levels
         * Q6(m) * DETL >> 12 are <= |EL| (one's complement for negative EL): first among every
         * fourth level, then among the three inside that group. */
        el = xl - lo->s;
        wd = el ^ -(int32_t)((uint32_t)el >> 31);
        det = lo->det;
        c = (((q6[3] * det) >> 12) <= wd) + (((q6[7] * det) >> 12) <= wd) +
            (((q6[11] * det) >> 12) <= wd) + (((q6[15] * det) >> 12) <= wd) +
            (((q6[19] * det) >> 12) <= wd) + (((q6[23] * det) >> 12) <= wd) +
            (((q6[27] * det) >> 12) <= wd);
        c *= 4;
        c += (((q6[c] * det) >> 12) <= wd) + (((q6[c + 1] * det) >> 12) <= wd) +
             (((q6[c + 2] * det) >> 12) <= wd);
        il = ilpn[c + (int32_t)(((uint32_t)el >> 31) << 5)];
        ril = il >> 2;
        scale_low(lo, ril);
        adapt(lo, (det * qm4[ril]) >> 15);

        /* Higher band: SUBTRA, QUANTH, INVQAH. */
        eh = xh - hi->s;
        det = hi->det;
        wd = eh ^ -(int32_t)((uint32_t)eh >> 31);
        ih = (wd < ((564 * det) >> 12)) + 2 * (int32_t)(eh >= 0);
        scale_high(hi, ih);
        adapt(hi, (det * qm2[ih]) >> 15);

        out[k] = (uint8_t)((ih << 6) | il) & mask;
    }
    return (int)n;
}

size_t ec_g722_dec_state_size(void)
{
    return sizeof(ec_g722_dec);
}

int ec_g722_dec_init(ec_g722_dec *st, size_t st_size, int bitrate)
{
    int bits = bits_for(bitrate);
    if (st == NULL || bits == 0) {
        return EC_ERR_ARG;
    }
    if (st_size < sizeof(ec_g722_dec)) {
        return EC_ERR_SHORT_BUFFER;
    }
    st->bits_per_codeword = bits;
    st->qmf_pos = 0;
    band_init(&st->band[0], 32);
    band_init(&st->band[1], 8);
    line_init(st->qmf);
    st->magic = DEC_MAGIC;
    return EC_OK;
}

int ec_g722_decode(ec_g722_dec *st, const uint8_t *data, size_t n_bytes, int16_t *out, size_t out_cap)
{
    size_t k;
    const int16_t *qtab;
    int shift;
    ec_g722_band *lo, *hi;
    if (st == NULL || data == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    if (st->magic != DEC_MAGIC) {
        return EC_ERR_STATE;
    }
    if (n_bytes > (size_t)INT_LIMIT / 2) {
        return EC_ERR_ARG;
    }
    if (out_cap / 2 < n_bytes) {
        return EC_ERR_SHORT_BUFFER;
    }
    /* INVQBL: mode 1 uses all six lower-band bits, mode 2 the top five, mode 3 the top four. */
    shift = 8 - st->bits_per_codeword;
    qtab = shift == 0 ? qm6 : (shift == 1 ? qm5 : qm4);
    lo = &st->band[0];
    hi = &st->band[1];
    for (k = 0; k < n_bytes; k++) {
        int32_t ilr = data[k] & 63, ih = data[k] >> 6, ril = ilr >> 2;
        int32_t det, rl, rh, e, o;
        const int16_t *w;


        det = lo->det;
        rl = clamp15(lo->s + ((det * qtab[ilr >> shift]) >> 15));
        scale_low(lo, ril);
        adapt(lo, (det * qm4[ril]) >> 15);

        det = hi->det;
        rh = clamp15(hi->s + ((det * qm2[ih]) >> 15));
        scale_high(hi, ih);
        adapt(hi, (det * qm2[ih]) >> 15);

        /* Receive QMF: xd = rl - rh feeds the even taps, xs = rl + rh the odd taps. */
        w = qmf_push(st->qmf, &st->qmf_pos, rl - rh, rl + rh);
        qmf_even_odd(w, &e, &o);
        out[2 * k] = (int16_t)sat16(e >> 11);
        out[2 * k + 1] = (int16_t)sat16(o >> 11);
    }
    return (int)(2 * n_bytes);
}
