
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dub_segment.h"
#include "dub_time.h"


#define DUB_SEGMENT_TAGS        256
#define DUB_SEGMENT_BLOCK       (256 * 1024)
#define DUB_BLOCK_HEADER        ((sizeof(dub_block_t) + 15) & ~(size_t) 15)

/*
 * Blocks of the usual size given back are kept, up to this many, for
 * the next ones needed: a stream's input fills blocks at the rate its
 * output gives them back, and a block kept is one the system need not
 * map, fault in page by page, and unmap again
 */
#define DUB_BLOCK_CACHE         16


static int dub_segmenter_is_jump(dub_segmenter_t *sg, int64_t ts);
static int dub_segmenter_is_cut(dub_segmenter_t *sg, unsigned track,
    unsigned flags, int64_t ts);
static dub_segment_t *dub_segmenter_close(dub_segmenter_t *sg, int64_t end);
static void dub_segmenter_count(dub_segmenter_t *sg, dub_segment_t *seg,
    unsigned track, unsigned flags, int64_t ts);
static dub_segment_t *dub_segment_open(dub_segmenter_t *sg, unsigned forced,
    unsigned discont);
static dub_tag_t *dub_segment_put(dub_segment_t *seg, unsigned track,
    unsigned flags, int64_t ts, const uint8_t *data, size_t len);
static uint8_t *dub_segment_room(dub_segment_t *seg, size_t len);
static dub_block_t *dub_block_map(size_t len);
static void dub_block_unmap(dub_block_t *bl);
static int64_t dub_segment_last_end(dub_segment_t *seg);


static dub_block_t  *dub_block_cache;
static unsigned      dub_block_ncached;


void
dub_segmenter_init(dub_segmenter_t *sg, int64_t segment_ms, int64_t max_ms)
{
    memset(sg, 0, sizeof(dub_segmenter_t));

    sg->conf.segment = segment_ms;
    sg->conf.max = max_ms > segment_ms ? max_ms : segment_ms;
}


void
dub_segmenter_stagger(dub_segmenter_t *sg, int64_t first_ms)
{
    sg->conf.first = first_ms > 0 && first_ms < sg->conf.segment
                     ? first_ms : 0;
}


dub_tag_t *
dub_segmenter_add(dub_segmenter_t *sg, unsigned track, unsigned flags,
    int64_t ts, const uint8_t *data, size_t len, dub_segment_t **closed,
    dub_segment_t **opened)
{
    int64_t         end;
    unsigned        media, forced, discont;
    dub_tag_t      *tag;
    dub_segment_t  *seg;

    *closed = NULL;
    *opened = NULL;

    track &= 1;

    /* sequence headers carry no meaningful time: they never cut */
    media = !(flags & DUB_TAG_HEADER);

    if (track == DUB_TRACK_VIDEO && media) {
        sg->has_video = 1;
    }

    forced = 0;
    discont = media && dub_segmenter_is_jump(sg, ts);

    if (sg->cur && media
        && (discont || dub_segmenter_is_cut(sg, track, flags, ts)))
    {
        forced = sg->has_video
                 && !(track == DUB_TRACK_VIDEO && (flags & DUB_TAG_KEY));

        end = discont ? dub_segment_last_end(sg->cur) : ts;
        *closed = dub_segmenter_close(sg, end);
    }

    if (sg->cur == NULL) {
        sg->cur = dub_segment_open(sg, forced, discont);
        if (sg->cur == NULL) {
            return NULL;
        }

        *opened = sg->cur;
    }

    seg = sg->cur;

    tag = dub_segment_put(seg, track, flags, ts, data, len);
    if (tag == NULL) {
        return NULL;
    }

    if (media) {
        dub_segmenter_count(sg, seg, track, flags, ts);

    } else if (seg->naudio || seg->nvideo) {
        seg->headers_changed = 1;
    }

    return tag;
}


dub_segment_t *
dub_segmenter_finish(dub_segmenter_t *sg)
{
    dub_segment_t  *seg;

    if (sg->cur == NULL) {
        return NULL;
    }

    seg = dub_segmenter_close(sg, dub_segment_last_end(sg->cur));
    seg->final = 1;

    return seg;
}


int64_t
dub_segment_duration(dub_segment_t *seg)
{
    return seg->end > seg->start ? seg->end - seg->start : 0;
}


void
dub_segment_release(dub_segment_t *seg, uint32_t pos)
{
    uint8_t      *p;
    dub_block_t  *bl;

    p = pos < seg->ntags ? seg->tags[pos].data : NULL;

    while (seg->blocks && seg->blocks != seg->block) {
        bl = seg->blocks;

        if (p && p >= (uint8_t *) bl && p <= (uint8_t *) bl + bl->size) {
            break;
        }

        seg->blocks = bl->next;
        seg->mapped -= bl->size;
        dub_block_unmap(bl);
    }
}


void
dub_segment_free(dub_segment_t *seg)
{
    dub_block_t  *bl, *next;

    if (seg == NULL) {
        return;
    }

    for (bl = seg->blocks; bl; bl = next) {
        next = bl->next;
        dub_block_unmap(bl);
    }

    free(seg->tags);
    free(seg);
}


/* the end of the last frame of the track that lasts longest */

