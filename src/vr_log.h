/*
 * vr_log.h: the gateway's error log.
 *
 * One line per event: "2026-11-25T14:43:21.123Z level message", written
 * with a single write(2) so that lines from a reopened file or a crash never
 * interleave.  The context goes into the message: a line about a request
 * names it "request ID" (its request_id; over HTTP the X-Request-Id of the
 * access log), one about a dealer "dealer ID" (its identity).  Identities
 * are arbitrary bytes: print them through vr_log_escape().  Control
 * characters in a message are written as \xNN, so that no name or id a
 * peer chose can break a line.
 */
#ifndef VR_LOG_H
#define VR_LOG_H

#include <stdarg.h>
#include "vr_core.h"

typedef enum {
    VR_LOG_DEBUG = 0,
    VR_LOG_INFO,
    VR_LOG_NOTICE,
    VR_LOG_WARN,
    VR_LOG_ERROR
} vr_log_level_t;

extern int vr_log_level;

/* Set by --debug: the configured level is then ignored. */
extern bool vr_log_force_debug;

/* The level names, by level, NULL-terminated. */
extern const char *vr_log_level_names[];

/* Writes one line at the given level, if the level is enabled. */
void vr_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vr_log_v(int level, const char *fmt, va_list ap);

#define vr_log_debug(...)  do { if (vr_log_level <= VR_LOG_DEBUG)          \
                                    vr_log(VR_LOG_DEBUG, __VA_ARGS__); } while (0)
#define vr_log_info(...)   vr_log(VR_LOG_INFO, __VA_ARGS__)
#define vr_log_notice(...) vr_log(VR_LOG_NOTICE, __VA_ARGS__)
#define vr_log_warn(...)   vr_log(VR_LOG_WARN, __VA_ARGS__)
#define vr_log_error(...)  vr_log(VR_LOG_ERROR, __VA_ARGS__)

/*
 * Logs at most VR_LOG_BURST lines a second from one call site, then one
 * line saying how many were suppressed.  For events a peer can trigger at
 * will (malformed frames), so that a flood cannot fill the disk.
 */
#define VR_LOG_BURST 10
#define vr_log_limited(level, ...)                                          \
    do {                                                                    \
        static vr_log_limit_t vr_ll_;                                       \
        if (vr_log_level <= (level) && vr_log_limit_pass(&vr_ll_, level))   \
            vr_log(level, __VA_ARGS__);                                     \
    } while (0)

typedef struct {
    int64_t  second;
    unsigned count;
    unsigned suppressed;
} vr_log_limit_t;

bool vr_log_limit_pass(vr_log_limit_t *ll, int level);

/*
 * Sends the log to path ("stderr" or a file opened for append).  On
 * failure returns VR_ERROR and keeps the previous destination.  Calling it
 * again with the same path reopens the file (after log rotation).
 */
int vr_log_open(const char *path);

/*
 * Opens path for the log without writing there yet (a reload opens the
 * new file before it knows that it keeps it): the descriptor,
 * STDERR_FILENO for "stderr" or NULL, or -1 with errno set.
 */
int vr_log_open_file(const char *path);

/*
 * Sends the log to fd (from vr_log_open_file(path)) from now on and
 * closes the file it went to before; path is what vr_log_reopen() opens
 * again.
 */
void vr_log_use(int fd, const char *path);

/* Reopens the current log file (after rotation; SIGUSR1). */
int vr_log_reopen(void);

/* Closes a log file and goes back to stderr. */
void vr_log_close(void);

/* The text of the last error logged ("" when none), for reports. */
const char *vr_log_last_error(void);

/* Parses "debug", "info", "notice", "warn", "error"; -1 if unknown. */
int vr_log_level_parse(const char *name);
const char *vr_log_level_name(int level);

/*
 * Renders n bytes as printable ASCII into buf (size bytes, always
 * NUL-terminated): printable characters stay, others become \xNN; cut with
 * "..." when too long.  Returns buf.
 */
const char *vr_log_escape(const void *p, size_t n, char *buf, size_t size);

/* A buffer large enough for an escaped identity in a log line. */
#define VR_LOG_ID_SIZE 96

#endif /* VR_LOG_H */
