
/*
 * Copyright (C) nginx-dub developers
 */


#include <math.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "dub_json.h"


#define dub_json_gen_str(g, s)                                               \
    yajl_gen_string(g, (const unsigned char *) (s), strlen(s))

#define dub_json_gen_key_str(g, k, v)                                        \
    (dub_json_gen_str(g, k) != yajl_gen_status_ok                            \
     || dub_json_gen_str(g, (v) ? (v) : "") != yajl_gen_status_ok)

#define dub_json_gen_key_int(g, k, v)                                        \
    (dub_json_gen_str(g, k) != yajl_gen_status_ok                            \
     || yajl_gen_integer(g, (long long) (v)) != yajl_gen_status_ok)


static void dub_json_print(void *ctx, const char *str, size_t len);
static yajl_gen dub_json_gen(dub_buf_t *b, const char *event);
static int dub_json_done(yajl_gen g, dub_buf_t *b, int event);
static yajl_val dub_json_get(yajl_val obj, const char *key);
static int dub_json_field(yajl_val obj, const char *key, int required,
    yajl_val *v, char *err, size_t errlen);
static int dub_json_str(yajl_val obj, const char *key, char *out,
    size_t size, int required, int truncate, char *err, size_t errlen);
static int dub_json_num(yajl_val obj, const char *key, int64_t *out,
    int required, char *err, size_t errlen);
static void dub_json_text(yajl_val obj, const char *key, char *out,
    size_t size);
static size_t dub_json_utf8_cut(const char *s, size_t len, size_t max);
static int dub_json_bool(yajl_val obj, const char *key, int *out,
    char *err, size_t errlen);
static yajl_val dub_json_tree(const char *text, size_t len, char *err,
    size_t errlen);
static int dub_json_processed_error(yajl_val v, dub_json_processed_t *p,
    char *err, size_t errlen);
static int dub_json_open_fields(yajl_val root, dub_json_open_t *o,
    char *err, size_t errlen);
static int dub_json_retryable(yajl_val obj, const char *code, int *out,
    char *err, size_t errlen);
static int dub_json_audio(yajl_val a, dub_json_processed_t *p, char *err,
    size_t errlen);
static int dub_json_uint(yajl_val obj, const char *key, int64_t max,
    unsigned *out, char *err, size_t errlen);
static int dub_json_placeholder(yajl_val d, dub_json_processed_t *p,
    char *err, size_t errlen);
static int dub_json_retryable_code(const char *code);
static int dub_json_name(const char *s, const char *const *names, int n);


const char  *const dub_json_status_names[] = {
    "success", "partial", "failed"
};

const char  *const dub_json_bp_names[] = {
    "none", "slow_down", "pause"
};

_Static_assert(sizeof(dub_json_status_names) == DUB_STATUS_N * sizeof(char *),
               "a name for each DUB_STATUS_*");
_Static_assert(sizeof(dub_json_bp_names) == DUB_BP_N * sizeof(char *),
               "a name for each DUB_BP_*");


static const char  *dub_json_retryable_codes[] = {
    "TIMEOUT", "MODEL_ERROR", "GPU_OOM", "QUEUE_FULL", "RATE_LIMIT", NULL
};


int
dub_json_stream_init(dub_buf_t *b, const dub_json_init_t *v)
{
    yajl_gen  g;

    g = dub_json_gen(b, "stream:init");
    if (g == NULL) {
        return -1;
    }

    if (dub_json_gen_key_str(g, "stream_id", v->stream_id)
        || dub_json_gen_key_str(g, "worker_id", v->worker_id)
        || dub_json_gen_str(g, "config") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || dub_json_gen_key_str(g, "source_language", v->source_language)
        || dub_json_gen_key_str(g, "target_language", v->target_language)
        || dub_json_gen_key_str(g, "voice_profile", v->voice_profile)
        || dub_json_gen_key_int(g, "chunk_duration_ms", v->chunk_duration_ms)
        || dub_json_gen_key_int(g, "sample_rate_hz", v->sample_rate_hz)
        || dub_json_gen_key_int(g, "channels", v->channels)
        || dub_json_gen_key_str(g, "format", v->format)
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || dub_json_gen_key_int(g, "max_inflight", v->max_inflight)
        || dub_json_gen_key_int(g, "timeout_ms", v->timeout_ms))
    {
        yajl_gen_free(g);
        return -1;
    }

    return dub_json_done(g, b, 1);
}


