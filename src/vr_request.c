/*
 * vr_request.c: the life of a request (see vr_request.h).
 *
 *   NEW --submit--> QUEUED --dispatch--> ACTIVE --final reply--> freed
 *    |                 |                   |  \
 *    | refused         | deadline          |   deadline / client gone
 *    v                 v                   v           v
 *  error            error               error       ORPHAN --final reply,
 *                                  (dealer lost:          dealer gone,
 *                                   retry -> QUEUED)      limit--> freed
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_call.h"
#include "vr_dealer.h"
#include "vr_dispatch.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_method.h"
#include "vr_request.h"
#include "vr_wire.h"

static const struct {
    const char *name;
    int         http_status;
} vr_codes[VR_CODE_COUNT] = {
    [VR_CODE_BAD_REQUEST]   = { "bad_request", 400 },
    [VR_CODE_UNAUTHORIZED]  = { "unauthorized", 401 },
    [VR_CODE_FORBIDDEN]     = { "forbidden", 403 },
    [VR_CODE_QUEUE_FULL]    = { "queue_full", 429 },
    [VR_CODE_RATE_LIMITED]  = { "rate_limited", 429 },
    [VR_CODE_DEALER_ERROR]  = { "dealer_error", 500 },
    [VR_CODE_DEALER_LOST]   = { "dealer_lost", 502 },
    [VR_CODE_NO_SERVICE]    = { "no_service", 503 },
    [VR_CODE_SHUTTING_DOWN] = { "shutting_down", 503 },
    [VR_CODE_TIMEOUT]       = { "timeout", 504 },
    [VR_CODE_CANCELLED]     = { "cancelled", 499 },
    [VR_CODE_RESPONSE_TOO_LARGE] = { "response_too_large", 502 },
};

const char *
vr_code_name(vr_code_t code)
{
    return code < VR_CODE_COUNT ? vr_codes[code].name : "error";
}

int
vr_code_http_status(vr_code_t code)
{
    return code < VR_CODE_COUNT ? vr_codes[code].http_status : 500;
}

static void vr_request_on_timer(vr_timer_t *t);

vr_request_t *
vr_request_new(vr_broker_t *b, const char *name, size_t name_len,
               const void *cid, size_t cid_len, const char *rid,
               size_t rid_len, zmq_msg_t *body, size_t nbody,
               const vr_origin_t *origin, void *origin_data,
               vr_msec_t timeout_ms)
{
    vr_request_t *r;
    vr_msec_t     limit_ms;
    char         *p;

    r = vr_calloc(1, sizeof(*r) + cid_len + rid_len + 2);
    p = (char *) (r + 1);
    r->cid = (unsigned char *) p;
    r->cid_len = cid_len;
    r->rid = p + cid_len + 1;
    r->rid_len = rid_len;
    /* An empty id may come as NULL (an empty vr_buf_t). */
    if (cid_len > 0) {
        memcpy(r->cid, cid, cid_len);
    }
    HASH_VALUE(r->cid, cid_len, r->cid_hash);
    if (rid_len > 0) {
        memcpy(r->rid, rid, rid_len);
    }

    r->serial = b->next_serial++;
    r->broker = b;
    r->method = vr_method_get(b, name, name_len);
    r->method->refs++;

    if (nbody == 1) {
        r->body = &r->body_inline;
    } else {
        r->body = vr_calloc(nbody, sizeof(zmq_msg_t));
    }
    for (size_t i = 0; i < nbody; i++) {
        zmq_msg_init(&r->body[i]);
        zmq_msg_move(&r->body[i], &body[i]);    /* the request owns it now */
    }
    r->nbody = nbody;

    limit_ms = vr_method_timeout_ms(b, r->method);
    if (timeout_ms <= 0 || timeout_ms > limit_ms) {
        timeout_ms = limit_ms;
    }
    r->received_ms = vr_now_ms;
    r->deadline_ms = vr_now_ms + timeout_ms;
    vr_timer_init(&r->timer, vr_request_on_timer, r);
    r->origin = origin;
    r->origin_data = origin_data;
    return r;
}

void
vr_request_error_json(const vr_request_t *r, vr_code_t code, const char *text,
                      vr_buf_t *out)
{
    vr_wire_request_error(out, r->rid, r->rid_len, text, vr_code_name(code));
}

