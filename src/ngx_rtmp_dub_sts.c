
/*
 * Copyright (C) nginx-dub developers
 *
 * A bridge's STS session: the contract of docs/protocol.md.  Segments
 * become fragments (M4A packed in the thread pool), wait in a send queue
 * for a ready session, a free in-flight place, a closed breaker and no
 * backpressure, go out as fragment:data, and come back as
 * fragment:processed (parsed and decoded in the thread pool) before their
 * output slot, or fall back to their original audio.  Every fallback is
 * decided here, with its reason.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/random.h>

#include "ngx_rtmp_dub_module.h"
#include "dub_b64.h"
#include "dub_json.h"


#define NGX_RTMP_DUB_MAX_TEMPO      1.25
#define NGX_RTMP_DUB_SMALL_EVENT    65536

/* log lines the STS causes: per kind, 10 per 10 s, then a summary */
#define NGX_RTMP_DUB_LOG_BURST      10
#define NGX_RTMP_DUB_LOG_INTERVAL   10000


typedef struct {
    ngx_rtmp_dub_task_t         t;
    dub_audio_format_t          fmt;
    u_char                      asc[32];
    dub_aac_frames_t            in;
    dub_buf_t                   b64;
    int                         rc;
    char                        err[DUB_AUDIO_ERRLEN];
} ngx_rtmp_dub_pack_task_t;


typedef struct {
    ngx_rtmp_dub_task_t         t;
    ngx_rtmp_dub_sio_msg_t      msg;
    int                         rc;
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
    dub_aac_frames_t            out;
    dub_audio_fit_t             fit;
    int                         rc;
    char                        err[DUB_AUDIO_ERRLEN];
} ngx_rtmp_dub_dub_task_t;


