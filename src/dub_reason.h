
/*
 * Copyright (C) nginx-dub developers
 *
 * Why a segment went out with its original audio: the fallback reasons,
 * one list from which the enum, the names (log lines, the "reason" label
 * of /metrics) and the count are all made.  Plain C, no nginx.
 */


#ifndef _DUB_REASON_H_INCLUDED_
#define _DUB_REASON_H_INCLUDED_


#define DUB_REASONS(X)                                                       \
    X(NOT_CONFIGURED,   "not_configured")   /* no "dub_sts_url" */           \
    X(STS_UNAVAILABLE,  "sts_unavailable")  /* not connected */              \
    X(NOT_READY,        "not_ready")        /* no stream:ready yet */        \
    X(BREAKER_OPEN,     "breaker_open")                                      \
    X(BACKPRESSURE,     "backpressure")     /* the STS said pause */         \
    X(INFLIGHT_FULL,    "inflight_full")    /* max in flight all along */    \
    X(TIMEOUT,          "timeout")                                           \
    X(FAILED,           "failed")           /* status "failed" */            \
    X(ERROR,            "error")            /* an error event */             \
    X(DECODE,           "decode")           /* dubbed audio unusable */      \
    X(LATE,             "late")             /* answer after the slot */      \
    X(OVERSIZE,         "oversize")         /* answer over the limit */      \
    X(TOO_SHORT,        "too_short")        /* last segment under 1 s */     \
    X(UNSUPPORTED,      "unsupported")      /* audio not AAC-LC */           \
    X(INPUT_LATE,       "input_late")       /* segment not complete */


#define DUB_REASON_ENUM(id, name)  DUB_FB_##id,

typedef enum {
    DUB_REASONS(DUB_REASON_ENUM)
    DUB_FB_LAST
} dub_fallback_e;


extern const char  *const dub_fallback_names[DUB_FB_LAST];


#endif /* _DUB_REASON_H_INCLUDED_ */
