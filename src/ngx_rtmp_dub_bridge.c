
/*
 * Copyright (C) nginx-dub developers
 *
 * The per-stream bridge: tags from the publisher into segments, segments
 * to its STS session (ngx_rtmp_dub_sts.h), and the output paced exactly
 * "dub_delay" behind the input, each segment with its dubbed audio if it
 * is ready at its output slot, its original audio otherwise.  A bridge
 * outlives its publisher until the output has drained and the STS session
 * has ended; a new publisher of the same name continues the same output.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_bridge.h"
#include "ngx_rtmp_dub_output.h"
#include "ngx_rtmp_dub_log.h"
#include "ngx_rtmp_dub_task.h"


#define NGX_RTMP_DUB_HEAD_BYTES     8


static ngx_rtmp_dub_bridge_t *ngx_rtmp_dub_bridge_create(
    ngx_rtmp_session_t *s, ngx_rtmp_dub_app_conf_t *dacf, u_char *name,
    size_t len);
static void ngx_rtmp_dub_bridge_continue(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_app_conf_t *dacf);
static ngx_rtmp_dub_bridge_t *ngx_rtmp_dub_bridge_find(
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name, size_t len);
static size_t ngx_rtmp_dub_bridge_head(ngx_chain_t *in, u_char *head,
    size_t *hlen);
static ngx_int_t ngx_rtmp_dub_bridge_room(ngx_rtmp_dub_bridge_t *b,
    unsigned track, size_t len);
static dub_tag_t *ngx_rtmp_dub_bridge_add(ngx_rtmp_dub_bridge_t *b,
    unsigned track, unsigned flags, int64_t ts, size_t len);
static void ngx_rtmp_dub_bridge_map(ngx_rtmp_dub_bridge_t *b,
    dub_tag_t *tag, unsigned track, unsigned flags, int64_t ts);
static void ngx_rtmp_dub_bridge_audio(ngx_rtmp_dub_bridge_t *b,
    unsigned flags, ngx_chain_t *in, size_t len);
static void ngx_rtmp_dub_bridge_closed(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg);
static void ngx_rtmp_dub_bridge_fragment(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, ngx_rtmp_dub_seg_t *ds);
static void ngx_rtmp_dub_bridge_packed(void *data, ngx_rtmp_dub_packed_t *p);
static void ngx_rtmp_dub_bridge_slot(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg);
static void ngx_rtmp_dub_bridge_av(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg);
static void ngx_rtmp_dub_bridge_run_of(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_fallback_e reason);
static void ngx_rtmp_dub_bridge_run_end(ngx_rtmp_dub_bridge_t *b,
    const char *how);
static void ngx_rtmp_dub_bridge_sts_done(void *data);
static void ngx_rtmp_dub_bridge_check_done(ngx_rtmp_dub_bridge_t *b);
static ngx_int_t ngx_rtmp_dub_bridge_emit(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_tag_t *tag);
static void ngx_rtmp_dub_bridge_schedule(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_bridge_run(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_drained(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_pop(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_summary(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_free(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_watch(ngx_log_t *log);
static void ngx_rtmp_dub_bridge_unwatch(void);
static void ngx_rtmp_dub_bridge_shutdown(ngx_event_t *ev);
static void ngx_rtmp_dub_bridge_abort(ngx_rtmp_dub_bridge_t *b);


static ngx_queue_t        ngx_rtmp_dub_bridges;
static ngx_uint_t         ngx_rtmp_dub_nbridges;

/* a connection nginx tells, as all others, of "worker_shutdown_timeout" */
static ngx_connection_t  *ngx_rtmp_dub_watch;


ngx_int_t
ngx_rtmp_dub_bridge_attach(ngx_rtmp_session_t *s,
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name)
{
    size_t                  len;
    ngx_rtmp_dub_ctx_t     *ctx;
    ngx_rtmp_dub_bridge_t  *b;

    len = ngx_strlen(name);

    if (len == 0) {
        ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                      "dub: \"%V\" publish without a stream name, "
                      "not dubbed", &s->app);
        return NGX_DECLINED;
    }

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(s->connection->pool, sizeof(ngx_rtmp_dub_ctx_t));
        if (ctx == NULL) {
            return NGX_ERROR;
        }

        ngx_rtmp_set_ctx(s, ctx, ngx_rtmp_dub_module);
    }

    b = ngx_rtmp_dub_bridge_find(dacf, name, len);

    if (b && b->publisher) {
        ngx_log_error(NGX_LOG_ERR, s->connection->log, 0,
                      "dub: \"%V/%V\" not dubbed: \"%V/%V\" is already fed "
                      "by another publisher", &s->app, &b->stream,
                      &dacf->output_app, &b->stream);
        return NGX_DECLINED;
    }

    if (b) {
        ngx_rtmp_dub_bridge_continue(b, dacf);

    } else {
        b = ngx_rtmp_dub_bridge_create(s, dacf, name, len);
        if (b == NULL) {
            return NGX_ERROR;
        }
    }

    b->publisher = s;
    b->publishes++;
    ctx->bridge = b;

    ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                  "dub: \"%V/%V\" publishing, output \"%V/%V\" %Mms behind"
                  "%s", &dacf->cacf->name, &b->stream, &dacf->output_app,
                  &b->stream, dacf->delay,
                  b->publishes > 1 ? " (continued)" : "");

    if (b->sts) {
        ngx_rtmp_dub_sts_start(b->sts);
    }

    return NGX_OK;
}


