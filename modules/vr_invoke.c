/*
 * vr_invoke.c: calling methods over HTTP.
 *
 *   POST /invoke/Service.method     body: the arguments (see vr_call.h)
 *   GET  /stream/Service.method?args=<url-encoded JSON>
 *
 * The answer comes as one JSON body (a streaming method's chunks as an
 * array), as Server-Sent Events (Accept: text/event-stream, and always for
 * GET /stream), or as NDJSON, a line per chunk as it arrives (Accept:
 * application/x-ndjson).  Events: "chunk", "result", "end", "error", each
 * with an id; a retry hint first and keep-alive comments while the dealer
 * is silent.  A client that hangs up cancels its request.
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_call.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_http_call.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_request.h"
#include "vr_sse.h"

typedef enum {
    VR_INVOKE_JSON = 0,
    VR_INVOKE_SSE,
    VR_INVOKE_NDJSON
} vr_invoke_mode_t;

/*
 * One HTTP call; held by its HTTP request (until the core frees it) and by
 * its broker request (until the broker releases it); freed when both let go.
 */
typedef struct {
    vr_http_req_t       *hr;        /* NULL once the client is gone */
    bool                 hr_holds;  /* until the HTTP request is freed */
    vr_request_t        *r;         /* NULL once the broker let go */
    vr_invoke_mode_t     mode;
    bool                 streaming; /* the stream response has started */
    bool                 finished;  /* the client got its last word */
    vr_buf_t             chunks;    /* JSON mode: "[c1,c2" */
    size_t               nchunks;
    uint64_t             event_id;
    vr_timer_t           keepalive;
} vr_invoke_t;

static vr_broker_t *vr_invoke_broker;
static vr_loop_t   *vr_invoke_loop;

extern vr_module_t vr_invoke_module;

static void
vr_invoke_drop(vr_invoke_t *inv)
{
    if (!inv->hr_holds && inv->r == NULL) {
        vr_timer_del(vr_invoke_loop, &inv->keepalive);
        vr_buf_free(&inv->chunks);
        free(inv);
    }
}

/* ---- writing to the client -------------------------------------------- */

static void
vr_invoke_write(vr_invoke_t *inv, const vr_buf_t *b)
{
    if (vr_http_stream_write(inv->hr, b->p, b->len) != VR_OK) {
        return;     /* cut off: on_gone follows and cancels the request */
    }
    if (inv->mode == VR_INVOKE_SSE && !inv->finished) {
        vr_timer_add(vr_invoke_loop, &inv->keepalive,
                     vr_http_conf(inv->hr)->keepalive_ms);
    }
}

static void
vr_invoke_event(vr_invoke_t *inv, const char *name, const char *data,
                size_t len)
{
    vr_buf_t b = VR_BUF_INIT;

    if (inv->mode == VR_INVOKE_SSE) {
        vr_sse_event(&b, name, ++inv->event_id, data, len);
    } else {
        /* One line a record: in well-formed JSON a line break can only
         * be white space between tokens (in strings it is escaped). */
        vr_buf_reserve(&b, len + 1);
        for (size_t i = 0; i < len; i++) {
            if (data[i] != '\n' && data[i] != '\r') {
                vr_buf_addc(&b, data[i]);
            }
        }
        vr_buf_addc(&b, '\n');
    }
    vr_invoke_write(inv, &b);
    vr_buf_free(&b);
}

static void
vr_invoke_finish_stream(vr_invoke_t *inv)
{
    inv->finished = true;
    vr_timer_del(vr_invoke_loop, &inv->keepalive);
    vr_http_stream_end(inv->hr);
}

/* The end of a call with an error, in the form the client asked for. */
static void
vr_invoke_error(vr_invoke_t *inv, vr_code_t code, const char *text)
{
    vr_buf_t b = VR_BUF_INIT;

    if (inv->streaming) {
        vr_call_error_body(&b, vr_code_name(code), text,
                           vr_http_request_id(inv->hr));
        vr_invoke_event(inv, "error", b.p, b.len);
        vr_invoke_finish_stream(inv);
    } else {
        inv->finished = true;
        vr_http_call_problem(inv->hr, code, text);
    }
    vr_buf_free(&b);
}

static void
vr_invoke_server_timing(vr_invoke_t *inv, const vr_request_t *r)
{
    char v[128];

    snprintf(v, sizeof(v), "queue;dur=%lld, dealer;dur=%lld",
             (long long) (r->dispatched_ms - r->received_ms),
             (long long) (vr_now_ms - r->dispatched_ms));
    vr_http_add_header(inv->hr, "Server-Timing", v);
}

/* ---- the origin: what the broker tells us ----------------------------- */

