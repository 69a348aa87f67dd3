
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "dub_time.h"


#define DUB_TIME_LATE_MS        1000


static unsigned dub_timeline_must_rebase(dub_timeline_t *tl, int64_t ts,
    int64_t now);
static void dub_timeline_rebase(dub_timeline_t *tl, int64_t ts, int64_t now);


int64_t
dub_unwrap(dub_unwrap_t *u, uint32_t ts)
{
    int32_t   d;
    uint32_t  d31;

    if (!u->started) {
        u->started = 1;
        u->last = ts;
        u->ext = ts;
        return u->ext;
    }

    /* the signed 32-bit difference crosses the wrap either way */
    d = (int32_t) (ts - u->last);

    if (d > 0x40000000 || d < -0x40000000) {
        /*
         * Encoders that write FLV tags (ffmpeg, OBS) keep 31 bits and
         * wrap at 2^31: take the step modulo 2^31 when it is smaller.
         */
        d31 = (ts - u->last) & 0x7fffffff;
        d = (d31 >= 0x40000000) ? (int32_t) (d31 - 0x80000000u)
                                : (int32_t) d31;
    }

    u->ext += d;
    u->last = ts;

    return u->ext;
}


void
dub_timeline_init(dub_timeline_t *tl, int64_t delay)
{
    memset(tl, 0, sizeof(dub_timeline_t));

    tl->delay = delay;
    tl->late = DUB_TIME_LATE_MS;
    tl->jump = DUB_TIME_JUMP_MS;
}


void
dub_timeline_new_epoch(dub_timeline_t *tl)
{
    tl->in_epoch = 0;
}


void
dub_timeline_map(dub_timeline_t *tl, unsigned track, int64_t ts,
    int64_t now, int64_t *out_ts, int64_t *due)
{
    int64_t  late, out, when;

    track &= 1;

    if (dub_timeline_must_rebase(tl, ts, now)) {
        dub_timeline_rebase(tl, ts, now);
    }

    when = ts + tl->wall_off;
    late = now + tl->delay - when;

    if (late > tl->late) {
        /* the input stalled: keep D behind it from here on */
        tl->wall_off += late;
        when += late;
        tl->stalls++;
    }

    out = ts + tl->ts_off;

    if (tl->has_out[track] && out < tl->last_out[track]) {
        out = tl->last_out[track];
    }

    tl->has_out[track] = 1;
    tl->last_out[track] = out;
    tl->last_ts = ts;

    if (when > tl->last_due) {
        tl->last_due = when;
    }

    *out_ts = out;
    *due = when;
}


void
dub_timeline_map_header(dub_timeline_t *tl, unsigned track, int64_t now,
    int64_t *out_ts, int64_t *due)
{
    int64_t  when;

    track &= 1;

    /*
     * A sequence header goes out just before the media that follows it:
     * at the last output time of its track, no earlier than the last tag.
     */

    when = tl->started ? tl->last_due : now + tl->delay;

    if (!tl->in_epoch && now + tl->delay > when) {
        when = now + tl->delay;
    }

    if (tl->has_out[track]) {
        *out_ts = tl->last_out[track];

    } else {
        *out_ts = tl->last_out[track ^ 1];
    }

    *due = when;
}


/*
 * A new publisher, a timestamp jump, or timestamps ahead of the clock:
 * the tag starts a new mapping.
 */

static unsigned
dub_timeline_must_rebase(dub_timeline_t *tl, int64_t ts, int64_t now)
{
    int64_t  d, ahead, lead;

    if (!tl->in_epoch) {
        return 1;
    }

    d = ts - tl->last_ts;

    /*
     * How far past arrival + D the tag would be due, and how far the
     * tags before it already are: an input that sends faster than real
     * time (catching up after a stall, a burst at its start) gets ahead
     * step by step, a second at most each time, 6 s in all.  Timestamps
     * that leap ahead of the wall clock (steps under the jump threshold,
     * as many as a publisher likes) would schedule the output minutes
     * ahead, every later tag behind them: they are re-based as a jump is.
     */

    ahead = ts + tl->wall_off - (now + tl->delay);

    lead = tl->last_due - (now + tl->delay);
    lead = (lead < 0) ? 0 : (lead > tl->jump) ? tl->jump : lead;

    if (d > tl->jump || d < -tl->jump) {
        tl->jumps++;
        return 1;
    }

    if (ahead > tl->late + lead) {
        tl->aheads++;
        tl->ahead = ahead;
        return 1;
    }

    return 0;
}


/*
 * The tag is due D after its arrival (or with the last tag, if that is
 * later), and output timestamps go on from the last one by the wall-clock
 * gap, so they stay continuous.
 */

static void
dub_timeline_rebase(dub_timeline_t *tl, int64_t ts, int64_t now)
{
    int64_t  out, when, last_out;

    when = now + tl->delay;
    out = 0;

    if (tl->started) {
        last_out = tl->last_out[0] > tl->last_out[1]
                   ? tl->last_out[0] : tl->last_out[1];

        if (when < tl->last_due) {
            when = tl->last_due;
        }

        out = last_out + (when - tl->last_due);

        if (out <= last_out) {
            out = last_out + 1;
        }
    }

    tl->wall_off = when - ts;
    tl->ts_off = out - ts;
    tl->in_epoch = 1;
    tl->started = 1;
}
