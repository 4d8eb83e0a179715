/*
 * vr_http_module.c: the "http:" section and the HTTP listeners.
 *
 * One MHD daemon per listen address, in external epoll mode: its epoll fd
 * is watched by the loop, and a loop hook gives MHD its timeout and runs
 * it after connections were resumed.  An address has one role: plain HTTP
 * (http.listen), HTTPS (http.tls.listen) or admin (http.admin_listen, the
 * only one to serve admin routes when it is set).  A reload keeps the
 * daemons whose address, role and certificate stay, starts the new ones
 * first (init) and stops the ones that went away only once every module
 * accepted the reload (commit).  A daemon whose
 * address stays but whose certificate (or role) changed is handed over:
 * the new daemon takes a duplicate of its listening socket, the old one
 * stops accepting and drains, so no connection is refused meanwhile.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <microhttpd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_http_server.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_path.h"

#define T(field)  offsetof(vr_http_tls_conf_t, field)

static const vr_directive_t vr_http_tls_directives[] = {
    { "listen", VR_CONF_RELOAD, "address list", "[]", vr_conf_set_listen,
      T(listen), 0, 0, NULL,
      "HOST:PORT addresses of the HTTPS front end; [] turns HTTPS off" },
    { "cert", VR_CONF_RELOAD, "path", "\"\"", vr_conf_set_str, T(cert),
      0, 0, NULL,
      "PEM file of the certificate chain, the server's certificate first "
      "(read again on reload)" },
    { "key", VR_CONF_RELOAD, "path", "\"\"", vr_conf_set_str, T(key),
      0, 0, NULL,
      "PEM file of the certificate's private key, not encrypted (read "
      "again on reload)" },
    vr_null_directive
};

#undef T
#define F(field)  offsetof(vr_http_conf_t, field)

static const vr_directive_t vr_http_directives[] = {
    { "listen", VR_CONF_RELOAD, "address list", "127.0.0.1:8080",
      vr_conf_set_listen, F(listen), 0, 0, NULL,
      "HOST:PORT addresses of the HTTP front end; [] turns HTTP off" },
    { "tls", VR_CONF_RELOAD, "block", NULL, vr_conf_set_block, F(tls), 0, 0,
      vr_http_tls_directives, "the HTTPS front end, beside HTTP" },
    { "admin_listen", VR_CONF_RELOAD, "address list", "[]",
      vr_conf_set_listen, F(admin_listen), 0, 0, NULL,
      "HOST:PORT addresses that alone serve /status, /metrics and "
      "/admin/ (404 on the others); [] : every listener serves them" },
    { "max_body", VR_CONF_RELOAD, "size", "16MiB", vr_conf_set_size,
      F(max_body_bytes), 0, 1LL << 31, NULL,
      "largest request body (413 beyond)" },
    { "max_header", VR_CONF_RELOAD, "size", "4KiB", vr_conf_set_size,
      F(max_header_bytes), 256, 1 << 20, NULL,
      "largest total size of a request's headers (431 beyond)" },
    { "connection_memory", 0, "size", "8KiB", vr_conf_set_size,
      F(connection_memory_bytes), 4096, 1 << 24, NULL,
      "memory of one connection for its request line, headers and "
      "buffers (restart)" },
    { "max_connections", 0, "integer", "10000", vr_conf_set_int,
      F(max_connections), 1, 1000000, NULL,
      "connections open at once (restart)" },
    { "idle_timeout", 0, "duration", "60s", vr_conf_set_msec,
      F(idle_timeout_ms), 1000, 86400000, NULL,
      "a connection idle this long is closed (restart)" },
    { "max_streams", VR_CONF_RELOAD, "integer", "10000", vr_conf_set_int,
      F(max_streams), 0, 1000000, NULL,
      "SSE and NDJSON streams open at once (503 beyond)" },
    { "stream_buffer", VR_CONF_RELOAD, "size", "1MiB", vr_conf_set_size,
      F(stream_buffer_bytes), 1024, 1LL << 30, NULL,
      "unsent bytes one stream may hold; a reader that falls further "
      "behind is cut off" },
    { "keepalive", VR_CONF_RELOAD, "duration", "15s", vr_conf_set_msec,
      F(keepalive_ms), 100, 3600000, NULL,
      "an SSE stream silent this long gets a keep-alive comment" },
    { "retry", VR_CONF_RELOAD, "duration", "3s", vr_conf_set_msec,
      F(retry_ms), 0, 3600000, NULL,
      "the retry: hint sent at the start of an SSE stream" },
    { "cors_origins", VR_CONF_RELOAD, "origin list", "[]", vr_conf_set_strs,
      F(cors_origins), 0, 0, NULL,
      "origins allowed to call from a browser (\"*\": any); [] : CORS off" },
    { "access_log", VR_CONF_RELOAD, "path", "stderr", vr_conf_set_str,
      F(access_log), 0, 0, NULL,
      "\"stderr\", \"off\", or a file: one line per HTTP request" },
    { "drain_timeout", VR_CONF_RELOAD, "duration", "30s", vr_conf_set_msec,
      F(drain_timeout_ms), 0, 86400000, NULL,
      "when a reload removes a listen address, how long its open "
      "connections may still finish" },
    vr_null_directive
};

#undef F

/* ---- the loop's view of MHD ------------------------------------------- */

