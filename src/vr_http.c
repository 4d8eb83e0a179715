/*
 * vr_http.c: the HTTP core (see vr_http.h): requests, answers, waiting,
 * streaming and the access log.  Listeners and the "http:" section are in
 * vr_http_module.c.
 *
 * A request moves through these states:
 *   READING   headers checked, body arriving
 *   HANDLING  the route's handler runs
 *   WAITING   parked (suspended) until the owner answers
 *   ANSWERED  a response is queued
 *   STREAMING a streamed response is queued; its reader parks the
 *             connection whenever the buffer is empty
 * Responses are only ever queued from inside MHD's access handler: an
 * answer given while parked is kept and the connection resumed, and MHD
 * then calls the handler again to queue it.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_http.h"
#include "vr_http_server.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_rand.h"

/* A body over http.max_body is read and thrown away up to at least this
 * (or 4 x max_body), to answer 413; past it the connection is closed. */
#define VR_HTTP_DISCARD_MIN  (1 << 20)

/* A parked request's socket is watched (for a hang-up) once it has waited
 * this long: most answers come sooner, and then parking costs no system
 * call of ours (an epoll add and delete each, otherwise). */
#define VR_HTTP_WATCH_DELAY_MS  20

/* Access log lines gathered past this are written at once. */
#define VR_HTTP_ACCESS_BUFFER  (64 * 1024)

/* Characters of a capability (a job id) the access log shows. */
#define VR_HTTP_LOG_CAPABILITY_CHARS  8

typedef enum {
    VR_HR_READING = 0,
    VR_HR_HANDLING,
    VR_HR_WAITING,
    VR_HR_ANSWERED,
    VR_HR_STREAMING
} vr_hr_state_t;

typedef struct {
    char  *name;
    char  *value;
} vr_http_header_t;

struct vr_http_req_s {
    struct MHD_Connection   *c;
    vr_http_role_t           role;          /* of the listener it came to */
    const vr_route_t        *route;
    char                    *path;
    const char              *tail;
    char                     method[16];
    char                     request_id[64];
    vr_hr_state_t            state;
    vr_msec_t                started_ms;

    vr_buf_t                 body;
    bool                     body_too_large;
    size_t                   discarded;

    struct MHD_Response     *response;      /* to queue at the next chance */
    int                      status;
    vr_http_header_t        *headers;
    size_t                   nheaders;
    uint64_t                 bytes_out;

    bool                     suspended;
    int                      fd;            /* watched while parked */
    bool                     fd_watched;
    vr_timer_t               watch_timer;   /* starts the watch */
    bool                     gone;          /* the client hung up */
    void                   (*on_gone)(vr_http_req_t *, void *);
    void                    *on_gone_data;

    vr_buf_t                 out;           /* stream buffer */
    size_t                   out_off;
    bool                     stream_ended;
    bool                     cut;
    bool                     counted_stream;

    void                    *data;
    void                   (*data_free)(void *);

    vr_http_req_t           *next, *prev;   /* all live requests */
};

vr_http_server_t vr_http_srv;

/* ---- small accessors -------------------------------------------------- */

void
vr_http_client_address(const vr_http_req_t *hr, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci;
    const struct sockaddr          *sa = NULL;

    ci = MHD_get_connection_info(hr->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL) {
        sa = ci->client_addr;
    }
    snprintf(out, size, "-");
    if (sa != NULL && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr,
                  out, (socklen_t) size);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr,
                  out, (socklen_t) size);
    }
}

unsigned
vr_http_route_flags(const vr_http_req_t *hr)
{
    return hr->route != NULL ? hr->route->flags : 0;
}

const char *
vr_http_method(const vr_http_req_t *hr)
{
    return hr->method;
}

const char *
vr_http_path(const vr_http_req_t *hr)
{
    return hr->path;
}

const char *
vr_http_header(const vr_http_req_t *hr, const char *name)
{
    return MHD_lookup_connection_value(hr->c, MHD_HEADER_KIND, name);
}

