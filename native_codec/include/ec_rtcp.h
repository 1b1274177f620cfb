/* ec_rtcp.h — RTCP (RFC 3550 §6): sender and receiver reports, SDES CNAME, BYE, and the generic
 * NACK transport-layer feedback message of RFC 4585 §6.2.1; the receiver statistics behind a
 * report block: sequence validation and extended sequence numbers (RFC 3550 A.1), loss and
 * fraction lost (A.3) and the interarrival jitter estimate (A.8).
 *
 * Parsing: ec_rtcp_parse walks a compound packet and checks every packet's version (2), its
 * length against the bytes left, the sizes its type requires (SR/RR report blocks, SDES chunks
 * and items, NACK FCIs) and that padding appears only on the last packet with a count that fits.
 * Anything else is EC_ERR_MALFORMED; the whole compound is then rejected, as RFC 3550 A.2 asks.
 * It never reads outside the buffer. The result is a summary (ec_rtcp_info): the first SR or
 * RR's sender, up to EC_RTCP_MAX_BLOCKS report blocks, up to EC_RTCP_MAX_NACK NACK FCIs, and
 * flags; packet types it does not know (APP, XR, ...) are skipped once their length checks out.
 *
 * Writing: each writer appends one RTCP packet at out and returns its length (a multiple of 4),
 * EC_ERR_ARG or EC_ERR_SHORT_BUFFER; callers build a compound by concatenation. */
#ifndef EC_RTCP_H
#define EC_RTCP_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_RTCP_SR 200
#define EC_RTCP_RR 201
#define EC_RTCP_SDES 202
#define EC_RTCP_BYE 203
#define EC_RTCP_APP 204
#define EC_RTCP_RTPFB 205 /* RFC 4585 transport-layer feedback; FMT 1 = generic NACK */

#define EC_RTCP_MAX_BLOCKS 4
#define EC_RTCP_MAX_NACK 16
#define EC_RTCP_REPORT_BLOCK 24

/* One report block (RFC 3550 §6.4.1). */
typedef struct {
    uint32_t ssrc;          /* source this block reports on */
    uint8_t fraction_lost;  /* Q8 fraction of the interval's expected packets lost */
    int32_t cumulative_lost; /* 24-bit signed on the wire */
    uint32_t ext_highest_seq;
    uint32_t jitter;        /* RTP timestamp units */
    uint32_t lsr;           /* middle 32 bits of the last SR's NTP timestamp, 0 if none */
    uint32_t dlsr;          /* delay since that SR, 1/65536 s */
} ec_rtcp_block;

/* Sender info of an SR (§6.4.1). */
typedef struct {
    uint32_t ntp_sec, ntp_frac;
    uint32_t rtp_ts;
    uint32_t packets, octets;
} ec_rtcp_sender_info;

typedef struct {
    uint16_t pid, blp; /* lost packet id; bitmask of the 16 following (bit i: pid + i + 1) */
} ec_rtcp_nack_fci;

#define EC_RTCP_HAS_SR 1u
#define EC_RTCP_HAS_RR 2u
#define EC_RTCP_HAS_SDES 4u
#define EC_RTCP_HAS_BYE 8u
#define EC_RTCP_HAS_NACK 16u

typedef struct {
    uint32_t flags;     /* EC_RTCP_HAS_* */
    uint32_t ssrc;      /* sender SSRC of the first SR or RR */
    ec_rtcp_sender_info sr; /* valid with EC_RTCP_HAS_SR */
    uint32_t n_blocks;  /* report blocks kept (at most EC_RTCP_MAX_BLOCKS) */
    ec_rtcp_block blocks[EC_RTCP_MAX_BLOCKS];
    uint32_t nack_sender; /* packet sender / media source SSRC of the first NACK */
    uint32_t nack_media;
    uint32_t n_nack;    /* FCIs kept (at most EC_RTCP_MAX_NACK, the first ones) */
    ec_rtcp_nack_fci nack[EC_RTCP_MAX_NACK];
    uint32_t n_packets; /* RTCP packets in the compound */
} ec_rtcp_info;

/* Parses a compound RTCP packet. Returns the number of RTCP packets in it (>= 1),
 * EC_ERR_ARG or EC_ERR_MALFORMED. */
int ec_rtcp_parse(const uint8_t *pkt, size_t len, ec_rtcp_info *info);

