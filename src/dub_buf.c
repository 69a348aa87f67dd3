
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dub_buf.h"


static int dub_buf_reserve(dub_buf_t *b, size_t n);


int
dub_buf_init(dub_buf_t *b, size_t headroom, size_t size, size_t max)
{
    memset(b, 0, sizeof(dub_buf_t));

    b->mem = malloc(headroom + size + 1);
    if (b->mem == NULL) {
        return -1;
    }

    b->data = b->mem + headroom;
    b->cap = size;
    b->max = max;

    return 0;
}


int
dub_buf_append(dub_buf_t *b, const void *p, size_t n)
{
    if (dub_buf_reserve(b, n) != 0) {
        return -1;
    }

    if (n) {
        memcpy(b->data + b->len, p, n);
    }

    b->len += n;

    /* keep it a C string too */
    b->data[b->len] = '\0';

    return 0;
}


int
dub_buf_printf(dub_buf_t *b, const char *fmt, ...)
{
    int      n;
    va_list  ap;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0 || dub_buf_reserve(b, (size_t) n) != 0) {
        return -1;
    }

    va_start(ap, fmt);
    vsnprintf((char *) b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);

    b->len += n;

    return 0;
}


void
dub_buf_free(dub_buf_t *b)
{
    free(b->mem);
    memset(b, 0, sizeof(dub_buf_t));
}


static int
dub_buf_reserve(dub_buf_t *b, size_t n)
{
    size_t    head, cap;
    uint8_t  *mem;

    if (b->failed || b->mem == NULL) {
        b->failed = 1;
        return -1;
    }

    if (b->len + n <= b->cap) {
        return 0;
    }

    if (b->max && b->len + n > b->max) {
        b->failed = 1;
        return -1;
    }

    cap = b->cap ? b->cap : 256;

    while (cap < b->len + n) {
        cap *= 2;
    }

    if (b->max && cap > b->max) {
        cap = b->max;
    }

    head = b->data - b->mem;

    mem = realloc(b->mem, head + cap + 1);
    if (mem == NULL) {
        b->failed = 1;
        return -1;
    }

    b->mem = mem;
    b->data = mem + head;
    b->cap = cap;

    return 0;
}