static ngx_rtmp_dub_bridge_t *
ngx_rtmp_dub_bridge_create(ngx_rtmp_session_t *s,
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name, size_t len)
{
    ngx_rtmp_dub_bridge_t     *b;
    ngx_rtmp_dub_main_conf_t  *dmcf;

    b = ngx_calloc(sizeof(ngx_rtmp_dub_bridge_t), s->connection->log);
    if (b == NULL) {
        return NULL;
    }

    ngx_memcpy(b->name, name, len);
    b->raw.data = b->name;
    b->raw.len = len;

    b->stream.data = b->id;
    b->stream.len = dub_name_encode((char *) b->id, name, len);

    b->label.len = dacf->cacf->name.len + 1 + b->stream.len;
    b->label.data = ngx_alloc(b->label.len, s->connection->log);
    if (b->label.data == NULL) {
        ngx_free(b);
        return NULL;
    }

    ngx_sprintf(b->label.data, "%V/%V", &dacf->cacf->name, &b->stream);

    if (ngx_rtmp_dub_nbridges++ == 0) {
        ngx_queue_init(&ngx_rtmp_dub_bridges);
        ngx_rtmp_dub_bridge_watch(s->connection->log);
    }

    ngx_queue_insert_tail(&ngx_rtmp_dub_bridges, &b->queue);

    b->dacf = dacf;
    b->main_conf = s->main_conf;
    b->srv_conf = s->srv_conf;

    b->log = *dacf->log;
    b->log.connection = 0;

    b->timer.handler = ngx_rtmp_dub_bridge_timer;
    b->timer.data = b;
    b->timer.log = &b->log;

    dub_timeline_init(&b->timeline, dacf->delay);
    dub_segmenter_init(&b->segmenter, dacf->segment, 2 * dacf->segment);

    ngx_queue_init(&b->tasks);
    b->run_reason = DUB_FB_LAST;

    dmcf = b->main_conf[ngx_rtmp_dub_module.ctx_index];

    b->ms = ngx_rtmp_dub_metrics_open(dmcf->zone, &dacf->cacf->name,
                                      &b->stream, &dacf->sts.target_lang,
                                      s->connection->log);

    if (dacf->sts.url == NULL) {
        return b;
    }

    b->sts = ngx_rtmp_dub_sts_create(&dacf->sts, &b->label, &b->stream,
                                     &b->log, b->ms,
                                     ngx_rtmp_dub_bridge_sts_done, b);
    if (b->sts == NULL) {
        ngx_rtmp_dub_bridge_free(b);
        return NULL;
    }

    return b;
}


/* a new publisher continues the draining output */

static void
ngx_rtmp_dub_bridge_continue(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_app_conf_t *dacf)
{
    uint64_t  next;

    next = b->segmenter.next_index;
    dub_segmenter_init(&b->segmenter, dacf->segment, 2 * dacf->segment);
    b->segmenter.next_index = next;

    ngx_memzero(&b->unwrap, sizeof(dub_unwrap_t));
    dub_timeline_new_epoch(&b->timeline);

    b->dacf = dacf;
    b->overflow = 0;
    b->output_done = 0;
    b->aac_hdr_len = 0;
    b->seg_has_audio = 0;
    b->seg_hdr_changed = 0;
}


void
ngx_rtmp_dub_bridge_detach(ngx_rtmp_session_t *s)
{
    dub_segment_t          *seg;
    ngx_rtmp_dub_ctx_t     *ctx;
    ngx_rtmp_dub_bridge_t  *b;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx == NULL || ctx->bridge == NULL) {
        return;
    }

    b = ctx->bridge;
    ctx->bridge = NULL;

    if (ctx->output) {
        if (b->output == s) {
            ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                          "dub: \"%V/%V\" output session closed",
                          &b->dacf->output_app, &b->stream);
            b->output = NULL;
        }

        return;
    }

    if (b->publisher != s) {
        return;
    }

    b->publisher = NULL;

    seg = dub_segmenter_finish(&b->segmenter);

    if (seg) {
        ngx_rtmp_dub_bridge_closed(b, seg);
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" publisher left, %uz bytes to drain",
                  &b->dacf->cacf->name, &b->stream, b->bytes);

    if (b->sts) {
        ngx_rtmp_dub_sts_stop(b->sts);
    }

    ngx_rtmp_dub_bridge_schedule(b);
}


