/*
 * test_hubspot_e2e_reads.c - what the hubspot plugin reads back from HubSpot lands on the
 * right lead, through the real daemon with PostgreSQL against the fake HubSpot (instance
 * "crm", polling contacts every second; leads posted to "inbound" are routed to it):
 *
 *   - the contact id is the lead's identity: an email a rep changes in HubSpot moves no
 *     event to a second lead, the new address is recorded on the lead, and what the hub
 *     writes later goes to the same contact, not to a new one for the old address;
 *   - a meeting a rep books in HubSpot reaches the hub, polled or notified (object.* of
 *     type 0-47), on the lead of its contact, with HubSpot's outcome as its status (a
 *     no-show, a held meeting); the hub's own engagements are not read back;
 *   - a contact a rep deletes loses its identity: the lead keeps its history and has the
 *     lead.deleted; a later write about the lead makes a new contact;
 *   - two contacts a rep merges, whose leads differed, end as one lead holding both ids
 *     (the merged contact's lead folded into it); the hub's later writes go to the kept
 *     contact, and HubSpot gets no contact back for the merged address.
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

static struct fake_hubspot *fake;
static struct test_daemon td;
static PGconn *db;

static void wait_for(const char *sql);

static void start(const char *pull)
{
    fake = fake_hubspot_start();
    ck_assert_ptr_nonnull(fake);
    td_init(&td, NULL);
    struct hubspot_daemon_options options = {.pull = pull};
    hubspot_daemon_start(&td, fake, &options);
    db = testdb_connect(td.db_url);
    /* the first poll starts its watermark at its own time: what changes after it is read */
    wait_for("SELECT count(*) FROM connector_status WHERE instance = 'crm' AND polls >= 1");
}

static void setup(void)
{
    start("[contacts, meetings]");
}

/* Meetings are not polled: what a notification brings is its own to fetch. */
static void setup_notified(void)
{
    start("[contacts]");
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

static bool sql_is_true(void *arg)
{
    return scalar(arg) == 1;
}

/* Waits until `sql` (a count) is 1. */
static void wait_for(const char *sql)
{
    ck_assert_msg(td_wait_until(sql_is_true, (void *)sql, 30000), "never true: %s", sql);
}

START_TEST(test_hubspot_e2e_email_changed_in_hubspot_stays_on_the_lead_of_the_contact)
{
    /* a contact a rep created in HubSpot: polled in, it makes a lead with its identity */
    char *id = fake_hubspot_contact_add(
        fake, "{\"email\":\"lucas@meridian.example\",\"firstname\":\"Lucas\"}", 0);
    char *sql = util_printf("SELECT count(*) FROM lead_identities i JOIN leads l ON l.id = "
                            "i.lead_id WHERE i.source = 'crm' AND i.external_id = '%s' AND "
                            "l.email = 'lucas@meridian.example'",
                            id);
    wait_for(sql);
    free(sql);
    long lead = scalar("SELECT id FROM leads WHERE email = 'lucas@meridian.example'");

    /* the rep changes the contact's address, and its title */
    fake_hubspot_contact_update(
        fake, id, "{\"email\":\"lucas.ferreira@meridian-bio.example\",\"jobtitle\":\"CFO\"}", 0);
    wait_for("SELECT count(*) FROM leads WHERE title = 'CFO'");
    /* the same lead: no second one for the new address, which is recorded on it */
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads"), 1);
    sql = util_printf("SELECT count(*) FROM lead_addresses WHERE lead_id = %ld AND email = "
                      "'lucas.ferreira@meridian-bio.example'",
                      lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    sql = util_printf("SELECT count(*) FROM events WHERE source = 'crm' AND (lead_id IS NULL OR "
                      "lead_id <> %ld)",
                      lead);
    ck_assert_int_eq(scalar(sql), 0);
    free(sql);

    /* what the hub writes about the lead afterwards goes to that contact by its id: HubSpot
     * gets no second contact for the address the lead had */
    post("{\"type\":\"lead.updated\",\"source_id\":\"u-1\",\"occurred_at\":"
         "\"2030-01-01T00:00:00Z\",\"lead\":{\"email\":\"lucas@meridian.example\",\"phone\":"
         "\"+351 21 000 0000\"}}");
    wait_for("SELECT count(*) FROM deliveries WHERE status = 'done'");
    ck_assert_uint_eq(fake_hubspot_contact_count(fake), 1);
    char *text = fake_hubspot_contact(fake, id);
    json_t *contact = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(contact, "phone")), "+351 21 000 0000");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "email")),
                     "lucas.ferreira@meridian-bio.example");
    json_decref(contact);
    free(text);
    free(id);
}
END_TEST

