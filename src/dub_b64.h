
/*
 * Copyright (C) nginx-dub developers
 *
 * Base64 (RFC 4648, standard alphabet).  Plain C, no nginx.
 */


#ifndef _DUB_B64_H_INCLUDED_
#define _DUB_B64_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define dub_b64_encoded_len(n)  ((((n) + 2) / 3) * 4)
#define dub_b64_decoded_max(n)  ((((n) + 3) / 4) * 3)


/* Writes dub_b64_encoded_len(n) characters, no terminating NUL. */
void dub_b64_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes "n" characters into "out" (at least dub_b64_decoded_max(n)
 * bytes).  Padding is optional, ASCII whitespace is skipped (MIME line
 * breaks); anything else outside the alphabet fails.  Returns 0 and the
 * length in "*len", or -1.
 */
int dub_b64_decode(const char *in, size_t n, uint8_t *out, size_t *len);


#endif /* _DUB_B64_H_INCLUDED_ */
