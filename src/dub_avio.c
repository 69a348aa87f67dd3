
/*
 * Copyright (C) nginx-dub developers
 *
 * Buffers in memory as FFmpeg's I/O: the STS's audio read by a demuxer,
 * the segment's M4A written by the muxer.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "dub_audio_int.h"


#define DUB_AVIO_SIZE           32768

/* newer libavformat passes a const buffer to the write callback */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define DUB_AVIO_WBUF           const uint8_t
#else
#define DUB_AVIO_WBUF           uint8_t
#endif


static AVIOContext *dub_avio_alloc(void *opaque, int writable);
static int dub_avio_read(void *opaque, uint8_t *buf, int size);
static int64_t dub_avio_read_seek(void *opaque, int64_t offset, int whence);
static int dub_avio_write(void *opaque, DUB_AVIO_WBUF *buf, int size);
static int64_t dub_avio_write_seek(void *opaque, int64_t offset,
    int whence);
static int64_t dub_avio_seek_pos(int64_t pos, int64_t len, int64_t offset,
    int whence);


AVIOContext *
dub_avio_reader(dub_avio_reader_t *rd, const uint8_t *data, size_t len)
{
    rd->data = data;
    rd->len = len;
    rd->pos = 0;

    return dub_avio_alloc(rd, 0);
}


AVIOContext *
dub_avio_writer(dub_avio_writer_t *wr)
{
    memset(wr, 0, sizeof(dub_avio_writer_t));

    return dub_avio_alloc(wr, 1);
}


void
dub_avio_free(AVIOContext **pb)
{
    if (*pb) {
        av_freep(&(*pb)->buffer);
        avio_context_free(pb);
    }
}


static AVIOContext *
dub_avio_alloc(void *opaque, int writable)
{
    uint8_t      *buf;
    AVIOContext  *pb;

    buf = av_malloc(DUB_AVIO_SIZE);
    if (buf == NULL) {
        return NULL;
    }

    if (writable) {
        pb = avio_alloc_context(buf, DUB_AVIO_SIZE, 1, opaque, NULL,
                                dub_avio_write, dub_avio_write_seek);

    } else {
        pb = avio_alloc_context(buf, DUB_AVIO_SIZE, 0, opaque, dub_avio_read,
                                NULL, dub_avio_read_seek);
    }

    if (pb == NULL) {
        av_free(buf);
    }

    return pb;
}


static int
dub_avio_read(void *opaque, uint8_t *buf, int size)
{
    size_t              n;
    dub_avio_reader_t  *rd;

    rd = opaque;

    if (size <= 0 || rd->pos >= (int64_t) rd->len) {
        return AVERROR_EOF;
    }

    n = rd->len - (size_t) rd->pos;

    if (n > (size_t) size) {
        n = size;
    }

    memcpy(buf, rd->data + rd->pos, n);
    rd->pos += n;

    return (int) n;
}


static int64_t
dub_avio_read_seek(void *opaque, int64_t offset, int whence)
{
    int64_t             pos;
    dub_avio_reader_t  *rd;

    rd = opaque;

    if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE) {
        return (int64_t) rd->len;
    }

    /* past the end is allowed, as with a file: reads then see EOF */
    pos = dub_avio_seek_pos(rd->pos, (int64_t) rd->len, offset, whence);
    if (pos < 0) {
        return AVERROR(EINVAL);
    }

    rd->pos = pos;

    return pos;
}


static int
dub_avio_write(void *opaque, DUB_AVIO_WBUF *buf, int size)
{
    size_t              cap;
    uint8_t            *p;
    dub_avio_writer_t  *wr;

    wr = opaque;

    if (size <= 0) {
        return 0;
    }

    if (wr->pos + size > wr->cap) {
        cap = wr->cap ? wr->cap : 65536;

        while (cap < wr->pos + size) {
            cap *= 2;
        }

        p = realloc(wr->data, cap);
        if (p == NULL) {
            wr->failed = 1;
            return AVERROR(ENOMEM);
        }

        wr->data = p;
        wr->cap = cap;
    }

    /* a gap left by a seek past the end reads as zeros */
    if (wr->pos > wr->len) {
        memset(wr->data + wr->len, 0, wr->pos - wr->len);
    }

    memcpy(wr->data + wr->pos, buf, size);
    wr->pos += size;

    if (wr->pos > wr->len) {
        wr->len = wr->pos;
    }

    return size;
}


static int64_t
dub_avio_write_seek(void *opaque, int64_t offset, int whence)
{
    int64_t             pos;
    dub_avio_writer_t  *wr;

    wr = opaque;

    if ((whence & ~AVSEEK_FORCE) == AVSEEK_SIZE) {
        return (int64_t) wr->len;
    }

    pos = dub_avio_seek_pos((int64_t) wr->pos, (int64_t) wr->len, offset,
                            whence);
    if (pos < 0 || pos > (int64_t) wr->len + (1 << 20)) {
        return AVERROR(EINVAL);
    }

    wr->pos = (size_t) pos;

    return pos;
}


/*
 * Where a seek goes, or -1.  Offsets are bounded first, so that no sum
 * overflows whatever a demuxer read from its input.
 */

static int64_t
dub_avio_seek_pos(int64_t pos, int64_t len, int64_t offset, int whence)
{
    if (offset > INT64_MAX / 2 || offset < INT64_MIN / 2) {
        return -1;
    }

    switch (whence & ~AVSEEK_FORCE) {

    case SEEK_SET:
        return offset;

    case SEEK_CUR:
        return pos + offset;

    case SEEK_END:
        return len + offset;

    default:
        return -1;
    }
}
