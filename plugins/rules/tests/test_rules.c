/*
 * test_rules.c - the `rules` scorer as built (build/plugins/rules.so), loaded by the real
 * loader, its settings checked by the real validator, and called through the real
 * instance wrappers: each kind of condition, groups and caps, the explanation, snapshots
 * it cannot read, init refusals naming the setting path, and the worked example of
 * docs/scoring.md, read from the page itself.
 *
 * Scores are compared with SCORE_TOLERANCE: the scorer publishes numbers rounded to 2
 * decimals, so an expected value is a decimal literal and the only difference allowed is
 * that of a decimal in binary (below 1e-12 for numbers under 10^4); any real error is at
 * least 0.01.
 */
#include <check.h>
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

static struct plugin_registry registry;
static const struct plugin *plugin;
static struct host_services services;
static struct instance instance;
static struct config_instance config_instance;
static bool started;

static void setup(void)
{
    char *path = util_printf("%s/plugins/rules.so", tu_build_dir());
    ck_assert_int_eq(loader_load_file(&registry, path), 0);
    free(path);
    plugin = loader_find(&registry, "rules");
    ck_assert_ptr_nonnull(plugin);
    memset(&services, 0, sizeof(services));
    services.metrics = metrics_create();
    pthread_mutex_init(&services.store_mutex, NULL);
}

static void teardown(void)
{
    if (started) {
        instance_teardown(&instance);
        json_decref(config_instance.settings);
        started = false;
    }
    pthread_mutex_destroy(&services.store_mutex);
    metrics_free(services.metrics);
    loader_free(&registry);
}

/* Validates `settings` (STOLEN) as the host does, then runs init(). */
static lh_status_t start_with(json_t *settings_tree)
{
    config_instance = (struct config_instance){
        .name = "fit", .plugin = "rules", .enabled = true, .file = "leadhub.yaml"};
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

static void start(const char *settings_yaml)
{
    lh_status_t status = start_with(yaml(settings_yaml));
    ck_assert_msg(status == LH_OK, "init: %s", instance.last_error);
}

/* The reason init() refused settings_yaml with LH_CONFIG. */
static const char *refusal(const char *settings_yaml)
{
    ck_assert_int_eq(start_with(yaml(settings_yaml)), LH_CONFIG);
    ck_assert_ptr_nonnull(instance.last_error);
    return instance.last_error;
}

/* JSON written with ' for " and ` for \" (an escaped quote inside a string). NEW. */
static json_t *quoted_json(const char *text)
{
    struct strbuf sb = {0};
    for (const char *p = text; *p != '\0'; p++) {
        if (*p == '\'') {
            strbuf_append(&sb, "\"");
        } else if (*p == '`') {
            strbuf_append(&sb, "\\\"");
        } else {
            strbuf_append_len(&sb, p, 1);
        }
    }
    json_error_t error;
    json_t *value = json_loads(strbuf_value(&sb), 0, &error);
    ck_assert_msg(value != NULL, "bad test JSON: %s in %s", error.text, strbuf_value(&sb));
    strbuf_free(&sb);
    return value;
}

/* A snapshot in the documented format, with `lead` and `events` in quoted JSON. NEW. */
static json_t *snapshot(const char *lead, const char *events)
{
    json_t *value =
        json_pack("{s:s, s:o, s:[], s:o, s:[], s:{}}", "now", NOW, "lead", quoted_json(lead),
                  "identities", "events", quoted_json(events), "meetings", "scores");
    ck_assert_ptr_nonnull(value);
    return value;
}

/* score() on a snapshot (BORROWED) that must succeed. NEW reference. */
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

static json_t *score_lead(const char *lead, const char *events)
{
    json_t *value = snapshot(lead, events);
    json_t *result = score(value);
    json_decref(value);
    return result;
}

/* Compares a result with the expected one, numbers within SCORE_TOLERANCE. */
static void assert_result_equals(const json_t *result, const json_t *expected)
{
    char *text = json_dumps(result, JSON_SORT_KEYS);
    double got = json_number_value(json_object_get(result, "score"));
    double want = json_number_value(json_object_get(expected, "score"));
    ck_assert_msg(got - want < SCORE_TOLERANCE && want - got < SCORE_TOLERANCE,
                  "score %.6f, expected %.6f: %s", got, want, text);
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
        ck_assert_msg(
            points - want_points < SCORE_TOLERANCE && want_points - points < SCORE_TOLERANCE,
            "contribution %zu: points %.6f, expected %.6f: %s", i, points, want_points, text);
    }
    free(text);
}

