#include <stdio.h>
#include <stdlib.h>
#include <voidrail.h>

int
main(int argc, char **argv)
{
    const char  *endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:5555";
    const char  *args = argc > 2 ? argv[2] : "[]";
    vr_client_t *c = vr_client_new(endpoint);
    vr_error_t   err;
    char        *result = NULL;

    if (vr_client_connect(c, 5000, &err) != VR_OK
        || vr_client_invoke(c, "Hello.hello", args, NULL, 5000, &result,
                            &err) != VR_OK)
    {
        fprintf(stderr, "%s: %s\n", err.code, err.message);
        vr_client_destroy(&c);
        return 1;
    }
    puts(result);
    free(result);
    vr_client_destroy(&c);
    return 0;
}