/* Counts an error against the gateway, the method and the recent list. */
static void
vr_request_count_error(vr_request_t *r, vr_code_t code, const char *text)
{
    r->broker->stats.errors[code]++;
    vr_stats_error(&r->method->stats, (int) code);
    vr_recent_error(&r->broker->recent, r->method->name, (int) code, text,
                    r->rid);
}

/* Ends a request that no dealer holds: the origin hears, then it goes. */
static void
vr_request_end(vr_request_t *r, vr_code_t code, const char *text)
{
    vr_request_count_error(r, code, text);
    r->state = VR_REQ_DONE;
    r->origin->fail(r, code, text);
    vr_request_free(r);
}

static void
vr_request_unqueue(vr_request_t *r)
{
    TAILQ_REMOVE(&r->method->queue, r, link);
    r->method->queue_len--;
    r->broker->queued--;
}

static void
vr_request_detach(vr_request_t *r)
{
    vr_dealer_t *d = r->dealer;

    TAILQ_REMOVE(&d->requests, r, link);
    if (--d->in_flight == 0) {
        d->reregistered_ms = 0;     /* nothing left to doubt */
    }
    r->method->in_flight--;
    r->broker->in_flight--;
    r->dealer = NULL;
}

void
vr_request_submit(vr_request_t *r)
{
    vr_broker_t *b = r->broker;
    vr_method_t *m = r->method;
    char         text[512];
    size_t       max_queue;

    b->stats.requests++;
    vr_stats_call(&m->stats);
    if (b->stopping) {
        vr_request_end(r, VR_CODE_SHUTTING_DOWN,
                       "the gateway is shutting down");
        return;
    }
    if (vr_broker_disabled(b, m->name, m->name_len)) {
        snprintf(text, sizeof(text), "%s is disabled by an operator",
                 m->name);
        vr_request_end(r, VR_CODE_NO_SERVICE, text);
        return;
    }
    if (vr_method_live_dealers(m) == 0 && b->conf->no_service_wait_ms == 0) {
        snprintf(text, sizeof(text), "no live dealer offers %s", m->name);
        vr_request_end(r, VR_CODE_NO_SERVICE, text);
        return;
    }
    max_queue = vr_method_max_queue(b, m);
    if (m->queue_len >= max_queue) {
        snprintf(text, sizeof(text),
                 "queue full: %zu requests wait for %s (max_queue %zu)",
                 m->queue_len, m->name, max_queue);
        vr_request_end(r, VR_CODE_QUEUE_FULL, text);
        return;
    }
    r->state = VR_REQ_QUEUED;
    TAILQ_INSERT_TAIL(&m->queue, r, link);
    m->queue_len++;
    b->queued++;
    vr_timer_at(b->loop, &r->timer, r->deadline_ms);
    if (vr_method_live_dealers(m) == 0) {
        vr_method_check_service(b, m);
    } else {
        vr_dispatch_method(b, m);
    }
    /* What is left waiting once the free dealers took their share. */
    vr_stats_queue(&m->stats, m->queue_len);
}

/* r leaves its client but keeps its dealer busy, for a limited time. */
static void
vr_request_orphan(vr_request_t *r)
{
    vr_broker_t *b = r->broker;

    r->state = VR_REQ_ORPHAN;
    vr_timer_add(b->loop, &r->timer, b->conf->busy_timeout_ms);
    vr_dispatch_cancel(b, r);
}

void
vr_request_fail(vr_request_t *r, vr_code_t code, const char *text)
{
    switch (r->state) {
    case VR_REQ_NEW:
        vr_request_end(r, code, text);
        break;
    case VR_REQ_QUEUED:
        vr_request_unqueue(r);
        vr_request_end(r, code, text);
        break;
    case VR_REQ_ACTIVE:
        vr_request_count_error(r, code, text);
        r->origin->fail(r, code, text);
        vr_request_orphan(r);
        break;
    case VR_REQ_ORPHAN:
    case VR_REQ_DONE:
        break;
    }
}

void
vr_request_cancel(vr_request_t *r)
{
    vr_request_fail(r, VR_CODE_CANCELLED, "cancelled by the client");
}

