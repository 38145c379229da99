/*
 * test_hubspot_sink.c - the hubspot plugin as a sink: the built hubspot.so through the real
 * loader, validator and instance wrappers, against the fake HubSpot (tests/lib/
 * fake_hubspot.h), with a real database for lead identities and checkpoints. Every
 * mapping, merging and splitting batches, 207 and 400 answers, rate limits, meetings, and
 * init refusals.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubspot_harness.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define UPSERT   "/crm/v3/objects/contacts/batch/upsert"
#define MEETINGS "/crm/v3/objects/meetings"

static struct hubspot_harness h;

static void setup(void)
{
    hh_setup(&h);
}

static void teardown(void)
{
    hh_teardown(&h);
}

static json_t *lead_event(const char *type, const char *source_id, const char *email)
{
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "type", type, "source",
                  "linkedin", "source_id", source_id, "occurred_at", "2026-11-27T10:42:00.000Z",
                  "lead", "email", email, "first_name", "Ada", "last_name", "Lovelace", "company",
                  "Analytical Engines", "title", "VP Engineering", "phone", "+44 20 7946 0000");
    ck_assert_ptr_nonnull(event);
    return event;
}

static json_t *meeting_event(const char *type, const char *starts_at, const char *attendee)
{
    json_t *event = json_pack(
        "{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:[{s:s}, {s:s}, {s:s}],"
        " s:s}}",
        "type", type, "source", "calendar", "source_id", type, "occurred_at",
        "2026-11-27T10:42:00.000Z", "lead", "email", "ada@analytical.example", "meeting",
        "external_id", "7f3a", "title", "Intro call", "starts_at", starts_at, "ends_at",
        "2026-12-28T15:30:00.000Z", "location", "Google Meet", "online_url",
        "https://meet.example/abc", "attendees", "email", "ada@analytical.example", "email",
        "rep@ourco.example", "email", attendee, "status", "scheduled");
    ck_assert_ptr_nonnull(event);
    return event;
}

/* The body HubSpot received for the nth upsert. */
static json_t *upsert_body(size_t nth)
{
    return hh_request_json(&h, "POST", UPSERT, nth);
}

static void assert_json_eq(const json_t *actual, const char *expected_text)
{
    json_t *expected = json_loads(expected_text, 0, NULL);
    ck_assert_msg(expected != NULL, "bad expectation %s", expected_text);
    char *a = json_dumps(actual, JSON_COMPACT | JSON_SORT_KEYS);
    char *e = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_msg(json_equal(actual, expected), "got      %s\nexpected %s", a, e);
    free(a);
    free(e);
    json_decref(expected);
}

/* The hubspot identity of a lead, malloc'd, or NULL. */
static char *identity_of(long lead)
{
    char *sql = util_printf("SELECT max(external_id) FROM lead_identities WHERE source = '%s' AND "
                            "lead_id = %ld",
                            HH_INSTANCE, lead);
    char *id = testdb_text(h.db, sql);
    free(sql);
    return id;
}

START_TEST(test_hubspot_descriptor_is_an_ordered_source_and_sink)
{
    const lh_plugin_t *desc = h.plugin->desc;
    ck_assert_uint_eq(desc->kind, LH_KIND_SOURCE | LH_KIND_SINK);
    /* ordered deliveries; a webhook that never waits behind a poll */
    ck_assert_uint_eq(desc->flags, LH_PLUGIN_ORDERED | LH_PLUGIN_WEBHOOK_CONCURRENT);
    ck_assert_ptr_nonnull(desc->validate);
    ck_assert_str_eq(h.plugin->webhook_signature_headers[0], "X-HubSpot-Signature-v3");
    ck_assert_str_eq(desc->name, "hubspot");
    ck_assert_ptr_nonnull(desc->poll);
    ck_assert_ptr_nonnull(desc->webhook);
    ck_assert_ptr_nonnull(desc->deliver);
    ck_assert_ptr_nonnull(desc->deliver_batch);
    ck_assert_str_eq(desc->event_types[0], "lead.updated");
    ck_assert_str_eq(desc->event_types[1], "lead.deleted");
    ck_assert_str_eq(desc->event_types[2], "lead.merged");
    ck_assert_str_eq(desc->event_types[3], "deal.stage_changed");
    /* meetings read back, with every outcome HubSpot records */
    static const char *const meetings[] = {"meeting.scheduled",   "meeting.updated",
                                           "meeting.rescheduled", "meeting.canceled",
                                           "meeting.held",        "meeting.no_show"};
    for (size_t i = 0; i < sizeof(meetings) / sizeof(meetings[0]); i++) {
        ck_assert_str_eq(desc->event_types[4 + i], meetings[i]);
    }
    ck_assert_str_eq(desc->event_types[10], "lead.erased");
    ck_assert_ptr_null(desc->event_types[11]);
    desc->destroy(NULL); /* must not crash */
}
END_TEST

START_TEST(test_hubspot_lead_created_upserts_the_contact_by_email_and_stores_its_identity)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    long lead = hh_lead(&h, "ada@analytical.example");
    json_t *event = lead_event("lead.created", "form-1", "ada@analytical.example");
    ck_assert_int_eq(hh_deliver(&h, event, lead, NULL, NULL), LH_OK);
    json_t *body = upsert_body(0);
    assert_json_eq(body, "{\"inputs\":[{\"idProperty\":\"email\",\"id\":\"ada@analytical.example\","
                         "\"properties\":{\"email\":\"ada@analytical.example\",\"firstname\":"
                         "\"Ada\",\"lastname\":\"Lovelace\",\"company\":\"Analytical Engines\","
                         "\"jobtitle\":\"VP Engineering\",\"phone\":\"+44 20 7946 0000\"}}]}");
    struct fake_hubspot_request request = fake_hubspot_find(h.fake, "POST", UPSERT, 0);
    ck_assert_str_eq(request.authorization, "Bearer " HH_TOKEN);
    fake_hubspot_request_free(&request);
    char *contact = fake_hubspot_contact_id(h.fake, "ada@analytical.example");
    ck_assert_ptr_nonnull(contact);
    char *identity = identity_of(lead);
    ck_assert_str_eq(identity, contact);
    free(identity);
    free(contact);
    json_decref(body);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_lead_updated_and_customer_created_upsert_the_same_contact)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    long lead = hh_lead(&h, "ada@analytical.example");
    const char *types[] = {"lead.updated", "customer.created"};
    for (size_t i = 0; i < 2; i++) {
        json_t *event = lead_event(types[i], types[i], "ada@analytical.example");
        ck_assert_int_eq(hh_deliver(&h, event, lead, NULL, NULL), LH_OK);
        json_decref(event);
    }
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 2);
    ck_assert_uint_eq(fake_hubspot_contact_count(h.fake), 1);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM lead_identities"), 1);
}
END_TEST

