/*
 * scoring.c - the scoring engine (see scoring.h).
 *
 * A chunk of leads is one transaction: lock the leads (advisory, in id order), read their
 * snapshots with five set-based queries, run the scorers in plan order (a composite reads
 * the scores computed before it in the same pass), write what changed, emit lead.scored
 * for band changes, commit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "log.h"
#include "rowset.h"
#include "scoring.h"
#include "util.h"

#define SCORING_CHUNK       500
#define SCORING_DEBOUNCE_MS 1000
#define SCORING_LOCK_CLASS  0x4c53 /* "LS" */
#define SCORING_EVENTS_MAX  1000   /* per lead in a snapshot */
#define SCORING_EPSILON     1e-9
/* a pass that failed on the database is tried again after 1 s, doubling up to a minute;
 * one whose data the database refused, at most 5 times */
#define SCORING_RETRY_FIRST_MS 1000
#define SCORING_RETRY_MAX_MS   60000
#define SCORING_REJECTED_TRIES 5

#define TS(column) "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static const char sql_lock[] = "SELECT pg_advisory_xact_lock($2::int, (x % 2147483647)::int) "
                               "FROM unnest($1::bigint[]) AS x ORDER BY x";

static const char sql_leads[] =
    "SELECT id, email, first_name, last_name, company, title, phone, linkedin_url, "
    "attributes::text, " TS("created_at") " FROM leads WHERE id = ANY($1::bigint[])";

static const char sql_identities[] =
    "SELECT lead_id, source, external_id FROM lead_identities WHERE lead_id = ANY($1::bigint[]) "
    "ORDER BY lead_id, source, external_id";

static const char sql_events[] = "SELECT lead_id, id, type, source, " TS(
    "occurred_at") ", payload->'data', "
                   "(extract(epoch FROM occurred_at) * 1000)::bigint FROM (SELECT e.*, "
                   "row_number() OVER "
                   "(PARTITION BY lead_id ORDER BY occurred_at DESC, id DESC) AS n FROM events e "
                   "WHERE lead_id = ANY($1::bigint[]) AND occurred_at >= $2::timestamptz "
                   /* a score must not feed on the events its own crossings emitted */
                   "AND type <> 'lead.scored') x "
                   "WHERE n <= 1000 ORDER BY lead_id, occurred_at DESC, id DESC";

static const char sql_meetings[] =
    "SELECT DISTINCT l.lead_id, m.source, m.external_id, m.title, " TS("m.starts_at") ", " TS(
        "m.ends_at") ", m.status, (extract(epoch FROM coalesce(m.starts_at, m.last_event_at)) "
                     "* 1000)::bigint FROM meetings m JOIN (SELECT id AS meeting_id, lead_id FROM "
                     "meetings "
                     "WHERE lead_id = ANY($1::bigint[]) UNION SELECT meeting_id, lead_id FROM "
                     "meeting_attendees WHERE lead_id = ANY($1::bigint[])) l ON l.meeting_id = "
                     "m.id "
                     "WHERE coalesce(m.starts_at, m.last_event_at) >= $2::timestamptz "
                     "ORDER BY 1, 8 DESC, 2, 3"; /* newest first, as the events */

static const char sql_scores[] =
    "SELECT lead_id, scorer, score, band FROM lead_scores WHERE lead_id = ANY($1::bigint[])";

/* The changed scores and their history in one statement: the rows (explanations
 * included) are parsed once, and the history ids come back to name lead.scored events. */
static const char sql_write_scores[] =
    "WITH r AS MATERIALIZED (SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(lead_id bigint, "
    "scorer text, score double precision, band text, explanation jsonb)), "
    "current AS (INSERT INTO lead_scores AS s (lead_id, scorer, score, band, explanation) "
    "SELECT r.lead_id, r.scorer, r.score, r.band, r.explanation FROM r "
    "ORDER BY r.lead_id, r.scorer "
    "ON CONFLICT (lead_id, scorer) DO UPDATE SET score = EXCLUDED.score, band = EXCLUDED.band, "
    "explanation = EXCLUDED.explanation, version = s.version + 1, scored_at = now()) "
    "INSERT INTO lead_score_history (lead_id, scorer, score, band, explanation) "
    "SELECT r.lead_id, r.scorer, r.score, r.band, r.explanation FROM r "
    "RETURNING lead_id, scorer, id";

