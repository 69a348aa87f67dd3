
/*
 * Copyright (C) nginx-dub developers
 *
 * The STS's dubbed audio decoded (M4A, ADTS AAC, MP3, WAV, raw PCM) and
 * resampled to the stream's rate and layout, as planar float samples.
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libswresample/swresample.h>

#include "dub_audio_int.h"


#define DUB_DECODE_MAX_PACKETS  1000000


/* a format of the contract: a demuxer, or raw samples */

typedef struct {
    const char                *name;
    const char                *demuxer;
    enum AVSampleFormat        raw;
} dub_decode_format_t;


/* one input's decoding: the resampler follows its format */

typedef struct {
    dub_audio_ctx_t           *ctx;
    dub_audio_pcm_t           *pcm;
    const char                *what;        /* the input's format */
    SwrContext                *swr;
    int                        in_format;
    int                        in_rate;
    AVChannelLayout            in_layout;
    unsigned                   bad;         /* packets not decoded */
    int                        bad_err;
} dub_decode_t;


static const dub_decode_format_t *dub_decode_format(const char *name);
static int dub_decode_file(dub_decode_t *d, const dub_audio_input_t *in,
    const char *demuxer);
static int dub_decode_open_input(dub_decode_t *d, AVIOContext *pb,
    const AVInputFormat *ifmt, AVFormatContext **ic);
static int dub_decode_open_codec(dub_decode_t *d, AVFormatContext *ic,
    int *idx, AVCodecContext **dec);
static int dub_decode_packets(dub_decode_t *d, AVFormatContext *ic, int idx,
    AVCodecContext *dec);
static int dub_decode_send(dub_decode_t *d, AVCodecContext *dec,
    AVPacket *pkt, AVFrame *frame);
static int dub_decode_receive(dub_decode_t *d, AVCodecContext *dec,
    AVFrame *frame);
static int dub_decode_frame(dub_decode_t *d, AVFrame *frame);
static int dub_decode_raw(dub_decode_t *d, const dub_audio_input_t *in,
    enum AVSampleFormat format);
static int dub_decode_raw_chunks(dub_decode_t *d, const dub_audio_input_t *in,
    enum AVSampleFormat format, size_t fbytes, size_t nsamples);
static int dub_decode_finite(dub_decode_t *d, const float *f, size_t n,
    size_t first, unsigned channels);
static int dub_decode_push(dub_decode_t *d, const uint8_t **data, int n,
    int format, int rate, const AVChannelLayout *layout);
static int dub_decode_resampler(dub_decode_t *d, int format, int rate,
    const AVChannelLayout *layout);
static int dub_decode_convert(dub_decode_t *d, const uint8_t **data, int n);


static const dub_decode_format_t  dub_decode_formats[] = {
    { "m4a",        "mov",  AV_SAMPLE_FMT_NONE },
    { "aac",        "aac",  AV_SAMPLE_FMT_NONE },
    { "mp3",        "mp3",  AV_SAMPLE_FMT_NONE },
    { "wav",        "wav",  AV_SAMPLE_FMT_NONE },
    { "pcm_s16le",  NULL,   AV_SAMPLE_FMT_S16 },
    { "pcm_f32le",  NULL,   AV_SAMPLE_FMT_FLT },
    { NULL,         NULL,   AV_SAMPLE_FMT_NONE }
};


int
dub_decode_check(dub_audio_ctx_t *ctx, const dub_audio_input_t *in)
{
    if (dub_decode_format(in->format) == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "unknown audio format \"%.32s\"", in->format);
    }

    if (in->data == NULL || in->len == 0) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, 0,
                               "empty audio");
    }

    return DUB_AUDIO_OK;
}


int
dub_decode(dub_audio_ctx_t *ctx, const dub_audio_input_t *in,
    dub_audio_pcm_t *pcm)
{
    int                         rc;
    dub_decode_t                d;
    const dub_decode_format_t  *f;

    f = dub_decode_format(in->format);
    if (f == NULL) {
        return dub_decode_check(ctx, in);
    }

    memset(&d, 0, sizeof(dub_decode_t));

    d.ctx = ctx;
    d.pcm = pcm;
    d.what = in->format;

    if (f->demuxer) {
        rc = dub_decode_file(&d, in, f->demuxer);

    } else {
        rc = dub_decode_raw(&d, in, f->raw);
    }

    if (rc == DUB_AUDIO_OK && d.swr) {
        rc = dub_decode_convert(&d, NULL, 0);
    }

    if (rc == DUB_AUDIO_OK && pcm->len == 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, 0,
                             "no audio decoded from %s", in->format);
    }

    swr_free(&d.swr);
    av_channel_layout_uninit(&d.in_layout);

    return rc;
}


