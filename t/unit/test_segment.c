
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "dub_segment.h"


typedef struct {
    dub_segment_t  *segs[64];
    int             nsegs;
    uint64_t        ntags;
    uint64_t        bytes;
} sink_t;


static void
sink_add(sink_t *k, dub_segmenter_t *sg, unsigned track, unsigned flags,
    int64_t ts, size_t len)
{
    uint8_t         buf[64];
    dub_segment_t  *closed, *opened;

    memset(buf, (int) (ts & 0xff), sizeof(buf));

    if (dub_segmenter_add(sg, track, flags, ts, buf, len, &closed, &opened)
        == NULL)
    {
        ok(0, "add failed at %lld", (long long) ts);
        return;
    }

    if (opened && k->nsegs < 64) {
        k->segs[k->nsegs++] = opened;
    }

    k->ntags++;
    k->bytes += len;
}


static void
sink_free(sink_t *k)
{
    int  i;

    for (i = 0; i < k->nsegs; i++) {
        dub_segment_free(k->segs[i]);
    }

    memset(k, 0, sizeof(sink_t));
}


/* interleaved A/V like ffmpeg's flv muxer: 30 fps, AAC 1024 @ 44.1k */

static void
feed_av(sink_t *k, dub_segmenter_t *sg, int64_t base, int64_t ms,
    int64_t gop_ms, int audio, int video)
{
    int64_t  v, a, vn, an, t;

    vn = 0;
    an = 0;

    if (video) {
        sink_add(k, sg, DUB_TRACK_VIDEO, DUB_TAG_HEADER, base, 40);
    }

    if (audio) {
        sink_add(k, sg, DUB_TRACK_AUDIO, DUB_TAG_HEADER, base, 4);
    }

    for ( ;; ) {
        v = video ? vn * 1000 / 30 : INT64_MAX;
        a = audio ? an * 1024 * 1000 / 44100 : INT64_MAX;

        t = v <= a ? v : a;

        if (t >= ms) {
            break;
        }

        if (v <= a) {
            sink_add(k, sg, DUB_TRACK_VIDEO,
                     vn % (gop_ms * 30 / 1000) == 0 ? DUB_TAG_KEY : 0,
                     base + v, 60);
            vn++;

        } else {
            sink_add(k, sg, DUB_TRACK_AUDIO, 0, base + a, 20);
            an++;
        }
    }
}


static void
check_partition(sink_t *k, const char *what)
{
    int       i;
    uint64_t  tags, bytes;

    tags = 0;
    bytes = 0;

    for (i = 0; i < k->nsegs; i++) {
        tags += k->segs[i]->ntags;
        bytes += k->segs[i]->len;

        if (i > 0) {
            if (k->segs[i]->start != k->segs[i - 1]->end) {
                ok(0, "%s: segment %d starts where %d ends", what, i, i - 1);
            }

            if (k->segs[i]->index != k->segs[i - 1]->index + 1) {
                ok(0, "%s: segment %d index", what, i);
            }
        }
    }

    is(tags, k->ntags, "%s: every tag in exactly one segment", what);
    is(bytes, k->bytes, "%s: every byte copied once", what);
}


static void
test_av(void)
{
    int              i, keyok;
    sink_t           k;
    dub_segment_t   *last;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0, 60000, 2000, 1, 1);
    last = dub_segmenter_finish(&sg);

    is(k.nsegs, 10, "60 s of 2 s GOP in 6 s segments: 10 segments");
    ok(last == k.segs[9], "finish returns the last segment");
    ok(last->final && last->closed, "last is final and closed");

    keyok = 1;

    for (i = 0; i < k.nsegs; i++) {
        if (k.segs[i]->start != i * 6000) {
            keyok = 0;
        }

        if (i > 0 && !k.segs[i]->key_start) {
            keyok = 0;
        }

        if (k.segs[i]->forced || k.segs[i]->headers_changed) {
            keyok = 0;
        }
    }

    ok(keyok, "cuts on the keyframes at 6 s multiples");
    is(dub_segment_duration(k.segs[0]), 6000, "first segment lasts 6 s");
    ok(dub_segment_duration(last) >= 5990 && dub_segment_duration(last) <= 6040,
       "last segment lasts about 6 s (%lld)",
       (long long) dub_segment_duration(last));
    ok(k.segs[0]->tags[0].flags & DUB_TAG_HEADER, "headers come first");
    is(k.segs[1]->naudio + k.segs[1]->nvideo, k.segs[1]->ntags,
       "no headers in later segments");

    check_partition(&k, "av");
    sink_free(&k);
}


