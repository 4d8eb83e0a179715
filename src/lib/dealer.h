/*
 * dealer.h: the insides of vr_dealer_t and vr_job_t (dealer.c, job.c).
 *
 * Threads of a running dealer:
 *
 *   the I/O thread    owns the socket: registers (again after every new
 *                     connection), heartbeats, turns each call_from_router
 *                     into a job on the queue, sends what the outbox holds,
 *                     and runs the stop sequence;
 *   N workers         take jobs off the queue, run their handlers and put
 *                     the answers in the outbox.
 *
 * The lock guards the queue, the running list and the counters.
 */
#ifndef VR_LIB_DEALER_H
#define VR_LIB_DEALER_H

#include <signal.h>
#include <stdatomic.h>

#include "lib.h"

typedef struct {
    char           *name;
    vr_handler_fn   handler;
    void           *data;
    char           *description;
    char           *params_json;
    int             stream;
    char           *metadata_json;
} vr_lib_method_t;

typedef struct vr_lib_str_s  vr_lib_str_t;
struct vr_lib_str_s {
    vr_lib_str_t  *next;
    char           s[];
};

struct vr_job_s {
    vr_dealer_t      *dealer;
    vr_lib_method_t  *method;
    char             *cid;          /* the caller's identity */
    size_t            cid_len;
    char             *rid;          /* request_id, decoded */
    char             *rid_json;     /* ... as JSON text ("null" if none) */
    char             *name;         /* bare method name */
    char             *args;         /* JSON array text */
    char             *kwargs;       /* JSON object text */
    size_t            nargs;
    char             *result;       /* vr_job_result() */
    char             *error;        /* vr_job_error() */
    unsigned          chunks;
    atomic_int        cancelled;
    vr_lib_str_t     *strs;         /* strings handed to the handler */
    vr_job_t         *prev, *next;  /* in the queue or the running list */
};

struct vr_dealer_s {
    /* settings */
    char             *endpoint;
    char             *service;
    char             *group;
    char             *api_key;
    char              identity[300];
    char              id_tail[9];
    vr_lib_curve_t    curve;
    bool              curve_set;
    vr_lib_method_t  *methods;
    size_t            nmethods;
    int               max_concurrent;
    int               heartbeat_ms;
    int               stop_timeout_ms;
    bool              cancel;
    vr_lib_log_t      log;
    char              hostname[256];
    char              ip[64];

    /* running */
    void             *zctx;
    void             *sock;
    void             *monitor;
    vr_lib_outbox_t   outbox;
    pthread_t         io;
    pthread_t        *workers;
    int               nworkers;
    pthread_mutex_t   lock;
    pthread_cond_t    work;         /* a job is queued, or quit */
    pthread_cond_t    ended;        /* the I/O thread has finished */
    vr_job_t         *queue;        /* waiting for a worker (utlist) */
    vr_job_t         *running;
    unsigned          held;         /* queued + running */
    bool              quit;         /* workers: leave */
    bool              started;
    bool              finished;     /* the I/O thread is done */
    bool              joined;
    atomic_int        stop;         /* vr_dealer_stop() was called */
    pthread_t         runner;       /* the thread in vr_dealer_run() */
    bool              has_runner;
};

/* job.c */

/* A job for the call in frames (checked); NULL and *error when bad. */
vr_job_t *vr_lib_job_new(vr_dealer_t *d, zmq_msg_t *frames, size_t n,
                         char **error_body);
void vr_lib_job_free(vr_job_t *job);

/* The body of a reply_from_dealer: kind "streaming", "reply", "end" or
 * "error", with value (JSON text; error: plain text). */
char *vr_lib_job_body(const char *rid_json, const char *kind,
                      const char *value, size_t *len);

/* A worker thread (arg: the dealer). */
void *vr_lib_worker(void *arg);

#endif /* VR_LIB_DEALER_H */
