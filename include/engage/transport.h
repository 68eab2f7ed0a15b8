/**
 * @file engage/transport.h
 * @brief The transport contract: how a rendered message leaves the library.
 *
 * The host implements #eng_transport_methods. Every message carries a
 * deterministic idempotency key (campaign, message version, occurrence,
 * customer, channel), so a host whose provider supports idempotency keys can
 * make a retried send harmless. Without a transport, the engine uses one that
 * refuses every send with #ENG_ETRANSPORT.
 *
 * Stability rule: fields are only appended; callbacks take `user` last; a
 * callback added in version N is called only when `version >= N`.
 */
#ifndef ENGAGE_TRANSPORT_H
#define ENGAGE_TRANSPORT_H

#include "common.h"
#include "channel.h" /* eng_channel, eng_channel_name() */

ENG_BEGIN_DECLS

/** Current version of #eng_envelope. */
#define ENG_ENVELOPE_VERSION 1

/** One rendered message handed to the transport. All pointers are borrowed for the call. */
typedef struct eng_envelope {
    unsigned int version;         /**< #ENG_ENVELOPE_VERSION. */
    const char *idempotency_key;  /**< Deterministic per (campaign, version, occurrence, customer, channel). */
    int channel;                  /**< An #eng_channel. */
    const char *recipient;        /**< Address for the channel (E.164 phone, email, push token, ...). */
    const char *sender;           /**< Sender id configured for the channel, or "". */
    const char *subject;          /**< Subject or title, or "". */
    const char *body;             /**< Rendered body. */
    size_t body_len;              /**< Length of body in bytes. */
} eng_envelope;

/** Outcome of one send as the host reports it. */
typedef enum eng_send_status {
    ENG_SEND_ACCEPTED = 0, /**< The provider accepted the message. */
    ENG_SEND_REJECTED = 1, /**< The provider refused it for good (bad address, ...): do not retry. */
    ENG_SEND_RETRY = 2,    /**< A temporary failure: safe to retry with the same key. */
    ENG_SEND_UNKNOWN = 3   /**< Timed out: the provider may or may not have it. */
} eng_send_status;

/** Current version of #eng_transport_methods. */
#define ENG_TRANSPORT_METHODS_VERSION 1

/** A transport implemented by the host. */
typedef struct eng_transport_methods {
    unsigned int version; /**< #ENG_TRANSPORT_METHODS_VERSION. */
    /**
     * Send one message. Set @p status and return #ENG_OK; return a negative code
     * only when the transport itself is broken (the library then treats the
     * outcome as #ENG_SEND_UNKNOWN). Required.
     */
    int (*send)(const eng_envelope *env, int *status, void *user);
    /** Release the transport; optional; called exactly once by eng_close() (or a failing eng_open()). */
    void (*destroy)(void *user);
} eng_transport_methods;

ENG_END_DECLS

#endif /* ENGAGE_TRANSPORT_H */
