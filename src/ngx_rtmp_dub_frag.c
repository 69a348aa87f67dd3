
/*
 * Copyright (C) nginx-dub developers
 *
 * A session's fragments: a segment's audio on its way to the STS and
 * back.  Packed, it waits in the send queue until the send gate
 * (dub_gate.h) lets it go; in flight, it keeps its place until its answer
 * or its timeout, whichever comes first, even after its output slot has
 * passed, so that the STS never has more than the limit.  At the slot,
 * the segment gets the fragment's dubbed audio, or the reason it has
 * none; every fallback is decided here.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <sys/random.h>

#include "ngx_rtmp_dub_sts_int.h"


static ngx_int_t ngx_rtmp_dub_frag_send_one(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_frag_t *f);
static ngx_int_t ngx_rtmp_dub_frag_data(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_frag_t *f, dub_buf_t *buf);
static void ngx_rtmp_dub_frag_probe(ngx_rtmp_dub_sts_t *sts);
static void ngx_rtmp_dub_frag_wake(ngx_rtmp_dub_sts_t *sts, int64_t at);
static void ngx_rtmp_dub_frag_timeout(ngx_event_t *ev);
static void ngx_rtmp_dub_frag_expire(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_breaker(ngx_rtmp_dub_frag_t *f,
    ngx_int_t retryable);
static void ngx_rtmp_dub_frag_land(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_leave(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_resolve(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_frag_free(ngx_rtmp_dub_frag_t *f);
static void ngx_rtmp_dub_uuid(char *out);


ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_frag_create(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_audio_t *audio,
    dub_fallback_e *reason)
{
    ngx_rtmp_dub_frag_t  *f;

    if (sts->auth_failed) {
        *reason = DUB_FB_STS_UNAVAILABLE;
        return NULL;
    }

    f = ngx_calloc(sizeof(ngx_rtmp_dub_frag_t), sts->log);
    if (f == NULL) {
        *reason = DUB_FB_UNSUPPORTED;
        return NULL;
    }

    f->sts = sts;
    f->audio = *audio;
    f->state = DUB_FRAG_PACKING;
    f->reason = DUB_FB_LAST;

    f->timeout.handler = ngx_rtmp_dub_frag_timeout;
    f->timeout.data = f;
    f->timeout.log = sts->log;

    ngx_rtmp_dub_uuid(f->id);

    ngx_queue_insert_tail(&sts->frags, &f->all);
    sts->pending++;

    return f;
}


const char *
ngx_rtmp_dub_frag_id(ngx_rtmp_dub_frag_t *f)
{
    return f->id;
}


void
ngx_rtmp_dub_frag_packed(ngx_rtmp_dub_frag_t *f, ngx_rtmp_dub_packed_t *p)
{
    if (f->state != DUB_FRAG_PACKING) {
        /* its slot came first */
        return;
    }

    if (p == NULL) {
        ngx_rtmp_dub_frag_fail(f, DUB_FB_UNSUPPORTED, -1);
        return;
    }

    f->packed = ngx_rtmp_dub_packed_ref(p);
    f->state = DUB_FRAG_QUEUED;

    /* its original frames go under the dub: kept past the sending */
    if (f->sts->conf->original_gain > 0.0 && p->original) {
        f->original = ngx_rtmp_dub_original_ref(p->original);
    }

    ngx_queue_insert_tail(&f->sts->send_queue, &f->queue);

    ngx_rtmp_dub_frag_send(f->sts);
}


void
ngx_rtmp_dub_frag_send_timer(ngx_event_t *ev)
{
    ngx_rtmp_dub_frag_send(ev->data);
}


/*
 * Sends what the gate lets go.  What holds the queue is remembered: the
 * reason a fragment waiting falls back with if its slot comes first.
 */