START_TEST(test_hubspot_property_map_overrides_the_defaults_and_maps_attributes)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "property_map",
                        json_pack("{s:n, s:s, s:s}", "title", "linkedin_url", "hs_linkedin_url",
                                  "attributes.tier", "leadhub_tier"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    json_t *event = lead_event("lead.created", "form-1", "ada@analytical.example");
    json_t *lead = json_object_get(event, "lead");
    json_object_set_new(lead, "linkedin_url", json_string("https://linkedin.example/in/ada"));
    json_object_set_new(lead, "attributes", json_pack("{s:s, s:i}", "tier", "gold", "seats", 25));
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    json_t *body = upsert_body(0);
    assert_json_eq(
        json_object_get(json_array_get(json_object_get(body, "inputs"), 0), "properties"),
        "{\"email\":\"ada@analytical.example\",\"firstname\":\"Ada\",\"lastname\":"
        "\"Lovelace\",\"company\":\"Analytical Engines\",\"phone\":\"+44 20 7946 "
        "0000\",\"hs_linkedin_url\":\"https://linkedin.example/in/ada\","
        "\"leadhub_tier\":\"gold\"}");
    json_decref(body);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_lead_scored_writes_the_scorers_property)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "score_properties", json_pack("{s:s}", "fit", "leadhub_fit"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    json_t *event = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:i, s:s}}", "type",
                              "lead.scored", "source", "scoring", "source_id", "s-1", "occurred_at",
                              "2026-11-27T10:42:00.000Z", "lead", "email", "ada@analytical.example",
                              "data", "scorer", "fit", "score", 72, "band", "hot");
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    json_t *body = upsert_body(0);
    assert_json_eq(body, "{\"inputs\":[{\"idProperty\":\"email\",\"id\":\"ada@analytical.example\","
                         "\"properties\":{\"leadhub_fit\":\"72\",\"email\":"
                         "\"ada@analytical.example\"}}]}");
    json_decref(body);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_lead_scored_by_an_unmapped_scorer_is_done_without_a_request)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "score_properties", json_pack("{s:s}", "fit", "leadhub_fit"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:i}}", "type", "lead.scored", "source",
                  "scoring", "source_id", "s-1", "occurred_at", "2026-11-27T10:42:00.000Z", "lead",
                  "email", "ada@analytical.example", "data", "scorer", "intent", "score", 40);
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    ck_assert_int_eq(hh_metric(&h, "hubspot_skipped_total", "reason", "unmapped_scorer"), 1);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_another_sources_deleted_or_merged_record_is_done_without_a_request)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *deleted = json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "type", "lead.deleted", "source",
                                "billing", "source_id", "d-1", "occurred_at",
                                "2026-11-27T10:42:00.000Z", "lead", "external_id", "cus_X");
    json_t *merged =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:[s]}}", "type", "lead.merged", "source",
                  "billing", "source_id", "m-1", "occurred_at", "2026-11-27T10:42:00.000Z", "lead",
                  "external_id", "cus_X", "data", "merged_external_ids", "cus_Y");
    ck_assert_int_eq(hh_deliver(&h, deleted, 0, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_deliver(&h, merged, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    ck_assert_int_eq(hh_metric(&h, "hubspot_skipped_total", "reason", "record_event"), 2);
    json_decref(deleted);
    json_decref(merged);
}
END_TEST

/* A lead.erased as the dispatcher hands it over: the stored event keeps only the lead's ids
 * (docs/events.md, "Erasure"), and the resolved lead names its identities. NEW. */
static json_t *erased_event(const char *source_id)
{
    json_t *event = json_pack("{s:s, s:s, s:s, s:s, s:{s:i}}", "type", "lead.erased", "source",
                              "linkedin", "source_id", source_id, "occurred_at",
                              "2026-11-27T10:42:00.000Z", "lead", "id", 42);
    ck_assert_ptr_nonnull(event);
    return event;
}

static json_t *erased_lead(const char *contact)
{
    json_t *lead =
        contact != NULL
            ? json_pack("{s:i, s:n, s:[{s:s, s:s}], s:[]}", "id", 42, "email", "identities",
                        "source", HH_INSTANCE, "external_id", contact, "addresses")
            : json_pack("{s:i, s:n, s:[], s:[]}", "id", 42, "email", "identities", "addresses");
    ck_assert_ptr_nonnull(lead);
    return lead;
}

START_TEST(test_hubspot_lead_erased_gdpr_deletes_the_leads_contact_by_its_id)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    char *other = fake_hubspot_contact_add(h.fake, "{\"email\":\"grace@navy.example\"}", 0);
    json_t *event = erased_event("erase-1");
    json_t *resolved = erased_lead(contact);
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, resolved, NULL), LH_OK);
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, contact), "purged");
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, other), "live");
    json_t *body = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/gdpr-delete", 0);
    /* by its id, never by email (HubSpot would blocklist an address it does not know) */
    ck_assert_str_eq(json_string_value(json_object_get(body, "objectId")), contact);
    ck_assert_ptr_null(json_object_get(body, "idProperty"));
    json_decref(body);
    ck_assert_int_eq(hh_metric(&h, "hubspot_erasures_total", "action", "gdpr_delete"), 1);
    /* nothing else was asked of HubSpot: no write brought the contact back */
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 1);

    /* delivered again (a lost answer, a replay): HubSpot has it no more, which is done */
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, resolved, NULL), LH_OK);
    ck_assert_int_eq(hh_metric(&h, "hubspot_erasures_total", "action", "already_gone"), 1);

    /* a lead this instance never wrote nor read: nothing to find the contact by */
    json_t *unknown = erased_lead(NULL);
    json_object_set_new(event, "source_id", json_string("erase-2"));
    size_t before = fake_hubspot_request_count(h.fake);
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, unknown, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), before);
    ck_assert_int_eq(hh_metric(&h, "hubspot_skipped_total", "reason", "erased_unknown"), 1);
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, other), "live");
    json_decref(unknown);
    json_decref(resolved);
    json_decref(event);
    free(contact);
    free(other);
}
END_TEST

START_TEST(test_hubspot_lead_erased_archives_or_keeps_the_contact_as_on_erased_says)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "on_erased", json_string("archive"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    json_t *event = erased_event("erase-1");
    json_t *resolved = erased_lead(contact);
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, resolved, NULL), LH_OK);
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, contact), "archived");
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "DELETE", "/crm/v3/objects/contacts/"), 1);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", "/crm/v3/objects/contacts/gdpr-delete"),
                      0);
    json_decref(resolved);
    json_decref(event);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_lead_erased_with_on_erased_keep_asks_nothing)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "on_erased", json_string("keep"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    json_t *event = erased_event("erase-1");
    json_t *resolved = erased_lead(contact);
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, resolved, NULL), LH_OK);
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, contact), "live");
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    ck_assert_int_eq(hh_metric(&h, "hubspot_skipped_total", "reason", "erasure_kept"), 1);
    json_decref(resolved);
    json_decref(event);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_lead_erased_after_an_update_in_one_batch_is_not_written_back)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    json_t *update = lead_event("lead.updated", "u-1", "ada@analytical.example");
    json_t *erase = erased_event("erase-1");
    /* no resolved lead here: the event's own lead.external_ids names the contact */
    json_object_set_new(json_object_get(erase, "lead"), "external_ids",
                        json_pack("{s:s}", HH_INSTANCE, contact));
    json_t *const events[] = {erase, update};
    const long leads[] = {0, 0};
    lh_status_t results[2];
    char *messages[2] = {NULL, NULL};
    hh_deliver_batch(&h, events, leads, 2, results, messages, NULL);
    ck_assert_int_eq(results[0], LH_OK);
    ck_assert_int_eq(results[1], LH_OK);
    /* the update went first, the erasure last, whatever their order in the batch */
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 2);
    struct fake_hubspot_request last = fake_hubspot_request(h.fake, 1);
    ck_assert_str_eq(last.path, "/crm/v3/objects/contacts/gdpr-delete");
    fake_hubspot_request_free(&last);
    ck_assert_str_eq(fake_hubspot_contact_state(h.fake, contact), "purged");
    free(messages[0]);
    free(messages[1]);
    json_decref(update);
    json_decref(erase);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_payment_succeeded_makes_the_contact_a_customer_with_the_buyers_details)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    /* a buyer first seen through the payment: the contact gets what the event says */
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:{s:i, s:s}}", "type",
                  "payment.succeeded", "source", "stripe", "source_id", "evt_1", "occurred_at",
                  "2026-11-27T10:42:00.000Z", "lead", "email", "ada@analytical.example",
                  "first_name", "Ada", "last_name", "Lovelace", "company", "Analytical Engines",
                  "phone", "+44 20 7946 0000", "data", "amount", 4900, "currency", "eur");
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    json_t *body = upsert_body(0);
    assert_json_eq(body, "{\"inputs\":[{\"idProperty\":\"email\",\"id\":\"ada@analytical.example\","
                         "\"properties\":{\"lifecyclestage\":\"customer\",\"email\":"
                         "\"ada@analytical.example\",\"firstname\":\"Ada\",\"lastname\":"
                         "\"Lovelace\",\"company\":\"Analytical Engines\",\"phone\":"
                         "\"+44 20 7946 0000\"}}]}");
    json_decref(body);
    /* paid by the accounts department for a known lead: the lead's contact becomes the
     * customer, and the payer's name is not written onto it */
    json_t *lead =
        json_pack("{s:i, s:s, s:s}", "id", 7, "email", "grace@navy.example", "first_name", "Grace");
    json_object_set_new(json_object_get(event, "lead"), "email",
                        json_string("accounts@navy.example"));
    json_object_set_new(json_object_get(event, "lead"), "first_name", json_string("Payables"));
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 7, lead, NULL), LH_OK);
    body = upsert_body(1);
    assert_json_eq(body, "{\"inputs\":[{\"idProperty\":\"email\",\"id\":\"grace@navy.example\","
                         "\"properties\":{\"lifecyclestage\":\"customer\",\"email\":"
                         "\"grace@navy.example\"}}]}");
    json_decref(body);
    json_decref(lead);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_batch_merges_the_events_of_one_contact_into_one_input)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "score_properties", json_pack("{s:s}", "fit", "leadhub_fit"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    json_t *events[3];
    events[0] = lead_event("lead.created", "f-1", "ada@analytical.example");
    events[1] =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s, s:i}}", "type", "lead.scored", "source",
                  "scoring", "source_id", "s-1", "occurred_at", "2026-11-27T10:43:00.000Z", "lead",
                  "email", "ADA@analytical.example", "data", "scorer", "fit", "score", 64);
    events[2] = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "type", "lead.updated", "source",
                          "linkedin", "source_id", "f-2", "occurred_at", "2026-11-27T10:44:00.000Z",
                          "lead", "email", "ada@analytical.example", "title", "CTO");
    lh_status_t results[3];
    char *messages[3];
    long leads[3] = {7, 7, 7};
    leads[0] = leads[1] = leads[2] = hh_lead(&h, "ada@analytical.example");
    hh_deliver_batch(&h, events, leads, 3, results, messages, NULL);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(results[i], LH_OK);
        free(messages[i]);
        json_decref(events[i]);
    }
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 1);
    json_t *body = upsert_body(0);
    assert_json_eq(body, "{\"inputs\":[{\"idProperty\":\"email\",\"id\":\"ada@analytical.example\","
                         "\"properties\":{\"email\":\"ada@analytical.example\",\"firstname\":"
                         "\"Ada\",\"lastname\":\"Lovelace\",\"company\":\"Analytical Engines\","
                         "\"jobtitle\":\"CTO\",\"phone\":\"+44 20 7946 0000\",\"leadhub_fit\":"
                         "\"64\"}}]}");
    json_decref(body);
}
END_TEST

