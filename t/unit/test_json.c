
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "dub_json.h"


static char  err[DUB_JSON_ERRLEN];


static yajl_val
get(yajl_val v, const char *a, const char *b)
{
    const char  *path[3];

    path[0] = a;
    path[1] = b;
    path[2] = NULL;

    return yajl_tree_get(v, path, yajl_t_any);
}


/* parses a builder's output as an event; the caller frees ev */

static int
event(dub_buf_t *b, dub_json_event_t *ev)
{
    return dub_json_event_parse((char *) b->data, b->len, ev, err,
                                sizeof(err));
}


static int
parse(const char *text, dub_json_event_t *ev)
{
    return dub_json_event_parse(text, strlen(text), ev, err, sizeof(err));
}


static void
test_build(void)
{
    dub_buf_t            b;
    yajl_val             v;
    dub_json_event_t     ev;
    dub_json_init_t      init;
    dub_json_fragment_t  f;
    const char          *keys[] = { "token", "x" };
    const char          *vals[] = { "se\"cret", "y" };

    memset(&init, 0, sizeof(init));
    init.stream_id = "live/demo";
    init.worker_id = "host:123";
    init.source_language = "en";
    init.target_language = "es";
    init.voice_profile = "default";
    init.chunk_duration_ms = 6000;
    init.sample_rate_hz = 44100;
    init.channels = 2;
    init.format = "m4a";
    init.max_inflight = 3;
    init.timeout_ms = 8000;

    dub_buf_init(&b, 0, 64, 0);

    ok(dub_json_stream_init(&b, &init) == 0, "stream:init built");
    ok(event(&b, &ev) == 0 && strcmp(ev.name, "stream:init") == 0,
       "stream:init is an event");
    v = get(ev.payload, "config", "target_language");
    ok(YAJL_IS_STRING(v) && strcmp(v->u.string, "es") == 0,
       "config.target_language");
    v = get(ev.payload, "max_inflight", NULL);
    ok(YAJL_IS_INTEGER(v) && v->u.number.i == 3, "max_inflight");
    v = get(ev.payload, "stream_id", NULL);
    ok(YAJL_IS_STRING(v) && strcmp(v->u.string, "live/demo") == 0,
       "stream_id");
    dub_json_event_free(&ev);

    b.len = 0;
    memset(&f, 0, sizeof(f));
    f.fragment_id = "0b1e5c2a-0000-4000-8000-000000000001";
    f.stream_id = "demo";
    f.sequence_number = 4;
    f.timestamp = 1700000000123LL;
    f.format = "m4a";
    f.sample_rate_hz = 44100;
    f.channels = 2;
    f.duration_ms = 6000;
    f.data_base64 = "AAAA";
    f.data_base64_len = 4;
    f.pts_ns = 24000000000LL;

    ok(dub_json_fragment_data(&b, &f) == 0, "fragment:data built");
    ok(event(&b, &ev) == 0, "fragment:data parses");
    v = get(ev.payload, "audio", "data_base64");
    ok(YAJL_IS_STRING(v) && strcmp(v->u.string, "AAAA") == 0, "audio data");
    v = get(ev.payload, "metadata", "pts_ns");
    ok(YAJL_IS_INTEGER(v) && v->u.number.i == 24000000000LL, "pts_ns");
    v = get(ev.payload, "timestamp", NULL);
    ok(YAJL_IS_INTEGER(v) && v->u.number.i == 1700000000123LL, "timestamp");
    v = get(ev.payload, "sequence_number", NULL);
    ok(YAJL_IS_INTEGER(v) && v->u.number.i == 4, "sequence_number");
    dub_json_event_free(&ev);

    b.len = 0;
    ok(dub_json_fragment_ack(&b, "id-1", "applied", 5) == 0
       && event(&b, &ev) == 0
       && strcmp(ev.name, "fragment:ack") == 0
       && strcmp(get(ev.payload, "status", NULL)->u.string, "applied") == 0,
       "fragment:ack applied");
    dub_json_event_free(&ev);

    b.len = 0;
    ok(dub_json_stream_event(&b, "stream:pause", "demo", "breaker") == 0
       && event(&b, &ev) == 0
       && strcmp(get(ev.payload, "reason", NULL)->u.string, "breaker") == 0,
       "stream:pause with a reason");
    dub_json_event_free(&ev);

    b.len = 0;
    ok(dub_json_stream_event(&b, "stream:resume", "demo", NULL) == 0
       && event(&b, &ev) == 0 && get(ev.payload, "reason", NULL) == NULL,
       "stream:resume without a reason");
    dub_json_event_free(&ev);

    b.len = 0;
    ok(dub_json_object(&b, keys, vals, 2) == 0
       && strcmp((char *) b.data, "{\"token\":\"se\\\"cret\",\"x\":\"y\"}")
          == 0, "auth object, escaped");

    b.len = 0;
    init.stream_id = "bad\xff";
    ok(dub_json_stream_init(&b, &init) != 0, "invalid UTF-8 refused");

    dub_buf_free(&b);
}


