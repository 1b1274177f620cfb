/* ec_g722.h — ITU-T G.722 (11/88, 09/2012) 7 kHz audio codec: QMF + sub-band ADPCM.
 *
 * One codeword per byte: bits 7..6 the higher band (2 bits), bits 5..0 the lower band (6 bits),
 * as in the plain G.722 bitstream. The encoder always produces 64 kbit/s codewords; at 56000 or
 * 48000 it clears the 1 or 2 lower-band bits that a mode-2/3 decoder ignores. The decoder takes
 * 8-bit codewords and decodes them in mode 1, 2 or 3 (64000, 56000, 48000 bit/s).
 * PCM is 16 kHz, 16-bit; every two input samples give one codeword.
 *
 * State is caller-owned plain memory: allocate ec_g722_enc_state_size() bytes (or declare an
 * ec_g722_enc), call ec_g722_enc_init, then ec_g722_encode. No malloc, no globals. */
#ifndef EC_G722_H
#define EC_G722_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

/* One sub-band ADPCM coder's state (the band blocks of G.722 §3/§4, computational details §6). */
typedef struct {
    int32_t s;      /* predictor output SL / SH */
    int32_t sz;     /* zero-section output SZL / SZH */
    int32_t rr1;    /* 2 * RLT1 (saturated to 16 bits), the form the pole section uses */
    int32_t rr2;    /* 2 * RLT2 */
    int32_t a1;     /* pole coefficients AL1, AL2 */
    int32_t a2;
    int32_t pn1;    /* 1 when the partial reconstructed signal PLT1 was negative, else 0 */
    int32_t pn2;    /* the same for PLT2 */
    int16_t d[8];   /* twice the quantised difference, 2 * DLT1..DLT6, d[0] newest; d[6..7] = 0 */
    int16_t b[8];   /* zero coefficients BL1..BL6; b[6..7] = 0 (padding for 8-lane SIMD) */
    int32_t nb;     /* log scale factor NBL / NBH */
    int32_t det;    /* quantiser scale factor DETL / DETH */
} ec_g722_band;

/* The QMF delay line keeps its 24 newest values twice (at pos and pos + 24), so the filter always
 * reads 24 contiguous values without shifting the line. */
typedef struct {
    uint32_t magic;
    int32_t bits_per_codeword; /* 8, 7 or 6 */
    int32_t qmf_pos;           /* 0, 2, ..., 22: where the newest pair of the delay line starts */
    ec_g722_band band[2];      /* [0] lower band, [1] higher band */
    int16_t qmf[48];           /* QMF delay line, newest first from qmf[qmf_pos] */
} ec_g722_enc;

typedef struct {
    uint32_t magic;
    int32_t bits_per_codeword; /* 8, 7 or 6 */
    int32_t qmf_pos;
    ec_g722_band band[2];
    int16_t qmf[48];
} ec_g722_dec;

size_t ec_g722_enc_state_size(void);
/* bitrate: 64000, 56000 or 48000. Returns EC_OK, EC_ERR_ARG or EC_ERR_SHORT_BUFFER. */
int ec_g722_enc_init(ec_g722_enc *st, size_t st_size, int bitrate);
/* n_samples must be even; out_cap >= n_samples / 2. Returns the number of bytes written. */
int ec_g722_encode(ec_g722_enc *st, const int16_t *pcm, size_t n_samples, uint8_t *out, size_t out_cap);

size_t ec_g722_dec_state_size(void);
int ec_g722_dec_init(ec_g722_dec *st, size_t st_size, int bitrate);
/* Switches an initialised decoder to another mode (64000, 56000 or 48000) between calls, keeping
 * its state, as a receiver does when the sender changes mode mid-stream. */
int ec_g722_dec_set_bitrate(ec_g722_dec *st, int bitrate);
/* out_cap >= 2 * n_bytes. Returns the number of samples written (2 per codeword). */
int ec_g722_decode(ec_g722_dec *st, const uint8_t *data, size_t n_bytes, int16_t *out, size_t out_cap);

#endif
