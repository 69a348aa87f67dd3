
/*
 * Copyright (C) nginx-dub developers
 */


#include "dub_gate.h"


dub_gate_e
dub_gate_send(dub_gate_t *g, int64_t now, dub_fallback_e *why, int64_t *at)
{
    *at = -1;

    if (g->link == DUB_LINK_DOWN) {
        *why = DUB_FB_STS_UNAVAILABLE;
        return DUB_GATE_HOLD;
    }

    if (g->link != DUB_LINK_READY) {
        *why = DUB_FB_NOT_READY;
        return DUB_GATE_HOLD;
    }

    if (g->bp_action == DUB_BP_PAUSE) {
        *why = DUB_FB_BACKPRESSURE;
        return DUB_GATE_HOLD;
    }

    if (g->inflight >= g->max_inflight) {
        *why = DUB_FB_INFLIGHT_FULL;
        return DUB_GATE_HOLD;
    }

    if (g->bp_action == DUB_BP_SLOW_DOWN && g->last_send >= 0
        && g->last_send + g->bp_delay > now)
    {
        *why = DUB_FB_BACKPRESSURE;
        *at = g->last_send + g->bp_delay;
        return DUB_GATE_HOLD;
    }

    switch (dub_breaker_state(&g->breaker, now)) {

    case DUB_BREAKER_CLOSED:
        return DUB_GATE_SEND;

    case DUB_BREAKER_HALF_OPEN:
        if (dub_breaker_allow(&g->breaker, now)) {
            return DUB_GATE_PROBE;
        }

        /* the probe is out: its answer decides */
        *why = DUB_FB_BREAKER_OPEN;
        return DUB_GATE_HOLD;

    default:
        *why = DUB_FB_BREAKER_OPEN;
        *at = g->breaker.opened_at + g->breaker.cooldown;
        return DUB_GATE_HOLD;
    }
}


dub_fallback_e
dub_gate_slot(dub_frag_state_e state, dub_fallback_e reason,
    dub_fallback_e blocked)
{
    switch (state) {

    case DUB_FRAG_DUBBED:
        return DUB_FB_LAST;

    case DUB_FRAG_QUEUED:
        /* what held it */
        return blocked;

    case DUB_FRAG_SENT:
        /* no answer by its output time */
        return DUB_FB_TIMEOUT;

    case DUB_FRAG_PACKING:
    case DUB_FRAG_RECEIVED:
        /* its audio is still being packed, or decoded */
        return DUB_FB_LATE;

    default: /* NONE, EXPIRED, FALLBACK */
        return reason;
    }
}
