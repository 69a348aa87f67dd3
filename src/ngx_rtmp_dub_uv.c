
/*
 * Copyright (C) nginx-dub developers
 *
 * A libuv loop nested in nginx's event loop, for libwebsockets.  libuv's
 * backend is an epoll descriptor: nginx watches it (level-triggered), and
 * whenever it is readable, libuv's next timer is due or some nginx code
 * called into libwebsockets, the loop runs once without waiting.  No
 * thread, no blocking call, no polling timer.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp_dub_uv.h"


static ngx_int_t ngx_rtmp_dub_uv_attach(ngx_rtmp_dub_uv_t *uv);
static void ngx_rtmp_dub_uv_handler(ngx_event_t *ev);
static void ngx_rtmp_dub_uv_run(void);


static ngx_rtmp_dub_uv_t  ngx_rtmp_dub_uv;


uv_loop_t *
ngx_rtmp_dub_uv_init(ngx_cycle_t *cycle)
{
    int                 rc;
    ngx_rtmp_dub_uv_t  *uv;

    uv = &ngx_rtmp_dub_uv;

    ngx_memzero(uv, sizeof(ngx_rtmp_dub_uv_t));

    rc = uv_loop_init(&uv->loop);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "dub: uv_loop_init() failed: %s", uv_strerror(rc));
        return NULL;
    }

    uv->log = cycle->log;

    uv->timer.handler = ngx_rtmp_dub_uv_handler;
    uv->timer.log = cycle->log;
    uv->timer.cancelable = 1;

    uv->posted.handler = ngx_rtmp_dub_uv_handler;
    uv->posted.log = cycle->log;

    uv->ready = 1;

    return &uv->loop;
}


/*
 * nginx watches libuv's descriptor from the first use on: at process
 * start nginx's own events may not be set up yet (in a static build the
 * RTMP modules start before the event modules).
 */

static ngx_int_t
ngx_rtmp_dub_uv_attach(ngx_rtmp_dub_uv_t *uv)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(uv_backend_fd(&uv->loop), uv->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->read->handler = ngx_rtmp_dub_uv_handler;
    c->read->log = uv->log;
    c->write->log = uv->log;
    c->log = uv->log;

    /* level-triggered: libuv does not read everything each time */

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_free_connection(c);
        return NGX_ERROR;
    }

    uv->conn = c;

    return NGX_OK;
}


/*
 * After a call into libwebsockets from nginx code: libuv applies watcher
 * changes only inside uv_run(), so run it soon.  Never from inside a
 * libwebsockets callback, where uv_run() is already on the stack: a
 * posted event waits for it to return.
 */

void
ngx_rtmp_dub_uv_kick(void)
{
    ngx_rtmp_dub_uv_t  *uv;

    uv = &ngx_rtmp_dub_uv;

    if (!uv->ready) {
        return;
    }

    if (uv->conn == NULL && ngx_rtmp_dub_uv_attach(uv) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, uv->log, 0,
                      "dub: cannot watch the libuv loop");
        return;
    }

    if (!uv->posted.posted) {
        ngx_post_event(&uv->posted, &ngx_posted_events);
    }
}


/*
 * Runs the loop until the closing handles of a destroyed libwebsockets
 * context are gone, then closes it.
 */

void
ngx_rtmp_dub_uv_done(void)
{
    int                 i;
    ngx_rtmp_dub_uv_t  *uv;

    uv = &ngx_rtmp_dub_uv;

    if (!uv->ready) {
        return;
    }

    uv->ready = 0;

    if (uv->timer.timer_set) {
        ngx_del_timer(&uv->timer);
    }

    if (uv->posted.posted) {
        ngx_delete_posted_event(&uv->posted);
    }

    /* what lws closed while destroying its context */

    for (i = 0; i < 1000 && uv_loop_alive(&uv->loop); i++) {
        (void) uv_run(&uv->loop, UV_RUN_NOWAIT);
    }

    if (uv->conn) {
        ngx_del_event(uv->conn->read, NGX_READ_EVENT, 0);

        /* uv_loop_close() closes the descriptor itself */
        uv->conn->fd = (ngx_socket_t) -1;
        ngx_free_connection(uv->conn);
        uv->conn = NULL;
    }

    if (uv_loop_close(&uv->loop) != 0) {
        ngx_log_error(NGX_LOG_INFO, uv->log, 0,
                      "dub: libuv loop still busy at exit");
    }
}


/* runs the loop when the caller's own callbacks are over */

void
ngx_rtmp_dub_uv_spin(ngx_uint_t n)
{
    ngx_rtmp_dub_uv_t  *uv;

    uv = &ngx_rtmp_dub_uv;

    while (uv->ready && n--) {
        (void) uv_run(&uv->loop, UV_RUN_NOWAIT);
    }
}


static void
ngx_rtmp_dub_uv_handler(ngx_event_t *ev)
{
    ngx_rtmp_dub_uv_run();
}


static void
ngx_rtmp_dub_uv_run(void)
{
    int                 t;
    ngx_rtmp_dub_uv_t  *uv;

    uv = &ngx_rtmp_dub_uv;

    if (!uv->ready || uv->running) {
        return;
    }

    uv->running = 1;
    (void) uv_run(&uv->loop, UV_RUN_NOWAIT);
    uv->running = 0;

    t = uv_backend_timeout(&uv->loop);

    if (t == 0) {
        /* more to do now: after nginx's own events of this iteration */

        if (uv->timer.timer_set) {
            ngx_del_timer(&uv->timer);
        }

        if (!uv->posted.posted) {
            ngx_post_event(&uv->posted, &ngx_posted_next_events);
        }

        return;
    }

    if (t > 0) {
        ngx_add_timer(&uv->timer, (ngx_msec_t) t);
        return;
    }

    if (uv->timer.timer_set) {
        ngx_del_timer(&uv->timer);
    }
}
