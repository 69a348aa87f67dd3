
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "dub_segment.h"


#define DUB_SEGMENT_TAGS        256
#define DUB_SEGMENT_DATA        65536


static dub_segment_t *dub_segment_open(dub_segmenter_t *sg, int64_t ts);
static int dub_segment_reserve(dub_segment_t *seg, size_t len);
static int dub_segmenter_is_cut(dub_segmenter_t *sg, unsigned track,
    unsigned flags, int64_t ts);


void
dub_segmenter_init(dub_segmenter_t *sg, int64_t segment_ms, int64_t max_ms)
{
    memset(sg, 0, sizeof(dub_segmenter_t));

    sg->conf.segment = segment_ms;
    sg->conf.max = max_ms > segment_ms ? max_ms : segment_ms;
}


dub_tag_t *
dub_segmenter_add(dub_segmenter_t *sg, unsigned track, unsigned flags,
    int64_t ts, const uint8_t *data, size_t len, dub_segment_t **closed,
    dub_segment_t **opened)
{
    unsigned        forced;
    dub_tag_t      *tag;
    dub_segment_t  *seg;

    *closed = NULL;
    *opened = NULL;

    track &= 1;

    if (track == DUB_TRACK_VIDEO && !(flags & DUB_TAG_HEADER)) {
        sg->has_video = 1;
    }

    forced = 0;

    if (sg->cur && dub_segmenter_is_cut(sg, track, flags, ts)) {
        seg = sg->cur;
        seg->closed = 1;
        seg->end = ts;

        forced = sg->has_video
                 && !(track == DUB_TRACK_VIDEO && (flags & DUB_TAG_KEY));

        sg->cur = NULL;
        *closed = seg;
    }

    if (sg->cur == NULL) {
        sg->cur = dub_segment_open(sg, ts);
        if (sg->cur == NULL) {
            return NULL;
        }

        sg->cur->key_start = (track == DUB_TRACK_VIDEO
                              && (flags & DUB_TAG_KEY)) ? 1 : 0;
        sg->cur->forced = forced;
        *opened = sg->cur;
    }

    seg = sg->cur;

    if (dub_segment_reserve(seg, len) != 0) {
        return NULL;
    }

    tag = &seg->tags[seg->ntags++];

    memset(tag, 0, sizeof(dub_tag_t));

    tag->off = (uint32_t) seg->len;
    tag->len = (uint32_t) len;
    tag->ts = ts;
    tag->track = (uint8_t) track;
    tag->flags = (uint8_t) flags;

    if (len && data) {
        memcpy(seg->data + seg->len, data, len);
    }

    seg->len += len;

    if (flags & DUB_TAG_HEADER) {
        if (seg->naudio || seg->nvideo) {
            seg->headers_changed = 1;
        }

        return tag;
    }

    if (track == DUB_TRACK_AUDIO) {
        seg->naudio++;

    } else {
        seg->nvideo++;
    }

    if (seg->last[track] != INT64_MIN) {
        seg->step[track] = ts - seg->last[track];
    }

    seg->last[track] = ts;

    return tag;
}


dub_segment_t *
dub_segmenter_finish(dub_segmenter_t *sg)
{
    int64_t         end;
    unsigned        t;
    dub_segment_t  *seg;

    seg = sg->cur;
    if (seg == NULL) {
        return NULL;
    }

    sg->cur = NULL;

    /* the end of the last frame of the track that lasts longest */

    end = seg->start;

    for (t = 0; t < 2; t++) {
        if (seg->last[t] != INT64_MIN && seg->last[t] + seg->step[t] > end) {
            end = seg->last[t] + seg->step[t];
        }
    }

    seg->end = end;
    seg->closed = 1;
    seg->final = 1;

    return seg;
}


int64_t
dub_segment_duration(dub_segment_t *seg)
{
    return seg->end > seg->start ? seg->end - seg->start : 0;
}


void
dub_segment_free(dub_segment_t *seg)
{
    if (seg == NULL) {
        return;
    }

    free(seg->tags);
    free(seg->data);
    free(seg);
}


static int
dub_segmenter_is_cut(dub_segmenter_t *sg, unsigned track, unsigned flags,
    int64_t ts)
{
    dub_segment_t  *seg;

    if (flags & DUB_TAG_HEADER) {
        return 0;
    }

    seg = sg->cur;

    if (ts < sg->target) {
        return 0;
    }

    if (sg->has_video) {
        if (track == DUB_TRACK_VIDEO && (flags & DUB_TAG_KEY)) {
            return 1;
        }

        /* no keyframe for too long: cut on media time anyway */
        return ts - seg->start >= sg->conf.max;
    }

    return track == DUB_TRACK_AUDIO;
}


static dub_segment_t *
dub_segment_open(dub_segmenter_t *sg, int64_t ts)
{
    dub_segment_t  *seg;

    seg = calloc(1, sizeof(dub_segment_t));
    if (seg == NULL) {
        return NULL;
    }

    seg->index = sg->next_index++;
    seg->start = ts;
    seg->end = ts;
    seg->last[0] = INT64_MIN;
    seg->last[1] = INT64_MIN;

    /*
     * The next cut is one segment after this one starts; with a long GOP
     * the segment runs on to the next keyframe.
     */
    sg->target = ts + sg->conf.segment;

    return seg;
}


static int
dub_segment_reserve(dub_segment_t *seg, size_t len)
{
    size_t      cap;
    uint32_t    n;
    uint8_t    *data;
    dub_tag_t  *tags;

    if (len > UINT32_MAX || seg->len + len > UINT32_MAX) {
        return -1;
    }

    if (seg->ntags == seg->nalloc) {
        n = seg->nalloc ? seg->nalloc * 2 : DUB_SEGMENT_TAGS;

        tags = realloc(seg->tags, n * sizeof(dub_tag_t));
        if (tags == NULL) {
            return -1;
        }

        seg->tags = tags;
        seg->nalloc = n;
    }

    if (seg->len + len > seg->cap) {
        cap = seg->cap ? seg->cap : DUB_SEGMENT_DATA;

        while (cap < seg->len + len) {
            cap *= 2;
        }

        data = realloc(seg->data, cap);
        if (data == NULL) {
            return -1;
        }

        seg->data = data;
        seg->cap = cap;
    }

    return 0;
}