START_TEST(test_hubspot_batch_is_split_into_requests_of_batch_size)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "batch_size", json_integer(2));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    ck_assert_uint_eq(h.instance.batch_size, 2);
    json_t *events[5];
    lh_status_t results[5];
    char *messages[5];
    for (size_t i = 0; i < 5; i++) {
        char email[32];
        snprintf(email, sizeof(email), "p%zu@example.com", i);
        events[i] = lead_event("lead.created", email, email);
    }
    /* more than the batch size in one call: the plugin still sends at most two a request */
    hh_deliver_batch(&h, events, NULL, 5, results, messages, NULL);
    const size_t expected_sizes[] = {2, 2, 1};
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 3);
    for (size_t r = 0; r < 3; r++) {
        json_t *body = upsert_body(r);
        ck_assert_uint_eq(json_array_size(json_object_get(body, "inputs")), expected_sizes[r]);
        json_decref(body);
    }
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(results[i], LH_OK);
        free(messages[i]);
        json_decref(events[i]);
    }
    ck_assert_uint_eq(fake_hubspot_contact_count(h.fake), 5);
}
END_TEST

START_TEST(test_hubspot_207_fails_only_the_refused_inputs)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_reject_email(h.fake, "bad@example.com", "VALIDATION_ERROR",
                              "Property values were not valid: phone \"abc\" is not a number", 0);
    fake_hubspot_reject_email(h.fake, "busy@example.com", "INTERNAL_ERROR",
                              "Something went wrong on our side", 1);
    const char *emails[] = {"ok1@example.com", "bad@example.com", "busy@example.com",
                            "ok2@example.com"};
    json_t *events[4];
    long leads[4];
    lh_status_t results[4];
    char *messages[4];
    for (size_t i = 0; i < 4; i++) {
        events[i] = lead_event("lead.created", emails[i], emails[i]);
        leads[i] = hh_lead(&h, emails[i]);
    }
    hh_deliver_batch(&h, events, leads, 4, results, messages, NULL);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 1);
    ck_assert_int_eq(results[0], LH_OK);
    ck_assert_int_eq(results[1], LH_PERMANENT);
    ck_assert_str_eq(messages[1], "HubSpot refused this contact: VALIDATION_ERROR: Property values "
                                  "were not valid: phone \"abc\" is not a number");
    ck_assert_int_eq(results[2], LH_RETRY);
    ck_assert_str_eq(
        messages[2],
        "HubSpot refused this contact: INTERNAL_ERROR: Something went wrong on our side");
    ck_assert_int_eq(results[3], LH_OK);
    for (size_t i = 0; i < 4; i++) {
        char *identity = identity_of(leads[i]);
        char *contact = fake_hubspot_contact_id(h.fake, emails[i]);
        if (results[i] == LH_OK) {
            ck_assert_str_eq(identity, contact);
        } else {
            ck_assert_ptr_null(identity);
        }
        free(identity);
        free(contact);
        free(messages[i]);
        json_decref(events[i]);
    }
}
END_TEST

#define READ_CONTACTS "/crm/v3/objects/contacts/batch/read"

/* Three leads delivered in one batch while the fake answers upserts with anonymous results
 * (no emails, reverse order). */
static void deliver_three_anonymous(const char *const *emails, long *leads, lh_status_t *results,
                                    char **messages)
{
    json_t *events[3];
    for (size_t i = 0; i < 3; i++) {
        events[i] = lead_event("lead.created", emails[i], emails[i]);
        leads[i] = hh_lead(&h, emails[i]);
    }
    fake_hubspot_anonymous_upserts(h.fake, true);
    hh_deliver_batch(&h, events, leads, 3, results, messages, NULL);
    for (size_t i = 0; i < 3; i++) {
        json_decref(events[i]);
    }
}

START_TEST(test_hubspot_upsert_results_without_emails_are_matched_by_email_not_position)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    const char *emails[] = {"ada@analytical.example", "grace@navy.example",
                            "lucas@meridian.example"};
    long leads[3];
    lh_status_t results[3];
    char *messages[3];
    deliver_three_anonymous(emails, leads, results, messages);
    /* the answer's order says nothing: one read by email tells which contact is whose */
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 1);
    json_t *read = hh_request_json(&h, "POST", READ_CONTACTS, 0);
    ck_assert_str_eq(json_string_value(json_object_get(read, "idProperty")), "email");
    ck_assert_uint_eq(json_array_size(json_object_get(read, "inputs")), 3);
    json_decref(read);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(results[i] == LH_OK, "%s: %s", emails[i], messages[i]);
        char *identity = identity_of(leads[i]);
        char *contact = fake_hubspot_contact_id(h.fake, emails[i]);
        ck_assert_str_eq(identity, contact);
        free(identity);
        free(contact);
        free(messages[i]);
    }
    /* a lone input and a lone result belong together: no read needed */
    json_t *event = lead_event("lead.updated", "f-4", "ada@analytical.example");
    ck_assert_int_eq(hh_deliver(&h, event, leads[0], NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 1);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_upsert_results_nobody_can_match_are_retried_not_guessed)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_fail(h.fake, "POST", READ_CONTACTS, 503, "{}", NULL, 1);
    const char *emails[] = {"ada@analytical.example", "grace@navy.example",
                            "lucas@meridian.example"};
    long leads[3];
    lh_status_t results[3];
    char *messages[3];
    deliver_three_anonymous(emails, leads, results, messages);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(results[i], LH_RETRY);
        ck_assert_ptr_nonnull(strstr(messages[i], "does not say which contact"));
        char *identity = identity_of(leads[i]);
        ck_assert_ptr_null(identity); /* no lead gets another's contact id */
        free(messages[i]);
    }
}
END_TEST

START_TEST(test_hubspot_upsert_result_lacking_its_email_is_looked_up_not_given_to_the_input_left)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    /* two results say whose they are; lucas's does not. One input is left, one result:
     * still only the email lookup may say that the result is lucas's */
    fake_hubspot_anonymous_upsert_of(h.fake, "lucas@meridian.example");
    fake_hubspot_fail(h.fake, "POST", READ_CONTACTS, 503, "{}", NULL, 1);
    const char *emails[] = {"lucas@meridian.example", "ada@analytical.example",
                            "grace@navy.example"};
    json_t *events[3];
    long leads[3];
    lh_status_t results[3];
    char *messages[3];
    for (size_t i = 0; i < 3; i++) {
        events[i] = lead_event("lead.created", emails[i], emails[i]);
        leads[i] = hh_lead(&h, emails[i]);
    }
    hh_deliver_batch(&h, events, leads, 3, results, messages, NULL);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 1);
    json_t *read = hh_request_json(&h, "POST", READ_CONTACTS, 0);
    assert_json_eq(json_object_get(read, "inputs"), "[{\"id\":\"lucas@meridian.example\"}]");
    json_decref(read);
    ck_assert_int_eq(results[0], LH_RETRY);
    ck_assert_ptr_nonnull(strstr(messages[0], "does not say which contact"));
    char *identity = identity_of(leads[0]);
    ck_assert_ptr_null(identity);
    for (size_t i = 1; i < 3; i++) {
        ck_assert_msg(results[i] == LH_OK, "%s: %s", emails[i], messages[i]);
        identity = identity_of(leads[i]);
        char *contact = fake_hubspot_contact_id(h.fake, emails[i]);
        ck_assert_str_eq(identity, contact);
        free(identity);
        free(contact);
    }
    for (size_t i = 0; i < 3; i++) {
        free(messages[i]);
        messages[i] = NULL;
    }

    /* the retry, with the lookup answering: lucas gets his own contact */
    hh_deliver_batch(&h, events, leads, 3, results, messages, NULL);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 2);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_msg(results[i] == LH_OK, "%s: %s", emails[i], messages[i]);
        identity = identity_of(leads[i]);
        char *contact = fake_hubspot_contact_id(h.fake, emails[i]);
        ck_assert_str_eq(identity, contact);
        free(identity);
        free(contact);
        free(messages[i]);
        json_decref(events[i]);
    }
}
END_TEST