int
dub_json_fragment_data(dub_buf_t *b, const dub_json_fragment_t *v)
{
    yajl_gen  g;

    g = dub_json_gen(b, "fragment:data");
    if (g == NULL) {
        return -1;
    }

    if (dub_json_gen_key_str(g, "fragment_id", v->fragment_id)
        || dub_json_gen_key_str(g, "stream_id", v->stream_id)
        || dub_json_gen_key_int(g, "sequence_number", v->sequence_number)
        || dub_json_gen_key_int(g, "timestamp", v->timestamp)
        || dub_json_gen_str(g, "audio") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || dub_json_gen_key_str(g, "format", v->format)
        || dub_json_gen_key_int(g, "sample_rate_hz", v->sample_rate_hz)
        || dub_json_gen_key_int(g, "channels", v->channels)
        || dub_json_gen_key_int(g, "duration_ms", v->duration_ms)
        || dub_json_gen_str(g, "data_base64") != yajl_gen_status_ok
        || yajl_gen_string(g, (const unsigned char *) v->data_base64,
                           v->data_base64_len)
           != yajl_gen_status_ok
        || yajl_gen_map_close(g) != yajl_gen_status_ok
        || dub_json_gen_str(g, "metadata") != yajl_gen_status_ok
        || yajl_gen_map_open(g) != yajl_gen_status_ok
        || dub_json_gen_key_int(g, "pts_ns", v->pts_ns)
        || dub_json_gen_key_int(g, "source_pts_ns", v->source_pts_ns)
        || yajl_gen_map_close(g) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return -1;
    }

    return dub_json_done(g, b, 1);
}


int
dub_json_fragment_ack(dub_buf_t *b, const char *fragment_id,
    const char *status, int64_t timestamp)
{
    yajl_gen  g;

    g = dub_json_gen(b, "fragment:ack");
    if (g == NULL) {
        return -1;
    }

    if (dub_json_gen_key_str(g, "fragment_id", fragment_id)
        || dub_json_gen_key_str(g, "status", status)
        || dub_json_gen_key_int(g, "timestamp", timestamp))
    {
        yajl_gen_free(g);
        return -1;
    }

    return dub_json_done(g, b, 1);
}


int
dub_json_stream_event(dub_buf_t *b, const char *event, const char *stream_id,
    const char *reason)
{
    yajl_gen  g;

    g = dub_json_gen(b, event);
    if (g == NULL) {
        return -1;
    }

    if (dub_json_gen_key_str(g, "stream_id", stream_id)
        || (reason && dub_json_gen_key_str(g, "reason", reason)))
    {
        yajl_gen_free(g);
        return -1;
    }

    return dub_json_done(g, b, 1);
}


int
dub_json_object(dub_buf_t *b, const char *const *keys,
    const char *const *values, size_t n)
{
    size_t    i;
    yajl_gen  g;

    g = dub_json_gen(b, NULL);
    if (g == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (dub_json_gen_key_str(g, keys[i], values[i])) {
            yajl_gen_free(g);
            return -1;
        }
    }

    return dub_json_done(g, b, 0);
}


void
dub_json_uuid(const uint8_t rnd[16], char out[37])
{
    int             i, j;
    uint8_t         c;
    static const char  hex[] = "0123456789abcdef";

    for (i = 0, j = 0; i < 16; i++) {
        c = rnd[i];

        if (i == 6) {
            c = (c & 0x0f) | 0x40;      /* version 4 */

        } else if (i == 8) {
            c = (c & 0x3f) | 0x80;      /* RFC 4122 variant */
        }

        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[j++] = '-';
        }

        out[j++] = hex[c >> 4];
        out[j++] = hex[c & 0x0f];
    }

    out[j] = '\0';
}


