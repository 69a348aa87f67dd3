
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "tap.h"
#include "dub_time.h"


static void
test_unwrap(void)
{
    dub_unwrap_t  u;

    memset(&u, 0, sizeof(u));

    is(dub_unwrap(&u, 1000), 1000, "first timestamp taken as is");
    is(dub_unwrap(&u, 1040), 1040, "forward step");
    is(dub_unwrap(&u, 1020), 1020, "small step back (interleave)");

    memset(&u, 0, sizeof(u));

    is(dub_unwrap(&u, 0xffffff00u), 0xffffff00ll, "near the wrap");
    is(dub_unwrap(&u, 0xffffffe0u), 0xffffffe0ll, "before the wrap");
    is(dub_unwrap(&u, 0x00000010u), 0x100000010ll, "wrap goes on upward");
    is(dub_unwrap(&u, 0xfffffff0u), 0xfffffff0ll,
       "late tag from before the wrap stays before it");
    is(dub_unwrap(&u, 0x00000050u), 0x100000050ll, "and forward again");
    is(dub_unwrap(&u, 0x3ffffff0u), 0x13ffffff0ll, "long forward step");

    /* FLV writers keep 31 bits: ffmpeg and OBS wrap at 2^31 */

    memset(&u, 0, sizeof(u));

    is(dub_unwrap(&u, 0x7fffff00u), 0x7fffff00ll, "near the 31-bit wrap");
    is(dub_unwrap(&u, 0x00000020u), 0x80000020ll, "31-bit wrap goes upward");
    is(dub_unwrap(&u, 0x7ffffff0u), 0x7ffffff0ll,
       "late tag from before the 31-bit wrap");
    is(dub_unwrap(&u, 0x00000100u), 0x80000100ll, "forward again");

    /* a reset to 0 from far away is a step back, not a wrap */

    memset(&u, 0, sizeof(u));

    is(dub_unwrap(&u, 50000000u), 50000000, "an hour and more in");
    is(dub_unwrap(&u, 0), 0, "reset to zero is a backward step");
}


static void
test_timeline(void)
{
    int64_t         out, due;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 14000);

    dub_timeline_map(&tl, 0, 5000, 100000, &out, &due);
    is(out, 0, "output starts at 0");
    is(due, 114000, "first tag due D after it arrived");

    dub_timeline_map(&tl, 1, 5023, 100010, &out, &due);
    is(out, 23, "audio follows the media clock");
    is(due, 114023, "due on the media clock");

    dub_timeline_map(&tl, 0, 5033, 100400, &out, &due);
    is(due, 114033, "jitter under the tolerance keeps the media clock");

    /* the input stalls for 3 s with continuous timestamps */

    dub_timeline_map(&tl, 0, 5066, 103400, &out, &due);
    is(out, 66, "timestamps stay continuous across a stall");
    is(due, 117400, "a stall pushes the output back by the stall");
    is(tl.stalls, 1, "stall counted");

    dub_timeline_map(&tl, 1, 5100, 103420, &out, &due);
    is(due, 117434, "the new anchor holds");

    /* a forward jump of the input timestamps */

    dub_timeline_map(&tl, 0, 60000, 103450, &out, &due);
    is(tl.jumps, 1, "jump counted");
    is(due, 117450, "after a jump the tag is due D after arrival");
    is(out, 100 + 16, "output timestamps go on by the wall-clock gap");

    dub_timeline_map(&tl, 0, 60033, 103483, &out, &due);
    is(out, 149, "and continue on the media clock");

    /* backwards jump */

    dub_timeline_map(&tl, 0, 10, 103516, &out, &due);
    is(tl.jumps, 2, "backward jump counted");
    ok(out > 149, "output stays monotonic after a backward jump");

    /* a track running backwards is clamped */

    dub_timeline_map(&tl, 1, 0, 103520, &out, &due);
    dub_timeline_map(&tl, 1, -5, 103521, &out, &due);
    ok(out >= 0, "per-track output never goes back");
}


