/* vectors.c — the native_codec test harness: one source for host, Cortex-M (QEMU) and wasm32.
 *
 * It streams the reference vectors of ../shared/testdata through each codec in small buffers
 * (the Cortex-M0 target has 16 KB of RAM) and prints one line per vector:
 *     <name> <count> <fnv1a-64 of the output bytes, little-endian samples>
 * so every target's output can be compared as text, and with digests of the reference files.
 * Commands (the program's arguments): `vectors DIR` (default), `errors` (API error paths: bad
 * arguments, short buffers, canaries around every output), `bench DIR` (instructions per 20 ms
 * frame, where the target has a counter). DIR is the testdata folder relative to the cwd. */
#include <stddef.h>
#include <stdint.h>

#include "ec_adpcm.h"
#include "ec_g711.h"
#include "ec_g722.h"
#include "ec_plc.h"
#include "hutil.h"
#include "tio.h"

#define CHUNK 160 /* samples per read: 20 ms at 8 kHz, 10 ms at 16 kHz */

/* ---- small utilities (no libc) ---- */

static char g_dir[128];

static int open_data(const char *rel)
{
    char path[192] = "";
    int h;
    scat(path, sizeof path, g_dir);
    scat(path, sizeof path, "/");
    scat(path, sizeof path, rel);
    h = tio_open(path);
    if (h < 0) {
        fail(path);
    }
    return h;
}

