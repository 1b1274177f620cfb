/* fuzz_media_rx.c — libFuzzer target for the whole receive path (media.c: RTP, RED, FEC, RTCP
 * parsing, sequence and timestamp tracking, jitter buffer, decoding, concealment, feedback) and
 * the sender's feedback parser. The input is a sequence of packets, each a 1-byte time step (ms,
 * its low 6 bits), a 2-byte length and the bytes; the receiver (G.722, RED 96, FEC 97, NACK on) pulls a frame every
 * 20 ms of that clock. Built with EC_MEDIA_WITH_OPUS (and libopus), the same packets also go to an
 * Opus receiver (payload type 111: RFC 7587 depacketisation, Opus packet validation, in-band FEC and
 * PLC decoding) and an Opus sender's feedback path (adaptation of the encoder). Nothing may read or
 * write outside its buffers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "ec_media.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint64_t rxm[2048], txm[1024];
    ec_media_rx *rx = (ec_media_rx *)(void *)rxm;
    ec_media_tx *tx = (ec_media_tx *)(void *)txm;
    ec_media_rx_config rc = {EC_MEDIA_G722, 20, 40, 200, 0, 0, 0, 1, 20, 2, 96, 97, 200, 0x42u, 0};
    ec_media_tx_config tc = {EC_MEDIA_G722, 20, 40, 1, 4, 1, 10, 1, 64000, 96, 97, 200, 0x1234u, 0, 0, 0, 0, 0, 0, 0};
#ifdef EC_MEDIA_WITH_OPUS
    static uint64_t orxm[4096], otxm[6144];
    ec_media_rx *orx = (ec_media_rx *)(void *)orxm;
    ec_media_tx *otx = (ec_media_tx *)(void *)otxm;
    ec_media_rx_config orc = {EC_MEDIA_OPUS, 20, 20, 200, 0, 0, 0, 1, 20, 0, 96, 97, 200, 0x43u, 111};
    ec_media_tx_config otc = {EC_MEDIA_OPUS, 20, 20, 0, 0, 1, 10, 1, 0, 96, 97, 200, 0x1234u, 0, 0, 0, 111, 24000, 0, 0};
    if (ec_media_rx_state_size(&orc) > sizeof orxm || ec_media_tx_state_size(&otc) > sizeof otxm ||
        ec_media_rx_init(orx, sizeof orxm, &orc) != EC_OK || ec_media_tx_init(otx, sizeof otxm, &otc) != EC_OK) {
        abort();
    }
#endif
    int16_t pcm[320];
    uint8_t fb[EC_MEDIA_MAX_PACKET];
    uint32_t now = 0, next_pull = 20;
    size_t off = 0;
    if (ec_media_rx_state_size(&rc) > sizeof rxm || ec_media_tx_state_size(&tc) > sizeof txm ||
        ec_media_rx_init(rx, sizeof rxm, &rc) != EC_OK || ec_media_tx_init(tx, sizeof txm, &tc) != EC_OK) {
        abort();
    }
    while (size - off >= 3u) {
        size_t len = ((size_t)data[off + 1] << 8 | data[off + 2]) % 1500u;
        uint8_t *pkt;
        now += data[off] & 0x3fu;
        off += 3;
        if (len > size - off) {
            len = size - off;
        }
        pkt = (uint8_t *)malloc(len ? len : 1u); /* exact size, so ASan sees any over-read */
        if (pkt == NULL) {
            abort();
        }
        for (size_t i = 0; i < len; i++) {
            pkt[i] = data[off + i];
        }
        (void)ec_media_rx_packet(rx, pkt, len, now);
        (void)ec_media_tx_on_packet(tx, pkt, len, now);
#ifdef EC_MEDIA_WITH_OPUS
        (void)ec_media_rx_packet(orx, pkt, len, now);
        (void)ec_media_tx_on_packet(otx, pkt, len, now);
#endif
        free(pkt);
        off += len;
        while ((int32_t)(now - next_pull) >= 0) {
            if (ec_media_rx_pull(rx, next_pull, pcm, 320) != 320) {
                __builtin_trap();
            }
            while (ec_media_rx_poll_feedback(rx, next_pull, fb, sizeof fb) > 0) {
            }
#ifdef EC_MEDIA_WITH_OPUS
            if (ec_media_rx_pull(orx, next_pull, pcm, 320) != 320) {
                __builtin_trap();
            }
            while (ec_media_rx_poll_feedback(orx, next_pull, fb, sizeof fb) > 0) {
            }
#endif
            next_pull += 20u;
        }
        while (ec_media_tx_poll(tx, now, fb, sizeof fb) > 0) {
        }
#ifdef EC_MEDIA_WITH_OPUS
        while (ec_media_tx_poll(otx, now, fb, sizeof fb) > 0) {
        }
#endif
    }
    return 0;
}
