
/*
 * Copyright (C) nginx-dub developers
 *
 * The insides of an STS session, shared by the files that make it:
 * ngx_rtmp_dub_sts.c (its life: connect, stream:init, reconnect, end),
 * ngx_rtmp_dub_sts_event.c (what the STS sends), ngx_rtmp_dub_frag.c
 * (fragments: the send gate, flight, timeouts, slots) and
 * ngx_rtmp_dub_answer.c (answers: parsed and decoded in the thread pool).
 * Nothing else includes it.
 */


#ifndef _NGX_RTMP_DUB_STS_INT_H_INCLUDED_
#define _NGX_RTMP_DUB_STS_INT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "dub_gate.h"
#include "dub_json.h"
#include "dub_limit.h"
#include "ngx_rtmp_dub_log.h"
#include "ngx_rtmp_dub_sts.h"
#include "ngx_rtmp_dub_task.h"


typedef enum {
    NGX_RTMP_DUB_STS_IDLE = 0,              /* waiting to connect */
    NGX_RTMP_DUB_STS_CONNECTING,            /* until stream:ready */
    NGX_RTMP_DUB_STS_READY,
    NGX_RTMP_DUB_STS_ENDING,                /* stream:end sent */
    NGX_RTMP_DUB_STS_DONE                   /* no session any more */
} ngx_rtmp_dub_sts_state_e;


struct ngx_rtmp_dub_sts_s {
    ngx_rtmp_dub_sts_conf_t    *conf;
    ngx_str_t                  *name;           /* for the log */
    ngx_str_t                  *stream;         /* for the STS */
    ngx_log_t                  *log;
    ngx_rtmp_dub_mslot_t       *ms;             /* metrics, or NULL */
    ngx_rtmp_dub_sts_done_pt    done;
    void                       *data;

    ngx_rtmp_dub_sts_state_e    state;
    ngx_rtmp_dub_sio_t         *sio;
    ngx_rtmp_dub_sts_url_t     *url;            /* its endpoint, or NULL */
    char                        session_id[64];
    ngx_event_t                 timer;          /* reconnect, init, end */
    ngx_uint_t                  attempt;        /* since the last ready */

    unsigned                    sample_rate;    /* for stream:init */
    unsigned                    channels;

    /* fragments: all of them, those waiting, those in flight */
    ngx_queue_t                 frags;
    ngx_queue_t                 send_queue;     /* QUEUED */
    ngx_queue_t                 sent_queue;     /* SENT, EXPIRED */
    ngx_uint_t                  pending;        /* not resolved yet */
    uint64_t                    seq;            /* the next one's */
    dub_gate_t                  gate;
    dub_fallback_e              blocked;        /* why the queue waits */
    ngx_event_t                 send_timer;     /* the gate's next look */
    ngx_queue_t                 tasks;          /* answers in the pool */

    /* the log lines the STS causes, rate-limited per kind */
    dub_limit_t                 log_limit[NGX_RTMP_DUB_LOG_KINDS];
    ngx_event_t                 log_timer;      /* summaries due */

    uint64_t                    sent;
    uint64_t                    processed[DUB_STATUS_N];
    uint64_t                    reconnects;
    uint64_t                    late_answers;
    uint64_t                    duplicate_answers;

    unsigned                    input:1;        /* a publisher feeds it */
    unsigned                    audio:1;        /* sample rate known */
    unsigned                    init_pending:1; /* stream:init waits */
    unsigned                    auth_failed:1;
    unsigned                    paused:1;       /* stream:pause sent */
    unsigned                    url_failed:1;   /* the last attempt */
};


struct ngx_rtmp_dub_frag_s {
    ngx_queue_t                 all;            /* the session's */
    ngx_queue_t                 queue;          /* send queue or flight */
    ngx_rtmp_dub_sts_t         *sts;

