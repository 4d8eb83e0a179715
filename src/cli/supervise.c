/*
 * supervise.c: `voidrail dealer --instances N`: N processes, kept running.
 *
 * The supervisor starts before any thread or ZeroMQ context exists, blocks
 * the signals it handles and reads them from a signalfd.  Each instance is
 * the voidrail program itself (posix_spawn of /proc/self/exe), started
 * with the signal mask and dispositions reset; it finds the supervisor's
 * pid in VR_SUPERVISOR_PID and dies with it (PR_SET_PDEATHSIG), so a
 * killed supervisor leaves no workers behind.
 *
 * An instance that exits is started again after a pause: 250 ms, doubled
 * while instances keep dying within 10 s, up to 10 s.  SIGINT or SIGTERM
 * sends SIGTERM to every instance (each leaves the gateway cleanly), waits
 * for the grace period, then SIGKILLs what is left.
 */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "voidrail.h"
#include "cli.h"

#define VR_SUPERVISOR_ENV   "VR_SUPERVISOR_PID"
#define VR_RESTART_MIN_MS   250
#define VR_RESTART_MAX_MS   10000
#define VR_HEALTHY_MS       10000

extern char **environ;

typedef struct {
    char      **argv;
    pid_t       pid;
    long long   started_ms;
    long long   next_start_ms;
    int         delay_ms;
} vr_instance_t;

static long long
vr_cli_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
vr_cli_supervised(void)
{
    const char *env = getenv(VR_SUPERVISOR_ENV);

    if (env == NULL) {
        return;
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if ((long) getppid() != atol(env)) {
        _exit(1);               /* the supervisor died before prctl */
    }
    unsetenv(VR_SUPERVISOR_ENV);
}

static int
vr_cli_spawn(vr_instance_t *in, const char *exe, int i)
{
    posix_spawnattr_t attr;
    sigset_t          none, dfl;
    int               rc;

    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    rc = posix_spawn(&in->pid, exe, NULL, &attr, in->argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        fprintf(stderr, "voidrail dealer: cannot start instance %d: %s\n",
                i + 1, strerror(rc));
        in->pid = 0;
        return -1;
    }
    in->started_ms = vr_cli_now_ms();
    fprintf(stderr, "voidrail dealer: instance %d started (pid %ld)\n", i + 1,
            (long) in->pid);
    return 0;
}

static void
vr_cli_kill_all(vr_instance_t *in, int count, int sig)
{
    for (int i = 0; i < count; i++) {
        if (in[i].pid > 0) {
            kill(in[i].pid, sig);
        }
    }
}

static int
vr_cli_live(vr_instance_t *in, int count)
{
    int n = 0;

    for (int i = 0; i < count; i++) {
        n += in[i].pid > 0;
    }
    return n;
}

/* Reaps exited instances; schedules restarts unless stopping. */
static void
vr_cli_reap(vr_instance_t *in, int count, bool stopping)
{
    pid_t     pid;
    int       status;
    long long now;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < count; i++) {
            if (in[i].pid != pid) {
                continue;
            }
            in[i].pid = 0;
            if (stopping) {
                break;
            }
            now = vr_cli_now_ms();
            if (now - in[i].started_ms >= VR_HEALTHY_MS) {
                in[i].delay_ms = VR_RESTART_MIN_MS;
            } else {
                in[i].delay_ms = in[i].delay_ms == 0 ? VR_RESTART_MIN_MS
                    : in[i].delay_ms * 2 > VR_RESTART_MAX_MS
                    ? VR_RESTART_MAX_MS : in[i].delay_ms * 2;
            }
            in[i].next_start_ms = now + in[i].delay_ms;
            if (WIFSIGNALED(status)) {
                fprintf(stderr, "voidrail dealer: instance %d (pid %ld) "
                        "killed by signal %d; starting it again in %d ms\n",
                        i + 1, (long) pid, WTERMSIG(status), in[i].delay_ms);
            } else {
                fprintf(stderr, "voidrail dealer: instance %d (pid %ld) "
                        "exited with status %d; starting it again in %d ms\n",
                        i + 1, (long) pid, WEXITSTATUS(status),
                        in[i].delay_ms);
            }
            break;
        }
    }
}

int
vr_cli_supervise(char ***argvs, int count, int grace_ms)
{
    vr_instance_t          *in = calloc((size_t) count, sizeof(*in));
    sigset_t                set, old;
    struct signalfd_siginfo si;
    char                    exe[PATH_MAX], pid[32];
    ssize_t                 n;
    int                     fd, timeout;
    bool                    stopping = false;
    long long               now, deadline = 0, wake;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        fprintf(stderr, "voidrail dealer: cannot find the voidrail program: "
                "%s\n", strerror(errno));
        free(in);
        return 1;
    }
    exe[n] = '\0';
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &old);
    fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) {
        /* Without it no stop signal nor instance exit would be seen. */
        fprintf(stderr, "voidrail dealer: cannot supervise: signalfd(): "
                "%s\n", strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        free(in);
        return 1;
    }
    snprintf(pid, sizeof(pid), "%ld", (long) getpid());
    setenv(VR_SUPERVISOR_ENV, pid, 1);
    for (int i = 0; i < count; i++) {
        in[i].argv = argvs[i];
    }
    fprintf(stderr, "voidrail dealer: supervising %d instances (pid %s)\n",
            count, pid);

    for (;;) {
        now = vr_cli_now_ms();
        wake = stopping ? deadline : now + 60000;
        for (int i = 0; i < count && !stopping; i++) {
            if (in[i].pid == 0 && in[i].next_start_ms <= now) {
                if (vr_cli_spawn(&in[i], exe, i) != 0) {
                    in[i].delay_ms = VR_RESTART_MAX_MS;
                    in[i].next_start_ms = now + in[i].delay_ms;
                }
            }
            if (in[i].pid == 0 && in[i].next_start_ms < wake) {
                wake = in[i].next_start_ms;
            }
        }
        if (stopping && vr_cli_live(in, count) == 0) {
            break;
        }
        if (stopping && now >= deadline) {
            fprintf(stderr, "voidrail dealer: %d instances still running "
                    "after %d ms; killing them\n", vr_cli_live(in, count),
                    grace_ms);
            vr_cli_kill_all(in, count, SIGKILL);
            for (int i = 0; i < count; i++) {
                if (in[i].pid > 0) {
                    waitpid(in[i].pid, NULL, 0);
                    in[i].pid = 0;
                }
            }
            break;
        }
        timeout = wake > now ? (int) (wake - now) : 0;
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, timeout) < 0 && errno != EINTR) {
            break;
        }
        while (read(fd, &si, sizeof(si)) == (ssize_t) sizeof(si)) {
            if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
                if (stopping) {
                    deadline = 0;       /* a second one: at once */
                    continue;
                }
                fprintf(stderr, "voidrail dealer: signal %u: stopping %d "
                        "instances\n", si.ssi_signo, vr_cli_live(in, count));
                stopping = true;
                deadline = vr_cli_now_ms() + grace_ms;
                vr_cli_kill_all(in, count, SIGTERM);
            }
        }
        vr_cli_reap(in, count, stopping);
    }
    vr_cli_reap(in, count, true);
    fprintf(stderr, "voidrail dealer: every instance has stopped\n");
    close(fd);
    unsetenv(VR_SUPERVISOR_ENV);
    sigprocmask(SIG_SETMASK, &old, NULL);
    free(in);
    return 0;
}
