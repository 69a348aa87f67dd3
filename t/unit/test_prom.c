
/*
 * Copyright (C) nginx-dub developers
 */


#include <string.h>

#include "tap.h"
#include "dub_prom.h"


static int
out_is(dub_buf_t *b, const char *want)
{
    int  same;

    same = (b->len == strlen(want) && memcmp(b->data, want, b->len) == 0);

    if (!same) {
        printf("#   got: \"%.*s\"\n#  want: \"%s\"\n", (int) b->len,
               (char *) b->data, want);
    }

    b->len = 0;

    return same;
}


int
main(void)
{
    dub_buf_t    b;
    const char  *l1[] = { "stream", "live/a\"b\\c\nd", "lang", "es", NULL };
    const char  *l0[] = { NULL };

    dub_buf_init(&b, 0, 16, 0);

    dub_prom_family(&b, "nginx_dub_x_total", "counter",
                    "A \"line\"\nwith \\ a break");
    ok(out_is(&b, "# HELP nginx_dub_x_total A \"line\"\\nwith \\\\ a "
                  "break\n# TYPE nginx_dub_x_total counter\n"),
       "family: HELP escaped (not its quotes), TYPE");

    dub_prom_sample_u64(&b, "nginx_dub_x_total", l1, 18446744073709551615ULL);
    ok(out_is(&b, "nginx_dub_x_total{stream=\"live/a\\\"b\\\\c\\nd\","
                  "lang=\"es\"} 18446744073709551615\n"),
       "labels escaped, 64-bit value exact");

    dub_prom_sample(&b, "g", l0, 0.25);
    ok(out_is(&b, "g 0.25\n"), "no labels, a fraction");

    dub_prom_sample(&b, "g", NULL, 3);
    ok(out_is(&b, "g 3\n"), "an integer without exponent");

    dub_prom_sample(&b, "g", NULL, 1.0 / 0.0);
    ok(out_is(&b, "g +Inf\n"), "+Inf");

    dub_prom_sample(&b, "g", NULL, 0.0 / 0.0);
    ok(out_is(&b, "g NaN\n"), "NaN");

    dub_prom_escape(&b, "plain", 5);
    ok(out_is(&b, "plain"), "nothing to escape");

    dub_prom_escape(&b, "\"\"", 2);
    ok(out_is(&b, "\\\"\\\""), "quotes only");

    {
        char             le[16];
        size_t           i;
        static const struct { uint64_t us; const char *s; } bounds[] = {
            { 50000, "0.05" }, { 1000, "0.001" }, { 250000, "0.25" },
            { 1000000, "1" }, { 8000000, "8" }, { 2500000, "2.5" },
            { 1, "0.000001" }, { 0, "0" }
        };

        for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
            dub_prom_seconds(le, sizeof(le), bounds[i].us);
            ok(strcmp(le, bounds[i].s) == 0, "bucket bound %s s from %llu us",
               bounds[i].s, (unsigned long long) bounds[i].us);
        }
    }

    dub_buf_free(&b);

    return tap_done();
}
