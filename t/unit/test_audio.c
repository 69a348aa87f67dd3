
/*
 * Copyright (C) nginx-dub developers
 *
 * dub_audio: M4A packing and dubbing, on audio made here with FFmpeg's
 * own encoders and muxers (no fixture files).
 */


#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>

#include "tap.h"
#include "dub_audio.h"
#include "dub_flv.h"


#define RATE            44100
#define NFRAMES         258                 /* 5.99 s, a segment */
#define TARGET          (NFRAMES * 1024)
#define TONE            1000.0
#define THREADS         4


typedef struct {
    uint8_t            *data;
    size_t              len;
    size_t              cap;
    size_t              pos;
} buf_t;


typedef struct {
    const uint8_t      *data;
    size_t              len;
    size_t              pos;
} rd_t;


/* a stream's audio: frames as the segment has them and their ASC */

typedef struct {
    dub_audio_format_t  fmt;
    dub_aac_frames_t    frames;
    uint8_t             asc[64];
} stream_t;


typedef struct {
    const stream_t     *st;
    const uint8_t      *data;
    size_t              len;
    int                 rc;
    size_t              nframes;
    double              ratio;
} job_t;


static float signal_tone(double freq, unsigned rate, int64_t i);
static int buf_write(void *opaque, uint8_t *p, int size);
static int64_t buf_seek(void *opaque, int64_t offset, int whence);
static int rd_read(void *opaque, uint8_t *p, int size);
static int64_t rd_seek(void *opaque, int64_t offset, int whence);
static int make_stream(stream_t *st, unsigned rate, unsigned channels,
    size_t nframes);
static int make_file(const char *muxer, const char *encoder, unsigned rate,
    unsigned channels, double seconds, double freq, buf_t *out);
static int16_t *make_pcm_s16(unsigned rate, unsigned channels, double seconds,
    double freq, size_t *len);
static uint8_t *make_wav(unsigned rate, unsigned channels, double seconds,
    double freq, uint32_t declared, size_t *len);
static float *decode_frames(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *f, int silent_first, int64_t *n);
static double tone_ratio(const float *s, int64_t n, double freq,
    unsigned rate);
static double rms(const float *s, int64_t n);
static int dub(const stream_t *st, const char *format, unsigned rate,
    unsigned channels, const void *data, size_t len, int no_stretch,
    dub_aac_frames_t *out, dub_audio_fit_t *fit, char *err);
static void check_tone(const stream_t *st, const dub_aac_frames_t *out,
    double freq, const char *what);
static void random_bytes(uint8_t *p, size_t n, uint32_t seed);
static void test_pack(stream_t *st);
static void test_formats(const stream_t *st, const stream_t *mono);
static void test_fit(const stream_t *st);
static void test_channels(const stream_t *st, const stream_t *mono);
static void test_alignment(const stream_t *st);
static void test_garbage(const stream_t *st);
static void test_bad_format(const stream_t *st);
static void *job_run(void *arg);
static void test_threads(const stream_t *st);
static void test_timing(const stream_t *st);
static void test_coders(const stream_t *st);


static float
signal_tone(double freq, unsigned rate, int64_t i)
{
    return (float) (0.5 * sin(2.0 * M_PI * freq * (double) i / rate));
}


static int
buf_write(void *opaque, uint8_t *p, int size)
{
    size_t   cap;
    buf_t   *b;
    uint8_t *d;

    b = opaque;

    if (b->pos + size > b->cap) {
        cap = b->cap ? b->cap * 2 : 65536;

        while (cap < b->pos + size) {
            cap *= 2;
        }

        d = realloc(b->data, cap);
        if (d == NULL) {
            return AVERROR(ENOMEM);
        }

        b->data = d;
        b->cap = cap;
    }

    memcpy(b->data + b->pos, p, size);
    b->pos += size;

    if (b->pos > b->len) {
        b->len = b->pos;
    }

    return size;
}


static int64_t
buf_seek(void *opaque, int64_t offset, int whence)
{
    buf_t  *b;

    b = opaque;

    switch (whence & ~AVSEEK_FORCE) {

    case AVSEEK_SIZE:
        return (int64_t) b->len;

    case SEEK_SET:
        break;

    case SEEK_CUR:
        offset += (int64_t) b->pos;
        break;

    case SEEK_END:
        offset += (int64_t) b->len;
        break;

    default:
        return AVERROR(EINVAL);
    }

    if (offset < 0 || offset > (int64_t) b->len) {
        return AVERROR(EINVAL);
    }

    b->pos = (size_t) offset;

    return offset;
}


static int
rd_read(void *opaque, uint8_t *p, int size)
{
    size_t   n;
    rd_t    *r;

    r = opaque;

    if (r->pos >= r->len) {
        return AVERROR_EOF;
    }

    n = r->len - r->pos;

    if (n > (size_t) size) {
        n = size;
    }

    memcpy(p, r->data + r->pos, n);
    r->pos += n;

    return (int) n;
}


static int64_t
rd_seek(void *opaque, int64_t offset, int whence)
{
    rd_t  *r;

    r = opaque;

    switch (whence & ~AVSEEK_FORCE) {

    case AVSEEK_SIZE:
        return (int64_t) r->len;

    case SEEK_SET:
        break;

    case SEEK_CUR:
        offset += (int64_t) r->pos;
        break;

    case SEEK_END:
        offset += (int64_t) r->len;
        break;

    default:
        return AVERROR(EINVAL);
    }

    if (offset < 0) {
        return AVERROR(EINVAL);
    }

    r->pos = (size_t) offset;

    return offset;
}


/* the segment's frames: a tone through FFmpeg's aac encoder */

