/*
 * vr_child.c: spawning and reaping children (see vr_child.h).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_child.h"
#include "vr_log.h"

extern char **environ;

/* In the trampoline: the pipe on which it tells vr_child_spawn() the errno
 * of an exec that failed (an exec that succeeds closes it). */
#define VR_CHILD_REPORT_FD  3

typedef struct {
    pid_t             pid;
    vr_child_exit_pt  on_exit;
    void             *data;
} vr_child_t;

static vr_child_t *vr_children;
static size_t      vr_nchildren, vr_children_cap;

/*
 * This binary, for the trampoline: the path it was started from, which a
 * process under valgrind can exec as well; /proc/self/exe (the same file
 * under any name, even unlinked) when it was replaced since.
 */
static void
vr_child_self(char *buf, size_t size)
{
    static const char deleted[] = " (deleted)";
    ssize_t           n = readlink("/proc/self/exe", buf, size - 1);

    if (n <= 0 || (size_t) n >= size - 1
        || ((size_t) n >= sizeof(deleted) - 1
            && memcmp(buf + n - (sizeof(deleted) - 1), deleted,
                      sizeof(deleted) - 1) == 0))
    {
        snprintf(buf, size, "/proc/self/exe");
        return;
    }
    buf[n] = '\0';
}

/* Waits until the trampoline has exec'ed the command (the pipe closes) or
 * failed to (it writes the errno, then exits): 0 or that errno. */
static int
vr_child_exec_status(int fd, pid_t pid)
{
    ssize_t n;
    int     err = 0;

    while ((n = read(fd, &err, sizeof(err))) < 0 && errno == EINTR) {
    }
    if (n != (ssize_t) sizeof(err)) {
        return 0;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    return err != 0 ? err : ENOEXEC;
}

pid_t
vr_child_spawn(char *const argv[], char *const envp[], const char *cwd,
               vr_child_exit_pt on_exit, void *data)
{
    posix_spawnattr_t          attr;
    posix_spawn_file_actions_t fa;
    sigset_t                   none, all;
    pid_t                      pid;
    char                       self[PATH_MAX], gateway[32], nenv[32];
    char                     **targv;
    size_t                     argc = 0, envc = 0, k = 0;
    int                        report[2], rc;

    if (envp == NULL) {
        envp = environ;
    }
    while (argv[argc] != NULL) {
        argc++;
    }
    while (envp[envc] != NULL) {
        envc++;
    }
    if (pipe2(report, O_CLOEXEC) != 0) {
        return -1;
    }
    /* voidrail __child GATEWAY_PID N ENV... -- ARGV... */
    vr_child_self(self, sizeof(self));
    snprintf(gateway, sizeof(gateway), "%ld", (long) getpid());
    snprintf(nenv, sizeof(nenv), "%zu", envc);
    targv = vr_calloc(argc + envc + 6, sizeof(char *));
    targv[k++] = "voidrail";
    targv[k++] = VR_CHILD_ENTRY;
    targv[k++] = gateway;
    targv[k++] = nenv;
    memcpy(targv + k, envp, envc * sizeof(char *));
    k += envc;
    targv[k++] = "--";
    memcpy(targv + k, argv, (argc + 1) * sizeof(char *));

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
    posix_spawn_file_actions_adddup2(&fa, report[1], VR_CHILD_REPORT_FD);
    posix_spawn_file_actions_addclosefrom_np(&fa, VR_CHILD_REPORT_FD + 1);
    if (cwd != NULL && cwd[0] != '\0') {
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    }
    /* The trampoline runs in the gateway's environment (its libraries
     * load as the gateway's did; the command is searched in the gateway's
     * PATH, as posix_spawnp() searches), the command in envp. */
    rc = posix_spawn(&pid, self, &fa, &attr, targv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(report[1]);
    if (rc == 0) {
        rc = vr_child_exec_status(report[0], pid);
    }
    close(report[0]);
    free(targv);
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

int
vr_child_trampoline(int argc, char **argv)
{
    char *end;
    long  gateway = 0, envc = -1;
    int   err;

    if (argc > 3) {
        gateway = strtol(argv[2], &end, 10);
        gateway = *end == '\0' ? gateway : 0;
        envc = strtol(argv[3], &end, 10);
        envc = *end == '\0' ? envc : -1;
    }
    if (gateway <= 0 || envc < 0 || envc > argc - 6
        || strcmp(argv[4 + envc], "--") != 0)
    {
        fprintf(stderr, "voidrail: %s is how the gateway starts its "
                "workers, not a command\n", VR_CHILD_ENTRY);
        return 2;
    }
    /* Asked before looking: a gateway that dies from here on sends it;
     * one that died before has left this process to another parent. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != (pid_t) gateway) {
        _exit(1);
    }
    /* What this binary's libraries may have opened is not the command's. */
    closefrom(VR_CHILD_REPORT_FD + 1);
    fcntl(VR_CHILD_REPORT_FD, F_SETFD, FD_CLOEXEC);

    /* The environment list ends where "--" was. */
    argv[4 + envc] = NULL;
    execvpe(argv[5 + envc], argv + 5 + envc, argv + 4);
    err = errno;
    while (write(VR_CHILD_REPORT_FD, &err, sizeof(err)) < 0 && errno == EINTR) {
    }
    _exit(127);
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
