/*
 * test_fake_host.c - the installed fake host (sdk/testing/leadhub-test.h) behaves as the
 * host on every point a plugin's unit test relies on: a complete table, the host's own
 * settings and event validation, commit-or-discard per call, scripted HTTP with the host's
 * retry rules on a test clock, notifications, identities, and misuse reported.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "leadhub-test.h"
#include "testutil.h"

/* --- a plugin whose callbacks do what the test's script says ---------------------------- */

static const lh_config_field_t probe_schema[] = {
    LH_FIELD(.name = "url", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED),
    LH_FIELD(.name = "token", .type = LH_CONFIG_SECRET),
    LH_FIELD(.name = "page_size", .type = LH_CONFIG_INT, .default_value = "50",
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .min = 1, .max = 100),
    LH_FIELD_END};

/* What the next callback does, set by each test. */
static struct {
    const char *emit[4]; /* events to emit, JSON */
    lh_status_t emit_status[4];
    lh_status_t result;     /* what the callback returns */
    const char *checkpoint; /* a key to put {"n": calls} under */
    int calls;
    const char *notify; /* webhook: a notification key to put */
    size_t take;        /* poll: notifications to take */
    int keep_first;     /* poll: keep the first one taken */
    json_t *taken;      /* what take returned */
    const char *url;    /* poll/deliver: GET this */
    int max_attempts;
    lh_status_t http_status;
    long http_answer;
    const char *answer_header; /* a response header to read */
    char answer_value[64];
    json_t *seen_settings;
    int check_stop; /* poll: read should_stop() three times and now_ms() */
    int stops[3];
    int64_t now;
} probe;

static lh_status_t probe_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    const char *url = json_string_value(json_object_get(settings, "url"));
    if (url != NULL && strncmp(url, "https://", 8) != 0) {
        host->config_error(ctx, "url", "use https", "not an https URL");
    }
    return LH_OK;
}

static lh_status_t probe_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                              void **state_out)
{
    (void)ctx;
    json_decref(probe.seen_settings);
    probe.seen_settings = json_deep_copy(settings);
    *state_out = (void *)host;
    return LH_OK;
}

static void probe_destroy(void *state)
{
    (void)state;
}

static lh_status_t probe_act(const lh_host_t *host, lh_ctx_t *ctx)
{
    probe.calls++;
    for (int i = 0; i < 4 && probe.emit[i] != NULL; i++) {
        probe.emit_status[i] = host->emit(ctx, json_loads(probe.emit[i], 0, NULL));
    }
    if (probe.checkpoint != NULL) {
        json_t *before = NULL;
        host->checkpoint_get(ctx, probe.checkpoint, &before);
        json_decref(before);
        host->checkpoint_put(ctx, probe.checkpoint, json_pack("{s:i}", "n", probe.calls));
    }
    if (probe.url != NULL) {
        lh_http_request_t request =
            LH_HTTP_REQUEST(.url = probe.url, .max_attempts = probe.max_attempts);
        lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
        probe.http_status = host->http(ctx, &request, &response);
        probe.http_answer = response.status;
        const char *value =
            probe.answer_header != NULL ? lh_response_header(&response, probe.answer_header) : NULL;
        snprintf(probe.answer_value, sizeof(probe.answer_value), "%s", value ? value : "");
        host->http_response_free(&response);
    }
    return probe.result;
}

static lh_status_t probe_poll(void *state, lh_ctx_t *ctx)
{
    const lh_host_t *host = state;
    if (probe.take > 0) {
        json_decref(probe.taken);
        probe.taken = NULL;
        ck_assert_int_eq(host->notifications_take(ctx, probe.take, &probe.taken), LH_OK);
        if (probe.keep_first && json_array_size(probe.taken) > 0) {
            const char *key =
                json_string_value(json_object_get(json_array_get(probe.taken, 0), "key"));
            ck_assert_int_eq(host->notification_keep(ctx, key), LH_OK);
        }
    }
    if (probe.check_stop) {
        for (int i = 0; i < 3; i++) {
            probe.stops[i] = host->should_stop(ctx);
        }
        probe.now = host->now_ms(ctx);
    }
    return probe_act(host, ctx);
}

