/*
 * fuzz_wire.c: the broker as peers see it: the frame decoder, the message
 * switch and the state machine behind it (dealers, queues, requests,
 * auth, deadlines), driven by fake peers.
 *
 * Each input builds a fresh broker on an inproc:// endpoint in a ZeroMQ
 * context of its own, with a virtual clock, and replays a script decoded
 * from the input bytes (see the op codes below): multipart messages from
 * five DEALER peers (frames written out, or picked from a table of type
 * words, method names and JSON bodies), peers acting as dealers that
 * answer what they were given, peers dying and reconnecting, time
 * passing, operator actions, reloads, and calls entering the broker the
 * way the HTTP side makes them (src/vr_call.c), cancelled at will.  After
 * every step the broker's books must balance; broker-made answers must be
 * valid JSON; every HTTP-side call gets exactly one terminal event; at the
 * end the broker stops and everything is freed (no timer left armed).
 *
 * The loop's clock: this program is linked with
 * -Wl,--wrap=clock_gettime, so that CLOCK_MONOTONIC as the gateway reads
 * it is the script's own time and timeouts fire deterministically.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_call.h"
#include "vr_cycle.h"
#include "vr_dealer.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_method.h"
#include "vr_module.h"
#include "vr_request.h"
#include "vr_wire.h"
#include "fuzz.h"

/* ---- the virtual clock ------------------------------------------------- */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
int __wrap_clock_gettime(clockid_t id, struct timespec *ts);

static int64_t fake_now_ms = 1000000;

int
__wrap_clock_gettime(clockid_t id, struct timespec *ts)
{
    if (id == CLOCK_MONOTONIC) {
        ts->tv_sec = fake_now_ms / 1000;
        ts->tv_nsec = (fake_now_ms % 1000) * 1000000L;
        return 0;
    }
    return __real_clock_gettime(id, ts);
}

/* ---- configurations ---------------------------------------------------- */

#define EP "inproc://fuzz-wire"

static const char *variants[] = {
    /* 0: the defaults */
    "router:\n  bind: " EP "\n  send_router_shutdown: false\n",
    /* 1: short limits, load_balance, retries, small queues and frames */
    "router:\n  bind: " EP "\n  send_router_shutdown: false\n"
    "  mode: load_balance\n  heartbeat_timeout: 1s\n  busy_timeout: 2s\n"
    "  probe_interval: 100ms\n  request_timeout: 3s\n"
    "  no_service_wait: 300ms\n  max_queue: 3\n  max_message: 1KiB\n"
    "  dealer_capacity: 2\n  max_capacity: 3\n"
    "  methods:\n    \"Svc.s*\": { timeout: 250ms, max_attempts: 3 }\n"
    "    \"*\": { max_queue: 2, max_attempts: 2 }\n"
    "  services:\n    Svc: { capacity: 2 }\n",
    /* 2: keys on both sides, two remembered clients */
    "router:\n  bind: " EP "\n  send_router_shutdown: false\n"
    "  heartbeat_timeout: 500ms\n  request_timeout: 1s\n"
    "auth:\n  dealer_keys: [dk, \"sha256:9f86d081884c7d659a2feaa0c55ad015"
    "a3bf4f1b2b0b822cd15d6c15b0f00a08\"]\n  client_keys: [ck, ck2]\n"
    "  max_clients: 2\n",
    /* 3: fifo with waits for a service, client keys only */
    "router:\n  bind: " EP "\n  send_router_shutdown: false\n"
    "  no_service_wait: 2s\n  request_timeout: 10s\n  max_capacity: 2\n"
    "auth:\n  client_keys: ck\n",
};
#define NVARIANTS  vr_nelems(variants)

static vr_cycle_t *cycles[NVARIANTS];

extern vr_module_t vr_auth_module;

/* ---- frames ------------------------------------------------------------ */

#define NPEERS 5
static const char *peer_ids[NPEERS] = {
    "Svc-00000001", "Svc-00000002", "Other-0000000a", "client-A",
    "\xff\x01kl\xc3"                /* not UTF-8 */
};

