/*
 * test_stripe_normalize.c - the normalizer alone: every mapping of
 * docs/connectors/stripe.md on Stripe's example payloads and their variants (expanded
 * objects, the 2025-03-31.basil invoice shape, lead references), skips, refusals, and the
 * promise that whatever it emits passes the host's own validation (core/event.c).
 *
 * The normalizer is a pure function compiled into the plugin; its source files are
 * included here so that it can be called directly, exactly as the fuzz target does.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

/* The plugin's own sources, on purpose: the test links core, not the plugin's objects. */
#include "../stripe_lead.c"      // NOLINT(bugprone-suspicious-include)
#include "../stripe_normalize.c" // NOLINT(bugprone-suspicious-include)
#include "event.h"
#include "stripe_test.h"

#define ALL_TYPES ((1U << STRIPE_TYPE_COUNT) - 1)

static const struct stripe_filter test_mode = {.types = ALL_TYPES, .livemode = false};

/* Normalizes `stripe_event` (borrowed) and checks that it is emitted; returns the event. */
static json_t *emitted(const json_t *stripe_event)
{
    struct stripe_outcome out;
    enum stripe_verdict verdict = stripe_normalize(stripe_event, &test_mode, &out);
    ck_assert_msg(verdict == STRIPE_EMIT, "verdict %d: %s (%s)", verdict, out.detail,
                  out.reason ? out.reason : "");
    ck_assert_ptr_nonnull(out.event);
    return out.event;
}

/* The host's verdict on an emitted event (borrowed): NULL when valid, else its reason
 * (malloc'd). */
static char *host_refusal(json_t *event)
{
    struct event_record record;
    char *error = NULL;
    if (event_validate(json_incref(event), "billing", &record, &error) == 0) {
        event_record_clear(&record);
        return NULL;
    }
    return error != NULL ? error : strdup("?");
}

static json_int_t integer_at(const json_t *object, const char *member)
{
    const json_t *value = json_object_get(object, member);
    ck_assert_msg(json_is_integer(value), "%s is not an integer", member);
    return json_integer_value(value);
}

