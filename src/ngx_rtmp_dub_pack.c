
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
static void ngx_rtmp_dub_pack_work(void *data, ngx_log_t *log);
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


/* the raw AAC frames, copied: the task must not need the segment */

static ngx_int_t
ngx_rtmp_dub_pack_copy(ngx_rtmp_dub_pack_task_t *pt, dub_segment_t *seg,
    ngx_log_t *log)
{
    u_char     *p;
    uint32_t    i;
    dub_tag_t  *tag;

    pt->in.data = ngx_alloc(seg->len, log);
    pt->in.sizes = ngx_alloc(seg->naudio * sizeof(uint32_t), log);

    if (pt->in.data == NULL || pt->in.sizes == NULL) {
        return NGX_ERROR;
    }

    p = pt->in.data;

    for (i = 0; i < seg->ntags; i++) {
        tag = &seg->tags[i];

        if (tag->track != DUB_TRACK_AUDIO || (tag->flags & DUB_TAG_HEADER)
            || tag->len < 2)
        {
            continue;
        }

        p = ngx_cpymem(p, seg->data + tag->off + 2, tag->len - 2);
        pt->in.sizes[pt->in.nframes++] = tag->len - 2;
    }

    pt->in.len = p - pt->in.data;

    return NGX_OK;
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

    p = ngx_calloc(sizeof(ngx_rtmp_dub_packed_t), log);

    if (p == NULL
        || dub_buf_init(&p->b64, 0, dub_b64_encoded_len(len) + 1, 0) != 0)
    {
        ngx_free(p);
        free(m4a);
        pt->rc = DUB_AUDIO_ENOMEM;
        ngx_cpystrn((u_char *) pt->err, (u_char *) "no memory",
                    sizeof(pt->err));
        return;
    }

    dub_b64_encode(m4a, len, (char *) p->b64.data);
    p->b64.len = dub_b64_encoded_len(len);
    p->b64.data[p->b64.len] = '\0';
    p->refs = 1;

    pt->packed = p;

    free(m4a);
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

    dub_buf_free(&p->b64);
    ngx_free(p);
}
