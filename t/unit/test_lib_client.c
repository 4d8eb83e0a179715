/*
 * test_lib_client.c: unit tests of libvoidrail's client (vr_client_t,
 * vr_call_t) against a scripted ROUTER in a thread of this process.
 *
 * The fake router answers as a gateway would: auth (key "good"; a login
 * without a key gets the Python router's two errors), the four
 * commands, and calls by method name: T.echo (the args as the result),
 * T.count (chunks 0..n-1 and end), T.fail (an error with a code),
 * T.pyfail (a Python dealer's error: no request_id), T.silent (nothing),
 * T.later (answered only when T.release comes, newest first), T.slow (after
 * 50 ms).  It can be restarted on the same port.
 */
#include "config.h"
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "voidrail.h"
#include "lib.h"
#include "tap.h"

#define HELD_MAX  256

typedef struct {
    zmq_msg_t  cid;
    char      *rid_json;
    char      *args;
    int64_t    due_ms;
} held_t;

typedef struct {
    void        *ctx;
    void        *sock;
    char         endpoint[64];
    pthread_t    thread;
    atomic_int   stop;
    atomic_int   auths;
    atomic_int   calls;
    held_t       held[HELD_MAX];
    int          nheld;
} fake_t;

static void
fake_send(fake_t *f, zmq_msg_t *id, const char *type, const char *body)
{
    zmq_msg_t copy;

    zmq_msg_init(&copy);
    zmq_msg_copy(&copy, id);
    zmq_msg_send(&copy, f->sock, ZMQ_SNDMORE);
    zmq_send(f->sock, type, strlen(type), ZMQ_SNDMORE);
    zmq_send(f->sock, body, strlen(body), 0);
}

