/*
 * vr_jobs.c: the "jobs:" module: calls that outlive an HTTP connection.
 *
 *   POST   /jobs/Service.method     202, {"id", "state", "links"}
 *   GET    /jobs/ID                 state, result or error
 *   GET    /jobs/ID/events          the job as Server-Sent Events; resumes
 *                                   after Last-Event-ID, even once finished
 *                                   (204 once all of a finished job's
 *                                   events were seen: EventSource stops)
 *   DELETE /jobs/ID                 cancels it
 *
 * A job id is 256 random bits: whoever holds it may read the job and its
 * events without a key (a capability URL), so a browser page can follow a
 * job its server started.  Creating and cancelling need the key.  Each job
 * keeps its events in a ring, up to jobs.max_events of them and
 * jobs.max_event_bytes of data (the oldest dropped first, the newest
 * always kept); a follower that asks for events no longer kept is told
 * how many it missed (event "dropped").  Finished jobs are kept jobs.keep
 * long, at most jobs.max_finished of them.  All jobs together keep at
 * most jobs.max_memory of event data: past it the oldest finished jobs
 * are forgotten first, then the oldest events of active jobs are dropped
 * (see vr_jobs_fit()).
 */
#include "config.h"
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <sys/queue.h>
#include <uthash.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_call.h"
#include "vr_cycle.h"
#include "vr_http.h"
#include "vr_http_call.h"
#include "vr_json.h"
#include "vr_log.h"
#include "vr_loop.h"
#include "vr_module.h"
#include "vr_rand.h"
#include "vr_report.h"
#include "vr_request.h"
#include "vr_sse.h"

typedef struct {
    vr_msec_t   keep_ms;
    int64_t     max_finished;
    int64_t     max_active;
    int64_t     max_events;
    int64_t     max_event_bytes;
    int64_t     max_memory;         /* bytes of event data, all jobs */
} vr_jobs_conf_t;

typedef enum {
    VR_JOB_ACTIVE = 0,          /* queued or running: see its request */
    VR_JOB_SUCCEEDED,
    VR_JOB_FAILED,
    VR_JOB_CANCELLED
} vr_job_state_t;

typedef struct {
    uint64_t     id;
    const char  *name;          /* "chunk", "result", "end", "error" */
    char        *data;
    size_t       len;
} vr_job_event_t;

typedef struct vr_job_follower_s {
    vr_http_req_t                     *hr;
    struct vr_job_s                   *job;
    uint64_t                           after;  /* events it has seen */
    vr_timer_t                         keepalive;
    LIST_ENTRY(vr_job_follower_s)      link;
} vr_job_follower_t;

typedef struct vr_job_s {
    char                               id[48];
    UT_hash_handle                     hh;
    char                              *method;
    vr_job_state_t                     state;
    bool                               submitting;
    vr_code_t                          refused;  /* at once, by the broker */
    char                              *refused_text;
    vr_request_t                      *r;
    char                              *rid;
    int64_t                            created_wall_ms;
    int64_t                            finished_wall_ms;
    vr_msec_t                          finished_ms;
    vr_job_event_t                    *events;     /* a ring of cap */
    size_t                             events_cap;
    size_t                             events_head; /* the oldest */
    size_t                             nevents;
    size_t                             event_bytes; /* data kept */
    uint64_t                           next_event_id;
    uint64_t                           dropped_events;
    LIST_HEAD(, vr_job_follower_s)     followers;
    TAILQ_ENTRY(vr_job_s)              finished_link;
} vr_job_t;

static struct {
    const vr_jobs_conf_t               *conf;
    vr_broker_t                        *broker;
    vr_loop_t                          *loop;
    vr_job_t                           *jobs;       /* uthash by id */
    size_t                              active;
    size_t                              finished;
    size_t                              event_bytes;  /* all jobs' data */
    TAILQ_HEAD(, vr_job_s)              finished_list;  /* oldest first */
    vr_timer_t                          sweep;
} vr_jobs;

