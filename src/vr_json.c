/*
 * vr_json.c: scanning, validating and escaping JSON text (see vr_json.h).
 *
 * A recursive-descent scanner over a byte range; it never allocates.
 * Strings are walked with a byte-class table so that the common case (a
 * run of plain ASCII) is one compare per byte; with SSE2, 64 bytes are
 * tested at once first (then 16), so that a 64 KiB argument costs a few
 * thousand instructions rather than a few hundred thousand.
 */
#include "config.h"
#include <stdio.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vr_core.h"
#include "vr_json.h"

enum { C_PLAIN = 0, C_QUOTE, C_BACKSLASH, C_CONTROL, C_HIGH };

static unsigned char vr_json_class[256];

__attribute__((constructor)) static void
vr_json_init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        vr_json_class[c] = c < 0x20 ? C_CONTROL : c >= 0x80 ? C_HIGH : C_PLAIN;
    }
    vr_json_class['"'] = C_QUOTE;
    vr_json_class['\\'] = C_BACKSLASH;
}

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int                  depth;
} vr_js_t;

static void
vr_js_ws(vr_js_t *s)
{
    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
    {
        s->p++;
    }
}

/* Length of the UTF-8 sequence at p (first byte >= 0x80), 0 if invalid. */
static size_t
vr_utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t        n;
    unsigned char lo = 0x80, hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        if (p[0] == 0xe0) {
            lo = 0xa0;
        } else if (p[0] == 0xed) {
            hi = 0x9f;              /* no UTF-16 surrogates */
        }
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        if (p[0] == 0xf0) {
            lo = 0x90;
        } else if (p[0] == 0xf4) {
            hi = 0x8f;
        }
    } else {
        return 0;
    }
    if ((size_t) (end - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
    }
    return n;
}

bool
vr_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + n;

    while (p < end) {
        if (*p == 0) {
            return false;
        }
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = vr_utf8_seq(p, end);
        if (k == 0) {
            return false;
        }
        p += k;
    }
    return true;
}

#define VR_UTF8_REPLACEMENT  "\xef\xbf\xbd"    /* U+FFFD */

/* The character at p as valid UTF-8: its bytes and length (U+FFFD for a
 * byte that starts no valid sequence, or a NUL); *used: the bytes of p it
 * stands for. */
static const char *
vr_utf8_char(const unsigned char *p, const unsigned char *end, size_t *len,
             size_t *used)
{
    size_t k = *p == 0 ? 0 : *p < 0x80 ? 1 : vr_utf8_seq(p, end);

    if (k == 0) {
        *len = sizeof(VR_UTF8_REPLACEMENT) - 1;
        *used = 1;
        return VR_UTF8_REPLACEMENT;
    }
    *len = k;
    *used = k;
    return (const char *) p;
}

size_t
vr_utf8_copy(char *dst, size_t size, const char *src)
{
    const unsigned char *p = (const unsigned char *) src;
    const unsigned char *end = p + strlen(src);
    size_t               room = size - 1, len = 0, cut = 0, clen, used;
    size_t               mark = sizeof(VR_UTF8_CUT) - 1;

    while (p < end) {
        const char *c = vr_utf8_char(p, end, &clen, &used);

        if (clen > room - len) {
            /* Does not fit: back to the last boundary that leaves room
             * for the mark (none when size is too small for it). */
            if (room >= mark) {
                memcpy(dst + cut, VR_UTF8_CUT, mark);
                len = cut + mark;
            }
            break;
        }
        memcpy(dst + len, c, clen);
        len += clen;
        if (room >= mark && len <= room - mark) {
            cut = len;
        }
        p += used;
    }
    dst[len] = '\0';
    return len;
}

void
vr_utf8_repair(vr_buf_t *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s, *end = p + n;
    size_t               clen, used;

    vr_buf_reserve(out, n);
    while (p < end) {
        const char *c = vr_utf8_char(p, end, &clen, &used);

        vr_buf_add(out, c, clen);
        p += used;
    }
}

static int
vr_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

#ifdef __SSE2__
/* The bytes of the 16 at p that end a plain run, as a mask.  Signed
 * compare: bytes >= 0x80 are negative, so "below 0x20" catches the
 * control characters and the non-ASCII bytes. */
static inline __m128i
vr_js_stops16(const unsigned char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *) (const void *) p);

    return _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}
#endif

