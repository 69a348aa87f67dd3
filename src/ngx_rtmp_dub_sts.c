
/*
 * Copyright (C) nginx-dub developers
 *
 * An STS session's life: it connects, joins its namespace, introduces the
 * stream (stream:init) once the stream's audio format is known, is ready
 * on stream:ready, reconnects on the "dub_sts_reconnect" schedule when it
 * loses its STS (for as long as the stream lives), and ends with
 * stream:end and a bounded wait for stream:complete.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp_dub_sts_int.h"


/* log lines the STS causes: per kind, 10 per 10 s, then a summary */
#define NGX_RTMP_DUB_LOG_BURST      10
#define NGX_RTMP_DUB_LOG_INTERVAL   10000


static void ngx_rtmp_dub_sts_connect(ngx_rtmp_dub_sts_t *sts);
static ngx_rtmp_dub_sts_url_t *ngx_rtmp_dub_sts_endpoint(
    ngx_rtmp_dub_sts_t *sts);
static ngx_uint_t ngx_rtmp_dub_sts_down(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_sts_url_t *u);
static void ngx_rtmp_dub_sts_use(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_sts_url_t *u);
static void ngx_rtmp_dub_sts_log_connect(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_sts_url_t *prev);
static void ngx_rtmp_dub_sts_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_sts_stream_init(ngx_rtmp_dub_sts_t *sts);
static void ngx_rtmp_dub_sts_log_summary(ngx_rtmp_dub_sts_t *sts,
    ngx_uint_t kind, uint64_t n, int64_t span);
static void ngx_rtmp_dub_sts_log_timer(ngx_event_t *ev);
static void ngx_rtmp_dub_sts_log_flush(ngx_rtmp_dub_sts_t *sts,
    ngx_msec_t interval);


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
} ngx_rtmp_dub_log_kinds[] = {
    { "not an Engine.IO packet", NGX_LOG_ERR },
    { "message over dub_sts_max_message", NGX_LOG_ERR },
    { "unexpected binary message", NGX_LOG_INFO },
    { "large event", NGX_LOG_ERR },
    { "malformed event", NGX_LOG_ERR },
    { "bad event payload", NGX_LOG_ERR },
    { "stream:ready", NGX_LOG_INFO },
    { "fragment:ack", NGX_LOG_DEBUG },
    { "backpressure", NGX_LOG_INFO },
    { "STS error", NGX_LOG_ERR },
    { "stream:complete", NGX_LOG_INFO },
    { "unknown event", NGX_LOG_INFO },
    { "answer for an unknown fragment", NGX_LOG_ERR },
    { "answer after its time", NGX_LOG_DEBUG },
    { "duplicate answer", NGX_LOG_WARN }
};

_Static_assert(sizeof(ngx_rtmp_dub_log_kinds)
               == NGX_RTMP_DUB_LOG_KINDS * sizeof(ngx_rtmp_dub_log_kinds[0]),
               "a name and a level for each NGX_RTMP_DUB_LOG_*");


ngx_rtmp_dub_sts_t *
ngx_rtmp_dub_sts_create(ngx_rtmp_dub_sts_conf_t *conf, ngx_str_t *name,
    ngx_str_t *stream, ngx_log_t *log, ngx_rtmp_dub_mslot_t *ms,
    ngx_rtmp_dub_sts_done_pt done, void *data)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = ngx_calloc(sizeof(ngx_rtmp_dub_sts_t), log);
    if (sts == NULL) {
        return NULL;
    }

    sts->conf = conf;
    sts->name = name;
    sts->stream = stream;
    sts->log = log;
    sts->ms = ms;
    sts->done = done;
    sts->data = data;

    ngx_queue_init(&sts->frags);
    ngx_queue_init(&sts->send_queue);
    ngx_queue_init(&sts->sent_queue);
    ngx_queue_init(&sts->tasks);

    sts->timer.handler = ngx_rtmp_dub_sts_timer;
    sts->timer.data = sts;
    sts->timer.log = log;

    sts->send_timer.handler = ngx_rtmp_dub_frag_send_timer;
    sts->send_timer.data = sts;
    sts->send_timer.log = log;

    sts->log_timer.handler = ngx_rtmp_dub_sts_log_timer;
    sts->log_timer.data = sts;
    sts->log_timer.log = log;
    sts->log_timer.cancelable = 1;

    sts->gate.link = DUB_LINK_DOWN;
    sts->gate.last_send = -1;
    dub_breaker_init(&sts->gate.breaker, (unsigned) conf->breaker_threshold,
                     (int64_t) conf->breaker_cooldown);

    sts->blocked = DUB_FB_STS_UNAVAILABLE;
    sts->state = NGX_RTMP_DUB_STS_IDLE;

    return sts;
}


