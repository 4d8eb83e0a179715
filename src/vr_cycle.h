/*
 * vr_cycle.h: one generation of loaded configuration.
 *
 * A cycle holds each module's conf, parsed and checked, in a pool of its
 * own.  Start-up loads one; a reload builds a new one beside the running
 * one and swaps only when everything in it is good (the old one goes on
 * serving otherwise).  Long-lived state (the loop, the ZeroMQ context, the
 * broker) is shared by every cycle and outlives them.
 */
#ifndef VR_CYCLE_H
#define VR_CYCLE_H

#include "vr_core.h"
#include "vr_pool.h"
#include "vr_module.h"

struct vr_cycle_s {
    vr_pool_t    *pool;
    const char   *conf_file;        /* the file, or "<command line>" */
    void        **conf;             /* one per module, by module index */
    unsigned      generation;       /* 1 at start, +1 per reload */

    /* Shared with every other cycle; owned by main. */
    vr_loop_t    *loop;
    void         *zctx;
    vr_broker_t  *broker;
};

#define vr_cycle_conf(cycle, module)  ((cycle)->conf[(module).index])

/*
 * Loads a configuration: from the file `name` when text is NULL, else
 * from text (a generated YAML, `name` naming it in messages).  Every
 * module's table is applied and its init_conf run; nothing is opened.
 * Returns the cycle, or NULL with *error set to a malloc'ed
 * "FILE:LINE:COL: ..." message (the caller frees it).
 */
vr_cycle_t *vr_cycle_load(const char *name, const char *text, char **error);

/*
 * Runs every module's init(cycle, old) in order; VR_ERROR (logged by the
 * module) when one fails.  At start (old NULL) the modules initialised so
 * far are then exited.  On a reload nothing is exited (modules own state
 * that outlives cycles): the caller runs vr_cycle_init(old, old) to put
 * the old configuration back.  Modules that can fail (they bind, listen or
 * open files) come first in vr_modules[], so that a failure leaves the
 * others untouched.
 */
int vr_cycle_init(vr_cycle_t *cycle, vr_cycle_t *old);

/* Runs every module's exit in reverse order. */
void vr_cycle_exit(vr_cycle_t *cycle);

/* Frees the cycle and its pool; NULL-safe. */
void vr_cycle_destroy(vr_cycle_t **cp);

/*
 * Appends the reference of every key (path, type, default, reload, doc;
 * tab-separated, one per line) to out.
 */
void vr_cycle_reference(vr_buf_t *out);

/* Appends the effective configuration, defaults filled in, as YAML. */
void vr_cycle_show(const vr_cycle_t *cycle, vr_buf_t *out);

#endif /* VR_CYCLE_H */
