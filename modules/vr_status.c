/*
 * vr_status.c: the live dashboard and its data.
 *
 *   GET /status              the page (html/status.html, compiled in)
 *   GET /status/<file>       its script and style
 *   GET /status.json         the gateway, methods, dealers, recent errors
 *   GET /status/events       the same document as an SSE "snapshot" event
 *                            about once a second
 *
 * The page and its files need no key; the data does, given as a header or,
 * because EventSource cannot send headers, as ?api_key=.
 */
#include "config.h"
#include <stdio.h>
#include <sys/queue.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_dealer.h"
#include "vr_embed.h"
#include "vr_http.h"
#include "vr_json.h"
#include "vr_loop.h"
#include "vr_method.h"
#include "vr_module.h"
#include "vr_process.h"
#include "vr_report.h"
#include "vr_sse.h"

typedef struct vr_status_sub_s {
    vr_http_req_t                   *hr;
    LIST_ENTRY(vr_status_sub_s)      link;
    bool                             linked;
} vr_status_sub_t;

static struct {
    vr_broker_t                     *broker;
    vr_loop_t                       *loop;
    vr_timer_t                       tick;
    LIST_HEAD(, vr_status_sub_s)     subs;
    uint64_t                         event_id;
} vr_status;

#define VR_STATUS_PERIOD_MS  1000

/* ---- the document ----------------------------------------------------- */

static json_t *
vr_status_seconds(int64_t wall_ms)
{
    return json_real((double) wall_ms / 1000.0);
}

/* A text as a JSON string, never NULL: bytes that are not UTF-8 (which
 * jansson refuses) become U+FFFD, so no entry is lost over its text. */
static json_t *
vr_status_text(const char *s)
{
    json_t   *j = json_string(s);
    vr_buf_t  b = VR_BUF_INIT;

    if (j != NULL) {
        return j;
    }
    vr_utf8_repair(&b, s, strlen(s));
    j = json_stringn(b.p != NULL ? b.p : "", b.len);
    vr_buf_free(&b);
    return j;
}

static void
vr_status_add_name(const char *name, void *data)
{
    json_array_append_new(data, json_string(name));
}

/* A list of strings as a JSON array ([] for none). */
static json_t *
vr_status_strs(const vr_strs_t *l)
{
    json_t *a = json_array();

    for (size_t i = 0; l != NULL && i < l->n; i++) {
        json_array_append_new(a, json_string(l->v[i]));
    }
    return a;
}

static json_t *
vr_status_gateway(vr_broker_t *b)
{
    const vr_http_conf_t *http = vr_http_current_conf();
    json_t               *g = json_object();
    json_t               *bind = vr_status_strs(&b->bound);
    json_t               *listen = vr_status_strs(http ? &http->listen : NULL);
    json_object_set_new(g, "version", json_string(VR_VERSION));
    json_object_set_new(g, "pid", json_integer(getpid()));
    json_object_set_new(g, "started_at",
                        vr_status_seconds(vr_process.started_wall_ms));
    json_object_set_new(g, "uptime_s", json_integer(
        (vr_wall_ms() - vr_process.started_wall_ms) / 1000));
    json_object_set_new(g, "config_file", json_string(vr_process.conf_file));
    json_object_set_new(g, "config_generation",
                        json_integer(vr_process.generation));
    if (vr_process.last_reload_wall_ms != 0) {
        json_object_set_new(g, "last_reload", json_pack(
            "{s:o, s:b, s:o}",
            "at", vr_status_seconds(vr_process.last_reload_wall_ms),
            "ok", vr_process.last_reload_ok,
            "error", vr_status_text(vr_process.last_reload_error)));
    } else {
        json_object_set_new(g, "last_reload", json_null());
    }
    json_object_set_new(g, "reloads",
                        json_integer((json_int_t) vr_process.reloads));
    json_object_set_new(g, "reload_failures",
                        json_integer((json_int_t) vr_process.reload_failures));
    json_object_set_new(g, "mode", json_string(
        b->conf->mode == VR_MODE_FIFO ? "fifo" : "load_balance"));
    json_object_set_new(g, "bind", bind);
    json_object_set_new(g, "http_listen", listen);
    json_object_set_new(g, "https_listen",
                        vr_status_strs(http ? &http->tls.listen : NULL));
    json_object_set_new(g, "admin_listen",
                        vr_status_strs(http ? &http->admin_listen : NULL));
    json_object_set_new(g, "draining", json_boolean(vr_process.draining));
    json_object_set_new(g, "heartbeat_timeout_s", json_real(
        (double) b->conf->heartbeat_timeout_ms / 1000.0));
    json_object_set_new(g, "busy_timeout_s", json_real(
        (double) b->conf->busy_timeout_ms / 1000.0));
    json_object_set_new(g, "disabled_methods", json_array());
    vr_broker_each_disabled(b, vr_status_add_name,
                            json_object_get(g, "disabled_methods"));
    return g;
}

