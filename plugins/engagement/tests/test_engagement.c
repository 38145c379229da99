/*
 * test_engagement.c - the `engagement` scorer as built (build/plugins/engagement.so), loaded
 * by the real loader, its settings checked by the real validator, and called through the
 * real instance wrappers with hand-built snapshots on a fixed clock: decay by half-life,
 * weights and globs, the curve and its explanation, snapshots it cannot read, init
 * refusals, and the worked example of docs/scoring.md, read from the page itself.
 *
 * Expected values were computed apart (by hand and with Python's math module) and are
 * compared with SCORE_TOLERANCE: the scorer publishes numbers rounded to 2 decimals, so an
 * expected value is a decimal literal and the only difference allowed is that of a decimal
 * in binary (below 1e-12 here); any real error is at least 0.01.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_yaml.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"
#include "testutil.h"
#include "util.h"

#define SCORE_TOLERANCE 1e-9
#define NOW             "2026-11-27T10:00:00.000Z"
#define MS_PER_DAY      86400000LL

static struct plugin_registry registry;
static const struct plugin *plugin;
static struct host_services services;
static struct instance instance;
static struct config_instance config_instance;
static bool started;

static void setup(void)
{
    char *path = util_printf("%s/plugins/engagement.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    plugin = loader_find(&registry, "engagement");
    ck_assert_ptr_nonnull(plugin);
    memset(&services, 0, sizeof(services));
    services.metrics = metrics_create();
    pthread_mutex_init(&services.store_mutex, NULL);
}

static void stop(void)
{
    if (started) {
        instance_teardown(&instance);
        json_decref(config_instance.settings);
        started = false;
    }
}

static void teardown(void)
{
    stop();
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
    loader_free(&registry);
}

/* YAML as it is written under a scorer's `settings:`. NEW reference. */
static json_t *yaml(const char *text)
{
    json_t *tree = NULL;
    struct diag_list diags = {0};
    int status = config_yaml_parse(text, strlen(text), "test", &tree, NULL, &diags);
    ck_assert_msg(status == 0, "YAML: %s", diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    return tree;
}

/* Validates `settings` (STOLEN) as the host does, then runs init(). */
static lh_status_t start_with(json_t *settings_tree)
{
    config_instance = (struct config_instance){
        .name = "activity", .plugin = "engagement", .enabled = true, .file = "leadhub.yaml"};
    config_instance.settings = settings_tree;
    struct diag_list diags = {0};
    json_t *settings =
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags);
    ck_assert_msg(settings != NULL, "settings invalid: %s",
                  diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    ck_assert_int_eq(instance_setup(&instance, &config_instance, plugin, settings, &services), 0);
    started = true;
    return instance_init(&instance);
}

static void start(const char *settings_yaml)
{
    lh_status_t status = start_with(yaml(settings_yaml));
    ck_assert_msg(status == LH_OK, "init: %s", instance.last_error);
}

/* The first error the host's validator finds in settings_yaml (malloc'd). */
static char *validator_refusal(const char *settings_yaml)
{
    config_instance = (struct config_instance){
        .name = "activity", .plugin = "engagement", .file = "leadhub.yaml"};
    config_instance.settings = yaml(settings_yaml);
    struct diag_list diags = {0};
    ck_assert_ptr_null(
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags));
    ck_assert_uint_ge(diag_error_count(&diags), 1);
    char *text = diag_format_one(&diags.items[0]);
    diag_list_free(&diags);
    json_decref(config_instance.settings);
    return text;
}

/* JSON written with ' for " (the test texts hold no apostrophes). NEW reference. */
static json_t *quoted_json(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; *p != '\0'; p++) {
        *p = *p == '\'' ? '"' : *p;
    }
    json_error_t error;
    json_t *value = json_loads(copy, JSON_DECODE_ANY, &error);
    ck_assert_msg(value != NULL, "bad test JSON: %s in %s", error.text, copy);
    free(copy);
    return value;
}

