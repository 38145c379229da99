/*
 * google.c - the `google` source: Gmail and Google Calendar of one mailbox. The
 * descriptor, the settings, init and destroy; google.h lists the other files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "mail_address.h"

static const char *const emitted_types[] = {
    "email.received",    "email.sent",      "email.replied",    "email.bounced",
    "meeting.scheduled", "meeting.updated", "meeting.canceled", NULL,
};

static const lh_config_field_t google_schema[] = {
    LH_FIELD(.name = "mailbox", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "The mailbox this instance reads (its address): never a lead; its "
                            "domain is internal unless internal_domains says otherwise."),
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING,
             .description = "OAuth client id of the Google Cloud project (per-user consent: "
                            "`leadhubd connect INSTANCE`)."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET,
             .description = "OAuth client secret of that client."),
    LH_FIELD(.name = "refresh_token", .type = LH_CONFIG_SECRET,
             .description = "A refresh token obtained outside leadhub; without it the grant "
                            "stored by `leadhubd connect` is used."),
    LH_FIELD(.name = "service_account_key", .type = LH_CONFIG_SECRET,
             .description = "Workspace domain-wide delegation: the service account's JSON key "
                            "file; the host signs its assertions (sub = mailbox) and the key is "
                            "never logged. Excludes client_id and refresh_token."),
    LH_FIELD(.name = "scopes", .type = LH_CONFIG_LIST,
             .default_value = "[https://www.googleapis.com/auth/gmail.metadata, "
                              "https://www.googleapis.com/auth/calendar.readonly]",
             .description = "The scopes consent asks for. gmail.metadata reads headers (all "
                            "this connector needs); gmail.readonly also allows snippets."),
    LH_FIELD(.name = "gmail", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "Read Gmail: email.received, email.sent, email.replied, "
                            "email.bounced."),
    LH_FIELD(.name = "calendar", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "Read Google Calendar: meeting.scheduled, meeting.updated, "
                            "meeting.canceled."),
    LH_FIELD(.name = "calendar_ids", .type = LH_CONFIG_LIST, .default_value = "[primary]",
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .min = 1, .max = 50,
             .description = "The calendars read."),
    LH_FIELD(.name = "internal_domains", .type = LH_CONFIG_LIST,
             .description = "Domains whose people are colleagues, never prospects (default: "
                            "the mailbox's domain)."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30d", .min = 0,
             .max = 31536000000.0,
             .description = "How far back the first sync, and a full resync after Google "
                            "forgets the history position, read mail and meetings."),
    LH_FIELD(.name = "include_snippet", .type = LH_CONFIG_BOOL, .default_value = "false",
             .description = "Keep Gmail's snippet (the start of the body) in email events. "
                            "Off: headers and ids only."),
    LH_FIELD(.name = "push_token", .type = LH_CONFIG_SECRET, .flags = LH_FIELD_HAS_MIN, .min = 16,
             .description = "The secret in the Pub/Sub push URL (?token=) and the Calendar "
                            "channel token. Without it pushes are refused and only the poll "
                            "runs."),
    LH_FIELD(.name = "push_audience", .type = LH_CONFIG_STRING,
             .description = "OIDC-authenticated Pub/Sub push: the audience set on the push "
                            "subscription; a push carrying a Bearer token must be signed by "
                            "Google for it (RS256, issuer and expiry checked)."),
    LH_FIELD(.name = "push_service_account", .type = LH_CONFIG_STRING,
             .description = "OIDC push: the service account the subscription signs as; its "
                            "token's email must be this one (default: any Google-signed)."),
    LH_FIELD(.name = "oidc_certs_url", .type = LH_CONFIG_STRING,
             .default_value = GOOGLE_DEFAULT_CERTS_URL,
             .description = "Where Google publishes the keys of its identity tokens; change it "
                            "only for a test server."),
    LH_FIELD(.name = "pubsub_topic", .type = LH_CONFIG_STRING,
             .description = "projects/<project>/topics/<topic> for Gmail push: the poll calls "
                            "users.watch on it daily. Without it Gmail is only polled."),
    LH_FIELD(.name = "calendar_push_url", .type = LH_CONFIG_STRING,
             .description = "The public https address of POST /webhooks/<instance> for Calendar "
                            "channels (events.watch, renewed before they expire; needs "
                            "push_token). Without it calendars are only polled."),
    LH_FIELD(.name = "quota_per_minute", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "15000", .min = 60,
             .max = 10000000,
             .description = "Gmail quota units this mailbox may spend per minute (Google's "
                            "per-user limit); requests are paced to stay under it."),
    LH_FIELD(.name = "message_get_cost", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "5", .min = 1,
             .max = 100, .description = "Quota units of one messages.get (Google's table: 5)."),
    LH_FIELD(.name = "authorization_url", .type = LH_CONFIG_STRING,
             .default_value = GOOGLE_DEFAULT_AUTH_URL,
             .description = "Google's consent screen; change it only for a test server."),
    LH_FIELD(.name = "token_url", .type = LH_CONFIG_STRING,
             .default_value = GOOGLE_DEFAULT_TOKEN_URL,
             .description = "Google's token endpoint; change it only for a test server."),
    LH_FIELD(.name = "gmail_api_base", .type = LH_CONFIG_STRING,
             .default_value = GOOGLE_DEFAULT_GMAIL_BASE,
             .description = "Base URL of the Gmail API; change it only for a test server."),
    LH_FIELD(.name = "calendar_api_base", .type = LH_CONFIG_STRING,
             .default_value = GOOGLE_DEFAULT_CAL_BASE,
             .description = "Base URL of the Calendar API (…/calendar/v3); change it only for "
                            "a test server."),
    LH_FIELD_END,
};

static const char *const authorization_params[] = {"access_type=offline", "prompt=consent",
                                                   "include_granted_scopes=true", NULL};

static const lh_oauth_provider_t google_oauth_provider =
    LH_OAUTH_PROVIDER(.authorization_url = "{authorization_url}", .token_url = "{token_url}",
                      .scopes = "{scopes}", .authorization_params = authorization_params);

static void free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void free_list(char **items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(items[i]);
    }
    free(items);
}

static void google_destroy(void *state)
{
    struct google *g = state;
    if (g == NULL) {
        return;
    }
    free(g->mailbox);
    free_list(g->internal_domains, g->internal_domain_count);
    free_list(g->calendar_ids, g->calendar_id_count);
    free_list(g->aliases, g->alias_count);
    free_secret(g->push_token);
    free(g->pubsub_topic);
    free(g->sa_email);
    free_secret(g->sa_private_key);
    free(g->scope);
    free(g->push_audience);
    free(g->push_service_account);
    free(g->oidc_certs_url);
    free(g->calendar_push_url);
    free_secret((char *)g->oauth.refresh_token);
    free(g->gmail_base);
    free(g->calendar_base);
    free(g->token_url);
    free(g);
}

/* A copy of a list setting's strings; -1 when out of memory. */
static int copy_list(const json_t *list, char ***items_out, size_t *count_out)
{
    size_t n = json_array_size(list);
    *items_out = NULL;
    *count_out = 0;
    if (n == 0) {
        return 0;
    }
    char **items = calloc(n, sizeof(*items));
    if (items == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = strdup(json_string_value(json_array_get(list, i)));
        if (items[i] == NULL) {
            free_list(items, i);
            return -1;
        }
    }
    *items_out = items;
    *count_out = n;
    return 0;
}

