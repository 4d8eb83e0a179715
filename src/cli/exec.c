/*
 * exec.c: `voidrail dealer --exec "CMD" --service NAME`: any program as a
 * worker, over JSON Lines on its stdin and stdout.
 *
 * The line protocol (voidrail-dealer(1)):
 *
 *   program -> us, first line: {"methods": {NAME: {"description": ...,
 *       "params": {...}, "stream": true|false}, ...}, "cancel": false}
 *   us -> program, one line per request:
 *       {"id": 7, "method": "NAME", "args": [...], "kwargs": {...}}
 *   program -> us, one or more lines per request, matched by id:
 *       {"id": 7, "chunk": VALUE}     a stream chunk (any number)
 *       {"id": 7, "result": VALUE}    the result (ends the request)
 *       {"id": 7, "end": true}        the end of a stream (ends it)
 *       {"id": 7, "error": "TEXT"}    a failure (ends it)
 *   us -> program, only if it declared "cancel": true:
 *       {"id": 7, "cancel": true}     the caller gave up on request 7
 *
 * Each method is served as NAME.method by a libvoidrail dealer whose
 * handlers write the request and wait for its lines.  A reader thread
 * files the program's lines by id.  When the program exits, every request
 * it held ends with an error and the program is started again (the pause
 * grows while it keeps dying).  Values pass through as written.
 */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <utlist.h>

#include "vr_json.h"
#include "voidrail.h"
#include "exec.h"

/* ---- the handler ------------------------------------------------------- */

/*
 * Writes a whole line to the program; while its input is full, waits
 * (and gives up before the line starts when the job is cancelled: the
 * dealer is stopping or the caller gone).  -1 when the program is not
 * there or not reading.
 */
static int
vr_exec_write(vr_exec_t *e, vr_job_t *job, const char *text, size_t len)
{
    size_t total = len;
    int    rc = 0;

    pthread_mutex_lock(&e->write_lock);
    if (e->to_fd < 0) {
        rc = -1;
    }
    while (rc == 0 && len > 0) {
        ssize_t n = write(e->to_fd, text, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = { e->to_fd, POLLOUT, 0 };
            if (len == total && vr_job_cancelled(job)) {
                rc = -1;        /* half a line would spoil the next one */
            } else {
                poll(&p, 1, 100);
            }
            continue;
        }
        if (n <= 0) {
            rc = -1;
            break;
        }
        text += n;
        len -= (size_t) n;
    }
    pthread_mutex_unlock(&e->write_lock);
    return rc;
}

/* Acts on one line for the request; true when it ended it (*rc set). */
static bool
vr_exec_answer(vr_job_t *job, vr_exec_line_t *l, int *rc)
{
    vr_json_field_t f[4] = { { "chunk", NULL, 0, 0 },
                             { "result", NULL, 0, 0 },
                             { "error", NULL, 0, 0 },
                             { "end", NULL, 0, 0 } };
    vr_buf_t        text = VR_BUF_INIT;

    vr_json_fields(l->text, l->len, f, 4, false);
    if (f[0].kind != VR_JSON_NONE) {
        vr_buf_add(&text, f[0].value, f[0].len);
        vr_job_emit(job, text.p);
        vr_buf_free(&text);
        return false;
    }
    if (f[1].kind != VR_JSON_NONE) {
        vr_buf_add(&text, f[1].value, f[1].len);
        *rc = vr_job_result(job, text.p);
    } else if (f[2].kind == VR_JSON_STRING
               && vr_json_unescape(f[2].value, f[2].len, &text) == VR_OK) {
        *rc = vr_job_error(job, text.p);
    } else if (f[2].kind != VR_JSON_NONE) {
        vr_buf_add(&text, f[2].value, f[2].len);
        *rc = vr_job_error(job, text.p);
    } else if (f[3].kind != VR_JSON_NONE) {
        *rc = VR_OK;
    } else {
        fprintf(stderr, "voidrail dealer: a line of the program without "
                "chunk, result, error or end was ignored: %.200s\n", l->text);
        return false;
    }
    vr_buf_free(&text);
    return true;
}

