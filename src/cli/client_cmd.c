/*
 * client_cmd.c: `voidrail client`, the Python package's client command
 * line (PROTOCOL.md A.8) on libvoidrail.
 *
 *   voidrail client [--host H] [-p PORT] [-l] [--router-info]
 *                   [--queue-status] [-c NAME [-a JSON]] [-t S] [--api-key K]
 *
 * Results go to stdout, one JSON value per line (each stream chunk as it
 * arrives); --list, --router-info and --queue-status print a summary, or
 * the gateway's JSON with --json.  Failures go to stderr with an exit code
 * per kind (cli.h).  Unlike the Python CLI, a JSON array in --args is the
 * list of positional arguments.
 */
#include "config.h"
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voidrail.h"
#include "cli.h"
#include "vr_log.h"
#include "vr_main.h"

#define VR_CLI_CONNECT_MS  5000

static void
vr_client_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail client [--host HOST] [-p PORT] [--endpoint URL]\n"
"                       [-l] [--router-info] [--queue-status]\n"
"                       [-c NAME [-a JSON]] [-t SECONDS] [--api-key KEY]\n"
"\n"
"Talks to a VoidRail gateway (or a Python voidrail router) as a client.\n"
"\n"
"      --host HOST        the gateway's host (default " VR_CLI_HOST ")\n"
"  -p, --port PORT        its port (default " VR_CLI_PORT ")\n"
"      --endpoint URL     the whole ZeroMQ endpoint instead (tcp://, ipc://)\n"
"  -l, --list             the methods on offer and the live dealers\n"
"      --router-info      the gateway's settings and counters\n"
"      --queue-status     the queue of every method\n"
"  -c, --call NAME        call Service.method and print its answer: the\n"
"                         result, or each chunk of a stream as it arrives,\n"
"                         one JSON value per line\n"
"  -a, --args JSON        the arguments: a JSON object is the keyword\n"
"                         arguments, a JSON array the positional ones, any\n"
"                         other JSON value one argument, and text that is\n"
"                         not JSON one string argument\n"
"  -t, --timeout SECONDS  how long to wait for each answer (default 30);\n"
"                         the connection must come within 5 s (or that)\n"
"      --api-key KEY      the client key (default: $VOIDRAIL_API_KEY)\n"
"      --json             print --list, --router-info, --queue-status as\n"
"                         the gateway's JSON\n"
"      --logger-level L   DEBUG, INFO, WARNING (default), ERROR, CRITICAL\n"
"  -h, --help             this help\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  another failure (an answer that breaks the protocol)\n"
"  2  bad options or arguments\n"
"  3  no connection to the gateway\n"
"  4  the call failed: the dealer raised, or the gateway refused or lost it\n"
"     (no_service, queue_full, dealer_lost, ...); the error is on stderr\n"
"  5  timeout: no answer in time\n"
"  6  the API key was refused (unauthorized, forbidden)\n"
"\n"
"Environment: VOIDRAIL_API_KEY; VOIDRAIL_USE_CURVE=1 with\n"
"VOIDRAIL_CURVE_SERVER_KEY (Z85 or hex) encrypts the connection;\n"
"VOIDRAIL_CURVE_SECRET_KEY is the client's own secret key (for a gateway\n"
"with an allow-list; unset: a fresh pair).\n");
}

/* The exit status for a failure with err. */
static int
vr_client_status(const vr_error_t *err)
{
    static const struct { const char *code; int status; } map[] = {
        { "unreachable", VR_EXIT_UNREACHABLE },
        { "timeout", VR_EXIT_TIMEOUT },
        { "unauthorized", VR_EXIT_AUTH },
        { "forbidden", VR_EXIT_AUTH },
        { "usage", VR_EXIT_USAGE },
        { "bad_reply", VR_EXIT_FAILURE },
        { "closed", VR_EXIT_FAILURE },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(err->code, map[i].code) == 0) {
            return map[i].status;
        }
    }
    return VR_EXIT_METHOD;
}

static int
vr_client_fail(const char *what, const vr_error_t *err)
{
    fprintf(stderr, "voidrail client: %s: %s: %s\n", what, err->code,
            err->message);
    return vr_client_status(err);
}