START_TEST(test_hubspot_400_naming_one_input_resends_the_others)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_reject_whole_request(h.fake, true);
    /* an address leadhub accepts and HubSpot's stricter check refuses */
    fake_hubspot_reject_email(h.fake, "lucas@meridian", "VALIDATION_ERROR", NULL, 0);
    const char *emails[] = {"a@example.com", "lucas@meridian", "b@example.com"};
    json_t *events[3];
    lh_status_t results[3];
    char *messages[3];
    for (size_t i = 0; i < 3; i++) {
        events[i] = lead_event("lead.created", emails[i], emails[i]);
    }
    hh_deliver_batch(&h, events, NULL, 3, results, messages, NULL);
    ck_assert_int_eq(results[0], LH_OK);
    ck_assert_int_eq(results[2], LH_OK);
    ck_assert_int_eq(results[1], LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(messages[1], "Email address lucas@meridian is invalid"));
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 2);
    json_t *second = upsert_body(1);
    ck_assert_uint_eq(json_array_size(json_object_get(second, "inputs")), 2);
    json_decref(second);
    for (size_t i = 0; i < 3; i++) {
        free(messages[i]);
        json_decref(events[i]);
    }
}
END_TEST

/* HubSpot's 400 for an invalid property value: it names the property, not the input. */
#define INVALID_PHONE_MESSAGE                                                                      \
    "Property values were not valid: [{\"isValid\":false,\"message\":\"N/A is not a valid "        \
    "phone number\",\"error\":\"INVALID_PHONE_NUMBER\",\"name\":\"phone\"}]"

#define NARROW_MAX 8

/* Delivers leads of `emails` in one batch and checks that the emails whose bit is set in
 * `bad` failed, permanently with HubSpot's message, and every other contact was written
 * and linked. */
static void assert_only_these_fail(const char *const *emails, size_t n, unsigned bad)
{
    json_t *events[NARROW_MAX];
    long leads[NARROW_MAX];
    lh_status_t results[NARROW_MAX];
    char *messages[NARROW_MAX];
    ck_assert_uint_le(n, NARROW_MAX);
    for (size_t i = 0; i < n; i++) {
        events[i] = lead_event("lead.created", emails[i], emails[i]);
        leads[i] = hh_lead(&h, emails[i]);
    }
    hh_deliver_batch(&h, events, leads, n, results, messages, NULL);
    for (size_t i = 0; i < n; i++) {
        char *contact = fake_hubspot_contact_id(h.fake, emails[i]);
        char *identity = identity_of(leads[i]);
        if (bad & (1u << i)) {
            ck_assert_int_eq(results[i], LH_PERMANENT);
            ck_assert_msg(messages[i] != NULL &&
                              strstr(messages[i], "N/A is not a valid phone number") != NULL,
                          "%s", messages[i]);
            ck_assert_ptr_null(contact);
            ck_assert_ptr_null(identity);
        } else {
            ck_assert_msg(results[i] == LH_OK, "%s: %s", emails[i], messages[i]);
            ck_assert_ptr_nonnull(contact);
            ck_assert_str_eq(identity, contact);
        }
        free(contact);
        free(identity);
        free(messages[i]);
        json_decref(events[i]);
    }
}

static void assert_only_bad_fails(const char *const *emails, size_t n, size_t bad)
{
    assert_only_these_fail(emails, n, 1u << bad);
}

START_TEST(test_hubspot_400_naming_no_input_still_writes_the_good_contacts)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_reject_whole_request(h.fake, true);
    const char *bad[] = {"bad1@example.com", "bad2@example.com", "bad3@example.com",
                         "bad4@example.com"};
    for (size_t i = 0; i < 4; i++) {
        fake_hubspot_reject_email(h.fake, bad[i], "VALIDATION_ERROR", INVALID_PHONE_MESSAGE, 0);
    }
    const char *pair[] = {bad[0], "good@example.com"};
    assert_only_bad_fails(pair, 2, 0);
    const char *bad_first[] = {bad[1], "ann@example.com", "ben@example.com"};
    assert_only_bad_fails(bad_first, 3, 0);
    const char *bad_between[] = {"cat@example.com", bad[2], "dan@example.com"};
    assert_only_bad_fails(bad_between, 3, 1);
    const char *bad_last[] = {"eve@example.com", "fay@example.com", bad[3]};
    assert_only_bad_fails(bad_last, 3, 2);
}
END_TEST

START_TEST(test_hubspot_400_alike_for_a_first_half_never_dead_letters_the_second_unsent)
{
    /* HubSpot refuses the whole request with one message for every bad input. That the
     * first half fails alike says nothing of the second: its good contacts are written */
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_reject_whole_request(h.fake, true);
    const char *bad[] = {"bad1@example.com", "bad2@example.com", "bad3@example.com",
                         "bad4@example.com", "bad5@example.com"};
    for (size_t i = 0; i < 5; i++) {
        fake_hubspot_reject_email(h.fake, bad[i], "VALIDATION_ERROR", INVALID_PHONE_MESSAGE, 0);
    }
    const char *four[] = {bad[0], bad[1], "ann@example.com", "ben@example.com"};
    assert_only_these_fail(four, 4, 0x3);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 5);
    /* three at the front of eight: the five good ones written, none dead-lettered */
    const char *eight[] = {bad[2],           bad[3],           bad[4],           "c1@example.com",
                           "c2@example.com", "c3@example.com", "c4@example.com", "c5@example.com"};
    assert_only_these_fail(eight, 8, 0x7);
    /* and in between */
    fake_hubspot_reject_email(h.fake, "bad6@example.com", "VALIDATION_ERROR", INVALID_PHONE_MESSAGE,
                              0);
    fake_hubspot_reject_email(h.fake, "bad7@example.com", "VALIDATION_ERROR", INVALID_PHONE_MESSAGE,
                              0);
    const char *mixed[] = {"d1@example.com", "bad6@example.com", "d2@example.com",
                           "d3@example.com", "d4@example.com",   "bad7@example.com"};
    assert_only_these_fail(mixed, 6, 0x22);
}
END_TEST

START_TEST(test_hubspot_400_shared_by_every_input_fails_each_refused_alone)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_fail(h.fake, "POST", UPSERT, 400,
                      "{\"status\":\"error\",\"message\":\"Property \\\"leadhub_tier\\\" does not "
                      "exist\",\"category\":\"VALIDATION_ERROR\"}",
                      NULL, 100);
    json_t *events[8];
    lh_status_t results[8];
    char *messages[8];
    for (size_t i = 0; i < 8; i++) {
        char email[32];
        snprintf(email, sizeof(email), "p%zu@example.com", i);
        events[i] = lead_event("lead.created", email, email);
    }
    hh_deliver_batch(&h, events, NULL, 8, results, messages, NULL);
    for (size_t i = 0; i < 8; i++) {
        ck_assert_int_eq(results[i], LH_PERMANENT);
        ck_assert_ptr_nonnull(strstr(messages[i], "Property \"leadhub_tier\" does not exist"));
        free(messages[i]);
        json_decref(events[i]);
    }
    /* each input refused alone before it is dead-lettered (8 requests), plus the halving
     * above them (the whole, 2 halves, 4 quarters): 2n - 1. Concluding from fewer would
     * dead-letter good contacts that happen to follow bad ones (the test above). */
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 15);
    size_t alone = 0;
    for (size_t i = 0; i < 15; i++) {
        json_t *body = upsert_body(i);
        alone += json_array_size(json_object_get(body, "inputs")) == 1;
        json_decref(body);
    }
    ck_assert_uint_eq(alone, 8);
}
END_TEST