static bool is_http_url(const char *url)
{
    return url != NULL && (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
}

/* A base URL without its trailing slashes (malloc'd), or NULL after reporting. */
static char *base_url(const lh_host_t *host, lh_ctx_t *ctx, const json_t *settings, const char *key,
                      bool *bad)
{
    const char *value = lh_setting_string(settings, key, "");
    if (!is_http_url(value)) {
        host->config_error(ctx, key, NULL, "must be an http(s) URL");
        *bad = true;
        return NULL;
    }
    char *copy = strdup(value);
    if (copy == NULL) {
        *bad = true;
        return NULL;
    }
    size_t len = strlen(copy);
    while (len > 0 && copy[len - 1] == '/') {
        copy[--len] = '\0';
    }
    return copy;
}

#define JWT_BEARER_GRANT "urn:ietf:params:oauth:grant-type:jwt-bearer"

/* Domain-wide delegation: the service account's JSON key (client_email, private_key) and
 * the scopes its assertion asks for. Never quotes the key in a reason. */
static lh_status_t read_service_account(struct google *g, lh_ctx_t *ctx, const json_t *settings,
                                        const json_t *key_setting)
{
    const lh_host_t *host = g->host;
    if (!LH_HOST_HAS(host, jwt_verify)) {
        host->config_error(ctx, "service_account_key", "upgrade leadhub",
                           "domain-wide delegation needs a leadhub of SDK 2.1");
        return LH_CONFIG;
    }
    const char *text = json_string_value(key_setting);
    json_t *key = text != NULL ? json_loads(text, 0, NULL) : NULL;
    const char *email = json_string_value(json_object_get(key, "client_email"));
    const char *pem = json_string_value(json_object_get(key, "private_key"));
    lh_status_t status = LH_OK;
    if (email == NULL || pem == NULL || strstr(pem, "PRIVATE KEY-----") == NULL) {
        host->config_error(ctx, "service_account_key",
                           "give the JSON key file Google made for the service account: "
                           "${file:/run/secrets/google-sa.json}",
                           "is not a service account key (client_email and private_key)");
        status = LH_CONFIG;
    } else if (json_object_get(settings, "client_id") != NULL ||
               json_object_get(settings, "refresh_token") != NULL) {
        host->config_error(ctx, "service_account_key", "keep one of the two",
                           "delegation and per-user consent (client_id, refresh_token) "
                           "exclude each other");
        status = LH_CONFIG;
    } else if ((g->sa_email = strdup(email)) == NULL || (g->sa_private_key = strdup(pem)) == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
    }
    json_decref(key); /* jansson's copy of the key is not wiped: its allocator is libc's */
    if (status != LH_OK) {
        return status;
    }
    size_t size = 1;
    const json_t *scopes = json_object_get(settings, "scopes");
    for (size_t i = 0; i < json_array_size(scopes); i++) {
        size += strlen(json_string_value(json_array_get(scopes, i))) + 1;
    }
    g->scope = calloc(1, size);
    if (g->scope == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < json_array_size(scopes); i++) {
        if (i > 0) {
            strcat(g->scope, " ");
        }
        strcat(g->scope, json_string_value(json_array_get(scopes, i)));
    }
    return LH_OK;
}

/* Reads the settings into g, reporting every problem with config_error(). */
static lh_status_t google_read_settings(struct google *g, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = g->host;
    bool bad = false;
    const char *mailbox = lh_setting_string(settings, "mailbox", "");
    g->mailbox = mail_address_normalize(mailbox, strlen(mailbox));
    if (g->mailbox == NULL) {
        host->config_error(ctx, "mailbox", NULL, "must be one email address");
        bad = true;
    }
    g->gmail = lh_setting_bool(settings, "gmail", 1);
    g->calendar = lh_setting_bool(settings, "calendar", 1);
    if (!g->gmail && !g->calendar) {
        host->config_error(ctx, "gmail", "set gmail or calendar to true",
                           "gmail and calendar are both off: nothing to read");
        bad = true;
    }
    const json_t *key_setting = json_object_get(settings, "service_account_key");
    if (key_setting != NULL) {
        lh_status_t status = read_service_account(g, ctx, settings, key_setting);
        if (status == LH_RETRY) {
            return status;
        }
        bad = bad || status != LH_OK;
    } else if (json_object_get(settings, "client_id") == NULL) {
        host->config_error(ctx, "client_id", "or service_account_key for domain-wide delegation",
                           "required (the OAuth client of the project)");
        bad = true;
    }
    if (copy_list(json_object_get(settings, "calendar_ids"), &g->calendar_ids,
                  &g->calendar_id_count) != 0 ||
        copy_list(json_object_get(settings, "internal_domains"), &g->internal_domains,
                  &g->internal_domain_count) != 0) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < g->calendar_id_count; i++) {
        if (g->calendar_ids[i][0] == '\0' || strlen(g->calendar_ids[i]) > 200) {
            host->config_error(ctx, "calendar_ids", NULL, "a calendar id is empty or too long");
            bad = true;
        }
    }
    if (g->internal_domain_count == 0 && g->mailbox != NULL) {
        g->internal_domains = calloc(1, sizeof(*g->internal_domains));
        if (g->internal_domains == NULL ||
            (g->internal_domains[0] = strdup(mail_address_domain(g->mailbox))) == NULL) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        g->internal_domain_count = 1;
    }
    g->backfill_ms = (int64_t)lh_setting_int(settings, "backfill", 30LL * 86400000);
    g->include_snippet = lh_setting_bool(settings, "include_snippet", 0);
    g->message_get_cost = (int)lh_setting_int(settings, "message_get_cost", 5);
    const char *push = lh_setting_string(settings, "push_token", NULL);
    if (json_is_array(json_object_get(settings, "push_token"))) {
        host->config_error(ctx, "push_token", NULL, "give one token");
        bad = true;
    } else if (push != NULL && (g->push_token = strdup(push)) == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    const char *audience = lh_setting_string(settings, "push_audience", NULL);
    const char *account = lh_setting_string(settings, "push_service_account", NULL);
    if (audience != NULL && !LH_HOST_HAS(host, jwt_verify)) {
        host->config_error(ctx, "push_audience", "upgrade leadhub, or use push_token",
                           "this leadhub cannot verify Google's tokens (needs ABI 2.1)");
        bad = true;
    } else if ((audience != NULL && (g->push_audience = strdup(audience)) == NULL) ||
               (account != NULL && (g->push_service_account = strdup(account)) == NULL)) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (account != NULL && audience == NULL) {
        host->config_error(ctx, "push_service_account", "set push_audience too",
                           "is only checked on OIDC pushes");
        bad = true;
    }
    g->oidc_certs_url = base_url(host, ctx, settings, "oidc_certs_url", &bad);
    const char *topic = lh_setting_string(settings, "pubsub_topic", NULL);
    if (topic != NULL && strncmp(topic, "projects/", 9) != 0) {
        host->config_error(ctx, "pubsub_topic", NULL,
                           "must be a topic's full name: projects/<project>/topics/<topic>");
        bad = true;
    } else if (topic != NULL && (g->pubsub_topic = strdup(topic)) == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    const char *push_url = lh_setting_string(settings, "calendar_push_url", NULL);
    if (push_url != NULL && !is_http_url(push_url)) {
        host->config_error(ctx, "calendar_push_url", NULL, "must be an http(s) URL");
        bad = true;
    } else if (push_url != NULL && g->push_token == NULL) {
        host->config_error(ctx, "push_token", "set push_token (16 bytes or more)",
                           "calendar_push_url needs a channel token");
        bad = true;
    } else if (push_url != NULL && (g->calendar_push_url = strdup(push_url)) == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    const char *refresh = lh_setting_string(settings, "refresh_token", NULL);
    if (refresh != NULL && (g->oauth.refresh_token = strdup(refresh)) == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    g->gmail_base = base_url(host, ctx, settings, "gmail_api_base", &bad);
    g->calendar_base = base_url(host, ctx, settings, "calendar_api_base", &bad);
    g->token_url = base_url(host, ctx, settings, "token_url", &bad);
    if (!is_http_url(lh_setting_string(settings, "authorization_url", ""))) {
        host->config_error(ctx, "authorization_url", NULL, "must be an http(s) URL");
        bad = true;
    }
    if (bad) {
        return LH_CONFIG;
    }
    if (g->sa_private_key != NULL) {
        /* the host signs {iss, sub: the mailbox, aud, scope} with the key (ABI 2.1) */
        g->oauth = (lh_oauth2_t)LH_OAUTH2(.token_url = g->token_url, .grant_type = JWT_BEARER_GRANT,
                                          .scope = g->scope, .assertion_key = g->sa_private_key,
                                          .assertion_issuer = g->sa_email,
                                          .assertion_subject = g->mailbox);
    } else {
        g->oauth = (lh_oauth2_t)LH_OAUTH2(.token_url = g->token_url, .grant_type = "refresh_token",
                                          .refresh_token = g->oauth.refresh_token);
    }
    return LH_OK;
}

static lh_status_t google_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct google *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return LH_RETRY;
    }
    g->host = host;
    lh_status_t status = google_read_settings(g, ctx, settings);
    google_destroy(g);
    return status;
}

static lh_status_t google_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                               void **state_out)
{
    struct google *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return LH_RETRY;
    }
    g->host = host;
    *state_out = g;
    lh_status_t status = google_read_settings(g, ctx, settings);
    if (status != LH_OK) {
        return status;
    }
    double per_minute = (double)lh_setting_int(settings, "quota_per_minute", 15000);
    google_quota_init(&g->quota, per_minute / 60.0, host->now_ms(ctx));
    return LH_OK;
}

