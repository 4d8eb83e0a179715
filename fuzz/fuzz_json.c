/*
 * fuzz_json.c: the JSON scanner of src/vr_json.c (request and response
 * bodies: every byte a peer sends goes through it first).
 *
 * The input is a JSON text.  Checked on it:
 *   - vr_json_validate, vr_json_fields (validate true and false) and
 *     vr_json_unescape never read outside the input;
 *   - vr_json_fields(validate) succeeds exactly for valid objects, and
 *     then the fast scan (validate false) finds the same fields;
 *   - every field found is itself valid JSON, of the kind reported;
 *   - vr_json_unescape accepts exactly the valid JSON strings (the whole
 *     input, and spans between quotes);
 *   - what jansson accepts (nesting within VR_JSON_MAX_DEPTH), the
 *     validator accepts too;
 *   - vr_utf8_valid agrees with a plain reference decoder;
 *   - vr_json_escape of any bytes is valid, printable ASCII JSON, and on
 *     valid UTF-8 unescape (ours and jansson's) gives the bytes back.
 */
#include "config.h"
#include <jansson.h>
#include <string.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_json.h"
#include "fuzz.h"

/* RFC 3629 UTF-8, decoded the slow and obvious way; NUL is refused. */
static bool
ref_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        size_t   k;

        if (s[i] == 0) {
            return false;
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if ((s[i] & 0xe0) == 0xc0) {
            k = 2;
            cp = s[i] & 0x1f;
        } else if ((s[i] & 0xf0) == 0xe0) {
            k = 3;
            cp = s[i] & 0x0f;
        } else if ((s[i] & 0xf8) == 0xf0) {
            k = 4;
            cp = s[i] & 0x07;
        } else {
            return false;
        }
        if (n - i < k) {
            return false;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) {
                return false;
            }
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800)
            || (k == 4 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
        {
            return false;
        }
        i += k;
    }
    return true;
}