extern vr_module_t vr_jobs_module;

static const char *vr_job_state_names[] = {
    "active", "succeeded", "failed", "cancelled"
};

/* ---- followers -------------------------------------------------------- */

/* Writes to a follower; a silent job sends keep-alive comments. */
static void
vr_job_follower_write(vr_job_follower_t *f, const char *p, size_t len)
{
    if (vr_http_stream_write(f->hr, p, len) == VR_OK) {
        vr_timer_add(vr_jobs.loop, &f->keepalive,
                     vr_http_conf(f->hr)->keepalive_ms);
    }
}

static void
vr_job_follower_on_keepalive(vr_timer_t *t)
{
    vr_job_follower_t *f = t->data;
    vr_buf_t           b = VR_BUF_INIT;

    if (f->job == NULL) {
        return;
    }
    vr_sse_comment(&b, "keep-alive");
    vr_job_follower_write(f, b.p, b.len);
    vr_buf_free(&b);
}

/* The job has ended, or is forgotten: the follower's stream ends. */
static void
vr_job_follower_end(vr_job_follower_t *f)
{
    LIST_REMOVE(f, link);
    f->job = NULL;
    vr_timer_del(vr_jobs.loop, &f->keepalive);
    vr_http_stream_end(f->hr);
}

static void
vr_job_follower_free(void *data)
{
    vr_job_follower_t *f = data;

    vr_timer_del(vr_jobs.loop, &f->keepalive);
    free(f);
}

/* ---- the event log ---------------------------------------------------- */

static void
vr_job_event_sse(const vr_job_event_t *e, vr_buf_t *out)
{
    vr_sse_event(out, e->name, e->id, e->data, e->len);
}

/* The i-th event kept, 0 the oldest (i < nevents). */
static vr_job_event_t *
vr_job_event(const vr_job_t *job, size_t i)
{
    return &job->events[(job->events_head + i) % job->events_cap];
}

static void
vr_job_drop_oldest(vr_job_t *job)
{
    vr_job_event_t *e = vr_job_event(job, 0);

    job->event_bytes -= e->len;
    vr_jobs.event_bytes -= e->len;
    free(e->data);
    job->events_head = (job->events_head + 1) % job->events_cap;
    job->nevents--;
    job->dropped_events++;
}

/* Room for one more event in the ring: grown (up to jobs.max_events) in
 * the order of the events, the oldest first again. */
static void
vr_job_ring_grow(vr_job_t *job)
{
    size_t          cap = vr_max(job->events_cap * 2, (size_t) 8);
    vr_job_event_t *events;

    cap = vr_max(vr_min(cap, (size_t) vr_jobs.conf->max_events),
                 job->nevents + 1);
    events = vr_alloc(cap * sizeof(vr_job_event_t));
    for (size_t i = 0; i < job->nevents; i++) {
        events[i] = *vr_job_event(job, i);
    }
    free(job->events);
    job->events = events;
    job->events_cap = cap;
    job->events_head = 0;
}

static void vr_job_free(vr_job_t *job);

/* The data of a job's events that may be dropped: all but its newest. */
static size_t
vr_job_droppable_bytes(const vr_job_t *job)
{
    if (job->nevents < 2) {
        return 0;
    }
    return job->event_bytes - vr_job_event(job, job->nevents - 1)->len;
}

/*
 * Makes room under jobs.max_memory for need more bytes of event data, for
 * a new event of receiving (NULL at a sweep: brings the total back under
 * the bound, lowered by a reload say).  In this order, while the total
 * with need is over the bound:
 *
 *   1. the oldest finished job is forgotten (GET answers 404, as for a job
 *      past jobs.keep);
 *   2. the oldest event of receiving is dropped (the new one becomes its
 *      newest);
 *   3. the oldest events of the active job holding the most data besides
 *      its newest event are dropped.
 *
 * A job's newest event (its outcome once it ends) is never dropped, so the
 * total may stay over the bound by what those hold.  Step 3 scans every
 * job, O(active jobs) per job trimmed: it runs only once every finished
 * job is forgotten and receiving holds nothing more, a rare state for a
 * bound sized to the load.
 */