static void
test_parse(void)
{
    dub_json_event_t         ev;
    dub_json_ready_t         r;
    dub_json_ack_t           a;
    dub_json_processed_t     p;
    dub_json_backpressure_t  bp;
    dub_json_error_t         e;
    dub_json_complete_t      c;
    dub_json_open_t          o;
    char                     msg[64];

    ok(parse("[\"stream:ready\",{\"stream_id\":\"d\",\"session_id\":\"s1\","
             "\"max_inflight\":2,\"capabilities\":{\"batch_processing\":"
             "false}}]", &ev) == 0
       && dub_json_ready(ev.payload, &r, err, sizeof(err)) == 0
       && r.max_inflight == 2 && strcmp(r.session_id, "s1") == 0,
       "stream:ready");
    dub_json_event_free(&ev);

    ok(parse("[\"stream:ready\",{\"session_id\":\"s\",\"max_inflight\":50}]",
             &ev) == 0
       && dub_json_ready(ev.payload, &r, err, sizeof(err)) == 0
       && r.max_inflight == 10, "max_inflight capped at 10");
    dub_json_event_free(&ev);

    ok(parse("[\"stream:ready\",{\"session_id\":\"s\",\"max_inflight\":\"3\"}]",
             &ev) == 0
       && dub_json_ready(ev.payload, &r, err, sizeof(err)) != 0
       && strstr(err, "max_inflight"), "max_inflight as a string refused");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:ack\",{\"fragment_id\":\"f\",\"status\":\"queued\","
             "\"queue_position\":1}]", &ev) == 0
       && dub_json_ack(ev.payload, &a, err, sizeof(err)) == 0
       && strcmp(a.status, "queued") == 0, "fragment:ack");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f1\","
             "\"stream_id\":\"d\",\"sequence_number\":3,\"status\":"
             "\"success\",\"processing_time_ms\":812.5,\"dubbed_audio\":"
             "{\"format\":\"pcm_s16le\",\"sample_rate_hz\":16000,"
             "\"channels\":1,\"duration_ms\":6000,\"data_base64\":\"AAA=\"},"
             "\"transcript\":\"hi\"}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && p.status == DUB_STATUS_SUCCESS && p.has_audio
       && p.sequence_number == 3 && p.processing_time_ms == 812
       && strcmp(p.format, "pcm_s16le") == 0 && p.sample_rate_hz == 16000
       && p.channels == 1 && p.data_base64_len == 4 && p.attachment == -1,
       "fragment:processed success");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"failed\",\"error\":{\"code\":\"TIMEOUT\",\"message\":\"m\","
             "\"stage\":\"tts\"}}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && p.status == DUB_STATUS_FAILED && p.has_error && p.retryable
       && strcmp(p.error_stage, "tts") == 0,
       "failed without retryable: from the code table");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"failed\",\"error\":{\"code\":\"TIMEOUT\",\"retryable\":false"
             "}}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && !p.retryable, "explicit retryable false wins");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"partial\",\"dubbed_audio\":{\"format\":\"m4a\","
             "\"data_base64\":{\"_placeholder\":true,\"num\":0}}}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && p.status == DUB_STATUS_PARTIAL && p.attachment == 0,
       "binary placeholder");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":42,\"status\":42,"
             "\"dubbed_audio\":\"x\"}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) != 0
       && strstr(err, "fragment_id"), "wrong types refused");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"success\"}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) != 0
       && strstr(err, "dubbed_audio"), "success without audio refused");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"done\"}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) != 0,
       "unknown status refused");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"0123456789012345678"
             "90123456789012345678901234567890123456789012345678901234567"
             "890\",\"status\":\"failed\"}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) != 0,
       "over-long fragment id refused");
    dub_json_event_free(&ev);

    ok(parse("[\"backpressure\",{\"stream_id\":\"d\",\"severity\":\"high\","
             "\"current_inflight\":3,\"queue_depth\":9,\"action\":"
             "\"slow_down\",\"recommended_delay_ms\":500}]", &ev) == 0
       && dub_json_backpressure(ev.payload, &bp, err, sizeof(err)) == 0
       && bp.action == DUB_BP_SLOW_DOWN && bp.recommended_delay_ms == 500
       && bp.queue_depth == 9, "backpressure slow_down");
    dub_json_event_free(&ev);

    ok(parse("[\"backpressure\",{\"action\":\"explode\"}]", &ev) == 0
       && dub_json_backpressure(ev.payload, &bp, err, sizeof(err)) != 0,
       "unknown backpressure action refused");
    dub_json_event_free(&ev);

    ok(parse("[\"error\",{\"code\":\"AUTH_FAILED\",\"message\":\"no\","
             "\"severity\":\"fatal\",\"retryable\":false}]", &ev) == 0
       && dub_json_error(ev.payload, &e, err, sizeof(err)) == 0
       && !e.retryable && strcmp(e.code, "AUTH_FAILED") == 0
       && e.fragment_id[0] == '\0', "error event");
    dub_json_event_free(&ev);

    ok(parse("[\"error\",{\"code\":\"QUEUE_FULL\",\"fragment_id\":\"f9\"}]",
             &ev) == 0
       && dub_json_error(ev.payload, &e, err, sizeof(err)) == 0
       && e.retryable && strcmp(e.fragment_id, "f9") == 0,
       "error event for a fragment, retryable by code");
    dub_json_event_free(&ev);

    ok(parse("[\"stream:complete\",{\"stream_id\":\"d\",\"total_fragments\""
             ":10,\"total_duration_ms\":60000,\"statistics\":{\"success_count"
             "\":9,\"partial_count\":0,\"failed_count\":1,"
             "\"avg_processing_time_ms\":700.2,\"p95_processing_time_ms\":"
             "900}}]", &ev) == 0
       && dub_json_complete(ev.payload, &c, err, sizeof(err)) == 0
       && c.total_fragments == 10 && c.failed_count == 1,
       "stream:complete");
    dub_json_event_free(&ev);

    ok(parse("[\"weird:event\"]", &ev) == 0 && ev.payload == NULL,
       "event without payload");
    dub_json_event_free(&ev);

    ok(parse("{\"a\":1}", &ev) != 0, "an object is not an event");
    ok(parse("[1,2]", &ev) != 0, "event name must be a string");
    ok(parse("[\"fragment:processed\",{\"fragment_id\":", &ev) != 0
       && strstr(err, "invalid JSON"), "truncated JSON refused");
    ok(parse("", &ev) != 0, "empty refused");

    {
        char    *deep;
        size_t   i;

        deep = malloc(200001);

        for (i = 0; i < 200000; i++) {
            deep[i] = '[';
        }

        deep[i] = '\0';

        ok(parse(deep, &ev) != 0 && strstr(err, "deeper"),
           "deep nesting refused before parsing");
        free(deep);
    }

    ok(dub_json_depth_ok("[\"[[[[[[\"]", 9, 2), "brackets in strings "
       "do not count");

    {
        const char  *s = "{\"sid\":\"abc\",\"upgrades\":[],\"pingInterval\":"
                         "25000,\"pingTimeout\":20000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) == 0
           && o.ping_interval == 25000 && o.max_payload == 1000000
           && strcmp(o.sid, "abc") == 0, "open packet without maxPayload");
    }

    {
        const char  *s = "{\"sid\":\"abc\"}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0,
           "open packet without ping times refused");
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":"
                         "9223372036854775807,\"pingTimeout\":20000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0
           && strcmp(err, "\"pingInterval\" 9223372036854775807 is over "
                          "600000 ms") == 0,
           "pingInterval INT64_MAX refused: %s", err);
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":25000,"
                         "\"pingTimeout\":9223372036854775807}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0
           && strstr(err, "\"pingTimeout\" 9223372036854775807 is over"),
           "pingTimeout INT64_MAX refused: %s", err);
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":"
                         "9223372036854775808,\"pingTimeout\":20000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0,
           "pingInterval past INT64_MAX refused: %s", err);
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":600001,"
                         "\"pingTimeout\":20000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0,
           "pingInterval just over 10 min refused: %s", err);
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":600000,"
                         "\"pingTimeout\":600000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) == 0
           && o.ping_interval + o.ping_timeout == 1200000,
           "10 min each accepted");
    }

    {
        const char  *s = "{\"sid\":\"abc\",\"pingInterval\":1e300,"
                         "\"pingTimeout\":20000}";

        ok(dub_json_open(s, strlen(s), &o, err, sizeof(err)) != 0,
           "pingInterval 1e300 refused: %s", err);
    }

    dub_json_connect_error("{\"message\":\"not allowed\"}", 25, msg,
                           sizeof(msg));
    ok(strcmp(msg, "not allowed") == 0, "connect error object");
    dub_json_connect_error("\"Unauthorized\"", 14, msg, sizeof(msg));
    ok(strcmp(msg, "Unauthorized") == 0, "connect error bare string");
    dub_json_connect_error("", 0, msg, sizeof(msg));
    ok(strcmp(msg, "refused") == 0, "connect error without data");
}


