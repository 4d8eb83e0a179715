/*
 * dealer.c: vr_dealer_t, a worker that serves methods to the gateway
 * (PROTOCOL.md A.2.2, A.5, B.4, B.7).
 *
 * The I/O thread registers whenever a connection is made (so a restarted
 * gateway learns about us at once), heartbeats every interval whatever the
 * handlers are doing, queues calls for the workers (job.c) and sends their
 * answers.  If nothing comes back for three heartbeats it registers again
 * (a gateway that forgot us ignores heartbeats).
 *
 * Stopping: register again with no methods (no new work; the requests we
 * hold are kept), let the handlers finish for stop_timeout_ms, then send
 * "shutdown" and wait up to 500 ms for "shutdown_ack".
 */
#include "config.h"
#include <errno.h>
#include <jansson.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <utlist.h>

#include "dealer.h"

#define VR_LIB_LEAVE_MS  500

vr_dealer_t *
vr_dealer_new(const char *endpoint, const char *service_name)
{
    vr_dealer_t *d;
    const char  *key = getenv("VOIDRAIL_API_KEY");
    char         who[400];

    if (endpoint == NULL || *endpoint == '\0' || service_name == NULL
        || *service_name == '\0' || strlen(service_name) > 256)
    {
        return NULL;
    }
    d = vr_lib_calloc(1, sizeof(*d));
    d->endpoint = vr_lib_strdup(endpoint);
    d->service = vr_lib_strdup(service_name);
    d->group = vr_lib_strdup(service_name);
    d->api_key = key != NULL && *key ? vr_lib_strdup(key) : NULL;
    vr_lib_hex_id(d->id_tail, 4);
    snprintf(d->identity, sizeof(d->identity), "%s-%s", service_name,
             d->id_tail);
    d->max_concurrent = 1;
    d->heartbeat_ms = 1000;
    d->stop_timeout_ms = 5000;
    d->outbox.fd = -1;
    snprintf(who, sizeof(who), "voidrail dealer %s", d->identity);
    vr_lib_log_init(&d->log, who);
    return d;
}

void
vr_dealer_destroy(vr_dealer_t **selfp)
{
    vr_dealer_t *d;
    vr_job_t    *job, *tmp;

    if (selfp == NULL || *selfp == NULL) {
        return;
    }
    d = *selfp;
    *selfp = NULL;
    if (d->started) {
        vr_dealer_stop(d);
        vr_dealer_wait(d);
        DL_FOREACH_SAFE(d->queue, job, tmp) {
            DL_DELETE(d->queue, job);
            vr_lib_job_free(job);
        }
        vr_lib_outbox_fini(&d->outbox);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->work);
        pthread_cond_destroy(&d->ended);
        free(d->workers);
    }
    for (size_t i = 0; i < d->nmethods; i++) {
        vr_lib_method_t *m = &d->methods[i];
        free(m->name);
        free(m->description);
        free(m->params_json);
        free(m->metadata_json);
    }
    free(d->methods);
    free(d->endpoint);
    free(d->service);
    free(d->group);
    free(d->api_key);
    free(d);
}

/* ---- messages ---------------------------------------------------------- */

