
/*
 * Copyright (C) nginx-dub developers
 */


#include <stdlib.h>
#include <string.h>

#include "dub_cc608.h"


/* accents a combining mark adds: "e" U+0301 composed into U+00E9 */
#define DUB_MARK_NONE           0
#define DUB_MARK_GRAVE          1
#define DUB_MARK_ACUTE          2
#define DUB_MARK_CIRC           3
#define DUB_MARK_TILDE          4
#define DUB_MARK_DIAER          5
#define DUB_MARK_RING           6
#define DUB_MARK_CEDILLA        7

/* misc control codes, second byte; the first is 0x14 (CC1), 0x15 (CC3) */
#define DUB_CC_RCL              0x20    /* resume caption loading */
#define DUB_CC_EDM              0x2c    /* erase displayed memory */
#define DUB_CC_ENM              0x2e    /* erase non-displayed memory */
#define DUB_CC_EOC              0x2f    /* end of caption: flip memories */
#define DUB_CC_TAB              0x17    /* tab offset 1..3: 0x21..0x23 */

#define DUB_CC_REPLACEMENT      '?'


typedef struct {
    uint32_t            cp;
    uint8_t             set;
    uint8_t             code;   /* the basic byte for DUB_CC608_BASIC */
    uint8_t             chr;    /* fallback: the base letter */
    uint8_t             mark;
} dub_cc_char_t;


typedef struct {
    uint32_t            cp;
    const char         *text;
} dub_cc_spell_t;


/* the pairs of one page being written */
typedef struct {
    uint8_t           (*pairs)[2];
    size_t              n;
    size_t              max;
    unsigned            misc;   /* first byte of misc control codes */
    int                 pending;        /* a basic byte waiting, or -1 */
    uint8_t             last[2];        /* the last control code */
    int                 over;
} dub_cc_writer_t;


/* the text being mapped */
typedef struct {
    dub_cc608_cell_t   *cells;
    size_t              max;
    size_t              n;
    dub_cc608_cell_t    last;
    int                 letter;     /* last is a plain ASCII letter */
} dub_cc_mapper_t;


static uint32_t dub_utf8_next(const uint8_t **p, const uint8_t *end);
static void dub_map_cp(dub_cc_mapper_t *m, uint32_t cp);
static void dub_map_put(dub_cc_mapper_t *m, uint8_t set, uint8_t code,
    uint8_t chr);
static void dub_map_mark(dub_cc_mapper_t *m, unsigned mark);
static const dub_cc_char_t *dub_char_find(uint32_t cp);
static int dub_is_space(uint32_t cp);
static int dub_is_ignored(uint32_t cp);
static void dub_row_close(dub_cc608_page_t *cur, unsigned rows,
    size_t start, size_t len, dub_cc608_page_t *pages, size_t *np);
static void dub_cc_pair(dub_cc_writer_t *w, uint8_t b1, uint8_t b2);
static void dub_cc_char(dub_cc_writer_t *w, uint8_t b);
static void dub_cc_flush(dub_cc_writer_t *w);
static void dub_cc_ctrl(dub_cc_writer_t *w, uint8_t b1, uint8_t b2);
static size_t *dub_cc_order(const dub_cc608_frame_t *frames, size_t n);
static int dub_cc_place(dub_cc608_frame_t *frames, const size_t *order,
    size_t n, unsigned field, size_t s, size_t *g, uint8_t (*pairs)[2],
    size_t load, uint8_t misc, dub_cc608_stats_t *st);
static void dub_cc_put(dub_cc608_frame_t *f, unsigned field, uint8_t b1,
    uint8_t b2, dub_cc608_stats_t *st);


/*
 * The characters that are not ASCII as they stand, by code point: 608's
 * own letters in the basic set (where ASCII has * \ ^ _ ` { | } ~), the
 * special characters (0x11 0x30..0x3f) and the two extended sets
 * (0x12 and 0x13, 0x20..0x3f), after CEA-608's tables.  Where decoders
 * disagree on a code (0x12 0x26, 0x29: which single quote) it is not
 * used; 0x12 0x2a is a dash in all of them (em dash or hyphen) and
 * 0x12 0x2d a dot (bullet or middle dot).
 */