static int
make_stream(stream_t *st, unsigned rate, unsigned channels, size_t nframes)
{
    int              ret;
    size_t           cap;
    int64_t          i, k;
    unsigned         c;
    AVFrame         *frame;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *enc;

    memset(st, 0, sizeof(stream_t));

    codec = avcodec_find_encoder_by_name("aac");
    enc = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = (int) rate;
    enc->bit_rate = 64000 * channels;
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_channel_layout_default(&enc->ch_layout, (int) channels);

    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0 || (size_t) enc->extradata_size > sizeof(st->asc)) {
        return -1;
    }

    memcpy(st->asc, enc->extradata, enc->extradata_size);

    st->fmt.sample_rate = rate;
    st->fmt.channels = channels;
    st->fmt.frame_length = 1024;
    st->fmt.asc = st->asc;
    st->fmt.asc_len = enc->extradata_size;

    cap = 1024 * nframes;
    st->frames.data = malloc(cap);
    st->frames.sizes = malloc(nframes * sizeof(uint32_t));

    frame->nb_samples = 1024;
    frame->format = AV_SAMPLE_FMT_FLTP;
    frame->sample_rate = (int) rate;
    av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout);
    av_frame_get_buffer(frame, 0);

    for (i = 0; ; i++) {
        if (i < (int64_t) nframes) {
            av_frame_make_writable(frame);

            for (c = 0; c < channels; c++) {
                for (k = 0; k < 1024; k++) {
                    ((float *) frame->extended_data[c])[k] =
                        signal_tone(440.0, rate, i * 1024 + k);
                }
            }

            frame->pts = i * 1024;
            avcodec_send_frame(enc, frame);

        } else if (i == (int64_t) nframes) {
            avcodec_send_frame(enc, NULL);

        } else {
            break;
        }

        while (avcodec_receive_packet(enc, pkt) == 0) {
            if (st->frames.nframes < nframes
                && st->frames.len + pkt->size <= cap)
            {
                memcpy(st->frames.data + st->frames.len, pkt->data,
                       pkt->size);
                st->frames.len += pkt->size;
                st->frames.sizes[st->frames.nframes++] = pkt->size;
            }

            av_packet_unref(pkt);
        }
    }

    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&enc);

    return st->frames.nframes == nframes ? 0 : -1;
}


/* a tone in any container FFmpeg can write, in memory */

static int
make_file(const char *muxer, const char *encoder, unsigned rate,
    unsigned channels, double seconds, double freq, buf_t *out)
{
    int               ret, fs;
    float             v;
    int64_t           i, total, k;
    unsigned          c;
    uint8_t          *iobuf;
    AVFrame          *frame;
    AVPacket         *pkt;
    AVStream         *s;
    AVIOContext      *pb;
    const AVCodec    *codec;
    AVCodecContext   *enc;
    AVFormatContext  *oc;

    memset(out, 0, sizeof(buf_t));

    codec = avcodec_find_encoder_by_name(encoder);
    if (codec == NULL) {
        return -1;
    }

    oc = NULL;

    if (avformat_alloc_output_context2(&oc, NULL, muxer, NULL) < 0) {
        return -1;
    }

    iobuf = av_malloc(4096);
    pb = avio_alloc_context(iobuf, 4096, 1, out, NULL, buf_write, buf_seek);
    oc->pb = pb;
    oc->flags |= AVFMT_FLAG_CUSTOM_IO;

    enc = avcodec_alloc_context3(codec);
    enc->sample_fmt = codec->sample_fmts[0];
    enc->sample_rate = (int) rate;
    enc->bit_rate = 64000 * channels;
    enc->time_base = (AVRational) { 1, (int) rate };
    av_channel_layout_default(&enc->ch_layout, (int) channels);

    if (oc->oformat->flags & AVFMT_GLOBALHEADER) {
        enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }

    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        goto failed;
    }

    s = avformat_new_stream(oc, NULL);
    avcodec_parameters_from_context(s->codecpar, enc);
    s->time_base = enc->time_base;

    ret = avformat_write_header(oc, NULL);
    if (ret < 0) {
        goto failed;
    }

    fs = enc->frame_size ? enc->frame_size : 1024;
    total = (int64_t) (seconds * rate);

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    for (i = 0; ; i += fs) {
        if (i < total) {
            av_frame_unref(frame);
            frame->nb_samples = (int) (total - i < fs ? total - i : fs);
            frame->format = enc->sample_fmt;
            frame->sample_rate = (int) rate;
            av_channel_layout_copy(&frame->ch_layout, &enc->ch_layout);
            av_frame_get_buffer(frame, 0);

            for (k = 0; k < frame->nb_samples; k++) {
                v = signal_tone(freq, rate, i + k);

                for (c = 0; c < channels; c++) {
                    switch (enc->sample_fmt) {

                    case AV_SAMPLE_FMT_FLTP:
                        ((float *) frame->extended_data[c])[k] = v;
                        break;

                    case AV_SAMPLE_FMT_S16P:
                        ((int16_t *) frame->extended_data[c])[k] =
                            (int16_t) (v * 32767);
                        break;

                    case AV_SAMPLE_FMT_S32P:
                        ((int32_t *) frame->extended_data[c])[k] =
                            (int32_t) (v * 2147483647.0);
                        break;

                    case AV_SAMPLE_FMT_S16:
                        ((int16_t *) frame->data[0])[k * channels + c] =
                            (int16_t) (v * 32767);
                        break;

                    default:
                        ((float *) frame->data[0])[k * channels + c] = v;
                        break;
                    }
                }
            }

            frame->pts = i;
            avcodec_send_frame(enc, frame);

        } else {
            avcodec_send_frame(enc, NULL);
        }

        while (avcodec_receive_packet(enc, pkt) == 0) {
            pkt->stream_index = 0;
            av_packet_rescale_ts(pkt, enc->time_base, s->time_base);
            av_interleaved_write_frame(oc, pkt);
        }

        if (i >= total) {
            break;
        }
    }

    ret = av_write_trailer(oc);

    av_frame_free(&frame);
    av_packet_free(&pkt);

