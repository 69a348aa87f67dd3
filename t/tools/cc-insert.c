
/*
 * Copyright (C) nginx-dub developers
 *
 * Captions into an FLV file with the module's caption layer (dub_cc608,
 * dub_sei), for the tests to read back with ffmpeg's own decoder:
 *
 *   cc-insert [-r ROWS] IN.flv OUT.flv START END CC1 CC3 [...]
 *
 * Each group of four arguments is a segment: the video tags whose
 * timestamp (decode time) is in [START, END) ms, the text it shows on
 * CC1 and on CC3 ("" erases the caption, "-" leaves the channel alone).
 * The segment's frames are given to dub_cc608_schedule() with their
 * presentation times (timestamp plus composition time), from the pts of
 * the first in presentation order to END.  Every tag is copied as it
 * is, but for the SEI added to the frames that carry captions.
 *
 * Prints one line per segment, "segment START END frames F pages P/S
 * pairs N peak K first MS" for each channel scheduled, and at the end
 * "sei N" and "ns_per_frame X" (building the triplets, the SEI and the
 * new tag of a frame that carries captions).
 */


#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dub_cc608.h"
#include "dub_sei.h"


#define FLV_HEADER              9
#define FLV_TAG_HEADER          11
#define FLV_VIDEO               9

#define SEG_MAX                 64


typedef struct {
    int64_t             start;
    int64_t             end;
    const char         *text[2];
} cc_seg_t;


typedef struct {
    size_t              off;        /* the tag's header in the file */
    size_t              size;       /* its body */
    int64_t             dts;
    int                 seg;        /* -1: none */
    dub_cc608_frame_t   cc;
} cc_tag_t;


static int read_file(const char *name, uint8_t **data, size_t *len);
static int scan(const uint8_t *flv, size_t len, cc_tag_t **tags,
    size_t *ntags, unsigned *nalu_size);
static int schedule(cc_tag_t *tags, size_t ntags, cc_seg_t *seg,
    int idx, unsigned rows);
static int write_out(const char *name, const uint8_t *flv, size_t len,
    cc_tag_t *tags, size_t ntags, unsigned nalu_size);
static uint32_t get24(const uint8_t *p);
static uint32_t get32(const uint8_t *p);
static void put24(uint8_t *p, uint32_t v);
static void put32(uint8_t *p, uint32_t v);


int
main(int argc, char **argv)
{
    int         i, nseg;
    size_t      len, ntags;
    uint8_t    *flv;
    unsigned    rows, nalu_size;
    cc_tag_t   *tags;
    cc_seg_t    segs[SEG_MAX];

    rows = DUB_CC608_ROWS;
    i = 1;

    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        rows = (unsigned) atoi(argv[2]);
        i = 3;
    }

    if (argc - i < 6 || (argc - i - 2) % 4 != 0
        || (argc - i - 2) / 4 > SEG_MAX)
    {
        fprintf(stderr, "usage: cc-insert [-r ROWS] IN.flv OUT.flv "
                "START END CC1 CC3 [...]\n");
        return 2;
    }

    nseg = 0;

    for (int a = i + 2; a < argc; a += 4) {
        segs[nseg].start = strtoll(argv[a], NULL, 10);
        segs[nseg].end = strtoll(argv[a + 1], NULL, 10);
        segs[nseg].text[0] = strcmp(argv[a + 2], "-") ? argv[a + 2] : NULL;
        segs[nseg].text[1] = strcmp(argv[a + 3], "-") ? argv[a + 3] : NULL;
        nseg++;
    }

    if (read_file(argv[i], &flv, &len) != 0) {
        return 1;
    }

    if (scan(flv, len, &tags, &ntags, &nalu_size) != 0) {
        return 1;
    }

    for (int s = 0; s < nseg; s++) {
        for (size_t t = 0; t < ntags; t++) {
            if (tags[t].dts >= segs[s].start && tags[t].dts < segs[s].end) {
                tags[t].seg = s;
            }
        }

        if (schedule(tags, ntags, segs, s, rows) != 0) {
            return 1;
        }
    }

    if (write_out(argv[i + 1], flv, len, tags, ntags, nalu_size) != 0) {
        return 1;
    }

    free(tags);
    free(flv);

    return 0;
}


