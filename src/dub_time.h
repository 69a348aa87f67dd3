
/*
 * Copyright (C) nginx-dub developers
 *
 * Timestamp math: 32-bit RTMP milliseconds unwrapped to a 64-bit media
 * clock, and the output timeline that maps each input tag to its output
 * timestamp and to the wall-clock instant it is due.  Plain C, no nginx.
 */


#ifndef _DUB_TIME_H_INCLUDED_
#define _DUB_TIME_H_INCLUDED_


#include <stdint.h>


/* a step between tags larger than this is a timestamp discontinuity */
#define DUB_TIME_JUMP_MS        5000


typedef struct {
    uint32_t        last;
    int64_t         ext;
    unsigned        started:1;
} dub_unwrap_t;


typedef struct {
    /* settings */
    int64_t         delay;          /* output delay D, ms */
    int64_t         late;           /* tolerated input lateness, ms */
    int64_t         jump;           /* timestamp discontinuity, ms */

    /* due = ts + wall_off; out_ts = ts + ts_off */
    int64_t         wall_off;
    int64_t         ts_off;

    int64_t         last_ts;        /* last input timestamp */
    int64_t         last_out[2];    /* per track */
    int64_t         last_due;

    unsigned        started:1;      /* anything mapped yet */
    unsigned        in_epoch:1;     /* current publisher mapped a tag */
    unsigned        has_out[2];

    /* counters for the log and metrics */
    uint64_t        stalls;
    uint64_t        jumps;
    uint64_t        aheads;         /* re-based: ahead of the clock */
    int64_t         ahead;          /* by how much, the last time */
} dub_timeline_t;


/*
 * Unwraps a 32-bit timestamp: steps of up to 2^30 ms either way, across a
 * wrap at 2^32 (RTMP) or at 2^31 (FLV writers).
 */
int64_t dub_unwrap(dub_unwrap_t *u, uint32_t ts);

void dub_timeline_init(dub_timeline_t *tl, int64_t delay);

/* A new publisher feeds the same output: next tag starts an epoch. */
void dub_timeline_new_epoch(dub_timeline_t *tl);

/*
 * Maps a tag of "track" with unwrapped timestamp "ts" arriving at wall
 * time "now" (ms) to its output timestamp and due wall time.  Whatever
 * the timestamps say, a tag is due at most "late" later, after arrival +
 * D, than the tags before it, and at most late + jump in all: timestamps
 * that run further ahead of the wall clock are re-based as a jump is, so
 * that a publisher cannot stretch the output.  Output timestamps never
 * go back per track.
 */
void dub_timeline_map(dub_timeline_t *tl, unsigned track, int64_t ts,
    int64_t now, int64_t *out_ts, int64_t *due);

/*
 * Maps a sequence header: its own timestamp means nothing (encoders send
 * 0), it goes out with the media around it.
 */
void dub_timeline_map_header(dub_timeline_t *tl, unsigned track,
    int64_t now, int64_t *out_ts, int64_t *due);


#endif /* _DUB_TIME_H_INCLUDED_ */
