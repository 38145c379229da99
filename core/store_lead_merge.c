/*
 * store_lead_merge.c - folding a lead that was only ever one source's identity into the
 * lead that identity turns out to be.
 *
 * A Stripe customer is created before its Checkout completes: customer.created brings
 * cus_X with the payer's address (the accounts department), and the hub makes a lead of
 * it. The Checkout then names the lead the business sent it for (client_reference_id), and
 * cus_X is that lead's. Left apart, the first invoice would sit on one lead and the
 * renewals on the other, and the CRM would mark the wrong person a customer. So when an
 * event names lead A (by its id, or by an email A has while the identity's lead has none)
 * and carries identity X of lead B, and B is nothing but what X's source said about it (its
 * identities and events all come from that source, scores aside), B is merged into A: its
 * events, deliveries, identities, meetings and attendances move to A, its address is
 * recorded as one of A's (lead_addresses), its fields fill what A lacks, and B is deleted.
 * A lead known to anyone else (another source's identity or events) is a person of its
 * own: it is never merged, and the identity stays with it.
 *
 * A sink learns the same thing when its destination says which record a lead is (HubSpot's
 * 409 "Contact already exists. Existing ID: N"): if N's identity already names lead B,
 * made when the same instance's poll read that contact, B is folded into the lead the
 * delivery was for by the same rule (store_identity_put).
 *
 * Runs inside the caller's transaction, both leads locked in id order.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "store_pg.h"

/* Both leads, locked in id order (a merge the other way round waits, never deadlocks). */
static const char sql_lock[] =
    "SELECT l.id FROM leads l WHERE l.id = ANY(ARRAY[$1::bigint, $2::bigint]) ORDER BY l.id "
    "FOR UPDATE";

/* Whether B is nothing but `source`'s: identities, events (scores aside) and meetings. */
static const char sql_only_source[] =
    "SELECT NOT EXISTS (SELECT 1 FROM lead_identities WHERE lead_id = $1::bigint AND "
    "source <> $2) AND NOT EXISTS (SELECT 1 FROM events WHERE lead_id = $1::bigint AND "
    "source <> $2 AND type <> 'lead.scored') AND NOT EXISTS (SELECT 1 FROM meetings WHERE "
    "lead_id = $1::bigint AND source <> $2)";

/* In order; $1 = B (merged away), $2 = A (kept), $3 = the source. */
static const struct {
    const char *name;
    const char *sql;
    int nparams;
} moves[] = {
    /* deliveries first: they are found through B's events */
    {"merge_deliveries",
     "UPDATE deliveries SET lead_id = $2::bigint WHERE event_id IN "
     "(SELECT id FROM events WHERE lead_id = $1::bigint)",
     2},
    {"merge_events", "UPDATE events SET lead_id = $2::bigint WHERE lead_id = $1::bigint", 2},
    {"merge_identities",
     "UPDATE lead_identities SET lead_id = $2::bigint WHERE lead_id = $1::bigint", 2},
    {"merge_meetings", "UPDATE meetings SET lead_id = $2::bigint WHERE lead_id = $1::bigint", 2},
    {"merge_attendees",
     "UPDATE meeting_attendees SET lead_id = $2::bigint WHERE lead_id = $1::bigint", 2},
    {"merge_addresses",
     "INSERT INTO lead_addresses (lead_id, email, source, first_seen_at) "
     "SELECT $2::bigint, email, source, first_seen_at FROM lead_addresses "
     "WHERE lead_id = $1::bigint ON CONFLICT DO NOTHING",
     2},
    /* B's own address, unless it is A's; and B's fields where A has none */
    {"merge_own_address",
     "INSERT INTO lead_addresses (lead_id, email, source, first_seen_at) "
     "SELECT a.id, b.email, $3, b.created_at FROM leads a, leads b WHERE a.id = $2::bigint AND "
     "b.id = $1::bigint AND b.email IS NOT NULL AND b.email IS DISTINCT FROM a.email "
     "ON CONFLICT DO NOTHING",
     3},
    {"merge_fields",
     "UPDATE leads a SET first_name = coalesce(a.first_name, b.first_name), "
     "last_name = coalesce(a.last_name, b.last_name), company = coalesce(a.company, b.company), "
     "title = coalesce(a.title, b.title), phone = coalesce(a.phone, b.phone), "
     "linkedin_url = coalesce(a.linkedin_url, b.linkedin_url), "
     "attributes = b.attributes || a.attributes, updated_at = now() "
     "FROM leads b WHERE a.id = $2::bigint AND b.id = $1::bigint",
     2},
    /* its scores and addresses go with it (ON DELETE CASCADE); A is scored again */
    {"merge_delete", "DELETE FROM leads WHERE id = $1::bigint", 1},
};

