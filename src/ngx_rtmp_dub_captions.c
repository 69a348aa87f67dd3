
/*
 * Copyright (C) nginx-dub developers
 *
 * A segment's captions: its text chosen, scheduled on its video frames,
 * and each frame's tag rewritten with the SEI as it goes out.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "dub_cc608.h"
#include "dub_sei.h"
#include "ngx_rtmp_dub_captions.h"
#include "ngx_rtmp_dub_log.h"


/* a video frame step when the segment's own is unknown, ms */
#define NGX_RTMP_DUB_CAPTIONS_STEP  33


struct ngx_rtmp_dub_captions_s {
    dub_segment_t              *seg;
    ngx_str_t                  *label;
    ngx_log_t                  *log;

    unsigned                    nalu_size;      /* 0: not known yet */

    uint32_t                    n;              /* frames */
    uint32_t                    next;           /* the next one to go */
    dub_cc608_frame_t          *frames;
    uint32_t                   *tag;            /* each frame's tag */

    u_char                     *buf;            /* a tag with its SEI */
    size_t                      size;

    ngx_uint_t                  sent;           /* frames with a SEI */
    ngx_uint_t                  lost;           /* frames without */
};


static ngx_rtmp_dub_captions_t *ngx_rtmp_dub_captions_frames(
    dub_segment_t *seg, int64_t *start, int64_t *end, ngx_log_t *log);
static ngx_int_t ngx_rtmp_dub_captions_field(ngx_rtmp_dub_captions_t *cc,
    int64_t start, int64_t end, unsigned field, ngx_str_t *text);
static ngx_int_t ngx_rtmp_dub_captions_sei(ngx_rtmp_dub_captions_t *cc,
    dub_cc608_frame_t *f, u_char **data, size_t *len);


ngx_rtmp_dub_captions_t *
ngx_rtmp_dub_captions_segment(dub_segment_t *seg, ngx_rtmp_dub_frag_t *frag,
    ngx_uint_t dubbed, ngx_str_t *avc_header, ngx_str_t *label,
    ngx_log_t *log)
{
    int64_t                   start, end;
    unsigned                  size;
    ngx_str_t                 heard, said;
    ngx_rtmp_dub_captions_t  *cc;

    cc = ngx_rtmp_dub_captions_frames(seg, &start, &end, log);
    if (cc == NULL) {
        return NULL;
    }

    cc->label = label;
    cc->log = log;

    if (avc_header->len
        && dub_avc_nalu_size(avc_header->data, avc_header->len, &size) == 0)
    {
        cc->nalu_size = size;
    }

    ngx_str_null(&heard);
    ngx_str_null(&said);

    if (frag) {
        ngx_rtmp_dub_frag_texts(frag, &heard, &said);
    }

    /* dubbed: what viewers hear on CC1; otherwise what was said, if known */

    if (ngx_rtmp_dub_captions_field(cc, start, end, DUB_CC608_CC1,
                                    dubbed ? &said : &heard)
        != NGX_OK
        || ngx_rtmp_dub_captions_field(cc, start, end, DUB_CC608_CC3,
                                       &heard)
           != NGX_OK)
    {
        ngx_rtmp_dub_captions_free(cc);
        return NULL;
    }

    return cc;
}


/*
 * The segment's H.264 frames, in decode order, with their presentation
 * times on the output's timeline; and the times the captions span: the
 * first frame shown to the one after the last.
 */

static ngx_rtmp_dub_captions_t *
ngx_rtmp_dub_captions_frames(dub_segment_t *seg, int64_t *start,
    int64_t *end, ngx_log_t *log)
{
    int64_t                   pts, last;
    uint32_t                  i, n;
    dub_tag_t                *tag;
    dub_flv_tag_t             ft;
    ngx_rtmp_dub_captions_t  *cc;

    n = 0;

    for (i = 0; i < seg->ntags; i++) {
        tag = &seg->tags[i];

        if (tag->track == DUB_TRACK_VIDEO
            && !(tag->flags & DUB_TAG_HEADER))
        {
            n++;
        }
    }

    if (n == 0) {
        return NULL;
    }

    cc = ngx_calloc(sizeof(ngx_rtmp_dub_captions_t)
                    + n * (sizeof(dub_cc608_frame_t) + sizeof(uint32_t)),
                    log);
    if (cc == NULL) {
        return NULL;
    }

    cc->seg = seg;
    cc->frames = (dub_cc608_frame_t *) (cc + 1);
    cc->tag = (uint32_t *) (cc->frames + n);

    *start = INT64_MAX;
    last = INT64_MIN;

    for (i = 0; i < seg->ntags; i++) {
        tag = &seg->tags[i];

        if (tag->track != DUB_TRACK_VIDEO || (tag->flags & DUB_TAG_HEADER)) {
            continue;
        }

        if (dub_flv_parse(DUB_TRACK_VIDEO, tag->data, tag->len,
                          &ft)
            != 0
            || ft.codec != DUB_FLV_VIDEO_AVC)
        {
            /* not H.264: no captions in this segment */
            ngx_free(cc);
            return NULL;
        }

        pts = tag->out_ts + ft.cts;

        cc->frames[cc->n].pts = pts;
        cc->tag[cc->n] = i;
        cc->n++;

        *start = ngx_min(*start, pts);
        last = ngx_max(last, pts);
    }

    *end = last + (seg->step[DUB_TRACK_VIDEO] > 0
                   ? seg->step[DUB_TRACK_VIDEO]
                   : NGX_RTMP_DUB_CAPTIONS_STEP);

    return cc;
}


