
/*
 * Copyright (C) nginx-dub developers
 *
 * Module glue: directives, configuration checks and the hooks into
 * nginx-rtmp (publish, close_stream, audio, video, disconnect).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ngx_rtmp_dub_bridge.h"
#include "ngx_rtmp_dub_task.h"
#include "ngx_rtmp_live_module.h"


#define NGX_RTMP_DUB_SEGMENT_MIN    1000
#define NGX_RTMP_DUB_SEGMENT_MAX    60000
#define NGX_RTMP_DUB_DELAY_MAX      600000
#define NGX_RTMP_DUB_BUFFER_MIN     (1024 * 1024)
#define NGX_RTMP_DUB_LANG_MAX       (NGX_RTMP_DUB_LANG_LEN - 1)
#define NGX_RTMP_DUB_MESSAGE_MIN    (64 * 1024)
#define NGX_RTMP_DUB_GAIN_UNSET     -1.0

/*
 * "dub_sts_header": the handshake goes out in one buffer of 4 KB (that of
 * libwebsockets), with the request line, its own headers, X-Stream-ID and
 * X-Worker-ID; the configured ones get at most this much of it
 */
#define NGX_RTMP_DUB_HEADER_NAME_MAX    128
#define NGX_RTMP_DUB_HEADERS_MAX        2048


/* the schemes of "dub_sts_url" */

typedef struct {
    ngx_str_t                   prefix;
    ngx_uint_t                  ssl;
} ngx_rtmp_dub_scheme_t;


static ngx_int_t ngx_rtmp_dub_postconfiguration(ngx_conf_t *cf);
static void *ngx_rtmp_dub_create_main_conf(ngx_conf_t *cf);
static void *ngx_rtmp_dub_create_app_conf(ngx_conf_t *cf);
static char *ngx_rtmp_dub_merge_app_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_rtmp_dub_check_app(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *conf);
static char *ngx_rtmp_dub_merge_sts(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *prev, ngx_rtmp_dub_app_conf_t *conf);
static ngx_int_t ngx_rtmp_dub_merge_reconnect(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *prev, ngx_rtmp_dub_app_conf_t *conf);
static ngx_int_t ngx_rtmp_dub_check_sts(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *conf);
static ngx_thread_pool_t *ngx_rtmp_dub_thread_pool(ngx_conf_t *cf,
    ngx_str_t *name);
static ngx_int_t ngx_rtmp_dub_merge_langs(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *conf);
static ngx_rtmp_dub_sts_url_t *ngx_rtmp_dub_app_url(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *conf, ngx_rtmp_dub_sts_url_t *url);
static ngx_int_t ngx_rtmp_dub_ca_file(ngx_conf_t *cf,
    ngx_rtmp_dub_sts_url_t *u);
static ngx_int_t ngx_rtmp_dub_check_headers(ngx_conf_t *cf,
    ngx_array_t *headers);
static ngx_int_t ngx_rtmp_dub_check_ca(ngx_conf_t *cf, ngx_str_t *file);

