/*
 * vr_http_call.h: an HTTP request read as a call of a method.
 *
 * POST /invoke and POST /jobs take the same input: a method name in the
 * path, the arguments in the body (typed by Content-Type), an optional
 * deadline in X-Request-Timeout or ?timeout=, and answer a call the
 * broker refused with the same problem.
 */
#ifndef VR_HTTP_CALL_H
#define VR_HTTP_CALL_H

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_call.h"
#include "vr_http.h"

/* A method name the broker can route: "Service.name", UTF-8, bounded. */
bool vr_http_call_name_ok(const char *name);

/*
 * How to read the body by its Content-Type.  VR_OK with *both set when
 * the body is {"args": [...], "kwargs": {...}}
 * (application/vnd.voidrail.call+json); VR_ERROR when the body is not
 * JSON, after answering 415.
 */
int vr_http_call_body_kind(vr_http_req_t *hr, const char *body, size_t len,
                           bool *both);

/*
 * The deadline the caller asks for (X-Request-Timeout, else ?timeout=, a
 * duration such as 500ms or 5s): 0 when none, -1 when malformed.  The
 * broker never lets it run past the method's configured deadline.
 */
vr_msec_t vr_http_call_timeout(vr_http_req_t *hr);

/*
 * Reads the method name, the body and the deadline of a call, answering
 * 400 or 415 on the first that is wrong.  VR_OK with *args (to free with
 * vr_call_args_free) and *timeout_ms set, else VR_ERROR (answered).
 */
int vr_http_call_read(vr_http_req_t *hr, const char *method,
                      const char *text, size_t len, bool typed,
                      vr_call_args_t *args, vr_msec_t *timeout_ms);

/* Seconds a client should wait before it tries again after code (0: no
 * Retry-After). */
int vr_http_call_retry_after_s(vr_code_t code);

/* Answers the problem of a call that ended with code: its HTTP status,
 * its name as `code`, Retry-After where one helps. */
void vr_http_call_problem(vr_http_req_t *hr, vr_code_t code,
                          const char *text);

#endif /* VR_HTTP_CALL_H */