static const dub_cc_char_t  dub_cc_chars[] = {
    { 0x002a, DUB_CC608_EXT_ES_FR, 0x28, '.', 0 },
    { 0x005c, DUB_CC608_EXT_PT_DE, 0x2b, '/', 0 },
    { 0x005e, DUB_CC608_EXT_PT_DE, 0x2c, '\'', 0 },
    { 0x005f, DUB_CC608_EXT_PT_DE, 0x2d, '-', 0 },
    { 0x0060, DUB_CC608_BASIC, 0x27, '\'', 0 },
    { 0x007b, DUB_CC608_EXT_PT_DE, 0x29, '(', 0 },
    { 0x007c, DUB_CC608_EXT_PT_DE, 0x2e, '!', 0 },
    { 0x007d, DUB_CC608_EXT_PT_DE, 0x2a, ')', 0 },
    { 0x007e, DUB_CC608_EXT_PT_DE, 0x2f, '-', 0 },
    { 0x00a1, DUB_CC608_EXT_ES_FR, 0x27, '!', 0 },
    { 0x00a2, DUB_CC608_SPECIAL, 0x35, 'c', 0 },
    { 0x00a3, DUB_CC608_SPECIAL, 0x36, 'L', 0 },
    { 0x00a4, DUB_CC608_EXT_PT_DE, 0x36, '?', 0 },
    { 0x00a5, DUB_CC608_EXT_PT_DE, 0x35, 'Y', 0 },
    { 0x00a6, DUB_CC608_EXT_PT_DE, 0x37, '!', 0 },
    { 0x00a9, DUB_CC608_EXT_ES_FR, 0x2b, 'c', 0 },
    { 0x00ab, DUB_CC608_EXT_ES_FR, 0x3e, '"', 0 },
    { 0x00ae, DUB_CC608_SPECIAL, 0x30, 'R', 0 },
    { 0x00b0, DUB_CC608_SPECIAL, 0x31, 'o', 0 },
    { 0x00b7, DUB_CC608_EXT_ES_FR, 0x2d, '.', 0 },
    { 0x00bb, DUB_CC608_EXT_ES_FR, 0x3f, '"', 0 },
    { 0x00bd, DUB_CC608_SPECIAL, 0x32, '?', 0 },
    { 0x00bf, DUB_CC608_SPECIAL, 0x33, '?', 0 },
    { 0x00c0, DUB_CC608_EXT_ES_FR, 0x30, 'A', DUB_MARK_GRAVE },
    { 0x00c1, DUB_CC608_EXT_ES_FR, 0x20, 'A', DUB_MARK_ACUTE },
    { 0x00c2, DUB_CC608_EXT_ES_FR, 0x31, 'A', DUB_MARK_CIRC },
    { 0x00c3, DUB_CC608_EXT_PT_DE, 0x20, 'A', DUB_MARK_TILDE },
    { 0x00c4, DUB_CC608_EXT_PT_DE, 0x30, 'A', DUB_MARK_DIAER },
    { 0x00c5, DUB_CC608_EXT_PT_DE, 0x38, 'A', DUB_MARK_RING },
    { 0x00c7, DUB_CC608_EXT_ES_FR, 0x32, 'C', DUB_MARK_CEDILLA },
    { 0x00c8, DUB_CC608_EXT_ES_FR, 0x33, 'E', DUB_MARK_GRAVE },
    { 0x00c9, DUB_CC608_EXT_ES_FR, 0x21, 'E', DUB_MARK_ACUTE },
    { 0x00ca, DUB_CC608_EXT_ES_FR, 0x34, 'E', DUB_MARK_CIRC },
    { 0x00cb, DUB_CC608_EXT_ES_FR, 0x35, 'E', DUB_MARK_DIAER },
    { 0x00cc, DUB_CC608_EXT_PT_DE, 0x23, 'I', DUB_MARK_GRAVE },
    { 0x00cd, DUB_CC608_EXT_PT_DE, 0x22, 'I', DUB_MARK_ACUTE },
    { 0x00ce, DUB_CC608_EXT_ES_FR, 0x37, 'I', DUB_MARK_CIRC },
    { 0x00cf, DUB_CC608_EXT_ES_FR, 0x38, 'I', DUB_MARK_DIAER },
    { 0x00d1, DUB_CC608_BASIC, 0x7d, 'N', DUB_MARK_TILDE },
    { 0x00d2, DUB_CC608_EXT_PT_DE, 0x25, 'O', DUB_MARK_GRAVE },
    { 0x00d3, DUB_CC608_EXT_ES_FR, 0x22, 'O', DUB_MARK_ACUTE },
    { 0x00d4, DUB_CC608_EXT_ES_FR, 0x3a, 'O', DUB_MARK_CIRC },
    { 0x00d5, DUB_CC608_EXT_PT_DE, 0x27, 'O', DUB_MARK_TILDE },
    { 0x00d6, DUB_CC608_EXT_PT_DE, 0x32, 'O', DUB_MARK_DIAER },
    { 0x00d8, DUB_CC608_EXT_PT_DE, 0x3a, 'O', 0 },
    { 0x00d9, DUB_CC608_EXT_ES_FR, 0x3b, 'U', DUB_MARK_GRAVE },
    { 0x00da, DUB_CC608_EXT_ES_FR, 0x23, 'U', DUB_MARK_ACUTE },
    { 0x00db, DUB_CC608_EXT_ES_FR, 0x3d, 'U', DUB_MARK_CIRC },
    { 0x00dc, DUB_CC608_EXT_ES_FR, 0x24, 'U', DUB_MARK_DIAER },
    { 0x00df, DUB_CC608_EXT_PT_DE, 0x34, 's', 0 },
    { 0x00e0, DUB_CC608_SPECIAL, 0x38, 'a', DUB_MARK_GRAVE },
    { 0x00e1, DUB_CC608_BASIC, 0x2a, 'a', DUB_MARK_ACUTE },
    { 0x00e2, DUB_CC608_SPECIAL, 0x3b, 'a', DUB_MARK_CIRC },
    { 0x00e3, DUB_CC608_EXT_PT_DE, 0x21, 'a', DUB_MARK_TILDE },
    { 0x00e4, DUB_CC608_EXT_PT_DE, 0x31, 'a', DUB_MARK_DIAER },
    { 0x00e5, DUB_CC608_EXT_PT_DE, 0x39, 'a', DUB_MARK_RING },
    { 0x00e7, DUB_CC608_BASIC, 0x7b, 'c', DUB_MARK_CEDILLA },
    { 0x00e8, DUB_CC608_SPECIAL, 0x3a, 'e', DUB_MARK_GRAVE },
    { 0x00e9, DUB_CC608_BASIC, 0x5c, 'e', DUB_MARK_ACUTE },
    { 0x00ea, DUB_CC608_SPECIAL, 0x3c, 'e', DUB_MARK_CIRC },
    { 0x00eb, DUB_CC608_EXT_ES_FR, 0x36, 'e', DUB_MARK_DIAER },
    { 0x00ec, DUB_CC608_EXT_PT_DE, 0x24, 'i', DUB_MARK_GRAVE },
    { 0x00ed, DUB_CC608_BASIC, 0x5e, 'i', DUB_MARK_ACUTE },
    { 0x00ee, DUB_CC608_SPECIAL, 0x3d, 'i', DUB_MARK_CIRC },
    { 0x00ef, DUB_CC608_EXT_ES_FR, 0x39, 'i', DUB_MARK_DIAER },
    { 0x00f1, DUB_CC608_BASIC, 0x7e, 'n', DUB_MARK_TILDE },
    { 0x00f2, DUB_CC608_EXT_PT_DE, 0x26, 'o', DUB_MARK_GRAVE },
    { 0x00f3, DUB_CC608_BASIC, 0x5f, 'o', DUB_MARK_ACUTE },
    { 0x00f4, DUB_CC608_SPECIAL, 0x3e, 'o', DUB_MARK_CIRC },
    { 0x00f5, DUB_CC608_EXT_PT_DE, 0x28, 'o', DUB_MARK_TILDE },
    { 0x00f6, DUB_CC608_EXT_PT_DE, 0x33, 'o', DUB_MARK_DIAER },
    { 0x00f7, DUB_CC608_BASIC, 0x7c, '/', 0 },
    { 0x00f8, DUB_CC608_EXT_PT_DE, 0x3b, 'o', 0 },
    { 0x00f9, DUB_CC608_EXT_ES_FR, 0x3c, 'u', DUB_MARK_GRAVE },
    { 0x00fa, DUB_CC608_BASIC, 0x60, 'u', DUB_MARK_ACUTE },
    { 0x00fb, DUB_CC608_SPECIAL, 0x3f, 'u', DUB_MARK_CIRC },
    { 0x00fc, DUB_CC608_EXT_ES_FR, 0x25, 'u', DUB_MARK_DIAER },
    { 0x2010, DUB_CC608_BASIC, '-', '-', 0 },
    { 0x2011, DUB_CC608_BASIC, '-', '-', 0 },
    { 0x2012, DUB_CC608_BASIC, '-', '-', 0 },
    { 0x2013, DUB_CC608_EXT_ES_FR, 0x2a, '-', 0 },
    { 0x2014, DUB_CC608_EXT_ES_FR, 0x2a, '-', 0 },
    { 0x2015, DUB_CC608_EXT_ES_FR, 0x2a, '-', 0 },
    { 0x2018, DUB_CC608_BASIC, 0x27, '\'', 0 },
    { 0x2019, DUB_CC608_BASIC, 0x27, '\'', 0 },
    { 0x201a, DUB_CC608_BASIC, ',', ',', 0 },
    { 0x201c, DUB_CC608_EXT_ES_FR, 0x2e, '"', 0 },
    { 0x201d, DUB_CC608_EXT_ES_FR, 0x2f, '"', 0 },
    { 0x201e, DUB_CC608_BASIC, '"', '"', 0 },
    { 0x2022, DUB_CC608_EXT_ES_FR, 0x2d, '.', 0 },
    { 0x2032, DUB_CC608_BASIC, 0x27, '\'', 0 },
    { 0x2033, DUB_CC608_BASIC, '"', '"', 0 },
    { 0x2039, DUB_CC608_BASIC, '<', '<', 0 },
    { 0x203a, DUB_CC608_BASIC, '>', '>', 0 },
    { 0x2120, DUB_CC608_EXT_ES_FR, 0x2c, 'S', 0 },
    { 0x2122, DUB_CC608_SPECIAL, 0x34, 'T', 0 },
    { 0x2212, DUB_CC608_BASIC, '-', '-', 0 },
    { 0x250c, DUB_CC608_EXT_PT_DE, 0x3c, '+', 0 },
    { 0x2510, DUB_CC608_EXT_PT_DE, 0x3d, '+', 0 },
    { 0x2514, DUB_CC608_EXT_PT_DE, 0x3e, '+', 0 },
    { 0x2518, DUB_CC608_EXT_PT_DE, 0x3f, '+', 0 },
    { 0x2588, DUB_CC608_BASIC, 0x7f, '#', 0 },
    { 0x266a, DUB_CC608_SPECIAL, 0x37, '#', 0 },
    { 0x266b, DUB_CC608_SPECIAL, 0x37, '#', 0 }
};


