/*
 * test_linkedin_map.c - the pure parts of linkedin_leadgen: Rest.li encoding and LinkedIn's
 * ids, the mapping of a response and its form into lead.created (every event checked by
 * the host's own validation), and both readings of X-LI-Signature. The plugin's sources are
 * included so that their functions are called directly, as the fuzz target does.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../linkedin_map.c"     // NOLINT(bugprone-suspicious-include)
#include "../linkedin_restli.c"  // NOLINT(bugprone-suspicious-include)
#include "../linkedin_webhook.c" // NOLINT(bugprone-suspicious-include)
#include "crypto.h"
#include "event.h"
#include "testutil.h"
#include "util.h"

#define SECRET "li-secret-Wq8vR2xT5nK0"

static json_t *fixture(const char *name)
{
    char *path =
        util_printf("%s/plugins/linkedin_leadgen/tests/fixtures/%s", tu_source_dir(), name);
    json_t *value = json_load_file(path, 0, NULL);
    ck_assert_msg(value != NULL, "%s", path);
    free(path);
    return value;
}

/* Maps, asserts LINKEDIN_MAPPED and that the host accepts the event; the normalized
 * event (NEW). */
static json_t *map(const json_t *response, const json_t *form, bool include_test)
{
    struct linkedin_map_options options = {.include_test_leads = include_test};
    json_t *event = NULL;
    char detail[160];
    ck_assert_int_eq(linkedin_map_response(response, form, &options, &event, detail),
                     LINKEDIN_MAPPED);
    struct event_record record;
    char *error = NULL;
    json_incref(event);
    ck_assert_msg(event_validate(event, "leads", &record, &error) == 0, "%s", error);
    event_record_clear(&record);
    return event;
}

static const char *lead_text(const json_t *event, const char *key)
{
    return json_string_value(json_object_get(json_object_get(event, "lead"), key));
}

static const json_t *attribute(const json_t *event, const char *key)
{
    return json_object_get(json_object_get(json_object_get(event, "lead"), "attributes"), key);
}

static json_t *answer_of(json_t *response, size_t i)
{
    return json_object_get(
        json_object_get(
            json_array_get(json_object_get(json_object_get(response, "formResponse"), "answers"),
                           i),
            "answerDetails"),
        "textQuestionAnswer");
}

START_TEST(test_linkedin_owner_param_encodes_the_urn_inside_the_tuple)
{
    char *param = linkedin_owner_param("508974412");
    ck_assert_str_eq(param, "(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A508974412)");
    free(param);
    char *bare = linkedin_restli_encode("7d1f3e2a-9c4b_x.y~z:(a,b)", NULL);
    ck_assert_str_eq(bare, "7d1f3e2a-9c4b_x.y~z%3A%28a%2Cb%29");
    free(bare);
}
END_TEST

START_TEST(test_linkedin_ids_are_checked)
{
    char id[32], form[32], version[32];
    ck_assert(
        linkedin_parse_numeric_id("urn:li:sponsoredAccount:42", "urn:li:sponsoredAccount:", id));
    ck_assert_str_eq(id, "42");
    ck_assert(!linkedin_parse_numeric_id("42a", NULL, id));
    ck_assert(!linkedin_parse_numeric_id("", NULL, id));
    ck_assert(linkedin_parse_versioned_form(
        "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:8843127,2)", form, version));
    ck_assert_str_eq(form, "8843127");
    ck_assert_str_eq(version, "2");
    ck_assert(!linkedin_parse_versioned_form("urn:li:versionedLeadGenForm:(urn:li:leadGenForm:88,)",
                                             form, version));
    ck_assert(!linkedin_parse_versioned_form(
        "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:8843127,2)x", form, version));
    ck_assert(linkedin_response_id_valid("7d1f3e2a-9c4b-4e8a-b5d6-0f2e1a3c9b47-3"));
    ck_assert(!linkedin_response_id_valid("a/b"));
    ck_assert(!linkedin_response_id_valid(""));
}
END_TEST

