/*
 * test_dispatch.c: a real broker on an inproc:// endpoint, driven in this
 * thread by DEALER sockets playing dealers and clients, one vr_loop_turn()
 * at a time (PROTOCOL.md Part B): FIFO order, fair rotation, load_balance,
 * capacity, one request per client per dealer, queue_full, timeouts,
 * dealer_lost, retries and no_service.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_wire.h"
#include "tap.h"

#define MAXF 8

static void      *zctx;
static vr_loop_t *loop;

/* ---- the gateway -------------------------------------------------------- */

typedef struct {
    vr_cycle_t  *cycle;
    vr_broker_t *b;
    char         ep[64];
} gw_t;

static bool
gw_start(gw_t *g, const char *router_yaml)
{
    static int  count;
    char        text[2048];
    char       *err = NULL;

    snprintf(g->ep, sizeof(g->ep), "inproc://test-dispatch-%d", ++count);
    snprintf(text, sizeof(text), "router:\n  bind: %s\n"
             "  send_router_shutdown: false\n%s", g->ep, router_yaml);
    g->cycle = vr_cycle_load("test.yaml", text, &err);
    if (g->cycle == NULL) {
        diag("config: %s", err);
        free(err);
        return false;
    }
    g->b = vr_broker_new(zctx, loop, vr_cycle_conf(g->cycle, vr_router_module),
                         1);
    return g->b != NULL;
}

static void
gw_stop(gw_t *g)
{
    if (g->b != NULL) {
        vr_broker_stop(g->b);
        vr_broker_destroy(&g->b);
    }
    vr_cycle_destroy(&g->cycle);
}

/* ---- peers -------------------------------------------------------------- */

typedef struct {
    size_t  n;
    char    f[MAXF][1024];
    size_t  len[MAXF];
} msg_t;

typedef struct {
    void   *s;
    char    id[64];
} peer_t;

static void
peer_open(peer_t *p, gw_t *g, const char *id)
{
    int zero = 0;

    snprintf(p->id, sizeof(p->id), "%s", id);
    p->s = zmq_socket(zctx, ZMQ_DEALER);
    zmq_setsockopt(p->s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(p->s, ZMQ_ROUTING_ID, id, strlen(id));
    zmq_connect(p->s, g->ep);
}

static void
peer_close(peer_t *p)
{
    if (p->s != NULL) {
        zmq_close(p->s);
        p->s = NULL;
    }
}

/* Sends n string frames. */
static void
peer_send(peer_t *p, size_t n, ...)
{
    va_list ap;

    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        const char *s = va_arg(ap, const char *);
        zmq_send(p->s, s, strlen(s), i + 1 < n ? ZMQ_SNDMORE : 0);
    }
    va_end(ap);
}

/* Turns the loop until p has a message (true) or ms passed (false). */
static bool
peer_recv(peer_t *p, msg_t *m, vr_msec_t ms)
{
    zmq_msg_t frames[VR_WIRE_MAX_FRAMES];
    size_t    n;
    bool      truncated;
    vr_msec_t end = vr_clock_update() + ms;

    memset(m, 0, sizeof(*m));
    for (;;) {
        if (vr_wire_recv(p->s, frames, &n, &truncated) == VR_OK) {
            m->n = vr_min(n, (size_t) MAXF);
            for (size_t i = 0; i < m->n; i++) {
                m->len[i] = vr_min(zmq_msg_size(&frames[i]), sizeof(m->f[i]) - 1);
                memcpy(m->f[i], zmq_msg_data(&frames[i]), m->len[i]);
            }
            vr_wire_close(frames, n);
            return true;
        }
        if (vr_clock_update() >= end) {
            return false;
        }
        vr_loop_turn(loop, 2);
    }
}

/* Lets the broker work for ms. */
static void
pump(vr_msec_t ms)
{
    vr_msec_t end = vr_clock_update() + ms;

    do {
        vr_loop_turn(loop, 2);
    } while (vr_clock_update() < end);
}

