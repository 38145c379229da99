/*
 * test_stripe_poll.c - the reconciliation poll of the `stripe` plugin as built, against a
 * fake Stripe Events API (tests/lib/fake_stripe.h), its batches committed through the real
 * ingest into PostgreSQL: the requests it makes, pagination with starting_after, events
 * stored oldest first and never twice, the checkpoint, polls interrupted mid-walk resuming
 * without gaps, failing pages, 429 / 5xx / Stripe-Should-Retry, and a bad key failing the
 * poll with the `config` outcome.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../stripe.h" /* STRIPE_POLL_EVENT_BUDGET */
#include "fake_stripe.h"
#include "ingest.h"
#include "poller.h"
#include "stripe_test.h"
#include "testdb.h"

static struct fake_stripe *fake;
static struct st_instance t;
static char *db_url;
static struct ingest *ingest;
static PGconn *db;
static atomic_bool cancel;
static long long base; /* an hour ago: the fake's events are created after it */

static void setup(void)
{
    fake = fake_stripe_start(ST_API_KEY);
    ck_assert_ptr_nonnull(fake);
    db_url = testdb_create_migrated();
    struct ingest_options options = {
        .database_url = db_url, .writers = 1, .batch_max = 1000, .queue_max = 100000};
    ingest = ingest_start(&options);
    ck_assert_ptr_nonnull(ingest);
    db = testdb_connect(db_url);
    atomic_init(&cancel, false);
    base = (long long)time(NULL) - 3600;
}

static void teardown(void)
{
    st_stop(&t);
    ingest_stop(ingest);
    PQfinish(db);
    testdb_drop(db_url);
    fake_stripe_stop(fake);
}

/* An instance polling the fake; `extra` is more JSON settings ("" for none). */
static void start(const char *extra)
{
    char *url = fake_stripe_base_url(fake);
    char *settings = util_printf("{\"api_key\":\"${ST_API_KEY}\",\"api_base\":\"%s\","
                                 "\"backfill\":\"1d\"%s%s}",
                                 url, extra[0] != '\0' ? "," : "", extra);
    lh_status_t status = st_start(&t, settings, db_url, ingest);
    ck_assert_msg(status == LH_OK, "init: %s", t.instance.last_error);
    free(settings);
    free(url);
}

/* A customer.created event evt_<n> for customer cus_<n>, created at base + offset. */
static void add_customer(int n, long long offset)
{
    char id[32], customer[32], email[48];
    snprintf(id, sizeof(id), "evt_%03d", n);
    snprintf(customer, sizeof(customer), "cus_%03d", n);
    snprintf(email, sizeof(email), "buyer%03d@example.com", n);
    json_t *event = fake_stripe_event(
        id, "customer.created", base + offset,
        json_pack("{s:s, s:s, s:s}", "id", customer, "object", "customer", "email", email));
    fake_stripe_add_event(fake, event);
    json_decref(event);
}

struct poll {
    lh_status_t status;
    json_t *emitted; /* source_ids in the order the plugin emitted them */
    char *error;
};

/* One poll, committed through ingest as the poller does when it returns LH_OK. */
static void poll_once(struct poll *p)
{
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &t.instance, &batch);
    ctx.cancel = &cancel;
    p->status = instance_poll(&t.instance, &ctx);
    p->emitted = json_array();
    for (size_t i = 0; i < batch.event_count; i++) {
        json_array_append_new(p->emitted, json_string(st_text(batch.events[i].event, "source_id")));
    }
    p->error = ctx.error != NULL ? strdup(ctx.error) : NULL;
    if (p->status == LH_OK && (batch.event_count > 0 || batch.checkpoint_count > 0)) {
        ck_assert_int_eq(ingest_submit_wait(ingest, &batch), STORE_OK);
    }
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
    atomic_store(&cancel, false);
}

static void poll_clear(struct poll *p)
{
    json_decref(p->emitted);
    free(p->error);
}

