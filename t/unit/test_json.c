/*
 * test_json.c: unit tests of src/vr_json.h: field scanning, validation,
 * unescaping, escaping (Python json.dumps style) and UTF-8 checks.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_json.h"
#include "tap.h"

/* Text given as a C string literal, length without the NUL. */
#define T(s)  (s), (sizeof(s) - 1)

/* ---- helpers ---------------------------------------------------------- */

/* Is field f found with raw value text `raw` and kind `kind`? */
static bool
is_field(const vr_json_field_t *f, const char *text, const char *raw,
         vr_json_kind_t kind, const char *name)
{
    bool pass;

    if (raw == NULL) {
        pass = f->kind == VR_JSON_NONE && f->value == NULL && f->len == 0;
        ok(pass, "%s: not found", name);
        if (!pass) {
            diag("kind %d, len %zu", (int) f->kind, f->len);
        }
        return pass;
    }
    pass = f->kind == kind && f->value != NULL && f->len == strlen(raw)
           && memcmp(f->value, raw, f->len) == 0
           && f->value >= text && f->value < text + strlen(text);
    ok(pass, "%s: %s", name, raw);
    if (!pass) {
        diag("got kind %d, value '%.*s' (expected kind %d)", (int) f->kind,
             f->value ? (int) f->len : 4, f->value ? f->value : "NULL",
             (int) kind);
    }
    return pass;
}

/* Scans text for "type" and "request_id". */
static int
scan2(const char *text, size_t n, bool validate, vr_json_field_t f[2])
{
    f[0] = (vr_json_field_t) { "type", "garbage", 99, VR_JSON_NULL };
    f[1] = (vr_json_field_t) { "request_id", "garbage", 99, VR_JSON_NULL };
    return vr_json_fields(text, n, f, 2, validate);
}

/* A string of n copies of open, then inner, then n copies of close. */
static char *
nested(int n, const char *open, const char *inner, const char *close)
{
    vr_buf_t b = VR_BUF_INIT;

    for (int i = 0; i < n; i++) {
        vr_buf_adds(&b, open);
    }
    vr_buf_adds(&b, inner);
    for (int i = 0; i < n; i++) {
        vr_buf_adds(&b, close);
    }
    return vr_buf_steal(&b, NULL);
}

