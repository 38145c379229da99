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
#include "../stripe_lead.c"             // NOLINT(bugprone-suspicious-include)
#include "../stripe_map_payment.c"      // NOLINT(bugprone-suspicious-include)
#include "../stripe_map_subscription.c" // NOLINT(bugprone-suspicious-include)
#include "../stripe_normalize.c"        // NOLINT(bugprone-suspicious-include)
#include "event.h"
#include "stripe_test.h"

#define ALL_TYPES ((1U << STRIPE_TYPE_COUNT) - 1)

static const struct stripe_filter test_mode = {.types = ALL_TYPES, .livemode = false};

/* Normalizes `stripe_event` (borrowed) and checks that it is emitted; returns the array of
 * events (NEW). */
static json_t *emitted_all(const json_t *stripe_event)
{
    struct stripe_outcome out;
    enum stripe_verdict verdict = stripe_normalize(stripe_event, &test_mode, &out);
    ck_assert_msg(verdict == STRIPE_EMIT, "verdict %d: %s (%s)", verdict, out.detail,
                  out.reason ? out.reason : "");
    ck_assert(json_is_array(out.events));
    ck_assert_uint_ge(json_array_size(out.events), 1);
    ck_assert_uint_le(json_array_size(out.events), STRIPE_EVENTS_MAX);
    return out.events;
}

/* The one event `stripe_event` becomes (NEW). */
static json_t *emitted(const json_t *stripe_event)
{
    json_t *events = emitted_all(stripe_event);
    ck_assert_msg(json_array_size(events) == 1, "%zu events, expected one",
                  json_array_size(events));
    json_t *event = json_incref(json_array_get(events, 0));
    json_decref(events);
    return event;
}

/* The types of the events `stripe_event` becomes, comma-separated in emitting order
 * (malloc'd). */
static char *emitted_types(const json_t *stripe_event)
{
    json_t *events = emitted_all(stripe_event);
    struct strbuf types = {0};
    size_t i;
    json_t *event;
    json_array_foreach(events, i, event)
    {
        strbuf_appendf(&types, "%s%s", i > 0 ? "," : "", st_text(event, "type"));
    }
    json_decref(events);
    return strbuf_take(&types);
}

/* The event of `type` that `stripe_event` becomes (NEW); fails when there is none. */
static json_t *emitted_of(const json_t *stripe_event, const char *type)
{
    json_t *events = emitted_all(stripe_event);
    json_t *found = NULL;
    size_t i;
    json_t *event;
    json_array_foreach(events, i, event)
    {
        if (strcmp(st_text(event, "type"), type) == 0) {
            ck_assert_msg(found == NULL, "two %s events", type);
            found = json_incref(event);
        }
    }
    json_decref(events);
    ck_assert_msg(found != NULL, "no %s event", type);
    return found;
}

