/*
 * vr_wire.c: frames of the wire protocol (see vr_wire.h).
 */
#include "config.h"
#include <errno.h>

#include "vr_core.h"
#include "vr_json.h"
#include "vr_rand.h"
#include "vr_wire.h"

typedef struct {
    const char    *word;
    vr_msg_type_t  type;
} vr_wire_word_t;

static const vr_wire_word_t vr_wire_words[] = {
    { "call_from_client",  VR_MSG_CALL_FROM_CLIENT },
    { "reply_from_dealer", VR_MSG_REPLY_FROM_DEALER },
    { "heartbeat",         VR_MSG_HEARTBEAT },
    { "register",          VR_MSG_REGISTER },
    { "shutdown",          VR_MSG_SHUTDOWN },
    { "overload",          VR_MSG_OVERLOAD },
    { "resume",            VR_MSG_RESUME },
    { "auth",              VR_MSG_AUTH },
    { "methods",           VR_MSG_METHODS },
    { "clusters",          VR_MSG_CLUSTERS },
    { "router_info",       VR_MSG_ROUTER_INFO },
    { "queue_status",      VR_MSG_QUEUE_STATUS },
    { "router_monitor",    VR_MSG_ROUTER_MONITOR },
};

vr_msg_type_t
vr_wire_type(const void *word, size_t len)
{
    for (size_t i = 0; i < vr_nelems(vr_wire_words); i++) {
        if (vr_eq(word, len, vr_wire_words[i].word)) {
            return vr_wire_words[i].type;
        }
    }
    return VR_MSG_UNKNOWN;
}

int
vr_wire_recv(void *socket, zmq_msg_t *frames, size_t *n, bool *truncated)
{
    int more;

    *n = 0;
    *truncated = false;
    for (;;) {
        zmq_msg_t *f;
        zmq_msg_t  spill;

        f = *n < VR_WIRE_MAX_FRAMES ? &frames[*n] : &spill;
        zmq_msg_init(f);
        if (zmq_msg_recv(f, socket, *n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int err = errno;
            zmq_msg_close(f);
            if (*n == 0 && err == EAGAIN) {
                return VR_AGAIN;
            }
            vr_wire_close(frames, vr_min(*n, (size_t) VR_WIRE_MAX_FRAMES));
            *n = 0;
            errno = err;
            return VR_ERROR;
        }
        more = zmq_msg_more(f);
        if (f == &spill) {
            zmq_msg_close(f);
            *truncated = true;
        } else {
            (*n)++;
        }
        if (!more) {
            return VR_OK;
        }
    }
}

const char *
vr_wire_peer_address(zmq_msg_t *frames)
{
    const char *addr = zmq_msg_gets(&frames[1], "Peer-Address");

    return addr != NULL ? addr : "";
}

void
vr_wire_close(zmq_msg_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        zmq_msg_close(&frames[i]);
    }
}

int
vr_wire_send(void *socket, vr_frame_t *frames, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        int rc;

        if (frames[i].msg != NULL) {
            rc = zmq_msg_send(frames[i].msg, socket, flags);
        } else {
            rc = zmq_send(socket, frames[i].data, frames[i].len, flags);
        }
        if (rc < 0) {
            int err = errno;
            /* Only the identity frame can fail: the rest is not sent. */
            for (size_t j = i; j < n; j++) {
                if (frames[j].msg != NULL) {
                    zmq_msg_close(frames[j].msg);
                }
            }
            errno = err;
            return VR_ERROR;
        }
    }
    return VR_OK;
}

static void
vr_wire_fresh_id(vr_buf_t *out)
{
    char id[37];

    vr_uuid4(id);
    vr_buf_addc(out, '"');
    vr_buf_add(out, id, 36);
    vr_buf_addc(out, '"');
}

void
vr_wire_router_error(vr_buf_t *out, const char *rid_json, const char *text,
                     const char *code)
{
    vr_buf_adds(out, "{\"type\": \"error\", \"request_id\": ");
    if (rid_json != NULL) {
        vr_buf_adds(out, rid_json);
    } else {
        vr_wire_fresh_id(out);
    }
    vr_buf_adds(out, ", \"error\": ");
    vr_json_escape(out, text, strlen(text));
    vr_buf_adds(out, ", \"state\": \"error\"");
    if (code != NULL) {
        vr_buf_adds(out, ", \"code\": \"");
        vr_buf_adds(out, code);
        vr_buf_addc(out, '"');
    }
    vr_buf_addc(out, '}');
}

void
vr_wire_reply_open(vr_buf_t *out)
{
    vr_buf_adds(out, "{\"type\": \"reply\", \"request_id\": ");
    vr_wire_fresh_id(out);
    vr_buf_adds(out, ", \"result\": ");
}

void
vr_wire_reply_close(vr_buf_t *out)
{
    vr_buf_addc(out, '}');
}

void
vr_wire_request_error(vr_buf_t *out, const char *rid, size_t rid_len,
                      const char *text, const char *code)
{
    vr_buf_adds(out, "{\"type\": \"error\", \"request_id\": ");
    if (rid != NULL) {
        vr_json_escape(out, rid, rid_len);
    } else {
        vr_buf_adds(out, "null");
    }
    vr_buf_adds(out, ", \"error\": ");
    vr_json_escape(out, text, strlen(text));
    vr_buf_adds(out, ", \"code\": \"");
    vr_buf_adds(out, code);
    vr_buf_adds(out, "\"}");
}
