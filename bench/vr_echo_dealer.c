/*
 * vr_echo_dealer.c: echo dealers speaking the VoidRail protocol
 * (/work/shared/PROTOCOL.md, Part A) to the gateway, for the benchmarks.
 *
 * N DEALER sockets in one thread, each a dealer with the identity
 * "Echo-<8 hex>", group "Echo", registered with three methods:
 *   echo    answers {"type": "reply", "request_id": RID, "result": ARGS}
 *           where ARGS are the request's "args" bytes, copied unparsed
 *   stream  args [N]: N {"type": "streaming", ..., "data": i} chunks, then
 *           {"type": "end", ...} (the SSE scenario)
 *   slow    never answers (idle streams that stay open)
 * Every dealer heartbeats once a second.  With -c C it announces
 * "max_concurrent": C in its register (the gateway's default is 1).
 *
 *   vr_echo_dealer -e ENDPOINT [-n DEALERS] [-c MAX_CONCURRENT]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_DEALERS  4096
#define MAX_FRAMES   8

typedef struct {
    void *socket;
    char  id[32];
    long  held;                 /* "slow" requests never answered */
} dealer_t;

static dealer_t       dealers[MAX_DEALERS];
static zmq_pollitem_t items[MAX_DEALERS];

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- a minimal JSON skipper: enough to find top-level fields ---------- */

static const char *
skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* p at an opening quote: returns just past the closing one, or NULL. */
static const char *
skip_string(const char *p, const char *e)
{
    for (p++; p < e; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Returns just past the JSON value at p, or NULL. */
static const char *
skip_value(const char *p, const char *e)
{
    int depth = 0;

    if (p >= e) {
        return NULL;
    }
    if (*p == '"') {
        return skip_string(p, e);
    }
    if (*p != '[' && *p != '{') {
        while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' '
               && *p != '\n' && *p != '\r' && *p != '\t')
        {
            p++;
        }
        return p;
    }
    while (p < e) {
        if (*p == '"') {
            p = skip_string(p, e);
            if (p == NULL) {
                return NULL;
            }
            continue;
        }
        if (*p == '[' || *p == '{') {
            depth++;
        } else if (*p == ']' || *p == '}') {
            if (--depth == 0) {
                return p + 1;
            }
        }
        p++;
    }
    return NULL;
}

/* The raw bytes of the top-level fields "request_id" and "args". */
static int
request_fields(const char *body, size_t len, const char **rid, size_t *rid_len,
               const char **args, size_t *args_len)
{
    const char *p = body, *e = body + len;

    *rid = *args = NULL;
    p = skip_ws(p, e);
    if (p >= e || *p != '{') {
        return -1;
    }
    p++;
    for (;;) {
        const char *key, *val;
        size_t      klen;

        p = skip_ws(p, e);
        if (p < e && *p == '}') {
            break;
        }
        if (p >= e || *p != '"') {
            return -1;
        }
        key = p;
        p = skip_string(p, e);
        if (p == NULL) {
            return -1;
        }
        klen = (size_t) (p - key);
        p = skip_ws(p, e);
        if (p >= e || *p != ':') {
            return -1;
        }
        val = skip_ws(p + 1, e);
        p = skip_value(val, e);
        if (p == NULL) {
            return -1;
        }
        if (klen == 12 && memcmp(key, "\"request_id\"", 12) == 0) {
            *rid = val;
            *rid_len = (size_t) (p - val);
        } else if (klen == 6 && memcmp(key, "\"args\"", 6) == 0) {
            *args = val;
            *args_len = (size_t) (p - val);
        }
        p = skip_ws(p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}') {
            break;
        }
        return -1;
    }
    return *rid != NULL ? 0 : -1;
}

/* ---- sending ---------------------------------------------------------- */

