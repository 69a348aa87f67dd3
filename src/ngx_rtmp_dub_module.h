
/*
 * Copyright (C) nginx-dub developers
 *
 * The rtmp module: its configuration per application, and its context
 * per nginx-rtmp session.
 */


#ifndef _NGX_RTMP_DUB_MODULE_H_INCLUDED_
#define _NGX_RTMP_DUB_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_rtmp.h"
#include "ngx_rtmp_cmd_module.h"

#include "ngx_rtmp_dub_sts.h"
#include "ngx_rtmp_dub_metrics.h"


#define NGX_RTMP_DUB_VERSION        "0.1.0"

/* the thread pool of the audio work, declared with a thread per core */
#define NGX_RTMP_DUB_THREAD_POOL    "dub"


/*
 * A language a stream is dubbed into: "dub_language", or the one of
 * "dub_output_app" and "dub_target_lang".
 */

typedef struct {
    ngx_str_t                   lang;
    ngx_str_t                   output_app;
    ngx_rtmp_dub_sts_url_t     *url;        /* "sts=", or NULL */
    ngx_str_t                   voice;      /* "voice=", or empty */
    ngx_str_t                   directive;  /* for messages */
    u_char                     *file;
    ngx_uint_t                  line;

    /* the application's STS settings, for this language; at merge */
    ngx_rtmp_dub_sts_conf_t     sts;

    /* at postconfiguration */
    ngx_rtmp_core_app_conf_t   *output_cacf;
} ngx_rtmp_dub_lang_conf_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   output_app;
    ngx_msec_t                  segment;
    ngx_flag_t                  stagger;
    ngx_msec_t                  delay;
    size_t                      max_buffer;
    ngx_log_t                  *log;        /* "dub_error_log" */

    /* the STS, and how a stream is dubbed */
    ngx_rtmp_dub_sts_conf_t     sts;
    ngx_array_t                *sts_headers;
    ngx_array_t                *sts_auth;
    ngx_str_t                   sts_ca;
    size_t                      sts_max_message;
    ngx_str_t                   thread_pool_name;

    /* where "dub_output_app" was set, for postconfiguration errors */
    u_char                     *output_file;
    ngx_uint_t                  output_line;

    /* of ngx_rtmp_dub_lang_conf_t: "dub_language", or the one language */
    ngx_array_t                *langs;
    unsigned                    lang_labels:1;  /* "dub_language" given */

    /* at postconfiguration */
    ngx_rtmp_core_app_conf_t   *cacf;
} ngx_rtmp_dub_app_conf_t;


typedef struct ngx_rtmp_dub_bridge_s  ngx_rtmp_dub_bridge_t;
typedef struct ngx_rtmp_dub_lang_s    ngx_rtmp_dub_lang_t;


/* per session: a publisher we dub, or one of our output sessions */

typedef struct {
    ngx_rtmp_dub_bridge_t      *bridge;
    ngx_rtmp_dub_lang_t        *lang;       /* an output's language */
    unsigned                    output:1;
} ngx_rtmp_dub_ctx_t;


extern ngx_module_t  ngx_rtmp_dub_module;


#endif /* _NGX_RTMP_DUB_MODULE_H_INCLUDED_ */
