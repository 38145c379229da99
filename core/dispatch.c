/*
 * dispatch.c - the delivery lanes (see dispatch.h).
 *
 * A worker's cycle is one transaction: claim up to claim_batch due rows (locked, skipping
 * rows other workers hold), deliver them one by one or in the sink's batches, write every
 * attempted row's outcome, commit. Rows claimed but not attempted (the lane stopping, the
 * circuit opening mid-claim, the transaction's time budget spent) are left exactly as they
 * were.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "log.h"
#include "store_pg.h"
#include "util.h"

#define DISPATCH_IDLE_WAIT_MS     1000 /* between claims when nothing is due */
#define DISPATCH_SHORTEST_WAIT_MS 5    /* the least an idle worker waits for a retry */
/* A worker stops taking deliveries from its claim once its transaction is this old: it
 * commits what it sent, and claims no more than that next time. */
#define DISPATCH_TRANSACTION_BUDGET_MS 2000
#define DISPATCH_RETRY_AFTER_MAX_MS    (60LL * 60 * 1000)
#define DISPATCH_BREAKER_MAX_FACTOR    10 /* an open circuit waits at most 10x the cooldown */
#define DISPATCH_STATS_INTERVAL_MS     5000
#define DISPATCH_ERROR_MAX             1000 /* bytes of a sink's reason kept in last_error */
/* When an LH_HOLD gives no delay: data a record waits for rarely comes within seconds. */
#define DISPATCH_HOLD_DEFAULT_MS (10LL * 60 * 1000)

/*
 * What a worker claims of each row: its id, attempts, event, lead (for ordering), how long
 * it has been held (NULL when it is not), and the lead the event is about as it is now
 * (lh_delivery_t.lead), with its identities and other addresses.
 */
#define CLAIM_COLUMNS                                                                              \
    "d.id, d.attempts, e.payload::text, coalesce(d.lead_id, 0), "                                  \
    "(extract(epoch FROM now() - d.held_since) * 1000)::bigint, "                                  \
    "(SELECT json_build_object('id', l.id, 'email', l.email, 'first_name', l.first_name, "         \
    "'last_name', l.last_name, 'company', l.company, 'title', l.title, 'phone', l.phone, "         \
    "'linkedin_url', l.linkedin_url, 'identities', (SELECT coalesce(json_agg(json_build_object("   \
    "'source', i.source, 'external_id', i.external_id) ORDER BY i.created_at, i.source, "          \
    "i.external_id), '[]'::json) FROM lead_identities i WHERE i.lead_id = l.id), 'addresses', "    \
    "(SELECT coalesce(json_agg(a.email ORDER BY a.first_seen_at, a.email), '[]'::json) FROM "      \
    "lead_addresses a WHERE a.lead_id = l.id))::text FROM leads l WHERE l.id = e.lead_id) "

static const char sql_claim[] =
    "SELECT " CLAIM_COLUMNS "FROM deliveries d "
    "JOIN events e ON e.id = d.event_id "
    "WHERE d.destination = $1 AND d.status IN ('pending', 'retrying') "
    "AND d.next_attempt_at <= now() "
    "ORDER BY d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED";

/* Per-lead order: a delivery waits while an older one of its lead is still open. */
static const char sql_claim_ordered[] =
    "SELECT " CLAIM_COLUMNS "FROM deliveries d "
    "JOIN events e ON e.id = d.event_id "
    "WHERE d.destination = $1 AND d.status IN ('pending', 'retrying') "
    "AND d.next_attempt_at <= now() "
    "AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.destination = d.destination "
    "AND o.lead_id = d.lead_id AND o.status IN ('pending', 'retrying') AND o.id < d.id) "
    "ORDER BY d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED";

/* How long until this destination's next delivery falls due (ms, rounded up), when one is
 * waiting: an idle worker sleeps that long rather than a whole idle tick, so a retry goes
 * when its backoff says. Rows due already are left out: they wait for a lock or, in an
 * ordered lane, for an older row of their lead, and waking for them would spin. */
static const char sql_next_due[] =
    "SELECT ceil(extract(epoch FROM min(next_attempt_at) - now()) * 1000)::bigint "
    "FROM deliveries WHERE destination = $1 AND status IN ('pending', 'retrying') "
    "AND next_attempt_at > now()";

/* A hold spends no attempt; an answer (done, refused) ends the run of holds. */
static const char sql_record[] =
    "UPDATE deliveries AS d SET status = r.status, "
    "attempts = d.attempts + CASE WHEN r.held THEN 0 ELSE 1 END, "
    "holds = d.holds + CASE WHEN r.held THEN 1 ELSE 0 END, "
    "held_since = CASE WHEN r.held THEN coalesce(d.held_since, now()) ELSE NULL END, "
    "hold_reason = CASE WHEN r.held THEN r.last_error ELSE NULL END, "
    "next_attempt_at = CASE WHEN r.delay_ms IS NULL THEN d.next_attempt_at "
    "ELSE now() + r.delay_ms * interval '1 millisecond' END, "
    "last_error = r.last_error, updated_at = now(), "
    "done_at = CASE WHEN r.status = 'done' THEN now() ELSE NULL END "
    "FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, status text, delay_ms bigint, "
    "last_error text, held boolean) WHERE d.id = r.id";