void
ngx_rtmp_dub_bridge_tag(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_header_t *h,
    ngx_chain_t *in)
{
    size_t          len, hlen;
    u_char         *p;
    int64_t         ts;
    unsigned        track;
    ngx_chain_t    *cl;
    dub_tag_t      *tag;
    dub_flv_tag_t   ft;
    u_char          head[NGX_RTMP_DUB_HEAD_BYTES];

    if (b->overflow) {
        return;
    }

    track = (h->type == NGX_RTMP_MSG_AUDIO) ? DUB_TRACK_AUDIO
                                            : DUB_TRACK_VIDEO;

    len = ngx_rtmp_dub_bridge_head(in, head, &hlen);

    if (len == 0 || ngx_rtmp_dub_bridge_room(b, track, len) != NGX_OK) {
        return;
    }

    ngx_memzero(&ft, sizeof(dub_flv_tag_t));

    if (dub_flv_parse(track, head, hlen, &ft) != 0) {
        ngx_log_debug2(NGX_LOG_DEBUG_RTMP, &b->log, 0,
                       "dub: short %s tag of %uz bytes kept as is",
                       track == DUB_TRACK_AUDIO ? "audio" : "video", len);
        ngx_memzero(&ft, sizeof(dub_flv_tag_t));
    }

    /* sequence headers carry no meaningful time (encoders send 0) */

    ts = (ft.flags & DUB_TAG_HEADER) ? b->unwrap.ext
                                     : dub_unwrap(&b->unwrap, h->timestamp);

    tag = ngx_rtmp_dub_bridge_add(b, track, ft.flags, ts, len);
    if (tag == NULL) {
        return;
    }

    p = b->segmenter.cur->data + tag->off;

    for (cl = in; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    if (track == DUB_TRACK_AUDIO && ft.codec == DUB_FLV_AUDIO_AAC) {
        ngx_rtmp_dub_bridge_audio(b, ft.flags, in, len);
    }

    ngx_rtmp_dub_bridge_map(b, tag, track, ft.flags, ts);

    b->bytes += len;
    b->tags_in++;

    if (!b->timer.timer_set) {
        ngx_rtmp_dub_bridge_schedule(b);
    }
}


/* a tag's length, and its first bytes (its FLV header) in "head" */

static size_t
ngx_rtmp_dub_bridge_head(ngx_chain_t *in, u_char *head, size_t *hlen)
{
    size_t  len, n, k;

    len = 0;
    *hlen = 0;

    for ( /* void */ ; in; in = in->next) {
        n = in->buf->last - in->buf->pos;
        k = ngx_min(n, NGX_RTMP_DUB_HEAD_BYTES - *hlen);

        head = ngx_cpymem(head, in->buf->pos, k);
        *hlen += k;
        len += n;
    }

    return len;
}


/* can the stream keep "len" more bytes: if not, its publisher goes */

static ngx_int_t
ngx_rtmp_dub_bridge_room(ngx_rtmp_dub_bridge_t *b, unsigned track,
    size_t len)
{
    if (len > b->dacf->max_buffer) {
        /* this tag alone could never be kept */
        ngx_log_error(NGX_LOG_ERR, b->publisher->connection->log, 0,
                      "dub: \"%V/%V\" %s tag of %uz bytes, over "
                      "\"dub_max_buffer\" %uz: closing the publisher",
                      &b->dacf->cacf->name, &b->stream,
                      track == DUB_TRACK_AUDIO ? "audio" : "video", len,
                      b->dacf->max_buffer);

    } else if (b->bytes + len > b->dacf->max_buffer) {
        ngx_log_error(NGX_LOG_ERR, b->publisher->connection->log, 0,
                      "dub: \"%V/%V\" over \"dub_max_buffer\" (%uz bytes "
                      "buffered): the publisher sends faster than real "
                      "time, dropping it", &b->dacf->cacf->name, &b->stream,
                      b->bytes);

    } else {
        return NGX_OK;
    }

    b->overflow = 1;
    ngx_rtmp_finalize_session(b->publisher);

    return NGX_DECLINED;
}


/* a tag of "len" bytes into the open segment, cutting it if its time */

static dub_tag_t *
ngx_rtmp_dub_bridge_add(ngx_rtmp_dub_bridge_t *b, unsigned track,
    unsigned flags, int64_t ts, size_t len)
{
    dub_tag_t      *tag;
    dub_segment_t  *closed, *opened;

    tag = dub_segmenter_add(&b->segmenter, track, flags, ts, NULL, len,
                            &closed, &opened);

    if (closed) {
        ngx_rtmp_dub_bridge_closed(b, closed);
    }

    if (opened) {
        if (b->tail) {
            b->tail->next = opened;

        } else {
            b->head = opened;
            b->pos = 0;
        }

        b->tail = opened;

        b->seg_has_audio = 0;
        b->seg_hdr_changed = 0;
    }

    if (tag == NULL) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" no memory for a %uz byte tag, "
                      "tag dropped", &b->dacf->cacf->name, &b->stream, len);
    }

    return tag;
}