/*
 * yajl's tree is freed recursively: a hostile "[[[[...", millions deep,
 * would overflow the stack.  Nothing in the contract nests deeper than a
 * few levels.
 */

int
dub_json_depth_ok(const char *text, size_t len, unsigned max)
{
    size_t    i;
    unsigned  depth, in_str;

    depth = 0;
    in_str = 0;

    for (i = 0; i < len; i++) {
        if (in_str) {
            if (text[i] == '\\') {
                i++;

            } else if (text[i] == '"') {
                in_str = 0;
            }

            continue;
        }

        switch (text[i]) {

        case '"':
            in_str = 1;
            break;

        case '[':
        case '{':
            if (++depth > max) {
                return 0;
            }

            break;

        case ']':
        case '}':
            if (depth) {
                depth--;
            }

            break;
        }
    }

    return 1;
}


int
dub_json_event_parse(const char *text, size_t len, dub_json_event_t *ev,
    char *err, size_t errlen)
{
    yajl_val  name;

    memset(ev, 0, sizeof(dub_json_event_t));

    ev->root = dub_json_tree(text, len, err, errlen);
    if (ev->root == NULL) {
        return -1;
    }

    if (!YAJL_IS_ARRAY(ev->root) || ev->root->u.array.len < 1) {
        snprintf(err, errlen, "an event is not a JSON array");
        goto failed;
    }

    name = ev->root->u.array.values[0];

    if (!YAJL_IS_STRING(name) || name->u.string[0] == '\0'
        || strlen(name->u.string) >= sizeof(ev->name))
    {
        snprintf(err, errlen, "event name is not a short string");
        goto failed;
    }

    strcpy(ev->name, name->u.string);

    if (ev->root->u.array.len >= 2) {
        ev->payload = ev->root->u.array.values[1];
    }

    return 0;

failed:

    yajl_tree_free(ev->root);
    ev->root = NULL;

    return -1;
}


/* the tree of an event's text, or NULL with the reason in "err" */

static yajl_val
dub_json_tree(const char *text, size_t len, char *err, size_t errlen)
{
    char      ebuf[256], *nl;
    yajl_val  root;

    if (text[len] != '\0') {
        snprintf(err, errlen, "event text not terminated");
        return NULL;
    }

    if (!dub_json_depth_ok(text, len, DUB_JSON_MAX_DEPTH)) {
        snprintf(err, errlen, "JSON nested deeper than %d",
                 DUB_JSON_MAX_DEPTH);
        return NULL;
    }

    ebuf[0] = '\0';

    root = yajl_tree_parse(text, ebuf, sizeof(ebuf));

    if (root == NULL) {
        nl = strchr(ebuf, '\n');
        if (nl) {
            *nl = '\0';
        }

        snprintf(err, errlen, "invalid JSON: %s", ebuf);
    }

    return root;
}


void
dub_json_event_free(dub_json_event_t *ev)
{
    if (ev->root) {
        yajl_tree_free(ev->root);
        ev->root = NULL;
    }

    ev->payload = NULL;
}


int
dub_json_ready(yajl_val obj, dub_json_ready_t *r, char *err, size_t errlen)
{
    int64_t  n;

    memset(r, 0, sizeof(dub_json_ready_t));

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "stream:ready payload is not an object");
        return -1;
    }

    if (dub_json_str(obj, "session_id", r->session_id,
                     sizeof(r->session_id), 1, 0, err, errlen) != 0
        || dub_json_str(obj, "stream_id", r->stream_id,
                        sizeof(r->stream_id), 0, 1, err, errlen) != 0
        || dub_json_num(obj, "max_inflight", &n, 1, err, errlen) != 0)
    {
        return -1;
    }

    if (n < 1) {
        snprintf(err, errlen, "stream:ready \"max_inflight\" below 1");
        return -1;
    }

    r->max_inflight = (n > 10) ? 10 : (unsigned) n;

    return 0;
}


