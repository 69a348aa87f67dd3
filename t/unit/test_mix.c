
/*
 * Copyright (C) nginx-dub developers
 *
 * dub_audio_dub_mix(): the segment's original audio under the dub, with
 * tones.  The original is a 440 Hz tone encoded to AAC frames here, the
 * dub a 1 kHz tone as raw samples; levels are measured on the decoded
 * result with a Hann-windowed Goertzel filter, in dBFS of a sine's
 * amplitude (a full-scale sine is 0 dBFS).
 */


#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "tap.h"
#include "dub_audio_int.h"


#define RATE            44100
#define CHANNELS        2
#define NFRAMES         258                 /* 5.99 s, a segment */
#define TARGET          (NFRAMES * 1024)
#define ORIG_HZ         440.0
#define DUB_HZ          1000.0
#define SEC(s)          ((int64_t) ((s) * RATE))


/* a stream's audio: the segment's frames, their ASC, the frame before */

typedef struct {
    dub_audio_format_t  fmt;
    dub_aac_frames_t    frames;
    uint8_t             asc[64];
    const uint8_t      *prev;
    size_t              prev_len;
} stream_t;


/* one mono signal, the same on every channel */

typedef struct {
    float              *s;
    int64_t             n;
} signal_t;


static double amp(double db);
static void signal_new(signal_t *x, int64_t n);
static void signal_tone(signal_t *x, double freq, double db, int64_t from,
    int64_t to);
static int encode(stream_t *st, const signal_t *x, size_t nframes);
static int encode_open(stream_t *st, AVCodecContext **enc, AVFrame **frame);
static void encode_keep(stream_t *st, AVCodecContext *enc, AVPacket *pkt,
    size_t nframes, size_t cap);
static float *decode(const dub_audio_format_t *fmt, const dub_aac_frames_t *f,
    unsigned channel, int64_t *n);
static double level(const float *s, int64_t from, int64_t to, double freq);
static double peak(const float *s, int64_t n);
static int mix(const stream_t *orig, const signal_t *dub, double gain_db,
    int duck, dub_aac_frames_t *out, dub_audio_fit_t *fit);
static void test_levels(const stream_t *orig);
static void test_peaks(void);
static void test_off(const stream_t *orig);
static void test_duck(const stream_t *orig);
static void test_alignment(void);
static void test_boundary(void);
static void test_splice(void);
static float *splice(const stream_t *live, int prev, int64_t *n);
static void test_damaged(const stream_t *orig);
static void test_refused(const stream_t *orig);
static void test_gain_parse(void);
static void test_cost(const stream_t *orig);


static double
amp(double db)
{
    return pow(10.0, db / 20.0);
}


static void
signal_new(signal_t *x, int64_t n)
{
    x->s = calloc((size_t) n, sizeof(float));
    x->n = n;
}


/* a tone at "db" dBFS on [from, to), phase 0 at "from" */

static void
signal_tone(signal_t *x, double freq, double db, int64_t from, int64_t to)
{
    int64_t  i;

    for (i = from; i < to && i < x->n; i++) {
        x->s[i] = (float) (amp(db) * sin(2.0 * M_PI * freq * (i - from)
                                         / RATE));
    }
}


/*
 * The signal through FFmpeg's AAC encoder, as a live encoder sends it:
 * the priming dropped, so that frame i decodes samples [i, i + 1) * 1024.
 */

static int
encode(stream_t *st, const signal_t *x, size_t nframes)
{
    size_t           i, cap;
    unsigned         c;
    AVFrame         *frame;
    AVPacket        *pkt;
    AVCodecContext  *enc;

    if (encode_open(st, &enc, &frame) != 0) {
        return -1;
    }

    cap = 2048 * nframes;
    st->frames.data = malloc(cap);
    st->frames.sizes = malloc(nframes * sizeof(uint32_t));
    pkt = av_packet_alloc();

    for (i = 0; i <= nframes; i++) {
        if (i == nframes) {
            avcodec_send_frame(enc, NULL);

        } else {
            av_frame_make_writable(frame);

            for (c = 0; c < CHANNELS; c++) {
                memcpy(frame->extended_data[c], x->s + i * 1024,
                       1024 * sizeof(float));
            }

            frame->pts = (int64_t) i * 1024;
            avcodec_send_frame(enc, frame);
        }

        encode_keep(st, enc, pkt, nframes, cap);
    }

    av_packet_free(&pkt);
    av_frame_free(&frame);
    avcodec_free_context(&enc);

    return st->frames.nframes == nframes ? 0 : -1;
}


