/*
 * vr_admin.c: the broker's answers about itself (see vr_admin.h).
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_admin.h"
#include "vr_broker.h"
#include "vr_dealer.h"
#include "vr_method.h"

static const char *vr_dealer_state_names[] = { "active", "inactive" };

char *
vr_admin_dump(const json_t *j, size_t *len)
{
    /* No JSON_COMPACT: jansson then separates like Python (", ", ": "). */
    char *s = json_dumps(j, JSON_ENSURE_ASCII | JSON_ENCODE_ANY);

    if (s == NULL) {
        s = vr_strdup("null");
    }
    if (len != NULL) {
        *len = strlen(s);
    }
    return s;
}

static double
vr_seconds(vr_msec_t ms)
{
    return (double) ms / 1000.0;
}

json_t *
vr_admin_methods(vr_broker_t *b)
{
    json_t      *all = json_object();
    vr_dealer_t *d;
    const char  *name;
    json_t      *meta;

    /* The first registered live dealer's metadata wins. */
    TAILQ_FOREACH(d, &b->dealer_order, order) {
        if (d->state != VR_DEALER_ACTIVE) {
            continue;
        }
        json_object_foreach(d->methods_meta, name, meta) {
            if (json_object_get(all, name) == NULL) {
                json_object_set(all, name, meta);
            }
        }
    }
    return all;
}

static json_t *
vr_admin_service_info(const vr_dealer_t *d)
{
    json_t *info = json_object();
    json_t *caps = json_array();

    json_object_set_new(info, "service_id", json_string(d->id_text));
    json_object_set_new(info, "group", json_string(d->group));
    json_object_set(info, "methods", d->methods_meta);
    json_object_set_new(info, "state",
                        json_string(vr_dealer_state_names[d->state]));
    json_object_set_new(info, "current_load", json_integer(d->in_flight));
    json_object_set_new(info, "request_count",
                        json_integer((json_int_t) d->request_count));
    json_object_set_new(info, "reply_count",
                        json_integer((json_int_t) d->reply_count));
    json_object_set_new(info, "last_heartbeat",
                        json_real((double) d->last_heartbeat_wall_ms / 1000.0));
    json_object_set_new(info, "max_concurrent", json_integer(d->capacity));
    json_object_set_new(info, "remote_addr", json_string(d->remote_addr));
    if (d->host_info != NULL) {
        json_object_set(info, "host_info", d->host_info);
    }
    if (d->can_cancel) {
        json_array_append_new(caps, json_string("cancel"));
    }
    if (d->rid_errors) {
        json_array_append_new(caps, json_string("request_id_errors"));
    }
    json_object_set_new(info, "capabilities", caps);
    json_object_set_new(info, "reported_load", json_integer(d->reported_load));
    return info;
}

json_t *
vr_admin_clusters(vr_broker_t *b)
{
    json_t      *all = json_object();
    vr_dealer_t *d;

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        json_object_set_new(all, d->id_text, vr_admin_service_info(d));
    }
    return all;
}

