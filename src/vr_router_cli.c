/*
 * vr_router_cli.c: `voidrail router`, the Python package's command line.
 *
 * The options are turned into a YAML configuration and served exactly as
 * a file would be, so they are checked by the same tables and reported
 * with the same messages.  --heartbeat S means what it meant to the Python
 * router: idle dealers expire after S + 3 seconds.
 */
#include "config.h"
#include <getopt.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_conf.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_main.h"
#include "vr_rand.h"

static void
vr_router_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail router [options]\n"
"\n"
"Runs the gateway without a configuration file.\n"
"\n"
"      --host HOST          address to bind (default 127.0.0.1)\n"
"  -p, --port PORT          port to bind (default 5555)\n"
"      --heartbeat S        seconds; idle dealers expire after S + 3\n"
"                           (default 30)\n"
"      --dealer-keys KEY    a key dealers may register with (repeatable)\n"
"      --client-keys KEY    a key clients may authenticate with (repeatable)\n"
"      --require-auth       refuse to start without any key\n"
"      --mode MODE          fifo (default) or load_balance\n"
"      --generate-keys      print a new dealer key and client key, and exit\n"
"      --logger-level LVL   DEBUG, INFO, WARNING, ERROR or CRITICAL\n"
"      --http HOST:PORT     also serve the HTTP front end there (default:\n"
"                           no HTTP, as the Python router)\n"
"  -h, --help               this help\n"
"\n"
"Environment: VOIDRAIL_DEALER_API_KEYS and VOIDRAIL_CLIENT_API_KEYS add\n"
"comma-separated keys; VOIDRAIL_REQUIRE_AUTH=1 is --require-auth.\n");
}

static int
vr_router_generate_keys(void)
{
    char *dealer = vr_api_key_new("dealer");
    char *client = vr_api_key_new("client");

    if (dealer == NULL || client == NULL) {
        fprintf(stderr, "voidrail: the random source failed\n");
        free(dealer);
        free(client);
        return 1;
    }
    printf("VOIDRAIL_DEALER_API_KEYS=%s\n", dealer);
    printf("VOIDRAIL_CLIENT_API_KEYS=%s\n", client);
    free(dealer);
    free(client);
    return 0;
}