static const dub_decode_format_t *
dub_decode_format(const char *name)
{
    const dub_decode_format_t  *f;

    for (f = dub_decode_formats; f->name; f++) {
        if (strcmp(name, f->name) == 0) {
            return f;
        }
    }

    return NULL;
}


static int
dub_decode_file(dub_decode_t *d, const dub_audio_input_t *in,
    const char *demuxer)
{
    int                   rc, idx;
    AVIOContext          *pb;
    AVCodecContext       *dec;
    AVFormatContext      *ic;
    dub_avio_reader_t     rd;
    const AVInputFormat  *ifmt;

    ic = NULL;
    dec = NULL;
    idx = -1;
    rc = DUB_AUDIO_ENOMEM;

    ifmt = av_find_input_format(demuxer);
    if (ifmt == NULL) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EFORMAT, 0, "no %s demuxer",
                               demuxer);
    }

    pb = dub_avio_reader(&rd, in->data, in->len);
    if (pb == NULL) {
        goto failed;
    }

    rc = dub_decode_open_input(d, pb, ifmt, &ic);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_decode_open_codec(d, ic, &idx, &dec);
    }

    if (rc == DUB_AUDIO_OK) {
        rc = dub_decode_packets(d, ic, idx, dec);
    }

failed:

    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(d->ctx->err, d->ctx->errlen, rc, 0,
                        "out of memory decoding");
    }

    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    dub_avio_free(&pb);

    return rc;
}


static int
dub_decode_open_input(dub_decode_t *d, AVIOContext *pb,
    const AVInputFormat *ifmt, AVFormatContext **ic)
{
    int  ret;

    *ic = avformat_alloc_context();
    if (*ic == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    (*ic)->pb = pb;
    (*ic)->flags |= AVFMT_FLAG_CUSTOM_IO;

    /*
     * Frees "ic" on failure.  Any failure, ENOMEM too, means bad input
     * here: demuxers fail allocations of absurd sizes read from it.
     */
    ret = avformat_open_input(ic, NULL, ifmt, NULL);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, ret, "not %s audio",
                               d->what);
    }

    ret = avformat_find_stream_info(*ic, NULL);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, ret, "%s stream info",
                               d->what);
    }

    return DUB_AUDIO_OK;
}


/* the decoder of the best audio stream; the other streams are skipped */

static int
dub_decode_open_codec(dub_decode_t *d, AVFormatContext *ic, int *idx,
    AVCodecContext **dec)
{
    int             ret;
    unsigned        i;
    AVStream       *st;
    const AVCodec  *codec;

    codec = NULL;

    *idx = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (*idx < 0 || codec == NULL) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, *idx,
                               "no decodable audio in %s", d->what);
    }

    for (i = 0; i < ic->nb_streams; i++) {
        if ((int) i != *idx) {
            ic->streams[i]->discard = AVDISCARD_ALL;
        }
    }

    st = ic->streams[*idx];

    *dec = avcodec_alloc_context3(codec);
    if (*dec == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    /* from here on too, FFmpeg's ENOMEM is from sizes in the input */

    ret = avcodec_parameters_to_context(*dec, st->codecpar);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, ret,
                               "%s decoder parameters", codec->name);
    }

    (*dec)->pkt_timebase = st->time_base;
    (*dec)->thread_count = 1;

    ret = avcodec_open2(*dec, codec, NULL);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, ret, "%s decoder",
                               codec->name);
    }

    return DUB_AUDIO_OK;
}


/* the packets of the decoder's stream, to its end or the input's damage */

static int
dub_decode_packets(dub_decode_t *d, AVFormatContext *ic, int idx,
    AVCodecContext *dec)
{
    int        rc;
    unsigned   npackets;
    AVFrame   *frame;
    AVPacket  *pkt;

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    rc = DUB_AUDIO_ENOMEM;

    if (pkt == NULL || frame == NULL) {
        goto done;
    }

    for (npackets = 0; /* void */; npackets++) {

        if (npackets > DUB_DECODE_MAX_PACKETS) {
            rc = dub_audio_error(d->ctx->err, d->ctx->errlen,
                                 DUB_AUDIO_EDECODE, 0,
                                 "too many packets in %s", d->what);
            goto done;
        }

        /*
         * Any read error ends the input: a truncated file plays its
         * start (and a demuxer's ENOMEM is a damaged size field).
         */
        if (av_read_frame(ic, pkt) < 0) {
            break;
        }

        if (pkt->stream_index != idx) {
            av_packet_unref(pkt);
            continue;
        }

        rc = dub_decode_send(d, dec, pkt, frame);
        if (rc != DUB_AUDIO_OK) {
            goto done;
        }
    }

    rc = dub_decode_send(d, dec, NULL, frame);

    if (rc == DUB_AUDIO_OK && d->pcm->len == 0 && d->swr == NULL) {
        rc = dub_audio_error(d->ctx->err, d->ctx->errlen, DUB_AUDIO_EDECODE,
                             d->bad_err, "no audio decoded from %s, "
                             "%u bad packets", d->what, d->bad);
    }

done:

    av_frame_free(&frame);
    av_packet_free(&pkt);

    return rc;
}


