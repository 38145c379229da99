/*
 * store_pg.h - the PostgreSQL side: one `struct store` is one libpq connection, used by
 * one thread at a time. Every statement is parameterized; nothing from outside is ever
 * spliced into SQL text.
 */
#ifndef LEADHUB_STORE_PG_H
#define LEADHUB_STORE_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "event.h"

/* What a failed store call means for the caller. */
enum store_result {
    STORE_OK = 0,
    STORE_UNAVAILABLE = -1, /* connection lost or refused: retry later, answer 503 */
    STORE_CONFLICT = -2,    /* deadlock, serialization failure, or a lead merged away meanwhile:
                               retry the transaction */
    STORE_REJECTED = -3,    /* the statement failed on its data: retrying will not help */
    STORE_FENCED = -4 /* a poll's lease was taken over: its commit is refused (poll_lease.h) */
};

struct store;

/*
 * Every session's timeouts, so that a database that hangs or vanishes cannot hold a thread
 * for ever: connect_timeout; TCP keepalives (a silent peer is noticed in idle + interval *
 * count seconds); tcp_user_timeout (data unacknowledged this long closes the connection);
 * and, in the daemon, a statement timeout. A database_url that sets any of the libpq ones
 * keeps its own value.
 * Note: a server that is alive but stopped (SIGSTOP) still has its kernel acknowledge
 * data and keepalives: no client-side setting notices it. What waits on a commit bounds
 * its own wait instead (http.commit_timeout).
 */
#define STORE_CONNECT_TIMEOUT_S     "5"
#define STORE_KEEPALIVES_IDLE_S     "10"
#define STORE_KEEPALIVES_INTERVAL_S "5"
#define STORE_KEEPALIVES_COUNT      "3"
#define STORE_TCP_USER_TIMEOUT_MS   "20000"
/* The daemon's sessions (store_set_statement_timeout at start-up). */
#define STORE_STATEMENT_TIMEOUT_MS 60000

/*
 * store_set_statement_timeout - give sessions opened from now on a statement_timeout of
 * `ms` (0: none), unless the role, database or URL gives them one. Call at start-up,
 * before other threads connect. The command-line tools leave it unset: an operator's
 * long replay or migration is theirs to interrupt.
 */
void store_set_statement_timeout(int64_t ms);

/*
 * store_connect - a libpq connection with the settings above (application_name
 * "leadhubd", client_encoding UTF8), for modules that hold a raw session (pollers).
 *   error_out: on failure a malloc'd reason with any password removed.
 *   Returns the connection (PQfinish it) or NULL.
 */
PGconn *store_connect(const char *url, char **error_out);

/*
 * store_open - connect with store_connect()'s settings.
 *   url:       libpq connection string or URI; holds credentials: shown only through
 *              store_redact_url().
 *   error_out: on failure, a malloc'd reason with any password removed.
 *   Returns a new store (close with store_close()), or NULL.
 */
struct store *store_open(const char *url, char **error_out);

/* store_close - accepts NULL. */
void store_close(struct store *store);

/* store_connection - the libpq connection, for modules that run their own statements. */
PGconn *store_connection(struct store *store);

/* store_connected - true while libpq believes the connection is usable (no I/O). */
bool store_connected(const struct store *store);

/*
 * store_ensure - make sure the connection is usable, reconnecting once if it was lost.
 * Returns STORE_OK or STORE_UNAVAILABLE (with *error_out, malloc'd, when non-NULL).
 */
enum store_result store_ensure(struct store *store, char **error_out);

/*
 * store_exec - run one parameterized statement (prepared on first use under `name`, so
 * the statement text must be a constant).
 *   params: text-format values, NULL for SQL NULL; borrowed.
 *   result_out: on STORE_OK the PGresult (PQclear it); may be NULL to discard.
 *   error_out:  on failure a malloc'd message (the server's primary message and detail).
 */
enum store_result store_exec(struct store *store, const char *name, const char *sql, int nparams,
                             const char *const *params, PGresult **result_out, char **error_out);

/* store_prepare - prepare `sql` under `name` on this connection unless it is already
 * (store_exec does this on first use; pipelines need it done beforehand). */
enum store_result store_prepare(struct store *store, const char *name, const char *sql, int nparams,
                                char **error_out);

/*
 * Pipelines: several statements in one round trip (libpq pipeline mode).
 *   store_pipeline_begin()        enter pipeline mode (the connection must be idle);
 *   store_pipeline_send()         queue a statement prepared before (store_prepare);
 *   store_pipeline_send_command() queue a parameterless command (BEGIN, COMMIT);
 *   store_pipeline_sync()         send everything, then collect each statement's result
 *                                 in order into results[0..count) (PQclear each); on
 *                                 failure none are returned, *error_out says why (the first
 *                                 statement that failed), and the rest were not run;
 *   store_pipeline_end()          leave pipeline mode (after the last sync).
 * Without an explicit BEGIN the statements of one sync form one implicit transaction;
 * inside BEGIN a sync commits nothing. Sends return STORE_UNAVAILABLE when the connection
 * broke.
 */