bool google_is_own_address(const struct google *g, const char *address)
{
    if (mail_address_same(address, g->mailbox)) {
        return true;
    }
    for (size_t i = 0; i < g->alias_count; i++) {
        if (mail_address_same(address, g->aliases[i])) {
            return true;
        }
    }
    return false;
}

/* Gmail first (the replies), then the calendars; a failed Gmail pass keeps what the
 * calendars would add for the next poll, since the whole poll is one transaction. */
static lh_status_t google_poll(void *state, lh_ctx_t *ctx)
{
    struct google *g = state;
    /* pushes only say that something changed: this poll reads everything from the stored
     * positions, so the notifications it takes are done when it commits */
    json_t *pending = NULL;
    lh_status_t status = g->host->notifications_take(ctx, 1000, &pending);
    json_decref(pending);
    if (status != LH_OK) {
        return status;
    }
    if (g->gmail) {
        status = google_gmail_poll(g, ctx);
    }
    if (status == LH_OK && g->calendar && !g->host->should_stop(ctx)) {
        status = google_calendar_poll(g, ctx);
    }
    if (status == LH_OK && !g->host->should_stop(ctx)) {
        status = google_watch_renew(g, ctx);
    }
    return status;
}

static const lh_plugin_t google_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .flags = LH_PLUGIN_WEBHOOK_CONCURRENT,
    .name = "google",
    .version = "0.1.0",
    .description = "Gmail and Google Calendar of one mailbox: replies, sent mail, bounces and "
                   "meetings with prospects.",
    .config_schema = google_schema,
    .event_types = emitted_types,
    .validate = google_validate,
    .init = google_init,
    .destroy = google_destroy,
    .poll = google_poll,
    .webhook = google_webhook,
    .oauth_provider = &google_oauth_provider,
};

LH_PLUGIN_DECLARE(google_plugin)
