
/*
 * Copyright (C) nginx-dub developers
 *
 * A session's answers, fragment:processed: parsed in the thread pool
 * (JSON, base64), checked against the fragment on the event loop, then
 * its dubbed audio decoded, fitted to the segment, mixed over the
 * segment's original audio if the session keeps it under the dub, and
 * encoded as the segment's AAC frames, again in the pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp_dub_sts_int.h"
#include "dub_b64.h"


#define NGX_RTMP_DUB_MAX_TEMPO      1.25

#define NGX_RTMP_DUB_ANSWER_OK      0
#define NGX_RTMP_DUB_ANSWER_BAD     1       /* not what the contract says */
#define NGX_RTMP_DUB_ANSWER_BASE64  2       /* its audio is not base64 */


typedef struct {
    ngx_rtmp_dub_task_t         t;
    ngx_rtmp_dub_sio_msg_t      msg;
    ngx_uint_t                  rc;
    char                        err[DUB_JSON_ERRLEN];
    dub_json_processed_t        p;
    uint8_t                    *audio;
    size_t                      audio_len;
} ngx_rtmp_dub_parse_task_t;


typedef struct {
    ngx_rtmp_dub_task_t         t;
    dub_audio_format_t          fmt;
    u_char                      asc[32];
    dub_audio_conf_t            conf;
    size_t                      nframes;
    char                        format[16];
    dub_audio_input_t           in;
    uint8_t                    *audio;
    ngx_rtmp_dub_original_t    *original;       /* mixed under it, or NULL */
    dub_audio_original_t        orig;
    dub_aac_frames_t            out;
    dub_audio_fit_t             fit;
    int                         rc;
    char                        err[DUB_AUDIO_ERRLEN];
} ngx_rtmp_dub_dub_task_t;


