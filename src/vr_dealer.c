/*
 * vr_dealer.c: the registry of dealers (see vr_dealer.h).
 *
 * Liveness: a dealer that holds nothing must be heard from within
 * router.heartbeat_timeout; one that is busy within router.busy_timeout
 * (Python dealers heartbeat only every 4 intervals while busy).  While it
 * is busy the broker also probes it with an unsolicited heartbeat_ack
 * every router.probe_interval: a Python dealer counts that as liveness,
 * and a dealer whose process died shows up at once as EHOSTUNREACH
 * (PROTOCOL.md B.4).  Busy means it holds requests or its last heartbeat
 * said it has work: a threaded Python dealer whose last heartbeat was a
 * busy one sends the next only 4 intervals later, but once its work is
 * done it reconnects (registers again) after 0.8 x (I + 3) of silence,
 * sooner than that; the probes go on until a heartbeat says it is idle.
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

/* Records inactive this many heartbeat timeouts are forgotten. */
#define VR_DEALER_FORGET_FACTOR  10

vr_dealer_t *
vr_dealer_find(vr_broker_t *b, const void *id, size_t len)
{
    vr_dealer_t *d;

    HASH_FIND(hh, b->dealers, id, len, d);
    return d;
}

static void
vr_dealer_reply_error(vr_broker_t *b, const void *id, size_t id_len,
                      const char *text, vr_code_t code)
{
    vr_buf_t   body = VR_BUF_INIT;
    vr_frame_t f[3];

    vr_wire_router_error(&body, NULL, text, vr_code_name(code));
    f[0] = VR_FRAME(id, id_len);
    f[1] = VR_FRAME_STR("error");
    f[2] = VR_FRAME(body.p, body.len);
    if (vr_wire_send(b->router, f, 3) != VR_OK) {
        b->stats.send_failures++;
    }
    vr_buf_free(&body);
}

int
vr_dealer_send(vr_broker_t *b, vr_dealer_t *d, vr_frame_t *frames, size_t n)
{
    char why[128];

    if (vr_wire_send(b->router, frames, n) == VR_OK) {
        return VR_OK;
    }
    b->stats.send_failures++;
    snprintf(why, sizeof(why), "%s",
             errno == EHOSTUNREACH ? "its connection is gone"
                                   : "its send queue is full");
    vr_dealer_lost(b, d, why);
    return VR_ERROR;
}

static void
vr_dealer_ack(vr_broker_t *b, vr_dealer_t *d, const char *word, size_t len)
{
    vr_frame_t f[3];

    f[0] = VR_FRAME(d->id, d->id_len);
    f[1] = VR_FRAME(word, len);
    f[2] = VR_FRAME("", 0);
    vr_dealer_send(b, d, f, 3);
}

bool
vr_dealer_holds_client(const vr_dealer_t *d, const vr_request_t *r)
{
    const vr_request_t *h;

    /* The hashes first: the lists are walked for every candidate of
     * every dispatch, and identities are often 16-32 bytes alike. */
    TAILQ_FOREACH(h, &d->requests, link) {
        if (h->cid_hash == r->cid_hash && h->cid_len == r->cid_len
            && memcmp(h->cid, r->cid, r->cid_len) == 0)
        {
            return true;
        }
    }
    return false;
}

/* The printable form of an identity: as is when it is UTF-8 text. */
static char *
vr_dealer_id_text(const void *id, size_t len)
{
    char buf[VR_LOG_ID_SIZE * 4];

    if (vr_utf8_valid(id, len)) {
        return vr_strndup(id, len);
    }
    return vr_strdup(vr_log_escape(id, len, buf, sizeof(buf)));
}

/* The group a dealer belongs to when register names none. */
static char *
vr_dealer_default_group(const vr_dealer_t *d)
{
    const char *dash = strrchr(d->id_text, '-');
    size_t      len = dash != NULL && dash != d->id_text
                      ? (size_t) (dash - d->id_text) : strlen(d->id_text);

    /* An escaped identity can be longer than the group limit. */
    return vr_strndup(d->id_text, vr_min(len, VR_DEALER_GROUP_MAX));
}