static void
fake_reply(fake_t *f, zmq_msg_t *id, const char *fmt, ...)
{
    char    body[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    fake_send(f, id, "reply_from_router", body);
}

static void
fake_hold(fake_t *f, zmq_msg_t *id, const char *rid_json, const char *args,
          int64_t due_ms)
{
    held_t *h = &f->held[f->nheld++];

    zmq_msg_init(&h->cid);
    zmq_msg_copy(&h->cid, id);
    h->rid_json = strdup(rid_json);
    h->args = strdup(args);
    h->due_ms = due_ms;
}

static void
fake_release(fake_t *f, int i)
{
    held_t *h = &f->held[i];

    fake_reply(f, &h->cid, "{\"type\": \"reply\", \"request_id\": %s, "
               "\"result\": %s}", h->rid_json, h->args);
    zmq_msg_close(&h->cid);
    free(h->rid_json);
    free(h->args);
    f->held[i] = f->held[--f->nheld];
}

static void
fake_call(fake_t *f, zmq_msg_t *fr, size_t n)
{
    char        method[64], rid_json[128], args[2048];
    const char *body = zmq_msg_data(&fr[3]);
    size_t      len = zmq_msg_size(&fr[3]);
    const char *v;
    size_t      vn;

    atomic_fetch_add(&f->calls, 1);
    snprintf(method, sizeof(method), "%.*s", (int) zmq_msg_size(&fr[2]),
             (const char *) zmq_msg_data(&fr[2]));
    vr_lib_json_member(body, len, "request_id", &v, &vn);
    snprintf(rid_json, sizeof(rid_json), "%.*s", (int) vn, v);
    vr_lib_json_member(body, len, "args", &v, &vn);
    snprintf(args, sizeof(args), "%.*s", (int) vn, v);

    if (strcmp(method, "T.echo") == 0) {
        fake_reply(f, &fr[0], "{\"type\": \"reply\", \"request_id\": %s, "
                   "\"result\": %s}", rid_json, args);
    } else if (strcmp(method, "T.count") == 0) {
        int count = atoi(args + 1);
        for (int i = 0; i < count; i++) {
            fake_reply(f, &fr[0], "{\"type\": \"streaming\", \"request_id\": "
                       "%s, \"data\": {\"i\": %d}}", rid_json, i);
        }
        fake_reply(f, &fr[0], "{\"type\": \"end\", \"request_id\": %s}",
                   rid_json);
    } else if (strcmp(method, "T.fail") == 0) {
        fake_reply(f, &fr[0], "{\"type\": \"error\", \"request_id\": %s, "
                   "\"error\": \"nobody offers T.fail\", \"code\": "
                   "\"no_service\"}", rid_json);
    } else if (strcmp(method, "T.pyfail") == 0) {
        fake_reply(f, &fr[0], "{\"type\": \"error\", \"error\": \"kaputt\"}");
    } else if (strcmp(method, "T.later") == 0) {
        fake_hold(f, &fr[0], rid_json, args, INT64_MAX);
    } else if (strcmp(method, "T.release") == 0) {
        while (f->nheld > 0) {
            fake_release(f, f->nheld - 1);
        }
        fake_reply(f, &fr[0], "{\"type\": \"reply\", \"request_id\": %s, "
                   "\"result\": null}", rid_json);
    } else if (strcmp(method, "T.slow") == 0) {
        fake_hold(f, &fr[0], rid_json, args, vr_lib_now_ms() + 50);
    }
    (void) n;
}

static void *
fake_run(void *arg)
{
    fake_t    *f = arg;
    zmq_msg_t  fr[6];
    size_t     n;

    while (!atomic_load(&f->stop)) {
        zmq_pollitem_t item = { f->sock, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&item, 1, 10);
        for (int i = f->nheld - 1; i >= 0; i--) {
            if (f->held[i].due_ms <= vr_lib_now_ms()) {
                fake_release(f, i);
            }
        }
        while (vr_lib_recv(f->sock, fr, 6, &n) == VR_OK) {
            if (n < 2) {
                vr_lib_frames_close(fr, n);
                continue;
            }
            if (vr_lib_frame_is(&fr[1], "auth")) {
                atomic_fetch_add(&f->auths, 1);
                if (strstr(zmq_msg_data(&fr[2]), "\"good\"") != NULL) {
                    fake_send(f, &fr[0], "auth_ack", "{\"type\": \"reply\", "
                              "\"request_id\": \"x\", \"result\": "
                              "{\"status\": \"authenticated\"}}");
                } else if (strstr(zmq_msg_data(&fr[2]), "\"api_key\": null")
                           != NULL)
                {
                    /* A keyless login: the Python router's pair. */
                    fake_send(f, &fr[0], "error", "{\"type\": \"error\", "
                              "\"request_id\": \"n1\", \"error\": "
                              "\"No need to authenticate\", \"state\": "
                              "\"error\"}");
                    fake_send(f, &fr[0], "error", "{\"type\": \"error\", "
                              "\"request_id\": \"n2\", \"error\": "
                              "\"Authentication failed\", \"state\": "
                              "\"error\"}");
                } else {
                    fake_send(f, &fr[0], "error", "{\"type\": \"error\", "
                              "\"request_id\": \"y\", \"error\": "
                              "\"Authentication failed\", \"state\": "
                              "\"error\", \"code\": \"unauthorized\"}");
                }
            } else if (vr_lib_frame_is(&fr[1], "methods")) {
                fake_send(f, &fr[0], "methods_ack", "{\"type\": \"reply\", "
                          "\"request_id\": \"z\", \"result\": {\"T.echo\": "
                          "{\"description\": null, \"params\": null, "
                          "\"stream\": false, \"metadata\": {}}}}");
            } else if (vr_lib_frame_is(&fr[1], "router_info")) {
                fake_send(f, &fr[0], "router_info_ack", "{\"type\": "
                          "\"reply\", \"request_id\": \"z\", \"result\": "
                          "{\"mode\": \"fifo\", \"uptime\": 0.50}}");
            } else if (vr_lib_frame_is(&fr[1], "queue_status")) {
                fake_send(f, &fr[0], "error", "{\"type\": \"error\", "
                          "\"request_id\": \"q\", \"error\": "
                          "\"Not authenticated\", \"state\": \"error\"}");
            } else if (vr_lib_frame_is(&fr[1], "call_from_client") && n >= 4) {
                fake_call(f, fr, n);
            }
            vr_lib_frames_close(fr, n);
        }
    }
    return NULL;
}

static void
fake_start(fake_t *f, const char *endpoint)
{
    int    zero = 0, one = 1;
    size_t len = sizeof(f->endpoint);

    f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
    zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(f->sock, ZMQ_ROUTER_HANDOVER, &one, sizeof(one));
    while (zmq_bind(f->sock, endpoint) != 0) {
        usleep(20000);              /* the old socket's port is freed */
    }
    zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
    atomic_store(&f->stop, 0);
    pthread_create(&f->thread, NULL, fake_run, f);
}

static void
fake_stop(fake_t *f)
{
    atomic_store(&f->stop, 1);
    pthread_join(f->thread, NULL);
    while (f->nheld > 0) {
        held_t *h = &f->held[--f->nheld];
        zmq_msg_close(&h->cid);
        free(h->rid_json);
        free(h->args);
    }
    zmq_close(f->sock);
}

/* ---- the tests --------------------------------------------------------- */

static vr_client_t *
connected(fake_t *f, const char *key)
{
    vr_client_t *c = vr_client_new(f->endpoint);
    vr_error_t   err;

    vr_client_set_api_key(c, key);
    if (vr_client_connect(c, 5000, &err) != VR_OK) {
        diag("connect: %s: %s", err.code, err.message);
    }
    return c;
}

static void
test_connect(fake_t *f)
{
    vr_client_t *c;
    vr_error_t   err;
    int64_t      t0;

    ok(vr_client_new(NULL) == NULL, "new(NULL) is NULL");
    vr_client_destroy(NULL);
    c = NULL;
    vr_client_destroy(&c);
    ok(1, "destroy is NULL-safe");

    c = vr_client_new("tcp://127.0.0.1:1");
    t0 = vr_lib_now_ms();
    ok(vr_client_connect(c, 300, &err) == VR_ERROR, "no gateway: connect "
       "fails");
    is_str(err.code, "unreachable", "no gateway: code unreachable");
    ok(vr_lib_now_ms() - t0 < 3000, "no gateway: within the timeout");
    ok(vr_client_call(c, "T.echo", NULL, NULL, &err) == NULL
       && strcmp(err.code, "usage") == 0, "call before connect: usage");
    ok(vr_client_connect(c, 100, &err) == VR_ERROR
       && strcmp(err.code, "unreachable") == 0,
       "a failed connect may be tried again");
    vr_client_destroy(&c);
    ok(c == NULL, "destroy clears the pointer");

    c = vr_client_new("bogus://x");
    ok(vr_client_connect(c, 300, &err) == VR_ERROR
       && strcmp(err.code, "usage") == 0, "malformed endpoint: usage");
    vr_client_destroy(&c);

    c = vr_client_new(f->endpoint);
    vr_client_set_api_key(c, "bad");
    ok(vr_client_connect(c, 5000, &err) == VR_ERROR, "wrong key: refused");
    is_str(err.code, "unauthorized", "wrong key: code unauthorized");
    ok(strstr(err.message, "Authentication failed") != NULL,
       "wrong key: the gateway's text");
    vr_client_destroy(&c);

    c = connected(f, "good");
    is_int(strlen(vr_client_identity(c)), 32, "identity: 32 hex digits");
    ok(vr_client_set_api_key(c, "x") == VR_ERROR,
       "no settings after connect");
    vr_client_destroy(&c);
}

static void
test_calls(fake_t *f)
{
    vr_client_t *c = connected(f, NULL);
    vr_call_t   *call;
    vr_error_t   err;
    char        *out = NULL;
    int          rc;

    rc = vr_client_invoke(c, "T.echo", "[1, \"two\", 0.10]", "{\"k\": 1}",
                          5000, &out, &err);
    is_int(rc, VR_OK, "invoke: ok");
    is_str(out, "[1, \"two\", 0.10]", "invoke: the result verbatim");
    free(out);

    rc = vr_client_invoke(c, "T.count", "[3]", NULL, 5000, &out, &err);
    is_str(out, "[{\"i\": 0}, {\"i\": 1}, {\"i\": 2}]",
           "invoke of a stream: the chunks as an array");
    free(out);
    rc = vr_client_invoke(c, "T.count", "[0]", NULL, 5000, &out, &err);
    is_str(out, "[]", "invoke of an empty stream: []");
    free(out);

    call = vr_client_call(c, "T.count", "[2]", NULL, &err);
    ok(call != NULL && strlen(vr_call_request_id(call)) == 36,
       "call: started, with a uuid request_id");
    rc = vr_call_next(call, 5000, &out, &err);
    ok(rc == VR_MORE && strcmp(out, "{\"i\": 0}") == 0, "next: chunk 0");
    free(out);
    rc = vr_call_next(call, 5000, &out, &err);
    ok(rc == VR_MORE && strcmp(out, "{\"i\": 1}") == 0, "next: chunk 1");
    free(out);
    rc = vr_call_next(call, 5000, &out, &err);
    ok(rc == VR_OK && out == NULL, "next: the end");
    ok(vr_call_next(call, 5000, &out, &err) == VR_OK, "next after the end: "
       "the end again");
    vr_call_destroy(&call);

    call = vr_client_call(c, "T.echo", "[\"x\"]", NULL, &err);
    ok(vr_call_next(call, 5000, &out, &err) == VR_MORE
       && strcmp(out, "[\"x\"]") == 0, "next of a plain call: its result");
    free(out);
    ok(vr_call_next(call, 5000, &out, &err) == VR_OK, "then the end");
    vr_call_destroy(&call);

    rc = vr_client_invoke(c, "T.fail", NULL, NULL, 5000, &out, &err);
    ok(rc == VR_ERROR && out == NULL, "error: invoke fails");
    is_str(err.code, "no_service", "error: the gateway's code");
    is_str(err.message, "nobody offers T.fail", "error: the text");

    rc = vr_client_invoke(c, "T.pyfail", NULL, NULL, 5000, &out, &err);
    is_str(err.code, "dealer_error", "Python dealer error: dealer_error");
    is_str(err.message, "kaputt", "Python dealer error: its text");

    rc = vr_client_invoke(c, "T.silent", NULL, NULL, 200, &out, &err);
    ok(rc == VR_ERROR, "silent: fails");
    is_str(err.code, "timeout", "silent: timeout");

    call = vr_client_call(c, "T.slow", "[7]", NULL, &err);
    ok(vr_call_next(call, 1, &out, &err) == VR_ERROR
       && strcmp(err.code, "timeout") == 0, "next: a timeout ...");
    ok(vr_call_next(call, 5000, &out, &err) == VR_MORE
       && strcmp(out, "[7]") == 0, "... then the answer on a second wait");
    free(out);
    vr_call_destroy(&call);

    ok(vr_client_call(c, "T.echo", "{\"a\": 1}", NULL, &err) == NULL
       && strcmp(err.code, "usage") == 0, "args must be an array");
    ok(vr_client_call(c, "T.echo", NULL, "[1]", &err) == NULL
       && strcmp(err.code, "usage") == 0, "kwargs must be an object");
    ok(vr_client_call(c, "T.echo", "[1", NULL, &err) == NULL,
       "args must be JSON");
    ok(vr_client_invoke(c, "T.echo", NULL, NULL, 10, NULL, &err) == VR_ERROR,
       "invoke needs somewhere to put the result");

    /* Destroyed before its answer: the answer is dropped. */
    call = vr_client_call(c, "T.slow", "[1]", NULL, &err);
    vr_call_destroy(&call);
    usleep(100000);
    rc = vr_client_invoke(c, "T.echo", "[2]", NULL, 5000, &out, &err);
    is_str(out, "[2]", "a call destroyed early does not disturb the next");
    free(out);
    vr_client_destroy(&c);
}

static void
test_commands(fake_t *f)
{
    vr_client_t *c = connected(f, NULL);
    vr_error_t   err;
    char        *out;

    ok(vr_client_methods(c, 5000, &out, &err) == VR_OK
       && strstr(out, "\"T.echo\"") != NULL, "methods: the result object");
    free(out);
    ok(vr_client_router_info(c, 5000, &out, &err) == VR_OK
       && strcmp(out, "{\"mode\": \"fifo\", \"uptime\": 0.50}") == 0,
       "router_info: verbatim");
    free(out);
    ok(vr_client_queue_status(c, 5000, &out, &err) == VR_ERROR
       && out == NULL, "queue_status: a router error");
    is_str(err.code, "router_error", "router error without code");
    is_str(err.message, "Not authenticated", "router error text");
    ok(vr_client_clusters(c, 200, &out, &err) == VR_ERROR
       && strcmp(err.code, "timeout") == 0, "clusters: no answer, timeout");
    ok(vr_client_methods(c, 5000, &out, &err) == VR_OK,
       "the next command is not confused by the late one");
    free(out);
    vr_client_destroy(&c);
}

typedef struct {
    vr_client_t *c;
    int          base;
    int          good;
} worker_t;

static void *
worker(void *arg)
{
    worker_t  *w = arg;
    char       args[32], *out;
    vr_error_t err;

    for (int i = 0; i < 25; i++) {
        snprintf(args, sizeof(args), "[%d]", w->base + i);
        if (vr_client_invoke(w->c, "T.slow", args, NULL, 5000, &out, &err)
            == VR_OK)
        {
            w->good += strcmp(out, args) == 0;
            free(out);
        }
    }
    return NULL;
}

static void
test_concurrent(fake_t *f)
{
    vr_client_t *c = connected(f, NULL);
    vr_call_t   *calls[100], *rel;
    vr_error_t   err;
    char         args[32], *out;
    int          good = 0;
    pthread_t    th[4];
    worker_t     w[4];

    for (int i = 0; i < 100; i++) {
        snprintf(args, sizeof(args), "[%d]", i);
        calls[i] = vr_client_call(c, "T.later", args, NULL, &err);
    }
    rel = vr_client_call(c, "T.release", NULL, NULL, &err);
    for (int i = 0; i < 100; i++) {
        snprintf(args, sizeof(args), "[%d]", i);
        if (vr_call_wait(calls[i], 5000, &out, &err) == VR_OK) {
            good += strcmp(out, args) == 0;
            free(out);
        }
        vr_call_destroy(&calls[i]);
    }
    is_int(good, 100, "100 calls in flight, answered in reverse order: each "
           "gets its own result");
    vr_call_wait(rel, 5000, &out, &err);
    free(out);
    vr_call_destroy(&rel);

    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t) { c, 1000 * i, 0 };
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    good = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        good += w[i].good;
    }
    is_int(good, 100, "4 threads x 25 calls on one client");
    vr_client_destroy(&c);
}