/* Valid UTF-8 once NUL bytes (which JSON escapes as \u0000) are allowed. */
static bool
utf8_with_nul(const uint8_t *s, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == 0) {
            if (!ref_utf8_valid(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

static size_t
brackets(const char *s, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        k += s[i] == '[' || s[i] == '{';
    }
    return k;
}

static bool
kind_matches(vr_json_kind_t kind, const char *v, size_t len)
{
    switch (kind) {
    case VR_JSON_STRING: return v[0] == '"' && v[len - 1] == '"';
    case VR_JSON_OBJECT: return v[0] == '{' && v[len - 1] == '}';
    case VR_JSON_ARRAY:  return v[0] == '[' && v[len - 1] == ']';
    case VR_JSON_TRUE:   return len == 4 && memcmp(v, "true", 4) == 0;
    case VR_JSON_FALSE:  return len == 5 && memcmp(v, "false", 5) == 0;
    case VR_JSON_NULL:   return len == 4 && memcmp(v, "null", 4) == 0;
    case VR_JSON_NUMBER: return strchr("-0123456789NI", v[0]) != NULL;
    default:             return false;
    }
}

/* unescape(raw) succeeds exactly when raw is one JSON string, nothing else. */
static void
check_unescape(const char *raw, size_t n)
{
    vr_buf_t out = VR_BUF_INIT;
    bool     is_string = n >= 2 && raw[0] == '"' && raw[n - 1] == '"'
                         && vr_json_validate(raw, n) == VR_OK;
    int      rc = vr_json_unescape(raw, n, &out);

    fuzz_assert((rc == VR_OK) == is_string,
                "vr_json_unescape %s a text that is %sa JSON string",
                rc == VR_OK ? "accepted" : "refused", is_string ? "" : "not ");
    if (rc == VR_OK) {
        /* And the decoded bytes, escaped again, decode to themselves. */
        vr_buf_t again = VR_BUF_INIT, back = VR_BUF_INIT;

        vr_json_escape(&again, out.p ? out.p : "", out.len);
        fuzz_assert(vr_json_unescape(again.p, again.len, &back) == VR_OK
                    && back.len == out.len
                    && (out.len == 0 || memcmp(back.p, out.p, out.len) == 0),
                    "unescape -> escape -> unescape changed the string");
        vr_buf_free(&again);
        vr_buf_free(&back);
    }
    vr_buf_free(&out);
}

static void
check_escape(const uint8_t *data, size_t size)
{
    vr_buf_t    esc = VR_BUF_INIT, back = VR_BUF_INIT;
    bool        utf8 = utf8_with_nul(data, size);
    json_t     *j;

    vr_json_escape(&esc, (const char *) data, size);
    fuzz_assert(vr_json_validate(esc.p, esc.len) == VR_OK,
                "vr_json_escape wrote invalid JSON");
    for (size_t i = 0; i < esc.len; i++) {
        fuzz_assert(esc.p[i] >= 0x20 && esc.p[i] < 0x7f,
                    "vr_json_escape wrote byte 0x%02x (not printable ASCII)",
                    (unsigned char) esc.p[i]);
    }
    fuzz_assert(vr_json_unescape(esc.p, esc.len, &back) == VR_OK,
                "vr_json_unescape refused what vr_json_escape wrote");
    if (utf8) {
        fuzz_assert(back.len == size
                    && memcmp(back.p ? back.p : "", data, size) == 0,
                    "escape -> unescape of valid UTF-8 changed the bytes");
        j = json_loadb(esc.p, esc.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        fuzz_assert(j != NULL && json_is_string(j)
                    && json_string_length(j) == size
                    && memcmp(json_string_value(j), data, size) == 0,
                    "jansson does not read back what vr_json_escape wrote");
        json_decref(j);
    }
    vr_buf_free(&esc);
    vr_buf_free(&back);
}

#define NFIELDS 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[NFIELDS] = {
        "type", "request_id", "args", "kwargs", "data", "result", "a", ""
    };
    const char      *text = (const char *) data;
    vr_json_field_t  full[NFIELDS], fast[NFIELDS];
    int              valid, rc_full, rc_fast;
    size_t           i, first;
    json_t          *j;

    valid = vr_json_validate(text, size);
    for (i = 0; i < NFIELDS; i++) {
        full[i] = (vr_json_field_t) { names[i], NULL, 0, 0 };
        fast[i] = (vr_json_field_t) { names[i], NULL, 0, 0 };
    }
    rc_full = vr_json_fields(text, size, full, NFIELDS, true);
    rc_fast = vr_json_fields(text, size, fast, NFIELDS, false);

    for (first = 0; first < size && strchr(" \t\r\n", text[first]) != NULL
                    && text[first] != '\0'; first++) {
    }
    fuzz_assert((rc_full == VR_OK)
                == (valid == VR_OK && first < size && text[first] == '{'),
                "vr_json_fields(validate) %s, vr_json_validate %s",
                rc_full == VR_OK ? "ok" : "error",
                valid == VR_OK ? "ok" : "error");
    if (rc_full == VR_OK) {
        fuzz_assert(rc_fast == VR_OK, "fast scan refused a valid object");
        for (i = 0; i < NFIELDS; i++) {
            fuzz_assert(full[i].kind == fast[i].kind
                        && full[i].value == fast[i].value
                        && full[i].len == fast[i].len,
                        "field \"%s\": fast and full scans differ", names[i]);
        }
    }
    for (i = 0; i < NFIELDS; i++) {
        vr_json_field_t *f = &fast[i];

        if (f->kind == VR_JSON_NONE) {
            fuzz_assert(f->value == NULL && f->len == 0,
                        "missing field \"%s\" has a value", names[i]);
            continue;
        }
        fuzz_assert(f->value >= text && f->len > 0
                    && f->value + f->len <= text + size,
                    "field \"%s\" points outside the text", names[i]);
        fuzz_assert(vr_json_validate(f->value, f->len) == VR_OK,
                    "field \"%s\" is not valid JSON", names[i]);
        fuzz_assert(kind_matches(f->kind, f->value, f->len),
                    "field \"%s\" is not of kind %d", names[i], f->kind);
        if (f->kind == VR_JSON_STRING) {
            check_unescape(f->value, f->len);
        }
    }

    /* The whole input, and a few spans from one quote to a later one. */
    check_unescape(text, size);
    for (size_t q = 0, spans = 0; q < size && spans < 8; q++) {
        const char *close;

        if (text[q] != '"') {
            continue;
        }
        close = memchr(text + q + 1, '"', size - q - 1);
        while (close != NULL && close[-1] == '\\'
               && close + 1 < text + size) {
            close = memchr(close + 1, '"', (size_t) (text + size - close - 1));
        }
        if (close == NULL) {
            break;
        }
        check_unescape(text + q, (size_t) (close - text - q) + 1);
        spans++;
    }

    /* Whatever jansson reads, we read (but jansson stops at a raw NUL,
     * which is no JSON whitespace: "2\0" is an error to us). */
    j = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (j != NULL && brackets(text, size) <= VR_JSON_MAX_DEPTH
        && memchr(text, '\0', size) == NULL)
    {
        fuzz_assert(valid == VR_OK, "jansson reads a text vr_json refuses");
    }
    json_decref(j);

    fuzz_assert(vr_utf8_valid(text, size) == ref_utf8_valid(data, size),
                "vr_utf8_valid says %d, the reference decoder %d",
                vr_utf8_valid(text, size), ref_utf8_valid(data, size));
    check_escape(data, size);
    return 0;
}