static void poll_ok(struct poll *p)
{
    poll_once(p);
    ck_assert_msg(p->status == LH_OK, "poll: %d %s", p->status, p->error);
}

/* The saved checkpoint (NEW reference), or NULL. */
static json_t *checkpoint(void)
{
    /* a subquery, so that "nothing saved" is one row holding NULL */
    char *text = testdb_text(db, "SELECT (SELECT value::text FROM connector_state WHERE "
                                 "instance = 'billing' AND key = 'events')");
    json_t *value = text != NULL ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return value;
}

static long stored_events(void)
{
    return testdb_scalar(db, "SELECT count(*) FROM events WHERE source = 'billing'");
}

/* ["evt_001", ..., "evt_<last>"] for n in first..last (NEW reference). */
static json_t *ids(int first, int last)
{
    json_t *list = json_array();
    for (int n = first; n <= last; n++) {
        char id[32];
        snprintf(id, sizeof(id), "evt_%03d", n);
        json_array_append_new(list, json_string(id));
    }
    return list;
}

static void assert_json_eq(const json_t *actual, const json_t *expected)
{
    char *a = json_dumps(actual, JSON_COMPACT | JSON_ENCODE_ANY);
    char *e = json_dumps(expected, JSON_COMPACT | JSON_ENCODE_ANY);
    ck_assert_msg(json_equal(actual, expected), "got %s, expected %s", a, e);
    free(a);
    free(e);
}

/* The starting_after of request i, or "" when it had none. */
static char *starting_after_of(size_t i)
{
    struct fake_stripe_request r = fake_stripe_request(fake, i);
    ck_assert_ptr_nonnull(r.url);
    const char *at = strstr(r.url, "starting_after=");
    char *value = strndup(at != NULL ? at + 15 : "", at != NULL ? strcspn(at + 15, "&") : 0);
    fake_stripe_request_free(&r);
    return value;
}

START_TEST(test_stripe_poll_asks_for_events_since_backfill_with_its_types_key_and_version)
{
    start("\"backfill\":\"2h\",\"stripe_version\":\"2024-06-20\","
          "\"event_types\":[\"invoice.paid\",\"customer.created\"]");
    struct poll p;
    poll_ok(&p);
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 1);
    struct fake_stripe_request r = fake_stripe_request(fake, 0);
    static const char prefix[] = "/v1/events?created%5Bgte%5D=";
    ck_assert_msg(strncmp(r.url, prefix, strlen(prefix)) == 0, "%s", r.url);
    char *rest = NULL;
    long long since = strtoll(r.url + strlen(prefix), &rest, 10);
    long long expected = (long long)time(NULL) - 7200;
    ck_assert_msg(since >= expected - 5 && since <= expected, "created[gte]=%lld", since);
    /* types in the plugin's order, whatever the file's */
    ck_assert_str_eq(rest, "&limit=100&types%5B%5D=customer.created&types%5B%5D=invoice.paid");
    ck_assert_str_eq(r.authorization, "Bearer " ST_API_KEY);
    ck_assert_str_eq(r.stripe_version, "2024-06-20");
    fake_stripe_request_free(&r);
    /* the starting point is saved, so the next poll does not slide with the clock */
    json_t *saved = checkpoint();
    ck_assert_ptr_nonnull(saved);
    ck_assert_int_eq(json_integer_value(json_object_get(saved, "created")), since);
    ck_assert_uint_eq(json_array_size(json_object_get(saved, "marks")), 0);
    json_decref(saved);
}
END_TEST