static int
encode_open(stream_t *st, AVCodecContext **enc, AVFrame **frame)
{
    const AVCodec  *codec;

    memset(st, 0, sizeof(stream_t));

    codec = avcodec_find_encoder_by_name("aac");
    *enc = avcodec_alloc_context3(codec);

    (*enc)->sample_fmt = AV_SAMPLE_FMT_FLTP;
    (*enc)->sample_rate = RATE;
    (*enc)->bit_rate = 64000 * CHANNELS;
    (*enc)->time_base = (AVRational) { 1, RATE };
    (*enc)->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_channel_layout_default(&(*enc)->ch_layout, CHANNELS);

    if (avcodec_open2(*enc, codec, NULL) < 0
        || (size_t) (*enc)->extradata_size > sizeof(st->asc))
    {
        return -1;
    }

    memcpy(st->asc, (*enc)->extradata, (*enc)->extradata_size);

    st->fmt.sample_rate = RATE;
    st->fmt.channels = CHANNELS;
    st->fmt.frame_length = 1024;
    st->fmt.asc = st->asc;
    st->fmt.asc_len = (*enc)->extradata_size;

    *frame = av_frame_alloc();
    (*frame)->nb_samples = 1024;
    (*frame)->format = AV_SAMPLE_FMT_FLTP;
    (*frame)->sample_rate = RATE;
    av_channel_layout_copy(&(*frame)->ch_layout, &(*enc)->ch_layout);

    return av_frame_get_buffer(*frame, 0) < 0 ? -1 : 0;
}


static void
encode_keep(stream_t *st, AVCodecContext *enc, AVPacket *pkt, size_t nframes,
    size_t cap)
{
    dub_aac_frames_t  *f;

    f = &st->frames;

    while (avcodec_receive_packet(enc, pkt) == 0) {
        if (pkt->pts >= 0 && f->nframes < nframes
            && f->len + pkt->size <= cap)
        {
            memcpy(f->data + f->len, pkt->data, pkt->size);
            f->len += pkt->size;
            f->sizes[f->nframes++] = pkt->size;
        }

        av_packet_unref(pkt);
    }
}


/* one channel of the frames, decoded in order by a fresh decoder */

