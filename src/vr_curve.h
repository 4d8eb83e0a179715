/*
 * vr_curve.h: ZeroMQ CURVE on the ROUTER socket: the "router.curve:"
 * block, its checks, and the keys peers authenticated with.
 *
 * With a server key pair configured (key_file, or secret_key) the ROUTER
 * is a CURVE server: every connection is encrypted, and the ZAP handler
 * (vr_zap.h) lets in the client keys of the allow-list (allow, allow_dir;
 * none configured: any key).  The key pair applies to the socket's binds,
 * so turning CURVE on or off or changing the pair needs a restart (a
 * reload that tries is refused); the allow-list changes with a reload and
 * applies to new connections.
 *
 * A peer's key reaches the broker with each message (ZeroMQ's "User-Id"
 * property, which the ZAP handler sets to the client's Z85 key): a dealer
 * identity is bound to the key that registered it (vr_dealer.c).  Without
 * CURVE, a peer's identity is only what it claims.
 */
#ifndef VR_CURVE_H
#define VR_CURVE_H

#include <zmq.h>

#include "vr_core.h"
#include "vr_conf.h"
#include "vr_curve_cert.h"

typedef struct {
    /* As configured. */
    char        *key_file;          /* the server's secret certificate */
    char        *secret_key;        /* or its secret key (VR_CONF_SECRET) */
    char        *public_key;        /* optional: checked against the pair */
    vr_strs_t    allow;             /* client public keys */
    char        *allow_dir;         /* directory of client *.key files */

    /* Derived by vr_curve_conf_check(). */
    bool         on;
    char         server_public[VR_CURVE_Z85_SIZE];
    char         server_secret[VR_CURVE_Z85_SIZE];
    bool         listed;            /* an allow-list is configured */
    char       **allowed;           /* its keys in Z85, sorted (pool) */
    size_t       nallowed;
} vr_curve_conf_t;

/* The directive table of the block (for vr_conf_set_block). */
extern const vr_directive_t vr_curve_directives[];

/*
 * Checks the block whose key path is prefix ("router.curve") after it was
 * parsed: reads key_file and allow_dir, checks every key, and fills the
 * derived fields (in cf's pool).  VR_OK, or VR_ERROR after
 * vr_conf_error_at() naming the key.  Empty strings count as unset.
 */
int vr_curve_conf_check(vr_conf_t *cf, const char *prefix, vr_curve_conf_t *c);

/*
 * Makes socket a CURVE server with c's key pair (before it binds).  A
 * no-op when c is off.  VR_OK, or VR_ERROR (logged).
 */
int vr_curve_server_setup(void *socket, const vr_curve_conf_t *c);

/* Do a and b use the same server key pair (or are both off)? */
bool vr_curve_same_server(const vr_curve_conf_t *a, const vr_curve_conf_t *b);

/* May the client with this Z85 public key connect? */
bool vr_curve_allowed(const vr_curve_conf_t *c, const char *z85);

/*
 * The Z85 public key the peer of a received message authenticated with,
 * or "" when it came without CURVE.  frame is one the peer sent (the
 * ROUTER's identity frame may lack the property).  The string belongs
 * to the message.
 */
const char *vr_curve_peer_key(zmq_msg_t *frame);

/*
 * Is a message whose peer key is `key` (from vr_curve_peer_key) from the
 * owner of `bound` (a key recorded earlier, "" for none)?
 */
static inline bool
vr_curve_same_peer(const char *bound, const char *key)
{
    return strcmp(bound, key) == 0;
}

#endif /* VR_CURVE_H */
