/*
 * pipedrive.c - the Pipedrive CRM connector: descriptor, settings, init and destroy.
 *
 * A source and a sink (docs/connectors/pipedrive.md). As a sink it creates or updates
 * persons by email (leads, customers, payments as a label, scores as custom fields) and
 * records meetings as activities; as a source it polls organizations, persons and deals by
 * update time, emitting lead.updated and deal.stage_changed. Not reentrant: the callbacks
 * share the rate-limit wait and the stage cache, and the host never runs two at once. It
 * asks for per-lead order (LH_PLUGIN_ORDERED): a lead's update never overtakes its create,
 * a meeting's cancellation never its booking.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, explicit_bzero */
#endif

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipedrive.h"
#include "setting_values.h"

static const char *const auth_modes[] = {"api_token", "oauth", NULL};
static const char *const erasure_modes[] = {"delete", "keep", NULL};

static const lh_config_field_t pipedrive_schema[] = {
    LH_FIELD(.name = "auth", .type = LH_CONFIG_ENUM, .default_value = "api_token",
             .enum_values = auth_modes,
             .description = "api_token (a user's personal API token) or oauth (a Pipedrive "
                            "app's refresh token, exchanged for access tokens)."),
    LH_FIELD(.name = "api_token", .type = LH_CONFIG_SECRET,
             .description = "auth: api_token. The token sent as x-api-token (Personal "
                            "preferences > API)."),
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING,
             .description = "auth: oauth. The app's client id."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET,
             .description = "auth: oauth. The app's client secret."),
    LH_FIELD(.name = "refresh_token", .type = LH_CONFIG_SECRET,
             .description = "auth: oauth. A refresh token obtained outside leadhub; without it "
                            "the grant of `leadhubd connect` is used."),
    LH_FIELD(.name = "token_url", .type = LH_CONFIG_STRING,
             .default_value = PIPEDRIVE_DEFAULT_TOKEN,
             .description = "auth: oauth. The token endpoint (overridden in tests)."),
    LH_FIELD(.name = "authorization_url", .type = LH_CONFIG_STRING,
             .default_value = PIPEDRIVE_DEFAULT_AUTH,
             .description = "auth: oauth. Where `leadhubd connect` sends the browser to install "
                            "the app (overridden in tests)."),
    LH_FIELD(.name = "api_base", .type = LH_CONFIG_STRING, .default_value = PIPEDRIVE_DEFAULT_BASE,
             .description = "Base URL of Pipedrive's API: https://api.pipedrive.com, or the "
                            "company domain https://<company>.pipedrive.com."),
    LH_FIELD(.name = "customer_label_id", .type = LH_CONFIG_INT, .flags = LH_FIELD_HAS_MIN,
             .min = 1,
             .description = "The id of the person label that means customer: payment.succeeded "
                            "adds it to the buyer's person. Without it payments are refused."),
    LH_FIELD(.name = "field_map", .type = LH_CONFIG_JSON,
             .description = "Lead field -> person field: email, phone, org (the organization, by "
                            "name) or a custom field's 40-hex key; over the defaults email, "
                            "phone: phone, company: org; null drops a default. The name is "
                            "always built from first_name and last_name."),
    LH_FIELD(.name = "score_fields", .type = LH_CONFIG_JSON,
             .description = "Scorer name -> custom field key a lead.scored writes its score to."),
    LH_FIELD(.name = "on_erased", .type = LH_CONFIG_ENUM, .default_value = "delete",
             .enum_values = erasure_modes,
             .description = "What a lead.erased (the person asked to be forgotten) does to the "
                            "lead's person: delete (Pipedrive purges it after 30 days) or keep "
                            "(nothing: erasure is handled in Pipedrive by hand)."),
    LH_FIELD(.name = "pull", .type = LH_CONFIG_LIST,
             .default_value = "[persons, organizations, deals]",
             .description = "What poll() fetches: persons (lead.updated), organizations (their "
                            "names, for persons' company), deals (deal.stage_changed); [] for a "
                            "sink only."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "0s", .min = 0,
             .max = 3650LL * 24 * 3600 * 1000,
             .description = "How far back the first poll starts; 0 takes changes from the first "
                            "poll on."),
    LH_FIELD(.name = "page_size", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "100", .min = 1,
             .max = PIPEDRIVE_PAGE_MAX, .description = "Records per listed page (at most 500)."),
    LH_FIELD(.name = "timeout", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30s", .min = 100,
             .max = 300000, .description = "Whole-request timeout of each call to Pipedrive."),
    LH_FIELD_END,
};

