/*
 * vr_child.h: child processes of the gateway.
 *
 * Children start with posix_spawn (never a bare fork after the ZeroMQ
 * context exists), with the signal mask and dispositions reset, every
 * descriptor above stderr closed, and in a process group of their own, so
 * that a signal reaches what they started in turn.  Their ends arrive as SIGCHLD through
 * the loop's signalfd; vr_child_reap() collects them and calls each
 * child's callback once.
 */
#ifndef VR_CHILD_H
#define VR_CHILD_H

#include <sys/types.h>
#include "vr_core.h"

/* A child ended: status as from waitpid(). */
typedef void (*vr_child_exit_pt)(pid_t pid, int status, void *data);

/*
 * Starts argv[0] (searched in PATH when it has no slash) with argv and
 * envp (NULL: the gateway's environment) in directory cwd (NULL: the
 * gateway's).  on_exit(pid, status, data) runs when it ends.  Returns the
 * pid, or -1 with errno set (nothing to reap then).
 */
pid_t vr_child_spawn(char *const argv[], char *const envp[], const char *cwd,
                     vr_child_exit_pt on_exit, void *data);

/* Signals the child's process group (the child alone if that fails). */
int vr_child_signal(pid_t pid, int signo);

/* Collects every child that ended and runs its callback.  Call on SIGCHLD. */
void vr_child_reap(void);

/* Forgets the callback of pid (its end will be collected silently). */
void vr_child_forget(pid_t pid);

/* Children started and not yet collected. */
size_t vr_child_count(void);

/* "exit 3", "signal 9 (Killed)": a status as text, into buf. */
const char *vr_child_status_text(int status, char *buf, size_t size);

#endif /* VR_CHILD_H */
