
/*
 * Copyright (C) nginx-dub developers
 */


#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

#include "dub_audio.h"
#include "dub_flv.h"


#define DUB_AUDIO_IO_SIZE       32768
#define DUB_AUDIO_MAX_CHANNELS  8
#define DUB_AUDIO_MIN_RATE      8000
#define DUB_AUDIO_MAX_RATE      192000
#define DUB_AUDIO_FRAME         1024        /* AAC-LC samples per frame */
#define DUB_AUDIO_MAX_FRAMES    65536       /* about 12 min at 96 kHz */
#define DUB_AUDIO_CHUNK         4096        /* samples per filter frame */
#define DUB_AUDIO_FADE_MS       5
#define DUB_AUDIO_TEMPO_SLACK   0.02
#define DUB_AUDIO_TEMPO_MAX     2.0         /* atempo goes down to 0.5 */
#define DUB_AUDIO_MAX_PACKETS   1000000

/* newer libavformat passes a const buffer to the write callback */
#if LIBAVFORMAT_VERSION_MAJOR >= 61
#define DUB_AUDIO_WBUF          const uint8_t
#else
#define DUB_AUDIO_WBUF          uint8_t
#endif


typedef struct {
    const uint8_t      *data;
    size_t              len;
    int64_t             pos;
} dub_audio_reader_t;


typedef struct {
    uint8_t            *data;
    size_t              len;
    size_t              cap;
    size_t              pos;
    unsigned            failed:1;
} dub_audio_writer_t;


/* planar float samples at the stream's rate and channels */

typedef struct {
    float              *ch[DUB_AUDIO_MAX_CHANNELS];
    int64_t             len;
    int64_t             cap;
    int64_t             max;
    unsigned            channels;
} dub_audio_pcm_t;


typedef struct {
    const dub_audio_format_t  *fmt;
    dub_audio_pcm_t            pcm;
    SwrContext                *swr;
    int                        in_format;
    int                        in_rate;
    AVChannelLayout            in_layout;
    AVChannelLayout            layout;
    unsigned                   bitrate;
    unsigned                   bad;         /* packets not decoded */
    int                        bad_err;
    char                      *err;
    size_t                     errlen;
} dub_audio_ctx_t;


static void dub_audio_log(void *avcl, int level, const char *fmt,
    va_list vl);
static int dub_audio_error(char *err, size_t errlen, int rc, int averr,
    const char *fmt, ...);
static int dub_audio_averror(int averr, int rc);
static int dub_audio_read(void *opaque, uint8_t *buf, int size);
static int64_t dub_audio_read_seek(void *opaque, int64_t offset,
    int whence);
static int dub_audio_write(void *opaque, DUB_AUDIO_WBUF *buf, int size);
static int64_t dub_audio_write_seek(void *opaque, int64_t offset,
    int whence);
static int dub_audio_check_format(const dub_audio_format_t *fmt, char *err,
    size_t errlen);
static int dub_audio_layout(const AVCodec *codec, unsigned channels,
    AVChannelLayout *layout);
static int dub_audio_decode_file(dub_audio_ctx_t *ctx,
    const dub_audio_input_t *in, const char *demuxer);
static int dub_audio_receive(dub_audio_ctx_t *ctx, AVCodecContext *dec,
    AVFrame *frame);
static int dub_audio_decode_raw(dub_audio_ctx_t *ctx,
    const dub_audio_input_t *in, enum AVSampleFormat format);
static int dub_audio_push(dub_audio_ctx_t *ctx, const uint8_t **data, int n,
    int format, int rate, const AVChannelLayout *layout);
static int dub_audio_convert(dub_audio_ctx_t *ctx, const uint8_t **data,
    int n);
static int dub_audio_tempo(dub_audio_ctx_t *ctx, double tempo);
static int dub_audio_tempo_drain(dub_audio_ctx_t *ctx, AVFilterContext *sink,
    AVFrame *frame, dub_audio_pcm_t *out);
static void dub_audio_fit(dub_audio_ctx_t *ctx, int64_t target,
    dub_audio_fit_t *fit);
static int dub_audio_encode(dub_audio_ctx_t *ctx, size_t nframes,
    dub_aac_frames_t *out);
static int dub_audio_encode_drain(dub_audio_ctx_t *ctx, AVCodecContext *enc,
    AVPacket *pkt, size_t nframes, dub_aac_frames_t *out, size_t *cap);
static int dub_audio_pcm_reserve(dub_audio_pcm_t *pcm, int64_t n);
static void dub_audio_pcm_free(dub_audio_pcm_t *pcm);


/* FFmpeg's last complaint in this thread, for the "err" outputs */
static __thread char  dub_audio_last[DUB_AUDIO_ERRLEN];


void
dub_audio_init(void)
{
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(dub_audio_log);
}


