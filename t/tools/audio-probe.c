
/*
 * Copyright (C) nginx-dub developers
 *
 * Audio analysis for the end-to-end tests.  Reads raw signed 16-bit
 * little-endian mono samples from stdin, e.g. from
 *     ffmpeg -i FILE -ac 1 -ar 16000 -f s16le -
 * and prints one line per window (or a few "name value" lines):
 *
 *   audio-probe tone RATE FREQ WIN_MS [START_MS]
 *       start_ms ratio rms_dbfs: ratio is the share of the window's
 *       energy at FREQ (Goertzel), about 1 for a pure tone, 0 for silence
 *   audio-probe level RATE FREQ WIN_MS [START_MS]
 *       start_ms level_dbfs: the amplitude of the sine at FREQ (Goertzel,
 *       Hann window), in dBFS of a sine: 0 for a full-scale one, -120
 *       for none; one tone's level among others a few bins away
 *   audio-probe dominant RATE WIN_MS
 *       start_ms dominant_hz rms_dbfs: the strongest frequency in
 *       50..8000 Hz (0 for silence)
 *   audio-probe lag RATE WIN_MS MAX_LAG_MS FILE_B
 *       start_ms lag_ms corr: the shift of B (raw s16le mono, same rate)
 *       against stdin within +-MAX_LAG_MS that maximises the normalised
 *       cross-correlation; positive when B is late
 *   audio-probe stats RATE [SILENCE_DBFS]
 *       samples, duration_ms, rms_dbfs, peak_dbfs, max_silence_ms and
 *       max_silence_at_ms: the longest run of samples quieter than
 *       SILENCE_DBFS (default -60) and where it starts
 *
 * Only full windows are reported.
 */


#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PROBE_MIN_HZ        50.0
#define PROBE_MAX_HZ        8000.0
#define PROBE_FLOOR_DBFS    -120.0
#define PROBE_SILENCE_DBFS  -60.0
#define PROBE_QUIET         1e-12       /* mean square of "no signal" */


typedef struct {
    float              *s;
    size_t              n;
} probe_audio_t;


static void usage(void);
static int parse_num(const char *arg, double min, double max, double *v);
static int read_audio(FILE *f, probe_audio_t *a);
static double mean_square(const float *s, size_t n);
static double dbfs(double ms);
static double goertzel_ratio(const float *s, size_t n, double freq,
    double rate);
static double goertzel_level(const float *s, size_t n, double freq,
    double rate);
static size_t pow2_at_least(size_t n);
static void fft(double *re, double *im, size_t n, int inverse);
static int cmd_tone(probe_audio_t *a, double rate, int level, int argc,
    char **argv);
static int cmd_dominant(probe_audio_t *a, double rate, int argc,
    char **argv);
static int cmd_lag(probe_audio_t *a, double rate, int argc, char **argv);
static int cmd_stats(probe_audio_t *a, double rate, int argc, char **argv);


int
main(int argc, char **argv)
{
    int            rc;
    double         rate;
    probe_audio_t  a;

    if (argc < 3 || parse_num(argv[2], 1000, 384000, &rate) != 0) {
        usage();
        return 2;
    }

    if (strcmp(argv[1], "tone") != 0 && strcmp(argv[1], "level") != 0
        && strcmp(argv[1], "dominant") != 0 && strcmp(argv[1], "lag") != 0
        && strcmp(argv[1], "stats") != 0)
    {
        usage();
        return 2;
    }

    if (read_audio(stdin, &a) != 0) {
        fprintf(stderr, "audio-probe: reading stdin: %s\n", strerror(errno));
        return 1;
    }

    if (strcmp(argv[1], "tone") == 0 || strcmp(argv[1], "level") == 0) {
        rc = cmd_tone(&a, rate, argv[1][0] == 'l', argc - 3, argv + 3);

    } else if (strcmp(argv[1], "dominant") == 0) {
        rc = cmd_dominant(&a, rate, argc - 3, argv + 3);

    } else if (strcmp(argv[1], "lag") == 0) {
        rc = cmd_lag(&a, rate, argc - 3, argv + 3);

    } else {
        rc = cmd_stats(&a, rate, argc - 3, argv + 3);
    }

    free(a.s);

    if (rc == 2) {
        usage();
    }

    return rc;
}


static void
usage(void)
{
    fprintf(stderr,
            "usage: audio-probe tone RATE FREQ WIN_MS [START_MS]\n"
            "       audio-probe level RATE FREQ WIN_MS [START_MS]\n"
            "       audio-probe dominant RATE WIN_MS\n"
            "       audio-probe lag RATE WIN_MS MAX_LAG_MS FILE_B\n"
            "       audio-probe stats RATE [SILENCE_DBFS]\n"
            "stdin (and FILE_B): raw s16le mono samples at RATE\n");
}


