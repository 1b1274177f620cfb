/* ec_media.h — media sender and receiver: codec + RTP packetisation (RFC 3550, RFC 3551) +
 * redundancy (RFC 2198 RED, RFC 5109 parity FEC) + RTCP (SR/RR, RFC 4585 generic NACK) +
 * retransmission cache + adaptive jitter buffer (ec_jb.h) + packet-loss concealment (ec_plc.h).
 * Each is one caller-owned state (plain memory, no pointers inside, no malloc, no globals), whose
 * size depends on its configuration: ec_media_tx_state_size(&cfg), ec_media_tx_init(st, size,
 * &cfg); the same for rx.
 *
 * Codecs: PCMU, PCMA (8 kHz), DVI4 (8 kHz, RFC 3551 §4.5.1), G.722 (16 kHz audio, RTP clock
 * 8000). Packets carry a whole number of 10 ms blocks (ptime 10..60 ms); the receiver splits them
 * into 10 ms blocks (a DVI4 packet's header stays with its first block, later blocks continue
 * the decoder state) and outputs frames of its own ptime whatever the sender's ptime is.
 *
 * Wire choices:
 * - RED (RFC 2198): payload type pt_red; each packet holds the previous packet's frame as one
 *   redundant block (timestamp offset = its duration) and the current frame as the primary.
 *   A receiver takes a redundant block at sequence number (primary's - 1).
 * - FEC (RFC 5109 §7, level 0, full protection): payload type pt_fec, same SSRC as the media, a
 *   sequence number space of its own (demultiplexed by payload type), timestamp of the last
 *   protected packet. One FEC packet follows every fec_group media packets and protects them:
 *   the media packets as they would be sent without RED (codec payload type, marker, timestamp
 *   and the codec payload), so that RED and FEC combine.
 * - Retransmission (RFC 4585 generic NACK): the sender resends a cached packet unchanged in
 *   sequence number and timestamp, as a plain packet with the codec's payload type. It ignores
 *   a request for the same packet within max(rtt, 40 ms) of the last send.
 * - RTCP: the sender sends SR + SDES CNAME every rtcp_interval_ms (the first after half of it);
 *   the receiver RR + SDES every rtcp_interval_ms, and RR + SDES + NACK (AVPF early feedback)
 *   for a missing packet once it is out of the reorder window: two later packets have come, or
 *   it has been missing for max(1.5 x the interarrival jitter, 2 ms); a NACK is repeated every
 *   nack_retry_ms up to 3 times. A packet that was asked for (the last EC_MEDIA_NACK_MAX asked
 *   are remembered) and comes EC_MEDIA_RTX_MIN_MS or more after its first request is a
 *   retransmission: it is stored but not fed to the delay statistics. One that comes sooner is
 *   the original, merely late (a retransmission cannot come sooner than a round trip after the
 *   request): a first arrival like any other. A retransmission recovers its packet only if it is
 *   the first copy to come (not after the late original, nor after RED or FEC rebuilt it);
 *   nack_recovered counts those.
 * - Receiver's recovery allowance: while RED packets come (and for 10 s after), the jitter
 *   buffer's target is its percentile + the RED distance; while retransmissions recover packets
 *   (same hold), at least the 90th percentile of the relative delays of all retransmissions (a
 *   histogram forgetting 1/16 per retransmission) + 10 ms, at most 150 ms, and none when half of
 *   them need more; this floor rises at once and falls only after a 20 ms lower one has done for
 *   3 s. The
 *   receiver tells the buffer when its output is in a pause (8 blocks of 10 ms in a row each 36 dB
 *   below a peak level follower halving in about 2 s), where time-scale steps go (ec_jb.h).
 * - RR fraction lost: an RR sent early with a NACK reports the loss since the last regular RR
 *   without ending that interval; only regular RRs (every rtcp_interval_ms) end it. The RR's
 *   counts (fraction lost, cumulative number lost) are those of first transmissions, as with
 *   RFC 4588's separate retransmission stream: retransmissions are not counted as received, so the
 *   sender sees the link's loss, not what NACK left of it.
 *
 * Sender adaptation (adapt = 1), once per loss window: when a report block for its SSRC comes
 * EC_MEDIA_LOSS_WINDOW_MS or more after the window's first one, the window's loss is the growth of
 * the cumulative number lost over the growth of the extended highest sequence number between the
 * two (Q8, 0 when negative: retransmissions and duplicates count as received), and the next
 * window starts there. Not the blocks' fraction lost: an RR sent early with a NACK covers a few
 * packets only, and a packet merely reordered counts as lost in it until it comes. The loss is
 * smoothed as s = (s + loss) / 2 (Q8):
 *   level 0  s <  3 %           no redundancy, G.722 64 kbit/s, the configured ptime
 *   level 1  3 % <= s <  8 %    FEC, group of 4 (1/4 overhead), 64 kbit/s
 *   level 2  8 % <= s < 20 %    RED of distance d (d earlier packets in each: survives any d
 *                               losses in a row), d >= 1, G.722 64 kbit/s
 *   level 3  s >= 20 %          RED of distance d >= 2, G.722 56 kbit/s
 * d is the mean loss burst, rounded up, at most EC_MEDIA_RED_MAX_DISTANCE: from the runs of
 * consecutive packets in the NACKs received, each what RED of the distance then in force left of
 * a burst (so the burst was the run + that distance; a mean with weight 1/8), updated with each
 * NACK; a loss window without any run moves the mean 1/8 of the way back to 1. (Measured, G.722 full mode on 24 s of speech x 4 languages x 3 seeds, 30 +- 10 ms:
 * the earlier level 3 (RED of distance 1, 48 kbit/s, 40 ms packets) scored 2.87 PESQ-WB at 20 %
 * random loss; distance 1 with 20 ms packets 3.27, distance 2 3.64, distance 3 3.83.)
 * A level rises at once when s reaches its threshold and falls by one after two windows in a row
 * with s below half of the current level's threshold. The G.722 mode change is the encoder's:
 * the 1 or 2 lower-band bits of each codeword are cleared (the encoder state does not depend on
 * the mode). The receiver sees a 56/48 kbit/s block by those bits (the chance that 80 codewords
 * of a 64 kbit/s stream all have them clear is 2^-80) and decodes it in that mode.
 *
 * Opus (EC_MEDIA_OPUS; compiled in only when EC_MEDIA_WITH_OPUS is defined and libopus 1.3.1 is
 * linked — without it the codec is refused as an invalid configuration and nothing below changes
 * the other codecs' code or state sizes). RFC 7587: 16 kHz mono audio, RTP clock 48 kHz (960
 * ticks per 20 ms), dynamic payload type pt_opus (0: 111), one Opus packet of one 20 ms frame per
 * RTP packet (ptime 20 only: Opus does not fit the 10 ms block splitting of the other codecs, so it
 * is handled as whole 20 ms frames), marker on the first packet of a talkspurt, at most
 * EC_MEDIA_OPUS_MAX_PAYLOAD bytes (the encoder's max_data_bytes). The encoder (sender) and
 * decoder (receiver) states live inside the media state, after its other parts (the structs
 * below do not change: opus_encoder_get_size(1), opus_decoder_get_size(1) and a few hundred bytes
 * of Opus bookkeeping are added by the state_size functions for codec Opus only).
 * - Sender: push takes whole 10 ms blocks and encodes every second one into a packet (VOIP
 *   application, bitrate opus_bitrate (0: 24000), complexity opus_complexity, VBR). RED and the
 *   RFC 5109 FEC are refused (red and fec_group must be 0); NACK retransmission works as for the
 *   other codecs. Adaptation (adapt = 1) replaces the levels above by Opus's own, from the same
 *   smoothed loss s of whole loss windows: in-band FEC (LBRR) on from s >= 3 % and off below 1 %
 *   (measured at 0 % loss with only jitter and reordering: an encoder toggling FEC, or coding it
 *   for no loss, loses more than it saves); while it is on, OPUS_SET_PACKET_LOSS_PERC(min(ceil(s *
 *   100 / 256), 30)) and the bitrate at least EC_MEDIA_OPUS_FEC_BITRATE (libopus 1.3.1 at 24 kbit/s
 *   and complexity 0 pays for FEC with the speech: measured on 24 s of speech per language at 10 %
 *   random loss, FEC at 24 kbit/s scored 0.3 PESQ-WB below no FEC, at 32 kbit/s 0.2 above);
 *   while it is off, 0 and opus_bitrate. Without adapt, opus_loss_perc sets the loss and FEC once
 *   (and the bitrate as above).
 * - Receiver: the 20 ms packet occupies two 10 ms slots of the jitter buffer (its bytes split in
 *   two halves); RTP timestamps are mapped onto the buffer's 8 kHz timeline (divided by 6 relative
 *   to the last in-order packet); RR jitter stays in 48 kHz units. A frame is decoded when its
 *   first slot plays and its second half is kept for the next 10 ms. When a frame is missing and
 *   the buffer moves on, the receiver decodes the next packet's in-band FEC (opus_decode with
 *   decode_fec = 1) if that packet is already buffered, else Opus's PLC, for the whole 20 ms;
 *   underruns and stretches are 10 ms of Opus PLC. RED and FEC packets are not used (fec_slots is
 *   ignored). A payload that is not a valid Opus packet counts as malformed (EC_ERR_MALFORMED), a
 *   valid one that is not one 20 ms frame of 2..EC_MEDIA_OPUS_MAX_PAYLOAD bytes as unsupported.
 *   Counters: ec_media_tx_opus_stats / ec_media_rx_opus_stats.
 *
 * Times are uint32 milliseconds of the caller's clock (may wrap). */
