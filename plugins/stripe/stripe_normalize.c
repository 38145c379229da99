/*
 * stripe_normalize.c - one Stripe event object -> leadhub events, a skip, or a refusal.
 * Pure: no host calls, no state, so that the fuzz target and the unit tests run it alone,
 * and the webhook and the poll store exactly the same thing for one event (the store
 * deduplicates on source_id + type, so they must agree).
 *
 * Stripe sends what its API version says; fields are read defensively: a missing or
 * mistyped optional field is left out, a missing essential one (the object's id, the
 * amount of a paid invoice) refuses the event. This file holds the envelope, the type
 * table, the builder helpers and the customer mapping; payments and subscriptions have
 * files of their own (stripe_build.h). docs/connectors/stripe.md is the mapping.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stripe_build.h"

/* The host refuses events nested deeper than 64 levels (core/event.c); `raw` sits one
 * level below the event, so the payload itself may use 63. */
#define RAW_DEPTH_MAX 63
/* The host refuses numbers beyond +-1e300. */
#define NUMBER_MAX      1e300
#define STATUS_TEXT_MAX 40

struct type_info {
    const char *stripe;
    const char *object; /* what data.object is */
};

static const struct type_info type_table[STRIPE_TYPE_COUNT] = {
    [STRIPE_CUSTOMER_CREATED] = {"customer.created", "customer"},
    [STRIPE_CUSTOMER_UPDATED] = {"customer.updated", "customer"},
    [STRIPE_CHECKOUT_COMPLETED] = {"checkout.session.completed", "checkout.session"},
    [STRIPE_INVOICE_PAID] = {"invoice.paid", "invoice"},
    [STRIPE_SUBSCRIPTION_CREATED] = {"customer.subscription.created", "subscription"},
    [STRIPE_SUBSCRIPTION_DELETED] = {"customer.subscription.deleted", "subscription"},
    [STRIPE_CHECKOUT_ASYNC_SUCCEEDED] = {"checkout.session.async_payment_succeeded",
                                         "checkout.session"},
    [STRIPE_CHECKOUT_ASYNC_FAILED] = {"checkout.session.async_payment_failed", "checkout.session"},
    [STRIPE_INVOICE_PAYMENT_FAILED] = {"invoice.payment_failed", "invoice"},
    [STRIPE_SUBSCRIPTION_UPDATED] = {"customer.subscription.updated", "subscription"},
    [STRIPE_CHARGE_REFUNDED] = {"charge.refunded", "charge"},
};

const char *stripe_type_name(unsigned type)
{
    return type < STRIPE_TYPE_COUNT ? type_table[type].stripe : NULL;
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

enum stripe_verdict stripe_verdict_set(struct stripe_outcome *out, enum stripe_verdict v,
                                       const char *reason, const char *fmt, ...)
{
    out->reason = reason;
    va_list args;
    va_start(args, fmt);
    vsnprintf(out->detail, sizeof(out->detail), fmt, args);
    va_end(args);
    return v;
}

bool stripe_text_is(const json_t *value, const char *expected)
{
    const char *text = json_string_value(value);
    return text != NULL && strcmp(text, expected) == 0;
}

/* Stripe's enum values and type names are [a-z0-9_.]; anything else is not quoted. */
const char *stripe_token(const json_t *value)
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

/* ---- setters that record allocation failure ----------------------------------------- */

void stripe_put(struct build *b, json_t *object, const char *key, json_t *value)
{
    if (value == NULL || json_object_set_new(object, key, value) != 0) {
        b->failed = true;
    }
}

void stripe_note(struct build *b, int rc)
{
    if (rc < 0) {
        b->failed = true;
    }
}

void stripe_data_string(struct build *b, const char *key, const json_t *object, const char *field)
{
    const json_t *value = json_object_get(object, field);
    if (json_is_string(value) && json_string_length(value) > 0) {
        stripe_put(b, b->data, key,
                   json_stringn(json_string_value(value), json_string_length(value)));
    }
}

void stripe_data_integer(struct build *b, const char *key, const json_t *value)
{
    if (json_is_integer(value)) {
        stripe_put(b, b->data, key, json_integer(json_integer_value(value)));
    }
}

void stripe_data_id(struct build *b, const char *key, const json_t *object, const char *field)
{
    const char *id = stripe_expandable_id(object, field);
    if (id != NULL) {
        stripe_put(b, b->data, key, json_string(id));
    }
}

void stripe_data_time(struct build *b, const char *key, const json_t *object, const char *field)
{
    const json_t *value = json_object_get(object, field);
    char text[21];
    if (json_is_integer(value) && json_integer_value(value) > 0 &&
        stripe_format_time(json_integer_value(value), text)) {
        stripe_put(b, b->data, key, json_string(text));
    }
}

void stripe_lead_email_first(struct build *b, const json_t *const *candidates, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc = stripe_lead_set_email(b->lead, candidates[i]);
        if (rc != 0) {
            stripe_note(b, rc);
            return;
        }
    }
}

