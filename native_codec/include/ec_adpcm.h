/* ec_adpcm.h — IMA/DVI ADPCM, 4 bits per sample (IMA Digital Audio Focus and Technical Working
 * Group, "Recommended Practices for Enhancing Digital Audio Compatibility", 1992), with two
 * packings:
 *   - DVI4 RTP payload (RFC 3551 §4.5.1): a 4-byte header (predicted value, 16-bit big-endian;
 *     step index; a reserved zero byte), then the samples, first one in the high nibble;
 *   - the Microsoft WAV IMA ADPCM block (WAVE_FORMAT_IMA_ADPCM, mono): a 4-byte header
 *     (first sample, 16-bit little-endian; step index; zero), then pairs of samples, the first
 *     one in the low nibble; a block of B bytes holds (B - 4) * 2 + 1 samples.
 * State is two numbers, caller-owned and copyable. */
#ifndef EC_ADPCM_H
#define EC_ADPCM_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_ADPCM_MAX_INDEX 88
#define EC_DVI4_HEADER 4
#define EC_IMA_WAV_HEADER 4

typedef struct {
    int32_t predictor; /* last reconstructed sample */
    int32_t index;     /* step-size table index, 0..88 */
} ec_adpcm;

size_t ec_adpcm_state_size(void);
int ec_adpcm_init(ec_adpcm *st, size_t st_size);

/* One sample each way; the nibble is 0..15. */
unsigned ec_adpcm_encode_sample(ec_adpcm *st, int16_t x);
int16_t ec_adpcm_decode_sample(ec_adpcm *st, unsigned nibble);

/* DVI4: n samples (n even) → 4 + n / 2 bytes, the header holding the state before the first
 * sample. Returns the byte count. */
int ec_dvi4_encode(ec_adpcm *st, const int16_t *pcm, size_t n, uint8_t *out, size_t out_cap);
/* DVI4: a payload of len bytes → (len - 4) * 2 samples. The header resets the state, so a
 * payload decodes correctly after a lost one. EC_ERR_MALFORMED if the header is short or its
 * step index is above 88. Returns the sample count. */
int ec_dvi4_decode(ec_adpcm *st, const uint8_t *data, size_t len, int16_t *out, size_t out_cap);

/* WAV IMA: one block of block_size bytes (>= 5) from (block_size - 4) * 2 + 1 samples. The first
 * sample goes into the header verbatim; the step index carries over from the previous block.
 * Returns block_size. */
int ec_ima_wav_encode_block(ec_adpcm *st, const int16_t *pcm, size_t n, uint8_t *out, size_t block_size);
/* WAV IMA: one block of len bytes → (len - 4) * 2 + 1 samples. Returns the sample count. */
int ec_ima_wav_decode_block(ec_adpcm *st, const uint8_t *data, size_t len, int16_t *out, size_t out_cap);

#endif
