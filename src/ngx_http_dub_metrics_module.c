
/*
 * Copyright (C) nginx-dub developers
 *
 * "dub_metrics": the Prometheus text of the "dub_metrics_zone" shared by
 * every worker, so that whichever worker answers reports every stream;
 * "dub_status": the same zone as JSON, a stream and its languages at a
 * time (docs/status.md).  Also, per worker, the event-loop lag: how late
 * a periodic timer fires.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libavutil/avutil.h>

#include "ngx_rtmp_dub_module.h"
#include "ngx_rtmp_dub_uv.h"
#include "dub_prom.h"
#include "dub_status.h"


#define NGX_HTTP_DUB_LAG_PERIOD     100     /* ms */


typedef struct {
    ngx_shm_zone_t             *zone;
} ngx_http_dub_metrics_loc_conf_t;


/* a zone served, and by which directive, for the check's message */

typedef struct {
    ngx_shm_zone_t             *zone;
    ngx_str_t                   directive;
} ngx_http_dub_zone_use_t;


typedef struct {
    ngx_array_t                 uses;       /* ngx_http_dub_zone_use_t */
} ngx_http_dub_metrics_main_conf_t;


/* a histogram of the zone: "name" without _bucket, _sum or _count */

typedef struct {
    const char                 *name;
    const uint64_t             *bounds;     /* microseconds */
    ngx_uint_t                  n;
    ngx_atomic_t               *buckets;
    ngx_atomic_t               *count;
    ngx_atomic_t               *sum_us;
} ngx_http_dub_histogram_t;


typedef struct ngx_http_dub_series_s  ngx_http_dub_series_t;


/* the shown slots of the zone */

#define ngx_http_dub_each(shm, now, slot)                                    \
    for (slot = shm->slots; slot < shm->slots + shm->nslots; slot++)         \
        if (ngx_rtmp_dub_metrics_shown(slot, shm->retain, now))


static void *ngx_http_dub_metrics_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_dub_metrics_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_dub_metrics_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_dub_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dub_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_dub_zone_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_dub_metrics_loc_conf_t *mlcf, ngx_http_handler_pt handler);
static ngx_int_t ngx_http_dub_metrics_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_dub_status_handler(ngx_http_request_t *r);
static ngx_rtmp_dub_mshm_t *ngx_http_dub_zone(ngx_http_request_t *r,
    ngx_int_t *rc);
static ngx_int_t ngx_http_dub_send(ngx_http_request_t *r, dub_buf_t *b,
    char *type, ngx_uint_t no_store);
static ngx_int_t ngx_http_dub_status_body(ngx_http_request_t *r,
    ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b);
static void ngx_http_dub_status_copy(ngx_http_request_t *r,
    ngx_rtmp_dub_mslot_t *s, dub_status_slot_t *d);
static ngx_int_t ngx_http_dub_metrics_render(ngx_shm_zone_t *zone,
    ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b);
static void ngx_http_dub_metrics_build_info(dub_buf_t *b);
static void ngx_http_dub_metrics_zone_info(ngx_shm_zone_t *zone,
    ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b, ngx_uint_t shown,
    ngx_uint_t active);
static void ngx_http_dub_metrics_histogram(dub_buf_t *b,
    ngx_http_dub_histogram_t *h, const char **l, ngx_uint_t n);
static ngx_int_t ngx_http_dub_metrics_streams(ngx_rtmp_dub_mshm_t *shm,
    dub_buf_t *b, time_t now);
static void ngx_http_dub_metrics_series(ngx_rtmp_dub_mshm_t *shm,
    dub_buf_t *b, time_t now, ngx_http_dub_series_t *m);
static void ngx_http_dub_metrics_endpoints(ngx_rtmp_dub_mshm_t *shm,
    dub_buf_t *b, time_t now);
static ngx_int_t ngx_http_dub_metrics_init_process(ngx_cycle_t *cycle);
static void ngx_http_dub_metrics_lag(ngx_event_t *ev);
static char *ngx_http_dub_metrics_check(ngx_cycle_t *cycle, void *conf);


