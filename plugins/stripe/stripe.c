/*
 * stripe.c - the `stripe` source: signed webhooks plus Events API reconciliation,
 * normalized to customer and payment events. The descriptor, the settings, init and
 * destroy; stripe.h lists the other files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripe.h"

#define DEFAULT_API_BASE "https://api.stripe.com"
#define VERSION_MAX      64
#define TYPES_PARAM      "&types%5B%5D=" /* types[]= */

/* The normalized types the plugin emits (for the host's route checks). */
static const char *const emitted_types[] = {
    "customer.created",
    "lead.updated",
    "checkout.completed",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "subscription.started",
    "subscription.trial_started",
    "subscription.cancel_scheduled",
    "subscription.cancel_unscheduled",
    "subscription.canceled",
    NULL,
};

static const lh_config_field_t stripe_schema[] = {
    LH_FIELD(.name = "api_key", .type = LH_CONFIG_SECRET, .flags = LH_FIELD_REQUIRED,
             .description =
                 "Secret (sk_) or restricted (rk_) key with read access to Events. Its mode "
                 "(live or test) decides which events are stored: the other mode's are "
                 "skipped and counted."),
    LH_FIELD(.name = "webhook_secret", .type = LH_CONFIG_SECRET, .flags = LH_FIELD_HAS_MIN,
             .min = 16,
             .description =
                 "Signing secret (whsec_...) of the webhook endpoint registered in Stripe. "
                 "A list is accepted while rolling secrets. Without it webhooks are refused "
                 "and only the poll runs."),
    LH_FIELD(.name = "tolerance", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "5m", .min = 1000,
             .max = 86400000,
             .description =
                 "How old a Stripe-Signature timestamp may be before the webhook is refused "
                 "as a possible replay (Stripe's libraries use 5 minutes)."),
    LH_FIELD(.name = "api_base", .type = LH_CONFIG_STRING, .default_value = DEFAULT_API_BASE,
             .description =
                 "Base URL of the Stripe API; change it only for a proxy or a test server."),
    LH_FIELD(.name = "stripe_version", .type = LH_CONFIG_STRING,
             .description = "Sent as the Stripe-Version header (e.g. 2024-06-20). Events keep the "
                            "version they were created with; both invoice shapes are read."),
    LH_FIELD(.name = "event_types", .type = LH_CONFIG_LIST,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX,
             .default_value = "[customer.created, customer.updated, checkout.session.completed, "
                              "checkout.session.async_payment_succeeded, "
                              "checkout.session.async_payment_failed, invoice.paid, "
                              "invoice.payment_failed, charge.refunded, "
                              "customer.subscription.created, customer.subscription.updated, "
                              "customer.subscription.deleted]",
             .min = 1, .max = STRIPE_TYPE_COUNT,
             .description = "Stripe event types polled and accepted; webhooks of other types are "
                            "answered 200 and skipped."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "3d", .min = 0,
             .max = 2592000000.0,
             .description = "How far back the first poll reaches (Stripe keeps events 30 days; the "
                            "default covers its 3 days of webhook retries)."),
    LH_FIELD(.name = "poll_window", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "1000", .min = 1,
             .max = 100000,
             .description =
                 "Events one poll round holds in memory and sorts before storing them; a "
                 "larger window reads a big backlog with fewer requests."),
    LH_FIELD_END,
};

/* Overwrites a secret before freeing it (explicit_bzero: a memset before free() may be
 * optimized away). */
static void free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void stripe_destroy(void *state)
{
    struct stripe *stripe = state;
    if (stripe == NULL) {
        return;
    }
    free_secret(stripe->authorization);
    for (size_t i = 0; i < stripe->webhook_secret_count; i++) {
        free_secret(stripe->webhook_secrets[i]);
    }
    free(stripe->webhook_secrets);
    free(stripe->api_base);
    free(stripe->stripe_version);
    free(stripe->types_query);
    free(stripe->types_signature);
    free(stripe);
}

