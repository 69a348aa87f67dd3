
/*
 * Copyright (C) nginx-dub developers
 *
 * Captions into H.264 as FLV carries it: the SEI NAL unit of one frame's
 * cc_data (user data registered by ITU-T T.35, ATSC A/53 "GA94", the
 * form encoders and ingest services use), and an FLV AVC video tag with
 * that NAL unit added before its first slice, every other byte as it
 * was.  Plain C, no nginx.
 */


#ifndef _DUB_SEI_H_INCLUDED_
#define _DUB_SEI_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/* cc_count is 5 bits */
#define DUB_SEI_CC_MAX          31

/* the RBSP of the SEI: type, size, 11 + 3 * count of payload, trailing */
#define DUB_SEI_RBSP_MAX        (2 + 11 + 3 * DUB_SEI_CC_MAX + 1)

/* the NAL unit: header and the RBSP with its emulation prevention bytes
   (at most one every two bytes) */
#define DUB_SEI_NAL_MAX         (1 + DUB_SEI_RBSP_MAX + DUB_SEI_RBSP_MAX / 2)

/* FLV VideoTagHeader of an AVC tag: frame type and codec, AVCPacketType,
   composition time */
#define DUB_AVC_TAG_HEADER      5


/*
 * Copies "len" bytes of RBSP to "out" as a NAL unit's payload: an
 * emulation prevention byte 0x03 after any two zero bytes that a byte
 * 0x00..0x03 follows.  "out" holds len + len / 2 bytes; returns the
 * length written.
 */
size_t dub_nal_escape(const uint8_t *rbsp, size_t len, uint8_t *out);

/*
 * The SEI NAL unit (nal_unit_type 6) carrying "count" cc_data triplets
 * (1..DUB_SEI_CC_MAX, 3 bytes each, as dub_cc608_triplets() makes
 * them): payload type 4, country 0xB5, provider 0x0031, "GA94",
 * user_data_type_code 3, process_cc_data_flag, cc_count, em_data 0xFF,
 * the triplets, marker 0xFF, rbsp trailing bits, escaped.  "nal" holds
 * DUB_SEI_NAL_MAX bytes.  Returns 0 and the length in "len", or -1 if
 * "count" is out of range.
 */
int dub_sei_cc(const uint8_t *cc, unsigned count, uint8_t *nal,
    size_t *len);

/*
 * The NALU length size (1, 2 or 4) of a stream, from its AVC sequence
 * header tag (VideoTagHeader, then the AVCDecoderConfigurationRecord's
 * lengthSizeMinusOne).  Returns 0, or -1 if the tag is not an AVC
 * sequence header or the record is malformed.
 */
int dub_avc_nalu_size(const uint8_t *tag, size_t len, unsigned *size);

/*
 * Where a SEI goes in an AVC NALU tag (AVCPacketType 1) whose NAL units
 * have "size"-byte lengths: the offset of the first slice's length
 * (nal_unit_type 1..5), after any access unit delimiter, parameter sets
 * and SEI.  Returns 0, or -1 if the tag is not an AVC NALU tag, a NAL
 * unit's length runs past its end, or it carries no slice.
 */
int dub_avc_sei_pos(const uint8_t *tag, size_t len, unsigned size,
    size_t *pos);

/*
 * Writes to "out" the tag with "nal" (nal_len bytes, as dub_sei_cc()
 * makes it) added as one more NAL unit at dub_avc_sei_pos(): the
 * VideoTagHeader and every NAL unit of the tag byte for byte, in their
 * order.  "out" holds len + size + nal_len bytes; "out_len" is set to
 * that.  Returns 0, or -1 as dub_avc_sei_pos() does or if nal_len does
 * not fit "size" bytes; "out" is then not written.
 */
int dub_avc_insert(const uint8_t *tag, size_t len, unsigned size,
    const uint8_t *nal, size_t nal_len, uint8_t *out, size_t *out_len);


#endif /* _DUB_SEI_H_INCLUDED_ */
