/*
 * fuzz_http.c: the HTTP front end (src/vr_http*.c, the routes of every
 * module, libmicrohttpd as the gateway runs it), driven through a real
 * loopback connection.
 *
 * The gateway runs in this process, configured once: the broker on an
 * inproc:// endpoint with one dealer of our own (group Fz: `echo` answers
 * its arguments, `stream` streams them as chunks, `fail` answers an
 * error, `mute` never answers, `slow` answers after a few loop turns),
 * HTTP on 127.0.0.1, client keys required (one for everything, one scoped
 * to two methods and limited).  An input is the bytes a client sends: a
 * request line (route and query string), headers and a body, maybe
 * several requests.  They are written on a new connection, whose writing
 * side is then shut; the loop turns until the gateway closes it, or no
 * call is waiting at the broker and nothing has moved for QUIET_MS; then
 * the connection is reset.  Properties: that happens within
 * VR_FUZZ_HTTP_MS (a call that never ends is a finding); what the gateway
 * wrote starts with a status line "HTTP/1.x NNN", NNN from 100 to 599,
 * and a whole head; once the connection is reset, no request is left in
 * progress on the HTTP side and no call at the broker within
 * VR_FUZZ_HTTP_MS.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_buf.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "fuzz.h"

#define EP              "inproc://fuzz-http"
#define DEALER_ID       "Fz-00000001"
#define KEY             "fuzz-http-key"
#define KEY_SCOPED      "fuzz-http-scoped"
#define MAX_INPUT       (256 << 10)
#define VR_FUZZ_HTTP_MS 5000    /* everything answered by then */
#define QUIET_MS        50      /* nothing sent or received this long */
#define SLOW_TURNS      3
#define NHELD           16

static vr_cycle_t *cycle;
static vr_loop_t  *loop;
static void       *zctx;
static void       *dealer;
static int         port;

/* A call the dealer holds: `slow` (answered after a few turns) or `mute`
 * (answered, late, only when the connection is over). */
typedef struct {
    vr_buf_t  cid;
    vr_buf_t  rid;
    int       turns;            /* -1: until released */
    bool      used;
} held_t;

static held_t held[NHELD];

static const char *config_fmt =
    "log:\n"
    "  file: /dev/null\n"
    "  level: debug\n"
    "router:\n"
    "  bind: " EP "\n"
    "  request_timeout: 1s\n"
    "  methods:\n"
    "    Fz.mute:\n"
    "      timeout: 200ms\n"
    "http:\n"
    "  listen: 127.0.0.1:%d\n"
    "  access_log: /dev/null\n"
    "  max_body: 64KiB\n"
    "auth:\n"
    "  client_keys:\n"
    "    - " KEY "\n"
    "    - key: " KEY_SCOPED "\n"
    "      methods: [\"Fz.echo\", \"Fz.stream\"]\n"
    "      rate: 50/s\n"
    "      burst: 5\n"
    "      concurrency: 2\n"
    "  max_failures: 0\n";

static void
dealer_send(const char *parts[], const size_t lens[], int n)
{
    for (int i = 0; i < n; i++) {
        if (zmq_send(dealer, parts[i], lens[i],
                     i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
        {
            fuzz_fail("the dealer cannot send: %s", zmq_strerror(errno));
        }
    }
}

static void
dealer_reply(const vr_buf_t *cid, const char *json)
{
    const char *parts[3] = { "reply_from_dealer", cid->p, json };
    size_t      lens[3] = { 17, cid->len, strlen(json) };

    dealer_send(parts, lens, 3);
}

/* The request_id of a RequestJSON (the broker writes it unescaped-safe). */
static void
request_id(const char *body, size_t len, vr_buf_t *out)
{
    const char *p = memmem(body, len, "\"request_id\": \"", 15);
    const char *end;

    fuzz_assert(p != NULL, "a call without request_id: %.*s", (int) len,
                body);
    p += 15;
    end = memchr(p, '"', (size_t) (body + len - p));
    fuzz_assert(end != NULL, "an unterminated request_id");
    vr_buf_add(out, p, (size_t) (end - p));
    vr_buf_add(out, "", 1);
    out->len--;
}

/* Answers a call at once: its args as result or chunks, or an error. */
static void
answer(const vr_buf_t *cid, const char *rid, const char *func,
       const char *body, size_t len)
{
    char        text[1024];
    const char *args = memmem(body, len, "\"args\": ", 8);
    const char *kw = memmem(body, len, ", \"kwargs\"", 10);
    int         n = 4;

    if (args != NULL && kw != NULL && kw > args && kw - args - 8 <= 900) {
        args += 8;
        n = (int) (kw - args);
    } else {
        args = "null";
    }
    if (strcmp(func, "Fz.stream") == 0) {
        for (int i = 0; i < 2; i++) {
            snprintf(text, sizeof(text), "{\"type\": \"streaming\", "
                     "\"request_id\": \"%s\", \"data\": %.*s}", rid, n, args);
            dealer_reply(cid, text);
        }
        snprintf(text, sizeof(text), "{\"type\": \"end\", \"request_id\": "
                 "\"%s\"}", rid);
    } else if (strcmp(func, "Fz.fail") == 0) {
        snprintf(text, sizeof(text), "{\"type\": \"error\", \"request_id\": "
                 "\"%s\", \"error\": \"asked to fail\"}", rid);
    } else {
        snprintf(text, sizeof(text), "{\"type\": \"reply\", \"request_id\": "
                 "\"%s\", \"result\": %.*s}", rid, n, args);
    }
    dealer_reply(cid, text);
}

static bool
frame_is(zmq_msg_t *m, const char *s)
{
    return zmq_msg_size(m) == strlen(s)
           && memcmp(zmq_msg_data(m), s, strlen(s)) == 0;
}

static void
on_call(zmq_msg_t *parts)
{
    vr_buf_t    cid = VR_BUF_INIT, rid = VR_BUF_INIT, func = VR_BUF_INIT;
    const char *body = zmq_msg_data(&parts[3]);
    size_t      len = zmq_msg_size(&parts[3]);
    held_t     *h = NULL;

    vr_buf_add(&cid, zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]));
    vr_buf_add(&func, zmq_msg_data(&parts[2]), zmq_msg_size(&parts[2]));
    vr_buf_add(&func, "", 1);
    request_id(body, len, &rid);
    if (strcmp(func.p, "Fz.slow") == 0 || strcmp(func.p, "Fz.mute") == 0) {
        for (size_t i = 0; i < NHELD && h == NULL; i++) {
            h = held[i].used ? NULL : &held[i];
        }
    }
    if (h != NULL) {
        h->used = true;
        h->turns = strcmp(func.p, "Fz.slow") == 0 ? SLOW_TURNS : -1;
        h->cid = cid;
        h->rid = rid;
    } else {
        answer(&cid, rid.p, func.p, body, len);
        vr_buf_free(&cid);
        vr_buf_free(&rid);
    }
    vr_buf_free(&func);
}