json_t *
vr_admin_router_info(vr_broker_t *b)
{
    const vr_router_conf_t *conf = b->conf;
    json_t                 *info = json_object();
    json_t                 *by_group = json_object();
    json_t                 *sources = json_object();
    json_t                 *addresses = json_array();
    json_t                 *errors = json_object();
    size_t                  active = 0, busy = 0, inactive = 0, total = 0;
    vr_dealer_t            *d;
    char                    key[1024];

    TAILQ_FOREACH(d, &b->dealer_order, order) {
        json_t *g, *src, *list;

        total++;
        if (d->state == VR_DEALER_ACTIVE) {
            active++;
            busy += d->in_flight > 0;
        } else {
            inactive++;
        }
        g = json_object_get(by_group, d->group);
        if (g == NULL) {
            g = json_pack("{s:i, s:{}}", "count", 0, "sources");
            json_object_set_new(by_group, d->group, g);
        }
        json_object_set_new(g, "count", json_integer(
            json_integer_value(json_object_get(g, "count")) + 1));
        src = json_object_get(g, "sources");
        json_object_set_new(src, d->remote_addr, json_integer(
            json_integer_value(json_object_get(src, d->remote_addr)) + 1));

        snprintf(key, sizeof(key), "%s (%s)", d->remote_addr, d->group);
        list = json_object_get(sources, key);
        if (list == NULL) {
            list = json_array();
            json_object_set_new(sources, key, list);
        }
        json_array_append_new(list, json_string(d->id_text));
    }
    for (size_t i = 0; i < b->bound.n; i++) {
        json_array_append_new(addresses, json_string(b->bound.v[i]));
    }
    for (int c = 0; c < VR_CODE_COUNT; c++) {
        json_object_set_new(errors, vr_code_name((vr_code_t) c),
                            json_integer((json_int_t) b->stats.errors[c]));
    }

    json_object_set_new(info, "mode", json_string(
        conf->mode == VR_MODE_FIFO ? "fifo" : "load_balance"));
    json_object_set_new(info, "address",
                        json_string(b->bound.n ? b->bound.v[0] : ""));
    json_object_set_new(info, "idle_heartbeat_timeout",
                        json_real(vr_seconds(conf->heartbeat_timeout_ms)));
    json_object_set_new(info, "busy_heartbeat_timeout",
                        json_real(vr_seconds(conf->busy_timeout_ms)));
    json_object_set_new(info, "max_busy_without_heartbeat",
                        json_real(2 * vr_seconds(conf->busy_timeout_ms)));
    json_object_set_new(info, "active_services_count", json_integer(active));
    json_object_set_new(info, "busy_services_count", json_integer(busy));
    json_object_set_new(info, "idle_services_count",
                        json_integer(active - busy));
    json_object_set_new(info, "inactive_services_count",
                        json_integer(inactive));
    json_object_set_new(info, "total_services_count", json_integer(total));
    json_object_set_new(info, "uptime", json_integer(
        (vr_wall_ms() - b->started_wall_ms) / 1000));
    json_object_set_new(info, "total_requests",
                        json_integer((json_int_t) b->stats.requests));
    json_object_set_new(info, "total_responses",
                        json_integer((json_int_t) b->stats.responses));
    json_object_set_new(info, "requests_in_process",
                        json_integer((json_int_t) b->in_flight));
    json_object_set_new(info, "requests_in_queue",
                        json_integer((json_int_t) b->queued));
    json_object_set_new(info, "service_by_group", by_group);
    json_object_set_new(info, "service_sources", sources);
    json_object_set_new(info, "client_api_keys_require", json_boolean(
        b->auth.client_required != NULL
        && b->auth.client_required(b->auth.data)));
    json_object_set_new(info, "dealer_api_keys_require", json_boolean(
        b->auth.dealer_required != NULL
        && b->auth.dealer_required(b->auth.data)));

    /* Part B's additions. */
    json_object_set_new(info, "version", json_string(VR_VERSION));
    json_object_set_new(info, "addresses", addresses);
    json_object_set_new(info, "config_generation",
                        json_integer(b->generation));
    json_object_set_new(info, "total_stream_chunks",
                        json_integer((json_int_t) b->stats.stream_chunks));
    json_object_set_new(info, "total_errors", errors);
    json_object_set_new(info, "dropped_messages",
                        json_integer((json_int_t) b->stats.dropped));
    json_object_set_new(info, "late_replies",
                        json_integer((json_int_t) b->stats.late_replies));
    json_object_set_new(info, "retries",
                        json_integer((json_int_t) b->stats.retries));
    json_object_set_new(info, "dealers_lost",
                        json_integer((json_int_t) b->stats.dealers_lost));
    json_object_set_new(info, "dealers_expired",
                        json_integer((json_int_t) b->stats.dealers_expired));
    json_object_set_new(info, "curve", json_boolean(conf->curve.on));
    json_object_set_new(info, "curve_refused",
                        json_integer((json_int_t) b->stats.curve_refused));
    json_object_set_new(info, "identity_refused",
                        json_integer((json_int_t) b->stats.identity_refused));
    json_object_set_new(info, "request_timeout",
                        json_real(vr_seconds(conf->request_timeout_ms)));
    json_object_set_new(info, "max_queue", json_integer(conf->max_queue));
    return info;
}

json_t *
vr_admin_queue_status(vr_broker_t *b)
{
    json_t      *all = json_object();
    vr_method_t *m, *tmp;

    HASH_ITER(hh, b->methods, m, tmp) {
        size_t   available = 0, busy = 0;
        uint64_t capacity = 0;

        if (!vr_method_in_use(m)) {
            continue;       /* kept for its statistics only */
        }
        for (size_t i = 0; i < m->ndealers; i++) {
            const vr_dealer_t *d = m->dealers[i];
            if (d->state != VR_DEALER_ACTIVE) {
                continue;
            }
            if (d->in_flight == 0) {
                available++;
            } else {
                busy++;
            }
            capacity += d->capacity;
        }
        json_object_set_new(all, m->name, json_pack(
            "{s:I, s:I, s:I, s:I, s:I}",
            "queue_length", (json_int_t) m->queue_len,
            "available_services", (json_int_t) available,
            "busy_services", (json_int_t) busy,
            "in_flight", (json_int_t) m->in_flight,
            "capacity", (json_int_t) capacity));
    }
    return all;
}

json_t *
vr_admin_services(vr_broker_t *b)
{
    json_t      *all = json_object();
    vr_method_t *m, *tmp;

    HASH_ITER(hh, b->methods, m, tmp) {
        json_t *svc, *dealers = json_array(), *live_meta = NULL;
        json_t *any_meta = NULL, *meta;
        size_t  live = 0;

        if (m->ndealers == 0) {
            continue;
        }
        for (size_t i = 0; i < m->ndealers; i++) {
            const vr_dealer_t *d = m->dealers[i];
            json_t            *dm = json_object_get(d->methods_meta, m->name);

            if (d->state == VR_DEALER_ACTIVE) {
                live++;
                live_meta = live_meta ? live_meta : dm;
            }
            any_meta = any_meta ? any_meta : dm;
            json_array_append_new(dealers, json_pack(
                "{s:s, s:s, s:i, s:i}", "id", d->id_text,
                "state", vr_dealer_state_names[d->state],
                "in_flight", (json_int_t) d->in_flight,
                "capacity", (json_int_t) d->capacity));
        }
        meta = live_meta ? live_meta : any_meta;
        svc = meta != NULL ? json_deep_copy(meta) : json_object();
        json_object_set_new(svc, "dealers", dealers);
        json_object_set_new(svc, "live_dealers", json_integer((json_int_t) live));
        json_object_set_new(svc, "queue_length",
                            json_integer((json_int_t) m->queue_len));
        json_object_set_new(svc, "in_flight",
                            json_integer((json_int_t) m->in_flight));
        json_object_set_new(all, m->name, svc);
    }
    return all;
}
