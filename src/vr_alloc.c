/*
 * vr_alloc.c: allocation wrappers that never return NULL.
 *
 * The gateway does not try to limp on when malloc fails: it logs one line
 * and aborts, so a supervisor restarts it with its config.  Every other
 * file can then treat allocation as infallible.
 */
#include "config.h"
#include "vr_core.h"
#include "vr_log.h"

static void
vr_alloc_fail(size_t size)
{
    vr_log_error("out of memory allocating %zu bytes", size);
    abort();
}

void *
vr_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL) {
        vr_alloc_fail(size);
    }
    return p;
}

void *
vr_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL) {
        vr_alloc_fail(n * size);
    }
    return p;
}

void *
vr_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) {
        vr_alloc_fail(size);
    }
    return q;
}

void *
vr_memdup(const void *p, size_t n)
{
    void *q = vr_alloc(n + 1);

    if (n > 0) {                /* p may be NULL then */
        memcpy(q, p, n);
    }
    ((char *) q)[n] = '\0';
    return q;
}

char *
vr_strndup(const char *s, size_t n)
{
    return vr_memdup(s, n);
}

char *
vr_strdup(const char *s)
{
    return vr_memdup(s, strlen(s));
}