static const char *canned[] = {
    "register", "heartbeat", "reply_from_dealer", "shutdown", "overload",
    "resume", "auth", "methods", "clusters", "router_info", "queue_status",
    "call_from_client", "router_monitor", "", "frobnicate",
    "Svc.echo", "Svc.stream", "Other.x", "Nope.nothing", "Svc-00000001",
    "Svc-00000002", "Other-0000000a", "client-A", "\xff\x01kl\xc3",
    "{\"group\": \"Svc\", \"methods\": {\"echo\": {\"description\": null, "
    "\"params\": null, \"stream\": false, \"metadata\": {}}, \"stream\": "
    "{\"stream\": true}}, \"api_key\": null, \"remote_addr\": \"127.0.0.1 "
    "[PID:1, ID:00000001]\", \"host_info\": {\"hostname\": \"h\", \"ip\": "
    "\"127.0.0.1\", \"pid\": 1}}",
    "{\"group\": \"Svc\", \"methods\": {\"echo\": {}, \"stream\": {}}, "
    "\"api_key\": \"dk\", \"max_concurrent\": 3, \"capabilities\": "
    "[\"cancel\", \"request_id_errors\"]}",
    "{\"group\": \"Other\", \"methods\": {\"x\": {}}, \"api_key\": \"test\", "
    "\"remote_addr\": \"10.0.0.1:5000\", \"host_info\": {\"pid\": 7}}",
    "{\"methods\": {\"echo\": {}}, \"capabilities\": [\"cancel\"]}",
    "{\"api_key\": null, \"processing_requests\": 1, \"is_busy\": true}",
    "{\"pending_requests\": 0}",
    "{\"type\": \"request\", \"request_id\": \"r1\", \"func_name\": "
    "\"Svc.echo\", \"request_step\": \"READY\", \"args\": [\"hi\"], "
    "\"kwargs\": {}}",
    "{\"type\": \"request\", \"request_id\": \"r2\", \"args\": [], "
    "\"kwargs\": {\"a\": 1}}",
    "{\"request_id\": \"r\\u0031\", \"args\": [1]}",
    "{\"request_id\": \"r3\", \"args\": 5}",
    "{\"type\": \"reply\", \"request_id\": \"r1\", \"result\": \"hi\"}",
    "{\"type\": \"streaming\", \"request_id\": \"r1\", \"data\": 1}",
    "{\"type\": \"end\", \"request_id\": \"r1\"}",
    "{\"type\": \"error\", \"error\": \"boom\"}",
    "{\"api_key\": \"ck\", \"client_id\": \"client-A\"}",
    "{\"api_key\": \"nope\"}",
    "{\"type\": \"reply\", \"request_id\": \"r2\", \"result\": 2}",
    "{}", "[]", "null", "{\"type\": ",
};
#define NCANNED  vr_nelems(canned)

/* Bodies with a hole for bytes of the input (inserted raw). */
static const char *templates[] = {
    "{\"group\": \"%.*s\", \"methods\": {\"echo\": {}}}",
    "{\"group\": \"Svc\", \"methods\": {\"%.*s\": {}}}",
    "{\"type\": \"request\", \"request_id\": \"%.*s\", \"args\": [], "
    "\"kwargs\": {}}",
    "{\"type\": \"reply\", \"request_id\": \"%.*s\", \"result\": 1}",
    "{\"type\": \"streaming\", \"request_id\": \"%.*s\", \"data\": 0}",
    "{\"type\": \"end\", \"request_id\": \"%.*s\"}",
    "{\"type\": \"error\", \"request_id\": \"%.*s\", \"error\": \"x\"}",
    "{\"processing_requests\": %.*s}",
    "{\"group\": \"Svc\", \"methods\": {\"echo\": {}}, "
    "\"max_concurrent\": %.*s}",
    "{\"api_key\": \"%.*s\"}",
    "Svc.%.*s",
    "{\"group\": \"Svc\", \"methods\": {\"echo\": {}}, "
    "\"capabilities\": %.*s}",
};
#define NTEMPLATES  vr_nelems(templates)

typedef struct {
    char   *p;
    size_t  len;
} frame_t;

/*
 * One frame from the input:
 *   0x00-0x3f  that many bytes follow
 *   0x40-0x7f  a canned frame
 *   0x80-0xbf  (d - 0x80) * 64 + next byte bytes follow (up to 4 KiB)
 *   0xc0-0xff  a template, filled with (next byte) bytes
 */