#ifndef EC_MEDIA_H
#define EC_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "ec_adpcm.h"
#include "ec_err.h"
#include "ec_fec.h"
#include "ec_g722.h"
#include "ec_jb.h"
#include "ec_plc.h"
#include "ec_rtcp.h"

#define EC_MEDIA_PCMU 0
#define EC_MEDIA_PCMA 1
#define EC_MEDIA_G722 2
#define EC_MEDIA_DVI4 3
#define EC_MEDIA_OPUS 4 /* only with EC_MEDIA_WITH_OPUS */

#define EC_MEDIA_OPUS_PT 111            /* default dynamic payload type */
#define EC_MEDIA_OPUS_BITRATE 24000     /* default bitrate */
#define EC_MEDIA_OPUS_MAX_PAYLOAD 160   /* bytes of one 20 ms packet: two 80-byte buffer slots */
#define EC_MEDIA_OPUS_TS_PER_FRAME 960  /* 20 ms at the 48 kHz RTP clock (RFC 7587 §4.1) */
#define EC_MEDIA_OPUS_MAX_LOSS_PERC 30  /* cap of OPUS_SET_PACKET_LOSS_PERC under adaptation */
#define EC_MEDIA_RTX_MIN_MS 20         /* a packet asked for that comes sooner after the request is the original */
#define EC_MEDIA_OPUS_FEC_ON_Q8 8       /* Opus in-band FEC on from 3 % smoothed loss ... */
#define EC_MEDIA_OPUS_FEC_OFF_Q8 3      /* ... off below 1 % */
#define EC_MEDIA_OPUS_FEC_BITRATE 32000 /* the least bitrate with in-band FEC on */
#define EC_MEDIA_RED_MAX_DISTANCE 3     /* RFC 2198 redundancy: at most this many earlier packets */
#define EC_MEDIA_LOSS_WINDOW_MS 900     /* the sender's loss window: at least this long (a report interval) */

