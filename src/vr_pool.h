/*
 * vr_pool.h: an arena for memory that lives exactly as long as its owner
 * (a loaded configuration: every string and list of one cycle).  Nothing is
 * freed alone; vr_pool_destroy() frees it all.
 */
#ifndef VR_POOL_H
#define VR_POOL_H

#include "vr_core.h"

typedef struct vr_pool_s vr_pool_t;

/* Creates an empty pool; never NULL. */
vr_pool_t *vr_pool_new(void);

/* Frees every allocation of the pool and the pool; NULL-safe. */
void vr_pool_destroy(vr_pool_t **pp);

/* Zeroed memory owned by the pool, aligned for any type. */
void *vr_pool_calloc(vr_pool_t *pool, size_t size);

/* Copies of strings owned by the pool (always NUL-terminated). */
char *vr_pool_strdup(vr_pool_t *pool, const char *s);
char *vr_pool_strndup(vr_pool_t *pool, const char *s, size_t n);

#endif /* VR_POOL_H */