int
dub_audio_pack_m4a(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *in, uint8_t **out, size_t *out_len,
    char *err, size_t errlen)
{
    int                  rc, ret;
    size_t               i, off;
    uint8_t             *buf;
    AVPacket            *pkt;
    AVStream            *st;
    AVIOContext         *pb;
    AVFormatContext     *oc;
    dub_audio_writer_t   wr;

    dub_audio_last[0] = '\0';

    if (err && errlen) {
        err[0] = '\0';
    }

    if (out == NULL || out_len == NULL) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "no output");
    }

    *out = NULL;
    *out_len = 0;

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

    memset(&wr, 0, sizeof(dub_audio_writer_t));

    pb = NULL;
    oc = NULL;
    pkt = NULL;
    rc = DUB_AUDIO_ENOMEM;

    buf = av_malloc(DUB_AUDIO_IO_SIZE);
    if (buf == NULL) {
        goto failed;
    }

    pb = avio_alloc_context(buf, DUB_AUDIO_IO_SIZE, 1, &wr, NULL,
                            dub_audio_write, dub_audio_write_seek);
    if (pb == NULL) {
        av_free(buf);
        goto failed;
    }

    ret = avformat_alloc_output_context2(&oc, NULL, "ipod", NULL);
    if (ret < 0) {
        rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                             DUB_AUDIO_EENCODE), ret, "ipod muxer");
        goto failed;
    }

    oc->pb = pb;
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;

    st = avformat_new_stream(oc, NULL);
    if (st == NULL) {
        goto failed;
    }

    st->time_base = (AVRational) { 1, (int) fmt->sample_rate };

    st->codecpar->codec_type = AVMEDIA_TYPE_AUDIO;
    st->codecpar->codec_id = AV_CODEC_ID_AAC;
    st->codecpar->sample_rate = (int) fmt->sample_rate;
    st->codecpar->frame_size = (int) fmt->frame_length;
    av_channel_layout_default(&st->codecpar->ch_layout, (int) fmt->channels);

    st->codecpar->extradata = av_mallocz(fmt->asc_len
                                         + AV_INPUT_BUFFER_PADDING_SIZE);
    if (st->codecpar->extradata == NULL) {
        goto failed;
    }

    memcpy(st->codecpar->extradata, fmt->asc, fmt->asc_len);
    st->codecpar->extradata_size = (int) fmt->asc_len;

    ret = avformat_write_header(oc, NULL);
    if (ret < 0) {
        rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                             DUB_AUDIO_EENCODE), ret, "m4a header");
        goto failed;
    }

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        goto failed;
    }

    for (i = 0, off = 0; i < in->nframes; i++) {
        ret = av_new_packet(pkt, (int) in->sizes[i]);
        if (ret < 0) {
            goto failed;
        }

        memcpy(pkt->data, in->data + off, in->sizes[i]);
        off += in->sizes[i];

        pkt->stream_index = 0;
        pkt->pts = (int64_t) i * fmt->frame_length;
        pkt->dts = pkt->pts;
        pkt->duration = fmt->frame_length;
        pkt->flags |= AV_PKT_FLAG_KEY;

        av_packet_rescale_ts(pkt, (AVRational) { 1, (int) fmt->sample_rate },
                             st->time_base);

        /* one stream: no interleaving needed; takes the packet's data */
        ret = av_write_frame(oc, pkt);
        av_packet_unref(pkt);

        if (ret < 0) {
            rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                                 DUB_AUDIO_EENCODE), ret, "m4a frame %zu", i);
            goto failed;
        }
    }

    ret = av_write_trailer(oc);
    if (ret < 0) {
        rc = dub_audio_error(err, errlen, dub_audio_averror(ret,
                             DUB_AUDIO_EENCODE), ret, "m4a trailer");
        goto failed;
    }

    avio_flush(pb);

    if (wr.failed || wr.len == 0) {
        goto failed;
    }

    *out = wr.data;
    *out_len = wr.len;
    wr.data = NULL;
    rc = DUB_AUDIO_OK;

failed:

    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(err, errlen, rc, 0, "out of memory packing m4a");
    }

    av_packet_free(&pkt);
    avformat_free_context(oc);

    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }

    free(wr.data);

    return rc;
}


int
dub_audio_dub(const dub_audio_format_t *fmt, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit, char *err, size_t errlen)
{
    int              rc;
    double           r, tempo, max;
    int64_t          target;
    const char      *demuxer;
    dub_audio_fit_t  dummy;
    dub_audio_ctx_t  ctx;

    dub_audio_last[0] = '\0';

    if (err && errlen) {
        err[0] = '\0';
    }

    if (fit == NULL) {
        fit = &dummy;
    }

    memset(fit, 0, sizeof(dub_audio_fit_t));
    fit->tempo = 1.0;

    if (out == NULL) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "no output");
    }

    memset(out, 0, sizeof(dub_aac_frames_t));

    if (fmt == NULL || conf == NULL || in == NULL || in->format == NULL) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "missing argument");
    }

    if (nframes == 0 || nframes > DUB_AUDIO_MAX_FRAMES) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "bad frame count %zu", nframes);
    }

    rc = dub_audio_check_format(fmt, err, errlen);
    if (rc != DUB_AUDIO_OK) {
        return rc;
    }

    demuxer = NULL;

    if (strcmp(in->format, "m4a") == 0) {
        demuxer = "mov";

    } else if (strcmp(in->format, "aac") == 0) {
        demuxer = "aac";

    } else if (strcmp(in->format, "mp3") == 0) {
        demuxer = "mp3";

    } else if (strcmp(in->format, "wav") == 0) {
        demuxer = "wav";

    } else if (strcmp(in->format, "pcm_s16le") != 0
               && strcmp(in->format, "pcm_f32le") != 0)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EFORMAT, 0,
                               "unknown audio format \"%.32s\"", in->format);
    }

    if (in->data == NULL || in->len == 0) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EDECODE, 0,
                               "empty audio");
    }

    memset(&ctx, 0, sizeof(dub_audio_ctx_t));

    ctx.fmt = fmt;
    ctx.err = err;
    ctx.errlen = errlen;
    ctx.bitrate = conf->bitrate;
    ctx.pcm.channels = fmt->channels;

    target = (int64_t) nframes * DUB_AUDIO_FRAME;

    /* what is far longer than the segment cannot be fitted: don't try */
    ctx.pcm.max = 4 * target + 10 * (int64_t) fmt->sample_rate;

    if (demuxer) {
        rc = dub_audio_decode_file(&ctx, in, demuxer);

    } else {
        rc = dub_audio_decode_raw(&ctx, in, in->format[4] == 's'
                                            ? AV_SAMPLE_FMT_S16
                                            : AV_SAMPLE_FMT_FLT);
    }

    if (rc == DUB_AUDIO_OK && ctx.swr) {
        rc = dub_audio_convert(&ctx, NULL, 0);
    }

    if (rc != DUB_AUDIO_OK) {
        goto done;
    }

    if (ctx.pcm.len == 0) {
        rc = dub_audio_error(err, errlen, DUB_AUDIO_EDECODE, 0,
                             "no audio decoded from %s", in->format);
        goto done;
    }

    fit->in_samples = ctx.pcm.len;
    fit->out_samples = target;

    r = (double) ctx.pcm.len / (double) target;

    max = conf->max_tempo;

    if (!(max >= 1.0)) {
        max = 1.0;

    } else if (max > DUB_AUDIO_TEMPO_MAX) {
        max = DUB_AUDIO_TEMPO_MAX;
    }

    tempo = 1.0;

    /* a blip of a few ms has nothing to stretch: it is only padded */
    if (!conf->no_stretch && fabs(r - 1.0) > DUB_AUDIO_TEMPO_SLACK
        && max > 1.0 && ctx.pcm.len >= fmt->sample_rate / 10)
    {
        tempo = r > max ? max : (r < 1.0 / max ? 1.0 / max : r);
    }

    if (tempo != 1.0) {
        rc = dub_audio_tempo(&ctx, tempo);
        if (rc != DUB_AUDIO_OK) {
            goto done;
        }

        if (ctx.pcm.len == 0) {
            rc = dub_audio_error(err, errlen, DUB_AUDIO_EDECODE, 0,
                                 "tempo change gave no audio");
            goto done;
        }
    }

    fit->tempo = tempo;

    if (dub_audio_pcm_reserve(&ctx.pcm, target - ctx.pcm.len) != 0) {
        rc = dub_audio_error(err, errlen, DUB_AUDIO_ENOMEM, 0,
                             "out of memory");
        goto done;
    }

    dub_audio_fit(&ctx, target, fit);

    rc = dub_audio_encode(&ctx, nframes, out);