START_TEST(test_stripe_poll_pages_down_with_starting_after_and_stores_oldest_first)
{
    start("");
    fake_stripe_set_page_size(fake, 3);
    for (int n = 1; n <= 7; n++) {
        add_customer(n, n);
    }
    struct poll p;
    poll_ok(&p);
    json_t *expected = ids(1, 7);
    assert_json_eq(p.emitted, expected); /* newest first from Stripe, oldest first here */
    json_decref(expected);
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 3);
    const char *cursors[] = {"", "evt_005", "evt_002"};
    for (size_t i = 0; i < 3; i++) {
        char *after = starting_after_of(i);
        ck_assert_str_eq(after, cursors[i]);
        free(after);
    }
    ck_assert_int_eq(stored_events(), 7);
    char *lead = testdb_text(db, "SELECT l.email || ' ' || i.external_id FROM leads l JOIN "
                                 "lead_identities i ON i.lead_id = l.id WHERE i.source = "
                                 "'billing' AND i.external_id = 'cus_004'");
    ck_assert_str_eq(lead, "buyer004@example.com cus_004");
    free(lead);
    /* the checkpoint: the newest second, the ids processed in it, no pending windows */
    json_t *saved = checkpoint();
    ck_assert_int_eq(json_integer_value(json_object_get(saved, "created")), base + 7);
    expected = json_pack("[s]", "evt_007");
    assert_json_eq(json_object_get(saved, "ids"), expected);
    json_decref(expected);
    ck_assert_uint_eq(json_array_size(json_object_get(saved, "marks")), 0);
    ck_assert_int_ge(json_integer_value(json_object_get(saved, "polled_at")), base);
    json_decref(saved);
}
END_TEST

START_TEST(test_stripe_poll_stores_nothing_twice_in_the_watermark_second)
{
    start("");
    add_customer(1, 0);
    add_customer(2, 5);
    struct poll p;
    poll_ok(&p);
    ck_assert_uint_eq(json_array_size(p.emitted), 2);
    poll_clear(&p);
    /* another event in the very second of the watermark: gte finds it, the ids skip evt_002 */
    add_customer(3, 5);
    poll_ok(&p);
    json_t *expected = json_pack("[s]", "evt_003");
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    struct fake_stripe_request r = fake_stripe_request(fake, 1);
    char *prefix = util_printf("/v1/events?created%%5Bgte%%5D=%lld&", base + 5);
    ck_assert_msg(strncmp(r.url, prefix, strlen(prefix)) == 0, "%s", r.url);
    free(prefix);
    fake_stripe_request_free(&r);
    poll_ok(&p);
    ck_assert_uint_eq(json_array_size(p.emitted), 0);
    poll_clear(&p);
    ck_assert_int_eq(stored_events(), 3);
}
END_TEST

/* Polls, each stopped after `pages` requests, until one completes a walk to the top;
 * returns every source_id emitted, in order. */
static json_t *poll_interrupted_until_done(size_t pages, int *polls_out)
{
    json_t *all = json_array();
    for (int polls = 1; polls <= 200; polls++) {
        fake_stripe_stop_after(fake, pages, &cancel);
        struct poll p;
        poll_ok(&p);
        json_array_extend(all, p.emitted);
        poll_clear(&p);
        json_t *saved = checkpoint();
        bool done = json_integer_value(json_object_get(saved, "polled_at")) > 0;
        json_decref(saved);
        if (done) {
            *polls_out = polls;
            fake_stripe_stop_after(fake, 0, NULL);
            return all;
        }
    }
    ck_abort_msg("the poll never completed");
    return NULL;
}

START_TEST(test_stripe_poll_interrupted_mid_pages_resumes_without_gaps_or_repeats)
{
    start("\"poll_window\":5");
    fake_stripe_set_page_size(fake, 4);
    /* 30 events, two per second: the watermark's same-second ids matter */
    for (int n = 1; n <= 30; n++) {
        add_customer(n, (n + 1) / 2);
    }
    json_t *expected = ids(1, 30);
    size_t stops[] = {1, 2, 3, 5};
    for (size_t s = 0; s < sizeof(stops) / sizeof(stops[0]); s++) {
        /* start again from nothing, as a new instance would */
        PQclear(PQexec(db, "DELETE FROM events; DELETE FROM connector_state; "
                           "DELETE FROM lead_identities; DELETE FROM leads"));
        int polls = 0;
        json_t *all = poll_interrupted_until_done(stops[s], &polls);
        /* every event once, oldest first, across all the interrupted polls */
        assert_json_eq(all, expected);
        ck_assert_msg(polls > 1, "stopping after %zu request(s) never interrupted", stops[s]);
        ck_assert_int_eq(stored_events(), 30);
        json_decref(all);
        /* and a poll after that finds nothing new */
        struct poll p;
        poll_ok(&p);
        ck_assert_uint_eq(json_array_size(p.emitted), 0);
        poll_clear(&p);
    }
    json_decref(expected);
}
END_TEST

