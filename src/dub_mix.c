
/*
 * Copyright (C) nginx-dub developers
 *
 * The segment's original audio under the dub: its AAC frames decoded
 * (same rate and layout as the stream: nothing is resampled), ducked
 * where the dub sounds if asked, added at its gain, and the sum kept
 * below the ceiling by a look-ahead peak limiter.
 *
 * The whole segment is in memory, so the gain curves of the ducking and
 * of the limiter are made in two passes over it: forward, a gain rises
 * no faster than its release; backward, it falls no faster than its
 * attack, ahead of what it answers.  Both passes only lower a gain, so
 * the limiter's never lets a peak over the ceiling.
 */


#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "dub_audio_int.h"


#define DUB_MIX_LIMIT_ATTACK_MS     2.0
#define DUB_MIX_LIMIT_RELEASE_MS    80.0
#define DUB_MIX_DUCK_ATTACK_MS      20.0
#define DUB_MIX_DUCK_RELEASE_MS     300.0
#define DUB_MIX_VOICE_DB            -40.0   /* the dub sounds above this */
#define DUB_MIX_VOICE_HOLD_MS       100.0   /* its follower's release */


/* the original's decoding: frame i of the segment lands at i * 1024 */

typedef struct {
    dub_audio_ctx_t           *ctx;
    dub_audio_pcm_t           *pcm;
    AVCodecContext            *dec;
    AVPacket                  *pkt;
    AVFrame                   *frame;
    int64_t                    end;         /* the current frame's end */
} dub_mix_decoder_t;


static int dub_mix_open(dub_mix_decoder_t *d);
static int dub_mix_frames(dub_mix_decoder_t *d,
    const dub_audio_original_t *orig, size_t *lost);
static int dub_mix_packet(dub_mix_decoder_t *d, const uint8_t *data,
    size_t len, int keep);
static void dub_mix_append(dub_mix_decoder_t *d, const AVFrame *frame);
static void dub_mix_silence(dub_audio_pcm_t *pcm, int64_t end);
static void dub_mix_duck(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    const dub_audio_pcm_t *pcm, float *gain, dub_audio_fit_t *fit);
static void dub_mix_voice(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm,
    float *gain, dub_audio_fit_t *fit);
static void dub_mix_add(dub_audio_pcm_t *pcm, const dub_audio_pcm_t *orig,
    const float *gain);
static void dub_mix_limit(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm,
    float *gain, dub_audio_fit_t *fit);
static float dub_mix_peak(const dub_audio_pcm_t *pcm, int64_t i);
static void dub_mix_smooth(float *g, int64_t n, double attack_ms,
    double release_ms, unsigned rate);
static double dub_mix_coef(double ms, unsigned rate);


int
dub_mix_check(dub_audio_ctx_t *ctx, const dub_audio_original_t *orig)
{
    size_t                   i, off;
    const dub_aac_frames_t  *f;

    f = orig ? orig->frames : NULL;

    if (f == NULL || f->nframes == 0 || f->sizes == NULL || f->data == NULL
        || (orig->prev == NULL) != (orig->prev_len == 0))
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "no original frames to mix");
    }

    for (i = 0, off = 0; i < f->nframes; i++) {
        if (f->sizes[i] > f->len - off) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL,
                                   0, "original frame %zu overruns the data",
                                   i);
        }

        off += f->sizes[i];
    }

    return DUB_AUDIO_OK;
}


int
dub_mix(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    const dub_audio_original_t *orig, dub_audio_pcm_t *pcm,
    dub_audio_fit_t *fit)
{
    int               rc;
    float            *gain;
    dub_audio_pcm_t   o;

    memset(&o, 0, sizeof(dub_audio_pcm_t));

    o.channels = pcm->channels;
    o.max = pcm->len;

    gain = malloc((size_t) pcm->len * sizeof(float));

    if (gain == NULL) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                             "out of memory mixing");
        goto done;
    }

    rc = dub_mix_decode(ctx, orig, &o, &fit->original_lost);
    if (rc != DUB_AUDIO_OK) {
        goto done;
    }

    dub_mix_duck(ctx, conf, pcm, gain, fit);
    dub_mix_add(pcm, &o, gain);
    dub_mix_limit(ctx, pcm, gain, fit);

