/* Channel names (engage/channel.h): in base so that every layer can name a channel. */
#include "engage/channel.h"

ENG_API const char *eng_channel_name(int channel)
{
    static const char *const names[ENG_CH_COUNT] = {
        "sms", "email", "push", "whatsapp", "wechat", "viber", "rcs", "zalo",
        "inapp", "line", "calltask", "facebook", "instagram", "google", "youtube"};
    if (channel < 0 || channel >= ENG_CH_COUNT)
        return NULL;
    return names[channel];
}