done:

    if (rc != DUB_AUDIO_OK) {
        dub_aac_frames_free(out);
    }

    swr_free(&ctx.swr);
    av_channel_layout_uninit(&ctx.in_layout);
    av_channel_layout_uninit(&ctx.layout);
    dub_audio_pcm_free(&ctx.pcm);

    return rc;
}


void
dub_aac_frames_free(dub_aac_frames_t *f)
{
    if (f == NULL) {
        return;
    }

    free(f->data);
    free(f->sizes);

    memset(f, 0, sizeof(dub_aac_frames_t));
}


static void
dub_audio_log(void *avcl, int level, const char *fmt, va_list vl)
{
    int             n;
    size_t          len;
    const AVClass  *cls;

    /* warnings are mostly noise; errors say why a call failed */
    if (level > AV_LOG_ERROR) {
        return;
    }

    n = 0;
    cls = avcl ? *(const AVClass **) avcl : NULL;

    if (cls && cls->item_name) {
        n = snprintf(dub_audio_last, sizeof(dub_audio_last), "%s: ",
                     cls->item_name(avcl));

        if (n < 0 || (size_t) n >= sizeof(dub_audio_last) / 2) {
            n = 0;
        }
    }

    vsnprintf(dub_audio_last + n, sizeof(dub_audio_last) - n, fmt, vl);

    len = strlen(dub_audio_last);

    while (len && (dub_audio_last[len - 1] == '\n'
                   || dub_audio_last[len - 1] == ' '))
    {
        dub_audio_last[--len] = '\0';
    }
}


static int
dub_audio_error(char *err, size_t errlen, int rc, int averr,
    const char *fmt, ...)
{
    int      n;
    char     reason[AV_ERROR_MAX_STRING_SIZE];
    va_list  ap;

    if (err == NULL || errlen == 0) {
        return rc;
    }

    va_start(ap, fmt);
    n = vsnprintf(err, errlen, fmt, ap);
    va_end(ap);

    if (n < 0 || (size_t) n >= errlen) {
        return rc;
    }

    if (averr < 0) {
        av_strerror(averr, reason, sizeof(reason));
        n += snprintf(err + n, errlen - n, ": %s", reason);
    }

    /* FFmpeg's own reason only goes with an FFmpeg failure */
    if (averr < 0 && dub_audio_last[0] && (size_t) n < errlen) {
        snprintf(err + n, errlen - n, " (%s)", dub_audio_last);
    }

    return rc;
}


static int
dub_audio_averror(int averr, int rc)
{
    return averr == AVERROR(ENOMEM) ? DUB_AUDIO_ENOMEM : rc;
}


