/*
 * vr_broker.c: the ROUTER socket, the message switch, the client side.
 *
 * Messages are read without waiting, a bounded number per loop turn, and
 * handled by type.  Dealer-side types go to vr_dealer.c, replies to
 * vr_dispatch.c; the client side (auth, discovery, calls) is here, as is
 * the origin that answers ZeroMQ clients.
 */
#include "config.h"
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <time.h>

#include "vr_core.h"
#include "vr_admin.h"
#include "vr_broker.h"
#include "vr_dealer.h"
#include "vr_dispatch.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_method.h"
#include "vr_request.h"
#include "vr_wire.h"
#include "vr_zap.h"

/* Messages handled per loop turn before the loop looks at timers. */
#define VR_BROKER_BATCH      512
#define VR_BROKER_TICK_MS    100
#define VR_BROKER_SHUTDOWN_GRACE_MS  200

/* ---- the origin of ZeroMQ clients ------------------------------------- */

static int
vr_zclient_deliver(vr_request_t *r, vr_reply_kind_t kind, zmq_msg_t *payload)
{
    vr_frame_t f[3];

    f[0] = VR_FRAME(r->cid, r->cid_len);
    f[1] = VR_FRAME_STR("reply_from_router");
    f[2] = VR_FRAME_MSG(payload);         /* payload goes to ZeroMQ */
    if (vr_wire_send(r->broker->router, f, 3) != VR_OK) {
        r->broker->stats.send_failures++;
        return VR_ERROR;
    }
    return VR_OK;
}

static void
vr_zclient_fail(vr_request_t *r, vr_code_t code, const char *text)
{
    vr_buf_t   body = VR_BUF_INIT;
    vr_frame_t f[3];

    vr_request_error_json(r, code, text, &body);
    f[0] = VR_FRAME(r->cid, r->cid_len);
    f[1] = VR_FRAME_STR("reply_from_router");
    f[2] = VR_FRAME(body.p, body.len);
    if (vr_wire_send(r->broker->router, f, 3) != VR_OK) {
        r->broker->stats.send_failures++;
    }
    vr_buf_free(&body);
}

/*
 * For a client that announced "request_id_errors" (B.7): a dealer's error
 * without a request_id (every Python dealer's) gets r's, so that a client
 * with several calls in flight can tell which one failed.
 */
static int
vr_zclient_deliver_rid(vr_request_t *r, vr_reply_kind_t kind,
                       zmq_msg_t *payload)
{
    vr_json_field_t f = { "request_id", NULL, 0, 0 };
    const char     *p = zmq_msg_data(payload);
    size_t          len = zmq_msg_size(payload), i = 0;
    vr_buf_t        body = VR_BUF_INIT;
    vr_frame_t      fr[3];
    int             rc = VR_OK;

    if (kind != VR_REPLY_ERROR
        || vr_json_fields(p, len, &f, 1, false) != VR_OK
        || f.kind != VR_JSON_NONE)
    {
        return vr_zclient_deliver(r, kind, payload);
    }
    while (i < len && p[i] != '{') {
        i++;                        /* leading white space */
    }
    vr_buf_adds(&body, "{\"request_id\": ");
    vr_json_escape(&body, r->rid, r->rid_len);
    vr_buf_adds(&body, ", ");
    vr_buf_add(&body, p + i + 1, len - i - 1);
    fr[0] = VR_FRAME(r->cid, r->cid_len);
    fr[1] = VR_FRAME_STR("reply_from_router");
    fr[2] = VR_FRAME(body.p, body.len);
    if (vr_wire_send(r->broker->router, fr, 3) != VR_OK) {
        r->broker->stats.send_failures++;
        rc = VR_ERROR;
    }
    vr_buf_free(&body);
    return rc;
}

/* Chunks go out as they come: nothing to rewind. */
static const vr_origin_t vr_zclient_origin = {
    .deliver = vr_zclient_deliver,
    .fail = vr_zclient_fail,
};

static const vr_origin_t vr_zclient_rid_origin = {
    .deliver = vr_zclient_deliver_rid,
    .fail = vr_zclient_fail,
};

