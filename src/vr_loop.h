/*
 * vr_loop.h: the one event loop of the gateway.
 *
 * epoll over ZeroMQ sockets (by their ZMQ_FD) and plain file descriptors,
 * a heap of timers, and hooks that run on every turn (for libmicrohttpd,
 * which wants its own timeout before the wait and MHD_run after it).
 * Everything the gateway owns is touched only from this thread.
 */
#ifndef VR_LOOP_H
#define VR_LOOP_H

#include "vr_core.h"

/* Milliseconds of the monotonic clock, refreshed once per loop turn. */
extern vr_msec_t vr_now_ms;

/* Reads the monotonic clock now (and refreshes vr_now_ms). */
vr_msec_t vr_clock_update(void);

/* Milliseconds since the epoch (wall clock), for display only. */
int64_t vr_wall_ms(void);

typedef void (*vr_io_pt)(void *data, short revents);
typedef void (*vr_timer_pt)(vr_timer_t *t);

struct vr_timer_s {
    vr_msec_t    when_ms;
    size_t       index;         /* position in the heap, or VR_TIMER_IDLE */
    vr_timer_pt  handler;
    void        *data;
};

#define VR_TIMER_IDLE  ((size_t) -1)

/*
 * A hook runs on every turn: prepare() before the wait returns how long
 * the loop may sleep at most for this hook (-1: no limit), run() after it.
 * Either may be NULL.
 */
typedef struct {
    vr_msec_t (*prepare)(void *data);
    void      (*run)(void *data);
    void       *data;
} vr_loop_hook_t;

/* Creates an empty loop; never NULL. */
vr_loop_t *vr_loop_new(void);

/* Frees the loop (not the sockets, fds or timers registered); NULL-safe. */
void vr_loop_destroy(vr_loop_t **lp);

/*
 * An fd event besides ZMQ_POLLIN / ZMQ_POLLOUT / ZMQ_POLLERR: the peer of
 * a socket hung up (closed or shut down its side, or reset).  Watched
 * alone, it does not wake the loop for data that waits unread.
 */
#define VR_POLLHUP  0x100

/*
 * Watches a ZeroMQ socket or a file descriptor for events (ZMQ_POLLIN /
 * ZMQ_POLLOUT, VR_POLLHUP for an fd); handler(data, revents) runs when any
 * fires.  A socket or fd is registered at most once; adding it again
 * replaces the entry.
 *
 * A ZeroMQ socket is watched for reading only (events: ZMQ_POLLIN): its
 * handler runs at the end of every turn, with ZMQ_POLLIN, whether or not
 * a message waits, and must receive with ZMQ_DONTWAIT until EAGAIN, or
 * call vr_loop_again() when it stops early (a bounded batch).  Nothing
 * else may use the socket after its handler in a turn (hooks' prepare()
 * and deferred frees leave it alone), or the loop could sleep with
 * messages waiting.
 */
void vr_loop_add_socket(vr_loop_t *l, void *socket, short events,
                        vr_io_pt handler, void *data);
void vr_loop_add_fd(vr_loop_t *l, int fd, short events,
                    vr_io_pt handler, void *data);

/* Stops watching; safe to call from inside a handler. */
void vr_loop_del_socket(vr_loop_t *l, void *socket);
void vr_loop_del_fd(vr_loop_t *l, int fd);

/* Adds a hook (copied); returns VR_OK. Hooks run in the order added. */
int vr_loop_add_hook(vr_loop_t *l, const vr_loop_hook_t *hook);
void vr_loop_del_hook(vr_loop_t *l, void *data);

/* Makes the next wait not sleep (a handler stopped early with work left). */
void vr_loop_again(vr_loop_t *l);

void vr_timer_init(vr_timer_t *t, vr_timer_pt handler, void *data);

/* Arms t to fire after delay_ms, at least 1 (re-arms it if armed). */
void vr_timer_add(vr_loop_t *l, vr_timer_t *t, vr_msec_t delay_ms);

/* Arms t to fire at the absolute monotonic time when_ms. */
void vr_timer_at(vr_loop_t *l, vr_timer_t *t, vr_msec_t when_ms);

/* Disarms t; a no-op when t is not armed. */
void vr_timer_del(vr_loop_t *l, vr_timer_t *t);

static inline bool
vr_timer_armed(const vr_timer_t *t)
{
    return t->index != VR_TIMER_IDLE;
}

/* Number of armed timers (for statistics and tests). */
size_t vr_loop_timers(const vr_loop_t *l);

/*
 * Runs until vr_loop_stop() (at once if it was called before).  Returns
 * VR_OK, or VR_ERROR when epoll_wait fails for a reason other than EINTR
 * (logged).
 */
int vr_loop_run(vr_loop_t *l);

/*
 * Runs one turn, sleeping at most max_wait_ms (-1: as long as timers and
 * hooks allow).  For tests and embedders; VR_OK or VR_ERROR as above.
 */
int vr_loop_turn(vr_loop_t *l, vr_msec_t max_wait_ms);

/* Makes vr_loop_run() return after the current turn. */
void vr_loop_stop(vr_loop_t *l);

/* Frees p with fn(p) at the end of the current turn, after all handlers. */
void vr_loop_defer_free(vr_loop_t *l, void (*fn)(void *), void *p);

#endif /* VR_LOOP_H */