/* A snapshot in the documented format with these events (quoted JSON). NEW reference. */
static json_t *snapshot(const char *events)
{
    json_t *value = json_pack("{s:s, s:{s:i, s:s}, s:[], s:o, s:[], s:{}}", "now", NOW, "lead",
                              "id", 7, "email", "ada@analytical.example", "identities", "events",
                              quoted_json(events), "meetings", "scores");
    ck_assert_ptr_nonnull(value);
    return value;
}

static json_t *score(const json_t *lead_snapshot)
{
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    json_t *result = NULL;
    lh_status_t status = instance_score(&instance, &ctx, lead_snapshot, &result);
    ck_assert_msg(status == LH_OK, "score: %s", ctx.error ? ctx.error : "?");
    ctx_clear(&ctx);
    return result;
}

static json_t *score_events(const char *events)
{
    json_t *value = snapshot(events);
    json_t *result = score(value);
    json_decref(value);
    return result;
}

static void assert_result_equals(const json_t *result, const json_t *expected)
{
    char *text = json_dumps(result, JSON_SORT_KEYS);
    double got = json_number_value(json_object_get(result, "score"));
    double want = json_number_value(json_object_get(expected, "score"));
    ck_assert_msg(fabs(got - want) < SCORE_TOLERANCE, "score %.6f, expected %.6f: %s", got, want,
                  text);
    const json_t *items = json_object_get(result, "contributions");
    const json_t *wanted = json_object_get(expected, "contributions");
    ck_assert_msg(json_array_size(items) == json_array_size(wanted),
                  "%zu contributions, expected %zu: %s", json_array_size(items),
                  json_array_size(wanted), text);
    double sum = 0;
    for (size_t i = 0; i < json_array_size(wanted); i++) {
        const json_t *item = json_array_get(items, i);
        const json_t *want_item = json_array_get(wanted, i);
        ck_assert_msg(json_object_size(item) == 3, "contribution %zu: %s", i, text);
        ck_assert_str_eq(json_string_value(json_object_get(item, "rule")),
                         json_string_value(json_object_get(want_item, "rule")));
        ck_assert_str_eq(json_string_value(json_object_get(item, "why")),
                         json_string_value(json_object_get(want_item, "why")));
        double points = json_number_value(json_object_get(item, "points"));
        double want_points = json_number_value(json_object_get(want_item, "points"));
        ck_assert_msg(fabs(points - want_points) < SCORE_TOLERANCE,
                      "contribution %zu: points %.6f, expected %.6f: %s", i, points, want_points,
                      text);
        sum += points;
    }
    /* engagement's contributions add up to its score */
    ck_assert_msg(fabs(sum - got) < SCORE_TOLERANCE, "contributions add up to %.6f: %s", sum, text);
    free(text);
}

/* Checks and frees `result`. */
static void assert_result(json_t *result, double expected_score, const char *contributions)
{
    json_t *expected = json_pack("{s:f, s:o}", "score", expected_score, "contributions",
                                 quoted_json(contributions));
    assert_result_equals(result, expected);
    json_decref(expected);
    json_decref(result);
}

/* --- decay and the curve ------------------------------------------------------------------ */

START_TEST(test_engagement_descriptor_is_a_reentrant_scorer)
{
    ck_assert_uint_eq(plugin->desc->kind, LH_KIND_SCORER);
    ck_assert_uint_eq(plugin->desc->flags, LH_PLUGIN_REENTRANT);
}
END_TEST

START_TEST(test_engagement_a_new_event_is_worth_its_weight)
{
    start("{}");
    /* S = 10; 100 * (1 - e^-0.2) = 18.1269 */
    assert_result(score_events("[{'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                               "  'occurred_at': '" NOW "', 'data': {}}]"),
                  18.13,
                  "[{'rule': 'email.replied', 'points': 10, 'why': '1 event worth 10, 0s ago, "
                  "halved every 14d'},"
                  " {'rule': 'curve', 'points': 8.13, 'why': 'the decayed sum 10 gives 100 * (1 - "
                  "exp(-10 / 50)) = 18.13'}]");
}
END_TEST