/* ---- small senders ---------------------------------------------------- */

static void
vr_broker_send3(vr_broker_t *b, zmq_msg_t *id, const char *type,
                const char *body, size_t len)
{
    vr_frame_t f[3];

    f[0] = VR_FRAME(zmq_msg_data(id), zmq_msg_size(id));
    f[1] = VR_FRAME(type, strlen(type));
    f[2] = VR_FRAME(body, len);
    if (vr_wire_send(b->router, f, 3) != VR_OK) {
        b->stats.send_failures++;
    }
}

/* [id, "error", RouterError(text)], with code when not NULL. */
static void
vr_broker_router_error(vr_broker_t *b, zmq_msg_t *id, const char *rid_json,
                       const char *text, const char *code)
{
    vr_buf_t body = VR_BUF_INIT;

    vr_wire_router_error(&body, rid_json, text, code);
    vr_broker_send3(b, id, "error", body.p, body.len);
    vr_buf_free(&body);
}

/* [id, type, Reply{result}]; result is consumed. */
static void
vr_broker_reply(vr_broker_t *b, zmq_msg_t *id, const char *type,
                json_t *result)
{
    vr_buf_t body = VR_BUF_INIT;
    size_t   len;
    char    *text = vr_admin_dump(result, &len);

    json_decref(result);
    vr_wire_reply_open(&body);
    vr_buf_add(&body, text, len);
    vr_wire_reply_close(&body);
    free(text);
    vr_broker_send3(b, id, type, body.p, body.len);
    vr_buf_free(&body);
}

/* ---- client side ------------------------------------------------------ */

/* Has the client logged in (when it must)?  *grant: its key's grant. */
static bool
vr_broker_client_ok(vr_broker_t *b, zmq_msg_t *id, vr_grant_t **grant)
{
    *grant = NULL;
    return b->auth.client_required == NULL
           || !b->auth.client_required(b->auth.data)
           || b->auth.client_session(b->auth.data, zmq_msg_data(id),
                                     zmq_msg_size(id), grant);
}

static void
vr_broker_on_auth(vr_broker_t *b, zmq_msg_t *frames, size_t n)
{
    json_t          *auth, *key;
    vr_auth_result_t rc = VR_AUTH_NOT_NEEDED;
    vr_refusal_t     why;
    unsigned         caps;
    char             idbuf[VR_LOG_ID_SIZE];

    if (n < 3) {
        vr_broker_router_error(b, &frames[0], NULL, "Invalid auth format",
                               "bad_request");
        return;
    }
    auth = json_loadb(zmq_msg_data(&frames[2]), zmq_msg_size(&frames[2]), 0,
                      NULL);
    if (b->auth.client_login != NULL) {
        key = json_object_get(auth, "api_key");
        rc = b->auth.client_login(b->auth.data,
                                  vr_wire_peer_address(frames),
                                  zmq_msg_data(&frames[0]),
                                  zmq_msg_size(&frames[0]),
                                  json_string_value(key),
                                  json_string_length(key), &why);
    }
    /* An extension (B.7): what the client understands, kept for the
     * identity; a login without the list (Python) forgets it. */
    if (json_object_get(auth, "capabilities") != NULL
        && !json_is_array(json_object_get(auth, "capabilities")))
    {
        vr_log_limited(VR_LOG_WARN, "auth from %s: \"capabilities\" is "
                       "not a list; none taken",
                       vr_log_escape(zmq_msg_data(&frames[0]),
                                     zmq_msg_size(&frames[0]), idbuf,
                                     sizeof(idbuf)));
    }
    caps = rc == VR_AUTH_OK || rc == VR_AUTH_NOT_NEEDED
           ? vr_client_caps_parse(json_object_get(auth, "capabilities")) : 0;
    vr_client_caps_set(&b->client_caps, zmq_msg_data(&frames[0]),
                       zmq_msg_size(&frames[0]), caps,
                       (size_t) b->conf->max_capable_clients);
    json_decref(auth);
    if (rc == VR_AUTH_FAILED) {
        vr_broker_router_error(b, &frames[0], NULL, "Authentication failed",
                               "unauthorized");
        return;
    }
    if (rc == VR_AUTH_THROTTLED) {
        vr_broker_router_error(b, &frames[0], NULL, why.text,
                               vr_code_name(why.code));
        return;
    }
    /* With no client keys, one auth_ack (PROTOCOL.md B.5). */
    vr_broker_reply(b, &frames[0], "auth_ack",
                    json_pack("{s:s}", "status", "authenticated"));
}

