/*
 * vr_stats.h: the broker's own bookkeeping of latency and outcomes.
 *
 * Latency goes into histograms with fixed buckets (Prometheus-style, in
 * milliseconds), never into samples: exact counts, bounded memory, and
 * percentiles estimated from the buckets.  Each method keeps, besides the
 * totals since it appeared, a window of the last one to two minutes (for
 * the dashboard's p50/p99) and one point per second for the last five
 * minutes (calls, errors, queue length).  The broker keeps the last
 * errors in a small ring.
 */
#ifndef VR_STATS_H
#define VR_STATS_H

#include "vr_core.h"
#include "vr_buf.h"

/* Upper bounds of the buckets, in ms; the last bucket is +Inf. */
#define VR_HIST_BUCKETS  17
extern const double vr_hist_bounds_ms[VR_HIST_BUCKETS - 1];

typedef struct {
    uint64_t    counts[VR_HIST_BUCKETS];    /* not cumulative */
    uint64_t    count;
    double      sum_ms;
} vr_hist_t;

void vr_hist_add(vr_hist_t *h, double ms);

/* The q-quantile (0..1) estimated from a, b merged; 0 when empty. */
double vr_hist_quantile(const vr_hist_t *a, const vr_hist_t *b, double q);

/* Seconds of per-second history kept per method. */
#define VR_STATS_HISTORY  300

typedef struct {
    int64_t     second;                 /* epoch second of the slot */
    uint32_t    calls;
    uint32_t    errors;
    uint32_t    queue;                  /* queue length seen that second */
} vr_stats_point_t;

typedef struct {
    uint64_t            calls;
    uint64_t            errors[16];     /* by vr_code_t */
    vr_hist_t           queue_wait;     /* since the method appeared */
    vr_hist_t           dealer_time;
    vr_hist_t           window_wait[2]; /* [0]: this minute, [1]: the last */
    vr_hist_t           window_time[2];
    int64_t             window_minute;
    vr_stats_point_t    history[VR_STATS_HISTORY];
} vr_method_stats_t;

/* A call arrived / an error ended one / a queue length to remember. */
void vr_stats_call(vr_method_stats_t *s);
void vr_stats_error(vr_method_stats_t *s, int code);
void vr_stats_queue(vr_method_stats_t *s, size_t queue_length);

/* A request left the queue after wait_ms / a dealer finished it in ms. */
void vr_stats_waited(vr_method_stats_t *s, double wait_ms);
void vr_stats_served(vr_method_stats_t *s, double ms);

/* Calls per second over the last `seconds` seconds. */
double vr_stats_rate(const vr_method_stats_t *s, int seconds);

/* The windowed histograms, rotated to the current minute. */
void vr_stats_windows(vr_method_stats_t *s, const vr_hist_t **wait,
                      const vr_hist_t **time);

/* ---- recent errors ---------------------------------------------------- */

#define VR_RECENT_ERRORS  50

typedef struct {
    int64_t     wall_ms;
    int         code;
    char        method[128];
    char        message[200];
    char        request_id[64];
} vr_recent_error_t;

typedef struct {
    vr_recent_error_t   ring[VR_RECENT_ERRORS];
    size_t              next;           /* total recorded */
} vr_recent_errors_t;

/*
 * Records an error as the newest of the ring (the oldest beyond
 * VR_RECENT_ERRORS goes).  The texts are kept as valid UTF-8 (bytes that
 * are not become U+FFFD), cut between characters with "…" when longer
 * than their field.
 */
void vr_recent_error(vr_recent_errors_t *e, const char *method, int code,
                     const char *message, const char *request_id);

/* The i-th most recent (0 = newest), NULL beyond what was recorded. */
const vr_recent_error_t *vr_recent_get(const vr_recent_errors_t *e, size_t i);

#endif /* VR_STATS_H */
