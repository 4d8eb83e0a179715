/*
 * vr_request.h: one call, from arrival to its terminal message.
 *
 * A request has exactly one owner at every moment: its method's queue,
 * the dealer that holds it, or nobody (ended).  Who asked (a ZeroMQ
 * client, an HTTP connection) is hidden behind an origin: the broker
 * hands it the dealer's messages and, when the gateway itself ends the
 * request, an error code and text.  Exactly one terminal event reaches the
 * origin per request.
 *
 * A request whose client has been answered while a dealer still works on
 * it (deadline passed, client gone) becomes an orphan: it keeps the
 * dealer's slot, because the dealer is still busy with it, until the
 * dealer's final message or the dealer's end.  Its messages are dropped.
 */
#ifndef VR_REQUEST_H
#define VR_REQUEST_H

#include <zmq.h>
#include "vr_core.h"
#include "vr_broker.h"

typedef enum {
    VR_REPLY_RESULT = 0,        /* {"type": "reply"}: final */
    VR_REPLY_CHUNK,             /* {"type": "streaming"} */
    VR_REPLY_END,               /* {"type": "end"}: final */
    VR_REPLY_ERROR              /* {"type": "error"}: final */
} vr_reply_kind_t;

typedef struct {
    /*
     * A dealer's message for r.  The origin may take *payload (send or
     * move it); the broker closes it afterwards either way.  Returns
     * VR_OK, or VR_ERROR when the client is gone (the broker cancels r).
     * It may end r itself with vr_request_fail() on a chunk (an answer
     * the client cannot take), and then returns VR_OK.
     */
    int   (*deliver)(vr_request_t *r, vr_reply_kind_t kind,
                     zmq_msg_t *payload);
    /* The gateway ends r: the client must get code and text. */
    void  (*fail)(vr_request_t *r, vr_code_t code, const char *text);
    /* r is about to be freed (after its terminal event); may be NULL. */
    void  (*release)(vr_request_t *r);
    /*
     * r's dealer was lost after some chunks: may r start over on another
     * dealer?  True when none of them has reached the client yet (the
     * origin forgets them); NULL, or false: what the client has seen
     * cannot be taken back, so r ends with dealer_lost.
     */
    bool  (*rewind)(vr_request_t *r);
} vr_origin_t;

typedef enum {
    VR_REQ_NEW = 0,
    VR_REQ_QUEUED,
    VR_REQ_ACTIVE,              /* held by a dealer, client waiting */
    VR_REQ_ORPHAN,              /* held by a dealer, client answered */
    VR_REQ_DONE
} vr_req_state_t;

struct vr_request_s {
    uint64_t             serial;        /* arrival order */
    vr_req_state_t       state;
    vr_broker_t         *broker;
    vr_method_t         *method;

    unsigned char       *cid;           /* client identity (opaque bytes) */
    size_t               cid_len;
    unsigned             cid_hash;      /* HASH_VALUE of cid (uthash) */
    char                *rid;           /* request_id, decoded, NUL-ended */
    size_t               rid_len;

    zmq_msg_t           *body;          /* the frames after the method name */
    size_t               nbody;
    zmq_msg_t            body_inline;

    vr_msec_t            received_ms;
    vr_msec_t            dispatched_ms;
    vr_msec_t            deadline_ms;
    vr_timer_t           timer;         /* deadline, or orphan limit */
    vr_dealer_t         *dealer;        /* ACTIVE or ORPHAN */
    unsigned             attempts;      /* dispatches so far */
    uint64_t             chunks;

    const vr_origin_t   *origin;
    void                *origin_data;
    vr_grant_t          *grant;         /* the client key's, or NULL */

    TAILQ_ENTRY(vr_request_s) link;     /* in a queue or a dealer's list */
};

/*
 * Creates a request for method `name` from client cid with request_id rid
 * (decoded).  The body frames are moved into the request (the caller's
 * messages are left empty).  timeout_ms: the deadline from now; 0 means
 * the method's configured timeout; a longer one than configured is cut.
 */
vr_request_t *vr_request_new(vr_broker_t *b, const char *name, size_t name_len,
                             const void *cid, size_t cid_len,
                             const char *rid, size_t rid_len,
                             zmq_msg_t *body, size_t nbody,
                             const vr_origin_t *origin, void *origin_data,
                             vr_msec_t timeout_ms);

/*
 * Admits r: it is queued and dispatched, or ended at once (shutting_down,
 * no_service, queue_full) through its origin.  Either way the broker owns
 * r from here on.
 */
void vr_request_submit(vr_request_t *r);

/*
 * The gateway ends r with an error.  A queued request leaves its queue and
 * is freed; a request a dealer holds becomes an orphan (the dealer is told
 * when it announced "cancel").  No-op for requests already answered.
 */
void vr_request_fail(vr_request_t *r, vr_code_t code, const char *text);

/* The caller gave up (HTTP disconnect, DELETE): fail with `cancelled`. */
void vr_request_cancel(vr_request_t *r);

/*
 * A dealer's message for r (found by the dispatcher).  Forwards it to the
 * origin unless r is an orphan; a final message ends r and frees the
 * dealer's slot.  The caller still owns (and closes) *payload.
 */
void vr_request_reply(vr_request_t *r, vr_reply_kind_t kind,
                      zmq_msg_t *payload);

/*
 * r's dealer is gone.  An orphan is freed; an active request goes back to
 * the head of its queue when its method allows another attempt, else ends
 * with `dealer_lost`.
 */
void vr_request_dealer_gone(vr_request_t *r, const char *why);

/* Frees r (unlinked from everything); its origin's release runs first. */
void vr_request_free(vr_request_t *r);

/* The wire text of the request's error reply, for origins that need it. */
void vr_request_error_json(const vr_request_t *r, vr_code_t code,
                           const char *text, vr_buf_t *out);

#endif /* VR_REQUEST_H */
