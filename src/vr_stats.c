/*
 * vr_stats.c: histograms, per-method figures and recent errors
 * (see vr_stats.h).
 */
#include "config.h"

#include "vr_core.h"
#include "vr_json.h"
#include "vr_loop.h"
#include "vr_stats.h"

const double vr_hist_bounds_ms[VR_HIST_BUCKETS - 1] = {
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
    60000, 300000
};

void
vr_hist_add(vr_hist_t *h, double ms)
{
    size_t i = 0;

    while (i < VR_HIST_BUCKETS - 1 && ms > vr_hist_bounds_ms[i]) {
        i++;
    }
    h->counts[i]++;
    h->count++;
    h->sum_ms += ms;
}

double
vr_hist_quantile(const vr_hist_t *a, const vr_hist_t *b, double q)
{
    uint64_t total = a->count + (b ? b->count : 0), seen = 0;
    double   rank = q * (double) total;

    if (total == 0) {
        return 0;
    }
    for (size_t i = 0; i < VR_HIST_BUCKETS; i++) {
        uint64_t n = a->counts[i] + (b ? b->counts[i] : 0);
        double   lo = i == 0 ? 0 : vr_hist_bounds_ms[i - 1];
        double   hi = i < VR_HIST_BUCKETS - 1 ? vr_hist_bounds_ms[i] : lo * 2;

        if (n > 0 && (double) (seen + n) >= rank) {
            /* Linear inside the bucket, as Prometheus' histogram_quantile. */
            return lo + (hi - lo) * (rank - (double) seen) / (double) n;
        }
        seen += n;
    }
    return vr_hist_bounds_ms[VR_HIST_BUCKETS - 2];
}

static vr_stats_point_t *
vr_stats_point(vr_method_stats_t *s)
{
    int64_t           now_s = vr_wall_ms() / 1000;
    vr_stats_point_t *p = &s->history[now_s % VR_STATS_HISTORY];

    if (p->second != now_s) {
        memset(p, 0, sizeof(*p));
        p->second = now_s;
    }
    return p;
}

void
vr_stats_call(vr_method_stats_t *s)
{
    s->calls++;
    vr_stats_point(s)->calls++;
}

void
vr_stats_error(vr_method_stats_t *s, int code)
{
    if (code >= 0 && code < (int) vr_nelems(s->errors)) {
        s->errors[code]++;
    }
    vr_stats_point(s)->errors++;
}

void
vr_stats_queue(vr_method_stats_t *s, size_t queue_length)
{
    vr_stats_point_t *p = vr_stats_point(s);

    p->queue = (uint32_t) vr_max((size_t) p->queue, queue_length);
}

static void
vr_stats_rotate(vr_method_stats_t *s)
{
    int64_t minute = vr_now_ms / 60000;

    if (minute == s->window_minute) {
        return;
    }
    if (minute == s->window_minute + 1) {
        s->window_wait[1] = s->window_wait[0];
        s->window_time[1] = s->window_time[0];
    } else {
        memset(&s->window_wait[1], 0, sizeof(vr_hist_t));
        memset(&s->window_time[1], 0, sizeof(vr_hist_t));
    }
    memset(&s->window_wait[0], 0, sizeof(vr_hist_t));
    memset(&s->window_time[0], 0, sizeof(vr_hist_t));
    s->window_minute = minute;
}

void
vr_stats_waited(vr_method_stats_t *s, double wait_ms)
{
    vr_stats_rotate(s);
    vr_hist_add(&s->queue_wait, wait_ms);
    vr_hist_add(&s->window_wait[0], wait_ms);
}

void
vr_stats_served(vr_method_stats_t *s, double ms)
{
    vr_stats_rotate(s);
    vr_hist_add(&s->dealer_time, ms);
    vr_hist_add(&s->window_time[0], ms);
}

void
vr_stats_windows(vr_method_stats_t *s, const vr_hist_t **wait,
                 const vr_hist_t **time)
{
    vr_stats_rotate(s);
    *wait = s->window_wait;
    *time = s->window_time;
}

double
vr_stats_rate(const vr_method_stats_t *s, int seconds)
{
    int64_t  now_s = vr_wall_ms() / 1000;
    uint64_t calls = 0;

    /* Whole seconds only: the one under way is not counted. */
    for (int i = 1; i <= seconds; i++) {
        const vr_stats_point_t *p = &s->history[(now_s - i) % VR_STATS_HISTORY];
        if (p->second == now_s - i) {
            calls += p->calls;
        }
    }
    return (double) calls / seconds;
}

void
vr_recent_error(vr_recent_errors_t *e, const char *method, int code,
                const char *message, const char *request_id)
{
    vr_recent_error_t *r = &e->ring[e->next % VR_RECENT_ERRORS];

    r->wall_ms = vr_wall_ms();
    r->code = code;
    /* Shown as JSON: valid UTF-8, cut between characters. */
    vr_utf8_copy(r->method, sizeof(r->method), method);
    vr_utf8_copy(r->message, sizeof(r->message), message);
    vr_utf8_copy(r->request_id, sizeof(r->request_id), request_id);
    e->next++;
}

const vr_recent_error_t *
vr_recent_get(const vr_recent_errors_t *e, size_t i)
{
    if (i >= e->next || i >= VR_RECENT_ERRORS) {
        return NULL;
    }
    return &e->ring[(e->next - 1 - i) % VR_RECENT_ERRORS];
}