/* A cancel ends the held calls of that client. */
static void
on_cancel(zmq_msg_t *cid)
{
    for (size_t i = 0; i < NHELD; i++) {
        if (held[i].used && held[i].cid.len == zmq_msg_size(cid)
            && memcmp(held[i].cid.p, zmq_msg_data(cid), held[i].cid.len) == 0)
        {
            held[i].turns = 0;
        }
    }
}

/* Reads what the broker sent the dealer, answers calls, and ends the held
 * ones whose time has come. */
static void
dealer_turn(void)
{
    zmq_msg_t parts[6];
    int       n, more;
    size_t    more_len = sizeof(more);

    for (;;) {
        zmq_msg_init(&parts[0]);
        if (zmq_msg_recv(&parts[0], dealer, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&parts[0]);
            break;
        }
        n = 1;
        for (;;) {
            zmq_getsockopt(dealer, ZMQ_RCVMORE, &more, &more_len);
            if (!more) {
                break;
            }
            fuzz_assert(n < 6, "a message to the dealer of over 6 frames");
            zmq_msg_init(&parts[n]);
            zmq_msg_recv(&parts[n], dealer, 0);
            n++;
        }
        if (n == 4 && frame_is(&parts[0], "call_from_router")) {
            on_call(parts);
        } else if (n >= 2 && frame_is(&parts[0], "cancel_from_router")) {
            on_cancel(&parts[1]);
        }
        for (int i = 0; i < n; i++) {
            zmq_msg_close(&parts[i]);
        }
    }
    for (size_t i = 0; i < NHELD; i++) {
        held_t *h = &held[i];
        char    text[512];

        if (!h->used || h->turns < 0 || h->turns-- > 0) {
            continue;
        }
        snprintf(text, sizeof(text), "{\"type\": \"reply\", \"request_id\": "
                 "\"%s\", \"result\": \"late\"}", h->rid.p);
        dealer_reply(&h->cid, text);
        vr_buf_free(&h->cid);
        vr_buf_free(&h->rid);
        h->used = false;
    }
}

/* Answers (late: the broker drops and counts them) what is still held. */
static void
dealer_release_all(void)
{
    for (size_t i = 0; i < NHELD; i++) {
        if (held[i].used) {
            held[i].turns = 0;
        }
    }
    dealer_turn();
}

static void
dealer_message(const char *type, const char *json)
{
    const char *parts[2] = { type, json };
    size_t      lens[2] = { strlen(type), strlen(json) };

    dealer_send(parts, lens, 2);
}

static int
free_tcp_port(void)
{
    struct sockaddr_in sa;
    socklen_t          len = sizeof(sa);
    int                fd = socket(AF_INET, SOCK_STREAM, 0), p;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || getsockname(fd, (struct sockaddr *) &sa, &len) != 0)
    {
        fuzz_fail("no free port: %s", strerror(errno));
    }
    p = ntohs(sa.sin_port);
    close(fd);
    return p;
}