static const char *
vr_client_str(json_t *o, const char *key, const char *none)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : none;
}

/* A JSON value for a summary line: strings bare, the rest as JSON. */
static void
vr_client_print_value(json_t *v)
{
    char *text;

    if (json_is_string(v)) {
        fputs(json_string_value(v), stdout);
        return;
    }
    text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    fputs(text != NULL ? text : "-", stdout);
    free(text);
}

static int
vr_client_list(vr_client_t *c, int timeout_ms, bool raw)
{
    json_t     *methods, *clusters, *m, *meta, *p;
    const char *name, *pname;
    char       *text;
    vr_error_t  err;
    size_t      active = 0;

    if (vr_client_methods(c, timeout_ms, &text, &err) != VR_OK) {
        return vr_client_fail("methods", &err);
    }
    if (raw) {
        printf("%s\n", text);
    }
    methods = json_loads(text, 0, NULL);
    free(text);
    if (vr_client_clusters(c, timeout_ms, &text, &err) != VR_OK) {
        json_decref(methods);
        return vr_client_fail("clusters", &err);
    }
    if (raw) {
        printf("%s\n", text);
        free(text);
        json_decref(methods);
        return VR_EXIT_OK;
    }
    clusters = json_loads(text, 0, NULL);
    free(text);
    printf("Methods (%zu):\n", json_object_size(methods));
    json_object_foreach(methods, name, meta) {
        printf("  %s%s\n", name,
               json_is_true(json_object_get(meta, "stream")) ? " (stream)"
                                                             : "");
        printf("    description: %s\n",
               vr_client_str(meta, "description", "-"));
        printf("    params:");
        p = json_object_get(meta, "params");
        if (json_object_size(p) == 0) {
            printf(" -");
        }
        json_object_foreach(p, pname, m) {
            printf(" %s: ", pname);
            vr_client_print_value(m);
            printf(";");
        }
        printf("\n");
    }
    json_object_foreach(clusters, name, meta) {
        active += strcmp(vr_client_str(meta, "state", ""), "active") == 0;
    }
    printf("Active instances (%zu):\n", active);
    json_object_foreach(clusters, name, meta) {
        if (strcmp(vr_client_str(meta, "state", ""), "active") == 0) {
            printf("  %s (group %s)\n", name,
                   vr_client_str(meta, "group", "?"));
        }
    }
    json_decref(methods);
    json_decref(clusters);
    return VR_EXIT_OK;
}

static void
vr_client_uptime(json_int_t s)
{
    if (s >= 86400) {
        printf("%lldd ", (long long) (s / 86400));
    }
    if (s >= 3600) {
        printf("%lldh ", (long long) (s / 3600 % 24));
    }
    if (s >= 60) {
        printf("%lldm ", (long long) (s / 60 % 60));
    }
    printf("%llds\n", (long long) (s % 60));
}

static void
vr_client_field(json_t *o, const char *label, const char *key)
{
    json_t *v = json_object_get(o, key);

    printf("  %s: ", label);
    if (v == NULL) {
        printf("-");
    } else {
        vr_client_print_value(v);
    }
    printf("\n");
}