START_TEST(test_customer_created_becomes_customer_created_with_the_customer_as_lead)
{
    json_t *stripe_event = st_fixture("event.customer.created.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "customer.created");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_1QzW5jK8Lm2Np4Qr6StUv7Wx");
    ck_assert_str_eq(st_text(event, "occurred_at"), "2025-03-06T19:42:01Z");
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    /* "Northwind Analytics Inc." is an organization: a company, not a first/last name */
    ck_assert_str_eq(st_text(lead, "company"), "Northwind Analytics Inc.");
    ck_assert_ptr_null(json_object_get(lead, "first_name"));
    ck_assert_str_eq(st_text(lead, "phone"), "+15125550176");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    /* metadata.leadhub_lead_id "ld_01JN..." is not a leadhub lead id (those are integers) */
    ck_assert_ptr_null(json_object_get(lead, "id"));
    ck_assert_uint_eq(json_object_size(lead), 4);
    const json_t *data = json_object_get(event, "data");
    ck_assert_str_eq(st_text(data, "stripe_event_type"), "customer.created");
    ck_assert_str_eq(st_text(data, "customer"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(data, "name"), "Northwind Analytics Inc.");
    ck_assert(json_is_false(json_object_get(data, "livemode")));
    ck_assert(json_equal(json_object_get(event, "raw"), stripe_event));
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_customer_updated_becomes_lead_updated_naming_the_changed_fields)
{
    json_t *stripe_event = st_fixture("event.customer.created.json");
    json_object_set_new(stripe_event, "type", json_string("customer.updated"));
    json_t *customer = st_object(stripe_event);
    json_object_set_new(customer, "name", json_string("Priya Natarajan"));
    json_object_set_new(json_object_get(stripe_event, "data"), "previous_attributes",
                        json_pack("{s:s, s:n}", "name", "Northwind Analytics Inc.", "phone"));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "lead.updated");
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "first_name"), "Priya");
    ck_assert_str_eq(st_text(lead, "last_name"), "Natarajan");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    json_t *expected_changed = json_pack("[s, s]", "name", "phone");
    ck_assert(
        json_equal(json_object_get(json_object_get(event, "data"), "changed"), expected_changed));
    json_decref(expected_changed);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_customer_metadata_leadhub_lead_id_links_an_existing_lead)
{
    json_t *stripe_event = st_fixture("event.customer.created.json");
    json_object_set_new(json_object_get(st_object(stripe_event), "metadata"), "leadhub_lead_id",
                        json_string("4711"));
    json_t *event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 4711);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_paid_checkout_becomes_payment_succeeded_with_amount_mode_and_buyer)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.succeeded");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_1QzW5nK8Lm2Np4QrMn7Op8Qr");
    ck_assert_str_eq(st_text(event, "occurred_at"), "2025-03-06T19:42:07Z");
    const json_t *data = json_object_get(event, "data");
    ck_assert_int_eq(integer_at(data, "amount"), 187500);
    ck_assert_str_eq(st_text(data, "currency"), "usd");
    ck_assert_str_eq(st_text(data, "mode"), "subscription");
    ck_assert_str_eq(st_text(data, "payment_status"), "paid");
    ck_assert_str_eq(st_text(data, "checkout_session"),
                     "cs_test_a1Fq9Xw7Lk2Vb5Nm8Pz3Rt6Yh0Jc4Ds1Ge9Hu2Ki5Lo8");
    ck_assert_str_eq(st_text(data, "customer"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(data, "subscription"), "sub_1QzW5lK8Lm2Np4QrGh5Ij6Kl");
    ck_assert_str_eq(st_text(data, "invoice"), "in_1QzW5mK8Lm2Np4QrAb3Cd4Ef");
    ck_assert_ptr_null(json_object_get(data, "payment_intent")); /* null in the payload */
    ck_assert_str_eq(st_text(data, "client_reference_id"), "ld_01JNQ7W3ZK8V4M2R6T9Y0XH5FA");
    /* the buyer as customer_details has them: its email over customer_email */
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "first_name"), "Priya");
    ck_assert_str_eq(st_text(lead, "last_name"), "Natarajan");
    ck_assert_ptr_null(json_object_get(lead, "phone")); /* null in customer_details */
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_ptr_null(json_object_get(lead, "id"));
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_checkout_client_reference_id_links_the_lead_before_metadata)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_t *session = st_object(stripe_event);
    json_object_set_new(session, "client_reference_id", json_string("42"));
    json_object_set_new(json_object_get(session, "metadata"), "leadhub_lead_id", json_string("7"));
    json_t *event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 42);
    json_decref(event);

    /* a reference that is not a leadhub lead id gives way to the metadata's */
    json_object_set_new(session, "client_reference_id", json_string("order-42"));
    event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 7);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_checkout_with_an_expanded_customer_reads_its_id)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_t *session = st_object(stripe_event);
    json_object_set_new(session, "customer",
                        json_pack("{s:s, s:s, s:s, s:s}", "id", "cus_RmK8t2VqLx9Pz1", "object",
                                  "customer", "email", "ap@northwind-analytics.com", "phone",
                                  "+15125550100"));
    json_object_set_new(
        session, "subscription",
        json_pack("{s:s, s:s}", "id", "sub_1QzW5lK8Lm2Np4QrGh5Ij6Kl", "object", "subscription"));
    json_t *event = emitted(stripe_event);
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    /* customer_details still wins for the email; the customer fills what it lacks */
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "phone"), "+15125550100");
    ck_assert_str_eq(st_text(event, "data.customer"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(event, "data.subscription"), "sub_1QzW5lK8Lm2Np4QrGh5Ij6Kl");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_checkout_needing_no_payment_is_a_payment_of_zero)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_t *session = st_object(stripe_event);
    json_object_set_new(session, "payment_status", json_string("no_payment_required"));
    json_object_set_new(session, "amount_total", json_null());
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.succeeded");
    ck_assert_int_eq(integer_at(json_object_get(event, "data"), "amount"), 0);
    ck_assert_str_eq(st_text(event, "data.payment_status"), "no_payment_required");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_unpaid_checkout_is_skipped)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_object_set_new(st_object(stripe_event), "payment_status", json_string("unpaid"));
    struct stripe_outcome out;
    ck_assert_int_eq(stripe_normalize(stripe_event, &test_mode, &out), STRIPE_SKIP);
    ck_assert_str_eq(out.reason, "not_paid");
    ck_assert_ptr_nonnull(strstr(out.detail, "payment_status unpaid"));
    ck_assert_ptr_null(out.event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_paid_invoice_becomes_payment_succeeded_with_its_subscription)
{
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.succeeded");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_1QzW5oK8Lm2Np4QrRs9Tu0Vw");
    ck_assert_str_eq(st_text(event, "occurred_at"), "2025-03-06T19:42:06Z");
    const json_t *data = json_object_get(event, "data");
    ck_assert_int_eq(integer_at(data, "amount"), 187500);
    ck_assert_str_eq(st_text(data, "currency"), "usd");
    ck_assert_str_eq(st_text(data, "billing_reason"), "subscription_create");
    ck_assert_str_eq(st_text(data, "invoice"), "in_1QzW5mK8Lm2Np4QrAb3Cd4Ef");
    ck_assert_str_eq(st_text(data, "number"), "8C1B2F7A-0001");
    ck_assert_str_eq(st_text(data, "subscription"), "sub_1QzW5lK8Lm2Np4QrGh5Ij6Kl");
    ck_assert_str_eq(st_text(data, "customer"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(data, "paid_at"), "2025-03-06T19:42:05Z");
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "company"), "Northwind Analytics Inc.");
    ck_assert_str_eq(st_text(lead, "phone"), "+15125550176");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_basil_invoice_reads_the_subscription_from_its_parent)
{
    /* 2025-03-31.basil moved subscription and subscription_details under parent */
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    json_object_set_new(stripe_event, "api_version", json_string("2025-03-31.basil"));
    json_t *invoice = st_object(stripe_event);
    json_object_del(invoice, "subscription");
    json_object_del(invoice, "subscription_details");
    json_object_set_new(invoice, "parent",
                        json_pack("{s:n, s:s, s:{s:{s:s}, s:s}}", "quote_details", "type",
                                  "subscription_details", "subscription_details", "metadata",
                                  "leadhub_lead_id", "12", "subscription",
                                  "sub_1RbasilK8Lm2Np4QrXy7Z"));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "data.subscription"), "sub_1RbasilK8Lm2Np4QrXy7Z");
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 12);
    json_decref(event);

    /* the same with the subscription expanded into an object */
    json_object_set_new(
        json_object_get(json_object_get(invoice, "parent"), "subscription_details"), "subscription",
        json_pack("{s:s, s:s}", "id", "sub_1RbasilK8Lm2Np4QrXy7Z", "object", "subscription"));
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "data.subscription"), "sub_1RbasilK8Lm2Np4QrXy7Z");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_pre_basil_invoice_takes_the_lead_id_from_subscription_details)
{
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    json_object_set_new(
        json_object_get(json_object_get(st_object(stripe_event), "subscription_details"),
                        "metadata"),
        "leadhub_lead_id", json_integer(99));
    json_t *event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 99);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_deleted_subscription_becomes_subscription_canceled_with_its_reason)
{
    json_t *stripe_event = st_fixture("event.customer.subscription.deleted.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.canceled");
    ck_assert_str_eq(st_text(event, "occurred_at"), "2025-06-05T19:42:05Z");
    const json_t *data = json_object_get(event, "data");
    ck_assert_str_eq(st_text(data, "subscription"), "sub_1QzW5lK8Lm2Np4QrGh5Ij6Kl");
    ck_assert_str_eq(st_text(data, "status"), "canceled");
    ck_assert_str_eq(st_text(data, "customer"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(data, "cancellation_reason"), "cancellation_requested");
    ck_assert_str_eq(st_text(data, "cancellation_feedback"), "switched_service");
    ck_assert_str_eq(st_text(data, "cancellation_comment"), "Moving to an in-house tool");
    ck_assert_str_eq(st_text(data, "canceled_at"), "2025-06-05T19:42:04Z");
    ck_assert_str_eq(st_text(data, "ended_at"), "2025-06-05T19:42:04Z");
    ck_assert_str_eq(st_text(data, "started_at"), "2025-03-06T19:42:04Z");
    ck_assert_int_eq(integer_at(data, "quantity"), 25);
    json_t *items = json_pack("[{s:s, s:s, s:i}]", "price", "price_1QyB7cK8Lm2Np4QrTeam25M",
                              "product", "prod_RlA9Xy2Wv3Ut4S", "quantity", 25);
    ck_assert(json_equal(json_object_get(data, "items"), items));
    json_decref(items);
    /* only the customer's id is known: the lead is found through its identity */
    json_t *lead = json_pack("{s:s}", "external_id", "cus_RmK8t2VqLx9Pz1");
    ck_assert(json_equal(json_object_get(event, "lead"), lead));
    json_decref(lead);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_created_subscription_becomes_subscription_started)
{
    json_t *stripe_event = st_fixture("event.customer.subscription.deleted.json");
    json_object_set_new(stripe_event, "type", json_string("customer.subscription.created"));
    json_t *subscription = st_object(stripe_event);
    json_object_set_new(subscription, "status", json_string("active"));
    json_object_set_new(subscription, "metadata", json_pack("{s:s}", "leadhub_lead_id", "31"));
    json_object_set_new(subscription, "customer",
                        json_pack("{s:s, s:s, s:s}", "id", "cus_RmK8t2VqLx9Pz1", "email",
                                  "Billing@Northwind-Analytics.com", "name", "Priya Natarajan"));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.started");
    ck_assert_str_eq(st_text(event, "data.status"), "active");
    /* cancellation details belong to subscription.canceled only */
    ck_assert_ptr_null(json_object_get(json_object_get(event, "data"), "cancellation_reason"));
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "first_name"), "Priya");
    ck_assert_int_eq(integer_at(lead, "id"), 31);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_event_of_the_other_mode_is_skipped)
{
    json_t *stripe_event = st_fixture("event.invoice.paid.json"); /* livemode false */
    struct stripe_filter live = {.types = ALL_TYPES, .livemode = true};
    struct stripe_outcome out;
    ck_assert_int_eq(stripe_normalize(stripe_event, &live, &out), STRIPE_SKIP);
    ck_assert_str_eq(out.reason, "livemode_mismatch");
    ck_assert_ptr_nonnull(strstr(out.detail, "test-mode event"));
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_types_not_enabled_or_not_mapped_are_skipped)
{
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    struct stripe_filter customers_only = {.types = 1U << STRIPE_CUSTOMER_CREATED};
    struct stripe_outcome out;
    ck_assert_int_eq(stripe_normalize(stripe_event, &customers_only, &out), STRIPE_SKIP);
    ck_assert_str_eq(out.reason, "type_not_enabled");
    json_object_set_new(stripe_event, "type", json_string("invoice.voided"));
    ck_assert_int_eq(stripe_normalize(stripe_event, &test_mode, &out), STRIPE_SKIP);
    ck_assert_str_eq(out.reason, "unsupported_type");
    ck_assert_ptr_nonnull(strstr(out.detail, "invoice.voided"));
    json_decref(stripe_event);
}
END_TEST