START_TEST(test_hubspot_429_ten_secondly_waits_the_window_hubspot_states_and_holds_later_calls)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    /* HubSpot's answer: the documented body, X-HubSpot-RateLimit-Interval-Milliseconds 10000 */
    fake_hubspot_rate_limit(h.fake, "POST", UPSERT, "TEN_SECONDLY_ROLLING", 10000, 1);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    char *error = NULL;
    int64_t retry_after = -1;
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, &retry_after), LH_RETRY_AFTER);
    ck_assert_int_eq(retry_after, 10000); /* one rolling window, not a second */
    ck_assert_ptr_nonnull(strstr(error, "HubSpot rate limit (ten_secondly_rolling)"));
    free(error);
    ck_assert_int_eq(hh_metric(&h, "hubspot_rate_limited_total", "policy", "ten_secondly_rolling"),
                     1);
    /* within the window, nothing is sent */
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, &retry_after), LH_RETRY_AFTER);
    ck_assert_int_gt(retry_after, 0);
    ck_assert_int_le(retry_after, 10000);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 1);
    json_decref(event);
}
END_TEST

/* Delivers `event` until HubSpot takes it (LH_OK), at most timeout_ms. */
static lh_status_t deliver_until_done(const json_t *event, int64_t timeout_ms)
{
    int64_t until = util_monotonic_ms() + timeout_ms;
    lh_status_t status;
    while ((status = hh_deliver(&h, event, 0, NULL, NULL)) == LH_RETRY_AFTER &&
           util_monotonic_ms() < until) {
        struct timespec pause = {0, 50000000};
        nanosleep(&pause, NULL);
    }
    return status;
}

START_TEST(test_hubspot_429_is_sent_again_once_the_window_passed)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_rate_limit(h.fake, "POST", UPSERT, "TEN_SECONDLY_ROLLING", 1500, 1);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    int64_t retry_after = -1;
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, &retry_after), LH_RETRY_AFTER);
    ck_assert_int_eq(retry_after, 1500);
    ck_assert_int_eq(deliver_until_done(event, 30000), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 2);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_429_with_retry_after_waits_that_long)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_fail(h.fake, "POST", UPSERT, 429,
                      "{\"status\":\"error\",\"policyName\":\"TEN_SECONDLY_ROLLING\"}",
                      "Retry-After: 7\nX-HubSpot-RateLimit-Interval-Milliseconds: 10000", 1);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    int64_t retry_after = -1;
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, &retry_after), LH_RETRY_AFTER);
    ck_assert_int_eq(retry_after, 7000);
    json_decref(event);
}
END_TEST

/* The delay in an error "... retry in N ms". */
static long long retry_in(const char *error)
{
    const char *at = error != NULL ? strstr(error, "retry in ") : NULL;
    ck_assert_msg(at != NULL, "no delay in %s", error != NULL ? error : "(null)");
    return atoll(at + strlen("retry in "));
}

START_TEST(test_hubspot_429_daily_is_asked_again_within_the_hour)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_rate_limit(h.fake, "POST", UPSERT, "DAILY", 10000, 1);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    int64_t retry_after = -1;
    char *error = NULL;
    int64_t before = util_now_ms();
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, &retry_after), LH_RETRY_AFTER);
    int64_t day = 24LL * 3600 * 1000;
    int64_t until_midnight = (before / day + 1) * day - before;
    int64_t expected = until_midnight < 3600000 ? until_midnight : 3600000;
    ck_assert_int_le(llabs(retry_after - expected), 2000);
    ck_assert_ptr_nonnull(strstr(error, "(daily)"));
    ck_assert_int_le(retry_in(error), 3600000);
    free(error);
    /* the instance holds its later calls for that hour, not until midnight UTC: HubSpot
     * resets at midnight in the account's time zone */
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, NULL), LH_RETRY_AFTER);
    ck_assert_int_le(retry_in(error), 3600000);
    ck_assert_int_gt(retry_in(error), 0);
    free(error);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 1);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_5xx_is_retried_and_other_4xx_are_permanent_with_hubspots_message)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_fail(h.fake, "POST", UPSERT, 502, "<html>bad gateway</html>", NULL, 1);
    fake_hubspot_fail(h.fake, "POST", UPSERT, 400,
                      "{\"status\":\"error\",\"message\":\"Property values were not valid\","
                      "\"category\":\"VALIDATION_ERROR\"}",
                      NULL, 1);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    char *error = NULL;
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, NULL), LH_RETRY);
    ck_assert_str_eq(error, "HubSpot answered POST " UPSERT " with HTTP 502: <html>bad "
                            "gateway</html>");
    free(error);
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, NULL), LH_PERMANENT);
    ck_assert_str_eq(error, "HubSpot answered POST " UPSERT " with HTTP 400: VALIDATION_ERROR: "
                            "Property values were not valid");
    free(error);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_private_app_401_is_a_config_error_naming_the_setting)
{
    json_t *settings = hh_private_settings(&h);
    setenv("HH_OTHER_TOKEN", "pat-na1-revoked-000", 1);
    json_object_set_new(settings, "access_token", json_string("${HH_OTHER_TOKEN}"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    json_t *event = lead_event("lead.created", "f-1", "ada@analytical.example");
    char *error = NULL;
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, NULL), LH_CONFIG);
    ck_assert_ptr_nonnull(strstr(error, "check access_token"));
    ck_assert_ptr_null(strstr(error, "pat-na1-revoked-000"));
    free(error);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_meeting_scheduled_creates_an_engagement_associated_with_attendees)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_meeting_association_type(h.fake, 9200);
    char *grace = fake_hubspot_contact_add(h.fake, "{\"email\":\"grace@navy.example\"}", 0);
    long lead = hh_lead(&h, "ada@analytical.example");
    json_t *event =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, event, lead, NULL, NULL), LH_OK);
    char *ada = fake_hubspot_contact_id(h.fake, "ada@analytical.example");
    ck_assert_ptr_nonnull(ada);
    /* the attendees without a contact stay out; the lead's contact is not looked up */
    json_t *read = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/batch/read", 0);
    assert_json_eq(read, "{\"idProperty\":\"email\",\"properties\":[\"email\"],\"inputs\":"
                         "[{\"id\":\"rep@ourco.example\"},{\"id\":\"grace@navy.example\"}]}");
    json_decref(read);
    json_t *created = hh_request_json(&h, "POST", MEETINGS, 0);
    char *expected = util_printf(
        "{\"properties\":{\"hs_timestamp\":\"2026-12-28T15:00:00.000Z\",\"hs_meeting_title\":"
        "\"Intro call\",\"hs_meeting_start_time\":\"2026-12-28T15:00:00.000Z\","
        "\"hs_meeting_end_time\":\"2026-12-28T15:30:00.000Z\",\"hs_meeting_location\":\"Google "
        "Meet\",\"hs_meeting_external_url\":\"https://meet.example/abc\",\"hs_meeting_outcome\":"
        "\"SCHEDULED\",\"hs_internal_meeting_notes\":\"leadhub-ref:meeting:calendar:7f3a\"},"
        "\"associations\":[{\"to\":{\"id\":\"%s\"},\"types\":[{"
        "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":9200}]},{\"to\":{"
        "\"id\":\"%s\"},\"types\":[{\"associationCategory\":\"HUBSPOT_DEFINED\","
        "\"associationTypeId\":9200}]}]}",
        ada, grace);
    assert_json_eq(created, expected);
    free(expected);
    json_decref(created);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 1);
    json_t *remembered = hh_checkpoint(&h, "meeting:calendar:7f3a");
    ck_assert_ptr_nonnull(remembered);
    ck_assert_str_eq(json_string_value(json_object_get(remembered, "id")), "51830467700");
    ck_assert_str_eq(json_string_value(json_object_get(remembered, "outcome")), "SCHEDULED");
    ck_assert_uint_eq(json_array_size(json_object_get(remembered, "contacts")), 2);
    json_decref(remembered);
    char *identity = identity_of(lead);
    ck_assert_str_eq(identity, ada); /* the meeting's lead got its contact too */
    free(identity);
    free(ada);
    free(grace);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_meeting_updated_patches_the_same_engagement_as_rescheduled)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *scheduled =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, scheduled, 0, NULL, NULL), LH_OK);
    char *grace = fake_hubspot_contact_add(h.fake, "{\"email\":\"grace@navy.example\"}", 0);
    json_t *moved =
        meeting_event("meeting.updated", "2026-12-29T09:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, moved, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", MEETINGS), 1);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 1);
    json_t *patch = hh_request_json(&h, "PATCH", MEETINGS "/51830467700", 0);
    assert_json_eq(patch, "{\"properties\":{\"hs_timestamp\":\"2026-12-29T09:00:00.000Z\","
                          "\"hs_meeting_title\":\"Intro call\",\"hs_meeting_start_time\":"
                          "\"2026-12-29T09:00:00.000Z\",\"hs_meeting_end_time\":"
                          "\"2026-12-28T15:30:00.000Z\",\"hs_meeting_location\":\"Google Meet\","
                          "\"hs_meeting_external_url\":\"https://meet.example/abc\","
                          "\"hs_meeting_outcome\":\"RESCHEDULED\"}}");
    json_decref(patch);
    /* grace has a contact now: associated, and only her */
    json_t *associated =
        hh_request_json(&h, "POST", "/crm/v4/associations/meetings/contacts/batch/create", 0);
    char *expected = util_printf(
        "{\"inputs\":[{\"from\":{\"id\":\"51830467700\"},\"to\":{\"id\":\"%s\"},\"types\":[{"
        "\"associationCategory\":\"HUBSPOT_DEFINED\",\"associationTypeId\":200}]}]}",
        grace);
    assert_json_eq(associated, expected);
    free(expected);
    json_decref(associated);
    free(grace);
    json_decref(scheduled);
    json_decref(moved);
}
END_TEST