static lh_status_t probe_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    const lh_host_t *host = state;
    ck_assert_uint_eq(request->body[request->body_len], '\0');
    if (probe.notify != NULL) {
        host->notification_put(ctx, probe.notify, json_string((const char *)request->body));
    }
    return probe_act(host, ctx);
}

static lh_status_t probe_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    const lh_host_t *host = state;
    if (delivery->lead_id != 0) {
        host->lead_identity_put(ctx, delivery, "crm-501");
    }
    return probe_act(host, ctx);
}

static const lh_plugin_t probe_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE | LH_KIND_SINK,
    .name = "probe",
    .version = "1.0.0",
    .description = "the fake host's own test plugin",
    .config_schema = probe_schema,
    .validate = probe_validate,
    .init = probe_init,
    .destroy = probe_destroy,
    .poll = probe_poll,
    .webhook = probe_webhook,
    .deliver = probe_deliver,
};

static const char lead_event[] = "{\"type\":\"lead.created\",\"source_id\":\"f-1\","
                                 "\"occurred_at\":\"2026-11-27T10:00:00+01:00\","
                                 "\"lead\":{\"email\":\" Ada@Example.COM \"}}";
static const char other_event[] = "{\"type\":\"lead.created\",\"source_id\":\"f-2\","
                                  "\"occurred_at\":\"2026-11-27T09:00:00Z\","
                                  "\"lead\":{\"email\":\"bob@example.com\"}}";
static const char bad_event[] = "{\"type\":\"lead.created\",\"source_id\":\"f-3\","
                                "\"occurred_at\":\"yesterday\"}";

static lh_test_t *t;

static void setup(void)
{
    memset(&probe, 0, sizeof(probe));
    setenv("PROBE_TOKEN", "tok-5b3d8f60a1", 1);
    t = lh_test_new(&probe_plugin, "crm");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(lh_test_init(t, "{\"url\":\"https://crm.example\","
                                     "\"token\":\"${PROBE_TOKEN}\"}"),
                     LH_OK);
}

static void teardown(void)
{
    lh_test_free(t);
    json_decref(probe.taken);
    json_decref(probe.seen_settings);
}

/* --- the table and settings --------------------------------------------------------------- */

START_TEST(test_fake_host_fills_every_slot_of_the_table)
{
    const lh_host_t *host = lh_test_host(t);
    ck_assert_uint_eq(host->struct_size, sizeof(lh_host_t));
    ck_assert_uint_eq(host->abi_major, LH_ABI_MAJOR);
    ck_assert_uint_eq(host->abi_minor, LH_ABI_MINOR);
    /* every member after the version fields is a function pointer: a slot added to
     * lh_host_t later without a fake fails here */
    typedef void (*slot_fn)(void);
    size_t first = offsetof(lh_host_t, log);
    size_t count = (sizeof(lh_host_t) - first) / sizeof(slot_fn);
    ck_assert_uint_eq(first + count * sizeof(slot_fn), sizeof(lh_host_t));
    for (size_t i = 0; i < count; i++) {
        slot_fn slot;
        memcpy(&slot, (const char *)host + first + i * sizeof(slot_fn), sizeof(slot));
        ck_assert_msg(slot != NULL, "host slot %zu is empty", i);
    }
    ck_assert(LH_HOST_HAS(host, checkpoint_put_secret));
}
END_TEST