/* what has no character of its own in 608 but a spelling */
static const dub_cc_spell_t  dub_cc_spells[] = {
    { 0x00aa, "a" },
    { 0x00b2, "2" },
    { 0x00b3, "3" },
    { 0x00b4, "'" },
    { 0x00b9, "1" },
    { 0x00ba, "o" },
    { 0x00bc, "1/4" },
    { 0x00be, "3/4" },
    { 0x00c6, "AE" },
    { 0x00d7, "x" },
    { 0x00de, "Th" },
    { 0x00e6, "ae" },
    { 0x00fe, "th" },
    { 0x0132, "IJ" },
    { 0x0133, "ij" },
    { 0x0152, "OE" },
    { 0x0153, "oe" },
    { 0x2026, "..." },
    { 0x20ac, "EUR" },
    { 0xfb00, "ff" },
    { 0xfb01, "fi" },
    { 0xfb02, "fl" }
};


/*
 * The base letter of each Latin letter with diacritics 608 has not:
 * U+00C0..U+024F and U+1E00..U+1EFF (Vietnamese among them), from
 * their canonical decompositions; '?' where there is none.
 */
static const char  dub_cc_latin[] =
    "AAAAAA?CEEEEIIIIDNOOOOO?OUUUUY?saaaaaa?ceeeeiiiidnooooo?ouuuuy?y"
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi??JjKkkLlLlLlL"
    "lLlNnNnNnnNnOoOoOo??RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs"
    "bB???????DD????????????I????????Oo?????????????Uu????Zz?????????"
    "?????????????AaIiOoUuUuUuUuUu?AaAa????GgKkOoOo??j???Gg??NnAa????"
    "AaAaEeEeIiIiOoOoRrRrUuUuSsTt??Hh??????AaEeOoOoOoOoYy????????????"
    "???B????????????";

