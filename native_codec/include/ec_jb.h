/* ec_jb.h — adaptive jitter buffer for 10 ms audio blocks (the design of WebRTC NetEQ's delay
 * manager and decision logic, reduced to what a Cortex-M needs).
 *
 * Storage: a ring of n_blocks slots, one per 10 ms block (80 RTP ticks at the 8000 Hz RTP clock
 * of every codec here), addressed by timestamp. A packet of d blocks is split into d slots as it
 * arrives; each slot keeps the codec bytes of its block, the packet's sequence number, marker and
 * the block's position in the packet, so that a whole packet can be re-assembled (for FEC).
 * Played blocks stay in the ring until their slot is reused.
 *
 * Delay estimation: every packet that arrives for the first time gives a relative delay
 *     rd = (arrival - timestamp) - min over the last 4..8 s of (arrival - timestamp)
 * (the delay beyond the fastest recent packet); rd goes into a histogram of 10 ms bins whose
 * probabilities (Q30) decay by a forgetting factor of 0.9993 per packet (a faster, running-mean
 * start for the first packets). The caller feeds first arrivals only (not retransmissions nor
 * RED/FEC recoveries). The target delay is the 97th percentile of that histogram (upper edge of
 * the bin) plus a recovery allowance set by the caller (ec_jb_set_allowance: max(percentile +
 * add_ms, floor_ms)), clamped to [min_delay, max_delay] and to what the ring holds.
 *
 * Playout: the "current delay" of the block due next is dn = now - (its timestamp + the minimum
 * transit): a packet with relative delay rd is in time iff rd <= dn. Each call of ec_jb_next
 * decides the next 10 ms of output:
 *   - block present: PLAY it; on the first block of an output frame, MERGE it with the next
 *     one (compress: 20 ms of audio in 10 ms) or STRETCH (play 10 ms of concealment-style
 *     expansion, the block stays). Time-scale steps are audible in speech and inaudible in a
 *     pause, so they wait for the caller's EC_JB_NEXT_QUIET (the output is in a pause):
 *     a merge when dn >= target + 20 ms has held for 25 frame starts in a row, or at once when
 *     dn >= target + 80 ms, in a quiet block; without a pause for 150 more frame starts (3 s),
 *     anyway. A stretch when dn < target, in a quiet block; at once when dn is below the 90th
 *     percentile of the histogram (more than 10 % of packets would come late) or after 150
 *     frame starts without a pause.
 *   - block missing, later blocks buffered: CONCEAL it and move on (a loss) — or, when the
 *     output is already concealing and skipping the gap still leaves dn >= target, skip the
 *     missing blocks (declared lost without output) and PLAY the next buffered one;
 *   - block missing, nothing later buffered (underrun): CONCEAL without moving on, so a late
 *     packet still plays when it comes and the delay grows by the time waited.
 * With a fixed delay (fixed_delay_ms > 0) none of that adaptation happens: playout starts
 * fixed_delay_ms after the fastest packet seen before the start, then every block is played or
 * concealed at its time; a packet that comes after its first block's time is late.
 *
 * Times are uint32 milliseconds and timestamps uint32 RTP ticks; both may wrap. */
#ifndef EC_JB_H
#define EC_JB_H

#include <stddef.h>
#include <stdint.h>

#include "ec_err.h"

#define EC_JB_BLOCK_TS 80     /* RTP ticks per 10 ms block (8000 Hz clock) */
#define EC_JB_BLOCK_BYTES 80  /* the largest block: 10 ms of G.711 or G.722 */
#define EC_JB_HIST_BINS 48    /* 10 ms bins: relative delays up to 480 ms */
#define EC_JB_MIN_BLOCKS 4
#define EC_JB_MAX_BLOCKS 200  /* 2 s */

#define EC_JB_F_FULL 1u
#define EC_JB_F_FIRST 2u     /* first block of its packet */
#define EC_JB_F_MARKER 4u    /* the packet's RTP marker bit */
#define EC_JB_F_RECOVERED 8u /* came from RED or FEC, not from the packet itself */

typedef struct {
    uint32_t ts;    /* timestamp of the block's first sample */
    uint16_t seq;   /* sequence number of its packet */
    uint8_t len;    /* bytes in data */
    uint8_t flags;  /* EC_JB_F_* */
    uint8_t index;  /* position in the packet */
    uint8_t count;  /* blocks in the packet */
    uint8_t pad[2];
    uint8_t data[EC_JB_BLOCK_BYTES];
} ec_jb_block;

/* What ec_jb_insert did with a packet. */
#define EC_JB_STORED 0   /* at least one block stored */
#define EC_JB_LATE 1     /* every block's time had passed */
#define EC_JB_DUPLICATE 2
#define EC_JB_OVERFLOW 3 /* too far ahead of playout for the ring (fixed delay: dropped) */
#define EC_JB_FLUSHED 4  /* too far ahead (adaptive): the buffer restarted from this packet */

/* Decisions of ec_jb_next. */
#define EC_JB_SILENCE 0 /* not playing yet (buffering): output silence */
#define EC_JB_PLAY 1    /* decode a */
#define EC_JB_CONCEAL 2 /* the block is missing: conceal */
#define EC_JB_STRETCH 3 /* expand by 10 ms (concealment-style), a stays for later */
#define EC_JB_MERGE 4   /* decode a and b, output their 10 ms cross-fade */

typedef struct {
    int kind;
    const ec_jb_block *a, *b;
    uint32_t skipped; /* blocks declared lost without output just before a (adaptive skip) */
} ec_jb_action;

