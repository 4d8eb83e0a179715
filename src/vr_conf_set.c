/*
 * vr_conf_set.c: the shared setters of directive tables (see vr_conf.h).
 *
 * Each setter checks the YAML node's kind and value and stores the result
 * at the directive's offset in the module's conf.  Strings are copied into
 * the cycle's pool, so they live exactly as long as the configuration.
 */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_conf.h"

#define vr_conf_field(conf, d, type)  ((type *) ((char *) (conf) + (d)->offset))

static bool
vr_conf_is_null(yaml_node_t *node)
{
    const char *s = vr_conf_scalar(node);

    return s != NULL && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
           && (s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0);
}

const char *
vr_conf_set_str(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                void *conf)
{
    const char *s = vr_conf_scalar(node);

    if (s == NULL) {
        return "must be a string";
    }
    if (strlen(s) != node->data.scalar.length) {
        return "must not contain NUL characters";
    }
    *vr_conf_field(conf, d, char *) = vr_pool_strdup(cf->pool, s);
    return NULL;
}

/* Stores a scalar or a sequence of scalars, each checked by check(). */
static const char *
vr_conf_set_list(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf, const char *(*check)(vr_conf_t *, const char *))
{
    vr_strs_t   *strs = vr_conf_field(conf, d, vr_strs_t);
    yaml_node_t *items[1] = { node };
    size_t       n;

    strs->v = NULL;
    strs->n = 0;
    if (vr_conf_is_null(node)) {
        return NULL;
    }
    if (node->type == YAML_SCALAR_NODE) {
        items[0] = node;
        n = 1;
    } else if (node->type == YAML_SEQUENCE_NODE) {
        n = (size_t) (node->data.sequence.items.top
                      - node->data.sequence.items.start);
    } else {
        return "must be a string or a list of strings";
    }
    strs->v = vr_pool_calloc(cf->pool, (n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = node->type == YAML_SCALAR_NODE
            ? items[0]
            : yaml_document_get_node(&cf->doc,
                                     node->data.sequence.items.start[i]);
        const char  *s = vr_conf_scalar(item);
        const char  *msg;

        if (s == NULL) {
            return vr_conf_err(cf, "item %zu must be a string", i + 1);
        }
        if (check != NULL && (msg = check(cf, s)) != NULL) {
            return n > 1 ? vr_conf_err(cf, "item %zu: %s", i + 1, msg) : msg;
        }
        for (size_t j = 0; j < strs->n; j++) {
            if (strcmp(strs->v[j], s) == 0) {
                return vr_conf_err(cf, "item %zu repeats \"%s\"", i + 1, s);
            }
        }
        strs->v[strs->n++] = vr_pool_strdup(cf->pool, s);
    }
    return NULL;
}

const char *
vr_conf_set_strs(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    return vr_conf_set_list(cf, d, node, conf, NULL);
}

const char *
vr_conf_set_flag(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    static const char *yes[] = { "true", "yes", "on" };
    static const char *no[] = { "false", "no", "off" };
    const char        *s = vr_conf_scalar(node);

    if (s != NULL) {
        for (size_t i = 0; i < vr_nelems(yes); i++) {
            if (strcasecmp(s, yes[i]) == 0) {
                *vr_conf_field(conf, d, bool) = true;
                return NULL;
            }
            if (strcasecmp(s, no[i]) == 0) {
                *vr_conf_field(conf, d, bool) = false;
                return NULL;
            }
        }
    }
    return "must be true or false";
}

static const char *
vr_conf_bounds(vr_conf_t *cf, const vr_directive_t *d, int64_t v,
               const char *unit)
{
    if (d->min != 0 || d->max != 0) {
        if (v < d->min || v > d->max) {
            return vr_conf_err(cf, "must be %lld..%lld%s",
                               (long long) d->min, (long long) d->max, unit);
        }
    }
    return NULL;
}

const char *
vr_conf_set_int(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                void *conf)
{
    const char *s = vr_conf_scalar(node);
    char       *end;
    long long   v;
    const char *msg;

    if (s == NULL || s[0] == '\0') {
        return "must be an integer";
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return "must be an integer";
    }
    if ((msg = vr_conf_bounds(cf, d, v, "")) != NULL) {
        return msg;
    }
    *vr_conf_field(conf, d, int64_t) = v;
    return NULL;
}

/* Parses "<number><unit>"; the unit must be one of units[].name. */
typedef struct {
    const char *name;
    double      factor;
} vr_unit_t;

static int
vr_parse_units(const char *s, const vr_unit_t *units, size_t nunits,
               double plain_factor, int64_t *out)
{
    char   *end;
    double  v;

    size_t  digits = strspn(s ? s : "", "0123456789.");

    if (s == NULL || digits == 0 || strchr(s, '.') != strrchr(s, '.')
        || (strchr(s, '.') != NULL && (size_t) (strchr(s, '.') - s) >= digits))
    {
        return VR_ERROR;            /* only plain decimals: no 0x, no 1e3 */
    }
    errno = 0;
    v = strtod(s, &end);
    if ((size_t) (end - s) != digits) {
        return VR_ERROR;
    }
    if (errno != 0 || end == s || !isfinite(v) || v < 0) {
        return VR_ERROR;
    }
    while (*end == ' ') {
        end++;
    }
    if (*end == '\0') {
        v *= plain_factor;
    } else {
        size_t i;
        for (i = 0; i < nunits; i++) {
            if (strcmp(end, units[i].name) == 0) {
                v *= units[i].factor;
                break;
            }
        }
        if (i == nunits) {
            return VR_ERROR;
        }
    }
    if (v > 9.0e18) {
        return VR_ERROR;
    }
    *out = (int64_t) llround(v);
    return VR_OK;
}

int
vr_parse_msec(const char *s, vr_msec_t *out)
{
    static const vr_unit_t units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 },
    };

    return vr_parse_units(s, units, vr_nelems(units), 1000, out);
}

