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
 * Transport calls are made by eng_run_due() *outside* the engine's lock, so
 * other threads keep using the engine while a batch is at the provider, and a
 * transport callback may itself call any engine function, which works as from
 * outside (engage/engine.h, "Callbacks"; test `dispatch_reentry`).
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
#define ENG_ENVELOPE_VERSION 2

/** Longest idempotency key the library makes, in bytes, without the NUL. */
#define ENG_SEND_KEY_MAX 127

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
    /* version 2 */
    uint64_t campaign;            /**< The campaign. */
    uint64_t message;             /**< The message. */
    uint32_t occurrence;          /**< Occurrence of the message's schedule, from 0. */
    uint32_t customer;            /**< Dense customer id. */
    uint32_t attempt;             /**< 1 for the first try; retries carry the same key. */
    uint32_t segments;            /**< Billing units: SMS segments, 1 for other channels. */
} eng_envelope;

/** Static initialiser equal to what eng_envelope_init() produces. */
#define ENG_ENVELOPE_INIT {ENG_ENVELOPE_VERSION, NULL, 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0}

/**
 * Fill @p x with the version and nothing else (for hosts and tests that build envelopes).
 * @param x the struct. @param version #ENG_ENVELOPE_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_envelope_init(eng_envelope *x, unsigned int version);

/** Outcome of one send as the host reports it. */
typedef enum eng_send_status {
    ENG_SEND_ACCEPTED = 0, /**< The provider accepted the message. */
    ENG_SEND_REJECTED = 1, /**< The provider refused it for good (bad address, ...): do not retry. */
    ENG_SEND_RETRY = 2,    /**< A temporary failure: safe to retry with the same key. */
    ENG_SEND_UNKNOWN = 3   /**< Timed out: the provider may or may not have it. */
} eng_send_status;

/**
 * Send a batch: @p n envelopes in, @p n outcomes out (`status[i]` for `env[i]`,
 * an #eng_send_status). The library fills @p status with -1 first; an entry
 * left negative (the provider never answered for it) counts as
 * #ENG_SEND_UNKNOWN, as does every entry when the call returns a negative code.
 */
typedef int (*eng_send_batch_fn)(const eng_envelope *env, size_t n, int *status, void *user);

/** Current version of #eng_transport_methods. */
#define ENG_TRANSPORT_METHODS_VERSION 2

/** A transport implemented by the host. */
typedef struct eng_transport_methods {
    unsigned int version; /**< #ENG_TRANSPORT_METHODS_VERSION. */
    /**
     * Send one message. Set @p status and return #ENG_OK; return a negative code
     * only when the transport itself is broken (the library then treats the
     * outcome as #ENG_SEND_UNKNOWN). Required in version 1; in version 2 either
     * this or send_batch (which is preferred when both are set).
     */
    int (*send)(const eng_envelope *env, int *status, void *user);
    /** Release the transport; optional; called exactly once by eng_close() (or a failing eng_open()). */
    void (*destroy)(void *user);
    /* version 2 */
    eng_send_batch_fn send_batch; /**< Batch send (see #eng_send_batch_fn); NULL: send is called per envelope. */
    unsigned int max_in_flight;   /**< Batches at the provider at once across all threads; 0 means 1, at most 64. */
    unsigned int batch_size;      /**< Envelopes per batch; 0 means 256, at most 4096. */
} eng_transport_methods;

/** Static initialiser equal to what eng_transport_methods_init() produces. */
#define ENG_TRANSPORT_METHODS_INIT {ENG_TRANSPORT_METHODS_VERSION, NULL, NULL, NULL, 0, 0}

/**
 * Fill @p x with the version and no callbacks.
 * @param x the struct. @param version #ENG_TRANSPORT_METHODS_VERSION.
 * @return #ENG_OK, #ENG_EINVAL (NULL @p x), #ENG_EVERSION (unknown version).
 */
ENG_API int eng_transport_methods_init(eng_transport_methods *x, unsigned int version);

ENG_END_DECLS

#endif /* ENGAGE_TRANSPORT_H */
