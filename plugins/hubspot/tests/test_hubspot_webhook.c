/*
 * test_hubspot_webhook.c - HubSpot's webhooks through instance_webhook(): every way an
 * X-HubSpot-Signature-v3 check fails, the URI it covers, and a batch of notifications
 * handled as a whole: each changed object fetched once (the generic object.* ones by their
 * objectTypeId), redelivered event ids fetching nothing, and a change seen by a webhook
 * and a poll stored once.
 */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot_harness.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define WEBHOOK_URL    "https://hooks.leadhub.example/webhooks/crm"
#define READ_CONTACTS  "/crm/v3/objects/contacts/batch/read"
#define READ_DEALS     "/crm/v3/objects/deals/batch/read"
#define FIVE_MINUTES   (300LL * 1000)
#define NOTIFICATION_1 "[{\"eventId\":1,\"subscriptionType\":\"contact.creation\",\"objectId\":1}]"

static struct hubspot_harness h;

static void setup(void)
{
    hh_setup(&h);
}

static void teardown(void)
{
    hh_teardown(&h);
}

static void start_with_webhooks(void)
{
    json_t *settings = hh_private_settings(&h);
    json_object_set_new(settings, "backfill", json_string("1h"));
    hh_with_webhooks(settings, WEBHOOK_URL);
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
}

/* Asserts a refusal: LH_AUTH, the reason, the counter, and no request to HubSpot. */
static void assert_refused(lh_status_t status, char *error, const char *reason, const char *label)
{
    ck_assert_int_eq(status, LH_AUTH);
    ck_assert_msg(error != NULL && strstr(error, reason) != NULL, "error \"%s\" lacks \"%s\"",
                  error, reason);
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_rejected_total", "reason", label), 1);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    free(error);
}

/*
 * A known answer for X-HubSpot-Signature-v3, computed outside leadhub (so that a fault in
 * the HMAC or base64 the plugin and hh_sign_v3() share cannot hide):
 *   S='whs-test-2d9e61a7'; U='https://hooks.leadhub.example/hubspot/webhook?tenant=acme'
 *   B='[{"eventId":100,"subscriptionType":"contact.creation","objectId":123}]'
 *   printf '%s' "POST${U}${B}1741290127000" | openssl dgst -sha256 -hmac "$S" -binary \
 *     | openssl base64 -A
 * The timestamp is fixed, so the plugin (which refuses one older than 5 minutes) cannot
 * take this request as is: the host functions it signs with, and the helper the other
 * tests sign with, are checked against it instead.
 */
#define KAT_URI       "https://hooks.leadhub.example/hubspot/webhook?tenant=acme"
#define KAT_BODY      "[{\"eventId\":100,\"subscriptionType\":\"contact.creation\",\"objectId\":123}]"
#define KAT_TIMESTAMP "1741290127000"
#define KAT_SIGNATURE "g+526thxSm/eBP8xQdSQZxVMHKOX5SFEMJ79E16oQ+k="

