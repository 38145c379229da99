/*
 * stripe_normalize.c - one Stripe event object -> one normalized leadhub event, a skip, or
 * a refusal. Pure: no host calls, no state, so that the fuzz target and the unit tests run
 * it alone, and the webhook and the poll store exactly the same thing for one event (the
 * store deduplicates on source_id + type, so they must agree).
 *
 * Stripe sends what its API version says; fields are read defensively: a missing or
 * mistyped optional field is left out, a missing essential one (the object's id, the
 * amount of a paid invoice) refuses the event. docs/connectors/stripe.md is the mapping.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stripe.h"

/* The host refuses events nested deeper than 64 levels (core/event.c); `raw` sits one
 * level below the event, so the payload itself may use 63. */
#define RAW_DEPTH_MAX 63
/* The host refuses numbers beyond +-1e300. */
#define NUMBER_MAX 1e300
/* Subscription items copied into data; a subscription rarely has more than a few. */
#define ITEMS_MAX       20
#define STATUS_TEXT_MAX 40

struct type_info {
    const char *stripe;
    const char *normalized;
    const char *object; /* what data.object is */
};

static const struct type_info type_table[STRIPE_TYPE_COUNT] = {
    [STRIPE_CUSTOMER_CREATED] = {"customer.created", "customer.created", "customer"},
    [STRIPE_CUSTOMER_UPDATED] = {"customer.updated", "lead.updated", "customer"},
    [STRIPE_CHECKOUT_COMPLETED] = {"checkout.session.completed", "payment.succeeded",
                                   "checkout.session"},
    [STRIPE_INVOICE_PAID] = {"invoice.paid", "payment.succeeded", "invoice"},
    [STRIPE_SUBSCRIPTION_CREATED] = {"customer.subscription.created", "subscription.started",
                                     "subscription"},
    [STRIPE_SUBSCRIPTION_DELETED] = {"customer.subscription.deleted", "subscription.canceled",
                                     "subscription"},
};

const char *stripe_type_name(unsigned type)
{
    return type < STRIPE_TYPE_COUNT ? type_table[type].stripe : NULL;
}

const char *stripe_type_normalized(unsigned type)
{
    return type < STRIPE_TYPE_COUNT ? type_table[type].normalized : NULL;
}

int stripe_type_find(const char *name)
{
    for (unsigned i = 0; name != NULL && i < STRIPE_TYPE_COUNT; i++) {
        if (strcmp(name, type_table[i].stripe) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool stripe_format_time(json_int_t seconds, char out[21])
{
    if (seconds < 0 || seconds > STRIPE_TIME_MAX) {
        return false;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        return false;
    }
    return strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm) == 20;
}

/* Everything the mapping of one event builds. A failed allocation sticks in `failed`. */
struct build {
    const json_t *event;  /* the Stripe event */
    const json_t *object; /* its data.object */
    const char *id;       /* its id */
    unsigned type;
    json_t *data;
    json_t *lead;
    bool failed;
    struct stripe_outcome *out;
};

static enum stripe_verdict verdict(struct stripe_outcome *out, enum stripe_verdict v,
                                   const char *reason, const char *fmt, ...) LH_PRINTF(4, 5);

static enum stripe_verdict verdict(struct stripe_outcome *out, enum stripe_verdict v,
                                   const char *reason, const char *fmt, ...)
{
    out->reason = reason;
    va_list args;
    va_start(args, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, args);
    va_end(args);
    return v;
}

/* A short token fit for a log line ("unpaid", "customer.deleted"): Stripe's enum values
 * and type names are [a-z0-9_.]; anything else is not quoted. */
static const char *token(const json_t *value)
{
    const char *text = json_string_value(value);
    size_t len = text != NULL ? strlen(text) : 0;
    if (len == 0 || len > STATUS_TEXT_MAX) {
        return "(unreadable)";
    }
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.')) {
            return "(unreadable)";
        }
    }
    return text;
}

