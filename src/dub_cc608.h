
/*
 * Copyright (C) nginx-dub developers
 *
 * CEA-608 captions from UTF-8 text: the characters mapped to 608's
 * sets, the text word-wrapped and paged into pop-on captions, and each
 * page's byte pairs scheduled on a segment's video frames.  Plain C, no
 * nginx.
 *
 * A page is a pop-on caption of up to DUB_CC608_MAX_ROWS rows of at
 * most 32 columns, centered, its last row on the screen's row 15.  It
 * is loaded into the non-displayed memory (RCL, ENM, then for each row
 * a PAC with the indent in 4 columns and a tab offset for the rest,
 * then the characters, two a pair) and shown by EOC at its display
 * time.  Control codes, special and extended characters are sent twice
 * in consecutive pairs (decoders ignore an immediate repeat); every
 * byte has odd parity.  An extended character is sent as a fallback
 * basic character and then its code, which makes the decoder backspace
 * over the fallback.
 *
 * Times: the frames are given in decode order with their presentation
 * time.  Captions in H.264 are consumed in presentation order (ATSC
 * A/53: the cc_data of each picture in display order; ffmpeg's decoder
 * attaches them to the decoded frame, hls.js sorts them by pts), so the
 * byte pairs are laid out on the frames sorted by pts, and each frame
 * carries the pairs that fall on it.  A page's EOC is on the first
 * frame, in presentation order, at or after its display time.
 *
 * Rate: 608 carries one pair per field per frame.  A page is loaded at
 * that rate when the frames before its display time allow it, and with
 * several pairs per frame (up to DUB_CC608_MAX_PAIRS) when they do not:
 * the first page of a segment always is, as it cannot be loaded before
 * the segment starts.  Decoders that read every cc_data triplet of a
 * picture (ffmpeg's cc_dec, hls.js, VLC) take them all in order; a
 * decoder that keeps to the nominal rate would drop the excess.
 */


#ifndef _DUB_CC608_H_INCLUDED_
#define _DUB_CC608_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define DUB_CC608_COLS          32
#define DUB_CC608_MAX_ROWS      4
#define DUB_CC608_ROWS          2       /* a sensible page: two rows */
#define DUB_CC608_MAX_CELLS     1024    /* characters a segment keeps */
#define DUB_CC608_MAX_PAGES                                                  \
    (DUB_CC608_MAX_CELLS / DUB_CC608_COLS + 1)

/* pairs that load a page, at most: each cell 3 (a fallback and a code
   twice, or a separator and a code twice), each row 4 more */
#define DUB_CC608_PAGE_PAIRS                                                 \
    (4 + DUB_CC608_MAX_ROWS * (4 + 3 * DUB_CC608_COLS))

/* byte pairs per field per frame, at most (both fit one cc_count) */
#define DUB_CC608_MAX_PAIRS     15
/* cc_data triplets dub_cc608_triplets() writes, at most */
#define DUB_CC608_MAX_TRIPLETS  (2 * DUB_CC608_MAX_PAIRS + 1)

/* fields: CC1 (data channel 1 of field 1) and CC3 (that of field 2) */
#define DUB_CC608_CC1           0
#define DUB_CC608_CC3           1

/* dub_cc608_cell_t sets */
#define DUB_CC608_BASIC         0
#define DUB_CC608_SPECIAL       0x11
#define DUB_CC608_EXT_ES_FR     0x12
#define DUB_CC608_EXT_PT_DE     0x13


/* one column of a caption */
typedef struct {
    uint8_t             chr;    /* basic set byte; an extended one's
                                   fallback */
    uint8_t             set;    /* DUB_CC608_BASIC, _SPECIAL, _EXT_* */
    uint8_t             code;   /* 0x20..0x3f: the special or extended
                                   character */
} dub_cc608_cell_t;


/* rows of a page: spans of the cells */
typedef struct {
    uint16_t            start[DUB_CC608_MAX_ROWS];
    uint8_t             len[DUB_CC608_MAX_ROWS];
    unsigned            rows;
    unsigned            cells;  /* the page's share of the text */
} dub_cc608_page_t;


/* a video frame: its time in, its byte pairs out */
typedef struct {
    int64_t             pts;    /* presentation time, ms */
    uint8_t             n[2];   /* pairs for field 1, field 2 */
    uint8_t             pair[2][DUB_CC608_MAX_PAIRS][2];
} dub_cc608_frame_t;