static void
read_frame(fuzz_in_t *in, frame_t *f)
{
    unsigned       d = fuzz_byte(in);
    const uint8_t *p;
    size_t         n, len;

    if (d < 0x40 || (d >= 0x80 && d < 0xc0)) {
        n = d < 0x40 ? d : (d - 0x80) * 64 + fuzz_byte(in);
        p = fuzz_bytes(in, n, &len);
        f->p = vr_memdup(p, len);
        f->len = len;
    } else if (d < 0x80) {
        const char *s = canned[(d - 0x40) % NCANNED];
        f->len = strlen(s);
        f->p = vr_memdup(s, f->len + 1);
    } else {
        const char *t = templates[(d - 0xc0) % NTEMPLATES];
        vr_buf_t    b = VR_BUF_INIT;

        n = fuzz_byte(in);
        p = fuzz_bytes(in, n, &len);
        vr_buf_printf_b(&b, t, (int) len, (const char *) p);
        /* printf stops at a NUL of the input: fine, shorter frame. */
        f->p = vr_buf_steal(&b, &f->len);
    }
}

/* ---- the state of one run ---------------------------------------------- */

/* A call made the way the HTTP side makes it, and what it heard. */
typedef struct {
    vr_request_t *r;            /* until released */
    bool          used;
    bool          released;
    bool          client_gone;  /* deliver() answers VR_ERROR */
    int           terminal;     /* final deliveries and failures */
} hcall_t;

#define NHCALLS 16

typedef struct {
    void        *zctx;
    vr_loop_t   *loop;
    vr_broker_t *b;
    void        *peers[NPEERS];
    vr_router_conf_t confs[NVARIANTS];
    char        *binds[NVARIANTS][1];
    int          variant;
    unsigned     generation;
    hcall_t      calls[NHCALLS];
} run_t;

static run_t *R;

/* ---- the HTTP side's origin ------------------------------------------- */

static hcall_t *
hcall_of(vr_request_t *r)
{
    hcall_t *c = r->origin_data;

    fuzz_assert(c != NULL && c->used && !c->released && c->r == r,
                "origin called for a request it does not know");
    return c;
}

static int
h_deliver(vr_request_t *r, vr_reply_kind_t kind, zmq_msg_t *payload)
{
    hcall_t    *c = hcall_of(r);
    const char *p = zmq_msg_data(payload), *v;
    size_t      n = zmq_msg_size(payload), vlen;
    vr_buf_t    b = VR_BUF_INIT;

    fuzz_assert(c->terminal == 0, "a message after the terminal one");
    /* What the HTTP side does with a dealer's message. */
    switch (kind) {
    case VR_REPLY_CHUNK:
        vr_call_chunk(p, n, &v, &vlen);
        fuzz_assert(vlen == 4 && memcmp(v, "null", 4) == 0
                    ? true : v >= p && v + vlen <= p + n,
                    "vr_call_chunk's value is outside the payload");
        break;
    case VR_REPLY_RESULT:
        if (vr_call_field(p, n, "result", &v, &vlen) == VR_OK) {
            fuzz_assert(vr_json_validate(v, vlen) == VR_OK,
                        "a result that is not JSON");
        }
        break;
    case VR_REPLY_ERROR:
        vr_call_error_text(p, n, &b);
        {
            vr_buf_t body = VR_BUF_INIT;
            char    *text = vr_strndup(b.p ? b.p : "", b.len);

            vr_call_error_body(&body, "dealer_error", text, r->rid);
            fuzz_assert(vr_json_validate(body.p, body.len) == VR_OK,
                        "vr_call_error_body wrote invalid JSON");
            vr_buf_free(&body);
            free(text);
        }
        break;
    default:
        break;
    }
    vr_buf_free(&b);
    if (kind != VR_REPLY_CHUNK) {
        c->terminal++;
    }
    return c->client_gone && kind == VR_REPLY_CHUNK ? VR_ERROR : VR_OK;
}