/* The first byte from p on that is not C_PLAIN, or end. */
static const unsigned char *
vr_js_plain_run(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    while (end - p >= 16) {
        int m = _mm_movemask_epi8(vr_js_stops16(p));

        if (m != 0) {
            return p + __builtin_ctz((unsigned) m);
        }
        p += 16;
        /* A long run (a payload, not a key): 64 bytes a round, one test
         * each, up to the block that holds its end. */
        while (end - p >= 64
               && _mm_movemask_epi8(
                      _mm_or_si128(_mm_or_si128(vr_js_stops16(p),
                                                vr_js_stops16(p + 16)),
                                   _mm_or_si128(vr_js_stops16(p + 32),
                                                vr_js_stops16(p + 48))))
                  == 0)
        {
            p += 64;
        }
    }
#endif
    while (p < end && vr_json_class[*p] == C_PLAIN) {
        p++;
    }
    return p;
}

/* At an opening quote: moves past the closing one.  VR_ERROR if bad. */
static int
vr_js_string(vr_js_t *s)
{
    const unsigned char *p = s->p + 1, *end = s->end;

    for (;;) {
        p = vr_js_plain_run(p, end);
        if (p >= end) {
            return VR_ERROR;
        }
        switch (vr_json_class[*p]) {
        case C_QUOTE:
            s->p = p + 1;
            return VR_OK;
        case C_BACKSLASH:
            if (end - p < 2) {
                return VR_ERROR;
            }
            switch (p[1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n':
            case 'r': case 't':
                p += 2;
                break;
            case 'u':
                if (end - p < 6 || vr_hex(p[2]) < 0 || vr_hex(p[3]) < 0
                    || vr_hex(p[4]) < 0 || vr_hex(p[5]) < 0)
                {
                    return VR_ERROR;
                }
                p += 6;
                break;
            default:
                return VR_ERROR;
            }
            break;
        case C_HIGH: {
            size_t k = vr_utf8_seq(p, end);
            if (k == 0) {
                return VR_ERROR;
            }
            p += k;
            break;
        }
        default:                    /* a raw control character */
            return VR_ERROR;
        }
    }
}

static bool
vr_js_digits(vr_js_t *s)
{
    const unsigned char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start;
}

static bool
vr_js_word(vr_js_t *s, const char *w, size_t n)
{
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, w, n) != 0) {
        return false;
    }
    s->p += n;
    return true;
}

static int
vr_js_number(vr_js_t *s)
{
    if (*s->p == '-') {
        s->p++;
        if (vr_js_word(s, VR_LIT("Infinity"))) {
            return VR_OK;
        }
    }
    if (s->p >= s->end) {
        return VR_ERROR;
    }
    if (*s->p == '0') {
        s->p++;
    } else if (!vr_js_digits(s)) {
        return VR_ERROR;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!vr_js_digits(s)) {
            return VR_ERROR;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!vr_js_digits(s)) {
            return VR_ERROR;
        }
    }
    return VR_OK;
}

static vr_json_kind_t
vr_js_kind(unsigned char c)
{
    switch (c) {
    case '"': return VR_JSON_STRING;
    case '{': return VR_JSON_OBJECT;
    case '[': return VR_JSON_ARRAY;
    case 't': return VR_JSON_TRUE;
    case 'f': return VR_JSON_FALSE;
    case 'n': return VR_JSON_NULL;
    default:  return VR_JSON_NUMBER;
    }
}

static int vr_js_value(vr_js_t *s);

/* At '{' or '[': the members, up to and past the closing bracket. */
static int
vr_js_container(vr_js_t *s, bool object)
{
    unsigned char close = object ? '}' : ']';

    if (++s->depth > VR_JSON_MAX_DEPTH) {
        return VR_ERROR;
    }
    s->p++;
    vr_js_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        s->depth--;
        return VR_OK;
    }
    for (;;) {
        if (object) {
            if (s->p >= s->end || *s->p != '"' || vr_js_string(s) != VR_OK) {
                return VR_ERROR;
            }
            vr_js_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                return VR_ERROR;
            }
            s->p++;
        }
        if (vr_js_value(s) != VR_OK) {
            return VR_ERROR;
        }
        vr_js_ws(s);
        if (s->p >= s->end) {
            return VR_ERROR;
        }
        if (*s->p == close) {
            s->p++;
            s->depth--;
            return VR_OK;
        }
        if (*s->p != ',') {
            return VR_ERROR;
        }
        s->p++;
        vr_js_ws(s);
    }
}

