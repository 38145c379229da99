/*
 * test_hubspot_batch.c - the hubspot plugin's reading of batch answers alone
 * (hubspot_batch.c and the helpers it uses compiled into the test): which result belongs
 * to which input. HubSpot promises neither the inputs' order nor every property of a
 * result, so a result that lacks the email it was asked by is nobody's until the email
 * lookup says whose it is: otherwise a lead would be linked to another person's contact.
 */
#include <check.h>

#include "../hubspot_batch.c" // NOLINT(bugprone-suspicious-include)
#include "../hubspot_json.c"  // NOLINT(bugprone-suspicious-include)
#include "testutil.h"

static const char *const emails[] = {"ada@analytical.example", "grace@navy.example",
                                     "lucas@meridian.example"};

/* Items keyed by the first n emails, read from `answer` (JSON text) by email. */
static size_t read_answer(const char *answer, struct hubspot_batch_item *items, size_t n)
{
    json_error_t error;
    json_t *body = json_loads(answer, 0, &error);
    ck_assert_msg(body != NULL, "bad test JSON: %s", error.text);
    memset(items, 0, n * sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        items[i].key = emails[i];
    }
    size_t failed = hubspot_batch_results(body, "email", items, n);
    json_decref(body);
    return failed;
}

static void assert_written(const struct hubspot_batch_item *item, const char *id)
{
    ck_assert_msg(!item->failed, "%s failed: %s", item->key, item->message);
    ck_assert_str_eq(item->id, id);
}

/* Failed, to be looked up by email and retried: never given a contact id. */
static void assert_unidentified(const struct hubspot_batch_item *item)
{
    ck_assert_msg(item->id[0] == '\0', "%s took contact %s without the email lookup", item->key,
                  item->id);
    ck_assert(item->failed);
    ck_assert(item->retryable);
    ck_assert(item->unidentified);
}

START_TEST(test_hubspot_batch_result_without_its_email_is_not_taken_by_the_input_left_over)
{
    /* two results name their emails (one in other case); the third names none. Only one
     * input is left over, and only one result: still nobody's until looked up. */
    const char *answers[] = {
        "{\"status\":\"COMPLETE\",\"results\":["
        "{\"id\":\"101\",\"properties\":{\"email\":\"grace@navy.example\"}},"
        "{\"id\":\"102\",\"properties\":{\"email\":\"Lucas@Meridian.example\"}},"
        "{\"id\":\"103\",\"properties\":{\"firstname\":\"Ada\"}}]}",
        /* the anonymous one first, and with a null email */
        "{\"status\":\"COMPLETE\",\"results\":["
        "{\"id\":\"103\",\"properties\":{\"email\":null}},"
        "{\"id\":\"102\",\"properties\":{\"email\":\"lucas@meridian.example\"}},"
        "{\"id\":\"101\",\"properties\":{\"email\":\"grace@navy.example\"}}]}",
    };
    for (size_t a = 0; a < sizeof(answers) / sizeof(answers[0]); a++) {
        struct hubspot_batch_item items[3];
        ck_assert_uint_eq(read_answer(answers[a], items, 3), 1);
        assert_unidentified(&items[0]);
        assert_written(&items[1], "101");
        assert_written(&items[2], "102");
    }
}
END_TEST

START_TEST(test_hubspot_batch_fewer_results_than_inputs_give_the_anonymous_one_to_nobody)
{
    /* a 200 that answered two of three inputs, one of them without its email: which of
     * the two inputs left it belongs to, if either, only the lookup can tell */
    struct hubspot_batch_item items[3];
    ck_assert_uint_eq(read_answer("{\"status\":\"COMPLETE\",\"results\":["
                                  "{\"id\":\"103\",\"properties\":{}},"
                                  "{\"id\":\"101\",\"properties\":{\"email\":\"grace@navy."
                                  "example\"}}]}",
                                  items, 3),
                      2);
    assert_unidentified(&items[0]);
    assert_written(&items[1], "101");
    assert_unidentified(&items[2]);
}
END_TEST