/* The RegisterJSON of A.3 (methods empty while stopping), with our extras. */
static char *
vr_lib_register_body(vr_dealer_t *d, bool with_methods, size_t *len)
{
    json_t *reg = json_object(), *methods = json_object(), *caps;
    char    addr[400];
    char   *text;

    if (with_methods) {
        for (size_t i = 0; i < d->nmethods; i++) {
            vr_lib_method_t *m = &d->methods[i];
            json_t          *meta = json_object();
            json_t          *params = m->params_json != NULL
                ? json_loads(m->params_json, 0, NULL) : json_null();
            json_t          *extra = m->metadata_json != NULL
                ? json_loads(m->metadata_json, 0, NULL) : json_object();

            json_object_set_new(meta, "description", m->description != NULL
                                ? json_string(m->description) : json_null());
            json_object_set_new(meta, "params", params);
            json_object_set_new(meta, "stream", json_boolean(m->stream));
            json_object_set_new(meta, "metadata", extra);
            json_object_set_new(methods, m->name, meta);
        }
    }
    snprintf(addr, sizeof(addr), "%s [PID:%d, ID:%s]", d->ip, (int) getpid(),
             d->id_tail);
    json_object_set_new(reg, "group", json_string(d->group));
    json_object_set_new(reg, "methods", methods);
    json_object_set_new(reg, "api_key", d->api_key != NULL
                        ? json_string(d->api_key) : json_null());
    json_object_set_new(reg, "remote_addr", json_string(addr));
    json_object_set_new(reg, "host_info",
                        json_pack("{s:s, s:s, s:i}", "hostname", d->hostname,
                                  "ip", d->ip, "pid", (int) getpid()));
    json_object_set_new(reg, "max_concurrent",
                        json_integer(d->max_concurrent));
    caps = json_pack("[s]", "request_id_errors");
    if (d->cancel) {
        json_array_append_new(caps, json_string("cancel"));
    }
    json_object_set_new(reg, "capabilities", caps);
    text = json_dumps(reg, JSON_ENSURE_ASCII);
    json_decref(reg);
    *len = strlen(text);
    return text;
}

/* Sends m now if the socket takes it, else after what is queued. */
static void
vr_lib_dealer_send_now(vr_dealer_t *d, vr_lib_msg_t *m, bool droppable)
{
    if (vr_lib_msg_send(d->sock, m) == VR_OK || droppable) {
        vr_lib_msg_free(m);
        return;
    }
    vr_lib_outbox_push(&d->outbox, m);
}

static void
vr_lib_dealer_register(vr_dealer_t *d, bool with_methods)
{
    size_t len;
    char  *body = vr_lib_register_body(d, with_methods, &len);

    vr_lib_dealer_send_now(d, vr_lib_msg_new(2, "register", (size_t) -1,
                                             body, len), false);
    free(body);
}

static void
vr_lib_dealer_heartbeat(vr_dealer_t *d)
{
    vr_lib_buf_t b = { NULL, 0, 0 };
    unsigned     held;

    pthread_mutex_lock(&d->lock);
    held = d->held;
    pthread_mutex_unlock(&d->lock);
    vr_lib_buf_adds(&b, "{\"api_key\": ");
    if (d->api_key != NULL) {
        vr_lib_buf_json_string(&b, d->api_key, strlen(d->api_key));
    } else {
        vr_lib_buf_adds(&b, "null");
    }
    vr_lib_buf_printf(&b, ", \"processing_requests\": %u, \"is_busy\": %s}",
                      held, held > 0 ? "true" : "false");
    /* A heartbeat that cannot go now is useless later. */
    vr_lib_dealer_send_now(d, vr_lib_msg_new(2, "heartbeat", (size_t) -1,
                                             b.p, b.len), true);
    vr_lib_buf_free(&b);
}

static void
vr_lib_dealer_answer(vr_dealer_t *d, const char *cid, size_t cid_len,
                     char *body, size_t len)
{
    vr_lib_outbox_push(&d->outbox,
                       vr_lib_msg_new(3, "reply_from_dealer", (size_t) -1,
                                      cid, cid_len, body, len));
    free(body);
}

/* ---- what the gateway sends ------------------------------------------ */

