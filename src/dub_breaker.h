
/*
 * Copyright (C) nginx-dub developers
 *
 * The per-stream circuit breaker and the reconnection schedule.  Time is
 * passed in (ms), so both are plain functions of their inputs.  Plain C,
 * no nginx.
 */


#ifndef _DUB_BREAKER_H_INCLUDED_
#define _DUB_BREAKER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* the values of the breaker state gauge */
#define DUB_BREAKER_CLOSED      0
#define DUB_BREAKER_HALF_OPEN   1
#define DUB_BREAKER_OPEN        2


typedef struct {
    unsigned        threshold;      /* retryable failures in a row */
    int64_t         cooldown;       /* ms open before a probe */

    int             state;
    unsigned        failures;
    int64_t         opened_at;
    unsigned        probing:1;      /* the half-open probe is out */

    uint64_t        opens;          /* times it opened */
} dub_breaker_t;


void dub_breaker_init(dub_breaker_t *b, unsigned threshold,
    int64_t cooldown);

/* the state now: an open breaker whose cooldown passed is half-open */
int dub_breaker_state(dub_breaker_t *b, int64_t now);

/*
 * May a fragment be sent now?  Closed: yes.  Half-open: yes for one
 * probe, then no until its result.  Open: no.
 */
int dub_breaker_allow(dub_breaker_t *b, int64_t now);

void dub_breaker_success(dub_breaker_t *b);

/*
 * A failed fragment.  Only retryable failures count (timeouts included);
 * a failed probe opens the breaker again.  Returns 1 when this failure
 * opened it.
 */
int dub_breaker_failure(dub_breaker_t *b, int retryable, int64_t now);

/* the probe ended without saying anything about the STS: allow another */
void dub_breaker_probe_lost(dub_breaker_t *b);

/*
 * The delay before reconnection attempt "attempt" (0-based): the
 * schedule's entries in turn, then its last entry for ever.
 */
int64_t dub_backoff(const int64_t *schedule, size_t n, unsigned attempt);


#endif /* _DUB_BREAKER_H_INCLUDED_ */
