/* adpcm.c — IMA/DVI ADPCM (IMA Recommended Practices, 1992, the 4-bit ADPCM algorithm), with the
 * DVI4 RTP payload of RFC 3551 §4.5.1 and the Microsoft WAV IMA ADPCM block layout.
 *
 * The quantiser is the reference's successive approximation: the difference is compared with
 * step, step/2, step/4 in turn, and the reconstruction adds step>>3 plus the matching shifted
 * steps, so encoder and decoder track each other exactly (as Python's audioop does). */
#include "ec_adpcm.h"

#define INT_LIMIT 0x7fffffff

static const int16_t step_table[EC_ADPCM_MAX_INDEX + 1] = {
    7,     8,     9,     10,    11,    12,    13,    14,    16,    17,    19,    21,    23,
    25,    28,    31,    34,    37,    41,    45,    50,    55,    60,    66,    73,    80,
    88,    97,    107,   118,   130,   143,   157,   173,   190,   209,   230,   253,   279,
    307,   337,   371,   408,   449,   494,   544,   598,   658,   724,   796,   876,   963,
    1060,  1166,  1282,  1411,  1552,  1707,  1878,  2066,  2272,  2499,  2749,  3024,  3327,
    3660,  4026,  4428,  4871,  5358,  5894,  6484,  7132,  7845,  8630,  9493,  10442, 11487,
    12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767};

static const int8_t index_table[8] = {-1, -1, -1, -1, 2, 4, 6, 8};

static int32_t clamp16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

static int32_t next_index(int32_t index, unsigned nibble)
{
    index += index_table[nibble & 7u];
    return index < 0 ? 0 : (index > EC_ADPCM_MAX_INDEX ? EC_ADPCM_MAX_INDEX : index);
}

static int state_ok(const ec_adpcm *st)
{
    return st != NULL && st->index >= 0 && st->index <= EC_ADPCM_MAX_INDEX && st->predictor >= -32768 &&
           st->predictor <= 32767;
}

size_t ec_adpcm_state_size(void)
{
    return sizeof(ec_adpcm);
}

int ec_adpcm_init(ec_adpcm *st, size_t st_size)
{
    if (st == NULL) {
        return EC_ERR_ARG;
    }
    if (st_size < sizeof(ec_adpcm)) {
        return EC_ERR_SHORT_BUFFER;
    }
    st->predictor = 0;
    st->index = 0;
    return EC_OK;
}

unsigned ec_adpcm_encode_sample(ec_adpcm *st, int16_t x)
{
    int32_t step = step_table[st->index];
    int32_t diff = (int32_t)x - st->predictor;
    int32_t vpdiff = step >> 3;
    unsigned nibble = 0;
    if (diff < 0) {
        nibble = 8u;
        diff = -diff;
    }
    if (diff >= step) {
        nibble |= 4u;
        diff -= step;
        vpdiff += step;
    }
    step >>= 1;
    if (diff >= step) {
        nibble |= 2u;
        diff -= step;
        vpdiff += step;
    }
    step >>= 1;
    if (diff >= step) {
        nibble |= 1u;
        vpdiff += step;
    }
    st->predictor = clamp16((nibble & 8u) ? st->predictor - vpdiff : st->predictor + vpdiff);
    st->index = next_index(st->index, nibble);
    return nibble;
}

int16_t ec_adpcm_decode_sample(ec_adpcm *st, unsigned nibble)
{
    int32_t step = step_table[st->index];
    int32_t vpdiff = step >> 3;
    if (nibble & 4u) {
        vpdiff += step;
    }
    if (nibble & 2u) {
        vpdiff += step >> 1;
    }
    if (nibble & 1u) {
        vpdiff += step >> 2;
    }
    st->predictor = clamp16((nibble & 8u) ? st->predictor - vpdiff : st->predictor + vpdiff);
    st->index = next_index(st->index, nibble);
    return (int16_t)st->predictor;
}

