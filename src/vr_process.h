/*
 * vr_process.h: the process around the cycles: the "process:" section
 * (pid file, drain time) and what the process knows about itself, for
 * /status.json and /metrics: when it started, which configuration
 * generation is in force, how the last reload went.
 */
#ifndef VR_PROCESS_H
#define VR_PROCESS_H

#include "vr_core.h"
#include "vr_module.h"

typedef struct {
    char       *pid_file;           /* "" : none */
    vr_msec_t   drain_timeout_ms;
    const char *pid_file_where;     /* "FILE:LINE:COL: \"process.pid_file\"" */
} vr_process_conf_t;

typedef struct {
    int64_t     started_wall_ms;
    const char *conf_file;
    unsigned    generation;
    int64_t     last_reload_wall_ms;    /* 0: never reloaded */
    bool        last_reload_ok;
    char        last_reload_error[512];
    uint64_t    reloads;
    uint64_t    reload_failures;
    bool        draining;
} vr_process_info_t;

extern vr_process_info_t vr_process;
extern vr_module_t       vr_process_module;

/*
 * Tells the service manager the process's state ("READY=1",
 * "RELOADING=1", "STOPPING=1"): the sd_notify(3) datagram to
 * $NOTIFY_SOCKET.  A no-op when that is not set; a failure is logged at
 * warn and changes nothing else.
 */
void vr_process_notify(const char *state);

/* Records the outcome of a reload (error NULL when it succeeded). */
void vr_process_reloaded(unsigned generation, const char *error);

/*
 * Reads the pid in a pid file; -1 (with a message on stderr) when there
 * is none or it is not a number.
 */
long vr_process_read_pid(const char *path);

#endif /* VR_PROCESS_H */