int
dub_json_ack(yajl_val obj, dub_json_ack_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(dub_json_ack_t));

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "fragment:ack payload is not an object");
        return -1;
    }

    if (dub_json_str(obj, "fragment_id", a->fragment_id,
                     sizeof(a->fragment_id), 1, 0, err, errlen) != 0
        || dub_json_str(obj, "status", a->status, sizeof(a->status), 0, 1,
                        err, errlen) != 0)
    {
        return -1;
    }

    return 0;
}


int
dub_json_processed(yajl_val obj, dub_json_processed_t *p, char *err,
    size_t errlen)
{
    char      status[16];
    yajl_val  v;

    memset(p, 0, sizeof(dub_json_processed_t));

    p->attachment = -1;
    p->sequence_number = -1;

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "fragment:processed payload is not an object");
        return -1;
    }

    if (dub_json_str(obj, "fragment_id", p->fragment_id,
                     sizeof(p->fragment_id), 1, 0, err, errlen) != 0
        || dub_json_str(obj, "status", status, sizeof(status), 1, 0,
                        err, errlen) != 0
        || dub_json_num(obj, "sequence_number", &p->sequence_number, 0,
                        err, errlen) != 0
        || dub_json_num(obj, "processing_time_ms", &p->processing_time_ms,
                        0, err, errlen) != 0)
    {
        return -1;
    }

    p->status = dub_json_name(status, dub_json_status_names, DUB_STATUS_N);

    if (p->status < 0) {
        snprintf(err, errlen, "fragment:processed \"status\" \"%s\" is not "
                 "success, partial or failed", status);
        return -1;
    }

    if (dub_json_processed_error(dub_json_get(obj, "error"), p, err, errlen)
        != 0)
    {
        return -1;
    }

    /* a failed fragment may still have been heard */

    dub_json_text(obj, "transcript", p->transcript, sizeof(p->transcript));
    dub_json_text(obj, "translated_text", p->translated_text,
                  sizeof(p->translated_text));

    if (p->status == DUB_STATUS_FAILED) {
        return 0;
    }

    v = dub_json_get(obj, "dubbed_audio");

    if (!YAJL_IS_OBJECT(v)) {
        snprintf(err, errlen, "fragment:processed with status \"%s\" has "
                 "no \"dubbed_audio\" object", status);
        return -1;
    }

    return dub_json_audio(v, p, err, errlen);
}


/* fragment:processed "error": absent, null, or an object */

static int
dub_json_processed_error(yajl_val v, dub_json_processed_t *p, char *err,
    size_t errlen)
{
    int  retryable;

    if (v == NULL || YAJL_IS_NULL(v)) {
        return 0;
    }

    if (!YAJL_IS_OBJECT(v)) {
        snprintf(err, errlen, "fragment:processed \"error\" is not an "
                 "object");
        return -1;
    }

    p->has_error = 1;

    if (dub_json_str(v, "code", p->error_code, sizeof(p->error_code), 0,
                     1, err, errlen) != 0
        || dub_json_str(v, "message", p->error_message,
                        sizeof(p->error_message), 0, 1, err, errlen) != 0
        || dub_json_str(v, "stage", p->error_stage,
                        sizeof(p->error_stage), 0, 1, err, errlen) != 0
        || dub_json_retryable(v, p->error_code, &retryable, err, errlen)
           != 0)
    {
        return -1;
    }

    p->retryable = retryable;

    return 0;
}