/* What the host would refuse anywhere in the payload, or NULL. */
static const char *tree_problem(const json_t *value, int depth)
{
    if (depth > RAW_DEPTH_MAX) {
        return "the payload is nested too deeply";
    }
    if (json_is_string(value)) {
        return strlen(json_string_value(value)) != json_string_length(value)
                   ? "the payload contains U+0000"
                   : NULL;
    }
    if (json_is_real(value)) {
        double d = json_real_value(value);
        /* written without libm: the plugin links libc and jansson only */
        bool in_range = d == d && d <= NUMBER_MAX && d >= -NUMBER_MAX;
        return in_range ? NULL : "the payload has a number out of range";
    }
    if (json_is_object(value)) {
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)value, key, member)
        {
            const char *problem = tree_problem(member, depth + 1);
            if (problem != NULL) {
                return problem;
            }
        }
    } else if (json_is_array(value)) {
        size_t i;
        const json_t *member;
        json_array_foreach(value, i, member)
        {
            const char *problem = tree_problem(member, depth + 1);
            if (problem != NULL) {
                return problem;
            }
        }
    }
    return NULL;
}

/* ---- small setters that record allocation failure --------------------------------- */

static void put(struct build *b, json_t *object, const char *key, json_t *value)
{
    if (value == NULL || json_object_set_new(object, key, value) != 0) {
        b->failed = true;
    }
}

static void note(struct build *b, int rc)
{
    if (rc < 0) {
        b->failed = true;
    }
}

/* data[key] = the string at object[field], when it is one. */
static void data_string(struct build *b, const char *key, const json_t *object, const char *field)
{
    const json_t *value = json_object_get(object, field);
    if (json_is_string(value) && json_string_length(value) > 0) {
        put(b, b->data, key, json_stringn(json_string_value(value), json_string_length(value)));
    }
}

static void data_integer(struct build *b, const char *key, const json_t *value)
{
    if (json_is_integer(value)) {
        put(b, b->data, key, json_integer(json_integer_value(value)));
    }
}

/* data[key] = the id of the expandable field object[field] (string or expanded object). */
static void data_id(struct build *b, const char *key, const json_t *object, const char *field)
{
    const char *id = stripe_expandable_id(object, field);
    if (id != NULL) {
        put(b, b->data, key, json_string(id));
    }
}

/* data[key] = unix seconds at object[field] as RFC 3339. */
static void data_time(struct build *b, const char *key, const json_t *object, const char *field)
{
    const json_t *value = json_object_get(object, field);
    char text[21];
    if (json_is_integer(value) && json_integer_value(value) > 0 &&
        stripe_format_time(json_integer_value(value), text)) {
        put(b, b->data, key, json_string(text));
    }
}

/* The first candidate that is a usable email becomes lead.email. */
static void lead_email(struct build *b, const json_t *const *candidates, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc = stripe_lead_set_email(b->lead, candidates[i]);
        if (rc != 0) {
            note(b, rc);
            return;
        }
    }
}

static void lead_text_first(struct build *b, const char *key, const json_t *first,
                            const json_t *second)
{
    int rc = stripe_lead_set_text(b->lead, key, first);
    if (rc == 0) {
        rc = stripe_lead_set_text(b->lead, key, second);
    }
    note(b, rc);
}

/* lead.id from the first candidate holding a leadhub lead id (client_reference_id, then
 * metadata.leadhub_lead_id of the objects given). */
static void lead_id_first(struct build *b, const json_t *const *candidates, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc = stripe_lead_set_id(b->lead, candidates[i]);
        if (rc != 0) {
            note(b, rc);
            return;
        }
    }
}

static const json_t *metadata_lead_id(const json_t *object)
{
    return json_object_get(json_object_get(object, "metadata"), "leadhub_lead_id");
}

/* The expanded customer object of `object`, or NULL when it is only an id. */
static const json_t *expanded_customer(const json_t *object)
{
    const json_t *customer = json_object_get(object, "customer");
    return json_is_object(customer) ? customer : NULL;
}