/* a publisher (first or next) feeds the stream */

void
ngx_rtmp_dub_sts_start(ngx_rtmp_dub_sts_t *sts)
{
    sts->input = 1;

    if (sts->auth_failed) {
        return;
    }

    switch (sts->state) {

    case NGX_RTMP_DUB_STS_IDLE:
        if (!sts->timer.timer_set) {
            ngx_rtmp_dub_sts_connect(sts);
        }

        break;

    case NGX_RTMP_DUB_STS_ENDING:
    case NGX_RTMP_DUB_STS_DONE:
        /* the old session was ending: a new one for the new publisher */

        ngx_rtmp_dub_sts_close(sts);

        if (sts->timer.timer_set) {
            ngx_del_timer(&sts->timer);
        }

        sts->attempt = 0;
        ngx_rtmp_dub_sts_connect(sts);
        break;

    default:
        break;
    }
}


static void
ngx_rtmp_dub_sts_connect(ngx_rtmp_dub_sts_t *sts)
{
    ngx_rtmp_dub_sts_url_t  *prev;

    sts->state = NGX_RTMP_DUB_STS_CONNECTING;
    sts->gate.link = DUB_LINK_CONNECTING;
    sts->session_id[0] = '\0';
    sts->seq = 0;
    sts->init_pending = 0;

    prev = sts->url;
    ngx_rtmp_dub_sts_use(sts, ngx_rtmp_dub_sts_endpoint(sts));

    ngx_rtmp_dub_sts_log_connect(sts, prev);

    sts->sio = ngx_rtmp_dub_sio_connect(sts->url, sts->stream,
                                        &ngx_rtmp_dub_sts_handler, sts,
                                        sts->log);

    if (sts->sio == NULL) {
        ngx_rtmp_dub_sts_lost(sts);
        return;
    }

    /* the whole way to stream:ready: connect, join, init */
    ngx_add_timer(&sts->timer, sts->conf->init_timeout);
}


/*
 * The endpoint of the next attempt, of those "dub_sts_url" (or "sts=")
 * lists.  A session stays with its endpoint until an attempt there fails
 * (a lost connection gets one attempt at the same endpoint), or until
 * another session's attempt there failed.  Otherwise it goes to the
 * endpoint with the fewest sessions in this worker, of those where no
 * attempt failed lately (within the last "dub_sts_reconnect" interval,
 * unless one worked since); if every other one failed lately, to the
 * next in the list, so that each is tried in turn.
 */

static ngx_rtmp_dub_sts_url_t *
ngx_rtmp_dub_sts_endpoint(ngx_rtmp_dub_sts_t *sts)
{
    ngx_uint_t               all;
    ngx_rtmp_dub_sts_url_t  *u, *cur, *best;

    cur = sts->url;

    if (cur && !sts->url_failed && !ngx_rtmp_dub_sts_down(sts, cur)) {
        return cur;
    }

    /* the least loaded that works; on a first attempt, any if none does */

    for (all = 0; all < 2; all++) {
        best = NULL;

        for (u = sts->conf->url; u; u = u->next) {
            if (u == cur || (!all && ngx_rtmp_dub_sts_down(sts, u))) {
                continue;
            }

            if (best == NULL
                || u->endpoint->sessions < best->endpoint->sessions)
            {
                best = u;
            }
        }

        if (best || cur) {
            break;
        }
    }

    if (best) {
        return best;
    }

    return (cur && cur->next) ? cur->next : sts->conf->url;
}