START_TEST(test_hubspot_webhook_signature_matches_one_computed_with_openssl)
{
    const char *source = "POST" KAT_URI KAT_BODY KAT_TIMESTAMP;
    const lh_host_t *host = host_api_table();
    unsigned char digest[32];
    char encoded[48];
    host->hmac_sha256(HH_WEBHOOK_SECRET, strlen(HH_WEBHOOK_SECRET), source, strlen(source), digest);
    ck_assert_uint_eq(host->base64_encode(digest, sizeof(digest), encoded), 44);
    ck_assert_str_eq(encoded, KAT_SIGNATURE);
    char *signed_here = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", KAT_URI, KAT_BODY, KAT_TIMESTAMP);
    ck_assert_str_eq(signed_here, KAT_SIGNATURE);
    free(signed_here);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_request_without_a_signature)
{
    start_with_webhooks();
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, 0, "", NULL, NULL, &error);
    assert_refused(status, error, "missing X-HubSpot-Signature-v3 header", "missing_signature");
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_legacy_v1_and_v2_signatures)
{
    start_with_webhooks();
    const lh_header_t headers[] = {
        {"X-HubSpot-Signature", "3c5e0a0e2a34e0c07ba7f7d8f62b7e0d5b4e1a6e0d4c8f2b7a1e9d3c5b7a9f10"},
        {"X-HubSpot-Signature-Version", "v1"},
    };
    char *error = NULL;
    lh_status_t status = hh_webhook_raw(&h, headers, 2, "", NOTIFICATION_1, NULL, &error);
    assert_refused(status, error, "only X-HubSpot-Signature-v3 is accepted", "legacy_signature");
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_missing_timestamp)
{
    start_with_webhooks();
    char ts[24];
    hh_timestamp(0, ts);
    char *signature = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", WEBHOOK_URL, NOTIFICATION_1, ts);
    const lh_header_t headers[] = {{"X-HubSpot-Signature-v3", signature}};
    char *error = NULL;
    lh_status_t status = hh_webhook_raw(&h, headers, 1, "", NOTIFICATION_1, NULL, &error);
    assert_refused(status, error, "missing X-HubSpot-Request-Timestamp header",
                   "missing_timestamp");
    free(signature);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_timestamp_that_is_not_epoch_milliseconds)
{
    start_with_webhooks();
    const char *ts = "2026-11-27T10:00:00Z";
    char *signature = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", WEBHOOK_URL, NOTIFICATION_1, ts);
    char *error = NULL;
    lh_status_t status =
        hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, 0, signature, ts, NULL, &error);
    assert_refused(status, error, "must be epoch milliseconds", "malformed_timestamp");
    free(signature);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_timestamp_older_than_five_minutes)
{
    start_with_webhooks();
    char *error = NULL;
    /* correctly signed, but captured six minutes ago: a replay */
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, -FIVE_MINUTES - 60000,
                                    NULL, NULL, NULL, &error);
    assert_refused(status, error, "away from the server's clock", "stale_timestamp");
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_timestamp_from_the_future)
{
    start_with_webhooks();
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, FIVE_MINUTES + 60000, NULL,
                                    NULL, NULL, &error);
    assert_refused(status, error, "away from the server's clock", "stale_timestamp");
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_signature_made_with_another_secret)
{
    start_with_webhooks();
    char ts[24];
    hh_timestamp(0, ts);
    char *signature = hh_sign_v3("another-app-secret", "POST", WEBHOOK_URL, NOTIFICATION_1, ts);
    char *error = NULL;
    lh_status_t status =
        hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, 0, signature, ts, NULL, &error);
    assert_refused(status, error, "X-HubSpot-Signature-v3 does not match", "bad_signature");
    free(signature);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_changed_body)
{
    start_with_webhooks();
    char ts[24];
    hh_timestamp(0, ts);
    char *signature = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", WEBHOOK_URL, NOTIFICATION_1, ts);
    const char *changed =
        "[{\"eventId\":1,\"subscriptionType\":\"contact.creation\",\"objectId\":2}]";
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", changed, 0, signature, ts, NULL, &error);
    assert_refused(status, error, "X-HubSpot-Signature-v3 does not match", "bad_signature");
    free(signature);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_a_signature_over_another_uri)
{
    start_with_webhooks();
    char ts[24];
    hh_timestamp(0, ts);
    /* signed for another target, or another query, than the request's */
    char *elsewhere = hh_sign_v3(HH_WEBHOOK_SECRET, "POST", "https://evil.example/webhooks/crm",
                                 NOTIFICATION_1, ts);
    char *other_query =
        hh_sign_v3(HH_WEBHOOK_SECRET, "POST", WEBHOOK_URL "?tenant=acme", NOTIFICATION_1, ts);
    char *error = NULL;
    ck_assert_int_eq(
        hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, 0, elsewhere, ts, NULL, &error), LH_AUTH);
    free(error);
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "tenant=globex", NOTIFICATION_1, 0,
                                    other_query, ts, NULL, &error);
    ck_assert_int_eq(status, LH_AUTH);
    ck_assert_ptr_nonnull(strstr(error, "webhook_url is exactly the target URL"));
    free(error);
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_rejected_total", "reason", "bad_signature"), 2);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    free(elsewhere);
    free(other_query);
}
END_TEST