static void ngx_rtmp_dub_sts_connect(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_sts_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_sts_joined(void *data);
static void ngx_rtmp_dub_sts_stream_init(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_sts_event(void *data, ngx_rtmp_dub_sio_msg_t *msg);
static void ngx_rtmp_dub_sts_oversize(void *data, u_char *head, size_t len,
    size_t size);
static void ngx_rtmp_dub_sts_closed(void *data, ngx_rtmp_dub_sio_end_e why,
    const char *reason);
static void ngx_rtmp_dub_sts_lost(ngx_rtmp_dub_bridge_t *b);
static void ngx_rtmp_dub_sts_processed(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_sio_msg_t *msg);
static void ngx_rtmp_dub_sts_ready(ngx_rtmp_dub_bridge_t *b, yajl_val obj);
static void ngx_rtmp_dub_uuid(char *out);
static void ngx_rtmp_dub_sts_backpressure(ngx_rtmp_dub_bridge_t *b,
    yajl_val obj);
static void ngx_rtmp_dub_sts_error(ngx_rtmp_dub_bridge_t *b, yajl_val obj);
static ngx_int_t ngx_rtmp_dub_sts_emit(ngx_rtmp_dub_bridge_t *b,
    const char *event, const char *reason);
static void ngx_rtmp_dub_sts_ack(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_frag_t *f, const char *status);
static void ngx_rtmp_dub_sts_send(ngx_rtmp_dub_bridge_t *b);
static ngx_int_t ngx_rtmp_dub_sts_send_one(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_sts_send_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_frag_timeout(ngx_event_t *ev);
static ngx_rtmp_dub_frag_t *ngx_rtmp_dub_sts_find(ngx_rtmp_dub_bridge_t *b,
    const char *id, size_t len, ngx_uint_t any);
static void ngx_rtmp_dub_frag_fail(ngx_rtmp_dub_frag_t *f,
    dub_fallback_e reason, ngx_int_t retryable);
static void ngx_rtmp_dub_frag_resolve(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_land(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_breaker(ngx_rtmp_dub_frag_t *f,
    ngx_int_t retryable);
static void ngx_rtmp_dub_sts_maybe_end(ngx_rtmp_dub_bridge_t *b);
static ngx_uint_t ngx_rtmp_dub_sts_log_ok(void *data,
    ngx_rtmp_dub_log_kind_e kind);
static void ngx_rtmp_dub_sts_log_summary(ngx_rtmp_dub_bridge_t *b,
    ngx_uint_t kind, uint64_t n, int64_t span);
static void ngx_rtmp_dub_sts_log_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_sts_log_flush(ngx_rtmp_dub_bridge_t *b,
    ngx_msec_t interval);

static void ngx_rtmp_dub_pack_work(void *data, ngx_log_t *log);
static void ngx_rtmp_dub_pack_done(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_pack_free(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_parse_work(void *data, ngx_log_t *log);
static void ngx_rtmp_dub_parse_done(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_parse_free(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_dub_work(void *data, ngx_log_t *log);
static void ngx_rtmp_dub_dub_done(ngx_rtmp_dub_task_t *t);
static void ngx_rtmp_dub_dub_free(ngx_rtmp_dub_task_t *t);


static const ngx_rtmp_dub_sio_handler_t  ngx_rtmp_dub_sts_handler = {
    ngx_rtmp_dub_sts_joined,
    ngx_rtmp_dub_sts_event,
    ngx_rtmp_dub_sts_oversize,
    ngx_rtmp_dub_sts_closed,
    ngx_rtmp_dub_sts_log_ok
};


/* what a summary calls each kind, and the level of its lines */

static const struct {
    const char                 *name;
    ngx_uint_t                  level;
} ngx_rtmp_dub_log_kinds[NGX_RTMP_DUB_LOG_KINDS] = {
    { "not an Engine.IO packet", NGX_LOG_ERR },
    { "message over dub_sts_max_message", NGX_LOG_ERR },
    { "unexpected binary message", NGX_LOG_INFO },
    { "large event", NGX_LOG_ERR },
    { "malformed event", NGX_LOG_ERR },
    { "bad event payload", NGX_LOG_ERR },
    { "stream:ready", NGX_LOG_INFO },
    { "fragment:ack", NGX_LOG_INFO },
    { "backpressure", NGX_LOG_INFO },
    { "STS error", NGX_LOG_ERR },
    { "stream:complete", NGX_LOG_INFO },
    { "unknown event", NGX_LOG_INFO },
    { "answer for an unknown fragment", NGX_LOG_ERR },
    { "answer after its time", NGX_LOG_INFO },
    { "duplicate answer", NGX_LOG_WARN }
};


static const char  *ngx_rtmp_dub_sts_end_names[] = {
    "closed", "connection failed", "refused", "dead", "broken"
};


#define ngx_rtmp_dub_name(b)  &(b)->dacf->cacf->name, &(b)->stream


void
ngx_rtmp_dub_sts_init(ngx_rtmp_dub_bridge_t *b)
{
    ngx_rtmp_dub_app_conf_t  *dacf;

    dacf = b->dacf;

    ngx_queue_init(&b->send_queue);
    ngx_queue_init(&b->sent_queue);
    ngx_queue_init(&b->tasks);

    b->sts_timer.handler = ngx_rtmp_dub_sts_timer;
    b->sts_timer.data = b;
    b->sts_timer.log = &b->log;

    b->send_timer.handler = ngx_rtmp_dub_sts_send_timer;
    b->send_timer.data = b;
    b->send_timer.log = &b->log;

    b->log_timer.handler = ngx_rtmp_dub_sts_log_timer;
    b->log_timer.data = b;
    b->log_timer.log = &b->log;
    b->log_timer.cancelable = 1;

    dub_breaker_init(&b->breaker, (unsigned) dacf->breaker_threshold,
                     (int64_t) dacf->breaker_cooldown);

    b->sts_state = dacf->sts ? NGX_RTMP_DUB_STS_IDLE : NGX_RTMP_DUB_STS_DONE;
}


/* a publisher (first or next) attached to the bridge */

void
ngx_rtmp_dub_sts_attach(ngx_rtmp_dub_bridge_t *b)
{
    if (b->dacf->sts == NULL || b->auth_failed) {
        return;
    }

    switch (b->sts_state) {

    case NGX_RTMP_DUB_STS_IDLE:
        if (!b->sts_timer.timer_set) {
            ngx_rtmp_dub_sts_connect(b);
        }

        break;

    case NGX_RTMP_DUB_STS_ENDING:
    case NGX_RTMP_DUB_STS_DONE:
        /* the old session was ending: a new one for the new publisher */

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        if (b->sts_timer.timer_set) {
            ngx_del_timer(&b->sts_timer);
        }

        b->attempt = 0;
        ngx_rtmp_dub_sts_connect(b);
        break;

    default:
        break;
    }
}


static void
ngx_rtmp_dub_sts_connect(ngx_rtmp_dub_bridge_t *b)
{
    ngx_rtmp_dub_app_conf_t  *dacf;

    dacf = b->dacf;

    b->sts_state = NGX_RTMP_DUB_STS_CONNECTING;
    b->session_id[0] = '\0';
    b->seq = 0;
    b->init_pending = 0;

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" connecting to STS \"%V\"%s",
                  ngx_rtmp_dub_name(b), &dacf->sts->url,
                  b->attempt ? " again" : "");

    b->sio = ngx_rtmp_dub_sio_connect(dacf->sts, &b->stream,
                                      &ngx_rtmp_dub_sts_handler, b, &b->log);

    if (b->sio == NULL) {
        ngx_rtmp_dub_sts_lost(b);
        return;
    }

    /* the whole way to stream:ready: connect, join, init */
    ngx_add_timer(&b->sts_timer, dacf->sts_init_timeout);
}


/*
 * The session is gone (or never came): every fragment in flight falls
 * back, and the next attempt follows the schedule, its last interval
 * for ever once spent, so that dubbing resumes when the STS is back.
 */

static void
ngx_rtmp_dub_sts_lost(ngx_rtmp_dub_bridge_t *b)
{
    ngx_msec_t                delay;
    ngx_queue_t              *q;
    ngx_rtmp_dub_frag_t      *f;
    ngx_rtmp_dub_app_conf_t  *dacf;

    dacf = b->dacf;

    if (b->sts_timer.timer_set) {
        ngx_del_timer(&b->sts_timer);
    }

    while (!ngx_queue_empty(&b->sent_queue)) {
        q = ngx_queue_head(&b->sent_queue);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (f->state == NGX_RTMP_DUB_FRAG_EXPIRED) {
            ngx_rtmp_dub_frag_land(f);
            continue;
        }

        if (f->probe) {
            dub_breaker_probe_lost(&b->breaker);
        }

        ngx_rtmp_dub_frag_fail(f, DUB_FB_STS_UNAVAILABLE, -1);
    }

    b->inflight = 0;
    b->bp_action = DUB_BP_NONE;
    b->bp_delay = 0;
    b->paused_sts = 0;
    b->closed_at = ngx_current_msec;

    ngx_rtmp_dub_stat_set(b->ms, connected, 0);
    ngx_rtmp_dub_stat_set(b->ms, inflight, 0);

    if (b->sts_state == NGX_RTMP_DUB_STS_ENDING
        || b->sts_state == NGX_RTMP_DUB_STS_DONE
        || b->auth_failed
        || (b->publisher == NULL && b->pending == 0))
    {
        b->sts_state = NGX_RTMP_DUB_STS_DONE;
        ngx_rtmp_dub_bridge_check_done(b);
        return;
    }

    b->sts_state = NGX_RTMP_DUB_STS_IDLE;

    delay = (ngx_msec_t) dub_backoff(dacf->sts_reconnect->elts,
                                     dacf->sts_reconnect->nelts,
                                     (unsigned) b->attempt);
    b->attempt++;

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" STS reconnect attempt %ui in %Mms",
                  ngx_rtmp_dub_name(b), b->attempt, delay);

    ngx_add_timer(&b->sts_timer, delay);
}


static void
ngx_rtmp_dub_sts_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_bridge_t  *b;

    b = ev->data;

    switch (b->sts_state) {

    case NGX_RTMP_DUB_STS_IDLE:
        b->reconnects++;
        ngx_rtmp_dub_stat_add(b->ms, reconnects, 1);
        ngx_rtmp_dub_sts_connect(b);
        break;

    case NGX_RTMP_DUB_STS_CONNECTING:
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" no stream:ready from STS \"%V\" "
                      "within %Mms", ngx_rtmp_dub_name(b),
                      &b->dacf->sts->url, b->dacf->sts_init_timeout);

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        ngx_rtmp_dub_sts_lost(b);
        break;

    case NGX_RTMP_DUB_STS_ENDING:
        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" no stream:complete within %Mms, "
                      "closing", ngx_rtmp_dub_name(b),
                      b->dacf->sts_timeout);

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        b->sts_state = NGX_RTMP_DUB_STS_DONE;
        ngx_rtmp_dub_bridge_check_done(b);
        break;

    default:
        break;
    }
}


static void
ngx_rtmp_dub_sts_joined(void *data)
{
    ngx_rtmp_dub_bridge_t  *b = data;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, &b->log, 0,
                   "dub: \"%V/%V\" namespace joined",
                   &b->dacf->cacf->name, &b->stream);

    if (b->aac_hdr_len == 0) {
        /*
         * stream:init tells the audio format: it waits for the stream's
         * AAC sequence header, and its timeout with it
         */

        if (b->sts_timer.timer_set) {
            ngx_del_timer(&b->sts_timer);
        }

        b->init_pending = 1;
        return;
    }

    ngx_rtmp_dub_sts_stream_init(b);
}


/* the stream's audio format is known now (its AAC sequence header) */

void
ngx_rtmp_dub_sts_audio(ngx_rtmp_dub_bridge_t *b)
{
    if (!b->init_pending || b->sio == NULL) {
        return;
    }

    b->init_pending = 0;

    ngx_add_timer(&b->sts_timer, b->dacf->sts_init_timeout);
    ngx_rtmp_dub_sts_stream_init(b);
}


static void
ngx_rtmp_dub_sts_stream_init(ngx_rtmp_dub_bridge_t *b)
{
    dub_buf_t                 buf;
    dub_json_init_t           v;
    dub_aac_config_t          c;
    ngx_rtmp_dub_app_conf_t  *dacf;

    dacf = b->dacf;

    ngx_memzero(&v, sizeof(dub_json_init_t));

    /* the name as it leaves nginx, NUL-terminated */
    v.stream_id = (char *) b->stream.data;
    v.worker_id = (char *) b->sio->worker_id.data;
    v.source_language = (char *) dacf->source_lang.data;
    v.target_language = (char *) dacf->target_lang.data;
    v.voice_profile = (char *) dacf->voice.data;
    v.chunk_duration_ms = (unsigned) dacf->segment;
    v.format = "m4a";
    v.max_inflight = (unsigned) dacf->sts_max_inflight;
    v.timeout_ms = (unsigned) dacf->sts_timeout;

    if (b->aac_hdr_len > 2
        && dub_aac_config_parse(b->aac_hdr + 2, b->aac_hdr_len - 2, &c) == 0)
    {
        v.sample_rate_hz = c.sample_rate;
        v.channels = c.channels;
    }

    if (ngx_rtmp_dub_sio_event_buf(b->sio, &buf) != NGX_OK) {
        return;
    }

    if (dub_json_stream_init(&buf, &v) != 0) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" cannot make stream:init",
                      ngx_rtmp_dub_name(b));
        dub_buf_free(&buf);
        return;
    }

    (void) ngx_rtmp_dub_sio_send(b->sio, &buf);
}


/*
 * An event from the STS.  fragment:processed goes to the thread pool
 * whole (parse, base64, audio decode); the small events are parsed here.
 */

static void
ngx_rtmp_dub_sts_event(void *data, ngx_rtmp_dub_sio_msg_t *msg)
{
    ngx_rtmp_dub_bridge_t  *b = data;

    char                  err[DUB_JSON_ERRLEN];
    dub_json_event_t      ev;
    dub_json_ack_t        ack;
    dub_json_complete_t   c;

    if (msg->json_len > 24
        && ngx_strncmp(msg->json, "[\"fragment:processed\"", 21) == 0)
    {
        ngx_rtmp_dub_sts_processed(b, msg);
        return;
    }

    if (msg->json_len > NGX_RTMP_DUB_SMALL_EVENT) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_LARGE_EVENT)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" %uz byte event \"%*s...\" from "
                          "the STS ignored", ngx_rtmp_dub_name(b),
                          msg->json_len, ngx_min(msg->json_len, 40),
                          msg->json);
        }

        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    if (dub_json_event_parse(msg->json, msg->json_len, &ev, err, sizeof(err))
        != 0)
    {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_MALFORMED)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" malformed event from the STS: %s",
                          ngx_rtmp_dub_name(b), err);
        }

        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    if (ngx_strcmp(ev.name, "fragment:processed") == 0) {
        dub_json_event_free(&ev);
        ngx_rtmp_dub_sts_processed(b, msg);
        return;
    }

    if (ngx_strcmp(ev.name, "stream:ready") == 0) {
        ngx_rtmp_dub_sts_ready(b, ev.payload);

    } else if (ngx_strcmp(ev.name, "fragment:ack") == 0) {
        if (dub_json_ack(ev.payload, &ack, err, sizeof(err)) == 0) {
            if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_ACK)) {
                ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                              "dub: \"%V/%V\" fragment %s acked by session "
                              "%s: %s", ngx_rtmp_dub_name(b),
                              ack.fragment_id, b->session_id, ack.status);
            }

        } else if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" bad fragment:ack: %s",
                          ngx_rtmp_dub_name(b), err);
        }

    } else if (ngx_strcmp(ev.name, "backpressure") == 0) {
        ngx_rtmp_dub_sts_backpressure(b, ev.payload);

    } else if (ngx_strcmp(ev.name, "error") == 0) {
        ngx_rtmp_dub_sts_error(b, ev.payload);

    } else if (ngx_strcmp(ev.name, "stream:complete") == 0) {
        if (dub_json_complete(ev.payload, &c, err, sizeof(err)) == 0) {
            if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_COMPLETE)) {
                ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                              "dub: \"%V/%V\" stream:complete from session "
                              "%s: %L fragments, %L success, %L partial, "
                              "%L failed", ngx_rtmp_dub_name(b),
                              b->session_id, c.total_fragments,
                              c.success_count, c.partial_count,
                              c.failed_count);
            }

        } else if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" bad stream:complete: %s",
                          ngx_rtmp_dub_name(b), err);
        }

        if (b->sts_state == NGX_RTMP_DUB_STS_ENDING) {
            if (b->sts_timer.timer_set) {
                ngx_del_timer(&b->sts_timer);
            }

            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
            b->sts_state = NGX_RTMP_DUB_STS_DONE;
            ngx_rtmp_dub_bridge_check_done(b);
        }

    } else if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_UNKNOWN_EVENT)) {
        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" unknown event \"%s\" from the STS "
                      "ignored", ngx_rtmp_dub_name(b), ev.name);
    }

    dub_json_event_free(&ev);
    ngx_rtmp_dub_sio_msg_free(msg);
}


