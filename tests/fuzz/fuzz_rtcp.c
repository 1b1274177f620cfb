/* fuzz_rtcp.c — libFuzzer target for the RTCP compound parser (RFC 3550 §6, A.2; RFC 4585 §6.2.1
 * generic NACK; rtcp.c): it never reads outside the input, keeps its summary within bounds, and
 * what it accepts re-serialises (SR/RR report blocks, NACK FCIs) into packets it accepts again. */
#include <stddef.h>
#include <stdint.h>

#include "ec_rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_rtcp_info info, again;
    uint8_t out[1024];
    int n, m = 0;
    (void)ec_rtcp_is_rtcp(data, size);
    n = ec_rtcp_parse(data, size, &info);
    if (n < 0) {
        return 0;
    }
    if (n == 0 || (size_t)n * 4u > size || info.n_blocks > EC_RTCP_MAX_BLOCKS || info.n_nack > EC_RTCP_MAX_NACK) {
        __builtin_trap();
    }
    if (info.flags & EC_RTCP_HAS_SR) {
        m = ec_rtcp_write_sr(info.ssrc, &info.sr, info.blocks, info.n_blocks, out, sizeof out);
    } else {
        m = ec_rtcp_write_rr(info.ssrc, info.blocks, info.n_blocks, out, sizeof out);
    }
    if (m < 0) {
        __builtin_trap();
    }
    if (info.n_nack > 0u) {
        int k = ec_rtcp_write_nack(info.nack_sender, info.nack_media, info.nack, info.n_nack, out + m,
                                   sizeof out - (size_t)m);
        if (k < 0) {
            __builtin_trap();
        }
        m += k;
    }
    if (ec_rtcp_parse(out, (size_t)m, &again) < 0 || again.n_blocks != info.n_blocks || again.n_nack != info.n_nack ||
        again.ssrc != info.ssrc) {
        __builtin_trap();
    }
    return 0;
}
