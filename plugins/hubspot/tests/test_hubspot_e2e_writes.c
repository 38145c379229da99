/*
 * test_hubspot_e2e_writes.c - what the hubspot plugin writes into HubSpot is what the hub
 * knows, through the real daemon with PostgreSQL against the fake HubSpot: leads posted to
 * a `webhook` instance are routed to the `hubspot` instance "crm".
 *
 *   - a whole-request 400 dead-letters only the contacts HubSpot refused alone or named:
 *     good contacts sharing a batch with bad ones are written, however alike the refusals;
 *   - HubSpot's 409 "Contact already exists. Existing ID: N" (the lead's address is one of
 *     contact N's) is an update of contact N, which becomes the lead's identity;
 *   - a meeting whose creation HubSpot carried out but whose answer was lost is not
 *     created again by the retry;
 *   - a payment writes the buyer's name, company and phone with the customer stage;
 *   - a person asking to be forgotten (lead.erased) loses the hub's copy and HubSpot's.
 */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "fake_hubspot.h"
#include "hubspot_daemon.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define UPSERT "/crm/v3/objects/contacts/batch/upsert"

static struct fake_hubspot *fake;
static struct test_daemon td;
static PGconn *db;

static void setup(void)
{
    fake = fake_hubspot_start();
    ck_assert_ptr_nonnull(fake);
    td_init(&td, NULL);
    struct hubspot_daemon_options options = {
        .types = "[\"lead.*\", \"meeting.*\", \"payment.succeeded\"]"};
    hubspot_daemon_start(&td, fake, &options);
    db = testdb_connect(td.db_url);
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
        db = NULL;
    }
    if (td.pid != 0) {
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            fprintf(stderr, "daemon exit %d:\n%s\n", status, log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
    fake_hubspot_stop(fake);
}

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static void post(const char *body)
{
    char *answer = NULL;
    int status = td_post(&td, "inbound", HD_INBOUND_SECRET, body, &answer);
    ck_assert_msg(status == 200, "POST answered %d: %s", status, answer);
    free(answer);
}

static bool deliveries_settled(void *arg)
{
    return scalar("SELECT count(*) FROM deliveries WHERE status IN ('done', 'dead')") >=
           *(long *)arg;
}

/* The status of the delivery of the event with this source_id. Malloc'd. */
static char *delivery_status(const char *source_id)
{
    char *sql = util_printf("SELECT d.status FROM deliveries d JOIN events e ON e.id = "
                            "d.event_id WHERE e.source_id = '%s'",
                            source_id);
    char *status = testdb_text(db, sql);
    free(sql);
    ck_assert_msg(status != NULL, "no delivery of %s", source_id);
    return status;
}

static void assert_delivery(const char *source_id, const char *expected)
{
    char *status = delivery_status(source_id);
    ck_assert_msg(strcmp(status, expected) == 0, "%s: %s, expected %s", source_id, status,
                  expected);
    free(status);
}

/* HubSpot's 400 for an invalid property value: it names the property, not the input. */
#define INVALID_PHONE_MESSAGE                                                                      \
    "Property values were not valid: [{\"isValid\":false,\"message\":\"N/A is not a valid "        \
    "phone number\",\"error\":\"INVALID_PHONE_NUMBER\",\"name\":\"phone\"}]"

START_TEST(test_hubspot_e2e_good_contacts_after_bad_ones_are_written_not_dead_lettered)
{
    fake_hubspot_reject_whole_request(fake, true);
    fake_hubspot_reject_email(fake, "bad1@example.com", "VALIDATION_ERROR", INVALID_PHONE_MESSAGE,
                              0);
    fake_hubspot_reject_email(fake, "bad2@example.com", "VALIDATION_ERROR", INVALID_PHONE_MESSAGE,
                              0);
    post("[{\"type\":\"lead.created\",\"source_id\":\"n-1\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"bad1@example.com\",\"phone\":\"N/A\"}},"
         "{\"type\":\"lead.created\",\"source_id\":\"n-2\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"bad2@example.com\",\"phone\":\"N/A\"}},"
         "{\"type\":\"lead.created\",\"source_id\":\"n-3\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"ann@example.com\"}},"
         "{\"type\":\"lead.created\",\"source_id\":\"n-4\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"ben@example.com\"}}]");
    long four = 4;
    ck_assert(td_wait_until(deliveries_settled, &four, 30000));
    /* the four went to HubSpot in one request: that is the case at stake */
    json_t *first = NULL;
    struct fake_hubspot_request request = fake_hubspot_find(fake, "POST", UPSERT, 0);
    first = json_loads(request.body, 0, NULL);
    fake_hubspot_request_free(&request);
    ck_assert_msg(json_array_size(json_object_get(first, "inputs")) == 4,
                  "the dispatcher did not hand the four over in one batch");
    json_decref(first);
    assert_delivery("n-1", "dead");
    assert_delivery("n-2", "dead");
    assert_delivery("n-3", "done");
    assert_delivery("n-4", "done");
    char *error = testdb_text(db, "SELECT min(d.last_error) FROM deliveries d WHERE d.status = "
                                  "'dead'");
    ck_assert_msg(strstr(error, "N/A is not a valid phone number") != NULL, "%s", error);
    free(error);
    char *ann = fake_hubspot_contact_id(fake, "ann@example.com");
    char *ben = fake_hubspot_contact_id(fake, "ben@example.com");
    ck_assert_ptr_nonnull(ann);
    ck_assert_ptr_nonnull(ben);
    ck_assert_uint_eq(fake_hubspot_contact_count(fake), 2);
    /* [bad, bad, good, good], [bad, bad], [bad], [bad], [good, good] */
    ck_assert_uint_eq(fake_hubspot_count(fake, "POST", UPSERT), 5);
    free(ann);
    free(ben);
}
END_TEST

START_TEST(test_hubspot_e2e_409_existing_contact_is_updated_and_becomes_the_leads_identity)
{
    /* the lead's address is an additional address of Grace's contact in HubSpot: HubSpot
     * answers 409 "Contact already exists. Existing ID: N" to the upsert */
    char *grace = fake_hubspot_contact_add(fake,
                                           "{\"email\":\"grace.hopper@navy.example\","
                                           "\"hs_additional_emails\":\"grace@navy.example\"}",
                                           0);
    post("{\"type\":\"lead.created\",\"source_id\":\"c-1\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"grace@navy.example\",\"first_name\":"
         "\"Grace\",\"last_name\":\"Hopper\",\"company\":\"US Navy\"}}");
    long one = 1;
    ck_assert(td_wait_until(deliveries_settled, &one, 30000));
    assert_delivery("c-1", "done");
    ck_assert_int_eq(scalar("SELECT attempts FROM deliveries"), 1);
    char *sql = util_printf("SELECT count(*) FROM lead_identities i JOIN leads l ON l.id = "
                            "i.lead_id WHERE i.source = 'crm' AND i.external_id = '%s' AND "
                            "l.email = 'grace@navy.example'",
                            grace);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    ck_assert_uint_eq(fake_hubspot_contact_count(fake), 1);
    char *text = fake_hubspot_contact(fake, grace);
    json_t *contact = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(contact, "email")),
                     "grace.hopper@navy.example");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "firstname")), "Grace");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "company")), "US Navy");
    json_decref(contact);
    free(text);
    free(grace);
}
END_TEST