static void
h_fail(vr_request_t *r, vr_code_t code, const char *text)
{
    hcall_t *c = hcall_of(r);
    vr_buf_t body = VR_BUF_INIT;

    fuzz_assert(code < VR_CODE_COUNT, "unknown code %d", (int) code);
    fuzz_assert(c->terminal == 0, "a second terminal event (%s: %s)",
                vr_code_name(code), text);
    c->terminal++;
    vr_request_error_json(r, code, text, &body);
    fuzz_assert(vr_json_validate(body.p, body.len) == VR_OK,
                "the request's error JSON is invalid");
    vr_buf_free(&body);
}

static void
h_release(vr_request_t *r)
{
    hcall_t *c = hcall_of(r);

    /* Exactly one terminal event, unless the client went away first. */
    fuzz_assert(c->terminal == 1 || (c->terminal == 0 && c->client_gone),
                "request %s released after %d terminal events", r->rid,
                c->terminal);
    c->released = true;
    c->r = NULL;
}

static const vr_origin_t h_origin = {
    .deliver = h_deliver, .fail = h_fail, .release = h_release,
};

/* ---- peers ------------------------------------------------------------- */

static void *
peer_socket(int i)
{
    int zero = 0;

    if (R->peers[i] == NULL) {
        R->peers[i] = zmq_socket(R->zctx, ZMQ_DEALER);
        zmq_setsockopt(R->peers[i], ZMQ_LINGER, &zero, sizeof(zero));
        zmq_setsockopt(R->peers[i], ZMQ_ROUTING_ID, peer_ids[i],
                       strlen(peer_ids[i]));
        if (zmq_connect(R->peers[i], EP) != 0) {
            fuzz_fail("zmq_connect: %s", zmq_strerror(errno));
        }
    }
    return R->peers[i];
}

static void
peer_close(int i)
{
    if (R->peers[i] != NULL) {
        zmq_close(R->peers[i]);
        R->peers[i] = NULL;
    }
}

/* A message the broker wrote itself: its JSON must be valid. */
static void
check_incoming(zmq_msg_t *frames, size_t n)
{
    const char *type = zmq_msg_data(&frames[0]);
    size_t      tlen = zmq_msg_size(&frames[0]);

    fuzz_assert(n >= 1 && tlen > 0, "an empty message from the broker");
    if (vr_eq(type, tlen, "error") || vr_eq(type, tlen, "auth_ack")
        || vr_eq(type, tlen, "methods_ack")
        || vr_eq(type, tlen, "clusters_ack")
        || vr_eq(type, tlen, "router_info_ack")
        || vr_eq(type, tlen, "queue_status_ack"))
    {
        fuzz_assert(n == 2 && vr_json_validate(zmq_msg_data(&frames[1]),
                                               zmq_msg_size(&frames[1]))
                              == VR_OK,
                    "%.*s: not one valid JSON body", (int) tlen, type);
    } else if (vr_eq(type, tlen, "call_from_router")) {
        fuzz_assert(n >= 4, "call_from_router of %zu frames", n);
    } else if (vr_eq(type, tlen, "cancel_from_router")) {
        fuzz_assert(n == 3 && vr_json_validate(zmq_msg_data(&frames[2]),
                                               zmq_msg_size(&frames[2]))
                              == VR_OK, "cancel_from_router malformed");
    } else if (vr_eq(type, tlen, "shutdown_ack")) {
        fuzz_assert(n == 1, "shutdown_ack of %zu frames", n);
    } else {
        fuzz_assert(vr_eq(type, tlen, "reply_from_router")
                    || vr_eq(type, tlen, "register_ack")
                    || vr_eq(type, tlen, "heartbeat_ack")
                    || vr_eq(type, tlen, "router_shutdown"),
                    "the broker sent a message of type %.*s", (int) tlen,
                    type);
    }
}

/* Sends frames from peer i. */
static void
peer_send(int i, frame_t *f, size_t n)
{
    void *s = peer_socket(i);

    for (size_t k = 0; k < n; k++) {
        if (zmq_send(s, f[k].p, f[k].len,
                     ZMQ_DONTWAIT | (k + 1 < n ? ZMQ_SNDMORE : 0)) < 0) {
            break;
        }
    }
}

