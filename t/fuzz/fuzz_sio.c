
/*
 * Copyright (C) nginx-dub developers
 *
 * libFuzzer target: the Engine.IO/Socket.IO packet layer on any message
 * an STS could send, and framing what was parsed back.
 */


#include <stdlib.h>
#include <string.h>

#include "dub_sio.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dub_buf_t         b;
    dub_sio_packet_t  pkt, again;

    if (dub_sio_parse((const char *) data, size, &pkt) != 0) {
        return 0;
    }

    if (pkt.data + pkt.data_len != (const char *) data + size
        || pkt.nsp_len == 0)
    {
        abort();
    }

    /* the client frames neither binary packets nor acks */

    if (pkt.eio != DUB_EIO_MESSAGE || pkt.ack_id != -1
        || pkt.sio == DUB_SIO_BINARY_EVENT || pkt.sio == DUB_SIO_BINARY_ACK)
    {
        return 0;
    }

    /*
     * a message framed again the way the client frames its own parses
     * back to the same type and namespace
     */

    if (dub_buf_init(&b, 16, 64, 0) != 0) {
        return 0;
    }

    if (dub_sio_frame(&b, pkt.sio, pkt.nsp, pkt.nsp_len) == 0
        && (pkt.nsp_len == 1 || memchr(pkt.nsp, ',', pkt.nsp_len) == NULL))
    {
        if (dub_sio_parse((char *) b.data, b.len, &again) != 0
            || again.sio != pkt.sio
            || !dub_sio_nsp_is(&again, pkt.nsp, pkt.nsp_len))
        {
            abort();
        }
    }

    dub_buf_free(&b);

    return 0;
}
