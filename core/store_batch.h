/*
 * store_batch.h - what the two halves of one batch write share (core only, not the SDK):
 *
 *   store_ingest.c  the batch: which events are new, the events and their deliveries (the
 *                   outbox), meetings, checkpoints, the transaction and its round trips
 *   store_erasure.c a lead's personal data erased by a new lead.erased event
 *   store_leads.c   the leads the events are about: named by id, by an identity or by an
 *                   email; identities, other addresses, leads merged, events that waited
 *                   for their lead
 *   store_lead_lifecycle.c  records a source deleted or merged (lead.deleted, lead.merged)
 *
 * The statements of a step are queued in a libpq pipeline and sent together; a step whose
 * answer the next needs runs at once (store_batch_exec_rows).
 */
#ifndef LEADHUB_STORE_BATCH_H
#define LEADHUB_STORE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store_pg.h"

/* Everything one batch write allocates, released in one place. */
struct batch {
    struct store *store;
    struct event_record *events;
    size_t count;
    bool *skip;       /* stored before this batch, or a later copy of a key within it */
    bool *by_id;      /* lead resolved to an existing lead: named by lead.id or identity */
    size_t *slots;    /* open-addressing index of the events by key: batch index + 1 */
    size_t slot_mask; /* slots has slot_mask + 1 entries */
    char *error;
    bool events_sent; /* the events insert is in the pipeline */
};

/* Runs `sql` now with the JSON text of `rows` (borrowed) as $1. */
enum store_result store_batch_exec_rows(struct batch *b, const char *name, const char *sql,
                                        const json_t *rows, PGresult **result_out);

/* Queues prepared statement `name` with `texts` (borrowed; libpq copies them). A NULL text
 * means out of memory. */
enum store_result store_batch_send_texts(struct batch *b, const char *name, int count,
                                         const char *const *texts);

/* Queues `name` with the values of `by_key` (an object merged by key) as rows ($1);
 * nothing when empty. */
enum store_result store_batch_send_merged(struct batch *b, const char *name, const json_t *by_key);

/* Text of a lead field of an event, or NULL (SQL NULL) when absent. Borrowed. */
const char *store_batch_lead_text(const json_t *lead, const char *field);

/* --- store_leads.c ------------------------------------------------------------------- */

/* Prepares the statements store_leads_send() queues in a pipeline. */
enum store_result store_leads_prepare(struct store *store, char **error_out);

/* Whether an event's lead needs answers before the events are written (an explicit
 * transaction): named by id, or carrying an identity. */
bool store_leads_need_steps(const json_t *lead);

/*
 * store_leads_resolve - the step that needs answers: events naming a lead by its id, or
 * carrying an identity that is known, resolve to that lead (b->by_id, e->lead_id), its
 * fields updated in event time order; a lead that was only the identity of the lead an
 * event names is merged into it; an identity nobody knows yet, with no email, makes a
 * lead when the event says something about the person, and none otherwise (the event
 * waits, lead-less, for its email). Runs its statements at once.
 */
enum store_result store_leads_resolve(struct batch *b);

/* Queues the upsert of the leads named by email and the identities the new events bring
 * (before the events). */
enum store_result store_leads_send(struct batch *b);

/* Every event of the batch that resolved to lead `from` resolves to `into` now (`from`
 * was merged into it). */
void store_leads_follow_merge(struct batch *b, int64_t from, int64_t into);

/* --- store_lead_lifecycle.c ----------------------------------------------------------- */

/* Whether `e` is a lead.deleted: its identity is removed, never recorded again. */
bool store_lead_record_deleted(const struct event_record *e);

/*
 * store_leads_reflect_records - what sources did to their records of people, in the
 * resolve step after identities are looked up: a lead.deleted's identity is removed (the
 * lead and its history kept); a lead.merged's merged identities end on the kept record's
 * lead, a lead that was only this source's identity folded into it (store_lead_merge).
 * Runs its statements at once.
 */
enum store_result store_leads_reflect_records(struct batch *b);

/* Queues what follows the events: the other addresses events brought for leads they named,
 * and the events that waited for a lead attached to the one their identity now has. */
enum store_result store_leads_send_after_events(struct batch *b);

/* --- store_erasure.c ------------------------------------------------------------------ */

/* Prepares the erasure statement. */
enum store_result store_erasure_prepare(struct store *store, char **error_out);

/* Queues the erasure of the leads of the batch's new lead.erased events, after the events
 * insert (nothing when there are none). */
enum store_result store_erasure_send(struct batch *b);

#endif
