
/*
 * Copyright (C) nginx-dub developers
 *
 * FLV/RTMP media tag bodies: what kind of tag, keyframe or sequence
 * header, and the AAC AudioSpecificConfig.  Plain C, no nginx.
 */


#ifndef _DUB_FLV_H_INCLUDED_
#define _DUB_FLV_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define DUB_TRACK_VIDEO         0
#define DUB_TRACK_AUDIO         1

#define DUB_FLV_AUDIO_AAC       10
#define DUB_FLV_VIDEO_AVC       7

#define DUB_FLV_KEY_FRAME       1

/* dub_tag_t flags */
#define DUB_TAG_KEY             0x01
#define DUB_TAG_HEADER          0x02


typedef struct {
    unsigned        codec;      /* SoundFormat or CodecID */
    unsigned        flags;      /* DUB_TAG_KEY, DUB_TAG_HEADER */
    int32_t         cts;        /* AVC composition time offset, ms */
    size_t          body;       /* offset of the codec payload */
} dub_flv_tag_t;


typedef struct {
    unsigned        object_type;
    unsigned        sample_rate;
    unsigned        channels;
    unsigned        frame_length;   /* samples per frame, 1024 or 960 */
} dub_aac_config_t;


/*
 * Returns 0 and fills "tag", or -1 when the body is too short to be a
 * tag of that track.
 */
int dub_flv_parse(unsigned track, const uint8_t *p, size_t len,
    dub_flv_tag_t *tag);

/*
 * Parses an AudioSpecificConfig (the body of an AAC sequence header
 * after its two FLV bytes).  Returns 0, or -1 when it is malformed or
 * describes something this module cannot carry.
 */
int dub_aac_config_parse(const uint8_t *p, size_t len,
    dub_aac_config_t *cfg);


#endif /* _DUB_FLV_H_INCLUDED_ */
