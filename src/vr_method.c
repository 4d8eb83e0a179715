/*
 * vr_method.c: the method table (see vr_method.h).
 */
#include "config.h"
#include <fnmatch.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_broker.h"
#include "vr_dealer.h"
#include "vr_log.h"
#include "vr_method.h"
#include "vr_request.h"

static void vr_method_on_no_service(vr_timer_t *t);
static void vr_method_on_keep(vr_timer_t *t);

vr_method_t *
vr_method_find(vr_broker_t *b, const char *name, size_t len)
{
    vr_method_t *m;

    HASH_FIND(hh, b->methods, name, len, m);
    return m;
}

vr_method_t *
vr_method_get(vr_broker_t *b, const char *name, size_t len)
{
    vr_method_t *m = vr_method_find(b, name, len);

    if (m != NULL) {
        return m;
    }
    m = vr_calloc(1, sizeof(*m));
    m->name = vr_strndup(name, len);
    m->name_len = len;
    TAILQ_INIT(&m->queue);
    m->broker = b;
    vr_timer_init(&m->no_service, vr_method_on_no_service, m);
    vr_timer_init(&m->keep, vr_method_on_keep, m);
    HASH_ADD_KEYPTR(hh, b->methods, m->name, m->name_len, m);
    return m;
}

static void
vr_method_free(vr_broker_t *b, vr_method_t *m)
{
    HASH_DEL(b->methods, m);
    vr_timer_del(b->loop, &m->no_service);
    vr_timer_del(b->loop, &m->keep);
    free(m->dealers);
    free(m->name);
    free(m);
}

bool
vr_method_in_use(const vr_method_t *m)
{
    return m->refs > 0 || m->ndealers > 0;
}

void
vr_method_release(vr_broker_t *b, vr_method_t *m)
{
    if (vr_method_in_use(m)) {
        return;
    }
    if (m->offered && !b->stopped) {
        vr_timer_add(b->loop, &m->keep, VR_METHOD_KEEP_MS);
    } else {
        vr_method_free(b, m);
    }
}

static void
vr_method_on_keep(vr_timer_t *t)
{
    vr_method_t *m = t->data;

    if (!vr_method_in_use(m)) {
        vr_method_free(m->broker, m);
    }
}

void
vr_method_add_dealer(vr_broker_t *b, vr_method_t *m, vr_dealer_t *d)
{
    for (size_t i = 0; i < m->ndealers; i++) {
        if (m->dealers[i] == d) {
            return;
        }
    }
    if (m->ndealers == m->dealers_cap) {
        m->dealers_cap = m->dealers_cap ? m->dealers_cap * 2 : 4;
        m->dealers = vr_realloc(m->dealers,
                                m->dealers_cap * sizeof(vr_dealer_t *));
    }
    m->dealers[m->ndealers++] = d;
    m->offered = true;
    vr_timer_del(b->loop, &m->no_service);
    vr_timer_del(b->loop, &m->keep);
}

void
vr_method_remove_dealer(vr_broker_t *b, vr_method_t *m, vr_dealer_t *d)
{
    for (size_t i = 0; i < m->ndealers; i++) {
        if (m->dealers[i] == d) {
            memmove(&m->dealers[i], &m->dealers[i + 1],
                    (m->ndealers - i - 1) * sizeof(vr_dealer_t *));
            m->ndealers--;
            break;
        }
    }
}

size_t
vr_method_live_dealers(const vr_method_t *m)
{
    size_t n = 0;

    for (size_t i = 0; i < m->ndealers; i++) {
        if (vr_dealer_takes_work(m->dealers[i])) {
            n++;
        }
    }
    return n;
}

const vr_method_policy_t *
vr_method_policy(vr_broker_t *b, vr_method_t *m)
{
    if (m->policy_generation != b->generation) {
        m->policy = vr_broker_policy(b, m->name);
        m->policy_generation = b->generation;
    }
    return m->policy;
}

vr_msec_t
vr_method_timeout_ms(vr_broker_t *b, vr_method_t *m)
{
    const vr_method_policy_t *p = vr_method_policy(b, m);

    return p != NULL && p->timeout_ms > 0 ? p->timeout_ms
                                          : b->conf->request_timeout_ms;
}

size_t
vr_method_max_queue(vr_broker_t *b, vr_method_t *m)
{
    const vr_method_policy_t *p = vr_method_policy(b, m);

    return (size_t) (p != NULL && p->max_queue > 0 ? p->max_queue
                                                   : b->conf->max_queue);
}

unsigned
vr_method_max_attempts(vr_broker_t *b, vr_method_t *m)
{
    const vr_method_policy_t *p = vr_method_policy(b, m);

    return p != NULL && p->max_attempts > 0 ? (unsigned) p->max_attempts : 1;
}

/* Ends every waiting request of m with no_service. */
static void
vr_method_fail_waiting(vr_broker_t *b, vr_method_t *m)
{
    char          text[512];
    vr_request_t *r;

    snprintf(text, sizeof(text), "no live dealer offers %s", m->name);
    /* Failing the last request must not free m under us: the caller
     * releases m when it is done with it. */
    m->refs++;
    while ((r = TAILQ_FIRST(&m->queue)) != NULL) {
        vr_request_fail(r, VR_CODE_NO_SERVICE, text);
    }
    m->refs--;
}

static void
vr_method_on_no_service(vr_timer_t *t)
{
    vr_method_t *m = t->data;

    if (vr_method_live_dealers(m) == 0) {
        vr_method_fail_waiting(m->broker, m);
        vr_method_release(m->broker, m);
    }
}

void
vr_method_check_service(vr_broker_t *b, vr_method_t *m)
{
    if (m->queue_len == 0 || vr_method_live_dealers(m) > 0) {
        return;
    }
    if (b->conf->no_service_wait_ms == 0) {
        vr_method_fail_waiting(b, m);
    } else if (!vr_timer_armed(&m->no_service)) {
        vr_timer_add(b->loop, &m->no_service, b->conf->no_service_wait_ms);
    }
}

void
vr_method_destroy_all(vr_broker_t *b)
{
    vr_method_t *m, *tmp;

    HASH_ITER(hh, b->methods, m, tmp) {
        vr_method_free(b, m);
    }
}
