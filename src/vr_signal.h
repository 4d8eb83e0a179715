/*
 * vr_signal.h: signals as events of the loop.
 *
 * The signals the gateway acts on are blocked in every thread (before the
 * ZeroMQ context starts its own) and read from a signalfd by the loop.
 */
#ifndef VR_SIGNAL_H
#define VR_SIGNAL_H

#include "vr_core.h"

/*
 * Blocks SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGUSR1 and SIGCHLD and returns
 * a non-blocking signalfd for them, or -1 (logged).  Call before
 * zmq_ctx_new() so that ZeroMQ's threads inherit the mask.
 */
int vr_signal_open(void);

/* The next pending signal on fd, 0 when none. */
int vr_signal_read(int fd);

/* Restores the signal mask the process started with (for children). */
void vr_signal_unblock(void);

#endif /* VR_SIGNAL_H */