START_TEST(test_fake_host_checks_settings_as_the_host_does)
{
    /* defaults filled, references resolved */
    ck_assert_int_eq(json_integer_value(json_object_get(probe.seen_settings, "page_size")), 50);
    ck_assert_str_eq(json_string_value(json_object_get(probe.seen_settings, "token")),
                     "tok-5b3d8f60a1");
    /* the host's schema rules: required, unknown keys, ranges, secrets from references */
    ck_assert_int_eq(lh_test_validate(t, "{}"), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "url"));
    ck_assert_int_eq(lh_test_validate(t, "{\"url\":\"https://x\",\"page_sise\":5}"), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(lh_test_config_errors(t), "page_sise"));
    ck_assert_int_eq(lh_test_validate(t, "{\"url\":\"https://x\",\"page_size\":500}"), LH_CONFIG);
    ck_assert_int_eq(lh_test_validate(t, "{\"url\":\"https://x\",\"token\":\"literal-secret\"}"),
                     LH_CONFIG);
    ck_assert_ptr_null(strstr(lh_test_config_errors(t), "literal-secret"));
    /* then the plugin's validate(), its reports named */
    ck_assert_int_eq(lh_test_validate(t, "{\"url\":\"http://crm.example\"}"), LH_CONFIG);
    ck_assert_str_eq(lh_test_config_errors(t), "url: not an https URL (use https)\n");
    ck_assert_int_eq(lh_test_init(t, "{\"url\":\"http://crm.example\"}"), LH_CONFIG);
    ck_assert_ptr_null(lh_test_state(t));
    ck_assert_int_eq(lh_test_validate(t, "{\"url\":\"https://crm.example\"}"), LH_OK);
    ck_assert_str_eq(lh_test_config_errors(t), "");
    ck_assert_ptr_null(lh_test_misuse(t));
}
END_TEST

/* --- events and checkpoints ------------------------------------------------------------------ */

START_TEST(test_fake_host_commits_a_poll_only_when_it_returns_ok)
{
    probe.emit[0] = lead_event;
    probe.checkpoint = "cursor";
    probe.result = LH_RETRY;
    ck_assert_int_eq(lh_test_poll(t), LH_RETRY);
    ck_assert_uint_eq(lh_test_event_count(t), 0);
    ck_assert_ptr_null(lh_test_checkpoint(t, "cursor"));

    probe.result = LH_OK;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    /* normalized by the host's validator: source, UTC milliseconds, the email lowercased */
    const json_t *event = lh_test_event(t, 0);
    ck_assert_str_eq(json_string_value(json_object_get(event, "source")), "crm");
    ck_assert_str_eq(json_string_value(json_object_get(event, "occurred_at")),
                     "2026-11-27T09:00:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(event, "lead"), "email")),
                     "ada@example.com");
    ck_assert_int_eq(json_integer_value(json_object_get(lh_test_checkpoint(t, "cursor"), "n")), 2);

    /* the same event again is a duplicate, stored once */
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_uint_eq(lh_test_event_count(t), 1);
    ck_assert_uint_eq(lh_test_duplicate_count(t), 1);
    ck_assert_ptr_null(lh_test_misuse(t));
}
END_TEST

START_TEST(test_fake_host_refuses_an_invalid_event_and_keeps_the_others)
{
    probe.emit[0] = lead_event;
    probe.emit[1] = bad_event;
    probe.emit[2] = other_event;
    probe.result = LH_OK;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.emit_status[0], LH_OK);
    ck_assert_int_eq(probe.emit_status[1], LH_PERMANENT);
    ck_assert_int_eq(probe.emit_status[2], LH_OK);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "occurred_at"));
    ck_assert_uint_eq(lh_test_event_count(t), 2);
    ck_assert_uint_eq(lh_test_refused_count(t), 1);
    /* passing LH_PERMANENT on discards the whole call */
    lh_test_events_clear(t);
    probe.emit[0] = "{\"type\":\"lead.created\",\"source_id\":\"f-9\","
                    "\"occurred_at\":\"2026-11-27T09:00:00Z\"}";
    probe.result = LH_PERMANENT;
    ck_assert_int_eq(lh_test_webhook(t, "POST", NULL, NULL, 0, "{}", 2), LH_PERMANENT);
    ck_assert_uint_eq(lh_test_event_count(t), 0);
}
END_TEST

