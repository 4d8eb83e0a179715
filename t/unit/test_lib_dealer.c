/*
 * test_lib_dealer.c: unit tests of libvoidrail's dealer (vr_dealer_t,
 * vr_job_t) against a ROUTER driven by the test itself: registration and
 * its JSON, heartbeats while handlers run, results, streams, errors,
 * capacity, cancel, re-registration after a restart, and the clean stop.
 */
#include "config.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "voidrail.h"
#include "lib.h"
#include "tap.h"

static void *ctx, *router;
static char  endpoint[64];

static void
router_open(const char *where)
{
    int    zero = 0, one = 1;
    size_t len = sizeof(endpoint);

    router = zmq_socket(ctx, ZMQ_ROUTER);
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(router, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    while (zmq_bind(router, where) != 0) {
        usleep(20000);
    }
    zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len);
}

/* A message as frames of text: [0] identity, [1] type, ... */
typedef struct {
    int    n;
    char  *f[6];
    size_t len[6];
} msg_t;

static void
msg_free(msg_t *m)
{
    for (int i = 0; i < m->n; i++) {
        free(m->f[i]);
    }
    m->n = 0;
}

/* The next message not of a type in skip ("heartbeat" by default). */
static bool
expect(msg_t *m, int timeout_ms, const char *skip)
{
    int64_t   until = vr_lib_now_ms() + timeout_ms;
    zmq_msg_t fr[6];
    size_t    n;

    m->n = 0;
    for (;;) {
        zmq_pollitem_t item = { router, 0, ZMQ_POLLIN, 0 };
        int            left = (int) (until - vr_lib_now_ms());

        if (left <= 0 || zmq_poll(&item, 1, left) <= 0) {
            return false;
        }
        if (vr_lib_recv(router, fr, 6, &n) != VR_OK) {
            continue;
        }
        if (n >= 2 && vr_lib_frame_is(&fr[1], "heartbeat")) {
            /* Acked as the gateway does: silence makes it register. */
            zmq_send(router, zmq_msg_data(&fr[0]), zmq_msg_size(&fr[0]),
                     ZMQ_SNDMORE);
            zmq_send(router, "heartbeat_ack", 13, ZMQ_SNDMORE);
            zmq_send(router, "", 0, 0);
        }
        if (n >= 2 && vr_lib_frame_is(&fr[1], skip ? skip : "heartbeat")) {
            vr_lib_frames_close(fr, n);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            m->len[i] = zmq_msg_size(&fr[i]);
            m->f[i] = vr_lib_strndup(zmq_msg_data(&fr[i]), m->len[i]);
        }
        m->n = (int) n;
        vr_lib_frames_close(fr, n);
        return true;
    }
}

static void
send_to(const char *id, const char *type, const char *a, const char *b,
        const char *c)
{
    zmq_send(router, id, strlen(id), ZMQ_SNDMORE);
    zmq_send(router, type, strlen(type), a ? ZMQ_SNDMORE : 0);
    if (a) {
        zmq_send(router, a, strlen(a), b ? ZMQ_SNDMORE : 0);
    }
    if (b) {
        zmq_send(router, b, strlen(b), c ? ZMQ_SNDMORE : 0);
    }
    if (c) {
        zmq_send(router, c, strlen(c), 0);
    }
}

static void
call(const char *id, const char *cid, const char *method, const char *rid,
     const char *args)
{
    char body[512];

    snprintf(body, sizeof(body), "{\"type\": \"request\", \"request_id\": "
             "\"%s\", \"func_name\": \"%s\", \"request_step\": \"READY\", "
             "\"args\": %s, \"kwargs\": {}}", rid, method, args);
    send_to(id, "call_from_router", cid, method, body);
}

/* The reply for client cid as a JSON object (NULL if none came). */
static json_t *
reply(const char *cid, int timeout_ms)
{
    msg_t   m;
    json_t *j = NULL;

    while (expect(&m, timeout_ms, "heartbeat")) {
        if (m.n == 4 && strcmp(m.f[1], "reply_from_dealer") == 0
            && strcmp(m.f[2], cid) == 0)
        {
            j = json_loads(m.f[3], 0, NULL);
            msg_free(&m);
            return j;
        }
        msg_free(&m);
    }
    return NULL;
}

/* Compares a with b and drops b (made by json_pack for the test). */
static bool
jeq(json_t *a, json_t *b)
{
    bool same = json_equal(a, b);

    json_decref(b);
    return same;
}

/* ---- handlers ---------------------------------------------------------- */

static int
h_echo(vr_job_t *job, void *data)
{
    const char *v = vr_job_param(job, 0, "value");

    return vr_job_result(job, v != NULL ? v : "null");
}