static void ngx_rtmp_dub_parse_work(void *data, ngx_log_t *log);
static ngx_uint_t ngx_rtmp_dub_parse_audio(ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_parse_done(ngx_rtmp_dub_task_t *t);
static ngx_rtmp_dub_frag_t *ngx_rtmp_dub_answer_frag(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_answer_unknown(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_answer_accept(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_answer_texts(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_parse_free(ngx_rtmp_dub_task_t *t);
static ngx_int_t ngx_rtmp_dub_dub(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_parse_task_t *pt);
static void ngx_rtmp_dub_dub_original(ngx_rtmp_dub_dub_task_t *dt,
    ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_dub_work(void *data, ngx_log_t *log);
static void ngx_rtmp_dub_dub_done(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_dub_free(ngx_rtmp_dub_task_t *t);


/* fragment:processed: to the thread pool whole */

void
ngx_rtmp_dub_answer(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_sio_msg_t *msg)
{
    ngx_rtmp_dub_parse_task_t  *pt;

    pt = ngx_calloc(sizeof(ngx_rtmp_dub_parse_task_t), sts->log);
    if (pt == NULL) {
        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    pt->msg = *msg;
    pt->t.owner = sts;
    pt->t.done = ngx_rtmp_dub_parse_done;
    pt->t.free = ngx_rtmp_dub_parse_free;
    pt->t.log = *sts->log;

    if (ngx_rtmp_dub_task_post(sts->conf->thread_pool, &pt->t,
                               ngx_rtmp_dub_parse_work, &sts->tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_parse_free(&pt->t);
    }
}


/* in a thread: parse, check, base64 */

static void
ngx_rtmp_dub_parse_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_parse_task_t  *pt = data;

    dub_json_event_t  ev;

    pt->rc = NGX_RTMP_DUB_ANSWER_BAD;

    if (dub_json_event_parse(pt->msg.json, pt->msg.json_len, &ev, pt->err,
                             sizeof(pt->err))
        != 0)
    {
        goto done;
    }

    if (dub_json_processed(ev.payload, &pt->p, pt->err, sizeof(pt->err))
        == 0)
    {
        pt->rc = pt->p.has_audio ? ngx_rtmp_dub_parse_audio(pt)
                                 : NGX_RTMP_DUB_ANSWER_OK;
    }

    /* the pointers into the tree must not outlive it */
    pt->p.data_base64 = NULL;

    dub_json_event_free(&ev);

done:

    /* the message text is no longer needed */
    ngx_rtmp_dub_sio_msg_free(&pt->msg);
}


/* the answer's audio: a binary attachment, taken, or base64, decoded */

static ngx_uint_t
ngx_rtmp_dub_parse_audio(ngx_rtmp_dub_parse_task_t *pt)
{
    size_t      n;
    dub_buf_t  *bin;

    if (pt->p.attachment >= 0) {
        if ((ngx_uint_t) pt->p.attachment >= pt->msg.nbin) {
            ngx_sprintf((u_char *) pt->err, "no binary attachment %d%Z",
                        pt->p.attachment);
            return NGX_RTMP_DUB_ANSWER_BAD;
        }

        bin = &pt->msg.bin[pt->p.attachment];
        pt->audio = bin->data;
        pt->audio_len = bin->len;

        if (bin->data != bin->mem) {
            ngx_memmove(bin->mem, bin->data, bin->len);
            pt->audio = bin->mem;
        }

        bin->mem = NULL;
        bin->data = NULL;

        return NGX_RTMP_DUB_ANSWER_OK;
    }

    n = dub_b64_decoded_max(pt->p.data_base64_len);

    pt->audio = malloc(n + 1);
    if (pt->audio == NULL) {
        ngx_sprintf((u_char *) pt->err, "no memory%Z");
        return NGX_RTMP_DUB_ANSWER_BAD;
    }

    if (dub_b64_decode(pt->p.data_base64, pt->p.data_base64_len, pt->audio,
                       &pt->audio_len)
        != 0)
    {
        ngx_sprintf((u_char *) pt->err, "\"data_base64\" is not base64%Z");
        return NGX_RTMP_DUB_ANSWER_BASE64;
    }

    return NGX_RTMP_DUB_ANSWER_OK;
}


static void
ngx_rtmp_dub_parse_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_parse_task_t  *pt = (ngx_rtmp_dub_parse_task_t *) t;

    ngx_rtmp_dub_sts_t   *sts;
    ngx_rtmp_dub_frag_t  *f;

    sts = t->owner;

    f = ngx_rtmp_dub_answer_frag(sts, pt);

    if (f == NULL) {
        return;
    }

    if (pt->rc != NGX_RTMP_DUB_ANSWER_OK) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" fragment %s seq %uL: bad "
                      "fragment:processed: %s", sts->name,
                      f->id, f->seq, pt->err);

        /* still an answer: the STS is alive, the fragment is lost */
        ngx_rtmp_dub_frag_fail(f, pt->rc == NGX_RTMP_DUB_ANSWER_BASE64
                                  ? DUB_FB_DECODE : DUB_FB_FAILED, 0);
        ngx_rtmp_dub_sts_ack(sts, f, "received");
        ngx_rtmp_dub_frag_send(sts);
        return;
    }

    ngx_rtmp_dub_answer_texts(f, pt);
    ngx_rtmp_dub_answer_accept(f, pt);

    ngx_rtmp_dub_frag_send(sts);

    if (f->state != DUB_FRAG_RECEIVED) {
        return;
    }

    if (ngx_rtmp_dub_dub(f, pt) != NGX_OK) {
        ngx_rtmp_dub_frag_fail(f, DUB_FB_DECODE, 0);
        ngx_rtmp_dub_sts_ack(sts, f, "received");
    }
}


/*
 * The fragment an answer is for, if it is still waiting for one; NULL
 * for an answer that says nothing more (no such fragment, a second
 * answer, an answer after its time).
 */

static ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_answer_frag(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_parse_task_t *pt)
{
    ngx_rtmp_dub_frag_t  *f;

    f = ngx_rtmp_dub_frag_find(sts, pt->p.fragment_id,
                               ngx_strlen(pt->p.fragment_id));

    if (f == NULL) {
        ngx_rtmp_dub_answer_unknown(sts, pt);
        return NULL;
    }

    if (f->answered) {
        /* the STS answered it already: this one says nothing new */

        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_DUPLICATE)) {
            ngx_log_error(NGX_LOG_WARN, sts->log, 0,
                          "dub: \"%V\" fragment %s seq %uL: duplicate "
                          "answer from session %s, dropped",
                          sts->name, f->id, f->seq,
                          sts->session_id);
        }

        sts->duplicate_answers++;
        ngx_rtmp_dub_stat_add(sts->ms, duplicate_answers, 1);
        return NULL;
    }

    f->answered = 1;

    if (f->state == DUB_FRAG_SENT) {
        return f;
    }

    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_LATE)) {
        ngx_log_debug3(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                       "dub: \"%V\" fragment %s seq %uL: answer after its "
                       "time, dropped", sts->name, f->id,
                       f->seq);
    }

    if (f->state == DUB_FRAG_EXPIRED) {
        /* acknowledged first: landing may free it */
        ngx_rtmp_dub_sts_ack(sts, f, "received");
    }

    ngx_rtmp_dub_frag_late(f);
    ngx_rtmp_dub_frag_send(sts);

    return NULL;
}


/* an answer for no fragment: without its id, or with one unknown */

static void
ngx_rtmp_dub_answer_unknown(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_parse_task_t *pt)
{
    if (pt->p.fragment_id[0] == '\0') {
        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                          "dub: \"%V\" malformed fragment:processed: %s",
                          sts->name, pt->err);
        }

        return;
    }

    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_UNKNOWN_FRAGMENT)) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" fragment:processed for unknown "
                      "fragment \"%s\" ignored", sts->name,
                      pt->p.fragment_id);
    }
}