START_TEST(test_hubspot_webhook_refuses_everything_when_not_configured)
{
    ck_assert_int_eq(hh_start(&h, hh_private_settings(&h)), LH_OK);
    char *error = NULL;
    lh_status_t status =
        hh_webhook(&h, WEBHOOK_URL, "", NOTIFICATION_1, 0, NULL, NULL, NULL, &error);
    assert_refused(status, error, "set webhook_client_secret and webhook_url", "not_configured");
}
END_TEST

START_TEST(test_hubspot_webhook_signs_the_uri_with_hubspots_escapes_decoded)
{
    start_with_webhooks();
    char *contact = fake_hubspot_contact_add(h.fake, "{\"email\":\"ada@analytical.example\"}", 0);
    char *body = util_printf(
        "[{\"eventId\":11,\"subscriptionType\":\"contact.creation\",\"objectId\":%s}]", contact);
    char ts[24];
    hh_timestamp(0, ts);
    /* the request arrives with %3A and %2F; HubSpot signed ':' and '/', and kept %20 */
    char *signature = hh_sign_v3(HH_WEBHOOK_SECRET, "POST",
                                 WEBHOOK_URL "?tenant=acme:eu/west&team=a%20b", body, ts);
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "tenant=acme%3Aeu%2Fwest&team=a%20b", body, 0,
                                    signature, ts, NULL, &error);
    ck_assert_msg(status == LH_OK, "%s", error);
    free(error);
    free(signature);
    free(body);
    free(contact);
}
END_TEST

START_TEST(test_hubspot_webhook_accepts_any_secret_while_rolling)
{
    json_t *settings = hh_private_settings(&h);
    hh_with_webhooks(settings, WEBHOOK_URL);
    setenv("HH_OLD_WEBHOOK_SECRET", "whs-old-5b1c9e0d2f", 1);
    json_object_set_new(settings, "webhook_client_secret",
                        json_pack("[s,s]", "${HH_OLD_WEBHOOK_SECRET}", "${HH_WEBHOOK_SECRET}"));
    ck_assert_int_eq(hh_start(&h, settings), LH_OK);
    char ts[24];
    hh_timestamp(0, ts);
    const char *body = "[]";
    char *old = hh_sign_v3("whs-old-5b1c9e0d2f", "POST", WEBHOOK_URL, body, ts);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, old, ts, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    free(old);
}
END_TEST

/* A batch naming contact a twice, contact b, a deal, and two kinds it does not fetch. */
static char *mixed_batch(const char *a, const char *b, const char *deal)
{
    return util_printf(
        "[{\"eventId\":3418820152,\"subscriptionId\":2841907,\"portalId\":44817302,\"appId\":"
        "4210286,\"occurredAt\":1741285004391,\"subscriptionType\":\"contact.propertyChange\","
        "\"attemptNumber\":0,\"objectId\":%s,\"propertyName\":\"jobtitle\",\"propertyValue\":"
        "\"VP of Sales\",\"changeSource\":\"CRM_UI\",\"sourceId\":\"userId:71244960\"},"
        "{\"eventId\":3418820153,\"subscriptionType\":\"contact.propertyChange\",\"objectId\":%s,"
        "\"propertyName\":\"company\",\"propertyValue\":\"Meridian\"},"
        "{\"eventId\":3418820154,\"subscriptionType\":\"contact.creation\",\"objectId\":%s,"
        "\"changeFlag\":\"NEW\",\"changeSource\":\"INTEGRATION\"},"
        "{\"eventId\":3418820155,\"subscriptionType\":\"deal.propertyChange\",\"objectId\":%s,"
        "\"propertyName\":\"dealstage\",\"propertyValue\":\"contractsent\"},"
        "{\"eventId\":3418820156,\"subscriptionType\":\"contact.deletion\",\"objectId\":9},"
        "{\"eventId\":3418820157,\"subscriptionType\":\"company.creation\",\"objectId\":7}]",
        a, a, b, deal);
}

