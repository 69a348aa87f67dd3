
/*
 * Copyright (C) nginx-dub developers
 *
 * Module glue: directives, configuration checks and the hooks into
 * nginx-rtmp (publish, close_stream, audio, video, disconnect).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_module.h"
#include "ngx_rtmp_live_module.h"


#define NGX_RTMP_DUB_SEGMENT_MIN    1000
#define NGX_RTMP_DUB_SEGMENT_MAX    60000
#define NGX_RTMP_DUB_DELAY_MAX      600000
#define NGX_RTMP_DUB_DELAY_EXTRA    8000
#define NGX_RTMP_DUB_BUFFER_MIN     (1024 * 1024)


static ngx_int_t ngx_rtmp_dub_postconfiguration(ngx_conf_t *cf);
static void *ngx_rtmp_dub_create_app_conf(ngx_conf_t *cf);
static char *ngx_rtmp_dub_merge_app_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_rtmp_dub_output_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_rtmp_dub_resolve(ngx_conf_t *cf,
    ngx_rtmp_core_srv_conf_t *cscf);
static void ngx_rtmp_dub_exit_process(ngx_cycle_t *cycle);

static ngx_int_t ngx_rtmp_dub_publish(ngx_rtmp_session_t *s,
    ngx_rtmp_publish_t *v);
static ngx_int_t ngx_rtmp_dub_close_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_close_stream_t *v);
static ngx_int_t ngx_rtmp_dub_av(ngx_rtmp_session_t *s,
    ngx_rtmp_header_t *h, ngx_chain_t *in);
static ngx_int_t ngx_rtmp_dub_disconnect(ngx_rtmp_session_t *s,
    ngx_rtmp_header_t *h, ngx_chain_t *in);


static ngx_rtmp_publish_pt          next_publish;
static ngx_rtmp_close_stream_pt     next_close_stream;


static ngx_command_t  ngx_rtmp_dub_commands[] = {

    { ngx_string("dub"),
      NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, enable),
      NULL },

    { ngx_string("dub_output_app"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_rtmp_dub_output_app,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_segment"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, segment),
      NULL },

    { ngx_string("dub_delay"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, delay),
      NULL },

    { ngx_string("dub_max_buffer"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, max_buffer),
      NULL },

      ngx_null_command
};


static ngx_rtmp_module_t  ngx_rtmp_dub_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_rtmp_dub_postconfiguration,         /* postconfiguration */
    NULL,                                   /* create main configuration */
    NULL,                                   /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    ngx_rtmp_dub_create_app_conf,           /* create app configuration */
    ngx_rtmp_dub_merge_app_conf             /* merge app configuration */
};


