
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "tap.h"
#include "dub_sio.h"


static int
parse(const char *s, dub_sio_packet_t *p)
{
    return dub_sio_parse(s, strlen(s), p);
}


static int
data_is(dub_sio_packet_t *p, const char *s)
{
    return p->data_len == strlen(s) && memcmp(p->data, s, p->data_len) == 0;
}


static void
test_parse(void)
{
    dub_sio_packet_t  p;

    ok(parse("0{\"sid\":\"x\"}", &p) == 0 && p.eio == DUB_EIO_OPEN
       && data_is(&p, "{\"sid\":\"x\"}"), "engine.io open");
    ok(parse("2", &p) == 0 && p.eio == DUB_EIO_PING && p.data_len == 0,
       "ping");
    ok(parse("1", &p) == 0 && p.eio == DUB_EIO_CLOSE, "close");
    ok(parse("6", &p) == 0 && p.eio == DUB_EIO_NOOP, "noop");

    ok(parse("40", &p) == 0 && p.sio == DUB_SIO_CONNECT
       && dub_sio_nsp_is(&p, "/", 1), "connect to /");
    ok(parse("40/sts,{\"sid\":\"a\"}", &p) == 0 && p.sio == DUB_SIO_CONNECT
       && dub_sio_nsp_is(&p, "/sts", 4) && dub_sio_nsp_is(&p, "sts", 3)
       && !dub_sio_nsp_is(&p, "/", 1) && data_is(&p, "{\"sid\":\"a\"}"),
       "connect to /sts with data");
    ok(parse("44/sts,{\"message\":\"no\"}", &p) == 0
       && p.sio == DUB_SIO_CONNECT_ERROR, "connect error");

    ok(parse("42[\"stream:ready\",{}]", &p) == 0 && p.sio == DUB_SIO_EVENT
       && dub_sio_nsp_is(&p, "", 0) && p.ack_id == -1
       && data_is(&p, "[\"stream:ready\",{}]"), "event on /");
    ok(parse("42/sts,7[\"x\"]", &p) == 0 && p.ack_id == 7
       && data_is(&p, "[\"x\"]"), "event with ack id");
    ok(parse("43/sts,12[]", &p) == 0 && p.sio == DUB_SIO_ACK
       && p.ack_id == 12, "ack");
    ok(parse("451-/sts,[\"x\",{\"_placeholder\":true,\"num\":0}]", &p) == 0
       && p.sio == DUB_SIO_BINARY_EVENT && p.attachments == 1
       && dub_sio_nsp_is(&p, "/sts", 4), "binary event");
    ok(parse("4510-[\"x\"]", &p) == 0 && p.attachments == 10,
       "binary event with 10 attachments");
    ok(parse("41/sts,", &p) == 0 && p.sio == DUB_SIO_DISCONNECT, "leave");
    ok(parse("40/sts", &p) == 0 && dub_sio_nsp_is(&p, "/sts", 4)
       && p.data_len == 0, "namespace to the end");

    ok(parse("", &p) != 0, "empty refused");
    ok(parse("9", &p) != 0, "unknown engine.io type refused");
    ok(parse("4", &p) != 0, "message without socket.io type refused");
    ok(parse("47", &p) != 0, "unknown socket.io type refused");
    ok(parse("45[\"x\"]", &p) != 0, "binary event without count refused");
    ok(parse("4599-[]", &p) != 0, "too many attachments refused");
    ok(parse("451", &p) != 0, "binary count without dash refused");
    ok(parse("42/s,99999999999999999999[]", &p) != 0,
       "ack id overflow refused");
}


static void
test_frame(void)
{
    dub_buf_t  b;

    dub_buf_init(&b, 16, 8, 0);

    ok(dub_sio_frame(&b, DUB_SIO_EVENT, "/sts", 4) == 0
       && b.len == 7 && memcmp(b.data, "42/sts,", 7) == 0,
       "event frame on /sts");
    ok(b.data - b.mem == 16, "headroom kept");

    b.len = 0;
    ok(dub_sio_frame(&b, DUB_SIO_CONNECT, "/", 1) == 0 && b.len == 2
       && memcmp(b.data, "40", 2) == 0, "connect frame on /");

    b.len = 0;
    ok(dub_sio_frame(&b, DUB_SIO_DISCONNECT, "sts", 3) == 0 && b.len == 7
       && memcmp(b.data, "41/sts,", 7) == 0, "namespace without slash");

    b.len = 0;
    ok(dub_sio_frame(&b, DUB_SIO_EVENT, "", 0) == 0 && b.len == 2,
       "empty namespace is /");

    dub_buf_free(&b);

    dub_buf_init(&b, 0, 4, 10);
    ok(dub_buf_append(&b, "0123456789", 10) == 0, "buffer up to its max");
    ok(dub_buf_append(&b, "x", 1) != 0 && b.failed, "and no more");
    ok(dub_buf_append(&b, "", 0) != 0, "a failed buffer stays failed");
    dub_buf_free(&b);

    dub_buf_init(&b, 4, 2, 0);
    ok(dub_buf_printf(&b, "%s-%d", "abc", 42) == 0
       && strcmp((char *) b.data, "abc-42") == 0, "printf grows");
    dub_buf_free(&b);
}


int
main(void)
{
    test_parse();
    test_frame();

    return tap_done();
}
