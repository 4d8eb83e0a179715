/*
 * vr_auth.c: the "auth:" module: API keys for dealers and clients.
 *
 * With dealer keys set, `register` must carry one of them; with client
 * keys set, a ZeroMQ client must send `auth` with one before anything
 * else, and an HTTP request must carry one.  Keys live only as SHA-256
 * digests, compared in constant time; a configured key is the key itself
 * or its "sha256:<hex>" form.  Keys from VOIDRAIL_DEALER_API_KEYS /
 * VOIDRAIL_CLIENT_API_KEYS (comma lists) are added to those of the file.
 *
 * A client key may be a map: a name (for logs and /status), the method
 * globs it may call, a rate (token bucket) and a cap on its calls in
 * progress.  Each key's grant holds its bucket and counters; grants are
 * found by digest, so they outlive a reload that keeps the key, and a
 * reload that removes a key logs out the ZeroMQ identities that used it.
 * A grant whose key is gone lives on until its last request ends.
 *
 * Failed logins are counted per address: over auth.max_failures within
 * auth.failure_window, every attempt from that address is refused before
 * its key is even looked at, so guessing keys costs time.
 */
#include "config.h"
#include <fnmatch.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/queue.h>
#include <uthash.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_crypto.h"
#include "vr_cycle.h"
#include "vr_limit.h"
#include "vr_log.h"
#include "vr_module.h"
#include "vr_report.h"

/* Addresses whose failures are remembered at once (least recent go). */
#define VR_AUTH_MAX_ADDRESSES  65536

/* One configured key (an item of auth.dealer_keys or auth.client_keys). */
typedef struct {
    char         *name;             /* first: block lists check it is unique */
    char         *key;
    vr_strs_t     methods;          /* globs it may call */
    double        rate;             /* calls per second; 0: no limit */
    int64_t       burst;            /* 0: one second's worth, at least 1 */
    int64_t       concurrency;      /* calls in progress; 0: no limit */
    /* Filled by init_conf. */
    char         *label;            /* name, or "client_keys[2]" */
    double        bucket_size;
} vr_auth_key_t;

/* The keys of one side: the file's, then the environment's. */
typedef struct {
    vr_auth_key_t  *v;
    vr_digest_t    *digests;        /* v[i]'s, contiguous for vr_key_find */
    size_t          n;
} vr_auth_keys_t;

typedef struct {
    vr_blocks_t     dealer_keys;
    vr_blocks_t     client_keys;
    int64_t         max_clients;
    int64_t         max_failures;
    vr_msec_t       failure_window_ms;
    vr_auth_keys_t  dealers;
    vr_auth_keys_t  clients;
} vr_auth_conf_t;

struct vr_grant_s {
    vr_digest_t          digest;
    const vr_auth_key_t *key;       /* in the current conf; NULL: removed */
    vr_bucket_t          bucket;
    int64_t              in_flight;
    size_t               refs;      /* requests and logged-in identities */
    unsigned             generation;
    uint64_t             calls, forbidden, limited;
    UT_hash_handle       hh;        /* in vr_auth.grants while configured */
};

/* One ZeroMQ client identity that logged in, and with which key. */
typedef struct vr_auth_client_s {
    unsigned char                  *cid;
    size_t                          cid_len;
    vr_grant_t                     *grant;
    UT_hash_handle                  hh;
    TAILQ_ENTRY(vr_auth_client_s)   lru;
} vr_auth_client_t;

/* Survives reloads. */
typedef struct {
    const vr_auth_conf_t                 *conf;
    unsigned                              generation;
    vr_grant_t                           *grants;       /* by digest */
    vr_auth_client_t                     *clients;
    TAILQ_HEAD(vr_auth_lru_s, vr_auth_client_s) lru;    /* most recent first */
    size_t                                nclients;
    vr_throttle_t                        *throttle;
    uint64_t                              failures;     /* wrong keys */
    uint64_t                              throttled;    /* refused unseen */
} vr_auth_state_t;

static vr_auth_state_t vr_auth;

extern vr_module_t vr_auth_module;

#define K(field)  offsetof(vr_auth_key_t, field)