/* A broken copy of the invoice example: `path` set to `value` (NULL deletes it). */
static json_t *broken_invoice(const char *member, json_t *value, bool in_object)
{
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    json_t *target = in_object ? st_object(stripe_event) : stripe_event;
    if (value == NULL) {
        json_object_del(target, member);
    } else {
        json_object_set_new(target, member, value);
    }
    return stripe_event;
}

START_TEST(test_malformed_events_are_refused_with_the_field_at_fault)
{
    json_t *deep = json_array();
    for (int i = 0; i < 80; i++) {
        deep = json_pack("[o]", deep);
    }
    struct {
        json_t *stripe_event;
        const char *detail;
    } cases[] = {
        {json_string("evt_1"), "not a JSON object"},
        {broken_invoice("object", json_string("invoice"), false), "expected \"event\""},
        {broken_invoice("id", json_string("evt with spaces"), false), "id: expected"},
        {broken_invoice("created", json_string("yesterday"), false), "created: expected"},
        {broken_invoice("livemode", NULL, false), "livemode: expected"},
        {broken_invoice("data", json_pack("{s:s}", "object", "in_1"), false), "data.object"},
        {broken_invoice("id", NULL, true), "data.object.id"},
        {broken_invoice("amount_paid", json_string("187500"), true), "amount_paid"},
        {broken_invoice("object", json_string("customer"), true), "data.object.object"},
        {broken_invoice("lines", deep, true), "nested too deeply"},
        {broken_invoice("total", json_real(1e308), true), "number out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct stripe_outcome out;
        ck_assert_int_eq(stripe_normalize(cases[i].stripe_event, &test_mode, &out), STRIPE_INVALID);
        ck_assert_str_eq(out.reason, "malformed");
        ck_assert_msg(strstr(out.detail, cases[i].detail) != NULL, "case %zu: \"%s\" lacks \"%s\"",
                      i, out.detail, cases[i].detail);
        ck_assert_ptr_null(out.event);
        json_decref(cases[i].stripe_event);
    }
}
END_TEST

START_TEST(test_unusable_customer_fields_are_left_out_not_fatal)
{
    json_t *stripe_event = st_fixture("event.customer.created.json");
    json_t *customer = st_object(stripe_event);
    char long_name[2000];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    json_object_set_new(customer, "email", json_string("billing at northwind"));
    json_object_set_new(customer, "name", json_string(long_name));
    json_object_set_new(customer, "phone", json_integer(5125550176));
    json_t *event = emitted(stripe_event);
    json_t *lead = json_pack("{s:s}", "external_id", "cus_RmK8t2VqLx9Pz1");
    ck_assert(json_equal(json_object_get(event, "lead"), lead));
    json_decref(lead);
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_names_split_only_when_they_look_like_a_person)
{
    /* the shared parser's rules (plugins/common/person_name.h); a name it is unsure of
     * stays whole in attributes.full_name */
    struct {
        const char *name;
        const char *first, *last, *company, *full_name;
    } cases[] = {
        {"Priya Natarajan", "Priya", "Natarajan", NULL, NULL},
        {"  Ana de la Cruz ", "Ana", "de la Cruz", NULL, NULL},
        {"Dr. José María Gutiérrez", "José María", "Gutiérrez", NULL, NULL},
        {"Kowalski, Marek", "Marek", "Kowalski", NULL, NULL},
        {"Cher", NULL, NULL, NULL, "Cher"},
        {"Gabriel García Márquez", NULL, NULL, NULL, "Gabriel García Márquez"},
        {"Northwind Analytics Inc.", NULL, NULL, "Northwind Analytics Inc.", NULL},
        {"Acme GmbH", NULL, NULL, "Acme GmbH", NULL},
        {"株式会社テスト", NULL, NULL, "株式会社テスト", NULL},
        {"ООО «Ромашка»", NULL, NULL, "ООО «Ромашка»", NULL},
        {"Smith & Sons", NULL, NULL, "Smith & Sons", NULL},
        {"Order 1234", NULL, NULL, NULL, NULL},
        {"billing@northwind-analytics.com", NULL, NULL, NULL, NULL},
        {"   ", NULL, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *lead = json_object();
        json_t *name = json_string(cases[i].name);
        stripe_lead_set_name(lead, name);
        const char *expected[] = {cases[i].first, cases[i].last, cases[i].company,
                                  cases[i].full_name};
        const json_t *objects[] = {lead, lead, lead, json_object_get(lead, "attributes")};
        const char *keys[] = {"first_name", "last_name", "company", "full_name"};
        for (size_t k = 0; k < 4; k++) {
            const json_t *got = json_object_get(objects[k], keys[k]);
            ck_assert_msg(expected[k] == NULL
                              ? got == NULL
                              : got != NULL && strcmp(json_string_value(got), expected[k]) == 0,
                          "\"%s\": %s is \"%s\"", cases[i].name, keys[k],
                          got != NULL ? json_string_value(got) : "(absent)");
        }
        json_decref(name);
        json_decref(lead);
    }
}
END_TEST

START_TEST(test_only_positive_integers_are_leadhub_lead_ids)
{
    const char *refused[] = {
        "ld_01JNQ7W3ZK8V4M2R6T9Y0XH5FA", "0", "-3", "+3", " 3", "3.0", "1234567890123456789"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        json_t *lead = json_object();
        json_t *value = json_string(refused[i]);
        ck_assert_int_eq(stripe_lead_set_id(lead, value), 0);
        ck_assert_ptr_null(json_object_get(lead, "id"));
        json_decref(value);
        json_decref(lead);
    }
    json_t *lead = json_object();
    json_t *value = json_string("000123");
    ck_assert_int_eq(stripe_lead_set_id(lead, value), 1);
    ck_assert_int_eq(integer_at(lead, "id"), 123);
    json_decref(value);
    json_decref(lead);
}
END_TEST

START_TEST(test_every_emitted_example_passes_the_host_validation)
{
    const char *names[] = {"event.customer.created.json", "event.checkout.session.completed.json",
                           "event.invoice.paid.json", "event.customer.subscription.deleted.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *stripe_event = st_fixture(names[i]);
        json_t *event = emitted(stripe_event);
        char *refusal = host_refusal(event);
        ck_assert_msg(refusal == NULL, "%s: %s", names[i], refusal);
        json_decref(event);
        json_decref(stripe_event);
    }
    /* and the events of a list page, as the poll sees them */
    json_t *page = st_fixture("events.list.page.json");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(page, "data"), i, item)
    {
        json_t *event = emitted(item);
        char *refusal = host_refusal(event);
        ck_assert_msg(refusal == NULL, "page item %zu: %s", i, refusal);
        json_decref(event);
    }
    json_decref(page);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stripe_normalize");
    TCase *tc = tcase_create("normalize");
    tcase_add_test(tc, test_customer_created_becomes_customer_created_with_the_customer_as_lead);
    tcase_add_test(tc, test_customer_updated_becomes_lead_updated_naming_the_changed_fields);
    tcase_add_test(tc, test_customer_metadata_leadhub_lead_id_links_an_existing_lead);
    tcase_add_test(tc, test_paid_checkout_becomes_payment_succeeded_with_amount_mode_and_buyer);
    tcase_add_test(tc, test_checkout_client_reference_id_links_the_lead_before_metadata);
    tcase_add_test(tc, test_checkout_with_an_expanded_customer_reads_its_id);
    tcase_add_test(tc, test_checkout_needing_no_payment_is_a_payment_of_zero);
    tcase_add_test(tc, test_unpaid_checkout_is_skipped);
    tcase_add_test(tc, test_paid_invoice_becomes_payment_succeeded_with_its_subscription);
    tcase_add_test(tc, test_basil_invoice_reads_the_subscription_from_its_parent);
    tcase_add_test(tc, test_pre_basil_invoice_takes_the_lead_id_from_subscription_details);
    tcase_add_test(tc, test_deleted_subscription_becomes_subscription_canceled_with_its_reason);
    tcase_add_test(tc, test_created_subscription_becomes_subscription_started);
    tcase_add_test(tc, test_event_of_the_other_mode_is_skipped);
    tcase_add_test(tc, test_types_not_enabled_or_not_mapped_are_skipped);
    tcase_add_test(tc, test_malformed_events_are_refused_with_the_field_at_fault);
    tcase_add_test(tc, test_unusable_customer_fields_are_left_out_not_fatal);
    tcase_add_test(tc, test_names_split_only_when_they_look_like_a_person);
    tcase_add_test(tc, test_only_positive_integers_are_leadhub_lead_ids);
    tcase_add_test(tc, test_every_emitted_example_passes_the_host_validation);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