START_TEST(test_hubspot_meeting_canceled_sets_the_outcome_canceled)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *scheduled =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    json_t *canceled =
        meeting_event("meeting.canceled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, scheduled, 0, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_deliver(&h, canceled, 0, NULL, NULL), LH_OK);
    json_t *patch = hh_request_json(&h, "PATCH", MEETINGS "/", 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(patch, "properties"),
                                                       "hs_meeting_outcome")),
                     "CANCELED");
    json_decref(patch);
    char *meeting = fake_hubspot_meeting(h.fake, 0);
    ck_assert_ptr_nonnull(strstr(meeting, "\"hs_meeting_outcome\":\"CANCELED\""));
    free(meeting);
    json_decref(scheduled);
    json_decref(canceled);
}
END_TEST

/* POST /crm/v3/objects/meetings requests (not .../meetings/batch/read). */
static size_t meeting_creations(void)
{
    return fake_hubspot_count(h.fake, "POST", MEETINGS) -
           fake_hubspot_count(h.fake, "POST", MEETINGS "/");
}

START_TEST(test_hubspot_meeting_creation_whose_answer_was_lost_is_not_made_twice)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    long lead = hh_lead(&h, "ada@analytical.example");
    /* another meeting of the same contact, whose marker starts like this one's */
    json_t *other = meeting_event("meeting.scheduled", "2026-12-27T15:00:00.000Z", "x@y.example");
    json_object_set_new(json_object_get(other, "meeting"), "external_id", json_string("7f3ab"));
    ck_assert_int_eq(hh_deliver(&h, other, lead, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 1);

    /* HubSpot creates the engagement, and its answer is lost on the way back */
    fake_hubspot_lose_answers(h.fake, "POST", MEETINGS, 1);
    json_t *event = meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "x@y.example");
    char *error = NULL;
    ck_assert_int_eq(hh_deliver(&h, event, lead, &error, NULL), LH_RETRY);
    free(error);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 2);
    ck_assert_uint_eq(meeting_creations(), 2);
    /* the retry finds it through the contact's meetings and its marker */
    ck_assert_int_eq(hh_deliver(&h, event, lead, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 2);
    ck_assert_uint_eq(meeting_creations(), 2);
    char *created = fake_hubspot_meeting(h.fake, 1);
    json_t *meeting = json_loads(created, 0, NULL);
    json_t *remembered = hh_checkpoint(&h, "meeting:calendar:7f3a");
    ck_assert_str_eq(json_string_value(json_object_get(remembered, "id")),
                     json_string_value(json_object_get(meeting, "id")));
    ck_assert_ptr_null(json_object_get(remembered, "creating"));
    ck_assert_int_eq(hh_metric(&h, "hubspot_meetings_total", "action", "found"), 1);
    json_decref(remembered);
    json_decref(meeting);
    free(created);

    /* an answer lost before HubSpot did anything: the retry looks, finds nothing of its
     * own (7f3ab's marker is not 7f3c's), and creates it */
    fake_hubspot_fail(h.fake, "POST", MEETINGS, 504, "<html>504 Gateway Time-out</html>", NULL, 1);
    json_t *third = meeting_event("meeting.scheduled", "2026-12-29T15:00:00.000Z", "x@y.example");
    json_object_set_new(json_object_get(third, "meeting"), "external_id", json_string("7f3"));
    ck_assert_int_eq(hh_deliver(&h, third, lead, NULL, NULL), LH_RETRY);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 2);
    ck_assert_int_eq(hh_deliver(&h, third, lead, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_meeting_count(h.fake), 3);
    json_decref(third);
    json_decref(event);
    json_decref(other);
}
END_TEST

START_TEST(test_hubspot_meeting_deleted_in_hubspot_is_created_again)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *scheduled =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, scheduled, 0, NULL, NULL), LH_OK);
    fake_hubspot_meeting_delete(h.fake, "51830467700");
    json_t *moved =
        meeting_event("meeting.updated", "2026-12-29T09:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, moved, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", MEETINGS), 2);
    json_t *remembered = hh_checkpoint(&h, "meeting:calendar:7f3a");
    ck_assert_str_eq(json_string_value(json_object_get(remembered, "id")), "51830467701");
    json_decref(remembered);
    json_decref(scheduled);
    json_decref(moved);
}
END_TEST

START_TEST(test_hubspot_meeting_association_type_falls_back_to_200_when_labels_are_refused)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    fake_hubspot_meeting_association_type(h.fake, 9200);
    fake_hubspot_fail(h.fake, "GET", "/crm/v4/associations/meetings/contacts/labels", 403,
                      "{\"status\":\"error\",\"message\":\"This app hasn't been granted all "
                      "required scopes\",\"category\":\"MISSING_SCOPES\"}",
                      NULL, 1);
    json_t *scheduled =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, scheduled, 0, NULL, NULL), LH_OK);
    json_t *created = hh_request_json(&h, "POST", MEETINGS, 0);
    json_t *type = json_object_get(
        json_array_get(
            json_object_get(json_array_get(json_object_get(created, "associations"), 0), "types"),
            0),
        "associationTypeId");
    ck_assert_int_eq(json_integer_value(type), 200);
    json_decref(created);
    /* not asked again */
    json_t *again =
        meeting_event("meeting.updated", "2026-12-29T09:00:00.000Z", "grace@navy.example");
    ck_assert_int_eq(hh_deliver(&h, again, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "GET", "/crm/v4/associations/meetings"), 1);
    json_decref(again);
    json_decref(scheduled);
}
END_TEST

START_TEST(test_hubspot_meeting_id_unfit_for_a_key_is_remembered_under_a_digest)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *event =
        meeting_event("meeting.scheduled", "2026-12-28T15:00:00.000Z", "grace@navy.example");
    json_object_set_new(json_object_get(event, "meeting"), "external_id",
                        json_string("AAMkAGI2TG93AAA=/with+slash"));
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM connector_state WHERE key LIKE "
                                         "'meeting:sha256:%' AND length(key) = 79"),
                     1);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_event_this_instance_emitted_is_done_without_a_request)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *event = lead_event("lead.updated", "contact:1:2", "ada@analytical.example");
    json_object_set_new(event, "source", json_string(HH_INSTANCE));
    ck_assert_int_eq(hh_deliver(&h, event, 0, NULL, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    ck_assert_int_eq(hh_metric(&h, "hubspot_skipped_total", "reason", "own_event"), 1);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_unsupported_event_type_is_permanent)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    json_t *event = lead_event("email.received", "m-1", "ada@analytical.example");
    char *error = NULL;
    ck_assert_int_eq(hh_deliver(&h, event, 0, &error, NULL), LH_PERMANENT);
    ck_assert_ptr_nonnull(strstr(error, "hubspot does not take email.received events"));
    free(error);
    json_decref(event);
}
END_TEST