const char *
vr_http_query(const vr_http_req_t *hr, const char *name)
{
    return MHD_lookup_connection_value(hr->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *
vr_http_body(const vr_http_req_t *hr, size_t *len)
{
    *len = hr->body.len;
    return hr->body.p != NULL ? hr->body.p : "";
}

const vr_http_conf_t *
vr_http_conf(const vr_http_req_t *hr)
{
    return vr_http_srv.conf;
}

const char *
vr_http_request_id(const vr_http_req_t *hr)
{
    return hr->request_id;
}

void
vr_http_set_data(vr_http_req_t *hr, void *data, void (*fn)(void *))
{
    hr->data = data;
    hr->data_free = fn;
}

void *
vr_http_data(const vr_http_req_t *hr)
{
    return hr->data;
}

const vr_http_stats_t *
vr_http_stats(void)
{
    return &vr_http_srv.stats;
}

/* ---- answers ---------------------------------------------------------- */

void
vr_http_add_header(vr_http_req_t *hr, const char *name, const char *value)
{
    hr->headers = vr_realloc(hr->headers,
                             (hr->nheaders + 1) * sizeof(vr_http_header_t));
    hr->headers[hr->nheaders].name = vr_strdup(name);
    hr->headers[hr->nheaders].value = vr_strdup(value);
    hr->nheaders++;
}

static bool
vr_http_origin_allowed(const char *origin)
{
    const vr_strs_t *o = &vr_http_srv.conf->cors_origins;

    for (size_t i = 0; origin != NULL && i < o->n; i++) {
        if (strcmp(o->v[i], "*") == 0 || strcmp(o->v[i], origin) == 0) {
            return true;
        }
    }
    return false;
}

static void
vr_http_cors_headers(vr_http_req_t *hr, struct MHD_Response *resp)
{
    const char *origin = vr_http_header(hr, "Origin");

    if (!vr_http_origin_allowed(origin)) {
        return;
    }
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(resp, "Vary", "Origin");
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "X-Request-Id, Server-Timing, Retry-After, "
                            "Location");
}

/* Makes resp the response to queue, with the headers gathered so far. */
static void
vr_http_set_response(vr_http_req_t *hr, int status, struct MHD_Response *resp)
{
    for (size_t i = 0; i < hr->nheaders; i++) {
        MHD_add_response_header(resp, hr->headers[i].name,
                                hr->headers[i].value);
    }
    MHD_add_response_header(resp, "X-Request-Id", hr->request_id);
    vr_http_cors_headers(hr, resp);
    if (hr->response != NULL) {
        MHD_destroy_response(hr->response);     /* the later answer wins */
    }
    hr->response = resp;
    hr->status = status;
}

static void vr_http_unpark(vr_http_req_t *hr);

void
vr_http_respond(vr_http_req_t *hr, int status, const char *type,
                const char *body, size_t len)
{
    struct MHD_Response *resp;

    if (hr->state == VR_HR_ANSWERED || hr->state == VR_HR_STREAMING) {
        return;
    }
    resp = MHD_create_response_from_buffer(len, (void *) body,
                                           MHD_RESPMEM_MUST_COPY);
    if (type != NULL) {
        MHD_add_response_header(resp, "Content-Type", type);
    }
    hr->bytes_out = len;
    vr_http_set_response(hr, status, resp);
    if (hr->state == VR_HR_WAITING) {
        hr->state = VR_HR_ANSWERED;
        vr_http_unpark(hr);
    } else {
        hr->state = VR_HR_ANSWERED;
    }
}

void
vr_http_respond_json(vr_http_req_t *hr, int status, json_t *j)
{
    char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);

    json_decref(j);
    if (text == NULL) {
        vr_http_problem(hr, 500, "internal", 0, "cannot encode the answer");
        return;
    }
    vr_http_respond(hr, status, "application/json", text, strlen(text));
    free(text);
}