START_TEST(test_engagement_an_event_is_worth_half_after_one_half_life)
{
    start("{half_life: 10d}");
    /* S = 10 * 0.5 = 5; 100 * (1 - e^-0.1) = 9.5163 */
    assert_result(score_events("[{'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                               "  'occurred_at': '2026-11-17T10:00:00.000Z', 'data': {}}]"),
                  9.52,
                  "[{'rule': 'email.replied', 'points': 5, 'why': '1 event worth 10, 10d ago, "
                  "halved every 10d'},"
                  " {'rule': 'curve', 'points': 4.52, 'why': 'the decayed sum 5 gives 100 * (1 - "
                  "exp(-5 / 50)) = 9.52'}]");
}
END_TEST

START_TEST(test_engagement_default_weights_are_those_of_the_scoring_issue)
{
    start("{}");
    /* meeting.scheduled 30 + payment.succeeded 50, both new: 100 * (1 - e^-1.6) = 79.8103 */
    assert_result(
        score_events("[{'id': 2, 'type': 'payment.succeeded', 'source': 'stripe',"
                     "  'occurred_at': '" NOW "'},"
                     " {'id': 1, 'type': 'meeting.scheduled', 'source': 'calendar',"
                     "  'occurred_at': '" NOW "'}]"),
        79.81,
        "[{'rule': 'payment.succeeded', 'points': 50, 'why': '1 event worth 50, 0s ago, halved "
        "every 14d'},"
        " {'rule': 'meeting.scheduled', 'points': 30, 'why': '1 event worth 30, 0s ago, halved "
        "every 14d'},"
        " {'rule': 'curve', 'points': -0.19, 'why': 'the decayed sum 80 gives 100 * (1 - exp(-80 "
        "/ 50)) = 79.81'}]");
}
END_TEST

START_TEST(test_engagement_a_negative_sum_scores_zero)
{
    start("{}");
    assert_result(score_events("[{'id': 1, 'type': 'meeting.canceled', 'source': 'calendar',"
                               "  'occurred_at': '2026-11-13T10:00:00.000Z'}]"),
                  0,
                  "[{'rule': 'meeting.canceled', 'points': -7.5, 'why': '1 event worth -15, 14d "
                  "ago, halved every 14d'},"
                  " {'rule': 'curve', 'points': 7.5, 'why': 'the decayed sum -7.5 is not "
                  "positive: the score is 0'}]");
}
END_TEST

START_TEST(test_engagement_events_without_a_weight_count_nothing)
{
    start("{weights: {email.replied: 10, email.sent: 0}}");
    assert_result(score_events("[{'id': 2, 'type': 'email.sent', 'source': 'gmail',"
                               "  'occurred_at': '" NOW "'},"
                               " {'id': 1, 'type': 'lead.created', 'source': 'form',"
                               "  'occurred_at': '" NOW "'}]"),
                  0,
                  "[{'rule': 'curve', 'points': 0, 'why': 'no weighted events: the score is 0'}]");
}
END_TEST

START_TEST(test_engagement_a_types_own_weight_wins_over_a_glob)
{
    start("{weights: {email.*: 2, email.replied: 10}}");
    /* 10 + 2 * 2^(-1/14) = 11.9034; 100 * (1 - e^-0.238068) = 21.1851 */
    assert_result(
        score_events("[{'id': 2, 'type': 'email.replied', 'source': 'gmail',"
                     "  'occurred_at': '" NOW "'},"
                     " {'id': 1, 'type': 'email.sent', 'source': 'gmail',"
                     "  'occurred_at': '2026-11-26T10:00:00.000Z'}]"),
        21.19,
        "[{'rule': 'email.replied', 'points': 10, 'why': '1 event worth 10, 0s ago, "
        "halved every 14d'},"
        " {'rule': 'email.sent', 'points': 1.9, 'why': '1 event worth 2 (email.*), 1d "
        "ago, halved every 14d'},"
        " {'rule': 'curve', 'points': 9.29, 'why': 'the decayed sum 11.9 gives 100 * (1 - "
        "exp(-11.9 / 50)) = 21.19'}]");
}
END_TEST