/* an answer in time: counted, and the fragment leaves the flight */

static void
ngx_rtmp_dub_answer_accept(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_parse_task_t *pt)
{
    ngx_msec_t           rtt;
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;
    rtt = ngx_current_msec - f->sent_at;

    sts->processed[pt->p.status]++;
    ngx_rtmp_dub_stat_add(sts->ms, processed[pt->p.status], 1);
    ngx_rtmp_dub_metrics_rtt(sts->ms, rtt);

    ngx_rtmp_dub_debug(sts->log,
                       "dub: \"%V\" fragment %s seq %uL processed by "
                       "session %s: %s in %Mms (STS %Lms)%s%s", sts->name,
                       f->id, f->seq, sts->session_id,
                       dub_json_status_names[pt->p.status], rtt,
                       pt->p.processing_time_ms,
                       pt->p.has_error ? ", error " : "", pt->p.error_code);

    ngx_rtmp_dub_frag_received(f);

    if (pt->p.status == DUB_STATUS_FAILED) {
        ngx_rtmp_dub_frag_fail(f, DUB_FB_FAILED,
                               pt->p.has_error ? pt->p.retryable : 1);
        ngx_rtmp_dub_sts_ack(sts, f, "received");
        return;
    }

    dub_breaker_success(&sts->gate.breaker);
    ngx_rtmp_dub_stat_set(sts->ms, breaker, DUB_BREAKER_CLOSED);

    if (sts->paused) {
        (void) ngx_rtmp_dub_sts_emit(sts, "stream:resume", NULL);
        sts->paused = 0;
    }
}


/* its texts on the fragment, for captions (a failed one may have some) */

static void
ngx_rtmp_dub_answer_texts(ngx_rtmp_dub_frag_t *f,
    ngx_rtmp_dub_parse_task_t *pt)
{
    u_char  *p;
    size_t   heard, said;

    if (!f->sts->conf->captions) {
        return;
    }

    heard = ngx_strlen(pt->p.transcript);
    said = ngx_strlen(pt->p.translated_text);

    if (heard + said == 0) {
        return;
    }

    p = ngx_alloc(heard + said, f->sts->log);
    if (p == NULL) {
        return;
    }

    f->transcript.data = p;
    f->transcript.len = heard;
    f->translated.data = p + heard;
    f->translated.len = said;

    ngx_memcpy(p, pt->p.transcript, heard);
    ngx_memcpy(p + heard, pt->p.translated_text, said);
}


static void
ngx_rtmp_dub_parse_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_parse_task_t  *pt = (ngx_rtmp_dub_parse_task_t *) t;

    ngx_rtmp_dub_sio_msg_free(&pt->msg);
    free(pt->audio);
    ngx_free(pt);
}


/* decode, fit, encode: in the pool */

