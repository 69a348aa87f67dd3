
/*
 * Copyright (C) nginx-dub developers
 *
 * The send gate and the slot decision, every gate and every fallback
 * reason, in milliseconds.
 */


#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "dub_gate.h"


static void
gate_init(dub_gate_t *g)
{
    memset(g, 0, sizeof(dub_gate_t));

    g->link = DUB_LINK_READY;
    g->last_send = -1;
    g->max_inflight = 3;

    dub_breaker_init(&g->breaker, 5, 30000);
}


int
main(void)
{
    int             i;
    int64_t         at;
    dub_gate_t      g;
    dub_fallback_e  why;

    /* the link */

    gate_init(&g);
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_SEND, "ready: send");

    g.link = DUB_LINK_DOWN;
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_HOLD, "no connection: hold");
    is(why, DUB_FB_STS_UNAVAILABLE, "... as sts_unavailable");
    is(at, -1, "... until the connection comes");

    g.link = DUB_LINK_CONNECTING;
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_HOLD, "no ready: hold");
    is(why, DUB_FB_NOT_READY, "... as not_ready");

    /* backpressure */

    gate_init(&g);
    g.bp_action = DUB_BP_PAUSE;
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_HOLD, "pause: hold");
    is(why, DUB_FB_BACKPRESSURE, "... as backpressure");
    is(at, -1, "... until none");

    gate_init(&g);
    g.bp_action = DUB_BP_SLOW_DOWN;
    g.bp_delay = 3000;
    is(dub_gate_send(&g, 1000, &why, &at), DUB_GATE_SEND,
       "slow_down, nothing sent yet: send");

    g.last_send = 1000;
    is(dub_gate_send(&g, 3999, &why, &at), DUB_GATE_HOLD,
       "slow_down, 2999 ms after a send: hold");
    is(why, DUB_FB_BACKPRESSURE, "... as backpressure");
    is(at, 4000, "... until 3000 ms after the send");
    is(dub_gate_send(&g, 4000, &why, &at), DUB_GATE_SEND,
       "slow_down, 3000 ms after: send");

    /* in flight */

    gate_init(&g);
    g.inflight = 2;
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_SEND, "2 of 3 in flight");
    g.inflight = 3;
    is(dub_gate_send(&g, 0, &why, &at), DUB_GATE_HOLD, "3 of 3: hold");
    is(why, DUB_FB_INFLIGHT_FULL, "... as inflight_full");

    /* the pause wins over a full flight, the link over everything */

    g.bp_action = DUB_BP_PAUSE;
    dub_gate_send(&g, 0, &why, &at);
    is(why, DUB_FB_BACKPRESSURE, "paused and full: backpressure");
    g.link = DUB_LINK_DOWN;
    dub_gate_send(&g, 0, &why, &at);
    is(why, DUB_FB_STS_UNAVAILABLE, "down, paused and full: sts_unavailable");

    /* the breaker: open, half-open with one probe, closed again */

    gate_init(&g);

    for (i = 0; i < 5; i++) {
        dub_breaker_failure(&g.breaker, 1, 10000);
    }

    is(dub_gate_send(&g, 10001, &why, &at), DUB_GATE_HOLD, "open: hold");
    is(why, DUB_FB_BREAKER_OPEN, "... as breaker_open");
    is(at, 40000, "... until the cooldown ends");
    is(dub_gate_send(&g, 39999, &why, &at), DUB_GATE_HOLD,
       "1 ms before the end of the cooldown: hold");
    is(dub_gate_send(&g, 40000, &why, &at), DUB_GATE_PROBE,
       "cooldown over: one probe");
    is(dub_gate_send(&g, 40001, &why, &at), DUB_GATE_HOLD,
       "the probe out: hold");
    is(why, DUB_FB_BREAKER_OPEN, "... as breaker_open");
    is(at, -1, "... until its answer");

    dub_breaker_failure(&g.breaker, 1, 41000);
    is(dub_gate_send(&g, 41001, &why, &at), DUB_GATE_HOLD,
       "a failed probe: open again");
    is(at, 71000, "... for a new cooldown");
    is(dub_gate_send(&g, 71000, &why, &at), DUB_GATE_PROBE, "next probe");
    dub_breaker_success(&g.breaker);
    is(dub_gate_send(&g, 71001, &why, &at), DUB_GATE_SEND,
       "a good probe: closed");

    gate_init(&g);

    for (i = 0; i < 5; i++) {
        dub_breaker_failure(&g.breaker, 1, 0);
    }

    dub_gate_send(&g, 30000, &why, &at);
    dub_breaker_probe_lost(&g.breaker);
    is(dub_gate_send(&g, 30001, &why, &at), DUB_GATE_PROBE,
       "a lost probe: another one");

    /* the breaker after the other gates: not a probe that cannot go */

    g.inflight = 3;
    is(dub_gate_send(&g, 30002, &why, &at), DUB_GATE_HOLD,
       "half-open and full: hold");
    is(why, DUB_FB_INFLIGHT_FULL, "... as inflight_full, no probe spent");

    /* the slot */

    is(dub_gate_slot(DUB_FRAG_DUBBED, DUB_FB_LAST, DUB_FB_LAST), DUB_FB_LAST,
       "dubbed: its dubbed audio");
    is(dub_gate_slot(DUB_FRAG_SENT, DUB_FB_LAST, DUB_FB_LAST),
       DUB_FB_TIMEOUT, "in flight: timeout");
    is(dub_gate_slot(DUB_FRAG_RECEIVED, DUB_FB_LAST, DUB_FB_LAST),
       DUB_FB_LATE, "being decoded: late");
    is(dub_gate_slot(DUB_FRAG_PACKING, DUB_FB_LAST, DUB_FB_LAST),
       DUB_FB_LATE, "being packed: late");

    for (i = DUB_FB_STS_UNAVAILABLE; i <= DUB_FB_INFLIGHT_FULL; i++) {
        is(dub_gate_slot(DUB_FRAG_QUEUED, DUB_FB_LAST, (dub_fallback_e) i), i,
           "queued: what held it, %s", dub_fallback_names[i]);
    }

    for (i = 0; i < DUB_FB_LAST; i++) {
        is(dub_gate_slot(DUB_FRAG_FALLBACK, (dub_fallback_e) i, DUB_FB_LAST),
           i, "fallen back: its reason, %s", dub_fallback_names[i]);
        is(dub_gate_slot(DUB_FRAG_NONE, (dub_fallback_e) i, DUB_FB_LAST), i,
           "no fragment: the segment's reason, %s", dub_fallback_names[i]);
    }

    is(dub_gate_slot(DUB_FRAG_EXPIRED, DUB_FB_TIMEOUT, DUB_FB_LAST),
       DUB_FB_TIMEOUT, "expired: timeout");

    return tap_done();
}