static int
h_add(vr_job_t *job, void *data)
{
    double a, b;

    if (vr_job_param_double(job, 0, "a", &a) != VR_OK
        || vr_job_param_double(job, 1, "b", &b) != VR_OK)
    {
        return vr_job_error(job, "add takes two numbers a and b");
    }
    return vr_job_resultf(job, "%g", a + b);
}

static int
h_count(vr_job_t *job, void *data)
{
    long long n;

    if (vr_job_param_int(job, 0, "n", &n) != VR_OK) {
        return vr_job_errorf(job, "count takes an integer, got %s",
                             vr_job_args(job));
    }
    for (long long i = 0; i < n; i++) {
        vr_job_emitf(job, "{\"i\": %lld}", i);
    }
    return VR_OK;
}

static int
h_fail(vr_job_t *job, void *data)
{
    return VR_ERROR;            /* no text: "method fail failed" */
}

static int
h_sleep(vr_job_t *job, void *data)
{
    long long ms = 0;

    vr_job_param_int(job, 0, "ms", &ms);
    for (long long t = 0; t < ms && !vr_job_cancelled(job); t += 10) {
        usleep(10000);
    }
    return vr_job_resultf(job, "%lld", ms);
}

static int
h_greet(vr_job_t *job, void *data)
{
    const char *name = vr_job_param_string(job, 0, "name");
    char        text[128];

    snprintf(text, sizeof(text), "%s, %s", (const char *) data,
             name != NULL ? name : "nobody");
    return vr_job_result_string(job, text);
}

static vr_dealer_t *
dealer(const char *name, int workers)
{
    vr_dealer_t     *d = vr_dealer_new(endpoint, name);
    vr_method_def_t  add = { "add", h_add, "Add two numbers",
                             "{\"a\": \"first number\", \"b\": \"second\"}",
                             0, "{\"unit\": \"none\"}" };
    vr_method_def_t  count = { "count", h_count, NULL, NULL, 1, NULL };

    vr_dealer_add(d, "echo", h_echo, NULL);
    vr_dealer_add_def(d, &add, NULL);
    vr_dealer_add_def(d, &count, NULL);
    vr_dealer_add(d, "fail", h_fail, NULL);
    vr_dealer_add(d, "sleep", h_sleep, NULL);
    vr_dealer_add(d, "greet", h_greet, "hello");
    vr_dealer_set_max_concurrent(d, workers);
    vr_dealer_set_heartbeat(d, 100);
    vr_dealer_set_log(d, VR_LEVEL_NONE, NULL, NULL);
    return d;
}

/* Waits for the register of d; returns its JSON (caller decrefs). */
static json_t *
registered(vr_dealer_t *d)
{
    msg_t   m;
    json_t *reg = NULL;

    while (expect(&m, 5000, "heartbeat")) {
        if (m.n == 3 && strcmp(m.f[1], "register") == 0
            && strcmp(m.f[0], vr_dealer_identity(d)) == 0)
        {
            reg = json_loads(m.f[2], 0, NULL);
            send_to(m.f[0], "register_ack", "", NULL, NULL);
            msg_free(&m);
            return reg;
        }
        msg_free(&m);
    }
    return NULL;
}

static void
test_settings(void)
{
    vr_dealer_t    *d;
    vr_method_def_t bad = { "x", h_echo, NULL, "[1]", 0, NULL };

    ok(vr_dealer_new(NULL, "S") == NULL && vr_dealer_new("tcp://x:1", "")
       == NULL, "new: needs an endpoint and a name");
    d = vr_dealer_new(endpoint, "Svc");
    ok(strncmp(vr_dealer_identity(d), "Svc-", 4) == 0
       && strlen(vr_dealer_identity(d)) == 12, "identity: Svc-<8 hex>");
    ok(vr_dealer_start(d) == VR_ERROR, "start: no methods, no start");
    ok(vr_dealer_add(d, "a.b", h_echo, NULL) == VR_ERROR, "add: no dots");
    ok(vr_dealer_add(d, "", h_echo, NULL) == VR_ERROR, "add: no empty name");
    ok(vr_dealer_add(d, "a", NULL, NULL) == VR_ERROR, "add: needs a handler");
    ok(vr_dealer_add(d, "a", h_echo, NULL) == VR_OK, "add: a method");
    ok(vr_dealer_add(d, "a", h_echo, NULL) == VR_ERROR, "add: not twice");
    ok(vr_dealer_add_def(d, &bad, NULL) == VR_ERROR,
       "add_def: params must be an object");
    ok(vr_dealer_set_max_concurrent(d, 0) == VR_ERROR
       && vr_dealer_set_max_concurrent(d, 2000) == VR_ERROR,
       "max_concurrent: 1..1024");
    ok(vr_dealer_set_heartbeat(d, 10) == VR_ERROR, "heartbeat: >= 50 ms");
    vr_dealer_destroy(&d);
    ok(d == NULL, "destroy (never started) clears the pointer");
    vr_dealer_destroy(NULL);
}