failed:

    avcodec_free_context(&enc);
    avformat_free_context(oc);
    av_freep(&pb->buffer);
    avio_context_free(&pb);

    return ret < 0 ? -1 : 0;
}


static int16_t *
make_pcm_s16(unsigned rate, unsigned channels, double seconds, double freq,
    size_t *len)
{
    int16_t   *p;
    int64_t    i, n;
    unsigned   c;

    n = (int64_t) (seconds * rate + 0.5);
    p = malloc(n * channels * sizeof(int16_t));

    for (i = 0; i < n; i++) {
        for (c = 0; c < channels; c++) {
            p[i * channels + c] =
                (int16_t) (32767 * signal_tone(freq, rate, i));
        }
    }

    *len = n * channels * sizeof(int16_t);

    return p;
}


static uint8_t *
make_wav(unsigned rate, unsigned channels, double seconds, double freq,
    uint32_t declared, size_t *len)
{
    size_t    n;
    uint8_t  *p;
    int16_t  *pcm;
    uint32_t  v[10];

    pcm = seconds > 0 ? make_pcm_s16(rate, channels, seconds, freq, &n)
                      : NULL;

    if (pcm == NULL) {
        n = 0;
    }

    p = malloc(44 + n);

    /* little-endian host: the header's fields as they are */
    memcpy(p, "RIFF", 4);
    v[0] = declared ? declared : (uint32_t) (36 + n);
    memcpy(p + 4, v, 4);
    memcpy(p + 8, "WAVEfmt ", 8);
    v[0] = 16;
    v[1] = 1 | (channels << 16);
    v[2] = rate;
    v[3] = rate * channels * 2;
    v[4] = (channels * 2) | (16 << 16);
    memcpy(p + 16, v, 20);
    memcpy(p + 36, "data", 4);
    v[0] = declared ? declared : (uint32_t) n;
    memcpy(p + 40, v, 4);

    if (n) {
        memcpy(p + 44, pcm, n);
    }

    free(pcm);

    *len = 44 + n;

    return p;
}


/*
 * Channel 0 of the frames decoded in order by a fresh decoder, maybe
 * after one silent frame (as if a segment's frame came before).
 */

static float *
decode_frames(const dub_audio_format_t *fmt, const dub_aac_frames_t *f,
    int silent_first, int64_t *n)
{
    float           *out;
    size_t           i, off;
    int64_t          cap;
    AVFrame         *frame;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *dec;

    codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    dec = avcodec_alloc_context3(codec);
    dec->extradata = av_mallocz(fmt->asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(dec->extradata, fmt->asc, fmt->asc_len);
    dec->extradata_size = (int) fmt->asc_len;

    *n = 0;
    out = NULL;

    if (avcodec_open2(dec, codec, NULL) < 0) {
        avcodec_free_context(&dec);
        return NULL;
    }

    pkt = av_packet_alloc();
    frame = av_frame_alloc();

    cap = (int64_t) (f->nframes + 2) * 1024;
    out = calloc(cap, sizeof(float));

    for (i = 0, off = 0; i < f->nframes + (silent_first ? 1 : 0); i++) {
        if (silent_first && i == 0) {
            /*
             * A silent raw_data_block: one SCE or CPE whose channels have
             * no scale factor bands, then END.
             */
            if (fmt->channels == 2) {
                av_new_packet(pkt, 7);
                memcpy(pkt->data, "\x20\x00\x00\x00\x00\x00\x0e", 7);

            } else {
                av_new_packet(pkt, 4);
                memcpy(pkt->data, "\x00\x00\x00\x07", 4);
            }

        } else {
            av_new_packet(pkt, f->sizes[i - (silent_first ? 1 : 0)]);
            memcpy(pkt->data, f->data + off, pkt->size);
            off += pkt->size;
        }

        avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);

        while (avcodec_receive_frame(dec, frame) == 0) {
            if (*n + frame->nb_samples <= cap) {
                memcpy(out + *n, frame->extended_data[0],
                       frame->nb_samples * sizeof(float));
                *n += frame->nb_samples;
            }

            av_frame_unref(frame);
        }
    }

    av_frame_free(&frame);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);

    return out;
}


/* share of the energy at "freq" (Goertzel): 1.0 for a pure tone */

static double
tone_ratio(const float *s, int64_t n, double freq, unsigned rate)
{
    double   w, coef, s0, s1, s2, power, energy;
    int64_t  i;

    w = 2.0 * M_PI * freq / rate;
    coef = 2.0 * cos(w);
    s1 = 0.0;
    s2 = 0.0;
    energy = 0.0;

    for (i = 0; i < n; i++) {
        s0 = s[i] + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += (double) s[i] * s[i];
    }

    power = s1 * s1 + s2 * s2 - coef * s1 * s2;

    if (energy < 1e-9) {
        return 0.0;
    }

    return 2.0 * power / (n * energy);
}


static double
rms(const float *s, int64_t n)
{
    double   e;
    int64_t  i;

    for (i = 0, e = 0.0; i < n; i++) {
        e += (double) s[i] * s[i];
    }

    return n ? sqrt(e / n) : 0.0;
}


static int
dub(const stream_t *st, const char *format, unsigned rate, unsigned channels,
    const void *data, size_t len, int no_stretch, dub_aac_frames_t *out,
    dub_audio_fit_t *fit, char *err)
{
    dub_audio_conf_t   conf;
    dub_audio_input_t  in;

    memset(&conf, 0, sizeof(dub_audio_conf_t));
    conf.max_tempo = 1.25;
    conf.no_stretch = no_stretch;

    in.format = format;
    in.sample_rate = rate;
    in.channels = channels;
    in.data = data;
    in.len = len;

    return dub_audio_dub(&st->fmt, &conf, st->frames.nframes, &in, out, fit,
                         err, DUB_AUDIO_ERRLEN);
}