START_TEST(test_engagement_max_age_leaves_out_older_events)
{
    start("{max_age: 10d}");
    /* only the reply of 5 days ago: 10 * 2^(-5/14) = 7.8071; 100 * (1 - e^-0.156142) = 14.4562 */
    assert_result(
        score_events("[{'id': 2, 'type': 'email.replied', 'source': 'gmail',"
                     "  'occurred_at': '2026-11-22T10:00:00.000Z'},"
                     " {'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                     "  'occurred_at': '2026-11-07T10:00:00.000Z'}]"),
        14.46,
        "[{'rule': 'email.replied', 'points': 7.81, 'why': '1 event worth 10, 5d ago, "
        "halved every 14d'},"
        " {'rule': 'curve', 'points': 6.65, 'why': 'the decayed sum 7.81 gives 100 * (1 - "
        "exp(-7.81 / 50)) = 14.46'}]");
}
END_TEST

START_TEST(test_engagement_an_event_after_now_is_worth_its_full_weight)
{
    start("{}");
    assert_result(score_events("[{'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                               "  'occurred_at': '2026-11-27T10:03:00.000Z'}]"),
                  18.13,
                  "[{'rule': 'email.replied', 'points': 10, 'why': '1 event worth 10, 0s ago, "
                  "halved every 14d'},"
                  " {'rule': 'curve', 'points': 8.13, 'why': 'the decayed sum 10 gives 100 * (1 - "
                  "exp(-10 / 50)) = 18.13'}]");
}
END_TEST

START_TEST(test_engagement_the_score_never_passes_100)
{
    start("{weights: {payment.succeeded: 100000}}");
    json_t *result = score_events("[{'id': 1, 'type': 'payment.succeeded', 'source': 'stripe',"
                                  "  'occurred_at': '" NOW "'}]");
    ck_assert_double_eq_tol(json_number_value(json_object_get(result, "score")), 100,
                            SCORE_TOLERANCE);
    json_decref(result);
}
END_TEST

/* Decay and curve agree with libm's pow() and exp() to the precision the scorer publishes
 * (2 decimals), over ages from 0 to 200 days and sums from tiny to saturating. */
START_TEST(test_engagement_decay_and_curve_agree_with_libm)
{
    start("{weights: {email.replied: 1000000}, scale: 1000000, half_life: 14d}");
    for (int step = 0; step <= 200; step++) {
        int64_t age_ms = (int64_t)step * MS_PER_DAY + step * 3600000LL * 7;
        char occurred_at[32];
        int64_t now_ms = 0;
        ck_assert_int_eq(util_parse_rfc3339(NOW, &now_ms), 0);
        util_format_rfc3339(now_ms - age_ms, occurred_at);
        json_t *value = snapshot("[]");
        json_array_append_new(json_object_get(value, "events"),
                              json_pack("{s:i, s:s, s:s, s:s}", "id", 1, "type", "email.replied",
                                        "source", "gmail", "occurred_at", occurred_at));
        json_t *result = score(value);
        const json_t *first = json_array_get(json_object_get(result, "contributions"), 0);
        double points = json_number_value(json_object_get(first, "points"));
        double expected_points = 1e6 * pow(0.5, (double)age_ms / (14.0 * MS_PER_DAY));
        ck_assert_msg(fabs(points - expected_points) <= 0.005 + 1e-6,
                      "age %lld ms: points %.4f, libm %.4f", (long long)age_ms, points,
                      expected_points);
        double expected_score = 100 * (1 - exp(-expected_points / 1e6));
        double got = json_number_value(json_object_get(result, "score"));
        ck_assert_msg(fabs(got - expected_score) <= 0.005 + 1e-9,
                      "age %lld ms: score %.4f, libm %.4f", (long long)age_ms, got, expected_score);
        json_decref(result);
        json_decref(value);
    }
}
END_TEST

