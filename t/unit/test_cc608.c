
/*
 * Copyright (C) nginx-dub developers
 *
 * CEA-608 from text: the character mapping, word wrap and pages, the
 * byte pairs of a page, the schedule on frames.  A small pop-on decoder
 * written here from CEA-608's tables reads the pairs back.
 */


#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "dub_cc608.h"


#define T(s)                    s, sizeof(s) - 1


/* a pop-on decoder: two memories of 15 rows, the cursor, the last code */
typedef struct {
    char                mem[2][16][DUB_CC608_COLS][4];
    int                 shown;
    unsigned            row;
    unsigned            col;
    uint8_t             last[2];
    unsigned            bad_parity;
    unsigned            eoc;
    unsigned            edm;
    char                text[1024];     /* the displayed memory, at EOC */
} dec_t;


/* CEA-608's characters that are not ASCII, as UTF-8 */
static const char  *basic_608[128] = {
    [0x27] = "'", [0x2a] = "\u00e1", [0x5c] = "\u00e9", [0x5e] = "\u00ed",
    [0x5f] = "\u00f3", [0x60] = "\u00fa", [0x7b] = "\u00e7",
    [0x7c] = "\u00f7", [0x7d] = "\u00d1", [0x7e] = "\u00f1",
    [0x7f] = "\u2588"
};

static const char  *special_608[16] = {
    "\u00ae", "\u00b0", "\u00bd", "\u00bf", "\u2122", "\u00a2", "\u00a3",
    "\u266a", "\u00e0", " ", "\u00e8", "\u00e2", "\u00ea", "\u00ee",
    "\u00f4", "\u00fb"
};

static const char  *ext12_608[32] = {
    "\u00c1", "\u00c9", "\u00d3", "\u00da", "\u00dc", "\u00fc", "`",
    "\u00a1", "*", "'", "-", "\u00a9", "\u2120", ".", "\u201c",
    "\u201d", "\u00c0", "\u00c2", "\u00c7", "\u00c8", "\u00ca",
    "\u00cb", "\u00eb", "\u00ce", "\u00cf", "\u00ef", "\u00d4",
    "\u00d9", "\u00f9", "\u00db", "\u00ab", "\u00bb"
};

static const char  *ext13_608[32] = {
    "\u00c3", "\u00e3", "\u00cd", "\u00cc", "\u00ec", "\u00d2", "\u00f2",
    "\u00d5", "\u00f5", "{", "}", "\\", "^", "_", "|", "~", "\u00c4",
    "\u00e4", "\u00d6", "\u00f6", "\u00df", "\u00a5", "\u00a4", "\u00a6",
    "\u00c5", "\u00e5", "\u00d8", "\u00f8", "\u250c", "\u2510",
    "\u2514", "\u2518"
};

/* PAC first byte and bit 5 of the second: the row (0: none) */
static const unsigned  pac_rows[16] = {
    11, 0, 1, 2, 3, 4, 12, 13, 14, 15, 5, 6, 7, 8, 9, 10
};


static int
odd(uint8_t b)
{
    int  n;

    for (n = 0; b; b >>= 1) {
        n += b & 1;
    }

    return n & 1;
}


static void
dec_put(dec_t *d, const char *s)
{
    if (d->col < DUB_CC608_COLS) {
        snprintf(d->mem[!d->shown][d->row][d->col], 4, "%s", s);
        d->col++;
    }
}


static void
dec_capture(dec_t *d)
{
    unsigned  r, c;
    size_t    n;

    d->text[0] = '\0';
    n = 0;

    for (r = 1; r <= 15; r++) {
        int  any = 0;

        for (c = 0; c < DUB_CC608_COLS; c++) {
            const char  *s = d->mem[d->shown][r][c];

            if (s[0] == '\0') {
                continue;
            }

            if (!any && n) {
                n += snprintf(d->text + n, sizeof(d->text) - n, "|");
            }

            any = 1;
            n += snprintf(d->text + n, sizeof(d->text) - n, "%s", s);
        }
    }
}


