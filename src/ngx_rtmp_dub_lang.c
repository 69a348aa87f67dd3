
/*
 * Copyright (C) nginx-dub developers
 *
 * A language of a bridge.  Each has its own STS session (its fragments
 * in flight, timeouts, breaker and reconnections), its own metrics slot
 * and its own output: one language's trouble leaves the others dubbing.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_lang.h"
#include "ngx_rtmp_dub_output.h"
#include "ngx_rtmp_dub_log.h"


static void ngx_rtmp_dub_lang_run_of(ngx_rtmp_dub_lang_t *l,
    dub_segment_t *seg, dub_fallback_e reason);
static void ngx_rtmp_dub_lang_run_end(ngx_rtmp_dub_lang_t *l,
    const char *how);
static u_char *ngx_rtmp_dub_lang_frame(ngx_rtmp_dub_lang_t *l,
    uint32_t k, size_t *len);


ngx_int_t
ngx_rtmp_dub_lang_init(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_dub_lang_t *l,
    ngx_rtmp_dub_lang_conf_t *conf, ngx_rtmp_dub_sts_done_pt done)
{
    ngx_rtmp_dub_main_conf_t  *dmcf;

    l->conf = conf;
    l->bridge = b;
    l->run_reason = DUB_FB_LAST;

    /* "app/stream", and its language if it has them by "dub_language" */

    l->label.len = b->label.len;

    if (b->dacf->lang_labels) {
        l->label.len += 1 + conf->lang.len;
    }

    l->label.data = ngx_alloc(l->label.len, &b->log);
    if (l->label.data == NULL) {
        return NGX_ERROR;
    }

    if (b->dacf->lang_labels) {
        ngx_sprintf(l->label.data, "%V:%V", &b->label, &conf->lang);

    } else {
        ngx_memcpy(l->label.data, b->label.data, b->label.len);
    }

    dmcf = b->main_conf[ngx_rtmp_dub_module.ctx_index];

    l->ms = ngx_rtmp_dub_metrics_open(dmcf->zone, &b->dacf->cacf->name,
                                      &b->stream, &conf->lang,
                                      &conf->output_app, &b->log);

    if (conf->sts.url == NULL) {
        return NGX_OK;
    }

    l->sts = ngx_rtmp_dub_sts_create(&conf->sts, &l->label, &b->stream,
                                     &b->log, l->ms, done, b);
    if (l->sts == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_rtmp_dub_lang_free(ngx_rtmp_dub_lang_t *l)
{
    if (l->sts) {
        ngx_rtmp_dub_sts_free(l->sts);
        l->sts = NULL;
    }

    ngx_rtmp_dub_metrics_close(l->ms);
    l->ms = NULL;

    ngx_free(l->header[0].data);
    ngx_free(l->header[1].data);
    ngx_free(l->label.data);
}


/* the segment's fragment in this language, or why there is none */

void
ngx_rtmp_dub_lang_fragment(ngx_rtmp_dub_lang_t *l, ngx_rtmp_dub_seg_t *ds)
{
    ngx_rtmp_dub_seg_lang_t  *sl;

    sl = &ds->lang[l->index];

    if (l->sts == NULL) {
        sl->reason = DUB_FB_NOT_CONFIGURED;
        return;
    }

    sl->frag = ngx_rtmp_dub_frag_create(l->sts, &ds->audio, &sl->reason);

    if (sl->frag == NULL) {
        return;
    }

    ds->nfrags++;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, &l->bridge->log, 0,
                   "dub: \"%V\" segment %uL fragment %s cut", &l->label,
                   ds->audio.index, ngx_rtmp_dub_frag_id(sl->frag));
}


/* the output reached the first tag of "seg": dubbed or original audio */

void
ngx_rtmp_dub_lang_slot(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg)
{
    dub_fallback_e            reason;
    ngx_rtmp_dub_seg_t       *ds;
    ngx_rtmp_dub_seg_lang_t  *sl;

    l->out_frames = NULL;

    if (seg->naudio == 0) {
        /* nothing to dub */
        return;
    }

    ds = seg->user;
    sl = ds ? &ds->lang[l->index] : NULL;

    if (!seg->closed || ds == NULL) {
        reason = l->sts ? DUB_FB_INPUT_LATE : DUB_FB_NOT_CONFIGURED;

    } else if (sl->frag) {
        l->out_frames = ngx_rtmp_dub_frag_slot(sl->frag, &reason);

    } else {
        reason = sl->reason;
    }

    if (l->out_frames) {
        l->out_next = 0;
        l->out_flv_byte = ds->flv_byte;
        l->dubbed++;
        ngx_rtmp_dub_stat_add(l->ms, dubbed, 1);
        ngx_rtmp_dub_stat_set(l->ms, last, DUB_STATUS_DUBBED);

        ngx_log_debug3(NGX_LOG_DEBUG_RTMP, &l->bridge->log, 0,
                       "dub: \"%V\" segment %uL fragment %s out with "
                       "dubbed audio", &l->label, seg->index,
                       ngx_rtmp_dub_frag_id(sl->frag));

        ngx_rtmp_dub_lang_run_end(l, "dubbed again");
        return;
    }

    l->fallbacks[reason]++;
    ngx_rtmp_dub_stat_add(l->ms, fallbacks[reason], 1);
    ngx_rtmp_dub_stat_set(l->ms, last, dub_status_original(reason));

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, &l->bridge->log, 0,
                   "dub: \"%V\" segment %uL out with original audio: %s",
                   &l->label, seg->index, dub_fallback_names[reason]);

    ngx_rtmp_dub_lang_run_of(l, seg, reason);
}


