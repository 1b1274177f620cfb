/* video_rtpjpeg.c — libFuzzer target: the RTP/JPEG depacketizer and JFIF parser (ec_rtpjpeg.h).
 * The input is a sequence of packets, each a 2-byte length then the bytes; every packet goes to a
 * depacketizer whose reassembly buffer sits between canaries. A delivered frame must lie inside the
 * buffer and be SOI ... EOI. The whole input is also offered to the JFIF parser; when it accepts
 * it, the scan is packetized and depacketized again and must come back unchanged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ec_rtpjpeg.h"
#include "fuzz_util.h"

#define CAP 6000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[CANARY + CAP + CANARY];
    ec_rtpjpeg_depack dp;
    ec_rtpjpeg_frame fr;
    size_t i = 0, plen, off, len;
    const uint8_t *p;
    canaries_set(buf, CAP);
    ec_rtpjpeg_depack_init(&dp, sizeof dp);
    while (next_packet(data, size, &i, &p, &plen)) {
        int r = ec_rtpjpeg_depack_push(&dp, p, plen, buf + CANARY, CAP);
        canaries_check(buf, CAP);
        if (r > 0) {
            const uint8_t *f = buf + CANARY;
            if (r > CAP || f[0] != 0xff || f[1] != 0xd8 || f[r - 2] != 0xff || f[r - 1] != 0xd9) {
                abort();
            }
        } else if (r != 0 && r != EC_ERR_MALFORMED && r != EC_ERR_UNSUPPORTED) {
            abort();
        }
    }
    if (ec_rtpjpeg_parse_jfif(data, size, &fr, &off, &len) == EC_OK) {
        ec_rtpjpeg_pack pk;
        uint8_t pkt[400];
        int got = 0;
        if (off + len > size || len == 0) {
            abort();
        }
        if (fr.q >= 128) {
            for (int k = 0; k < 128; k++) {
                if (fr.tables[k] == 0) {
                    return 0; /* a zero table entry: not a frame we packetize */
                }
            }
        }
        if (len > CAP - EC_RTPJPEG_FRAME_OVERHEAD) {
            return 0;
        }
        ec_rtpjpeg_pack_init(&pk, sizeof pk, 1, 26, 200 + (int)(size % 200), 0);
        if (ec_rtpjpeg_pack_frame(&pk, &fr, data + off, len, 0) != EC_OK) {
            abort();
        }
        ec_rtpjpeg_depack_init(&dp, sizeof dp);
        for (;;) {
            int n = ec_rtpjpeg_pack_next(&pk, pkt, sizeof pkt), r;
            if (n < 0) {
                abort();
            }
            if (n == 0) {
                break;
            }
            r = ec_rtpjpeg_depack_push(&dp, pkt, (size_t)n, buf + CANARY, CAP);
            canaries_check(buf, CAP);
            if (r > 0) {
                /* the rebuilt frame ends with the same scan, then EOI */
                if ((size_t)r < len + 2 || memcmp(buf + CANARY + r - 2 - len, data + off, len) != 0) {
                    abort();
                }
                got++;
            } else if (r < 0) {
                abort();
            }
        }
        if (got != 1) {
            abort();
        }
    }
    return 0;
}