/* Reference UTF-8 decoder: length of the valid sequence at p, or 0. */
static size_t
ref_utf8(const unsigned char *p, size_t n)
{
    uint32_t cp;
    size_t   len;

    if (n == 0) {
        return 0;
    }
    if (p[0] < 0x80) {
        return p[0] == 0 ? 0 : 1;
    } else if ((p[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = p[0] & 0x1f;
    } else if ((p[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = p[0] & 0x0f;
    } else if ((p[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800)
        || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }
    return len;
}

static bool
ref_valid(const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t k = ref_utf8(p, n);
        if (k == 0) {
            return false;
        }
        p += k;
        n -= k;
    }
    return true;
}

/* Appends code point cp as UTF-8. */
static void
put_utf8(vr_buf_t *b, uint32_t cp)
{
    char s[4];

    if (cp < 0x80) {
        vr_buf_addc(b, (char) cp);
    } else if (cp < 0x800) {
        s[0] = (char) (0xc0 | cp >> 6);
        s[1] = (char) (0x80 | (cp & 0x3f));
        vr_buf_add(b, s, 2);
    } else if (cp < 0x10000) {
        s[0] = (char) (0xe0 | cp >> 12);
        s[1] = (char) (0x80 | (cp >> 6 & 0x3f));
        s[2] = (char) (0x80 | (cp & 0x3f));
        vr_buf_add(b, s, 3);
    } else {
        s[0] = (char) (0xf0 | cp >> 18);
        s[1] = (char) (0x80 | (cp >> 12 & 0x3f));
        s[2] = (char) (0x80 | (cp >> 6 & 0x3f));
        s[3] = (char) (0x80 | (cp & 0x3f));
        vr_buf_add(b, s, 4);
    }
}

static uint32_t rng_state = 12345;

static uint32_t
rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* ---- vr_json_fields ---------------------------------------------------- */

static void
test_fields(void)
{
    vr_json_field_t f[3];
    const char     *t;
    char           *deep;

    t = "{\"type\": \"request\", \"request_id\": \"abc\", \"args\": [1]}";
    is_int(scan2(t, strlen(t), false, f), VR_OK, "fields in order: VR_OK");
    is_field(&f[0], t, "\"request\"", VR_JSON_STRING, "in order: type");
    is_field(&f[1], t, "\"abc\"", VR_JSON_STRING, "in order: request_id");

    t = "{\"args\": {\"a\": [1, {\"b\": \"}\"}]}, \"request_id\": \"r1\", "
        "\"x\": null, \"type\": \"request\"}";
    is_int(scan2(t, strlen(t), true, f), VR_OK, "fields out of order: VR_OK");
    is_field(&f[0], t, "\"request\"", VR_JSON_STRING, "out of order: type");
    is_field(&f[1], t, "\"r1\"", VR_JSON_STRING, "out of order: request_id");

    /* Once both are found the rest is not read without validate. */
    t = "{\"type\": \"a\", \"request_id\": \"b\", !!! not json";
    is_int(scan2(t, strlen(t), false, f), VR_OK,
           "stops once every field is found (garbage after them unread)");
    is_field(&f[1], t, "\"b\"", VR_JSON_STRING, "early stop: request_id");
    is_int(scan2(t, strlen(t), true, f), VR_ERROR,
           "with validate the same text is refused");
    is_field(&f[0], t, "\"a\"", VR_JSON_STRING,
             "refused text: type still filled in");
    is_field(&f[1], t, "\"b\"", VR_JSON_STRING,
             "refused text: request_id still filled in");

    /* Nested values are skipped whole, their keys are not top-level. */
    t = "{\"a\": {\"type\": \"inner\", \"request_id\": \"inner\"}, "
        "\"s\": \"q\\\"}]{[\\\\\", \"l\": [\"]\", {\"\\\"type\\\"\": 1}, "
        "\"}\"], \"type\": \"outer\", \"request_id\": 7}";
    is_int(scan2(t, strlen(t), true, f), VR_OK,
           "nested values with tricky strings: VR_OK");
    is_field(&f[0], t, "\"outer\"", VR_JSON_STRING,
             "nested keys ignored: type is the top-level one");
    is_field(&f[1], t, "7", VR_JSON_NUMBER,
             "nested keys ignored: request_id is the top-level one");

    /* Keys written with escapes. */
    t = "{\"typ\\u0065\": \"esc\", \"request\\u005Fid\": \"r\\\"2\"}";
    is_int(scan2(t, strlen(t), false, f), VR_OK, "escaped keys: VR_OK");
    is_field(&f[0], t, "\"esc\"", VR_JSON_STRING, "key \"typ\\u0065\" is type");
    is_field(&f[1], t, "\"r\\\"2\"", VR_JSON_STRING,
             "key \"request\\u005Fid\" is request_id (value kept raw)");
    t = "{\"t\\\"ype\": 1, \"type \": 2, \"Type\": 3, \"typ\": 4}";
    is_int(scan2(t, strlen(t), false, f), VR_OK, "near-miss keys: VR_OK");
    is_field(&f[0], t, NULL, 0, "near-miss keys do not match type");

    /* Duplicate keys: the first one wins. */
    t = "{\"type\": \"first\", \"type\": \"second\", \"request_id\": 1, "
        "\"request_id\": 2}";
    is_int(scan2(t, strlen(t), true, f), VR_OK, "duplicate keys: VR_OK");
    is_field(&f[0], t, "\"first\"", VR_JSON_STRING, "duplicate type: first wins");
    is_field(&f[1], t, "1", VR_JSON_NUMBER, "duplicate request_id: first wins");

    /* Value kinds. */
    {
        vr_json_field_t k[8] = {
            { "s", NULL, 0, 0 }, { "n", NULL, 0, 0 }, { "o", NULL, 0, 0 },
            { "a", NULL, 0, 0 }, { "t", NULL, 0, 0 }, { "f", NULL, 0, 0 },
            { "z", NULL, 0, 0 }, { "inf", NULL, 0, 0 },
        };
        t = "{ \"s\" : \"x\" , \"n\":-1.5e3,\"o\":{\"k\":[]},\"a\":[{}],"
            "\"t\":true,\"f\":false,\"z\":null,\"inf\":-Infinity}";
        is_int(vr_json_fields(t, strlen(t), k, 8, true), VR_OK, "kinds: VR_OK");
        is_field(&k[0], t, "\"x\"", VR_JSON_STRING, "kind string");
        is_field(&k[1], t, "-1.5e3", VR_JSON_NUMBER, "kind number");
        is_field(&k[2], t, "{\"k\":[]}", VR_JSON_OBJECT, "kind object");
        is_field(&k[3], t, "[{}]", VR_JSON_ARRAY, "kind array");
        is_field(&k[4], t, "true", VR_JSON_TRUE, "kind true");
        is_field(&k[5], t, "false", VR_JSON_FALSE, "kind false");
        is_field(&k[6], t, "null", VR_JSON_NULL, "kind null");
        is_field(&k[7], t, "-Infinity", VR_JSON_NUMBER, "-Infinity is a number");
    }

    /* Missing fields are reset, even when the caller left garbage in. */
    t = "{\"type\": \"x\"}";
    is_int(scan2(t, strlen(t), false, f), VR_OK, "missing field: VR_OK");
    is_field(&f[1], t, NULL, 0, "missing request_id is reset to NONE");
    t = "{}";
    is_int(scan2(t, strlen(t), true, f), VR_OK, "empty object: VR_OK");
    is_field(&f[0], t, NULL, 0, "empty object: no type");
    t = " \n\t{ } \r\n";
    is_int(scan2(t, strlen(t), true, f), VR_OK,
           "whitespace around an empty object");

    /* Not an object. */
    {
        static const char *bad[] = {
            "", "   ", "[1]", "[{\"type\": \"x\"}]", "\"type\"", "null", "1",
            "type", "}", "{\"type\" \"x\"}", "{type: 1}", "{\"type\": }",
            "{\"type\": 1,}", "{,}", "{\"a\": 1 \"type\": 2}",
        };
        for (size_t i = 0; i < vr_nelems(bad); i++) {
            is_int(scan2(bad[i], strlen(bad[i]), false, f), VR_ERROR,
                   "not an object / malformed: '%s' -> VR_ERROR", bad[i]);
        }
    }

    /* Truncated texts: what was read before the fault is kept. */
    t = "{\"type\": \"request\", \"request_id\": \"abc\", \"args\": [1, 2";
    f[0] = (vr_json_field_t) { "type", NULL, 0, 0 };
    f[1] = (vr_json_field_t) { "request_id", NULL, 0, 0 };
    f[2] = (vr_json_field_t) { "func_name", NULL, 0, 0 };
    is_int(vr_json_fields(t, strlen(t), f, 3, false), VR_ERROR,
           "truncated text: VR_ERROR");
    is_field(&f[0], t, "\"request\"", VR_JSON_STRING, "truncated: type kept");
    is_field(&f[1], t, "\"abc\"", VR_JSON_STRING, "truncated: request_id kept");
    is_field(&f[2], t, NULL, 0, "truncated: func_name not found");
    t = "{\"request_id\": \"abc\", \"type\": \"requ";
    is_int(scan2(t, strlen(t), false, f), VR_ERROR,
           "truncated inside a wanted value: VR_ERROR");
    is_field(&f[1], t, "\"abc\"", VR_JSON_STRING, "request_id before it kept");
    is_field(&f[0], t, NULL, 0, "the cut value is not reported");
    t = "{\"request_id\": \"abc\"";
    is_int(scan2(t, strlen(t), false, f), VR_ERROR,
           "missing closing brace: VR_ERROR");
    is_field(&f[1], t, "\"abc\"", VR_JSON_STRING, "missing brace: rid kept");

    /* The length is obeyed: bytes past n are not read. */
    t = "{\"type\": 1}{\"request_id\": 2}";
    is_int(scan2(t, 11, true, f), VR_OK, "n bounds the text (validate)");
    is_field(&f[1], t, NULL, 0, "nothing past n is read");
    is_int(scan2(t, 10, false, f), VR_ERROR, "a cut before the brace fails");

    /* Depth: the top-level object counts as one level. */
    deep = nested(VR_JSON_MAX_DEPTH - 1, "[", "0", "]");
    {
        vr_buf_t b = VR_BUF_INIT;
        vr_buf_printf_b(&b, "{\"a\": %s, \"type\": 1}", deep);
        is_int(scan2(b.p, b.len, false, f), VR_OK,
               "fields: nesting of exactly VR_JSON_MAX_DEPTH accepted");
        is_field(&f[0], b.p, "1", VR_JSON_NUMBER, "type found after deep value");
        vr_buf_reset(&b);
        vr_buf_printf_b(&b, "{\"a\": [%s], \"type\": 1}", deep);
        is_int(scan2(b.p, b.len, false, f), VR_ERROR,
               "fields: nesting of VR_JSON_MAX_DEPTH + 1 refused");
        vr_buf_free(&b);
    }
    free(deep);
}

/* ---- vr_json_validate -------------------------------------------------- */

static void
test_validate(void)
{
    static const struct { const char *s; size_t n; } good[] = {
        { T("0") }, { T("-0") }, { T("123") }, { T("-123") }, { T("1.5") },
        { T("0.25") }, { T("1e10") }, { T("1E10") }, { T("1e+2") },
        { T("1e-2") }, { T("-1.5E-05") }, { T("0e0") }, { T("\"\"") },
        { T("\"abc\"") }, { T("true") }, { T("false") }, { T("null") },
        { T("[]") }, { T("{}") }, { T("[[]]") }, { T(" [ 1 , 2 ] ") },
        { T("\t\n\r {\"a\" : {\"b\": [null, true, false, \"\"]}} \n") },
        { T("{\"a\":1,\"a\":2}") },
        { T("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"") },
        { T("\"\\u00e9\\u00E9\\uD83D\\uDE00\\u0000\"") },
        { T("\"\\ud800\"") },                   /* lone surrogate escape */
        { T("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"") },
        { T("\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80\"") },
        { T("\"\x7f\"") },                      /* DEL is not a control */
        { T("NaN") }, { T("Infinity") }, { T("-Infinity") },
        { T("[NaN, Infinity, -Infinity]") },
        { T("{\"x\": NaN}") },
        { T("[1, \"a\", {\"b\": [2, {\"c\": null}]}, -0.5]") },
    };
    static const struct { const char *s; size_t n; } bad[] = {
        { T("") }, { T("   ") }, { T("01") }, { T("-01") }, { T("1.") },
        { T(".5") }, { T("+1") }, { T("1e") }, { T("1e+") }, { T("1.e3") },
        { T("-") }, { T("--1") }, { T("0x10") }, { T("1_000") },
        { T("tru") }, { T("True") }, { T("nul") }, { T("nulll") },
        { T("nan") }, { T("-NaN") }, { T("infinity") }, { T("+Infinity") },
        { T("[1,]") }, { T("[,1]") }, { T("[1 2]") }, { T("{\"a\":1,}") },
        { T("{\"a\" 1}") }, { T("{a:1}") }, { T("{'a':1}") }, { T("{1:1}") },
        { T("{\"a\":}") }, { T("[") }, { T("]") }, { T("{") }, { T("}") },
        { T("[1}") }, { T("{\"a\":1]") },
        { T("\"abc") }, { T("\"\\x\"") }, { T("\"\\'\"") }, { T("\"\\u12\"") },
        { T("\"\\u12G4\"") }, { T("\"\\") }, { T("\"\\u\"") },
        { T("\"a\x01" "b\"") }, { T("\"a\tb\"") }, { T("\"a\nb\"") },
        { T("\"a\x1f\"") }, { "\"a\0b\"", 5 },
        { T("\"\xc3\"") }, { T("\"\xc0\x80\"") }, { T("\"\xc1\xbf\"") },
        { T("\"\xe0\x80\x80\"") }, { T("\"\xe0\x9f\xbf\"") },
        { T("\"\xed\xa0\x80\"") }, { T("\"\xed\xbf\xbf\"") },
        { T("\"\xf0\x80\x80\x80\"") }, { T("\"\xf0\x8f\xbf\xbf\"") },
        { T("\"\xf4\x90\x80\x80\"") }, { T("\"\xf5\x80\x80\x80\"") },
        { T("\"\xff\"") }, { T("\"\x80\"") }, { T("\"\xe2\x28\xa1\"") },
        { T("\"\xe2\x82\"") }, { T("\"\xf0\x9f\x98\"") },
        { T("[1] x") }, { T("{} {}") }, { T("1 2") }, { T("\"a\" \"b\"") },
        { "1\0", 2 }, { T("[1]\x0b") }, { T("\x0c[1]") },
        { T("[\xc3\xa9]") },
    };
    char *deep;

    for (size_t i = 0; i < vr_nelems(good); i++) {
        is_int(vr_json_validate(good[i].s, good[i].n), VR_OK,
               "valid %zu: %.*s", i, (int) good[i].n, good[i].s);
    }
    for (size_t i = 0; i < vr_nelems(bad); i++) {
        is_int(vr_json_validate(bad[i].s, bad[i].n), VR_ERROR,
               "invalid %zu refused", i);
    }

    deep = nested(VR_JSON_MAX_DEPTH, "[", "", "]");
    is_int(vr_json_validate(deep, strlen(deep)), VR_OK,
           "arrays nested VR_JSON_MAX_DEPTH deep accepted");
    free(deep);
    deep = nested(VR_JSON_MAX_DEPTH + 1, "[", "", "]");
    is_int(vr_json_validate(deep, strlen(deep)), VR_ERROR,
           "arrays nested VR_JSON_MAX_DEPTH + 1 deep refused");
    free(deep);
    deep = nested(VR_JSON_MAX_DEPTH, "{\"k\":", "1", "}");
    is_int(vr_json_validate(deep, strlen(deep)), VR_OK,
           "objects nested VR_JSON_MAX_DEPTH deep accepted");
    free(deep);
    deep = nested(VR_JSON_MAX_DEPTH, "{\"k\":", "{}", "}");
    is_int(vr_json_validate(deep, strlen(deep)), VR_ERROR,
           "objects nested VR_JSON_MAX_DEPTH + 1 deep refused");
    free(deep);
    deep = nested(VR_JSON_MAX_DEPTH / 2, "{\"k\": [", "1", "]}");
    is_int(vr_json_validate(deep, strlen(deep)), VR_OK,
           "objects and arrays mixed, VR_JSON_MAX_DEPTH deep accepted");
    free(deep);
    deep = nested(100000, "[", "", "");
    is_int(vr_json_validate(deep, strlen(deep)), VR_ERROR,
           "100000 unclosed brackets refused (no stack overflow)");
    free(deep);
}

/*
 * Strings longer than the 16 bytes the scanner may test at once: every
 * byte value at every position of a 40-byte string (both sides of each
 * 16-byte block, and the tail), alone, as a valid UTF-8 sequence and as
 * an escape; the verdict must be the same as byte by byte.
 */
static void
test_validate_long(void)
{
    enum { LEN = 40 };
    char   s[LEN + 8];
    size_t wrong_byte = 0, wrong_utf8 = 0, wrong_escape = 0, wrong_end = 0;

    for (size_t at = 0; at < LEN; at++) {
        for (int c = 0; c < 256; c++) {
            bool plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';

            s[0] = '"';
            memset(s + 1, 'a', LEN);
            s[1 + at] = (char) c;
            s[1 + LEN] = '"';
            wrong_byte += (vr_json_validate(s, LEN + 2) == VR_OK) != plain;
        }
        memset(s + 1, 'a', LEN + 1);
        memcpy(s + 1 + at, "\xc3\xa9", 2);        /* U+00E9 */
        s[1 + LEN + 1] = '"';
        wrong_utf8 += vr_json_validate(s, LEN + 3) != VR_OK;
        memset(s + 1, 'a', LEN + 1);
        memcpy(s + 1 + at, "\\n", 2);
        s[1 + LEN + 1] = '"';
        wrong_escape += vr_json_validate(s, LEN + 3) != VR_OK;
        /* Cut short: no closing quote after at + 1 plain bytes. */
        memset(s + 1, 'a', LEN);
        wrong_end += vr_json_validate(s, at + 2) != VR_ERROR;
    }
    is_int(wrong_byte, 0, "40-byte strings: each byte value at each "
           "position judged as byte by byte");
    is_int(wrong_utf8, 0, "40-byte strings: a UTF-8 sequence at each "
           "position accepted");
    is_int(wrong_escape, 0, "40-byte strings: an escape at each position "
           "accepted");
    is_int(wrong_end, 0, "long strings without their closing quote "
           "refused at every length");
}

/* ---- vr_json_unescape -------------------------------------------------- */

static void
test_unescape(void)
{
    static const struct {
        const char *raw;
        size_t      n;
        const char *want;
        size_t      wlen;
    } cases[] = {
        { T("\"\""), T("") },
        { T("\"abc\""), T("abc") },
        { T("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\""),
          T("a\"b\\c/d\be\ff\ng\rh\ti") },
        { T("\"\\u0041\\u00e9\\u00E9\""), T("A\xc3\xa9\xc3\xa9") },
        { T("\"\\u20AC\\u20ac\""), T("\xe2\x82\xac\xe2\x82\xac") },
        { T("\"\\uffff\""), T("\xef\xbf\xbf") },
        { T("\"\\ud83d\\ude00\""), T("\xf0\x9f\x98\x80") },
        { T("\"\\uD83D\\uDE00!\""), T("\xf0\x9f\x98\x80!") },
        { T("\"\\udbff\\udfff\""), T("\xf4\x8f\xbf\xbf") },
        { T("\"\\ud800\\udc00\""), T("\xf0\x90\x80\x80") },
        { T("\"\\ud83d\""), T("\xef\xbf\xbd") },
        { T("\"\\ud83dx\""), T("\xef\xbf\xbdx") },
        { T("\"\\ude00\""), T("\xef\xbf\xbd") },
        { T("\"\\ude00\\ud83d\""), T("\xef\xbf\xbd\xef\xbf\xbd") },
        { T("\"\\ud83d\\ud83d\\ude00\""), T("\xef\xbf\xbd\xf0\x9f\x98\x80") },
        { T("\"\\ud83d\\u0041\""), T("\xef\xbf\xbd" "A") },
        { T("\"\\ud83d\\n\""), T("\xef\xbf\xbd\n") },
        { T("\"\\u0000\""), "\0", 1 },
        { T("\"\xc3\xa9 raw \xf0\x9f\x98\x80\""), T("\xc3\xa9 raw \xf0\x9f\x98\x80") },
    };
    static const struct { const char *raw; size_t n; } bad[] = {
        { T("") }, { T("\"") }, { T("abc") }, { T("\"abc") }, { T("abc\"") },
        { T("\"a\\qb\"") }, { T("\"a\"b\"") }, { T("\"a\" ") },
        { T("\"\\u12\"") }, { T("\"\\uZZZZ\"") }, { T("\"a\nb\"") },
        { T("\"\xff\"") }, { T("\"\\\"") }, { T("123") },
    };

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        vr_buf_t b = VR_BUF_INIT;
        int      rc = vr_json_unescape(cases[i].raw, cases[i].n, &b);
        bool     pass = rc == VR_OK && b.len == cases[i].wlen
                        && memcmp(b.p ? b.p : "", cases[i].want, b.len) == 0;
        ok(pass, "unescape %.*s", (int) cases[i].n, cases[i].raw);
        if (!pass) {
            diag("rc %d, got %zu bytes", rc, b.len);
        }
        vr_buf_free(&b);
    }
    for (size_t i = 0; i < vr_nelems(bad); i++) {
        vr_buf_t b = VR_BUF_INIT;
        is_int(vr_json_unescape(bad[i].raw, bad[i].n, &b), VR_ERROR,
               "unescape refuses bad %zu", i);
        vr_buf_free(&b);
    }
}

/* ---- vr_json_string_text ---------------------------------------------- */

static void
test_string_text(void)
{
    static const struct {
        const char *raw;
        size_t      n;
        const char *want;
        size_t      wlen;
        bool        view;           /* read in place, nothing decoded */
    } cases[] = {
        { T("\"\""), T(""), true },
        { T("\"r-1 \xc3\xa9\""), T("r-1 \xc3\xa9"), true },
        { T("\"a\\\"b\""), T("a\"b"), false },
        { T("\"\\u00e9\""), T("\xc3\xa9"), false },
        { T("\"\\u0000\""), "\0", 1, false },
    };
    static const struct { const char *raw; size_t n; } bad[] = {
        { T("\"a\\qb\"") }, { T("\"\\\"") }, { T("\"\\u12\"") },
    };

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        vr_buf_t    b = VR_BUF_INIT;
        const char *text = NULL;
        size_t      len = 0;
        int         rc = vr_json_string_text(cases[i].raw, cases[i].n, &b,
                                             &text, &len);
        bool        pass = rc == VR_OK && len == cases[i].wlen
                           && memcmp(text, cases[i].want, len) == 0
                           && (text == cases[i].raw + 1) == cases[i].view
                           && (b.p == NULL) == cases[i].view;
        ok(pass, "string text of %.*s", (int) cases[i].n, cases[i].raw);
        vr_buf_free(&b);
    }
    for (size_t i = 0; i < vr_nelems(bad); i++) {
        vr_buf_t    b = VR_BUF_INIT;
        const char *text;
        size_t      len;
        is_int(vr_json_string_text(bad[i].raw, bad[i].n, &b, &text, &len),
               VR_ERROR, "string text refuses bad %zu", i);
        vr_buf_free(&b);
    }
}

/* ---- vr_json_escape ---------------------------------------------------- */

static void
test_escape(void)
{
    /* Expected outputs are those of Python's json.dumps(s) for str s. */
    static const struct {
        const char *in;
        size_t      n;
        const char *want;
    } cases[] = {
        { T(""), "\"\"" },
        { T("abc xyz 019 ~!@#$%^&*()"), "\"abc xyz 019 ~!@#$%^&*()\"" },
        { T("\""), "\"\\\"\"" },
        { T("\\"), "\"\\\\\"" },
        { T("a/b"), "\"a/b\"" },
        { T("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"" },
        { "\0", 1, "\"\\u0000\"" },
        { T("\x01\x1f\x0b"), "\"\\u0001\\u001f\\u000b\"" },
        { T("\x7f"), "\"\\u007f\"" },
        { T("\xc3\xa9"), "\"\\u00e9\"" },
        { T("\xc2\x80"), "\"\\u0080\"" },
        { T("\xe2\x82\xac"), "\"\\u20ac\"" },
        { T("\xef\xbf\xbf"), "\"\\uffff\"" },
        { T("\xf0\x9f\x98\x80"), "\"\\ud83d\\ude00\"" },
        { T("\xf0\x90\x80\x80"), "\"\\ud800\\udc00\"" },
        { T("\xf4\x8f\xbf\xbf"), "\"\\udbff\\udfff\"" },
        { T("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87"),
          "\"caf\\u00e9 \\u4e2d\\u6587\"" },
        /* Bytes that are not UTF-8 are taken as Latin-1. */
        { T("\xff"), "\"\\u00ff\"" },
        { T("\xc3"), "\"\\u00c3\"" },
        { T("a\xc3" "b"), "\"a\\u00c3b\"" },
        { T("\x80\xbf"), "\"\\u0080\\u00bf\"" },
        { T("\xc0\x80"), "\"\\u00c0\\u0080\"" },
        { T("\xed\xa0\x80"), "\"\\u00ed\\u00a0\\u0080\"" },
        { T("\xf4\x90\x80\x80"), "\"\\u00f4\\u0090\\u0080\\u0080\"" },
        { T("\xe2\x82" "x"), "\"\\u00e2\\u0082x\"" },
        { T("\xf0\x9f\x98"), "\"\\u00f0\\u009f\\u0098\"" },
        { T("x\xff\xc3\xa9"), "\"x\\u00ff\\u00e9\"" },
    };
    vr_buf_t b = VR_BUF_INIT;
    int      bad_valid = 0, bad_ascii = 0, bad_trip = 0;

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        vr_buf_reset(&b);
        vr_json_escape(&b, cases[i].in, cases[i].n);
        is_str(b.p, cases[i].want, "escape %zu -> %s", i, cases[i].want);
    }

    vr_buf_reset(&b);
    vr_buf_adds(&b, "x=");
    vr_json_escape(&b, T("a\"b"));
    is_str(b.p, "x=\"a\\\"b\"", "escape appends to what the buffer holds");
    is_int(b.len, strlen("x=\"a\\\"b\""), "and keeps len right");
    vr_buf_reset(&b);
    vr_json_escape(&b, NULL, 0);    /* the text of an empty vr_buf_t */
    is_str(b.p, "\"\"", "escape of NULL, 0 is the empty string");

    /* Any bytes at all give valid, pure-ASCII JSON. */
    for (int i = 0; i < 3000; i++) {
        unsigned char in[64];
        size_t        n = rng() % sizeof(in);

        for (size_t j = 0; j < n; j++) {
            in[j] = (unsigned char) rng();
        }
        vr_buf_reset(&b);
        vr_json_escape(&b, (const char *) in, n);
        if (vr_json_validate(b.p, b.len) != VR_OK) {
            bad_valid++;
        }
        for (size_t j = 0; j < b.len; j++) {
            if ((unsigned char) b.p[j] < 0x20 || (unsigned char) b.p[j] > 0x7e) {
                bad_ascii++;
                break;
            }
        }
    }
    is_int(bad_valid, 0, "3000 random byte strings escape to valid JSON");
    is_int(bad_ascii, 0, "... that is printable ASCII only (no control byte, no DEL)");

    /* Round trips: unescape(escape(s)) == s for valid UTF-8. */
    for (int i = 0; i < 3000; i++) {
        vr_buf_t s = VR_BUF_INIT, back = VR_BUF_INIT;
        size_t   n = rng() % 40;

        for (size_t j = 0; j < n; j++) {
            uint32_t cp;
            switch (rng() % 5) {
            case 0:  cp = rng() % 0x80; break;
            case 1:  cp = 0x80 + rng() % 0x780; break;
            case 2:  cp = 0x800 + rng() % 0xf800; break;
            case 3:  cp = 0x10000 + rng() % 0x100000; break;
            default: cp = (uint32_t) "\"\\/\n\t\b\f\r\x01\x7f"[rng() % 10];
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xe000;
            }
            put_utf8(&s, cp);
        }
        vr_buf_reset(&b);
        vr_json_escape(&b, s.p ? s.p : "", s.len);
        if (vr_json_unescape(b.p, b.len, &back) != VR_OK || back.len != s.len
            || memcmp(back.p ? back.p : "", s.p ? s.p : "", s.len) != 0)
        {
            if (bad_trip++ == 0) {
                diag("round trip failed for %s", b.p);
            }
        }
        vr_buf_free(&s);
        vr_buf_free(&back);
    }
    is_int(bad_trip, 0, "3000 random UTF-8 strings survive escape + unescape");
    {
        static const struct { const char *s; size_t n; } samples[] = {
            { T("") }, { T("plain") }, { T("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80") },
            { T("quote \" back \\ slash / nl \n ctl \x01 del \x7f") },
            { "nul\0inside", 10 }, { T("\xf4\x8f\xbf\xbf\xef\xbf\xbf") },
        };
        for (size_t i = 0; i < vr_nelems(samples); i++) {
            vr_buf_t back = VR_BUF_INIT;
            vr_buf_reset(&b);
            vr_json_escape(&b, samples[i].s, samples[i].n);
            ok(vr_json_unescape(b.p, b.len, &back) == VR_OK
               && back.len == samples[i].n
               && memcmp(back.p ? back.p : "", samples[i].s, back.len) == 0,
               "round trip of sample %zu", i);
            vr_buf_free(&back);
        }
    }
    vr_buf_free(&b);
}

/* ---- vr_utf8_valid ----------------------------------------------------- */

static void
test_utf8(void)
{
    static const struct { const char *s; size_t n; bool valid; } cases[] = {
        { T(""), true }, { T("abc"), true }, { T("\x7f"), true },
        { T("\xc2\x80"), true }, { T("\xdf\xbf"), true },
        { T("\xe0\xa0\x80"), true }, { T("\xed\x9f\xbf"), true },
        { T("\xee\x80\x80"), true }, { T("\xef\xbf\xbf"), true },
        { T("\xf0\x90\x80\x80"), true }, { T("\xf4\x8f\xbf\xbf"), true },
        { T("caf\xc3\xa9 \xf0\x9f\x98\x80"), true },
        { "a\0b", 3, false }, { "\0", 1, false },
        { T("\x80"), false }, { T("\xbf"), false }, { T("\xc0\x80"), false },
        { T("\xc1\xbf"), false }, { T("\xc3"), false }, { T("a\xc3"), false },
        { T("\xe2\x82"), false }, { T("\xe0\x9f\xbf"), false },
        { T("\xed\xa0\x80"), false }, { T("\xed\xbf\xbf"), false },
        { T("\xf0\x8f\xbf\xbf"), false }, { T("\xf4\x90\x80\x80"), false },
        { T("\xf5\x80\x80\x80"), false }, { T("\xf8\x88\x80\x80\x80"), false },
        { T("\xfe"), false }, { T("\xff"), false }, { T("\xe2\x28\xa1"), false },
        { T("\xc3\x28"), false }, { T("\xf0\x9f\x98"), false },
        { T("\xf0\x9f\x98\x80\x80"), false },
    };
    unsigned char buf[4];
    int           mismatches = 0;

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        ok(vr_utf8_valid(cases[i].s, cases[i].n) == cases[i].valid,
           "utf8_valid %zu is %s", i, cases[i].valid ? "true" : "false");
    }
    /* Against a reference decoder: every string of 1 to 3 bytes whose
     * lead byte could start a 3-byte sequence; shorter leads with every
     * second byte and a few third ones. */
    for (unsigned lead = 0; lead < 256; lead++) {
        for (unsigned b1 = 0; b1 < 256; b1++) {
            for (unsigned b2 = 0; b2 < 256; b2++) {
                if (lead < 0xe0 && b2 != 0x41 && b2 != 0x80 && b2 != 0xc3) {
                    continue;
                }
                buf[0] = (unsigned char) lead;
                buf[1] = (unsigned char) b1;
                buf[2] = (unsigned char) b2;
                for (size_t n = b2 == 0x41 ? 1 : 3; n <= 3; n++) {
                    if (vr_utf8_valid((const char *) buf, n)
                        != ref_valid(buf, n))
                    {
                        mismatches++;
                    }
                }
            }
        }
    }
    /* ... and random 4-byte ones, biased to lead bytes 0xf0..0xf7. */
    for (int i = 0; i < 300000; i++) {
        uint32_t r = rng();
        buf[0] = (unsigned char) (0xf0 | (r & 0x07));
        buf[1] = (unsigned char) (0x80 | ((r >> 3) & 0x3f));
        buf[2] = (unsigned char) (r >> 9);
        buf[3] = (unsigned char) (r >> 17);
        if (i & 1) {
            buf[2] = (unsigned char) (0x80 | (buf[2] & 0x3f));
            buf[3] = (unsigned char) (0x80 | (buf[3] & 0x3f));
        }
        if (i % 7 == 0) {
            buf[1] = (unsigned char) (r >> 24);
        }
        if (vr_utf8_valid((const char *) buf, 4) != ref_valid(buf, 4)) {
            mismatches++;
        }
    }
    is_int(mismatches, 0, "vr_utf8_valid agrees with a reference decoder");
}

/* ---- vr_utf8_copy, vr_utf8_repair ------------------------------------- */

static void
test_utf8_copy(void)
{
    /* "é" is 2 bytes, "错" 3, "😀" 4; "…" (the cut mark) 3. */
    static const struct {
        const char *src;
        size_t      size;
        const char *want;
    } cases[] = {
        { "", 8, "" },
        { "abc", 4, "abc" },
        { "abcd", 4, "\xe2\x80\xa6" },
        { "abcdefgh", 6, "ab\xe2\x80\xa6" },
        { "\xe9\x94\x99\xe9\x94\x99\xe9\x94\x99", 10,
          "\xe9\x94\x99\xe9\x94\x99\xe9\x94\x99" },
        { "\xe9\x94\x99\xe9\x94\x99\xe9\x94\x99", 9,
          "\xe9\x94\x99\xe2\x80\xa6" },
        { "\xe9\x94\x99\xe9\x94\x99\xe9\x94\x99", 8,
          "\xe9\x94\x99\xe2\x80\xa6" },
        { "\xe9\x94\x99\xe9\x94\x99\xe9\x94\x99", 6,
          "\xe2\x80\xa6" },
        { "a\xf0\x9f\x98\x80" "b", 7, "a\xf0\x9f\x98\x80" "b" },
        { "a\xf0\x9f\x98\x80" "bc", 7, "a\xe2\x80\xa6" },
        { "abc", 3, "ab" },                 /* no room for the mark */
        { "\xe9\x94\x99\xe9\x94\x99", 3, "" },
        { "a\xff" "b", 8, "a\xef\xbf\xbd" "b" },
        { "caf\xe9", 8, "caf\xef\xbf\xbd" },
        { "\xe9\x94", 8, "\xef\xbf\xbd\xef\xbf\xbd" },
        { "\xed\xa0\x80", 16, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
        { "x\xff\xff\xff", 8, "x\xef\xbf\xbd\xe2\x80\xa6" },
    };
    char     dst[32];
    vr_buf_t b = VR_BUF_INIT;

    for (size_t i = 0; i < vr_nelems(cases); i++) {
        size_t n;

        memset(dst, 'Z', sizeof(dst));
        n = vr_utf8_copy(dst, cases[i].size, cases[i].src);
        ok(is_str(dst, cases[i].want, "utf8_copy %zu", i)
           && n == strlen(cases[i].want)
           && vr_utf8_valid(dst, n) && n < cases[i].size,
           "utf8_copy %zu: valid, within %zu bytes, its length returned", i,
           cases[i].size);
    }
    vr_utf8_repair(&b, "ok\xc3\xa9\0\xff\xe9\x94", 8);
    is_str(b.p, "ok\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
           "utf8_repair: valid UTF-8 stays, a NUL and each stray byte "
           "become U+FFFD");
    vr_buf_free(&b);
    vr_utf8_repair(&b, NULL, 0);
    ok(b.len == 0, "utf8_repair of NULL, 0 adds nothing");
    vr_buf_free(&b);
}

int
main(void)
{
    test_fields();
    test_validate();
    test_validate_long();
    test_unescape();
    test_string_text();
    test_escape();
    test_utf8();
    test_utf8_copy();
    return done_testing();
}
