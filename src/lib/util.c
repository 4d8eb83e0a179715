/*
 * util.c: memory, errors, time, random ids, text buffers and logging for
 * libvoidrail (the library does not use the gateway's core).
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib.h"

const char *
vr_version(void)
{
    return VR_LIB_VERSION;
}

/* ---- memory ------------------------------------------------------------ */

static void
vr_lib_oom(size_t size)
{
    fprintf(stderr, "libvoidrail: out of memory allocating %zu bytes\n", size);
    abort();
}

void *
vr_lib_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (p == NULL) {
        vr_lib_oom(size);
    }
    return p;
}

void *
vr_lib_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);

    if (p == NULL) {
        vr_lib_oom(n * size);
    }
    return p;
}

void *
vr_lib_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);

    if (q == NULL) {
        vr_lib_oom(size);
    }
    return q;
}

char *
vr_lib_strndup(const char *s, size_t n)
{
    char *p = vr_lib_alloc(n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
vr_lib_strdup(const char *s)
{
    return s == NULL ? NULL : vr_lib_strndup(s, strlen(s));
}

/* ---- errors ------------------------------------------------------------ */

void
vr_lib_error(vr_error_t *err, const char *code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return;
    }
    snprintf(err->code, sizeof(err->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
}

void
vr_lib_error_clear(vr_error_t *err)
{
    if (err != NULL) {
        err->code[0] = '\0';
        err->message[0] = '\0';
    }
}

/* ---- time -------------------------------------------------------------- */

int64_t
vr_lib_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
vr_lib_deadline(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : vr_lib_now_ms() + timeout_ms;
}

int
vr_lib_left_ms(int64_t deadline_ms)
{
    int64_t left;

    if (deadline_ms < 0) {
        return -1;
    }
    left = deadline_ms - vr_lib_now_ms();
    return left < 0 ? 0 : (int) (left > 86400000 ? 86400000 : left);
}

void
vr_lib_abstime(int64_t deadline_ms, struct timespec *ts)
{
    struct timespec now;
    int64_t         ms;

    clock_gettime(CLOCK_MONOTONIC, &now);
    ms = deadline_ms - vr_lib_now_ms();
    if (ms < 0) {
        ms = 0;
    }
    ts->tv_sec = now.tv_sec + ms / 1000;
    ts->tv_nsec = now.tv_nsec + (ms % 1000) * 1000000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

void
vr_lib_cond_init(pthread_cond_t *c)
{
    pthread_condattr_t a;

    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* ---- random ids -------------------------------------------------------- */

static void
vr_lib_random(unsigned char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            /* No kernel source: ids need only be unique, not secret. */
            for (; got < n; got++) {
                buf[got] = (unsigned char) (rand() ^ (int) vr_lib_now_ms());
            }
            return;
        }
        got += (size_t) r;
    }
}

void
vr_lib_hex_id(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     b[64];

    if (nbytes > sizeof(b)) {
        nbytes = sizeof(b);
    }
    vr_lib_random(b, nbytes);
    for (size_t i = 0; i < nbytes; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * nbytes] = '\0';
}

void
vr_lib_uuid4(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char     b[16];
    size_t            o = 0;

    vr_lib_random(b, sizeof(b));
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
}

/* ---- text buffer ------------------------------------------------------- */

static void
vr_lib_buf_reserve(vr_lib_buf_t *b, size_t n)
{
    size_t cap;

    if (b->len + n + 1 <= b->cap) {
        return;
    }
    cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) {
        cap *= 2;
    }
    b->p = vr_lib_realloc(b->p, cap);
    b->cap = cap;
}

void
vr_lib_buf_add(vr_lib_buf_t *b, const void *p, size_t n)
{
    vr_lib_buf_reserve(b, n);
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
}

void
vr_lib_buf_adds(vr_lib_buf_t *b, const char *s)
{
    vr_lib_buf_add(b, s, strlen(s));
}

void
vr_lib_buf_vprintf(vr_lib_buf_t *b, const char *fmt, va_list ap)
{
    va_list aq;
    int     n;

    va_copy(aq, ap);
    n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) {
        return;
    }
    vr_lib_buf_reserve(b, (size_t) n);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    b->len += (size_t) n;
}

void
vr_lib_buf_printf(vr_lib_buf_t *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vr_lib_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

/* The code point of the UTF-8 sequence at s (n bytes left); 0 if invalid. */
static uint32_t
vr_lib_utf8(const unsigned char *s, size_t n, size_t *used)
{
    uint32_t cp;
    size_t   len, i;

    if (s[0] < 0xc2 || s[0] > 0xf4) {
        return 0;
    }
    len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
    if (len > n) {
        return 0;
    }
    cp = s[0] & (0x7f >> len);
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }
    *used = len;
    return cp;
}

void
vr_lib_buf_json_string(vr_lib_buf_t *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *) str;
    size_t               i = 0, used;
    uint32_t             cp;

    vr_lib_buf_add(b, "\"", 1);
    while (i < n) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            size_t j = i;
            while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"'
                   && s[j] != '\\')
            {
                j++;
            }
            vr_lib_buf_add(b, s + i, j - i);
            i = j;
            continue;
        }
        switch (c) {
        case '"':  vr_lib_buf_adds(b, "\\\""); i++; continue;
        case '\\': vr_lib_buf_adds(b, "\\\\"); i++; continue;
        case '\n': vr_lib_buf_adds(b, "\\n"); i++; continue;
        case '\r': vr_lib_buf_adds(b, "\\r"); i++; continue;
        case '\t': vr_lib_buf_adds(b, "\\t"); i++; continue;
        case '\b': vr_lib_buf_adds(b, "\\b"); i++; continue;
        case '\f': vr_lib_buf_adds(b, "\\f"); i++; continue;
        default:
            break;
        }
        if (c < 0x80) {
            vr_lib_buf_printf(b, "\\u%04x", c);
            i++;
            continue;
        }
        cp = vr_lib_utf8(s + i, n - i, &used);
        if (cp == 0) {
            /* Not UTF-8: the byte as a code point, so the JSON stays valid. */
            vr_lib_buf_printf(b, "\\u%04x", c);
            i++;
        } else if (cp < 0x10000) {
            vr_lib_buf_printf(b, "\\u%04x", cp);
            i += used;
        } else {
            cp -= 0x10000;
            vr_lib_buf_printf(b, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                              0xdc00 + (cp & 0x3ff));
            i += used;
        }
    }
    vr_lib_buf_add(b, "\"", 1);
}