START_TEST(test_stripe_poll_interrupted_while_new_events_arrive_loses_none)
{
    start("\"poll_window\":3");
    fake_stripe_set_page_size(fake, 2);
    for (int n = 1; n <= 12; n++) {
        add_customer(n, n);
    }
    json_t *all = json_array();
    int next = 13;
    for (int polls = 0; polls < 100; polls++) {
        fake_stripe_stop_after(fake, 2, &cancel);
        struct poll p;
        poll_ok(&p);
        json_array_extend(all, p.emitted);
        poll_clear(&p);
        if (next <= 18) {
            add_customer(next, next); /* newer than all: at the top of the list */
            next++;
        }
        json_t *saved = checkpoint();
        bool done = json_integer_value(json_object_get(saved, "polled_at")) > 0 &&
                    json_array_size(json_object_get(saved, "marks")) == 0 && next > 18 &&
                    json_integer_value(json_object_get(saved, "created")) == base + 18;
        json_decref(saved);
        if (done) {
            break;
        }
    }
    json_t *expected = ids(1, 18);
    assert_json_eq(all, expected);
    json_decref(expected);
    json_decref(all);
    ck_assert_int_eq(stored_events(), 18);
}
END_TEST

START_TEST(test_stripe_poll_backlog_is_held_one_window_at_a_time_deepest_first)
{
    start("\"poll_window\":4");
    fake_stripe_set_page_size(fake, 3);
    for (int n = 1; n <= 25; n++) {
        add_customer(n, n);
    }
    struct poll p;
    poll_ok(&p);
    json_t *expected = ids(1, 25);
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    /* The 9 pages are walked once, splitting 4 windows of 2 pages (6 events >= 4) off the
     * top; the deepest (1 page) is processed, then each window above is read again from
     * its mark down to the floor only: 2 pages each. Not the whole list once per window. */
    ck_assert_uint_eq(fake_stripe_request_count(fake), 9 + 4 * 2);
    json_t *saved = checkpoint();
    ck_assert_uint_eq(json_array_size(json_object_get(saved, "marks")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(saved, "created")), base + 25);
    json_decref(saved);
    ck_assert_int_eq(stored_events(), 25);
}
END_TEST

START_TEST(test_stripe_poll_stores_at_most_the_event_budget_even_from_a_larger_window)
{
    /* one window holds the whole backlog: the budget must stop inside it */
    start("\"poll_window\":100000");
    int total = STRIPE_POLL_EVENT_BUDGET + 100;
    for (int n = 1; n <= total; n++) {
        add_customer(n, n / 4); /* four events a second: the budget ends inside a second */
    }
    struct poll p;
    poll_ok(&p);
    json_t *expected = ids(1, STRIPE_POLL_EVENT_BUDGET);
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    ck_assert_int_eq(stored_events(), STRIPE_POLL_EVENT_BUDGET);
    /* the next poll brings the rest, oldest first, nothing twice */
    poll_ok(&p);
    expected = ids(STRIPE_POLL_EVENT_BUDGET + 1, total);
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    ck_assert_int_eq(stored_events(), total);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(DISTINCT source_id) FROM events"), total);
    json_t *saved = checkpoint();
    ck_assert_int_eq(json_integer_value(json_object_get(saved, "created")), base + total / 4);
    ck_assert_uint_eq(json_array_size(json_object_get(saved, "marks")), 0);
    json_decref(saved);
}
END_TEST

