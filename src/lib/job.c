/*
 * job.c: one request a dealer runs (vr_job_t), the worker threads that
 * run them, and the vr_job_*() functions handlers call.
 *
 * A job is made from a call_from_router [type, cid, method, RequestJSON]
 * by the I/O thread, queued, and run by a worker, which sends its final
 * message (PROTOCOL.md A.3) when the handler returns:
 *
 *   cancelled                      error "cancelled" (the gateway drops it
 *                                  but frees the dealer's slot)
 *   handler failed                 error with vr_job_error()'s text
 *   a result was set               reply
 *   streaming, or chunks were sent end
 *   otherwise                      reply null
 *
 * Every error carries the request_id (capability request_id_errors).
 */
#include "config.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <utlist.h>

#include "dealer.h"

/* ---- making and freeing jobs ------------------------------------------- */

char *
vr_lib_job_body(const char *rid_json, const char *kind, const char *value,
                size_t *len)
{
    vr_lib_buf_t b = { NULL, 0, 0 };

    vr_lib_buf_printf(&b, "{\"type\": \"%s\", \"request_id\": %s", kind,
                      rid_json);
    if (strcmp(kind, "streaming") == 0) {
        vr_lib_buf_printf(&b, ", \"data\": %s", value);
    } else if (strcmp(kind, "reply") == 0) {
        vr_lib_buf_printf(&b, ", \"result\": %s", value);
    } else if (strcmp(kind, "error") == 0) {
        vr_lib_buf_adds(&b, ", \"error\": ");
        vr_lib_buf_json_string(&b, value, strlen(value));
    }
    vr_lib_buf_adds(&b, "}");
    *len = b.len;
    return vr_lib_buf_steal(&b);
}

static char *
vr_lib_span(const char *text, size_t len, const char *key, const char *none)
{
    const char *v;
    size_t      vlen;

    if (!vr_lib_json_member(text, len, key, &v, &vlen)) {
        return vr_lib_strdup(none);
    }
    return vr_lib_strndup(v, vlen);
}

vr_job_t *
vr_lib_job_new(vr_dealer_t *d, zmq_msg_t *frames, size_t n, char **error_body)
{
    vr_job_t    *job;
    json_t      *req, *v;
    const char  *text, *func, *dot, *problem = NULL;
    size_t       len, body_len;
    vr_lib_buf_t b = { NULL, 0, 0 };

    *error_body = NULL;
    text = zmq_msg_data(&frames[3]);
    len = zmq_msg_size(&frames[3]);
    req = json_loadb(text, len, 0, NULL);
    job = vr_lib_calloc(1, sizeof(*job));
    job->dealer = d;
    job->cid_len = zmq_msg_size(&frames[1]);
    job->cid = vr_lib_strndup(zmq_msg_data(&frames[1]), job->cid_len);
    v = json_object_get(req, "request_id");
    if (json_is_string(v)) {
        job->rid = vr_lib_strdup(json_string_value(v));
        vr_lib_buf_json_string(&b, json_string_value(v),
                               json_string_length(v));
        job->rid_json = vr_lib_buf_steal(&b);
    } else {
        job->rid = vr_lib_strdup("");
        job->rid_json = vr_lib_strdup("null");
    }
    /* Dispatch on func_name after the last dot, as Python dealers do. */
    func = json_string_value(json_object_get(req, "func_name"));
    if (func == NULL) {
        job->name = vr_lib_strndup(zmq_msg_data(&frames[2]),
                                   zmq_msg_size(&frames[2]));
    } else {
        job->name = vr_lib_strdup(func);
    }
    dot = strrchr(job->name, '.');
    if (dot != NULL) {
        memmove(job->name, dot + 1, strlen(dot + 1) + 1);
    }
    for (size_t i = 0; i < d->nmethods; i++) {
        if (strcmp(d->methods[i].name, job->name) == 0) {
            job->method = &d->methods[i];
        }
    }
    if (!json_is_object(req)) {
        problem = "the request is not a JSON object";
    } else if (json_object_get(req, "args") != NULL
               && !json_is_array(json_object_get(req, "args")))
    {
        problem = "\"args\" must be a list";
    } else if (json_object_get(req, "kwargs") != NULL
               && !json_is_object(json_object_get(req, "kwargs")))
    {
        problem = "\"kwargs\" must be an object";
    } else if (job->method == NULL) {
        vr_lib_buf_printf(&b, "Method %s not found", func ? func : job->name);
    }
    if (problem != NULL || b.len > 0) {
        *error_body = vr_lib_job_body(job->rid_json, "error",
                                      problem != NULL ? problem : b.p,
                                      &body_len);
        vr_lib_buf_free(&b);
        json_decref(req);
        vr_lib_job_free(job);
        return NULL;
    }
    job->args = vr_lib_span(text, len, "args", "[]");
    job->kwargs = vr_lib_span(text, len, "kwargs", "{}");
    job->nargs = json_array_size(json_object_get(req, "args"));
    json_decref(req);
    (void) n;
    return job;
}

