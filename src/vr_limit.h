/*
 * vr_limit.h: rate limits: a token bucket, and failures counted per
 * address.
 *
 * Both read the loop's clock (vr_now_ms) given by the caller, so tests
 * can drive them with any time they like.
 */
#ifndef VR_LIMIT_H
#define VR_LIMIT_H

#include "vr_core.h"

/* ---- token bucket ----------------------------------------------------- */

typedef struct {
    double      tokens;
    vr_msec_t   last_ms;        /* when tokens was last brought up to date */
} vr_bucket_t;

/* A full bucket of burst tokens at now_ms. */
void vr_bucket_init(vr_bucket_t *b, double burst, vr_msec_t now_ms);

/*
 * Takes one token from a bucket refilled at rate per second up to burst.
 * Returns 0 when taken, else the milliseconds until one will be there
 * (at least 1).  rate must be > 0.
 */
vr_msec_t vr_bucket_take(vr_bucket_t *b, double rate, double burst,
                         vr_msec_t now_ms);

/* ---- failures per address --------------------------------------------- */

typedef struct vr_throttle_s  vr_throttle_t;

/* A table remembering at most max_addresses addresses (least recent go). */
vr_throttle_t *vr_throttle_new(size_t max_addresses);
void vr_throttle_free(vr_throttle_t **tp);

/*
 * Is addr blocked: has it failed max_failures times or more within the
 * window that began with its first counted failure?  When blocked,
 * returns the milliseconds until the window ends; else 0.  An empty addr
 * (unknown) is never blocked.
 */
vr_msec_t vr_throttle_blocked(vr_throttle_t *t, const char *addr,
                              int64_t max_failures, vr_msec_t window_ms,
                              vr_msec_t now_ms);

/* Counts one failure of addr (a new window when the old one is over). */
void vr_throttle_fail(vr_throttle_t *t, const char *addr, vr_msec_t window_ms,
                      vr_msec_t now_ms);

/* Addresses remembered now. */
size_t vr_throttle_count(const vr_throttle_t *t);

#endif /* VR_LIMIT_H */
