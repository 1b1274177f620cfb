/* g722.c — ITU-T G.722 7 kHz audio codec (SB-ADPCM within 64 kbit/s), fixed point.
 *
 * Implements the transmit and receive QMFs (G.722 §3.1, §4.3, coefficients of §6.1), the lower
 * sub-band 6-bit ADPCM encoder whose 4-bit core drives the predictor feedback, the higher
 * sub-band 2-bit ADPCM (§3.2-§3.6), the decoder in modes 1, 2 and 3 (§4.1-§4.2), and the
 * computational details of the blocks of §6.2: QUANTL/QUANTH, INVQAL/INVQBL/INVQAH,
 * LOGSCL/LOGSCH, SCALEL/SCALEH, RECONS, PARREC, UPPOL1, UPPOL2, UPZERO, DELAYA, FILTEP, FILTEZ,
 * PREDIC. PCM is 16-bit at both ends; the sub-band signals are on the 15-bit scale of §6.
 *
 * Arithmetic: 32-bit integers; the 16-bit limits of §6 are applied where they can bite (RECONS,
 * PREDIC, the decoder outputs). The predictor sums (FILTEP + FILTEZ) are saturated once, at PREDIC,
 * and the transmit QMF outputs are not clipped: bit-exact with the ITU-T test vectors and with
 * FFmpeg's g722 (which behaves the same way) also for full-scale input. Right shifts of negative
 * values are assumed arithmetic (GCC and Clang on every target). */
#include "ec_g722.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#define ZERO_SSE2 1 /* the six zero-predictor taps as 16-bit SIMD lanes */
#endif

#if defined(__GNUC__)
#define EC_INLINE static inline __attribute__((always_inline))
#if defined(ZERO_SSE2)
#define ADAPT_FN static inline __attribute__((always_inline))
#else
/* On register-poor targets (Cortex-M) a call is cheaper than the spills of inlining it. */
#define ADAPT_FN static __attribute__((noinline))
#endif
#else
#define EC_INLINE static inline
#define ADAPT_FN static
#endif

#define INT_LIMIT 0x7fffffff
#define ENC_MAGIC 0x47373245u /* "G72E" */
#define DEC_MAGIC 0x47373244u /* "G72D" */

/* QUANTL decision levels Q6(1)..Q6(29), padded to 31 entries with Q6(29). */
static const int16_t q6[31] = {35,   72,   110,  150,  190,  233,  276,  323,  370,  422,  473,
                               530,  587,  650,  714,  786,  858,  940,  1023, 1121, 1219, 1339,
                               1458, 1612, 1765, 1980, 2195, 2557, 2919, 2919, 2919};

/* QUANTL output, indexed by c + 32 * (EL < 0), where c = number of decision levels <= |EL| and
 * mil = min(c + 1, 30): ILP(mil) for c in [0..31], ILN(mil) in [32..63]. */
static const uint8_t il_code[64] = {61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46,
                                    45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 32, 32,
                                    63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18,
                                    17, 16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  4,  4};
/* The same index mapped straight to QM4(IL >> 2) and WL(IL >> 2), saving the encoder two
 * dependent table look-ups. */
static const int16_t il_qm4[64] = {
    0,      0,      1200,   1200,   1200,   1200,   2584,   2584,   2584,   2584,   4240,
    4240,   4240,   4240,   6288,   6288,   6288,   6288,   8968,   8968,   8968,   8968,
    12896,  12896,  12896,  12896,  20456,  20456,  20456,  20456,  20456,  20456,  0,
    0,      -1200,  -1200,  -1200,  -1200,  -2584,  -2584,  -2584,  -2584,  -4240,  -4240,
    -4240,  -4240,  -6288,  -6288,  -6288,  -6288,  -8968,  -8968,  -8968,  -8968,  -12896,
    -12896, -12896, -12896, -20456, -20456, -20456, -20456, -20456, -20456};
