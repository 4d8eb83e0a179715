/*
 * fuzz_sse.c: the Server-Sent Events writer (src/vr_sse.c), which puts
 * dealers' results and chunks on HTTP streams.
 *
 * The first two input bytes choose the event's id (0: none) and its name
 * (one of those the gateway uses); the rest is the data, arbitrary bytes.
 * The output is read back by a parser that follows the WHATWG "event
 * stream interpretation" to the letter; it must give exactly one event,
 * with the id and the name written, whose data is the input with its line
 * breaks (\r\n, \r, \n) turned into \n.  So no payload byte can start a
 * field (an "id:", an "event:", a "retry:") or an event of its own.
 * Comments and the retry hint are checked the same way.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_sse.h"
#include "fuzz.h"

typedef struct {
    vr_buf_t  data;
    vr_buf_t  event;
    vr_buf_t  id;
    bool      id_set;
    int       retries;          /* retry fields seen */
    int       comments;
} sse_event_t;

typedef struct {
    sse_event_t events[4];
    int         n;              /* dispatched */
    int         fields;         /* other fields (must be none) */
    vr_buf_t    data, event, id;
    bool        id_seen;
    int         retries, comments;
} sse_parser_t;

static void
sse_dispatch(sse_parser_t *ps)
{
    sse_event_t *e;

    /* "If the data buffer is an empty string, set the data buffer and the
     * event type buffer to the empty string and return." */
    if (ps->data.len == 0) {
        vr_buf_reset(&ps->event);
        return;
    }
    fuzz_assert(ps->n < 4, "more than four events");
    e = &ps->events[ps->n++];
    memset(e, 0, sizeof(*e));
    /* The last LF of the data buffer is removed. */
    vr_buf_add(&e->data, ps->data.p, ps->data.len - 1);
    vr_buf_add(&e->event, ps->event.p ? ps->event.p : "", ps->event.len);
    vr_buf_add(&e->id, ps->id.p ? ps->id.p : "", ps->id.len);
    e->id_set = ps->id_seen;
    vr_buf_reset(&ps->data);
    vr_buf_reset(&ps->event);
}

static void
sse_field(sse_parser_t *ps, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    const char *value = "";
    size_t      nlen = len, vlen = 0;

    if (len == 0) {
        sse_dispatch(ps);
        return;
    }
    if (colon == line) {
        ps->comments++;
        return;
    }
    if (colon != NULL) {
        nlen = (size_t) (colon - line);
        value = colon + 1;
        vlen = len - nlen - 1;
        if (vlen > 0 && value[0] == ' ') {
            value++;
            vlen--;
        }
    }
    if (nlen == 4 && memcmp(line, "data", 4) == 0) {
        vr_buf_add(&ps->data, value, vlen);
        vr_buf_addc(&ps->data, '\n');
    } else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
        vr_buf_reset(&ps->event);
        vr_buf_add(&ps->event, value, vlen);
    } else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
        if (memchr(value, '\0', vlen) == NULL) {
            vr_buf_reset(&ps->id);
            vr_buf_add(&ps->id, value, vlen);
            ps->id_seen = true;
        }
    } else if (nlen == 5 && memcmp(line, "retry", 5) == 0) {
        ps->retries++;
    } else {
        ps->fields++;
    }
}

/* Splits the stream into lines at CRLF, LF or CR, as the spec does. */
static void
sse_parse(sse_parser_t *ps, const char *p, size_t n)
{
    const char *end = p + n;

    memset(ps, 0, sizeof(*ps));
    while (p < end) {
        const char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r') {
            eol++;
        }
        /* A line without its end is not a line yet (the stream is not
         * over): the writer must never leave one. */
        fuzz_assert(eol < end, "the output ends in the middle of a line");
        sse_field(ps, p, (size_t) (eol - p));
        p = eol + (eol[0] == '\r' && eol + 1 < end && eol[1] == '\n' ? 2 : 1);
    }
}

static void
sse_free(sse_parser_t *ps)
{
    for (int i = 0; i < ps->n; i++) {
        vr_buf_free(&ps->events[i].data);
        vr_buf_free(&ps->events[i].event);
        vr_buf_free(&ps->events[i].id);
    }
    vr_buf_free(&ps->data);
    vr_buf_free(&ps->event);
    vr_buf_free(&ps->id);
}

static bool
buf_is(const vr_buf_t *b, const char *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->p, p, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[] = { "chunk", "result", "end", "error",
                                   "snapshot", "state" };
    static const uint64_t ids[] = { 0, 1, 7, 10, 4294967296ULL,
                                    18446744073709551615ULL };
    fuzz_in_t     in = { data, size };
    uint64_t      id = ids[fuzz_byte(&in) % vr_nelems(ids)];
    const char   *name = names[fuzz_byte(&in) % vr_nelems(names)];
    const char   *payload = (const char *) in.p;
    size_t        len = in.left;
    vr_buf_t      out = VR_BUF_INIT, want = VR_BUF_INIT;
    sse_parser_t  ps;
    char          idtext[32];

    vr_sse_event(&out, name, id, payload, len);
    sse_parse(&ps, out.p, out.len);

    /* The data as the reader must see it: line breaks are \n. */
    for (size_t i = 0; i < len; i++) {
        if (payload[i] == '\r') {
            vr_buf_addc(&want, '\n');
            if (i + 1 < len && payload[i + 1] == '\n') {
                i++;
            }
        } else {
            vr_buf_addc(&want, payload[i]);
        }
    }
    fuzz_assert(ps.n == 1, "%d events for one written", ps.n);
    fuzz_assert(ps.fields == 0 && ps.retries == 0 && ps.comments == 0,
                "the payload made fields of its own (%d other, %d retry, "
                "%d comments)", ps.fields, ps.retries, ps.comments);
    fuzz_assert(ps.data.len == 0, "data left after the event");
    fuzz_assert(buf_is(&ps.events[0].event, name, strlen(name)),
                "the event name changed");
    if (id > 0) {
        snprintf(idtext, sizeof(idtext), "%llu", (unsigned long long) id);
        fuzz_assert(ps.events[0].id_set
                    && buf_is(&ps.events[0].id, idtext, strlen(idtext)),
                    "the event id changed");
    } else {
        fuzz_assert(!ps.events[0].id_set, "an id appeared");
    }
    fuzz_assert(buf_is(&ps.events[0].data, want.p, want.len),
                "the data read back (%zu bytes) is not the data written "
                "(%zu bytes)", ps.events[0].data.len, want.len);
    sse_free(&ps);

    /* A comment is one line, whatever its text; the retry hint is one
     * field and nothing else. */
    {
        char *text = vr_strndup(payload, len);   /* up to a NUL */

        vr_buf_reset(&out);
        vr_sse_comment(&out, text);
        vr_sse_retry(&out, (vr_msec_t) len * 1000);
        sse_parse(&ps, out.p, out.len);
        fuzz_assert(ps.n == 0 && ps.comments == 1 && ps.retries == 1
                    && ps.fields == 0 && !ps.id_seen,
                    "a comment made %d events, %d comments, %d fields",
                    ps.n, ps.comments, ps.fields);
        sse_free(&ps);
        free(text);
    }
    vr_buf_free(&out);
    vr_buf_free(&want);
    return 0;
}