/* Reads up to max little-endian 16-bit words; returns the count. */
static size_t read_le16(int h, int16_t *dst, size_t max)
{
    uint8_t raw[2 * CHUNK];
    size_t i, got = 0;
    long r;
    if (max > CHUNK) {
        max = CHUNK;
    }
    while (got < 2 * max) {
        r = tio_read(h, raw + got, 2 * max - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    for (i = 0; i < got / 2; i++) {
        dst[i] = (int16_t)(uint16_t)((unsigned)raw[2 * i] | ((unsigned)raw[2 * i + 1] << 8));
    }
    return got / 2;
}

/* Positions h at the start of a WAV file's data chunk; returns 0 on success. */
static int skip_wav_header(int h)
{
    uint8_t hdr[12];
    uint8_t ck[8];
    if (tio_read(h, hdr, 12) != 12) {
        return -1;
    }
    for (;;) {
        uint32_t size;
        if (tio_read(h, ck, 8) != 8) {
            return -1;
        }
        size = (uint32_t)ck[4] | ((uint32_t)ck[5] << 8) | ((uint32_t)ck[6] << 16) | ((uint32_t)ck[7] << 24);
        if (ck[0] == 'd' && ck[1] == 'a' && ck[2] == 't' && ck[3] == 'a') {
            return 0;
        }
        size += size & 1u;
        while (size > 0) {
            uint8_t skip[32];
            long r = tio_read(h, skip, size > 32u ? 32u : size);
            if (r <= 0) {
                return -1;
            }
            size -= (uint32_t)r;
        }
    }
}

/* ---- vectors ---- */

static void v_g711(int law, const char *lawname, const char *codes_file)
{
    int16_t pcm[CHUNK], back[CHUNK];
    uint8_t codes[CHUNK];
    digest enc, dec, encdec;
    size_t n, i;
    int h = open_data("itu-stl/g711/sweep.src");
    char name[48];
    if (h < 0) {
        return;
    }
    dg_init(&enc);
    dg_init(&encdec);
    while ((n = read_le16(h, pcm, CHUNK)) > 0) {
        if (ec_g711_encode(law, pcm, n, codes, sizeof codes) != (int)n ||
            ec_g711_decode(law, codes, n, back, CHUNK) != (int)n) {
            fail("g711 call");
            break;
        }
        dg_bytes(&enc, codes, n);
        dg_pcm(&encdec, back, n);
        enc.n += (uint32_t)n;
        encdec.n += (uint32_t)n;
    }
    tio_close(h);
    h = open_data(codes_file);
    if (h < 0) {
        return;
    }
    dg_init(&dec);
    while ((n = read_le16(h, pcm, CHUNK)) > 0) {
        for (i = 0; i < n; i++) {
            codes[i] = (uint8_t)((uint16_t)pcm[i] & 0xffu);
        }
        ec_g711_decode(law, codes, n, back, CHUNK);
        dg_pcm(&dec, back, n);
        dec.n += (uint32_t)n;
    }
    tio_close(h);
    name[0] = '\0';
    scat(name, sizeof name, "g711-");
    scat(name, sizeof name, lawname);
    scat(name, sizeof name, "-enc");
    report(name, &enc);
    name[0] = '\0';
    scat(name, sizeof name, "g711-");
    scat(name, sizeof name, lawname);
    scat(name, sizeof name, "-dec");
    report(name, &dec);
    name[0] = '\0';
    scat(name, sizeof name, "g711-");
    scat(name, sizeof name, lawname);
    scat(name, sizeof name, "-encdec");
    report(name, &encdec);
}

static void v_g722_enc(void)
{
    ec_g722_enc st;
    int16_t pcm[CHUNK];
    uint8_t out[CHUNK / 2];
    digest d;
    size_t n;
    int h = open_data("itu-stl/g722/inpsp.bin");
    if (h < 0) {
        return;
    }
    dg_init(&d);
    ec_g722_enc_init(&st, sizeof st, 64000);
    while ((n = read_le16(h, pcm, CHUNK)) > 0) {
        int r = ec_g722_encode(&st, pcm, n & ~(size_t)1, out, sizeof out);
        if (r < 0) {
            fail("g722 encode");
            break;
        }
        dg_bytes(&d, out, (size_t)r);
        d.n += (uint32_t)r;
    }
    tio_close(h);
    report("g722-enc", &d);
}

static void v_g722_dec(int bitrate, const char *name)
{
    ec_g722_dec st;
    int16_t words[CHUNK / 2], pcm[CHUNK];
    uint8_t codes[CHUNK / 2];
    digest d;
    size_t n, i;
    int h = open_data("itu-stl/g722/codspw.cod");
    if (h < 0) {
        return;
    }
    dg_init(&d);
    ec_g722_dec_init(&st, sizeof st, bitrate);
    while ((n = read_le16(h, words, CHUNK / 2)) > 0) {
        int r;
        for (i = 0; i < n; i++) {
            codes[i] = (uint8_t)((uint16_t)words[i] & 0xffu);
        }
        r = ec_g722_decode(&st, codes, n, pcm, CHUNK);
        if (r < 0) {
            fail("g722 decode");
            break;
        }
        dg_pcm(&d, pcm, (size_t)r);
        d.n += (uint32_t)r;
    }
    tio_close(h);
    report(name, &d);
}

static void v_adpcm(const char *wav)
{
    ec_adpcm enc, dec, wenc, wdec;
    int16_t pcm[CHUNK], back[CHUNK];
    int16_t block_in[2 * CHUNK + 1]; /* 321 samples: one WAV IMA block of 164 bytes */
    uint8_t pay[EC_DVI4_HEADER + CHUNK / 2], blk[EC_IMA_WAV_HEADER + CHUNK];
    int16_t block_out[2 * CHUNK + 1];
    digest dp, dd, wp, wd;
    size_t n, fill = 0;
    int h = open_data(wav);
    if (h < 0 || skip_wav_header(h) != 0) {
        fail("wav header");
        return;
    }
    ec_adpcm_init(&enc, sizeof enc);
    ec_adpcm_init(&dec, sizeof dec);
    ec_adpcm_init(&wenc, sizeof wenc);
    ec_adpcm_init(&wdec, sizeof wdec);
    dg_init(&dp);
    dg_init(&dd);
    dg_init(&wp);
    dg_init(&wd);
    while ((n = read_le16(h, pcm, CHUNK)) > 0) {
        size_t even = n & ~(size_t)1, i;
        int r = ec_dvi4_encode(&enc, pcm, even, pay, sizeof pay);
        if (r < 0 || ec_dvi4_decode(&dec, pay, (size_t)r, back, CHUNK) != (int)even) {
            fail("dvi4");
            break;
        }
        dg_bytes(&dp, pay, (size_t)r);
        dp.n += (uint32_t)r;
        dg_pcm(&dd, back, even);
        dd.n += (uint32_t)even;
        for (i = 0; i < n; i++) {
            block_in[fill++] = pcm[i];
            if (fill == 2 * CHUNK + 1) {
                if (ec_ima_wav_encode_block(&wenc, block_in, fill, blk, sizeof blk) != (int)sizeof blk ||
                    ec_ima_wav_decode_block(&wdec, blk, sizeof blk, block_out, fill) != (int)fill) {
                    fail("ima-wav");
                }
                dg_bytes(&wp, blk, sizeof blk);
                wp.n += (uint32_t)sizeof blk;
                dg_pcm(&wd, block_out, fill);
                wd.n += (uint32_t)fill;
                fill = 0;
            }
        }
    }
    tio_close(h);
    report("adpcm-dvi4-enc", &dp);
    report("adpcm-dvi4-dec", &dd);
    report("adpcm-imawav-enc", &wp);
    report("adpcm-imawav-dec", &wd);
}

/* G.711 Appendix I: f2.le, 10 ms frames, erasure pattern repeated over the file. The reference
 * output is time-aligned with the input: drop the first 3.75 ms (30 samples) of the concealer's
 * output and flush its tail with one silent good frame, as the ITU driver does. */
static void v_plc8(const char *pattern, const char *name)
{
    ec_plc st;
    int16_t frame[80], out[80];
    uint8_t pat[64];
    long patlen;
    size_t n, k = 0, skip = 30, i;
    digest d;
    int h = open_data(pattern);
    if (h < 0) {
        return;
    }
    patlen = tio_read(h, pat, sizeof pat);
    tio_close(h);
    if (patlen < 2) {
        fail("g192 pattern");
        return;
    }
    h = open_data("itu-stl/g711iplc/f2.le");
    if (h < 0) {
        return;
    }
    ec_plc_init(&st, sizeof st, 8000);
    dg_init(&d);
    while ((n = read_le16(h, frame, 80)) == 80) {
        size_t w = (k % ((size_t)patlen / 2)) * 2;
        int erased = pat[w] == 0x20 && pat[w + 1] == 0x6b;
        int r = erased ? ec_plc_lost(&st, out, 80) : ec_plc_good(&st, frame, out, 80);
        if (r < 0) {
            fail("plc8");
            break;
        }
        dg_pcm(&d, out + skip, 80 - skip);
        d.n += (uint32_t)(80 - skip);
        skip = 0;
        k++;
    }
    tio_close(h);
    for (i = 0; i < 80; i++) {
        frame[i] = 0;
    }
    ec_plc_good(&st, frame, out, 80);
    dg_pcm(&d, out, 30);
    d.n += 30;
    report(name, &d);
}

/* 16 kHz concealment on the G.722 reference speech, frames lost by a fixed LCG pattern (~10%). */
static void v_plc16(void)
{
    ec_plc st;
    int16_t frame[160], out[160];
    uint32_t lcg = 12345u;
    digest d;
    int h = open_data("itu-stl/g722/inpsp.bin");
    if (h < 0) {
        return;
    }
    ec_plc_init(&st, sizeof st, 16000);
    dg_init(&d);
    while (read_le16(h, frame, 160) == 160) {
        int r;
        lcg = lcg * 1103515245u + 12345u;
        r = ((lcg >> 16) % 10u) == 0u ? ec_plc_lost(&st, out, 160) : ec_plc_good(&st, frame, out, 160);
        if (r < 0) {
            fail("plc16");
            break;
        }
        dg_pcm(&d, out, 160);
        d.n += 160;
    }
    tio_close(h);
    report("plc16-inpsp-lcg10", &d);
}

static void run_vectors(void)
{
    v_g711(EC_G711_ULAW, "ulaw", "itu-stl/g711/sweep-r.u");
    v_g711(EC_G711_ALAW, "alaw", "itu-stl/g711/sweep-r.a");
    v_g722_enc();
    v_g722_dec(64000, "g722-dec-64");
    v_g722_dec(56000, "g722-dec-56");
    v_g722_dec(48000, "g722-dec-48");
    v_adpcm("speech/or105.wav");
    v_plc8("itu-stl/g711iplc/fe10.g192", "plc8-f2-fe10");
    v_plc8("itu-stl/g711iplc/fe10_2.g192", "plc8-f2-fe10_2");
    v_plc16();
}

/* ---- error paths: every call with bad arguments fails cleanly and writes nothing ---- */

#define CANARY 0x5a

static int untouched(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != CANARY) {
            return 0;
        }
    }
    return 1;
}

