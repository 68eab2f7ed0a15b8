/* Channel names by their text (base/channel.c). */
#ifndef ENG_BASE_CHANNEL_H
#define ENG_BASE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

/* The channel named exactly k[0, n), -1 if none. Per-key parsing of receipts calls it: one
 * name compared, found by its length and first letter, in a few loads (no call to memcmp). */
int eng__channel_find(const char *k, size_t n);

#endif
