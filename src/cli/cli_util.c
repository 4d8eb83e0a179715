/*
 * cli_util.c: option values and signals shared by the client and dealer
 * commands.
 */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "voidrail.h"
#include "cli.h"

char *
vr_cli_endpoint(const char *endpoint, const char *host, const char *port)
{
    size_t n;
    char  *ep;
    bool   v6 = strchr(host, ':') != NULL;

    if (endpoint != NULL) {
        return strdup(endpoint);
    }
    n = strlen(host) + strlen(port) + 16;
    ep = malloc(n);
    snprintf(ep, n, "tcp://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
             port);
    return ep;
}

int
vr_cli_seconds_ms(const char *text)
{
    char   *end;
    double  s = strtod(text, &end);

    if (end == text || *end != '\0' || !(s >= 0) || s > 2000000) {
        return -1;
    }
    return (int) (s * 1000 + 0.5);
}

int
vr_cli_count(const char *text, int max)
{
    char *end;
    long  n = strtol(text, &end, 10);

    if (end == text || *end != '\0' || n < 1 || n > max) {
        return -1;
    }
    return (int) n;
}

int
vr_cli_level(const char *python)
{
    static const struct { const char *name; int level; } map[] = {
        { "DEBUG", VR_LEVEL_DEBUG }, { "INFO", VR_LEVEL_INFO },
        { "WARNING", VR_LEVEL_WARN }, { "WARN", VR_LEVEL_WARN },
        { "ERROR", VR_LEVEL_ERROR }, { "CRITICAL", VR_LEVEL_ERROR },
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(python, map[i].name) == 0) {
            return map[i].level;
        }
    }
    return -1;
}

static void
vr_cli_stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void
vr_cli_block_stop_signals(void)
{
    sigset_t set;

    vr_cli_stop_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int
vr_cli_wait_stop(void)
{
    sigset_t set;
    int      signo;

    vr_cli_stop_signals(&set);
    while ((signo = sigwaitinfo(&set, NULL)) < 0 && errno == EINTR) {
    }
    return signo;
}
