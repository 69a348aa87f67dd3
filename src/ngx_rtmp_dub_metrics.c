
/*
 * Copyright (C) nginx-dub developers
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_module.h"
#include "dub_name.h"


static ngx_int_t ngx_rtmp_dub_metrics_param(ngx_conf_t *cf,
    ngx_rtmp_dub_main_conf_t *dmcf, ngx_str_t *param);
static ngx_int_t ngx_rtmp_dub_metrics_add_zone(ngx_conf_t *cf,
    ngx_rtmp_dub_main_conf_t *dmcf, ngx_str_t *name, size_t size);
static ngx_int_t ngx_rtmp_dub_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_rtmp_dub_mslot_t *ngx_rtmp_dub_metrics_find(
    ngx_rtmp_dub_mshm_t *shm, u_char *key, ngx_str_t *lang);
static void ngx_rtmp_dub_metrics_observe(ngx_atomic_t *buckets,
    const uint64_t *bounds, ngx_uint_t n, ngx_atomic_t *count,
    ngx_atomic_t *sum, uint64_t us);


const uint64_t  ngx_rtmp_dub_rtt_bounds[] = { NGX_RTMP_DUB_RTT_BOUNDS };
const uint64_t  ngx_rtmp_dub_lag_bounds[] = { NGX_RTMP_DUB_LAG_BOUNDS };

_Static_assert(sizeof(ngx_rtmp_dub_rtt_bounds)
               == NGX_RTMP_DUB_RTT_BUCKETS * sizeof(uint64_t),
               "NGX_RTMP_DUB_RTT_BUCKETS counts NGX_RTMP_DUB_RTT_BOUNDS");
_Static_assert(sizeof(ngx_rtmp_dub_lag_bounds)
               == NGX_RTMP_DUB_LAG_BUCKETS * sizeof(uint64_t),
               "NGX_RTMP_DUB_LAG_BUCKETS counts NGX_RTMP_DUB_LAG_BOUNDS");


/* dub_metrics_zone name size [max_streams=N] [retain=time]; */

