/* opus_harness.c — libopus 1.3.1 (RFC 6716) on every target: one source for Cortex-M4 (QEMU) and
 * wasm32 (Node), linked with the libopus build of host_tools/native/opus.py (fixed point, states in
 * caller memory, no heap).
 *
 * Commands (the program's arguments; DIR is the testdata folder relative to the cwd):
 *   vectors DIR  encodes speech/speech_16k.wav (16 kHz, 20 ms frames) with each configuration of
 *                CONFIGS and prints, per configuration, "<name> <count> <fnv1a-64>" lines for the
 *                packets (each as a 16-bit little-endian length and its bytes), their decoding,
 *                and the decoding with every fifth packet lost (concealed, or rebuilt from the
 *                next packet's in-band FEC). tests/test_opus.py computes the same lines with the
 *                host build (native_codec.opus).
 *   bench DIR    instructions per 20 ms frame ("bench <op> frames= mean= max=", counted where the
 *                target has a counter), state sizes ("state <name> <bytes>") and, on Cortex-M, the
 *                deepest stack each operation used ("stack <op> <bytes>"). */
#include <stddef.h>
#include <stdint.h>

#include "hutil.h"
#include "opus.h"
#include "tio.h"

#define RATE 16000
#define FRAME 320          /* 20 ms at 16 kHz */
#define MAX_DECODE 1920    /* 120 ms at 16 kHz: the longest packet */
#define MAX_PACKET 1282    /* 1275 * 1 + 7; one 20 ms frame */
#define MAX_FRAMES 160     /* speech_16k.wav is 3.1 s: 155 frames */
#define LOSS_EVERY 5       /* packets i with i % LOSS_EVERY == LOSS_AT are lost */
#define LOSS_AT 2

typedef struct {
    int complexity, bitrate, fec, loss, dtx;
} config;

/* The same list is in tests/test_opus.py. */
static const config CONFIGS[] = {
    {0, 24000, 1, 0, 0},
    {5, 24000, 1, 10, 0},
    {3, 16000, 1, 20, 1},
};
#define N_CONFIGS (sizeof CONFIGS / sizeof CONFIGS[0])

/* Caller memory for the states (8-byte aligned), checked against opus_*_get_size(). */
static uint64_t g_enc_mem[26000 / 8];
static uint64_t g_dec_mem[19000 / 8];
static int16_t g_speech[MAX_FRAMES * FRAME];
static uint32_t g_frames;
static uint8_t g_packets[MAX_FRAMES * 200];
static uint32_t g_offset[MAX_FRAMES + 1];
static char g_dir[128];

/* ---- input ---- */

static int load_speech(void)
{
    char path[192] = "";
    uint8_t raw[512];
    uint32_t samples = 0, data_left = 0;
    long r;
    int h, in_data = 0;
    scat(path, sizeof path, g_dir);
    scat(path, sizeof path, "/speech/speech_16k.wav");
    h = tio_open(path);
    if (h < 0) {
        fail(path);
        return -1;
    }
    /* RIFF header, then chunks until "data" (16-bit mono 16 kHz) */
    if (tio_read(h, raw, 12) != 12) {
        fail("wav header");
        tio_close(h);
        return -1;
    }
    while (!in_data) {
        uint32_t size;
        if (tio_read(h, raw, 8) != 8) {
            fail("wav data chunk");
            tio_close(h);
            return -1;
        }
        size = (uint32_t)raw[4] | ((uint32_t)raw[5] << 8) | ((uint32_t)raw[6] << 16) | ((uint32_t)raw[7] << 24);
        if (raw[0] == 'd' && raw[1] == 'a' && raw[2] == 't' && raw[3] == 'a') {
            in_data = 1;
            data_left = size;
        } else {
            size += size & 1u;
            while (size > 0) {
                uint32_t n = size < sizeof raw ? size : (uint32_t)sizeof raw;
                if (tio_read(h, raw, n) != (long)n) {
                    fail("wav chunk");
                    tio_close(h);
                    return -1;
                }
                size -= n;
            }
        }
    }
    while (samples < MAX_FRAMES * FRAME && data_left >= 2) {
        uint32_t want = (MAX_FRAMES * FRAME - samples) * 2u, i;
        if (want > sizeof raw) {
            want = sizeof raw;
        }
        if (want > data_left) {
            want = data_left & ~1u;
        }
        r = tio_read(h, raw, want);
        if (r <= 1) {
            break;
        }
        for (i = 0; i + 1 < (uint32_t)r; i += 2) {
            g_speech[samples++] = (int16_t)(uint16_t)((unsigned)raw[i] | ((unsigned)raw[i + 1] << 8));
        }
        data_left -= (uint32_t)r & ~1u;
    }
    tio_close(h);
    g_frames = samples / FRAME;
    return g_frames > 0 ? 0 : -1;
}

