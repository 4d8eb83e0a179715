/*
 * vr_http.h: the HTTP core.
 *
 * libmicrohttpd in external epoll mode, driven by the gateway's loop: one
 * MHD daemon per listen address, whose epoll fd is a watch of the loop
 * and whose timeout and MHD_run() are a loop hook.  Modules register
 * routes; the core reads bodies within limits, checks API keys, answers
 * RFC 9457 problems, adds CORS headers and writes the access log.
 *
 * A handler answers at once, or later: vr_http_wait() parks the request
 * (MHD suspend) until the handler's owner calls vr_http_respond(); a
 * stream (vr_http_stream_start) sends a body as it is produced, from a
 * bounded buffer, parking the connection while the buffer is empty.  While
 * a request is parked the core watches its socket itself (MHD does not):
 * a client that hangs up is reported through the on_gone callback at
 * once, so its broker request can be cancelled.
 */
#ifndef VR_HTTP_H
#define VR_HTTP_H

#include <jansson.h>
#include "vr_core.h"
#include "vr_buf.h"
#include "vr_conf.h"
#include "vr_crypto.h"

typedef struct vr_http_s      vr_http_t;
typedef struct vr_http_req_s  vr_http_req_t;

/* ---- configuration (the "http:" section) ------------------------------ */

/* http.tls: the HTTPS listeners and the certificate they serve. */
typedef struct {
    vr_strs_t    listen;
    char        *cert;          /* PEM certificate chain file ("": none) */
    char        *key;           /* PEM private key file ("": none) */
    /* Read from the files by init_conf when listen is not empty, in the
     * cycle's pool (never logged, never shown): */
    char        *cert_pem;
    char        *key_pem;
    vr_digest_t  pem_digest;    /* of both: a reload compares it */
} vr_http_tls_conf_t;

typedef struct {
    vr_strs_t   listen;
    vr_http_tls_conf_t tls;
    vr_strs_t   admin_listen;   /* not empty: the only listeners of admin
                                   routes (VR_ROUTE_ADMIN) */
    const char *where[3];       /* "FILE:LINE:COL: \"KEY\"" of listen,
                                   tls.listen, admin_listen (by role) */
    int64_t     max_body_bytes;
    int64_t     max_header_bytes;
    int64_t     connection_memory_bytes;
    int64_t     max_connections;
    vr_msec_t   idle_timeout_ms;
    int64_t     max_streams;
    int64_t     stream_buffer_bytes;
    vr_msec_t   keepalive_ms;
    vr_msec_t   retry_ms;
    vr_strs_t   cors_origins;
    char       *access_log;
    const char *access_log_where;   /* "FILE:LINE:COL: \"http.access_log\"" */
    vr_msec_t   drain_timeout_ms;
} vr_http_conf_t;

extern vr_module_t vr_http_module;

/* ---- routes ----------------------------------------------------------- */

/*
 * Handles a request whose body (if any) has been read.  `tail` is the
 * part of the path after a prefix route's prefix ("" for exact routes).
 * The handler must answer: now (vr_http_respond*), later (after
 * vr_http_wait), or with a stream.
 */
typedef void (*vr_route_pt)(vr_http_req_t *hr, const char *tail);

#define VR_ROUTE_PREFIX  0x01   /* path is a prefix ("/invoke/") */
#define VR_ROUTE_PUBLIC  0x02   /* no API key needed */
#define VR_ROUTE_BODY    0x04   /* the request may carry a body */
#define VR_ROUTE_QUERY_KEY 0x08 /* the key may come as ?api_key= (for
                                   EventSource, which sends no headers) */
#define VR_ROUTE_ADMIN   0x10   /* served only on http.admin_listen, when
                                   that is set (404 on the others) */
#define VR_ROUTE_CAPABILITY 0x20 /* a prefix route whose tail starts with a
                                   capability (a job id): the access log
                                   shows only its first characters */

typedef struct vr_route_s {
    const char   *method;       /* "GET", "POST", "DELETE" */
    const char   *path;
    unsigned      flags;
    vr_route_pt   handler;
    const char   *summary;      /* one line, for /openapi.json */
} vr_route_t;

/* ---- the request ------------------------------------------------------ */

/* The client's IP address as text ("-" when unknown). */
void vr_http_client_address(const vr_http_req_t *hr, char *out, size_t size);

/* The flags of the route the request took (0 before routing). */
unsigned vr_http_route_flags(const vr_http_req_t *hr);

/*
 * The API key check of a request on a route with flags: true when the
 * request may go on; else answers 401 (no or wrong key) or 429 (too many
 * failures from the address) and returns false.
 */