void
vr_lib_job_free(vr_job_t *job)
{
    vr_lib_str_t *s, *next;

    if (job == NULL) {
        return;
    }
    for (s = job->strs; s != NULL; s = next) {
        next = s->next;
        free(s);
    }
    free(job->cid);
    free(job->rid);
    free(job->rid_json);
    free(job->name);
    free(job->args);
    free(job->kwargs);
    free(job->result);
    free(job->error);
    free(job);
}

/* Hands [reply_from_dealer, cid, body] to the I/O thread. */
static void
vr_lib_job_send(vr_job_t *job, char *body, size_t len)
{
    vr_lib_outbox_push(&job->dealer->outbox,
                       vr_lib_msg_new(3, "reply_from_dealer", (size_t) -1,
                                      job->cid, job->cid_len, body, len));
    free(body);
}

/* ---- workers ----------------------------------------------------------- */

static void
vr_lib_job_run(vr_job_t *job)
{
    vr_lib_method_t *m = job->method;
    const char      *kind, *value;
    char            *text = NULL, *body;
    size_t           len;
    int              rc;

    rc = m->handler(job, m->data);
    if (atomic_load(&job->cancelled)) {
        kind = "error";
        value = "cancelled";
    } else if (rc != VR_OK) {
        kind = "error";
        if (job->error == NULL) {
            size_t n = strlen(m->name) + 32;
            text = vr_lib_alloc(n);
            snprintf(text, n, "method %s failed", m->name);
        }
        value = job->error != NULL ? job->error : text;
    } else if (job->result != NULL) {
        kind = "reply";
        value = job->result;
    } else if (m->stream || job->chunks > 0) {
        kind = "end";
        value = NULL;
    } else {
        kind = "reply";
        value = "null";
    }
    body = vr_lib_job_body(job->rid_json, kind, value, &len);
    free(text);
    vr_lib_job_send(job, body, len);
}