static const vr_directive_t vr_auth_client_key_directives[] = {
    { "name", VR_CONF_RELOAD, "string", NULL, vr_conf_set_str, K(name),
      0, 0, NULL, "what logs and /status call the key (default: its place, "
      "client_keys[N])" },
    { "key", VR_CONF_RELOAD | VR_CONF_SECRET, "key", NULL, vr_conf_set_str,
      K(key), 0, 0, NULL, "the key, plain or sha256:<hex> (voidrail keygen "
      "--hash)" },
    { "methods", VR_CONF_RELOAD, "glob list", "[\"*\"]", vr_conf_set_strs,
      K(methods), 0, 0, NULL, "Service.method globs the key may call "
      "(403 / forbidden otherwise)" },
    { "rate", VR_CONF_RELOAD, "rate", "0", vr_conf_set_rate, K(rate),
      0, 1000000, NULL, "calls per second, minute or hour (20/s, 30/m); "
      "0: no limit (429 / rate_limited beyond)" },
    { "burst", VR_CONF_RELOAD, "integer", "0", vr_conf_set_int, K(burst),
      0, 1000000, NULL, "calls allowed at once above the rate; 0: one "
      "second's worth, at least 1" },
    { "concurrency", VR_CONF_RELOAD, "integer", "0", vr_conf_set_int,
      K(concurrency), 0, 1000000, NULL, "calls of the key in progress at "
      "once; 0: no limit (429 / rate_limited beyond)" },
    vr_null_directive
};

static const vr_directive_t vr_auth_dealer_key_directives[] = {
    { "name", VR_CONF_RELOAD, "string", NULL, vr_conf_set_str, K(name),
      0, 0, NULL, "what logs call the key (default: its place, "
      "dealer_keys[N])" },
    { "key", VR_CONF_RELOAD | VR_CONF_SECRET, "key", NULL, vr_conf_set_str,
      K(key), 0, 0, NULL, "the key, plain or sha256:<hex>" },
    vr_null_directive
};

#undef K

static const vr_conf_blocks_t vr_auth_client_key_blocks = {
    vr_auth_client_key_directives, sizeof(vr_auth_key_t), "key", "key"
};

static const vr_conf_blocks_t vr_auth_dealer_key_blocks = {
    vr_auth_dealer_key_directives, sizeof(vr_auth_key_t), "key", "key"
};

#define F(field)  offsetof(vr_auth_conf_t, field)

static const vr_directive_t vr_auth_directives[] = {
    { "dealer_keys", VR_CONF_RELOAD, "key list", "[]",
      vr_conf_set_block_list, F(dealer_keys), 0, 0,
      &vr_auth_dealer_key_blocks,
      "keys a dealer may register with: each a key (plain or sha256:<hex>) "
      "or a map {key, name}; empty: no check" },
    { "client_keys", VR_CONF_RELOAD, "key list", "[]",
      vr_conf_set_block_list, F(client_keys), 0, 0,
      &vr_auth_client_key_blocks,
      "keys a client may call with: each a key or a map {key, name, "
      "methods, rate, burst, concurrency}; empty: no check" },
    { "max_clients", VR_CONF_RELOAD, "integer", "100000", vr_conf_set_int,
      F(max_clients), 1, 100000000, NULL,
      "logged-in ZeroMQ client identities remembered (least recent "
      "forgotten)" },
    { "max_failures", VR_CONF_RELOAD, "integer", "20", vr_conf_set_int,
      F(max_failures), 0, 1000000, NULL,
      "wrong keys one address may present within failure_window; beyond, "
      "all its attempts get 429 / rate_limited until the window ends; "
      "0: no limit" },
    { "failure_window", VR_CONF_RELOAD, "duration", "1m", vr_conf_set_msec,
      F(failure_window_ms), 1000, 86400000, NULL,
      "the window max_failures counts in, from an address's first "
      "failure" },
    vr_null_directive
};

#undef F

/* ---- configuration ---------------------------------------------------- */

static const char *vr_auth_any_method[] = { "*" };