static void
dec_pair(dec_t *d, uint8_t b1, uint8_t b2)
{
    char  s[2];

    if (!odd(b1) || !odd(b2)) {
        d->bad_parity++;
    }

    b1 &= 0x7f;
    b2 &= 0x7f;

    if (b1 == 0 && b2 == 0) {
        return;
    }

    if (b1 >= 0x10 && b1 < 0x20) {
        if (b1 == d->last[0] && b2 == d->last[1]) {
            d->last[0] = 0;     /* the repeat, once */
            return;
        }

        d->last[0] = b1;
        d->last[1] = b2;

        if ((b1 == 0x14 || b1 == 0x15) && b2 >= 0x20 && b2 < 0x30) {
            switch (b2) {
            case 0x2c:
                memset(d->mem[d->shown], 0, sizeof(d->mem[0]));
                d->edm++;
                d->text[0] = '\0';
                break;
            case 0x2e:
                memset(d->mem[!d->shown], 0, sizeof(d->mem[0]));
                break;
            case 0x2f:
                d->shown = !d->shown;
                d->eoc++;
                dec_capture(d);
                break;
            }

        } else if (b2 >= 0x40) {
            d->row = pac_rows[((b1 & 0x07) << 1) | ((b2 >> 5) & 1)];
            d->col = (b2 & 0x10) ? ((b2 & 0x0e) >> 1) * 4 : 0;

        } else if (b1 == 0x17 && b2 >= 0x21 && b2 <= 0x23) {
            d->col += b2 - 0x20;

        } else if (b1 == 0x11 && b2 >= 0x30) {
            dec_put(d, special_608[b2 - 0x30]);

        } else if ((b1 == 0x12 || b1 == 0x13) && b2 >= 0x20) {
            if (d->col) {
                d->col--;
            }

            dec_put(d, b1 == 0x12 ? ext12_608[b2 - 0x20]
                                  : ext13_608[b2 - 0x20]);
        }

        return;
    }

    d->last[0] = 0;

    s[1] = '\0';

    if (b1 >= 0x20) {
        s[0] = (char) b1;
        dec_put(d, basic_608[b1] ? basic_608[b1] : s);
    }

    if (b2 >= 0x20) {
        s[0] = (char) b2;
        dec_put(d, basic_608[b2] ? basic_608[b2] : s);
    }
}


/* the text of mapped cells, as the decoder shows it */

static char *
cells_text(const char *text, size_t len)
{
    dec_t                d;
    size_t               i, n;
    dub_cc608_cell_t     cells[256];
    static char          out[1024];

    memset(&d, 0, sizeof(dec_t));
    n = dub_cc608_map(text, len, cells, 256);
    d.row = 1;

    for (i = 0; i < n && i < DUB_CC608_COLS; i++) {
        if (cells[i].set == DUB_CC608_BASIC) {
            dec_pair(&d, dub_cc608_parity(cells[i].chr), 0x80);

        } else if (cells[i].set == DUB_CC608_SPECIAL) {
            dec_pair(&d, 0x91, dub_cc608_parity(cells[i].code));

        } else {
            dec_pair(&d, dub_cc608_parity(cells[i].chr), 0x80);
            dec_pair(&d, dub_cc608_parity(cells[i].set),
                     dub_cc608_parity(cells[i].code));
        }

        d.last[0] = 0;
    }

    d.shown = 1;
    dec_capture(&d);
    snprintf(out, sizeof(out), "%s", d.text);

    return out;
}


static void
test_parity(void)
{
    unsigned  b, bad;

    for (bad = 0, b = 0; b < 128; b++) {
        uint8_t  p = dub_cc608_parity((uint8_t) b);

        if (!odd(p) || (p & 0x7f) != b) {
            bad++;
        }
    }

    is(bad, 0, "parity: every 7-bit value gets odd parity, bits kept");
    is(dub_cc608_parity(0x14), 0x94, "parity: 0x14 is 0x94");
    is(dub_cc608_parity(0x2f), 0x2f, "parity: 0x2f stays");
    is(dub_cc608_parity(0x00), 0x80, "parity: null is 0x80");
    is(dub_cc608_parity(0xae), 0xae, "parity: a byte with parity keeps it");
}


