/*
 * test_connector_attention.c - the verdicts GET /v1/connectors gives on each instance: what
 * needs an operator now, from the status entry alone (core/rest_connector_health.c).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rest_internal.h"
#include "testutil.h"
#include "util.h"

#define NOW_MS 1796000000000LL /* 2026-11-30T... UTC */

/* A healthy polling source, as rest_connector_status() builds one; `patch` overrides. */
static json_t *entry_with(const char *patch)
{
    char minute_ago[32];
    util_format_rfc3339(NOW_MS - 60000, minute_ago);
    char *text = util_printf(
        "{\"name\":\"gmail\",\"plugin\":\"gmail\",\"kind\":\"source\",\"enabled\":true,"
        "\"poll_interval_seconds\":300,\"initialized\":true,\"error\":null,\"token\":\"valid\","
        "\"circuit\":null,\"last_poll\":{\"started_at\":\"%s\",\"finished_at\":\"%s\","
        "\"outcome\":\"ok\",\"events\":3,\"error\":null,\"owner\":\"a:1\"},"
        "\"last_success_at\":\"%s\",\"consecutive_failures\":0,"
        "\"deliveries\":{\"pending\":0,\"retrying\":0,\"dead\":0,\"done_24h\":0}}",
        minute_ago, minute_ago, minute_ago);
    json_t *entry = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(entry);
    free(text);
    if (patch != NULL) {
        json_t *changes = json_loads(patch, 0, NULL);
        ck_assert_msg(changes != NULL, "bad patch %s", patch);
        json_object_update(entry, changes);
        json_decref(changes);
    }
    return entry;
}

/* The codes of the verdicts, space separated (malloc'd). */
static char *codes_of(const char *patch)
{
    json_t *entry = entry_with(patch);
    json_t *list = rest_connector_attention(entry, NOW_MS);
    struct strbuf codes = {0};
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item)
    {
        ck_assert(json_string_length(json_object_get(item, "message")) > 0);
        strbuf_appendf(&codes, "%s%s", i ? " " : "",
                       json_string_value(json_object_get(item, "code")));
    }
    strbuf_append(&codes, "");
    json_decref(list);
    json_decref(entry);
    return strbuf_take(&codes);
}

static char *message_of(const char *patch, size_t index)
{
    json_t *entry = entry_with(patch);
    json_t *list = rest_connector_attention(entry, NOW_MS);
    const char *message =
        json_string_value(json_object_get(json_array_get(list, index), "message"));
    char *copy = message != NULL ? strdup(message) : NULL;
    json_decref(list);
    json_decref(entry);
    return copy;
}

static void assert_codes(const char *patch, const char *expected)
{
    char *codes = codes_of(patch);
    ck_assert_msg(strcmp(codes, expected) == 0, "%s: got \"%s\", expected \"%s\"",
                  patch != NULL ? patch : "healthy", codes, expected);
    free(codes);
}

START_TEST(test_a_healthy_instance_needs_nothing)
{
    assert_codes(NULL, "");
}
END_TEST

START_TEST(test_a_disabled_instance_needs_nothing_whatever_it_shows)
{
    assert_codes("{\"enabled\":false,\"initialized\":false,\"token\":\"failed\","
                 "\"deliveries\":{\"pending\":0,\"retrying\":0,\"dead\":7,\"done_24h\":0}}",
                 "");
}
END_TEST