static void
send_frames(void *s, const char *type, const void *a, size_t alen,
            const void *b, size_t blen, int nframes)
{
    zmq_send(s, type, strlen(type), nframes > 1 ? ZMQ_SNDMORE : 0);
    if (nframes > 1) {
        zmq_send(s, a, alen, nframes > 2 ? ZMQ_SNDMORE : 0);
    }
    if (nframes > 2) {
        zmq_send(s, b, blen, 0);
    }
}

static void
send_register(dealer_t *d, int max_concurrent)
{
    static const char meta[] = "{\"description\": null, \"params\": null, "
                               "\"stream\": %s, \"metadata\": {}}";
    char  m1[128], m2[128], conc[48] = "";
    char  body[1024];
    int   pid = (int) getpid(), n;

    snprintf(m1, sizeof(m1), meta, "false");
    snprintf(m2, sizeof(m2), meta, "true");
    if (max_concurrent > 0) {
        snprintf(conc, sizeof(conc), ", \"max_concurrent\": %d",
                 max_concurrent);
    }
    n = snprintf(body, sizeof(body),
                 "{\"group\": \"Echo\", \"methods\": {\"echo\": %s, "
                 "\"stream\": %s, \"slow\": %s}, \"api_key\": null, "
                 "\"remote_addr\": \"127.0.0.1 [PID:%d, ID:%s]\", "
                 "\"host_info\": {\"hostname\": \"bench\", \"ip\": "
                 "\"127.0.0.1\", \"pid\": %d}%s}",
                 m1, m2, m1, pid, d->id + 5, pid, conc);
    send_frames(d->socket, "register", body, (size_t) n, NULL, 0, 2);
}

static void
send_heartbeat(dealer_t *d)
{
    char body[128];
    int  n = snprintf(body, sizeof(body), "{\"api_key\": null, "
                      "\"processing_requests\": %ld, \"is_busy\": false}",
                      d->held);

    send_frames(d->socket, "heartbeat", body, (size_t) n, NULL, 0, 2);
}

/* ["reply_from_dealer", cid, body] */
static void
reply(dealer_t *d, zmq_msg_t *cid, const char *body, size_t len)
{
    send_frames(d->socket, "reply_from_dealer", zmq_msg_data(cid),
                zmq_msg_size(cid), body, len, 3);
}

static void
on_call(dealer_t *d, zmq_msg_t *f, int n)
{
    const char *method, *dot, *rid, *args;
    size_t      rid_len, args_len, mlen;
    char        small[512];

    if (n < 4 || request_fields(zmq_msg_data(&f[3]), zmq_msg_size(&f[3]),
                                &rid, &rid_len, &args, &args_len) != 0)
    {
        return;
    }
    if (args == NULL) {
        args = "[]";
        args_len = 2;
    }
    method = zmq_msg_data(&f[2]);
    mlen = zmq_msg_size(&f[2]);
    dot = memchr(method, '.', mlen);
    if (dot != NULL) {
        mlen -= (size_t) (dot + 1 - method);
        method = dot + 1;
    }
    if (mlen == 4 && memcmp(method, "echo", 4) == 0) {
        static const char a[] = "{\"type\": \"reply\", \"request_id\": ";
        static const char b[] = ", \"result\": ";
        size_t len = sizeof(a) - 1 + rid_len + sizeof(b) - 1 + args_len + 1;
        char  *body = len <= sizeof(small) ? small : malloc(len), *p = body;

        memcpy(p, a, sizeof(a) - 1);
        p += sizeof(a) - 1;
        memcpy(p, rid, rid_len);
        p += rid_len;
        memcpy(p, b, sizeof(b) - 1);
        p += sizeof(b) - 1;
        memcpy(p, args, args_len);
        p += args_len;
        *p = '}';
        reply(d, &f[1], body, len);
        if (body != small) {
            free(body);
        }
    } else if (mlen == 6 && memcmp(method, "stream", 6) == 0) {
        long count = args_len > 1 ? strtol(args + 1, NULL, 10) : 0;
        int  len;

        if (rid_len > 200) {
            return;
        }
        for (long i = 0; i < count; i++) {
            len = snprintf(small, sizeof(small), "{\"type\": \"streaming\", "
                           "\"request_id\": %.*s, \"data\": %ld}",
                           (int) rid_len, rid, i);
            reply(d, &f[1], small, (size_t) len);
        }
        len = snprintf(small, sizeof(small), "{\"type\": \"end\", "
                       "\"request_id\": %.*s}", (int) rid_len, rid);
        reply(d, &f[1], small, (size_t) len);
    } else if (mlen == 4 && memcmp(method, "slow", 4) == 0) {
        d->held++;                      /* never answered */
    } else {
        static const char e[] = "{\"type\": \"error\", \"error\": "
                                "\"Method not found\"}";
        reply(d, &f[1], e, sizeof(e) - 1);
    }
}