/*
 * A packet to the decoder, NULL to flush it, and what it gives back.  A
 * damaged packet is skipped, as players do.
 */

static int
dub_decode_send(dub_decode_t *d, AVCodecContext *dec, AVPacket *pkt,
    AVFrame *frame)
{
    int  ret;

    ret = avcodec_send_packet(dec, pkt);

    if (pkt) {
        av_packet_unref(pkt);

        if (ret < 0) {
            d->bad++;
            d->bad_err = ret;
        }
    }

    if (ret < 0) {
        return DUB_AUDIO_OK;
    }

    return dub_decode_receive(d, dec, frame);
}


static int
dub_decode_receive(dub_decode_t *d, AVCodecContext *dec, AVFrame *frame)
{
    int  rc, ret;

    for ( ;; ) {
        ret = avcodec_receive_frame(dec, frame);

        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return DUB_AUDIO_OK;
        }

        if (ret < 0) {
            d->bad++;
            d->bad_err = ret;

            if (d->bad > DUB_DECODE_MAX_PACKETS) {
                return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                       DUB_AUDIO_EDECODE, ret, "decoding");
            }

            continue;
        }

        rc = dub_decode_frame(d, frame);

        av_frame_unref(frame);

        if (rc != DUB_AUDIO_OK) {
            return rc;
        }
    }
}


/* a decoded frame to the resampler; one of no use is skipped */

static int
dub_decode_frame(dub_decode_t *d, AVFrame *frame)
{
    int              rc, ret;
    AVChannelLayout  layout;

    if (frame->nb_samples <= 0
        || frame->sample_rate < DUB_AUDIO_MIN_RATE / 8
        || frame->sample_rate > DUB_AUDIO_MAX_RATE * 4
        || frame->ch_layout.nb_channels <= 0)
    {
        return DUB_AUDIO_OK;
    }

    memset(&layout, 0, sizeof(AVChannelLayout));

    /* e.g. WAV without a channel mask: take the usual layout */
    if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        av_channel_layout_default(&layout, frame->ch_layout.nb_channels);
        ret = 0;

    } else {
        ret = av_channel_layout_copy(&layout, &frame->ch_layout);
    }

    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen, DUB_AUDIO_ENOMEM,
                               ret, "channel layout");
    }

    rc = dub_decode_push(d, (const uint8_t **) frame->extended_data,
                         frame->nb_samples, frame->format, frame->sample_rate,
                         &layout);

    av_channel_layout_uninit(&layout);

    return rc;
}


static int
dub_decode_raw(dub_decode_t *d, const dub_audio_input_t *in,
    enum AVSampleFormat format)
{
    size_t  fbytes, nsamples;

    if (in->sample_rate < DUB_AUDIO_MIN_RATE
        || in->sample_rate > DUB_AUDIO_MAX_RATE
        || in->channels < 1 || in->channels > DUB_AUDIO_MAX_CHANNELS)
    {
        return dub_audio_error(d->ctx->err, d->ctx->errlen, DUB_AUDIO_EINVAL,
                               0, "bad %s parameters: %u Hz, %u channels",
                               in->format, in->sample_rate, in->channels);
    }

    fbytes = av_get_bytes_per_sample(format) * in->channels;
    nsamples = in->len / fbytes;

    if (nsamples == 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, 0, "no whole %s sample",
                               in->format);
    }

    if ((double) nsamples * d->ctx->fmt->sample_rate / in->sample_rate
        > (double) d->pcm->max)
    {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, 0,
                               "dubbed audio too long: %.1f s",
                               (double) nsamples / in->sample_rate);
    }

    return dub_decode_raw_chunks(d, in, format, fbytes, nsamples);
}


/* the samples to the resampler in aligned copies: the input may sit anywhere */

static int
dub_decode_raw_chunks(dub_decode_t *d, const dub_audio_input_t *in,
    enum AVSampleFormat format, size_t fbytes, size_t nsamples)
{
    int              rc;
    size_t           i, n;
    uint8_t         *buf;
    const uint8_t   *p[1];
    AVChannelLayout  layout;

