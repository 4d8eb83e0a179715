/*
 * vr_child.c: spawning and reaping children (see vr_child.h).
 */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_child.h"
#include "vr_log.h"

extern char **environ;

typedef struct {
    pid_t             pid;
    vr_child_exit_pt  on_exit;
    void             *data;
} vr_child_t;

static vr_child_t *vr_children;
static size_t      vr_nchildren, vr_children_cap;

pid_t
vr_child_spawn(char *const argv[], char *const envp[], const char *cwd,
               vr_child_exit_pt on_exit, void *data)
{
    posix_spawnattr_t          attr;
    posix_spawn_file_actions_t fa;
    sigset_t                   none, all;
    pid_t                      pid;
    int                        rc;

    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    /* The gateway blocks the signals it reads from a signalfd: the child
     * must not inherit that mask, nor any handler disposition. */
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    /* Its own process group: stopping it reaches its children too. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF
                                    | POSIX_SPAWN_SETPGROUP);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (cwd != NULL && cwd[0] != '\0') {
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    }
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv,
                      envp != NULL ? envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    if (vr_nchildren == vr_children_cap) {
        vr_children_cap = vr_children_cap ? vr_children_cap * 2 : 8;
        vr_children = vr_realloc(vr_children,
                                 vr_children_cap * sizeof(vr_child_t));
    }
    vr_children[vr_nchildren].pid = pid;
    vr_children[vr_nchildren].on_exit = on_exit;
    vr_children[vr_nchildren].data = data;
    vr_nchildren++;
    return pid;
}

static vr_child_t *
vr_child_find(pid_t pid)
{
    for (size_t i = 0; i < vr_nchildren; i++) {
        if (vr_children[i].pid == pid) {
            return &vr_children[i];
        }
    }
    return NULL;
}

void
vr_child_reap(void)
{
    pid_t pid;
    int   status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        vr_child_t *c = vr_child_find(pid);
        vr_child_t  copy;

        if (c == NULL) {
            continue;
        }
        copy = *c;
        *c = vr_children[--vr_nchildren];
        if (copy.on_exit != NULL) {
            copy.on_exit(pid, status, copy.data);
        }
    }
    if (vr_nchildren == 0) {
        free(vr_children);
        vr_children = NULL;
        vr_children_cap = 0;
    }
}

int
vr_child_signal(pid_t pid, int signo)
{
    return kill(-pid, signo) == 0 || kill(pid, signo) == 0 ? VR_OK : VR_ERROR;
}

void
vr_child_forget(pid_t pid)
{
    vr_child_t *c = vr_child_find(pid);

    if (c != NULL) {
        c->on_exit = NULL;
    }
}

size_t
vr_child_count(void)
{
    return vr_nchildren;
}

const char *
vr_child_status_text(int status, char *buf, size_t size)
{
    if (WIFEXITED(status)) {
        snprintf(buf, size, "exit %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        snprintf(buf, size, "signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(buf, size, "status %d", status);
    }
    return buf;
}
