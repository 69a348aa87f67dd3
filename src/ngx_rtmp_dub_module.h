
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
#include "dub_audio.h"
#include "dub_reason.h"
#include "ngx_rtmp_dub_sts.h"
#include "ngx_rtmp_dub_metrics.h"


#define NGX_RTMP_DUB_VERSION        "0.1.0"

/* the shortest partial last segment worth sending to the STS */
#define NGX_RTMP_DUB_MIN_PARTIAL    1000


typedef struct ngx_rtmp_dub_bridge_s  ngx_rtmp_dub_bridge_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   output_app;
    ngx_msec_t                  segment;
    ngx_msec_t                  delay;
    size_t                      max_buffer;
    ngx_log_t                  *log;        /* "dub_error_log" */

    /* the STS, and how a stream is dubbed */
    ngx_rtmp_dub_sts_conf_t     sts;
    ngx_array_t                *sts_headers;
    ngx_array_t                *sts_auth;
    ngx_str_t                   sts_ca;
    size_t                      sts_max_message;
    ngx_str_t                   thread_pool_name;

    /* where "dub_output_app" was set, for postconfiguration errors */
    u_char                     *output_file;
    ngx_uint_t                  output_line;

    /* resolved at postconfiguration */
    ngx_rtmp_core_app_conf_t   *output_cacf;
    ngx_rtmp_core_app_conf_t   *cacf;
} ngx_rtmp_dub_app_conf_t;


/* what the bridge knows of a segment, beside its tags */

typedef struct {
    ngx_rtmp_dub_frag_t        *frag;       /* NULL: "reason" */
    dub_fallback_e              reason;
    u_char                      flv_byte;   /* first byte of its audio */
    ngx_rtmp_dub_audio_t        audio;
} ngx_rtmp_dub_seg_t;


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

    ngx_rtmp_dub_sts_t         *sts;            /* NULL: no STS */
    ngx_queue_t                 tasks;          /* packing */

    ngx_rtmp_dub_mslot_t       *ms;             /* metrics, or NULL */

    ngx_uint_t                  publishes;
    uint64_t                    tags_in;
    uint64_t                    tags_out;
    uint64_t                    segments;
    uint64_t                    dubbed;
    uint64_t                    fallbacks[DUB_FB_LAST];

    /* a run of segments with their original audio */
    uint64_t                    run_start;      /* its first segment */
    uint64_t                    run[DUB_FB_LAST];
    dub_fallback_e              run_reason;     /* DUB_FB_LAST: none */

    /* the dubbed audio of the head segment, and its tag being built */
    dub_aac_frames_t           *out_frames;
    uint32_t                    out_next;
    u_char                      out_flv_byte;
    u_char                     *scratch;
    size_t                      scratch_size;

    unsigned                    overflow:1;
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

ngx_int_t ngx_rtmp_dub_output_open(ngx_rtmp_dub_bridge_t *b, int64_t ts);
ngx_int_t ngx_rtmp_dub_output_send(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_tag_t *tag, u_char *data, size_t len);
void ngx_rtmp_dub_output_close(ngx_rtmp_dub_bridge_t *b);


#endif /* _NGX_RTMP_DUB_MODULE_H_INCLUDED_ */