START_TEST(test_stripe_poll_failing_page_commits_nothing_and_the_next_poll_repeats_it)
{
    start("");
    fake_stripe_set_page_size(fake, 3);
    for (int n = 1; n <= 7; n++) {
        add_customer(n, n);
    }
    /* page 2 fails on every attempt the host makes (4), then works */
    for (size_t request = 2; request <= 5; request++) {
        fake_stripe_fail(fake, request, 500,
                         "{\"error\":{\"type\":\"api_error\",\"message\":\"Something went wrong "
                         "on Stripe's end.\"}}",
                         "Retry-After: 0");
    }
    struct poll p;
    poll_once(&p);
    ck_assert_int_eq(p.status, LH_RETRY_AFTER);
    ck_assert_ptr_nonnull(strstr(p.error, "HTTP 500 api_error: Something went wrong"));
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 5);
    ck_assert_int_eq(stored_events(), 0);
    json_t *saved = checkpoint();
    ck_assert_ptr_null(saved);
    ck_assert_int_eq(st_metric(&t, "stripe_api_errors_total", "reason", "server_error"), 1);

    poll_ok(&p);
    json_t *expected = ids(1, 7);
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    ck_assert_int_eq(stored_events(), 7);
}
END_TEST

START_TEST(test_stripe_poll_rides_out_a_rate_limit_with_the_host_retries)
{
    start("");
    add_customer(1, 1);
    char *error = st_fixture_text("error.429.json");
    fake_stripe_fail(fake, 1, 429, error, NULL); /* Stripe's 429 carries no Retry-After */
    struct poll p;
    poll_ok(&p);
    ck_assert_uint_eq(json_array_size(p.emitted), 1);
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 2);
    struct fake_stripe_request first = fake_stripe_request(fake, 0);
    struct fake_stripe_request second = fake_stripe_request(fake, 1);
    ck_assert_int_eq(first.status, 429);
    ck_assert_int_eq(second.status, 200);
    ck_assert_str_eq(first.url, second.url); /* the same page again, after a backoff */
    fake_stripe_request_free(&first);
    fake_stripe_request_free(&second);
    ck_assert_int_eq(metrics_get(t.services.metrics, "leadhub_http_client_requests_total",
                                 "instance", ST_INSTANCE, "status", "429", METRICS_END),
                     1);
    free(error);
}
END_TEST

START_TEST(test_stripe_poll_stripe_should_retry_true_makes_the_host_retry_a_409)
{
    start("");
    add_customer(1, 1);
    /* a lock conflict Stripe says to retry: a 409 the host would not retry by its status */
    fake_stripe_fail(fake, 1, 409,
                     "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"lock_timeout\","
                     "\"message\":\"This object cannot be accessed right now.\"}}",
                     "Stripe-Should-Retry: true");
    struct poll p;
    poll_ok(&p);
    json_t *expected = ids(1, 1);
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    /* within the same poll: the 409, then the same page again */
    ck_assert_uint_eq(fake_stripe_request_count(fake), 2);
    struct fake_stripe_request first = fake_stripe_request(fake, 0);
    struct fake_stripe_request second = fake_stripe_request(fake, 1);
    ck_assert_int_eq(first.status, 409);
    ck_assert_int_eq(second.status, 200);
    ck_assert_str_eq(first.url, second.url);
    fake_stripe_request_free(&first);
    fake_stripe_request_free(&second);
    ck_assert_int_eq(stored_events(), 1);
}
END_TEST

START_TEST(test_stripe_poll_stripe_should_retry_false_is_asked_once)
{
    start("");
    add_customer(1, 1);
    /* a 5xx Stripe says not to retry: one request, though the host retries a 503 4 times */
    fake_stripe_fail(fake, 1, 503,
                     "{\"error\":{\"type\":\"api_error\",\"message\":\"Unavailable.\"}}",
                     "Stripe-Should-Retry: false");
    struct poll p;
    poll_once(&p);
    ck_assert_int_eq(p.status, LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(p.error, "HTTP 503 api_error: Unavailable."));
    ck_assert_ptr_nonnull(strstr(p.error, "not retried before the next poll"));
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 1);
    ck_assert_int_eq(stored_events(), 0);
    /* the next regular poll asks again */
    poll_ok(&p);
    poll_clear(&p);
    ck_assert_uint_eq(fake_stripe_request_count(fake), 2);
    ck_assert_int_eq(stored_events(), 1);
}
END_TEST

