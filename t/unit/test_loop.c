/*
 * test_loop.c: unit tests of src/vr_loop.h: timers (order, re-arming,
 * deletion, a random workout of the heap), fd watches (hang-ups alone
 * too) and socket watches, handlers that change the loop, hooks,
 * max_wait, deferred frees and vr_loop_stop.
 */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_loop.h"
#include "tap.h"

#define NTIMERS  2000
#define NOPS     10000
/* The model's mark of a timer not armed: deadlines themselves may be
 * negative (the monotonic clock starts near 0 at boot). */
#define UNARMED  INT64_MIN

static vr_loop_t *loop;

/* ---- a log of events ---------------------------------------------------- */

static int      fired[NOPS * 2];
static size_t   nfired;

static void
on_timer(vr_timer_t *t)
{
    if (nfired < vr_nelems(fired)) {
        fired[nfired] = (int) (intptr_t) t->data;
    }
    nfired++;
}

static vr_msec_t
elapsed_since(vr_msec_t start)
{
    return vr_clock_update() - start;
}

/* Runs turns until cond() or limit ms passed. */
static void
turn_until(bool (*cond)(void), vr_msec_t limit)
{
    vr_msec_t start = vr_clock_update();

    while (!cond() && elapsed_since(start) < limit) {
        vr_loop_turn(loop, 10);
    }
}

/* ---- timers ----------------------------------------------------------- */

static bool five_fired(void) { return nfired >= 5; }

static void
test_timer_order(void)
{
    vr_timer_t t[5];
    static const int delays[5] = { 30, 10, 20, 0, 40 };
    vr_msec_t  start;

    nfired = 0;
    vr_clock_update();
    for (int i = 0; i < 5; i++) {
        vr_timer_init(&t[i], on_timer, (void *) (intptr_t) delays[i]);
        ok(!vr_timer_armed(&t[i]), "timer %d idle after init", i);
    }
    start = vr_now_ms;
    for (int i = 0; i < 5; i++) {
        vr_timer_add(loop, &t[i], delays[i]);
    }
    is_int(vr_loop_timers(loop), 5, "five timers armed");
    ok(vr_timer_armed(&t[0]) && t[0].when_ms == start + 30,
       "vr_timer_add arms at now + delay");
    turn_until(five_fired, 2000);
    is_int(nfired, 5, "all five fired");
    ok(fired[0] == 0 && fired[1] == 10 && fired[2] == 20 && fired[3] == 30
       && fired[4] == 40, "in the order of their deadlines");
    ok(elapsed_since(start) >= 40, "not before the last deadline");
    is_int(vr_loop_timers(loop), 0, "none armed any more");
    ok(!vr_timer_armed(&t[4]), "a fired timer is idle");

    /* Re-arming an armed timer moves it, it is not added twice. */
    nfired = 0;
    vr_timer_add(loop, &t[0], 1000);
    vr_timer_add(loop, &t[0], 5);
    is_int(vr_loop_timers(loop), 1, "re-arming an armed timer keeps one entry");
    start = vr_now_ms;
    turn_until(five_fired, 100);
    is_int(nfired, 1, "it fires once, at the new deadline");
    ok(elapsed_since(start) < 900, "... not at the old one");

    /* Deleting. */
    nfired = 0;
    vr_timer_del(loop, &t[1]);
    ok(!vr_timer_armed(&t[1]), "deleting an idle timer is a no-op");
    vr_timer_at(loop, &t[1], vr_now_ms - 5);
    vr_timer_at(loop, &t[2], vr_now_ms - 5);
    vr_timer_del(loop, &t[1]);
    ok(!vr_timer_armed(&t[1]) && vr_timer_armed(&t[2]),
       "vr_timer_del disarms only that timer");
    is_int(vr_loop_timers(loop), 1, "one left armed");
    vr_loop_turn(loop, 0);
    ok(nfired == 1 && fired[0] == 20, "the deleted timer does not fire");
}

/* Re-arms itself until it fired `limit` times. */
static int rearm_count;