static char *ngx_rtmp_dub_language(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_rtmp_dub_language_tag(ngx_str_t *lang);
static ngx_int_t ngx_rtmp_dub_language_option(ngx_conf_t *cf,
    ngx_rtmp_dub_lang_conf_t *l, ngx_str_t *value);
static ngx_int_t ngx_rtmp_dub_app_name(ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_rtmp_dub_output_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rtmp_dub_error_log(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rtmp_dub_sts_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_rtmp_dub_sts_url_t *ngx_rtmp_dub_url_parse(ngx_conf_t *cf,
    ngx_str_t *value);
static ngx_int_t ngx_rtmp_dub_url_append(ngx_conf_t *cf,
    ngx_rtmp_dub_sts_url_t **list, ngx_rtmp_dub_sts_url_t *u);
static ngx_uint_t ngx_rtmp_dub_url_same(ngx_rtmp_dub_sts_url_t *a,
    ngx_rtmp_dub_sts_url_t *b);
static ngx_rtmp_dub_scheme_t *ngx_rtmp_dub_url_scheme(ngx_str_t *value);
static ngx_int_t ngx_rtmp_dub_url_resolve(ngx_conf_t *cf, ngx_str_t *value,
    ngx_rtmp_dub_scheme_t *scheme, ngx_url_t *url);
static ngx_int_t ngx_rtmp_dub_url_nsp(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *path, ngx_str_t *nsp);
static ngx_rtmp_dub_sts_url_t *ngx_rtmp_dub_url_create(ngx_conf_t *cf,
    ngx_str_t *value, ngx_uint_t ssl, ngx_url_t *url, ngx_str_t *nsp);
static void ngx_rtmp_dub_url_address(char *buf, ngx_addr_t *addr);
static char *ngx_rtmp_dub_keyval(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_rtmp_dub_keyval_name(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *name, ngx_uint_t header);
static ngx_int_t ngx_rtmp_dub_keyval_value(ngx_conf_t *cf,
    ngx_command_t *cmd, ngx_str_t *value, ngx_uint_t header);
static char *ngx_rtmp_dub_reconnect(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rtmp_dub_bitrate(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_rtmp_dub_coder(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_rtmp_dub_merge_original(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *prev, ngx_rtmp_dub_app_conf_t *conf);
static char *ngx_rtmp_dub_original_volume(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_rtmp_dub_add_handler(ngx_rtmp_core_main_conf_t *cmcf,
    ngx_uint_t event, ngx_rtmp_handler_pt handler);
static ngx_int_t ngx_rtmp_dub_resolve(ngx_conf_t *cf,
    ngx_rtmp_core_srv_conf_t *cscf);
static ngx_rtmp_core_app_conf_t *ngx_rtmp_dub_find_app(
    ngx_rtmp_core_srv_conf_t *cscf, ngx_str_t *name);
static ngx_int_t ngx_rtmp_dub_check_output(ngx_conf_t *cf,
    ngx_rtmp_dub_app_conf_t *dacf, ngx_rtmp_dub_lang_conf_t *l,
    ngx_rtmp_core_app_conf_t *out);
static ngx_int_t ngx_rtmp_dub_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_rtmp_dub_init_process(ngx_cycle_t *cycle);
static ngx_int_t ngx_rtmp_dub_add_urls(ngx_array_t *urls,
    ngx_rtmp_dub_app_conf_t *dacf);
static ngx_int_t ngx_rtmp_dub_add_url(ngx_array_t *urls,
    ngx_rtmp_dub_sts_url_t *url);
static void ngx_rtmp_dub_exit_process(ngx_cycle_t *cycle);

static ngx_int_t ngx_rtmp_dub_publish(ngx_rtmp_session_t *s,
    ngx_rtmp_publish_t *v);
static ngx_int_t ngx_rtmp_dub_close_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_close_stream_t *v);
static ngx_int_t ngx_rtmp_dub_av(ngx_rtmp_session_t *s,
    ngx_rtmp_header_t *h, ngx_chain_t *in);
static ngx_int_t ngx_rtmp_dub_disconnect(ngx_rtmp_session_t *s,
    ngx_rtmp_header_t *h, ngx_chain_t *in);


/*
 * nginx-rtmp's core module (the "rtmp" block) and nginx's thread pools:
 * no header declares them
 */
extern ngx_module_t  ngx_rtmp_module;
extern ngx_module_t  ngx_thread_pool_module;


static ngx_rtmp_publish_pt          next_publish;
static ngx_rtmp_close_stream_pt     next_close_stream;


static ngx_rtmp_dub_scheme_t  ngx_rtmp_dub_schemes[] = {
    { ngx_string("ws://"), 0 },
    { ngx_string("wss://"), 1 },
    { ngx_string("http://"), 0 },
    { ngx_string("https://"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_rtmp_dub_commands[] = {

    { ngx_string("dub_metrics_zone"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_rtmp_dub_metrics_zone,
      NGX_RTMP_MAIN_CONF_OFFSET,
      0,
      NULL },

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

    { ngx_string("dub_language"),
      NGX_RTMP_APP_CONF|NGX_CONF_2MORE,
      ngx_rtmp_dub_language,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_segment"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, segment),
      NULL },

    { ngx_string("dub_segment_stagger"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, stagger),
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

    { ngx_string("dub_error_log"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_1MORE,
      ngx_rtmp_dub_error_log,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_sts_url"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_rtmp_dub_sts_url,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_sts_header"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE2,
      ngx_rtmp_dub_keyval,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts_headers),
      NULL },

    { ngx_string("dub_sts_auth"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE2,
      ngx_rtmp_dub_keyval,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts_auth),
      NULL },

    { ngx_string("dub_sts_timeout"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.timeout),
      NULL },

    { ngx_string("dub_sts_init_timeout"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.init_timeout),
      NULL },

    { ngx_string("dub_sts_max_inflight"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.max_inflight),
      NULL },

    { ngx_string("dub_sts_reconnect"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_1MORE,
      ngx_rtmp_dub_reconnect,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_sts_max_message"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts_max_message),
      NULL },

    { ngx_string("dub_sts_ssl_trusted_certificate"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts_ca),
      NULL },

    { ngx_string("dub_breaker_threshold"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.breaker_threshold),
      NULL },

    { ngx_string("dub_breaker_cooldown"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.breaker_cooldown),
      NULL },

    { ngx_string("dub_source_lang"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.source_lang),
      NULL },

    { ngx_string("dub_target_lang"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.target_lang),
      NULL },

    { ngx_string("dub_voice"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.voice),
      NULL },

    { ngx_string("dub_audio_bitrate"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_rtmp_dub_bitrate,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.audio_bitrate),
      NULL },

    { ngx_string("dub_audio_coder"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_rtmp_dub_coder,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.audio_coder),
      NULL },

    { ngx_string("dub_original_volume"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_rtmp_dub_original_volume,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.original_gain),
      NULL },

    { ngx_string("dub_duck"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.duck),
      NULL },

    { ngx_string("dub_captions"),
      NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, sts.captions),
      NULL },

    { ngx_string("dub_thread_pool"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_rtmp_dub_app_conf_t, thread_pool_name),
      NULL },

      ngx_null_command
};


static ngx_rtmp_module_t  ngx_rtmp_dub_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_rtmp_dub_postconfiguration,         /* postconfiguration */
    ngx_rtmp_dub_create_main_conf,          /* create main configuration */
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
    ngx_rtmp_dub_init_module,               /* init module */
    ngx_rtmp_dub_init_process,              /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_rtmp_dub_exit_process,              /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_rtmp_dub_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_rtmp_dub_main_conf_t));
}


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
     *     dacf->log = NULL;
     *     dacf->output_file = NULL;
     *     dacf->langs = NULL;
     *     dacf->lang_labels = 0;
     *     dacf->cacf = NULL;
     */

    dacf->enable = NGX_CONF_UNSET;
    dacf->segment = NGX_CONF_UNSET_MSEC;
    dacf->stagger = NGX_CONF_UNSET;
    dacf->delay = NGX_CONF_UNSET_MSEC;
    dacf->max_buffer = NGX_CONF_UNSET_SIZE;

    dacf->sts.url = NGX_CONF_UNSET_PTR;
    dacf->sts_headers = NGX_CONF_UNSET_PTR;
    dacf->sts_auth = NGX_CONF_UNSET_PTR;
    dacf->sts.reconnect = NGX_CONF_UNSET_PTR;
    dacf->sts_max_message = NGX_CONF_UNSET_SIZE;
    dacf->sts.timeout = NGX_CONF_UNSET_MSEC;
    dacf->sts.init_timeout = NGX_CONF_UNSET_MSEC;
    dacf->sts.max_inflight = NGX_CONF_UNSET_UINT;
    dacf->sts.breaker_threshold = NGX_CONF_UNSET_UINT;
    dacf->sts.breaker_cooldown = NGX_CONF_UNSET_MSEC;
    dacf->sts.audio_bitrate = NGX_CONF_UNSET_UINT;
    dacf->sts.audio_coder = NGX_CONF_UNSET_UINT;
    dacf->sts.original_gain = NGX_RTMP_DUB_GAIN_UNSET;
    dacf->sts.duck = NGX_CONF_UNSET;
    dacf->sts.captions = NGX_CONF_UNSET;

    return dacf;
}


static char *
ngx_rtmp_dub_merge_app_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_rtmp_dub_app_conf_t  *prev = parent;
    ngx_rtmp_dub_app_conf_t  *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->log == NULL) {
        conf->log = prev->log ? prev->log : &cf->cycle->new_log;
    }

    if (conf->output_app.data == NULL) {
        conf->output_app = prev->output_app;
        conf->output_file = prev->output_file;
        conf->output_line = prev->output_line;
    }

    ngx_conf_merge_msec_value(conf->segment, prev->segment, 6000);
    ngx_conf_merge_value(conf->stagger, prev->stagger, 1);
    conf->sts.segment = conf->segment;
    ngx_conf_merge_msec_value(conf->sts.timeout, prev->sts.timeout, 8000);
    ngx_conf_merge_msec_value(conf->delay, prev->delay,
                              conf->segment + conf->sts.timeout);
    ngx_conf_merge_size_value(conf->max_buffer, prev->max_buffer,
                              64 * 1024 * 1024);

    if (ngx_rtmp_dub_check_app(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return ngx_rtmp_dub_merge_sts(cf, prev, conf);
}


static ngx_int_t
ngx_rtmp_dub_check_app(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *conf)
{
    if (conf->segment < NGX_RTMP_DUB_SEGMENT_MIN
        || conf->segment > NGX_RTMP_DUB_SEGMENT_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_segment\" must be between 1s and 60s, "
                           "not %Mms", conf->segment);
        return NGX_ERROR;
    }

    if (conf->delay <= conf->segment) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_delay\" (%Mms) must be greater than "
                           "\"dub_segment\" (%Mms): a segment is complete "
                           "only after it has lasted that long",
                           conf->delay, conf->segment);
        return NGX_ERROR;
    }

    if (conf->delay > NGX_RTMP_DUB_DELAY_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_delay\" must be at most 600s, not %Mms",
                           conf->delay);
        return NGX_ERROR;
    }

    if (conf->max_buffer < NGX_RTMP_DUB_BUFFER_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_max_buffer\" must be at least 1m");
        return NGX_ERROR;
    }

    if (conf->enable && conf->output_app.len == 0 && conf->langs == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_language\" or \"dub_output_app\" is "
                           "required when \"dub\" is on");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static char *
ngx_rtmp_dub_merge_sts(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *prev,
    ngx_rtmp_dub_app_conf_t *conf)
{
    ngx_str_t                  name;
    ngx_uint_t                 i;
    ngx_rtmp_dub_lang_conf_t  *l;

    ngx_conf_merge_ptr_value(conf->sts.url, prev->sts.url, NULL);
    ngx_conf_merge_ptr_value(conf->sts_headers, prev->sts_headers, NULL);
    ngx_conf_merge_ptr_value(conf->sts_auth, prev->sts_auth, NULL);
    ngx_conf_merge_str_value(conf->sts_ca, prev->sts_ca, "");
    ngx_conf_merge_size_value(conf->sts_max_message, prev->sts_max_message,
                              16 * 1024 * 1024);
    ngx_conf_merge_msec_value(conf->sts.init_timeout,
                              prev->sts.init_timeout, 10000);
    ngx_conf_merge_uint_value(conf->sts.max_inflight,
                              prev->sts.max_inflight, 3);
    ngx_conf_merge_uint_value(conf->sts.breaker_threshold,
                              prev->sts.breaker_threshold, 5);
    ngx_conf_merge_msec_value(conf->sts.breaker_cooldown,
                              prev->sts.breaker_cooldown, 30000);
    ngx_conf_merge_str_value(conf->sts.source_lang, prev->sts.source_lang,
                             "en");
    ngx_conf_merge_str_value(conf->sts.target_lang, prev->sts.target_lang,
                             "es");
    ngx_conf_merge_str_value(conf->sts.voice, prev->sts.voice, "default");
    ngx_conf_merge_uint_value(conf->sts.audio_bitrate,
                              prev->sts.audio_bitrate, 0);
    ngx_conf_merge_uint_value(conf->sts.audio_coder, prev->sts.audio_coder,
                              DUB_AUDIO_CODER_FAST);
    ngx_rtmp_dub_merge_original(cf, prev, conf);
    ngx_conf_merge_value(conf->sts.captions, prev->sts.captions, 0);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             NGX_RTMP_DUB_THREAD_POOL);

    if (ngx_rtmp_dub_merge_reconnect(cf, prev, conf) != NGX_OK
        || ngx_rtmp_dub_check_sts(cf, conf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if (conf->sts.url) {
        conf->sts.url = ngx_rtmp_dub_app_url(cf, conf, conf->sts.url);
        if (conf->sts.url == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_rtmp_dub_merge_langs(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    l = conf->langs->elts;

    for (i = 0; i < conf->langs->nelts; i++) {
        if (l[i].sts.url == NULL) {
            continue;
        }

        /* the audio work of the languages that have an STS */

        if (conf->sts.thread_pool == NULL) {
            name = conf->thread_pool_name;

            conf->sts.thread_pool = ngx_rtmp_dub_thread_pool(cf, &name);
            if (conf->sts.thread_pool == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        l[i].sts.thread_pool = conf->sts.thread_pool;
    }

    return NGX_CONF_OK;
}


/*
 * The thread pool of the audio work.  A pool the configuration declares
 * (a "thread_pool" line before the rtmp block) is used as it is; the
 * module's own pool, "dub", is declared here when nothing declared it,
 * with a thread per core: the work is CPU-bound, more threads than cores
 * only make every segment late together.  Any other name is looked up by
 * nginx as usual ("default" is nginx's, 32 threads unless declared).
 */

static ngx_thread_pool_t *
ngx_rtmp_dub_thread_pool(ngx_conf_t *cf, ngx_str_t *name)
{
    char               *rv;
    ngx_str_t          *value;
    ngx_array_t         args, *saved;
    ngx_command_t      *cmd;
    ngx_thread_pool_t  *tp;

    tp = ngx_thread_pool_get(cf->cycle, name);

    if (tp || name->len != sizeof(NGX_RTMP_DUB_THREAD_POOL) - 1
        || ngx_strncmp(name->data, NGX_RTMP_DUB_THREAD_POOL, name->len) != 0)
    {
        return tp ? tp : ngx_thread_pool_add(cf, name);
    }

    /* as if the configuration said "thread_pool dub threads=<cores>;" */

    for (cmd = ngx_thread_pool_module.commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, "thread_pool") == 0) {
            break;
        }
    }

    if (cmd->name.len == 0
        || ngx_array_init(&args, cf->temp_pool, 3, sizeof(ngx_str_t))
           != NGX_OK)
    {
        return NULL;
    }

    value = ngx_array_push_n(&args, 3);
    if (value == NULL) {
        return NULL;
    }

    value[2].data = ngx_pnalloc(cf->pool, sizeof("threads=") + NGX_INT_T_LEN);
    if (value[2].data == NULL) {
        return NULL;
    }

    ngx_str_set(&value[0], "thread_pool");
    value[1] = *name;
    value[2].len = ngx_sprintf(value[2].data, "threads=%i",
                               ngx_max(ngx_ncpu, 1))
                   - value[2].data;

    saved = cf->args;
    cf->args = &args;

    rv = cmd->set(cf, cmd, ngx_get_conf(cf->cycle->conf_ctx,
                                        ngx_thread_pool_module));

    cf->args = saved;

    if (rv != NGX_CONF_OK) {
        if (rv != NGX_CONF_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the thread pool \"%V\" of \"dub\": %s",
                               name, rv);
        }

        return NULL;
    }

    return ngx_thread_pool_get(cf->cycle, name);
}


/* "dub_sts_reconnect": inherited, or 2s, 4s, 8s, 16s and 32s */

static ngx_int_t
ngx_rtmp_dub_merge_reconnect(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *prev,
    ngx_rtmp_dub_app_conf_t *conf)
{
    int64_t         *ms;
    ngx_uint_t       i;
    static int64_t   schedule[] = { 2000, 4000, 8000, 16000, 32000 };

    if (conf->sts.reconnect != NGX_CONF_UNSET_PTR) {
        return NGX_OK;
    }

    if (prev->sts.reconnect != NGX_CONF_UNSET_PTR) {
        conf->sts.reconnect = prev->sts.reconnect;
        return NGX_OK;
    }

    conf->sts.reconnect = ngx_array_create(cf->pool, 5, sizeof(int64_t));
    if (conf->sts.reconnect == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < 5; i++) {
        ms = ngx_array_push(conf->sts.reconnect);
        *ms = schedule[i];
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_check_sts(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *conf)
{
    if (conf->sts.max_inflight < 1 || conf->sts.max_inflight > 10) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_max_inflight\" must be between 1 and "
                           "10, not %ui", conf->sts.max_inflight);
        return NGX_ERROR;
    }

    if (conf->sts.timeout < 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_timeout\" must be at least 100ms");
        return NGX_ERROR;
    }

    if (conf->sts.init_timeout < 100) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_init_timeout\" must be at least "
                           "100ms");
        return NGX_ERROR;
    }

    if (conf->sts_max_message < NGX_RTMP_DUB_MESSAGE_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_max_message\" must be at least 64k");
        return NGX_ERROR;
    }

    if (conf->sts.breaker_threshold < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_breaker_threshold\" must be at least 1");
        return NGX_ERROR;
    }

    if (conf->sts.source_lang.len == 0 || conf->sts.target_lang.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_source_lang\" and \"dub_target_lang\" "
                           "cannot be empty");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Each language's STS settings: the application's, with its target
 * language, and its own URL and voice when given.  "dub_output_app" with
 * "dub_target_lang" is the one language of an application without
 * "dub_language".
 */

static ngx_int_t
ngx_rtmp_dub_merge_langs(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *conf)
{
    ngx_uint_t                 i;
    ngx_rtmp_dub_lang_conf_t  *l;

    if (conf->langs == NULL) {
        conf->langs = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_rtmp_dub_lang_conf_t));
        if (conf->langs == NULL) {
            return NGX_ERROR;
        }

        l = ngx_array_push(conf->langs);
        if (l == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(l, sizeof(ngx_rtmp_dub_lang_conf_t));

        l->lang = conf->sts.target_lang;
        l->output_app = conf->output_app;
        ngx_str_set(&l->directive, "dub_output_app");
        l->file = conf->output_file;
        l->line = conf->output_line;
    }

    l = conf->langs->elts;

    for (i = 0; i < conf->langs->nelts; i++) {
        l[i].sts = conf->sts;
        l[i].sts.target_lang = l[i].lang;

        if (l[i].voice.len) {
            l[i].sts.voice = l[i].voice;
        }

        if (l[i].url) {
            l[i].sts.url = ngx_rtmp_dub_app_url(cf, conf, l[i].url);
            if (l[i].sts.url == NULL) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * This application's own copy of a list of URLs (one, or the endpoints
 * of several "dub_sts_url"): its headers, credentials, CA.
 */

static ngx_rtmp_dub_sts_url_t *
ngx_rtmp_dub_app_url(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *conf,
    ngx_rtmp_dub_sts_url_t *url)
{
    ngx_rtmp_dub_sts_url_t  *u, *first, **last;

    first = NULL;
    last = &first;

    for ( /* void */ ; url; url = url->next) {
        u = ngx_palloc(cf->pool, sizeof(ngx_rtmp_dub_sts_url_t));
        if (u == NULL) {
            return NULL;
        }

        *u = *url;

        u->headers = conf->sts_headers;
        u->auth = conf->sts_auth;
        u->ca = conf->sts_ca;
        u->max_message = conf->sts_max_message;
        u->vhost = NULL;
        u->next = NULL;
        u->endpoint = u;

        if (u->ca.len && ngx_rtmp_dub_ca_file(cf, u) != NGX_OK) {
            return NULL;
        }

        if (u->headers
            && ngx_rtmp_dub_check_headers(cf, u->headers) != NGX_OK)
        {
            return NULL;
        }

        *last = u;
        last = &u->next;
    }

    return first;
}


static ngx_int_t
ngx_rtmp_dub_ca_file(ngx_conf_t *cf, ngx_rtmp_dub_sts_url_t *u)
{
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, &u->ca, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!u->ssl) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"dub_sts_ssl_trusted_certificate\" is "
                           "ignored for \"%V\"", &u->url);
    }

    if (ngx_file_info(u->ca.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"dub_sts_ssl_trusted_certificate\" \"%V\" "
                           "cannot be read", &u->ca);
        return NGX_ERROR;
    }

    return ngx_rtmp_dub_check_ca(cf, &u->ca);
}


/* the "dub_sts_header" headers, with their room in the handshake */

static ngx_int_t
ngx_rtmp_dub_check_headers(ngx_conf_t *cf, ngx_array_t *headers)
{
    size_t         size;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    kv = headers->elts;
    size = 0;

    for (i = 0; i < headers->nelts; i++) {
        size += kv[i].key.len + sizeof(": \r\n") - 1 + kv[i].value.len;
    }

    if (size > NGX_RTMP_DUB_HEADERS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the \"dub_sts_header\" headers take %uz "
                           "bytes, over the %d the WebSocket handshake "
                           "has room for: shorten them", size,
                           NGX_RTMP_DUB_HEADERS_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A trusted CA file is read as libwebsockets' TLS library will read it in
 * each worker: PEM, with at least one certificate.  Refused now rather
 * than found unusable by the workers.
 */

static ngx_int_t
ngx_rtmp_dub_check_ca(ngx_conf_t *cf, ngx_str_t *file)
{
    int                   i, n;
    BIO                  *bio;
    char                  reason[128];
    unsigned long         e;
    STACK_OF(X509_INFO)  *info;

    ERR_clear_error();

    bio = BIO_new_file((char *) file->data, "r");
    if (bio == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_ssl_trusted_certificate\" \"%V\" "
                           "cannot be opened", file);
        return NGX_ERROR;
    }

    info = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);

    BIO_free(bio);

    if (info == NULL) {
        e = ERR_peek_last_error();
        ERR_error_string_n(e, reason, sizeof(reason));
        ERR_clear_error();

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_ssl_trusted_certificate\" \"%V\" "
                           "is not a valid PEM file (%s): give a file of "
                           "PEM certificates", file, reason);
        return NGX_ERROR;
    }

    n = 0;

    for (i = 0; i < sk_X509_INFO_num(info); i++) {
        if (sk_X509_INFO_value(info, i)->x509) {
            n++;
        }
    }

    sk_X509_INFO_pop_free(info, X509_INFO_free);
    ERR_clear_error();

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_sts_ssl_trusted_certificate\" \"%V\" "
                           "holds no PEM certificate: give a file of PEM "
                           "certificates (\"-----BEGIN CERTIFICATE-----\")",
                           file);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "dub_error_log file [level]": the module's lines, as "error_log" */

