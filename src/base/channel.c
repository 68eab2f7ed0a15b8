/* Channel names (engage/channel.h): in base so that every layer can name a channel. */
#include "engage/channel.h"
#include "base/channel.h"

#include <string.h>

#define NAMES(X)                                                                                                   \
    X(sms) X(email) X(push) X(whatsapp) X(wechat) X(viber) X(rcs) X(zalo) X(inapp) X(line) X(calltask) X(facebook) \
        X(instagram) X(google) X(youtube)
#define NAME(n) #n,
#define LEN(n) sizeof #n - 1,
const char *const eng__channel_names[ENG_CH_COUNT] = {NAMES(NAME)};
const uint8_t eng__channel_lens[ENG_CH_COUNT] = {NAMES(LEN)};
#define Z16 "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
#define TAIL(n) Z16 "/" #n,
const char eng__channel_tails[ENG_CH_COUNT][32] = {NAMES(TAIL)};
const unsigned char eng__channel_ones[32] = {[16] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                             0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* (w * 0x8f6b19db) >> 28, w the last four bytes of "/<name>" ("/sms", "mail", "push", ...)
 * combined in memory order, the lowest first, is distinct for the fifteen names (the
 * multiplier found by a search). */
const uint8_t eng__channel_by_tail[16] = {
    ENG_CH_WECHAT + 1, ENG_CH_FACEBOOK + 1, ENG_CH_WHATSAPP + 1, ENG_CH_YOUTUBE + 1, ENG_CH_PUSH + 1,
    ENG_CH_INAPP + 1,  ENG_CH_RCS + 1,      ENG_CH_INSTAGRAM + 1, ENG_CH_VIBER + 1,  ENG_CH_GOOGLE + 1,
    ENG_CH_EMAIL + 1,  ENG_CH_CALLTASK + 1, ENG_CH_ZALO + 1,      ENG_CH_SMS + 1,    0,
    ENG_CH_LINE + 1,
};

ENG_API const char *eng_channel_name(int channel)
{
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return NULL;
    return eng__channel_names[channel];
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

int eng__channel_find(const char *k, size_t n)
{
    unsigned f = n ? (unsigned)(unsigned char)k[0] - 'a' : 26;
    int c = n < 10 && f < 26 ? by_len_first[n][f] - 1 : -1;
    return c >= 0 && eng__channel_same(k, eng__channel_names[c], n) ? c : -1;
}