void
ngx_rtmp_dub_frag_send(ngx_rtmp_dub_sts_t *sts)
{
    int64_t               at;
    dub_gate_e            rc;
    ngx_queue_t          *q;
    dub_fallback_e        why;
    ngx_rtmp_dub_frag_t  *f;

    while (!ngx_queue_empty(&sts->send_queue)) {

        rc = dub_gate_send(&sts->gate, (int64_t) ngx_current_msec, &why,
                           &at);

        ngx_rtmp_dub_stat_set(sts->ms, breaker, sts->gate.breaker.state);

        if (rc == DUB_GATE_HOLD) {
            sts->blocked = why;
            ngx_rtmp_dub_frag_wake(sts, at);
            return;
        }

        if (rc == DUB_GATE_PROBE) {
            ngx_rtmp_dub_frag_probe(sts);
        }

        q = ngx_queue_head(&sts->send_queue);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (ngx_rtmp_dub_frag_send_one(sts, f) != NGX_OK) {
            if (f->probe) {
                dub_breaker_probe_lost(&sts->gate.breaker);
            }

            ngx_rtmp_dub_frag_fail(f, DUB_FB_STS_UNAVAILABLE, -1);
        }
    }
}


/*
 * The breaker lets one probe through: the newest fragment, with the most
 * time before its slot; the older ones, held while the breaker was open,
 * would follow it out of order: they keep their original audio.
 */

static void
ngx_rtmp_dub_frag_probe(ngx_rtmp_dub_sts_t *sts)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    for ( ;; ) {
        q = ngx_queue_head(&sts->send_queue);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (q == ngx_queue_last(&sts->send_queue)) {
            break;
        }

        ngx_rtmp_dub_frag_fail(f, DUB_FB_BREAKER_OPEN, -1);
    }

    f->probe = 1;

    ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                  "dub: \"%V\" breaker half-open: fragment %s is the "
                  "probe", sts->name, f->id);

    if (sts->paused) {
        (void) ngx_rtmp_dub_sts_emit(sts, "stream:resume", NULL);
        sts->paused = 0;
    }
}