static void
vr_broker_on_admin(vr_broker_t *b, vr_msg_type_t type, zmq_msg_t *frames)
{
    vr_grant_t *grant;

    if (!vr_broker_client_ok(b, &frames[0], &grant)) {
        vr_broker_router_error(b, &frames[0], NULL, "Not authenticated",
                               "unauthorized");
        return;
    }
    switch (type) {
    case VR_MSG_METHODS:
        vr_broker_reply(b, &frames[0], "methods_ack", vr_admin_methods(b));
        break;
    case VR_MSG_CLUSTERS:
        vr_broker_reply(b, &frames[0], "clusters_ack", vr_admin_clusters(b));
        break;
    case VR_MSG_ROUTER_INFO:
        vr_broker_reply(b, &frames[0], "router_info_ack",
                        vr_admin_router_info(b));
        break;
    default:
        vr_broker_reply(b, &frames[0], "queue_status_ack",
                        vr_admin_queue_status(b));
        break;
    }
}

/* A call the broker refuses before it becomes a request. */
static void
vr_broker_refuse_call(vr_broker_t *b, zmq_msg_t *cid, const char *rid,
                      size_t rid_len, vr_code_t code, const char *text)
{
    vr_buf_t body = VR_BUF_INIT;

    b->stats.requests++;
    b->stats.errors[code]++;
    vr_buf_add(&body, rid, rid_len);     /* rid is not NUL-terminated */
    vr_recent_error(&b->recent, "", (int) code, text, body.len ? body.p : "");
    vr_buf_reset(&body);
    vr_wire_request_error(&body, rid, rid_len, text, vr_code_name(code));
    vr_broker_send3(b, cid, "reply_from_router", body.p, body.len);
    vr_buf_free(&body);
}