static void
ngx_rtmp_dub_sts_processed(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_sio_msg_t *msg)
{
    ngx_rtmp_dub_parse_task_t  *pt;

    pt = ngx_calloc(sizeof(ngx_rtmp_dub_parse_task_t), &b->log);
    if (pt == NULL) {
        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    pt->msg = *msg;
    pt->t.owner = b;
    pt->t.done = ngx_rtmp_dub_parse_done;
    pt->t.free = ngx_rtmp_dub_parse_free;
    pt->t.log = b->log;

    if (ngx_rtmp_dub_task_post(b->dacf->thread_pool, &pt->t,
                               ngx_rtmp_dub_parse_work, &b->tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_parse_free(&pt->t);
    }
}


static void
ngx_rtmp_dub_sts_ready(ngx_rtmp_dub_bridge_t *b, yajl_val obj)
{
    char              err[DUB_JSON_ERRLEN];
    dub_json_ready_t  r;

    if (dub_json_ready(obj, &r, err, sizeof(err)) != 0) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" bad stream:ready: %s",
                          ngx_rtmp_dub_name(b), err);
        }

        return;
    }

    if (b->sts_state != NGX_RTMP_DUB_STS_CONNECTING) {
        return;
    }

    if (b->sts_timer.timer_set) {
        ngx_del_timer(&b->sts_timer);
    }

    ngx_cpystrn((u_char *) b->session_id, (u_char *) r.session_id,
                sizeof(b->session_id));

    b->max_inflight = ngx_min(b->dacf->sts_max_inflight, r.max_inflight);
    b->sts_state = NGX_RTMP_DUB_STS_READY;
    b->attempt = 0;

    ngx_rtmp_dub_stat_set(b->ms, connected, 1);

    /* STREAM_NOT_FOUND errors and stream:ready, again and again */

    if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_READY)) {
        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" STS session %s ready, max in flight "
                      "%ui", ngx_rtmp_dub_name(b), b->session_id,
                      b->max_inflight);
    }

    ngx_rtmp_dub_sts_send(b);
}


static void
ngx_rtmp_dub_sts_backpressure(ngx_rtmp_dub_bridge_t *b, yajl_val obj)
{
    char                     err[DUB_JSON_ERRLEN];
    dub_json_backpressure_t  bp;

    if (dub_json_backpressure(obj, &bp, err, sizeof(err)) != 0) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" bad backpressure event: %s",
                          ngx_rtmp_dub_name(b), err);
        }

        return;
    }

    b->backpressure[bp.action]++;
    ngx_rtmp_dub_stat_add(b->ms, backpressure[bp.action], 1);
    b->bp_action = bp.action;
    b->bp_delay = (bp.action == DUB_BP_SLOW_DOWN)
                  ? (ngx_msec_t) ngx_min(bp.recommended_delay_ms, 60000) : 0;

    if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BACKPRESSURE)) {
        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" backpressure from session %s: %s, "
                      "delay %Mms, severity \"%s\"", ngx_rtmp_dub_name(b),
                      b->session_id, dub_json_bp_names[bp.action],
                      b->bp_delay,
                      bp.severity);
    }

    ngx_rtmp_dub_sts_send(b);
}


static void
ngx_rtmp_dub_sts_error(ngx_rtmp_dub_bridge_t *b, yajl_val obj)
{
    char                  err[DUB_JSON_ERRLEN];
    dub_json_error_t      e;
    ngx_rtmp_dub_frag_t  *f;

    if (dub_json_error(obj, &e, err, sizeof(err)) != 0) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" bad error event: %s",
                          ngx_rtmp_dub_name(b), err);
        }

        return;
    }

    if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_ERROR)) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" STS error %s%s%s: \"%s\", %s",
                      ngx_rtmp_dub_name(b), e.code,
                      e.fragment_id[0] ? " for fragment " : "",
                      e.fragment_id, e.message,
                      e.retryable ? "retryable" : "not retryable");
    }

    if (ngx_strcmp(e.code, "AUTH_FAILED") == 0) {
        /* bad credentials: no point in trying again */
        b->auth_failed = 1;

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" STS refused the credentials: no more "
                      "attempts for this stream", ngx_rtmp_dub_name(b));

        ngx_rtmp_dub_sts_lost(b);
        return;
    }

    if (e.fragment_id[0]) {
        f = ngx_rtmp_dub_sts_find(b, e.fragment_id,
                                  ngx_strlen(e.fragment_id), 0);

        if (f) {
            f->answered = 1;
        }

        if (f && f->state == NGX_RTMP_DUB_FRAG_EXPIRED) {
            b->late_answers++;
            ngx_rtmp_dub_stat_add(b->ms, late_answers, 1);
            ngx_rtmp_dub_frag_land(f);

        } else if (f) {
            ngx_rtmp_dub_frag_fail(f, DUB_FB_ERROR, e.retryable);
        }

        ngx_rtmp_dub_sts_send(b);

        return;
    }

    if (ngx_strcmp(e.code, "STREAM_NOT_FOUND") == 0 && b->sio
        && b->sts_state == NGX_RTMP_DUB_STS_READY)
    {
        /* the STS forgot the stream: introduce it again */
        b->sts_state = NGX_RTMP_DUB_STS_CONNECTING;
        ngx_add_timer(&b->sts_timer, b->dacf->sts_init_timeout);
        ngx_rtmp_dub_sts_joined(b);
        return;
    }

    if (!e.retryable && b->sts_state == NGX_RTMP_DUB_STS_CONNECTING) {

        /*
         * stream:init refused (e.g. INVALID_CONFIG): no stream:ready
         * will come, try again on the reconnection schedule rather than
         * after the init timeout
         */

        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" STS refused stream:init: %s",
                      ngx_rtmp_dub_name(b), e.code);

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        ngx_rtmp_dub_sts_lost(b);
    }
}


