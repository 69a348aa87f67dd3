
/*
 * Copyright (C) nginx-dub developers
 *
 * Samples at the stream's format encoded to AAC-LC frames that match
 * the stream's sequence header, frame for frame with the segment's.
 */


#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "dub_audio_int.h"
#include "dub_flv.h"


static int dub_encode_nomem(dub_audio_ctx_t *ctx, int rc);
static int dub_encode_check(dub_audio_ctx_t *ctx, AVCodecContext *enc);
static int dub_encode_buffers(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e);
static int dub_encode_frame(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e,
    const dub_audio_pcm_t *pcm, size_t i);
static int dub_encode_drain(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e,
    size_t nframes, dub_aac_frames_t *out, size_t *cap);
static int dub_encode_append(dub_audio_ctx_t *ctx, const AVPacket *pkt,
    size_t nframes, dub_aac_frames_t *out, size_t *cap);


static const char  *dub_encode_coders[] = { "fast", "twoloop" };
static const char  *dub_encode_tools_off[] = { "aac_pns", "aac_tns", "aac_is" };


int
dub_audio_coder_parse(const char *s, size_t len, unsigned *coder)
{
    unsigned  i;

    for (i = 0; i < sizeof(dub_encode_coders) / sizeof(char *); i++) {
        if (len == strlen(dub_encode_coders[i])
            && memcmp(s, dub_encode_coders[i], len) == 0)
        {
            *coder = i;
            return 0;
        }
    }

    return -1;
}


int
dub_encode_open(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    dub_aac_encoder_t *e)
{
    int              rc, ret;
    size_t           i;
    const char      *coder;
    const AVCodec   *codec;
    AVCodecContext  *enc;

    codec = avcodec_find_encoder_by_name("aac");
    if (codec == NULL) {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, 0,
                               "no aac encoder");
    }

    rc = DUB_AUDIO_ENOMEM;

    enc = avcodec_alloc_context3(codec);
    if (enc == NULL) {
        goto failed;
    }

    e->enc = enc;

    /*
     * 48 kbit/s a channel unless configured, 96 kbit/s for stereo: with
     * the fast coder, speech decodes closer to the dub than with FFmpeg's
     * default coder at 128k, for 20 % less CPU than at 128k
     * (docs/benchmarks.md)
     */
    enc->bit_rate = conf->bitrate ? conf->bitrate
                                  : DUB_AUDIO_BITRATE_CHANNEL
                                    * ctx->fmt->channels;

    enc->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc->sample_rate = (int) ctx->fmt->sample_rate;
    enc->profile = FF_PROFILE_AAC_LOW;
    enc->time_base = (AVRational) { 1, (int) ctx->fmt->sample_rate };
    enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    enc->thread_count = 1;

    ret = av_channel_layout_copy(&enc->ch_layout, &ctx->layout);
    if (ret < 0) {
        goto failed;
    }

    coder = conf->coder < sizeof(dub_encode_coders) / sizeof(char *)
            ? dub_encode_coders[conf->coder] : dub_encode_coders[0];

    ret = av_opt_set(enc->priv_data, "aac_coder", coder, 0);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, ret,
                             "aac encoder has no coder \"%s\"", coder);
        goto failed;
    }

    /*
     * the fast coder without perceptual noise substitution, temporal
     * noise shaping and intensity stereo: on speech at 96 kbit/s, a
     * fifth less CPU and closer to the dub (SNR 36.4 dB against 32.0,
     * log-spectral distance 3.02 dB against 3.14; docs/benchmarks.md);
     * the twoloop coder gains nothing from it
     */

    for (i = 0; conf->coder == DUB_AUDIO_CODER_FAST
                && i < sizeof(dub_encode_tools_off) / sizeof(char *); i++)
    {
        ret = av_opt_set_int(enc->priv_data, dub_encode_tools_off[i], 0, 0);
        if (ret < 0) {
            rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE,
                                 ret, "aac encoder has no option \"%s\"",
                                 dub_encode_tools_off[i]);
            goto failed;
        }
    }

    ret = avcodec_open2(enc, codec, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen,
                             dub_audio_averror(ret, DUB_AUDIO_EFORMAT), ret,
                             "aac encoder for %u Hz, %u channels",
                             ctx->fmt->sample_rate, ctx->fmt->channels);
        goto failed;
    }

    rc = dub_encode_check(ctx, enc);

    if (rc == DUB_AUDIO_OK) {
        rc = dub_encode_buffers(ctx, e);
    }

failed:

    return dub_encode_nomem(ctx, rc);
}


/* "nframes" packets, frame i of them in the place of the segment's frame i */

int
dub_encode(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e,
    const dub_audio_pcm_t *pcm, size_t nframes, dub_aac_frames_t *out)
{
    int     rc, ret;
    size_t  i, cap;

    cap = 0;

    out->sizes = malloc(nframes * sizeof(uint32_t));
    if (out->sizes == NULL) {
        rc = DUB_AUDIO_ENOMEM;
        goto failed;
    }

    for (i = 0; i < nframes; i++) {
        rc = dub_encode_frame(ctx, e, pcm, i);
        if (rc != DUB_AUDIO_OK) {
            goto failed;
        }

        rc = dub_encode_drain(ctx, e, nframes, out, &cap);
        if (rc != DUB_AUDIO_OK) {
            goto failed;
        }
    }

    ret = avcodec_send_frame(e->enc, NULL);
    if (ret < 0) {
        rc = dub_audio_error(ctx->err, ctx->errlen,
                             dub_audio_averror(ret, DUB_AUDIO_EENCODE), ret,
                             "aac encoder flush");
        goto failed;
    }

    rc = dub_encode_drain(ctx, e, nframes, out, &cap);

    if (rc == DUB_AUDIO_OK && out->nframes != nframes) {
        rc = dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, 0,
                             "aac encoder gave %zu frames of %zu",
                             out->nframes, nframes);
    }

