/*
 * vr_conf_show.c: the effective configuration as YAML (`voidrail -T`).
 *
 * Each value is printed from the loaded conf by the kind of its setter,
 * in a form the loader reads back to the same value: durations and sizes
 * with the largest exact unit, strings as JSON (which YAML reads).
 * Secrets (VR_CONF_SECRET) appear only as their "sha256:<hex>" digest,
 * which key lists read back as the same key.
 */
#include "config.h"
#include <math.h>
#include <stdio.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_conf.h"
#include "vr_crypto.h"
#include "vr_json.h"

#define vr_show_field(conf, d, type) \
    ((const type *) ((const char *) (conf) + (d)->offset))

static void
vr_show_msec(vr_buf_t *out, vr_msec_t ms)
{
    if (ms != 0 && ms % 3600000 == 0) {
        vr_buf_printf_b(out, "%lldh", (long long) (ms / 3600000));
    } else if (ms != 0 && ms % 60000 == 0) {
        vr_buf_printf_b(out, "%lldm", (long long) (ms / 60000));
    } else if (ms % 1000 == 0) {
        vr_buf_printf_b(out, "%llds", (long long) (ms / 1000));
    } else {
        vr_buf_printf_b(out, "%lldms", (long long) ms);
    }
}

static void
vr_show_size(vr_buf_t *out, int64_t v)
{
    static const struct { int64_t n; const char *unit; } units[] = {
        { 1LL << 30, "GiB" }, { 1LL << 20, "MiB" }, { 1LL << 10, "KiB" },
    };

    for (size_t i = 0; i < vr_nelems(units); i++) {
        if (v != 0 && v % units[i].n == 0) {
            vr_buf_printf_b(out, "%lld%s", (long long) (v / units[i].n),
                            units[i].unit);
            return;
        }
    }
    vr_buf_printf_b(out, "%lld", (long long) v);
}

static bool
vr_show_whole(double x)
{
    return fabs(x - round(x)) < 1e-9 * fmax(1, x);
}

/* A rate in the largest unit that shows it as a whole number. */
static void
vr_show_rate(vr_buf_t *out, double per_s)
{
    if (vr_show_whole(per_s)) {
        vr_buf_printf_b(out, "%.0f/s", per_s);
    } else if (vr_show_whole(per_s * 60)) {
        vr_buf_printf_b(out, "%.0f/m", per_s * 60);
    } else if (vr_show_whole(per_s * 3600)) {
        vr_buf_printf_b(out, "%.0f/h", per_s * 3600);
    } else {
        vr_buf_printf_b(out, "%.17g/s", per_s);
    }
}

/*
 * A string value; a secret as its digest (a malformed one as "sha256:?",
 * an unset one as "").
 */
static void
vr_show_str(vr_buf_t *out, const char *s, bool secret)
{
    vr_digest_t d;
    char        hex[2 * VR_DIGEST_LEN + 1];

    if (!secret || s[0] == '\0') {
        vr_json_escape(out, s, strlen(s));
    } else if (vr_key_digest(s, &d) == VR_OK) {
        vr_digest_hex(&d, hex);
        vr_buf_printf_b(out, "\"sha256:%s\"", hex);
    } else {
        vr_buf_adds(out, "\"sha256:?\"");
    }
}

static void
vr_show_strs(vr_buf_t *out, const vr_strs_t *s, bool secret)
{
    vr_buf_addc(out, '[');
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0) {
            vr_buf_adds(out, ", ");
        }
        vr_show_str(out, s->v[i], secret);
    }
    vr_buf_addc(out, ']');
}

/* Is the directive's value the zero of a key that has no default? */
static bool
vr_show_unset(const vr_directive_t *d, const void *conf)
{
    if (d->dflt != NULL) {
        return false;
    }
    if (d->set == vr_conf_set_msec || d->set == vr_conf_set_int
        || d->set == vr_conf_set_size)
    {
        return *vr_show_field(conf, d, int64_t) == 0;
    }
    if (d->set == vr_conf_set_str) {
        return *vr_show_field(conf, d, char *) == NULL;
    }
    return false;
}

