/*
 * vr_rand.c: randomness (see vr_rand.h).
 *
 * The fast generator is xoshiro256** (Blackman and Vigna), seeded once
 * from RAND_bytes.
 */
#include "config.h"
#include <stdio.h>
#include <time.h>
#include <openssl/rand.h>

#include "vr_core.h"
#include "vr_rand.h"

static uint64_t vr_xs[4];
static bool     vr_xs_seeded;

int
vr_rand_secure(void *buf, size_t n)
{
    return RAND_bytes(buf, (int) n) == 1 ? VR_OK : VR_ERROR;
}

static inline uint64_t
vr_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t
vr_rand_u64(void)
{
    uint64_t r, t;

    if (!vr_xs_seeded) {
        if (vr_rand_secure(vr_xs, sizeof(vr_xs)) != VR_OK) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            vr_xs[0] = (uint64_t) ts.tv_nsec ^ 0x9e3779b97f4a7c15ULL;
            vr_xs[1] = (uint64_t) ts.tv_sec;
            vr_xs[2] = (uint64_t) (uintptr_t) &ts;
            vr_xs[3] = 0x2545f4914f6cdd1dULL;
        }
        vr_xs_seeded = true;
    }
    r = vr_rotl(vr_xs[1] * 5, 7) * 9;
    t = vr_xs[1] << 17;
    vr_xs[2] ^= vr_xs[0];
    vr_xs[3] ^= vr_xs[1];
    vr_xs[1] ^= vr_xs[2];
    vr_xs[0] ^= vr_xs[3];
    vr_xs[2] ^= t;
    vr_xs[3] = vr_rotl(vr_xs[3], 45);
    return r;
}

void
vr_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     b[16];
    uint64_t          a = vr_rand_u64(), c = vr_rand_u64();
    size_t            o = 0;

    memcpy(b, &a, 8);
    memcpy(b + 8, &c, 8);
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

void
vr_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t) in[i] << 16;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
    }
    out[o] = '\0';
}

char *
vr_api_key_new(const char *prefix)
{
    unsigned char rnd[32];
    char          tok[48], date[16], *key;
    time_t        now = time(NULL);
    struct tm     tm;
    size_t        len;

    if (vr_rand_secure(rnd, sizeof(rnd)) != VR_OK) {
        return NULL;
    }
    vr_base64url(rnd, sizeof(rnd), tok);
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%y%m%d", &tm);
    len = strlen(prefix) + strlen(date) + strlen(tok) + 3;
    key = vr_alloc(len);
    snprintf(key, len, "%s_%s_%s", prefix, date, tok);
    return key;
}