/* A contact a rep created in HubSpot, polled into a lead; its id (malloc'd) and the lead's
 * in *lead_out. */
static char *polled_contact(const char *email, long *lead_out)
{
    char *properties = util_printf("{\"email\":\"%s\",\"firstname\":\"Ada\"}", email);
    char *id = fake_hubspot_contact_add(fake, properties, 0);
    free(properties);
    char *sql = util_printf("SELECT count(*) FROM lead_identities i JOIN leads l ON l.id = "
                            "i.lead_id WHERE i.source = 'crm' AND i.external_id = '%s'",
                            id);
    wait_for(sql);
    free(sql);
    sql = util_printf("SELECT lead_id FROM lead_identities WHERE source = 'crm' AND external_id "
                      "= '%s'",
                      id);
    *lead_out = scalar(sql);
    free(sql);
    return id;
}

#define REP_MEETING                                                                                \
    "{\"hs_meeting_title\":\"Pricing review\",\"hs_meeting_start_time\":"                          \
    "\"2030-03-01T15:00:00.000Z\",\"hs_meeting_end_time\":\"2030-03-01T15:45:00.000Z\","           \
    "\"hs_timestamp\":\"2030-03-01T15:00:00.000Z\",\"hs_meeting_outcome\":\"SCHEDULED\"}"

START_TEST(test_hubspot_e2e_meeting_booked_in_hubspot_reaches_the_hub_with_its_outcome)
{
    long lead = 0;
    char *contact = polled_contact("ada@analytical.example", &lead);
    /* a rep books a meeting with Ada in HubSpot */
    char *meeting = fake_hubspot_meeting_add(fake, REP_MEETING, contact, 0);
    char *sql = util_printf("SELECT count(*) FROM meetings WHERE source = 'crm' AND external_id = "
                            "'%s' AND status = 'scheduled' AND lead_id = %ld AND title = "
                            "'Pricing review' AND starts_at = '2030-03-01T15:00:00Z'",
                            meeting, lead);
    wait_for(sql);
    free(sql);
    /* Ada did not come: the rep records it, and the hub's meeting says so */
    fake_hubspot_meeting_update(fake, meeting, "{\"hs_meeting_outcome\":\"NO_SHOW\"}", 0);
    sql = util_printf("SELECT count(*) FROM meetings WHERE source = 'crm' AND external_id = '%s' "
                      "AND status = 'no_show'",
                      meeting);
    wait_for(sql);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source = 'crm' AND type = "
                            "'meeting.no_show'"),
                     1);

    /* a meeting the hub wrote into HubSpot is not read back as a second meeting */
    post("{\"type\":\"meeting.scheduled\",\"source_id\":\"cal-1\",\"occurred_at\":"
         "\"2026-11-27T10:05:00Z\",\"lead\":{\"email\":\"ada@analytical.example\"},"
         "\"meeting\":{\"external_id\":\"7f3a\",\"title\":\"Intro call\",\"starts_at\":"
         "\"2030-04-01T15:00:00Z\",\"ends_at\":\"2030-04-01T15:30:00Z\",\"attendees\":[{"
         "\"email\":\"ada@analytical.example\"}]}}");
    wait_for("SELECT count(*) FROM deliveries WHERE status = 'done'");
    ck_assert_uint_eq(fake_hubspot_meeting_count(fake), 2);
    long target = scalar("SELECT max(polls) FROM connector_status WHERE instance = 'crm'") + 3;
    sql = util_printf("SELECT count(*) FROM connector_status WHERE instance = 'crm' AND polls >= "
                      "%ld",
                      target);
    wait_for(sql);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM meetings WHERE source = 'crm'"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM meetings"), 2);
    free(meeting);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_e2e_meeting_notification_is_fetched_by_the_poll_it_brings)
{
    long lead = 0;
    char *contact = polled_contact("grace@navy.example", &lead);
    long polls = scalar("SELECT max(polls) FROM connector_status WHERE instance = 'crm'");
    /* polling meetings is off here: only the notification brings it */
    char *meeting = fake_hubspot_meeting_add(fake, REP_MEETING, contact, 0);
    fake_hubspot_meeting_update(fake, meeting, "{\"hs_meeting_outcome\":\"COMPLETED\"}", 0);
    char *body = util_printf("[{\"eventId\":4401,\"subscriptionType\":\"object.propertyChange\","
                             "\"objectTypeId\":\"0-47\",\"objectId\":%s,\"propertyName\":"
                             "\"hs_meeting_outcome\",\"propertyValue\":\"COMPLETED\","
                             "\"occurredAt\":%lld}]",
                             meeting, (long long)util_now_ms());
    char *answer = NULL;
    ck_assert_int_eq(hubspot_daemon_post_signed(&td, HD_WEBHOOK_SECRET, body, &answer), 200);
    free(answer);
    char *sql = util_printf("SELECT count(*) FROM meetings WHERE source = 'crm' AND external_id = "
                            "'%s' AND status = 'held' AND lead_id = %ld",
                            meeting, lead);
    wait_for(sql);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source = 'crm' AND type = "
                            "'meeting.held'"),
                     1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_notifications"), 0);
    /* no meeting search was made: the notification alone brought it */
    ck_assert_uint_eq(fake_hubspot_count(fake, "POST", "/crm/v3/objects/meetings/search"), 0);
    (void)polls;
    free(body);
    free(meeting);
    free(contact);
}
END_TEST