/* No CR, LF or other control characters: the value goes into a header line. */
static bool header_safe(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Secrets are never quoted in a reason, not even in part. */
static lh_status_t init_api_key(struct stripe *stripe, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = stripe->host;
    const json_t *value = json_object_get(settings, "api_key");
    if (json_is_array(value)) {
        host->config_error(ctx, "api_key", NULL, "give one key (a list is for webhook_secret)");
        return LH_CONFIG;
    }
    const char *key = json_string_value(value);
    if (key == NULL || strlen(key) != json_string_length(value) || !header_safe(key) ||
        strchr(key, ' ') != NULL) {
        host->config_error(ctx, "api_key", NULL,
                           "must be a Stripe key without spaces or control characters");
        return LH_CONFIG;
    }
    static const struct {
        const char *prefix;
        bool live;
    } modes[] = {{"sk_live_", true}, {"rk_live_", true}, {"sk_test_", false}, {"rk_test_", false}};
    bool known = false;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]) && !known; i++) {
        size_t len = strlen(modes[i].prefix);
        if (strncmp(key, modes[i].prefix, len) == 0 && key[len] != '\0') {
            stripe->livemode = modes[i].live;
            known = true;
        }
    }
    if (!known) {
        /* the mode decides which events are stored, so it cannot be guessed */
        host->config_error(ctx, "api_key", NULL,
                           "expected a secret or restricted key starting with "
                           "sk_live_, sk_test_, rk_live_ or rk_test_ (publishable pk_ keys "
                           "cannot read events)");
        return LH_CONFIG;
    }
    size_t size = strlen("Bearer ") + strlen(key) + 1;
    stripe->authorization = malloc(size);
    if (stripe->authorization == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    snprintf(stripe->authorization, size, "Bearer %s", key);
    return LH_OK;
}

