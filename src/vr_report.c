/*
 * vr_report.c: reporters of modules (see vr_report.h).
 */
#include "config.h"
#include "vr_core.h"
#include "vr_report.h"

#define VR_REPORTERS_MAX  16

static const vr_reporter_t *vr_reporters[VR_REPORTERS_MAX];
static size_t               vr_nreporters;

void
vr_report_register(const vr_reporter_t *r)
{
    for (size_t i = 0; i < vr_nreporters; i++) {
        if (vr_reporters[i] == r) {
            return;
        }
    }
    if (vr_nreporters < VR_REPORTERS_MAX) {
        vr_reporters[vr_nreporters++] = r;
    }
}

void
vr_report_status(json_t *doc)
{
    for (size_t i = 0; i < vr_nreporters; i++) {
        if (vr_reporters[i]->status != NULL) {
            vr_reporters[i]->status(doc);
        }
    }
}

void
vr_report_metrics(vr_buf_t *out)
{
    for (size_t i = 0; i < vr_nreporters; i++) {
        if (vr_reporters[i]->metrics != NULL) {
            vr_reporters[i]->metrics(out);
        }
    }
}

void
vr_report_label(vr_buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            vr_buf_addc(out, '\\');
            vr_buf_addc(out, *v);
        } else if (*v == '\n') {
            vr_buf_adds(out, "\\n");
        } else {
            vr_buf_addc(out, *v);
        }
    }
}