START_TEST(test_linkedin_daily_hold_ends_after_the_next_midnight_utc)
{
    int64_t day = 24LL * 3600 * 1000;
    int64_t noon = 20000 * day + day / 2;
    ck_assert_int_eq(linkedin_next_midnight(noon), 20001 * day + LINKEDIN_HOLD_MARGIN_MS);
    /* at midnight itself: the next one */
    ck_assert_int_eq(linkedin_next_midnight(20001 * day), 20002 * day + LINKEDIN_HOLD_MARGIN_MS);
}
END_TEST

START_TEST(test_linkedin_map_fills_the_lead_by_predefined_field)
{
    json_t *response = fixture("response.en.json");
    json_t *form = fixture("form.en.json");
    json_t *event = map(response, form, false);
    ck_assert_str_eq(json_string_value(json_object_get(event, "type")), "lead.created");
    ck_assert_str_eq(json_string_value(json_object_get(event, "source_id")),
                     "7d1f3e2a-9c4b-4e8a-b5d6-0f2e1a3c9b47-3");
    ck_assert_str_eq(lead_text(event, "email"), "hannah.okafor@brightline-freight.com");
    ck_assert_str_eq(lead_text(event, "first_name"), "Hannah");
    ck_assert_str_eq(lead_text(event, "last_name"), "Okafor");
    ck_assert_str_eq(lead_text(event, "company"), "Brightline Freight");
    ck_assert_str_eq(lead_text(event, "title"), "VP of Revenue Operations");
    ck_assert_str_eq(lead_text(event, "phone"), "+1 312 555 0147");
    ck_assert_str_eq(lead_text(event, "external_id"), "7d1f3e2a-9c4b-4e8a-b5d6-0f2e1a3c9b47-3");
    ck_assert_str_eq(json_string_value(attribute(event, "custom_question_0")), "11-50");
    ck_assert(json_is_true(attribute(event, "consent_0")));
    ck_assert_str_eq(json_string_value(json_object_get(event, "occurred_at")),
                     "2025-03-06T18:56:35.512Z");
    const json_t *data = json_object_get(event, "data");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(data, "form"), "name")),
                     "Q1 Demo Request - US");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(data, "questions"), "custom_question_0")),
        "How many sales reps are on your team?");
    ck_assert(json_is_false(json_object_get(data, "test")));
    ck_assert_ptr_null(json_object_get(data, "routable"));
    ck_assert(json_equal(json_object_get(event, "raw"), response));
    json_decref(event);
    json_decref(form);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_without_its_form_keeps_answers_by_question_id)
{
    json_t *response = fixture("response.en.json");
    json_t *event = map(response, NULL, false);
    ck_assert_ptr_null(lead_text(event, "email"));
    ck_assert_str_eq(json_string_value(attribute(event, "question_13088431270")),
                     "hannah.okafor@brightline-freight.com");
    /* a choice without its options is kept as its id */
    ck_assert_int_eq(json_integer_value(attribute(event, "question_17088431270")), 1);
    json_decref(event);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_moves_what_the_host_would_refuse_to_attributes)
{
    json_t *response = fixture("response.en.json");
    json_t *form = fixture("form.en.json");
    json_object_set_new(answer_of(response, 2), "answer", json_string("not an address"));
    char long_title[1100];
    memset(long_title, 'x', sizeof(long_title) - 1);
    long_title[sizeof(long_title) - 1] = '\0';
    json_object_set_new(answer_of(response, 4), "answer", json_string(long_title));
    json_t *event = map(response, form, false);
    ck_assert_ptr_null(lead_text(event, "email"));
    ck_assert_str_eq(json_string_value(attribute(event, "email")), "not an address");
    ck_assert_ptr_null(lead_text(event, "title"));
    ck_assert_uint_eq(strlen(json_string_value(attribute(event, "job_title"))), 1099);
    json_decref(event);
    json_decref(form);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_keeps_an_answer_carrying_nul_out_of_the_stored_copy)
{
    json_t *response = fixture("response.en.json");
    json_t *form = fixture("form.en.json");
    json_object_set_new(answer_of(response, 4), "answer", json_stringn("VP\0x", 4));
    json_t *event = map(response, form, false);
    ck_assert_ptr_null(json_object_get(event, "raw"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(event, "data"), "raw_omitted")),
        "contains U+0000");
    ck_assert_ptr_null(lead_text(event, "title"));
    ck_assert_str_eq(lead_text(event, "first_name"), "Hannah");
    json_decref(event);
    json_decref(form);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_test_leads_are_flagged_and_kept_from_routes_unless_included)
{
    json_t *response = fixture("response.en.json");
    json_t *form = fixture("form.en.json");
    json_object_set_new(response, "testLead", json_true());
    json_t *event = map(response, form, false);
    const json_t *data = json_object_get(event, "data");
    ck_assert(json_is_true(json_object_get(data, "test")));
    ck_assert(json_is_false(json_object_get(data, "routable")));
    json_decref(event);
    event = map(response, form, true);
    data = json_object_get(event, "data");
    ck_assert(json_is_true(json_object_get(data, "test")));
    ck_assert_ptr_null(json_object_get(data, "routable"));
    json_decref(event);
    json_decref(form);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_a_full_name_only_goes_through_the_name_parser)
{
    json_t *response = fixture("response.en.json");
    json_t *form = fixture("form.en.json");
    json_t *questions = json_object_get(json_object_get(form, "content"), "questions");
    json_object_set_new(json_array_get(questions, 0), "predefinedField", json_string("FULL_NAME"));
    json_array_remove(json_object_get(json_object_get(response, "formResponse"), "answers"), 1);
    json_object_set_new(answer_of(response, 0), "answer", json_string("Hannah Okafor"));
    json_t *event = map(response, form, false);
    ck_assert_str_eq(lead_text(event, "first_name"), "Hannah");
    ck_assert_str_eq(lead_text(event, "last_name"), "Okafor");
    json_decref(event);
    json_decref(form);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_map_refuses_what_is_not_a_response)
{
    struct linkedin_map_options options = {0};
    json_t *event = NULL;
    char detail[160];
    json_t *response = fixture("response.en.json");
    json_object_set_new(response, "id", json_string("a b"));
    ck_assert_int_eq(linkedin_map_response(response, NULL, &options, &event, detail),
                     LINKEDIN_INVALID);
    json_object_set_new(response, "id", json_string("ok-1"));
    json_object_set_new(response, "submittedAt", json_string("yesterday"));
    ck_assert_int_eq(linkedin_map_response(response, NULL, &options, &event, detail),
                     LINKEDIN_INVALID);
    ck_assert_ptr_nonnull(strstr(detail, "submittedAt"));
    json_t *number = json_integer(3);
    ck_assert_int_eq(linkedin_map_response(number, NULL, &options, &event, detail),
                     LINKEDIN_INVALID);
    ck_assert_ptr_null(event);
    json_decref(number);
    json_decref(response);
}
END_TEST

