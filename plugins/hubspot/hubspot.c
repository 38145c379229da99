/*
 * hubspot.c - the HubSpot CRM connector: descriptor, settings, init and destroy.
 *
 * A source and a sink. As a sink it upserts contacts (leads, customers, scores, payments)
 * and logs meeting engagements; as a source it polls contacts and deals through the search
 * API and takes HubSpot's webhooks, emitting lead.updated and deal.stage_changed. The
 * plugin is not reentrant: its callbacks share a little mutable state (rate-limit and
 * OAuth failure memory, the discovered association type), and the host never runs two of
 * them at once - except the webhook, which touches none of it (it only records what to
 * fetch) and may run beside a poll (LH_PLUGIN_WEBHOOK_CONCURRENT). It asks for per-lead order
 * (LH_PLUGIN_ORDERED), so that a lead's update never overtakes its create and a meeting's
 * cancellation never its booking.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, explicit_bzero */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"
#include "setting_values.h"

static const char *const auth_modes[] = {"private_app", "oauth", NULL};
static const char *const erasure_modes[] = {"gdpr_delete", "archive", "keep", NULL};

static const lh_config_field_t hubspot_schema[] = {
    LH_FIELD(.name = "auth", .type = LH_CONFIG_ENUM, .flags = LH_FIELD_REQUIRED,
             .enum_values = auth_modes,
             .description = "private_app (a static access token) or oauth (a public app's refresh "
                            "token, exchanged for access tokens)."),
    LH_FIELD(.name = "access_token", .type = LH_CONFIG_SECRET,
             .description = "auth: private_app. The private app's access token (pat-...)."),
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING,
             .description = "auth: oauth. The public app's client id."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET,
             .description = "auth: oauth. The public app's client secret."),
    LH_FIELD(.name = "refresh_token", .type = LH_CONFIG_SECRET,
             .description = "auth: oauth. A refresh token obtained outside leadhub; without it "
                            "the grant of `leadhubd connect` is used."),
    LH_FIELD(.name = "token_url", .type = LH_CONFIG_STRING, .default_value = HUBSPOT_DEFAULT_TOKEN,
             .description = "auth: oauth. The token endpoint (v1 is announced for deprecation: "
                            "https://api.hubapi.com/oauth/v3/token when you move)."),
    LH_FIELD(.name = "authorization_url", .type = LH_CONFIG_STRING,
             .default_value = HUBSPOT_DEFAULT_AUTHORIZE,
             .description = "auth: oauth. Where `leadhubd connect` sends the browser to install "
                            "the app (overridden in tests)."),
    LH_FIELD(.name = "scopes", .type = LH_CONFIG_LIST,
             .default_value = "[crm.objects.contacts.read, crm.objects.contacts.write, "
                              "crm.objects.deals.read, oauth]",
             .description = "auth: oauth. The scopes consent asks for: the app's required "
                            "scopes."),
    LH_FIELD(.name = "api_base", .type = LH_CONFIG_STRING, .default_value = HUBSPOT_DEFAULT_BASE,
             .description = "Base URL of HubSpot's API (overridden in tests)."),
    LH_FIELD(.name = "webhook_client_secret", .type = LH_CONFIG_SECRET, .flags = LH_FIELD_HAS_MIN,
             .min = 16,
             .description = "Key of X-HubSpot-Signature-v3 (the app's client secret). A list is "
                            "accepted while rolling it. Without it webhooks are refused."),
    LH_FIELD(.name = "webhook_url", .type = LH_CONFIG_STRING,
             .description = "The exact public URL registered as the app's webhook target, without "
                            "its query: the signature covers it, and behind a proxy the daemon "
                            "cannot know it."),
    LH_FIELD(.name = "property_map", .type = LH_CONFIG_JSON,
             .description = "Lead field -> contact property, over the defaults email, first_name: "
                            "firstname, last_name: lastname, company, title: jobtitle, phone; "
                            "\"attributes.<name>\" maps a lead attribute; null drops a default."),
    LH_FIELD(.name = "pull_properties", .type = LH_CONFIG_LIST,
             .default_value = "[hubspot_owner_id, lifecyclestage, hs_lead_status]",
             .description = "Contact properties only read, into lead.attributes.<property> of "
                            "lead.updated (never written)."),
    LH_FIELD(.name = "score_properties", .type = LH_CONFIG_JSON,
             .description = "Scorer name -> contact property a lead.scored writes its score to."),
    LH_FIELD(.name = "pull", .type = LH_CONFIG_LIST, .default_value = "[contacts, deals, meetings]",
             .description = "What poll() fetches: contacts (lead.updated), deals "
                            "(deal.stage_changed), meetings (meeting.*, with their outcome); [] "
                            "for a sink only."),
    LH_FIELD(.name = "batch_size", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "100", .min = 1,
             .max = HUBSPOT_BATCH_MAX,
             .description =
                 "Deliveries per call, and inputs per batch request (HubSpot allows 100)."),
    LH_FIELD(.name = "timeout", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30s", .min = 100,
             .max = 300000, .description = "Whole-request timeout of each call to HubSpot."),
    LH_FIELD(.name = "search_interval", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "250ms", .min = 0,
             .max = 10000,
             .description = "Least time between two search requests: HubSpot allows 5 per second "
                            "per account for search, shared by all its apps. A poll ends rather "
                            "than wait; the next goes on."),
    LH_FIELD(.name = "on_erased", .type = LH_CONFIG_ENUM, .default_value = "gdpr_delete",
             .enum_values = erasure_modes,
             .description = "What a lead.erased (the person asked to be forgotten) does to the "
                            "lead's contact: gdpr_delete (HubSpot's permanent, GDPR-compliant "
                            "delete), archive (an ordinary delete, restorable for 90 days) or "
                            "keep (nothing: erasure is handled in HubSpot by hand)."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "0s", .min = 0,
             .max = 3650LL * 24 * 3600 * 1000,
             .description = "How far back the first poll starts; 0 takes changes from the first "
                            "poll on."),
    LH_FIELD_END,
};

