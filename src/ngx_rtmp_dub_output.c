
/*
 * Copyright (C) nginx-dub developers
 *
 * The output: an in-process publisher session in "dub_output_app".  Its
 * connection goes nowhere (/dev/null, sends swallowed, nothing to read),
 * so nginx-rtmp's live, record, HLS, exec and push modules handle it like
 * any other published stream.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_output.h"
#include "ngx_rtmp_live_module.h"
#include "ngx_rtmp_streams.h"


static ngx_log_t *ngx_rtmp_dub_output_log(ngx_pool_t *pool,
    ngx_log_t *from);
static ngx_connection_t *ngx_rtmp_dub_output_connection(
    ngx_rtmp_dub_lang_t *l);
static ngx_rtmp_session_t *ngx_rtmp_dub_output_session(
    ngx_rtmp_dub_lang_t *l, ngx_connection_t *c);
static ngx_int_t ngx_rtmp_dub_output_publish(ngx_rtmp_dub_lang_t *l,
    ngx_rtmp_session_t *s);
static ngx_int_t ngx_rtmp_dub_output_inject(ngx_rtmp_session_t *s,
    unsigned track, uint32_t ts, u_char *data, size_t len);
static ssize_t ngx_rtmp_dub_output_recv(ngx_connection_t *c, u_char *buf,
    size_t size);
static ssize_t ngx_rtmp_dub_output_write(ngx_connection_t *c, u_char *buf,
    size_t size);
static ngx_chain_t *ngx_rtmp_dub_output_write_chain(ngx_connection_t *c,
    ngx_chain_t *in, off_t limit);
static void ngx_rtmp_dub_output_event(ngx_event_t *ev);


ngx_int_t
ngx_rtmp_dub_output_open(ngx_rtmp_dub_lang_t *l, int64_t ts)
{
    ngx_uint_t           t;
    ngx_connection_t    *c;
    ngx_rtmp_session_t  *s;

    c = ngx_rtmp_dub_output_connection(l);
    if (c == NULL) {
        return NGX_ERROR;
    }

    s = ngx_rtmp_dub_output_session(l, c);
    if (s == NULL) {
        return NGX_ERROR;
    }

    l->output = s;

    if (ngx_rtmp_dub_output_publish(l, s) != NGX_OK) {
        goto failed;
    }

    /* a new output session starts with the sequence headers in force */

    for (t = 0; t < 2; t++) {
        if (l->header[t].len
            && ngx_rtmp_dub_output_inject(s, t, (uint32_t) ts,
                                          l->header[t].data,
                                          l->header[t].len)
               != NGX_OK)
        {
            goto failed;
        }
    }

    return NGX_OK;

failed:

    ngx_rtmp_dub_output_close(l);

    return NGX_ERROR;
}


/*
 * the output session's log: the stream's, without debug lines from
 * nginx-rtmp.  It relays every packet of the output through this session
 * and writes several debug lines for each (about 400 a second for a
 * stream): they would drown the module's own debug lines and cost the
 * worker a third more CPU.  Its lines from info to emerg stay.
 */

static ngx_log_t *
ngx_rtmp_dub_output_log(ngx_pool_t *pool, ngx_log_t *from)
{
    ngx_log_t   *log, *head, **next;

    head = NULL;
    next = &head;

    for ( /* void */ ; from; from = from->next) {
        log = ngx_palloc(pool, sizeof(ngx_log_t));
        if (log == NULL) {
            return NULL;
        }

        *log = *from;

        if (log->log_level > NGX_LOG_DEBUG) {
            log->log_level = NGX_LOG_DEBUG;
        }

        *next = log;
        next = &log->next;
    }

    return head;
}


/* a connection that goes nowhere, with a pool and a log of its own */

