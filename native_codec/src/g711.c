/* g711.c — ITU-T G.711 µ-law (§2) and A-law (§3) companding.
 *
 * Encoding is computed: µ-law splits the 14-bit magnitude plus the bias of 33 into a segment
 * (position of the leading one) and a 4-bit mantissa, then inverts the code; A-law splits the
 * 13-bit magnitude the same way without bias (segment 0 is linear) and inverts the even bits
 * (0x55). Negative inputs use one's complement (~x), exactly as G.191's reference does. The
 * leading-one position comes from a 256-byte table. Decoding is one lookup in a 256-entry table
 * per law (the G.711 tables 1a/2a output values; 1 KB of flash in all).
 *
 * On hosts with SIMD (SSE2, NEON, wasm SIMD) the bulk loops use the same arithmetic written
 * without branches or lookups instead, which compilers vectorise (the host build uses clang with
 * -march=native); on Cortex-M the lookups take fewer instructions. Both give identical codes. */
#include "ec_g711.h"

#define INT_LIMIT 0x7fffffff

static const int16_t ulaw_to_linear[256] = {
    -32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956, -23932, -22908, -21884, -20860,
    -19836, -18812, -17788, -16764, -15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
    -11900, -11388, -10876, -10364,  -9852,  -9340,  -8828,  -8316,  -7932,  -7676,  -7420,  -7164,
     -6908,  -6652,  -6396,  -6140,  -5884,  -5628,  -5372,  -5116,  -4860,  -4604,  -4348,  -4092,
     -3900,  -3772,  -3644,  -3516,  -3388,  -3260,  -3132,  -3004,  -2876,  -2748,  -2620,  -2492,
     -2364,  -2236,  -2108,  -1980,  -1884,  -1820,  -1756,  -1692,  -1628,  -1564,  -1500,  -1436,
     -1372,  -1308,  -1244,  -1180,  -1116,  -1052,   -988,   -924,   -876,   -844,   -812,   -780,
      -748,   -716,   -684,   -652,   -620,   -588,   -556,   -524,   -492,   -460,   -428,   -396,
      -372,   -356,   -340,   -324,   -308,   -292,   -276,   -260,   -244,   -228,   -212,   -196,
      -180,   -164,   -148,   -132,   -120,   -112,   -104,    -96,    -88,    -80,    -72,    -64,
       -56,    -48,    -40,    -32,    -24,    -16,     -8,      0,  32124,  31100,  30076,  29052,
     28028,  27004,  25980,  24956,  23932,  22908,  21884,  20860,  19836,  18812,  17788,  16764,
     15996,  15484,  14972,  14460,  13948,  13436,  12924,  12412,  11900,  11388,  10876,  10364,
      9852,   9340,   8828,   8316,   7932,   7676,   7420,   7164,   6908,   6652,   6396,   6140,
      5884,   5628,   5372,   5116,   4860,   4604,   4348,   4092,   3900,   3772,   3644,   3516,
      3388,   3260,   3132,   3004,   2876,   2748,   2620,   2492,   2364,   2236,   2108,   1980,
      1884,   1820,   1756,   1692,   1628,   1564,   1500,   1436,   1372,   1308,   1244,   1180,
      1116,   1052,    988,    924,    876,    844,    812,    780,    748,    716,    684,    652,
       620,    588,    556,    524,    492,    460,    428,    396,    372,    356,    340,    324,
       308,    292,    276,    260,    244,    228,    212,    196,    180,    164,    148,    132,
       120,    112,    104,     96,     88,     80,     72,     64,     56,     48,     40,     32,
        24,     16,      8,      0,
};