int
dub_json_backpressure(yajl_val obj, dub_json_backpressure_t *bp, char *err,
    size_t errlen)
{
    char  action[16];

    memset(bp, 0, sizeof(dub_json_backpressure_t));

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "backpressure payload is not an object");
        return -1;
    }

    if (dub_json_str(obj, "action", action, sizeof(action), 1, 0, err,
                     errlen) != 0
        || dub_json_str(obj, "severity", bp->severity, sizeof(bp->severity),
                        0, 1, err, errlen) != 0
        || dub_json_num(obj, "recommended_delay_ms",
                        &bp->recommended_delay_ms, 0, err, errlen) != 0
        || dub_json_num(obj, "current_inflight", &bp->current_inflight, 0,
                        err, errlen) != 0
        || dub_json_num(obj, "queue_depth", &bp->queue_depth, 0, err,
                        errlen) != 0)
    {
        return -1;
    }

    bp->action = dub_json_name(action, dub_json_bp_names, DUB_BP_N);

    if (bp->action < 0) {
        snprintf(err, errlen, "backpressure \"action\" \"%s\" is not "
                 "slow_down, pause or none", action);
        return -1;
    }

    if (bp->recommended_delay_ms < 0) {
        bp->recommended_delay_ms = 0;
    }

    return 0;
}


int
dub_json_error(yajl_val obj, dub_json_error_t *e, char *err, size_t errlen)
{
    int  retryable;

    memset(e, 0, sizeof(dub_json_error_t));

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "error payload is not an object");
        return -1;
    }

    if (dub_json_str(obj, "code", e->code, sizeof(e->code), 1, 1, err,
                     errlen) != 0
        || dub_json_str(obj, "message", e->message, sizeof(e->message), 0,
                        1, err, errlen) != 0
        || dub_json_str(obj, "severity", e->severity, sizeof(e->severity),
                        0, 1, err, errlen) != 0
        || dub_json_str(obj, "fragment_id", e->fragment_id,
                        sizeof(e->fragment_id), 0, 0, err, errlen) != 0
        || dub_json_retryable(obj, e->code, &retryable, err, errlen) != 0)
    {
        return -1;
    }

    e->retryable = retryable;

    return 0;
}


int
dub_json_complete(yajl_val obj, dub_json_complete_t *c, char *err,
    size_t errlen)
{
    int64_t   avg;
    yajl_val  s;

    memset(c, 0, sizeof(dub_json_complete_t));

    if (!YAJL_IS_OBJECT(obj)) {
        snprintf(err, errlen, "stream:complete payload is not an object");
        return -1;
    }

    if (dub_json_num(obj, "total_fragments", &c->total_fragments, 0, err,
                     errlen) != 0
        || dub_json_num(obj, "total_duration_ms", &c->total_duration_ms, 0,
                        err, errlen) != 0)
    {
        return -1;
    }

    s = dub_json_get(obj, "statistics");

    if (YAJL_IS_OBJECT(s)) {
        avg = 0;

        if (dub_json_num(s, "success_count", &c->success_count, 0, err,
                         errlen) != 0
            || dub_json_num(s, "partial_count", &c->partial_count, 0, err,
                            errlen) != 0
            || dub_json_num(s, "failed_count", &c->failed_count, 0, err,
                            errlen) != 0
            || dub_json_num(s, "avg_processing_time_ms", &avg, 0, err,
                            errlen) != 0)
        {
            return -1;
        }

        c->avg_processing_time_ms = (double) avg;
    }

    return 0;
}


int
dub_json_open(const char *text, size_t len, dub_json_open_t *o, char *err,
    size_t errlen)
{
    int       rc;
    char      ebuf[128];
    yajl_val  root;

    memset(o, 0, sizeof(dub_json_open_t));

    o->max_payload = 1000000;

    if (text[len] != '\0' || !dub_json_depth_ok(text, len, 4)) {
        snprintf(err, errlen, "bad open packet");
        return -1;
    }

    root = yajl_tree_parse(text, ebuf, sizeof(ebuf));

    if (root == NULL || !YAJL_IS_OBJECT(root)) {
        snprintf(err, errlen, "open packet is not a JSON object");
        yajl_tree_free(root);
        return -1;
    }

    rc = dub_json_open_fields(root, o, err, errlen);

    yajl_tree_free(root);

    return rc;
}