static void
vr_broker_on_call(vr_broker_t *b, zmq_msg_t *frames, size_t n)
{
    vr_json_field_t f[3] = { { "request_id", NULL, 0, 0 },
                             { "args", NULL, 0, 0 },
                             { "kwargs", NULL, 0, 0 } };
    vr_buf_t        scratch = VR_BUF_INIT;
    const char     *name, *rid, *problem = NULL;
    size_t          name_len, rid_len, size;
    bool            valid;
    char            idbuf[VR_LOG_ID_SIZE], text[256];
    vr_grant_t     *grant;
    vr_refusal_t    why;
    unsigned        caps;
    const vr_origin_t *origin;

    if (n < 4) {
        /* No body: nothing names the request, nothing can answer it. */
        b->stats.dropped++;
        vr_log_limited(VR_LOG_WARN, "call_from_client from %s with %zu "
                       "frames dropped",
                       vr_log_escape(zmq_msg_data(&frames[0]),
                                     zmq_msg_size(&frames[0]), idbuf,
                                     sizeof(idbuf)), n);
        return;
    }
    size = zmq_msg_size(&frames[3]);
    valid = vr_json_fields(zmq_msg_data(&frames[3]), size, f, 3,
                           size <= (size_t) b->conf->max_message_bytes)
            == VR_OK;
    if (f[0].kind != VR_JSON_STRING
        || vr_json_string_text(f[0].value, f[0].len, &scratch, &rid,
                               &rid_len) != VR_OK)
    {
        b->stats.dropped++;
        vr_log_limited(VR_LOG_WARN, "call_from_client from %s without a "
                       "readable request_id dropped",
                       vr_log_escape(zmq_msg_data(&frames[0]),
                                     zmq_msg_size(&frames[0]), idbuf,
                                     sizeof(idbuf)));
        vr_buf_free(&scratch);
        return;
    }
    if (!vr_broker_client_ok(b, &frames[0], &grant)) {
        vr_buf_t rid_json = VR_BUF_INIT;

        vr_json_escape(&rid_json, rid, rid_len);
        b->stats.requests++;
        b->stats.errors[VR_CODE_UNAUTHORIZED]++;
        /* Part A's form: [cid, "error", RouterError("未认证")]. */
        vr_broker_router_error(b, &frames[0], rid_json.p, "未认证",
                               "unauthorized");
        vr_buf_free(&rid_json);
        vr_buf_free(&scratch);
        return;
    }
    name = zmq_msg_data(&frames[2]);
    name_len = zmq_msg_size(&frames[2]);
    for (size_t i = 3; i < n && problem == NULL; i++) {
        if (zmq_msg_size(&frames[i]) > (size_t) b->conf->max_message_bytes) {
            snprintf(text, sizeof(text), "frame %zu is %zu bytes, over "
                     "router.max_message (%lld bytes)", i,
                     zmq_msg_size(&frames[i]),
                     (long long) b->conf->max_message_bytes);
            problem = text;
        }
    }
    if (problem == NULL && !valid) {
        problem = "the request is not a well-formed JSON object";
    }
    if (problem == NULL && f[1].kind != VR_JSON_NONE
        && f[1].kind != VR_JSON_ARRAY)
    {
        problem = "\"args\" must be a list";
    }
    if (problem == NULL && f[2].kind != VR_JSON_NONE
        && f[2].kind != VR_JSON_OBJECT)
    {
        problem = "\"kwargs\" must be an object";
    }
    if (problem == NULL && (name_len == 0 || name_len > VR_METHOD_NAME_MAX
                            || !vr_utf8_valid(name, name_len)))
    {
        problem = "the method name must be 1..512 bytes of UTF-8";
    }
    if (problem != NULL) {
        vr_broker_refuse_call(b, &frames[0], rid, rid_len,
                              VR_CODE_BAD_REQUEST, problem);
        vr_buf_free(&scratch);
        return;
    }
    if (vr_broker_admit(b, grant, name, name_len, &why) != VR_OK) {
        vr_broker_refuse_call(b, &frames[0], rid, rid_len, why.code,
                              why.text);
        vr_buf_free(&scratch);
        return;
    }
    caps = vr_client_caps_get(&b->client_caps, zmq_msg_data(&frames[0]),
                              zmq_msg_size(&frames[0]));
    origin = caps & VR_CLIENT_CAP_RID_ERRORS ? &vr_zclient_rid_origin
                                             : &vr_zclient_origin;

    vr_request_t *r = vr_request_new(b, name, name_len,
                                     zmq_msg_data(&frames[0]),
                                     zmq_msg_size(&frames[0]),
                                     rid, rid_len, &frames[3], n - 3,
                                     origin, NULL, 0);
    r->grant = grant;
    vr_buf_free(&scratch);
    vr_request_submit(r);
}

/* ---- the switch ------------------------------------------------------- */

static void
vr_broker_unknown(vr_broker_t *b, zmq_msg_t *frames)
{
    char text[300], word[200];
    const char *w = zmq_msg_data(&frames[1]);
    size_t      len = zmq_msg_size(&frames[1]);

    if (vr_utf8_valid(w, len)) {
        snprintf(word, sizeof(word), "%.*s", (int) vr_min(len, 128), w);
    } else {
        vr_log_escape(w, len, word, sizeof(word));
    }
    snprintf(text, sizeof(text), "Unknown message type: %s", word);
    b->stats.dropped++;
    vr_broker_router_error(b, &frames[0], NULL, text, "bad_request");
}

