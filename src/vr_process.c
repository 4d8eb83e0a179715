/*
 * vr_process.c: the "process:" section and the process's own state
 * (see vr_process.h).
 *
 * The pid file is written when the first cycle starts and removed at
 * exit; a reload that changes its path writes the new one first and
 * removes the old one once the reload is in force.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_cycle.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_path.h"
#include "vr_process.h"

vr_process_info_t vr_process;

static char *vr_process_pid_path;       /* the pid file written, if any */
static char *vr_process_next_pid_path;  /* written by init for the cycle
                                           being put in force */

static const vr_directive_t vr_process_directives[] = {
    { "pid_file", VR_CONF_RELOAD, "path", "\"\"", vr_conf_set_str,
      offsetof(vr_process_conf_t, pid_file), 0, 0, NULL,
      "file to write the process id to (\"\": none)" },
    { "drain_timeout", VR_CONF_RELOAD, "duration", "10s", vr_conf_set_msec,
      offsetof(vr_process_conf_t, drain_timeout_ms), 0, 86400000, NULL,
      "on SIGTERM/SIGQUIT, how long queued and running requests may still "
      "finish before the rest end with shutting_down" },
    vr_null_directive
};

/*
 * The sd_notify(3) protocol, spoken directly: one datagram with the state
 * to the AF_UNIX socket named by $NOTIFY_SOCKET (a leading '@' names one
 * in the abstract namespace).  RELOADING=1 carries the MONOTONIC_USEC=
 * that systemd asks for with it.
 */
void
vr_process_notify(const char *state)
{
    const char         *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un  sa;
    struct timespec     ts;
    socklen_t           len;
    size_t              n;
    char                msg[128];
    int                 fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@')) {
        return;
    }
    n = strlen(path);
    if (n < 2 || n >= sizeof(sa.sun_path)) {
        vr_log_warn("NOTIFY_SOCKET \"%s\": not a socket path, nothing "
                    "sent", path);
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@') {
        sa.sun_path[0] = '\0';
    } else {
        n++;                            /* a path counts its NUL */
    }
    len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n);
    if (strcmp(state, "RELOADING=1") == 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(msg, sizeof(msg), "%s\nMONOTONIC_USEC=%lld", state,
                 (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
        state = msg;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vr_log_warn("NOTIFY_SOCKET: socket(): %s", strerror(errno));
        return;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL,
               (struct sockaddr *) &sa, len) < 0)
    {
        vr_log_warn("NOTIFY_SOCKET %s: %s not sent: %s", path, state,
                    strerror(errno));
    }
    close(fd);
}

void
vr_process_reloaded(unsigned generation, const char *error)
{
    vr_process.last_reload_wall_ms = vr_wall_ms();
    vr_process.reloads++;
    vr_process.last_reload_ok = error == NULL;
    if (error != NULL) {
        vr_process.reload_failures++;
        /* Shown as JSON: valid UTF-8, cut between characters. */
        vr_utf8_copy(vr_process.last_reload_error,
                     sizeof(vr_process.last_reload_error), error);
    } else {
        vr_process.generation = generation;
        vr_process.last_reload_error[0] = '\0';
    }
}

long
vr_process_read_pid(const char *path)
{
    FILE *f = fopen(path, "r");
    long  pid = -1;

    if (f == NULL) {
        fprintf(stderr, "voidrail: cannot open pid file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    if (fscanf(f, "%ld", &pid) != 1 || pid <= 0) {
        fprintf(stderr, "voidrail: pid file %s holds no pid\n", path);
        pid = -1;
    }
    fclose(f);
    return pid;
}

static void
vr_process_remove_pid(void)
{
    if (vr_process_pid_path != NULL) {
        unlink(vr_process_pid_path);
        free(vr_process_pid_path);
        vr_process_pid_path = NULL;
    }
}

/* Writes this process's pid to conf's pid file; VR_ERROR (logged). */
static int
vr_process_write_pid(const vr_process_conf_t *conf)
{
    char buf[32];
    int  fd, n;

    fd = open(conf->pid_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        vr_log_error("%s cannot write \"%s\": %s", conf->pid_file_where,
                     conf->pid_file, strerror(errno));
        return VR_ERROR;
    }
    n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        vr_log_error("%s cannot write \"%s\": %s", conf->pid_file_where,
                     conf->pid_file, strerror(errno));
        close(fd);
        unlink(conf->pid_file);
        return VR_ERROR;
    }
    close(fd);
    return VR_OK;
}

static int
vr_process_init_conf(vr_conf_t *cf, vr_cycle_t *cycle, void *data)
{
    vr_process_conf_t *conf = data;

    conf->pid_file_where = vr_conf_where(cf, "process.pid_file");
    return VR_OK;
}

static int
vr_process_init(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_process_conf_t *conf = vr_cycle_conf(cycle, vr_process_module);

    if (conf->pid_file[0] == '\0'
        || (vr_process_pid_path != NULL
            && strcmp(vr_process_pid_path, conf->pid_file) == 0))
    {
        return VR_OK;
    }
    if (vr_process_write_pid(conf) != VR_OK) {
        return VR_ERROR;
    }
    vr_process_next_pid_path = vr_strdup(conf->pid_file);
    return VR_OK;
}

static void
vr_process_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_process_conf_t *conf = vr_cycle_conf(cycle, vr_process_module);

    if (old == NULL) {
        vr_process.started_wall_ms = vr_wall_ms();
        vr_process.generation = cycle->generation;
    }
    vr_process.conf_file = cycle->conf_file;
    if (vr_process_next_pid_path != NULL || conf->pid_file[0] == '\0') {
        vr_process_remove_pid();            /* moved, or none any more */
        vr_process_pid_path = vr_process_next_pid_path;
        vr_process_next_pid_path = NULL;
    }
}

static void
vr_process_abort(vr_cycle_t *cycle, vr_cycle_t *old)
{
    if (vr_process_next_pid_path != NULL) {
        unlink(vr_process_next_pid_path);
        free(vr_process_next_pid_path);
        vr_process_next_pid_path = NULL;
    }
}

static int
vr_process_check(vr_cycle_t *cycle)
{
    vr_process_conf_t *conf = vr_cycle_conf(cycle, vr_process_module);

    return conf->pid_file[0] == '\0'
           ? VR_OK
           : vr_path_check_writable(conf->pid_file_where, "write",
                                    conf->pid_file);
}

static void
vr_process_exit(vr_cycle_t *cycle)
{
    vr_process_remove_pid();
}

vr_module_t vr_process_module = {
    .name = "process",
    .directives = vr_process_directives,
    .conf_size = sizeof(vr_process_conf_t),
    .init_conf = vr_process_init_conf,
    .init = vr_process_init,
    .commit = vr_process_commit,
    .abort = vr_process_abort,
    .exit = vr_process_exit,
    .check = vr_process_check,
};
