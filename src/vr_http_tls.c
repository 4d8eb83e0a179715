/*
 * vr_http_tls.c: the certificate of the HTTPS listeners (http.tls).
 *
 * init_conf reads http.tls.cert and http.tls.key into the cycle's pool and
 * checks them with libcrypto (they parse, the key is the certificate's),
 * so that `voidrail -t` and a reload refuse a bad pair with the file's
 * name before any listener is touched.  libmicrohttpd (GnuTLS) then gets
 * the PEM text itself; a digest of both lets a reload see whether the
 * files changed.  The key's bytes are never logged or shown: messages
 * name the file only.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "vr_core.h"
#include "vr_conf.h"
#include "vr_crypto.h"
#include "vr_http.h"
#include "vr_http_server.h"

/* A PEM file larger than this is not a certificate chain or a key. */
#define VR_HTTP_TLS_MAX_FILE  (1 << 20)

/* Reads file (the value of key `name`) into the pool, NUL-terminated. */
static int
vr_http_tls_read(vr_conf_t *cf, const char *name, const char *file,
                 char **out)
{
    struct stat st;
    size_t      got = 0;
    char       *p;
    int         fd;

    if (file[0] == '\0') {
        return vr_conf_error_at(cf, name, "is required when http.tls.listen "
                                "is set");
    }
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return vr_conf_error_at(cf, name, "cannot read \"%s\": %s", file,
                                strerror(errno));
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > VR_HTTP_TLS_MAX_FILE)
    {
        close(fd);
        return vr_conf_error_at(cf, name, "\"%s\" is not a PEM file (not a "
                                "regular file, or over 1 MiB)", file);
    }
    p = vr_pool_calloc(cf->pool, (size_t) st.st_size + 1);
    while (got < (size_t) st.st_size) {
        ssize_t n = read(fd, p + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int err = errno;
            close(fd);
            return vr_conf_error_at(cf, name, "cannot read \"%s\": %s", file,
                                    strerror(err));
        }
        if (n == 0) {
            break;                  /* shrank meanwhile: take what is there */
        }
        got += (size_t) n;
    }
    close(fd);
    p[got] = '\0';
    *out = p;
    return VR_OK;
}

/* An encrypted key would make libcrypto ask for a pass phrase: refuse. */
static int
vr_http_tls_no_passphrase(char *buf, int size, int rwflag, void *data)
{
    return -1;
}

/* Do the PEM texts parse, and is the key the certificate's? */
static int
vr_http_tls_check(vr_conf_t *cf, const vr_http_tls_conf_t *tls)
{
    BIO      *bio;
    X509     *x509;
    EVP_PKEY *pkey;
    int       rc = VR_ERROR;

    bio = BIO_new_mem_buf(tls->cert_pem, -1);
    x509 = bio ? PEM_read_bio_X509(bio, NULL, vr_http_tls_no_passphrase,
                                   NULL)
               : NULL;
    BIO_free(bio);
    bio = BIO_new_mem_buf(tls->key_pem, -1);
    pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, vr_http_tls_no_passphrase,
                                         NULL)
               : NULL;
    BIO_free(bio);
    if (x509 == NULL) {
        vr_conf_error_at(cf, "http.tls.cert", "\"%s\" holds no PEM "
                         "certificate", tls->cert);
    } else if (pkey == NULL) {
        vr_conf_error_at(cf, "http.tls.key", "\"%s\" holds no PEM private "
                         "key (an encrypted key is not supported)", tls->key);
    } else if (X509_check_private_key(x509, pkey) != 1) {
        vr_conf_error_at(cf, "http.tls.key", "the private key in \"%s\" does "
                         "not belong to the certificate in \"%s\"", tls->key,
                         tls->cert);
    } else {
        rc = VR_OK;
    }
    ERR_clear_error();      /* libcrypto's queue: nothing of it is kept */
    X509_free(x509);
    EVP_PKEY_free(pkey);
    return rc;
}

int
vr_http_tls_load(vr_conf_t *cf, vr_http_tls_conf_t *tls)
{
    vr_digest_t both[2];

    if (tls->listen.n == 0) {
        return VR_OK;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        return vr_conf_error_at(cf, "http.tls.listen", "this libmicrohttpd "
                                "is built without TLS: HTTPS is not "
                                "available");
    }
    if (vr_http_tls_read(cf, "http.tls.cert", tls->cert, &tls->cert_pem)
        != VR_OK
        || vr_http_tls_read(cf, "http.tls.key", tls->key, &tls->key_pem)
           != VR_OK
        || vr_http_tls_check(cf, tls) != VR_OK)
    {
        return VR_ERROR;
    }
    vr_sha256(tls->cert_pem, strlen(tls->cert_pem), &both[0]);
    vr_sha256(tls->key_pem, strlen(tls->key_pem), &both[1]);
    vr_sha256(both, sizeof(both), &tls->pem_digest);
    return VR_OK;
}