static const int16_t il_wl[64] = {
    -60, -60, -30, -30, -30, -30, 58,   58,   58,   58,   172,  172,  172,  172,  334,  334,
    334, 334, 538, 538, 538, 538, 1198, 1198, 1198, 1198, 3042, 3042, 3042, 3042, 3042, 3042,
    -60, -60, -30, -30, -30, -30, 58,   58,   58,   58,   172,  172,  172,  172,  334,  334,
    334, 334, 538, 538, 538, 538, 1198, 1198, 1198, 1198, 3042, 3042, 3042, 3042, 3042, 3042};

/* Inverse quantiser outputs, in units of 2^-15 of the scale factor: QM4 (INVQAL and mode 3),
 * QM5 (mode 2), QM6 (mode 1), indexed by the top 4, 5 or 6 lower-band code bits; QM2 (INVQAH). */
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

/* LOGSCL: WL indexed by the 4-bit code RIL (the RIL -> table index map folded in); LOGSCH: WH(IH). */
static const int16_t wl4[16] = {-60, 3042, 1198, 538, 334, 172, 58, -30,
                                3042, 1198, 538, 334, 172, 58, -30, -60};
static const int16_t wh2[4] = {798, -214, 798, -214};

/* SCALEL/SCALEH antilog table ILB: round(2048 * 2^(i/32)). */
static const int16_t ilb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
                                2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228,
                                3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008};

EC_INLINE int32_t sat16(int32_t x)
{
    return x > 32767 ? 32767 : (x < -32768 ? -32768 : x);
}

EC_INLINE int32_t clamp15(int32_t x)
{
    return x > 16383 ? 16383 : (x < -16384 ? -16384 : x);
}

/* ---- QMF ---------------------------------------------------------------------------------------
 * The filter runs over a newest-first window w of 24 values. With E = sum h(2i) w(2i) and
 * O = sum h(2i+1) w(2i+1), the transmit side needs E + O (lower band) and E - O (higher band),
 * the receive side E and O. Where the compiler has 16-bit SIMD multiply-adds (pmaddwd and the
 * like) they come from two full 24-term dot products, with h and with (-1)^k h; elsewhere from
 * the two 12-term halves with the coefficients as immediates. Same integers either way (every
 * partial sum fits easily in 32 bits). */
#if defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__)
#define QMF_DOT24 1
/* QMF coefficients h0..h23, scaled by 2^13 (symmetric), and (-1)^k h(k). */
static const int16_t qmf_h[24] = {3,    -11, -11, 53,   12,   -156, 32,   362, -210, -805, 951, 3876,
                                  3876, 951, -805, -210, 362, 32,   -156, 12,  53,   -11,  -11, 3};
static const int16_t qmf_halt[24] = {3,    11,   -11, -53, 12,  156, 32,   -362, -210, 805, 951, -3876,
                                     3876, -951, -805, 210, 362, -32, -156, -12,  53,   11,  -11, -3};

EC_INLINE void qmf_dot(const int16_t *w, int32_t *sum, int32_t *diff)
{
    int32_t a = 0, b = 0;
    int i;
    for (i = 0; i < 24; i++) {
        a += (int32_t)qmf_h[i] * w[i];
        b += (int32_t)qmf_halt[i] * w[i];
    }
    *sum = a;  /* E + O */
    *diff = b; /* E - O */
}
#else
/* The same coefficients h0..h23 (scaled by 2^13) as immediates. */
EC_INLINE int32_t qmf_even(const int16_t *w)
{
    return 3 * w[0] - 11 * w[2] + 12 * w[4] + 32 * w[6] - 210 * w[8] + 951 * w[10] + 3876 * w[12] -
           805 * w[14] + 362 * w[16] - 156 * w[18] + 53 * w[20] - 11 * w[22];
}

EC_INLINE int32_t qmf_odd(const int16_t *w)
{
    return -11 * w[1] + 53 * w[3] - 156 * w[5] + 362 * w[7] - 805 * w[9] + 3876 * w[11] +
           951 * w[13] - 210 * w[15] + 32 * w[17] + 12 * w[19] - 11 * w[21] + 3 * w[23];
}
#endif

