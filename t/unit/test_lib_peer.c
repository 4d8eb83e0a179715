/*
 * test_lib_peer.c: libvoidrail as a process, for the integration tests
 * (t/10x*.t drive it against the real gateway).  Not a unit test itself.
 *
 *   test_lib_peer call EP METHOD [ARGS [KWARGS]]   items as they come:
 *                                    ITEM <json>... then END or ERROR
 *   test_lib_peer invoke EP METHOD [ARGS [KWARGS]] RESULT <json> or ERROR
 *   test_lib_peer many EP METHOD N   N calls in flight at once on one
 *                                    client, args [i]; GOOD <k> OF <N>
 *   test_lib_peer batch EP METHOD=ARGS...   all calls in flight at once
 *                                    on one client, then in order:
 *                                    CALL <i> RESULT <json> or ERROR;
 *                                    with --pause MS, PAUSED and a pause
 *                                    between connecting and the calls
 *   test_lib_peer threads EP METHOD N T   T threads share one client,
 *                                    N calls in all; GOOD <k> OF <N>
 *   test_lib_peer twice EP METHOD ARGS PAUSE_MS   invoke, PAUSED, wait,
 *                                    invoke again on the same client
 *   test_lib_peer query EP NAME      methods, clusters, router_info,
 *                                    queue_status: RESULT <json> or ERROR
 *   test_lib_peer dealer EP SERVICE  serves the test methods until SIGTERM
 *                                    or SIGINT, or its method stop is
 *                                    called (vr_dealer_stop()):
 *                                    ID <identity>, then STOPPED
 *
 *   options: --timeout MS (default 10000), --key KEY, --curve SERVER
 *   PUBLIC SECRET (CURVE with this client pair), and for dealer
 *   --workers N, --heartbeat MS, --cancel, --stop-timeout MS; for batch
 *   --pause MS
 *
 * ERROR lines read "ERROR <code> <message>".  Exit status 0 unless the
 * arguments are wrong.
 */
#include "config.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voidrail.h"

static int          timeout_ms = 10000, workers = 1, heartbeat_ms = 1000;
static int          stop_timeout_ms = 5000, cancel, batch_pause_ms;
static const char  *key;
static const char  *curve[3];           /* server, public, secret keys */
static atomic_int   cancelled_seen;

