/*
 * ref_mhd.c: the reference HTTP server of the benchmarks (the ceiling).
 *
 * libmicrohttpd with its internal polling thread in epoll mode
 * (MHD_USE_EPOLL_INTERNAL_THREAD: one thread serves every connection)
 * answers every request, after reading its body, with the same small JSON
 * body.  HTTP/1.1 keep-alive is libmicrohttpd's default.
 *
 *   ref_mhd PORT        (listens on 127.0.0.1; stops on SIGTERM/SIGINT)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <microhttpd.h>

static const char          body[] = "[\"hello\"]";
static struct MHD_Response *answer;
static volatile sig_atomic_t stop;

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    static int seen;

    if (*con_cls == NULL) {
        *con_cls = &seen;           /* headers in: wait for the body */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0;      /* the body is read and ignored */
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, answer);
}

static void
on_signal(int sig)
{
    stop = 1;
}

int
main(int argc, char **argv)
{
    struct sockaddr_in sa;
    struct MHD_Daemon *d;

    if (argc != 2) {
        fprintf(stderr, "usage: ref_mhd PORT\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    answer = MHD_create_response_from_buffer(sizeof(body) - 1, (void *) body,
                                             MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(answer, "Content-Type", "application/json");
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG,
                         0, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
                         MHD_OPTION_CONNECTION_LIMIT, 20000u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "ref_mhd: cannot listen on port %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    while (!stop) {
        pause();
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(answer);
    return 0;
}