static void
test_register(void)
{
    vr_dealer_t *d = dealer("Calc", 2);
    json_t      *reg, *m, *hb;
    msg_t        msg;
    const char  *addr;
    char         want[64];
    bool         busy_hb = false;

    vr_dealer_set_api_key(d, "dk1");
    vr_dealer_set_cancel(d, 1);
    ok(vr_dealer_start(d) == VR_OK, "start");
    ok(vr_dealer_set_group(d, "X") == VR_ERROR, "no settings once started");
    reg = registered(d);
    ok(reg != NULL, "register arrives");
    is_str(json_string_value(json_object_get(reg, "group")), "Calc",
           "register: group = service name");
    is_str(json_string_value(json_object_get(reg, "api_key")), "dk1",
           "register: api_key");
    m = json_object_get(json_object_get(reg, "methods"), "add");
    is_str(json_string_value(json_object_get(m, "description")),
           "Add two numbers", "register: description");
    is_str(json_string_value(json_object_get(json_object_get(m, "params"),
                                             "a")), "first number",
           "register: params");
    ok(json_is_false(json_object_get(m, "stream"))
       && json_is_true(json_object_get(json_object_get(
              json_object_get(reg, "methods"), "count"), "stream")),
       "register: stream flags");
    ok(jeq(json_object_get(m, "metadata"),
                  json_pack("{s:s}", "unit", "none")),
       "register: metadata");
    m = json_object_get(json_object_get(reg, "methods"), "echo");
    ok(json_is_null(json_object_get(m, "description"))
       && json_is_null(json_object_get(m, "params"))
       && json_object_size(json_object_get(m, "metadata")) == 0,
       "register: defaults null, null, {} as the Python decorator's");
    addr = json_string_value(json_object_get(reg, "remote_addr"));
    snprintf(want, sizeof(want), "[PID:%d, ID:%s]", (int) getpid(),
             vr_dealer_identity(d) + 5);
    ok(addr != NULL && strstr(addr, want) != NULL, "register: remote_addr "
       "%s", addr ? addr : "(none)");
    ok(json_integer_value(json_object_get(json_object_get(reg, "host_info"),
                                          "pid")) == getpid(),
       "register: host_info.pid");
    is_int(json_integer_value(json_object_get(reg, "max_concurrent")), 2,
           "register: max_concurrent");
    ok(jeq(json_object_get(reg, "capabilities"),
                  json_pack("[s, s]", "request_id_errors", "cancel")),
       "register: capabilities");
    json_decref(reg);

    ok(expect(&msg, 2000, "none") && strcmp(msg.f[1], "heartbeat") == 0,
       "heartbeats follow");
    hb = json_loads(msg.f[2], 0, NULL);
    ok(json_integer_value(json_object_get(hb, "processing_requests")) == 0
       && json_is_false(json_object_get(hb, "is_busy"))
       && json_is_string(json_object_get(hb, "api_key")),
       "heartbeat: {api_key, processing_requests, is_busy}");
    json_decref(hb);
    msg_free(&msg);

    /* Heartbeats keep coming while a handler runs. */
    call(vr_dealer_identity(d), "c1", "Calc.sleep", "r1", "[700]");
    int beats = 0;
    int64_t until = vr_lib_now_ms() + 600;
    while (vr_lib_now_ms() < until && expect(&msg, 600, "none")) {
        if (strcmp(msg.f[1], "heartbeat") == 0) {
            beats++;
            hb = json_loads(msg.f[2], 0, NULL);
            busy_hb = busy_hb || json_integer_value(
                json_object_get(hb, "processing_requests")) == 1;
            json_decref(hb);
        }
        msg_free(&msg);
    }
    ok(beats >= 3, "heartbeats go on while a handler runs (%d in 600 ms)",
       beats);
    ok(busy_hb, "heartbeat: processing_requests 1 while it runs");
    json_t *r = reply("c1", 2000);
    is_int(json_integer_value(json_object_get(r, "result")), 700,
           "the long call ends");
    json_decref(r);
    vr_dealer_destroy(&d);
}