static void
vr_jobs_fit(vr_job_t *receiving, size_t need)
{
    size_t    max_bytes = (size_t) vr_jobs.conf->max_memory;
    size_t    forgotten = 0, dropped = 0;
    vr_job_t *job, *tmp, *largest;

    while (vr_jobs.event_bytes + need > max_bytes) {
        job = TAILQ_FIRST(&vr_jobs.finished_list);
        if (job != NULL && job == receiving) {
            job = TAILQ_NEXT(job, finished_link);
        }
        if (job != NULL) {
            vr_job_free(job);
            forgotten++;
            continue;
        }
        if (receiving != NULL && receiving->nevents > 0) {
            vr_job_drop_oldest(receiving);
            dropped++;
            continue;
        }
        largest = NULL;
        HASH_ITER(hh, vr_jobs.jobs, job, tmp) {
            if (job != receiving
                && vr_job_droppable_bytes(job) > 0
                && (largest == NULL || vr_job_droppable_bytes(job)
                                       > vr_job_droppable_bytes(largest)))
            {
                largest = job;
            }
        }
        if (largest == NULL) {
            break;              /* newest events alone: kept */
        }
        while (largest->nevents > 1
               && vr_jobs.event_bytes + need > max_bytes)
        {
            vr_job_drop_oldest(largest);
            dropped++;
        }
    }
    if (forgotten > 0 || dropped > 0) {
        vr_log_limited(VR_LOG_WARN, "jobs.max_memory (%lld bytes) reached: "
                       "%zu finished jobs forgotten, %zu events of active "
                       "jobs dropped; %zu bytes of event data kept",
                       (long long) vr_jobs.conf->max_memory, forgotten,
                       dropped, vr_jobs.event_bytes + need);
    }
}

/*
 * Keeps a new event and sends it to the followers.  The oldest events go
 * first while the job holds jobs.max_events of them, or would hold more
 * than jobs.max_event_bytes of data with this one; then room is made
 * under jobs.max_memory (vr_jobs_fit()).  The new one is always kept (a
 * job's last event is its outcome).
 */
static void
vr_job_add_event(vr_job_t *job, const char *name, const char *data,
                 size_t len)
{
    vr_job_event_t    *e;
    vr_job_follower_t *f;
    vr_buf_t           b = VR_BUF_INIT;

    while (job->nevents > 0
           && (job->nevents >= (size_t) vr_jobs.conf->max_events
               || job->event_bytes + len
                  > (size_t) vr_jobs.conf->max_event_bytes))
    {
        vr_job_drop_oldest(job);
    }
    vr_jobs_fit(job, len);
    if (job->nevents == job->events_cap) {
        vr_job_ring_grow(job);
    }
    e = &job->events[(job->events_head + job->nevents) % job->events_cap];
    job->nevents++;
    job->event_bytes += len;
    vr_jobs.event_bytes += len;
    e->id = ++job->next_event_id;
    e->name = name;
    e->data = vr_memdup(data, len);
    e->len = len;
    vr_job_event_sse(e, &b);
    LIST_FOREACH(f, &job->followers, link) {
        if (e->id > f->after) {
            vr_job_follower_write(f, b.p, b.len);
        }
    }
    vr_buf_free(&b);
}

static void
vr_job_error_event(vr_job_t *job, const char *code, const char *text)
{
    vr_buf_t b = VR_BUF_INIT;

    vr_call_error_body(&b, code, text, NULL);
    vr_job_add_event(job, "error", b.p, b.len);
    vr_buf_free(&b);
}

