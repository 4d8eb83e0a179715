/*
 * test_conf.c: unit tests of src/vr_conf.h and src/vr_cycle.h: durations,
 * sizes and endpoints; loading YAML texts into every module's conf, their
 * defaults (as `voidrail -K` prints them) and the exact error messages.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_conf.h"
#include "vr_cycle.h"
#include "vr_module.h"
#include "vr_broker.h"
#include "vr_log.h"
#include "tap.h"

#define SHA_A "sha256:9f86d081884c7d659a2feaa0c55ad015" \
              "a3bf4f1b2b0b822cd15d6c15b0f00a08"

/* ---- helpers ---------------------------------------------------------- */

static vr_module_t *
module(const char *name)
{
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if (strcmp((*m)->name, name) == 0) {
            return *m;
        }
    }
    return NULL;
}

static const vr_directive_t *
directive(const vr_directive_t *table, const char *name)
{
    for (const vr_directive_t *d = table; d != NULL && d->name != NULL; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

/* The conf of a module and the field of a key in it (through the table). */
static void *
field(vr_cycle_t *c, const char *mod, const char *key)
{
    vr_module_t          *m = module(mod);
    const vr_directive_t *d = m ? directive(m->directives, key) : NULL;

    if (d == NULL) {
        diag("no key %s.%s", mod, key);
        abort();
    }
    return (char *) c->conf[m->index] + d->offset;
}

/*
 * The string key `key` of item i of the block list mod.list (through the
 * tables), or NULL when the item has no such value.
 */
static const char *
block_str(vr_cycle_t *c, const char *mod, const char *list, size_t i,
          const char *key)
{
    const vr_directive_t   *d = directive(module(mod)->directives, list);
    const vr_conf_blocks_t *cb = d->post;
    const vr_blocks_t      *blocks = field(c, mod, list);
    const vr_directive_t   *k = directive(cb->directives, key);

    if (k == NULL) {
        diag("no key %s.%s[].%s", mod, list, key);
        abort();
    }
    return *(char **) ((char *) blocks->elts + i * cb->elt_size + k->offset);
}

/* Loads text; returns the cycle or NULL (error in *err, malloc'ed). */
static vr_cycle_t *
load(const char *text, char **err)
{
    return vr_cycle_load("test.yaml", text, err);
}

/* Loading text fails with exactly `want`. */
static void
load_fails(const char *text, const char *want, const char *name)
{
    char       *err = (char *) "unset";
    vr_cycle_t *c = load(text, &err);

    if (!ok(c == NULL, "%s: refused", name)) {
        vr_cycle_destroy(&c);
    }
    is_str(err, want, "%s: message", name);
    free(err);
}

static vr_cycle_t *
load_ok(const char *text, const char *name)
{
    char       *err = (char *) "unset";
    vr_cycle_t *c = load(text, &err);

    if (!ok(c != NULL && err == NULL, "%s: loads", name)) {
        diag("error: %s", err ? err : "(none)");
        free(err);
    }
    return c;
}

/*
 * Compares two cycles module by module, by what -T prints of each (every
 * setter's value, secrets as digests); the first module that differs, and
 * its first differing line, go to *why.
 */
static bool
cycles_eq_but(vr_cycle_t *a, vr_cycle_t *b, vr_buf_t *why, const char *skip)
{
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        vr_directive_t  one[2] = { vr_null_directive, vr_null_directive };
        const vr_directive_t *table = (*m)->directives;
        vr_buf_t        ta = VR_BUF_INIT, tb = VR_BUF_INIT;
        bool            same;

        if (skip != NULL && strcmp((*m)->name, skip) == 0) {
            continue;
        }
        if ((*m)->section != NULL) {
            one[0] = *(*m)->section;
            table = one;
        }
        if (table == NULL) {
            continue;
        }
        vr_conf_show(&ta, 0, table, a->conf[(*m)->index]);
        vr_conf_show(&tb, 0, table, b->conf[(*m)->index]);
        same = ta.len == tb.len && memcmp(ta.p, tb.p, ta.len) == 0;
        if (!same) {
            size_t i = 0, line = 0;
            while (i < ta.len && i < tb.len && ta.p[i] == tb.p[i]) {
                line = ta.p[i] == '\n' ? i + 1 : line;
                i++;
            }
            vr_buf_printf_b(why, "(%s differs at: %.60s)", (*m)->name,
                            ta.p + line);
        }
        vr_buf_free(&ta);
        vr_buf_free(&tb);
        if (!same) {
            return false;
        }
    }
    return true;
}

static bool
cycles_eq(vr_cycle_t *a, vr_cycle_t *b, vr_buf_t *why)
{
    return cycles_eq_but(a, b, why, NULL);
}

/* ---- vr_parse_msec / vr_parse_size ----------------------------------- */

static void
test_parse(void)
{
    static const struct { const char *s; vr_msec_t v; } msec[] = {
        { "250ms", 250 }, { "15s", 15000 }, { "2m", 120000 },
        { "1h", 3600000 }, { "1d", 86400000 }, { "1.5s", 1500 },
        { "0.5", 500 }, { "10", 10000 }, { "0", 0 }, { "0s", 0 },
        { "0ms", 0 }, { "1.25m", 75000 }, { ".5s", 500 }, { "1 s", 1000 },
        { "100000ms", 100000 }, { "0.001", 1 },
    };
    static const char *bad_msec[] = {
        "", "abc", "s", "ms", "-1s", "-1", "+1s", " 1s", "1x", "1sec", "1S",
        "1Ms", "1ss", "1s ms", "inf", "nan", "1e400s", "9999999999999999999h",
        "1,5s", "s1",
    };
    static const struct { const char *s; int64_t v; } size[] = {
        { "512", 512 }, { "0", 0 }, { "100B", 100 }, { "64KiB", 65536 },
        { "16MiB", 16777216 }, { "1GiB", 1073741824 }, { "10kB", 10000 },
        { "10KB", 10000 }, { "2MB", 2000000 }, { "1GB", 1000000000 },
        { "1.5KiB", 1536 }, { "0.5MiB", 524288 }, { "3 KiB", 3072 },
    };
    static const char *bad_size[] = {
        "", "KiB", "-1", "-1KiB", "1kb", "1KIB", "1kib", "1K", "1Ki", "x",
        "1e30GiB", "1TB", "1 2", "+5",
    };

    for (size_t i = 0; i < vr_nelems(msec); i++) {
        vr_msec_t v = -7;
        int       rc = vr_parse_msec(msec[i].s, &v);
        ok(rc == VR_OK && v == msec[i].v, "duration '%s' is %lldms",
           msec[i].s, (long long) msec[i].v);
        if (rc != VR_OK || v != msec[i].v) {
            diag("rc %d, value %lld", rc, (long long) v);
        }
    }
    for (size_t i = 0; i < vr_nelems(bad_msec); i++) {
        vr_msec_t v = -7;
        ok(vr_parse_msec(bad_msec[i], &v) == VR_ERROR && v == -7,
           "duration '%s' refused, output untouched", bad_msec[i]);
    }
    {
        vr_msec_t v = -7;
        ok(vr_parse_msec(NULL, &v) == VR_ERROR && v == -7,
           "duration NULL refused");
    }
    for (size_t i = 0; i < vr_nelems(size); i++) {
        int64_t v = -7;
        int     rc = vr_parse_size(size[i].s, &v);
        ok(rc == VR_OK && v == size[i].v, "size '%s' is %lld", size[i].s,
           (long long) size[i].v);
        if (rc != VR_OK || v != size[i].v) {
            diag("rc %d, value %lld", rc, (long long) v);
        }
    }
    for (size_t i = 0; i < vr_nelems(bad_size); i++) {
        int64_t v = -7;
        ok(vr_parse_size(bad_size[i], &v) == VR_ERROR && v == -7,
           "size '%s' refused, output untouched", bad_size[i]);
    }
    {
        int64_t v = -7;
        ok(vr_parse_size(NULL, &v) == VR_ERROR && v == -7,
           "size NULL refused");
    }
}

/* ---- vr_check_endpoint ------------------------------------------------- */

static void
test_endpoints(void)
{
    static const char *good[] = {
        "tcp://127.0.0.1:5555", "tcp://*:5555", "tcp://localhost:1",
        "tcp://host:65535", "tcp://127.0.0.1:*", "tcp://[::1]:5555",
        "tcp://[::]:*", "tcp://eth0:5555", "ipc:///tmp/x.sock", "ipc://rel",
        "ipc://@abstract", "inproc://name",
    };
    static const struct { const char *ep, *msg; } bad[] = {
        { "", "must start with tcp://, ipc:// or inproc://" },
        { "udp://h:1", "must start with tcp://, ipc:// or inproc://" },
        { "TCP://h:1", "must start with tcp://, ipc:// or inproc://" },
        { "h:1", "must start with tcp://, ipc:// or inproc://" },
        { "tcp:/h:1", "must start with tcp://, ipc:// or inproc://" },
        { "tcp://", "must be HOST:PORT" },
        { "tcp://host", "must be HOST:PORT" },
        { "tcp://:5555", "must be HOST:PORT" },
        { "tcp://host:", "port must be a number" },
        { "tcp://host:12ab", "port must be a number" },
        { "tcp://host:*x", "port must be a number" },
        { "tcp://host:99999999999999999999", "port must be a number" },
        { "tcp://host:0", "port must be 1..65535" },
        { "tcp://host:65536", "port must be 1..65535" },
        { "tcp://host:-1", "port must be 1..65535" },
        { "tcp://[::1]", "an IPv6 host must be written [addr]:PORT" },
        { "tcp://[::1:5555", "an IPv6 host must be written [addr]:PORT" },
        { "ipc://", "needs a path or name" },
        { "inproc://", "needs a path or name" },
    };

    for (size_t i = 0; i < vr_nelems(good); i++) {
        is_str(vr_check_endpoint(good[i]), NULL, "endpoint %s is good",
               good[i]);
    }
    for (size_t i = 0; i < vr_nelems(bad); i++) {
        is_str(vr_check_endpoint(bad[i].ep), bad[i].msg, "endpoint '%s'",
               bad[i].ep);
    }
}

/* ---- defaults ---------------------------------------------------------- */

/* What `voidrail -K` prints as each key's default (third column). */
static const struct { const char *path, *dflt; } k_defaults[] = {
    { "log.level", "info" },
    { "log.file", "stderr" },
    { "process.pid_file", "\"\"" },
    { "process.drain_timeout", "10s" },
    { "router.bind", "tcp://127.0.0.1:5555" },
    { "router.mode", "fifo" },
    { "router.heartbeat_timeout", "10s" },
    { "router.busy_timeout", "60s" },
    { "router.probe_interval", "1s" },
    { "router.request_timeout", "60s" },
    { "router.no_service_wait", "0s" },
    { "router.max_queue", "10000" },
    { "router.max_message", "16MiB" },
    { "router.dealer_capacity", "1" },
    { "router.max_capacity", "1024" },
    { "router.max_capable_clients", "100000" },
    { "router.hwm", "10000" },
    { "router.send_router_shutdown", "true" },
    { "router.methods", "{}" },
    { "router.methods.<method glob>.timeout", "" },
    { "router.methods.<method glob>.max_queue", "" },
    { "router.methods.<method glob>.max_attempts", "1" },
    { "router.services", "{}" },
    { "router.services.<group>.capacity", "" },
    { "router.curve", "" },
    { "router.curve.key_file", "\"\"" },
    { "router.curve.secret_key", "\"\"" },
    { "router.curve.public_key", "\"\"" },
    { "router.curve.allow", "[]" },
    { "router.curve.allow_dir", "\"\"" },
    { "auth.dealer_keys", "[]" },
    { "auth.dealer_keys[].name", "" },
    { "auth.dealer_keys[].key", "" },
    { "auth.client_keys", "[]" },
    { "auth.client_keys[].name", "" },
    { "auth.client_keys[].key", "" },
    { "auth.client_keys[].methods", "[\"*\"]" },
    { "auth.client_keys[].rate", "0" },
    { "auth.client_keys[].burst", "0" },
    { "auth.client_keys[].concurrency", "0" },
    { "auth.max_clients", "100000" },
    { "auth.max_failures", "20" },
    { "auth.failure_window", "1m" },
    { "jobs.keep", "1h" },
    { "jobs.max_finished", "1000" },
    { "jobs.max_active", "10000" },
    { "jobs.max_events", "10000" },
    { "jobs.max_event_bytes", "64MiB" },
    { "jobs.max_memory", "1GiB" },
    { "http.listen", "127.0.0.1:8080" },
    { "http.tls", "" },
    { "http.tls.listen", "[]" },
    { "http.tls.cert", "\"\"" },
    { "http.tls.key", "\"\"" },
    { "http.admin_listen", "[]" },
    { "http.max_body", "16MiB" },
    { "http.max_header", "4KiB" },
    { "http.connection_memory", "8KiB" },
    { "http.max_connections", "10000" },
    { "http.idle_timeout", "60s" },
    { "http.max_streams", "10000" },
    { "http.stream_buffer", "1MiB" },
    { "http.keepalive", "15s" },
    { "http.retry", "3s" },
    { "http.cors_origins", "[]" },
    { "http.access_log", "stderr" },
    { "http.drain_timeout", "30s" },
    { "workers", "[]" },
    { "workers[].name", "" },
    { "workers[].command", "" },
    { "workers[].instances", "1" },
    { "workers[].env", "{}" },
    { "workers[].cwd", "\"\"" },
    { "workers[].restart", "always" },
    { "workers[].stop_grace", "5s" },
};

/*
 * The YAML that sets one key (a -K path) to value; nested paths
 * "a.b.<x>.c" go into a block named "X", "a.b.c" into the nested block b.
 * *base gets the same text without the key (the blocks still present).
 */
static void
yaml_for(const char *path, const char *value, vr_buf_t *text, vr_buf_t *base)
{
    const char *dot1 = strchr(path, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    const char *last = strrchr(path, '.');
    int         n0 = (int) (dot1 - path);
    int         n1 = dot2 ? (int) (dot2 - dot1 - 1) : 0;

    if (dot1 == NULL) {
        /* A section that is one value (workers: []). */
        vr_buf_printf_b(text, "%s: %s\n", path, value);
        vr_buf_adds(base, "{}\n");
        return;
    }
    vr_buf_printf_b(text, "%.*s:\n", n0, path);
    vr_buf_printf_b(base, "%.*s:\n", n0, path);
    if (dot2 == NULL) {
        vr_buf_printf_b(text, "  %s: %s\n", dot1 + 1, value);
        return;
    }
    if (strchr(path, '<') == NULL) {
        /* "http.tls.listen": a nested block. */
        vr_buf_printf_b(text, "  %.*s:\n    %s: %s\n", n1, dot1 + 1,
                        last + 1, value);
        vr_buf_printf_b(base, "  %.*s: {}\n", n1, dot1 + 1);
        return;
    }
    /* "router.methods.<method glob>.max_attempts": a block named X. */
    vr_buf_printf_b(text, "  %.*s:\n    \"X\":\n      %s: %s\n", n1,
                    dot1 + 1, last + 1, value);
    vr_buf_printf_b(base, "  %.*s:\n    \"X\": {}\n", n1, dot1 + 1);
}

static void
test_defaults(void)
{
    vr_cycle_t       *c, *c2;
    vr_router_conf_t *rc;
    vr_buf_t          ref = VR_BUF_INIT;
    size_t            rows = 0;
    char             *err;

    c = load_ok("", "empty document (every built-in default)");
    if (c == NULL) {
        return;
    }
    c2 = load_ok("# only a comment\n", "a document of comments");
    if (c2 != NULL) {
        vr_buf_t why = VR_BUF_INIT;
        ok(cycles_eq(c, c2, &why), "comments only = empty document %s",
           why.p ? why.p : "");
        vr_buf_free(&why);
        vr_cycle_destroy(&c2);
    }
    c2 = load_ok("log:\nrouter:\nauth:\n", "empty sections");
    if (c2 != NULL) {
        vr_buf_t why = VR_BUF_INIT;
        ok(cycles_eq(c, c2, &why), "empty sections = empty document %s",
           why.p ? why.p : "");
        vr_buf_free(&why);
        vr_cycle_destroy(&c2);
    }
    is_str(c->conf_file, "test.yaml", "cycle remembers the name");

    /* The values, read through the tables (log and auth confs are private). */
    is_int(*(int *) field(c, "log", "level"), VR_LOG_INFO, "log.level = info");
    is_str(*(char **) field(c, "log", "file"), "stderr", "log.file = stderr");
    rc = vr_cycle_conf(c, vr_router_module);
    ok(rc->bind.n == 1 && strcmp(rc->bind.v[0], "tcp://127.0.0.1:5555") == 0,
       "router.bind = [tcp://127.0.0.1:5555]");
    is_int(rc->mode, VR_MODE_FIFO, "router.mode = fifo");
    is_int(rc->heartbeat_timeout_ms, 10000, "router.heartbeat_timeout = 10s");
    is_int(rc->busy_timeout_ms, 60000, "router.busy_timeout = 60s");
    is_int(rc->probe_interval_ms, 1000, "router.probe_interval = 1s");
    is_int(rc->request_timeout_ms, 60000, "router.request_timeout = 60s");
    is_int(rc->no_service_wait_ms, 0, "router.no_service_wait = 0s");
    is_int(rc->max_queue, 10000, "router.max_queue = 10000");
    is_int(rc->max_message_bytes, 16 << 20, "router.max_message = 16MiB");
    is_int(rc->dealer_capacity, 1, "router.dealer_capacity = 1");
    is_int(rc->max_capacity, 1024, "router.max_capacity = 1024");
    is_int(rc->max_capable_clients, 100000,
           "router.max_capable_clients = 100000");
    is_int(rc->hwm, 10000, "router.hwm = 10000");
    ok(rc->send_router_shutdown, "router.send_router_shutdown = true");
    is_int(rc->methods.n, 0, "router.methods = {}");
    is_int(rc->services.n, 0, "router.services = {}");
    is_int(((vr_strs_t *) field(c, "auth", "dealer_keys"))->n, 0,
           "auth.dealer_keys = []");
    is_int(((vr_strs_t *) field(c, "auth", "client_keys"))->n, 0,
           "auth.client_keys = []");
    is_int(*(int64_t *) field(c, "auth", "max_clients"), 100000,
           "auth.max_clients = 100000");
    is_int(*(vr_msec_t *) field(c, "jobs", "keep"), 3600000, "jobs.keep = 1h");
    is_int(*(int64_t *) field(c, "jobs", "max_finished"), 1000,
           "jobs.max_finished = 1000");
    is_int(*(int64_t *) field(c, "jobs", "max_active"), 10000,
           "jobs.max_active = 10000");
    is_int(*(int64_t *) field(c, "jobs", "max_events"), 10000,
           "jobs.max_events = 10000");
    is_int(*(int64_t *) field(c, "jobs", "max_event_bytes"), 64LL << 20,
           "jobs.max_event_bytes = 64MiB");
    is_int(*(int64_t *) field(c, "jobs", "max_memory"), 1LL << 30,
           "jobs.max_memory = 1GiB");
    {
        vr_strs_t *l = field(c, "http", "listen");
        ok(l->n == 1 && strcmp(l->v[0], "127.0.0.1:8080") == 0,
           "http.listen = [127.0.0.1:8080]");
    }
    is_int(*(int64_t *) field(c, "http", "max_body"), 16 << 20,
           "http.max_body = 16MiB");
    is_int(*(int64_t *) field(c, "http", "max_header"), 4096,
           "http.max_header = 4KiB");
    is_int(*(int64_t *) field(c, "http", "connection_memory"), 8192,
           "http.connection_memory = 8KiB");
    is_int(*(int64_t *) field(c, "http", "max_connections"), 10000,
           "http.max_connections = 10000");
    is_int(*(vr_msec_t *) field(c, "http", "idle_timeout"), 60000,
           "http.idle_timeout = 60s");
    is_int(*(int64_t *) field(c, "http", "max_streams"), 10000,
           "http.max_streams = 10000");
    is_int(*(int64_t *) field(c, "http", "stream_buffer"), 1 << 20,
           "http.stream_buffer = 1MiB");
    is_int(*(vr_msec_t *) field(c, "http", "keepalive"), 15000,
           "http.keepalive = 15s");
    is_int(*(vr_msec_t *) field(c, "http", "retry"), 3000, "http.retry = 3s");
    is_int(((vr_strs_t *) field(c, "http", "cors_origins"))->n, 0,
           "http.cors_origins = []");
    is_str(*(char **) field(c, "http", "access_log"), "stderr",
           "http.access_log = stderr");

    /* -K lists exactly these keys with these defaults ... */
    vr_cycle_reference(&ref);
    for (char *line = ref.p, *next; line != NULL && *line; line = next) {
        char *tab1, *tab2, *tab3;
        bool  found = false;

        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        tab1 = strchr(line, '\t');
        tab2 = tab1 ? strchr(tab1 + 1, '\t') : NULL;
        tab3 = tab2 ? strchr(tab2 + 1, '\t') : NULL;
        if (tab3 == NULL) {
            ok(0, "-K line has 5 columns: %s", line);
            continue;
        }
        *tab1 = *tab2 = *tab3 = '\0';
        rows++;
        for (size_t i = 0; i < vr_nelems(k_defaults); i++) {
            if (strcmp(k_defaults[i].path, line) == 0) {
                found = true;
                is_str(tab2 + 1, k_defaults[i].dflt, "-K default of %s", line);
            }
        }
        ok(found, "-K key %s is expected", line);

        /* ... and writing that default explicitly changes nothing (keys
         * of list elements need an element: left to the workers tests). */
        if (tab2[1] != '\0' && strstr(line, "[]") == NULL) {
            vr_buf_t text = VR_BUF_INIT, base = VR_BUF_INIT, why = VR_BUF_INIT;
            vr_cycle_t *a, *b;

            yaml_for(line, tab2 + 1, &text, &base);
            a = load(text.p, &err);
            free(err);
            b = load(base.p, &err);
            free(err);
            ok(a != NULL && b != NULL && cycles_eq(a, b, &why),
               "%s: %s given = %s left out %s", line, tab2 + 1, tab2 + 1,
               why.p ? why.p : "");
            vr_cycle_destroy(&a);
            vr_cycle_destroy(&b);
            vr_buf_free(&text);
            vr_buf_free(&base);
            vr_buf_free(&why);
        }
    }
    is_int(rows, vr_nelems(k_defaults), "-K prints one row per key");
    vr_buf_free(&ref);

    /* The shipped file lists every default: same as the empty document. */
    {
        const char *dirs[] = { getenv("VR_SRCDIR"), ".", "../.." };
        char        path[1024] = "";

        for (size_t i = 0; i < vr_nelems(dirs); i++) {
            if (dirs[i] == NULL) {
                continue;
            }
            snprintf(path, sizeof(path), "%s/conf/voidrail.yaml", dirs[i]);
            if (access(path, R_OK) == 0) {
                break;
            }
        }
        c2 = vr_cycle_load(path, NULL, &err);
        if (ok(c2 != NULL, "conf/voidrail.yaml loads from the file")) {
            vr_buf_t why = VR_BUF_INIT;
            ok(cycles_eq_but(c, c2, &why, "workers"),
               "conf/voidrail.yaml holds exactly the defaults, but for its "
               "demo worker %s", why.p ? why.p : "");
            vr_buf_free(&why);
            vr_cycle_destroy(&c2);
        } else {
            diag("%s: %s", path, err ? err : "?");
            free(err);
        }
    }
    vr_cycle_destroy(&c);
    ok(c == NULL, "vr_cycle_destroy clears the pointer");
    vr_cycle_destroy(&c);           /* NULL-safe */
}

/* ---- values ------------------------------------------------------------ */

static void
test_values(void)
{
    vr_cycle_t         *c;
    vr_router_conf_t   *rc;
    vr_method_policy_t *mp;
    vr_service_policy_t *sp;
    vr_blocks_t        *keys;

    c = load_ok(
        "router:\n"
        "  bind: [inproc://a, \"tcp://*:7000\"]\n"
        "  mode: load_balance\n"
        "  heartbeat_timeout: 2.5s\n"
        "  busy_timeout: 1m\n"
        "  request_timeout: 250ms\n"
        "  no_service_wait: 2\n"
        "  max_queue: 7\n"
        "  max_message: 64KiB\n"
        "  dealer_capacity: 3\n"
        "  hwm: 100\n"
        "  send_router_shutdown: off\n"
        "  methods:\n"
        "    \"Images.*\": { timeout: 300s, max_queue: 100 }\n"
        "    \"Math.square\":\n"
        "      max_attempts: 3\n"
        "  services:\n"
        "    Resize: { capacity: 4 }\n"
        "log:\n"
        "  level: debug\n"
        "  file: /tmp/x.log\n"
        "auth:\n"
        "  dealer_keys: dk1\n"
        "  client_keys: [ck1, \"" SHA_A "\"]\n"
        "  max_clients: 5\n", "a full document");
    if (c == NULL) {
        return;
    }
    rc = vr_cycle_conf(c, vr_router_module);
    ok(rc->bind.n == 2 && strcmp(rc->bind.v[0], "inproc://a") == 0
       && strcmp(rc->bind.v[1], "tcp://*:7000") == 0, "bind list");
    is_int(rc->mode, VR_MODE_LOAD_BALANCE, "mode load_balance");
    is_int(rc->heartbeat_timeout_ms, 2500, "heartbeat_timeout 2.5s");
    is_int(rc->busy_timeout_ms, 60000, "busy_timeout 1m");
    is_int(rc->request_timeout_ms, 250, "request_timeout 250ms");
    is_int(rc->no_service_wait_ms, 2000, "no_service_wait 2 (seconds)");
    is_int(rc->max_queue, 7, "max_queue 7");
    is_int(rc->max_message_bytes, 65536, "max_message 64KiB");
    is_int(rc->dealer_capacity, 3, "dealer_capacity 3");
    is_int(rc->max_capacity, 1024, "max_capacity defaulted");
    is_int(rc->hwm, 100, "hwm 100");
    ok(!rc->send_router_shutdown, "send_router_shutdown off");
    if (is_int(rc->methods.n, 2, "two method blocks")) {
        mp = rc->methods.elts;
        is_str(mp[0].name, "Images.*", "first block's name");
        is_int(mp[0].timeout_ms, 300000, "Images.* timeout 300s");
        is_int(mp[0].max_queue, 100, "Images.* max_queue 100");
        is_int(mp[0].max_attempts, 1, "Images.* max_attempts defaulted to 1");
        is_str(mp[1].name, "Math.square", "second block's name");
        is_int(mp[1].timeout_ms, 0, "Math.square timeout unset (0)");
        is_int(mp[1].max_queue, 0, "Math.square max_queue unset (0)");
        is_int(mp[1].max_attempts, 3, "Math.square max_attempts 3");
    }
    if (is_int(rc->services.n, 1, "one service block")) {
        sp = rc->services.elts;
        is_str(sp[0].name, "Resize", "service block's name");
        is_int(sp[0].capacity, 4, "Resize capacity 4");
    }
    is_int(*(int *) field(c, "log", "level"), VR_LOG_DEBUG, "log.level debug");
    is_str(*(char **) field(c, "log", "file"), "/tmp/x.log", "log.file");
    keys = field(c, "auth", "dealer_keys");
    ok(keys->n == 1
       && strcmp(block_str(c, "auth", "dealer_keys", 0, "key"), "dk1") == 0,
       "a scalar key list is a list of one");
    keys = field(c, "auth", "client_keys");
    ok(keys->n == 2
       && strcmp(block_str(c, "auth", "client_keys", 0, "key"), "ck1") == 0
       && strcmp(block_str(c, "auth", "client_keys", 1, "key"), SHA_A) == 0,
       "client_keys list kept as written");
    is_int(*(int64_t *) field(c, "auth", "max_clients"), 5, "max_clients 5");
    vr_cycle_destroy(&c);

    /* Other spellings that must load. */
    c = load_ok("router:\n  heartbeat_timeout: 70s\n",
                "a heartbeat_timeout above the default busy_timeout");
    if (c != NULL) {
        is_int(((vr_router_conf_t *) vr_cycle_conf(c, vr_router_module))
                   ->busy_timeout_ms, 70000,
               "the defaulted busy_timeout follows heartbeat_timeout");
        vr_cycle_destroy(&c);
    }
    c = load_ok("router:\n  heartbeat_timeout: 10s\n  busy_timeout: 10s\n",
                "busy_timeout equal to heartbeat_timeout");
    vr_cycle_destroy(&c);
    c = load_ok("router:\n  send_router_shutdown: Yes\n  bind: ipc:///tmp/v\n",
                "flag Yes, endpoint as a scalar");
    if (c != NULL) {
        rc = vr_cycle_conf(c, vr_router_module);
        ok(rc->send_router_shutdown && rc->bind.n == 1, "... values set");
    }
    vr_cycle_destroy(&c);
    c = load_ok("{router: {mode: fifo}, log: {level: error}}",
                "flow style document");
    if (c != NULL) {
        is_int(*(int *) field(c, "log", "level"), VR_LOG_ERROR,
               "flow style: log.level error");
    }
    vr_cycle_destroy(&c);
    c = load_ok("auth:\n  client_keys: ~\n", "a null key list");
    if (c != NULL) {
        is_int(((vr_blocks_t *) field(c, "auth", "client_keys"))->n, 0,
               "null key list is empty");
    }
    vr_cycle_destroy(&c);

    /* Keys from the environment are added (and checked). */
    setenv("VOIDRAIL_CLIENT_API_KEYS", " k1, ," SHA_A, 1);
    c = load_ok("", "VOIDRAIL_CLIENT_API_KEYS with good keys");
    vr_cycle_destroy(&c);
    setenv("VOIDRAIL_CLIENT_API_KEYS", "k1,sha256:zz", 1);
    load_fails("", "test.yaml:1:1: \"auth.client_keys\" a key in "
               "VOIDRAIL_CLIENT_API_KEYS is a malformed sha256: form",
               "malformed key in VOIDRAIL_CLIENT_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
}

/* ---- errors ------------------------------------------------------------ */

static void
test_errors(void)
{
    static const struct { const char *text, *err, *name; } cases[] = {
        { "router: [", "test.yaml:2:1: YAML syntax error: did not find "
          "expected node content while parsing a flow node", "syntax error" },
        { "\trouter: 1", "test.yaml:1:1: YAML syntax error: found character "
          "that cannot start any token while scanning for the next token",
          "tab indentation" },
        { "- a\n", "test.yaml:1:1: the file must be a YAML mapping",
          "document is a sequence" },
        { "bogus: 1\n", "test.yaml:1:1: \"bogus\" unknown key",
          "unknown top-level key" },
        { "log:\n  level: info\nlog: {}\n", "test.yaml:3:1: \"log\" duplicate key",
          "duplicate top-level key" },
        { "router:\n  bogus: 1\n", "test.yaml:2:3: \"router.bogus\" unknown key",
          "unknown nested key" },
        { "log: {}\ninvoke: {}\n", "test.yaml:2:1: \"invoke\" unknown key",
          "a module without settings owns no key" },
        { "http:\n  listen: 8080\n",
          "test.yaml:2:11: \"http.listen\" must be HOST:PORT",
          "http.listen without a host" },
        { "http:\n  listen: [\"127.0.0.1:80\", \"*:0\"]\n",
          "test.yaml:2:11: \"http.listen\" item 2: port must be 1..65535",
          "http.listen port 0" },
        { "router:\n  mode: fifo\n  hwm: 100\n  mode: fifo\n",
          "test.yaml:4:3: \"router.mode\" duplicate key", "duplicate key" },
        { "router: 5\n", "test.yaml:1:9: \"router\" must be a mapping",
          "section is a scalar" },
        { "router:\n  hwm: [1, 2]\n",
          "test.yaml:2:8: \"router.hwm\" must be an integer",
          "sequence where an integer is expected" },
        { "router:\n  heartbeat_timeout: [1s]\n",
          "test.yaml:2:22: \"router.heartbeat_timeout\" must be a duration "
          "such as 250ms, 15s, 2m or 1h", "sequence where a duration is expected" },
        { "log:\n  file: [a]\n", "test.yaml:2:9: \"log.file\" must be a string",
          "sequence where a string is expected" },
        { "router:\n  bind: {a: 1}\n",
          "test.yaml:2:9: \"router.bind\" must be a string or a list of strings",
          "mapping where a list is expected" },
        { "router:\n  hwm: 5\n",
          "test.yaml:2:8: \"router.hwm\" must be 100..10000000",
          "integer out of range" },
        { "router:\n  max_queue: 1.5\n",
          "test.yaml:2:14: \"router.max_queue\" must be an integer",
          "integer with a fraction" },
        { "router:\n  heartbeat_timeout: 99ms\n",
          "test.yaml:2:22: \"router.heartbeat_timeout\" must be "
          "100ms..86400000ms", "duration out of range" },
        { "router:\n  request_timeout: 25h\n",
          "test.yaml:2:20: \"router.request_timeout\" must be 1ms..86400000ms",
          "duration over a day" },
        { "router:\n  max_message: 1023\n",
          "test.yaml:2:16: \"router.max_message\" must be 1024..2147483648 bytes",
          "size out of range" },
        { "router:\n  max_message: 64kb\n",
          "test.yaml:2:16: \"router.max_message\" must be a size such as 512, "
          "64KiB or 16MiB", "bad size unit" },
        { "router:\n  curve:\n    secret_key: \"abc\"\n",
          "test.yaml:3:17: \"router.curve.secret_key\" is not a CURVE key "
          "(40 Z85 or 64 hex characters)", "a malformed CURVE secret key" },
        { "router:\n  curve:\n    key_file: /nonexistent/s.key_secret\n",
          "test.yaml:3:15: \"router.curve.key_file\" cannot read "
          "/nonexistent/s.key_secret: No such file or directory",
          "an unreadable CURVE key file" },
        { "router:\n  curve:\n    allow: [\"abc\"]\n",
          "test.yaml:3:12: \"router.curve.allow\" needs router.curve.key_file "
          "or router.curve.secret_key (the server key)",
          "a CURVE allow-list without a server key" },
        { "router:\n  curve:\n"
          "    secret_key: \"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6\"\n"
          "    allow: [\"abc\"]\n",
          "test.yaml:4:12: \"router.curve.allow\" item 1 is not a CURVE "
          "public key (40 Z85 or 64 hex characters)",
          "a malformed CURVE client key" },
        { "router:\n  mode: random\n",
          "test.yaml:2:9: \"router.mode\" must be one of: fifo, load_balance",
          "bad enum" },
        { "log:\n  level: loud\n",
          "test.yaml:2:10: \"log.level\" must be one of: debug, info, notice, "
          "warn, error", "bad log level" },
        { "router:\n  send_router_shutdown: maybe\n",
          "test.yaml:2:25: \"router.send_router_shutdown\" must be true or false",
          "bad boolean" },
        { "router:\n  bind: []\n",
          "test.yaml:2:9: \"router.bind\" needs at least one endpoint",
          "empty bind list" },
        { "router:\n  bind: tcp://x:99999\n",
          "test.yaml:2:9: \"router.bind\" port must be 1..65535",
          "bad endpoint" },
        { "router:\n  bind: [\"tcp://x:1\", \"udp://a\"]\n",
          "test.yaml:2:9: \"router.bind\" item 2: must start with tcp://, "
          "ipc:// or inproc://", "bad second endpoint" },
        { "router:\n  bind: [\"tcp://a:1\", \"tcp://a:1\"]\n",
          "test.yaml:2:9: \"router.bind\" item 2 repeats \"tcp://a:1\"",
          "repeated endpoint" },
        { "log:\n  file: \"a\\0b\"\n",
          "test.yaml:2:9: \"log.file\" must not contain NUL characters",
          "NUL in a string" },
        { "router:\n  heartbeat_timeout: 30s\n  busy_timeout: 20s\n",
          "test.yaml:3:17: \"router.busy_timeout\" must not be shorter than "
          "router.heartbeat_timeout", "busy_timeout < heartbeat_timeout" },
        { "router:\n  methods:\n    \"A.*\":\n      timeout: 0s\n",
          "test.yaml:4:16: \"router.methods.A.*.timeout\" must be "
          "1ms..86400000ms", "nested block: bad timeout" },
        { "router:\n  methods:\n    \"A.*\":\n      nope: 1\n",
          "test.yaml:4:7: \"router.methods.A.*.nope\" unknown key",
          "nested block: unknown key" },
        { "router:\n  methods:\n    \"A.*\": {timeout: 1s, timeout: 2s}\n",
          "test.yaml:3:26: \"router.methods.A.*.timeout\" duplicate key",
          "nested block: duplicate key" },
        { "router:\n  methods:\n    A.x: 5\n",
          "test.yaml:3:10: \"router.methods.A.x\" must be a mapping",
          "nested block is a scalar" },
        { "router:\n  methods: 5\n",
          "test.yaml:2:12: \"router.methods\" must be a mapping of method glob "
          "to settings", "methods is a scalar" },
        { "router:\n  services:\n    G:\n      capacity: 0\n",
          "test.yaml:4:17: \"router.services.G.capacity\" must be 1..100000",
          "service block: capacity out of range" },
        { "auth:\n  dealer_keys: [a, \"sha256:zz\"]\n",
          "test.yaml:2:20: \"auth.dealer_keys[1]\" sha256: must be "
          "followed by 64 hex digits", "bad sha256: key form" },
        { "auth:\n  client_keys: \"" SHA_A "0\"\n",
          "test.yaml:2:16: \"auth.client_keys[0]\" sha256: must be "
          "followed by 64 hex digits", "sha256: key one digit too long" },
        { "auth:\n  dealer_keys: [\"\"]\n",
          "test.yaml:2:17: \"auth.dealer_keys[0]\" an empty key",
          "empty key" },
        { "auth:\n  dealer_keys: [a, a]\n",
          "test.yaml:2:20: \"auth.dealer_keys[1]\" dealer_keys[1] repeats "
          "the key of dealer_keys[0]",
          "repeated key" },
        { "router:\n  mode: random\n  hwm: 5\n",
          "test.yaml:2:9: \"router.mode\" must be one of: fifo, load_balance",
          "the first error is reported" },
    };

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        load_fails(cases[i].text, cases[i].err, cases[i].name);
    }

    /* A glob given twice: refused at the second occurrence, by path. */
    {
        char       *err = NULL;
        vr_cycle_t *c = load("router:\n  methods:\n    \"A.*\": {}\n"
                             "    \"A.*\": {}\n", &err);
        const char *want = "test.yaml:4:5: \"router.methods.A.*\" duplicate key";
        if (!ok(c == NULL && err != NULL && strcmp(err, want) == 0,
                "a method glob given twice is refused by name")
            && err != NULL)
        {
            diag("message: %s", err);
        }
        free(err);
        vr_cycle_destroy(&c);
    }

    /* A file that does not exist. */
    {
        char       *err = NULL;
        vr_cycle_t *c = vr_cycle_load("/nonexistent/v.yaml", NULL, &err);
        ok(c == NULL, "a missing file is refused");
        is_str(err, "/nonexistent/v.yaml:1:1: cannot open: No such file or "
               "directory", "missing file: message");
        free(err);
    }
}

int
main(void)
{
    unsetenv("VOIDRAIL_DEALER_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
    vr_modules_index();
    test_parse();
    test_endpoints();
    test_defaults();
    test_values();
    test_errors();
    return done_testing();
}