static char *
ngx_rtmp_dub_error_log(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    return ngx_log_set_log(cf, &dacf->log);
}


/*
 * ws://, wss://, http:// or https://HOST[:PORT][/NAMESPACE]: the path
 * names the Socket.IO namespace, as socket.io clients read it; the
 * Engine.IO path is /socket.io/.  The host is resolved now, as nginx does
 * for upstreams, so that connecting never waits for DNS.  Given several
 * times in a block, each is an endpoint of the same STS service.
 */

static char *
ngx_rtmp_dub_sts_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    ngx_str_t               *value;
    ngx_rtmp_dub_sts_url_t  *u;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0
        || dacf->sts.url == NULL)
    {
        if (dacf->sts.url != NGX_CONF_UNSET_PTR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"dub_sts_url off\" cannot be given with "
                               "another \"dub_sts_url\" in the same block");
            return NGX_CONF_ERROR;
        }

        dacf->sts.url = NULL;
        return NGX_CONF_OK;
    }

    u = ngx_rtmp_dub_url_parse(cf, &value[1]);
    if (u == NULL) {
        return NGX_CONF_ERROR;
    }

    if (dacf->sts.url == NGX_CONF_UNSET_PTR) {
        dacf->sts.url = NULL;
    }

    if (ngx_rtmp_dub_url_append(cf, &dacf->sts.url, u) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* one more endpoint at the end of a list; the same one twice is refused */

static ngx_int_t
ngx_rtmp_dub_url_append(ngx_conf_t *cf, ngx_rtmp_dub_sts_url_t **list,
    ngx_rtmp_dub_sts_url_t *u)
{
    ngx_str_t  *args;

    args = cf->args->elts;

    for ( /* void */ ; *list; list = &(*list)->next) {
        if (ngx_rtmp_dub_url_same(*list, u)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" names the STS \"%V\" twice (as "
                               "\"%V\"): give each endpoint once",
                               &args[0], &(*list)->url, &u->url);
            return NGX_ERROR;
        }
    }

    *list = u;

    return NGX_OK;
}


