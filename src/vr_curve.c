/*
 * vr_curve.c: the "router.curve:" block (see vr_curve.h).
 *
 * The check reads the server's certificate (or takes its secret key),
 * derives the public key, and gathers the allow-list from `allow` and
 * the *.key certificates of `allow_dir` into one sorted array of Z85
 * keys, looked up by bsearch.  Messages name files and keys' places,
 * never a secret.
 */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "vr_core.h"
#include "vr_curve.h"
#include "vr_log.h"
#include "vr_zap.h"

#define F(field)  offsetof(vr_curve_conf_t, field)

const vr_directive_t vr_curve_directives[] = {
    { "key_file", 0, "path", "\"\"", vr_conf_set_str, F(key_file), 0, 0,
      NULL,
      "the server's secret certificate (ZeroMQ format, BASE.key_secret); "
      "set: the ROUTER is a CURVE server (restart)" },
    { "secret_key", VR_CONF_SECRET, "key", "\"\"", vr_conf_set_str,
      F(secret_key), 0, 0, NULL,
      "instead of key_file: the server's secret key, 40 Z85 or 64 hex "
      "characters (restart)" },
    { "public_key", 0, "key", "\"\"", vr_conf_set_str, F(public_key), 0, 0,
      NULL,
      "optional: the server's public key, checked against the secret one "
      "(restart)" },
    { "allow", VR_CONF_RELOAD, "key list", "[]", vr_conf_set_strs, F(allow),
      0, 0, NULL,
      "public keys of the clients let in (Z85 or hex); none here and no "
      "allow_dir: any client key" },
    { "allow_dir", VR_CONF_RELOAD, "path", "\"\"", vr_conf_set_str,
      F(allow_dir), 0, 0, NULL,
      "directory whose *.key certificates are clients let in (read again "
      "on reload)" },
    vr_null_directive
};

#undef F

static bool
vr_curve_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int
vr_curve_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Appends a Z85 key to the growing list (pool memory, doubled). */
static void
vr_curve_add(vr_conf_t *cf, vr_curve_conf_t *c, size_t *cap,
             const char *z85)
{
    if (c->nallowed == *cap) {
        size_t  ncap = *cap ? *cap * 2 : 16;
        char  **v = vr_pool_calloc(cf->pool, ncap * sizeof(char *));

        if (c->nallowed > 0) {
            memcpy(v, c->allowed, c->nallowed * sizeof(char *));
        }
        c->allowed = v;
        *cap = ncap;
    }
    c->allowed[c->nallowed++] = vr_pool_strdup(cf->pool, z85);
}

static int
vr_curve_read_dir(vr_conf_t *cf, const char *path, vr_curve_conf_t *c,
                  size_t *cap)
{
    DIR           *dir;
    struct dirent *e;
    char           file[4096], pub[VR_CURVE_Z85_SIZE];
    char           sec[VR_CURVE_Z85_SIZE], err[512];
    size_t         n;

    dir = opendir(c->allow_dir);
    if (dir == NULL) {
        return vr_conf_error_at(cf, path, "cannot read the directory "
                                "\"%s\": %s", c->allow_dir, strerror(errno));
    }
    while ((e = readdir(dir)) != NULL) {
        n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".key") != 0
            || e->d_name[0] == '.')
        {
            continue;                   /* BASE.key_secret among others */
        }
        snprintf(file, sizeof(file), "%s/%s", c->allow_dir, e->d_name);
        if (vr_curve_cert_read(file, pub, sec, err, sizeof(err)) != 0) {
            closedir(dir);
            return vr_conf_error_at(cf, path, "%s", err);
        }
        OPENSSL_cleanse(sec, sizeof(sec));
        vr_curve_add(cf, c, cap, pub);
    }
    closedir(dir);
    return VR_OK;
}

/* The server's key pair from key_file or secret_key (and public_key). */
static int
vr_curve_server_pair(vr_conf_t *cf, const char *prefix, vr_curve_conf_t *c)
{
    char path[300], pub[VR_CURVE_Z85_SIZE], err[512];

    if (vr_curve_set(c->key_file) && vr_curve_set(c->secret_key)) {
        snprintf(path, sizeof(path), "%s.secret_key", prefix);
        return vr_conf_error_at(cf, path, "and %s.key_file are two ways to "
                                "give the server key: set one", prefix);
    }
    if (vr_curve_set(c->key_file)) {
        snprintf(path, sizeof(path), "%s.key_file", prefix);
        if (vr_curve_cert_read(c->key_file, c->server_public,
                               c->server_secret, err, sizeof(err)) != 0)
        {
            return vr_conf_error_at(cf, path, "%s", err);
        }
        if (c->server_secret[0] == '\0') {
            return vr_conf_error_at(cf, path, "\"%s\" has no secret-key: "
                                    "the server needs its secret "
                                    "certificate (BASE.key_secret, not "
                                    "BASE.key)", c->key_file);
        }
    } else {
        snprintf(path, sizeof(path), "%s.secret_key", prefix);
        if (vr_curve_key_z85(c->secret_key, c->server_secret) != 0) {
            return vr_conf_error_at(cf, path, "is not a CURVE key (40 Z85 "
                                    "or 64 hex characters)");
        }
        if (zmq_curve_public(c->server_public, c->server_secret) != 0) {
            return vr_conf_error_at(cf, path, "cannot derive the public "
                                    "key: %s", zmq_strerror(errno));
        }
    }
    if (vr_curve_set(c->public_key)) {
        snprintf(path, sizeof(path), "%s.public_key", prefix);
        if (vr_curve_key_z85(c->public_key, pub) != 0) {
            return vr_conf_error_at(cf, path, "is not a CURVE key (40 Z85 "
                                    "or 64 hex characters)");
        }
        if (strcmp(pub, c->server_public) != 0) {
            return vr_conf_error_at(cf, path, "is not the public key of "
                                    "the server's secret key");
        }
    }
    return VR_OK;
}

