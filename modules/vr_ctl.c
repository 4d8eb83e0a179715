/*
 * vr_ctl.c: taking work out of rotation by hand (`voidrail ctl`).
 *
 *   POST /admin/dealers/{id}/drain     the dealer finishes what it holds
 *   POST /admin/dealers/{id}/undrain   and gets no new work, until undone
 *   POST /admin/methods/{name}/disable calls end with no_service at once
 *   POST /admin/methods/{name}/enable
 *
 * The state lives in the broker: it survives reloads, and shows in
 * /status.json (dealer state "draining", method "disabled").
 */
#include "config.h"
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_dealer.h"
#include "vr_http.h"
#include "vr_module.h"

static vr_broker_t *vr_ctl_broker;

/* Splits "NAME/ACTION" at the last slash; false when there is none. */
static bool
vr_ctl_split(const char *tail, char *name, size_t size, const char **action)
{
    const char *slash = strrchr(tail, '/');

    if (slash == NULL || slash == tail || (size_t) (slash - tail) >= size) {
        return false;
    }
    memcpy(name, tail, (size_t) (slash - tail));
    name[slash - tail] = '\0';
    *action = slash + 1;
    return true;
}

static void
vr_ctl_dealers(vr_http_req_t *hr, const char *tail)
{
    char        id[512];
    const char *action;
    bool        drain;

    if (!vr_ctl_split(tail, id, sizeof(id), &action)
        || !(strcmp(action, "drain") == 0 || strcmp(action, "undrain") == 0))
    {
        vr_http_problem(hr, 404, "not_found", 0, "use /admin/dealers/ID/drain"
                        " or /admin/dealers/ID/undrain");
        return;
    }
    drain = strcmp(action, "drain") == 0;
    if (vr_dealer_set_drained(vr_ctl_broker, id, drain) != VR_OK) {
        vr_http_problem(hr, 404, "not_found", 0, "no dealer %s", id);
        return;
    }
    vr_http_respond_json(hr, 200, json_pack("{s:s, s:b}", "dealer", id,
                                            "drained", drain));
}

static void
vr_ctl_methods(vr_http_req_t *hr, const char *tail)
{
    char        name[512];
    const char *action;
    bool        disable;

    if (!vr_ctl_split(tail, name, sizeof(name), &action)
        || !(strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0))
    {
        vr_http_problem(hr, 404, "not_found", 0, "use /admin/methods/NAME/"
                        "disable or /admin/methods/NAME/enable");
        return;
    }
    disable = strcmp(action, "disable") == 0;
    vr_broker_set_disabled(vr_ctl_broker, name, disable);
    vr_http_respond_json(hr, 200, json_pack("{s:s, s:b}", "method", name,
                                            "disabled", disable));
}

static const vr_route_t vr_ctl_routes[] = {
    { "POST", "/admin/dealers/", VR_ROUTE_PREFIX | VR_ROUTE_ADMIN,
      vr_ctl_dealers,
      "take a dealer out of rotation (drain) or back (undrain)" },
    { "POST", "/admin/methods/", VR_ROUTE_PREFIX | VR_ROUTE_ADMIN,
      vr_ctl_methods,
      "turn a method off (disable) or on (enable)" },
    { NULL, NULL, 0, NULL, NULL }
};

static void
vr_ctl_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_ctl_broker = cycle->broker;
}

vr_module_t vr_ctl_module = {
    .name = "ctl",
    .routes = vr_ctl_routes,
    .commit = vr_ctl_commit,
};
