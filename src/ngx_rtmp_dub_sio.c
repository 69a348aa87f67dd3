
/*
 * Copyright (C) nginx-dub developers
 *
 * Socket.IO v5 over Engine.IO v4 over WebSocket (libwebsockets), WebSocket
 * transport only, inside nginx's event loop.  One libwebsockets context
 * per worker on the nested libuv loop; one connection per dubbed stream.
 * The server sends the heartbeat ("2"), the client answers ("3"); large
 * messages arrive in pieces and are put back together up to
 * "dub_sts_max_message".
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <openssl/x509.h>

#include "ngx_rtmp_dub_sio.h"
#include "ngx_rtmp_dub_uv.h"
#include "dub_json.h"


#define NGX_RTMP_DUB_SIO_CHUNK      65536

/* what a libwebsockets callback answers to have the connection closed */
#define NGX_RTMP_DUB_LWS_CLOSE      -1


typedef struct {
    ngx_queue_t                 queue;
    dub_buf_t                   buf;
    unsigned                    binary:1;
} ngx_rtmp_dub_sio_out_t;


static struct lws_context *ngx_rtmp_dub_sio_context(uv_loop_t *loop);
static struct lws_vhost *ngx_rtmp_dub_sio_vhost(ngx_rtmp_dub_sts_url_t **u,
    ngx_uint_t n);
static ngx_rtmp_dub_sio_t *ngx_rtmp_dub_sio_create(
    ngx_rtmp_dub_sts_url_t *url, ngx_str_t *stream_id,
    const ngx_rtmp_dub_sio_handler_t *handler, ngx_log_t *log);
static struct lws *ngx_rtmp_dub_sio_client(ngx_rtmp_dub_sio_t *sio);
static int ngx_rtmp_dub_sio_callback(struct lws *wsi,
    enum lws_callback_reasons reason, void *user, void *in, size_t len);
static void ngx_rtmp_dub_sio_tls_verdict(ngx_rtmp_dub_sio_t *sio,
    void *store, size_t ok);
static void ngx_rtmp_dub_sio_peer_close(ngx_rtmp_dub_sio_t *sio, u_char *in,
    size_t len);
static void ngx_rtmp_dub_sio_failed(ngx_rtmp_dub_sio_t *sio,
    const char *in);
static void ngx_rtmp_dub_sio_destroyed(ngx_rtmp_dub_sio_t *sio,
    struct lws *wsi);
static ngx_int_t ngx_rtmp_dub_sio_headers(ngx_rtmp_dub_sio_t *sio,
    struct lws *wsi, u_char **p, u_char *end);
static ngx_int_t ngx_rtmp_dub_sio_receive(ngx_rtmp_dub_sio_t *sio,
    struct lws *wsi, u_char *in, size_t len);
static ngx_int_t ngx_rtmp_dub_sio_collect(ngx_rtmp_dub_sio_t *sio,
    struct lws *wsi, u_char *in, size_t len);
static void ngx_rtmp_dub_sio_oversize(ngx_rtmp_dub_sio_t *sio);
static ngx_int_t ngx_rtmp_dub_sio_message(ngx_rtmp_dub_sio_t *sio);
static ngx_int_t ngx_rtmp_dub_sio_packet(ngx_rtmp_dub_sio_t *sio,
    dub_sio_packet_t *pkt);
static ngx_int_t ngx_rtmp_dub_sio_open(ngx_rtmp_dub_sio_t *sio,
    dub_sio_packet_t *pkt);
static ngx_int_t ngx_rtmp_dub_sio_socketio(ngx_rtmp_dub_sio_t *sio,
    dub_sio_packet_t *pkt);
static ngx_int_t ngx_rtmp_dub_sio_event(ngx_rtmp_dub_sio_t *sio,
    dub_sio_packet_t *pkt);
static ngx_int_t ngx_rtmp_dub_sio_attachment(ngx_rtmp_dub_sio_t *sio);
static void ngx_rtmp_dub_sio_deliver(ngx_rtmp_dub_sio_t *sio,
    ngx_rtmp_dub_sio_msg_t *m);
static void ngx_rtmp_dub_sio_drop_pending(ngx_rtmp_dub_sio_t *sio);
static ngx_int_t ngx_rtmp_dub_sio_write(ngx_rtmp_dub_sio_t *sio,
    struct lws *wsi);
static ngx_int_t ngx_rtmp_dub_sio_enqueue(ngx_rtmp_dub_sio_t *sio,
    dub_buf_t *b);
