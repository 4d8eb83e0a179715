/*
 * vr_loop.c: the event loop (see vr_loop.h).
 *
 * One turn: ask the hooks how long we may sleep, take the earliest timer,
 * epoll_wait, run the handlers of the descriptors that fired, fire due
 * timers, run the hooks, run the ZeroMQ sockets' handlers, then free what
 * handlers deferred.  Handlers may add or remove watches and timers at any
 * point; removed watches are only marked during a turn and compacted
 * after it.
 *
 * Plain descriptors (the signalfd, MHD's epoll fds, every parked HTTP
 * connection: thousands) live in an epoll set of the loop's own, so that
 * a turn costs the same with 10 or 10,000 idle connections.  A ZeroMQ
 * socket (a handful) is in it by its ZMQ_FD, which is edge-triggered: it
 * turns readable when commands reach the socket, and any use of the
 * socket (a send too) may take them in, leaving messages to read and
 * nothing to wake on.  So a socket's handler runs last in every turn and
 * reads until EAGAIN (or asks for another turn): nothing touches the
 * socket between that EAGAIN and the next wait, whose wake-up on ZMQ_FD
 * is then exact.  A busy turn costs one epoll_wait and the final EAGAIN
 * (zmq_poll would add a poll(2) and a ZMQ_EVENTS check to each turn).
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_log.h"
#include "vr_loop.h"

vr_msec_t vr_now_ms;

typedef struct {
    zmq_pollitem_t  item;           /* a ZeroMQ socket (fd: its ZMQ_FD), or
                                       an fd */
    vr_io_pt        handler;
    void           *data;
    bool            dead;
} vr_watch_t;

typedef struct {
    void  (*fn)(void *);
    void   *p;
} vr_deferred_t;

#define VR_LOOP_EPOLL_BATCH  256

/* The epoll data of every ZMQ_FD: the sockets' handlers run every turn
 * anyway, so a wake-up need not say whose it is. */
static char vr_loop_zmq_fd;

struct vr_loop_s {
    vr_watch_t      *sockets;       /* ZeroMQ sockets */
    size_t           nsockets, sockets_cap;
    bool             compact;

    int              epfd;          /* plain descriptors */
    vr_watch_t     **fds;           /* by fd number; NULL: not watched */
    size_t           fds_cap;
    vr_watch_t     **dead_fds;      /* removed this turn, freed after it */
    size_t           ndead, dead_cap;

    vr_timer_t     **heap;
    size_t           ntimers, heap_cap;

    vr_loop_hook_t  *hooks;
    size_t           nhooks;

    vr_deferred_t   *deferred;
    size_t           ndeferred, deferred_cap;

    bool             again;
    bool             stop;
};

vr_msec_t
vr_clock_update(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    vr_now_ms = (vr_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return vr_now_ms;
}

int64_t
vr_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

vr_loop_t *
vr_loop_new(void)
{
    vr_loop_t *l = vr_calloc(1, sizeof(vr_loop_t));

    vr_clock_update();
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        vr_log_error("epoll_create1(): %s", strerror(errno));
        abort();
    }
    return l;
}

static void
vr_loop_free_dead(vr_loop_t *l)
{
    for (size_t i = 0; i < l->ndead; i++) {
        free(l->dead_fds[i]);
    }
    l->ndead = 0;
}

void
vr_loop_destroy(vr_loop_t **lp)
{
    vr_loop_t *l = *lp;

    if (l == NULL) {
        return;
    }
    for (size_t i = 0; i < l->ndeferred; i++) {
        l->deferred[i].fn(l->deferred[i].p);
    }
    for (size_t i = 0; i < l->ntimers; i++) {
        l->heap[i]->index = VR_TIMER_IDLE;
    }
    for (size_t i = 0; i < l->fds_cap; i++) {
        free(l->fds[i]);
    }
    vr_loop_free_dead(l);
    close(l->epfd);
    free(l->dead_fds);
    free(l->fds);
    free(l->deferred);
    free(l->sockets);
    free(l->heap);
    free(l->hooks);
    free(l);
    *lp = NULL;
}

/* ---- watches ---------------------------------------------------------- */

