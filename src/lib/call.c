/*
 * call.c: vr_call_t, one call (or command) of a client and the items its
 * answers become.
 *
 * The I/O thread queues items on the call (vr_lib_call_push, under the
 * hub's lock) and signals it; the caller's thread takes them one by one
 * (vr_call_next) or all at once (vr_call_wait).  A final item (result,
 * end, error) takes the call out of the client's table, so later
 * messages for the same request_id are dropped.
 */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <utlist.h>

#include "client.h"

vr_call_t *
vr_lib_call_new(vr_lib_hub_t *hub, const char *method)
{
    vr_call_t *c = vr_lib_calloc(1, sizeof(*c));

    c->hub = hub;
    c->method = vr_lib_strdup(method);
    vr_lib_uuid4(c->rid);
    vr_lib_cond_init(&c->cond);
    pthread_mutex_lock(&hub->lock);
    hub->refs++;
    pthread_mutex_unlock(&hub->lock);
    return c;
}

static void
vr_lib_items_free(vr_call_t *c)
{
    vr_lib_item_t *it, *next;

    for (it = c->head; it != NULL; it = next) {
        next = it->next;
        free(it->json);
        free(it);
    }
    c->head = c->tail = NULL;
}

static void
vr_lib_call_free(vr_call_t *c)
{
    vr_lib_items_free(c);
    pthread_cond_destroy(&c->cond);
    free(c->method);
    free(c);
}

void
vr_lib_call_unlink(vr_call_t *c)
{
    vr_lib_hub_t *hub = c->hub;

    if (!c->linked) {
        return;
    }
    if (c->ack != NULL) {
        DL_DELETE(hub->commands, c);
    } else {
        HASH_DEL(hub->calls, c);
        DL_DELETE(hub->order, c);
    }
    c->linked = false;
}

void
vr_lib_call_free_locked(vr_call_t *c)
{
    vr_lib_call_unlink(c);
    vr_lib_call_free(c);
}

void
vr_lib_call_push(vr_call_t *c, vr_lib_item_kind_t kind, char *json,
                 const char *code, const char *text)
{
    vr_lib_item_t *it;

    if (c->ended) {
        free(json);
        return;
    }
    if (kind != VR_LIB_CHUNK) {
        c->ended = true;
        if (c->abandoned) {
            /* A command answered after its waiter gave up. */
            free(json);
            vr_lib_call_free_locked(c);
            return;
        }
        vr_lib_call_unlink(c);
    }
    it = vr_lib_calloc(1, sizeof(*it));
    it->kind = kind;
    it->json = json;
    if (kind == VR_LIB_FAIL) {
        vr_lib_error(&it->err, code, "%s", text);
    }
    if (c->tail == NULL) {
        c->head = it;
    } else {
        c->tail->next = it;
    }
    c->tail = it;
    pthread_cond_signal(&c->cond);
}

