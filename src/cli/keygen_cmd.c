/*
 * keygen_cmd.c: `voidrail keygen`: a new API key.
 *
 *   voidrail keygen [--prefix dealer|client] [--hash]
 *   voidrail keygen --curve [--out BASE]
 *
 * The key is "<prefix>_<yymmdd>_<43 base64url characters>", 256 bits from
 * OpenSSL's RAND_bytes (vr_api_key_new), the format of the Python
 * package's ApiKeyManager.  With --hash a second line gives the form to
 * put in the configuration instead of the key: "sha256:<64 hex digits>".
 *
 * With --curve it is a CURVE key pair (zmq_curve_keypair): printed in
 * Z85, or with --out written as the ZeroMQ certificates BASE.key (public,
 * for router.curve.allow_dir) and BASE.key_secret (for
 * router.curve.key_file), and only the public key printed.
 */
#include "config.h"
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <unistd.h>
#include <zmq.h>

#include "vr_core.h"
#include "vr_crypto.h"
#include "vr_curve_cert.h"
#include "vr_rand.h"
#include "vr_main.h"

static void
vr_keygen_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail keygen [--prefix PREFIX] [--hash]\n"
"       voidrail keygen --curve [--out BASE]\n"
"\n"
"Prints a new API key: PREFIX_YYMMDD_ and 256 random bits (base64url).\n"
"\n"
"      --curve          a CURVE key pair instead: \"public-key: Z85\" and\n"
"                       \"secret-key: Z85\" lines\n"
"      --out BASE       with --curve: write the ZeroMQ certificates\n"
"                       BASE.key (public; for router.curve.allow_dir) and\n"
"                       BASE.key_secret (mode 0600; for\n"
"                       router.curve.key_file), print the public key\n"
"      --prefix PREFIX  dealer or client (default client; letters and\n"
"                       digits, up to 32)\n"
"      --hash           also print the key's sha256:HEX form, which the\n"
"                       configuration (auth.client_keys, auth.dealer_keys)\n"
"                       takes instead of the key itself\n"
"  -h, --help           this help\n");
}

/* A CURVE key pair, printed or written as BASE.key and BASE.key_secret. */
static int
vr_keygen_curve(const char *base)
{
    char    pub[VR_CURVE_Z85_SIZE], sec[VR_CURVE_Z85_SIZE], err[512];
    char   *path_pub, *path_sec;
    size_t  n;
    int     rc = 1;

    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "voidrail keygen: this libzmq cannot make CURVE "
                "keys: %s\n", zmq_strerror(errno));
        return 1;
    }
    if (base == NULL) {
        printf("public-key: %s\nsecret-key: %s\n", pub, sec);
        OPENSSL_cleanse(sec, sizeof(sec));
        return 0;
    }
    n = strlen(base) + sizeof(".key_secret");
    path_pub = vr_alloc(n);
    path_sec = vr_alloc(n);
    snprintf(path_pub, n, "%s.key", base);
    snprintf(path_sec, n, "%s.key_secret", base);
    if (vr_curve_cert_write(path_pub, pub, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "voidrail keygen: %s\n", err);
    } else if (vr_curve_cert_write(path_sec, pub, sec, err, sizeof(err))
               != 0)
    {
        fprintf(stderr, "voidrail keygen: %s\n", err);
        unlink(path_pub);
    } else {
        printf("%s\n", pub);
        rc = 0;
    }
    OPENSSL_cleanse(sec, sizeof(sec));
    free(path_pub);
    free(path_sec);
    return rc;
}

int
vr_keygen_command(int argc, char **argv)
{
    enum { O_PREFIX = 256, O_HASH, O_CURVE, O_OUT };
    static const struct option opts[] = {
        { "prefix", required_argument, NULL, O_PREFIX },
        { "hash",   no_argument,       NULL, O_HASH },
        { "curve",  no_argument,       NULL, O_CURVE },
        { "out",    required_argument, NULL, O_OUT },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *prefix = "client", *out = NULL;
    bool         hash = false, curve = false, prefixed = false;
    vr_digest_t  d;
    char         hex[2 * VR_DIGEST_LEN + 1], *key;
    size_t       n;
    int          c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PREFIX:
            prefix = optarg;
            prefixed = true;
            break;
        case O_CURVE:
            curve = true;
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_HASH:
            hash = true;
            break;
        case 'h':
            vr_keygen_usage(stdout);
            return 0;
        default:
            vr_keygen_usage(stderr);
            return 2;
        }
    }
    if (curve || out != NULL) {
        if (!curve || hash || prefixed || optind < argc
            || (out != NULL && out[0] == '\0'))
        {
            fprintf(stderr, "voidrail keygen: --out goes with --curve, "
                    "which takes neither --prefix nor --hash\n");
            return 2;
        }
        return vr_keygen_curve(out);
    }
    n = strlen(prefix);
    if (optind < argc || n == 0 || n > 32
        || strspn(prefix, "abcdefghijklmnopqrstuvwxyz"
                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
    {
        fprintf(stderr, "voidrail keygen: --prefix takes 1..32 letters and "
                "digits (dealer or client)\n");
        return 2;
    }
    key = vr_api_key_new(prefix);
    if (key == NULL) {
        fprintf(stderr, "voidrail keygen: the random source failed\n");
        return 1;
    }
    printf("%s\n", key);
    if (hash) {
        vr_sha256(key, strlen(key), &d);
        vr_digest_hex(&d, hex);
        printf("sha256:%s\n", hex);
    }
    free(key);
    return 0;
}