/* Skips whitespace and one value. */
static int
vr_js_value(vr_js_t *s)
{
    vr_js_ws(s);
    if (s->p >= s->end) {
        return VR_ERROR;
    }
    switch (*s->p) {
    case '"':
        return vr_js_string(s);
    case '{':
        return vr_js_container(s, true);
    case '[':
        return vr_js_container(s, false);
    case 't':
        return vr_js_word(s, VR_LIT("true")) ? VR_OK : VR_ERROR;
    case 'f':
        return vr_js_word(s, VR_LIT("false")) ? VR_OK : VR_ERROR;
    case 'n':
        return vr_js_word(s, VR_LIT("null")) ? VR_OK : VR_ERROR;
    case 'N':
        return vr_js_word(s, VR_LIT("NaN")) ? VR_OK : VR_ERROR;
    case 'I':
        return vr_js_word(s, VR_LIT("Infinity")) ? VR_OK : VR_ERROR;
    default:
        return vr_js_number(s);
    }
}

int
vr_json_validate(const char *text, size_t n)
{
    vr_js_t s = { (const unsigned char *) text,
                  (const unsigned char *) text + n, 0 };

    if (vr_js_value(&s) != VR_OK) {
        return VR_ERROR;
    }
    vr_js_ws(&s);
    return s.p == s.end ? VR_OK : VR_ERROR;
}

/* Does the raw key (with quotes) spell name?  Handles escaped keys. */
static bool
vr_js_key_is(const unsigned char *raw, size_t n, const char *name)
{
    size_t len = strlen(name);

    if (memchr(raw, '\\', n) == NULL) {
        return n == len + 2 && memcmp(raw + 1, name, len) == 0;
    }
    vr_buf_t b = VR_BUF_INIT;
    bool     eq = vr_json_unescape((const char *) raw, n, &b) == VR_OK
                  && b.len == len && memcmp(b.p, name, len) == 0;
    vr_buf_free(&b);
    return eq;
}

int
vr_json_fields(const char *text, size_t n, vr_json_field_t *fields,
               size_t nfields, bool validate)
{
    vr_js_t s = { (const unsigned char *) text,
                  (const unsigned char *) text + n, 1 };
    size_t  missing = nfields;

    for (size_t i = 0; i < nfields; i++) {
        fields[i].value = NULL;
        fields[i].len = 0;
        fields[i].kind = VR_JSON_NONE;
    }
    vr_js_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        return VR_ERROR;
    }
    s.p++;
    vr_js_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
        goto closed;
    }
    for (;;) {
        const unsigned char *key = s.p, *value;
        size_t               keylen;

        if (s.p >= s.end || *s.p != '"' || vr_js_string(&s) != VR_OK) {
            return VR_ERROR;
        }
        keylen = (size_t) (s.p - key);
        vr_js_ws(&s);
        if (s.p >= s.end || *s.p != ':') {
            return VR_ERROR;
        }
        s.p++;
        vr_js_ws(&s);
        value = s.p;
        if (vr_js_value(&s) != VR_OK) {
            return VR_ERROR;
        }
        for (size_t i = 0; i < nfields; i++) {
            if (fields[i].kind == VR_JSON_NONE
                && vr_js_key_is(key, keylen, fields[i].name))
            {
                fields[i].value = (const char *) value;
                fields[i].len = (size_t) (s.p - value);
                fields[i].kind = vr_js_kind(*value);
                missing--;
                break;
            }
        }
        if (missing == 0 && !validate) {
            return VR_OK;
        }
        vr_js_ws(&s);
        if (s.p >= s.end) {
            return VR_ERROR;
        }
        if (*s.p == '}') {
            s.p++;
            break;
        }
        if (*s.p != ',') {
            return VR_ERROR;
        }
        s.p++;
        vr_js_ws(&s);
    }
closed:
    if (validate) {
        vr_js_ws(&s);
        if (s.p != s.end) {
            return VR_ERROR;
        }
    }
    return VR_OK;
}

static void
vr_utf8_put(vr_buf_t *out, uint32_t cp)
{
    unsigned char b[4];
    size_t        n;

    if (cp < 0x80) {
        b[0] = (unsigned char) cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char) (0xc0 | (cp >> 6));
        b[1] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char) (0xe0 | (cp >> 12));
        b[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        b[2] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (unsigned char) (0xf0 | (cp >> 18));
        b[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3f));
        b[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
        b[3] = (unsigned char) (0x80 | (cp & 0x3f));
        n = 4;
    }
    vr_buf_add(out, b, n);
}

static uint32_t
vr_hex4(const unsigned char *p)
{
    return (uint32_t) (vr_hex(p[0]) << 12 | vr_hex(p[1]) << 8
                       | vr_hex(p[2]) << 4 | vr_hex(p[3]));
}

