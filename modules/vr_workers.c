/*
 * vr_workers.c: the "workers:" module: local worker processes that the
 * gateway starts, watches and stops itself (a GPU box runs its dealers
 * next to its gateway).
 *
 *   workers:
 *     - name: resnet
 *       command: ["python3", "-m", "svc", "--port", "5555"]
 *       instances: 2
 *       env: { CUDA_VISIBLE_DEVICES: "{instance}" }
 *       restart: always            # on-failure, never
 *
 * Each entry runs `instances` processes; "{instance}" (0..n-1) in the
 * command and the environment is replaced by the process's number, and
 * "{voidrail}" by the path of this very binary.  A crashed process comes
 * back after a backoff that doubles while it keeps crashing (1 s to 60 s).
 * A reload adds, removes or resizes entries and restarts only the
 * processes whose command, environment or directory changed; a new
 * restart policy applies at once to the processes that have ended, a new
 * stop_grace to the next stop.  On stop, every worker gets SIGTERM, then
 * SIGKILL after its stop_grace.
 */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_child.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_path.h"
#include "vr_report.h"

typedef enum {
    VR_RESTART_ALWAYS = 0,
    VR_RESTART_ON_FAILURE,
    VR_RESTART_NEVER
} vr_restart_t;

typedef struct {
    char        *name;
    vr_strs_t    command;
    int64_t      instances;
    vr_strmap_t  env;
    char        *cwd;
    int          restart;
    vr_msec_t    stop_grace_ms;
    const char  *command_where;     /* "FILE:LINE:COL: \"workers[i].command\"" */
    const char  *cwd_where;
} vr_worker_conf_t;

typedef struct {
    vr_blocks_t  workers;           /* of vr_worker_conf_t */
} vr_workers_conf_t;

typedef enum {
    VR_WORKER_RUNNING = 0,
    VR_WORKER_BACKOFF,              /* waiting to be started again */
    VR_WORKER_STOPPING,             /* SIGTERM sent */
    VR_WORKER_EXITED                /* ended and not restarted */
} vr_worker_state_t;

static const char *vr_worker_state_names[] = {
    "running", "backoff", "stopping", "exited"
};

typedef struct vr_worker_s {
    char                        *name;
    unsigned                     instance;
    char                        *spec;      /* command, env and cwd, joined */
    const vr_worker_conf_t      *conf;
    pid_t                        pid;       /* 0 when not running */
    vr_worker_state_t            state;
    bool                         retire;    /* free it once it has ended */
    bool                         respawn;   /* start it again once ended */
    unsigned                     restarts;
    vr_msec_t                    stop_grace_ms; /* of its entry, kept */
    vr_msec_t                    kill_at_ms;    /* when stopping at exit */
    int                          last_status;
    bool                         has_status;
    vr_msec_t                    started_ms;
    vr_msec_t                    backoff_ms;
    vr_timer_t                   timer;     /* backoff, or kill after grace */
    TAILQ_ENTRY(vr_worker_s)     link;
} vr_worker_t;

static struct {
    vr_loop_t                   *loop;
    TAILQ_HEAD(, vr_worker_s)    all;
    char                        *self;      /* this binary, for {voidrail} */
} vr_workers;

extern vr_module_t vr_workers_module;

#define VR_BACKOFF_MIN_MS    1000
#define VR_BACKOFF_MAX_MS    60000
#define VR_STABLE_MS         10000      /* ran this long: not crash-looping */

static const char *vr_restart_names[] = {
    "always", "on-failure", "never", NULL
};

#define F(field)  offsetof(vr_worker_conf_t, field)

static const vr_directive_t vr_worker_directives[] = {
    { "name", VR_CONF_RELOAD, "string", NULL, vr_conf_set_str, F(name), 0, 0,
      NULL, "the entry's name (unique)" },
    { "command", VR_CONF_RELOAD, "string list", NULL, vr_conf_set_strs,
      F(command), 0, 0, NULL,
      "program and arguments; {instance} and {voidrail} are replaced" },
    { "instances", VR_CONF_RELOAD, "integer", "1", vr_conf_set_int,
      F(instances), 0, 1000, NULL, "processes to run" },
    { "env", VR_CONF_RELOAD, "map", "{}", vr_conf_set_strmap, F(env), 0, 0,
      NULL, "environment added ({instance} is replaced)" },
    { "cwd", VR_CONF_RELOAD, "path", "\"\"", vr_conf_set_str, F(cwd), 0, 0,
      NULL, "working directory (\"\": the gateway's)" },
    { "restart", VR_CONF_RELOAD, "always|on-failure|never", "always",
      vr_conf_set_enum, F(restart), 0, 0, vr_restart_names,
      "when an ended process is started again (with backoff)" },
    { "stop_grace", VR_CONF_RELOAD, "duration", "5s", vr_conf_set_msec,
      F(stop_grace_ms), 0, 3600000, NULL,
      "time between SIGTERM and SIGKILL when stopping" },
    vr_null_directive
};