static float *
decode(const dub_audio_format_t *fmt, const dub_aac_frames_t *f,
    unsigned channel, int64_t *n)
{
    float           *out;
    size_t           i, off;
    AVFrame         *frame;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *dec;

    codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    dec = avcodec_alloc_context3(codec);
    dec->extradata = av_mallocz(fmt->asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(dec->extradata, fmt->asc, fmt->asc_len);
    dec->extradata_size = (int) fmt->asc_len;
    avcodec_open2(dec, codec, NULL);

    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    out = calloc(f->nframes * 1024, sizeof(float));
    *n = 0;

    for (i = 0, off = 0; i < f->nframes; off += f->sizes[i++]) {
        av_new_packet(pkt, f->sizes[i]);
        memcpy(pkt->data, f->data + off, f->sizes[i]);
        avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);

        while (avcodec_receive_frame(dec, frame) == 0) {
            if (*n + frame->nb_samples <= (int64_t) f->nframes * 1024) {
                memcpy(out + *n, frame->extended_data[channel],
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


/* the amplitude of "freq" in [from, to), in dBFS */

static double
level(const float *s, int64_t from, int64_t to, double freq)
{
    double   w, coef, s0, s1, s2, sum, power;
    int64_t  i, n;

    n = to - from;
    coef = 2.0 * cos(2.0 * M_PI * freq / RATE);
    s1 = 0.0;
    s2 = 0.0;
    sum = 0.0;

    for (i = 0; i < n; i++) {
        w = 0.5 - 0.5 * cos(2.0 * M_PI * i / (n - 1));
        sum += w;
        s0 = w * s[from + i] + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
    }

    power = s1 * s1 + s2 * s2 - coef * s1 * s2;

    return 20.0 * log10(2.0 * sqrt(power > 0.0 ? power : 0.0) / sum + 1e-12);
}


static double
peak(const float *s, int64_t n)
{
    double   p;
    int64_t  i;

    for (i = 0, p = 0.0; i < n; i++) {
        p = fabs(s[i]) > p ? fabs(s[i]) : p;
    }

    return 20.0 * log10(p + 1e-12);
}


/* "dub" as the STS's raw samples, over "orig" at gain_db (NAN: off) */

static int
mix(const stream_t *orig, const signal_t *dub, double gain_db, int duck,
    dub_aac_frames_t *out, dub_audio_fit_t *fit)
{
    int                   rc;
    char                  err[DUB_AUDIO_ERRLEN];
    float                *pcm;
    int64_t               i;
    dub_audio_conf_t      conf;
    dub_audio_input_t     in;
    dub_audio_original_t  o;

    pcm = malloc(dub->n * CHANNELS * sizeof(float));

    for (i = 0; i < dub->n * CHANNELS; i++) {
        pcm[i] = dub->s[i / CHANNELS];
    }

    memset(&conf, 0, sizeof(dub_audio_conf_t));
    conf.max_tempo = 1.25;
    conf.original_gain = isnan(gain_db) ? 0.0 : amp(gain_db);
    conf.duck = duck;

    in.format = "pcm_f32le";
    in.sample_rate = RATE;
    in.channels = CHANNELS;
    in.data = (uint8_t *) pcm;
    in.len = dub->n * CHANNELS * sizeof(float);

    o.frames = &orig->frames;
    o.prev = orig->prev;
    o.prev_len = orig->prev_len;

    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, out, fit, err,
                           sizeof(err));
    if (rc != DUB_AUDIO_OK) {
        printf("# %s\n", err);
    }

    free(pcm);

    return rc;
}


/* the case: 440 Hz at -12 under 1 kHz at -12, gain -18 dB */

static void
test_levels(const stream_t *orig)
{
    int               rc;
    float            *s;
    double            o, d;
    int64_t           n, w;
    unsigned          c;
    signal_t          dub;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -12.0, 0, TARGET);

    rc = mix(orig, &dub, -18.0, 0, &out, &fit);
    is(rc, DUB_AUDIO_OK, "mixes at -18 dB");
    is(out.nframes, NFRAMES, "as many frames as the original");
    ok(fit.limited_db == 0.0 && fit.ducked == 0 && fit.original_lost == 0,
       "no limiting, no ducking, nothing lost");

    for (c = 0; c < CHANNELS; c++) {
        s = decode(&orig->fmt, &out, c, &n);

        for (w = 0; w < 5; w++) {
            o = level(s, SEC(0.5 + w), SEC(1.5 + w), ORIG_HZ);
            d = level(s, SEC(0.5 + w), SEC(1.5 + w), DUB_HZ);

            ok(fabs(o - -30.0) <= 2.0 && fabs(d - -12.0) <= 2.0,
               "channel %u, second %lld: original %.2f dBFS (want -30), "
               "dub %.2f dBFS (want -12)", c, (long long) w + 1, o, d);
        }

        ok(peak(s, n) <= 0.0, "channel %u: peak %.2f dBFS", c, peak(s, n));
        free(s);
    }

    dub_aac_frames_free(&out);

    rc = mix(orig, &dub, NAN, 0, &out, &fit);
    s = decode(&orig->fmt, &out, 0, &n);
    o = level(s, SEC(1), SEC(2), ORIG_HZ);
    ok(rc == DUB_AUDIO_OK && o < -70.0, "gain off: no original (%.1f dBFS)",
       o);
    free(s);
    dub_aac_frames_free(&out);

    free(dub.s);
}


/* both near full scale: the sum's peaks are limited, not clipped */

static void
test_peaks(void)
{
    int               rc;
    float            *s;
    double            d, p;
    size_t            i;
    int64_t           n;
    signal_t          x, dub;
    stream_t          loud;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    static const double  gains[] = { -18.0, -6.0, 0.0 };

    signal_new(&x, TARGET);
    signal_tone(&x, ORIG_HZ, -0.5, 0, TARGET);

    if (encode(&loud, &x, NFRAMES) != 0) {
        ok(0, "loud original encoded");
        return;
    }

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -0.5, 0, TARGET);

    for (i = 0; i < sizeof(gains) / sizeof(gains[0]); i++) {
        rc = mix(&loud, &dub, gains[i], 0, &out, &fit);
        s = decode(&loud.fmt, &out, 0, &n);

        p = peak(s, n);
        d = level(s, SEC(1), SEC(5), DUB_HZ);

        ok(rc == DUB_AUDIO_OK && p <= 0.0 && fit.limited_db < 0.0,
           "both at -0.5 dBFS, gain %.0f dB: peak %.2f dBFS, limiter %.2f dB",
           gains[i], p, fit.limited_db);

        /* the limiter's gain is smooth: the dub keeps its tone */
        ok(d > -0.5 + fit.limited_db - 1.0,
           "gain %.0f dB: dub at %.2f dBFS", gains[i], d);

        free(s);
        dub_aac_frames_free(&out);
    }

    free(dub.s);
    free(x.s);
    dub_aac_frames_free(&loud.frames);
}


/* gain off: exactly what the dub alone gives */

static void
test_off(const stream_t *orig)
{
    int                   rc1, rc2;
    char                  err[DUB_AUDIO_ERRLEN];
    float                *pcm;
    int64_t               i;
    signal_t              dub;
    dub_audio_conf_t      conf;
    dub_aac_frames_t      a, b;
    dub_audio_input_t     in;
    dub_audio_original_t  o;

    signal_new(&dub, TARGET + RATE / 2);
    signal_tone(&dub, DUB_HZ, 0.0, 0, dub.n);

    pcm = malloc(dub.n * sizeof(float));

    for (i = 0; i < dub.n; i++) {
        pcm[i] = 1.3f * dub.s[i];
    }

    memset(&conf, 0, sizeof(dub_audio_conf_t));
    conf.max_tempo = 1.25;
    conf.duck = 1;

    in.format = "pcm_f32le";
    in.sample_rate = RATE;
    in.channels = 1;
    in.data = (uint8_t *) pcm;
    in.len = dub.n * sizeof(float);

    o.frames = &orig->frames;
    o.prev = NULL;
    o.prev_len = 0;

    rc1 = dub_audio_dub(&orig->fmt, &conf, NFRAMES, &in, &a, NULL, err,
                        sizeof(err));
    rc2 = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &b, NULL, err,
                            sizeof(err));

    ok(rc1 == DUB_AUDIO_OK && rc2 == DUB_AUDIO_OK && a.nframes == NFRAMES
       && a.nframes == b.nframes && a.len == b.len
       && memcmp(a.sizes, b.sizes, a.nframes * sizeof(uint32_t)) == 0
       && memcmp(a.data, b.data, a.len) == 0,
       "gain off: bit-identical to the dub alone (tempo, clipping)");

    dub_aac_frames_free(&a);
    dub_aac_frames_free(&b);

    conf.original_gain = amp(-18.0);
    rc1 = dub_audio_dub(&orig->fmt, &conf, NFRAMES, &in, &a, NULL, err,
                        sizeof(err));
    ok(rc1 == DUB_AUDIO_EINVAL && a.data == NULL,
       "a gain without the original refused: %s", err);

    free(pcm);
    free(dub.s);
}


/* duck on: the original lower while the dub sounds, back in its pause */

static void
test_duck(const stream_t *orig)
{
    int               rc;
    float            *s;
    double            a, b, c;
    int64_t           n;
    signal_t          dub;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -12.0, 0, SEC(2));
    signal_tone(&dub, DUB_HZ, -12.0, SEC(4), TARGET);

    rc = mix(orig, &dub, -18.0, 1, &out, &fit);
    s = decode(&orig->fmt, &out, 0, &n);

    a = level(s, SEC(0.5), SEC(1.5), ORIG_HZ);
    b = level(s, SEC(2.9), SEC(3.8), ORIG_HZ);
    c = level(s, SEC(4.5), SEC(5.5), ORIG_HZ);

    ok(rc == DUB_AUDIO_OK && fabs(a - -42.0) <= 2.0 && fabs(c - -42.0) <= 2.0,
       "duck: original at %.2f and %.2f dBFS under speech (want -42)", a, c);
    ok(fabs(b - -30.0) <= 2.0,
       "duck: original at %.2f dBFS in the pause (want -30)", b);
    ok(fabs(level(s, SEC(0.5), SEC(1.5), DUB_HZ) - -12.0) <= 2.0,
       "duck: the dub at its level");
    ok(fit.ducked > SEC(3.5) && fit.ducked < SEC(5),
       "duck: %.2f s ducked", (double) fit.ducked / RATE);
    ok(peak(s, n) <= 0.0, "duck: peak %.2f dBFS", peak(s, n));

    free(s);
    dub_aac_frames_free(&out);

    rc = mix(orig, &dub, -18.0, 0, &out, &fit);
    s = decode(&orig->fmt, &out, 0, &n);
    a = level(s, SEC(0.5), SEC(1.5), ORIG_HZ);
    ok(rc == DUB_AUDIO_OK && fabs(a - -30.0) <= 2.0,
       "no duck: original at %.2f dBFS under speech", a);
    free(s);
    dub_aac_frames_free(&out);

    free(dub.s);
}