static void
test_epoch(void)
{
    int64_t         out, due, last;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 8000);

    dub_timeline_map(&tl, 0, 0, 1000, &out, &due);
    dub_timeline_map(&tl, 0, 2000, 3000, &out, &due);
    is(out, 2000, "first publisher");
    is(due, 11000, "first publisher due");

    last = out;

    /* a new publisher 1 s later, timestamps from 0 again */

    dub_timeline_new_epoch(&tl);
    dub_timeline_map(&tl, 0, 0, 4000, &out, &due);
    is(due, 12000, "republish due D after arrival");
    is(out, last + 1000, "republish continues the output timestamps");

    dub_timeline_map(&tl, 0, 40, 4040, &out, &due);
    is(out, last + 1040, "and follows the new media clock");

    /* a new publisher at once: due never goes back */

    dub_timeline_new_epoch(&tl);
    dub_timeline_map(&tl, 1, 77777, 4041, &out, &due);
    ok(due >= 12040, "due stays ordered across publishers");
    ok(out > last + 1040, "output timestamps stay increasing");
}


static void
test_headers(void)
{
    int64_t         out, due;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 10000);

    dub_timeline_map_header(&tl, 0, 1000, &out, &due);
    is(out, 0, "header before any media goes out at 0");
    is(due, 11000, "header before any media due D after arrival");
    ok(!tl.started, "a header does not start the timeline");

    dub_timeline_map(&tl, 0, 2147479956ll, 1010, &out, &due);
    is(out, 0, "media after the header starts at 0");
    is(due, 11010, "and is due after the header");

    dub_timeline_map(&tl, 1, 2147479990ll, 1040, &out, &due);
    dub_timeline_map_header(&tl, 1, 1050, &out, &due);
    is(out, 34, "mid-stream header at its track's last time");
    is(due, 11044, "due with the last tag");

    dub_timeline_new_epoch(&tl);
    dub_timeline_map_header(&tl, 0, 5000, &out, &due);
    is(due, 15000, "a new publisher's header waits D");
    ok(out <= 34, "and keeps the output monotonic");
}


/*
 * A second of tags whose timestamps each step +4 s (under the jump
 * threshold), then normal steps again: the output must not schedule the
 * burst minutes ahead.
 */

static void
test_ahead(void)
{
    int       i, mono, bounded;
    int64_t   ts, now, out, due, last[2], first_due, worst;
    unsigned  track;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 6000);

    ts = 0;
    now = 50000;
    mono = 1;
    bounded = 1;
    worst = 0;
    last[0] = -1;
    last[1] = -1;
    first_due = 0;

    for (i = 0; i < 300 + 75 + 300; i++) {
        track = i & 1;

        /* tags 300-374 each 4 s after the one before */
        ts += (i >= 300 && i < 375) ? 4000 : 13;
        now += 13;

        dub_timeline_map(&tl, track, ts, now, &out, &due);

        if (i == 0) {
            first_due = due;
        }

        if (out < last[track]) {
            mono = 0;
        }

        last[track] = out;

        if (due - (now + 6000) > worst) {
            worst = due - (now + 6000);
        }

        if (due > now + 6000 + 1000) {
            bounded = 0;
        }
    }

    ok(bounded, "every tag due within 1 s of arrival + D (worst %lld ms)",
       (long long) worst);
    ok(mono, "output timestamps monotonic per track");
    ok(tl.aheads > 0 && tl.jumps == 0, "re-based as ahead of the clock, "
       "not as jumps (%llu)", (unsigned long long) tl.aheads);
    ok(due - first_due <= now - 50000 + 1000,
       "the last tag is due the wall time after the first (%lld ms for "
       "%lld ms)", (long long) (due - first_due), (long long) (now - 50000));
    ok(out <= now - 50000 + 1000 && out >= now - 50000 - 1000,
       "output timestamps follow the wall clock across the burst (%lld)",
       (long long) out);
}


/* what a stall holds back may come in a burst: it keeps its timestamps */