static ngx_int_t
ngx_rtmp_dub_frag_send_one(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_frag_t *f)
{
    dub_buf_t  buf;

    if (ngx_rtmp_dub_sio_event_buf(sts->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_rtmp_dub_frag_data(sts, f, &buf) != NGX_OK) {
        dub_buf_free(&buf);
        return NGX_ERROR;
    }

    if (ngx_rtmp_dub_sio_send(sts->sio, &buf) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_rtmp_dub_packed_release(f->packed);
    f->packed = NULL;

    ngx_queue_remove(&f->queue);

    f->seq = sts->seq++;
    f->sent_at = ngx_current_msec;
    f->state = DUB_FRAG_SENT;

    ngx_queue_insert_tail(&sts->sent_queue, &f->queue);
    sts->gate.inflight++;
    sts->gate.last_send = (int64_t) ngx_current_msec;
    sts->sent++;

    ngx_rtmp_dub_stat_add(sts->ms, sent, 1);
    ngx_rtmp_dub_stat_set(sts->ms, inflight, sts->gate.inflight);

    /*
     * The output slot, if earlier, decides the segment's audio (see
     * ngx_rtmp_dub_frag_slot()); the timeout decides its place in flight.
     */

    ngx_add_timer(&f->timeout, sts->conf->timeout);

    ngx_log_debug6(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" fragment %s seq %uL sent to session %s: "
                   "%uDms, %uD in flight", sts->name, f->id,
                   f->seq, sts->session_id, (uint32_t) f->audio.duration_ms,
                   (uint32_t) sts->gate.inflight);

    return NGX_OK;
}


/* fragment:data: the fragment's audio, and what the STS needs to know */

static ngx_int_t
ngx_rtmp_dub_frag_data(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_frag_t *f,
    dub_buf_t *buf)
{
    struct timeval        tv;
    dub_json_fragment_t   v;

    ngx_gettimeofday(&tv);

    ngx_memzero(&v, sizeof(dub_json_fragment_t));

    v.fragment_id = f->id;
    v.stream_id = (char *) sts->stream->data;
    v.sequence_number = sts->seq;
    v.timestamp = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
    v.format = "m4a";
    v.sample_rate_hz = f->audio.aac.sample_rate;
    v.channels = f->audio.aac.channels;
    v.duration_ms = f->audio.duration_ms;
    v.data_base64 = (char *) f->packed->b64.data;
    v.data_base64_len = f->packed->b64.len;
    v.pts_ns = f->audio.pts * 1000000;
    v.source_pts_ns = f->audio.source_pts * 1000000;

    return dub_json_fragment_data(buf, &v) == 0 ? NGX_OK : NGX_ERROR;
}


/* the gate is to be asked again at "at" (ms, -1: when something changes) */

static void
ngx_rtmp_dub_frag_wake(ngx_rtmp_dub_sts_t *sts, int64_t at)
{
    if (at < 0) {
        return;
    }

    if (sts->send_timer.timer_set) {
        ngx_del_timer(&sts->send_timer);
    }

    ngx_add_timer(&sts->send_timer,
                  (ngx_msec_t) ngx_max(at - (int64_t) ngx_current_msec, 1));
}


static void
ngx_rtmp_dub_frag_timeout(ngx_event_t *ev)
{
    ngx_rtmp_dub_frag_t  *f;
    ngx_rtmp_dub_sts_t   *sts;

    f = ev->data;
    sts = f->sts;

    ngx_log_debug5(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" fragment %s seq %uL: no answer from "
                   "session %s within %Mms", sts->name,
                   f->id, f->seq, sts->session_id,
                   ngx_current_msec - f->sent_at);

    if (f->state == DUB_FRAG_EXPIRED) {
        /* it fell back at its slot already; now it leaves the flight */
        ngx_rtmp_dub_frag_land(f);

    } else {
        /* a timeout is a retryable failure for the breaker */
        ngx_rtmp_dub_frag_fail(f, DUB_FB_TIMEOUT, 1);
    }

    ngx_rtmp_dub_frag_send(sts);
}


dub_aac_frames_t *
ngx_rtmp_dub_frag_slot(ngx_rtmp_dub_frag_t *f, dub_fallback_e *reason)
{
    dub_fallback_e  r;

    r = dub_gate_slot(f->state, f->reason, f->sts->blocked);

    switch (f->state) {

    case DUB_FRAG_DUBBED:
        *reason = DUB_FB_LAST;
        return &f->dubbed;

    case DUB_FRAG_SENT:
        ngx_rtmp_dub_frag_expire(f);
        break;

    case DUB_FRAG_RECEIVED:
        /* the STS answered: not its failure */
        ngx_rtmp_dub_frag_fail(f, r, 0);
        break;

    case DUB_FRAG_PACKING:
    case DUB_FRAG_QUEUED:
        ngx_rtmp_dub_frag_fail(f, r, -1);
        break;

    default: /* EXPIRED, FALLBACK */
        break;
    }

    *reason = r;

    return NULL;
}


/*
 * No answer by the output slot.  The STS may still be working on it: it
 * keeps its place in flight until its answer or its timeout, so that the
 * STS never has more than the limit.
 */

static void
ngx_rtmp_dub_frag_expire(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" fragment %s seq %uL: no answer from "
                   "session %s by its output time",
                   sts->name, f->id, f->seq,
                   sts->session_id);

    f->state = DUB_FRAG_EXPIRED;
    f->reason = DUB_FB_TIMEOUT;

    ngx_rtmp_dub_original_release(f->original);
    f->original = NULL;

    ngx_rtmp_dub_frag_breaker(f, 1);
    ngx_rtmp_dub_frag_resolve(f);
}


/*
 * A fragment falls back.  "retryable": 1 or 0 tells the breaker about a
 * failure of the STS; -1 says nothing to it.
 */

void
ngx_rtmp_dub_frag_fail(ngx_rtmp_dub_frag_t *f, dub_fallback_e reason,
    ngx_int_t retryable)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;

    if (f->state == DUB_FRAG_FALLBACK || f->state == DUB_FRAG_EXPIRED
        || f->state == DUB_FRAG_DUBBED)
    {
        return;
    }

    ngx_rtmp_dub_frag_leave(f);

    f->state = DUB_FRAG_FALLBACK;
    f->reason = reason;

    ngx_rtmp_dub_original_release(f->original);
    f->original = NULL;

    ngx_rtmp_dub_frag_breaker(f, retryable);

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                   "dub: \"%V\" segment %uL fragment %s falls back to "
                   "its original audio: %s", sts->name,
                   f->audio.index, f->id, dub_fallback_names[reason]);

    ngx_rtmp_dub_frag_resolve(f);
}


