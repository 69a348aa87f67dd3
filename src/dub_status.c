
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <inttypes.h>

#include "dub_status.h"
#include "dub_name.h"
#include "dub_reason.h"
#include "dub_breaker.h"


static int dub_status_cmp(const void *one, const void *two);
static int dub_status_same_stream(const dub_status_slot_t *a,
    const dub_status_slot_t *b);
static void dub_status_stream(dub_buf_t *b, const dub_status_slot_t *s,
    size_t n);
static void dub_status_lang(dub_buf_t *b, const dub_status_slot_t *s);
static void dub_status_text(dub_buf_t *b, const char *s, size_t len,
    int encode);
static void dub_status_time(dub_buf_t *b, int64_t t);
static void dub_status_seconds(dub_buf_t *b, uint64_t ms);


static const char  *const dub_status_breakers[] = {
    "closed", "half_open", "open"
};


int
dub_status_json(dub_buf_t *b, const char *version, dub_status_slot_t *slots,
    size_t n)
{
    size_t  i, k;

    if (n > 1) {
        qsort(slots, n, sizeof(dub_status_slot_t), dub_status_cmp);
    }

    dub_buf_printf(b, "{\"version\":");
    dub_status_text(b, version, strlen(version), 0);
    dub_buf_printf(b, ",\"streams\":[");

    for (i = 0; i < n; i += k) {
        for (k = 1; i + k < n; k++) {
            if (!dub_status_same_stream(&slots[i], &slots[i + k])) {
                break;
            }
        }

        dub_buf_printf(b, "%s\n", i ? "," : "");
        dub_status_stream(b, &slots[i], k);
    }

    dub_buf_printf(b, "]}\n");

    return b->failed ? -1 : 0;
}


/* by stream ("app/name", then where the application ends), then language */

static int
dub_status_cmp(const void *one, const void *two)
{
    int                       rc;
    const dub_status_slot_t  *a = one, *b = two;

    rc = strcmp(a->stream, b->stream);

    if (rc == 0 && a->app_len != b->app_len) {
        rc = (a->app_len < b->app_len) ? -1 : 1;
    }

    if (rc == 0) {
        rc = strcmp(a->lang, b->lang);
    }

    return rc;
}


static int
dub_status_same_stream(const dub_status_slot_t *a, const dub_status_slot_t *b)
{
    return a->app_len == b->app_len && strcmp(a->stream, b->stream) == 0;
}


/*
 * A stream and its "n" languages.  Its languages start and end together:
 * it is published while any of them says so, since the latest start.
 */

static void
dub_status_stream(dub_buf_t *b, const dub_status_slot_t *s, size_t n)
{
    int      publishing;
    size_t   i, len, app;
    int64_t  since;

    publishing = 0;
    since = 0;

    for (i = 0; i < n; i++) {
        publishing |= s[i].publishing;

        if (s[i].since > since) {
            since = s[i].since;
        }
    }

    len = strlen(s->stream);
    app = (s->app_len < len) ? s->app_len : len;

    dub_buf_printf(b, "{\"app\":");
    dub_status_text(b, s->stream, app, 1);

    dub_buf_printf(b, ",\"name\":");

    if (app < len) {
        /* the name as the metrics zone keeps it: encoded already */
        dub_status_text(b, s->stream + app + 1, len - app - 1, 0);

    } else {
        dub_status_text(b, "", 0, 0);
    }

    dub_buf_printf(b, ",\"publishing\":%s,\"since\":",
                   publishing ? "true" : "false");
    dub_status_time(b, since);

    dub_buf_printf(b, ",\"delay_s\":");
    dub_status_seconds(b, s->delay_ms);
    dub_buf_printf(b, ",\"segment_s\":");
    dub_status_seconds(b, s->segment_ms);

    dub_buf_printf(b, ",\"languages\":[");

    for (i = 0; i < n; i++) {
        dub_buf_printf(b, "%s", i ? "," : "");
        dub_status_lang(b, &s[i]);
    }

    dub_buf_printf(b, "]}");
}