static ngx_uint_t
ngx_rtmp_dub_sts_down(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_sts_url_t *u)
{
    int64_t  *ms;

    if (!u->endpoint->failed) {
        return 0;
    }

    ms = sts->conf->reconnect->elts;

    return (int64_t) (ngx_current_msec - u->endpoint->failed_at)
           < ms[sts->conf->reconnect->nelts - 1];
}


/* the session's endpoint, counted there; NULL: none */

static void
ngx_rtmp_dub_sts_use(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_sts_url_t *u)
{
    if (sts->url == u) {
        return;
    }

    if (sts->url) {
        sts->url->endpoint->sessions--;
    }

    if (u) {
        u->endpoint->sessions++;
    }

    sts->url = u;
    sts->url_failed = 0;

    ngx_rtmp_dub_metrics_endpoint(sts->ms, u ? &u->url : NULL);
}


/* which endpoint, of how many, and with how many sessions of this worker */

static void
ngx_rtmp_dub_sts_log_connect(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_sts_url_t *prev)
{
    ngx_uint_t               n, i;
    ngx_rtmp_dub_sts_url_t  *u;

    if (sts->conf->url->next == NULL) {
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" connecting to STS \"%V\"%s",
                      sts->name, &sts->url->url,
                      sts->attempt ? " again" : "");
        return;
    }

    n = 0;
    i = 0;

    for (u = sts->conf->url; u; u = u->next) {
        n++;

        if (u == sts->url) {
            i = n;
        }
    }

    if (prev && prev != sts->url) {
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" connecting to STS \"%V\" again "
                      "(endpoint %ui of %ui, %ui sessions there from this "
                      "worker), moving from \"%V\"",
                      sts->name, &sts->url->url, i, n,
                      sts->url->endpoint->sessions, &prev->url);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                  "dub: \"%V\" connecting to STS \"%V\"%s (endpoint %ui "
                  "of %ui, %ui sessions there from this worker)",
                  sts->name, &sts->url->url,
                  sts->attempt ? " again" : "", i, n,
                  sts->url->endpoint->sessions);
}


/*
 * The connection is gone (or never came): every fragment in flight falls
 * back, and the next attempt follows the schedule, its last interval for
 * ever once spent, so that dubbing resumes when the STS is back.
 */

void
ngx_rtmp_dub_sts_lost(ngx_rtmp_dub_sts_t *sts)
{
    ngx_msec_t  delay;

    if (sts->timer.timer_set) {
        ngx_del_timer(&sts->timer);
    }

    if (sts->state == NGX_RTMP_DUB_STS_CONNECTING && sts->url) {
        /* an attempt failed: the endpoint is left aside for a while */

        sts->url_failed = 1;
        sts->url->endpoint->failed = 1;
        sts->url->endpoint->failed_at = ngx_current_msec;
    }

    sts->gate.link = DUB_LINK_DOWN;
    sts->gate.bp_action = DUB_BP_NONE;
    sts->gate.bp_delay = 0;
    sts->paused = 0;

    ngx_rtmp_dub_frag_lost_all(sts);

    ngx_rtmp_dub_stat_set(sts->ms, connected, 0);

    if (sts->state == NGX_RTMP_DUB_STS_ENDING
        || sts->state == NGX_RTMP_DUB_STS_DONE
        || sts->auth_failed
        || (!sts->input && sts->pending == 0))
    {
        ngx_rtmp_dub_sts_ended(sts);
        return;
    }

    sts->state = NGX_RTMP_DUB_STS_IDLE;

    delay = (ngx_msec_t) dub_backoff(sts->conf->reconnect->elts,
                                     sts->conf->reconnect->nelts,
                                     (unsigned) sts->attempt);
    sts->attempt++;

    ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                  "dub: \"%V\" STS reconnect attempt %ui in %Mms",
                  sts->name, sts->attempt, delay);

    ngx_add_timer(&sts->timer, delay);
}