static const int16_t alaw_to_linear[256] = {
     -5504,  -5248,  -6016,  -5760,  -4480,  -4224,  -4992,  -4736,  -7552,  -7296,  -8064,  -7808,
     -6528,  -6272,  -7040,  -6784,  -2752,  -2624,  -3008,  -2880,  -2240,  -2112,  -2496,  -2368,
     -3776,  -3648,  -4032,  -3904,  -3264,  -3136,  -3520,  -3392, -22016, -20992, -24064, -23040,
    -17920, -16896, -19968, -18944, -30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
    -11008, -10496, -12032, -11520,  -8960,  -8448,  -9984,  -9472, -15104, -14592, -16128, -15616,
    -13056, -12544, -14080, -13568,   -344,   -328,   -376,   -360,   -280,   -264,   -312,   -296,
      -472,   -456,   -504,   -488,   -408,   -392,   -440,   -424,    -88,    -72,   -120,   -104,
       -24,     -8,    -56,    -40,   -216,   -200,   -248,   -232,   -152,   -136,   -184,   -168,
     -1376,  -1312,  -1504,  -1440,  -1120,  -1056,  -1248,  -1184,  -1888,  -1824,  -2016,  -1952,
     -1632,  -1568,  -1760,  -1696,   -688,   -656,   -752,   -720,   -560,   -528,   -624,   -592,
      -944,   -912,  -1008,   -976,   -816,   -784,   -880,   -848,   5504,   5248,   6016,   5760,
      4480,   4224,   4992,   4736,   7552,   7296,   8064,   7808,   6528,   6272,   7040,   6784,
      2752,   2624,   3008,   2880,   2240,   2112,   2496,   2368,   3776,   3648,   4032,   3904,
      3264,   3136,   3520,   3392,  22016,  20992,  24064,  23040,  17920,  16896,  19968,  18944,
     30208,  29184,  32256,  31232,  26112,  25088,  28160,  27136,  11008,  10496,  12032,  11520,
      8960,   8448,   9984,   9472,  15104,  14592,  16128,  15616,  13056,  12544,  14080,  13568,
       344,    328,    376,    360,    280,    264,    312,    296,    472,    456,    504,    488,
       408,    392,    440,    424,     88,     72,    120,    104,     24,      8,     56,     40,
       216,    200,    248,    232,    152,    136,    184,    168,   1376,   1312,   1504,   1440,
      1120,   1056,   1248,   1184,   1888,   1824,   2016,   1952,   1632,   1568,   1760,   1696,
       688,    656,    752,    720,    560,    528,    624,    592,    944,    912,   1008,    976,
       816,    784,    880,    848,
};

static const uint8_t top_bit_of[256] = {
    0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
};

uint8_t ec_g711_ulaw_from_linear(int16_t x)
{
    /* one's complement magnitude of the 14-bit sample, plus the bias */
    unsigned mag = x < 0 ? (unsigned)(~(int)x) >> 2 : (unsigned)x >> 2;
    unsigned sign = x < 0 ? 0x80u : 0x00u;
    int seg;
    mag += 33u;
    if (mag > 0x1fffu) {
        mag = 0x1fffu;
    }
    seg = top_bit_of[mag >> 5]; /* 33 <= mag <= 0x1fff: the leading one is bit seg + 5 */
    return (uint8_t)(~(sign | ((unsigned)seg << 4) | ((mag >> (seg + 1)) & 0x0fu)) & 0xffu);
}

int16_t ec_g711_ulaw_to_linear(uint8_t code)
{
    return ulaw_to_linear[code];
}

uint8_t ec_g711_alaw_from_linear(int16_t x)
{
    unsigned mag = x < 0 ? (unsigned)(~(int)x) >> 3 : (unsigned)x >> 3;
    unsigned sign = x < 0 ? 0x00u : 0x80u;
    unsigned code;
    if (mag < 32u) {
        code = mag >> 1;
    } else {
        int seg = top_bit_of[mag >> 5] + 1; /* 32 <= mag < 4096: leading one at bit seg + 4 */
        code = ((unsigned)seg << 4) | ((mag >> seg) & 0x0fu);
    }
    return (uint8_t)((sign | code) ^ 0x55u);
}

int16_t ec_g711_alaw_to_linear(uint8_t code)
{
    return alaw_to_linear[code];
}

#if defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__)
#define G711_VECTOR 1

/* Segment of a magnitude by comparisons: the number of thresholds it reaches. */
static uint32_t segment(uint32_t mag, uint32_t first)
{
    return (uint32_t)(mag >= first) + (mag >= first * 2u) + (mag >= first * 4u) + (mag >= first * 8u) +
           (mag >= first * 16u) + (mag >= first * 32u) + (mag >= first * 64u);
}