/* the tag on the output timeline: its timestamp and when it is due */

static void
ngx_rtmp_dub_bridge_map(ngx_rtmp_dub_bridge_t *b, dub_tag_t *tag,
    unsigned track, unsigned flags, int64_t ts)
{
    int64_t   now;
    uint64_t  aheads;

    now = (int64_t) ngx_current_msec;

    tag->arrival = now;

    if (flags & DUB_TAG_HEADER) {
        dub_timeline_map_header(&b->timeline, track, now, &tag->out_ts,
                                &tag->due);
        return;
    }

    aheads = b->timeline.aheads;

    dub_timeline_map(&b->timeline, track, ts, now, &tag->out_ts, &tag->due);

    if (b->timeline.aheads == aheads
        || (b->ahead_logged && ngx_current_msec - b->ahead_logged < 10000))
    {
        return;
    }

    b->ahead_logged = ngx_current_msec;

    ngx_log_error(NGX_LOG_WARN, &b->log, 0,
                  "dub: \"%V/%V\" input timestamps %Lms ahead of the "
                  "clock, re-based to the clock (%uL times)",
                  &b->dacf->cacf->name, &b->stream, b->timeline.ahead,
                  b->timeline.aheads);
}


/*
 * The AAC configuration each segment's audio is in: the sequence header
 * in force at its first frame; a new one within it makes the segment
 * unsuitable for dubbing.
 */

static void
ngx_rtmp_dub_bridge_audio(ngx_rtmp_dub_bridge_t *b, unsigned flags,
    ngx_chain_t *in, size_t len)
{
    size_t            n;
    dub_aac_config_t  c;

    if (flags & DUB_TAG_HEADER) {
        if (b->seg_has_audio) {
            b->seg_hdr_changed = 1;
        }

        if (len > sizeof(b->aac_hdr)) {
            b->aac_hdr_len = 0;
            return;
        }

        b->aac_hdr_len = 0;

        for ( /* void */ ; in; in = in->next) {
            n = in->buf->last - in->buf->pos;
            ngx_memcpy(b->aac_hdr + b->aac_hdr_len, in->buf->pos, n);
            b->aac_hdr_len += n;
        }

        /* stream:init tells the STS the stream's audio */

        if (b->sts && b->aac_hdr_len > 2
            && dub_aac_config_parse(b->aac_hdr + 2, b->aac_hdr_len - 2, &c)
               == 0)
        {
            ngx_rtmp_dub_sts_audio(b->sts, c.sample_rate, c.channels);
        }

        return;
    }

    if (!b->seg_has_audio) {
        b->seg_has_audio = 1;
        b->seg_flv_byte = in->buf->pos[0];
        b->seg_hdr_len = b->aac_hdr_len;
        ngx_memcpy(b->seg_hdr, b->aac_hdr, b->aac_hdr_len);
    }
}


ngx_uint_t
ngx_rtmp_dub_bridge_count(void)
{
    return ngx_rtmp_dub_nbridges;
}


void
ngx_rtmp_dub_bridge_free_all(void)
{
    ngx_queue_t            *q;
    ngx_rtmp_dub_bridge_t  *b;

    while (ngx_rtmp_dub_nbridges) {
        q = ngx_queue_head(&ngx_rtmp_dub_bridges);
        b = ngx_queue_data(q, ngx_rtmp_dub_bridge_t, queue);

        /* sessions go away with the process: just drop the pointers */

        b->output = NULL;
        b->publisher = NULL;

        /* the process goes: the stream is no longer "active" */

        ngx_rtmp_dub_bridge_free(b);
    }
}


/* the STS session is over */

static void
ngx_rtmp_dub_bridge_sts_done(void *data)
{
    ngx_rtmp_dub_bridge_check_done(data);
}


/*
 * Something the bridge waited for is over: look again from the timer,
 * never from inside the caller (which may still use the bridge).
 */

static void
ngx_rtmp_dub_bridge_check_done(ngx_rtmp_dub_bridge_t *b)
{
    if (b->publisher == NULL && b->head == NULL) {
        ngx_rtmp_dub_bridge_schedule(b);
    }
}


