
/*
 * Copyright (C) nginx-dub developers
 *
 * The dubbing pipeline (decode, fit, encode: dub_audio_int.h), the
 * checks of what the caller gives it, the errors and the sample buffer
 * its stages share.
 */


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>

#include "dub_audio_int.h"
#include "dub_flv.h"


#define DUB_AUDIO_MAX_FRAMES    65536       /* about 12 min at 96 kHz */


static void dub_audio_log(void *avcl, int level, const char *fmt,
    va_list vl);
static int dub_audio_start(const dub_audio_format_t *fmt,
    const dub_audio_conf_t *conf, size_t nframes,
    const dub_audio_original_t *orig, const dub_audio_input_t *in,
    dub_aac_frames_t *out, dub_audio_fit_t *fit, char *err, size_t errlen);
static int dub_audio_check(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_original_t *orig,
    const dub_audio_input_t *in);
static int dub_audio_check_format(dub_audio_ctx_t *ctx);
static int dub_audio_check_mix(dub_audio_ctx_t *ctx,
    const dub_audio_conf_t *conf, const dub_audio_original_t *orig);
static int dub_audio_run(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_original_t *orig,
    const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit);
static int dub_audio_layout(dub_audio_ctx_t *ctx);


/* FFmpeg's last complaint in this thread, for the "err" outputs */
static __thread char  dub_audio_last[DUB_AUDIO_ERRLEN];


void
dub_audio_init(void)
{
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(dub_audio_log);
}


int
dub_audio_dub(const dub_audio_format_t *fmt, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit, char *err, size_t errlen)
{
    return dub_audio_start(fmt, conf, nframes, NULL, in, out, fit, err,
                           errlen);
}


int
dub_audio_dub_mix(const dub_audio_format_t *fmt,
    const dub_audio_conf_t *conf, const dub_audio_original_t *orig,
    const dub_audio_input_t *in, dub_aac_frames_t *out, dub_audio_fit_t *fit,
    char *err, size_t errlen)
{
    size_t  nframes;

    nframes = (orig && orig->frames) ? orig->frames->nframes : 0;

    return dub_audio_start(fmt, conf, nframes, orig, in, out, fit, err,
                           errlen);
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


void
dub_audio_begin(char *err, size_t errlen)
{
    dub_audio_last[0] = '\0';

    if (err && errlen) {
        err[0] = '\0';
    }
}


int
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


int
dub_audio_averror(int averr, int rc)
{
    return averr == AVERROR(ENOMEM) ? DUB_AUDIO_ENOMEM : rc;
}


int
dub_audio_pcm_reserve(dub_audio_pcm_t *pcm, int64_t n)
{
    float     *p;
    int64_t    cap;
    unsigned   c;

    if (n <= 0 || pcm->len + n <= pcm->cap) {
        return DUB_AUDIO_OK;
    }

    cap = pcm->cap ? pcm->cap : 65536;

    while (cap < pcm->len + n) {
        cap *= 2;
    }

    for (c = 0; c < pcm->channels; c++) {
        p = realloc(pcm->ch[c], (size_t) cap * sizeof(float));
        if (p == NULL) {
            return DUB_AUDIO_ENOMEM;
        }

        pcm->ch[c] = p;
    }

    pcm->cap = cap;

    return DUB_AUDIO_OK;
}


void
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
dub_audio_start(const dub_audio_format_t *fmt, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_original_t *orig,
    const dub_audio_input_t *in, dub_aac_frames_t *out, dub_audio_fit_t *fit,
    char *err, size_t errlen)
{
    int              rc;
    dub_audio_fit_t  dummy;
    dub_audio_ctx_t  ctx;

    dub_audio_begin(err, errlen);

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

    memset(&ctx, 0, sizeof(dub_audio_ctx_t));

    ctx.fmt = fmt;
    ctx.err = err;
    ctx.errlen = errlen;

    rc = dub_audio_check(&ctx, conf, nframes, orig, in);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_audio_run(&ctx, conf, nframes, orig, in, out, fit);
    }

    if (rc != DUB_AUDIO_OK) {
        dub_aac_frames_free(out);
    }

    av_channel_layout_uninit(&ctx.layout);

    return rc;
}


/* what the caller gives, before any work */

static int
dub_audio_check(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_original_t *orig,
    const dub_audio_input_t *in)
{
    int  rc;

    if (ctx->fmt == NULL || conf == NULL || in == NULL || in->format == NULL)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "missing argument");
    }

    if (nframes == 0 || nframes > DUB_AUDIO_MAX_FRAMES) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "bad frame count %zu", nframes);
    }

    rc = dub_audio_check_format(ctx);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_audio_check_mix(ctx, conf, orig);
    }

    if (rc == DUB_AUDIO_OK) {
        rc = dub_decode_check(ctx, in);
    }

    return rc;
}