START_TEST(test_stripe_poll_with_a_refused_key_fails_with_the_config_outcome)
{
    setenv("ST_REVOKED_KEY", "sk_test_51RevokedKeyForLeadhubTests000000000000", 1);
    char *url = fake_stripe_base_url(fake);
    char *settings = util_printf("{\"api_key\":\"${ST_REVOKED_KEY}\",\"api_base\":\"%s\"}", url);
    ck_assert_int_eq(st_start(&t, settings, db_url, ingest), LH_OK);
    free(settings);
    free(url);
    /* the poller's own entry point: status, connector_status and metrics as production */
    struct poll_result result;
    poller_run_once(&t.instance, ingest, db, "replica-1", NULL, t.services.metrics, NULL, &result);
    ck_assert_int_eq(result.status, LH_CONFIG);
    ck_assert_str_eq(result.outcome, "config");
    ck_assert_ptr_nonnull(strstr(result.error, "Stripe refused the api_key (HTTP 401)"));
    ck_assert_ptr_null(strstr(result.error, "sk_test_51Revoked"));
    poll_result_clear(&result);
    char *status = testdb_text(db, "SELECT last_poll_outcome || ': ' || last_error FROM "
                                   "connector_status WHERE instance = 'billing'");
    ck_assert_msg(strncmp(status, "config: Stripe refused the api_key", 34) == 0, "%s", status);
    free(status);
    ck_assert_int_eq(metrics_get(t.services.metrics, "leadhub_polls_total", "instance", ST_INSTANCE,
                                 "outcome", "config", METRICS_END),
                     1);
    ck_assert_int_eq(st_metric(&t, "stripe_api_errors_total", "reason", "unauthorized"), 1);
    ck_assert_int_eq(st_metric(&t, "stripe_api_key_rejected", NULL, NULL), 1);
    ck_assert_ptr_null(checkpoint());
}
END_TEST

START_TEST(test_stripe_poll_walks_again_from_the_top_when_a_saved_position_expired)
{
    start("\"poll_window\":2");
    fake_stripe_set_page_size(fake, 2);
    for (int n = 1; n <= 10; n++) {
        add_customer(n, n);
    }
    fake_stripe_stop_after(fake, 2, &cancel);
    struct poll p;
    poll_ok(&p);
    ck_assert_uint_eq(json_array_size(p.emitted), 0); /* stopped before the end of the list */
    poll_clear(&p);
    json_t *saved = checkpoint();
    json_t *marks = json_object_get(saved, "marks");
    ck_assert_uint_ge(json_array_size(marks), 1);
    char *mark = strdup(json_string_value(json_array_get(marks, json_array_size(marks) - 1)));
    json_decref(saved);
    fake_stripe_remove_event(fake, mark); /* older than 30 days, say */
    poll_ok(&p);
    /* every event left, once, oldest first */
    json_t *expected = json_array();
    json_t *all = ids(1, 10);
    size_t i;
    json_t *id;
    json_array_foreach(all, i, id)
    {
        if (strcmp(json_string_value(id), mark) != 0) {
            json_array_append(expected, id);
        }
    }
    assert_json_eq(p.emitted, expected);
    poll_clear(&p);
    ck_assert_int_eq(st_metric(&t, "stripe_api_errors_total", "reason", "stale_cursor"), 1);
    json_decref(expected);
    json_decref(all);
    free(mark);
}
END_TEST

