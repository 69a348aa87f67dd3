
/*
 * Copyright (C) nginx-dub developers
 *
 * Dubbed samples fitted to the segment's length: a tempo change without
 * a pitch change within bounds, then silence padding or a trim, with
 * short fades; and the limit before encoding.
 */


#include <math.h>
#include <stdio.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>

#include "dub_audio_int.h"


#define DUB_FIT_FADE_MS         5
#define DUB_FIT_TEMPO_SLACK     0.02
#define DUB_FIT_TEMPO_MAX       2.0         /* atempo goes down to 0.5 */


static double dub_fit_choose(const dub_audio_conf_t *conf, int64_t len,
    int64_t target, unsigned rate);
static int dub_fit_tempo(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm,
    double tempo);
static int dub_fit_graph(dub_audio_ctx_t *ctx, double tempo,
    AVFilterGraph *graph, AVFilterContext **src, AVFilterContext **sink);
static int dub_fit_atempo(AVFilterGraph *graph, double tempo,
    AVFilterContext **flt);
static int dub_fit_graph_error(dub_audio_ctx_t *ctx, int ret, double tempo);
static int dub_fit_feed(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm,
    double tempo, AVFilterContext *src, AVFilterContext *sink,
    dub_audio_pcm_t *out);
static int dub_fit_frame(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm,
    int64_t off, int64_t n, AVFrame *frame);
static int dub_fit_drain(dub_audio_ctx_t *ctx, AVFilterContext *sink,
    AVFrame *frame, dub_audio_pcm_t *out);
static void dub_fit_length(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm,
    int64_t target, dub_audio_fit_t *fit);


int
dub_fit(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    dub_audio_pcm_t *pcm, int64_t target, dub_audio_fit_t *fit)
{
    int     rc;
    double  tempo;

    fit->in_samples = pcm->len;
    fit->out_samples = target;

    tempo = dub_fit_choose(conf, pcm->len, target, ctx->fmt->sample_rate);

    if (tempo != 1.0) {
        rc = dub_fit_tempo(ctx, pcm, tempo);
        if (rc != DUB_AUDIO_OK) {
            return rc;
        }

        if (pcm->len == 0) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EDECODE,
                                   0, "tempo change gave no audio");
        }
    }

    fit->tempo = tempo;

    if (dub_audio_pcm_reserve(pcm, target - pcm->len) != DUB_AUDIO_OK) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory");
    }

    dub_fit_length(ctx, pcm, target, fit);

    return DUB_AUDIO_OK;
}


/* the encoder wants sane samples whatever the decoders gave */

void
dub_fit_limit(dub_audio_pcm_t *pcm)
{
    float     *s;
    int64_t    i;
    unsigned   c;

    for (c = 0; c < pcm->channels; c++) {
        s = pcm->ch[c];

        for (i = 0; i < pcm->len; i++) {
            if (!(s[i] >= -1.0f)) {
                s[i] = (s[i] < 0.0f) ? -1.0f : 0.0f;

            } else if (s[i] > 1.0f) {
                s[i] = 1.0f;
            }
        }
    }
}


/*
 * The tempo that brings "len" samples nearest to "target" within the
 * bounds; a blip of a few ms has nothing to stretch: it is only padded.
 */

static double
dub_fit_choose(const dub_audio_conf_t *conf, int64_t len, int64_t target,
    unsigned rate)
{
    double  r, max;

    r = (double) len / (double) target;

    max = conf->max_tempo;

    if (!(max >= 1.0)) {
        max = 1.0;

    } else if (max > DUB_FIT_TEMPO_MAX) {
        max = DUB_FIT_TEMPO_MAX;
    }

    if (conf->no_stretch || fabs(r - 1.0) <= DUB_FIT_TEMPO_SLACK
        || max <= 1.0 || len < rate / 10)
    {
        return 1.0;
    }

    return r > max ? max : (r < 1.0 / max ? 1.0 / max : r);
}