#undef F

static const vr_conf_blocks_t vr_worker_blocks = {
    vr_worker_directives, sizeof(vr_worker_conf_t), "worker", NULL
};

static const vr_directive_t vr_workers_section = {
    "workers", VR_CONF_RELOAD, "list", "[]", vr_conf_set_block_list,
    offsetof(vr_workers_conf_t, workers), 0, 0, &vr_worker_blocks,
    "local worker processes the gateway starts and supervises"
};

/* ---- spawning --------------------------------------------------------- */

/* s with {instance} and {voidrail} replaced; malloc'ed. */
static char *
vr_worker_expand(const char *s, unsigned instance)
{
    vr_buf_t b = VR_BUF_INIT;

    while (*s) {
        if (strncmp(s, "{instance}", 10) == 0) {
            vr_buf_printf_b(&b, "%u", instance);
            s += 10;
        } else if (strncmp(s, "{voidrail}", 10) == 0) {
            vr_buf_adds(&b, vr_workers.self);
            s += 10;
        } else {
            vr_buf_addc(&b, *s++);
        }
    }
    return vr_buf_steal(&b, NULL);
}

static char *
vr_worker_spec(const vr_worker_conf_t *c)
{
    vr_buf_t b = VR_BUF_INIT;

    for (size_t i = 0; i < c->command.n; i++) {
        vr_buf_adds(&b, c->command.v[i]);
        vr_buf_addc(&b, '\x1f');
    }
    for (size_t i = 0; i < c->env.n; i++) {
        vr_buf_printf_b(&b, "%s=%s\x1f", c->env.keys[i], c->env.values[i]);
    }
    vr_buf_adds(&b, c->cwd);
    return vr_buf_steal(&b, NULL);
}

extern char **environ;

/* The environment of a worker: the gateway's, plus the entry's env. */
static char **
vr_worker_environ(const vr_worker_conf_t *c, unsigned instance)
{
    size_t  n = 0, o = 0;
    char  **env;

    while (environ[n] != NULL) {
        n++;
    }
    env = vr_calloc(n + c->env.n + 2, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        bool overridden = false;
        for (size_t j = 0; j < c->env.n; j++) {
            size_t k = strlen(c->env.keys[j]);
            overridden = overridden || (strncmp(environ[i], c->env.keys[j], k) == 0
                                        && environ[i][k] == '=');
        }
        if (!overridden && strncmp(environ[i], "VOIDRAIL_INSTANCE=", 18) != 0) {
            env[o++] = vr_strdup(environ[i]);
        }
    }
    for (size_t j = 0; j < c->env.n; j++) {
        char *v = vr_worker_expand(c->env.values[j], instance);
        vr_buf_t b = VR_BUF_INIT;
        vr_buf_printf_b(&b, "%s=%s", c->env.keys[j], v);
        env[o++] = vr_buf_steal(&b, NULL);
        free(v);
    }
    {
        vr_buf_t b = VR_BUF_INIT;
        vr_buf_printf_b(&b, "VOIDRAIL_INSTANCE=%u", instance);
        env[o++] = vr_buf_steal(&b, NULL);
    }
    return env;
}

static void
vr_strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

static void vr_worker_on_exit(pid_t pid, int status, void *data);
static void vr_worker_backoff(vr_worker_t *w);

static void
vr_worker_start(vr_worker_t *w)
{
    const vr_worker_conf_t *c = w->conf;
    char                  **argv = vr_calloc(c->command.n + 1, sizeof(char *));
    char                  **env = vr_worker_environ(c, w->instance);

    for (size_t i = 0; i < c->command.n; i++) {
        argv[i] = vr_worker_expand(c->command.v[i], w->instance);
    }
    w->pid = vr_child_spawn(argv, env, c->cwd, vr_worker_on_exit, w);
    if (w->pid < 0) {
        vr_log_error("worker %s/%u: cannot start %s: %s", w->name,
                     w->instance, argv[0], strerror(errno));
        w->pid = 0;
        vr_worker_backoff(w);
    } else {
        w->state = VR_WORKER_RUNNING;
        w->started_ms = vr_now_ms;
        vr_log_info("worker %s/%u started: pid %d", w->name, w->instance,
                    (int) w->pid);
    }
    vr_strv_free(argv);
    vr_strv_free(env);
}