static void
vr_broker_handle(vr_broker_t *b, zmq_msg_t *frames, size_t n, bool truncated)
{
    vr_msg_type_t type;
    vr_dealer_t  *d;
    char          idbuf[VR_LOG_ID_SIZE];

    if (n < 2 || truncated) {
        b->stats.dropped++;
        vr_log_limited(VR_LOG_WARN, "message of %s%zu frames from %s "
                       "dropped", truncated ? "over " : "", n,
                       vr_log_escape(zmq_msg_data(&frames[0]),
                                     zmq_msg_size(&frames[0]), idbuf,
                                     sizeof(idbuf)));
        return;
    }
    type = vr_wire_type(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]));
    d = vr_dealer_find(b, zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0]));
    if (d != NULL && !vr_dealer_same_owner(b, d, frames, type)) {
        return;
    }
    if (d != NULL && type != VR_MSG_REGISTER) {
        vr_dealer_touch(b, d);
    }
    /* A dealer's answer that is too large ends its request (dispatch). */
    if (type != VR_MSG_CALL_FROM_CLIENT
        && !(type == VR_MSG_REPLY_FROM_DEALER && d != NULL))
    {
        for (size_t i = 2; i < n; i++) {
            if (zmq_msg_size(&frames[i]) > (size_t) b->conf->max_message_bytes) {
                b->stats.dropped++;
                vr_broker_router_error(b, &frames[0], NULL,
                                       "message over router.max_message",
                                       "bad_request");
                return;
            }
        }
    }

    switch (type) {
    case VR_MSG_REGISTER:
        vr_dealer_on_register(b, frames, n);
        break;
    case VR_MSG_HEARTBEAT:
        if (d != NULL) {
            vr_dealer_on_heartbeat(b, d, frames, n);
        } else {
            /* Not registered (or refused): no ack (PROTOCOL.md B.4). */
            vr_log_limited(VR_LOG_DEBUG, "heartbeat from unregistered %s",
                           vr_log_escape(zmq_msg_data(&frames[0]),
                                         zmq_msg_size(&frames[0]), idbuf,
                                         sizeof(idbuf)));
        }
        break;
    case VR_MSG_REPLY_FROM_DEALER:
        if (d != NULL) {
            vr_dispatch_on_reply(b, d, frames, n);
        } else {
            vr_broker_unknown(b, frames);
        }
        break;
    case VR_MSG_SHUTDOWN:
    case VR_MSG_OVERLOAD:
    case VR_MSG_RESUME:
        if (d != NULL) {
            vr_dealer_on_shutdown(b, d);
        }
        break;
    case VR_MSG_AUTH:
        vr_broker_on_auth(b, frames, n);
        break;
    case VR_MSG_METHODS:
    case VR_MSG_CLUSTERS:
    case VR_MSG_ROUTER_INFO:
    case VR_MSG_QUEUE_STATUS:
        vr_broker_on_admin(b, type, frames);
        break;
    case VR_MSG_CALL_FROM_CLIENT:
        vr_broker_on_call(b, frames, n);
        break;
    case VR_MSG_ROUTER_MONITOR:
        vr_broker_send3(b, &frames[0], "heartbeat_ack", "", 0);
        break;
    default:
        vr_broker_unknown(b, frames);
        break;
    }
}

static void
vr_broker_on_readable(void *data, short revents)
{
    vr_broker_t *b = data;
    size_t       n;
    bool         truncated;
    int          budget;

    for (budget = VR_BROKER_BATCH; budget > 0; budget--) {
        int rc = vr_wire_recv(b->router, b->frames, &n, &truncated);

        if (rc == VR_AGAIN) {
            return;
        }
        if (rc != VR_OK) {
            vr_log_error("receiving from the ROUTER socket: %s",
                         zmq_strerror(errno));
            return;
        }
        vr_broker_handle(b, b->frames, n, truncated);
        vr_wire_close(b->frames, n);
    }
    vr_loop_again(b->loop);
}

static void
vr_broker_on_tick(vr_timer_t *t)
{
    vr_broker_t *b = t->data;
    vr_method_t *m, *tmp;

    vr_dealer_tick(b);
    if (b->queued > 0) {
        HASH_ITER(hh, b->methods, m, tmp) {
            if (m->queue_len > 0) {
                vr_stats_queue(&m->stats, m->queue_len);
            }
        }
    }
    vr_timer_add(b->loop, &b->tick, VR_BROKER_TICK_MS);
}

/* ---- methods turned off by an operator --------------------------------- */

typedef struct vr_disabled_s {
    char            *name;
    UT_hash_handle   hh;
} vr_disabled_t;

