
/*
 * Copyright (C) nginx-dub developers
 *
 * What the stages of the audio work share, private to them (the nginx
 * side includes dub_audio.h only).  A dubbing runs along the pipeline:
 *
 *     dub_decode.c    the STS's audio to samples at the stream's rate
 *                     and layout (dub_audio_pcm_t)
 *     dub_fit.c       those samples to the segment's length
 *     dub_mix.c       the segment's original audio under them, if asked,
 *                     and their peaks limited
 *     dub_encode.c    the samples to the segment's AAC-LC frames
 *
 * driven by dub_audio.c, which also has the errors and the sample
 * buffer; dub_m4a.c packs a segment's frames for the STS, and
 * dub_avio.c gives FFmpeg buffers to read and write.
 *
 * What returns an int returns DUB_AUDIO_OK or one of the other
 * DUB_AUDIO_* codes of dub_audio.h, and says why in the "err" buffer.
 */


#ifndef _DUB_AUDIO_INT_H_INCLUDED_
#define _DUB_AUDIO_INT_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avio.h>
#include <libavutil/channel_layout.h>

#include "dub_audio.h"


#define DUB_AUDIO_MAX_CHANNELS  8
#define DUB_AUDIO_MIN_RATE      8000
#define DUB_AUDIO_MAX_RATE      192000
#define DUB_AUDIO_FRAME         1024        /* AAC-LC samples per frame */
#define DUB_AUDIO_CHUNK         4096        /* samples per filter frame */


/* planar float samples at the stream's rate and channels */

typedef struct {
    float                     *ch[DUB_AUDIO_MAX_CHANNELS];
    int64_t                    len;
    int64_t                    cap;
    int64_t                    max;         /* longer is an error */
    unsigned                   channels;
} dub_audio_pcm_t;


/* one call: the stream's format, and where a failure is told */

typedef struct {
    const dub_audio_format_t  *fmt;
    AVChannelLayout            layout;      /* the encoder's, for fmt */
    char                      *err;
    size_t                     errlen;
} dub_audio_ctx_t;


/*
 * An AAC-LC encoder for the stream's format.  dub_encode() flushes it:
 * a fresh one encodes each segment.
 */

typedef struct {
    AVCodecContext            *enc;
    AVPacket                  *pkt;
    AVFrame                   *frame;
} dub_aac_encoder_t;


/* a buffer FFmpeg reads */

typedef struct {
    const uint8_t             *data;
    size_t                     len;
    int64_t                    pos;
} dub_avio_reader_t;


/* a buffer FFmpeg writes, grown with realloc(), seekable */

typedef struct {
    uint8_t                   *data;
    size_t                     len;
    size_t                     cap;
    size_t                     pos;
    unsigned                   failed:1;
} dub_avio_writer_t;


/* dub_audio.c: errors, the sample buffer */

void dub_audio_begin(char *err, size_t errlen);
int dub_audio_error(char *err, size_t errlen, int rc, int averr,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int dub_audio_averror(int averr, int rc);
int dub_audio_pcm_reserve(dub_audio_pcm_t *pcm, int64_t n);
void dub_audio_pcm_free(dub_audio_pcm_t *pcm);

/*
 * dub_avio.c: an AVIOContext on the buffer, NULL when out of memory;
 * dub_avio_free() frees it with its I/O buffer.  What a writer wrote
 * stays the caller's, to free().
 */
AVIOContext *dub_avio_reader(dub_avio_reader_t *rd, const uint8_t *data,
    size_t len);
AVIOContext *dub_avio_writer(dub_avio_writer_t *wr);
void dub_avio_free(AVIOContext **pb);

/*
 * dub_decode.c: dub_decode_check() refuses a format of no use before
 * any work; dub_decode() appends "in", resampled to the stream's rate
 * and layout, to "pcm", and fails if that leaves "pcm" empty.
 */
int dub_decode_check(dub_audio_ctx_t *ctx, const dub_audio_input_t *in);
int dub_decode(dub_audio_ctx_t *ctx, const dub_audio_input_t *in,
    dub_audio_pcm_t *pcm);

/*
 * dub_fit.c: dub_fit() brings "pcm" to exactly "target" samples (tempo,
 * then padding or a trim, with fades); dub_fit_limit() keeps every
 * sample within [-1, 1], the last step before encoding.
 */
int dub_fit(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    dub_audio_pcm_t *pcm, int64_t target, dub_audio_fit_t *fit);
void dub_fit_limit(dub_audio_pcm_t *pcm);

/*
 * dub_mix.c: dub_mix_check() refuses original frames that overrun their
 * data; dub_mix() decodes them and mixes them under "pcm" (the fitted
 * dub, exactly their length) at conf's gain, ducked with conf->duck,
 * then limits the sum's peaks to DUB_AUDIO_CEILING_DB.
 * dub_mix_decode() is its first step: the frames decoded into "pcm"
 * (channels and max set by the caller: max samples come out, frame i
 * at i * 1024, silence for one that does not decode, counted in
 * "lost").
 */
int dub_mix_check(dub_audio_ctx_t *ctx, const dub_audio_original_t *orig);
int dub_mix(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    const dub_audio_original_t *orig, dub_audio_pcm_t *pcm,
    dub_audio_fit_t *fit);
int dub_mix_decode(dub_audio_ctx_t *ctx, const dub_audio_original_t *orig,
    dub_audio_pcm_t *pcm, size_t *lost);

/*
 * dub_encode.c: dub_encode() encodes nframes * 1024 samples of "pcm" to
 * exactly "nframes" frames, priming removed.  dub_encode_close() is safe
 * on a zeroed or failed encoder.
 */
int dub_encode_open(dub_audio_ctx_t *ctx, const dub_audio_conf_t *conf,
    dub_aac_encoder_t *e);
int dub_encode(dub_audio_ctx_t *ctx, dub_aac_encoder_t *e,
    const dub_audio_pcm_t *pcm, size_t nframes, dub_aac_frames_t *out);
void dub_encode_close(dub_aac_encoder_t *e);


#endif /* _DUB_AUDIO_INT_H_INCLUDED_ */
