
/*
 * Copyright (C) nginx-dub developers
 *
 * A rate limiter for repeated log lines: in each interval the first
 * "burst" lines of a kind are written, the others are only counted, and
 * the count is reported once the interval is over.  Time is passed in
 * (ms).  Plain C, no nginx.
 */


#ifndef _DUB_LIMIT_H_INCLUDED_
#define _DUB_LIMIT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    int64_t         start;          /* of the interval, ms */
    unsigned        passed;         /* lines written in it */
    uint64_t        suppressed;     /* lines held back in it */
} dub_limit_t;


/*
 * A line of the kind "l" is about to be written at "now": returns 1 if
 * it may be, 0 if it is held back.  If an interval with held-back lines
 * ended before "now", "*summary" gets their number and "*span" the time
 * they cover (ms), to be reported before this line; otherwise
 * "*summary" is 0.
 */
int dub_limit(dub_limit_t *l, int64_t now, unsigned burst,
    int64_t interval, uint64_t *summary, int64_t *span);

/*
 * The lines held back in an interval that has ended by "now", and the
 * time they cover: for a summary when no line comes to carry it.
 * Returns 0 if there is nothing to report yet.
 */
uint64_t dub_limit_flush(dub_limit_t *l, int64_t now, int64_t interval,
    int64_t *span);

/* when held-back lines are due to be reported (ms), or -1 if none */
int64_t dub_limit_due(const dub_limit_t *l, int64_t interval);


#endif /* _DUB_LIMIT_H_INCLUDED_ */