/* The verdict on `stripe_event`, asserting it is `expected` with `reason`. */
static void assert_not_emitted(const json_t *stripe_event, enum stripe_verdict expected,
                               const char *reason)
{
    struct stripe_outcome out;
    enum stripe_verdict verdict = stripe_normalize(stripe_event, &test_mode, &out);
    ck_assert_msg(verdict == expected, "verdict %d, expected %d: %s", verdict, expected,
                  out.detail);
    ck_assert_ptr_null(out.events);
    ck_assert_str_eq(out.reason, reason);
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

START_TEST(test_paid_checkout_becomes_checkout_completed_and_the_payment_of_its_invoice)
{
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    char *types = emitted_types(stripe_event);
    ck_assert_str_eq(types, "checkout.completed,payment.succeeded");
    free(types);
    json_t *completed = emitted_of(stripe_event, "checkout.completed");
    json_t *event = emitted_of(stripe_event, "payment.succeeded");
    /* the same data and buyer on both; the payment is keyed by the invoice it paid, which
     * invoice.paid reports too */
    ck_assert(json_equal(json_object_get(completed, "data"), json_object_get(event, "data")));
    ck_assert(json_equal(json_object_get(completed, "lead"), json_object_get(event, "lead")));
    ck_assert_str_eq(st_text(completed, "source_id"), "evt_1QzW5nK8Lm2Np4QrMn7Op8Qr");
    ck_assert_str_eq(st_text(event, "data.payment"), "in_1QzW5mK8Lm2Np4QrAb3Cd4Ef");
    json_decref(completed);
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
    json_t *event = emitted_of(stripe_event, "payment.succeeded");
    ck_assert_int_eq(integer_at(json_object_get(event, "lead"), "id"), 42);
    json_decref(event);

    /* a reference that is not a leadhub lead id gives way to the metadata's */
    json_object_set_new(session, "client_reference_id", json_string("order-42"));
    event = emitted_of(stripe_event, "checkout.completed");
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
    json_t *event = emitted_of(stripe_event, "payment.succeeded");
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

START_TEST(test_checkout_needing_no_payment_is_a_checkout_not_a_payment)
{
    /* a trial, a free plan, a 100% coupon, setup mode: the buyer is known, nothing is paid */
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_t *session = st_object(stripe_event);
    json_object_set_new(session, "payment_status", json_string("no_payment_required"));
    json_object_set_new(session, "amount_total", json_integer(0));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "checkout.completed");
    ck_assert_int_eq(integer_at(json_object_get(event, "data"), "amount"), 0);
    ck_assert_str_eq(st_text(event, "data.payment_status"), "no_payment_required");
    ck_assert_str_eq(st_text(event, "lead.email"), "billing@northwind-analytics.com");
    json_decref(event);
    json_object_set_new(session, "mode", json_string("setup"));
    json_object_set_new(session, "amount_total", json_null());
    json_object_set_new(session, "invoice", json_null());
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "checkout.completed");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_unpaid_checkout_records_the_buyer_and_leaves_the_payment_to_its_settling)
{
    /* SEPA debit, bank transfer, Boleto: the session completes unpaid, the money comes days
     * later with checkout.session.async_payment_succeeded */
    json_t *stripe_event = st_fixture("event.checkout.session.async_payment_succeeded.json");
    json_object_set_new(stripe_event, "type", json_string("checkout.session.completed"));
    json_object_set_new(st_object(stripe_event), "payment_status", json_string("unpaid"));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "checkout.completed");
    ck_assert_str_eq(st_text(event, "data.payment_status"), "unpaid");
    ck_assert_int_eq(integer_at(json_object_get(event, "data"), "amount"), 240000);
    ck_assert_str_eq(st_text(event, "data.payment"), "pi_3RaT7uK8Lm2Np4Qr1Se2Pa3D");
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "email"), "buchhaltung@rheinwerk-consulting.de");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RnS3pQ7mW2xK4L");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_settled_delayed_payment_is_the_payment_of_its_payment_intent)
{
    json_t *stripe_event = st_fixture("event.checkout.session.async_payment_succeeded.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.succeeded");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_1RaXq2K8Lm2Np4QrAsYnC5uC");
    const json_t *data = json_object_get(event, "data");
    ck_assert_int_eq(integer_at(data, "amount"), 240000);
    ck_assert_str_eq(st_text(data, "currency"), "eur");
    ck_assert_str_eq(st_text(data, "mode"), "payment");
    ck_assert_str_eq(st_text(data, "payment"), "pi_3RaT7uK8Lm2Np4Qr1Se2Pa3D");
    ck_assert_str_eq(st_text(data, "stripe_event_type"),
                     "checkout.session.async_payment_succeeded");
    ck_assert_str_eq(st_text(event, "lead.email"), "buchhaltung@rheinwerk-consulting.de");
    ck_assert_str_eq(st_text(event, "lead.first_name"), "Jonas");
    json_decref(event);

    /* with an invoice created for it (invoice_creation), the payment is that invoice's */
    json_object_set_new(st_object(stripe_event), "invoice",
                        json_string("in_1RaXq1K8Lm2Np4QrPm0Iv4Ce"));
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "data.payment"), "in_1RaXq1K8Lm2Np4QrPm0Iv4Ce");
    json_decref(event);

    /* a delayed method that fails: payment.failed, keyed the same */
    json_object_set_new(stripe_event, "type", json_string("checkout.session.async_payment_failed"));
    json_object_set_new(st_object(stripe_event), "payment_status", json_string("unpaid"));
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.failed");
    ck_assert_str_eq(st_text(event, "data.payment"), "in_1RaXq1K8Lm2Np4QrPm0Iv4Ce");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_subscription_checkout_naming_no_invoice_leaves_the_payment_to_invoice_paid)
{
    /* API versions before 2022-08-01 named no invoice on the session: emitting a payment for
     * it could not be matched with the invoice.paid that reports the same money */
    json_t *stripe_event = st_fixture("event.checkout.session.completed.json");
    json_object_set_new(st_object(stripe_event), "invoice", json_null());
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "checkout.completed");
    ck_assert_ptr_null(json_object_get(json_object_get(event, "data"), "payment"));
    json_decref(event);
    json_object_set_new(stripe_event, "type",
                        json_string("checkout.session.async_payment_succeeded"));
    assert_not_emitted(stripe_event, STRIPE_SKIP, "reported_by_invoice");
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
    ck_assert_str_eq(st_text(data, "payment"), "in_1QzW5mK8Lm2Np4QrAb3Cd4Ef");
    ck_assert_str_eq(st_text(data, "payment_intent"), "pi_3QzW5mK8Lm2Np4Qr0St1Uv2W");
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