static void
ngx_rtmp_dub_sts_oversize(void *data, u_char *head, size_t len, size_t size)
{
    ngx_rtmp_dub_bridge_t  *b = data;

    u_char               *p, *last, *id;
    ngx_rtmp_dub_frag_t  *f;

    /* which fragment it was about, if its first bytes tell */

    last = head + len;
    p = ngx_strlcasestrn(head, last, (u_char *) "\"fragment_id\"", 13 - 1);

    if (p == NULL) {
        return;
    }

    p += 13;

    while (p < last && (*p == ' ' || *p == ':')) {
        p++;
    }

    if (p == last || *p++ != '"') {
        return;
    }

    id = p;

    while (p < last && *p != '"') {
        p++;
    }

    if (p == last) {
        return;
    }

    f = ngx_rtmp_dub_sts_find(b, (char *) id, p - id, 0);

    if (f) {
        f->answered = 1;
    }

    if (f && f->state == NGX_RTMP_DUB_FRAG_EXPIRED) {
        b->late_answers++;
        ngx_rtmp_dub_stat_add(b->ms, late_answers, 1);
        ngx_rtmp_dub_frag_land(f);
        ngx_rtmp_dub_sts_send(b);

    } else if (f) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" fragment %s seq %uL: answer of %uz "
                      "bytes over the limit", ngx_rtmp_dub_name(b), f->id,
                      f->seq, size);
        ngx_rtmp_dub_frag_fail(f, DUB_FB_OVERSIZE, 0);
        ngx_rtmp_dub_sts_send(b);
    }
}


static void
ngx_rtmp_dub_sts_closed(void *data, ngx_rtmp_dub_sio_end_e why,
    const char *reason)
{
    ngx_rtmp_dub_bridge_t  *b = data;

    ngx_uint_t  level;

    b->sio = NULL;

    level = (why == NGX_RTMP_DUB_SIO_CLOSED) ? NGX_LOG_INFO : NGX_LOG_ERR;

    ngx_log_error(level, &b->log, 0,
                  "dub: \"%V/%V\" STS \"%V\" %s%s%s: %s",
                  ngx_rtmp_dub_name(b), &b->dacf->sts->url,
                  ngx_rtmp_dub_sts_end_names[why],
                  b->session_id[0] ? ", session " : "", b->session_id,
                  reason);

    if (why == NGX_RTMP_DUB_SIO_REFUSED
        && ngx_strlcasestrn((u_char *) reason,
                            (u_char *) reason + ngx_strlen(reason),
                            (u_char *) "auth", 4 - 1))
    {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" STS refused the credentials: no more "
                      "attempts for this stream", ngx_rtmp_dub_name(b));
        b->auth_failed = 1;
    }

    ngx_rtmp_dub_sts_lost(b);
}


/*
 * A segment is complete: a fragment for it, with its id, or its fallback
 * decided now.  ngx_rtmp_dub_sts_segment_go() sends it on its way.
 */

void
ngx_rtmp_dub_sts_segment(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    ngx_rtmp_dub_frag_t       *f;
    dub_fallback_e    reason;

    if (b->dacf->sts == NULL || seg->naudio == 0) {
        return;
    }

    f = ngx_calloc(sizeof(ngx_rtmp_dub_frag_t), &b->log);
    if (f == NULL) {
        return;
    }

    f->bridge = b;
    f->seg = seg;
    f->naudio = seg->naudio;
    f->flv_byte = b->seg_flv_byte;
    f->slot = seg->tags[0].due;
    f->timeout.handler = ngx_rtmp_dub_frag_timeout;
    f->timeout.data = f;
    f->timeout.log = &b->log;

    seg->user = f;
    b->pending++;

    reason = DUB_FB_LAST;

    if (seg->final && seg->end - seg->start < NGX_RTMP_DUB_MIN_PARTIAL) {
        reason = DUB_FB_TOO_SHORT;

    } else if (b->seg_hdr_changed || b->seg_hdr_len < 4
               || b->seg_hdr_len - 2 > sizeof(f->asc)
               || dub_aac_config_parse(b->seg_hdr + 2, b->seg_hdr_len - 2,
                                       &f->aac)
                  != 0
               || f->aac.object_type != 2 || f->aac.frame_length != 1024)
    {
        reason = DUB_FB_UNSUPPORTED;

    } else if (b->auth_failed) {
        reason = DUB_FB_STS_UNAVAILABLE;
    }

    if (reason != DUB_FB_LAST) {
        ngx_rtmp_dub_frag_fail(f, reason, -1);
        return;
    }

    ngx_memcpy(f->asc, b->seg_hdr + 2, b->seg_hdr_len - 2);
    f->asc_len = b->seg_hdr_len - 2;

    /* what the STS gets is the audio: its own length, not the video's */
    f->duration_ms = (unsigned) ((uint64_t) f->naudio * f->aac.frame_length
                                 * 1000 / f->aac.sample_rate);

    ngx_rtmp_dub_uuid(f->id);

    f->state = NGX_RTMP_DUB_FRAG_PACKING;
}


/* the fragment's audio to the thread pool, to be packed for the STS */

void
ngx_rtmp_dub_sts_segment_go(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_dub_frag_t *f)
{
    uint32_t                   i;
    u_char                    *p;
    dub_tag_t                 *tag;
    dub_segment_t             *seg;
    ngx_rtmp_dub_pack_task_t  *pt;

    if (f->state != NGX_RTMP_DUB_FRAG_PACKING || f->id[0] == '\0') {
        return;
    }

    seg = f->seg;

    /* the raw AAC frames, copied: the task must not need the segment */

    pt = ngx_calloc(sizeof(ngx_rtmp_dub_pack_task_t), &b->log);
    if (pt == NULL) {
        goto failed;
    }

    pt->in.data = ngx_alloc(seg->len, &b->log);
    pt->in.sizes = ngx_alloc(seg->naudio * sizeof(uint32_t), &b->log);

    if (pt->in.data == NULL || pt->in.sizes == NULL) {
        ngx_rtmp_dub_pack_free(&pt->t);
        goto failed;
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

    ngx_memcpy(pt->asc, f->asc, f->asc_len);
    pt->fmt.sample_rate = f->aac.sample_rate;
    pt->fmt.channels = f->aac.channels;
    pt->fmt.frame_length = f->aac.frame_length;
    pt->fmt.asc = pt->asc;
    pt->fmt.asc_len = f->asc_len;

    pt->t.owner = b;
    pt->t.data = f;
    pt->t.done = ngx_rtmp_dub_pack_done;
    pt->t.free = ngx_rtmp_dub_pack_free;
    pt->t.log = b->log;

    if (ngx_rtmp_dub_task_post(b->dacf->thread_pool, &pt->t,
                               ngx_rtmp_dub_pack_work, &b->tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_pack_free(&pt->t);
        goto failed;
    }

    return;

failed:

    ngx_rtmp_dub_frag_fail(f, DUB_FB_UNSUPPORTED, -1);
}


/* in thread: M4A, then base64 */

static void
ngx_rtmp_dub_pack_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_pack_task_t  *pt = data;

    size_t    len;
    uint8_t  *m4a;

    pt->rc = dub_audio_pack_m4a(&pt->fmt, &pt->in, &m4a, &len, pt->err,
                                sizeof(pt->err));

    if (pt->rc != DUB_AUDIO_OK) {
        return;
    }

    if (dub_buf_init(&pt->b64, 0, dub_b64_encoded_len(len) + 1, 0) != 0) {
        free(m4a);
        pt->rc = DUB_AUDIO_ENOMEM;
        return;
    }

    dub_b64_encode(m4a, len, (char *) pt->b64.data);
    pt->b64.len = dub_b64_encoded_len(len);
    pt->b64.data[pt->b64.len] = '\0';

    free(m4a);
}


static void
ngx_rtmp_dub_pack_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_pack_task_t  *pt = (ngx_rtmp_dub_pack_task_t *) t;

    ngx_rtmp_dub_frag_t    *f;
    ngx_rtmp_dub_bridge_t  *b;

    f = t->data;
    b = f->bridge;

    if (f->state != NGX_RTMP_DUB_FRAG_PACKING) {
        /* its slot came first */
        return;
    }

    if (pt->rc != DUB_AUDIO_OK) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" fragment %s: cannot pack its audio: "
                      "%s", ngx_rtmp_dub_name(b), f->id, pt->err);
        ngx_rtmp_dub_frag_fail(f, DUB_FB_UNSUPPORTED, -1);
        return;
    }

    f->b64 = pt->b64;
    ngx_memzero(&pt->b64, sizeof(dub_buf_t));

    f->state = NGX_RTMP_DUB_FRAG_QUEUED;
    f->in_queue = 1;
    ngx_queue_insert_tail(&b->send_queue, &f->queue);

    ngx_rtmp_dub_sts_send(b);
}


static void
ngx_rtmp_dub_pack_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_pack_task_t  *pt = (ngx_rtmp_dub_pack_task_t *) t;

    ngx_free(pt->in.data);
    ngx_free(pt->in.sizes);
    dub_buf_free(&pt->b64);
    ngx_free(pt);
}