/*
 * The original's frames in their place: a tone that starts at a known
 * sample under a silent dub starts there in the output.
 */

static void
test_alignment(void)
{
    int               rc;
    float            *s;
    int64_t           n, at, step;
    signal_t          x, dub;
    stream_t          st;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    step = 100 * 1024 + 300;

    signal_new(&x, TARGET);
    signal_tone(&x, 2000.0, -2.0, step, TARGET);

    if (encode(&st, &x, NFRAMES) != 0) {
        ok(0, "step encoded");
        return;
    }

    signal_new(&dub, TARGET);

    rc = mix(&st, &dub, 0.0, 0, &out, &fit);
    s = decode(&st.fmt, &out, 0, &n);

    for (at = 0; at < n && fabsf(s[at]) < 0.4f; at++) {
        /* void */
    }

    ok(rc == DUB_AUDIO_OK && out.nframes == NFRAMES
       && llabs(at - step) <= 64,
       "original's step lands at sample %lld (want %lld)", (long long) at,
       (long long) step);

    free(s);
    free(x.s);
    free(dub.s);
    dub_aac_frames_free(&out);
    dub_aac_frames_free(&st.frames);
}


/*
 * A segment cut from a live stream: its first frame decoded alone, and
 * after the frame before it, against the whole stream decoded.
 */

