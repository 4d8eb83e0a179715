/*
 * vr_main.c: the voidrail command.
 *
 *   voidrail [-c FILE] [-t] [-K] [-h] [-V]     the gateway, from a YAML file
 *   voidrail router [options]                 the gateway, from options
 *
 * Serving: load and check the configuration, block signals, start ZeroMQ,
 * initialise every module, run the loop until a signal says stop.
 */
#include "config.h"
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_buf.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_main.h"
#include "vr_module.h"
#include "vr_signal.h"

#define VR_DEFAULT_CONF  "conf/voidrail.yaml"

typedef struct {
    vr_cycle_t  *cycle;
    vr_loop_t   *loop;
    void        *zctx;
    int          sigfd;
    bool         from_file;     /* SIGHUP re-reads cycle->conf_file */
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
    cycle = vr_cycle_load(old->conf_file, NULL, &error);
    if (cycle == NULL) {
        vr_log_error("reload failed, the running configuration stays: %s",
                     error);
        free(error);
        return;
    }
    cycle->generation = old->generation + 1;
    cycle->loop = m->loop;
    cycle->zctx = m->zctx;
    cycle->broker = old->broker;
    if (vr_cycle_init(cycle, old) != VR_OK) {
        vr_log_error("reload failed, the running configuration stays");
        vr_cycle_init(old, old);
        vr_cycle_destroy(&cycle);
        return;
    }
    vr_cycle_destroy(&old);
    m->cycle = cycle;
    vr_log_notice("configuration generation %u in force", cycle->generation);
}

static void
vr_main_on_signal(void *data, short revents)
{
    vr_main_t *m = data;
    int        signo;

    while ((signo = vr_signal_read(m->sigfd)) != 0) {
        switch (signo) {
        case SIGHUP:
            vr_main_reload(m);
            break;
        case SIGUSR1:
            vr_log_reopen();
            break;
        case SIGCHLD:
            break;
        default:
            vr_log_notice("signal %d (%s): stopping", signo,
                          strsignal(signo));
            vr_loop_stop(m->loop);
            break;
        }
    }
}

int
vr_serve(const char *name, const char *text)
{
    vr_main_t m;
    char     *error = NULL;
    int       rc = 0;

    memset(&m, 0, sizeof(m));
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
        if (vr_loop_run(m.loop) != VR_OK) {
            rc = 1;
        }
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

static void
vr_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail [-c FILE] [-t] [-K] [-h] [-V]\n"
"       voidrail router [options]      (voidrail router --help)\n"
"\n"
"The VoidRail gateway: a ZeroMQ broker for VoidRail dealers and clients.\n"
"\n"
"  -c, --conf FILE     configuration file (default " VR_DEFAULT_CONF ")\n"
"  -t, --test          check the configuration and exit (0: good, 1: bad)\n"
"  -K, --config-keys   print every configuration key: path, type, default,\n"
"                      reload or restart, description (tab-separated)\n"
"      --debug         log at debug level whatever the file says\n"
"  -h, --help          this help\n"
"  -V, --version       print the version\n"
"\n"
"Signals: SIGHUP reloads the file, SIGTERM/SIGINT/SIGQUIT stop,\n"
"SIGUSR1 reopens the log file.\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "conf",        required_argument, NULL, 'c' },
        { "test",        no_argument,       NULL, 't' },
        { "config-keys", no_argument,       NULL, 'K' },
        { "debug",       no_argument,       NULL, 'D' },
        { "help",        no_argument,       NULL, 'h' },
        { "version",     no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *conf = VR_DEFAULT_CONF;
    bool        test = false;
    int         c;

    vr_modules_index();
    if (argc > 1 && strcmp(argv[1], "router") == 0) {
        return vr_router_command(argc - 1, argv + 1);
    }
    if (argc > 2 && strcmp(argv[1], "--debug") == 0
        && strcmp(argv[2], "router") == 0)
    {
        vr_log_force_debug = true;
        return vr_router_command(argc - 2, argv + 2);
    }
    while ((c = getopt_long(argc, argv, "c:tKhV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            conf = optarg;
            break;
        case 't':
            test = true;
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
    if (test) {
        char       *error = NULL;
        vr_cycle_t *cycle = vr_cycle_load(conf, NULL, &error);

        if (cycle == NULL) {
            fprintf(stderr, "voidrail: %s\n", error);
            fprintf(stderr, "voidrail: configuration file %s test failed\n",
                    conf);
            free(error);
            return 1;
        }
        vr_cycle_destroy(&cycle);
        fprintf(stderr, "voidrail: configuration file %s test is successful\n",
                conf);
        return 0;
    }
    return vr_serve(conf, NULL);
}