/* Peer i reads what it got; as a dealer it answers calls as told. */
static void
peer_act(int i, unsigned how)
{
    zmq_msg_t frames[VR_WIRE_MAX_FRAMES];
    size_t    n;
    bool      truncated;

    if (R->peers[i] == NULL) {
        return;
    }
    while (vr_wire_recv(R->peers[i], frames, &n, &truncated) == VR_OK) {
        check_incoming(frames, n);
        if (n >= 4 && vr_eq(zmq_msg_data(&frames[0]),
                            zmq_msg_size(&frames[0]), "call_from_router")
            && (how % 8) != 7)
        {
            vr_json_field_t f = { "request_id", NULL, 0, 0 };
            vr_buf_t        body = VR_BUF_INIT;
            frame_t         out[3];
            const char     *rid = "null";
            size_t          rid_len = 4;

            if (vr_json_fields(zmq_msg_data(&frames[3]),
                               zmq_msg_size(&frames[3]), &f, 1, false) == VR_OK
                && f.kind == VR_JSON_STRING)
            {
                rid = f.value;
                rid_len = f.len;
            }
            out[0] = (frame_t) { (char *) "reply_from_dealer", 17 };
            out[1] = (frame_t) { zmq_msg_data(&frames[1]),
                                 zmq_msg_size(&frames[1]) };
            switch (how % 8) {
            case 0:
                vr_buf_printf_b(&body, "{\"type\": \"reply\", \"request_id\": "
                                "%.*s, \"result\": [1, \"two\"]}",
                                (int) rid_len, rid);
                break;
            case 1:
            case 2:
                vr_buf_printf_b(&body, "{\"type\": \"streaming\", "
                                "\"request_id\": %.*s, \"data\": {\"i\": 0}}",
                                (int) rid_len, rid);
                if (how % 8 == 2) {
                    out[2] = (frame_t) { body.p, body.len };
                    peer_send(i, out, 3);
                    vr_buf_reset(&body);
                    vr_buf_printf_b(&body, "{\"type\": \"end\", "
                                    "\"request_id\": %.*s}", (int) rid_len,
                                    rid);
                }
                break;
            case 3:
                vr_buf_adds(&body, "{\"type\": \"error\", \"error\": "
                            "\"Method execution error: \\u00e9\"}");
                break;
            case 4:
                vr_buf_printf_b(&body, "{\"type\": \"error\", \"request_id\": "
                                "%.*s, \"error\": 42}", (int) rid_len, rid);
                break;
            case 5:
                vr_buf_adds(&body, "{\"type\": \"reply\" garbage");
                break;
            default:
                vr_buf_printf_b(&body, "{\"type\": \"end\", \"request_id\": "
                                "%.*s}", (int) rid_len, rid);
                break;
            }
            out[2] = (frame_t) { body.p, body.len };
            peer_send(i, out, 3);
            vr_buf_free(&body);
        }
        vr_wire_close(frames, n);
    }
}

/* ---- the books must balance -------------------------------------------- */

static void
check_books(vr_broker_t *b)
{
    vr_method_t  *m, *tmp;
    vr_dealer_t  *d;
    vr_request_t *r;
    size_t        queued = 0, m_flight = 0, d_flight = 0, listed = 0;

    HASH_ITER(hh, b->methods, m, tmp) {
        size_t n = 0;

        TAILQ_FOREACH(r, &m->queue, link) {
            fuzz_assert(r->state == VR_REQ_QUEUED && r->method == m,
                        "a request in a queue is not queued there");
            n++;
        }
        fuzz_assert(n == m->queue_len, "%s: queue_len %zu, %zu in the queue",
                    m->name, m->queue_len, n);
        fuzz_assert(vr_method_in_use(m)
                    || (m->offered && vr_timer_armed(&m->keep)),
                    "%s is kept with nothing referring to it and no timer "
                    "to free it", m->name);
        queued += n;
        m_flight += m->in_flight;
    }
    TAILQ_FOREACH(d, &b->dealer_order, order) {
        unsigned n = 0;

        fuzz_assert(vr_dealer_find(b, d->id, d->id_len) == d,
                    "dealer %s is not in the table", d->id_text);
        TAILQ_FOREACH(r, &d->requests, link) {
            fuzz_assert(r->dealer == d && (r->state == VR_REQ_ACTIVE
                                           || r->state == VR_REQ_ORPHAN),
                        "a request held by %s is not its", d->id_text);
            n++;
        }
        fuzz_assert(n == d->in_flight, "%s: in_flight %u, holds %u",
                    d->id_text, d->in_flight, n);
        fuzz_assert(d->capacity >= 1
                    && d->capacity <= (unsigned) b->conf->max_capacity,
                    "%s: capacity %u", d->id_text, d->capacity);
        d_flight += n;
        listed++;
    }
    fuzz_assert(HASH_COUNT(b->dealers) == listed,
                "dealer table and order list differ");
    fuzz_assert(queued == b->queued, "queued %zu, counted %zu", b->queued,
                queued);
    fuzz_assert(d_flight == b->in_flight && m_flight == b->in_flight,
                "in_flight %zu, dealers hold %zu, methods count %zu",
                b->in_flight, d_flight, m_flight);
}