static void
test_map(void)
{
    size_t            n;
    dub_cc608_cell_t  c[64];

    n = dub_cc608_map(T("\u00e9\u00f1\u00e7"), c, 64);
    ok(n == 3 && c[0].set == DUB_CC608_BASIC && c[0].chr == 0x5c
       && c[1].chr == 0x7e && c[2].chr == 0x7b,
       "map: e acute, n tilde, c cedilla are in the basic set");

    n = dub_cc608_map(T("\u00fc\u00df"), c, 64);
    ok(n == 2 && c[0].set == 0x12 && c[0].code == 0x25 && c[0].chr == 'u'
       && c[1].set == 0x13 && c[1].code == 0x34 && c[1].chr == 's',
       "map: u diaeresis, sharp s are extended, with a fallback");

    n = dub_cc608_map(T("\u00bf\u00e0\u266a"), c, 64);
    ok(n == 3 && c[0].set == 0x11 && c[0].code == 0x33
       && c[1].set == 0x11 && c[1].code == 0x38 && c[2].code == 0x37,
       "map: inverted question mark, a grave, note are special");

    n = dub_cc608_map(T("\u00ab\u00bb"), c, 64);
    ok(n == 2 && c[0].set == 0x12 && c[0].code == 0x3e && c[0].chr == '"'
       && c[1].code == 0x3f, "map: guillemets are extended");

    n = dub_cc608_map(T("*~"), c, 64);
    ok(n == 2 && c[0].set == 0x12 && c[0].code == 0x28
       && c[1].set == 0x13 && c[1].code == 0x2f,
       "map: ASCII * and ~ (basic 608 has letters there) are extended");

    n = dub_cc608_map(T("\xf0\x9f\x98\x80!"), c, 64);
    ok(n == 2 && c[0].chr == '?' && c[1].chr == '!',
       "map: an emoji is one question mark");

    n = dub_cc608_map(T("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\xef\xb8\x8f"),
                      c, 64);
    ok(n == 1 && c[0].chr == '?',
       "map: emoji, skin tone and variation selector: one question mark");

    is(dub_cc608_map(T("  a \t\n  b  "), c, 64), 3,
       "map: white space collapsed and trimmed");
    ok(c[0].chr == 'a' && c[1].chr == ' ' && c[2].chr == 'b',
       "map: one space between words");

    ok(strcmp(cells_text(T("e\u0301 n\u0303 U\u0308 x\u0301")),
              "\u00e9 \u00f1 \u00dc x") == 0,
       "map: combining marks composed where 608 has the letter");

    ok(strcmp(cells_text(T("\u0101\u0142\u0151 \u1ec7 \u021b")),
              "alo e t") == 0,
       "map: letters 608 has not lose their accent");

    ok(strcmp(cells_text(T("c\u0153ur \u00e6 5\u20ac\u2026")),
              "coeur ae 5EUR...") == 0,
       "map: ligatures, euro, ellipsis spelled");

    ok(strcmp(cells_text(T("\u0434\u0430 \u4e2d")), "?? ?") == 0,
       "map: other scripts: a question mark a character");

    ok(strcmp(cells_text(T("a\xffz \xc0\xaf \xe2\x82")), "a?z ?? ??") == 0,
       "map: invalid, overlong and cut UTF-8: a question mark a byte");

    ok(strcmp(cells_text(T("a\u200bb\u00adc\xef\xbb\xbf")), "abc") == 0,
       "map: zero-width characters dropped");

    ok(strcmp(cells_text(T("\u2018x\u2019 \u201cy\u201d \u2014")),
              "'x' \u201cy\u201d -") == 0,
       "map: quotes and dashes");

    ok(strcmp(cells_text(T("\u00a1Qu\u00e9 \u00c9l \u00d1 \u00e3 \u00f5 "
                           "\u00c4\u00d6\u00dc\u00e4\u00f6")),
              "\u00a1Qu\u00e9 \u00c9l \u00d1 \u00e3 \u00f5 "
              "\u00c4\u00d6\u00dc\u00e4\u00f6") == 0,
       "map: Spanish, Portuguese and German letters read back");

    ok(strcmp(cells_text(T("\u00e0\u00e2\u00e7\u00e8\u00e9\u00ea\u00eb"
                           "\u00ee\u00ef\u00f4\u00f9\u00fb\u00ff")),
              "\u00e0\u00e2\u00e7\u00e8\u00e9\u00ea\u00eb\u00ee\u00ef"
              "\u00f4\u00f9\u00fby") == 0,
       "map: French letters read back (y diaeresis as y)");

    is(dub_cc608_map(T("abcdef"), c, 4), 6,
       "map: the whole count when cut");
    is(dub_cc608_map(NULL, 5, c, 4), 0, "map: no text");
    is(dub_cc608_map(T(" \u200b "), c, 4), 0, "map: only blanks");
}


