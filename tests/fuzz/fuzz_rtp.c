/* fuzz_rtp.c — libFuzzer target for the RTP header parser (RFC 3550 §5.1, rtp.c): whatever the
 * input, ec_rtp_parse stays inside it; what it accepts has a consistent layout and writes back
 * (without extension and padding) to a packet that parses to the same fields and payload. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ec_rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_rtp_header h, h2;
    static uint8_t out[65536 + 64];
    int n;
    if (ec_rtp_parse(data, size, &h) != EC_OK) {
        return 0;
    }
    if ((size_t)h.payload_off + h.payload_len + h.pad_len != size || h.payload_off < EC_RTP_HEADER + 4u * h.cc) {
        __builtin_trap();
    }
    n = ec_rtp_write(&h, data + h.payload_off, h.payload_len, out, sizeof out);
    if (n < 0 || ec_rtp_parse(out, (size_t)n, &h2) != EC_OK || h2.seq != h.seq || h2.ts != h.ts ||
        h2.ssrc != h.ssrc || h2.pt != h.pt || h2.marker != h.marker || h2.cc != h.cc ||
        h2.payload_len != h.payload_len || memcmp(out + h2.payload_off, data + h.payload_off, h.payload_len) != 0 ||
        memcmp(h2.csrc, h.csrc, 4u * h.cc) != 0) {
        __builtin_trap();
    }
    return 0;
}
