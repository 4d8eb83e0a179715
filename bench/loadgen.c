/*
 * loadgen.c: a closed-loop ZeroMQ load generator for the benchmarks.
 *
 * N DEALER sockets carry K requests in flight in total (slot i on socket
 * i mod N); each answer sends that slot's next request at once.  Every
 * request's latency is measured with CLOCK_MONOTONIC from its send to its
 * answer.  After a warm-up, D seconds are measured; the result is one JSON
 * line on stdout: req/s and p50/p99/p99.9 latency in microseconds.
 *
 * Protocols:
 *   rep       to ref_proxy + ref_worker: ["", payload] (REP envelope);
 *             the payload's first 20 bytes are the request's number
 *   voidrail  to the gateway: ["call_from_client", METHOD, RequestJSON]
 *             with "request_id": "<number>", "args": ["<S bytes>"];
 *             answers ["reply_from_router", ResponseJSON] are matched by
 *             request_id
 *
 *   loadgen -p rep|voidrail -e ENDPOINT [-n SOCKETS] [-k IN_FLIGHT]
 *           [-s SIZE] [-d SECONDS] [-w WARMUP] [-r REQUESTS] [-H HOLD]
 *           [-m METHOD]
 * -r: send exactly REQUESTS requests, then wait for their answers (the
 *     duration is then only an upper bound; no warm-up is used).
 * -H: after the result line, keep every socket open HOLD seconds (idle
 *     clients scenario).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_SOCKETS  8192
#define SEQ_DIGITS   20

typedef struct {
    uint64_t seq;               /* the number of its request in flight */
    uint64_t start_ns;
    bool     busy;
} slot_t;

static bool      voidrail;
static int       nsockets = 1, inflight = 1, size = 100;
static double    duration = 5, warmup = 1, hold;
static uint64_t  limit;             /* -r */
static const char *method = "Echo.echo";

static void     *sockets[MAX_SOCKETS];
static slot_t   *slots;
static char     *payload;           /* rep: the payload; voidrail: the body */
static size_t    args_at;           /* voidrail: where the digits go */

static uint64_t *lat;               /* latencies of the measured window */
static size_t    nlat, lat_cap;
static uint64_t  issued, completed, errors, unmatched;

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

/* ---- requests --------------------------------------------------------- */

static void
build_template(void)
{
    if (!voidrail) {
        if (size < SEQ_DIGITS) {
            size = SEQ_DIGITS;
        }
        payload = malloc((size_t) size);
        memset(payload, 'x', (size_t) size);
        return;
    }
    /* {"type": "request", "request_id": "<20 digits>", ..."args": ["x.."]} */
    static const char a[] = "{\"type\": \"request\", \"request_id\": \"";
    char b[600];
    int  blen = snprintf(b, sizeof(b), "\", \"func_name\": \"%s\", "
                         "\"request_step\": \"READY\", \"args\": [\"", method);
    static const char c[] = "\"], \"kwargs\": {}}";
    size_t len = sizeof(a) - 1 + SEQ_DIGITS + (size_t) blen + (size_t) size
                 + sizeof(c) - 1;
    char  *p = payload = malloc(len + 1);

    memcpy(p, a, sizeof(a) - 1);
    p += sizeof(a) - 1;
    args_at = (size_t) (p - payload);
    memset(p, '0', SEQ_DIGITS);
    p += SEQ_DIGITS;
    memcpy(p, b, (size_t) blen);
    p += blen;
    memset(p, 'x', (size_t) size);
    p += size;
    memcpy(p, c, sizeof(c));
    size = (int) len;               /* from now on: the body's size */
}

static void
send_request(int i)
{
    slot_t *s = &slots[i];
    void   *sock = sockets[i % nsockets];
    char    digits[SEQ_DIGITS + 1];

    snprintf(digits, sizeof(digits), "%020" PRIu64, s->seq);
    if (voidrail) {
        memcpy(payload + args_at, digits, SEQ_DIGITS);
        zmq_send(sock, "call_from_client", 16, ZMQ_SNDMORE);
        zmq_send(sock, method, strlen(method), ZMQ_SNDMORE);
    } else {
        memcpy(payload, digits, SEQ_DIGITS);
        zmq_send(sock, "", 0, ZMQ_SNDMORE);
    }
    s->start_ns = now_ns();
    s->busy = true;
    zmq_send(sock, payload, (size_t) size, 0);
    issued++;
}

/* ---- answers ---------------------------------------------------------- */