done:

    free(gain);
    dub_audio_pcm_free(&o);

    return rc;
}


/* "pcm" gets the frames' samples, o->max of them: set channels and max */

int
dub_mix_decode(dub_audio_ctx_t *ctx, const dub_audio_original_t *orig,
    dub_audio_pcm_t *pcm, size_t *lost)
{
    int                rc;
    dub_mix_decoder_t  d;

    memset(&d, 0, sizeof(dub_mix_decoder_t));

    d.ctx = ctx;
    d.pcm = pcm;

    *lost = 0;

    rc = dub_audio_pcm_reserve(pcm, pcm->max);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_mix_open(&d);
    }

    if (rc == DUB_AUDIO_OK) {
        rc = dub_mix_frames(&d, orig, lost);
    }

    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(ctx->err, ctx->errlen, rc, 0,
                        "out of memory decoding the original");
    }

    av_frame_free(&d.frame);
    av_packet_free(&d.pkt);
    avcodec_free_context(&d.dec);

    return rc;
}


/* an AAC decoder for the stream's AudioSpecificConfig */

static int
dub_mix_open(dub_mix_decoder_t *d)
{
    int                        ret;
    const AVCodec             *codec;
    const dub_audio_format_t  *fmt;

    fmt = d->ctx->fmt;

    codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    if (codec == NULL) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               DUB_AUDIO_EDECODE, 0, "no aac decoder");
    }

    d->dec = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();

    if (d->dec == NULL || d->pkt == NULL || d->frame == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    d->dec->extradata = av_mallocz(fmt->asc_len
                                   + AV_INPUT_BUFFER_PADDING_SIZE);
    if (d->dec->extradata == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    memcpy(d->dec->extradata, fmt->asc, fmt->asc_len);
    d->dec->extradata_size = (int) fmt->asc_len;
    d->dec->thread_count = 1;

    ret = avcodec_open2(d->dec, codec, NULL);
    if (ret < 0) {
        return dub_audio_error(d->ctx->err, d->ctx->errlen,
                               dub_audio_averror(ret, DUB_AUDIO_EDECODE),
                               ret, "aac decoder for the original");
    }

    return DUB_AUDIO_OK;
}


/*
 * The frame before the segment (its output thrown away: it only gives
 * the decoder the overlap of the segment's first frame), then each of
 * the segment's in its place; a damaged frame is silence there.
 */

static int
dub_mix_frames(dub_mix_decoder_t *d, const dub_audio_original_t *orig,
    size_t *lost)
{
    int                      rc;
    size_t                   i, off;
    int64_t                  len;
    dub_audio_pcm_t         *pcm;
    const dub_aac_frames_t  *f;

    pcm = d->pcm;
    f = orig->frames;

    if (orig->prev) {
        rc = dub_mix_packet(d, orig->prev, orig->prev_len, 0);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }
    }

    for (i = 0, off = 0; i < f->nframes && pcm->len < pcm->max; i++) {
        d->end = (int64_t) (i + 1) * DUB_AUDIO_FRAME;

        if (d->end > pcm->max) {
            d->end = pcm->max;
        }

        len = pcm->len;

        rc = dub_mix_packet(d, f->data + off, f->sizes[i], 1);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }

        off += f->sizes[i];

        if (pcm->len < d->end) {
            *lost += (pcm->len == len);
            dub_mix_silence(pcm, d->end);
        }
    }

    dub_mix_silence(pcm, pcm->max);

    return DUB_AUDIO_OK;
}


/*
 * One frame to the decoder; what it gives is appended if "keep".  An
 * empty one is not sent (an empty packet would end the stream): it is
 * lost.
 */