/* ---- states ---- */

static OpusEncoder *encoder(const config *c)
{
    OpusEncoder *st = (OpusEncoder *)(void *)g_enc_mem;
    if ((size_t)opus_encoder_get_size(1) > sizeof g_enc_mem) {
        fail("encoder state larger than its memory");
        return NULL;
    }
    if (opus_encoder_init(st, RATE, 1, OPUS_APPLICATION_VOIP) != OPUS_OK ||
        opus_encoder_ctl(st, OPUS_SET_BITRATE(c->bitrate)) != OPUS_OK ||
        opus_encoder_ctl(st, OPUS_SET_COMPLEXITY(c->complexity)) != OPUS_OK ||
        opus_encoder_ctl(st, OPUS_SET_INBAND_FEC(c->fec)) != OPUS_OK ||
        opus_encoder_ctl(st, OPUS_SET_DTX(c->dtx)) != OPUS_OK ||
        opus_encoder_ctl(st, OPUS_SET_PACKET_LOSS_PERC(c->loss)) != OPUS_OK) {
        fail("opus_encoder_init/ctl");
        return NULL;
    }
    return st;
}

static OpusDecoder *decoder(void)
{
    OpusDecoder *st = (OpusDecoder *)(void *)g_dec_mem;
    if ((size_t)opus_decoder_get_size(1) > sizeof g_dec_mem) {
        fail("decoder state larger than its memory");
        return NULL;
    }
    if (opus_decoder_init(st, RATE, 1) != OPUS_OK) {
        fail("opus_decoder_init");
        return NULL;
    }
    return st;
}

static void config_name(char *dst, size_t cap, const char *what, const config *c)
{
    dst[0] = '\0';
    scat(dst, cap, what);
    scat(dst, cap, "-c");
    fmt_u(dst, cap, (uint32_t)c->complexity);
    scat(dst, cap, "-");
    fmt_u(dst, cap, (uint32_t)c->bitrate);
    scat(dst, cap, "-fec");
    fmt_u(dst, cap, (uint32_t)c->fec);
    scat(dst, cap, "-loss");
    fmt_u(dst, cap, (uint32_t)c->loss);
    scat(dst, cap, "-dtx");
    fmt_u(dst, cap, (uint32_t)c->dtx);
}

/* Encodes every frame into g_packets; returns 0 on success. */
static int encode_all(const config *c)
{
    OpusEncoder *st = encoder(c);
    uint32_t f, off = 0;
    if (st == NULL) {
        return -1;
    }
    for (f = 0; f < g_frames; f++) {
        opus_int32 n;
        uint32_t room = (uint32_t)sizeof g_packets - off;
        n = opus_encode(st, g_speech + f * FRAME, FRAME, g_packets + off, (opus_int32)(room < MAX_PACKET ? room : MAX_PACKET));
        if (n < 1) {
            fail("opus_encode");
            return -1;
        }
        g_offset[f] = off;
        off += (uint32_t)n;
    }
    g_offset[g_frames] = off;
    return 0;
}

static const uint8_t *packet(uint32_t f, opus_int32 *len)
{
    *len = (opus_int32)(g_offset[f + 1] - g_offset[f]);
    return g_packets + g_offset[f];
}