static ngx_int_t
ngx_rtmp_dub_dub(ngx_rtmp_dub_frag_t *f, ngx_rtmp_dub_parse_task_t *pt)
{
    ngx_rtmp_dub_sts_t       *sts;
    ngx_rtmp_dub_dub_task_t  *dt;

    sts = f->sts;

    dt = ngx_calloc(sizeof(ngx_rtmp_dub_dub_task_t), sts->log);
    if (dt == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dt->asc, f->audio.asc, f->audio.asc_len);
    dt->fmt.sample_rate = f->audio.aac.sample_rate;
    dt->fmt.channels = f->audio.aac.channels;
    dt->fmt.frame_length = f->audio.aac.frame_length;
    dt->fmt.asc = dt->asc;
    dt->fmt.asc_len = f->audio.asc_len;

    dt->conf.bitrate = (unsigned) sts->conf->audio_bitrate;
    dt->conf.coder = (unsigned) sts->conf->audio_coder;
    dt->conf.max_tempo = NGX_RTMP_DUB_MAX_TEMPO;
    dt->conf.no_stretch = (pt->p.status == DUB_STATUS_PARTIAL);

    dt->nframes = f->audio.naudio;

    ngx_rtmp_dub_dub_original(dt, f);

    ngx_cpystrn((u_char *) dt->format, (u_char *) pt->p.format,
                sizeof(dt->format));

    dt->audio = pt->audio;
    pt->audio = NULL;

    dt->in.format = dt->format;
    dt->in.sample_rate = pt->p.sample_rate_hz;
    dt->in.channels = pt->p.channels;
    dt->in.data = dt->audio;
    dt->in.len = pt->audio_len;

    dt->t.owner = sts;
    dt->t.data = f;
    dt->t.done = ngx_rtmp_dub_dub_done;
    dt->t.free = ngx_rtmp_dub_dub_free;
    dt->t.log = *sts->log;

    if (ngx_rtmp_dub_task_post(sts->conf->thread_pool, &dt->t,
                               ngx_rtmp_dub_dub_work, &sts->tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_dub_free(&dt->t);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The segment's original under the dub, if its session mixes it and has
 * its frames, one for each of the segment's audio tags; otherwise the
 * gain stays 0: the dub alone, as without "dub_original_volume".  The
 * task holds a reference: the frames outlive the fragment and the
 * segment while it works.
 */

static void
ngx_rtmp_dub_dub_original(ngx_rtmp_dub_dub_task_t *dt,
    ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_sts_conf_t  *conf;

    conf = f->sts->conf;

    if (f->original == NULL
        || f->original->frames.nframes != f->audio.naudio)
    {
        return;
    }

    dt->original = ngx_rtmp_dub_original_ref(f->original);
    dt->orig.frames = &dt->original->frames;

    dt->conf.original_gain = conf->original_gain;
    dt->conf.duck = conf->duck ? 1 : 0;
}


/* in a thread: the dubbed audio into as many AAC frames as the segment's */

static void
ngx_rtmp_dub_dub_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_dub_task_t  *dt = data;

#if (NGX_RTMP_DUB_TEST)
    {
    char       *env;
    ngx_int_t   ms;

    /* test builds only: a slow task, to outlive its fragment or stream */

    env = getenv("NGX_RTMP_DUB_TEST_TASK_DELAY_MS");
    ms = env ? ngx_atoi((u_char *) env, ngx_strlen(env)) : 0;

    if (ms > 0) {
        ngx_msleep(ms);
    }
    }
#endif

    if (dt->original) {
        dt->rc = dub_audio_dub_mix(&dt->fmt, &dt->conf, &dt->orig, &dt->in,
                                   &dt->out, &dt->fit, dt->err,
                                   sizeof(dt->err));

    } else {
        dt->rc = dub_audio_dub(&dt->fmt, &dt->conf, dt->nframes, &dt->in,
                               &dt->out, &dt->fit, dt->err,
                               sizeof(dt->err));
    }

    free(dt->audio);
    dt->audio = NULL;
    dt->in.data = NULL;
}


static void
ngx_rtmp_dub_dub_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_dub_task_t  *dt = (ngx_rtmp_dub_dub_task_t *) t;

    ngx_rtmp_dub_sts_t   *sts;
    ngx_rtmp_dub_frag_t  *f;

    f = t->data;
    sts = f->sts;

    if (f->state != DUB_FRAG_RECEIVED) {
        /* its slot came first */
        return;
    }

    if (dt->rc != DUB_AUDIO_OK) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" fragment %s seq %uL: dubbed audio "
                      "(%s) unusable: %s", sts->name, f->id,
                      f->seq, dt->format, dt->err);
        ngx_rtmp_dub_frag_fail(f, DUB_FB_DECODE, 0);
        ngx_rtmp_dub_sts_ack(sts, f, "received");
        return;
    }

    ngx_rtmp_dub_debug(sts->log,
                       "dub: \"%V\" fragment %s seq %uL decoded: %L "
                       "samples of %s to %L, tempo %.3f, %L padded, %L "
                       "trimmed, %uz AAC frames", sts->name,
                       f->id, f->seq, dt->fit.in_samples, dt->format,
                       dt->fit.out_samples, dt->fit.tempo, dt->fit.padded,
                       dt->fit.trimmed, dt->out.nframes);

    if (dt->original) {
        ngx_rtmp_dub_debug(sts->log,
                           "dub: \"%V\" fragment %s seq %uL: the original "
                           "under it, %L samples ducked, peaks limited by "
                           "%.1fdB, %uz frames lost", sts->name, f->id,
                           f->seq, dt->fit.ducked, -dt->fit.limited_db,
                           dt->fit.original_lost);
    }

    ngx_rtmp_dub_sts_ack(sts, f, "applied");

    ngx_rtmp_dub_frag_dubbed(f, &dt->out);
}


static void
ngx_rtmp_dub_dub_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_dub_task_t  *dt = (ngx_rtmp_dub_dub_task_t *) t;

    free(dt->audio);
    dub_aac_frames_free(&dt->out);
    ngx_rtmp_dub_original_release(dt->original);
    ngx_free(dt);
}
