/*
 * stripe_map_payment.c - checkouts, invoices and refunds (pure; stripe_build.h).
 *
 * A payment is keyed by what was paid: the invoice, else the payment intent
 * (data.payment). Stripe reports one subscription payment twice (the checkout that started
 * it names its first invoice, and invoice.paid reports that invoice), and a delayed method's
 * payment once when the checkout completes unpaid and again when it settles; the host
 * stores one payment.succeeded per (instance, data.payment), whichever event arrives first
 * (docs/events.md). A $0 invoice (a trial, a full discount, a free plan) is no payment.
 */
#include <string.h>

#include "stripe_build.h"

/* The buyer of a checkout session: what they typed at checkout first, then what the
 * session and its customer hold; the reference the checkout was created with links the
 * lead before any email match. */
static void checkout_lead(struct build *b, const json_t *session)
{
    const json_t *details = json_object_get(session, "customer_details");
    const json_t *customer = stripe_expanded_customer(session);
    const json_t *emails[] = {json_object_get(details, "email"),
                              json_object_get(session, "customer_email"),
                              json_object_get(customer, "email")};
    stripe_lead_email_first(b, emails, sizeof(emails) / sizeof(emails[0]));
    int rc = stripe_lead_set_name(b->lead, json_object_get(details, "individual_name"));
    if (rc == 0) {
        rc = stripe_lead_set_name(b->lead, json_object_get(details, "name"));
    }
    stripe_note(b, rc);
    /* newer API versions name the buying business separately: it wins over a guess */
    stripe_note(
        b, stripe_lead_set_text(b->lead, "company", json_object_get(details, "business_name")));
    stripe_lead_text_first(b, "phone", json_object_get(details, "phone"),
                           json_object_get(customer, "phone"));
    stripe_lead_external_id(b, stripe_expandable_id(session, "customer"));
    const json_t *ids[] = {json_object_get(session, "client_reference_id"),
                           stripe_metadata_lead_id(session)};
    stripe_lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
}

/*
 * The key of the payment a checkout session makes, or NULL when the session does not
 * report it: a subscription's payment is its first invoice, which invoice.paid reports
 * too, so a session that does not name it leaves the payment to invoice.paid; a payment
 * mode session's is the invoice it created (invoice_creation), else its payment intent,
 * else the session itself (nothing else reports it); setup mode pays nothing.
 */
static const char *checkout_payment_key(const json_t *session, const char *session_id,
                                        bool *reported_out)
{
    const char *invoice = stripe_expandable_id(session, "invoice");
    *reported_out = true;
    if (stripe_text_is(json_object_get(session, "mode"), "setup")) {
        return NULL; /* a card saved for later: no payment at all */
    }
    if (stripe_text_is(json_object_get(session, "mode"), "subscription")) {
        *reported_out = invoice != NULL;
        return invoice;
    }
    if (invoice != NULL) {
        return invoice;
    }
    const char *intent = stripe_expandable_id(session, "payment_intent");
    return intent != NULL ? intent : session_id;
}

/*
 * checkout.session.completed -> checkout.completed, and payment.succeeded when paid;
 * checkout.session.async_payment_succeeded -> payment.succeeded (a delayed method settled);
 * checkout.session.async_payment_failed -> payment.failed.
 */