/* The number in the first SEQ_DIGITS bytes at p; false if not digits. */
static bool
parse_seq(const char *p, size_t len, uint64_t *seq)
{
    uint64_t v = 0;

    if (len < SEQ_DIGITS) {
        return false;
    }
    for (int i = 0; i < SEQ_DIGITS; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t) (p[i] - '0');
    }
    *seq = v;
    return true;
}

/*
 * A ResponseJSON: its request number and whether it is a "reply".  The
 * request_id is looked for as the top-level key; the gateway and the echo
 * dealer put "type" and "request_id" first, so the scan stops early.
 */
static bool
parse_response(const char *p, size_t len, uint64_t *seq, bool *ok)
{
    static const char key[] = "\"request_id\": \"";
    const char       *e = p + len, *q;

    *ok = len > 17 && memcmp(p, "{\"type\": \"reply\",", 17) == 0;
    for (q = p; q + sizeof(key) - 1 + SEQ_DIGITS <= e; q++) {
        q = memchr(q, '"', (size_t) (e - q));
        if (q == NULL || q + sizeof(key) - 1 + SEQ_DIGITS > e) {
            return false;
        }
        if (memcmp(q, key, sizeof(key) - 1) == 0) {
            return parse_seq(q + sizeof(key) - 1, SEQ_DIGITS, seq);
        }
    }
    return false;
}

static void
record(uint64_t ns)
{
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 1 << 16;
        lat = realloc(lat, lat_cap * sizeof(*lat));
    }
    lat[nlat++] = ns;
}

/*
 * Reads one message from sock (false when none is waiting) and completes
 * its slot.  measuring: its latency counts.
 */
static bool
receive(void *sock, bool measuring, bool resend)
{
    zmq_msg_t f[4];
    int       n = 0, more = 1;
    uint64_t  seq, t;
    bool      ok = false, found = false;

    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n && i < 4; i++) {
                zmq_msg_close(&f[i]);
            }
            return false;
        }
        more = zmq_msg_more(&m);
        if (n < 4) {
            f[n] = m;
        } else {
            zmq_msg_close(&m);
        }
        n++;
    }
    t = now_ns();
    if (voidrail && n >= 2) {
        found = parse_response(zmq_msg_data(&f[n - 1 < 4 ? n - 1 : 3]),
                               zmq_msg_size(&f[n - 1 < 4 ? n - 1 : 3]),
                               &seq, &ok);
        ok = ok && zmq_msg_size(&f[0]) == 17
             && memcmp(zmq_msg_data(&f[0]), "reply_from_router", 17) == 0;
    } else if (!voidrail && n == 2) {
        found = parse_seq(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), &seq);
        ok = found;
    }
    for (int i = 0; i < n && i < 4; i++) {
        zmq_msg_close(&f[i]);
    }
    if (!found || !slots[seq % (uint64_t) inflight].busy
        || slots[seq % (uint64_t) inflight].seq != seq)
    {
        unmatched++;
        return true;
    }
    slot_t *s = &slots[seq % (uint64_t) inflight];
    s->busy = false;
    completed++;
    if (!ok) {
        errors++;
    }
    if (measuring) {
        record(t - s->start_ns);
    }
    s->seq += (uint64_t) inflight;
    if (resend && (limit == 0 || issued < limit)) {
        send_request((int) (seq % (uint64_t) inflight));
    }
    return true;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

static double
percentile_us(double p)
{
    size_t i;

    if (nlat == 0) {
        return 0;
    }
    i = (size_t) (p * (double) nlat);
    if (i >= nlat) {
        i = nlat - 1;
    }
    return (double) lat[i] / 1000.0;
}