static void
check_tone(const stream_t *st, const dub_aac_frames_t *out, double freq,
    const char *what)
{
    float    *s;
    double    ratio;
    size_t    i, sum;
    int64_t   n, win;

    is(out->nframes, st->frames.nframes, "%s: as many frames as the segment",
       what);

    for (i = 0, sum = 0; i < out->nframes; i++) {
        sum += out->sizes[i];
    }

    ok(sum == out->len && out->len > 0, "%s: frame sizes add up", what);

    s = decode_frames(&st->fmt, out, 0, &n);

    is(n, (int64_t) out->nframes * 1024, "%s: decodes to whole frames",
       what);

    /*
     * A second in the middle, clear of the fades and the padding, in
     * 100 ms windows: a tempo change's splices blur longer ones, and a
     * pitch change of even 1% would miss the tone's 10 Hz wide bin.
     */
    win = st->fmt.sample_rate / 10;
    ratio = 0.0;

    for (i = 0; n >= 4 * st->fmt.sample_rate && i < 10; i++) {
        ratio += tone_ratio(s + st->fmt.sample_rate + i * win, win, freq,
                            st->fmt.sample_rate) / 10;
    }

    ok(ratio > 0.9, "%s: %.0f Hz tone kept (%.3f)", what, freq, ratio);

    free(s);
}


static void
random_bytes(uint8_t *p, size_t n, uint32_t seed)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        seed = seed * 1103515245 + 12345;
        p[i] = (uint8_t) (seed >> 16);
    }
}


static void
test_pack(stream_t *st)
{
    int                  ret, npkt, same;
    size_t               len, off;
    uint8_t             *m4a, *iobuf;
    AVPacket            *pkt;
    AVIOContext         *pb;
    AVFormatContext     *ic;
    dub_aac_config_t     cfg;
    dub_aac_frames_t     none;
    char                 err[DUB_AUDIO_ERRLEN];
    rd_t                 r;

    ok(dub_aac_config_parse(st->fmt.asc, st->fmt.asc_len, &cfg) == 0
       && cfg.object_type == 2 && cfg.sample_rate == RATE
       && cfg.channels == 2, "test stream is AAC-LC 44.1 kHz stereo");

    ret = dub_audio_pack_m4a(&st->fmt, &st->frames, &m4a, &len, err,
                             sizeof(err));
    is(ret, DUB_AUDIO_OK, "pack_m4a");
    ok(len > st->frames.len && memcmp(m4a + 4, "ftyp", 4) == 0,
       "m4a starts with ftyp, %zu bytes", len);

    r.data = m4a;
    r.len = len;
    r.pos = 0;

    iobuf = av_malloc(4096);
    pb = avio_alloc_context(iobuf, 4096, 0, &r, rd_read, NULL, rd_seek);
    ic = avformat_alloc_context();
    ic->pb = pb;

    ret = avformat_open_input(&ic, NULL, av_find_input_format("mov"), NULL);
    ok(ret == 0, "m4a demuxes");

    npkt = 0;
    same = 1;

    if (ret == 0) {
        is(ic->nb_streams, 1, "one stream");
        is(ic->streams[0]->codecpar->codec_id, AV_CODEC_ID_AAC, "aac");
        is(ic->streams[0]->codecpar->sample_rate, RATE, "rate kept");
        is(ic->streams[0]->codecpar->ch_layout.nb_channels, 2,
           "channels kept");

        pkt = av_packet_alloc();
        off = 0;

        while (av_read_frame(ic, pkt) == 0) {
            if (npkt >= (int) st->frames.nframes
                || (uint32_t) pkt->size != st->frames.sizes[npkt]
                || memcmp(pkt->data, st->frames.data + off, pkt->size) != 0
                || pkt->pts != (int64_t) npkt * 1024)
            {
                same = 0;

            } else {
                off += pkt->size;
            }

            npkt++;
            av_packet_unref(pkt);
        }

        av_packet_free(&pkt);
        avformat_close_input(&ic);
    }

    is(npkt, NFRAMES, "m4a holds every frame");
    ok(same, "frames identical, at their times");

    av_freep(&pb->buffer);
    avio_context_free(&pb);
    free(m4a);

    memset(&none, 0, sizeof(dub_aac_frames_t));
    m4a = (uint8_t *) 1;

    ret = dub_audio_pack_m4a(&st->fmt, &none, &m4a, &len, err, sizeof(err));
    ok(ret == DUB_AUDIO_EINVAL && m4a == NULL, "no frames refused");
}


