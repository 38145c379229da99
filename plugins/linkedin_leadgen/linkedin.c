/*
 * linkedin.c - the `linkedin_leadgen` source: LinkedIn Lead Gen Forms. The descriptor, the
 * settings, init and destroy; linkedin.h lists the other files.
 *
 * Access comes by consent (`leadhubd connect`: 3-legged OAuth, scope
 * r_marketing_leadgen_automation); the host refreshes the token and, since LinkedIn's
 * refresh token keeps counting down its 365 days from the consent, reports the days left.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strdup, explicit_bzero */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkedin.h"
#include "setting_values.h"

#define ACCOUNT_URN "urn:li:sponsoredAccount:"
#define FORM_URN    "urn:li:leadGenForm:"

static const lh_config_field_t linkedin_schema[] = {
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "The LinkedIn app's client id (its Auth tab)."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET, .flags = LH_FIELD_REQUIRED,
             .description = "The app's client secret: for the OAuth token exchange, and the key "
                            "of the webhook challenge and X-LI-Signature."),
    LH_FIELD(.name = "ad_accounts", .type = LH_CONFIG_LIST,
             .flags = LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .min = 1, .max = 100,
             .description = "Sponsored ad account ids (508974412, or "
                            "urn:li:sponsoredAccount:508974412) whose leads are taken."),
    LH_FIELD(.name = "form_ids", .type = LH_CONFIG_LIST,
             .description = "Only the responses of these lead forms (ids); absent: every form."),
    LH_FIELD(.name = "linkedin_version", .type = LH_CONFIG_STRING, .default_value = "202511",
             .description = "The LinkedIn-Version header (YYYYMM). LinkedIn sunsets a version "
                            "about a year after its release: update it when told to."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30d", .min = 0,
             .max = 365.0 * 24 * 3600 * 1000,
             .description = "How far back the first poll reaches (LinkedIn keeps leads 365 days)."),
    LH_FIELD(.name = "overlap", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "10m", .min = 0,
             .max = 86400000,
             .description = "How far before the last poll's end each poll looks again, for "
                            "responses LinkedIn indexes late (ids already taken are skipped)."),
    LH_FIELD(.name = "page_size", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "100", .min = 1,
             .max = 1000, .description = "Responses asked for per page (count)."),
    LH_FIELD(.name = "include_test_leads", .type = LH_CONFIG_BOOL, .default_value = "false",
             .description = "Route test leads (Campaign Manager's test tool) like real ones. "
                            "They are always stored, flagged data.test: true."),
    LH_FIELD(.name = "notification_url", .type = LH_CONFIG_STRING,
             .description = "The public https URL of this instance's /webhooks/{instance}: lead "
                            "notifications are subscribed to it. Absent: poll only."),
    LH_FIELD(.name = "scopes", .type = LH_CONFIG_LIST,
             .default_value = "[r_marketing_leadgen_automation, r_ads]",
             .description = "The scopes consent asks for."),
    LH_FIELD(.name = "oauth_base", .type = LH_CONFIG_STRING,
             .default_value = LINKEDIN_DEFAULT_OAUTH,
             .description = "LinkedIn's OAuth base (its /authorization and /accessToken); "
                            "overridden in tests."),
    LH_FIELD(.name = "api_base", .type = LH_CONFIG_STRING, .default_value = LINKEDIN_DEFAULT_API,
             .description = "LinkedIn's REST API base; overridden in tests."),
    LH_FIELD(.name = "timeout", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30s", .min = 100,
             .max = 300000, .description = "Whole-request timeout of each call to LinkedIn."),
    LH_FIELD_END,
};

static void linkedin_destroy(void *state)
{
    struct linkedin *li = state;
    if (li == NULL) {
        return;
    }
    if (li->client_secret != NULL) {
        explicit_bzero(li->client_secret, strlen(li->client_secret));
        free(li->client_secret);
    }
    free(li->api_base);
    free(li->version);
    free(li->notification_url);
    for (size_t i = 0; i < li->owner_count; i++) {
        free(li->owners[i].param);
    }
    free(li->owners);
    if (li->form_ids != NULL) {
        for (char **f = li->form_ids; *f != NULL; f++) {
            free(*f);
        }
        free(li->form_ids);
    }
    json_decref(li->forms);
    free(li);
}

