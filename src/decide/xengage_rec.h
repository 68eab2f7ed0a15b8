/* The steps every X-Engage record (type ENG__REC_XENGAGE) takes around its own fields: put what a writer
 * holds; open the record with a reader over its payload; close it, the payload read to its end or
 * ENG_ECORRUPT naming the key. The record layer (store/record.h) checks magic, length, CRC and schema. */
#ifndef ENG_DECIDE_XENGAGE_REC_H
#define ENG_DECIDE_XENGAGE_REC_H

#include "base/codec.h"
#include "store/record.h"

/* Doubles by their bits: a record reads back what was decided, to the last bit. */
void eng__xe_wr_f64(eng__wr *w, double d);
double eng__xe_rd_f64(eng__rd *r);

/* Put w's bytes under key and release w, whatever the outcome. */
int eng__xe_rec_put(eng_store *s, const char *key, uint16_t schema, eng__wr *w);
/* Read key's record (schema up to max_schema) into rec, r over its payload; on an error nothing to close. */
int eng__xe_rec_open(eng_store *s, const char *key, uint16_t max_schema, eng__rec *rec, eng__rd *r);
/* Release rec; returns rc, or when rc is ENG_OK and r failed or left bytes unread, ENG_ECORRUPT naming key
 * with @p what. */
int eng__xe_rec_close(eng_store *s, eng__rec *rec, const eng__rd *r, int rc, const char *key, const char *what);

#endif