static void lead_external_id(struct build *b, const char *customer_id)
{
    if (customer_id != NULL) {
        put(b, b->lead, "external_id", json_string(customer_id));
    }
}

/* The object's own id, required: without it the event says nothing usable. */
static const char *object_id(struct build *b)
{
    const char *id = json_string_value(json_object_get(b->object, "id"));
    return stripe_id_valid(id) ? id : NULL;
}

/* ---- the mappings ------------------------------------------------------------------- */

/* customer.created -> customer.created, customer.updated -> lead.updated */
static enum stripe_verdict map_customer(struct build *b)
{
    const char *id = object_id(b);
    if (id == NULL) {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: data.object.id: expected a customer id", b->id);
    }
    put(b, b->data, "customer", json_string(id));
    data_string(b, "name", b->object, "name");
    const json_t *previous =
        json_object_get(json_object_get(b->event, "data"), "previous_attributes");
    if (b->type == STRIPE_CUSTOMER_UPDATED && json_is_object(previous)) {
        json_t *changed = json_array();
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)previous, key, value)
        {
            (void)value;
            if (changed != NULL && json_array_append_new(changed, json_string(key)) != 0) {
                b->failed = true;
            }
        }
        put(b, b->data, "changed", changed);
    }
    const json_t *email = json_object_get(b->object, "email");
    lead_email(b, &email, 1);
    note(b, stripe_lead_set_name(b->lead, json_object_get(b->object, "name")));
    note(b, stripe_lead_set_text(b->lead, "phone", json_object_get(b->object, "phone")));
    lead_external_id(b, id);
    const json_t *lead_id = metadata_lead_id(b->object);
    lead_id_first(b, &lead_id, 1);
    return STRIPE_EMIT;
}

/* checkout.session.completed -> payment.succeeded, when paid or nothing was to be paid */
static enum stripe_verdict map_checkout(struct build *b)
{
    const json_t *session = b->object;
    const char *id = object_id(b);
    if (id == NULL) {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: data.object.id: expected a checkout session id", b->id);
    }
    const json_t *payment_status = json_object_get(session, "payment_status");
    const char *paid = json_string_value(payment_status);
    bool nothing_due = paid != NULL && strcmp(paid, "no_payment_required") == 0;
    if (paid == NULL || (strcmp(paid, "paid") != 0 && !nothing_due)) {
        /* "unpaid": a delayed payment method; Stripe sends async_payment_succeeded later */
        return verdict(b->out, STRIPE_SKIP, "not_paid",
                       "event %s: checkout session %s has payment_status %s", b->id, id,
                       token(payment_status));
    }
    const json_t *amount = json_object_get(session, "amount_total");
    if (json_is_integer(amount)) {
        put(b, b->data, "amount", json_integer(json_integer_value(amount)));
    } else if (nothing_due) {
        put(b, b->data, "amount", json_integer(0));
    } else {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: amount_total: expected an integer for a paid session", b->id);
    }
    data_string(b, "currency", session, "currency");
    data_string(b, "mode", session, "mode");
    put(b, b->data, "payment_status", json_string(paid));
    put(b, b->data, "checkout_session", json_string(id));
    data_id(b, "customer", session, "customer");
    data_id(b, "subscription", session, "subscription");
    data_id(b, "invoice", session, "invoice");
    data_id(b, "payment_intent", session, "payment_intent");
    data_string(b, "client_reference_id", session, "client_reference_id");