int
vr_parse_size(const char *s, int64_t *out)
{
    static const vr_unit_t units[] = {
        { "B", 1 }, { "KiB", 1024.0 }, { "MiB", 1048576.0 },
        { "GiB", 1073741824.0 }, { "kB", 1000.0 }, { "KB", 1000.0 },
        { "MB", 1e6 }, { "GB", 1e9 },
    };

    return vr_parse_units(s, units, vr_nelems(units), 1, out);
}

const char *
vr_conf_set_msec(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    vr_msec_t v;

    if (vr_parse_msec(vr_conf_scalar(node), &v) != VR_OK) {
        return "must be a duration such as 250ms, 15s, 2m or 1h";
    }
    if (d->min != 0 || d->max != 0) {
        if (v < d->min || v > d->max) {
            return vr_conf_err(cf, "must be %lldms..%lldms",
                               (long long) d->min, (long long) d->max);
        }
    }
    *vr_conf_field(conf, d, vr_msec_t) = v;
    return NULL;
}

int
vr_parse_rate(const char *s, double *per_s)
{
    char   *end;
    double  n;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') {
        return VR_ERROR;
    }
    n = strtod(s, &end);
    if (end == s || !(n >= 0 && n < 1e9)) {
        return VR_ERROR;
    }
    if (*end == '\0' || strcmp(end, "/s") == 0) {
        *per_s = n;
    } else if (strcmp(end, "/m") == 0) {
        *per_s = n / 60;
    } else if (strcmp(end, "/h") == 0) {
        *per_s = n / 3600;
    } else {
        return VR_ERROR;
    }
    return VR_OK;
}

const char *
vr_conf_set_rate(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    double v;

    if (vr_parse_rate(vr_conf_scalar(node), &v) != VR_OK) {
        return "must be a rate such as 20/s, 30/m or 100/h (0: no limit)";
    }
    if (d->max != 0 && v > (double) d->max) {
        return vr_conf_err(cf, "must be at most %lld/s", (long long) d->max);
    }
    *vr_conf_field(conf, d, double) = v;
    return NULL;
}

const char *
vr_conf_set_size(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    int64_t     v;
    const char *msg;

    if (vr_parse_size(vr_conf_scalar(node), &v) != VR_OK) {
        return "must be a size such as 512, 64KiB or 16MiB";
    }
    if ((msg = vr_conf_bounds(cf, d, v, " bytes")) != NULL) {
        return msg;
    }
    *vr_conf_field(conf, d, int64_t) = v;
    return NULL;
}

const char *
vr_conf_set_enum(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                 void *conf)
{
    const char *const *names = d->post;
    const char        *s = vr_conf_scalar(node);
    char               list[256] = "";
    size_t             len = 0;

    for (int i = 0; names[i] != NULL; i++) {
        if (s != NULL && strcmp(s, names[i]) == 0) {
            *vr_conf_field(conf, d, int) = i;
            return NULL;
        }
        len += (size_t) snprintf(list + len, sizeof(list) - len, "%s%s",
                                 i ? ", " : "", names[i]);
        if (len >= sizeof(list)) {
            len = sizeof(list) - 1;
        }
    }
    return vr_conf_err(cf, "must be one of: %s", list);
}