/* the rows of pages as text, rows "|", pages "/" */

static char *
layout_text(const char *text, size_t len, unsigned rows, size_t *np)
{
    size_t             n, p, i;
    unsigned           r;
    dub_cc608_cell_t   cells[512];
    dub_cc608_page_t   pages[32];
    static char        out[2048];
    char              *o;

    n = dub_cc608_map(text, len, cells, 512);
    *np = dub_cc608_layout(cells, n, rows, pages, 32);
    o = out;

    for (p = 0; p < *np; p++) {
        for (r = 0; r < pages[p].rows; r++) {
            for (i = 0; i < pages[p].len[r]; i++) {
                *o++ = (char) cells[pages[p].start[r] + i].chr;
            }

            *o++ = r + 1 < pages[p].rows ? '|' : '/';
        }
    }

    *o = '\0';

    return out;
}


static void
test_layout(void)
{
    size_t       np;
    const char  *s;

    s = layout_text(T("The quick brown fox jumps over the lazy dog and "
                      "then it runs far away into the green forest "
                      "where nobody can see it any more."), 2, &np);
    ok(strcmp(s, "The quick brown fox jumps over|"
                 "the lazy dog and then it runs/"
                 "far away into the green forest|"
                 "where nobody can see it any/"
                 "more./") == 0, "layout: words wrapped at 32, 2 rows a page");
    is(np, 3, "layout: three pages");

    s = layout_text(T("The quick brown fox jumps over the lazy dog"), 4, &np);
    ok(strcmp(s, "The quick brown fox jumps over|the lazy dog/") == 0
       && np == 1, "layout: one page of 4 rows holds it");

    s = layout_text(T("a Donaudampfschifffahrtsgesellschaftskapitaen b"),
                    2, &np);
    ok(strcmp(s, "a|Donaudampfschifffahrtsgesellscha/ftskapitaen b/") == 0,
       "layout: a word longer than a row is cut");

    s = layout_text(T("exactly thirty-two characters ok"), 1, &np);
    ok(strcmp(s, "exactly thirty-two characters ok/") == 0,
       "layout: a row of exactly 32");

    s = layout_text(T(""), 2, &np);
    is(np, 0, "layout: no text, no page");

    s = layout_text(T("x"), 5, &np);
    is(np, 0, "layout: 5 rows refused");
}