/* mode 0: every packet; 1: losses concealed; 2: losses rebuilt from the next packet's FEC. */
static void decode_all(const config *c, int mode, const char *what)
{
    static int16_t pcm[MAX_DECODE];
    OpusDecoder *st = decoder();
    digest d;
    uint32_t f;
    char name[96];
    if (st == NULL) {
        return;
    }
    dg_init(&d);
    for (f = 0; f < g_frames; f++) {
        opus_int32 len;
        const uint8_t *p = packet(f, &len);
        int n;
        if (mode != 0 && f % LOSS_EVERY == LOSS_AT) {
            if (mode == 2 && f + 1 < g_frames) {
                opus_int32 next_len;
                const uint8_t *next = packet(f + 1, &next_len);
                n = opus_decode(st, next, next_len, pcm, FRAME, 1);
            } else {
                n = opus_decode(st, NULL, 0, pcm, FRAME, 0);
            }
        } else {
            n = opus_decode(st, p, len, pcm, MAX_DECODE, 0);
        }
        if (n < 0) {
            fail("opus_decode");
            return;
        }
        dg_pcm(&d, pcm, (size_t)n);
        d.n += (uint32_t)n;
    }
    config_name(name, sizeof name, what, c);
    report(name, &d);
}

static void run_vectors(void)
{
    size_t i;
    if (load_speech() != 0) {
        return;
    }
    for (i = 0; i < N_CONFIGS; i++) {
        const config *c = &CONFIGS[i];
        digest d;
        uint32_t f;
        char name[96];
        if (encode_all(c) != 0) {
            return;
        }
        dg_init(&d);
        for (f = 0; f < g_frames; f++) {
            opus_int32 len;
            const uint8_t *p = packet(f, &len);
            uint8_t le[2];
            le[0] = (uint8_t)((uint32_t)len & 0xffu);
            le[1] = (uint8_t)((uint32_t)len >> 8);
            dg_bytes(&d, le, 2);
            dg_bytes(&d, p, (size_t)len);
            d.n++;
        }
        config_name(name, sizeof name, "opus-enc", c);
        report(name, &d);
        decode_all(c, 0, "opus-dec");
        decode_all(c, 1, "opus-plc");
        decode_all(c, 2, "opus-fec");
    }
}

/* ---- bench ---- */


static void line_u(const char *kind, const char *name, const char *key, uint32_t v)
{
    char line[112] = "";
    scat(line, sizeof line, kind);
    scat(line, sizeof line, " ");
    scat(line, sizeof line, name);
    scat(line, sizeof line, key);
    fmt_u(line, sizeof line, v);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}

static void meter_report(const char *name, const meter *m)
{
    char line[112] = "bench ";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " frames=");
    fmt_u(line, sizeof line, m->frames);
    scat(line, sizeof line, " mean=");
    fmt_u(line, sizeof line, m->frames ? m->total / m->frames : 0u);
    scat(line, sizeof line, " max=");
    fmt_u(line, sizeof line, m->worst);
    scat(line, sizeof line, "\n");
    tio_puts(line);
    if (m->stack) {
        line_u("stack", name, " ", m->stack);
    }
}

/* Stack depth on Cortex-M: the region below the caller's stack pointer is painted before an
 * operation and scanned after it (the program runs on the process stack; exceptions use the main
 * stack, so nothing else writes there). Elsewhere stack_paint returns 0 and nothing is measured. */
#define STACK_PROBE (192u * 1024u)
#define STACK_GUARD 256u
#define STACK_FILL 0xa5u

