/*
 * test_wire.c: unit tests of src/vr_wire.h: type words, the JSON bodies the
 * gateway writes (PROTOCOL.md A.3, B.2), and sending / receiving frames
 * over an inproc ROUTER / DEALER pair.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_json.h"
#include "vr_wire.h"
#include "tap.h"

/* ---- type words ------------------------------------------------------- */

static void
test_types(void)
{
    static const struct { const char *word; vr_msg_type_t type; } words[] = {
        { "register", VR_MSG_REGISTER },
        { "heartbeat", VR_MSG_HEARTBEAT },
        { "reply_from_dealer", VR_MSG_REPLY_FROM_DEALER },
        { "shutdown", VR_MSG_SHUTDOWN },
        { "overload", VR_MSG_OVERLOAD },
        { "resume", VR_MSG_RESUME },
        { "auth", VR_MSG_AUTH },
        { "methods", VR_MSG_METHODS },
        { "clusters", VR_MSG_CLUSTERS },
        { "router_info", VR_MSG_ROUTER_INFO },
        { "queue_status", VR_MSG_QUEUE_STATUS },
        { "call_from_client", VR_MSG_CALL_FROM_CLIENT },
        { "router_monitor", VR_MSG_ROUTER_MONITOR },
    };
    static const char *unknown[] = {
        "", "r", "registe", "register_", "registers", "REGISTER", "Register",
        " register", "heartbeat_ack", "register_ack", "shutdown_ack",
        "call_from_router", "reply_from_router", "router_shutdown", "error",
        "call_from", "reply_from", "methods_ack", "method", "authx",
    };
    char buf[64];

    for (size_t i = 0; i < vr_nelems(words); i++) {
        is_int(vr_wire_type(words[i].word, strlen(words[i].word)),
               words[i].type, "type word %s", words[i].word);
        /* Only len bytes count: the word inside a longer buffer. */
        snprintf(buf, sizeof(buf), "%sXYZ", words[i].word);
        is_int(vr_wire_type(buf, strlen(words[i].word)), words[i].type,
               "type word %s followed by other bytes", words[i].word);
        is_int(vr_wire_type(words[i].word, strlen(words[i].word) - 1),
               VR_MSG_UNKNOWN, "the word %s cut by one byte is unknown",
               words[i].word);
    }
    for (size_t i = 0; i < vr_nelems(unknown); i++) {
        is_int(vr_wire_type(unknown[i], strlen(unknown[i])), VR_MSG_UNKNOWN,
               "'%s' is unknown", unknown[i]);
    }
    is_int(vr_wire_type("register\0", 9), VR_MSG_UNKNOWN,
           "a word with a trailing NUL is unknown");
    is_int(vr_wire_type("auth", 0), VR_MSG_UNKNOWN, "an empty frame is unknown");
}

/* ---- bodies ----------------------------------------------------------- */

