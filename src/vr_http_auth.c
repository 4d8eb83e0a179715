/*
 * vr_http_auth.c: who calls over HTTP, and whether they may.
 *
 * A request names its API key with "Authorization: Bearer KEY" or
 * "X-API-Key: KEY" (and, on routes for EventSource, "?api_key=KEY").  The
 * auth module checks it, counts failures per client address, and admits
 * each call against the key's method scope, rate and concurrency; this
 * file turns its verdicts into 401, 403 and 429 problems.
 */
#include "config.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <strings.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_http.h"
#include "vr_http_server.h"

/* The API key of a request, or NULL. */
static const char *
vr_http_api_key(vr_http_req_t *hr, unsigned flags)
{
    const char *a = vr_http_header(hr, "Authorization");

    if (a != NULL && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ') {
            a++;
        }
        return a;
    }
    a = vr_http_header(hr, "X-API-Key");
    if (a == NULL && (flags & VR_ROUTE_QUERY_KEY)) {
        a = vr_http_query(hr, "api_key");
    }
    return a;
}

/* Whole seconds to wait, at least 1, for Retry-After. */
static int
vr_http_retry_after_s(vr_msec_t ms)
{
    return (int) vr_max((ms + 999) / 1000, 1);
}

/*
 * The key check; *grant is the key's (NULL when no key is needed).  Answers
 * and returns false when the request may not go on.
 */
static bool
vr_http_key_check(vr_http_req_t *hr, unsigned flags, vr_grant_t **grant)
{
    const vr_auth_ops_t *auth = &vr_http_srv.broker->auth;
    const char          *key;
    char                 addr[INET6_ADDRSTRLEN + 8];
    vr_refusal_t         why;

    *grant = NULL;
    if ((flags & VR_ROUTE_PUBLIC) || auth->client_check == NULL) {
        return true;
    }
    key = vr_http_api_key(hr, flags);
    vr_http_client_address(hr, addr, sizeof(addr));
    switch (auth->client_check(auth->data, addr, key,
                               key != NULL ? strlen(key) : 0, grant, &why))
    {
    case VR_AUTH_FAILED:
        vr_http_problem(hr, 401, "unauthorized", 0, "%s",
                        key == NULL
                        ? "an API key is required (Authorization: Bearer "
                          "KEY or X-API-Key: KEY)"
                        : "the API key is not valid");
        return false;
    case VR_AUTH_THROTTLED:
        vr_http_problem(hr, 429, vr_code_name(why.code),
                        vr_http_retry_after_s(why.retry_after_ms), "%s",
                        why.text);
        return false;
    default:
        return true;
    }
}

bool
vr_http_auth_check(vr_http_req_t *hr, unsigned flags)
{
    vr_grant_t *grant;

    return vr_http_key_check(hr, flags, &grant);
}

/*
 * The key is checked again (a reload may have removed it while the body
 * came in): the grant is only ever held by requests.
 */
bool
vr_http_admit_call(vr_http_req_t *hr, const char *method, vr_grant_t **grant)
{
    vr_refusal_t why;

    if (!vr_http_key_check(hr, vr_http_route_flags(hr), grant)) {
        return false;
    }
    if (vr_broker_admit(vr_http_srv.broker, *grant, method, strlen(method),
                        &why) == VR_OK)
    {
        return true;
    }
    vr_http_problem(hr, vr_code_http_status(why.code), vr_code_name(why.code),
                    why.code == VR_CODE_RATE_LIMITED
                    ? vr_http_retry_after_s(why.retry_after_ms) : 0,
                    "%s", why.text);
    return false;
}