static void
test_page_pairs(void)
{
    size_t            n, np;
    uint8_t           pairs[DUB_CC608_PAGE_PAIRS][2];
    dub_cc608_cell_t  cells[64];
    dub_cc608_page_t  pages[4];
    static const uint8_t  hi[][2] = {
        { 0x94, 0x20 }, { 0x94, 0x20 },     /* RCL */
        { 0x94, 0xae }, { 0x94, 0xae },     /* ENM */
        { 0x94, 0x76 }, { 0x94, 0x76 },     /* PAC row 15, indent 12 */
        { 0x97, 0xa2 }, { 0x97, 0xa2 },     /* tab offset 2 */
        { 0xc8, 0xe9 },                     /* Hi */
        { 0x20, 0xdc }                      /* space, e acute */
    };
    static const uint8_t  ue[][2] = {
        { 0xd5, 0x80 },                     /* U, its fallback */
        { 0x92, 0xa4 }, { 0x92, 0xa4 },     /* U diaeresis */
        { 0x62, 0xe5 }                      /* be */
    };
    static const uint8_t  aa[][2] = {
        { 0x91, 0x38 }, { 0x91, 0x38 },     /* a grave */
        { 0x94, 0x20 },                     /* RCL between */
        { 0x91, 0x38 }, { 0x91, 0x38 }      /* a grave again */
    };

    n = dub_cc608_map(T("Hi \u00e9"), cells, 64);
    np = dub_cc608_layout(cells, n, 2, pages, 4);
    n = dub_cc608_page_pairs(cells, &pages[0], DUB_CC608_CC1, pairs,
                             DUB_CC608_PAGE_PAIRS);
    ok(np == 1 && n == 10 && memcmp(pairs, hi, sizeof(hi)) == 0,
       "pairs: RCL, ENM, PAC, tab offset, characters, each code twice");

    n = dub_cc608_map(T("\u00dcbe"), cells, 64);
    dub_cc608_layout(cells, n, 2, pages, 4);
    n = dub_cc608_page_pairs(cells, &pages[0], DUB_CC608_CC1, pairs,
                             DUB_CC608_PAGE_PAIRS);
    ok(n == 12 && memcmp(pairs[8], ue, sizeof(ue)) == 0,
       "pairs: extended character after its fallback");

    n = dub_cc608_map(T("\u00e0\u00e0"), cells, 64);
    dub_cc608_layout(cells, n, 2, pages, 4);
    n = dub_cc608_page_pairs(cells, &pages[0], DUB_CC608_CC1, pairs,
                             DUB_CC608_PAGE_PAIRS);
    ok(n == 13 && memcmp(pairs[8], aa, sizeof(aa)) == 0,
       "pairs: the same special character twice has a code between");

    n = dub_cc608_map(T("Hi"), cells, 64);
    dub_cc608_layout(cells, n, 2, pages, 4);
    n = dub_cc608_page_pairs(cells, &pages[0], DUB_CC608_CC3, pairs,
                             DUB_CC608_PAGE_PAIRS);
    ok(n == 9 && pairs[0][0] == 0x15 && pairs[0][1] == 0x20
       && pairs[2][0] == 0x15 && pairs[2][1] == 0xae,
       "pairs: CC3 misc codes are 0x15");

    n = dub_cc608_page_pairs(cells, &pages[0], DUB_CC608_CC1, pairs, 3);
    is(n, 0, "pairs: too small a buffer");
}


/* frames of 30 fps with B-frames: decode order I P B B, pts shifted */

static dub_cc608_frame_t *
make_frames(size_t n, int64_t t0)
{
    size_t              i;
    dub_cc608_frame_t  *f;
    static const int    order[4] = { 0, 3, 1, 2 };

    f = calloc(n, sizeof(dub_cc608_frame_t));

    for (i = 0; i < n; i++) {
        f[i].pts = t0 + 100 * (int64_t) (i / 4 * 4 + order[i % 4]) / 3 + 67;
    }

    return f;
}


/* the decoder run on one field in presentation order: the texts shown
   and when */

typedef struct {
    unsigned    shown;
    char        text[8][1024];
    int64_t     at[8];
    unsigned    edm;
    int64_t     edm_at;
    unsigned    bad_parity;
    unsigned    most;           /* pairs on a frame, at most */
    unsigned    most_nominal;   /* at most, on frames without an EOC */
} run_t;


static void
run_field(dub_cc608_frame_t *f, size_t n, unsigned field, dec_t *d,
    run_t *r)
{
    size_t    i, j, k, *ord;
    unsigned  eoc, eoc0;

    memset(r, 0, sizeof(run_t));
    ord = malloc(n * sizeof(size_t));

    for (i = 0; i < n; i++) {
        ord[i] = i;
    }

    for (i = 1; i < n; i++) {
        for (j = i; j > 0 && f[ord[j - 1]].pts > f[ord[j]].pts; j--) {
            k = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = k;
        }
    }

    for (i = 0; i < n; i++) {
        dub_cc608_frame_t  *fr = &f[ord[i]];

        eoc = d->eoc;
        eoc0 = eoc;

        if (fr->n[field] > r->most) {
            r->most = fr->n[field];
        }

        for (j = 0; j < fr->n[field]; j++) {
            unsigned  edm = d->edm;

            dec_pair(d, fr->pair[field][j][0], fr->pair[field][j][1]);

            if (d->eoc != eoc && r->shown < 8) {
                snprintf(r->text[r->shown], 1024, "%s", d->text);
                r->at[r->shown++] = fr->pts;
                eoc = d->eoc;
            }

            if (d->edm != edm) {
                r->edm++;
                r->edm_at = fr->pts;
            }
        }

        if (d->eoc == eoc0 && fr->n[field] > r->most_nominal
            && r->shown > 0)
        {
            r->most_nominal = fr->n[field];
        }
    }

    r->bad_parity = d->bad_parity;
    free(ord);
}


