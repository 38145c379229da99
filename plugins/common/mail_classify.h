/*
 * mail_classify.h - what a message is, from its headers, so that every mail connector
 * (Gmail, Microsoft Graph) decides the same way which event it becomes.
 *
 * Input: the message's headers as {name, value} pairs (Gmail `payload.headers` of
 * format=metadata; Graph `internetMessageHeaders`: the same shape; header names compared
 * ignoring case), the mailbox's own addresses (the primary address and its aliases: Gmail
 * `sendAs`, Graph `proxyAddresses`) and the internal domains.
 *
 * Output (struct mail_classification):
 *
 * kind - first rule that applies, in this order:
 *   1. BOUNCE: From's local part is `mailer-daemon` or `postmaster`, or Content-Type is
 *      `multipart/report; report-type=delivery-status`, or `X-Failed-Recipients` is
 *      present. DELAY instead when it is only a delay warning (no X-Failed-Recipients
 *      and a subject saying "delay"/"delayed" or beginning "Warning:"). A
 *      `multipart/report; report-type=disposition-notification` (a read receipt) is
 *      AUTOMATED.
 *   2. `Auto-Submitted` other than `no` (RFC 3834): `auto-replied` is AUTO_REPLY, any other
 *      value (`auto-generated`, `auto-notified`) is AUTOMATED.
 *   3. `X-Autoreply`, `X-Autorespond` or `X-Autoresponder` present (other than `no`/`false`)
 *      or `Precedence: auto_reply`: AUTO_REPLY.
 *   4. Mail not from the mailbox only (the mailbox's own outreach often carries these, added
 *      by sending tools for deliverability, and is still the mailbox writing to a person):
 *      `List-Id`, `List-Unsubscribe` or `Precedence: bulk|list|junk` is LIST;
 *      `X-Auto-Response-Suppress` naming `All`, `OOF` or `AutoReply` is AUTOMATED (the
 *      sender asks not to be auto-answered: Exchange sets it on its own automatic replies,
 *      receipts and notifications; a person's mail client does not).
 *   5. Weak fallback, used only when no header above decided: a Subject (RFC 2047 decoded)
 *      that begins with a known automatic-reply prefix followed by a colon ("Automatic
 *      reply:", "Out of Office:", "Auto-Reply:", "Abwesenheitsnotiz:", "Automatische
 *      Antwort:", "Réponse automatique :", "Respuesta automática:", "Risposta automatica:",
 *      "Автоответ:", "自动回复：", "自動応答:", ... mail_classify.c lists them): AUTO_REPLY
 *      with reason "subject". The words anywhere else in a subject mean nothing.
 *   6. Otherwise PERSON.
 *
 * direction - from the first From address (Sender when From has none):
 *   SENT when it is one of the mailbox's addresses and some To/Cc/Bcc recipient is outside
 *   (neither the mailbox nor an internal domain); INTERNAL when the sender is the mailbox
 *   or in an internal domain and no outside person is concerned as above; RECEIVED when
 *   the sender is outside; UNKNOWN without a readable sender.
 *   Internal domains match exactly or as a parent (`example.com` covers `eu.example.com`),
 *   ignoring ASCII case; an IDN is compared as given (mail_domain_within()).
 *
 * counterparts - the outside people the message is with: the sender when RECEIVED, the
 *   outside recipients (To, Cc, Bcc; each address once) when SENT; none otherwise.
 *
 * is_reply - `In-Reply-To` or `References` is present and not empty.
 *
 * bounced - for a BOUNCE, the addresses of `X-Failed-Recipients`; empty when the headers
 *   do not say (Exchange does not): then mail_dsn_failed_recipients() on the report's
 *   message/delivery-status part, or the original message found by `in_reply_to` or the
 *   thread, says who bounced.
 *
 * Thread-safe and pure; everything in the result is owned by it.
 */
#ifndef LEADHUB_MAIL_CLASSIFY_H
#define LEADHUB_MAIL_CLASSIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mail_address.h"

/* One header, borrowed. Either member may be NULL (then the header is ignored). */
struct mail_header {
    const char *name;
    const char *value;
};

/* The mailbox a message was read from, borrowed. Addresses need not be normalized; they
 * are compared ignoring ASCII case. */
struct mail_mailbox {
    const char *const *addresses;
    size_t address_count;
    const char *const *internal_domains;
    size_t internal_domain_count;
};

