
/*
 * Copyright (C) nginx-dub developers
 *
 * A language of a bridge: its STS session, the choice at each segment's
 * slot between its dubbed audio and the original, and what it sends to
 * its output.
 */


#ifndef _NGX_RTMP_DUB_LANG_H_INCLUDED_
#define _NGX_RTMP_DUB_LANG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_bridge.h"


ngx_int_t ngx_rtmp_dub_lang_init(ngx_rtmp_dub_bridge_t *b,
    ngx_rtmp_dub_lang_t *l, ngx_rtmp_dub_lang_conf_t *conf,
    ngx_rtmp_dub_sts_done_pt done);
void ngx_rtmp_dub_lang_free(ngx_rtmp_dub_lang_t *l);

void ngx_rtmp_dub_lang_fragment(ngx_rtmp_dub_lang_t *l,
    ngx_rtmp_dub_seg_t *ds);
void ngx_rtmp_dub_lang_slot(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg);
ngx_int_t ngx_rtmp_dub_lang_emit(ngx_rtmp_dub_lang_t *l, dub_segment_t *seg,
    dub_tag_t *tag);
void ngx_rtmp_dub_lang_done(ngx_rtmp_dub_lang_t *l);
void ngx_rtmp_dub_lang_summary(ngx_rtmp_dub_lang_t *l);


#endif /* _NGX_RTMP_DUB_LANG_H_INCLUDED_ */