/* Checks and frees `result` against a score and contributions in quoted JSON. */
static void assert_result(json_t *result, double expected_score, const char *contributions)
{
    json_t *expected = json_pack("{s:f, s:o}", "score", expected_score, "contributions",
                                 quoted_json(contributions));
    assert_result_equals(result, expected);
    json_decref(expected);
    json_decref(result);
}

/* The score() refusal of a snapshot: asserts LH_PERMANENT, returns the reason (malloc'd). */
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

/* --- the descriptor ------------------------------------------------------------------------ */

START_TEST(test_rules_descriptor_is_a_reentrant_scorer)
{
    ck_assert_uint_eq(plugin->desc->kind, LH_KIND_SCORER);
    ck_assert_uint_eq(plugin->desc->flags, LH_PLUGIN_REENTRANT);
    ck_assert_ptr_nonnull(plugin->desc->score);
}
END_TEST

/* --- field conditions ---------------------------------------------------------------------- */

START_TEST(test_rules_equals_ignores_the_case_of_strings)
{
    start("{rules: [{name: acme, points: 10, when: {lead.company: {equals: ACME}}}]}");
    assert_result(score_lead("{'id': 1, 'company': 'Acme'}", "[]"), 10,
                  "[{'rule': 'acme', 'points': 10, 'why': 'company is `Acme`'}]");
    assert_result(score_lead("{'id': 1, 'company': 'Acme Corp'}", "[]"), 0, "[]");
}
END_TEST

START_TEST(test_rules_in_matches_any_listed_value_and_numbers_by_value)
{
    start("{rules: [{name: size, points: 5, when: {lead.attributes.employees: {in: [50, 100]}}},"
          "         {name: country, points: 7, when: {lead.attributes.country: {in: [fr, de]}}}]}");
    assert_result(
        score_lead("{'id': 1, 'attributes': {'employees': 100.0, 'country': 'DE'}}", "[]"), 12,
        "[{'rule': 'size', 'points': 5, 'why': 'attributes.employees is 100'},"
        " {'rule': 'country', 'points': 7, 'why': 'attributes.country is `DE`'}]");
    /* a number written as text is not the number */
    assert_result(score_lead("{'id': 1, 'attributes': {'employees': '100'}}", "[]"), 0, "[]");
}
END_TEST

START_TEST(test_rules_contains_and_regex_ignore_case)
{
    start("{rules: [{name: sales, points: 3, when: {lead.title: {contains: SALES}}},"
          "         {name: ops, points: 4, when: {lead.title: {regex: '^(rev|sales) ?ops'}}}]}");
    assert_result(score_lead("{'id': 1, 'title': 'Sales Ops Lead'}", "[]"), 7,
                  "[{'rule': 'sales', 'points': 3, 'why': 'title `Sales Ops Lead` contains "
                  "`SALES`'},"
                  " {'rule': 'ops', 'points': 4, 'why': 'title `Sales Ops Lead` matches "
                  "/^(rev|sales) ?ops/'}]");
    assert_result(score_lead("{'id': 1, 'title': 'Head of RevOps'}", "[]"), 0, "[]");
}
END_TEST

START_TEST(test_rules_exists_false_holds_for_an_absent_null_or_empty_value)
{
    start("{rules: [{name: no_phone, points: -5, when: {lead.phone: {exists: false}}},"
          "         {name: has_size, points: 2, when: {lead.attributes.size: {exists: true}}}]}");
    assert_result(score_lead("{'id': 1, 'attributes': {'size': null}}", "[]"), 0,
                  "[{'rule': 'no_phone', 'points': -5, 'why': 'phone is absent'},"
                  " {'rule': 'floor:total', 'points': 5, 'why': 'a score is never below 0 (the "
                  "total was -5)'}]");
    assert_result(score_lead("{'id': 1, 'phone': '+33 1 23', 'attributes': {'size': []}}", "[]"), 0,
                  "[]");
    assert_result(score_lead("{'id': 1, 'phone': '+33 1 23', 'attributes': {'size': 'L'}}", "[]"),
                  2, "[{'rule': 'has_size', 'points': 2, 'why': 'attributes.size is present'}]");
}
END_TEST

START_TEST(test_rules_list_attribute_matches_when_one_element_does)
{
    start(
        "{rules: [{name: uses_crm, points: 8, when: {lead.attributes.tools: {contains: spot}}}]}");
    assert_result(score_lead("{'id': 1, 'attributes': {'tools': ['Slack', 'HubSpot', 42]}}", "[]"),
                  8,
                  "[{'rule': 'uses_crm', 'points': 8, 'why': 'attributes.tools `HubSpot` "
                  "contains `spot`'}]");
}
END_TEST

