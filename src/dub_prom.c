
/*
 * Copyright (C) nginx-dub developers
 */


#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dub_prom.h"


static int dub_prom_head(dub_buf_t *b, const char *name,
    const char *const *labels);


int
dub_prom_family(dub_buf_t *b, const char *name, const char *type,
    const char *help)
{
    const char  *p;

    if (dub_buf_printf(b, "# HELP %s ", name) != 0) {
        return -1;
    }

    /* in HELP only the backslash and the new line are escaped */

    for (p = help; *p; p++) {
        if (dub_buf_append(b, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : p,
                           (*p == '\\' || *p == '\n') ? 2 : 1)
            != 0)
        {
            return -1;
        }
    }

    return dub_buf_printf(b, "\n# TYPE %s %s\n", name, type);
}


int
dub_prom_sample(dub_buf_t *b, const char *name, const char *const *labels,
    double value)
{
    if (dub_prom_head(b, name, labels) != 0) {
        return -1;
    }

    if (isnan(value)) {
        return dub_buf_printf(b, " NaN\n");
    }

    if (isinf(value)) {
        return dub_buf_printf(b, value > 0 ? " +Inf\n" : " -Inf\n");
    }

    /* integers print without exponent; 15 digits are plenty here */
    return dub_buf_printf(b, " %.15g\n", value);
}


int
dub_prom_sample_u64(dub_buf_t *b, const char *name,
    const char *const *labels, uint64_t value)
{
    if (dub_prom_head(b, name, labels) != 0) {
        return -1;
    }

    return dub_buf_printf(b, " %llu\n", (unsigned long long) value);
}


int
dub_prom_escape(dub_buf_t *b, const char *s, size_t len)
{
    size_t  i, run;

    run = 0;

    for (i = 0; i < len; i++) {
        if (s[i] != '\\' && s[i] != '"' && s[i] != '\n') {
            continue;
        }

        if (dub_buf_append(b, s + run, i - run) != 0) {
            return -1;
        }

        if (dub_buf_append(b, s[i] == '\\' ? "\\\\"
                              : s[i] == '"' ? "\\\"" : "\\n", 2)
            != 0)
        {
            return -1;
        }

        run = i + 1;
    }

    return dub_buf_append(b, s + run, len - run);
}


static int
dub_prom_head(dub_buf_t *b, const char *name, const char *const *labels)
{
    int  first;

    if (dub_buf_append(b, name, strlen(name)) != 0) {
        return -1;
    }

    if (labels == NULL || labels[0] == NULL) {
        return 0;
    }

    first = 1;

    for ( /* void */ ; labels[0] && labels[1]; labels += 2) {
        if (dub_buf_printf(b, "%s%s=\"", first ? "{" : ",", labels[0]) != 0
            || dub_prom_escape(b, labels[1], strlen(labels[1])) != 0
            || dub_buf_append(b, "\"", 1) != 0)
        {
            return -1;
        }

        first = 0;
    }

    return dub_buf_append(b, "}", 1);
}


void
dub_prom_seconds(char *buf, size_t size, uint64_t us)
{
    int  n;

    n = snprintf(buf, size, "%" PRIu64 ".%06" PRIu64, us / 1000000,
                 us % 1000000);

    if (n <= 0 || (size_t) n >= size) {
        return;
    }

    /* "0.050000" -> "0.05", "1.000000" -> "1" */

    while (buf[n - 1] == '0') {
        buf[--n] = '\0';
    }

    if (buf[n - 1] == '.') {
        buf[n - 1] = '\0';
    }
}