static int
dub_mix_packet(dub_mix_decoder_t *d, const uint8_t *data, size_t len,
    int keep)
{
    int  ret;

    if (len == 0) {
        return DUB_AUDIO_OK;
    }

    if (av_new_packet(d->pkt, (int) len) < 0) {
        return DUB_AUDIO_ENOMEM;
    }

    memcpy(d->pkt->data, data, len);

    ret = avcodec_send_packet(d->dec, d->pkt);

    av_packet_unref(d->pkt);

    /* a damaged frame: the decoder has nothing for it */
    if (ret < 0) {
        return ret == AVERROR(ENOMEM) ? DUB_AUDIO_ENOMEM : DUB_AUDIO_OK;
    }

    for ( ;; ) {
        ret = avcodec_receive_frame(d->dec, d->frame);

        if (ret == AVERROR(ENOMEM)) {
            return DUB_AUDIO_ENOMEM;
        }

        if (ret < 0) {
            return DUB_AUDIO_OK;
        }

        if (keep) {
            dub_mix_append(d, d->frame);
        }

        av_frame_unref(d->frame);
    }
}


/*
 * A decoded frame's samples, up to the end of the segment's frame they
 * decode, each channel where the encoder's layout has it.  One that is
 * not the stream's format is lost.
 */

static void
dub_mix_append(dub_mix_decoder_t *d, const AVFrame *frame)
{
    int               k;
    int64_t           n;
    unsigned          c;
    enum AVChannel    ch;
    dub_audio_pcm_t  *pcm;

    pcm = d->pcm;
    n = d->end - pcm->len;

    if (frame->format != AV_SAMPLE_FMT_FLTP
        || frame->sample_rate != (int) d->ctx->fmt->sample_rate
        || frame->ch_layout.nb_channels != (int) pcm->channels
        || frame->nb_samples <= 0 || n <= 0)
    {
        return;
    }

    if (n > frame->nb_samples) {
        n = frame->nb_samples;
    }

    for (c = 0; c < pcm->channels; c++) {
        ch = av_channel_layout_channel_from_index(&d->ctx->layout, c);
        k = av_channel_layout_index_from_channel(&frame->ch_layout, ch);

        if (k < 0) {
            k = (int) c;
        }

        memcpy(pcm->ch[c] + pcm->len, frame->extended_data[k],
               (size_t) n * sizeof(float));
    }

    pcm->len += n;
}


/* silence up to "end" (room is reserved) */

static void
dub_mix_silence(dub_audio_pcm_t *pcm, int64_t end)
{
    unsigned  c;

    if (pcm->len >= end) {
        return;
    }

    for (c = 0; c < pcm->channels; c++) {
        memset(pcm->ch[c] + pcm->len, 0,
               (size_t) (end - pcm->len) * sizeof(float));
    }

    pcm->len = end;
}


/*
 * The original's gain at each sample: conf's, and with ducking
 * DUB_AUDIO_DUCK_DB lower where the dub sounds, going down ahead of the
 * voice and back up in its pauses.
 */

static void
dub_mix_duck(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    const dub_audio_pcm_t *pcm, float *gain, dub_audio_fit_t *fit)
{
    int64_t  i;

    for (i = 0; i < pcm->len; i++) {
        gain[i] = 1.0f;
    }

    if (conf->duck) {
        dub_mix_voice(ctx, pcm, gain, fit);
        dub_mix_smooth(gain, pcm->len, DUB_MIX_DUCK_ATTACK_MS,
                       DUB_MIX_DUCK_RELEASE_MS, ctx->fmt->sample_rate);
    }

    for (i = 0; i < pcm->len; i++) {
        gain[i] *= (float) conf->original_gain;
    }
}


/* the ducked gain where the dub's peak follower is above DUB_MIX_VOICE_DB */

static void
dub_mix_voice(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm, float *gain,
    dub_audio_fit_t *fit)
{
    float    x, env, low, voice, hold;
    int64_t  i;

    low = (float) pow(10.0, DUB_AUDIO_DUCK_DB / 20.0);
    voice = (float) pow(10.0, DUB_MIX_VOICE_DB / 20.0);
    hold = (float) dub_mix_coef(DUB_MIX_VOICE_HOLD_MS, ctx->fmt->sample_rate);
    env = 0.0f;

    for (i = 0; i < pcm->len; i++) {
        x = dub_mix_peak(pcm, i);
        env = (x > env) ? x : env * hold;

        if (env > voice) {
            gain[i] = low;
            fit->ducked++;
        }
    }
}