enum mail_kind {
    MAIL_KIND_PERSON = 0,
    MAIL_KIND_AUTO_REPLY, /* out of office, vacation, autoresponder */
    MAIL_KIND_AUTOMATED,  /* notifications, receipts, other machine-made mail */
    MAIL_KIND_BOUNCE,     /* a delivery failure report */
    MAIL_KIND_DELAY,      /* a delivery delay warning: the message may still arrive */
    MAIL_KIND_LIST,       /* a mailing list, newsletter or other bulk mail */
};

enum mail_direction {
    MAIL_DIRECTION_UNKNOWN = 0,
    MAIL_DIRECTION_RECEIVED,
    MAIL_DIRECTION_SENT,
    MAIL_DIRECTION_INTERNAL,
};

struct mail_classification {
    enum mail_kind kind;
    /* What decided the kind, a static string usable as a metric label: "none",
     * "mailer_daemon", "delivery_status", "x_failed_recipients", "read_receipt",
     * "auto_submitted", "x_autoreply", "precedence", "list_id", "list_unsubscribe",
     * "x_auto_response_suppress", "subject". */
    const char *kind_reason;
    enum mail_direction direction;
    bool is_reply;
    const struct mail_address *sender;        /* into `from`, or NULL */
    struct mail_address_list from;            /* From (or Sender when From had none) */
    struct mail_address_list recipients;      /* To, Cc and Bcc, in that order */
    const struct mail_address **counterparts; /* into from/recipients */
    size_t counterpart_count;
    struct mail_address_list bounced; /* X-Failed-Recipients */
    char *subject;                    /* decoded, or NULL */
    char *message_id;                 /* Message-ID as given, trimmed ("<...>"), or NULL */
    char *in_reply_to;                /* the first message id of In-Reply-To ("<...>"), or NULL */
};

/*
 * mail_classify - classifies one message.
 *   headers/count: borrowed for the call.
 *   mailbox: borrowed.
 *   out: filled; free with mail_classification_clear(), also after an error.
 *   Returns 0, or -1 when out of memory.
 */
int mail_classify(const struct mail_header *headers, size_t count,
                  const struct mail_mailbox *mailbox, struct mail_classification *out);

/*
 * mail_classify_json - the same from a JSON array of {"name": ..., "value": ...} objects
 * (borrowed), as Gmail and Graph give headers. Members that are not such objects are
 * ignored. Returns 0, or -1 when out of memory or `headers` is not an array.
 */
int mail_classify_json(const json_t *headers, const struct mail_mailbox *mailbox,
                       struct mail_classification *out);

void mail_classification_clear(struct mail_classification *classification);

/* "person", "auto_reply", "automated", "bounce", "delay", "list". */
const char *mail_kind_name(enum mail_kind kind);

/* "unknown", "received", "sent", "internal". */
const char *mail_direction_name(enum mail_direction direction);

/* --------------------------------------------------------------------------------------
 * The event a message becomes: one function, so that every connector decides alike.
 * ------------------------------------------------------------------------------------ */

enum mail_event {
    MAIL_EVENT_SKIP = 0,
    MAIL_EVENT_RECEIVED, /* email.received: an outside person wrote to the mailbox */
    MAIL_EVENT_SENT,     /* email.sent: the mailbox wrote to outside people */
    MAIL_EVENT_REPLIED,  /* email.replied: an outside person answered the mailbox's thread */
    MAIL_EVENT_BOUNCED,  /* email.bounced: mail the mailbox sent could not be delivered */
};

/*
 * mail_event_decide - the event of a classified message.
 *   mailbox_in_thread: the connector's answer to "did the mailbox send a message earlier
 *     in this conversation?" (Gmail: a SENT message in the threadId; Graph: a sent item
 *     with the conversationId; for a bounce, the original message it reports on).
 *   skip_reason: set when the result is MAIL_EVENT_SKIP, to a static metric label:
 *     "auto_reply", "automated", "delivery_delay", "list", "bounce_unmatched",
 *     "internal", "no_sender"; left alone otherwise.
 *
 * Rules: an automatic answer, a delay warning or list mail is skipped whoever sent it; a
 * bounce is BOUNCED only when the mailbox sent what bounced (mailbox_in_thread), since a
 * bounce of mail forged in its name says nothing about the recipient; a message with no
 * outside person is skipped as internal; SENT when the mailbox wrote; REPLIED when an
 * outside sender's message says it answers something (is_reply) in a conversation the
 * mailbox took part in; RECEIVED otherwise.
 */
enum mail_event mail_event_decide(const struct mail_classification *classification,
                                  bool mailbox_in_thread, const char **skip_reason);

/* "email.received", "email.sent", "email.replied", "email.bounced"; NULL for SKIP. */
const char *mail_event_type(enum mail_event event);

#endif