static void
vr_request_on_timer(vr_timer_t *t)
{
    vr_request_t *r = t->data;
    vr_broker_t  *b = r->broker;
    vr_dealer_t  *d;
    char          text[512];

    switch (r->state) {
    case VR_REQ_QUEUED:
        snprintf(text, sizeof(text),
                 "timed out after %lld ms waiting in the queue of %s",
                 (long long) (vr_now_ms - r->received_ms), r->method->name);
        vr_request_fail(r, VR_CODE_TIMEOUT, text);
        break;
    case VR_REQ_ACTIVE:
        snprintf(text, sizeof(text),
                 "timed out after %lld ms; dealer %s was still working on it",
                 (long long) (vr_now_ms - r->received_ms), r->dealer->id_text);
        vr_request_fail(r, VR_CODE_TIMEOUT, text);
        break;
    case VR_REQ_ORPHAN:
        /* The dealer never finished it: give its slot back. */
        d = r->dealer;
        vr_log_warn("dealer %s did not finish request %s of %s within "
                    "router.busy_timeout after its end; slot released",
                    d->id_text, r->rid, r->method->name);
        vr_request_detach(r);
        vr_request_free(r);
        vr_dispatch_dealer(b, d);
        break;
    default:
        break;
    }
}

void
vr_request_reply(vr_request_t *r, vr_reply_kind_t kind, zmq_msg_t *payload)
{
    vr_broker_t *b = r->broker;
    vr_dealer_t *d = r->dealer;
    bool         final = kind != VR_REPLY_CHUNK;

    if (r->state == VR_REQ_ORPHAN) {
        b->stats.late_replies++;
        if (final) {
            vr_request_detach(r);
            vr_request_free(r);
            vr_dispatch_dealer(b, d);
        }
        return;
    }
    if (final) {
        b->stats.responses++;
        d->reply_count++;
        vr_stats_served(&r->method->stats,
                        (double) (vr_now_ms - r->dispatched_ms));
    } else {
        b->stats.stream_chunks++;
        r->chunks++;
    }
    if (kind == VR_REPLY_ERROR) {
        vr_buf_t text = VR_BUF_INIT;
        vr_call_error_text(zmq_msg_data(payload), zmq_msg_size(payload),
                           &text);
        vr_request_count_error(r, VR_CODE_DEALER_ERROR, text.p);
        vr_buf_free(&text);
    }
    if (!final) {
        if (r->origin->deliver(r, kind, payload) != VR_OK) {
            /* The client went away in the middle of a stream. */
            vr_request_count_error(r, VR_CODE_CANCELLED,
                                   "the client went away during the stream");
            vr_request_orphan(r);
        }
        return;
    }
    /*
     * The dealer's slot is free: it gets its next request before the
     * client hears, so that a dealer of capacity 1 waits for one send
     * less.  r is off the dealer already and cannot be failed again.
     */
    r->state = VR_REQ_DONE;
    vr_request_detach(r);
    vr_dispatch_dealer(b, d);
    r->origin->deliver(r, kind, payload);
    vr_request_free(r);
}

void
vr_request_dealer_gone(vr_request_t *r, const char *why)
{
    vr_broker_t *b = r->broker;
    vr_method_t *m = r->method;
    char         text[512];

    vr_request_detach(r);
    if (r->state == VR_REQ_ORPHAN) {
        vr_request_free(r);
        return;
    }
    if (!b->stopped && r->attempts < vr_method_max_attempts(b, m)
        && (r->chunks == 0
            || (r->origin->rewind != NULL && r->origin->rewind(r))))
    {
        /* Nothing of it reached the client: safe to give to another
         * dealer, first in line. */
        r->chunks = 0;
        b->stats.retries++;
        r->state = VR_REQ_QUEUED;
        TAILQ_INSERT_HEAD(&m->queue, r, link);
        m->queue_len++;
        b->queued++;
        vr_dispatch_method(b, m);
        return;
    }
    snprintf(text, sizeof(text), "dealer lost while handling the request: %s",
             why);
    vr_request_end(r, VR_CODE_DEALER_LOST, text);
}

void
vr_request_free(vr_request_t *r)
{
    vr_broker_t *b = r->broker;
    vr_method_t *m = r->method;

    vr_timer_del(b->loop, &r->timer);
    if (r->state == VR_REQ_QUEUED) {
        vr_request_unqueue(r);
    }
    if (r->dealer != NULL) {
        vr_request_detach(r);
    }
    if (r->origin->release != NULL) {
        r->origin->release(r);
    }
    if (r->grant != NULL) {
        b->auth.release(b->auth.data, r->grant);
    }
    vr_wire_close(r->body, r->nbody);
    if (r->body != &r->body_inline) {
        free(r->body);
    }
    m->refs--;
    vr_method_release(b, m);
    free(r);
}