static json_t *
vr_status_errors(const uint64_t *counts, size_t n, bool all)
{
    json_t *e = json_object();

    for (size_t c = 0; c < n && c < VR_CODE_COUNT; c++) {
        if (all || counts[c] > 0) {
            json_object_set_new(e, vr_code_name((vr_code_t) c),
                                json_integer((json_int_t) counts[c]));
        }
    }
    return e;
}

static json_t *
vr_status_totals(vr_broker_t *b)
{
    const vr_http_stats_t *hs = vr_http_stats();
    const vr_dealer_t     *d;
    size_t                 active = 0, inactive = 0;

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        if (d->state == VR_DEALER_ACTIVE) {
            active++;
        } else {
            inactive++;
        }
    }
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:{s:I, s:I, s:I}}",
        "requests", (json_int_t) b->stats.requests,
        "responses", (json_int_t) b->stats.responses,
        "stream_chunks", (json_int_t) b->stats.stream_chunks,
        /* Held by dealers, as /metrics and the methods and dealers count;
         * orphaned: of those, the ones whose caller has gone. */
        "in_flight", (json_int_t) b->in_flight,
        "orphaned", (json_int_t) (b->in_flight + b->queued
                                  - vr_broker_pending(b)),
        "queued", (json_int_t) b->queued,
        "errors", vr_status_errors(b->stats.errors, VR_CODE_COUNT, true),
        "dealers_active", (json_int_t) active,
        "dealers_inactive", (json_int_t) inactive,
        "http",
        "requests", (json_int_t) hs->requests,
        "connections", (json_int_t) hs->connections,
        "streams", (json_int_t) hs->streams);
}

static json_t *
vr_status_history(const vr_method_stats_t *s)
{
    json_t  *h = json_array();
    int64_t  now_s = vr_wall_ms() / 1000;

    for (int64_t t = now_s - VR_STATS_HISTORY + 1; t <= now_s; t++) {
        const vr_stats_point_t *p = &s->history[t % VR_STATS_HISTORY];
        bool                    here = p->second == t;

        json_array_append_new(h, json_pack(
            "{s:I, s:i, s:i, s:i}", "t", (json_int_t) t,
            "calls", here ? (int) p->calls : 0,
            "errors", here ? (int) p->errors : 0,
            "queue", here ? (int) p->queue : 0));
    }
    return h;
}