/* Checks and completes the file's key i of one side. */
static int
vr_auth_key_check(vr_conf_t *cf, vr_cycle_t *cycle, const char *side,
                  vr_auth_key_t *k, size_t i, vr_digest_t *digest)
{
    char path[96];

    snprintf(path, sizeof(path), "auth.%s[%zu]", side, i);
    if (k->key == NULL || k->key[0] == '\0') {
        return vr_conf_error_at(cf, path, "an empty key");
    }
    if (vr_key_digest(k->key, digest) != VR_OK) {
        return vr_conf_error_at(cf, path, "sha256: must be followed by 64 "
                                "hex digits");
    }
    for (size_t j = 0; j < k->methods.n; j++) {
        if (k->methods.v[j][0] == '\0') {
            return vr_conf_error_at(cf, path, "methods: an empty glob");
        }
    }
    if (k->burst > 0 && k->rate == 0) {
        return vr_conf_error_at(cf, path, "burst needs a rate");
    }
    k->label = k->name != NULL
               ? k->name
               : vr_pool_strdup(cycle->pool, path + sizeof("auth.") - 1);
    k->bucket_size = k->burst > 0 ? (double) k->burst
                                  : fmax(1, ceil(k->rate));
    return VR_OK;
}

/* One side's keys: the file's, then those of the comma list in env. */
static int
vr_auth_keys(vr_conf_t *cf, vr_cycle_t *cycle, const vr_blocks_t *file,
             const char *side, const char *env, vr_auth_keys_t *out)
{
    const char *list = getenv(env);
    size_t      cap = file->n + 1;
    char       *copy, *save = NULL, *tok;
    char        path[96];

    for (const char *p = list; p != NULL && *p; p++) {
        cap += *p == ',';
    }
    cap += list != NULL;
    out->v = vr_pool_calloc(cycle->pool, cap * sizeof(vr_auth_key_t));
    out->digests = vr_pool_calloc(cycle->pool, cap * sizeof(vr_digest_t));
    out->n = 0;
    for (size_t i = 0; i < file->n; i++) {
        out->v[i] = ((vr_auth_key_t *) file->elts)[i];
        if (vr_auth_key_check(cf, cycle, side, &out->v[i], i,
                              &out->digests[i]) != VR_OK)
        {
            return VR_ERROR;
        }
        out->n++;
    }
    copy = list != NULL ? vr_strdup(list) : NULL;
    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok != NULL;
         tok = strtok_r(NULL, ",", &save))
    {
        vr_auth_key_t *k = &out->v[out->n];

        tok += strspn(tok, " ");
        if (*tok == '\0') {
            continue;
        }
        if (vr_key_digest(tok, &out->digests[out->n]) != VR_OK) {
            free(copy);
            snprintf(path, sizeof(path), "auth.%s", side);
            return vr_conf_error_at(cf, path, "a key in %s is a malformed "
                                    "sha256: form", env);
        }
        snprintf(path, sizeof(path), "%s[%zu]", env, out->n - file->n);
        k->label = vr_pool_strdup(cycle->pool, path);
        k->methods.v = (char **) vr_auth_any_method;
        k->methods.n = 1;
        k->bucket_size = 1;
        out->n++;
    }
    free(copy);
    /* A key given twice would make its grant ambiguous. */
    for (size_t i = 0; i < out->n; i++) {
        for (size_t j = 0; j < i; j++) {
            if (memcmp(out->digests[i].d, out->digests[j].d,
                       VR_DIGEST_LEN) == 0)
            {
                if (i < file->n) {
                    snprintf(path, sizeof(path), "auth.%s[%zu]", side, i);
                } else {
                    snprintf(path, sizeof(path), "auth.%s", side);
                }
                return vr_conf_error_at(cf, path, "%s repeats the key of "
                                        "%s", out->v[i].label,
                                        out->v[j].label);
            }
        }
    }
    return VR_OK;
}

static int
vr_auth_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_auth_conf_t *conf = data;

    if (vr_auth_keys(cf, cycle, &conf->dealer_keys, "dealer_keys",
                     "VOIDRAIL_DEALER_API_KEYS", &conf->dealers) != VR_OK)
    {
        return VR_ERROR;
    }
    return vr_auth_keys(cf, cycle, &conf->client_keys, "client_keys",
                        "VOIDRAIL_CLIENT_API_KEYS", &conf->clients);
}

/* ---- grants ----------------------------------------------------------- */

static void
vr_auth_unref(vr_grant_t *g)
{
    if (--g->refs == 0 && g->key == NULL) {
        free(g);
    }
}