static const char  dub_cc_latin_add[] =
    "AaBbBbBbCcDdDdDdDdDdEeEeEeEeEeFfGgHhHhHhHhHhIiIiKkKkKkLlLlLlLlMm"
    "MmMmNnNnNnNnOoOoOoOoPpPpRrRrRrRrSsSsSsSsSsTtTtTtTtUuUuUuUuUuVvVv"
    "WwWwWwWwWwXxXxYyZzZzZzhtwy??????AaAaAaAaAaAaAaAaAaAaAaAaEeEeEeEe"
    "EeEeEeEeIiIiOoOoOoOoOoOoOoOoOoOoOoOoUuUuUuUuUuUuUuYyYyYyYy??????";


/* Preamble Address Codes of rows 1..15, data channel 1, column 0 */
static const uint8_t  dub_cc_pac[16][2] = {
    { 0, 0 },
    { 0x11, 0x40 }, { 0x11, 0x60 }, { 0x12, 0x40 }, { 0x12, 0x60 },
    { 0x15, 0x40 }, { 0x15, 0x60 }, { 0x16, 0x40 }, { 0x16, 0x60 },
    { 0x17, 0x40 }, { 0x17, 0x60 }, { 0x10, 0x40 }, { 0x13, 0x40 },
    { 0x13, 0x60 }, { 0x14, 0x40 }, { 0x14, 0x60 }
};


uint8_t
dub_cc608_parity(uint8_t b)
{
    uint8_t  v;

    b &= 0x7f;

    v = b ^ (b >> 4);
    v ^= v >> 2;
    v ^= v >> 1;

    /* an even number of ones: the top bit makes it odd */
    return (v & 1) ? b : (uint8_t) (b | 0x80);
}


size_t
dub_cc608_map(const char *text, size_t len, dub_cc608_cell_t *cells,
    size_t max)
{
    uint32_t         cp;
    const uint8_t   *p, *end;
    dub_cc_mapper_t  m;

    memset(&m, 0, sizeof(dub_cc_mapper_t));
    m.cells = cells;
    m.max = max;

    if (text == NULL) {
        return 0;
    }

    p = (const uint8_t *) text;
    end = p + len;

    while (p < end) {
        cp = dub_utf8_next(&p, end);
        dub_map_cp(&m, cp);
    }

    /* no space trails */

    if (m.n && m.last.set == DUB_CC608_BASIC && m.last.chr == ' ') {
        m.n--;
    }

    return m.n;
}