/* --- snapshots it cannot read ----------------------------------------------------------------- */

START_TEST(test_engagement_skips_malformed_events_with_a_note)
{
    start("{}");
    assert_result(score_events("[{'id': 3, 'type': 'email.replied', 'occurred_at': 'today'},"
                               " {'id': 2, 'occurred_at': '" NOW "'},"
                               " {'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                               "  'occurred_at': '" NOW "'}]"),
                  18.13,
                  "[{'rule': 'email.replied', 'points': 10, 'why': '1 event worth 10, 0s ago, "
                  "halved every 14d'},"
                  " {'rule': 'curve', 'points': 8.13, 'why': 'the decayed sum 10 gives 100 * (1 - "
                  "exp(-10 / 50)) = 18.13'},"
                  " {'rule': 'note:skipped_events', 'points': 0, 'why': '2 events without a type "
                  "or a valid occurred_at not counted'}]");
}
END_TEST

START_TEST(test_engagement_refuses_a_snapshot_without_a_clock)
{
    start("{}");
    static const struct {
        const char *snapshot;
        const char *reason;
    } cases[] = {
        {"'x'", "snapshot: not an object"},
        {"{'events': []}", "snapshot.now: missing or not an RFC 3339 time"},
        {"{'now': '2026-11-27T25:00:00Z', 'events': []}",
         "snapshot.now: missing or not an RFC 3339 time"},
        {"{'now': '" NOW "', 'events': 'none'}", "snapshot.events: not a list"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = quoted_json(cases[i].snapshot);
        struct lh_ctx ctx;
        ctx_init(&ctx, &instance, NULL);
        json_t *result = NULL;
        ck_assert_int_eq(instance_score(&instance, &ctx, value, &result), LH_PERMANENT);
        ck_assert_ptr_null(result);
        ck_assert_str_eq(ctx.error, cases[i].reason);
        ctx_clear(&ctx);
        json_decref(value);
    }
}
END_TEST

START_TEST(test_engagement_scores_a_lead_without_events)
{
    start("{}");
    json_t *value = quoted_json("{'now': '" NOW "', 'lead': {'id': 7}}");
    assert_result(score(value), 0,
                  "[{'rule': 'curve', 'points': 0, 'why': 'no weighted events: the score is 0'}]");
    json_decref(value);
}
END_TEST

/* --- settings ------------------------------------------------------------------------------ */

START_TEST(test_engagement_init_refuses_an_unknown_event_type_with_a_suggestion)
{
    ck_assert_int_eq(start_with(yaml("{weights: {email.replied: 10, meeting.sheduled: 30}}")),
                     LH_CONFIG);
    ck_assert_str_eq(instance.last_error,
                     "init failed (config): weights.meeting.sheduled: unknown event type "
                     "\"meeting.sheduled\" (did you mean meeting.scheduled?); use a type of "
                     "docs/events.md, custom.<name>, or a glob such as meeting.*");
}
END_TEST

START_TEST(test_engagement_init_refuses_weights_that_are_not_numbers)
{
    static const struct {
        const char *settings;
        const char *reason;
    } cases[] = {
        {"{weights: {email.replied: ten}}",
         "weights.email.replied: write a number of points, -1000000 to 1000000"},
        {"{weights: {}}", "weights: write a mapping of event types to points"},
        {"{weights: [email.replied]}", "weights: write a mapping of event types to points"},
        {"{weights: {bogus.*: 1}}", "weights.bogus.*: unknown event type \"bogus.*\"; use"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(start_with(yaml(cases[i].settings)), LH_CONFIG);
        ck_assert_msg(strstr(instance.last_error, cases[i].reason) != NULL,
                      "case %zu: \"%s\" lacks \"%s\"", i, instance.last_error, cases[i].reason);
        stop();
    }
}
END_TEST

START_TEST(test_engagement_host_refuses_a_half_life_without_a_unit_or_a_zero_scale)
{
    /* these the host's validator catches, so `leadhubd check-config` reports them */
    char *reason = validator_refusal("{half_life: 14}");
    ck_assert_msg(strstr(reason, "half_life") != NULL, "%s", reason);
    free(reason);
    reason = validator_refusal("{scale: 0}");
    ck_assert_msg(strstr(reason, "scale") != NULL, "%s", reason);
    free(reason);
    reason = validator_refusal("{halflife: 14d}");
    ck_assert_msg(strstr(reason, "halflife") != NULL, "%s", reason);
    free(reason);
}
END_TEST

/* --- reentrancy --------------------------------------------------------------------------------
 */

struct thread_job {
    const json_t *snapshot;
    const char *expected;
    int mismatches;
};

static void *score_repeatedly(void *arg)
{
    struct thread_job *job = arg;
    for (int i = 0; i < 200; i++) {
        struct lh_ctx ctx;
        ctx_init(&ctx, &instance, NULL);
        json_t *result = NULL;
        if (instance_score(&instance, &ctx, job->snapshot, &result) != LH_OK) {
            job->mismatches++;
        } else {
            char *text = json_dumps(result, JSON_COMPACT);
            job->mismatches += strcmp(text, job->expected) != 0;
            free(text);
        }
        json_decref(result);
        ctx_clear(&ctx);
    }
    return NULL;
}

START_TEST(test_engagement_scores_the_same_from_several_threads_at_once)
{
    start("{weights: {email.*: 3, meeting.scheduled: 30}}");
    json_t *value = snapshot("[{'id': 3, 'type': 'meeting.scheduled', 'source': 'calendar',"
                             "  'occurred_at': '2026-11-20T10:00:00.000Z'},"
                             " {'id': 2, 'type': 'email.sent', 'source': 'gmail',"
                             "  'occurred_at': '2026-11-19T10:00:00.000Z'},"
                             " {'id': 1, 'type': 'email.received', 'source': 'gmail',"
                             "  'occurred_at': '2026-11-01T10:00:00.000Z'}]");
    json_t *reference = score(value);
    char *expected = json_dumps(reference, JSON_COMPACT);
    pthread_t threads[4];
    struct thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct thread_job){value, expected, 0};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, score_repeatedly, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_int_eq(jobs[i].mismatches, 0);
    }
    free(expected);
    json_decref(reference);
    json_decref(value);
}
END_TEST

