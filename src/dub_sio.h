
/*
 * Copyright (C) nginx-dub developers
 *
 * Engine.IO v4 / Socket.IO v5 packets over WebSocket text messages:
 * parsing what the server sends, framing what the client sends.  Plain
 * C, no nginx.
 */


#ifndef _DUB_SIO_H_INCLUDED_
#define _DUB_SIO_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "dub_buf.h"


/* Engine.IO packet types */
typedef enum {
    DUB_EIO_OPEN = 0,
    DUB_EIO_CLOSE,
    DUB_EIO_PING,
    DUB_EIO_PONG,
    DUB_EIO_MESSAGE,
    DUB_EIO_UPGRADE,
    DUB_EIO_NOOP
} dub_eio_e;

/* Socket.IO packet types, inside an Engine.IO message */
#define DUB_SIO_CONNECT         0
#define DUB_SIO_DISCONNECT      1
#define DUB_SIO_EVENT           2
#define DUB_SIO_ACK             3
#define DUB_SIO_CONNECT_ERROR   4
#define DUB_SIO_BINARY_EVENT    5
#define DUB_SIO_BINARY_ACK      6

#define DUB_SIO_MAX_ATTACHMENTS 16


typedef struct {
    int             eio;            /* DUB_EIO_* */
    int             sio;            /* DUB_SIO_*, for DUB_EIO_MESSAGE */
    unsigned        attachments;    /* binary messages that follow */
    const char     *nsp;            /* "/" when absent */
    size_t          nsp_len;
    int64_t         ack_id;         /* -1 when absent */
    const char     *data;           /* the rest: JSON, or the open packet */
    size_t          data_len;
} dub_sio_packet_t;


/* Returns 0, or -1 when the message is not an Engine.IO packet. */
int dub_sio_parse(const char *p, size_t len, dub_sio_packet_t *pkt);

/*
 * Appends the frame of a Socket.IO packet: "4", the type, "/nsp," unless
 * the namespace is "/".  The JSON follows.  Returns 0, or -1 when out of
 * memory.
 */
int dub_sio_frame(dub_buf_t *b, int sio, const char *nsp, size_t nsp_len);

/* Is this the namespace (given as "/x" or "x", "" meaning "/")? */
int dub_sio_nsp_is(const dub_sio_packet_t *pkt, const char *nsp,
    size_t nsp_len);


#endif /* _DUB_SIO_H_INCLUDED_ */
