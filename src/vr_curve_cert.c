/*
 * vr_curve_cert.c: CURVE keys as text and ZeroMQ certificate files (see
 * vr_curve_cert.h).
 *
 * The reader follows ZPL as far as certificates use it: a line at column
 * 0 opens a section, an indented "name = value" line is a property of the
 * last section, the value optionally in double or single quotes.  Only
 * the properties of the "curve" section count (pyzmq's own loader takes
 * any line that starts with public-key; a certificate it writes reads the
 * same here).  Messages never contain a key.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_curve_cert.h"

#define VR_CERT_MAX_BYTES  65536        /* certificates are ~400 bytes */

static int
vr_cert_err(char *err, size_t err_size, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
    return -1;
}

int
vr_curve_key_z85(const char *text, char out[VR_CURVE_Z85_SIZE])
{
    uint8_t bin[32];
    char    z85[VR_CURVE_Z85_SIZE];
    size_t  n = strlen(text), len = 0;

    if (n == 64 && strspn(text, "0123456789abcdefABCDEF") == 64) {
        if (!OPENSSL_hexstr2buf_ex(bin, sizeof(bin), &len, text, '\0')
            || len != sizeof(bin))
        {
            return -1;
        }
    } else if (n != 40 || zmq_z85_decode(bin, text) == NULL) {
        return -1;
    }
    /* Back to text: a Z85 form that overflows is not taken either. */
    if (zmq_z85_encode(z85, bin, sizeof(bin)) == NULL
        || (n == 40 && strcmp(z85, text) != 0))
    {
        return -1;
    }
    memcpy(out, z85, VR_CURVE_Z85_SIZE);
    OPENSSL_cleanse(bin, sizeof(bin));
    return 0;
}

