
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "dub_b64.h"


static int
roundtrip(const uint8_t *in, size_t n)
{
    int       ok;
    char     *enc;
    size_t    len;
    uint8_t  *dec;

    enc = malloc(dub_b64_encoded_len(n) + 1);
    dec = malloc(dub_b64_decoded_max(dub_b64_encoded_len(n)) + 1);

    dub_b64_encode(in, n, enc);

    ok = dub_b64_decode(enc, dub_b64_encoded_len(n), dec, &len) == 0
         && len == n && memcmp(in, dec, n) == 0;

    free(enc);
    free(dec);

    return ok;
}


static int
decodes(const char *s, const char *want)
{
    size_t   len;
    uint8_t  out[64];

    if (dub_b64_decode(s, strlen(s), out, &len) != 0) {
        return want == NULL;
    }

    return want && len == strlen(want) && memcmp(out, want, len) == 0;
}


int
main(void)
{
    size_t   i;
    char     enc[16];
    uint8_t  all[256];

    dub_b64_encode((const uint8_t *) "foobar", 6, enc);
    ok(memcmp(enc, "Zm9vYmFy", 8) == 0, "encode foobar");

    dub_b64_encode((const uint8_t *) "fooba", 5, enc);
    ok(memcmp(enc, "Zm9vYmE=", 8) == 0, "encode with one pad");

    dub_b64_encode((const uint8_t *) "foob", 4, enc);
    ok(memcmp(enc, "Zm9vYg==", 8) == 0, "encode with two pads");

    is(dub_b64_encoded_len(0), 0, "empty encodes to nothing");

    ok(decodes("Zm9vYmFy", "foobar"), "decode foobar");
    ok(decodes("Zm9vYg==", "foob"), "decode padded");
    ok(decodes("Zm9vYg", "foob"), "decode without padding");
    ok(decodes("Zm9v\r\nYmFy", "foobar"), "decode across a line break");
    ok(decodes("", ""), "decode empty");

    ok(decodes("Zm9v!mFy", NULL), "reject a character outside the set");
    ok(decodes("Zm9vY", NULL), "reject a dangling sextet");
    ok(decodes("Zm9vYg=x", NULL), "reject data after padding");
    ok(decodes("Zm9vY===", NULL), "reject three pads");
    ok(decodes("Zg=", NULL), "reject a short pad");
    ok(decodes("-_-_", NULL), "reject base64url");

    for (i = 0; i < sizeof(all); i++) {
        all[i] = (uint8_t) i;
    }

    for (i = 0; i <= 5; i++) {
        ok(roundtrip(all, sizeof(all) - i), "round trip of %zu bytes",
           sizeof(all) - i);
    }

    return tap_done();
}
