/*
 * vr_buf.h: a growable byte buffer for building messages (JSON bodies,
 * HTTP headers).  The bytes are always NUL-terminated for convenience;
 * len does not count the NUL.
 */
#ifndef VR_BUF_H
#define VR_BUF_H

#include "vr_core.h"

typedef struct {
    char   *p;
    size_t  len;
    size_t  cap;
} vr_buf_t;

#define VR_BUF_INIT  { NULL, 0, 0 }

/* Makes room for n more bytes (plus the NUL). */
void vr_buf_reserve(vr_buf_t *b, size_t n);

void vr_buf_add(vr_buf_t *b, const void *p, size_t n);
void vr_buf_adds(vr_buf_t *b, const char *s);
void vr_buf_addc(vr_buf_t *b, char c);
void vr_buf_printf_b(vr_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forgets the contents, keeps the memory. */
static inline void
vr_buf_reset(vr_buf_t *b)
{
    b->len = 0;
    if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

/* Frees the memory; the buffer may be reused empty. */
void vr_buf_free(vr_buf_t *b);

/*
 * Hands the bytes to the caller (malloc'ed, NUL-terminated; *len set when
 * len is not NULL) and leaves the buffer empty.
 */
char *vr_buf_steal(vr_buf_t *b, size_t *len);

#endif /* VR_BUF_H */