    const json_t *details = json_object_get(session, "customer_details");
    const json_t *customer = expanded_customer(session);
    /* what the buyer typed at checkout first, then what the session and customer hold */
    const json_t *emails[] = {json_object_get(details, "email"),
                              json_object_get(session, "customer_email"),
                              json_object_get(customer, "email")};
    lead_email(b, emails, sizeof(emails) / sizeof(emails[0]));
    int rc = stripe_lead_set_name(b->lead, json_object_get(details, "individual_name"));
    if (rc == 0) {
        rc = stripe_lead_set_name(b->lead, json_object_get(details, "name"));
    }
    note(b, rc);
    /* newer API versions name the buying business separately: it wins over a guess */
    note(b, stripe_lead_set_text(b->lead, "company", json_object_get(details, "business_name")));
    lead_text_first(b, "phone", json_object_get(details, "phone"),
                    json_object_get(customer, "phone"));
    lead_external_id(b, stripe_expandable_id(session, "customer"));
    /* the reference the checkout was created with links it before any email match */
    const json_t *ids[] = {json_object_get(session, "client_reference_id"),
                           metadata_lead_id(session)};
    lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
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

/* invoice.paid -> payment.succeeded */
static enum stripe_verdict map_invoice(struct build *b)
{
    const json_t *invoice = b->object;
    const char *id = object_id(b);
    if (id == NULL) {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: data.object.id: expected an invoice id", b->id);
    }
    const json_t *amount = json_object_get(invoice, "amount_paid");
    if (!json_is_integer(amount)) {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: amount_paid: expected an integer", b->id);
    }
    put(b, b->data, "amount", json_integer(json_integer_value(amount)));
    data_string(b, "currency", invoice, "currency");
    data_string(b, "billing_reason", invoice, "billing_reason");
    put(b, b->data, "invoice", json_string(id));
    data_string(b, "number", invoice, "number");
    data_id(b, "customer", invoice, "customer");
    const char *subscription = invoice_subscription(invoice);
    if (subscription != NULL) {
        put(b, b->data, "subscription", json_string(subscription));
    }
    data_time(b, "paid_at", json_object_get(invoice, "status_transitions"), "paid_at");

    const json_t *customer = expanded_customer(invoice);
    const json_t *emails[] = {json_object_get(invoice, "customer_email"),
                              json_object_get(customer, "email")};
    lead_email(b, emails, sizeof(emails) / sizeof(emails[0]));
    int rc = stripe_lead_set_name(b->lead, json_object_get(invoice, "customer_name"));
    if (rc == 0) {
        rc = stripe_lead_set_name(b->lead, json_object_get(customer, "name"));
    }
    note(b, rc);
    lead_text_first(b, "phone", json_object_get(invoice, "customer_phone"),
                    json_object_get(customer, "phone"));
    lead_external_id(b, stripe_expandable_id(invoice, "customer"));
    const json_t *parent_details =
        json_object_get(json_object_get(invoice, "parent"), "subscription_details");
    const json_t *ids[] = {metadata_lead_id(invoice),
                           metadata_lead_id(json_object_get(invoice, "subscription_details")),
                           metadata_lead_id(parent_details), metadata_lead_id(customer)};
    lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
    return STRIPE_EMIT;
}

/* Each item's price, product and quantity, at most ITEMS_MAX of them. */
static void subscription_items(struct build *b)
{
    const json_t *items = json_object_get(json_object_get(b->object, "items"), "data");
    if (!json_is_array(items) || json_array_size(items) == 0) {
        return;
    }
    json_t *list = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        if (i >= ITEMS_MAX || list == NULL) {
            break;
        }
        const json_t *price = json_object_get(item, "price");
        json_t *entry = json_object();
        if (entry == NULL || json_array_append_new(list, entry) != 0) {
            b->failed = true;
            break;
        }
        const char *price_id = stripe_expandable_id(item, "price");
        if (price_id != NULL) {
            put(b, entry, "price", json_string(price_id));
        }
        const char *product = stripe_expandable_id(price, "product");
        if (product != NULL) {
            put(b, entry, "product", json_string(product));
        }
        const json_t *quantity = json_object_get(item, "quantity");
        if (json_is_integer(quantity)) {
            put(b, entry, "quantity", json_integer(json_integer_value(quantity)));
        }
    }
    put(b, b->data, "items", list);
}

/* customer.subscription.created -> subscription.started,
 * customer.subscription.deleted -> subscription.canceled */
