
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
#include "dub_time.h"
#include "dub_segment.h"


#define NGX_RTMP_DUB_VERSION        "0.1.0"

/* the shortest partial last segment worth sending to the STS */
#define NGX_RTMP_DUB_MIN_PARTIAL    1000


typedef struct ngx_rtmp_dub_bridge_s  ngx_rtmp_dub_bridge_t;


typedef enum {
    NGX_RTMP_DUB_FB_NOT_CONFIGURED = 0,
    NGX_RTMP_DUB_FB_TOO_SHORT,
    NGX_RTMP_DUB_FB_NOT_READY,
    NGX_RTMP_DUB_FB_LAST
} ngx_rtmp_dub_fallback_e;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   output_app;
    ngx_msec_t                  segment;
    ngx_msec_t                  delay;
    size_t                      max_buffer;

    /* where "dub_output_app" was set, for postconfiguration errors */
    u_char                     *output_file;
    ngx_uint_t                  output_line;

    /* resolved at postconfiguration */
    ngx_rtmp_core_app_conf_t   *output_cacf;
    ngx_rtmp_core_app_conf_t   *cacf;
} ngx_rtmp_dub_app_conf_t;


/* per session: a publisher we dub, or one of our output sessions */

typedef struct {
    ngx_rtmp_dub_bridge_t      *bridge;
    unsigned                    output:1;
} ngx_rtmp_dub_ctx_t;


struct ngx_rtmp_dub_bridge_s {
    ngx_queue_t                 queue;          /* worker's bridges */

    u_char                      name[NGX_RTMP_MAX_NAME];
    ngx_str_t                   stream;         /* points into name */

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

    /* the sequence headers last sent to the output, per track */
    ngx_str_t                   header[2];
    ngx_event_t                 timer;          /* output pacing */

    ngx_uint_t                  publishes;
    uint64_t                    tags_in;
    uint64_t                    tags_out;
    uint64_t                    segments;
    uint64_t                    fallbacks[NGX_RTMP_DUB_FB_LAST];

    unsigned                    overflow:1;
    unsigned                    output_failed:1;
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
    dub_segment_t *seg, dub_tag_t *tag);
void ngx_rtmp_dub_output_close(ngx_rtmp_dub_bridge_t *b);


#endif /* _NGX_RTMP_DUB_MODULE_H_INCLUDED_ */
