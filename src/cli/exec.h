/*
 * exec.h: what the two halves of `voidrail dealer --exec` share: the
 * program and its lines (exec_proc.c) and the dealer whose handlers talk
 * to it (exec.c).
 */
#ifndef VR_CLI_EXEC_H
#define VR_CLI_EXEC_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cli.h"

#define VR_EXEC_HELLO_MS      30000    /* for the method list */
#define VR_EXEC_RESTART_MIN   250
#define VR_EXEC_RESTART_MAX   10000
#define VR_EXEC_HEALTHY_MS    10000

typedef struct vr_exec_line_s  vr_exec_line_t;
struct vr_exec_line_s {
    vr_exec_line_t  *next;
    size_t           len;
    char             text[];
};

typedef struct vr_exec_wait_s  vr_exec_wait_t;
struct vr_exec_wait_s {
    vr_exec_wait_t  *prev, *next;
    long long        id;
    vr_exec_line_t  *head, *tail;
    bool             dead;
    char             why[200];
    pthread_cond_t   cond;
};

typedef struct {
    const vr_cli_exec_t  *x;
    pthread_mutex_t       lock;
    pthread_mutex_t       write_lock;
    pid_t                 pid;
    int                   to_fd;
    int                   from_fd;
    char                 *rbuf;         /* what was read, not yet a line */
    size_t                rlen;
    size_t                rcap;
    long long             next_id;
    vr_exec_wait_t       *waits;
    bool                  stopping;
    bool                  finished;     /* the reader thread is done */
    bool                  cancel;       /* the program takes cancel lines */
    char                 *declared;     /* its methods, canonical JSON */
    json_t               *decl;
    long long             started_ms;
    int                   delay_ms;
    pthread_t             reader;
} vr_exec_t;

/* Monotonic milliseconds. */
long long vr_exec_now_ms(void);

/* Starts the program with pipes to its stdin and stdout; 0 or -1. */
int vr_exec_spawn(vr_exec_t *e);

/*
 * Reads and checks its method list (the first line, within 30 s); sets
 * e->decl, e->declared and e->cancel the first time.  VR_OK or VR_ERROR
 * (said on stderr).
 */
int vr_exec_hello(vr_exec_t *e);

/* Closes our end of the program's input (EOF for it). */
void vr_exec_close_input(vr_exec_t *e);

/* Waits for the program pid (killing it after 1 s); its wait status. */
int vr_exec_reap(vr_exec_t *e, pid_t pid);

/*
 * The reader thread (arg: e): files the program's lines under their
 * requests by id; when the program ends, fails the requests it held and
 * starts it again, until e->stopping.
 */
void *vr_exec_reader(void *arg);

/* Ends the program (EOF, SIGTERM, SIGKILL) and joins the reader thread. */
void vr_exec_stop(vr_exec_t *e);

#endif /* VR_CLI_EXEC_H */