/* pitch-preserving tempo change by a private atempo filter graph */

static int
dub_fit_tempo(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm, double tempo)
{
    int               rc;
    AVFilterGraph    *graph;
    dub_audio_pcm_t   out;
    AVFilterContext  *src, *sink;

    memset(&out, 0, sizeof(dub_audio_pcm_t));

    out.channels = pcm->channels;
    out.max = (int64_t) ((double) pcm->len / tempo) + 65536;

    graph = avfilter_graph_alloc();
    if (graph == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory changing tempo");
    }

    /* one thread: the caller is already one of nginx's pool threads */
    graph->nb_threads = 1;

    rc = dub_fit_graph(ctx, tempo, graph, &src, &sink);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_fit_feed(ctx, pcm, tempo, src, sink, &out);
    }

    if (rc == DUB_AUDIO_OK) {
        dub_audio_pcm_free(pcm);

        *pcm = out;
        memset(out.ch, 0, sizeof(out.ch));
    }

    avfilter_graph_free(&graph);
    dub_audio_pcm_free(&out);

    return rc;
}


/* abuffer -> atempo -> abuffersink, planar float at the stream's format */

static int
dub_fit_graph(dub_audio_ctx_t *ctx, double tempo, AVFilterGraph *graph,
    AVFilterContext **src, AVFilterContext **sink)
{
    int                   ret;
    char                  args[256], desc[64];
    AVFilterContext      *flt;
    enum AVSampleFormat   fmts[] = { AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_NONE };

    if (av_channel_layout_describe(&ctx->layout, desc, sizeof(desc)) < 0) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory changing tempo");
    }

    snprintf(args, sizeof(args),
             "sample_rate=%u:sample_fmt=fltp:channel_layout=%s:"
             "time_base=1/%u", ctx->fmt->sample_rate, desc,
             ctx->fmt->sample_rate);

    ret = avfilter_graph_create_filter(src, avfilter_get_by_name("abuffer"),
                                       "in", args, NULL, graph);
    if (ret < 0) {
        return dub_fit_graph_error(ctx, ret, tempo);
    }

    ret = dub_fit_atempo(graph, tempo, &flt);

    if (ret >= 0) {
        ret = avfilter_graph_create_filter(sink,
                                           avfilter_get_by_name("abuffersink"),
                                           "out", NULL, NULL, graph);
    }

    if (ret >= 0) {
        ret = av_opt_set_int_list(*sink, "sample_fmts", fmts,
                                  AV_SAMPLE_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    }

    if (ret >= 0) {
        ret = avfilter_link(*src, 0, flt, 0);
    }

    if (ret >= 0) {
        ret = avfilter_link(flt, 0, *sink, 0);
    }

    if (ret >= 0) {
        ret = avfilter_graph_config(graph, NULL);
    }

    if (ret < 0) {
        return dub_fit_graph_error(ctx, ret, tempo);
    }

    return DUB_AUDIO_OK;
}


static int
dub_fit_atempo(AVFilterGraph *graph, double tempo, AVFilterContext **flt)
{
    int  ret;

    *flt = avfilter_graph_alloc_filter(graph, avfilter_get_by_name("atempo"),
                                       "tempo");
    if (*flt == NULL) {
        return AVERROR_FILTER_NOT_FOUND;
    }

    /* set as a double: no locale-dependent number in a string */
    ret = av_opt_set_double(*flt, "tempo", tempo, AV_OPT_SEARCH_CHILDREN);
    if (ret >= 0) {
        ret = avfilter_init_str(*flt, NULL);
    }

    return ret;
}


static int
dub_fit_graph_error(dub_audio_ctx_t *ctx, int ret, double tempo)
{
    return dub_audio_error(ctx->err, ctx->errlen,
                           dub_audio_averror(ret, DUB_AUDIO_EDECODE), ret,
                           "atempo %.3f", tempo);
}