static const char sql_stats[] =
    "SELECT destination, count(*) FILTER (WHERE status <> 'dead'), "
    "coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER "
    "(WHERE status <> 'dead' AND next_attempt_at <= now())), 0), "
    "count(*) FILTER (WHERE status = 'dead'), "
    "count(*) FILTER (WHERE status = 'retrying' AND held_since IS NOT NULL) "
    "FROM deliveries WHERE status IN ('pending', 'retrying', 'dead') GROUP BY destination";

enum circuit { CIRCUIT_CLOSED = 0, CIRCUIT_OPEN = 1, CIRCUIT_HALF_OPEN = 2 };

static const char *const circuit_names[] = {"closed", "open", "half_open"};

struct lane {
    struct dispatcher *dispatcher;
    struct instance *sink; /* a reference */
    char *destination;
    bool ordered;
    bool batched;
    pthread_t *workers;
    unsigned worker_count;
    unsigned running; /* workers not yet exited */

    pthread_mutex_t mutex; /* guards everything below */
    pthread_cond_t cond;
    bool stopping;
    uint64_t wakes;
    enum circuit circuit;
    unsigned failures_in_a_row;
    int64_t open_until_ms; /* monotonic */
    int64_t cooldown_ms;
    bool trial_claimed;
    char *misconfigured; /* why the sink last said LH_CONFIG, until it accepts again; owned */

    struct lane *next;
};

struct dispatcher {
    char *database_url;
    struct config_delivery policy;
    struct metrics *metrics;
    pthread_mutex_t mutex; /* guards lanes, stopping */
    pthread_cond_t cond;
    struct lane *lanes;
    bool stopping;
    pthread_t stats_thread;
    bool stats_started;
};

/* One claimed row. */
struct claimed {
    int64_t id;
    int attempts; /* before this one */
    int64_t lead_id;
    int64_t held_for_ms; /* how long it has been held, -1 when it is not */
    json_t *event;
    json_t *lead; /* the lead the event is about, as it is now; NULL when none */
    char key[48];
    bool attempted;
    bool undecodable; /* its stored event could not be read: dead without a sink call */
    lh_status_t status;
    char *error;
    int64_t retry_after_ms;
};

int64_t dispatch_backoff_ms(const struct config_delivery *policy, unsigned attempt, unsigned *seed)
{
    int64_t ceiling =
        util_backoff_ceiling_ms(policy->backoff_base_ms, policy->backoff_cap_ms, attempt);
    if (ceiling <= 0) {
        return 0;
    }
    /* two draws: rand_r gives 31 bits, the cap may exceed them in milliseconds */
    uint64_t draw = ((uint64_t)rand_r(seed) << 31) ^ (uint64_t)rand_r(seed);
    return (int64_t)(draw % (uint64_t)ceiling);
}

static void set_circuit(struct lane *lane, enum circuit circuit)
{
    if (lane->circuit == circuit) {
        return;
    }
    lane->circuit = circuit;
    log_write(circuit == CIRCUIT_OPEN ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, lane->sink->plugin->name,
              lane->destination, NULL, "delivery circuit %s%s", circuit_names[circuit],
              circuit == CIRCUIT_OPEN ? ": deliveries to this destination pause" : "");
    metrics_gauge_set(lane->dispatcher->metrics, "leadhub_delivery_circuit_state",
                      "Delivery circuit per destination: 0 closed, 1 open, 2 half-open.",
                      (double)circuit, "destination", lane->destination, METRICS_END);
}

/* An attempt's effect on the circuit. Called with the lane's mutex held. */
static void breaker_record(struct lane *lane, lh_status_t status)
{
    const struct config_delivery *policy = &lane->dispatcher->policy;
    if (status == LH_OK || status == LH_PERMANENT) {
        /* a permanent failure is the data's fault, not the destination's health */
        lane->failures_in_a_row = 0;
        if (lane->circuit != CIRCUIT_CLOSED) {
            lane->cooldown_ms = policy->breaker_cooldown_ms;
            set_circuit(lane, CIRCUIT_CLOSED);
        }
        return;
    }
    lane->failures_in_a_row++;
    if (lane->circuit == CIRCUIT_HALF_OPEN ||
        (lane->circuit == CIRCUIT_CLOSED && lane->failures_in_a_row >= policy->breaker_failures)) {
        if (lane->circuit == CIRCUIT_HALF_OPEN) {
            /* the trial failed: wait longer before the next one */
            int64_t longest = policy->breaker_cooldown_ms * DISPATCH_BREAKER_MAX_FACTOR;
            lane->cooldown_ms = lane->cooldown_ms * 2 > longest ? longest : lane->cooldown_ms * 2;
        }
        lane->open_until_ms = util_monotonic_ms() + lane->cooldown_ms;
        set_circuit(lane, CIRCUIT_OPEN);
    }
}

/*
 * How many rows this worker may claim now: 0 when it must wait (circuit open, or a trial
 * already out). Called with the lane's mutex held.
 */
static size_t claim_allowance(struct lane *lane, size_t wanted, int64_t *wait_ms)
{
    *wait_ms = DISPATCH_IDLE_WAIT_MS;
    if (lane->circuit == CIRCUIT_OPEN) {
        int64_t left = lane->open_until_ms - util_monotonic_ms();
        if (left > 0) {
            *wait_ms = left;
            return 0;
        }
        set_circuit(lane, CIRCUIT_HALF_OPEN);
        lane->trial_claimed = false;
    }
    if (lane->circuit == CIRCUIT_HALF_OPEN) {
        if (lane->trial_claimed) {
            *wait_ms = 200;
            return 0;
        }
        lane->trial_claimed = true;
        return 1;
    }
    return wanted;
}