static void
test_catch_up(void)
{
    int             i, media;
    int64_t         ts, out, due, prev;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 8000);

    dub_timeline_map(&tl, 0, 0, 1000, &out, &due);
    dub_timeline_map(&tl, 0, 40, 1040, &out, &due);

    /* 3 s without a tag, then those 3 s at once, then in real time */

    media = 1;
    prev = 0;

    for (i = 2, ts = 80; ts <= 3080; i++, ts += 40) {
        dub_timeline_map(&tl, 0, ts, 4040, &out, &due);

        if (out != ts || (i > 2 && due - prev != 40)) {
            media = 0;
        }

        prev = due;
    }

    is(tl.stalls, 1, "the stall is seen");
    is(tl.aheads, 0, "the catch-up burst is not re-based");
    ok(media, "it keeps its timestamps and the media pace");
    is(due, 3080 + 1000 + 8000 + 3000 - 40, "D behind the input, as the "
       "stall moved it");

    dub_timeline_map(&tl, 0, 3120, 4080, &out, &due);
    is(out, 3120, "then real time again on the media clock");
    is(tl.aheads, 0, "still not re-based");

    /* a stall of 20 s caught up: the lead is bounded */

    dub_timeline_init(&tl, 8000);

    dub_timeline_map(&tl, 0, 0, 0, &out, &due);

    media = 1;
    prev = -1;

    for (ts = 40; ts <= 20000; ts += 40) {
        dub_timeline_map(&tl, 0, ts, 20000, &out, &due);

        if (due > 20000 + 8000 + 1000 + DUB_TIME_JUMP_MS || out <= prev) {
            media = 0;
        }

        prev = out;
    }

    ok(media, "20 s caught up at once: due at most late + jump ahead, "
       "output timestamps increasing");
    ok(tl.aheads > 0, "a catch-up longer than that is re-based");
}


/*
 * An encoder that sends faster than real time: 5 s of media at once keep
 * their timestamps and the media pace; of 12 s, what runs more than 6 s
 * ahead of the clock waits no further.
 */

static void
test_fast(void)
{
    int             media, bounded;
    int64_t         ts, out, due, prev;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 3000);

    media = 1;
    prev = 0;

    for (ts = 0; ts <= 5000; ts += 20) {
        dub_timeline_map(&tl, ts % 40 == 0, ts, 1000 + ts / 100, &out, &due);

        if (out != ts || due != 4000 + ts) {
            media = 0;
        }
    }

    ok(media, "5 s sent in 50 ms: paced on the media clock");
    is(tl.aheads, 0, "not re-based");

    dub_timeline_init(&tl, 3000);

    bounded = 1;
    prev = -1;

    for (ts = 0; ts <= 12000; ts += 20) {
        dub_timeline_map(&tl, 0, ts, 1000 + ts / 100, &out, &due);

        if (due > 1000 + ts / 100 + 3000 + 1000 + DUB_TIME_JUMP_MS
            || out <= prev)
        {
            bounded = 0;
        }

        prev = out;
    }

    ok(bounded, "12 s sent in 120 ms: due at most 6 s ahead, output "
       "timestamps increasing");
    ok(tl.aheads > 0, "the rest re-based");
}


/* an encoder clock 2% fast over an hour: the delay stays bounded */

static void
test_drift(void)
{
    int             bounded, mono;
    int64_t         ts, now, out, due, last;
    dub_timeline_t  tl;

    dub_timeline_init(&tl, 10000);

    bounded = 1;
    mono = 1;
    last = -1;

    for (now = 0; now < 3600000; now += 50) {
        ts = now + now / 50;

        dub_timeline_map(&tl, 0, ts, now, &out, &due);

        if (due > now + 10000 + 1000 + DUB_TIME_JUMP_MS) {
            bounded = 0;
        }

        if (out < last) {
            mono = 0;
        }

        last = out;
    }

    ok(bounded, "a fast encoder clock never runs the output away");
    ok(mono, "with monotonic output timestamps");
    ok(out > 3600000 - 10000, "and the output's timestamps keep up (%lld)",
       (long long) out);
}


int
main(void)
{
    test_unwrap();
    test_timeline();
    test_epoch();
    test_headers();
    test_ahead();
    test_catch_up();
    test_fast();
    test_drift();

    return tap_done();
}
