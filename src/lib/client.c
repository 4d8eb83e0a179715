/*
 * client.c: vr_client_t, a client of the gateway (PROTOCOL.md A.2.1).
 *
 * The client connects a DEALER socket under a uuid4-hex identity, logs in
 * ("auth", with its API key if it has one, and the capability
 * "request_id_errors", so that the gateway adds the request_id to the
 * errors of Python dealers), and then lets any thread start calls
 * (call.c) and commands (methods, clusters, router_info, queue_status).
 * Its I/O thread sends what the outbox holds and files every message that
 * arrives:
 *
 *   reply_from_router  under the call with that request_id; a dealer
 *                      error without one (only from a gateway that does
 *                      not know the capability) under the oldest call
 *                      in flight
 *   <command>_ack      the oldest command waiting for that type
 *   error              the call it names, else the oldest command
 *
 * After a reconnect (the gateway restarted) it logs in again at once.
 */
#include "config.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "client.h"

struct vr_client_s {
    char             *endpoint;
    char             *api_key;
    char              identity[33];
    vr_lib_curve_t    curve;
    bool              curve_set;
    vr_lib_hub_t     *hub;
    void             *zctx;
    void             *sock;
    void             *monitor;
    pthread_t         io;
    bool              connected;    /* the I/O thread runs */
};

static bool
vr_lib_env_true(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0
                         || strcasecmp(v, "yes") == 0);
}

vr_client_t *
vr_client_new(const char *endpoint)
{
    vr_client_t  *self;
    vr_lib_hub_t *hub;
    char          who[128];
    const char   *key = getenv("VOIDRAIL_API_KEY");

    if (endpoint == NULL) {
        return NULL;
    }
    self = vr_lib_calloc(1, sizeof(*self));
    self->endpoint = vr_lib_strdup(endpoint);
    self->api_key = key != NULL && *key ? vr_lib_strdup(key) : NULL;
    vr_lib_hex_id(self->identity, 16);
    hub = vr_lib_calloc(1, sizeof(*hub));
    pthread_mutex_init(&hub->lock, NULL);
    hub->refs = 1;
    if (vr_lib_outbox_init(&hub->outbox) != VR_OK) {
        pthread_mutex_destroy(&hub->lock);
        free(hub);
        free(self->endpoint);
        free(self->api_key);
        free(self);
        return NULL;
    }
    snprintf(who, sizeof(who), "voidrail client %.32s", self->identity);
    vr_lib_log_init(&hub->log, who);
    self->hub = hub;
    return self;
}

void
vr_client_destroy(vr_client_t **selfp)
{
    vr_client_t  *self;
    vr_lib_hub_t *hub;
    vr_call_t    *c, *tmp;

    if (selfp == NULL || *selfp == NULL) {
        return;
    }
    self = *selfp;
    *selfp = NULL;
    hub = self->hub;
    pthread_mutex_lock(&hub->lock);
    hub->closed = true;
    HASH_ITER(hh, hub->calls, c, tmp) {
        vr_lib_call_push(c, VR_LIB_FAIL, NULL, "closed",
                         "the client was destroyed");
    }
    DL_FOREACH_SAFE(hub->commands, c, tmp) {
        if (c->abandoned) {
            vr_lib_call_free_locked(c);
        } else {
            vr_lib_call_push(c, VR_LIB_FAIL, NULL, "closed",
                             "the client was destroyed");
        }
    }
    pthread_mutex_unlock(&hub->lock);
    if (self->connected) {
        vr_lib_outbox_wake(&hub->outbox);
        pthread_join(self->io, NULL);
    }
    if (self->sock != NULL) {
        zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
    }
    if (self->monitor != NULL) {
        zmq_close(self->monitor);
    }
    if (self->zctx != NULL) {
        zmq_ctx_term(self->zctx);
    }
    vr_lib_hub_unref(hub);
    free(self->endpoint);
    free(self->api_key);
    free(self);
}

int
vr_client_set_api_key(vr_client_t *self, const char *api_key)
{
    if (self == NULL || self->connected) {
        return VR_ERROR;
    }
    free(self->api_key);
    self->api_key = api_key != NULL && *api_key ? vr_lib_strdup(api_key)
                                                : NULL;
    return VR_OK;
}

int
vr_client_set_curve(vr_client_t *self, const char *server_key,
                    const char *public_key, const char *secret_key)
{
    if (self == NULL || self->connected
        || vr_lib_curve_set(&self->curve, server_key, public_key, secret_key,
                            NULL) != VR_OK)
    {
        return VR_ERROR;
    }
    self->curve_set = true;
    return VR_OK;
}