static void
vr_job_finish(vr_job_t *job, vr_job_state_t state)
{
    vr_job_follower_t *f;

    if (job->state != VR_JOB_ACTIVE) {
        return;
    }
    job->state = state;
    job->finished_ms = vr_now_ms;
    job->finished_wall_ms = vr_wall_ms();
    vr_jobs.active--;
    vr_jobs.finished++;
    TAILQ_INSERT_TAIL(&vr_jobs.finished_list, job, finished_link);
    while ((f = LIST_FIRST(&job->followers)) != NULL) {
        vr_job_follower_end(f);
    }
}

static void
vr_job_free(vr_job_t *job)
{
    vr_job_follower_t *f;

    HASH_DEL(vr_jobs.jobs, job);
    if (job->state != VR_JOB_ACTIVE) {
        TAILQ_REMOVE(&vr_jobs.finished_list, job, finished_link);
        vr_jobs.finished--;
    } else {
        vr_jobs.active--;
    }
    while ((f = LIST_FIRST(&job->followers)) != NULL) {
        vr_job_follower_end(f);
    }
    for (size_t i = 0; i < job->nevents; i++) {
        free(vr_job_event(job, i)->data);
    }
    vr_jobs.event_bytes -= job->event_bytes;
    free(job->events);
    free(job->refused_text);
    free(job->method);
    free(job->rid);
    free(job);
}

/* ---- the origin ------------------------------------------------------- */

static int
vr_job_deliver(vr_request_t *r, vr_reply_kind_t kind, zmq_msg_t *payload)
{
    vr_job_t   *job = r->origin_data;
    const char *p = zmq_msg_data(payload), *v;
    size_t      len = zmq_msg_size(payload), n;
    vr_buf_t    text = VR_BUF_INIT;

    switch (kind) {
    case VR_REPLY_CHUNK:
        vr_call_chunk(p, len, &v, &n);
        vr_job_add_event(job, "chunk", v, n);
        break;
    case VR_REPLY_RESULT:
        if (vr_call_field(p, len, "result", &v, &n) != VR_OK) {
            vr_job_error_event(job, "dealer_error",
                               "the dealer's reply is not well-formed JSON");
            vr_job_finish(job, VR_JOB_FAILED);
            break;
        }
        vr_job_add_event(job, "result", v, n);
        vr_job_finish(job, VR_JOB_SUCCEEDED);
        break;
    case VR_REPLY_END:
        vr_buf_printf_b(&text, "{\"chunks\":%llu}",
                        (unsigned long long) r->chunks);
        vr_job_add_event(job, "end", text.p, text.len);
        vr_job_finish(job, VR_JOB_SUCCEEDED);
        break;
    case VR_REPLY_ERROR:
        vr_call_error_text(p, len, &text);
        vr_job_error_event(job, "dealer_error", text.p);
        vr_job_finish(job, VR_JOB_FAILED);
        break;
    }
    vr_buf_free(&text);
    return VR_OK;
}

static void
vr_job_fail(vr_request_t *r, vr_code_t code, const char *text)
{
    vr_job_t *job = r->origin_data;

    if (job->submitting) {
        /* Refused before it was queued: POST answers the problem. */
        job->refused = code;
        job->refused_text = vr_strdup(text);
        return;
    }
    vr_job_error_event(job, vr_code_name(code), text);
    vr_job_finish(job, code == VR_CODE_CANCELLED ? VR_JOB_CANCELLED
                                                 : VR_JOB_FAILED);
}

static void
vr_job_release(vr_request_t *r)
{
    vr_job_t *job = r->origin_data;

    job->r = NULL;
}

/* Events are kept and read as they come: nothing to rewind. */
static const vr_origin_t vr_job_origin = {
    .deliver = vr_job_deliver,
    .fail = vr_job_fail,
    .release = vr_job_release,
};

/* ---- JSON views ------------------------------------------------------- */

static json_t *
vr_job_time(int64_t wall_ms)
{
    char      buf[40];
    time_t    s = (time_t) (wall_ms / 1000);
    struct tm tm;

    if (wall_ms == 0) {
        return json_null();
    }
    gmtime_r(&s, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), ".%03dZ",
             (int) (wall_ms % 1000));
    return json_string(buf);
}