/* The pending notifications of the instance, as "key=at" lines in key order. */
static char *pending(void)
{
    return testdb_text(h.db, "SELECT coalesce(string_agg(key || '=' || (value->>'at'), ' ' "
                             "ORDER BY key), '') FROM connector_notifications");
}

/* The webhook records what changed and calls nothing; the next poll fetches each object
 * once, by id, and the notifications are gone with its commit. */
START_TEST(test_hubspot_webhook_records_each_changed_object_once_and_the_poll_fetches_it)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(
        h.fake, "{\"email\":\"lucas@meridian.example\",\"jobtitle\":\"VP of Sales\"}", 0);
    char *b = fake_hubspot_contact_add(h.fake, "{\"email\":\"aisha@corvid.example\"}", 0);
    char *deal = fake_hubspot_deal_add(
        h.fake, "{\"dealname\":\"Corvid\",\"dealstage\":\"contractsent\",\"pipeline\":\"default\"}",
        b, 0);
    char *body = mixed_batch(a, b, deal);
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, &error);
    ck_assert_msg(status == LH_OK, "%s", error);
    free(error);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0); /* no provider call */
    /* the deletion is recorded as what it says: it needs no fetch */
    char *expected = util_printf("contact.deleted:9=0 contact:%s=1741285004391 contact:%s=0 "
                                 "deal:%s=0",
                                 a, b, deal);
    char *recorded = pending();
    ck_assert_str_eq(recorded, expected);
    free(recorded);
    free(expected);
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_notifications_total", "outcome", "received"),
                     6);
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_notifications_total", "outcome", "ignored"), 1);

    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    json_t *read = hh_request_json(&h, "POST", READ_CONTACTS, 0);
    json_t *inputs = json_pack("[{s:s}, {s:s}]", "id", a, "id", b);
    ck_assert(json_equal(json_object_get(read, "inputs"), inputs));
    json_decref(inputs);
    ck_assert_uint_eq(json_array_size(json_object_get(read, "properties")), 10);
    json_decref(read);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_DEALS), 1);
    ck_assert_uint_eq(json_array_size(events), 4);
    const json_t *deleted = json_array_get(events, 0);
    ck_assert_str_eq(json_string_value(json_object_get(deleted, "type")), "lead.deleted");
    ck_assert_str_eq(json_string_value(json_object_get(deleted, "source_id")),
                     "contact.deleted:9:0");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(deleted, "lead"), "external_id")), "9");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(events, 1), "type")),
                     "lead.updated");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(events, 2), "type")),
                     "lead.updated");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(events, 3), "type")),
                     "deal.stage_changed");
    recorded = pending();
    ck_assert_str_eq(recorded, "");
    free(recorded);
    json_decref(events);
    free(body);
    free(a);
    free(b);
    free(deal);
}
END_TEST

/* The events of `type` among events, in order. NEW array. */
static json_t *events_of_type(const json_t *events, const char *type)
{
    json_t *found = json_array();
    size_t i;
    const json_t *event;
    json_array_foreach(events, i, event)
    {
        if (strcmp(json_string_value(json_object_get(event, "type")), type) == 0) {
            json_array_append(found, (json_t *)event);
        }
    }
    return found;
}