void
vr_http_problem(vr_http_req_t *hr, int status, const char *code,
                int retry_after_s, const char *fmt, ...)
{
    vr_buf_t    b = VR_BUF_INIT;
    char        detail[1024];
    const char *title = MHD_get_reason_phrase_for((unsigned) status);
    va_list     ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    vr_buf_printf_b(&b, "{\"type\":\"about:blank\",\"title\":");
    vr_json_escape(&b, title, strlen(title));
    vr_buf_printf_b(&b, ",\"status\":%d,\"detail\":", status);
    vr_json_escape(&b, detail, strlen(detail));
    vr_buf_adds(&b, ",\"code\":");
    vr_json_escape(&b, code, strlen(code));
    vr_buf_adds(&b, ",\"request_id\":");
    vr_json_escape(&b, hr->request_id, strlen(hr->request_id));
    vr_buf_addc(&b, '}');
    if (retry_after_s > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", retry_after_s);
        vr_http_add_header(hr, "Retry-After", v);
    }
    if (status == 401) {
        vr_http_add_header(hr, "WWW-Authenticate", "Bearer");
    }
    vr_http_respond(hr, status, "application/problem+json", b.p, b.len);
    vr_buf_free(&b);
}

/* ---- parking: suspend, and watch the socket ourselves ----------------- */

static void
vr_http_unwatch(vr_http_req_t *hr)
{
    vr_timer_del(vr_http_srv.loop, &hr->watch_timer);
    if (hr->fd_watched) {
        vr_loop_del_fd(vr_http_srv.loop, hr->fd);
        hr->fd_watched = false;
    }
}

static void
vr_http_notify_gone(vr_http_req_t *hr)
{
    void (*fn)(vr_http_req_t *, void *) = hr->on_gone;

    hr->on_gone = NULL;
    if (fn != NULL) {
        fn(hr, hr->on_gone_data);
    }
}

/*
 * The client of a parked request hung up: it closed (FIN, after a TLS
 * close_notify or not) or reset the connection.  Only hang-ups are
 * watched: bytes it sent on (a pipelined request, a TLS record) wait
 * unread for MHD, and neither wake the loop nor hide a close after them.
 */
static void
vr_http_on_parked_fd(void *data, short revents)
{
    vr_http_req_t *hr = data;

    if (!(revents & (VR_POLLHUP | ZMQ_POLLERR))) {
        return;
    }
    hr->gone = true;
    vr_http_unwatch(hr);
    vr_http_notify_gone(hr);
    vr_http_unpark(hr);     /* so that MHD sees the close and cleans up */
}

/* A request still parked after VR_HTTP_WATCH_DELAY_MS: watch its socket. */
static void
vr_http_on_watch_timer(vr_timer_t *t)
{
    vr_http_req_t                  *hr = t->data;
    const union MHD_ConnectionInfo *ci;

    if (!hr->suspended || hr->fd_watched) {
        return;
    }
    ci = MHD_get_connection_info(hr->c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL) {
        hr->fd = ci->connect_fd;
        vr_loop_add_fd(vr_http_srv.loop, hr->fd, VR_POLLHUP,
                       vr_http_on_parked_fd, hr);
        hr->fd_watched = true;
    }
}

static void
vr_http_park(vr_http_req_t *hr)
{
    MHD_suspend_connection(hr->c);
    hr->suspended = true;
    if (!hr->fd_watched && !vr_timer_armed(&hr->watch_timer)) {
        vr_timer_add(vr_http_srv.loop, &hr->watch_timer,
                     VR_HTTP_WATCH_DELAY_MS);
    }
}

static void
vr_http_unpark(vr_http_req_t *hr)
{
    vr_http_unwatch(hr);
    if (hr->suspended) {
        hr->suspended = false;
        MHD_resume_connection(hr->c);
        vr_http_srv.need_run = true;
    }
}

void
vr_http_wait(vr_http_req_t *hr, void (*on_gone)(vr_http_req_t *, void *),
             void *data)
{
    hr->on_gone = on_gone;
    hr->on_gone_data = data;
    if (hr->state == VR_HR_HANDLING) {
        hr->state = VR_HR_WAITING;  /* parked when the handler returns */
    }
}

/* ---- streams ---------------------------------------------------------- */

static ssize_t
vr_http_stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    vr_http_req_t *hr = cls;
    size_t         avail = hr->out.len - hr->out_off;

    if (hr->cut || hr->gone) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (avail > 0) {
        size_t n = vr_min(avail, max);
        memcpy(buf, hr->out.p + hr->out_off, n);
        hr->out_off += n;
        hr->bytes_out += n;
        vr_http_srv.stream_bytes += n;
        if (hr->out_off == hr->out.len) {
            /* Drained: an idle stream keeps no buffer. */
            if (hr->out.cap > 4096) {
                vr_buf_free(&hr->out);
            } else {
                vr_buf_reset(&hr->out);
            }
            hr->out_off = 0;
        }
        return (ssize_t) n;
    }
    if (hr->stream_ended) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    vr_http_park(hr);
    return 0;
}

