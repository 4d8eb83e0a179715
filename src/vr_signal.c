/*
 * vr_signal.c: signals as events of the loop (see vr_signal.h).
 */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_log.h"
#include "vr_signal.h"

static sigset_t vr_signal_saved;

int
vr_signal_open(void)
{
    sigset_t set;
    int      fd;

    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &set, &vr_signal_saved) != 0) {
        vr_log_error("sigprocmask(): %s", strerror(errno));
        return -1;
    }
    /* A peer that goes away mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
        vr_log_error("signalfd(): %s", strerror(errno));
    }
    return fd;
}

int
vr_signal_read(int fd)
{
    struct signalfd_siginfo si;

    if (read(fd, &si, sizeof(si)) != (ssize_t) sizeof(si)) {
        return 0;
    }
    return (int) si.ssi_signo;
}

void
vr_signal_unblock(void)
{
    sigprocmask(SIG_SETMASK, &vr_signal_saved, NULL);
}