static void
test_answers(void)
{
    vr_dealer_t *d = dealer("Calc", 1);
    const char  *id;
    json_t      *r;
    msg_t        m;

    vr_dealer_start(d);
    json_decref(registered(d));
    id = vr_dealer_identity(d);

    call(id, "c1", "Calc.echo", "r1", "[{\"x\": 0.10}]");
    r = reply("c1", 2000);
    ok(jeq(r, json_pack("{s:s, s:s, s:{s:f}}", "type", "reply",
                               "request_id", "r1", "result", "x", 0.1)),
       "echo: {type reply, request_id, result}");
    json_decref(r);

    send_to(id, "call_from_router", "c2", "Calc.add",
            "{\"type\": \"request\", \"request_id\": \"r2\", \"func_name\": "
            "\"Calc.add\", \"args\": [], \"kwargs\": {\"a\": 40, \"b\": 2}}");
    r = reply("c2", 2000);
    is_int(json_number_value(json_object_get(r, "result")), 42,
           "add: kwargs bind by name");
    json_decref(r);

    call(id, "c3", "Calc.count", "r3", "[3]");
    for (int i = 0; i < 3; i++) {
        r = reply("c3", 2000);
        ok(jeq(r, json_pack("{s:s, s:s, s:{s:i}}", "type",
                                   "streaming", "request_id", "r3", "data",
                                   "i", i)), "count: chunk %d", i);
        json_decref(r);
    }
    r = reply("c3", 2000);
    ok(jeq(r, json_pack("{s:s, s:s}", "type", "end", "request_id",
                               "r3")), "count: end");
    json_decref(r);

    call(id, "c4", "Calc.count", "r4", "[\"x\"]");
    r = reply("c4", 2000);
    ok(jeq(r, json_pack("{s:s, s:s, s:s}", "type", "error",
                               "request_id", "r4", "error",
                               "count takes an integer, got [\"x\"]")),
       "an error carries the request_id");
    json_decref(r);

    call(id, "c5", "Calc.fail", "r5", "[]");
    r = reply("c5", 2000);
    is_str(json_string_value(json_object_get(r, "error")),
           "method fail failed", "an error without text");
    json_decref(r);

    call(id, "c6", "Calc.nope", "r6", "[]");
    r = reply("c6", 2000);
    is_str(json_string_value(json_object_get(r, "error")),
           "Method Calc.nope not found", "an unknown method");
    json_decref(r);

    /* Dispatch is on func_name after its last dot. */
    send_to(id, "call_from_router", "c7", "Calc.echo",
            "{\"request_id\": \"r7\", \"func_name\": \"Other.x.greet\", "
            "\"args\": [\"Ann\"]}");
    r = reply("c7", 2000);
    is_str(json_string_value(json_object_get(r, "result")), "hello, Ann",
           "func_name after the last dot; the method's data");
    json_decref(r);

    send_to(id, "call_from_router", "c8", "Calc.echo",
            "{\"request_id\": \"r8\", \"func_name\": \"Calc.echo\", "
            "\"args\": {\"not\": \"a list\"}}");
    r = reply("c8", 2000);
    is_str(json_string_value(json_object_get(r, "error")),
           "\"args\" must be a list", "args that are not a list");
    json_decref(r);

    send_to(id, "call_from_router", "c9", NULL, NULL);
    send_to(id, "heartbeat_ack", "", NULL, NULL);
    send_to(id, "error", "{\"type\": \"error\", \"error\": \"whatever\"}",
            NULL, NULL);
    send_to(id, "frobnicate", "", NULL, NULL);
    call(id, "c10", "Calc.echo", "r10", "[10]");
    r = reply("c10", 2000);
    is_int(json_integer_value(json_object_get(r, "result")), 10,
           "short calls, acks, errors and unknown types do no harm");
    json_decref(r);

    (void) m;
    vr_dealer_destroy(&d);
}