static void
test_restart(fake_t *f)
{
    vr_client_t *c = connected(f, "good");
    vr_call_t   *call;
    vr_error_t   err;
    char         endpoint[64], *out = NULL;
    int          auths;
    int64_t      until;

    snprintf(endpoint, sizeof(endpoint), "%s", f->endpoint);
    auths = atomic_load(&f->auths);
    fake_stop(f);
    fake_start(f, endpoint);
    until = vr_lib_now_ms() + 5000;
    while (atomic_load(&f->auths) == auths && vr_lib_now_ms() < until) {
        usleep(10000);
    }
    ok(atomic_load(&f->auths) > auths, "after a restart the client logs in "
       "again by itself");
    ok(vr_client_invoke(c, "T.echo", "[3]", NULL, 5000, &out, &err) == VR_OK
       && strcmp(out, "[3]") == 0, "and calls work");
    free(out);

    call = vr_client_call(c, "T.silent", NULL, NULL, &err);
    vr_client_destroy(&c);
    ok(vr_call_next(call, 1000, &out, &err) == VR_ERROR
       && strcmp(err.code, "closed") == 0,
       "a call outliving its client ends as closed");
    vr_call_destroy(&call);
}

int
main(void)
{
    fake_t f;

    memset(&f, 0, sizeof(f));
    f.ctx = zmq_ctx_new();
    fake_start(&f, "tcp://127.0.0.1:*");
    test_connect(&f);
    test_calls(&f);
    test_commands(&f);
    test_concurrent(&f);
    test_restart(&f);
    fake_stop(&f);
    zmq_ctx_term(f.ctx);
    return done_testing();
}