static int
vr_invoke_deliver(vr_request_t *r, vr_reply_kind_t kind, zmq_msg_t *payload)
{
    vr_invoke_t *inv = r->origin_data;
    const char  *p = zmq_msg_data(payload), *v;
    size_t       len = zmq_msg_size(payload), n;
    vr_buf_t     text = VR_BUF_INIT;

    if (inv->hr == NULL) {
        return VR_ERROR;
    }
    switch (kind) {
    case VR_REPLY_CHUNK:
        vr_call_chunk(p, len, &v, &n);
        if (inv->streaming) {
            vr_invoke_event(inv, "chunk", v, n);
        } else {
            int64_t max_bytes = vr_http_conf(inv->hr)->stream_buffer_bytes;

            if (inv->chunks.len + n > (size_t) max_bytes) {
                char why[256];

                snprintf(why, sizeof(why), "the stream is larger than "
                         "http.stream_buffer (%lld bytes) as one JSON array;"
                         " ask for text/event-stream or application/x-ndjson,"
                         " or start a job (POST /jobs/...)",
                         (long long) max_bytes);
                /* Ends r: the dealer is told to stop, if it can be. */
                vr_request_fail(r, VR_CODE_RESPONSE_TOO_LARGE, why);
                break;
            }
            vr_buf_addc(&inv->chunks, inv->nchunks++ ? ',' : '[');
            vr_buf_add(&inv->chunks, v, n);
        }
        break;
    case VR_REPLY_RESULT:
        if (vr_call_field(p, len, "result", &v, &n) != VR_OK) {
            vr_invoke_error(inv, VR_CODE_DEALER_ERROR,
                            "the dealer's reply is not well-formed JSON");
            break;
        }
        if (inv->streaming) {
            vr_invoke_event(inv, "result", v, n);
            vr_invoke_finish_stream(inv);
        } else {
            inv->finished = true;
            vr_invoke_server_timing(inv, r);
            vr_http_respond(inv->hr, 200, "application/json", v, n);
        }
        break;
    case VR_REPLY_END:
        if (inv->streaming) {
            char end[64];
            int  m = snprintf(end, sizeof(end), "{\"chunks\":%llu}",
                              (unsigned long long) r->chunks);
            if (inv->mode == VR_INVOKE_SSE) {
                vr_invoke_event(inv, "end", end, (size_t) m);
            }
            vr_invoke_finish_stream(inv);
        } else {
            inv->finished = true;
            if (inv->nchunks == 0) {
                vr_buf_addc(&inv->chunks, '[');
            }
            vr_buf_addc(&inv->chunks, ']');
            vr_invoke_server_timing(inv, r);
            vr_http_respond(inv->hr, 200, "application/json", inv->chunks.p,
                            inv->chunks.len);
        }
        break;
    case VR_REPLY_ERROR:
        vr_call_error_text(p, len, &text);
        vr_invoke_error(inv, VR_CODE_DEALER_ERROR, text.p);
        break;
    }
    vr_buf_free(&text);
    return VR_OK;
}

static void
vr_invoke_fail(vr_request_t *r, vr_code_t code, const char *text)
{
    vr_invoke_t *inv = r->origin_data;

    if (inv->hr != NULL && !inv->finished) {
        vr_invoke_error(inv, code, text);
    }
}

static void
vr_invoke_release(vr_request_t *r)
{
    vr_invoke_t *inv = r->origin_data;

    inv->r = NULL;
    vr_invoke_drop(inv);
}

/* A JSON answer collects the chunks: they are not sent until the end. */
static bool
vr_invoke_rewind(vr_request_t *r)
{
    vr_invoke_t *inv = r->origin_data;

    if (inv->streaming || inv->finished) {
        return false;
    }
    vr_buf_reset(&inv->chunks);
    inv->nchunks = 0;
    return true;
}

static const vr_origin_t vr_invoke_origin = {
    .deliver = vr_invoke_deliver,
    .fail = vr_invoke_fail,
    .release = vr_invoke_release,
    .rewind = vr_invoke_rewind,
};

/* ---- the HTTP side ---------------------------------------------------- */

static void
vr_invoke_gone(vr_http_req_t *hr, void *data)
{
    vr_invoke_t *inv = data;

    inv->hr = NULL;
    if (inv->r != NULL) {
        vr_request_cancel(inv->r);
    }
}

static void
vr_invoke_hr_done(void *data)
{
    vr_invoke_t *inv = data;

    inv->hr = NULL;
    inv->hr_holds = false;
    if (inv->r != NULL) {
        vr_request_cancel(inv->r);
    }
    vr_invoke_drop(inv);
}

static void
vr_invoke_on_keepalive(vr_timer_t *t)
{
    vr_invoke_t *inv = t->data;
    vr_buf_t     b = VR_BUF_INIT;

    if (inv->hr == NULL || inv->finished) {
        return;
    }
    vr_sse_comment(&b, "keep-alive");
    vr_invoke_write(inv, &b);
    vr_buf_free(&b);
}

