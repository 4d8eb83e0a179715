/*
 * tap.h: a header-only TAP producer for the unit tests (one .c per program).
 *
 *   plan(n)             announce n tests (else done_testing() prints 1..N)
 *   ok(cond, fmt, ...)  one test: "ok N - name" / "not ok N - name"
 *   is_int(g, e, fmt, ...) / is_str(g, e, fmt, ...): equality tests that
 *                       show both values on failure; is_str is NULL-safe
 *                       (NULL equals only NULL)
 *   diag(fmt, ...)      a "# ..." line on stderr
 *   done_testing()      returns the exit status for main: 0 when every test
 *                       passed and the count matches the plan, else 1
 *
 * ok/is_int/is_str return whether the test passed.  Names are kept on one
 * line (control bytes shown as \xNN) and '#' is escaped (no directives).
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_planned = -1, tap_run, tap_failed;

static inline void plan(int n) { tap_planned = n; printf("1..%d\n", n); }

static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static inline bool
tap_vok(bool pass, const char *fmt, va_list ap)
{
    char name[512];

    vsnprintf(name, sizeof(name), fmt, ap);
    printf("%sok %d - ", pass ? "" : "not ", ++tap_run);
    for (const unsigned char *p = (unsigned char *) name; *p != '\0'; p++) {
        printf(*p < 0x20 || *p == 0x7f ? "\\x%02x" : *p == '#' ? "\\#" : "%c",
               *p);
    }
    putchar('\n');
    fflush(stdout);
    tap_failed += !pass;
    return pass;
}

#define TAP_TEST(pass, fmt) \
    va_list ap; bool r; va_start(ap, fmt); r = tap_vok(pass, fmt, ap); \
    va_end(ap)

static inline bool __attribute__((format(printf, 2, 3)))
ok(bool pass, const char *fmt, ...) { TAP_TEST(pass, fmt); return r; }

#define is_int(got, expected, ...) \
    tap_is_int((long long) (got), (long long) (expected), __VA_ARGS__)

static inline bool __attribute__((format(printf, 3, 4)))
tap_is_int(long long got, long long expected, const char *fmt, ...)
{
    TAP_TEST(got == expected, fmt);
    if (!r) {
        diag("     got: %lld\n#   expected: %lld", got, expected);
    }
    return r;
}

static inline bool __attribute__((format(printf, 3, 4)))
is_str(const char *got, const char *expected, const char *fmt, ...)
{
    TAP_TEST(got && expected ? strcmp(got, expected) == 0 : got == expected,
             fmt);
    if (!r) {
        diag("     got: %s%s%s\n#   expected: %s%s%s", got ? "'" : "",
             got ? got : "NULL", got ? "'" : "", expected ? "'" : "",
             expected ? expected : "NULL", expected ? "'" : "");
    }
    return r;
}

static inline int
done_testing(void)
{
    if (tap_planned < 0) {
        printf("1..%d\n", tap_run);
    } else if (tap_planned != tap_run) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        tap_failed++;
    }
    if (tap_failed > 0) {
        diag("failed %d test(s) of %d", tap_failed, tap_run);
    }
    fflush(stdout);
    return tap_failed > 0 ? 1 : 0;
}

#endif /* TAP_H */
