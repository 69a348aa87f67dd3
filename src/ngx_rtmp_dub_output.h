
/*
 * Copyright (C) nginx-dub developers
 *
 * A bridge's output: an in-process publisher session in the output
 * application, fed the bridge's tags when they are due.
 */


#ifndef _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_
#define _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_bridge.h"


ngx_int_t ngx_rtmp_dub_output_open(ngx_rtmp_dub_bridge_t *b, int64_t ts);
ngx_int_t ngx_rtmp_dub_output_send(ngx_rtmp_dub_bridge_t *b,
    dub_segment_t *seg, dub_tag_t *tag, u_char *data, size_t len);
void ngx_rtmp_dub_output_close(ngx_rtmp_dub_bridge_t *b);


#endif /* _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_ */