/* Matches the current keys to grants: kept keys keep their state. */
static void
vr_auth_update_grants(const vr_auth_keys_t *keys)
{
    vr_grant_t *g, *tmp;

    vr_auth.generation++;
    for (size_t i = 0; i < keys->n; i++) {
        HASH_FIND(hh, vr_auth.grants, keys->digests[i].d, VR_DIGEST_LEN, g);
        if (g == NULL) {
            g = vr_calloc(1, sizeof(*g));
            g->digest = keys->digests[i];
            vr_bucket_init(&g->bucket, keys->v[i].bucket_size, vr_now_ms);
            HASH_ADD(hh, vr_auth.grants, digest.d, VR_DIGEST_LEN, g);
        } else if (g->key != NULL && g->key->rate == 0
                   && keys->v[i].rate > 0)
        {
            /* A key without a rate had no bucket to keep: it starts full. */
            vr_bucket_init(&g->bucket, keys->v[i].bucket_size, vr_now_ms);
        }
        g->key = &keys->v[i];
        g->generation = vr_auth.generation;
    }
    HASH_ITER(hh, vr_auth.grants, g, tmp) {
        if (g->generation != vr_auth.generation) {
            HASH_DEL(vr_auth.grants, g);
            g->key = NULL;
            g->refs++;
            vr_auth_unref(g);       /* freed now unless still referenced */
        }
    }
}

/* The grant of key i of the current client keys. */
static vr_grant_t *
vr_auth_grant(long i)
{
    vr_grant_t *g;

    HASH_FIND(hh, vr_auth.grants, vr_auth.conf->clients.digests[i].d,
              VR_DIGEST_LEN, g);
    return g;
}

static bool
vr_auth_method_allowed(const vr_auth_key_t *k, const char *name, size_t len)
{
    char buf[VR_METHOD_NAME_MAX + 1];

    if (len > VR_METHOD_NAME_MAX) {
        return false;
    }
    memcpy(buf, name, len);
    buf[len] = '\0';
    for (size_t i = 0; i < k->methods.n; i++) {
        if (fnmatch(k->methods.v[i], buf, 0) == 0) {
            return true;
        }
    }
    return false;
}

static int
vr_auth_admit(void *data, vr_grant_t *g, const char *name, size_t len,
              vr_refusal_t *why)
{
    const vr_auth_key_t *k;
    vr_msec_t            wait_ms;

    if (g == NULL) {
        return VR_OK;
    }
    k = g->key;
    if (!vr_auth_method_allowed(k, name, len)) {
        g->forbidden++;
        why->code = VR_CODE_FORBIDDEN;
        why->retry_after_ms = 0;
        snprintf(why->text, sizeof(why->text), "the API key \"%s\" may not "
                 "call %.*s", k->label, (int) vr_min(len, 100), name);
        return VR_ERROR;
    }
    if (k->concurrency > 0 && g->in_flight >= k->concurrency) {
        g->limited++;
        why->code = VR_CODE_RATE_LIMITED;
        why->retry_after_ms = 1000;
        snprintf(why->text, sizeof(why->text), "the API key \"%s\" has %lld "
                 "calls in progress, its limit", k->label,
                 (long long) g->in_flight);
        return VR_ERROR;
    }
    if (k->rate > 0
        && (wait_ms = vr_bucket_take(&g->bucket, k->rate, k->bucket_size,
                                     vr_now_ms)) > 0)
    {
        g->limited++;
        why->code = VR_CODE_RATE_LIMITED;
        why->retry_after_ms = wait_ms;
        snprintf(why->text, sizeof(why->text), "the API key \"%s\" is over "
                 "its rate limit; retry in %lld ms", k->label,
                 (long long) wait_ms);
        return VR_ERROR;
    }
    g->calls++;
    g->in_flight++;
    g->refs++;
    return VR_OK;
}

static void
vr_auth_release(void *data, vr_grant_t *g)
{
    g->in_flight--;
    vr_auth_unref(g);
}

/* ---- failures per address --------------------------------------------- */

