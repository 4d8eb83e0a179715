/*
 * exec_proc.c: the program of `voidrail dealer --exec`: starting it with
 * pipes, reading its method list and its lines, filing each line under
 * the request it names, starting it again when it dies, and stopping it.
 * The line protocol is described in exec.c and voidrail-dealer(1).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utlist.h>

#include "vr_json.h"
#include "voidrail.h"
#include "exec.h"

extern char **environ;

long long
vr_exec_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the program ------------------------------------------------------- */

int
vr_exec_spawn(vr_exec_t *e)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t          attr;
    sigset_t                   none, dfl;
    int                        in[2], out[2], rc;
    pid_t                      pid;
    char                      *argv[] = { "/bin/sh", "-c",
                                          (char *) e->x->command, NULL };

    if (pipe2(in, O_CLOEXEC) != 0) {
        return -1;
    }
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_init(&attr);
    /* Its own process group: stopping it reaches what it started. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK
                             | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setpgroup(&attr, 0);
    rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        fprintf(stderr, "voidrail dealer: cannot start /bin/sh: %s\n",
                strerror(rc));
        close(in[1]);
        close(out[0]);
        return -1;
    }
    /* Writes never block for good: a stuck program cannot hang a stop. */
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    pthread_mutex_lock(&e->write_lock);
    e->to_fd = in[1];
    pthread_mutex_unlock(&e->write_lock);
    e->from_fd = out[0];
    e->rlen = 0;
    e->started_ms = vr_exec_now_ms();
    pthread_mutex_lock(&e->lock);
    e->pid = pid;
    pthread_mutex_unlock(&e->lock);
    return 0;
}

/*
 * The next line from the program (NUL-terminated, without the newline;
 * the caller frees it), waiting at most timeout_ms (< 0: forever).  NULL
 * at the end of its output or after the timeout (*timed_out set).
 */
static char *
vr_exec_read_line(vr_exec_t *e, int timeout_ms, bool *timed_out, size_t *len)
{
    long long deadline = vr_exec_now_ms() + timeout_ms;
    char     *nl, *line;
    ssize_t   n;

    *timed_out = false;
    for (;;) {
        nl = e->rlen > 0 ? memchr(e->rbuf, '\n', e->rlen) : NULL;
        if (nl != NULL) {
            *len = (size_t) (nl - e->rbuf);
            line = malloc(*len + 1);
            memcpy(line, e->rbuf, *len);
            line[*len] = '\0';
            e->rlen -= *len + 1;
            memmove(e->rbuf, nl + 1, e->rlen);
            return line;
        }
        if (timeout_ms >= 0) {
            struct pollfd p = { e->from_fd, POLLIN, 0 };
            long long     left = deadline - vr_exec_now_ms();
            if (left <= 0 || poll(&p, 1, (int) left) == 0) {
                *timed_out = true;
                return NULL;
            }
        }
        if (e->rcap - e->rlen < 65536) {
            e->rcap = e->rcap ? e->rcap * 2 : 131072;
            e->rbuf = realloc(e->rbuf, e->rcap);
        }
        n = read(e->from_fd, e->rbuf + e->rlen, e->rcap - e->rlen);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return NULL;
        }
        e->rlen += (size_t) n;
    }
}