static double
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char  text[1024];
    char *err = NULL;

    (void) argc;
    (void) argv;
    unsetenv("VOIDRAIL_DEALER_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
    vr_modules_index();
    port = free_tcp_port();
    snprintf(text, sizeof(text), config_fmt, port);
    cycle = vr_cycle_load("fuzz_http.yaml", text, &err);
    if (cycle == NULL) {
        fuzz_fail("the configuration: %s", err);
    }
    zctx = zmq_ctx_new();
    loop = vr_loop_new();
    cycle->generation = 1;
    cycle->loop = loop;
    cycle->zctx = zctx;
    if (vr_cycle_init(cycle, NULL) != VR_OK) {
        fuzz_fail("the gateway does not start (port %d)", port);
    }
    dealer = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(dealer, ZMQ_IDENTITY, DEALER_ID, strlen(DEALER_ID));
    if (zmq_connect(dealer, EP) != 0) {
        fuzz_fail("the dealer cannot connect: %s", zmq_strerror(errno));
    }
    dealer_message("register",
                   "{\"group\": \"Fz\", \"methods\": {\"echo\": {}, "
                   "\"stream\": {\"is_stream\": true}, \"fail\": {}, "
                   "\"slow\": {}, \"mute\": {}}, \"max_concurrent\": 64, "
                   "\"capabilities\": [\"cancel\"]}");
    for (int i = 0; i < 20; i++) {
        vr_loop_turn(loop, 5);
        dealer_turn();
    }
    return 0;
}

/* What the gateway wrote starts with a whole response head. */
static void
check_response(const vr_buf_t *out)
{
    const char *p = out->p;

    if (out->len == 0) {
        return;                 /* closed without a word: allowed */
    }
    fuzz_assert(out->len >= 12 && memcmp(p, "HTTP/1.", 7) == 0
                && (p[7] == '0' || p[7] == '1') && p[8] == ' ',
                "the answer does not start with a status line: %.40s", p);
    fuzz_assert(p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9'
                && p[11] >= '0' && p[11] <= '9',
                "a status that is not 100-599: %.12s", p);
    fuzz_assert(memmem(p, out->len, "\r\n\r\n", 4) != NULL,
                "the response head is not ended: %.*s",
                (int) (out->len > 200 ? 200 : out->len), p);
}

/* Writes the input, reads what comes back until the gateway closes the
 * connection or is done with it. */
static void
exchange(int fd, const uint8_t *data, size_t size, vr_buf_t *out)
{
    size_t  sent = 0;
    bool    shut = false;
    double  deadline = wall_ms() + VR_FUZZ_HTTP_MS, quiet = wall_ms();
    char    buf[16384];
    ssize_t n;

    for (;;) {
        if (sent < size) {
            n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t) n;
                quiet = wall_ms();
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                sent = size;    /* the gateway closed: it read enough */
            }
        }
        if (sent == size && !shut) {
            shutdown(fd, SHUT_WR);
            shut = true;
        }
        vr_loop_turn(loop, 1);
        dealer_turn();
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
            if (out->len < (1 << 20)) {
                vr_buf_add(out, buf, (size_t) n);
            }
            quiet = wall_ms();
        }
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            return;
        }
        if (shut && vr_broker_pending(cycle->broker) == 0
            && wall_ms() - quiet > QUIET_MS)
        {
            /* No call is waiting and nothing moves: the gateway waits for
             * more (a kept-alive connection, an incomplete request: MHD
             * need not see the half-close).  We give up; it must then
             * let go of everything (below). */
            return;
        }
        fuzz_assert(wall_ms() < deadline,
                    "requests still in progress after %d ms (%zu of %zu "
                    "bytes sent, %zu received: %.*s)", VR_FUZZ_HTTP_MS,
                    sent, size, out->len,
                    (int) (out->len > 300 ? 300 : out->len),
                    out->p != NULL ? out->p : "");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_in sa;
    struct linger      off = { 1, 0 };
    vr_buf_t           out = VR_BUF_INIT;
    double             deadline;
    int                fd;

    if (cycle == NULL) {
        LLVMFuzzerInitialize(NULL, NULL);
    }
    if (size > MAX_INPUT) {
        size = MAX_INPUT;
    }
    dealer_message("heartbeat", "{\"processing_requests\": 0}");
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        fuzz_fail("cannot connect to the gateway: %s", strerror(errno));
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    exchange(fd, data, size, &out);
    /* A reset, as from a client that gives up: the gateway sees it. */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof(off));
    close(fd);
    vr_buf_add(&out, "", 1);    /* a C string for the messages */
    out.len--;
    check_response(&out);
    vr_buf_free(&out);

    /* The connection is gone: nothing of it may stay, here or held. */
    dealer_release_all();
    deadline = wall_ms() + VR_FUZZ_HTTP_MS;
    while (vr_http_stats()->connections > 0
           || vr_broker_pending(cycle->broker) > 0)
    {
        fuzz_assert(wall_ms() < deadline, "after the connection closed, "
                    "%zu HTTP requests and %zu calls are still going",
                    vr_http_stats()->connections,
                    vr_broker_pending(cycle->broker));
        vr_loop_turn(loop, 1);
        dealer_turn();
    }
    return 0;
}
