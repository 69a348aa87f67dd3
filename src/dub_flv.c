
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "dub_flv.h"


static int dub_bits(const uint8_t *p, size_t len, size_t *pos, unsigned n,
    unsigned *out);


static const unsigned  dub_aac_rates[] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
    16000, 12000, 11025, 8000, 7350
};


int
dub_flv_parse(unsigned track, const uint8_t *p, size_t len,
    dub_flv_tag_t *tag)
{
    memset(tag, 0, sizeof(dub_flv_tag_t));

    if (len < 1) {
        return -1;
    }

    if (track == DUB_TRACK_AUDIO) {
        tag->codec = p[0] >> 4;
        tag->body = 1;

        if (tag->codec == DUB_FLV_AUDIO_AAC) {
            if (len < 2) {
                return -1;
            }

            if (p[1] == 0) {
                tag->flags |= DUB_TAG_HEADER;
            }

            tag->body = 2;
        }

        return 0;
    }

    tag->codec = p[0] & 0x0f;
    tag->body = 1;

    if (tag->codec == DUB_FLV_VIDEO_AVC) {
        if (len < 5) {
            return -1;
        }

        if (p[1] == 0) {
            tag->flags |= DUB_TAG_HEADER;
        }

        /* SI24, sign-extended */
        tag->cts = (int32_t) (((uint32_t) p[2] << 24)
                              | ((uint32_t) p[3] << 16)
                              | ((uint32_t) p[4] << 8)) >> 8;
        tag->body = 5;
    }

    if ((p[0] >> 4) == DUB_FLV_KEY_FRAME && !(tag->flags & DUB_TAG_HEADER)) {
        tag->flags |= DUB_TAG_KEY;
    }

    return 0;
}


int
dub_aac_config_parse(const uint8_t *p, size_t len, dub_aac_config_t *cfg)
{
    size_t    pos;
    unsigned  idx;

    memset(cfg, 0, sizeof(dub_aac_config_t));

    pos = 0;

    if (dub_bits(p, len, &pos, 5, &cfg->object_type) != 0) {
        return -1;
    }

    if (cfg->object_type == 31) {
        if (dub_bits(p, len, &pos, 6, &cfg->object_type) != 0) {
            return -1;
        }

        cfg->object_type += 32;
    }

    if (dub_bits(p, len, &pos, 4, &idx) != 0) {
        return -1;
    }

    if (idx == 15) {
        if (dub_bits(p, len, &pos, 24, &cfg->sample_rate) != 0) {
            return -1;
        }

    } else if (idx < sizeof(dub_aac_rates) / sizeof(dub_aac_rates[0])) {
        cfg->sample_rate = dub_aac_rates[idx];

    } else {
        return -1;
    }

    if (dub_bits(p, len, &pos, 4, &cfg->channels) != 0) {
        return -1;
    }

    if (cfg->channels == 7) {
        cfg->channels = 8;
    }

    /* GASpecificConfig: frameLengthFlag */

    cfg->frame_length = 1024;

    if (cfg->object_type <= 4 && dub_bits(p, len, &pos, 1, &idx) == 0
        && idx)
    {
        cfg->frame_length = 960;
    }

    if (cfg->object_type == 0 || cfg->sample_rate == 0
        || cfg->channels == 0)
    {
        return -1;
    }

    return 0;
}


static int
dub_bits(const uint8_t *p, size_t len, size_t *pos, unsigned n,
    unsigned *out)
{
    unsigned  v;

    if (*pos + n > len * 8) {
        return -1;
    }

    for (v = 0; n; n--, (*pos)++) {
        v = (v << 1) | ((p[*pos / 8] >> (7 - *pos % 8)) & 1);
    }

    *out = v;

    return 0;
}