enum store_result store_pipeline_begin(struct store *store, char **error_out);
enum store_result store_pipeline_send(struct store *store, const char *name, int nparams,
                                      const char *const *params, char **error_out);
enum store_result store_pipeline_send_command(struct store *store, const char *command,
                                              char **error_out);
enum store_result store_pipeline_sync(struct store *store, PGresult **results, size_t count,
                                      char **error_out);
void store_pipeline_end(struct store *store);

/*
 * store_query_within - run a statement on `conn`, waiting at most ms for its answer
 * (libpq's blocking calls cannot be bounded: a database that accepts but never answers
 * would hold the caller for ever).
 *   params:     text values, NULL for SQL NULL; borrowed.
 *   result_out: the PGresult when the server answered, success or failure (PQclear it);
 *               NULL otherwise.
 *   error_out:  on failure a malloc'd reason.
 *   Returns STORE_OK; STORE_UNAVAILABLE when the connection failed or no answer came in
 *   time (the connection is then in an unknown state: PQfinish it); else what
 *   store_classify() says of the failure.
 */
enum store_result store_query_within(PGconn *conn, const char *sql, int nparams,
                                     const char *const *params, int64_t ms, PGresult **result_out,
                                     char **error_out);

/* store_begin / store_commit / store_rollback - transaction control. */
enum store_result store_begin(struct store *store, char **error_out);
enum store_result store_commit(struct store *store, char **error_out);
void store_rollback(struct store *store);

/* store_classify - what a failed PGresult (or a NULL one) means. */
enum store_result store_classify(PGconn *conn, const PGresult *result);

/*
 * store_error_message - "message (detail)" of a failed result, or the connection's
 * error; malloc'd, trailing newline removed.
 */
char *store_error_message(PGconn *conn, const PGresult *result);

/*
 * store_redact_url - the URL with every password it writes replaced by "****", for
 * messages: a URI's user:PASSWORD@ and ?password=, a keyword=value string's password=
 * (quoted or not). Scheme, user, host, port, database and the other parameters stay.
 * malloc'd (NULL when out of memory).
 */
char *store_redact_url(const char *url);

/*
 * store_redact_message - a copy of message (libpq's error about url, which may quote the
 * string or the token it could not parse) with every password of url masked, as written
 * and as libpq reads it. malloc'd (NULL when out of memory).
 */
char *store_redact_message(const char *url, const char *message);

/*
 * store_json_loads - decode JSON text that PostgreSQL printed from a jsonb value.
 *
 * Note: jsonb keeps numbers as `numeric` and prints them without an exponent, so 1e20
 * (valid in an event) comes back as the integer literal 100000000000000000000, beyond
 * json_int_t, which json_loads() refuses ("too big integer"). When the plain decode fails,
 * such literals (and only they) are read as reals: 42 stays the integer 42, the big one
 * reads back as 1e20. Every reader of stored JSON (REST, delivery, checkpoints) decodes
 * through here.
 *   flags: json_loads() flags (0, JSON_DECODE_ANY, ...).
 *   error: may be NULL; on failure, why the last try failed.
 *   Returns a NEW reference, or NULL when it does not decode (a number beyond a double's
 *   range, such as 1e400, which jsonb accepts).
 */
json_t *store_json_loads(const char *text, size_t flags, json_error_t *error);

/*
 * store_checkpoint_get - the value saved for (instance, key).
 *   value_out: NEW reference, or NULL when none.
 */
enum store_result store_checkpoint_get(struct store *store, const char *instance, const char *key,
                                       json_t **value_out, char **error_out);

/* store_checkpoint_put - save (instance, key) = value now, in its own transaction.
 *   value: BORROWED. */
enum store_result store_checkpoint_put(struct store *store, const char *instance, const char *key,
                                       const json_t *value, char **error_out);

/* store_identity_put - record (source, external_id) -> lead_id now, in its own
 * transaction (a sink telling the hub which record a lead is: store_lead_merge.c). An
 * identity another lead holds stays with it, unless that lead is nothing but `source`'s
 * identity: then it is the same person, and it is merged into lead_id. */
enum store_result store_identity_put(struct store *store, const char *source,
                                     const char *external_id, int64_t lead_id, char **error_out);

/*
 * store_lead_merge - inside the caller's transaction, fold lead `from` into lead `into`
 * when `from` is nothing but `source`'s identity of it (store_lead_merge.c explains when
 * and why): events, deliveries, identities, meetings and attendances move, its address
 * and fields fill what `into` lacks, and it is deleted.
 *   merged_out: true when it was merged; false when it is someone of its own (left as it
 *               is) or either lead is gone.
 */
