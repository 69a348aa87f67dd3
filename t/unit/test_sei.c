
/*
 * Copyright (C) nginx-dub developers
 *
 * The captions' SEI NAL unit and the FLV AVC tag it goes into.
 */


#include <string.h>

#include "tap.h"
#include "dub_sei.h"


/* NAL units of a tag body after its 5-byte header, lengths "size" bytes:
   returns the count, fills offsets and lengths (of the NAL units) */

static int
split(const uint8_t *tag, size_t len, unsigned size, size_t *off,
    size_t *nlen, int max)
{
    int       n;
    size_t    p, l;
    unsigned  i;

    for (n = 0, p = DUB_AVC_TAG_HEADER; p < len && n < max; n++) {
        for (l = 0, i = 0; i < size; i++) {
            l = (l << 8) | tag[p + i];
        }

        off[n] = p + size;
        nlen[n] = l;
        p += size + l;
    }

    return p == len ? n : -1;
}


/* builds a tag: header, then NAL units with "size"-byte lengths */

static size_t
build(uint8_t *tag, unsigned size, const uint8_t **nal, const size_t *len,
    int n)
{
    int       k;
    size_t    p;
    unsigned  i;

    memcpy(tag, "\x17\x01\x00\x00\x42", 5);
    p = 5;

    for (k = 0; k < n; k++) {
        for (i = 0; i < size; i++) {
            tag[p++] = (uint8_t) (len[k] >> (8 * (size - 1 - i)));
        }

        memcpy(tag + p, nal[k], len[k]);
        p += len[k];
    }

    return p;
}


static void
test_escape(void)
{
    size_t         n;
    uint8_t        out[64];
    static const uint8_t  in[] = {
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x04
    };
    static const uint8_t  want[] = {
        0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x03,
        0x00, 0x00, 0x04
    };

    n = dub_nal_escape(in, sizeof(in), out);
    ok(n == sizeof(want) && memcmp(out, want, n) == 0,
       "escape: 0x03 after two zeros before 0x00..0x03, not before 0x04");

    n = dub_nal_escape((const uint8_t *) "\x01\x02\xff", 3, out);
    ok(n == 3 && memcmp(out, "\x01\x02\xff", 3) == 0,
       "escape: nothing to escape");
}


static void
test_sei(void)
{
    size_t          len;
    uint8_t         nal[DUB_SEI_NAL_MAX], cc[DUB_SEI_CC_MAX * 3];
    static const uint8_t  one[] = {
        0x06,                           /* nal_unit_type 6 */
        0x04, 0x0e,                     /* T.35, 14 bytes */
        0xb5, 0x00, 0x31,               /* USA, ATSC */
        'G', 'A', '9', '4', 0x03,       /* cc_data */
        0xc1, 0xff,                     /* flags and cc_count 1, em_data */
        0xfc, 0x94, 0x20,               /* field 1: RCL */
        0xff,                           /* marker bits */
        0x80                            /* rbsp trailing bits */
    };
    static const uint8_t  zeros[] = {
        0xc1, 0xff, 0x00, 0x00, 0x03, 0x00, 0xff, 0x80
    };

    ok(dub_sei_cc((const uint8_t *) "\xfc\x94\x20", 1, nal, &len) == 0
       && len == sizeof(one) && memcmp(nal, one, len) == 0,
       "sei: one triplet, byte for byte");

    /* cc_data with parity never has two zero bytes; a caller's zeros are
       escaped all the same */

    ok(dub_sei_cc((const uint8_t *) "\x00\x00\x00", 1, nal, &len) == 0
       && len == sizeof(one) + 1
       && memcmp(nal + 11, zeros, sizeof(zeros)) == 0,
       "sei: emulation prevention inside the payload");

    memset(cc, 0xfc, sizeof(cc));
    ok(dub_sei_cc(cc, DUB_SEI_CC_MAX, nal, &len) == 0
       && len == 1 + DUB_SEI_RBSP_MAX && nal[2] == 11 + 3 * DUB_SEI_CC_MAX
       && nal[11] == (0xc0 | DUB_SEI_CC_MAX) && nal[len - 2] == 0xff,
       "sei: 31 triplets, size %zu", len);

    ok(dub_sei_cc(cc, 0, nal, &len) == -1, "sei: no triplet refused");
    ok(dub_sei_cc(cc, 32, nal, &len) == -1, "sei: 32 triplets refused");
}


static void
test_nalu_size(void)
{
    unsigned  size;
    uint8_t   hdr[] = { 0x17, 0x00, 0x00, 0x00, 0x00,
                        0x01, 0x64, 0x00, 0x1f, 0xff, 0xe1 };

    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == 0 && size == 4,
       "nalu size: 4 from lengthSizeMinusOne 3");

    hdr[9] = 0xfd;
    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == 0 && size == 2,
       "nalu size: 2");

    hdr[9] = 0xfc;
    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == 0 && size == 1,
       "nalu size: 1");

    hdr[9] = 0xfe;
    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == -1,
       "nalu size: 3 refused");

    ok(dub_avc_nalu_size(hdr, 9, &size) == -1, "nalu size: short record");

    hdr[9] = 0xff;
    hdr[1] = 0x01;
    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == -1,
       "nalu size: not a sequence header");

    hdr[1] = 0x00;
    hdr[5] = 0x02;
    ok(dub_avc_nalu_size(hdr, sizeof(hdr), &size) == -1,
       "nalu size: unknown record version");
}