static ngx_rtmp_dub_bridge_t *
ngx_rtmp_dub_bridge_find(ngx_rtmp_dub_app_conf_t *dacf, u_char *name,
    size_t len)
{
    ngx_queue_t            *q;
    ngx_rtmp_dub_bridge_t  *b;

    if (ngx_rtmp_dub_nbridges == 0) {
        return NULL;
    }

    for (q = ngx_queue_head(&ngx_rtmp_dub_bridges);
         q != ngx_queue_sentinel(&ngx_rtmp_dub_bridges);
         q = ngx_queue_next(q))
    {
        b = ngx_queue_data(q, ngx_rtmp_dub_bridge_t, queue);

        if (b->dacf->output_cacf == dacf->output_cacf
            && b->raw.len == len
            && ngx_memcmp(b->raw.data, name, len) == 0)
        {
            return b;
        }
    }

    return NULL;
}


static void
ngx_rtmp_dub_bridge_closed(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    ngx_rtmp_dub_seg_t  *ds;

    b->segments++;

    if (seg->nvideo) {
        ngx_rtmp_dub_stat_add(b->ms, segments[0], 1);
    }

    if (seg->naudio) {
        ngx_rtmp_dub_stat_add(b->ms, segments[1], 1);
    }

    ds = ngx_calloc(sizeof(ngx_rtmp_dub_seg_t), &b->log);

    if (ds) {
        seg->user = ds;
        ds->reason = b->sts ? DUB_FB_LAST : DUB_FB_NOT_CONFIGURED;
        ngx_rtmp_dub_bridge_fragment(b, seg, ds);
    }

    ngx_rtmp_dub_debug(&b->log,
                       "dub: \"%V/%V\" segment %uL%s%s cut: %Lms at %Lms, "
                       "%uD video %uD audio tags, %uz bytes%s%s%s",
                       &b->dacf->cacf->name, &b->stream, seg->index,
                       (ds && ds->frag) ? " fragment " : "",
                       (ds && ds->frag) ? ngx_rtmp_dub_frag_id(ds->frag)
                                        : "",
                       dub_segment_duration(seg), seg->start, seg->nvideo,
                       seg->naudio, seg->len, seg->final ? ", last" : "",
                       seg->forced ? ", no keyframe" : "",
                       seg->headers_changed ? ", new headers" : "");

    if (ds && ds->frag
        && ngx_rtmp_dub_pack(b->dacf->sts.thread_pool, seg, &ds->audio,
                             ngx_rtmp_dub_bridge_packed, ds, &b->tasks,
                             &b->log)
           != NGX_OK)
    {
        ngx_rtmp_dub_frag_packed(ds->frag, NULL);
    }
}


/*
 * A fragment for a segment's audio, or the reason there is none: no
 * audio, a short last segment, audio the STS cannot get (not AAC-LC, or
 * its configuration changed within the segment).
 */

static void
ngx_rtmp_dub_bridge_fragment(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg,
    ngx_rtmp_dub_seg_t *ds)
{
    ngx_rtmp_dub_audio_t  *a;

    a = &ds->audio;

    ds->flv_byte = b->seg_flv_byte;

    if (b->sts == NULL || seg->naudio == 0) {
        return;
    }

    if (seg->final && seg->end - seg->start < NGX_RTMP_DUB_MIN_PARTIAL) {
        ds->reason = DUB_FB_TOO_SHORT;
        return;
    }

    if (b->seg_hdr_changed || b->seg_hdr_len < 4
        || b->seg_hdr_len - 2 > sizeof(a->asc)
        || dub_aac_config_parse(b->seg_hdr + 2, b->seg_hdr_len - 2, &a->aac)
           != 0
        || a->aac.object_type != 2 || a->aac.frame_length != 1024)
    {
        ds->reason = DUB_FB_UNSUPPORTED;
        return;
    }

    ngx_memcpy(a->asc, b->seg_hdr + 2, b->seg_hdr_len - 2);
    a->asc_len = b->seg_hdr_len - 2;
    a->index = seg->index;
    a->pts = seg->tags[0].out_ts;
    a->source_pts = seg->start;
    a->naudio = seg->naudio;

    /* what the STS gets is the audio: its own length, not the video's */
    a->duration_ms = (unsigned) ((uint64_t) a->naudio * a->aac.frame_length
                                 * 1000 / a->aac.sample_rate);

    ds->frag = ngx_rtmp_dub_frag_create(b->sts, a, &ds->reason);
}


static void
ngx_rtmp_dub_bridge_packed(void *data, ngx_rtmp_dub_packed_t *p)
{
    ngx_rtmp_dub_seg_t  *ds = data;

    ngx_rtmp_dub_frag_packed(ds->frag, p);
    ngx_rtmp_dub_packed_release(p);
}


/* the output reached the first tag of "seg": dubbed or original audio */