static const char *
vr_job_state_name(const vr_job_t *job)
{
    if (job->state == VR_JOB_ACTIVE) {
        return job->r != NULL && job->r->state == VR_REQ_QUEUED ? "queued"
                                                                : "running";
    }
    return vr_job_state_names[job->state];
}

static json_t *
vr_job_links(const vr_job_t *job)
{
    char self[80], events[96];

    snprintf(self, sizeof(self), "/jobs/%s", job->id);
    snprintf(events, sizeof(events), "/jobs/%s/events", job->id);
    return json_pack("{s:s, s:s}", "self", self, "events", events);
}

static json_t *
vr_job_json(const vr_job_t *job)
{
    json_t *j = json_object(), *chunks = NULL;

    json_object_set_new(j, "id", json_string(job->id));
    json_object_set_new(j, "method", json_string(job->method));
    json_object_set_new(j, "state", json_string(vr_job_state_name(job)));
    json_object_set_new(j, "request_id", json_string(job->rid));
    json_object_set_new(j, "created_at", vr_job_time(job->created_wall_ms));
    json_object_set_new(j, "finished_at", vr_job_time(job->finished_wall_ms));
    json_object_set_new(j, "events", json_integer((json_int_t) job->next_event_id));
    for (size_t i = 0; i < job->nevents; i++) {
        const vr_job_event_t *e = vr_job_event(job, i);
        json_t *v = json_loadb(e->data, e->len, JSON_DECODE_ANY, NULL);

        if (v == NULL) {
            continue;
        }
        if (strcmp(e->name, "chunk") == 0) {
            if (chunks == NULL) {
                chunks = json_array();
            }
            json_array_append_new(chunks, v);
        } else if (strcmp(e->name, "result") == 0) {
            json_object_set_new(j, "result", v);
        } else if (strcmp(e->name, "error") == 0) {
            json_object_set_new(j, "error", v);
        } else {
            json_decref(v);
        }
    }
    /* Only chunks are dropped: a job's last event is always kept. */
    if (chunks == NULL && job->dropped_events > 0) {
        chunks = json_array();
    }
    if (chunks != NULL) {
        json_object_set_new(j, "chunks", chunks);
        if (job->dropped_events > 0) {
            json_object_set_new(j, "chunks_dropped",
                                json_integer((json_int_t) job->dropped_events));
        }
    }
    json_object_set_new(j, "links", vr_job_links(job));
    return j;
}

/* ---- handlers --------------------------------------------------------- */

static void
vr_jobs_create(vr_http_req_t *hr, const char *method)
{
    vr_call_args_t a = { VR_BUF_INIT, VR_BUF_INIT };
    unsigned char  rnd[32];
    const char    *body;
    size_t         len;
    vr_msec_t      timeout_ms;
    vr_job_t      *job;
    vr_grant_t    *grant;
    char           location[80];

    body = vr_http_body(hr, &len);
    if (vr_http_call_read(hr, method, body, len, true, &a, &timeout_ms)
        != VR_OK)
    {
        return;
    }
    if (vr_jobs.active >= (size_t) vr_jobs.conf->max_active) {
        vr_http_problem(hr, 429, "too_many_jobs", 5,
                        "%zu jobs are running (jobs.max_active)",
                        vr_jobs.active);
        vr_call_args_free(&a);
        return;
    }
    if (vr_rand_secure(rnd, sizeof(rnd)) != VR_OK) {
        vr_http_problem(hr, 500, "internal", 0, "the random source failed");
        vr_call_args_free(&a);
        return;
    }
    if (!vr_http_admit_call(hr, method, &grant)) {
        vr_call_args_free(&a);
        return;
    }
    job = vr_calloc(1, sizeof(*job));
    vr_base64url(rnd, sizeof(rnd), job->id);
    job->method = vr_strdup(method);
    job->rid = vr_strdup(vr_http_request_id(hr));
    job->created_wall_ms = vr_wall_ms();
    LIST_INIT(&job->followers);
    HASH_ADD_STR(vr_jobs.jobs, id, job);
    vr_jobs.active++;

    job->r = vr_call_new(vr_jobs.broker, method, &a, job->rid, &vr_job_origin,
                         job, timeout_ms);
    job->r->grant = grant;
    vr_call_args_free(&a);
    job->submitting = true;
    vr_request_submit(job->r);
    job->submitting = false;
    if (job->refused_text != NULL) {
        /* no_service, queue_full, shutting_down: no job to follow. */
        vr_http_call_problem(hr, job->refused, job->refused_text);
        vr_job_free(job);
        return;
    }

    snprintf(location, sizeof(location), "/jobs/%s", job->id);
    vr_http_add_header(hr, "Location", location);
    vr_http_respond_json(hr, 202, json_pack("{s:s, s:s, s:o}", "id", job->id,
                                            "state", vr_job_state_name(job),
                                            "links", vr_job_links(job)));
}