static int
dub_json_open_fields(yajl_val root, dub_json_open_t *o, char *err,
    size_t errlen)
{
    if (dub_json_str(root, "sid", o->sid, sizeof(o->sid), 1, 0, err,
                     errlen) != 0
        || dub_json_num(root, "pingInterval", &o->ping_interval, 1, err,
                        errlen) != 0
        || dub_json_num(root, "pingTimeout", &o->ping_timeout, 1, err,
                        errlen) != 0
        /* python-engineio 4.3 leaves it out */
        || dub_json_num(root, "maxPayload", &o->max_payload, 0, err,
                        errlen) != 0)
    {
        return -1;
    }

    if (o->ping_interval <= 0 || o->ping_timeout <= 0) {
        snprintf(err, errlen, "open packet has no usable ping times");
        return -1;
    }

    if (o->ping_interval > DUB_JSON_PING_MAX) {
        snprintf(err, errlen, "\"pingInterval\" %" PRId64 " is over %d ms",
                 o->ping_interval, DUB_JSON_PING_MAX);
        return -1;
    }

    if (o->ping_timeout > DUB_JSON_PING_MAX) {
        snprintf(err, errlen, "\"pingTimeout\" %" PRId64 " is over %d ms",
                 o->ping_timeout, DUB_JSON_PING_MAX);
        return -1;
    }

    return 0;
}


void
dub_json_connect_error(const char *text, size_t len, char *msg,
    size_t msglen)
{
    char      ebuf[64];
    char      err[DUB_JSON_ERRLEN];
    yajl_val  root;

    snprintf(msg, msglen, "refused");

    if (len == 0 || text[len] != '\0' || !dub_json_depth_ok(text, len, 4)) {
        return;
    }

    root = yajl_tree_parse(text, ebuf, sizeof(ebuf));

    if (YAJL_IS_STRING(root)) {
        snprintf(msg, msglen, "%s", root->u.string);

    } else if (YAJL_IS_OBJECT(root)) {
        (void) dub_json_str(root, "message", msg, msglen, 0, 1, err,
                            sizeof(err));
    }

    yajl_tree_free(root);
}


static void
dub_json_print(void *ctx, const char *str, size_t len)
{
    /* a failure sticks in the buffer, checked at the end */
    (void) dub_buf_append(ctx, str, len);
}


static yajl_gen
dub_json_gen(dub_buf_t *b, const char *event)
{
    yajl_gen  g;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_config(g, yajl_gen_print_callback, dub_json_print, b);
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    if ((event && (yajl_gen_array_open(g) != yajl_gen_status_ok
                   || dub_json_gen_str(g, event) != yajl_gen_status_ok))
        || yajl_gen_map_open(g) != yajl_gen_status_ok)
    {
        yajl_gen_free(g);
        return NULL;
    }

    return g;
}


static int
dub_json_done(yajl_gen g, dub_buf_t *b, int event)
{
    yajl_gen_status  rc;

    rc = yajl_gen_map_close(g);

    if (rc == yajl_gen_status_ok && event) {
        rc = yajl_gen_array_close(g);
    }

    yajl_gen_free(g);

    return (rc == yajl_gen_status_ok && !b->failed) ? 0 : -1;
}


static yajl_val
dub_json_get(yajl_val obj, const char *key)
{
    size_t  i;

    if (!YAJL_IS_OBJECT(obj)) {
        return NULL;
    }

    for (i = 0; i < obj->u.object.len; i++) {
        if (strcmp(obj->u.object.keys[i], key) == 0) {
            return obj->u.object.values[i];
        }
    }

    return NULL;
}


/*
 * A member's value in "*v", NULL when it is absent or null: -1 then if it
 * is required
 */