static void
ngx_rtmp_dub_bridge_slot(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    dub_fallback_e       reason;
    ngx_rtmp_dub_seg_t  *ds;

    b->out_frames = NULL;

    if (seg->naudio == 0) {
        /* nothing to dub */
        return;
    }

    ngx_rtmp_dub_bridge_av(b, seg);

    ds = seg->user;

    if (!seg->closed || ds == NULL) {
        reason = b->sts ? DUB_FB_INPUT_LATE : DUB_FB_NOT_CONFIGURED;

    } else if (ds->frag) {
        b->out_frames = ngx_rtmp_dub_frag_slot(ds->frag, &reason);

    } else {
        reason = ds->reason;
    }

    if (b->out_frames) {
        b->out_next = 0;
        b->out_flv_byte = ds->flv_byte;
        b->dubbed++;
        ngx_rtmp_dub_stat_add(b->ms, dubbed, 1);

        ngx_log_debug4(NGX_LOG_DEBUG_RTMP, &b->log, 0,
                       "dub: \"%V/%V\" segment %uL fragment %s out with "
                       "dubbed audio", &b->dacf->cacf->name, &b->stream,
                       seg->index, ngx_rtmp_dub_frag_id(ds->frag));

        ngx_rtmp_dub_bridge_run_end(b, "dubbed again");
        return;
    }

    b->fallbacks[reason]++;
    ngx_rtmp_dub_stat_add(b->ms, fallbacks[reason], 1);

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, &b->log, 0,
                   "dub: \"%V/%V\" segment %uL out with original audio: %s",
                   &b->dacf->cacf->name, &b->stream, seg->index,
                   dub_fallback_names[reason]);

    ngx_rtmp_dub_bridge_run_of(b, seg, reason);
}


/* A/V at the segment's start: its first audio and video timestamps */

static void
ngx_rtmp_dub_bridge_av(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    int64_t   v, a, d;
    uint32_t  i;

    if (seg->nvideo == 0) {
        return;
    }

    v = -1;
    a = -1;

    for (i = 0; i < seg->ntags && (v < 0 || a < 0); i++) {
        if (seg->tags[i].flags & DUB_TAG_HEADER) {
            continue;
        }

        if (seg->tags[i].track == DUB_TRACK_VIDEO) {
            if (v < 0) {
                v = seg->tags[i].out_ts;
            }

        } else if (a < 0) {
            a = seg->tags[i].out_ts;
        }
    }

    if (v >= 0 && a >= 0) {
        d = (a > v) ? a - v : v - a;
        ngx_rtmp_dub_stat_set(b->ms, av_delta_us, d * 1000);
    }
}


/*
 * Segments with their original audio, logged as a run: where it starts
 * and why, and where it ends with the count of each reason, rather than a
 * line per segment.
 */

static void
ngx_rtmp_dub_bridge_run_of(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg,
    dub_fallback_e reason)
{
    ngx_uint_t  level;

    if (b->run_reason == DUB_FB_LAST) {
        b->run_reason = reason;
        b->run_start = seg->index;

        /* without an STS it is what the configuration asks for */
        level = (reason == DUB_FB_NOT_CONFIGURED) ? NGX_LOG_INFO
                                                  : NGX_LOG_WARN;

        ngx_log_error(level, &b->log, 0,
                      "dub: \"%V/%V\" segment %uL and on: original audio, "
                      "%s", &b->dacf->cacf->name, &b->stream, seg->index,
                      dub_fallback_names[reason]);
    }

    b->run[reason]++;
}


static void
ngx_rtmp_dub_bridge_run_end(ngx_rtmp_dub_bridge_t *b, const char *how)
{
    u_char      *p, *last;
    uint64_t     n;
    ngx_uint_t   i;
    u_char       why[512];

    if (b->run_reason == DUB_FB_LAST) {
        return;
    }

    p = why;
    last = why + sizeof(why);
    n = 0;

    for (i = 0; i < DUB_FB_LAST; i++) {
        if (b->run[i]) {
            p = ngx_slprintf(p, last, "%s%s %uL", n ? ", " : "",
                             dub_fallback_names[i], b->run[i]);
            n += b->run[i];
            b->run[i] = 0;
        }
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" %s after %uL segment%s with original "
                  "audio from segment %uL (%*s)", &b->dacf->cacf->name,
                  &b->stream, how, n, n == 1 ? "" : "s", b->run_start,
                  p - why, why);

    b->run_reason = DUB_FB_LAST;
}


/* a tag to the output, its audio replaced in a dubbed segment */

