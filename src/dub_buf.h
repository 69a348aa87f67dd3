
/*
 * Copyright (C) nginx-dub developers
 *
 * A growable byte buffer with optional headroom in front (libwebsockets
 * wants LWS_PRE bytes before what it sends).  Plain C, no nginx.
 */


#ifndef _DUB_BUF_H_INCLUDED_
#define _DUB_BUF_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


typedef struct {
    uint8_t        *mem;        /* allocation */
    uint8_t        *data;       /* mem + headroom */
    size_t          len;
    size_t          cap;        /* bytes available from data */
    size_t          max;        /* growth limit, 0: none */
    unsigned        failed:1;   /* an append did not fit */
} dub_buf_t;


int dub_buf_init(dub_buf_t *b, size_t headroom, size_t size, size_t max);
int dub_buf_append(dub_buf_t *b, const void *p, size_t n);
int dub_buf_printf(dub_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dub_buf_free(dub_buf_t *b);


#endif /* _DUB_BUF_H_INCLUDED_ */