#define EC_MEDIA_MAX_PTIME_MS 60
#define EC_MEDIA_MAX_BLOCKS 6      /* blocks of 10 ms in the longest packet */
#define EC_MEDIA_MAX_FEC_GROUP 16
#define EC_MEDIA_NACK_MAX 32       /* missing packets the receiver keeps asking for */
#define EC_MEDIA_NACK_TRIES 3
#define EC_MEDIA_MAX_FEC_SLOTS 4
#define EC_MEDIA_TXQ 8             /* FEC packets awaiting output */
/* Largest packet either side writes: RTCP compound with NACKs, or RTP + RED of two 60 ms
 * G.722 frames. An output buffer of this size is always enough. */
#define EC_MEDIA_MAX_PACKET 1024

/* ---- sender ---- */

typedef struct {
    int codec;            /* EC_MEDIA_* */
    int ptime_ms;         /* 10..max_ptime_ms, a multiple of 10 */
    int max_ptime_ms;     /* 10..60: the longest packet push may take; sizes the cache */
    int red;              /* 1: RED with one redundant frame */
    int fec_group;        /* 0 (off) or 2..16 media packets per FEC packet */
    int nack;             /* 1: answer NACKs from the cache */
    int cache_packets;    /* packets kept (>= 8 and >= fec_group + 6) */
    int adapt;            /* 1: adapt from receiver reports */
    int g722_bitrate;     /* 64000, 56000, 48000 (G.722 only; else ignored) */
    int pt_red, pt_fec;   /* 96..127, distinct */
    int rtcp_interval_ms; /* 100..60000 */
    uint32_t ssrc;
    uint32_t ts0;         /* first RTP timestamp */
    uint16_t seq0;        /* first sequence number */
    uint16_t fec_seq0;    /* first FEC sequence number */
    /* Opus only (ignored for the other codecs; 0 selects the default): */
    int pt_opus;          /* 96..127, distinct from pt_red and pt_fec; 0: 111 */
    int opus_bitrate;     /* 6000..64000; 0: 24000 */
    int opus_complexity;  /* 0..10 (0 on M4-class boards) */
    int opus_loss_perc;   /* 0..100: initial expected loss (in-band FEC on when > 0) */
} ec_media_tx_config;

