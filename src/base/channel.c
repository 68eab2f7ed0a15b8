/* Channel names (engage/channel.h): in base so that every layer can name a channel. */
#include "engage/channel.h"
#include "base/channel.h"

#include <string.h>

#define NAMES(X)                                                                                                   \
    X(sms) X(email) X(push) X(whatsapp) X(wechat) X(viber) X(rcs) X(zalo) X(inapp) X(line) X(calltask) X(facebook) \
        X(instagram) X(google) X(youtube)
#define NAME(n) #n,
#define LEN(n) (uint8_t)(sizeof #n - 1),
static const char *const names[ENG_CH_COUNT] = {NAMES(NAME)};
static const uint8_t lens[ENG_CH_COUNT] = {NAMES(LEN)};

ENG_API const char *eng_channel_name(int channel)
{
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return NULL;
    return names[channel];
}

int eng__channel_find(const char *k, size_t n, int hint)
{
    if (hint >= 0 && hint < ENG_CH_COUNT && lens[hint] == n && !memcmp(names[hint], k, n))
        return hint;
    for (int c = 0; c < ENG_CH_COUNT; c++)
        if (lens[c] == n && !memcmp(names[c], k, n))
            return c;
    return -1;
}
