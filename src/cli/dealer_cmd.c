/*
 * dealer_cmd.c: `voidrail dealer`, a worker process for the gateway.
 *
 *   voidrail dealer [--host H] [-p PORT] -m LIB.so [--class NAME]...
 *   voidrail dealer [--host H] [-p PORT] --exec "CMD ..." --service NAME
 *                   [-n INSTANCES] [--max-concurrent N] [--heartbeat S]
 *                   [--api-key KEY] [--stop-timeout S]
 *
 * --module loads a service module: a shared object exporting the table
 * voidrail_services (voidrail.h, libvoidrail(3)); each service it serves
 * (--class picks, else the module must have exactly one) becomes a
 * dealer named after it.  --exec serves a program over JSON Lines
 * (exec.c).  With --instances N the command supervises N copies of
 * itself (supervise.c); otherwise it serves in this process until SIGINT
 * or SIGTERM, then leaves the gateway cleanly.
 */
#include "config.h"
#include <dlfcn.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "voidrail.h"
#include "cli.h"
#include "vr_log.h"
#include "vr_main.h"

#ifndef VR_PKGLIBDIR
#define VR_PKGLIBDIR  "/usr/local/lib/voidrail"
#endif

#define VR_MAX_CLASSES  32

typedef struct {
    const char  *endpoint;
    const char  *module;
    const char  *classes[VR_MAX_CLASSES];
    int          nclasses;
    const char  *exec;
    const char  *service;
    const char  *api_key;
    int          instances;
    int          max_concurrent;    /* 0: the service's default */
    int          heartbeat_ms;
    int          stop_timeout_ms;
    int          level;
    const char  *level_name;
} vr_dealer_opts_t;

static void
vr_dealer_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail dealer [--host HOST] [-p PORT] [--endpoint URL]\n"
"                       -m LIB.so [--class NAME]...\n"
"       voidrail dealer [--host HOST] [-p PORT] [--endpoint URL]\n"
"                       --exec \"COMMAND ...\" --service NAME\n"
"       [-n N] [--max-concurrent N] [--heartbeat S] [--api-key KEY]\n"
"       [--stop-timeout S] [--logger-level LEVEL]\n"
"\n"
"Serves methods to a VoidRail gateway until SIGINT or SIGTERM, then\n"
"leaves it cleanly (running requests get --stop-timeout to finish).\n"
"\n"
"      --host HOST          the gateway's host (default " VR_CLI_HOST ")\n"
"  -p, --port PORT          its port (default " VR_CLI_PORT ")\n"
"      --endpoint URL       the whole ZeroMQ endpoint instead\n"
"  -m, --module LIB.so      a service module (a C shared object that\n"
"                           exports voidrail_services, see libvoidrail(3));\n"
"                           a bare name is looked for in . and in\n"
"                           " VR_PKGLIBDIR "\n"
"      --class NAME         the service of the module to serve (repeatable;\n"
"                           default: the module's only service)\n"
"      --exec \"COMMAND\"     serve a program (run by /bin/sh -c) that speaks\n"
"                           JSON Lines on its stdin and stdout; its methods\n"
"                           are served as NAME.method (voidrail-dealer(1))\n"
"      --service NAME       the service (group) name for --exec\n"
"  -n, --instances N        run N processes and keep them running (default\n"
"                           1: serve in this process)\n"
"      --max-concurrent N   requests one process holds at once, one worker\n"
"                           thread each (default: the module's, else 1)\n"
"      --heartbeat S        heartbeat period in seconds (default 1)\n"
"      --api-key KEY        the dealer key (default: $VOIDRAIL_API_KEY)\n"
"      --stop-timeout S     how long running requests may finish when\n"
"                           stopping (default 5)\n"
"      --logger-level L     DEBUG, INFO (default), WARNING, ERROR, CRITICAL\n"
"  -h, --help               this help\n"
"\n"
"Exit status: 0 after a stop by signal, 1 when serving failed (the module's\n"
"init, the program's method list), 2 for bad options or a module that\n"
"cannot be loaded.\n");
}

/* ---- service modules --------------------------------------------------- */