static void claimed_free(struct claimed *rows, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        json_decref(rows[i].event);
        json_decref(rows[i].lead);
        free(rows[i].error);
    }
    free(rows);
}

/*
 * Claims due rows; returns how many (0 on none or error). The first *readable_out rows
 * carry their event; the rest are rows whose stored event cannot be decoded, already
 * marked for the dead letters: sending them is impossible, and leaving them pending
 * would keep them claimed, unattempted and invisible for ever (and, at the head of an
 * ordered lane, hold back their lead).
 */
static size_t claim(struct lane *lane, struct store *store, size_t limit, struct claimed **out,
                    size_t *readable_out)
{
    char limit_text[24];
    snprintf(limit_text, sizeof(limit_text), "%zu", limit);
    const char *params[] = {lane->destination, limit_text};
    PGresult *result = NULL;
    char *error = NULL;
    *out = NULL;
    *readable_out = 0;
    const char *name = lane->ordered ? "dispatch_claim_ordered" : "dispatch_claim";
    if (store_exec(store, name, lane->ordered ? sql_claim_ordered : sql_claim, 2, params, &result,
                   &error) != STORE_OK) {
        log_write(LOG_LEVEL_WARN, NULL, lane->destination, NULL, "claiming deliveries: %s",
                  error ? error : "?");
        free(error);
        return 0;
    }
    size_t n = (size_t)PQntuples(result);
    struct claimed *rows = n > 0 ? calloc(n, sizeof(*rows)) : NULL;
    if (n > 0 && rows == NULL) {
        PQclear(result);
        return 0;
    }
    size_t readable = 0, unreadable_at = n;
    for (size_t i = 0; i < n; i++) {
        json_error_t jerr;
        json_t *event = store_json_loads(PQgetvalue(result, (int)i, 2), 0, &jerr);
        struct claimed *row = event != NULL ? &rows[readable++] : &rows[--unreadable_at];
        row->id = strtoll(PQgetvalue(result, (int)i, 0), NULL, 10);
        row->attempts = (int)strtol(PQgetvalue(result, (int)i, 1), NULL, 10);
        row->lead_id = strtoll(PQgetvalue(result, (int)i, 3), NULL, 10);
        row->held_for_ms =
            PQgetisnull(result, (int)i, 4) ? -1 : strtoll(PQgetvalue(result, (int)i, 4), NULL, 10);
        /* a lead that cannot be read is left out: the event's own lead still says who */
        row->lead = PQgetisnull(result, (int)i, 5)
                        ? NULL
                        : json_loads(PQgetvalue(result, (int)i, 5), 0, NULL);
        row->event = event;
        row->retry_after_ms = -1;
        snprintf(row->key, sizeof(row->key), "leadhub-delivery-%lld", (long long)row->id);
        if (event == NULL) {
            row->undecodable = true;
            row->attempted = true;
            row->status = LH_PERMANENT;
            row->error = util_printf("the stored event cannot be decoded (%s, at character %d); "
                                     "it was never sent",
                                     jerr.text, jerr.position);
        }
    }
    PQclear(result);
    *out = rows;
    *readable_out = readable;
    return n;
}

static void note_outcome(struct claimed *row, lh_status_t status, const char *error,
                         int64_t retry_after_ms)
{
    row->attempted = true;
    row->status = status;
    row->retry_after_ms = retry_after_ms;
    free(row->error);
    row->error = NULL;
    if (status != LH_OK) {
        row->error = strndup(error != NULL ? error : "the sink gave no reason", DISPATCH_ERROR_MAX);
    }
}

/* Sends again, in one call, the deliveries of a batch that came back LH_AUTH, and puts
 * their new outcomes in place. Out of memory leaves the first outcomes. */
static void redeliver_refused(struct lane *lane, struct lh_ctx *ctx, lh_delivery_t *deliveries,
                              size_t count, lh_status_t *results, char **messages)
{
    size_t *at = calloc(count, sizeof(*at));
    lh_delivery_t *again = calloc(count, sizeof(*again));
    lh_status_t *again_results = calloc(count, sizeof(*again_results));
    char **again_messages = calloc(count, sizeof(*again_messages));
    size_t n = 0;
    if (at == NULL || again == NULL || again_results == NULL || again_messages == NULL) {
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (results[i] == LH_AUTH) {
            at[n] = i;
            again[n++] = deliveries[i];
        }
    }
    instance_deliver_batch(lane->sink, ctx, again, n, again_results, again_messages);
    for (size_t k = 0; k < n; k++) {
        free(messages[at[k]]);
        messages[at[k]] = again_messages[k];
        results[at[k]] = again_results[k];
    }
out:
    free(at);
    free(again);
    free(again_results);
    free(again_messages);
}

