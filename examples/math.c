/*
 * math.c: the example service Math, a VoidRail service module.
 *
 *   voidrail dealer --module examples/math.so      serves Math.add and
 *                                                  Math.square
 */
#include <voidrail.h>

/* add(a, b): a + b. */
static int
add(vr_job_t *job, void *data)
{
    double a, b;

    if (vr_job_param_double(job, 0, "a", &a) != VR_OK
        || vr_job_param_double(job, 1, "b", &b) != VR_OK)
    {
        return vr_job_error(job, "add takes two numbers: a and b");
    }
    return vr_job_resultf(job, "%.17g", a + b);
}

/* square(x): x * x. */
static int
square(vr_job_t *job, void *data)
{
    double x;

    if (vr_job_param_double(job, 0, "x", &x) != VR_OK) {
        return vr_job_error(job, "square takes one number: x");
    }
    return vr_job_resultf(job, "%.17g", x * x);
}

static const vr_method_def_t math_methods[] = {
    { "add", add, "Add two numbers",
      "{\"a\": \"first number\", \"b\": \"second number\"}", 0, NULL },
    { "square", square, "The square of a number", "{\"x\": \"a number\"}",
      0, NULL },
    { NULL, NULL, NULL, NULL, 0, NULL }
};

const vr_service_def_t voidrail_services[] = {
    { VR_MODULE_ABI, "Math", math_methods, NULL, NULL, 4 },
    { 0, NULL, NULL, NULL, NULL, 0 }
};