ngx_module_t  ngx_rtmp_dub_module = {
    NGX_MODULE_V1,
    &ngx_rtmp_dub_module_ctx,               /* module context */
    ngx_rtmp_dub_commands,                  /* module directives */
    NGX_RTMP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_rtmp_dub_exit_process,              /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_rtmp_dub_create_app_conf(ngx_conf_t *cf)
{
    ngx_rtmp_dub_app_conf_t  *dacf;

    dacf = ngx_pcalloc(cf->pool, sizeof(ngx_rtmp_dub_app_conf_t));
    if (dacf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     dacf->output_app = { 0, NULL };
     *     dacf->output_file = NULL;
     *     dacf->output_cacf = NULL;
     *     dacf->cacf = NULL;
     */

    dacf->enable = NGX_CONF_UNSET;
    dacf->segment = NGX_CONF_UNSET_MSEC;
    dacf->delay = NGX_CONF_UNSET_MSEC;
    dacf->max_buffer = NGX_CONF_UNSET_SIZE;

    return dacf;
}


static char *
ngx_rtmp_dub_merge_app_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rtmp_dub_app_conf_t  *prev = parent;
    ngx_rtmp_dub_app_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->output_app.data == NULL) {
        conf->output_app = prev->output_app;
        conf->output_file = prev->output_file;
        conf->output_line = prev->output_line;
    }

    ngx_conf_merge_msec_value(conf->segment, prev->segment, 6000);
    ngx_conf_merge_msec_value(conf->delay, prev->delay,
                              conf->segment + NGX_RTMP_DUB_DELAY_EXTRA);
    ngx_conf_merge_size_value(conf->max_buffer, prev->max_buffer,
                              64 * 1024 * 1024);

    if (conf->segment < NGX_RTMP_DUB_SEGMENT_MIN
        || conf->segment > NGX_RTMP_DUB_SEGMENT_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_segment\" must be between 1s and 60s, "
                           "not %Mms", conf->segment);
        return NGX_CONF_ERROR;
    }

    if (conf->delay <= conf->segment) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_delay\" (%Mms) must be greater than "
                           "\"dub_segment\" (%Mms): a segment is complete "
                           "only after it has lasted that long",
                           conf->delay, conf->segment);
        return NGX_CONF_ERROR;
    }

    if (conf->delay > NGX_RTMP_DUB_DELAY_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_delay\" must be at most 600s, not %Mms",
                           conf->delay);
        return NGX_CONF_ERROR;
    }

    if (conf->max_buffer < NGX_RTMP_DUB_BUFFER_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_max_buffer\" must be at least 1m");
        return NGX_CONF_ERROR;
    }

    if (conf->enable && conf->output_app.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_output_app\" is required when "
                           "\"dub\" is on");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_rtmp_dub_output_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    ngx_str_t  *value;
    ngx_uint_t  i;

    if (dacf->output_app.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs an application name";
    }

    for (i = 0; i < value[1].len; i++) {
        if (value[1].data[i] == '/' || value[1].data[i] <= ' ') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid application name \"%V\" in "
                               "\"dub_output_app\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    dacf->output_app = value[1];
    dacf->output_file = cf->conf_file->file.name.data;
    dacf->output_line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_rtmp_dub_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                   i;
    ngx_rtmp_handler_pt         *h;
    ngx_rtmp_core_srv_conf_t   **cscfp;
    ngx_rtmp_core_main_conf_t   *cmcf;

    cmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_rtmp_core_module);

    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        if (ngx_rtmp_dub_resolve(cf, cscfp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    h = ngx_array_push(&cmcf->events[NGX_RTMP_MSG_AUDIO]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rtmp_dub_av;

    h = ngx_array_push(&cmcf->events[NGX_RTMP_MSG_VIDEO]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rtmp_dub_av;

    h = ngx_array_push(&cmcf->events[NGX_RTMP_DISCONNECT]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_rtmp_dub_disconnect;

    next_publish = ngx_rtmp_publish;
    ngx_rtmp_publish = ngx_rtmp_dub_publish;

    next_close_stream = ngx_rtmp_close_stream;
    ngx_rtmp_close_stream = ngx_rtmp_dub_close_stream;

    return NGX_OK;
}


/*
 * Each "dub on" application must name another application of the same
 * server, with "live on", as its output.
 */

static ngx_int_t
ngx_rtmp_dub_resolve(ngx_conf_t *cf, ngx_rtmp_core_srv_conf_t *cscf)
{
    ngx_uint_t                   i, j;
    ngx_rtmp_live_app_conf_t    *lacf;
    ngx_rtmp_dub_app_conf_t     *dacf, *odacf;
    ngx_rtmp_core_app_conf_t   **cacfp, *out;

    cacfp = cscf->applications.elts;

    for (i = 0; i < cscf->applications.nelts; i++) {
        dacf = cacfp[i]->app_conf[ngx_rtmp_dub_module.ctx_index];
        dacf->cacf = cacfp[i];

        if (!dacf->enable) {
            continue;
        }

        out = NULL;

        for (j = 0; j < cscf->applications.nelts; j++) {
            if (cacfp[j]->name.len == dacf->output_app.len
                && ngx_strncmp(cacfp[j]->name.data, dacf->output_app.data,
                               dacf->output_app.len) == 0)
            {
                out = cacfp[j];
                break;
            }
        }

        if (out == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"dub_output_app\" names \"%V\", which is not an "
                          "application of the same server in %s:%ui",
                          &dacf->output_app, dacf->output_file,
                          dacf->output_line);
            return NGX_ERROR;
        }

        if (out == cacfp[i]) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"dub_output_app\" must name another application "
                          "than \"%V\" itself in %s:%ui",
                          &cacfp[i]->name, dacf->output_file,
                          dacf->output_line);
            return NGX_ERROR;
        }

        odacf = out->app_conf[ngx_rtmp_dub_module.ctx_index];

        if (odacf->enable) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"dub_output_app\" names \"%V\", which has "
                          "\"dub on\" itself in %s:%ui",
                          &dacf->output_app, dacf->output_file,
                          dacf->output_line);
            return NGX_ERROR;
        }

        lacf = out->app_conf[ngx_rtmp_live_module.ctx_index];

        if (lacf == NULL || !lacf->live) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"dub_output_app\" names \"%V\", which needs "
                          "\"live on\" in %s:%ui",
                          &dacf->output_app, dacf->output_file,
                          dacf->output_line);
            return NGX_ERROR;
        }

        dacf->output_cacf = out;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_publish(ngx_rtmp_session_t *s, ngx_rtmp_publish_t *v)
{
    ngx_int_t                 rc;
    ngx_rtmp_dub_ctx_t       *ctx;
    ngx_rtmp_live_ctx_t      *lctx;
    ngx_rtmp_dub_app_conf_t  *dacf;

    rc = next_publish(s, v);

    if (rc != NGX_OK) {
        return rc;
    }

    dacf = ngx_rtmp_get_module_app_conf(s, ngx_rtmp_dub_module);

    if (dacf == NULL || !dacf->enable || s->auto_pushed || s->relay) {
        return rc;
    }

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx && (ctx->output || ctx->bridge)) {
        return rc;
    }

    /* "already publishing" answers NGX_OK too */

    lctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_live_module);

    if (lctx == NULL || !lctx->publishing) {
        return rc;
    }

    (void) ngx_rtmp_dub_bridge_attach(s, dacf, v->name);

    return rc;
}


static ngx_int_t
ngx_rtmp_dub_close_stream(ngx_rtmp_session_t *s, ngx_rtmp_close_stream_t *v)
{
    ngx_rtmp_dub_bridge_detach(s);

    return next_close_stream(s, v);
}


static ngx_int_t
ngx_rtmp_dub_disconnect(ngx_rtmp_session_t *s, ngx_rtmp_header_t *h,
    ngx_chain_t *in)
{
    /* close_stream may not have run; detaching twice is harmless */

    ngx_rtmp_dub_bridge_detach(s);

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_av(ngx_rtmp_session_t *s, ngx_rtmp_header_t *h,
    ngx_chain_t *in)
{
    ngx_rtmp_dub_ctx_t  *ctx;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_rtmp_dub_module);

    if (ctx == NULL || ctx->output || ctx->bridge == NULL) {
        return NGX_OK;
    }

    ngx_rtmp_dub_bridge_tag(ctx->bridge, h, in);

    return NGX_OK;
}


static void
ngx_rtmp_dub_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t  n;

    n = ngx_rtmp_dub_bridge_count();

    if (n) {
        ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                      "dub: %ui stream(s) still buffered at exit", n);
    }

    ngx_rtmp_dub_bridge_free_all();
}
