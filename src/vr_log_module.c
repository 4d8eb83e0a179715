/*
 * vr_log_module.c: the "log:" section: level and destination of the
 * error log.
 */
#include "config.h"
#include <stddef.h>

#include "vr_core.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_module.h"

typedef struct {
    int     level;
    char   *file;
} vr_log_conf_t;

static const vr_directive_t vr_log_directives[] = {
    { "level", VR_CONF_RELOAD, "debug|info|notice|warn|error", "info",
      vr_conf_set_enum, offsetof(vr_log_conf_t, level), 0, 0, vr_log_level_names,
      "lowest level written" },
    { "file", VR_CONF_RELOAD, "path", "stderr", vr_conf_set_str,
      offsetof(vr_log_conf_t, file), 0, 0, NULL,
      "\"stderr\" or a file opened for append" },
    vr_null_directive
};

extern vr_module_t vr_log_module;

static int
vr_log_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_log_conf_t *conf = vr_cycle_conf(cycle, vr_log_module);

    if (vr_log_open(conf->file) != VR_OK) {
        return VR_ERROR;
    }
    vr_log_level = vr_log_force_debug ? VR_LOG_DEBUG : conf->level;
    return VR_OK;
}

vr_module_t vr_log_module = {
    .name = "log",
    .directives = vr_log_directives,
    .conf_size = sizeof(vr_log_conf_t),
    .init = vr_log_init,
};
