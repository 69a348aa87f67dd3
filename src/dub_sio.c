
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "dub_sio.h"


static int dub_sio_parse_attachments(const char *p, size_t len, size_t *i,
    dub_sio_packet_t *pkt);
static void dub_sio_parse_nsp(const char *p, size_t len, size_t *i,
    dub_sio_packet_t *pkt);
static int dub_sio_parse_ack_id(const char *p, size_t len, size_t *i,
    dub_sio_packet_t *pkt);


int
dub_sio_parse(const char *p, size_t len, dub_sio_packet_t *pkt)
{
    size_t  i;

    memset(pkt, 0, sizeof(dub_sio_packet_t));

    pkt->nsp = "/";
    pkt->nsp_len = 1;
    pkt->ack_id = -1;

    if (len < 1 || p[0] < '0' || p[0] > '6') {
        return -1;
    }

    pkt->eio = p[0] - '0';

    if (pkt->eio != DUB_EIO_MESSAGE) {
        pkt->data = p + 1;
        pkt->data_len = len - 1;
        return 0;
    }

    if (len < 2 || p[1] < '0' || p[1] > '6') {
        return -1;
    }

    pkt->sio = p[1] - '0';
    i = 2;

    if (dub_sio_parse_attachments(p, len, &i, pkt) != 0) {
        return -1;
    }

    dub_sio_parse_nsp(p, len, &i, pkt);

    if (dub_sio_parse_ack_id(p, len, &i, pkt) != 0) {
        return -1;
    }

    pkt->data = p + i;
    pkt->data_len = len - i;

    return 0;
}


/* a binary packet: "<attachments>-" */

static int
dub_sio_parse_attachments(const char *p, size_t len, size_t *i,
    dub_sio_packet_t *pkt)
{
    size_t    j;
    unsigned  n;

    if (pkt->sio != DUB_SIO_BINARY_EVENT && pkt->sio != DUB_SIO_BINARY_ACK) {
        return 0;
    }

    j = *i;
    n = 0;

    while (j < len && p[j] >= '0' && p[j] <= '9') {
        n = n * 10 + (p[j++] - '0');

        if (n > DUB_SIO_MAX_ATTACHMENTS) {
            return -1;
        }
    }

    if (j == *i || j == len || p[j] != '-') {
        return -1;
    }

    pkt->attachments = n;
    *i = j + 1;

    return 0;
}


/* "/nsp," */

static void
dub_sio_parse_nsp(const char *p, size_t len, size_t *i, dub_sio_packet_t *pkt)
{
    size_t  j;

    j = *i;

    if (j >= len || p[j] != '/') {
        return;
    }

    pkt->nsp = p + j;

    while (j < len && p[j] != ',') {
        j++;
    }

    pkt->nsp_len = (p + j) - pkt->nsp;

    if (j < len) {
        j++;
    }

    *i = j;
}


/* the acknowledgement id, digits before the JSON */

static int
dub_sio_parse_ack_id(const char *p, size_t len, size_t *i,
    dub_sio_packet_t *pkt)
{
    size_t  j;

    j = *i;

    if (j >= len || p[j] < '0' || p[j] > '9') {
        return 0;
    }

    pkt->ack_id = 0;

    while (j < len && p[j] >= '0' && p[j] <= '9') {
        if (pkt->ack_id > (INT64_MAX - 9) / 10) {
            return -1;
        }

        pkt->ack_id = pkt->ack_id * 10 + (p[j++] - '0');
    }

    *i = j;

    return 0;
}


int
dub_sio_frame(dub_buf_t *b, int sio, const char *nsp, size_t nsp_len)
{
    char  head[2];

    head[0] = '0' + DUB_EIO_MESSAGE;
    head[1] = (char) ('0' + sio);

    if (dub_buf_append(b, head, 2) != 0) {
        return -1;
    }

    if (nsp_len && nsp[0] == '/') {
        nsp++;
        nsp_len--;
    }

    if (nsp_len == 0) {
        return 0;
    }

    if (dub_buf_append(b, "/", 1) != 0
        || dub_buf_append(b, nsp, nsp_len) != 0
        || dub_buf_append(b, ",", 1) != 0)
    {
        return -1;
    }

    return 0;
}


int
dub_sio_nsp_is(const dub_sio_packet_t *pkt, const char *nsp, size_t nsp_len)
{
    if (nsp_len && nsp[0] == '/') {
        nsp++;
        nsp_len--;
    }

    if (pkt->nsp_len == 0 || pkt->nsp[0] != '/') {
        return nsp_len == 0;
    }

    return pkt->nsp_len - 1 == nsp_len
           && memcmp(pkt->nsp + 1, nsp, nsp_len) == 0;
}
