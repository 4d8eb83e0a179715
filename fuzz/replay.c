/*
 * replay.c: runs a fuzz target's LLVMFuzzerTestOneInput over a corpus,
 * without libFuzzer, and prints TAP: one test per input file.
 *
 *   fuzz/replay_json [FILE|DIR]...
 *
 * With no argument it replays the target's checked-in corpus,
 * $VR_SRCDIR/fuzz/corpus/<target> (VR_SRCDIR as `make check` sets it, else
 * the source directory this program was built from).  A crash, a sanitizer
 * report or a leak (under valgrind, or -fsanitize=address) fails the run;
 * an input slower than VR_FUZZ_SLOW_MS (default 10000) is a failed test.
 * Each input is copied into a buffer of exactly its size, as libFuzzer
 * does, so that an overread is caught by ASan or valgrind.
 */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET (the corpus name, e.g. \"fuzz_json\") must be defined"
#endif
#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int tests, failed;

static double
now_ms(void)
{
    struct timespec ts;

    /* Not CLOCK_MONOTONIC: fuzz_wire makes that one a virtual clock. */
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

/* The name as a TAP test name: one line, no '#'. */
static void
print_name(const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        printf(*p < 0x20 || *p == 0x7f ? "\\x%02x" : *p == '#' ? "\\#" : "%c",
               *p);
    }
}

static void
run_file(const char *path)
{
    FILE    *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t   len = 0, cap = 0, n;
    double   start, ms, slow_ms = 10000;
    const char *slow = getenv("VR_FUZZ_SLOW_MS");

    if (slow != NULL && atof(slow) > 0) {
        slow_ms = atof(slow);
    }
    tests++;
    if (f == NULL) {
        printf("not ok %d - ", tests);
        print_name(path);
        printf(": %s\n", strerror(errno));
        failed++;
        return;
    }
    do {
        if (cap - len < 4096) {
            cap = cap ? cap * 2 : 65536;
            data = realloc(data, cap);
            if (data == NULL) {
                abort();
            }
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);

    /* Exactly len bytes: reading one past the end is an error. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        abort();
    }
    memcpy(exact, data, len);
    free(data);
    fflush(stdout);
    start = now_ms();
    LLVMFuzzerTestOneInput(exact, len);
    ms = now_ms() - start;
    free(exact);

    printf("%sok %d - ", ms > slow_ms ? "not " : "", tests);
    print_name(path);
    printf(" (%zu bytes)\n", len);
    if (ms > slow_ms) {
        printf("# slow input: %.0f ms (over %.0f ms)\n", ms, slow_ms);
        failed++;
    }
    fflush(stdout);
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
run_path(const char *path)
{
    struct stat    st;
    DIR           *dir;
    struct dirent *e;
    char         **names = NULL;
    size_t         n = 0, cap = 0;

    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        run_file(path);
        return;
    }
    dir = opendir(path);
    if (dir == NULL) {
        run_file(path);             /* reports the error */
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(char *));
            if (names == NULL) {
                abort();
            }
        }
        names[n] = malloc(strlen(path) + strlen(e->d_name) + 2);
        if (names[n] == NULL) {
            abort();
        }
        sprintf(names[n], "%s/%s", path, e->d_name);
        n++;
    }
    closedir(dir);
    qsort(names, n, sizeof(char *), by_name);
    for (size_t i = 0; i < n; i++) {
        run_path(names[i]);
        free(names[i]);
    }
    free(names);
}

int
main(int argc, char **argv)
{
    char  dflt[4096];

    if (LLVMFuzzerInitialize != NULL) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            run_path(argv[i]);
        }
    } else {
        const char *srcdir = getenv("VR_SRCDIR");

        snprintf(dflt, sizeof(dflt), "%s/fuzz/corpus/%s",
                 srcdir != NULL && srcdir[0] != '\0' ? srcdir : FUZZ_SRCDIR,
                 FUZZ_TARGET);
        run_path(dflt);
    }
    if (tests == 0) {
        printf("1..0 # SKIP no inputs\n");
        return 0;
    }
    printf("1..%d\n", tests);
    return failed ? 1 : 0;
}