/* the same endpoint: host, port, TLS and namespace, whatever the scheme */

static ngx_uint_t
ngx_rtmp_dub_url_same(ngx_rtmp_dub_sts_url_t *a, ngx_rtmp_dub_sts_url_t *b)
{
    return a->ssl == b->ssl
           && a->port == b->port
           && a->host.len == b->host.len
           && ngx_strncasecmp(a->host.data, b->host.data, a->host.len) == 0
           && a->nsp.len == b->nsp.len
           && ngx_strncmp(a->nsp.data, b->nsp.data, a->nsp.len) == 0;
}


/* a URL of "dub_sts_url" or of "dub_language sts=" */

static ngx_rtmp_dub_sts_url_t *
ngx_rtmp_dub_url_parse(ngx_conf_t *cf, ngx_str_t *value)
{
    ngx_str_t               nsp, *args;
    ngx_url_t               url;
    ngx_rtmp_dub_scheme_t  *scheme;

    args = cf->args->elts;

    scheme = ngx_rtmp_dub_url_scheme(value);

    if (scheme == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid URL \"%V\" in \"%V\": it must start "
                           "with ws://, wss://, http:// or https://",
                           value, &args[0]);
        return NULL;
    }

    if (ngx_rtmp_dub_url_resolve(cf, value, scheme, &url) != NGX_OK
        || ngx_rtmp_dub_url_nsp(cf, value, &url.uri, &nsp) != NGX_OK)
    {
        return NULL;
    }

    return ngx_rtmp_dub_url_create(cf, value, scheme->ssl, &url, &nsp);
}


