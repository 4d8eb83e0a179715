/*
 * vr_zap.c: the ZAP handler (see vr_zap.h).
 *
 * A request is: version "1.0", request id, domain, address, routing id,
 * mechanism, then the mechanism's credentials (CURVE: the client's
 * 32-byte public key).  The reply: version, the same request id, status
 * code and text, user id, metadata (empty).  Every request is answered,
 * even a malformed one ("500"), since a REP socket must reply before it
 * reads the next.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_log.h"
#include "vr_wire.h"
#include "vr_zap.h"

#define VR_ZAP_ENDPOINT  "inproc://zeromq.zap.01"
#define VR_ZAP_BATCH     64

struct vr_zap_s {
    void                    *socket;
    vr_loop_t               *loop;
    const vr_curve_conf_t   *conf;
    uint64_t                *refused;
    zmq_msg_t                frames[VR_WIRE_MAX_FRAMES];
};

static bool
vr_zap_is(zmq_msg_t *f, const char *s)
{
    size_t n = strlen(s);

    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), s, n) == 0;
}

static void
vr_zap_reply(vr_zap_t *z, zmq_msg_t *rid, const char *code,
             const char *text, const char *user)
{
    vr_frame_t f[6];

    f[0] = VR_FRAME_STR("1.0");
    f[1] = rid != NULL ? VR_FRAME(zmq_msg_data(rid), zmq_msg_size(rid))
                       : VR_FRAME("", 0);
    f[2] = VR_FRAME(code, strlen(code));
    f[3] = VR_FRAME(text, strlen(text));
    f[4] = VR_FRAME(user, strlen(user));
    f[5] = VR_FRAME("", 0);
    if (vr_wire_send(z->socket, f, 6) != VR_OK) {
        vr_log_limited(VR_LOG_ERROR, "ZAP reply not sent: %s",
                       zmq_strerror(errno));
    }
}

/* The client's address for messages ("?" when absent or odd). */
static void
vr_zap_address(zmq_msg_t *f, char *buf, size_t size)
{
    vr_log_escape(zmq_msg_data(f), zmq_msg_size(f), buf, size);
    if (buf[0] == '\0') {
        snprintf(buf, size, "?");
    }
}

static void
vr_zap_judge(vr_zap_t *z, zmq_msg_t *f, size_t n)
{
    char addr[VR_LOG_ID_SIZE], key[VR_CURVE_Z85_SIZE];

    if (n < 6 || !vr_zap_is(&f[0], "1.0")) {
        vr_log_limited(VR_LOG_ERROR, "malformed ZAP request (%zu frames) "
                       "refused", n);
        vr_zap_reply(z, n >= 2 ? &f[1] : NULL, "500", "malformed request",
                     "");
        return;
    }
    if (!vr_zap_is(&f[2], VR_ZAP_DOMAIN)) {
        vr_zap_reply(z, &f[1], "200", "OK", "");    /* not our socket */
        return;
    }
    vr_zap_address(&f[3], addr, sizeof(addr));
    if (!vr_zap_is(&f[5], "CURVE") || n < 7 || zmq_msg_size(&f[6]) != 32
        || zmq_z85_encode(key, zmq_msg_data(&f[6]), 32) == NULL)
    {
        (*z->refused)++;
        vr_log_limited(VR_LOG_WARN, "CURVE: a peer from %s without a CURVE "
                       "key refused", addr);
        vr_zap_reply(z, &f[1], "400", "CURVE required", "");
        return;
    }
    if (!vr_curve_allowed(z->conf, key)) {
        (*z->refused)++;
        vr_log_limited(VR_LOG_WARN, "CURVE: client key %s from %s is not in "
                       "router.curve.allow or allow_dir: refused", key, addr);
        vr_zap_reply(z, &f[1], "400", "key not allowed", "");
        return;
    }
    vr_log_limited(VR_LOG_DEBUG, "CURVE: client key %s from %s let in",
                   key, addr);
    vr_zap_reply(z, &f[1], "200", "OK", key);
}

static void
vr_zap_on_readable(void *data, short revents)
{
    vr_zap_t *z = data;
    size_t    n;
    bool      truncated;

    (void) revents;
    for (int budget = VR_ZAP_BATCH; budget > 0; budget--) {
        int rc = vr_wire_recv(z->socket, z->frames, &n, &truncated);

        if (rc == VR_AGAIN) {
            return;
        }
        if (rc != VR_OK) {
            vr_log_error("receiving from the ZAP socket: %s",
                         zmq_strerror(errno));
            return;
        }
        if (truncated) {
            vr_zap_reply(z, &z->frames[1], "500", "malformed request", "");
        } else {
            vr_zap_judge(z, z->frames, n);
        }
        vr_wire_close(z->frames, n);
    }
    vr_loop_again(z->loop);
}

vr_zap_t *
vr_zap_new(void *zctx, vr_loop_t *loop, const vr_curve_conf_t *conf,
           uint64_t *refused)
{
    vr_zap_t *z = vr_calloc(1, sizeof(*z));
    int       linger = 0;

    z->loop = loop;
    z->conf = conf;
    z->refused = refused;
    z->socket = zmq_socket(zctx, ZMQ_REP);
    if (z->socket == NULL) {
        vr_log_error("zmq_socket(REP) for ZAP: %s", zmq_strerror(errno));
        free(z);
        return NULL;
    }
    zmq_setsockopt(z->socket, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(z->socket, VR_ZAP_ENDPOINT) != 0) {
        vr_log_error("cannot bind the ZAP handler %s: %s", VR_ZAP_ENDPOINT,
                     zmq_strerror(errno));
        zmq_close(z->socket);
        free(z);
        return NULL;
    }
    vr_loop_add_socket(loop, z->socket, ZMQ_POLLIN, vr_zap_on_readable, z);
    return z;
}

void
vr_zap_set_conf(vr_zap_t *z, const vr_curve_conf_t *conf)
{
    z->conf = conf;
}

void
vr_zap_destroy(vr_zap_t **zp)
{
    vr_zap_t *z = *zp;

    if (z == NULL) {
        return;
    }
    vr_loop_del_socket(z->loop, z->socket);
    zmq_close(z->socket);
    free(z);
    *zp = NULL;
}