static vr_job_t *
vr_jobs_find(vr_http_req_t *hr, const char *id, size_t len)
{
    vr_job_t *job = NULL;

    if (len < sizeof(job->id)) {
        HASH_FIND(hh, vr_jobs.jobs, id, len, job);
    }
    if (job == NULL) {
        vr_http_problem(hr, 404, "not_found", 0,
                        "no such job (finished jobs are kept for a while)");
    }
    return job;
}

/*
 * Tells a follower that has seen events up to `after` that the ones after
 * it up to the oldest kept were dropped: event "dropped" {"dropped": N,
 * "first_id": ID, "reason": TEXT}, without an id (EventSource's
 * lastEventId stays the last event it got).
 */
static void
vr_job_dropped_sse(const vr_job_t *job, uint64_t after, vr_buf_t *out)
{
    uint64_t first = vr_job_event(job, 0)->id;
    vr_buf_t data = VR_BUF_INIT;

    vr_buf_printf_b(&data, "{\"dropped\":%llu,\"first_id\":%llu,"
                    "\"reason\":\"the job keeps its newest events only "
                    "(jobs.max_events, jobs.max_event_bytes, "
                    "jobs.max_memory)\"}",
                    (unsigned long long) (first - after - 1),
                    (unsigned long long) first);
    vr_sse_event(out, "dropped", 0, data.p, data.len);
    vr_buf_free(&data);
}

static void
vr_job_follower_gone(vr_http_req_t *hr, void *data)
{
    vr_job_follower_t *f = data;

    if (f->job != NULL) {
        LIST_REMOVE(f, link);
        f->job = NULL;
    }
    vr_timer_del(vr_jobs.loop, &f->keepalive);
}

static void
vr_jobs_events(vr_http_req_t *hr, vr_job_t *job)
{
    const char        *last = vr_http_header(hr, "Last-Event-ID");
    uint64_t           after = 0;
    vr_job_follower_t *f;
    vr_buf_t           b = VR_BUF_INIT;

    if (last == NULL) {
        last = vr_http_query(hr, "last_event_id");
    }
    if (last != NULL) {
        after = strtoull(last, NULL, 10);
    }
    if (last != NULL && job->state != VR_JOB_ACTIVE
        && after >= job->next_event_id)
    {
        /* Seen it all: an EventSource reconnects after every stream that
         * ends, and 204 is what tells it to stop. */
        vr_http_respond(hr, 204, NULL, "", 0);
        return;
    }
    f = vr_calloc(1, sizeof(*f));
    f->hr = hr;
    f->after = after;
    vr_timer_init(&f->keepalive, vr_job_follower_on_keepalive, f);
    vr_http_set_data(hr, f, vr_job_follower_free);
    if (vr_http_stream_start(hr, "text/event-stream", vr_job_follower_gone, f)
        != VR_OK)
    {
        return;
    }
    vr_sse_retry(&b, vr_http_conf(hr)->retry_ms);
    if (job->nevents > 0 && after + 1 < vr_job_event(job, 0)->id) {
        vr_job_dropped_sse(job, after, &b);
    }
    for (size_t i = 0; i < job->nevents; i++) {
        const vr_job_event_t *e = vr_job_event(job, i);
        if (e->id > after) {
            vr_job_event_sse(e, &b);
        }
    }
    f->job = job;
    LIST_INSERT_HEAD(&job->followers, f, link);
    vr_job_follower_write(f, b.p, b.len);
    vr_buf_free(&b);
    if (f->job != NULL && job->state != VR_JOB_ACTIVE) {
        vr_job_follower_end(f);     /* it has seen all there is */
    }
}