/* Is this an RTCP packet rather than RTP (RFC 5761 §4: second octet 192..223 = PT 64..95 with
 * the marker bit)? Returns 1 or 0; len < 2 gives 0. */
int ec_rtcp_is_rtcp(const uint8_t *pkt, size_t len);

/* SR with n report blocks (n <= 31). */
int ec_rtcp_write_sr(uint32_t ssrc, const ec_rtcp_sender_info *si, const ec_rtcp_block *blocks, size_t n,
                     uint8_t *out, size_t cap);
/* RR with n report blocks (n <= 31; 0 is an empty RR). */
int ec_rtcp_write_rr(uint32_t ssrc, const ec_rtcp_block *blocks, size_t n, uint8_t *out, size_t cap);
/* SDES with one chunk: ssrc and a CNAME item of cname_len bytes (1..255). */
int ec_rtcp_write_sdes_cname(uint32_t ssrc, const uint8_t *cname, size_t cname_len, uint8_t *out, size_t cap);
/* BYE for one SSRC, no reason. */
int ec_rtcp_write_bye(uint32_t ssrc, uint8_t *out, size_t cap);
/* Generic NACK (RFC 4585 §6.2.1) with n FCIs (1..EC_RTCP_MAX_NACK). */
int ec_rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const ec_rtcp_nack_fci *fci, size_t n,
                       uint8_t *out, size_t cap);

/* NTP timestamp of a millisecond clock: seconds and 2^-32 fractions since an arbitrary epoch
 * (the clock's zero is mapped to NTP second 0x83AA7E80, 1970-01-01). */
void ec_rtcp_ntp_from_ms(uint64_t ms, uint32_t *sec, uint32_t *frac);
/* The middle 32 bits of that NTP timestamp (LSR / the A of an RTT computation, RFC 3550 §6.4.1). */
uint32_t ec_rtcp_ntp_mid_from_ms(uint64_t ms);

/* ---- receiver statistics of one source (RFC 3550 A.1, A.3, A.8) -------------------------- */

#define EC_RTP_MAX_DROPOUT 3000
#define EC_RTP_MAX_MISORDER 100
#define EC_RTP_SEQ_MOD 65536u

typedef struct {
    uint32_t ssrc;
    uint16_t max_seq;        /* highest seq seen */
    uint16_t min_sequential; /* probation length used at init */
    uint32_t cycles;         /* count of seq wraps, shifted left 16 */
    uint32_t base_seq;
    uint32_t bad_seq;        /* last 'bad' seq + 1 */
    uint32_t probation;      /* sequential packets still needed before the source is valid */
    uint32_t received;       /* packets received (duplicates and late ones included) */
    uint32_t expected_prior; /* at the last report */
    uint32_t received_prior;
    uint32_t transit;        /* relative transit time of the previous packet */
    uint32_t jitter;         /* estimated jitter, RTP units scaled by 16 (A.8) */
    uint32_t have_transit;   /* 0 until a packet has set transit */
} ec_rtp_source;

/* Starts tracking a source whose first packet has seq. min_sequential (>= 1) is the probation
 * of A.1 (RFC 3550 suggests 2): the source becomes valid after that many packets in sequence;
 * with 1 the first packet already counts. */
void ec_rtp_source_init(ec_rtp_source *s, uint32_t ssrc, uint16_t seq, uint16_t min_sequential);
/* A.1 update_seq: returns 1 when the packet is valid (counted), 0 when it is not (probation or a
 * large jump awaiting confirmation). */
int ec_rtp_source_update_seq(ec_rtp_source *s, uint16_t seq);
/* A.8: arrival is the packet's arrival time in RTP timestamp units; call for every valid packet. */
void ec_rtp_source_update_jitter(ec_rtp_source *s, uint32_t arrival, uint32_t rtp_ts);
/* Extended highest sequence number received. */
uint32_t ec_rtp_source_ext_max(const ec_rtp_source *s);
/* Expected minus received since the start (A.3), may be negative. */
int32_t ec_rtp_source_lost(const ec_rtp_source *s);
/* Fills a report block (ssrc, fraction lost and cumulative lost per A.3 — this starts a new
 * interval —, extended highest seq, jitter); lsr and dlsr are left 0 for the caller. */
void ec_rtp_source_report(ec_rtp_source *s, ec_rtcp_block *b);

#endif