static ngx_int_t ngx_rtmp_dub_sio_queue(ngx_rtmp_dub_sio_t *sio,
    const char *text, size_t len);
static ngx_int_t ngx_rtmp_dub_sio_auth(ngx_rtmp_dub_sio_t *sio,
    dub_buf_t *b);
static void ngx_rtmp_dub_sio_end(ngx_rtmp_dub_sio_t *sio,
    ngx_rtmp_dub_sio_end_e why, const char *reason);
static void ngx_rtmp_dub_sio_heartbeat(ngx_event_t *ev);
static ngx_uint_t ngx_rtmp_dub_sio_log_ok(ngx_rtmp_dub_sio_t *sio,
    ngx_rtmp_dub_log_kind_e kind);
static void ngx_rtmp_dub_sio_free(ngx_rtmp_dub_sio_t *sio);
static void ngx_rtmp_dub_sio_lws_log(int level, const char *line);


static struct lws_context  *ngx_rtmp_dub_lws;

static const struct lws_protocols  ngx_rtmp_dub_sio_protocols[] = {
    { "dub-sio", ngx_rtmp_dub_sio_callback, 0, NGX_RTMP_DUB_SIO_CHUNK,
      0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};


/*
 * One context per worker, on the nested libuv loop.  A vhost per distinct
 * trusted CA file, so that each STS is checked against its own.
 */

ngx_int_t
ngx_rtmp_dub_sio_init(ngx_cycle_t *cycle, ngx_array_t *urls)
{
    ngx_uint_t                i;
    uv_loop_t                *loop;
    ngx_rtmp_dub_sts_url_t  **u;

    loop = ngx_rtmp_dub_uv_init(cycle);
    if (loop == NULL) {
        return NGX_ERROR;
    }

    lws_set_log_level(LLL_ERR | LLL_WARN, ngx_rtmp_dub_sio_lws_log);

    ngx_rtmp_dub_lws = ngx_rtmp_dub_sio_context(loop);

    if (ngx_rtmp_dub_lws == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "dub: lws_create_context() failed");
        ngx_rtmp_dub_uv_done();
        return NGX_ERROR;
    }

    u = urls->elts;

    for (i = 0; i < urls->nelts; i++) {
        u[i]->vhost = ngx_rtmp_dub_sio_vhost(u, i);

        if (u[i]->vhost == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "dub: cannot set up TLS for \"%V\"%s%V",
                          &u[i]->url,
                          u[i]->ca.len ? " with CA file " : "",
                          &u[i]->ca);
            return NGX_ERROR;
        }
    }

    /* the loop runs from the first connection on */

    return NGX_OK;
}


static struct lws_context *
ngx_rtmp_dub_sio_context(uv_loop_t *loop)
{
    void                              *loops[1];
    struct lws_context_creation_info   info;

    ngx_memzero(&info, sizeof(info));

    loops[0] = loop;

    info.options = LWS_SERVER_OPTION_LIBUV
                   | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT
                   | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ngx_rtmp_dub_sio_protocols;
    info.gid = -1;
    info.uid = -1;

    return lws_create_context(&info);
}


/* the vhost of u[n]: that of an earlier URL with the same CA, or its own */

static struct lws_vhost *
ngx_rtmp_dub_sio_vhost(ngx_rtmp_dub_sts_url_t **u, ngx_uint_t n)
{
    ngx_uint_t                         i;
    struct lws_context_creation_info   info;

    for (i = 0; i < n; i++) {
        if (u[i]->ca.len == u[n]->ca.len
            && ngx_strncmp(u[i]->ca.data, u[n]->ca.data, u[n]->ca.len) == 0)
        {
            return u[i]->vhost;
        }
    }

    ngx_memzero(&info, sizeof(info));

    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ngx_rtmp_dub_sio_protocols;
    info.vhost_name = "dub";
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;

    if (u[n]->ca.len) {
        info.client_ssl_ca_filepath = (char *) u[n]->ca.data;
    }

    return lws_create_vhost(ngx_rtmp_dub_lws, &info);
}


void
ngx_rtmp_dub_sio_done(ngx_cycle_t *cycle)
{
    if (ngx_rtmp_dub_lws == NULL) {
        return;
    }

    /* connections close, their callbacks run, the loop winds down */

    lws_context_destroy(ngx_rtmp_dub_lws);
    ngx_rtmp_dub_uv_spin(100);
    lws_context_destroy(ngx_rtmp_dub_lws);

    ngx_rtmp_dub_lws = NULL;

    ngx_rtmp_dub_uv_done();
}