/* Reads and checks the method list; VR_OK and e->decl / declared set. */
int
vr_exec_hello(vr_exec_t *e)
{
    json_t     *decl, *methods, *m, *v;
    const char *name;
    char       *line, *canon;
    size_t      len;
    bool        timed_out;
    const char *bad = NULL;

    line = vr_exec_read_line(e, VR_EXEC_HELLO_MS, &timed_out, &len);
    if (line == NULL) {
        fprintf(stderr, "voidrail dealer: the program %s before it listed "
                "its methods\n", timed_out ? "said nothing for 30 s"
                                           : "ended its output");
        return VR_ERROR;
    }
    decl = json_loads(line, 0, NULL);
    methods = json_object_get(decl, "methods");
    if (!json_is_object(methods) || json_object_size(methods) == 0) {
        bad = "its first line must be {\"methods\": {NAME: {...}, ...}}";
    }
    json_object_foreach(methods, name, m) {
        if (bad != NULL) {
            break;
        }
        if (name[0] == '\0' || strchr(name, '.') != NULL) {
            bad = "method names must be non-empty and without dots";
        } else if (!json_is_object(m)) {
            bad = "each method must be an object (may be {})";
        } else if ((v = json_object_get(m, "description")) != NULL
                   && !json_is_string(v) && !json_is_null(v)) {
            bad = "\"description\" must be a string or null";
        } else if ((v = json_object_get(m, "params")) != NULL
                   && !json_is_object(v) && !json_is_null(v)) {
            bad = "\"params\" must be an object or null";
        } else if ((v = json_object_get(m, "stream")) != NULL
                   && !json_is_boolean(v)) {
            bad = "\"stream\" must be true or false";
        } else if ((v = json_object_get(m, "metadata")) != NULL
                   && !json_is_object(v)) {
            bad = "\"metadata\" must be an object";
        }
    }
    if (bad != NULL) {
        fprintf(stderr, "voidrail dealer: the program's method list is not "
                "valid: %s; it said: %.200s\n", bad, line);
        json_decref(decl);
        free(line);
        return VR_ERROR;
    }
    free(line);
    canon = json_dumps(methods, JSON_SORT_KEYS | JSON_COMPACT);
    if (e->decl == NULL) {
        e->decl = decl;
        e->declared = canon;
        e->cancel = json_is_true(json_object_get(decl, "cancel"));
        return VR_OK;
    }
    if (strcmp(canon, e->declared) != 0) {
        fprintf(stderr, "voidrail dealer: the restarted program lists other "
                "methods; serving the first list until this dealer restarts\n");
    }
    free(canon);
    json_decref(decl);
    return VR_OK;
}

/* Closes our end of the program's input (EOF for it). */
void
vr_exec_close_input(vr_exec_t *e)
{
    pthread_mutex_lock(&e->write_lock);
    if (e->to_fd >= 0) {
        close(e->to_fd);
        e->to_fd = -1;
    }
    pthread_mutex_unlock(&e->write_lock);
}

/* The program ended: every waiting request ends with an error. */
static void
vr_exec_ended(vr_exec_t *e, int status)
{
    vr_exec_wait_t *w;
    char            why[200];

    if (WIFSIGNALED(status)) {
        snprintf(why, sizeof(why), "the worker program was killed by signal "
                 "%d while handling the request", WTERMSIG(status));
    } else {
        snprintf(why, sizeof(why), "the worker program exited with status %d "
                 "while handling the request", WEXITSTATUS(status));
    }
    pthread_mutex_lock(&e->lock);
    DL_FOREACH(e->waits, w) {
        w->dead = true;
        snprintf(w->why, sizeof(w->why), "%s", why);
        pthread_cond_signal(&w->cond);
    }
    e->pid = 0;
    pthread_mutex_unlock(&e->lock);
}