static void
dub_mix_add(dub_audio_pcm_t *pcm, const dub_audio_pcm_t *orig,
    const float *gain)
{
    float     *s;
    int64_t    i;
    unsigned   c;

    for (c = 0; c < pcm->channels; c++) {
        s = pcm->ch[c];

        for (i = 0; i < pcm->len; i++) {
            s[i] += gain[i] * orig->ch[c][i];
        }
    }
}


/* the largest gain at each sample that keeps its peak at the ceiling */

static void
dub_mix_limit(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm, float *gain,
    dub_audio_fit_t *fit)
{
    float      x, ceiling, least;
    int64_t    i;
    unsigned   c;

    ceiling = (float) pow(10.0, DUB_AUDIO_CEILING_DB / 20.0);

    for (i = 0; i < pcm->len; i++) {
        x = dub_mix_peak(pcm, i);
        gain[i] = (x > ceiling) ? ceiling / x : 1.0f;
    }

    dub_mix_smooth(gain, pcm->len, DUB_MIX_LIMIT_ATTACK_MS,
                   DUB_MIX_LIMIT_RELEASE_MS, ctx->fmt->sample_rate);

    least = 1.0f;

    for (c = 0; c < pcm->channels; c++) {
        for (i = 0; i < pcm->len; i++) {
            pcm->ch[c][i] *= gain[i];
            least = (gain[i] < least) ? gain[i] : least;
        }
    }

    fit->limited_db = (least < 1.0f) ? 20.0 * log10(least) : 0.0;
}


static float
dub_mix_peak(const dub_audio_pcm_t *pcm, int64_t i)
{
    float     x, peak;
    unsigned  c;

    peak = 0.0f;

    for (c = 0; c < pcm->channels; c++) {
        x = fabsf(pcm->ch[c][i]);
        peak = (x > peak) ? x : peak;
    }

    return peak;
}


/*
 * Gains in [0, 1] made smooth without ever raising one: each comes back
 * up towards 1 no faster than "release" after it, and goes down to it no
 * faster than "attack" before it (exponential, time constants in ms).
 */

static void
dub_mix_smooth(float *g, int64_t n, double attack_ms, double release_ms,
    unsigned rate)
{
    float    up, down, v;
    int64_t  i;

    up = (float) dub_mix_coef(release_ms, rate);
    down = (float) dub_mix_coef(attack_ms, rate);

    for (i = 1; i < n; i++) {
        v = 1.0f - (1.0f - g[i - 1]) * up;
        g[i] = (v < g[i]) ? v : g[i];
    }

    for (i = n - 2; i >= 0; i--) {
        v = 1.0f - (1.0f - g[i + 1]) * down;
        g[i] = (v < g[i]) ? v : g[i];
    }
}


/* a one-pole filter's coefficient for a time constant */

static double
dub_mix_coef(double ms, unsigned rate)
{
    return exp(-1000.0 / (ms * rate));
}


int
dub_audio_gain_parse(const char *s, size_t len, double *gain)
{
    char    buf[32], *end;
    double  db;
    size_t  i;

    if (len == 3 && memcmp(s, "off", 3) == 0) {
        *gain = 0.0;
        return 0;
    }

    if (len > 2 && tolower((unsigned char) s[len - 2]) == 'd'
        && tolower((unsigned char) s[len - 1]) == 'b')
    {
        len -= 2;
    }

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    /* a plain decimal number: no "inf", "nan" or hexadecimal */
    for (i = 0; i < len; i++) {
        if (!isdigit((unsigned char) s[i]) && s[i] != '.' && s[i] != '-'
            && s[i] != '+')
        {
            return -1;
        }

        buf[i] = s[i];
    }

    buf[len] = '\0';

    db = strtod(buf, &end);

    if (end != buf + len || !(db >= DUB_AUDIO_GAIN_MIN_DB && db <= 0.0)) {
        return -1;
    }

    *gain = pow(10.0, db / 20.0);

    return 0;
}