int
vr_curve_conf_check(vr_conf_t *cf, const char *prefix, vr_curve_conf_t *c)
{
    char   path[300], z85[VR_CURVE_Z85_SIZE];
    size_t cap = 0;

    c->on = vr_curve_set(c->key_file) || vr_curve_set(c->secret_key);
    c->server_public[0] = c->server_secret[0] = '\0';
    c->allowed = NULL;
    c->nallowed = 0;
    c->listed = c->allow.n > 0 || vr_curve_set(c->allow_dir);

    if (!c->on) {
        const char *stray = vr_curve_set(c->public_key) ? "public_key"
                            : c->allow.n > 0 ? "allow"
                            : vr_curve_set(c->allow_dir) ? "allow_dir" : NULL;

        if (stray != NULL) {
            snprintf(path, sizeof(path), "%s.%s", prefix, stray);
            return vr_conf_error_at(cf, path, "needs %s.key_file or "
                                    "%s.secret_key (the server key)",
                                    prefix, prefix);
        }
        c->listed = false;
        return VR_OK;
    }
    if (vr_curve_server_pair(cf, prefix, c) != VR_OK) {
        OPENSSL_cleanse(c->server_secret, sizeof(c->server_secret));
        return VR_ERROR;
    }

    snprintf(path, sizeof(path), "%s.allow", prefix);
    for (size_t i = 0; i < c->allow.n; i++) {
        if (vr_curve_key_z85(c->allow.v[i], z85) != 0) {
            return vr_conf_error_at(cf, path, "item %zu is not a CURVE "
                                    "public key (40 Z85 or 64 hex "
                                    "characters)", i + 1);
        }
        vr_curve_add(cf, c, &cap, z85);
    }
    if (vr_curve_set(c->allow_dir)) {
        snprintf(path, sizeof(path), "%s.allow_dir", prefix);
        if (vr_curve_read_dir(cf, path, c, &cap) != VR_OK) {
            return VR_ERROR;
        }
    }
    if (c->nallowed > 0) {
        qsort(c->allowed, c->nallowed, sizeof(char *), vr_curve_cmp);
    }
    return VR_OK;
}

static int
vr_curve_setopt(void *socket, int option, const void *v, size_t len,
                const char *name)
{
    if (zmq_setsockopt(socket, option, v, len) != 0) {
        vr_log_error("zmq_setsockopt(%s): %s", name, zmq_strerror(errno));
        return VR_ERROR;
    }
    return VR_OK;
}

int
vr_curve_server_setup(void *socket, const vr_curve_conf_t *c)
{
    int one = 1, handover = 0;

    if (!c->on) {
        return VR_OK;
    }
    if (!zmq_has("curve")) {
        vr_log_error("router.curve is set but this libzmq has no CURVE");
        return VR_ERROR;
    }
    /* A second connection under an identity in use is refused rather than
     * handed the identity: another key cannot take over a live dealer's
     * route.  ZAP_DOMAIN makes libzmq ask the handler for every peer. */
    if (vr_curve_setopt(socket, ZMQ_CURVE_SERVER, &one, sizeof(one),
                        "CURVE_SERVER")
        || vr_curve_setopt(socket, ZMQ_CURVE_SECRETKEY, c->server_secret,
                           VR_CURVE_Z85_SIZE - 1, "CURVE_SECRETKEY")
        || vr_curve_setopt(socket, ZMQ_ZAP_DOMAIN, VR_ZAP_DOMAIN,
                           sizeof(VR_ZAP_DOMAIN) - 1,
                           "ZAP_DOMAIN")
        || vr_curve_setopt(socket, ZMQ_ROUTER_HANDOVER, &handover,
                           sizeof(handover), "ROUTER_HANDOVER"))
    {
        return VR_ERROR;
    }
    return VR_OK;
}

bool
vr_curve_same_server(const vr_curve_conf_t *a, const vr_curve_conf_t *b)
{
    if (a->on != b->on) {
        return false;
    }
    return !a->on || CRYPTO_memcmp(a->server_secret, b->server_secret,
                                   sizeof(a->server_secret)) == 0;
}

bool
vr_curve_allowed(const vr_curve_conf_t *c, const char *z85)
{
    if (!c->listed) {
        return true;
    }
    return c->nallowed > 0
           && bsearch(&z85, c->allowed, c->nallowed, sizeof(char *),
                      vr_curve_cmp) != NULL;
}

const char *
vr_curve_peer_key(zmq_msg_t *frame)
{
    const char *key = zmq_msg_gets(frame, "User-Id");

    return key != NULL ? key : "";
}