/* Nothing arrives at p within ms. */
static bool
peer_quiet(peer_t *p, vr_msec_t ms)
{
    msg_t m;

    pump(ms);
    if (peer_recv(p, &m, 0)) {
        diag("%s got an unexpected '%s'", p->id, m.f[0]);
        return false;
    }
    return true;
}

/* A JSON string field of text, decoded into out ("" when absent). */
static void
json_str(const char *text, size_t len, const char *key, char *out, size_t size)
{
    vr_json_field_t f = { key, NULL, 0, 0 };
    vr_buf_t        b = VR_BUF_INIT;

    out[0] = '\0';
    if (vr_json_fields(text, len, &f, 1, false) == VR_OK
        && f.kind == VR_JSON_STRING
        && vr_json_unescape(f.value, f.len, &b) == VR_OK)
    {
        snprintf(out, size, "%s", b.p ? b.p : "");
    }
    vr_buf_free(&b);
}

/* ---- dealers and clients ------------------------------------------------ */

/* Registers a dealer of group Svc offering echo and busy. */
static bool
dealer_open(peer_t *d, gw_t *g, const char *id, const char *extra)
{
    char  reg[512];
    msg_t m;

    peer_open(d, g, id);
    snprintf(reg, sizeof(reg), "{\"group\": \"Svc\", \"methods\": "
             "{\"echo\": {\"description\": null, \"params\": null, "
             "\"stream\": false, \"metadata\": {}}, \"busy\": {}}, "
             "\"api_key\": null%s%s}", extra ? ", " : "", extra ? extra : "");
    peer_send(d, 2, "register", reg);
    return peer_recv(d, &m, 1000) && strcmp(m.f[0], "register_ack") == 0;
}

static void
call(peer_t *c, const char *method, const char *rid)
{
    char body[512];

    snprintf(body, sizeof(body), "{\"type\": \"request\", \"request_id\": "
             "\"%s\", \"func_name\": \"%s\", \"request_step\": \"READY\", "
             "\"args\": [], \"kwargs\": {}}", rid, method);
    peer_send(c, 3, "call_from_client", method, body);
}

/* d receives a call: returns its client id and request_id. */
static bool
take(peer_t *d, char *cid, char *rid, vr_msec_t ms)
{
    msg_t m;

    if (!peer_recv(d, &m, ms)) {
        return false;
    }
    if (m.n != 4 || strcmp(m.f[0], "call_from_router") != 0) {
        diag("%s expected a call, got '%s' (%zu frames)", d->id, m.f[0], m.n);
        return false;
    }
    snprintf(cid, 64, "%.63s", m.f[1]);
    json_str(m.f[3], m.len[3], "request_id", rid, 64);
    return true;
}

static void
answer(peer_t *d, const char *cid, const char *rid)
{
    char body[256];

    snprintf(body, sizeof(body), "{\"type\": \"reply\", \"request_id\": "
             "\"%s\", \"result\": \"done %s\"}", rid, rid);
    peer_send(d, 3, "reply_from_dealer", cid, body);
}

/* The client's next message: reply_from_router, with rid and code. */
static bool
result(peer_t *c, char *rid, char *code, char *text, vr_msec_t ms)
{
    msg_t m;
    char  type[32];

    rid[0] = code[0] = '\0';
    if (!peer_recv(c, &m, ms)) {
        return false;
    }
    if (m.n != 2 || strcmp(m.f[0], "reply_from_router") != 0
        || vr_json_validate(m.f[1], m.len[1]) != VR_OK)
    {
        diag("%s: unexpected '%s' '%s'", c->id, m.f[0], m.f[1]);
        return false;
    }
    json_str(m.f[1], m.len[1], "request_id", rid, 64);
    json_str(m.f[1], m.len[1], "code", code, 64);
    json_str(m.f[1], m.len[1], "type", type, sizeof(type));
    if (text != NULL) {
        json_str(m.f[1], m.len[1], "error", text, 256);
    }
    if (strcmp(type, code[0] ? "error" : "reply") != 0) {
        diag("%s: type %s with code '%s'", c->id, type, code);
        return false;
    }
    return true;
}

