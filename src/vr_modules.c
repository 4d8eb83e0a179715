/*
 * vr_modules.c: the list of every module, in the order of their init and
 * commit (exit runs in reverse): the log first (so that the others can
 * report), the router before the modules that hook into its broker.
 */
#include "config.h"
#include "vr_core.h"
#include "vr_module.h"

extern vr_module_t vr_log_module;
extern vr_module_t vr_process_module;
extern vr_module_t vr_router_module;
extern vr_module_t vr_auth_module;
extern vr_module_t vr_http_module;
extern vr_module_t vr_invoke_module;
extern vr_module_t vr_jobs_module;
extern vr_module_t vr_api_module;
extern vr_module_t vr_status_module;
extern vr_module_t vr_metrics_module;
extern vr_module_t vr_workers_module;
extern vr_module_t vr_ctl_module;

vr_module_t *vr_modules[] = {
    &vr_log_module,
    &vr_process_module,
    &vr_router_module,      /* creates the broker the others hook into */
    &vr_http_module,        /* routes of every module are static tables */
    &vr_auth_module,
    &vr_invoke_module,
    &vr_jobs_module,
    &vr_api_module,
    &vr_status_module,
    &vr_metrics_module,
    &vr_ctl_module,
    &vr_workers_module,
    NULL
};

void
vr_modules_index(void)
{
    for (size_t i = 0; vr_modules[i] != NULL; i++) {
        vr_modules[i]->index = i;
    }
}