START_TEST(test_hubspot_webhook_object_notifications_fetch_deals_and_contacts_by_object_type)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(
        h.fake, "{\"email\":\"lucas@meridian.example\",\"jobtitle\":\"VP of Sales\"}", 0);
    char *b = fake_hubspot_contact_add(h.fake, "{\"email\":\"aisha@corvid.example\"}", 0);
    char *deal = fake_hubspot_deal_add(
        h.fake, "{\"dealname\":\"Corvid\",\"dealstage\":\"contractsent\",\"pipeline\":\"default\"}",
        b, 0);
    /* the generic object.* subscriptions: 0-3 is a deal, 0-1 a contact; 0-2 (companies)
     * is not fetched, a contact's deletion is recorded as it is */
    char *body = util_printf(
        "[{\"eventId\":4001,\"subscriptionId\":2841990,\"portalId\":44817302,\"appId\":4210286,"
        "\"occurredAt\":1741285112870,\"subscriptionType\":\"object.propertyChange\","
        "\"attemptNumber\":0,\"objectId\":%s,\"objectTypeId\":\"0-3\",\"propertyName\":"
        "\"dealstage\",\"propertyValue\":\"contractsent\",\"changeSource\":\"CRM_UI\"},"
        "{\"eventId\":4002,\"subscriptionType\":\"object.propertyChange\",\"objectId\":%s,"
        "\"objectTypeId\":\"0-1\",\"propertyName\":\"jobtitle\",\"propertyValue\":\"VP of Sales\"},"
        "{\"eventId\":4003,\"subscriptionType\":\"object.creation\",\"objectId\":%s,"
        "\"objectTypeId\":\"0-1\",\"changeFlag\":\"NEW\"},"
        "{\"eventId\":4004,\"subscriptionType\":\"object.propertyChange\",\"objectId\":7,"
        "\"objectTypeId\":\"0-2\",\"propertyName\":\"name\",\"propertyValue\":\"Corvid\"},"
        "{\"eventId\":4005,\"subscriptionType\":\"object.deletion\",\"objectId\":%s,"
        "\"objectTypeId\":\"0-1\"}]",
        deal, a, b, a);
    char *error = NULL;
    lh_status_t status = hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, &error);
    ck_assert_msg(status == LH_OK, "%s", error);
    free(error);
    char *expected = util_printf("contact.deleted:%s=0 contact:%s=0 contact:%s=0 "
                                 "deal:%s=1741285112870",
                                 a, a, b, deal);
    char *recorded = pending();
    ck_assert_str_eq(recorded, expected);
    free(recorded);
    free(expected);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    /* the contacts read by id, both in one request; the deal read by id */
    json_t *read = hh_request_json(&h, "POST", READ_CONTACTS, 0);
    json_t *inputs = json_pack("[{s:s}, {s:s}]", "id", a, "id", b);
    ck_assert(json_equal(json_object_get(read, "inputs"), inputs));
    json_decref(inputs);
    json_decref(read);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_DEALS), 1);
    read = hh_request_json(&h, "POST", READ_DEALS, 0);
    inputs = json_pack("[{s:s}]", "id", deal);
    ck_assert(json_equal(json_object_get(read, "inputs"), inputs));
    json_decref(inputs);
    json_decref(read);

    json_t *leads = events_of_type(events, "lead.updated");
    ck_assert_uint_eq(json_array_size(leads), 2);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(leads, 0), "lead"), "email")),
                     "lucas@meridian.example");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(leads, 1), "lead"), "email")),
                     "aisha@corvid.example");
    json_decref(leads);
    json_t *deals = events_of_type(events, "deal.stage_changed");
    ck_assert_uint_eq(json_array_size(deals), 1);
    const json_t *data = json_object_get(json_array_get(deals, 0), "data");
    ck_assert_str_eq(json_string_value(json_object_get(data, "deal_id")), deal);
    ck_assert_str_eq(json_string_value(json_object_get(data, "stage")), "contractsent");
    json_decref(deals);
    json_t *deleted = events_of_type(events, "lead.deleted");
    ck_assert_uint_eq(json_array_size(deleted), 1);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_array_get(deleted, 0), "lead"), "external_id")),
                     a);
    json_decref(deleted);
    ck_assert_uint_eq(json_array_size(events), 4);
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_notifications_total", "outcome", "ignored"), 1);
    json_decref(events);
    free(body);
    free(a);
    free(b);
    free(deal);
}
END_TEST