ngx_rtmp_dub_sio_t *
ngx_rtmp_dub_sio_connect(ngx_rtmp_dub_sts_url_t *url, ngx_str_t *stream_id,
    const ngx_rtmp_dub_sio_handler_t *handler, void *data, ngx_log_t *log)
{
    struct lws          *wsi;
    ngx_rtmp_dub_sio_t  *sio;

    if (ngx_rtmp_dub_lws == NULL || url->vhost == NULL) {
        return NULL;
    }

    sio = ngx_rtmp_dub_sio_create(url, stream_id, handler, log);
    if (sio == NULL) {
        return NULL;
    }

    /*
     * The address is numeric (resolved at configuration time): connecting
     * does not wait for DNS.  A failure found at once comes back from
     * this call, with no callback to the owner; later ones as callbacks.
     */

    sio->connecting = 1;
    wsi = ngx_rtmp_dub_sio_client(sio);
    sio->connecting = 0;

    if (wsi == NULL || sio->ended) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "dub: cannot connect to \"%V\": %s", &url->url,
                      sio->reason[0] ? sio->reason : "failed at once");

        if (wsi) {
            /* lws lets it go by itself; it must not find us then */
            lws_set_opaque_user_data(wsi, NULL);
            lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND,
                            LWS_TO_KILL_ASYNC);
        }

        ngx_rtmp_dub_sio_free(sio);
        return NULL;
    }

    sio->wsi = wsi;
    sio->data = data;

    ngx_rtmp_dub_uv_kick();

    return sio;
}


/* the object, with its stream and worker ids after it */

static ngx_rtmp_dub_sio_t *
ngx_rtmp_dub_sio_create(ngx_rtmp_dub_sts_url_t *url, ngx_str_t *stream_id,
    const ngx_rtmp_dub_sio_handler_t *handler, ngx_log_t *log)
{
    u_char              *p;
    ngx_rtmp_dub_sio_t  *sio;

    sio = ngx_calloc(sizeof(ngx_rtmp_dub_sio_t) + stream_id->len + 1
                     + NGX_INT_T_LEN + ngx_cycle->hostname.len + 2, log);
    if (sio == NULL) {
        return NULL;
    }

    p = (u_char *) (sio + 1);

    sio->stream_id.data = p;
    sio->stream_id.len = stream_id->len;
    p = ngx_cpymem(p, stream_id->data, stream_id->len);
    *p++ = '\0';

    sio->worker_id.data = p;
    p = ngx_sprintf(p, "%V:%P", &ngx_cycle->hostname, ngx_pid);
    sio->worker_id.len = p - sio->worker_id.data;
    *p = '\0';

    sio->url = url;
    sio->handler = handler;
    sio->log = log;

    ngx_queue_init(&sio->out);

    sio->heartbeat.handler = ngx_rtmp_dub_sio_heartbeat;
    sio->heartbeat.data = sio;
    sio->heartbeat.log = log;
    sio->heartbeat.cancelable = 1;

    return sio;
}


static struct lws *
ngx_rtmp_dub_sio_client(ngx_rtmp_dub_sio_t *sio)
{
    ngx_rtmp_dub_sts_url_t          *url;
    struct lws_client_connect_info   ci;

    url = sio->url;

    ngx_memzero(&ci, sizeof(ci));

    ci.context = ngx_rtmp_dub_lws;
    ci.vhost = url->vhost;
    ci.address = url->address;
    ci.port = url->port;
    ci.path = (char *) url->path.data;
    ci.host = (char *) url->host.data;
    ci.origin = (char *) url->host.data;
    ci.ssl_connection = url->ssl ? LCCSCF_USE_SSL : 0;
    ci.ietf_version_or_minus_one = -1;
    ci.local_protocol_name = ngx_rtmp_dub_sio_protocols[0].name;
    ci.opaque_user_data = sio;

    return lws_client_connect_via_info(&ci);
}


