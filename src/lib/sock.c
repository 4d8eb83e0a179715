/*
 * sock.c: ZeroMQ plumbing for libvoidrail: the DEALER socket with the
 * options every peer uses, its monitor (to see each new connection and
 * register or log in again at once), CURVE keys, whole multipart messages
 * and the outbox through which other threads hand messages to the thread
 * that owns a socket.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib.h"

/* ---- CURVE keys -------------------------------------------------------- */

static int
vr_lib_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* A key in Z85 (40 chars) or hex (64 chars) into out as Z85. */
static int
vr_lib_curve_key(const char *key, char out[41])
{
    uint8_t bin[32];
    size_t  n = strlen(key);

    if (n == 40) {
        if (zmq_z85_decode(bin, key) == NULL) {
            return VR_ERROR;
        }
        memcpy(out, key, 41);
        return VR_OK;
    }
    if (n != 64) {
        return VR_ERROR;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = vr_lib_hexval(key[2 * i]), lo = vr_lib_hexval(key[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return VR_ERROR;
        }
        bin[i] = (uint8_t) (hi << 4 | lo);
    }
    return zmq_z85_encode(out, bin, 32) == NULL ? VR_ERROR : VR_OK;
}

int
vr_lib_curve_set(vr_lib_curve_t *c, const char *server,
                 const char *public_key, const char *secret_key,
                 vr_error_t *err)
{
    vr_lib_curve_t k;

    memset(&k, 0, sizeof(k));
    if (server == NULL || vr_lib_curve_key(server, k.server) != VR_OK) {
        vr_lib_error(err, "usage", "the CURVE server key must be 40 Z85 or "
                     "64 hex characters");
        return VR_ERROR;
    }
    if (secret_key != NULL) {
        if (vr_lib_curve_key(secret_key, k.secret_key) != VR_OK
            || (public_key != NULL
                && vr_lib_curve_key(public_key, k.public_key) != VR_OK)
            || (public_key == NULL
                && zmq_curve_public(k.public_key, k.secret_key) != 0))
        {
            vr_lib_error(err, "usage", "the CURVE client keys must be 40 Z85 "
                         "or 64 hex characters");
            return VR_ERROR;
        }
    } else if (public_key != NULL) {
        vr_lib_error(err, "usage", "a CURVE public key needs its secret key");
        return VR_ERROR;
    } else if (zmq_curve_keypair(k.public_key, k.secret_key) != 0) {
        vr_lib_error(err, "usage", "CURVE is not available in this libzmq: %s",
                     zmq_strerror(errno));
        return VR_ERROR;
    }
    k.on = true;
    *c = k;
    return VR_OK;
}

int
vr_lib_curve_from_env(vr_lib_curve_t *c, const char *server, vr_error_t *err)
{
    const char *secret = getenv("VOIDRAIL_CURVE_SECRET_KEY");

    return vr_lib_curve_set(c, server, NULL,
                            secret != NULL && *secret != '\0' ? secret : NULL,
                            err);
}

/* ---- the socket and its monitor ---------------------------------------- */

void *
vr_lib_socket(void *ctx, const char *identity, const vr_lib_curve_t *c,
              void **monitor)
{
    int    zero = 0, one = 1, ivl = 100, ivl_max = 1000, hwm = 100000;
    char   name[96], tag[17];
    void  *s = zmq_socket(ctx, ZMQ_DEALER), *m;

    if (s == NULL) {
        return NULL;
    }
    zmq_setsockopt(s, ZMQ_ROUTING_ID, identity, strlen(identity));
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
    zmq_setsockopt(s, ZMQ_IPV6, &one, sizeof(one));     /* also IPv4 */
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (c != NULL && c->on
        && (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server, 40) != 0
            || zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->public_key, 40) != 0
            || zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->secret_key, 40) != 0))
    {
        zmq_close(s);
        return NULL;
    }
    vr_lib_hex_id(tag, 8);
    snprintf(name, sizeof(name), "inproc://voidrail-monitor-%s", tag);
    if (zmq_socket_monitor(s, name, ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                           | ZMQ_EVENT_DISCONNECTED
                           | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                           | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
    {
        zmq_close(s);
        return NULL;
    }
    m = zmq_socket(ctx, ZMQ_PAIR);
    if (m == NULL || zmq_connect(m, name) != 0) {
        if (m != NULL) {
            zmq_close(m);
        }
        zmq_socket_monitor(s, NULL, 0);
        zmq_close(s);
        return NULL;
    }
    zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof(zero));
    *monitor = m;
    return s;
}

int
vr_lib_monitor_event(void *monitor)
{
    zmq_msg_t f[2];
    size_t    n;
    int       event = 0;

    if (vr_lib_recv(monitor, f, 2, &n) != VR_OK) {
        return 0;
    }
    if (n >= 1 && zmq_msg_size(&f[0]) >= 2) {
        uint16_t e;
        memcpy(&e, zmq_msg_data(&f[0]), 2);
        event = e;
    }
    vr_lib_frames_close(f, n);
    return event;
}

/* ---- messages ---------------------------------------------------------- */