/* --- the worked example of docs/scoring.md -------------------------------------------------------
 */

/* The text of the next ``` block of `language` after `from`, or NULL; *end_out after it. */
static char *fenced_block(const char *from, const char *language, const char **end_out)
{
    char *opening = util_printf("```%s\n", language);
    const char *begin = strstr(from, opening);
    size_t skip = strlen(opening);
    free(opening);
    if (begin == NULL) {
        return NULL;
    }
    begin += skip;
    const char *end = strstr(begin, "```");
    if (end == NULL) {
        return NULL;
    }
    *end_out = end + 3;
    return strndup(begin, (size_t)(end - begin));
}

/*
 * Starts the example marked <!-- example: NAME --> in docs/scoring.md: its ```yaml block
 * (a `scoring:` list; the entry whose plugin is PLUGIN gives the settings), then returns
 * its first ```json block (the snapshot) with the second (the result) in *expected_out.
 */
static json_t *doc_example(const char *name, const char *plugin_name, json_t **expected_out)
{
    char *path = util_printf("%s/docs/scoring.md", tu_source_dir());
    char *page = util_read_file(path, 1 << 20, NULL);
    ck_assert_msg(page != NULL, "cannot read %s", path);
    free(path);
    char *marker = util_printf("<!-- example: %s -->", name);
    const char *at = strstr(page, marker);
    ck_assert_msg(at != NULL, "docs/scoring.md has no %s", marker);
    free(marker);
    char *config_text = fenced_block(at, "yaml", &at);
    char *snapshot_text = config_text ? fenced_block(at, "json", &at) : NULL;
    char *result_text = snapshot_text ? fenced_block(at, "json", &at) : NULL;
    ck_assert_msg(result_text != NULL, "example %s lacks a yaml block and two json blocks", name);
    json_t *config = yaml(config_text);
    json_t *settings = NULL;
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(config, "scoring"), i, entry)
    {
        if (strcmp(json_string_value(json_object_get(entry, "plugin")), plugin_name) == 0) {
            settings = json_incref(json_object_get(entry, "settings"));
        }
    }
    ck_assert_msg(settings != NULL, "example %s configures no %s scorer", name, plugin_name);
    ck_assert_int_eq(start_with(settings), LH_OK);
    json_error_t error;
    json_t *value = json_loads(snapshot_text, JSON_REJECT_DUPLICATES, &error);
    ck_assert_msg(value != NULL, "example %s snapshot: %s", name, error.text);
    *expected_out = json_loads(result_text, JSON_REJECT_DUPLICATES, &error);
    ck_assert_msg(*expected_out != NULL, "example %s result: %s", name, error.text);
    json_decref(config);
    free(config_text);
    free(snapshot_text);
    free(result_text);
    free(page);
    return value;
}