typedef struct {
    uint32_t late, duplicates, overflow, flushes;
    uint32_t played, concealed, stretched, compressed, skipped;
    uint32_t packets; /* stored, first arrivals */
} ec_jb_stats;

typedef struct {
    uint32_t magic;
    uint32_t n_blocks;
    uint32_t blocks_off;     /* byte offset from this struct to the ring */
    int32_t fixed_delay_ms;  /* > 0: fixed; 0: adaptive */
    int32_t min_delay_ms;
    int32_t max_delay_ms;
    uint8_t started;         /* a packet has been stored */
    uint8_t playing;         /* output has started */
    uint8_t last_concealed;  /* the previous output block was concealment */
    uint8_t pad;
    uint32_t origin;         /* slot = ((ts - origin) / 80) % n_blocks */
    uint32_t play_ts;        /* timestamp of the next block to play */
    uint32_t end_ts;         /* end of the newest stored block */
    uint32_t transit_ref;    /* fixed: minimum transit before start; adaptive: min of the windows */
    uint32_t transit_cur, transit_prev; /* window minima (adaptive) */
    uint32_t window_ms;      /* start of the current 1 s window */
    uint32_t hist_count;     /* packets in the histogram (saturates) */
    int32_t target_ms;
    int32_t urgent_ms;       /* a stretch does not wait for a pause below this delay (the 90th percentile) */
    uint32_t high_run;       /* frame starts in a row with dn >= target + 20 ms */
    uint32_t low_run;        /* frame starts in a row with dn < target - 10 ms */
    int32_t add_ms, floor_ms; /* recovery allowance: target = max(percentile + add_ms, floor_ms) */
    uint32_t hist[EC_JB_HIST_BINS]; /* Q30 probabilities */
    ec_jb_stats st;
} ec_jb;

/* State size for a ring of n_blocks (EC_JB_MIN_BLOCKS..EC_JB_MAX_BLOCKS), the ring included. */
size_t ec_jb_state_size(uint32_t n_blocks);
/* fixed_delay_ms: 0 (adaptive) or 1..(n_blocks - 2) * 10; min/max bound the adaptive target
 * (max 0 = as much as the ring holds). Returns EC_OK, EC_ERR_ARG or EC_ERR_SHORT_BUFFER. */
int ec_jb_init(ec_jb *jb, size_t size, uint32_t n_blocks, int fixed_delay_ms, int min_delay_ms, int max_delay_ms);

/* Stores a packet: timestamp ts (already mapped to the buffer's timeline), payload of len bytes
 * made of `extra` leading bytes that belong to the first block (e.g. a DVI4 header) and then
 * blocks of block_bytes each (len - extra must be a positive multiple of block_bytes, at most
 * 255 blocks). flags: EC_JB_F_MARKER / EC_JB_F_RECOVERED. update_delay: 1 to feed the delay
 * histogram with this arrival. Returns EC_JB_STORED .. EC_JB_FLUSHED, or EC_ERR_ARG /
 * EC_ERR_STATE. */
int ec_jb_insert(ec_jb *jb, uint32_t now_ms, uint32_t ts, uint16_t seq, const uint8_t *payload, size_t len,
                 size_t extra, size_t block_bytes, unsigned flags, int update_delay);

/* Flags of ec_jb_next. */
#define EC_JB_NEXT_FIRST 1 /* the first block of an output frame: adaptation is decided there */
#define EC_JB_NEXT_QUIET 2 /* the output is quiet now: a good place for a time-scale step */

/* The next 10 ms of output; flags: EC_JB_NEXT_*. Returns EC_OK or EC_ERR_STATE / EC_ERR_ARG. */
int ec_jb_next(ec_jb *jb, uint32_t now_ms, int flags, ec_jb_action *act);

/* The stored block with this timestamp, or NULL. */
const ec_jb_block *ec_jb_find(const ec_jb *jb, uint32_t ts);
/* The stored first block of the packet with this sequence number (ring scan), or NULL. */
const ec_jb_block *ec_jb_find_seq(const ec_jb *jb, uint16_t seq);
/* Re-assembles the packet whose first block is b into out; returns its length or
 * EC_ERR_SHORT_BUFFER / EC_ERR_MALFORMED (a block of it is missing from the ring). */
int ec_jb_packet(const ec_jb *jb, const ec_jb_block *b, uint8_t *out, size_t cap);

/* How far ts is off the buffer's 10 ms grid (0..79 ticks; 0 before the first packet). */
uint32_t ec_jb_misalignment(const ec_jb *jb, uint32_t ts);
/* The recovery allowance (adaptive only): the target becomes max(percentile + add_ms, floor_ms)
 * (e.g. add_ms: the distance of RED's redundant copy; floor_ms: when retransmissions come). */
void ec_jb_set_allowance(ec_jb *jb, int add_ms, int floor_ms);
/* The relative delay (ms, >= 0) of a packet with timestamp ts arriving at now_ms: its transit
 * beyond the minimum transit (0 before the first packet). */
int ec_jb_relative_delay_ms(const ec_jb *jb, uint32_t now_ms, uint32_t ts);
/* Current target delay and buffered audio (ms), and whether output has started. */
int ec_jb_target_ms(const ec_jb *jb);
int ec_jb_buffered_ms(const ec_jb *jb);
/* The current delay dn (ms) of the next block to play, given now. */
int ec_jb_delay_ms(const ec_jb *jb, uint32_t now_ms);
/* Forgets every stored block and restarts buffering (keeps statistics and the histogram). */
void ec_jb_reset_playout(ec_jb *jb);

#endif