typedef struct {
    uint32_t packets, octets;    /* RTP sent: media, FEC, retransmissions (the SR counts) */
    uint32_t media_packets, fec_packets, red_packets, retransmissions;
    uint32_t sr_sent, rr_received, nack_received, nack_seqs, nack_unavailable;
    uint32_t fraction_lost;      /* last report block for us, Q8 */
    int32_t cumulative_lost;
    uint32_t jitter;             /* RTP units, last report */
    int32_t rtt_ms;              /* -1 until a report with LSR */
    uint32_t level;              /* adaptation level 0..3 */
    uint32_t level_changes;
    uint32_t loss_smoothed_q8;
    uint32_t ptime_ms, red, fec_group, g722_bitrate; /* current settings */
} ec_media_tx_stats;

typedef struct {
    uint32_t magic;
    int32_t codec, pt, rate, block_samples, block_bytes, extra;
    int32_t base_ptime_ms, max_ptime_ms;
    int32_t ptime_blocks, red, fec_group, g722_bits; /* current settings */
    int32_t next_ptime_blocks; /* ptime for the next packet started (adaptation) */
    int32_t cfg_red, cfg_fec, nack, adapt, pt_red, pt_fec, rtcp_interval_ms;
    uint32_t ssrc;
    uint32_t ts;            /* timestamp of the next sample pushed */
    uint16_t seq;           /* next media sequence number */
    uint16_t fec_seq;
    uint16_t next_send;     /* first media sequence number not yet output */
    uint16_t pad0;
    uint32_t cur_blocks;    /* blocks already encoded into the packet being built */
    uint32_t cur_ts;
    uint32_t n_cache, entry_size, cache_off; /* cache ring: entry for seq s at s % n_cache */
    uint32_t group_count;   /* media packets in the FEC group being built */
    uint16_t group_base;
    uint16_t fecq_n;        /* FEC packets queued: (base, count) */
    uint16_t fecq_base[EC_MEDIA_TXQ];
    uint8_t fecq_count[EC_MEDIA_TXQ];
    uint32_t started;       /* a packet has been finalised */
    uint32_t next_sr_ms;
    uint32_t down_count;    /* consecutive reports below the level's lower threshold */
    uint32_t win_have;      /* the loss window's start: a report has been seen */
    uint32_t win_ms;        /* ... when it came */
    uint32_t win_ext;       /* ... its extended highest sequence number */
    int32_t win_lost;       /* ... its cumulative number lost */
    uint32_t burst_q4;      /* mean loss burst from the NACKs' runs of packets, Q4 */
    uint32_t burst_seen;    /* a NACK run came in this loss window */
    ec_media_tx_stats st;
    union {
        ec_g722_enc g722;
        ec_adpcm adpcm;
    } enc;
} ec_media_tx;

size_t ec_media_tx_state_size(const ec_media_tx_config *cfg);
int ec_media_tx_init(ec_media_tx *st, size_t size, const ec_media_tx_config *cfg);
/* Encodes n samples (a whole number of 10 ms blocks, at most max_ptime_ms) captured at now_ms.
 * Packets completed by it are queued: call ec_media_tx_poll until it returns 0. */
int ec_media_tx_push(ec_media_tx *st, const int16_t *pcm, size_t n, uint32_t now_ms);
/* Feedback from the receiver (an RTCP compound). Returns EC_OK, or EC_ERR_MALFORMED (not RTCP,
 * or it does not parse). */
int ec_media_tx_on_packet(ec_media_tx *st, const uint8_t *pkt, size_t len, uint32_t now_ms);
/* The next packet to send (retransmissions first, then media and FEC in order, then an SR when
 * due). Returns its length, 0 when there is none, or EC_ERR_SHORT_BUFFER (cap below
 * EC_MEDIA_MAX_PACKET may not be enough) / EC_ERR_STATE. */