/* Stores a pair (newest first) in the doubled delay line (each value at p and p + 24, so the
 * window is always contiguous and nothing is shifted) and returns the window. */
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

/* ---- ADPCM blocks ------------------------------------------------------------------------------ */

/* LOGSCL + SCALEL: NBL' = NBL * 127/128 + WL, limited to 0..18432; DETL from the ILB antilog. */
EC_INLINE void scale_low(ec_g722_band *b, int32_t wl)
{
    int32_t nb = ((b->nb * 127) >> 7) + wl;
    nb = nb < 0 ? 0 : (nb > 18432 ? 18432 : nb);
    b->nb = nb;
    /* (ILB >> (8 - e)) << 2 for e = NBL >> 11 in 0..9, written so the shift is never negative. */
    b->det = (((int32_t)ilb[(nb >> 6) & 31] << 1) >> (9 - (nb >> 11))) << 2;
}

/* LOGSCH + SCALEH: NBH limited to 0..22528. */
EC_INLINE void scale_high(ec_g722_band *b, int32_t ih)
{
    int32_t nb = ((b->nb * 127) >> 7) + wh2[ih];
    nb = nb < 0 ? 0 : (nb > 22528 ? 22528 : nb);
    b->nb = nb;
    b->det = (((int32_t)ilb[(nb >> 6) & 31] << 1) >> (11 - (nb >> 11))) << 2;
}

/* RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ and PREDIC for one band, given
 * its quantised difference signal dq (DLT or DH). Leaves the next prediction in b->s. Sign tests
 * use arithmetic instead of branches: their outcomes are unpredictable. */
ADAPT_FN void adapt(ec_g722_band *b, int32_t dq)
{
    int32_t sz = 0, sp, rr0, a1, a2, wd, lim, m, g;
    int32_t pn0 = (int32_t)((uint32_t)(dq + b->sz) >> 31); /* PARREC: PLT = DLT + SZL < 0 */
    int32_t x1 = pn0 ^ b->pn1;                             /* 1 when sgn PLT != sgn PLT1 */
    int32_t x2 = pn0 ^ b->pn2;                             /* 1 when sgn PLT != sgn PLT2 */

    /* RECONS: RLT = SL + DLT, kept doubled for FILTEP (2 * sat16(x), saturated, == sat16(2x)). */
    rr0 = sat16(2 * (b->s + dq));

    /* UPPOL2: APL2 = (-/+ sat16(4 AL1)) >> 7 +/- 128 + AL2 * 127/128, limited to +-12288. The
     * negated, re-saturated sat16(4 AL1) >> 7 equals that of 4 * AL1 clamped to +-8191 first,
     * where the negation cannot overflow. */
    a1 = b->a1;
    wd = 4 * (a1 > 8191 ? 8191 : (a1 < -8191 ? -8191 : a1));
    m = x1 - 1; /* -1: the signs agree, negate */
    wd = (wd ^ m) - m;
    a2 = (wd >> 7) + 128 - 256 * x2 + ((b->a2 * 127) >> 7);
    a2 = a2 > 12288 ? 12288 : (a2 < -12288 ? -12288 : a2);
    /* UPPOL1: APL1 = AL1 * 255/256 +/- 192, limited to +-(15360 - APL2). */
    a1 = ((a1 * 255) >> 8) + 192 - 384 * x1;
    lim = 15360 - a2;
    a1 = a1 > lim ? lim : (a1 < -lim ? -lim : a1);

    /* UPZERO: BLi' = BLi * 255/256 + (DLT != 0) * (sgn DLT == sgn DLTi ? 128 : -128); DELAYA;
     * FILTEZ: SZL = sum (2 DLTi * BLi') >> 15, over d[] = 2 DLTi. */
    g = (int32_t)(dq != 0) * 128;
#ifdef ZERO_SSE2
    {
        /* Six taps in 16-bit lanes; lanes 6 and 7 stay zero. BLi * 255 >> 8 is computed as
         * BLi - ceil(BLi / 256) = BLi - (BLi >> 8) - 1 - (low byte of BLi == 0 ? -1 : 0). The
         * products are widened to 32 bits and shifted one by one, as FILTEZ requires. */
        const __m128i six = _mm_set_epi16(0, 0, -1, -1, -1, -1, -1, -1);
        __m128i dv = _mm_loadu_si128((const __m128i *)(const void *)b->d);
        __m128i bv = _mm_loadu_si128((const __m128i *)(const void *)b->b);
        __m128i t = _mm_srai_epi16(_mm_xor_si128(dv, _mm_set1_epi16((int16_t)dq)), 15);
        __m128i gv = _mm_and_si128(_mm_set1_epi16((int16_t)g), six);
        __m128i adj = _mm_sub_epi16(_mm_xor_si128(gv, t), t);
        __m128i zl = _mm_cmpeq_epi16(_mm_and_si128(bv, _mm_set1_epi16(255)), _mm_setzero_si128());
        __m128i lo, hi, p;
        bv = _mm_sub_epi16(_mm_sub_epi16(bv, _mm_srai_epi16(bv, 8)), zl);
        bv = _mm_and_si128(_mm_add_epi16(bv, _mm_add_epi16(adj, _mm_set1_epi16(-1))), six);
        dv = _mm_and_si128(_mm_insert_epi16(_mm_slli_si128(dv, 2), 2 * dq, 0), six);
        _mm_storeu_si128((__m128i *)(void *)b->b, bv);
        _mm_storeu_si128((__m128i *)(void *)b->d, dv);
        lo = _mm_mullo_epi16(dv, bv);
        hi = _mm_mulhi_epi16(dv, bv);
        p = _mm_add_epi32(_mm_srai_epi32(_mm_unpacklo_epi16(lo, hi), 15),
                          _mm_srai_epi32(_mm_unpackhi_epi16(lo, hi), 15));
        p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4e));
        p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xb1));
        sz = _mm_cvtsi128_si32(p);
    }
