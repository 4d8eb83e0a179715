/*
 * vr_conf.c: loading YAML into directive tables (see vr_conf.h).
 *
 * libyaml builds the document; we walk it block by block.  Every key that
 * is set records its place (line:column) under its key path, so that checks
 * made after parsing can still point at the line that caused them.
 */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_conf.h"

typedef struct vr_conf_mark_s {
    char        *path;
    yaml_mark_t  mark;
} vr_conf_mark_t;

const char *
vr_conf_err(vr_conf_t *cf, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(cf->err, sizeof(cf->err), fmt, ap);
    va_end(ap);
    return cf->err;
}

static void
vr_conf_fail(vr_conf_t *cf, yaml_mark_t mark, const char *path,
             const char *msg)
{
    vr_buf_t b = VR_BUF_INIT;

    if (cf->error != NULL) {
        return;                     /* the first error is the one to fix */
    }
    vr_buf_printf_b(&b, "%s:%zu:%zu: ", cf->file, mark.line + 1,
                    mark.column + 1);
    if (path != NULL && path[0] != '\0') {
        vr_buf_printf_b(&b, "\"%s\" ", path);
    }
    vr_buf_adds(&b, msg);
    cf->error = vr_buf_steal(&b, NULL);
}

void
vr_conf_remember(vr_conf_t *cf, const char *path, yaml_mark_t mark)
{
    if (cf->nmarks == cf->marks_cap) {
        cf->marks_cap = cf->marks_cap ? cf->marks_cap * 2 : 32;
        cf->marks = vr_realloc(cf->marks,
                               cf->marks_cap * sizeof(vr_conf_mark_t));
    }
    cf->marks[cf->nmarks].path = vr_strdup(path);
    cf->marks[cf->nmarks].mark = mark;
    cf->nmarks++;
}

const char *
vr_conf_where(vr_conf_t *cf, const char *path)
{
    yaml_mark_t mark = { 0, 0, 0 };
    char        text[1024], key[256];
    size_t      len = strlen(path);

    /* The key, else the nearest block around it that the file sets. */
    while (len > 0) {
        snprintf(key, sizeof(key), "%.*s", (int) len, path);
        for (size_t i = 0; i < cf->nmarks; i++) {
            if (strcmp(cf->marks[i].path, key) == 0) {
                mark = cf->marks[i].mark;
                goto found;
            }
        }
        while (len > 0 && path[len - 1] != '.') {
            len--;
        }
        if (len > 0) {
            len--;                  /* the dot: the block around */
        }
    }
found:
    snprintf(text, sizeof(text), "%s:%zu:%zu: \"%s\"", cf->file,
             mark.line + 1, mark.column + 1, path);
    return vr_pool_strdup(cf->pool, text);
}

bool
vr_conf_is_set(const vr_conf_t *cf, const char *path)
{
    for (size_t i = 0; i < cf->nmarks; i++) {
        if (strcmp(cf->marks[i].path, path) == 0) {
            return true;
        }
    }
    return false;
}

void
vr_conf_error_node(vr_conf_t *cf, yaml_node_t *node, const char *path,
                   const char *msg)
{
    vr_conf_fail(cf, node->start_mark, path, msg);
}

