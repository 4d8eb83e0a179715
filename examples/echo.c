/*
 * echo.c: the example service Echo, a VoidRail service module.
 *
 *   voidrail dealer --module examples/echo.so      serves Echo.echo and
 *                                                  Echo.slow_echo
 *
 * A module is a shared object that exports the table voidrail_services
 * (voidrail.h, libvoidrail(3)).  Build one with
 *
 *   cc -shared -fPIC $(pkg-config --cflags voidrail) -o echo.so echo.c
 */
#include <unistd.h>
#include <voidrail.h>

/* echo(message): returns its argument as it came (any JSON value). */
static int
echo(vr_job_t *job, void *data)
{
    const char *message = vr_job_param(job, 0, "message");

    if (message == NULL) {
        return vr_job_error(job, "echo takes one argument: message");
    }
    return vr_job_result(job, message);
}

/* slow_echo(message, seconds=1): the same, after a pause. */
static int
slow_echo(vr_job_t *job, void *data)
{
    const char *message = vr_job_param(job, 0, "message");
    double      seconds = 1.0;

    if (message == NULL) {
        return vr_job_error(job, "slow_echo takes message and seconds");
    }
    vr_job_param_double(job, 1, "seconds", &seconds);
    for (double t = 0; t < seconds && !vr_job_cancelled(job); t += 0.01) {
        usleep(10000);
    }
    return vr_job_result(job, message);
}

static const vr_method_def_t echo_methods[] = {
    { "echo", echo, "Returns its argument",
      "{\"message\": \"any JSON value\"}", 0, NULL },
    { "slow_echo", slow_echo, "Returns its argument after a pause",
      "{\"message\": \"any JSON value\", "
      "\"seconds\": \"the pause (default 1)\"}", 0, NULL },
    { NULL, NULL, NULL, NULL, 0, NULL }
};

const vr_service_def_t voidrail_services[] = {
    { VR_MODULE_ABI, "Echo", echo_methods, NULL, NULL, 0 },
    { 0, NULL, NULL, NULL, NULL, 0 }
};