/*
 * The Python router's display of a dealer's address: "<ip> [PID:<pid>,
 * ID:<last 8 chars of the identity>]", invented as "客户端-<first 8>" when
 * the dealer sent none.
 */
static char *
vr_dealer_remote_addr(const vr_dealer_t *d, json_t *reg)
{
    const char *addr = json_string_value(json_object_get(reg, "remote_addr"));
    json_t     *pid = json_object_get(json_object_get(reg, "host_info"), "pid");
    size_t      idlen = strlen(d->id_text);
    char        buf[512];

    if (addr == NULL) {
        snprintf(buf, sizeof(buf), "客户端-%.8s", d->id_text);
        return vr_strdup(buf);
    }
    if (strchr(addr, '[') == NULL && strchr(addr, ':') != NULL
        && json_is_integer(pid))
    {
        /* "ip:port" from older dealers: rewritten into the bracket form. */
        snprintf(buf, sizeof(buf), "%.*s [PID:%lld, ID:%s]",
                 (int) (strrchr(addr, ':') - addr), addr,
                 (long long) json_integer_value(pid),
                 d->id_text + (idlen > 8 ? idlen - 8 : 0));
        return vr_strdup(buf);
    }
    return vr_strdup(addr);
}

/* Unlinks d from the methods it offered. */
static void
vr_dealer_drop_methods(vr_broker_t *b, vr_dealer_t *d)
{
    for (size_t i = 0; i < d->nmethods; i++) {
        vr_method_remove_dealer(b, d->methods[i], d);
    }
    for (size_t i = 0; i < d->nmethods; i++) {
        vr_method_check_service(b, d->methods[i]);
        vr_method_release(b, d->methods[i]);
    }
    free(d->methods);
    d->methods = NULL;
    d->nmethods = 0;
}

/* d's capacity under the broker's configuration. */
static unsigned
vr_dealer_capacity(vr_broker_t *b, const vr_dealer_t *d)
{
    const char *group = d->group;
    int64_t     cap = b->conf->dealer_capacity;

    for (size_t i = 0; i < b->conf->services.n; i++) {
        const vr_service_policy_t *s =
            (const vr_service_policy_t *) b->conf->services.elts + i;
        if (strcmp(s->name, group) == 0 && s->capacity > 0) {
            cap = s->capacity;
        }
    }
    if (d->announced > 0) {
        cap = d->announced;
    }
    return (unsigned) vr_min(vr_max(cap, 1), b->conf->max_capacity);
}

void
vr_dealer_reconfigure(vr_broker_t *b)
{
    vr_dealer_t *d;
    unsigned     old;

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        old = d->capacity;
        d->capacity = vr_dealer_capacity(b, d);
        if (d->capacity != old) {
            vr_log_info("dealer %s: capacity %u (was %u)", d->id_text,
                        d->capacity, old);
        }
        if (d->capacity > old && d->state == VR_DEALER_ACTIVE) {
            vr_dispatch_dealer(b, d);
        }
    }
}

/*
 * Checks a RegisterJSON; NULL when good, else what is wrong.  Each entry
 * of "methods" must be an object (MethodMeta) keyed by a bare name.
 */
static const char *
vr_dealer_check_register(json_t *reg)
{
    json_t     *methods, *meta, *v;
    const char *name;

    if (!json_is_object(reg)) {
        return "the payload must be a JSON object";
    }
    methods = json_object_get(reg, "methods");
    if (methods != NULL && !json_is_object(methods)) {
        return "\"methods\" must be an object";
    }
    json_object_foreach(methods, name, meta) {
        if (!json_is_object(meta)) {
            return "each entry of \"methods\" must be an object";
        }
        if (name[0] == '\0' || strlen(name) > 256) {
            return "method names must be 1..256 characters";
        }
    }
    v = json_object_get(reg, "group");
    if (v != NULL && !json_is_null(v)
        && (!json_is_string(v) || json_string_length(v) == 0
            || json_string_length(v) > VR_DEALER_GROUP_MAX
            || strlen(json_string_value(v)) != json_string_length(v)))
    {
        return "\"group\" must be a string of 1..255 bytes, no NUL";
    }
    v = json_object_get(reg, "api_key");
    if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
        return "\"api_key\" must be a string or null";
    }
    v = json_object_get(reg, "capabilities");
    if (v != NULL && !json_is_array(v)) {
        return "\"capabilities\" must be a list";
    }
    return NULL;
}