ngx_int_t
ngx_rtmp_dub_sio_event_buf(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b)
{
    if (dub_buf_init(b, LWS_PRE, 256, 0) != 0) {
        return NGX_ERROR;
    }

    if (dub_sio_frame(b, DUB_SIO_EVENT, (char *) sio->url->nsp.data,
                      sio->url->nsp.len)
        != 0)
    {
        dub_buf_free(b);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_rtmp_dub_sio_send(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b)
{
    if (sio->closing) {
        dub_buf_free(b);
        return NGX_ERROR;
    }

    return ngx_rtmp_dub_sio_enqueue(sio, b);
}


static ngx_int_t
ngx_rtmp_dub_sio_enqueue(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b)
{
    ngx_rtmp_dub_sio_out_t  *o;

    if (sio->wsi == NULL || b->failed) {
        dub_buf_free(b);
        return NGX_ERROR;
    }

    o = ngx_calloc(sizeof(ngx_rtmp_dub_sio_out_t), sio->log);
    if (o == NULL) {
        dub_buf_free(b);
        return NGX_ERROR;
    }

    o->buf = *b;
    ngx_memzero(b, sizeof(dub_buf_t));

    ngx_queue_insert_tail(&sio->out, &o->queue);

    lws_callback_on_writable(sio->wsi);
    ngx_rtmp_dub_uv_kick();

    return NGX_OK;
}


void
ngx_rtmp_dub_sio_close(ngx_rtmp_dub_sio_t *sio)
{
    dub_buf_t  b;

    sio->data = NULL;
    sio->ended = 1;

    if (sio->heartbeat.timer_set) {
        ngx_del_timer(&sio->heartbeat);
    }

    if (sio->wsi == NULL) {
        ngx_rtmp_dub_sio_free(sio);
        return;
    }

    if (!sio->closing) {
        sio->closing = 1;

        /* leave the namespace politely, then close */

        if (sio->joined && dub_buf_init(&b, LWS_PRE, 16, 0) == 0) {
            if (dub_sio_frame(&b, DUB_SIO_DISCONNECT,
                              (char *) sio->url->nsp.data, sio->url->nsp.len)
                == 0)
            {
                (void) ngx_rtmp_dub_sio_enqueue(sio, &b);

            } else {
                dub_buf_free(&b);
            }
        }

        lws_callback_on_writable(sio->wsi);
        ngx_rtmp_dub_uv_kick();
    }
}


void
ngx_rtmp_dub_sio_msg_free(ngx_rtmp_dub_sio_msg_t *msg)
{
    ngx_uint_t  i;

    dub_buf_free(&msg->text);

    for (i = 0; i < msg->nbin; i++) {
        dub_buf_free(&msg->bin[i]);
    }

    msg->nbin = 0;
}


static int
ngx_rtmp_dub_sio_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
    ngx_int_t            rc;
    ngx_rtmp_dub_sio_t  *sio;

    sio = lws_get_opaque_user_data(wsi);

    if (sio == NULL) {
        return 0;
    }

    rc = NGX_OK;

    switch (reason) {

    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        rc = ngx_rtmp_dub_sio_headers(sio, wsi, (u_char **) in,
                                      *(u_char **) in + len);
        break;

    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        ngx_rtmp_dub_sio_tls_verdict(sio, user, len);
        break;

    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, sio->log, 0,
                       "dub: websocket to \"%V\" open", &sio->url->url);
        break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
        rc = ngx_rtmp_dub_sio_receive(sio, wsi, in, len);
        break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
        rc = ngx_rtmp_dub_sio_write(sio, wsi);
        break;

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        ngx_rtmp_dub_sio_peer_close(sio, in, len);
        break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ngx_rtmp_dub_sio_failed(sio, in);
        break;

    case LWS_CALLBACK_CLIENT_CLOSED:
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_CLOSED,
                             "connection closed");
        break;

    case LWS_CALLBACK_WSI_DESTROY:
        ngx_rtmp_dub_sio_destroyed(sio, wsi);
        break;

    default:
        break;
    }

    return (rc == NGX_OK) ? 0 : NGX_RTMP_DUB_LWS_CLOSE;
}


/* keep OpenSSL's verdict on the server's certificate, for the log */

static void
ngx_rtmp_dub_sio_tls_verdict(ngx_rtmp_dub_sio_t *sio, void *store,
    size_t ok)
{
    if (ok || store == NULL) {
        return;
    }

    ngx_snprintf((u_char *) sio->tls_error, sizeof(sio->tls_error) - 1,
                 "%s%Z",
                 X509_verify_cert_error_string(
                     X509_STORE_CTX_get_error(store)));
}


static void
ngx_rtmp_dub_sio_peer_close(ngx_rtmp_dub_sio_t *sio, u_char *in, size_t len)
{
    if (len < 2) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, sio->log, 0,
                  "dub: \"%V\" closed the connection, code %d",
                  &sio->url->url, (in[0] << 8) | in[1]);
}


static void
ngx_rtmp_dub_sio_failed(ngx_rtmp_dub_sio_t *sio, const char *in)
{
    if (sio->tls_error[0]) {
        ngx_snprintf((u_char *) sio->reason, sizeof(sio->reason) - 1,
                     "TLS certificate verification failed: %s (%s)%Z",
                     sio->tls_error, in ? in : "no detail");
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_FAILED, sio->reason);
        return;
    }

    ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_FAILED,
                         in ? in : "connection failed");
}