static ngx_int_t
ngx_rtmp_dub_bridge_emit(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg,
    dub_tag_t *tag)
{
    u_char            *p, *frame;
    size_t             size, len;
    uint32_t           i, k;
    dub_aac_frames_t  *d;

    d = b->out_frames;

    if (d == NULL || tag->track != DUB_TRACK_AUDIO
        || (tag->flags & DUB_TAG_HEADER))
    {
        return ngx_rtmp_dub_output_send(b, seg, tag, seg->data + tag->off,
                                        tag->len);
    }

    k = b->out_next++;

    if (k >= d->nframes) {
        return ngx_rtmp_dub_output_send(b, seg, tag, seg->data + tag->off,
                                        tag->len);
    }

    frame = d->data;

    for (i = 0; i < k; i++) {
        frame += d->sizes[i];
    }

    size = d->sizes[k];
    len = 2 + size;

    if (len > b->scratch_size) {
        p = ngx_alloc(len * 2, &b->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_free(b->scratch);
        b->scratch = p;
        b->scratch_size = len * 2;
    }

    /* the FLV audio byte of the original, then "AAC raw" */

    b->scratch[0] = b->out_flv_byte;
    b->scratch[1] = 1;
    ngx_memcpy(b->scratch + 2, frame, size);

    return ngx_rtmp_dub_output_send(b, seg, tag, b->scratch, len);
}


/*
 * Tags go out from the timer only, never from inside a publisher's
 * handler: arm it for the next tag due, or at once to tidy up.
 */

static void
ngx_rtmp_dub_bridge_schedule(ngx_rtmp_dub_bridge_t *b)
{
    int64_t         delay;
    dub_segment_t  *seg;

    delay = 0;
    seg = b->head;

    if (seg && b->pos < seg->ntags) {
        delay = seg->tags[b->pos].due - (int64_t) ngx_current_msec;

        if (delay < 0) {
            delay = 0;
        }
    }

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    ngx_add_timer(&b->timer, (ngx_msec_t) delay);
}


static void
ngx_rtmp_dub_bridge_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_bridge_run(ev->data);
}


static void
ngx_rtmp_dub_bridge_run(ngx_rtmp_dub_bridge_t *b)
{
    int64_t         now;
    dub_tag_t      *tag;
    dub_segment_t  *seg;

    now = (int64_t) ngx_current_msec;

    for ( ;; ) {
        seg = b->head;

        if (seg == NULL) {
            break;
        }

        if (b->pos == seg->ntags) {
            if (!seg->closed) {
                /* the output caught up with the input */
                return;
            }

            ngx_rtmp_dub_bridge_pop(b);
            continue;
        }

        tag = &seg->tags[b->pos];

        if (tag->due > now) {
            ngx_add_timer(&b->timer, (ngx_msec_t) (tag->due - now));
            return;
        }

        if (b->pos == 0) {
            ngx_rtmp_dub_bridge_slot(b, seg);

            if (b->output == NULL) {
                (void) ngx_rtmp_dub_output_open(b, tag->out_ts);
            }
        }

        if (b->output && ngx_rtmp_dub_bridge_emit(b, seg, tag) == NGX_OK) {
            b->tags_out++;

            if (b->pos == 0) {
                ngx_rtmp_dub_stat_set(b->ms, output_delay_ms,
                                      now - tag->arrival);
            }
        }

        b->pos++;
    }

    if (b->publisher == NULL) {
        ngx_rtmp_dub_bridge_drained(b);
    }
}


/* no publisher, and everything went out: the bridge ends */

static void
ngx_rtmp_dub_bridge_drained(ngx_rtmp_dub_bridge_t *b)
{
    if (!b->output_done) {
        b->output_done = 1;

        ngx_rtmp_dub_bridge_run_end(b, "output ended");

        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" output done: %uL segments, %uL tags "
                      "in, %uL out", &b->dacf->output_app, &b->stream,
                      b->segments, b->tags_in, b->tags_out);

        ngx_rtmp_dub_output_close(b);
    }

    if (b->sts && ngx_rtmp_dub_sts_busy(b->sts)) {
        /* stream:end and its answer: check_done() comes back */
        return;
    }

    ngx_rtmp_dub_bridge_free(b);
}


static void
ngx_rtmp_dub_bridge_pop(ngx_rtmp_dub_bridge_t *b)
{
    dub_segment_t       *seg;
    ngx_rtmp_dub_seg_t  *ds;

    seg = b->head;

    b->head = seg->next;

    if (b->head == NULL) {
        b->tail = NULL;
    }

    b->bytes -= seg->len;
    b->pos = 0;
    b->out_frames = NULL;

    ds = seg->user;

    if (ds) {
        /* its packing, if still going, must not come back to it */
        ngx_rtmp_dub_task_abandon_data(&b->tasks, ds);

        if (ds->frag) {
            ngx_rtmp_dub_frag_forget(ds->frag);
        }

        ngx_free(ds);
    }

    dub_segment_free(seg);
}


/* the stream's segments in one line: dubbed, and why not */