static void
test_long_gop(void)
{
    sink_t           k;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 60000);

    feed_av(&k, &sg, 1000, 30000, 10000, 1, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 3, "10 s GOP: 3 segments in 30 s");
    is(dub_segment_duration(k.segs[0]), 10000, "segment runs to the keyframe");
    ok(k.segs[1]->key_start && !k.segs[1]->forced, "starts on a keyframe");
    check_partition(&k, "long gop");
    sink_free(&k);

    /* no keyframe for longer than the maximum */

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0, 30000, 20000, 1, 1);
    dub_segmenter_finish(&sg);

    ok(k.nsegs >= 3, "forced cuts bound the segment length (%d)", k.nsegs);
    ok(k.segs[1]->forced, "forced cut is marked");
    ok(dub_segment_duration(k.segs[0]) <= 12000, "forced at the maximum");
    check_partition(&k, "forced");
    sink_free(&k);
}


/*
 * A staggered stream: its first segment is cut at the first keyframe
 * after the shorter target, every later one after the whole segment; a
 * first target as long as the segment or longer is no stagger
 */

static void
test_stagger(void)
{
    sink_t           k;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);
    dub_segmenter_stagger(&sg, 4000);

    feed_av(&k, &sg, 500, 20000, 2000, 1, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 4, "staggered by 2 s: 4 segments in 20 s");
    is(dub_segment_duration(k.segs[0]), 4000, "the first cut at 4 s");
    is(dub_segment_duration(k.segs[1]), 6000, "the second whole");
    is(dub_segment_duration(k.segs[2]), 6000, "the third whole");
    check_partition(&k, "stagger");
    sink_free(&k);

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);
    dub_segmenter_stagger(&sg, 6000);

    feed_av(&k, &sg, 500, 20000, 2000, 1, 1);
    dub_segmenter_finish(&sg);

    is(dub_segment_duration(k.segs[0]), 6000,
       "a first target of a whole segment: no stagger");
    sink_free(&k);
}


static void
test_one_track(void)
{
    sink_t           k;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0, 12000, 2000, 1, 0);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 2, "audio-only 12 s: 2 segments on audio time");
    ok(dub_segment_duration(k.segs[0]) >= 6000
       && dub_segment_duration(k.segs[0]) < 6024,
       "audio cut at the first frame at or after the target");
    is(k.segs[0]->nvideo, 0, "no video");
    check_partition(&k, "audio only");
    sink_free(&k);

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0, 12000, 2000, 0, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 2, "video-only 12 s: 2 segments");
    is(k.segs[0]->naudio, 0, "no audio");
    check_partition(&k, "video only");
    sink_free(&k);
}


static void
test_partial_and_headers(void)
{
    sink_t           k;
    dub_segment_t   *last;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0, 7500, 2000, 1, 1);

    /* a new sequence header in the middle of segment 1 */
    sink_add(&k, &sg, DUB_TRACK_AUDIO, DUB_TAG_HEADER, 7500, 4);
    sink_add(&k, &sg, DUB_TRACK_AUDIO, 0, 7523, 20);

    last = dub_segmenter_finish(&sg);

    is(k.nsegs, 2, "7.5 s: a full and a partial segment");
    ok(last->final, "partial is final");
    ok(dub_segment_duration(last) >= 1500 && dub_segment_duration(last) < 1600,
       "partial lasts 1.5 s (%lld)", (long long) dub_segment_duration(last));
    ok(last->headers_changed, "mid-segment header is noted");
    ok(!k.segs[0]->headers_changed, "leading headers are not a change");
    ok(dub_segmenter_finish(&sg) == NULL, "finish twice is harmless");
    sink_free(&k);
}