START_TEST(test_linkedin_erased_event_names_the_response_only)
{
    json_t *event = linkedin_erased_event("7d1f-3", 1765100000000LL);
    struct event_record record;
    char *error = NULL;
    ck_assert_msg(event_validate(json_incref(event), "leads", &record, &error) == 0, "%s", error);
    event_record_clear(&record);
    ck_assert_str_eq(json_string_value(json_object_get(event, "type")), "lead.erased");
    ck_assert_str_eq(lead_text(event, "external_id"), "7d1f-3");
    ck_assert_uint_eq(json_object_size(json_object_get(event, "lead")), 1);
    json_decref(event);
}
END_TEST

static enum linkedin_signature_reading check(const char *header, const char *body)
{
    return linkedin_signature_match(SECRET, header, (const unsigned char *)body, strlen(body),
                                    crypto_hmac_sha256, crypto_digest_equal);
}

static char *hex_hmac(const char *message)
{
    unsigned char digest[32];
    crypto_hmac_sha256(SECRET, strlen(SECRET), message, strlen(message), digest);
    char *hex = malloc(65);
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return hex;
}

START_TEST(test_linkedin_signature_accepts_either_reading_and_nothing_else)
{
    const char *body = "{\"type\":\"LEAD_ACTION\"}";
    char *over_prefixed = hex_hmac("hmacsha256={\"type\":\"LEAD_ACTION\"}");
    char *over_body = hex_hmac(body);
    char *b = util_printf("hmacsha256=%s", over_body);
    ck_assert_int_eq(check(over_prefixed, body), LINKEDIN_SIGNATURE_PREFIXED_MESSAGE);
    ck_assert_int_eq(check(b, body), LINKEDIN_SIGNATURE_PREFIXED_HEADER);
    /* the prefix is optional, hex is compared whatever its case */
    ck_assert_int_eq(check(over_body, body), LINKEDIN_SIGNATURE_PREFIXED_HEADER);
    for (char *p = over_prefixed; *p != '\0'; p++) {
        *p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
    }
    ck_assert_int_eq(check(over_prefixed, body), LINKEDIN_SIGNATURE_PREFIXED_MESSAGE);
    /* another body, a cut header, no header */
    ck_assert_int_eq(check(b, "{\"type\":\"LEAD_ACTION\" }"), LINKEDIN_SIGNATURE_NONE);
    b[strlen(b) - 1] = '\0';
    ck_assert_int_eq(check(b, body), LINKEDIN_SIGNATURE_NONE);
    ck_assert_int_eq(check(NULL, body), LINKEDIN_SIGNATURE_NONE);
    ck_assert_int_eq(check("hmacsha256=", body), LINKEDIN_SIGNATURE_NONE);
    free(b);
    free(over_body);
    free(over_prefixed);
}
END_TEST

