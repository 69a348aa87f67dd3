
/*
 * Copyright (C) nginx-dub developers
 *
 * A language's output: an in-process publisher session in its output
 * application, fed the bridge's tags when they are due.
 */


#ifndef _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_
#define _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp_dub_bridge.h"


ngx_int_t ngx_rtmp_dub_output_open(ngx_rtmp_dub_lang_t *l, int64_t ts);
ngx_int_t ngx_rtmp_dub_output_send(ngx_rtmp_dub_lang_t *l, dub_tag_t *tag,
    u_char *data, size_t len);
void ngx_rtmp_dub_output_close(ngx_rtmp_dub_lang_t *l);


#endif /* _NGX_RTMP_DUB_OUTPUT_H_INCLUDED_ */
