
/*
 * Copyright (C) nginx-dub developers
 *
 * An STS session: one stream dubbed into one language by one STS, over
 * the contract of docs/protocol.md.  The session owns its connection and
 * its state, its timers, its fragments (waiting, in flight, answered),
 * its breaker and the backpressure it is under.  Its owner gives it each
 * complete segment as a fragment, asks at each output slot for the
 * dubbed audio or the reason there is none, and hears from it only when
 * it is over (the "done" handler).
 */


#ifndef _NGX_RTMP_DUB_STS_H_INCLUDED_
#define _NGX_RTMP_DUB_STS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_thread_pool.h>

#include "dub_audio.h"
#include "dub_reason.h"
#include "ngx_rtmp_dub_sio.h"
#include "ngx_rtmp_dub_pack.h"
#include "ngx_rtmp_dub_metrics.h"


/* how a stream is dubbed into one language: from the directives */

typedef struct {
    ngx_rtmp_dub_sts_url_t     *url;            /* NULL: no STS */
    ngx_str_t                   source_lang;
    ngx_str_t                   target_lang;
    ngx_str_t                   voice;
    ngx_msec_t                  segment;        /* chunk_duration_ms */
    ngx_msec_t                  timeout;
    ngx_msec_t                  init_timeout;
    ngx_uint_t                  max_inflight;
    ngx_array_t                *reconnect;      /* of int64_t, ms */
    ngx_uint_t                  breaker_threshold;
    ngx_msec_t                  breaker_cooldown;
    ngx_uint_t                  audio_bitrate;
    ngx_uint_t                  audio_coder;    /* DUB_AUDIO_CODER_* */
    double                      original_gain;  /* linear, 0: off */
    ngx_flag_t                  duck;
    ngx_thread_pool_t          *thread_pool;
    ngx_flag_t                  captions;       /* keep the answers' texts */
} ngx_rtmp_dub_sts_conf_t;


typedef struct ngx_rtmp_dub_sts_s   ngx_rtmp_dub_sts_t;
typedef struct ngx_rtmp_dub_frag_s  ngx_rtmp_dub_frag_t;

/* the session is over: no connection, nothing it waits for */
typedef void (*ngx_rtmp_dub_sts_done_pt)(void *data);


/*
 * "name" names it in the log ("app/stream", and its language if the
 * stream has several), "stream" is what the STS knows it by (the name as
 * it leaves nginx, dub_name.h), "log" is the owner's, "ms" its metrics
 * slot or NULL; all four outlive the session.
 */
ngx_rtmp_dub_sts_t *ngx_rtmp_dub_sts_create(ngx_rtmp_dub_sts_conf_t *conf,
    ngx_str_t *name, ngx_str_t *stream, ngx_log_t *log,
    ngx_rtmp_dub_mslot_t *ms, ngx_rtmp_dub_sts_done_pt done, void *data);

/* a publisher feeds the stream (again): connect, unless connected */
void ngx_rtmp_dub_sts_start(ngx_rtmp_dub_sts_t *sts);

/* the stream's AAC configuration, for stream:init */
void ngx_rtmp_dub_sts_audio(ngx_rtmp_dub_sts_t *sts, unsigned sample_rate,
    unsigned channels);

/* the publisher left: stream:end once every fragment is resolved */
void ngx_rtmp_dub_sts_stop(ngx_rtmp_dub_sts_t *sts);

/* is it still doing something its owner must wait for */
ngx_uint_t ngx_rtmp_dub_sts_busy(ngx_rtmp_dub_sts_t *sts);

/* frees it and the fragments it still has; no handler is called */
void ngx_rtmp_dub_sts_free(ngx_rtmp_dub_sts_t *sts);


/*
 * A fragment for a complete segment's audio; NULL if the session takes
 * none now, with the segment's fallback "reason".  It waits for its
 * audio packed: ngx_rtmp_dub_frag_packed().
 */
ngx_rtmp_dub_frag_t *ngx_rtmp_dub_frag_create(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_audio_t *audio, dub_fallback_e *reason);

/* its fragment_id, for the log */
const char *ngx_rtmp_dub_frag_id(ngx_rtmp_dub_frag_t *f);

/* its audio packed (takes a reference), or NULL: it could not be */
void ngx_rtmp_dub_frag_packed(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_packed_t *p);

/*
 * The output reached the segment: its dubbed audio, frame i for the
 * segment's audio tag i, or NULL and the reason it has none.
 */
dub_aac_frames_t *ngx_rtmp_dub_frag_slot(ngx_rtmp_dub_frag_t *f,
    dub_fallback_e *reason);

/*
 * What its answer said was heard ("transcript") and its translation
 * ("translated_text"), kept with "captions" on; empty when it said
 * nothing or no answer came.  Valid until ngx_rtmp_dub_frag_forget().
 */
void ngx_rtmp_dub_frag_texts(ngx_rtmp_dub_frag_t *f, ngx_str_t *transcript,
    ngx_str_t *translated);

/* the segment went out: the fragment is the session's alone */
void ngx_rtmp_dub_frag_forget(ngx_rtmp_dub_frag_t *f);


#endif /* _NGX_RTMP_DUB_STS_H_INCLUDED_ */