static void
test_capacity_cancel(void)
{
    vr_dealer_t *d = dealer("Cap", 3);
    const char  *id;
    json_t      *r;
    int64_t      t0;
    int          got = 0;

    vr_dealer_set_cancel(d, 1);
    vr_dealer_start(d);
    json_decref(registered(d));
    id = vr_dealer_identity(d);

    t0 = vr_lib_now_ms();
    call(id, "a", "Cap.sleep", "ra", "[300]");
    call(id, "b", "Cap.sleep", "rb", "[300]");
    call(id, "c", "Cap.sleep", "rc", "[300]");
    for (int i = 0; i < 3; i++) {
        msg_t m;
        if (expect(&m, 3000, "heartbeat")) {
            got += strcmp(m.f[1], "reply_from_dealer") == 0;
            msg_free(&m);
        }
    }
    is_int(got, 3, "3 workers: 3 calls answered");
    ok(vr_lib_now_ms() - t0 < 850, "... at the same time (%lld ms)",
       (long long) (vr_lib_now_ms() - t0));

    /* Cancel a running one and a queued one. */
    call(id, "a", "Cap.sleep", "r1", "[5000]");
    call(id, "b", "Cap.sleep", "r2", "[5000]");
    call(id, "c", "Cap.sleep", "r3", "[5000]");
    call(id, "d", "Cap.sleep", "r4", "[5000]");
    usleep(100000);
    t0 = vr_lib_now_ms();
    send_to(id, "cancel_from_router", "d", "{\"request_id\": \"r4\"}", NULL);
    r = reply("d", 2000);
    ok(jeq(r, json_pack("{s:s, s:s, s:s}", "type", "error",
                               "request_id", "r4", "error", "cancelled")),
       "cancel of a queued request: error cancelled at once");
    json_decref(r);
    send_to(id, "cancel_from_router", "a", "{\"request_id\": \"r1\"}", NULL);
    r = reply("a", 2000);
    is_str(json_string_value(json_object_get(r, "error")), "cancelled",
           "cancel of a running request: its handler sees it and stops");
    ok(vr_lib_now_ms() - t0 < 1500, "... soon");
    json_decref(r);
    send_to(id, "cancel_from_router", "b", "{\"request_id\": \"r2\"}", NULL);
    send_to(id, "cancel_from_router", "c", "{\"request_id\": \"r3\"}", NULL);
    send_to(id, "cancel_from_router", "c", "{\"request_id\": \"unknown\"}",
            NULL);
    json_decref(reply("b", 2000));
    json_decref(reply("c", 2000));
    vr_dealer_destroy(&d);
}

static void
test_restart(void)
{
    vr_dealer_t *d = dealer("Re", 1);
    json_t      *reg;
    char         where[64];

    vr_dealer_start(d);
    json_decref(registered(d));
    snprintf(where, sizeof(where), "%s", endpoint);
    zmq_close(router);
    router_open(where);
    reg = registered(d);
    ok(reg != NULL, "after the gateway restarts the dealer registers again");
    json_decref(reg);
    call(vr_dealer_identity(d), "c1", "Re.echo", "r1", "[1]");
    json_t *r = reply("c1", 2000);
    ok(r != NULL, "and serves");
    json_decref(r);

    vr_dealer_destroy(&d);
}

static void
test_stop(void)
{
    vr_dealer_t *d = dealer("Stop", 1);
    const char  *id;
    json_t      *reg, *r;
    msg_t        m;
    bool         shutdown = false;

    vr_dealer_set_stop_timeout(d, 3000);
    vr_dealer_start(d);
    json_decref(registered(d));
    id = vr_dealer_identity(d);
    call(id, "c1", "Stop.sleep", "r1", "[400]");
    usleep(50000);
    vr_dealer_stop(d);
    reg = registered(d);
    ok(reg != NULL && json_object_size(json_object_get(reg, "methods")) == 0,
       "stop: it registers without methods first (no new work)");
    json_decref(reg);
    r = reply("c1", 2000);
    is_int(json_integer_value(json_object_get(r, "result")), 400,
           "stop: the running request still ends with its result");
    json_decref(r);
    while (expect(&m, 2000, "heartbeat")) {
        if (strcmp(m.f[1], "shutdown") == 0) {
            shutdown = true;
            send_to(m.f[0], "shutdown_ack", NULL, NULL, NULL);
        }
        msg_free(&m);
        if (shutdown) {
            break;
        }
    }
    ok(shutdown, "stop: then shutdown");
    ok(vr_dealer_wait(d) == VR_OK, "wait: returns once stopped");
    vr_dealer_destroy(&d);

    d = dealer("Stop2", 1);
    vr_dealer_set_stop_timeout(d, 200);
    vr_dealer_start(d);
    json_decref(registered(d));
    call(vr_dealer_identity(d), "c2", "Stop2.sleep", "r2", "[10000]");
    usleep(50000);
    int64_t t0 = vr_lib_now_ms();
    vr_dealer_destroy(&d);
    ok(vr_lib_now_ms() - t0 < 2000, "stop timeout: a long handler is told "
       "to give up (%lld ms)", (long long) (vr_lib_now_ms() - t0));
}

int
main(void)
{
    ctx = zmq_ctx_new();
    router_open("tcp://127.0.0.1:*");
    test_settings();
    test_register();
    test_answers();
    test_capacity_cancel();
    test_restart();
    test_stop();
    zmq_close(router);
    zmq_ctx_term(ctx);
    return done_testing();
}