static int64_t
dub_segment_last_end(dub_segment_t *seg)
{
    int64_t   end;
    unsigned  t;

    end = seg->start;

    for (t = 0; t < 2; t++) {
        if (seg->last[t] != INT64_MIN && seg->last[t] + seg->step[t] > end) {
            end = seg->last[t] + seg->step[t];
        }
    }

    return end;
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


/* a step from the last media tag over the jump threshold */

static int
dub_segmenter_is_jump(dub_segmenter_t *sg, int64_t ts)
{
    int64_t  d;

    if (sg->cur == NULL || !sg->has_last) {
        return 0;
    }

    d = ts - sg->last_ts;

    return d > DUB_TIME_JUMP_MS || d < -DUB_TIME_JUMP_MS;
}


static dub_segment_t *
dub_segmenter_close(dub_segmenter_t *sg, int64_t end)
{
    dub_segment_t  *seg;

    seg = sg->cur;
    sg->cur = NULL;

    seg->end = end;
    seg->closed = 1;

    return seg;
}


/* a media tag in the open segment: its start, counts and steps */

static void
dub_segmenter_count(dub_segmenter_t *sg, dub_segment_t *seg, unsigned track,
    unsigned flags, int64_t ts)
{
    if (seg->naudio == 0 && seg->nvideo == 0) {
        /*
         * The first media tag starts the segment; the next cut is one
         * segment later (with a long GOP it runs on to the next keyframe).
         */
        seg->start = ts;
        seg->end = ts;
        seg->key_start = (track == DUB_TRACK_VIDEO && (flags & DUB_TAG_KEY));
        sg->target = ts + (seg->index == 0 && sg->conf.first
                           ? sg->conf.first : sg->conf.segment);
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
    sg->last_ts = ts;
    sg->has_last = 1;
}


static dub_segment_t *
dub_segment_open(dub_segmenter_t *sg, unsigned forced, unsigned discont)
{
    dub_segment_t  *seg;

    seg = calloc(1, sizeof(dub_segment_t));
    if (seg == NULL) {
        return NULL;
    }

    seg->index = sg->next_index++;
    seg->last[0] = INT64_MIN;
    seg->last[1] = INT64_MIN;
    seg->forced = forced;
    seg->discont = discont;

    sg->target = INT64_MAX;

    return seg;
}


/* the tag's entry and its payload, at the end of the segment */

static dub_tag_t *
dub_segment_put(dub_segment_t *seg, unsigned track, unsigned flags,
    int64_t ts, const uint8_t *data, size_t len)
{
    uint32_t    n;
    uint8_t    *p;
    dub_tag_t  *tag, *tags;

    if (len > UINT32_MAX || seg->len + len > UINT32_MAX) {
        return NULL;
    }

    if (seg->ntags == seg->nalloc) {
        n = seg->nalloc ? seg->nalloc * 2 : DUB_SEGMENT_TAGS;

        tags = realloc(seg->tags, n * sizeof(dub_tag_t));
        if (tags == NULL) {
            return NULL;
        }

        seg->tags = tags;
        seg->nalloc = n;
    }

    p = dub_segment_room(seg, len);
    if (p == NULL) {
        return NULL;
    }

    tag = &seg->tags[seg->ntags++];

    memset(tag, 0, sizeof(dub_tag_t));

    tag->data = p;
    tag->len = (uint32_t) len;
    tag->ts = ts;
    tag->track = (uint8_t) track;
    tag->flags = (uint8_t) flags;

    if (len && data) {
        memcpy(p, data, len);
    }

    seg->len += len;

    return tag;
}


/*
 * "len" bytes at the end of the block being filled, or at the start of
 * a new one: a block of the usual size, or of its own for a payload that
 * would not fit in one
 */

static uint8_t *
dub_segment_room(dub_segment_t *seg, size_t len)
{
    uint8_t      *p;
    dub_block_t  *bl;

    bl = seg->block;

    if (bl == NULL || bl->size - bl->used < len) {
        bl = dub_block_map(len);
        if (bl == NULL) {
            return NULL;
        }

        if (seg->block) {
            seg->block->next = bl;

        } else {
            seg->blocks = bl;
        }

        seg->block = bl;
        seg->mapped += bl->size;
    }

    p = (uint8_t *) bl + bl->used;
    bl->used += len;

    return p;
}


static dub_block_t *
dub_block_map(size_t len)
{
    long          page;
    size_t        size;
    void         *m;
    dub_block_t  *bl;

    size = DUB_SEGMENT_BLOCK;

    if (len > size - DUB_BLOCK_HEADER) {
        page = sysconf(_SC_PAGESIZE);
        if (page <= 0) {
            page = 4096;
        }

        size = (DUB_BLOCK_HEADER + len + page - 1) & ~((size_t) page - 1);

    } else if (dub_block_cache) {
        bl = dub_block_cache;
        dub_block_cache = bl->next;
        dub_block_ncached--;

        bl->next = NULL;
        bl->used = DUB_BLOCK_HEADER;

        return bl;
    }

    m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (m == MAP_FAILED) {
        return NULL;
    }

    bl = m;
    bl->next = NULL;
    bl->size = size;
    bl->used = DUB_BLOCK_HEADER;

    return bl;
}


static void
dub_block_unmap(dub_block_t *bl)
{
    if (bl->size == DUB_SEGMENT_BLOCK && dub_block_ncached < DUB_BLOCK_CACHE) {
        bl->next = dub_block_cache;
        dub_block_cache = bl;
        dub_block_ncached++;
        return;
    }

    munmap(bl, bl->size);
}


size_t
dub_segment_cached(void)
{
    return (size_t) dub_block_ncached * DUB_SEGMENT_BLOCK;
}