    buf = av_malloc(DUB_AUDIO_CHUNK * fbytes);
    if (buf == NULL) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_ENOMEM, 0, "out of memory");
    }

    av_channel_layout_default(&layout, (int) in->channels);

    rc = DUB_AUDIO_OK;

    for (i = 0; i < nsamples; i += n) {
        n = nsamples - i;

        if (n > DUB_AUDIO_CHUNK) {
            n = DUB_AUDIO_CHUNK;
        }

        memcpy(buf, in->data + i * fbytes, n * fbytes);

        if (format == AV_SAMPLE_FMT_FLT) {
            rc = dub_decode_finite(d, (float *) buf, n, i, in->channels);
            if (rc != DUB_AUDIO_OK) {
                break;
            }
        }

        p[0] = buf;

        rc = dub_decode_push(d, p, (int) n, format, (int) in->sample_rate,
                             &layout);
        if (rc != DUB_AUDIO_OK) {
            break;
        }
    }

    av_free(buf);
    av_channel_layout_uninit(&layout);

    return rc;
}


/* a NaN or an infinity is no sample: the whole input is refused */

static int
dub_decode_finite(dub_decode_t *d, const float *f, size_t n, size_t first,
    unsigned channels)
{
    size_t  k;

    for (k = 0; k < n * channels; k++) {
        if (!isfinite(f[k])) {
            return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                   DUB_AUDIO_EDECODE, 0,
                                   "not a number in %s at sample %zu",
                                   d->what, first + k / channels);
        }
    }

    return DUB_AUDIO_OK;
}


/* resamples to the stream's format, starting over when the input changes */

static int
dub_decode_push(dub_decode_t *d, const uint8_t **data, int n, int format,
    int rate, const AVChannelLayout *layout)
{
    int  rc;

    if (d->swr == NULL || format != d->in_format || rate != d->in_rate
        || av_channel_layout_compare(layout, &d->in_layout) != 0)
    {
        rc = dub_decode_resampler(d, format, rate, layout);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }
    }

    return dub_decode_convert(d, data, n);
}


/* a new resampler, after the old one gave what it held */

static int
dub_decode_resampler(dub_decode_t *d, int format, int rate,
    const AVChannelLayout *layout)
{
    int          rc, ret;
    const char  *name;

    if (d->swr) {
        rc = dub_decode_convert(d, NULL, 0);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }

        swr_free(&d->swr);
    }

    av_channel_layout_uninit(&d->in_layout);

    ret = av_channel_layout_copy(&d->in_layout, layout);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen, DUB_AUDIO_ENOMEM,
                               ret, "channel layout");
    }

    d->in_format = format;
    d->in_rate = rate;

    ret = swr_alloc_set_opts2(&d->swr, &d->ctx->layout, AV_SAMPLE_FMT_FLTP,
                              (int) d->ctx->fmt->sample_rate, &d->in_layout,
                              format, rate, 0, NULL);
    if (ret >= 0) {
        ret = swr_init(d->swr);
    }

    /* ENOMEM too: a resampler for absurd parameters is too big */
    if (ret < 0) {
        swr_free(&d->swr);
        name = av_get_sample_fmt_name(format);

        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, ret,
                               "cannot resample %s %d Hz, %d channels",
                               name ? name : "?", rate, layout->nb_channels);
    }

    return DUB_AUDIO_OK;
}


/* data NULL: drains what the resampler holds */

static int
dub_decode_convert(dub_decode_t *d, const uint8_t **data, int n)
{
    int               want, got;
    unsigned          c;
    uint8_t          *out[DUB_AUDIO_MAX_CHANNELS];
    dub_audio_pcm_t  *pcm;

    pcm = d->pcm;

    for ( ;; ) {
        want = swr_get_out_samples(d->swr, data ? n : 0);

        if (want < 0) {
            return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                   DUB_AUDIO_EDECODE, want, "resampler");
        }

        want += 32;

        if (dub_audio_pcm_reserve(pcm, want) != DUB_AUDIO_OK) {
            return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                   DUB_AUDIO_ENOMEM, 0, "out of memory");
        }

        for (c = 0; c < pcm->channels; c++) {
            out[c] = (uint8_t *) (pcm->ch[c] + pcm->len);
        }

        got = swr_convert(d->swr, out, want, data, data ? n : 0);

        if (got < 0) {
            return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                   DUB_AUDIO_EDECODE, got, "resampler");
        }

        pcm->len += got;

        if (pcm->len > pcm->max) {
            return dub_audio_error(d->ctx->err, d->ctx->errlen,
                                   DUB_AUDIO_EDECODE, 0,
                                   "dubbed audio too long: over %.1f s",
                                   (double) pcm->max
                                   / d->ctx->fmt->sample_rate);
        }

        if (data || got == 0) {
            return DUB_AUDIO_OK;
        }
    }
}
