/*
 * keygen_cmd.c: `voidrail keygen`: a new API key.
 *
 *   voidrail keygen [--prefix dealer|client] [--hash]
 *
 * The key is "<prefix>_<yymmdd>_<43 base64url characters>", 256 bits from
 * OpenSSL's RAND_bytes (vr_api_key_new), the format of the Python
 * package's ApiKeyManager.  With --hash a second line gives the form to
 * put in the configuration instead of the key: "sha256:<64 hex digits>".
 */
#include "config.h"
#include <getopt.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_crypto.h"
#include "vr_rand.h"
#include "vr_main.h"

static void
vr_keygen_usage(FILE *out)
{
    fprintf(out,
"Usage: voidrail keygen [--prefix PREFIX] [--hash]\n"
"\n"
"Prints a new API key: PREFIX_YYMMDD_ and 256 random bits (base64url).\n"
"\n"
"      --prefix PREFIX  dealer or client (default client; letters and\n"
"                       digits, up to 32)\n"
"      --hash           also print the key's sha256:HEX form, which the\n"
"                       configuration (auth.client_keys, auth.dealer_keys)\n"
"                       takes instead of the key itself\n"
"  -h, --help           this help\n");
}

int
vr_keygen_command(int argc, char **argv)
{
    enum { O_PREFIX = 256, O_HASH };
    static const struct option opts[] = {
        { "prefix", required_argument, NULL, O_PREFIX },
        { "hash",   no_argument,       NULL, O_HASH },
        { "help",   no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char  *prefix = "client";
    bool         hash = false;
    vr_digest_t  d;
    char         hex[2 * VR_DIGEST_LEN + 1], *key;
    size_t       n;
    int          c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PREFIX:
            prefix = optarg;
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