/* Checks "HOST:PORT" where HOST may be "*" or "[v6]"; port 1..65535. */
static const char *
vr_check_host_port(vr_conf_t *cf, const char *hp, bool allow_any_port)
{
    const char *colon = strrchr(hp, ':');
    char       *end;
    long        port;

    if (colon == NULL || colon == hp) {
        return "must be HOST:PORT";
    }
    if (hp[0] == '[' && colon[-1] != ']') {
        return "an IPv6 host must be written [addr]:PORT";
    }
    if (allow_any_port && strcmp(colon + 1, "*") == 0) {
        return NULL;
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0) {
        return "port must be a number";
    }
    if (port < 1 || port > 65535) {
        return "port must be 1..65535";
    }
    return NULL;
}

const char *
vr_check_endpoint(const char *ep)
{
    if (strncmp(ep, "tcp://", 6) == 0) {
        return vr_check_host_port(NULL, ep + 6, true);
    }
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0) {
        return strchr(ep, '/')[2] == '\0' ? "needs a path or name" : NULL;
    }
    return "must start with tcp://, ipc:// or inproc://";
}

static const char *
vr_conf_check_endpoint(vr_conf_t *cf, const char *s)
{
    return vr_check_endpoint(s);
}

static const char *
vr_conf_check_listen(vr_conf_t *cf, const char *s)
{
    return vr_check_host_port(cf, s, false);
}

const char *
vr_conf_set_endpoints(vr_conf_t *cf, const vr_directive_t *d,
                      yaml_node_t *node, void *conf)
{
    const char *msg = vr_conf_set_list(cf, d, node, conf,
                                       vr_conf_check_endpoint);

    if (msg == NULL && vr_conf_field(conf, d, vr_strs_t)->n == 0) {
        return "needs at least one endpoint";
    }
    return msg;
}

const char *
vr_conf_set_listen(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                   void *conf)
{
    return vr_conf_set_list(cf, d, node, conf, vr_conf_check_listen);
}

const char *
vr_conf_set_blocks(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                   void *conf)
{
    const vr_conf_blocks_t *b = d->post;
    vr_blocks_t            *blocks = vr_conf_field(conf, d, vr_blocks_t);
    char                    prefix[sizeof(cf->path) + 64];
    size_t                  n;

    blocks->elts = NULL;
    blocks->n = 0;
    if (vr_conf_is_null(node)) {
        return NULL;
    }
    if (node->type != YAML_MAPPING_NODE) {
        return vr_conf_err(cf, "must be a mapping of %s to settings",
                           b->key_doc);
    }
    n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    blocks->elts = vr_pool_calloc(cf->pool, (n + 1) * b->elt_size);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &node->data.mapping.pairs.start[i];
        yaml_node_t      *k = yaml_document_get_node(&cf->doc, pair->key);
        yaml_node_t      *v = yaml_document_get_node(&cf->doc, pair->value);
        const char       *name = vr_conf_scalar(k);
        char             *elt = (char *) blocks->elts + i * b->elt_size;

        if (name == NULL || name[0] == '\0') {
            return "keys must be non-empty strings";
        }
        snprintf(prefix, sizeof(prefix), "%s.%s", cf->path, name);
        for (size_t j = 0; j < i; j++) {
            char *other = *(char **) ((char *) blocks->elts + j * b->elt_size);
            if (strcmp(other, name) == 0) {
                vr_conf_error_node(cf, k, prefix, "duplicate key");
                return "invalid block";
            }
        }
        *(char **) elt = vr_pool_strdup(cf->pool, name);
        if (vr_conf_block(cf, prefix, b->directives, v, elt) != VR_OK) {
            /* vr_conf_block() recorded the full error already. */
            return "invalid block";
        }
        blocks->n++;
    }
    return NULL;
}

/* A scalar item of a block list: the block's defaults and its scalar_key. */
static int
vr_conf_block_scalar(vr_conf_t *cf, const char *prefix,
                     const vr_conf_blocks_t *b, yaml_node_t *v, void *elt)
{
    const vr_directive_t *d;
    const char           *msg;
    char                  saved[sizeof(cf->path)];

    if (vr_conf_block(cf, prefix, b->directives, NULL, elt) != VR_OK) {
        return VR_ERROR;
    }
    for (d = b->directives; strcmp(d->name, b->scalar_key) != 0; d++) {
        /* the table has it */
    }
    memcpy(saved, cf->path, sizeof(saved));
    snprintf(cf->path, sizeof(cf->path), "%.*s", (int) sizeof(cf->path) - 1,
             prefix);
    msg = d->set(cf, d, v, elt);
    if (msg != NULL) {
        vr_conf_error_node(cf, v, prefix, msg);
    }
    memcpy(cf->path, saved, sizeof(saved));
    return msg == NULL ? VR_OK : VR_ERROR;
}