enum store_result store_lead_merge(struct store *store, int64_t from, int64_t into,
                                   const char *source, bool *merged_out, char **error_out);

/* A checkpoint put during a call, committed with the call's events. */
struct store_checkpoint {
    char *instance; /* owned */
    char *key;      /* owned */
    json_t *value;  /* owned reference */
};

/* A notification put during a call (connector_notifications, migration 0007). */
struct store_notification {
    char *instance; /* owned */
    char *key;      /* owned */
    json_t *value;  /* owned reference */
    char *wake;     /* owned: the sync channel to NOTIFY when the put changed something, or
                       NULL (a poll's own puts wait for the next poll) */
};

/* A notification a poll took: removed when its batch commits, if still at that seq. */
struct store_taken {
    char *instance; /* owned */
    char *key;      /* owned */
    int64_t seq;
};

/* The lease a poll's batch was fetched under (poll_lease.h): checked in its commit. */
struct store_fence {
    const char *instance; /* borrowed */
    int64_t fence;
};

/* What a batch writes besides its events: the instances' state, committed with them. */
struct store_writes {
    struct store_checkpoint *checkpoints;
    size_t checkpoint_count;
    struct store_notification *notifications; /* put (after the taken ones are removed) */
    size_t notification_count;
    struct store_taken *taken; /* removed */
    size_t taken_count;
    char **wake; /* sync channels to NOTIFY on commit (poll_soon) */
    size_t wake_count;
    /* committed only while this is still the instance's lease (else STORE_FENCED, nothing
     * stored); NULL for no check */
    const struct store_fence *fence;
};

struct router;

/*
 * store_write_batch - in one transaction: events (idempotent on source, source_id and
 * type), the leads they name (resolved by normalized email, else by identity), lead
 * identities, meetings and attendees, a delivery for every destination a route sends each
 * new event to (the outbox), checkpoints, notifications taken (removed) and put, and the
 * NOTIFY of every sync channel asked for (sent by PostgreSQL at commit, never before).
 *   events:       their id, lead_id and duplicate fields are set on STORE_OK.
 *   writes:       borrowed; NULL for events only.
 *   router:       borrowed; NULL routes nothing.
 *   destinations: borrowed object or NULL; each destination that got a delivery is added
 *                 as a key (so the caller can wake its workers after the commit).
 *   Returns STORE_OK once committed; otherwise nothing was stored.
 */
enum store_result store_write_batch(struct store *store, struct event_record *events,
                                    size_t event_count, const struct store_writes *writes,
                                    const struct router *router, json_t *destinations,
                                    char **error_out);

/* store_pipeline_pending - statements queued since the last sync (where the next one's
 * result will be). */
size_t store_pipeline_pending(const struct store *store);

/*
 * store_write_events - the events part of store_write_batch() inside a transaction the
 * caller began (and commits or rolls back): for writers that commit other rows with
 * their events (scores with the lead.scored events they cause).
 */
enum store_result store_write_events(struct store *store, struct event_record *events,
                                     size_t event_count, const struct router *router,
                                     json_t *destinations, char **error_out);

/* --- notifications (store_notifications.c) ---------------------------------------------- */

/* The NOTIFY payload of a wake (a notification, poll_soon): the poller tells it from
 * `leadhubd sync`'s empty payload, which polls even during a backoff. */
#define STORE_WAKE_PAYLOAD "notify"

/* Notifications per take at most (notifications_take's max). */
#define STORE_NOTIFICATIONS_TAKE_MAX 1000

/*
 * The statements store_write_batch() sends, and their rows: the put, as one row per
 * (instance, key) (the last put of a key wins; it wakes when any of them asks) with $2 the
 * extra channels to NOTIFY (a JSON array of strings); the removal of taken ones.
 */
extern const char store_sql_notifications_put[];
extern const char store_sql_notifications_remove[];
/* NEW JSON array, NULL when out of memory. */
json_t *store_notification_rows(const struct store_notification *items, size_t count);
json_t *store_taken_rows(const struct store_taken *items, size_t count);

/*
 * store_notification_put - put one notification now, in its own transaction, and NOTIFY
 * item->wake when it changed something.
 */
enum store_result store_notification_put(struct store *store, const struct store_notification *item,
                                         char **error_out);

/*
 * store_notifications_take - up to `limit` pending notifications of `instance` whose seq is
 * above `after`, oldest first.
 *   items_out: NEW array of {"key", "value", "received_at", "seq"}.
 */
enum store_result store_notifications_take(struct store *store, const char *instance, int64_t after,
                                           size_t limit, json_t **items_out, char **error_out);

/* store_notify - NOTIFY channel with payload now (outside any transaction: sent at once). */
enum store_result store_notify(struct store *store, const char *channel, const char *payload,
                               char **error_out);

#endif
