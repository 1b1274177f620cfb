/* ec_plc.h — packet-loss concealment on decoded PCM.
 *
 * 8 kHz: ITU-T G.711 Appendix I (pitch-based waveform repetition, overlap-add, attenuation of
 * 20% per 10 ms after the first 10 ms of loss, silent after 60 ms). 16 kHz: the same design
 * scaled to wideband for G.722 (see the comment at the top of plc.c for the choices).
 *
 * The concealer works on 10 ms frames (80 samples at 8 kHz, 160 at 16 kHz) and delays its output
 * by 3.75 ms, as Appendix I does, so that the start of a loss can be overlap-added with the end
 * of the last good frame. State is caller-owned plain memory.
 *
 * State size: one struct serves every rate up to EC_PLC_MAX_RATE. With the default (16000) it is
 * 3272 bytes; a build that only needs narrowband may define EC_PLC_MAX_RATE=8000 (for every file
 * that includes this header) to get a 1652-byte state that accepts 8000 only. */
#ifndef EC_PLC_H
#define EC_PLC_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#ifndef EC_PLC_MAX_RATE
#define EC_PLC_MAX_RATE 16000
#endif
#if EC_PLC_MAX_RATE != 8000 && EC_PLC_MAX_RATE != 16000
#error "EC_PLC_MAX_RATE must be 8000 or 16000"
#endif

/* Sizes for the highest rate (see plc.c). */
#define EC_PLC_PITCH_MAX (EC_PLC_MAX_RATE / 8000 * 120) /* 15 ms: longest pitch period */
#define EC_PLC_OVL_MAX (EC_PLC_PITCH_MAX / 4)           /* 3.75 ms: longest overlap, output delay */
#define EC_PLC_HIST_MAX (3 * EC_PLC_PITCH_MAX + EC_PLC_OVL_MAX) /* 48.75 ms: 390 / 780 samples */
#define EC_PLC_FRAME_MAX (EC_PLC_MAX_RATE / 100)

typedef struct {
    uint32_t magic;
    int32_t rate;       /* 8000 or 16000 */
    int32_t frame;      /* samples per 10 ms */
    int32_t erasecnt;   /* consecutive lost frames (saturates at 7) */
    int32_t pitch;      /* pitch period in samples, found at the start of a loss */
    int32_t poverlap;   /* overlap length of the current pitch period (pitch / 4) */
    int32_t poffset;    /* read position in the pitch buffer */
    int32_t pitchblen;  /* pitch buffer length in use: 1, 2 or 3 periods */
    int16_t history[EC_PLC_HIST_MAX];  /* last HIST samples of the output stream (undelayed) */
    int16_t pitchbuf[EC_PLC_HIST_MAX]; /* history frozen at the start of the loss; its last
                                          poverlap samples hold the overlap-added period end */
    int16_t lastq[EC_PLC_OVL_MAX];     /* the original last poverlap samples before the loss */
} ec_plc;

size_t ec_plc_state_size(void);
/* sample_rate: 8000 or 16000. */
int ec_plc_init(ec_plc *st, size_t st_size, int sample_rate);
/* Samples per frame for this state (80 or 160). */
int ec_plc_frame_size(const ec_plc *st);
/* A received frame: in and out are frame_size samples (may be the same buffer). The output is
 * the input delayed by 3.75 ms, smoothed into the concealment if the previous frame was lost.
 * Returns n (the samples written), EC_ERR_ARG (NULL, n != frame size) or EC_ERR_STATE. */
int ec_plc_good(ec_plc *st, const int16_t *in, int16_t *out, size_t n);
/* A lost frame: writes frame_size concealed samples. Returns n, EC_ERR_ARG or EC_ERR_STATE. */
int ec_plc_lost(ec_plc *st, int16_t *out, size_t n);

#endif
