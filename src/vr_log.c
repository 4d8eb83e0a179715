/*
 * vr_log.c: the error log (see vr_log.h).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_log.h"

int  vr_log_level = VR_LOG_INFO;
bool vr_log_force_debug;

static int   vr_log_fd = STDERR_FILENO;
static char *vr_log_path;

const char *vr_log_level_names[] = {
    "debug", "info", "notice", "warn", "error", NULL
};

int
vr_log_level_parse(const char *name)
{
    for (size_t i = 0; vr_log_level_names[i] != NULL; i++) {
        if (strcmp(name, vr_log_level_names[i]) == 0) {
            return (int) i;
        }
    }
    return -1;
}

const char *
vr_log_level_name(int level)
{
    if (level < 0 || level > VR_LOG_ERROR) {
        return "?";
    }
    return vr_log_level_names[level];
}

static char vr_log_last[512];

const char *
vr_log_last_error(void)
{
    return vr_log_last;
}

/*
 * Appends message to line (n bytes used of size), control characters as
 * \xNN: whatever a peer put into a name or an id, an event is one line.
 * Returns the new length; what does not fit is cut.
 */
static size_t
vr_log_put(char *line, size_t n, size_t size, const char *message)
{
    const unsigned char *s = (const unsigned char *) message;

    for (; *s != '\0'; s++) {
        if (*s >= 0x20 && *s != 0x7f) {
            if (n + 1 >= size) {
                break;
            }
            line[n++] = (char) *s;
        } else {
            if (n + 4 >= size) {
                break;
            }
            n += (size_t) snprintf(line + n, size - n, "\\x%02x", *s);
        }
    }
    return n;
}

void
vr_log_v(int level, const char *fmt, va_list ap)
{
    char            line[2048], message[1536];
    struct timespec ts;
    struct tm       tm;
    size_t          n;
    int             rc;

    if (level >= VR_LOG_ERROR) {
        va_list copy;
        va_copy(copy, ap);
        vsnprintf(vr_log_last, sizeof(vr_log_last), fmt, copy);
        va_end(copy);
    }
    if (level < vr_log_level) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    rc = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
                  ts.tv_nsec / 1000000, vr_log_level_name(level));
    n += (size_t) rc;
    if (vsnprintf(message, sizeof(message), fmt, ap) < 0) {
        message[0] = '\0';
    }
    /* Room is left for the line break. */
    n = vr_log_put(line, n, sizeof(line) - 1, message);
    line[n++] = '\n';
    /* One write: lines stay whole even when several processes append. */
    while (write(vr_log_fd, line, n) < 0 && errno == EINTR) {
    }
}

void
vr_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vr_log_v(level, fmt, ap);
    va_end(ap);
}

bool
vr_log_limit_pass(vr_log_limit_t *ll, int level)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ts.tv_sec != ll->second) {
        if (ll->suppressed) {
            vr_log(level, "(%u similar lines suppressed)", ll->suppressed);
        }
        ll->second = ts.tv_sec;
        ll->count = 0;
        ll->suppressed = 0;
    }
    if (ll->count < VR_LOG_BURST) {
        ll->count++;
        return true;
    }
    ll->suppressed++;
    return false;
}

int
vr_log_open_file(const char *path)
{
    if (path == NULL || strcmp(path, "stderr") == 0) {
        return STDERR_FILENO;
    }
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

void
vr_log_use(int fd, const char *path)
{
    char *copy = fd != STDERR_FILENO ? vr_strdup(path) : NULL;

    if (vr_log_fd != STDERR_FILENO && vr_log_fd != fd) {
        close(vr_log_fd);
    }
    vr_log_fd = fd;
    free(vr_log_path);
    vr_log_path = copy;
}

int
vr_log_open(const char *path)
{
    int fd = vr_log_open_file(path);

    if (fd < 0) {
        vr_log_error("cannot open log file \"%s\": %s", path, strerror(errno));
        return VR_ERROR;
    }
    vr_log_use(fd, path);
    return VR_OK;
}

int
vr_log_reopen(void)
{
    return vr_log_path != NULL ? vr_log_open(vr_log_path) : VR_OK;
}

void
vr_log_close(void)
{
    if (vr_log_fd != STDERR_FILENO) {
        close(vr_log_fd);
        vr_log_fd = STDERR_FILENO;
    }
    free(vr_log_path);
    vr_log_path = NULL;
}

const char *
vr_log_escape(const void *p, size_t n, char *buf, size_t size)
{
    const unsigned char *s = p;
    size_t               o = 0;

    for (size_t i = 0; i < n; i++) {
        if (o + 8 >= size) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\') {
            buf[o++] = (char) s[i];
        } else {
            o += (size_t) snprintf(buf + o, size - o, "\\x%02x", s[i]);
        }
    }
    buf[o] = '\0';
    return buf;
}
