
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "dub_breaker.h"


void
dub_breaker_init(dub_breaker_t *b, unsigned threshold, int64_t cooldown)
{
    memset(b, 0, sizeof(dub_breaker_t));

    b->threshold = threshold ? threshold : 1;
    b->cooldown = cooldown;
    b->state = DUB_BREAKER_CLOSED;
}


int
dub_breaker_state(dub_breaker_t *b, int64_t now)
{
    if (b->state == DUB_BREAKER_OPEN && now - b->opened_at >= b->cooldown) {
        b->state = DUB_BREAKER_HALF_OPEN;
        b->probing = 0;
    }

    return b->state;
}


int
dub_breaker_allow(dub_breaker_t *b, int64_t now)
{
    switch (dub_breaker_state(b, now)) {

    case DUB_BREAKER_CLOSED:
        return 1;

    case DUB_BREAKER_HALF_OPEN:
        if (b->probing) {
            return 0;
        }

        b->probing = 1;
        return 1;

    default:
        return 0;
    }
}


void
dub_breaker_success(dub_breaker_t *b)
{
    b->state = DUB_BREAKER_CLOSED;
    b->failures = 0;
    b->probing = 0;
}


int
dub_breaker_failure(dub_breaker_t *b, int retryable, int64_t now)
{
    if (!retryable) {
        /* not the STS being unwell: neither counts nor resets */
        if (b->state == DUB_BREAKER_HALF_OPEN) {
            b->probing = 0;
        }

        return 0;
    }

    if (b->state == DUB_BREAKER_OPEN) {
        return 0;
    }

    if (b->state == DUB_BREAKER_HALF_OPEN
        || ++b->failures >= b->threshold)
    {
        b->state = DUB_BREAKER_OPEN;
        b->opened_at = now;
        b->failures = 0;
        b->probing = 0;
        b->opens++;
        return 1;
    }

    return 0;
}


void
dub_breaker_probe_lost(dub_breaker_t *b)
{
    if (b->state == DUB_BREAKER_HALF_OPEN) {
        b->probing = 0;
    }
}


int64_t
dub_backoff(const int64_t *schedule, size_t n, unsigned attempt)
{
    if (n == 0) {
        return 0;
    }

    return schedule[attempt < n ? attempt : n - 1];
}
