
/*
 * Copyright (C) nginx-dub developers
 */


#include "dub_b64.h"


static const char  dub_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";


void
dub_b64_encode(const uint8_t *in, size_t n, char *out)
{
    uint32_t  v;

    while (n >= 3) {
        v = ((uint32_t) in[0] << 16) | ((uint32_t) in[1] << 8) | in[2];

        *out++ = dub_b64_alphabet[(v >> 18) & 0x3f];
        *out++ = dub_b64_alphabet[(v >> 12) & 0x3f];
        *out++ = dub_b64_alphabet[(v >> 6) & 0x3f];
        *out++ = dub_b64_alphabet[v & 0x3f];

        in += 3;
        n -= 3;
    }

    if (n) {
        v = (uint32_t) in[0] << 16;

        if (n == 2) {
            v |= (uint32_t) in[1] << 8;
        }

        *out++ = dub_b64_alphabet[(v >> 18) & 0x3f];
        *out++ = dub_b64_alphabet[(v >> 12) & 0x3f];
        *out++ = (n == 2) ? dub_b64_alphabet[(v >> 6) & 0x3f] : '=';
        *out++ = '=';
    }
}


int
dub_b64_decode(const char *in, size_t n, uint8_t *out, size_t *len)
{
    int        c;
    size_t     i, pad;
    uint8_t   *p;
    uint32_t   v, k;

    p = out;
    v = 0;
    k = 0;
    pad = 0;

    for (i = 0; i < n; i++) {
        c = (unsigned char) in[i];

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }

        if (c == '=') {
            pad++;
            continue;
        }

        if (pad) {
            /* data after padding */
            return -1;
        }

        if (c >= 'A' && c <= 'Z') {
            c -= 'A';

        } else if (c >= 'a' && c <= 'z') {
            c = c - 'a' + 26;

        } else if (c >= '0' && c <= '9') {
            c = c - '0' + 52;

        } else if (c == '+') {
            c = 62;

        } else if (c == '/') {
            c = 63;

        } else {
            return -1;
        }

        v = (v << 6) | (uint32_t) c;

        if (++k == 4) {
            *p++ = (uint8_t) (v >> 16);
            *p++ = (uint8_t) (v >> 8);
            *p++ = (uint8_t) v;
            v = 0;
            k = 0;
        }
    }

    if (pad > 2 || (pad && (k + pad) != 4)) {
        return -1;
    }

    switch (k) {

    case 0:
        break;

    case 1:
        /* 6 bits cannot make a byte */
        return -1;

    case 2:
        *p++ = (uint8_t) (v >> 4);
        break;

    default: /* 3 */
        *p++ = (uint8_t) (v >> 10);
        *p++ = (uint8_t) (v >> 2);
        break;
    }

    *len = p - out;

    return 0;
}