enum stripe_verdict stripe_map_checkout(struct build *b)
{
    const json_t *session = b->object;
    const char *id = stripe_object_id(b);
    if (id == NULL) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.id: expected a checkout session id",
                                  b->id);
    }
    const json_t *payment_status = json_object_get(session, "payment_status");
    bool paid = stripe_text_is(payment_status, "paid");
    const json_t *amount = json_object_get(session, "amount_total");
    if (paid && !json_is_integer(amount)) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: amount_total: expected an integer for a paid session",
                                  b->id);
    }
    stripe_data_integer(b, "amount", amount);
    stripe_data_string(b, "currency", session, "currency");
    stripe_data_string(b, "mode", session, "mode");
    stripe_data_string(b, "payment_status", session, "payment_status");
    stripe_put(b, b->data, "checkout_session", json_string(id));
    stripe_data_id(b, "customer", session, "customer");
    stripe_data_id(b, "subscription", session, "subscription");
    stripe_data_id(b, "invoice", session, "invoice");
    stripe_data_id(b, "payment_intent", session, "payment_intent");
    stripe_data_string(b, "client_reference_id", session, "client_reference_id");
    bool reported;
    const char *key = checkout_payment_key(session, id, &reported);
    if (key != NULL) {
        stripe_put(b, b->data, "payment", json_string(key));
    }
    checkout_lead(b, session);

    if (b->type == STRIPE_CHECKOUT_COMPLETED) {
        /* the buyer is known whatever the payment does: paid, pending (a delayed method)
         * or nothing to pay (a trial, a free plan, setup mode) */
        stripe_build_emit(b, "checkout.completed");
    }
    bool failed = b->type == STRIPE_CHECKOUT_ASYNC_FAILED;
    if (!reported) {
        if (b->type == STRIPE_CHECKOUT_COMPLETED) {
            return STRIPE_EMIT;
        }
        return stripe_verdict_set(b->out, STRIPE_SKIP, "reported_by_invoice",
                                  "event %s: checkout session %s names no invoice: its "
                                  "subscription's invoice events report the payment",
                                  b->id, id);
    }
    if (failed) {
        stripe_build_emit(b, "payment.failed");
    } else if (paid && json_integer_value(amount) > 0) {
        stripe_build_emit(b, "payment.succeeded");
    } else if (b->type != STRIPE_CHECKOUT_COMPLETED) {
        return stripe_verdict_set(b->out, STRIPE_SKIP, paid ? "zero_amount" : "not_paid",
                                  "event %s: checkout session %s: payment_status %s, nothing "
                                  "paid",
                                  b->id, id, stripe_token(payment_status));
    }
    return STRIPE_EMIT;
}

/* The subscription of an invoice: `subscription` before 2025-03-31.basil,
 * `parent.subscription_details.subscription` since. Either may be an id or an object. */
static const char *invoice_subscription(const json_t *invoice)
{
    const char *id = stripe_expandable_id(invoice, "subscription");
    if (id == NULL) {
        const json_t *details =
            json_object_get(json_object_get(invoice, "parent"), "subscription_details");
        id = stripe_expandable_id(details, "subscription");
    }
    return id;
}

static void invoice_lead(struct build *b, const json_t *invoice)
{
    const json_t *customer = stripe_expanded_customer(invoice);
    const json_t *emails[] = {json_object_get(invoice, "customer_email"),
                              json_object_get(customer, "email")};
    stripe_lead_email_first(b, emails, sizeof(emails) / sizeof(emails[0]));
    int rc = stripe_lead_set_name(b->lead, json_object_get(invoice, "customer_name"));
    if (rc == 0) {
        rc = stripe_lead_set_name(b->lead, json_object_get(customer, "name"));
    }
    stripe_note(b, rc);
    stripe_lead_text_first(b, "phone", json_object_get(invoice, "customer_phone"),
                           json_object_get(customer, "phone"));
    stripe_lead_external_id(b, stripe_expandable_id(invoice, "customer"));
    const json_t *parent_details =
        json_object_get(json_object_get(invoice, "parent"), "subscription_details");
    const json_t *ids[] = {
        stripe_metadata_lead_id(invoice),
        stripe_metadata_lead_id(json_object_get(invoice, "subscription_details")),
        stripe_metadata_lead_id(parent_details), stripe_metadata_lead_id(customer)};
    stripe_lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
}

/* invoice.paid -> payment.succeeded (nothing for $0), invoice.payment_failed ->
 * payment.failed */