/* ---- the script -------------------------------------------------------- */

static void
turn(void)
{
    vr_loop_turn(R->loop, 0);
    check_books(R->b);
}

static void
op_message(fuzz_in_t *in)
{
    int     who = (int) (fuzz_byte(in) % NPEERS);
    size_t  n = fuzz_byte(in) % 6 + 1;
    frame_t f[VR_WIRE_MAX_FRAMES + 4];

    if (n == 6) {
        n += fuzz_byte(in) % (VR_WIRE_MAX_FRAMES - 1);  /* up to 20 */
    }
    for (size_t k = 0; k < n; k++) {
        read_frame(in, &f[k]);
    }
    peer_send(who, f, n);
    for (size_t k = 0; k < n; k++) {
        free(f[k].p);
    }
    turn();
}

static void
op_http_call(fuzz_in_t *in)
{
    static const char *methods[] = { "Svc.echo", "Svc.stream", "Other.x",
                                     "Nope.nothing" };
    hcall_t        *c = NULL;
    vr_call_args_t  a = { VR_BUF_INIT, VR_BUF_INIT };
    frame_t         body;
    unsigned        how = fuzz_byte(in);
    const char     *problem;
    char            rid[32];

    read_frame(in, &body);
    for (size_t i = 0; i < NHCALLS; i++) {
        if (!R->calls[i].used) {
            c = &R->calls[i];
            break;
        }
    }
    problem = vr_call_args_parse(body.p, body.len, how & 0x40, &a);
    if (problem == NULL) {
        fuzz_assert(vr_json_validate(a.args.p, a.args.len) == VR_OK
                    && a.args.p[0] == '['
                    && vr_json_validate(a.kwargs.p, a.kwargs.len) == VR_OK
                    && a.kwargs.p[0] == '{',
                    "vr_call_args_parse accepted what gives no args array "
                    "and kwargs object");
    }
    if (problem == NULL && c != NULL) {
        vr_request_t *r;

        snprintf(rid, sizeof(rid), "h%zu", (size_t) (c - R->calls));
        c->used = true;
        c->client_gone = how & 0x80;
        r = vr_call_new(R->b, methods[how % 4], &a, rid, &h_origin, c,
                        (vr_msec_t) ((how >> 2) % 4) * 200);
        c->r = r;
        vr_request_submit(r);
    }
    vr_call_args_free(&a);
    free(body.p);
    turn();
}

static void
op_cancel(fuzz_in_t *in)
{
    hcall_t *c = &R->calls[fuzz_byte(in) % NHCALLS];

    /* The HTTP side cancels a call whose client hung up before its end. */
    if (c->used && !c->released && c->terminal == 0) {
        c->client_gone = true;
        vr_request_cancel(c->r);
    }
    turn();
}

static void
op_time(fuzz_in_t *in)
{
    static const int64_t steps[] = { 1, 40, 100, 260, 1000, 2100, 5000,
                                     61000 };

    fake_now_ms += steps[fuzz_byte(in) % vr_nelems(steps)];
    turn();
    turn();
}