static int
dub_json_field(yajl_val obj, const char *key, int required, yajl_val *v,
    char *err, size_t errlen)
{
    *v = dub_json_get(obj, key);

    if (*v != NULL && !YAJL_IS_NULL(*v)) {
        return 0;
    }

    *v = NULL;

    if (required) {
        snprintf(err, errlen, "\"%s\" is missing", key);
        return -1;
    }

    return 0;
}


static int
dub_json_str(yajl_val obj, const char *key, char *out, size_t size,
    int required, int truncate, char *err, size_t errlen)
{
    size_t    len;
    yajl_val  v;

    out[0] = '\0';

    if (dub_json_field(obj, key, required, &v, err, errlen) != 0) {
        return -1;
    }

    if (v == NULL) {
        return 0;
    }

    if (!YAJL_IS_STRING(v)) {
        snprintf(err, errlen, "\"%s\" is not a string", key);
        return -1;
    }

    len = strlen(v->u.string);

    if (len >= size) {
        if (!truncate) {
            snprintf(err, errlen, "\"%s\" is longer than %zu bytes", key,
                     size - 1);
            return -1;
        }

        len = dub_json_utf8_cut(v->u.string, len, size - 1);
    }

    memcpy(out, v->u.string, len);
    out[len] = '\0';

    return 0;
}


/*
 * An optional text that only captions use: a string is kept (cut at a
 * character if longer than "size" - 1 bytes), anything else is no text,
 * so that it never costs the fragment its audio.
 */

static void
dub_json_text(yajl_val obj, const char *key, char *out, size_t size)
{
    size_t    len;
    yajl_val  v;

    out[0] = '\0';

    v = dub_json_get(obj, key);

    if (!YAJL_IS_STRING(v)) {
        return;
    }

    len = dub_json_utf8_cut(v->u.string, strlen(v->u.string), size - 1);

    memcpy(out, v->u.string, len);
    out[len] = '\0';
}


/* at most "max" bytes of "s" that end where a UTF-8 character ends */

static size_t
dub_json_utf8_cut(const char *s, size_t len, size_t max)
{
    size_t  n;

    if (len <= max) {
        return len;
    }

    /* back over continuation bytes to the start of the cut character */

    for (n = max; n > 0 && ((unsigned char) s[n] & 0xc0) == 0x80; n--) {
        /* void */
    }

    return n;
}


static int
dub_json_num(yajl_val obj, const char *key, int64_t *out, int required,
    char *err, size_t errlen)
{
    double    d;
    yajl_val  v;

    if (dub_json_field(obj, key, required, &v, err, errlen) != 0) {
        return -1;
    }

    if (v == NULL) {
        return 0;
    }

    if (YAJL_IS_INTEGER(v)) {
        *out = v->u.number.i;
        return 0;
    }

    if (YAJL_IS_DOUBLE(v)) {
        d = v->u.number.d;

        /* 6000.0 is fine, 1e300 and NaN are not */
        if (isfinite(d) && d > -9.0e15 && d < 9.0e15) {
            *out = (int64_t) d;
            return 0;
        }
    }

    snprintf(err, errlen, "\"%s\" is not a number", key);

    return -1;
}


static int
dub_json_bool(yajl_val obj, const char *key, int *out, char *err,
    size_t errlen)
{
    yajl_val  v;

    if (dub_json_field(obj, key, 0, &v, err, errlen) != 0) {
        return -1;
    }

    if (v == NULL) {
        return 0;
    }

    if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
        *out = YAJL_IS_TRUE(v);
        return 0;
    }

    snprintf(err, errlen, "\"%s\" is not true or false", key);

    return -1;
}


/*
 * "retryable" as the STS says it, or else as its error code tells:
 * 1 or 0 in "*out"
 */

