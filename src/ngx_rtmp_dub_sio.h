
/*
 * Copyright (C) nginx-dub developers
 *
 * A Socket.IO client connection over libwebsockets (on the nested libuv
 * loop), and where an STS is: what the "dub_sts_*" directives say.
 */


#ifndef _NGX_RTMP_DUB_SIO_H_INCLUDED_
#define _NGX_RTMP_DUB_SIO_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <libwebsockets.h>

#include "dub_buf.h"
#include "dub_sio.h"


/*
 * Where and how to reach an STS: from "dub_sts_*" directives.  Several
 * "dub_sts_url" (or "sts=") make a list of endpoints, by "next"; each
 * endpoint's load and health in a worker are kept on one copy of it,
 * "endpoint", shared by every application that names it.
 */

typedef struct ngx_rtmp_dub_sts_url_s  ngx_rtmp_dub_sts_url_t;

struct ngx_rtmp_dub_sts_url_s {
    ngx_str_t                   url;        /* as configured */
    ngx_str_t                   host;       /* Host header, SNI, checks */
    char                       *address;    /* numeric, resolved */
    in_port_t                   port;
    unsigned                    ssl:1;
    ngx_str_t                   path;       /* "/socket.io/?EIO=4&..." */
    ngx_str_t                   nsp;        /* "/" or "/sts" */
    ngx_array_t                *headers;    /* ngx_keyval_t */
    ngx_array_t                *auth;       /* ngx_keyval_t */
    ngx_str_t                   ca;         /* trusted CA file */
    size_t                      max_message;
    struct lws_vhost           *vhost;      /* per worker */
    ngx_rtmp_dub_sts_url_t     *next;       /* another endpoint, or NULL */

    /* per worker, on the "endpoint" copy: ngx_rtmp_dub_sts.c */
    ngx_rtmp_dub_sts_url_t     *endpoint;
    ngx_uint_t                  sessions;   /* the sessions it has */
    ngx_msec_t                  failed_at;  /* an attempt failed then */
    unsigned                    failed:1;   /* and none worked since */
};


/* one Socket.IO connection */

typedef struct ngx_rtmp_dub_sio_s  ngx_rtmp_dub_sio_t;

typedef enum {
    NGX_RTMP_DUB_SIO_CLOSED = 0,    /* the peer or the network closed it */
    NGX_RTMP_DUB_SIO_FAILED,        /* could not connect */
    NGX_RTMP_DUB_SIO_REFUSED,       /* namespace connection refused */
    NGX_RTMP_DUB_SIO_DEAD,          /* no heartbeat */
    NGX_RTMP_DUB_SIO_BROKEN         /* the peer broke the framing */
} ngx_rtmp_dub_sio_end_e;


typedef struct {
    dub_buf_t                   text;       /* owned by the handler */
    const char                 *json;       /* inside text */
    size_t                      json_len;
    dub_buf_t                   bin[DUB_SIO_MAX_ATTACHMENTS];
    ngx_uint_t                  nbin;
} ngx_rtmp_dub_sio_msg_t;


/*
 * The log lines an STS can cause with each message it sends: each kind
 * is rate-limited per stream (see ngx_rtmp_dub_sts_log_ok()).
 */

typedef enum {
    NGX_RTMP_DUB_LOG_NOT_EIO = 0,       /* not an Engine.IO packet */
    NGX_RTMP_DUB_LOG_OVERSIZE,          /* over "dub_sts_max_message" */
    NGX_RTMP_DUB_LOG_BINARY,            /* unexpected binary message */
    NGX_RTMP_DUB_LOG_LARGE_EVENT,       /* event too large to parse */
    NGX_RTMP_DUB_LOG_MALFORMED,         /* not a Socket.IO event */
    NGX_RTMP_DUB_LOG_BAD_PAYLOAD,       /* a known event, wrong fields */
    NGX_RTMP_DUB_LOG_READY,             /* stream:ready */
    NGX_RTMP_DUB_LOG_ACK,               /* fragment:ack */
    NGX_RTMP_DUB_LOG_BACKPRESSURE,
    NGX_RTMP_DUB_LOG_ERROR,             /* error events */
    NGX_RTMP_DUB_LOG_COMPLETE,          /* stream:complete */
    NGX_RTMP_DUB_LOG_UNKNOWN_EVENT,
    NGX_RTMP_DUB_LOG_UNKNOWN_FRAGMENT,  /* an answer for no fragment */
    NGX_RTMP_DUB_LOG_LATE,              /* an answer after its time */
    NGX_RTMP_DUB_LOG_DUPLICATE,         /* a second answer */
    NGX_RTMP_DUB_LOG_KINDS
} ngx_rtmp_dub_log_kind_e;