/*
 * Sends what can be sent: a ready session, a place in flight, the
 * breaker allowing, no pause, the slow_down spacing.  The queue head
 * remembers what holds it, the reason it falls back with if its slot
 * comes first.
 */

static void
ngx_rtmp_dub_sts_send(ngx_rtmp_dub_bridge_t *b)
{
    int                   state;
    ngx_msec_t            now, next;
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    now = ngx_current_msec;

    while (!ngx_queue_empty(&b->send_queue)) {
        q = ngx_queue_head(&b->send_queue);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (b->sio == NULL || b->sts_state == NGX_RTMP_DUB_STS_IDLE) {
            b->blocked = DUB_FB_STS_UNAVAILABLE;
            return;
        }

        if (b->sts_state != NGX_RTMP_DUB_STS_READY) {
            b->blocked = DUB_FB_NOT_READY;
            return;
        }

        if (b->bp_action == DUB_BP_PAUSE) {
            b->blocked = DUB_FB_BACKPRESSURE;
            return;
        }

        if (b->inflight >= b->max_inflight) {
            b->blocked = DUB_FB_INFLIGHT_FULL;
            return;
        }

        if (b->bp_action == DUB_BP_SLOW_DOWN && b->sent
            && (ngx_msec_int_t) (b->last_send + b->bp_delay - now) > 0)
        {
            next = b->last_send + b->bp_delay - now;

            if (b->send_timer.timer_set) {
                ngx_del_timer(&b->send_timer);
            }

            ngx_add_timer(&b->send_timer, next);
            b->blocked = DUB_FB_BACKPRESSURE;
            return;
        }

        state = dub_breaker_state(&b->breaker, (int64_t) now);
        ngx_rtmp_dub_stat_set(b->ms, breaker, state);

        if (state == DUB_BREAKER_OPEN) {
            b->blocked = DUB_FB_BREAKER_OPEN;
            return;
        }

        if (state == DUB_BREAKER_HALF_OPEN) {
            if (!dub_breaker_allow(&b->breaker, (int64_t) now)) {
                b->blocked = DUB_FB_BREAKER_OPEN;
                return;
            }

            /*
             * the probe is the newest fragment, with the most time before
             * its slot; the older ones, held while the breaker was open,
             * would follow it out of order: they keep their original audio
             */

            while (ngx_queue_next(q) != ngx_queue_sentinel(&b->send_queue)) {
                ngx_rtmp_dub_frag_fail(f, DUB_FB_BREAKER_OPEN, -1);
                q = ngx_queue_head(&b->send_queue);
                f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);
            }

            f->probe = 1;

            ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                          "dub: \"%V/%V\" breaker half-open: fragment %s "
                          "is the probe", ngx_rtmp_dub_name(b), f->id);

            if (b->paused_sts) {
                (void) ngx_rtmp_dub_sts_emit(b, "stream:resume", NULL);
                b->paused_sts = 0;
            }
        }

        ngx_queue_remove(q);
        f->in_queue = 0;

        if (ngx_rtmp_dub_sts_send_one(b, f) != NGX_OK) {
            if (f->probe) {
                dub_breaker_probe_lost(&b->breaker);
            }

            ngx_rtmp_dub_frag_fail(f, DUB_FB_STS_UNAVAILABLE, -1);
        }
    }
}