static int
dub_json_retryable(yajl_val obj, const char *code, int *out, char *err,
    size_t errlen)
{
    int  retryable;

    retryable = -1;

    if (dub_json_bool(obj, "retryable", &retryable, err, errlen) != 0) {
        return -1;
    }

    if (retryable == -1) {
        retryable = dub_json_retryable_code(code);
    }

    *out = retryable ? 1 : 0;

    return 0;
}


static int
dub_json_audio(yajl_val a, dub_json_processed_t *p, char *err, size_t errlen)
{
    yajl_val  d;

    if (dub_json_str(a, "format", p->format, sizeof(p->format), 1, 0, err,
                     errlen) != 0
        || dub_json_num(a, "duration_ms", &p->duration_ms, 0, err, errlen)
           != 0
        || dub_json_uint(a, "sample_rate_hz", 1000000, &p->sample_rate_hz,
                         err, errlen) != 0
        || dub_json_uint(a, "channels", 64, &p->channels, err, errlen) != 0)
    {
        return -1;
    }

    d = dub_json_get(a, "data_base64");

    if (YAJL_IS_STRING(d)) {
        p->data_base64 = d->u.string;
        p->data_base64_len = strlen(d->u.string);
        p->has_audio = 1;
        return 0;
    }

    /* a binary attachment: {"_placeholder":true,"num":0} */

    if (YAJL_IS_OBJECT(d) && YAJL_IS_TRUE(dub_json_get(d, "_placeholder"))) {
        return dub_json_placeholder(d, p, err, errlen);
    }

    snprintf(err, errlen, "\"dubbed_audio\" has no \"data_base64\" string");

    return -1;
}


/* an optional number from 0 to "max", 0 when absent */

static int
dub_json_uint(yajl_val obj, const char *key, int64_t max, unsigned *out,
    char *err, size_t errlen)
{
    int64_t  n;

    n = 0;

    if (dub_json_num(obj, key, &n, 0, err, errlen) != 0) {
        return -1;
    }

    if (n < 0 || n > max) {
        snprintf(err, errlen, "\"%s\" out of range", key);
        return -1;
    }

    *out = (unsigned) n;

    return 0;
}


static int
dub_json_placeholder(yajl_val d, dub_json_processed_t *p, char *err,
    size_t errlen)
{
    int64_t  n;

    n = -1;

    if (dub_json_num(d, "num", &n, 1, err, errlen) != 0) {
        return -1;
    }

    if (n < 0 || n >= 16) {
        snprintf(err, errlen, "attachment number out of range");
        return -1;
    }

    p->attachment = (int) n;
    p->has_audio = 1;

    return 0;
}


static int
dub_json_retryable_code(const char *code)
{
    int  i;

    for (i = 0; dub_json_retryable_codes[i]; i++) {
        if (strcmp(code, dub_json_retryable_codes[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the index of "s" in "names", or -1 */

static int
dub_json_name(const char *s, const char *const *names, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            return i;
        }
    }

    return -1;
}


int
dub_json_payload(const char *name, yajl_val obj, dub_json_payload_t *p,
    char *err, size_t errlen)
{
    int          i;
    static const char  *names[] = {
        "stream:ready", "fragment:ack", "backpressure", "error",
        "stream:complete"
    };

    for (i = 0; i < DUB_JSON_UNKNOWN; i++) {
        if (strcmp(name, names[i]) == 0) {
            break;
        }
    }

    p->kind = (dub_json_kind_e) i;

    switch (p->kind) {

    case DUB_JSON_READY:
        return dub_json_ready(obj, &p->u.ready, err, errlen);

    case DUB_JSON_ACK:
        return dub_json_ack(obj, &p->u.ack, err, errlen);

    case DUB_JSON_BACKPRESSURE:
        return dub_json_backpressure(obj, &p->u.backpressure, err, errlen);

    case DUB_JSON_ERROR:
        return dub_json_error(obj, &p->u.error, err, errlen);

    case DUB_JSON_COMPLETE:
        return dub_json_complete(obj, &p->u.complete, err, errlen);

    default:
        return 0;
    }
}
