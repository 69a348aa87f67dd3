
/*
 * Copyright (C) nginx-dub developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_pack.h"
#include "ngx_rtmp_dub_task.h"
#include "dub_b64.h"


typedef struct {
    ngx_rtmp_dub_task_t         t;
    dub_audio_format_t          fmt;
    u_char                      asc[32];
    dub_aac_frames_t            in;
    ngx_rtmp_dub_packed_t      *packed;
    ngx_rtmp_dub_packed_pt      handler;
    int                         rc;
    char                        err[DUB_AUDIO_ERRLEN];
} ngx_rtmp_dub_pack_task_t;


static ngx_int_t ngx_rtmp_dub_pack_copy(ngx_rtmp_dub_pack_task_t *pt,
    dub_segment_t *seg, ngx_log_t *log);
static ngx_uint_t ngx_rtmp_dub_pack_is_frame(dub_tag_t *tag);
static void ngx_rtmp_dub_pack_work(void *data, ngx_log_t *log);
static ngx_rtmp_dub_packed_t *ngx_rtmp_dub_packed_create(
    ngx_rtmp_dub_pack_task_t *pt, size_t len, ngx_log_t *log);
static void ngx_rtmp_dub_pack_done(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_pack_free(ngx_rtmp_dub_task_t *t);


ngx_int_t
ngx_rtmp_dub_pack(ngx_thread_pool_t *tp, dub_segment_t *seg,
    ngx_rtmp_dub_audio_t *audio, ngx_rtmp_dub_packed_pt done, void *data,
    ngx_queue_t *tasks, ngx_log_t *log)
{
    ngx_rtmp_dub_pack_task_t  *pt;

    pt = ngx_calloc(sizeof(ngx_rtmp_dub_pack_task_t), log);
    if (pt == NULL) {
        return NGX_ERROR;
    }

    pt->t.owner = data;
    pt->t.data = data;
    pt->t.done = ngx_rtmp_dub_pack_done;
    pt->t.free = ngx_rtmp_dub_pack_free;
    pt->t.log = *log;
    pt->handler = done;

    if (ngx_rtmp_dub_pack_copy(pt, seg, log) != NGX_OK) {
        ngx_rtmp_dub_pack_free(&pt->t);
        return NGX_ERROR;
    }

    ngx_memcpy(pt->asc, audio->asc, audio->asc_len);
    pt->fmt.sample_rate = audio->aac.sample_rate;
    pt->fmt.channels = audio->aac.channels;
    pt->fmt.frame_length = audio->aac.frame_length;
    pt->fmt.asc = pt->asc;
    pt->fmt.asc_len = audio->asc_len;

    if (ngx_rtmp_dub_task_post(tp, &pt->t, ngx_rtmp_dub_pack_work, tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_pack_free(&pt->t);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The raw AAC frames, copied: the task must not need the segment.  They
 * may outlive it (the original under the dub): no more room than theirs.
 */

static ngx_int_t
ngx_rtmp_dub_pack_copy(ngx_rtmp_dub_pack_task_t *pt, dub_segment_t *seg,
    ngx_log_t *log)
{
    u_char     *p;
    size_t      len;
    uint32_t    i;
    dub_tag_t  *tag;

    for (i = 0, len = 0; i < seg->ntags; i++) {
        if (ngx_rtmp_dub_pack_is_frame(&seg->tags[i])) {
            len += seg->tags[i].len - 2;
        }
    }

    /* never a zero-sized allocation */
    pt->in.data = ngx_alloc(len + 1, log);
    pt->in.sizes = ngx_alloc(seg->naudio * sizeof(uint32_t), log);

    if (pt->in.data == NULL || pt->in.sizes == NULL) {
        return NGX_ERROR;
    }

    p = pt->in.data;

    for (i = 0; i < seg->ntags; i++) {
        tag = &seg->tags[i];

        if (!ngx_rtmp_dub_pack_is_frame(tag)) {
            continue;
        }

        p = ngx_cpymem(p, tag->data + 2, tag->len - 2);
        pt->in.sizes[pt->in.nframes++] = tag->len - 2;
    }

    pt->in.len = p - pt->in.data;

    return NGX_OK;
}


