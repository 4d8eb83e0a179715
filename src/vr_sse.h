/*
 * vr_sse.h: writing Server-Sent Events (the WHATWG event stream format).
 *
 * Every line of an event's data gets its own "data: " prefix, so no byte
 * of a payload can ever start a field or an event of its own: a dealer
 * cannot forge an "id:" or an "event:" by putting newlines in its result.
 */
#ifndef VR_SSE_H
#define VR_SSE_H

#include "vr_core.h"
#include "vr_buf.h"

/*
 * Appends one event: "id: <id>\n" (when id > 0), "event: <name>\n", one
 * "data: <line>\n" per line of data (split at \n, \r\n and \r; after a
 * final line break the last line is the empty one), and the
 * blank line that ends the event.
 */
void vr_sse_event(vr_buf_t *out, const char *name, uint64_t id,
                  const char *data, size_t len);

/* Appends a comment line (": text\n\n"), used as a keep-alive. */
void vr_sse_comment(vr_buf_t *out, const char *text);

/* Appends the reconnection hint "retry: <ms>\n\n". */
void vr_sse_retry(vr_buf_t *out, vr_msec_t ms);

#endif /* VR_SSE_H */
