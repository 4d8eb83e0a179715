/*
 * vr_method.h: the broker's table of methods ("Service.method").
 *
 * A method exists while some dealer offers it or some request names it.
 * It owns the FIFO queue of its waiting requests and knows the dealers
 * that offer it (in any state).  One that a dealer offered is kept, with
 * its statistics, for VR_METHOD_KEEP_MS after its last dealer left (a
 * deploy replaces every dealer of a method: its counters, latencies and
 * chart go on); one that only requests named is freed with the last.
 */
#ifndef VR_METHOD_H
#define VR_METHOD_H

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_stats.h"

/* As long as the dashboard's chart reaches back. */
#define VR_METHOD_KEEP_MS  (VR_STATS_HISTORY * 1000)

struct vr_method_s {
    char                       *name;       /* full name, NUL-ended */
    size_t                      name_len;
    UT_hash_handle              hh;
    vr_broker_t                *broker;

    struct vr_request_list_s    queue;
    size_t                      queue_len;
    size_t                      in_flight;  /* held by dealers */
    vr_dealer_t               **dealers;    /* offering it, any state */
    size_t                      ndealers, dealers_cap;
    size_t                      refs;       /* requests naming it */
    bool                        offered;    /* by some dealer, once */
    vr_timer_t                  keep;       /* frees it, once unused */

    const vr_method_policy_t   *policy;     /* cached for `generation` */
    unsigned                    policy_generation;

    vr_timer_t                  no_service; /* ends waiters when no dealer */
    vr_method_stats_t           stats;
};

/* Finds a method; NULL when unknown. */
vr_method_t *vr_method_find(vr_broker_t *b, const char *name, size_t len);

/* Finds or creates a method. */
vr_method_t *vr_method_get(vr_broker_t *b, const char *name, size_t len);

/*
 * Call when a request or dealer let go of m: frees m when nothing refers
 * to it any more, or VR_METHOD_KEEP_MS later if a dealer offered it.
 */
void vr_method_release(vr_broker_t *b, vr_method_t *m);

/* Some dealer offers m or some request names it (else it is only kept). */
bool vr_method_in_use(const vr_method_t *m);

void vr_method_add_dealer(vr_broker_t *b, vr_method_t *m, vr_dealer_t *d);
void vr_method_remove_dealer(vr_broker_t *b, vr_method_t *m, vr_dealer_t *d);

/* Dealers offering m that take new work (active, not drained). */
size_t vr_method_live_dealers(const vr_method_t *m);

/* The policy of m under the current configuration (NULL: defaults). */
const vr_method_policy_t *vr_method_policy(vr_broker_t *b, vr_method_t *m);

/* The method's effective timeout and queue bound. */
vr_msec_t vr_method_timeout_ms(vr_broker_t *b, vr_method_t *m);
size_t vr_method_max_queue(vr_broker_t *b, vr_method_t *m);
unsigned vr_method_max_attempts(vr_broker_t *b, vr_method_t *m);

/*
 * Call when m may have lost its last live dealer: waiting requests end
 * with `no_service` now, or after router.no_service_wait.  m stays
 * allocated; callers that dropped a reference call vr_method_release().
 */
void vr_method_check_service(vr_broker_t *b, vr_method_t *m);

/* Frees every method (at exit; queues must be empty). */
void vr_method_destroy_all(vr_broker_t *b);

#endif /* VR_METHOD_H */
