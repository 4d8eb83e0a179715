#include <voidrail.h>

/* Hello.hello(name): {"hello": name}, values as JSON text. */
static int
hello(vr_job_t *job, void *data)
{
    const char *name = vr_job_param(job, 0, "name");

    return vr_job_resultf(job, "{\"hello\": %s}", name ? name : "\"world\"");
}

int
main(int argc, char **argv)
{
    const char  *endpoint = argc > 1 ? argv[1] : "tcp://127.0.0.1:5555";
    vr_dealer_t *d = vr_dealer_new(endpoint, "Hello");
    int          rc;

    vr_dealer_add(d, "hello", hello, NULL);
    rc = vr_dealer_run(d);              /* until SIGINT or SIGTERM */
    vr_dealer_destroy(&d);
    return rc == VR_OK ? 0 : 1;
}