int ec_media_tx_poll(ec_media_tx *st, uint32_t now_ms, uint8_t *out, size_t cap);
int ec_media_tx_get_stats(const ec_media_tx *st, ec_media_tx_stats *out);
/* Samples per 10 ms block of the codec's audio (80 or 160). */
int ec_media_block_samples(int codec);

/* ---- receiver ---- */

typedef struct {
    int codec;
    int ptime_ms;        /* output frame of ec_media_rx_pull: 10..60, a multiple of 10 */
    int max_ptime_ms;    /* the longest packet accepted: 10..60 */
    int buffer_ms;       /* jitter buffer ring (ms of audio), >= 80 and >= 2 * max_ptime_ms */
    int fixed_delay_ms;  /* > 0: fixed playout delay; 0: adaptive */
    int min_delay_ms, max_delay_ms; /* bounds of the adaptive target (max 0: the ring's) */
    int nack;            /* 1: send NACKs for missing packets */
    int nack_retry_ms;   /* 10..1000 */
    int fec_slots;       /* FEC packets kept while waiting for the rest of their group: 0..4 */
    int pt_red, pt_fec;
    int rtcp_interval_ms;
    uint32_t ssrc;       /* own SSRC, for RTCP */
    int pt_opus;         /* Opus only: 96..127, distinct from pt_red and pt_fec; 0: 111 */
} ec_media_rx_config;

/* What ec_media_rx_packet did (non-negative returns). */
#define EC_MEDIA_RX_MEDIA 0     /* stored for playout */
#define EC_MEDIA_RX_RTCP 1
#define EC_MEDIA_RX_FEC 2
#define EC_MEDIA_RX_LATE 3      /* its time had passed */
#define EC_MEDIA_RX_DUPLICATE 4
#define EC_MEDIA_RX_IGNORED 5   /* another SSRC, an unknown payload type, or a sequence jump
                                   awaiting confirmation (RFC 3550 A.1) */
#define EC_MEDIA_RX_OVERFLOW 6  /* too early for the ring (fixed delay) */

typedef struct {
    uint32_t ssrc;
    uint32_t received;        /* RFC 3550 A.1 (duplicates and late packets included) */
    uint32_t expected;        /* extended highest - base + 1 */
    int32_t lost;             /* cumulative, expected - received */
    uint32_t fraction_lost;   /* Q8, of the last report sent */
    uint32_t ext_highest_seq;
    uint32_t jitter;          /* RFC 3550 A.8, RTP units */
    uint32_t rtp_packets;     /* every RTP packet of the source, FEC and ignored ones included */
    uint32_t late, duplicates, overflow, flushes;
    uint32_t recovered_red, recovered_fec, nack_recovered; /* packets filled in time */
    uint32_t fec_packets, red_packets;
    uint32_t played, concealed, stretched, compressed, skipped; /* 10 ms blocks */
    uint32_t silent;          /* 10 ms blocks of silence before playout started */
    uint32_t malformed, ignored, rtcp_packets, sr_received;
    uint32_t nack_sent, nack_seqs, rr_sent;
    uint32_t ssrc_changes, ts_jumps;
    int32_t target_delay_ms, delay_ms, buffered_ms;
    uint32_t g722_bitrate;    /* mode of the last G.722 block decoded */
} ec_media_rx_stats;

typedef struct {
    uint16_t seq;
    uint8_t tries;
    uint8_t pad;
    uint32_t sent_ms;
} ec_media_nack_entry;

#define EC_MEDIA_RTX_BINS 24