START_TEST(test_rules_nested_attribute_paths_are_followed)
{
    start("{rules: [{name: eu, points: 4, when: {lead.attributes.address.region: {equals: EU}}}]}");
    assert_result(score_lead("{'id': 1, 'attributes': {'address': {'region': 'eu'}}}", "[]"), 4,
                  "[{'rule': 'eu', 'points': 4, 'why': 'attributes.address.region is `eu`'}]");
    assert_result(score_lead("{'id': 1, 'attributes': {'address': 'Paris'}}", "[]"), 0, "[]");
}
END_TEST

START_TEST(test_rules_identity_condition_reads_that_sources_external_id)
{
    start("{rules: [{name: in_crm, points: 6, when: {identities.crm: {exists: true}}}]}");
    json_t *value = quoted_json("{'now': '" NOW "', 'lead': {'id': 7},"
                                " 'identities': [{'source': 'stripe', 'external_id': 'cus_1'},"
                                "                {'source': 'crm', 'external_id': '501'}],"
                                " 'events': [], 'meetings': [], 'scores': {}}");
    assert_result(score(value), 6,
                  "[{'rule': 'in_crm', 'points': 6, 'why': 'identities.crm is present'}]");
    json_object_set_new(value, "identities",
                        json_pack("[{s:s, s:s}]", "source", "stripe", "external_id", "cus_1"));
    assert_result(score(value), 0, "[]");
    json_decref(value);
}
END_TEST

START_TEST(test_rules_all_conditions_of_a_rule_must_hold)
{
    start("{rules: [{name: senior_sales, points: 9,"
          "          when: {lead.title: {contains: sales, min_seniority: director},"
          "                 lead.company: {exists: true}}}]}");
    assert_result(score_lead("{'id': 1, 'title': 'Sales Director', 'company': 'Acme'}", "[]"), 9,
                  "[{'rule': 'senior_sales', 'points': 9, 'why': 'title `Sales Director` "
                  "contains `sales`; title `Sales Director` is director, at least director; "
                  "company is present'}]");
    assert_result(score_lead("{'id': 1, 'title': 'Sales Director'}", "[]"), 0, "[]");
    assert_result(score_lead("{'id': 1, 'title': 'Sales Manager', 'company': 'Acme'}", "[]"), 0,
                  "[]");
}
END_TEST

/* --- free mail and seniority ------------------------------------------------------------------ */

START_TEST(test_rules_free_mail_uses_the_builtin_list_with_its_globs)
{
    start("{rules: [{name: free, points: -10, when: {lead.email: {free_mail: true}}},"
          "         {name: work, points: 10, when: {lead.email: {free_mail: false}}}]}");
    assert_result(score_lead("{'id': 1, 'email': 'ada@gmx.co.uk'}", "[]"), 0,
                  "[{'rule': 'free', 'points': -10, 'why': 'email domain gmx.co.uk is a "
                  "free-mail provider'},"
                  " {'rule': 'floor:total', 'points': 10, 'why': 'a score is never below 0 (the "
                  "total was -10)'}]");
    assert_result(score_lead("{'id': 1, 'email': 'ada@Analytical.example'}", "[]"), 10,
                  "[{'rule': 'work', 'points': 10, 'why': 'email domain Analytical.example is "
                  "not a free-mail provider'}]");
    /* no email: neither */
    assert_result(score_lead("{'id': 1}", "[]"), 0, "[]");
}
END_TEST

START_TEST(test_rules_free_mail_domains_extend_or_replace_the_builtin_list)
{
    start("{free_mail_domains: ['*.mail.example'],"
          " rules: [{name: free, points: 1, when: {lead.email: {free_mail: true}}}]}");
    assert_result(score_lead("{'id': 1, 'email': 'a@eu.mail.example'}", "[]"), 1,
                  "[{'rule': 'free', 'points': 1, 'why': 'email domain eu.mail.example is a "
                  "free-mail provider'}]");
    assert_result(score_lead("{'id': 1, 'email': 'a@gmail.com'}", "[]"), 1,
                  "[{'rule': 'free', 'points': 1, 'why': 'email domain gmail.com is a "
                  "free-mail provider'}]");
    instance_teardown(&instance);
    json_decref(config_instance.settings);
    started = false;
    start("{free_mail_builtin: false, free_mail_domains: [corp-mail.example],"
          " rules: [{name: free, points: 1, when: {lead.email: {free_mail: true}}}]}");
    assert_result(score_lead("{'id': 1, 'email': 'a@gmail.com'}", "[]"), 0, "[]");
    assert_result(score_lead("{'id': 1, 'email': 'a@corp-mail.example'}", "[]"), 1,
                  "[{'rule': 'free', 'points': 1, 'why': 'email domain corp-mail.example is a "
                  "free-mail provider'}]");
}
END_TEST