/* the next code point, or U+FFFD for each byte that is not UTF-8 */

static uint32_t
dub_utf8_next(const uint8_t **p, const uint8_t *end)
{
    size_t          need, i;
    uint32_t        cp, min;
    const uint8_t  *s;

    s = *p;

    if (s[0] < 0x80) {
        *p = s + 1;
        return s[0];
    }

    if ((s[0] & 0xe0) == 0xc0) {
        need = 1;
        cp = s[0] & 0x1f;
        min = 0x80;

    } else if ((s[0] & 0xf0) == 0xe0) {
        need = 2;
        cp = s[0] & 0x0f;
        min = 0x800;

    } else if ((s[0] & 0xf8) == 0xf0) {
        need = 3;
        cp = s[0] & 0x07;
        min = 0x10000;

    } else {
        *p = s + 1;
        return 0xfffd;
    }

    if ((size_t) (end - s) <= need) {
        *p = s + 1;
        return 0xfffd;
    }

    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *p = s + 1;
            return 0xfffd;
        }

        cp = (cp << 6) | (s[i] & 0x3f);
    }

    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        *p = s + 1;
        return 0xfffd;
    }

    *p = s + need + 1;

    return cp;
}


static void
dub_map_cp(dub_cc_mapper_t *m, uint32_t cp)
{
    size_t                 i;
    const char            *s;
    const dub_cc_char_t   *c;

    if (dub_is_space(cp)) {
        if (m->n && !(m->last.set == DUB_CC608_BASIC && m->last.chr == ' '))
        {
            dub_map_put(m, DUB_CC608_BASIC, 0, ' ');
        }

        return;
    }

    if (dub_is_ignored(cp)) {
        return;
    }

    if (cp >= 0x0300 && cp <= 0x036f) {
        switch (cp) {
        case 0x0300: dub_map_mark(m, DUB_MARK_GRAVE); break;
        case 0x0301: dub_map_mark(m, DUB_MARK_ACUTE); break;
        case 0x0302: dub_map_mark(m, DUB_MARK_CIRC); break;
        case 0x0303: dub_map_mark(m, DUB_MARK_TILDE); break;
        case 0x0308: dub_map_mark(m, DUB_MARK_DIAER); break;
        case 0x030a: dub_map_mark(m, DUB_MARK_RING); break;
        case 0x0327: dub_map_mark(m, DUB_MARK_CEDILLA); break;
        default: break;     /* any other mark: the base letter alone */
        }

        return;
    }

    c = dub_char_find(cp);

    if (c) {
        if (c->set == DUB_CC608_BASIC) {
            dub_map_put(m, DUB_CC608_BASIC, 0, c->code);

        } else {
            dub_map_put(m, c->set, c->code, c->chr);
        }

        return;
    }

    if (cp >= 0x20 && cp < 0x7f) {
        dub_map_put(m, DUB_CC608_BASIC, 0, (uint8_t) cp);
        m->letter = (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
        return;
    }

    for (i = 0; i < sizeof(dub_cc_spells) / sizeof(dub_cc_spells[0]); i++) {
        if (dub_cc_spells[i].cp == cp) {
            for (s = dub_cc_spells[i].text; *s; s++) {
                dub_map_put(m, DUB_CC608_BASIC, 0, (uint8_t) *s);
            }

            return;
        }
    }

    if (cp >= 0xc0 && cp < 0xc0 + sizeof(dub_cc_latin) - 1) {
        dub_map_put(m, DUB_CC608_BASIC, 0, dub_cc_latin[cp - 0xc0]);
        return;
    }

    if (cp >= 0x1e00 && cp < 0x1e00 + sizeof(dub_cc_latin_add) - 1) {
        dub_map_put(m, DUB_CC608_BASIC, 0, dub_cc_latin_add[cp - 0x1e00]);
        return;
    }

    dub_map_put(m, DUB_CC608_BASIC, 0, DUB_CC_REPLACEMENT);
}


static void
dub_map_put(dub_cc_mapper_t *m, uint8_t set, uint8_t code, uint8_t chr)
{
    m->last.set = set;
    m->last.code = code;
    m->last.chr = chr;
    m->letter = 0;

    if (m->n < m->max) {
        m->cells[m->n] = m->last;
    }

    m->n++;
}


/* a combining mark after a letter: the accented letter, if 608 has it */

static void
dub_map_mark(dub_cc_mapper_t *m, unsigned mark)
{
    size_t                 i;
    const dub_cc_char_t   *c;

    if (!m->letter) {
        return;
    }

    for (i = 0; i < sizeof(dub_cc_chars) / sizeof(dub_cc_chars[0]); i++) {
        c = &dub_cc_chars[i];

        if (c->mark != mark || c->chr != m->last.chr) {
            continue;
        }

        if (c->set == DUB_CC608_BASIC) {
            m->last.set = DUB_CC608_BASIC;
            m->last.code = 0;
            m->last.chr = c->code;

        } else {
            m->last.set = c->set;
            m->last.code = c->code;
            m->last.chr = c->chr;
        }

        if (m->n <= m->max) {
            m->cells[m->n - 1] = m->last;
        }

        break;
    }

    /* one mark a letter */
    m->letter = 0;
}


static const dub_cc_char_t *
dub_char_find(uint32_t cp)
{
    size_t  lo, hi, mid;

    lo = 0;
    hi = sizeof(dub_cc_chars) / sizeof(dub_cc_chars[0]);

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (dub_cc_chars[mid].cp == cp) {
            return &dub_cc_chars[mid];
        }

        if (dub_cc_chars[mid].cp < cp) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return NULL;
}


static int
dub_is_space(uint32_t cp)
{
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85
           || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a)
           || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f
           || cp == 0x3000;
}