START_TEST(test_hubspot_lead_without_email_is_written_by_its_hubspot_id_or_held)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "score_properties", json_pack("{s:s}", "fit", "leadhub_fit"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    json_t *known = json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:{s:s}}, s:{s:s, s:i}}", "type",
                              "lead.scored", "source", "scoring", "source_id", "s-1", "occurred_at",
                              "2026-11-27T10:42:00.000Z", "lead", "id", 5, "external_ids",
                              HH_INSTANCE, contact, "data", "scorer", "fit", "score", 80);
    ck_assert_int_eq(hh_deliver(&h, known, 0, NULL, NULL), LH_OK);
    json_t *body = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/batch/update", 0);
    char *expected = util_printf(
        "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"leadhub_fit\":\"80\"}}]}", contact);
    assert_json_eq(body, expected);
    free(expected);
    json_decref(body);
    json_t *unknown =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:i}, s:{s:s, s:i}}", "type", "lead.scored", "source",
                  "scoring", "source_id", "s-2", "occurred_at", "2026-11-27T10:42:00.000Z", "lead",
                  "id", 6, "data", "scorer", "fit", "score", 80);
    char *error = NULL;
    /* neither: it waits for the email (held, not dead), and HubSpot is not asked */
    size_t requests = fake_hubspot_request_count(h.fake);
    ck_assert_int_eq(hh_deliver(&h, unknown, 0, &error, NULL), LH_HOLD);
    ck_assert_ptr_nonnull(strstr(error, "waiting for the lead's email"));
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), requests);
    free(error);
    free(contact);
    json_decref(known);
    json_decref(unknown);
}
END_TEST

START_TEST(test_hubspot_409_existing_contact_is_updated_by_id_and_becomes_the_identity)
{
    /* grace@navy.example is an additional address of Grace's contact: HubSpot will not
     * create another contact for it, and says which contact has it */
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    char *grace = fake_hubspot_contact_add(
        h.fake,
        "{\"email\":\"grace.hopper@navy.example\",\"hs_additional_emails\":"
        "\"g.hopper@old.example;grace@navy.example\",\"firstname\":\"G.\"}",
        0);
    long lead = hh_lead(&h, "grace@navy.example");
    json_t *alone = lead_event("lead.created", "c-1", "grace@navy.example");
    char *error = NULL;
    ck_assert_int_eq(hh_deliver(&h, alone, lead, &error, NULL), LH_OK);
    free(error);
    ck_assert_uint_eq(fake_hubspot_contact_count(h.fake), 1);
    char *properties = fake_hubspot_contact(h.fake, grace);
    json_t *contact = json_loads(properties, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(contact, "email")),
                     "grace.hopper@navy.example");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "firstname")), "Ada");
    ck_assert_str_eq(json_string_value(json_object_get(contact, "jobtitle")), "VP Engineering");
    json_decref(contact);
    free(properties);
    char *identity = identity_of(lead);
    ck_assert_str_eq(identity, grace);
    free(identity);
    /* the update by id carried everything but the address */
    json_t *update = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/batch/update", 0);
    const json_t *input = json_array_get(json_object_get(update, "inputs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(input, "id")), grace);
    ck_assert_ptr_null(json_object_get(json_object_get(input, "properties"), "email"));
    json_decref(update);
    ck_assert_int_eq(hh_metric(&h, "hubspot_conflicts_resolved_total", NULL, NULL), 1);

    /* in a batch: the conflict is narrowed down to its input and resolved, the others
     * written as usual */
    char *alan =
        fake_hubspot_contact_add(h.fake,
                                 "{\"email\":\"alan@bletchley.example\",\"hs_additional_emails\":"
                                 "\"alan@old.example\"}",
                                 0);
    const char *emails[] = {"a@example.com", "b@example.com", "alan@old.example", "c@example.com"};
    json_t *events[4];
    long leads[4];
    lh_status_t results[4];
    char *messages[4];
    for (size_t i = 0; i < 4; i++) {
        events[i] = lead_event("lead.updated", emails[i], emails[i]);
        leads[i] = hh_lead(&h, emails[i]);
    }
    hh_deliver_batch(&h, events, leads, 4, results, messages, NULL);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(results[i] == LH_OK, "%s: %s", emails[i], messages[i]);
        char *id = identity_of(leads[i]);
        char *expected = i == 2 ? strdup(alan) : fake_hubspot_contact_id(h.fake, emails[i]);
        ck_assert_str_eq(id, expected);
        free(expected);
        free(id);
        free(messages[i]);
        json_decref(events[i]);
    }
    ck_assert_uint_eq(fake_hubspot_contact_count(h.fake), 5);
    free(alan);
    free(grace);
    json_decref(alone);
}
END_TEST

START_TEST(test_hubspot_writes_to_the_contact_of_the_lead_the_hub_resolved)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    /* a Checkout for lead 42 (priya@), paid from the accounts department's address */
    json_t *paid = json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:s, s:s}, s:{s:i, s:s}}", "type",
                             "payment.succeeded", "source", "billing", "source_id", "evt_1",
                             "occurred_at", "2026-11-27T10:42:00.000Z", "lead", "id", 42, "email",
                             "billing@northwind.example", "external_id", "cus_1", "data", "amount",
                             187500, "currency", "usd");
    json_t *resolved =
        json_pack("{s:i, s:s, s:[], s:[s]}", "id", 42, "email", "priya@northwind.example",
                  "identities", "addresses", "billing@northwind.example");
    ck_assert_int_eq(hh_deliver_resolved(&h, paid, 42, resolved, NULL), LH_OK);
    char *customer = fake_hubspot_contact_id(h.fake, "priya@northwind.example");
    ck_assert_ptr_nonnull(customer);
    char *properties = fake_hubspot_contact(h.fake, customer);
    ck_assert_ptr_nonnull(strstr(properties, "\"lifecyclestage\":\"customer\""));
    /* the payer's address is not made a second customer */
    ck_assert_ptr_null(fake_hubspot_contact_id(h.fake, "billing@northwind.example"));
    free(properties);
    free(customer);
    json_decref(resolved);

    /* a resolved lead without an email is written by this instance's contact id */
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"noemail@x.example\"}", 0);
    resolved = json_pack("{s:i, s:n, s:[{s:s, s:s}], s:[]}", "id", 43, "email", "identities",
                         "source", HH_INSTANCE, "external_id", contact, "addresses");
    json_object_set_new(paid, "source_id", json_string("evt_2"));
    ck_assert_int_eq(hh_deliver_resolved(&h, paid, 43, resolved, NULL), LH_OK);
    json_t *body = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/batch/update", 0);
    char *expected = util_printf(
        "{\"inputs\":[{\"id\":\"%s\",\"properties\":{\"lifecyclestage\":\"customer\"}}]}", contact);
    assert_json_eq(body, expected);
    free(expected);
    json_decref(body);
    json_decref(resolved);

    /* and one with neither waits: the event's address is someone else's */
    resolved = json_pack("{s:i, s:n, s:[], s:[]}", "id", 44, "email", "identities", "addresses");
    size_t requests = fake_hubspot_request_count(h.fake);
    char *error = NULL;
    ck_assert_int_eq(hh_deliver_resolved(&h, paid, 44, resolved, &error), LH_HOLD);
    ck_assert_ptr_nonnull(strstr(error, "waiting for the lead's email"));
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), requests);
    free(error);
    free(contact);
    json_decref(resolved);
    json_decref(paid);
}
END_TEST