static lh_status_t add_webhook_secret(struct stripe *stripe, lh_ctx_t *ctx, const json_t *value)
{
    const char *secret = json_string_value(value);
    if (secret == NULL || secret[0] == '\0' || strlen(secret) != json_string_length(value)) {
        stripe->host->config_error(ctx, "webhook_secret", NULL,
                                   "every secret must be a non-empty string");
        return LH_CONFIG;
    }
    char *copy = strdup(secret);
    if (copy == NULL) {
        stripe->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    stripe->webhook_secrets[stripe->webhook_secret_count++] = copy;
    return LH_OK;
}

static lh_status_t init_webhook_secrets(struct stripe *stripe, lh_ctx_t *ctx,
                                        const json_t *settings)
{
    const json_t *value = json_object_get(settings, "webhook_secret");
    if (value == NULL) {
        return LH_OK; /* poll only */
    }
    size_t count = json_is_array(value) ? json_array_size(value) : 1;
    if (count == 0) {
        stripe->host->config_error(ctx, "webhook_secret", NULL, "the list is empty");
        return LH_CONFIG;
    }
    stripe->webhook_secrets = calloc(count, sizeof(*stripe->webhook_secrets));
    if (stripe->webhook_secrets == NULL) {
        stripe->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (!json_is_array(value)) {
        return add_webhook_secret(stripe, ctx, value);
    }
    size_t i;
    const json_t *item;
    json_array_foreach(value, i, item)
    {
        lh_status_t status = add_webhook_secret(stripe, ctx, item);
        if (status != LH_OK) {
            return status;
        }
    }
    return LH_OK;
}

/* api_base: http(s), a host, no credentials, query or fragment; kept without trailing '/'. */
static lh_status_t init_api_base(struct stripe *stripe, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = stripe->host;
    const char *base = lh_setting_string(settings, "api_base", DEFAULT_API_BASE);
    size_t scheme = strncmp(base, "https://", 8) == 0  ? 8
                    : strncmp(base, "http://", 7) == 0 ? 7
                                                       : 0;
    if (scheme == 0) {
        host->config_error(ctx, "api_base", NULL,
                           "must start with https:// (or http:// for a local test "
                           "server)");
        return LH_CONFIG;
    }
    size_t authority = strcspn(base + scheme, "/?#");
    if (authority == 0 || !header_safe(base) || strpbrk(base, " ?#") != NULL) {
        host->config_error(ctx, "api_base", NULL,
                           "must be a base URL like https://api.stripe.com, without "
                           "spaces, query or fragment");
        return LH_CONFIG;
    }
    if (memchr(base + scheme, '@', authority) != NULL) {
        host->config_error(ctx, "api_base", NULL,
                           "must not carry credentials (user:password@); the key "
                           "goes in api_key");
        return LH_CONFIG;
    }
    size_t len = strlen(base);
    while (len > scheme + authority && base[len - 1] == '/') {
        len--;
    }
    stripe->api_base = strndup(base, len);
    if (stripe->api_base == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (scheme == 7) {
        host->log(ctx, LH_LOG_WARN,
                  "api_base uses plain http: the api_key travels unencrypted "
                  "(fine for a local test server only)");
    }
    return LH_OK;
}

static lh_status_t init_version(struct stripe *stripe, lh_ctx_t *ctx, const json_t *settings)
{
    const char *version = lh_setting_string(settings, "stripe_version", NULL);
    if (version == NULL) {
        return LH_OK;
    }
    size_t len = strlen(version);
    bool valid = len > 0 && len <= VERSION_MAX;
    for (size_t i = 0; i < len && valid; i++) {
        char c = version[i];
        valid =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '_';
    }
    if (!valid) {
        stripe->host->config_error(ctx, "stripe_version", NULL,
                                   "expected a Stripe API version such as "
                                   "2024-06-20 or 2025-03-31.basil");
        return LH_CONFIG;
    }
    stripe->stripe_version = strdup(version);
    if (stripe->stripe_version == NULL) {
        stripe->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

/* Appends text to the NUL-terminated buffer of `size` bytes, truncating if need be. */
static void append(char *buffer, size_t size, const char *text)
{
    size_t used = strlen(buffer);
    snprintf(buffer + used, size - used, "%s", text);
}

/* event_types: the types[] query and the signature a saved cursor is checked against. */
static lh_status_t init_types(struct stripe *stripe, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = stripe->host;
    const json_t *list = json_object_get(settings, "event_types");
    size_t i;
    const json_t *item;
    bool unknown = false;
    json_array_foreach(list, i, item)
    {
        int type = stripe_type_find(json_string_value(item));
        if (type < 0) {
            char known[512] = "types the plugin maps: ";
            for (unsigned t = 0; t < STRIPE_TYPE_COUNT; t++) {
                append(known, sizeof(known), stripe_type_name(t));
                append(known, sizeof(known), t + 1 < STRIPE_TYPE_COUNT ? ", " : "");
            }
            char key[48];
            snprintf(key, sizeof(key), "event_types[%zu]", i);
            host->config_error(ctx, key, known,
                               "\"%.64s\" is not a Stripe event type the plugin maps",
                               json_string_value(item) ? json_string_value(item) : "");
            unknown = true; /* each one is reported */
            continue;
        }
        stripe->types |= 1U << (unsigned)type;
    }
    if (unknown) {
        return LH_CONFIG;
    }
    size_t size = 1;
    for (unsigned t = 0; t < STRIPE_TYPE_COUNT; t++) {
        size += strlen(TYPES_PARAM) + strlen(stripe_type_name(t)) + 1;
    }
    stripe->types_query = calloc(1, size);
    stripe->types_signature = calloc(1, size);
    if (stripe->types_query == NULL || stripe->types_signature == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    /* in the plugin's order, whatever the file's: reordering the list changes nothing */
    for (unsigned t = 0; t < STRIPE_TYPE_COUNT; t++) {
        if (stripe->types & (1U << t)) {
            append(stripe->types_query, size, TYPES_PARAM);
            append(stripe->types_query, size, stripe_type_name(t));
            if (stripe->types_signature[0] != '\0') {
                append(stripe->types_signature, size, ",");
            }
            append(stripe->types_signature, size, stripe_type_name(t));
        }
    }
    return LH_OK;
}

/*
 * Reads the settings into a new state (*stripe_out, NULL on failure), every part of them,
 * reporting each problem with config_error(): shared by validate() and init(), so that
 * what check-config accepts init() accepts too.
 */
static lh_status_t stripe_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                               struct stripe **stripe_out)
{
    *stripe_out = NULL;
    struct stripe *stripe = calloc(1, sizeof(*stripe));
    if (stripe == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    stripe->host = host;
    stripe->tolerance_s = lh_setting_int(settings, "tolerance", 300000) / 1000;
    stripe->backfill_s = lh_setting_int(settings, "backfill", 3LL * 86400 * 1000) / 1000;
    stripe->window = (size_t)lh_setting_int(settings, "poll_window", 1000);
    lh_status_t statuses[5];
    statuses[0] = init_api_key(stripe, ctx, settings);
    statuses[1] = init_webhook_secrets(stripe, ctx, settings);
    statuses[2] = init_api_base(stripe, ctx, settings);
    statuses[3] = init_version(stripe, ctx, settings);
    statuses[4] = init_types(stripe, ctx, settings);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] != LH_OK) {
            stripe_destroy(stripe);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    *stripe_out = stripe;
    return LH_OK;
}

static lh_status_t stripe_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct stripe *stripe = NULL;
    lh_status_t status = stripe_load(ctx, host, settings, &stripe);
    stripe_destroy(stripe);
    return status;
}

static lh_status_t stripe_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                               void **state_out)
{
    struct stripe *stripe = NULL;
    lh_status_t status = stripe_load(ctx, host, settings, &stripe);
    *state_out = stripe;
    return status;
}

/* Every genuine webhook is signed: the host refuses a POST without it before its body. */
static const char *const signature_headers[] = {"Stripe-Signature", NULL};

static const lh_plugin_t stripe_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    /* the state is read-only after init: a webhook need not wait for a running poll */
    .flags = LH_PLUGIN_REENTRANT,
    .name = "stripe",
    .version = "1.0.0",
    .description = "Stripe: signed webhooks plus Events API reconciliation, normalized to "
                   "customer, payment and subscription events.",
    .config_schema = stripe_schema,
    .event_types = emitted_types,
    .webhook_signature_headers = signature_headers,
    .validate = stripe_validate,
    .init = stripe_init,
    .destroy = stripe_destroy,
    .poll = stripe_poll,
    .webhook = stripe_webhook,
};

LH_PLUGIN_DECLARE(stripe_plugin)
