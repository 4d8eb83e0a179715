/*
 * vr_dispatch.h: moving requests from queues to dealers, and dealers'
 * messages back to requests.
 */
#ifndef VR_DISPATCH_H
#define VR_DISPATCH_H

#include "vr_core.h"
#include "vr_broker.h"

/* Gives m's waiting requests to dealers with free capacity, in order. */
void vr_dispatch_method(vr_broker_t *b, vr_method_t *m);

/* d has free capacity: gives it the oldest request it can take. */
void vr_dispatch_dealer(vr_broker_t *b, vr_dealer_t *d);

/* A reply_from_dealer from registered dealer d; frames[0] is d's id. */
void vr_dispatch_on_reply(vr_broker_t *b, vr_dealer_t *d, zmq_msg_t *frames,
                          size_t n);

/*
 * Tells d (when it can cancel) to stop working on r.  A send that fails
 * is counted and logged; it does not end d, so r stays valid.
 */
void vr_dispatch_cancel(vr_broker_t *b, vr_request_t *r);

#endif /* VR_DISPATCH_H */
