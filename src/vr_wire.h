/*
 * vr_wire.h: the VoidRail wire protocol's frames (PROTOCOL.md Part A).
 *
 * Message type words, receiving a multipart message into zmq_msg_t frames
 * without copying, sending frames that are either borrowed bytes or
 * messages handed over, and the few JSON bodies the gateway writes itself.
 */
#ifndef VR_WIRE_H
#define VR_WIRE_H

#include <zmq.h>
#include "vr_core.h"
#include "vr_buf.h"

typedef enum {
    VR_MSG_UNKNOWN = 0,
    /* dealer -> router */
    VR_MSG_REGISTER,
    VR_MSG_HEARTBEAT,
    VR_MSG_REPLY_FROM_DEALER,
    VR_MSG_SHUTDOWN,
    VR_MSG_OVERLOAD,
    VR_MSG_RESUME,
    /* client -> router */
    VR_MSG_AUTH,
    VR_MSG_METHODS,
    VR_MSG_CLUSTERS,
    VR_MSG_ROUTER_INFO,
    VR_MSG_QUEUE_STATUS,
    VR_MSG_CALL_FROM_CLIENT,
    VR_MSG_ROUTER_MONITOR
} vr_msg_type_t;

/* The type of a message from its type frame. */
vr_msg_type_t vr_wire_type(const void *word, size_t len);

/* Frames beyond this many are read and dropped (the message is refused). */
#define VR_WIRE_MAX_FRAMES  16

/*
 * Receives one whole message without waiting.  frames must hold
 * VR_WIRE_MAX_FRAMES initialised-or-not messages; on VR_OK *n frames are
 * initialised (the caller closes them with vr_wire_close()) and
 * *truncated tells whether more frames arrived than fit (they were
 * dropped).  VR_AGAIN when nothing is waiting, VR_ERROR on a socket error.
 */
int vr_wire_recv(void *socket, zmq_msg_t *frames, size_t *n, bool *truncated);

void vr_wire_close(zmq_msg_t *frames, size_t n);

/*
 * The address a message received on the ROUTER came from ("" when the
 * transport has none).  frames: the message, at least 2 frames; the
 * property is read from frames[1], since the routing id frame that the
 * ROUTER puts first carries none when the peer chose its own identity.
 */
const char *vr_wire_peer_address(zmq_msg_t *frames);

/* One frame to send: borrowed bytes (copied by ZeroMQ) or a message. */
typedef struct {
    const void  *data;
    size_t       len;
    zmq_msg_t   *msg;       /* when not NULL: handed over, data unused */
} vr_frame_t;

#define VR_FRAME(p, n)    ((vr_frame_t) { (p), (n), NULL })
#define VR_FRAME_STR(s)   ((vr_frame_t) { (s), sizeof(s) - 1, NULL })
#define VR_FRAME_MSG(m)   ((vr_frame_t) { NULL, 0, (m) })

/*
 * Sends the frames as one message without blocking.  Every message frame
 * is consumed (sent, or closed on failure).  VR_OK, or VR_ERROR with errno
 * EHOSTUNREACH (the peer is gone) or EAGAIN (its queue is full).
 */
int vr_wire_send(void *socket, vr_frame_t *frames, size_t n);

/*
 * The Python router's error body:
 *   {"type": "error", "request_id": ID, "error": TEXT, "state": "error"}
 * with `"code": CODE` added when code is not NULL.  rid_json is the
 * request_id as JSON text (a quoted string); NULL for a fresh uuid4.
 */
void vr_wire_router_error(vr_buf_t *out, const char *rid_json,
                          const char *text, const char *code);

/* A success body: {"type": "reply", "request_id": UUID4, "result": R}. */
void vr_wire_reply_open(vr_buf_t *out);
void vr_wire_reply_close(vr_buf_t *out);

/*
 * The gateway's terminal error for a request (PROTOCOL.md B.2):
 *   {"type": "error", "request_id": RID, "error": TEXT, "code": CODE}
 */
void vr_wire_request_error(vr_buf_t *out, const char *rid, size_t rid_len,
                           const char *text, const char *code);

#endif /* VR_WIRE_H */