/* Delivers rows[from..from+count) in one deliver_batch() call. */
static void deliver_batch(struct lane *lane, struct claimed *rows, size_t count)
{
    lh_delivery_t *deliveries = calloc(count, sizeof(*deliveries));
    lh_status_t *results = calloc(count, sizeof(*results));
    char **messages = calloc(count, sizeof(*messages));
    if (deliveries == NULL || results == NULL || messages == NULL) {
        free(deliveries);
        free(results);
        free(messages);
        return; /* left unattempted: claimed again later */
    }
    for (size_t i = 0; i < count; i++) {
        deliveries[i] = (lh_delivery_t){.struct_size = (uint32_t)sizeof(lh_delivery_t),
                                        .id = rows[i].id,
                                        .idempotency_key = rows[i].key,
                                        .event = rows[i].event,
                                        .attempt = rows[i].attempts + 1,
                                        .lead_id = rows[i].lead_id,
                                        .lead = rows[i].lead};
    }
    struct lh_ctx ctx;
    ctx_init(&ctx, lane->sink, NULL);
    ctx.in_delivery = true;
    instance_deliver_batch(lane->sink, &ctx, deliveries, count, results, messages);
    bool auth_failed = false;
    for (size_t i = 0; i < count; i++) {
        auth_failed |= results[i] == LH_AUTH;
    }
    if (auth_failed && host_oauth2_drop(&ctx)) {
        /* a refused host-managed token: the host refreshes it and sends once more what
         * was refused for it, and only that (the rest is done or failed for its own reason) */
        redeliver_refused(lane, &ctx, deliveries, count, results, messages);
    }
    for (size_t i = 0; i < count; i++) {
        note_outcome(&rows[i], results[i], messages[i] != NULL ? messages[i] : ctx.error,
                     ctx.retry_after_ms);
        free(messages[i]);
    }
    ctx_clear(&ctx);
    free(deliveries);
    free(results);
    free(messages);
}

static void deliver_one(struct lane *lane, struct claimed *row)
{
    lh_delivery_t delivery = {.struct_size = (uint32_t)sizeof(lh_delivery_t),
                              .id = row->id,
                              .idempotency_key = row->key,
                              .event = row->event,
                              .attempt = row->attempts + 1,
                              .lead_id = row->lead_id,
                              .lead = row->lead};
    struct lh_ctx ctx;
    ctx_init(&ctx, lane->sink, NULL);
    ctx.in_delivery = true;
    lh_status_t status = instance_deliver(lane->sink, &ctx, &delivery);
    if (status == LH_AUTH && host_oauth2_drop(&ctx)) {
        /* a refused host-managed token: the host refreshes it and tries once more */
        free(ctx.error);
        ctx.error = NULL;
        status = instance_deliver(lane->sink, &ctx, &delivery);
    }
    note_outcome(row, status, ctx.error, ctx.retry_after_ms);
    ctx_clear(&ctx);
}

/* May this worker go on delivering its claim? (not stopping, circuit not opened) */
static bool may_continue(struct lane *lane)
{
    pthread_mutex_lock(&lane->mutex);
    bool ok = !lane->stopping && lane->circuit != CIRCUIT_OPEN;
    pthread_mutex_unlock(&lane->mutex);
    return ok;
}

/*
 * LH_CONFIG from a sink: the destination refuses the instance's configuration (revoked
 * credentials, a missing permission, a wrong account). Its deliveries are held (decide()),
 * not dead-lettered, so that they all go once the configuration is fixed; meanwhile the
 * lane says so (status, gauge, one error line) until an attempt succeeds. Called with the
 * lane's mutex held.
 */
static void note_configuration(struct lane *lane, lh_status_t status, const char *reason)
{
    static const char gauge[] = "leadhub_delivery_misconfigured";
    static const char help[] = "1 while a destination's sink refuses its configuration "
                               "(LH_CONFIG), by destination.";
    if (status == LH_CONFIG) {
        char *copy = strdup(reason != NULL ? reason : "the sink gave no reason");
        if (lane->misconfigured == NULL) {
            log_write(LOG_LEVEL_ERROR, lane->sink->plugin->name, lane->destination, NULL,
                      "the destination refuses this instance's configuration: %s; its "
                      "deliveries are retried until it is fixed",
                      copy != NULL ? copy : "?");
            metrics_gauge_set(lane->dispatcher->metrics, gauge, help, 1, "destination",
                              lane->destination, METRICS_END);
        }
        if (copy != NULL) {
            free(lane->misconfigured);
            lane->misconfigured = copy;
        }
    } else if (status == LH_OK && lane->misconfigured != NULL) {
        log_write(LOG_LEVEL_INFO, lane->sink->plugin->name, lane->destination, NULL,
                  "the destination accepts deliveries again");
        free(lane->misconfigured);
        lane->misconfigured = NULL;
        metrics_gauge_set(lane->dispatcher->metrics, gauge, help, 0, "destination",
                          lane->destination, METRICS_END);
    }
}

/* The row's new state and how long until its next try (-1: none), for a status the sink
 * returned. Holds spend no attempt and end dead only after max_hold: LH_RETRY_AFTER (the
 * destination asked to wait), LH_HOLD (the record waits for data) and LH_CONFIG (the
 * destination refuses the instance's configuration: no fault of the record, and it goes
 * once an operator fixes it, however long that takes within max_hold). Refusals (LH_RETRY,
 * LH_AUTH) count toward max_attempts. */