START_TEST(test_engagement_worked_example_of_docs_scoring_md)
{
    json_t *expected = NULL;
    json_t *value = doc_example("engagement", "engagement", &expected);
    json_t *result = score(value);
    assert_result_equals(result, expected);
    /* the numbers the page works out by hand */
    ck_assert_double_eq_tol(json_number_value(json_object_get(result, "score")), 39.3,
                            SCORE_TOLERANCE);
    ck_assert_uint_eq(json_array_size(json_object_get(result, "contributions")), 4);
    json_decref(result);
    json_decref(expected);
    json_decref(value);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engagement_plugin");
    TCase *tc = tcase_create("engagement");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_engagement_descriptor_is_a_reentrant_scorer);
    tcase_add_test(tc, test_engagement_a_new_event_is_worth_its_weight);
    tcase_add_test(tc, test_engagement_an_event_is_worth_half_after_one_half_life);
    tcase_add_test(tc, test_engagement_default_weights_are_those_of_the_scoring_issue);
    tcase_add_test(tc, test_engagement_a_negative_sum_scores_zero);
    tcase_add_test(tc, test_engagement_events_without_a_weight_count_nothing);
    tcase_add_test(tc, test_engagement_a_types_own_weight_wins_over_a_glob);
    tcase_add_test(tc, test_engagement_max_age_leaves_out_older_events);
    tcase_add_test(tc, test_engagement_an_event_after_now_is_worth_its_full_weight);
    tcase_add_test(tc, test_engagement_the_score_never_passes_100);
    tcase_add_test(tc, test_engagement_decay_and_curve_agree_with_libm);
    tcase_add_test(tc, test_engagement_skips_malformed_events_with_a_note);
    tcase_add_test(tc, test_engagement_refuses_a_snapshot_without_a_clock);
    tcase_add_test(tc, test_engagement_scores_a_lead_without_events);
    tcase_add_test(tc, test_engagement_init_refuses_an_unknown_event_type_with_a_suggestion);
    tcase_add_test(tc, test_engagement_init_refuses_weights_that_are_not_numbers);
    tcase_add_test(tc, test_engagement_host_refuses_a_half_life_without_a_unit_or_a_zero_scale);
    tcase_add_test(tc, test_engagement_scores_the_same_from_several_threads_at_once);
    tcase_add_test(tc, test_engagement_worked_example_of_docs_scoring_md);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
