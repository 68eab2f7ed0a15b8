/* The on-disk format of the file store.
 *
 *   file   := header frame*
 *   header := "ENGSTORE" u32 format-version u32 crc32c(bytes 0..11)        16 bytes
 *   frame  := u32 magic "EFR1"  u32 payload-length  u64 sequence
 *             u32 crc32c(payload)  u32 crc32c(frame bytes 0..19)  payload   24 + n bytes
 *   payload:= op*      op := 0x01 uvar klen key uvar vlen value   (put)
 *                           | 0x02 uvar klen key                   (delete)
 * Version 2 adds key index frames (kbase.h): magic "EIX1", same header, in the
 * same sequence; they change no key, so replay skips them (a damaged one too:
 * its header's checksum says it is an index). Version 1 files (no index) open.
 * All integers little-endian. One frame is one committed batch; sequences start
 * at 1 and rise by one, so a lost, repeated or reordered frame is detected.
 *
 * The header has its own checksum so that a damaged length can never make a
 * committed frame look like a torn tail: only a frame that runs past the end of
 * the file, or whose payload fails its checksum while being the last frame, is
 * a torn tail. Anything else that fails a check is corruption. */
#ifndef ENG_STORE_FRAME_H
#define ENG_STORE_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include "base/codec.h"
#include "store/omap.h"

#define ENG__FILE_MAGIC "ENGSTORE"
#define ENG__FILE_VERSION 2u
#define ENG__FILE_VERSION_MIN 1u
#define ENG__FILE_HEADER 16
#define ENG__FRAME_MAGIC 0x31524645u /* "EFR1" */
#define ENG__INDEX_MAGIC 0x31584945u /* "EIX1" */
#define ENG__FRAME_HEADER 24
/* Largest payload one frame holds; bigger batches are refused, compaction splits. */
#define ENG__FRAME_MAX_PAYLOAD ((size_t)0x7fffffff)

enum { ENG__OP_PUT = 1, ENG__OP_DEL = 2 };

/* The header of @p version (ENG__FILE_VERSION for new files). */
void eng__file_header_encode(uint8_t out[ENG__FILE_HEADER], uint32_t version);
/* ENG_OK, ENG_ECORRUPT (not a store file) or ENG_EVERSION (newer format). */
int eng__file_header_check(const uint8_t in[ENG__FILE_HEADER]);

/* Append one op to a payload under construction. A NULL value with dead=1 is a delete.
 * The node's value must be in memory (not in_file). */
void eng__frame_add_op(eng__wr *w, const eng__onode *n);
/* The same from parts: a put of @p val (vlen bytes), or a delete when dead. The
 * value's bytes end the op, so they start at w->len - vlen afterwards. */
void eng__frame_add_kv(eng__wr *w, const void *key, size_t klen, const void *val, size_t vlen, int dead);
/* Fill the frame header for @p payload. */
void eng__frame_header_encode(uint8_t out[ENG__FRAME_HEADER], uint64_t seq, const void *payload, size_t len);
/* The same for a payload of @p len bytes whose CRC32C is @p pcrc (a payload written in pieces),
 * with @p magic ENG__FRAME_MAGIC or ENG__INDEX_MAGIC. */
void eng__frame_header_encode_crc(uint8_t out[ENG__FRAME_HEADER], uint32_t magic, uint64_t seq, uint32_t pcrc,
                                  size_t len);

/* The header a batch's first spilled op goes with (file.c spill): frame @p seq of the
 * largest length, so that a crash before the commit leaves a frame running past the end
 * of the file (a torn tail). The commit writes the real header over it. */
void eng__frame_standin_encode(uint8_t out[ENG__FRAME_HEADER], uint64_t seq);
/* A header of frame @p seq that fails its checksum: is it a stand-in the commit's real
 * header was being written over when a crash cut that write (its first bytes the real
 * header's, the rest the stand-in's)? 1: yes, cut before the real header's checksum: a
 * torn tail (the commit never returned); 2: cut inside that checksum: @p in is mended
 * into the real header (its payload still to be checked as any other); 0: no, damage.
 * A cut write, unlike damage, keeps the magic and the sequence and leaves the rest
 * exactly the stand-in's; a cut before byte 20 leaves the stand-in's own checksum. */
int eng__frame_header_mend(uint8_t in[ENG__FRAME_HEADER], uint64_t seq);

typedef struct eng__frame_hdr {
    uint32_t len;
    uint64_t seq;
    uint32_t pcrc;
    int index; /* a key index frame (ENG__INDEX_MAGIC) */
} eng__frame_hdr;

/* Verify the header's own checksum and magic (either kind). ENG_OK or ENG_ECORRUPT. */
int eng__frame_header_decode(const uint8_t in[ENG__FRAME_HEADER], eng__frame_hdr *out);
int eng__frame_payload_ok(const eng__frame_hdr *h, const void *payload);
/* Apply a verified payload to @p m (puts replace, deletes remove).
 * ENG_OK, ENG_ENOMEM, or ENG_ECORRUPT when the ops do not parse.
 * A value of at least @p ref_min bytes (0: none) is not copied: its node
 * refers to the file, where the payload starts at offset @p file_off. */
int eng__frame_apply(eng__omap *m, const void *payload, size_t len, uint64_t file_off, size_t ref_min);

#endif
