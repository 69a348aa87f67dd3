
/*
 * Copyright (C) nginx-dub developers
 *
 * The JSON payloads of the STS contract (yajl): the events the module
 * sends, built, and the events the STS sends, parsed and checked field by
 * field.  Plain C, no nginx.
 */


#ifndef _DUB_JSON_H_INCLUDED_
#define _DUB_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "dub_buf.h"
#include "dub_gate.h"


#define DUB_JSON_ERRLEN         160
#define DUB_JSON_MAX_DEPTH      32

#define DUB_JSON_ID_LEN         64
#define DUB_JSON_TEXT_LEN       256

/* a fragment's transcript or translation, bytes with the NUL: a longer
   one is cut at a character */
#define DUB_JSON_CAPTION_LEN    2048

/* the longest pingInterval or pingTimeout of an open packet, ms */
#define DUB_JSON_PING_MAX       600000

/* fragment:processed status: dub_json_status_names[] */
#define DUB_STATUS_SUCCESS      0
#define DUB_STATUS_PARTIAL      1
#define DUB_STATUS_FAILED       2
#define DUB_STATUS_N            3



/* the names the contract gives them, in the order of their values */
extern const char  *const dub_json_status_names[DUB_STATUS_N];
extern const char  *const dub_json_bp_names[DUB_BP_N];


/* events the module sends */

typedef struct {
    const char     *stream_id;
    const char     *worker_id;
    const char     *source_language;
    const char     *target_language;
    const char     *voice_profile;
    unsigned        chunk_duration_ms;
    unsigned        sample_rate_hz;
    unsigned        channels;
    const char     *format;
    unsigned        max_inflight;
    unsigned        timeout_ms;
} dub_json_init_t;


typedef struct {
    const char     *fragment_id;
    const char     *stream_id;
    uint64_t        sequence_number;
    int64_t         timestamp;          /* Unix ms */
    const char     *format;
    unsigned        sample_rate_hz;
    unsigned        channels;
    unsigned        duration_ms;
    const char     *data_base64;
    size_t          data_base64_len;
    int64_t         pts_ns;
    int64_t         source_pts_ns;
} dub_json_fragment_t;


/* events the STS sends */

typedef struct {
    char            name[64];
    yajl_val        root;               /* the whole array */
    yajl_val        payload;            /* first argument, or NULL */
} dub_json_event_t;


typedef struct {
    char            stream_id[DUB_JSON_TEXT_LEN];
    char            session_id[DUB_JSON_TEXT_LEN];
    unsigned        max_inflight;
} dub_json_ready_t;


typedef struct {
    char            fragment_id[DUB_JSON_ID_LEN];
    char            status[32];
} dub_json_ack_t;


typedef struct {
    char            fragment_id[DUB_JSON_ID_LEN];
    int64_t         sequence_number;
    int             status;
    int64_t         processing_time_ms;

    unsigned        has_audio:1;
    unsigned        has_error:1;
    unsigned        retryable:1;

    char            format[16];
    unsigned        sample_rate_hz;
    unsigned        channels;
    int64_t         duration_ms;
    const char     *data_base64;        /* into the tree */
    size_t          data_base64_len;
    int             attachment;         /* binary placeholder, or -1 */

    char            error_code[DUB_JSON_ID_LEN];
    char            error_message[DUB_JSON_TEXT_LEN];
    char            error_stage[32];

    /* what the STS heard and its translation, for captions: "" when
       absent or not a string */
    char            transcript[DUB_JSON_CAPTION_LEN];
    char            translated_text[DUB_JSON_CAPTION_LEN];
} dub_json_processed_t;


typedef struct {
    int             action;
    int64_t         recommended_delay_ms;
    char            severity[16];
    int64_t         current_inflight;
    int64_t         queue_depth;
} dub_json_backpressure_t;


typedef struct {
    char            code[DUB_JSON_ID_LEN];
    char            message[DUB_JSON_TEXT_LEN];
    char            severity[16];
    unsigned        retryable:1;
    char            fragment_id[DUB_JSON_ID_LEN];
} dub_json_error_t;


typedef struct {
    int64_t         total_fragments;
    int64_t         total_duration_ms;
    int64_t         success_count;
    int64_t         partial_count;
    int64_t         failed_count;
    double          avg_processing_time_ms;
} dub_json_complete_t;


typedef struct {
    char            sid[DUB_JSON_TEXT_LEN];
    int64_t         ping_interval;
    int64_t         ping_timeout;
    int64_t         max_payload;
} dub_json_open_t;


/* builders: append the Socket.IO event array ["name", {...}]; 0 or -1 */

int dub_json_stream_init(dub_buf_t *b, const dub_json_init_t *v);
int dub_json_fragment_data(dub_buf_t *b, const dub_json_fragment_t *v);
int dub_json_fragment_ack(dub_buf_t *b, const char *fragment_id,
    const char *status, int64_t timestamp);
int dub_json_stream_event(dub_buf_t *b, const char *event,
    const char *stream_id, const char *reason);

/* an object of string pairs, e.g. the namespace auth payload */
int dub_json_object(dub_buf_t *b, const char *const *keys,
    const char *const *values, size_t n);

/* a fragment id: UUID version 4 text from 16 random bytes */
void dub_json_uuid(const uint8_t rnd[16], char out[37]);

/* parsers: 0, or -1 with a reason in "err" */

int dub_json_depth_ok(const char *text, size_t len, unsigned max);

int dub_json_event_parse(const char *text, size_t len, dub_json_event_t *ev,
    char *err, size_t errlen);
void dub_json_event_free(dub_json_event_t *ev);

int dub_json_ready(yajl_val obj, dub_json_ready_t *r, char *err,
    size_t errlen);
int dub_json_ack(yajl_val obj, dub_json_ack_t *a, char *err, size_t errlen);
int dub_json_processed(yajl_val obj, dub_json_processed_t *p, char *err,
    size_t errlen);
int dub_json_backpressure(yajl_val obj, dub_json_backpressure_t *bp,
    char *err, size_t errlen);
int dub_json_error(yajl_val obj, dub_json_error_t *e, char *err,
    size_t errlen);
int dub_json_complete(yajl_val obj, dub_json_complete_t *c, char *err,
    size_t errlen);

/* the small events the STS sends, by their name */

typedef enum {
    DUB_JSON_READY = 0,
    DUB_JSON_ACK,
    DUB_JSON_BACKPRESSURE,
    DUB_JSON_ERROR,
    DUB_JSON_COMPLETE,
    DUB_JSON_UNKNOWN
} dub_json_kind_e;

typedef struct {
    dub_json_kind_e             kind;
    union {
        dub_json_ready_t         ready;
        dub_json_ack_t           ack;
        dub_json_backpressure_t  backpressure;
        dub_json_error_t         error;
        dub_json_complete_t      complete;
    } u;
} dub_json_payload_t;

/*
 * The payload of the event "name": 0 and its kind (DUB_JSON_UNKNOWN for
 * an event the contract does not have), or -1 and why it is not what
 * the contract says.
 */
int dub_json_payload(const char *name, yajl_val obj, dub_json_payload_t *p,
    char *err, size_t errlen);

/*
 * the Engine.IO open packet's JSON; ping times over DUB_JSON_PING_MAX
 * are refused: no sane server waits that long, and their sum overflows
 */
int dub_json_open(const char *text, size_t len, dub_json_open_t *o,
    char *err, size_t errlen);

/* a namespace connect error: {"message":"..."} or a bare string */
void dub_json_connect_error(const char *text, size_t len, char *msg,
    size_t msglen);


#endif /* _DUB_JSON_H_INCLUDED_ */