static void fill(uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        p[i] = CANARY;
    }
}

#define EXPECT(cond, what)                                                                         \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            fail(what);                                                                            \
        }                                                                                          \
    } while (0)

static void run_errors(void)
{
    union {
        ec_g722_enc e;
        ec_g722_dec d;
        ec_adpcm a;
        ec_plc p;
        uint8_t raw[1];
    } st;
    int16_t pcm[8] = {0, 100, -100, 32767, -32768, 5, 6, 7};
    uint8_t buf[16];
    int16_t s16[16];
    uint32_t checks = 0;
    char line[48] = "errors ";

    fill(buf, sizeof buf);
    EXPECT(ec_g711_encode(7, pcm, 8, buf, 16) == EC_ERR_ARG, "g711 bad law");
    EXPECT(ec_g711_encode(EC_G711_ULAW, NULL, 8, buf, 16) == EC_ERR_ARG, "g711 null in");
    EXPECT(ec_g711_encode(EC_G711_ULAW, pcm, 8, buf, 7) == EC_ERR_SHORT_BUFFER, "g711 short");
    EXPECT(untouched(buf, sizeof buf), "g711 wrote on error");
    EXPECT(ec_g711_decode(EC_G711_ALAW, buf, 8, s16, 7) == EC_ERR_SHORT_BUFFER, "g711 dec short");
    EXPECT(ec_g711_encode(EC_G711_ALAW, pcm, 0, buf, 0) == 0, "g711 empty");

    EXPECT(ec_g722_enc_init(&st.e, sizeof st.e - 1, 64000) == EC_ERR_SHORT_BUFFER, "g722 small state");
    EXPECT(ec_g722_enc_init(&st.e, sizeof st.e, 32000) == EC_ERR_ARG, "g722 bad rate");
    EXPECT(ec_g722_enc_init(NULL, sizeof st.e, 64000) == EC_ERR_ARG, "g722 null state");
    fill(st.raw, sizeof st);
    EXPECT(ec_g722_encode(&st.e, pcm, 8, buf, 16) == EC_ERR_STATE, "g722 uninitialised");
    EXPECT(ec_g722_enc_init(&st.e, sizeof st.e, 64000) == EC_OK, "g722 init");
    fill(buf, sizeof buf);
    EXPECT(ec_g722_encode(&st.e, pcm, 7, buf, 16) == EC_ERR_ARG, "g722 odd count");
    EXPECT(ec_g722_encode(&st.e, pcm, 8, buf, 3) == EC_ERR_SHORT_BUFFER, "g722 short out");
    EXPECT(untouched(buf, sizeof buf), "g722 wrote on error");
    EXPECT(ec_g722_encode(&st.e, pcm, 8, buf, 4) == 4, "g722 encode");
    EXPECT(untouched(buf + 4, sizeof buf - 4), "g722 wrote past out");
    EXPECT(ec_g722_dec_init(&st.d, sizeof st.d, 56000) == EC_OK, "g722 dec init");
    EXPECT(ec_g722_decode(&st.d, buf, 4, s16, 7) == EC_ERR_SHORT_BUFFER, "g722 dec short");
    EXPECT(ec_g722_decode(&st.d, NULL, 4, s16, 8) == EC_ERR_ARG, "g722 dec null");

    EXPECT(ec_adpcm_init(&st.a, sizeof st.a - 1) == EC_ERR_SHORT_BUFFER, "adpcm small state");
    EXPECT(ec_adpcm_init(&st.a, sizeof st.a) == EC_OK, "adpcm init");
    fill(buf, sizeof buf);
    EXPECT(ec_dvi4_encode(&st.a, pcm, 7, buf, 16) == EC_ERR_ARG, "dvi4 odd");
    EXPECT(ec_dvi4_encode(&st.a, pcm, 8, buf, 7) == EC_ERR_SHORT_BUFFER, "dvi4 short");
    EXPECT(untouched(buf, sizeof buf), "dvi4 wrote on error");
    EXPECT(ec_dvi4_decode(&st.a, buf, 3, s16, 16) == EC_ERR_MALFORMED, "dvi4 short header");
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = 89;
    buf[3] = 0;
    EXPECT(ec_dvi4_decode(&st.a, buf, 8, s16, 16) == EC_ERR_MALFORMED, "dvi4 bad index");
    EXPECT(ec_ima_wav_encode_block(&st.a, pcm, 4, buf, 6) == EC_ERR_ARG, "imawav count");
    EXPECT(ec_ima_wav_decode_block(&st.a, buf, 4, s16, 16) == EC_ERR_MALFORMED, "imawav short");
    buf[2] = 3;
    EXPECT(ec_ima_wav_decode_block(&st.a, buf, 8, s16, 8) == EC_ERR_SHORT_BUFFER, "imawav out short");

    EXPECT(ec_plc_init(&st.p, sizeof st.p, 11025) == EC_ERR_ARG, "plc bad rate");
    EXPECT(ec_plc_init(&st.p, 16, 8000) == EC_ERR_SHORT_BUFFER, "plc small state");
    EXPECT(ec_plc_init(&st.p, sizeof st.p, 8000) == EC_OK, "plc init");
    EXPECT(ec_plc_frame_size(&st.p) == 80, "plc frame size");
    EXPECT(ec_plc_lost(&st.p, s16, 16) == EC_ERR_ARG, "plc wrong n");

    fmt_u(line, sizeof line, checks);
    scat(line, sizeof line, failures ? " failed\n" : " ok\n");
    tio_puts(line);
}