static void
vr_http_on_epoll(void *data, short revents)
{
    vr_http_srv.need_run = true;    /* MHD runs once, in the hook */
}

static vr_msec_t
vr_http_prepare(void *data)
{
    vr_msec_t wait = -1;

    for (vr_http_listener_t *l = vr_http_srv.listeners; l; l = l->next) {
        MHD_UNSIGNED_LONG_LONG ms;
        if (MHD_get_timeout(l->daemon, &ms) == MHD_YES) {
            if (wait < 0 || (vr_msec_t) ms < wait) {
                wait = (vr_msec_t) ms;
            }
        }
        if (l->retiring) {
            /* Look at it again soon: it stops once its last one is done. */
            wait = wait < 0 ? 100 : vr_min(wait, 100);
        }
    }
    vr_http_srv.mhd_deadline_ms = wait < 0 ? INT64_MAX : vr_now_ms + wait;
    vr_http_flush_access_log();
    /* A connection resumed since MHD last ran (by an answer the broker
     * read after MHD's turn) waits for no event: MHD runs at once. */
    return vr_http_srv.need_run ? 0 : wait;
}

static void vr_http_listener_stop(vr_http_listener_t *l);

/* A retiring listener stops when its connections are done, or its time. */
static bool
vr_http_retired(vr_http_listener_t *l)
{
    const union MHD_DaemonInfo *di;

    di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (di != NULL && di->num_connections == 0) {
        return true;
    }
    if (vr_now_ms >= l->retire_deadline_ms) {
        vr_log_notice("http %s: drain time over, %u connections closed",
                      l->addr, di ? di->num_connections : 0);
        vr_http_release_all(l->daemon);
        return true;
    }
    return false;
}

/* MHD turns per loop turn, at most.  A stream writes one block per turn,
 * and MHD reads at most its buffer (a part of http.connection_memory)
 * per connection and turn: while streams send or MHD says it has more to
 * do at once, it gets another turn, so that a large body or header is
 * not read a few KiB per loop turn while the broker is flooded. */
#define VR_HTTP_TURNS  32

/* True when a daemon has work at once (data read but not yet handled). */
static bool
vr_http_pending(void)
{
    MHD_UNSIGNED_LONG_LONG ms;

    for (vr_http_listener_t *l = vr_http_srv.listeners; l; l = l->next) {
        if (MHD_get_timeout(l->daemon, &ms) == MHD_YES && ms == 0) {
            return true;
        }
    }
    return false;
}

static void
vr_http_run(void *data)
{
    vr_http_listener_t **lp;
    uint64_t             sent;

    /* Events, resumed connections and MHD's own timeouts need a turn. */
    if (!vr_http_srv.need_run && vr_now_ms < vr_http_srv.mhd_deadline_ms) {
        return;
    }
    vr_http_srv.need_run = false;
    for (int turn = 0; turn < VR_HTTP_TURNS; turn++) {
        sent = vr_http_srv.stream_bytes;
        for (lp = &vr_http_srv.listeners; *lp != NULL; ) {
            vr_http_listener_t *l = *lp;

            MHD_run(l->daemon);
            if (l->retiring && vr_http_retired(l)) {
                *lp = l->next;
                vr_http_listener_stop(l);
                continue;
            }
            lp = &l->next;
        }
        if (vr_http_srv.stream_bytes == sent && !vr_http_pending()) {
            break;
        }
    }
}