static ngx_connection_t *
ngx_rtmp_dub_output_connection(ngx_rtmp_dub_lang_t *l)
{
    ngx_fd_t                fd;
    ngx_log_t              *log;
    ngx_pool_t             *pool;
    ngx_connection_t       *c;
    ngx_rtmp_dub_bridge_t  *b;

    b = l->bridge;

    fd = ngx_open_file("/dev/null", NGX_FILE_RDWR, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, &b->log, ngx_errno,
                      ngx_open_file_n " \"/dev/null\" failed");
        return NULL;
    }

    c = ngx_get_connection(fd, &b->log);

    if (c == NULL) {
        (void) ngx_close_file(fd);
        return NULL;
    }

    pool = ngx_create_pool(4096, &b->log);
    if (pool == NULL) {
        ngx_close_connection(c);
        return NULL;
    }

    log = ngx_rtmp_dub_output_log(pool, &b->log);
    if (log == NULL) {
        ngx_close_connection(c);
        ngx_destroy_pool(pool);
        return NULL;
    }

    c->pool = pool;
    c->log = log;
    pool->log = log;
    c->read->log = log;
    c->write->log = log;

    c->recv = ngx_rtmp_dub_output_recv;
    c->send = ngx_rtmp_dub_output_write;
    c->send_chain = ngx_rtmp_dub_output_write_chain;
    c->read->handler = ngx_rtmp_dub_output_event;
    c->write->handler = ngx_rtmp_dub_output_event;

    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    ngx_str_set(&c->addr_text, "dub");

    return c;
}


/* an RTMP session on it, in "dub_output_app", marked as ours */

static ngx_rtmp_session_t *
ngx_rtmp_dub_output_session(ngx_rtmp_dub_lang_t *l, ngx_connection_t *c)
{
    ngx_pool_t             *pool;
    ngx_rtmp_session_t     *s;
    ngx_rtmp_dub_ctx_t     *ctx;
    ngx_rtmp_conf_ctx_t    *addr_ctx;
    ngx_rtmp_addr_conf_t   *addr_conf;
    ngx_rtmp_dub_bridge_t  *b;

    b = l->bridge;
    pool = c->pool;

    addr_conf = ngx_pcalloc(pool, sizeof(ngx_rtmp_addr_conf_t));
    addr_ctx = ngx_pcalloc(pool, sizeof(ngx_rtmp_conf_ctx_t));

    if (addr_conf == NULL || addr_ctx == NULL) {
        ngx_close_connection(c);
        ngx_destroy_pool(pool);
        return NULL;
    }

    addr_conf->ctx = addr_ctx;
    addr_ctx->main_conf = b->main_conf;
    addr_ctx->srv_conf = b->srv_conf;
    ngx_str_set(&addr_conf->addr_text, "dub");

#if (NGX_STAT_STUB)
    /* ngx_rtmp_close_connection() takes it back */
    (void) ngx_atomic_fetch_add(ngx_stat_active, 1);
#endif

    /* on failure it closes the connection */

    s = ngx_rtmp_init_session(c, addr_conf);
    if (s == NULL) {
        return NULL;
    }

    s->app_conf = l->conf->output_cacf->app_conf;
    s->app = l->conf->output_app;
    ngx_str_set(&s->flashver, "ngx-dub");

    ctx = ngx_pcalloc(pool, sizeof(ngx_rtmp_dub_ctx_t));
    if (ctx == NULL) {
        ngx_rtmp_finalize_session(s);
        return NULL;
    }

    ctx->output = 1;
    ctx->bridge = b;
    ctx->lang = l;
    ngx_rtmp_set_ctx(s, ctx, ngx_rtmp_dub_module);

    return s;
}


static ngx_int_t
ngx_rtmp_dub_output_publish(ngx_rtmp_dub_lang_t *l, ngx_rtmp_session_t *s)
{
    ngx_rtmp_publish_t      v;
    ngx_rtmp_live_ctx_t    *lctx;
    ngx_rtmp_dub_bridge_t  *b;

    b = l->bridge;

    ngx_memzero(&v, sizeof(ngx_rtmp_publish_t));
    ngx_memcpy(v.name, b->raw.data, b->raw.len);
    ngx_memcpy(v.type, "live", sizeof("live"));
    v.silent = 1;

    if (ngx_rtmp_publish(s, &v) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" output publish failed",
                      &l->conf->output_app, &b->stream);
        return NGX_ERROR;
    }

    lctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_live_module);

    if (lctx == NULL || !lctx->publishing) {
        ngx_log_error(NGX_LOG_ERR, &b->log, 0,
                      "dub: \"%V/%V\" output refused: another client "
                      "publishes that stream; retrying at the next segment",
                      &l->conf->output_app, &b->stream);
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, &b->log, 0,
                  "dub: \"%V/%V\" output started", &l->conf->output_app,
                  &b->stream);

    return NGX_OK;
}