static void
test_insert(void)
{
    int             n, k;
    size_t          len, out_len, pos, sei_len;
    size_t          off[8], nlen[8], ooff[8], onlen[8];
    uint8_t         tag[256], out[512], sei[DUB_SEI_NAL_MAX];
    unsigned        size;
    static const uint8_t  aud[] = { 0x09, 0xf0 };
    static const uint8_t  own[] = { 0x06, 0x05, 0x01, 0xaa, 0x80 };
    static const uint8_t  sps[] = { 0x67, 0x64, 0x00, 0x1f };
    static const uint8_t  idr[] = { 0x65, 0x88, 0x84, 0x00, 0x00, 0x03 };
    static const uint8_t  sl2[] = { 0x65, 0x00, 0x11 };
    const uint8_t  *nals[] = { aud, own, sps, idr, sl2 };
    size_t          lens[] = { sizeof(aud), sizeof(own), sizeof(sps),
                               sizeof(idr), sizeof(sl2) };

    dub_sei_cc((const uint8_t *) "\xfc\x94\x2f", 1, sei, &sei_len);

    for (size = 1; size <= 4; size *= 2) {
        len = build(tag, size, nals, lens, 5);

        ok(dub_avc_sei_pos(tag, len, size, &pos) == 0
           && pos == 5 + 3 * size + sizeof(aud) + sizeof(own) + sizeof(sps),
           "insert (%u): before the first slice", size);

        ok(dub_avc_insert(tag, len, size, sei, sei_len, out, &out_len) == 0
           && out_len == len + size + sei_len,
           "insert (%u): one NAL unit longer", size);

        n = split(out, out_len, size, ooff, onlen, 8);
        split(tag, len, size, off, nlen, 8);

        ok(n == 6 && memcmp(out, tag, 5) == 0,
           "insert (%u): header kept, 6 NAL units", size);

        for (k = 0; k < 5; k++) {
            int  o = k < 3 ? k : k + 1;

            if (onlen[o] != nlen[k]
                || memcmp(out + ooff[o], tag + off[k], nlen[k]) != 0)
            {
                break;
            }
        }

        is(k, 5, "insert (%u): every NAL unit of the tag byte-identical",
           size);
        ok(onlen[3] == sei_len && memcmp(out + ooff[3], sei, sei_len) == 0,
           "insert (%u): the SEI after AUD, SEI and SPS", size);
    }

    /* a slice first */

    len = build(tag, 4, &nals[3], &lens[3], 2);
    ok(dub_avc_sei_pos(tag, len, 4, &pos) == 0 && pos == 5,
       "insert: a tag that starts with its slice");

    /* an empty NAL unit is skipped */

    {
        const uint8_t  *z[] = { aud, idr };
        size_t          zl[] = { 0, sizeof(idr) };

        len = build(tag, 4, z, zl, 2);
        ok(dub_avc_sei_pos(tag, len, 4, &pos) == 0 && pos == 9,
           "insert: an empty NAL unit before the slice");
    }

    /* what is refused, and leaves "out" alone */

    len = build(tag, 4, nals, lens, 5);
    memset(out, 0x5a, sizeof(out));

    ok(dub_avc_insert(tag, len - 1, 4, sei, sei_len, out, &out_len) == -1,
       "insert: a NAL unit past the end refused");
    ok(dub_avc_insert(tag, len + 2, 4, sei, sei_len, out, &out_len) == -1,
       "insert: a length cut short refused");
    ok(dub_avc_insert(tag, len, 3, sei, sei_len, out, &out_len) == -1,
       "insert: 3-byte lengths refused");
    ok(dub_avc_insert(tag, 4, 4, sei, sei_len, out, &out_len) == -1,
       "insert: a tag shorter than its header refused");
    ok(dub_avc_insert(tag, len, 1, sei, 300, out, &out_len) == -1,
       "insert: a NAL unit longer than 1-byte lengths refused");

    len = build(tag, 4, nals, lens, 3);
    ok(dub_avc_insert(tag, len, 4, sei, sei_len, out, &out_len) == -1,
       "insert: a tag without a slice refused");

    len = build(tag, 4, nals, lens, 5);
    tag[1] = 0;
    ok(dub_avc_insert(tag, len, 4, sei, sei_len, out, &out_len) == -1,
       "insert: a sequence header refused");

    tag[1] = 1;
    tag[0] = 0x12;
    ok(dub_avc_insert(tag, len, 4, sei, sei_len, out, &out_len) == -1,
       "insert: not AVC refused");

    for (k = 0; k < (int) sizeof(out) && out[k] == 0x5a; k++) {
        /* void */
    }

    is(k, sizeof(out), "insert: refused, nothing written");
}


int
main(void)
{
    test_escape();
    test_sei();
    test_nalu_size();
    test_insert();

    return tap_done();
}
