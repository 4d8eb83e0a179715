/*
 * vr_main.c: the voidrail command.
 *
 *   voidrail [-c FILE] [-t|-T|-s SIG] [-K]     the gateway, from a YAML file
 *   voidrail router [options]                 the gateway, from options
 *
 * Serving: load and check the configuration, block signals, start ZeroMQ,
 * initialise every module, run the loop until a signal says stop.
 */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_buf.h"
#include "vr_child.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_main.h"
#include "vr_module.h"
#include "vr_process.h"
#include "vr_signal.h"

#define VR_DEFAULT_CONF  "conf/voidrail.yaml"

typedef struct {
    vr_cycle_t  *cycle;
    vr_loop_t   *loop;
    void        *zctx;
    int          sigfd;
    bool         from_file;     /* SIGHUP re-reads cycle->conf_file */
    bool         draining;
    vr_msec_t    drain_deadline_ms;
    vr_timer_t   drain_timer;
} vr_main_t;

static void
vr_main_reload(vr_main_t *m)
{
    vr_cycle_t *old = m->cycle, *cycle;
    char       *error = NULL;

    if (!m->from_file) {
        vr_log_notice("SIGHUP ignored: the configuration came from the "
                      "command line, there is no file to re-read");
        return;
    }
    vr_log_notice("reloading %s", old->conf_file);
    vr_process_notify("RELOADING=1");
    cycle = vr_cycle_load(old->conf_file, NULL, &error);
    if (cycle == NULL) {
        vr_log_error("reload failed, the running configuration stays: %s",
                     error);
        vr_process_reloaded(old->generation, error);
        vr_process_notify("READY=1");
        free(error);
        return;
    }
    cycle->generation = old->generation + 1;
    cycle->loop = m->loop;
    cycle->zctx = m->zctx;
    cycle->broker = old->broker;
    if (vr_cycle_init(cycle, old) != VR_OK) {
        char why[512];

        snprintf(why, sizeof(why), "%s", vr_log_last_error());
        vr_log_error("reload failed, the running configuration stays: %s",
                     why);
        vr_process_reloaded(old->generation, why);
        vr_cycle_destroy(&cycle);       /* nothing refers to it */
        vr_process_notify("READY=1");
        return;
    }
    vr_process_reloaded(cycle->generation, NULL);
    vr_process_notify("READY=1");
    vr_cycle_destroy(&old);
    m->cycle = cycle;
    vr_log_notice("configuration generation %u in force", cycle->generation);
}

static void
vr_main_on_drain_tick(vr_timer_t *t)
{
    vr_main_t *m = t->data;
    size_t     pending = vr_broker_pending(m->cycle->broker);

    if (pending == 0) {
        vr_log_notice("drained: every request is answered");
        vr_loop_stop(m->loop);
    } else if (vr_now_ms >= m->drain_deadline_ms) {
        vr_log_notice("drain timeout: %zu requests end with shutting_down",
                      pending);
        vr_loop_stop(m->loop);
    } else {
        vr_timer_add(m->loop, &m->drain_timer, 50);
    }
}

static void
vr_main_drain(vr_main_t *m)
{
    const vr_process_conf_t *conf = vr_cycle_conf(m->cycle, vr_process_module);

    m->draining = true;
    vr_process.draining = true;
    vr_process_notify("STOPPING=1");
    vr_broker_drain(m->cycle->broker);
    m->drain_deadline_ms = vr_now_ms + conf->drain_timeout_ms;
    vr_log_notice("draining: no new calls; %zu pending may finish within "
                  "%lld ms", vr_broker_pending(m->cycle->broker),
                  (long long) conf->drain_timeout_ms);
    vr_main_on_drain_tick(&m->drain_timer);
}

/*
 * Signals are read in a batch and acted on once: a burst of SIGHUPs is one
 * reload (of the file as it is now).  A gateway that stops (drains)
 * reloads no more: a SIGHUP then is logged as ignored.
 */
static void
vr_main_on_signal(void *data, short revents)
{
    vr_main_t *m = data;
    bool       reload = false, drain = false, fast = false, reopen = false;
    int        signo;

    while ((signo = vr_signal_read(m->sigfd)) != 0) {
        switch (signo) {
        case SIGHUP:
            reload = true;
            break;
        case SIGUSR1:
            reopen = true;
            break;
        case SIGCHLD:
            vr_child_reap();
            break;
        case SIGINT:
            fast = true;
            break;
        default:                /* SIGTERM, SIGQUIT */
            fast = fast || m->draining || drain;
            drain = true;
            break;
        }
    }
    if (reload && (fast || drain || m->draining)) {
        vr_log_warn("SIGHUP ignored: the gateway is stopping, the "
                    "configuration in force stays until it exits");
        reload = false;
    }
    if (reopen) {
        vr_log_notice("SIGUSR1: reopening log files");
        vr_log_reopen();
        vr_http_reopen_logs();
    }
    if (fast) {
        vr_log_notice("stopping now");
        if (!m->draining) {
            vr_process_notify("STOPPING=1");
        }
        vr_loop_stop(m->loop);
        return;
    }
    if (drain && !m->draining) {
        vr_main_drain(m);
        return;
    }
    if (reload) {
        vr_main_reload(m);
    }
}