START_TEST(test_linkedin_notification_parse_reads_lead_actions_only)
{
    struct linkedin_notification n;
    char detail[160];
    const char *created =
        "{\"type\":\"LEAD_ACTION\",\"leadGenFormResponse\":\"urn:li:leadGenFormResponse:abc-1\","
        "\"owner\":{\"sponsoredAccount\":\"urn:li:sponsoredAccount:508974412\"},"
        "\"leadAction\":\"CREATED\",\"occurredAt\":1741287396104}";
    ck_assert_int_eq(linkedin_notification_parse(created, strlen(created), &n, detail), 0);
    ck_assert_str_eq(n.response_id, "abc-1");
    ck_assert_str_eq(n.owner, "508974412");
    ck_assert(!n.deleted);
    ck_assert_int_eq(n.occurred_at, 1741287396104LL);
    const char *bad[] = {
        "[]",
        "{\"type\":\"OTHER\"}",
        "{\"type\":\"LEAD_ACTION\",\"leadGenFormResponse\":\"urn:li:person:x\","
        "\"leadAction\":\"CREATED\"}",
        "{\"type\":\"LEAD_ACTION\",\"leadGenFormResponse\":\"urn:li:leadGenFormResponse:a/b\","
        "\"leadAction\":\"CREATED\"}",
        "{\"type\":\"LEAD_ACTION\",\"leadGenFormResponse\":\"urn:li:leadGenFormResponse:a\","
        "\"leadAction\":\"UPDATED\"}",
        "{\"type\":",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(linkedin_notification_parse(bad[i], strlen(bad[i]), &n, detail) == -1, "%s",
                      bad[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("linkedin_map");
    TCase *tc = tcase_create("pure");
    tcase_add_test(tc, test_linkedin_owner_param_encodes_the_urn_inside_the_tuple);
    tcase_add_test(tc, test_linkedin_ids_are_checked);
    tcase_add_test(tc, test_linkedin_daily_hold_ends_after_the_next_midnight_utc);
    tcase_add_test(tc, test_linkedin_map_fills_the_lead_by_predefined_field);
    tcase_add_test(tc, test_linkedin_map_without_its_form_keeps_answers_by_question_id);
    tcase_add_test(tc, test_linkedin_map_moves_what_the_host_would_refuse_to_attributes);
    tcase_add_test(tc, test_linkedin_map_keeps_an_answer_carrying_nul_out_of_the_stored_copy);
    tcase_add_test(tc,
                   test_linkedin_map_test_leads_are_flagged_and_kept_from_routes_unless_included);
    tcase_add_test(tc, test_linkedin_map_a_full_name_only_goes_through_the_name_parser);
    tcase_add_test(tc, test_linkedin_map_refuses_what_is_not_a_response);
    tcase_add_test(tc, test_linkedin_erased_event_names_the_response_only);
    tcase_add_test(tc, test_linkedin_signature_accepts_either_reading_and_nothing_else);
    tcase_add_test(tc, test_linkedin_notification_parse_reads_lead_actions_only);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