static int
dub_audio_read(void *opaque, uint8_t *buf, int size)
{
    size_t               n;
    dub_audio_reader_t  *rd;

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
dub_audio_read_seek(void *opaque, int64_t offset, int whence)
{
    int64_t              pos;
    dub_audio_reader_t  *rd;

    rd = opaque;

    switch (whence & ~AVSEEK_FORCE) {

    case AVSEEK_SIZE:
        return (int64_t) rd->len;

    case SEEK_SET:
        pos = offset;
        break;

    case SEEK_CUR:
        pos = rd->pos + offset;
        break;

    case SEEK_END:
        pos = (int64_t) rd->len + offset;
        break;

    default:
        return AVERROR(EINVAL);
    }

    /* past the end is allowed, as with a file: reads then see EOF */
    if (pos < 0 || offset > INT64_MAX / 2 || offset < INT64_MIN / 2) {
        return AVERROR(EINVAL);
    }

    rd->pos = pos;

    return pos;
}


static int
dub_audio_write(void *opaque, DUB_AUDIO_WBUF *buf, int size)
{
    size_t               cap;
    uint8_t             *p;
    dub_audio_writer_t  *wr;

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
dub_audio_write_seek(void *opaque, int64_t offset, int whence)
{
    int64_t              pos;
    dub_audio_writer_t  *wr;

    wr = opaque;

    switch (whence & ~AVSEEK_FORCE) {

    case AVSEEK_SIZE:
        return (int64_t) wr->len;

    case SEEK_SET:
        pos = offset;
        break;

    case SEEK_CUR:
        pos = (int64_t) wr->pos + offset;
        break;

    case SEEK_END:
        pos = (int64_t) wr->len + offset;
        break;

    default:
        return AVERROR(EINVAL);
    }

    if (pos < 0 || pos > (int64_t) wr->len + (1 << 20)) {
        return AVERROR(EINVAL);
    }

    wr->pos = (size_t) pos;

    return pos;
}


/* only AAC-LC with 1024-sample frames is encoded, as the stream has */

static int
dub_audio_check_format(const dub_audio_format_t *fmt, char *err,
    size_t errlen)
{
    dub_aac_config_t  cfg;

    if (fmt->sample_rate < DUB_AUDIO_MIN_RATE
        || fmt->sample_rate > DUB_AUDIO_MAX_RATE
        || fmt->channels < 1 || fmt->channels > DUB_AUDIO_MAX_CHANNELS)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EINVAL, 0,
                               "bad stream format: %u Hz, %u channels",
                               fmt->sample_rate, fmt->channels);
    }

    if (fmt->asc == NULL
        || dub_aac_config_parse(fmt->asc, fmt->asc_len, &cfg) != 0)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EFORMAT, 0,
                               "bad AudioSpecificConfig");
    }

    if (cfg.object_type != 2) {
        return dub_audio_error(err, errlen, DUB_AUDIO_EFORMAT, 0,
                               "AAC object type %u is not LC",
                               cfg.object_type);
    }

    if (cfg.frame_length != DUB_AUDIO_FRAME
        || fmt->frame_length != DUB_AUDIO_FRAME)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EFORMAT, 0,
                               "AAC frames of %u samples, not 1024",
                               fmt->frame_length);
    }

    if (cfg.sample_rate != fmt->sample_rate
        || cfg.channels != fmt->channels)
    {
        return dub_audio_error(err, errlen, DUB_AUDIO_EFORMAT, 0,
                               "AudioSpecificConfig says %u Hz, %u "
                               "channels, format %u Hz, %u channels",
                               cfg.sample_rate, cfg.channels,
                               fmt->sample_rate, fmt->channels);
    }

    return DUB_AUDIO_OK;
}


/* the encoder's own layout for that many channels, or the default one */

static int
dub_audio_layout(const AVCodec *codec, unsigned channels,
    AVChannelLayout *layout)
{
    const AVChannelLayout  *l;

    av_channel_layout_uninit(layout);

    for (l = codec ? codec->ch_layouts : NULL; l && l->nb_channels; l++) {
        if (l->nb_channels == (int) channels) {
            return av_channel_layout_copy(layout, l);
        }
    }

    av_channel_layout_default(layout, (int) channels);

    return 0;
}


static int
dub_audio_decode_file(dub_audio_ctx_t *ctx, const dub_audio_input_t *in,
    const char *demuxer)
{
    int                   rc, ret, idx;
    unsigned              i, npackets;
    uint8_t              *buf;
    AVFrame              *frame;
    AVPacket             *pkt;
    AVStream             *st;
    AVIOContext          *pb;
    const AVCodec        *codec;
    AVCodecContext       *dec;
    AVFormatContext      *ic;
    dub_audio_reader_t    rd;
    const AVInputFormat  *ifmt;

    rd.data = in->data;
    rd.len = in->len;
    rd.pos = 0;

    ic = NULL;
    pb = NULL;
    dec = NULL;
    pkt = NULL;
    frame = NULL;
    codec = NULL;
    rc = DUB_AUDIO_ENOMEM;

    ifmt = av_find_input_format(demuxer);
    if (ifmt == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "no %s demuxer", demuxer);
    }

    buf = av_malloc(DUB_AUDIO_IO_SIZE);
    if (buf == NULL) {
        goto failed;
    }

    pb = avio_alloc_context(buf, DUB_AUDIO_IO_SIZE, 0, &rd, dub_audio_read,
                            NULL, dub_audio_read_seek);
    if (pb == NULL) {
        av_free(buf);
        goto failed;
    }

    ic = avformat_alloc_context();
    if (ic == NULL) {
        goto failed;
    }

    ic->pb = pb;
    ic->flags |= AVFMT_FLAG_CUSTOM_IO;

    /*
     * Frees "ic" on failure.  Any failure, ENOMEM too, means bad input
     * here: demuxers fail allocations of absurd sizes read from it.
     */
    ret = avformat_open_input(&ic, NULL, ifmt, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, ret,
                             "not %s audio", in->format);
        goto failed;
    }

    ret = avformat_find_stream_info(ic, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, ret,
                             "%s stream info", in->format);
        goto failed;
    }

    idx = av_find_best_stream(ic, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (idx < 0 || codec == NULL) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, idx,
                             "no decodable audio in %s", in->format);
        goto failed;
    }

    for (i = 0; i < ic->nb_streams; i++) {
        if ((int) i != idx) {
            ic->streams[i]->discard = AVDISCARD_ALL;
        }
    }

    st = ic->streams[idx];

    dec = avcodec_alloc_context3(codec);
    if (dec == NULL) {
        goto failed;
    }

    /* from here on too, FFmpeg's ENOMEM is from sizes in the input */

    ret = avcodec_parameters_to_context(dec, st->codecpar);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, ret,
                             "%s decoder parameters", codec->name);
        goto failed;
    }

    dec->pkt_timebase = st->time_base;
    dec->thread_count = 1;

    ret = avcodec_open2(dec, codec, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, ret,
                             "%s decoder", codec->name);
        goto failed;
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    if (pkt == NULL || frame == NULL) {
        goto failed;
    }

    for (npackets = 0; /* void */; npackets++) {

        if (npackets > DUB_AUDIO_MAX_PACKETS) {
            rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, 0,
                                 "too many packets in %s", in->format);
            goto failed;
        }

        /*
         * Any read error ends the input: a truncated file plays its
         * start (and a demuxer's ENOMEM is a damaged size field).
         */
        ret = av_read_frame(ic, pkt);
        if (ret < 0) {
            break;
        }

        if (pkt->stream_index != idx) {
            av_packet_unref(pkt);
            continue;
        }

        ret = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);

        /* a damaged packet is skipped, as players do */
        if (ret < 0) {
            ctx->bad++;
            ctx->bad_err = ret;
            continue;
        }

        rc = dub_audio_receive(ctx, dec, frame);
        if (rc != DUB_AUDIO_OK) {
            goto failed;
        }
    }

    ret = avcodec_send_packet(dec, NULL);

    if (ret >= 0) {
        rc = dub_audio_receive(ctx, dec, frame);
        if (rc != DUB_AUDIO_OK) {
            goto failed;
        }
    }

    if (ctx->pcm.len == 0 && ctx->swr == NULL) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                             ctx->bad_err, "no audio decoded from %s, "
                             "%u bad packets", in->format, ctx->bad);
        goto failed;
    }

    rc = DUB_AUDIO_OK;

