/*
 * test_client_caps.c: unit tests of src/vr_client_caps.h: the names
 * parsed, set and forget, the bound with least-recently-seen eviction.
 */
#include "config.h"
#include <jansson.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_client_caps.h"
#include "tap.h"

#define ID(s)  (s), (sizeof(s) - 1)

static unsigned
parse(const char *text)
{
    json_t  *v = json_loads(text, 0, NULL);
    unsigned caps = vr_client_caps_parse(v);

    json_decref(v);
    return caps;
}

static void
test_parse(void)
{
    is_int(parse("[\"request_id_errors\"]"), VR_CLIENT_CAP_RID_ERRORS,
           "request_id_errors");
    is_int(parse("[\"x\", 3, null, \"request_id_errors\"]"),
           VR_CLIENT_CAP_RID_ERRORS, "other names and non-strings ignored");
    is_int(parse("[]"), 0, "an empty list: none");
    is_int(parse("\"request_id_errors\""), 0, "not a list: none");
    is_int(vr_client_caps_parse(NULL), 0, "no list: none");
}

static void
test_table(void)
{
    vr_client_caps_t t;

    vr_client_caps_init(&t);
    is_int(vr_client_caps_get(&t, ID("a")), 0, "empty: nothing known");
    vr_client_caps_set(&t, ID("a"), 1, 3);
    vr_client_caps_set(&t, ID("b\0b"), 1, 3);
    vr_client_caps_set(&t, ID("c"), 1, 3);
    is_int(t.n, 3, "three identities");
    is_int(vr_client_caps_get(&t, ID("b\0b")), 1,
           "identities are bytes (a NUL inside)");
    is_int(vr_client_caps_get(&t, ID("b")), 0, "... and a prefix is another");
    is_int(vr_client_caps_get(&t, ID("a")), 1, "a seen again");
    vr_client_caps_set(&t, ID("d"), 1, 3);
    is_int(t.n, 3, "the bound holds");
    is_int(vr_client_caps_get(&t, ID("c")), 0,
           "the least recently seen (c) was forgotten");
    ok(vr_client_caps_get(&t, ID("a")) && vr_client_caps_get(&t, ID("b\0b"))
       && vr_client_caps_get(&t, ID("d")), "the others are kept");
    vr_client_caps_set(&t, ID("a"), 0, 3);
    is_int(vr_client_caps_get(&t, ID("a")), 0, "caps 0 forgets");
    is_int(t.n, 2, "... and frees the entry");
    vr_client_caps_set(&t, ID("e"), 1, 0);
    is_int(vr_client_caps_get(&t, ID("e")), 0, "bound 0: nothing kept");
    vr_client_caps_trim(&t, 1);
    is_int(t.n, 1, "trim to a lower bound (a reload)");
    is_int(vr_client_caps_get(&t, ID("d")), 1, "... keeps the most recent");
    vr_client_caps_free(&t);
    is_int(t.n, 0, "free empties the table");
}

int
main(void)
{
    test_parse();
    test_table();
    return done_testing();
}
