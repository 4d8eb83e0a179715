/*
 * ref_worker.c: the reference echo worker of the benchmarks.
 *
 * N REP sockets connected to ref_proxy's backend, served by one thread:
 * each socket holds one request at a time and answers it with the same
 * payload frames (the envelope is kept by REP itself).  N sockets in one
 * process are N workers of capacity 1, like N echo dealers.
 *
 *   ref_worker BACKEND_ENDPOINT [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#define MAX_WORKERS 4096

/* Receives one request on s and sends every frame of it back. */
static int
echo_one(void *s)
{
    zmq_msg_t msg;
    int       more;

    do {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return -1;
        }
        more = zmq_msg_more(&msg);
        if (zmq_msg_send(&msg, s, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&msg);
            return -1;
        }
    } while (more);
    return 0;
}

int
main(int argc, char **argv)
{
    static zmq_pollitem_t items[MAX_WORKERS];
    void *ctx;
    int   n = argc > 2 ? atoi(argv[2]) : 1, linger = 0;

    if (argc < 2 || n < 1 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: ref_worker BACKEND [N]\n");
        return 2;
    }
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, MAX_WORKERS + 64);
    for (int i = 0; i < n; i++) {
        items[i].socket = zmq_socket(ctx, ZMQ_REP);
        items[i].events = ZMQ_POLLIN;
        zmq_setsockopt(items[i].socket, ZMQ_LINGER, &linger, sizeof(linger));
        if (zmq_connect(items[i].socket, argv[1]) != 0) {
            fprintf(stderr, "ref_worker: connect: %s\n",
                    zmq_strerror(zmq_errno()));
            return 1;
        }
    }
    for (;;) {
        if (zmq_poll(items, n, -1) < 0) {
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                echo_one(items[i].socket);  /* REP: one at a time */
            }
        }
    }
}
