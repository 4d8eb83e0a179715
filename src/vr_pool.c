/*
 * vr_pool.c: arena allocation (see vr_pool.h).
 *
 * Blocks of 4 KiB are carved from the front; a request larger than a
 * quarter block gets a block of its own, so big lists do not waste the
 * rest of a shared one.
 */
#include "config.h"
#include "vr_core.h"
#include "vr_pool.h"

#define VR_POOL_BLOCK  4096
#define VR_POOL_ALIGN  16

typedef struct vr_pool_block_s {
    struct vr_pool_block_s *next;
    size_t                  used, size;
    _Alignas(VR_POOL_ALIGN) unsigned char data[];
} vr_pool_block_t;

struct vr_pool_s {
    vr_pool_block_t *blocks;
};

vr_pool_t *
vr_pool_new(void)
{
    return vr_calloc(1, sizeof(vr_pool_t));
}

void
vr_pool_destroy(vr_pool_t **pp)
{
    vr_pool_t *pool = *pp;

    if (pool == NULL) {
        return;
    }
    while (pool->blocks != NULL) {
        vr_pool_block_t *b = pool->blocks;
        pool->blocks = b->next;
        free(b);
    }
    free(pool);
    *pp = NULL;
}

static vr_pool_block_t *
vr_pool_block(vr_pool_t *pool, size_t size)
{
    vr_pool_block_t *b = vr_calloc(1, sizeof(vr_pool_block_t) + size);

    b->size = size;
    if (pool->blocks != NULL && size != VR_POOL_BLOCK) {
        /* A private block goes second: the shared head stays in use. */
        b->next = pool->blocks->next;
        pool->blocks->next = b;
    } else {
        b->next = pool->blocks;
        pool->blocks = b;
    }
    return b;
}

void *
vr_pool_calloc(vr_pool_t *pool, size_t size)
{
    vr_pool_block_t *b = pool->blocks;
    void            *p;

    size = (size + VR_POOL_ALIGN - 1) & ~((size_t) VR_POOL_ALIGN - 1);
    if (size > VR_POOL_BLOCK / 4) {
        b = vr_pool_block(pool, size);
        b->used = size;
        return b->data;
    }
    if (b == NULL || b->size - b->used < size) {
        b = vr_pool_block(pool, VR_POOL_BLOCK);
    }
    p = b->data + b->used;
    b->used += size;
    return p;
}

char *
vr_pool_strndup(vr_pool_t *pool, const char *s, size_t n)
{
    char *p = vr_pool_calloc(pool, n + 1);

    memcpy(p, s, n);
    return p;
}

char *
vr_pool_strdup(vr_pool_t *pool, const char *s)
{
    return vr_pool_strndup(pool, s, strlen(s));
}