void
vr_conf_show(vr_buf_t *out, int indent, const vr_directive_t *table,
             const void *conf)
{
    for (const vr_directive_t *d = table; d->name != NULL; d++) {
        if (vr_show_unset(d, conf)) {
            continue;
        }
        bool secret = (d->flags & VR_CONF_SECRET) != 0;

        vr_buf_printf_b(out, "%*s%s:", indent, "", d->name);
        if (d->set != vr_conf_set_blocks && d->set != vr_conf_set_block_list
            && d->set != vr_conf_set_block)
        {
            vr_buf_addc(out, ' ');
        }
        if (d->set == vr_conf_set_str) {
            vr_show_str(out, *vr_show_field(conf, d, char *), secret);
        } else if (d->set == vr_conf_set_block) {
            vr_buf_addc(out, '\n');
            vr_conf_show(out, indent + 2, d->post,
                         (const char *) conf + d->offset);
            out->len--;                 /* the last newline: added below */
        } else if (d->set == vr_conf_set_flag) {
            vr_buf_adds(out, *vr_show_field(conf, d, bool) ? "true" : "false");
        } else if (d->set == vr_conf_set_int) {
            vr_buf_printf_b(out, "%lld",
                            (long long) *vr_show_field(conf, d, int64_t));
        } else if (d->set == vr_conf_set_msec) {
            vr_show_msec(out, *vr_show_field(conf, d, vr_msec_t));
        } else if (d->set == vr_conf_set_rate) {
            vr_show_rate(out, *vr_show_field(conf, d, double));
        } else if (d->set == vr_conf_set_size) {
            vr_show_size(out, *vr_show_field(conf, d, int64_t));
        } else if (d->set == vr_conf_set_enum) {
            vr_buf_adds(out, ((const char *const *) d->post)
                             [*vr_show_field(conf, d, int)]);
        } else if (d->set == vr_conf_set_blocks) {
            const vr_conf_blocks_t *b = d->post;
            const vr_blocks_t      *blocks = vr_show_field(conf, d, vr_blocks_t);

            if (blocks->n == 0) {
                vr_buf_adds(out, " {}");
            }
            for (size_t i = 0; i < blocks->n; i++) {
                const char *elt = (const char *) blocks->elts + i * b->elt_size;
                const char *name = *(char *const *) elt;

                vr_buf_printf_b(out, "\n%*s", indent + 2, "");
                vr_json_escape(out, name, strlen(name));
                vr_buf_adds(out, ":\n");
                vr_conf_show(out, indent + 4, b->directives, elt);
                out->len--;             /* the last newline: added below */
            }
        } else if (d->set == vr_conf_set_block_list) {
            const vr_conf_blocks_t *b = d->post;
            const vr_blocks_t      *blocks = vr_show_field(conf, d, vr_blocks_t);

            if (blocks->n == 0) {
                vr_buf_adds(out, " []");
            }
            for (size_t i = 0; i < blocks->n; i++) {
                vr_buf_t item = VR_BUF_INIT;

                vr_conf_show(&item, indent + 4, b->directives,
                             (const char *) blocks->elts + i * b->elt_size);
                /* "- " takes the place of the first key's indentation. */
                vr_buf_printf_b(out, "\n%*s- %s", indent + 2, "",
                                item.p + indent + 4);
                vr_buf_free(&item);
                out->len--;
            }
        } else if (d->set == vr_conf_set_strmap) {
            const vr_strmap_t *map = vr_show_field(conf, d, vr_strmap_t);

            vr_buf_addc(out, '{');
            for (size_t i = 0; i < map->n; i++) {
                vr_buf_adds(out, i ? ", " : "");
                vr_json_escape(out, map->keys[i], strlen(map->keys[i]));
                vr_buf_adds(out, ": ");
                vr_json_escape(out, map->values[i], strlen(map->values[i]));
            }
            vr_buf_addc(out, '}');
        } else {
            vr_show_strs(out, vr_show_field(conf, d, vr_strs_t), secret);
        }
        vr_buf_addc(out, '\n');
    }
}