void stripe_lead_text_first(struct build *b, const char *key, const json_t *first,
                            const json_t *second)
{
    int rc = stripe_lead_set_text(b->lead, key, first);
    if (rc == 0) {
        rc = stripe_lead_set_text(b->lead, key, second);
    }
    stripe_note(b, rc);
}

void stripe_lead_id_first(struct build *b, const json_t *const *candidates, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int rc = stripe_lead_set_id(b->lead, candidates[i]);
        if (rc != 0) {
            stripe_note(b, rc);
            return;
        }
    }
}

void stripe_lead_external_id(struct build *b, const char *customer_id)
{
    if (customer_id != NULL) {
        stripe_put(b, b->lead, "external_id", json_string(customer_id));
    }
}

const json_t *stripe_metadata_lead_id(const json_t *object)
{
    return json_object_get(json_object_get(object, "metadata"), "leadhub_lead_id");
}

const json_t *stripe_expanded_customer(const json_t *object)
{
    const json_t *customer = json_object_get(object, "customer");
    return json_is_object(customer) ? customer : NULL;
}

const char *stripe_object_id(const struct build *b)
{
    const char *id = json_string_value(json_object_get(b->object, "id"));
    return stripe_id_valid(id) ? id : NULL;
}

void stripe_data_changed(struct build *b)
{
    const json_t *previous =
        json_object_get(json_object_get(b->event, "data"), "previous_attributes");
    if (!json_is_object(previous)) {
        return;
    }
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
    stripe_put(b, b->data, "changed", changed);
}

/* The lead is attached only when something identifies it; the host refuses one that has
 * no email, external_id or id. */
static bool lead_identified(const json_t *lead)
{
    return json_object_get(lead, "email") != NULL || json_object_get(lead, "external_id") != NULL ||
           json_object_get(lead, "id") != NULL;
}

void stripe_build_emit(struct build *b, const char *type)
{
    json_t *event = json_object();
    if (event == NULL || json_array_append_new(b->events, event) != 0) {
        b->failed = true;
        return;
    }
    stripe_put(b, event, "type", json_string(type));
    stripe_put(b, event, "source_id", json_string(b->id));
    stripe_put(b, event, "occurred_at", json_string(b->occurred_at));
    if (lead_identified(b->lead)) {
        stripe_put(b, event, "lead", json_deep_copy(b->lead));
    }
    stripe_put(b, event, "data", json_deep_copy(b->data));
    /* a copy, so that the event owns all of itself whatever the caller does with its body */
    stripe_put(b, event, "raw", json_deep_copy(b->event));
}

/* ---- customers ------------------------------------------------------------------------ */

/* customer.created -> customer.created, customer.updated -> lead.updated */
static enum stripe_verdict map_customer(struct build *b)
{
    const char *id = stripe_object_id(b);
    if (id == NULL) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.id: expected a customer id", b->id);
    }
    stripe_put(b, b->data, "customer", json_string(id));
    stripe_data_string(b, "name", b->object, "name");
    if (b->type == STRIPE_CUSTOMER_UPDATED) {
        stripe_data_changed(b);
    }
    const json_t *email = json_object_get(b->object, "email");
    stripe_lead_email_first(b, &email, 1);
    stripe_note(b, stripe_lead_set_name(b->lead, json_object_get(b->object, "name")));
    stripe_note(b, stripe_lead_set_text(b->lead, "phone", json_object_get(b->object, "phone")));
    stripe_lead_external_id(b, id);
    const json_t *lead_id = stripe_metadata_lead_id(b->object);
    stripe_lead_id_first(b, &lead_id, 1);
    stripe_build_emit(b, b->type == STRIPE_CUSTOMER_CREATED ? "customer.created" : "lead.updated");
    return STRIPE_EMIT;
}

/* ---- the envelope ------------------------------------------------------------------- */