int ec_dvi4_encode(ec_adpcm *st, const int16_t *pcm, size_t n, uint8_t *out, size_t out_cap)
{
    size_t i;
    uint16_t pred;
    if (!state_ok(st) || out == NULL || (n > 0 && pcm == NULL) || (n & 1u) != 0 || n > (size_t)INT_LIMIT - 8) {
        return EC_ERR_ARG;
    }
    if (out_cap < EC_DVI4_HEADER + n / 2) {
        return EC_ERR_SHORT_BUFFER;
    }
    pred = (uint16_t)st->predictor;
    out[0] = (uint8_t)(pred >> 8);
    out[1] = (uint8_t)(pred & 0xffu);
    out[2] = (uint8_t)st->index;
    out[3] = 0;
    for (i = 0; i < n; i += 2) {
        unsigned hi = ec_adpcm_encode_sample(st, pcm[i]);
        unsigned lo = ec_adpcm_encode_sample(st, pcm[i + 1]);
        out[EC_DVI4_HEADER + i / 2] = (uint8_t)((hi << 4) | lo);
    }
    return (int)(EC_DVI4_HEADER + n / 2);
}

int ec_dvi4_decode(ec_adpcm *st, const uint8_t *data, size_t len, int16_t *out, size_t out_cap)
{
    size_t i, n;
    int32_t pred;
    if (st == NULL || data == NULL || len > (size_t)INT_LIMIT / 2) {
        return EC_ERR_ARG;
    }
    if (len < EC_DVI4_HEADER || data[2] > EC_ADPCM_MAX_INDEX) {
        return EC_ERR_MALFORMED;
    }
    n = (len - EC_DVI4_HEADER) * 2;
    if (n > 0 && out == NULL) {
        return EC_ERR_ARG;
    }
    if (out_cap < n) {
        return EC_ERR_SHORT_BUFFER;
    }
    pred = (int32_t)(((uint32_t)data[0] << 8) | data[1]);
    st->predictor = pred >= 32768 ? pred - 65536 : pred;
    st->index = data[2];
    for (i = 0; i < n; i += 2) {
        uint8_t b = data[EC_DVI4_HEADER + i / 2];
        out[i] = ec_adpcm_decode_sample(st, (unsigned)b >> 4);
        out[i + 1] = ec_adpcm_decode_sample(st, b & 0x0fu);
    }
    return (int)n;
}

int ec_ima_wav_encode_block(ec_adpcm *st, const int16_t *pcm, size_t n, uint8_t *out, size_t block_size)
{
    size_t i;
    uint16_t first;
    if (!state_ok(st) || pcm == NULL || out == NULL || block_size < EC_IMA_WAV_HEADER + 1 ||
        block_size > (size_t)INT_LIMIT / 2 || n != (block_size - EC_IMA_WAV_HEADER) * 2 + 1) {
        return EC_ERR_ARG;
    }
    first = (uint16_t)pcm[0];
    st->predictor = pcm[0];
    out[0] = (uint8_t)(first & 0xffu);
    out[1] = (uint8_t)(first >> 8);
    out[2] = (uint8_t)st->index;
    out[3] = 0;
    for (i = 1; i < n; i += 2) {
        unsigned lo = ec_adpcm_encode_sample(st, pcm[i]);
        unsigned hi = ec_adpcm_encode_sample(st, pcm[i + 1]);
        out[EC_IMA_WAV_HEADER + i / 2] = (uint8_t)((hi << 4) | lo);
    }
    return (int)block_size;
}

int ec_ima_wav_decode_block(ec_adpcm *st, const uint8_t *data, size_t len, int16_t *out, size_t out_cap)
{
    size_t i, n;
    int32_t first;
    if (st == NULL || data == NULL || out == NULL || len > (size_t)INT_LIMIT / 2) {
        return EC_ERR_ARG;
    }
    if (len < EC_IMA_WAV_HEADER + 1 || data[2] > EC_ADPCM_MAX_INDEX) {
        return EC_ERR_MALFORMED;
    }
    n = (len - EC_IMA_WAV_HEADER) * 2 + 1;
    if (out_cap < n) {
        return EC_ERR_SHORT_BUFFER;
    }
    first = (int32_t)(((uint32_t)data[1] << 8) | data[0]);
    st->predictor = first >= 32768 ? first - 65536 : first;
    st->index = data[2];
    out[0] = (int16_t)st->predictor;
    for (i = 1; i < n; i += 2) {
        uint8_t b = data[EC_IMA_WAV_HEADER + i / 2];
        out[i] = ec_adpcm_decode_sample(st, b & 0x0fu);
        out[i + 1] = ec_adpcm_decode_sample(st, (unsigned)b >> 4);
    }
    return (int)n;
}