static void
test_boundary(void)
{
    int                   rc;
    char                  err[DUB_AUDIO_ERRLEN];
    float                *ref;
    size_t                pass, lost, i, off;
    double                e0, e1, sig, worst[2];
    int64_t               n, k, base;
    signal_t              x;
    stream_t              live;
    dub_audio_ctx_t       ctx;
    dub_audio_pcm_t       pcm;
    dub_aac_frames_t      seg;
    dub_audio_original_t  o;

    signal_new(&x, 2 * TARGET);
    signal_tone(&x, ORIG_HZ, -12.0, 0, x.n);

    if (encode(&live, &x, 2 * NFRAMES) != 0) {
        ok(0, "live stream encoded");
        return;
    }

    ref = decode(&live.fmt, &live.frames, 0, &n);

    /* the second half is the segment */
    for (i = 0, off = 0; i < NFRAMES; i++) {
        off += live.frames.sizes[i];
    }

    seg.data = live.frames.data + off;
    seg.len = live.frames.len - off;
    seg.sizes = live.frames.sizes + NFRAMES;
    seg.nframes = NFRAMES;
    base = TARGET;

    memset(&ctx, 0, sizeof(dub_audio_ctx_t));
    ctx.fmt = &live.fmt;
    ctx.err = err;
    ctx.errlen = sizeof(err);
    av_channel_layout_default(&ctx.layout, CHANNELS);

    for (pass = 0; pass < 2; pass++) {
        memset(&pcm, 0, sizeof(dub_audio_pcm_t));
        pcm.channels = CHANNELS;
        pcm.max = TARGET;

        o.frames = &seg;
        o.prev = pass ? live.frames.data + off - live.frames.sizes[NFRAMES - 1]
                      : NULL;
        o.prev_len = pass ? live.frames.sizes[NFRAMES - 1] : 0;

        rc = dub_mix_decode(&ctx, &o, &pcm, &lost);

        e0 = 0.0;
        e1 = 0.0;
        sig = 0.0;

        for (k = 0; rc == DUB_AUDIO_OK && k < TARGET; k++) {
            if (k < 1024) {
                e0 += pow(pcm.ch[0][k] - ref[base + k], 2.0);
                sig += pow(ref[base + k], 2.0);

            } else {
                e1 = fmax(e1, fabs(pcm.ch[0][k] - ref[base + k]));
            }
        }

        worst[pass] = 10.0 * log10(e0 / sig + 1e-30);

        ok(rc == DUB_AUDIO_OK && pcm.len == TARGET && lost == 0
           && e1 < 1e-6, "%s: frames 1 on as the whole stream decodes "
           "(%.1g)", pass ? "with the frame before" : "alone", e1);

        dub_audio_pcm_free(&pcm);
    }

    ok(worst[1] < -100.0,
       "first frame after the frame before: error %.1f dB of the signal",
       worst[1]);
    ok(worst[0] > worst[1],
       "first frame decoded alone: error %.1f dB of the signal (the "
       "boundary's transient)", worst[0]);

    av_channel_layout_uninit(&ctx.layout);
    free(ref);
    free(x.s);
    dub_aac_frames_free(&live.frames);
}


