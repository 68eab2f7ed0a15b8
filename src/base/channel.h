/* Channel names by their text (base/channel.c). */
#ifndef ENG_BASE_CHANNEL_H
#define ENG_BASE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

/* The channel named exactly k[0, n), -1 if none; @p hint (a channel, or -1) is tried first.
 * Per-key parsing of receipts calls it: one name compared, found by its length and first letter. */
int eng__channel_find(const char *k, size_t n, int hint);

#endif
