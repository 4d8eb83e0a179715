/*
 * vr_auth.c: the "auth:" module: API keys for dealers and clients.
 *
 * With dealer keys set, `register` must carry one of them; with client
 * keys set, a client must send `auth` with one before anything else.  The
 * identities that logged in are remembered (a Python client authenticates
 * once per connection), bounded by auth.max_clients with least-recently-
 * used eviction; a reload that removes a key forgets the identities that
 * used it.  Keys live only as SHA-256 digests, compared in constant time.
 * Keys from VOIDRAIL_DEALER_API_KEYS / VOIDRAIL_CLIENT_API_KEYS (comma
 * lists) are added to those of the file.
 */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <sys/queue.h>
#include <uthash.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_crypto.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_module.h"

typedef struct {
    vr_strs_t     dealer_keys;
    vr_strs_t     client_keys;
    int64_t       max_clients;
    /* Filled by init_conf: the file's keys plus the environment's. */
    vr_digest_t  *dealer_digests;
    size_t        ndealer;
    vr_digest_t  *client_digests;
    size_t        nclient;
} vr_auth_conf_t;

/* One client identity that logged in, and with which key. */
typedef struct vr_auth_client_s {
    unsigned char                  *cid;
    size_t                          cid_len;
    vr_digest_t                     key;
    UT_hash_handle                  hh;
    TAILQ_ENTRY(vr_auth_client_s)   lru;
} vr_auth_client_t;

/* Survives reloads: the identities that logged in. */
typedef struct {
    const vr_auth_conf_t                 *conf;
    vr_auth_client_t                     *clients;
    TAILQ_HEAD(vr_auth_lru_s, vr_auth_client_s) lru;    /* most recent first */
    size_t                                nclients;
} vr_auth_state_t;

static vr_auth_state_t vr_auth;

extern vr_module_t vr_auth_module;

static const vr_directive_t vr_auth_directives[] = {
    { "dealer_keys", VR_CONF_RELOAD, "key list", "[]", vr_conf_set_strs,
      offsetof(vr_auth_conf_t, dealer_keys), 0, 0, NULL,
      "keys a dealer may register with (plain or sha256:<hex>); empty: "
      "no check" },
    { "client_keys", VR_CONF_RELOAD, "key list", "[]", vr_conf_set_strs,
      offsetof(vr_auth_conf_t, client_keys), 0, 0, NULL,
      "keys a client may authenticate with (plain or sha256:<hex>); "
      "empty: no check" },
    { "max_clients", VR_CONF_RELOAD, "integer", "100000", vr_conf_set_int,
      offsetof(vr_auth_conf_t, max_clients), 1, 100000000, NULL,
      "authenticated client identities remembered (least recent forgotten)" },
    vr_null_directive
};

/* Digests of the configured keys and of a comma list from env var. */
static int
vr_auth_digests(vr_conf_t *cf, vr_cycle_t *cycle, const vr_strs_t *keys,
                const char *env, const char *path, vr_digest_t **out,
                size_t *n)
{
    const char *list = getenv(env);
    size_t      cap = keys->n + 1;
    char       *copy = NULL, *save = NULL, *tok;

    if (list != NULL) {
        for (const char *p = list; *p; p++) {
            cap += *p == ',';
        }
        cap++;
    }
    *out = vr_pool_calloc(cycle->pool, cap * sizeof(vr_digest_t));
    *n = 0;
    for (size_t i = 0; i < keys->n; i++) {
        if (keys->v[i][0] == '\0') {
            return vr_conf_error_at(cf, path, "item %zu is an empty key", i + 1);
        }
        if (vr_key_digest(keys->v[i], &(*out)[(*n)++]) != VR_OK) {
            return vr_conf_error_at(cf, path, "item %zu: sha256: must be "
                                    "followed by 64 hex digits", i + 1);
        }
    }
    if (list != NULL) {
        copy = vr_strdup(list);
        for (tok = strtok_r(copy, ",", &save); tok != NULL;
             tok = strtok_r(NULL, ",", &save))
        {
            while (*tok == ' ') {
                tok++;
            }
            if (*tok == '\0') {
                continue;
            }
            if (vr_key_digest(tok, &(*out)[(*n)++]) != VR_OK) {
                free(copy);
                return vr_conf_error_at(cf, path, "a key in %s is a "
                                        "malformed sha256: form", env);
            }
        }
        free(copy);
    }
    return VR_OK;
}

static int
vr_auth_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_auth_conf_t *conf = data;

    if (vr_auth_digests(cf, cycle, &conf->dealer_keys,
                        "VOIDRAIL_DEALER_API_KEYS", "auth.dealer_keys",
                        &conf->dealer_digests, &conf->ndealer) != VR_OK)
    {
        return VR_ERROR;
    }
    return vr_auth_digests(cf, cycle, &conf->client_keys,
                           "VOIDRAIL_CLIENT_API_KEYS", "auth.client_keys",
                           &conf->client_digests, &conf->nclient);
}