/* the wsi is gone: the object goes too once its owner has let it go */

static void
ngx_rtmp_dub_sio_destroyed(ngx_rtmp_dub_sio_t *sio, struct lws *wsi)
{
    lws_set_opaque_user_data(wsi, NULL);
    sio->wsi = NULL;

    ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_CLOSED, "connection closed");

    if (sio->data == NULL && !sio->connecting) {
        ngx_rtmp_dub_sio_free(sio);
    }
}


static ngx_int_t
ngx_rtmp_dub_sio_headers(ngx_rtmp_dub_sio_t *sio, struct lws *wsi,
    u_char **p, u_char *end)
{
    u_char        name[256];
    ngx_uint_t    i;
    ngx_keyval_t *h;

    if (lws_add_http_header_by_name(wsi, (u_char *) "X-Stream-ID:",
                                    sio->stream_id.data,
                                    (int) sio->stream_id.len, p, end)
        || lws_add_http_header_by_name(wsi, (u_char *) "X-Worker-ID:",
                                       sio->worker_id.data,
                                       (int) sio->worker_id.len, p, end))
    {
        return NGX_ERROR;
    }

    if (sio->url->headers == NULL) {
        return NGX_OK;
    }

    h = sio->url->headers->elts;

    for (i = 0; i < sio->url->headers->nelts; i++) {
        if (h[i].key.len + 2 > sizeof(name)) {
            continue;
        }

        ngx_memcpy(name, h[i].key.data, h[i].key.len);
        name[h[i].key.len] = ':';
        name[h[i].key.len + 1] = '\0';

        if (lws_add_http_header_by_name(wsi, name, h[i].value.data,
                                        (int) h[i].value.len, p, end))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_sio_receive(ngx_rtmp_dub_sio_t *sio, struct lws *wsi,
    u_char *in, size_t len)
{
    if (sio->closing) {
        return NGX_OK;
    }

    if (ngx_rtmp_dub_sio_collect(sio, wsi, in, len) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) {
        return NGX_OK;
    }

    /* a whole message */

    if (sio->rx_discard) {
        ngx_rtmp_dub_sio_oversize(sio);
        return NGX_OK;
    }

    if (sio->rx_binary) {
        return ngx_rtmp_dub_sio_attachment(sio);
    }

    return ngx_rtmp_dub_sio_message(sio);
}


/*
 * Pieces of a message: kept up to the limit, or counted and dropped past
 * it (its first bytes kept, to tell which fragment it was about).
 */

static ngx_int_t
ngx_rtmp_dub_sio_collect(ngx_rtmp_dub_sio_t *sio, struct lws *wsi,
    u_char *in, size_t len)
{
    size_t  n;

    if (lws_is_first_fragment(wsi)) {
        dub_buf_free(&sio->rx);
        sio->rx_size = 0;
        sio->head_len = 0;
        sio->rx_discard = 0;
        sio->rx_binary = lws_frame_is_binary(wsi) ? 1 : 0;
    }

    if (sio->head_len < NGX_RTMP_DUB_SIO_HEAD) {
        n = ngx_min(len, NGX_RTMP_DUB_SIO_HEAD - sio->head_len);
        ngx_memcpy(sio->head + sio->head_len, in, n);
        sio->head_len += n;
    }

    sio->rx_size += len;

    if (sio->rx_discard) {
        return NGX_OK;
    }

    if (sio->rx_size > sio->url->max_message) {
        sio->rx_discard = 1;
        dub_buf_free(&sio->rx);
        return NGX_OK;
    }

    if (sio->rx.mem == NULL
        && dub_buf_init(&sio->rx, 0, ngx_max(len, 4096),
                        sio->url->max_message)
           != 0)
    {
        return NGX_ERROR;
    }

    if (dub_buf_append(&sio->rx, in, len) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_rtmp_dub_sio_oversize(ngx_rtmp_dub_sio_t *sio)
{
    if (ngx_rtmp_dub_sio_log_ok(sio, NGX_RTMP_DUB_LOG_OVERSIZE)) {
        ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                      "dub: \"%V\" sent a %uz byte message, over "
                      "\"dub_sts_max_message\" %uz: dropped",
                      &sio->url->url, sio->rx_size, sio->url->max_message);
    }

    /* an attachment: the event it belongs to goes too */

    ngx_rtmp_dub_sio_drop_pending(sio);

    if (sio->data) {
        sio->handler->oversize(sio->data, sio->head, sio->head_len,
                               sio->rx_size);
    }
}


static ngx_int_t
ngx_rtmp_dub_sio_message(ngx_rtmp_dub_sio_t *sio)
{
    ngx_int_t         rc;
    dub_sio_packet_t  pkt;

    if (sio->pending) {
        ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                      "dub: \"%V\" sent text where a binary attachment "
                      "was due", &sio->url->url);
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_BROKEN,
                             "broken binary event");
        return NGX_ERROR;
    }

    if (dub_sio_parse((char *) sio->rx.data, sio->rx.len, &pkt) != 0) {
        if (ngx_rtmp_dub_sio_log_ok(sio, NGX_RTMP_DUB_LOG_NOT_EIO)) {
            ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                          "dub: \"%V\" sent a message that is not an "
                          "Engine.IO packet: \"%*s\"", &sio->url->url,
                          ngx_min(sio->head_len, 64), sio->head);
        }

        dub_buf_free(&sio->rx);
        return NGX_OK;
    }

    rc = ngx_rtmp_dub_sio_packet(sio, &pkt);

    dub_buf_free(&sio->rx);

    return rc;
}