failed:

    return dub_encode_nomem(ctx, rc);
}


void
dub_encode_close(dub_aac_encoder_t *e)
{
    av_frame_free(&e->frame);
    av_packet_free(&e->pkt);
    avcodec_free_context(&e->enc);
}


/* whatever ran short of memory, the message says where */

static int
dub_encode_nomem(dub_audio_ctx_t *ctx, int rc)
{
    if (rc == DUB_AUDIO_ENOMEM) {
        dub_audio_error(ctx->err, ctx->errlen, rc, 0,
                        "out of memory encoding");
    }

    return rc;
}


/* what the encoder makes must be what the stream's header says */

static int
dub_encode_check(dub_audio_ctx_t *ctx, AVCodecContext *enc)
{
    dub_aac_config_t  cfg;

    if (enc->frame_size != DUB_AUDIO_FRAME
        || dub_aac_config_parse(enc->extradata, enc->extradata_size, &cfg)
           != 0
        || cfg.object_type != 2 || cfg.sample_rate != ctx->fmt->sample_rate
        || cfg.channels != ctx->fmt->channels
        || cfg.frame_length != DUB_AUDIO_FRAME)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EFORMAT, 0,
                               "aac encoder config does not match the "
                               "stream");
    }

    return DUB_AUDIO_OK;
}


/* a packet, and a frame of 1024 samples the encoder takes */

static int
dub_encode_buffers(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e)
{
    e->pkt = av_packet_alloc();
    e->frame = av_frame_alloc();

    if (e->pkt == NULL || e->frame == NULL) {
        return DUB_AUDIO_ENOMEM;
    }

    e->frame->nb_samples = DUB_AUDIO_FRAME;
    e->frame->format = AV_SAMPLE_FMT_FLTP;
    e->frame->sample_rate = e->enc->sample_rate;

    if (av_channel_layout_copy(&e->frame->ch_layout, &ctx->layout) < 0
        || av_frame_get_buffer(e->frame, 0) < 0)
    {
        return DUB_AUDIO_ENOMEM;
    }

    return DUB_AUDIO_OK;
}


/* frame i of "pcm" to the encoder, at the time of the segment's frame i */

static int
dub_encode_frame(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e,
    const dub_audio_pcm_t *pcm, size_t i)
{
    int       ret;
    unsigned  c;

    if (av_frame_make_writable(e->frame) < 0) {
        return DUB_AUDIO_ENOMEM;
    }

    for (c = 0; c < pcm->channels; c++) {
        memcpy(e->frame->extended_data[c], pcm->ch[c] + i * DUB_AUDIO_FRAME,
               DUB_AUDIO_FRAME * sizeof(float));
    }

    e->frame->pts = (int64_t) i * DUB_AUDIO_FRAME;

    ret = avcodec_send_frame(e->enc, e->frame);
    if (ret < 0) {
        return dub_audio_error(ctx->err, ctx->errlen,
                               dub_audio_averror(ret, DUB_AUDIO_EENCODE), ret,
                               "aac encoder");
    }

    return DUB_AUDIO_OK;
}


/*
 * The encoder stamps each packet with the time of the first input sample
 * it reproduces, its priming (initial_padding) before 0: packets before 0
 * are the priming, those from nframes on the flushed tail.
 */

static int
dub_encode_drain(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e, size_t nframes,
    dub_aac_frames_t *out, size_t *cap)
{
    int        rc, ret;
    AVPacket  *pkt;

    pkt = e->pkt;

    for ( ;; ) {
        ret = avcodec_receive_packet(e->enc, pkt);

        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
            return DUB_AUDIO_OK;
        }

        if (ret < 0) {
            return dub_audio_error(ctx->err, ctx->errlen,
                                   dub_audio_averror(ret, DUB_AUDIO_EENCODE),
                                   ret, "aac encoder");
        }

        rc = DUB_AUDIO_OK;

        if (pkt->pts >= 0 && out->nframes < nframes) {
            rc = dub_encode_append(ctx, pkt, nframes, out, cap);
        }

        av_packet_unref(pkt);

        if (rc != DUB_AUDIO_OK) {
            return rc;
        }
    }
}


/* the next frame of the segment, in its place */

static int
dub_encode_append(dub_audio_ctx_t *ctx, const AVPacket *pkt, size_t nframes,
    dub_aac_frames_t *out, size_t *cap)
{
    size_t    n;
    uint8_t  *p;

    if (pkt->pts != (int64_t) out->nframes * DUB_AUDIO_FRAME
        || pkt->size <= 0)
    {
        return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_EENCODE, 0,
                               "aac packet %zu out of step", out->nframes);
    }

    if (out->len + pkt->size > *cap) {
        n = *cap ? *cap * 2 : (size_t) pkt->size * (nframes + 1);

        while (n < out->len + pkt->size) {
            n *= 2;
        }

        p = realloc(out->data, n);
        if (p == NULL) {
            return dub_audio_error(ctx->err, ctx->errlen, DUB_AUDIO_ENOMEM,
                                   0, "out of memory");
        }

        out->data = p;
        *cap = n;
    }

    memcpy(out->data + out->len, pkt->data, pkt->size);
    out->len += pkt->size;
    out->sizes[out->nframes++] = (uint32_t) pkt->size;

    return DUB_AUDIO_OK;
}