static void
vr_lib_dealer_on_call(vr_dealer_t *d, zmq_msg_t *frames, size_t n)
{
    vr_job_t *job;
    char     *error_body;

    if (n < 4) {
        vr_lib_log(&d->log, VR_LEVEL_WARN, "a call_from_router with %zu "
                   "frames was dropped", n);
        return;
    }
    job = vr_lib_job_new(d, frames, n, &error_body);
    if (job == NULL) {
        vr_lib_dealer_answer(d, zmq_msg_data(&frames[1]),
                             zmq_msg_size(&frames[1]), error_body,
                             strlen(error_body));
        return;
    }
    vr_lib_log(&d->log, VR_LEVEL_DEBUG, "call %s of %s", job->rid, job->name);
    pthread_mutex_lock(&d->lock);
    DL_APPEND(d->queue, job);
    d->held++;
    pthread_cond_signal(&d->work);
    pthread_mutex_unlock(&d->lock);
}

static void
vr_lib_dealer_on_cancel(vr_dealer_t *d, zmq_msg_t *frames, size_t n)
{
    json_t     *body;
    const char *rid;
    vr_job_t   *job, *found = NULL;
    bool        queued = false;

    if (n < 3) {
        return;
    }
    body = json_loadb(zmq_msg_data(&frames[n - 1]),
                      zmq_msg_size(&frames[n - 1]), 0, NULL);
    rid = json_string_value(json_object_get(body, "request_id"));
    if (rid == NULL) {
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&d->lock);
    for (int pass = 0; pass < 2 && found == NULL; pass++) {
        DL_FOREACH(pass == 0 ? d->queue : d->running, job) {
            if (job->cid_len == zmq_msg_size(&frames[1])
                && memcmp(job->cid, zmq_msg_data(&frames[1]),
                          job->cid_len) == 0
                && strcmp(job->rid, rid) == 0)
            {
                found = job;
                queued = pass == 0;
                break;
            }
        }
    }
    if (found != NULL) {
        atomic_store(&found->cancelled, 1);
        if (queued) {
            DL_DELETE(d->queue, found);
            d->held--;
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (found != NULL) {
        vr_lib_log(&d->log, VR_LEVEL_INFO, "request %s cancelled%s", rid,
                   queued ? " before it started" : "");
    }
    if (found != NULL && queued) {
        size_t len;
        char  *b = vr_lib_job_body(found->rid_json, "error", "cancelled",
                                   &len);
        vr_lib_dealer_answer(d, found->cid, found->cid_len, b, len);
        vr_lib_job_free(found);
    }
    json_decref(body);
}

typedef struct {
    int       phase;            /* running, draining, leaving */
    int64_t   last_rx_ms;
    int64_t   next_heartbeat_ms;
    int64_t   reregister_ms;    /* not before then */
    int64_t   deadline_ms;      /* of draining or leaving */
    unsigned  connections;
    bool      left;             /* shutdown_ack came */
    bool      refused;          /* registration refused (logged once) */
} vr_lib_io_t;

enum { VR_LIB_RUNNING, VR_LIB_DRAINING, VR_LIB_LEAVING };

static void
vr_lib_dealer_on_error(vr_dealer_t *d, vr_lib_io_t *io, zmq_msg_t *last)
{
    json_t     *body = json_loadb(zmq_msg_data(last), zmq_msg_size(last), 0,
                                  NULL);
    const char *text = json_string_value(json_object_get(body, "error"));

    if (text == NULL) {
        text = "(no text)";
    }
    if (strncmp(text, "Registration failed", 19) == 0) {
        vr_lib_log(&d->log, io->refused ? VR_LEVEL_DEBUG : VR_LEVEL_ERROR,
                   "the gateway refused the registration: %s (trying again "
                   "every few seconds)", text);
        io->refused = true;
    } else {
        vr_lib_log(&d->log, VR_LEVEL_INFO, "the gateway says: %s", text);
    }
    json_decref(body);
}

static void
vr_lib_dealer_dispatch(vr_dealer_t *d, vr_lib_io_t *io, zmq_msg_t *frames,
                       size_t n)
{
    zmq_msg_t *type = &frames[0];

    io->last_rx_ms = vr_lib_now_ms();
    if (vr_lib_frame_is(type, "call_from_router")) {
        vr_lib_dealer_on_call(d, frames, n);
    } else if (vr_lib_frame_is(type, "heartbeat_ack")) {
        return;
    } else if (vr_lib_frame_is(type, "register_ack")) {
        if (io->refused) {
            vr_lib_log(&d->log, VR_LEVEL_WARN, "registered at last");
        }
        io->refused = false;
        vr_lib_log(&d->log, VR_LEVEL_INFO, "registered at %s", d->endpoint);
    } else if (vr_lib_frame_is(type, "cancel_from_router")) {
        vr_lib_dealer_on_cancel(d, frames, n);
    } else if (vr_lib_frame_is(type, "shutdown_ack")) {
        io->left = true;
    } else if (vr_lib_frame_is(type, "router_shutdown")) {
        vr_lib_log(&d->log, VR_LEVEL_INFO, "the gateway is stopping; we will "
                   "register again when it is back");
    } else if (vr_lib_frame_is(type, "reregister_required")) {
        vr_lib_dealer_register(d, io->phase == VR_LIB_RUNNING);
    } else if (vr_lib_frame_is(type, "error") && n >= 2) {
        vr_lib_dealer_on_error(d, io, &frames[n - 1]);
    } else {
        vr_lib_log(&d->log, VR_LEVEL_DEBUG, "a message of type %.*s was "
                   "ignored", (int) zmq_msg_size(type),
                   (const char *) zmq_msg_data(type));
    }
}

/* ---- stopping ---------------------------------------------------------- */

/* The stop timeout passed: what still runs is told, what waits ends. */
static void
vr_lib_dealer_give_up(vr_dealer_t *d)
{
    vr_job_t *job, *tmp, *dropped = NULL;
    size_t    len;
    char     *body;

    pthread_mutex_lock(&d->lock);
    DL_FOREACH(d->running, job) {
        atomic_store(&job->cancelled, 1);
    }
    DL_FOREACH_SAFE(d->queue, job, tmp) {
        DL_DELETE(d->queue, job);
        d->held--;
        DL_APPEND(dropped, job);
    }
    pthread_mutex_unlock(&d->lock);
    DL_FOREACH_SAFE(dropped, job, tmp) {
        DL_DELETE(dropped, job);
        body = vr_lib_job_body(job->rid_json, "error", "the dealer stopped "
                               "before it could run the request", &len);
        vr_lib_dealer_answer(d, job->cid, job->cid_len, body, len);
        vr_lib_job_free(job);
    }
}

static void
vr_lib_dealer_stopping(vr_dealer_t *d, vr_lib_io_t *io, int64_t now)
{
    unsigned held;

    if (io->phase == VR_LIB_RUNNING) {
        io->phase = VR_LIB_DRAINING;
        io->deadline_ms = now + d->stop_timeout_ms;
        pthread_mutex_lock(&d->lock);
        held = d->held;
        pthread_mutex_unlock(&d->lock);
        vr_lib_log(&d->log, VR_LEVEL_INFO, "stopping (%u requests held)",
                   held);
        if (held > 0) {
            /* No new work; the requests we hold are kept (B.4). */
            vr_lib_dealer_register(d, false);
        }
    }
    if (io->phase == VR_LIB_DRAINING) {
        pthread_mutex_lock(&d->lock);
        held = d->held;
        pthread_mutex_unlock(&d->lock);
        if (held > 0 && now < io->deadline_ms) {
            return;
        }
        if (held > 0) {
            vr_lib_log(&d->log, VR_LEVEL_WARN, "%u requests still running "
                       "after %d ms; leaving without them", held,
                       d->stop_timeout_ms);
            vr_lib_dealer_give_up(d);
        }
        vr_lib_outbox_flush(&d->outbox, d->sock);
        io->phase = VR_LIB_LEAVING;
        io->deadline_ms = now + VR_LIB_LEAVE_MS;
        vr_lib_msg_t *m = vr_lib_msg_new(2, "shutdown", (size_t) -1, "",
                                         (size_t) 0);
        if (vr_lib_msg_send(d->sock, m) != VR_OK) {
            io->left = true;        /* not connected: nobody to tell */
        }
        vr_lib_msg_free(m);
    }
}

/* ---- the I/O thread ---------------------------------------------------- */

static void
vr_lib_dealer_events(vr_dealer_t *d, vr_lib_io_t *io)
{
    int e;

    while ((e = vr_lib_monitor_event(d->monitor)) != 0) {
        if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED
            && io->phase == VR_LIB_LEAVING)
        {
            /* Connected only as we leave: registering now would leave a
             * dealer with no methods behind.  Say goodbye instead (to a
             * gateway that knew us; one that did not ignores it). */
            io->connections++;
            vr_lib_msg_t *m = vr_lib_msg_new(2, "shutdown", (size_t) -1,
                                             "", (size_t) 0);
            io->left = vr_lib_msg_send(d->sock, m) != VR_OK;
            vr_lib_msg_free(m);
        } else if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            vr_lib_log(&d->log, VR_LEVEL_INFO, "%s %s; registering",
                       io->connections++ ? "reconnected to" : "connected to",
                       d->endpoint);
            vr_lib_dealer_register(d, io->phase == VR_LIB_RUNNING);
            vr_lib_dealer_heartbeat(d);
            io->last_rx_ms = vr_lib_now_ms();
        } else if (e == ZMQ_EVENT_DISCONNECTED) {
            vr_lib_log(&d->log, VR_LEVEL_INFO, "disconnected from %s",
                       d->endpoint);
        } else {
            vr_lib_log(&d->log, VR_LEVEL_WARN, "the handshake with %s "
                       "failed (CURVE keys?)", d->endpoint);
        }
    }
}