static ngx_rtmp_dub_scheme_t *
ngx_rtmp_dub_url_scheme(ngx_str_t *value)
{
    ngx_rtmp_dub_scheme_t  *s;

    for (s = ngx_rtmp_dub_schemes; s->prefix.len; s++) {
        if (ngx_strncasecmp(value->data, s->prefix.data, s->prefix.len) == 0) {
            return s;
        }
    }

    return NULL;
}


/* host and port, resolved */

static ngx_int_t
ngx_rtmp_dub_url_resolve(ngx_conf_t *cf, ngx_str_t *value,
    ngx_rtmp_dub_scheme_t *scheme, ngx_url_t *url)
{
    ngx_str_t  *args;

    args = cf->args->elts;

    ngx_memzero(url, sizeof(ngx_url_t));

    url->url.data = value->data + scheme->prefix.len;
    url->url.len = value->len - scheme->prefix.len;
    url->default_port = scheme->ssl ? 443 : 80;
    url->uri_part = 1;

    if (ngx_parse_url(cf->pool, url) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s in \"%V\" \"%V\"",
                           url->err ? url->err : "invalid URL", &args[0],
                           value);
        return NGX_ERROR;
    }

    if (url->naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no address for \"%V\" in \"%V\"",
                           &url->host, &args[0]);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the URL's path as a namespace: no query, no trailing slash, "/" */

static ngx_int_t
ngx_rtmp_dub_url_nsp(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *path,
    ngx_str_t *nsp)
{
    ngx_str_t  *args;

    args = cf->args->elts;
    *nsp = *path;

    if (nsp->len && ngx_strlchr(nsp->data, nsp->data + nsp->len, '?')) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "no query string allowed in \"%V\" \"%V\"",
                           &args[0], value);
        return NGX_ERROR;
    }

    while (nsp->len > 1 && nsp->data[nsp->len - 1] == '/') {
        nsp->len--;
    }

    if (nsp->len == 0) {
        ngx_str_set(nsp, "/");
    }

    return NGX_OK;
}