/* A base URL setting (setting_url(): http(s), a host, no credentials, query, fragment or
 * control characters); kept without its trailing '/'. */
static lh_status_t url_setting(struct linkedin *li, lh_ctx_t *ctx, const char *key,
                               const char *value, char **out)
{
    const char *reason = NULL;
    enum setting_check check =
        value != NULL && strlen(value) > 512 ? SETTING_REFUSED : setting_url(value, out, &reason);
    if (check == SETTING_NO_MEMORY) {
        return LH_RETRY;
    }
    if (check == SETTING_REFUSED) {
        li->host->config_error(ctx, key, NULL, "%s", reason != NULL ? reason : "is too long");
        return LH_CONFIG;
    }
    return LH_OK;
}

static lh_status_t load_owners(struct linkedin *li, lh_ctx_t *ctx, const json_t *settings)
{
    const json_t *accounts = json_object_get(settings, "ad_accounts");
    size_t count = json_array_size(accounts);
    li->owners = calloc(count > 0 ? count : 1, sizeof(*li->owners));
    if (li->owners == NULL) {
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    size_t i;
    const json_t *item;
    json_array_foreach(accounts, i, item)
    {
        char key[48];
        snprintf(key, sizeof(key), "ad_accounts[%zu]", i);
        struct linkedin_owner *owner = &li->owners[li->owner_count];
        if (!linkedin_parse_numeric_id(json_string_value(item), ACCOUNT_URN, owner->id)) {
            li->host->config_error(ctx, key, "the number in Campaign Manager's account URL",
                                   "must be an ad account id (digits, or "
                                   "urn:li:sponsoredAccount:<digits>)");
            status = LH_CONFIG;
            continue;
        }
        for (size_t k = 0; k < li->owner_count; k++) {
            if (strcmp(li->owners[k].id, owner->id) == 0) {
                li->host->config_error(ctx, key, NULL, "account %s is listed twice", owner->id);
                status = LH_CONFIG;
            }
        }
        owner->param = linkedin_owner_param(owner->id);
        if (owner->param == NULL) {
            return LH_RETRY;
        }
        li->owner_count++;
    }
    return status;
}

static lh_status_t load_forms(struct linkedin *li, lh_ctx_t *ctx, const json_t *settings)
{
    const json_t *forms = json_object_get(settings, "form_ids");
    if (forms == NULL) {
        return LH_OK;
    }
    li->form_ids = calloc(json_array_size(forms) + 1, sizeof(char *));
    if (li->form_ids == NULL) {
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    size_t i, used = 0;
    const json_t *item;
    json_array_foreach(forms, i, item)
    {
        char id[32];
        if (!linkedin_parse_numeric_id(json_string_value(item), FORM_URN, id)) {
            char key[48];
            snprintf(key, sizeof(key), "form_ids[%zu]", i);
            li->host->config_error(
                ctx, key, NULL, "must be a lead form id (digits, or urn:li:leadGenForm:<digits>)");
            status = LH_CONFIG;
            continue;
        }
        if ((li->form_ids[used++] = strdup(id)) == NULL) {
            return LH_RETRY;
        }
    }
    return status;
}

static lh_status_t load_version(struct linkedin *li, lh_ctx_t *ctx, const json_t *settings)
{
    const char *version = lh_setting_string(settings, "linkedin_version", "");
    bool ok = strlen(version) == 6;
    for (size_t i = 0; ok && i < 6; i++) {
        ok = version[i] >= '0' && version[i] <= '9';
    }
    int month = ok ? (version[4] - '0') * 10 + (version[5] - '0') : 0;
    if (!ok || month < 1 || month > 12) {
        li->host->config_error(ctx, "linkedin_version", "e.g. 202511",
                               "must be a LinkedIn API version, YYYYMM");
        return LH_CONFIG;
    }
    li->version = strdup(version);
    return li->version != NULL ? LH_OK : LH_RETRY;
}

/* Reads the settings into a new state: shared by validate() and init(), every problem
 * reported at once. */
static lh_status_t linkedin_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                 struct linkedin **out)
{
    *out = NULL;
    struct linkedin *li = calloc(1, sizeof(*li));
    if (li == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    li->host = host;
    li->backfill_ms = lh_setting_int(settings, "backfill", 30LL * LINKEDIN_DAY_MS);
    li->overlap_ms = lh_setting_int(settings, "overlap", 600000);
    li->timeout_ms = lh_setting_int(settings, "timeout", 30000);
    li->page_size = (int)lh_setting_int(settings, "page_size", 100);
    li->include_test_leads = lh_setting_bool(settings, "include_test_leads", 0);
    li->forms = json_object();
    const char *secret = lh_setting_string(settings, "client_secret", NULL);
    li->client_secret = secret != NULL ? strdup(secret) : NULL;
    li->oauth = (lh_oauth2_t)LH_OAUTH2(.grant_type = "refresh_token");
    lh_status_t statuses[5];
    statuses[0] = load_owners(li, ctx, settings);
    statuses[1] = load_forms(li, ctx, settings);
    statuses[2] = load_version(li, ctx, settings);
    statuses[3] =
        url_setting(li, ctx, "api_base",
                    lh_setting_string(settings, "api_base", LINKEDIN_DEFAULT_API), &li->api_base);
    statuses[4] = LH_OK;
    const char *notification_url = lh_setting_string(settings, "notification_url", NULL);
    if (notification_url != NULL) {
        statuses[4] =
            url_setting(li, ctx, "notification_url", notification_url, &li->notification_url);
    }
    if (li->forms == NULL || li->client_secret == NULL) {
        statuses[4] = LH_RETRY;
    }
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        if (statuses[i] != LH_OK) {
            if (statuses[i] == LH_RETRY) {
                host->set_error(ctx, "out of memory");
            }
            linkedin_destroy(li);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    *out = li;
    return LH_OK;
}

static lh_status_t linkedin_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct linkedin *li = NULL;
    lh_status_t status = linkedin_load(ctx, host, settings, &li);
    linkedin_destroy(li);
    return status;
}

static lh_status_t linkedin_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                 void **state_out)
{
    struct linkedin *li = NULL;
    lh_status_t status = linkedin_load(ctx, host, settings, &li);
    if (status == LH_OK) {
        *state_out = li;
    }
    return status;
}

static const char *const linkedin_event_types[] = {"lead.created", "lead.erased", NULL};

static const char *const linkedin_signature_headers[] = {"X-LI-Signature", NULL};

/* No extra authorization parameters: LinkedIn's consent screen takes none. */
static const char *const linkedin_authorization_params[] = {NULL};

/* 3-legged OAuth; LinkedIn's web flow takes no PKCE. */
static const lh_oauth_provider_t linkedin_oauth_provider =
    LH_OAUTH_PROVIDER(.authorization_url = "{oauth_base}/authorization",
                      .token_url = "{oauth_base}/accessToken", .scopes = "{scopes}",
                      .authorization_params = linkedin_authorization_params);

static const lh_plugin_t linkedin_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    /* the webhook answers challenges and records notifications from init()'s state only */
    .flags = LH_PLUGIN_WEBHOOK_GET | LH_PLUGIN_WEBHOOK_CONCURRENT,
    .name = "linkedin_leadgen",
    .version = "1.0.0",
    .description = "LinkedIn Lead Gen Forms: every response a campaign collects, as a lead.",
    .config_schema = linkedin_schema,
    .event_types = linkedin_event_types,
    .webhook_signature_headers = linkedin_signature_headers,
    .validate = linkedin_validate,
    .init = linkedin_init,
    .destroy = linkedin_destroy,
    .poll = linkedin_poll,
    .webhook = linkedin_webhook,
    .oauth_provider = &linkedin_oauth_provider,
};

LH_PLUGIN_DECLARE(linkedin_plugin)