static void
ngx_rtmp_dub_bridge_summary(ngx_rtmp_dub_bridge_t *b)
{
    u_char      *p, *last;
    ngx_uint_t   i;
    u_char       why[512];

    p = why;
    last = why + sizeof(why);

    for (i = 0; i < DUB_FB_LAST; i++) {
        if (b->fallbacks[i]) {
            p = ngx_slprintf(p, last, ", %s %uL", dub_fallback_names[i],
                             b->fallbacks[i]);
        }
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" %uL segments, %uL dubbed%*s",
                  &b->dacf->cacf->name, &b->stream, b->segments, b->dubbed,
                  p - why, why);
}


static void
ngx_rtmp_dub_bridge_free(ngx_rtmp_dub_bridge_t *b)
{
    ngx_rtmp_dub_ctx_t  *ctx;

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    if (b->publisher) {
        ctx = ngx_rtmp_get_module_ctx(b->publisher, ngx_rtmp_dub_module);
        ctx->bridge = NULL;
    }

    ngx_rtmp_dub_bridge_summary(b);

    while (b->head) {
        ngx_rtmp_dub_bridge_pop(b);
    }

    /* the open segment, if any, was the tail of the queue */

    b->segmenter.cur = NULL;

    ngx_rtmp_dub_task_abandon(&b->tasks);

    if (b->sts) {
        ngx_rtmp_dub_sts_free(b->sts);
    }

    ngx_rtmp_dub_metrics_close(b->ms);

    ngx_free(b->header[0].data);
    ngx_free(b->header[1].data);
    ngx_free(b->scratch);
    ngx_free(b->label.data);

    ngx_queue_remove(&b->queue);

    if (--ngx_rtmp_dub_nbridges == 0) {
        ngx_rtmp_dub_bridge_unwatch();
    }

    ngx_free(b);
}


/*
 * A graceful shutdown lets the output drain, however long that takes:
 * its timer keeps the worker.  When "worker_shutdown_timeout" expires,
 * nginx sets "close" on every connection and calls its read handler, but
 * a bridge may have no connection then (its output not started yet) and
 * nginx-rtmp's sessions do not look at "close".  So the bridges keep a
 * connection of their own, to /dev/null, that nginx tells too.
 */

static void
ngx_rtmp_dub_bridge_watch(ngx_log_t *log)
{
    ngx_fd_t           fd;
    ngx_connection_t  *c;

    if (ngx_rtmp_dub_watch) {
        return;
    }

    fd = ngx_open_file("/dev/null", NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "dub: " ngx_open_file_n " \"/dev/null\" failed: "
                      "\"worker_shutdown_timeout\" will not cut the "
                      "output short");
        return;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);

    if (c == NULL) {
        (void) ngx_close_file(fd);
        return;
    }

    c->log = ngx_cycle->log;
    c->read->log = ngx_cycle->log;
    c->write->log = ngx_cycle->log;
    c->read->handler = ngx_rtmp_dub_bridge_shutdown;
    c->write->handler = ngx_rtmp_dub_bridge_shutdown;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    ngx_rtmp_dub_watch = c;
}


static void
ngx_rtmp_dub_bridge_unwatch(void)
{
    if (ngx_rtmp_dub_watch == NULL) {
        return;
    }

    ngx_close_connection(ngx_rtmp_dub_watch);
    ngx_rtmp_dub_watch = NULL;
}


static void
ngx_rtmp_dub_bridge_shutdown(ngx_event_t *ev)
{
    ngx_queue_t            *q;
    ngx_connection_t       *c;
    ngx_rtmp_dub_bridge_t  *b;

    c = ev->data;

    /* nothing else calls it: the descriptor is never watched */

    if (!c->close || !ngx_exiting) {
        return;
    }

    while (ngx_rtmp_dub_nbridges) {
        q = ngx_queue_head(&ngx_rtmp_dub_bridges);
        b = ngx_queue_data(q, ngx_rtmp_dub_bridge_t, queue);

        /* the last one closes this connection */
        ngx_rtmp_dub_bridge_abort(b);
    }
}


/* the shutdown timeout: what is still buffered will not go out */

static void
ngx_rtmp_dub_bridge_abort(ngx_rtmp_dub_bridge_t *b)
{
    ngx_rtmp_session_t  *s;

    ngx_log_error(NGX_LOG_WARN, &b->log, 0,
                  "dub: \"%V/%V\" worker shutdown timeout: output \"%V/%V\" "
                  "closed with %uz bytes not sent%s", &b->dacf->cacf->name,
                  &b->stream, &b->dacf->output_app, &b->stream, b->bytes,
                  b->publisher ? ", publisher closed" : "");

    s = b->publisher;

    ngx_rtmp_dub_output_close(b);
    ngx_rtmp_dub_bridge_free(b);

    /* nginx-rtmp would keep it, and the worker with it, until it leaves */

    if (s) {
        ngx_rtmp_finalize_session(s);
    }
}