static void
vr_auth_forget(vr_auth_client_t *c)
{
    HASH_DEL(vr_auth.clients, c);
    TAILQ_REMOVE(&vr_auth.lru, c, lru);
    vr_auth.nclients--;
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
vr_auth_dealer_required(void *data)
{
    return vr_auth.conf->ndealer > 0;
}

/* A key against one side's digests. */
static vr_auth_result_t
vr_auth_check(const char *key, size_t len, const vr_digest_t *digests,
              size_t n)
{
    if (n == 0) {
        return VR_AUTH_NOT_NEEDED;
    }
    return vr_key_match(key, len, digests, n) ? VR_AUTH_OK : VR_AUTH_FAILED;
}

static vr_auth_result_t
vr_auth_dealer_check(void *data, const char *key, size_t len)
{
    return vr_auth_check(key, len, vr_auth.conf->dealer_digests,
                         vr_auth.conf->ndealer);
}

static bool
vr_auth_client_required(void *data)
{
    return vr_auth.conf->nclient > 0;
}

static vr_auth_result_t
vr_auth_client_login(void *data, const void *cid, size_t cid_len,
                     const char *key, size_t len)
{
    const vr_auth_conf_t *conf = vr_auth.conf;
    vr_auth_client_t     *c;

    if (conf->nclient == 0) {
        return VR_AUTH_NOT_NEEDED;
    }
    c = vr_auth_find(cid, cid_len);
    if (!vr_key_match(key, len, conf->client_digests, conf->nclient)) {
        if (c != NULL) {
            vr_auth_forget(c);      /* a wrong key ends an earlier login */
        }
        return VR_AUTH_FAILED;
    }
    if (c == NULL) {
        c = vr_calloc(1, sizeof(*c));
        c->cid = vr_memdup(cid, cid_len);
        c->cid_len = cid_len;
        HASH_ADD_KEYPTR(hh, vr_auth.clients, c->cid, c->cid_len, c);
        vr_auth.nclients++;
    } else {
        TAILQ_REMOVE(&vr_auth.lru, c, lru);
    }
    vr_sha256(key, len, &c->key);
    TAILQ_INSERT_HEAD(&vr_auth.lru, c, lru);
    while (vr_auth.nclients > (size_t) conf->max_clients) {
        vr_auth_forget(TAILQ_LAST(&vr_auth.lru, vr_auth_lru_s));
    }
    return VR_AUTH_OK;
}

static bool
vr_auth_client_known(void *data, const void *cid, size_t cid_len)
{
    vr_auth_client_t *c = vr_auth_find(cid, cid_len);

    if (c == NULL) {
        return false;
    }
    if (TAILQ_FIRST(&vr_auth.lru) != c) {
        TAILQ_REMOVE(&vr_auth.lru, c, lru);
        TAILQ_INSERT_HEAD(&vr_auth.lru, c, lru);
    }
    return true;
}

static vr_auth_result_t
vr_auth_client_check(void *data, const char *key, size_t len)
{
    return vr_auth_check(key, len, vr_auth.conf->client_digests,
                         vr_auth.conf->nclient);
}

static const vr_auth_ops_t vr_auth_ops = {
    .dealer_required = vr_auth_dealer_required,
    .dealer_check = vr_auth_dealer_check,
    .client_required = vr_auth_client_required,
    .client_login = vr_auth_client_login,
    .client_known = vr_auth_client_known,
    .client_check = vr_auth_client_check,
};

static int
vr_auth_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_auth_conf_t   *conf = vr_cycle_conf(cycle, vr_auth_module);
    vr_auth_client_t *c, *tmp;
    size_t            revoked = 0;

    if (old == NULL) {
        TAILQ_INIT(&vr_auth.lru);
    }
    vr_auth.conf = conf;
    /* Identities whose key is gone are logged out. */
    HASH_ITER(hh, vr_auth.clients, c, tmp) {
        bool kept = false;
        for (size_t i = 0; i < conf->nclient; i++) {
            kept = kept || memcmp(c->key.d, conf->client_digests[i].d,
                                  VR_DIGEST_LEN) == 0;
        }
        if (!kept) {
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
    return VR_OK;
}

static void
vr_auth_exit(vr_cycle_t *cycle)
{
    vr_auth_client_t *c, *tmp;

    HASH_ITER(hh, vr_auth.clients, c, tmp) {
        vr_auth_forget(c);
    }
}

vr_module_t vr_auth_module = {
    .name = "auth",
    .directives = vr_auth_directives,
    .conf_size = sizeof(vr_auth_conf_t),
    .init_conf = vr_auth_init_conf,
    .init = vr_auth_init,
    .exit = vr_auth_exit,
};