void
vr_client_set_log(vr_client_t *self, int max_level, vr_log_fn fn, void *data)
{
    if (self != NULL) {
        self->hub->log.max_level = max_level;
        self->hub->log.fn = fn;
        self->hub->log.data = data;
    }
}

const char *
vr_client_identity(const vr_client_t *self)
{
    return self != NULL ? self->identity : NULL;
}

/* ---- the I/O thread ---------------------------------------------------- */

static void
vr_lib_client_auth_msg(vr_client_t *self, vr_lib_msg_t **m)
{
    vr_lib_buf_t b = { NULL, 0, 0 };

    vr_lib_buf_adds(&b, "{\"api_key\": ");
    if (self->api_key != NULL) {
        vr_lib_buf_json_string(&b, self->api_key, strlen(self->api_key));
    } else {
        vr_lib_buf_adds(&b, "null");
    }
    vr_lib_buf_adds(&b, ", \"client_id\": ");
    vr_lib_buf_json_string(&b, self->identity, strlen(self->identity));
    vr_lib_buf_adds(&b, ", \"capabilities\": [\"request_id_errors\"]}");
    *m = vr_lib_msg_new(2, "auth", (size_t) -1, b.p, b.len);
    vr_lib_buf_free(&b);
}

/*
 * Sends auth ahead of anything queued, as a command nobody waits for: the
 * capabilities are announced with every login, with or without a key.
 */
static void
vr_lib_client_send_login(vr_client_t *self)
{
    vr_lib_hub_t *hub = self->hub;
    vr_call_t    *login = vr_lib_call_new(hub, "auth");
    vr_lib_msg_t *m;

    login->ack = "auth_ack";
    login->abandoned = true;
    login->login = true;
    login->linked = true;
    pthread_mutex_lock(&hub->lock);
    hub->refs--;                /* list entries do not hold the hub */
    DL_PREPEND(hub->commands, login);
    pthread_mutex_unlock(&hub->lock);
    /* Before anything queued: a call must not beat the login. */
    vr_lib_client_auth_msg(self, &m);
    if (vr_lib_msg_send(self->sock, m) == VR_OK) {
        vr_lib_msg_free(m);
    } else {
        vr_lib_outbox_push_front(&hub->outbox, m);
    }
}

/* The connection is new (the gateway restarted, or the network). */
static void
vr_lib_client_reconnected(vr_client_t *self)
{
    vr_lib_hub_t *hub = self->hub;
    vr_call_t    *c, *tmp;

    vr_lib_log(&hub->log, VR_LEVEL_INFO, "reconnected to %s", self->endpoint);
    pthread_mutex_lock(&hub->lock);
    /* Answers lost with the old connection would shift the others. */
    DL_FOREACH_SAFE(hub->commands, c, tmp) {
        if (c->abandoned) {
            vr_lib_call_free_locked(c);
        }
    }
    pthread_mutex_unlock(&hub->lock);
    vr_lib_client_send_login(self);
}

/*
 * Acts on the monitor's events.  Nothing queued is sent between a
 * disconnect and the login on the next connection (*hold).
 */
static void
vr_lib_client_events(vr_client_t *self, bool *hold)
{
    int e;

    while ((e = vr_lib_monitor_event(self->monitor)) != 0) {
        if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            vr_lib_client_reconnected(self);
            *hold = false;
        } else if (e == ZMQ_EVENT_DISCONNECTED) {
            vr_lib_log(&self->hub->log, VR_LEVEL_INFO, "disconnected from %s; "
                       "reconnecting", self->endpoint);
            *hold = true;
        }
    }
}