static enum stripe_verdict map_subscription(struct build *b)
{
    const json_t *subscription = b->object;
    const char *id = object_id(b);
    if (id == NULL) {
        return verdict(b->out, STRIPE_INVALID, "malformed",
                       "event %s: data.object.id: expected a subscription id", b->id);
    }
    put(b, b->data, "subscription", json_string(id));
    data_string(b, "status", subscription, "status");
    data_id(b, "customer", subscription, "customer");
    data_string(b, "currency", subscription, "currency");
    data_integer(b, "quantity", json_object_get(subscription, "quantity"));
    subscription_items(b);
    data_time(b, "started_at", subscription, "start_date");
    data_time(b, "trial_end", subscription, "trial_end");
    if (b->type == STRIPE_SUBSCRIPTION_DELETED) {
        data_time(b, "canceled_at", subscription, "canceled_at");
        data_time(b, "ended_at", subscription, "ended_at");
        const json_t *details = json_object_get(subscription, "cancellation_details");
        data_string(b, "cancellation_reason", details, "reason");
        data_string(b, "cancellation_feedback", details, "feedback");
        data_string(b, "cancellation_comment", details, "comment");
    }
    const json_t *customer = expanded_customer(subscription);
    const json_t *email = json_object_get(customer, "email");
    lead_email(b, &email, 1);
    note(b, stripe_lead_set_name(b->lead, json_object_get(customer, "name")));
    note(b, stripe_lead_set_text(b->lead, "phone", json_object_get(customer, "phone")));
    lead_external_id(b, stripe_expandable_id(subscription, "customer"));
    const json_t *ids[] = {metadata_lead_id(subscription), metadata_lead_id(customer)};
    lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));
    return STRIPE_EMIT;
}

/* ---- the envelope ------------------------------------------------------------------- */

/* Checks what every Stripe event has; STRIPE_EMIT when it may be mapped. */
static enum stripe_verdict check_envelope(const json_t *event, const struct stripe_filter *filter,
                                          struct build *b, struct stripe_outcome *out)
{
    if (!json_is_object(event)) {
        return verdict(out, STRIPE_INVALID, "malformed", "the body is not a JSON object");
    }
    const char *object = json_string_value(json_object_get(event, "object"));
    if (object == NULL || strcmp(object, "event") != 0) {
        return verdict(out, STRIPE_INVALID, "malformed",
                       "object: expected \"event\" (is this a Stripe event?)");
    }
    b->id = json_string_value(json_object_get(event, "id"));
    if (!stripe_id_valid(b->id)) {
        return verdict(out, STRIPE_INVALID, "malformed", "id: expected a Stripe event id");
    }
    const json_t *type = json_object_get(event, "type");
    if (!json_is_string(type)) {
        return verdict(out, STRIPE_INVALID, "malformed", "event %s: type: expected a string",
                       b->id);
    }
    const json_t *created = json_object_get(event, "created");
    if (!json_is_integer(created) || json_integer_value(created) <= 0 ||
        json_integer_value(created) > STRIPE_TIME_MAX) {
        return verdict(out, STRIPE_INVALID, "malformed", "event %s: created: expected unix seconds",
                       b->id);
    }
    const json_t *livemode = json_object_get(event, "livemode");
    if (!json_is_boolean(livemode)) {
        return verdict(out, STRIPE_INVALID, "malformed",
                       "event %s: livemode: expected true or false", b->id);
    }
    b->object = json_object_get(json_object_get(event, "data"), "object");
    if (!json_is_object(b->object)) {
        return verdict(out, STRIPE_INVALID, "malformed",
                       "event %s: data.object: expected an object", b->id);
    }
    const char *problem = tree_problem(event, 0);
    if (problem != NULL) {
        return verdict(out, STRIPE_INVALID, "malformed", "event %s: %s", b->id, problem);
    }
    int index = stripe_type_find(json_string_value(type));
    if (index < 0) {
        return verdict(out, STRIPE_SKIP, "unsupported_type",
                       "event %s: type %s is not one the plugin maps", b->id, token(type));
    }
    b->type = (unsigned)index;
    if ((filter->types & (1U << b->type)) == 0) {
        return verdict(out, STRIPE_SKIP, "type_not_enabled",
                       "event %s: type %s is not in event_types", b->id,
                       type_table[b->type].stripe);
    }
    if (json_is_true(livemode) != filter->livemode) {
        return verdict(out, STRIPE_SKIP, "livemode_mismatch",
                       "event %s: a %s-mode event, but the api_key is a %s-mode key", b->id,
                       json_is_true(livemode) ? "live" : "test",
                       filter->livemode ? "live" : "test");
    }
    const json_t *kind = json_object_get(b->object, "object");
    if (kind != NULL && (!json_is_string(kind) ||
                         strcmp(json_string_value(kind), type_table[b->type].object) != 0)) {
        return verdict(out, STRIPE_INVALID, "malformed",
                       "event %s: data.object.object: expected \"%s\"", b->id,
                       type_table[b->type].object);
    }
    return STRIPE_EMIT;
}

