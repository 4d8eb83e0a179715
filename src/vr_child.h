/*
 * vr_child.h: child processes of the gateway.
 *
 * Children start with posix_spawn (never a bare fork after the ZeroMQ
 * context exists), with the signal mask and dispositions reset, every
 * descriptor above stderr closed, and in a process group of their own, so
 * that a signal reaches what they started in turn.  Their ends arrive as
 * SIGCHLD through the loop's signalfd; vr_child_reap() collects them and
 * calls each child's callback once.
 *
 * A child gets SIGTERM when the gateway dies, even by SIGKILL, so that a
 * gateway started again does not find the children of the last one still
 * running.  What posix_spawn starts is this binary at a hidden entry
 * point, VR_CHILD_ENTRY (vr_child_trampoline()), which asks for that
 * signal (PR_SET_PDEATHSIG) and then execs the child's command in the same
 * process: the pid the gateway holds is the command's.  The signal goes to
 * the child alone, not its process group; the kernel forgets the request
 * when the command is set-user-ID, set-group-ID or has file capabilities.
 */
#ifndef VR_CHILD_H
#define VR_CHILD_H

#include <sys/types.h>
#include "vr_core.h"

/* A child ended: status as from waitpid(). */
typedef void (*vr_child_exit_pt)(pid_t pid, int status, void *data);

/* argv[1] of this binary started as the trampoline of a child. */
#define VR_CHILD_ENTRY  "__child"

/*
 * Starts argv[0] (searched in the gateway's PATH when it has no slash)
 * with argv and envp (NULL: the gateway's environment) in directory cwd
 * (NULL: the gateway's).  on_exit(pid, status, data) runs when it ends.
 * Returns the pid, or -1 with errno set when the command could not be
 * started (nothing to reap then).
 *
 * Call it from the gateway's main thread only: the kernel sends the
 * parent-death signal when the thread that spawned the child ends, and the
 * main thread lasts as long as the gateway.
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

/*
 * The entry point of a child's trampoline, for main() when argv[1] is
 * VR_CHILD_ENTRY: `voidrail __child GATEWAY_PID N ENV1..ENVN -- COMMAND
 * ARGS...`, run in the gateway's environment.  Asks for SIGTERM at the
 * gateway's death, exits at once when the gateway (GATEWAY_PID, its
 * parent) is already gone, leaves no descriptor above stderr open across
 * the exec, and execs COMMAND (searched in PATH, the gateway's) with the
 * N environment entries ENV1..ENVN.  Returns only on a usage error (2); a
 * failed exec is reported to vr_child_spawn() and exits 127.
 */
int vr_child_trampoline(int argc, char **argv);

/* "exit 3", "signal 9 (Killed)": a status as text, into buf. */
const char *vr_child_status_text(int status, char *buf, size_t size);

#endif /* VR_CHILD_H */
