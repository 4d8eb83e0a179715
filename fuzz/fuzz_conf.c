/*
 * fuzz_conf.c: the YAML configuration loader (src/vr_conf*.c and every
 * module's directive table and checks), as `voidrail -t` and SIGHUP run
 * it on a file an operator wrote.
 *
 * The input is the file.  It loads, or is refused with one message of the
 * form "NAME:LINE:COL: ..."; either way nothing leaks.  What loads is
 * shown as `voidrail -T` shows it; that text must load again, and show
 * again to exactly the same text.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vr_core.h"
#include "vr_buf.h"
#include "vr_cycle.h"
#include "vr_log.h"
#include "vr_module.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    /* Keys from the environment would be added to those of the file. */
    unsetenv("VOIDRAIL_DEALER_API_KEYS");
    unsetenv("VOIDRAIL_CLIENT_API_KEYS");
    vr_log_level = VR_LOG_ERROR + 1;
    vr_modules_index();
    return 0;
}

/* "NAME:LINE:COL: text" */
static void
check_message(const char *name, const char *err)
{
    size_t      n = strlen(name);
    const char *p = err + n;
    char       *end;

    fuzz_assert(err != NULL && strncmp(err, name, n) == 0 && *p == ':',
                "error message does not start with the file name: %s", err);
    fuzz_assert(strtoul(p + 1, &end, 10) >= 1 && *end == ':',
                "error message has no line: %s", err);
    fuzz_assert(strtoul(end + 1, &end, 10) >= 1 && end[0] == ':'
                && end[1] == ' ' && end[2] != '\0',
                "error message has no column or text: %s", err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char       *text = malloc(size + 1);
    char       *err = NULL;
    vr_cycle_t *c, *again;
    vr_buf_t    shown = VR_BUF_INIT, reshown = VR_BUF_INIT;

    if (text == NULL) {
        abort();
    }
    /* The loader reads a C string: a NUL ends the file there. */
    memcpy(text, data, size);
    text[size] = '\0';
    c = vr_cycle_load("fuzz.yaml", text, &err);
    free(text);
    if (c == NULL) {
        check_message("fuzz.yaml", err);
        free(err);
        return 0;
    }
    fuzz_assert(err == NULL, "a loaded file with an error: %s", err);

    vr_cycle_show(c, &shown);
    again = vr_cycle_load("shown.yaml", shown.p, &err);
    if (again == NULL) {
        fuzz_fail("what -T shows does not load: %s\n--- shown:\n%s", err,
                  shown.p);
    }
    vr_cycle_show(again, &reshown);
    fuzz_assert(shown.len == reshown.len
                && memcmp(shown.p, reshown.p, shown.len) == 0,
                "-T of what -T showed differs\n--- first:\n%s\n"
                "--- second:\n%s",
                shown.p, reshown.p);
    vr_buf_free(&shown);
    vr_buf_free(&reshown);
    vr_cycle_destroy(&again);
    vr_cycle_destroy(&c);
    return 0;
}