static ngx_command_t  ngx_http_dub_metrics_commands[] = {

    { ngx_string("dub_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_dub_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("dub_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_dub_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_dub_metrics_module_ctx = {
    NULL,                                   /* preconfiguration */
    NULL,                                   /* postconfiguration */

    ngx_http_dub_metrics_create_main_conf,  /* create main configuration */
    NULL,                                   /* init main configuration */

    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */

    ngx_http_dub_metrics_create_loc_conf,   /* create location configuration */
    ngx_http_dub_metrics_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_dub_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_dub_metrics_module_ctx,       /* module context */
    ngx_http_dub_metrics_commands,          /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    ngx_http_dub_metrics_init_process,      /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * A core module with nothing but a check once the whole configuration is
 * read, whatever the order of its http and rtmp blocks: each zone that
 * "dub_metrics" or "dub_status" serves is defined by a
 * "dub_metrics_zone".
 */

static ngx_core_module_t  ngx_http_dub_metrics_check_module_ctx = {
    ngx_string("dub_metrics_check"),
    NULL,
    ngx_http_dub_metrics_check
};


ngx_module_t  ngx_http_dub_metrics_check_module = {
    NGX_MODULE_V1,
    &ngx_http_dub_metrics_check_module_ctx, /* module context */
    NULL,                                   /* module directives */
    NGX_CORE_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the lag timer of this worker */

static ngx_event_t      ngx_http_dub_lag_ev;
static ngx_shm_zone_t  *ngx_http_dub_lag_zone;
static uint64_t         ngx_http_dub_lag_due;


static void *
ngx_http_dub_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_dub_metrics_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_dub_metrics_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mmcf->uses, cf->pool, 2,
                       sizeof(ngx_http_dub_zone_use_t))
        != NGX_OK)
    {
        return NULL;
    }

    return mmcf;
}


static void *
ngx_http_dub_metrics_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_dub_metrics_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_dub_metrics_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    mlcf->zone = NGX_CONF_UNSET_PTR;

    return mlcf;
}


static char *
ngx_http_dub_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_dub_metrics_loc_conf_t  *prev = parent;
    ngx_http_dub_metrics_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);

    return NGX_CONF_OK;
}


/* dub_metrics [zone]; */

static char *
ngx_http_dub_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_dub_zone_conf(cf, cmd, conf,
                                  ngx_http_dub_metrics_handler);
}


/* dub_status [zone]; */

static char *
ngx_http_dub_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_http_dub_zone_conf(cf, cmd, conf, ngx_http_dub_status_handler);
}


/*
 * The location's zone, "dub_metrics_zone" of the rtmp block, "dub" unless
 * named (nginx refuses to start if no such zone is defined), and its
 * handler: a location has one of the two directives.
 */

static char *
ngx_http_dub_zone_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    ngx_http_dub_metrics_loc_conf_t *mlcf, ngx_http_handler_pt handler)
{
    ngx_str_t                         *value, name;
    ngx_http_dub_zone_use_t           *use;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_dub_metrics_main_conf_t  *mmcf;

    if (mlcf->zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts > 1) {
        name = value[1];

    } else {
        ngx_str_set(&name, "dub");
    }

    mlcf->zone = ngx_shared_memory_add(cf, &name, 0, &ngx_rtmp_dub_module);
    if (mlcf->zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_dub_metrics_module);

    use = ngx_array_push(&mmcf->uses);
    if (use == NULL) {
        return NGX_CONF_ERROR;
    }

    use->zone = mlcf->zone;
    use->directive = cmd->name;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = handler;

    return NGX_CONF_OK;
}


/*
 * "dub_metrics" and "dub_status" add their zone with no size;
 * "dub_metrics_zone" gives it one.  A zone still without a size was never
 * defined: say so, rather than nginx's "zero size shared memory zone".
 */

