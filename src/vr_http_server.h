/*
 * vr_http_server.h: state shared by the two halves of the HTTP core,
 * requests (vr_http.c) and listeners (vr_http_module.c).  Not for modules.
 */
#ifndef VR_HTTP_SERVER_H
#define VR_HTTP_SERVER_H

#include <microhttpd.h>
#include "vr_core.h"
#include "vr_http.h"

/*
 * What a listener is for.  MHD gives it to the access handler as its cls
 * ((void *) (uintptr_t) role), so that every request knows where it came
 * in without a pointer to a listener that a reload may free.
 */
typedef enum {
    VR_HTTP_PLAIN = 0,      /* http.listen */
    VR_HTTP_TLS,            /* http.tls.listen */
    VR_HTTP_ADMIN,          /* http.admin_listen */
    VR_HTTP_NROLES
} vr_http_role_t;

typedef struct vr_http_listener_s {
    char                       *addr;   /* as configured: "127.0.0.1:8080" */
    vr_http_role_t              role;
    vr_digest_t                 pem_digest; /* TLS: what it serves */
    struct MHD_Daemon          *daemon;
    int                         epoll_fd;
    bool                        retiring;   /* no longer accepting */
    vr_msec_t                   retire_deadline_ms;
    struct vr_http_listener_s  *next;
} vr_http_listener_t;

typedef struct {
    const vr_http_conf_t   *conf;
    vr_loop_t              *loop;
    vr_broker_t            *broker;     /* for the API key check */
    vr_http_listener_t     *listeners;  /* list, the retiring ones too */
    vr_http_req_t          *live;       /* every request in progress */
    vr_http_stats_t         stats;
    int                     access_fd;  /* -1: access log off */
    vr_buf_t                access_buf; /* its lines not written yet */
    bool                    need_run;   /* an fd fired, a request resumed */
    vr_msec_t               mhd_deadline_ms;    /* MHD wants a turn then */
    uint64_t                stream_bytes;   /* sent by stream readers */
    const vr_route_t      **routes;     /* NULL-terminated */
} vr_http_server_t;

extern vr_http_server_t vr_http_srv;

typedef struct {
    MHD_AccessHandlerCallback     access;
    MHD_RequestCompletedCallback  completed;
} vr_http_callbacks_t;

/* The callbacks the listeners give to MHD. */
void vr_http_server_callbacks(vr_http_callbacks_t *cb);

/*
 * Checks http.tls (vr_http_tls.c), for init_conf: when tls->listen is not
 * empty, reads tls->cert and tls->key into tls->cert_pem and tls->key_pem
 * (cf's pool) and checks with libcrypto that they parse and match; sets
 * tls->pem_digest.  VR_OK, or VR_ERROR with the error recorded in cf
 * naming the key and the file.
 */
int vr_http_tls_load(vr_conf_t *cf, vr_http_tls_conf_t *tls);

/*
 * Writes the access log lines gathered since the last call to access_fd
 * (whole lines, at most PIPE_BUF bytes per write, so that they stay whole
 * in a pipe shared with other writers).  Called before the loop sleeps,
 * and before access_fd changes or closes.
 */
void vr_http_flush_access_log(void);

/*
 * Resumes every parked request of daemon d (of all daemons when NULL), as
 * gone: MHD must not stop a daemon with suspended connections.
 */
void vr_http_release_all(struct MHD_Daemon *d);

#endif /* VR_HTTP_SERVER_H */