bool
vr_broker_disabled(const vr_broker_t *b, const char *name, size_t len)
{
    vr_disabled_t *x;

    HASH_FIND(hh, b->disabled, name, len, x);
    return x != NULL;
}

void
vr_broker_set_disabled(vr_broker_t *b, const char *name, bool disabled)
{
    vr_disabled_t *x;
    vr_method_t   *m;
    vr_request_t  *r;
    char           text[600];

    HASH_FIND(hh, b->disabled, name, strlen(name), x);
    if (!disabled) {
        if (x != NULL) {
            HASH_DEL(b->disabled, x);
            free(x->name);
            free(x);
            vr_log_notice("method %s enabled again by an operator", name);
        }
        return;
    }
    if (x != NULL) {
        return;
    }
    x = vr_calloc(1, sizeof(*x));
    x->name = vr_strdup(name);
    HASH_ADD_KEYPTR(hh, b->disabled, x->name, strlen(x->name), x);
    vr_log_notice("method %s disabled by an operator", name);
    m = vr_method_find(b, name, strlen(name));
    if (m != NULL) {
        snprintf(text, sizeof(text), "%s is disabled by an operator", name);
        m->refs++;
        while ((r = TAILQ_FIRST(&m->queue)) != NULL) {
            vr_request_fail(r, VR_CODE_NO_SERVICE, text);
        }
        m->refs--;
        vr_method_release(b, m);
    }
}

void
vr_broker_each_disabled(const vr_broker_t *b,
                        void (*f)(const char *name, void *data), void *data)
{
    const vr_disabled_t *x;

    for (x = b->disabled; x != NULL; x = x->hh.next) {
        f(x->name, data);
    }
}

/* ---- life ------------------------------------------------------------- */

const vr_method_policy_t *
vr_broker_policy(const vr_broker_t *b, const char *name)
{
    for (size_t i = 0; i < b->conf->methods.n; i++) {
        const vr_method_policy_t *p =
            (const vr_method_policy_t *) b->conf->methods.elts + i;
        if (fnmatch(p->name, name, 0) == 0) {
            return p;
        }
    }
    return NULL;
}

static int
vr_broker_setopt(vr_broker_t *b, int option, int value, const char *name)
{
    if (zmq_setsockopt(b->router, option, &value, sizeof(value)) != 0) {
        vr_log_error("zmq_setsockopt(%s): %s", name, zmq_strerror(errno));
        return VR_ERROR;
    }
    return VR_OK;
}

static bool
vr_strs_has(const vr_strs_t *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], v) == 0) {
            return true;
        }
    }
    return false;
}

static void
vr_strs_free(vr_strs_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* Unbinds the endpoints bound now that keep does not list. */
static void
vr_broker_unbind_others(vr_broker_t *b, const vr_strs_t *keep)
{
    size_t n = 0;

    for (size_t i = 0; i < b->bound.n; i++) {
        if (vr_strs_has(keep, b->bound.v[i])) {
            b->bound.v[n++] = b->bound.v[i];
            continue;
        }
        zmq_unbind(b->router, b->bound.v[i]);
        vr_log_notice("unbound %s", b->bound.v[i]);
        free(b->bound.v[i]);
    }
    b->bound.n = n;
}

int
vr_broker_prepare(vr_broker_t *b, const vr_router_conf_t *conf)
{
    size_t before = b->bound.n;

    if (!vr_curve_same_server(&b->conf->curve, &conf->curve)) {
        vr_log_error("%s turning CURVE on or off or changing the server "
                     "key needs a restart", conf->curve_where);
        return VR_ERROR;
    }
    b->bound.v = vr_realloc(b->bound.v,
                            (b->bound.n + conf->bind.n + 1) * sizeof(char *));
    for (size_t i = 0; i < conf->bind.n; i++) {
        const char *ep = conf->bind.v[i];

        if (vr_strs_has(&b->bound, ep)) {
            continue;
        }
        if (zmq_bind(b->router, ep) != 0) {
            vr_log_error("%s cannot bind %s: %s", conf->bind_where, ep,
                         zmq_strerror(errno));
            /* Those bound here go again: nothing changed. */
            while (b->bound.n > before) {
                b->bound.n--;
                zmq_unbind(b->router, b->bound.v[b->bound.n]);
                free(b->bound.v[b->bound.n]);
            }
            return VR_ERROR;
        }
        b->bound.v[b->bound.n++] = vr_strdup(ep);
    }
    return VR_OK;
}

void
vr_broker_abort(vr_broker_t *b)
{
    vr_broker_unbind_others(b, &b->conf->bind);
}

void
vr_broker_commit(vr_broker_t *b, const vr_router_conf_t *conf,
                 unsigned generation)
{
    int64_t hard_max;

    vr_broker_unbind_others(b, &conf->bind);
    /* Frames up to twice max_message are read and refused with an
     * answer; beyond that ZeroMQ drops the connection unread. */
    hard_max = conf->max_message_bytes * 2 + 65536;
    zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &hard_max, sizeof(hard_max));
    if (b->zap != NULL) {
        vr_zap_set_conf(b->zap, &conf->curve);
    }
    b->conf = conf;
    b->generation = generation;
    vr_client_caps_trim(&b->client_caps, (size_t) conf->max_capable_clients);
    vr_dealer_reconfigure(b);
}

