
/*
 * Copyright (C) nginx-dub developers
 *
 * Captions in the output's H.264 stream ("dub_captions on"): when the
 * output starts sending a segment, the text it shows is chosen from its
 * slot's outcome and scheduled on its video frames as CEA-608
 * (dub_cc608.c); each frame that carries some goes out with one more
 * NAL unit, the SEI (dub_sei.c), its own NAL units byte for byte.
 */


#ifndef _NGX_RTMP_DUB_CAPTIONS_H_INCLUDED_
#define _NGX_RTMP_DUB_CAPTIONS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "dub_segment.h"
#include "ngx_rtmp_dub_sts.h"


typedef struct ngx_rtmp_dub_captions_s  ngx_rtmp_dub_captions_t;


/*
 * The captions of "seg", whose slot was just decided: "dubbed", its
 * translation on CC1 and the transcript on CC3; not dubbed, the
 * transcript on both if the STS sent one ("frag" answered), or nothing:
 * the screen is cleared on its first frame.  Pages are shown one after
 * the other across the segment's frames.  "avc_header" is the video
 * sequence header in force, if any (its NALU length size; a header in
 * the segment counts from there on).  "label" and "log" are the
 * stream's; "frag" may be NULL, and is not kept.  Returns NULL when the
 * segment has no H.264 frames or memory is short: it goes out as it is.
 */
ngx_rtmp_dub_captions_t *ngx_rtmp_dub_captions_segment(dub_segment_t *seg,
    ngx_rtmp_dub_frag_t *frag, ngx_uint_t dubbed, ngx_str_t *avc_header,
    ngx_str_t *label, ngx_log_t *log);

/*
 * A tag goes out with "*data", "*len": NGX_OK if it is a frame of the
 * segment that carries captions, "*data" and "*len" then the payload
 * with the SEI before its first slice (valid until the next call);
 * NGX_DECLINED, nothing changed, for any other tag, or with "cc" NULL.
 */
ngx_int_t ngx_rtmp_dub_captions_tag(ngx_rtmp_dub_captions_t *cc,
    dub_tag_t *tag, u_char **data, size_t *len);

/* before its segment is freed; NULL is fine */
void ngx_rtmp_dub_captions_free(ngx_rtmp_dub_captions_t *cc);


#endif /* _NGX_RTMP_DUB_CAPTIONS_H_INCLUDED_ */
