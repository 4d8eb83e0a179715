/*
 * vr_admin.h: the broker's answers about itself (PROTOCOL.md A.3):
 * methods, clusters, router_info and queue_status, in Part A's shapes
 * with extra keys where Part B adds them.  The HTTP side serves the same
 * documents.
 */
#ifndef VR_ADMIN_H
#define VR_ADMIN_H

#include <jansson.h>
#include "vr_core.h"
#include "vr_broker.h"

/* Each returns a new JSON object (the caller owns the reference). */
json_t *vr_admin_methods(vr_broker_t *b);
json_t *vr_admin_clusters(vr_broker_t *b);
json_t *vr_admin_router_info(vr_broker_t *b);
json_t *vr_admin_queue_status(vr_broker_t *b);

/*
 * Every method with a dealer: its metadata (from a live dealer when there
 * is one), its dealers with their state and load, and its queue.
 */
json_t *vr_admin_services(vr_broker_t *b);

/* Dumps JSON the way Python's json.dumps does (", " / ": ", ASCII). */
char *vr_admin_dump(const json_t *j, size_t *len);

#endif /* VR_ADMIN_H */