static ngx_rtmp_dub_sts_url_t *
ngx_rtmp_dub_url_create(ngx_conf_t *cf, ngx_str_t *value, ngx_uint_t ssl,
    ngx_url_t *url, ngx_str_t *nsp)
{
    ngx_rtmp_dub_sts_url_t  *u;

    u = ngx_pcalloc(cf->pool, sizeof(ngx_rtmp_dub_sts_url_t));
    if (u == NULL) {
        return NULL;
    }

    u->url = *value;
    u->ssl = ssl;
    u->port = url->port ? url->port : url->default_port;

    u->host.len = url->host.len;
    u->host.data = ngx_pnalloc(cf->pool, url->host.len + 1);
    u->nsp.len = nsp->len;
    u->nsp.data = ngx_pnalloc(cf->pool, nsp->len + 1);
    u->address = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);

    if (u->host.data == NULL || u->nsp.data == NULL || u->address == NULL) {
        return NULL;
    }

    ngx_cpystrn(u->host.data, url->host.data, url->host.len + 1);
    ngx_cpystrn(u->nsp.data, nsp->data, nsp->len + 1);

    ngx_rtmp_dub_url_address(u->address, &url->addrs[0]);

    ngx_str_set(&u->path, "/socket.io/?EIO=4&transport=websocket");

    return u;
}


/* the address as libwebsockets takes it: no port, an IPv6 one bare */

static void
ngx_rtmp_dub_url_address(char *buf, ngx_addr_t *addr)
{
    u_char  *p;

    p = (u_char *) buf;
    p += ngx_sock_ntop(addr->sockaddr, addr->socklen, p, NGX_SOCKADDR_STRLEN,
                       0);
    *p = '\0';

    if (buf[0] == '[') {
        ngx_memmove(buf, buf + 1, ngx_strlen(buf));
        buf[ngx_strlen(buf) - 1] = '\0';
    }
}


/* "dub_sts_header" and "dub_sts_auth": a name and a value */

static char *
ngx_rtmp_dub_keyval(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t      *value;
    ngx_uint_t      header;
    ngx_array_t   **a;
    ngx_keyval_t   *kv;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR || *a == NULL) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_keyval_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a name";
    }

    header = (cmd->offset == offsetof(ngx_rtmp_dub_app_conf_t, sts_headers));

    if (ngx_rtmp_dub_keyval_name(cf, cmd, &value[1], header) != NGX_OK
        || ngx_rtmp_dub_keyval_value(cf, cmd, &value[2], header) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    kv = ngx_array_push(*a);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];
    kv->value = value[2];

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_rtmp_dub_keyval_name(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *name, ngx_uint_t header)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        /* a header name is an HTTP token (RFC 9110) */

        if (c <= ' ' || c == ':' || c >= 127
            || (header && ngx_strchr("\"(),/;<=>?@[\\]{}", c)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid name \"%V\" in \"%V\"%s",
                               name, &cmd->name,
                               header ? ": letters, digits and "
                                        "!#$%&'*+-.^_`|~ only" : "");
            return NGX_ERROR;
        }
    }

    if (header && name->len > NGX_RTMP_DUB_HEADER_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the name in \"dub_sts_header\" is %uz "
                           "characters long, over %d",
                           name->len, NGX_RTMP_DUB_HEADER_NAME_MAX);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_keyval_value(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_str_t *value, ngx_uint_t header)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < value->len; i++) {
        c = value->data[i];

        if (c == CR || c == LF) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\": no line breaks",
                               &cmd->name);
            return NGX_ERROR;
        }

        if (header && ((c < ' ' && c != '\t') || c == 127)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid value in \"%V\": no control "
                               "characters", &cmd->name);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static char *