static const char *
vr_router_level(const char *python)
{
    static const char *map[][2] = {
        { "DEBUG", "debug" }, { "INFO", "info" }, { "WARNING", "warn" },
        { "ERROR", "error" }, { "CRITICAL", "error" },
    };

    for (size_t i = 0; i < vr_nelems(map); i++) {
        if (strcasecmp(python, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

static bool
vr_env_true(const char *name)
{
    const char *v = getenv(name);

    return v != NULL && (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0
                         || strcasecmp(v, "yes") == 0);
}

static bool
vr_env_has_keys(const char *name)
{
    const char *v = getenv(name);

    for (; v != NULL && *v; v++) {
        if (*v != ',' && *v != ' ') {
            return true;
        }
    }
    return false;
}

/* Appends "  key: [..]" with each value as a JSON (= YAML) string. */
static void
vr_router_yaml_list(vr_buf_t *y, const char *key, char **v, size_t n)
{
    vr_buf_printf_b(y, "  %s: [", key);
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            vr_buf_adds(y, ", ");
        }
        vr_json_escape(y, v[i], strlen(v[i]));
    }
    vr_buf_adds(y, "]\n");
}

int
vr_router_command(int argc, char **argv)
{
    enum { O_HOST = 256, O_HEARTBEAT, O_DKEYS, O_CKEYS, O_REQUIRE, O_MODE,
           O_GENKEYS, O_LEVEL, O_HTTP };
    static const struct option opts[] = {
        { "host",          required_argument, NULL, O_HOST },
        { "port",          required_argument, NULL, 'p' },
        { "heartbeat",     required_argument, NULL, O_HEARTBEAT },
        { "dealer-keys",   required_argument, NULL, O_DKEYS },
        { "client-keys",   required_argument, NULL, O_CKEYS },
        { "require-auth",  no_argument,       NULL, O_REQUIRE },
        { "mode",          required_argument, NULL, O_MODE },
        { "generate-keys", no_argument,       NULL, O_GENKEYS },
        { "logger-level",  required_argument, NULL, O_LEVEL },
        { "http",          required_argument, NULL, O_HTTP },
        { "help",          no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *host = "127.0.0.1", *port = "5555", *mode = "fifo";
    const char *level = "info", *http = NULL;
    double      heartbeat_s = 30.0;
    char      **dkeys = vr_calloc((size_t) argc + 1, sizeof(char *));
    char      **ckeys = vr_calloc((size_t) argc + 1, sizeof(char *));
    size_t      nd = 0, nc = 0;
    bool        require = vr_env_true("VOIDRAIL_REQUIRE_AUTH");
    vr_buf_t    y = VR_BUF_INIT, ep = VR_BUF_INIT;
    char       *end;
    int         c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
        switch (c) {
        case O_HOST:
            host = optarg;
            break;
        case 'p':
            port = optarg;
            break;
        case O_HEARTBEAT:
            heartbeat_s = strtod(optarg, &end);
            if (*end != '\0' || end == optarg || !(heartbeat_s > 0)
                || heartbeat_s > 86400)
            {
                fprintf(stderr, "voidrail router: --heartbeat must be a "
                        "number of seconds above 0\n");
                rc = 1;
                goto done;
            }
            break;
        case O_DKEYS:
            dkeys[nd++] = optarg;
            break;
        case O_CKEYS:
            ckeys[nc++] = optarg;
            break;
        case O_REQUIRE:
            require = true;
            break;
        case O_MODE:
            mode = optarg;
            if (strcmp(mode, "fifo") != 0 && strcmp(mode, "load_balance") != 0)
            {
                fprintf(stderr, "voidrail router: --mode must be fifo or "
                        "load_balance\n");
                rc = 1;
                goto done;
            }
            break;
        case O_GENKEYS:
            rc = vr_router_generate_keys();
            goto done;
        case O_LEVEL:
            level = vr_router_level(optarg);
            if (level == NULL) {
                fprintf(stderr, "voidrail router: --logger-level must be "
                        "DEBUG, INFO, WARNING, ERROR or CRITICAL\n");
                rc = 1;
                goto done;
            }
            break;
        case O_HTTP:
            http = optarg;
            break;
        case 'h':
            vr_router_usage(stdout);
            rc = 0;
            goto done;
        default:
            vr_router_usage(stderr);
            rc = 1;
            goto done;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "voidrail router: unexpected argument \"%s\"\n",
                argv[optind]);
        rc = 1;
        goto done;
    }
    if (require && nd == 0 && nc == 0
        && !vr_env_has_keys("VOIDRAIL_DEALER_API_KEYS")
        && !vr_env_has_keys("VOIDRAIL_CLIENT_API_KEYS"))
    {
        fprintf(stderr, "voidrail router: --require-auth needs keys: give "
                "--dealer-keys and/or --client-keys (see --generate-keys)\n");
        rc = 1;
        goto done;
    }

    vr_buf_printf_b(&ep, "tcp://%s%s%s:%s", strchr(host, ':') ? "[" : "",
                    host, strchr(host, ':') ? "]" : "", port);
    vr_buf_adds(&y, "router:\n  bind: ");
    vr_json_escape(&y, ep.p, ep.len);
    vr_buf_adds(&y, "\n  mode: ");
    vr_json_escape(&y, mode, strlen(mode));
    /* The Python router set no deadline (its clients keep their own):
     * a long GPU job must not end as timeout here. */
    vr_buf_printf_b(&y, "\n  heartbeat_timeout: %.3fs\n"
                    "  busy_timeout: %.3fs\n"
                    "  request_timeout: 24h\n",
                    heartbeat_s + 3, vr_max(heartbeat_s + 3, 60.0));
    vr_buf_adds(&y, "auth:\n");
    vr_router_yaml_list(&y, "dealer_keys", dkeys, nd);
    vr_router_yaml_list(&y, "client_keys", ckeys, nc);
    vr_buf_printf_b(&y, "log:\n  level: %s\nhttp:\n  listen: ", level);
    if (http != NULL) {
        vr_json_escape(&y, http, strlen(http));
    } else {
        vr_buf_adds(&y, "[]");
    }
    vr_buf_addc(&y, '\n');

    rc = vr_serve("<command line>", y.p);
done:
    vr_buf_free(&y);
    vr_buf_free(&ep);
    free(dkeys);
    free(ckeys);
    return rc;
}
