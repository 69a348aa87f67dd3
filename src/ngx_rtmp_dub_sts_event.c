
/*
 * Copyright (C) nginx-dub developers
 *
 * What the STS sends a session: its events (fragment:processed goes to
 * the thread pool whole, the small ones are parsed here), a message over
 * the size limit, the end of the connection.  Whatever it sends, the
 * worst it does is a fallback for one fragment, or a reconnection.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp_dub_sts_int.h"


#define NGX_RTMP_DUB_SMALL_EVENT    65536


static void ngx_rtmp_dub_sts_small_event(ngx_rtmp_dub_sts_t *sts,
    dub_json_event_t *ev);
static void ngx_rtmp_dub_sts_on_backpressure(ngx_rtmp_dub_sts_t *sts,
    dub_json_backpressure_t *bp);
static void ngx_rtmp_dub_sts_on_error(ngx_rtmp_dub_sts_t *sts,
    dub_json_error_t *e);
static void ngx_rtmp_dub_sts_on_fragment_error(ngx_rtmp_dub_sts_t *sts,
    dub_json_error_t *e);
static void ngx_rtmp_dub_sts_on_complete(ngx_rtmp_dub_sts_t *sts,
    dub_json_complete_t *c);
static void ngx_rtmp_dub_sts_auth_failed(ngx_rtmp_dub_sts_t *sts);


static const char  *ngx_rtmp_dub_sts_end_names[] = {
    "closed", "connection failed", "refused", "dead", "broken"
};


void
ngx_rtmp_dub_sts_event(void *data, ngx_rtmp_dub_sio_msg_t *msg)
{
    ngx_rtmp_dub_sts_t  *sts = data;

    char              err[DUB_JSON_ERRLEN];
    dub_json_event_t  ev;

    if (msg->json_len > 24
        && ngx_strncmp(msg->json, "[\"fragment:processed\"", 21) == 0)
    {
        ngx_rtmp_dub_answer(sts, msg);
        return;
    }

    if (msg->json_len > NGX_RTMP_DUB_SMALL_EVENT) {
        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_LARGE_EVENT)) {
            ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                          "dub: \"%V\" %uz byte event \"%*s...\" from "
                          "the STS ignored", sts->name,
                          msg->json_len, ngx_min(msg->json_len, 40),
                          msg->json);
        }

        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    if (dub_json_event_parse(msg->json, msg->json_len, &ev, err, sizeof(err))
        != 0)
    {
        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_MALFORMED)) {
            ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                          "dub: \"%V\" malformed event from the STS: %s",
                          sts->name, err);
        }

        ngx_rtmp_dub_sio_msg_free(msg);
        return;
    }

    if (ngx_strcmp(ev.name, "fragment:processed") == 0) {
        dub_json_event_free(&ev);
        ngx_rtmp_dub_answer(sts, msg);
        return;
    }

    ngx_rtmp_dub_sts_small_event(sts, &ev);

    dub_json_event_free(&ev);
    ngx_rtmp_dub_sio_msg_free(msg);
}


/* an event other than fragment:processed: its payload, then what it says */

static void
ngx_rtmp_dub_sts_small_event(ngx_rtmp_dub_sts_t *sts, dub_json_event_t *ev)
{
    char                err[DUB_JSON_ERRLEN];
    dub_json_payload_t  p;

    if (dub_json_payload(ev->name, ev->payload, &p, err, sizeof(err)) != 0) {
        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_BAD_PAYLOAD)) {
            ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                          "dub: \"%V\" bad %s%s: %s", sts->name, ev->name,
                          ngx_strchr(ev->name, ':') ? "" : " event", err);
        }

        return;
    }

    switch (p.kind) {

    case DUB_JSON_READY:
        ngx_rtmp_dub_sts_ready(sts, p.u.ready.session_id,
                               (ngx_uint_t) p.u.ready.max_inflight);
        break;

    case DUB_JSON_ACK:
        ngx_log_debug3(NGX_LOG_DEBUG_RTMP, sts->log, 0,
                       "dub: \"%V\" fragment %s acked: %s", sts->name,
                       p.u.ack.fragment_id, p.u.ack.status);
        break;

    case DUB_JSON_BACKPRESSURE:
        ngx_rtmp_dub_sts_on_backpressure(sts, &p.u.backpressure);
        break;

    case DUB_JSON_ERROR:
        ngx_rtmp_dub_sts_on_error(sts, &p.u.error);
        break;

    case DUB_JSON_COMPLETE:
        ngx_rtmp_dub_sts_on_complete(sts, &p.u.complete);
        break;

    default:
        if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_UNKNOWN_EVENT)) {
            ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                          "dub: \"%V\" unknown event \"%s\" from the "
                          "STS ignored", sts->name, ev->name);
        }
    }
}


static void
ngx_rtmp_dub_sts_on_backpressure(ngx_rtmp_dub_sts_t *sts,
    dub_json_backpressure_t *bp)
{
    ngx_rtmp_dub_stat_add(sts->ms, backpressure[bp->action], 1);

    sts->gate.bp_action = bp->action;
    sts->gate.bp_delay = (bp->action == DUB_BP_SLOW_DOWN)
                         ? ngx_min(bp->recommended_delay_ms, 60000) : 0;

    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_BACKPRESSURE)) {
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" backpressure from session %s: %s, "
                      "delay %Lms, severity \"%s\"", sts->name,
                      sts->session_id, dub_json_bp_names[bp->action],
                      sts->gate.bp_delay, bp->severity);
    }

    ngx_rtmp_dub_frag_send(sts);
}


