/*
 * vr_client_caps.h: the capabilities ZeroMQ clients announced.
 *
 * A client may list capabilities in its `auth` message (PROTOCOL.md B.7
 * as this gateway extends it, doc/voidrail.8): the gateway remembers them
 * per client identity, for at most router.max_capable_clients identities;
 * the one seen least recently is forgotten first.  A client that sends
 * no list (every Python client) is never in the table.
 */
#ifndef VR_CLIENT_CAPS_H
#define VR_CLIENT_CAPS_H

#include <jansson.h>
#include <sys/queue.h>
#include <uthash.h>
#include "vr_core.h"

/* Capability bits. */
#define VR_CLIENT_CAP_RID_ERRORS  0x1   /* "request_id_errors" */

typedef struct vr_client_cap_s vr_client_cap_t;

typedef struct {
    vr_client_cap_t                          *byid;    /* uthash */
    TAILQ_HEAD(vr_client_cap_lru_s, vr_client_cap_s) lru;  /* recent first */
    size_t                                    n;
} vr_client_caps_t;

void vr_client_caps_init(vr_client_caps_t *t);

/* Frees every entry; t may be initialised again. */
void vr_client_caps_free(vr_client_caps_t *t);

/*
 * The bits of the capability names in list (a JSON array, or NULL: none).
 * Unknown names and non-strings are ignored: a client may announce more
 * than this gateway knows.
 */
unsigned vr_client_caps_parse(const json_t *list);

/*
 * Remembers caps for identity cid (copied); caps 0 forgets it.  Beyond
 * max entries the least recently seen are forgotten.
 */
void vr_client_caps_set(vr_client_caps_t *t, const void *cid,
                        size_t cid_len, unsigned caps, size_t max);

/* The capabilities of cid (0: none or forgotten); counts as seen. */
unsigned vr_client_caps_get(vr_client_caps_t *t, const void *cid,
                            size_t cid_len);

/* Forgets the least recently seen entries beyond max (a reload). */
void vr_client_caps_trim(vr_client_caps_t *t, size_t max);

#endif /* VR_CLIENT_CAPS_H */
