/*
 * vr_rand.h: randomness.
 *
 * Two kinds: secrets (API keys, job ids) come straight from OpenSSL's
 * RAND_bytes; ids that only need to be unique (the request_id of a reply
 * the gateway makes up) come from a fast generator seeded from it.
 */
#ifndef VR_RAND_H
#define VR_RAND_H

#include "vr_core.h"

/* Fills buf with n cryptographically secure bytes; VR_ERROR on failure. */
int vr_rand_secure(void *buf, size_t n);

/* A uniformly random 64-bit number (not for secrets). */
uint64_t vr_rand_u64(void);

/* Writes a random UUID version 4 as 36 characters plus NUL (not secret). */
void vr_uuid4(char out[37]);

/*
 * A new API key "<prefix>_<yymmdd>_<43 base64url chars>" (256 random bits)
 * in the format of the Python package's ApiKeyManager.  Malloc'ed; NULL
 * when the random source fails.
 */
char *vr_api_key_new(const char *prefix);

/* base64url without padding of n bytes into out (4*ceil(n/3)+1 bytes). */
void vr_base64url(const unsigned char *in, size_t n, char *out);

#endif /* VR_RAND_H */
