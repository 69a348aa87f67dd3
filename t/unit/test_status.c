
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include <yajl/yajl_tree.h>

#include "tap.h"
#include "dub_status.h"
#include "dub_reason.h"
#include "dub_breaker.h"


static int
out_is(dub_buf_t *b, const char *want)
{
    int  same;

    same = (b->len == strlen(want) && memcmp(b->data, want, b->len) == 0);

    if (!same) {
        printf("#   got: \"%.*s\"\n#  want: \"%s\"\n", (int) b->len,
               (char *) b->data, want);
    }

    return same;
}


/* the text parses as JSON, and the value at "path" is the string "want" */

static int
json_has(dub_buf_t *b, const char **path, const char *want)
{
    int          same;
    char         err[128];
    yajl_val     root, v;
    const char  *got;

    root = yajl_tree_parse((const char *) b->data, err, sizeof(err));

    if (root == NULL) {
        printf("#   not JSON: %s\n", err);
        return 0;
    }

    v = yajl_tree_get(root, path, yajl_t_string);
    got = v ? YAJL_GET_STRING(v) : NULL;
    same = (got && strcmp(got, want) == 0);

    if (!same) {
        printf("#   got: %s\n#  want: %s\n", got ? got : "none", want);
    }

    yajl_tree_free(root);

    return same;
}


/* the member "key" of an object, a string, or "" */

static const char *
str(yajl_val obj, const char *key)
{
    yajl_val     v;
    const char  *s;
    const char  *path[] = { key, NULL };

    v = obj ? yajl_tree_get(obj, path, yajl_t_string) : NULL;
    s = v ? YAJL_GET_STRING(v) : NULL;

    return s ? s : "";
}


/* element "i" of the array "key" of an object, or NULL */

static yajl_val
nth(yajl_val obj, const char *key, size_t i)
{
    yajl_val     v;
    const char  *path[] = { key, NULL };

    v = obj ? yajl_tree_get(obj, path, yajl_t_array) : NULL;

    return (v && YAJL_GET_ARRAY(v)->len > i) ? YAJL_GET_ARRAY(v)->values[i]
                                             : NULL;
}


static dub_status_slot_t
slot(const char *stream, size_t app_len, const char *lang,
    const char *output)
{
    dub_status_slot_t  s;

    memset(&s, 0, sizeof(dub_status_slot_t));

    s.stream = stream;
    s.app_len = app_len;
    s.lang = lang;
    s.output = output;
    s.delay_ms = 14000;
    s.segment_ms = 6000;

    return s;
}


