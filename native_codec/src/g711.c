/* g711.c — ITU-T G.711 µ-law (§2) and A-law (§3) companding, computed (no 64 KiB tables).
 *
 * µ-law: the 14-bit magnitude plus the bias of 33 is split into a segment (position of the
 * leading one, 0..7) and a 4-bit mantissa; the code is inverted. A-law: the 13-bit magnitude is
 * split the same way without bias (segment 0 is linear) and the even bits are inverted (0x55).
 * Negative inputs use one's complement (~x), exactly as G.191's reference does. */
#include "ec_g711.h"

#define INT_LIMIT 0x7fffffff

/* Index of the highest set bit of v (v < 0x8000), 0 for v == 0. */
static int top_bit(unsigned v)
{
    int n = 0;
    if (v >= 0x100u) { v >>= 8; n += 8; }
    if (v >= 0x10u) { v >>= 4; n += 4; }
    if (v >= 0x4u) { v >>= 2; n += 2; }
    if (v >= 0x2u) { n += 1; }
    return n;
}

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
    seg = top_bit(mag) - 5; /* mag >= 33 so top bit >= 5 */
    return (uint8_t)(~(sign | ((unsigned)seg << 4) | ((mag >> (seg + 1)) & 0x0fu)) & 0xffu);
}

int16_t ec_g711_ulaw_to_linear(uint8_t code)
{
    unsigned c = (unsigned)(~code) & 0xffu;
    unsigned seg = (c >> 4) & 7u;
    int mag = (int)((((c & 0x0fu) << 3) + 0x84u) << seg) - 0x84;
    return (int16_t)((c & 0x80u) ? -mag : mag);
}

uint8_t ec_g711_alaw_from_linear(int16_t x)
{
    unsigned mag = x < 0 ? (unsigned)(~(int)x) >> 3 : (unsigned)x >> 3;
    unsigned sign = x < 0 ? 0x00u : 0x80u;
    unsigned code;
    if (mag < 32u) {
        code = mag >> 1;
    } else {
        int seg = top_bit(mag) - 4; /* 1..7 */
        code = ((unsigned)seg << 4) | ((mag >> seg) & 0x0fu);
    }
    return (uint8_t)((sign | code) ^ 0x55u);
}

int16_t ec_g711_alaw_to_linear(uint8_t code)
{
    unsigned c = (unsigned)code ^ 0x55u;
    unsigned seg = (c >> 4) & 7u;
    int mag = (int)(((c & 0x0fu) << 4) + 8u);
    if (seg != 0u) {
        mag = (mag + 0x100) << (seg - 1u);
    }
    return (int16_t)((c & 0x80u) ? mag : -mag);
}

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
    if (law == EC_G711_ULAW) {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_ulaw_from_linear(pcm[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_alaw_from_linear(pcm[i]);
        }
    }
    return (int)n;
}

int ec_g711_decode(int law, const uint8_t *data, size_t n, int16_t *out, size_t out_cap)
{
    size_t i;
    int err = check(law, data, n, out, out_cap);
    if (err != EC_OK) {
        return err;
    }
    if (law == EC_G711_ULAW) {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_ulaw_to_linear(data[i]);
        }
    } else {
        for (i = 0; i < n; i++) {
            out[i] = ec_g711_alaw_to_linear(data[i]);
        }
    }
    return (int)n;
}
