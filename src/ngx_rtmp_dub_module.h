
/*
 * Copyright (C) nginx-dub developers
 */


#ifndef _NGX_RTMP_DUB_MODULE_H_INCLUDED_
#define _NGX_RTMP_DUB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp.h"
#include "ngx_rtmp_cmd_module.h"

#include "dub_flv.h"
#include "dub_name.h"
#include "dub_time.h"
#include "dub_segment.h"
#include "dub_breaker.h"
#include "dub_limit.h"
#include "dub_audio.h"
#include "dub_reason.h"
#include "ngx_rtmp_dub_sts.h"
#include "ngx_rtmp_dub_metrics.h"


#define NGX_RTMP_DUB_VERSION        "0.1.0"

/* the shortest partial last segment worth sending to the STS */
#define NGX_RTMP_DUB_MIN_PARTIAL    1000


typedef struct ngx_rtmp_dub_bridge_s  ngx_rtmp_dub_bridge_t;


typedef enum {
    NGX_RTMP_DUB_STS_IDLE = 0,              /* waiting to connect */
    NGX_RTMP_DUB_STS_CONNECTING,            /* until stream:ready */
    NGX_RTMP_DUB_STS_READY,
    NGX_RTMP_DUB_STS_ENDING,                /* stream:end sent */
    NGX_RTMP_DUB_STS_DONE                   /* no session any more */
} ngx_rtmp_dub_sts_state_e;


typedef enum {
    NGX_RTMP_DUB_FRAG_PACKING = 0,
    NGX_RTMP_DUB_FRAG_QUEUED,
    NGX_RTMP_DUB_FRAG_SENT,
    NGX_RTMP_DUB_FRAG_EXPIRED,              /* fell back, still in flight */
    NGX_RTMP_DUB_FRAG_RECEIVED,             /* answer being decoded */
    NGX_RTMP_DUB_FRAG_DUBBED,
    NGX_RTMP_DUB_FRAG_FALLBACK
} ngx_rtmp_dub_frag_state_e;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   output_app;
    ngx_msec_t                  segment;
    ngx_msec_t                  delay;
    size_t                      max_buffer;

    /* the STS */
    ngx_rtmp_dub_sts_url_t     *sts;        /* NULL: none */
    ngx_array_t                *sts_headers;
    ngx_array_t                *sts_auth;
    ngx_str_t                   sts_ca;
    size_t                      sts_max_message;
    ngx_msec_t                  sts_timeout;
    ngx_msec_t                  sts_init_timeout;
    ngx_uint_t                  sts_max_inflight;
    ngx_array_t                *sts_reconnect;  /* of int64_t, ms */
    ngx_uint_t                  breaker_threshold;
    ngx_msec_t                  breaker_cooldown;
    ngx_str_t                   source_lang;
    ngx_str_t                   target_lang;
    ngx_str_t                   voice;
    ngx_uint_t                  audio_bitrate;
    ngx_str_t                   thread_pool_name;
    ngx_thread_pool_t          *thread_pool;

    /* where "dub_output_app" was set, for postconfiguration errors */
    u_char                     *output_file;
    ngx_uint_t                  output_line;

    /* resolved at postconfiguration */
    ngx_rtmp_core_app_conf_t   *output_cacf;
    ngx_rtmp_core_app_conf_t   *cacf;
} ngx_rtmp_dub_app_conf_t;


/* a segment's journey through the STS */

typedef struct {
    ngx_queue_t                 queue;      /* send queue or in flight */
    ngx_rtmp_dub_bridge_t      *bridge;
    dub_segment_t              *seg;

    ngx_rtmp_dub_frag_state_e   state;
    dub_fallback_e     reason;

    char                        id[40];     /* fragment_id, a UUID */
    uint64_t                    seq;        /* sequence_number */
    ngx_msec_t                  sent_at;
    int64_t                     slot;       /* output time of its start */
    ngx_event_t                 timeout;

    dub_buf_t                   b64;        /* M4A in base64 */
    unsigned                    duration_ms;

    /* the audio it replaces */
    uint32_t                    naudio;
    u_char                      flv_byte;   /* first byte of its tags */
    u_char                      asc[32];
    size_t                      asc_len;
    dub_aac_config_t            aac;

    dub_aac_frames_t            dubbed;     /* frame i for audio tag i */
    uint32_t                    next_frame; /* at the output */

    unsigned                    probe:1;    /* the half-open probe */
    unsigned                    in_queue:1;
    unsigned                    answered:1; /* an answer came */
} ngx_rtmp_dub_frag_t;


/* per session: a publisher we dub, or one of our output sessions */

typedef struct {
    ngx_rtmp_dub_bridge_t      *bridge;
    unsigned                    output:1;
} ngx_rtmp_dub_ctx_t;


struct ngx_rtmp_dub_bridge_s {
    ngx_queue_t                 queue;          /* worker's bridges */

    /*
     * The name as published (any bytes), for nginx-rtmp; and as it
     * leaves nginx (dub_name.h), for the log, the STS and the metrics.
     */
    u_char                      name[NGX_RTMP_MAX_NAME];
    ngx_str_t                   raw;            /* points into name */
    u_char                      id[dub_name_encoded_max(NGX_RTMP_MAX_NAME)];
    ngx_str_t                   stream;         /* points into id */

    ngx_rtmp_dub_app_conf_t    *dacf;
    void                      **main_conf;
    void                      **srv_conf;