START_TEST(test_hubspot_e2e_meeting_whose_creation_answer_was_lost_is_created_once)
{
    /* HubSpot creates the engagement; its answer is lost (a 504 from its edge) and the
     * dispatcher tries again */
    fake_hubspot_lose_answers(fake, "POST", "/crm/v3/objects/meetings", 1);
    post("{\"type\":\"meeting.scheduled\",\"source_id\":\"m-1\",\"occurred_at\":"
         "\"2026-11-27T10:05:00Z\",\"lead\":{\"email\":\"ada@analytical.example\"},"
         "\"meeting\":{\"external_id\":\"7f3a\",\"title\":\"Intro call\",\"starts_at\":"
         "\"2026-12-01T15:00:00Z\",\"ends_at\":\"2026-12-01T15:30:00Z\",\"attendees\":[{"
         "\"email\":\"ada@analytical.example\"}]}}");
    long one = 1;
    ck_assert(td_wait_until(deliveries_settled, &one, 30000));
    assert_delivery("m-1", "done");
    ck_assert_int_eq(scalar("SELECT attempts FROM deliveries"), 2);
    ck_assert_uint_eq(fake_hubspot_meeting_count(fake), 1);
    char *text = fake_hubspot_meeting(fake, 0);
    json_t *meeting = json_loads(text, 0, NULL);
    char *contact = fake_hubspot_contact_id(fake, "ada@analytical.example");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(meeting, "contacts"), 0), "id")),
                     contact);
    free(contact);
    json_decref(meeting);
    free(text);
}
END_TEST