int
main(void)
{
    dub_buf_t           b;
    dub_status_slot_t   s[4];

    /* nothing */

    dub_buf_init(&b, 0, 16, 0);

    is(dub_status_json(&b, "0.1.0", NULL, 0), 0, "no streams: done");
    ok(out_is(&b, "{\"version\":\"0.1.0\",\"streams\":[]}\n"),
       "no streams: an empty array");
    b.len = 0;

    /* a stream in two languages, given out of order, and another one */

    s[0] = slot("live/demo", 4, "fr", "dubbed_fr");
    s[0].publishing = 1;
    s[0].since = 1767225600;                    /* 2026-01-01 00:00:00 */
    s[0].last = dub_status_original(DUB_FB_STS_UNAVAILABLE);
    s[0].breaker = DUB_BREAKER_OPEN;
    s[0].segments = 13;
    s[0].dubbed = 10;
    s[0].fallbacks = 2;

    s[1] = slot("live/a", 4, "es", "dubbed");
    s[1].delay_ms = 1250;
    s[1].segment_ms = 500;

    s[2] = slot("live/demo", 4, "es", "dubbed_es");
    s[2].publishing = 0;
    s[2].since = 1767225590;
    s[2].last = DUB_STATUS_DUBBED;
    s[2].connected = 1;
    s[2].endpoint = "ws://sts.example:8000/sts";
    s[2].in_flight = 1;
    s[2].segments = 12;
    s[2].dubbed = 11;
    s[2].fallbacks = 1;

    is(dub_status_json(&b, "0.1.0", s, 3), 0, "three slots: done");

    ok(out_is(&b,
        "{\"version\":\"0.1.0\",\"streams\":[\n"
        "{\"app\":\"live\",\"name\":\"a\",\"publishing\":false,"
        "\"since\":null,\"delay_s\":1.25,\"segment_s\":0.5,\"languages\":["
        "{\"lang\":\"es\",\"output\":\"dubbed\",\"state\":\"starting\","
        "\"reason\":null,\"sts_connected\":false,\"sts_endpoint\":null,"
        "\"breaker\":\"closed\","
        "\"in_flight\":0,\"segments\":0,\"dubbed\":0,\"fallbacks\":0}]},\n"
        "{\"app\":\"live\",\"name\":\"demo\",\"publishing\":true,"
        "\"since\":\"2026-01-01T00:00:00Z\",\"delay_s\":14.0,"
        "\"segment_s\":6.0,\"languages\":["
        "{\"lang\":\"es\",\"output\":\"dubbed_es\",\"state\":\"dubbing\","
        "\"reason\":null,\"sts_connected\":true,"
        "\"sts_endpoint\":\"ws://sts.example:8000/sts\",\"breaker\":\"closed\","
        "\"in_flight\":1,\"segments\":12,\"dubbed\":11,\"fallbacks\":1},"
        "{\"lang\":\"fr\",\"output\":\"dubbed_fr\",\"state\":\"original\","
        "\"reason\":\"sts_unavailable\",\"sts_connected\":false,"
        "\"sts_endpoint\":null,"
        "\"breaker\":\"open\",\"in_flight\":0,\"segments\":13,"
        "\"dubbed\":10,\"fallbacks\":2}]}]}\n"),
       "streams sorted, languages grouped under their stream, publishing "
       "if any language is, since the latest start");
    b.len = 0;

    /* an endpoint's quote and backslash escaped */

    s[0] = slot("live/x", 4, "es", "dubbed");
    s[0].endpoint = "ws://h/a\"b\\c";
    dub_status_json(&b, "v", s, 1);
    ok(strstr((char *) b.data,
              "\"sts_endpoint\":\"ws://h/a\\\"b\\\\c\",") != NULL,
       "the endpoint, escaped as JSON wants");
    b.len = 0;

    /* every reason has its name; what is not one is no reason */

    s[0] = slot("live/x", 4, "es", "dubbed");
    s[0].last = dub_status_original(DUB_FB_INPUT_LATE);
    dub_status_json(&b, "v", s, 1);
    ok(strstr((char *) b.data, "\"state\":\"original\","
                               "\"reason\":\"input_late\"") != NULL,
       "the last reason by its name");
    b.len = 0;

    s[0].last = dub_status_original(DUB_FB_LAST);
    s[0].breaker = 7;
    dub_status_json(&b, "v", s, 1);
    ok(strstr((char *) b.data, "\"state\":\"original\",\"reason\":null")
       && strstr((char *) b.data, "\"breaker\":\"closed\""),
       "no such reason: null; no such breaker state: closed");
    b.len = 0;

    /* what JSON must have escaped */

    s[0] = slot("li\"ve/a\"b\\c%0A", 5, "e\ns", "dub\\bed");
    dub_status_json(&b, "0.1.0", s, 1);

    ok(strstr((char *) b.data, "\"app\":\"li\\\"ve\",\"name\":"
                               "\"a\\\"b\\\\c%0A\"") != NULL,
       "quotes and backslashes escaped; the name kept as it is encoded");
    ok(strstr((char *) b.data, "\"lang\":\"e%0As\",\"output\":"
                               "\"dub\\\\bed\"") != NULL,
       "names from the configuration made printable as stream names are");

    {
        char       err[128];
        yajl_val   root, st, lang;

        root = yajl_tree_parse((const char *) b.data, err, sizeof(err));
        st = nth(root, "streams", 0);
        lang = nth(st, "languages", 0);

        ok(lang && strcmp(str(st, "app"), "li\"ve") == 0
           && strcmp(str(st, "name"), "a\"b\\c%0A") == 0
           && strcmp(str(lang, "lang"), "e%0As") == 0,
           "it parses back to the same names%s%s", root ? "" : ": ",
           root ? "" : err);

        yajl_tree_free(root);
    }

    b.len = 0;

    /* an application with a slash: the same key, two streams */

    s[0] = slot("a/b/c", 1, "es", "o");
    s[1] = slot("a/b/c", 3, "es", "o");
    s[2] = slot("a/b/c", 1, "fr", "o");
    dub_status_json(&b, "v", s, 3);
    ok(strstr((char *) b.data, "{\"app\":\"a\",\"name\":\"b/c\"")
       && strstr((char *) b.data, "{\"app\":\"a/b\",\"name\":\"c\""),
       "streams told apart by where the application ends");
    ok(json_has(&b, (const char *[]) { "version", NULL }, "v"),
       "and it parses");
    b.len = 0;

    /* invalid UTF-8 and control characters in names of the configuration */

    s[0] = slot("\xff/n", 1, "\x01", "\xc3\xa9t\xc3");
    dub_status_json(&b, "v", s, 1);
    ok(strstr((char *) b.data, "\"app\":\"%FF\"")
       && strstr((char *) b.data, "\"lang\":\"%01\"")
       && strstr((char *) b.data, "\"output\":\"\xc3\xa9t%C3\""),
       "bytes that are not printable UTF-8 percent-encoded");
    ok(json_has(&b, (const char *[]) { "version", NULL }, "v"),
       "and it parses");
    b.len = 0;

    /* a buffer that cannot grow */

    dub_buf_free(&b);
    dub_buf_init(&b, 0, 16, 64);
    s[0] = slot("live/demo", 4, "es", "dubbed");
    is(dub_status_json(&b, "0.1.0", s, 1), -1, "a full buffer says so");

    dub_buf_free(&b);

    return tap_done();
}