struct scoring {
    char *database_url;
    struct metrics *metrics;
    int64_t debounce_ms;
    struct scoring_plan *plan;
    struct instance **scorers;
    ingest_deliveries_fn on_deliveries;
    void *on_deliveries_arg;
    int64_t max_window_ms;
    int64_t fixed_now_ms; /* 0: the wall clock */

    pthread_mutex_t mutex; /* guards everything below */
    pthread_cond_t cond;
    struct router *router;
    int64_t *pending;
    size_t pending_count;
    size_t pending_capacity;
    int64_t first_pending_ms; /* monotonic */
    int64_t retry_at_ms;      /* monotonic; 0 unless the last pass failed */
    unsigned failures;        /* passes failed in a row */
    bool stopping;
    bool thread_started;
    pthread_t thread;
};

/* One lead's snapshot while a chunk is scored. */
struct lead_state {
    int64_t id;
    json_t *lead; /* the snapshot's "lead" */
    json_t *identities;
    json_t *events;   /* all within the longest window, newest first */
    json_t *event_ms; /* their times (integers), same order */
    json_t *meetings;
    json_t *meeting_ms;
    json_t *stored; /* scorer -> {score, band} from lead_scores */
};

/* --- snapshots ------------------------------------------------------------------------- */

static char *id_array(const int64_t *ids, size_t count)
{
    struct strbuf sb = {0};
    strbuf_append(&sb, "{");
    for (size_t i = 0; i < count; i++) {
        strbuf_appendf(&sb, "%s%lld", i ? "," : "", (long long)ids[i]);
    }
    strbuf_append(&sb, "}");
    return strbuf_take(&sb);
}