static void
test_schedule(void)
{
    dec_t               d;
    run_t               r;
    dub_cc608_frame_t  *f;
    dub_cc608_stats_t   st;
    static const char   es[] =
        "\u00bfD\u00f3nde est\u00e1 la estaci\u00f3n? El se\u00f1or "
        "Mu\u00f1oz lleg\u00f3 tarde, pero \u00a1qu\u00e9 alegr\u00eda "
        "verte aqu\u00ed otra vez!";

    /* 6 s at 30 fps, two pages */

    f = make_frames(180, 6000);

    ok(dub_cc608_schedule(f, 180, 6067, 12067, DUB_CC608_CC1, 2,
                          es, sizeof(es) - 1, &st) == 0,
       "schedule: 6 s, 2 rows");
    ok(st.pages == 2 && st.shown == 2 && st.cut == 0,
       "schedule: 2 pages, both shown");

    memset(&d, 0, sizeof(dec_t));
    run_field(f, 180, 0, &d, &r);

    is(r.bad_parity, 0, "schedule: every byte has odd parity");
    is(r.shown, 2, "schedule: two EOCs");
    ok(strcmp(r.text[0], "\u00bfD\u00f3nde est\u00e1 la estaci\u00f3n? "
              "El|se\u00f1or Mu\u00f1oz lleg\u00f3 tarde, pero") == 0,
       "schedule: page 1 shows its text: %s", r.text[0]);
    ok(strcmp(r.text[1], "\u00a1qu\u00e9 alegr\u00eda verte aqu\u00ed "
              "otra|vez!") == 0, "schedule: page 2: %s", r.text[1]);
    ok(r.at[0] >= 6067 && r.at[0] <= 6067 + 200,
       "schedule: page 1 shown within 6 frames of the start (%lld)",
       (long long) r.at[0]);
    is(st.first, r.at[0], "schedule: stats give the first EOC");

    /* page 1 has 27 + 29 characters, page 2 28 + 4: page 2 is due at
       56 / 88 of 6 s, and shown on the first frame at or after that */

    ok(r.at[1] >= 6067 + 6000 * 56 / 88 && r.at[1] <= 6067 + 6000 * 56 / 88
       + 34, "schedule: page 2 at its share of the time (%lld)",
       (long long) r.at[1]);
    ok(r.most <= DUB_CC608_MAX_PAIRS, "schedule: at most %d pairs a frame",
       DUB_CC608_MAX_PAIRS);
    ok(r.most_nominal <= 1,
       "schedule: page 2 loads at one pair a frame (%u)", r.most_nominal);

    /* the same text in 1 s: page 2 must be loaded faster */

    ok(dub_cc608_schedule(f, 30, 6067, 7067, DUB_CC608_CC1, 2,
                          es, sizeof(es) - 1, &st) == 0
       && st.shown == 2, "schedule: 1 s, both pages");
    memset(&d, 0, sizeof(dec_t));
    run_field(f, 30, 0, &d, &r);
    ok(r.shown == 2 && r.most_nominal > 1
       && r.most <= DUB_CC608_MAX_PAIRS && r.bad_parity == 0,
       "schedule: several pairs a frame when the time is short (%u)",
       r.most_nominal);

    /* CC3 beside CC1 */

    ok(dub_cc608_schedule(f, 180, 6067, 12067, DUB_CC608_CC1, 2,
                          es, sizeof(es) - 1, &st) == 0
       && dub_cc608_schedule(f, 180, 6067, 12067, DUB_CC608_CC3, 4,
                          T("Where is the station?"), &st) == 0,
       "schedule: CC3");
    memset(&d, 0, sizeof(dec_t));
    run_field(f, 180, 1, &d, &r);
    ok(r.shown == 1 && strcmp(r.text[0], "Where is the station?") == 0,
       "schedule: CC3 shows its text");
    memset(&d, 0, sizeof(dec_t));
    run_field(f, 180, 0, &d, &r);
    is(r.shown, 2, "schedule: CC1 left as it was");

    /* nothing to say: EDM on the first frame in presentation order */

    f[0].pts = 6100;
    f[1].pts = 6033;
    f[2].pts = 6067;
    ok(dub_cc608_schedule(f, 180, 6033, 12067, DUB_CC608_CC1, 2, T(""),
                          &st) == 0, "schedule: empty text");
    ok(f[1].n[0] == 2 && f[1].pair[0][0][0] == 0x94
       && f[1].pair[0][0][1] == 0x2c && f[1].pair[0][1][1] == 0x2c,
       "schedule: EDM twice on the first frame shown");
    ok(f[0].n[0] == 0 && f[2].n[0] == 0 && st.pairs == 2
       && st.first == 6033, "schedule: and nothing else");

    ok(dub_cc608_schedule(f, 180, 6033, 12067, DUB_CC608_CC1, 2, NULL, 0,
                          &st) == 0 && f[1].n[0] == 2,
       "schedule: no text is empty text");

    free(f);

    /* far too much text for 3 frames: what fits */

    {
        char  big[4000];

        memset(big, 'a', sizeof(big));
        for (size_t i = 5; i < sizeof(big); i += 6) {
            big[i] = ' ';
        }

        f = make_frames(3, 0);
        ok(dub_cc608_schedule(f, 3, 0, 100, DUB_CC608_CC1, 4, big,
                              sizeof(big), &st) == 0,
           "schedule: too much text");
        ok(st.cut > 0 && st.shown < st.pages && st.peak
           <= DUB_CC608_MAX_PAIRS, "schedule: cut %zu, %u of %u pages",
           st.cut, st.shown, st.pages);
        free(f);
    }

    f = make_frames(4, 0);
    ok(dub_cc608_schedule(f, 0, 0, 100, 0, 2, T("x"), &st) == -1,
       "schedule: no frames refused");
    ok(dub_cc608_schedule(f, 4, 0, 100, 2, 2, T("x"), &st) == -1,
       "schedule: field 2 refused");
    ok(dub_cc608_schedule(f, 4, 0, 100, 0, 5, T("x"), &st) == -1,
       "schedule: 5 rows refused");
    ok(dub_cc608_schedule(f, 4, 100, 0, 0, 2, T("x"), &st) == -1
       && f[0].n[0] == 0 && f[1].n[0] == 0, "schedule: end before start");
    free(f);
}


