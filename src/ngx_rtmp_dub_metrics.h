
/*
 * Copyright (C) nginx-dub developers
 *
 * The metrics store: a shared memory zone ("dub_metrics_zone") that every
 * worker writes its streams' numbers into and that any worker answering
 * /metrics reads.  A slot per stream, atomics for the numbers; the zone
 * outlives "nginx -s reload".
 */


#ifndef _NGX_RTMP_DUB_METRICS_H_INCLUDED_
#define _NGX_RTMP_DUB_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "dub_json.h"
#include "dub_reason.h"
#include "dub_status.h"


/* the histograms' bucket bounds, in microseconds */
#define NGX_RTMP_DUB_RTT_BOUNDS                                              \
    50000, 100000, 250000, 500000, 1000000, 2000000, 4000000, 8000000
#define NGX_RTMP_DUB_RTT_BUCKETS    8
#define NGX_RTMP_DUB_LAG_BOUNDS                                              \
    1000, 2000, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000
#define NGX_RTMP_DUB_LAG_BUCKETS    10

#define NGX_RTMP_DUB_SLOT_ACTIVE    1
#define NGX_RTMP_DUB_SLOT_ENDED     2

/*
 * "app/name": an application name, and a stream name of NGX_RTMP_MAX_NAME
 * bytes encoded (dub_name.h: 3 bytes each at most), rounded up to 8
 */
#define NGX_RTMP_DUB_KEY_LEN        1032
#define NGX_RTMP_DUB_LANG_LEN       32
#define NGX_RTMP_DUB_APP_LEN        256     /* nginx-rtmp's limit */
#define NGX_RTMP_DUB_ENDPOINT_LEN   128     /* longer URLs are cut */


typedef struct {
    ngx_atomic_t                state;
    ngx_atomic_t                ended_at;       /* Unix seconds */
    ngx_atomic_t                pid;

    u_char                      stream[NGX_RTMP_DUB_KEY_LEN];
    u_char                      lang[NGX_RTMP_DUB_LANG_LEN];
    u_char                      output[NGX_RTMP_DUB_APP_LEN];
    ngx_atomic_t                app_len;        /* "app" of "app/name" */

    /* for dub_status: the stream, and its last segment out */
    ngx_atomic_t                publishing;     /* a publisher is there */
    ngx_atomic_t                since;          /* it started, Unix s */
    ngx_atomic_t                delay_ms;
    ngx_atomic_t                segment_ms;
    ngx_atomic_t                last;           /* DUB_STATUS_* */

    ngx_atomic_t                segments[2];    /* video, audio */
    ngx_atomic_t                sent;
    ngx_atomic_t                processed[DUB_STATUS_N];
    ngx_atomic_t                fallbacks[DUB_FB_LAST];
    ngx_atomic_t                dubbed;
    ngx_atomic_t                inflight;
    ngx_atomic_t                rtt[NGX_RTMP_DUB_RTT_BUCKETS];
    ngx_atomic_t                rtt_count;
    ngx_atomic_t                rtt_sum_us;
    ngx_atomic_t                av_delta_us;
    ngx_atomic_t                breaker;        /* 0 closed 1 half 2 open */
    ngx_atomic_t                breaker_opens;
    ngx_atomic_t                backpressure[DUB_BP_N];
    ngx_atomic_t                reconnects;
    ngx_atomic_t                connected;

    /*
     * the STS endpoint its session uses ("" none), as a label carries it;
     * its worker's event loop writes it, with the count odd meanwhile
     */
    ngx_atomic_t                endpoint_seq;
    u_char                      endpoint[NGX_RTMP_DUB_ENDPOINT_LEN];

    ngx_atomic_t                output_delay_ms;
    ngx_atomic_t                late_answers;
    ngx_atomic_t                duplicate_answers;
    ngx_atomic_t                log_suppressed;
} ngx_rtmp_dub_mslot_t;


typedef struct {
    ngx_atomic_t                lag[NGX_RTMP_DUB_LAG_BUCKETS];
    ngx_atomic_t                lag_count;
    ngx_atomic_t                lag_sum_us;
    ngx_atomic_t                untracked;
    ngx_atomic_t                reloads;
    time_t                      retain;
    ngx_uint_t                  nslots;
    ngx_rtmp_dub_mslot_t       *slots;
} ngx_rtmp_dub_mshm_t;


/* the rtmp main configuration of the module */

typedef struct {
    ngx_shm_zone_t             *zone;
    ngx_str_t                   zone_name;
    size_t                      zone_size;
    ngx_uint_t                  max_streams;
    time_t                      retain;
} ngx_rtmp_dub_main_conf_t;


extern const uint64_t  ngx_rtmp_dub_rtt_bounds[NGX_RTMP_DUB_RTT_BUCKETS];
extern const uint64_t  ngx_rtmp_dub_lag_bounds[NGX_RTMP_DUB_LAG_BUCKETS];


char *ngx_rtmp_dub_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the zone's data, NULL without a zone or before it is set up */
ngx_rtmp_dub_mshm_t *ngx_rtmp_dub_metrics_shm(ngx_shm_zone_t *zone);

ngx_rtmp_dub_mslot_t *ngx_rtmp_dub_metrics_open(ngx_shm_zone_t *zone,
    ngx_str_t *app, ngx_str_t *name, ngx_str_t *lang, ngx_str_t *output,
    ngx_log_t *log);
void ngx_rtmp_dub_metrics_close(ngx_rtmp_dub_mslot_t *slot);

/* a publisher came, with the application's delay and segment; or went */
void ngx_rtmp_dub_metrics_publish(ngx_rtmp_dub_mslot_t *slot,
    ngx_msec_t delay, ngx_msec_t segment);
void ngx_rtmp_dub_metrics_unpublish(ngx_rtmp_dub_mslot_t *slot);

/* is the slot shown: active, or ended less than "retain" ago */
ngx_uint_t ngx_rtmp_dub_metrics_shown(ngx_rtmp_dub_mslot_t *slot,
    time_t retain, time_t now);

/* the STS endpoint the stream's session uses now; NULL: none */
void ngx_rtmp_dub_metrics_endpoint(ngx_rtmp_dub_mslot_t *slot,
    ngx_str_t *url);
/* a copy of it into "dst" (NUL-terminated), its length; 0: none */
size_t ngx_rtmp_dub_metrics_endpoint_get(ngx_rtmp_dub_mslot_t *slot,
    u_char *dst, size_t size);

void ngx_rtmp_dub_metrics_rtt(ngx_rtmp_dub_mslot_t *slot, ngx_msec_t rtt);
void ngx_rtmp_dub_metrics_lag(ngx_rtmp_dub_mshm_t *shm, uint64_t us);


#define ngx_rtmp_dub_stat_add(slot, field, n)                                \
    if (slot) {                                                              \
        (void) ngx_atomic_fetch_add(&(slot)->field, n);                      \
    }

#define ngx_rtmp_dub_stat_set(slot, field, v)                                \
    if (slot) {                                                              \
        (slot)->field = (ngx_atomic_uint_t) (v);                             \
    }


#endif /* _NGX_RTMP_DUB_METRICS_H_INCLUDED_ */