void
vr_loop_add_socket(vr_loop_t *l, void *socket, short events,
                   vr_io_pt handler, void *data)
{
    vr_watch_t        *w = NULL;
    struct epoll_event ev;
    int                fd;
    size_t             len = sizeof(fd);

    for (size_t i = 0; i < l->nsockets; i++) {
        if (!l->sockets[i].dead && l->sockets[i].item.socket == socket) {
            w = &l->sockets[i];
        }
    }
    if (zmq_getsockopt(socket, ZMQ_FD, &fd, &len) != 0) {
        vr_log_error("zmq_getsockopt(ZMQ_FD): %s", zmq_strerror(errno));
        abort();
    }
    if (w == NULL) {
        if (l->nsockets == l->sockets_cap) {
            l->sockets_cap = l->sockets_cap ? l->sockets_cap * 2 : 4;
            l->sockets = vr_realloc(l->sockets,
                                    l->sockets_cap * sizeof(vr_watch_t));
        }
        w = &l->sockets[l->nsockets++];
        ev.events = EPOLLIN;
        ev.data.ptr = &vr_loop_zmq_fd;
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            vr_log_error("epoll_ctl(ZMQ_FD %d): %s", fd, strerror(errno));
        }
    }
    memset(w, 0, sizeof(*w));
    w->item.socket = socket;
    w->item.fd = fd;
    w->item.events = events;
    w->handler = handler;
    w->data = data;
    /* Whatever it holds already may never wake the wait. */
    l->again = true;
}

void
vr_loop_del_socket(vr_loop_t *l, void *socket)
{
    for (size_t i = 0; i < l->nsockets; i++) {
        if (!l->sockets[i].dead && l->sockets[i].item.socket == socket) {
            /* Before the socket is closed, which closes its ZMQ_FD. */
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->sockets[i].item.fd, NULL);
            l->sockets[i].dead = true;
            l->compact = true;
        }
    }
}

static uint32_t
vr_loop_epoll_events(short events)
{
    return (events & ZMQ_POLLIN ? EPOLLIN : 0)
           | (events & ZMQ_POLLOUT ? EPOLLOUT : 0)
           | (events & VR_POLLHUP ? EPOLLRDHUP : 0);
}

void
vr_loop_add_fd(vr_loop_t *l, int fd, short events, vr_io_pt handler,
               void *data)
{
    struct epoll_event ev;
    vr_watch_t        *w;
    int                op = EPOLL_CTL_MOD;

    if ((size_t) fd >= l->fds_cap) {
        size_t cap = l->fds_cap ? l->fds_cap : 64;
        while (cap <= (size_t) fd) {
            cap *= 2;
        }
        l->fds = vr_realloc(l->fds, cap * sizeof(vr_watch_t *));
        memset(l->fds + l->fds_cap, 0,
               (cap - l->fds_cap) * sizeof(vr_watch_t *));
        l->fds_cap = cap;
    }
    w = l->fds[fd];
    if (w == NULL) {
        w = vr_calloc(1, sizeof(*w));
        l->fds[fd] = w;
        op = EPOLL_CTL_ADD;
    }
    w->item.fd = fd;
    w->item.events = events;
    w->handler = handler;
    w->data = data;
    ev.events = vr_loop_epoll_events(events);
    ev.data.ptr = w;
    if (epoll_ctl(l->epfd, op, fd, &ev) != 0) {
        vr_log_error("epoll_ctl(%d): %s", fd, strerror(errno));
    }
}

void
vr_loop_del_fd(vr_loop_t *l, int fd)
{
    vr_watch_t *w;

    if (fd < 0 || (size_t) fd >= l->fds_cap || l->fds[fd] == NULL) {
        return;
    }
    w = l->fds[fd];
    l->fds[fd] = NULL;
    /* The fd may be closed already: then epoll forgot it by itself. */
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
    /* An event for it may still be in this turn's batch: free it later. */
    w->dead = true;
    if (l->ndead == l->dead_cap) {
        l->dead_cap = l->dead_cap ? l->dead_cap * 2 : 16;
        l->dead_fds = vr_realloc(l->dead_fds,
                                 l->dead_cap * sizeof(vr_watch_t *));
    }
    l->dead_fds[l->ndead++] = w;
}