static void
vr_worker_on_timer(vr_timer_t *t)
{
    vr_worker_t *w = t->data;

    if (w->state == VR_WORKER_BACKOFF) {
        vr_worker_start(w);
    } else if (w->state == VR_WORKER_STOPPING && w->pid > 0) {
        vr_log_warn("worker %s/%u (pid %d) still runs after stop_grace: "
                    "SIGKILL", w->name, w->instance, (int) w->pid);
        vr_child_signal(w->pid, SIGKILL);
    }
}

static void
vr_worker_backoff(vr_worker_t *w)
{
    bool stable = w->started_ms != 0
                  && vr_now_ms - w->started_ms >= VR_STABLE_MS;

    w->backoff_ms = stable || w->backoff_ms == 0
                    ? VR_BACKOFF_MIN_MS
                    : vr_min(w->backoff_ms * 2, VR_BACKOFF_MAX_MS);
    w->state = VR_WORKER_BACKOFF;
    vr_timer_add(vr_workers.loop, &w->timer, w->backoff_ms);
}

static void
vr_worker_free(vr_worker_t *w)
{
    TAILQ_REMOVE(&vr_workers.all, w, link);
    vr_timer_del(vr_workers.loop, &w->timer);
    free(w->name);
    free(w->spec);
    free(w);
}

static void
vr_worker_stop(vr_worker_t *w)
{
    vr_timer_del(vr_workers.loop, &w->timer);
    if (w->pid <= 0) {
        w->state = VR_WORKER_EXITED;
        return;
    }
    w->state = VR_WORKER_STOPPING;
    vr_child_signal(w->pid, SIGTERM);
    vr_timer_add(vr_workers.loop, &w->timer, w->stop_grace_ms);
}

/* Does c's restart policy start again a process that ended with status? */
static bool
vr_worker_restartable(const vr_worker_conf_t *c, int status)
{
    bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    return c->restart == VR_RESTART_ALWAYS
           || (c->restart == VR_RESTART_ON_FAILURE && failed);
}

static void
vr_worker_on_exit(pid_t pid, int status, void *data)
{
    vr_worker_t *w = data;
    char         text[64];

    w->pid = 0;
    w->last_status = status;
    w->has_status = true;
    vr_timer_del(vr_workers.loop, &w->timer);
    vr_log(w->state == VR_WORKER_STOPPING ? VR_LOG_INFO : VR_LOG_WARN,
           "worker %s/%u (pid %d) ended: %s", w->name, w->instance,
           (int) pid, vr_child_status_text(status, text, sizeof(text)));
    if (w->retire) {
        vr_worker_free(w);
        return;
    }
    if (w->respawn) {
        w->respawn = false;
        vr_worker_start(w);
        return;
    }
    if (w->state == VR_WORKER_STOPPING
        || !vr_worker_restartable(w->conf, status))
    {
        w->state = VR_WORKER_EXITED;
        return;
    }
    w->restarts++;
    vr_worker_backoff(w);
}

/* ---- configuration ---------------------------------------------------- */

static int
vr_workers_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_workers_conf_t *conf = data;
    char               path[64];

    for (size_t i = 0; i < conf->workers.n; i++) {
        vr_worker_conf_t *c = (vr_worker_conf_t *) conf->workers.elts + i;

        if (c->name == NULL || c->name[0] == '\0') {
            snprintf(path, sizeof(path), "workers[%zu]", i);
            return vr_conf_error_at(cf, path, "needs a name");
        }
        if (c->command.n == 0) {
            snprintf(path, sizeof(path), "workers[%zu]", i);
            return vr_conf_error_at(cf, path, "needs a command");
        }
        snprintf(path, sizeof(path), "workers[%zu].command", i);
        c->command_where = vr_conf_where(cf, path);
        snprintf(path, sizeof(path), "workers[%zu].cwd", i);
        c->cwd_where = vr_conf_where(cf, path);
    }
    return VR_OK;
}

