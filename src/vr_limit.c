/*
 * vr_limit.c: a token bucket, and failures counted per address in fixed
 * windows (a uthash table with least-recently-used eviction, so a flood
 * of addresses costs bounded memory).
 */
#include "config.h"
#include <math.h>
#include <sys/queue.h>
#include <uthash.h>

#include "vr_core.h"
#include "vr_limit.h"

/* ---- token bucket ----------------------------------------------------- */

void
vr_bucket_init(vr_bucket_t *b, double burst, vr_msec_t now_ms)
{
    b->tokens = burst;
    b->last_ms = now_ms;
}

vr_msec_t
vr_bucket_take(vr_bucket_t *b, double rate, double burst, vr_msec_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens = fmin(burst, b->tokens
                                + (double) (now_ms - b->last_ms) * rate / 1000);
        b->last_ms = now_ms;
    }
    b->tokens = fmin(b->tokens, burst);     /* burst may have shrunk */
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    return (vr_msec_t) vr_max(ceil((1 - b->tokens) * 1000 / rate), 1);
}

/* ---- failures per address --------------------------------------------- */

typedef struct vr_strike_s {
    char                       *addr;
    int64_t                     failures;
    vr_msec_t                   window_start_ms;
    UT_hash_handle              hh;
    TAILQ_ENTRY(vr_strike_s)    lru;
} vr_strike_t;

struct vr_throttle_s {
    vr_strike_t                              *by_addr;
    TAILQ_HEAD(vr_strike_lru_s, vr_strike_s)  lru;      /* most recent first */
    size_t                                    n, max;
};

vr_throttle_t *
vr_throttle_new(size_t max_addresses)
{
    vr_throttle_t *t = vr_calloc(1, sizeof(*t));

    TAILQ_INIT(&t->lru);
    t->max = vr_max(max_addresses, 1);
    return t;
}

static void
vr_throttle_forget(vr_throttle_t *t, vr_strike_t *s)
{
    HASH_DEL(t->by_addr, s);
    TAILQ_REMOVE(&t->lru, s, lru);
    t->n--;
    free(s->addr);
    free(s);
}

void
vr_throttle_free(vr_throttle_t **tp)
{
    vr_throttle_t *t = *tp;
    vr_strike_t   *s, *tmp;

    if (t == NULL) {
        return;
    }
    HASH_ITER(hh, t->by_addr, s, tmp) {
        vr_throttle_forget(t, s);
    }
    free(t);
    *tp = NULL;
}

/* addr's entry, or NULL; an entry whose window is over is forgotten. */
static vr_strike_t *
vr_throttle_find(vr_throttle_t *t, const char *addr, vr_msec_t window_ms,
                 vr_msec_t now_ms)
{
    vr_strike_t *s;

    HASH_FIND_STR(t->by_addr, addr, s);
    if (s != NULL && now_ms - s->window_start_ms >= window_ms) {
        vr_throttle_forget(t, s);
        s = NULL;
    }
    return s;
}

vr_msec_t
vr_throttle_blocked(vr_throttle_t *t, const char *addr, int64_t max_failures,
                    vr_msec_t window_ms, vr_msec_t now_ms)
{
    vr_strike_t *s;

    if (addr[0] == '\0' || max_failures <= 0) {
        return 0;
    }
    s = vr_throttle_find(t, addr, window_ms, now_ms);
    if (s == NULL || s->failures < max_failures) {
        return 0;
    }
    return vr_max(s->window_start_ms + window_ms - now_ms, 1);
}

void
vr_throttle_fail(vr_throttle_t *t, const char *addr, vr_msec_t window_ms,
                 vr_msec_t now_ms)
{
    vr_strike_t *s;

    if (addr[0] == '\0') {
        return;
    }
    s = vr_throttle_find(t, addr, window_ms, now_ms);
    if (s == NULL) {
        if (t->n >= t->max) {
            vr_throttle_forget(t, TAILQ_LAST(&t->lru, vr_strike_lru_s));
        }
        s = vr_calloc(1, sizeof(*s));
        s->addr = vr_strdup(addr);
        s->window_start_ms = now_ms;
        HASH_ADD_KEYPTR(hh, t->by_addr, s->addr, strlen(s->addr), s);
        t->n++;
    } else {
        TAILQ_REMOVE(&t->lru, s, lru);
    }
    TAILQ_INSERT_HEAD(&t->lru, s, lru);
    s->failures++;
}

size_t
vr_throttle_count(const vr_throttle_t *t)
{
    return t->n;
}