/* ---- listeners -------------------------------------------------------- */

static void
vr_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    vr_log_limited(VR_LOG_INFO, "http: %s", msg);
}

/* "HOST:PORT" to a socket address; VR_ERROR when HOST is not numeric. */
static int
vr_http_sockaddr(const char *addr, struct sockaddr_storage *ss)
{
    const char *colon = strrchr(addr, ':');
    char        host[128];
    int         port = atoi(colon + 1);
    size_t      hlen = (size_t) (colon - addr);

    memset(ss, 0, sizeof(*ss));
    if (addr[0] == '[' && hlen >= 2) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) ss;
        snprintf(host, sizeof(host), "%.*s", (int) (hlen - 2), addr + 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t) port);
        return inet_pton(AF_INET6, host, &s6->sin6_addr) == 1
               ? VR_OK : VR_ERROR;
    }
    struct sockaddr_in *s4 = (struct sockaddr_in *) ss;
    snprintf(host, sizeof(host), "%.*s", (int) hlen, addr);
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t) port);
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        s4->sin_addr.s_addr = htonl(INADDR_ANY);
        return VR_OK;
    }
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? VR_OK : VR_ERROR;
}

_Static_assert(VR_HTTP_NROLES == vr_nelems(((vr_http_conf_t *) 0)->where),
               "vr_http_conf_t.where has one entry per role");

/* The key, and the word for logs, of each role. */
static const char *const vr_http_role_keys[VR_HTTP_NROLES] = {
    "http.listen", "http.tls.listen", "http.admin_listen"
};
static const char *const vr_http_role_names[VR_HTTP_NROLES] = {
    "http", "https", "http (admin)"
};

static const vr_strs_t *
vr_http_addrs(const vr_http_conf_t *conf, vr_http_role_t role)
{
    return role == VR_HTTP_TLS ? &conf->tls.listen
           : role == VR_HTTP_ADMIN ? &conf->admin_listen : &conf->listen;
}

static bool
vr_http_listed(const vr_strs_t *addrs, const char *addr)
{
    for (size_t i = 0; i < addrs->n; i++) {
        if (strcmp(addrs->v[i], addr) == 0) {
            return true;
        }
    }
    return false;
}

/* Is addr in any of conf's lists? */
static bool
vr_http_listed_anywhere(const vr_http_conf_t *conf, const char *addr)
{
    for (int role = 0; role < VR_HTTP_NROLES; role++) {
        if (vr_http_listed(vr_http_addrs(conf, (vr_http_role_t) role), addr)) {
            return true;
        }
    }
    return false;
}

/* Does l serve what conf asks of its address (role and certificate)? */
static bool
vr_http_listener_fits(const vr_http_listener_t *l, const vr_http_conf_t *conf)
{
    return vr_http_listed(vr_http_addrs(conf, l->role), l->addr)
           && (l->role != VR_HTTP_TLS
               || memcmp(&l->pem_digest, &conf->tls.pem_digest,
                         sizeof(vr_digest_t)) == 0);
}

/*
 * Starts l's daemon: on a new socket bound to l->addr, or, when from is
 * given, on a duplicate of from's listening socket (a handover: the
 * socket stays open throughout, nothing is refused).
 */