START_TEST(test_fake_host_writes_a_deliverys_checkpoint_at_once_and_records_identities)
{
    probe.checkpoint = "contact:1";
    probe.result = LH_RETRY; /* a delivery's checkpoint is written even when it fails */
    ck_assert_int_eq(
        lh_test_deliver(t, lead_event, "{\"id\": 7, \"email\": \"ada@example.com\"}", 1), LH_RETRY);
    ck_assert_ptr_nonnull(lh_test_checkpoint(t, "contact:1"));
    ck_assert_str_eq(lh_test_identity(t, 7), "crm-501");
    ck_assert_uint_eq(lh_test_identity_count(t), 1);
    /* emit() from deliver is refused and noted */
    probe.emit[0] = lead_event;
    lh_test_deliver(t, lead_event, NULL, 1);
    ck_assert_ptr_nonnull(lh_test_misuse(t));
    ck_assert_ptr_nonnull(strstr(lh_test_misuse(t), "emit() from deliver"));
}
END_TEST

START_TEST(test_fake_host_notes_a_bad_checkpoint_key)
{
    probe.checkpoint = "contact:ada@example.com";
    probe.result = LH_OK;
    lh_test_poll(t);
    ck_assert_ptr_nonnull(lh_test_misuse(t));
    ck_assert_ptr_nonnull(strstr(lh_test_misuse(t), "checkpoint key"));
    ck_assert_uint_eq(lh_test_checkpoint_count(t), 0);
}
END_TEST

/* --- notifications ------------------------------------------------------------------------- */

START_TEST(test_fake_host_notifications_commit_with_the_webhook_and_leave_with_the_poll)
{
    probe.notify = "contact:501";
    probe.result = LH_RETRY;
    lh_test_webhook(t, "POST", NULL, NULL, 0, "v1", 2);
    ck_assert_uint_eq(lh_test_notification_count(t), 0);
    probe.result = LH_OK;
    ck_assert_int_eq(lh_test_webhook(t, "POST", NULL, NULL, 0, "v1", 2), LH_OK);
    ck_assert_str_eq(json_string_value(lh_test_notification(t, "contact:501")), "v1");
    ck_assert_int_eq(lh_test_poll_soon_count(t), 1);
    /* a redelivery changes nothing */
    ck_assert_int_eq(lh_test_webhook(t, "POST", NULL, NULL, 0, "v1", 2), LH_OK);
    ck_assert_int_eq(lh_test_poll_soon_count(t), 1);
    lh_test_notification_add(t, "contact:502", json_string("v2"));

    probe.notify = NULL;
    probe.take = 10;
    probe.result = LH_RETRY; /* a failed poll removes nothing */
    lh_test_poll(t);
    ck_assert_uint_eq(json_array_size(probe.taken), 2);
    ck_assert_uint_eq(lh_test_notification_count(t), 2);
    probe.result = LH_OK;
    probe.keep_first = 1; /* the oldest stays pending */
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(probe.taken, 0), "key")),
                     "contact:501");
    ck_assert_uint_eq(lh_test_notification_count(t), 1);
    ck_assert_ptr_nonnull(lh_test_notification(t, "contact:501"));
    ck_assert_ptr_null(lh_test_misuse(t));
}
END_TEST

/* --- HTTP ------------------------------------------------------------------------------------ */

START_TEST(test_fake_host_http_answers_in_order_and_logs_requests)
{
    lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = "/persons",
                                          .status = 200, .headers = "X-Total: 2\n", .body = "{}"));
    probe.url = "https://crm.example/v1/persons?limit=2";
    probe.answer_header = "x-total";
    probe.result = LH_OK;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_status, LH_OK);
    ck_assert_int_eq(probe.http_answer, 200);
    ck_assert_str_eq(probe.answer_value, "2");
    ck_assert_uint_eq(lh_test_request_count(t), 1);
    ck_assert_str_eq(lh_test_request(t, 0)->url, "https://crm.example/v1/persons?limit=2");
    ck_assert_str_eq(lh_test_request(t, 0)->method, "GET");
    ck_assert_uint_eq(lh_test_answers_left(t), 0);
    /* nothing scripted: refused, counted */
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_status, LH_RETRY);
    ck_assert_uint_eq(lh_test_unanswered(t), 1);
}
END_TEST