static void *
vr_lib_dealer_io(void *arg)
{
    vr_dealer_t    *d = arg;
    vr_lib_io_t     io;
    zmq_pollitem_t  items[3];
    zmq_msg_t       frames[8];
    size_t          n;
    int64_t         now, wake;
    int             silence_ms = 3 * d->heartbeat_ms + 1000;
    bool            pending;

    memset(&io, 0, sizeof(io));
    io.phase = VR_LIB_RUNNING;
    io.last_rx_ms = io.next_heartbeat_ms = vr_lib_now_ms();
    for (;;) {
        now = vr_lib_now_ms();
        if (atomic_load(&d->stop) && io.phase != VR_LIB_LEAVING) {
            vr_lib_dealer_stopping(d, &io, now);
        }
        if (io.phase == VR_LIB_LEAVING && (io.left || now >= io.deadline_ms)) {
            break;
        }
        if (now >= io.next_heartbeat_ms) {
            if (io.connections > 0) {
                vr_lib_dealer_heartbeat(d);
            }
            io.next_heartbeat_ms = now + d->heartbeat_ms;
            if (io.connections > 0 && io.phase == VR_LIB_RUNNING
                && now - io.last_rx_ms > silence_ms && now >= io.reregister_ms)
            {
                /* A gateway that forgot us does not ack heartbeats. */
                vr_lib_log(&d->log, io.refused ? VR_LEVEL_DEBUG
                                               : VR_LEVEL_INFO,
                           "no answer for %lld ms; registering again",
                           (long long) (now - io.last_rx_ms));
                vr_lib_dealer_register(d, true);
                io.reregister_ms = now + silence_ms;
            }
        }
        pending = vr_lib_outbox_flush(&d->outbox, d->sock);
        wake = io.next_heartbeat_ms;
        if (io.phase != VR_LIB_RUNNING && io.deadline_ms < wake) {
            wake = io.deadline_ms;
        }
        items[0] = (zmq_pollitem_t) { d->sock, 0,
                                      ZMQ_POLLIN | (pending ? ZMQ_POLLOUT : 0),
                                      0 };
        items[1] = (zmq_pollitem_t) { NULL, d->outbox.fd, ZMQ_POLLIN, 0 };
        items[2] = (zmq_pollitem_t) { d->monitor, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, 3, wake > now ? wake - now : 0) < 0) {
            if (errno == EINTR) {
                continue;
            }
            vr_lib_log(&d->log, VR_LEVEL_ERROR, "zmq_poll: %s",
                       zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            vr_lib_outbox_drain_fd(&d->outbox);
        }
        if (items[2].revents & ZMQ_POLLIN) {
            vr_lib_dealer_events(d, &io);
        }
        while (vr_lib_recv(d->sock, frames, 8, &n) == VR_OK) {
            vr_lib_dealer_dispatch(d, &io, frames, n);
            vr_lib_frames_close(frames, n);
        }
    }
    vr_lib_log(&d->log, VR_LEVEL_INFO, "stopped");
    zmq_socket_monitor(d->sock, NULL, 0);
    zmq_close(d->sock);
    zmq_close(d->monitor);
    d->sock = d->monitor = NULL;
    pthread_mutex_lock(&d->lock);
    d->quit = true;
    d->finished = true;
    pthread_cond_broadcast(&d->work);
    pthread_cond_broadcast(&d->ended);
    pthread_mutex_unlock(&d->lock);
    if (d->has_runner) {
        /* vr_dealer_run() waits for a stop signal: this one, sent to its
         * thread alone, says the dealer has stopped by itself. */
        pthread_kill(d->runner, SIGTERM);
    }
    return NULL;
}