/* A redelivery records the same values: nothing changes, and the poll fetches once. */
START_TEST(test_hubspot_webhook_redelivery_changes_nothing)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(h.fake, "{\"email\":\"lucas@meridian.example\"}", 0);
    char *b = fake_hubspot_contact_add(h.fake, "{\"email\":\"aisha@corvid.example\"}", 0);
    char *body = mixed_batch(a, b, "1");
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    char *seqs = testdb_text(h.db, "SELECT string_agg(seq::text, ',' ORDER BY key) "
                                   "FROM connector_notifications");
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    char *again = testdb_text(h.db, "SELECT string_agg(seq::text, ',' ORDER BY key) "
                                    "FROM connector_notifications");
    ck_assert_str_eq(again, seqs);
    ck_assert_uint_eq(fake_hubspot_request_count(h.fake), 0);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 1);
    /* the two contacts read, and contact 9's deletion, once */
    ck_assert_uint_eq(json_array_size(events), 3);
    json_t *deleted = events_of_type(events, "lead.deleted");
    ck_assert_uint_eq(json_array_size(deleted), 1);
    json_decref(deleted);
    json_decref(events);
    free(again);
    free(seqs);
    free(body);
    free(a);
    free(b);
}
END_TEST

/* Deletions and merges are recorded as what they say and become lead.erased (a privacy
 * deletion) and lead.merged without a read; the merge's kept record is read again. */
START_TEST(test_hubspot_webhook_deletions_and_merges_become_record_events)
{
    start_with_webhooks();
    char *kept = fake_hubspot_contact_add(h.fake, "{\"email\":\"lucas@meridian.example\"}", 0);
    /* HubSpot's documented fields: primaryObjectId, mergedObjectIds, newObjectId */
    char *body = util_printf(
        "[{\"eventId\":5001,\"subscriptionId\":2841907,\"portalId\":44817302,\"appId\":4210286,"
        "\"occurredAt\":1741285200000,\"subscriptionType\":\"contact.merge\",\"attemptNumber\":0,"
        "\"objectId\":%s,\"changeFlag\":\"MERGED\",\"changeSource\":\"CRM_UI\",\"sourceId\":"
        "\"userId:71244960\",\"primaryObjectId\":%s,\"mergedObjectIds\":[3101,3102],"
        "\"newObjectId\":%s,\"numberOfPropertiesMoved\":4},"
        "{\"eventId\":5002,\"subscriptionType\":\"contact.privacyDeletion\",\"objectId\":3200,"
        "\"occurredAt\":1741285300000,\"changeFlag\":\"DELETED\"}]",
        kept, kept, kept);
    char *error = NULL;
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, &error), LH_OK);
    free(error);
    char *expected = util_printf("contact.deleted:3200=1741285300000 "
                                 "contact.merged:3101=1741285200000 "
                                 "contact.merged:3102=1741285200000 contact:%s=1741285200000",
                                 kept);
    char *recorded = pending();
    ck_assert_str_eq(recorded, expected);
    free(recorded);
    free(expected);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    json_t *merged = events_of_type(events, "lead.merged");
    ck_assert_uint_eq(json_array_size(merged), 2);
    for (size_t i = 0; i < 2; i++) {
        const json_t *event = json_array_get(merged, i);
        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(event, "lead"), "external_id")),
            kept);
        const json_t *ids = json_object_get(json_object_get(event, "data"), "merged_external_ids");
        ck_assert_uint_eq(json_array_size(ids), 1);
        ck_assert_str_eq(json_string_value(json_array_get(ids, 0)), i == 0 ? "3101" : "3102");
        char *source_id = util_printf("contact.merged:%s:1741285200000", i == 0 ? "3101" : "3102");
        ck_assert_str_eq(json_string_value(json_object_get(event, "source_id")), source_id);
        free(source_id);
    }
    json_decref(merged);
    /* a privacy deletion is the person asking to be forgotten: an erasure, not a record
     * deleted */
    json_t *deleted = events_of_type(events, "lead.deleted");
    ck_assert_uint_eq(json_array_size(deleted), 0);
    json_decref(deleted);
    json_t *erased = events_of_type(events, "lead.erased");
    ck_assert_uint_eq(json_array_size(erased), 1);
    const json_t *event = json_array_get(erased, 0);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(event, "lead"), "external_id")), "3200");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(event, "data"), "reason")),
                     "hubspot_privacy_deletion");
    json_decref(erased);
    /* the kept contact read again, alone */
    ck_assert_uint_eq(fake_hubspot_count(h.fake, "POST", READ_CONTACTS), 1);
    ck_assert_uint_eq(json_array_size(events), 4);
    recorded = pending();
    ck_assert_str_eq(recorded, "");
    free(recorded);
    json_decref(events);
    free(body);
    free(kept);
}
END_TEST