failed:

    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(ctx->err, ctx->errlen, rc, 0,
                        "out of memory decoding");
    }

    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);

    if (pb) {
        av_freep(&pb->buffer);
        avio_context_free(&pb);
    }

    return rc;
}


static int
dub_audio_receive(dub_audio_ctx_t *ctx, AVCodecContext *dec, AVFrame *frame)
{
    int              rc, ret;
    AVChannelLayout  layout;

    for ( ;; ) {
        ret = avcodec_receive_frame(dec, frame);

        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return DUB_AUDIO_OK;
        }

        if (ret < 0) {
            ctx->bad++;
            ctx->bad_err = ret;

            if (ctx->bad > DUB_AUDIO_MAX_PACKETS) {
                return dub_audio_error(ctx->err, ctx->errlen,
                                       DUB_AUDIO_EDECODE, ret, "decoding");
            }

            continue;
        }

        if (frame->nb_samples <= 0
            || frame->sample_rate < DUB_AUDIO_MIN_RATE / 8
            || frame->sample_rate > DUB_AUDIO_MAX_RATE * 4
            || frame->ch_layout.nb_channels <= 0)
        {
            av_frame_unref(frame);
            continue;
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
            av_frame_unref(frame);
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM,
                                   ret, "channel layout");
        }

        rc = dub_audio_push(ctx, (const uint8_t **) frame->extended_data,
                            frame->nb_samples, frame->format,
                            frame->sample_rate, &layout);

        av_channel_layout_uninit(&layout);
        av_frame_unref(frame);

        if (rc != DUB_AUDIO_OK) {
            return rc;
        }
    }
}


static int
dub_audio_decode_raw(dub_audio_ctx_t *ctx, const dub_audio_input_t *in,
    enum AVSampleFormat format)
{
    int              rc;
    float           *f;
    size_t           bps, fbytes, nsamples, i, k, n;
    uint8_t         *buf;
    const uint8_t   *p[1];
    AVChannelLayout  layout;

    if (in->sample_rate < DUB_AUDIO_MIN_RATE
        || in->sample_rate > DUB_AUDIO_MAX_RATE
        || in->channels < 1 || in->channels > DUB_AUDIO_MAX_CHANNELS)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "bad %s parameters: %u Hz, %u channels",
                               in->format, in->sample_rate, in->channels);
    }

    bps = (format == AV_SAMPLE_FMT_S16) ? 2 : 4;
    fbytes = bps * in->channels;
    nsamples = in->len / fbytes;

    if (nsamples == 0) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, 0,
                               "no whole %s sample", in->format);
    }

    if ((double) nsamples * ctx->fmt->sample_rate / in->sample_rate
        > (double) ctx->pcm.max)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, 0,
                               "dubbed audio too long: %.1f s",
                               (double) nsamples / in->sample_rate);
    }

    /* aligned copies: the input may sit at any address */
    buf = av_malloc(DUB_AUDIO_CHUNK * fbytes);
    if (buf == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory");
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
            f = (float *) buf;

            for (k = 0; k < n * in->channels; k++) {
                if (!isfinite(f[k])) {
                    rc = dub_audio_error(ctx->err, ctx->errlen,
                                         DUB_AUDIO_EDECODE, 0,
                                         "not a number in %s at sample %zu",
                                         in->format, i + k / in->channels);
                    goto done;
                }
            }
        }

        p[0] = buf;

        rc = dub_audio_push(ctx, p, (int) n, format, (int) in->sample_rate,
                            &layout);
        if (rc != DUB_AUDIO_OK) {
            break;
        }
    }

done:

    av_free(buf);
    av_channel_layout_uninit(&layout);

    return rc;
}


/* resamples to the stream's format, starting over when the input changes */