/* The lead is attached only when something identifies it; the host refuses one that has
 * no email, external_id or id. */
static bool lead_identified(const json_t *lead)
{
    return json_object_get(lead, "email") != NULL || json_object_get(lead, "external_id") != NULL ||
           json_object_get(lead, "id") != NULL;
}

enum stripe_verdict stripe_normalize(const json_t *stripe_event, const struct stripe_filter *filter,
                                     struct stripe_outcome *out)
{
    memset(out, 0, sizeof(*out));
    struct build b = {.event = stripe_event, .out = out};
    enum stripe_verdict v = check_envelope(stripe_event, filter, &b, out);
    if (v != STRIPE_EMIT) {
        return v;
    }
    char occurred_at[21];
    stripe_format_time(json_integer_value(json_object_get(stripe_event, "created")), occurred_at);
    json_t *event = json_object();
    b.data = json_object();
    b.lead = json_object();
    if (event == NULL || b.data == NULL || b.lead == NULL) {
        v = STRIPE_NO_MEMORY;
        goto out;
    }
    put(&b, event, "type", json_string(type_table[b.type].normalized));
    put(&b, event, "source_id", json_string(b.id));
    put(&b, event, "occurred_at", json_string(occurred_at));
    put(&b, b.data, "stripe_event_type", json_string(type_table[b.type].stripe));
    put(&b, b.data, "livemode", json_boolean(filter->livemode));
    switch ((enum stripe_type)b.type) {
    case STRIPE_CUSTOMER_CREATED:
    case STRIPE_CUSTOMER_UPDATED:
        v = map_customer(&b);
        break;
    case STRIPE_CHECKOUT_COMPLETED:
        v = map_checkout(&b);
        break;
    case STRIPE_INVOICE_PAID:
        v = map_invoice(&b);
        break;
    case STRIPE_SUBSCRIPTION_CREATED:
    case STRIPE_SUBSCRIPTION_DELETED:
        v = map_subscription(&b);
        break;
    case STRIPE_TYPE_COUNT:
        v = verdict(out, STRIPE_INVALID, "malformed", "unreachable");
        break;
    }
    if (v != STRIPE_EMIT) {
        goto out;
    }
    if (lead_identified(b.lead)) {
        put(&b, event, "lead", json_incref(b.lead));
    }
    put(&b, event, "data", json_incref(b.data));
    /* a copy, so that the event owns all of itself whatever the caller does with its body */
    put(&b, event, "raw", json_deep_copy(stripe_event));
    if (b.failed) {
        v = STRIPE_NO_MEMORY;
        goto out;
    }
    out->event = event;
    event = NULL;
out:
    if (v == STRIPE_NO_MEMORY) {
        verdict(out, STRIPE_NO_MEMORY, "out_of_memory", "event %s: out of memory", b.id);
    }
    json_decref(event);
    json_decref(b.data);
    json_decref(b.lead);
    return v;
}