static void
on_rearm(vr_timer_t *t)
{
    if (++rearm_count < 3) {
        vr_timer_add(loop, t, 2);
    }
}

static bool rearm_done(void) { return rearm_count >= 3; }

/* A timer that deletes the timers listed in victims (NULL-terminated). */
typedef struct {
    vr_timer_t    t;                /* first: the handler gets &t */
    vr_timer_t  **victims;
} killer_t;

static void
on_delete_others(vr_timer_t *t)
{
    killer_t *k = (killer_t *) t;

    on_timer(t);
    for (vr_timer_t **o = k->victims; *o != NULL; o++) {
        vr_timer_del(loop, *o);
    }
}

static void
test_timer_handlers(void)
{
    vr_timer_t  t, many[64], *victims[33];
    killer_t    k;
    vr_msec_t   now = vr_clock_update();
    int         wrong = 0;

    /* A handler that re-arms its own timer. */
    rearm_count = 0;
    vr_timer_init(&t, on_rearm, NULL);
    vr_timer_add(loop, &t, 1);
    turn_until(rearm_done, 2000);
    is_int(rearm_count, 3, "a handler re-arms its own timer (3 firings)");
    ok(!vr_timer_armed(&t), "and it is idle once it stops re-arming");

    /* A handler that deletes due timers that are behind it in the heap. */
    nfired = 0;
    for (int i = 0; i < 64; i++) {
        vr_timer_init(&many[i], on_timer, (void *) (intptr_t) (i + 1));
        vr_timer_at(loop, &many[i], now - 100 + (i * 37) % 64);
    }
    for (int i = 0; i < 32; i++) {
        victims[i] = &many[2 * i + 1];  /* the odd ones */
    }
    victims[32] = NULL;
    vr_timer_init(&k.t, on_delete_others, (void *) (intptr_t) 1000);
    k.victims = victims;
    vr_timer_at(loop, &k.t, now - 1000);  /* the first to fire */
    vr_loop_turn(loop, 0);
    is_int(nfired, 33, "the killer and the 32 timers it spared fired");
    ok(fired[0] == 1000, "the killer fired first");
    for (size_t i = 1; i < nfired && i < 33; i++) {
        int id = fired[i];
        if (id < 1 || id > 64 || (id - 1) % 2 != 0) {
            wrong++;
        }
    }
    is_int(wrong, 0, "no deleted timer fired");
    is_int(vr_loop_timers(loop), 0, "nothing left armed");
}

/* Random inserts, re-arms and deletes, checked against a model. */
static void
test_timer_heap(void)
{
    static vr_timer_t t[NTIMERS];
    static vr_msec_t  when[NTIMERS];        /* model: deadline, or UNARMED */
    static int        seen[NTIMERS];
    unsigned          seed = 42;
    vr_msec_t         base;
    size_t            armed = 0, order_errors = 0, state_errors = 0;
    int               count_errors = 0;

    vr_clock_update();
    base = vr_now_ms - 1000000;
    for (int i = 0; i < NTIMERS; i++) {
        vr_timer_init(&t[i], on_timer, (void *) (intptr_t) i);
        when[i] = UNARMED;
    }
    for (int op = 0; op < NOPS; op++) {
        int i;

        seed = seed * 1103515245 + 12345;
        i = (int) ((seed >> 8) % NTIMERS);
        seed = seed * 1103515245 + 12345;
        if ((seed >> 8) % 3 == 0) {
            vr_timer_del(loop, &t[i]);
            armed -= when[i] != UNARMED;
            when[i] = UNARMED;
        } else {
            /* Few distinct deadlines, so that ties happen too. */
            seed = seed * 1103515245 + 12345;
            armed += when[i] == UNARMED;
            when[i] = base + (vr_msec_t) ((seed >> 8) % 5000);
            vr_timer_at(loop, &t[i], when[i]);
        }
        if (vr_loop_timers(loop) != armed) {
            count_errors++;
        }
        if (vr_timer_armed(&t[i]) != (when[i] != UNARMED)) {
            state_errors++;
        }
    }
    is_int(count_errors, 0, "%d random ops: vr_loop_timers() follows", NOPS);
    is_int(state_errors, 0, "vr_timer_armed() follows");

    /* Half of the armed ones move into the future. */
    for (int i = 0; i < NTIMERS; i += 2) {
        if (when[i] != UNARMED) {
            when[i] = vr_now_ms + 1000000 + i;
            vr_timer_at(loop, &t[i], when[i]);
        }
    }
    nfired = 0;
    vr_loop_turn(loop, 0);
    memset(seen, 0, sizeof(seen));
    for (size_t k = 0; k < nfired; k++) {
        int i = fired[k];
        seen[i]++;
        if (k > 0 && when[fired[k - 1]] > when[i]) {
            order_errors++;
        }
    }
    is_int(order_errors, 0, "%zu due timers fired in deadline order", nfired);
    for (int i = 0; i < NTIMERS; i++) {
        int expect = when[i] != UNARMED && i % 2 == 1;
        if (seen[i] != expect || vr_timer_armed(&t[i]) != (when[i] != UNARMED && !expect)) {
            state_errors++;
        }
    }
    is_int(state_errors, 0, "exactly the due ones fired, once each; the "
           "future ones stay armed");
    for (int i = 0; i < NTIMERS; i += 2) {
        vr_timer_del(loop, &t[i]);
    }
    is_int(vr_loop_timers(loop), 0, "all deleted");
    ok(nfired > 100, "the workout fired a fair number (%zu)", nfired);
}