START_TEST(test_hubspot_batch_207_error_for_one_input_does_not_hand_the_other_an_anonymous_result)
{
    /* grace is refused by name; ada is the only input left and the result has no email */
    struct hubspot_batch_item items[2];
    ck_assert_uint_eq(read_answer("{\"status\":\"COMPLETE\",\"results\":["
                                  "{\"id\":\"103\",\"properties\":{}}],"
                                  "\"numErrors\":1,\"errors\":[{\"status\":\"error\","
                                  "\"category\":\"VALIDATION_ERROR\",\"message\":\"Property "
                                  "values were not valid\",\"context\":{\"ids\":"
                                  "[\"grace@navy.example\"]}}]}",
                                  items, 2),
                      2);
    assert_unidentified(&items[0]);
    ck_assert(items[1].failed);
    ck_assert(!items[1].retryable);
    ck_assert(!items[1].unidentified);
    ck_assert_str_eq(items[1].id, "");
}
END_TEST

START_TEST(test_hubspot_batch_lone_input_takes_the_lone_result_without_its_email)
{
    /* the one case where nothing else can be meant */
    struct hubspot_batch_item items[1];
    ck_assert_uint_eq(read_answer("{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"103\","
                                  "\"updatedAt\":\"2026-11-27T10:00:00.000Z\",\"properties\":{}}]}",
                                  items, 1),
                      0);
    assert_written(&items[0], "103");
    ck_assert_int_eq(items[0].updated_ms, 1795773600000LL);
}
END_TEST

START_TEST(test_hubspot_batch_conflict_names_the_contact_that_holds_the_address)
{
    char id[HUBSPOT_ID_MAX] = "";
    ck_assert(hubspot_existing_id("Contact already exists. Existing ID: 2926551", id));
    ck_assert_str_eq(id, "2926551");
    ck_assert(hubspot_existing_id(
        "OBJECT_ALREADY_EXISTS: A contact with email lee@xyz.co.uk already exists. Existing ID: "
        "37765128953",
        id));
    ck_assert_str_eq(id, "37765128953");
    const char *not_ids[] = {"Contact already exists.",
                             "Existing ID: ",
                             "Existing ID: x12",
                             "Existing ID: 123456789012345678901234",
                             NULL,
                             ""};
    for (size_t i = 0; i < sizeof(not_ids) / sizeof(not_ids[0]); i++) {
        id[0] = '\0';
        ck_assert_msg(!hubspot_existing_id(not_ids[i], id), "%s", not_ids[i]);
        ck_assert_str_eq(id, "");
    }
    /* a 207 whose error for one input is a conflict: that input, and only it, is told
     * which contact holds its address */
    struct hubspot_batch_item items[2];
    ck_assert_uint_eq(read_answer("{\"status\":\"COMPLETE\",\"results\":[{\"id\":\"101\","
                                  "\"properties\":{\"email\":\"grace@navy.example\"}}],"
                                  "\"numErrors\":1,\"errors\":[{\"status\":\"error\","
                                  "\"category\":\"CONFLICT\",\"message\":\"Contact already "
                                  "exists. Existing ID: 555\",\"context\":{\"ids\":"
                                  "[\"ada@analytical.example\"]}}]}",
                                  items, 2),
                      1);
    ck_assert(items[0].failed);
    ck_assert_str_eq(items[0].existing, "555");
    ck_assert_str_eq(items[0].id, "");
    assert_written(&items[1], "101");
    ck_assert_str_eq(items[1].existing, "");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hubspot_batch");
    TCase *tc = tcase_create("results");
    tcase_add_test(tc,
                   test_hubspot_batch_result_without_its_email_is_not_taken_by_the_input_left_over);
    tcase_add_test(tc,
                   test_hubspot_batch_fewer_results_than_inputs_give_the_anonymous_one_to_nobody);
    tcase_add_test(
        tc, test_hubspot_batch_207_error_for_one_input_does_not_hand_the_other_an_anonymous_result);
    tcase_add_test(tc, test_hubspot_batch_lone_input_takes_the_lone_result_without_its_email);
    tcase_add_test(tc, test_hubspot_batch_conflict_names_the_contact_that_holds_the_address);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