static int
vr_http_listener_start(vr_http_listener_t *l, const vr_http_conf_t *conf,
                       const vr_http_listener_t *from)
{
    struct sockaddr_storage         ss;
    struct MHD_OptionItem           opts[4];
    size_t                          n = 0;
    vr_http_callbacks_t             cb;
    const union MHD_DaemonInfo     *di;
    unsigned                        flags = MHD_USE_EPOLL
                                            | MHD_ALLOW_SUSPEND_RESUME
                                            | MHD_USE_ERROR_LOG;

    if (vr_http_sockaddr(l->addr, &ss) != VR_OK) {
        vr_log_error("%s \"%s\": the host must be a numeric address, \"*\" "
                     "or \"localhost\"", conf->where[l->role], l->addr);
        return VR_ERROR;
    }
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    if (from != NULL) {
        int fd;

        di = MHD_get_daemon_info(from->daemon, MHD_DAEMON_INFO_LISTEN_FD);
        fd = di != NULL ? fcntl(di->listen_fd, F_DUPFD_CLOEXEC, 0) : -1;
        if (fd < 0) {
            vr_log_error("cannot hand over the socket of %s: %s", l->addr,
                         strerror(errno));
            return VR_ERROR;
        }
        /* MHD owns the duplicate now, and closes it even when it fails
         * to start (libmicrohttpd 0.9.75). */
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_LISTEN_SOCKET, fd,
                                              NULL };
    } else {
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, &ss };
    }
    if (l->role == VR_HTTP_TLS) {
        /* MHD reads the PEM text while it starts and keeps no pointer. */
        flags |= MHD_USE_TLS;
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0,
                                              conf->tls.cert_pem };
        opts[n++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0,
                                              conf->tls.key_pem };
        l->pem_digest = conf->tls.pem_digest;
    }
    opts[n] = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
    vr_http_server_callbacks(&cb);
    errno = 0;
    l->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, cb.access, (void *) (uintptr_t) l->role,
        MHD_OPTION_EXTERNAL_LOGGER, vr_http_mhd_log, NULL,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) conf->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int) ((conf->idle_timeout_ms + 999) / 1000),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t) conf->connection_memory_bytes,
        MHD_OPTION_NOTIFY_COMPLETED, cb.completed, NULL,
        MHD_OPTION_ARRAY, opts,
        MHD_OPTION_END);
    if (l->daemon == NULL) {
        vr_log_error("%s cannot listen for %s on %s: %s",
                     conf->where[l->role],
                     l->role == VR_HTTP_TLS ? "HTTPS" : "HTTP", l->addr,
                     errno ? strerror(errno) : "libmicrohttpd refused");
        return VR_ERROR;
    }
    di = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    l->epoll_fd = di->epoll_fd;
    vr_loop_add_fd(vr_http_srv.loop, l->epoll_fd, ZMQ_POLLIN,
                   vr_http_on_epoll, l);
    if (from != NULL) {
        vr_log_notice("%s on %s: a new daemon on the same socket%s",
                      vr_http_role_names[l->role], l->addr,
                      l->role == VR_HTTP_TLS ? " serves the new certificate"
                                             : "");
    } else {
        vr_log_notice("%s listening on %s", vr_http_role_names[l->role],
                      l->addr);
    }
    return VR_OK;
}

static void
vr_http_listener_stop(vr_http_listener_t *l)
{
    vr_loop_del_fd(vr_http_srv.loop, l->epoll_fd);
    vr_http_release_all(l->daemon);
    MHD_stop_daemon(l->daemon);
    vr_log_notice("%s %s closed", vr_http_role_names[l->role], l->addr);
    free(l->addr);
    free(l);
}

/*
 * Stops accepting on l; its open connections may finish until drain.
 * handed_over: a new daemon listens on the same socket.
 */
static void
vr_http_listener_retire(vr_http_listener_t *l, vr_msec_t drain_ms,
                        bool handed_over)
{
    MHD_socket fd = MHD_quiesce_daemon(l->daemon);

    if (fd != MHD_INVALID_SOCKET) {
        close(fd);
    }
    l->retiring = true;
    l->retire_deadline_ms = vr_now_ms + drain_ms;
    vr_log_notice("%s %s %s; its connections may finish within %lld ms",
                  vr_http_role_names[l->role], l->addr,
                  handed_over ? "handed over to the new daemon"
                              : "no longer listening",
                  (long long) drain_ms);
}

static vr_http_listener_t *
vr_http_find_listener(const char *addr)
{
    for (vr_http_listener_t *l = vr_http_srv.listeners; l; l = l->next) {
        if (!l->retiring && strcmp(l->addr, addr) == 0) {
            return l;
        }
    }
    return NULL;
}

/*
 * The descriptor of conf's access log in *fd: a file opened for append,
 * STDERR_FILENO, or -1 when it is off.  VR_ERROR (logged) when the file
 * cannot be opened.
 */
static int
vr_http_access_log_fd(const vr_http_conf_t *conf, int *fd)
{
    if (strcmp(conf->access_log, "off") == 0) {
        *fd = -1;
    } else if (strcmp(conf->access_log, "stderr") == 0) {
        *fd = STDERR_FILENO;
    } else {
        *fd = open(conf->access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
                   0644);
        if (*fd < 0) {
            vr_log_error("%s cannot open \"%s\": %s",
                         conf->access_log_where, conf->access_log,
                         strerror(errno));
            return VR_ERROR;
        }
    }
    return VR_OK;
}