static void
test_formats(const stream_t *st, const stream_t *mono)
{
    int               rc;
    char              err[DUB_AUDIO_ERRLEN];
    float            *f;
    size_t            len, i;
    buf_t             b;
    int16_t          *pcm;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    static const struct {
        const char  *format;
        const char  *muxer;
        const char  *encoder;
        unsigned     rate;
        unsigned     channels;
    } files[] = {
        { "m4a", "ipod", "aac", 44100, 2 },
        { "m4a", "ipod", "aac", 48000, 1 },
        { "aac", "adts", "aac", 44100, 2 },
        { "aac", "adts", "aac", 24000, 1 },
        { "mp3", "mp3", "libmp3lame", 44100, 2 },
        { "mp3", "mp3", "libmp3lame", 22050, 1 },
        { "wav", "wav", "pcm_s16le", 44100, 2 },
        { "wav", "wav", "pcm_f32le", 16000, 1 },
    };

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (make_file(files[i].muxer, files[i].encoder, files[i].rate,
                      files[i].channels, 6.0, TONE, &b) != 0)
        {
            ok(1, "# SKIP no %s encoder for %s", files[i].encoder,
               files[i].format);
            free(b.data);
            continue;
        }

        rc = dub(st, files[i].format, 0, 0, b.data, b.len, 0, &out, &fit,
                 err);

        if (!is(rc, DUB_AUDIO_OK, "%s %u Hz %u ch dubs",
                files[i].format, files[i].rate, files[i].channels))
        {
            printf("# %s\n", err);
        }

        check_tone(st, &out, TONE, files[i].format);

        /* 6 s for 5.99 s: inside the 2% where no tempo is applied */
        ok(fit.tempo == 1.0 && fit.out_samples == TARGET
           && llabs(fit.in_samples - 6 * RATE) < 3000,
           "%s: no tempo, %lld samples in", files[i].format,
           (long long) fit.in_samples);

        dub_aac_frames_free(&out);
        free(b.data);
    }

    /* the same file for a mono stream */
    make_file("ipod", "aac", 44100, 2, 6.0, TONE, &b);
    rc = dub(mono, "m4a", 0, 0, b.data, b.len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "m4a to a mono stream");
    check_tone(mono, &out, TONE, "m4a to mono");
    dub_aac_frames_free(&out);
    free(b.data);

    pcm = make_pcm_s16(RATE, 2, 6.0, TONE, &len);
    rc = dub(st, "pcm_s16le", RATE, 2, pcm, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "pcm_s16le dubs");
    check_tone(st, &out, TONE, "pcm_s16le");
    is(fit.in_samples, 6 * RATE, "pcm_s16le: exact sample count");
    dub_aac_frames_free(&out);
    free(pcm);

    len = 6 * 22050 * sizeof(float);
    f = malloc(len);

    for (i = 0; i < 6 * 22050; i++) {
        f[i] = signal_tone(TONE, 22050, i);
    }

    rc = dub(st, "pcm_f32le", 22050, 1, f, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "pcm_f32le 22.05 kHz mono dubs");
    check_tone(st, &out, TONE, "pcm_f32le");
    ok(llabs(fit.in_samples - 6 * RATE) < 64, "pcm_f32le: resampled count");
    dub_aac_frames_free(&out);
    free(f);
}


static void
test_fit(const stream_t *st)
{
    int               rc;
    char              err[DUB_AUDIO_ERRLEN];
    float            *s;
    double            secs, want_tempo, want_len, len_out;
    size_t            len, i;
    int64_t           n;
    int16_t          *pcm;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    static const struct {
        double  ratio;
        double  tempo;
    } cases[] = {
        { 0.9, 0.9 },
        { 1.1, 1.1 },
        { 0.5, 0.8 },
        { 2.0, 1.25 },
        { 1.015, 1.0 },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        secs = cases[i].ratio * TARGET / RATE;
        want_tempo = cases[i].tempo;

        pcm = make_pcm_s16(RATE, 2, secs, TONE, &len);
        rc = dub(st, "pcm_s16le", RATE, 2, pcm, len, 0, &out, &fit, err);
        free(pcm);

        is(rc, DUB_AUDIO_OK, "%.3fx: dubs", cases[i].ratio);
        ok(fabs(fit.tempo - want_tempo) < 0.001, "%.3fx: tempo %.4f",
           cases[i].ratio, fit.tempo);

        /* what the tempo change gave, then padded or trimmed to fit */
        want_len = cases[i].ratio * TARGET / want_tempo;
        len_out = (double) TARGET - fit.padded + fit.trimmed;

        ok(fit.out_samples == TARGET && (fit.padded == 0 || fit.trimmed == 0)
           && fabs(len_out - want_len) < 0.01 * TARGET,
           "%.3fx: padded %lld trimmed %lld", cases[i].ratio,
           (long long) fit.padded, (long long) fit.trimmed);

        /* the pitch must not move with the tempo */
        check_tone(st, &out, TONE, "tempo");
        dub_aac_frames_free(&out);
    }

    /* no_stretch: plain padding, exact */
    pcm = make_pcm_s16(RATE, 2, 0.9 * TARGET / RATE, TONE, &len);
    rc = dub(st, "pcm_s16le", RATE, 2, pcm, len, 1, &out, &fit, err);
    free(pcm);

    is(rc, DUB_AUDIO_OK, "no_stretch dubs");
    ok(fit.tempo == 1.0, "no_stretch: no tempo");
    is(fit.padded, TARGET - (int64_t) (0.9 * TARGET + 0.5),
       "no_stretch: padded with the difference");
    is(fit.trimmed, 0, "no_stretch: nothing trimmed");

    s = decode_frames(&st->fmt, &out, 0, &n);
    ok(n == TARGET && rms(s + TARGET - RATE / 2, RATE / 2) < 0.001
       && rms(s + RATE, RATE) > 0.3,
       "no_stretch: sound, then silence at the end");
    free(s);
    dub_aac_frames_free(&out);

    pcm = make_pcm_s16(RATE, 2, 1.5 * TARGET / RATE, TONE, &len);
    rc = dub(st, "pcm_s16le", RATE, 2, pcm, len, 1, &out, &fit, err);
    free(pcm);

    is(rc, DUB_AUDIO_OK, "no_stretch longer dubs");
    ok(fit.tempo == 1.0 && fit.padded == 0
       && fit.trimmed == (int64_t) (1.5 * TARGET + 0.5) - TARGET,
       "no_stretch: trimmed to fit");
    dub_aac_frames_free(&out);
}