#if defined(EDGECALL_QEMU) && defined(__arm__)
static inline uint8_t *stack_pointer(void)
{
    uint8_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

static __attribute__((noinline)) uint8_t *stack_paint(void)
{
    uint8_t *top = stack_pointer() - STACK_GUARD, *p = top - STACK_PROBE;
    while (p < top) {
        *(volatile uint8_t *)p++ = STACK_FILL;
    }
    return top;
}

static __attribute__((noinline)) uint32_t stack_used(const uint8_t *top)
{
    const volatile uint8_t *p = top - STACK_PROBE;
    while (p < top && *p == STACK_FILL) {
        p++;
    }
    return (uint32_t)(top - (const uint8_t *)p) + STACK_GUARD;
}
#else
static uint8_t *stack_paint(void)
{
    return NULL;
}

static uint32_t stack_used(const uint8_t *top)
{
    (void)top;
    return 0;
}
#endif

static void stack_note(meter *m, const uint8_t *top)
{
    uint32_t s;
    if (top == NULL) {
        return;
    }
    s = stack_used(top);
    if (s > m->stack) {
        m->stack = s;
    }
}

static void bench_encode(const char *name, const config *c)
{
    meter m = {0, 0, 0, 0};
    OpusEncoder *st = encoder(c);
    uint32_t f, off = 0;
    if (st == NULL) {
        return;
    }
    for (f = 0; f < g_frames; f++) {
        uint8_t *top = (f % 16 == 0) ? stack_paint() : NULL;
        uint32_t t = tio_instructions();
        opus_int32 n = opus_encode(st, g_speech + f * FRAME, FRAME, g_packets + off, MAX_PACKET);
        meter_add(&m, t, tio_instructions());
        stack_note(&m, top);
        if (n < 1) {
            fail("opus_encode");
            return;
        }
        g_offset[f] = off;
        off += (uint32_t)n;
    }
    g_offset[g_frames] = off;
    meter_report(name, &m);
}

static void bench_decode(void)
{
    static int16_t pcm[MAX_DECODE];
    meter dec = {0, 0, 0, 0}, plc = {0, 0, 0, 0}, fec = {0, 0, 0, 0};
    OpusDecoder *st = decoder();
    uint32_t f;
    if (st == NULL) {
        return;
    }
    for (f = 0; f < g_frames; f++) {
        opus_int32 len;
        const uint8_t *p = packet(f, &len);
        uint8_t *top = (f % 16 == 0 || f % LOSS_EVERY == LOSS_AT) ? stack_paint() : NULL;
        uint32_t t = tio_instructions();
        int n = opus_decode(st, p, len, pcm, MAX_DECODE, 0);
        meter_add(&dec, t, tio_instructions());
        stack_note(&dec, top);
        if (n < 0) {
            fail("opus_decode");
            return;
        }
        /* a second decoder state is not needed for the costs of concealment and FEC: the state
         * goes on from the decoded frame either way */
        if (f % LOSS_EVERY == LOSS_AT && f + 1 < g_frames) {
            opus_int32 next_len;
            const uint8_t *next = packet(f + 1, &next_len);
            top = stack_paint();
            t = tio_instructions();
            n = opus_decode(st, NULL, 0, pcm, FRAME, 0);
            meter_add(&plc, t, tio_instructions());
            stack_note(&plc, top);
            top = stack_paint();
            t = tio_instructions();
            n = n < 0 ? n : opus_decode(st, next, next_len, pcm, FRAME, 1);
            meter_add(&fec, t, tio_instructions());
            stack_note(&fec, top);
            if (n < 0) {
                fail("opus_decode (loss)");
                return;
            }
        }
    }
    meter_report("opus-dec", &dec);
    meter_report("opus-dec-plc", &plc);
    meter_report("opus-dec-fec", &fec);
}

static void run_bench(void)
{
    /* fec=1 with loss 0 codes no FEC (libopus waits for an expected loss); c5-loss10 does */
    static const config c0 = {0, 24000, 1, 0, 0}, c3 = {3, 24000, 1, 0, 0}, c5 = {5, 24000, 1, 0, 0},
                        c5fec = {5, 24000, 1, 10, 0};
    if (load_speech() != 0) {
        return;
    }
    line_u("state", "opus-enc", " ", (uint32_t)opus_encoder_get_size(1));
    line_u("state", "opus-dec", " ", (uint32_t)opus_decoder_get_size(1));
    bench_encode("opus-enc-c5", &c5);
    bench_encode("opus-enc-c3", &c3);
    bench_encode("opus-enc-c5-loss10", &c5fec);
    bench_encode("opus-enc-c0", &c0);
    bench_decode(); /* the c0 packets, 24 kbit/s, no FEC coded */
}

/* ---- main ---- */

int tio_main(void)
{
    const char *cmd = tio_cmdline();
    const char *rest = "";
    int bench = 0;
    g_dir[0] = '\0';
    tio_puts("# opus harness on ");
    tio_puts(tio_target());
    tio_puts(" (");
    tio_puts(opus_get_version_string());
    tio_puts(")\n");
    if (word_eq(cmd, "bench", &rest)) {
        bench = 1;
    } else if (!word_eq(cmd, "vectors", &rest)) {
        rest = cmd;
    }
    scat(g_dir, sizeof g_dir, *rest ? rest : "../shared/testdata");
    if (bench) {
        run_bench();
    } else {
        run_vectors();
    }
    return failures ? 1 : 0;
}