START_TEST(test_hubspot_lead_with_a_contact_identity_is_written_by_it_not_by_its_email)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    /* a rep changed the contact's address in HubSpot; the lead keeps its own */
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"lucas@new.example\"}", 0);
    json_t *event = lead_event("lead.updated", "u-1", "lucas@old.example");
    json_t *resolved =
        json_pack("{s:i, s:s, s:[{s:s, s:s}], s:[]}", "id", 42, "email", "lucas@old.example",
                  "identities", "source", HH_INSTANCE, "external_id", contact, "addresses");
    ck_assert_int_eq(hh_deliver_resolved(&h, event, 42, resolved, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", UPSERT), 0);
    json_t *body = hh_request_json(&h, "POST", "/crm/v3/objects/contacts/batch/update", 0);
    const json_t *input = json_array_get(json_object_get(body, "inputs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(input, "id")), contact);
    ck_assert_ptr_null(json_object_get(json_object_get(input, "properties"), "email"));
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(input, "properties"), "jobtitle")),
        "VP Engineering");
    json_decref(body);
    ck_assert_uint_eq(fake_hubspot_contact_count(h.fake), 1);
    char *email = fake_hubspot_contact_id(h.fake, "lucas@new.example");
    ck_assert_str_eq(email, contact);
    free(email);
    json_decref(resolved);

    /* the identity's contact is gone from HubSpot: the lead's email is upserted instead */
    resolved =
        json_pack("{s:i, s:s, s:[{s:s, s:s}], s:[]}", "id", 43, "email", "grace@navy.example",
                  "identities", "source", HH_INSTANCE, "external_id", "999999", "addresses");
    long lead = hh_lead(&h, "grace@navy.example");
    json_object_set_new(event, "source_id", json_string("u-2"));
    ck_assert_int_eq(hh_deliver_resolved(&h, event, lead, resolved, NULL), LH_OK);
    char *grace = fake_hubspot_contact_id(h.fake, "grace@navy.example");
    ck_assert_ptr_nonnull(grace);
    char *identity = identity_of(lead);
    ck_assert_str_eq(identity, grace);
    free(identity);
    free(grace);
    json_decref(resolved);
    json_decref(event);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_init_refuses_settings_that_cannot_work)
{
    struct {
        const char *key;
        json_t *value;
        const char *reason;
    } cases[] = {
        {"access_token", NULL, "access_token: required with auth: private_app"},
        {"client_id", json_string("c-1"), "client_id: only for auth: oauth"},
        {"webhook_url", json_string("https://hooks.example/hs"),
         "webhook_url: given without webhook_client_secret"},
        {"webhook_client_secret", json_string("${HH_WEBHOOK_SECRET}"),
         "webhook_url: required with webhook_client_secret"},
        {"property_map", json_pack("{s:s}", "favourite_colour", "colour"),
         "property_map: \"favourite_colour\" is not a lead field"},
        {"property_map", json_pack("{s:s}", "email", "work_email"),
         "property_map: email always maps to email"},
        {"property_map", json_pack("{s:s}", "title", "Job Title"),
         "property_map: title must map to a HubSpot property's internal name"},
        {"score_properties", json_pack("{s:i}", "fit", 3),
         "score_properties: fit must map to a HubSpot property's internal name"},
        {"pull", json_pack("[s]", "companies"),
         "pull: \"companies\" is not contacts, deals or meetings"},
        {"api_base", json_string("https://api.hubapi.com/?portal=1"),
         "api_base: must not contain spaces, a query or a fragment"},
        {"api_base", json_string("ftp://api.hubapi.com"), "api_base: must start with https://"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *settings = hh_private_settings(&h);
        if (cases[i].value == NULL) {
            json_object_del(settings, cases[i].key);
        } else {
            json_object_set_new(settings, cases[i].key, cases[i].value);
        }
        char *reason = hh_init_refusal(&h, settings);
        ck_assert_msg(strstr(reason, cases[i].reason) != NULL, "case %zu: \"%s\" lacks \"%s\"", i,
                      reason, cases[i].reason);
        free(reason);
    }
    /* OAuth needs the app's secret; a refresh_token is optional (consent gives one) */
    json_t *oauth = hh_oauth_settings(&h, 1800);
    json_object_del(oauth, "client_secret");
    char *reason = hh_init_refusal(&h, oauth);
    ck_assert_ptr_nonnull(strstr(reason, "client_secret: required with auth: oauth"));
    free(reason);
}
END_TEST

START_TEST(test_hubspot_settings_refuse_a_literal_secret)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "access_token", json_string("pat-na1-written-in-the-file"));
    struct config_instance ci = {.name = "crm", .plugin = "hubspot", .file = "crm.yaml"};
    ci.settings = settings;
    struct diag_list diags = {0};
    ck_assert_ptr_null(config_settings_validate(&ci, h.plugin->desc->config_schema, &diags));
    ck_assert_uint_eq(diag_error_count(&diags), 1);
    ck_assert_ptr_null(strstr(diags.items[0].message, "pat-na1-written-in-the-file"));
    diag_list_free(&diags);
    json_decref(settings);
}
END_TEST

static Suite *sink_suite(void)
{
    Suite *s = suite_create("hubspot_sink");
    TCase *tc = tcase_create("sink");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hubspot_descriptor_is_an_ordered_source_and_sink);
    tcase_add_test(tc,
                   test_hubspot_lead_created_upserts_the_contact_by_email_and_stores_its_identity);
    tcase_add_test(tc, test_hubspot_lead_updated_and_customer_created_upsert_the_same_contact);
    tcase_add_test(tc, test_hubspot_property_map_overrides_the_defaults_and_maps_attributes);
    tcase_add_test(tc, test_hubspot_lead_scored_writes_the_scorers_property);
    tcase_add_test(tc, test_hubspot_lead_scored_by_an_unmapped_scorer_is_done_without_a_request);
    tcase_add_test(tc,
                   test_hubspot_another_sources_deleted_or_merged_record_is_done_without_a_request);
    tcase_add_test(tc, test_hubspot_lead_erased_gdpr_deletes_the_leads_contact_by_its_id);
    tcase_add_test(tc, test_hubspot_lead_erased_archives_or_keeps_the_contact_as_on_erased_says);
    tcase_add_test(tc, test_hubspot_lead_erased_with_on_erased_keep_asks_nothing);
    tcase_add_test(tc, test_hubspot_lead_erased_after_an_update_in_one_batch_is_not_written_back);
    tcase_add_test(
        tc, test_hubspot_payment_succeeded_makes_the_contact_a_customer_with_the_buyers_details);
    tcase_add_test(tc, test_hubspot_batch_merges_the_events_of_one_contact_into_one_input);
    tcase_add_test(tc, test_hubspot_batch_is_split_into_requests_of_batch_size);
    tcase_add_test(tc, test_hubspot_207_fails_only_the_refused_inputs);
    tcase_add_test(tc,
                   test_hubspot_upsert_results_without_emails_are_matched_by_email_not_position);
    tcase_add_test(tc, test_hubspot_upsert_results_nobody_can_match_are_retried_not_guessed);
    tcase_add_test(
        tc, test_hubspot_upsert_result_lacking_its_email_is_looked_up_not_given_to_the_input_left);
    tcase_add_test(tc, test_hubspot_400_naming_one_input_resends_the_others);
    tcase_add_test(tc, test_hubspot_400_naming_no_input_still_writes_the_good_contacts);
    tcase_add_test(tc,
                   test_hubspot_400_alike_for_a_first_half_never_dead_letters_the_second_unsent);
    tcase_add_test(tc, test_hubspot_400_shared_by_every_input_fails_each_refused_alone);
    tcase_add_test(
        tc, test_hubspot_429_ten_secondly_waits_the_window_hubspot_states_and_holds_later_calls);
    tcase_add_test(tc, test_hubspot_429_is_sent_again_once_the_window_passed);
    tcase_add_test(tc, test_hubspot_429_with_retry_after_waits_that_long);
    tcase_add_test(tc, test_hubspot_429_daily_is_asked_again_within_the_hour);
    tcase_add_test(tc,
                   test_hubspot_5xx_is_retried_and_other_4xx_are_permanent_with_hubspots_message);
    tcase_add_test(tc, test_hubspot_private_app_401_is_a_config_error_naming_the_setting);
    tcase_add_test(tc,
                   test_hubspot_meeting_scheduled_creates_an_engagement_associated_with_attendees);
    tcase_add_test(tc, test_hubspot_meeting_updated_patches_the_same_engagement_as_rescheduled);
    tcase_add_test(tc, test_hubspot_meeting_canceled_sets_the_outcome_canceled);
    tcase_add_test(tc, test_hubspot_meeting_deleted_in_hubspot_is_created_again);
    tcase_add_test(tc, test_hubspot_meeting_creation_whose_answer_was_lost_is_not_made_twice);
    tcase_add_test(tc,
                   test_hubspot_meeting_association_type_falls_back_to_200_when_labels_are_refused);
    tcase_add_test(tc, test_hubspot_meeting_id_unfit_for_a_key_is_remembered_under_a_digest);
    tcase_add_test(tc, test_hubspot_event_this_instance_emitted_is_done_without_a_request);
    tcase_add_test(tc, test_hubspot_unsupported_event_type_is_permanent);
    tcase_add_test(tc, test_hubspot_lead_without_email_is_written_by_its_hubspot_id_or_held);
    tcase_add_test(tc, test_hubspot_writes_to_the_contact_of_the_lead_the_hub_resolved);
    tcase_add_test(tc, test_hubspot_409_existing_contact_is_updated_by_id_and_becomes_the_identity);
    tcase_add_test(tc, test_hubspot_lead_with_a_contact_identity_is_written_by_it_not_by_its_email);
    tcase_add_test(tc, test_hubspot_init_refuses_settings_that_cannot_work);
    tcase_add_test(tc, test_hubspot_settings_refuse_a_literal_secret);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tu_run_suite(sink_suite());
    curl_global_cleanup();
    return rc;
}