static int
parse_num(const char *arg, double min, double max, double *v)
{
    char  *end;

    errno = 0;
    *v = strtod(arg, &end);

    if (errno || end == arg || *end != '\0' || !(*v >= min && *v <= max)) {
        fprintf(stderr, "audio-probe: bad number \"%s\"\n", arg);
        return -1;
    }

    return 0;
}


static int
read_audio(FILE *f, probe_audio_t *a)
{
    size_t    cap, len, got, i;
    uint8_t  *buf, *p;

    a->s = NULL;
    a->n = 0;

    cap = 1 << 20;
    len = 0;

    buf = malloc(cap);
    if (buf == NULL) {
        return -1;
    }

    for ( ;; ) {
        if (len == cap) {
            cap *= 2;

            p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                return -1;
            }

            buf = p;
        }

        got = fread(buf + len, 1, cap - len, f);
        len += got;

        if (got == 0) {
            break;
        }
    }

    if (ferror(f)) {
        free(buf);
        return -1;
    }

    /* one more slot: never a zero-sized allocation */
    a->s = malloc((len / 2 + 1) * sizeof(float));
    if (a->s == NULL) {
        free(buf);
        return -1;
    }

    a->n = len / 2;

    /* byte by byte: little-endian whatever the host */
    for (i = 0; i < a->n; i++) {
        a->s[i] = (float) (int16_t) (buf[2 * i] | (buf[2 * i + 1] << 8))
                  / 32768.0f;
    }

    free(buf);

    return 0;
}


static double
mean_square(const float *s, size_t n)
{
    size_t  i;
    double  e;

    for (i = 0, e = 0.0; i < n; i++) {
        e += (double) s[i] * s[i];
    }

    return n ? e / n : 0.0;
}


static double
dbfs(double ms)
{
    double  db;

    if (ms <= 0.0) {
        return PROBE_FLOOR_DBFS;
    }

    db = 10.0 * log10(ms);

    return db < PROBE_FLOOR_DBFS ? PROBE_FLOOR_DBFS : db;
}


/* energy at "freq" over the window's energy: 1 for a pure tone there */

static double
goertzel_ratio(const float *s, size_t n, double freq, double rate)
{
    size_t  i;
    double  coef, s0, s1, s2, power, energy, r;

    coef = 2.0 * cos(2.0 * M_PI * freq / rate);
    s1 = 0.0;
    s2 = 0.0;
    energy = 0.0;

    for (i = 0; i < n; i++) {
        s0 = s[i] + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
        energy += (double) s[i] * s[i];
    }

    if (n == 0 || energy / n < PROBE_QUIET) {
        return 0.0;
    }

    power = s1 * s1 + s2 * s2 - coef * s1 * s2;
    r = 2.0 * power / ((double) n * energy);

    /* leakage of the negative frequency can overshoot a little */
    return r > 1.0 ? 1.0 : (r < 0.0 ? 0.0 : r);
}


/* the amplitude of the sine at "freq", in dBFS: 2 |X(f)| / sum(w) */

static double
goertzel_level(const float *s, size_t n, double freq, double rate)
{
    size_t  i;
    double  w, sum, coef, s0, s1, s2, power;

    coef = 2.0 * cos(2.0 * M_PI * freq / rate);
    s1 = 0.0;
    s2 = 0.0;
    sum = 0.0;

    for (i = 0; i < n; i++) {
        w = 0.5 - 0.5 * cos(2.0 * M_PI * i / n);
        sum += w;
        s0 = w * s[i] + coef * s1 - s2;
        s2 = s1;
        s1 = s0;
    }

    power = s1 * s1 + s2 * s2 - coef * s1 * s2;

    return dbfs(sum > 0.0 ? 4.0 * power / (sum * sum) : 0.0);
}


static size_t
pow2_at_least(size_t n)
{
    size_t  p;

    for (p = 1; p < n; p <<= 1) {
        /* void */
    }

    return p;
}


/* in place, radix 2, n a power of two; the inverse is not scaled */