/* Checks what every Stripe event has; STRIPE_EMIT when it may be mapped. */
static enum stripe_verdict check_envelope(const json_t *event, const struct stripe_filter *filter,
                                          struct build *b, struct stripe_outcome *out)
{
    if (!json_is_object(event)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "the body is not a JSON object");
    }
    const char *object = json_string_value(json_object_get(event, "object"));
    if (object == NULL || strcmp(object, "event") != 0) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "object: expected \"event\" (is this a Stripe event?)");
    }
    b->id = json_string_value(json_object_get(event, "id"));
    if (!stripe_id_valid(b->id)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "id: expected a Stripe event id");
    }
    const json_t *type = json_object_get(event, "type");
    if (!json_is_string(type)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "event %s: type: expected a string", b->id);
    }
    const json_t *created = json_object_get(event, "created");
    if (!json_is_integer(created) || json_integer_value(created) <= 0 ||
        json_integer_value(created) > STRIPE_TIME_MAX) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "event %s: created: expected unix seconds", b->id);
    }
    const json_t *livemode = json_object_get(event, "livemode");
    if (!json_is_boolean(livemode)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "event %s: livemode: expected true or false", b->id);
    }
    b->object = json_object_get(json_object_get(event, "data"), "object");
    if (!json_is_object(b->object)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object: expected an object", b->id);
    }
    const char *problem = tree_problem(event, 0);
    if (problem != NULL) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed", "event %s: %s", b->id, problem);
    }
    int index = stripe_type_find(json_string_value(type));
    if (index < 0) {
        return stripe_verdict_set(out, STRIPE_SKIP, "unsupported_type",
                                  "event %s: type %s is not one the plugin maps", b->id,
                                  stripe_token(type));
    }
    b->type = (unsigned)index;
    if ((filter->types & (1U << b->type)) == 0) {
        return stripe_verdict_set(out, STRIPE_SKIP, "type_not_enabled",
                                  "event %s: type %s is not in event_types", b->id,
                                  type_table[b->type].stripe);
    }
    if (json_is_true(livemode) != filter->livemode) {
        return stripe_verdict_set(out, STRIPE_SKIP, "livemode_mismatch",
                                  "event %s: a %s-mode event, but the api_key is a %s-mode key",
                                  b->id, json_is_true(livemode) ? "live" : "test",
                                  filter->livemode ? "live" : "test");
    }
    const json_t *kind = json_object_get(b->object, "object");
    if (kind != NULL && (!json_is_string(kind) ||
                         strcmp(json_string_value(kind), type_table[b->type].object) != 0)) {
        return stripe_verdict_set(out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.object: expected \"%s\"", b->id,
                                  type_table[b->type].object);
    }
    return STRIPE_EMIT;
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
    stripe_format_time(json_integer_value(json_object_get(stripe_event, "created")), b.occurred_at);
    b.data = json_object();
    b.lead = json_object();
    b.events = json_array();
    if (b.data == NULL || b.lead == NULL || b.events == NULL) {
        v = STRIPE_NO_MEMORY;
        goto out;
    }
    stripe_put(&b, b.data, "stripe_event_type", json_string(type_table[b.type].stripe));
    stripe_put(&b, b.data, "livemode", json_boolean(filter->livemode));
    switch ((enum stripe_type)b.type) {
    case STRIPE_CUSTOMER_CREATED:
    case STRIPE_CUSTOMER_UPDATED:
        v = map_customer(&b);
        break;
    case STRIPE_CHECKOUT_COMPLETED:
    case STRIPE_CHECKOUT_ASYNC_SUCCEEDED:
    case STRIPE_CHECKOUT_ASYNC_FAILED:
        v = stripe_map_checkout(&b);
        break;
    case STRIPE_INVOICE_PAID:
    case STRIPE_INVOICE_PAYMENT_FAILED:
        v = stripe_map_invoice(&b);
        break;
    case STRIPE_CHARGE_REFUNDED:
        v = stripe_map_refund(&b);
        break;
    case STRIPE_SUBSCRIPTION_CREATED:
    case STRIPE_SUBSCRIPTION_UPDATED:
    case STRIPE_SUBSCRIPTION_DELETED:
        v = stripe_map_subscription(&b);
        break;
    case STRIPE_TYPE_COUNT:
        v = stripe_verdict_set(out, STRIPE_INVALID, "malformed", "unreachable");
        break;
    }
    if (v != STRIPE_EMIT) {
        goto out;
    }
    if (b.failed) {
        v = STRIPE_NO_MEMORY;
        goto out;
    }
    if (json_array_size(b.events) == 0) {
        v = stripe_verdict_set(out, STRIPE_INVALID, "malformed", "event %s: nothing to emit", b.id);
        goto out;
    }
    out->events = b.events;
    b.events = NULL;
out:
    if (v == STRIPE_NO_MEMORY) {
        stripe_verdict_set(out, STRIPE_NO_MEMORY, "out_of_memory", "event %s: out of memory", b.id);
    }
    json_decref(b.events);
    json_decref(b.data);
    json_decref(b.lead);
    return v;
}