ngx_rtmp_dub_reconnect(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    int64_t     *ms;
    ngx_int_t    t;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (dacf->sts.reconnect != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    dacf->sts.reconnect = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                           sizeof(int64_t));
    if (dacf->sts.reconnect == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        t = ngx_parse_time(&value[i], 0);

        if (t == NGX_ERROR || t < 10 || t > 3600000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid interval \"%V\" in "
                               "\"dub_sts_reconnect\": from 10ms to 1h",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        ms = ngx_array_push(dacf->sts.reconnect);
        *ms = t;
    }

    return NGX_CONF_OK;
}


/* a bit rate: "96k" is 96000 */

static char *
ngx_rtmp_dub_bitrate(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t    *value, v;
    ngx_int_t     n, scale;
    ngx_uint_t   *np;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];
    scale = 1;

    if (v.len > 1 && (v.data[v.len - 1] == 'k' || v.data[v.len - 1] == 'K')) {
        scale = 1000;
        v.len--;
    }

    n = ngx_atoi(v.data, v.len);

    if (n == NGX_ERROR || n * scale < 16000 || n * scale > 512000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_audio_bitrate\" must be from 16k to "
                           "512k, not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    *np = n * scale;

    return NGX_CONF_OK;
}


/* FFmpeg's AAC coder: "fast" or "twoloop" */

static char *
ngx_rtmp_dub_coder(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    unsigned     coder;
    ngx_str_t   *value;
    ngx_uint_t  *np;

    np = (ngx_uint_t *) (p + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (dub_audio_coder_parse((char *) value[1].data, value[1].len, &coder)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_audio_coder\" must be \"fast\" or "
                           "\"twoloop\", not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    *np = coder;

    return NGX_CONF_OK;
}


/* "dub_language LANG APP [sts=URL] [voice=NAME]" */

static char *
ngx_rtmp_dub_language(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    ngx_str_t                 *value;
    ngx_uint_t                 i;
    ngx_rtmp_dub_lang_conf_t  *l;

    value = cf->args->elts;

    if (dacf->output_app.data) {
        return "cannot be mixed with \"dub_output_app\" in an application";
    }

    if (cf->args->nelts > 5) {
        return "takes a language, an application, and at most "
               "\"sts=\" and \"voice=\"";
    }

    if (ngx_rtmp_dub_language_tag(&value[1]) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid language \"%V\" in \"dub_language\": "
                           "a language tag such as \"es\", \"fr\" or "
                           "\"pt-BR\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_rtmp_dub_app_name(cf, &value[2]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (dacf->langs == NULL) {
        dacf->langs = ngx_array_create(cf->pool, 4,
                                       sizeof(ngx_rtmp_dub_lang_conf_t));
        if (dacf->langs == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    l = dacf->langs->elts;

    for (i = 0; i < dacf->langs->nelts; i++) {
        if (l[i].lang.len == value[1].len
            && ngx_strncasecmp(l[i].lang.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "language \"%V\" is given twice in "
                               "\"dub_language\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        if (l[i].output_app.len == value[2].len
            && ngx_strncmp(l[i].output_app.data, value[2].data,
                           value[2].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "application \"%V\" is the output of two "
                               "languages in \"dub_language\": each "
                               "language needs its own", &value[2]);
            return NGX_CONF_ERROR;
        }
    }

    l = ngx_array_push(dacf->langs);
    if (l == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(l, sizeof(ngx_rtmp_dub_lang_conf_t));

    l->lang = value[1];
    l->output_app = value[2];
    ngx_str_set(&l->directive, "dub_language");
    l->file = cf->conf_file->file.name.data;
    l->line = cf->conf_file->line;

    for (i = 3; i < cf->args->nelts; i++) {
        if (ngx_rtmp_dub_language_option(cf, l, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    dacf->lang_labels = 1;

    return NGX_CONF_OK;
}


/* the original under the dub: off, and not ducked, unless set */

static void
ngx_rtmp_dub_merge_original(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *prev,
    ngx_rtmp_dub_app_conf_t *conf)
{
    if (conf->sts.original_gain < 0.0) {
        conf->sts.original_gain = (prev->sts.original_gain < 0.0)
                                  ? 0.0 : prev->sts.original_gain;
    }

    ngx_conf_merge_value(conf->sts.duck, prev->sts.duck, 0);

    if (conf->enable && conf->sts.duck && conf->sts.original_gain == 0.0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"dub_duck\" does nothing while "
                           "\"dub_original_volume\" is off");
    }
}


/* "off", or the original's gain in dB: "-18dB", "-18" */

static char *
ngx_rtmp_dub_original_volume(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    double     *gain;
    ngx_str_t  *value;

    gain = (double *) (p + cmd->offset);

    if (*gain != NGX_RTMP_DUB_GAIN_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (dub_audio_gain_parse((char *) value[1].data, value[1].len, gain)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_original_volume\" must be \"off\" or a "
                           "gain from -60dB to 0dB such as \"-18dB\", "
                           "not \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a language tag: 2 or 3 letters, then subtags of 1 to 8 letters or digits */

static ngx_int_t
ngx_rtmp_dub_language_tag(ngx_str_t *lang)
{
    u_char      c;
    ngx_uint_t  i, n, first;

    if (lang->len > NGX_RTMP_DUB_LANG_MAX) {
        return NGX_ERROR;
    }

    n = 0;
    first = 1;

    for (i = 0; i <= lang->len; i++) {
        c = (i < lang->len) ? lang->data[i] : '-';

        if (c == '-') {
            if (n == 0 || n > 8 || (first && (n < 2 || n > 3))) {
                return NGX_ERROR;
            }

            n = 0;
            first = 0;
            continue;
        }

        c = ngx_tolower(c);

        if ((c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9')) {
            n++;
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_language_option(ngx_conf_t *cf, ngx_rtmp_dub_lang_conf_t *l,
    ngx_str_t *value)
{
    ngx_str_t                v;
    ngx_uint_t               i;
    ngx_rtmp_dub_sts_url_t  *u;

    if (value->len > 4 && ngx_strncmp(value->data, "sts=", 4) == 0) {

        /* several: the endpoints of this language's STS */

        v.data = value->data + 4;
        v.len = value->len - 4;

        u = ngx_rtmp_dub_url_parse(cf, &v);
        if (u == NULL) {
            return NGX_ERROR;
        }

        return ngx_rtmp_dub_url_append(cf, &l->url, u);
    }

    if (value->len > 6 && ngx_strncmp(value->data, "voice=", 6) == 0) {
        if (l->voice.len) {
            goto duplicate;
        }

        l->voice.data = value->data + 6;
        l->voice.len = value->len - 6;

        for (i = 0; i < l->voice.len; i++) {
            if (l->voice.data[i] <= ' ' || l->voice.data[i] >= 127) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid voice \"%V\" in "
                                   "\"dub_language\": printable ASCII "
                                   "without spaces", &l->voice);
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"dub_language\": "
                       "\"sts=URL\" or \"voice=NAME\"", value);
    return NGX_ERROR;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\" in \"dub_language\"",
                       value);
    return NGX_ERROR;
}


/* the name of an application of the same server */

static ngx_int_t
ngx_rtmp_dub_app_name(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_str_t   *args;
    ngx_uint_t   i;

    args = cf->args->elts;

    if (name->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs an application name", &args[0]);
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        if (name->data[i] == '/' || name->data[i] <= ' ') {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid application name \"%V\" in "
                               "\"%V\"", name, &args[0]);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static char *
ngx_rtmp_dub_output_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_app_conf_t  *dacf = conf;

    ngx_str_t  *value;

    if (dacf->output_app.data) {
        return "is duplicate";
    }

    if (dacf->langs) {
        return "cannot be mixed with \"dub_language\" in an application";
    }

    value = cf->args->elts;

    if (ngx_rtmp_dub_app_name(cf, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
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
    ngx_rtmp_core_srv_conf_t   **cscfp;
    ngx_rtmp_core_main_conf_t   *cmcf;

    cmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_rtmp_core_module);

    cscfp = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        if (ngx_rtmp_dub_resolve(cf, cscfp[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ngx_rtmp_dub_add_handler(cmcf, NGX_RTMP_MSG_AUDIO, ngx_rtmp_dub_av)
        != NGX_OK
        || ngx_rtmp_dub_add_handler(cmcf, NGX_RTMP_MSG_VIDEO, ngx_rtmp_dub_av)
           != NGX_OK
        || ngx_rtmp_dub_add_handler(cmcf, NGX_RTMP_DISCONNECT,
                                    ngx_rtmp_dub_disconnect)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    next_publish = ngx_rtmp_publish;
    ngx_rtmp_publish = ngx_rtmp_dub_publish;

    next_close_stream = ngx_rtmp_close_stream;
    ngx_rtmp_close_stream = ngx_rtmp_dub_close_stream;

    return NGX_OK;
}


static ngx_int_t
ngx_rtmp_dub_add_handler(ngx_rtmp_core_main_conf_t *cmcf, ngx_uint_t event,
    ngx_rtmp_handler_pt handler)
{
    ngx_rtmp_handler_pt  *h;

    h = ngx_array_push(&cmcf->events[event]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = handler;

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
    ngx_rtmp_dub_app_conf_t     *dacf;
    ngx_rtmp_dub_lang_conf_t    *l;
    ngx_rtmp_core_app_conf_t   **cacfp, *out;

    cacfp = cscf->applications.elts;

    for (i = 0; i < cscf->applications.nelts; i++) {
        dacf = cacfp[i]->app_conf[ngx_rtmp_dub_module.ctx_index];
        dacf->cacf = cacfp[i];

        if (!dacf->enable) {
            continue;
        }

        l = dacf->langs->elts;

        for (j = 0; j < dacf->langs->nelts; j++) {
            out = ngx_rtmp_dub_find_app(cscf, &l[j].output_app);

            if (ngx_rtmp_dub_check_output(cf, dacf, &l[j], out) != NGX_OK) {
                return NGX_ERROR;
            }

            l[j].output_cacf = out;
        }
    }

    return NGX_OK;
}


static ngx_rtmp_core_app_conf_t *
ngx_rtmp_dub_find_app(ngx_rtmp_core_srv_conf_t *cscf, ngx_str_t *name)
{
    ngx_uint_t                   i;
    ngx_rtmp_core_app_conf_t   **cacfp;

    cacfp = cscf->applications.elts;

    for (i = 0; i < cscf->applications.nelts; i++) {
        if (cacfp[i]->name.len == name->len
            && ngx_strncmp(cacfp[i]->name.data, name->data, name->len) == 0)
        {
            return cacfp[i];
        }
    }

    return NULL;
}


static ngx_int_t
ngx_rtmp_dub_check_output(ngx_conf_t *cf, ngx_rtmp_dub_app_conf_t *dacf,
    ngx_rtmp_dub_lang_conf_t *l, ngx_rtmp_core_app_conf_t *out)
{
    char                      *why;
    ngx_rtmp_dub_app_conf_t   *odacf;
    ngx_rtmp_live_app_conf_t  *lacf;

    if (out == dacf->cacf) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%V\" must name another application than \"%V\" "
                      "itself in %s:%ui", &l->directive, &dacf->cacf->name,
                      l->file, l->line);
        return NGX_ERROR;
    }

    if (out == NULL) {
        why = "is not an application of the same server";

    } else {
        odacf = out->app_conf[ngx_rtmp_dub_module.ctx_index];
        lacf = out->app_conf[ngx_rtmp_live_module.ctx_index];

        if (odacf->enable) {
            why = "has \"dub on\" itself";

        } else if (lacf == NULL || !lacf->live) {
            why = "needs \"live on\"";

        } else {
            return NGX_OK;
        }
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"%V\" names \"%V\", which %s in %s:%ui",
                  &l->directive, &l->output_app, why, l->file, l->line);

    return NGX_ERROR;
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


/*
 * A dubbed stream lives in the worker that took its publisher, as every
 * nginx-rtmp live stream does: with several workers, an RTMP player that
 * lands on another one gets nothing.  Said at "nginx -t", start and
 * reload, once the whole configuration ("worker_processes" may follow the
 * rtmp block) is known.
 */

static ngx_int_t
ngx_rtmp_dub_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i, j, n;
    ngx_core_conf_t             *ccf;
    ngx_rtmp_conf_ctx_t         *ctx;
    ngx_rtmp_dub_app_conf_t     *dacf;
    ngx_rtmp_core_app_conf_t   **cacfp;
    ngx_rtmp_core_srv_conf_t   **cscfp;
    ngx_rtmp_core_main_conf_t   *cmcf;

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);
    ctx = (ngx_rtmp_conf_ctx_t *) ngx_get_conf(cycle->conf_ctx,
                                               ngx_rtmp_module);

    if (ctx == NULL || !ccf->master || ccf->worker_processes <= 1) {
        return NGX_OK;
    }

    cmcf = ctx->main_conf[ngx_rtmp_core_module.ctx_index];
    cscfp = cmcf->servers.elts;
    n = 0;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        cacfp = cscfp[i]->applications.elts;

        for (j = 0; j < cscfp[i]->applications.nelts; j++) {
            dacf = cacfp[j]->app_conf[ngx_rtmp_dub_module.ctx_index];
            n += dacf->enable ? 1 : 0;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "dub: \"worker_processes\" is %i (\"auto\" counts the "
                  "cores): each dubbed stream is in the one worker that "
                  "took its publisher, and an RTMP player that lands on "
                  "another worker gets nothing (\"rtmp_auto_push\" does "
                  "not work with nginx-rtmp as a dynamic module); use "
                  "\"worker_processes 1;\" for the nginx that serves "
                  "RTMP, or \"push\" the output application to an nginx "
                  "with one worker that players use (HLS, record and push "
                  "of the output work from any worker)",
                  ccf->worker_processes);

    return NGX_OK;
}


/*
 * Per worker: the libwebsockets context, on a libuv loop nested in
 * nginx's, if any application talks to an STS.
 */

static ngx_int_t
ngx_rtmp_dub_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                   i, j;
    ngx_array_t                  urls;
    ngx_rtmp_dub_app_conf_t     *dacf;
    ngx_rtmp_core_app_conf_t   **cacfp;
    ngx_rtmp_core_srv_conf_t   **cscfp;

    if (ngx_rtmp_core_main_conf == NULL) {
        return NGX_OK;
    }

    dub_audio_init();

    if (ngx_array_init(&urls, cycle->pool, 4, sizeof(void *)) != NGX_OK) {
        return NGX_ERROR;
    }

    cscfp = ngx_rtmp_core_main_conf->servers.elts;

    for (i = 0; i < ngx_rtmp_core_main_conf->servers.nelts; i++) {
        cacfp = cscfp[i]->applications.elts;

        for (j = 0; j < cscfp[i]->applications.nelts; j++) {
            dacf = cacfp[j]->app_conf[ngx_rtmp_dub_module.ctx_index];

            if (dacf->enable && ngx_rtmp_dub_add_urls(&urls, dacf) != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    if (urls.nelts == 0) {
        return NGX_OK;
    }

    ngx_rtmp_dub_task_init(cycle);

    return ngx_rtmp_dub_sio_init(cycle, &urls);
}


/* each language's URLs */

static ngx_int_t
ngx_rtmp_dub_add_urls(ngx_array_t *urls, ngx_rtmp_dub_app_conf_t *dacf)
{
    ngx_uint_t                 i;
    ngx_rtmp_dub_sts_url_t    *u;
    ngx_rtmp_dub_lang_conf_t  *l;

    l = dacf->langs->elts;

    for (i = 0; i < dacf->langs->nelts; i++) {
        for (u = l[i].sts.url; u; u = u->next) {
            if (ngx_rtmp_dub_add_url(urls, u) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/*
 * Each URL once; the copies of an endpoint (one per application that
 * names it) count its sessions and failures on the first one.
 */

static ngx_int_t
ngx_rtmp_dub_add_url(ngx_array_t *urls, ngx_rtmp_dub_sts_url_t *url)
{
    ngx_uint_t                i;
    ngx_rtmp_dub_sts_url_t  **u;

    u = urls->elts;

    for (i = 0; i < urls->nelts; i++) {
        if (u[i] == url) {
            return NGX_OK;
        }
    }

    url->endpoint = url;

    for (i = 0; i < urls->nelts; i++) {
        if (ngx_rtmp_dub_url_same(u[i], url)) {
            url->endpoint = u[i]->endpoint;
            break;
        }
    }

    u = ngx_array_push(urls);
    if (u == NULL) {
        return NGX_ERROR;
    }

    *u = url;

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
    ngx_rtmp_dub_sio_done(cycle);
}