static ngx_int_t
ngx_rtmp_dub_sts_send_one(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_dub_frag_t *f)
{
    ngx_msec_t                now;
    dub_buf_t                 buf;
    struct timeval            tv;
    dub_json_fragment_t       v;

    now = ngx_current_msec;

    ngx_gettimeofday(&tv);

    ngx_memzero(&v, sizeof(dub_json_fragment_t));

    v.fragment_id = f->id;
    v.stream_id = (char *) b->stream.data;
    v.sequence_number = b->seq;
    v.timestamp = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
    v.format = "m4a";
    v.sample_rate_hz = f->aac.sample_rate;
    v.channels = f->aac.channels;
    v.duration_ms = f->duration_ms;
    v.data_base64 = (char *) f->b64.data;
    v.data_base64_len = f->b64.len;
    v.pts_ns = f->seg->tags[0].out_ts * 1000000;
    v.source_pts_ns = f->seg->start * 1000000;

    if (ngx_rtmp_dub_sio_event_buf(b->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (dub_json_fragment_data(&buf, &v) != 0) {
        dub_buf_free(&buf);
        return NGX_ERROR;
    }

    if (ngx_rtmp_dub_sio_send(b->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    dub_buf_free(&f->b64);

    f->seq = b->seq++;
    f->sent_at = now;
    f->state = NGX_RTMP_DUB_FRAG_SENT;

    ngx_queue_insert_tail(&b->sent_queue, &f->queue);
    b->inflight++;
    b->sent++;
    b->last_send = now;

    ngx_rtmp_dub_stat_add(b->ms, sent, 1);
    ngx_rtmp_dub_stat_set(b->ms, inflight, b->inflight);

    /*
     * The output slot, if earlier, decides the segment's audio (see
     * ngx_rtmp_dub_sts_slot()); the timeout decides its place in flight.
     */

    ngx_add_timer(&f->timeout, b->dacf->sts_timeout);

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" fragment %s seq %uL sent to session %s: "
                  "%uDms, %ui in flight", ngx_rtmp_dub_name(b), f->id, f->seq,
                  b->session_id, (uint32_t) f->duration_ms, b->inflight);

    return NGX_OK;
}


static void
ngx_rtmp_dub_sts_send_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_sts_send(ev->data);
}


static void
ngx_rtmp_dub_frag_timeout(ngx_event_t *ev)
{
    ngx_rtmp_dub_frag_t    *f;
    ngx_rtmp_dub_bridge_t  *b;

    f = ev->data;
    b = f->bridge;

    ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                  "dub: \"%V/%V\" fragment %s seq %uL: no answer from "
                  "session %s within %Mms", ngx_rtmp_dub_name(b), f->id,
                  f->seq, b->session_id, ngx_current_msec - f->sent_at);

    if (f->state == NGX_RTMP_DUB_FRAG_EXPIRED) {
        /* it fell back at its slot already; now it leaves the flight */
        ngx_rtmp_dub_frag_land(f);

    } else {
        /* a timeout is a retryable failure for the breaker */
        ngx_rtmp_dub_frag_fail(f, DUB_FB_TIMEOUT, 1);
    }

    ngx_rtmp_dub_sts_send(b);
}


/* in thread: parse, check, base64 */

static void
ngx_rtmp_dub_parse_work(void *data, ngx_log_t *log)
{
    ngx_rtmp_dub_parse_task_t  *pt = data;

    size_t            n;
    dub_buf_t        *bin;
    dub_json_event_t  ev;

    pt->rc = -1;

    if (dub_json_event_parse(pt->msg.json, pt->msg.json_len, &ev, pt->err,
                             sizeof(pt->err))
        != 0)
    {
        return;
    }

    if (dub_json_processed(ev.payload, &pt->p, pt->err, sizeof(pt->err))
        != 0)
    {
        goto done;
    }

    if (pt->p.has_audio) {
        if (pt->p.attachment >= 0) {
            if ((ngx_uint_t) pt->p.attachment >= pt->msg.nbin) {
                ngx_sprintf((u_char *) pt->err, "no binary attachment %d%Z",
                            pt->p.attachment);
                goto done;
            }

            /* the attachment is the audio: take it */

            bin = &pt->msg.bin[pt->p.attachment];
            pt->audio = bin->data;
            pt->audio_len = bin->len;

            if (bin->data != bin->mem) {
                ngx_memmove(bin->mem, bin->data, bin->len);
                pt->audio = bin->mem;
            }

            bin->mem = NULL;
            bin->data = NULL;

        } else {
            n = dub_b64_decoded_max(pt->p.data_base64_len);

            pt->audio = malloc(n + 1);
            if (pt->audio == NULL) {
                ngx_sprintf((u_char *) pt->err, "no memory%Z");
                goto done;
            }

            if (dub_b64_decode(pt->p.data_base64, pt->p.data_base64_len,
                               pt->audio, &pt->audio_len)
                != 0)
            {
                ngx_sprintf((u_char *) pt->err,
                            "\"data_base64\" is not base64%Z");
                pt->rc = -2;
                goto done;
            }
        }
    }

    pt->rc = 0;

done:

    /* the pointers into the tree must not outlive it */
    pt->p.data_base64 = NULL;

    dub_json_event_free(&ev);

    /* the message text is no longer needed */
    ngx_rtmp_dub_sio_msg_free(&pt->msg);
}


static void
ngx_rtmp_dub_parse_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_parse_task_t  *pt = (ngx_rtmp_dub_parse_task_t *) t;

    ngx_msec_t                 rtt;
    ngx_rtmp_dub_frag_t       *f;
    ngx_rtmp_dub_bridge_t     *b;
    ngx_rtmp_dub_dub_task_t   *dt;

    b = t->owner;

    if (pt->rc == -1 && pt->p.fragment_id[0] == '\0') {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" malformed fragment:processed: %s",
                          ngx_rtmp_dub_name(b), pt->err);
        }

        return;
    }

    f = ngx_rtmp_dub_sts_find(b, pt->p.fragment_id,
                              ngx_strlen(pt->p.fragment_id), 1);

    if (f == NULL) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_UNKNOWN_FRAGMENT)) {
            ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                          "dub: \"%V/%V\" fragment:processed for unknown "
                          "fragment \"%s\" ignored", ngx_rtmp_dub_name(b),
                          pt->p.fragment_id);
        }

        return;
    }

    if (f->answered) {
        /* the STS answered it already: this one says nothing new */

        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_DUPLICATE)) {
            ngx_log_error(NGX_LOG_WARN, &b->log, 0,
                          "dub: \"%V/%V\" fragment %s seq %uL: duplicate "
                          "answer from session %s, dropped",
                          ngx_rtmp_dub_name(b), f->id, f->seq,
                          b->session_id);
        }

        b->duplicate_answers++;
        ngx_rtmp_dub_stat_add(b->ms, duplicate_answers, 1);
        return;
    }

    f->answered = 1;

    if (f->state != NGX_RTMP_DUB_FRAG_SENT) {
        if (ngx_rtmp_dub_sts_log_ok(b, NGX_RTMP_DUB_LOG_LATE)) {
            ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                          "dub: \"%V/%V\" fragment %s seq %uL: answer after "
                          "its time, dropped", ngx_rtmp_dub_name(b), f->id,
                          f->seq);
        }

        b->late_answers++;
        ngx_rtmp_dub_stat_add(b->ms, late_answers, 1);

        if (f->state == NGX_RTMP_DUB_FRAG_EXPIRED) {
            /* acknowledged first: landing may free it */
            ngx_rtmp_dub_sts_ack(b, f, "received");
            ngx_rtmp_dub_frag_land(f);
            ngx_rtmp_dub_sts_send(b);
        }

        return;
    }

    rtt = ngx_current_msec - f->sent_at;

    if (pt->rc != 0) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" fragment %s seq %uL: bad "
                      "fragment:processed: %s", ngx_rtmp_dub_name(b), f->id,
                      f->seq, pt->err);

        /* still an answer: the STS is alive, the fragment is lost */
        ngx_rtmp_dub_frag_fail(f, pt->rc == -2 ? DUB_FB_DECODE
                                               : DUB_FB_FAILED, 0);
        ngx_rtmp_dub_sts_ack(b, f, "received");
        ngx_rtmp_dub_sts_send(b);
        return;
    }

    b->processed[pt->p.status]++;
    b->rtt_sum += rtt;
    b->rtt_count++;

    ngx_rtmp_dub_stat_add(b->ms, processed[pt->p.status], 1);
    ngx_rtmp_dub_metrics_rtt(b->ms, rtt);

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" fragment %s seq %uL processed by session "
                  "%s: %s in %Mms (STS %Lms)%s%s", ngx_rtmp_dub_name(b),
                  f->id, f->seq, b->session_id,
                  dub_json_status_names[pt->p.status], rtt,
                  pt->p.processing_time_ms,
                  pt->p.has_error ? ", error " : "", pt->p.error_code);

    if (f->timeout.timer_set) {
        ngx_del_timer(&f->timeout);
    }

    ngx_queue_remove(&f->queue);
    b->inflight--;
    ngx_rtmp_dub_stat_set(b->ms, inflight, b->inflight);

    if (pt->p.status == DUB_STATUS_FAILED) {
        f->state = NGX_RTMP_DUB_FRAG_RECEIVED;
        ngx_rtmp_dub_frag_fail(f, DUB_FB_FAILED,
                               pt->p.has_error ? pt->p.retryable : 1);
        ngx_rtmp_dub_sts_ack(b, f, "received");
        ngx_rtmp_dub_sts_send(b);
        return;
    }

    dub_breaker_success(&b->breaker);
    ngx_rtmp_dub_stat_set(b->ms, breaker, DUB_BREAKER_CLOSED);

    if (b->paused_sts) {
        (void) ngx_rtmp_dub_sts_emit(b, "stream:resume", NULL);
        b->paused_sts = 0;
    }

    f->state = NGX_RTMP_DUB_FRAG_RECEIVED;

    ngx_rtmp_dub_sts_send(b);

    /* decode, fit, encode: in the pool */

    dt = ngx_calloc(sizeof(ngx_rtmp_dub_dub_task_t), &b->log);
    if (dt == NULL) {
        goto failed;
    }

    ngx_memcpy(dt->asc, f->asc, f->asc_len);
    dt->fmt.sample_rate = f->aac.sample_rate;
    dt->fmt.channels = f->aac.channels;
    dt->fmt.frame_length = f->aac.frame_length;
    dt->fmt.asc = dt->asc;
    dt->fmt.asc_len = f->asc_len;

    dt->conf.bitrate = (unsigned) b->dacf->audio_bitrate;
    dt->conf.max_tempo = NGX_RTMP_DUB_MAX_TEMPO;
    dt->conf.no_stretch = (pt->p.status == DUB_STATUS_PARTIAL);

    dt->nframes = f->naudio;

    ngx_cpystrn((u_char *) dt->format, (u_char *) pt->p.format,
                sizeof(dt->format));

    dt->audio = pt->audio;
    pt->audio = NULL;

    dt->in.format = dt->format;
    dt->in.sample_rate = pt->p.sample_rate_hz;
    dt->in.channels = pt->p.channels;
    dt->in.data = dt->audio;
    dt->in.len = pt->audio_len;

    dt->t.owner = b;
    dt->t.data = f;
    dt->t.done = ngx_rtmp_dub_dub_done;
    dt->t.free = ngx_rtmp_dub_dub_free;
    dt->t.log = b->log;

    if (ngx_rtmp_dub_task_post(b->dacf->thread_pool, &dt->t,
                               ngx_rtmp_dub_dub_work, &b->tasks)
        != NGX_OK)
    {
        ngx_rtmp_dub_dub_free(&dt->t);
        goto failed;
    }

    return;

failed:

    ngx_rtmp_dub_frag_fail(f, DUB_FB_DECODE, 0);
    ngx_rtmp_dub_sts_ack(b, f, "received");
}


static void
ngx_rtmp_dub_parse_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_parse_task_t  *pt = (ngx_rtmp_dub_parse_task_t *) t;

    ngx_rtmp_dub_sio_msg_free(&pt->msg);
    free(pt->audio);
    ngx_free(pt);
}


/* in thread: the dubbed audio into as many AAC frames as the segment's */

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

    dt->rc = dub_audio_dub(&dt->fmt, &dt->conf, dt->nframes, &dt->in,
                           &dt->out, &dt->fit, dt->err, sizeof(dt->err));

    free(dt->audio);
    dt->audio = NULL;
    dt->in.data = NULL;
}


static void
ngx_rtmp_dub_dub_done(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_dub_task_t  *dt = (ngx_rtmp_dub_dub_task_t *) t;

    ngx_rtmp_dub_frag_t    *f;
    ngx_rtmp_dub_bridge_t  *b;

    f = t->data;
    b = f->bridge;

    if (f->state != NGX_RTMP_DUB_FRAG_RECEIVED) {
        /* its slot came first */
        return;
    }

    if (dt->rc != DUB_AUDIO_OK) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" fragment %s seq %uL: dubbed audio "
                      "(%s) unusable: %s", ngx_rtmp_dub_name(b), f->id,
                      f->seq, dt->format, dt->err);
        ngx_rtmp_dub_frag_fail(f, DUB_FB_DECODE, 0);
        ngx_rtmp_dub_sts_ack(b, f, "received");
        return;
    }

    f->dubbed = dt->out;
    ngx_memzero(&dt->out, sizeof(dub_aac_frames_t));

    f->state = NGX_RTMP_DUB_FRAG_DUBBED;
    b->pending--;

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" fragment %s seq %uL decoded: %L samples "
                  "of %s to %L, tempo %.3f, %L padded, %L trimmed, "
                  "%uz AAC frames", ngx_rtmp_dub_name(b), f->id, f->seq,
                  dt->fit.in_samples, dt->format, dt->fit.out_samples,
                  dt->fit.tempo, dt->fit.padded, dt->fit.trimmed,
                  f->dubbed.nframes);

    ngx_rtmp_dub_sts_ack(b, f, "applied");

    ngx_rtmp_dub_sts_maybe_end(b);
}


