/*
 * vr_client_caps.c: a bounded table of client identities and the
 * capabilities they announced, least recently seen forgotten first.
 */
#include "config.h"

#include "vr_client_caps.h"

struct vr_client_cap_s {
    unsigned char                  *cid;
    size_t                          cid_len;
    unsigned                        caps;
    UT_hash_handle                  hh;
    TAILQ_ENTRY(vr_client_cap_s)    lru;
};

static const struct {
    const char *name;
    unsigned    bit;
} vr_client_cap_names[] = {
    { "request_id_errors", VR_CLIENT_CAP_RID_ERRORS },
};

void
vr_client_caps_init(vr_client_caps_t *t)
{
    t->byid = NULL;
    TAILQ_INIT(&t->lru);
    t->n = 0;
}

static void
vr_client_caps_forget(vr_client_caps_t *t, vr_client_cap_t *c)
{
    HASH_DEL(t->byid, c);
    TAILQ_REMOVE(&t->lru, c, lru);
    t->n--;
    free(c->cid);
    free(c);
}

void
vr_client_caps_free(vr_client_caps_t *t)
{
    vr_client_caps_trim(t, 0);
}

unsigned
vr_client_caps_parse(const json_t *list)
{
    unsigned    caps = 0;
    size_t      i, k;
    json_t     *v;

    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);

        for (k = 0; s != NULL && k < vr_nelems(vr_client_cap_names); k++) {
            if (strcmp(s, vr_client_cap_names[k].name) == 0) {
                caps |= vr_client_cap_names[k].bit;
            }
        }
    }
    return caps;
}

void
vr_client_caps_set(vr_client_caps_t *t, const void *cid, size_t cid_len,
                   unsigned caps, size_t max)
{
    vr_client_cap_t *c;

    HASH_FIND(hh, t->byid, cid, cid_len, c);
    if (caps == 0 || max == 0) {
        if (c != NULL) {
            vr_client_caps_forget(t, c);
        }
        return;
    }
    if (c == NULL) {
        c = vr_calloc(1, sizeof(*c));
        c->cid = vr_memdup(cid, cid_len);
        c->cid_len = cid_len;
        HASH_ADD_KEYPTR(hh, t->byid, c->cid, c->cid_len, c);
        t->n++;
    } else {
        TAILQ_REMOVE(&t->lru, c, lru);
    }
    c->caps = caps;
    TAILQ_INSERT_HEAD(&t->lru, c, lru);
    vr_client_caps_trim(t, max);
}

unsigned
vr_client_caps_get(vr_client_caps_t *t, const void *cid, size_t cid_len)
{
    vr_client_cap_t *c;

    if (t->n == 0) {
        return 0;
    }
    HASH_FIND(hh, t->byid, cid, cid_len, c);
    if (c == NULL) {
        return 0;
    }
    if (TAILQ_FIRST(&t->lru) != c) {
        TAILQ_REMOVE(&t->lru, c, lru);
        TAILQ_INSERT_HEAD(&t->lru, c, lru);
    }
    return c->caps;
}

void
vr_client_caps_trim(vr_client_caps_t *t, size_t max)
{
    while (t->n > max) {
        vr_client_caps_forget(t, TAILQ_LAST(&t->lru, vr_client_cap_lru_s));
    }
}