#else
#define ZTAP(i, newer)                                                                         \
    do {                                                                                       \
        int32_t t = (b->d[i] ^ dq) >> 31; /* -1 when the signs differ */                      \
        int32_t bi = ((b->b[i] * 255) >> 8) + ((g ^ t) - t);                                  \
        int32_t di = (newer);                                                                  \
        b->b[i] = (int16_t)bi;                                                                 \
        b->d[i] = (int16_t)di;                                                                 \
        sz += (di * bi) >> 15;                                                                 \
    } while (0)
    ZTAP(5, b->d[4]);
    ZTAP(4, b->d[3]);
    ZTAP(3, b->d[2]);
    ZTAP(2, b->d[1]);
    ZTAP(1, b->d[0]);
    ZTAP(0, 2 * dq);
#undef ZTAP
#endif

    /* FILTEP: SPL = (AL1 * 2 RLT1) >> 15 + (AL2 * 2 RLT2) >> 15; PREDIC: SL = SPL + SZL. */
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

/* Field-by-field copy of a band's state, so a coding loop can work on a local copy the compiler
 * keeps in registers (a struct assignment might become a memcpy call, unavailable freestanding). */
EC_INLINE void band_copy(ec_g722_band *restrict to, const ec_g722_band *restrict from)
{
    to->s = from->s;
    to->sz = from->sz;
    to->rr1 = from->rr1;
    to->rr2 = from->rr2;
    to->a1 = from->a1;
    to->a2 = from->a2;
    to->pn1 = from->pn1;
    to->pn2 = from->pn2;
    /* spelled out: a loop here is turned into a memcpy call by some compilers */
    to->d[0] = from->d[0];
    to->d[1] = from->d[1];
    to->d[2] = from->d[2];
    to->d[3] = from->d[3];
    to->d[4] = from->d[4];
    to->d[5] = from->d[5];
    to->d[6] = from->d[6];
    to->d[7] = from->d[7];
    to->b[0] = from->b[0];
    to->b[1] = from->b[1];
    to->b[2] = from->b[2];
    to->b[3] = from->b[3];
    to->b[4] = from->b[4];
    to->b[5] = from->b[5];
    to->b[6] = from->b[6];
    to->b[7] = from->b[7];
    to->nb = from->nb;
    to->det = from->det;
}