/* Is addr throttled now?  Fills *why when it is. */
static bool
vr_auth_throttled(const char *addr, vr_refusal_t *why)
{
    const vr_auth_conf_t *conf = vr_auth.conf;
    vr_msec_t             wait_ms;

    wait_ms = vr_throttle_blocked(vr_auth.throttle, addr, conf->max_failures,
                                  conf->failure_window_ms, vr_now_ms);
    if (wait_ms == 0) {
        return false;
    }
    vr_auth.throttled++;
    why->code = VR_CODE_RATE_LIMITED;
    why->retry_after_ms = wait_ms;
    snprintf(why->text, sizeof(why->text), "too many wrong API keys from "
             "this address; retry in %lld s",
             (long long) ((wait_ms + 999) / 1000));
    return true;
}

static void
vr_auth_failed(const char *addr, const char *what)
{
    const vr_auth_conf_t *conf = vr_auth.conf;

    vr_auth.failures++;
    vr_throttle_fail(vr_auth.throttle, addr, conf->failure_window_ms,
                     vr_now_ms);
    if (conf->max_failures > 0
        && vr_throttle_blocked(vr_auth.throttle, addr, conf->max_failures,
                               conf->failure_window_ms, vr_now_ms) > 0)
    {
        vr_log_limited(VR_LOG_WARN, "%s: wrong API keys from %s; its "
                       "attempts are refused for a while (auth.max_failures "
                       "%lld)", what, addr[0] ? addr : "-",
                       (long long) conf->max_failures);
    }
}

/* ---- dealers ---------------------------------------------------------- */

static bool
vr_auth_dealer_required(void *data)
{
    return vr_auth.conf->dealers.n > 0;
}

static vr_auth_result_t
vr_auth_dealer_check(void *data, const char *addr, const char *key,
                     size_t len, vr_refusal_t *why)
{
    const vr_auth_keys_t *keys = &vr_auth.conf->dealers;

    if (keys->n == 0) {
        return VR_AUTH_NOT_NEEDED;
    }
    if (vr_auth_throttled(addr, why)) {
        return VR_AUTH_THROTTLED;
    }
    if (vr_key_find(key, len, keys->digests, keys->n) < 0) {
        vr_auth_failed(addr, "register");
        return VR_AUTH_FAILED;
    }
    return VR_AUTH_OK;
}

/* ---- clients ---------------------------------------------------------- */

static void
vr_auth_forget(vr_auth_client_t *c)
{
    HASH_DEL(vr_auth.clients, c);
    TAILQ_REMOVE(&vr_auth.lru, c, lru);
    vr_auth.nclients--;
    vr_auth_unref(c->grant);
    free(c->cid);
    free(c);
}

static vr_auth_client_t *
vr_auth_find(const void *cid, size_t len)
{
    vr_auth_client_t *c;

    HASH_FIND(hh, vr_auth.clients, cid, len, c);
    return c;
}

static bool
vr_auth_client_required(void *data)
{
    return vr_auth.conf->clients.n > 0;
}

/* A client key: its grant, or NULL (a failure counted against addr). */
static vr_auth_result_t
vr_auth_client_key(const char *addr, const char *key, size_t len,
                   const char *what, vr_grant_t **grant, vr_refusal_t *why)
{
    const vr_auth_keys_t *keys = &vr_auth.conf->clients;
    long                  i;

    *grant = NULL;
    if (keys->n == 0) {
        return VR_AUTH_NOT_NEEDED;
    }
    if (key == NULL) {
        return VR_AUTH_FAILED;      /* no key: not a guess */
    }
    if (vr_auth_throttled(addr, why)) {
        return VR_AUTH_THROTTLED;
    }
    i = vr_key_find(key, len, keys->digests, keys->n);
    if (i < 0) {
        vr_auth_failed(addr, what);
        return VR_AUTH_FAILED;
    }
    *grant = vr_auth_grant(i);
    return VR_AUTH_OK;
}