int
vr_serve(const char *name, const char *text)
{
    vr_main_t m;
    char     *error = NULL;
    int       rc = 0;

    memset(&m, 0, sizeof(m));
    vr_timer_init(&m.drain_timer, vr_main_on_drain_tick, &m);
    m.from_file = text == NULL;
    m.cycle = vr_cycle_load(name, text, &error);
    if (m.cycle == NULL) {
        fprintf(stderr, "voidrail: %s\n", error);
        free(error);
        return 1;
    }
    m.sigfd = vr_signal_open();
    if (m.sigfd < 0) {
        vr_cycle_destroy(&m.cycle);
        return 1;
    }
    m.zctx = zmq_ctx_new();
    m.loop = vr_loop_new();
    m.cycle->generation = 1;
    m.cycle->loop = m.loop;
    m.cycle->zctx = m.zctx;
    if (vr_cycle_init(m.cycle, NULL) != VR_OK) {
        rc = 1;
    } else {
        vr_loop_add_fd(m.loop, m.sigfd, ZMQ_POLLIN, vr_main_on_signal, &m);
        vr_log_notice("voidrail %s started (pid %d, configuration %s)",
                      VR_VERSION, (int) getpid(), m.cycle->conf_file);
        vr_process_notify("READY=1");
        if (vr_loop_run(m.loop) != VR_OK) {
            rc = 1;
        }
        vr_timer_del(m.loop, &m.drain_timer);
        vr_broker_stop(m.cycle->broker);
        vr_cycle_exit(m.cycle);
        vr_log_notice("voidrail stopped");
    }
    vr_broker_destroy(&m.cycle->broker);
    vr_cycle_destroy(&m.cycle);
    vr_loop_destroy(&m.loop);
    zmq_ctx_term(m.zctx);
    close(m.sigfd);
    vr_log_close();
    return rc;
}

/* `voidrail -s SIGNAL`: signals the running gateway named by the pid file. */
static int
vr_send_signal(const char *conf, const char *name)
{
    static const struct { const char *name; int signo; } map[] = {
        { "reload", SIGHUP }, { "quit", SIGQUIT }, { "stop", SIGINT },
        { "reopen", SIGUSR1 },
    };
    const vr_process_conf_t *pconf;
    vr_cycle_t              *cycle;
    char                    *error = NULL;
    long                     pid;
    int                      signo = 0;

    for (size_t i = 0; i < vr_nelems(map); i++) {
        if (strcmp(name, map[i].name) == 0) {
            signo = map[i].signo;
        }
    }
    if (signo == 0) {
        fprintf(stderr, "voidrail: -s takes reload, quit, stop or reopen\n");
        return 1;
    }
    cycle = vr_cycle_load(conf, NULL, &error);
    if (cycle == NULL) {
        fprintf(stderr, "voidrail: %s\n", error);
        free(error);
        return 1;
    }
    pconf = vr_cycle_conf(cycle, vr_process_module);
    if (pconf->pid_file[0] == '\0') {
        fprintf(stderr, "voidrail: %s sets no process.pid_file: cannot find "
                "the running gateway\n", conf);
        vr_cycle_destroy(&cycle);
        return 1;
    }
    pid = vr_process_read_pid(pconf->pid_file);
    vr_cycle_destroy(&cycle);
    if (pid < 0) {
        return 1;
    }
    if (kill((pid_t) pid, signo) != 0) {
        fprintf(stderr, "voidrail: cannot signal pid %ld: %s\n", pid,
                strerror(errno));
        return 1;
    }
    return 0;
}

/* The subcommands of the voidrail command, besides serving a file. */
static const struct {
    const char  *name;
    int        (*run)(int argc, char **argv);
} vr_subcommands[] = {
    { "router", vr_router_command },
    { "ctl",    vr_ctl_command },
    { "client", vr_client_command },
    { "dealer", vr_dealer_command },
    { "keygen", vr_keygen_command },
};

