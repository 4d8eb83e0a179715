/*
 * vr_report.h: what modules add to /status.json and /metrics.
 *
 * The status and metrics modules report what the core knows (broker,
 * HTTP, process); a module with figures of its own (jobs, workers)
 * registers a reporter at init, so that those two never include it.
 */
#ifndef VR_REPORT_H
#define VR_REPORT_H

#include <jansson.h>
#include "vr_core.h"
#include "vr_buf.h"

typedef struct {
    /* Adds the module's keys to the status document (may be NULL). */
    void  (*status)(json_t *doc);
    /* Appends the module's metrics, Prometheus text (may be NULL). */
    void  (*metrics)(vr_buf_t *out);
} vr_reporter_t;

/* Registers r (kept by pointer; registering it again is a no-op). */
void vr_report_register(const vr_reporter_t *r);

/* Every reporter's status keys into doc, or metrics onto out. */
void vr_report_status(json_t *doc);
void vr_report_metrics(vr_buf_t *out);

/*
 * Appends v as a Prometheus label value, escaped as the exposition format
 * wants (\\, \", \n); without the quotes around it.
 */
void vr_report_label(vr_buf_t *out, const char *v);

#endif /* VR_REPORT_H */