static int
dub_audio_push(dub_audio_ctx_t *ctx, const uint8_t **data, int n,
    int format, int rate, const AVChannelLayout *layout)
{
    int  rc, ret;

    if (ctx->swr && format == ctx->in_format && rate == ctx->in_rate
        && av_channel_layout_compare(layout, &ctx->in_layout) == 0)
    {
        return dub_audio_convert(ctx, data, n);
    }

    if (ctx->swr) {
        rc = dub_audio_convert(ctx, NULL, 0);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }

        swr_free(&ctx->swr);
    }

    if (ctx->layout.nb_channels == 0) {
        ret = dub_audio_layout(avcodec_find_encoder_by_name("aac"),
                               ctx->fmt->channels, &ctx->layout);
        if (ret < 0) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM,
                                   ret, "channel layout");
        }
    }

    av_channel_layout_uninit(&ctx->in_layout);

    ret = av_channel_layout_copy(&ctx->in_layout, layout);
    if (ret < 0) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, ret,
                               "channel layout");
    }

    ctx->in_format = format;
    ctx->in_rate = rate;

    ret = swr_alloc_set_opts2(&ctx->swr, &ctx->layout, AV_SAMPLE_FMT_FLTP,
                              (int) ctx->fmt->sample_rate, &ctx->in_layout,
                              format, rate, 0, NULL);
    if (ret >= 0) {
        ret = swr_init(ctx->swr);
    }

    /* ENOMEM too: a resampler for absurd parameters is too big */
    if (ret < 0) {
        swr_free(&ctx->swr);
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE, ret,
                               "cannot resample %s %d Hz, %d channels",
                               av_get_sample_fmt_name(format)
                               ? av_get_sample_fmt_name(format) : "?",
                               rate, layout->nb_channels);
    }

    return dub_audio_convert(ctx, data, n);
}


/* data NULL: drains what the resampler holds */

static int
dub_audio_convert(dub_audio_ctx_t *ctx, const uint8_t **data, int n)
{
    int       want, got;
    unsigned  c;
    uint8_t  *out[DUB_AUDIO_MAX_CHANNELS];

    for ( ;; ) {
        want = swr_get_out_samples(ctx->swr, data ? n : 0);

        if (want < 0) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                                   want, "resampler");
        }

        want += 32;

        if (dub_audio_pcm_reserve(&ctx->pcm, want) != 0) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM,
                                   0, "out of memory");
        }

        for (c = 0; c < ctx->pcm.channels; c++) {
            out[c] = (uint8_t *) (ctx->pcm.ch[c] + ctx->pcm.len);
        }

        got = swr_convert(ctx->swr, out, want, data, data ? n : 0);

        if (got < 0) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                                   got, "resampler");
        }

        ctx->pcm.len += got;

        if (ctx->pcm.len > ctx->pcm.max) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                                   0, "dubbed audio too long: over %.1f s",
                                   (double) ctx->pcm.max
                                   / ctx->fmt->sample_rate);
        }

        if (data || got == 0) {
            return DUB_AUDIO_OK;
        }
    }
}


/* pitch-preserving tempo change by a private atempo filter graph */

static int
dub_audio_tempo(dub_audio_ctx_t *ctx, double tempo)
{
    int                   rc, ret;
    char                  args[256], desc[64];
    int64_t               off, n;
    unsigned              c;
    AVFrame              *frame;
    AVFilterGraph        *graph;
    dub_audio_pcm_t       out;
    AVFilterContext      *src, *flt, *sink;
    enum AVSampleFormat   fmts[] = { AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_NONE };

    memset(&out, 0, sizeof(dub_audio_pcm_t));

    out.channels = ctx->pcm.channels;
    out.max = (int64_t) ((double) ctx->pcm.len / tempo) + 65536;

    frame = NULL;
    rc = DUB_AUDIO_ENOMEM;

    graph = avfilter_graph_alloc();
    if (graph == NULL) {
        goto failed;
    }

    /* one thread: the caller is already one of nginx's pool threads */
    graph->nb_threads = 1;

    ret = av_channel_layout_describe(&ctx->layout, desc, sizeof(desc));
    if (ret < 0) {
        goto failed;
    }

    snprintf(args, sizeof(args),
             "sample_rate=%u:sample_fmt=fltp:channel_layout=%s:"
             "time_base=1/%u", ctx->fmt->sample_rate, desc,
             ctx->fmt->sample_rate);

    ret = avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"),
                                       "in", args, NULL, graph);
    if (ret < 0) {
        goto graph_failed;
    }

    flt = avfilter_graph_alloc_filter(graph, avfilter_get_by_name("atempo"),
                                      "tempo");
    if (flt == NULL) {
        ret = AVERROR_FILTER_NOT_FOUND;
        goto graph_failed;
    }

    /* set as a double: no locale-dependent number in a string */
    ret = av_opt_set_double(flt, "tempo", tempo, AV_OPT_SEARCH_CHILDREN);
    if (ret >= 0) {
        ret = avfilter_init_str(flt, NULL);
    }

    if (ret < 0) {
        goto graph_failed;
    }

    ret = avfilter_graph_create_filter(&sink,
                                       avfilter_get_by_name("abuffersink"),
                                       "out", NULL, NULL, graph);
    if (ret < 0) {
        goto graph_failed;
    }

    ret = av_opt_set_int_list(sink, "sample_fmts", fmts, AV_SAMPLE_FMT_NONE,
                              AV_OPT_SEARCH_CHILDREN);
    if (ret >= 0) {
        ret = avfilter_link(src, 0, flt, 0);
    }

    if (ret >= 0) {
        ret = avfilter_link(flt, 0, sink, 0);
    }

    if (ret >= 0) {
        ret = avfilter_graph_config(graph, NULL);
    }

    if (ret < 0) {
        goto graph_failed;
    }

    frame = av_frame_alloc();
    if (frame == NULL) {
        goto failed;
    }

    for (off = 0; off < ctx->pcm.len; off += n) {
        n = ctx->pcm.len - off;

        if (n > DUB_AUDIO_CHUNK) {
            n = DUB_AUDIO_CHUNK;
        }

        frame->nb_samples = (int) n;
        frame->format = AV_SAMPLE_FMT_FLTP;
        frame->sample_rate = (int) ctx->fmt->sample_rate;
        frame->pts = off;

        ret = av_channel_layout_copy(&frame->ch_layout, &ctx->layout);
        if (ret >= 0) {
            ret = av_frame_get_buffer(frame, 0);
        }

        if (ret < 0) {
            goto failed;
        }

        for (c = 0; c < ctx->pcm.channels; c++) {
            memcpy(frame->extended_data[c], ctx->pcm.ch[c] + off,
                   n * sizeof(float));
        }

        /* takes the frame's buffers and leaves it blank */
        ret = av_buffersrc_add_frame_flags(src, frame, 0);
        if (ret < 0) {
            av_frame_unref(frame);
            goto graph_failed;
        }

        rc = dub_audio_tempo_drain(ctx, sink, frame, &out);
        if (rc != DUB_AUDIO_OK) {
            goto done;
        }
    }

    ret = av_buffersrc_add_frame_flags(src, NULL, 0);
    if (ret < 0) {
        goto graph_failed;
    }

    rc = dub_audio_tempo_drain(ctx, sink, frame, &out);
    if (rc != DUB_AUDIO_OK) {
        goto done;
    }

    dub_audio_pcm_free(&ctx->pcm);

    ctx->pcm = out;
    out.len = 0;
    memset(out.ch, 0, sizeof(out.ch));

    rc = DUB_AUDIO_OK;
    goto done;

