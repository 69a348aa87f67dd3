
/*
 * Copyright (C) nginx-dub developers
 *
 * What each AAC coder costs and how it sounds, on the module's own audio
 * path.  Reads interleaved 32-bit float samples (the dub the STS sent,
 * decoded) from stdin, e.g. from
 *     ffmpeg -i FILE -ac 2 -ar 44100 -f f32le -
 * cuts them into segments of FRAMES frames of 1024 samples, and dubs
 * each one with dub_audio_dub() (raw PCM in, exactly FRAMES AAC-LC
 * frames out) once per coder named.  Then it decodes the frames with
 * FFmpeg's AAC decoder and compares them with what went in:
 *
 *   aac-coder RATE CHANNELS FRAMES BITRATE CODER...
 *       one line per coder:
 *       coder NAME segments N cpu_ms MEDIAN MIN MAX kbps K snr_db S
 *       lsd_db L
 *
 * cpu_ms is the thread's CPU time in dub_audio_dub() per segment (the
 * raw PCM's reading and the fit cost little: the encoder is most of it).
 * snr_db is the signal-to-noise ratio of the decoded frames against the
 * input, over all segments; lsd_db the log-spectral distance (Hann
 * windows of 1024 samples, 50 Hz to 8 kHz) averaged over the windows
 * louder than -50 dBFS.  The first two and last two frames of each
 * segment are left out of both: the decoder's start without the frame
 * before, and the fit's fades.
 */


#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavcodec/avcodec.h>
#include <libavcodec/avfft.h>

#include "dub_audio.h"


#define CODER_WIN           1024
#define CODER_WIN_BITS      10
#define CODER_LO_HZ         50.0
#define CODER_HI_HZ         8000.0
#define CODER_LOUD_DBFS     -50.0
#define CODER_EDGE          2           /* frames left out at each end */


typedef struct {
    double              sig;
    double              noise;
    double              lsd;
    size_t              nlsd;
    double             *ms;
    size_t              nms;
    size_t              bytes;
    size_t              frames;
} coder_stats_t;


static const unsigned  coder_rates[] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000,
    11025, 8000, 7350
};


static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
cpu_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}


/* the frames decoded, planar, frame i at i * 1024 */

static int
decode(const uint8_t *asc, size_t asc_len, const dub_aac_frames_t *f,
    unsigned channels, float **pcm)
{
    int              ret;
    size_t           i, off, got;
    unsigned         c;
    AVFrame         *fr;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *dec;

    codec = avcodec_find_decoder(AV_CODEC_ID_AAC);
    dec = avcodec_alloc_context3(codec);
    pkt = av_packet_alloc();
    fr = av_frame_alloc();

    if (dec == NULL || pkt == NULL || fr == NULL) {
        return -1;
    }

    dec->extradata = av_mallocz(asc_len + AV_INPUT_BUFFER_PADDING_SIZE);
    memcpy(dec->extradata, asc, asc_len);
    dec->extradata_size = (int) asc_len;

    if (avcodec_open2(dec, codec, NULL) < 0) {
        return -1;
    }

    off = 0;
    got = 0;

    for (i = 0; i <= f->nframes; i++) {
        if (i < f->nframes) {
            if (av_new_packet(pkt, (int) f->sizes[i]) < 0) {
                return -1;
            }

            memcpy(pkt->data, f->data + off, f->sizes[i]);
            off += f->sizes[i];
            ret = avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);

        } else {
            ret = avcodec_send_packet(dec, NULL);
        }

        if (ret < 0) {
            return -1;
        }

        while (avcodec_receive_frame(dec, fr) == 0) {
            if (fr->format != AV_SAMPLE_FMT_FLTP
                || fr->nb_samples != CODER_WIN || got >= f->nframes)
            {
                av_frame_unref(fr);
                continue;
            }

            for (c = 0; c < channels; c++) {
                memcpy(pcm[c] + got * CODER_WIN, fr->extended_data[c],
                       CODER_WIN * sizeof(float));
            }

            got++;
            av_frame_unref(fr);
        }
    }

    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&dec);

    return got == f->nframes ? 0 : -1;
}


/* "a" against the reference "r", one window of 1024 samples */

static void
compare(RDFTContext *rdft, const float *r, const float *a, unsigned rate,
    coder_stats_t *st)
{
    size_t  i, lo, hi, n;
    double  e, d, s, pr, pa, w;
    /* FFmpeg's FFT wants its buffers aligned for SIMD */
    float   fr[CODER_WIN] __attribute__((aligned(64)));
    float   fa[CODER_WIN] __attribute__((aligned(64)));

    e = 0;

    for (i = 0; i < CODER_WIN; i++) {
        d = (double) r[i] - a[i];
        st->sig += (double) r[i] * r[i];
        st->noise += d * d;
        e += (double) r[i] * r[i];

        w = 0.5 - 0.5 * cos(2 * M_PI * (i + 0.5) / CODER_WIN);
        fr[i] = (float) (r[i] * w);
        fa[i] = (float) (a[i] * w);
    }

    if (10 * log10(e / CODER_WIN + 1e-20) < CODER_LOUD_DBFS) {
        return;
    }

    av_rdft_calc(rdft, fr);
    av_rdft_calc(rdft, fa);

    lo = (size_t) (CODER_LO_HZ * CODER_WIN / rate) + 1;
    hi = (size_t) (CODER_HI_HZ * CODER_WIN / rate);

    if (hi > CODER_WIN / 2 - 1) {
        hi = CODER_WIN / 2 - 1;
    }

    s = 0;
    n = 0;

    for (i = lo; i <= hi; i++) {
        pr = (double) fr[2 * i] * fr[2 * i]
             + (double) fr[2 * i + 1] * fr[2 * i + 1];
        pa = (double) fa[2 * i] * fa[2 * i]
             + (double) fa[2 * i + 1] * fa[2 * i + 1];
        d = 10 * log10(pr + 1e-10) - 10 * log10(pa + 1e-10);
        s += d * d;
        n++;
    }

    st->lsd += sqrt(s / n);
    st->nlsd++;
}


