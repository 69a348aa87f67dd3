
/*
 * Copyright (C) nginx-dub developers
 *
 * Audio work on buffers with FFmpeg's libraries, no nginx: a segment's
 * AAC frames packed as M4A (codec copy) for the STS, and the STS's dubbed
 * audio (any format of the contract) turned into exactly as many AAC-LC
 * frames as the segment had, for the output, maybe with the segment's
 * original audio mixed under it.  Every function is reentrant: the
 * module calls them from nginx's thread pool.
 */


#ifndef _DUB_AUDIO_H_INCLUDED_
#define _DUB_AUDIO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define DUB_AUDIO_OK            0
#define DUB_AUDIO_ENOMEM       -1
#define DUB_AUDIO_EINVAL       -2       /* bad arguments or parameters */
#define DUB_AUDIO_EFORMAT      -3       /* unknown or unsupported format */
#define DUB_AUDIO_EDECODE      -4       /* input could not be decoded */
#define DUB_AUDIO_EENCODE      -5       /* encoder or muxer failure */

#define DUB_AUDIO_ERRLEN        256

/*
 * The original under the dub: its gain's lowest, how much further it is
 * ducked under speech, and the ceiling of the mix's peaks.  The ceiling
 * leaves room for AAC's own overshoot: loud tones limited to -2 dBFS
 * come out of the stream's decoder at -1.2 to -1.8 dBFS at 96 or 128
 * kbit/s stereo, and about 0 dBFS at 64 kbit/s stereo.
 */
#define DUB_AUDIO_GAIN_MIN_DB   -60.0
#define DUB_AUDIO_DUCK_DB       -12.0
#define DUB_AUDIO_CEILING_DB    -2.0

/* the dubbed audio's default bit rate, per channel */
#define DUB_AUDIO_BITRATE_CHANNEL  48000

/*
 * FFmpeg's AAC coders (its "aac_coder" option): "fast" costs about half
 * of what the library's default, "twoloop", costs, for speech that
 * decodes as close to the dub (docs/benchmarks.md); the zero value is
 * the module's default.
 */
#define DUB_AUDIO_CODER_FAST     0
#define DUB_AUDIO_CODER_TWOLOOP  1


/* the stream's audio: what the output's AAC sequence header says */

typedef struct {
    unsigned            sample_rate;
    unsigned            channels;
    unsigned            frame_length;       /* 1024 */
    const uint8_t      *asc;                /* AudioSpecificConfig */
    size_t              asc_len;
} dub_audio_format_t;


/* raw AAC frames, back to back, with their sizes */

typedef struct {
    uint8_t            *data;
    size_t              len;
    uint32_t           *sizes;
    size_t              nframes;
} dub_aac_frames_t;


/* dubbed audio as the STS sent it, after base64 */

typedef struct {
    const char         *format;     /* m4a pcm_s16le pcm_f32le wav aac mp3 */
    unsigned            sample_rate;        /* raw PCM only */
    unsigned            channels;           /* raw PCM only */
    const uint8_t      *data;
    size_t              len;
} dub_audio_input_t;


/*
 * original_gain: the original's linear gain under the dub (-18 dB is
 * 0.126, dub_audio_gain_parse() reads "off" or "-18dB"); 0 mixes
 * nothing, the dub replaces the original, and dub_audio_dub_mix() then
 * gives what dub_audio_dub() gives, bit for bit.  duck: the original
 * goes a further DUB_AUDIO_DUCK_DB lower while the dubbed speech sounds.
 */

typedef struct {
    unsigned            bitrate;            /* AAC bit/s */
    unsigned            coder;              /* DUB_AUDIO_CODER_* */
    double              max_tempo;          /* e.g. 1.25: tempo bound */
    double              original_gain;      /* linear; 0: off */
    unsigned            no_stretch:1;       /* partial: pad, no tempo */
    unsigned            duck:1;             /* original lower under speech */
} dub_audio_conf_t;