graph_failed:

    rc = dub_audio_error(ctx->err, ctx->errlen,
                         dub_audio_averror(ret, DUB_AUDIO_EDECODE), ret,
                         "atempo %.3f", tempo);
    goto done;

failed:

    rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                         "out of memory changing tempo");

done:

    av_frame_free(&frame);
    avfilter_graph_free(&graph);
    dub_audio_pcm_free(&out);

    return rc;
}


static int
dub_audio_tempo_drain(dub_audio_ctx_t *ctx, AVFilterContext *sink,
    AVFrame *frame, dub_audio_pcm_t *out)
{
    int       ret;
    unsigned  c;

    for ( ;; ) {
        ret = av_buffersink_get_frame(sink, frame);

        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return DUB_AUDIO_OK;
        }

        if (ret < 0) {
            return dub_audio_error(ctx->err, ctx->errlen,
                                   dub_audio_averror(ret, DUB_AUDIO_EDECODE),
                                   ret, "atempo output");
        }

        if (frame->format != AV_SAMPLE_FMT_FLTP
            || frame->ch_layout.nb_channels != (int) out->channels)
        {
            av_frame_unref(frame);
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                                   0, "atempo changed the sample format");
        }

        if (out->len + frame->nb_samples > out->max
            || dub_audio_pcm_reserve(out, frame->nb_samples) != 0)
        {
            av_frame_unref(frame);
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM,
                                   0, "out of memory changing tempo");
        }

        for (c = 0; c < out->channels; c++) {
            memcpy(out->ch[c] + out->len, frame->extended_data[c],
                   frame->nb_samples * sizeof(float));
        }

        out->len += frame->nb_samples;

        av_frame_unref(frame);
    }
}


/*
 * Pads with silence or trims to "target" samples (room is reserved),
 * with short fades so that neither the segment's ends nor a cut click.
 */

static void
dub_audio_fit(dub_audio_ctx_t *ctx, int64_t target, dub_audio_fit_t *fit)
{
    float     g, *s;
    int64_t   keep, fade, i;
    unsigned  c;

    keep = ctx->pcm.len;

    if (keep < target) {
        fit->padded = target - keep;

        for (c = 0; c < ctx->pcm.channels; c++) {
            memset(ctx->pcm.ch[c] + keep, 0,
                   (size_t) (target - keep) * sizeof(float));
        }

    } else {
        fit->trimmed = keep - target;
        keep = target;
    }

    fade = (int64_t) ctx->fmt->sample_rate * DUB_AUDIO_FADE_MS / 1000;

    if (fade > keep / 2) {
        fade = keep / 2;
    }

    for (c = 0; c < ctx->pcm.channels; c++) {
        s = ctx->pcm.ch[c];

        for (i = 0; i < fade; i++) {
            g = (float) (0.5 - 0.5 * cos(M_PI * (i + 0.5) / fade));
            s[i] *= g;
            s[keep - 1 - i] *= g;
        }

        /* the encoder wants sane samples whatever the decoders gave */
        for (i = 0; i < keep; i++) {
            if (!(s[i] >= -1.0f)) {
                s[i] = (s[i] < 0.0f) ? -1.0f : 0.0f;

            } else if (s[i] > 1.0f) {
                s[i] = 1.0f;
            }
        }
    }

    ctx->pcm.len = target;
}