static const char *decide(const struct config_delivery *policy, struct claimed *row, bool *held_out,
                          int64_t *delay_out, unsigned *seed)
{
    unsigned attempt = (unsigned)row->attempts + 1;
    *held_out = false;
    *delay_out = -1;
    if (row->status == LH_OK) {
        return "done";
    }
    if (row->status == LH_PERMANENT) {
        return "dead";
    }
    if (row->status == LH_RETRY_AFTER || row->status == LH_HOLD || row->status == LH_CONFIG) {
        *held_out = true;
        int64_t held_for = row->held_for_ms > 0 ? row->held_for_ms : 0;
        if (held_for >= policy->max_hold_ms) {
            char *reason =
                util_printf("held for %llds, longer than delivery.max_hold: %s",
                            (long long)(held_for / 1000), row->error != NULL ? row->error : "");
            free(row->error);
            row->error = reason;
            return "dead";
        }
        /* a configuration is not fixed within seconds: look again at the backoff's
         * ceiling (the open circuit spaces the destination's trials further) */
        *delay_out = row->retry_after_ms >= 0   ? row->retry_after_ms
                     : row->status == LH_HOLD   ? DISPATCH_HOLD_DEFAULT_MS
                     : row->status == LH_CONFIG ? policy->backoff_cap_ms
                                                : dispatch_backoff_ms(policy, attempt, seed);
        return "retrying";
    }
    if (attempt >= policy->max_attempts) {
        char *reason = util_printf("gave up after %u attempts: %s", attempt,
                                   row->error != NULL ? row->error : "");
        free(row->error);
        row->error = reason;
        return "dead";
    }
    *delay_out = dispatch_backoff_ms(policy, attempt, seed);
    return "retrying";
}

/* The row's new state; counts metrics. */
static json_t *outcome_row(struct lane *lane, struct claimed *row, unsigned *seed)
{
    bool held;
    int64_t delay_ms;
    const char *state = decide(&lane->dispatcher->policy, row, &held, &delay_ms, seed);
    json_t *delay = delay_ms < 0 ? json_null()
                                 : json_integer(delay_ms > DISPATCH_RETRY_AFTER_MAX_MS
                                                    ? DISPATCH_RETRY_AFTER_MAX_MS
                                                    : delay_ms);
    const char *outcome = held && strcmp(state, "retrying") == 0 ? "held" : state;
    metrics_counter_add(lane->dispatcher->metrics, "leadhub_deliveries_total",
                        "Delivery attempts and holds, by destination and outcome (done, retrying, "
                        "held, dead).",
                        1, "destination", lane->destination, "outcome", outcome, METRICS_END);
    if (strcmp(state, "dead") == 0) {
        log_write(LOG_LEVEL_WARN, lane->sink->plugin->name, lane->destination, NULL,
                  "delivery %lld is dead after %d attempt(s): %s", (long long)row->id,
                  row->attempts + (held ? 0 : 1), row->error != NULL ? row->error : "");
    }
    json_t *out = json_pack("{s:I,s:s,s:o,s:s?,s:b}", "id", (json_int_t)row->id, "status", state,
                            "delay_ms", delay, "last_error", row->error, "held", held);
    return out;
}

/*
 * What the attempts on rows[0..n) say about the destination, told to the breaker as soon as
 * they are made: a worker's next row then waits when they opened the circuit, rather than
 * the rest of its claim going to a destination that is down. An unreadable row, or a record
 * waiting for its data, says nothing about the destination's health.
 */
static void breaker_feed(struct lane *lane, struct claimed *rows, size_t n)
{
    pthread_mutex_lock(&lane->mutex);
    for (size_t i = 0; i < n; i++) {
        if (rows[i].attempted && !rows[i].undecodable && rows[i].status != LH_HOLD) {
            breaker_record(lane, rows[i].status);
            note_configuration(lane, rows[i].status, rows[i].error);
        }
    }
    pthread_mutex_unlock(&lane->mutex);
}

/* When nothing was claimed: the wait before the next claim, up to an idle tick. */
static int64_t idle_wait_ms(struct lane *lane, struct store *store)
{
    const char *params[] = {lane->destination};
    PGresult *result = NULL;
    int64_t wait = DISPATCH_IDLE_WAIT_MS;
    if (store_exec(store, "dispatch_next_due", sql_next_due, 1, params, &result, NULL) !=
        STORE_OK) {
        return wait;
    }
    if (PQntuples(result) == 1 && !PQgetisnull(result, 0, 0)) {
        int64_t due = strtoll(PQgetvalue(result, 0, 0), NULL, 10);
        wait = due < DISPATCH_SHORTEST_WAIT_MS ? DISPATCH_SHORTEST_WAIT_MS
               : due < wait                    ? due
                                               : wait;
    }
    PQclear(result);
    return wait;
}

/* What one worker cycle did. */
struct cycle {
    size_t claimed;
    size_t sent;     /* claimed rows handed to the sink */
    bool cut_short;  /* the transaction budget ran out before the claim did */
    int64_t idle_ms; /* when nothing was claimed: the wait before claiming again */
};

/*
 * One claim-deliver-record transaction.
 *
 * Note: the rows stay locked until the commit, and every outcome waits for it, so the
 * transaction is kept short: after DISPATCH_TRANSACTION_BUDGET_MS the rest of the claim
 * is left as it was (released by the commit, exactly as when the lane stops). A long
 * transaction would hold back vacuum everywhere, hide the outcomes already known, and
 * lose all of them - a whole claim resent - if the worker died before committing.
 */