void *
vr_lib_worker(void *arg)
{
    vr_dealer_t *d = arg;
    vr_job_t    *job;

    pthread_mutex_lock(&d->lock);
    for (;;) {
        while (!d->quit && d->queue == NULL) {
            pthread_cond_wait(&d->work, &d->lock);
        }
        if (d->quit) {
            break;
        }
        job = d->queue;
        DL_DELETE(d->queue, job);
        DL_APPEND(d->running, job);
        pthread_mutex_unlock(&d->lock);

        vr_lib_job_run(job);

        pthread_mutex_lock(&d->lock);
        DL_DELETE(d->running, job);
        d->held--;
        vr_lib_job_free(job);
        /* The I/O thread may be waiting for the last job to stop. */
        vr_lib_outbox_wake(&d->outbox);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

/* ---- in a handler ------------------------------------------------------ */

const char *
vr_job_method(const vr_job_t *job)
{
    return job->name;
}

const char *
vr_job_request_id(const vr_job_t *job)
{
    return job->rid;
}

const char *
vr_job_args(const vr_job_t *job)
{
    return job->args;
}

const char *
vr_job_kwargs(const vr_job_t *job)
{
    return job->kwargs;
}

size_t
vr_job_nargs(const vr_job_t *job)
{
    return job->nargs;
}

/* A copy of s[0..n) that lives as long as the job. */
static const char *
vr_lib_job_keep(vr_job_t *job, const char *s, size_t n)
{
    vr_lib_str_t *k = vr_lib_alloc(sizeof(*k) + n + 1);

    memcpy(k->s, s, n);
    k->s[n] = '\0';
    k->next = job->strs;
    job->strs = k;
    return k->s;
}

const char *
vr_job_param(vr_job_t *job, int pos, const char *name)
{
    const char *v;
    size_t      n;

    if (pos >= 0 && (size_t) pos < job->nargs
        && vr_lib_json_element(job->args, strlen(job->args), (size_t) pos,
                               &v, &n))
    {
        return vr_lib_job_keep(job, v, n);
    }
    if (name != NULL
        && vr_lib_json_member(job->kwargs, strlen(job->kwargs), name, &v, &n))
    {
        return vr_lib_job_keep(job, v, n);
    }
    return NULL;
}

static json_t *
vr_lib_job_param_value(vr_job_t *job, int pos, const char *name)
{
    const char *text = vr_job_param(job, pos, name);

    return text == NULL ? NULL : json_loads(text, JSON_DECODE_ANY, NULL);
}

const char *
vr_job_param_string(vr_job_t *job, int pos, const char *name)
{
    json_t     *v = vr_lib_job_param_value(job, pos, name);
    const char *s = NULL;

    if (json_is_string(v)) {
        s = vr_lib_job_keep(job, json_string_value(v), json_string_length(v));
    }
    json_decref(v);
    return s;
}

int
vr_job_param_double(vr_job_t *job, int pos, const char *name, double *out)
{
    json_t *v = vr_lib_job_param_value(job, pos, name);
    int     rc = VR_ERROR;

    if (json_is_number(v)) {
        *out = json_number_value(v);
        rc = VR_OK;
    }
    json_decref(v);
    return rc;
}

int
vr_job_param_int(vr_job_t *job, int pos, const char *name, long long *out)
{
    json_t *v = vr_lib_job_param_value(job, pos, name);
    int     rc = VR_ERROR;

    if (json_is_integer(v)) {
        *out = (long long) json_integer_value(v);
        rc = VR_OK;
    } else if (json_is_real(v)
               && json_real_value(v) == (long long) json_real_value(v))
    {
        *out = (long long) json_real_value(v);
        rc = VR_OK;
    }
    json_decref(v);
    return rc;
}

int
vr_job_result(vr_job_t *job, const char *json)
{
    if (json == NULL
        || !vr_lib_json_check(json, strlen(json), VR_LIB_JSON_ANY))
    {
        return VR_ERROR;
    }
    free(job->result);
    job->result = vr_lib_strdup(json);
    return VR_OK;
}

int
vr_job_result_string(vr_job_t *job, const char *text)
{
    vr_lib_buf_t b = { NULL, 0, 0 };

    if (text == NULL) {
        return VR_ERROR;
    }
    vr_lib_buf_json_string(&b, text, strlen(text));
    free(job->result);
    job->result = vr_lib_buf_steal(&b);
    return VR_OK;
}

static char *
vr_lib_vformat(const char *fmt, va_list ap)
{
    vr_lib_buf_t b = { NULL, 0, 0 };

    vr_lib_buf_vprintf(&b, fmt, ap);
    return vr_lib_buf_steal(&b);
}

int
vr_job_resultf(vr_job_t *job, const char *fmt, ...)
{
    va_list ap;
    char   *text;
    int     rc;

    va_start(ap, fmt);
    text = vr_lib_vformat(fmt, ap);
    va_end(ap);
    rc = vr_job_result(job, text);
    free(text);
    return rc;
}

int
vr_job_emit(vr_job_t *job, const char *json)
{
    char   *body;
    size_t  len;

    if (json == NULL || atomic_load(&job->cancelled)
        || !vr_lib_json_check(json, strlen(json), VR_LIB_JSON_ANY))
    {
        return VR_ERROR;
    }
    body = vr_lib_job_body(job->rid_json, "streaming", json, &len);
    job->chunks++;
    vr_lib_job_send(job, body, len);
    return VR_OK;
}

int
vr_job_emitf(vr_job_t *job, const char *fmt, ...)
{
    va_list ap;
    char   *text;
    int     rc;

    va_start(ap, fmt);
    text = vr_lib_vformat(fmt, ap);
    va_end(ap);
    rc = vr_job_emit(job, text);
    free(text);
    return rc;
}

int
vr_job_error(vr_job_t *job, const char *text)
{
    free(job->error);
    job->error = vr_lib_strdup(text != NULL ? text : "(no text)");
    return VR_ERROR;
}

int
vr_job_errorf(vr_job_t *job, const char *fmt, ...)
{
    va_list ap;

    free(job->error);
    va_start(ap, fmt);
    job->error = vr_lib_vformat(fmt, ap);
    va_end(ap);
    return VR_ERROR;
}

int
vr_job_cancelled(const vr_job_t *job)
{
    return atomic_load(&((vr_job_t *) job)->cancelled) ? 1 : 0;
}
