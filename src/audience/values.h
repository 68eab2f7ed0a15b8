/* Text-to-value parsing shared by the CSV import and the upsert API. Each
 * parser returns ENG_OK or an error code and fills *why with a static reason;
 * none allocate or touch the error state, so a bad field costs nothing. */
#ifndef ENG_AUDIENCE_VALUES_H
#define ENG_AUDIENCE_VALUES_H

#include <stddef.h>
#include <stdint.h>

int eng__val_utf8(const char *s, size_t n, const char **why);
int eng__val_int64(const char *s, size_t n, int64_t *out, const char **why);
/* Fixed point with up to 4 decimals, scaled by 10^4. */
int eng__val_decimal(const char *s, size_t n, int64_t *out, const char **why);
/* YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff]Z, to ms since the epoch (UTC). */
int eng__val_date(const char *s, size_t n, int64_t *out, const char **why);
/* true/false/yes/no/1/0 (case-insensitive). */
int eng__val_bool(const char *s, size_t n, int *out, const char **why);
/* A bool, or a date/time meaning "yes at that time". *has_ts says whether a
 * time was given: every int64 (0 = 1970-01-01 included) is a valid time. */
int eng__val_flag(const char *s, size_t n, int *yes, int64_t *ts, int *has_ts, const char **why);
/* Contact for a channel: email syntax, E.164 for phone channels, printable token otherwise. */
int eng__val_contact(int channel, const char *s, size_t n, const char **why);
/* An E.164 phone number ("+", then 8-15 digits, the first not 0) and its digits as an integer. */
int eng__val_phone(const char *s, size_t n, uint64_t *num, const char **why);
/* Whether channel @p ch takes an E.164 phone number (sms, whatsapp, viber, rcs, calltask). */
int eng__val_is_phone(int ch);
/* External id text (string kind): 1..255 bytes of UTF-8 without control characters. */
int eng__val_extid(const char *s, size_t n, const char **why);

#endif
