/*
 * test_sse.c: unit tests of src/vr_sse.h: events, comments and the retry
 * hint as written on an HTTP stream.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_sse.h"
#include "tap.h"

/* Does writing an event of data `data` (len bytes) give `want`? */
static void
is_event(const char *name, uint64_t id, const char *data, size_t len,
         const char *want, const char *what)
{
    vr_buf_t out = VR_BUF_INIT;
    char    *got;

    vr_sse_event(&out, name, id, data, len);
    got = vr_strndup(out.p != NULL ? out.p : "", out.len);
    is_str(got, want, "%s", what);
    free(got);
    vr_buf_free(&out);
}

int
main(void)
{
    vr_buf_t out = VR_BUF_INIT;

    is_event("result", 0, "{\"a\": 1}", 8,
             "event: result\ndata: {\"a\": 1}\n\n", "one line, no id");
    is_event("chunk", 7, "1", 1, "id: 7\nevent: chunk\ndata: 1\n\n",
             "with an id");
    is_event("end", 0, "", 0, "event: end\ndata: \n\n", "empty data");
    is_event("chunk", 0, "a\nb\r\nc\rd", 8,
             "event: chunk\ndata: a\ndata: b\ndata: c\ndata: d\n\n",
             "every kind of line break starts a data line");
    is_event("chunk", 0, "a\n", 2, "event: chunk\ndata: a\ndata: \n\n",
             "a final line break is kept (an empty last line)");
    is_event("chunk", 0, "\r\n\r\n\n\r", 6,
             "event: chunk\ndata: \ndata: \ndata: \ndata: \ndata: \n\n",
             "only line breaks: one empty line after each");
    is_event("chunk", 0, "x\n\nid: 9\nevent: forged\n", 23,
             "event: chunk\ndata: x\ndata: \ndata: id: 9\n"
             "data: event: forged\ndata: \n\n",
             "fields in the payload stay data");

    vr_sse_comment(&out, "keep\nalive\r");
    is_int(out.len, 15, "a comment is one line");
    ok(out.len == 15 && memcmp(out.p, ": keep alive \n\n", 15) == 0,
       "line breaks in a comment become spaces");
    vr_buf_reset(&out);
    vr_sse_retry(&out, 2500);
    ok(out.len == 13 && memcmp(out.p, "retry: 2500\n\n", 13) == 0,
       "the retry hint");
    vr_buf_free(&out);
    return done_testing();
}