static void
dub_status_lang(dub_buf_t *b, const dub_status_slot_t *s)
{
    uint64_t     reason;
    const char  *state;

    dub_buf_printf(b, "{\"lang\":");
    dub_status_text(b, s->lang, strlen(s->lang), 1);
    dub_buf_printf(b, ",\"output\":");
    dub_status_text(b, s->output, strlen(s->output), 1);

    reason = DUB_FB_LAST;

    if (s->last == DUB_STATUS_NONE) {
        state = "starting";

    } else if (s->last == DUB_STATUS_DUBBED) {
        state = "dubbing";

    } else {
        state = "original";
        reason = s->last - DUB_STATUS_ORIGINAL;
    }

    dub_buf_printf(b, ",\"state\":\"%s\",\"reason\":", state);

    if (reason < DUB_FB_LAST) {
        dub_buf_printf(b, "\"%s\"", dub_fallback_names[reason]);

    } else {
        dub_buf_printf(b, "null");
    }

    dub_buf_printf(b, ",\"sts_connected\":%s,\"sts_endpoint\":",
                   s->connected ? "true" : "false");

    if (s->endpoint) {
        dub_status_text(b, s->endpoint, strlen(s->endpoint), 0);

    } else {
        dub_buf_printf(b, "null");
    }

    dub_buf_printf(b, ",\"breaker\":\"%s\","
                   "\"in_flight\":%" PRIu64 ",\"segments\":%" PRIu64 ","
                   "\"dubbed\":%" PRIu64 ",\"fallbacks\":%" PRIu64 "}",
                   dub_status_breakers[s->breaker <= DUB_BREAKER_OPEN
                                       ? s->breaker : DUB_BREAKER_CLOSED],
                   s->in_flight, s->segments, s->dubbed, s->fallbacks);
}


/*
 * A JSON string.  With "encode", bytes from nginx's configuration are
 * first made printable UTF-8 as stream names are (dub_name.h); then
 * quotes and backslashes are escaped, the only characters of that form
 * JSON wants escaped.
 */

static void
dub_status_text(dub_buf_t *b, const char *s, size_t len, int encode)
{
    char    *enc;
    size_t   i, start;

    enc = NULL;

    if (encode) {
        enc = malloc(dub_name_encoded_max(len));
        if (enc == NULL) {
            b->failed = 1;
            return;
        }

        len = dub_name_encode(enc, (const unsigned char *) s, len);
        s = enc;
    }

    dub_buf_append(b, "\"", 1);

    for (i = 0, start = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            dub_buf_append(b, s + start, i - start);
            dub_buf_append(b, "\\", 1);
            start = i;
        }
    }

    dub_buf_append(b, s + start, len - start);
    dub_buf_append(b, "\"", 1);

    free(enc);
}


/* "2026-01-31T12:00:00Z", or null */

static void
dub_status_time(dub_buf_t *b, int64_t t)
{
    char       text[32];
    time_t     tt;
    struct tm  tm;

    tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        dub_buf_printf(b, "null");
        return;
    }

    dub_buf_printf(b, "\"%s\"", text);
}


/* milliseconds as seconds, with a decimal point: "14.0", "1.25" */

static void
dub_status_seconds(dub_buf_t *b, uint64_t ms)
{
    unsigned  frac;

    frac = (unsigned) (ms % 1000);

    if (frac == 0) {
        dub_buf_printf(b, "%" PRIu64 ".0", ms / 1000);

    } else if (frac % 100 == 0) {
        dub_buf_printf(b, "%" PRIu64 ".%u", ms / 1000, frac / 100);

    } else if (frac % 10 == 0) {
        dub_buf_printf(b, "%" PRIu64 ".%02u", ms / 1000, frac / 10);

    } else {
        dub_buf_printf(b, "%" PRIu64 ".%03u", ms / 1000, frac);
    }
}
