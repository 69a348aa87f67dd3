
/*
 * Copyright (C) nginx-dub developers
 *
 * A segment's audio packed for the STS: its AAC frames in an M4A, in
 * base64, made once in the thread pool and shared by every session the
 * segment goes to.
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


typedef struct {
    ngx_uint_t                  refs;
    dub_buf_t                   b64;            /* the M4A in base64 */
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


#endif /* _NGX_RTMP_DUB_PACK_H_INCLUDED_ */