/* (Re)builds d's method list and metadata from a checked RegisterJSON. */
static void
vr_dealer_set_methods(vr_broker_t *b, vr_dealer_t *d, json_t *reg)
{
    json_t     *methods = json_object_get(reg, "methods"), *meta;
    const char *name;
    size_t      n = json_object_size(methods), i = 0;
    vr_method_t **old = d->methods;
    size_t      nold = d->nmethods;
    char        full[VR_METHOD_NAME_MAX + 1];

    json_decref(d->methods_meta);
    d->methods_meta = json_object();
    d->methods = vr_calloc(n + 1, sizeof(vr_method_t *));
    d->nmethods = 0;
    json_object_foreach(methods, name, meta) {
        /* Fits: groups of at most 255 bytes, names of at most 256. */
        int          len = snprintf(full, sizeof(full), "%s.%s", d->group,
                                    name);
        vr_method_t *m = vr_method_get(b, full, (size_t) len);

        json_object_set(d->methods_meta, full, meta);
        vr_method_add_dealer(b, m, d);
        d->methods[i++] = m;
    }
    d->nmethods = i;
    /* Methods it no longer offers lose it. */
    for (size_t j = 0; j < nold; j++) {
        bool kept = false;
        for (size_t k = 0; k < d->nmethods; k++) {
            kept = kept || d->methods[k] == old[j];
        }
        if (!kept) {
            vr_method_remove_dealer(b, old[j], d);
            vr_method_check_service(b, old[j]);
            vr_method_release(b, old[j]);
        }
    }
    free(old);
}

static void
vr_dealer_set_capabilities(vr_dealer_t *d, json_t *reg)
{
    json_t *caps = json_object_get(reg, "capabilities"), *c;
    size_t  i;

    d->can_cancel = false;
    d->rid_errors = false;
    json_array_foreach(caps, i, c) {
        const char *s = json_string_value(c);
        if (s != NULL && strcmp(s, "cancel") == 0) {
            d->can_cancel = true;
        } else if (s != NULL && strcmp(s, "request_id_errors") == 0) {
            d->rid_errors = true;
        }
    }
}

/*
 * The API key of register message frames (reg: its body); false when
 * refused (answered and logged).
 */
static bool
vr_dealer_key_ok(vr_broker_t *b, zmq_msg_t *frames, json_t *reg)
{
    json_t          *k = json_object_get(reg, "api_key");
    const void      *id = zmq_msg_data(&frames[0]);
    size_t           id_len = zmq_msg_size(&frames[0]);
    const char      *addr = vr_wire_peer_address(frames);
    vr_refusal_t     why;
    vr_auth_result_t rc;
    char             idbuf[VR_LOG_ID_SIZE], text[300];

    if (b->auth.dealer_check == NULL) {
        return true;
    }
    rc = b->auth.dealer_check(b->auth.data, addr, json_string_value(k),
                              json_string_length(k), &why);
    if (rc == VR_AUTH_FAILED) {
        vr_log_limited(VR_LOG_WARN, "register from %s (%s) refused: "
                       "invalid API key",
                       vr_log_escape(id, id_len, idbuf, sizeof(idbuf)), addr);
        vr_dealer_reply_error(b, id, id_len,
                              "Registration failed: invalid API key or "
                              "other issue", VR_CODE_UNAUTHORIZED);
        return false;
    }
    if (rc == VR_AUTH_THROTTLED) {
        snprintf(text, sizeof(text), "Registration failed: %s", why.text);
        vr_dealer_reply_error(b, id, id_len, text, VR_CODE_RATE_LIMITED);
        return false;
    }
    return true;
}

