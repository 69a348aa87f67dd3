
/*
 * Copyright (C) nginx-dub developers
 *
 * The segmenter: copies media tags into segments of a target media
 * duration, cut at the first video keyframe at or after the target (on
 * audio time while the stream has no video), and at timestamp
 * discontinuities.  Plain C, no nginx.
 */


#ifndef _DUB_SEGMENT_H_INCLUDED_
#define _DUB_SEGMENT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "dub_flv.h"


typedef struct {
    uint8_t        *data;       /* payload, in one of the segment's blocks */
    uint32_t        len;
    int64_t         ts;         /* unwrapped input timestamp, ms */
    int64_t         out_ts;     /* output timestamp, ms */
    int64_t         due;        /* output wall time, ms */
    int64_t         arrival;    /* input wall time, ms */
    uint8_t         track;      /* DUB_TRACK_VIDEO or DUB_TRACK_AUDIO */
    uint8_t         flags;      /* DUB_TAG_KEY, DUB_TAG_HEADER */
} dub_tag_t;


typedef struct dub_segment_s  dub_segment_t;
typedef struct dub_block_s    dub_block_t;

/*
 * Payloads live in blocks of a fixed size mapped from the system, filled
 * in turn and never moved: a segment grows without copying, a tag's
 * payload stays where it was put, and a freed segment's memory goes back
 * to the system (or to the next segment, dub_segment_cached()) at once.
 * A tag larger than a block gets a block of its own.
 */
struct dub_block_s {
    dub_block_t    *next;
    size_t          size;       /* of the mapping */
    size_t          used;       /* bytes from the start, header included */
};

struct dub_segment_s {
    dub_segment_t  *next;
    void           *user;           /* owned by the layer above */

    uint64_t        index;          /* 0-based within the stream */
    int64_t         start;          /* first media tag timestamp */
    int64_t         end;            /* first timestamp after it */
    int64_t         last[2];        /* last timestamp per track */
    int64_t         step[2];        /* last timestamp step per track */

    dub_tag_t      *tags;
    uint32_t        ntags;
    uint32_t        nalloc;

    dub_block_t    *blocks;
    dub_block_t    *block;          /* the one being filled */
    size_t          len;            /* payload bytes */
    size_t          mapped;         /* bytes of the blocks */

    uint32_t        naudio;         /* non-header audio tags */
    uint32_t        nvideo;         /* non-header video tags */

    unsigned        closed:1;
    unsigned        final:1;        /* the stream ended with it */
    unsigned        key_start:1;    /* starts on a video keyframe */
    unsigned        forced:1;       /* opened without a keyframe */
    unsigned        discont:1;      /* opened at a timestamp jump */
    unsigned        headers_changed:1;  /* a header arrived inside */
};


typedef struct {
    int64_t         segment;        /* target duration, ms */
    int64_t         max;            /* cut anyway after this long, ms */
    int64_t         first;          /* the first segment's, ms; 0: segment */
} dub_segmenter_conf_t;


typedef struct {
    dub_segmenter_conf_t  conf;
    dub_segment_t        *cur;      /* open segment or NULL */
    uint64_t              next_index;
    int64_t               target;   /* timestamp of the next cut */
    int64_t               last_ts;  /* of the last media tag */
    unsigned              has_last:1;
    unsigned              has_video:1;
} dub_segmenter_t;


void dub_segmenter_init(dub_segmenter_t *sg, int64_t segment_ms,
    int64_t max_ms);

/*
 * Copies a tag into the open segment, first closing it and opening a
 * new one if the tag is a cut point.  "*closed" is set to the segment
 * just closed, or NULL.  "*opened" is set to a newly opened segment, or
 * NULL.  With "data" NULL the room is reserved and the caller copies
 * the payload to tag->data.  Returns the tag inside its
 * segment, or NULL when out of memory (nothing changed then, except a
 * cut that already happened).
 */
dub_tag_t *dub_segmenter_add(dub_segmenter_t *sg, unsigned track,
    unsigned flags, int64_t ts, const uint8_t *data, size_t len,
    dub_segment_t **closed, dub_segment_t **opened);

/* Closes the open segment as the last of the stream; NULL if none. */
dub_segment_t *dub_segmenter_finish(dub_segmenter_t *sg);

/*
 * The first segment's target duration, shorter than the others: streams
 * that start together then close their segments at different times.
 */
void dub_segmenter_stagger(dub_segmenter_t *sg, int64_t first_ms);

/* Media duration of a closed segment, ms. */
int64_t dub_segment_duration(dub_segment_t *seg);

/*
 * Gives back the blocks that hold only payloads of tags before "pos" (the
 * caller is done with them: the output sent them); the tags' entries
 * stay.  The block being filled is kept.
 */
void dub_segment_release(dub_segment_t *seg, uint32_t pos);

void dub_segment_free(dub_segment_t *seg);

/*
 * Bytes of blocks given back and kept for reuse (a few MiB at most).
 * Blocks are mapped and given back by one thread only: the caller's.
 */
size_t dub_segment_cached(void);


#endif /* _DUB_SEGMENT_H_INCLUDED_ */