/* what shows nothing: controls, zero-width, selectors, modifiers */

static int
dub_is_ignored(uint32_t cp)
{
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)
           || cp == 0xad || (cp >= 0x200b && cp <= 0x200f)
           || (cp >= 0x202a && cp <= 0x202e)
           || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xfeff
           || (cp >= 0xfe00 && cp <= 0xfe0f)
           || (cp >= 0x1f3fb && cp <= 0x1f3ff)
           || (cp >= 0xe0000 && cp <= 0xe0fff);
}


size_t
dub_cc608_layout(const dub_cc608_cell_t *cells, size_t n, unsigned rows,
    dub_cc608_page_t *pages, size_t max)
{
    size_t            i, w, wlen, start, len, np;
    dub_cc608_page_t  cur;

    if (rows < 1 || rows > DUB_CC608_MAX_ROWS) {
        return 0;
    }

    memset(&cur, 0, sizeof(dub_cc608_page_t));
    np = 0;
    start = 0;
    len = 0;
    i = 0;

    while (i < n && np < max) {

        if (cells[i].set == DUB_CC608_BASIC && cells[i].chr == ' ') {
            i++;
            continue;
        }

        for (w = i; i < n; i++) {
            if (cells[i].set == DUB_CC608_BASIC && cells[i].chr == ' ') {
                break;
            }
        }

        wlen = i - w;

        while (wlen && np < max) {

            if (len && len + 1 + wlen <= DUB_CC608_COLS) {
                /* the word goes on this row, after its space */
                len += 1 + wlen;
                wlen = 0;

            } else if (len) {
                dub_row_close(&cur, rows, start, len, pages, &np);
                len = 0;

            } else if (wlen <= DUB_CC608_COLS) {
                start = w;
                len = wlen;
                wlen = 0;

            } else {
                /* longer than a row: cut */
                dub_row_close(&cur, rows, w, DUB_CC608_COLS, pages, &np);
                w += DUB_CC608_COLS;
                wlen -= DUB_CC608_COLS;
            }
        }
    }

    if (len && np < max) {
        dub_row_close(&cur, rows, start, len, pages, &np);
    }

    if (cur.rows && np < max) {
        pages[np++] = cur;
    }

    return np;
}


/* a row ends: it goes on the page being filled, which may fill up */

static void
dub_row_close(dub_cc608_page_t *cur, unsigned rows, size_t start,
    size_t len, dub_cc608_page_t *pages, size_t *np)
{
    cur->start[cur->rows] = (uint16_t) start;
    cur->len[cur->rows] = (uint8_t) len;
    cur->rows++;
    cur->cells += len;

    if (cur->rows == rows) {
        pages[(*np)++] = *cur;
        memset(cur, 0, sizeof(dub_cc608_page_t));
    }
}


size_t
dub_cc608_page_pairs(const dub_cc608_cell_t *cells,
    const dub_cc608_page_t *page, unsigned field, uint8_t (*pairs)[2],
    size_t max)
{
    size_t                   i;
    unsigned                 r, row, indent;
    dub_cc_writer_t          w;
    const dub_cc608_cell_t  *c;

    if (page->rows < 1 || page->rows > DUB_CC608_MAX_ROWS || field > 1) {
        return 0;
    }

    memset(&w, 0, sizeof(dub_cc_writer_t));
    w.pairs = pairs;
    w.max = max;
    w.misc = field ? 0x15 : 0x14;
    w.pending = -1;

    dub_cc_ctrl(&w, w.misc, DUB_CC_RCL);
    dub_cc_ctrl(&w, w.misc, DUB_CC_ENM);

    for (r = 0; r < page->rows; r++) {

        /* the last row on row 15, centered */

        row = 16 - page->rows + r;
        indent = (DUB_CC608_COLS - page->len[r]) / 2;

        dub_cc_ctrl(&w, dub_cc_pac[row][0],
                    dub_cc_pac[row][1] | 0x10 | ((indent / 4) << 1));

        if (indent % 4) {
            dub_cc_ctrl(&w, DUB_CC_TAB, 0x20 + indent % 4);
        }

        for (i = 0; i < page->len[r]; i++) {
            c = &cells[page->start[r] + i];

            switch (c->set) {

            case DUB_CC608_BASIC:
                dub_cc_char(&w, c->chr);
                break;

            case DUB_CC608_SPECIAL:
                dub_cc_ctrl(&w, c->set, c->code);
                break;

            default:
                /* the fallback, then the code that backspaces over it */
                dub_cc_char(&w, c->chr);
                dub_cc_ctrl(&w, c->set, c->code);
                break;
            }
        }

        dub_cc_flush(&w);
    }

    return w.over ? 0 : w.n;
}