bool
vr_dealer_same_owner(vr_broker_t *b, vr_dealer_t *d, zmq_msg_t *frames,
                     vr_msg_type_t type)
{
    const char *key = vr_curve_peer_key(&frames[1]);

    if (vr_curve_same_peer(d->peer_key, key)) {
        return true;
    }
    b->stats.identity_refused++;
    vr_log_limited(VR_LOG_WARN, "a message under dealer identity %s from "
                   "CURVE key %s (%s) refused: the identity belongs to key "
                   "%s", d->id_text, key[0] ? key : "(none)",
                   vr_wire_peer_address(&frames[1]), d->peer_key);
    if (type == VR_MSG_REGISTER) {
        vr_dealer_reply_error(b, d->id, d->id_len,
                              "Registration failed: this identity belongs "
                              "to another CURVE key", VR_CODE_FORBIDDEN);
    }
    return false;
}

void
vr_dealer_on_register(vr_broker_t *b, zmq_msg_t *frames, size_t n)
{
    const void   *id = zmq_msg_data(&frames[0]);
    size_t        id_len = zmq_msg_size(&frames[0]);
    vr_dealer_t  *d;
    json_t       *reg, *mc;
    json_error_t  jerr;
    const char   *problem;
    const char   *group;
    char          idbuf[VR_LOG_ID_SIZE], text[600];
    bool          fresh;

    if (n < 3) {
        vr_dealer_reply_error(b, id, id_len, "Invalid register format",
                              VR_CODE_BAD_REQUEST);
        return;
    }
    reg = json_loadb(zmq_msg_data(&frames[2]), zmq_msg_size(&frames[2]),
                     JSON_ALLOW_NUL, &jerr);
    problem = reg == NULL ? "the payload is not JSON"
                          : vr_dealer_check_register(reg);
    if (problem != NULL) {
        snprintf(text, sizeof(text), "Registration failed: %s", problem);
        vr_log_limited(VR_LOG_WARN, "register from %s refused: %s",
                       vr_log_escape(id, id_len, idbuf, sizeof(idbuf)),
                       problem);
        vr_dealer_reply_error(b, id, id_len, text, VR_CODE_BAD_REQUEST);
        json_decref(reg);
        return;
    }
    if (!vr_dealer_key_ok(b, frames, reg)) {
        json_decref(reg);
        return;
    }

    d = vr_dealer_find(b, id, id_len);
    fresh = d == NULL;
    if (fresh) {
        d = vr_calloc(1, sizeof(*d));
        d->id = vr_memdup(id, id_len);
        d->id_len = id_len;
        d->id_text = vr_dealer_id_text(id, id_len);
        snprintf(d->peer_key, sizeof(d->peer_key), "%s",
                 vr_curve_peer_key(&frames[1]));
        d->serial = b->next_serial++;
        TAILQ_INIT(&d->requests);
        HASH_ADD_KEYPTR(hh, b->dealers, d->id, d->id_len, d);
        TAILQ_INSERT_TAIL(&b->dealer_order, d, order);
    }
    group = json_string_value(json_object_get(reg, "group"));
    free(d->group);
    d->group = group != NULL ? vr_strdup(group) : vr_dealer_default_group(d);
    free(d->remote_addr);
    d->remote_addr = vr_dealer_remote_addr(d, reg);
    json_decref(d->host_info);
    d->host_info = json_incref(json_object_get(reg, "host_info"));
    mc = json_object_get(reg, "max_concurrent");
    d->announced = json_is_integer(mc) && json_integer_value(mc) > 0
                   ? json_integer_value(mc) : 0;
    d->capacity = vr_dealer_capacity(b, d);
    vr_dealer_set_capabilities(d, reg);
    vr_dealer_set_methods(b, d, reg);
    json_decref(reg);

    d->state = VR_DEALER_ACTIVE;
    d->last_seen_ms = vr_now_ms;
    d->last_probe_ms = vr_now_ms;
    d->last_heartbeat_wall_ms = vr_wall_ms();
    if (!fresh && d->in_flight > 0) {
        /* A Python dealer registers again on a new connection: what was
         * sent to the old one may never have arrived (see heartbeat). */
        d->reregistered_ms = vr_now_ms;
    }
    vr_log_info("dealer %s %s: group %s, %zu methods, capacity %u%s",
                d->id_text, fresh ? "registered" : "re-registered", d->group,
                d->nmethods, d->capacity,
                fresh ? "" : " (requests it holds are kept)");

    vr_dealer_ack(b, d, VR_LIT("register_ack"));
    if (d->state == VR_DEALER_ACTIVE) {
        vr_dispatch_dealer(b, d);
    }
}

