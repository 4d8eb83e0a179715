/*
 * vr_router_module.c: the "router:" section and the broker's place in a
 * cycle.  The first cycle creates the broker; every later one hands it
 * its new configuration (the ROUTER socket and all dealers stay): new
 * endpoints are bound in init, removed ones unbound only at commit.
 */
#include "config.h"
#include <stddef.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_module.h"

static const char *vr_router_modes[] = { "fifo", "load_balance", NULL };

#define VR_DAY_MS  (24LL * 3600 * 1000)

static const vr_directive_t vr_method_policy_directives[] = {
    { "timeout", VR_CONF_RELOAD, "duration", NULL, vr_conf_set_msec,
      offsetof(vr_method_policy_t, timeout_ms), 1, VR_DAY_MS, NULL,
      "deadline of these methods' requests (default: router.request_timeout)" },
    { "max_queue", VR_CONF_RELOAD, "integer", NULL, vr_conf_set_int,
      offsetof(vr_method_policy_t, max_queue), 1, 100000000, NULL,
      "queue bound of each of these methods (default: router.max_queue)" },
    { "max_attempts", VR_CONF_RELOAD, "integer", "1", vr_conf_set_int,
      offsetof(vr_method_policy_t, max_attempts), 1, 100, NULL,
      "dispatches of a request whose dealer is lost (more than 1: retried)" },
    vr_null_directive
};

static const vr_conf_blocks_t vr_method_policies = {
    vr_method_policy_directives, sizeof(vr_method_policy_t), "method glob",
    NULL
};

static const vr_directive_t vr_service_policy_directives[] = {
    { "capacity", VR_CONF_RELOAD, "integer", NULL, vr_conf_set_int,
      offsetof(vr_service_policy_t, capacity), 1, 100000, NULL,
      "requests one dealer of the group holds at once, unless it announces "
      "max_concurrent" },
    vr_null_directive
};

static const vr_conf_blocks_t vr_service_policies = {
    vr_service_policy_directives, sizeof(vr_service_policy_t), "group", NULL
};

#define F(field)  offsetof(vr_router_conf_t, field)

static const vr_directive_t vr_router_directives[] = {
    { "bind", VR_CONF_RELOAD, "endpoint list", "tcp://127.0.0.1:5555",
      vr_conf_set_endpoints, F(bind), 0, 0, NULL,
      "ZeroMQ endpoints of the ROUTER socket: tcp://HOST:PORT, ipc://PATH" },
    { "mode", VR_CONF_RELOAD, "fifo|load_balance", "fifo", vr_conf_set_enum,
      F(mode), 0, 0, vr_router_modes,
      "fifo: fair rotation over free dealers; load_balance: least loaded" },
    { "heartbeat_timeout", VR_CONF_RELOAD, "duration", "10s",
      vr_conf_set_msec, F(heartbeat_timeout_ms), 100, VR_DAY_MS, NULL,
      "an idle dealer silent this long is expired" },
    { "busy_timeout", VR_CONF_RELOAD, "duration", "60s", vr_conf_set_msec,
      F(busy_timeout_ms), 100, VR_DAY_MS, NULL,
      "a dealer holding requests silent this long is expired" },
    { "probe_interval", VR_CONF_RELOAD, "duration", "1s", vr_conf_set_msec,
      F(probe_interval_ms), 50, 60000, NULL,
      "unsolicited heartbeat_ack to busy dealers, to notice dead ones" },
    { "request_timeout", VR_CONF_RELOAD, "duration", "60s",
      vr_conf_set_msec, F(request_timeout_ms), 1, VR_DAY_MS, NULL,
      "default deadline of a request, queued or in flight" },
    { "no_service_wait", VR_CONF_RELOAD, "duration", "0s", vr_conf_set_msec,
      F(no_service_wait_ms), 0, VR_DAY_MS, NULL,
      "how long a call for a method no live dealer offers waits for one" },
    { "max_queue", VR_CONF_RELOAD, "integer", "10000", vr_conf_set_int,
      F(max_queue), 1, 100000000, NULL,
      "requests waiting per method before queue_full" },
    { "max_message", VR_CONF_RELOAD, "size", "16MiB", vr_conf_set_size,
      F(max_message_bytes), 1024, 1LL << 31, NULL,
      "largest frame accepted (larger calls end as bad_request)" },
    { "dealer_capacity", VR_CONF_RELOAD, "integer", "1", vr_conf_set_int,
      F(dealer_capacity), 1, 100000, NULL,
      "requests a dealer holds at once unless it announces max_concurrent" },
    { "max_capacity", VR_CONF_RELOAD, "integer", "1024", vr_conf_set_int,
      F(max_capacity), 1, 100000, NULL,
      "upper bound on the capacity a dealer may announce" },
    { "max_capable_clients", VR_CONF_RELOAD, "integer", "100000",
      vr_conf_set_int, F(max_capable_clients), 0, 100000000, NULL,
      "ZeroMQ client identities whose announced capabilities are "
      "remembered (least recently seen forgotten); 0: none" },
    { "hwm", 0, "integer", "10000", vr_conf_set_int, F(hwm), 100, 10000000,
      NULL, "ZeroMQ high-water mark of each peer's queue (messages)" },
    { "send_router_shutdown", VR_CONF_RELOAD, "boolean", "true",
      vr_conf_set_flag, F(send_router_shutdown), 0, 0, NULL,
      "tell dealers router_shutdown on stop (threaded Python dealers hang "
      "on it)" },
    { "methods", VR_CONF_RELOAD, "map", "{}", vr_conf_set_blocks, F(methods),
      0, 0, &vr_method_policies,
      "per-method policy by full name or glob; the first match applies" },
    { "services", VR_CONF_RELOAD, "map", "{}", vr_conf_set_blocks,
      F(services), 0, 0, &vr_service_policies,
      "per-group dealer settings" },
    { "curve", VR_CONF_RELOAD, "block", NULL, vr_conf_set_block, F(curve),
      0, 0, vr_curve_directives,
      "ZeroMQ CURVE on the ROUTER socket: the server key and the clients "
      "let in" },
    vr_null_directive
};

