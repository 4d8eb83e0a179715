/*
 * vr_sse.c: writing Server-Sent Events (see vr_sse.h).
 */
#include "config.h"
#include "vr_core.h"
#include "vr_sse.h"

void
vr_sse_event(vr_buf_t *out, const char *name, uint64_t id, const char *data,
             size_t len)
{
    const char *p = data, *end = data + len;

    if (id > 0) {
        vr_buf_printf_b(out, "id: %llu\n", (unsigned long long) id);
    }
    vr_buf_adds(out, "event: ");
    vr_buf_adds(out, name);
    vr_buf_addc(out, '\n');
    /* One data line per line of the payload, the last one too when it is
     * empty (after a final line break, which the reader would lose). */
    for ( ;; ) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') {
            eol++;
        }
        vr_buf_add(out, "data: ", 6);
        vr_buf_add(out, p, (size_t) (eol - p));
        vr_buf_addc(out, '\n');
        if (eol == end) {
            break;
        }
        if (*eol == '\r' && eol + 1 < end && eol[1] == '\n') {
            eol++;
        }
        p = eol + 1;
    }
    vr_buf_addc(out, '\n');
}

void
vr_sse_comment(vr_buf_t *out, const char *text)
{
    vr_buf_add(out, ": ", 2);
    /* A comment is one line: newlines in it would start fields. */
    for (const char *p = text; *p; p++) {
        vr_buf_addc(out, *p == '\n' || *p == '\r' ? ' ' : *p);
    }
    vr_buf_add(out, "\n\n", 2);
}

void
vr_sse_retry(vr_buf_t *out, vr_msec_t ms)
{
    vr_buf_printf_b(out, "retry: %lld\n\n", (long long) ms);
}