static ngx_int_t
ngx_rtmp_dub_captions_field(ngx_rtmp_dub_captions_t *cc, int64_t start,
    int64_t end, unsigned field, ngx_str_t *text)
{
    dub_cc608_stats_t  st;

    if (dub_cc608_schedule(cc->frames, cc->n, start, end, field,
                           DUB_CC608_ROWS, (const char *) text->data,
                           text->len, &st)
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, cc->log, 0,
                      "dub: \"%V\" segment %uL: no memory for captions",
                      cc->label, cc->seg->index);
        return NGX_ERROR;
    }

    ngx_rtmp_dub_debug(cc->log,
                       "dub: \"%V\" segment %uL captions on cc%d: %uz "
                       "characters%s, %ui of %ui pages, %ui pairs, at most "
                       "%ui a frame, first at %Lms", cc->label,
                       cc->seg->index, field ? 3 : 1, st.cells,
                       st.cut ? " (cut)" : "", (ngx_uint_t) st.shown,
                       (ngx_uint_t) st.pages, (ngx_uint_t) st.pairs,
                       (ngx_uint_t) st.peak, st.first);

    return NGX_OK;
}


ngx_int_t
ngx_rtmp_dub_captions_tag(ngx_rtmp_dub_captions_t *cc, dub_tag_t *tag,
    u_char **data, size_t *len)
{
    uint32_t        i;
    unsigned        size;
    dub_segment_t  *seg;

    if (cc == NULL || tag->track != DUB_TRACK_VIDEO) {
        return NGX_DECLINED;
    }

    /* a tag of its segment: it is the head until the captions are freed */

    seg = cc->seg;

    if ((uintptr_t) tag < (uintptr_t) seg->tags
        || (uintptr_t) tag >= (uintptr_t) (seg->tags + seg->ntags))
    {
        return NGX_DECLINED;
    }

    if (tag->flags & DUB_TAG_HEADER) {
        /* a new sequence header: its NALU length size from now on */

        if (dub_avc_nalu_size(*data, *len, &size) == 0) {
            cc->nalu_size = size;
        }

        return NGX_DECLINED;
    }

    /* the frame of this tag: tags go out in order, some may be skipped */

    i = (uint32_t) (tag - seg->tags);

    while (cc->next < cc->n && cc->tag[cc->next] < i) {
        cc->next++;
    }

    if (cc->next == cc->n || cc->tag[cc->next] != i) {
        return NGX_DECLINED;
    }

    return ngx_rtmp_dub_captions_sei(cc, &cc->frames[cc->next++], data, len);
}


static ngx_int_t
ngx_rtmp_dub_captions_sei(ngx_rtmp_dub_captions_t *cc, dub_cc608_frame_t *f,
    u_char **data, size_t *len)
{
    u_char    *p;
    size_t     nal_len, need, out_len;
    unsigned   count;
    uint8_t    triplets[DUB_CC608_MAX_TRIPLETS * 3];
    uint8_t    nal[DUB_SEI_NAL_MAX];

    count = dub_cc608_triplets(f, triplets);

    if (count == 0) {
        return NGX_DECLINED;
    }

    if (cc->nalu_size == 0
        || dub_sei_cc(triplets, count, nal, &nal_len) != 0)
    {
        cc->lost++;
        return NGX_DECLINED;
    }

    need = *len + cc->nalu_size + nal_len;

    if (need > cc->size) {
        p = ngx_alloc(need * 2, cc->log);
        if (p == NULL) {
            cc->lost++;
            return NGX_DECLINED;
        }

        ngx_free(cc->buf);
        cc->buf = p;
        cc->size = need * 2;
    }

    if (dub_avc_insert(*data, *len, cc->nalu_size, nal, nal_len, cc->buf,
                       &out_len)
        != 0)
    {
        /* no slice to put it before, or NAL units that do not add up */
        cc->lost++;
        return NGX_DECLINED;
    }

    cc->sent++;

    *data = cc->buf;
    *len = out_len;

    return NGX_OK;
}


void
ngx_rtmp_dub_captions_free(ngx_rtmp_dub_captions_t *cc)
{
    if (cc == NULL) {
        return;
    }

    if (cc->lost) {
        ngx_log_error(NGX_LOG_INFO, cc->log, 0,
                      "dub: \"%V\" segment %uL: captions of %ui frames "
                      "not sent (%ui sent): %s", cc->label, cc->seg->index,
                      cc->lost, cc->sent,
                      cc->nalu_size ? "their H.264 tags could not be read"
                                    : "no AVC sequence header");
    }

    ngx_free(cc->buf);
    ngx_free(cc);
}