/*
 * In a stream: the middle one of three segments replaced by its mix, and
 * the whole decoded as a player does.  Away from the boundaries the
 * original is at its level, or at the gain under the dub; the change
 * takes the first frame after each boundary, where frames of two
 * encoders overlap.  Decoding the frame before the segment first
 * changes little there, once the player has overlapped it.
 */

static void
test_splice(void)
{
    int       in;
    float    *s[2];
    double    l[2], want, worst, diff, dip;
    int64_t   n, k, b;
    signal_t  x;
    stream_t  live;

    signal_new(&x, 3 * TARGET);
    signal_tone(&x, ORIG_HZ, -12.0, 0, x.n);

    if (encode(&live, &x, 3 * NFRAMES) != 0) {
        ok(0, "three segments encoded");
        return;
    }

    s[0] = splice(&live, 0, &n);
    s[1] = splice(&live, 1, &n);

    worst = 0.0;
    diff = 0.0;
    dip = 0.0;

    /*
     * 512-sample windows from the stream's second frame (its first has
     * no frame before); a boundary's change is in [b, b + 1024)
     */
    for (k = 1024; k + 512 <= 3 * TARGET; k += 256) {
        l[0] = level(s[0], k, k + 512, ORIG_HZ);
        l[1] = level(s[1], k, k + 512, ORIG_HZ);
        diff = fmax(diff, fabs(l[0] - l[1]));

        for (b = TARGET, in = 0; b <= 2 * TARGET; b += TARGET) {
            in |= (k < b + 1024 && k + 512 > b);
        }

        if (in) {
            dip = fmin(dip, l[0]);
            continue;
        }

        want = (k >= TARGET && k < 2 * TARGET) ? -30.0 : -12.0;
        worst = fmax(worst, fabs(l[0] - want));
    }

    ok(worst <= 1.0, "in a stream, a frame away from the boundaries: the "
       "original within %.2f dB of -12, or -30 under the dub", worst);
    ok(dip > -40.0, "the first frame after a boundary: the original down "
       "to %.1f dBFS at most", dip);
    ok(diff <= 1.0, "the frame before decoded first: %.2f dB apart at "
       "most, in a player", diff);
    ok(peak(s[0], n) <= 0.0, "in a stream: peak %.2f dBFS", peak(s[0], n));

    free(s[0]);
    free(s[1]);
    free(x.s);
    dub_aac_frames_free(&live.frames);
}


/* the stream with its middle segment mixed under a 1 kHz dub, decoded */