static void
ngx_rtmp_dub_sts_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = ev->data;

    switch (sts->state) {

    case NGX_RTMP_DUB_STS_IDLE:
        sts->reconnects++;
        ngx_rtmp_dub_stat_add(sts->ms, reconnects, 1);
        ngx_rtmp_dub_sts_connect(sts);
        break;

    case NGX_RTMP_DUB_STS_CONNECTING:
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" no stream:ready from STS \"%V\" "
                      "within %Mms", sts->name,
                      &sts->url->url, sts->conf->init_timeout);

        ngx_rtmp_dub_sts_close(sts);
        ngx_rtmp_dub_sts_lost(sts);
        break;

    case NGX_RTMP_DUB_STS_ENDING:
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" no stream:complete within %Mms, "
                      "closing", sts->name,
                      sts->conf->timeout);

        ngx_rtmp_dub_sts_close(sts);
        ngx_rtmp_dub_sts_ended(sts);
        break;

    default:
        break;
    }
}


void
ngx_rtmp_dub_sts_joined(void *data)
{
    ngx_rtmp_dub_sts_t  *sts = data;

    ngx_log_debug1(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" namespace joined",
                   sts->name);

    if (!sts->audio) {
        /*
         * stream:init tells the audio format: it waits for the stream's
         * AAC sequence header, and its timeout with it
         */

        if (sts->timer.timer_set) {
            ngx_del_timer(&sts->timer);
        }

        sts->init_pending = 1;
        return;
    }

    ngx_rtmp_dub_sts_stream_init(sts);
}


void
ngx_rtmp_dub_sts_audio(ngx_rtmp_dub_sts_t *sts, unsigned sample_rate,
    unsigned channels)
{
    sts->audio = 1;
    sts->sample_rate = sample_rate;
    sts->channels = channels;

    if (!sts->init_pending || sts->sio == NULL) {
        return;
    }

    sts->init_pending = 0;

    ngx_add_timer(&sts->timer, sts->conf->init_timeout);
    ngx_rtmp_dub_sts_stream_init(sts);
}


static void
ngx_rtmp_dub_sts_stream_init(ngx_rtmp_dub_sts_t *sts)
{
    dub_buf_t                 buf;
    dub_json_init_t           v;
    ngx_rtmp_dub_sts_conf_t  *conf;

    conf = sts->conf;

    ngx_memzero(&v, sizeof(dub_json_init_t));

    /* the name as it leaves nginx, NUL-terminated */
    v.stream_id = (char *) sts->stream->data;
    v.worker_id = (char *) sts->sio->worker_id.data;
    v.source_language = (char *) conf->source_lang.data;
    v.target_language = (char *) conf->target_lang.data;
    v.voice_profile = (char *) conf->voice.data;
    v.chunk_duration_ms = (unsigned) conf->segment;
    v.format = "m4a";
    v.max_inflight = (unsigned) conf->max_inflight;
    v.timeout_ms = (unsigned) conf->timeout;
    v.sample_rate_hz = sts->sample_rate;
    v.channels = sts->channels;

    if (ngx_rtmp_dub_sio_event_buf(sts->sio, &buf) != NGX_OK) {
        return;
    }

    if (dub_json_stream_init(&buf, &v) != 0) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" cannot make stream:init",
                      sts->name);
        dub_buf_free(&buf);
        return;
    }

    (void) ngx_rtmp_dub_sio_send(sts->sio, &buf);
}


/* stream:ready: fragments may go */

void
ngx_rtmp_dub_sts_ready(ngx_rtmp_dub_sts_t *sts, const char *session_id,
    ngx_uint_t max_inflight)
{
    if (sts->state != NGX_RTMP_DUB_STS_CONNECTING) {
        return;
    }

    if (sts->timer.timer_set) {
        ngx_del_timer(&sts->timer);
    }

    ngx_cpystrn((u_char *) sts->session_id, (u_char *) session_id,
                sizeof(sts->session_id));

    sts->gate.max_inflight = ngx_min(sts->conf->max_inflight, max_inflight);
    sts->gate.link = DUB_LINK_READY;
    sts->state = NGX_RTMP_DUB_STS_READY;
    sts->attempt = 0;
    sts->url_failed = 0;
    sts->url->endpoint->failed = 0;

    ngx_rtmp_dub_stat_set(sts->ms, connected, 1);

    /* STREAM_NOT_FOUND errors and stream:ready, again and again */

    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_READY)) {
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" STS session %s ready, max in flight "
                      "%ui", sts->name, sts->session_id,
                      (ngx_uint_t) sts->gate.max_inflight);
    }

    ngx_rtmp_dub_frag_send(sts);
}