START_TEST(test_each_fault_is_named)
{
    assert_codes("{\"initialized\":false,\"error\":\"init: bad key\"}", "not_running");
    char *message = message_of("{\"initialized\":false,\"error\":\"init: bad key\"}", 0);
    ck_assert_str_eq(message, "not running on this replica: init: bad key");
    free(message);
    assert_codes("{\"kind\":\"scorer\",\"initialized\":false,\"error\":\"boom\","
                 "\"poll_interval_seconds\":null,\"last_poll\":null}",
                 "not_running");
    message = message_of("{\"kind\":\"scorer\",\"initialized\":false,\"error\":\"boom\"}", 0);
    ck_assert_str_eq(message, "the scorer is failing: boom");
    free(message);
    assert_codes("{\"token\":\"failed\"}", "token_failed");
    assert_codes("{\"token\":\"refreshing\"}", "");
    /* OAuth consent: refused, or its refresh token's end near */
    const char *refused = "{\"token\":\"needs_consent\",\"oauth\":{\"state\":\"needs_consent\","
                          "\"reason\":\"invalid_grant\",\"granted_at\":null,"
                          "\"refresh_token_expires_at\":null,\"refresh_token_days_left\":null,"
                          "\"action\":{\"cli\":\"leadhubd connect gmail\","
                          "\"api\":\"POST /v1/connectors/gmail/connect\"}}}";
    assert_codes(refused, "needs_consent");
    message = message_of(refused, 0);
    ck_assert_str_eq(message, "its OAuth grant needs consent again: leadhubd connect gmail");
    free(message);
    const char *ending = "{\"oauth\":{\"state\":\"granted\",\"reason\":null,"
                         "\"granted_at\":null,\"refresh_token_expires_at\":null,"
                         "\"refresh_token_days_left\":3,\"action\":{\"cli\":\"leadhubd connect "
                         "gmail\",\"api\":\"POST /v1/connectors/gmail/connect\"}}}";
    assert_codes(ending, "consent_expiring");
    message = message_of(ending, 0);
    ck_assert_str_eq(message,
                     "its refresh token ends in 3 days: consent again before then: leadhubd "
                     "connect gmail");
    free(message);
    /* granted since: this replica's token learns of it at its next use, the grant counts */
    assert_codes("{\"token\":\"needs_consent\",\"oauth\":{\"state\":\"granted\",\"reason\":null,"
                 "\"granted_at\":null,\"refresh_token_expires_at\":null,"
                 "\"refresh_token_days_left\":null,\"action\":null}}",
                 "");
    /* far from its end (no action offered), or no grant stored and the token fine */
    assert_codes("{\"oauth\":{\"state\":\"granted\",\"reason\":null,\"granted_at\":null,"
                 "\"refresh_token_expires_at\":null,\"refresh_token_days_left\":200,"
                 "\"action\":null}}",
                 "");
    assert_codes("{\"oauth\":{\"state\":\"none\",\"reason\":null,\"granted_at\":null,"
                 "\"refresh_token_expires_at\":null,\"refresh_token_days_left\":null,"
                 "\"action\":{\"cli\":\"x\",\"api\":\"y\"}}}",
                 "");
    assert_codes("{\"circuit\":\"open\"}", "circuit_open");
    assert_codes("{\"circuit\":\"half_open\"}", "circuit_open");
    assert_codes("{\"circuit\":\"closed\"}", "");
    assert_codes("{\"deliveries\":{\"pending\":9,\"retrying\":9,\"dead\":1,\"done_24h\":0}}",
                 "dead_deliveries");
    message = message_of("{\"deliveries\":{\"pending\":0,\"retrying\":0,\"dead\":1000,"
                         "\"done_24h\":0}}",
                         0);
    ck_assert_str_eq(message, "at least 1000 dead deliveries to replay");
    free(message);
    message = message_of("{\"deliveries\":{\"pending\":0,\"retrying\":0,\"dead\":1,"
                         "\"done_24h\":0}}",
                         0);
    ck_assert_str_eq(message, "1 dead delivery to replay");
    free(message);
}
END_TEST

START_TEST(test_a_failing_poll_says_how_many_in_a_row_and_why)
{
    const char *patch = "{\"last_poll\":{\"started_at\":null,\"finished_at\":null,"
                        "\"outcome\":\"retry\",\"events\":0,\"error\":\"HTTP 503\",\"owner\":null},"
                        "\"consecutive_failures\":3}";
    assert_codes(patch, "poll_failing");
    char *message = message_of(patch, 0);
    ck_assert_str_eq(message, "the last 3 polls failed (retry): HTTP 503");
    free(message);
}
END_TEST

