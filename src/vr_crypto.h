/*
 * vr_crypto.h: hashing and comparing secrets (OpenSSL libcrypto).
 *
 * API keys are kept only as SHA-256 digests and compared in constant time
 * (CRYPTO_memcmp over digests), so neither the config in memory nor the
 * timing of a refusal tells anything about a key.
 */
#ifndef VR_CRYPTO_H
#define VR_CRYPTO_H

#include "vr_core.h"

#define VR_DIGEST_LEN  32

typedef struct {
    unsigned char  d[VR_DIGEST_LEN];
} vr_digest_t;

/* SHA-256 of data[0..n). */
void vr_sha256(const void *data, size_t n, vr_digest_t *out);

/*
 * The digest a configured key stands for: "sha256:<64 hex digits>" is the
 * digest itself, anything else a plain key that is hashed.  VR_ERROR when
 * a "sha256:" form is malformed.
 */
int vr_key_digest(const char *configured, vr_digest_t *out);

/*
 * Which of the n digests is the presented key's?  Returns its index, or
 * -1 (also for key NULL).  Compares against all of them, in constant time
 * for a given n; the digests must be distinct.
 */
long vr_key_find(const char *key, size_t len, const vr_digest_t *digests,
                 size_t n);

/* Hex of a digest: 64 characters plus NUL. */
void vr_digest_hex(const vr_digest_t *d, char out[2 * VR_DIGEST_LEN + 1]);

#endif /* VR_CRYPTO_H */