/* The path of this very binary, for {voidrail}; malloc'ed. */
static char *
vr_workers_self_path(void)
{
    char    self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    self[n > 0 ? n : 0] = '\0';
    return vr_strdup(n > 0 ? self : "voidrail");
}

/* -t: every entry's directory exists and its program can be run. */
static int
vr_workers_check(vr_cycle_t *cycle)
{
    vr_workers_conf_t *conf = vr_cycle_conf(cycle, vr_workers_module);
    struct stat        st;
    char              *program;
    int                rc = VR_OK, err;

    vr_workers.self = vr_workers_self_path();
    for (size_t i = 0; i < conf->workers.n; i++) {
        vr_worker_conf_t *c = (vr_worker_conf_t *) conf->workers.elts + i;

        if (c->cwd[0] != '\0'
            && (stat(c->cwd, &st) != 0 || !S_ISDIR(st.st_mode)))
        {
            vr_log_error("%s \"%s\" is not a directory", c->cwd_where,
                         c->cwd);
            rc = VR_ERROR;
            continue;
        }
        program = vr_worker_expand(c->command.v[0], 0);
        err = vr_path_runnable(program, c->cwd);
        if (err != 0) {
            vr_log_error("%s cannot run \"%s\": %s", c->command_where,
                         program, strerror(err));
            rc = VR_ERROR;
        }
        free(program);
    }
    free(vr_workers.self);
    vr_workers.self = NULL;
    return rc;
}

static vr_worker_t *
vr_workers_find(const char *name, unsigned instance)
{
    vr_worker_t *w;

    TAILQ_FOREACH(w, &vr_workers.all, link) {
        if (!w->retire && w->instance == instance
            && strcmp(w->name, name) == 0)
        {
            return w;
        }
    }
    return NULL;
}

/*
 * A reload whose entry keeps w's command, environment and directory: an
 * instance that has ended follows the new restart policy at once (started
 * again, or no longer waiting to be).
 */
static void
vr_worker_follow_policy(vr_worker_t *w)
{
    bool restartable = w->has_status
                       && vr_worker_restartable(w->conf, w->last_status);

    if (w->state == VR_WORKER_EXITED && restartable) {
        vr_log_notice("worker %s/%u: restart is now %s: starting it",
                      w->name, w->instance, vr_restart_names[w->conf->restart]);
        vr_worker_start(w);
    } else if (w->state == VR_WORKER_BACKOFF && !restartable) {
        vr_log_notice("worker %s/%u: restart is now %s: not started again",
                      w->name, w->instance, vr_restart_names[w->conf->restart]);
        vr_timer_del(vr_workers.loop, &w->timer);
        w->state = VR_WORKER_EXITED;
    }
}

static void
vr_workers_apply(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_workers_conf_t *conf = vr_cycle_conf(cycle, vr_workers_module);
    vr_worker_t       *w, *next;

    if (old == NULL) {
        vr_workers.loop = cycle->loop;
        TAILQ_INIT(&vr_workers.all);
        free(vr_workers.self);
        vr_workers.self = vr_workers_self_path();
    }
    /* Every running worker is out unless the new entries keep it. */
    TAILQ_FOREACH(w, &vr_workers.all, link) {
        if (!w->retire) {
            w->conf = NULL;
        }
    }
    for (size_t i = 0; i < conf->workers.n; i++) {
        const vr_worker_conf_t *c = (vr_worker_conf_t *) conf->workers.elts + i;
        char                   *spec = vr_worker_spec(c);

        for (unsigned k = 0; k < (unsigned) c->instances; k++) {
            w = vr_workers_find(c->name, k);
            if (w == NULL) {
                w = vr_calloc(1, sizeof(*w));
                w->name = vr_strdup(c->name);
                w->instance = k;
                w->spec = vr_strdup(spec);
                w->conf = c;
                w->stop_grace_ms = c->stop_grace_ms;
                vr_timer_init(&w->timer, vr_worker_on_timer, w);
                TAILQ_INSERT_TAIL(&vr_workers.all, w, link);
                vr_worker_start(w);
                continue;
            }
            w->conf = c;
            w->stop_grace_ms = c->stop_grace_ms;
            if (strcmp(w->spec, spec) != 0) {
                free(w->spec);
                w->spec = vr_strdup(spec);
                vr_log_notice("worker %s/%u changed: restarting it",
                              w->name, w->instance);
                if (w->pid > 0) {
                    w->respawn = true;
                    vr_worker_stop(w);
                } else {
                    vr_worker_start(w);
                }
            } else {
                vr_worker_follow_policy(w);
            }
        }
        free(spec);
    }
    for (w = TAILQ_FIRST(&vr_workers.all); w != NULL; w = next) {
        next = TAILQ_NEXT(w, link);
        if (w->conf != NULL || w->retire) {
            continue;
        }
        /* Gone from the configuration: stop it, forget it once it ended. */
        w->retire = true;
        w->respawn = false;
        if (w->pid > 0) {
            vr_log_notice("worker %s/%u removed: stopping it", w->name,
                          w->instance);
            vr_worker_stop(w);
        } else {
            vr_worker_free(w);
        }
    }
}