static void
test_wrap(void)
{
    sink_t           k;
    dub_segmenter_t  sg;

    /* unwrapped timestamps keep going up across 2^32 */

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    feed_av(&k, &sg, 0xffffffffll - 3000, 12000, 2000, 1, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 2, "segments across the 32-bit wrap");
    check_partition(&k, "wrap");
    sink_free(&k);
}


static void
test_discontinuity(void)
{
    sink_t           k;
    dub_segmenter_t  sg;

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    /* 4 s, then the timestamps restart from 0 */
    feed_av(&k, &sg, 100000, 4000, 2000, 1, 1);
    feed_av(&k, &sg, 0, 8000, 2000, 1, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 3, "backward jump cuts: 4 s, 6 s, 2 s");
    ok(k.segs[1]->discont && !k.segs[2]->discont, "jump is marked");
    ok(dub_segment_duration(k.segs[0]) >= 3990
       && dub_segment_duration(k.segs[0]) <= 4040,
       "segment before the jump ends with its last frame (%lld)",
       (long long) dub_segment_duration(k.segs[0]));
    is(k.segs[2]->start, 6000, "targets restart after the jump");
    sink_free(&k);

    memset(&k, 0, sizeof(k));
    dub_segmenter_init(&sg, 6000, 12000);

    /* a forward jump of a minute */
    feed_av(&k, &sg, 0, 3000, 2000, 1, 1);
    feed_av(&k, &sg, 63000, 3000, 2000, 1, 1);
    dub_segmenter_finish(&sg);

    is(k.nsegs, 2, "forward jump cuts");
    ok(k.segs[1]->discont, "forward jump is marked");
    ok(dub_segment_duration(k.segs[0]) < 3100, "no minute-long segment");
    sink_free(&k);
}


/*
 * Payloads in fixed blocks: a payload stays where it was put while the
 * segment grows (no copy), a payload larger than a block gets one of its
 * own, and the memory mapped stays close to the bytes held
 */

static void
test_blocks(void)
{
    size_t           i, n, len, big, mapped;
    uint8_t         *buf;
    uint32_t         k;
    unsigned         intact;
    dub_tag_t       *tag, *first;
    dub_segment_t   *closed, *opened, *seg;
    dub_segmenter_t  sg;

    dub_segmenter_init(&sg, 6000, 10000);

    big = 600 * 1024;
    buf = malloc(big);
    if (buf == NULL) {
        ok(0, "malloc");
        return;
    }

    first = NULL;
    n = 0;

    /* 5 s of 30 fps video of 12 to 44 KB a frame, then one 600 KB tag */

    for (i = 0; i < 150; i++) {
        len = 12000 + (i * 7919) % 32000;
        memset(buf, (int) (i & 0xff), len);

        tag = dub_segmenter_add(&sg, DUB_TRACK_VIDEO,
                                i == 0 ? DUB_TAG_KEY : 0, (int64_t) i * 33,
                                buf, len, &closed, &opened);
        if (tag == NULL) {
            ok(0, "add %zu", i);
            free(buf);
            return;
        }

        if (first == NULL) {
            first = tag;
        }

        n += len;
    }

    memset(buf, 0xab, big);

    tag = dub_segmenter_add(&sg, DUB_TRACK_VIDEO, 0, 150 * 33, buf, big,
                            &closed, &opened);
    ok(tag != NULL, "a tag larger than a block is taken");
    n += big;

    seg = sg.cur;

    intact = 1;

    for (k = 0; k < seg->ntags - 1; k++) {
        tag = &seg->tags[k];

        if (tag->len != 12000 + (k * 7919) % 32000
            || tag->data[0] != (k & 0xff)
            || tag->data[tag->len - 1] != (k & 0xff))
        {
            intact = 0;
        }
    }

    ok(intact, "every payload where it was put, unchanged, after %u tags",
       seg->ntags);

    tag = &seg->tags[seg->ntags - 1];
    ok(tag->len == big && tag->data[0] == 0xab && tag->data[big - 1] == 0xab,
       "the large payload whole");

    ok(seg->len == n, "segment length %zu is the payloads' %zu", seg->len, n);

    /* at most one partly filled block's worth above what is held */
    ok(seg->mapped >= n && seg->mapped <= n + n / 8 + 256 * 1024,
       "mapped %zu for %zu bytes held", seg->mapped, n);

    /* the output passed the first 100 tags: the blocks before go back */

    mapped = seg->mapped;
    dub_segment_release(seg, 100);

    ok(seg->mapped < mapped && seg->blocks != NULL,
       "released %zu of %zu bytes mapped", mapped - seg->mapped, mapped);

    intact = 1;

    for (k = 100; k < seg->ntags - 1; k++) {
        tag = &seg->tags[k];

        if (tag->data[0] != (k & 0xff)
            || tag->data[tag->len - 1] != (k & 0xff))
        {
            intact = 0;
        }
    }

    ok(intact, "the payloads from tag 100 on are still there");

    ok((uint8_t *) seg->blocks <= seg->tags[100].data
       && seg->tags[100].data < (uint8_t *) seg->blocks + seg->blocks->size,
       "the first block left holds tag 100");

    dub_segment_release(seg, seg->ntags);
    ok(seg->blocks == seg->block, "past the end, the block being filled stays");

    dub_segment_free(dub_segmenter_finish(&sg));
    free(buf);
}


