/*
 * vr_dispatch.c: queues to dealers, dealers' messages back to requests.
 *
 * fifo mode: the head of a queue goes to the dealer with free capacity
 * that has waited longest since its last dispatch (fair rotation).
 * load_balance: to the dealer with the lowest in-flight/capacity ratio.
 * A dealer without the "request_id_errors" capability never holds two
 * requests of one client: Python dealers send errors without a
 * request_id, and the client identity is then the only way to match them.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_dealer.h"
#include "vr_dispatch.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_method.h"
#include "vr_request.h"
#include "vr_wire.h"

/* Queued requests passed over, at most, to find one a free slot may take. */
#define VR_DISPATCH_LOOKAHEAD  64

static bool
vr_dispatch_can_take(const vr_dealer_t *d, const vr_request_t *r)
{
    return vr_dealer_has_room(d)
           && (d->in_flight == 0 || d->rid_errors
               || !vr_dealer_holds_client(d, r));
}

/* Is a a better choice than b under the configured mode? */
static bool
vr_dispatch_better(const vr_broker_t *b, const vr_dealer_t *x,
                   const vr_dealer_t *y)
{
    if (b->conf->mode == VR_MODE_LOAD_BALANCE) {
        uint64_t lx = (uint64_t) x->in_flight * y->capacity;
        uint64_t ly = (uint64_t) y->in_flight * x->capacity;
        if (lx != ly) {
            return lx < ly;
        }
    }
    return x->last_dispatch_seq < y->last_dispatch_seq;
}

/*
 * The dealer r should go to, or NULL.  *any_free tells whether some live
 * dealer of m had a free slot at all (so that a NULL only because of the
 * one-request-per-client rule can look further down the queue).
 */
static vr_dealer_t *
vr_dispatch_pick(vr_broker_t *b, vr_method_t *m, const vr_request_t *r,
                 bool *any_free)
{
    vr_dealer_t *best = NULL;

    *any_free = false;
    for (size_t i = 0; i < m->ndealers; i++) {
        vr_dealer_t *d = m->dealers[i];
        if (!vr_dealer_has_room(d)) {
            continue;
        }
        *any_free = true;
        if (vr_dispatch_can_take(d, r)
            && (best == NULL || vr_dispatch_better(b, d, best)))
        {
            best = d;
        }
    }
    return best;
}

/*
 * Sends queued r to d: [sid, "call_from_router", cid, method, body...].
 * The body frames are shared with ZeroMQ (reference-counted copies), so
 * the request can be sent again if d is lost.  VR_ERROR when the send
 * failed (d is then lost; r stays first in its queue).
 */
static int
vr_dispatch_assign(vr_broker_t *b, vr_request_t *r, vr_dealer_t *d)
{
    vr_method_t *m = r->method;
    vr_frame_t   f[4 + VR_WIRE_MAX_FRAMES];
    zmq_msg_t    copies[VR_WIRE_MAX_FRAMES];

    f[0] = VR_FRAME(d->id, d->id_len);
    f[1] = VR_FRAME_STR("call_from_router");
    f[2] = VR_FRAME(r->cid, r->cid_len);
    f[3] = VR_FRAME(m->name, m->name_len);
    for (size_t i = 0; i < r->nbody; i++) {
        zmq_msg_init(&copies[i]);
        zmq_msg_copy(&copies[i], &r->body[i]);
        f[4 + i] = VR_FRAME_MSG(&copies[i]);
    }
    if (vr_dealer_send(b, d, f, 4 + r->nbody) != VR_OK) {
        return VR_ERROR;
    }
    TAILQ_REMOVE(&m->queue, r, link);
    m->queue_len--;
    b->queued--;
    if (r->attempts == 0) {
        vr_stats_waited(&m->stats, (double) (vr_now_ms - r->received_ms));
    }
    r->state = VR_REQ_ACTIVE;
    r->dealer = d;
    r->attempts++;
    r->dispatched_ms = vr_now_ms;
    TAILQ_INSERT_TAIL(&d->requests, r, link);
    d->in_flight++;
    m->in_flight++;
    b->in_flight++;
    d->request_count++;
    d->last_dispatch_seq = ++b->dispatch_seq;
    if (d->in_flight == 1) {
        d->last_probe_ms = vr_now_ms;
    }
    return VR_OK;
}