static void
vr_invoke_start(vr_http_req_t *hr, const char *method, const char *args,
                size_t args_len, bool typed, vr_invoke_mode_t mode)
{
    vr_call_args_t a = { VR_BUF_INIT, VR_BUF_INIT };
    vr_msec_t      timeout_ms;
    vr_invoke_t   *inv;
    vr_grant_t    *grant;
    vr_buf_t       b = VR_BUF_INIT;

    if (vr_http_call_read(hr, method, args, args_len, typed, &a,
                          &timeout_ms) != VR_OK)
    {
        return;
    }

    if (mode != VR_INVOKE_JSON && !vr_http_stream_room()) {
        /* Refused before the call exists: no dealer works for nothing. */
        vr_http_stream_refuse(hr);
        vr_call_args_free(&a);
        return;
    }
    if (!vr_http_admit_call(hr, method, &grant)) {
        vr_call_args_free(&a);
        return;
    }
    inv = vr_calloc(1, sizeof(*inv));
    inv->hr = hr;
    inv->hr_holds = true;
    inv->mode = mode;
    vr_timer_init(&inv->keepalive, vr_invoke_on_keepalive, inv);
    vr_http_set_data(hr, inv, vr_invoke_hr_done);
    inv->r = vr_call_new(vr_invoke_broker, method, &a, vr_http_request_id(hr),
                         &vr_invoke_origin, inv, timeout_ms);
    inv->r->grant = grant;
    vr_call_args_free(&a);
    vr_request_submit(inv->r);
    if (inv->finished) {
        return;                 /* refused at once: a problem is answered */
    }
    if (mode == VR_INVOKE_JSON) {
        vr_http_wait(hr, vr_invoke_gone, inv);
        return;
    }
    if (vr_http_stream_start(hr, mode == VR_INVOKE_SSE
                                 ? "text/event-stream"
                                 : "application/x-ndjson",
                             vr_invoke_gone, inv) != VR_OK)
    {
        inv->finished = true;   /* 503 answered: too many streams */
        vr_request_cancel(inv->r);
        return;
    }
    inv->streaming = true;
    if (mode == VR_INVOKE_SSE) {
        vr_sse_retry(&b, vr_http_conf(hr)->retry_ms);
        vr_invoke_write(inv, &b);
        vr_buf_free(&b);
    }
}

static vr_invoke_mode_t
vr_invoke_mode(vr_http_req_t *hr)
{
    const char *accept = vr_http_header(hr, "Accept");

    if (accept != NULL && strstr(accept, "text/event-stream") != NULL) {
        return VR_INVOKE_SSE;
    }
    if (accept != NULL && strstr(accept, "application/x-ndjson") != NULL) {
        return VR_INVOKE_NDJSON;
    }
    return VR_INVOKE_JSON;
}

static void
vr_invoke_post(vr_http_req_t *hr, const char *method)
{
    const char *body;
    size_t      len;

    body = vr_http_body(hr, &len);
    vr_invoke_start(hr, method, body, len, true, vr_invoke_mode(hr));
}

/*
 * GET /stream runs the method, which neither a HEAD may do nor the
 * reconnect EventSource makes once a stream has ended (with the
 * Last-Event-ID it saw).  Such a call is not kept, so there is nothing
 * to resume: 204 tells EventSource to stop.  (A job's events resume.)
 */
static void
vr_invoke_get_stream(vr_http_req_t *hr, const char *method)
{
    const char *args = vr_http_query(hr, "args");

    if (strcmp(vr_http_method(hr), "HEAD") == 0) {
        vr_http_respond(hr, 200, "text/event-stream", "", 0);
        return;
    }
    if (vr_http_header(hr, "Last-Event-ID") != NULL) {
        vr_http_respond(hr, 204, NULL, "", 0);
        return;
    }
    vr_invoke_start(hr, method, args ? args : "", args ? strlen(args) : 0,
                    false, VR_INVOKE_SSE);
}

static const vr_route_t vr_invoke_routes[] = {
    { "POST", "/invoke/", VR_ROUTE_PREFIX | VR_ROUTE_BODY, vr_invoke_post,
      "call a method; JSON, SSE or NDJSON answer" },
    /* EventSource sends no headers: the key may come as ?api_key=. */
    { "GET", "/stream/", VR_ROUTE_PREFIX | VR_ROUTE_QUERY_KEY,
      vr_invoke_get_stream,
      "call a method and stream its answer as Server-Sent Events" },
    { NULL, NULL, 0, NULL, NULL }
};

static void
vr_invoke_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_invoke_broker = cycle->broker;
    vr_invoke_loop = cycle->loop;
}

vr_module_t vr_invoke_module = {
    .name = "invoke",
    .routes = vr_invoke_routes,
    .commit = vr_invoke_commit,
};
