/*
 * vr_cycle.h: one generation of loaded configuration.
 *
 * A cycle holds each module's conf, parsed and checked, in a pool of its
 * own.  Start-up loads one; a reload builds a new one beside the running
 * one and swaps only when everything in it is good (the old one goes on
 * serving otherwise): first every module acquires what the new cycle
 * needs, then, only when all of them could, every module switches to it
 * (see vr_module.h).  Long-lived state (the loop, the ZeroMQ context, the
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
 * Puts cycle in force, in place of old (NULL at start): every module's
 * init (in vr_modules[] order), then, when all succeeded, every module's
 * commit (same order), and VR_OK.  When one init fails (it logs why) the
 * modules initialised before it are aborted, in reverse order, and
 * VR_ERROR: old stays in force exactly as it was, and nothing outside
 * cycle refers to cycle (the caller destroys it).
 */
int vr_cycle_init(vr_cycle_t *cycle, vr_cycle_t *old);

/*
 * What `voidrail -t` adds to loading: every module's check (vr_module.h),
 * all of them even after a failure, so that one run names every problem.
 * VR_OK when none failed.
 */
int vr_cycle_check(vr_cycle_t *cycle);

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