ngx_int_t
ngx_rtmp_dub_output_send(ngx_rtmp_dub_lang_t *l, dub_tag_t *tag,
    u_char *data, size_t len)
{
    ngx_str_t           *hdr;
    ngx_rtmp_session_t  *s;

    s = l->output;

    if (s->connection->destroyed) {
        /* finalized by someone else: reopen at the next segment */
        ngx_rtmp_dub_output_close(l);
        return NGX_DECLINED;
    }

    if (tag->flags & DUB_TAG_HEADER) {
        hdr = &l->header[tag->track];

        if (hdr->len != tag->len) {
            ngx_free(hdr->data);
            hdr->len = 0;

            hdr->data = ngx_alloc(tag->len, &l->bridge->log);
            if (hdr->data == NULL) {
                return NGX_ERROR;
            }
        }

        ngx_memcpy(hdr->data, data, tag->len);
        hdr->len = tag->len;
    }

    /* captions */
    (void) ngx_rtmp_dub_captions_tag(l->captions, tag, &data, &len);

    if (ngx_rtmp_dub_output_inject(s, tag->track, (uint32_t) tag->out_ts,
                                   data, len)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, &l->bridge->log, 0,
                      "dub: \"%V/%V\" output session failed, reopening at "
                      "the next segment", &l->conf->output_app,
                      &l->bridge->stream);
        ngx_rtmp_dub_output_close(l);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_rtmp_dub_output_close(ngx_rtmp_dub_lang_t *l)
{
    ngx_rtmp_session_t  *s;
    ngx_rtmp_dub_ctx_t  *ctx;

    s = l->output;

    if (s == NULL) {
        return;
    }

    l->output = NULL;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx) {
        ctx->bridge = NULL;
    }

    ngx_rtmp_finalize_session(s);
}


static ngx_int_t
ngx_rtmp_dub_output_inject(ngx_rtmp_session_t *s, unsigned track,
    uint32_t ts, u_char *data, size_t len)
{
    ngx_buf_t          buf;
    ngx_chain_t        cl;
    ngx_rtmp_header_t  h;

    ngx_memzero(&h, sizeof(ngx_rtmp_header_t));
    ngx_memzero(&buf, sizeof(ngx_buf_t));

    if (track == DUB_TRACK_AUDIO) {
        h.csid = NGX_RTMP_CSID_AUDIO;
        h.type = NGX_RTMP_MSG_AUDIO;

    } else {
        h.csid = NGX_RTMP_CSID_VIDEO;
        h.type = NGX_RTMP_MSG_VIDEO;
    }

    h.msid = NGX_RTMP_MSID;
    h.timestamp = ts;
    h.mlen = (uint32_t) len;

    /* handlers copy what they keep: no need to copy here */

    buf.start = data;
    buf.pos = data;
    buf.last = data + len;
    buf.end = data + len;
    buf.memory = 1;

    cl.buf = &buf;
    cl.next = NULL;

    s->current_time = ts;

    return ngx_rtmp_receive_message(s, &h, &cl);
}


static ssize_t
ngx_rtmp_dub_output_recv(ngx_connection_t *c, u_char *buf, size_t size)
{
    return NGX_AGAIN;
}


static ssize_t
ngx_rtmp_dub_output_write(ngx_connection_t *c, u_char *buf, size_t size)
{
    /* status messages to a publisher: nobody listens */
    return size;
}


static ngx_chain_t *
ngx_rtmp_dub_output_write_chain(ngx_connection_t *c, ngx_chain_t *in,
    off_t limit)
{
    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;
    }

    return NULL;
}


static void
ngx_rtmp_dub_output_event(ngx_event_t *ev)
{
    /* the connection has no peer: no I/O events */
}