static void
test_channels(const stream_t *st, const stream_t *mono)
{
    int               rc;
    char              err[DUB_AUDIO_ERRLEN];
    size_t            len;
    int16_t          *pcm;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    pcm = make_pcm_s16(RATE, 1, 6.0, TONE, &len);
    rc = dub(st, "pcm_s16le", RATE, 1, pcm, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "mono input, stereo stream");
    check_tone(st, &out, TONE, "mono to stereo");
    dub_aac_frames_free(&out);
    free(pcm);

    pcm = make_pcm_s16(RATE, 2, 6.0, TONE, &len);
    rc = dub(mono, "pcm_s16le", RATE, 2, pcm, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "stereo input, mono stream");
    check_tone(mono, &out, TONE, "stereo to mono");
    dub_aac_frames_free(&out);
    free(pcm);

    pcm = make_pcm_s16(48000, 2, 6.0, TONE, &len);
    rc = dub(st, "pcm_s16le", 48000, 2, pcm, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_OK, "48 kHz input, 44.1 kHz stream");
    check_tone(st, &out, TONE, "48 kHz to 44.1 kHz");
    ok(llabs(fit.in_samples - 6 * RATE) < 64, "resampled to %lld samples",
       (long long) fit.in_samples);
    dub_aac_frames_free(&out);
    free(pcm);
}


/*
 * Silence, then a loud tone from sample "step" on: where the step lands
 * when the kept frames are decoded says whether the priming is gone.
 */

static void
test_alignment(const stream_t *st)
{
    int               rc, pass;
    char              err[DUB_AUDIO_ERRLEN];
    float            *f, *s;
    int64_t           i, n, step, at;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    step = 100 * 1024 + 300;

    f = calloc((size_t) TARGET * 2, sizeof(float));

    for (i = step; i < TARGET; i++) {
        f[2 * i] = 1.6f * signal_tone(2000.0, RATE, i);
        f[2 * i + 1] = f[2 * i];
    }

    rc = dub(st, "pcm_f32le", RATE, 2, f, (size_t) TARGET * 2 * sizeof(float),
             0, &out, &fit, err);
    free(f);

    is(rc, DUB_AUDIO_OK, "step signal dubs");
    ok(fit.tempo == 1.0 && fit.padded == 0 && fit.trimmed == 0,
       "step signal fits exactly");

    for (pass = 0; pass < 2; pass++) {
        s = decode_frames(&st->fmt, &out, pass, &n);

        for (at = 0; at < n && fabsf(s[at]) < 0.4f; at++) {
            /* void */
        }

        /* after a silent frame, the decoder's output is one frame late */
        at -= pass * 1024;

        ok(llabs(at - step) <= 64,
           "step lands at sample %lld (want %lld, %s)", (long long) at,
           (long long) step, pass ? "after a silent frame" : "fresh decoder");

        free(s);
    }

    dub_aac_frames_free(&out);
}


static void
test_garbage(const stream_t *st)
{
    int               rc;
    char              err[DUB_AUDIO_ERRLEN];
    size_t            i, len;
    buf_t             b;
    uint8_t           junk[65536], *p;
    int16_t          *pcm;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    static const char  *formats[] = { "m4a", "aac", "mp3", "wav",
                                      "pcm_f32le" };

    random_bytes(junk, sizeof(junk), 42);

    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        err[0] = '\0';
        rc = dub(st, formats[i], RATE, 2, junk, sizeof(junk), 0, &out, &fit,
                 err);
        ok(rc == DUB_AUDIO_EDECODE && out.nframes == 0 && out.data == NULL,
           "random %s refused: %s", formats[i], err);
    }

    /* random 16-bit samples are noise, but valid audio */
    rc = dub(st, "pcm_s16le", RATE, 2, junk, sizeof(junk), 0, &out, &fit,
             err);
    ok(rc == DUB_AUDIO_OK && out.nframes == NFRAMES, "random pcm_s16le: %s",
       "noise, padded");
    dub_aac_frames_free(&out);

    /* an mp3 frame header, then junk */
    memcpy(junk, "\xff\xfb\x90\x64", 4);
    rc = dub(st, "mp3", 0, 0, junk, sizeof(junk), 0, &out, &fit, err);
    ok(rc != DUB_AUDIO_OK || out.nframes == NFRAMES,
       "mp3 header then junk: %d, no crash", rc);
    dub_aac_frames_free(&out);

    memcpy(junk, "ID3\x04\x00\x00\x7f\x7f\x7f\x7f", 10);
    rc = dub(st, "mp3", 0, 0, junk, sizeof(junk), 0, &out, &fit, err);
    ok(rc == DUB_AUDIO_EDECODE, "huge ID3 tag then junk refused");

    make_file("ipod", "aac", RATE, 2, 2.0, TONE, &b);

    for (len = 0; len < b.len; len += b.len / 7 + 1) {
        rc = dub(st, "m4a", 0, 0, b.data, len, 0, &out, &fit, err);
        ok(rc == DUB_AUDIO_EDECODE, "m4a truncated to %zu refused", len);
    }

    /* the moov is at the end: any damage there must not crash */
    p = malloc(b.len);

    for (i = 0; i < 8; i++) {
        memcpy(p, b.data, b.len);
        random_bytes(p + b.len - 400 + i * 40, 40, (uint32_t) i);
        rc = dub(st, "m4a", 0, 0, p, b.len, 0, &out, &fit, err);
        ok(rc == DUB_AUDIO_OK || rc == DUB_AUDIO_EDECODE,
           "m4a with a damaged moov: %d %s", rc, rc ? err : "");
        dub_aac_frames_free(&out);
    }

    free(p);
    free(b.data);

    rc = dub(st, "m4a", 0, 0, junk, 0, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EDECODE, "empty m4a refused");
    rc = dub(st, "pcm_s16le", RATE, 2, junk, 3, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EDECODE, "less than one pcm sample refused");
    rc = dub(st, "pcm_s16le", RATE, 1, junk, 2, 0, &out, &fit, err);
    ok(rc == DUB_AUDIO_OK && out.nframes == NFRAMES && fit.in_samples == 1
       && fit.padded == TARGET - 1, "one pcm sample: padded");
    dub_aac_frames_free(&out);
    rc = dub(st, "ogg", 0, 0, junk, sizeof(junk), 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EFORMAT, "unknown format refused");

    rc = dub(st, "pcm_s16le", 0, 2, junk, sizeof(junk), 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EINVAL, "pcm rate 0 refused");
    rc = dub(st, "pcm_s16le", 1000000, 2, junk, sizeof(junk), 0, &out, &fit,
             err);
    is(rc, DUB_AUDIO_EINVAL, "pcm rate 1 MHz refused");
    rc = dub(st, "pcm_f32le", RATE, 0, junk, sizeof(junk), 0, &out, &fit,
             err);
    is(rc, DUB_AUDIO_EINVAL, "pcm 0 channels refused");
    rc = dub(st, "pcm_f32le", RATE, 64, junk, sizeof(junk), 0, &out, &fit,
             err);
    is(rc, DUB_AUDIO_EINVAL, "pcm 64 channels refused");

    /* a WAV that claims 4 GB but holds 2 s plays its 2 s */
    p = make_wav(RATE, 2, 2.0, TONE, 0xfffffff0, &len);
    rc = dub(st, "wav", 0, 0, p, len, 0, &out, &fit, err);
    ok(rc == DUB_AUDIO_OK && fit.in_samples == 2 * RATE,
       "wav with a huge declared size: its real samples, %lld",
       (long long) fit.in_samples);
    ok(fit.tempo == 1.0 / 1.25 && fit.padded > 0, "and padded");
    dub_aac_frames_free(&out);
    free(p);

    p = make_wav(RATE, 2, 0, TONE, 0xfffffff0, &len);
    rc = dub(st, "wav", 0, 0, p, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EDECODE, "wav with a huge declared size and no data");
    free(p);

    /* longer than 4 segments + 10 s: refused before any work */
    pcm = make_pcm_s16(8000, 1, 36.0, TONE, &len);
    rc = dub(st, "pcm_s16le", 8000, 1, pcm, len, 0, &out, &fit, err);
    is(rc, DUB_AUDIO_EDECODE, "36 s of pcm for a 6 s segment refused");
    free(pcm);

    make_file("adts", "aac", 8000, 1, 36.0, TONE, &b);
    rc = dub(st, "aac", 0, 0, b.data, b.len, 0, &out, &fit, err);
    ok(rc == DUB_AUDIO_EDECODE && out.data == NULL,
       "36 s of aac refused while decoding: %s", err);
    free(b.data);
}