/* Writes the access log to fd from now on (the lines so far to the old). */
static void
vr_http_use_access_log(int fd)
{
    vr_http_flush_access_log();
    if (vr_http_srv.access_fd > STDERR_FILENO) {
        close(vr_http_srv.access_fd);
    }
    vr_http_srv.access_fd = fd;
}

static int
vr_http_open_access_log(const vr_http_conf_t *conf)
{
    int fd;

    if (vr_http_access_log_fd(conf, &fd) != VR_OK) {
        return VR_ERROR;
    }
    vr_http_use_access_log(fd);
    return VR_OK;
}

void
vr_http_reopen_logs(void)
{
    if (vr_http_srv.conf != NULL) {
        vr_http_open_access_log(vr_http_srv.conf);
    }
}

static void
vr_http_collect_routes(void)
{
    size_t n = 0;

    free(vr_http_srv.routes);
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        for (const vr_route_t *r = (*m)->routes; r && r->handler; r++) {
            n++;
        }
    }
    vr_http_srv.routes = vr_calloc(n + 1, sizeof(vr_route_t *));
    n = 0;
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        for (const vr_route_t *r = (*m)->routes; r && r->handler; r++) {
            vr_http_srv.routes[n++] = r;
        }
    }
}

const vr_route_t *const *
vr_http_routes(void)
{
    return vr_http_srv.routes;
}

const vr_http_conf_t *
vr_http_current_conf(void)
{
    return vr_http_srv.conf;
}

bool
vr_http_ready(void)
{
    const vr_http_conf_t *conf = vr_http_srv.conf;
    size_t                n = 0;

    for (vr_http_listener_t *l = vr_http_srv.listeners; l; l = l->next) {
        n += !l->retiring;
    }
    return conf != NULL
           && n == conf->listen.n + conf->tls.listen.n
                   + conf->admin_listen.n;
}

/* An address has one role: in one of the three lists only. */
static int
vr_http_check_roles(vr_conf_t *cf, const vr_http_conf_t *conf)
{
    for (int role = VR_HTTP_TLS; role < VR_HTTP_NROLES; role++) {
        const vr_strs_t *addrs = vr_http_addrs(conf, (vr_http_role_t) role);

        for (size_t i = 0; i < addrs->n; i++) {
            for (int other = 0; other < role; other++) {
                if (vr_http_listed(vr_http_addrs(conf, (vr_http_role_t) other),
                                   addrs->v[i]))
                {
                    return vr_conf_error_at(cf, vr_http_role_keys[role],
                                            "\"%s\" is in %s too: an "
                                            "address serves one role",
                                            addrs->v[i],
                                            vr_http_role_keys[other]);
                }
            }
        }
    }
    return VR_OK;
}

static int
vr_http_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_http_conf_t *conf = data;

    /* MHD keeps the request line and headers in the connection's memory,
     * with room left for reading and writing. */
    if (conf->max_header_bytes > conf->connection_memory_bytes / 2) {
        return vr_conf_error_at(cf, vr_conf_is_set(cf, "http.max_header")
                                    ? "http.max_header"
                                    : "http.connection_memory",
                                "http.max_header must be at most half of "
                                "http.connection_memory");
    }
    for (int role = 0; role < VR_HTTP_NROLES; role++) {
        conf->where[role] = vr_conf_where(cf, vr_http_role_keys[role]);
    }
    conf->access_log_where = vr_conf_where(cf, "http.access_log");
    if (vr_http_check_roles(cf, conf) != VR_OK) {
        return VR_ERROR;
    }
    return vr_http_tls_load(cf, &conf->tls);
}

/* What init opened for the cycle being put in force. */
static struct {
    vr_http_listener_t *fresh;      /* new listeners, not accepting yet */
    int                 access_fd;  /* the access log */
} vr_http_next = { NULL, -1 };

static void
vr_http_stop_fresh(void)
{
    vr_http_listener_t *l, *next;

    for (l = vr_http_next.fresh; l != NULL; l = next) {
        next = l->next;
        vr_http_listener_stop(l);
    }
    vr_http_next.fresh = NULL;
}