static char *
ngx_http_dub_metrics_check(ngx_cycle_t *cycle, void *conf)
{
    ngx_str_t                         *directive;
    ngx_uint_t                         i, k;
    ngx_list_part_t                   *part;
    ngx_shm_zone_t                    *zone;
    ngx_http_dub_zone_use_t           *use;
    ngx_http_dub_metrics_main_conf_t  *mmcf;
    static ngx_str_t                   metrics = ngx_string("dub_metrics");

    part = &cycle->shared_memory.part;
    zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            zone = part->elts;
            i = 0;
        }

        if (zone[i].tag != &ngx_rtmp_dub_module || zone[i].shm.size) {
            continue;
        }

        /* the first directive that serves it */

        directive = &metrics;
        mmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                   ngx_http_dub_metrics_module);

        if (mmcf) {
            use = mmcf->uses.elts;

            for (k = 0; k < mmcf->uses.nelts; k++) {
                if (use[k].zone == &zone[i]) {
                    directive = &use[k].directive;
                    break;
                }
            }
        }

        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "\"%V\" serves the zone \"%V\", which no "
                      "\"dub_metrics_zone\" defines: add "
                      "\"dub_metrics_zone %V 4m;\" to the rtmp block",
                      directive, &zone[i].shm.name, &zone[i].shm.name);

        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_dub_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    dub_buf_t                         b;
    ngx_rtmp_dub_mshm_t              *shm;
    ngx_http_dub_metrics_loc_conf_t  *mlcf;

    shm = ngx_http_dub_zone(r, &rc);
    if (shm == NULL) {
        return rc;
    }

    if (dub_buf_init(&b, 0, 65536, 0) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_dub_metrics_module);

    if (ngx_http_dub_metrics_render(mlcf->zone, shm, &b) != NGX_OK) {
        dub_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_dub_send(r, &b, DUB_PROM_CONTENT_TYPE, 0);

    dub_buf_free(&b);

    return rc;
}


static ngx_int_t
ngx_http_dub_status_handler(ngx_http_request_t *r)
{
    ngx_int_t             rc;
    dub_buf_t             b;
    ngx_rtmp_dub_mshm_t  *shm;

    shm = ngx_http_dub_zone(r, &rc);
    if (shm == NULL) {
        return rc;
    }

    if (dub_buf_init(&b, 0, 16384, 0) != 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_dub_status_body(r, shm, &b) != NGX_OK) {
        dub_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_dub_send(r, &b, "application/json", 1);

    dub_buf_free(&b);

    return rc;
}


/*
 * What both handlers check first: GET or HEAD, and the location's zone;
 * NULL with the status to answer otherwise.
 */

static ngx_rtmp_dub_mshm_t *
ngx_http_dub_zone(ngx_http_request_t *r, ngx_int_t *rc)
{
    ngx_rtmp_dub_mshm_t              *shm;
    ngx_http_dub_metrics_loc_conf_t  *mlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        *rc = NGX_HTTP_NOT_ALLOWED;
        return NULL;
    }

    *rc = ngx_http_discard_request_body(r);
    if (*rc != NGX_OK) {
        return NULL;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_dub_metrics_module);

    shm = ngx_rtmp_dub_metrics_shm(mlcf->zone);

    if (shm == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "dub: zone \"%V\" is not a \"dub_metrics_zone\"",
                      &mlcf->zone->shm.name);
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return shm;
}


/* the body, copied into the request's pool, its type, and never cached */