static void
test_bad_format(const stream_t *st)
{
    int                 rc;
    char                err[DUB_AUDIO_ERRLEN];
    size_t              len;
    int16_t            *pcm;
    stream_t            bad;
    dub_audio_conf_t    conf;
    dub_aac_frames_t    out;
    dub_audio_input_t   in;
    static uint8_t      he[] = { 0x2b, 0x92, 0x08, 0x00 };
    static uint8_t      lc960[] = { 0x12, 0x14 };
    static uint8_t      mono[] = { 0x12, 0x08 };

    pcm = make_pcm_s16(RATE, 2, 1.0, TONE, &len);

    memset(&conf, 0, sizeof(dub_audio_conf_t));
    conf.max_tempo = 1.25;

    in.format = "pcm_s16le";
    in.sample_rate = RATE;
    in.channels = 2;
    in.data = (uint8_t *) pcm;
    in.len = len;

    bad = *st;
    bad.fmt.asc = he;
    bad.fmt.asc_len = sizeof(he);
    bad.fmt.sample_rate = 22050;
    rc = dub_audio_dub(&bad.fmt, &conf, 10, &in, &out, NULL, err,
                       sizeof(err));
    ok(rc == DUB_AUDIO_EFORMAT, "HE-AAC stream refused: %s", err);

    bad = *st;
    bad.fmt.asc = lc960;
    bad.fmt.asc_len = sizeof(lc960);
    rc = dub_audio_dub(&bad.fmt, &conf, 10, &in, &out, NULL, err,
                       sizeof(err));
    is(rc, DUB_AUDIO_EFORMAT, "960-sample frames refused");

    bad = *st;
    bad.fmt.asc = mono;
    bad.fmt.asc_len = sizeof(mono);
    rc = dub_audio_dub(&bad.fmt, &conf, 10, &in, &out, NULL, err,
                       sizeof(err));
    is(rc, DUB_AUDIO_EFORMAT, "ASC and format disagreeing refused");

    bad = *st;
    bad.fmt.asc_len = 1;
    rc = dub_audio_dub(&bad.fmt, &conf, 10, &in, &out, NULL, err,
                       sizeof(err));
    is(rc, DUB_AUDIO_EFORMAT, "truncated ASC refused");

    rc = dub_audio_dub(&st->fmt, &conf, 0, &in, &out, NULL, err,
                       sizeof(err));
    is(rc, DUB_AUDIO_EINVAL, "zero frames refused");

    rc = dub_audio_dub(&st->fmt, &conf, 10, &in, &out, NULL, err,
                       sizeof(err));
    ok(rc == DUB_AUDIO_OK && out.nframes == 10, "10 frames, no fit info");
    dub_aac_frames_free(&out);
    ok(out.data == NULL && out.sizes == NULL && out.nframes == 0,
       "frames_free zeroes");

    free(pcm);
}


static void *
job_run(void *arg)
{
    job_t             *j;
    float             *s;
    int64_t            n;
    dub_aac_frames_t   out;
    dub_audio_fit_t    fit;
    char               err[DUB_AUDIO_ERRLEN];

    j = arg;

    j->rc = dub(j->st, "mp3", 0, 0, j->data, j->len, 0, &out, &fit, err);
    j->nframes = out.nframes;
    j->ratio = 0.0;

    if (j->rc == DUB_AUDIO_OK) {
        s = decode_frames(&j->st->fmt, &out, 0, &n);
        j->ratio = tone_ratio(s + RATE, RATE / 10, TONE, RATE);
        free(s);
    }

    dub_aac_frames_free(&out);

    return NULL;
}