static struct lead_state *find_lead(struct lead_state *leads, size_t count, int64_t id)
{
    size_t lo = 0, hi = count;
    while (lo < hi) { /* leads are sorted by id */
        size_t mid = (lo + hi) / 2;
        if (leads[mid].id == id) {
            return &leads[mid];
        }
        if (leads[mid].id < id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Sets `key` to the text of a column unless it is NULL. */
static void set_text(json_t *object, const char *key, PGresult *r, int row, int column)
{
    if (!PQgetisnull(r, row, column)) {
        json_object_set_new(object, key, json_string(PQgetvalue(r, row, column)));
    }
}

static enum store_result query(struct store *store, const char *name, const char *sql, int nparams,
                               const char *const *params, PGresult **result, char **error)
{
    return store_exec(store, name, sql, nparams, params, result, error);
}

static enum store_result read_snapshots(struct scoring *s, struct store *store, const char *ids,
                                        const char *since, struct lead_state *leads, size_t count,
                                        char **error)
{
    static const char *const lead_columns[] = {"email", "first_name", "last_name",   "company",
                                               "title", "phone",      "linkedin_url"};
    const char *by_ids[] = {ids};
    const char *by_ids_since[] = {ids, since};
    PGresult *r = NULL;
    enum store_result rc;
    if ((rc = query(store, "score_leads", sql_leads, 1, by_ids, &r, error)) != STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct lead_state *l = find_lead(leads, count, strtoll(PQgetvalue(r, row, 0), NULL, 10));
        if (l == NULL) {
            continue;
        }
        l->lead = json_pack("{s:I}", "id", (json_int_t)l->id);
        for (size_t c = 0; c < UTIL_ARRAY_LEN(lead_columns); c++) {
            set_text(l->lead, lead_columns[c], r, row, (int)c + 1);
        }
        json_object_set_new(l->lead, "attributes",
                            store_json_loads(PQgetvalue(r, row, 8), 0, NULL));
        set_text(l->lead, "created_at", r, row, 9);
    }
    PQclear(r);

    if ((rc = query(store, "score_identities", sql_identities, 1, by_ids, &r, error)) != STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct lead_state *l = find_lead(leads, count, strtoll(PQgetvalue(r, row, 0), NULL, 10));
        if (l != NULL) {
            json_array_append_new(l->identities,
                                  json_pack("{s:s,s:s}", "source", PQgetvalue(r, row, 1),
                                            "external_id", PQgetvalue(r, row, 2)));
        }
    }
    PQclear(r);

    if ((rc = query(store, "score_events", sql_events, 2, by_ids_since, &r, error)) != STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct lead_state *l = find_lead(leads, count, strtoll(PQgetvalue(r, row, 0), NULL, 10));
        if (l == NULL) {
            continue;
        }
        json_t *event = json_pack("{s:I,s:s,s:s,s:s}", "id",
                                  (json_int_t)strtoll(PQgetvalue(r, row, 1), NULL, 10), "type",
                                  PQgetvalue(r, row, 2), "source", PQgetvalue(r, row, 3),
                                  "occurred_at", PQgetvalue(r, row, 4));
        if (event != NULL && !PQgetisnull(r, row, 5)) {
            json_object_set_new(event, "data", store_json_loads(PQgetvalue(r, row, 5), 0, NULL));
        }
        json_array_append_new(l->events, event);
        json_array_append_new(l->event_ms, json_integer(strtoll(PQgetvalue(r, row, 6), NULL, 10)));
    }
    PQclear(r);

    if ((rc = query(store, "score_meetings", sql_meetings, 2, by_ids_since, &r, error)) !=
        STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct lead_state *l = find_lead(leads, count, strtoll(PQgetvalue(r, row, 0), NULL, 10));
        if (l == NULL) {
            continue;
        }
        json_t *meeting = json_pack("{s:s,s:s,s:s}", "source", PQgetvalue(r, row, 1), "external_id",
                                    PQgetvalue(r, row, 2), "status", PQgetvalue(r, row, 6));
        set_text(meeting, "title", r, row, 3);
        set_text(meeting, "starts_at", r, row, 4);
        set_text(meeting, "ends_at", r, row, 5);
        json_array_append_new(l->meetings, meeting);
        json_array_append_new(l->meeting_ms,
                              json_integer(strtoll(PQgetvalue(r, row, 7), NULL, 10)));
    }
    PQclear(r);

    if ((rc = query(store, "score_stored", sql_scores, 1, by_ids, &r, error)) != STORE_OK) {
        return rc;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        struct lead_state *l = find_lead(leads, count, strtoll(PQgetvalue(r, row, 0), NULL, 10));
        if (l != NULL) {
            json_object_set_new(l->stored, PQgetvalue(r, row, 1),
                                json_pack("{s:f,s:s}", "score", strtod(PQgetvalue(r, row, 2), NULL),
                                          "band", PQgetvalue(r, row, 3)));
        }
    }
    PQclear(r);
    (void)s;
    return STORE_OK;
}

/* The items of `items` whose time is at or after `from_ms` (a new array sharing them). */
static json_t *within(const json_t *items, const json_t *times, int64_t from_ms)
{
    json_t *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        if (json_integer_value(json_array_get(times, i)) >= from_ms) {
            json_array_append(out, item);
        }
    }
    return out;
}

/* --- scoring one chunk ------------------------------------------------------------------ */

/* A scorer's result, checked: {"score": 0..100, "contributions": [...]}. */
static bool result_valid(const json_t *result, double *score_out)
{
    const json_t *score = json_object_get(result, "score");
    if (!json_is_number(score) || !json_is_array(json_object_get(result, "contributions"))) {
        return false;
    }
    double value = json_number_value(score);
    if (!(value >= 0 && value <= 100)) {
        return false;
    }
    *score_out = value;
    return true;
}

struct chunk_output {
    struct rowset changes; /* rows for lead_scores and its history, written as they come */
    json_t *crossings; /* {lead_id, scorer, score, band, previous_score, previous_band, email} */
};

/*
 * The `scores` a lead's first scorer of the pass sees. A full pass starts from nothing:
 * each scorer adds its result as it goes, so a composite reads only what its parts gave
 * in this pass, and a part that failed, is not running or comes later is missing (and
 * fails the composite, as docs/scoring.md says) instead of standing in with an old score.
 * A pass of one scorer (`rescore --scorer`) runs none of the others, so their stored
 * scores stand in: those of the scorers listed before it, the ones it may read. NEW.
 */
static json_t *first_scores(const struct scoring *s, const struct lead_state *l, long only)
{
    json_t *scores = json_object();
    for (long i = 0; scores != NULL && i < only; i++) {
        const char *name = s->plan->scorers[i].instance.name;
        json_t *stored = json_object_get(l->stored, name);
        if (stored != NULL && json_object_set(scores, name, stored) != 0) {
            json_decref(scores);
            return NULL;
        }
    }
    return scores;
}

static void score_lead(struct scoring *s, struct lead_state *l, long only, int64_t now_ms,
                       const char *now_text, struct chunk_output *out, struct scoring_stats *stats)
{
    json_t *scores = first_scores(s, l, only); /* earlier scorers' results, as they go */
    for (size_t i = 0; i < s->plan->count; i++) {
        const struct scorer_def *def = &s->plan->scorers[i];
        const char *name = def->instance.name;
        if (only >= 0 && (size_t)only != i) {
            continue;
        }
        struct instance *instance = s->scorers[i];
        if (instance == NULL || !atomic_load(&instance->initialized)) {
            stats->errors++;
            continue;
        }
        json_t *snapshot = json_pack(
            "{s:s,s:O,s:O,s:o,s:o,s:O}", "now", now_text, "lead", l->lead, "identities",
            l->identities, "events", within(l->events, l->event_ms, now_ms - def->window_ms),
            "meetings", within(l->meetings, l->meeting_ms, now_ms - def->window_ms), "scores",
            scores);
        struct lh_ctx ctx;
        ctx_init(&ctx, instance, NULL);
        json_t *result = NULL;
        double score = 0;
        lh_status_t status =
            snapshot != NULL ? instance_score(instance, &ctx, snapshot, &result) : LH_RETRY;
        if (status != LH_OK || !result_valid(result, &score)) {
            stats->errors++;
            metrics_counter_add(s->metrics, "leadhub_scorer_errors_total",
                                "Scorer calls that failed or returned an invalid result.", 1,
                                "scorer", name, METRICS_END);
            log_write(LOG_LEVEL_WARN, instance->plugin->name, name, NULL,
                      "could not score lead %lld: %s", (long long)l->id,
                      status != LH_OK ? (ctx.error ? ctx.error : "no reason given")
                                      : "the result is not {score: 0..100, contributions: []}");
        } else {
            const char *band = scoring_band(def, score);
            const json_t *before = json_object_get(l->stored, name);
            const json_t *before_score = json_object_get(before, "score");
            const char *before_band = json_string_value(json_object_get(before, "band"));
            double delta = before_score != NULL ? score - json_number_value(before_score) : 1;
            bool changed = before == NULL || delta > SCORING_EPSILON || delta < -SCORING_EPSILON ||
                           strcmp(before_band != NULL ? before_band : "", band) != 0;
            if (changed) {
                rowset_row(&out->changes);
                rowset_int(&out->changes, "lead_id", l->id);
                rowset_string(&out->changes, "scorer", name);
                rowset_double(&out->changes, "score", score);
                rowset_string(&out->changes, "band", band);
                rowset_json(&out->changes, "explanation", json_object_get(result, "contributions"));
            }
            const char *previous = before_band != NULL ? before_band : "none";
            if (strcmp(previous, band) != 0) {
                json_t *crossing =
                    json_pack("{s:I,s:s,s:f,s:s,s:s}", "lead_id", (json_int_t)l->id, "scorer", name,
                              "score", score, "band", band, "previous_band", previous);
                if (crossing != NULL && before_score != NULL) {
                    json_object_set(crossing, "previous_score", (json_t *)before_score);
                }
                json_t *email = json_object_get(l->lead, "email");
                if (crossing != NULL && email != NULL) {
                    json_object_set(crossing, "email", email);
                }
                json_array_append_new(out->crossings, crossing);
            }
            json_object_set_new(scores, name, json_pack("{s:f,s:s}", "score", score, "band", band));
        }
        json_decref(result);
        json_decref(snapshot);
        ctx_clear(&ctx);
    }
    json_decref(scores);
}

static enum store_result write_rows(struct store *store, const char *name, const char *sql,
                                    struct rowset *rows, PGresult **result, char **error)
{
    const char *params[] = {rowset_text(rows)};
    if (params[0] == NULL) {
        *error = strdup("out of memory");
        return STORE_UNAVAILABLE;
    }
    return store_exec(store, name, sql, 1, params, result, error);
}

/*
 * The lead.scored events of the crossings, named by the lead_score_history rows of the
 * changes (`history`: lead_id, scorer, id). A history id is never reused, where a
 * lead_scores version starts again at 1 when its row is deleted, and a later crossing
 * would then have been dropped as a duplicate of an old one. The "h" keeps these apart
 * from the <lead>:<version> names of earlier releases.
 */
struct history_row {
    int64_t lead;
    const char *scorer;     /* borrowed from the PGresult */
    const char *history_id; /* likewise */
};

static int compare_history(const void *a, const void *b)
{
    const struct history_row *x = a, *y = b;
    return x->lead != y->lead ? (x->lead < y->lead ? -1 : 1) : strcmp(x->scorer, y->scorer);
}

static size_t crossing_events(const json_t *crossings, PGresult *history, const char *now_text,
                              struct event_record *records)
{
    /* the history rows sorted by (lead, scorer), so that each crossing finds its own in
     * log time rather than by a walk over the whole chunk's (a chunk has a thousand) */
    size_t rows = history != NULL ? (size_t)PQntuples(history) : 0;
    struct history_row *sorted = calloc(rows + 1, sizeof(*sorted));
    if (sorted == NULL) {
        log_error("lead.scored events of %zu crossing(s): out of memory",
                  json_array_size(crossings));
        return 0;
    }
    for (size_t row = 0; row < rows; row++) {
        sorted[row] = (struct history_row){strtoll(PQgetvalue(history, (int)row, 0), NULL, 10),
                                           PQgetvalue(history, (int)row, 1),
                                           PQgetvalue(history, (int)row, 2)};
    }
    qsort(sorted, rows, sizeof(*sorted), compare_history);
    size_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(crossings, i, c)
    {
        json_int_t lead = json_integer_value(json_object_get(c, "lead_id"));
        const char *scorer = json_string_value(json_object_get(c, "scorer"));
        struct history_row key = {lead, scorer != NULL ? scorer : "", NULL};
        const struct history_row *found =
            rows > 0 ? bsearch(&key, sorted, rows, sizeof(*sorted), compare_history) : NULL;
        const char *history_id = found != NULL ? found->history_id : NULL;
        if (history_id == NULL) { /* a crossing is always a change: not reached */
            log_error("lead.scored event for lead %lld: no history row", (long long)lead);
            continue;
        }
        char source_id[64];
        snprintf(source_id, sizeof(source_id), "%lld:h%s", (long long)lead, history_id);
        json_t *event = json_pack("{s:s,s:s,s:s,s:{s:I},s:{s:s,s:O,s:O,s:O*,s:O}}", "type",
                                  "lead.scored", "source_id", source_id, "occurred_at", now_text,
                                  "lead", "id", lead, "data", "scorer", scorer, "score",
                                  json_object_get(c, "score"), "band", json_object_get(c, "band"),
                                  "previous_score", json_object_get(c, "previous_score"),
                                  "previous_band", json_object_get(c, "previous_band"));
        if (event != NULL && json_object_get(c, "email") != NULL) {
            json_object_set(json_object_get(event, "lead"), "email", json_object_get(c, "email"));
        }
        char *error = NULL;
        if (event != NULL && event_validate(event, scorer, &records[n], &error) == 0) {
            n++;
        } else {
            log_error("lead.scored event for lead %lld refused: %s", (long long)lead,
                      error ? error : "out of memory");
        }
        free(error);
    }
    free(sorted);
    return n;
}

/* Scores one chunk in one transaction. Returns STORE_OK, or why it failed (out of memory
 * counts as STORE_UNAVAILABLE: it may pass) with *error (malloc'd). */
static enum store_result score_chunk(struct scoring *s, struct store *store, const int64_t *ids,
                                     size_t count, long only, struct scoring_stats *stats,
                                     char **error)
{
    enum store_result rc = STORE_UNAVAILABLE;
    struct lead_state *leads = calloc(count, sizeof(*leads));
    struct chunk_output out = {.crossings = json_array()};
    struct event_record *records = NULL;
    size_t record_count = 0;
    PGresult *history = NULL; /* the history rows written: lead_id, scorer, id */
    json_t *destinations = json_object();
    char *ids_text = id_array(ids, count);
    int64_t now_ms = s->fixed_now_ms != 0 ? s->fixed_now_ms : util_now_ms();
    char now_text[32], since[32];
    util_format_rfc3339(now_ms, now_text);
    util_format_rfc3339(now_ms - s->max_window_ms, since);
    if (leads == NULL || out.crossings == NULL || ids_text == NULL || destinations == NULL) {
        *error = strdup("out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        leads[i] = (struct lead_state){ids[i],       NULL,         json_array(), json_array(),
                                       json_array(), json_array(), json_array(), json_object()};
    }
    char lock_class[16];
    snprintf(lock_class, sizeof(lock_class), "%d", SCORING_LOCK_CLASS);
    const char *lock_params[] = {ids_text, lock_class};
    if ((rc = store_begin(store, error)) != STORE_OK ||
        (rc = query(store, "score_lock", sql_lock, 2, lock_params, NULL, error)) != STORE_OK ||
        (rc = read_snapshots(s, store, ids_text, since, leads, count, error)) != STORE_OK) {
        goto rollback;
    }
    for (size_t i = 0; i < count; i++) {
        if (leads[i].lead != NULL) { /* a lead deleted meanwhile is skipped */
            score_lead(s, &leads[i], only, now_ms, now_text, &out, stats);
            stats->leads++;
        }
    }
    if (out.changes.count > 0 &&
        (rc = write_rows(store, "score_write_with_history", sql_write_scores, &out.changes,
                         &history, error)) != STORE_OK) {
        goto rollback;
    }
    size_t crossings = json_array_size(out.crossings);
    if (crossings > 0) {
        records = calloc(crossings, sizeof(*records));
        if (records == NULL) {
            *error = strdup("out of memory");
            rc = STORE_UNAVAILABLE;
            goto rollback;
        }
        record_count = crossing_events(out.crossings, history, now_text, records);
        pthread_mutex_lock(&s->mutex);
        struct router *router = router_acquire(s->router);
        pthread_mutex_unlock(&s->mutex);
        rc = store_write_events(store, records, record_count, router, destinations, error);
        router_release(router);
        if (rc != STORE_OK) {
            goto rollback;
        }
    }
    if ((rc = store_commit(store, error)) != STORE_OK) {
        goto out;
    }
    stats->changed += out.changes.count;
    stats->crossings += record_count;
    for (size_t i = 0; i < record_count; i++) {
        metrics_counter_add(
            s->metrics, "leadhub_lead_scored_events_total",
            "Threshold crossings (lead.scored events), by scorer and new band.", 1, "scorer",
            records[i].source, "band",
            json_string_value(json_object_get(json_object_get(records[i].event, "data"), "band")),
            METRICS_END);
    }
    metrics_counter_add(s->metrics, "leadhub_scores_changed_total", "Scores written.",
                        (double)out.changes.count, METRICS_END);
    if (s->on_deliveries != NULL) {
        const char *destination;
        json_t *ignored;
        json_object_foreach(destinations, destination, ignored)
        {
            s->on_deliveries(destination, s->on_deliveries_arg);
        }
    }
    rc = STORE_OK;
    goto out;
rollback:
    store_rollback(store);
out:
    for (size_t i = 0; leads != NULL && i < count; i++) {
        json_decref(leads[i].lead);
        json_decref(leads[i].identities);
        json_decref(leads[i].events);
        json_decref(leads[i].event_ms);
        json_decref(leads[i].meetings);
        json_decref(leads[i].meeting_ms);
        json_decref(leads[i].stored);
    }
    for (size_t i = 0; i < record_count; i++) {
        event_record_clear(&records[i]);
    }
    free(records);
    if (history != NULL) {
        PQclear(history);
    }
    json_decref(destinations);
    rowset_free(&out.changes);
    json_decref(out.crossings);
    free(ids_text);
    free(leads);
    return rc;
}

static int compare_ids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Sorts and removes duplicates in place; returns the new count. */
static size_t unique_ids(int64_t *ids, size_t count)
{
    qsort(ids, count, sizeof(*ids), compare_ids);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        if (ids[i] > 0 && (n == 0 || ids[n - 1] != ids[i])) {
            ids[n++] = ids[i];
        }
    }
    return n;
}

/* Scores sorted, distinct ids chunk by chunk until one fails. *done_out: how many leads the
 * committed chunks held (those before the failure). */
static enum store_result score_sorted(struct scoring *s, struct store *store, const int64_t *ids,
                                      size_t count, long only, struct scoring_stats *stats,
                                      size_t *done_out, char **error)
{
    enum store_result rc = STORE_OK;
    size_t first = 0;
    for (; first < count && rc == STORE_OK; first += SCORING_CHUNK) {
        size_t n = count - first < SCORING_CHUNK ? count - first : SCORING_CHUNK;
        rc = score_chunk(s, store, ids + first, n, only, stats, error);
        if (rc != STORE_OK) {
            break;
        }
    }
    *done_out = first < count ? first : count;
    return rc;
}

int scoring_run(struct scoring *s, struct store *store, const int64_t *lead_ids, size_t count,
                long only, struct scoring_stats *stats, char **error_out)
{
    *error_out = NULL;
    if (s->plan->count == 0 || count == 0) {
        return 0;
    }
    int64_t *ids = malloc(count * sizeof(*ids));
    if (ids == NULL) {
        *error_out = strdup("out of memory");
        return -1;
    }
    memcpy(ids, lead_ids, count * sizeof(*ids));
    count = unique_ids(ids, count);
    size_t done = 0;
    enum store_result rc = score_sorted(s, store, ids, count, only, stats, &done, error_out);
    free(ids);
    return rc == STORE_OK ? 0 : -1;
}

long scoring_find(const struct scoring *s, const char *name)
{
    for (size_t i = 0; i < s->plan->count; i++) {
        if (strcmp(s->plan->scorers[i].instance.name, name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* --- the background thread ----------------------------------------------------------------- */

/* Adds ids to the pending ones; under the mutex. Returns 0, or -1 when out of memory. */
static int pending_add(struct scoring *s, const int64_t *lead_ids, size_t count)
{
    if (s->pending_count + count > s->pending_capacity) {
        size_t capacity = s->pending_capacity ? s->pending_capacity : 256;
        while (capacity < s->pending_count + count) {
            capacity *= 2;
        }
        int64_t *grown = realloc(s->pending, capacity * sizeof(*grown));
        if (grown == NULL) {
            return -1;
        }
        s->pending = grown;
        s->pending_capacity = capacity;
    }
    if (s->pending_count == 0) {
        s->first_pending_ms = util_monotonic_ms();
    }
    memcpy(s->pending + s->pending_count, lead_ids, count * sizeof(*lead_ids));
    s->pending_count += count;
    return 0;
}

void scoring_touch(struct scoring *s, const int64_t *lead_ids, size_t count)
{
    if (s == NULL || count == 0 || s->plan->count == 0) {
        return;
    }
    pthread_mutex_lock(&s->mutex);
    if (pending_add(s, lead_ids, count) == 0) { /* else the next rescore catches up */
        pthread_cond_signal(&s->cond);
    }
    pthread_mutex_unlock(&s->mutex);
}

/* The wait before the next try after `failures` failed passes in a row: 1 s, doubling, at
 * most a minute. */
static int64_t retry_delay_ms(unsigned failures)
{
    return util_backoff_ceiling_ms(SCORING_RETRY_FIRST_MS, SCORING_RETRY_MAX_MS, failures);
}

/*
 * After a pass failed on the database: the leads it did not commit go back to the pending
 * ones, to be tried again after a backoff, so that an outage delays their scores instead of
 * losing them. Not when stopping (there is no later), nor after SCORING_REJECTED_TRIES
 * refusals of the data in a row (retrying will not help): those leads are left for their
 * next event or `leadhubd rescore`. Under the mutex.
 */
static void requeue_failed(struct scoring *s, const int64_t *ids, size_t count,
                           enum store_result rc, const char *error)
{
    s->failures++;
    bool give_up = s->stopping || (rc == STORE_REJECTED && s->failures >= SCORING_REJECTED_TRIES);
    if (!give_up && pending_add(s, ids, count) == 0) {
        int64_t delay = retry_delay_ms(s->failures);
        s->retry_at_ms = util_monotonic_ms() + delay;
        log_write(LOG_LEVEL_ERROR, NULL, NULL, NULL,
                  "scoring %zu lead(s) failed (%u time(s) in a row), trying again in %lld ms: %s",
                  count, s->failures, (long long)delay, error ? error : "?");
        return;
    }
    log_write(LOG_LEVEL_ERROR, NULL, NULL, NULL,
              "scoring %zu lead(s) failed, they are scored at their next event or `leadhubd "
              "rescore`: %s",
              count, error ? error : "?");
    s->failures = 0;
    s->retry_at_ms = 0;
}

static void *scoring_main(void *arg)
{
    struct scoring *s = arg;
    struct store *store = NULL;
    pthread_mutex_lock(&s->mutex);
    for (;;) {
        while (s->pending_count == 0 && !s->stopping) {
            pthread_cond_wait(&s->cond, &s->mutex);
        }
        if (s->pending_count == 0) {
            break;
        }
        /* debounce: a burst of events for one lead scores it once; after a failure, the
         * backoff holds every lead touched meanwhile too */
        int64_t due = s->first_pending_ms + s->debounce_ms;
        due = s->retry_at_ms > due ? s->retry_at_ms : due;
        int64_t wait = due - util_monotonic_ms();
        if (wait > 0 && !s->stopping) {
            util_cond_wait_ms(&s->cond, &s->mutex, wait);
            continue;
        }
        int64_t *ids = s->pending;
        size_t count = s->pending_count;
        s->pending = NULL;
        s->pending_count = s->pending_capacity = 0;
        pthread_mutex_unlock(&s->mutex);

        count = unique_ids(ids, count);
        char *error = NULL;
        enum store_result rc = STORE_UNAVAILABLE;
        size_t done = 0;
        if (store == NULL || store_ensure(store, NULL) != STORE_OK) {
            store_close(store);
            store = store_open(s->database_url, &error);
        }
        if (store != NULL) {
            struct scoring_stats stats = {0};
            rc = score_sorted(s, store, ids, count, -1, &stats, &done, &error);
        }
        pthread_mutex_lock(&s->mutex);
        if (rc == STORE_OK) {
            s->failures = 0;
            s->retry_at_ms = 0;
        } else {
            requeue_failed(s, ids + done, count - done, rc, error);
        }
        free(error);
        free(ids);
    }
    pthread_mutex_unlock(&s->mutex);
    store_close(store);
    return NULL;
}

struct scoring *scoring_start(const struct scoring_options *options, struct scoring_plan *plan,
                              struct instance **scorers)
{
    struct scoring *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->database_url = strdup(options->database_url)) == NULL) {
        free(s);
        for (size_t i = 0; i < plan->count; i++) {
            instance_release(scorers[i]);
        }
        free(scorers);
        scoring_plan_free(plan);
        return NULL;
    }
    s->metrics = options->metrics;
    s->debounce_ms = options->debounce_ms > 0 ? options->debounce_ms : SCORING_DEBOUNCE_MS;
    s->plan = plan;
    s->scorers = scorers;
    s->on_deliveries = options->on_deliveries;
    s->on_deliveries_arg = options->on_deliveries_arg;
    s->fixed_now_ms = options->now_ms;
    for (size_t i = 0; i < plan->count; i++) {
        if (plan->scorers[i].window_ms > s->max_window_ms) {
            s->max_window_ms = plan->scorers[i].window_ms;
        }
    }
    pthread_mutex_init(&s->mutex, NULL);
    pthread_cond_init(&s->cond, NULL);
    if (options->background && plan->count > 0) {
        s->thread_started = pthread_create(&s->thread, NULL, scoring_main, s) == 0;
    }
    return s;
}

void scoring_set_router(struct scoring *s, struct router *router)
{
    router_acquire(router);
    pthread_mutex_lock(&s->mutex);
    struct router *previous = s->router;
    s->router = router;
    pthread_mutex_unlock(&s->mutex);
    router_release(previous);
}

json_t *scoring_status(struct scoring *s, bool *ready)
{
    json_t *status = json_object();
    for (size_t i = 0; s != NULL && i < s->plan->count; i++) {
        struct instance *instance = s->scorers[i];
        bool ok = instance != NULL && atomic_load(&instance->initialized);
        *ready = *ready && ok;
        json_object_set_new(status, s->plan->scorers[i].instance.name,
                            json_string(ok ? "ok"
                                        : instance != NULL && instance->last_error != NULL
                                            ? instance->last_error
                                            : "not initialized"));
    }
    return status;
}

void scoring_stop(struct scoring *s)
{
    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&s->mutex);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mutex);
    if (s->thread_started) {
        pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < s->plan->count; i++) {
        instance_release(s->scorers[i]);
    }
    free(s->scorers);
    scoring_plan_free(s->plan);
    router_release(s->router);
    free(s->pending);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mutex);
    free(s->database_url);
    free(s);
}
