/*
 * stream.c: the example service Stream, a VoidRail service module with a
 * streaming method and per-process state (init, fini).
 *
 *   voidrail dealer --module examples/stream.so    serves Stream.count
 */
#include <stdlib.h>
#include <unistd.h>
#include <voidrail.h>

typedef struct {
    long long  started;         /* streams served by this process */
} stream_state_t;

/* count(n, delay=0): chunks {"i": 0} .. {"i": n-1}, delay seconds apart. */
static int
count(vr_job_t *job, void *data)
{
    stream_state_t *st = data;
    long long       n;
    double          delay = 0;

    if (vr_job_param_int(job, 0, "n", &n) != VR_OK || n < 0) {
        return vr_job_error(job, "count takes a count n >= 0");
    }
    vr_job_param_double(job, 1, "delay", &delay);
    __atomic_add_fetch(&st->started, 1, __ATOMIC_RELAXED);
    for (long long i = 0; i < n; i++) {
        if (i > 0 && delay > 0) {
            usleep((useconds_t) (delay * 1e6));
        }
        if (vr_job_emitf(job, "{\"i\": %lld}", i) != VR_OK) {
            return VR_ERROR;            /* cancelled */
        }
    }
    return VR_OK;
}

static int
stream_init(void **data)
{
    *data = calloc(1, sizeof(stream_state_t));
    return *data == NULL;
}

static void
stream_fini(void *data)
{
    free(data);
}

static const vr_method_def_t stream_methods[] = {
    { "count", count, "Streams n chunks {\"i\": k}",
      "{\"n\": \"how many\", \"delay\": \"seconds between (default 0)\"}",
      1, NULL },
    { NULL, NULL, NULL, NULL, 0, NULL }
};

const vr_service_def_t voidrail_services[] = {
    { VR_MODULE_ABI, "Stream", stream_methods, stream_init, stream_fini, 2 },
    { 0, NULL, NULL, NULL, NULL, 0 }
};