char *
ngx_rtmp_dub_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_rtmp_dub_main_conf_t  *dmcf = conf;

    ssize_t      size;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (dmcf->zone) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_metrics_zone\" size \"%V\" is invalid or "
                           "under %uzk", &value[2], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    dmcf->max_streams = 100;
    dmcf->retain = 300;

    for (i = 3; i < cf->args->nelts; i++) {
        if (ngx_rtmp_dub_metrics_param(cf, dmcf, &value[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if ((size_t) size < sizeof(ngx_rtmp_dub_mshm_t) + 2 * ngx_pagesize
                        + dmcf->max_streams * sizeof(ngx_rtmp_dub_mslot_t))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_metrics_zone\" \"%V\" of %z bytes is too "
                           "small for max_streams=%ui: each stream takes "
                           "%uz bytes", &value[1], size, dmcf->max_streams,
                           sizeof(ngx_rtmp_dub_mslot_t));
        return NGX_CONF_ERROR;
    }

    if (ngx_rtmp_dub_metrics_add_zone(cf, dmcf, &value[1], size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* "max_streams=N" or "retain=time" */

static ngx_int_t
ngx_rtmp_dub_metrics_param(ngx_conf_t *cf, ngx_rtmp_dub_main_conf_t *dmcf,
    ngx_str_t *param)
{
    ngx_int_t  n;
    ngx_str_t  s;

    if (ngx_strncmp(param->data, "max_streams=", 12) == 0) {
        n = ngx_atoi(param->data + 12, param->len - 12);

        if (n == NGX_ERROR || n < 1 || n > 100000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"dub_metrics_zone\": "
                               "from 1 to 100000", param);
            return NGX_ERROR;
        }

        dmcf->max_streams = n;
        return NGX_OK;
    }

    if (ngx_strncmp(param->data, "retain=", 7) == 0) {
        s.data = param->data + 7;
        s.len = param->len - 7;

        n = ngx_parse_time(&s, 1);

        if (n == NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"dub_metrics_zone\"",
                               param);
            return NGX_ERROR;
        }

        dmcf->retain = n;
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"dub_metrics_zone\"",
                       param);
    return NGX_ERROR;
}


static ngx_int_t
ngx_rtmp_dub_metrics_add_zone(ngx_conf_t *cf, ngx_rtmp_dub_main_conf_t *dmcf,
    ngx_str_t *name, size_t size)
{
    dmcf->zone_name = *name;
    dmcf->zone_size = size;

    dmcf->zone = ngx_shared_memory_add(cf, name, size, &ngx_rtmp_dub_module);
    if (dmcf->zone == NULL) {
        return NGX_ERROR;
    }

    if (dmcf->zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"dub_metrics_zone\" \"%V\" is already defined",
                           name);
        return NGX_ERROR;
    }

    dmcf->zone->init = ngx_rtmp_dub_metrics_init_zone;
    dmcf->zone->data = dmcf;

    return NGX_OK;
}


/*
 * A reload keeps the zone (same name, size and module): its numbers go on.
 * A zone whose number of slots changed starts afresh.
 */

static ngx_int_t
ngx_rtmp_dub_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_rtmp_dub_mshm_t       *old = data;

    size_t                     size;
    ngx_slab_pool_t           *shpool;
    ngx_rtmp_dub_mshm_t       *shm;
    ngx_rtmp_dub_main_conf_t  *dmcf;

    dmcf = zone->data;
    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (old && old->nslots == dmcf->max_streams) {
        old->reloads++;
        old->retain = dmcf->retain;
        zone->data = old;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    size = sizeof(ngx_rtmp_dub_mshm_t)
           + dmcf->max_streams * sizeof(ngx_rtmp_dub_mslot_t);

    shm = ngx_slab_calloc(shpool, size);
    if (shm == NULL) {
        ngx_log_error(NGX_LOG_EMERG, zone->shm.log, 0,
                      "\"dub_metrics_zone\" \"%V\" is too small for "
                      "max_streams=%ui", &zone->shm.name, dmcf->max_streams);
        return NGX_ERROR;
    }

    shm->nslots = dmcf->max_streams;
    shm->retain = dmcf->retain;
    shm->slots = (ngx_rtmp_dub_mslot_t *) (shm + 1);

    shpool->data = shm;
    zone->data = shm;

    shpool->log_ctx = ngx_slab_alloc(shpool, sizeof(" in dub_metrics_zone \"\"")
                                             + zone->shm.name.len);
    if (shpool->log_ctx) {
        ngx_sprintf(shpool->log_ctx, " in dub_metrics_zone \"%V\"%Z",
                    &zone->shm.name);
    }

    return NGX_OK;
}


ngx_rtmp_dub_mshm_t *
ngx_rtmp_dub_metrics_shm(ngx_shm_zone_t *zone)
{
    if (zone == NULL || zone->shm.addr == NULL
        || zone->init != ngx_rtmp_dub_metrics_init_zone)
    {
        return NULL;
    }

    /* before the zone is set up, data still points to the configuration */

    if (zone->data == NULL
        || ((ngx_slab_pool_t *) zone->shm.addr)->data != zone->data)
    {
        return NULL;
    }

    return zone->data;
}


/*
 * The slot of a stream: its own from an earlier publish if it is still
 * shown (its counters go on), a free or expired one, or none past
 * max_streams (counted).
 */

ngx_rtmp_dub_mslot_t *
ngx_rtmp_dub_metrics_open(ngx_shm_zone_t *zone, ngx_str_t *app,
    ngx_str_t *name, ngx_str_t *lang, ngx_str_t *output, ngx_log_t *log)
{
    u_char                *p, key[NGX_RTMP_DUB_KEY_LEN];
    ngx_slab_pool_t       *shpool;
    ngx_rtmp_dub_mshm_t   *shm;
    ngx_rtmp_dub_mslot_t  *slot;

    shm = ngx_rtmp_dub_metrics_shm(zone);
    if (shm == NULL) {
        return NULL;
    }

    p = ngx_snprintf(key, sizeof(key) - 1, "%V/%V", app, name);
    *p = '\0';

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    slot = ngx_rtmp_dub_metrics_find(shm, key, lang);

    if (slot) {
        slot->pid = ngx_pid;
        slot->ended_at = 0;
        slot->app_len = ngx_min(app->len, sizeof(key) - 1);
        ngx_cpystrn(slot->output, output->data,
                    ngx_min(output->len + 1, sizeof(slot->output)));
        slot->state = NGX_RTMP_DUB_SLOT_ACTIVE;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (slot == NULL) {
        (void) ngx_atomic_fetch_add(&shm->untracked, 1);

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "dub: \"%s\" has no metrics: all %ui slots of "
                      "\"dub_metrics_zone\" are taken", key, shm->nslots);
    }

    return slot;
}


/*
 * under the lock: the shown slot of the stream in that language, or a
 * spare one made its own
 */

static ngx_rtmp_dub_mslot_t *
ngx_rtmp_dub_metrics_find(ngx_rtmp_dub_mshm_t *shm, u_char *key,
    ngx_str_t *lang)
{
    size_t                 n;
    time_t                 now;
    ngx_uint_t             i;
    ngx_rtmp_dub_mslot_t  *slot, *spare;

    now = ngx_time();
    spare = NULL;

    /* the label as the slot keeps it */
    n = ngx_min(lang->len, NGX_RTMP_DUB_LANG_LEN - 1);

    for (i = 0; i < shm->nslots; i++) {
        slot = &shm->slots[i];

        if (ngx_rtmp_dub_metrics_shown(slot, shm->retain, now)) {
            if (ngx_strcmp(slot->stream, key) == 0
                && ngx_strncmp(slot->lang, lang->data, n) == 0
                && slot->lang[n] == '\0')
            {
                return slot;
            }

            continue;
        }

        if (spare == NULL) {
            spare = slot;
        }
    }

    if (spare == NULL) {
        return NULL;
    }

    ngx_memzero(spare, sizeof(ngx_rtmp_dub_mslot_t));
    ngx_cpystrn(spare->stream, key, sizeof(spare->stream));
    ngx_cpystrn(spare->lang, lang->data,
                ngx_min(lang->len + 1, sizeof(spare->lang)));

    return spare;
}


void
ngx_rtmp_dub_metrics_close(ngx_rtmp_dub_mslot_t *slot)
{
    if (slot == NULL) {
        return;
    }

    slot->inflight = 0;
    slot->connected = 0;
    slot->publishing = 0;
    slot->ended_at = ngx_time();
    slot->state = NGX_RTMP_DUB_SLOT_ENDED;
}


void
ngx_rtmp_dub_metrics_publish(ngx_rtmp_dub_mslot_t *slot, ngx_msec_t delay,
    ngx_msec_t segment)
{
    if (slot == NULL) {
        return;
    }

    slot->delay_ms = delay;
    slot->segment_ms = segment;
    slot->since = ngx_time();
    slot->publishing = 1;
}


void
ngx_rtmp_dub_metrics_unpublish(ngx_rtmp_dub_mslot_t *slot)
{
    if (slot == NULL) {
        return;
    }

    slot->publishing = 0;
}


ngx_uint_t
ngx_rtmp_dub_metrics_shown(ngx_rtmp_dub_mslot_t *slot, time_t retain,
    time_t now)
{
    switch (slot->state) {

    case NGX_RTMP_DUB_SLOT_ACTIVE:
        return 1;

    case NGX_RTMP_DUB_SLOT_ENDED:
        return now - (time_t) slot->ended_at < retain;

    default:
        return 0;
    }
}


/*
 * The endpoint's URL as a label value: percent-encoded where it is not
 * printable UTF-8 (dub_name.h), cut to the slot's room at a character's
 * start.  Only the slot's worker writes it; readers in other workers take
 * a copy between two reads of the same even count.
 */

void
ngx_rtmp_dub_metrics_endpoint(ngx_rtmp_dub_mslot_t *slot, ngx_str_t *url)
{
    size_t  n;
    char    enc[dub_name_encoded_max(NGX_RTMP_DUB_ENDPOINT_LEN)];

    if (slot == NULL) {
        return;
    }

    n = 0;

    if (url) {
        n = dub_name_encode(enc, url->data,
                            ngx_min(url->len, NGX_RTMP_DUB_ENDPOINT_LEN));

        if (n >= NGX_RTMP_DUB_ENDPOINT_LEN) {
            n = NGX_RTMP_DUB_ENDPOINT_LEN - 1;

            /* not within a UTF-8 character, nor within a %XX */

            while (n > 0 && ((u_char) enc[n] & 0xc0) == 0x80) {
                n--;
            }

            if (n >= 1 && enc[n - 1] == '%') {
                n -= 1;

            } else if (n >= 2 && enc[n - 2] == '%') {
                n -= 2;
            }
        }
    }

    (void) ngx_atomic_fetch_add(&slot->endpoint_seq, 1);
    ngx_memory_barrier();

    ngx_memcpy(slot->endpoint, enc, n);
    slot->endpoint[n] = '\0';

    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&slot->endpoint_seq, 1);
}