    ngx_rtmp_session_t         *publisher;
    ngx_rtmp_session_t         *output;

    ngx_log_t                   log;

    dub_unwrap_t                unwrap;
    dub_timeline_t              timeline;
    dub_segmenter_t             segmenter;

    /* output queue: segments in order, the open one last */
    dub_segment_t              *head;
    dub_segment_t              *tail;
    uint32_t                    pos;            /* next tag of head */

    size_t                      bytes;          /* media buffered */

    ngx_msec_t                  ahead_logged;   /* timestamps re-based */

    /* the sequence headers last sent to the output, per track */
    ngx_str_t                   header[2];
    ngx_event_t                 timer;          /* output pacing */

    /* the input's audio: sequence header in force, and per segment */
    u_char                      aac_hdr[34];
    size_t                      aac_hdr_len;
    u_char                      seg_hdr[34];
    size_t                      seg_hdr_len;
    u_char                      seg_flv_byte;
    unsigned                    seg_has_audio:1;
    unsigned                    seg_hdr_changed:1;

    /* the STS session */
    ngx_rtmp_dub_sts_state_e    sts_state;
    ngx_rtmp_dub_sio_t         *sio;
    ngx_event_t                 sts_timer;      /* reconnect, init, end */
    ngx_event_t                 send_timer;     /* slow_down spacing */
    ngx_uint_t                  attempt;        /* since the last ready */
    ngx_msec_t                  closed_at;
    ngx_uint_t                  max_inflight;
    ngx_uint_t                  inflight;
    uint64_t                    seq;
    ngx_queue_t                 send_queue;     /* frags QUEUED */
    ngx_queue_t                 sent_queue;     /* frags SENT */
    ngx_queue_t                 tasks;
    dub_breaker_t               breaker;
    int                         bp_action;
    ngx_msec_t                  bp_delay;
    ngx_msec_t                  last_send;
    dub_fallback_e     blocked;        /* why the queue waits */
    ngx_uint_t                  pending;        /* frags not resolved */
    char                        session_id[64];

    ngx_rtmp_dub_mslot_t       *ms;             /* metrics, or NULL */

    ngx_uint_t                  publishes;
    uint64_t                    tags_in;
    uint64_t                    tags_out;
    uint64_t                    segments;
    uint64_t                    fallbacks[DUB_FB_LAST];
    uint64_t                    sent;
    uint64_t                    processed[DUB_STATUS_N];
    uint64_t                    reconnects;
    uint64_t                    backpressure[DUB_BP_N];
    uint64_t                    late_answers;
    uint64_t                    duplicate_answers;
    uint64_t                    rtt_sum;
    uint64_t                    rtt_count;

    /* the log lines the STS causes, rate-limited per kind */
    dub_limit_t                 log_limit[NGX_RTMP_DUB_LOG_KINDS];
    ngx_event_t                 log_timer;      /* summaries due */

    /* the dubbed audio tag being built for the output */
    u_char                     *scratch;
    size_t                      scratch_size;
    ngx_rtmp_dub_frag_t        *out_frag;      /* of the head segment */

    unsigned                    overflow:1;
    unsigned                    auth_failed:1;
    unsigned                    paused_sts:1;   /* stream:pause sent */
    unsigned                    init_pending:1; /* waits for audio */
    unsigned                    output_done:1;
};


extern ngx_module_t  ngx_rtmp_dub_module;



ngx_int_t ngx_rtmp_dub_bridge_attach(ngx_rtmp_session_t *s,
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name);
void ngx_rtmp_dub_bridge_detach(ngx_rtmp_session_t *s);
void ngx_rtmp_dub_bridge_tag(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_header_t *h,
    ngx_chain_t *in);
void ngx_rtmp_dub_bridge_free_all(void);
ngx_uint_t ngx_rtmp_dub_bridge_count(void);
void ngx_rtmp_dub_bridge_check_done(ngx_rtmp_dub_bridge_t *b);

/* the STS session of a bridge */
void ngx_rtmp_dub_sts_init(ngx_rtmp_dub_bridge_t *b);
void ngx_rtmp_dub_sts_attach(ngx_rtmp_dub_bridge_t *b);
void ngx_rtmp_dub_sts_segment(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg);
void ngx_rtmp_dub_sts_segment_go(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_frag_t *f);
void ngx_rtmp_dub_sts_audio(ngx_rtmp_dub_bridge_t *b);
ngx_rtmp_dub_frag_t *ngx_rtmp_dub_sts_slot(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_fallback_e *reason);
void ngx_rtmp_dub_sts_input_end(ngx_rtmp_dub_bridge_t *b);
ngx_uint_t ngx_rtmp_dub_sts_busy(ngx_rtmp_dub_bridge_t *b);
void ngx_rtmp_dub_sts_forget(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg);
void ngx_rtmp_dub_sts_free(ngx_rtmp_dub_bridge_t *b);
void ngx_rtmp_dub_frag_free(ngx_rtmp_dub_frag_t *f);

ngx_int_t ngx_rtmp_dub_output_open(ngx_rtmp_dub_bridge_t *b, int64_t ts);
ngx_int_t ngx_rtmp_dub_output_send(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_tag_t *tag, u_char *data, size_t len);
void ngx_rtmp_dub_output_close(ngx_rtmp_dub_bridge_t *b);


#endif /* _NGX_RTMP_DUB_MODULE_H_INCLUDED_ */
