
/*
 * Copyright (C) nginx-dub developers
 *
 * A stream name as it leaves nginx: in the X-Stream-ID header, the JSON
 * stream_id, the metrics label and the log.  Publishers choose the name,
 * any bytes up to nginx-rtmp's limit; what leaves must be text that a
 * header line, a JSON string and a Prometheus label can carry.  Plain C,
 * no nginx.
 */


#ifndef _DUB_NAME_H_INCLUDED_
#define _DUB_NAME_H_INCLUDED_


#include <stddef.h>


/* the most an encoded name of "len" bytes takes, its NUL included */
#define dub_name_encoded_max(len)  (3 * (len) + 1)


/*
 * Writes the name's outgoing form into "dst" (at least
 * dub_name_encoded_max(len) bytes), NUL-terminated, and returns its
 * length.  Valid UTF-8 printable text is kept as it is; '%', control
 * characters (U+0000-U+001F, U+007F-U+009F), the line and paragraph
 * separators (U+2028, U+2029), the bidirectional controls (U+202A-U+202E,
 * U+2066-U+2069) and every byte of an invalid or truncated UTF-8 sequence
 * become %XX (upper-case hex), one per byte.  Different names stay
 * different: '%' itself is encoded.
 */
size_t dub_name_encode(char *dst, const unsigned char *src, size_t len);


#endif /* _DUB_NAME_H_INCLUDED_ */
