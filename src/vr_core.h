/*
 * vr_core.h: what every file of the gateway includes.
 *
 * Return codes, small helpers for sizes and time, and the forward
 * declarations of the core types, so that headers can refer to each other
 * without including each other.
 */
#ifndef VR_CORE_H
#define VR_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>
#include <stdlib.h>

#define VR_OK        0
#define VR_ERROR    -1
#define VR_AGAIN    -2
#define VR_DECLINED -5

#define VR_VERSION  PACKAGE_VERSION

#define vr_nelems(a)  (sizeof(a) / sizeof((a)[0]))
#define vr_min(a, b)  ((a) < (b) ? (a) : (b))
#define vr_max(a, b)  ((a) > (b) ? (a) : (b))

/* A string literal as (pointer, length), for memcmp-style comparisons. */
#define VR_LIT(s)  (s), (sizeof(s) - 1)

typedef int64_t vr_msec_t;          /* milliseconds, monotonic or duration */

typedef struct vr_loop_s      vr_loop_t;
typedef struct vr_timer_s     vr_timer_t;
typedef struct vr_cycle_s     vr_cycle_t;
typedef struct vr_broker_s    vr_broker_t;
typedef struct vr_dealer_s    vr_dealer_t;
typedef struct vr_method_s    vr_method_t;
typedef struct vr_request_s   vr_request_t;
typedef struct vr_module_s    vr_module_t;
typedef struct vr_grant_s     vr_grant_t;     /* a client key's scope, limits */

/*
 * Allocation that cannot fail from the caller's point of view: on
 * exhaustion the process logs and aborts (there is no sane way to go on
 * serving with a heap that refuses 100 bytes).
 */
void *vr_alloc(size_t size);
void *vr_calloc(size_t n, size_t size);
void *vr_realloc(void *p, size_t size);
char *vr_strdup(const char *s);
char *vr_strndup(const char *s, size_t n);
void *vr_memdup(const void *p, size_t n);

/* True when [s, s+n) equals the NUL-terminated string lit. */
static inline bool
vr_eq(const char *s, size_t n, const char *lit)
{
    size_t len = strlen(lit);
    return n == len && memcmp(s, lit, len) == 0;
}

#endif /* VR_CORE_H */