/* an Engine.IO packet */

static ngx_int_t
ngx_rtmp_dub_sio_packet(ngx_rtmp_dub_sio_t *sio, dub_sio_packet_t *pkt)
{
    switch (pkt->eio) {

    case DUB_EIO_OPEN:
        return ngx_rtmp_dub_sio_open(sio, pkt);

    case DUB_EIO_PING:
        if (sio->heartbeat.timer_set) {
            ngx_del_timer(&sio->heartbeat);
        }

        ngx_add_timer(&sio->heartbeat, sio->ping_window);

        return ngx_rtmp_dub_sio_queue(sio, "3", 1);

    case DUB_EIO_CLOSE:
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_CLOSED,
                             "server closed the session");
        return NGX_ERROR;

    case DUB_EIO_MESSAGE:
        return ngx_rtmp_dub_sio_socketio(sio, pkt);

    default:
        return NGX_OK;
    }
}


/* the Engine.IO session is open: its heartbeat, and join the namespace */

static ngx_int_t
ngx_rtmp_dub_sio_open(ngx_rtmp_dub_sio_t *sio, dub_sio_packet_t *pkt)
{
    char             err[DUB_JSON_ERRLEN];
    dub_buf_t        b;
    dub_json_open_t  o;

    if (dub_json_open(pkt->data, pkt->data_len, &o, err, sizeof(err)) != 0) {
        ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                      "dub: \"%V\" bad Engine.IO open packet: %s",
                      &sio->url->url, err);
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_BROKEN,
                             "bad open packet");
        return NGX_ERROR;
    }

    sio->open = 1;
    sio->ping_window = (ngx_msec_t) (o.ping_interval + o.ping_timeout);
    ngx_add_timer(&sio->heartbeat, sio->ping_window);

    /* with the auth payload if any */

    if (dub_buf_init(&b, LWS_PRE, 128, 0) != 0
        || dub_sio_frame(&b, DUB_SIO_CONNECT, (char *) sio->url->nsp.data,
                         sio->url->nsp.len)
           != 0
        || (sio->url->auth && sio->url->auth->nelts
            && ngx_rtmp_dub_sio_auth(sio, &b) != NGX_OK))
    {
        dub_buf_free(&b);
        return NGX_ERROR;
    }

    return ngx_rtmp_dub_sio_send(sio, &b);
}


/* a Socket.IO packet, inside an Engine.IO message */

static ngx_int_t
ngx_rtmp_dub_sio_socketio(ngx_rtmp_dub_sio_t *sio, dub_sio_packet_t *pkt)
{
    char  msg[128];

    if (!dub_sio_nsp_is(pkt, (char *) sio->url->nsp.data, sio->url->nsp.len))
    {
        ngx_log_debug2(NGX_LOG_DEBUG_CORE, sio->log, 0,
                       "dub: packet for namespace \"%*s\" ignored",
                       pkt->nsp_len, pkt->nsp);
        return NGX_OK;
    }

    switch (pkt->sio) {

    case DUB_SIO_CONNECT:
        if (!sio->joined) {
            sio->joined = 1;

            if (sio->data) {
                sio->handler->joined(sio->data);
            }
        }

        return NGX_OK;

    case DUB_SIO_CONNECT_ERROR:
        dub_json_connect_error(pkt->data, pkt->data_len, msg, sizeof(msg));
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_REFUSED, msg);
        return NGX_ERROR;

    case DUB_SIO_DISCONNECT:
        ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_CLOSED,
                             "server left the namespace");
        return NGX_ERROR;

    case DUB_SIO_EVENT:
    case DUB_SIO_BINARY_EVENT:
        return ngx_rtmp_dub_sio_event(sio, pkt);

    default:
        /* acks: the module asks for none */
        return NGX_OK;
    }
}