static uint8_t ulaw_enc_v(int16_t x)
{
    int32_t v = x;
    uint32_t neg = (uint32_t)(v < 0);
    uint32_t mag = ((uint32_t)(v ^ -(int32_t)neg) >> 2) + 33u; /* ~x for negatives */
    uint32_t seg;
    mag = mag > 0x1fffu ? 0x1fffu : mag;
    seg = segment(mag, 64u);
    return (uint8_t)(~((neg << 7) | (seg << 4) | ((mag >> (seg + 1u)) & 0x0fu)) & 0xffu);
}

static uint8_t alaw_enc_v(int16_t x)
{
    int32_t v = x;
    uint32_t neg = (uint32_t)(v < 0);
    uint32_t mag = (uint32_t)(v ^ -(int32_t)neg) >> 3;
    uint32_t seg = segment(mag, 32u);
    uint32_t shift = seg > 0u ? seg : 1u;
    uint32_t code = (seg << 4) | ((mag >> shift) & 0x0fu);
    return (uint8_t)((((neg ^ 1u) << 7) | code) ^ 0x55u);
}

static int16_t ulaw_dec_v(uint8_t code)
{
    uint32_t c = (uint32_t)(uint8_t)~code;
    uint32_t seg = (c >> 4) & 7u;
    int32_t mag = (int32_t)((((c & 0x0fu) << 3) + 0x84u) << seg) - 0x84;
    int32_t neg = -(int32_t)(c >> 7); /* 0 or -1 */
    return (int16_t)((mag ^ neg) - neg);
}

static int16_t alaw_dec_v(uint8_t code)
{
    uint32_t c = (uint32_t)code ^ 0x55u;
    uint32_t seg = (c >> 4) & 7u;
    uint32_t base = ((c & 0x0fu) << 4) + 8u;
    int32_t mag = (int32_t)(seg != 0u ? (base + 0x100u) << (seg - 1u) : base);
    int32_t neg = (int32_t)(c >> 7) - 1; /* sign bit clear: negative */
    return (int16_t)((mag ^ neg) - neg);
}
#else
#define G711_VECTOR 0
#endif

static int check(int law, const void *in, size_t n, const void *out, size_t out_cap)
{
    if ((law != EC_G711_ULAW && law != EC_G711_ALAW) || (n > 0 && (in == NULL || out == NULL))) {
        return EC_ERR_ARG;
    }
    if (n > (size_t)INT_LIMIT) {
        return EC_ERR_ARG;
    }
    if (out_cap < n) {
        return EC_ERR_SHORT_BUFFER;
    }
    return EC_OK;
}

int ec_g711_encode(int law, const int16_t *pcm, size_t n, uint8_t *out, size_t out_cap)
{
    size_t i;
    int err = check(law, pcm, n, out, out_cap);
    if (err != EC_OK) {
        return err;
    }
#if G711_VECTOR
    if (law == EC_G711_ULAW) {
        for (i = 0; i < n; i++) {
            out[i] = ulaw_enc_v(pcm[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            out[i] = alaw_enc_v(pcm[i]);
        }
    }
#else
    if (law == EC_G711_ULAW) {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_ulaw_from_linear(pcm[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_alaw_from_linear(pcm[i]);
        }
    }
#endif
    return (int)n;
}

int ec_g711_decode(int law, const uint8_t *data, size_t n, int16_t *out, size_t out_cap)
{
    size_t i;
    int err = check(law, data, n, out, out_cap);
    if (err != EC_OK) {
        return err;
    }
#if G711_VECTOR
    if (law == EC_G711_ULAW) {
        for (i = 0; i < n; i++) {
            out[i] = ulaw_dec_v(data[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            out[i] = alaw_dec_v(data[i]);
        }
    }
#else
    {
        const int16_t *table = law == EC_G711_ULAW ? ulaw_to_linear : alaw_to_linear;
        for (i = 0; i < n; i++) {
            out[i] = table[data[i]];
        }
    }
#endif
    return (int)n;
}
