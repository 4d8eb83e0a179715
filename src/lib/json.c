/*
 * json.c: JSON text as it travels, for libvoidrail.
 *
 * Results, chunks and arguments are handed over as the JSON text that was
 * on the wire, never re-serialised (a Python float such as 0.1 stays
 * "0.1", key order stays).  jansson checks a text; the small scanner here
 * then finds the span of a member or element in text that is known to be
 * valid, so it need not check anything itself.
 */
#include "config.h"
#include <jansson.h>
#include <string.h>

#include "lib.h"

bool
vr_lib_json_check(const char *text, size_t len, int kind)
{
    json_error_t jerr;
    json_t      *v;
    bool         good;

    if (text == NULL) {
        return false;
    }
    v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        return false;
    }
    good = kind == VR_LIB_JSON_ANY
           || (kind == VR_LIB_JSON_ARRAY && json_is_array(v))
           || (kind == VR_LIB_JSON_OBJECT && json_is_object(v));
    json_decref(v);
    return good;
}

static const char *
vr_lib_json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }
    return p;
}

/* The end of the string whose opening quote is at p. */
static const char *
vr_lib_json_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return end;
}

/* The end of the (valid) value that starts at p. */
static const char *
vr_lib_json_skip(const char *p, const char *end)
{
    int depth = 0;

    if (p >= end) {
        return end;
    }
    if (*p == '"') {
        return vr_lib_json_skip_string(p, end);
    }
    if (*p != '{' && *p != '[') {
        while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' '
               && *p != '\t' && *p != '\n' && *p != '\r')
        {
            p++;
        }
        return p;
    }
    while (p < end) {
        if (*p == '"') {
            p = vr_lib_json_skip_string(p, end);
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                return p + 1;
            }
        }
        p++;
    }
    return end;
}

bool
vr_lib_json_member(const char *text, size_t len, const char *key,
                   const char **value, size_t *value_len)
{
    const char *p = text, *end = text + len, *k, *v;
    size_t      klen = strlen(key);

    p = vr_lib_json_ws(p, end);
    if (p >= end || *p != '{') {
        return false;
    }
    p++;
    for (;;) {
        p = vr_lib_json_ws(p, end);
        if (p >= end || *p != '"') {
            return false;
        }
        k = p + 1;
        p = vr_lib_json_skip_string(p, end);
        bool match = (size_t) (p - 1 - k) == klen && memcmp(k, key, klen) == 0;
        p = vr_lib_json_ws(p, end);
        if (p >= end || *p != ':') {
            return false;
        }
        v = vr_lib_json_ws(p + 1, end);
        p = vr_lib_json_skip(v, end);
        if (match) {
            *value = v;
            *value_len = (size_t) (p - v);
            return true;
        }
        p = vr_lib_json_ws(p, end);
        if (p >= end || *p != ',') {
            return false;
        }
        p++;
    }
}

bool
vr_lib_json_element(const char *text, size_t len, size_t index,
                    const char **value, size_t *value_len)
{
    const char *p = text, *end = text + len, *v;
    size_t      i = 0;

    p = vr_lib_json_ws(p, end);
    if (p >= end || *p != '[') {
        return false;
    }
    p = vr_lib_json_ws(p + 1, end);
    if (p < end && *p == ']') {
        return false;
    }
    for (;;) {
        v = vr_lib_json_ws(p, end);
        p = vr_lib_json_skip(v, end);
        if (i++ == index) {
            *value = v;
            *value_len = (size_t) (p - v);
            return true;
        }
        p = vr_lib_json_ws(p, end);
        if (p >= end || *p != ',') {
            return false;
        }
        p++;
    }
}

size_t
vr_lib_json_count(const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    size_t      n = 0;

    p = vr_lib_json_ws(p, end);
    if (p >= end || *p != '[') {
        return 0;
    }
    p = vr_lib_json_ws(p + 1, end);
    if (p < end && *p == ']') {
        return 0;
    }
    for (;;) {
        p = vr_lib_json_skip(vr_lib_json_ws(p, end), end);
        n++;
        p = vr_lib_json_ws(p, end);
        if (p >= end || *p != ',') {
            return n;
        }
        p++;
    }
}