START_TEST(test_zero_amount_invoice_is_no_payment)
{
    /* a trial's first invoice: amount_paid 0, billing_reason subscription_create */
    json_t *stripe_event = st_fixture("event.invoice.paid.json");
    json_object_set_new(st_object(stripe_event), "amount_paid", json_integer(0));
    assert_not_emitted(stripe_event, STRIPE_SKIP, "zero_amount");
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_failed_invoice_payment_becomes_payment_failed_keyed_by_the_invoice)
{
    json_t *stripe_event = st_fixture("event.invoice.payment_failed.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.failed");
    const json_t *data = json_object_get(event, "data");
    ck_assert_int_eq(integer_at(data, "amount"), 187500); /* amount_due */
    ck_assert_str_eq(st_text(data, "payment"), "in_1RWb3cK8Lm2Np4QrGh8Jk1Lm");
    ck_assert_int_eq(integer_at(data, "attempt_count"), 1);
    ck_assert_str_eq(st_text(data, "next_payment_attempt"), "2025-06-08T19:42:04Z");
    ck_assert_str_eq(st_text(data, "billing_reason"), "subscription_cycle");
    ck_assert_str_eq(st_text(event, "lead.external_id"), "cus_RmK8t2VqLx9Pz1");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_refund_becomes_payment_refunded_of_the_amount_refunded_this_time)
{
    /* a partial refund of 625.00 out of 1875.00 */
    json_t *stripe_event = st_fixture("event.charge.refunded.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "payment.refunded");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_3RbA1cK8Lm2Np4Qr0Rf4Ud8E");
    const json_t *data = json_object_get(event, "data");
    ck_assert_int_eq(integer_at(data, "amount"), 62500);
    ck_assert_int_eq(integer_at(data, "amount_refunded"), 62500);
    ck_assert_int_eq(integer_at(data, "charge_amount"), 187500);
    ck_assert(json_is_false(json_object_get(data, "refunded")));
    ck_assert_str_eq(st_text(data, "currency"), "usd");
    ck_assert_str_eq(st_text(data, "charge"), "ch_3QzW5mK8Lm2Np4Qr1Uv2Wx3Y");
    /* the payment it takes back, keyed as payment.succeeded keyed it */
    ck_assert_str_eq(st_text(data, "payment"), "in_1QzW5mK8Lm2Np4QrAb3Cd4Ef");
    ck_assert_str_eq(st_text(event, "lead.external_id"), "cus_RmK8t2VqLx9Pz1");
    json_decref(event);

    /* the rest refunded later: this refund is what amount_refunded grew by */
    json_t *charge = st_object(stripe_event);
    json_object_set_new(charge, "amount_refunded", json_integer(187500));
    json_object_set_new(charge, "refunded", json_true());
    json_object_set_new(
        json_object_get(json_object_get(stripe_event, "data"), "previous_attributes"),
        "amount_refunded", json_integer(62500));
    /* since 2025-03-31.basil a charge names no invoice: the payment intent keys it */
    json_object_del(charge, "invoice");
    event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "data"), "amount"), 125000);
    ck_assert(json_is_true(json_object_get(json_object_get(event, "data"), "refunded")));
    ck_assert_str_eq(st_text(event, "data.payment"), "pi_3QzW5mK8Lm2Np4Qr0St1Uv2W");
    json_decref(event);

    /* without the amount before, this refund's amount is unknown: refused, not guessed */
    json_object_del(json_object_get(stripe_event, "data"), "previous_attributes");
    assert_not_emitted(stripe_event, STRIPE_INVALID, "malformed");
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
    /* the last billing period it was paid for */
    ck_assert_str_eq(st_text(data, "period_start"), "2025-05-05T19:42:04Z");
    ck_assert_str_eq(st_text(data, "period_end"), "2025-06-05T19:42:04Z");
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
    json_object_set_new(subscription, "cancellation_details", json_null());
    json_object_set_new(subscription, "canceled_at", json_null());
    json_object_set_new(subscription, "ended_at", json_null());
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.started");
    ck_assert_str_eq(st_text(event, "data.status"), "active");
    ck_assert_ptr_null(json_object_get(json_object_get(event, "data"), "cancellation_reason"));
    const json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(st_text(lead, "external_id"), "cus_RmK8t2VqLx9Pz1");
    ck_assert_str_eq(st_text(lead, "email"), "billing@northwind-analytics.com");
    ck_assert_str_eq(st_text(lead, "first_name"), "Priya");
    ck_assert_int_eq(integer_at(lead, "id"), 31);
    json_decref(event);

    /* a trial is a trial start, not a subscriber yet */
    json_object_set_new(subscription, "status", json_string("trialing"));
    json_object_set_new(subscription, "trial_end", json_integer(1742499724));
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.trial_started");
    ck_assert_str_eq(st_text(event, "data.trial_end"), "2025-03-20T19:42:04Z");
    json_decref(event);

    /* incomplete: the first payment is pending; it starts when that succeeds */
    json_object_set_new(subscription, "status", json_string("incomplete"));
    assert_not_emitted(stripe_event, STRIPE_SKIP, "not_started");
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_cancellation_at_period_end_is_scheduled_then_withdrawn)
{
    json_t *stripe_event = st_fixture("event.customer.subscription.updated.json");
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.cancel_scheduled");
    ck_assert_str_eq(st_text(event, "source_id"), "evt_1RVa2bK8Lm2Np4QrSc7Hd9Qx");
    const json_t *data = json_object_get(event, "data");
    /* it ends when the period paid for ends */
    ck_assert_str_eq(st_text(data, "cancel_at"), "2025-06-05T19:42:04Z");
    ck_assert_str_eq(st_text(data, "period_end"), "2025-06-05T19:42:04Z");
    ck_assert(json_is_true(json_object_get(data, "cancel_at_period_end")));
    ck_assert_str_eq(st_text(data, "cancellation_feedback"), "too_expensive");
    ck_assert_str_eq(st_text(data, "status"), "active");
    json_decref(event);

    /* the customer changes their mind: the reverse update */
    json_t *subscription = st_object(stripe_event);
    json_t *previous =
        json_object_get(json_object_get(stripe_event, "data"), "previous_attributes");
    json_object_set_new(subscription, "cancel_at_period_end", json_false());
    json_object_set_new(subscription, "canceled_at", json_null());
    json_object_set_new(previous, "cancel_at_period_end", json_true());
    json_object_set_new(stripe_event, "id", json_string("evt_1RVb7kK8Lm2Np4QrUn1Sc2Hd"));
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.cancel_unscheduled");
    json_decref(event);

    /* a cancellation on a date (cancel_at), as newer API versions also set it */
    json_object_set_new(subscription, "cancel_at", json_integer(1748000000));
    json_object_clear(previous);
    json_object_set_new(previous, "cancel_at", json_null());
    event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.cancel_scheduled");
    ck_assert_str_eq(st_text(event, "data.cancel_at"), "2025-05-23T11:33:20Z");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_trial_becoming_active_is_a_start_and_other_updates_are_skipped)
{
    json_t *stripe_event = st_fixture("event.customer.subscription.updated.json");
    json_t *subscription = st_object(stripe_event);
    json_t *previous =
        json_object_get(json_object_get(stripe_event, "data"), "previous_attributes");
    json_object_set_new(subscription, "cancel_at_period_end", json_false());
    json_object_clear(previous);
    json_object_set_new(previous, "status", json_string("trialing"));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "type"), "subscription.started");
    json_t *changed = json_pack("[s]", "status");
    ck_assert(json_equal(json_object_get(json_object_get(event, "data"), "changed"), changed));
    json_decref(changed);
    json_decref(event);

    /* a renewal moves the period: nothing leadhub models */
    json_object_clear(previous);
    json_object_set_new(previous, "current_period_end", json_integer(1746474124));
    assert_not_emitted(stripe_event, STRIPE_SKIP, "not_modelled");
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_basil_subscription_reads_its_period_from_the_items)
{
    json_t *stripe_event = st_fixture("event.customer.subscription.deleted.json");
    json_object_set_new(stripe_event, "api_version", json_string("2025-03-31.basil"));
    json_t *subscription = st_object(stripe_event);
    json_object_del(subscription, "current_period_start");
    json_object_del(subscription, "current_period_end");
    json_t *item =
        json_array_get(json_object_get(json_object_get(subscription, "items"), "data"), 0);
    json_object_set_new(item, "current_period_start", json_integer(1746474124));
    json_object_set_new(item, "current_period_end", json_integer(1749152524));
    json_t *event = emitted(stripe_event);
    ck_assert_str_eq(st_text(event, "data.period_start"), "2025-05-05T19:42:04Z");
    ck_assert_str_eq(st_text(event, "data.period_end"), "2025-06-05T19:42:04Z");
    json_decref(event);
    json_decref(stripe_event);
}
END_TEST

