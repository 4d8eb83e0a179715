/*
 * vr_path.c: checks of configured paths for `voidrail -t` (see
 * vr_path.h).  They ask the file system only (stat, access): nothing is
 * opened, created or truncated, so `voidrail -t` never touches the files
 * of a gateway that runs on the same configuration.
 */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vr_core.h"
#include "vr_log.h"
#include "vr_path.h"

static int
vr_path_access(const char *path, int mode)
{
    return access(path, mode) == 0 ? 0 : errno;
}

int
vr_path_writable(const char *path)
{
    struct stat st;
    char        dir[PATH_MAX];
    const char *slash;

    if (stat(path, &st) == 0) {
        return S_ISDIR(st.st_mode) ? EISDIR : vr_path_access(path, W_OK);
    }
    if (errno != ENOENT) {
        return errno;
    }
    /* Not there yet: it is created in its directory. */
    slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    } else if (slash == path) {
        snprintf(dir, sizeof(dir), "/");
    } else if ((size_t) (slash - path) >= sizeof(dir)) {
        return ENAMETOOLONG;
    } else {
        snprintf(dir, sizeof(dir), "%.*s", (int) (slash - path), path);
    }
    if (stat(dir, &st) != 0) {
        return errno;
    }
    return S_ISDIR(st.st_mode) ? vr_path_access(dir, W_OK | X_OK) : ENOTDIR;
}

int
vr_path_check_writable(const char *where, const char *verb, const char *path)
{
    int err;

    if ((err = vr_path_writable(path)) == 0) {
        return VR_OK;
    }
    vr_log_error("%s cannot %s \"%s\": %s", where, verb, path, strerror(err));
    return VR_ERROR;
}

/* 0 when path (relative to cwd when it is relative) is a program. */
static int
vr_path_program(const char *path, size_t len, const char *cwd)
{
    struct stat st;
    char        full[PATH_MAX];
    int         n;

    if (path[0] != '/' && cwd != NULL && cwd[0] != '\0') {
        n = snprintf(full, sizeof(full), "%s/%.*s", cwd, (int) len, path);
    } else {
        n = snprintf(full, sizeof(full), "%.*s", (int) len, path);
    }
    if (n < 0 || (size_t) n >= sizeof(full)) {
        return ENAMETOOLONG;
    }
    if (stat(full, &st) != 0) {
        return errno;
    }
    return S_ISREG(st.st_mode) ? vr_path_access(full, X_OK) : EACCES;
}

int
vr_path_runnable(const char *name, const char *cwd)
{
    const char *dirs = getenv("PATH"), *p, *end;
    char        cand[PATH_MAX];
    size_t      dlen;
    int         n, err, found = ENOENT;

    if (name[0] == '\0') {
        return ENOENT;
    }
    if (strchr(name, '/') != NULL) {
        return vr_path_program(name, strlen(name), cwd);
    }
    if (dirs == NULL) {
        dirs = "/bin:/usr/bin";         /* execvp()'s default */
    }
    for (p = dirs; ; p = end + 1) {
        end = strchr(p, ':');
        if (end == NULL) {
            end = p + strlen(p);
        }
        dlen = (size_t) (end - p);      /* "": the current directory */
        n = snprintf(cand, sizeof(cand), "%.*s%s%s", (int) dlen, p,
                     dlen > 0 ? "/" : "", name);
        if (n > 0 && (size_t) n < sizeof(cand)) {
            err = vr_path_program(cand, (size_t) n, cwd);
            if (err == 0) {
                return 0;
            }
            if (err == EACCES) {
                found = EACCES;         /* as execvp() reports it */
            }
        }
        if (*end == '\0') {
            return found;
        }
    }
}