static vr_auth_result_t
vr_auth_client_login(void *data, const char *addr, const void *cid,
                     size_t cid_len, const char *key, size_t len,
                     vr_refusal_t *why)
{
    vr_auth_client_t *c = vr_auth_find(cid, cid_len);
    vr_grant_t       *g;
    vr_auth_result_t  rc;

    rc = vr_auth_client_key(addr, key, len, "auth", &g, why);
    if (rc == VR_AUTH_NOT_NEEDED) {
        return rc;
    }
    if (rc != VR_AUTH_OK) {
        if (c != NULL) {
            vr_auth_forget(c);      /* a wrong key ends an earlier login */
        }
        return rc;
    }
    if (c == NULL) {
        c = vr_calloc(1, sizeof(*c));
        c->cid = vr_memdup(cid, cid_len);
        c->cid_len = cid_len;
        HASH_ADD_KEYPTR(hh, vr_auth.clients, c->cid, c->cid_len, c);
        vr_auth.nclients++;
    } else {
        TAILQ_REMOVE(&vr_auth.lru, c, lru);
        vr_auth_unref(c->grant);
    }
    c->grant = g;
    g->refs++;
    TAILQ_INSERT_HEAD(&vr_auth.lru, c, lru);
    while (vr_auth.nclients > (size_t) vr_auth.conf->max_clients) {
        vr_auth_forget(TAILQ_LAST(&vr_auth.lru, vr_auth_lru_s));
    }
    return VR_AUTH_OK;
}

static bool
vr_auth_client_session(void *data, const void *cid, size_t cid_len,
                       vr_grant_t **grant)
{
    vr_auth_client_t *c = vr_auth_find(cid, cid_len);

    *grant = NULL;
    if (c == NULL) {
        return false;
    }
    if (TAILQ_FIRST(&vr_auth.lru) != c) {
        TAILQ_REMOVE(&vr_auth.lru, c, lru);
        TAILQ_INSERT_HEAD(&vr_auth.lru, c, lru);
    }
    *grant = c->grant;
    return true;
}

static vr_auth_result_t
vr_auth_client_check(void *data, const char *addr, const char *key,
                     size_t len, vr_grant_t **grant, vr_refusal_t *why)
{
    return vr_auth_client_key(addr, key, len, "http", grant, why);
}

static const vr_auth_ops_t vr_auth_ops = {
    .dealer_required = vr_auth_dealer_required,
    .dealer_check = vr_auth_dealer_check,
    .client_required = vr_auth_client_required,
    .client_login = vr_auth_client_login,
    .client_session = vr_auth_client_session,
    .client_check = vr_auth_client_check,
    .admit = vr_auth_admit,
    .release = vr_auth_release,
};

/* ---- reports ---------------------------------------------------------- */

static void
vr_auth_status(json_t *doc)
{
    const vr_auth_keys_t *keys = &vr_auth.conf->clients;
    json_t               *list = json_array();

    for (size_t i = 0; i < keys->n; i++) {
        const vr_auth_key_t *k = &keys->v[i];
        const vr_grant_t    *g = vr_auth_grant((long) i);
        json_t              *methods = json_array();

        for (size_t j = 0; j < k->methods.n; j++) {
            json_array_append_new(methods, json_string(k->methods.v[j]));
        }
        json_array_append_new(list, json_pack(
            "{s:s, s:o, s:f, s:I, s:I, s:I, s:I, s:I, s:I}",
            "name", k->label, "methods", methods, "rate_per_s", k->rate,
            "burst", (json_int_t) k->bucket_size,
            "concurrency", (json_int_t) k->concurrency,
            "in_flight", (json_int_t) g->in_flight,
            "calls", (json_int_t) g->calls,
            "forbidden", (json_int_t) g->forbidden,
            "limited", (json_int_t) g->limited));
    }
    json_object_set_new(doc, "keys", list);
    json_object_set_new(doc, "auth", json_pack(
        "{s:b, s:b, s:I, s:I, s:I}",
        "dealer_keys_required", vr_auth.conf->dealers.n > 0,
        "client_keys_required", keys->n > 0,
        "wrong_keys", (json_int_t) vr_auth.failures,
        "throttled", (json_int_t) vr_auth.throttled,
        "addresses_watched", (json_int_t) vr_throttle_count(vr_auth.throttle)));
}

/* One line of a metric per client key. */
static void
vr_auth_metric(vr_buf_t *out, const char *name, const char *extra,
               uint64_t (*value)(const vr_grant_t *))
{
    const vr_auth_keys_t *keys = &vr_auth.conf->clients;

    for (size_t i = 0; i < keys->n; i++) {
        vr_buf_printf_b(out, "%s{key=\"", name);
        vr_report_label(out, keys->v[i].label);
        vr_buf_printf_b(out, "\"%s} %llu\n", extra,
                        (unsigned long long) value(vr_auth_grant((long) i)));
    }
}