START_TEST(test_rules_seniority_of_titles)
{
    /* min_seniority: other holds for any title, and its explanation names the level */
    start("{rules: [{name: level, points: 1, when: {lead.title: {min_seniority: other}}}]}");
    static const struct {
        const char *title;
        const char *level;
    } cases[] = {
        {"CEO", "c_level"},
        {"Chief Revenue Officer", "c_level"},
        {"President", "c_level"},
        {"Managing Director", "c_level"},
        {"CEO & Co-Founder", "c_level"},
        {"Co-Founder", "founder"},
        {"Owner", "founder"},
        {"Vice President, Sales", "vp"},
        {"SVP Engineering", "vp"},
        {"Head of Growth", "head"},
        {"Director of Marketing", "director"},
        {"Engineering Manager", "manager"},
        {"Executive Assistant to the CEO", "other"},
        {"Software Engineer", "other"},
        {"Directeur Général", "other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *value = snapshot("{'id': 1}", "[]");
        json_object_set_new(json_object_get(value, "lead"), "title", json_string(cases[i].title));
        json_t *result = score(value);
        const char *why = json_string_value(
            json_object_get(json_array_get(json_object_get(result, "contributions"), 0), "why"));
        char *expected =
            util_printf("title \"%s\" is %s, at least other", cases[i].title, cases[i].level);
        ck_assert_msg(why != NULL && strcmp(why, expected) == 0, "%s: got %s, expected %s",
                      cases[i].title, why, expected);
        free(expected);
        json_decref(result);
        json_decref(value);
    }
}
END_TEST

START_TEST(test_rules_seniority_lists_levels_and_min_seniority_ranks_them)
{
    start("{rules: [{name: exec, points: 20, when: {lead.title: {seniority: [c_level, founder]}}},"
          "         {name: senior, points: 10, when: {lead.title: {min_seniority: head}}}]}");
    assert_result(score_lead("{'id': 1, 'title': 'Founder'}", "[]"), 30,
                  "[{'rule': 'exec', 'points': 20, 'why': 'title `Founder` is founder'},"
                  " {'rule': 'senior', 'points': 10, 'why': 'title `Founder` is founder, at "
                  "least head'}]");
    assert_result(score_lead("{'id': 1, 'title': 'Director, Sales'}", "[]"), 0, "[]");
}
END_TEST

/* --- event counts ----------------------------------------------------------------------------- */

START_TEST(test_rules_event_counts_respect_the_window)
{
    start("{rules: [{name: replied, points: 20,"
          "          when: {events.email.replied: {at_least: 2, within: 30d}}}]}");
    /* exactly 30 days old is inside the window; one millisecond more is not */
    const char *inside = "[{'id': 3, 'type': 'email.replied', 'source': 'gmail',"
                         "  'occurred_at': '2026-11-20T09:00:00.000Z', 'data': {}},"
                         " {'id': 2, 'type': 'email.replied', 'source': 'gmail',"
                         "  'occurred_at': '2026-10-28T10:00:00.000Z', 'data': {}}]";
    assert_result(score_lead("{'id': 1}", inside), 20,
                  "[{'rule': 'replied', 'points': 20, 'why': '2 email.replied events in the "
                  "last 30d (at least 2)'}]");
    const char *outside = "[{'id': 3, 'type': 'email.replied', 'source': 'gmail',"
                          "  'occurred_at': '2026-11-20T09:00:00.000Z', 'data': {}},"
                          " {'id': 2, 'type': 'email.replied', 'source': 'gmail',"
                          "  'occurred_at': '2026-10-28T09:59:59.999Z', 'data': {}}]";
    assert_result(score_lead("{'id': 1}", outside), 0, "[]");
}
END_TEST

START_TEST(test_rules_at_most_and_a_glob_count_every_matching_type)
{
    start(
        "{rules: [{name: quiet, points: 5, when: {events.meeting.*: {at_most: 1}}},"
        "         {name: busy, points: 9, when: {events.meeting.*: {at_least: 2, at_most: 3}}}]}");
    const char *events = "[{'id': 2, 'type': 'meeting.canceled', 'source': 'cal',"
                         "  'occurred_at': '2026-11-20T09:00:00.000Z'},"
                         " {'id': 1, 'type': 'meeting.scheduled', 'source': 'cal',"
                         "  'occurred_at': '2026-11-10T09:00:00.000Z'},"
                         " {'id': 0, 'type': 'email.sent', 'source': 'gmail',"
                         "  'occurred_at': '2026-11-10T09:00:00.000Z'}]";
    assert_result(score_lead("{'id': 1}", events), 9,
                  "[{'rule': 'busy', 'points': 9, 'why': '2 meeting.* events in the scoring "
                  "window (2 to 3)'}]");
    assert_result(score_lead("{'id': 1}", "[]"), 5,
                  "[{'rule': 'quiet', 'points': 5, 'why': '0 meeting.* events in the scoring "
                  "window (at most 1)'}]");
}
END_TEST

START_TEST(test_rules_an_event_after_now_counts_as_now)
{
    start("{rules: [{name: paid, points: 50, when: {events.payment.succeeded: {within: 1d}}}]}");
    assert_result(score_lead("{'id': 1}", "[{'id': 9, 'type': 'payment.succeeded', 'source': "
                                          "'stripe', 'occurred_at': '2026-11-27T10:05:00.000Z'}]"),
                  50,
                  "[{'rule': 'paid', 'points': 50, 'why': '1 payment.succeeded event in the last "
                  "1d (at least 1)'}]");
}
END_TEST

START_TEST(test_rules_events_without_type_or_time_are_skipped_with_a_note)
{
    start("{rules: [{name: replied, points: 20, when: {events.email.replied: {at_least: 1}}}]}");
    const char *events = "[{'id': 4, 'type': 'email.replied', 'occurred_at': 'yesterday'},"
                         " {'id': 3, 'occurred_at': '2026-11-26T10:00:00.000Z'},"
                         " {'id': 2, 'type': 'email.replied', 'source': 'gmail',"
                         "  'occurred_at': '2026-11-26T10:00:00.000Z'},"
                         " 'not an event']";
    assert_result(score_lead("{'id': 1}", events), 20,
                  "[{'rule': 'replied', 'points': 20, 'why': '1 email.replied event in the "
                  "scoring window (at least 1)'},"
                  " {'rule': 'note:skipped_events', 'points': 0, 'why': '3 events without a type "
                  "or a valid occurred_at not counted'}]");
}
END_TEST

/* --- groups and caps -------------------------------------------------------------------------- */

START_TEST(test_rules_group_caps_and_floors_are_contributions)
{
    start("{groups: {fit: {max: 30}, behaviour: {min: -10}},"
          " rules: [{name: a, group: fit, points: 20, when: {lead.company: {exists: true}}},"
          "         {name: b, group: fit, points: 25, when: {lead.title: {exists: true}}},"
          "         {name: c, group: behaviour, points: -25, when: {lead.phone: {exists: false}}},"
          "         {name: d, points: 5, when: {lead.email: {exists: true}}}]}");
    assert_result(
        score_lead("{'id': 1, 'company': 'Acme', 'title': 'CTO', 'email': 'a@b.example'}", "[]"),
        25,
        "[{'rule': 'a', 'points': 20, 'why': 'company is present'},"
        " {'rule': 'b', 'points': 25, 'why': 'title is present'},"
        " {'rule': 'c', 'points': -25, 'why': 'phone is absent'},"
        " {'rule': 'd', 'points': 5, 'why': 'email is present'},"
        " {'rule': 'cap:fit', 'points': -15, 'why': 'group fit is capped at 30 (its "
        "rules gave 45)'},"
        " {'rule': 'floor:behaviour', 'points': 15, 'why': 'group behaviour is floored "
        "at -10 (its rules gave -25)'}]");
}
END_TEST

START_TEST(test_rules_total_is_capped_at_max_score)
{
    start("{max_score: 80, rules: [{name: a, points: 60, when: {lead.company: {exists: true}}},"
          "                        {name: b, points: 30.5, when: {lead.title: {exists: true}}}]}");
    assert_result(score_lead("{'id': 1, 'company': 'Acme', 'title': 'CTO'}", "[]"), 80,
                  "[{'rule': 'a', 'points': 60, 'why': 'company is present'},"
                  " {'rule': 'b', 'points': 30.5, 'why': 'title is present'},"
                  " {'rule': 'cap:total', 'points': -10.5, 'why': 'the total is capped at "
                  "max_score 80 (it was 90.5)'}]");
}
END_TEST

/* --- snapshots it cannot read ------------------------------------------------------------------
 */

START_TEST(test_rules_refuses_a_snapshot_without_a_clock_or_a_lead)
{
    start("{rules: [{name: a, points: 1, when: {lead.company: {exists: true}}}]}");
    static const struct {
        const char *snapshot;
        const char *reason;
    } cases[] = {
        {"[]", "snapshot: not an object"},
        {"{'lead': {'id': 1}}", "snapshot.now: missing or not an RFC 3339 time"},
        {"{'now': '27/11/2026', 'lead': {'id': 1}}",
         "snapshot.now: missing or not an RFC 3339 time"},
        {"{'now': '" NOW "'}", "snapshot.lead: missing or not an object"},
        {"{'now': '" NOW "', 'lead': {'id': 1}, 'events': {}}", "snapshot.events: not a list"},
        {"{'now': '" NOW "', 'lead': {'id': 1}, 'identities': 'crm'}",
         "snapshot.identities: not a list"},
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

START_TEST(test_rules_fields_of_the_wrong_type_count_as_not_matching)
{
    start("{rules: [{name: a, points: 1, when: {lead.title: {contains: vp}}},"
          "         {name: b, points: 2, when: {lead.email: {free_mail: false}}},"
          "         {name: c, points: 3, when: {lead.title: {min_seniority: other}}}]}");
    assert_result(score_lead("{'id': 1, 'title': 42, 'email': ['a@b.example']}", "[]"), 0, "[]");
}
END_TEST

/* --- init refusals -------------------------------------------------------------------------------
 */

START_TEST(test_rules_init_refuses_a_bad_regex_naming_its_path_and_reason)
{
    const char *reason =
        refusal("{rules: [{name: a, points: 1, when: {lead.title: {contains: x}}},"
                "         {name: b, points: 1, when: {lead.title: {regex: '(vp|head'}}}]}");
    ck_assert_msg(strstr(reason, "init failed (config): rules[1].when.lead.title.regex: "
                                 "\"(vp|head\" is not a valid regular expression: ") != NULL,
                  "%s", reason);
}
END_TEST

START_TEST(test_rules_init_refuses_an_unknown_field_with_a_suggestion)
{
    const char *reason =
        refusal("{rules: [{name: a, points: 1, when: {lead.titel: {exists: true}}}]}");
    ck_assert_msg(strstr(reason, "rules[0].when.lead.titel: unknown field \"lead.titel\" (did you "
                                 "mean lead.title?); fields: lead.email") != NULL,
                  "%s", reason);
}
END_TEST

START_TEST(test_rules_init_refuses_a_bad_duration)
{
    const char *reason =
        refusal("{rules: [{name: a, points: 1, when: {events.email.replied: {within: 30 days}}}]}");
    ck_assert_msg(strstr(reason, "rules[0].when.events.email.replied.within: \"30 days\" is not a "
                                 "duration; write a number and a unit (ms, s, m, h, d)") != NULL,
                  "%s", reason);
    teardown();
    setup();
    reason = refusal("{rules: [{name: a, points: 1, when: {events.email.replied: {within: 30}}}]}");
    ck_assert_msg(strstr(reason, "within: a duration needs a unit") != NULL, "%s", reason);
}
END_TEST

START_TEST(test_rules_init_refuses_an_unknown_event_type_with_a_suggestion)
{
    const char *reason =
        refusal("{rules: [{name: a, points: 1, when: {events.email.replyed: {}}}]}");
    ck_assert_msg(strstr(reason, "rules[0].when.events.email.replyed: unknown event type "
                                 "\"email.replyed\" (did you mean events.email.replied?)") != NULL,
                  "%s", reason);
}
END_TEST

/* The other refusals, each with the text that must be in the reason. */
START_TEST(test_rules_init_refuses_malformed_rules_naming_the_setting_path)
{
    static const struct {
        const char *settings;
        const char *reason;
    } cases[] = {
        {"{rules: []}", "rules: write a non-empty list of rules"},
        {"{rules: [{name: a, points: 1, when: {}}]}", "rules[0].when: write a mapping"},
        {"{rules: [{name: a, pionts: 1, when: {lead.title: {exists: true}}}]}",
         "rules[0].pionts: unknown key (did you mean points?); a rule has name, group, points "
         "and when"},
        {"{rules: [{points: 1, when: {lead.title: {exists: true}}}]}", "rules[0].name: missing"},
        {"{rules: [{name: 'a:b', points: 1, when: {lead.title: {exists: true}}}]}",
         "rules[0].name: not a valid name"},
        {"{rules: [{name: a, points: 1, when: {lead.title: {exists: true}}},"
         "         {name: a, points: 2, when: {lead.title: {exists: true}}}]}",
         "rules[1].name: \"a\" is also the name of rules[0]"},
        {"{rules: [{name: a, points: ten, when: {lead.title: {exists: true}}}]}",
         "rules[0].points: not a number"},
        {"{groups: {fit: {max: 10}}, rules: [{name: a, group: fitt, points: 1,"
         " when: {lead.title: {exists: true}}}]}",
         "rules[0].group: \"fitt\" is not declared under groups (did you mean fit?); declared: "
         "fit"},
        {"{groups: {fit: {maximum: 10}}, rules: [{name: a, points: 1, when: {lead.title: {exists: "
         "true}}}]}",
         "groups.fit.maximum: unknown key; a group has max and min"},
        {"{groups: {fit: {max: 10, min: 20}}, rules: [{name: a, points: 1, when: {lead.title: "
         "{exists: true}}}]}",
         "groups.fit: min is more than max"},
        {"{groups: {total: {}}, rules: [{name: a, points: 1, when: {lead.title: {exists: true}}}]}",
         "groups.total: \"total\" is not a group name"},
        {"{rules: [{name: a, points: 1, when: {lead.title: {containz: vp}}}]}",
         "rules[0].when.lead.title.containz: unknown operator \"containz\" (did you mean "
         "contains?); operators for lead.title: exists, equals, in, contains, regex, seniority, "
         "min_seniority"},
        {"{rules: [{name: a, points: 1, when: {lead.company: {free_mail: true}}}]}",
         "rules[0].when.lead.company.free_mail: free_mail applies to lead.email only"},
        {"{rules: [{name: a, points: 1, when: {lead.title: {seniority: [vp, cxo]}}}]}",
         "rules[0].when.lead.title.seniority[1]: \"cxo\" is not a seniority level"},
        {"{rules: [{name: a, points: 1, when: {lead.title: {equals: 2024}}}]}",
         "rules[0].when.lead.title.equals: lead.title is text: compare it with a string"},
        {"{rules: [{name: a, points: 1, when: {lead.attributes.x: {in: [a, [b]]}}}]}",
         "rules[0].when.lead.attributes.x.in[1]: compare with a string, a number or true/false"},
        {"{rules: [{name: a, points: 1, when: {lead.phone: {exists: false, contains: '+33'}}}]}",
         "rules[0].when.lead.phone: exists: false holds only for an absent value"},
        {"{rules: [{name: a, points: 1, when: {events.email.sent: {at_least: 3, at_most: 1}}}]}",
         "rules[0].when.events.email.sent: at_least (3) is more than at_most (1)"},
        {"{rules: [{name: a, points: 1, when: {events.email.sent: {at_least: -1}}}]}",
         "rules[0].when.events.email.sent.at_least: write a whole number of events"},
        {"{rules: [{name: a, points: 1, when: {events.email.sent: {since: 3d}}}]}",
         "rules[0].when.events.email.sent.since: unknown operator \"since\"; operators for "
         "events.email.sent: at_least, at_most, within"},
        {"{rules: [{name: a, points: 1, when: {events.bogus.*: {}}}]}",
         "rules[0].when.events.bogus.*: unknown event type \"bogus.*\""},
        {"{rules: [{name: a, points: 1, when: {lead.attributes..x: {exists: true}}}]}",
         "rules[0].when.lead.attributes..x: \"lead.attributes..x\" is not an attribute path"},
        {"{free_mail_domains: [gmail], rules: [{name: a, points: 1, when: {lead.title: {exists: "
         "true}}}]}",
         "free_mail_domains[0]: \"gmail\" is not a domain"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *reason = refusal(cases[i].settings);
        ck_assert_msg(strstr(reason, cases[i].reason) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                      reason, cases[i].reason);
        teardown();
        setup();
    }
}
END_TEST

START_TEST(test_rules_host_refuses_unknown_settings_before_init)
{
    /* check-config catches these without running init(): the schema is the host's to check */
    config_instance = (struct config_instance){.name = "fit", .plugin = "rules", .file = "x.yaml"};
    config_instance.settings = yaml("{rule: [], max_score: 150}");
    struct diag_list diags = {0};
    ck_assert_ptr_null(
        config_settings_validate(&config_instance, plugin->desc->config_schema, &diags));
    ck_assert_uint_ge(diag_error_count(&diags), 2);
    diag_list_free(&diags);
    json_decref(config_instance.settings);
}
END_TEST

/* --- reentrancy ----------------------------------------------------------------------------------
 */

struct thread_job {
    const json_t *snapshot;
    const char *expected; /* compact dump */
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

START_TEST(test_rules_scores_the_same_from_several_threads_at_once)
{
    start("{groups: {fit: {max: 30}},"
          " rules: [{name: a, group: fit, points: 20, when: {lead.title: {regex: 'vp|chief'}}},"
          "         {name: b, group: fit, points: 20, when: {lead.email: {free_mail: false}}},"
          "         {name: c, points: 7, when: {events.email.*: {within: 7d}}}]}");
    json_t *value = snapshot("{'id': 1, 'title': 'VP Sales', 'email': 'a@b.example'}",
                             "[{'id': 1, 'type': 'email.replied', 'source': 'gmail',"
                             "  'occurred_at': '2026-11-26T10:00:00.000Z'}]");
    json_t *reference = score(value);
    char *expected = json_dumps(reference, JSON_COMPACT);
    ck_assert_double_eq_tol(json_number_value(json_object_get(reference, "score")), 37,
                            SCORE_TOLERANCE);
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

/* --- the worked example of docs/scoring.md ------------------------------------------------------
 */

/* The text of the next ``` block of `language` after `from`, or NULL; *end_out after it. */
static char *fenced_block(const char *from, const char *language, const char **end_out)
{
    char *opening = util_printf("```%s\n", language);
    const char *start = strstr(from, opening);
    size_t skip = strlen(opening);
    free(opening);
    if (start == NULL) {
        return NULL;
    }
    start += skip;
    const char *end = strstr(start, "```");
    if (end == NULL) {
        return NULL;
    }
    *end_out = end + 3;
    return strndup(start, (size_t)(end - start));
}

/*
 * Runs the example marked <!-- example: NAME --> in docs/scoring.md: its ```yaml block
 * (a `scoring:` list; the entry whose plugin is PLUGIN gives the settings), then its two
 * ```json blocks (the snapshot and the result the page says the scorer returns).
 */
static json_t *doc_example(const char *name, const char *plugin_name, json_t **expected_out)
{
    char *path = util_printf("%s/docs/scoring.md", tu_source_dir());
    size_t length = 0;
    char *page = util_read_file(path, 1 << 20, &length);
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

START_TEST(test_rules_worked_example_of_docs_scoring_md)
{
    json_t *expected = NULL;
    json_t *value = doc_example("rules", "rules", &expected);
    json_t *result = score(value);
    assert_result_equals(result, expected);
    /* the numbers the page works out by hand */
    ck_assert_double_eq_tol(json_number_value(json_object_get(result, "score")), 95,
                            SCORE_TOLERANCE);
    ck_assert_uint_eq(json_array_size(json_object_get(result, "contributions")), 6);
    json_decref(result);
    json_decref(expected);
    json_decref(value);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules_plugin");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_rules_descriptor_is_a_reentrant_scorer);
    tcase_add_test(tc, test_rules_equals_ignores_the_case_of_strings);
    tcase_add_test(tc, test_rules_in_matches_any_listed_value_and_numbers_by_value);
    tcase_add_test(tc, test_rules_contains_and_regex_ignore_case);
    tcase_add_test(tc, test_rules_exists_false_holds_for_an_absent_null_or_empty_value);
    tcase_add_test(tc, test_rules_list_attribute_matches_when_one_element_does);
    tcase_add_test(tc, test_rules_nested_attribute_paths_are_followed);
    tcase_add_test(tc, test_rules_identity_condition_reads_that_sources_external_id);
    tcase_add_test(tc, test_rules_all_conditions_of_a_rule_must_hold);
    tcase_add_test(tc, test_rules_free_mail_uses_the_builtin_list_with_its_globs);
    tcase_add_test(tc, test_rules_free_mail_domains_extend_or_replace_the_builtin_list);
    tcase_add_test(tc, test_rules_seniority_of_titles);
    tcase_add_test(tc, test_rules_seniority_lists_levels_and_min_seniority_ranks_them);
    tcase_add_test(tc, test_rules_event_counts_respect_the_window);
    tcase_add_test(tc, test_rules_at_most_and_a_glob_count_every_matching_type);
    tcase_add_test(tc, test_rules_an_event_after_now_counts_as_now);
    tcase_add_test(tc, test_rules_events_without_type_or_time_are_skipped_with_a_note);
    tcase_add_test(tc, test_rules_group_caps_and_floors_are_contributions);
    tcase_add_test(tc, test_rules_total_is_capped_at_max_score);
    tcase_add_test(tc, test_rules_refuses_a_snapshot_without_a_clock_or_a_lead);
    tcase_add_test(tc, test_rules_fields_of_the_wrong_type_count_as_not_matching);
    tcase_add_test(tc, test_rules_init_refuses_a_bad_regex_naming_its_path_and_reason);
    tcase_add_test(tc, test_rules_init_refuses_an_unknown_field_with_a_suggestion);
    tcase_add_test(tc, test_rules_init_refuses_a_bad_duration);
    tcase_add_test(tc, test_rules_init_refuses_an_unknown_event_type_with_a_suggestion);
    tcase_add_test(tc, test_rules_init_refuses_malformed_rules_naming_the_setting_path);
    tcase_add_test(tc, test_rules_host_refuses_unknown_settings_before_init);
    tcase_add_test(tc, test_rules_scores_the_same_from_several_threads_at_once);
    tcase_add_test(tc, test_rules_worked_example_of_docs_scoring_md);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