static int
vr_http_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_http_conf_t     *conf = vr_cycle_conf(cycle, vr_http_module);
    vr_http_listener_t *l;

    if (old == NULL) {
        vr_http_srv.loop = cycle->loop;
        vr_http_srv.access_fd = -1;
    }
    /* New listeners first, beside the running ones, which the commit
     * retires.  One whose address stays but whose role or certificate
     * changed takes over the socket of the running one. */
    for (int role = 0; role < VR_HTTP_NROLES; role++) {
        const vr_strs_t *addrs = vr_http_addrs(conf, (vr_http_role_t) role);

        for (size_t i = 0; i < addrs->n; i++) {
            vr_http_listener_t *running = vr_http_find_listener(addrs->v[i]);

            if (running != NULL && vr_http_listener_fits(running, conf)) {
                continue;
            }
            l = vr_calloc(1, sizeof(*l));
            l->addr = vr_strdup(addrs->v[i]);
            l->role = (vr_http_role_t) role;
            if (vr_http_listener_start(l, conf, running) != VR_OK) {
                free(l->addr);
                free(l);
                vr_http_stop_fresh();
                return VR_ERROR;
            }
            l->next = vr_http_next.fresh;
            vr_http_next.fresh = l;
        }
    }
    if (vr_http_access_log_fd(conf, &vr_http_next.access_fd) != VR_OK) {
        vr_http_stop_fresh();
        return VR_ERROR;
    }
    return VR_OK;
}

static void
vr_http_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_http_conf_t     *conf = vr_cycle_conf(cycle, vr_http_module);
    vr_http_listener_t *l, *next;

    if (old == NULL) {
        static const vr_loop_hook_t hook = { vr_http_prepare, vr_http_run,
                                             &vr_http_srv };
        vr_loop_add_hook(cycle->loop, &hook);
        vr_http_collect_routes();
    }
    vr_http_srv.broker = cycle->broker;
    vr_http_use_access_log(vr_http_next.access_fd);
    vr_http_next.access_fd = -1;
    /* Those that went away or were handed over stop accepting and drain. */
    for (l = vr_http_srv.listeners; l != NULL; l = l->next) {
        if (!l->retiring && !vr_http_listener_fits(l, conf)) {
            vr_http_listener_retire(l, conf->drain_timeout_ms,
                                    vr_http_listed_anywhere(conf, l->addr));
        }
    }
    for (l = vr_http_next.fresh; l != NULL; l = next) {
        next = l->next;
        l->next = vr_http_srv.listeners;
        vr_http_srv.listeners = l;
    }
    vr_http_next.fresh = NULL;
    vr_http_srv.conf = conf;
}

static void
vr_http_abort(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_http_stop_fresh();
    if (vr_http_next.access_fd > STDERR_FILENO) {
        close(vr_http_next.access_fd);
    }
    vr_http_next.access_fd = -1;
}

static void
vr_http_exit(vr_cycle_t *cycle)
{
    vr_http_listener_t *l;

    vr_http_release_all(NULL);
    while ((l = vr_http_srv.listeners) != NULL) {
        vr_http_srv.listeners = l->next;
        vr_http_listener_stop(l);
    }
    free(vr_http_srv.routes);
    vr_http_srv.routes = NULL;
    vr_loop_del_hook(vr_http_srv.loop, &vr_http_srv);
    vr_http_flush_access_log();
    vr_buf_free(&vr_http_srv.access_buf);
    if (vr_http_srv.access_fd > STDERR_FILENO) {
        close(vr_http_srv.access_fd);
    }
    vr_http_srv.access_fd = -1;
    vr_http_srv.conf = NULL;
}

static int
vr_http_check(vr_cycle_t *cycle)
{
    vr_http_conf_t *conf = vr_cycle_conf(cycle, vr_http_module);

    if (strcmp(conf->access_log, "off") == 0
        || strcmp(conf->access_log, "stderr") == 0)
    {
        return VR_OK;                   /* no file */
    }
    return vr_path_check_writable(conf->access_log_where, "open",
                                  conf->access_log);
}

vr_module_t vr_http_module = {
    .name = "http",
    .directives = vr_http_directives,
    .conf_size = sizeof(vr_http_conf_t),
    .init_conf = vr_http_init_conf,
    .init = vr_http_init,
    .commit = vr_http_commit,
    .abort = vr_http_abort,
    .exit = vr_http_exit,
    .check = vr_http_check,
};
