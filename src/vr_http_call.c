/*
 * vr_http_call.c: an HTTP request read as a call of a method.
 */
#include "config.h"
#include <strings.h>

#include "vr_core.h"
#include "vr_conf.h"
#include "vr_http_call.h"
#include "vr_json.h"

bool
vr_http_call_name_ok(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && len <= 512 && strchr(name, '.') != NULL
           && strchr(name, '/') == NULL && vr_utf8_valid(name, len);
}

/*
 * JSON types and no type are JSON (malformed: 400);
 * application/vnd.voidrail.call+json is {args, kwargs}; any other type
 * (curl -d sends a form type, browsers avoid a CORS preflight with
 * text/plain) is accepted when the body is JSON all the same, and is
 * otherwise not something we understand (415).
 */
int
vr_http_call_body_kind(vr_http_req_t *hr, const char *body, size_t len,
                       bool *both)
{
    const char *type = vr_http_header(hr, "Content-Type");
    size_t      n = type ? strcspn(type, "; ") : 0;

    *both = false;
    if (type == NULL
        || (n == 16 && strncasecmp(type, "application/json", n) == 0))
    {
        return VR_OK;
    }
    if (n == 34 && strncasecmp(type, "application/vnd.voidrail.call+json",
                               n) == 0)
    {
        *both = true;
        return VR_OK;
    }
    if (n > 5 && strncasecmp(type + n - 5, "+json", 5) == 0) {
        return VR_OK;
    }
    if (strncasecmp(type, "multipart/", 10) != 0
        && vr_json_validate(body, len) == VR_OK)
    {
        return VR_OK;
    }
    vr_http_problem(hr, 415, "unsupported_media_type", 0,
                    "the body must be JSON, not %.*s", (int) n, type);
    return VR_ERROR;
}

vr_msec_t
vr_http_call_timeout(vr_http_req_t *hr)
{
    const char *t = vr_http_header(hr, "X-Request-Timeout");
    vr_msec_t   ms;

    if (t == NULL) {
        t = vr_http_query(hr, "timeout");
    }
    if (t == NULL) {
        return 0;
    }
    if (vr_parse_msec(t, &ms) != VR_OK || ms <= 0) {
        return -1;
    }
    return ms;
}

int
vr_http_call_read(vr_http_req_t *hr, const char *method, const char *text,
                  size_t len, bool typed, vr_call_args_t *args,
                  vr_msec_t *timeout_ms)
{
    const char *problem;
    bool        both = false;

    if (!vr_http_call_name_ok(method)) {
        vr_http_problem(hr, 400, "bad_request", 0,
                        "\"%s\" is not a method name (Service.method)",
                        method);
        return VR_ERROR;
    }
    *timeout_ms = vr_http_call_timeout(hr);
    if (*timeout_ms < 0) {
        vr_http_problem(hr, 400, "bad_request", 0, "the timeout must be a "
                        "duration such as 500ms or 5s");
        return VR_ERROR;
    }
    if (typed && vr_http_call_body_kind(hr, text, len, &both) != VR_OK) {
        return VR_ERROR;
    }
    problem = vr_call_args_parse(text, len, both, args);
    if (problem != NULL) {
        vr_http_problem(hr, 400, "bad_request", 0, "%s", problem);
        vr_call_args_free(args);
        return VR_ERROR;
    }
    return VR_OK;
}

int
vr_http_call_retry_after_s(vr_code_t code)
{
    switch (code) {
    case VR_CODE_QUEUE_FULL:
    case VR_CODE_RATE_LIMITED:
        return 1;
    case VR_CODE_NO_SERVICE:
    case VR_CODE_SHUTTING_DOWN:
        return 5;
    default:
        return 0;
    }
}

void
vr_http_call_problem(vr_http_req_t *hr, vr_code_t code, const char *text)
{
    vr_http_problem(hr, vr_code_http_status(code), vr_code_name(code),
                    vr_http_call_retry_after_s(code), "%s", text);
}