static int
vr_client_info(vr_client_t *c, int timeout_ms, bool raw)
{
    json_t     *info, *groups, *g, *src, *n;
    const char *name, *addr;
    char       *text;
    vr_error_t  err;

    if (vr_client_router_info(c, timeout_ms, &text, &err) != VR_OK) {
        return vr_client_fail("router_info", &err);
    }
    if (raw) {
        printf("%s\n", text);
        free(text);
        return VR_EXIT_OK;
    }
    info = json_loads(text, 0, NULL);
    free(text);
    printf("Router:\n");
    vr_client_field(info, "mode", "mode");
    vr_client_field(info, "address", "address");
    printf("  uptime: ");
    vr_client_uptime(json_integer_value(json_object_get(info, "uptime")));
    vr_client_field(info, "client keys required", "client_api_keys_require");
    vr_client_field(info, "dealer keys required", "dealer_api_keys_require");
    printf("Services:\n");
    vr_client_field(info, "active", "active_services_count");
    vr_client_field(info, "busy", "busy_services_count");
    vr_client_field(info, "idle", "idle_services_count");
    vr_client_field(info, "inactive", "inactive_services_count");
    printf("Requests:\n");
    vr_client_field(info, "received", "total_requests");
    vr_client_field(info, "answered", "total_responses");
    vr_client_field(info, "in process", "requests_in_process");
    vr_client_field(info, "in queue", "requests_in_queue");
    groups = json_object_get(info, "service_by_group");
    if (json_object_size(groups) > 0) {
        printf("Groups:\n");
    }
    json_object_foreach(groups, name, g) {
        printf("  %s: %lld instances\n", name, (long long)
               json_integer_value(json_object_get(g, "count")));
        src = json_object_get(g, "sources");
        json_object_foreach(src, addr, n) {
            printf("    - %s: %lld\n", addr,
                   (long long) json_integer_value(n));
        }
    }
    printf("Timeouts:\n");
    vr_client_field(info, "idle heartbeat (s)", "idle_heartbeat_timeout");
    vr_client_field(info, "busy heartbeat (s)", "busy_heartbeat_timeout");
    json_decref(info);
    return VR_EXIT_OK;
}

static int
vr_client_queues(vr_client_t *c, int timeout_ms, bool raw)
{
    json_t     *queues, *q;
    const char *name;
    char       *text;
    vr_error_t  err;

    if (vr_client_queue_status(c, timeout_ms, &text, &err) != VR_OK) {
        return vr_client_fail("queue_status", &err);
    }
    if (raw) {
        printf("%s\n", text);
        free(text);
        return VR_EXIT_OK;
    }
    queues = json_loads(text, 0, NULL);
    free(text);
    printf("Queues (%zu):\n", json_object_size(queues));
    json_object_foreach(queues, name, q) {
        printf("  %s: length %lld, available %lld, busy %lld\n", name,
               (long long) json_integer_value(json_object_get(q,
                                                              "queue_length")),
               (long long) json_integer_value(
                   json_object_get(q, "available_services")),
               (long long) json_integer_value(
                   json_object_get(q, "busy_services")));
    }
    json_decref(queues);
    return VR_EXIT_OK;
}

/*
 * --args as the seed documents it: object = kwargs, array = args, other
 * JSON = one argument, not JSON = one string.  Sets *args and *kwargs
 * (malloc'ed, either may stay NULL).
 */
static void
vr_client_args(const char *text, char **args, char **kwargs)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    char   *one;
    size_t  n;

    *args = *kwargs = NULL;
    if (json_is_object(v)) {
        *kwargs = strdup(text);
    } else if (json_is_array(v)) {
        *args = strdup(text);
    } else {
        if (v == NULL) {
            v = json_string(text);
        }
        one = v != NULL ? json_dumps(v, JSON_ENCODE_ANY | JSON_ENSURE_ASCII)
                        : NULL;
        if (one == NULL) {
            one = strdup("null");   /* text that is not even UTF-8 */
        }
        n = strlen(one) + 3;
        *args = malloc(n);
        snprintf(*args, n, "[%s]", one);
        free(one);
    }
    json_decref(v);
}

static int
vr_client_do_call(vr_client_t *c, const char *method, const char *text,
                  int timeout_ms)
{
    vr_call_t  *call;
    vr_error_t  err;
    char       *args = NULL, *kwargs = NULL, *item;
    int         rc;

    if (text != NULL) {
        vr_client_args(text, &args, &kwargs);
    }
    call = vr_client_call(c, method, args, kwargs, &err);
    free(args);
    free(kwargs);
    if (call == NULL) {
        return vr_client_fail(method, &err);
    }
    while ((rc = vr_call_next(call, timeout_ms, &item, &err)) == VR_MORE) {
        printf("%s\n", item);
        fflush(stdout);
        free(item);
    }
    vr_call_destroy(&call);
    return rc == VR_OK ? VR_EXIT_OK : vr_client_fail(method, &err);
}