void
vr_dispatch_method(vr_broker_t *b, vr_method_t *m)
{
    vr_request_t *r = TAILQ_FIRST(&m->queue);
    size_t        skipped = 0;

    while (r != NULL && skipped < VR_DISPATCH_LOOKAHEAD) {
        bool         any_free;
        vr_dealer_t *d = vr_dispatch_pick(b, m, r, &any_free);

        if (d == NULL) {
            if (!any_free) {
                break;
            }
            /* Only this client's own requests block the free slots: the
             * next client's request may go first. */
            r = TAILQ_NEXT(r, link);
            skipped++;
            continue;
        }
        /* On failure d is now inactive and the next pick skips it.  Either
         * way the queue may have changed: start again from its head. */
        vr_dispatch_assign(b, r, d);
        r = TAILQ_FIRST(&m->queue);
        skipped = 0;
    }
}

/* The first request of m's queue (within the lookahead) that d can take. */
static vr_request_t *
vr_dispatch_first_for(vr_method_t *m, const vr_dealer_t *d)
{
    vr_request_t *r = TAILQ_FIRST(&m->queue);

    for (size_t i = 0; r != NULL && i < VR_DISPATCH_LOOKAHEAD; i++) {
        if (vr_dispatch_can_take(d, r)) {
            return r;
        }
        r = TAILQ_NEXT(r, link);
    }
    return NULL;
}

void
vr_dispatch_dealer(vr_broker_t *b, vr_dealer_t *d)
{
    while (vr_dealer_has_room(d)) {
        vr_request_t *best = NULL;

        for (size_t i = 0; i < d->nmethods; i++) {
            vr_request_t *r = vr_dispatch_first_for(d->methods[i], d);
            if (r != NULL && (best == NULL || r->serial < best->serial)) {
                best = r;
            }
        }
        if (best == NULL || vr_dispatch_assign(b, best, d) != VR_OK) {
            break;
        }
    }
}

void
vr_dispatch_cancel(vr_broker_t *b, vr_request_t *r)
{
    vr_dealer_t *d = r->dealer;
    vr_buf_t     body = VR_BUF_INIT;
    vr_frame_t   f[4];

    if (d == NULL || !d->can_cancel || d->state != VR_DEALER_ACTIVE) {
        return;
    }
    vr_buf_adds(&body, "{\"request_id\": ");
    vr_json_escape(&body, r->rid, r->rid_len);
    vr_buf_addc(&body, '}');
    f[0] = VR_FRAME(d->id, d->id_len);
    f[1] = VR_FRAME_STR("cancel_from_router");
    f[2] = VR_FRAME(r->cid, r->cid_len);
    f[3] = VR_FRAME(body.p, body.len);
    /* Not vr_dealer_send: losing d here would free r under its caller.
     * A dealer that is really gone is found by its heartbeats, and the
     * orphan ends at its busy_timeout. */
    if (vr_wire_send(b->router, f, 4) != VR_OK) {
        b->stats.send_failures++;
        vr_log_limited(VR_LOG_WARN, "cancel of request %s not sent to "
                       "dealer %s: %s", r->rid, d->id_text,
                       zmq_strerror(errno));
    }
    vr_buf_free(&body);
}

/* The kind of a ResponseJSON from its "type"; -1 when it is none. */
static int
vr_dispatch_kind(const vr_json_field_t *type)
{
    if (type->kind != VR_JSON_STRING) {
        return -1;
    }
    if (vr_eq(type->value, type->len, "\"reply\"")) {
        return VR_REPLY_RESULT;
    }
    if (vr_eq(type->value, type->len, "\"streaming\"")) {
        return VR_REPLY_CHUNK;
    }
    if (vr_eq(type->value, type->len, "\"end\"")) {
        return VR_REPLY_END;
    }
    if (vr_eq(type->value, type->len, "\"error\"")) {
        return VR_REPLY_ERROR;
    }
    return -1;
}