/* Which of n dealers gets a call within ms; fills cid/rid.  -1: none. */
static int
which(peer_t *d, int n, char *cid, char *rid, vr_msec_t ms)
{
    vr_msec_t end = vr_clock_update() + ms;

    do {
        vr_loop_turn(loop, 2);
        for (int i = 0; i < n; i++) {
            if (take(&d[i], cid, rid, 0)) {
                return i;
            }
        }
    } while (vr_clock_update() < end);
    return -1;
}

/* ---- scenarios ---------------------------------------------------------- */

static void
test_fifo_order(void)
{
    gw_t   g;
    peer_t d, c[3];
    char   cid[64], rid[64], code[64], want[16];
    int    bad = 0, got_bad = 0;

    if (!ok(gw_start(&g, ""), "fifo: gateway up")) {
        return;
    }
    ok(dealer_open(&d, &g, "Svc-00000001", NULL), "fifo: dealer registered");
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof(id), "client-%c", 'A' + i);
        peer_open(&c[i], &g, id);
    }
    /* 9 requests from 3 clients, interleaved; capacity 1. */
    for (int i = 0; i < 9; i++) {
        snprintf(want, sizeof(want), "r%d", i);
        call(&c[i % 3], "Svc.echo", want);
        pump(3);
    }
    for (int i = 0; i < 9; i++) {
        snprintf(want, sizeof(want), "r%d", i);
        if (!take(&d, cid, rid, 1000) || strcmp(rid, want) != 0
            || cid[7] != 'A' + i % 3)
        {
            bad++;
            diag("dispatch %d: got %s from %s", i, rid, cid);
            break;
        }
        if (i == 0) {
            ok(peer_quiet(&d, 20), "fifo: capacity 1, one at a time");
        }
        answer(&d, cid, rid);
        if (!result(&c[i % 3], rid, code, NULL, 1000) || strcmp(rid, want) != 0
            || code[0] != '\0')
        {
            got_bad++;
        }
    }
    is_int(bad, 0, "fifo: 9 requests of 3 clients dispatched in arrival order");
    is_int(got_bad, 0, "fifo: each client got its reply, forwarded verbatim");
    for (int i = 0; i < 3; i++) {
        peer_close(&c[i]);
    }
    peer_close(&d);
    gw_stop(&g);
}

static void
test_rotation(void)
{
    gw_t   g;
    peer_t d[3], c;
    char   cid[64], rid[64], code[64], want[16];
    int    who[6], regs = 0;

    if (!ok(gw_start(&g, ""), "rotation: gateway up")) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "Svc-0000000%d", i + 1);
        regs += dealer_open(&d[i], &g, id, NULL);
    }
    is_int(regs, 3, "rotation: three dealers registered");
    peer_open(&c, &g, "client-R");
    for (int k = 0; k < 6; k++) {
        snprintf(want, sizeof(want), "q%d", k);
        call(&c, "Svc.echo", want);
        who[k] = which(d, 3, cid, rid, 500);
        if (who[k] >= 0) {
            answer(&d[who[k]], cid, rid);
            result(&c, rid, code, NULL, 500);
        }
    }
    ok(who[0] >= 0 && who[1] >= 0 && who[2] >= 0 && who[0] != who[1]
       && who[1] != who[2] && who[0] != who[2],
       "rotation: three idle dealers each got one of the first three");
    ok(who[3] == who[0] && who[4] == who[1] && who[5] == who[2],
       "rotation: then the same rotation again (%d %d %d / %d %d %d)",
       who[0], who[1], who[2], who[3], who[4], who[5]);
    for (int i = 0; i < 3; i++) {
        peer_close(&d[i]);
    }
    peer_close(&c);
    gw_stop(&g);
}