/* ---- watches ---------------------------------------------------------- */

typedef struct {
    int     fd;
    int     calls;
    short   revents;
    bool    drain;
} io_t;

static void
on_io(void *data, short revents)
{
    io_t *io = data;
    char  buf[64];

    io->calls++;
    io->revents = revents;
    if (io->drain && (revents & ZMQ_POLLIN)) {
        if (read(io->fd, buf, sizeof(buf)) < 0) {
            diag("read failed");
        }
    }
}

static void
on_io_other(void *data, short revents)
{
    io_t *io = data;
    io->calls += 100;
}

static void
test_fd_watches(void)
{
    int       p[2];
    io_t      r = { 0, 0, 0, true }, w = { 0, 0, 0, false };
    vr_msec_t start;

    if (pipe(p) != 0) {
        ok(0, "pipe()");
        return;
    }
    r.fd = p[0];
    w.fd = p[1];
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io, &r);
    start = vr_clock_update();
    vr_loop_turn(loop, 30);
    is_int(r.calls, 0, "an empty pipe: no call");
    ok(elapsed_since(start) >= 25, "the turn waited for max_wait (30ms)");

    if (write(p[1], "x", 1) != 1) {
        diag("write failed");
    }
    vr_loop_turn(loop, 1000);
    ok(r.calls == 1 && (r.revents & ZMQ_POLLIN), "data in the pipe: handler "
       "called with ZMQ_POLLIN");
    vr_loop_turn(loop, 0);
    is_int(r.calls, 1, "drained: not called again");

    /* Adding the same fd again replaces the entry. */
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io_other, &r);
    if (write(p[1], "y", 1) != 1) {
        diag("write failed");
    }
    vr_loop_turn(loop, 1000);
    is_int(r.calls, 101, "re-adding an fd replaces its handler (called once)");
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io, &r);
    vr_loop_turn(loop, 0);
    is_int(r.calls, 102, "back to the first handler, which drains");

    /* POLLOUT on the write end. */
    vr_loop_add_fd(loop, p[1], ZMQ_POLLOUT, on_io, &w);
    vr_loop_turn(loop, 1000);
    ok(w.calls == 1 && (w.revents & ZMQ_POLLOUT), "the write end is writable");
    vr_loop_del_fd(loop, p[1]);

    /* Deleting stops the calls, even with data waiting. */
    vr_loop_del_fd(loop, p[0]);
    if (write(p[1], "z", 1) != 1) {
        diag("write failed");
    }
    r.calls = 0;
    vr_loop_turn(loop, 20);
    is_int(r.calls, 0, "a deleted fd watch is not called");
    vr_loop_del_fd(loop, p[0]);     /* twice: harmless */
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io, &r);
    vr_loop_turn(loop, 1000);
    is_int(r.calls, 1, "added back after deletion: called again");
    vr_loop_del_fd(loop, p[0]);
    vr_loop_turn(loop, 0);
    close(p[0]);
    close(p[1]);
}

