/* ec_g711.h — ITU-T G.711 (11/88) pulse code modulation: µ-law and A-law.
 *
 * Input is 16-bit linear PCM; the encoder uses its top 14 (µ-law) or 13 (A-law) bits, as the
 * ITU-T G.191 reference tool and Python's audioop do. The decoder returns 16-bit samples.
 * Stateless: no init needed. */
#ifndef EC_G711_H
#define EC_G711_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_G711_ULAW 0
#define EC_G711_ALAW 1

uint8_t ec_g711_ulaw_from_linear(int16_t x);
int16_t ec_g711_ulaw_to_linear(uint8_t code);
uint8_t ec_g711_alaw_from_linear(int16_t x);
int16_t ec_g711_alaw_to_linear(uint8_t code);

/* Encodes n samples into n bytes. Returns n, or EC_ERR_ARG / EC_ERR_SHORT_BUFFER. */
int ec_g711_encode(int law, const int16_t *pcm, size_t n, uint8_t *out, size_t out_cap);
/* Decodes n bytes into n samples. Returns n, or EC_ERR_ARG / EC_ERR_SHORT_BUFFER. */
int ec_g711_decode(int law, const uint8_t *data, size_t n, int16_t *out, size_t out_cap);

#endif