START_TEST(test_zero_decimal_amounts_stay_in_the_currency_minor_unit)
{
    /* JPY has no minor unit: 50000 is 50,000 yen, never divided or multiplied */
    json_t *stripe_event = st_fixture("event.checkout.session.async_payment_succeeded.json");
    json_t *session = st_object(stripe_event);
    json_object_set_new(session, "currency", json_string("jpy"));
    json_object_set_new(session, "amount_total", json_integer(50000));
    json_t *event = emitted(stripe_event);
    ck_assert_int_eq(integer_at(json_object_get(event, "data"), "amount"), 50000);
    ck_assert_str_eq(st_text(event, "data.currency"), "jpy");
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
        ck_assert_ptr_null(out.events);
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
    const char *names[] = {"event.customer.created.json",
                           "event.checkout.session.completed.json",
                           "event.checkout.session.async_payment_succeeded.json",
                           "event.invoice.paid.json",
                           "event.invoice.payment_failed.json",
                           "event.charge.refunded.json",
                           "event.customer.subscription.updated.json",
                           "event.customer.subscription.deleted.json"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        json_t *stripe_event = st_fixture(names[i]);
        json_t *events = emitted_all(stripe_event);
        size_t k;
        json_t *event;
        json_array_foreach(events, k, event)
        {
            char *refusal = host_refusal(event);
            ck_assert_msg(refusal == NULL, "%s, event %zu: %s", names[i], k, refusal);
        }
        json_decref(events);
        json_decref(stripe_event);
    }
    /* and the events of a list page, as the poll sees them */
    json_t *page = st_fixture("events.list.page.json");
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(page, "data"), i, item)
    {
        json_t *events = emitted_all(item);
        char *refusal = host_refusal(json_array_get(events, 0));
        ck_assert_msg(refusal == NULL, "page item %zu: %s", i, refusal);
        json_decref(events);
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
    tcase_add_test(tc,
                   test_paid_checkout_becomes_checkout_completed_and_the_payment_of_its_invoice);
    tcase_add_test(tc, test_checkout_client_reference_id_links_the_lead_before_metadata);
    tcase_add_test(tc, test_checkout_with_an_expanded_customer_reads_its_id);
    tcase_add_test(tc, test_checkout_needing_no_payment_is_a_checkout_not_a_payment);
    tcase_add_test(tc,
                   test_unpaid_checkout_records_the_buyer_and_leaves_the_payment_to_its_settling);
    tcase_add_test(tc, test_settled_delayed_payment_is_the_payment_of_its_payment_intent);
    tcase_add_test(tc,
                   test_subscription_checkout_naming_no_invoice_leaves_the_payment_to_invoice_paid);
    tcase_add_test(tc, test_paid_invoice_becomes_payment_succeeded_with_its_subscription);
    tcase_add_test(tc, test_basil_invoice_reads_the_subscription_from_its_parent);
    tcase_add_test(tc, test_pre_basil_invoice_takes_the_lead_id_from_subscription_details);
    tcase_add_test(tc, test_zero_amount_invoice_is_no_payment);
    tcase_add_test(tc, test_failed_invoice_payment_becomes_payment_failed_keyed_by_the_invoice);
    tcase_add_test(tc, test_refund_becomes_payment_refunded_of_the_amount_refunded_this_time);
    tcase_add_test(tc, test_deleted_subscription_becomes_subscription_canceled_with_its_reason);
    tcase_add_test(tc, test_created_subscription_becomes_subscription_started);
    tcase_add_test(tc, test_cancellation_at_period_end_is_scheduled_then_withdrawn);
    tcase_add_test(tc, test_trial_becoming_active_is_a_start_and_other_updates_are_skipped);
    tcase_add_test(tc, test_basil_subscription_reads_its_period_from_the_items);
    tcase_add_test(tc, test_zero_decimal_amounts_stay_in_the_currency_minor_unit);
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
