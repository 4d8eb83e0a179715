/*
 * vr_log_module.c: the "log:" section: level and destination of the
 * error log.
 */
#include "config.h"
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_module.h"
#include "vr_path.h"

typedef struct {
    int          level;
    char        *file;
    const char  *file_where;        /* "FILE:LINE:COL: \"log.file\"" */
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

/* The destination of the cycle being put in force, opened by init. */
static int vr_log_next_fd = -1;

static void vr_log_commit(vr_cycle_t *cycle, vr_cycle_t *old);

static int
vr_log_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_log_conf_t *conf = data;

    conf->file_where = vr_conf_where(cf, "log.file");
    return VR_OK;
}

static int
vr_log_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_log_conf_t *conf = vr_cycle_conf(cycle, vr_log_module);

    vr_log_next_fd = vr_log_open_file(conf->file);
    if (vr_log_next_fd < 0) {
        vr_log_error("%s cannot open \"%s\": %s", conf->file_where,
                     conf->file, strerror(errno));
        return VR_ERROR;
    }
    if (old == NULL) {
        /* At start there is no log to keep: the other modules' lines
         * go to the file from the beginning. */
        vr_log_commit(cycle, old);
    }
    return VR_OK;
}

static void
vr_log_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_log_conf_t *conf = vr_cycle_conf(cycle, vr_log_module);

    if (vr_log_next_fd < 0) {
        return;                     /* at start: in force since init */
    }
    vr_log_use(vr_log_next_fd, conf->file);
    vr_log_next_fd = -1;
    vr_log_level = vr_log_force_debug ? VR_LOG_DEBUG : conf->level;
}

static void
vr_log_abort(vr_cycle_t *cycle, vr_cycle_t *old)
{
    if (vr_log_next_fd > STDERR_FILENO) {
        close(vr_log_next_fd);
    }
    vr_log_next_fd = -1;
}

static int
vr_log_check(vr_cycle_t *cycle)
{
    vr_log_conf_t *conf = vr_cycle_conf(cycle, vr_log_module);

    return strcmp(conf->file, "stderr") == 0
           ? VR_OK
           : vr_path_check_writable(conf->file_where, "open", conf->file);
}

vr_module_t vr_log_module = {
    .name = "log",
    .directives = vr_log_directives,
    .conf_size = sizeof(vr_log_conf_t),
    .init_conf = vr_log_init_conf,
    .init = vr_log_init,
    .commit = vr_log_commit,
    .abort = vr_log_abort,
    .check = vr_log_check,
};
