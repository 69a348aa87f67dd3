
/*
 * Copyright (C) nginx-dub developers
 *
 * The module's debug lines: per segment and per fragment, at nginx-rtmp's
 * debug level, as "dub_error_log ... debug" shows them.  Some say more
 * than nginx's ngx_log_debug0() to ngx_log_debug8() take.
 */


#ifndef _NGX_RTMP_DUB_LOG_H_INCLUDED_
#define _NGX_RTMP_DUB_LOG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_rtmp.h"


#if (NGX_DEBUG)

#define ngx_rtmp_dub_debug(log, ...)                                         \
    ngx_log_debug(NGX_LOG_DEBUG_RTMP, log, 0, __VA_ARGS__)

#else

#define ngx_rtmp_dub_debug(log, ...)

#endif


#endif /* _NGX_RTMP_DUB_LOG_H_INCLUDED_ */