/* ---- starting and stopping --------------------------------------------- */

static void
vr_lib_dealer_host(vr_dealer_t *d)
{
    struct addrinfo hints, *res = NULL;

    if (gethostname(d->hostname, sizeof(d->hostname) - 1) != 0) {
        snprintf(d->hostname, sizeof(d->hostname), "localhost");
    }
    snprintf(d->ip, sizeof(d->ip), "127.0.0.1");
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    if (getaddrinfo(d->hostname, NULL, &hints, &res) == 0 && res != NULL) {
        getnameinfo(res->ai_addr, res->ai_addrlen, d->ip, sizeof(d->ip),
                    NULL, 0, NI_NUMERICHOST);
    }
    if (res != NULL) {
        freeaddrinfo(res);
    }
}

int
vr_dealer_start(vr_dealer_t *self)
{
    vr_dealer_t *d = self;
    const char  *env = getenv("VOIDRAIL_CURVE_SERVER_KEY");

    if (d == NULL || d->started || d->nmethods == 0) {
        return VR_ERROR;
    }
    if (!d->curve_set && env != NULL && *env != '\0'
        && vr_lib_curve_from_env(&d->curve, env, NULL) != VR_OK)
    {
        vr_lib_log(&d->log, VR_LEVEL_ERROR, "VOIDRAIL_CURVE_SERVER_KEY or "
                   "VOIDRAIL_CURVE_SECRET_KEY is not a key (40 Z85 or 64 "
                   "hex characters)");
        return VR_ERROR;
    }
    vr_lib_dealer_host(d);
    if (vr_lib_outbox_init(&d->outbox) != VR_OK) {
        return VR_ERROR;
    }
    d->zctx = zmq_ctx_new();
    d->sock = vr_lib_socket(d->zctx, d->identity, &d->curve, &d->monitor);
    if (d->sock == NULL || zmq_connect(d->sock, d->endpoint) != 0) {
        vr_lib_log(&d->log, VR_LEVEL_ERROR, "cannot connect to \"%s\": %s",
                   d->endpoint, zmq_strerror(errno));
        if (d->sock != NULL) {
            zmq_socket_monitor(d->sock, NULL, 0);
            zmq_close(d->sock);
            zmq_close(d->monitor);
        }
        zmq_ctx_term(d->zctx);
        d->sock = d->monitor = d->zctx = NULL;
        vr_lib_outbox_fini(&d->outbox);
        return VR_ERROR;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->work, NULL);
    pthread_cond_init(&d->ended, NULL);
    d->workers = vr_lib_calloc((size_t) d->max_concurrent, sizeof(pthread_t));
    for (d->nworkers = 0; d->nworkers < d->max_concurrent; d->nworkers++) {
        if (pthread_create(&d->workers[d->nworkers], NULL, vr_lib_worker, d)
            != 0)
        {
            break;
        }
    }
    d->started = true;
    vr_lib_log(&d->log, VR_LEVEL_INFO, "serving %zu methods of %s with %d "
               "workers at %s", d->nmethods, d->group, d->nworkers,
               d->endpoint);
    /* The socket belongs to the I/O thread from here on. */
    if (d->nworkers == 0
        || pthread_create(&d->io, NULL, vr_lib_dealer_io, d) != 0)
    {
        vr_lib_log(&d->log, VR_LEVEL_ERROR, "cannot start threads");
        pthread_mutex_lock(&d->lock);
        d->quit = d->finished = true;
        pthread_cond_broadcast(&d->work);
        pthread_mutex_unlock(&d->lock);
        for (int i = 0; i < d->nworkers; i++) {
            pthread_join(d->workers[i], NULL);
        }
        zmq_socket_monitor(d->sock, NULL, 0);
        zmq_close(d->sock);
        zmq_close(d->monitor);
        zmq_ctx_term(d->zctx);
        d->sock = d->monitor = d->zctx = NULL;
        d->joined = true;
        return VR_ERROR;
    }
    return VR_OK;
}