char *
vr_lib_buf_steal(vr_lib_buf_t *b)
{
    char *p = b->p;

    if (p == NULL) {
        p = vr_lib_strdup("");
    }
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void
vr_lib_buf_free(vr_lib_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- logging ----------------------------------------------------------- */

void
vr_lib_log_init(vr_lib_log_t *log, const char *who)
{
    log->max_level = VR_LEVEL_WARN;
    log->fn = NULL;
    log->data = NULL;
    snprintf(log->who, sizeof(log->who), "%s", who);
}

void
vr_lib_log(const vr_lib_log_t *log, int level, const char *fmt, ...)
{
    static const char *names[] = { "", "error", "warn", "info", "debug" };
    char               line[1200];
    va_list            ap;

    if (level > log->max_level || level <= VR_LEVEL_NONE) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log->fn != NULL) {
        log->fn(log->data, level, line);
        return;
    }
    /* One write per line, so lines of threads and processes never mix. */
    {
        char out[1400];
        int  n = snprintf(out, sizeof(out), "%s: %s: %s\n", log->who,
                          names[level > 4 ? 4 : level], line);
        if (n > (int) sizeof(out) - 1) {
            n = (int) sizeof(out) - 1;
            out[n - 1] = '\n';
        }
        fwrite(out, 1, (size_t) n, stderr);
        fflush(stderr);
    }
}
