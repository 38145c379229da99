/*
 * mail_event.h - the normalized events (docs/events.md) a decided message becomes, built
 * one way for every mail connector (Gmail, Microsoft Graph), so that one conversation read
 * from either gives the same events.
 *
 * One event per lead the message concerns:
 *   email.received, email.replied  the sender                    source_id <id>
 *   email.sent                     each outside recipient        source_id <id>/<address>
 *   email.bounced                  each address that bounced     source_id <id>/<address>
 * (<id> is the provider's message id, at most 160 bytes, else no event.) An address
 * mail_event_address_ok() refuses makes no event; one that would make the source id pass
 * the hub's 256 bytes is cut there and ends with "~" and a 16-hex-digit hash of it. The lead
 * carries the address and, from the display name, the name fields person_name_set_lead() is sure
 * of. `data` carries ids and headers only: mailbox, provider_id, thread_id, message_id,
 * in_reply_to, subject, kind, direction, and `snippet` when the connector passes one (a setting
 * asks for it).
 */
#ifndef LEADHUB_MAIL_EVENT_H
#define LEADHUB_MAIL_EVENT_H

#include <jansson.h>

#include "mail_classify.h"

/* What the provider says about the message, borrowed. NULL members are left out. */
struct mail_event_source {
    const char *provider_id; /* the provider's message id (required) */
    const char *thread_id;   /* Gmail threadId, Graph conversationId */
    const char *mailbox;     /* the mailbox it was read from */
    const char *occurred_at; /* RFC 3339 UTC (required) */
    const char *snippet;     /* only when the connector is configured to pass it */
};

/*
 * mail_event_address_ok - whether a normalized address can be a lead's email as the hub
 * stores it (docs/events.md: one '@', no space, control character, ',', '<' or '>'; at
 * most 254 bytes). RFC 5322 allows more (a quoted local part with spaces); such an address
 * is left out of events rather than have the whole event refused.
 */
bool mail_event_address_ok(const char *address);

/*
 * mail_event_build - the events of one message.
 *   classification: borrowed, as mail_classify() filled it.
 *   event: mail_event_decide()'s answer; MAIL_EVENT_SKIP gives an empty array.
 *   bounced: for MAIL_EVENT_BOUNCED, the addresses that bounced (X-Failed-Recipients, a
 *            DSN, or the recipients of the original message); borrowed; may be NULL for
 *            classification->bounced.
 *   Returns: a NEW array of events (possibly empty: a bounce naming nobody), or NULL when
 *            out of memory or a required member is missing.
 */
json_t *mail_event_build(const struct mail_classification *classification, enum mail_event event,
                         const struct mail_address_list *bounced,
                         const struct mail_event_source *source);

#endif