START_TEST(test_a_poll_the_provider_holds_is_waiting_not_failing)
{
    char patch[512], until[32], long_ago[32];
    util_format_rfc3339(NOW_MS + 5 * 3600000LL, until);
    util_format_rfc3339(NOW_MS - 20 * 3600000LL, long_ago);
    /* held for hours by a daily limit: no failure, no lag, the hold and its end */
    snprintf(patch, sizeof(patch),
             "{\"poll_held_until\":\"%s\",\"last_success_at\":\"%s\",\"last_poll\":"
             "{\"started_at\":null,\"finished_at\":null,\"outcome\":\"retry_after\","
             "\"events\":0,\"error\":\"daily limit\",\"owner\":null}}",
             until, long_ago);
    assert_codes(patch, "poll_held");
    char *message = message_of(patch, 0);
    char *expected = util_printf("polls are held until %s by the provider: daily limit", until);
    ck_assert_str_eq(message, expected);
    free(expected);
    free(message);
    /* a hold that has ended is judged as usual again */
    util_format_rfc3339(NOW_MS - 60000, until);
    snprintf(patch, sizeof(patch),
             "{\"poll_held_until\":\"%s\",\"last_success_at\":\"%s\",\"last_poll\":"
             "{\"started_at\":null,\"finished_at\":null,\"outcome\":\"retry_after\","
             "\"events\":0,\"error\":\"daily limit\",\"owner\":null}}",
             until, long_ago);
    assert_codes(patch, "poll_failing poll_lag");
}
END_TEST

START_TEST(test_a_source_lags_after_three_intervals_without_a_success)
{
    char patch[256], at[32];
    /* 14 minutes: under three 5-minute intervals */
    util_format_rfc3339(NOW_MS - 14 * 60000, at);
    snprintf(patch, sizeof(patch), "{\"last_success_at\":\"%s\"}", at);
    assert_codes(patch, "");
    /* 16 minutes: past them */
    util_format_rfc3339(NOW_MS - 16 * 60000, at);
    snprintf(patch, sizeof(patch), "{\"last_success_at\":\"%s\"}", at);
    assert_codes(patch, "poll_lag");
    char *message = message_of(patch, 0);
    ck_assert_str_eq(message, "no successful poll for 16m (it polls every 5m)");
    free(message);
    /* a frequent poller still gets ten minutes of slack */
    util_format_rfc3339(NOW_MS - 9 * 60000, at);
    snprintf(patch, sizeof(patch), "{\"last_success_at\":\"%s\",\"poll_interval_seconds\":10}", at);
    assert_codes(patch, "");
    /* never a success, polling for an hour */
    util_format_rfc3339(NOW_MS - 60 * 60000, at);
    snprintf(patch, sizeof(patch),
             "{\"last_success_at\":null,\"last_poll\":{\"started_at\":\"%s\","
             "\"finished_at\":\"%s\",\"outcome\":\"auth\",\"events\":0,\"error\":\"401\","
             "\"owner\":null}}",
             at, at);
    assert_codes(patch, "poll_failing poll_lag");
    /* a sink has no polls to lag */
    assert_codes("{\"poll_interval_seconds\":null,\"last_poll\":null,\"last_success_at\":null}",
                 "");
    /* nor does an instance that is not running (that is its own verdict) */
    snprintf(patch, sizeof(patch), "{\"initialized\":false,\"last_success_at\":\"%s\"}", at);
    assert_codes(patch, "not_running");
}
END_TEST

static Suite *attention_suite(void)
{
    Suite *s = suite_create("connector_attention");
    TCase *tc = tcase_create("verdicts");
    tcase_add_test(tc, test_a_healthy_instance_needs_nothing);
    tcase_add_test(tc, test_a_disabled_instance_needs_nothing_whatever_it_shows);
    tcase_add_test(tc, test_each_fault_is_named);
    tcase_add_test(tc, test_a_poll_the_provider_holds_is_waiting_not_failing);
    tcase_add_test(tc, test_a_failing_poll_says_how_many_in_a_row_and_why);
    tcase_add_test(tc, test_a_source_lags_after_three_intervals_without_a_success);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(attention_suite());
}
