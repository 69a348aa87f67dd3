
/*
 * Copyright (C) nginx-dub developers
 *
 * The libuv loop nested in nginx's: libwebsockets runs on it, nginx
 * watches its descriptor and runs it without waiting.
 */


#ifndef _NGX_RTMP_DUB_UV_H_INCLUDED_
#define _NGX_RTMP_DUB_UV_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <uv.h>


/* the libuv loop */

typedef struct {
    uv_loop_t                   loop;
    ngx_connection_t           *conn;       /* on uv_backend_fd() */
    ngx_event_t                 timer;
    ngx_event_t                 posted;
    ngx_log_t                  *log;
    unsigned                    ready:1;
    unsigned                    running:1;
} ngx_rtmp_dub_uv_t;


uv_loop_t *ngx_rtmp_dub_uv_init(ngx_cycle_t *cycle);
void ngx_rtmp_dub_uv_kick(void);
void ngx_rtmp_dub_uv_spin(ngx_uint_t n);
void ngx_rtmp_dub_uv_done(void);


#endif /* _NGX_RTMP_DUB_UV_H_INCLUDED_ */