void
vr_dealer_stop(vr_dealer_t *self)
{
    if (self == NULL || !self->started || self->joined) {
        return;
    }
    atomic_store(&self->stop, 1);
    vr_lib_outbox_wake(&self->outbox);
}

int
vr_dealer_wait(vr_dealer_t *self)
{
    if (self == NULL || !self->started || self->joined) {
        return VR_OK;
    }
    pthread_join(self->io, NULL);
    for (int i = 0; i < self->nworkers; i++) {
        pthread_join(self->workers[i], NULL);
    }
    zmq_ctx_term(self->zctx);
    self->zctx = NULL;
    self->joined = true;
    return VR_OK;
}

/* SIGINT and SIGTERM, the signals vr_dealer_run() stops on. */
static void
vr_lib_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/*
 * The stop signals are taken with sigwaitinfo(), which needs no
 * descriptor and cannot fail: a process out of descriptors still stops.
 * A dealer that stops by itself (vr_dealer_stop(), a fatal poll error)
 * wakes this thread with a SIGTERM of its own (vr_lib_dealer_io()).
 */
int
vr_dealer_run(vr_dealer_t *self)
{
    const struct timespec now = { 0, 0 };
    sigset_t              set, old;
    siginfo_t             si;
    int                   rc, signo;

    if (self == NULL || self->started) {
        return VR_ERROR;
    }
    vr_lib_stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    self->runner = pthread_self();
    self->has_runner = true;            /* seen by the threads it starts */
    rc = vr_dealer_start(self);
    if (rc == VR_OK) {
        while ((signo = sigwaitinfo(&set, &si)) < 0 && errno == EINTR) {
        }
        if (signo > 0 && (si.si_code != SI_TKILL || si.si_pid != getpid())) {
            vr_lib_log(&self->log, VR_LEVEL_INFO, "signal %d: stopping",
                       signo);
        }
        vr_dealer_stop(self);
        vr_dealer_wait(self);
    }
    /* Signals that came during the stop, the wake-up included: taken. */
    while (sigtimedwait(&set, NULL, &now) > 0) {
    }
    self->has_runner = false;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}
