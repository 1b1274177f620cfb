/* g722_host.c — host benchmark of G.722: native_codec against spandsp, in one process, on the same
 * input, with the same compiler flags. Used by `edgecall bench codec` (host_tools/bench/codec.py).
 *
 * usage: g722_host INPUT.raw REPEATS   (16 kHz, 16-bit little-endian mono)
 * prints one JSON object: median seconds per pass for each encoder and decoder, the sample count,
 * and whether spandsp's 64 kbit/s codewords equal ours (they should: both are bit-exact). */
#define _POSIX_C_SOURCE 199309L
#include <spandsp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ec_g722.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define MAXREP 101

int main(int argc, char **argv)
{
    FILE *f;
    long size;
    size_t n;
    int16_t *pcm, *out;
    uint8_t *ours, *theirs;
    int reps, r;
    double t_enc[MAXREP], t_dec[MAXREP], t_senc[MAXREP], t_sdec[MAXREP];
    if (argc != 3 || (reps = atoi(argv[2])) < 1 || reps > MAXREP) {
        fprintf(stderr, "usage: %s INPUT.raw REPEATS(1..%d)\n", argv[0], MAXREP);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    rewind(f);
    n = (size_t)size / 4 * 2;
    pcm = malloc(n * sizeof *pcm);
    out = malloc(n * sizeof *out);
    ours = malloc(n / 2);
    theirs = malloc(n / 2);
    if (!pcm || !out || !ours || !theirs || fread(pcm, sizeof *pcm, n, f) != n) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    fclose(f);
    for (r = 0; r < reps; r++) {
        ec_g722_enc enc;
        ec_g722_dec dec;
        g722_encode_state_t *se;
        g722_decode_state_t *sd;
        double t0;
        ec_g722_enc_init(&enc, sizeof enc, 64000);
        t0 = now();
        ec_g722_encode(&enc, pcm, n, ours, n / 2);
        t_enc[r] = now() - t0;
        ec_g722_dec_init(&dec, sizeof dec, 64000);
        t0 = now();
        ec_g722_decode(&dec, ours, n / 2, out, n);
        t_dec[r] = now() - t0;
        se = g722_encode_init(NULL, 64000, 0);
        t0 = now();
        g722_encode(se, theirs, pcm, (int)n);
        t_senc[r] = now() - t0;
        g722_encode_free(se);
        sd = g722_decode_init(NULL, 64000, 0);
        t0 = now();
        g722_decode(sd, out, theirs, (int)(n / 2));
        t_sdec[r] = now() - t0;
        g722_decode_free(sd);
    }
    printf("{\"samples\": %lu, \"repeats\": %d, \"ours_encode_s\": %.9f, \"ours_decode_s\": %.9f, "
           "\"spandsp_encode_s\": %.9f, \"spandsp_decode_s\": %.9f, \"spandsp_codewords_equal\": %s}\n",
           (unsigned long)n, reps, median(t_enc, reps), median(t_dec, reps), median(t_senc, reps),
           median(t_sdec, reps), memcmp(ours, theirs, n / 2) == 0 ? "true" : "false");
    free(pcm);
    free(out);
    free(ours);
    free(theirs);
    return 0;
}
