
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "dub_sei.h"


#define DUB_NAL_SEI             6
#define DUB_SEI_T35             4       /* user_data_registered_itu_t_t35 */
#define DUB_T35_USA             0xb5
#define DUB_T35_ATSC            0x0031
#define DUB_A53_CC              0x03    /* user_data_type_code: cc_data */


size_t
dub_nal_escape(const uint8_t *rbsp, size_t len, uint8_t *out)
{
    size_t    i, n;
    unsigned  zeros;

    n = 0;
    zeros = 0;

    for (i = 0; i < len; i++) {
        if (zeros >= 2 && rbsp[i] <= 0x03) {
            out[n++] = 0x03;
            zeros = 0;
        }

        out[n++] = rbsp[i];
        zeros = rbsp[i] ? 0 : zeros + 1;
    }

    return n;
}


int
dub_sei_cc(const uint8_t *cc, unsigned count, uint8_t *nal, size_t *len)
{
    uint8_t  *p, rbsp[DUB_SEI_RBSP_MAX];

    if (count < 1 || count > DUB_SEI_CC_MAX) {
        return -1;
    }

    p = rbsp;

    /* sei_message(): payloadType, payloadSize, both under 255 */

    *p++ = DUB_SEI_T35;
    *p++ = (uint8_t) (11 + 3 * count);

    /* user_data_registered_itu_t_t35(): ATSC A/53 user data */

    *p++ = DUB_T35_USA;
    *p++ = DUB_T35_ATSC >> 8;
    *p++ = DUB_T35_ATSC & 0xff;
    *p++ = 'G';
    *p++ = 'A';
    *p++ = '9';
    *p++ = '4';
    *p++ = DUB_A53_CC;

    /* cc_data(): reserved 1, process_cc_data_flag 1, zero bit, cc_count;
       em_data (reserved) */

    *p++ = (uint8_t) (0xc0 | count);
    *p++ = 0xff;

    memcpy(p, cc, 3 * count);
    p += 3 * count;

    *p++ = 0xff;        /* marker_bits */

    *p++ = 0x80;        /* rbsp_stop_one_bit and alignment */

    nal[0] = DUB_NAL_SEI;
    *len = 1 + dub_nal_escape(rbsp, p - rbsp, nal + 1);

    return 0;
}


int
dub_avc_nalu_size(const uint8_t *tag, size_t len, unsigned *size)
{
    const uint8_t  *rec;

    /* AVC, AVCPacketType 0, then the record: version, profile,
       compatibility, level, lengthSizeMinusOne */

    if (len < DUB_AVC_TAG_HEADER + 5 || (tag[0] & 0x0f) != 7 || tag[1] != 0)
    {
        return -1;
    }

    rec = tag + DUB_AVC_TAG_HEADER;

    if (rec[0] != 1) {
        return -1;
    }

    *size = (rec[4] & 0x03) + 1;

    if (*size == 3) {
        return -1;
    }

    return 0;
}


int
dub_avc_sei_pos(const uint8_t *tag, size_t len, unsigned size, size_t *pos)
{
    size_t    off, nlen, at;
    unsigned  i, type;

    if (size != 1 && size != 2 && size != 4) {
        return -1;
    }

    if (len < DUB_AVC_TAG_HEADER || (tag[0] & 0x0f) != 7 || tag[1] != 1) {
        return -1;
    }

    off = DUB_AVC_TAG_HEADER;
    at = 0;

    /* every NAL unit must be whole, the insertion point is the first
       slice's */

    while (off < len) {
        if (len - off < size) {
            return -1;
        }

        for (nlen = 0, i = 0; i < size; i++) {
            nlen = (nlen << 8) | tag[off + i];
        }

        if (nlen > len - off - size) {
            return -1;
        }

        if (nlen && at == 0) {
            type = tag[off + size] & 0x1f;

            if (type >= 1 && type <= 5) {
                at = off;
            }
        }

        off += size + nlen;
    }

    if (at == 0) {
        return -1;
    }

    *pos = at;

    return 0;
}


int
dub_avc_insert(const uint8_t *tag, size_t len, unsigned size,
    const uint8_t *nal, size_t nal_len, uint8_t *out, size_t *out_len)
{
    size_t    pos;
    unsigned  i;

    if (nal_len == 0 || (size < 4 && nal_len >> (8 * size))) {
        return -1;
    }

    if (dub_avc_sei_pos(tag, len, size, &pos) != 0) {
        return -1;
    }

    memcpy(out, tag, pos);

    for (i = 0; i < size; i++) {
        out[pos + i] = (uint8_t) (nal_len >> (8 * (size - 1 - i)));
    }

    memcpy(out + pos + size, nal, nal_len);
    memcpy(out + pos + size + nal_len, tag + pos, len - pos);

    *out_len = len + size + nal_len;

    return 0;
}
