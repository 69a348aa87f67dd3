
/*
 * Copyright (C) nginx-dub developers
 *
 * A segment's audio packed for the STS: its AAC frames in an M4A, in
 * base64, made once in the thread pool and shared by every session the
 * segment goes to; and the frames themselves, for the sessions that mix
 * the original under the dub.
 */


#ifndef _NGX_RTMP_DUB_PACK_H_INCLUDED_
#define _NGX_RTMP_DUB_PACK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_thread_pool.h>

#include "dub_audio.h"
#include "dub_buf.h"
#include "dub_segment.h"


/* a segment's audio, as a fragment carries it */

typedef struct {
    uint64_t                    index;          /* the segment's */
    int64_t                     pts;            /* output time, ms */
    int64_t                     source_pts;     /* input time, ms */
    uint32_t                    naudio;         /* AAC frames */
    unsigned                    duration_ms;
    dub_aac_config_t            aac;
    u_char                      asc[32];
    size_t                      asc_len;
} ngx_rtmp_dub_audio_t;


/*
 * The segment's raw AAC frames, as the packing copied them: kept (not
 * copied again) with the packed audio, and referenced apart from it, so
 * that a session that mixes them under the dub keeps them until its dub
 * task is over (the task reads them in a thread), while the base64 goes
 * as soon as every session has sent it.
 */

typedef struct {
    ngx_uint_t                  refs;
    dub_aac_frames_t            frames;
} ngx_rtmp_dub_original_t;


typedef struct {
    ngx_uint_t                  refs;
    dub_buf_t                   b64;            /* the M4A in base64 */
    ngx_rtmp_dub_original_t    *original;       /* one reference */
} ngx_rtmp_dub_packed_t;


/* "p": the packed audio (a reference for the handler), NULL on failure */
typedef void (*ngx_rtmp_dub_packed_pt)(void *data,
    ngx_rtmp_dub_packed_t *p);


/*
 * Packs the audio frames of "seg" in the pool "tp"; "done" is called on
 * the event loop with "data", unless its owner abandoned the task (in
 * "tasks") first.
 */
ngx_int_t ngx_rtmp_dub_pack(ngx_thread_pool_t *tp, dub_segment_t *seg,
    ngx_rtmp_dub_audio_t *audio, ngx_rtmp_dub_packed_pt done, void *data,
    ngx_queue_t *tasks, ngx_log_t *log);

ngx_rtmp_dub_packed_t *ngx_rtmp_dub_packed_ref(ngx_rtmp_dub_packed_t *p);
void ngx_rtmp_dub_packed_release(ngx_rtmp_dub_packed_t *p);

/* on the event loop only, as the packed audio's */
ngx_rtmp_dub_original_t *ngx_rtmp_dub_original_ref(
    ngx_rtmp_dub_original_t *o);
void ngx_rtmp_dub_original_release(ngx_rtmp_dub_original_t *o);


#endif /* _NGX_RTMP_DUB_PACK_H_INCLUDED_ */
