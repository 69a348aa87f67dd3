
/*
 * Copyright (C) nginx-dub developers
 *
 * libFuzzer target: the contract's JSON payloads, every parser on any
 * text, and the base64 of dubbed audio.
 */


#include <stdlib.h>
#include <string.h>

#include "dub_b64.h"
#include "dub_json.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                     *text, err[DUB_JSON_ERRLEN], msg[64];
    size_t                    len;
    uint8_t                  *raw;
    dub_json_event_t          ev;
    dub_json_ready_t          r;
    dub_json_ack_t            a;
    dub_json_processed_t      p;
    dub_json_backpressure_t   bp;
    dub_json_error_t          e;
    dub_json_complete_t       c;
    dub_json_open_t           o;

    /* messages arrive NUL-terminated */

    text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, data, size);
    text[size] = '\0';

    (void) dub_json_open(text, size, &o, err, sizeof(err));
    dub_json_connect_error(text, size, msg, sizeof(msg));

    if (dub_json_event_parse(text, size, &ev, err, sizeof(err)) == 0) {
        (void) dub_json_ready(ev.payload, &r, err, sizeof(err));
        (void) dub_json_ack(ev.payload, &a, err, sizeof(err));
        (void) dub_json_backpressure(ev.payload, &bp, err, sizeof(err));
        (void) dub_json_error(ev.payload, &e, err, sizeof(err));
        (void) dub_json_complete(ev.payload, &c, err, sizeof(err));

        if (dub_json_processed(ev.payload, &p, err, sizeof(err)) == 0
            && p.data_base64)
        {
            raw = malloc(dub_b64_decoded_max(p.data_base64_len) + 1);

            if (raw) {
                if (dub_b64_decode(p.data_base64, p.data_base64_len, raw,
                                   &len) == 0
                    && len > dub_b64_decoded_max(p.data_base64_len))
                {
                    abort();
                }

                free(raw);
            }
        }

        dub_json_event_free(&ev);
    }

    free(text);

    return 0;
}
