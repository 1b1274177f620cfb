/* video_h264.c — libFuzzer target: the H.264 RTP depacketizer and packetizer (ec_rtph264.h).
 * The input is a sequence of packets (2-byte length, bytes) pushed into a depacketizer whose access
 * unit buffer sits between canaries; a delivered access unit must lie inside it and start with a
 * start code. The whole input is also packetized as an Annex B access unit (when it parses) with an
 * MTU taken from its length, and the packets must depacketize to exactly one access unit: its NAL
 * units, each after a 4-byte start code. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec_rtph264.h"
#include "fuzz_util.h"

#define CAP 8192

static uint8_t g_buf[CANARY + CAP + CANARY];

/* The NAL units of an Annex B buffer with 4-byte start codes (the depacketizer's output form). */
static size_t normalize(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i + 2 < n && !(in[i] == 0 && in[i + 1] == 0 && in[i + 2] == 1)) {
        i++;
    }
    while (i + 2 < n) {
        size_t s = i + 3, e = s, end;
        while (e + 2 < n && !(in[e] == 0 && in[e + 1] == 0 && in[e + 2] == 1)) {
            e++;
        }
        if (e + 2 >= n) {
            e = n;
        }
        end = e;
        while (end > s && in[end - 1] == 0) {
            end--;
        }
        if (end > s) {
            out[o++] = 0;
            out[o++] = 0;
            out[o++] = 0;
            out[o++] = 1;
            memcpy(out + o, in + s, end - s);
            o += end - s;
        }
        i = e;
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_rtph264_depack dp;
    ec_rtph264_pack pk;
    size_t i = 0, plen;
    const uint8_t *p;
    canaries_set(g_buf, CAP);
    ec_rtph264_depack_init(&dp, sizeof dp);
    while (next_packet(data, size, &i, &p, &plen)) {
        int r = ec_rtph264_depack_push(&dp, p, plen, g_buf + CANARY, CAP);
        canaries_check(g_buf, CAP);
        if (r > 0 && (r > CAP || r < 5 || memcmp(g_buf + CANARY, "\0\0\0\1", 4) != 0)) {
            abort();
        }
        if (r < 0 && r != EC_ERR_MALFORMED) {
            abort();
        }
    }
    if (size > 0 && size < CAP / 2) {
        ec_rtph264_pack_init(&pk, sizeof pk, 7, 96, EC_RTPH264_MIN_MTU + (int)(size % 300), 65530);
        if (ec_rtph264_pack_au(&pk, data, size, 1234) == EC_OK) {
            uint8_t pkt[400], *want = malloc(2 * size + 8);
            size_t wn = normalize(data, size, want);
            int got = 0;
            ec_rtph264_depack_init(&dp, sizeof dp);
            for (;;) {
                int n = ec_rtph264_pack_next(&pk, pkt, sizeof pkt), r;
                if (n < 0) {
                    abort();
                }
                if (n == 0) {
                    break;
                }
                r = ec_rtph264_depack_push(&dp, pkt, (size_t)n, g_buf + CANARY, CAP);
                canaries_check(g_buf, CAP);
                if (r < 0) {
                    abort();
                }
                if (r > 0) {
                    if ((size_t)r != wn || memcmp(g_buf + CANARY, want, wn) != 0) {
                        abort();
                    }
                    got++;
                }
            }
            if (got != 1) {
                abort();
            }
            free(want);
        }
    }
    return 0;
}