static void
test_load_balance(void)
{
    gw_t        g;
    peer_t      d[3], c[8];
    static const int cap[3] = { 3, 1, 2 };
    int         held[3] = { 0, 0, 0 }, bad = 0, regs = 0, got;
    char        cid[64], rid[64], extra[64], id[32];

    if (!ok(gw_start(&g, "  mode: load_balance\n"), "load_balance: up")) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        snprintf(id, sizeof(id), "Svc-0000000%d", i + 1);
        snprintf(extra, sizeof(extra), "\"max_concurrent\": %d", cap[i]);
        regs += dealer_open(&d[i], &g, id, extra);
    }
    is_int(regs, 3, "load_balance: dealers of capacity 3, 1, 2");
    for (int k = 0; k < 7; k++) {
        snprintf(id, sizeof(id), "client-%d", k);
        peer_open(&c[k], &g, id);
        call(&c[k], "Svc.echo", "x");
        got = which(d, 3, cid, rid, k == 6 ? 30 : 500);
        if (k == 6) {
            is_int(got, -1, "load_balance: the 7th waits (6 slots in all)");
            break;
        }
        if (got < 0) {
            bad++;
            continue;
        }
        /* The pick must have the lowest in-flight/capacity ratio. */
        for (int i = 0; i < 3; i++) {
            if (held[i] < cap[i]
                && held[i] * cap[got] < held[got] * cap[i])
            {
                bad++;
                diag("call %d went to %d (%d/%d) over %d (%d/%d)", k, got,
                     held[got], cap[got], i, held[i], cap[i]);
            }
        }
        held[got]++;
    }
    is_int(bad, 0, "load_balance: every call went to a least loaded dealer");
    ok(held[0] == 3 && held[1] == 1 && held[2] == 2,
       "load_balance: capacities filled exactly (%d %d %d)", held[0], held[1],
       held[2]);

    /* Free one slot of dealer 1: the waiting call goes there. */
    answer(&d[0], "client-0", "x");
    got = which(d, 3, cid, rid, 500);
    ok(got == 0 && strcmp(cid, "client-6") == 0,
       "load_balance: a freed slot takes the waiting call");
    for (int k = 0; k < 7; k++) {
        peer_close(&c[k]);
    }
    for (int i = 0; i < 3; i++) {
        peer_close(&d[i]);
    }
    gw_stop(&g);
}

static void
test_capacity(void)
{
    gw_t   g;
    peer_t d, d2, d3, c[5];
    char   cid[64], rid[64], id[32];
    int    n = 0;

    if (!ok(gw_start(&g, "  dealer_capacity: 1\n  max_capacity: 4\n"
                     "  services:\n    Svc: { capacity: 2 }\n"),
            "capacity: gateway up")) {
        return;
    }
    ok(dealer_open(&d, &g, "Svc-0000000a", "\"max_concurrent\": 3"),
       "capacity: dealer announcing max_concurrent 3");
    for (int k = 0; k < 5; k++) {
        snprintf(id, sizeof(id), "client-%d", k);
        peer_open(&c[k], &g, id);
        call(&c[k], "Svc.echo", "x");
    }
    while (take(&d, cid, rid, 100)) {
        n++;
    }
    is_int(n, 3, "capacity: max_concurrent 3 holds three at once");
    answer(&d, "client-0", "x");
    ok(take(&d, cid, rid, 500) && strcmp(cid, "client-3") == 0,
       "capacity: a reply frees a slot for the oldest waiting call");
    ok(peer_quiet(&d, 20), "capacity: and only one");
    peer_close(&d);                 /* leaves its calls held */

    /* A new gateway for the group and clamp settings. */
    for (int k = 0; k < 5; k++) {
        peer_close(&c[k]);
    }
    gw_stop(&g);
    if (!gw_start(&g, "  dealer_capacity: 1\n  max_capacity: 4\n"
                  "  services:\n    Svc: { capacity: 2 }\n")) {
        return;
    }
    dealer_open(&d2, &g, "Svc-0000000b", NULL);
    for (int k = 0; k < 5; k++) {
        snprintf(id, sizeof(id), "client-%d", k);
        peer_open(&c[k], &g, id);
        call(&c[k], "Svc.echo", "x");
    }
    n = 0;
    while (take(&d2, cid, rid, 100)) {
        n++;
    }
    is_int(n, 2, "capacity: router.services.Svc.capacity 2 applies");
    dealer_open(&d3, &g, "Svc-0000000c", "\"max_concurrent\": 50");
    n = 0;
    while (take(&d3, cid, rid, 100)) {
        n++;
    }
    is_int(n, 3, "capacity: max_concurrent 50 is cut to max_capacity 4 "
           "(3 calls were left for it)");
    for (int k = 0; k < 5; k++) {
        peer_close(&c[k]);
    }
    peer_close(&d2);
    peer_close(&d3);
    gw_stop(&g);
}

