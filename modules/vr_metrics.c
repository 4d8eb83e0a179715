/*
 * vr_metrics.c: GET /metrics, the Prometheus text exposition format.
 *
 * Names start with voidrail_; counters end in _total.  Labels are bounded:
 * method (one per registered method), code (the closed list of B.2),
 * state and class; never a request or a dealer.  Latency histograms come
 * from the broker's own buckets (vr_stats.h), in seconds.
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_buf.h"
#include "vr_cycle.h"
#include "vr_dealer.h"
#include "vr_http.h"
#include "vr_method.h"
#include "vr_module.h"
#include "vr_process.h"
#include "vr_report.h"

static vr_broker_t *vr_metrics_broker;

static void
vr_metric_head(vr_buf_t *out, const char *name, const char *type,
               const char *help)
{
    vr_buf_printf_b(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                    type);
}

static void
vr_metric(vr_buf_t *out, const char *name, const char *type,
          const char *help, double value)
{
    vr_metric_head(out, name, type, help);
    vr_buf_printf_b(out, "%s %.17g\n", name, value);
}

static void
vr_metric_method(vr_buf_t *out, const char *name, const vr_method_t *m,
                 const char *extra, double value)
{
    vr_buf_printf_b(out, "%s{method=\"", name);
    vr_report_label(out, m->name);
    vr_buf_printf_b(out, "\"%s} %.17g\n", extra, value);
}

static void
vr_metric_hist(vr_buf_t *out, const char *name, const vr_method_t *m,
               const vr_hist_t *h)
{
    uint64_t cum = 0;
    char     le[64], bucket[128];

    snprintf(bucket, sizeof(bucket), "%s_bucket", name);
    for (size_t i = 0; i < VR_HIST_BUCKETS; i++) {
        cum += h->counts[i];
        if (i < VR_HIST_BUCKETS - 1) {
            snprintf(le, sizeof(le), ",le=\"%g\"",
                     vr_hist_bounds_ms[i] / 1000.0);
        } else {
            snprintf(le, sizeof(le), ",le=\"+Inf\"");
        }
        vr_metric_method(out, bucket, m, le, (double) cum);
    }
    snprintf(bucket, sizeof(bucket), "%s_sum", name);
    vr_metric_method(out, bucket, m, "", h->sum_ms / 1000.0);
    snprintf(bucket, sizeof(bucket), "%s_count", name);
    vr_metric_method(out, bucket, m, "", (double) h->count);
}

static void
vr_metrics_broker_text(vr_buf_t *out, vr_broker_t *b)
{
    vr_method_t       *m, *tmp;
    const vr_dealer_t *d;
    size_t             active = 0, inactive = 0;

    vr_metric(out, "voidrail_requests_total", "counter",
              "Calls received (ZeroMQ and HTTP).", (double) b->stats.requests);
    vr_metric(out, "voidrail_responses_total", "counter",
              "Requests finished by a dealer.", (double) b->stats.responses);
    vr_metric(out, "voidrail_stream_chunks_total", "counter",
              "Stream chunks forwarded.", (double) b->stats.stream_chunks);
    vr_metric_head(out, "voidrail_errors_total", "counter",
                   "Requests ended with an error, by code.");
    for (int c = 0; c < VR_CODE_COUNT; c++) {
        vr_buf_printf_b(out, "voidrail_errors_total{code=\"%s\"} %llu\n",
                        vr_code_name((vr_code_t) c),
                        (unsigned long long) b->stats.errors[c]);
    }
    vr_metric(out, "voidrail_requests_queued", "gauge",
              "Requests waiting in a queue.", (double) b->queued);
    vr_metric(out, "voidrail_requests_in_flight", "gauge",
              "Requests held by dealers.", (double) b->in_flight);
    vr_metric(out, "voidrail_requests_orphaned", "gauge",
              "Requests held by dealers whose caller has gone (cancelled, "
              "timed out).",
              (double) (b->in_flight + b->queued - vr_broker_pending(b)));
    TAILQ_FOREACH(d, &b->dealer_order, order) {
        if (d->state == VR_DEALER_ACTIVE) {
            active++;
        } else {
            inactive++;
        }
    }
    vr_metric_head(out, "voidrail_dealers", "gauge", "Dealers by state.");
    vr_buf_printf_b(out, "voidrail_dealers{state=\"active\"} %zu\n"
                    "voidrail_dealers{state=\"inactive\"} %zu\n",
                    active, inactive);
    vr_metric(out, "voidrail_dropped_messages_total", "counter",
              "Malformed or unroutable messages dropped.",
              (double) b->stats.dropped);
    vr_metric(out, "voidrail_late_replies_total", "counter",
              "Dealer messages for requests already ended, dropped.",
              (double) b->stats.late_replies);
    vr_metric(out, "voidrail_retries_total", "counter",
              "Requests given to another dealer after theirs was lost.",
              (double) b->stats.retries);
    vr_metric(out, "voidrail_dealers_lost_total", "counter",
              "Dealers lost (gone, expired or unreachable).",
              (double) b->stats.dealers_lost);
    vr_metric(out, "voidrail_curve_refused_total", "counter",
              "Connections the ZAP handler refused (CURVE key not let in).",
              (double) b->stats.curve_refused);
    vr_metric(out, "voidrail_identity_refused_total", "counter",
              "Messages under a dealer identity from another CURVE key.",
              (double) b->stats.identity_refused);

    vr_metric_head(out, "voidrail_method_calls_total", "counter",
                   "Calls received, by method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_method(out, "voidrail_method_calls_total", m, "",
                         (double) m->stats.calls);
    }
    vr_metric_head(out, "voidrail_method_errors_total", "counter",
                   "Calls ended with an error, by method and code.");
    HASH_ITER(hh, b->methods, m, tmp) {
        for (int c = 0; c < VR_CODE_COUNT; c++) {
            char code[64];
            if (m->stats.errors[c] == 0) {
                continue;
            }
            snprintf(code, sizeof(code), ",code=\"%s\"",
                     vr_code_name((vr_code_t) c));
            vr_metric_method(out, "voidrail_method_errors_total", m, code,
                             (double) m->stats.errors[c]);
        }
    }
    vr_metric_head(out, "voidrail_method_queue_length", "gauge",
                   "Requests waiting, by method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_method(out, "voidrail_method_queue_length", m, "",
                         (double) m->queue_len);
    }
    vr_metric_head(out, "voidrail_method_in_flight", "gauge",
                   "Requests held by dealers, by method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_method(out, "voidrail_method_in_flight", m, "",
                         (double) m->in_flight);
    }
    vr_metric_head(out, "voidrail_method_dealers", "gauge",
                   "Live dealers offering the method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_method(out, "voidrail_method_dealers", m, "",
                         (double) vr_method_live_dealers(m));
    }
    vr_metric_head(out, "voidrail_queue_wait_seconds", "histogram",
                   "Time from arrival to dispatch, by method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_hist(out, "voidrail_queue_wait_seconds", m,
                       &m->stats.queue_wait);
    }
    vr_metric_head(out, "voidrail_dealer_seconds", "histogram",
                   "Time from dispatch to the dealer's final answer, by "
                   "method.");
    HASH_ITER(hh, b->methods, m, tmp) {
        vr_metric_hist(out, "voidrail_dealer_seconds", m,
                       &m->stats.dealer_time);
    }
}

static void
vr_metrics_http_text(vr_buf_t *out)
{
    const vr_http_stats_t *hs = vr_http_stats();
    static const char     *classes[] = { "other", "1xx", "2xx", "3xx",
                                         "4xx", "5xx" };

    vr_metric(out, "voidrail_http_requests_total", "counter",
              "HTTP requests received.", (double) hs->requests);
    vr_metric_head(out, "voidrail_http_responses_total", "counter",
                   "HTTP responses, by status class.");
    for (size_t i = 0; i < vr_nelems(classes); i++) {
        vr_buf_printf_b(out, "voidrail_http_responses_total{class=\"%s\"} "
                        "%llu\n", classes[i],
                        (unsigned long long) hs->responses[i]);
    }
    vr_metric(out, "voidrail_http_connections", "gauge",
              "HTTP requests in progress.", (double) hs->connections);
    vr_metric(out, "voidrail_http_streams", "gauge",
              "SSE and NDJSON streams open.", (double) hs->streams);
    vr_metric(out, "voidrail_http_streams_cut_total", "counter",
              "Streams cut off because their reader fell behind.",
              (double) hs->cut_streams);
}

static void
vr_metrics_get(vr_http_req_t *hr, const char *tail)
{
    vr_buf_t out = VR_BUF_INIT;

    vr_buf_printf_b(&out, "# HELP voidrail_build_info The gateway's version."
                    "\n# TYPE voidrail_build_info gauge\n"
                    "voidrail_build_info{version=\"%s\"} 1\n", VR_VERSION);
    vr_metric(&out, "voidrail_uptime_seconds", "gauge",
              "Seconds since the gateway started.",
              (double) (vr_wall_ms() - vr_process.started_wall_ms) / 1000.0);
    vr_metric(&out, "voidrail_config_generation", "gauge",
              "Configuration generation in force (1 at start, +1 per "
              "reload).", (double) vr_process.generation);
    vr_metric(&out, "voidrail_config_reloads_total", "counter",
              "Reloads attempted.", (double) vr_process.reloads);
    vr_metric(&out, "voidrail_config_reload_failures_total", "counter",
              "Reloads that failed (the old configuration stayed).",
              (double) vr_process.reload_failures);
    vr_metric(&out, "voidrail_draining", "gauge",
              "1 while the gateway drains before stopping.",
              vr_process.draining ? 1 : 0);
    vr_metrics_broker_text(&out, vr_metrics_broker);
    vr_metrics_http_text(&out);
    vr_report_metrics(&out);
    vr_http_respond(hr, 200, "text/plain; version=0.0.4; charset=utf-8",
                    out.p, out.len);
    vr_buf_free(&out);
}

static const vr_route_t vr_metrics_routes[] = {
    { "GET", "/metrics", VR_ROUTE_ADMIN, vr_metrics_get,
      "metrics in the Prometheus text format" },
    { NULL, NULL, 0, NULL, NULL }
};

static void
vr_metrics_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_metrics_broker = cycle->broker;
}

vr_module_t vr_metrics_module = {
    .name = "metrics",
    .routes = vr_metrics_routes,
    .commit = vr_metrics_commit,
};