int
vr_json_unescape(const char *raw, size_t n, vr_buf_t *out)
{
    vr_js_t              s = { (const unsigned char *) raw,
                               (const unsigned char *) raw + n, 0 };
    const unsigned char *p, *end;

    if (n < 2 || raw[0] != '"' || vr_js_string(&s) != VR_OK || s.p != s.end) {
        return VR_ERROR;
    }
    p = (const unsigned char *) raw + 1;
    end = (const unsigned char *) raw + n - 1;
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p != '\\') {
            p++;
        }
        vr_buf_add(out, run, (size_t) (p - run));
        if (p >= end) {
            break;
        }
        switch (p[1]) {
        case 'b': vr_buf_addc(out, '\b'); p += 2; break;
        case 'f': vr_buf_addc(out, '\f'); p += 2; break;
        case 'n': vr_buf_addc(out, '\n'); p += 2; break;
        case 'r': vr_buf_addc(out, '\r'); p += 2; break;
        case 't': vr_buf_addc(out, '\t'); p += 2; break;
        case 'u': {
            uint32_t cp = vr_hex4(p + 2);
            p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 6 && p[0] == '\\'
                && p[1] == 'u')
            {
                uint32_t lo = vr_hex4(p + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;        /* a lone surrogate */
            }
            vr_utf8_put(out, cp);
            break;
        }
        default:                    /* \" \\ \/ */
            vr_buf_addc(out, (char) p[1]);
            p += 2;
            break;
        }
    }
    return VR_OK;
}

int
vr_json_string_text(const char *raw, size_t n, vr_buf_t *scratch,
                    const char **text, size_t *len)
{
    if (n >= 2 && raw[0] == '"' && raw[n - 1] == '"'
        && memchr(raw + 1, '\\', n - 2) == NULL)
    {
        *text = raw + 1;
        *len = n - 2;
        return VR_OK;
    }
    if (vr_json_unescape(raw, n, scratch) != VR_OK) {
        return VR_ERROR;
    }
    *text = scratch->p;
    *len = scratch->len;
    return VR_OK;
}

void
vr_json_escape(vr_buf_t *out, const char *str, size_t n)
{
    const unsigned char *p = (const unsigned char *) str;
    const unsigned char *end = n > 0 ? p + n : p;   /* str may be NULL */
    char                 u[16];

    vr_buf_reserve(out, n + 2);
    vr_buf_addc(out, '"');
    while (p < end) {
        const unsigned char *run = p;
        /* DEL is plain to the validator but escaped, as Python does. */
        while (p < end && vr_json_class[*p] == C_PLAIN && *p != 0x7f) {
            p++;
        }
        vr_buf_add(out, run, (size_t) (p - run));
        if (p >= end) {
            break;
        }
        switch (*p) {
        case '"':  vr_buf_add(out, "\\\"", 2); p++; continue;
        case '\\': vr_buf_add(out, "\\\\", 2); p++; continue;
        case '\n': vr_buf_add(out, "\\n", 2); p++; continue;
        case '\r': vr_buf_add(out, "\\r", 2); p++; continue;
        case '\t': vr_buf_add(out, "\\t", 2); p++; continue;
        case '\b': vr_buf_add(out, "\\b", 2); p++; continue;
        case '\f': vr_buf_add(out, "\\f", 2); p++; continue;
        default:
            break;
        }
        if (*p < 0x80) {
            snprintf(u, sizeof(u), "\\u%04x", *p);
            vr_buf_add(out, u, 6);
            p++;
            continue;
        }
        size_t k = vr_utf8_seq(p, end);
        if (k == 0) {
            snprintf(u, sizeof(u), "\\u%04x", *p);     /* not UTF-8: Latin-1 */
            vr_buf_add(out, u, 6);
            p++;
            continue;
        }
        uint32_t cp = k == 2 ? (uint32_t) (p[0] & 0x1f) << 6 | (p[1] & 0x3f)
                    : k == 3 ? (uint32_t) (p[0] & 0x0f) << 12
                               | (uint32_t) (p[1] & 0x3f) << 6 | (p[2] & 0x3f)
                    : (uint32_t) (p[0] & 0x07) << 18 | (uint32_t) (p[1] & 0x3f) << 12
                      | (uint32_t) (p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            snprintf(u, sizeof(u), "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                     0xdc00 + (cp & 0x3ff));
            vr_buf_add(out, u, 12);
        } else {
            snprintf(u, sizeof(u), "\\u%04x", cp);
            vr_buf_add(out, u, 6);
        }
        p += k;
    }
    vr_buf_addc(out, '"');
}
