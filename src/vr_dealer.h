/*
 * vr_dealer.h: the registry of dealers (workers).
 *
 * A dealer is known by its ZeroMQ identity.  It registers its methods,
 * heartbeats, holds up to `capacity` requests, and ends by leaving
 * (shutdown), by expiring (silence), or by vanishing (a send to it fails).
 * An expired or vanished dealer stays listed as inactive for a while and
 * any message from it brings it back (PROTOCOL.md B.4).
 */
#ifndef VR_DEALER_H
#define VR_DEALER_H

#include <jansson.h>
#include "vr_core.h"
#include "vr_broker.h"
#include "vr_wire.h"

/*
 * Longest group name, in bytes: with a method name of up to 256 bytes,
 * "group.method" stays within VR_METHOD_NAME_MAX.
 */
#define VR_DEALER_GROUP_MAX  255

typedef enum {
    VR_DEALER_ACTIVE = 0,
    VR_DEALER_INACTIVE
} vr_dealer_state_t;

struct vr_dealer_s {
    unsigned char              *id;         /* identity bytes */
    size_t                      id_len;
    char                       *id_text;    /* printable form, for JSON/logs */
    char                        peer_key[VR_CURVE_Z85_SIZE];
                                            /* CURVE key that registered
                                               it ("" without CURVE) */
    UT_hash_handle              hh;
    TAILQ_ENTRY(vr_dealer_s)    order;      /* registration order */

    char                       *group;
    json_t                     *methods_meta;   /* {fullName: MethodMeta} */
    vr_method_t               **methods;
    size_t                      nmethods;
    char                       *remote_addr;
    json_t                     *host_info;      /* as sent, or NULL */

    vr_dealer_state_t           state;
    bool                        drained;        /* by an operator: no new work */
    unsigned                    capacity;
    int64_t                     announced;      /* max_concurrent, or 0 */
    unsigned                    in_flight;      /* requests held, orphans too */
    struct vr_request_list_s    requests;
    bool                        can_cancel;     /* capability "cancel" */
    bool                        rid_errors;     /* "request_id_errors" */
    long                        reported_load;  /* from heartbeats */
    vr_msec_t                   reregistered_ms; /* re-registered while
                                                    holding requests; 0:
                                                    not since they ended */

    uint64_t                    serial;         /* registration order */
    vr_msec_t                   last_seen_ms;
    uint64_t                    last_dispatch_seq;  /* fair rotation */
    vr_msec_t                   last_probe_ms;
    vr_msec_t                   inactive_since_ms;
    int64_t                     last_heartbeat_wall_ms;
    uint64_t                    request_count;  /* dispatched to it */
    uint64_t                    reply_count;    /* finished by it */
};

/* May d be given new requests (alive, and not drained by an operator)? */
static inline bool
vr_dealer_takes_work(const vr_dealer_t *d)
{
    return d->state == VR_DEALER_ACTIVE && !d->drained;
}

/*
 * May d be given one more request now: it takes work and has a free slot,
 * and, if it registered again (a new connection) while holding requests,
 * a heartbeat has since shown that it still holds them (otherwise its
 * reported load could not tell the lost ones from new ones).
 */
static inline bool
vr_dealer_has_room(const vr_dealer_t *d)
{
    return vr_dealer_takes_work(d) && d->in_flight < d->capacity
           && d->reregistered_ms == 0;
}

/*
 * An operator takes d out of rotation (it finishes what it holds) or puts
 * it back.  VR_DECLINED when no dealer has that identity text.
 */
int vr_dealer_set_drained(vr_broker_t *b, const char *id_text, bool drained);

/* The dealer with this identity, or NULL. */
vr_dealer_t *vr_dealer_find(vr_broker_t *b, const void *id, size_t len);

/*
 * Is a message (frames[0]: the identity, type: its kind) under d's
 * identity from the peer that registered d?  With CURVE an identity
 * belongs to the key that first registered it: a message from another
 * key is refused (a register is answered with an error; counted, logged)
 * and false returned; the caller drops it.  Always true without CURVE.
 */
bool vr_dealer_same_owner(vr_broker_t *b, vr_dealer_t *d, zmq_msg_t *frames,
                          vr_msg_type_t type);

/* Handlers of the dealer-side messages; frames[0] is the identity. */
void vr_dealer_on_register(vr_broker_t *b, zmq_msg_t *frames, size_t n);
void vr_dealer_on_heartbeat(vr_broker_t *b, vr_dealer_t *d,
                            zmq_msg_t *frames, size_t n);
void vr_dealer_on_shutdown(vr_broker_t *b, vr_dealer_t *d);

/* Any message from d: it is alive (and revived if it was inactive). */
void vr_dealer_touch(vr_broker_t *b, vr_dealer_t *d);

/*
 * d is gone or silent: it becomes inactive and each request it held is
 * retried or ended with `dealer_lost`.
 */
void vr_dealer_lost(vr_broker_t *b, vr_dealer_t *d, const char *why);

/* Periodic work: expiry, probes of busy dealers, removal of old records. */
void vr_dealer_tick(vr_broker_t *b);

/* Sends frames to d; on failure d is lost.  VR_OK or VR_ERROR. */
int vr_dealer_send(vr_broker_t *b, vr_dealer_t *d, vr_frame_t *frames,
                   size_t n);

/* Does d hold a request of r's client (and so cannot take r)? */
bool vr_dealer_holds_client(const vr_dealer_t *d, const vr_request_t *r);

/*
 * Applies the broker's (new) configuration to the registered dealers:
 * their capacities are computed again, and a dealer that may now hold
 * more is given queued work.
 */
void vr_dealer_reconfigure(vr_broker_t *b);

/* Removes and frees d (its requests must have been settled). */
void vr_dealer_remove(vr_broker_t *b, vr_dealer_t *d);

/* Frees every dealer (at exit). */
void vr_dealer_destroy_all(vr_broker_t *b);

#endif /* VR_DEALER_H */