/* Is s[0..36) a lowercase version 4 UUID? */
static bool
is_uuid4(const char *s)
{
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return false;
            }
        } else if (!isxdigit((unsigned char) s[i]) || isupper((unsigned char) s[i])) {
            return false;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

/*
 * Checks that body is `prefix "UUID" suffix` with a fresh uuid4 and valid
 * JSON; returns the uuid (static buffer) or NULL.
 */
static const char *
check_fresh(const char *body, const char *prefix, const char *suffix,
            const char *name)
{
    static char uuid[37];
    size_t      pl = strlen(prefix), sl = strlen(suffix), n = strlen(body);
    bool        pass;

    pass = n == pl + 38 + sl && memcmp(body, prefix, pl) == 0
           && body[pl] == '"' && body[pl + 37] == '"'
           && is_uuid4(body + pl + 1) && strcmp(body + pl + 38, suffix) == 0;
    ok(pass, "%s: shape with a fresh uuid4", name);
    if (!pass) {
        diag("got: %s", body);
        return NULL;
    }
    is_int(vr_json_validate(body, n), VR_OK, "%s: valid JSON", name);
    memcpy(uuid, body + pl + 1, 36);
    uuid[36] = '\0';
    return uuid;
}

static void
test_bodies(void)
{
    vr_buf_t    b = VR_BUF_INIT;
    char        first[37] = "";
    const char *u;

    vr_wire_router_error(&b, "\"rid-1\"", "Unknown message type: x", NULL);
    is_str(b.p, "{\"type\": \"error\", \"request_id\": \"rid-1\", \"error\": "
           "\"Unknown message type: x\", \"state\": \"error\"}",
           "router error: keys, order and separators as Python writes them");
    is_int(vr_json_validate(b.p, b.len), VR_OK, "router error: valid JSON");

    vr_buf_reset(&b);
    vr_wire_router_error(&b, "\"r\"", "Authentication failed", "unauthorized");
    is_str(b.p, "{\"type\": \"error\", \"request_id\": \"r\", \"error\": "
           "\"Authentication failed\", \"state\": \"error\", \"code\": "
           "\"unauthorized\"}", "router error with a code: code comes last");
    is_int(vr_json_validate(b.p, b.len), VR_OK, "... valid JSON");

    vr_buf_reset(&b);
    vr_wire_router_error(&b, NULL, "say \"hi\"\n\\ \xe6\x9c\xaa\xe8\xae\xa4\xe8\xaf\x81",
                         NULL);
    u = check_fresh(b.p, "{\"type\": \"error\", \"request_id\": ",
                    ", \"error\": \"say \\\"hi\\\"\\n\\\\ \\u672a\\u8ba4\\u8bc1\", "
                    "\"state\": \"error\"}", "router error, fresh id, escaped text");
    if (u != NULL) {
        memcpy(first, u, 37);
    }
    vr_buf_reset(&b);
    vr_wire_router_error(&b, NULL, "x", "queue_full");
    u = check_fresh(b.p, "{\"type\": \"error\", \"request_id\": ",
                    ", \"error\": \"x\", \"state\": \"error\", \"code\": "
                    "\"queue_full\"}", "router error, fresh id and code");
    ok(u != NULL && strcmp(u, first) != 0, "each fresh id is new");

    /* A success body around a result. */
    vr_buf_reset(&b);
    vr_wire_reply_open(&b);
    vr_buf_adds(&b, "{\"status\": \"authenticated\"}");
    vr_wire_reply_close(&b);
    check_fresh(b.p, "{\"type\": \"reply\", \"request_id\": ",
                ", \"result\": {\"status\": \"authenticated\"}}", "reply body");

    /* The gateway's terminal error (B.2): no "state", code last. */
    vr_buf_reset(&b);
    vr_wire_request_error(&b, "abc-1", 5, "request timed out", "timeout");
    is_str(b.p, "{\"type\": \"error\", \"request_id\": \"abc-1\", \"error\": "
           "\"request timed out\", \"code\": \"timeout\"}",
           "request error: keys, order and separators of B.2");
    is_int(vr_json_validate(b.p, b.len), VR_OK, "request error: valid JSON");

    vr_buf_reset(&b);
    vr_wire_request_error(&b, "q\"\\\xc3\xa9\xff|tail", 6, "\xe2\x82\xac", "bad_request");
    is_str(b.p, "{\"type\": \"error\", \"request_id\": \"q\\\"\\\\\\u00e9\\u00ff\", "
           "\"error\": \"\\u20ac\", \"code\": \"bad_request\"}",
           "request error: the id is escaped and cut at rid_len");
    is_int(vr_json_validate(b.p, b.len), VR_OK, "... valid JSON");

    vr_buf_reset(&b);
    vr_wire_request_error(&b, NULL, 0, "bad", "bad_request");
    is_str(b.p, "{\"type\": \"error\", \"request_id\": null, \"error\": \"bad\", "
           "\"code\": \"bad_request\"}", "request error without id: null");

    /* The request_id reads back through the scanner as the caller gave it. */
    {
        vr_json_field_t f[4] = { { "type", NULL, 0, 0 },
                                 { "request_id", NULL, 0, 0 },
                                 { "error", NULL, 0, 0 },
                                 { "code", NULL, 0, 0 } };
        vr_buf_t        rid = VR_BUF_INIT;
        const char     *weird = "id \x01\"\\/\xf0\x9f\x98\x80";

        vr_buf_reset(&b);
        vr_wire_request_error(&b, weird, strlen(weird), "t", "cancelled");
        ok(vr_json_fields(b.p, b.len, f, 4, true) == VR_OK
           && f[0].kind == VR_JSON_STRING && f[3].kind == VR_JSON_STRING
           && vr_json_unescape(f[1].value, f[1].len, &rid) == VR_OK
           && rid.len == strlen(weird) && memcmp(rid.p, weird, rid.len) == 0,
           "request error: its request_id decodes to the original bytes");
        vr_buf_free(&rid);
    }
    vr_buf_free(&b);
}

/* ---- frames over sockets ---------------------------------------------- */

static int freed, id_freed;

static void
count_free(void *data, void *hint)
{
    (*(int *) hint)++;
}

/* A message whose release is counted in `freed` (large: not inlined). */
static char big[200] = "payload of a message frame, long enough to live on "
                       "the heap of libzmq rather than inside the zmq_msg_t";

static void
counted_msg(zmq_msg_t *m)
{
    zmq_msg_init_data(m, big, sizeof(big), count_free, &freed);
}

static bool
frame_is(zmq_msg_t *f, const void *p, size_t n)
{
    return zmq_msg_size(f) == n && memcmp(zmq_msg_data(f), p, n) == 0;
}

/* Receives with vr_wire_recv, waiting up to a second for the first frame. */
static int
recv_wait(void *s, zmq_msg_t *frames, size_t *n, bool *truncated)
{
    zmq_pollitem_t item = { s, 0, ZMQ_POLLIN, 0 };

    zmq_poll(&item, 1, 1000);
    return vr_wire_recv(s, frames, n, truncated);
}

static void
test_frames(void)
{
    void      *ctx = zmq_ctx_new();
    void      *router = zmq_socket(ctx, ZMQ_ROUTER);
    void      *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int        one = 1, zero = 0, rc;
    zmq_msg_t  frames[VR_WIRE_MAX_FRAMES], m1, m2, m3;
    size_t     n = 99;
    bool       truncated = true;

    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "D1", 2);
    if (!ok(zmq_bind(router, "inproc://test-wire") == 0
            && zmq_connect(dealer, "inproc://test-wire") == 0,
            "inproc ROUTER and DEALER")) {
        return;
    }

    is_int(vr_wire_recv(router, frames, &n, &truncated), VR_AGAIN,
           "nothing waiting: VR_AGAIN");
    is_int(n, 0, "... and no frames");

    /* Dealer -> router: borrowed bytes and a handed-over message. */
    freed = 0;
    counted_msg(&m1);
    {
        vr_frame_t out[] = { VR_FRAME_STR("heartbeat"), VR_FRAME_MSG(&m1),
                             VR_FRAME("", 0), VR_FRAME("{}", 2) };
        is_int(vr_wire_send(dealer, out, 4), VR_OK, "dealer sends 4 frames");
    }
    rc = recv_wait(router, frames, &n, &truncated);
    is_int(rc, VR_OK, "router receives the message");
    if (is_int(n, 5, "identity + 4 frames") && rc == VR_OK) {
        ok(frame_is(&frames[0], "D1", 2), "frame 0: the dealer's identity");
        ok(frame_is(&frames[1], "heartbeat", 9), "frame 1: the type word");
        ok(frame_is(&frames[2], big, sizeof(big)), "frame 2: the message frame");
        ok(frame_is(&frames[3], "", 0), "frame 3: empty");
        ok(frame_is(&frames[4], "{}", 2), "frame 4: last");
        ok(!truncated, "not truncated");
        ok(!zmq_msg_more(&frames[4]), "the last frame has no MORE flag");
        vr_wire_close(frames, n);
    }
    is_int(freed, 1, "the handed-over message was released once, when the "
           "receiver closed it");

    /* Router -> dealer, identity first. */
    freed = 0;
    counted_msg(&m1);
    {
        vr_frame_t out[] = { VR_FRAME("D1", 2), VR_FRAME_STR("heartbeat_ack"),
                             VR_FRAME_MSG(&m1) };
        is_int(vr_wire_send(router, out, 3), VR_OK, "router sends to D1");
    }
    rc = recv_wait(dealer, frames, &n, &truncated);
    ok(rc == VR_OK && n == 2 && frame_is(&frames[0], "heartbeat_ack", 13)
       && frame_is(&frames[1], big, sizeof(big)),
       "the dealer gets [heartbeat_ack, payload]");
    if (rc == VR_OK) {
        vr_wire_close(frames, n);
    }
    is_int(freed, 1, "payload released once");

    /* Unknown identity with ROUTER_MANDATORY: every message frame closed. */
    freed = 0;
    id_freed = 0;
    zmq_msg_init_data(&m1, (void *) "nobody", 6, count_free, &id_freed);
    counted_msg(&m2);
    counted_msg(&m3);
    {
        vr_frame_t out[] = { VR_FRAME_MSG(&m1), VR_FRAME_STR("call_from_router"),
                             VR_FRAME_MSG(&m2), VR_FRAME("x", 1),
                             VR_FRAME_MSG(&m3) };
        errno = 0;
        rc = vr_wire_send(router, out, 5);
        is_int(rc, VR_ERROR, "send to an unknown identity: VR_ERROR");
        is_int(errno, EHOSTUNREACH, "errno EHOSTUNREACH");
    }
    is_int(id_freed, 1, "the identity message frame was closed");
    is_int(freed, 2, "both payload message frames were closed");
    freed = 0;
    counted_msg(&m2);
    {
        vr_frame_t out[] = { VR_FRAME("nobody", 6), VR_FRAME_MSG(&m2) };
        errno = 0;
        ok(vr_wire_send(router, out, 2) == VR_ERROR && errno == EHOSTUNREACH,
           "borrowed identity bytes, unknown: VR_ERROR, EHOSTUNREACH");
        is_int(freed, 1, "... the payload message frame was closed");
    }
    zmq_poll(&(zmq_pollitem_t) { dealer, 0, ZMQ_POLLIN, 0 }, 1, 50);
    rc = vr_wire_recv(dealer, frames, &n, &truncated);
    is_int(rc, VR_AGAIN, "nothing reached the dealer");
    {
        vr_frame_t out[] = { VR_FRAME("D1", 2), VR_FRAME_STR("register_ack"),
                             VR_FRAME("", 0) };
        is_int(vr_wire_send(router, out, 3), VR_OK,
               "the router socket still works after the failure");
        rc = recv_wait(dealer, frames, &n, &truncated);
        ok(rc == VR_OK && n == 2 && frame_is(&frames[0], "register_ack", 12),
           "and the next message arrives whole (no half-sent leftovers)");
        if (rc == VR_OK) {
            vr_wire_close(frames, n);
        }
    }

    /* Too many frames: the first VR_WIRE_MAX_FRAMES kept, the rest closed. */
    for (int total = VR_WIRE_MAX_FRAMES - 1; total <= VR_WIRE_MAX_FRAMES + 5;
         total++)
    {
        bool want_trunc = total + 1 > VR_WIRE_MAX_FRAMES;
        bool order = true;

        freed = 0;
        for (int i = 0; i < total; i++) {
            zmq_msg_t m;
            counted_msg(&m);
            zmq_msg_send(&m, dealer, i + 1 < total ? ZMQ_SNDMORE : 0);
        }
        rc = recv_wait(router, frames, &n, &truncated);
        is_int(rc, VR_OK, "%d frames + identity: VR_OK", total);
        is_int(n, vr_min(total + 1, VR_WIRE_MAX_FRAMES), "... %d kept",
               (int) vr_min(total + 1, VR_WIRE_MAX_FRAMES));
        ok(truncated == want_trunc, "... truncated is %s",
           want_trunc ? "true" : "false");
        for (size_t i = 1; rc == VR_OK && i < n; i++) {
            order = order && zmq_msg_size(&frames[i]) == sizeof(big);
        }
        ok(order && rc == VR_OK && frame_is(&frames[0], "D1", 2),
           "... identity then payload frames");
        if (rc == VR_OK) {
            vr_wire_close(frames, n);
        }
        is_int(freed, total, "... every frame released, dropped ones too");
    }
    {
        vr_frame_t out[] = { VR_FRAME_STR("shutdown"), VR_FRAME("", 0) };
        vr_wire_send(dealer, out, 2);
        rc = recv_wait(router, frames, &n, &truncated);
        ok(rc == VR_OK && n == 3 && !truncated
           && frame_is(&frames[1], "shutdown", 8),
           "the message after a truncated one arrives intact");
        if (rc == VR_OK) {
            vr_wire_close(frames, n);
        }
    }

    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

/* A peer whose queue is full: EAGAIN, frames closed. */
static void
test_full_queue(void)
{
    void      *ctx = zmq_ctx_new();
    void      *router = zmq_socket(ctx, ZMQ_ROUTER);
    void      *dealer = zmq_socket(ctx, ZMQ_DEALER);
    int        one = 1, zero = 0, hwm = 2, rc = VR_OK, sent = 0, err = 0;
    zmq_msg_t  frames[VR_WIRE_MAX_FRAMES], m;
    size_t     n;
    bool       truncated;

    zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof(zero));
    zmq_setsockopt(dealer, ZMQ_ROUTING_ID, "D2", 2);
    zmq_bind(router, "inproc://test-wire-full");
    zmq_connect(dealer, "inproc://test-wire-full");
    /* The router learns D2 from a first message. */
    zmq_send(dealer, "hello", 5, 0);
    rc = recv_wait(router, frames, &n, &truncated);
    if (!ok(rc == VR_OK, "router learned the dealer")) {
        return;
    }
    vr_wire_close(frames, n);

    while (sent < 1000) {
        vr_frame_t out[] = { VR_FRAME("D2", 2), VR_FRAME_MSG(&m) };
        freed = 0;
        counted_msg(&m);
        rc = vr_wire_send(router, out, 2);
        err = errno;
        if (rc != VR_OK) {
            break;
        }
        sent++;
    }
    is_int(rc, VR_ERROR, "a peer that does not read: VR_ERROR after %d", sent);
    is_int(err, EAGAIN, "errno EAGAIN (queue full), no blocking");
    is_int(freed, 1, "the refused message frame was closed");
    zmq_close(dealer);
    zmq_close(router);
    zmq_ctx_term(ctx);
}

int
main(void)
{
    test_types();
    test_bodies();
    test_frames();
    test_full_queue();
    return done_testing();
}
