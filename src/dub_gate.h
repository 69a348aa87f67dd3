
/*
 * Copyright (C) nginx-dub developers
 *
 * The two decisions of an STS session, as plain functions of its state
 * and of the time (ms) given: may the next fragment go to the STS now
 * (the send gate: a ready session, a place in flight, no pause, the
 * slow_down spacing, the breaker), and what a segment carries when the
 * output reaches it (its dubbed audio, or the reason it has none).
 * Plain C, no nginx.
 */


#ifndef _DUB_GATE_H_INCLUDED_
#define _DUB_GATE_H_INCLUDED_


#include <stdint.h>

#include "dub_breaker.h"
#include "dub_reason.h"


/* the session's link to its STS */
#define DUB_LINK_DOWN           0       /* no connection */
#define DUB_LINK_CONNECTING     1       /* no stream:ready yet */
#define DUB_LINK_READY          2

/* backpressure actions: dub_json_bp_names[] */
#define DUB_BP_NONE             0
#define DUB_BP_SLOW_DOWN        1
#define DUB_BP_PAUSE            2
#define DUB_BP_N                3


typedef enum {
    DUB_FRAG_NONE = 0,          /* no fragment for the segment */
    DUB_FRAG_PACKING,           /* its audio being packed */
    DUB_FRAG_QUEUED,            /* waiting for the gate */
    DUB_FRAG_SENT,              /* in flight */
    DUB_FRAG_EXPIRED,           /* fell back, still in flight */
    DUB_FRAG_RECEIVED,          /* answered, its audio being decoded */
    DUB_FRAG_DUBBED,
    DUB_FRAG_FALLBACK
} dub_frag_state_e;


typedef enum {
    DUB_GATE_SEND = 0,
    DUB_GATE_PROBE,             /* the breaker's half-open probe */
    DUB_GATE_HOLD
} dub_gate_e;


typedef struct {
    int                 link;
    int                 bp_action;
    int64_t             bp_delay;       /* slow_down: between two sends */
    int64_t             last_send;      /* -1: nothing sent yet */
    unsigned            inflight;
    unsigned            max_inflight;
    dub_breaker_t       breaker;
} dub_gate_t;


/*
 * May the next fragment go at "now"?  SEND, or PROBE (the breaker is
 * half-open and this is its one probe), or HOLD with "why" (the reason a
 * fragment waiting falls back with if its slot comes first) and "at", the
 * time to look again (-1: when something else changes).
 */
dub_gate_e dub_gate_send(dub_gate_t *g, int64_t now, dub_fallback_e *why,
    int64_t *at);

/*
 * The output reached a segment whose fragment is in "state": DUB_FB_LAST
 * if its dubbed audio is there, otherwise the reason it goes out with its
 * original audio.  "reason" is that of a fragment fallen back already (or
 * of a segment without fragment), "blocked" what holds the send queue.
 */
dub_fallback_e dub_gate_slot(dub_frag_state_e state, dub_fallback_e reason,
    dub_fallback_e blocked);


#endif /* _DUB_GATE_H_INCLUDED_ */