static struct cycle work_once(struct lane *lane, struct store *store, size_t limit, unsigned *seed)
{
    struct cycle cycle = {.idle_ms = DISPATCH_IDLE_WAIT_MS};
    char *error = NULL;
    if (store_begin(store, &error) != STORE_OK) {
        free(error);
        return cycle;
    }
    int64_t started = util_monotonic_ms();
    struct claimed *rows = NULL;
    size_t readable = 0;
    size_t count = claim(lane, store, limit, &rows, &readable);
    cycle.claimed = count;
    if (count == 0) {
        cycle.idle_ms = idle_wait_ms(lane, store);
    }
    size_t step = lane->batched ? lane->sink->batch_size : 1;
    for (size_t i = 0; i < readable && may_continue(lane); i += step) {
        if (i > 0 && util_monotonic_ms() - started >= DISPATCH_TRANSACTION_BUDGET_MS) {
            cycle.cut_short = true;
            break;
        }
        size_t n = readable - i < step ? readable - i : step;
        if (n > 1) {
            deliver_batch(lane, rows + i, n);
        } else {
            deliver_one(lane, &rows[i]);
        }
        breaker_feed(lane, rows + i, n);
        cycle.sent += n;
    }
    json_t *outcomes = json_array();
    for (size_t i = 0; i < count && outcomes != NULL; i++) {
        if (rows[i].attempted) {
            json_array_append_new(outcomes, outcome_row(lane, &rows[i], seed));
        }
    }
    enum store_result rc = STORE_OK;
    if (outcomes != NULL && json_array_size(outcomes) > 0) {
        char *text = json_dumps(outcomes, JSON_COMPACT);
        const char *params[] = {text};
        rc = text != NULL
                 ? store_exec(store, "dispatch_record", sql_record, 1, params, NULL, &error)
                 : STORE_UNAVAILABLE;
        free(text);
    }
    if (rc == STORE_OK) {
        rc = store_commit(store, &error);
    } else {
        store_rollback(store);
    }
    if (rc != STORE_OK) {
        /* The outcomes are lost with the transaction: those rows will be sent again. */
        log_write(LOG_LEVEL_ERROR, NULL, lane->destination, NULL,
                  "recording %zu delivery outcome(s) failed (they will be retried): %s",
                  json_array_size(outcomes), error != NULL ? error : "?");
    }
    free(error);
    json_decref(outcomes);
    claimed_free(rows, count);
    return cycle;
}

static void *worker_main(void *arg)
{
    struct lane *lane = arg;
    struct store *store = NULL;
    unsigned seed = (unsigned)util_monotonic_ms() ^ (unsigned)(uintptr_t)&store;
    const struct config_delivery *policy = &lane->dispatcher->policy;
    size_t wanted = lane->batched ? lane->sink->batch_size : policy->claim_batch;
    if (wanted < policy->claim_batch) {
        wanted = policy->claim_batch;
    }
    size_t fitting = wanted; /* what the last transactions could send within their budget */
    for (;;) {
        pthread_mutex_lock(&lane->mutex);
        if (lane->stopping) {
            pthread_mutex_unlock(&lane->mutex);
            break;
        }
        int64_t wait_ms = 0;
        size_t limit = claim_allowance(lane, fitting, &wait_ms);
        if (limit == 0) {
            util_cond_wait_ms(&lane->cond, &lane->mutex, wait_ms);
            pthread_mutex_unlock(&lane->mutex);
            continue;
        }
        uint64_t wakes = lane->wakes;
        pthread_mutex_unlock(&lane->mutex);

        if (store == NULL) {
            char *error = NULL;
            store = store_open(lane->dispatcher->database_url, &error);
            free(error);
        } else if (store_ensure(store, NULL) != STORE_OK) {
            store_close(store);
            store = NULL;
        }
        struct cycle cycle = {.idle_ms = DISPATCH_IDLE_WAIT_MS};
        if (store != NULL) {
            cycle = work_once(lane, store, limit, &seed);
        }
        if (cycle.cut_short) {
            fitting = cycle.sent; /* a slow destination: claim what can go in time */
        } else if (cycle.sent == limit && fitting < wanted) {
            fitting = fitting * 2 < wanted ? fitting * 2 : wanted;
        }
        size_t claimed = cycle.claimed;

        pthread_mutex_lock(&lane->mutex);
        if (limit == 1 && lane->circuit == CIRCUIT_HALF_OPEN) {
            lane->trial_claimed = false; /* no trial happened, or it is recorded */
        }
        /* Idle only when nothing was due and nobody woke the lane meanwhile. */
        if (claimed == 0 && !lane->stopping && lane->wakes == wakes) {
            /* also the pause before reconnecting when the database is away */
            util_cond_wait_ms(&lane->cond, &lane->mutex, cycle.idle_ms);
        }
        pthread_mutex_unlock(&lane->mutex);
    }
    store_close(store);
    pthread_mutex_lock(&lane->mutex);
    lane->running--;
    pthread_cond_broadcast(&lane->cond);
    pthread_mutex_unlock(&lane->mutex);
    return NULL;
}

static void set_queue_gauges(struct metrics *metrics, const char *destination, double depth,
                             double oldest_due_seconds, double dead, double held)
{
    metrics_gauge_set(metrics, "leadhub_delivery_queue_depth",
                      "Deliveries waiting (pending or retrying), by destination.", depth,
                      "destination", destination, METRICS_END);
    metrics_gauge_set(metrics, "leadhub_delivery_oldest_due_seconds",
                      "Age of the oldest due delivery, by destination.", oldest_due_seconds,
                      "destination", destination, METRICS_END);
    metrics_gauge_set(metrics, "leadhub_deliveries_dead",
                      "Dead deliveries (replayable), by destination.", dead, "destination",
                      destination, METRICS_END);
    metrics_gauge_set(metrics, "leadhub_deliveries_held",
                      "Deliveries held (a rate limit, a Retry-After, data they wait for), by "
                      "destination; /v1/deliveries?status=held says why.",
                      held, "destination", destination, METRICS_END);
}

