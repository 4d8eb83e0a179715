/*
 * vr_cycle.c: loading and initialising a configuration generation
 * (see vr_cycle.h).
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_cycle.h"
#include "vr_log.h"

static vr_module_t *
vr_cycle_module(const char *name)
{
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if (((*m)->directives != NULL || (*m)->section != NULL)
            && strcmp((*m)->name, name) == 0)
        {
            return *m;
        }
    }
    return NULL;
}

static int
vr_cycle_apply(vr_conf_t *cf, vr_cycle_t *cycle)
{
    yaml_node_t *root = yaml_document_get_root_node(&cf->doc);
    size_t       nmodules = 0;
    yaml_node_t **sections;
    int          rc = VR_ERROR;

    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        nmodules++;
    }
    sections = vr_calloc(nmodules + 1, sizeof(yaml_node_t *));

    if (root != NULL && root->type == YAML_SCALAR_NODE
        && root->data.scalar.length == 0)
    {
        root = NULL;                /* an empty file: all defaults */
    }
    if (root != NULL && root->type != YAML_MAPPING_NODE) {
        vr_conf_error_at(cf, "", "the file must be a YAML mapping");
        goto done;
    }
    for (yaml_node_pair_t *pair = root ? root->data.mapping.pairs.start : NULL;
         root != NULL && pair < root->data.mapping.pairs.top; pair++)
    {
        yaml_node_t *k = yaml_document_get_node(&cf->doc, pair->key);
        const char  *name = vr_conf_scalar(k);
        vr_module_t *m = name ? vr_cycle_module(name) : NULL;

        if (m == NULL) {
            vr_conf_error_node(cf, k, name ? name : "?", "unknown key");
            goto done;
        }
        if (sections[m->index] != NULL) {
            vr_conf_error_node(cf, k, name, "duplicate key");
            goto done;
        }
        sections[m->index] = yaml_document_get_node(&cf->doc, pair->value);
    }
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if ((*m)->directives != NULL
            && vr_conf_block(cf, (*m)->name, (*m)->directives,
                             sections[(*m)->index], cycle->conf[(*m)->index])
               != VR_OK)
        {
            goto done;
        }
        if ((*m)->section != NULL
            && vr_conf_section(cf, (*m)->section, sections[(*m)->index],
                               cycle->conf[(*m)->index]) != VR_OK)
        {
            goto done;
        }
    }
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if ((*m)->init_conf != NULL
            && (*m)->init_conf(cf, cycle, cycle->conf[(*m)->index]) != VR_OK)
        {
            goto done;
        }
    }
    rc = VR_OK;
done:
    free(sections);
    return rc;
}

vr_cycle_t *
vr_cycle_load(const char *name, const char *text, char **error)
{
    vr_cycle_t *cycle = vr_calloc(1, sizeof(vr_cycle_t));
    vr_conf_t   cf;
    size_t      nmodules = 0;
    int         rc;

    *error = NULL;
    cycle->pool = vr_pool_new();
    cycle->conf_file = vr_pool_strdup(cycle->pool, name);
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        nmodules++;
    }
    cycle->conf = vr_pool_calloc(cycle->pool, nmodules * sizeof(void *));
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        cycle->conf[(*m)->index] = vr_pool_calloc(cycle->pool,
                                                  (*m)->conf_size);
    }

    memset(&cf, 0, sizeof(cf));
    cf.pool = cycle->pool;
    rc = text != NULL ? vr_conf_parse(&cf, cycle->conf_file, text, strlen(text))
                      : vr_conf_parse_file(&cf, cycle->conf_file);
    if (rc == VR_OK) {
        rc = vr_cycle_apply(&cf, cycle);
    }
    if (rc != VR_OK) {
        *error = cf.error ? cf.error : vr_strdup("configuration error");
        cf.error = NULL;
        vr_conf_done(&cf);
        vr_cycle_destroy(&cycle);
        return NULL;
    }
    vr_conf_done(&cf);
    return cycle;
}

int
vr_cycle_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_module_t **m;

    for (m = vr_modules; *m != NULL; m++) {
        if ((*m)->init != NULL && (*m)->init(cycle, old) != VR_OK) {
            break;
        }
    }
    if (*m != NULL) {
        while (m-- != vr_modules) {
            if ((*m)->abort != NULL) {
                (*m)->abort(cycle, old);
            }
        }
        return VR_ERROR;
    }
    for (m = vr_modules; *m != NULL; m++) {
        if ((*m)->commit != NULL) {
            (*m)->commit(cycle, old);
        }
    }
    return VR_OK;
}

void
vr_cycle_exit(vr_cycle_t *cycle)
{
    vr_module_t **m = vr_modules;

    while (*m != NULL) {
        m++;
    }
    while (m-- != vr_modules) {
        if ((*m)->exit != NULL) {
            (*m)->exit(cycle);
        }
    }
}

int
vr_cycle_check(vr_cycle_t *cycle)
{
    int rc = VR_OK;

    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if ((*m)->check != NULL && (*m)->check(cycle) != VR_OK) {
            rc = VR_ERROR;
        }
    }
    return rc;
}

void
vr_cycle_destroy(vr_cycle_t **cp)
{
    vr_cycle_t *cycle = *cp;

    if (cycle == NULL) {
        return;
    }
    vr_pool_destroy(&cycle->pool);
    free(cycle);
    *cp = NULL;
}

void
vr_cycle_reference(vr_buf_t *out)
{
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if ((*m)->directives != NULL) {
            vr_conf_reference((*m)->name, (*m)->directives, out);
        }
        if ((*m)->section != NULL) {
            vr_directive_t table[2] = { *(*m)->section, vr_null_directive };
            vr_conf_reference("", table, out);
        }
    }
}

void
vr_cycle_show(const vr_cycle_t *cycle, vr_buf_t *out)
{
    for (vr_module_t **m = vr_modules; *m != NULL; m++) {
        if ((*m)->directives != NULL) {
            vr_buf_printf_b(out, "%s:\n", (*m)->name);
            vr_conf_show(out, 2, (*m)->directives, cycle->conf[(*m)->index]);
        }
        if ((*m)->section != NULL) {
            vr_directive_t table[2] = { *(*m)->section, vr_null_directive };
            vr_conf_show(out, 0, table, cycle->conf[(*m)->index]);
        }
    }
}