START_TEST(test_stripe_poll_skips_and_counts_what_it_does_not_store)
{
    start("");
    add_customer(1, 1);
    json_t *live = fake_stripe_event("evt_live", "customer.created", base + 2, NULL);
    json_object_set_new(live, "livemode", json_true());
    fake_stripe_add_event(fake, live);
    json_decref(live);
    json_t *trial = st_fixture("event.invoice.paid.json");
    json_object_set_new(trial, "id", json_string("evt_trial"));
    json_object_set_new(trial, "created", json_integer(base + 3));
    json_object_set_new(st_object(trial), "amount_paid", json_integer(0));
    fake_stripe_add_event(fake, trial);
    json_decref(trial);
    struct poll p;
    poll_ok(&p);
    json_t *expected = json_pack("[s]", "evt_001");
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    ck_assert_int_eq(st_metric(&t, "stripe_events_skipped_total", "reason", "livemode_mismatch"),
                     1);
    ck_assert_int_eq(st_metric(&t, "stripe_events_skipped_total", "reason", "zero_amount"), 1);
    /* skipped events are processed all the same: the watermark moved past them */
    json_t *saved = checkpoint();
    ck_assert_int_eq(json_integer_value(json_object_get(saved, "created")), base + 3);
    json_decref(saved);
}
END_TEST

START_TEST(test_stripe_poll_reconciles_again_from_backfill_when_event_types_change)
{
    start("\"event_types\":[\"customer.created\"]");
    json_t *invoice = st_fixture("event.invoice.paid.json");
    json_object_set_new(invoice, "created", json_integer(base + 1));
    fake_stripe_add_event(fake, invoice);
    json_decref(invoice);
    add_customer(2, 2);
    struct poll p;
    poll_ok(&p);
    ck_assert_uint_eq(json_array_size(p.emitted), 1);
    poll_clear(&p);
    st_stop(&t);
    /* invoice.paid enabled later: its event is older than the watermark, yet found */
    start("\"event_types\":[\"customer.created\",\"invoice.paid\"]");
    poll_ok(&p);
    json_t *expected = json_pack("[s, s]", "evt_1QzW5oK8Lm2Np4QrRs9Tu0Vw", "evt_002");
    assert_json_eq(p.emitted, expected);
    json_decref(expected);
    poll_clear(&p);
    /* evt_002 came again and was deduplicated by the store */
    ck_assert_int_eq(stored_events(), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stripe_poll");
    TCase *tc = tcase_create("poll");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc,
                   test_stripe_poll_asks_for_events_since_backfill_with_its_types_key_and_version);
    tcase_add_test(tc, test_stripe_poll_pages_down_with_starting_after_and_stores_oldest_first);
    tcase_add_test(tc, test_stripe_poll_stores_nothing_twice_in_the_watermark_second);
    tcase_add_test(tc, test_stripe_poll_interrupted_mid_pages_resumes_without_gaps_or_repeats);
    tcase_add_test(tc, test_stripe_poll_interrupted_while_new_events_arrive_loses_none);
    tcase_add_test(tc, test_stripe_poll_backlog_is_held_one_window_at_a_time_deepest_first);
    tcase_add_test(tc, test_stripe_poll_stores_at_most_the_event_budget_even_from_a_larger_window);
    tcase_add_test(tc, test_stripe_poll_failing_page_commits_nothing_and_the_next_poll_repeats_it);
    tcase_add_test(tc, test_stripe_poll_rides_out_a_rate_limit_with_the_host_retries);
    tcase_add_test(tc, test_stripe_poll_stripe_should_retry_true_makes_the_host_retry_a_409);
    tcase_add_test(tc, test_stripe_poll_stripe_should_retry_false_is_asked_once);
    tcase_add_test(tc, test_stripe_poll_with_a_refused_key_fails_with_the_config_outcome);
    tcase_add_test(tc, test_stripe_poll_walks_again_from_the_top_when_a_saved_position_expired);
    tcase_add_test(tc, test_stripe_poll_skips_and_counts_what_it_does_not_store);
    tcase_add_test(tc, test_stripe_poll_reconciles_again_from_backfill_when_event_types_change);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
