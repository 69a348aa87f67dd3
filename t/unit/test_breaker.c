
/*
 * Copyright (C) nginx-dub developers
 */


#include "tap.h"
#include "dub_breaker.h"


static void
test_breaker(void)
{
    int            i, opened;
    dub_breaker_t  b;

    dub_breaker_init(&b, 5, 30000);

    ok(dub_breaker_allow(&b, 0), "closed allows");

    for (i = 0; i < 4; i++) {
        opened = dub_breaker_failure(&b, 1, 1000 + i);
    }

    ok(!opened && dub_breaker_state(&b, 2000) == DUB_BREAKER_CLOSED,
       "4 retryable failures keep it closed");

    dub_breaker_failure(&b, 0, 2100);
    dub_breaker_failure(&b, 0, 2200);
    ok(dub_breaker_state(&b, 2300) == DUB_BREAKER_CLOSED,
       "non-retryable failures do not count");

    ok(dub_breaker_failure(&b, 1, 3000), "the 5th retryable opens it");
    is(dub_breaker_state(&b, 3001), DUB_BREAKER_OPEN, "open");
    ok(!dub_breaker_allow(&b, 20000), "open refuses");
    is(b.opens, 1, "opened once");

    is(dub_breaker_state(&b, 32999), DUB_BREAKER_OPEN,
       "still open before the cooldown");
    is(dub_breaker_state(&b, 33000), DUB_BREAKER_HALF_OPEN,
       "half-open after 30 s");
    ok(dub_breaker_allow(&b, 33000), "one probe allowed");
    ok(!dub_breaker_allow(&b, 33001), "a second one is not");

    ok(dub_breaker_failure(&b, 1, 34000), "failed probe opens it again");
    is(dub_breaker_state(&b, 34001), DUB_BREAKER_OPEN, "open again");
    is(dub_breaker_state(&b, 64000), DUB_BREAKER_HALF_OPEN,
       "cooldown counted from the re-opening");

    ok(dub_breaker_allow(&b, 64000), "probe");
    dub_breaker_probe_lost(&b);
    ok(dub_breaker_allow(&b, 64001), "a lost probe frees the next one");

    dub_breaker_success(&b);
    is(dub_breaker_state(&b, 64002), DUB_BREAKER_CLOSED,
       "successful probe closes it");

    for (i = 0; i < 4; i++) {
        dub_breaker_failure(&b, 1, 65000);
    }

    dub_breaker_success(&b);
    dub_breaker_failure(&b, 1, 65001);
    ok(dub_breaker_state(&b, 65002) == DUB_BREAKER_CLOSED,
       "a success resets the count");

    dub_breaker_init(&b, 2, 10);
    dub_breaker_failure(&b, 1, 0);
    dub_breaker_failure(&b, 1, 0);
    is(dub_breaker_state(&b, 9), DUB_BREAKER_OPEN, "short threshold");
    ok(dub_breaker_allow(&b, 10), "short cooldown");
    dub_breaker_failure(&b, 0, 11);
    ok(dub_breaker_allow(&b, 12),
       "a non-retryable probe result lets another probe go");
}


static void
test_backoff(void)
{
    int64_t  s[] = { 2000, 4000, 8000, 16000, 32000 };

    is(dub_backoff(s, 5, 0), 2000, "first retry after 2 s");
    is(dub_backoff(s, 5, 4), 32000, "fifth after 32 s");
    is(dub_backoff(s, 5, 5), 32000, "then the last interval");
    is(dub_backoff(s, 5, 1000), 32000, "for ever");
    is(dub_backoff(s, 0, 3), 0, "empty schedule");
}


int
main(void)
{
    test_breaker();
    test_backoff();

    return tap_done();
}