/* A deleted contact's last-seen state is forgotten: restored, it is read in full again. */
START_TEST(test_hubspot_webhook_a_deleted_contact_restored_is_read_in_full)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(
        h.fake, "{\"email\":\"lucas@meridian.example\",\"firstname\":\"Lucas\"}", 0);
    char *body = util_printf("[{\"eventId\":7001,\"subscriptionType\":\"contact.creation\","
                             "\"objectId\":%s,\"occurredAt\":1741285000000}]",
                             a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    ck_assert_uint_eq(json_array_size(events), 1);
    json_decref(events);
    events = NULL;
    free(body);
    /* deleted, then restored unchanged: the restore is read as a contact seen anew */
    fake_hubspot_contact_delete(h.fake, a);
    body = util_printf("[{\"eventId\":7002,\"subscriptionType\":\"contact.deletion\","
                       "\"objectId\":%s,\"occurredAt\":1741285100000}]",
                       a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    json_t *deleted = events_of_type(events, "lead.deleted");
    ck_assert_uint_eq(json_array_size(deleted), 1);
    json_decref(deleted);
    json_decref(events);
    events = NULL;
    free(body);
    fake_hubspot_contact_restore(h.fake, a);
    body = util_printf("[{\"eventId\":7003,\"subscriptionType\":\"contact.restore\","
                       "\"objectId\":%s,\"occurredAt\":1741285200000}]",
                       a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    json_t *updated = events_of_type(events, "lead.updated");
    ck_assert_uint_eq(json_array_size(updated), 1);
    const json_t *lead = json_object_get(json_array_get(updated, 0), "lead");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "email")), "lucas@meridian.example");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "first_name")), "Lucas");
    json_decref(updated);
    json_decref(events);
    free(body);
    free(a);
}
END_TEST

/* One change, notified and polled: one event, whichever comes first. */
START_TEST(test_hubspot_webhook_and_poll_store_one_event_for_one_change)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(h.fake, "{\"email\":\"lucas@meridian.example\"}", 0);
    char *body = util_printf(
        "[{\"eventId\":21,\"subscriptionType\":\"contact.creation\",\"objectId\":%s}]", a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_poll(&h, NULL, NULL), LH_OK);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM events"), 1);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    ck_assert_uint_eq(json_array_size(events), 0);
    json_decref(events);
    /* and the other way round: a change polled first, then notified */
    fake_hubspot_contact_update(h.fake, a, "{\"jobtitle\":\"CFO\"}", 0);
    ck_assert_int_eq(hh_poll(&h, NULL, NULL), LH_OK);
    free(body);
    body = util_printf(
        "[{\"eventId\":22,\"subscriptionType\":\"contact.propertyChange\",\"objectId\":%s}]", a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    ck_assert_int_eq(hh_poll(&h, NULL, NULL), LH_OK);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM events"), 2);
    free(body);
    free(a);
}
END_TEST

