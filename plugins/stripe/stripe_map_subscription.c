/*
 * stripe_map_subscription.c - a subscription's life (pure; stripe_build.h):
 *
 *   customer.subscription.created  -> subscription.trial_started (status trialing), or
 *                                     subscription.started (active, past_due, ...); an
 *                                     incomplete one (its first payment pending) starts
 *                                     when it becomes active
 *   customer.subscription.updated  -> subscription.started (trialing or incomplete became
 *                                     active), subscription.cancel_scheduled (it will end at
 *                                     the end of its period or at cancel_at),
 *                                     subscription.cancel_unscheduled (that was withdrawn);
 *                                     other changes are skipped
 *   customer.subscription.deleted  -> subscription.canceled, with its last billing period
 */
#include <string.h>

#include "stripe_build.h"

#define ITEMS_MAX 20 /* subscription items copied into data; rarely more than a few */

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
            stripe_put(b, entry, "price", json_string(price_id));
        }
        const char *product = stripe_expandable_id(price, "product");
        if (product != NULL) {
            stripe_put(b, entry, "product", json_string(product));
        }
        const json_t *quantity = json_object_get(item, "quantity");
        if (json_is_integer(quantity)) {
            stripe_put(b, entry, "quantity", json_integer(json_integer_value(quantity)));
        }
    }
    stripe_put(b, b->data, "items", list);
}

/* The billing period the subscription is in (for a canceled one, its last): on the
 * subscription before 2025-03-31.basil, on each item since (the first item's is taken). */
static const json_t *period_holder(const json_t *subscription)
{
    if (json_is_integer(json_object_get(subscription, "current_period_end"))) {
        return subscription;
    }
    const json_t *items = json_object_get(json_object_get(subscription, "items"), "data");
    return json_array_get(items, 0);
}

/* Whether the subscription is set to end: at the end of its period, or at cancel_at. */
static bool scheduled_to_end(const json_t *cancel_at_period_end, const json_t *cancel_at)
{
    return json_is_true(cancel_at_period_end) || json_is_integer(cancel_at);
}

/* What a customer.subscription.updated says, as events; none for a change not modelled. */
static void map_update(struct build *b)
{
    const json_t *subscription = b->object;
    const json_t *previous =
        json_object_get(json_object_get(b->event, "data"), "previous_attributes");
    const json_t *status = json_object_get(subscription, "status");
    const json_t *previous_status = json_object_get(previous, "status");
    if ((stripe_text_is(previous_status, "trialing") ||
         stripe_text_is(previous_status, "incomplete")) &&
        stripe_text_is(status, "active")) {
        stripe_build_emit(b, "subscription.started");
    }
    const json_t *period_end_flag = json_object_get(subscription, "cancel_at_period_end");
    const json_t *cancel_at = json_object_get(subscription, "cancel_at");
    bool now = scheduled_to_end(period_end_flag, cancel_at);
    bool flag_changed = json_object_get(previous, "cancel_at_period_end") != NULL;
    bool date_changed = json_object_get(previous, "cancel_at") != NULL;
    if (!flag_changed && !date_changed) {
        return;
    }
    bool before = scheduled_to_end(
        flag_changed ? json_object_get(previous, "cancel_at_period_end") : period_end_flag,
        date_changed ? json_object_get(previous, "cancel_at") : cancel_at);
    if (now && (!before || date_changed)) {
        stripe_build_emit(b, "subscription.cancel_scheduled");
    } else if (!now && before) {
        stripe_data_time(b, "previous_cancel_at", previous, "cancel_at");
        stripe_build_emit(b, "subscription.cancel_unscheduled");
    }
}

enum stripe_verdict stripe_map_subscription(struct build *b)
{
    const json_t *subscription = b->object;
    const char *id = stripe_object_id(b);
    if (id == NULL) {
        return stripe_verdict_set(b->out, STRIPE_INVALID, "malformed",
                                  "event %s: data.object.id: expected a subscription id", b->id);
    }
    const json_t *status = json_object_get(subscription, "status");
    stripe_put(b, b->data, "subscription", json_string(id));
    stripe_data_string(b, "status", subscription, "status");
    stripe_data_id(b, "customer", subscription, "customer");
    stripe_data_string(b, "currency", subscription, "currency");
    stripe_data_integer(b, "quantity", json_object_get(subscription, "quantity"));
    subscription_items(b);
    stripe_data_time(b, "started_at", subscription, "start_date");
    stripe_data_time(b, "trial_start", subscription, "trial_start");
    stripe_data_time(b, "trial_end", subscription, "trial_end");
    const json_t *period = period_holder(subscription);
    stripe_data_time(b, "period_start", period, "current_period_start");
    stripe_data_time(b, "period_end", period, "current_period_end");
    const json_t *period_end_flag = json_object_get(subscription, "cancel_at_period_end");
    if (json_is_boolean(period_end_flag)) {
        stripe_put(b, b->data, "cancel_at_period_end", json_boolean(json_is_true(period_end_flag)));
    }
    /* when it ends: the date set, else the end of the period it is in */
    if (json_is_integer(json_object_get(subscription, "cancel_at"))) {
        stripe_data_time(b, "cancel_at", subscription, "cancel_at");
    } else if (json_is_true(period_end_flag)) {
        stripe_data_time(b, "cancel_at", period, "current_period_end");
    }
    stripe_data_time(b, "canceled_at", subscription, "canceled_at");
    stripe_data_time(b, "ended_at", subscription, "ended_at");
    const json_t *details = json_object_get(subscription, "cancellation_details");
    stripe_data_string(b, "cancellation_reason", details, "reason");
    stripe_data_string(b, "cancellation_feedback", details, "feedback");
    stripe_data_string(b, "cancellation_comment", details, "comment");
    if (b->type == STRIPE_SUBSCRIPTION_UPDATED) {
        stripe_data_changed(b);
    }

    const json_t *customer = stripe_expanded_customer(subscription);
    const json_t *email = json_object_get(customer, "email");
    stripe_lead_email_first(b, &email, 1);
    stripe_note(b, stripe_lead_set_name(b->lead, json_object_get(customer, "name")));
    stripe_note(b, stripe_lead_set_text(b->lead, "phone", json_object_get(customer, "phone")));
    stripe_lead_external_id(b, stripe_expandable_id(subscription, "customer"));
    const json_t *ids[] = {stripe_metadata_lead_id(subscription),
                           stripe_metadata_lead_id(customer)};
    stripe_lead_id_first(b, ids, sizeof(ids) / sizeof(ids[0]));

    switch ((enum stripe_type)b->type) {
    case STRIPE_SUBSCRIPTION_CREATED:
        if (stripe_text_is(status, "incomplete") || stripe_text_is(status, "incomplete_expired")) {
            return stripe_verdict_set(b->out, STRIPE_SKIP, "not_started",
                                      "event %s: subscription %s is %s: it starts when its first "
                                      "payment succeeds",
                                      b->id, id, stripe_token(status));
        }
        stripe_build_emit(b, stripe_text_is(status, "trialing") ? "subscription.trial_started"
                                                                : "subscription.started");
        break;
    case STRIPE_SUBSCRIPTION_UPDATED:
        map_update(b);
        if (json_array_size(b->events) == 0 && !b->failed) {
            return stripe_verdict_set(b->out, STRIPE_SKIP, "not_modelled",
                                      "event %s: subscription %s: a change leadhub does not model "
                                      "(a renewal, a plan or payment method change)",
                                      b->id, id);
        }
        break;
    default:
        stripe_build_emit(b, "subscription.canceled");
        break;
    }
    return STRIPE_EMIT;
}