static void
dub_cc_pair(dub_cc_writer_t *w, uint8_t b1, uint8_t b2)
{
    if (w->n >= w->max) {
        w->over = 1;
        return;
    }

    w->pairs[w->n][0] = dub_cc608_parity(b1);
    w->pairs[w->n][1] = dub_cc608_parity(b2);
    w->n++;
}


/* basic characters go two a pair */

static void
dub_cc_char(dub_cc_writer_t *w, uint8_t b)
{
    if (w->pending < 0) {
        w->pending = b;
        return;
    }

    dub_cc_pair(w, (uint8_t) w->pending, b);
    w->pending = -1;
    w->last[0] = 0;
}


static void
dub_cc_flush(dub_cc_writer_t *w)
{
    if (w->pending >= 0) {
        dub_cc_pair(w, (uint8_t) w->pending, 0x00);
        w->pending = -1;
        w->last[0] = 0;
    }
}


/*
 * A two-byte code, twice.  Decoders ignore a code that repeats the one
 * just before it, so the same code twice over (a grave twice) has a resume
 * caption loading between, which changes nothing while loading.
 */

static void
dub_cc_ctrl(dub_cc_writer_t *w, uint8_t b1, uint8_t b2)
{
    dub_cc_flush(w);

    if (w->last[0] == b1 && w->last[1] == b2) {
        dub_cc_pair(w, (uint8_t) w->misc, DUB_CC_RCL);
    }

    dub_cc_pair(w, b1, b2);
    dub_cc_pair(w, b1, b2);

    w->last[0] = b1;
    w->last[1] = b2;
}


int
dub_cc608_schedule(dub_cc608_frame_t *frames, size_t n, int64_t start,
    int64_t end, unsigned field, unsigned rows, const char *text,
    size_t len, dub_cc608_stats_t *st)
{
    int                 rc;
    size_t              i, ncells, np, p, s, g, load, *order;
    int64_t             at;
    uint8_t             misc;
    unsigned            total, before;
    dub_cc608_stats_t   dummy;
    dub_cc608_cell_t    cells[DUB_CC608_MAX_CELLS];
    dub_cc608_page_t    pages[DUB_CC608_MAX_PAGES];
    uint8_t             pairs[DUB_CC608_PAGE_PAIRS][2];

    if (st == NULL) {
        st = &dummy;
    }

    memset(st, 0, sizeof(dub_cc608_stats_t));
    st->first = -1;

    if (frames == NULL || n == 0 || field > 1) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        frames[i].n[field] = 0;
    }

    if (rows < 1 || rows > DUB_CC608_MAX_ROWS || end < start) {
        return -1;
    }

    order = dub_cc_order(frames, n);
    if (order == NULL) {
        return -1;
    }

    misc = field ? 0x15 : 0x14;

    ncells = dub_cc608_map(text, len, cells, DUB_CC608_MAX_CELLS);

    st->cells = ncells;

    if (ncells > DUB_CC608_MAX_CELLS) {
        st->cut = ncells - DUB_CC608_MAX_CELLS;
        ncells = DUB_CC608_MAX_CELLS;
    }

    memset(pages, 0, sizeof(pages));
    np = dub_cc608_layout(cells, ncells, rows, pages, DUB_CC608_MAX_PAGES);
    st->pages = np;

    if (np == 0) {
        /* nothing to show: erase what is shown */
        dub_cc_put(&frames[order[0]], field, misc, DUB_CC_EDM, st);
        dub_cc_put(&frames[order[0]], field, misc, DUB_CC_EDM, st);
        st->first = frames[order[0]].pts;
        free(order);
        return 0;
    }

    total = 0;

    for (p = 0; p < np; p++) {
        total += pages[p].cells;
    }

    s = 0;
    before = 0;
    rc = 0;

    for (p = 0; p < np && s < n; p++) {

        load = dub_cc608_page_pairs(cells, &pages[p], field, pairs,
                                    DUB_CC608_PAGE_PAIRS);
        if (load == 0) {
            rc = -1;
            break;
        }

        /* its display time, by its share of the text */

        at = start + (end - start) * (int64_t) before / (int64_t) total;
        before += pages[p].cells;

        for (g = s; g < n && frames[order[g]].pts < at; g++) {
            /* void */
        }

        if (g == n) {
            break;
        }

        if (dub_cc_place(frames, order, n, field, s, &g, pairs, load, misc,
                         st)
            != 0)
        {
            break;
        }

        if (st->shown == 0) {
            st->first = frames[order[g]].pts;
        }

        st->shown++;
        s = g + 1;
    }

    free(order);

    if (rc != 0) {
        for (i = 0; i < n; i++) {
            frames[i].n[field] = 0;
        }

        memset(st, 0, sizeof(dub_cc608_stats_t));
        st->first = -1;
    }

    return rc;
}