static const __typeof__(vr_subcommands[0]) *
vr_subcommand(const char *name)
{
    for (size_t i = 0; i < vr_nelems(vr_subcommands); i++) {
        if (strcmp(vr_subcommands[i].name, name) == 0) {
            return &vr_subcommands[i];
        }
    }
    return NULL;
}

static void
vr_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail [-c FILE] [-t | -T | -s SIGNAL] [-K] [-h] [-V]\n"
"       voidrail router [options]      (voidrail router --help)\n"
"       voidrail ctl COMMAND NAME      (voidrail ctl --help)\n"
"       voidrail client [options]      (voidrail client --help)\n"
"       voidrail dealer [options]      (voidrail dealer --help)\n"
"       voidrail keygen [options]      (voidrail keygen --help)\n"
"\n"
"The VoidRail gateway: a ZeroMQ broker for VoidRail dealers and clients.\n"
"\n"
"  -c, --conf FILE     configuration file (default " VR_DEFAULT_CONF ")\n"
"  -t, --test          check the configuration and exit (0: good, 1: bad)\n"
"  -T, --show          check it and print it, every default filled in\n"
"  -s SIGNAL           signal the running gateway (process.pid_file):\n"
"                      reload, quit (drain, then stop), stop (at once),\n"
"                      reopen (log files)\n"
"  -K, --config-keys   print every configuration key: path, type, default,\n"
"                      reload or restart, description (tab-separated)\n"
"      --debug         log at debug level whatever the file says\n"
"  -h, --help          this help\n"
"  -V, --version       print the version\n"
"\n"
"Signals: SIGHUP reloads the file; SIGTERM and SIGQUIT drain (no new\n"
"calls, running ones finish within process.drain_timeout) and stop, a\n"
"second one or SIGINT stops at once; SIGUSR1 reopens the log files.\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "conf",        required_argument, NULL, 'c' },
        { "test",        no_argument,       NULL, 't' },
        { "show",        no_argument,       NULL, 'T' },
        { "signal",      required_argument, NULL, 's' },
        { "config-keys", no_argument,       NULL, 'K' },
        { "debug",       no_argument,       NULL, 'D' },
        { "help",        no_argument,       NULL, 'h' },
        { "version",     no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *conf = VR_DEFAULT_CONF, *signal_name = NULL;
    bool        test = false, show = false;
    int         c;

    if (argc > 1 && strcmp(argv[1], VR_CHILD_ENTRY) == 0) {
        return vr_child_trampoline(argc, argv);
    }
    vr_modules_index();
    if (argc > 2 && strcmp(argv[1], "--debug") == 0
        && vr_subcommand(argv[2]) != NULL)
    {
        vr_log_force_debug = true;
        argc--;
        argv++;
    }
    if (argc > 1 && vr_subcommand(argv[1]) != NULL) {
        return vr_subcommand(argv[1])->run(argc - 1, argv + 1);
    }
    while ((c = getopt_long(argc, argv, "c:tTs:KhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            test = true;
            break;
        case 'T':
            show = true;
            break;
        case 's':
            signal_name = optarg;
            break;
        case 'K': {
            vr_buf_t ref = VR_BUF_INIT;
            vr_cycle_reference(&ref);
            fwrite(ref.p, 1, ref.len, stdout);
            vr_buf_free(&ref);
            return 0;
        }
        case 'D':
            vr_log_force_debug = true;
            break;
        case 'h':
            vr_usage(stdout);
            return 0;
        case 'V':
            printf("voidrail %s\n", VR_VERSION);
            return 0;
        default:
            vr_usage(stderr);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidrail: unexpected argument \"%s\"\n",
                argv[optind]);
        vr_usage(stderr);
        return 1;
    }
    if (signal_name != NULL) {
        return vr_send_signal(conf, signal_name);
    }
    if (test || show) {
        char       *error = NULL;
        vr_cycle_t *cycle = vr_cycle_load(conf, NULL, &error);

        if (cycle == NULL || vr_cycle_check(cycle) != VR_OK) {
            if (error != NULL) {
                fprintf(stderr, "voidrail: %s\n", error);
            }
            fprintf(stderr, "voidrail: configuration file %s test failed\n",
                    conf);
            free(error);
            vr_cycle_destroy(&cycle);
            return 1;
        }
        if (show) {
            vr_buf_t out = VR_BUF_INIT;
            vr_buf_printf_b(&out, "# the effective configuration of %s\n",
                            conf);
            vr_cycle_show(cycle, &out);
            fwrite(out.p, 1, out.len, stdout);
            vr_buf_free(&out);
        }
        vr_cycle_destroy(&cycle);
        fprintf(stderr, "voidrail: configuration file %s test is successful\n",
                conf);
        return 0;
    }
    return vr_serve(conf, NULL);
}
