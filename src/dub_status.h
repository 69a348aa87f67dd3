
/*
 * Copyright (C) nginx-dub developers
 *
 * The JSON of "dub_status" (docs/status.md): a slot per stream and
 * language, as read from the metrics zone, grouped into one object per
 * stream with its languages.  Plain C, no nginx.
 */


#ifndef _DUB_STATUS_H_INCLUDED_
#define _DUB_STATUS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "dub_buf.h"


/*
 * What the last segment out of a language carried, in one word: none
 * yet, dubbed audio, or the original audio and the fallback reason
 * (DUB_STATUS_ORIGINAL + dub_fallback_e).
 */
#define DUB_STATUS_NONE         0
#define DUB_STATUS_DUBBED       1
#define DUB_STATUS_ORIGINAL     2

#define dub_status_original(reason)  (DUB_STATUS_ORIGINAL + (reason))


/* one language of one stream: a metrics slot, copied */

typedef struct {
    const char     *stream;         /* "app/name", the name encoded */
    size_t          app_len;        /* "app" in "stream" */
    const char     *lang;
    const char     *output;         /* the output application */

    int             publishing;
    int64_t         since;          /* Unix seconds, 0: not known */
    uint64_t        delay_ms;
    uint64_t        segment_ms;

    uint64_t        last;           /* DUB_STATUS_* */
    int             connected;
    const char     *endpoint;       /* the STS URL of its session, NULL */
    uint64_t        breaker;        /* DUB_BREAKER_* */
    uint64_t        in_flight;

    uint64_t        segments;       /* cut, with audio */
    uint64_t        dubbed;
    uint64_t        fallbacks;      /* every reason */
} dub_status_slot_t;


/*
 * Appends the document: {"version": ..., "streams": [...]}, the slots
 * sorted (by stream, then language) in place and those of one stream
 * under it.  0, or -1 if the buffer could not grow.
 */
int dub_status_json(dub_buf_t *b, const char *version,
    dub_status_slot_t *slots, size_t n);


#endif /* _DUB_STATUS_H_INCLUDED_ */