bool
vr_http_stream_room(void)
{
    return vr_http_srv.stats.streams < (size_t) vr_http_srv.conf->max_streams;
}

void
vr_http_stream_refuse(vr_http_req_t *hr)
{
    vr_http_problem(hr, 503, "too_many_streams", 5,
                    "%zu streams are open (http.max_streams)",
                    vr_http_srv.stats.streams);
}

int
vr_http_stream_start(vr_http_req_t *hr, const char *type,
                     void (*on_gone)(vr_http_req_t *, void *), void *data)
{
    struct MHD_Response *resp;

    if (!vr_http_stream_room()) {
        vr_http_stream_refuse(hr);
        return VR_ERROR;
    }
    /* A small block: every open stream holds one, idle or not; the loop
     * gives a busy stream several MHD turns instead (vr_http_run). */
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024,
                                             vr_http_stream_reader, hr, NULL);
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    vr_http_set_response(hr, 200, resp);
    hr->state = VR_HR_STREAMING;
    hr->on_gone = on_gone;
    hr->on_gone_data = data;
    hr->counted_stream = true;
    vr_http_srv.stats.streams++;
    return VR_OK;
}

int
vr_http_stream_write(vr_http_req_t *hr, const void *p, size_t len)
{
    if (hr->cut || hr->gone || hr->stream_ended) {
        return VR_ERROR;
    }
    if (hr->out.len - hr->out_off + len
        > (size_t) vr_http_srv.conf->stream_buffer_bytes)
    {
        /* A reader that does not read is cut off, not buffered for. */
        hr->cut = true;
        vr_http_srv.stats.cut_streams++;
        vr_log_limited(VR_LOG_WARN, "request %s: http stream cut off, "
                       "over http.stream_buffer unread", hr->request_id);
        vr_http_unpark(hr);
        return VR_ERROR;
    }
    if (hr->out_off > 0 && hr->out_off == hr->out.len) {
        vr_buf_reset(&hr->out);
        hr->out_off = 0;
    }
    vr_buf_add(&hr->out, p, len);
    vr_http_unpark(hr);
    return VR_OK;
}

void
vr_http_stream_end(vr_http_req_t *hr)
{
    hr->stream_ended = true;
    vr_http_unpark(hr);
}

size_t
vr_http_stream_pending(const vr_http_req_t *hr)
{
    return hr->out.len - hr->out_off;
}

/* ---- MHD callbacks ---------------------------------------------------- */

static const vr_route_t *
vr_http_route(const char *method, const char *path, const char **tail,
              bool *other_method, vr_buf_t *allow)
{
    const vr_route_t *const *routes = vr_http_routes();
    const vr_route_t        *found = NULL;

    *other_method = false;
    for (size_t i = 0; routes[i] != NULL; i++) {
        const vr_route_t *r = routes[i];
        size_t            plen = strlen(r->path);
        bool              match = (r->flags & VR_ROUTE_PREFIX)
                                  ? strncmp(path, r->path, plen) == 0
                                    && path[plen] != '\0'
                                  : strcmp(path, r->path) == 0;
        if (!match) {
            continue;
        }
        if (strcmp(r->method, method) == 0
            || (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0))
        {
            if (found == NULL) {
                found = r;
                *tail = (r->flags & VR_ROUTE_PREFIX) ? path + plen : "";
            }
        } else {
            *other_method = true;
            if (strstr(allow->p ? allow->p : "", r->method) == NULL) {
                vr_buf_printf_b(allow, "%s%s", allow->len ? ", " : "",
                                r->method);
            }
        }
    }
    return found;
}

