
/*
 * Copyright (C) nginx-dub developers
 *
 * A few TAP helpers for the C unit tests (run by prove).
 */


#ifndef _DUB_TAP_H_INCLUDED_
#define _DUB_TAP_H_INCLUDED_


#include <stdio.h>
#include <stdarg.h>
#include <stdint.h>


static int  tap_n;
static int  tap_failed;


#define ok(cond, ...)                                                        \
    tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define is(got, want, ...)                                                   \
    tap_is((int64_t) (got), (int64_t) (want), __FILE__, __LINE__,           \
           __VA_ARGS__)


static void
tap_name(const char *fmt, va_list ap)
{
    vprintf(fmt, ap);
    printf("\n");
}


static __attribute__((unused)) int
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
    va_list  ap;

    tap_n++;

    printf("%sok %d - ", pass ? "" : "not ", tap_n);

    va_start(ap, fmt);
    tap_name(fmt, ap);
    va_end(ap);

    if (!pass) {
        tap_failed++;
        printf("#   failed at %s line %d\n", file, line);
    }

    return pass;
}


static __attribute__((unused)) int
tap_is(int64_t got, int64_t want, const char *file, int line,
    const char *fmt, ...)
{
    va_list  ap;
    int      pass;

    pass = (got == want);
    tap_n++;

    printf("%sok %d - ", pass ? "" : "not ", tap_n);

    va_start(ap, fmt);
    tap_name(fmt, ap);
    va_end(ap);

    if (!pass) {
        tap_failed++;
        printf("#   failed at %s line %d\n#          got: %lld\n"
               "#     expected: %lld\n", file, line, (long long) got,
               (long long) want);
    }

    return pass;
}


static __attribute__((unused)) int
tap_done(void)
{
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}


#endif /* _DUB_TAP_H_INCLUDED_ */
