/*
 * client.h: the insides of vr_client_t and vr_call_t (client.c, call.c).
 *
 * One I/O thread per client owns the DEALER socket.  Threads that call
 * hand it messages through the outbox and wait on their call; the I/O
 * thread files every answer under its call (by request_id) and wakes the
 * waiter.  What the calls and the I/O thread share is the hub, which is
 * reference-counted: a call may outlive its client.
 */
#ifndef VR_LIB_CLIENT_H
#define VR_LIB_CLIENT_H

#include <uthash.h>

#include "lib.h"

typedef enum {
    VR_LIB_CHUNK,           /* a stream chunk */
    VR_LIB_RESULT,          /* the result (final) */
    VR_LIB_END,             /* end of stream (final) */
    VR_LIB_FAIL             /* an error (final) */
} vr_lib_item_kind_t;

typedef struct vr_lib_item_s  vr_lib_item_t;
struct vr_lib_item_s {
    vr_lib_item_t       *next;
    vr_lib_item_kind_t   kind;
    char                *json;      /* chunk or result text */
    vr_error_t           err;       /* VR_LIB_FAIL */
};

typedef struct {
    pthread_mutex_t   lock;
    unsigned          refs;         /* the client and each of its calls */
    bool              closed;       /* the client is going away */
    vr_call_t        *calls;        /* in flight, by request_id */
    vr_call_t        *order;        /* in flight, oldest first (utlist) */
    vr_call_t        *commands;     /* waiting for an answer, oldest first */
    vr_lib_outbox_t   outbox;
    vr_lib_log_t      log;
} vr_lib_hub_t;

struct vr_call_s {
    vr_lib_hub_t     *hub;
    char              rid[37];
    char             *method;
    const char       *ack;          /* a command: its answer's type */
    bool              abandoned;    /* a command nobody waits for */
    bool              login;        /* the auth sent on connecting */
    bool              linked;       /* in calls+order, or in commands */
    bool              ended;        /* the final item is queued */
    bool              done;         /* the final item was taken */
    bool              failed;       /* ... and it was an error */
    vr_error_t        err;          /* that error */
    vr_lib_item_t    *head;
    vr_lib_item_t    *tail;
    pthread_cond_t    cond;
    UT_hash_handle    hh;
    vr_call_t        *prev, *next;  /* in order or commands */
};

/* call.c */

/* A call or command bound to hub (counted); linking is the caller's. */
vr_call_t *vr_lib_call_new(vr_lib_hub_t *hub, const char *method);

/* Queues an item on c (under the hub's lock) and wakes its waiter. */
void vr_lib_call_push(vr_call_t *c, vr_lib_item_kind_t kind, char *json,
                      const char *code, const char *text);

/* Takes c out of the in-flight table or the command list (hub locked). */
void vr_lib_call_unlink(vr_call_t *c);

/* Frees a command nobody waits for any more (hub locked). */
void vr_lib_call_free_locked(vr_call_t *c);

/* Drops a reference to hub; frees it with the last. */
void vr_lib_hub_unref(vr_lib_hub_t *hub);

/* client.c */

/* Files one message the socket received (hub locked). */
void vr_lib_client_dispatch(vr_lib_hub_t *hub, zmq_msg_t *frames, size_t n);

/*
 * Sends [name, body] as a command and waits at most timeout_ms for its
 * answer (of type ack); the result object's text in *result_json.
 */
int vr_lib_client_command(vr_client_t *self, const char *name,
                          const char *body, const char *ack, int timeout_ms,
                          char **result_json, vr_error_t *err);

#endif /* VR_LIB_CLIENT_H */