vr_lib_msg_t *
vr_lib_msg_new(size_t n, ...)
{
    vr_lib_msg_t *m = vr_lib_calloc(1, sizeof(*m));
    va_list       ap;

    va_start(ap, n);
    for (size_t i = 0; i < n && i < VR_LIB_FRAMES; i++) {
        const char *p = va_arg(ap, const char *);
        size_t      len = va_arg(ap, size_t);
        if (len == (size_t) -1) {
            len = strlen(p);
        }
        m->data[i] = vr_lib_strndup(p, len);
        m->len[i] = len;
        m->n++;
    }
    va_end(ap);
    return m;
}

void
vr_lib_msg_free(vr_lib_msg_t *m)
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n; i++) {
        free(m->data[i]);
    }
    free(m);
}

int
vr_lib_msg_send(void *sock, const vr_lib_msg_t *m)
{
    for (size_t i = 0; i < m->n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < m->n ? ZMQ_SNDMORE : 0);
        /* Only the first frame can fail with EAGAIN: the rest follow it. */
        if (zmq_send(sock, m->data[i], m->len[i], flags) < 0) {
            return VR_ERROR;
        }
    }
    return VR_OK;
}

int
vr_lib_recv(void *sock, zmq_msg_t *frames, size_t max, size_t *n)
{
    int    more = 1;
    size_t i = 0;

    *n = 0;
    while (more) {
        zmq_msg_t  spare, *f = i < max ? &frames[i] : &spare;
        size_t     len = sizeof(more);

        zmq_msg_init(f);
        if (zmq_msg_recv(f, sock, i == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = errno;
            zmq_msg_close(f);
            vr_lib_frames_close(frames, *n);
            *n = 0;
            errno = e;
            return VR_ERROR;
        }
        zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &len);
        if (i < max) {
            (*n)++;
        } else {
            zmq_msg_close(f);
        }
        i++;
    }
    return VR_OK;
}

void
vr_lib_frames_close(zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&frames[i]);
    }
}

bool
vr_lib_frame_is(zmq_msg_t *f, const char *lit)
{
    size_t len = strlen(lit);

    return zmq_msg_size(f) == len && memcmp(zmq_msg_data(f), lit, len) == 0;
}

/* ---- the outbox -------------------------------------------------------- */

int
vr_lib_outbox_init(vr_lib_outbox_t *o)
{
    o->head = o->tail = NULL;
    o->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (o->fd < 0) {
        return VR_ERROR;
    }
    pthread_mutex_init(&o->lock, NULL);
    return VR_OK;
}

void
vr_lib_outbox_fini(vr_lib_outbox_t *o)
{
    vr_lib_msg_t *m, *next;

    for (m = o->head; m != NULL; m = next) {
        next = m->next;
        vr_lib_msg_free(m);
    }
    o->head = o->tail = NULL;
    if (o->fd >= 0) {
        close(o->fd);
        o->fd = -1;
        pthread_mutex_destroy(&o->lock);
    }
}

void
vr_lib_outbox_wake(vr_lib_outbox_t *o)
{
    uint64_t one = 1;
    ssize_t  rc;

    rc = write(o->fd, &one, sizeof(one));
    (void) rc;          /* EAGAIN: the counter is full, a wake-up pends */
}

void
vr_lib_outbox_push(vr_lib_outbox_t *o, vr_lib_msg_t *m)
{
    m->next = NULL;
    pthread_mutex_lock(&o->lock);
    if (o->tail == NULL) {
        o->head = m;
    } else {
        o->tail->next = m;
    }
    o->tail = m;
    pthread_mutex_unlock(&o->lock);
    vr_lib_outbox_wake(o);
}

void
vr_lib_outbox_push_front(vr_lib_outbox_t *o, vr_lib_msg_t *m)
{
    pthread_mutex_lock(&o->lock);
    m->next = o->head;
    o->head = m;
    if (o->tail == NULL) {
        o->tail = m;
    }
    pthread_mutex_unlock(&o->lock);
    vr_lib_outbox_wake(o);
}

void
vr_lib_outbox_drain_fd(vr_lib_outbox_t *o)
{
    uint64_t n;
    ssize_t  rc;

    rc = read(o->fd, &n, sizeof(n));
    (void) rc;
}

bool
vr_lib_outbox_flush(vr_lib_outbox_t *o, void *sock)
{
    vr_lib_msg_t *m;
    bool          left;

    for (;;) {
        pthread_mutex_lock(&o->lock);
        m = o->head;
        pthread_mutex_unlock(&o->lock);
        if (m == NULL) {
            return false;
        }
        if (vr_lib_msg_send(sock, m) != VR_OK && errno == EAGAIN) {
            return true;
        }
        /* Sent, or failed for good (the message is dropped). */
        pthread_mutex_lock(&o->lock);
        o->head = m->next;
        if (o->head == NULL) {
            o->tail = NULL;
        }
        left = o->head != NULL;
        pthread_mutex_unlock(&o->lock);
        vr_lib_msg_free(m);
        if (!left) {
            return false;
        }
    }
}