enum store_result store_lead_merge(struct store *store, int64_t from, int64_t into,
                                   const char *source, bool *merged_out, char **error_out)
{
    char from_text[24], into_text[24];
    snprintf(from_text, sizeof(from_text), "%lld", (long long)from);
    snprintf(into_text, sizeof(into_text), "%lld", (long long)into);
    PGresult *result = NULL;
    *merged_out = false;
    const char *lock[] = {from_text, into_text};
    enum store_result rc = store_exec(store, "merge_lock", sql_lock, 2, lock, &result, error_out);
    if (rc != STORE_OK) {
        return rc;
    }
    bool both = PQntuples(result) == 2;
    PQclear(result);
    result = NULL;
    if (!both) {
        return STORE_OK; /* one of them is gone already: nothing to fold */
    }
    const char *check[] = {from_text, source};
    rc = store_exec(store, "merge_only_source", sql_only_source, 2, check, &result, error_out);
    if (rc != STORE_OK) {
        return rc;
    }
    bool only_source = PQntuples(result) == 1 && PQgetvalue(result, 0, 0)[0] == 't';
    PQclear(result);
    if (!only_source) {
        return STORE_OK;
    }
    const char *params[] = {from_text, into_text, source};
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
        rc = store_exec(store, moves[i].name, moves[i].sql, moves[i].nparams, params, NULL,
                        error_out);
        if (rc != STORE_OK) {
            return rc;
        }
    }
    log_write(LOG_LEVEL_INFO, NULL, source, NULL,
              "lead %lld merged into lead %lld: it was only this instance's identity of the "
              "same person",
              (long long)from, (long long)into);
    *merged_out = true;
    return STORE_OK;
}

enum store_result store_identity_put(struct store *store, const char *source,
                                     const char *external_id, int64_t lead_id, char **error_out)
{
    char lead[24];
    snprintf(lead, sizeof(lead), "%lld", (long long)lead_id);
    const char *params[] = {source, external_id, lead};
    PGresult *result = NULL;
    enum store_result rc = store_begin(store, error_out);
    if (rc != STORE_OK) {
        return rc;
    }
    /* the identity's lead: this one when it is new, else whichever holds it */
    rc = store_exec(store, "identity_put",
                    "WITH put AS (INSERT INTO lead_identities (source, external_id, lead_id) "
                    "SELECT $1, $2, id FROM leads WHERE id = $3::bigint "
                    "ON CONFLICT (source, external_id) DO NOTHING RETURNING lead_id) "
                    "SELECT lead_id FROM put UNION ALL SELECT lead_id FROM lead_identities "
                    "WHERE source = $1 AND external_id = $2 AND NOT EXISTS (SELECT 1 FROM put)",
                    3, params, &result, error_out);
    if (rc != STORE_OK) {
        goto fail;
    }
    int64_t holder = PQntuples(result) == 1 ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : 0;
    PQclear(result);
    if (holder != 0 && holder != lead_id) {
        bool merged = false;
        rc = store_lead_merge(store, holder, lead_id, source, &merged, error_out);
        if (rc != STORE_OK) {
            goto fail;
        }
    }
    rc = store_commit(store, error_out);
    if (rc != STORE_OK) {
        goto fail;
    }
    return STORE_OK;
fail:
    store_rollback(store);
    return rc;
}