bool vr_http_auth_check(vr_http_req_t *hr, unsigned flags);

/*
 * Admission of a call of method under the request's key (its method
 * scope, rate and concurrency): true with *grant set, which the caller
 * stores in its request (whose end releases it); or answers 401, 403 or
 * 429 (with Retry-After) and returns false.
 */
bool vr_http_admit_call(vr_http_req_t *hr, const char *method,
                        vr_grant_t **grant);

const char *vr_http_method(const vr_http_req_t *hr);
const char *vr_http_path(const vr_http_req_t *hr);

/* A request header or query argument; NULL when absent. */
const char *vr_http_header(const vr_http_req_t *hr, const char *name);
const char *vr_http_query(const vr_http_req_t *hr, const char *name);

/* The body read so far (all of it, when a handler runs). */
const char *vr_http_body(const vr_http_req_t *hr, size_t *len);

/* The core's configuration in force. */
const vr_http_conf_t *vr_http_conf(const vr_http_req_t *hr);

/* The request id (X-Request-Id, or a new uuid4): for logs and bodies. */
const char *vr_http_request_id(const vr_http_req_t *hr);

/* Per-request data of the handler's module, freed with fn at the end. */
void vr_http_set_data(vr_http_req_t *hr, void *data, void (*fn)(void *));
void *vr_http_data(const vr_http_req_t *hr);

/* ---- answering -------------------------------------------------------- */

/* Adds a header to the response to come (copied). */
void vr_http_add_header(vr_http_req_t *hr, const char *name,
                        const char *value);

/* Answers with status and body (copied). */
void vr_http_respond(vr_http_req_t *hr, int status, const char *type,
                     const char *body, size_t len);

/* Answers with a JSON document; j is consumed. */
void vr_http_respond_json(vr_http_req_t *hr, int status, json_t *j);

/*
 * Answers an RFC 9457 problem (application/problem+json) with `code`
 * and the request id as extension members.  A 429 or 503 carries
 * Retry-After: retry_after_s (when > 0).
 */
void vr_http_problem(vr_http_req_t *hr, int status, const char *code,
                     int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Parks the request until vr_http_respond*() is called.  If the client
 * hangs up first, on_gone(hr, data) runs once; the owner must then stop
 * using hr (it is freed right after).
 */
void vr_http_wait(vr_http_req_t *hr,
                  void (*on_gone)(vr_http_req_t *hr, void *data), void *data);

/* ---- streaming -------------------------------------------------------- */

/*
 * Starts a streamed 200 response of the given content type (chunked);
 * headers added before are sent with it.  Counts against http.max_streams:
 * VR_ERROR (and a 503 problem already answered) when the limit is
 * reached.  on_gone as for vr_http_wait(): the client hung up, or was cut
 * off for not reading (its buffer went over http.stream_buffer).
 */
int vr_http_stream_start(vr_http_req_t *hr, const char *type,
                         void (*on_gone)(vr_http_req_t *hr, void *data),
                         void *data);

/* Is there room for one more stream (http.max_streams)? */
bool vr_http_stream_room(void);

/* Answers the 503 too_many_streams problem. */
void vr_http_stream_refuse(vr_http_req_t *hr);

/*
 * Appends bytes to the stream.  VR_ERROR when the stream is over (the
 * reader was cut off; on_gone has run or will run).
 */
int vr_http_stream_write(vr_http_req_t *hr, const void *p, size_t len);

/* Ends the stream once what is buffered has been sent. */
void vr_http_stream_end(vr_http_req_t *hr);

/* Bytes buffered and not yet sent. */
size_t vr_http_stream_pending(const vr_http_req_t *hr);

/* ---- the server ------------------------------------------------------- */

/* Streams open now, and other figures for /status and /metrics. */
typedef struct {
    uint64_t    requests;
    uint64_t    responses[6];   /* by class: 1xx..5xx, [0] other */
    size_t      connections;    /* requests in progress */
    size_t      streams;
    uint64_t    cut_streams;    /* readers cut off for not reading */
} vr_http_stats_t;

const vr_http_stats_t *vr_http_stats(void);

/* All routes of all modules, NULL-terminated (for /openapi.json). */
const vr_route_t *const *vr_http_routes(void);

/* Reopens the access log file (SIGUSR1, after rotation). */
void vr_http_reopen_logs(void);

/* The "http:" configuration in force, NULL when HTTP is not set up. */
const vr_http_conf_t *vr_http_current_conf(void);

/* True when the HTTP listeners are up (for /readyz). */
bool vr_http_ready(void);

#endif /* VR_HTTP_H */