/*
 * The segment's original audio, to go under the dub: its frames, as
 * packed for the STS, and the frame before them if the caller still has
 * it.  A decoder that starts on the segment's first frame lacks the
 * half of it that overlaps the frame before (AAC's MDCT): the first
 * 1024 samples (23 ms at 44.1 kHz) come out as a transient instead of
 * the original.  With "prev" it is decoded first and thrown away, and
 * the segment decodes as a player decoding the whole stream would.
 * In the stream it makes little difference: the player overlaps those
 * samples with the frame before the segment anyway, where the two
 * encoders' frames meet (0.5 dB at most, t/unit/test_mix.c), so the
 * module gives none.
 */

typedef struct {
    const dub_aac_frames_t  *frames;
    const uint8_t           *prev;          /* NULL: none */
    size_t                   prev_len;
} dub_audio_original_t;


typedef struct {
    int64_t             in_samples;         /* decoded, at output rate */
    int64_t             out_samples;        /* nframes * frame_length */
    double              tempo;              /* 1.0 when none applied */
    int64_t             padded;             /* silence added, samples */
    int64_t             trimmed;            /* samples cut */
    int64_t             ducked;             /* samples ducked */
    double              limited_db;         /* limiter's most, <= 0 dB */
    size_t              original_lost;      /* frames not decoded */
} dub_audio_fit_t;


/*
 * Once per process, before any other call: quiets FFmpeg's own logging
 * (messages go to the "err" buffers instead).
 */
void dub_audio_init(void);

/*
 * Packs "in" into an in-memory M4A (MP4 with one AAC track, codec copy,
 * moov at the end).  "*out" is malloc()ed.
 */
int dub_audio_pack_m4a(const dub_audio_format_t *fmt,
    const dub_aac_frames_t *in, uint8_t **out, size_t *out_len,
    char *err, size_t errlen);

/*
 * Decodes "in", resamples it to fmt's rate and channels, fits it to
 * exactly nframes * fmt->frame_length samples (tempo change without
 * pitch change within conf->max_tempo either way, then silence padding
 * or a trim, with short fades at both ends), and encodes it to exactly
 * "nframes" AAC-LC frames matching fmt, encoder priming removed: frame i
 * of the result takes the place of the segment's frame i.  Nothing is
 * mixed: conf->original_gain must be 0.
 */
int dub_audio_dub(const dub_audio_format_t *fmt, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit, char *err, size_t errlen);

/*
 * The same with the segment's original audio under the dub, as many
 * frames as "orig" has: out = dub + gain * original (gain as
 * conf->original_gain, a further DUB_AUDIO_DUCK_DB lower where the dub
 * sounds with conf->duck), then a peak limiter to DUB_AUDIO_CEILING_DB
 * (look-ahead, so no clipping and no pumping: it does nothing where the
 * sum stays below).  An original frame that does not decode is silence
 * under the dub (fit->original_lost).  With original_gain 0, "orig"
 * gives the frame count only.
 */
int dub_audio_dub_mix(const dub_audio_format_t *fmt,
    const dub_audio_conf_t *conf, const dub_audio_original_t *orig,
    const dub_audio_input_t *in, dub_aac_frames_t *out, dub_audio_fit_t *fit,
    char *err, size_t errlen);

/*
 * "off", or a gain in dB ("-18dB", "-18", "-6.5dB") within
 * [DUB_AUDIO_GAIN_MIN_DB, 0]: 0 and the linear gain in "*gain", or -1.
 */
int dub_audio_gain_parse(const char *s, size_t len, double *gain);

/* "fast" or "twoloop": 0 and DUB_AUDIO_CODER_* in "*coder", or -1 */
int dub_audio_coder_parse(const char *s, size_t len, unsigned *coder);

void dub_aac_frames_free(dub_aac_frames_t *f);


#endif /* _DUB_AUDIO_H_INCLUDED_ */