static void
test_one_per_client(void)
{
    gw_t   g;
    peer_t d, d2, a, b;
    char   cid[64], rid[64], code[64];

    if (!ok(gw_start(&g, ""), "per-client: gateway up")) {
        return;
    }
    ok(dealer_open(&d, &g, "Svc-00000001", "\"max_concurrent\": 4"),
       "per-client: a dealer of capacity 4 without request_id_errors");
    peer_open(&a, &g, "client-A");
    peer_open(&b, &g, "client-B");
    call(&a, "Svc.echo", "a1");
    call(&a, "Svc.echo", "a2");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "a1") == 0,
       "per-client: the dealer gets a1");
    ok(peer_quiet(&d, 30), "per-client: not a2 while it holds a1");
    ok(dealer_open(&d2, &g, "Svc-00000002", NULL),
       "per-client: a second dealer registers");
    ok(take(&d2, cid, rid, 500) && strcmp(rid, "a2") == 0,
       "per-client: a2 goes to the other dealer at once");
    answer(&d2, "client-A", "a2");
    answer(&d, "client-A", "a1");
    ok(result(&a, rid, code, NULL, 500) && result(&a, rid, code, NULL, 500),
       "per-client: both answered");
    peer_close(&d2);
    pump(5);

    /* With request_id_errors, one client may have several on a dealer. */
    peer_send(&d, 2, "register", "{\"group\": \"Svc\", \"methods\": "
              "{\"echo\": {}}, \"max_concurrent\": 4, \"capabilities\": "
              "[\"request_id_errors\"]}");
    {
        msg_t m;
        ok(peer_recv(&d, &m, 500) && strcmp(m.f[0], "register_ack") == 0,
           "per-client: re-registered with request_id_errors");
    }
    call(&b, "Svc.echo", "b1");
    call(&b, "Svc.echo", "b2");
    call(&b, "Svc.echo", "b3");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "b1") == 0
       && take(&d, cid, rid, 500) && strcmp(rid, "b2") == 0
       && take(&d, cid, rid, 500) && strcmp(rid, "b3") == 0,
       "per-client: with request_id_errors it holds b1, b2, b3 together");
    peer_close(&a);
    peer_close(&b);
    peer_close(&d);
    gw_stop(&g);
}

static void
test_queue_full(void)
{
    gw_t   g;
    peer_t d, c;
    char   cid[64], rid[64], code[64], text[256];

    if (!ok(gw_start(&g, "  max_queue: 2\n"), "queue_full: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&c, &g, "client-Q");
    call(&c, "Svc.echo", "q0");
    ok(take(&d, cid, rid, 500), "queue_full: q0 is with the dealer");
    call(&c, "Svc.echo", "q1");
    call(&c, "Svc.echo", "q2");
    call(&c, "Svc.echo", "q3");
    ok(result(&c, rid, code, text, 500), "queue_full: q3 answered at once");
    is_str(rid, "q3", "queue_full: for q3");
    is_str(code, "queue_full", "queue_full: code queue_full");
    is_str(text, "queue full: 2 requests wait for Svc.echo (max_queue 2)",
           "queue_full: text");
    answer(&d, "client-Q", "q0");
    ok(result(&c, rid, code, NULL, 500) && strcmp(rid, "q0") == 0
       && code[0] == '\0', "queue_full: q0 answered");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "q1") == 0,
       "queue_full: q1 then goes out");
    peer_close(&c);
    peer_close(&d);
    gw_stop(&g);
}

