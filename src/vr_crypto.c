/*
 * vr_crypto.c: hashing and comparing secrets (see vr_crypto.h).
 */
#include "config.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "vr_core.h"
#include "vr_crypto.h"

void
vr_sha256(const void *data, size_t n, vr_digest_t *out)
{
    unsigned int len = VR_DIGEST_LEN;

    if (EVP_Digest(data, n, out->d, &len, EVP_sha256(), NULL) != 1) {
        /* Cannot happen with the default provider; never match then. */
        memset(out->d, 0xff, sizeof(out->d));
    }
}

static int
vr_unhex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

int
vr_key_digest(const char *configured, vr_digest_t *out)
{
    const char *hex;

    if (strncmp(configured, "sha256:", 7) != 0) {
        vr_sha256(configured, strlen(configured), out);
        return VR_OK;
    }
    hex = configured + 7;
    if (strlen(hex) != 2 * VR_DIGEST_LEN) {
        return VR_ERROR;
    }
    for (size_t i = 0; i < VR_DIGEST_LEN; i++) {
        int hi = vr_unhex(hex[2 * i]), lo = vr_unhex(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return VR_ERROR;
        }
        out->d[i] = (unsigned char) (hi << 4 | lo);
    }
    return VR_OK;
}

long
vr_key_find(const char *key, size_t len, const vr_digest_t *digests,
            size_t n)
{
    vr_digest_t    presented;
    unsigned long  found = 0;       /* index + 1 of the match, or 0 */

    if (key == NULL) {
        return -1;
    }
    vr_sha256(key, len, &presented);
    for (size_t i = 0; i < n; i++) {
        /* all ones when equal, zero otherwise: no branch on the secret */
        unsigned long equal = 0UL - (unsigned long)
            (CRYPTO_memcmp(presented.d, digests[i].d, VR_DIGEST_LEN) == 0);
        found |= equal & (i + 1);
    }
    return (long) found - 1;
}

void
vr_digest_hex(const vr_digest_t *d, char out[2 * VR_DIGEST_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < VR_DIGEST_LEN; i++) {
        out[2 * i] = hex[d->d[i] >> 4];
        out[2 * i + 1] = hex[d->d[i] & 15];
    }
    out[2 * VR_DIGEST_LEN] = '\0';
}