/* the publisher left */

void
ngx_rtmp_dub_sts_stop(ngx_rtmp_dub_sts_t *sts)
{
    sts->input = 0;

    ngx_rtmp_dub_sts_maybe_end(sts);
}


/*
 * No publisher and every fragment resolved: stream:end, a bounded wait
 * for stream:complete, then the connection closes.
 */

void
ngx_rtmp_dub_sts_maybe_end(ngx_rtmp_dub_sts_t *sts)
{
    if (sts->input || sts->pending) {
        return;
    }

    switch (sts->state) {

    case NGX_RTMP_DUB_STS_READY:
        if (ngx_rtmp_dub_sts_emit(sts, "stream:end", "publisher_left")
            == NGX_OK)
        {
            sts->state = NGX_RTMP_DUB_STS_ENDING;
            ngx_add_timer(&sts->timer, sts->conf->timeout);
            return;
        }

        /* fall through */

    case NGX_RTMP_DUB_STS_IDLE:
    case NGX_RTMP_DUB_STS_CONNECTING:
        if (sts->timer.timer_set) {
            ngx_del_timer(&sts->timer);
        }

        ngx_rtmp_dub_sts_close(sts);
        ngx_rtmp_dub_sts_ended(sts);
        return;

    default:
        return;
    }
}


void
ngx_rtmp_dub_sts_close(ngx_rtmp_dub_sts_t *sts)
{
    if (sts->sio) {
        ngx_rtmp_dub_sio_close(sts->sio);
        sts->sio = NULL;
    }
}


/* no session any more: the owner may go */

void
ngx_rtmp_dub_sts_ended(ngx_rtmp_dub_sts_t *sts)
{
    sts->state = NGX_RTMP_DUB_STS_DONE;
    sts->gate.link = DUB_LINK_DOWN;

    /* a stream that comes back picks an endpoint by load again */
    ngx_rtmp_dub_sts_use(sts, NULL);

    sts->done(sts->data);
}


ngx_uint_t
ngx_rtmp_dub_sts_busy(ngx_rtmp_dub_sts_t *sts)
{
    return sts->state != NGX_RTMP_DUB_STS_DONE;
}


void
ngx_rtmp_dub_sts_free(ngx_rtmp_dub_sts_t *sts)
{
    ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                  "dub: \"%V\" done: %uL sent, %uL success, %uL partial, "
                  "%uL failed, %uL late answers, %uL reconnects",
                  sts->name, sts->sent,
                  sts->processed[DUB_STATUS_SUCCESS],
                  sts->processed[DUB_STATUS_PARTIAL],
                  sts->processed[DUB_STATUS_FAILED], sts->late_answers,
                  sts->reconnects);

    ngx_rtmp_dub_frag_free_all(sts);

    if (sts->timer.timer_set) {
        ngx_del_timer(&sts->timer);
    }

    if (sts->send_timer.timer_set) {
        ngx_del_timer(&sts->send_timer);
    }

    /* what is held back is told now, whatever its interval */

    ngx_rtmp_dub_sts_log_flush(sts, 0);

    if (sts->log_timer.timer_set) {
        ngx_del_timer(&sts->log_timer);
    }

    ngx_rtmp_dub_sts_close(sts);
    ngx_rtmp_dub_sts_use(sts, NULL);

    ngx_rtmp_dub_task_abandon(&sts->tasks);

    ngx_free(sts);
}