static void
vr_loop_compact(vr_loop_t *l)
{
    size_t o = 0;

    for (size_t i = 0; i < l->nsockets; i++) {
        if (!l->sockets[i].dead) {
            l->sockets[o++] = l->sockets[i];
        }
    }
    l->nsockets = o;
    l->compact = false;
}

int
vr_loop_add_hook(vr_loop_t *l, const vr_loop_hook_t *hook)
{
    l->hooks = vr_realloc(l->hooks, (l->nhooks + 1) * sizeof(*hook));
    l->hooks[l->nhooks++] = *hook;
    return VR_OK;
}

void
vr_loop_del_hook(vr_loop_t *l, void *data)
{
    for (size_t i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].data == data) {
            memmove(&l->hooks[i], &l->hooks[i + 1],
                    (l->nhooks - i - 1) * sizeof(l->hooks[0]));
            l->nhooks--;
            return;
        }
    }
}

void
vr_loop_again(vr_loop_t *l)
{
    l->again = true;
}

void
vr_loop_stop(vr_loop_t *l)
{
    l->stop = true;
}

void
vr_loop_defer_free(vr_loop_t *l, void (*fn)(void *), void *p)
{
    if (l->ndeferred == l->deferred_cap) {
        l->deferred_cap = l->deferred_cap ? l->deferred_cap * 2 : 16;
        l->deferred = vr_realloc(l->deferred,
                                 l->deferred_cap * sizeof(vr_deferred_t));
    }
    l->deferred[l->ndeferred].fn = fn;
    l->deferred[l->ndeferred].p = p;
    l->ndeferred++;
}

/* ---- timers: a binary min-heap on when_ms ----------------------------- */

void
vr_timer_init(vr_timer_t *t, vr_timer_pt handler, void *data)
{
    t->when_ms = 0;
    t->index = VR_TIMER_IDLE;
    t->handler = handler;
    t->data = data;
}

static void
vr_heap_set(vr_loop_t *l, size_t i, vr_timer_t *t)
{
    l->heap[i] = t;
    t->index = i;
}

static void
vr_heap_up(vr_loop_t *l, size_t i)
{
    vr_timer_t *t = l->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (l->heap[parent]->when_ms <= t->when_ms) {
            break;
        }
        vr_heap_set(l, i, l->heap[parent]);
        i = parent;
    }
    vr_heap_set(l, i, t);
}

static void
vr_heap_down(vr_loop_t *l, size_t i)
{
    vr_timer_t *t = l->heap[i];

    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= l->ntimers) {
            break;
        }
        if (c + 1 < l->ntimers && l->heap[c + 1]->when_ms < l->heap[c]->when_ms) {
            c++;
        }
        if (t->when_ms <= l->heap[c]->when_ms) {
            break;
        }
        vr_heap_set(l, i, l->heap[c]);
        i = c;
    }
    vr_heap_set(l, i, t);
}

void
vr_timer_del(vr_loop_t *l, vr_timer_t *t)
{
    size_t      i = t->index;
    vr_timer_t *last;

    if (i == VR_TIMER_IDLE) {
        return;
    }
    t->index = VR_TIMER_IDLE;
    last = l->heap[--l->ntimers];
    if (last == t) {
        return;
    }
    vr_heap_set(l, i, last);
    if (i > 0 && l->heap[(i - 1) / 2]->when_ms > last->when_ms) {
        vr_heap_up(l, i);
    } else {
        vr_heap_down(l, i);
    }
}

void
vr_timer_at(vr_loop_t *l, vr_timer_t *t, vr_msec_t when_ms)
{
    vr_timer_del(l, t);
    if (l->ntimers == l->heap_cap) {
        l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
        l->heap = vr_realloc(l->heap, l->heap_cap * sizeof(vr_timer_t *));
    }
    t->when_ms = when_ms;
    vr_heap_set(l, l->ntimers++, t);
    vr_heap_up(l, t->index);
}

void
vr_timer_add(vr_loop_t *l, vr_timer_t *t, vr_msec_t delay_ms)
{
    /* At least 1 ms: a handler that re-arms itself with 0 must not fire
     * again in the same turn (the clock does not move within a turn). */
    vr_timer_at(l, t, vr_now_ms + vr_max(delay_ms, 1));
}