/*
 * One sample of the queue gauges. The query returns nothing for a destination with
 * nothing waiting and nothing dead, so every destination reported before (`reported`, kept
 * across samples) and every lane gets 0 when it has no row: a drained queue reads 0, not
 * the last depth it had.
 */
static void sample_queues(struct dispatcher *d, struct store *store, json_t *reported)
{
    PGresult *result = NULL;
    if (store_exec(store, "dispatch_stats", sql_stats, 0, NULL, &result, NULL) != STORE_OK) {
        return; /* unknown is not zero: the gauges keep their values */
    }
    json_t *seen = json_object();
    for (int i = 0; i < PQntuples(result); i++) {
        const char *destination = PQgetvalue(result, i, 0);
        set_queue_gauges(d->metrics, destination, strtod(PQgetvalue(result, i, 1), NULL),
                         strtod(PQgetvalue(result, i, 2), NULL),
                         strtod(PQgetvalue(result, i, 3), NULL),
                         strtod(PQgetvalue(result, i, 4), NULL));
        json_object_set_new(seen, destination, json_true());
    }
    PQclear(result);
    pthread_mutex_lock(&d->mutex);
    for (struct lane *lane = d->lanes; lane != NULL; lane = lane->next) {
        json_object_set_new(reported, lane->destination, json_true());
    }
    pthread_mutex_unlock(&d->mutex);
    const char *destination;
    json_t *ignored;
    json_object_foreach(reported, destination, ignored)
    {
        if (seen != NULL && json_object_get(seen, destination) == NULL) {
            set_queue_gauges(d->metrics, destination, 0, 0, 0, 0);
        }
    }
    json_object_update(reported, seen);
    json_decref(seen);
}

/* Queue depth, oldest due age and dead letters per destination, every few seconds. */
static void *stats_main(void *arg)
{
    struct dispatcher *d = arg;
    struct store *store = NULL;
    json_t *reported = json_object(); /* destinations whose gauges were set */
    pthread_mutex_lock(&d->mutex);
    while (!d->stopping) {
        pthread_mutex_unlock(&d->mutex);
        char *error = NULL;
        if (store == NULL) {
            store = store_open(d->database_url, &error);
        } else if (store_ensure(store, &error) != STORE_OK) {
            store_close(store);
            store = NULL;
        }
        if (store != NULL && reported != NULL) {
            sample_queues(d, store, reported);
        }
        free(error);
        pthread_mutex_lock(&d->mutex);
        if (!d->stopping) {
            util_cond_wait_ms(&d->cond, &d->mutex, DISPATCH_STATS_INTERVAL_MS);
        }
    }
    pthread_mutex_unlock(&d->mutex);
    json_decref(reported);
    store_close(store);
    return NULL;
}