/*
 * Blocks given back are kept for the next segments, a bounded number of
 * them: segments freed by the dozen leave 16 blocks kept, and a new
 * segment takes its block from them
 */

static void
test_block_cache(void)
{
    size_t           i, j, cached, taken;
    uint8_t          buf[1000];
    dub_tag_t       *tag;
    dub_segment_t   *closed, *opened, *segs[32];
    dub_segmenter_t  sg;

    dub_segmenter_init(&sg, 1000, 2000);

    for (i = 0; i < 32; i++) {
        segs[i] = NULL;
    }

    memset(buf, 0x5a, sizeof(buf));

    /* 20 segments of 1 s, each 300 KB of payloads in two blocks */

    for (i = 0; i < 20 * 30; i++) {
        tag = dub_segmenter_add(&sg, DUB_TRACK_VIDEO,
                                i % 30 == 0 ? DUB_TAG_KEY : 0,
                                (int64_t) i * 34, buf, sizeof(buf),
                                &closed, &opened);
        if (tag == NULL) {
            ok(0, "add %zu", i);
            return;
        }

        if (closed && closed->index < 32) {
            segs[closed->index] = closed;
        }

        for (j = 0; j < 9; j++) {
            tag = dub_segmenter_add(&sg, DUB_TRACK_AUDIO, 0,
                                    (int64_t) i * 34 + (int64_t) j,
                                    buf, sizeof(buf), &closed, &opened);
            if (tag == NULL) {
                ok(0, "add audio %zu", i);
                return;
            }

            if (closed && closed->index < 32) {
                segs[closed->index] = closed;
            }
        }
    }

    for (i = 0; i < 32; i++) {
        dub_segment_free(segs[i]);
        segs[i] = NULL;
    }

    ok(dub_segment_cached() == 16 * 256 * 1024,
       "kept %zu bytes after 19 segments of 2 blocks freed: 16 blocks",
       dub_segment_cached());

    /* the next segment takes its block from those kept */

    cached = dub_segment_cached();

    tag = dub_segmenter_add(&sg, DUB_TRACK_VIDEO, DUB_TAG_KEY, 20 * 30 * 34,
                            buf, sizeof(buf), &closed, &opened);

    taken = cached - dub_segment_cached();

    ok(tag != NULL && opened != NULL && tag->data[0] == 0x5a
       && tag->data[999] == 0x5a && taken == 256 * 1024,
       "a new segment's block is one kept (%zu bytes taken)", taken);

    dub_segment_free(closed);

    dub_segment_free(dub_segmenter_finish(&sg));
}


int
main(void)
{
    test_av();
    test_long_gop();
    test_stagger();
    test_one_track();
    test_partial_and_headers();
    test_wrap();
    test_discontinuity();
    test_blocks();
    test_block_cache();

    return tap_done();
}
