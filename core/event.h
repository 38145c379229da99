/*
 * event.h - the normalized event model (docs/events.md) and its validation at the plugin
 * boundary. Every event a plugin emits passes event_validate() before it is queued: a
 * malformed one is refused with a reason that names the field, and never half-stored.
 */
#ifndef LEADHUB_EVENT_H
#define LEADHUB_EVENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

/* Limits, documented in docs/events.md. */
#define EVENT_TYPE_MAX      64
#define EVENT_SOURCE_ID_MAX 256
#define EVENT_FIELD_MAX     1024 /* any lead or meeting text field */
#define EVENT_EMAIL_MAX     254

/* A validated, normalized event on its way to the store. */
struct event_record {
    json_t *event;         /* the normalized event object; owned */
    const char *type;      /* borrowed from event */
    const char *source;    /* borrowed from event */
    const char *source_id; /* borrowed from event */
    int64_t occurred_at_ms;
    const char *lead_email; /* normalized lead.email (borrowed), or NULL */
    /* data.payment of a payment.succeeded or payment.failed (borrowed), or NULL: the store
     * keeps one event of the type per (source, payment_key) */
    const char *payment_key;
    /* Filled in by the store when the batch commits. */
    int64_t id;      /* events.id, 0 when it was a duplicate */
    int64_t lead_id; /* the lead it resolved to, 0 when none */
    bool duplicate;  /* already stored before (same source, source_id, type), or a payment
                      * of its source already stored (same type and payment_key) */
};

/*
 * event_validate - check `event` against the model and normalize it: `source` set to
 * `instance`, times in UTC as "YYYY-MM-DDTHH:MM:SS.mmmZ", lead.email trimmed and
 * lowercased, meeting.status set by meeting.canceled.
 *   event:     STOLEN, in every case.
 *   instance:  the emitting instance's name (borrowed).
 *   out:       on success, owns the normalized event (release with event_record_clear()).
 *   error_out: on failure, a malloc'd reason naming the field ("lead.email: not an email
 *              address"), without echoing large values.
 *   Returns 0, or -1.
 */
int event_validate(json_t *event, const char *instance, struct event_record *out, char **error_out);

void event_record_clear(struct event_record *record);

/* event_type_known - one of the standard types of docs/events.md, or "custom.<name>". */
bool event_type_known(const char *type);

/* What every custom.<name> type shares as a metric label: anyone may post new ones, and
 * each distinct label value would be a new series for ever. */
#define EVENT_TYPE_LABEL_CUSTOM "custom.*"

/*
 * event_type_label - the `type` label of an event metric: a standard type as it is, any
 * custom.<name> as EVENT_TYPE_LABEL_CUSTOM, anything else (or NULL) "invalid". A constant
 * or `type` itself: a bounded set either way.
 */
const char *event_type_label(const char *type);

/*
 * event_normalize_email - trim and lowercase `email` into a malloc'd string, or NULL when
 * it is not an email address (one '@', non-empty local part and domain, no spaces or
 * control characters, at most EVENT_EMAIL_MAX bytes).
 */
char *event_normalize_email(const char *email);

#endif