/* the module runs dubs in several pool threads at once */

static void
test_threads(const stream_t *st)
{
    int        i, good;
    buf_t      b;
    job_t      jobs[THREADS];
    pthread_t  tid[THREADS];

    if (make_file("wav", "pcm_s16le", 48000, 1, 6.5, TONE, &b) != 0) {
        ok(0, "wav for threads");
        return;
    }

    for (i = 0; i < THREADS; i++) {
        jobs[i].st = st;
        jobs[i].data = b.data;
        jobs[i].len = b.len;
        pthread_create(&tid[i], NULL, job_run, &jobs[i]);
    }

    good = 0;

    for (i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);

        /* "mp3" on WAV bytes: the mp3 demuxer must refuse it */
        if (jobs[i].rc == DUB_AUDIO_EDECODE) {
            good++;
        }
    }

    is(good, THREADS, "%d threads at once, each refuses wav as mp3",
       THREADS);

    free(b.data);

    if (make_file("mp3", "libmp3lame", 48000, 1, 6.5, TONE, &b) != 0) {
        ok(1, "# SKIP no libmp3lame");
        return;
    }

    for (i = 0; i < THREADS; i++) {
        jobs[i].st = st;
        jobs[i].data = b.data;
        jobs[i].len = b.len;
        pthread_create(&tid[i], NULL, job_run, &jobs[i]);
    }

    good = 0;

    for (i = 0; i < THREADS; i++) {
        pthread_join(tid[i], NULL);

        if (jobs[i].rc == DUB_AUDIO_OK && jobs[i].nframes == NFRAMES
            && jobs[i].ratio > 0.9)
        {
            good++;
        }
    }

    is(good, THREADS, "%d mp3 dubs at once, all right", THREADS);

    free(b.data);
}


static void
test_timing(const stream_t *st)
{
    int               rc;
    char              err[DUB_AUDIO_ERRLEN];
    size_t            len;
    double            ms;
    int16_t          *pcm;
    struct timespec   t0, t1;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    pcm = make_pcm_s16(RATE, 2, 6.5, TONE, &len);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = dub(st, "pcm_s16le", RATE, 2, pcm, len, 0, &out, &fit, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;

    ok(rc == DUB_AUDIO_OK && fit.tempo > 1.0,
       "6 s stereo segment with tempo: %.0f ms", ms);

    dub_aac_frames_free(&out);
    free(pcm);
}


/* either coder gives the segment's frames; the choice reaches FFmpeg */

static void
test_coders(const stream_t *st)
{
    int                rc[2];
    char               err[DUB_AUDIO_ERRLEN];
    size_t             len;
    int16_t           *pcm;
    unsigned           c, coder;
    dub_audio_fit_t    fit;
    dub_aac_frames_t   out[2];
    dub_audio_conf_t   conf;
    dub_audio_input_t  in;

    ok(dub_audio_coder_parse("fast", 4, &coder) == 0
       && coder == DUB_AUDIO_CODER_FAST, "coder fast");
    ok(dub_audio_coder_parse("twoloop", 7, &coder) == 0
       && coder == DUB_AUDIO_CODER_TWOLOOP, "coder twoloop");
    ok(dub_audio_coder_parse("Fast", 4, &coder) != 0
       && dub_audio_coder_parse("fas", 3, &coder) != 0
       && dub_audio_coder_parse("", 0, &coder) != 0
       && dub_audio_coder_parse("twoloops", 8, &coder) != 0,
       "no other coder");

    /* exactly as long as the segment: no tempo, no padding */
    pcm = make_pcm_s16(RATE, 2, (double) TARGET / RATE, TONE, &len);

    for (c = 0; c < 2; c++) {
        memset(&conf, 0, sizeof(dub_audio_conf_t));
        conf.max_tempo = 1.25;
        conf.coder = c ? DUB_AUDIO_CODER_TWOLOOP : DUB_AUDIO_CODER_FAST;

        in.format = "pcm_s16le";
        in.sample_rate = RATE;
        in.channels = 2;
        in.data = (const uint8_t *) pcm;
        in.len = len;

        rc[c] = dub_audio_dub(&st->fmt, &conf, st->frames.nframes, &in,
                              &out[c], &fit, err, DUB_AUDIO_ERRLEN);

        ok(rc[c] == DUB_AUDIO_OK, "coder %s: dubbed (%s)",
           c ? "twoloop" : "fast", rc[c] == DUB_AUDIO_OK ? "ok" : err);

        if (rc[c] == DUB_AUDIO_OK) {
            check_tone(st, &out[c], TONE, c ? "twoloop" : "fast");
        }
    }

    ok(rc[0] == DUB_AUDIO_OK && rc[1] == DUB_AUDIO_OK
       && (out[0].len != out[1].len
           || memcmp(out[0].data, out[1].data, out[0].len) != 0),
       "the coders encode differently (%zu and %zu bytes)", out[0].len,
       out[1].len);

    dub_aac_frames_free(&out[0]);
    dub_aac_frames_free(&out[1]);
    free(pcm);
}


int
main(void)
{
    stream_t  st, mono;

    dub_audio_init();

    if (make_stream(&st, RATE, 2, NFRAMES) != 0
        || make_stream(&mono, RATE, 1, NFRAMES) != 0)
    {
        ok(0, "test streams encoded");
        return tap_done();
    }

    test_pack(&st);
    test_formats(&st, &mono);
    test_fit(&st);
    test_channels(&st, &mono);
    test_alignment(&st);
    test_garbage(&st);
    test_bad_format(&st);
    test_threads(&st);
    test_timing(&st);
    test_coders(&st);

    dub_aac_frames_free(&st.frames);
    dub_aac_frames_free(&mono.frames);

    return tap_done();
}