/* Zeroing goes through volatile stores so that no compiler merges it into a memset call. */
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
    for (i = 0; i < 8; i++) {
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

/* The magic, plus the two fields that index memory or size a shift, so that a state that was never
 * initialised (or was overwritten) cannot make the coder write out of bounds. */
static int state_ok(uint32_t magic, uint32_t want, int32_t bits, int32_t pos)
{
    return magic == want && bits >= 6 && bits <= 8 && pos >= 0 && pos <= 22 && (pos & 1) == 0;
}

static int bits_for(int bitrate)
{
    return bitrate == 64000 ? 8 : (bitrate == 56000 ? 7 : (bitrate == 48000 ? 6 : 0));
}

/* ---- Encoder ----------------------------------------------------------------------------------- */

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
    band_init(&st->band[0], 32); /* DETL = 32, DETH = 8 at reset */
    band_init(&st->band[1], 8);
    line_init(st->qmf);
    st->magic = ENC_MAGIC;
    return EC_OK;
}

static void encode_run(ec_g722_enc *restrict st, const int16_t *restrict pcm, uint8_t *restrict out,
                       size_t n, uint32_t mask)
{
    size_t k;
    int32_t pos = st->qmf_pos;
    ec_g722_band lb, hb, *lo = &lb, *hi = &hb;
    band_copy(lo, &st->band[0]);
    band_copy(hi, &st->band[1]);
    for (k = 0; k < n; k++) {
        int32_t xl, xh, el, eh, wd, det, deth, c, q, ih;
        /* Transmit QMF: the later sample of the pair is the newest. */
        const int16_t *w = qmf_push(st->qmf, &pos, pcm[2 * k + 1], pcm[2 * k]);
#ifdef QMF_DOT24
        qmf_dot(w, &xl, &xh);
#else
        int32_t e = qmf_even(w), o = qmf_odd(w);
        xl = e + o;
        xh = e - o;
#endif
        xl >>= 14;
        xh >>= 14;

        /* Lower band. SUBTRA; QUANTL: c = how many decision levels Q6(m) * DETL >> 12 are <= |EL|
         * (one's complement for a negative EL), counted among every fourth level first and then
         * among the three inside that group (short dependency chain, no branches). */
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
        q = c + (int32_t)(((uint32_t)el >> 31) << 5);

        /* Higher band. SUBTRA; QUANTH: IH = 0/1 (EH < 0, large/small), 2/3 (EH >= 0). */
        eh = xh - hi->s;
        wd = eh ^ -(int32_t)((uint32_t)eh >> 31);
        deth = hi->det;
        ih = (wd < ((564 * deth) >> 12)) + 2 * (int32_t)(eh >= 0);

        /* INVQAL / INVQAH, the scale factors and the predictors. */
        scale_low(lo, il_wl[q]);
        scale_high(hi, ih);
        adapt(lo, (det * il_qm4[q]) >> 15);
        adapt(hi, (deth * qm2[ih]) >> 15);

        out[k] = (uint8_t)((((uint32_t)ih << 6) | il_code[q]) & mask);
    }
    band_copy(&st->band[0], lo);
    band_copy(&st->band[1], hi);
    st->qmf_pos = pos;
}

