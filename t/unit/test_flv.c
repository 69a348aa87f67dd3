
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "tap.h"
#include "dub_flv.h"


static void
test_video(void)
{
    dub_flv_tag_t  t;
    uint8_t        hdr[] = { 0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64 };
    uint8_t        key[] = { 0x17, 0x01, 0x00, 0x00, 0x42, 0xaa };
    uint8_t        inter[] = { 0x27, 0x01, 0xff, 0xff, 0xdf, 0xaa };
    uint8_t        eos[] = { 0x17, 0x02, 0x00, 0x00, 0x00 };
    uint8_t        vp6[] = { 0x14, 0x00 };

    ok(dub_flv_parse(DUB_TRACK_VIDEO, hdr, sizeof(hdr), &t) == 0,
       "avc header parses");
    is(t.codec, DUB_FLV_VIDEO_AVC, "avc codec id");
    is(t.flags, DUB_TAG_HEADER, "avc sequence header is a header, not key");
    is(t.body, 5, "avc body offset");

    ok(dub_flv_parse(DUB_TRACK_VIDEO, key, sizeof(key), &t) == 0,
       "keyframe parses");
    is(t.flags, DUB_TAG_KEY, "keyframe flag");
    is(t.cts, 66, "positive composition time");

    ok(dub_flv_parse(DUB_TRACK_VIDEO, inter, sizeof(inter), &t) == 0,
       "inter frame parses");
    is(t.flags, 0, "inter frame has no flags");
    is(t.cts, -33, "negative composition time is sign-extended");

    ok(dub_flv_parse(DUB_TRACK_VIDEO, eos, sizeof(eos), &t) == 0,
       "end of sequence parses");
    is(t.flags, DUB_TAG_KEY, "end of sequence in a key tag");

    ok(dub_flv_parse(DUB_TRACK_VIDEO, key, 4, &t) != 0,
       "truncated avc tag is refused");
    ok(dub_flv_parse(DUB_TRACK_VIDEO, key, 0, &t) != 0,
       "empty video tag is refused");

    ok(dub_flv_parse(DUB_TRACK_VIDEO, vp6, sizeof(vp6), &t) == 0,
       "non-avc video parses");
    is(t.codec, 4, "vp6 codec id");
    is(t.flags, DUB_TAG_KEY, "vp6 keyframe by frame type");
}


static void
test_audio(void)
{
    dub_flv_tag_t  t;
    uint8_t        hdr[] = { 0xaf, 0x00, 0x12, 0x10 };
    uint8_t        raw[] = { 0xaf, 0x01, 0x21, 0x00 };
    uint8_t        mp3[] = { 0x2f, 0xff };

    ok(dub_flv_parse(DUB_TRACK_AUDIO, hdr, sizeof(hdr), &t) == 0,
       "aac header parses");
    is(t.codec, DUB_FLV_AUDIO_AAC, "aac sound format");
    is(t.flags, DUB_TAG_HEADER, "aac sequence header");
    is(t.body, 2, "aac body offset");

    ok(dub_flv_parse(DUB_TRACK_AUDIO, raw, sizeof(raw), &t) == 0,
       "aac raw parses");
    is(t.flags, 0, "aac raw frame has no flags");

    ok(dub_flv_parse(DUB_TRACK_AUDIO, raw, 1, &t) != 0,
       "aac tag without packet type is refused");

    ok(dub_flv_parse(DUB_TRACK_AUDIO, mp3, sizeof(mp3), &t) == 0,
       "mp3 parses");
    is(t.codec, 2, "mp3 sound format");
    is(t.body, 1, "mp3 body offset");
}


static void
test_aac_config(void)
{
    dub_aac_config_t  c;
    uint8_t           lc44s[] = { 0x12, 0x10 };
    uint8_t           lc48m[] = { 0x11, 0x88 };
    uint8_t           lc960[] = { 0x12, 0x14 };
    uint8_t           he[] = { 0x2b, 0x92, 0x08, 0x00 };
    uint8_t           esc[] = { 0xf8, 0x06, 0x20 };
    uint8_t           explicit[] = { 0x17, 0x80, 0x1f, 0x40, 0x08 };
    uint8_t           badrate[] = { 0x16, 0x90 };
    uint8_t           nochan[] = { 0x12, 0x00 };

    ok(dub_aac_config_parse(lc44s, sizeof(lc44s), &c) == 0, "lc 44.1k");
    is(c.object_type, 2, "lc object type");
    is(c.sample_rate, 44100, "44.1k rate");
    is(c.channels, 2, "stereo");
    is(c.frame_length, 1024, "1024 samples");

    ok(dub_aac_config_parse(lc48m, sizeof(lc48m), &c) == 0, "lc 48k mono");
    is(c.sample_rate, 48000, "48k rate");
    is(c.channels, 1, "mono");

    ok(dub_aac_config_parse(lc960, sizeof(lc960), &c) == 0, "lc 960");
    is(c.frame_length, 960, "960 samples");

    ok(dub_aac_config_parse(he, sizeof(he), &c) == 0, "sbr explicit");
    is(c.object_type, 5, "he-aac object type");
    is(c.sample_rate, 22050, "core rate");

    ok(dub_aac_config_parse(esc, sizeof(esc), &c) == 0, "escaped type");
    is(c.object_type, 32, "escaped object type");
    is(c.sample_rate, 48000, "escaped rate");
    is(c.channels, 1, "escaped channels");

    ok(dub_aac_config_parse(explicit, sizeof(explicit), &c) == 0,
       "explicit rate");
    is(c.sample_rate, 16000, "explicit 24-bit rate");
    is(c.channels, 1, "explicit rate channels");

    ok(dub_aac_config_parse(badrate, sizeof(badrate), &c) != 0,
       "reserved rate index refused");
    ok(dub_aac_config_parse(nochan, sizeof(nochan), &c) != 0,
       "channel config 0 refused");
    ok(dub_aac_config_parse(lc44s, 1, &c) != 0, "truncated refused");
    ok(dub_aac_config_parse(explicit, 3, &c) != 0,
       "truncated explicit rate refused");
}


int
main(void)
{
    test_video();
    test_audio();
    test_aac_config();

    return tap_done();
}
