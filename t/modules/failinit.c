/*
 * failinit.c: a module of three services for t/104cli_dealer_module.t and
 * t/106cli_instances.t.  Broken's init fails; Fine and Other serve
 * echo.  Fine's init and fini leave a line in the file named by
 * $VR_FAILINIT_TRACE (when set), so a test sees that a service that
 * started is shut down properly when another fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <voidrail.h>

static void
trace(const char *what)
{
    const char *path = getenv("VR_FAILINIT_TRACE");
    FILE       *f;

    if (path != NULL && (f = fopen(path, "a")) != NULL) {
        fprintf(f, "%s\n", what);
        fclose(f);
    }
}

static int
broken_init(void **data)
{
    trace("Broken init");
    return -1;
}

static int
fine_init(void **data)
{
    trace("Fine init");
    return 0;
}

static void
fine_fini(void *data)
{
    trace("Fine fini");
}

static int
echo(vr_job_t *job, void *data)
{
    const char *v = vr_job_param(job, 0, "value");

    return vr_job_result(job, v != NULL ? v : "null");
}

static const vr_method_def_t methods[] = {
    { "echo", echo, "Returns its argument", NULL, 0, NULL },
    { NULL, NULL, NULL, NULL, 0, NULL }
};

const vr_service_def_t voidrail_services[] = {
    { VR_MODULE_ABI, "Fine", methods, fine_init, fine_fini, 0 },
    { VR_MODULE_ABI, "Broken", methods, broken_init, NULL, 0 },
    { VR_MODULE_ABI, "Other", methods, NULL, NULL, 0 },
    { 0, NULL, NULL, NULL, NULL, 0 }
};