static float *
splice(const stream_t *live, int prev, int64_t *n)
{
    float             *s;
    size_t             i, off, len;
    signal_t           dub;
    stream_t           seg;
    dub_aac_frames_t   out, all;
    dub_audio_fit_t    fit;

    for (i = 0, off = 0; i < NFRAMES; i++) {
        off += live->frames.sizes[i];
    }

    for (i = NFRAMES, len = 0; i < 2 * NFRAMES; i++) {
        len += live->frames.sizes[i];
    }

    seg = *live;
    seg.fmt.asc = seg.asc;
    seg.frames.data = live->frames.data + off;
    seg.frames.len = len;
    seg.frames.sizes = live->frames.sizes + NFRAMES;
    seg.frames.nframes = NFRAMES;
    seg.prev = prev ? seg.frames.data - seg.frames.sizes[-1] : NULL;
    seg.prev_len = prev ? seg.frames.sizes[-1] : 0;

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -12.0, 0, TARGET);

    if (mix(&seg, &dub, -18.0, 0, &out, &fit) != DUB_AUDIO_OK) {
        memset(&out, 0, sizeof(dub_aac_frames_t));
    }

    all.nframes = live->frames.nframes;
    all.len = live->frames.len - len + out.len;
    all.data = malloc(all.len);
    all.sizes = malloc(all.nframes * sizeof(uint32_t));

    memcpy(all.sizes, live->frames.sizes, all.nframes * sizeof(uint32_t));
    memcpy(all.sizes + NFRAMES, out.sizes, out.nframes * sizeof(uint32_t));
    memcpy(all.data, live->frames.data, off);
    memcpy(all.data + off, out.data, out.len);
    memcpy(all.data + off + out.len, live->frames.data + off + len,
           live->frames.len - off - len);

    s = decode(&live->fmt, &all, 0, n);

    free(all.data);
    free(all.sizes);
    free(dub.s);
    dub_aac_frames_free(&out);

    return s;
}


/* a damaged original frame: silence under the dub there, nothing worse */

static void
test_damaged(const stream_t *orig)
{
    int               rc;
    float            *s;
    size_t            i, off;
    int64_t           n;
    signal_t          dub;
    stream_t          bad;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    bad = *orig;
    bad.fmt.asc = bad.asc;
    bad.frames.data = malloc(orig->frames.len);
    memcpy(bad.frames.data, orig->frames.data, orig->frames.len);

    for (i = 0, off = 0; i < 100; i++) {
        off += bad.frames.sizes[i];
    }

    for (i = 0; i < 3 * bad.frames.sizes[100]; i++) {
        bad.frames.data[off + i] = (uint8_t) (i * 37 + 11);
    }

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -12.0, 0, TARGET);

    rc = mix(&bad, &dub, -18.0, 0, &out, &fit);
    s = decode(&bad.fmt, &out, 0, &n);

    ok(rc == DUB_AUDIO_OK && out.nframes == NFRAMES
       && fabs(level(s, SEC(3), SEC(5), ORIG_HZ) - -30.0) <= 2.0
       && fabs(level(s, SEC(0.5), SEC(2), ORIG_HZ) - -30.0) <= 2.0,
       "3 damaged original frames: the rest mixed, %zu lost",
       fit.original_lost);

    free(s);
    dub_aac_frames_free(&out);

    /* frame 100 empty: its data gone, its size 0 */
    memcpy(bad.frames.data, orig->frames.data, orig->frames.len);
    bad.frames.sizes = malloc(NFRAMES * sizeof(uint32_t));
    memcpy(bad.frames.sizes, orig->frames.sizes, NFRAMES * sizeof(uint32_t));
    memmove(bad.frames.data + off,
            bad.frames.data + off + orig->frames.sizes[100],
            orig->frames.len - off - orig->frames.sizes[100]);
    bad.frames.len -= orig->frames.sizes[100];
    bad.frames.sizes[100] = 0;

    rc = mix(&bad, &dub, -18.0, 0, &out, &fit);
    s = decode(&bad.fmt, &out, 0, &n);

    ok(rc == DUB_AUDIO_OK && out.nframes == NFRAMES && fit.original_lost >= 1
       && fit.original_lost <= 2
       && fabs(level(s, SEC(3), SEC(5), ORIG_HZ) - -30.0) <= 2.0,
       "an empty original frame: lost (%zu), the rest mixed",
       fit.original_lost);

    free(s);
    free(bad.frames.sizes);
    free(dub.s);
    free(bad.frames.data);
    dub_aac_frames_free(&out);
}