static json_t *
vr_status_method(vr_method_t *m)
{
    const vr_hist_t *wait, *time;
    size_t           available = 0, busy = 0;

    for (size_t i = 0; i < m->ndealers; i++) {
        const vr_dealer_t *d = m->dealers[i];
        if (d->state == VR_DEALER_ACTIVE) {
            if (d->in_flight < d->capacity) {
                available++;
            } else {
                busy++;
            }
        }
    }
    vr_stats_windows(&m->stats, &wait, &time);
    return json_pack(
        "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:f, s:{s:f, s:f},"
        " s:{s:f, s:f}, s:o, s:o}",
        "name", m->name,
        "disabled", vr_broker_disabled(m->broker, m->name, m->name_len),
        "queue_length", (json_int_t) m->queue_len,
        "in_flight", (json_int_t) m->in_flight,
        "dealers_available", (json_int_t) available,
        "dealers_busy", (json_int_t) busy,
        "calls", (json_int_t) m->stats.calls,
        "rate_per_s", vr_stats_rate(&m->stats, 10),
        "queue_wait_ms",
        "p50", vr_hist_quantile(&wait[0], &wait[1], 0.5),
        "p99", vr_hist_quantile(&wait[0], &wait[1], 0.99),
        "dealer_time_ms",
        "p50", vr_hist_quantile(&time[0], &time[1], 0.5),
        "p99", vr_hist_quantile(&time[0], &time[1], 0.99),
        "errors", vr_status_errors(m->stats.errors, VR_CODE_COUNT, false),
        "history", vr_status_history(&m->stats));
}

static json_t *
vr_status_dealer(const vr_dealer_t *d)
{
    json_t     *methods = json_array();
    json_t     *host = json_object_get(d->host_info, "hostname");
    json_t     *pid = json_object_get(d->host_info, "pid");
    const char *state = d->state != VR_DEALER_ACTIVE ? "inactive"
                        : d->drained ? "draining" : "active";

    for (size_t i = 0; i < d->nmethods; i++) {
        json_array_append_new(methods, json_string(d->methods[i]->name));
    }
    return json_pack(
        "{s:s, s:s, s:O, s:O, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:o}",
        "id", d->id_text, "group", d->group,
        "host", host ? host : json_null(), "pid", pid ? pid : json_null(),
        "remote_addr", d->remote_addr, "state", state,
        "in_flight", (json_int_t) d->in_flight,
        "capacity", (json_int_t) d->capacity,
        "served", (json_int_t) d->reply_count,
        "dispatched", (json_int_t) d->request_count,
        "last_heartbeat_age_s", (double) (vr_now_ms - d->last_seen_ms) / 1000.0,
        "methods", methods);
}

static json_t *
vr_status_document(void)
{
    vr_broker_t             *b = vr_status.broker;
    json_t                  *doc = json_object(), *methods = json_array();
    json_t                  *dealers = json_array(), *errors = json_array();
    vr_method_t             *m, *tmp;
    const vr_dealer_t       *d;
    const vr_recent_error_t *e;

    json_object_set_new(doc, "gateway", vr_status_gateway(b));
    json_object_set_new(doc, "totals", vr_status_totals(b));
    HASH_ITER(hh, b->methods, m, tmp) {
        json_array_append_new(methods, vr_status_method(m));
    }
    json_object_set_new(doc, "methods", methods);
    TAILQ_FOREACH(d, &b->dealer_order, order) {
        json_array_append_new(dealers, vr_status_dealer(d));
    }
    json_object_set_new(doc, "dealers", dealers);
    for (size_t i = 0; (e = vr_recent_get(&b->recent, i)) != NULL; i++) {
        json_array_append_new(errors, json_pack(
            "{s:o, s:o, s:s, s:o, s:o}", "at", vr_status_seconds(e->wall_ms),
            "method", vr_status_text(e->method),
            "code", vr_code_name((vr_code_t) e->code),
            "message", vr_status_text(e->message),
            "request_id", vr_status_text(e->request_id)));
    }
    json_object_set_new(doc, "recent_errors", errors);
    vr_report_status(doc);
    return doc;
}

/* ---- routes ----------------------------------------------------------- */

static void
vr_status_file(vr_http_req_t *hr, const char *name)
{
    const vr_embedded_file_t *f = vr_embedded_find(name);

    if (f == NULL || strcmp(name, "openapi.json") == 0) {
        vr_http_problem(hr, 404, "not_found", 0, "no route for %s",
                        vr_http_path(hr));
        return;
    }
    vr_http_add_header(hr, "Cache-Control", "no-cache");
    vr_http_respond(hr, 200, f->type, f->data, f->len);
}