static void
op_admin(fuzz_in_t *in)
{
    static const char *names[] = { "Svc.echo", "Svc.stream", "Other.x",
                                   "Svc-00000001", "Svc-00000002" };
    unsigned    what = fuzz_byte(in);
    const char *name = names[(what >> 3) % vr_nelems(names)];

    switch (what % 8) {
    case 0:
        vr_broker_drain(R->b);
        break;
    case 1:
    case 2:
        vr_broker_set_disabled(R->b, name, what % 8 == 1);
        break;
    case 3:
    case 4:
        vr_dealer_set_drained(R->b, name, what % 8 == 3);
        break;
    case 5: {
        /* A reload: another configuration, the same endpoint. */
        int         v = (int) ((what >> 3) % NVARIANTS);
        vr_cycle_t *old = cycles[R->variant];

        if (vr_broker_prepare(R->b, &R->confs[v]) == VR_OK) {
            vr_broker_commit(R->b, &R->confs[v], ++R->generation);
            cycles[v]->broker = R->b;
            vr_auth_module.commit(cycles[v], old);
            R->variant = v;
        }
        break;
    }
    default:
        (void) vr_broker_pending(R->b);
        break;
    }
    turn();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char *err = NULL;

    unsetenv("VOIDRAIL_DEALER_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
    vr_modules_index();
    /* Log everything, to nowhere: the formatting runs too. */
    if (vr_log_open("/dev/null") != VR_OK) {
        fuzz_fail("cannot open /dev/null");
    }
    vr_log_level = VR_LOG_DEBUG;
    for (size_t i = 0; i < NVARIANTS; i++) {
        cycles[i] = vr_cycle_load("fuzz_wire.yaml", variants[i], &err);
        if (cycles[i] == NULL) {
            fuzz_fail("variant %zu: %s", i, err);
        }
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = { data, size };
    run_t     run;
    unsigned  ops = 0;

    if (cycles[0] == NULL) {
        LLVMFuzzerInitialize(NULL, NULL);
    }
    memset(&run, 0, sizeof(run));
    R = &run;
    fake_now_ms = 1000000;
    run.variant = (int) (fuzz_byte(&in) % NVARIANTS);
    for (size_t v = 0; v < NVARIANTS; v++) {
        run.confs[v] = *(vr_router_conf_t *) vr_cycle_conf(cycles[v],
                                                           vr_router_module);
        run.binds[v][0] = (char *) EP;
        run.confs[v].bind.v = run.binds[v];
        run.confs[v].bind.n = 1;
    }
    run.zctx = zmq_ctx_new();
    run.loop = vr_loop_new();
    run.generation = 1;
    run.b = vr_broker_new(run.zctx, run.loop, &run.confs[run.variant], 1);
    if (run.b == NULL) {
        fuzz_fail("the broker does not start");
    }
    cycles[run.variant]->broker = run.b;
    vr_auth_module.commit(cycles[run.variant], NULL);

    while (in.left > 0 && ops++ < 2000) {
        unsigned op = fuzz_byte(&in);

        switch (op % 10) {
        case 0: case 1: case 2: case 3:
            op_message(&in);
            break;
        case 4: case 5:
            peer_act((int) ((op >> 4) % NPEERS), fuzz_byte(&in));
            turn();
            break;
        case 6:
            op_time(&in);
            break;
        case 7:
            /* A peer dies; the next message from it reconnects it. */
            peer_close((int) ((op >> 4) % NPEERS));
            turn();
            break;
        case 8:
            if (op & 0x80) {
                op_cancel(&in);
            } else {
                op_http_call(&in);
            }
            break;
        default:
            op_admin(&in);
            break;
        }
    }

    /* Read what is left, then stop: every call ends, nothing stays. */
    for (int i = 0; i < NPEERS; i++) {
        peer_act(i, 7);
    }
    vr_broker_stop(run.b);
    fuzz_assert(run.b->queued == 0 && run.b->in_flight == 0
                && vr_broker_pending(run.b) == 0,
                "requests left after stop: %zu queued, %zu held",
                run.b->queued, run.b->in_flight);
    for (int i = 0; i < NPEERS; i++) {
        peer_act(i, 7);
        peer_close(i);
    }
    vr_broker_destroy(&run.b);
    for (size_t i = 0; i < NHCALLS; i++) {
        fuzz_assert(!run.calls[i].used || run.calls[i].released,
                    "call h%zu was never released", i);
    }
    vr_auth_module.exit(cycles[run.variant]);
    fuzz_assert(vr_loop_timers(run.loop) == 0, "%zu timers left armed",
                vr_loop_timers(run.loop));
    vr_loop_destroy(&run.loop);
    zmq_ctx_term(run.zctx);
    R = NULL;
    return 0;
}