typedef struct {
    /* the namespace is joined: events can flow */
    void  (*joined)(void *data);

    /* an event; the handler owns msg's buffers afterwards */
    void  (*event)(void *data, ngx_rtmp_dub_sio_msg_t *msg);

    /* a message over the size limit was dropped; its first bytes */
    void  (*oversize)(void *data, u_char *head, size_t len, size_t size);

    /* the connection is over: no more callbacks after this one */
    void  (*closed)(void *data, ngx_rtmp_dub_sio_end_e why,
                    const char *reason);

    /* may a log line of this kind be written now */
    ngx_uint_t  (*log_ok)(void *data, ngx_rtmp_dub_log_kind_e kind);
} ngx_rtmp_dub_sio_handler_t;


#define NGX_RTMP_DUB_SIO_HEAD       4096


struct ngx_rtmp_dub_sio_s {
    struct lws                     *wsi;
    ngx_rtmp_dub_sts_url_t         *url;
    const ngx_rtmp_dub_sio_handler_t  *handler;
    void                           *data;       /* NULL once detached */
    ngx_log_t                      *log;

    ngx_str_t                       stream_id;
    ngx_str_t                       worker_id;

    /* receiving */
    dub_buf_t                       rx;
    size_t                          rx_size;        /* whole message */
    u_char                          head[NGX_RTMP_DUB_SIO_HEAD];
    size_t                          head_len;
    unsigned                        rx_binary:1;
    unsigned                        rx_discard:1;
    ngx_rtmp_dub_sio_msg_t         *pending;        /* awaiting binary */
    ngx_uint_t                      pending_need;

    /* sending: a queue of framed messages */
    ngx_queue_t                     out;
    size_t                          out_sent;       /* of the first one */

    /* heartbeat from the server */
    ngx_event_t                     heartbeat;
    ngx_msec_t                      ping_window;

    char                            reason[256];    /* of the end */
    char                            tls_error[128];

    unsigned                        connecting:1;   /* inside connect */
    unsigned                        open:1;         /* engine.io open */
    unsigned                        joined:1;
    unsigned                        closing:1;
    unsigned                        ended:1;        /* closed reported */
};


ngx_int_t ngx_rtmp_dub_sio_init(ngx_cycle_t *cycle, ngx_array_t *urls);
void ngx_rtmp_dub_sio_done(ngx_cycle_t *cycle);

ngx_rtmp_dub_sio_t *ngx_rtmp_dub_sio_connect(ngx_rtmp_dub_sts_url_t *url,
    ngx_str_t *stream_id, const ngx_rtmp_dub_sio_handler_t *handler,
    void *data, ngx_log_t *log);

/* a buffer framed for an event on the connection's namespace */
ngx_int_t ngx_rtmp_dub_sio_event_buf(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b);

/* queues a framed message; takes the buffer */
ngx_int_t ngx_rtmp_dub_sio_send(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b);

/* leaves the namespace and closes; no callback afterwards */
void ngx_rtmp_dub_sio_close(ngx_rtmp_dub_sio_t *sio);

void ngx_rtmp_dub_sio_msg_free(ngx_rtmp_dub_sio_msg_t *msg);


#endif /* _NGX_RTMP_DUB_SIO_H_INCLUDED_ */