enum stripe_verdict stripe_map_invoice(struct build *b)
{
    const json_t *invoice = b->object;
    const char *id = stripe_object_id(b);
    if (id == NULL) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.id: expected an invoice id", b->id);
    }
    bool paid = b->type == STRIPE_INVOICE_PAID;
    const char *amount_field = paid ? "amount_paid" : "amount_due";
    const json_t *amount = json_object_get(invoice, amount_field);
    if (!json_is_integer(amount)) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: %s: expected an integer", b->id, amount_field);
    }
    if (json_integer_value(amount) == 0) {
        return stripe_verdict_set(b->out, STRIPE_SKIP, "zero_amount",
                                  "event %s: invoice %s: %s 0 (a trial, a full discount or a "
                                  "free plan) is no payment",
                                  b->id, id, amount_field);
    }
    stripe_put(b, b->data, "amount", json_integer(json_integer_value(amount)));
    stripe_data_string(b, "currency", invoice, "currency");
    stripe_data_string(b, "billing_reason", invoice, "billing_reason");
    stripe_put(b, b->data, "invoice", json_string(id));
    stripe_put(b, b->data, "payment", json_string(id));
    stripe_data_string(b, "number", invoice, "number");
    stripe_data_id(b, "customer", invoice, "customer");
    stripe_data_id(b, "payment_intent", invoice, "payment_intent");
    const char *subscription = invoice_subscription(invoice);
    if (subscription != NULL) {
        stripe_put(b, b->data, "subscription", json_string(subscription));
    }
    if (paid) {
        stripe_data_time(b, "paid_at", json_object_get(invoice, "status_transitions"), "paid_at");
    } else {
        stripe_data_integer(b, "attempt_count", json_object_get(invoice, "attempt_count"));
        stripe_data_time(b, "next_payment_attempt", invoice, "next_payment_attempt");
    }
    invoice_lead(b, invoice);
    stripe_build_emit(b, paid ? "payment.succeeded" : "payment.failed");
    return STRIPE_EMIT;
}

/*
 * charge.refunded -> payment.refunded: one event per refund, partial or full. The charge
 * carries how much of it is refunded so far (amount_refunded) and the event the value
 * before (previous_attributes.amount_refunded): this refund is the difference.
 */
enum stripe_verdict stripe_map_refund(struct build *b)
{
    const json_t *charge = b->object;
    const char *id = stripe_object_id(b);
    if (id == NULL) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.id: expected a charge id", b->id);
    }
    const json_t *total = json_object_get(charge, "amount_refunded");
    const json_t *before =
        json_object_get(json_object_get(json_object_get(b->event, "data"), "previous_attributes"),
                        "amount_refunded");
    if (!json_is_integer(total) || !json_is_integer(before)) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: amount_refunded and "
                                  "previous_attributes.amount_refunded: expected integers (the "
                                  "refund is their difference)",
                                  b->id);
    }
    json_int_t refund = json_integer_value(total) - json_integer_value(before);
    if (refund <= 0) {
        return stripe_verdict_set(b->out, STRIPE_SKIP, "zero_amount",
                                  "event %s: charge %s: amount_refunded did not grow", b->id, id);
    }
    stripe_put(b, b->data, "amount", json_integer(refund));
    stripe_put(b, b->data, "amount_refunded", json_integer(json_integer_value(total)));
    stripe_data_integer(b, "charge_amount", json_object_get(charge, "amount"));
    stripe_data_string(b, "currency", charge, "currency");
    const json_t *full = json_object_get(charge, "refunded");
    if (json_is_boolean(full)) {
        stripe_put(b, b->data, "refunded", json_boolean(json_is_true(full)));
    }
    stripe_put(b, b->data, "charge", json_string(id));
    stripe_data_id(b, "customer", charge, "customer");
    stripe_data_id(b, "payment_intent", charge, "payment_intent");
    /* charges name their invoice before 2025-03-31.basil only */
    stripe_data_id(b, "invoice", charge, "invoice");
    const char *payment = stripe_expandable_id(charge, "invoice");
    if (payment == NULL) {
        payment = stripe_expandable_id(charge, "payment_intent");
    }
    if (payment != NULL) {
        stripe_put(b, b->data, "payment", json_string(payment));
    }
    const json_t *customer = stripe_expanded_customer(charge);
    const json_t *emails[] = {json_object_get(customer, "email"),
                              json_object_get(json_object_get(charge, "billing_details"), "email"),
                              json_object_get(charge, "receipt_email")};
    stripe_lead_email_first(b, emails, sizeof(emails) / sizeof(emails[0]));
    stripe_lead_external_id(b, stripe_expandable_id(charge, "customer"));
    const json_t *ids[] = {stripe_metadata_lead_id(charge), stripe_metadata_lead_id(customer)};
    stripe_lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
    stripe_build_emit(b, "payment.refunded");
    return STRIPE_EMIT;
}