static void
test_uuid(void)
{
    char     id[37];
    uint8_t  r[16];

    memset(r, 0xff, sizeof(r));
    dub_json_uuid(r, id);
    ok(strcmp(id, "ffffffff-ffff-4fff-bfff-ffffffffffff") == 0,
       "uuid version and variant bits");

    memset(r, 0, sizeof(r));
    dub_json_uuid(r, id);
    ok(strcmp(id, "00000000-0000-4000-8000-000000000000") == 0,
       "uuid from zeros");
}


/* the texts captions use: kept, absent, of another type, cut */

static void
test_texts(void)
{
    int                    cut_ok;
    char                  *json, *q;
    size_t                 i, n;
    dub_json_event_t       ev;
    dub_json_processed_t   p;

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"success\",\"dubbed_audio\":{\"format\":\"m4a\","
             "\"data_base64\":\"AAA=\"},\"transcript\":\"Hello sir\","
             "\"translated_text\":"
             "\"Hola se\\u00f1or, \\u00bfqu\\u00e9 tal?\"}]",
             &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && strcmp(p.transcript, "Hello sir") == 0
       && strcmp(p.translated_text,
                 "Hola se\xc3\xb1or, \xc2\xbfqu\xc3\xa9 tal?") == 0,
       "transcript and translated_text kept, UTF-8");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"failed\",\"transcript\":\"heard\",\"translated_text\":"
             "null}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && strcmp(p.transcript, "heard") == 0 && p.translated_text[0] == '\0',
       "a failed answer keeps its transcript; null is no text");
    dub_json_event_free(&ev);

    ok(parse("[\"fragment:processed\",{\"fragment_id\":\"f\",\"status\":"
             "\"success\",\"dubbed_audio\":{\"format\":\"m4a\","
             "\"data_base64\":\"AAA=\"},\"transcript\":42,"
             "\"translated_text\":[\"x\"]}]", &ev) == 0
       && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
       && p.has_audio && p.transcript[0] == '\0'
       && p.translated_text[0] == '\0',
       "texts of another type: no text, the audio still used");
    dub_json_event_free(&ev);

    /* two-byte characters: the last byte kept would be a first byte */

    n = DUB_JSON_CAPTION_LEN + 100;
    json = malloc(n + 200);
    if (json == NULL) {
        ok(0, "no memory");
        return;
    }

    q = json + sprintf(json, "[\"fragment:processed\",{\"fragment_id\":"
                       "\"f\",\"status\":\"failed\",\"translated_text\":"
                       "\"");

    for (i = 0; i < n / 2; i++) {
        *q++ = '\xc3';
        *q++ = '\xa9';
    }

    strcpy(q, "\"}]");

    cut_ok = 0;

    if (parse(json, &ev) == 0
        && dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0)
    {
        n = strlen(p.translated_text);
        cut_ok = n == DUB_JSON_CAPTION_LEN - 2
                 && (unsigned char) p.translated_text[n - 1] == 0xa9
                 && (unsigned char) p.translated_text[n - 2] == 0xc3;
    }

    ok(cut_ok, "a long text cut at a character, not inside one");
    dub_json_event_free(&ev);
    free(json);
}


int
main(void)
{
    test_build();
    test_parse();
    test_texts();
    test_uuid();

    return tap_done();
}