/* HubSpot's webhook for what a rep did to contacts, signed, answered 200. */
static void notify(const char *body)
{
    char *answer = NULL;
    ck_assert_int_eq(hubspot_daemon_post_signed(&td, HD_WEBHOOK_SECRET, body, &answer), 200);
    free(answer);
}

START_TEST(test_hubspot_e2e_contact_deleted_in_hubspot_loses_its_identity_and_keeps_its_history)
{
    long lead = 0;
    char *contact = polled_contact("ada@analytical.example", &lead);
    fake_hubspot_contact_delete(fake, contact);
    char *body = util_printf("[{\"eventId\":6101,\"subscriptionId\":2841907,\"portalId\":"
                             "44817302,\"appId\":4210286,\"occurredAt\":%lld,"
                             "\"subscriptionType\":\"contact.deletion\",\"attemptNumber\":0,"
                             "\"objectId\":%s,\"changeFlag\":\"DELETED\",\"changeSource\":"
                             "\"CRM_UI\",\"sourceId\":\"userId:71244960\"}]",
                             (long long)util_now_ms(), contact);
    notify(body);
    char *sql = util_printf("SELECT count(*) FROM events WHERE source = 'crm' AND type = "
                            "'lead.deleted' AND lead_id = %ld",
                            lead);
    wait_for(sql);
    free(sql);
    /* the id names nobody now; the lead, its fields and its history stay */
    sql = util_printf("SELECT count(*) FROM lead_identities WHERE source = 'crm' AND "
                      "external_id = '%s'",
                      contact);
    ck_assert_int_eq(scalar(sql), 0);
    free(sql);
    sql = util_printf("SELECT count(*) FROM leads WHERE id = %ld AND email = "
                      "'ada@analytical.example' AND first_name = 'Ada'",
                      lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    sql = util_printf("SELECT count(*) FROM events WHERE lead_id = %ld AND type = 'lead.updated'",
                      lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    /* the same notification again changes nothing */
    notify(body);
    long polls = scalar("SELECT max(polls) FROM connector_status WHERE instance = 'crm'") + 2;
    sql = util_printf("SELECT count(*) FROM connector_status WHERE instance = 'crm' AND polls >= "
                      "%ld",
                      polls);
    wait_for(sql);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'lead.deleted'"), 1);
    /* the lead becomes active again: the hub's write makes a new contact (documented) */
    post("{\"type\":\"lead.updated\",\"source_id\":\"u-del\",\"occurred_at\":"
         "\"2030-01-01T00:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\",\"title\":"
         "\"CTO\"}}");
    wait_for("SELECT count(*) FROM deliveries WHERE status = 'done'");
    char *again = fake_hubspot_contact_id(fake, "ada@analytical.example");
    ck_assert_ptr_nonnull(again);
    ck_assert_str_ne(again, contact);
    free(again);
    free(body);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_e2e_contacts_merged_in_hubspot_become_one_lead)
{
    long kept_lead = 0, merged_lead = 0;
    char *kept = polled_contact("ada@analytical.example", &kept_lead);
    char *merged = polled_contact("ada.lovelace@work.example", &merged_lead);
    ck_assert_int_ne(kept_lead, merged_lead);
    /* a rep merges the second into the first; HubSpot says so with its merge fields */
    fake_hubspot_contact_merge(fake, kept, merged);
    char *body = util_printf("[{\"eventId\":6201,\"subscriptionId\":2841907,\"portalId\":"
                             "44817302,\"appId\":4210286,\"occurredAt\":%lld,"
                             "\"subscriptionType\":\"contact.merge\",\"attemptNumber\":0,"
                             "\"objectId\":%s,\"changeFlag\":\"MERGED\",\"changeSource\":"
                             "\"CRM_UI\",\"sourceId\":\"userId:71244960\",\"primaryObjectId\":%s,"
                             "\"mergedObjectIds\":[%s],\"newObjectId\":%s,"
                             "\"numberOfPropertiesMoved\":1}]",
                             (long long)util_now_ms(), kept, kept, merged, kept);
    notify(body);
    char *sql = util_printf("SELECT count(*) FROM lead_identities WHERE source = 'crm' AND "
                            "external_id = '%s' AND lead_id = %ld",
                            merged, kept_lead);
    wait_for(sql);
    free(sql);
    /* one lead: the merged contact's lead folded in, its history and address with it */
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads"), 1);
    sql = util_printf("SELECT count(*) FROM lead_identities WHERE source = 'crm' AND "
                      "external_id = '%s' AND lead_id = %ld",
                      kept, kept_lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    sql = util_printf("SELECT count(*) FROM events WHERE lead_id = %ld AND type IN "
                      "('lead.updated', 'lead.merged')",
                      kept_lead);
    ck_assert_int_ge(scalar(sql), 3);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE lead_id IS NULL"), 0);
    sql = util_printf("SELECT count(*) FROM lead_addresses WHERE lead_id = %ld AND email = "
                      "'ada.lovelace@work.example'",
                      kept_lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    /* what the hub writes about that person later goes to the kept contact; HubSpot gets
     * no contact back for the merged address */
    post("{\"type\":\"lead.updated\",\"source_id\":\"u-merge\",\"occurred_at\":"
         "\"2030-01-01T00:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\",\"title\":"
         "\"CTO\"}}");
    wait_for("SELECT count(*) FROM deliveries WHERE status = 'done'");
    ck_assert_ptr_null(fake_hubspot_contact_id(fake, "ada.lovelace@work.example"));
    char *text = fake_hubspot_contact(fake, kept);
    json_t *contact = json_loads(text, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(contact, "jobtitle")), "CTO");
    json_decref(contact);
    free(text);
    free(body);
    free(kept);
    free(merged);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("hubspot_e2e_reads");
    TCase *tc = tcase_create("reads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_hubspot_e2e_email_changed_in_hubspot_stays_on_the_lead_of_the_contact);
    tcase_add_test(tc, test_hubspot_e2e_meeting_booked_in_hubspot_reaches_the_hub_with_its_outcome);
    suite_add_tcase(s, tc);
    TCase *records = tcase_create("records");
    tcase_add_checked_fixture(records, setup_notified, teardown);
    tcase_set_timeout(records, 120);
    tcase_add_test(
        records,
        test_hubspot_e2e_contact_deleted_in_hubspot_loses_its_identity_and_keeps_its_history);
    tcase_add_test(records, test_hubspot_e2e_contacts_merged_in_hubspot_become_one_lead);
    suite_add_tcase(s, records);
    TCase *notified = tcase_create("notified");
    tcase_add_checked_fixture(notified, setup_notified, teardown);
    tcase_set_timeout(notified, 120);
    tcase_add_test(notified,
                   test_hubspot_e2e_meeting_notification_is_fetched_by_the_poll_it_brings);
    suite_add_tcase(s, notified);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