/* Defaults of property_map, in the order the lead's fields are documented. */
static const char *const default_fields[][2] = {
    {"email", "email"},     {"first_name", "firstname"}, {"last_name", "lastname"},
    {"company", "company"}, {"title", "jobtitle"},       {"phone", "phone"},
};

static const char *const lead_fields[] = {"email", "first_name", "last_name",    "company",
                                          "title", "phone",      "linkedin_url", NULL};

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void mapping_free(struct hubspot_mapping *mapping)
{
    for (size_t i = 0; i < mapping->field_count; i++) {
        free(mapping->fields[i].field);
        free(mapping->fields[i].property);
    }
    free(mapping->fields);
    for (size_t i = 0; i < mapping->pulled_count; i++) {
        free(mapping->pulled[i]);
    }
    free(mapping->pulled);
    memset(mapping, 0, sizeof(*mapping));
}

static void hubspot_destroy(void *state)
{
    struct hubspot *hs = state;
    if (hs == NULL) {
        return;
    }
    /* secrets are wiped, not just freed: they should not linger in freed memory */
    wipe_free(hs->access_token);
    wipe_free(hs->client_secret);
    wipe_free(hs->refresh_token);
    for (size_t i = 0; i < hs->webhook_secret_count; i++) {
        wipe_free(hs->webhook_secrets[i]);
    }
    free(hs->webhook_secrets);
    free(hs->client_id);
    free(hs->token_url);
    free(hs->api_base);
    free(hs->webhook_url);
    free(hs->auth_failed_reason);
    mapping_free(&hs->mapping);
    json_decref(hs->score_properties);
    free(hs);
}

/* HubSpot's internal property names: a lowercase letter, then [a-z0-9_]. */
static bool property_name_valid(const char *name)
{
    if (name == NULL || !(name[0] >= 'a' && name[0] <= 'z') || strlen(name) > 100) {
        return false;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
            return false;
        }
    }
    return true;
}