/* ---- bench: instructions per 20 ms frame ---- */

static void bench_line(const char *name, uint32_t frames, uint32_t total, uint32_t worst)
{
    char line[112] = "bench ";
    scat(line, sizeof line, name);
    scat(line, sizeof line, " frames=");
    fmt_u(line, sizeof line, frames);
    scat(line, sizeof line, " mean=");
    fmt_u(line, sizeof line, frames ? total / frames : 0u);
    scat(line, sizeof line, " max=");
    fmt_u(line, sizeof line, worst);
    scat(line, sizeof line, "\n");
    tio_puts(line);
}


#define BENCH_FRAMES 50

static void run_bench(void)
{
    /* 20 ms: 160 samples at 8 kHz, 320 at 16 kHz. Input: the 16 kHz reference speech. */
    static const char *names[] = {"g711-ulaw-enc", "g711-ulaw-dec", "g711-alaw-enc", "g711-alaw-dec",
                                  "g722-enc",      "g722-dec",      "adpcm-enc",     "adpcm-dec",
                                  "plc8-good",     "plc8-lost",     "plc16-good",    "plc16-lost"};
    meter m[12];
    ec_g722_enc ge;
    ec_g722_dec gd;
    ec_adpcm ae, ad;
    ec_plc p8, p16;
    int16_t pcm[320], out[320];
    uint8_t bytes[EC_DVI4_HEADER + 160];
    uint32_t f, t;
    int i, h = open_data("itu-stl/g722/inpsp.bin");
    if (h < 0) {
        return;
    }
    for (i = 0; i < 12; i++) {
        m[i].frames = m[i].total = m[i].worst = m[i].stack = 0;
    }
    ec_g722_enc_init(&ge, sizeof ge, 64000);
    ec_g722_dec_init(&gd, sizeof gd, 64000);
    ec_adpcm_init(&ae, sizeof ae);
    ec_adpcm_init(&ad, sizeof ad);
    ec_plc_init(&p8, sizeof p8, 8000);
    ec_plc_init(&p16, sizeof p16, 16000);
    for (f = 0; f < BENCH_FRAMES; f++) {
        if (read_le16(h, pcm, 160) != 160 || read_le16(h, pcm + 160, 160) != 160) {
            break;
        }
        t = tio_instructions();
        ec_g711_encode(EC_G711_ULAW, pcm, 160, bytes, sizeof bytes);
        meter_add(&m[0], t, tio_instructions());
        t = tio_instructions();
        ec_g711_decode(EC_G711_ULAW, bytes, 160, out, 320);
        meter_add(&m[1], t, tio_instructions());
        t = tio_instructions();
        ec_g711_encode(EC_G711_ALAW, pcm, 160, bytes, sizeof bytes);
        meter_add(&m[2], t, tio_instructions());
        t = tio_instructions();
        ec_g711_decode(EC_G711_ALAW, bytes, 160, out, 320);
        meter_add(&m[3], t, tio_instructions());
        t = tio_instructions();
        ec_g722_encode(&ge, pcm, 320, bytes, sizeof bytes);
        meter_add(&m[4], t, tio_instructions());
        t = tio_instructions();
        ec_g722_decode(&gd, bytes, 160, out, 320);
        meter_add(&m[5], t, tio_instructions());
        t = tio_instructions();
        ec_dvi4_encode(&ae, pcm, 160, bytes, sizeof bytes);
        meter_add(&m[6], t, tio_instructions());
        t = tio_instructions();
        ec_dvi4_decode(&ad, bytes, EC_DVI4_HEADER + 80, out, 320);
        meter_add(&m[7], t, tio_instructions());
        /* PLC: 20 ms = two 10 ms frames; every fifth frame is lost */
        if (f % 5 == 4) {
            t = tio_instructions();
            ec_plc_lost(&p8, out, 80);
            ec_plc_lost(&p8, out, 80);
            meter_add(&m[9], t, tio_instructions());
            t = tio_instructions();
            ec_plc_lost(&p16, out, 160);
            ec_plc_lost(&p16, out + 160, 160);
            meter_add(&m[11], t, tio_instructions());
        } else {
            t = tio_instructions();
            ec_plc_good(&p8, pcm, out, 80);
            ec_plc_good(&p8, pcm + 80, out, 80);
            meter_add(&m[8], t, tio_instructions());
            t = tio_instructions();
            ec_plc_good(&p16, pcm, out, 160);
            ec_plc_good(&p16, pcm + 160, out + 160, 160);
            meter_add(&m[10], t, tio_instructions());
        }
    }
    tio_close(h);
    for (i = 0; i < 12; i++) {
        bench_line(names[i], m[i].frames, m[i].total, m[i].worst);
    }
}

/* ---- main ---- */

int tio_main(void)
{
    const char *cmd = tio_cmdline();
    const char *rest = "";
    g_dir[0] = '\0';
    tio_puts("# native_codec harness on ");
    tio_puts(tio_target());
    tio_puts("\n");
    if (word_eq(cmd, "errors", &rest)) {
        run_errors();
    } else if (word_eq(cmd, "bench", &rest)) {
        scat(g_dir, sizeof g_dir, *rest ? rest : "../shared/testdata");
        run_bench();
    } else {
        if (!word_eq(cmd, "vectors", &rest)) {
            rest = cmd;
        }
        scat(g_dir, sizeof g_dir, *rest ? rest : "../shared/testdata");
        run_vectors();
    }
    return failures ? 1 : 0;
}