/*
 * Segments with their original audio, logged as a run: where it starts
 * and why, and where it ends with the count of each reason, rather than a
 * line per segment.
 */

static void
ngx_rtmp_dub_lang_run_of(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg,
    dub_fallback_e reason)
{
    ngx_uint_t  level;

    if (l->run_reason == DUB_FB_LAST) {
        l->run_reason = reason;
        l->run_start = seg->index;

        /* without an STS it is what the configuration asks for */
        level = (reason == DUB_FB_NOT_CONFIGURED) ? NGX_LOG_INFO
                                                  : NGX_LOG_WARN;

        ngx_log_error(level, &l->bridge->log, 0,
                      "dub: \"%V\" segment %uL and on: original audio, %s",
                      &l->label, seg->index, dub_fallback_names[reason]);
    }

    l->run[reason]++;
}


static void
ngx_rtmp_dub_lang_run_end(ngx_rtmp_dub_lang_t *l, const char *how)
{
    u_char      *p, *last;
    uint64_t     n;
    ngx_uint_t   i;
    u_char       why[512];

    if (l->run_reason == DUB_FB_LAST) {
        return;
    }

    p = why;
    last = why + sizeof(why);
    n = 0;

    for (i = 0; i < DUB_FB_LAST; i++) {
        if (l->run[i]) {
            p = ngx_slprintf(p, last, "%s%s %uL", n ? ", " : "",
                             dub_fallback_names[i], l->run[i]);
            n += l->run[i];
            l->run[i] = 0;
        }
    }

    ngx_log_error(NGX_LOG_INFO, &l->bridge->log, 0,
                  "dub: \"%V\" %s after %uL segment%s with original "
                  "audio from segment %uL (%*s)", &l->label, how, n,
                  n == 1 ? "" : "s", l->run_start, p - why, why);

    l->run_reason = DUB_FB_LAST;
}


/* a tag to the output, its audio replaced in a dubbed segment */

ngx_int_t
ngx_rtmp_dub_lang_emit(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg,
    dub_tag_t *tag)
{
    u_char  *frame;
    size_t   len;

    if (l->out_frames == NULL || tag->track != DUB_TRACK_AUDIO
        || (tag->flags & DUB_TAG_HEADER))
    {
        return ngx_rtmp_dub_output_send(l, tag, tag->data,
                                        tag->len);
    }

    frame = ngx_rtmp_dub_lang_frame(l, l->out_next++, &len);

    if (frame == NULL) {
        /* more audio tags than dubbed frames: the original's */
        return ngx_rtmp_dub_output_send(l, tag, tag->data,
                                        tag->len);
    }

    return ngx_rtmp_dub_output_send(l, tag, frame, len);
}


/* dubbed frame "k" as an FLV audio payload, in the bridge's scratch */

static u_char *
ngx_rtmp_dub_lang_frame(ngx_rtmp_dub_lang_t *l, uint32_t k, size_t *len)
{
    u_char                 *p, *frame;
    size_t                  size;
    uint32_t                i;
    dub_aac_frames_t       *d;
    ngx_rtmp_dub_bridge_t  *b;

    d = l->out_frames;
    b = l->bridge;

    if (k >= d->nframes) {
        return NULL;
    }

    frame = d->data;

    for (i = 0; i < k; i++) {
        frame += d->sizes[i];
    }

    size = d->sizes[k];
    *len = 2 + size;

    if (*len > b->scratch_size) {
        p = ngx_alloc(*len * 2, &b->log);
        if (p == NULL) {
            return NULL;
        }

        ngx_free(b->scratch);
        b->scratch = p;
        b->scratch_size = *len * 2;
    }

    /* the FLV audio byte of the original, then "AAC raw" */

    b->scratch[0] = l->out_flv_byte;
    b->scratch[1] = 1;
    ngx_memcpy(b->scratch + 2, frame, size);

    return b->scratch;
}


/* everything went out: the output ends */

void
ngx_rtmp_dub_lang_done(ngx_rtmp_dub_lang_t *l)
{
    if (l->output_done) {
        return;
    }

    l->output_done = 1;

    ngx_rtmp_dub_lang_run_end(l, "output ended");

    ngx_log_error(NGX_LOG_INFO, &l->bridge->log, 0,
                  "dub: \"%V/%V\" output done: %uL segments, %uL tags "
                  "in, %uL out", &l->conf->output_app, &l->bridge->stream,
                  l->bridge->segments, l->bridge->tags_in, l->tags_out);

    ngx_rtmp_dub_output_close(l);
}


/* the language's segments in one line: dubbed, and why not */

void
ngx_rtmp_dub_lang_summary(ngx_rtmp_dub_lang_t *l)
{
    u_char      *p, *last;
    ngx_uint_t   i;
    u_char       why[512];

    p = why;
    last = why + sizeof(why);

    for (i = 0; i < DUB_FB_LAST; i++) {
        if (l->fallbacks[i]) {
            p = ngx_slprintf(p, last, ", %s %uL", dub_fallback_names[i],
                             l->fallbacks[i]);
        }
    }

    ngx_log_error(NGX_LOG_INFO, &l->bridge->log, 0,
                  "dub: \"%V\" %uL segments, %uL dubbed%*s", &l->label,
                  l->bridge->segments, l->dubbed, p - why, why);
}