void
vr_dealer_touch(vr_broker_t *b, vr_dealer_t *d)
{
    d->last_seen_ms = vr_now_ms;
    if (d->state == VR_DEALER_INACTIVE) {
        d->state = VR_DEALER_ACTIVE;
        d->last_probe_ms = vr_now_ms;
        vr_log_info("dealer %s is back", d->id_text);
        vr_dispatch_dealer(b, d);
    }
}

/*
 * d re-registered (a new connection) while holding requests, and has been
 * given nothing since (vr_dealer_has_room), so the load a heartbeat
 * reports counts those of them it still has.  Its answers, in order on
 * one connection, came before the heartbeat.  All of them: nothing was
 * lost, it takes work again.  None: those left were sent to the old
 * connection and are lost with it; they are retried or end with
 * dealer_lost now, instead of at their deadline (orphans, ended already,
 * keep their slot until their late answer or busy_timeout, as ever: an
 * answer sent on the old connection may still come).  Some: it ends
 * those it has first, and a later heartbeat tells.
 */
static void
vr_dealer_check_reconnected(vr_broker_t *b, vr_dealer_t *d, long load)
{
    vr_request_t *r, *next;

    if (d->reregistered_ms == 0
        || (load > 0 && (unsigned long) load < d->in_flight))
    {
        return;
    }
    d->reregistered_ms = 0;
    for (r = TAILQ_FIRST(&d->requests); load == 0 && r != NULL; r = next) {
        next = TAILQ_NEXT(r, link);
        if (r->state == VR_REQ_ORPHAN) {
            continue;           /* ended already; its late answer is
                                   counted when it comes */
        }
        vr_log_limited(VR_LOG_WARN, "dealer %s reconnected and works on "
                       "nothing: request %s sent before is lost",
                       d->id_text, r->rid);
        vr_request_dealer_gone(r, "it reconnected without the request");
    }
    vr_dispatch_dealer(b, d);
}

void
vr_dealer_on_heartbeat(vr_broker_t *b, vr_dealer_t *d, zmq_msg_t *frames,
                       size_t n)
{
    d->last_heartbeat_wall_ms = vr_wall_ms();
    if (n >= 3) {
        /* Python dealers send processing_requests or pending_requests. */
        vr_json_field_t f[2] = { { "processing_requests", NULL, 0, 0 },
                                 { "pending_requests", NULL, 0, 0 } };
        if (vr_json_fields(zmq_msg_data(&frames[2]), zmq_msg_size(&frames[2]),
                           f, 2, false) == VR_OK)
        {
            for (size_t i = 0; i < 2; i++) {
                if (f[i].kind == VR_JSON_NUMBER) {
                    d->reported_load = strtol(f[i].value, NULL, 10);
                    vr_dealer_check_reconnected(b, d, d->reported_load);
                    break;
                }
            }
        }
    }
    vr_dealer_ack(b, d, VR_LIT("heartbeat_ack"));
}

/* Settles every request d holds: retried elsewhere or ended. */
static void
vr_dealer_settle(vr_broker_t *b, vr_dealer_t *d, const char *why)
{
    vr_request_t *r;

    while ((r = TAILQ_FIRST(&d->requests)) != NULL) {
        vr_request_dealer_gone(r, why);
    }
}