static void
vr_status_page(vr_http_req_t *hr, const char *tail)
{
    vr_status_file(hr, "status.html");
}

static void
vr_status_static(vr_http_req_t *hr, const char *tail)
{
    vr_status_file(hr, tail);
}

static void
vr_status_json(vr_http_req_t *hr, const char *tail)
{
    vr_http_add_header(hr, "Cache-Control", "no-store");
    vr_http_respond_json(hr, 200, vr_status_document());
}

static void
vr_status_sub_gone(vr_http_req_t *hr, void *data)
{
    vr_status_sub_t *sub = data;

    if (sub->linked) {
        LIST_REMOVE(sub, link);
        sub->linked = false;
    }
}

static void
vr_status_snapshot(vr_buf_t *out)
{
    json_t *doc = vr_status_document();
    char   *text = json_dumps(doc, JSON_COMPACT);

    vr_sse_event(out, "snapshot", ++vr_status.event_id, text, strlen(text));
    free(text);
    json_decref(doc);
}

static void
vr_status_events(vr_http_req_t *hr, const char *tail)
{
    vr_status_sub_t *sub = vr_calloc(1, sizeof(*sub));
    vr_buf_t         b = VR_BUF_INIT;

    sub->hr = hr;
    vr_http_set_data(hr, sub, free);
    if (vr_http_stream_start(hr, "text/event-stream", vr_status_sub_gone, sub)
        != VR_OK)
    {
        return;
    }
    vr_sse_retry(&b, vr_http_conf(hr)->retry_ms);
    vr_status_snapshot(&b);
    vr_http_stream_write(hr, b.p, b.len);
    vr_buf_free(&b);
    LIST_INSERT_HEAD(&vr_status.subs, sub, link);
    sub->linked = true;
}

static void
vr_status_on_tick(vr_timer_t *t)
{
    vr_status_sub_t *sub;
    vr_buf_t         b = VR_BUF_INIT;

    if (!LIST_EMPTY(&vr_status.subs)) {
        vr_status_snapshot(&b);
        LIST_FOREACH(sub, &vr_status.subs, link) {
            /* A subscriber that cannot keep up is cut off by the core. */
            vr_http_stream_write(sub->hr, b.p, b.len);
        }
        vr_buf_free(&b);
    }
    vr_timer_add(vr_status.loop, &vr_status.tick, VR_STATUS_PERIOD_MS);
}

static const vr_route_t vr_status_routes[] = {
    { "GET", "/status", VR_ROUTE_PUBLIC | VR_ROUTE_ADMIN, vr_status_page,
      "the live dashboard" },
    { "GET", "/status.json", VR_ROUTE_QUERY_KEY | VR_ROUTE_ADMIN,
      vr_status_json,
      "the dashboard's data as one JSON document" },
    { "GET", "/status/events", VR_ROUTE_QUERY_KEY | VR_ROUTE_ADMIN,
      vr_status_events,
      "the dashboard's data as SSE snapshots, about once a second" },
    { "GET", "/status/", VR_ROUTE_PREFIX | VR_ROUTE_PUBLIC | VR_ROUTE_ADMIN,
      vr_status_static,
      "the dashboard's script and style" },
    { NULL, NULL, 0, NULL, NULL }
};

static void
vr_status_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_status.broker = cycle->broker;
    if (old == NULL) {
        vr_status.loop = cycle->loop;
        LIST_INIT(&vr_status.subs);
        vr_timer_init(&vr_status.tick, vr_status_on_tick, NULL);
        vr_timer_add(vr_status.loop, &vr_status.tick, VR_STATUS_PERIOD_MS);
    }
}

static void
vr_status_exit(vr_cycle_t *cycle)
{
    vr_timer_del(vr_status.loop, &vr_status.tick);
}

vr_module_t vr_status_module = {
    .name = "status",
    .routes = vr_status_routes,
    .commit = vr_status_commit,
    .exit = vr_status_exit,
};