    ngx_rtmp_dub_audio_t        audio;
    ngx_rtmp_dub_packed_t      *packed;         /* until sent */
    ngx_rtmp_dub_original_t    *original;       /* to mix, until resolved */

    dub_frag_state_e            state;
    dub_fallback_e              reason;         /* FALLBACK, EXPIRED */

    char                        id[40];         /* fragment_id, a UUID */
    uint64_t                    seq;            /* sequence_number */
    ngx_msec_t                  sent_at;
    ngx_event_t                 timeout;

    dub_aac_frames_t            dubbed;         /* DUBBED */

    /* the answer's texts, for captions: one allocation, or NULL */
    ngx_str_t                   transcript;
    ngx_str_t                   translated;

    unsigned                    probe:1;        /* the half-open probe */
    unsigned                    answered:1;     /* an answer came */
    unsigned                    gone:1;         /* its segment went out */
};



/* ngx_rtmp_dub_sts.c */
void ngx_rtmp_dub_sts_joined(void *data);
void ngx_rtmp_dub_sts_ready(ngx_rtmp_dub_sts_t *sts, const char *session_id,
    ngx_uint_t max_inflight);
void ngx_rtmp_dub_sts_lost(ngx_rtmp_dub_sts_t *sts);
void ngx_rtmp_dub_sts_close(ngx_rtmp_dub_sts_t *sts);
void ngx_rtmp_dub_sts_ended(ngx_rtmp_dub_sts_t *sts);
void ngx_rtmp_dub_sts_maybe_end(ngx_rtmp_dub_sts_t *sts);
ngx_int_t ngx_rtmp_dub_sts_emit(ngx_rtmp_dub_sts_t *sts, const char *event,
    const char *reason);
void ngx_rtmp_dub_sts_ack(ngx_rtmp_dub_sts_t *sts, ngx_rtmp_dub_frag_t *f,
    const char *status);
ngx_uint_t ngx_rtmp_dub_sts_log_ok(void *data, ngx_rtmp_dub_log_kind_e kind);

/* ngx_rtmp_dub_sts_event.c */
void ngx_rtmp_dub_sts_event(void *data, ngx_rtmp_dub_sio_msg_t *msg);
void ngx_rtmp_dub_sts_oversize(void *data, u_char *head, size_t len,
    size_t size);
void ngx_rtmp_dub_sts_closed(void *data, ngx_rtmp_dub_sio_end_e why,
    const char *reason);

/* ngx_rtmp_dub_frag.c */
void ngx_rtmp_dub_frag_send(ngx_rtmp_dub_sts_t *sts);
void ngx_rtmp_dub_frag_send_timer(ngx_event_t *ev);
void ngx_rtmp_dub_frag_lost_all(ngx_rtmp_dub_sts_t *sts);
void ngx_rtmp_dub_frag_fail(ngx_rtmp_dub_frag_t *f, dub_fallback_e reason,
    ngx_int_t retryable);
void ngx_rtmp_dub_frag_received(ngx_rtmp_dub_frag_t *f);
void ngx_rtmp_dub_frag_dubbed(ngx_rtmp_dub_frag_t *f,
    dub_aac_frames_t *frames);
void ngx_rtmp_dub_frag_late(ngx_rtmp_dub_frag_t *f);
ngx_rtmp_dub_frag_t *ngx_rtmp_dub_frag_find(ngx_rtmp_dub_sts_t *sts,
    const char *id, size_t len);
ngx_rtmp_dub_frag_t *ngx_rtmp_dub_frag_answered(ngx_rtmp_dub_sts_t *sts,
    const char *id, size_t len);
void ngx_rtmp_dub_frag_free_all(ngx_rtmp_dub_sts_t *sts);

/* ngx_rtmp_dub_answer.c */
void ngx_rtmp_dub_answer(ngx_rtmp_dub_sts_t *sts,
    ngx_rtmp_dub_sio_msg_t *msg);


#endif /* _NGX_RTMP_DUB_STS_INT_H_INCLUDED_ */
