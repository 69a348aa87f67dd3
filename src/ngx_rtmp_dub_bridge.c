
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
#include "ngx_rtmp_dub_lang.h"
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
static ngx_uint_t ngx_rtmp_dub_bridge_shares(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_app_conf_t *dacf);
static ngx_int_t ngx_rtmp_dub_bridge_langs(ngx_rtmp_dub_bridge_t *b);
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
static void ngx_rtmp_dub_bridge_av(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg);
static void ngx_rtmp_dub_bridge_sts_done(void *data);
static void ngx_rtmp_dub_bridge_check_done(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_schedule(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_timer(ngx_event_t *ev);
static ngx_msec_t ngx_rtmp_dub_bridge_wait(int64_t due, int64_t now);
static void ngx_rtmp_dub_bridge_run(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_out(ngx_rtmp_dub_lang_t *l,
    dub_segment_t *seg, dub_tag_t *tag, uint32_t pos, int64_t now);
static void ngx_rtmp_dub_bridge_drained(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_bridge_pop(ngx_rtmp_dub_bridge_t *b);
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
    ngx_uint_t              i;
    ngx_rtmp_dub_ctx_t     *ctx;
    ngx_rtmp_dub_lang_t    *l;
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

    if (b && (b->publisher || b->dacf != dacf)) {
        ngx_log_error(NGX_LOG_ERR, s->connection->log, 0,
                      "dub: \"%V/%V\" not dubbed: its output is already "
                      "fed by \"%V\"%s", &s->app, &b->stream, &b->label,
                      b->publisher ? "" : ", still draining");
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

    for (i = 0; i < b->nlangs; i++) {
        l = &b->langs[i];

        ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                      "dub: \"%V\" publishing, output \"%V/%V\" %Mms "
                      "behind%s", &l->label, &l->conf->output_app,
                      &b->stream, dacf->delay,
                      b->publishes > 1 ? " (continued)" : "");

        ngx_rtmp_dub_metrics_publish(l->ms, dacf->delay, dacf->segment);

        if (l->sts) {
            ngx_rtmp_dub_sts_start(l->sts);
        }
    }

    return NGX_OK;
}


static ngx_rtmp_dub_bridge_t *
ngx_rtmp_dub_bridge_create(ngx_rtmp_session_t *s,
    ngx_rtmp_dub_app_conf_t *dacf, u_char *name, size_t len)
{
    int64_t                 first;
    ngx_rtmp_dub_bridge_t  *b;

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

    /*
     * Streams that start together (an encoder farm, a restart) would
     * close their segments together and send the STS and the thread pool
     * their work in bursts: the second and third of every three streams
     * cut their first segment a third and two thirds short, then every
     * segment is whole.
     */

    first = (int64_t) dacf->segment
            - (int64_t) ((ngx_rtmp_dub_nbridges - 1) % NGX_RTMP_DUB_STAGGER)
              * (int64_t) dacf->segment / NGX_RTMP_DUB_STAGGER;

    if (dacf->stagger && first >= NGX_RTMP_DUB_STAGGER_MIN) {
        dub_segmenter_stagger(&b->segmenter, first);
    }

    ngx_queue_init(&b->tasks);

    if (ngx_rtmp_dub_bridge_langs(b) != NGX_OK) {
        ngx_rtmp_dub_bridge_free(b);
        return NULL;
    }

    return b;
}


/* a language, its STS session and its metrics, for each "dub_language" */

static ngx_int_t
ngx_rtmp_dub_bridge_langs(ngx_rtmp_dub_bridge_t *b)
{
    ngx_uint_t                 i, n;
    ngx_rtmp_dub_lang_conf_t  *lc;

    n = b->dacf->langs->nelts;
    lc = b->dacf->langs->elts;

    b->langs = ngx_calloc(n * sizeof(ngx_rtmp_dub_lang_t), &b->log);
    if (b->langs == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        b->langs[i].index = i;
        b->nlangs = i + 1;

        if (ngx_rtmp_dub_lang_init(b, &b->langs[i], &lc[i],
                                   ngx_rtmp_dub_bridge_sts_done)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* a new publisher continues the draining output */

static void
ngx_rtmp_dub_bridge_continue(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_app_conf_t *dacf)
{
    uint64_t    next;
    ngx_uint_t  i;

    next = b->segmenter.next_index;
    dub_segmenter_init(&b->segmenter, dacf->segment, 2 * dacf->segment);
    b->segmenter.next_index = next;

    ngx_memzero(&b->unwrap, sizeof(dub_unwrap_t));
    dub_timeline_new_epoch(&b->timeline);

    b->dacf = dacf;
    b->overflow = 0;

    b->aac_hdr_len = 0;
    b->seg_has_audio = 0;
    b->seg_hdr_changed = 0;

    for (i = 0; i < b->nlangs; i++) {
        b->langs[i].output_done = 0;
    }
}


void
ngx_rtmp_dub_bridge_detach(ngx_rtmp_session_t *s)
{
    ngx_uint_t              i;
    dub_segment_t          *seg;
    ngx_rtmp_dub_ctx_t     *ctx;
    ngx_rtmp_dub_lang_t    *l;
    ngx_rtmp_dub_bridge_t  *b;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx == NULL || ctx->bridge == NULL) {
        return;
    }

    b = ctx->bridge;
    ctx->bridge = NULL;

    if (ctx->output) {
        l = ctx->lang;

        if (l && l->output == s) {
            ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                          "dub: \"%V/%V\" output session closed",
                          &l->conf->output_app, &b->stream);
            l->output = NULL;
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
                  "dub: \"%V\" publisher left, %uz bytes to drain",
                  &b->label, b->bytes);

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_metrics_unpublish(b->langs[i].ms);

        if (b->langs[i].sts) {
            ngx_rtmp_dub_sts_stop(b->langs[i].sts);
        }
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

    p = tag->data;

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
    ngx_uint_t        i;
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

        if (b->aac_hdr_len <= 2
            || dub_aac_config_parse(b->aac_hdr + 2, b->aac_hdr_len - 2, &c)
               != 0)
        {
            return;
        }

        for (i = 0; i < b->nlangs; i++) {
            if (b->langs[i].sts) {
                ngx_rtmp_dub_sts_audio(b->langs[i].sts, c.sample_rate,
                                       c.channels);
            }
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
    ngx_uint_t              i;
    ngx_queue_t            *q;
    ngx_rtmp_dub_bridge_t  *b;

    while (ngx_rtmp_dub_nbridges) {
        q = ngx_queue_head(&ngx_rtmp_dub_bridges);
        b = ngx_queue_data(q, ngx_rtmp_dub_bridge_t, queue);

        /* sessions go away with the process: just drop the pointers */

        for (i = 0; i < b->nlangs; i++) {
            b->langs[i].output = NULL;
        }

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

        if (b->raw.len == len
            && ngx_memcmp(b->raw.data, name, len) == 0
            && ngx_rtmp_dub_bridge_shares(b, dacf))
        {
            return b;
        }
    }

    return NULL;
}


/* does the bridge publish into an output application of "dacf" */

static ngx_uint_t
ngx_rtmp_dub_bridge_shares(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_app_conf_t *dacf)
{
    ngx_uint_t                 i, j;
    ngx_rtmp_dub_lang_conf_t  *lc;

    if (b->dacf == dacf) {
        return 1;
    }

    lc = dacf->langs->elts;

    for (i = 0; i < b->nlangs; i++) {
        for (j = 0; j < dacf->langs->nelts; j++) {
            if (b->langs[i].conf->output_cacf == lc[j].output_cacf) {
                return 1;
            }
        }
    }

    return 0;
}


static void
ngx_rtmp_dub_bridge_closed(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    ngx_uint_t           i;
    ngx_rtmp_dub_seg_t  *ds;

    b->segments++;

    for (i = 0; i < b->nlangs; i++) {
        if (seg->nvideo) {
            ngx_rtmp_dub_stat_add(b->langs[i].ms, segments[0], 1);
        }

        if (seg->naudio) {
            ngx_rtmp_dub_stat_add(b->langs[i].ms, segments[1], 1);
        }
    }

    ds = ngx_calloc(sizeof(ngx_rtmp_dub_seg_t)
                    + (b->nlangs - 1) * sizeof(ngx_rtmp_dub_seg_lang_t),
                    &b->log);

    if (ds) {
        seg->user = ds;
        ds->log = &b->log;
        ngx_rtmp_dub_bridge_fragment(b, seg, ds);
    }

    ngx_rtmp_dub_debug(&b->log,
                       "dub: \"%V\" segment %uL cut: %Lms at %Lms, %uD "
                       "video %uD audio tags, %uz bytes, %ui fragment%s%s%s"
                       "%s", &b->label, seg->index,
                       dub_segment_duration(seg), seg->start, seg->nvideo,
                       seg->naudio, seg->len, ds ? ds->nfrags : 0,
                       (ds && ds->nfrags == 1) ? "" : "s",
                       seg->final ? ", last" : "",
                       seg->forced ? ", no keyframe" : "",
                       seg->headers_changed ? ", new headers" : "");

    if (ds && ds->nfrags
        && ngx_rtmp_dub_pack(b->dacf->sts.thread_pool, seg, &ds->audio,
                             ngx_rtmp_dub_bridge_packed, ds, &b->tasks,
                             &b->log)
           != NGX_OK)
    {
        ngx_rtmp_dub_bridge_packed(ds, NULL);
    }
}


/*
 * A fragment for a segment's audio in each language, or the reason there
 * is none: no audio, a short last segment, audio the STS cannot get (not
 * AAC-LC, or its configuration changed within the segment).
 */

static void
ngx_rtmp_dub_bridge_fragment(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg,
    ngx_rtmp_dub_seg_t *ds)
{
    ngx_uint_t             i;
    dub_fallback_e         reason;
    ngx_rtmp_dub_audio_t  *a;

    a = &ds->audio;

    ds->flv_byte = b->seg_flv_byte;
    reason = DUB_FB_LAST;

    if (seg->final && seg->end - seg->start < NGX_RTMP_DUB_MIN_PARTIAL) {
        reason = DUB_FB_TOO_SHORT;

    } else if (b->seg_hdr_changed || b->seg_hdr_len < 4
               || b->seg_hdr_len - 2 > sizeof(a->asc)
               || dub_aac_config_parse(b->seg_hdr + 2, b->seg_hdr_len - 2,
                                       &a->aac)
                  != 0
               || a->aac.object_type != 2 || a->aac.frame_length != 1024)
    {
        reason = DUB_FB_UNSUPPORTED;
    }

    if (seg->naudio == 0 || reason != DUB_FB_LAST) {
        for (i = 0; i < b->nlangs; i++) {
            ds->lang[i].reason = b->langs[i].sts ? reason
                                                 : DUB_FB_NOT_CONFIGURED;
        }

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

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_lang_fragment(&b->langs[i], ds);
    }
}


/* packed once, for every language's fragment */

static void
ngx_rtmp_dub_bridge_packed(void *data, ngx_rtmp_dub_packed_t *p)
{
    ngx_rtmp_dub_seg_t  *ds = data;

    ngx_uint_t  i, n;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ds->log, 0,
                   "dub: segment %uL packed %s for %ui fragment(s)",
                   ds->audio.index, p ? "once" : "failed", ds->nfrags);

    for (i = 0, n = 0; n < ds->nfrags; i++) {
        if (ds->lang[i].frag) {
            ngx_rtmp_dub_frag_packed(ds->lang[i].frag, p);
            n++;
        }
    }

    ngx_rtmp_dub_packed_release(p);
}


/* A/V at the segment's start: its first audio and video timestamps */

static void
ngx_rtmp_dub_bridge_av(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    int64_t     v, a, d;
    uint32_t    k;
    ngx_uint_t  i;

    if (seg->nvideo == 0) {
        return;
    }

    v = -1;
    a = -1;

    for (k = 0; k < seg->ntags && (v < 0 || a < 0); k++) {
        if (seg->tags[k].flags & DUB_TAG_HEADER) {
            continue;
        }

        if (seg->tags[k].track == DUB_TRACK_VIDEO) {
            if (v < 0) {
                v = seg->tags[k].out_ts;
            }

        } else if (a < 0) {
            a = seg->tags[k].out_ts;
        }
    }

    if (v < 0 || a < 0) {
        return;
    }

    d = (a > v) ? a - v : v - a;

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_stat_set(b->langs[i].ms, av_delta_us, d * 1000);
    }
}


/*
 * Tags go out from the timer only, never from inside a publisher's
 * handler: arm it for the next tag due, or at once to tidy up.
 */

static void
ngx_rtmp_dub_bridge_schedule(ngx_rtmp_dub_bridge_t *b)
{
    int64_t         now;
    ngx_msec_t      delay;
    dub_segment_t  *seg;

    delay = 0;
    seg = b->head;
    now = (int64_t) ngx_current_msec;

    if (seg && b->pos < seg->ntags
        && seg->tags[b->pos].due > now + NGX_RTMP_DUB_BATCH_MS)
    {
        delay = ngx_rtmp_dub_bridge_wait(seg->tags[b->pos].due, now);
    }

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    ngx_add_timer(&b->timer, delay);
}


/*
 * A timer run sends every tag due within NGX_RTMP_DUB_BATCH_MS, and the
 * timer wakes on a multiple of it, the same instants for every stream of
 * the worker: one wakeup sends what all of them have due, instead of one
 * per tag and stream.  A tag goes out at most that much early, never
 * late.  "due" is later than now + NGX_RTMP_DUB_BATCH_MS.
 */

static ngx_msec_t
ngx_rtmp_dub_bridge_wait(int64_t due, int64_t now)
{
    int64_t  at;

    at = due - NGX_RTMP_DUB_BATCH_MS;
    at += (NGX_RTMP_DUB_BATCH_MS - at % NGX_RTMP_DUB_BATCH_MS)
          % NGX_RTMP_DUB_BATCH_MS;

    return (ngx_msec_t) (at - now);
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
    ngx_uint_t      i;
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

        if (tag->due > now + NGX_RTMP_DUB_BATCH_MS) {
            ngx_add_timer(&b->timer, ngx_rtmp_dub_bridge_wait(tag->due, now));
            return;
        }

        if (b->pos == 0 && seg->naudio) {
            ngx_rtmp_dub_bridge_av(b, seg);
        }

        for (i = 0; i < b->nlangs; i++) {
            ngx_rtmp_dub_bridge_out(&b->langs[i], seg, tag, b->pos, now);
        }

        b->pos++;

        /*
         * What every output sent of a closed segment is needed no more
         * (its audio was copied for the STS when it closed): its blocks
         * go back to the system as the output passes them.
         */

        if (seg->closed) {
            dub_segment_release(seg, b->pos);
        }
    }

    if (b->publisher == NULL) {
        ngx_rtmp_dub_bridge_drained(b);
    }
}


/* a tag to a language's output, opened at a segment's start if need be */

static void
ngx_rtmp_dub_bridge_out(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg,
    dub_tag_t *tag, uint32_t pos, int64_t now)
{
    ngx_rtmp_dub_seg_t  *ds;

    if (pos == 0) {
        ngx_rtmp_dub_lang_slot(l, seg);

        /* captions */
        if (l->conf->sts.captions) {
            ds = seg->user;
            l->captions = ngx_rtmp_dub_captions_segment(seg,
                              ds ? ds->lang[l->index].frag : NULL,
                              l->out_frames != NULL,
                              &l->header[DUB_TRACK_VIDEO], &l->label,
                              &l->bridge->log);
        }

        if (l->output == NULL) {
            (void) ngx_rtmp_dub_output_open(l, tag->out_ts);
        }
    }

    if (l->output == NULL || ngx_rtmp_dub_lang_emit(l, seg, tag) != NGX_OK) {
        return;
    }

    l->tags_out++;

    if (pos == 0) {
        ngx_rtmp_dub_stat_set(l->ms, output_delay_ms, now - tag->arrival);
    }
}


/* no publisher, and everything went out: the bridge ends */

static void
ngx_rtmp_dub_bridge_drained(ngx_rtmp_dub_bridge_t *b)
{
    ngx_uint_t  i;

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_lang_done(&b->langs[i]);
    }

    for (i = 0; i < b->nlangs; i++) {
        if (b->langs[i].sts && ngx_rtmp_dub_sts_busy(b->langs[i].sts)) {
            /* stream:end and its answer: check_done() comes back */
            return;
        }
    }

    ngx_rtmp_dub_bridge_free(b);
}


static void
ngx_rtmp_dub_bridge_pop(ngx_rtmp_dub_bridge_t *b)
{
    ngx_uint_t           i;
    dub_segment_t       *seg;
    ngx_rtmp_dub_seg_t  *ds;

    seg = b->head;

    b->head = seg->next;

    if (b->head == NULL) {
        b->tail = NULL;
    }

    b->bytes -= seg->len;
    b->pos = 0;

    for (i = 0; i < b->nlangs; i++) {
        b->langs[i].out_frames = NULL;

        /* captions */
        ngx_rtmp_dub_captions_free(b->langs[i].captions);
        b->langs[i].captions = NULL;
    }

    ds = seg->user;

    if (ds) {
        /* its packing, if still going, must not come back to it */
        ngx_rtmp_dub_task_abandon_data(&b->tasks, ds);

        for (i = 0; i < b->nlangs; i++) {
            if (ds->lang[i].frag) {
                ngx_rtmp_dub_frag_forget(ds->lang[i].frag);
            }
        }

        ngx_free(ds);
    }

    dub_segment_free(seg);
}


static void
ngx_rtmp_dub_bridge_free(ngx_rtmp_dub_bridge_t *b)
{
    ngx_uint_t           i;
    ngx_rtmp_dub_ctx_t  *ctx;

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    if (b->publisher) {
        ctx = ngx_rtmp_get_module_ctx(b->publisher, ngx_rtmp_dub_module);
        ctx->bridge = NULL;
    }

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_lang_summary(&b->langs[i]);
    }

    while (b->head) {
        ngx_rtmp_dub_bridge_pop(b);
    }

    /* the open segment, if any, was the tail of the queue */

    b->segmenter.cur = NULL;

    ngx_rtmp_dub_task_abandon(&b->tasks);

    for (i = 0; i < b->nlangs; i++) {
        ngx_rtmp_dub_lang_free(&b->langs[i]);
    }

    ngx_free(b->langs);
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
    ngx_uint_t           i;
    ngx_rtmp_dub_lang_t  *l;
    ngx_rtmp_session_t   *s;

    for (i = 0; i < b->nlangs; i++) {
        l = &b->langs[i];

        ngx_log_error(NGX_LOG_WARN, &b->log, 0,
                      "dub: \"%V\" worker shutdown timeout: output "
                      "\"%V/%V\" closed with %uz bytes not sent%s",
                      &l->label, &l->conf->output_app, &b->stream, b->bytes,
                      b->publisher ? ", publisher closed" : "");

        ngx_rtmp_dub_output_close(l);
    }

    s = b->publisher;

    ngx_rtmp_dub_bridge_free(b);

    /* nginx-rtmp would keep it, and the worker with it, until it leaves */

    if (s) {
        ngx_rtmp_finalize_session(s);
    }
}
