
/*
 * Copyright (C) nginx-dub developers
 */


#include "tap.h"
#include "dub_limit.h"


static void
test_burst(void)
{
    int          i, passed;
    int64_t      span;
    uint64_t     summary, total;
    dub_limit_t  l = { 0, 0, 0 };

    passed = 0;
    total = 0;

    /* 3000 lines in 3 s from t = 1000 */

    for (i = 0; i < 3000; i++) {
        passed += dub_limit(&l, 1000 + i, 10, 10000, &summary, &span);
        total += summary;
    }

    is(passed, 10, "10 of 3000 lines in one interval pass");
    is(total, 0, "no summary while the interval lasts");
    is(l.suppressed, 2990, "the others are counted");
    is(dub_limit_due(&l, 10000), 11000, "their summary is due at its end");

    is(dub_limit_flush(&l, 10999, 10000, &span), 0,
       "nothing to report before the end");
    is(dub_limit_flush(&l, 11000, 10000, &span), 2990,
       "2990 to report at the end");
    is(span, 10000, "over 10 s");
    is(dub_limit_flush(&l, 12000, 10000, &span), 0, "reported once");
    is(dub_limit_due(&l, 10000), -1, "nothing due");

    ok(dub_limit(&l, 30000, 10, 10000, &summary, &span) && summary == 0,
       "a line after a quiet time passes, no summary with it");
    is(l.start, 30000, "and opens an interval");
}


static void
test_next_line(void)
{
    int          i, passed;
    int64_t      span;
    uint64_t     summary;
    dub_limit_t  l = { 0, 0, 0 };

    passed = 0;

    for (i = 0; i < 25; i++) {
        passed += dub_limit(&l, 500, 5, 10000, &summary, &span);
    }

    is(passed, 5, "burst of 5");

    ok(dub_limit(&l, 12500, 5, 10000, &summary, &span),
       "the next line after the interval passes");
    is(summary, 20, "carrying the summary of the 20 held back");
    is(span, 12000, "over the 12 s since the interval began");
    is(l.start, 12500, "a new interval");
    is(dub_limit_due(&l, 10000), -1, "nothing due any more");
    is(dub_limit_flush(&l, 30000, 10000, &span), 0,
       "nothing left to flush");
}


static void
test_steady(void)
{
    int          i, passed;
    int64_t      span;
    uint64_t     summary, total;
    dub_limit_t  l = { 0, 0, 0 };

    passed = 0;
    total = 0;

    /* a line a second for a minute, burst 10 per 10 s: all pass */

    for (i = 0; i < 60; i++) {
        passed += dub_limit(&l, (int64_t) i * 1000, 10, 10000, &summary,
                            &span);
        total += summary;
    }

    is(passed, 60, "a line a second passes whole");
    is(total, 0, "with no summary");

    /* 100 lines a second for 30 s: 10 per interval pass, all counted */

    passed = 0;
    total = 0;

    for (i = 0; i < 3000; i++) {
        passed += dub_limit(&l, 100000 + (int64_t) i * 10, 10, 10000,
                            &summary, &span);
        total += summary;
    }

    total += dub_limit_flush(&l, 200000, 10000, &span);

    is(passed, 30, "10 lines per 10 s interval");
    is(total + passed, 3000, "every line written or counted");
}


static void
test_clock(void)
{
    int64_t      span;
    uint64_t     summary;
    dub_limit_t  l = { 0, 0, 0 };

    ok(dub_limit(&l, 5000, 1, 10000, &summary, &span), "first passes");
    ok(!dub_limit(&l, 5000, 1, 10000, &summary, &span), "second held");

    /* a clock that went back must not make the interval last for ever */
    ok(!dub_limit(&l, 4000, 1, 10000, &summary, &span),
       "earlier time: same interval");
    ok(dub_limit(&l, 15000, 1, 10000, &summary, &span) && summary == 2,
       "the interval still ends on time");
}


int
main(void)
{
    test_burst();
    test_next_line();
    test_steady();
    test_clock();

    return tap_done();
}