static void
say(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static vr_client_t *
client(const char *ep)
{
    vr_client_t *c = vr_client_new(ep);
    vr_error_t   err;

    if (key != NULL) {
        vr_client_set_api_key(c, key);
    }
    if (curve[0] != NULL
        && vr_client_set_curve(c, curve[0], curve[1], curve[2]) != VR_OK)
    {
        say("ERROR usage bad CURVE keys");
        vr_client_destroy(&c);
        return NULL;
    }
    if (vr_client_connect(c, timeout_ms, &err) != VR_OK) {
        say("ERROR %s %s", err.code, err.message);
        vr_client_destroy(&c);
    }
    return c;
}

/* ---- client modes ------------------------------------------------------ */

static int
do_call(const char *ep, const char *method, const char *args,
        const char *kwargs, bool stream)
{
    vr_client_t *c = client(ep);
    vr_call_t   *call;
    vr_error_t   err;
    char        *item;
    int          rc;

    if (c == NULL) {
        return 0;
    }
    if (!stream) {
        if (vr_client_invoke(c, method, args, kwargs, timeout_ms, &item,
                             &err) == VR_OK)
        {
            say("RESULT %s", item);
            free(item);
        } else {
            say("ERROR %s %s", err.code, err.message);
        }
        vr_client_destroy(&c);
        return 0;
    }
    call = vr_client_call(c, method, args, kwargs, &err);
    if (call == NULL) {
        say("ERROR %s %s", err.code, err.message);
    }
    while (call != NULL
           && (rc = vr_call_next(call, timeout_ms, &item, &err)) == VR_MORE)
    {
        say("ITEM %s", item);
        free(item);
    }
    if (call != NULL) {
        if (rc == VR_OK) {
            say("END");
        } else {
            say("ERROR %s %s", err.code, err.message);
        }
    }
    vr_call_destroy(&call);
    vr_client_destroy(&c);
    return 0;
}

static int
do_many(const char *ep, const char *method, int n)
{
    vr_client_t  *c = client(ep);
    vr_call_t   **calls;
    vr_error_t    err;
    char          args[32], *out;
    int           good = 0;

    if (c == NULL) {
        return 0;
    }
    calls = calloc((size_t) n, sizeof(*calls));
    for (int i = 0; i < n; i++) {
        snprintf(args, sizeof(args), "[%d]", i);
        calls[i] = vr_client_call(c, method, args, NULL, &err);
    }
    for (int i = 0; i < n; i++) {
        snprintf(args, sizeof(args), "%d", i);
        if (vr_call_wait(calls[i], timeout_ms, &out, &err) == VR_OK) {
            good += strcmp(out, args) == 0;
            free(out);
        } else {
            say("ERROR %s %s", err.code, err.message);
        }
        vr_call_destroy(&calls[i]);
    }
    say("GOOD %d OF %d", good, n);
    free(calls);
    vr_client_destroy(&c);
    return 0;
}

/* specs: "METHOD=ARGS" (ARGS a JSON array), all started before any wait. */
static int
do_batch(const char *ep, char **specs, int n)
{
    vr_client_t *c = client(ep);
    vr_call_t   *calls[16];
    vr_error_t   err;
    char        *out, *eq;

    if (c == NULL) {
        return 0;
    }
    if (batch_pause_ms > 0) {
        say("PAUSED");
        usleep((useconds_t) batch_pause_ms * 1000);
    }
    for (int i = 0; i < n; i++) {
        eq = strchr(specs[i], '=');
        if (eq != NULL) {
            *eq++ = '\0';
        }
        calls[i] = vr_client_call(c, specs[i], eq, NULL, &err);
        if (calls[i] == NULL) {
            say("CALL %d ERROR %s %s", i, err.code, err.message);
        }
    }
    for (int i = 0; i < n; i++) {
        if (calls[i] == NULL) {
            continue;
        }
        if (vr_call_wait(calls[i], timeout_ms, &out, &err) == VR_OK) {
            say("CALL %d RESULT %s", i, out);
            free(out);
        } else {
            say("CALL %d ERROR %s %s", i, err.code, err.message);
        }
        vr_call_destroy(&calls[i]);
    }
    vr_client_destroy(&c);
    return 0;
}

typedef struct {
    vr_client_t *c;
    const char  *method;
    int          from, to, good;
} share_t;

static void *
share(void *arg)
{
    share_t   *s = arg;
    vr_error_t err;
    char       args[32], want[32], *out;

    for (int i = s->from; i < s->to; i++) {
        snprintf(args, sizeof(args), "[%d]", i);
        snprintf(want, sizeof(want), "%d", i);
        if (vr_client_invoke(s->c, s->method, args, NULL, timeout_ms, &out,
                             &err) == VR_OK)
        {
            s->good += strcmp(out, want) == 0;
            free(out);
        }
    }
    return NULL;
}

static int
do_threads(const char *ep, const char *method, int n, int t)
{
    vr_client_t *c = client(ep);
    pthread_t    th[64];
    share_t      s[64];
    int          good = 0;

    if (c == NULL) {
        return 0;
    }
    t = t < 1 ? 1 : t > 64 ? 64 : t;
    for (int i = 0; i < t; i++) {
        s[i] = (share_t) { c, method, n * i / t, n * (i + 1) / t, 0 };
        pthread_create(&th[i], NULL, share, &s[i]);
    }
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        good += s[i].good;
    }
    say("GOOD %d OF %d", good, n);
    vr_client_destroy(&c);
    return 0;
}

