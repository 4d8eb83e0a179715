/*
 * vr_embed.c: looking up the files compiled into the gateway
 * (see vr_embed.h).
 */
#include "config.h"
#include <string.h>

#include "vr_embed.h"

const vr_embedded_file_t *
vr_embedded_find(const char *name)
{
    for (const vr_embedded_file_t *f = vr_embedded_files; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            return f;
        }
    }
    return NULL;
}