static void
test_triplets(void)
{
    unsigned           n;
    uint8_t            cc[DUB_CC608_MAX_TRIPLETS * 3];
    dub_cc608_frame_t  f;

    memset(&f, 0, sizeof(f));
    is(dub_cc608_triplets(&f, cc), 0, "triplets: none for no pairs");

    f.n[0] = 2;
    f.pair[0][0][0] = 0x94;
    f.pair[0][0][1] = 0x2f;
    f.pair[0][1][0] = 0x94;
    f.pair[0][1][1] = 0x2f;
    f.n[1] = 1;
    f.pair[1][0][0] = 0x15;
    f.pair[1][0][1] = 0x2c;

    n = dub_cc608_triplets(&f, cc);
    ok(n == 3 && memcmp(cc, "\xfc\x94\x2f\xfd\x15\x2c\xfc\x94\x2f", 9) == 0,
       "triplets: fields interleaved, field 1 first");

    f.n[0] = 0;
    n = dub_cc608_triplets(&f, cc);
    ok(n == 2 && memcmp(cc, "\xfc\x80\x80\xfd\x15\x2c", 6) == 0,
       "triplets: a null field 1 pair before field 2 alone");

    f.n[0] = DUB_CC608_MAX_PAIRS;
    f.n[1] = DUB_CC608_MAX_PAIRS;
    is(dub_cc608_triplets(&f, cc), 2 * DUB_CC608_MAX_PAIRS,
       "triplets: both fields full fit one cc_count");
}


int
main(void)
{
    test_parity();
    test_map();
    test_layout();
    test_page_pairs();
    test_schedule();
    test_triplets();

    return tap_done();
}