static int
do_twice(const char *ep, const char *method, const char *args, int pause_ms)
{
    vr_client_t *c = client(ep);
    vr_error_t   err;
    char        *out;

    for (int i = 0; c != NULL && i < 2; i++) {
        if (i == 1) {
            say("PAUSED");
            usleep((useconds_t) pause_ms * 1000);
        }
        if (vr_client_invoke(c, method, args, NULL, timeout_ms, &out, &err)
            == VR_OK)
        {
            say("RESULT %s", out);
            free(out);
        } else {
            say("ERROR %s %s", err.code, err.message);
        }
    }
    vr_client_destroy(&c);
    return 0;
}

static int
do_query(const char *ep, const char *name)
{
    vr_client_t *c = client(ep);
    vr_error_t   err;
    char        *out;
    int          rc;

    if (c == NULL) {
        return 0;
    }
    rc = strcmp(name, "methods") == 0
             ? vr_client_methods(c, timeout_ms, &out, &err)
         : strcmp(name, "clusters") == 0
             ? vr_client_clusters(c, timeout_ms, &out, &err)
         : strcmp(name, "router_info") == 0
             ? vr_client_router_info(c, timeout_ms, &out, &err)
             : vr_client_queue_status(c, timeout_ms, &out, &err);
    if (rc == VR_OK) {
        say("RESULT %s", out);
        free(out);
    } else {
        say("ERROR %s %s", err.code, err.message);
    }
    vr_client_destroy(&c);
    return 0;
}

/* ---- the dealer -------------------------------------------------------- */

static int
m_echo(vr_job_t *job, void *data)
{
    const char *v = vr_job_param(job, 0, "value");

    return vr_job_result(job, v != NULL ? v : "null");
}

static int
m_add(vr_job_t *job, void *data)
{
    long long a, b;

    if (vr_job_param_int(job, 0, "a", &a) != VR_OK
        || vr_job_param_int(job, 1, "b", &b) != VR_OK)
    {
        return vr_job_error(job, "add takes two integers a and b");
    }
    return vr_job_resultf(job, "%lld", a + b);
}

static int
m_count(vr_job_t *job, void *data)
{
    long long n = 0;
    double    delay = 0;

    vr_job_param_int(job, 0, "n", &n);
    vr_job_param_double(job, 1, "delay", &delay);
    for (long long i = 0; i < n; i++) {
        if (i > 0 && delay > 0) {
            usleep((useconds_t) (delay * 1e6));
        }
        if (vr_job_emitf(job, "{\"i\": %lld}", i) != VR_OK) {
            return VR_ERROR;
        }
    }
    return VR_OK;
}

static int
m_fail(vr_job_t *job, void *data)
{
    const char *text = vr_job_param_string(job, 0, "message");

    return vr_job_error(job, text != NULL ? text : "failed");
}

static int
m_sleep(vr_job_t *job, void *data)
{
    double s = 0;

    vr_job_param_double(job, 0, "seconds", &s);
    for (double t = 0; t < s; t += 0.01) {
        if (vr_job_cancelled(job)) {
            atomic_fetch_add(&cancelled_seen, 1);
            say("CANCELLED %s", vr_job_request_id(job));
            return VR_ERROR;
        }
        usleep(10000);
    }
    return vr_job_resultf(job, "{\"slept\": %g}", s);
}

static int
m_whoami(vr_job_t *job, void *data)
{
    return vr_job_result_string(job, data);
}

/* Stops the dealer (data) from a handler, and answers. */
static int
m_stop(vr_job_t *job, void *data)
{
    vr_dealer_stop(data);
    return vr_job_result_string(job, "stopping");
}

