/*
 * key_timing: a statistical check that the API key comparison takes the
 * same time whatever the presented key has in common with a configured one.
 *
 * The presented key is always the same; the configured digests differ in
 * where they first differ from its digest: at byte 0 (class A) or at the
 * last byte (class B).  A comparison that stops at the first difference
 * takes longer for class B.  Each measurement times one lookup over
 * VR_KT_KEYS configured digests; classes are drawn at random for every
 * measurement (so that drift and noise fall on both alike), the slowest
 * tenth is cropped, and Welch's t-test tells whether the two means differ
 * (as dudect does: |t| over 10 is a clear leak, under 4.5 none seen).
 *
 * The same is done for a plain byte-by-byte lookup as the reference: it
 * must show the difference, which proves the method can see one.
 *
 *   bench/key_timing [MEASUREMENTS]      (default 400000 per function)
 *
 * Exits 0 when vr_key_find shows no difference (|t| < 4.5) and the
 * reference does (|t| > 10); 1 otherwise.  It is a measurement of this
 * machine, never part of make check.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vr_core.h"
#include "vr_crypto.h"

#define VR_KT_KEYS      64
#define VR_KT_KEY       "a-presented-api-key-of-some-length"

typedef long (*vr_kt_find_pt)(const char *key, size_t len,
                              const vr_digest_t *digests, size_t n);

/* The reference: hash, then compare each digest byte by byte. */
static long
vr_kt_plain_find(const char *key, size_t len, const vr_digest_t *digests,
                 size_t n)
{
    vr_digest_t presented;

    vr_sha256(key, len, &presented);
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < VR_DIGEST_LEN && presented.d[j] == digests[i].d[j]) {
            j++;
        }
        if (j == VR_DIGEST_LEN) {
            return (long) i;
        }
    }
    return -1;
}

static uint64_t
vr_kt_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int
vr_kt_cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

/* Mean and variance of the fastest 90% of v[0..n). */
static void
vr_kt_stats(double *v, size_t n, double *mean, double *var)
{
    double sum = 0, sq = 0;
    size_t m = n - n / 10;

    qsort(v, n, sizeof(double), vr_kt_cmp);
    for (size_t i = 0; i < m; i++) {
        sum += v[i];
    }
    *mean = sum / (double) m;
    for (size_t i = 0; i < m; i++) {
        sq += (v[i] - *mean) * (v[i] - *mean);
    }
    *var = sq / (double) (m - 1);
}

/* Welch's t of the two classes for one lookup function. */
static double
vr_kt_measure(const char *name, vr_kt_find_pt find, size_t count)
{
    static vr_digest_t sets[2][VR_KT_KEYS];
    double            *t[2];
    size_t             n[2] = { 0, 0 };
    double             mean[2], var[2], tval;
    vr_digest_t        digest;
    volatile long      sink = 0;

    vr_sha256(VR_KT_KEY, strlen(VR_KT_KEY), &digest);
    for (size_t i = 0; i < VR_KT_KEYS; i++) {
        sets[0][i] = digest;
        sets[0][i].d[0] ^= (unsigned char) (1 + i % 255);
        sets[1][i] = digest;
        sets[1][i].d[VR_DIGEST_LEN - 1] ^= (unsigned char) (1 + i % 255);
    }
    t[0] = calloc(count, sizeof(double));
    t[1] = calloc(count, sizeof(double));
    for (size_t i = 0; i < count; i++) {
        int      c = rand() & 1;
        uint64_t t0 = vr_kt_now_ns();

        sink += find(VR_KT_KEY, strlen(VR_KT_KEY), sets[c], VR_KT_KEYS);
        t[c][n[c]++] = (double) (vr_kt_now_ns() - t0);
    }
    vr_kt_stats(t[0], n[0], &mean[0], &var[0]);
    vr_kt_stats(t[1], n[1], &mean[1], &var[1]);
    tval = (mean[1] - mean[0])
           / sqrt(var[0] / (double) n[0] + var[1] / (double) n[1]);
    printf("%-14s first byte differs %8.1f ns, last byte differs %8.1f ns, "
           "t = %7.2f  (%zu + %zu measurements)\n", name, mean[0], mean[1],
           tval, n[0], n[1]);
    free(t[0]);
    free(t[1]);
    return tval + (double) (sink & 0);
}

int
main(int argc, char **argv)
{
    size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 400000;
    double plain, ours;

    if (count < 1000) {
        fprintf(stderr, "usage: key_timing [MEASUREMENTS >= 1000]\n");
        return 2;
    }
    srand((unsigned) vr_kt_now_ns());
    printf("lookups over %d configured digests, %zu measurements each\n",
           VR_KT_KEYS, count);
    plain = vr_kt_measure("byte by byte", vr_kt_plain_find, count);
    ours = vr_kt_measure("vr_key_find", vr_key_find, count);
    printf("reference %s a difference; vr_key_find %s\n",
           fabs(plain) > 10 ? "shows" : "does NOT show",
           fabs(ours) < 4.5 ? "shows none" : "SHOWS ONE");
    return fabs(plain) > 10 && fabs(ours) < 4.5 ? 0 : 1;
}
