/*
 * ref_proxy.c: the reference broker of the benchmarks.
 *
 * A ROUTER frontend (clients) and a DEALER backend (REP workers) joined by
 * zmq_proxy() and nothing else: the fastest a ZeroMQ broker can be.
 *
 *   ref_proxy FRONTEND_ENDPOINT BACKEND_ENDPOINT
 */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int
main(int argc, char **argv)
{
    void *ctx, *frontend, *backend;
    int   hwm = 100000, linger = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: ref_proxy FRONTEND BACKEND\n");
        return 2;
    }
    ctx = zmq_ctx_new();
    /* Room for the idle-clients scenario (1000 clients + 100 workers). */
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, 4096);
    frontend = zmq_socket(ctx, ZMQ_ROUTER);
    backend = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(frontend, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(frontend, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(backend, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(backend, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(frontend, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(backend, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(frontend, argv[1]) != 0 || zmq_bind(backend, argv[2]) != 0) {
        fprintf(stderr, "ref_proxy: bind: %s\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    zmq_proxy(frontend, backend, NULL);     /* returns when the context ends */
    return 0;
}