START_TEST(test_hubspot_e2e_payment_writes_the_buyers_details_not_only_the_stage)
{
    /* a buyer first seen through a payment: the contact is not nameless */
    post("{\"type\":\"payment.succeeded\",\"source_id\":\"p-1\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"jose@gutierrez.example\",\"first_name\":"
         "\"José María\",\"last_name\":\"Gutiérrez\",\"company\":\"Gutiérrez SL\",\"phone\":"
         "\"+34 600 000 000\"},\"data\":{\"amount\":4900,\"currency\":\"eur\",\"payment\":"
         "\"in_1\"}}");
    long one = 1;
    ck_assert(td_wait_until(deliveries_settled, &one, 30000));
    assert_delivery("p-1", "done");
    char *id = fake_hubspot_contact_id(fake, "jose@gutierrez.example");
    ck_assert_ptr_nonnull(id);
    char *text = fake_hubspot_contact(fake, id);
    json_t *contact = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(contact, "lifecyclestage")), "customer");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "firstname")), "José María");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "lastname")), "Gutiérrez");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "company")), "Gutiérrez SL");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "phone")), "+34 600 000 000");
    json_decref(contact);
    free(text);
    free(id);
}
END_TEST

START_TEST(test_hubspot_e2e_erased_lead_is_gdpr_deleted_from_hubspot_too)
{
    post("{\"type\":\"lead.created\",\"source_id\":\"c-1\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\","
         "\"first_name\":\"Ada\"}}");
    post("{\"type\":\"lead.created\",\"source_id\":\"c-2\",\"occurred_at\":"
         "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"grace@navy.example\"}}");
    long two = 2;
    ck_assert(td_wait_until(deliveries_settled, &two, 30000));
    char *ada = fake_hubspot_contact_id(fake, "ada@analytical.example");
    char *grace = fake_hubspot_contact_id(fake, "grace@navy.example");
    ck_assert_ptr_nonnull(ada);
    ck_assert_ptr_nonnull(grace);

    /* Ada asks to be forgotten (a GDPR request an app reports by her address) */
    post("{\"type\":\"lead.erased\",\"source_id\":\"gdpr-1\",\"occurred_at\":"
         "\"2026-11-28T09:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\"}}");
    long three = 3;
    ck_assert(td_wait_until(deliveries_settled, &three, 30000));
    assert_delivery("gdpr-1", "done");
    ck_assert_str_eq(fake_hubspot_contact_state(fake, ada), "purged");
    ck_assert_str_eq(fake_hubspot_contact_state(fake, grace), "live");
    ck_assert_uint_eq(fake_hubspot_count(fake, "POST", "/crm/v3/objects/contacts/gdpr-delete"), 1);
    /* and the hub's own copy is gone */
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads WHERE email = 'ada@analytical.example'"),
                     0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads WHERE email = 'grace@navy.example'"), 1);
    free(ada);
    free(grace);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("hubspot_e2e_writes");
    TCase *tc = tcase_create("writes");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hubspot_e2e_good_contacts_after_bad_ones_are_written_not_dead_lettered);
    tcase_add_test(tc,
                   test_hubspot_e2e_409_existing_contact_is_updated_and_becomes_the_leads_identity);
    tcase_add_test(tc, test_hubspot_e2e_meeting_whose_creation_answer_was_lost_is_created_once);
    tcase_add_test(tc, test_hubspot_e2e_payment_writes_the_buyers_details_not_only_the_stage);
    tcase_add_test(tc, test_hubspot_e2e_erased_lead_is_gdpr_deleted_from_hubspot_too);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
