/*
 * fuzz.h: what every fuzz target shares.
 *
 * A target is one LLVMFuzzerTestOneInput: built with clang
 * -fsanitize=fuzzer it is a libFuzzer program (fuzz/run), linked with
 * fuzz/replay.c it replays its corpus in `make check`.  A property that
 * does not hold is reported with fuzz_fail(), which aborts: libFuzzer
 * then saves the input as a crash.
 */
#ifndef VR_FUZZ_H
#define VR_FUZZ_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static inline void __attribute__((noreturn, format(printf, 1, 2)))
fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("fuzz: property violated: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

#define fuzz_assert(cond, ...)                                            \
    do { if (!(cond)) fuzz_fail(__VA_ARGS__); } while (0)

/* Reads the input as a stream of small decisions. */
typedef struct {
    const uint8_t *p;
    size_t         left;
} fuzz_in_t;

static inline unsigned
fuzz_byte(fuzz_in_t *in)
{
    if (in->left == 0) {
        return 0;
    }
    in->left--;
    return *in->p++;
}

/* Up to n bytes: *len is how many there were. */
static inline const uint8_t *
fuzz_bytes(fuzz_in_t *in, size_t n, size_t *len)
{
    const uint8_t *p = in->p;

    *len = n < in->left ? n : in->left;
    in->p += *len;
    in->left -= *len;
    return p;
}

#endif /* VR_FUZZ_H */