size_t
ngx_rtmp_dub_metrics_endpoint_get(ngx_rtmp_dub_mslot_t *slot, u_char *dst,
    size_t size)
{
    size_t             n;
    ngx_uint_t         tries;
    ngx_atomic_uint_t  seq;

    for (tries = 0; tries < 8; tries++) {
        seq = slot->endpoint_seq;
        ngx_memory_barrier();

        if (seq & 1) {
            continue;
        }

        n = ngx_strnlen(slot->endpoint, ngx_min(size, sizeof(slot->endpoint))
                                        - 1);
        ngx_memcpy(dst, slot->endpoint, n);
        dst[n] = '\0';

        ngx_memory_barrier();

        if (slot->endpoint_seq == seq) {
            return n;
        }
    }

    /* being written all along: none this time */

    return 0;
}


void
ngx_rtmp_dub_metrics_rtt(ngx_rtmp_dub_mslot_t *slot, ngx_msec_t rtt)
{
    if (slot == NULL) {
        return;
    }

    ngx_rtmp_dub_metrics_observe(slot->rtt, ngx_rtmp_dub_rtt_bounds,
                                 NGX_RTMP_DUB_RTT_BUCKETS, &slot->rtt_count,
                                 &slot->rtt_sum_us, (uint64_t) rtt * 1000);
}


void
ngx_rtmp_dub_metrics_lag(ngx_rtmp_dub_mshm_t *shm, uint64_t us)
{
    ngx_rtmp_dub_metrics_observe(shm->lag, ngx_rtmp_dub_lag_bounds,
                                 NGX_RTMP_DUB_LAG_BUCKETS, &shm->lag_count,
                                 &shm->lag_sum_us, us);
}


/* one value into a histogram: its bucket, the count and the sum */

static void
ngx_rtmp_dub_metrics_observe(ngx_atomic_t *buckets, const uint64_t *bounds,
    ngx_uint_t n, ngx_atomic_t *count, ngx_atomic_t *sum, uint64_t us)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (us <= bounds[i]) {
            (void) ngx_atomic_fetch_add(&buckets[i], 1);
            break;
        }
    }

    (void) ngx_atomic_fetch_add(count, 1);
    (void) ngx_atomic_fetch_add(sum, us);
}
