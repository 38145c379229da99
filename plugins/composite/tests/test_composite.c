/*
 * test_composite.c - the `composite` scorer as built (build/plugins/composite.so), loaded by
 * the real loader, its settings checked by the real validator, and called through the real
 * instance wrappers: the weighted mean and its explanation, parts that have not run, init
 * refusals, and the worked example of docs/scoring.md, read from the page itself.
 *
 * Scores are compared with SCORE_TOLERANCE: the scorer publishes numbers rounded to 2
 * decimals, so an expected value is a decimal literal and the only difference allowed is
 * that of a decimal in binary; any real error is at least 0.01.
 */
#include <check.h>
#include <math.h>
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

static struct plugin_registry registry;
static const struct plugin *plugin;
static struct host_services services;
static struct instance instance;
static struct config_instance config_instance;
static bool started;

static void setup(void)
{
    char *path = util_printf("%s/plugins/composite.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    plugin = loader_find(&registry, "composite");
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

static json_t *yaml(const char *text)
{
    json_t *tree = NULL;
    struct diag_list diags = {0};
    int status = config_yaml_parse(text, strlen(text), "test", &tree, NULL, &diags);
    ck_assert_msg(status == 0, "YAML: %s", diags.count ? diags.items[0].message : "?");
    diag_list_free(&diags);
    return tree;
}

/* Validates `settings` (STOLEN) as the host does, then runs init() as "lead_score". */
static lh_status_t start_with(json_t *settings_tree)
{
    config_instance = (struct config_instance){
        .name = "lead_score", .plugin = "composite", .enabled = true, .file = "leadhub.yaml"};
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

/* JSON written with ' for ". NEW reference. */
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

/* A snapshot in the documented format whose `scores` are given (quoted JSON). NEW. */
static json_t *snapshot(const char *scores)
{
    json_t *value = json_pack("{s:s, s:{s:i}, s:[], s:[], s:[], s:o}", "now",
                              "2026-11-27T10:00:00.000Z", "lead", "id", 7, "identities", "events",
                              "meetings", "scores", quoted_json(scores));
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

static json_t *score_parts(const char *scores)
{
    json_t *value = snapshot(scores);
    json_t *result = score(value);
    json_decref(value);
    return result;
}

/* The reason score() refused the snapshot with LH_PERMANENT (malloc'd). */
static char *score_refusal(const json_t *lead_snapshot)
{
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, NULL);
    json_t *result = NULL;
    ck_assert_int_eq(instance_score(&instance, &ctx, lead_snapshot, &result), LH_PERMANENT);
    ck_assert_ptr_null(result);
    ck_assert_ptr_nonnull(ctx.error);
    char *reason = strdup(ctx.error);
    ctx_clear(&ctx);
    return reason;
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
    }
    free(text);
}

static void assert_result(json_t *result, double expected_score, const char *contributions)
{
    json_t *expected = json_pack("{s:f, s:o}", "score", expected_score, "contributions",
                                 quoted_json(contributions));
    assert_result_equals(result, expected);
    json_decref(expected);
    json_decref(result);
}

START_TEST(test_composite_descriptor_is_a_reentrant_scorer)
{
    ck_assert_uint_eq(plugin->desc->kind, LH_KIND_SCORER);
    ck_assert_uint_eq(plugin->desc->flags, LH_PLUGIN_REENTRANT);
}
END_TEST

START_TEST(test_composite_is_the_weighted_mean_of_its_parts)
{
    start("{parts: [{scorer: fit, weight: 3}, {scorer: activity, weight: 1}]}");
    /* (3 * 80 + 1 * 20) / 4 = 65 */
    assert_result(score_parts("{'fit': {'score': 80}, 'activity': {'score': 20}}"), 65,
                  "[{'rule': 'fit', 'points': 60, 'why': 'fit scored 80, weighted 3 of 4'},"
                  " {'rule': 'activity', 'points': 5, 'why': 'activity scored 20, weighted 1 of "
                  "4'}]");
}
END_TEST

START_TEST(test_composite_weights_are_relative)
{
    start("{parts: [{scorer: fit, weight: 0.6}, {scorer: activity, weight: 0.4}]}");
    json_t *a = score_parts("{'fit': {'score': 64}, 'activity': {'score': 31.5}}");
    stop();
    start("{parts: [{scorer: fit, weight: 3}, {scorer: activity, weight: 2}]}");
    json_t *b = score_parts("{'fit': {'score': 64}, 'activity': {'score': 31.5}}");
    /* 0.6 * 64 + 0.4 * 31.5 = 38.4 + 12.6 = 51 */
    ck_assert_double_eq_tol(json_number_value(json_object_get(a, "score")), 51, SCORE_TOLERANCE);
    ck_assert_double_eq_tol(json_number_value(json_object_get(b, "score")), 51, SCORE_TOLERANCE);
    json_decref(a);
    json_decref(b);
}
END_TEST

START_TEST(test_composite_explanation_names_each_parts_band)
{
    start("{parts: [{scorer: fit, weight: 1}, {scorer: activity, weight: 2}]}");
    /* (70 + 2 * 10) / 3 = 30; points 23.333 and 6.667 round to 23.33 and 6.67 */
    assert_result(score_parts("{'fit': {'score': 70, 'band': 'hot'},"
                              " 'activity': {'score': 10, 'band': 'cold'},"
                              " 'other': {'score': 99}}"),
                  30,
                  "[{'rule': 'fit', 'points': 23.33, 'why': 'fit scored 70 (hot), weighted 1 of "
                  "3'},"
                  " {'rule': 'activity', 'points': 6.67, 'why': 'activity scored 10 (cold), "
                  "weighted 2 of 3'}]");
}
END_TEST

START_TEST(test_composite_refuses_a_part_that_has_not_run)
{
    start("{parts: [{scorer: fit, weight: 0.6}, {scorer: activity, weight: 0.4}]}");
    json_t *value = snapshot("{'fit': {'score': 80}}");
    char *reason = score_refusal(value);
    ck_assert_str_eq(reason, "scorer \"activity\" has not run before composite: list it earlier "
                             "in scoring (or it failed for this lead)");
    free(reason);
    json_decref(value);
    value = quoted_json("{'now': '2026-11-27T10:00:00.000Z', 'lead': {'id': 7}}");
    reason = score_refusal(value);
    ck_assert_str_eq(reason, "scorer \"fit\" has not run before composite: list it earlier "
                             "in scoring (or it failed for this lead)");
    free(reason);
    json_decref(value);
}
END_TEST

START_TEST(test_composite_refuses_part_scores_it_cannot_read)
{
    start("{parts: [{scorer: fit, weight: 1}]}");
    static const struct {
        const char *snapshot;
        const char *reason;
    } cases[] = {
        {"[]", "snapshot: not an object"},
        {"{'scores': []}", "snapshot.scores: not an object"},
        {"{'scores': {'fit': 64}}", "snapshot.scores.fit.score: not a number from 0 to 100"},
        {"{'scores': {'fit': {'score': '64'}}}",
         "snapshot.scores.fit.score: not a number from 0 to 100"},
        {"{'scores': {'fit': {'score': 100.5}}}",
         "snapshot.scores.fit.score: not a number from 0 to 100"},
        {"{'scores': {'fit': {'score': -1}}}",
         "snapshot.scores.fit.score: not a number from 0 to 100"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = quoted_json(cases[i].snapshot);
        char *reason = score_refusal(value);
        ck_assert_str_eq(reason, cases[i].reason);
        free(reason);
        json_decref(value);
    }
}
END_TEST

START_TEST(test_composite_init_refuses_malformed_parts_naming_the_setting_path)
{
    static const struct {
        const char *settings;
        const char *reason;
    } cases[] = {
        {"{parts: []}", "parts: write a non-empty list of {scorer, weight}"},
        {"{parts: {fit: 1}}", "parts: write a non-empty list of {scorer, weight}"},
        {"{parts: [fit]}", "parts[0]: write {scorer: NAME, weight: NUMBER}"},
        {"{parts: [{scorer: fit, weight: 1, wieght: 2}]}",
         "parts[0].wieght: unknown key; a part has scorer and weight"},
        {"{parts: [{weight: 1}]}", "parts[0].scorer: missing; write the name of a scorer"},
        {"{parts: [{scorer: Fit!, weight: 1}]}", "parts[0].scorer: not a scorer's name"},
        {"{parts: [{scorer: fit, weight: 1}, {scorer: fit, weight: 2}]}",
         "parts[1].scorer: \"fit\" is also parts[0]"},
        {"{parts: [{scorer: fit, weight: 0}]}",
         "parts[0].weight: not a number above 0, up to 1000000; write a positive number"},
        {"{parts: [{scorer: fit, weight: -0.5}]}", "parts[0].weight: not a number above 0"},
        {"{parts: [{scorer: fit}]}", "parts[0].weight: missing"},
        {"{parts: [{scorer: lead_score, weight: 1}]}",
         "parts[0].scorer: \"lead_score\" is this composite itself"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(start_with(yaml(cases[i].settings)), LH_CONFIG);
        ck_assert_msg(strstr(instance.last_error, cases[i].reason) != NULL,
                      "case %zu: \"%s\" lacks \"%s\"", i, instance.last_error, cases[i].reason);
        stop();
    }
}
END_TEST

START_TEST(test_composite_host_requires_parts)
{
    /* a missing `parts` is the host's to catch, so `leadhubd check-config` reports it */
    config_instance = (struct config_instance){
        .name = "lead_score", .plugin = "composite", .file = "leadhub.yaml"};
    config_instance.settings = yaml("{part: []}");
    struct diag_list diags = {0};
    ck_assert_ptr_null(
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags));
    ck_assert_uint_ge(diag_error_count(&diags), 2); /* part unknown, parts missing */
    diag_list_free(&diags);
    json_decref(config_instance.settings);
}
END_TEST

/* --- the worked example of docs/scoring.md -------------------------------------------------------
 */

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
 * (a `scoring:` list; the entry whose plugin is PLUGIN, under its own name, gives the
 * settings), then returns its first ```json block (the snapshot) with the second (the
 * result) in *expected_out.
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

START_TEST(test_composite_worked_example_of_docs_scoring_md)
{
    json_t *expected = NULL;
    json_t *value = doc_example("composite", "composite", &expected);
    json_t *result = score(value);
    assert_result_equals(result, expected);
    /* the page combines the scores of its rules and engagement examples: 95 and 39.3 */
    const json_t *scores = json_object_get(value, "scores");
    ck_assert_double_eq_tol(
        json_number_value(json_object_get(json_object_get(scores, "fit"), "score")), 95,
        SCORE_TOLERANCE);
    ck_assert_double_eq_tol(
        json_number_value(json_object_get(json_object_get(scores, "activity"), "score")), 39.3,
        SCORE_TOLERANCE);
    ck_assert_double_eq_tol(json_number_value(json_object_get(result, "score")), 72.72,
                            SCORE_TOLERANCE);
    json_decref(result);
    json_decref(expected);
    json_decref(value);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("composite_plugin");
    TCase *tc = tcase_create("composite");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_composite_descriptor_is_a_reentrant_scorer);
    tcase_add_test(tc, test_composite_is_the_weighted_mean_of_its_parts);
    tcase_add_test(tc, test_composite_weights_are_relative);
    tcase_add_test(tc, test_composite_explanation_names_each_parts_band);
    tcase_add_test(tc, test_composite_refuses_a_part_that_has_not_run);
    tcase_add_test(tc, test_composite_refuses_part_scores_it_cannot_read);
    tcase_add_test(tc, test_composite_init_refuses_malformed_parts_naming_the_setting_path);
    tcase_add_test(tc, test_composite_host_requires_parts);
    tcase_add_test(tc, test_composite_worked_example_of_docs_scoring_md);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