static int
dub_audio_encode(dub_audio_ctx_t *ctx, size_t nframes,
    dub_aac_frames_t *out)
{
    int                rc, ret;
    size_t             i, cap;
    unsigned           c, br;
    AVFrame           *frame;
    AVPacket          *pkt;
    const AVCodec     *codec;
    AVCodecContext    *enc;
    dub_aac_config_t   cfg;

    enc = NULL;
    pkt = NULL;
    frame = NULL;
    cap = 0;
    rc = DUB_AUDIO_ENOMEM;

    codec = avcodec_find_encoder_by_name("aac");
    if (codec == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, 0,
                               "no aac encoder");
    }

    if (ctx->layout.nb_channels == 0) {
        ret = dub_audio_layout(codec, ctx->fmt->channels, &ctx->layout);
        if (ret < 0) {
            goto failed;
        }
    }

    enc = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        goto failed;
    }

    /* 64 kbit/s a channel unless configured: 128 kbit/s for stereo */
    br = ctx->bitrate ? ctx->bitrate : 64000 * ctx->fmt->channels;

    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = (int) ctx->fmt->sample_rate;
    enc->bit_rate = br;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->time_base = (AVRational) { 1, (int) ctx->fmt->sample_rate };
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    enc->thread_count = 1;

    ret = av_channel_layout_copy(&enc->ch_layout, &ctx->layout);
    if (ret < 0) {
        goto failed;
    }

    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen,
                             dub_audio_averror(ret, DUB_AUDIO_EFORMAT), ret,
                             "aac encoder for %u Hz, %u channels",
                             ctx->fmt->sample_rate, ctx->fmt->channels);
        goto failed;
    }

    /* what the encoder makes must be what the stream's header says */
    if (enc->frame_size != DUB_AUDIO_FRAME
        || dub_aac_config_parse(enc->extradata, enc->extradata_size, &cfg)
           != 0
        || cfg.object_type != 2 || cfg.sample_rate != ctx->fmt->sample_rate
        || cfg.channels != ctx->fmt->channels
        || cfg.frame_length != DUB_AUDIO_FRAME)
    {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                             "aac encoder config does not match the stream");
        goto failed;
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    if (pkt == NULL || frame == NULL) {
        goto failed;
    }

    frame->nb_samples = DUB_AUDIO_FRAME;
    frame->format = AV_SAMPLE_FMT_FLTP;
    frame->sample_rate = enc->sample_rate;

    ret = av_channel_layout_copy(&frame->ch_layout, &ctx->layout);
    if (ret >= 0) {
        ret = av_frame_get_buffer(frame, 0);
    }

    if (ret < 0) {
        goto failed;
    }

    out->sizes = malloc(nframes * sizeof(uint32_t));
    if (out->sizes == NULL) {
        goto failed;
    }

    for (i = 0; i < nframes; i++) {
        ret = av_frame_make_writable(frame);
        if (ret < 0) {
            goto failed;
        }

        for (c = 0; c < ctx->pcm.channels; c++) {
            memcpy(frame->extended_data[c],
                   ctx->pcm.ch[c] + i * DUB_AUDIO_FRAME,
                   DUB_AUDIO_FRAME * sizeof(float));
        }

        frame->pts = (int64_t) i * DUB_AUDIO_FRAME;

        ret = avcodec_send_frame(enc, frame);
        if (ret < 0) {
            rc = dub_audio_error(ctx->err, ctx->errlen,
                                 dub_audio_averror(ret, DUB_AUDIO_EENCODE),
                                 ret, "aac encoder");
            goto failed;
        }

        rc = dub_audio_encode_drain(ctx, enc, pkt, nframes, out, &cap);
        if (rc != DUB_AUDIO_OK) {
            goto failed;
        }
    }

    ret = avcodec_send_frame(enc, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen,
                             dub_audio_averror(ret, DUB_AUDIO_EENCODE), ret,
                             "aac encoder flush");
        goto failed;
    }

    rc = dub_audio_encode_drain(ctx, enc, pkt, nframes, out, &cap);
    if (rc != DUB_AUDIO_OK) {
        goto failed;
    }

    if (out->nframes != nframes) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, 0,
                             "aac encoder gave %zu frames of %zu",
                             out->nframes, nframes);
        goto failed;
    }

    rc = DUB_AUDIO_OK;

failed:

    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(ctx->err, ctx->errlen, rc, 0,
                        "out of memory encoding");
    }

    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);

    return rc;
}


/*
 * The encoder stamps each packet with the time of the first input sample
 * it reproduces, its priming (initial_padding) before 0: packets before 0
 * are the priming, those from nframes on the flushed tail.
 */

static int
dub_audio_encode_drain(dub_audio_ctx_t *ctx, AVCodecContext *enc,
    AVPacket *pkt, size_t nframes, dub_aac_frames_t *out, size_t *cap)
{
    int       ret;
    size_t    n;
    uint8_t  *p;

    for ( ;; ) {
        ret = avcodec_receive_packet(enc, pkt);

        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return DUB_AUDIO_OK;
        }

        if (ret < 0) {
            return dub_audio_error(ctx->err, ctx->errlen,
                                   dub_audio_averror(ret, DUB_AUDIO_EENCODE),
                                   ret, "aac encoder");
        }

        if (pkt->pts < 0 || out->nframes == nframes) {
            av_packet_unref(pkt);
            continue;
        }

        if (pkt->pts != (int64_t) out->nframes * DUB_AUDIO_FRAME
            || pkt->size <= 0)
        {
            av_packet_unref(pkt);
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE,
                                   0, "aac packet %zu out of step",
                                   out->nframes);
        }

        if (out->len + pkt->size > *cap) {
            n = *cap ? *cap * 2 : (size_t) pkt->size * (nframes + 1);

            while (n < out->len + pkt->size) {
                n *= 2;
            }

            p = realloc(out->data, n);
            if (p == NULL) {
                av_packet_unref(pkt);
                return dub_audio_error(ctx->err, ctx->errlen,
                                       DUB_AUDIO_ENOMEM, 0, "out of memory");
            }

            out->data = p;
            *cap = n;
        }

        memcpy(out->data + out->len, pkt->data, pkt->size);
        out->len += pkt->size;
        out->sizes[out->nframes++] = (uint32_t) pkt->size;

        av_packet_unref(pkt);
    }
}


static int
dub_audio_pcm_reserve(dub_audio_pcm_t *pcm, int64_t n)
{
    float     *p;
    int64_t    cap;
    unsigned   c;

    if (n <= 0 || pcm->len + n <= pcm->cap) {
        return 0;
    }

    cap = pcm->cap ? pcm->cap : 65536;

    while (cap < pcm->len + n) {
        cap *= 2;
    }

    for (c = 0; c < pcm->channels; c++) {
        p = realloc(pcm->ch[c], (size_t) cap * sizeof(float));
        if (p == NULL) {
            return -1;
        }

        pcm->ch[c] = p;
    }

    pcm->cap = cap;

    return 0;
}


static void
dub_audio_pcm_free(dub_audio_pcm_t *pcm)
{
    unsigned  c;

    for (c = 0; c < DUB_AUDIO_MAX_CHANNELS; c++) {
        free(pcm->ch[c]);
        pcm->ch[c] = NULL;
    }

    pcm->len = 0;
    pcm->cap = 0;
}