static void
vr_jobs_get(vr_http_req_t *hr, const char *tail)
{
    const char *slash = strchr(tail, '/');
    size_t      idlen = slash ? (size_t) (slash - tail) : strlen(tail);
    vr_job_t   *job = vr_jobs_find(hr, tail, idlen);

    if (job == NULL) {
        return;
    }
    if (slash == NULL) {
        vr_http_respond_json(hr, 200, vr_job_json(job));
    } else if (strcmp(slash, "/events") == 0) {
        if (strcmp(vr_http_method(hr), "HEAD") == 0) {
            vr_http_respond(hr, 200, "text/event-stream", "", 0);
            return;
        }
        vr_jobs_events(hr, job);
    } else {
        vr_http_problem(hr, 404, "not_found", 0, "no route for %s",
                        vr_http_path(hr));
    }
}

static void
vr_jobs_delete(vr_http_req_t *hr, const char *tail)
{
    vr_job_t *job = vr_jobs_find(hr, tail, strlen(tail));

    if (job == NULL) {
        return;
    }
    if (job->state != VR_JOB_ACTIVE) {
        vr_http_problem(hr, 409, "job_finished", 0, "the job already %s",
                        vr_job_state_names[job->state]);
        return;
    }
    vr_request_fail(job->r, VR_CODE_CANCELLED, "cancelled by DELETE");
    vr_http_respond_json(hr, 200, vr_job_json(job));
}

/* Forgets finished jobs past jobs.keep or beyond jobs.max_finished, and
 * brings the event data of all jobs under jobs.max_memory. */
static void
vr_jobs_on_sweep(vr_timer_t *t)
{
    vr_job_t *job;

    while ((job = TAILQ_FIRST(&vr_jobs.finished_list)) != NULL
           && (vr_now_ms - job->finished_ms > vr_jobs.conf->keep_ms
               || vr_jobs.finished > (size_t) vr_jobs.conf->max_finished))
    {
        vr_job_free(job);
    }
    vr_jobs_fit(NULL, 0);
    vr_timer_add(vr_jobs.loop, &vr_jobs.sweep, 1000);
}

static const vr_route_t vr_jobs_routes[] = {
    { "POST", "/jobs/", VR_ROUTE_PREFIX | VR_ROUTE_BODY, vr_jobs_create,
      "start a job: 202 with its id and links" },
    { "GET", "/jobs/", VR_ROUTE_PREFIX | VR_ROUTE_PUBLIC | VR_ROUTE_CAPABILITY,
      vr_jobs_get,
      "a job's state and result, or its events as SSE (/jobs/ID/events)" },
    { "DELETE", "/jobs/", VR_ROUTE_PREFIX | VR_ROUTE_CAPABILITY,
      vr_jobs_delete, "cancel a job" },
    { NULL, NULL, 0, NULL, NULL }
};

#define F(field)  offsetof(vr_jobs_conf_t, field)