/* CURVE on the ROUTER, and the ZAP handler that must exist before binds. */
static int
vr_broker_curve(vr_broker_t *b, const vr_router_conf_t *conf)
{
    const vr_curve_conf_t *c = &conf->curve;

    if (!c->on) {
        return VR_OK;
    }
    b->zap = vr_zap_new(b->zctx, b->loop, c, &b->stats.curve_refused);
    if (b->zap == NULL || vr_curve_server_setup(b->router, c) != VR_OK) {
        return VR_ERROR;
    }
    vr_log_notice("CURVE on: server public key %s", c->server_public);
    if (!c->listed) {
        vr_log_warn("CURVE is on without an allow-list (router.curve.allow, "
                    "allow_dir): any client key is let in");
    }
    return VR_OK;
}

vr_broker_t *
vr_broker_new(void *zctx, vr_loop_t *loop, const vr_router_conf_t *conf,
              unsigned generation)
{
    vr_broker_t *b = vr_calloc(1, sizeof(*b));

    b->zctx = zctx;
    b->loop = loop;
    b->conf = conf;
    b->started_wall_ms = vr_wall_ms();
    b->frames = vr_calloc(VR_WIRE_MAX_FRAMES, sizeof(zmq_msg_t));
    TAILQ_INIT(&b->dealer_order);
    vr_client_caps_init(&b->client_caps);
    vr_timer_init(&b->tick, vr_broker_on_tick, b);  /* stop() may disarm it */
    b->router = zmq_socket(zctx, ZMQ_ROUTER);
    if (b->router == NULL) {
        vr_log_error("zmq_socket(ROUTER): %s", zmq_strerror(errno));
        vr_broker_destroy(&b);
        return NULL;
    }
    if (vr_broker_setopt(b, ZMQ_ROUTER_MANDATORY, 1, "ROUTER_MANDATORY")
        || vr_broker_setopt(b, ZMQ_ROUTER_HANDOVER, 1, "ROUTER_HANDOVER")
        || vr_broker_setopt(b, ZMQ_LINGER, 0, "LINGER")
        || vr_broker_setopt(b, ZMQ_SNDHWM, (int) conf->hwm, "SNDHWM")
        || vr_broker_setopt(b, ZMQ_RCVHWM, (int) conf->hwm, "RCVHWM")
        /* ZMTP heartbeats: a silently cut link is noticed and closed, so
         * the next probe of its dealer fails (PROTOCOL.md B.4). */
        || vr_broker_setopt(b, ZMQ_HEARTBEAT_IVL, 1000, "HEARTBEAT_IVL")
        || vr_broker_setopt(b, ZMQ_HEARTBEAT_TIMEOUT,
                            (int) conf->heartbeat_timeout_ms,
                            "HEARTBEAT_TIMEOUT")
        || vr_broker_curve(b, conf) != VR_OK
        || vr_broker_prepare(b, conf) != VR_OK)
    {
        vr_broker_destroy(&b);
        return NULL;
    }
    vr_broker_commit(b, conf, generation);
    for (size_t i = 0; i < b->bound.n; i++) {
        vr_log_notice("broker listening on %s", b->bound.v[i]);
    }
    vr_loop_add_socket(loop, b->router, ZMQ_POLLIN, vr_broker_on_readable, b);
    vr_timer_add(loop, &b->tick, VR_BROKER_TICK_MS);
    return b;
}