/*
 * At exit: SIGTERM to all, then wait for them (the loop has stopped) up
 * to the longest stop_grace, then SIGKILL what is left.
 */
static void
vr_workers_exit(vr_cycle_t *cycle)
{
    vr_worker_t    *w;
    struct timespec tick = { 0, 20 * 1000000L };
    bool            left = true;

    TAILQ_FOREACH(w, &vr_workers.all, link) {
        vr_timer_del(vr_workers.loop, &w->timer);
        w->respawn = false;
        if (w->pid > 0) {
            w->state = VR_WORKER_STOPPING;
            w->kill_at_ms = vr_clock_update() + w->stop_grace_ms;
            vr_child_signal(w->pid, SIGTERM);
        }
    }
    /* The loop has stopped: wait here, each worker its own stop_grace. */
    while (left) {
        vr_child_reap();
        vr_clock_update();
        left = false;
        TAILQ_FOREACH(w, &vr_workers.all, link) {
            if (w->pid <= 0) {
                continue;
            }
            left = true;
            if (w->kill_at_ms != 0 && vr_now_ms >= w->kill_at_ms) {
                vr_log_warn("worker %s/%u (pid %d) still runs after "
                            "stop_grace: SIGKILL", w->name, w->instance,
                            (int) w->pid);
                vr_child_signal(w->pid, SIGKILL);
                w->kill_at_ms = 0;
            }
        }
        if (left) {
            nanosleep(&tick, NULL);
        }
    }
    while ((w = TAILQ_FIRST(&vr_workers.all)) != NULL) {
        vr_worker_free(w);
    }
    free(vr_workers.self);
    vr_workers.self = NULL;
}

/* ---- reports ---------------------------------------------------------- */

static void
vr_workers_status(json_t *doc)
{
    json_t      *list = json_array();
    vr_worker_t *w;
    char         text[64];

    TAILQ_FOREACH(w, &vr_workers.all, link) {
        json_array_append_new(list, json_pack(
            "{s:s, s:i, s:o, s:s, s:i, s:o}", "name", w->name,
            "instance", (int) w->instance,
            "pid", w->pid > 0 ? json_integer(w->pid) : json_null(),
            "state", vr_worker_state_names[w->state],
            "restarts", (int) w->restarts,
            "last_exit", w->has_status
                ? json_string(vr_child_status_text(w->last_status, text,
                                                   sizeof(text)))
                : json_null()));
    }
    json_object_set_new(doc, "workers", list);
}

static void
vr_workers_metrics(vr_buf_t *out)
{
    vr_worker_t *w;
    size_t       running = 0;
    uint64_t     restarts = 0;

    TAILQ_FOREACH(w, &vr_workers.all, link) {
        running += w->state == VR_WORKER_RUNNING;
        restarts += w->restarts;
    }
    vr_buf_printf_b(out, "# HELP voidrail_workers_running Supervised worker "
                    "processes running.\n# TYPE voidrail_workers_running "
                    "gauge\nvoidrail_workers_running %zu\n"
                    "# HELP voidrail_worker_restarts_total Restarts of "
                    "supervised workers.\n# TYPE voidrail_worker_restarts_total"
                    " counter\nvoidrail_worker_restarts_total %llu\n",
                    running, (unsigned long long) restarts);
}

static const vr_reporter_t vr_workers_reporter = {
    vr_workers_status, vr_workers_metrics
};

static void
vr_workers_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_report_register(&vr_workers_reporter);
    vr_workers_apply(cycle, old);
}

vr_module_t vr_workers_module = {
    .name = "workers",
    .section = &vr_workers_section,
    .conf_size = sizeof(vr_workers_conf_t),
    .init_conf = vr_workers_init_conf,
    .commit = vr_workers_commit,
    .exit = vr_workers_exit,
    .check = vr_workers_check,
};