static int
read_file(const char *name, uint8_t **data, size_t *len)
{
    long   n;
    FILE  *f;

    f = fopen(name, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        return -1;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    *data = malloc(n > 0 ? n : 1);
    if (*data == NULL || fread(*data, 1, n, f) != (size_t) n) {
        fprintf(stderr, "%s: cannot read\n", name);
        fclose(f);
        return -1;
    }

    fclose(f);
    *len = n;

    return 0;
}


/* the AVC NALU tags, and the NALU length size from the sequence header */

static int
scan(const uint8_t *flv, size_t len, cc_tag_t **tags, size_t *ntags,
    unsigned *nalu_size)
{
    size_t          off, size, n, cap;
    int32_t         cts;
    cc_tag_t       *t;
    const uint8_t  *body;

    if (len < FLV_HEADER + 4 || memcmp(flv, "FLV", 3) != 0) {
        fprintf(stderr, "not an FLV file\n");
        return -1;
    }

    *nalu_size = 0;
    n = 0;
    cap = 1024;
    t = calloc(cap, sizeof(cc_tag_t));
    if (t == NULL) {
        return -1;
    }

    for (off = get32(flv + 5) + 4; off + FLV_TAG_HEADER <= len;
         off += FLV_TAG_HEADER + size + 4)
    {
        size = get24(flv + off + 1);
        body = flv + off + FLV_TAG_HEADER;

        if (off + FLV_TAG_HEADER + size + 4 > len) {
            break;
        }

        if ((flv[off] & 0x1f) != FLV_VIDEO || size < DUB_AVC_TAG_HEADER
            || (body[0] & 0x0f) != 7)
        {
            continue;
        }

        if (body[1] == 0) {
            if (dub_avc_nalu_size(body, size, nalu_size) != 0) {
                fprintf(stderr, "bad AVC sequence header\n");
                return -1;
            }

            continue;
        }

        if (body[1] != 1) {
            continue;
        }

        if (n == cap) {
            cap *= 2;
            t = realloc(t, cap * sizeof(cc_tag_t));
            if (t == NULL) {
                return -1;
            }
        }

        memset(&t[n], 0, sizeof(cc_tag_t));
        t[n].off = off;
        t[n].size = size;
        t[n].dts = get24(flv + off + 4) | ((int64_t) flv[off + 7] << 24);
        t[n].seg = -1;

        cts = (int32_t) (get24(body + 2) << 8) >> 8;
        t[n].cc.pts = t[n].dts + cts;
        n++;
    }

    if (*nalu_size == 0) {
        fprintf(stderr, "no AVC sequence header\n");
        return -1;
    }

    *tags = t;
    *ntags = n;

    return 0;
}


static int
schedule(cc_tag_t *tags, size_t ntags, cc_seg_t *seg, int idx,
    unsigned rows)
{
    size_t              i, n, first;
    int64_t             start;
    unsigned            field;
    dub_cc608_frame_t  *frames;
    dub_cc608_stats_t   st;

    n = 0;
    first = 0;
    start = INT64_MAX;

    for (i = 0; i < ntags; i++) {
        if (tags[i].seg == idx) {
            if (n++ == 0) {
                first = i;
            }

            if (tags[i].cc.pts < start) {
                start = tags[i].cc.pts;
            }
        }
    }

    if (n == 0) {
        fprintf(stderr, "segment %d has no frames\n", idx);
        return -1;
    }

    /* the segment's frames are consecutive tags */

    frames = calloc(n, sizeof(dub_cc608_frame_t));
    if (frames == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        frames[i].pts = tags[first + i].cc.pts;
    }

    for (field = 0; field < 2; field++) {
        if (seg[idx].text[field] == NULL) {
            continue;
        }

        if (dub_cc608_schedule(frames, n, start, seg[idx].end, field, rows,
                               seg[idx].text[field],
                               strlen(seg[idx].text[field]), &st)
            != 0)
        {
            fprintf(stderr, "segment %d: schedule failed\n", idx);
            return -1;
        }

        printf("segment %lld %lld cc%u frames %zu pages %u/%u pairs %u "
               "peak %u first %lld\n", (long long) seg[idx].start,
               (long long) seg[idx].end, field ? 3 : 1, n, st.shown,
               st.pages, st.pairs, st.peak, (long long) st.first);
    }

    for (i = 0; i < n; i++) {
        tags[first + i].cc = frames[i];
    }

    free(frames);

    return 0;
}


static int
write_out(const char *name, const uint8_t *flv, size_t len, cc_tag_t *tags,
    size_t ntags, unsigned nalu_size)
{
    FILE             *f;
    size_t            t, off, size, nal_len, out_len, sei, prev_end;
    double            ns;
    uint8_t          *out, cc[DUB_CC608_MAX_TRIPLETS * 3], hdr[4];
    uint8_t           nal[DUB_SEI_NAL_MAX], tag[FLV_TAG_HEADER];
    unsigned          count;
    struct timespec   a, b;

    f = fopen(name, "wb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        return -1;
    }

    /* what lies between two AVC NALU tags goes as it is */

    prev_end = 0;
    sei = 0;
    ns = 0;

    for (t = 0; t < ntags; t++) {
        off = tags[t].off;
        size = tags[t].size;

        fwrite(flv + prev_end, 1, off - prev_end, f);
        prev_end = off + FLV_TAG_HEADER + size + 4;

        clock_gettime(CLOCK_MONOTONIC, &a);

        count = dub_cc608_triplets(&tags[t].cc, cc);

        if (count == 0) {
            fwrite(flv + off, 1, FLV_TAG_HEADER + size + 4, f);
            continue;
        }

        out = malloc(size + nalu_size + DUB_SEI_NAL_MAX);
        if (out == NULL) {
            return -1;
        }

        if (dub_sei_cc(cc, count, nal, &nal_len) != 0
            || dub_avc_insert(flv + off + FLV_TAG_HEADER, size, nalu_size,
                              nal, nal_len, out, &out_len)
               != 0)
        {
            fprintf(stderr, "tag at %zu: cannot insert\n", off);
            return -1;
        }

        clock_gettime(CLOCK_MONOTONIC, &b);
        ns += (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);

        memcpy(tag, flv + off, FLV_TAG_HEADER);
        put24(tag + 1, (uint32_t) out_len);
        put32(hdr, (uint32_t) (FLV_TAG_HEADER + out_len));

        fwrite(tag, 1, FLV_TAG_HEADER, f);
        fwrite(out, 1, out_len, f);
        fwrite(hdr, 1, 4, f);

        free(out);
        sei++;
    }

    fwrite(flv + prev_end, 1, len - prev_end, f);

    if (fclose(f) != 0) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        return -1;
    }

    printf("sei %zu\n", sei);
    printf("ns_per_frame %.0f\n", sei ? ns / sei : 0.0);

    return 0;
}


static uint32_t
get24(const uint8_t *p)
{
    return ((uint32_t) p[0] << 16) | ((uint32_t) p[1] << 8) | p[2];
}


static uint32_t
get32(const uint8_t *p)
{
    return ((uint32_t) p[0] << 24) | get24(p + 1);
}


static void
put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 16);
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) v;
}


static void
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    put24(p + 1, v);
}
