/**
 * @file engage/channel.h
 * @brief Delivery channels: the enum every layer shares and their names.
 *
 * Its own header so that audiences (reachability per channel), the campaign
 * model (creatives per channel) and the dispatcher can name a channel without
 * depending on the transport contract.
 */
#ifndef ENGAGE_CHANNEL_H
#define ENGAGE_CHANNEL_H

#include "common.h"

ENG_BEGIN_DECLS

/** Delivery channels. Values are part of the ABI. */
typedef enum eng_channel {
    ENG_CH_SMS = 0,       /**< SMS. */
    ENG_CH_EMAIL = 1,     /**< Email. */
    ENG_CH_PUSH = 2,      /**< Mobile push. */
    ENG_CH_WHATSAPP = 3,  /**< WhatsApp. */
    ENG_CH_WECHAT = 4,    /**< WeChat. */
    ENG_CH_VIBER = 5,     /**< Viber. */
    ENG_CH_RCS = 6,       /**< RCS. */
    ENG_CH_ZALO = 7,      /**< Zalo. */
    ENG_CH_INAPP = 8,     /**< In-app message. */
    ENG_CH_LINE = 9,      /**< LINE. */
    ENG_CH_CALLTASK = 10, /**< Call task for a store associate. */
    ENG_CH_FACEBOOK = 11, /**< Facebook ads (audience export). */
    ENG_CH_INSTAGRAM = 12,/**< Instagram ads (audience export). */
    ENG_CH_GOOGLE = 13,   /**< Google ads (audience export). */
    ENG_CH_YOUTUBE = 14,  /**< YouTube ads (audience export). */
    ENG_CH_COUNT = 15     /**< Number of channels; not a channel. */
} eng_channel;

/** Room reserved for channels in fixed per-channel arrays (#eng_channel has fewer). */
#define ENG_MAX_CHANNELS 16

/**
 * Lower-case name of a channel ("sms", "email", "push", ...).
 * @return a static string, or NULL for a value outside the enum.
 */
ENG_API const char *eng_channel_name(int channel);

ENG_END_DECLS

#endif /* ENGAGE_CHANNEL_H */
