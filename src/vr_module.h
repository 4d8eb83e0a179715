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
     * The three phases of putting a cycle in force (vr_cycle_init), at
     * start (old NULL) and at every reload:
     *
     * init    acquires what the new cycle needs that can fail: binds,
     *         listens, opens files.  It changes nothing the running
     *         cycle uses (an endpoint or a listener the new cycle drops
     *         stays open) and keeps no pointer into cycle anywhere that
     *         outlives it.  On VR_ERROR (logged, "FILE:LINE:COL: \"key\"
     *         ..." when a key is to blame) it has released what it
     *         acquired itself.
     * commit  puts the cycle in force once every module's init succeeded:
     *         switches to cycle's configuration and releases what only
     *         old used.  Cannot fail.
     * abort   undoes init when a later module's init failed: releases
     *         what init acquired for cycle, and old stays in force as if
     *         the cycle had never been tried.  Cannot fail.
     *
     * Each may be NULL.  A module whose init acquires something has an
     * abort; a module that only switches to the new configuration does
     * so in commit and has no init.
     */
    int   (*init)(vr_cycle_t *cycle, vr_cycle_t *old);
    void  (*commit)(vr_cycle_t *cycle, vr_cycle_t *old);
    void  (*abort)(vr_cycle_t *cycle, vr_cycle_t *old);

    /* At stop, after the last commit: releases what the module holds. */
    void  (*exit)(vr_cycle_t *cycle);

    /*
     * For `voidrail -t` only, in place of init: checks, without acquiring
     * or changing anything, what init would need beyond the syntax (the
     * files it opens, the programs it runs).  VR_ERROR with every problem
     * logged, "FILE:LINE:COL: \"key\" ..."; may be NULL.
     */
    int   (*check)(vr_cycle_t *cycle);

    size_t                 index;       /* slot in cycle->conf, set at start */
};

/* Every module, in initialisation order; NULL-terminated. */
extern vr_module_t *vr_modules[];

/* Numbers the modules; call once at start. */
void vr_modules_index(void);

#endif /* VR_MODULE_H */