int ec_g722_encode(ec_g722_enc *st, const int16_t *pcm, size_t n_samples, uint8_t *out, size_t out_cap)
{
    size_t n;
    if (st == NULL || pcm == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    if (!state_ok(st->magic, ENC_MAGIC, st->bits_per_codeword, st->qmf_pos)) {
        return EC_ERR_STATE;
    }
    if ((n_samples & 1u) != 0 || n_samples / 2 > (size_t)INT_LIMIT) {
        return EC_ERR_ARG;
    }
    n = n_samples / 2;
    if (out_cap < n) {
        return EC_ERR_SHORT_BUFFER;
    }
    /* At 56 or 48 kbit/s the lower-band bits a mode 2 or 3 decoder ignores are cleared. */
    encode_run(st, pcm, out, n, 0xffu << (8 - st->bits_per_codeword));
    return (int)n;
}

/* ---- Decoder ----------------------------------------------------------------------------------- */

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

int ec_g722_dec_set_bitrate(ec_g722_dec *st, int bitrate)
{
    int bits = bits_for(bitrate);
    if (st == NULL || bits == 0) {
        return EC_ERR_ARG;
    }
    if (!state_ok(st->magic, DEC_MAGIC, st->bits_per_codeword, st->qmf_pos)) {
        return EC_ERR_STATE;
    }
    st->bits_per_codeword = bits;
    return EC_OK;
}

static void decode_run(ec_g722_dec *restrict st, const uint8_t *restrict data, int16_t *restrict out,
                       size_t n)
{
    size_t k;
    int32_t pos = st->qmf_pos;
    /* INVQBL: mode 1 uses all six lower-band bits, mode 2 the top five, mode 3 the top four. */
    int shift = 8 - st->bits_per_codeword;
    const int16_t *qtab = shift == 0 ? qm6 : (shift == 1 ? qm5 : qm4);
    ec_g722_band lb, hb, *lo = &lb, *hi = &hb;
    band_copy(lo, &st->band[0]);
    band_copy(hi, &st->band[1]);
    for (k = 0; k < n; k++) {
        int32_t ilr = data[k] & 63, ril = ilr >> 2, ih = data[k] >> 6;
        int32_t det = lo->det, deth = hi->det, dh = (deth * qm2[ih]) >> 15;
        int32_t rl = clamp15(lo->s + ((det * qtab[ilr >> shift]) >> 15));
        int32_t rh = clamp15(hi->s + dh);
        int32_t e, o;
        const int16_t *w;

        scale_low(lo, wl4[ril]);
        scale_high(hi, ih);
        adapt(lo, (det * qm4[ril]) >> 15); /* the predictor always follows the 4-bit core */
        adapt(hi, dh);

        /* Receive QMF: xd = RL - RH feeds the even taps, xs = RL + RH the odd ones. */
        w = qmf_push(st->qmf, &pos, rl - rh, rl + rh);
#ifdef QMF_DOT24
        {
            int32_t sum, diff;
            qmf_dot(w, &sum, &diff);
            e = (sum + diff) >> 1; /* exact: sum + diff = 2E, sum - diff = 2O */
            o = (sum - diff) >> 1;
        }
#else
        e = qmf_even(w);
        o = qmf_odd(w);
#endif
        out[2 * k] = (int16_t)sat16(e >> 11);
        out[2 * k + 1] = (int16_t)sat16(o >> 11);
    }
    band_copy(&st->band[0], lo);
    band_copy(&st->band[1], hi);
    st->qmf_pos = pos;
}

int ec_g722_decode(ec_g722_dec *st, const uint8_t *data, size_t n_bytes, int16_t *out, size_t out_cap)
{
    if (st == NULL || data == NULL || out == NULL) {
        return EC_ERR_ARG;
    }
    if (!state_ok(st->magic, DEC_MAGIC, st->bits_per_codeword, st->qmf_pos)) {
        return EC_ERR_STATE;
    }
    if (n_bytes > (size_t)INT_LIMIT / 2) {
        return EC_ERR_ARG;
    }
    if (out_cap / 2 < n_bytes) {
        return EC_ERR_SHORT_BUFFER;
    }
    decode_run(st, data, out, n_bytes);
    return (int)(2 * n_bytes);
}