struct dispatcher *dispatch_start(const struct dispatch_options *options)
{
    struct dispatcher *d = calloc(1, sizeof(*d));
    if (d == NULL || (d->database_url = strdup(options->database_url)) == NULL) {
        free(d);
        return NULL;
    }
    d->policy = options->policy;
    d->metrics = options->metrics;
    pthread_mutex_init(&d->mutex, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->stats_started = pthread_create(&d->stats_thread, NULL, stats_main, d) == 0;
    return d;
}

static struct lane *find_lane(struct dispatcher *d, const char *destination)
{
    for (struct lane *lane = d->lanes; lane != NULL; lane = lane->next) {
        if (strcmp(lane->destination, destination) == 0) {
            return lane;
        }
    }
    return NULL;
}

static void lane_free(struct lane *lane)
{
    pthread_cond_destroy(&lane->cond);
    pthread_mutex_destroy(&lane->mutex);
    instance_release(lane->sink);
    free(lane->misconfigured);
    free(lane->workers);
    free(lane->destination);
    free(lane);
}

int dispatch_add(struct dispatcher *d, struct instance *sink)
{
    pthread_mutex_lock(&d->mutex);
    if (d->stopping || find_lane(d, sink->name) != NULL) {
        pthread_mutex_unlock(&d->mutex);
        return -1;
    }
    struct lane *lane = calloc(1, sizeof(*lane));
    const lh_plugin_t *desc = sink->plugin->desc;
    unsigned workers = (desc->flags & LH_PLUGIN_REENTRANT) ? d->policy.concurrency : 1;
    if (lane == NULL || (lane->destination = strdup(sink->name)) == NULL ||
        (lane->workers = calloc(workers, sizeof(*lane->workers))) == NULL) {
        if (lane != NULL) {
            free(lane->destination);
        }
        free(lane);
        pthread_mutex_unlock(&d->mutex);
        return -1;
    }
    lane->dispatcher = d;
    lane->sink = instance_acquire(sink);
    lane->ordered = (desc->flags & LH_PLUGIN_ORDERED) != 0;
    lane->batched = desc->deliver_batch != NULL && sink->batch_size > 1;
    lane->cooldown_ms = d->policy.breaker_cooldown_ms;
    pthread_mutex_init(&lane->mutex, NULL);
    pthread_cond_init(&lane->cond, NULL);
    metrics_gauge_set(d->metrics, "leadhub_delivery_circuit_state",
                      "Delivery circuit per destination: 0 closed, 1 open, 2 half-open.", 0,
                      "destination", lane->destination, METRICS_END);
    for (unsigned i = 0; i < workers; i++) {
        pthread_mutex_lock(&lane->mutex);
        lane->running++;
        pthread_mutex_unlock(&lane->mutex);
        if (pthread_create(&lane->workers[i], NULL, worker_main, lane) != 0) {
            pthread_mutex_lock(&lane->mutex);
            lane->running--;
            pthread_mutex_unlock(&lane->mutex);
            break;
        }
        lane->worker_count++;
    }
    lane->next = d->lanes;
    d->lanes = lane;
    pthread_mutex_unlock(&d->mutex);
    return 0;
}

/* Asks a lane to stop and waits until its workers exit or deadline (monotonic) passes.
 * Returns true when they all exited (and were joined). */
static bool lane_stop(struct lane *lane, int64_t deadline)
{
    pthread_mutex_lock(&lane->mutex);
    lane->stopping = true;
    pthread_cond_broadcast(&lane->cond);
    while (lane->running > 0) {
        int64_t left = deadline - util_monotonic_ms();
        if (left <= 0) {
            break;
        }
        util_cond_wait_ms(&lane->cond, &lane->mutex, left);
    }
    bool finished = lane->running == 0;
    pthread_mutex_unlock(&lane->mutex);
    if (finished) {
        for (unsigned i = 0; i < lane->worker_count; i++) {
            pthread_join(lane->workers[i], NULL);
        }
    }
    return finished;
}

void dispatch_remove(struct dispatcher *d, const char *destination)
{
    pthread_mutex_lock(&d->mutex);
    struct lane **link = &d->lanes;
    while (*link != NULL && strcmp((*link)->destination, destination) != 0) {
        link = &(*link)->next;
    }
    struct lane *lane = *link;
    if (lane != NULL) {
        *link = lane->next;
    }
    pthread_mutex_unlock(&d->mutex);
    if (lane == NULL) {
        return;
    }
    bool stopped = lane_stop(lane, INT64_MAX);
    /* no lane, no circuit: an open one must not look open for ever */
    metrics_gauge_set(d->metrics, "leadhub_delivery_circuit_state",
                      "Delivery circuit per destination: 0 closed, 1 open, 2 half-open.", 0,
                      "destination", destination, METRICS_END);
    if (stopped) {
        lane_free(lane);
    }
}

void dispatch_wake(struct dispatcher *d, const char *destination)
{
    pthread_mutex_lock(&d->mutex);
    struct lane *lane = find_lane(d, destination);
    if (lane != NULL) {
        pthread_mutex_lock(&lane->mutex);
        lane->wakes++;
        pthread_cond_broadcast(&lane->cond);
        pthread_mutex_unlock(&lane->mutex);
    }
    pthread_mutex_unlock(&d->mutex);
}

json_t *dispatch_status(struct dispatcher *d)
{
    json_t *status = json_object();
    pthread_mutex_lock(&d->mutex);
    for (struct lane *lane = d->lanes; lane != NULL && status != NULL; lane = lane->next) {
        pthread_mutex_lock(&lane->mutex);
        json_object_set_new(status, lane->destination,
                            json_pack("{s:s,s:i,s:s*}", "circuit", circuit_names[lane->circuit],
                                      "workers", (int)lane->worker_count, "misconfigured",
                                      lane->misconfigured));
        pthread_mutex_unlock(&lane->mutex);
    }
    pthread_mutex_unlock(&d->mutex);
    return status;
}

/* Asks every lane of the list to stop, without waiting, so that they drain in parallel. */
static void lanes_ask_to_stop(struct lane *lanes)
{
    for (struct lane *lane = lanes; lane != NULL; lane = lane->next) {
        pthread_mutex_lock(&lane->mutex);
        lane->stopping = true;
        pthread_cond_broadcast(&lane->cond);
        pthread_mutex_unlock(&lane->mutex);
    }
}

void dispatch_quiesce(struct dispatcher *d)
{
    if (d == NULL) {
        return;
    }
    pthread_mutex_lock(&d->mutex);
    d->stopping = true; /* no lane is added from now on */
    lanes_ask_to_stop(d->lanes);
    pthread_mutex_unlock(&d->mutex);
}

bool dispatch_stop(struct dispatcher *d, int64_t grace_ms)
{
    if (d == NULL) {
        return true;
    }
    pthread_mutex_lock(&d->mutex);
    d->stopping = true;
    pthread_cond_broadcast(&d->cond);
    struct lane *lanes = d->lanes;
    d->lanes = NULL;
    pthread_mutex_unlock(&d->mutex);
    lanes_ask_to_stop(lanes);
    int64_t deadline = util_monotonic_ms() + grace_ms;
    bool finished = true;
    for (struct lane *lane = lanes; lane != NULL; lane = lane->next) {
        finished &= lane_stop(lane, deadline);
    }
    if (!finished) {
        log_warn("delivery workers still inside a sink call after the shutdown grace period; "
                 "their claims are released when the process exits");
        return false;
    }
    while (lanes != NULL) {
        struct lane *next = lanes->next;
        lane_free(lanes);
        lanes = next;
    }
    if (d->stats_started) {
        pthread_join(d->stats_thread, NULL);
    }
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->mutex);
    free(d->database_url);
    free(d);
    return true;
}
