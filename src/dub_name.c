
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdint.h>

#include "dub_name.h"


static size_t dub_name_utf8(const unsigned char *p, size_t len,
    uint32_t *cp);
static int dub_name_printable(uint32_t cp);


size_t
dub_name_encode(char *dst, const unsigned char *src, size_t len)
{
    char                  *d;
    size_t                 i, n, k;
    uint32_t               cp;
    static const char      hex[] = "0123456789ABCDEF";

    d = dst;
    i = 0;

    while (i < len) {
        n = dub_name_utf8(src + i, len - i, &cp);

        if (n && dub_name_printable(cp)) {
            for (k = 0; k < n; k++) {
                *d++ = (char) src[i + k];
            }

            i += n;
            continue;
        }

        /*
         * Not printable: every byte of the character; not UTF-8: this
         * byte alone, and the next one is looked at afresh.
         */

        if (n == 0) {
            n = 1;
        }

        for (k = 0; k < n; k++) {
            *d++ = '%';
            *d++ = hex[src[i + k] >> 4];
            *d++ = hex[src[i + k] & 0x0f];
        }

        i += n;
    }

    *d = '\0';

    return (size_t) (d - dst);
}


/*
 * The length of the well-formed UTF-8 character at "p" (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF) and its code
 * point; 0 if there is none.
 */

static size_t
dub_name_utf8(const unsigned char *p, size_t len, uint32_t *cp)
{
    size_t         n, k;
    uint32_t       c;
    unsigned char  lo, hi;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    /* the range of the second byte narrows some leads (RFC 3629) */

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[k] & 0x3f);
    }

    *cp = c;

    return n;
}


static int
dub_name_printable(uint32_t cp)
{
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == '%') {
        return 0;
    }

    if (cp == 0x2028 || cp == 0x2029
        || (cp >= 0x202a && cp <= 0x202e)
        || (cp >= 0x2066 && cp <= 0x2069))
    {
        return 0;
    }

    return 1;
}