/* Reads and handles every message waiting on d. */
static void
drain(dealer_t *d)
{
    zmq_msg_t f[MAX_FRAMES], spill;

    for (;;) {
        int n = 0, more = 1;

        while (more) {
            zmq_msg_t *m = n < MAX_FRAMES ? &f[n] : &spill;

            zmq_msg_init(m);
            if (zmq_msg_recv(m, d->socket, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
                zmq_msg_close(m);
                for (int i = 0; i < n; i++) {
                    zmq_msg_close(&f[i]);
                }
                return;
            }
            more = zmq_msg_more(m);
            if (m == &spill) {
                zmq_msg_close(m);       /* frames past MAX_FRAMES: dropped */
            } else {
                n++;
            }
        }
        if (zmq_msg_size(&f[0]) == 16
            && memcmp(zmq_msg_data(&f[0]), "call_from_router", 16) == 0)
        {
            on_call(d, f, n);
        }
        /* register_ack, heartbeat_ack, error, router_shutdown: ignored */
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&f[i]);
        }
    }
}

int
main(int argc, char **argv)
{
    const char *endpoint = NULL;
    int         n = 1, max_concurrent = 0, opt, linger = 0, hwm = 100000;
    double      next_beat;
    void       *ctx;

    while ((opt = getopt(argc, argv, "e:n:c:")) != -1) {
        switch (opt) {
        case 'e': endpoint = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'c': max_concurrent = atoi(optarg); break;
        default: endpoint = NULL; n = 0; break;
        }
    }
    if (endpoint == NULL || n < 1 || n > MAX_DEALERS) {
        fprintf(stderr, "usage: vr_echo_dealer -e ENDPOINT [-n DEALERS] "
                "[-c MAX_CONCURRENT]\n");
        return 2;
    }
    srand((unsigned) (time(NULL) ^ (getpid() << 16)));
    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, MAX_DEALERS + 64);
    for (int i = 0; i < n; i++) {
        dealer_t *d = &dealers[i];

        snprintf(d->id, sizeof(d->id), "Echo-%08x",
                 (unsigned) rand() ^ ((unsigned) i << 20));
        d->socket = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(d->socket, ZMQ_ROUTING_ID, d->id, strlen(d->id));
        zmq_setsockopt(d->socket, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(d->socket, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(d->socket, ZMQ_RCVHWM, &hwm, sizeof(hwm));
        if (zmq_connect(d->socket, endpoint) != 0) {
            fprintf(stderr, "vr_echo_dealer: connect %s: %s\n", endpoint,
                    zmq_strerror(zmq_errno()));
            return 1;
        }
        items[i].socket = d->socket;
        items[i].events = ZMQ_POLLIN;
        send_register(d, max_concurrent);
        send_heartbeat(d);
    }
    next_beat = now_s() + 1.0;
    for (;;) {
        double wait = next_beat - now_s();

        if (zmq_poll(items, n, wait > 0 ? (long) (wait * 1000) + 1 : 0) < 0) {
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                drain(&dealers[i]);
            }
        }
        if (now_s() >= next_beat) {
            for (int i = 0; i < n; i++) {
                send_heartbeat(&dealers[i]);
            }
            next_beat += 1.0;
        }
    }
}