ngx_int_t
ngx_rtmp_dub_sts_emit(ngx_rtmp_dub_sts_t *sts, const char *event,
    const char *reason)
{
    dub_buf_t  buf;

    if (sts->sio == NULL) {
        return NGX_ERROR;
    }

    if (ngx_rtmp_dub_sio_event_buf(sts->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (dub_json_stream_event(&buf, event, (char *) sts->stream->data,
                              reason)
        != 0)
    {
        dub_buf_free(&buf);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                  "dub: \"%V\" %s to session %s%s%s",
                  sts->name, event, sts->session_id,
                  reason ? ": " : "", reason ? reason : "");

    return ngx_rtmp_dub_sio_send(sts->sio, &buf);
}


void
ngx_rtmp_dub_sts_ack(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_frag_t *f,
    const char *status)
{
    dub_buf_t       buf;
    struct timeval  tv;

    if (sts->sio == NULL || sts->state < NGX_RTMP_DUB_STS_READY) {
        return;
    }

    if (ngx_rtmp_dub_sio_event_buf(sts->sio, &buf) != NGX_OK) {
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

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" fragment %s seq %uL: \"%s\"",
                   sts->name, f->id, f->seq, status);

    (void) ngx_rtmp_dub_sio_send(sts->sio, &buf);
}


/*
 * May a log line of this kind, caused by the STS, be written now?  The
 * first lines of a kind in an interval are, the rest are counted and
 * summed up in one line once the interval is over: by the next line of
 * the kind, or by the timer.
 */

ngx_uint_t
ngx_rtmp_dub_sts_log_ok(void *data, ngx_rtmp_dub_log_kind_e kind)
{
    ngx_rtmp_dub_sts_t  *sts = data;

    int64_t     span, due;
    uint64_t    n;
    ngx_uint_t  rc;

    rc = dub_limit(&sts->log_limit[kind], (int64_t) ngx_current_msec,
                   NGX_RTMP_DUB_LOG_BURST, NGX_RTMP_DUB_LOG_INTERVAL, &n,
                   &span);

    if (n) {
        ngx_rtmp_dub_sts_log_summary(sts, kind, n, span);
    }

    if (rc) {
        return 1;
    }

    ngx_rtmp_dub_stat_add(sts->ms, log_suppressed, 1);

    /* the summary when this interval ends, unless one comes earlier */

    due = dub_limit_due(&sts->log_limit[kind], NGX_RTMP_DUB_LOG_INTERVAL);

    if (sts->log_timer.timer_set
        && (ngx_msec_int_t) (sts->log_timer.timer.key - (ngx_msec_t) due)
           <= 0)
    {
        return 0;
    }

    if (sts->log_timer.timer_set) {
        ngx_del_timer(&sts->log_timer);
    }

    ngx_add_timer(&sts->log_timer,
                  (ngx_msec_t) ngx_max(due - (int64_t) ngx_current_msec, 1));

    return 0;
}


/* a summary has the level of the lines it stands for */

static void
ngx_rtmp_dub_sts_log_summary(ngx_rtmp_dub_sts_t *sts, ngx_uint_t kind,
    uint64_t n, int64_t span)
{
    ngx_uint_t  level;

    level = ngx_rtmp_dub_log_kinds[kind].level;

    if (level == NGX_LOG_DEBUG) {
        ngx_log_debug4(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                       "dub: \"%V\" %uL more \"%s\" lines suppressed in "
                       "the last %Ls", sts->name, n,
                       ngx_rtmp_dub_log_kinds[kind].name,
                       (span + 999) / 1000);
        return;
    }

    ngx_log_error(level, sts->log, 0,
                  "dub: \"%V\" %uL more \"%s\" lines suppressed in the "
                  "last %Ls", sts->name, n,
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
ngx_rtmp_dub_sts_log_flush(ngx_rtmp_dub_sts_t *sts, ngx_msec_t interval)
{
    int64_t     now, span, due, next;
    uint64_t    n;
    ngx_uint_t  i;

    now = (int64_t) ngx_current_msec;
    next = -1;

    for (i = 0; i < NGX_RTMP_DUB_LOG_KINDS; i++) {
        n = dub_limit_flush(&sts->log_limit[i], now, (int64_t) interval,
                            &span);

        if (n) {
            ngx_rtmp_dub_sts_log_summary(sts, i, n, span);
        }

        due = dub_limit_due(&sts->log_limit[i], NGX_RTMP_DUB_LOG_INTERVAL);

        if (due >= 0 && (next < 0 || due < next)) {
            next = due;
        }
    }

    if (sts->log_timer.timer_set) {
        ngx_del_timer(&sts->log_timer);
    }

    if (next >= 0 && interval) {
        ngx_add_timer(&sts->log_timer, (ngx_msec_t) ngx_max(next - now, 1));
    }
}
