
/*
 * Copyright (C) nginx-dub developers
 *
 * Audio work on buffers with FFmpeg's libraries, no nginx: a segment's
 * AAC frames packed as M4A (codec copy) for the STS, and the STS's dubbed
 * audio (any format of the contract) turned into exactly as many AAC-LC
 * frames as the segment had, for the output.  Every function is
 * reentrant: the module calls them from nginx's thread pool.
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


typedef struct {
    unsigned            bitrate;            /* AAC bit/s */
    double              max_tempo;          /* e.g. 1.25: tempo bound */
    unsigned            no_stretch:1;       /* partial: pad, no tempo */
} dub_audio_conf_t;


typedef struct {
    int64_t             in_samples;         /* decoded, at output rate */
    int64_t             out_samples;        /* nframes * frame_length */
    double              tempo;              /* 1.0 when none applied */
    int64_t             padded;             /* silence added, samples */
    int64_t             trimmed;            /* samples cut */
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
 * of the result takes the place of the segment's frame i.
 */
int dub_audio_dub(const dub_audio_format_t *fmt, const dub_audio_conf_t *conf,
    size_t nframes, const dub_audio_input_t *in, dub_aac_frames_t *out,
    dub_audio_fit_t *fit, char *err, size_t errlen);

void dub_aac_frames_free(dub_aac_frames_t *f);


#endif /* _DUB_AUDIO_H_INCLUDED_ */