static ngx_int_t
ngx_http_dub_send(ngx_http_request_t *r, dub_buf_t *b, char *type,
    ngx_uint_t no_store)
{
    ngx_int_t         rc;
    ngx_buf_t        *buf;
    ngx_chain_t       out;
    ngx_table_elt_t  *h;

    buf = ngx_create_temp_buf(r->pool, b->len ? b->len : 1);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    buf->last = ngx_cpymem(buf->pos, b->data, b->len);
    buf->last_buf = (r == r->main) ? 1 : 0;
    buf->last_in_chain = 1;

    if (no_store) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Cache-Control");
        ngx_str_set(&h->value, "no-store");
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = buf->last - buf->pos;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = buf;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * The zone's shown slots copied, each at once, then written as JSON: a
 * slot may be taken for another stream while this runs, without a lock,
 * and what is sorted and grouped must not change meanwhile.
 */

static ngx_int_t
ngx_http_dub_status_body(ngx_http_request_t *r, ngx_rtmp_dub_mshm_t *shm,
    dub_buf_t *b)
{
    time_t                 now;
    ngx_uint_t             n, max;
    dub_status_slot_t     *slots;
    ngx_rtmp_dub_mslot_t  *s;

    now = ngx_time();
    max = 0;

    ngx_http_dub_each(shm, now, s) {
        max++;
    }

    slots = NULL;

    if (max) {
        slots = ngx_palloc(r->pool, max * sizeof(dub_status_slot_t));
        if (slots == NULL) {
            return NGX_ERROR;
        }
    }

    n = 0;

    ngx_http_dub_each(shm, now, s) {
        if (n == max) {
            break;
        }

        ngx_http_dub_status_copy(r, s, &slots[n]);

        if (slots[n].stream == NULL) {
            return NGX_ERROR;
        }

        n++;
    }

    if (dub_status_json(b, NGX_RTMP_DUB_VERSION, slots, n) != 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a slot's strings, bounded and terminated, and its numbers */

static void
ngx_http_dub_status_copy(ngx_http_request_t *r, ngx_rtmp_dub_mslot_t *s,
    dub_status_slot_t *d)
{
    size_t       len[4];
    u_char      *p, url[NGX_RTMP_DUB_ENDPOINT_LEN];
    ngx_uint_t   i;

    len[0] = ngx_strnlen(s->stream, sizeof(s->stream) - 1);
    len[1] = ngx_strnlen(s->lang, sizeof(s->lang) - 1);
    len[2] = ngx_strnlen(s->output, sizeof(s->output) - 1);
    len[3] = ngx_rtmp_dub_metrics_endpoint_get(s, url, sizeof(url));

    p = ngx_pnalloc(r->pool, len[0] + len[1] + len[2] + len[3] + 4);
    if (p == NULL) {
        d->stream = NULL;
        return;
    }

    d->stream = (char *) p;
    p = ngx_cpymem(p, s->stream, len[0]);
    *p++ = '\0';

    d->lang = (char *) p;
    p = ngx_cpymem(p, s->lang, len[1]);
    *p++ = '\0';

    d->output = (char *) p;
    p = ngx_cpymem(p, s->output, len[2]);
    *p++ = '\0';

    /* the session's endpoint; its session clears it when it ends */

    d->endpoint = NULL;

    if (len[3]) {
        d->endpoint = (char *) p;
        p = ngx_cpymem(p, url, len[3]);
        *p = '\0';
    }

    d->app_len = ngx_min((size_t) s->app_len, len[0]);

    d->publishing = (s->state == NGX_RTMP_DUB_SLOT_ACTIVE && s->publishing);
    d->since = (int64_t) s->since;
    d->delay_ms = s->delay_ms;
    d->segment_ms = s->segment_ms;

    d->last = s->last;
    d->connected = (s->connected != 0);
    d->breaker = s->breaker;
    d->in_flight = s->inflight;

    d->segments = s->segments[1];
    d->dubbed = s->dubbed;
    d->fallbacks = 0;

    for (i = 0; i < DUB_FB_LAST; i++) {
        d->fallbacks += s->fallbacks[i];
    }
}


static ngx_int_t
ngx_http_dub_metrics_render(ngx_shm_zone_t *zone, ngx_rtmp_dub_mshm_t *shm,
    dub_buf_t *b)
{
    time_t                     now;
    ngx_uint_t                 active, ended;
    const char                *l[3];
    ngx_rtmp_dub_mslot_t      *s;
    ngx_http_dub_histogram_t   h;

    now = ngx_time();

    ngx_http_dub_metrics_build_info(b);

    active = 0;
    ended = 0;

    ngx_http_dub_each(shm, now, s) {
        if (s->state == NGX_RTMP_DUB_SLOT_ACTIVE) {
            active++;

        } else {
            ended++;
        }
    }

    (void) dub_prom_family(b, "nginx_dub_streams_active", "gauge",
                           "Streams being dubbed now, in every worker.");
    (void) dub_prom_sample(b, "nginx_dub_streams_active", NULL,
                           (double) active);

    if (ngx_http_dub_metrics_streams(shm, b, now) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the event loop, all workers */

    (void) dub_prom_family(b, "nginx_dub_event_loop_lag_seconds",
                           "histogram", "How late a 100 ms timer fires in "
                           "the workers: time the event loop was busy "
                           "elsewhere.");

    h.name = "nginx_dub_event_loop_lag_seconds";
    h.bounds = ngx_rtmp_dub_lag_bounds;
    h.n = NGX_RTMP_DUB_LAG_BUCKETS;
    h.buckets = shm->lag;
    h.count = &shm->lag_count;
    h.sum_us = &shm->lag_sum_us;

    ngx_http_dub_metrics_histogram(b, &h, l, 0);

    ngx_http_dub_metrics_zone_info(zone, shm, b, active + ended, active);

    return b->failed ? NGX_ERROR : NGX_OK;
}


static void
ngx_http_dub_metrics_build_info(dub_buf_t *b)
{
    char         nginx[32], lws[64];
    ngx_uint_t   i;
    const char  *labels[12];

    ngx_cpystrn((u_char *) nginx, (u_char *) NGINX_VERSION, sizeof(nginx));
    ngx_cpystrn((u_char *) lws, (u_char *) lws_get_library_version(),
                sizeof(lws));

    /* "4.1.6-" or "4.1.6-v4.1.6": the version number alone */
    for (i = 0; lws[i] && ((lws[i] >= '0' && lws[i] <= '9') || lws[i] == '.');
         i++)
    {
        /* void */
    }

    lws[i] = '\0';

    labels[0] = "version";
    labels[1] = NGX_RTMP_DUB_VERSION;
    labels[2] = "nginx";
    labels[3] = nginx;
    labels[4] = "ffmpeg";
    labels[5] = av_version_info();
    labels[6] = "libwebsockets";
    labels[7] = lws;
    labels[8] = "libuv";
    labels[9] = uv_version_string();
    labels[10] = NULL;

    (void) dub_prom_family(b, "nginx_dub_build_info", "gauge",
                           "Versions of the dubbing module and its "
                           "libraries.");
    (void) dub_prom_sample(b, "nginx_dub_build_info", labels, 1);
}


/* the zone: its size, use and streams */

static void
ngx_http_dub_metrics_zone_info(ngx_shm_zone_t *zone,
    ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b, ngx_uint_t shown,
    ngx_uint_t active)
{
    char         zname[64];
    const char  *labels[6];

    ngx_cpystrn((u_char *) zname, zone->shm.name.data,
                ngx_min(zone->shm.name.len + 1, sizeof(zname)));

    labels[0] = "zone";
    labels[1] = zname;
    labels[2] = NULL;

    (void) dub_prom_family(b, "nginx_dub_metrics_zone_size_bytes", "gauge",
                           "Size of the dub_metrics_zone.");
    (void) dub_prom_sample_u64(b, "nginx_dub_metrics_zone_size_bytes",
                               labels, zone->shm.size);

    (void) dub_prom_family(b, "nginx_dub_metrics_zone_used_bytes", "gauge",
                           "Bytes of the zone in use by its stream slots.");
    (void) dub_prom_sample_u64(b, "nginx_dub_metrics_zone_used_bytes",
                               labels, sizeof(ngx_rtmp_dub_mshm_t)
                                       + shown * sizeof(ngx_rtmp_dub_mslot_t));

    (void) dub_prom_family(b, "nginx_dub_metrics_zone_max_streams", "gauge",
                           "Streams the zone has room for (max_streams).");
    (void) dub_prom_sample_u64(b, "nginx_dub_metrics_zone_max_streams",
                               labels, shm->nslots);

    (void) dub_prom_family(b, "nginx_dub_metrics_zone_streams", "gauge",
                           "Streams shown: active, or ended less than "
                           "retain ago.");
    labels[2] = "state";
    labels[3] = "active";
    labels[4] = NULL;
    (void) dub_prom_sample_u64(b, "nginx_dub_metrics_zone_streams", labels,
                               active);
    labels[3] = "ended";
    (void) dub_prom_sample_u64(b, "nginx_dub_metrics_zone_streams", labels,
                               shown - active);
    labels[2] = NULL;

    (void) dub_prom_family(b, "nginx_dub_streams_untracked_total", "counter",
                           "Streams dubbed without metrics: the zone had no "
                           "free slot.");
    (void) dub_prom_sample_u64(b, "nginx_dub_streams_untracked_total",
                               labels, shm->untracked);
}


/*
 * A histogram's samples, after the labels l[0] .. l[n - 1] ("l" has room
 * for three more): a bucket per bound and "+Inf", the sum in seconds, the
 * count.
 */

static void
ngx_http_dub_metrics_histogram(dub_buf_t *b, ngx_http_dub_histogram_t *h,
    const char **l, ngx_uint_t n)
{
    char        bucket[64], sum[64], count[64], bound[16];
    uint64_t    cum;
    ngx_uint_t  i;

    ngx_snprintf((u_char *) bucket, sizeof(bucket), "%s_bucket%Z", h->name);
    ngx_snprintf((u_char *) sum, sizeof(sum), "%s_sum%Z", h->name);
    ngx_snprintf((u_char *) count, sizeof(count), "%s_count%Z", h->name);

    l[n] = "le";
    l[n + 1] = bound;
    l[n + 2] = NULL;
    cum = 0;

    for (i = 0; i < h->n; i++) {
        cum += h->buckets[i];
        dub_prom_seconds(bound, sizeof(bound), h->bounds[i]);
        (void) dub_prom_sample_u64(b, bucket, l, cum);
    }

    l[n + 1] = "+Inf";
    (void) dub_prom_sample_u64(b, bucket, l, *h->count);

    l[n] = NULL;
    (void) dub_prom_sample(b, sum, l, (double) *h->sum_us / 1000000);
    (void) dub_prom_sample_u64(b, count, l, *h->count);
}


/*
 * The per-stream families: a series per shown stream, and per value of a
 * label for the counters kept as arrays in the slot.
 */

struct ngx_http_dub_series_s {
    const char                  *name;
    const char                  *type;
    const char                  *help;
    size_t                       offset;    /* into ngx_rtmp_dub_mslot_t */
    const char                  *label;     /* NULL: one value */
    const char           *const *values;
    ngx_uint_t                   n;
    ngx_uint_t                   divisor;   /* 0: the integer as it is */
};


static const char  *const ngx_http_dub_tracks[] = { "video", "audio" };

#define ngx_http_dub_slot(field)  offsetof(ngx_rtmp_dub_mslot_t, field)

static ngx_http_dub_series_t  ngx_http_dub_series[] = {

    { "nginx_dub_segments_total", "counter",
      "Segments cut, by track they carry.",
      ngx_http_dub_slot(segments), "track", ngx_http_dub_tracks, 2, 0 },

    { "nginx_dub_fragments_sent_total", "counter",
      "Fragments sent to the STS.",
      ngx_http_dub_slot(sent), NULL, NULL, 1, 0 },

    { "nginx_dub_fragments_processed_total", "counter",
      "fragment:processed answers, by status.",
      ngx_http_dub_slot(processed), "status",
      dub_json_status_names, DUB_STATUS_N, 0 },

    { "nginx_dub_segments_dubbed_total", "counter",
      "Segments that went out with dubbed audio.",
      ngx_http_dub_slot(dubbed), NULL, NULL, 1, 0 },

    { "nginx_dub_fallbacks_total", "counter",
      "Segments that went out with their original audio, by reason.",
      ngx_http_dub_slot(fallbacks), "reason",
      dub_fallback_names, DUB_FB_LAST, 0 },

    { "nginx_dub_fragments_inflight", "gauge",
      "Fragments sent and not answered yet.",
      ngx_http_dub_slot(inflight), NULL, NULL, 1, 0 },

    { "nginx_dub_av_sync_delta_seconds", "gauge",
      "Audio against video at the start of the last segment out.",
      ngx_http_dub_slot(av_delta_us), NULL, NULL, 1, 1000000 },

    { "nginx_dub_breaker_state", "gauge",
      "Circuit breaker: 0 closed, 1 half-open, 2 open.",
      ngx_http_dub_slot(breaker), NULL, NULL, 1, 0 },

    { "nginx_dub_breaker_opens_total", "counter",
      "Times the circuit breaker opened.",
      ngx_http_dub_slot(breaker_opens), NULL, NULL, 1, 0 },

    { "nginx_dub_backpressure_events_total", "counter",
      "backpressure events from the STS, by action.",
      ngx_http_dub_slot(backpressure), "action",
      dub_json_bp_names, DUB_BP_N, 0 },

    { "nginx_dub_sts_reconnects_total", "counter",
      "Attempts to connect to the STS again.",
      ngx_http_dub_slot(reconnects), NULL, NULL, 1, 0 },

    { "nginx_dub_sts_connected", "gauge",
      "1 while the stream has a ready STS session.",
      ngx_http_dub_slot(connected), NULL, NULL, 1, 0 },

    { "nginx_dub_output_delay_seconds", "gauge",
      "How far the output runs behind the input.",
      ngx_http_dub_slot(output_delay_ms), NULL, NULL, 1, 1000 },

    { "nginx_dub_late_answers_total", "counter",
      "fragment:processed answers after their output time, dropped.",
      ngx_http_dub_slot(late_answers), NULL, NULL, 1, 0 },

    { "nginx_dub_duplicate_answers_total", "counter",
      "Second answers for a fragment already answered, dropped.",
      ngx_http_dub_slot(duplicate_answers), NULL, NULL, 1, 0 },

    { "nginx_dub_sts_log_suppressed_total", "counter",
      "Log lines caused by the STS and held back by the rate limit.",
      ngx_http_dub_slot(log_suppressed), NULL, NULL, 1, 0 },

    { NULL, NULL, NULL, 0, NULL, NULL, 0, 0 }
};


static ngx_int_t
ngx_http_dub_metrics_streams(ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b,
    time_t now)
{
    const char                *l[8];
    ngx_rtmp_dub_mslot_t      *s;
    ngx_http_dub_series_t     *m;
    ngx_http_dub_histogram_t   h;

    for (m = ngx_http_dub_series; m->name; m++) {
        ngx_http_dub_metrics_series(shm, b, now, m);
    }

    ngx_http_dub_metrics_endpoints(shm, b, now);

    (void) dub_prom_family(b, "nginx_dub_sts_rtt_seconds", "histogram",
                           "From fragment:data sent to fragment:processed "
                           "received.");

    h.name = "nginx_dub_sts_rtt_seconds";
    h.bounds = ngx_rtmp_dub_rtt_bounds;
    h.n = NGX_RTMP_DUB_RTT_BUCKETS;

    l[0] = "stream";
    l[2] = "lang";

    ngx_http_dub_each(shm, now, s) {
        l[1] = (char *) s->stream;
        l[3] = (char *) s->lang;

        h.buckets = s->rtt;
        h.count = &s->rtt_count;
        h.sum_us = &s->rtt_sum_us;

        ngx_http_dub_metrics_histogram(b, &h, l, 4);
    }

    return b->failed ? NGX_ERROR : NGX_OK;
}


/*
 * The STS endpoint of each stream's session, labelled: 1 while the
 * session is ready there, 0 while it connects; "sum by (endpoint)" counts
 * each endpoint's ready sessions.  A stream without a session (ended, or
 * with no STS) has none: the session clears it as it goes.
 */

static void
ngx_http_dub_metrics_endpoints(ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b,
    time_t now)
{
    u_char                 url[NGX_RTMP_DUB_ENDPOINT_LEN];
    const char            *l[8];
    ngx_rtmp_dub_mslot_t  *s;

    (void) dub_prom_family(b, "nginx_dub_sts_endpoint", "gauge",
                           "The STS endpoint of the stream's session: 1 "
                           "while ready there, 0 while connecting.");

    l[0] = "stream";
    l[2] = "lang";
    l[4] = "endpoint";
    l[5] = (char *) url;
    l[6] = NULL;

    ngx_http_dub_each(shm, now, s) {
        if (ngx_rtmp_dub_metrics_endpoint_get(s, url, sizeof(url)) == 0) {
            continue;
        }

        l[1] = (char *) s->stream;
        l[3] = (char *) s->lang;

        (void) dub_prom_sample_u64(b, "nginx_dub_sts_endpoint", l,
                                   s->connected != 0);
    }
}


/* a family of the table: a series per shown stream (and label value) */

static void
ngx_http_dub_metrics_series(ngx_rtmp_dub_mshm_t *shm, dub_buf_t *b,
    time_t now, ngx_http_dub_series_t *m)
{
    ngx_uint_t             i;
    const char            *l[8];
    ngx_atomic_t          *v;
    ngx_rtmp_dub_mslot_t  *s;

    (void) dub_prom_family(b, m->name, m->type, m->help);

    l[0] = "stream";
    l[2] = "lang";

    ngx_http_dub_each(shm, now, s) {
        l[1] = (char *) s->stream;
        l[3] = (char *) s->lang;
        l[4] = m->label;
        l[6] = NULL;

        v = (ngx_atomic_t *) ((u_char *) s + m->offset);

        for (i = 0; i < m->n; i++) {
            l[5] = m->label ? m->values[i] : NULL;

            if (m->divisor) {
                (void) dub_prom_sample(b, m->name, l,
                                       (double) v[i] / m->divisor);

            } else {
                (void) dub_prom_sample_u64(b, m->name, l, v[i]);
            }
        }
    }
}


/*
 * Per worker: a timer every 100 ms, and how late it fires measured on the
 * monotonic clock, into the zone's histogram.
 */

static ngx_int_t
ngx_http_dub_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_rtmp_core_srv_conf_t  **cscfp;
    ngx_rtmp_dub_main_conf_t   *dmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    if (ngx_rtmp_core_main_conf == NULL
        || ngx_rtmp_core_main_conf->servers.nelts == 0)
    {
        return NGX_OK;
    }

    cscfp = ngx_rtmp_core_main_conf->servers.elts;
    dmcf = cscfp[0]->ctx->main_conf[ngx_rtmp_dub_module.ctx_index];

    if (dmcf == NULL || dmcf->zone == NULL) {
        return NGX_OK;
    }

    ngx_http_dub_lag_zone = dmcf->zone;

    ngx_http_dub_lag_ev.handler = ngx_http_dub_metrics_lag;
    ngx_http_dub_lag_ev.log = cycle->log;
    ngx_http_dub_lag_ev.cancelable = 1;

    ngx_http_dub_lag_due = 0;

    ngx_add_timer(&ngx_http_dub_lag_ev, NGX_HTTP_DUB_LAG_PERIOD);

    return NGX_OK;
}


static void
ngx_http_dub_metrics_lag(ngx_event_t *ev)
{
    uint64_t              now, lag;
    struct timespec       ts;
    ngx_rtmp_dub_mshm_t  *shm;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;

    shm = ngx_rtmp_dub_metrics_shm(ngx_http_dub_lag_zone);

    if (shm && ngx_http_dub_lag_due) {
        lag = now > ngx_http_dub_lag_due ? now - ngx_http_dub_lag_due : 0;
        ngx_rtmp_dub_metrics_lag(shm, lag);
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_http_dub_lag_due = now + NGX_HTTP_DUB_LAG_PERIOD * 1000;

    ngx_add_timer(ev, NGX_HTTP_DUB_LAG_PERIOD);
}
