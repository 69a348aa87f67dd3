
/*
 * Copyright (C) nginx-dub developers
 */


#include "dub_limit.h"


int
dub_limit(dub_limit_t *l, int64_t now, unsigned burst, int64_t interval,
    uint64_t *summary, int64_t *span)
{
    *summary = 0;
    *span = 0;

    if (l->passed == 0 && l->suppressed == 0) {
        /* the first line after a quiet time opens an interval */
        l->start = now;

    } else if (now - l->start >= interval) {
        *summary = l->suppressed;
        *span = now - l->start;

        l->start = now;
        l->passed = 0;
        l->suppressed = 0;
    }

    if (l->passed < burst) {
        l->passed++;
        return 1;
    }

    l->suppressed++;

    return 0;
}


uint64_t
dub_limit_flush(dub_limit_t *l, int64_t now, int64_t interval,
    int64_t *span)
{
    uint64_t  n;

    *span = 0;

    if (l->suppressed == 0 || now - l->start < interval) {
        return 0;
    }

    n = l->suppressed;
    *span = now - l->start;

    /* a quiet interval: the next line opens a new one */

    l->passed = 0;
    l->suppressed = 0;

    return n;
}


int64_t
dub_limit_due(const dub_limit_t *l, int64_t interval)
{
    if (l->suppressed == 0) {
        return -1;
    }

    return l->start + interval;
}