/* an event: to the owner now, or once its attachments are in */

static ngx_int_t
ngx_rtmp_dub_sio_event(ngx_rtmp_dub_sio_t *sio, dub_sio_packet_t *pkt)
{
    ngx_rtmp_dub_sio_msg_t  *m;

    m = ngx_calloc(sizeof(ngx_rtmp_dub_sio_msg_t), sio->log);
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->text = sio->rx;
    m->json = pkt->data;
    m->json_len = pkt->data_len;
    ngx_memzero(&sio->rx, sizeof(dub_buf_t));

    if (pkt->sio == DUB_SIO_BINARY_EVENT && pkt->attachments) {
        sio->pending = m;
        sio->pending_need = pkt->attachments;
        return NGX_OK;
    }

    ngx_rtmp_dub_sio_deliver(sio, m);

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_sio_attachment(ngx_rtmp_dub_sio_t *sio)
{
    ngx_rtmp_dub_sio_msg_t  *m;

    m = sio->pending;

    if (m == NULL) {
        if (ngx_rtmp_dub_sio_log_ok(sio, NGX_RTMP_DUB_LOG_BINARY)) {
            ngx_log_error(NGX_LOG_INFO, sio->log, 0,
                          "dub: \"%V\" sent an unexpected binary message",
                          &sio->url->url);
        }

        dub_buf_free(&sio->rx);
        return NGX_OK;
    }

    m->bin[m->nbin++] = sio->rx;
    ngx_memzero(&sio->rx, sizeof(dub_buf_t));

    if (m->nbin < sio->pending_need) {
        return NGX_OK;
    }

    sio->pending = NULL;

    ngx_rtmp_dub_sio_deliver(sio, m);

    return NGX_OK;
}


/* a whole event to the owner, if it is still there; "m" is freed */

static void
ngx_rtmp_dub_sio_deliver(ngx_rtmp_dub_sio_t *sio, ngx_rtmp_dub_sio_msg_t *m)
{
    if (sio->data) {
        sio->handler->event(sio->data, m);

    } else {
        ngx_rtmp_dub_sio_msg_free(m);
    }

    ngx_free(m);
}


static void
ngx_rtmp_dub_sio_drop_pending(ngx_rtmp_dub_sio_t *sio)
{
    if (sio->pending == NULL) {
        return;
    }

    ngx_rtmp_dub_sio_msg_free(sio->pending);
    ngx_free(sio->pending);
    sio->pending = NULL;
}


/* one WebSocket fragment per writeable callback */

static ngx_int_t
ngx_rtmp_dub_sio_write(ngx_rtmp_dub_sio_t *sio, struct lws *wsi)
{
    int                      flags, n;
    size_t                   len, left;
    ngx_queue_t             *q;
    ngx_rtmp_dub_sio_out_t  *o;

    if (ngx_queue_empty(&sio->out)) {
        if (sio->closing) {
            /* all sent: close */
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    q = ngx_queue_head(&sio->out);
    o = ngx_queue_data(q, ngx_rtmp_dub_sio_out_t, queue);

    left = o->buf.len - sio->out_sent;
    len = ngx_min(left, NGX_RTMP_DUB_SIO_CHUNK);

    flags = lws_write_ws_flags(o->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT,
                               sio->out_sent == 0, len == left);

    /*
     * lws_write() needs LWS_PRE writable bytes before the data and masks
     * the data in place: the bytes before a later piece are already sent.
     */

    n = lws_write(wsi, o->buf.data + sio->out_sent, len,
                  (enum lws_write_protocol) flags);

    if (n < (int) len) {
        ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                      "dub: write to \"%V\" failed", &sio->url->url);
        return NGX_ERROR;
    }

    sio->out_sent += len;

    if (sio->out_sent == o->buf.len) {
        ngx_queue_remove(q);
        dub_buf_free(&o->buf);
        ngx_free(o);
        sio->out_sent = 0;
    }

    if (!ngx_queue_empty(&sio->out) || sio->closing) {
        lws_callback_on_writable(wsi);
    }

    return NGX_OK;
}


/* a short engine.io packet, queued whole */

static ngx_int_t
ngx_rtmp_dub_sio_queue(ngx_rtmp_dub_sio_t *sio, const char *text, size_t len)
{
    dub_buf_t  b;

    if (dub_buf_init(&b, LWS_PRE, len, 0) != 0
        || dub_buf_append(&b, text, len) != 0)
    {
        dub_buf_free(&b);
        return NGX_ERROR;
    }

    if (sio->wsi == NULL) {
        dub_buf_free(&b);
        return NGX_ERROR;
    }

    /* from inside a callback: the loop is running, no kick needed */

    return ngx_rtmp_dub_sio_send(sio, &b);
}


static ngx_int_t
ngx_rtmp_dub_sio_auth(ngx_rtmp_dub_sio_t *sio, dub_buf_t *b)
{
    ngx_int_t      rc;
    ngx_uint_t     i, n;
    const char   **keys, **values;
    ngx_keyval_t  *kv;

    n = sio->url->auth->nelts;
    kv = sio->url->auth->elts;

    keys = ngx_alloc(2 * n * sizeof(char *), sio->log);
    if (keys == NULL) {
        return NGX_ERROR;
    }

    values = keys + n;

    for (i = 0; i < n; i++) {
        keys[i] = (char *) kv[i].key.data;
        values[i] = (char *) kv[i].value.data;
    }

    rc = dub_json_object(b, keys, values, n) == 0 ? NGX_OK : NGX_ERROR;

    ngx_free(keys);

    return rc;
}


static void
ngx_rtmp_dub_sio_end(ngx_rtmp_dub_sio_t *sio, ngx_rtmp_dub_sio_end_e why,
    const char *reason)
{
    void  *data;

    if (sio->ended) {
        return;
    }

    sio->ended = 1;
    sio->closing = 1;

    if (reason != sio->reason) {
        ngx_cpystrn((u_char *) sio->reason, (u_char *) reason,
                    sizeof(sio->reason));
    }

    if (sio->heartbeat.timer_set) {
        ngx_del_timer(&sio->heartbeat);
    }

    /* no callback after this one; the wsi's end frees the object */

    data = sio->data;
    sio->data = NULL;

    if (data) {
        sio->handler->closed(data, why, reason);
    }

    if (sio->wsi) {
        /* lws closes it and destroys the wsi soon */
        lws_set_timeout(sio->wsi, PENDING_TIMEOUT_CLOSE_SEND,
                        LWS_TO_KILL_ASYNC);
        ngx_rtmp_dub_uv_kick();
    }
}


static void
ngx_rtmp_dub_sio_heartbeat(ngx_event_t *ev)
{
    ngx_rtmp_dub_sio_t  *sio;

    sio = ev->data;

    ngx_log_error(NGX_LOG_ERR, sio->log, 0,
                  "dub: no heartbeat from \"%V\" for %Mms, closing",
                  &sio->url->url, sio->ping_window);

    ngx_rtmp_dub_sio_end(sio, NGX_RTMP_DUB_SIO_DEAD, "heartbeat timeout");
}


/* the owner rate-limits what the STS can make us log */

static ngx_uint_t
ngx_rtmp_dub_sio_log_ok(ngx_rtmp_dub_sio_t *sio, ngx_rtmp_dub_log_kind_e kind)
{
    if (sio->data == NULL) {
        return 1;
    }

    return sio->handler->log_ok(sio->data, kind);
}


static void
ngx_rtmp_dub_sio_free(ngx_rtmp_dub_sio_t *sio)
{
    ngx_queue_t             *q;
    ngx_rtmp_dub_sio_out_t  *o;

    if (sio->heartbeat.timer_set) {
        ngx_del_timer(&sio->heartbeat);
    }

    while (!ngx_queue_empty(&sio->out)) {
        q = ngx_queue_head(&sio->out);
        o = ngx_queue_data(q, ngx_rtmp_dub_sio_out_t, queue);
        ngx_queue_remove(q);
        dub_buf_free(&o->buf);
        ngx_free(o);
    }

    ngx_rtmp_dub_sio_drop_pending(sio);

    dub_buf_free(&sio->rx);

    ngx_free(sio);
}


static void
ngx_rtmp_dub_sio_lws_log(int level, const char *line)
{
    size_t      len;
    ngx_uint_t  nlevel;

    nlevel = (level == LLL_ERR) ? NGX_LOG_ERR : NGX_LOG_WARN;

    len = ngx_strlen(line);

    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }

    ngx_log_error(nlevel, ngx_cycle->log, 0, "dub: libwebsockets: %*s", len,
                  line);
}
