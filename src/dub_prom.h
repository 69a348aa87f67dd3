
/*
 * Copyright (C) nginx-dub developers
 *
 * Prometheus text exposition format (version 0.0.4): label values
 * escaped, numbers written the way Prometheus parses them, families with
 * their HELP and TYPE once.  Plain C, no nginx.
 */


#ifndef _DUB_PROM_H_INCLUDED_
#define _DUB_PROM_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "dub_buf.h"


#define DUB_PROM_CONTENT_TYPE   "text/plain; version=0.0.4; charset=utf-8"


/* "# HELP name help\n# TYPE name type\n" */
int dub_prom_family(dub_buf_t *b, const char *name, const char *type,
    const char *help);

/*
 * One sample: name{labels} value.  "labels" alternate names and values,
 * NULL-terminated; values are escaped (backslash, quote, new line).
 */
int dub_prom_sample(dub_buf_t *b, const char *name, const char *const *labels,
    double value);

/* the same with an integer value, exact beyond 2^53 */
int dub_prom_sample_u64(dub_buf_t *b, const char *name,
    const char *const *labels, uint64_t value);

/* microseconds as seconds, the shortest way: "0.05", "1" */
void dub_prom_seconds(char *buf, size_t size, uint64_t us);

/* appends the escaped form of a label value */
int dub_prom_escape(dub_buf_t *b, const char *s, size_t len);


#endif /* _DUB_PROM_H_INCLUDED_ */