static void *
vr_dealer_dlopen(const char *name)
{
    char  path[4096];
    void *h;

    if (strchr(name, '/') != NULL) {
        return dlopen(name, RTLD_NOW | RTLD_LOCAL);
    }
    snprintf(path, sizeof(path), "./%s", name);
    if (access(path, F_OK) == 0) {
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    snprintf(path, sizeof(path), "%s/%s", VR_PKGLIBDIR, name);
    if (access(path, F_OK) == 0) {
        return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    }
    h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    return h;
}

/*
 * Loads the module and picks its services (into svcs, NULL-ended).
 * Returns the handle, or NULL after a message on stderr.
 */
static void *
vr_dealer_load(const vr_dealer_opts_t *o, const vr_service_def_t **svcs)
{
    const vr_service_def_t *table;
    void                   *h = vr_dealer_dlopen(o->module);
    int                     n = 0, all = 0;

    if (h == NULL) {
        fprintf(stderr, "voidrail dealer: cannot load %s: %s\n", o->module,
                dlerror());
        return NULL;
    }
    table = dlsym(h, VR_MODULE_SYMBOL);
    if (table == NULL) {
        fprintf(stderr, "voidrail dealer: %s has no " VR_MODULE_SYMBOL
                " table: not a VoidRail service module\n", o->module);
        dlclose(h);
        return NULL;
    }
    for (all = 0; table[all].name != NULL; all++) {
        if (table[all].abi != VR_MODULE_ABI || table[all].methods == NULL) {
            fprintf(stderr, "voidrail dealer: service %s of %s was built for "
                    "module ABI %d, this is %d\n", table[all].name, o->module,
                    table[all].abi, VR_MODULE_ABI);
            dlclose(h);
            return NULL;
        }
    }
    if (o->nclasses == 0 && all != 1) {
        fprintf(stderr, "voidrail dealer: %s has %d services; pick with "
                "--class:", o->module, all);
        for (int i = 0; i < all; i++) {
            fprintf(stderr, " %s", table[i].name);
        }
        fprintf(stderr, "\n");
        dlclose(h);
        return NULL;
    }
    if (o->nclasses == 0) {
        svcs[n++] = &table[0];
    }
    for (int c = 0; c < o->nclasses; c++) {
        int i;
        for (i = 0; i < all && strcmp(table[i].name, o->classes[c]) != 0;
             i++)
        {
        }
        if (i == all) {
            fprintf(stderr, "voidrail dealer: %s has no service %s\n",
                    o->module, o->classes[c]);
            dlclose(h);
            return NULL;
        }
        svcs[n++] = &table[i];
    }
    svcs[n] = NULL;
    return h;
}

static vr_dealer_t *
vr_dealer_make(const vr_dealer_opts_t *o, const vr_service_def_t *s,
               void *data)
{
    vr_dealer_t *d = vr_dealer_new(o->endpoint, s->name);
    int          mc = o->max_concurrent > 0 ? o->max_concurrent
                      : s->max_concurrent > 0 ? s->max_concurrent : 1;

    if (d == NULL) {
        return NULL;
    }
    for (const vr_method_def_t *m = s->methods; m->name != NULL; m++) {
        if (vr_dealer_add_def(d, m, data) != VR_OK) {
            fprintf(stderr, "voidrail dealer: method %s of %s is not valid "
                    "(name, handler, params and metadata JSON objects)\n",
                    m->name, s->name);
            vr_dealer_destroy(&d);
            return NULL;
        }
    }
    vr_dealer_set_log(d, o->level, NULL, NULL);
    vr_dealer_set_max_concurrent(d, mc);
    vr_dealer_set_heartbeat(d, o->heartbeat_ms);
    vr_dealer_set_stop_timeout(d, o->stop_timeout_ms);
    vr_dealer_set_cancel(d, 1);
    if (o->api_key != NULL) {
        vr_dealer_set_api_key(d, o->api_key);
    }
    return d;
}

static int
vr_dealer_serve_module(const vr_dealer_opts_t *o)
{
    const vr_service_def_t *svcs[VR_MAX_CLASSES + 1];
    vr_dealer_t            *dealers[VR_MAX_CLASSES];
    void                   *data[VR_MAX_CLASSES];
    bool                    ready[VR_MAX_CLASSES];
    void                   *h;
    int                     n, rc = 0;

    h = vr_dealer_load(o, svcs);
    if (h == NULL) {
        return VR_EXIT_USAGE;
    }
    vr_cli_block_stop_signals();        /* before any thread */

    for (n = 0; svcs[n] != NULL && rc == 0; n++) {
        data[n] = NULL;
        dealers[n] = NULL;
        ready[n] = svcs[n]->init == NULL || svcs[n]->init(&data[n]) == 0;
        if (!ready[n]) {
            fprintf(stderr, "voidrail dealer: the init of service %s "
                    "failed\n", svcs[n]->name);
            rc = 1;
            continue;
        }
        dealers[n] = vr_dealer_make(o, svcs[n], data[n]);
        if (dealers[n] == NULL || vr_dealer_start(dealers[n]) != VR_OK) {
            fprintf(stderr, "voidrail dealer: cannot serve %s at %s\n",
                    svcs[n]->name, o->endpoint);
            rc = 1;
        }
    }
    if (rc == 0) {
        fprintf(stderr, "voidrail dealer: signal %d: stopping\n",
                vr_cli_wait_stop());
    }
    for (int i = 0; i < n; i++) {
        vr_dealer_stop(dealers[i]);
    }
    for (int i = 0; i < n; i++) {
        vr_dealer_destroy(&dealers[i]);         /* waits for its handlers */
        if (ready[i] && svcs[i]->fini != NULL) {
            svcs[i]->fini(data[i]);
        }
    }
    dlclose(h);
    return rc;
}

/* ---- supervision ------------------------------------------------------- */

static void
vr_dealer_push(char **argv, int *n, const char *a, const char *b)
{
    argv[(*n)++] = strdup(a);
    if (b != NULL) {
        argv[(*n)++] = strdup(b);
    }
}

/* The command line of one instance: these options, one process. */
static char **
vr_dealer_child_argv(const vr_dealer_opts_t *o, const char *cls)
{
    char **argv = calloc(32, sizeof(char *));
    char   num[32];
    int    n = 0;

    vr_dealer_push(argv, &n, "voidrail", "dealer");
    vr_dealer_push(argv, &n, "--endpoint", o->endpoint);
    if (o->exec != NULL) {
        vr_dealer_push(argv, &n, "--exec", o->exec);
        vr_dealer_push(argv, &n, "--service", o->service);
    } else {
        vr_dealer_push(argv, &n, "--module", o->module);
        if (cls != NULL) {
            vr_dealer_push(argv, &n, "--class", cls);
        }
    }
    if (o->max_concurrent > 0) {
        snprintf(num, sizeof(num), "%d", o->max_concurrent);
        vr_dealer_push(argv, &n, "--max-concurrent", num);
    }
    snprintf(num, sizeof(num), "%g", o->heartbeat_ms / 1000.0);
    vr_dealer_push(argv, &n, "--heartbeat", num);
    snprintf(num, sizeof(num), "%g", o->stop_timeout_ms / 1000.0);
    vr_dealer_push(argv, &n, "--stop-timeout", num);
    vr_dealer_push(argv, &n, "--logger-level", o->level_name);
    argv[n] = NULL;
    return argv;
}

static int
vr_dealer_supervise(const vr_dealer_opts_t *o)
{
    const vr_service_def_t *svcs[VR_MAX_CLASSES + 1];
    int                     per = 1, count, rc;
    char                 ***argvs;

    if (o->module != NULL) {
        /* Fail now, not N times later; the module's names are needed. */
        void *h = vr_dealer_load(o, svcs);
        if (h == NULL) {
            return VR_EXIT_USAGE;
        }
        for (per = 0; svcs[per] != NULL; per++) {
        }
        dlclose(h);
    }
    if (o->api_key != NULL) {
        setenv("VOIDRAIL_API_KEY", o->api_key, 1);      /* not in argv */
    }
    count = per * o->instances;
    argvs = calloc((size_t) count, sizeof(char **));
    for (int c = 0; c < per; c++) {
        for (int i = 0; i < o->instances; i++) {
            argvs[c * o->instances + i] = vr_dealer_child_argv(
                o, o->nclasses > 0 ? o->classes[c] : NULL);
        }
    }
    rc = vr_cli_supervise(argvs, count, o->stop_timeout_ms + 2000);
    for (int i = 0; i < count; i++) {
        for (char **a = argvs[i]; *a != NULL; a++) {
            free(*a);
        }
        free(argvs[i]);
    }
    free(argvs);
    return rc;
}

/* ---- the command ------------------------------------------------------- */

int
vr_dealer_command(int argc, char **argv)
{
    enum { O_HOST = 256, O_ENDPOINT, O_CLASS, O_EXEC, O_SERVICE, O_MAXC,
           O_HEARTBEAT, O_KEY, O_STOP, O_LEVEL };
    static const struct option opts[] = {
        { "host",           required_argument, NULL, O_HOST },
        { "port",           required_argument, NULL, 'p' },
        { "endpoint",       required_argument, NULL, O_ENDPOINT },
        { "module",         required_argument, NULL, 'm' },
        { "class",          required_argument, NULL, O_CLASS },
        { "exec",           required_argument, NULL, O_EXEC },
        { "service",        required_argument, NULL, O_SERVICE },
        { "instances",      required_argument, NULL, 'n' },
        { "max-concurrent", required_argument, NULL, O_MAXC },
        { "heartbeat",      required_argument, NULL, O_HEARTBEAT },
        { "api-key",        required_argument, NULL, O_KEY },
        { "stop-timeout",   required_argument, NULL, O_STOP },
        { "logger-level",   required_argument, NULL, O_LEVEL },
        { "help",           no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    vr_dealer_opts_t o;
    const char      *host = VR_CLI_HOST, *port = VR_CLI_PORT;
    const char      *endpoint = NULL, *bad = NULL;
    char            *ep;
    int              c, rc;

    vr_cli_supervised();
    memset(&o, 0, sizeof(o));
    o.instances = 1;
    o.heartbeat_ms = 1000;
    o.stop_timeout_ms = 5000;
    o.level = VR_LEVEL_INFO;
    o.level_name = "INFO";
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:m:n:h", opts, NULL)) != -1) {
        switch (c) {
        case O_HOST:
            host = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case O_ENDPOINT:
            endpoint = optarg;
            break;
        case 'm':
            o.module = optarg;
            break;
        case O_CLASS:
            if (o.nclasses == VR_MAX_CLASSES) {
                bad = "--class: at most 32";
                break;
            }
            o.classes[o.nclasses++] = optarg;
            break;
        case O_EXEC:
            o.exec = optarg;
            break;
        case O_SERVICE:
            o.service = optarg;
            break;
        case 'n':
            o.instances = vr_cli_count(optarg, 256);
            bad = o.instances < 0 ? "--instances takes 1..256" : bad;
            break;
        case O_MAXC:
            o.max_concurrent = vr_cli_count(optarg, 1024);
            bad = o.max_concurrent < 0 ? "--max-concurrent takes 1..1024"
                                       : bad;
            break;
        case O_HEARTBEAT:
            o.heartbeat_ms = vr_cli_seconds_ms(optarg);
            bad = o.heartbeat_ms < 50 || o.heartbeat_ms > 60000
                  ? "--heartbeat takes 0.05..60 seconds" : bad;
            break;
        case O_KEY:
            o.api_key = optarg;
            break;
        case O_STOP:
            o.stop_timeout_ms = vr_cli_seconds_ms(optarg);
            bad = o.stop_timeout_ms < 0 ? "--stop-timeout takes seconds"
                                        : bad;
            break;
        case O_LEVEL:
            o.level = vr_cli_level(optarg);
            o.level_name = optarg;
            bad = o.level < 0 ? "--logger-level takes DEBUG, INFO, WARNING, "
                                "ERROR or CRITICAL" : bad;
            break;
        case 'h':
            vr_dealer_usage(stdout);
            return 0;
        default:
            vr_dealer_usage(stderr);
            return VR_EXIT_USAGE;
        }
    }
    if (bad == NULL && optind < argc) {
        bad = "unexpected arguments";
    }
    if (bad == NULL && (o.module == NULL) == (o.exec == NULL)) {
        bad = "give either --module or --exec";
    }
    if (bad == NULL && o.exec != NULL && o.service == NULL) {
        bad = "--exec needs --service NAME";
    }
    if (bad == NULL && o.exec != NULL
        && (o.service[0] == '\0' || strchr(o.service, '.') != NULL))
    {
        bad = "--service must be a name without dots";
    }
    if (bad == NULL && o.exec != NULL && o.nclasses > 0) {
        bad = "--class goes with --module";
    }
    if (bad != NULL) {
        fprintf(stderr, "voidrail dealer: %s (see --help)\n", bad);
        return VR_EXIT_USAGE;
    }
    if (vr_log_force_debug) {
        o.level = VR_LEVEL_DEBUG;       /* voidrail --debug dealer ... */
        o.level_name = "DEBUG";         /* and so its instances */
    }
    ep = vr_cli_endpoint(endpoint, host, port);
    o.endpoint = ep;
    if (o.instances > 1) {
        rc = vr_dealer_supervise(&o);
    } else if (o.exec != NULL) {
        vr_cli_exec_t x = { ep, o.exec, o.service, o.api_key,
                            o.max_concurrent > 0 ? o.max_concurrent : 1,
                            o.heartbeat_ms, o.stop_timeout_ms, o.level };
        rc = vr_cli_exec_run(&x);
    } else {
        rc = vr_dealer_serve_module(&o);
    }
    free(ep);
    return rc;
}