int
main(int argc, char **argv)
{
    int                 k, ri;
    char                err[DUB_AUDIO_ERRLEN];
    float              *in, **dec;
    size_t              len, cap, nseg, seg, seglen, i, fr;
    uint8_t             asc[2];
    unsigned            rate, channels, frames, bitrate, c;
    double              t0;
    RDFTContext        *rdft;
    coder_stats_t       st;
    dub_audio_fit_t     fit;
    dub_audio_conf_t    conf;
    dub_aac_frames_t    out;
    dub_audio_input_t   input;
    dub_audio_format_t  fmt;

    if (argc < 6) {
        fprintf(stderr, "usage: aac-coder RATE CHANNELS FRAMES BITRATE "
                        "CODER... < f32le\n");
        return 2;
    }

    rate = (unsigned) atoi(argv[1]);
    channels = (unsigned) atoi(argv[2]);
    frames = (unsigned) atoi(argv[3]);
    bitrate = (unsigned) atoi(argv[4]);

    for (ri = 0; ri < (int) (sizeof(coder_rates) / sizeof(unsigned)); ri++)
    {
        if (coder_rates[ri] == rate) {
            break;
        }
    }

    if (ri == (int) (sizeof(coder_rates) / sizeof(unsigned))
        || channels < 1 || channels > 2 || frames <= 2 * CODER_EDGE)
    {
        fprintf(stderr, "aac-coder: bad rate, channels or frames\n");
        return 2;
    }

    /* AudioSpecificConfig: AAC-LC, the rate's index, the channels */
    asc[0] = (uint8_t) (2 << 3 | ri >> 1);
    asc[1] = (uint8_t) ((ri & 1) << 7 | channels << 3);

    len = 0;
    cap = 1 << 20;
    in = malloc(cap * sizeof(float));

    while (in) {
        i = fread(in + len, sizeof(float), cap - len, stdin);
        len += i;

        if (i == 0) {
            break;
        }

        if (len == cap) {
            cap *= 2;
            in = realloc(in, cap * sizeof(float));
        }
    }

    seglen = (size_t) frames * CODER_WIN * channels;
    nseg = in ? len / seglen : 0;

    if (nseg == 0) {
        fprintf(stderr, "aac-coder: less than one segment on stdin\n");
        return 1;
    }

    dub_audio_init();

    dec = calloc(channels, sizeof(float *));
    for (c = 0; c < channels; c++) {
        dec[c] = malloc((size_t) frames * CODER_WIN * sizeof(float));
    }

    rdft = av_rdft_init(CODER_WIN_BITS, DFT_R2C);

    fmt.sample_rate = rate;
    fmt.channels = channels;
    fmt.frame_length = CODER_WIN;
    fmt.asc = asc;
    fmt.asc_len = sizeof(asc);

    for (k = 5; k < argc; k++) {
        memset(&conf, 0, sizeof(dub_audio_conf_t));
        conf.bitrate = bitrate;
        conf.max_tempo = 1.25;

        if (dub_audio_coder_parse(argv[k], strlen(argv[k]), &conf.coder)
            != 0)
        {
            fprintf(stderr, "aac-coder: unknown coder \"%s\"\n", argv[k]);
            return 2;
        }

        memset(&st, 0, sizeof(coder_stats_t));
        st.ms = calloc(nseg, sizeof(double));

        for (seg = 0; seg < nseg; seg++) {
            input.format = "pcm_f32le";
            input.sample_rate = rate;
            input.channels = channels;
            input.data = (const uint8_t *) (in + seg * seglen);
            input.len = seglen * sizeof(float);

            t0 = cpu_ms();

            if (dub_audio_dub(&fmt, &conf, frames, &input, &out, &fit, err,
                              sizeof(err))
                != DUB_AUDIO_OK)
            {
                fprintf(stderr, "aac-coder: %s\n", err);
                return 1;
            }

            st.ms[st.nms++] = cpu_ms() - t0;
            st.bytes += out.len;
            st.frames += out.nframes;

            if (decode(asc, sizeof(asc), &out, channels, dec) != 0) {
                fprintf(stderr, "aac-coder: the frames do not decode\n");
                return 1;
            }

            for (fr = CODER_EDGE; fr < frames - CODER_EDGE; fr++) {
                for (c = 0; c < channels; c++) {
                    float  ref[CODER_WIN];

                    for (i = 0; i < CODER_WIN; i++) {
                        ref[i] = in[seg * seglen
                                    + (fr * CODER_WIN + i) * channels + c];
                    }

                    compare(rdft, ref, dec[c] + fr * CODER_WIN, rate, &st);
                }
            }

            dub_aac_frames_free(&out);
        }

        qsort(st.ms, st.nms, sizeof(double), cmp_double);

        printf("coder %s segments %zu cpu_ms %.1f %.1f %.1f kbps %.1f "
               "snr_db %.2f lsd_db %.2f\n",
               argv[k], st.nms, st.ms[st.nms / 2], st.ms[0],
               st.ms[st.nms - 1],
               st.bytes * 8.0 / (st.frames * (double) CODER_WIN / rate)
               / 1000,
               10 * log10(st.sig / (st.noise + 1e-20)),
               st.nlsd ? st.lsd / st.nlsd : 0.0);

        free(st.ms);
    }

    av_rdft_end(rdft);

    for (c = 0; c < channels; c++) {
        free(dec[c]);
    }

    free(dec);
    free(in);

    return 0;
}
