/*
 * vr_module.h: what a module is.
 *
 * A module owns one top-level YAML key and a directive table for it, in
 * the spirit of ngx_module_t.  Core modules (router, log) live in src/,
 * optional ones (auth, http ...) in modules/; all are listed once, in
 * vr_modules.c.  Modules include only core headers, never each other.
 */
#ifndef VR_MODULE_H
#define VR_MODULE_H

#include "vr_core.h"
#include "vr_conf.h"

struct vr_module_s {
    const char            *name;        /* top-level YAML key */
    const vr_directive_t  *directives;  /* NULL-terminated table */
    const vr_directive_t  *section;     /* instead: one directive for the
                                           whole section (a list) */
    size_t                 conf_size;   /* zeroed, then filled by the table */
    const struct vr_route_s *routes;    /* HTTP routes, NULL-terminated by
                                           a NULL handler; may be NULL */

    /* Checks between keys after parsing; VR_OK or vr_conf_error_at(). */
    int   (*init_conf)(vr_conf_t *cf, vr_cycle_t *cycle, void *conf);

    /*
     * Opens what the new cycle needs or inherits it from old (NULL at
     * start).  Runs after every module's init_conf succeeded.  On VR_ERROR
     * (logged) the new cycle is abandoned and exit runs for the modules
     * initialised so far.
     */
    int   (*init)(vr_cycle_t *cycle, vr_cycle_t *old);

    /* Releases what init opened and the new cycle did not inherit. */
    void  (*exit)(vr_cycle_t *cycle);

    size_t                 index;       /* slot in cycle->conf, set at start */
};

/* Every module, in initialisation order; NULL-terminated. */
extern vr_module_t *vr_modules[];

/* Numbers the modules; call once at start. */
void vr_modules_index(void);

#endif /* VR_MODULE_H */
