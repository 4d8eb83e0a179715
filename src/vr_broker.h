/*
 * vr_broker.h: the broker: the ROUTER socket and everything behind it.
 *
 * Dealers register their methods; clients' calls go into one bounded FIFO
 * queue per method and out to a dealer with free capacity; replies, stream
 * chunks and errors go back.  Every request ends in exactly one terminal
 * message (PROTOCOL.md B.2).  The broker outlives configuration cycles: a
 * reload hands it a new vr_router_conf_t (prepared, then committed) and it
 * carries on.
 */
#ifndef VR_BROKER_H
#define VR_BROKER_H

#include <sys/queue.h>
#include <uthash.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_client_caps.h"
#include "vr_conf.h"
#include "vr_curve.h"
#include "vr_loop.h"
#include "vr_stats.h"

/* ---- configuration (the "router:" section) ---------------------------- */

typedef enum {
    VR_MODE_FIFO = 0,
    VR_MODE_LOAD_BALANCE
} vr_mode_t;

/* router.methods.<glob>: policy for the methods whose names match. */
typedef struct {
    char       *name;               /* glob, matched with fnmatch(3) */
    vr_msec_t   timeout_ms;         /* 0: router.request_timeout */
    int64_t     max_queue;          /* 0: router.max_queue */
    int64_t     max_attempts;       /* tries when the dealer is lost */
} vr_method_policy_t;

/* router.services.<group>: settings for the dealers of one group. */
typedef struct {
    char       *name;               /* the group */
    int64_t     capacity;           /* requests a dealer may hold at once */
} vr_service_policy_t;

typedef struct {
    vr_strs_t   bind;
    int         mode;               /* vr_mode_t */
    vr_msec_t   heartbeat_timeout_ms;
    vr_msec_t   busy_timeout_ms;
    vr_msec_t   probe_interval_ms;
    vr_msec_t   request_timeout_ms;
    vr_msec_t   no_service_wait_ms;
    int64_t     max_queue;
    int64_t     max_message_bytes;
    int64_t     dealer_capacity;
    int64_t     max_capacity;
    int64_t     max_capable_clients;
    int64_t     hwm;
    bool        send_router_shutdown;
    vr_blocks_t methods;            /* of vr_method_policy_t */
    vr_blocks_t services;           /* of vr_service_policy_t */
    vr_curve_conf_t curve;          /* router.curve */
    const char *bind_where;         /* "FILE:LINE:COL: \"router.bind\"" */
    const char *curve_where;        /* of the server key, for a change */
} vr_router_conf_t;

extern vr_module_t vr_router_module;

/* Longest method name ("Service.method") accepted, in bytes. */
#define VR_METHOD_NAME_MAX  512

/* ---- terminal error codes (PROTOCOL.md B.2) --------------------------- */

typedef enum {
    VR_CODE_BAD_REQUEST = 0,
    VR_CODE_UNAUTHORIZED,
    VR_CODE_FORBIDDEN,
    VR_CODE_QUEUE_FULL,
    VR_CODE_RATE_LIMITED,
    VR_CODE_DEALER_ERROR,
    VR_CODE_DEALER_LOST,
    VR_CODE_NO_SERVICE,
    VR_CODE_SHUTTING_DOWN,
    VR_CODE_TIMEOUT,
    VR_CODE_CANCELLED,
    VR_CODE_RESPONSE_TOO_LARGE,     /* HTTP only: the chunks of one JSON
                                       answer outgrew http.stream_buffer */
    VR_CODE_COUNT
} vr_code_t;

/* The code's wire name ("queue_full") and the HTTP status it maps to. */
const char *vr_code_name(vr_code_t code);
int vr_code_http_status(vr_code_t code);

/* ---- authentication hooks (installed by the auth module) -------------- */

typedef enum {
    VR_AUTH_OK = 0,
    VR_AUTH_FAILED,                 /* wrong or missing key */
    VR_AUTH_NOT_NEEDED,             /* no keys configured on that side */
    VR_AUTH_THROTTLED               /* too many failures from the address */
} vr_auth_result_t;

/* Why a call or a login was refused. */
typedef struct {
    vr_code_t   code;               /* forbidden, rate_limited */
    vr_msec_t   retry_after_ms;     /* rate_limited: when to try again */
    char        text[200];
} vr_refusal_t;

/*
 * addr is the peer's address ("" when unknown): failures are counted per
 * address, and an address over the limit gets VR_AUTH_THROTTLED (with
 * *why filled) whatever key it presents.
 */
typedef struct {
    /* True when dealers must present a key in register. */
    bool (*dealer_required)(void *data);
    vr_auth_result_t (*dealer_check)(void *data, const char *addr,
                                     const char *key, size_t len,
                                     vr_refusal_t *why);
    /* True when clients must authenticate before anything else. */
    bool (*client_required)(void *data);
    /* An `auth` message: check the key, remember the identity. */
    vr_auth_result_t (*client_login)(void *data, const char *addr,
                                     const void *cid, size_t cid_len,
                                     const char *key, size_t len,
                                     vr_refusal_t *why);
    /*
     * Has this identity logged in (and is its key still valid)?  *grant:
     * its key's grant.
     */
    bool (*client_session)(void *data, const void *cid, size_t cid_len,
                           vr_grant_t **grant);
    /* A key presented with one request (HTTP); no memory of it. */
    vr_auth_result_t (*client_check)(void *data, const char *addr,
                                     const char *key, size_t len,
                                     vr_grant_t **grant, vr_refusal_t *why);
    /*
     * One call of method name under grant (NULL: no key in play): VR_OK,
     * and the grant counts it until release(); or VR_ERROR with *why.
     */
    int  (*admit)(void *data, vr_grant_t *grant, const char *name,
                  size_t len, vr_refusal_t *why);
    void (*release)(void *data, vr_grant_t *grant);
    void *data;
} vr_auth_ops_t;