int
vr_client_command(int argc, char **argv)
{
    enum { O_HOST = 256, O_INFO, O_QUEUES, O_KEY, O_LEVEL, O_ENDPOINT,
           O_JSON };
    static const struct option opts[] = {
        { "host",         required_argument, NULL, O_HOST },
        { "port",         required_argument, NULL, 'p' },
        { "endpoint",     required_argument, NULL, O_ENDPOINT },
        { "list",         no_argument,       NULL, 'l' },
        { "router-info",  no_argument,       NULL, O_INFO },
        { "queue-status", no_argument,       NULL, O_QUEUES },
        { "call",         required_argument, NULL, 'c' },
        { "args",         required_argument, NULL, 'a' },
        { "timeout",      required_argument, NULL, 't' },
        { "api-key",      required_argument, NULL, O_KEY },
        { "json",         no_argument,       NULL, O_JSON },
        { "logger-level", required_argument, NULL, O_LEVEL },
        { "help",         no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *host = VR_CLI_HOST, *port = VR_CLI_PORT, *endpoint = NULL;
    const char  *call = NULL, *args = NULL, *key = NULL;
    bool         list = false, info = false, queues = false, raw = false;
    int          timeout_ms = 30000, level = VR_LEVEL_WARN, c, rc;
    char        *ep;
    vr_client_t *client;
    vr_error_t   err;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:lc:a:t:h", opts, NULL)) != -1) {
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
        case 'l':
            list = true;
            break;
        case O_INFO:
            info = true;
            break;
        case O_QUEUES:
            queues = true;
            break;
        case 'c':
            call = optarg;
            break;
        case 'a':
            args = optarg;
            break;
        case 't':
            timeout_ms = vr_cli_seconds_ms(optarg);
            if (timeout_ms < 0) {
                fprintf(stderr, "voidrail client: --timeout takes seconds, "
                        "not \"%s\"\n", optarg);
                return VR_EXIT_USAGE;
            }
            break;
        case O_KEY:
            key = optarg;
            break;
        case O_JSON:
            raw = true;
            break;
        case O_LEVEL:
            level = vr_cli_level(optarg);
            if (level < 0) {
                fprintf(stderr, "voidrail client: --logger-level must be "
                        "DEBUG, INFO, WARNING, ERROR or CRITICAL\n");
                return VR_EXIT_USAGE;
            }
            break;
        case 'h':
            vr_client_usage(stdout);
            return VR_EXIT_OK;
        default:
            vr_client_usage(stderr);
            return VR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidrail client: unexpected argument \"%s\"\n",
                argv[optind]);
        return VR_EXIT_USAGE;
    }
    if (!list && !info && !queues && call == NULL) {
        fprintf(stderr, "voidrail client: give at least one of --list, "
                "--router-info, --queue-status or --call (see --help)\n");
        return VR_EXIT_USAGE;
    }
    if (args != NULL && call == NULL) {
        fprintf(stderr, "voidrail client: --args goes with --call\n");
        return VR_EXIT_USAGE;
    }

    if (vr_log_force_debug) {
        level = VR_LEVEL_DEBUG;         /* voidrail --debug client ... */
    }
    ep = vr_cli_endpoint(endpoint, host, port);
    client = vr_client_new(ep);
    vr_client_set_log(client, level, NULL, NULL);
    if (key != NULL) {
        vr_client_set_api_key(client, key);
    }
    rc = VR_EXIT_OK;
    if (vr_client_connect(client, timeout_ms < VR_CLI_CONNECT_MS
                                  ? timeout_ms : VR_CLI_CONNECT_MS,
                          &err) != VR_OK)
    {
        fprintf(stderr, "voidrail client: %s: %s\n", ep, err.message);
        rc = strcmp(err.code, "timeout") == 0 ? VR_EXIT_UNREACHABLE
                                              : vr_client_status(&err);
    }
    if (rc == VR_EXIT_OK && list) {
        rc = vr_client_list(client, timeout_ms, raw);
    }
    if (rc == VR_EXIT_OK && info) {
        rc = vr_client_info(client, timeout_ms, raw);
    }
    if (rc == VR_EXIT_OK && queues) {
        rc = vr_client_queues(client, timeout_ms, raw);
    }
    if (rc == VR_EXIT_OK && call != NULL) {
        rc = vr_client_do_call(client, call, args, timeout_ms);
    }
    fflush(stdout);
    vr_client_destroy(&client);
    free(ep);
    return rc;
}
