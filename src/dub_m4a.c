
/*
 * Copyright (C) nginx-dub developers
 *
 * A segment's AAC frames packed as an M4A in memory for the STS: codec
 * copy, one track, moov at the end.
 */


#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

#include "dub_audio_int.h"


static int dub_m4a_check(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *in, char *err, size_t errlen);
static int dub_m4a_open(const dub_audio_format_t *fmt,
    dub_avio_writer_t *wr, AVIOContext **pb, AVFormatContext **oc, char *err,
    size_t errlen);
static int dub_m4a_write(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *in, AVFormatContext *oc, char *err,
    size_t errlen);


int
dub_audio_pack_m4a(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *in, uint8_t **out, size_t *out_len,
    char *err, size_t errlen)
{
    int                 rc;
    AVIOContext        *pb;
    AVFormatContext    *oc;
    dub_avio_writer_t   wr;

    dub_audio_begin(err, errlen);

    if (out == NULL || out_len == NULL) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "no output");
    }

    *out = NULL;
    *out_len = 0;

    rc = dub_m4a_check(fmt, in, err, errlen);
    if (rc != DUB_AUDIO_OK) {
        return rc;
    }

    pb = NULL;
    oc = NULL;

    rc = dub_m4a_open(fmt, &wr, &pb, &oc, err, errlen);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_m4a_write(fmt, in, oc, err, errlen);
    }

    if (rc == DUB_AUDIO_OK) {
        avio_flush(pb);

        if (wr.failed || wr.len == 0) {
            rc = DUB_AUDIO_ENOMEM;
        }
    }

    if (rc == DUB_AUDIO_OK) {
        *out = wr.data;
        *out_len = wr.len;
        wr.data = NULL;

    } else if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(err, errlen, rc, 0, "out of memory packing m4a");
    }

    avformat_free_context(oc);
    dub_avio_free(&pb);
    free(wr.data);

    return rc;
}


static int
dub_m4a_check(const dub_audio_format_t *fmt, const dub_aac_frames_t *in,
    char *err, size_t errlen)
{
    size_t  i, off;

    if (fmt == NULL || in == NULL || fmt->asc == NULL || fmt->asc_len == 0
        || fmt->asc_len > 64 || fmt->frame_length == 0
        || fmt->sample_rate < DUB_AUDIO_MIN_RATE / 8
        || fmt->sample_rate > DUB_AUDIO_MAX_RATE
        || fmt->channels < 1 || fmt->channels > DUB_AUDIO_MAX_CHANNELS)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "bad audio format");
    }

    if (in->nframes == 0 || in->sizes == NULL || in->data == NULL) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "no frames");
    }

    for (i = 0, off = 0; i < in->nframes; i++) {
        if (in->sizes[i] == 0 || in->sizes[i] > in->len - off) {
            return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                                   "frame %zu overruns the data", i);
        }

        off += in->sizes[i];
    }

    return DUB_AUDIO_OK;
}


/* the ipod muxer on "wr", its AAC track described, the header written */

static int
dub_m4a_open(const dub_audio_format_t *fmt, dub_avio_writer_t *wr,
    AVIOContext **pb, AVFormatContext **oc, char *err, size_t errlen)
{
    int                 ret;
    AVStream           *st;
    AVCodecParameters  *par;

    *pb = dub_avio_writer(wr);
    if (*pb == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    ret = avformat_alloc_output_context2(oc, NULL, "ipod", NULL);
    if (ret < 0) {
        return dub_audio_error(err, errlen, dub_audio_averror(ret,
                               DUB_AUDIO_EENCODE), ret, "ipod muxer");
    }

    (*oc)->pb = *pb;
    (*oc)->flags |= AVFMT_FLAG_CUSTOM_IO;

    st = avformat_new_stream(*oc, NULL);
    if (st == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    st->time_base = (AVRational) { 1, (int) fmt->sample_rate };

    par = st->codecpar;

    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = AV_CODEC_ID_AAC;
    par->sample_rate = (int) fmt->sample_rate;
    par->frame_size = (int) fmt->frame_length;
    av_channel_layout_default(&par->ch_layout, (int) fmt->channels);

    par->extradata = av_mallocz(fmt->asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (par->extradata == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    memcpy(par->extradata, fmt->asc, fmt->asc_len);
    par->extradata_size = (int) fmt->asc_len;

    ret = avformat_write_header(*oc, NULL);
    if (ret < 0) {
        return dub_audio_error(err, errlen, dub_audio_averror(ret,
                               DUB_AUDIO_EENCODE), ret, "m4a header");
    }

    return DUB_AUDIO_OK;
}


/* each frame at its time, then the trailer (the moov) */

static int
dub_m4a_write(const dub_audio_format_t *fmt, const dub_aac_frames_t *in,
    AVFormatContext *oc, char *err, size_t errlen)
{
    int        rc, ret;
    size_t     i, off;
    AVPacket  *pkt;

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    rc = DUB_AUDIO_OK;

    for (i = 0, off = 0; i < in->nframes; i++) {
        ret = av_new_packet(pkt, (int) in->sizes[i]);
        if (ret < 0) {
            rc = DUB_AUDIO_ENOMEM;
            goto done;
        }

        memcpy(pkt->data, in->data + off, in->sizes[i]);
        off += in->sizes[i];

        pkt->stream_index = 0;
        pkt->pts = (int64_t) i * fmt->frame_length;
        pkt->dts = pkt->pts;
        pkt->duration = fmt->frame_length;
        pkt->flags |= AV_PKT_FLAG_KEY;

        av_packet_rescale_ts(pkt, (AVRational) { 1, (int) fmt->sample_rate },
                             oc->streams[0]->time_base);

        /* one stream: no interleaving needed; takes the packet's data */
        ret = av_write_frame(oc, pkt);
        av_packet_unref(pkt);

        if (ret < 0) {
            rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                                 DUB_AUDIO_EENCODE), ret, "m4a frame %zu", i);
            goto done;
        }
    }

    ret = av_write_trailer(oc);
    if (ret < 0) {
        rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                             DUB_AUDIO_EENCODE), ret, "m4a trailer");
    }

done:

    av_packet_free(&pkt);

    return rc;
}