/* Waits for the program (its output ended); kills it if it lingers. */
int
vr_exec_reap(vr_exec_t *e, pid_t pid)
{
    int status = 0;

    for (int i = 0; i < 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            return status;
        }
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

/* Files one line of the program under the request it names. */
static void
vr_exec_line(vr_exec_t *e, char *line, size_t len)
{
    vr_json_field_t f[1] = { { "id", NULL, 0, 0 } };
    vr_exec_wait_t *w;
    vr_exec_line_t *l;
    long long       id;
    const char     *p;

    if (vr_json_fields(line, len, f, 1, true) != VR_OK
        || (f[0].kind != VR_JSON_NUMBER && f[0].kind != VR_JSON_STRING))
    {
        fprintf(stderr, "voidrail dealer: a line of the program that is not "
                "a JSON object with an id was ignored: %.200s\n", line);
        return;
    }
    p = f[0].kind == VR_JSON_STRING ? f[0].value + 1 : f[0].value;
    id = strtoll(p, NULL, 10);
    pthread_mutex_lock(&e->lock);
    DL_FOREACH(e->waits, w) {
        if (w->id == id) {
            break;
        }
    }
    if (w != NULL) {
        l = malloc(sizeof(*l) + len + 1);
        l->next = NULL;
        l->len = len;
        memcpy(l->text, line, len + 1);
        if (w->tail == NULL) {
            w->head = l;
        } else {
            w->tail->next = l;
        }
        w->tail = l;
        pthread_cond_signal(&w->cond);
    }
    pthread_mutex_unlock(&e->lock);
}

void *
vr_exec_reader(void *arg)
{
    vr_exec_t *e = arg;
    char      *line;
    size_t     len;
    bool       timed_out, stopping;
    pid_t      pid;

    for (;;) {
        while ((line = vr_exec_read_line(e, -1, &timed_out, &len)) != NULL) {
            vr_exec_line(e, line, len);
            free(line);
        }
        pid = e->pid;
        int status = vr_exec_reap(e, pid);
        vr_exec_ended(e, status);
        vr_exec_close_input(e);
        close(e->from_fd);
        for (;;) {
            pthread_mutex_lock(&e->lock);
            stopping = e->stopping;
            pthread_mutex_unlock(&e->lock);
            if (stopping) {
                pthread_mutex_lock(&e->lock);
                e->finished = true;
                pthread_mutex_unlock(&e->lock);
                return NULL;
            }
            long long lived = vr_exec_now_ms() - e->started_ms;
            e->delay_ms = lived >= VR_EXEC_HEALTHY_MS || e->delay_ms == 0
                ? VR_EXEC_RESTART_MIN
                : e->delay_ms * 2 > VR_EXEC_RESTART_MAX ? VR_EXEC_RESTART_MAX
                : e->delay_ms * 2;
            fprintf(stderr, "voidrail dealer: the program (pid %ld) ended "
                    "(%s %d); starting it again in %d ms\n", (long) pid,
                    WIFSIGNALED(status) ? "signal" : "status",
                    WIFSIGNALED(status) ? WTERMSIG(status)
                                        : WEXITSTATUS(status), e->delay_ms);
            usleep((useconds_t) e->delay_ms * 1000);
            pthread_mutex_lock(&e->lock);
            stopping = e->stopping;
            pthread_mutex_unlock(&e->lock);
            if (stopping) {
                continue;
            }
            if (vr_exec_spawn(e) != 0) {
                continue;
            }
            pid = e->pid;
            if (vr_exec_hello(e) == VR_OK) {
                fprintf(stderr, "voidrail dealer: the program runs again "
                        "(pid %ld)\n", (long) pid);
                break;
            }
            kill(-pid, SIGKILL);
            status = vr_exec_reap(e, pid);
            pthread_mutex_lock(&e->lock);
            e->pid = 0;
            pthread_mutex_unlock(&e->lock);
            vr_exec_close_input(e);
            close(e->from_fd);
        }
    }
}

/* Ends the program: EOF on its input, then SIGTERM, then SIGKILL. */
void
vr_exec_stop(vr_exec_t *e)
{
    bool done = false;
    int  sig[] = { 0, SIGTERM, SIGKILL };

    pid_t pid;

    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_mutex_unlock(&e->lock);
    vr_exec_close_input(e);
    for (int s = 0; s < 3 && !done; s++) {
        if (s > 0) {
            pthread_mutex_lock(&e->lock);
            pid = e->pid;
            pthread_mutex_unlock(&e->lock);
            if (pid != 0) {
                kill(-pid, sig[s]);
            }
        }
        for (int i = 0; i < 200 && !done; i++) {
            pthread_mutex_lock(&e->lock);
            done = e->finished;
            pthread_mutex_unlock(&e->lock);
            if (!done) {
                usleep(10000);
            }
        }
    }
    pthread_join(e->reader, NULL);
}
