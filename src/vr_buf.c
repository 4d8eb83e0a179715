/*
 * vr_buf.c: growable byte buffers (see vr_buf.h).
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_buf.h"

void
vr_buf_reserve(vr_buf_t *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        b->p = vr_realloc(b->p, cap);
        b->cap = cap;
    }
}

void
vr_buf_add(vr_buf_t *b, const void *p, size_t n)
{
    vr_buf_reserve(b, n);
    if (n > 0) {                /* p may be NULL then */
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
}

void
vr_buf_adds(vr_buf_t *b, const char *s)
{
    vr_buf_add(b, s, strlen(s));
}

void
vr_buf_addc(vr_buf_t *b, char c)
{
    vr_buf_reserve(b, 1);
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

void
vr_buf_printf_b(vr_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    vr_buf_reserve(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
vr_buf_free(vr_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

char *
vr_buf_steal(vr_buf_t *b, size_t *len)
{
    char *p = b->p;

    if (p == NULL) {
        p = vr_strdup("");
    }
    if (len != NULL) {
        *len = b->len;
    }
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