/* what a failed fragment tells the breaker: see frag_fail() */

static void
ngx_rtmp_dub_frag_breaker(ngx_rtmp_dub_frag_t *f, ngx_int_t retryable)
{
    dub_breaker_t       *br;
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;
    br = &sts->gate.breaker;

    if (retryable < 0) {
        return;
    }

    if (f->probe && !retryable) {
        dub_breaker_probe_lost(br);
    }

    if (!dub_breaker_failure(br, (int) retryable,
                             (int64_t) ngx_current_msec))
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                  "dub: \"%V\" breaker open after fragment %s: "
                  "no fragment sent for %Mms", sts->name,
                  f->id, sts->conf->breaker_cooldown);

    ngx_rtmp_dub_stat_set(sts->ms, breaker, DUB_BREAKER_OPEN);
    ngx_rtmp_dub_stat_add(sts->ms, breaker_opens, 1);

    if (sts->sio && sts->state == NGX_RTMP_DUB_STS_READY && !sts->paused
        && ngx_rtmp_dub_sts_emit(sts, "stream:pause", "breaker_open")
           == NGX_OK)
    {
        sts->paused = 1;
    }

    /* look at the queue again when the breaker turns half-open */

    ngx_rtmp_dub_frag_wake(sts, br->opened_at + br->cooldown);
}


/* an answer came for a fragment in flight: it leaves the flight */

void
ngx_rtmp_dub_frag_received(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_frag_leave(f);

    f->state = DUB_FRAG_RECEIVED;
}


void
ngx_rtmp_dub_frag_dubbed(ngx_rtmp_dub_frag_t *f, dub_aac_frames_t *frames)
{
    f->dubbed = *frames;
    ngx_memzero(frames, sizeof(dub_aac_frames_t));

    f->state = DUB_FRAG_DUBBED;

    ngx_rtmp_dub_original_release(f->original);
    f->original = NULL;

    ngx_rtmp_dub_frag_resolve(f);
}


/* an answer after the fragment fell back: counted, and it lands */

void
ngx_rtmp_dub_frag_late(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;

    sts->late_answers++;
    ngx_rtmp_dub_stat_add(sts->ms, late_answers, 1);

    if (f->state == DUB_FRAG_EXPIRED) {
        ngx_rtmp_dub_frag_land(f);
    }
}


/* an expired fragment leaves the flight: its answer or its timeout */

static void
ngx_rtmp_dub_frag_land(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_frag_leave(f);

    f->state = DUB_FRAG_FALLBACK;

    if (f->gone) {
        ngx_rtmp_dub_frag_free(f);
    }
}


/* out of the queue it is in, its timer off */

static void
ngx_rtmp_dub_frag_leave(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_sts_t  *sts;

    sts = f->sts;

    switch (f->state) {

    case DUB_FRAG_QUEUED:
        ngx_queue_remove(&f->queue);
        break;

    case DUB_FRAG_SENT:
    case DUB_FRAG_EXPIRED:
        ngx_queue_remove(&f->queue);
        sts->gate.inflight--;
        ngx_rtmp_dub_stat_set(sts->ms, inflight, sts->gate.inflight);
        break;

    default:
        break;
    }

    if (f->timeout.timer_set) {
        ngx_del_timer(&f->timeout);
    }

    ngx_rtmp_dub_packed_release(f->packed);
    f->packed = NULL;
}


