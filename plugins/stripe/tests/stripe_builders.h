/*
 * stripe_builders.h - Stripe events for end-to-end scenarios, made from the documented
 * example objects (plugins/stripe/tests/fixtures/) with the fields a scenario sets: a
 * customer, a subscription, an invoice, a Checkout Session (subscription or payment mode),
 * a charge. Every object keeps all the other fields of Stripe's example. Static inline:
 * each test program includes what it uses.
 */
#ifndef LEADHUB_STRIPE_BUILDERS_H
#define LEADHUB_STRIPE_BUILDERS_H

#include "stripe_test.h"

/* data.object of fixture `name`, copied (NEW). */
static inline json_t *sb_object_of(const char *name)
{
    json_t *event = st_fixture(name);
    json_t *object = json_deep_copy(st_object(event));
    json_decref(event);
    return object;
}

/* A Stripe event (NEW): id, type, created, test mode, api_version 2024-06-20,
 * data.object = object (STOLEN) and data.previous_attributes = previous (STOLEN, may be
 * NULL). */
static inline json_t *sb_event(const char *id, const char *type, long long created, json_t *object,
                               json_t *previous)
{
    json_t *data = json_pack("{s:o}", "object", object);
    if (previous != NULL) {
        json_object_set_new(data, "previous_attributes", previous);
    }
    return json_pack("{s:s,s:s,s:s,s:I,s:o,s:b,s:i,s:{s:n,s:n},s:s}", "id", id, "object", "event",
                     "api_version", "2024-06-20", "created", (json_int_t)created, "data", data,
                     "livemode", 0, "pending_webhooks", 1, "request", "id", "idempotency_key",
                     "type", type);
}

static inline json_t *sb_nullable(const char *text)
{
    return text != NULL ? json_string(text) : json_null();
}

/* A customer (NEW); email and name may be NULL (Stripe has customers without them). */
static inline json_t *sb_customer(const char *id, const char *email, const char *name)
{
    json_t *customer = sb_object_of("event.customer.created.json");
    json_object_set_new(customer, "id", json_string(id));
    json_object_set_new(customer, "email", sb_nullable(email));
    json_object_set_new(customer, "name", sb_nullable(name));
    json_object_set_new(customer, "phone", json_null());
    json_object_set_new(customer, "metadata", json_object());
    return customer;
}

/* A subscription of `customer` (NEW), in `status`, for `amount` a month in `currency`. */
static inline json_t *sb_subscription(const char *id, const char *customer, const char *status,
                                      long long start, long long amount, const char *currency)
{
    json_t *sub = sb_object_of("event.customer.subscription.deleted.json");
    json_object_set_new(sub, "id", json_string(id));
    json_object_set_new(sub, "customer", json_string(customer));
    json_object_set_new(sub, "status", json_string(status));
    json_object_set_new(sub, "currency", json_string(currency));
    json_object_set_new(sub, "quantity", json_integer(1));
    json_object_set_new(sub, "start_date", json_integer(start));
    json_object_set_new(sub, "created", json_integer(start));
    json_object_set_new(sub, "current_period_start", json_integer(start));
    json_object_set_new(sub, "current_period_end", json_integer(start + 30 * 86400));
    json_object_set_new(sub, "canceled_at", json_null());
    json_object_set_new(sub, "ended_at", json_null());
    json_object_set_new(sub, "cancel_at", json_null());
    json_object_set_new(sub, "cancel_at_period_end", json_false());
    json_object_set_new(sub, "cancellation_details",
                        json_pack("{s:n,s:n,s:n}", "comment", "feedback", "reason"));
    json_object_set_new(sub, "metadata", json_object());
    json_t *item = json_array_get(json_object_get(json_object_get(sub, "items"), "data"), 0);
    json_object_set_new(item, "quantity", json_integer(1));
    json_t *price = json_object_get(item, "price");
    json_object_set_new(price, "unit_amount", json_integer(amount));
    json_object_set_new(price, "currency", json_string(currency));
    bool trial = strcmp(status, "trialing") == 0;
    json_object_set_new(sub, "trial_start", trial ? json_integer(start) : json_null());
    json_object_set_new(sub, "trial_end", trial ? json_integer(start + 14 * 86400) : json_null());
    return sub;
}

/* An invoice of `customer` (NEW): paid `amount_paid` (status paid) or, with `open` true,
 * due `amount` and not paid. subscription, charge and intent may be NULL. */