#undef F

static int
vr_router_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_router_conf_t *conf = data;

    conf->bind_where = vr_conf_where(cf, "router.bind");
    conf->curve_where = vr_conf_where(
        cf, vr_conf_is_set(cf, "router.curve.key_file")
            ? "router.curve.key_file"
            : vr_conf_is_set(cf, "router.curve.secret_key")
              ? "router.curve.secret_key" : "router.curve");
    if (conf->busy_timeout_ms < conf->heartbeat_timeout_ms) {
        if (!vr_conf_is_set(cf, "router.busy_timeout")) {
            /* Only the default is shorter: it follows the idle limit. */
            conf->busy_timeout_ms = conf->heartbeat_timeout_ms;
        } else {
            return vr_conf_error_at(cf, "router.busy_timeout",
                                    "must not be shorter than "
                                    "router.heartbeat_timeout");
        }
    }
    return vr_curve_conf_check(cf, "router.curve", &conf->curve);
}

static int
vr_router_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_router_conf_t *conf = vr_cycle_conf(cycle, vr_router_module);

    if (old != NULL) {
        cycle->broker = old->broker;
        return vr_broker_prepare(cycle->broker, conf);
    }
    cycle->broker = vr_broker_new(cycle->zctx, cycle->loop, conf,
                                  cycle->generation);
    return cycle->broker != NULL ? VR_OK : VR_ERROR;
}

static void
vr_router_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    if (old != NULL) {
        vr_broker_commit(cycle->broker,
                         vr_cycle_conf(cycle, vr_router_module),
                         cycle->generation);
    }
}

static void
vr_router_abort(vr_cycle_t *cycle, vr_cycle_t *old)
{
    if (old != NULL) {
        vr_broker_abort(cycle->broker);
    } else {
        vr_broker_destroy(&cycle->broker);
    }
}

vr_module_t vr_router_module = {
    .name = "router",
    .directives = vr_router_directives,
    .conf_size = sizeof(vr_router_conf_t),
    .init_conf = vr_router_init_conf,
    .init = vr_router_init,
    .commit = vr_router_commit,
    .abort = vr_router_abort,
};