static int
vr_exec_handle(vr_job_t *job, void *data)
{
    vr_exec_t       *e = data;
    vr_exec_wait_t   w;
    vr_exec_line_t  *l;
    vr_buf_t         req = VR_BUF_INIT;
    char             line[96];
    struct timespec  ts;
    bool             ended = false, cancel_sent = false;
    int              rc = VR_ERROR;

    memset(&w, 0, sizeof(w));
    pthread_cond_init(&w.cond, NULL);
    pthread_mutex_lock(&e->lock);
    if (e->pid == 0) {
        pthread_mutex_unlock(&e->lock);
        pthread_cond_destroy(&w.cond);
        return vr_job_error(job, "the worker program is not running (it is "
                            "being started again)");
    }
    w.id = ++e->next_id;
    DL_APPEND(e->waits, &w);
    pthread_mutex_unlock(&e->lock);

    vr_buf_printf_b(&req, "{\"id\": %lld, \"method\": ", w.id);
    vr_json_escape(&req, vr_job_method(job), strlen(vr_job_method(job)));
    vr_buf_printf_b(&req, ", \"args\": %s, \"kwargs\": %s}\n",
                    vr_job_args(job), vr_job_kwargs(job));
    if (vr_exec_write(e, job, req.p, req.len) != 0) {
        vr_job_error(job, "the worker program does not read its input");
        ended = true;
    }
    vr_buf_free(&req);

    pthread_mutex_lock(&e->lock);
    while (!ended) {
        if (w.head != NULL) {
            l = w.head;
            w.head = l->next;
            if (w.head == NULL) {
                w.tail = NULL;
            }
            pthread_mutex_unlock(&e->lock);
            ended = vr_exec_answer(job, l, &rc);
            free(l);
            pthread_mutex_lock(&e->lock);
            continue;
        }
        if (w.dead) {
            rc = vr_job_error(job, w.why);
            break;
        }
        if (vr_job_cancelled(job)) {
            /* The caller is gone: tell a program that listens, then go. */
            if (e->cancel && !cancel_sent) {
                pthread_mutex_unlock(&e->lock);
                int n = snprintf(line, sizeof(line), "{\"id\": %lld, "
                                 "\"cancel\": true}\n", w.id);
                vr_exec_write(e, job, line, (size_t) n);
                pthread_mutex_lock(&e->lock);
                cancel_sent = true;
            }
            rc = vr_job_error(job, "cancelled");
            break;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w.cond, &e->lock, &ts);
    }
    DL_DELETE(e->waits, &w);
    while ((l = w.head) != NULL) {
        w.head = l->next;
        free(l);
    }
    pthread_mutex_unlock(&e->lock);
    pthread_cond_destroy(&w.cond);
    return rc;
}

/* ---- the command ------------------------------------------------------- */

