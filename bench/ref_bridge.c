/*
 * ref_bridge.c: a naive HTTP-to-ZeroMQ bridge, the reference for the
 * gateway's HTTP invoke.
 *
 * One thread.  libmicrohttpd in external epoll mode with
 * MHD_ALLOW_SUSPEND_RESUME; its epoll fd and one DEALER socket (connected
 * to ref_proxy's frontend, REP workers behind it) are polled together.
 * Each POST body is sent as [id, "", body]; the connection is suspended
 * until [id, "", reply] comes back, then resumed and answered with the
 * reply as a JSON body.  A client that hangs up just leaves its late reply
 * unmatched.
 *
 *   ref_bridge HTTP_PORT PROXY_FRONTEND_ENDPOINT
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include <zmq.h>

#define PENDING  65536                 /* calls waiting at once, at most */

typedef struct {
    struct MHD_Connection *c;
    uint64_t               id;
    char                  *body;       /* the POST body, then the reply */
    size_t                 len;
    int                    state;      /* 0 reading, 1 waiting, 2 replied */
} call_t;

static void                *dealer;
static call_t              *pending[PENDING];
static uint64_t             next_id = 1;
static volatile sig_atomic_t stop;

static void
append(call_t *call, const char *p, size_t n)
{
    call->body = realloc(call->body, call->len + n);
    memcpy(call->body + call->len, p, n);
    call->len += n;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    call_t *call = *con_cls;

    if (call == NULL) {
        *con_cls = call = calloc(1, sizeof(*call));
        call->c = c;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        append(call, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (call->state == 0) {
        /* The whole body is in: send it and wait for the answer. */
        call->id = next_id++;
        if (pending[call->id % PENDING] != NULL) {
            return MHD_NO;                  /* too many at once */
        }
        pending[call->id % PENDING] = call;
        zmq_send(dealer, &call->id, sizeof(call->id), ZMQ_SNDMORE);
        zmq_send(dealer, "", 0, ZMQ_SNDMORE);
        zmq_send(dealer, call->body, call->len, 0);
        call->state = 1;
        MHD_suspend_connection(c);
        return MHD_YES;
    }
    if (call->state == 2) {
        struct MHD_Response *r;
        enum MHD_Result      rc;

        r = MHD_create_response_from_buffer(call->len, call->body,
                                            MHD_RESPMEM_MUST_COPY);
        MHD_add_response_header(r, "Content-Type", "application/json");
        rc = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return rc;
    }
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    call_t *call = *con_cls;

    if (call == NULL) {
        return;
    }
    if (call->state == 1 && pending[call->id % PENDING] == call) {
        pending[call->id % PENDING] = NULL;
    }
    free(call->body);
    free(call);
    *con_cls = NULL;
}

/* Reads every reply waiting on the DEALER and resumes their connections. */
static void
on_replies(void)
{
    for (;;) {
        zmq_msg_t f[3];
        int       n = 0, more = 1;
        uint64_t  id;
        call_t   *call;

        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, dealer, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(&m);
                return;
            }
            more = zmq_msg_more(&m);
            if (n < 3) {
                f[n++] = m;
            } else {
                zmq_msg_close(&m);
            }
        }
        if (n == 3 && zmq_msg_size(&f[0]) == sizeof(id)) {
            memcpy(&id, zmq_msg_data(&f[0]), sizeof(id));
            call = pending[id % PENDING];
            if (call != NULL && call->id == id) {
                pending[id % PENDING] = NULL;
                free(call->body);
                call->len = 0;
                call->body = NULL;
                append(call, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
                call->state = 2;
                MHD_resume_connection(call->c);
            }
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&f[i]);
        }
    }
}

static void
on_signal(int sig)
{
    stop = 1;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in          sa;
    struct MHD_Daemon          *d;
    const union MHD_DaemonInfo *di;
    void                       *ctx;
    int                         linger = 0, hwm = 100000;
    zmq_pollitem_t              items[2];

    if (argc != 3) {
        fprintf(stderr, "usage: ref_bridge HTTP_PORT PROXY_FRONTEND\n");
        return 2;
    }
    ctx = zmq_ctx_new();
    dealer = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(dealer, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(dealer, argv[2]) != 0) {
        fprintf(stderr, "ref_bridge: connect %s: %s\n", argv[2],
                zmq_strerror(zmq_errno()));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
                         | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_LIMIT, 20000u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "ref_bridge: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    items[0] = (zmq_pollitem_t) { dealer, 0, ZMQ_POLLIN, 0 };
    items[1] = (zmq_pollitem_t) { NULL, di->epoll_fd, ZMQ_POLLIN, 0 };
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop) {
        MHD_UNSIGNED_LONG_LONG ms;
        long timeout = MHD_get_timeout(d, &ms) == MHD_YES ? (long) ms : 1000;

        if (zmq_poll(items, 2, timeout > 1000 ? 1000 : timeout) < 0) {
            continue;                       /* EINTR: look at stop */
        }
        if (items[0].revents & ZMQ_POLLIN) {
            on_replies();
        }
        MHD_run(d);
    }
    MHD_stop_daemon(d);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    return 0;
}
