
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "dub_name.h"


/* encodes "in" ("n" bytes) and compares with "want" */

static void
encodes(const char *in, size_t n, const char *want, const char *what)
{
    char    *out;
    size_t   len;

    out = malloc(dub_name_encoded_max(n));
    memset(out, 'x', dub_name_encoded_max(n));

    len = dub_name_encode(out, (const unsigned char *) in, n);

    if (!ok(len == strlen(want) && strcmp(out, want) == 0, "%s", what)) {
        printf("#          got: \"%s\"\n#     expected: \"%s\"\n", out, want);
    }

    free(out);
}


static int
valid_utf8_printable(const char *s)
{
    const unsigned char  *p;

    /* what the encoder may let through: no control byte, no '%' alone */

    for (p = (const unsigned char *) s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


static void
test_kept(void)
{
    encodes("demo", 4, "demo", "plain ASCII kept");
    encodes("a b/c-d_e.f~g!\"\\", 16, "a b/c-d_e.f~g!\"\\",
            "printable ASCII kept, quotes and backslashes too");
    encodes("", 0, "", "empty name");
    encodes("caf\xc3\xa9", 5, "caf\xc3\xa9", "UTF-8 kept");
    encodes("\xe6\x97\xa5\xe6\x9c\xac", 6, "\xe6\x97\xa5\xe6\x9c\xac",
            "three-byte characters kept");
    encodes("\xf0\x9f\x8e\xa4", 4, "\xf0\x9f\x8e\xa4",
            "four-byte character kept");
    encodes("\xef\xbf\xbd", 3, "\xef\xbf\xbd", "U+FFFD kept");
    encodes("\xc2\xa0", 2, "\xc2\xa0", "no-break space (U+00A0) kept");
}


static void
test_encoded(void)
{
    encodes("crlf\r\nX-Injected: yes", 21, "crlf%0D%0AX-Injected: yes",
            "CR and LF encoded");
    encodes("a\tb\x01\x1f", 5, "a%09b%01%1F", "C0 controls encoded");
    encodes("del\x7f", 4, "del%7F", "DEL encoded");
    encodes("100%", 4, "100%25", "'%' encoded");
    encodes("%0D", 3, "%250D", "an encoded-looking name stays distinct");
    encodes("\xc2\x85x", 3, "%C2%85x", "C1 control (NEL) encoded");
    encodes("\xe2\x80\xa8\xe2\x80\xa9", 6, "%E2%80%A8%E2%80%A9",
            "line and paragraph separators encoded");
    encodes("\xe2\x80\xae" "abc", 6, "%E2%80%AEabc",
            "right-to-left override encoded");
    encodes("\xe2\x81\xa6", 3, "%E2%81%A6", "bidi isolate encoded");
}


static void
test_invalid(void)
{
    encodes("\xff", 1, "%FF", "0xff is never UTF-8");
    encodes("a\x80z", 3, "a%80z", "lone continuation byte");
    encodes("\xc3", 1, "%C3", "truncated two-byte character");
    encodes("x\xe2\x82", 3, "x%E2%82", "truncated three-byte character");
    encodes("\xe2\x82" "A", 3, "%E2%82A",
            "a character cut by an ASCII byte: the ASCII byte is kept");
    encodes("\xc3\xc3\xa9", 3, "%C3\xc3\xa9",
            "a broken lead, then a valid character");
    encodes("\xc0\xaf", 2, "%C0%AF", "overlong '/' encoded");
    encodes("\xe0\x80\xaf", 3, "%E0%80%AF", "overlong three-byte form");
    encodes("\xf0\x82\x82\xac", 4, "%F0%82%82%AC", "overlong four-byte form");
    encodes("\xed\xa0\x80", 3, "%ED%A0%80", "UTF-16 surrogate encoded");
    encodes("\xf4\x90\x80\x80", 4, "%F4%90%80%80", "above U+10FFFF");
    encodes("\xf5\x80\x80\x80", 4, "%F5%80%80%80", "lead byte 0xf5");
}


static void
test_limits(void)
{
    char    in[255], *out, want[800];
    size_t  i, len;

    /* nginx-rtmp cuts names at 255 bytes: 127 "é" and half of one */

    for (i = 0; i + 1 < sizeof(in); i += 2) {
        in[i] = '\xc3';
        in[i + 1] = '\xa9';
    }

    in[254] = '\xc3';

    memcpy(want, in, 254);
    strcpy(want + 254, "%C3");

    encodes(in, sizeof(in), want, "a name cut in a character");

    /* the worst case: every byte encoded */

    memset(in, '\n', sizeof(in));

    out = malloc(dub_name_encoded_max(sizeof(in)));
    len = dub_name_encode(out, (unsigned char *) in, sizeof(in));

    is(len, 3 * sizeof(in), "every byte encoded fills the maximum");
    is(out[len], '\0', "and the NUL fits");
    ok(valid_utf8_printable(out), "no control byte left");

    free(out);

    /* a NUL byte, if one gets there, is encoded too */

    encodes("a\0b", 3, "a%00b", "NUL encoded");
}


int
main(void)
{
    test_kept();
    test_encoded();
    test_invalid();
    test_limits();

    return tap_done();
}