static void
ngx_rtmp_dub_frag_resolve(ngx_rtmp_dub_frag_t *f)
{
    f->sts->pending--;

    ngx_rtmp_dub_sts_maybe_end(f->sts);
}


/* the connection is lost: what is in flight falls back */

void
ngx_rtmp_dub_frag_lost_all(ngx_rtmp_dub_sts_t *sts)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    while (!ngx_queue_empty(&sts->sent_queue)) {
        q = ngx_queue_head(&sts->sent_queue);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, queue);

        if (f->state == DUB_FRAG_EXPIRED) {
            ngx_rtmp_dub_frag_land(f);
            continue;
        }

        if (f->probe) {
            dub_breaker_probe_lost(&sts->gate.breaker);
        }

        ngx_rtmp_dub_frag_fail(f, DUB_FB_STS_UNAVAILABLE, -1);
    }
}


ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_frag_find(ngx_rtmp_dub_sts_t *sts, const char *id, size_t len)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    if (len == 0 || len >= sizeof(f->id)) {
        return NULL;
    }

    for (q = ngx_queue_head(&sts->frags);
         q != ngx_queue_sentinel(&sts->frags);
         q = ngx_queue_next(q))
    {
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, all);

        if (ngx_strncmp(f->id, id, len) == 0 && f->id[len] == '\0') {
            return f;
        }
    }

    return NULL;
}


/*
 * An answer (an error event, a message over the size limit) for a
 * fragment in flight: it lands if it had fallen back already; otherwise
 * it is returned, answered, for its caller to fail.
 */

ngx_rtmp_dub_frag_t *
ngx_rtmp_dub_frag_answered(ngx_rtmp_dub_sts_t *sts, const char *id,
    size_t len)
{
    ngx_rtmp_dub_frag_t  *f;

    f = ngx_rtmp_dub_frag_find(sts, id, len);

    if (f == NULL || (f->state != DUB_FRAG_SENT
                      && f->state != DUB_FRAG_EXPIRED))
    {
        return NULL;
    }

    f->answered = 1;

    if (f->state == DUB_FRAG_EXPIRED) {
        ngx_rtmp_dub_frag_late(f);
        return NULL;
    }

    return f;
}


/*
 * The segment went out: the fragment goes too, unless the STS still works
 * on it; then it keeps its place in flight until its answer or timeout.
 */

void
ngx_rtmp_dub_frag_forget(ngx_rtmp_dub_frag_t *f)
{
    f->gone = 1;

    if (f->state == DUB_FRAG_SENT || f->state == DUB_FRAG_EXPIRED) {
        return;
    }

    ngx_rtmp_dub_frag_free(f);
}


void
ngx_rtmp_dub_frag_texts(ngx_rtmp_dub_frag_t *f, ngx_str_t *transcript,
    ngx_str_t *translated)
{
    *transcript = f->transcript;
    *translated = f->translated;
}


void
ngx_rtmp_dub_frag_free_all(ngx_rtmp_dub_sts_t *sts)
{
    ngx_queue_t          *q;
    ngx_rtmp_dub_frag_t  *f;

    while (!ngx_queue_empty(&sts->frags)) {
        q = ngx_queue_head(&sts->frags);
        f = ngx_queue_data(q, ngx_rtmp_dub_frag_t, all);

        ngx_rtmp_dub_frag_free(f);
    }
}


static void
ngx_rtmp_dub_frag_free(ngx_rtmp_dub_frag_t *f)
{
    ngx_rtmp_dub_frag_leave(f);

    /* a task still working for it must not come back to it */
    ngx_rtmp_dub_task_abandon_data(&f->sts->tasks, f);

    dub_aac_frames_free(&f->dubbed);
    ngx_rtmp_dub_original_release(f->original);
    ngx_free(f->transcript.data);

    ngx_queue_remove(&f->all);
    ngx_free(f);
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