static void
ngx_rtmp_dub_dub_free(ngx_rtmp_dub_task_t *t)
{
    ngx_rtmp_dub_dub_task_t  *dt = (ngx_rtmp_dub_dub_task_t *) t;

    free(dt->audio);
    dub_aac_frames_free(&dt->out);
    ngx_free(dt);
}


/*
 * The output reached the first tag of "seg": its dubbed audio if it is
 * here, otherwise the reason it is not.
 */

ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_sts_slot(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg,
    dub_fallback_e *reason)
{
    ngx_rtmp_dub_frag_t  *f;

    f = seg->user;

    if (f == NULL) {
        *reason = b->dacf->sts ? DUB_FB_INPUT_LATE
                               : DUB_FB_NOT_CONFIGURED;
        return NULL;
    }

    switch (f->state) {

    case NGX_RTMP_DUB_FRAG_DUBBED:
        *reason = DUB_FB_LAST;
        return f;

    case NGX_RTMP_DUB_FRAG_FALLBACK:
        break;

    case NGX_RTMP_DUB_FRAG_SENT:
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" fragment %s seq %uL: no answer from "
                      "session %s by its output time", ngx_rtmp_dub_name(b),
                      f->id, f->seq, b->session_id);

        /*
         * The STS may still be working on it: it keeps its place in
         * flight until its answer or its timeout, so that the STS never
         * has more than the limit.
         */

        f->state = NGX_RTMP_DUB_FRAG_EXPIRED;
        f->reason = DUB_FB_TIMEOUT;

        ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                      "dub: \"%V/%V\" segment %uL fragment %s falls back "
                      "to its original audio: timeout", ngx_rtmp_dub_name(b),
                      f->seg->index, f->id);

        ngx_rtmp_dub_frag_breaker(f, 1);
        ngx_rtmp_dub_frag_resolve(f);
        break;

    case NGX_RTMP_DUB_FRAG_RECEIVED:
        ngx_rtmp_dub_frag_fail(f, DUB_FB_LATE, 0);
        break;

    default: /* PACKING, QUEUED */
        ngx_rtmp_dub_frag_fail(f, f->state == NGX_RTMP_DUB_FRAG_QUEUED
                                  ? b->blocked : DUB_FB_LATE, -1);
        break;
    }

    *reason = f->reason;

    return NULL;
}


/*
 * A fragment falls back.  "retryable": 1 or 0 tells the breaker about a
 * failure of the STS; -1 says nothing to it.
 */

static void
ngx_rtmp_dub_frag_fail(ngx_rtmp_dub_frag_t *f, dub_fallback_e reason,
    ngx_int_t retryable)
{
    ngx_rtmp_dub_bridge_t  *b;

    b = f->bridge;

    if (f->state == NGX_RTMP_DUB_FRAG_FALLBACK
        || f->state == NGX_RTMP_DUB_FRAG_EXPIRED
        || f->state == NGX_RTMP_DUB_FRAG_DUBBED)
    {
        return;
    }

    if (f->state == NGX_RTMP_DUB_FRAG_SENT) {
        ngx_queue_remove(&f->queue);
        b->inflight--;
        ngx_rtmp_dub_stat_set(b->ms, inflight, b->inflight);
    }

    if (f->in_queue) {
        ngx_queue_remove(&f->queue);
        f->in_queue = 0;
    }

    if (f->timeout.timer_set) {
        ngx_del_timer(&f->timeout);
    }

    dub_buf_free(&f->b64);

    f->state = NGX_RTMP_DUB_FRAG_FALLBACK;
    f->reason = reason;

    ngx_rtmp_dub_frag_breaker(f, retryable);

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" segment %uL%s%s falls back to its "
                  "original audio: %s", ngx_rtmp_dub_name(b),
                  f->seg ? f->seg->index : (uint64_t) -1,
                  f->id[0] ? " fragment " : "", f->id,
                  dub_fallback_names[reason]);

    ngx_rtmp_dub_frag_resolve(f);
}


/* what a failed fragment tells the breaker: see frag_fail() */

static void
ngx_rtmp_dub_frag_breaker(ngx_rtmp_dub_frag_t *f, ngx_int_t retryable)
{
    ngx_rtmp_dub_bridge_t  *b;

    b = f->bridge;

    if (retryable < 0 || f->id[0] == '\0') {
        return;
    }

    if (f->probe && !retryable) {
        dub_breaker_probe_lost(&b->breaker);
    }

    if (!dub_breaker_failure(&b->breaker, (int) retryable,
                             (int64_t) ngx_current_msec))
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                  "dub: \"%V/%V\" breaker open after fragment %s: "
                  "no fragment sent for %Mms",
                  ngx_rtmp_dub_name(b), f->id, b->dacf->breaker_cooldown);

    ngx_rtmp_dub_stat_set(b->ms, breaker, DUB_BREAKER_OPEN);
    ngx_rtmp_dub_stat_add(b->ms, breaker_opens, 1);

    if (b->sio && b->sts_state == NGX_RTMP_DUB_STS_READY && !b->paused_sts
        && ngx_rtmp_dub_sts_emit(b, "stream:pause", "breaker_open") == NGX_OK)
    {
        b->paused_sts = 1;
    }

    /* look at the queue again when the breaker turns half-open */

    if (b->send_timer.timer_set) {
        ngx_del_timer(&b->send_timer);
    }

    ngx_add_timer(&b->send_timer, b->dacf->breaker_cooldown);
}


/* an expired fragment leaves the flight: its answer or its timeout */

static void
ngx_rtmp_dub_frag_land(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_bridge_t  *b;

    b = f->bridge;

    ngx_queue_remove(&f->queue);
    b->inflight--;
    ngx_rtmp_dub_stat_set(b->ms, inflight, b->inflight);

    if (f->timeout.timer_set) {
        ngx_del_timer(&f->timeout);
    }

    f->state = NGX_RTMP_DUB_FRAG_FALLBACK;

    if (f->seg == NULL) {
        /* its segment went out already */
        ngx_rtmp_dub_frag_free(f);
    }
}


static void
ngx_rtmp_dub_frag_resolve(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_bridge_t  *b;

    b = f->bridge;

    b->pending--;

    ngx_rtmp_dub_sts_maybe_end(b);
}


static ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_sts_find(ngx_rtmp_dub_bridge_t *b, const char *id, size_t len,
    ngx_uint_t any)
{
    dub_segment_t        *seg;
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    if (len == 0 || len >= sizeof(f->id)) {
        return NULL;
    }

    for (q = ngx_queue_head(&b->sent_queue);
         q != ngx_queue_sentinel(&b->sent_queue);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (ngx_strncmp(f->id, id, len) == 0 && f->id[len] == '\0') {
            return f;
        }
    }

    if (!any) {
        return NULL;
    }

    /* answers after the deadline: the segment is still queued for output */

    for (seg = b->head; seg; seg = seg->next) {
        f = seg->user;

        if (f && ngx_strncmp(f->id, id, len) == 0 && f->id[len] == '\0') {
            return f;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_rtmp_dub_sts_emit(ngx_rtmp_dub_bridge_t *b, const char *event,
    const char *reason)
{
    dub_buf_t  buf;

    if (b->sio == NULL) {
        return NGX_ERROR;
    }

    if (ngx_rtmp_dub_sio_event_buf(b->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (dub_json_stream_event(&buf, event, (char *) b->stream.data, reason)
        != 0)
    {
        dub_buf_free(&buf);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" %s to session %s%s%s",
                  ngx_rtmp_dub_name(b), event, b->session_id,
                  reason ? ": " : "", reason ? reason : "");

    return ngx_rtmp_dub_sio_send(b->sio, &buf);
}


static void
ngx_rtmp_dub_sts_ack(ngx_rtmp_dub_bridge_t *b, ngx_rtmp_dub_frag_t *f,
    const char *status)
{
    dub_buf_t       buf;
    struct timeval  tv;

    if (b->sio == NULL || b->sts_state < NGX_RTMP_DUB_STS_READY) {
        return;
    }

    if (ngx_rtmp_dub_sio_event_buf(b->sio, &buf) != NGX_OK) {
        return;
    }

    ngx_gettimeofday(&tv);

    if (dub_json_fragment_ack(&buf, f->id, status,
                              (int64_t) tv.tv_sec * 1000
                              + tv.tv_usec / 1000)
        != 0)
    {
        dub_buf_free(&buf);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" fragment %s seq %uL: \"%s\" to session %s",
                  ngx_rtmp_dub_name(b), f->id, f->seq, status,
                  b->session_id);

    (void) ngx_rtmp_dub_sio_send(b->sio, &buf);
}


/* the publisher left */

void
ngx_rtmp_dub_sts_input_end(ngx_rtmp_dub_bridge_t *b)
{
    ngx_rtmp_dub_sts_maybe_end(b);
}


/*
 * No publisher and every fragment resolved: stream:end, a bounded wait
 * for stream:complete, then the connection closes.
 */

static void
ngx_rtmp_dub_sts_maybe_end(ngx_rtmp_dub_bridge_t *b)
{
    if (b->publisher || b->pending) {
        return;
    }

    switch (b->sts_state) {

    case NGX_RTMP_DUB_STS_READY:
        if (ngx_rtmp_dub_sts_emit(b, "stream:end", "publisher_left")
            == NGX_OK)
        {
            b->sts_state = NGX_RTMP_DUB_STS_ENDING;
            ngx_add_timer(&b->sts_timer, b->dacf->sts_timeout);
            return;
        }

        /* fall through */

    case NGX_RTMP_DUB_STS_IDLE:
    case NGX_RTMP_DUB_STS_CONNECTING:
        if (b->sts_timer.timer_set) {
            ngx_del_timer(&b->sts_timer);
        }

        if (b->sio) {
            ngx_rtmp_dub_sio_close(b->sio);
            b->sio = NULL;
        }

        b->sts_state = NGX_RTMP_DUB_STS_DONE;
        ngx_rtmp_dub_bridge_check_done(b);
        return;

    default:
        return;
    }
}


/* is the STS session still doing something the bridge must wait for? */

ngx_uint_t
ngx_rtmp_dub_sts_busy(ngx_rtmp_dub_bridge_t *b)
{
    return b->sts_state != NGX_RTMP_DUB_STS_DONE;
}


/*
 * A segment went out: its fragment goes too, unless the STS still works
 * on it; then it keeps its place in flight until its answer or timeout.
 */

void
ngx_rtmp_dub_sts_forget(ngx_rtmp_dub_bridge_t *b, dub_segment_t *seg)
{
    ngx_rtmp_dub_frag_t  *f;

    f = seg->user;

    if (f == NULL) {
        return;
    }

    seg->user = NULL;
    f->seg = NULL;

    if (f->state == NGX_RTMP_DUB_FRAG_SENT
        || f->state == NGX_RTMP_DUB_FRAG_EXPIRED)
    {
        return;
    }

    ngx_rtmp_dub_frag_free(f);
}


void
ngx_rtmp_dub_sts_free(ngx_rtmp_dub_bridge_t *b)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    /* fragments still in flight after their segment */

    q = ngx_queue_head(&b->sent_queue);

    while (q != ngx_queue_sentinel(&b->sent_queue)) {
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);
        q = ngx_queue_next(q);

        if (f->seg == NULL) {
            ngx_queue_remove(&f->queue);
            f->state = NGX_RTMP_DUB_FRAG_FALLBACK;
            ngx_rtmp_dub_frag_free(f);
        }
    }

    if (b->sts_timer.timer_set) {
        ngx_del_timer(&b->sts_timer);
    }

    if (b->send_timer.timer_set) {
        ngx_del_timer(&b->send_timer);
    }

    /* what is held back is told now, whatever its interval */

    ngx_rtmp_dub_sts_log_flush(b, 0);

    if (b->log_timer.timer_set) {
        ngx_del_timer(&b->log_timer);
    }

    if (b->sio) {
        ngx_rtmp_dub_sio_close(b->sio);
        b->sio = NULL;
    }

    ngx_rtmp_dub_task_abandon(&b->tasks);
}


void
ngx_rtmp_dub_frag_free(ngx_rtmp_dub_frag_t *f)
{
    if (f->timeout.timer_set) {
        ngx_del_timer(&f->timeout);
    }

    if (f->in_queue) {
        ngx_queue_remove(&f->queue);
    }

    if (f->state == NGX_RTMP_DUB_FRAG_SENT
        || f->state == NGX_RTMP_DUB_FRAG_EXPIRED)
    {
        /* the bridge goes away */
        ngx_queue_remove(&f->queue);
        f->bridge->inflight--;
    }

    /* a task still working for it must not come back to it */
    ngx_rtmp_dub_task_abandon_data(&f->bridge->tasks, f);

    dub_buf_free(&f->b64);
    dub_aac_frames_free(&f->dubbed);
    ngx_free(f);
}


/*
 * May a log line of this kind, caused by the STS, be written now?  The
 * first lines of a kind in an interval are, the rest are counted and
 * summed up in one line once the interval is over: by the next line of
 * the kind, or by the timer.
 */

static ngx_uint_t
ngx_rtmp_dub_sts_log_ok(void *data, ngx_rtmp_dub_log_kind_e kind)
{
    ngx_rtmp_dub_bridge_t  *b = data;

    int64_t     span, due;
    uint64_t    n;
    ngx_uint_t  rc;

    rc = dub_limit(&b->log_limit[kind], (int64_t) ngx_current_msec,
                   NGX_RTMP_DUB_LOG_BURST, NGX_RTMP_DUB_LOG_INTERVAL, &n,
                   &span);

    if (n) {
        ngx_rtmp_dub_sts_log_summary(b, kind, n, span);
    }

    if (rc) {
        return 1;
    }

    ngx_rtmp_dub_stat_add(b->ms, log_suppressed, 1);

    /* the summary when this interval ends, unless one comes earlier */

    due = dub_limit_due(&b->log_limit[kind], NGX_RTMP_DUB_LOG_INTERVAL);

    if (b->log_timer.timer_set
        && (ngx_msec_int_t) (b->log_timer.timer.key - (ngx_msec_t) due) <= 0)
    {
        return 0;
    }

    if (b->log_timer.timer_set) {
        ngx_del_timer(&b->log_timer);
    }

    ngx_add_timer(&b->log_timer,
                  (ngx_msec_t) ngx_max(due - (int64_t) ngx_current_msec, 1));

    return 0;
}


/* a summary has the level of the lines it stands for */

static void
ngx_rtmp_dub_sts_log_summary(ngx_rtmp_dub_bridge_t *b, ngx_uint_t kind,
    uint64_t n, int64_t span)
{
    ngx_log_error(ngx_rtmp_dub_log_kinds[kind].level, &b->log, 0,
                  "dub: \"%V/%V\" %uL more \"%s\" lines suppressed in the "
                  "last %Ls", ngx_rtmp_dub_name(b), n,
                  ngx_rtmp_dub_log_kinds[kind].name, (span + 999) / 1000);
}


static void
ngx_rtmp_dub_sts_log_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_sts_log_flush(ev->data, NGX_RTMP_DUB_LOG_INTERVAL);
}


/*
 * The summaries of the intervals over (all of them with "interval" 0),
 * and the timer again for those still going.
 */

static void
ngx_rtmp_dub_sts_log_flush(ngx_rtmp_dub_bridge_t *b, ngx_msec_t interval)
{
    int64_t     now, span, due, next;
    uint64_t    n;
    ngx_uint_t  i;

    now = (int64_t) ngx_current_msec;
    next = -1;

    for (i = 0; i < NGX_RTMP_DUB_LOG_KINDS; i++) {
        n = dub_limit_flush(&b->log_limit[i], now, (int64_t) interval,
                            &span);

        if (n) {
            ngx_rtmp_dub_sts_log_summary(b, i, n, span);
        }

        due = dub_limit_due(&b->log_limit[i], NGX_RTMP_DUB_LOG_INTERVAL);

        if (due >= 0 && (next < 0 || due < next)) {
            next = due;
        }
    }

    if (b->log_timer.timer_set) {
        ngx_del_timer(&b->log_timer);
    }

    if (next >= 0 && interval) {
        ngx_add_timer(&b->log_timer, (ngx_msec_t) ngx_max(next - now, 1));
    }
}


static void
ngx_rtmp_dub_uuid(char *out)
{
    uint8_t     rnd[16];
    ngx_uint_t  i;

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd)) {
        for (i = 0; i < sizeof(rnd); i++) {
            rnd[i] = (uint8_t) ngx_random();
        }
    }

    dub_json_uuid(rnd, out);
}