void
vr_dealer_on_shutdown(vr_broker_t *b, vr_dealer_t *d)
{
    vr_frame_t f[2];

    vr_log_info("dealer %s left (%zu methods, %u requests held)", d->id_text,
                d->nmethods, d->in_flight);
    f[0] = VR_FRAME(d->id, d->id_len);
    f[1] = VR_FRAME_STR("shutdown_ack");
    if (vr_wire_send(b->router, f, 2) != VR_OK) {
        b->stats.send_failures++;
    }
    d->state = VR_DEALER_INACTIVE;
    vr_dealer_settle(b, d, "it left (shutdown)");
    vr_dealer_remove(b, d);
}

void
vr_dealer_lost(vr_broker_t *b, vr_dealer_t *d, const char *why)
{
    if (d->state == VR_DEALER_INACTIVE) {
        return;
    }
    vr_log_warn("dealer %s lost: %s (%u requests held)", d->id_text, why,
                d->in_flight);
    d->state = VR_DEALER_INACTIVE;
    d->inactive_since_ms = vr_now_ms;
    b->stats.dealers_lost++;
    vr_dealer_settle(b, d, why);
    for (size_t i = 0; i < d->nmethods; i++) {
        vr_method_check_service(b, d->methods[i]);
    }
}

void
vr_dealer_tick(vr_broker_t *b)
{
    const vr_router_conf_t *conf = b->conf;
    vr_dealer_t            *d, *next;
    char                    why[128];

    for (d = TAILQ_FIRST(&b->dealer_order); d != NULL; d = next) {
        next = TAILQ_NEXT(d, order);
        if (d->state == VR_DEALER_ACTIVE) {
            bool      busy = d->in_flight > 0 || d->reported_load > 0;
            vr_msec_t limit = busy ? conf->busy_timeout_ms
                                   : conf->heartbeat_timeout_ms;
            vr_msec_t silent = vr_now_ms - d->last_seen_ms;

            if (silent > limit) {
                snprintf(why, sizeof(why), "silent for %lld ms (limit %lld ms)",
                         (long long) silent, (long long) limit);
                b->stats.dealers_expired++;
                vr_dealer_lost(b, d, why);
            } else if (busy
                       && vr_now_ms - d->last_probe_ms >= conf->probe_interval_ms)
            {
                d->last_probe_ms = vr_now_ms;
                vr_dealer_ack(b, d, VR_LIT("heartbeat_ack"));
            }
        } else if (d->in_flight == 0
                   && vr_now_ms - d->inactive_since_ms
                      > VR_DEALER_FORGET_FACTOR * conf->heartbeat_timeout_ms)
        {
            vr_log_info("dealer %s forgotten after %lld ms inactive",
                        d->id_text,
                        (long long) (vr_now_ms - d->inactive_since_ms));
            vr_dealer_remove(b, d);
        }
    }
}

void
vr_dealer_remove(vr_broker_t *b, vr_dealer_t *d)
{
    vr_dealer_settle(b, d, "it was removed");
    vr_dealer_drop_methods(b, d);
    HASH_DEL(b->dealers, d);
    TAILQ_REMOVE(&b->dealer_order, d, order);
    json_decref(d->methods_meta);
    json_decref(d->host_info);
    free(d->group);
    free(d->remote_addr);
    free(d->id_text);
    free(d->id);
    free(d);
}

void
vr_dealer_destroy_all(vr_broker_t *b)
{
    vr_dealer_t *d;

    while ((d = TAILQ_FIRST(&b->dealer_order)) != NULL) {
        d->state = VR_DEALER_INACTIVE;
        vr_dealer_remove(b, d);
    }
}

int
vr_dealer_set_drained(vr_broker_t *b, const char *id_text, bool drained)
{
    vr_dealer_t *d;

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        if (strcmp(d->id_text, id_text) != 0) {
            continue;
        }
        if (d->drained != drained) {
            d->drained = drained;
            vr_log_notice("dealer %s %s by an operator (%u requests held)",
                          d->id_text, drained ? "drained" : "back in rotation",
                          d->in_flight);
            for (size_t i = 0; drained && i < d->nmethods; i++) {
                vr_method_check_service(b, d->methods[i]);
            }
            if (!drained) {
                vr_dispatch_dealer(b, d);
            }
        }
        return VR_OK;
    }
    return VR_DECLINED;
}
