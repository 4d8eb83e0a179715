/*
 * vr_zap.h: the ZAP handler (ZeroMQ RFC 27) that admits CURVE clients.
 *
 * A REP socket bound to inproc://zeromq.zap.01 in the gateway's context,
 * served on the event loop.  libzmq asks it about every peer of a socket
 * with a ZAP domain (the ROUTER, when router.curve is on): a CURVE client
 * whose public key the allow-list lets in gets "200" and its Z85 key as
 * User-Id, which then comes with each of its messages
 * (vr_curve_peer_key); any other gets "400", logged (rate-limited) and
 * counted.  Sockets of other domains are not its business: "200".
 */
#ifndef VR_ZAP_H
#define VR_ZAP_H

#include "vr_core.h"
#include "vr_curve.h"
#include "vr_loop.h"

typedef struct vr_zap_s  vr_zap_t;

/* The ZAP domain of the ROUTER socket. */
#define VR_ZAP_DOMAIN  "voidrail"

/*
 * Binds the handler in zctx and registers it with loop.  conf is the
 * allow-list in force (borrowed until vr_zap_set_conf() replaces it);
 * each refusal adds one to *refused.  Must run before the ROUTER binds,
 * or its first peers would be let in unasked.  NULL (logged) when the
 * socket cannot be made or bound (another handler in the context).
 */
vr_zap_t *vr_zap_new(void *zctx, vr_loop_t *loop,
                     const vr_curve_conf_t *conf, uint64_t *refused);

/* New connections are judged by conf from now on (borrowed). */
void vr_zap_set_conf(vr_zap_t *z, const vr_curve_conf_t *conf);

/* Unregisters and closes the handler; NULL-safe. */
void vr_zap_destroy(vr_zap_t **zp);

#endif /* VR_ZAP_H */