static enum MHD_Result
vr_http_sum_headers(void *cls, enum MHD_ValueKind kind, const char *key,
                    const char *value)
{
    size_t *total = cls;

    *total += strlen(key) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

static void
vr_http_request_id_init(vr_http_req_t *hr)
{
    const char *given = vr_http_header(hr, "X-Request-Id");
    size_t      len = given ? strlen(given) : 0;
    bool        sane = len > 0 && len < sizeof(hr->request_id);

    for (size_t i = 0; sane && i < len; i++) {
        char ch = given[i];
        sane = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z')
               || (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'
               || ch == '.';
    }
    if (sane) {
        memcpy(hr->request_id, given, len + 1);
    } else {
        vr_uuid4(hr->request_id);
    }
}

/* Checks made when the headers are in; answers and returns false if bad. */
static bool
vr_http_admit(vr_http_req_t *hr, const char *url)
{
    const vr_http_conf_t *conf = vr_http_srv.conf;
    vr_buf_t              allow = VR_BUF_INIT;
    bool                  other;
    size_t                header_bytes = 0;
    const char           *cl;

    MHD_get_connection_values(hr->c, MHD_HEADER_KIND, vr_http_sum_headers,
                              &header_bytes);
    if (header_bytes > (size_t) conf->max_header_bytes) {
        vr_http_problem(hr, 431, "headers_too_large", 0,
                        "request headers are %zu bytes, over "
                        "http.max_header (%lld)", header_bytes,
                        (long long) conf->max_header_bytes);
        return false;
    }
    if (strcmp(hr->method, "OPTIONS") == 0) {
        const char *origin = vr_http_header(hr, "Origin");
        if (vr_http_origin_allowed(origin)) {
            vr_http_add_header(hr, "Access-Control-Allow-Methods",
                               "GET, POST, DELETE");
            vr_http_add_header(hr, "Access-Control-Allow-Headers",
                               "Authorization, X-API-Key, Content-Type, "
                               "Last-Event-ID, X-Request-Timeout, "
                               "X-Request-Id");
            vr_http_add_header(hr, "Access-Control-Max-Age", "600");
        }
        vr_http_add_header(hr, "Allow", "GET, POST, DELETE, OPTIONS");
        vr_http_respond(hr, 204, NULL, "", 0);
        return false;
    }
    hr->route = vr_http_route(hr->method, url, &hr->tail, &other, &allow);
    if (hr->route == NULL) {
        if (other) {
            vr_http_add_header(hr, "Allow", allow.p);
            vr_http_problem(hr, 405, "method_not_allowed", 0,
                            "%s is not allowed on %s (allowed: %s)",
                            hr->method, url, allow.p);
        } else {
            vr_http_problem(hr, 404, "not_found", 0, "no route for %s", url);
        }
        vr_buf_free(&allow);
        return false;
    }
    vr_buf_free(&allow);
    if ((hr->route->flags & VR_ROUTE_ADMIN) && conf->admin_listen.n > 0
        && hr->role != VR_HTTP_ADMIN)
    {
        /* Served on http.admin_listen alone: not even its name here. */
        vr_http_problem(hr, 404, "not_found", 0, "no route for %s", url);
        return false;
    }
    if (!vr_http_auth_check(hr, hr->route->flags)) {
        return false;
    }
    cl = vr_http_header(hr, "Content-Length");
    if (cl != NULL && strtoull(cl, NULL, 10) > (uint64_t) conf->max_body_bytes) {
        vr_http_problem(hr, 413, "payload_too_large", 0,
                        "the body is %s bytes, over http.max_body (%lld)", cl,
                        (long long) conf->max_body_bytes);
        return false;
    }
    return true;
}

/* Queues the answer, or parks the request while it waits for one. */
static enum MHD_Result
vr_http_flush(vr_http_req_t *hr)
{
    if (hr->gone) {
        return MHD_NO;              /* close: nobody is listening */
    }
    if (hr->response != NULL) {
        enum MHD_Result rc = MHD_queue_response(hr->c, (unsigned) hr->status,
                                                hr->response);
        MHD_destroy_response(hr->response);
        hr->response = NULL;
        return rc;
    }
    if (hr->state == VR_HR_WAITING && !hr->suspended) {
        vr_http_park(hr);
    }
    return MHD_YES;
}

static enum MHD_Result
vr_http_access(void *cls, struct MHD_Connection *c, const char *url,
               const char *method, const char *version,
               const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    vr_http_req_t *hr = *con_cls;

    if (hr == NULL) {
        hr = vr_calloc(1, sizeof(*hr));
        hr->c = c;
        hr->role = (vr_http_role_t) (uintptr_t) cls;
        hr->fd = -1;
        vr_timer_init(&hr->watch_timer, vr_http_on_watch_timer, hr);
        hr->path = vr_strdup(url);
        snprintf(hr->method, sizeof(hr->method), "%s", method);
        hr->started_ms = vr_now_ms;
        vr_http_request_id_init(hr);
        hr->next = vr_http_srv.live;
        if (hr->next != NULL) {
            hr->next->prev = hr;
        }
        vr_http_srv.live = hr;
        vr_http_srv.stats.requests++;
        vr_http_srv.stats.connections++;
        *con_cls = hr;
        if (!vr_http_admit(hr, hr->path)) {
            return vr_http_flush(hr);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (hr->state != VR_HR_READING) {
            return MHD_YES;
        }
        if (!(hr->route->flags & VR_ROUTE_BODY) || hr->body_too_large
            || hr->body.len + n > (size_t) vr_http_srv.conf->max_body_bytes)
        {
            /* Chunked and too large (or a body where none belongs): read
             * on and answer at the end, but refuse to read forever. */
            hr->body_too_large = true;
            hr->discarded += n;
            return hr->discarded > vr_max((size_t) vr_http_srv.conf
                                              ->max_body_bytes * 4,
                                          (size_t) VR_HTTP_DISCARD_MIN)
                   ? MHD_NO : MHD_YES;
        }
        vr_buf_add(&hr->body, upload_data, n);
        return MHD_YES;
    }
    if (hr->state == VR_HR_READING) {
        if (hr->body_too_large) {
            if (hr->route->flags & VR_ROUTE_BODY) {
                vr_http_problem(hr, 413, "payload_too_large", 0,
                                "the body is over http.max_body (%lld bytes)",
                                (long long) vr_http_srv.conf->max_body_bytes);
            } else {
                vr_http_problem(hr, 400, "bad_request", 0,
                                "%s %s takes no body", hr->method, hr->path);
            }
        } else {
            hr->state = VR_HR_HANDLING;
            hr->route->handler(hr, hr->tail);
            if (hr->state == VR_HR_HANDLING) {
                vr_log_error("request %s: the http handler for %s "
                             "answered nothing", hr->request_id, hr->path);
                vr_http_problem(hr, 500, "internal", 0,
                                "the handler gave no answer");
            }
        }
    }
    return vr_http_flush(hr);
}

/*
 * The path as the access log shows it, into out (size bytes): escaped,
 * since MHD has decoded it (a %0A in it must not start a line); on a
 * VR_ROUTE_CAPABILITY route the capability that starts the tail shows
 * only its first characters, then "…" ("/jobs/AbCdEfGh…/events").
 */
static void
vr_http_log_path(const vr_http_req_t *hr, char *out, size_t size)
{
    const char *tail, *rest;
    size_t      shown, n;

    if (hr->route == NULL || !(hr->route->flags & VR_ROUTE_CAPABILITY)
        || !(hr->route->flags & VR_ROUTE_PREFIX))
    {
        vr_log_escape(hr->path, strlen(hr->path), out, size);
        return;
    }
    tail = hr->path + strlen(hr->route->path);
    rest = tail + strcspn(tail, "/");
    shown = vr_min((size_t) (rest - tail),
                   (size_t) VR_HTTP_LOG_CAPABILITY_CHARS);
    n = strlen(vr_log_escape(hr->path, (size_t) (tail - hr->path) + shown,
                             out, size));
    if (tail + shown < rest && size - n > sizeof(VR_UTF8_CUT) - 1) {
        memcpy(out + n, VR_UTF8_CUT, sizeof(VR_UTF8_CUT));
        n += sizeof(VR_UTF8_CUT) - 1;
    }
    vr_log_escape(rest, strlen(rest), out + n, size - n);
}

static void
vr_http_access_log(vr_http_req_t *hr, enum MHD_RequestTerminationCode toe)
{
    char        addr[INET6_ADDRSTRLEN + 8];
    char        line[2048], when[40], path[2048];
    int64_t     now_ms = vr_wall_ms();
    time_t      now_s = (time_t) (now_ms / 1000);
    struct tm   tm;
    int         n;

    if (vr_http_srv.access_fd < 0) {
        return;
    }
    gmtime_r(&now_s, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    vr_http_client_address(hr, addr, sizeof(addr));
    vr_http_log_path(hr, path, sizeof(path));
    n = snprintf(line, sizeof(line),
                 "%s.%03dZ %s \"%s %s\" %d %llu %lldms %s%s\n", when,
                 (int) (now_ms % 1000), addr, hr->method,
                 path, hr->status ? hr->status : 499,
                 (unsigned long long) hr->bytes_out,
                 (long long) (vr_now_ms - hr->started_ms), hr->request_id,
                 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                 : hr->gone ? " client-gone" : " aborted");
    if (n > 0) {
        if ((size_t) n >= sizeof(line)) {
            n = (int) sizeof(line) - 1;     /* a long path: cut, but */
            line[n - 1] = '\n';             /* still a line of its own */
        }
        /* Written before the loop sleeps: one write for a turn's lines. */
        vr_buf_add(&vr_http_srv.access_buf, line, (size_t) n);
        if (vr_http_srv.access_buf.len >= VR_HTTP_ACCESS_BUFFER) {
            vr_http_flush_access_log();
        }
    }
}

void
vr_http_flush_access_log(void)
{
    vr_buf_t   *b = &vr_http_srv.access_buf;
    size_t      off = 0;

    while (vr_http_srv.access_fd >= 0 && off < b->len) {
        size_t  n = b->len - off;
        ssize_t w;

        if (n > PIPE_BUF) {
            /* Up to the last newline within PIPE_BUF; lines are shorter. */
            const char *nl = memrchr(b->p + off, '\n', PIPE_BUF);
            n = nl != NULL ? (size_t) (nl - (b->p + off)) + 1 : PIPE_BUF;
        }
        w = write(vr_http_srv.access_fd, b->p + off, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;                  /* as before: a failed line is lost */
        }
        off += (size_t) w;
    }
    vr_buf_reset(b);
}

static void
vr_http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                  enum MHD_RequestTerminationCode toe)
{
    vr_http_req_t *hr = *con_cls;
    int            cls_idx;

    if (hr == NULL) {
        return;
    }
    *con_cls = NULL;
    vr_http_unwatch(hr);
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK || hr->state == VR_HR_WAITING) {
        hr->gone = true;
        vr_http_notify_gone(hr);
    }
    vr_http_access_log(hr, toe);
    cls_idx = hr->status >= 100 && hr->status < 600 ? hr->status / 100 : 0;
    vr_http_srv.stats.responses[cls_idx]++;
    vr_http_srv.stats.connections--;
    if (hr->counted_stream) {
        vr_http_srv.stats.streams--;
    }
    if (hr->prev != NULL) {
        hr->prev->next = hr->next;
    } else {
        vr_http_srv.live = hr->next;
    }
    if (hr->next != NULL) {
        hr->next->prev = hr->prev;
    }
    if (hr->data_free != NULL) {
        hr->data_free(hr->data);
    }
    if (hr->response != NULL) {
        MHD_destroy_response(hr->response);
    }
    for (size_t i = 0; i < hr->nheaders; i++) {
        free(hr->headers[i].name);
        free(hr->headers[i].value);
    }
    free(hr->headers);
    vr_buf_free(&hr->body);
    vr_buf_free(&hr->out);
    free(hr->path);
    free(hr);
}

/* ---- used by the listeners (vr_http_module.c) ------------------------- */

void
vr_http_server_callbacks(vr_http_callbacks_t *cb)
{
    cb->access = vr_http_access;
    cb->completed = vr_http_completed;
}

void
vr_http_release_all(struct MHD_Daemon *d)
{
    for (vr_http_req_t *hr = vr_http_srv.live; hr != NULL; hr = hr->next) {
        const union MHD_ConnectionInfo *ci;

        if (!hr->suspended) {
            continue;
        }
        ci = MHD_get_connection_info(hr->c, MHD_CONNECTION_INFO_DAEMON);
        if (d == NULL || (ci != NULL && ci->daemon == d)) {
            hr->gone = true;
            vr_http_notify_gone(hr);
            vr_http_unpark(hr);
        }
    }
}