/* ---- statistics ------------------------------------------------------- */

typedef struct {
    uint64_t    requests;           /* calls accepted into the broker */
    uint64_t    responses;          /* requests finished by a dealer */
    uint64_t    stream_chunks;      /* "streaming" messages forwarded */
    uint64_t    errors[VR_CODE_COUNT];  /* ended with an error, by code */
    uint64_t    dropped;            /* malformed or unroutable messages */
    uint64_t    late_replies;       /* dealer messages for ended requests */
    uint64_t    send_failures;      /* sends refused by ZeroMQ */
    uint64_t    retries;
    uint64_t    dealers_lost;
    uint64_t    dealers_expired;
    uint64_t    curve_refused;      /* peers the ZAP handler turned away */
    uint64_t    identity_refused;   /* messages under another key's
                                       dealer identity */
} vr_broker_stats_t;

/* ---- the broker ------------------------------------------------------- */

TAILQ_HEAD(vr_request_list_s, vr_request_s);
TAILQ_HEAD(vr_dealer_list_s, vr_dealer_s);

struct vr_broker_s {
    void                    *zctx;
    void                    *router;        /* the ROUTER socket */
    struct vr_zap_s         *zap;           /* with router.curve on */
    vr_loop_t               *loop;
    const vr_router_conf_t  *conf;          /* of the current cycle */
    unsigned                 generation;    /* of conf */
    vr_strs_t                bound;         /* endpoints bound now (malloc) */

    vr_dealer_t             *dealers;       /* uthash by identity */
    struct vr_dealer_list_s  dealer_order;  /* registration order */
    vr_method_t             *methods;       /* uthash by full name */

    vr_auth_ops_t            auth;
    vr_client_caps_t         client_caps;   /* announced in auth */
    struct vr_disabled_s    *disabled;      /* methods an operator turned off */
    vr_timer_t               tick;          /* expiry, probes */

    uint64_t                 next_serial;
    uint64_t                 dispatch_seq;
    size_t                   queued;        /* requests in all queues */
    size_t                   in_flight;     /* requests held by dealers */
    int64_t                  started_wall_ms;
    bool                     stopping;      /* draining: no new calls */
    bool                     stopped;       /* no retries either */
    vr_broker_stats_t        stats;
    vr_recent_errors_t       recent;        /* the last errors */

    zmq_msg_t               *frames;        /* receive scratch */
};

/*
 * Creates the broker with its ROUTER socket, bound to conf->bind.
 * Returns NULL (logged) when a socket option or a bind fails.
 */
vr_broker_t *vr_broker_new(void *zctx, vr_loop_t *loop,
                           const vr_router_conf_t *conf, unsigned generation);

/*
 * The first half of a reload (a module's init): checks that conf can
 * apply and binds its endpoints that are not bound yet.  Nothing else
 * changes: the configuration in force stays, and the endpoints conf
 * drops stay bound.  VR_ERROR (logged, nothing bound) when an endpoint
 * cannot be bound, or when conf turns CURVE on or off or changes the
 * server key pair (that needs a restart).
 */
int vr_broker_prepare(vr_broker_t *b, const vr_router_conf_t *conf);

/*
 * The second half (a module's commit): puts conf in force.  Unbinds the
 * endpoints conf does not list; limits, timeouts and the CURVE
 * allow-list apply from the next event (connection) on, and the
 * registered dealers' capacities are computed again at once.  conf must
 * have been prepared.  Cannot fail.
 */
void vr_broker_commit(vr_broker_t *b, const vr_router_conf_t *conf,
                      unsigned generation);

/*
 * Undoes vr_broker_prepare() of a refused reload: unbinds what it bound;
 * the configuration in force never changed.
 */
void vr_broker_abort(vr_broker_t *b);

/*
 * Starts draining: new calls end with `shutting_down` at once; queued and
 * running requests go on.
 */
void vr_broker_drain(vr_broker_t *b);

/* Requests still to be answered: queued, or running with a waiting client. */
size_t vr_broker_pending(const vr_broker_t *b);

/*
 * Ends every request with `shutting_down`, tells live dealers
 * (router_shutdown) unless configured not to, and closes the socket.
 */
void vr_broker_stop(vr_broker_t *b);

/* Frees everything; NULL-safe.  Call after vr_broker_stop(). */
void vr_broker_destroy(vr_broker_t **bp);

/* Installs authentication hooks (a copy is kept). */
void vr_broker_set_auth(vr_broker_t *b, const vr_auth_ops_t *ops);

/*
 * Admission of one call of method name under grant (NULL: none): VR_OK
 * (the caller stores grant in the request, whose end releases it), or
 * VR_ERROR with *why.  Always VR_OK without an auth module.
 */
int vr_broker_admit(vr_broker_t *b, vr_grant_t *grant, const char *name,
                    size_t len, vr_refusal_t *why);

/*
 * An operator turns a method off (calls end with no_service at once, those
 * waiting too) or on again.  Names need not be offered by anyone.
 */
void vr_broker_set_disabled(vr_broker_t *b, const char *name, bool disabled);
bool vr_broker_disabled(const vr_broker_t *b, const char *name, size_t len);

/* Calls f(name, data) for every disabled method. */
void vr_broker_each_disabled(const vr_broker_t *b,
                             void (*f)(const char *name, void *data),
                             void *data);

/* The policy for a method name (NULL: defaults apply). */
const vr_method_policy_t *vr_broker_policy(const vr_broker_t *b,
                                           const char *name);

#endif /* VR_BROKER_H */