static vr_dealer_t *
vr_exec_dealer(vr_exec_t *e)
{
    const vr_cli_exec_t *x = e->x;
    vr_dealer_t         *d = vr_dealer_new(x->endpoint, x->service);
    json_t              *methods = json_object_get(e->decl, "methods"), *m;
    const char          *name;

    if (d == NULL) {
        return NULL;
    }
    json_object_foreach(methods, name, m) {
        json_t          *params = json_object_get(m, "params");
        json_t          *meta = json_object_get(m, "metadata");
        char            *ptext = json_is_object(params)
                                 ? json_dumps(params, JSON_ENSURE_ASCII) : NULL;
        char            *mtext = json_is_object(meta)
                                 ? json_dumps(meta, JSON_ENSURE_ASCII) : NULL;
        vr_method_def_t  def = {
            name, vr_exec_handle,
            json_string_value(json_object_get(m, "description")),
            ptext, json_is_true(json_object_get(m, "stream")), mtext
        };
        int rc = vr_dealer_add_def(d, &def, e);

        free(ptext);
        free(mtext);
        if (rc != VR_OK) {
            fprintf(stderr, "voidrail dealer: cannot serve method %s\n",
                    name);
            vr_dealer_destroy(&d);
            return NULL;
        }
    }
    vr_dealer_set_log(d, x->level, NULL, NULL);
    vr_dealer_set_max_concurrent(d, x->max_concurrent);
    vr_dealer_set_heartbeat(d, x->heartbeat_ms);
    vr_dealer_set_stop_timeout(d, x->stop_timeout_ms);
    vr_dealer_set_cancel(d, 1);
    if (x->api_key != NULL) {
        vr_dealer_set_api_key(d, x->api_key);
    }
    return d;
}

/*
 * While the dealer stops: a program that still holds the handlers after
 * the stop timeout (and 2 s more) is killed, so that they end.
 */
typedef struct {
    vr_exec_t       *e;
    int              after_ms;
    bool             done;
    pthread_mutex_t  lock;
    pthread_cond_t   cond;
} vr_exec_watch_t;

static void *
vr_exec_watchdog(void *arg)
{
    vr_exec_watch_t *w = arg;
    struct timespec  ts;
    pid_t            pid;
    int              rc = 0;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += w->after_ms / 1000;
    ts.tv_nsec += (long) (w->after_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&w->lock);
    while (!w->done && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    if (rc == ETIMEDOUT) {
        pthread_mutex_lock(&w->e->lock);
        pid = w->e->pid;
        pthread_mutex_unlock(&w->e->lock);
        if (pid != 0) {
            fprintf(stderr, "voidrail dealer: the program (pid %ld) holds "
                    "requests past the stop timeout; killing it\n",
                    (long) pid);
            kill(-pid, SIGKILL);
        }
    }
    return NULL;
}

int
vr_cli_exec_run(const vr_cli_exec_t *x)
{
    vr_exec_t               e;
    vr_dealer_t            *d;
    int                     rc = 0;

    memset(&e, 0, sizeof(e));
    e.x = x;
    e.to_fd = e.from_fd = -1;
    pthread_mutex_init(&e.lock, NULL);
    pthread_mutex_init(&e.write_lock, NULL);
    vr_cli_block_stop_signals();        /* before any thread */

    if (vr_exec_spawn(&e) != 0) {
        return 1;
    }
    if (vr_exec_hello(&e) != VR_OK) {
        kill(-e.pid, SIGKILL);
        vr_exec_reap(&e, e.pid);
        vr_exec_close_input(&e);
        close(e.from_fd);
        free(e.rbuf);
        return 1;
    }
    pthread_create(&e.reader, NULL, vr_exec_reader, &e);
    d = vr_exec_dealer(&e);
    if (d == NULL || vr_dealer_start(d) != VR_OK) {
        fprintf(stderr, "voidrail dealer: cannot serve %s at %s\n",
                x->service, x->endpoint);
        rc = 1;
    } else {
        fprintf(stderr, "voidrail dealer: signal %d: stopping\n",
                vr_cli_wait_stop());
    }
    vr_exec_watch_t w = { &e, x->stop_timeout_ms + 2000, false,
                          PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER };
    pthread_t       watchdog;
    pthread_create(&watchdog, NULL, vr_exec_watchdog, &w);
    vr_dealer_destroy(&d);      /* waits for the handlers */
    pthread_mutex_lock(&w.lock);
    w.done = true;
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    pthread_join(watchdog, NULL);
    vr_exec_stop(&e);
    json_decref(e.decl);
    free(e.declared);
    free(e.rbuf);
    pthread_mutex_destroy(&e.lock);
    pthread_mutex_destroy(&e.write_lock);
    return rc;
}
