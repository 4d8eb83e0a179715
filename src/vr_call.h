/*
 * vr_call.h: calls made by the gateway itself, on behalf of HTTP clients.
 *
 * The HTTP side is just another client of the broker (PROTOCOL.md B.6):
 * it builds the RequestJSON exactly as the Python client does, under a
 * client identity of its own per call, and reads the dealers' answers out
 * of their ResponseJSON.
 */
#ifndef VR_CALL_H
#define VR_CALL_H

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_request.h"

/* Arguments of a call as JSON texts: an array and an object. */
typedef struct {
    vr_buf_t  args;
    vr_buf_t  kwargs;
} vr_call_args_t;

void vr_call_args_free(vr_call_args_t *a);

/*
 * Reads a call's arguments from a JSON text (an HTTP body or the `args`
 * query parameter): an array is the positional args, an object the
 * kwargs, any other value one positional argument, nothing no arguments.
 * With `both` the text must be {"args": [...], "kwargs": {...}} (either
 * key optional).  Returns NULL, or what is wrong (static text).
 */
const char *vr_call_args_parse(const char *text, size_t len, bool both,
                               vr_call_args_t *out);

/*
 * Creates a request for method with the given arguments, request_id rid
 * and a fresh client identity, for origin/data.  timeout_ms may shorten
 * the method's deadline (0: as configured).  The caller keeps the pointer
 * (until the origin's release runs) and hands it to vr_request_submit().
 */
vr_request_t *vr_call_new(vr_broker_t *b, const char *method,
                          const vr_call_args_t *a, const char *rid,
                          const vr_origin_t *origin, void *data,
                          vr_msec_t timeout_ms);

/*
 * A value out of a dealer's ResponseJSON ("result", "data", "error"), as
 * raw JSON text.  Returns VR_OK and the span; VR_ERROR when the payload is
 * malformed or lacks the key.
 */
int vr_call_field(const char *payload, size_t len, const char *key,
                  const char **value, size_t *value_len);

/* The data of a stream chunk ("null" when the chunk has none). */
void vr_call_chunk(const char *payload, size_t len, const char **value,
                   size_t *value_len);

/*
 * The error the HTTP side reports in a stream, an NDJSON line or a job:
 * {"code": CODE, "error": TEXT[, "request_id": RID]} (rid may be NULL).
 */
void vr_call_error_body(vr_buf_t *out, const char *code, const char *text,
                        const char *rid);

/*
 * The dealer's error text out of an error ResponseJSON (decoded), appended
 * to out; bytes of the payload that are not UTF-8 come as U+FFFD.  A
 * payload without a readable "error" gives a text that says so.
 */
void vr_call_error_text(const char *payload, size_t len, vr_buf_t *out);

#endif /* VR_CALL_H */