START_TEST(test_hubspot_webhook_malformed_body_is_refused_after_its_signature)
{
    start_with_webhooks();
    const char *bodies[] = {"{\"eventId\":1}", "[{\"eventId\":1", "not json"};
    for (size_t i = 0; i < 3; i++) {
        char *error = NULL;
        ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", bodies[i], 0, NULL, NULL, NULL, &error),
                         LH_PERMANENT);
        ck_assert_ptr_nonnull(error);
        free(error);
    }
    ck_assert_int_eq(hh_metric(&h, "hubspot_webhook_rejected_total", "reason", "malformed_body"),
                     3);
}
END_TEST

/* A fetch that fails fails the poll, which removes nothing: its retry fetches. */
START_TEST(test_hubspot_webhook_failed_fetch_leaves_the_notification_pending)
{
    start_with_webhooks();
    char *a = fake_hubspot_contact_add(h.fake, "{\"email\":\"lucas@meridian.example\"}", 0);
    char *body = util_printf(
        "[{\"eventId\":31,\"subscriptionType\":\"contact.creation\",\"objectId\":%s}]", a);
    ck_assert_int_eq(hh_webhook(&h, WEBHOOK_URL, "", body, 0, NULL, NULL, NULL, NULL), LH_OK);
    fake_hubspot_fail(h.fake, "POST", READ_CONTACTS, 503, "{}", NULL, 1);
    ck_assert_int_eq(hh_poll(&h, NULL, NULL), LH_RETRY);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM connector_notifications"), 1);
    json_t *events = NULL;
    ck_assert_int_eq(hh_poll(&h, &events, NULL), LH_OK);
    ck_assert_uint_eq(json_array_size(events), 1);
    ck_assert_int_eq(testdb_scalar(h.db, "SELECT count(*) FROM connector_notifications"), 0);
    json_decref(events);
    free(body);
    free(a);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("hubspot_webhook");
    TCase *tc = tcase_create("webhook");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hubspot_webhook_signature_matches_one_computed_with_openssl);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_request_without_a_signature);
    tcase_add_test(tc, test_hubspot_webhook_refuses_legacy_v1_and_v2_signatures);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_missing_timestamp);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_timestamp_that_is_not_epoch_milliseconds);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_timestamp_older_than_five_minutes);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_timestamp_from_the_future);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_signature_made_with_another_secret);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_changed_body);
    tcase_add_test(tc, test_hubspot_webhook_refuses_a_signature_over_another_uri);
    tcase_add_test(tc, test_hubspot_webhook_refuses_everything_when_not_configured);
    tcase_add_test(tc, test_hubspot_webhook_signs_the_uri_with_hubspots_escapes_decoded);
    tcase_add_test(tc, test_hubspot_webhook_accepts_any_secret_while_rolling);
    tcase_add_test(tc,
                   test_hubspot_webhook_records_each_changed_object_once_and_the_poll_fetches_it);
    tcase_add_test(tc, test_hubspot_webhook_redelivery_changes_nothing);
    tcase_add_test(tc, test_hubspot_webhook_deletions_and_merges_become_record_events);
    tcase_add_test(tc, test_hubspot_webhook_a_deleted_contact_restored_is_read_in_full);
    tcase_add_test(
        tc, test_hubspot_webhook_object_notifications_fetch_deals_and_contacts_by_object_type);
    tcase_add_test(tc, test_hubspot_webhook_and_poll_store_one_event_for_one_change);
    tcase_add_test(tc, test_hubspot_webhook_malformed_body_is_refused_after_its_signature);
    tcase_add_test(tc, test_hubspot_webhook_failed_fetch_leaves_the_notification_pending);
    suite_add_tcase(s, tc);
    int rc = tu_run_suite(s);
    curl_global_cleanup();
    return rc;
}
