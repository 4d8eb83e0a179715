/*
 * dealer_conf.c: a dealer's methods and settings, before it starts
 * (dealer.c runs it).  Everything given is checked and copied here, so
 * that a running dealer never meets a malformed name or JSON text.
 */
#include "config.h"
#include <jansson.h>
#include <string.h>

#include "dealer.h"

int
vr_dealer_add(vr_dealer_t *self, const char *name, vr_handler_fn handler,
              void *data)
{
    vr_method_def_t def = { name, handler, NULL, NULL, 0, NULL };

    return vr_dealer_add_def(self, &def, data);
}

static bool
vr_lib_utf8_ok(const char *s)
{
    json_t *v = s != NULL ? json_string(s) : NULL;
    bool    ok = v != NULL;

    json_decref(v);
    return ok;
}

int
vr_dealer_add_def(vr_dealer_t *self, const vr_method_def_t *def, void *data)
{
    vr_lib_method_t *m;

    if (self == NULL || self->started || def == NULL || def->name == NULL
        || *def->name == '\0' || strchr(def->name, '.') != NULL
        || strlen(def->name) > 256 || !vr_lib_utf8_ok(def->name)
        || def->handler == NULL
        || (def->description != NULL && !vr_lib_utf8_ok(def->description))
        || (def->params_json != NULL
            && !vr_lib_json_check(def->params_json, strlen(def->params_json),
                                  VR_LIB_JSON_OBJECT))
        || (def->metadata_json != NULL
            && !vr_lib_json_check(def->metadata_json,
                                  strlen(def->metadata_json),
                                  VR_LIB_JSON_OBJECT)))
    {
        return VR_ERROR;
    }
    for (size_t i = 0; i < self->nmethods; i++) {
        if (strcmp(self->methods[i].name, def->name) == 0) {
            return VR_ERROR;
        }
    }
    self->methods = vr_lib_realloc(self->methods, (self->nmethods + 1)
                                                  * sizeof(*self->methods));
    m = &self->methods[self->nmethods++];
    m->name = vr_lib_strdup(def->name);
    m->handler = def->handler;
    m->data = data;
    m->description = vr_lib_strdup(def->description);
    m->params_json = vr_lib_strdup(def->params_json);
    m->stream = def->stream ? 1 : 0;
    m->metadata_json = vr_lib_strdup(def->metadata_json);
    return VR_OK;
}

int
vr_dealer_set_group(vr_dealer_t *self, const char *group)
{
    if (self == NULL || self->started || group == NULL || *group == '\0'
        || !vr_lib_utf8_ok(group))
    {
        return VR_ERROR;
    }
    free(self->group);
    self->group = vr_lib_strdup(group);
    return VR_OK;
}

int
vr_dealer_set_api_key(vr_dealer_t *self, const char *api_key)
{
    if (self == NULL || self->started
        || (api_key != NULL && !vr_lib_utf8_ok(api_key)))
    {
        return VR_ERROR;
    }
    free(self->api_key);
    self->api_key = api_key != NULL && *api_key ? vr_lib_strdup(api_key)
                                                : NULL;
    return VR_OK;
}

int
vr_dealer_set_curve(vr_dealer_t *self, const char *server_key,
                    const char *public_key, const char *secret_key)
{
    if (self == NULL || self->started
        || vr_lib_curve_set(&self->curve, server_key, public_key, secret_key,
                            NULL) != VR_OK)
    {
        return VR_ERROR;
    }
    self->curve_set = true;
    return VR_OK;
}

int
vr_dealer_set_max_concurrent(vr_dealer_t *self, int n)
{
    if (self == NULL || self->started || n < 1 || n > 1024) {
        return VR_ERROR;
    }
    self->max_concurrent = n;
    return VR_OK;
}

int
vr_dealer_set_heartbeat(vr_dealer_t *self, int interval_ms)
{
    if (self == NULL || self->started || interval_ms < 50
        || interval_ms > 60000)
    {
        return VR_ERROR;
    }
    self->heartbeat_ms = interval_ms;
    return VR_OK;
}

int
vr_dealer_set_stop_timeout(vr_dealer_t *self, int timeout_ms)
{
    if (self == NULL || self->started || timeout_ms < 0) {
        return VR_ERROR;
    }
    self->stop_timeout_ms = timeout_ms;
    return VR_OK;
}

int
vr_dealer_set_cancel(vr_dealer_t *self, int on)
{
    if (self == NULL || self->started) {
        return VR_ERROR;
    }
    self->cancel = on != 0;
    return VR_OK;
}

void
vr_dealer_set_log(vr_dealer_t *self, int max_level, vr_log_fn fn, void *data)
{
    if (self != NULL) {
        self->log.max_level = max_level;
        self->log.fn = fn;
        self->log.data = data;
    }
}

const char *
vr_dealer_identity(const vr_dealer_t *self)
{
    return self != NULL ? self->identity : NULL;
}