int
main(int argc, char **argv)
{
    static zmq_pollitem_t items[MAX_SOCKETS];
    const char *endpoint = NULL, *proto = NULL;
    uint64_t    t0, measure_from, measure_to, measured = 0;
    int         opt, linger = 0, hwm = 1000000;
    void       *ctx;

    while ((opt = getopt(argc, argv, "p:e:n:k:s:d:w:r:H:m:")) != -1) {
        switch (opt) {
        case 'p': proto = optarg; break;
        case 'e': endpoint = optarg; break;
        case 'n': nsockets = atoi(optarg); break;
        case 'k': inflight = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'd': duration = atof(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'r': limit = strtoull(optarg, NULL, 10); break;
        case 'H': hold = atof(optarg); break;
        case 'm': method = optarg; break;
        default: proto = NULL; break;
        }
    }
    if (proto == NULL || endpoint == NULL || nsockets < 1
        || nsockets > MAX_SOCKETS || inflight < 1 || size < 0
        || (strcmp(proto, "rep") != 0 && strcmp(proto, "voidrail") != 0))
    {
        fprintf(stderr, "usage: loadgen -p rep|voidrail -e ENDPOINT "
                "[-n SOCKETS] [-k IN_FLIGHT] [-s SIZE] [-d SECONDS] "
                "[-w WARMUP] [-r REQUESTS] [-H HOLD] [-m METHOD]\n");
        return 2;
    }
    voidrail = strcmp(proto, "voidrail") == 0;
    if (limit > 0) {
        warmup = 0;
    }
    build_template();
    slots = calloc((size_t) inflight, sizeof(*slots));
    srand((unsigned) (time(NULL) ^ getpid()));

    ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, MAX_SOCKETS + 64);
    for (int i = 0; i < nsockets; i++) {
        char id[33];

        sockets[i] = zmq_socket(ctx, ZMQ_DEALER);
        /* A client identity like the Python client's: 32 hex digits. */
        for (int j = 0; j < 32; j++) {
            id[j] = "0123456789abcdef"[rand() % 16];
        }
        zmq_setsockopt(sockets[i], ZMQ_ROUTING_ID, id, 32);
        zmq_setsockopt(sockets[i], ZMQ_LINGER, &linger, sizeof(linger));
        zmq_setsockopt(sockets[i], ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(sockets[i], ZMQ_RCVHWM, &hwm, sizeof(hwm));
        if (zmq_connect(sockets[i], endpoint) != 0) {
            fprintf(stderr, "loadgen: connect %s: %s\n", endpoint,
                    zmq_strerror(zmq_errno()));
            return 1;
        }
        items[i].socket = sockets[i];
        items[i].events = ZMQ_POLLIN;
    }

    t0 = now_ns();
    measure_from = t0 + (uint64_t) (warmup * 1e9);
    measure_to = measure_from + (uint64_t) (duration * 1e9);
    for (int i = 0; i < inflight && (limit == 0 || issued < limit); i++) {
        slots[i].seq = (uint64_t) i;
        send_request(i);
    }
    for (;;) {
        uint64_t t = now_ns();
        bool     measuring = t >= measure_from;
        long     wait_ms;

        if (t >= measure_to || (limit > 0 && completed >= limit)) {
            measure_to = t < measure_to ? t : measure_to;
            break;
        }
        if (measuring && measured == 0) {
            measured = 1;
            nlat = 0;
        }
        wait_ms = (long) ((measure_to - t) / 1000000) + 1;
        if (!measuring && (long) ((measure_from - t) / 1000000) + 1 < wait_ms) {
            wait_ms = (long) ((measure_from - t) / 1000000) + 1;
        }
        if (zmq_poll(items, nsockets, wait_ms > 100 ? 100 : wait_ms) < 0) {
            return 1;
        }
        for (int i = 0; i < nsockets; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                /* Drain, but bounded: the other sockets get their turn. */
                for (int k = 0; k < 64 && receive(sockets[i], measuring, true);
                     k++)
                {
                }
            }
        }
    }

    {
        double secs = (double) (measure_to - (limit > 0 ? t0 : measure_from))
                      / 1e9;
        size_t outstanding = 0;

        for (int i = 0; i < inflight; i++) {
            outstanding += slots[i].busy;
        }
        qsort(lat, nlat, sizeof(*lat), cmp_u64);
        printf("{\"proto\": \"%s\", \"sockets\": %d, \"inflight\": %d, "
               "\"bytes\": %d, \"seconds\": %.3f, \"requests\": %zu, "
               "\"rps\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
               "\"p999_us\": %.1f, \"max_us\": %.1f, \"errors\": %" PRIu64
               ", \"unmatched\": %" PRIu64 ", \"outstanding\": %zu, "
               "\"completed\": %" PRIu64 "}\n",
               proto, nsockets, inflight, size, secs, nlat,
               secs > 0 ? (double) nlat / secs : 0.0, percentile_us(0.50),
               percentile_us(0.99), percentile_us(0.999),
               nlat ? (double) lat[nlat - 1] / 1000.0 : 0.0, errors, unmatched,
               outstanding, completed);
        fflush(stdout);
    }
    if (hold > 0) {
        uint64_t until = now_ns() + (uint64_t) (hold * 1e9);
        while (now_ns() < until) {
            zmq_poll(items, nsockets, 100);
            for (int i = 0; i < nsockets; i++) {
                if (items[i].revents & ZMQ_POLLIN) {
                    while (receive(sockets[i], false, false)) {
                    }
                }
            }
        }
    }
    return 0;
}