void
vr_lib_hub_unref(vr_lib_hub_t *hub)
{
    vr_call_t *c, *tmp;
    bool       last;

    pthread_mutex_lock(&hub->lock);
    last = --hub->refs == 0;
    pthread_mutex_unlock(&hub->lock);
    if (!last) {
        return;
    }
    DL_FOREACH_SAFE(hub->commands, c, tmp) {
        vr_lib_call_free_locked(c);         /* abandoned ones */
    }
    vr_lib_outbox_fini(&hub->outbox);
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

int
vr_call_next(vr_call_t *self, int timeout_ms, char **item_json,
             vr_error_t *err)
{
    vr_lib_hub_t   *hub;
    vr_lib_item_t  *it;
    int64_t         deadline = vr_lib_deadline(timeout_ms);
    struct timespec ts;
    int             rc;

    if (item_json != NULL) {
        *item_json = NULL;
    }
    vr_lib_error_clear(err);
    if (self == NULL || item_json == NULL) {
        vr_lib_error(err, "usage", "no call or nowhere to put the item");
        return VR_ERROR;
    }
    hub = self->hub;
    pthread_mutex_lock(&hub->lock);
    while (self->head == NULL && !self->done) {
        if (deadline < 0) {
            pthread_cond_wait(&self->cond, &hub->lock);
            continue;
        }
        vr_lib_abstime(deadline, &ts);
        if (pthread_cond_timedwait(&self->cond, &hub->lock, &ts) == ETIMEDOUT
            && self->head == NULL)
        {
            pthread_mutex_unlock(&hub->lock);
            vr_lib_error(err, "timeout", "no answer from %s within %d ms",
                         self->method, timeout_ms);
            return VR_ERROR;
        }
    }
    if (self->head == NULL) {
        /* Ended before: say it again. */
        rc = self->failed ? VR_ERROR : VR_OK;
        if (self->failed && err != NULL) {
            *err = self->err;
        }
        pthread_mutex_unlock(&hub->lock);
        return rc;
    }
    it = self->head;
    self->head = it->next;
    if (self->head == NULL) {
        self->tail = NULL;
    }
    switch (it->kind) {
    case VR_LIB_CHUNK:
        rc = VR_MORE;
        break;
    case VR_LIB_RESULT:
        self->done = true;
        rc = VR_MORE;
        break;
    case VR_LIB_END:
        self->done = true;
        rc = VR_OK;
        break;
    default:
        self->done = true;
        self->failed = true;
        self->err = it->err;
        if (err != NULL) {
            *err = it->err;
        }
        rc = VR_ERROR;
        break;
    }
    pthread_mutex_unlock(&hub->lock);
    *item_json = it->json;
    free(it);
    return rc;
}

int
vr_call_wait(vr_call_t *self, int timeout_ms, char **result_json,
             vr_error_t *err)
{
    int64_t      deadline = vr_lib_deadline(timeout_ms);
    vr_lib_buf_t chunks = { NULL, 0, 0 };
    size_t       nchunks = 0;
    char        *item, *result = NULL;
    int          rc;

    if (result_json == NULL) {
        vr_lib_error(err, "usage", "nowhere to put the result");
        return VR_ERROR;
    }
    *result_json = NULL;
    for (;;) {
        rc = vr_call_next(self, deadline < 0 ? -1 : vr_lib_left_ms(deadline),
                          &item, err);
        if (rc != VR_MORE) {
            break;
        }
        if (self->done && nchunks == 0) {
            result = item;      /* a plain method's result */
            continue;
        }
        vr_lib_buf_adds(&chunks, nchunks++ == 0 ? "[" : ", ");
        vr_lib_buf_adds(&chunks, item);
        free(item);
    }
    if (rc != VR_OK) {
        free(result);
        vr_lib_buf_free(&chunks);
        return VR_ERROR;
    }
    if (nchunks > 0 || result == NULL) {
        if (result != NULL) {
            vr_lib_buf_adds(&chunks, nchunks ? ", " : "[");
            vr_lib_buf_adds(&chunks, result);
            free(result);
            nchunks++;
        }
        vr_lib_buf_adds(&chunks, nchunks ? "]" : "[]");
        *result_json = vr_lib_buf_steal(&chunks);
    } else {
        *result_json = result;
    }
    return VR_OK;
}

const char *
vr_call_request_id(const vr_call_t *self)
{
    return self != NULL ? self->rid : NULL;
}

void
vr_call_destroy(vr_call_t **selfp)
{
    vr_call_t    *self;
    vr_lib_hub_t *hub;

    if (selfp == NULL || *selfp == NULL) {
        return;
    }
    self = *selfp;
    *selfp = NULL;
    hub = self->hub;
    pthread_mutex_lock(&hub->lock);
    vr_lib_call_unlink(self);
    pthread_mutex_unlock(&hub->lock);
    vr_lib_call_free(self);
    vr_lib_hub_unref(hub);
}

int
vr_client_invoke(vr_client_t *self, const char *method, const char *args_json,
                 const char *kwargs_json, int timeout_ms, char **result_json,
                 vr_error_t *err)
{
    vr_call_t *c;
    int        rc;

    if (result_json == NULL) {
        vr_lib_error(err, "usage", "nowhere to put the result");
        return VR_ERROR;
    }
    *result_json = NULL;
    c = vr_client_call(self, method, args_json, kwargs_json, err);
    if (c == NULL) {
        return VR_ERROR;
    }
    rc = vr_call_wait(c, timeout_ms, result_json, err);
    vr_call_destroy(&c);
    return rc;
}