static void
test_refused(const stream_t *orig)
{
    int                   rc;
    char                  err[DUB_AUDIO_ERRLEN];
    float                 pcm[2048];
    dub_aac_frames_t      f, out;
    dub_audio_conf_t      conf;
    dub_audio_input_t     in;
    dub_audio_original_t  o;

    memset(pcm, 0, sizeof(pcm));
    memset(&conf, 0, sizeof(dub_audio_conf_t));

    in.format = "pcm_f32le";
    in.sample_rate = RATE;
    in.channels = 1;
    in.data = (uint8_t *) pcm;
    in.len = sizeof(pcm);

    f = orig->frames;
    o.frames = &f;
    o.prev = NULL;
    o.prev_len = 0;

    conf.original_gain = 1.5;
    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL, "gain over 0 dB refused: %s", err);

    conf.original_gain = NAN;
    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL, "gain NaN refused");

    conf.original_gain = 0.5;
    f.len -= 1;
    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL && out.data == NULL,
       "frames overrunning their data refused: %s", err);

    f = orig->frames;
    o.prev_len = 5;
    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL, "a previous frame's length without it");

    o.prev_len = 0;
    f.nframes = 0;
    rc = dub_audio_dub_mix(&orig->fmt, &conf, &o, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL, "no original frames refused");

    rc = dub_audio_dub_mix(&orig->fmt, &conf, NULL, &in, &out, NULL, err,
                           sizeof(err));
    ok(rc == DUB_AUDIO_EINVAL, "no original refused");
}


static void
test_gain_parse(void)
{
    size_t  i;
    double  g;

    static const struct {
        const char  *s;
        double       db;
    } good[] = {
        { "-18dB", -18.0 }, { "-18", -18.0 }, { "0dB", 0.0 },
        { "-6.5db", -6.5 }, { "-60DB", -60.0 }, { "-0.5", -0.5 },
    };

    static const char  *bad[] = {
        "", "dB", "+3dB", "3", "-61dB", "-inf", "nan", "-0x10dB",
        "-18 dB", "-18dBx", "Off", "-1e1dB", "--18dB",
        "-0000000000000000000000000000000018dB",
    };

    ok(dub_audio_gain_parse("off", 3, &g) == 0 && g == 0.0, "off");

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        g = -1.0;
        ok(dub_audio_gain_parse(good[i].s, strlen(good[i].s), &g) == 0
           && fabs(g - amp(good[i].db)) < 1e-9, "\"%s\": %.4f",
           good[i].s, amp(good[i].db));
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(dub_audio_gain_parse(bad[i], strlen(bad[i]), &g) == -1,
           "\"%s\" refused", bad[i]);
    }

    ok(dub_audio_gain_parse("-18dB", 3, &g) == 0 && g == amp(-18.0),
       "length, not the terminating zero");
}


/* what the mix costs a 6 s stereo segment, beside the dub alone */

static void
test_cost(const stream_t *orig)
{
    int               i, k, rc;
    double            ms[3], t;
    signal_t          dub;
    struct timespec   t0, t1;
    dub_aac_frames_t  out;
    dub_audio_fit_t   fit;

    signal_new(&dub, TARGET);
    signal_tone(&dub, DUB_HZ, -12.0, 0, SEC(2));
    signal_tone(&dub, DUB_HZ, -12.0, SEC(4), TARGET);

    rc = DUB_AUDIO_OK;

    /* the least of three: the machine may be busy */
    for (i = 0; i < 3; i++) {
        for (k = 0, ms[i] = 1e9; k < 3; k++) {
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            rc |= mix(orig, &dub, i ? -18.0 : NAN, i == 2, &out, &fit);
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);

            t = (t1.tv_sec - t0.tv_sec) * 1e3
                + (t1.tv_nsec - t0.tv_nsec) / 1e6;
            ms[i] = t < ms[i] ? t : ms[i];

            dub_aac_frames_free(&out);
        }
    }

    ok(rc == DUB_AUDIO_OK, "CPU for a 6 s stereo segment: dub %.0f ms, "
       "mixed %.0f ms, mixed and ducked %.0f ms", ms[0], ms[1], ms[2]);

    free(dub.s);
}


int
main(void)
{
    signal_t  x;
    stream_t  orig;

    dub_audio_init();

    signal_new(&x, TARGET);
    signal_tone(&x, ORIG_HZ, -12.0, 0, TARGET);

    if (encode(&orig, &x, NFRAMES) != 0) {
        ok(0, "original encoded");
        return tap_done();
    }

    free(x.s);

    test_levels(&orig);
    test_peaks();
    test_off(&orig);
    test_duck(&orig);
    test_alignment();
    test_boundary();
    test_splice();
    test_damaged(&orig);
    test_refused(&orig);
    test_gain_parse();
    test_cost(&orig);

    dub_aac_frames_free(&orig.frames);

    return tap_done();
}