static int
do_dealer(const char *ep, const char *service)
{
    vr_dealer_t     *d = vr_dealer_new(ep, service);
    vr_method_def_t  add = { "add", m_add, "Add two numbers",
                             "{\"a\": \"first number\", \"b\": \"second "
                             "number\"}", 0, "{\"since\": \"0.1\"}" };
    vr_method_def_t  count = { "count", m_count, "Count to n", NULL, 1, NULL };
    int              rc;

    if (d == NULL) {
        say("ERROR usage bad dealer arguments");
        return 2;
    }
    vr_dealer_add(d, "echo", m_echo, NULL);
    vr_dealer_add_def(d, &add, NULL);
    vr_dealer_add_def(d, &count, NULL);
    vr_dealer_add(d, "fail", m_fail, NULL);
    vr_dealer_add(d, "sleep", m_sleep, NULL);
    vr_dealer_add(d, "whoami", m_whoami, (void *) vr_dealer_identity(d));
    vr_dealer_add(d, "stop", m_stop, d);
    vr_dealer_set_max_concurrent(d, workers);
    vr_dealer_set_heartbeat(d, heartbeat_ms);
    vr_dealer_set_stop_timeout(d, stop_timeout_ms);
    vr_dealer_set_cancel(d, cancel);
    vr_dealer_set_log(d, VR_LEVEL_INFO, NULL, NULL);
    if (key != NULL) {
        vr_dealer_set_api_key(d, key);
    }
    if (curve[0] != NULL
        && vr_dealer_set_curve(d, curve[0], curve[1], curve[2]) != VR_OK)
    {
        say("ERROR usage bad CURVE keys");
        vr_dealer_destroy(&d);
        return 2;
    }
    say("ID %s", vr_dealer_identity(d));
    rc = vr_dealer_run(d);
    vr_dealer_destroy(&d);
    say("STOPPED %d", rc);
    return 0;
}

int
main(int argc, char **argv)
{
    char *pos[16];
    int   npos = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--curve") == 0 && i + 3 < argc) {
            curve[0] = argv[++i];
            curve[1] = argv[++i];
            curve[2] = argv[++i];
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--heartbeat") == 0 && i + 1 < argc) {
            heartbeat_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--stop-timeout") == 0 && i + 1 < argc) {
            stop_timeout_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--pause") == 0 && i + 1 < argc) {
            batch_pause_ms = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--cancel") == 0) {
            cancel = 1;
        } else if (npos < 16) {
            pos[npos++] = argv[i];
        }
    }
    if (npos >= 3 && strcmp(pos[0], "call") == 0) {
        return do_call(pos[1], pos[2], npos > 3 ? pos[3] : NULL,
                       npos > 4 ? pos[4] : NULL, true);
    }
    if (npos >= 3 && strcmp(pos[0], "invoke") == 0) {
        return do_call(pos[1], pos[2], npos > 3 ? pos[3] : NULL,
                       npos > 4 ? pos[4] : NULL, false);
    }
    if (npos == 4 && strcmp(pos[0], "many") == 0) {
        return do_many(pos[1], pos[2], atoi(pos[3]));
    }
    if (npos >= 3 && strcmp(pos[0], "batch") == 0) {
        return do_batch(pos[1], &pos[2], npos - 2);
    }
    if (npos == 5 && strcmp(pos[0], "threads") == 0) {
        return do_threads(pos[1], pos[2], atoi(pos[3]), atoi(pos[4]));
    }
    if (npos == 5 && strcmp(pos[0], "twice") == 0) {
        return do_twice(pos[1], pos[2], pos[3], atoi(pos[4]));
    }
    if (npos == 3 && strcmp(pos[0], "query") == 0) {
        return do_query(pos[1], pos[2]);
    }
    if (npos == 3 && strcmp(pos[0], "dealer") == 0) {
        return do_dealer(pos[1], pos[2]);
    }
    fprintf(stderr, "usage: test_lib_peer call|invoke|many|batch|threads|"
            "query|dealer ... (see the source)\n");
    return 2;
}