static void
test_timeout(void)
{
    gw_t      g;
    peer_t    d, c;
    char      cid[64], rid[64], code[64], text[256];
    vr_msec_t start;

    if (!ok(gw_start(&g, "  methods:\n    \"Svc.echo\": { timeout: 150ms }\n"),
            "timeout: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&c, &g, "client-T");
    call(&c, "Svc.busy", "long");           /* request_timeout 60s */
    ok(take(&d, cid, rid, 500) && strcmp(rid, "long") == 0,
       "timeout: the dealer is busy with a long call");
    start = vr_clock_update();
    call(&c, "Svc.echo", "t1");
    ok(result(&c, rid, code, text, 2000), "timeout: the queued call is answered");
    ok(vr_clock_update() - start >= 140, "timeout: after its 150ms deadline "
       "(%lld ms)", (long long) (vr_now_ms - start));
    is_str(rid, "t1", "timeout: for t1");
    is_str(code, "timeout", "timeout: code timeout");
    ok(strncmp(text, "timed out after ", 16) == 0
       && strstr(text, "waiting in the queue of Svc.echo") != NULL,
       "timeout: text says it waited in the queue: %s", text);
    ok(g.b->queued == 0, "timeout: the queue is empty again");
    answer(&d, "client-T", "long");
    ok(result(&c, rid, code, NULL, 500) && strcmp(rid, "long") == 0,
       "timeout: the long call still completes");
    ok(peer_quiet(&d, 30), "timeout: the timed-out call never reached the dealer");
    peer_close(&c);
    peer_close(&d);
    gw_stop(&g);
}

static void
test_dealer_lost(void)
{
    gw_t   g;
    peer_t d, d2, c, c2;
    char   cid[64], rid[64], code[64], text[256];
    msg_t  m;

    if (!ok(gw_start(&g, ""), "dealer_lost: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&c, &g, "client-L");
    peer_open(&c2, &g, "client-M");
    call(&c, "Svc.echo", "l1");
    ok(take(&d, cid, rid, 500), "dealer_lost: l1 is with the dealer");
    call(&c2, "Svc.echo", "m1");            /* waits: capacity 1 */
    pump(10);
    peer_send(&d, 2, "shutdown", "");
    ok(peer_recv(&d, &m, 500) && m.n == 1 && strcmp(m.f[0], "shutdown_ack") == 0,
       "dealer_lost: shutdown answered with a one-frame shutdown_ack");
    ok(result(&c, rid, code, text, 500), "dealer_lost: l1 is answered");
    is_str(rid, "l1", "dealer_lost: for l1");
    is_str(code, "dealer_lost", "dealer_lost: code dealer_lost");
    ok(result(&c2, rid, code, NULL, 500) && strcmp(rid, "m1") == 0,
       "dealer_lost: the waiting m1 is answered too");
    is_str(code, "no_service", "dealer_lost: m1 ends as no_service (no live "
           "dealer left)");
    ok(g.b->in_flight == 0 && g.b->queued == 0, "dealer_lost: nothing held");
    peer_close(&d);
    gw_stop(&g);

    /* With max_attempts 2 the request goes to another dealer instead. */
    if (!gw_start(&g, "  methods:\n    \"Svc.*\": { max_attempts: 2 }\n")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    dealer_open(&d2, &g, "Svc-00000002", NULL);
    peer_close(&c);
    peer_open(&c, &g, "client-L");
    call(&c, "Svc.echo", "l2");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "l2") == 0,
       "retry: l2 goes to the first dealer");
    peer_send(&d, 2, "shutdown", "");
    ok(take(&d2, cid, rid, 500) && strcmp(rid, "l2") == 0
       && strcmp(cid, "client-L") == 0,
       "retry: the first leaves, l2 is dispatched again to the second");
    ok(peer_quiet(&c, 10), "retry: the client was not told anything");
    answer(&d2, "client-L", "l2");
    ok(result(&c, rid, code, NULL, 500) && strcmp(rid, "l2") == 0
       && code[0] == '\0', "retry: and it gets the second dealer's reply");
    peer_close(&c);
    peer_close(&c2);
    peer_close(&d);
    peer_close(&d2);
    gw_stop(&g);
}

static void
test_in_flight_timeout(void)
{
    gw_t   g;
    peer_t d, c, c2;
    char   cid[64], rid[64], code[64], text[256];
    msg_t  m;

    if (!ok(gw_start(&g, "  methods:\n    \"Svc.echo\": { timeout: 100ms }\n"),
            "in-flight timeout: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&c, &g, "client-T");
    peer_open(&c2, &g, "client-U");
    call(&c, "Svc.echo", "slow");
    ok(take(&d, cid, rid, 500), "in-flight timeout: the dealer holds it");
    ok(result(&c, rid, code, text, 1000) && strcmp(code, "timeout") == 0,
       "in-flight timeout: the client gets timeout");
    ok(strstr(text, "dealer Svc-00000001 was still working on it") != NULL,
       "in-flight timeout: text names the dealer: %s", text);
    call(&c2, "Svc.busy", "next");
    ok(peer_quiet(&d, 30), "in-flight timeout: the dealer's slot stays taken "
       "until it answers");
    answer(&d, "client-T", "slow");
    ok(peer_quiet(&c, 30), "in-flight timeout: the late reply is dropped");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "next") == 0,
       "in-flight timeout: the late reply frees the slot for the next call");
    ok(g.b->stats.late_replies >= 1, "in-flight timeout: counted as late");
    answer(&d, "client-U", "next");
    ok(peer_recv(&c2, &m, 500), "in-flight timeout: next answered");
    peer_close(&c);
    peer_close(&c2);
    peer_close(&d);
    gw_stop(&g);
}

static void
test_stream_and_errors(void)
{
    gw_t   g;
    peer_t d, a, b;
    char   cid[64], rid[64];
    msg_t  m;

    if (!ok(gw_start(&g, ""), "stream: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&a, &g, "client-A");
    peer_open(&b, &g, "client-B");
    call(&a, "Svc.echo", "s1");
    ok(take(&d, cid, rid, 500), "stream: the dealer holds s1");
    call(&b, "Svc.echo", "s2");
    peer_send(&d, 3, "reply_from_dealer", "client-A",
              "{\"type\": \"streaming\", \"request_id\": \"s1\", \"data\": 1}");
    ok(peer_recv(&a, &m, 500) && m.n == 2
       && strcmp(m.f[1], "{\"type\": \"streaming\", \"request_id\": \"s1\", "
                 "\"data\": 1}") == 0, "stream: a chunk is forwarded verbatim");
    ok(peer_quiet(&d, 30), "stream: after a chunk the dealer is still busy "
       "(no second call)");
    peer_send(&d, 3, "reply_from_dealer", "client-A",
              "{\"type\": \"end\", \"request_id\": \"s1\"}");
    ok(peer_recv(&a, &m, 500) && strstr(m.f[1], "\"end\"") != NULL,
       "stream: the end is forwarded");
    ok(take(&d, cid, rid, 500) && strcmp(rid, "s2") == 0,
       "stream: the end frees the slot: s2 is dispatched");
    is_int(g.b->stats.stream_chunks, 1, "stream: one chunk counted");

    /* A Python dealer's error has no request_id: matched by client. */
    peer_send(&d, 3, "reply_from_dealer", "client-B",
              "{\"type\": \"error\", \"error\": \"boom\"}");
    ok(peer_recv(&b, &m, 500) && m.n == 2 && strcmp(m.f[0], "reply_from_router") == 0
       && strcmp(m.f[1], "{\"type\": \"error\", \"error\": \"boom\"}") == 0,
       "error: a dealer error without request_id reaches its client verbatim");
    ok(g.b->in_flight == 0, "error: and ends the request");

    /* A message for nothing the dealer holds is dropped. */
    peer_send(&d, 3, "reply_from_dealer", "client-B",
              "{\"type\": \"reply\", \"request_id\": \"s2\", \"result\": 2}");
    ok(peer_quiet(&b, 30), "error: a reply for an ended request is dropped");

    /* A heartbeat is acked at once. */
    peer_send(&d, 2, "heartbeat", "{\"processing_requests\": 0}");
    ok(peer_recv(&d, &m, 500) && strcmp(m.f[0], "heartbeat_ack") == 0,
       "heartbeat: acked");
    peer_close(&a);
    peer_close(&b);
    peer_close(&d);
    gw_stop(&g);
}

static void
test_vanished(void)
{
    gw_t      g;
    peer_t    d, c;
    char      cid[64], rid[64], code[64], text[256];
    vr_msec_t start;

    if (!ok(gw_start(&g, "  probe_interval: 50ms\n"), "vanished: gateway up")) {
        return;
    }
    dealer_open(&d, &g, "Svc-00000001", NULL);
    peer_open(&c, &g, "client-V");
    call(&c, "Svc.echo", "v1");
    ok(take(&d, cid, rid, 500), "vanished: the dealer holds v1");
    peer_close(&d);                 /* the process dies */
    start = vr_clock_update();
    ok(result(&c, rid, code, text, 3000), "vanished: v1 is answered");
    is_str(code, "dealer_lost", "vanished: as dealer_lost");
    ok(vr_clock_update() - start < 2000, "vanished: within a probe or two, "
       "not a timeout (%lld ms)", (long long) (vr_now_ms - start));
    ok(strstr(text, "its connection is gone") != NULL,
       "vanished: text says the connection is gone: %s", text);

    /* An idle dealer that vanished is found out by the dispatch itself. */
    {
        peer_t d1, d2;
        dealer_open(&d1, &g, "Svc-00000011", NULL);
        dealer_open(&d2, &g, "Svc-00000012", NULL);
        peer_close(&d1);
        pump(5);
        call(&c, "Svc.echo", "v2");
        ok(take(&d2, cid, rid, 500) && strcmp(rid, "v2") == 0,
           "vanished: a call for a vanished idle dealer goes to the live one");
        answer(&d2, "client-V", "v2");
        ok(result(&c, rid, code, NULL, 500) && strcmp(rid, "v2") == 0
           && code[0] == '\0', "vanished: and is answered");
        peer_close(&d2);
        pump(5);
        call(&c, "Svc.echo", "v3");
        ok(result(&c, rid, code, text, 500) && strcmp(rid, "v3") == 0,
           "vanished: with no live dealer left, v3 is answered");
        is_str(code, "no_service", "vanished: as no_service");
    }
    peer_close(&c);
    gw_stop(&g);
}

static void
test_no_service(void)
{
    gw_t   g;
    peer_t c;
    char   rid[64], code[64], text[256];

    if (!ok(gw_start(&g, ""), "no_service: gateway up")) {
        return;
    }
    peer_open(&c, &g, "client-N");
    call(&c, "Nobody.home", "n1");
    ok(result(&c, rid, code, text, 500), "no_service: answered at once");
    is_str(code, "no_service", "no_service: code");
    is_str(text, "no live dealer offers Nobody.home", "no_service: text");
    peer_close(&c);
    gw_stop(&g);
}

int
main(void)
{
    unsetenv("VOIDRAIL_DEALER_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
    vr_log_level = VR_LOG_ERROR + 1;        /* quiet */
    vr_modules_index();
    zctx = zmq_ctx_new();
    loop = vr_loop_new();
    test_fifo_order();
    test_rotation();
    test_load_balance();
    test_capacity();
    test_one_per_client();
    test_queue_full();
    test_timeout();
    test_dealer_lost();
    test_in_flight_timeout();
    test_stream_and_errors();
    test_vanished();
    test_no_service();
    vr_loop_destroy(&loop);
    zmq_ctx_term(zctx);
    return done_testing();
}
