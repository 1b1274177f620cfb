/* fuzz_fec.c — libFuzzer target for the RFC 5109 FEC payload parser and the parity recovery
 * (fec.c): the parser never reads outside the input and its level-0 data lies inside it; recovery
 * with packets cut from the input stays inside every buffer it is given. */
#include <stddef.h>
#include <stdint.h>

#include "ec_fec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ec_fec_header h;
    ec_fec_source src[EC_FEC_MAX_GROUP];
    ec_fec_recovered rec;
    uint8_t out[512];
    int count, r;
    unsigned i, k = 0;
    if (ec_fec_parse(data, size, &h) != EC_OK) {
        return 0;
    }
    if ((size_t)h.data_off + h.prot_len > size || h.levels == 0u || h.mask == 0u) {
        __builtin_trap();
    }
    count = ec_fec_mask_count(h.mask);
    for (i = 0; i < EC_FEC_MAX_GROUP && (int)k + 1 < count; i++) {
        if (h.mask & ((uint64_t)1 << i)) {
            size_t off = (i * 7u) % size, len = size - off < 40u ? size - off : 40u;
            src[k].seq = (uint16_t)(h.sn_base + i);
            src[k].marker = (uint8_t)(i & 1u);
            src[k].pt = (uint8_t)i;
            src[k].ts = i * 160u;
            src[k].payload = data + off;
            src[k].len = (uint16_t)len;
            k++;
        }
    }
    r = ec_fec_recover(&h, data, size, src, k, &rec, out, sizeof out);
    if (r >= 0 && (r > (int)h.prot_len || r > (int)sizeof out || rec.len != (uint16_t)r)) {
        __builtin_trap();
    }
    return 0;
}