typedef struct {
    uint32_t magic;
    int32_t codec, pt, rate, block_samples, block_bytes, extra;
    int32_t ptime_blocks, max_blocks, pt_red, pt_fec, nack, nack_retry_ms, rtcp_interval_ms;
    uint32_t ssrc;
    uint32_t have_source;
    ec_rtp_source src;
    uint32_t cand_ssrc;      /* another SSRC seen: switch after 2 packets in sequence */
    uint16_t cand_seq, cand_count;
    uint32_t ts_offset;      /* buffer timeline = RTP timestamp + ts_offset */
    uint32_t have_last;      /* the last in-order packet, for timestamp-jump detection */
    uint32_t last_ext_seq, last_ts, last_dur;
    uint32_t rebase;         /* map the next packet to the end of the buffer (new SSRC) */
    uint32_t have_sr, lsr, lsr_ms;
    uint32_t next_rr_ms, rr_started;
    uint32_t n_nack;
    ec_media_nack_entry nack_list[EC_MEDIA_NACK_MAX];
    uint16_t asked[EC_MEDIA_NACK_MAX]; /* the last packets asked for (retransmissions to recognise) */
    uint16_t asked_ms[EC_MEDIA_NACK_MAX]; /* ... when each was first asked for (ms, low 16 bits) */
    uint32_t asked_valid, asked_got, asked_next; /* bit i: slot i in use; a copy of its packet came */
    uint32_t rtx_arrivals;   /* retransmissions received (duplicates included): not in the RR's counts */
    uint32_t rtx_seen, rtx_last_ms;           /* retransmissions' relative delay (recovery allowance): */
    uint32_t rtx_hist[EC_MEDIA_RTX_BINS];      /* 10 ms bins, Q16 weights forgetting 1/16 a retransmission */
    uint32_t rtx_floor_ms, rtx_low_ms;         /* the floor in force; since when a lower one would do (0: not) */
    uint32_t red_seen, red_ms, red_last_ms;    /* RED's distance, while RED packets come */
    uint32_t level, quiet;   /* output level follower; quiet blocks in a row */
    uint32_t n_fec, fec_entry, fec_off; /* FEC slots: [uint16 len][uint16 age][payload] */
    uint32_t fec_age;
    ec_media_rx_stats st;
    union {
        ec_g722_dec g722;
        ec_adpcm adpcm;
    } dec;
    ec_plc plc;
    ec_jb jb;                /* last: its ring follows it */
} ec_media_rx;

size_t ec_media_rx_state_size(const ec_media_rx_config *cfg);
int ec_media_rx_init(ec_media_rx *st, size_t size, const ec_media_rx_config *cfg);
/* An RTP or RTCP packet arrived at now_ms. Returns EC_MEDIA_RX_*, EC_ERR_MALFORMED (it does not
 * parse: RTP, RED, FEC or RTCP), EC_ERR_UNSUPPORTED (a codec payload that is not whole 10 ms
 * blocks, longer than max_ptime_ms, or a bad DVI4 header) or EC_ERR_STATE / EC_ERR_ARG. */
int ec_media_rx_packet(ec_media_rx *st, const uint8_t *pkt, size_t len, uint32_t now_ms);
/* One output frame (ptime_ms of audio at the codec's rate) for now_ms: decoded, concealed,
 * stretched or compressed as the jitter buffer decides. Returns the sample count. */
int ec_media_rx_pull(ec_media_rx *st, uint32_t now_ms, int16_t *out, size_t cap);
/* The next feedback packet (RTCP compound) to send, 0 when none is due. */
int ec_media_rx_poll_feedback(ec_media_rx *st, uint32_t now_ms, uint8_t *out, size_t cap);
int ec_media_rx_get_stats(const ec_media_rx *st, uint32_t now_ms, ec_media_rx_stats *out);
/* Samples per ec_media_rx_pull. */
int ec_media_rx_frame_samples(const ec_media_rx *st);

/* ---- Opus counters (EC_MEDIA_WITH_OPUS builds) ---- */

typedef struct {
    uint32_t recovered_fec;  /* rx: lost 20 ms frames rebuilt from the next packet's in-band FEC */
    uint32_t plc_frames;     /* rx: lost 20 ms frames concealed by Opus PLC */
    uint32_t plc_blocks;     /* rx: 10 ms of Opus PLC for underruns and stretches */
    uint32_t bad_payloads;   /* rx: Opus payloads refused (malformed or unsupported) */
    uint32_t decode_errors;  /* rx: buffered frames libopus failed to decode (concealed) */
    uint32_t bitrate;        /* tx: the encoder's bitrate */
    uint32_t loss_perc;      /* tx: OPUS_SET_PACKET_LOSS_PERC in force */
    uint32_t inband_fec;     /* tx: 1 while in-band FEC is on */
    uint32_t encode_errors;  /* tx: frames libopus failed to encode (not sent) */
} ec_media_opus_stats;

#ifdef EC_MEDIA_WITH_OPUS
/* EC_ERR_ARG when the state is not an Opus sender / receiver. */
int ec_media_tx_opus_stats(const ec_media_tx *st, ec_media_opus_stats *out);
int ec_media_rx_opus_stats(const ec_media_rx *st, ec_media_opus_stats *out);
#endif

#endif