/* VR_POLLHUP alone: data waiting unread wakes nothing, a hang-up does. */
static void
test_fd_hangup(void)
{
    int  sv[2];
    io_t h = { 0, 0, 0, false };

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        ok(0, "socketpair()");
        return;
    }
    h.fd = sv[0];
    vr_loop_add_fd(loop, sv[0], VR_POLLHUP, on_io, &h);
    if (write(sv[1], "more", 4) != 4) {
        diag("write failed");
    }
    vr_loop_turn(loop, 20);
    vr_loop_turn(loop, 20);
    is_int(h.calls, 0, "VR_POLLHUP: bytes waiting unread call nothing");
    close(sv[1]);
    vr_loop_turn(loop, 1000);
    ok(h.calls == 1 && (h.revents & VR_POLLHUP), "the peer's close calls "
       "the handler with VR_POLLHUP, the bytes still unread");
    vr_loop_del_fd(loop, sv[0]);
    vr_loop_turn(loop, 0);
    close(sv[0]);
}

/* Handlers that change the set of watches while the turn runs. */
#define NPIPES 4
#define NEXTRA 20

static int     pipes[NPIPES][2];
static io_t    ios[NPIPES];
static io_t    extra[NEXTRA];
static int     extra_fd[NEXTRA];
static int     extra_pipe[2];

static void
on_io_mutating(void *data, short revents)
{
    io_t *io = data;

    on_io(data, revents);
    if (io == &ios[0]) {
        /* Many new watches: the table must grow under the turn. */
        for (int i = 0; i < NEXTRA; i++) {
            extra[i] = (io_t) { extra_pipe[0], 0, 0, false };
            extra_fd[i] = dup(extra_pipe[0]);
            vr_loop_add_fd(loop, extra_fd[i], ZMQ_POLLIN, on_io, &extra[i]);
        }
        /* And one later in this turn goes away before its turn. */
        vr_loop_del_fd(loop, pipes[2][0]);
    }
}

static void
test_mutating_handlers(void)
{
    int opened = 0;

    for (int i = 0; i < NPIPES; i++) {
        opened += pipe(pipes[i]) == 0;
        ios[i] = (io_t) { pipes[i][0], 0, 0, true };
    }
    opened += pipe(extra_pipe) == 0;
    if (!ok(opened == NPIPES + 1, "pipes")) {
        return;
    }
    for (int i = 0; i < NPIPES; i++) {
        vr_loop_add_fd(loop, pipes[i][0], ZMQ_POLLIN, on_io_mutating, &ios[i]);
        if (write(pipes[i][1], "a", 1) != 1) {
            diag("write failed");
        }
    }
    if (write(extra_pipe[1], "e", 1) != 1) {
        diag("write failed");
    }
    vr_loop_turn(loop, 1000);
    ok(ios[0].calls == 1 && ios[1].calls == 1 && ios[3].calls == 1,
       "every ready watch ran although the first added %d more", NEXTRA);
    is_int(ios[2].calls, 0, "a watch deleted earlier in the turn did not run");
    is_int(extra[0].calls + extra[NEXTRA - 1].calls, 0,
           "watches added during the turn wait for the next one");
    vr_loop_turn(loop, 1000);
    {
        int called = 0;
        for (int i = 0; i < NEXTRA; i++) {
            called += extra[i].calls == 1;
        }
        is_int(called, NEXTRA, "next turn: every added watch ran");
    }
    is_int(ios[2].calls, 0, "the deleted one still does not");

    for (int i = 0; i < NPIPES; i++) {
        vr_loop_del_fd(loop, pipes[i][0]);
        close(pipes[i][0]);
        close(pipes[i][1]);
    }
    for (int i = 0; i < NEXTRA; i++) {
        vr_loop_del_fd(loop, extra_fd[i]);
        close(extra_fd[i]);
    }
    close(extra_pipe[0]);
    close(extra_pipe[1]);
    vr_loop_turn(loop, 0);
}