/* the frames' indexes in presentation order (insertion sort: B-frames
   are only a few frames out of order) */

static size_t *
dub_cc_order(const dub_cc608_frame_t *frames, size_t n)
{
    size_t   i, j, k, *order;

    order = malloc(n * sizeof(size_t));
    if (order == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        k = i;

        for (j = i; j > 0 && frames[order[j - 1]].pts > frames[k].pts; j--) {
            order[j] = order[j - 1];
        }

        order[j] = k;
    }

    return order;
}


/*
 * Places a page's "load" pairs on frames s..g (presentation order) and
 * its EOC, twice, on g: at one pair a frame if they fit, otherwise at
 * the fewest pairs a frame that fits, and if none does (at most
 * DUB_CC608_MAX_PAIRS), with g later.  The frames before g take "r"
 * pairs each, front first; g takes what is left (at most r - 2) and the
 * EOCs.  Returns -1 if the page does not fit before the last frame.
 */

static int
dub_cc_place(dub_cc608_frame_t *frames, const size_t *order, size_t n,
    unsigned field, size_t s, size_t *g, uint8_t (*pairs)[2], size_t load,
    uint8_t misc, dub_cc608_stats_t *st)
{
    size_t  w, r, k, f, cap, take;

    for ( ;; ) {
        w = *g - s + 1;

        for (r = 1; r <= DUB_CC608_MAX_PAIRS; r++) {
            cap = r * (w - 1) + (r > 2 ? r - 2 : 0);

            if (load <= cap) {
                break;
            }
        }

        if (r <= DUB_CC608_MAX_PAIRS) {
            break;
        }

        if (*g + 1 >= n) {
            return -1;
        }

        (*g)++;
    }

    k = 0;

    for (f = s; f <= *g; f++) {
        take = (f < *g) ? r : (r > 2 ? r - 2 : 0);

        for ( /* void */ ; take && k < load; take--, k++) {
            dub_cc_put(&frames[order[f]], field, pairs[k][0], pairs[k][1],
                       st);
        }
    }

    dub_cc_put(&frames[order[*g]], field, misc, DUB_CC_EOC, st);
    dub_cc_put(&frames[order[*g]], field, misc, DUB_CC_EOC, st);

    return 0;
}


static void
dub_cc_put(dub_cc608_frame_t *f, unsigned field, uint8_t b1, uint8_t b2,
    dub_cc608_stats_t *st)
{
    uint8_t  n;

    n = f->n[field];

    if (n >= DUB_CC608_MAX_PAIRS) {
        return;
    }

    /* parity is idempotent: a page's pairs have it, EOC and EDM not yet */

    f->pair[field][n][0] = dub_cc608_parity(b1);
    f->pair[field][n][1] = dub_cc608_parity(b2);
    f->n[field] = n + 1;

    st->pairs++;

    if (f->n[field] > st->peak) {
        st->peak = f->n[field];
    }
}


unsigned
dub_cc608_triplets(const dub_cc608_frame_t *f, uint8_t *cc)
{
    unsigned  i, n1, n2, count;

    n1 = f->n[0] < DUB_CC608_MAX_PAIRS ? f->n[0] : DUB_CC608_MAX_PAIRS;
    n2 = f->n[1] < DUB_CC608_MAX_PAIRS ? f->n[1] : DUB_CC608_MAX_PAIRS;

    if (n1 == 0 && n2 == 0) {
        return 0;
    }

    count = 0;

    if (n1 == 0) {
        /* marker bits, cc_valid, field 1; a null pair */
        *cc++ = 0xfc;
        *cc++ = 0x80;
        *cc++ = 0x80;
        count++;
    }

    for (i = 0; i < n1 || i < n2; i++) {
        if (i < n1) {
            *cc++ = 0xfc;
            *cc++ = f->pair[0][i][0];
            *cc++ = f->pair[0][i][1];
            count++;
        }

        if (i < n2) {
            *cc++ = 0xfd;
            *cc++ = f->pair[1][i][0];
            *cc++ = f->pair[1][i][1];
            count++;
        }
    }

    return count;
}