/* all of "pcm" through the graph, in chunks, into "out" */

static int
dub_fit_feed(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm, double tempo,
    AVFilterContext *src, AVFilterContext *sink, dub_audio_pcm_t *out)
{
    int       rc, ret;
    int64_t   off, n;
    AVFrame  *frame;

    frame = av_frame_alloc();
    if (frame == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory changing tempo");
    }

    rc = DUB_AUDIO_OK;

    for (off = 0; off < pcm->len; off += n) {
        n = pcm->len - off;

        if (n > DUB_AUDIO_CHUNK) {
            n = DUB_AUDIO_CHUNK;
        }

        rc = dub_fit_frame(ctx, pcm, off, n, frame);
        if (rc != DUB_AUDIO_OK) {
            goto done;
        }

        /* takes the frame's buffers and leaves it blank */
        ret = av_buffersrc_add_frame_flags(src, frame, 0);
        if (ret < 0) {
            av_frame_unref(frame);
            rc = dub_fit_graph_error(ctx, ret, tempo);
            goto done;
        }

        rc = dub_fit_drain(ctx, sink, frame, out);
        if (rc != DUB_AUDIO_OK) {
            goto done;
        }
    }

    ret = av_buffersrc_add_frame_flags(src, NULL, 0);
    if (ret < 0) {
        rc = dub_fit_graph_error(ctx, ret, tempo);
        goto done;
    }

    rc = dub_fit_drain(ctx, sink, frame, out);

done:

    av_frame_free(&frame);

    return rc;
}


/* samples [off, off + n) of "pcm" in a new frame */

static int
dub_fit_frame(dub_audio_ctx_t *ctx, const dub_audio_pcm_t *pcm, int64_t off,
    int64_t n, AVFrame *frame)
{
    int       ret;
    unsigned  c;

    frame->nb_samples = (int) n;
    frame->format = AV_SAMPLE_FMT_FLTP;
    frame->sample_rate = (int) ctx->fmt->sample_rate;
    frame->pts = off;

    ret = av_channel_layout_copy(&frame->ch_layout, &ctx->layout);
    if (ret >= 0) {
        ret = av_frame_get_buffer(frame, 0);
    }

    if (ret < 0) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM, 0,
                               "out of memory changing tempo");
    }

    for (c = 0; c < pcm->channels; c++) {
        memcpy(frame->extended_data[c], pcm->ch[c] + off, n * sizeof(float));
    }

    return DUB_AUDIO_OK;
}


static int
dub_fit_drain(dub_audio_ctx_t *ctx, AVFilterContext *sink, AVFrame *frame,
    dub_audio_pcm_t *out)
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
            || dub_audio_pcm_reserve(out, frame->nb_samples) != DUB_AUDIO_OK)
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
dub_fit_length(dub_audio_ctx_t *ctx, dub_audio_pcm_t *pcm, int64_t target,
    dub_audio_fit_t *fit)
{
    float     g, *s;
    int64_t   keep, fade, i;
    unsigned  c;

    keep = pcm->len;

    if (keep < target) {
        fit->padded = target - keep;

        for (c = 0; c < pcm->channels; c++) {
            memset(pcm->ch[c] + keep, 0,
                   (size_t) (target - keep) * sizeof(float));
        }

    } else {
        fit->trimmed = keep - target;
        keep = target;
    }

    fade = (int64_t) ctx->fmt->sample_rate * DUB_FIT_FADE_MS / 1000;

    if (fade > keep / 2) {
        fade = keep / 2;
    }

    for (c = 0; c < pcm->channels; c++) {
        s = pcm->ch[c];

        for (i = 0; i < fade; i++) {
            g = (float) (0.5 - 0.5 * cos(M_PI * (i + 0.5) / fade));
            s[i] *= g;
            s[keep - 1 - i] *= g;
        }
    }

    pcm->len = target;
}
