/*
 * nosignalfd.c: a library to preload (LD_PRELOAD) in whose process
 * signalfd() fails as it does for a process out of descriptors, for
 * t/101lib_dealer.t: a dealer must still stop on SIGTERM and SIGINT.
 */
#include <errno.h>
#include <sys/signalfd.h>

int
signalfd(int fd, const sigset_t *mask, int flags)
{
    (void) fd;
    (void) mask;
    (void) flags;
    errno = EMFILE;
    return -1;
}