void
vr_broker_set_auth(vr_broker_t *b, const vr_auth_ops_t *ops)
{
    b->auth = *ops;
}

int
vr_broker_admit(vr_broker_t *b, vr_grant_t *grant, const char *name,
                size_t len, vr_refusal_t *why)
{
    if (b->auth.admit == NULL) {
        return VR_OK;
    }
    return b->auth.admit(b->auth.data, grant, name, len, why);
}

void
vr_broker_drain(vr_broker_t *b)
{
    b->stopping = true;
}

size_t
vr_broker_pending(const vr_broker_t *b)
{
    const vr_dealer_t  *d;
    const vr_request_t *r;
    size_t              n = b->queued;

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        TAILQ_FOREACH(r, &d->requests, link) {
            n += r->state == VR_REQ_ACTIVE;
        }
    }
    return n;
}

void
vr_broker_stop(vr_broker_t *b)
{
    vr_method_t    *m, *tmp;
    vr_dealer_t    *d;
    int             linger_ms = 1000;
    size_t          told = 0;
    struct timespec grace = { 0, VR_BROKER_SHUTDOWN_GRACE_MS * 1000000L };

    if (b->router == NULL) {
        return;
    }
    b->stopping = true;
    b->stopped = true;
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_request_t *r;
        m->refs++;
        while ((r = TAILQ_FIRST(&m->queue)) != NULL) {
            vr_request_fail(r, VR_CODE_SHUTTING_DOWN,
                            "the gateway is shutting down");
        }
        m->refs--;
    }
    TAILQ_FOREACH(d, &b->dealer_order, order) {
        vr_request_t *r;
        while ((r = TAILQ_FIRST(&d->requests)) != NULL) {
            vr_request_fail(r, VR_CODE_SHUTTING_DOWN,
                            "the gateway is shutting down");
            vr_request_free(r);
        }
        if (b->conf->send_router_shutdown && d->state == VR_DEALER_ACTIVE) {
            vr_frame_t f[3] = { VR_FRAME(d->id, d->id_len),
                                VR_FRAME_STR("router_shutdown"),
                                VR_FRAME("", 0) };
            if (vr_wire_send(b->router, f, 3) != VR_OK) {
                vr_log_warn("router_shutdown to dealer %s not sent: %s",
                            d->id_text, zmq_strerror(errno));
            } else {
                told++;
            }
        }
    }
    if (told > 0) {
        /* Python dealers set ZMQ_IMMEDIATE, which discards what they have
         * not read yet once the connection closes: leave them the time to
         * read router_shutdown (the Python router allowed 0.2 s). */
        nanosleep(&grace, NULL);
    }
    vr_timer_del(b->loop, &b->tick);
    vr_loop_del_socket(b->loop, b->router);
    /* Let the last answers leave before the socket goes. */
    zmq_setsockopt(b->router, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    zmq_close(b->router);
    b->router = NULL;
    vr_zap_destroy(&b->zap);
}

void
vr_broker_destroy(vr_broker_t **bp)
{
    vr_broker_t *b = *bp;

    if (b == NULL) {
        return;
    }
    if (b->router != NULL) {
        vr_broker_stop(b);
    }
    vr_dealer_destroy_all(b);
    vr_method_destroy_all(b);
    while (b->disabled != NULL) {
        vr_disabled_t *x = b->disabled;
        HASH_DEL(b->disabled, x);
        free(x->name);
        free(x);
    }
    vr_client_caps_free(&b->client_caps);
    vr_zap_destroy(&b->zap);
    vr_strs_free(&b->bound);
    free(b->frames);
    free(b);
    *bp = NULL;
}