START_TEST(test_fake_host_http_retries_as_the_host_on_the_test_clock)
{
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 503, .headers = "Retry-After: 2\n"));
    lh_test_http_script(t, LH_TEST_ANSWER(.transport_error = "connection reset by peer"));
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 200, .latency_ms = 150));
    probe.url = "https://crm.example/v1/persons";
    probe.max_attempts = 3;
    probe.result = LH_OK;
    int64_t start = lh_test_clock(t);
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_status, LH_OK);
    ck_assert_int_eq(probe.http_answer, 200);
    ck_assert_uint_eq(lh_test_request_count(t), 3);
    ck_assert(lh_test_clock(t) - start == 2150); /* Retry-After waited on the clock */

    /* without max_attempts: the first answer is the answer */
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 429, .headers = "Retry-After: 7\n"));
    probe.max_attempts = 0;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_answer, 429);
    ck_assert_uint_eq(lh_test_request_count(t), 4);

    /* a Retry-After over a minute is handed back, not waited */
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 429, .headers = "Retry-After: 120\n"));
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 200));
    probe.max_attempts = 5;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_answer, 429);
    ck_assert_uint_eq(lh_test_answers_left(t), 1);

    /* a latency past the request's timeout is a timeout */
    lh_test_http_script(t, LH_TEST_ANSWER(.status = 200, .latency_ms = 31000));
    probe.max_attempts = 1;
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_status, LH_OK); /* the 200 left from before answers first */
    ck_assert_int_eq(lh_test_poll(t), LH_OK);
    ck_assert_int_eq(probe.http_status, LH_RETRY);
    ck_assert_ptr_nonnull(strstr(lh_test_error(t), "timeout"));
}
END_TEST

START_TEST(test_fake_host_clock_and_should_stop_are_the_tests)
{
    lh_test_clock_set(t, 1795770000000LL);
    lh_test_clock_advance(t, 500);
    ck_assert(lh_test_clock(t) == 1795770000500LL);
    probe.check_stop = 1;
    probe.result = LH_OK;
    lh_test_poll(t);
    ck_assert(probe.now == 1795770000500LL);
    ck_assert_int_eq(probe.stops[0] + probe.stops[1] + probe.stops[2], 0); /* never, by default */
    lh_test_stop_after(t, 1);
    lh_test_poll(t);
    ck_assert_int_eq(probe.stops[0], 0);
    ck_assert_int_eq(probe.stops[1], 1);
    ck_assert_int_eq(probe.stops[2], 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fake host");
    TCase *tc = tcase_create("fake host");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fake_host_fills_every_slot_of_the_table);
    tcase_add_test(tc, test_fake_host_checks_settings_as_the_host_does);
    tcase_add_test(tc, test_fake_host_commits_a_poll_only_when_it_returns_ok);
    tcase_add_test(tc, test_fake_host_refuses_an_invalid_event_and_keeps_the_others);
    tcase_add_test(tc, test_fake_host_writes_a_deliverys_checkpoint_at_once_and_records_identities);
    tcase_add_test(tc, test_fake_host_notes_a_bad_checkpoint_key);
    tcase_add_test(tc,
                   test_fake_host_notifications_commit_with_the_webhook_and_leave_with_the_poll);
    tcase_add_test(tc, test_fake_host_http_answers_in_order_and_logs_requests);
    tcase_add_test(tc, test_fake_host_http_retries_as_the_host_on_the_test_clock);
    tcase_add_test(tc, test_fake_host_clock_and_should_stop_are_the_tests);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