static const char *const default_fields[][2] = {
    {"email", "email"}, {"phone", "phone"}, {"company", "org"}};

static const char *const lead_fields[] = {"email", "company",      "title",
                                          "phone", "linkedin_url", NULL};

static void wipe_free(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void mapping_free(struct pipedrive_mapping *mapping)
{
    for (size_t i = 0; i < mapping->count; i++) {
        free(mapping->fields[i].field);
        free(mapping->fields[i].key);
    }
    free(mapping->fields);
    memset(mapping, 0, sizeof(*mapping));
}

static void pipedrive_destroy(void *state)
{
    struct pipedrive *pd = state;
    if (pd == NULL) {
        return;
    }
    wipe_free(pd->api_token);
    wipe_free(pd->client_secret);
    wipe_free(pd->refresh_token);
    free(pd->client_id);
    free(pd->token_url);
    free(pd->authorization_url);
    free(pd->api_base);
    mapping_free(&pd->mapping);
    json_decref(pd->score_fields);
    json_decref(pd->stages);
    free(pd);
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
static lh_status_t url_setting(struct pipedrive *pd, lh_ctx_t *ctx, const char *key,
                               const char *value, char **out)
{
    const char *reason = NULL;
    enum setting_check check = setting_url(value, out, &reason); /* sets reason */
    return setting_result(pd->host, ctx, key, check, reason);
}

/* One secret setting as a copy (NULL when absent; setting_secret()). */
static lh_status_t secret_setting(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *settings,
                                  const char *key, char **out)
{
    const char *reason = NULL;
    enum setting_check check = setting_secret(json_object_get(settings, key), out, &reason);
    return setting_result(pd->host, ctx, key, check, reason);
}

static lh_status_t init_auth(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = pd->host;
    pd->auth = strcmp(lh_setting_string(settings, "auth", "api_token"), "oauth") == 0
                   ? PIPEDRIVE_AUTH_OAUTH
                   : PIPEDRIVE_AUTH_TOKEN;
    if (pd->auth == PIPEDRIVE_AUTH_TOKEN) {
        static const char *const oauth_keys[] = {"client_id", "client_secret", "refresh_token"};
        for (size_t i = 0; i < 3; i++) {
            if (json_object_get(settings, oauth_keys[i]) != NULL) {
                host->config_error(ctx, oauth_keys[i], NULL,
                                   "only for auth: oauth (this instance uses api_token)");
                return LH_CONFIG;
            }
        }
        lh_status_t status = secret_setting(pd, ctx, settings, "api_token", &pd->api_token);
        if (status == LH_OK && pd->api_token == NULL) {
            host->config_error(ctx, "api_token", "the user's API token, from ${ENV} or ${file:...}",
                               "required with auth: api_token");
            status = LH_CONFIG;
        }
        return status;
    }
    if (json_object_get(settings, "api_token") != NULL) {
        host->config_error(ctx, "api_token", NULL, "only for auth: api_token");
        return LH_CONFIG;
    }
    const char *client_id = lh_setting_string(settings, "client_id", NULL);
    if (client_id == NULL || client_id[0] == '\0') {
        host->config_error(ctx, "client_id", NULL, "required with auth: oauth");
        return LH_CONFIG;
    }
    pd->client_id = strdup(client_id);
    lh_status_t status = pd->client_id != NULL ? LH_OK : LH_RETRY;
    if (status == LH_OK) {
        status = secret_setting(pd, ctx, settings, "client_secret", &pd->client_secret);
    }
    if (status == LH_OK) {
        status = secret_setting(pd, ctx, settings, "refresh_token", &pd->refresh_token);
    }
    if (status == LH_OK && pd->client_secret == NULL) {
        host->config_error(ctx, "client_secret", NULL, "required with auth: oauth");
        status = LH_CONFIG;
    }
    if (status == LH_OK) {
        status = url_setting(pd, ctx, "token_url",
                             lh_setting_string(settings, "token_url", PIPEDRIVE_DEFAULT_TOKEN),
                             &pd->token_url);
    }
    if (status == LH_OK) {
        status =
            url_setting(pd, ctx, "authorization_url",
                        lh_setting_string(settings, "authorization_url", PIPEDRIVE_DEFAULT_AUTH),
                        &pd->authorization_url);
    }
    pd->oauth =
        (lh_oauth2_t)LH_OAUTH2(.token_url = pd->token_url, .grant_type = "refresh_token",
                               .client_id = pd->client_id, .client_secret = pd->client_secret,
                               .refresh_token = pd->refresh_token);
    return status;
}

/* A custom field key as Pipedrive makes them: 40 hex digits. */
static bool custom_key_valid(const char *key)
{
    if (key == NULL || strlen(key) != 40) {
        return false;
    }
    for (const char *p = key; *p != '\0'; p++) {
        if (!isxdigit((unsigned char)*p)) {
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

/* Sets field -> target (replacing the field's entry; a built-in target moves to the field). */
static int mapping_set(struct pipedrive_mapping *mapping, const char *field,
                       enum pipedrive_target target, const char *key)
{
    for (size_t i = 0; i < mapping->count; i++) {
        struct pipedrive_field *f = &mapping->fields[i];
        if (strcmp(f->field, field) == 0 || (target != PD_CUSTOM && f->target == target)) {
            free(f->field);
            free(f->key);
            memmove(f, f + 1, (mapping->count - i - 1) * sizeof(*f));
            mapping->count--;
            i--;
        }
    }
    if (target == PD_NAME_NONE) {
        return 0;
    }
    struct pipedrive_field *grown = realloc(mapping->fields, (mapping->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return -1;
    }
    mapping->fields = grown;
    char *f = strdup(field);
    char *k = key != NULL ? strdup(key) : NULL;
    if (f == NULL || (key != NULL && k == NULL)) {
        free(f);
        free(k);
        return -1;
    }
    mapping->fields[mapping->count++] = (struct pipedrive_field){f, target, k};
    return 0;
}

static enum pipedrive_target target_of(const char *name)
{
    return strcmp(name, "email") == 0   ? PD_EMAIL
           : strcmp(name, "phone") == 0 ? PD_PHONE
           : strcmp(name, "org") == 0   ? PD_ORG
                                        : PD_CUSTOM;
}

static lh_status_t init_mapping(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = pd->host;
    for (size_t i = 0; i < sizeof(default_fields) / sizeof(default_fields[0]); i++) {
        if (mapping_set(&pd->mapping, default_fields[i][0], target_of(default_fields[i][1]),
                        NULL) != 0) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
    }
    const json_t *map = json_object_get(settings, "field_map");
    if (map == NULL || json_is_null(map)) {
        return LH_OK;
    }
    if (!json_is_object(map)) {
        host->config_error(ctx, "field_map", NULL,
                           "must be an object of lead field -> person field");
        return LH_CONFIG;
    }
    const char *field;
    const json_t *value;
    json_object_foreach((json_t *)map, field, value)
    {
        if (!lead_field_valid(field)) {
            host->config_error(ctx, "field_map", NULL,
                               "\"%.64s\" is not a lead field this map takes (email, company, "
                               "title, phone, linkedin_url or attributes.<name>; the name comes "
                               "from first_name and last_name)",
                               field);
            return LH_CONFIG;
        }
        const char *name = json_string_value(value);
        if (strcmp(field, "email") == 0) {
            if (name == NULL || strcmp(name, "email") != 0) {
                host->config_error(ctx, "field_map", NULL,
                                   "email always maps to email: persons are matched by it");
                return LH_CONFIG;
            }
            continue;
        }
        enum pipedrive_target target = json_is_null(value) ? PD_NAME_NONE
                                       : name != NULL      ? target_of(name)
                                                           : PD_CUSTOM;
        if (target == PD_EMAIL || (target == PD_CUSTOM && !custom_key_valid(name))) {
            host->config_error(ctx, "field_map", NULL,
                               "%.64s must map to phone, org, a custom field's 40-hex key, or "
                               "null",
                               field);
            return LH_CONFIG;
        }
        if (mapping_set(&pd->mapping, field, target, target == PD_CUSTOM ? name : NULL) != 0) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
    }
    return LH_OK;
}

static lh_status_t init_scores(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *settings)
{
    const json_t *scores = json_object_get(settings, "score_fields");
    pd->score_fields = json_object();
    if (pd->score_fields == NULL) {
        pd->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (scores == NULL || json_is_null(scores)) {
        return LH_OK;
    }
    if (!json_is_object(scores)) {
        pd->host->config_error(ctx, "score_fields", NULL,
                               "must be an object of scorer name -> custom field key");
        return LH_CONFIG;
    }
    const char *scorer;
    const json_t *key;
    json_object_foreach((json_t *)scores, scorer, key)
    {
        if (!custom_key_valid(json_string_value(key))) {
            pd->host->config_error(ctx, "score_fields", NULL,
                                   "%.64s must map to a custom field's key (40 hex digits)",
                                   scorer);
            return LH_CONFIG;
        }
        json_object_set(pd->score_fields, scorer, (json_t *)key);
    }
    return LH_OK;
}

static lh_status_t init_pull(struct pipedrive *pd, lh_ctx_t *ctx, const json_t *settings)
{
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(settings, "pull"), i, item)
    {
        const char *what = json_string_value(item);
        if (what != NULL && strcmp(what, "persons") == 0) {
            pd->pull_persons = true;
        } else if (what != NULL && strcmp(what, "organizations") == 0) {
            pd->pull_organizations = true;
        } else if (what != NULL && strcmp(what, "deals") == 0) {
            pd->pull_deals = true;
        } else {
            pd->host->config_error(ctx, "pull", NULL,
                                   "\"%.64s\" is not persons, organizations or deals",
                                   what != NULL ? what : "?");
            return LH_CONFIG;
        }
    }
    return LH_OK;
}

/* Reads the settings into a new state (NULL on failure), reporting every problem: shared by
 * validate() and init(), so what check-config accepts init() accepts. */
static lh_status_t pipedrive_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  struct pipedrive **out)
{
    *out = NULL;
    struct pipedrive *pd = calloc(1, sizeof(*pd));
    if (pd == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    pd->host = host;
    pd->customer_label_id = lh_setting_int(settings, "customer_label_id", 0);
    pd->backfill_ms = lh_setting_int(settings, "backfill", 0);
    pd->page_size = lh_setting_int(settings, "page_size", 100);
    pd->timeout_ms = lh_setting_int(settings, "timeout", 30000);
    pd->keep_erased = strcmp(lh_setting_string(settings, "on_erased", "delete"), "keep") == 0;
    lh_status_t statuses[5];
    statuses[0] = init_auth(pd, ctx, settings);
    statuses[1] =
        url_setting(pd, ctx, "api_base",
                    lh_setting_string(settings, "api_base", PIPEDRIVE_DEFAULT_BASE), &pd->api_base);
    statuses[2] = init_mapping(pd, ctx, settings);
    statuses[3] = init_scores(pd, ctx, settings);
    statuses[4] = init_pull(pd, ctx, settings);
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] != LH_OK) {
            pipedrive_destroy(pd);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    *out = pd;
    return LH_OK;
}

static lh_status_t pipedrive_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct pipedrive *pd = NULL;
    lh_status_t status = pipedrive_load(ctx, host, settings, &pd);
    pipedrive_destroy(pd);
    return status;
}

static lh_status_t pipedrive_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  void **state_out)
{
    struct pipedrive *pd = NULL;
    lh_status_t status = pipedrive_load(ctx, host, settings, &pd);
    if (status == LH_OK) {
        *state_out = pd;
    }
    return status;
}

/* What the poll emits. */
static const char *const pipedrive_event_types[] = {"lead.updated", "deal.stage_changed", NULL};

/* Installing the app in a company is its consent (auth: oauth); the URLs are settings so
 * that a fake Pipedrive can stand in. */
static const lh_oauth_provider_t pipedrive_oauth_provider =
    LH_OAUTH_PROVIDER(.authorization_url = "{authorization_url}", .token_url = "{token_url}");

static const lh_plugin_t pipedrive_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE | LH_KIND_SINK,
    .flags = LH_PLUGIN_ORDERED,
    .name = "pipedrive",
    .version = "1.0.0",
    .description = "Pipedrive CRM: persons, payments and meetings in; person and deal changes "
                   "out.",
    .config_schema = pipedrive_schema,
    .event_types = pipedrive_event_types,
    .validate = pipedrive_validate,
    .init = pipedrive_init,
    .destroy = pipedrive_destroy,
    .poll = pipedrive_poll,
    .deliver = pipedrive_deliver,
    .oauth_provider = &pipedrive_oauth_provider,
};

LH_PLUGIN_DECLARE(pipedrive_plugin)