/* an AAC frame: an audio tag, not a sequence header, with its 2 bytes */

static ngx_uint_t
ngx_rtmp_dub_pack_is_frame(dub_tag_t *tag)
{
    return tag->track == DUB_TRACK_AUDIO && !(tag->flags & DUB_TAG_HEADER)
           && tag->len >= 2;
}


/* in a thread: M4A, then base64 */

static void
ngx_rtmp_dub_pack_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_pack_task_t  *pt = data;

    size_t                  len;
    uint8_t                *m4a;
    ngx_rtmp_dub_packed_t  *p;

    pt->rc = dub_audio_pack_m4a(&pt->fmt, &pt->in, &m4a, &len, pt->err,
                                sizeof(pt->err));

    if (pt->rc != DUB_AUDIO_OK) {
        return;
    }

    p = ngx_rtmp_dub_packed_create(pt, len, log);

    if (p == NULL) {
        free(m4a);
        pt->rc = DUB_AUDIO_ENOMEM;
        ngx_cpystrn((u_char *) pt->err, (u_char *) "no memory",
                    sizeof(pt->err));
        return;
    }

    dub_b64_encode(m4a, len, (char *) p->b64.data);
    p->b64.len = dub_b64_encoded_len(len);
    p->b64.data[p->b64.len] = '\0';

    pt->packed = p;

    free(m4a);
}


/*
 * The packed audio with room for the base64 of "len" bytes, and the
 * frames the task copied moved into it: the original under the dub costs
 * no second copy, only their memory until every session is done with it.
 */

static ngx_rtmp_dub_packed_t *
ngx_rtmp_dub_packed_create(ngx_rtmp_dub_pack_task_t *pt, size_t len,
    ngx_log_t *log)
{
    ngx_rtmp_dub_packed_t    *p;
    ngx_rtmp_dub_original_t  *o;

    p = ngx_calloc(sizeof(ngx_rtmp_dub_packed_t), log);
    o = ngx_calloc(sizeof(ngx_rtmp_dub_original_t), log);

    if (p == NULL || o == NULL
        || dub_buf_init(&p->b64, 0, dub_b64_encoded_len(len) + 1, 0) != 0)
    {
        ngx_free(p);
        ngx_free(o);
        return NULL;
    }

    o->frames = pt->in;
    o->refs = 1;
    ngx_memzero(&pt->in, sizeof(dub_aac_frames_t));

    p->original = o;
    p->refs = 1;

    return p;
}


static void
ngx_rtmp_dub_pack_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_pack_task_t  *pt = (ngx_rtmp_dub_pack_task_t *) t;

    ngx_rtmp_dub_packed_t  *p;

    if (pt->rc != DUB_AUDIO_OK) {
        ngx_log_error(NGX_LOG_ERR, &t->log, 0,
                      "dub: cannot pack a segment's audio: %s", pt->err);
    }

    p = pt->packed;
    pt->packed = NULL;

    pt->handler(t->data, p);
}


static void
ngx_rtmp_dub_pack_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_pack_task_t  *pt = (ngx_rtmp_dub_pack_task_t *) t;

    ngx_free(pt->in.data);
    ngx_free(pt->in.sizes);
    ngx_rtmp_dub_packed_release(pt->packed);
    ngx_free(pt);
}


ngx_rtmp_dub_packed_t *
ngx_rtmp_dub_packed_ref(ngx_rtmp_dub_packed_t *p)
{
    p->refs++;
    return p;
}


void
ngx_rtmp_dub_packed_release(ngx_rtmp_dub_packed_t *p)
{
    if (p == NULL || --p->refs) {
        return;
    }

    ngx_rtmp_dub_original_release(p->original);
    dub_buf_free(&p->b64);
    ngx_free(p);
}


ngx_rtmp_dub_original_t *
ngx_rtmp_dub_original_ref(ngx_rtmp_dub_original_t *o)
{
    o->refs++;
    return o;
}


void
ngx_rtmp_dub_original_release(ngx_rtmp_dub_original_t *o)
{
    if (o == NULL || --o->refs) {
        return;
    }

    ngx_free(o->frames.data);
    ngx_free(o->frames.sizes);
    ngx_free(o);
}
