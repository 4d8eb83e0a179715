/*
 * test_lib_json.c: unit tests of libvoidrail's own helpers (src/lib):
 * JSON checks and spans, the Python-style string escaper, ids, CURVE key
 * forms, messages and the outbox.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>

#include "lib.h"
#include "tap.h"

static void
test_check(void)
{
    ok(vr_lib_json_check("[1, 2]", 6, VR_LIB_JSON_ARRAY), "array is array");
    ok(!vr_lib_json_check("[1, 2]", 6, VR_LIB_JSON_OBJECT),
       "array is not object");
    ok(vr_lib_json_check("{\"a\": 1}", 8, VR_LIB_JSON_OBJECT),
       "object is object");
    ok(vr_lib_json_check("\"x\"", 3, VR_LIB_JSON_ANY), "string is JSON");
    ok(vr_lib_json_check("0.1", 3, VR_LIB_JSON_ANY), "number is JSON");
    ok(!vr_lib_json_check("[1,", 3, VR_LIB_JSON_ANY), "truncated is not");
    ok(!vr_lib_json_check("hello", 5, VR_LIB_JSON_ANY), "bare word is not");
    ok(!vr_lib_json_check("1 2", 3, VR_LIB_JSON_ANY), "two values are not");
    ok(!vr_lib_json_check(NULL, 0, VR_LIB_JSON_ANY), "NULL is not");
}

static void
is_span(bool found, const char *v, size_t n, const char *expected,
        const char *name)
{
    char buf[256];

    if (!found) {
        is_str(NULL, expected, "%s", name);
        return;
    }
    snprintf(buf, sizeof(buf), "%.*s", (int) n, v);
    is_str(buf, expected, "%s", name);
}

static void
test_spans(void)
{
    const char *doc = "{\"type\": \"reply\", \"request_id\": \"a\\\"b\", "
                      "\"result\": {\"x\": [1, {\"y\": \"}]\"}], \"z\": 0.10},"
                      " \"n\": null, \"last\": -1e3}";
    const char *arr = " [ 1 , \"two, three\" , [3, [4]], {\"k\": \"]\"} ,null]";
    const char *v;
    size_t      n;
    bool        f;

    f = vr_lib_json_member(doc, strlen(doc), "type", &v, &n);
    is_span(f, v, n, "\"reply\"", "member: a string");
    f = vr_lib_json_member(doc, strlen(doc), "request_id", &v, &n);
    is_span(f, v, n, "\"a\\\"b\"", "member: a string with an escaped quote");
    f = vr_lib_json_member(doc, strlen(doc), "result", &v, &n);
    is_span(f, v, n, "{\"x\": [1, {\"y\": \"}]\"}], \"z\": 0.10}",
            "member: nested, brackets inside strings, number kept as written");
    f = vr_lib_json_member(doc, strlen(doc), "n", &v, &n);
    is_span(f, v, n, "null", "member: null");
    f = vr_lib_json_member(doc, strlen(doc), "last", &v, &n);
    is_span(f, v, n, "-1e3", "member: the last one");
    ok(!vr_lib_json_member(doc, strlen(doc), "x", &v, &n),
       "member: a nested key is not a top-level one");
    ok(!vr_lib_json_member(doc, strlen(doc), "missing", &v, &n),
       "member: absent");
    ok(!vr_lib_json_member("[1]", 3, "a", &v, &n), "member: not an object");
    ok(!vr_lib_json_member("{}", 2, "a", &v, &n), "member: empty object");

    is_int(vr_lib_json_count(arr, strlen(arr)), 5, "count: 5 elements");
    is_int(vr_lib_json_count("[]", 2), 0, "count: empty array");
    is_int(vr_lib_json_count(" [ ] ", 5), 0, "count: empty with spaces");
    is_int(vr_lib_json_count("{}", 2), 0, "count: not an array");
    f = vr_lib_json_element(arr, strlen(arr), 0, &v, &n);
    is_span(f, v, n, "1", "element 0");
    f = vr_lib_json_element(arr, strlen(arr), 1, &v, &n);
    is_span(f, v, n, "\"two, three\"", "element 1: a comma in a string");
    f = vr_lib_json_element(arr, strlen(arr), 2, &v, &n);
    is_span(f, v, n, "[3, [4]]", "element 2: nested");
    f = vr_lib_json_element(arr, strlen(arr), 3, &v, &n);
    is_span(f, v, n, "{\"k\": \"]\"}", "element 3: a bracket in a string");
    f = vr_lib_json_element(arr, strlen(arr), 4, &v, &n);
    is_span(f, v, n, "null", "element 4: the last");
    ok(!vr_lib_json_element(arr, strlen(arr), 5, &v, &n), "element 5: none");
    ok(!vr_lib_json_element("[]", 2, 0, &v, &n), "element of []: none");
}

static void
is_escaped(const char *s, size_t n, const char *expected, const char *name)
{
    vr_lib_buf_t b = { NULL, 0, 0 };

    vr_lib_buf_json_string(&b, s, n);
    is_str(b.p, expected, "escape: %s", name);
    ok(vr_lib_json_check(b.p, b.len, VR_LIB_JSON_ANY), "escape: %s is JSON",
       name);
    vr_lib_buf_free(&b);
}

static void
test_escape(void)
{
    is_escaped("plain", 5, "\"plain\"", "ASCII");
    is_escaped("a\"b\\c\n\t", 7, "\"a\\\"b\\\\c\\n\\t\"", "specials");
    is_escaped("\x01", 1, "\"\\u0001\"", "a control byte");
    is_escaped("h\xc3\xa9", 3, "\"h\\u00e9\"", "two-byte UTF-8");
    is_escaped("\xe6\x96\xb9", 3, "\"\\u65b9\"", "three-byte UTF-8 (CJK)");
    is_escaped("\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\"",
               "four-byte UTF-8 (surrogates)");
    is_escaped("\xff", 1, "\"\\u00ff\"", "a byte that is not UTF-8");
    is_escaped("a\0b", 3, "\"a\\u0000b\"", "NUL inside");
}

static void
test_ids(void)
{
    char uuid[37], hex[17];

    vr_lib_uuid4(uuid);
    is_int(strlen(uuid), 36, "uuid4: 36 characters");
    ok(uuid[8] == '-' && uuid[13] == '-' && uuid[14] == '4'
       && uuid[18] == '-' && uuid[23] == '-', "uuid4: the version-4 form %s",
       uuid);
    vr_lib_hex_id(hex, 8);
    is_int(strlen(hex), 16, "hex id: 16 digits");
    ok(strspn(hex, "0123456789abcdef") == 16, "hex id: lowercase hex");
}

static void
test_curve(void)
{
    vr_lib_curve_t c, d;
    vr_error_t     err;
    char           pub[41], sec[41], hex[65];
    uint8_t        bin[32];

    zmq_curve_keypair(pub, sec);
    ok(vr_lib_curve_set(&c, pub, NULL, NULL, &err) == VR_OK,
       "curve: a Z85 server key");
    ok(c.on && strcmp(c.server, pub) == 0 && strlen(c.public_key) == 40
       && strlen(c.secret_key) == 40, "curve: a fresh client pair is made");
    zmq_z85_decode(bin, pub);
    for (int i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", bin[i]);
    }
    ok(vr_lib_curve_set(&d, hex, pub, sec, &err) == VR_OK
       && strcmp(d.server, pub) == 0 && strcmp(d.public_key, pub) == 0,
       "curve: a hex server key is the same key");
    ok(vr_lib_curve_set(&d, hex, NULL, sec, &err) == VR_OK
       && strcmp(d.public_key, pub) == 0,
       "curve: the public key is derived from the secret one");
    ok(vr_lib_curve_set(&d, "short", NULL, NULL, &err) == VR_ERROR
       && strcmp(err.code, "usage") == 0, "curve: a malformed key is refused");
    ok(vr_lib_curve_set(&d, pub, pub, NULL, &err) == VR_ERROR,
       "curve: a public key without its secret is refused");
}

static void
test_outbox(void)
{
    vr_lib_outbox_t o;
    vr_lib_msg_t   *m;
    void           *ctx = zmq_ctx_new();
    void           *a = zmq_socket(ctx, ZMQ_PAIR);
    void           *b = zmq_socket(ctx, ZMQ_PAIR);
    zmq_msg_t       f[3];
    size_t          n;

    zmq_bind(a, "inproc://test-outbox");
    zmq_connect(b, "inproc://test-outbox");
    ok(vr_lib_outbox_init(&o) == VR_OK, "outbox: made");
    m = vr_lib_msg_new(3, "one", (size_t) -1, "two\0x", (size_t) 5, "",
                       (size_t) 0);
    is_int(m->n, 3, "msg: 3 frames");
    is_int(m->len[1], 5, "msg: a frame with a NUL keeps its length");
    vr_lib_outbox_push(&o, m);
    vr_lib_outbox_push(&o, vr_lib_msg_new(1, "last", (size_t) -1));
    ok(!vr_lib_outbox_flush(&o, a), "outbox: flushed, nothing left");
    ok(vr_lib_recv(b, f, 2, &n) == VR_OK && n == 2, "recv: the first "
       "message, cut to 2 frames");
    ok(vr_lib_frame_is(&f[0], "one") && zmq_msg_size(&f[1]) == 5,
       "recv: frames as sent");
    vr_lib_frames_close(f, n);
    ok(vr_lib_recv(b, f, 3, &n) == VR_OK && n == 1
       && vr_lib_frame_is(&f[0], "last"), "recv: the second, in order");
    vr_lib_frames_close(f, n);
    ok(vr_lib_recv(b, f, 3, &n) == VR_ERROR && errno == EAGAIN,
       "recv: nothing more (EAGAIN)");
    vr_lib_outbox_wake(&o);
    vr_lib_outbox_drain_fd(&o);
    vr_lib_outbox_push(&o, vr_lib_msg_new(1, "left over", (size_t) -1));
    vr_lib_outbox_fini(&o);
    ok(1, "outbox: freed with a message in it");
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
}

static void
test_buf(void)
{
    vr_lib_buf_t b = { NULL, 0, 0 };
    char        *s;

    for (int i = 0; i < 1000; i++) {
        vr_lib_buf_printf(&b, "%d,", i);
    }
    ok(b.len > 3000 && b.p[b.len] == '\0', "buf: grows, stays terminated");
    s = vr_lib_buf_steal(&b);
    ok(b.p == NULL && b.len == 0 && strncmp(s, "0,1,2,", 6) == 0,
       "buf: steal hands the text over");
    free(s);
    s = vr_lib_buf_steal(&b);
    is_str(s, "", "buf: stealing nothing gives \"\"");
    free(s);
    is_str(vr_version(), VR_LIB_VERSION, "vr_version()");
}

int
main(void)
{
    test_check();
    test_spans();
    test_escape();
    test_ids();
    test_curve();
    test_outbox();
    test_buf();
    return done_testing();
}
