/*
 * vr_ctl_cli.c: `voidrail ctl`, an operator's hands on a running gateway.
 *
 *   voidrail ctl [-c FILE | --url URL] [--api-key K] drain|undrain DEALER
 *   voidrail ctl [-c FILE | --url URL] [--api-key K] disable|enable METHOD
 *
 * It posts to the gateway's admin routes (modules/vr_ctl.c) over HTTP: the
 * address comes from --url, or the first http.listen of the configuration
 * file.  Exit status: 0 done, 1 bad usage or no connection, 2 refused by
 * the gateway (the problem's detail is printed).
 */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_main.h"

static void
vr_ctl_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail ctl [-c FILE | --url http://HOST:PORT] [--api-key KEY]\n"
"                    COMMAND NAME\n"
"\n"
"Takes work out of rotation on a running gateway, and puts it back:\n"
"  drain DEALER      the dealer finishes what it holds and gets no new work\n"
"  undrain DEALER    it takes work again\n"
"  disable METHOD    calls of the method end with no_service at once\n"
"  enable METHOD     it is served again\n"
"\n"
"  -c, --conf FILE   find the gateway's HTTP address in this file\n"
"                    (default conf/voidrail.yaml)\n"
"      --url URL     or give it: http://127.0.0.1:8080\n"
"      --api-key KEY a client key, when the gateway has them\n"
"                    (default: $VOIDRAIL_API_KEY)\n"
"  -h, --help        this help\n"
"\n"
"Exit status: 0 done, 1 bad usage or cannot connect, 2 refused.\n");
}

/* Percent-encodes a path segment. */
static void
vr_ctl_escape(vr_buf_t *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~')
        {
            vr_buf_addc(out, (char) c);
        } else {
            vr_buf_printf_b(out, "%%%02X", c);
        }
    }
}

/* host and port out of "http://HOST:PORT[/]" or "HOST:PORT". */
static int
vr_ctl_parse_url(const char *url, char *host, size_t hsize, char *port,
                 size_t psize)
{
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *end = p + strcspn(p, "/");
    const char *colon;

    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t) (end - p));
        if (close == NULL) {
            return VR_ERROR;
        }
        snprintf(host, hsize, "%.*s", (int) (close - p - 1), p + 1);
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t) (end - p));
        snprintf(host, hsize, "%.*s", (int) ((colon ? colon : end) - p), p);
    }
    snprintf(port, psize, "%.*s", colon ? (int) (end - colon - 1) : 2,
             colon ? colon + 1 : "80");
    if (strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0) {
        snprintf(host, hsize, "127.0.0.1");
    }
    return host[0] != '\0' && port[0] != '\0' ? VR_OK : VR_ERROR;
}

/* POSTs path; prints what came back.  Returns the exit status. */
static int
vr_ctl_post(const char *host, const char *port, const char *path,
            const char *key)
{
    struct addrinfo  hints, *ai = NULL;
    vr_buf_t         req = VR_BUF_INIT, resp = VR_BUF_INIT;
    char             chunk[4096];
    const char      *body;
    ssize_t          n;
    int              fd = -1, status = 0, rc = 1;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        fprintf(stderr, "voidrail ctl: cannot resolve %s\n", host);
        goto done;
    }
    fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "voidrail ctl: cannot connect to %s:%s: %s\n", host,
                port, strerror(errno));
        goto done;
    }
    vr_buf_printf_b(&req, "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n", path, host,
                    port);
    if (key != NULL && key[0] != '\0') {
        vr_buf_printf_b(&req, "Authorization: Bearer %s\r\n", key);
    }
    vr_buf_adds(&req, "\r\n");
    if (write(fd, req.p, req.len) != (ssize_t) req.len) {
        fprintf(stderr, "voidrail ctl: cannot send: %s\n", strerror(errno));
        goto done;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        vr_buf_add(&resp, chunk, (size_t) n);
    }
    if (resp.len == 0 || sscanf(resp.p, "HTTP/%*s %d", &status) != 1) {
        fprintf(stderr, "voidrail ctl: no HTTP answer from %s:%s\n", host,
                port);
        goto done;
    }
    body = strstr(resp.p, "\r\n\r\n");
    body = body ? body + 4 : "";
    if (status >= 200 && status < 300) {
        printf("%s\n", body);
        rc = 0;
    } else {
        fprintf(stderr, "voidrail ctl: refused (%d): %s\n", status, body);
        rc = 2;
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    if (ai != NULL) {
        freeaddrinfo(ai);
    }
    vr_buf_free(&req);
    vr_buf_free(&resp);
    return rc;
}

int
vr_ctl_command(int argc, char **argv)
{
    static const struct option opts[] = {
        { "conf",    required_argument, NULL, 'c' },
        { "url",     required_argument, NULL, 'u' },
        { "api-key", required_argument, NULL, 'k' },
        { "help",    no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *conf = "conf/voidrail.yaml", *url = NULL;
    const char *key = getenv("VOIDRAIL_API_KEY"), *cmd, *name;
    char        host[256], port[16];
    vr_buf_t    path = VR_BUF_INIT;
    vr_cycle_t *cycle = NULL;
    int         c, rc;

    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': conf = optarg; break;
        case 'u': url = optarg; break;
        case 'k': key = optarg; break;
        case 'h': vr_ctl_usage(stdout); return 0;
        default:  vr_ctl_usage(stderr); return 1;
        }
    }
    if (argc - optind != 2) {
        vr_ctl_usage(stderr);
        return 1;
    }
    cmd = argv[optind];
    name = argv[optind + 1];
    if (strcmp(cmd, "drain") == 0 || strcmp(cmd, "undrain") == 0) {
        vr_buf_adds(&path, "/admin/dealers/");
    } else if (strcmp(cmd, "disable") == 0 || strcmp(cmd, "enable") == 0) {
        vr_buf_adds(&path, "/admin/methods/");
    } else {
        fprintf(stderr, "voidrail ctl: unknown command \"%s\"\n", cmd);
        vr_ctl_usage(stderr);
        return 1;
    }
    vr_ctl_escape(&path, name);
    vr_buf_printf_b(&path, "/%s", cmd);

    if (url == NULL) {
        char                 *error = NULL;
        const vr_http_conf_t *http;

        cycle = vr_cycle_load(conf, NULL, &error);
        if (cycle == NULL) {
            fprintf(stderr, "voidrail ctl: %s (or give --url)\n", error);
            free(error);
            vr_buf_free(&path);
            return 1;
        }
        http = vr_cycle_conf(cycle, vr_http_module);
        if (http->listen.n == 0) {
            fprintf(stderr, "voidrail ctl: %s has no http.listen (give "
                    "--url)\n", conf);
            vr_cycle_destroy(&cycle);
            vr_buf_free(&path);
            return 1;
        }
        url = http->listen.v[0];
    }
    if (vr_ctl_parse_url(url, host, sizeof(host), port, sizeof(port))
        != VR_OK)
    {
        fprintf(stderr, "voidrail ctl: cannot read the address \"%s\"\n", url);
        rc = 1;
    } else {
        rc = vr_ctl_post(host, port, path.p, key);
    }
    vr_cycle_destroy(&cycle);
    vr_buf_free(&path);
    return rc;
}