size_t
vr_loop_timers(const vr_loop_t *l)
{
    return l->ntimers;
}

static void
vr_loop_fire_timers(vr_loop_t *l)
{
    while (l->ntimers > 0 && l->heap[0]->when_ms <= vr_now_ms) {
        vr_timer_t *t = l->heap[0];
        vr_timer_del(l, t);
        t->handler(t);
    }
}

/* ---- the turn --------------------------------------------------------- */

static long
vr_loop_timeout(vr_loop_t *l)
{
    vr_msec_t wait = -1;

    for (size_t i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].prepare != NULL) {
            vr_msec_t w = l->hooks[i].prepare(l->hooks[i].data);
            if (w >= 0 && (wait < 0 || w < wait)) {
                wait = w;
            }
        }
    }
    if (l->ntimers > 0) {
        vr_msec_t w = vr_max(l->heap[0]->when_ms - vr_now_ms, 0);
        if (wait < 0 || w < wait) {
            wait = w;
        }
    }
    if (l->again) {
        wait = 0;
    }
    return (long) wait;
}

static void
vr_loop_run_deferred(vr_loop_t *l)
{
    /* A deferred free may defer more; run until none is left. */
    for (size_t i = 0; i < l->ndeferred; i++) {
        l->deferred[i].fn(l->deferred[i].p);
    }
    l->ndeferred = 0;
}

/* Runs the handlers of the descriptors that epoll said are ready. */
static void
vr_loop_dispatch_fds(vr_loop_t *l, struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        vr_watch_t *w = ev[i].data.ptr;
        short       revents = 0;

        if (ev[i].data.ptr == &vr_loop_zmq_fd || w->dead) {
            continue;
        }
        revents |= ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)
                   ? ZMQ_POLLIN : 0;
        revents |= ev[i].events & EPOLLOUT ? ZMQ_POLLOUT : 0;
        revents |= ev[i].events & EPOLLERR ? ZMQ_POLLERR : 0;
        revents |= ev[i].events & (EPOLLHUP | EPOLLRDHUP) ? VR_POLLHUP : 0;
        w->handler(w->data, revents);
    }
    if (n == VR_LOOP_EPOLL_BATCH) {
        l->again = true;            /* more may be ready: no sleep */
    }
}

/* Every socket's handler, last in the turn (see the top of the file). */
static void
vr_loop_run_sockets(vr_loop_t *l)
{
    /* sockets[i] is stable during the turn: removal only marks, and a
     * socket added by a handler runs from the next turn on. */
    for (size_t i = 0, n = l->nsockets; i < n; i++) {
        if (!l->sockets[i].dead) {
            l->sockets[i].handler(l->sockets[i].data, ZMQ_POLLIN);
        }
    }
}

int
vr_loop_turn(vr_loop_t *l, vr_msec_t max_wait_ms)
{
    struct epoll_event ev[VR_LOOP_EPOLL_BATCH];
    long               timeout;
    int                n;

    if (l->compact) {
        vr_loop_compact(l);
    }
    timeout = vr_loop_timeout(l);
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) {
        timeout = (long) max_wait_ms;
    }
    l->again = false;

    n = epoll_wait(l->epfd, ev, VR_LOOP_EPOLL_BATCH, (int) timeout);
    vr_clock_update();
    if (n < 0) {
        if (errno == EINTR) {
            return VR_OK;
        }
        vr_log_error("epoll_wait() failed: %s", strerror(errno));
        return VR_ERROR;
    }
    vr_loop_dispatch_fds(l, ev, n);
    vr_loop_fire_timers(l);
    for (size_t i = 0; i < l->nhooks; i++) {
        if (l->hooks[i].run != NULL) {
            l->hooks[i].run(l->hooks[i].data);
        }
    }
    vr_loop_run_sockets(l);
    vr_loop_run_deferred(l);
    vr_loop_free_dead(l);
    return VR_OK;
}

int
vr_loop_run(vr_loop_t *l)
{
    while (!l->stop) {
        if (vr_loop_turn(l, -1) != VR_OK) {
            return VR_ERROR;
        }
    }
    l->stop = false;
    return VR_OK;
}