static void
fft(double *re, double *im, size_t n, int inverse)
{
    size_t           i, j, k, len, half, step;
    double           wr, wi, ur, ui, vr, vi, t;
    static double   *tw;
    static size_t    tw_n;

    /* the twiddles for this size, kept for the next window */
    if (tw_n != n) {
        free(tw);

        tw = malloc((n / 2 + 1) * 2 * sizeof(double));
        if (tw == NULL) {
            fprintf(stderr, "audio-probe: out of memory\n");
            exit(1);
        }

        for (k = 0; k < n / 2; k++) {
            tw[2 * k] = cos(2.0 * M_PI * k / n);
            tw[2 * k + 1] = -sin(2.0 * M_PI * k / n);
        }

        tw_n = n;
    }

    for (i = 1, j = 0; i < n; i++) {
        for (k = n >> 1; j & k; k >>= 1) {
            j ^= k;
        }

        j |= k;

        if (i < j) {
            t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }

    for (len = 2; len <= n; len <<= 1) {
        half = len >> 1;
        step = n / len;

        /* block by block: memory is walked in order */
        for (i = 0; i < n; i += len) {
            for (k = 0; k < half; k++) {
                wr = tw[2 * k * step];
                wi = inverse ? -tw[2 * k * step + 1] : tw[2 * k * step + 1];

                j = i + k + half;
                vr = re[j] * wr - im[j] * wi;
                vi = re[j] * wi + im[j] * wr;
                ur = re[i + k];
                ui = im[i + k];
                re[i + k] = ur + vr;
                im[i + k] = ui + vi;
                re[j] = ur - vr;
                im[j] = ui - vi;
            }
        }
    }
}


static int
cmd_tone(probe_audio_t *a, double rate, int level, int argc, char **argv)
{
    double  freq, win_ms, start_ms, ms;
    size_t  win, start;

    if (argc < 2 || argc > 3
        || parse_num(argv[0], 1, rate / 2, &freq) != 0
        || parse_num(argv[1], 1, 3600000, &win_ms) != 0)
    {
        return 2;
    }

    start_ms = 0;

    if (argc == 3 && parse_num(argv[2], 0, 1e9, &start_ms) != 0) {
        return 2;
    }

    win = (size_t) (win_ms * rate / 1000.0 + 0.5);
    start = (size_t) (start_ms * rate / 1000.0 + 0.5);

    if (win == 0) {
        return 2;
    }

    for ( /* void */ ; start + win <= a->n; start += win) {
        if (level) {
            printf("%.0f %.2f\n", start * 1000.0 / rate,
                   goertzel_level(a->s + start, win, freq, rate));
            continue;
        }

        ms = mean_square(a->s + start, win);

        printf("%.0f %.4f %.1f\n", start * 1000.0 / rate,
               goertzel_ratio(a->s + start, win, freq, rate), dbfs(ms));
    }

    return 0;
}


/* Hann-windowed FFT peak, refined between bins by a parabola */

static int
cmd_dominant(probe_audio_t *a, double rate, int argc, char **argv)
{
    int      rc;
    size_t   win, n, i, lo, hi, best, start;
    double   win_ms, ms, hz, m0, m1, m2, d, *re, *im, *mag;

    if (argc != 1 || parse_num(argv[0], 1, 3600000, &win_ms) != 0) {
        return 2;
    }

    win = (size_t) (win_ms * rate / 1000.0 + 0.5);

    if (win < 4) {
        return 2;
    }

    n = pow2_at_least(win);

    re = malloc(n * sizeof(double));
    im = malloc(n * sizeof(double));
    mag = malloc((n / 2 + 1) * sizeof(double));

    rc = 1;

    if (re == NULL || im == NULL || mag == NULL) {
        goto done;
    }

    lo = (size_t) ceil(PROBE_MIN_HZ * n / rate);
    hi = (size_t) floor(PROBE_MAX_HZ * n / rate);

    if (hi > n / 2 - 1) {
        hi = n / 2 - 1;
    }

    if (lo < 1) {
        lo = 1;
    }

    for (start = 0; start + win <= a->n; start += win) {
        ms = mean_square(a->s + start, win);

        hz = 0.0;

        if (ms >= PROBE_QUIET && lo <= hi) {
            for (i = 0; i < n; i++) {
                re[i] = i < win ? a->s[start + i]
                                  * (0.5 - 0.5 * cos(2.0 * M_PI * i / win))
                                : 0.0;
                im[i] = 0.0;
            }

            fft(re, im, n, 0);

            for (i = 0; i <= n / 2; i++) {
                mag[i] = re[i] * re[i] + im[i] * im[i];
            }

            for (i = lo, best = lo; i <= hi; i++) {
                if (mag[i] > mag[best]) {
                    best = i;
                }
            }

            /* log magnitudes: the parabola fits a Hann peak well */
            m0 = log(mag[best - 1] + 1e-30);
            m1 = log(mag[best] + 1e-30);
            m2 = log(mag[best + 1] + 1e-30);
            d = m0 - 2.0 * m1 + m2;
            d = (d < 0.0) ? 0.5 * (m0 - m2) / d : 0.0;

            if (d > 0.5 || d < -0.5) {
                d = 0.0;
            }

            hz = (best + d) * rate / n;
        }

        printf("%.0f %.1f %.1f\n", start * 1000.0 / rate, hz, dbfs(ms));
    }

    rc = 0;

done:

    free(re);
    free(im);
    free(mag);

    return rc;
}


/*
 * Per window of A: the correlation with B at every lag at once, by FFT
 * over B's stretch around the window; normalised with B's energy under
 * the window at each lag (prefix sums).
 */

static int
cmd_lag(probe_audio_t *a, double rate, int argc, char **argv)
{
    int             rc;
    FILE           *f;
    size_t          win, lag, n, blen, i, j, start, best;
    double          win_ms, lag_ms, ea, eb, c, bc, t, v;
    double         *are, *aim, *bre, *bim, *pre;
    int64_t         k;
    probe_audio_t   b;

    if (argc != 3 || parse_num(argv[0], 1, 3600000, &win_ms) != 0
        || parse_num(argv[1], 0, 600000, &lag_ms) != 0)
    {
        return 2;
    }

    win = (size_t) (win_ms * rate / 1000.0 + 0.5);
    lag = (size_t) (lag_ms * rate / 1000.0 + 0.5);

    if (win == 0) {
        return 2;
    }

    f = fopen(argv[2], "rb");
    if (f == NULL) {
        fprintf(stderr, "audio-probe: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }

    rc = read_audio(f, &b);
    fclose(f);

    if (rc != 0) {
        fprintf(stderr, "audio-probe: reading %s failed\n", argv[2]);
        return 1;
    }

    blen = win + 2 * lag;
    n = pow2_at_least(blen);

    are = malloc(n * sizeof(double));
    aim = malloc(n * sizeof(double));
    bre = malloc(n * sizeof(double));
    bim = malloc(n * sizeof(double));
    pre = malloc((blen + 1) * sizeof(double));

    rc = 1;

    if (are == NULL || aim == NULL || bre == NULL || bim == NULL
        || pre == NULL)
    {
        goto done;
    }

    for (start = 0; start + win <= a->n; start += win) {
        ea = 0.0;

        for (i = 0; i < n; i++) {
            are[i] = i < win ? a->s[start + i] : 0.0;
            aim[i] = 0.0;
            ea += are[i] * are[i];

            /* B from start - lag on; zeros outside of it */
            k = (int64_t) start - (int64_t) lag + (int64_t) i;
            bre[i] = (i < blen && k >= 0 && k < (int64_t) b.n) ? b.s[k]
                                                                : 0.0;
            bim[i] = 0.0;
        }

        if (ea / win < PROBE_QUIET) {
            printf("%.0f 0.00 0.0000\n", start * 1000.0 / rate);
            continue;
        }

        pre[0] = 0.0;

        for (i = 0; i < blen; i++) {
            pre[i + 1] = pre[i] + bre[i] * bre[i];
        }

        fft(are, aim, n, 0);
        fft(bre, bim, n, 0);

        /* conj(A) * B: the correlation of A against B shifted */
        for (i = 0; i < n; i++) {
            t = are[i] * bre[i] + aim[i] * bim[i];
            v = are[i] * bim[i] - aim[i] * bre[i];
            are[i] = t;
            aim[i] = v;
        }

        fft(are, aim, n, 1);

        best = lag;
        bc = 0.0;

        for (j = 0; j <= 2 * lag; j++) {
            eb = pre[j + win] - pre[j];

            if (eb / win < PROBE_QUIET) {
                continue;
            }

            c = are[j] / n / sqrt(ea * eb);

            if (c > bc) {
                bc = c;
                best = j;
            }
        }

        printf("%.0f %.2f %.4f\n", start * 1000.0 / rate,
               ((double) best - (double) lag) * 1000.0 / rate, bc);
    }

    rc = 0;

done:

    free(are);
    free(aim);
    free(bre);
    free(bim);
    free(pre);
    free(b.s);

    return rc;
}


static int
cmd_stats(probe_audio_t *a, double rate, int argc, char **argv)
{
    float   thr, v, peak;
    size_t  i, run, at, best, best_at;
    double  db;

    db = PROBE_SILENCE_DBFS;

    if (argc > 1 || (argc == 1 && parse_num(argv[0], -120, 0, &db) != 0)) {
        return 2;
    }

    thr = (float) pow(10.0, db / 20.0);

    run = 0;
    at = 0;
    best = 0;
    best_at = 0;
    peak = 0.0f;

    for (i = 0; i < a->n; i++) {
        v = fabsf(a->s[i]);

        if (v > peak) {
            peak = v;
        }

        if (v < thr) {
            if (run++ == 0) {
                at = i;
            }

            if (run > best) {
                best = run;
                best_at = at;
            }

        } else {
            run = 0;
        }
    }

    printf("samples %zu\n", a->n);
    printf("duration_ms %.0f\n", a->n * 1000.0 / rate);
    printf("rms_dbfs %.1f\n", dbfs(mean_square(a->s, a->n)));
    printf("peak_dbfs %.1f\n", dbfs((double) peak * peak));
    printf("max_silence_ms %.0f\n", best * 1000.0 / rate);
    printf("max_silence_at_ms %.0f\n", best_at * 1000.0 / rate);

    return 0;
}
