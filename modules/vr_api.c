/*
 * vr_api.c: the gateway's state over HTTP, as JSON.
 *
 *   GET /services       methods with their metadata, dealers and queues
 *   GET /router/info    the same document as the ZeroMQ router_info
 *   GET /queues         the same document as the ZeroMQ queue_status
 *   GET /healthz        the process answers
 *   GET /readyz         configuration loaded, broker bound, HTTP listening
 *   GET /openapi.json   the description of this HTTP interface
 */
#include "config.h"

#include "vr_core.h"
#include "vr_admin.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_embed.h"
#include "vr_http.h"
#include "vr_module.h"


static vr_broker_t *vr_api_broker;

static void
vr_api_services(vr_http_req_t *hr, const char *tail)
{
    vr_http_respond_json(hr, 200, vr_admin_services(vr_api_broker));
}

static void
vr_api_router_info(vr_http_req_t *hr, const char *tail)
{
    vr_http_respond_json(hr, 200, vr_admin_router_info(vr_api_broker));
}

static void
vr_api_queues(vr_http_req_t *hr, const char *tail)
{
    vr_http_respond_json(hr, 200, vr_admin_queue_status(vr_api_broker));
}

static void
vr_api_healthz(vr_http_req_t *hr, const char *tail)
{
    vr_http_respond_json(hr, 200, json_pack("{s:s, s:s}", "status", "ok",
                                            "version", VR_VERSION));
}

static void
vr_api_readyz(vr_http_req_t *hr, const char *tail)
{
    const vr_broker_t *b = vr_api_broker;

    if (b->router == NULL || b->stopping || b->bound.n == 0) {
        vr_http_problem(hr, 503, "not_ready", 1, "%s",
                        b->stopping ? "the gateway is shutting down"
                                    : "the broker is not bound");
        return;
    }
    if (!vr_http_ready()) {
        vr_http_problem(hr, 503, "not_ready", 1,
                        "not every HTTP listener is up");
        return;
    }
    vr_http_respond_json(hr, 200, json_pack("{s:s, s:i}", "status", "ready",
                                            "config_generation",
                                            (json_int_t) b->generation));
}

static void
vr_api_openapi(vr_http_req_t *hr, const char *tail)
{
    const vr_embedded_file_t *f = vr_embedded_find("openapi.json");

    vr_http_respond(hr, 200, f->type, f->data, f->len);
}

static const vr_route_t vr_api_routes[] = {
    { "GET", "/services", 0, vr_api_services,
      "methods with their metadata, dealers and queues" },
    { "GET", "/router/info", 0, vr_api_router_info,
      "router statistics (as the ZeroMQ router_info)" },
    { "GET", "/queues", 0, vr_api_queues,
      "per-method queues (as the ZeroMQ queue_status)" },
    { "GET", "/healthz", VR_ROUTE_PUBLIC, vr_api_healthz, "liveness" },
    { "GET", "/readyz", VR_ROUTE_PUBLIC, vr_api_readyz, "readiness" },
    { "GET", "/openapi.json", VR_ROUTE_PUBLIC, vr_api_openapi,
      "this interface as OpenAPI 3.1" },
    { NULL, NULL, 0, NULL, NULL }
};

static void
vr_api_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_api_broker = cycle->broker;
}

vr_module_t vr_api_module = {
    .name = "api",
    .routes = vr_api_routes,
    .commit = vr_api_commit,
};