/* The whole file into a NUL-terminated malloc'ed buffer, or NULL. */
static char *
vr_cert_slurp(const char *path, char *err, size_t err_size)
{
    FILE   *f = fopen(path, "re");
    char   *text;
    size_t  n;

    if (f == NULL) {
        vr_cert_err(err, err_size, "cannot read %s: %s", path,
                    strerror(errno));
        return NULL;
    }
    text = vr_alloc(VR_CERT_MAX_BYTES + 1);
    n = fread(text, 1, VR_CERT_MAX_BYTES + 1, f);
    if (ferror(f) || n > VR_CERT_MAX_BYTES) {
        vr_cert_err(err, err_size, ferror(f) ? "cannot read %s: %s"
                    : "%s is over 64 KiB: not a certificate", path,
                    strerror(errno));
        fclose(f);
        OPENSSL_cleanse(text, VR_CERT_MAX_BYTES + 1);
        free(text);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    return text;
}

/*
 * One property line of the "curve" section ("  public-key = "..."").
 * Stores a public or secret key text (at most 64 characters, else left
 * as "?" so that it fails as malformed) into pub or sec.
 */
static void
vr_cert_property(char *line, char pub[65], char sec[65])
{
    char   *name = line + strspn(line, " \t"), *v, *end;
    size_t  len;

    len = strcspn(name, " \t=");
    v = name + len;
    v += strspn(v, " \t");
    if (*v != '=') {
        return;
    }
    v++;
    v += strspn(v, " \t");
    end = v + strlen(v);
    if ((*v == '"' || *v == '\'') && end > v + 1 && end[-1] == *v) {
        v++;
        end--;
    }
    *end = '\0';
    if (len == 10 && strncmp(name, "public-key", 10) == 0) {
        snprintf(pub, 65, "%s", (size_t) (end - v) <= 64 ? v : "?");
    } else if (len == 10 && strncmp(name, "secret-key", 10) == 0) {
        snprintf(sec, 65, "%s", (size_t) (end - v) <= 64 ? v : "?");
    }
}

int
vr_curve_cert_read(const char *path, char public_z85[VR_CURVE_Z85_SIZE],
                   char secret_z85[VR_CURVE_Z85_SIZE], char *err,
                   size_t err_size)
{
    char  *text, *line, *next, pub[65] = "", sec[65] = "";
    char   derived[VR_CURVE_Z85_SIZE];
    bool   in_curve = false;
    int    rc = 0;

    public_z85[0] = secret_z85[0] = '\0';
    text = vr_cert_slurp(path, err, err_size);
    if (text == NULL) {
        return -1;
    }
    for (line = text; line != NULL; line = next) {
        size_t len;

        next = strchr(line, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        len = strlen(line);
        while (len > 0 && strchr(" \t\r", line[len - 1]) != NULL) {
            line[--len] = '\0';
        }
        if (len == 0 || line[strspn(line, " \t")] == '#') {
            continue;
        }
        if (line[0] != ' ' && line[0] != '\t') {
            in_curve = strcmp(line, "curve") == 0;      /* a section */
        } else if (in_curve) {
            vr_cert_property(line, pub, sec);
        }
    }
    if (pub[0] == '\0') {
        rc = vr_cert_err(err, err_size, "%s has no public-key in a \"curve\" "
                         "section: not a ZeroMQ certificate", path);
    } else if (vr_curve_key_z85(pub, public_z85) != 0) {
        rc = vr_cert_err(err, err_size, "%s: its public-key is not 40 Z85 "
                         "characters", path);
    } else if (sec[0] != '\0' && vr_curve_key_z85(sec, secret_z85) != 0) {
        rc = vr_cert_err(err, err_size, "%s: its secret-key is not 40 Z85 "
                         "characters", path);
    } else if (secret_z85[0] != '\0'
               && (zmq_curve_public(derived, secret_z85) != 0
                   || strcmp(derived, public_z85) != 0))
    {
        rc = vr_cert_err(err, err_size, "%s: its public-key is not the one "
                         "of its secret-key", path);
    }
    if (rc != 0) {
        OPENSSL_cleanse(secret_z85, VR_CURVE_Z85_SIZE);
        secret_z85[0] = '\0';
    }
    OPENSSL_cleanse(sec, sizeof(sec));
    OPENSSL_cleanse(text, VR_CERT_MAX_BYTES + 1);
    free(text);
    return rc;
}

int
vr_curve_cert_write(const char *path, const char *public_z85,
                    const char *secret_z85, char *err, size_t err_size)
{
    char       text[1024], date[64];
    time_t     now = time(NULL);
    struct tm  tm;
    int        fd, len;
    ssize_t    w;

    strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S",
             localtime_r(&now, &tm));
    len = snprintf(text, sizeof(text),
                   "#   ****  Generated on %s by voidrail keygen  ****\n"
                   "#   ZeroMQ CURVE %s Certificate\n"
                   "#   %s\n\n"
                   "metadata\n"
                   "curve\n"
                   "    public-key = \"%s\"\n"
                   "%s%s%s",
                   date, secret_z85 ? "**Secret**" : "Public",
                   secret_z85 ? "DO NOT PROVIDE THIS FILE TO OTHER USERS "
                                "nor change its permissions."
                              : "Exchange securely, or check its contents "
                                "after the exchange.",
                   public_z85, secret_z85 ? "    secret-key = \"" : "",
                   secret_z85 ? secret_z85 : "", secret_z85 ? "\"\n" : "");
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
              secret_z85 ? 0600 : 0644);
    if (fd < 0) {
        OPENSSL_cleanse(text, sizeof(text));
        return vr_cert_err(err, err_size, "cannot create %s: %s%s", path,
                           strerror(errno), errno == EEXIST
                           ? " (keys are never overwritten)" : "");
    }
    w = write(fd, text, (size_t) len);
    OPENSSL_cleanse(text, sizeof(text));
    if (w != len || fsync(fd) != 0) {
        int e = w < 0 ? errno : (w != len ? ENOSPC : errno);
        close(fd);
        unlink(path);
        return vr_cert_err(err, err_size, "cannot write %s: %s", path,
                           strerror(e));
    }
    if (close(fd) != 0) {
        unlink(path);
        return vr_cert_err(err, err_size, "cannot write %s: %s", path,
                           strerror(errno));
    }
    return 0;
}