/* The request of d that a message for client cid with request_id rid is for. */
static vr_request_t *
vr_dispatch_match(vr_dealer_t *d, const void *cid, size_t cid_len,
                  const char *rid, size_t rid_len)
{
    vr_request_t *r;
    unsigned      hash;

    HASH_VALUE(cid, cid_len, hash);
    TAILQ_FOREACH(r, &d->requests, link) {
        if (r->cid_hash == hash && r->cid_len == cid_len
            && memcmp(r->cid, cid, cid_len) == 0
            && (rid == NULL
                || (r->rid_len == rid_len && memcmp(r->rid, rid, rid_len) == 0)))
        {
            return r;
        }
    }
    return NULL;
}

void
vr_dispatch_on_reply(vr_broker_t *b, vr_dealer_t *d, zmq_msg_t *frames,
                     size_t n)
{
    vr_json_field_t f[2] = { { "type", NULL, 0, 0 },
                             { "request_id", NULL, 0, 0 } };
    vr_buf_t        decoded = VR_BUF_INIT;
    const char     *rid = NULL;
    size_t          rid_len = 0;
    vr_request_t   *r;
    int             kind;
    char            idbuf[VR_LOG_ID_SIZE];

    if (n < 4) {
        b->stats.dropped++;
        vr_log_limited(VR_LOG_WARN, "reply_from_dealer from %s with %zu "
                       "frames dropped", d->id_text, n);
        return;
    }
    if (vr_json_fields(zmq_msg_data(&frames[3]), zmq_msg_size(&frames[3]), f,
                       2, false) != VR_OK)
    {
        kind = -1;
    } else {
        kind = vr_dispatch_kind(&f[0]);
    }
    if (f[1].kind == VR_JSON_STRING
        && vr_json_string_text(f[1].value, f[1].len, &decoded, &rid,
                               &rid_len) != VR_OK)
    {
        rid = NULL;
        rid_len = 0;
    }
    r = vr_dispatch_match(d, zmq_msg_data(&frames[2]),
                          zmq_msg_size(&frames[2]), rid, rid_len);
    if (r == NULL) {
        b->stats.late_replies++;
        vr_log_limited(VR_LOG_INFO, "message from dealer %s for client %s, "
                       "request %.*s, matches no request it holds; dropped",
                       d->id_text,
                       vr_log_escape(zmq_msg_data(&frames[2]),
                                     zmq_msg_size(&frames[2]), idbuf,
                                     sizeof(idbuf)),
                       rid != NULL ? (int) vr_min(rid_len, 128) : 1,
                       rid != NULL ? rid : "-");
        vr_buf_free(&decoded);
        return;
    }
    vr_buf_free(&decoded);
    if (zmq_msg_size(&frames[3]) > (size_t) b->conf->max_message_bytes) {
        /* Its client must not wait for an answer that is not coming. */
        vr_log_limited(VR_LOG_WARN, "dealer %s sent %zu bytes for request "
                       "%s, over router.max_message; the request ends",
                       d->id_text, zmq_msg_size(&frames[3]), r->rid);
        b->stats.dropped++;
        vr_request_fail(r, VR_CODE_DEALER_ERROR, "the dealer's answer is "
                        "larger than router.max_message");
        kind = VR_REPLY_ERROR;      /* and it frees the dealer's slot */
    } else if (kind < 0) {
        vr_log_limited(VR_LOG_WARN, "dealer %s sent a malformed message for "
                       "request %s; the request ends", d->id_text, r->rid);
        vr_request_fail(r, VR_CODE_DEALER_ERROR,
                        "the dealer sent a malformed response");
        kind = VR_REPLY_ERROR;      /* and it frees the dealer's slot */
    }
    vr_request_reply(r, (vr_reply_kind_t) kind, &frames[3]);
}
