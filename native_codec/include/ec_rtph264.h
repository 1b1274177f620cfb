/* ec_rtph264.h — RTP payload format for H.264 video (RFC 6184), non-interleaved mode
 * (packetization-mode=1), and the RTCP Picture Loss Indication (RFC 4585 §6.3.1).
 *
 * Packetizer: takes one access unit in Annex B byte-stream form (H.264 Annex B: NAL units after
 * 00 00 01 or 00 00 00 01 start codes) and sends each NAL unit as a Single NAL Unit packet
 * (§5.6) when it fits the MTU, else as FU-A fragments (§5.8). The marker bit is set on the last
 * packet of the access unit (§5.1).
 *
 * Depacketizer: Single NAL Unit packets, STAP-A (§5.7.1) and FU-A; an access unit ends with the
 * marker bit and is returned in Annex B form with 4-byte start codes. Sequence numbers detect
 * loss: the access unit that lost a packet (or an FU-A fragment, or its marker packet) is dropped,
 * `needs_keyframe` is set, and later access units are dropped too until one that carries an IDR
 * slice (nal_unit_type 5) arrives whole; the caller sends a PLI (ec_rtph264_pli) while it is set.
 * Out-of-order and duplicate packets (older sequence numbers) are ignored: reordering belongs to
 * the jitter buffer in front of this depacketizer. STAP-B, MTAP and FU-B (interleaved mode) are
 * counted as unsupported and make the access unit incomplete. */
#ifndef EC_RTPH264_H
#define EC_RTPH264_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_RTPH264_MIN_MTU 32
#define EC_RTPH264_PLI_SIZE 12

typedef struct {
    uint32_t magic;
    uint32_t ssrc;
    uint32_t ts;
    uint16_t seq;        /* sequence number of the next packet */
    uint16_t mtu;
    uint8_t pt;
    uint8_t active;
    uint8_t pad_[2];
    const uint8_t *au;   /* the caller's access unit (kept until the last packet) */
    uint32_t au_len;
    uint32_t nal;        /* current NAL unit: [nal, nal_end) */
    uint32_t nal_end;
    uint32_t next;       /* start of the NAL unit after it, au_len when none */
    uint32_t frag;       /* bytes of the current NAL unit already sent (after its header) */
} ec_rtph264_pack;

size_t ec_rtph264_pack_state_size(void);
/* mtu: EC_RTPH264_MIN_MTU..65535 (the whole RTP packet); pt 0..127. */
int ec_rtph264_pack_init(ec_rtph264_pack *st, size_t st_size, uint32_t ssrc, int pt, int mtu, uint16_t seq);
/* Starts an access unit (Annex B, the first NAL unit after a start code; leading zero bytes
 * allowed). ts: RTP timestamp (90 kHz). EC_ERR_MALFORMED when no NAL unit is found,
 * EC_ERR_UNSUPPORTED for a NAL unit of type 0 or 24..31 (unspecified in H.264, packet types in
 * RFC 6184). */
int ec_rtph264_pack_au(ec_rtph264_pack *st, const uint8_t *annexb, size_t len, uint32_t ts);
/* Writes the next packet into pkt (cap >= mtu); returns its length, 0 when the AU is done. */
int ec_rtph264_pack_next(ec_rtph264_pack *st, uint8_t *pkt, size_t cap);

typedef struct {
    uint32_t magic;
    uint8_t started;        /* a packet has been seen: expected_seq is valid */
    uint8_t active;         /* an access unit is being collected */
    uint8_t broken;         /* it lost data: drop it */
    uint8_t in_fu;          /* an FU-A NAL unit is open */
    uint8_t has_idr;        /* the access unit holds an IDR slice */
    uint8_t needs_keyframe; /* loss seen; cleared when an IDR access unit is delivered */
    uint16_t expected_seq;
    uint32_t ts;
    uint32_t ssrc;          /* media source of the last packet (for PLI) */
    uint32_t len;           /* bytes of the access unit so far */
    uint32_t delivered;     /* access units returned */
    uint32_t dropped;       /* access units dropped */
    uint32_t lost;          /* packets missing by sequence number */
    uint32_t unsupported;   /* packets of types this receiver does not handle */
} ec_rtph264_depack;

size_t ec_rtph264_depack_state_size(void);
int ec_rtph264_depack_init(ec_rtph264_depack *st, size_t st_size);
/* Takes one RTP packet; `au` (cap bytes) is the reassembly buffer: pass the same one with every
 * packet. Returns the length of a complete access unit now in au[0..n) (Annex B), 0 when none
 * completed, EC_ERR_MALFORMED for a packet that does not parse (the access unit it belongs to is
 * dropped as if the packet were lost). */
int ec_rtph264_depack_push(ec_rtph264_depack *st, const uint8_t *pkt, size_t len, uint8_t *au, size_t cap);
/* 1 while the depacketizer waits for a keyframe (send PLIs), else 0. */
int ec_rtph264_needs_keyframe(const ec_rtph264_depack *st);

/* RTCP Payload-Specific Feedback, FMT 1 = PLI (RFC 4585 §6.1, §6.3.1): V=2, P=0, FMT=1, PT=206,
 * length 2, SSRC of packet sender, SSRC of media source. Writes 12 bytes; returns 12. */
int ec_rtph264_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out, size_t cap);

#endif