int
vr_conf_error_at(vr_conf_t *cf, const char *path, const char *fmt, ...)
{
    yaml_mark_t mark = { 0, 0, 0 };
    char        msg[512];
    va_list     ap;

    for (size_t i = 0; i < cf->nmarks; i++) {
        if (strcmp(cf->marks[i].path, path) == 0) {
            mark = cf->marks[i].mark;
        }
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vr_conf_fail(cf, mark, path, msg);
    return VR_ERROR;
}

int
vr_conf_parse(vr_conf_t *cf, const char *name, const char *text, size_t len)
{
    yaml_parser_t parser;
    int           rc = VR_OK;

    cf->file = name;
    if (!yaml_parser_initialize(&parser)) {
        vr_conf_fail(cf, (yaml_mark_t) { 0, 0, 0 }, NULL,
                     "cannot initialise the YAML parser");
        return VR_ERROR;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);
    if (!yaml_parser_load(&parser, &cf->doc)) {
        char msg[512];
        snprintf(msg, sizeof(msg), "YAML syntax error: %s%s%s",
                 parser.problem ? parser.problem : "unknown",
                 parser.context ? " " : "",
                 parser.context ? parser.context : "");
        vr_conf_fail(cf, parser.problem_mark, NULL, msg);
        memset(&cf->doc, 0, sizeof(cf->doc));
        rc = VR_ERROR;
    }
    yaml_parser_delete(&parser);
    return rc;
}

int
vr_conf_parse_file(vr_conf_t *cf, const char *file)
{
    FILE  *f;
    char  *text = NULL;
    size_t len = 0, cap = 0, n;
    int    rc;

    cf->file = file;
    f = fopen(file, "rb");
    if (f == NULL) {
        char msg[512];
        snprintf(msg, sizeof(msg), "cannot open: %s", strerror(errno));
        vr_conf_fail(cf, (yaml_mark_t) { 0, 0, 0 }, NULL, msg);
        return VR_ERROR;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 8192;
            text = vr_realloc(text, cap);
        }
        n = fread(text + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    if (ferror(f)) {
        vr_conf_fail(cf, (yaml_mark_t) { 0, 0, 0 }, NULL, "cannot read");
        fclose(f);
        free(text);
        return VR_ERROR;
    }
    fclose(f);
    rc = vr_conf_parse(cf, file, text, len);
    free(text);
    return rc;
}

void
vr_conf_done(vr_conf_t *cf)
{
    yaml_document_delete(&cf->doc);
    for (size_t i = 0; i < cf->nmarks; i++) {
        free(cf->marks[i].path);
    }
    free(cf->marks);
    free(cf->error);
    cf->marks = NULL;
    cf->nmarks = cf->marks_cap = 0;
    cf->error = NULL;
}

const char *
vr_conf_scalar(yaml_node_t *node)
{
    if (node == NULL || node->type != YAML_SCALAR_NODE) {
        return NULL;
    }
    return (const char *) node->data.scalar.value;
}

/*
 * Applies a default: the directive's default text is parsed as YAML and
 * given to the setter exactly as a value from the file would be.  A default
 * that does not parse is a bug in a table (the unit tests load them all).
 */
static int
vr_conf_default(vr_conf_t *cf, const vr_directive_t *d, void *conf)
{
    yaml_parser_t   parser;
    yaml_document_t doc;
    const char     *msg = NULL;

    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *) d->dflt,
                                 strlen(d->dflt));
    if (!yaml_parser_load(&parser, &doc)) {
        msg = "default is not YAML";
    } else {
        yaml_node_t    *node = yaml_document_get_root_node(&doc);
        yaml_document_t file = cf->doc;

        /* The setter looks up the nodes of lists and maps in cf->doc. */
        cf->doc = doc;
        if (node == NULL) {
            msg = "default is empty";
        } else {
            msg = d->set(cf, d, node, conf);
        }
        doc = cf->doc;
        cf->doc = file;
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    if (msg != NULL) {
        char text[600];
        snprintf(text, sizeof(text), "bad built-in default \"%s\": %s",
                 d->dflt, msg);
        vr_conf_fail(cf, (yaml_mark_t) { 0, 0, 0 }, cf->path, text);
        return VR_ERROR;
    }
    return VR_OK;
}

static const vr_directive_t *
vr_conf_find(const vr_directive_t *table, const char *name)
{
    for (const vr_directive_t *d = table; d->name != NULL; d++) {
        if (strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

int
vr_conf_block(vr_conf_t *cf, const char *prefix, const vr_directive_t *table,
              yaml_node_t *node, void *conf)
{
    size_t      ndirectives = 0, plen;
    bool       *seen;
    char        saved[sizeof(cf->path)];
    int         rc = VR_OK;

    for (const vr_directive_t *d = table; d->name != NULL; d++) {
        ndirectives++;
    }
    seen = vr_calloc(ndirectives + 1, sizeof(bool));
    memcpy(saved, cf->path, sizeof(saved));
    snprintf(cf->path, sizeof(cf->path), "%s", prefix);
    plen = strlen(cf->path);

    if (node != NULL && node->type == YAML_SCALAR_NODE
        && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
        && (node->data.scalar.length == 0
            || strcmp((char *) node->data.scalar.value, "~") == 0
            || strcmp((char *) node->data.scalar.value, "null") == 0))
    {
        node = NULL;                /* "router:" with nothing under it */
    }
    if (node != NULL && node->type != YAML_MAPPING_NODE) {
        vr_conf_fail(cf, node->start_mark, prefix, "must be a mapping");
        rc = VR_ERROR;
        goto done;
    }

    for (yaml_node_pair_t *pair = node ? node->data.mapping.pairs.start : NULL;
         node != NULL && pair < node->data.mapping.pairs.top; pair++)
    {
        yaml_node_t          *k = yaml_document_get_node(&cf->doc, pair->key);
        yaml_node_t          *v = yaml_document_get_node(&cf->doc, pair->value);
        const char           *name = vr_conf_scalar(k);
        const vr_directive_t *d;
        const char           *msg;
        size_t                i;

        if (name == NULL) {
            vr_conf_fail(cf, k->start_mark, prefix, "keys must be scalars");
            rc = VR_ERROR;
            goto done;
        }
        snprintf(cf->path + plen, sizeof(cf->path) - plen, "%s%s",
                 plen ? "." : "", name);
        d = vr_conf_find(table, name);
        if (d == NULL) {
            vr_conf_fail(cf, k->start_mark, cf->path, "unknown key");
            rc = VR_ERROR;
            goto done;
        }
        i = (size_t) (d - table);
        if (seen[i]) {
            vr_conf_fail(cf, k->start_mark, cf->path, "duplicate key");
            rc = VR_ERROR;
            goto done;
        }
        seen[i] = true;
        vr_conf_remember(cf, cf->path, v->start_mark);
        msg = d->set(cf, d, v, conf);
        if (msg != NULL) {
            vr_conf_fail(cf, v->start_mark, cf->path, msg);
            rc = VR_ERROR;
            goto done;
        }
    }

    for (const vr_directive_t *d = table; d->name != NULL; d++) {
        if (seen[d - table]
            || (d->dflt == NULL && d->set != vr_conf_set_block))
        {
            continue;
        }
        snprintf(cf->path + plen, sizeof(cf->path) - plen, "%s%s",
                 plen ? "." : "", d->name);
        /* A nested block not given gets the defaults of its keys. */
        if (d->dflt != NULL ? vr_conf_default(cf, d, conf) != VR_OK
                            : d->set(cf, d, NULL, conf) != NULL)
        {
            rc = VR_ERROR;
            goto done;
        }
    }

done:
    free(seen);
    memcpy(cf->path, saved, sizeof(saved));
    return rc;
}

int
vr_conf_section(vr_conf_t *cf, const vr_directive_t *d, yaml_node_t *node,
                void *conf)
{
    const char *msg;

    snprintf(cf->path, sizeof(cf->path), "%s", d->name);
    if (node == NULL) {
        return d->dflt != NULL ? vr_conf_default(cf, d, conf) : VR_OK;
    }
    vr_conf_remember(cf, cf->path, node->start_mark);
    msg = d->set(cf, d, node, conf);
    if (msg != NULL) {
        vr_conf_fail(cf, node->start_mark, cf->path, msg);
        return VR_ERROR;
    }
    return VR_OK;
}

void
vr_conf_reference(const char *prefix, const vr_directive_t *table,
                  vr_buf_t *out)
{
    for (const vr_directive_t *d = table; d->name != NULL; d++) {
        char path[256];

        snprintf(path, sizeof(path), "%s%s%s", prefix, prefix[0] ? "." : "",
                 d->name);
        vr_buf_printf_b(out, "%s\t%s\t%s\t%s\t%s\n", path, d->type,
                        d->dflt ? d->dflt : "",
                        (d->flags & VR_CONF_RELOAD) ? "reload" : "restart",
                        d->doc);
        if (d->set == vr_conf_set_block) {
            vr_conf_reference(path, d->post, out);
        } else if (d->set == vr_conf_set_blocks
                   || d->set == vr_conf_set_block_list)
        {
            const vr_conf_blocks_t *b = d->post;
            char                    sub[300];

            snprintf(sub, sizeof(sub), d->set == vr_conf_set_blocks
                                       ? "%s.<%s>" : "%s[]", path,
                     b->key_doc);
            vr_conf_reference(sub, b->directives, out);
        }
    }
}