/* A timer whose handler adds a watch. */
static io_t timer_io;

static void
on_timer_add_watch(vr_timer_t *t)
{
    vr_loop_add_fd(loop, timer_io.fd, ZMQ_POLLIN, on_io, &timer_io);
}

static void
test_timer_adds_watch(void)
{
    int        p[2];
    vr_timer_t t;

    if (!ok(pipe(p) == 0, "pipe")) {
        return;
    }
    timer_io = (io_t) { p[0], 0, 0, true };
    if (write(p[1], "x", 1) != 1) {
        diag("write failed");
    }
    vr_timer_init(&t, on_timer_add_watch, NULL);
    vr_timer_at(loop, &t, vr_now_ms);     /* due now */
    vr_loop_turn(loop, 0);
    is_int(timer_io.calls, 0, "the timer added a watch (not polled this turn)");
    vr_loop_turn(loop, 1000);
    is_int(timer_io.calls, 1, "the watch a timer added runs the next turn");
    vr_loop_del_fd(loop, p[0]);
    vr_loop_turn(loop, 0);
    close(p[0]);
    close(p[1]);
}

static void
on_sock(void *data, short revents)
{
    void     *s = data;
    zmq_msg_t m;

    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) >= 0) {
        ios[0].calls++;
    }
    zmq_msg_close(&m);
}