static inline json_t *sb_invoice(const char *id, const char *customer, const char *email,
                                 long long amount, const char *currency, const char *reason,
                                 const char *subscription, const char *charge, const char *intent,
                                 bool open)
{
    json_t *invoice = sb_object_of("event.invoice.paid.json");
    json_object_set_new(invoice, "id", json_string(id));
    json_object_set_new(invoice, "customer", json_string(customer));
    json_object_set_new(invoice, "customer_email", sb_nullable(email));
    json_object_set_new(invoice, "customer_name", json_null());
    json_object_set_new(invoice, "customer_phone", json_null());
    json_object_set_new(invoice, "currency", json_string(currency));
    json_object_set_new(invoice, "billing_reason", json_string(reason));
    json_object_set_new(invoice, "subscription", sb_nullable(subscription));
    json_object_set_new(invoice, "subscription_details", json_pack("{s:{}}", "metadata"));
    json_object_set_new(invoice, "charge", sb_nullable(charge));
    json_object_set_new(invoice, "payment_intent", sb_nullable(intent));
    json_object_set_new(invoice, "amount_due", json_integer(amount));
    json_object_set_new(invoice, "amount_paid", json_integer(open ? 0 : amount));
    json_object_set_new(invoice, "amount_remaining", json_integer(open ? amount : 0));
    json_object_set_new(invoice, "subtotal", json_integer(amount));
    json_object_set_new(invoice, "total", json_integer(amount));
    json_object_set_new(invoice, "paid", json_boolean(!open));
    json_object_set_new(invoice, "status", json_string(open ? "open" : "paid"));
    json_t *line = json_array_get(json_object_get(json_object_get(invoice, "lines"), "data"), 0);
    json_object_set_new(line, "amount", json_integer(amount));
    json_object_set_new(line, "currency", json_string(currency));
    json_object_set_new(line, "invoice", json_string(id));
    json_object_set_new(line, "subscription", sb_nullable(subscription));
    return invoice;
}

/* A completed Checkout Session (NEW) of `mode` ("subscription" or "payment") by
 * `customer`, who typed `email` and `name`, for `amount` in `currency`, with
 * `payment_status` and `method` ("card", "sepa_debit"). invoice, subscription, intent and
 * reference (client_reference_id) may be NULL. */
static inline json_t *sb_session(const char *id, const char *mode, const char *customer,
                                 const char *email, const char *name, long long amount,
                                 const char *currency, const char *payment_status,
                                 const char *method, const char *invoice, const char *subscription,
                                 const char *intent, const char *reference)
{
    json_t *session = sb_object_of("event.checkout.session.completed.json");
    json_object_set_new(session, "id", json_string(id));
    json_object_set_new(session, "mode", json_string(mode));
    json_object_set_new(session, "customer", json_string(customer));
    json_object_set_new(session, "customer_email", json_null());
    json_t *details = json_object_get(session, "customer_details");
    json_object_set_new(details, "email", sb_nullable(email));
    json_object_set_new(details, "name", sb_nullable(name));
    json_object_set_new(session, "amount_subtotal", json_integer(amount));
    json_object_set_new(session, "amount_total", json_integer(amount));
    json_object_set_new(session, "currency", json_string(currency));
    json_object_set_new(session, "payment_status", json_string(payment_status));
    json_object_set_new(session, "payment_method_types", json_pack("[s]", method));
    json_object_set_new(session, "invoice", sb_nullable(invoice));
    json_object_set_new(session, "subscription", sb_nullable(subscription));
    json_object_set_new(session, "payment_intent", sb_nullable(intent));
    json_object_set_new(session, "client_reference_id", sb_nullable(reference));
    json_object_set_new(session, "metadata", json_object());
    return session;
}

/* A charge of `customer` (NEW) for `amount`, `refunded` of it refunded so far. */
static inline json_t *sb_charge(const char *id, const char *customer, long long amount,
                                long long refunded, const char *currency, const char *invoice,
                                const char *intent)
{
    json_t *charge = sb_object_of("event.charge.refunded.json");
    json_object_set_new(charge, "id", json_string(id));
    json_object_set_new(charge, "customer", json_string(customer));
    json_object_set_new(charge, "amount", json_integer(amount));
    json_object_set_new(charge, "amount_captured", json_integer(amount));
    json_object_set_new(charge, "amount_refunded", json_integer(refunded));
    json_object_set_new(charge, "refunded", json_boolean(refunded == amount));
    json_object_set_new(charge, "currency", json_string(currency));
    json_object_set_new(charge, "invoice", sb_nullable(invoice));
    json_object_set_new(charge, "payment_intent", sb_nullable(intent));
    json_object_set_new(json_object_get(charge, "billing_details"), "email", json_null());
    json_object_set_new(charge, "receipt_email", json_null());
    return charge;
}

#endif