static const vr_directive_t vr_jobs_directives[] = {
    { "keep", VR_CONF_RELOAD, "duration", "1h", vr_conf_set_msec, F(keep_ms),
      0, 30LL * 86400000, NULL, "how long a finished job stays readable" },
    { "max_finished", VR_CONF_RELOAD, "integer", "1000", vr_conf_set_int,
      F(max_finished), 0, 10000000, NULL,
      "finished jobs kept at most (the oldest go first)" },
    { "max_active", VR_CONF_RELOAD, "integer", "10000", vr_conf_set_int,
      F(max_active), 1, 10000000, NULL,
      "jobs queued or running at once (429 beyond)" },
    { "max_events", VR_CONF_RELOAD, "integer", "10000", vr_conf_set_int,
      F(max_events), 2, 100000000, NULL,
      "events a job keeps for replay (the oldest are dropped first)" },
    { "max_event_bytes", VR_CONF_RELOAD, "size", "64MiB", vr_conf_set_size,
      F(max_event_bytes), 1024, 1LL << 40, NULL,
      "data of the events a job keeps for replay (the oldest are dropped "
      "first; the newest is always kept)" },
    { "max_memory", VR_CONF_RELOAD, "size", "1GiB", vr_conf_set_size,
      F(max_memory), 1024, 1LL << 40, NULL,
      "data of the events all jobs keep together (beyond: the oldest "
      "finished jobs are forgotten, then active jobs' oldest events "
      "dropped; each job's newest is always kept)" },
    vr_null_directive
};

#undef F

static void
vr_jobs_status(json_t *doc)
{
    json_object_set_new(json_object_get(doc, "totals"), "jobs",
                        json_pack("{s:I, s:I, s:I}",
                                  "active", (json_int_t) vr_jobs.active,
                                  "finished", (json_int_t) vr_jobs.finished,
                                  "event_bytes",
                                  (json_int_t) vr_jobs.event_bytes));
}

static void
vr_jobs_metrics(vr_buf_t *out)
{
    vr_buf_printf_b(out, "# HELP voidrail_jobs Jobs kept, by state.\n"
                    "# TYPE voidrail_jobs gauge\n"
                    "voidrail_jobs{state=\"active\"} %zu\n"
                    "voidrail_jobs{state=\"finished\"} %zu\n"
                    "# HELP voidrail_jobs_event_bytes Bytes of event data "
                    "kept by all jobs (jobs.max_memory).\n"
                    "# TYPE voidrail_jobs_event_bytes gauge\n"
                    "voidrail_jobs_event_bytes %zu\n",
                    vr_jobs.active, vr_jobs.finished, vr_jobs.event_bytes);
}

static const vr_reporter_t vr_jobs_reporter = {
    vr_jobs_status, vr_jobs_metrics
};

static void
vr_jobs_commit(vr_cycle_t *cycle, vr_cycle_t *old)
{
    vr_report_register(&vr_jobs_reporter);
    vr_jobs.conf = vr_cycle_conf(cycle, vr_jobs_module);
    vr_jobs.broker = cycle->broker;
    if (old == NULL) {
        vr_jobs.loop = cycle->loop;
        TAILQ_INIT(&vr_jobs.finished_list);
        vr_timer_init(&vr_jobs.sweep, vr_jobs_on_sweep, NULL);
        vr_timer_add(vr_jobs.loop, &vr_jobs.sweep, 1000);
    }
}

static void
vr_jobs_exit(vr_cycle_t *cycle)
{
    vr_job_t *job, *tmp;

    /* The broker has stopped: every job's request has ended by now. */
    HASH_ITER(hh, vr_jobs.jobs, job, tmp) {
        vr_job_free(job);
    }
    vr_timer_del(vr_jobs.loop, &vr_jobs.sweep);
}

vr_module_t vr_jobs_module = {
    .name = "jobs",
    .directives = vr_jobs_directives,
    .conf_size = sizeof(vr_jobs_conf_t),
    .routes = vr_jobs_routes,
    .commit = vr_jobs_commit,
    .exit = vr_jobs_exit,
};
