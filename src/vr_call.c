/*
 * vr_call.c: calls made on behalf of HTTP clients (see vr_call.h).
 */
#include "config.h"
#include <stdio.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_call.h"
#include "vr_json.h"
#include "vr_request.h"

void
vr_call_args_free(vr_call_args_t *a)
{
    vr_buf_free(&a->args);
    vr_buf_free(&a->kwargs);
}

static bool
vr_call_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
            return false;
        }
    }
    return true;
}

const char *
vr_call_args_parse(const char *text, size_t len, bool both,
                   vr_call_args_t *out)
{
    vr_json_field_t f[2] = { { "args", NULL, 0, 0 }, { "kwargs", NULL, 0, 0 } };
    size_t          i = 0;

    vr_buf_reset(&out->args);
    vr_buf_reset(&out->kwargs);
    if (vr_call_blank(text, len)) {
        vr_buf_adds(&out->args, "[]");
        vr_buf_adds(&out->kwargs, "{}");
        return NULL;
    }
    if (vr_json_validate(text, len) != VR_OK) {
        return "the arguments are not valid JSON";
    }
    while (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'
           || text[i] == '\n')
    {
        i++;
    }
    if (both) {
        if (text[i] != '{' || vr_json_fields(text, len, f, 2, true) != VR_OK) {
            return "the body must be {\"args\": [...], \"kwargs\": {...}}";
        }
        if (f[0].kind != VR_JSON_NONE && f[0].kind != VR_JSON_ARRAY) {
            return "\"args\" must be an array";
        }
        if (f[1].kind != VR_JSON_NONE && f[1].kind != VR_JSON_OBJECT) {
            return "\"kwargs\" must be an object";
        }
        vr_buf_add(&out->args, f[0].value ? f[0].value : "[]",
                   f[0].value ? f[0].len : 2);
        vr_buf_add(&out->kwargs, f[1].value ? f[1].value : "{}",
                   f[1].value ? f[1].len : 2);
        return NULL;
    }
    if (text[i] == '[') {
        vr_buf_add(&out->args, text, len);
        vr_buf_adds(&out->kwargs, "{}");
    } else if (text[i] == '{') {
        vr_buf_adds(&out->args, "[]");
        vr_buf_add(&out->kwargs, text, len);
    } else {
        vr_buf_addc(&out->args, '[');
        vr_buf_add(&out->args, text, len);
        vr_buf_addc(&out->args, ']');
        vr_buf_adds(&out->kwargs, "{}");
    }
    return NULL;
}

vr_request_t *
vr_call_new(vr_broker_t *b, const char *method, const vr_call_args_t *a,
            const char *rid, const vr_origin_t *origin, void *data,
            vr_msec_t timeout_ms)
{
    static uint64_t serial;
    vr_buf_t        body = VR_BUF_INIT;
    zmq_msg_t       msg;
    vr_request_t   *r;
    char            cid[64];
    size_t          len;

    /* Exactly the Python client's RequestJSON (PROTOCOL.md A.3). */
    vr_buf_adds(&body, "{\"type\": \"request\", \"request_id\": ");
    vr_json_escape(&body, rid, strlen(rid));
    vr_buf_adds(&body, ", \"func_name\": ");
    vr_json_escape(&body, method, strlen(method));
    vr_buf_adds(&body, ", \"request_step\": \"READY\", \"args\": ");
    vr_buf_add(&body, a->args.p, a->args.len);
    vr_buf_adds(&body, ", \"kwargs\": ");
    vr_buf_add(&body, a->kwargs.p, a->kwargs.len);
    vr_buf_addc(&body, '}');

    /* Each HTTP call is a client of its own (PROTOCOL.md B.2). */
    len = (size_t) snprintf(cid, sizeof(cid), "http-%x-%llu",
                            (unsigned) getpid(),
                            (unsigned long long) ++serial);

    zmq_msg_init_size(&msg, body.len);
    memcpy(zmq_msg_data(&msg), body.p, body.len);
    vr_buf_free(&body);
    r = vr_request_new(b, method, strlen(method), cid, len, rid, strlen(rid),
                       &msg, 1, origin, data, timeout_ms);
    zmq_msg_close(&msg);
    return r;
}

int
vr_call_field(const char *payload, size_t len, const char *key,
              const char **value, size_t *value_len)
{
    vr_json_field_t f[1] = { { key, NULL, 0, 0 } };

    if (vr_json_fields(payload, len, f, 1, true) != VR_OK
        || f[0].kind == VR_JSON_NONE)
    {
        return VR_ERROR;
    }
    *value = f[0].value;
    *value_len = f[0].len;
    return VR_OK;
}

void
vr_call_chunk(const char *payload, size_t len, const char **value,
              size_t *value_len)
{
    if (vr_call_field(payload, len, "data", value, value_len) != VR_OK) {
        *value = "null";
        *value_len = 4;
    }
}

void
vr_call_error_body(vr_buf_t *out, const char *code, const char *text,
                   const char *rid)
{
    vr_buf_adds(out, "{\"code\":");
    vr_json_escape(out, code, strlen(code));
    vr_buf_adds(out, ",\"error\":");
    vr_json_escape(out, text, strlen(text));
    if (rid != NULL) {
        vr_buf_adds(out, ",\"request_id\":");
        vr_json_escape(out, rid, strlen(rid));
    }
    vr_buf_addc(out, '}');
}

void
vr_call_error_text(const char *payload, size_t len, vr_buf_t *out)
{
    const char *v;
    size_t      n;
    vr_buf_t    repaired = VR_BUF_INIT;
    int         rc;

    rc = vr_call_field(payload, len, "error", &v, &n);
    if (rc != VR_OK && !vr_utf8_valid(payload, len)) {
        /* Bytes that are not UTF-8 (a C dealer's Latin-1 message): read
         * with U+FFFD in their place rather than lose the message. */
        vr_utf8_repair(&repaired, payload, len);
        rc = vr_call_field(repaired.p, repaired.len, "error", &v, &n);
    }
    if (rc == VR_OK) {
        if (v[0] != '"' || vr_json_unescape(v, n, out) != VR_OK) {
            vr_buf_add(out, v, n);
        }
    } else {
        vr_buf_adds(out, "the dealer reported an error");
    }
    vr_buf_free(&repaired);
}