static uint64_t
vr_auth_calls(const vr_grant_t *g)
{
    return g->calls;
}

static uint64_t
vr_auth_forbidden(const vr_grant_t *g)
{
    return g->forbidden;
}

static uint64_t
vr_auth_limited(const vr_grant_t *g)
{
    return g->limited;
}

static uint64_t
vr_auth_in_flight(const vr_grant_t *g)
{
    return (uint64_t) g->in_flight;
}

static void
vr_auth_metrics(vr_buf_t *out)
{
    vr_buf_adds(out, "# HELP voidrail_key_calls_total Calls admitted, by "
                "client key name.\n# TYPE voidrail_key_calls_total "
                "counter\n");
    vr_auth_metric(out, "voidrail_key_calls_total", "", vr_auth_calls);
    vr_buf_adds(out, "# HELP voidrail_key_refused_total Calls refused by a "
                "key's scope or limits, by key name and reason.\n"
                "# TYPE voidrail_key_refused_total counter\n");
    vr_auth_metric(out, "voidrail_key_refused_total",
                   ",reason=\"forbidden\"", vr_auth_forbidden);
    vr_auth_metric(out, "voidrail_key_refused_total",
                   ",reason=\"rate_limited\"", vr_auth_limited);
    vr_buf_adds(out, "# HELP voidrail_key_in_flight Calls in progress, by "
                "client key name.\n# TYPE voidrail_key_in_flight gauge\n");
    vr_auth_metric(out, "voidrail_key_in_flight", "", vr_auth_in_flight);
    vr_buf_printf_b(out, "# HELP voidrail_auth_wrong_keys_total Wrong or "
                    "missing-by-guess API keys presented.\n"
                    "# TYPE voidrail_auth_wrong_keys_total counter\n"
                    "voidrail_auth_wrong_keys_total %llu\n"
                    "# HELP voidrail_auth_throttled_total Attempts refused "
                    "because their address failed too often.\n"
                    "# TYPE voidrail_auth_throttled_total counter\n"
                    "voidrail_auth_throttled_total %llu\n",
                    (unsigned long long) vr_auth.failures,
                    (unsigned long long) vr_auth.throttled);
}

static const vr_reporter_t vr_auth_reporter = {
    vr_auth_status, vr_auth_metrics
};

/* ---- the module ------------------------------------------------------- */

static void
vr_auth_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_auth_conf_t   *conf = vr_cycle_conf(cycle, vr_auth_module);
    vr_auth_client_t *c, *tmp;
    size_t            revoked = 0;

    if (old == NULL) {
        TAILQ_INIT(&vr_auth.lru);
        vr_auth.throttle = vr_throttle_new(VR_AUTH_MAX_ADDRESSES);
    }
    vr_auth.conf = conf;
    vr_auth_update_grants(&conf->clients);
    /* Identities whose key is gone are logged out. */
    HASH_ITER(hh, vr_auth.clients, c, tmp) {
        if (c->grant->key == NULL) {
            vr_auth_forget(c);
            revoked++;
        }
    }
    while (vr_auth.nclients > (size_t) conf->max_clients) {
        vr_auth_forget(TAILQ_LAST(&vr_auth.lru, vr_auth_lru_s));
    }
    if (revoked > 0) {
        vr_log_notice("%zu client identities logged out: their key was "
                      "removed", revoked);
    }
    vr_broker_set_auth(cycle->broker, &vr_auth_ops);
    vr_report_register(&vr_auth_reporter);
}

static void
vr_auth_exit(vr_cycle_t *cycle)
{
    vr_auth_client_t *c, *ctmp;
    vr_grant_t       *g, *gtmp;

    HASH_ITER(hh, vr_auth.clients, c, ctmp) {
        vr_auth_forget(c);
    }
    /* Requests are all freed by now: no grant is referenced. */
    HASH_ITER(hh, vr_auth.grants, g, gtmp) {
        HASH_DEL(vr_auth.grants, g);
        free(g);
    }
    vr_throttle_free(&vr_auth.throttle);
}

vr_module_t vr_auth_module = {
    .name = "auth",
    .directives = vr_auth_directives,
    .conf_size = sizeof(vr_auth_conf_t),
    .init_conf = vr_auth_init_conf,
    .commit = vr_auth_commit,
    .exit = vr_auth_exit,
};