typedef struct {
    size_t              cells;      /* characters after mapping */
    size_t              cut;        /* characters beyond MAX_CELLS */
    unsigned            pages;
    unsigned            shown;      /* pages scheduled: the others did
                                       not fit in the segment's frames */
    unsigned            pairs;      /* pairs placed, with the EOCs */
    unsigned            peak;       /* most pairs on one frame */
    int64_t             first;      /* pts of the first EOC or EDM */
} dub_cc608_stats_t;


/*
 * Maps UTF-8 text to caption cells: 608's basic set (with its own
 * letters a, e, i, o, u acute, c cedilla, n tilde, N tilde, a division
 * sign and a block where ASCII has * \ ^ _ ` { | } ~), the special
 * characters, and the extended Spanish/French/miscellaneous and
 * Portuguese/German/Danish sets.  What 608 cannot show becomes its base
 * letter (U+0101 a macron to a, U+0142 l stroke to l, a combining
 * accent composed or dropped), a spelling (U+00E6 to ae, U+0153 to oe,
 * the euro sign to EUR, an ellipsis to ...), or '?' (other
 * scripts, emoji: one '?' each; invalid UTF-8: one '?' a byte).
 * White space of any kind is one space between words; none leads or
 * trails.  Zero-width characters, variation selectors and emoji
 * modifiers are dropped.  Writes at most "max" cells and returns how
 * many the whole text makes (more than "max" when it was cut).
 */
size_t dub_cc608_map(const char *text, size_t len, dub_cc608_cell_t *cells,
    size_t max);

/*
 * Word-wraps "n" cells (as dub_cc608_map() leaves them) into rows of
 * at most 32 columns, breaking at spaces (a word longer than a row is
 * cut), and groups them in pages of "rows" rows (1..4).  Returns the
 * number of pages written (at most "max").
 */
size_t dub_cc608_layout(const dub_cc608_cell_t *cells, size_t n,
    unsigned rows, dub_cc608_page_t *pages, size_t max);

/*
 * The byte pairs (with parity) that load "page" into the non-displayed
 * memory of "field" (DUB_CC608_CC1 or _CC3): RCL, ENM, PACs, tab
 * offsets, characters.  Not the EOC that shows it.  Returns the number
 * of pairs (at most DUB_CC608_PAGE_PAIRS), or 0 if "max" is too small.
 */
size_t dub_cc608_page_pairs(const dub_cc608_cell_t *cells,
    const dub_cc608_page_t *page, unsigned field, uint8_t (*pairs)[2],
    size_t max);

/*
 * Schedules "text" on "field" of a segment's "n" frames (decode order,
 * each with its pts): pages shown from "start" (the segment's first
 * presentation time, ms) to "end" (when the next segment starts), each
 * for a time proportional to its share of the text; the last page
 * stays until the next segment's first EOC or EDM.  An empty text
 * (or NULL) erases the displayed caption (EDM) on the segment's first
 * frame: a segment that falls back shows nothing stale.  Sets
 * frames[i].n[field] and pair[field] for every frame; the other field
 * is left as it is.  Pages that cannot be loaded before the segment's
 * last frame are left out (stats: shown < pages).
 *
 * Returns 0, or -1 if the arguments are wrong (no frames, a field or
 * rows out of range, end before start) or memory is short; the frames
 * then carry nothing on "field".  "st" may be NULL.
 */
int dub_cc608_schedule(dub_cc608_frame_t *frames, size_t n, int64_t start,
    int64_t end, unsigned field, unsigned rows, const char *text,
    size_t len, dub_cc608_stats_t *st);

/*
 * The cc_data triplets of one frame, as cc_data() of ATSC A/53 wants
 * them (marker bits, cc_valid, cc_type 0 for field 1 and 1 for field
 * 2, the pair): the fields' pairs interleaved, field 1 first (a null
 * field 1 pair leads when only field 2 has data, so that a decoder
 * choosing the first field it sees takes field 1).  Writes at most
 * DUB_CC608_MAX_TRIPLETS * 3 bytes and returns the count (0: nothing
 * to send, no SEI needed).
 */
unsigned dub_cc608_triplets(const dub_cc608_frame_t *f, uint8_t *cc);

/* the byte with odd parity in its top bit */
uint8_t dub_cc608_parity(uint8_t b);


#endif /* _DUB_CC608_H_INCLUDED_ */
