
/*
 * Copyright (C) nginx-dub developers
 *
 * The per-stream bridge: the segments of a published stream, and its
 * languages, each with its STS session and its output, "dub_delay"
 * behind.
 */


#ifndef _NGX_RTMP_DUB_BRIDGE_H_INCLUDED_
#define _NGX_RTMP_DUB_BRIDGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "dub_flv.h"
#include "dub_name.h"
#include "dub_time.h"
#include "dub_segment.h"
#include "dub_audio.h"
#include "dub_reason.h"
#include "ngx_rtmp_dub_module.h"
#include "ngx_rtmp_dub_sts.h"
#include "ngx_rtmp_dub_metrics.h"
#include "ngx_rtmp_dub_captions.h"


/* the shortest partial last segment worth sending to the STS */
#define NGX_RTMP_DUB_MIN_PARTIAL    1000

/*
 * first segments cut short in turn, by thirds, none shorter than the
 * minimum (ms)
 */
#define NGX_RTMP_DUB_STAGGER        3
#define NGX_RTMP_DUB_STAGGER_MIN    2000

/* the output timer sends what is due within this many ms, at once */
#define NGX_RTMP_DUB_BATCH_MS       20


/* a segment in one language: its fragment, or why it has none */

typedef struct {
    ngx_rtmp_dub_frag_t        *frag;       /* NULL: "reason" */
    dub_fallback_e              reason;
} ngx_rtmp_dub_seg_lang_t;


/* what the bridge knows of a segment, beside its tags */

typedef struct {
    ngx_log_t                  *log;        /* the bridge's */
    u_char                      flv_byte;   /* first byte of its audio */
    ngx_rtmp_dub_audio_t        audio;
    ngx_uint_t                  nfrags;     /* languages it goes to */
    ngx_rtmp_dub_seg_lang_t     lang[1];    /* one per language */
} ngx_rtmp_dub_seg_t;


/*
 * A language of the stream: its STS session, its output, and what went
 * out there.  The tags are the bridge's, sent to every language at once;
 * only the audio of a dubbed segment differs.
 */

struct ngx_rtmp_dub_lang_s {
    ngx_rtmp_dub_lang_conf_t   *conf;
    ngx_rtmp_dub_bridge_t      *bridge;
    ngx_uint_t                  index;

    ngx_str_t                   label;          /* "app/stream[:lang]" */

    ngx_rtmp_dub_sts_t         *sts;            /* NULL: no STS */
    ngx_rtmp_session_t         *output;
    ngx_rtmp_dub_mslot_t       *ms;             /* metrics, or NULL */

    /* the sequence headers last sent to the output, per track */
    ngx_str_t                   header[2];

    uint64_t                    tags_out;
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

    ngx_rtmp_dub_captions_t    *captions;       /* captions: the head's */

    unsigned                    output_done:1;
};


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
    ngx_str_t                   label;          /* "app/stream", the log's */

    ngx_rtmp_dub_app_conf_t    *dacf;
    void                      **main_conf;
    void                      **srv_conf;

    ngx_rtmp_session_t         *publisher;

    ngx_rtmp_dub_lang_t        *langs;
    ngx_uint_t                  nlangs;

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

    ngx_event_t                 timer;          /* output pacing */

    /* the input's audio: sequence header in force, and per segment */
    u_char                      aac_hdr[34];
    size_t                      aac_hdr_len;
    u_char                      seg_hdr[34];
    size_t                      seg_hdr_len;
    u_char                      seg_flv_byte;
    unsigned                    seg_has_audio:1;
    unsigned                    seg_hdr_changed:1;

    ngx_queue_t                 tasks;          /* packing */

    ngx_uint_t                  publishes;
    uint64_t                    tags_in;
    uint64_t                    segments;

    /* a dubbed audio tag being built */
    u_char                     *scratch;
    size_t                      scratch_size;

    unsigned                    overflow:1;
};


ngx_int_t ngx_rtmp_dub_bridge_attach(ngx_rtmp_session_t *s,
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name);
void ngx_rtmp_dub_bridge_detach(ngx_rtmp_session_t *s);
void ngx_rtmp_dub_bridge_tag(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_header_t *h,
    ngx_chain_t *in);
void ngx_rtmp_dub_bridge_free_all(void);
ngx_uint_t ngx_rtmp_dub_bridge_count(void);


#endif /* _NGX_RTMP_DUB_BRIDGE_H_INCLUDED_ */