const char *
vr_conf_set_block(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                  void *conf)
{
    char prefix[sizeof(cf->path)];

    memcpy(prefix, cf->path, sizeof(prefix));
    if (vr_conf_block(cf, prefix, d->post, node,
                      (char *) conf + d->offset) != VR_OK)
    {
        return "invalid block";
    }
    return NULL;
}

const char *
vr_conf_set_block_list(vr_conf_t *cf, const vr_directive_t *d,
                       yaml_node_t *node, void *conf)
{
    const vr_conf_blocks_t *b = d->post;
    vr_blocks_t            *blocks = vr_conf_field(conf, d, vr_blocks_t);
    char                    prefix[sizeof(cf->path) + 32];
    size_t                  n;

    blocks->elts = NULL;
    blocks->n = 0;
    if (vr_conf_is_null(node)) {
        return NULL;
    }
    /* A list whose items may be scalars may also be one scalar. */
    if (node->type == YAML_SCALAR_NODE && b->scalar_key != NULL) {
        n = 1;
    } else if (node->type != YAML_SEQUENCE_NODE) {
        return vr_conf_err(cf, "must be a list of %s", b->key_doc);
    } else {
        n = (size_t) (node->data.sequence.items.top
                      - node->data.sequence.items.start);
    }
    blocks->elts = vr_pool_calloc(cf->pool, (n + 1) * b->elt_size);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *v = node->type == YAML_SCALAR_NODE
                         ? node
                         : yaml_document_get_node(
                               &cf->doc, node->data.sequence.items.start[i]);
        char        *elt = (char *) blocks->elts + i * b->elt_size;
        const char  *name;

        snprintf(prefix, sizeof(prefix), "%s[%zu]", cf->path, i);
        vr_conf_remember(cf, prefix, v->start_mark);
        if (b->scalar_key != NULL && v->type == YAML_SCALAR_NODE) {
            if (vr_conf_block_scalar(cf, prefix, b, v, elt) != VR_OK) {
                return "invalid block";
            }
        } else if (vr_conf_block(cf, prefix, b->directives, v, elt) != VR_OK) {
            return "invalid block";
        }
        name = *(char **) elt;
        for (size_t j = 0; j < i; j++) {
            char *other = *(char **) ((char *) blocks->elts + j * b->elt_size);
            if (name != NULL && other != NULL && strcmp(other, name) == 0) {
                snprintf(prefix, sizeof(prefix), "%s[%zu].name", cf->path, i);
                vr_conf_error_node(cf, v, prefix, "repeats an earlier name");
                return "invalid block";
            }
        }
        blocks->n++;
    }
    return NULL;
}

const char *
vr_conf_set_strmap(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                   void *conf)
{
    vr_strmap_t *map = vr_conf_field(conf, d, vr_strmap_t);
    size_t       n;

    map->keys = map->values = NULL;
    map->n = 0;
    if (vr_conf_is_null(node)) {
        return NULL;
    }
    if (node->type != YAML_MAPPING_NODE) {
        return "must be a mapping of names to strings";
    }
    n = (size_t) (node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    map->keys = vr_pool_calloc(cf->pool, (n + 1) * sizeof(char *));
    map->values = vr_pool_calloc(cf->pool, (n + 1) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &node->data.mapping.pairs.start[i];
        const char *k = vr_conf_scalar(yaml_document_get_node(&cf->doc,
                                                              pair->key));
        const char *v = vr_conf_scalar(yaml_document_get_node(&cf->doc,
                                                              pair->value));

        if (k == NULL || k[0] == '\0' || strchr(k, '=') != NULL) {
            return "names must be non-empty strings without \"=\"";
        }
        if (v == NULL) {
            return vr_conf_err(cf, "the value of %s must be a string", k);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(map->keys[j], k) == 0) {
                return vr_conf_err(cf, "%s is given twice", k);
            }
        }
        map->keys[i] = vr_pool_strdup(cf->pool, k);
        map->values[i] = vr_pool_strdup(cf->pool, v);
        map->n++;
    }
    return NULL;
}