static void *
vr_lib_client_io(void *arg)
{
    vr_client_t    *self = arg;
    vr_lib_hub_t   *hub = self->hub;
    zmq_pollitem_t  items[3];
    zmq_msg_t       frames[8];
    size_t          n;
    bool            pending, closed, hold = false;

    for (;;) {
        pthread_mutex_lock(&hub->lock);
        closed = hub->closed;
        pthread_mutex_unlock(&hub->lock);
        if (closed) {
            break;
        }
        /* Events first: a new connection's login goes out before calls. */
        vr_lib_client_events(self, &hold);
        pending = !hold && vr_lib_outbox_flush(&hub->outbox, self->sock);
        items[0] = (zmq_pollitem_t) { self->sock, 0,
                                      ZMQ_POLLIN | (pending ? ZMQ_POLLOUT : 0),
                                      0 };
        items[1] = (zmq_pollitem_t) { NULL, hub->outbox.fd, ZMQ_POLLIN, 0 };
        items[2] = (zmq_pollitem_t) { self->monitor, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(items, 3, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            vr_lib_log(&hub->log, VR_LEVEL_ERROR, "zmq_poll: %s",
                       zmq_strerror(errno));
            break;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            vr_lib_outbox_drain_fd(&hub->outbox);
        }
        while (vr_lib_recv(self->sock, frames, 8, &n) == VR_OK) {
            pthread_mutex_lock(&hub->lock);
            vr_lib_client_dispatch(hub, frames, n);
            pthread_mutex_unlock(&hub->lock);
            vr_lib_frames_close(frames, n);
        }
    }
    return NULL;
}

/* ---- filing answers ---------------------------------------------------- */

/* The raw text of key in the (valid) body, copied; "null" when absent. */
static char *
vr_lib_member_text(const char *body, size_t len, const char *key)
{
    const char *v;
    size_t      vlen;

    if (!vr_lib_json_member(body, len, key, &v, &vlen)) {
        return vr_lib_strdup("null");
    }
    return vr_lib_strndup(v, vlen);
}

static void
vr_lib_push_error(vr_call_t *c, json_t *body, const char *default_code)
{
    const char *code = json_string_value(json_object_get(body, "code"));
    const char *text = json_string_value(json_object_get(body, "error"));

    vr_lib_call_push(c, VR_LIB_FAIL, NULL, code != NULL ? code : default_code,
                     text != NULL ? text : "(no error text)");
}

static void
vr_lib_client_reply(vr_lib_hub_t *hub, zmq_msg_t *payload)
{
    const char *text = zmq_msg_data(payload);
    size_t      len = zmq_msg_size(payload);
    json_t     *body = json_loadb(text, len, 0, NULL);
    const char *type, *rid;
    vr_call_t  *c = NULL;

    if (!json_is_object(body)) {
        vr_lib_log(&hub->log, VR_LEVEL_WARN, "an answer that is not a JSON "
                   "object was dropped");
        json_decref(body);
        return;
    }
    type = json_string_value(json_object_get(body, "type"));
    rid = json_string_value(json_object_get(body, "request_id"));
    if (rid != NULL) {
        HASH_FIND_STR(hub->calls, rid, c);
    } else if (type != NULL && strcmp(type, "error") == 0) {
        /* A Python dealer's error names no request: the oldest one. */
        c = hub->order;
    }
    if (c == NULL) {
        vr_lib_log(&hub->log, VR_LEVEL_DEBUG, "an answer for no waiting call "
                   "(request_id %s) was dropped", rid ? rid : "none");
        json_decref(body);
        return;
    }
    if (type == NULL) {
        type = "";
    }
    if (strcmp(type, "streaming") == 0) {
        vr_lib_call_push(c, VR_LIB_CHUNK, vr_lib_member_text(text, len, "data"),
                         NULL, NULL);
    } else if (strcmp(type, "reply") == 0) {
        vr_lib_call_push(c, VR_LIB_RESULT,
                         vr_lib_member_text(text, len, "result"), NULL, NULL);
    } else if (strcmp(type, "end") == 0) {
        vr_lib_call_push(c, VR_LIB_END, NULL, NULL, NULL);
    } else if (strcmp(type, "error") == 0) {
        vr_lib_push_error(c, body, "dealer_error");
    } else {
        /* The Python client yields an unknown message as it is. */
        vr_lib_call_push(c, VR_LIB_CHUNK, vr_lib_strndup(text, len), NULL,
                         NULL);
    }
    json_decref(body);
}

/* The Python router's first answer to auth when it has no client keys. */
static bool
vr_lib_no_need(json_t *body)
{
    const char *e = json_string_value(json_object_get(body, "error"));

    return e != NULL && strcmp(e, "No need to authenticate") == 0;
}

static vr_call_t *
vr_lib_oldest_command(vr_lib_hub_t *hub, const char *ack, size_t ack_len)
{
    vr_call_t *c;

    DL_FOREACH(hub->commands, c) {
        if (ack == NULL || (strlen(c->ack) == ack_len
                            && memcmp(c->ack, ack, ack_len) == 0))
        {
            return c;
        }
    }
    return NULL;
}

void
vr_lib_client_dispatch(vr_lib_hub_t *hub, zmq_msg_t *frames, size_t n)
{
    zmq_msg_t  *last = &frames[n - 1];
    const char *type = zmq_msg_data(&frames[0]);
    size_t      type_len = zmq_msg_size(&frames[0]);
    json_t     *body;
    vr_call_t  *c = NULL;
    const char *rid;

    if (n < 2) {
        return;
    }
    if (vr_lib_frame_is(&frames[0], "reply_from_router")) {
        vr_lib_client_reply(hub, last);
        return;
    }
    if (vr_lib_frame_is(&frames[0], "heartbeat_ack")) {
        return;
    }
    body = json_loadb(zmq_msg_data(last), zmq_msg_size(last), 0, NULL);
    if (vr_lib_frame_is(&frames[0], "error")) {
        rid = json_string_value(json_object_get(body, "request_id"));
        if (rid != NULL) {
            HASH_FIND_STR(hub->calls, rid, c);
        }
        if (c == NULL) {
            c = vr_lib_oldest_command(hub, NULL, 0);
        }
        if (c != NULL && c->login && vr_lib_no_need(body)) {
            /* A Python router: a second error follows; it is the login's
             * too, not the next command's. */
            c->login = false;
        } else if (c != NULL) {
            vr_lib_push_error(c, body, "router_error");
        } else {
            const char *e = json_string_value(json_object_get(body, "error"));
            vr_lib_log(&hub->log, VR_LEVEL_WARN, "the gateway says: %s",
                       e != NULL ? e : "(an error without text)");
        }
    } else if (type_len > 4 && memcmp(type + type_len - 4, "_ack", 4) == 0) {
        c = vr_lib_oldest_command(hub, type, type_len);
        if (c != NULL && json_is_object(body)) {
            const char *t = json_string_value(json_object_get(body, "type"));
            if (t != NULL && strcmp(t, "error") == 0) {
                vr_lib_push_error(c, body, "router_error");
            } else {
                vr_lib_call_push(c, VR_LIB_RESULT,
                                 vr_lib_member_text(zmq_msg_data(last),
                                                    zmq_msg_size(last),
                                                    "result"), NULL, NULL);
            }
        } else if (c != NULL) {
            vr_lib_call_push(c, VR_LIB_FAIL, NULL, "bad_reply",
                             "the gateway's answer is not a JSON object");
        }
    }
    json_decref(body);
}

/* ---- connecting -------------------------------------------------------- */

/* Waits for the handshake (POLLOUT and the monitor's event). */
static int
vr_lib_client_wait_connected(vr_client_t *self, int64_t deadline,
                             vr_error_t *err)
{
    bool writable = false, handshake = false, refused = false;

    while (!writable || !handshake) {
        zmq_pollitem_t items[2] = {
            { self->sock, 0, writable ? 0 : ZMQ_POLLOUT, 0 },
            { self->monitor, 0, ZMQ_POLLIN, 0 },
        };
        int left = vr_lib_left_ms(deadline);
        if (left == 0 || zmq_poll(items, 2, left) == 0) {
            vr_lib_error(err, "unreachable", "no connection to %s within the "
                         "timeout%s", self->endpoint,
                         refused ? " (the CURVE handshake failed)" : "");
            return VR_ERROR;
        }
        if (items[0].revents & ZMQ_POLLOUT) {
            writable = true;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            int e;
            while ((e = vr_lib_monitor_event(self->monitor)) != 0) {
                if (e == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
                    handshake = true;
                } else if (e != ZMQ_EVENT_DISCONNECTED) {
                    refused = true;
                }
            }
        }
    }
    return VR_OK;
}

/* Sends auth and reads its answer, before the I/O thread runs. */
static int
vr_lib_client_login(vr_client_t *self, int64_t deadline, vr_error_t *err)
{
    vr_lib_msg_t *m;
    zmq_msg_t     frames[4];
    size_t        n;
    int           rc = VR_ERROR;

    vr_lib_client_auth_msg(self, &m);
    if (vr_lib_msg_send(self->sock, m) != VR_OK) {
        vr_lib_msg_free(m);
        vr_lib_error(err, "unreachable", "cannot send to %s: %s",
                     self->endpoint, zmq_strerror(errno));
        return VR_ERROR;
    }
    vr_lib_msg_free(m);
    for (;;) {
        zmq_pollitem_t item = { self->sock, 0, ZMQ_POLLIN, 0 };
        int            left = vr_lib_left_ms(deadline);

        if (left == 0 || zmq_poll(&item, 1, left) <= 0) {
            vr_lib_error(err, "timeout", "%s did not answer the login",
                         self->endpoint);
            return VR_ERROR;
        }
        if (vr_lib_recv(self->sock, frames, 4, &n) != VR_OK) {
            continue;
        }
        if (n >= 1 && vr_lib_frame_is(&frames[0], "auth_ack")) {
            rc = VR_OK;
        } else if (n >= 2 && vr_lib_frame_is(&frames[0], "error")) {
            json_t     *b = json_loadb(zmq_msg_data(&frames[n - 1]),
                                       zmq_msg_size(&frames[n - 1]), 0, NULL);
            const char *e = json_string_value(json_object_get(b, "error"));
            vr_lib_error(err, "unauthorized", "%s refused the API key: %s",
                         self->endpoint, e != NULL ? e : "(no text)");
            json_decref(b);
        } else {
            vr_lib_frames_close(frames, n);
            continue;           /* not the answer (a stray message) */
        }
        vr_lib_frames_close(frames, n);
        return rc;
    }
}

/* Undoes a connect that failed, so that it may be tried again. */
static int
vr_lib_client_unconnect(vr_client_t *self)
{
    if (self->sock != NULL) {
        zmq_socket_monitor(self->sock, NULL, 0);
        zmq_close(self->sock);
    }
    if (self->monitor != NULL) {
        zmq_close(self->monitor);
    }
    if (self->zctx != NULL) {
        zmq_ctx_term(self->zctx);
    }
    self->sock = self->monitor = self->zctx = NULL;
    return VR_ERROR;
}

int
vr_client_connect(vr_client_t *self, int timeout_ms, vr_error_t *err)
{
    int64_t deadline = vr_lib_deadline(timeout_ms);

    vr_lib_error_clear(err);
    if (self == NULL || self->connected) {
        vr_lib_error(err, "usage", "the client is NULL or already connected");
        return VR_ERROR;
    }
    if (!self->curve_set && vr_lib_env_true("VOIDRAIL_USE_CURVE")
        && getenv("VOIDRAIL_CURVE_SERVER_KEY") != NULL)
    {
        if (vr_lib_curve_from_env(&self->curve,
                                  getenv("VOIDRAIL_CURVE_SERVER_KEY"), err)
            != VR_OK)
        {
            return VR_ERROR;
        }
    }
    self->zctx = zmq_ctx_new();
    self->sock = vr_lib_socket(self->zctx, self->identity, &self->curve,
                               &self->monitor);
    if (self->sock == NULL) {
        vr_lib_error(err, "usage", "cannot make a socket: %s",
                     zmq_strerror(errno));
        return vr_lib_client_unconnect(self);
    }
    if (zmq_connect(self->sock, self->endpoint) != 0) {
        vr_lib_error(err, "usage", "cannot connect to \"%s\": %s",
                     self->endpoint, zmq_strerror(errno));
        return vr_lib_client_unconnect(self);
    }
    if (vr_lib_client_wait_connected(self, deadline, err) != VR_OK
        || (self->api_key != NULL
            && vr_lib_client_login(self, deadline, err) != VR_OK))
    {
        return vr_lib_client_unconnect(self);
    }
    if (self->api_key == NULL) {
        /* Only the capabilities to announce: no need to wait. */
        vr_lib_client_send_login(self);
    }
    /* The socket belongs to the I/O thread from here on. */
    if (pthread_create(&self->io, NULL, vr_lib_client_io, self) != 0) {
        vr_lib_error(err, "usage", "cannot start a thread");
        return vr_lib_client_unconnect(self);
    }
    self->connected = true;
    vr_lib_log(&self->hub->log, VR_LEVEL_INFO, "connected to %s",
               self->endpoint);
    return VR_OK;
}

/* ---- calls and commands ------------------------------------------------ */

vr_call_t *
vr_client_call(vr_client_t *self, const char *method, const char *args_json,
               const char *kwargs_json, vr_error_t *err)
{
    vr_lib_hub_t *hub;
    vr_lib_buf_t  b = { NULL, 0, 0 };
    vr_call_t    *c;
    vr_lib_msg_t *m;

    vr_lib_error_clear(err);
    if (self == NULL || method == NULL || *method == '\0') {
        vr_lib_error(err, "usage", "no client or no method name");
        return NULL;
    }
    if (!self->connected) {
        vr_lib_error(err, "usage", "the client is not connected");
        return NULL;
    }
    if (args_json != NULL
        && !vr_lib_json_check(args_json, strlen(args_json), VR_LIB_JSON_ARRAY))
    {
        vr_lib_error(err, "usage", "the arguments must be a JSON array");
        return NULL;
    }
    if (kwargs_json != NULL
        && !vr_lib_json_check(kwargs_json, strlen(kwargs_json),
                              VR_LIB_JSON_OBJECT))
    {
        vr_lib_error(err, "usage", "the keyword arguments must be a JSON "
                     "object");
        return NULL;
    }
    hub = self->hub;
    c = vr_lib_call_new(hub, method);
    /* The RequestJSON exactly as the Python client writes it (A.3). */
    vr_lib_buf_adds(&b, "{\"type\": \"request\", \"request_id\": \"");
    vr_lib_buf_adds(&b, c->rid);
    vr_lib_buf_adds(&b, "\", \"func_name\": ");
    vr_lib_buf_json_string(&b, method, strlen(method));
    vr_lib_buf_adds(&b, ", \"request_step\": \"READY\", \"args\": ");
    vr_lib_buf_adds(&b, args_json != NULL ? args_json : "[]");
    vr_lib_buf_adds(&b, ", \"kwargs\": ");
    vr_lib_buf_adds(&b, kwargs_json != NULL ? kwargs_json : "{}");
    vr_lib_buf_adds(&b, "}");
    m = vr_lib_msg_new(3, "call_from_client", (size_t) -1, method,
                       (size_t) -1, b.p, b.len);
    vr_lib_buf_free(&b);

    pthread_mutex_lock(&hub->lock);
    HASH_ADD_STR(hub->calls, rid, c);
    DL_APPEND(hub->order, c);
    c->linked = true;
    pthread_mutex_unlock(&hub->lock);
    vr_lib_log(&hub->log, VR_LEVEL_DEBUG, "call %s of %s", c->rid, method);
    vr_lib_outbox_push(&hub->outbox, m);
    return c;
}

int
vr_lib_client_command(vr_client_t *self, const char *name, const char *body,
                      const char *ack, int timeout_ms, char **result_json,
                      vr_error_t *err)
{
    vr_lib_hub_t *hub;
    vr_call_t    *c;
    vr_error_t    e;
    int           rc;

    *result_json = NULL;
    vr_lib_error_clear(err);
    if (self == NULL || !self->connected) {
        vr_lib_error(err, "usage", "the client is not connected");
        return VR_ERROR;
    }
    hub = self->hub;
    c = vr_lib_call_new(hub, name);
    c->ack = ack;
    pthread_mutex_lock(&hub->lock);
    DL_APPEND(hub->commands, c);
    c->linked = true;
    pthread_mutex_unlock(&hub->lock);
    vr_lib_outbox_push(&hub->outbox,
                       vr_lib_msg_new(2, name, (size_t) -1, body,
                                      (size_t) -1));
    rc = vr_call_next(c, timeout_ms, result_json, &e);
    if (rc == VR_ERROR && strcmp(e.code, "timeout") == 0) {
        pthread_mutex_lock(&hub->lock);
        if (c->linked) {
            /* Its answer may still come: it must not go to the next one. */
            c->abandoned = true;
            hub->refs--;
            pthread_mutex_unlock(&hub->lock);
            vr_lib_error(err, "timeout", "%s did not answer %s in time",
                         self->endpoint, name);
            return VR_ERROR;
        }
        pthread_mutex_unlock(&hub->lock);
    }
    vr_call_destroy(&c);
    if (rc == VR_ERROR && err != NULL) {
        *err = e;
    }
    return rc == VR_MORE ? VR_OK : VR_ERROR;
}

int
vr_client_methods(vr_client_t *self, int timeout_ms, char **result_json,
                  vr_error_t *err)
{
    return vr_lib_client_command(self, "methods", "", "methods_ack",
                                 timeout_ms, result_json, err);
}

int
vr_client_clusters(vr_client_t *self, int timeout_ms, char **result_json,
                   vr_error_t *err)
{
    return vr_lib_client_command(self, "clusters", "", "clusters_ack",
                                 timeout_ms, result_json, err);
}

int
vr_client_router_info(vr_client_t *self, int timeout_ms, char **result_json,
                      vr_error_t *err)
{
    return vr_lib_client_command(self, "router_info", "", "router_info_ack",
                                 timeout_ms, result_json, err);
}

int
vr_client_queue_status(vr_client_t *self, int timeout_ms, char **result_json,
                       vr_error_t *err)
{
    return vr_lib_client_command(self, "queue_status", "", "queue_status_ack",
                                 timeout_ms, result_json, err);
}