static bool lead_field_valid(const char *field)
{
    if (strncmp(field, "attributes.", 11) == 0) {
        const char *name = field + 11;
        if (name[0] == '\0' || strlen(name) > 100) {
            return false;
        }
        for (const char *p = name; *p != '\0'; p++) {
            if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-')) {
                return false;
            }
        }
        return true;
    }
    for (size_t i = 0; lead_fields[i] != NULL; i++) {
        if (strcmp(field, lead_fields[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* What a shared setting check (setting_values.h) means for init: the reason reported
 * under `key`. */
static lh_status_t setting_result(const lh_host_t *host, lh_ctx_t *ctx, const char *key,
                                  enum setting_check check, const char *reason)
{
    if (check == SETTING_NO_MEMORY) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (check == SETTING_REFUSED) {
        host->config_error(ctx, key, NULL, "%s", reason);
        return LH_CONFIG;
    }
    return LH_OK;
}

/* A base URL setting (setting_url()): copied without a trailing slash. */
static lh_status_t url_setting(struct hubspot *hs, lh_ctx_t *ctx, const char *key,
                               const char *value, char **out)
{
    const char *reason = NULL;
    enum setting_check check = setting_url(value, out, &reason); /* sets reason */
    return setting_result(hs->host, ctx, key, check, reason);
}

/* One secret setting as a copy (NULL when absent; setting_secret()). */
static lh_status_t secret_setting(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings,
                                  const char *key, char **out)
{
    const char *reason = NULL;
    enum setting_check check = setting_secret(json_object_get(settings, key), out, &reason);
    return setting_result(hs->host, ctx, key, check, reason);
}

static lh_status_t init_auth(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = hs->host;
    const char *mode = lh_setting_string(settings, "auth", "private_app");
    hs->auth = strcmp(mode, "oauth") == 0 ? HUBSPOT_AUTH_OAUTH : HUBSPOT_AUTH_PRIVATE_APP;
    static const char *const oauth_keys[] = {"client_id", "client_secret", "refresh_token"};
    if (hs->auth == HUBSPOT_AUTH_PRIVATE_APP) {
        for (size_t i = 0; i < sizeof(oauth_keys) / sizeof(oauth_keys[0]); i++) {
            if (json_object_get(settings, oauth_keys[i]) != NULL) {
                host->config_error(ctx, oauth_keys[i], NULL,
                                   "only for auth: oauth (this instance uses private_app)");
                return LH_CONFIG;
            }
        }
        lh_status_t status = secret_setting(hs, ctx, settings, "access_token", &hs->access_token);
        if (status == LH_OK && hs->access_token == NULL) {
            host->config_error(ctx, "access_token",
                               "the private app's token, from ${ENV} or "
                               "${file:...}",
                               "required with auth: private_app");
            status = LH_CONFIG;
        }
        return status;
    }
    if (json_object_get(settings, "access_token") != NULL) {
        host->config_error(ctx, "access_token", NULL,
                           "only for auth: private_app (oauth instances get "
                           "their access tokens from the refresh_token)");
        return LH_CONFIG;
    }
    const char *client_id = lh_setting_string(settings, "client_id", NULL);
    if (client_id == NULL || client_id[0] == '\0') {
        host->config_error(ctx, "client_id", NULL, "required with auth: oauth");
        return LH_CONFIG;
    }
    hs->client_id = strdup(client_id);
    if (hs->client_id == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = secret_setting(hs, ctx, settings, "client_secret", &hs->client_secret);
    if (status == LH_OK) {
        status = secret_setting(hs, ctx, settings, "refresh_token", &hs->refresh_token);
    }
    if (status != LH_OK) {
        return status;
    }
    if (hs->client_secret == NULL) {
        host->config_error(ctx, "client_secret", NULL, "required with auth: oauth");
        return LH_CONFIG;
    }
    status = url_setting(hs, ctx, "token_url",
                         lh_setting_string(settings, "token_url", HUBSPOT_DEFAULT_TOKEN),
                         &hs->token_url);
    if (status != LH_OK) {
        return status;
    }
    hs->oauth =
        (lh_oauth2_t)LH_OAUTH2(.token_url = hs->token_url, .grant_type = "refresh_token",
                               .client_id = hs->client_id, .client_secret = hs->client_secret,
                               .refresh_token = hs->refresh_token);
    return LH_OK;
}

static lh_status_t init_webhook(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = hs->host;
    const json_t *secret = json_object_get(settings, "webhook_client_secret");
    const char *url = lh_setting_string(settings, "webhook_url", NULL);
    if (secret == NULL) {
        if (url != NULL) {
            host->config_error(ctx, "webhook_url", NULL,
                               "given without webhook_client_secret, so no "
                               "webhook could be verified; set both or neither");
            return LH_CONFIG;
        }
        return LH_OK;
    }
    if (url == NULL) {
        host->config_error(ctx, "webhook_url", NULL,
                           "required with webhook_client_secret: the exact URL "
                           "registered in HubSpot, which the v3 signature covers");
        return LH_CONFIG;
    }
    lh_status_t status = url_setting(hs, ctx, "webhook_url", url, &hs->webhook_url);
    if (status != LH_OK) {
        return status;
    }
    size_t count = json_is_array(secret) ? json_array_size(secret) : 1;
    hs->webhook_secrets = calloc(count > 0 ? count : 1, sizeof(*hs->webhook_secrets));
    if (hs->webhook_secrets == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *item = json_is_array(secret) ? json_array_get(secret, i) : secret;
        const char *text = json_string_value(item);
        if (text == NULL || text[0] == '\0' || strlen(text) != json_string_length(item)) {
            host->config_error(ctx, "webhook_client_secret", NULL,
                               "every value must be a non-empty string");
            return LH_CONFIG;
        }
        hs->webhook_secrets[hs->webhook_secret_count] = strdup(text);
        if (hs->webhook_secrets[hs->webhook_secret_count] == NULL) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        hs->webhook_secret_count++;
    }
    if (hs->webhook_secret_count == 0) {
        host->config_error(ctx, "webhook_client_secret", NULL, "give at least one value");
        return LH_CONFIG;
    }
    return LH_OK;
}

/* Adds field -> property to the mapping, replacing an entry for the same field. */
static int mapping_set(struct hubspot_mapping *mapping, const char *field, const char *property)
{
    for (size_t i = 0; i < mapping->field_count; i++) {
        if (strcmp(mapping->fields[i].field, field) == 0) {
            char *copy = strdup(property);
            if (copy == NULL) {
                return -1;
            }
            free(mapping->fields[i].property);
            mapping->fields[i].property = copy;
            return 0;
        }
    }
    struct hubspot_field *grown =
        realloc(mapping->fields, (mapping->field_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return -1;
    }
    mapping->fields = grown;
    char *f = strdup(field);
    char *p = strdup(property);
    if (f == NULL || p == NULL) {
        free(f);
        free(p);
        return -1;
    }
    mapping->fields[mapping->field_count++] = (struct hubspot_field){f, p};
    return 0;
}

static void mapping_remove(struct hubspot_mapping *mapping, const char *field)
{
    for (size_t i = 0; i < mapping->field_count; i++) {
        if (strcmp(mapping->fields[i].field, field) == 0) {
            free(mapping->fields[i].field);
            free(mapping->fields[i].property);
            memmove(&mapping->fields[i], &mapping->fields[i + 1],
                    (mapping->field_count - i - 1) * sizeof(mapping->fields[0]));
            mapping->field_count--;
            return;
        }
    }
}

static lh_status_t init_mapping(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = hs->host;
    struct hubspot_mapping *mapping = &hs->mapping;
    for (size_t i = 0; i < sizeof(default_fields) / sizeof(default_fields[0]); i++) {
        if (mapping_set(mapping, default_fields[i][0], default_fields[i][1]) != 0) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
    }
    const json_t *map = json_object_get(settings, "property_map");
    if (map != NULL && !json_is_null(map)) {
        if (!json_is_object(map)) {
            host->config_error(ctx, "property_map", NULL,
                               "must be an object of lead field -> HubSpot "
                               "contact property");
            return LH_CONFIG;
        }
        const char *field;
        const json_t *property;
        json_object_foreach((json_t *)map, field, property)
        {
            if (!lead_field_valid(field)) {
                host->config_error(ctx, "property_map", NULL,
                                   "\"%.64s\" is not a lead field (email, first_name, "
                                   "last_name, company, title, phone, linkedin_url or "
                                   "attributes.<name>)",
                                   field);
                return LH_CONFIG;
            }
            if (strcmp(field, "email") == 0) {
                if (!json_is_string(property) ||
                    strcmp(json_string_value(property), "email") != 0) {
                    host->config_error(ctx, "property_map", NULL,
                                       "email always maps to email: contacts "
                                       "are matched by it");
                    return LH_CONFIG;
                }
                continue;
            }
            if (json_is_null(property)) {
                mapping_remove(mapping, field);
                continue;
            }
            const char *name = json_string_value(property);
            if (!property_name_valid(name)) {
                host->config_error(ctx, "property_map", NULL,
                                   "%s must map to a HubSpot property's internal "
                                   "name (lowercase letters, digits, _) or null",
                                   field);
                return LH_CONFIG;
            }
            if (mapping_set(mapping, field, name) != 0) {
                host->set_error(ctx, "out of memory");
                return LH_RETRY;
            }
        }
    }
    const json_t *pulled = json_object_get(settings, "pull_properties");
    size_t count = json_array_size(pulled);
    mapping->pulled = calloc(count > 0 ? count : 1, sizeof(*mapping->pulled));
    if (mapping->pulled == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = json_string_value(json_array_get(pulled, i));
        if (!property_name_valid(name)) {
            host->config_error(ctx, "pull_properties", NULL,
                               "\"%.64s\" is not a HubSpot property's "
                               "internal name",
                               name != NULL ? name : "?");
            return LH_CONFIG;
        }
        mapping->pulled[mapping->pulled_count] = strdup(name);
        if (mapping->pulled[mapping->pulled_count] == NULL) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        mapping->pulled_count++;
    }
    return LH_OK;
}

static lh_status_t init_scores(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = hs->host;
    const json_t *scores = json_object_get(settings, "score_properties");
    hs->score_properties = json_object();
    if (hs->score_properties == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (scores == NULL || json_is_null(scores)) {
        return LH_OK;
    }
    if (!json_is_object(scores)) {
        host->config_error(ctx, "score_properties", NULL,
                           "must be an object of scorer name -> HubSpot "
                           "contact property");
        return LH_CONFIG;
    }
    const char *scorer;
    const json_t *property;
    json_object_foreach((json_t *)scores, scorer, property)
    {
        if (!property_name_valid(json_string_value(property))) {
            host->config_error(ctx, "score_properties", NULL,
                               "%.64s must map to a HubSpot property's internal "
                               "name (lowercase letters, digits, _)",
                               scorer);
            return LH_CONFIG;
        }
        if (json_object_set(hs->score_properties, scorer, (json_t *)property) != 0) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
    }
    return LH_OK;
}

static lh_status_t init_pull(struct hubspot *hs, lh_ctx_t *ctx, const json_t *settings)
{
    const json_t *pull = json_object_get(settings, "pull");
    size_t i;
    const json_t *item;
    json_array_foreach(pull, i, item)
    {
        const char *what = json_string_value(item);
        if (what != NULL && strcmp(what, "contacts") == 0) {
            hs->pull_contacts = true;
        } else if (what != NULL && strcmp(what, "deals") == 0) {
            hs->pull_deals = true;
        } else if (what != NULL && strcmp(what, "meetings") == 0) {
            hs->pull_meetings = true;
        } else {
            hs->host->config_error(ctx, "pull", NULL,
                                   "\"%.64s\" is not contacts, deals or meetings",
                                   what != NULL ? what : "?");
            return LH_CONFIG;
        }
    }
    return LH_OK;
}

/*
 * Reads the settings into a new state (*hs_out, NULL on failure), reporting what is wrong
 * with config_error(): shared by validate() and init(), so that what check-config accepts
 * init() accepts too. Each part is read even when another failed: every problem is
 * reported at once.
 */
static lh_status_t hubspot_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                struct hubspot **hs_out)
{
    *hs_out = NULL;
    struct hubspot *hs = calloc(1, sizeof(*hs));
    if (hs == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    hs->host = host;
    hs->batch_size = (size_t)lh_setting_int(settings, "batch_size", HUBSPOT_BATCH_MAX);
    if (hs->batch_size == 0 || hs->batch_size > HUBSPOT_BATCH_MAX) {
        hs->batch_size = HUBSPOT_BATCH_MAX;
    }
    hs->timeout_ms = lh_setting_int(settings, "timeout", 30000);
    hs->search_interval_ms = lh_setting_int(settings, "search_interval", 250);
    hs->backfill_ms = lh_setting_int(settings, "backfill", 0);
    const char *on_erased = lh_setting_string(settings, "on_erased", "gdpr_delete");
    hs->on_erased = strcmp(on_erased, "archive") == 0 ? HUBSPOT_ERASE_ARCHIVE
                    : strcmp(on_erased, "keep") == 0  ? HUBSPOT_ERASE_KEEP
                                                      : HUBSPOT_ERASE_GDPR_DELETE;
    lh_status_t statuses[6];
    statuses[0] = init_auth(hs, ctx, settings);
    statuses[1] =
        url_setting(hs, ctx, "api_base",
                    lh_setting_string(settings, "api_base", HUBSPOT_DEFAULT_BASE), &hs->api_base);
    statuses[2] = init_webhook(hs, ctx, settings);
    statuses[3] = init_mapping(hs, ctx, settings);
    statuses[4] = init_scores(hs, ctx, settings);
    statuses[5] = init_pull(hs, ctx, settings);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] != LH_OK) {
            hubspot_destroy(hs);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    *hs_out = hs;
    return LH_OK;
}

static lh_status_t hubspot_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct hubspot *hs = NULL;
    lh_status_t status = hubspot_load(ctx, host, settings, &hs);
    hubspot_destroy(hs);
    return status;
}

static lh_status_t hubspot_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                void **state_out)
{
    struct hubspot *hs = NULL;
    lh_status_t status = hubspot_load(ctx, host, settings, &hs);
    if (status != LH_OK) {
        return status;
    }
    host->set_batch_size(ctx, hs->batch_size);
    host->gauge_set(ctx, "hubspot_auth_failed", NULL, NULL, 0);
    *state_out = hs;
    return LH_OK;
}

/* What the poll emits: contacts, their records' deletions (privacy deletions as erasures)
 * and merges, deals, and meetings
 * read back with HubSpot's outcome (hubspot_meeting_json.c). */
static const char *const hubspot_event_types[] = {
    "lead.updated",      "lead.deleted",    "lead.merged",         "deal.stage_changed",
    "meeting.scheduled", "meeting.updated", "meeting.rescheduled", "meeting.canceled",
    "meeting.held",      "meeting.no_show", "lead.erased",         NULL};

/* A genuine webhook carries one of them (v1 and v2 only to be told they are refused). */
static const char *const hubspot_signature_headers[] = {"X-HubSpot-Signature-v3",
                                                        "X-HubSpot-Signature", NULL};

/* Installing the public app in an account is its consent (auth: oauth). HubSpot takes
 * PKCE; the URLs are settings so that a fake HubSpot can stand in. */
static const lh_oauth_provider_t hubspot_oauth_provider =
    LH_OAUTH_PROVIDER(.flags = LH_OAUTH_PKCE, .authorization_url = "{authorization_url}",
                      .token_url = "{token_url}", .scopes = "{scopes}");

static const lh_plugin_t hubspot_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE | LH_KIND_SINK,
    /* the webhook only records what to fetch, reading nothing init() did not build */
    .flags = LH_PLUGIN_ORDERED | LH_PLUGIN_WEBHOOK_CONCURRENT,
    .name = "hubspot",
    .version = "1.0.0",
    .description = "HubSpot CRM: contacts, meetings and scores in; contact and deal changes "
                   "out.",
    .config_schema = hubspot_schema,
    .event_types = hubspot_event_types,
    .webhook_signature_headers = hubspot_signature_headers,
    .validate = hubspot_validate,
    .init = hubspot_init,
    .destroy = hubspot_destroy,
    .poll = hubspot_poll,
    .webhook = hubspot_webhook,
    .deliver = hubspot_deliver,
    .deliver_batch = hubspot_deliver_batch,
    .oauth_provider = &hubspot_oauth_provider,
};

LH_PLUGIN_DECLARE(hubspot_plugin)