static void
ngx_rtmp_dub_sts_on_error(ngx_rtmp_dub_sts_t *sts, dub_json_error_t *e)
{
    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_ERROR)) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" STS error %s%s%s: \"%s\", %s",
                      sts->name, e->code,
                      e->fragment_id[0] ? " for fragment " : "",
                      e->fragment_id, e->message,
                      e->retryable ? "retryable" : "not retryable");
    }

    if (ngx_strcmp(e->code, "AUTH_FAILED") == 0) {
        /* bad credentials: no point in trying again */
        ngx_rtmp_dub_sts_close(sts);
        ngx_rtmp_dub_sts_auth_failed(sts);
        ngx_rtmp_dub_sts_lost(sts);
        return;
    }

    if (e->fragment_id[0]) {
        ngx_rtmp_dub_sts_on_fragment_error(sts, e);
        return;
    }

    if (ngx_strcmp(e->code, "STREAM_NOT_FOUND") == 0 && sts->sio
        && sts->state == NGX_RTMP_DUB_STS_READY)
    {
        /* the STS forgot the stream: introduce it again */
        sts->state = NGX_RTMP_DUB_STS_CONNECTING;
        sts->gate.link = DUB_LINK_CONNECTING;
        ngx_add_timer(&sts->timer, sts->conf->init_timeout);
        ngx_rtmp_dub_sts_joined(sts);
        return;
    }

    if (!e->retryable && sts->state == NGX_RTMP_DUB_STS_CONNECTING) {

        /*
         * stream:init refused (e.g. INVALID_CONFIG): no stream:ready
         * will come, try again on the reconnection schedule rather than
         * after the init timeout
         */

        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" STS refused stream:init: %s",
                      sts->name, e->code);

        ngx_rtmp_dub_sts_close(sts);
        ngx_rtmp_dub_sts_lost(sts);
    }
}


/* an error event about one fragment: it fails, or was too late already */

static void
ngx_rtmp_dub_sts_on_fragment_error(ngx_rtmp_dub_sts_t *sts,
    dub_json_error_t *e)
{
    ngx_rtmp_dub_frag_t  *f;

    f = ngx_rtmp_dub_frag_answered(sts, e->fragment_id,
                                   ngx_strlen(e->fragment_id));

    if (f) {
        ngx_rtmp_dub_frag_fail(f, DUB_FB_ERROR, e->retryable);
    }

    ngx_rtmp_dub_frag_send(sts);
}


static void
ngx_rtmp_dub_sts_on_complete(ngx_rtmp_dub_sts_t *sts, dub_json_complete_t *c)
{
    if (ngx_rtmp_dub_sts_log_ok(sts, NGX_RTMP_DUB_LOG_COMPLETE)) {
        ngx_log_error(NGX_LOG_INFO, sts->log, 0,
                      "dub: \"%V\" stream:complete from session %s: %L "
                      "fragments, %L success, %L partial, %L failed",
                      sts->name, sts->session_id,
                      c->total_fragments, c->success_count, c->partial_count,
                      c->failed_count);
    }

    if (sts->state != NGX_RTMP_DUB_STS_ENDING) {
        return;
    }

    if (sts->timer.timer_set) {
        ngx_del_timer(&sts->timer);
    }

    ngx_rtmp_dub_sts_close(sts);
    ngx_rtmp_dub_sts_ended(sts);
}


void
ngx_rtmp_dub_sts_oversize(void *data, u_char *head, size_t len, size_t size)
{
    ngx_rtmp_dub_sts_t  *sts = data;

    u_char               *p, *last, *id;
    ngx_rtmp_dub_frag_t  *f;

    /* which fragment it was about, if its first bytes tell */

    last = head + len;
    p = ngx_strlcasestrn(head, last, (u_char *) "\"fragment_id\"", 13 - 1);

    if (p == NULL) {
        return;
    }

    for (p += 13; p < last && (*p == ' ' || *p == ':'); p++) {
        /* void */
    }

    if (p == last || *p++ != '"') {
        return;
    }

    for (id = p; p < last && *p != '"'; p++) {
        /* void */
    }

    if (p == last) {
        return;
    }

    f = ngx_rtmp_dub_frag_answered(sts, (char *) id, p - id);

    if (f) {
        ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                      "dub: \"%V\" fragment %s seq %uL: answer of %uz "
                      "bytes over the limit", sts->name,
                      f->id, f->seq, size);
        ngx_rtmp_dub_frag_fail(f, DUB_FB_OVERSIZE, 0);
    }

    ngx_rtmp_dub_frag_send(sts);
}


void
ngx_rtmp_dub_sts_closed(void *data, ngx_rtmp_dub_sio_end_e why,
    const char *reason)
{
    ngx_rtmp_dub_sts_t  *sts = data;

    ngx_uint_t  level;

    sts->sio = NULL;

    level = (why == NGX_RTMP_DUB_SIO_CLOSED) ? NGX_LOG_INFO : NGX_LOG_ERR;

    ngx_log_error(level, sts->log, 0, "dub: \"%V\" STS \"%V\" %s%s%s: %s",
                  sts->name, &sts->url->url,
                  ngx_rtmp_dub_sts_end_names[why],
                  sts->session_id[0] ? ", session " : "", sts->session_id,
                  reason);

    if (why == NGX_RTMP_DUB_SIO_REFUSED
        && ngx_strlcasestrn((u_char *) reason,
                            (u_char *) reason + ngx_strlen(reason),
                            (u_char *) "auth", 4 - 1))
    {
        ngx_rtmp_dub_sts_auth_failed(sts);
    }

    ngx_rtmp_dub_sts_lost(sts);
}


static void
ngx_rtmp_dub_sts_auth_failed(ngx_rtmp_dub_sts_t *sts)
{
    ngx_log_error(NGX_LOG_ERR, sts->log, 0,
                  "dub: \"%V\" STS refused the credentials: no more "
                  "attempts for this stream", sts->name);

    sts->auth_failed = 1;
}