/* only AAC-LC with 1024-sample frames is encoded, as the stream has */

static int
dub_audio_check_format(dub_audio_ctx_t *ctx)
{
    dub_aac_config_t           cfg;
    const dub_audio_format_t  *fmt;

    fmt = ctx->fmt;

    if (fmt->sample_rate < DUB_AUDIO_MIN_RATE
        || fmt->sample_rate > DUB_AUDIO_MAX_RATE
        || fmt->channels < 1 || fmt->channels > DUB_AUDIO_MAX_CHANNELS)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "bad stream format: %u Hz, %u channels",
                               fmt->sample_rate, fmt->channels);
    }

    if (fmt->asc == NULL
        || dub_aac_config_parse(fmt->asc, fmt->asc_len, &cfg) != 0)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "bad AudioSpecificConfig");
    }

    if (cfg.object_type != 2) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "AAC object type %u is not LC",
                               cfg.object_type);
    }

    if (cfg.frame_length != DUB_AUDIO_FRAME
        || fmt->frame_length != DUB_AUDIO_FRAME)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "AAC frames of %u samples, not 1024",
                               fmt->frame_length);
    }

    if (cfg.sample_rate != fmt->sample_rate
        || cfg.channels != fmt->channels)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "AudioSpecificConfig says %u Hz, %u "
                               "channels, format %u Hz, %u channels",
                               cfg.sample_rate, cfg.channels,
                               fmt->sample_rate, fmt->channels);
    }

    return DUB_AUDIO_OK;
}


/* a gain of the original within [0, 1], and its frames if it is mixed */

static int
dub_audio_check_mix(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    const dub_audio_original_t *orig)
{
    if (!(conf->original_gain >= 0.0 && conf->original_gain <= 1.0)) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EINVAL, 0,
                               "bad gain of the original: %g",
                               conf->original_gain);
    }

    if (conf->original_gain == 0.0) {
        return DUB_AUDIO_OK;
    }

    return dub_mix_check(ctx, orig);
}


/*
 * The pipeline.  The original audio, when it is to be mixed under the
 * speech, comes in after the fit, before the limit.
 */

static int
dub_audio_run(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_original_t *orig,
    const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit)
{
    int                rc;
    int64_t            target;
    dub_audio_pcm_t    pcm;
    dub_aac_encoder_t  enc;

    rc = dub_audio_layout(ctx);
    if (rc != DUB_AUDIO_OK) {
        return rc;
    }

    memset(&pcm, 0, sizeof(dub_audio_pcm_t));
    memset(&enc, 0, sizeof(dub_aac_encoder_t));

    target = (int64_t) nframes * DUB_AUDIO_FRAME;

    pcm.channels = ctx->fmt->channels;

    /* what is far longer than the segment cannot be fitted: don't try */
    pcm.max = 4 * target + 10 * (int64_t) ctx->fmt->sample_rate;

    rc = dub_decode(ctx, in, &pcm);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_fit(ctx, conf, &pcm, target, fit);
    }

    if (rc == DUB_AUDIO_OK && conf->original_gain > 0.0) {
        rc = dub_mix(ctx, conf, orig, &pcm, fit);
    }

    if (rc == DUB_AUDIO_OK) {
        dub_fit_limit(&pcm);
        rc = dub_encode_open(ctx, conf, &enc);
    }

    if (rc == DUB_AUDIO_OK) {
        rc = dub_encode(ctx, &enc, &pcm, nframes, out);
    }

    dub_encode_close(&enc);
    dub_audio_pcm_free(&pcm);

    return rc;
}


/* the encoder's own layout for that many channels, or the default one */

static int
dub_audio_layout(dub_audio_ctx_t *ctx)
{
    int                     ret;
    const AVCodec          *codec;
    const AVChannelLayout  *l;

    codec = avcodec_find_encoder_by_name("aac");

    for (l = codec ? codec->ch_layouts : NULL; l && l->nb_channels; l++) {
        if (l->nb_channels == (int) ctx->fmt->channels) {
            ret = av_channel_layout_copy(&ctx->layout, l);
            if (ret < 0) {
                return dub_audio_error(ctx->err, ctx->errlen,
                                       DUB_AUDIO_ENOMEM, ret,
                                       "channel layout");
            }

            return DUB_AUDIO_OK;
        }
    }

    av_channel_layout_default(&ctx->layout, (int) ctx->fmt->channels);

    return DUB_AUDIO_OK;
}
