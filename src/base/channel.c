/* Channel names (engage/channel.h): in base so that every layer can name a channel. */
#include "engage/channel.h"
#include "base/channel.h"

#include <string.h>

#define NAMES(X)                                                                                                   \
    X(sms) X(email) X(push) X(whatsapp) X(wechat) X(viber) X(rcs) X(zalo) X(inapp) X(line) X(calltask) X(facebook) \
        X(instagram) X(google) X(youtube)
#define NAME(n) #n,
static const char *const names[ENG_CH_COUNT] = {NAMES(NAME)};

ENG_API const char *eng_channel_name(int channel)
{
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return NULL;
    return names[channel];
}

/* The channel + 1 whose name has length n (3 to 9) and first letter 'a' + f, 0: none (no two
 * names share both; test events_keytail checks the table against the names). */
static const uint8_t by_len_first[10][26] = {
    [3] = {['s' - 'a'] = ENG_CH_SMS + 1, ['r' - 'a'] = ENG_CH_RCS + 1},
    [4] = {['p' - 'a'] = ENG_CH_PUSH + 1, ['z' - 'a'] = ENG_CH_ZALO + 1, ['l' - 'a'] = ENG_CH_LINE + 1},
    [5] = {['e' - 'a'] = ENG_CH_EMAIL + 1, ['v' - 'a'] = ENG_CH_VIBER + 1, ['i' - 'a'] = ENG_CH_INAPP + 1},
    [6] = {['w' - 'a'] = ENG_CH_WECHAT + 1, ['g' - 'a'] = ENG_CH_GOOGLE + 1},
    [7] = {['y' - 'a'] = ENG_CH_YOUTUBE + 1},
    [8] = {['w' - 'a'] = ENG_CH_WHATSAPP + 1, ['c' - 'a'] = ENG_CH_CALLTASK + 1, ['f' - 'a'] = ENG_CH_FACEBOOK + 1},
    [9] = {['i' - 'a'] = ENG_CH_INSTAGRAM + 1},
};

/* k[0, n) equals name (of length n, 3 to 9) by two loads of each that overlap, of a fixed size. */
#define SAME(T)                                                                                      \
    do {                                                                                             \
        T a, b, c, d;                                                                                \
        memcpy(&a, k, sizeof a), memcpy(&b, name, sizeof b);                                         \
        memcpy(&c, k + n - sizeof c, sizeof c), memcpy(&d, name + n - sizeof d, sizeof d);           \
        return a == b && c == d;                                                                     \
    } while (0)

static int same(const char *k, const char *name, size_t n)
{
    if (n >= 8)
        SAME(uint64_t);
    if (n >= 4)
        SAME(uint32_t);
    SAME(uint16_t);
}

int eng__channel_find(const char *k, size_t n)
{
    unsigned f = n ? (unsigned)(unsigned char)k[0] - 'a' : 26;
    int c = n < 10 && f < 26 ? by_len_first[n][f] - 1 : -1;
    return c >= 0 && same(k, names[c], n) ? c : -1;
}