static void
test_socket_watch(void)
{
    void *ctx = zmq_ctx_new();
    void *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    int   zero = 0;

    zmq_setsockopt(a, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_bind(a, "inproc://test-loop");
    zmq_connect(b, "inproc://test-loop");
    ios[0].calls = 0;
    vr_loop_add_socket(loop, a, ZMQ_POLLIN, on_sock, a);
    vr_loop_turn(loop, 10);
    is_int(ios[0].calls, 0, "a quiet socket: no call");
    zmq_send(b, "hi", 2, 0);
    zmq_send(b, "ho", 2, 0);
    vr_loop_turn(loop, 1000);
    is_int(ios[0].calls, 2, "a socket watch runs when messages wait");
    vr_loop_del_socket(loop, a);
    zmq_send(b, "hu", 2, 0);
    vr_loop_turn(loop, 20);
    is_int(ios[0].calls, 2, "a deleted socket watch does not run");
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

/* Messages that arrive while the loop waits wake it (by ZMQ_FD). */
static void
test_socket_wakeup(void)
{
    void     *ctx = zmq_ctx_new();
    void     *a = zmq_socket(ctx, ZMQ_PAIR), *b = zmq_socket(ctx, ZMQ_PAIR);
    int       zero = 0, woke = 0;
    char      ep[64];
    size_t    len = sizeof(ep);
    vr_msec_t start;

    zmq_setsockopt(a, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(b, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_bind(a, "tcp://127.0.0.1:*");
    zmq_getsockopt(a, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_connect(b, ep);
    ios[0].calls = 0;
    vr_loop_add_socket(loop, a, ZMQ_POLLIN, on_sock, a);
    vr_loop_turn(loop, 0);
    /* Over TCP the message reaches a only after the turn began to wait:
     * a turn that ends before its 10 s is one the message woke. */
    for (int i = 0; i < 20; i++) {
        zmq_send(b, "hi", 2, 0);
        start = vr_now_ms;
        vr_loop_turn(loop, 10000);
        if (ios[0].calls == 0) {
            vr_loop_turn(loop, 10000);      /* the connection was not up */
        }
        woke += ios[0].calls == 1 && vr_now_ms - start < 10000;
        ios[0].calls = 0;
    }
    is_int(woke, 20, "each message wakes the waiting loop and is read");
    vr_loop_del_socket(loop, a);
    vr_loop_turn(loop, 0);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

/* ---- hooks, again, max_wait ------------------------------------------- */

static int hook_log[16];
static int nhook;

static vr_msec_t
hook_prepare(void *data)
{
    return (vr_msec_t) (intptr_t) data;
}

static void
hook_run(void *data)
{
    if (nhook < 16) {
        hook_log[nhook] = (int) (intptr_t) data;
    }
    nhook++;
}

static void
test_hooks(void)
{
    vr_loop_hook_t h1 = { hook_prepare, hook_run, (void *) (intptr_t) 40 };
    vr_loop_hook_t h2 = { NULL, hook_run, (void *) (intptr_t) 7 };
    vr_timer_t     t;
    vr_msec_t      start;

    nhook = 0;
    vr_loop_add_hook(loop, &h1);
    vr_loop_add_hook(loop, &h2);
    h1.data = NULL;                 /* the loop keeps its own copy */
    start = vr_clock_update();
    vr_loop_turn(loop, -1);
    ok(elapsed_since(start) >= 35 && elapsed_since(start) < 1000,
       "prepare() bounds the sleep (40ms)");
    ok(nhook == 2 && hook_log[0] == 40 && hook_log[1] == 7,
       "run() of every hook, in the order added");
    vr_loop_del_hook(loop, (void *) (intptr_t) 40);
    nhook = 0;
    vr_loop_turn(loop, 0);
    ok(nhook == 1 && hook_log[0] == 7, "a deleted hook no longer runs");
    vr_loop_del_hook(loop, (void *) (intptr_t) 7);

    /* max_wait and vr_loop_again. */
    vr_timer_init(&t, on_timer, (void *) (intptr_t) 5);
    vr_timer_add(loop, &t, 500);
    nfired = 0;
    start = vr_clock_update();
    vr_loop_turn(loop, 20);
    ok(elapsed_since(start) < 400 && nfired == 0,
       "max_wait cuts a sleep that a timer would allow");
    vr_loop_again(loop);
    start = vr_clock_update();
    vr_loop_turn(loop, -1);
    ok(elapsed_since(start) < 200 && nfired == 0,
       "after vr_loop_again() the turn does not sleep");
    start = vr_clock_update();
    vr_loop_turn(loop, 0);
    ok(elapsed_since(start) < 200, "max_wait 0: no sleep");
    vr_timer_add(loop, &t, 15);
    start = vr_clock_update();
    vr_loop_turn(loop, -1);
    ok(nfired == 1 && elapsed_since(start) >= 14,
       "max_wait -1: sleeps until the next timer, which fires");
}

/* ---- deferred frees --------------------------------------------------- */

typedef struct {
    int     magic;
    int    *freed;
} obj_t;

static obj_t *deferred_obj;
static int    seen_magic;

static void
free_obj(void *p)
{
    obj_t *o = p;
    (*o->freed)++;
    free(o);
}

static void
free_obj_and_defer(void *p)
{
    obj_t *o = p, *o2 = malloc(sizeof(*o2));

    o2->magic = 2;
    o2->freed = o->freed;
    vr_loop_defer_free(loop, free_obj, o2);
    free_obj(o);
}

static void
on_io_defer(void *data, short revents)
{
    io_t *io = data;
    char  c;

    if (read(io->fd, &c, 1) < 0) {
        diag("read failed");
    }
    vr_loop_defer_free(loop, free_obj_and_defer, deferred_obj);
}

static void
on_timer_use(vr_timer_t *t)
{
    /* Runs after the io handler in the same turn: the object is alive. */
    seen_magic = deferred_obj->magic;
}

static void
test_deferred(void)
{
    int        p[2], freed = 0;
    io_t       io;
    vr_timer_t t;

    if (!ok(pipe(p) == 0, "pipe")) {
        return;
    }
    io = (io_t) { p[0], 0, 0, false };
    deferred_obj = malloc(sizeof(obj_t));
    deferred_obj->magic = 1;
    deferred_obj->freed = &freed;
    seen_magic = 0;
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io_defer, &io);
    vr_timer_init(&t, on_timer_use, NULL);
    vr_timer_at(loop, &t, vr_now_ms);     /* due now */
    if (write(p[1], "x", 1) != 1) {
        diag("write failed");
    }
    vr_loop_turn(loop, 1000);
    is_int(seen_magic, 1, "a deferred object is alive for later handlers of "
           "the turn");
    is_int(freed, 2, "freed at the end of the turn, and what its free "
           "deferred too");
    vr_loop_del_fd(loop, p[0]);
    vr_loop_turn(loop, 0);
    is_int(freed, 2, "nothing is freed twice");

    /* Deferred outside a turn: vr_loop_destroy runs it. */
    {
        vr_loop_t *l2 = vr_loop_new();
        obj_t     *o = malloc(sizeof(*o));
        vr_timer_t t2;

        o->freed = &freed;
        vr_loop_defer_free(l2, free_obj, o);
        vr_timer_init(&t2, on_timer, NULL);
        vr_timer_add(l2, &t2, 1000);
        vr_loop_destroy(&l2);
        ok(l2 == NULL, "vr_loop_destroy clears the pointer");
        is_int(freed, 3, "vr_loop_destroy runs pending deferred frees");
        ok(!vr_timer_armed(&t2), "and leaves its timers idle");
        vr_loop_destroy(&l2);       /* NULL-safe */
    }
    close(p[0]);
    close(p[1]);
}

/* ---- vr_loop_run / vr_loop_stop --------------------------------------- */

static int ticks;

static void
on_tick(vr_timer_t *t)
{
    if (++ticks == 5) {
        vr_loop_stop(loop);
    } else {
        vr_timer_add(loop, t, 1);
    }
}

static void
on_io_stop(void *data, short revents)
{
    io_t *io = data;
    char  c;

    io->calls++;
    if (read(io->fd, &c, 1) < 0) {
        diag("read failed");
    }
    vr_loop_stop(loop);
}

static void
test_run_stop(void)
{
    vr_timer_t t;
    int        p[2];
    io_t       io;

    ticks = 0;
    vr_timer_init(&t, on_tick, NULL);
    vr_timer_add(loop, &t, 1);
    is_int(vr_loop_run(loop), VR_OK, "vr_loop_run returns VR_OK on stop");
    is_int(ticks, 5, "it ran until a timer handler called vr_loop_stop");
    ok(!vr_timer_armed(&t), "the stopping handler did not re-arm");

    if (!ok(pipe(p) == 0, "pipe")) {
        return;
    }
    io = (io_t) { p[0], 0, 0, false };
    vr_loop_add_fd(loop, p[0], ZMQ_POLLIN, on_io_stop, &io);
    if (write(p[1], "x", 1) != 1) {
        diag("write failed");
    }
    is_int(vr_loop_run(loop), VR_OK, "vr_loop_run again (stop is not sticky)");
    is_int(io.calls, 1, "stopped by an io handler after one call");
    vr_loop_del_fd(loop, p[0]);
    vr_loop_turn(loop, 0);
    close(p[0]);
    close(p[1]);
}

static void
test_clock(void)
{
    vr_msec_t a = vr_clock_update(), b;

    ok(vr_now_ms == a, "vr_clock_update refreshes vr_now_ms");
    usleep(20000);
    b = vr_clock_update();
    ok(b - a >= 19 && b - a < 1000, "the monotonic clock moves (%lld ms)",
       (long long) (b - a));
    ok(vr_wall_ms() > 1577836800000LL, "vr_wall_ms is after 2020");
}

int
main(void)
{
    loop = vr_loop_new();
    test_clock();
    test_timer_order();
    test_timer_handlers();
    test_timer_heap();
    test_fd_watches();
    test_fd_hangup();
    test_mutating_handlers();
    test_timer_adds_watch();
    test_socket_watch();
    test_socket_wakeup();
    test_hooks();
    test_deferred();
    test_run_stop();
    is_int(vr_loop_timers(loop), 0, "no timer left armed at the end");
    vr_loop_destroy(&loop);
    return done_testing();
}
