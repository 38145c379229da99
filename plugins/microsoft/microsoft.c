/*
 * microsoft.c - the `microsoft` source: Outlook mail and calendar through Microsoft Graph,
 * one instance per mailbox (delegated consent) or per list of mailboxes (app-only). The
 * descriptor, the settings, init and destroy; microsoft.h lists the other files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microsoft.h"

#define DELEGATED_SCOPES "offline_access Mail.Read Calendars.Read User.Read"
#define APP_SCOPE        "https://graph.microsoft.com/.default"
#define CLIENT_STATE_MAX 128

static const char *const emitted_types[] = {
    "email.received",    "email.sent",      "email.replied",    "email.bounced",
    "meeting.scheduled", "meeting.updated", "meeting.canceled", NULL,
};

static const char *const auth_modes[] = {"app", "delegated", NULL};

static const lh_config_field_t microsoft_schema[] = {
    LH_FIELD(.name = "tenant", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "Directory (tenant) id or domain, e.g. contoso.onmicrosoft.com."),
    LH_FIELD(.name = "client_id", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "Application (client) id of the app registration."),
    LH_FIELD(.name = "client_secret", .type = LH_CONFIG_SECRET,
             .description = "A client secret of the app registration (required for app-only; "
                            "delegated consent uses it too when set)."),
    LH_FIELD(.name = "auth", .type = LH_CONFIG_ENUM, .flags = LH_FIELD_REQUIRED,
             .enum_values = auth_modes,
             .description = "app: client credentials over `mailboxes` (admin consent of "
                            "application permissions); delegated: one user's `mailbox`, "
                            "consented with `leadhubd connect`."),
    LH_FIELD(.name = "mailboxes", .type = LH_CONFIG_LIST, .flags = LH_FIELD_HAS_MAX, .max = 500,
             .description = "User principal names read with auth: app."),
    LH_FIELD(.name = "mailbox", .type = LH_CONFIG_STRING,
             .description = "The consenting user's principal name, with auth: delegated."),
    LH_FIELD(.name = "mail", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "Read Inbox and Sent Items (email.* events)."),
    LH_FIELD(.name = "calendar", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "Read the primary calendar (meeting.* events)."),
    LH_FIELD(.name = "calendar_window_past", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "30d", .min = 0,
             .max = 31536000000.0,
             .description = "How far back the calendar window reaches (rolled daily)."),
    LH_FIELD(.name = "calendar_window_future", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "90d", .min = 86400000,
             .max = 63072000000.0, .description = "How far ahead the calendar window reaches."),
    LH_FIELD(.name = "backfill", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "14d", .min = 0,
             .max = 31536000000.0,
             .description = "How far back the first mail sync reaches (receivedDateTime)."),
    LH_FIELD(.name = "internal_domains", .type = LH_CONFIG_LIST,
             .description = "Domains of the organization's own people; default: the mailboxes' "
                            "domains."),
    LH_FIELD(.name = "notification_url", .type = LH_CONFIG_STRING,
             .description = "Public https URL of /webhooks/{instance}; without it the plugin "
                            "polls only."),
    LH_FIELD(.name = "client_state", .type = LH_CONFIG_SECRET,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .min = 16, .max = CLIENT_STATE_MAX,
             .description = "Secret sent with every subscription and checked on every "
                            "notification (required with notification_url)."),
    LH_FIELD(.name = "login_base", .type = LH_CONFIG_STRING, .default_value = MS_DEFAULT_LOGIN_BASE,
             .description = "Microsoft identity platform base URL (a test server may stand in)."),
    LH_FIELD(.name = "graph_api_base", .type = LH_CONFIG_STRING,
             .default_value = MS_DEFAULT_GRAPH_BASE,
             .description = "Microsoft Graph base URL (a test server may stand in)."),
    LH_FIELD(.name = "page_size", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "50", .min = 1,
             .max = 1000, .description = "Prefer: odata.maxpagesize for delta pages."),
    LH_FIELD(.name = "request_budget", .type = LH_CONFIG_INT,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "10000", .min = 10,
             .max = 100000,
             .description = "Graph's requests per mailbox per request_budget_window (Outlook: "
                            "10,000 per 10 minutes); the plugin spends 95% of it."),
    LH_FIELD(.name = "request_budget_window", .type = LH_CONFIG_DURATION,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "10m", .min = 1000,
             .max = 86400000, .description = "The window of request_budget."),
    LH_FIELD_END,
};

static void free_secret(char *secret)
{
    if (secret != NULL) {
        explicit_bzero(secret, strlen(secret));
        free(secret);
    }
}

static void microsoft_destroy(void *state)
{
    struct microsoft *ms = state;
    if (ms == NULL) {
        return;
    }
    for (size_t i = 0; i < ms->mailbox_count; i++) {
        free(ms->mailboxes[i].address);
        free(ms->mailboxes[i].path);
        free(ms->mailboxes[i].sent);
    }
    free(ms->mailboxes);
    for (size_t i = 0; i < ms->internal_domain_count; i++) {
        free(ms->internal_domains[i]);
    }
    free(ms->internal_domains);
    free(ms->graph_base);
    free(ms->token_url);
    free(ms->notification_url);
    free_secret(ms->client_state);
    free(ms);
}

/* An http(s) URL without spaces, control characters, credentials or fragment. */
static bool url_ok(const char *url, bool allow_query)
{
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    if (scheme == 0 || url[scheme] == '\0' || url[scheme] == '/') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '#' || (!allow_query && *p == '?')) {
            return false;
        }
    }
    size_t authority = strcspn(url + scheme, "/?");
    return memchr(url + scheme, '@', authority) == NULL;
}

static bool address_ok(const char *address)
{
    const char *at = address != NULL ? strchr(address, '@') : NULL;
    if (at == NULL || at == address || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++) {
        if (*p <= 0x20 || *p == 0x7f || *p == '/' || *p == '?' || *p == '#') {
            return false;
        }
    }
    return true;
}

static lh_status_t add_mailbox(struct microsoft *ms, lh_ctx_t *ctx, const char *key,
                               const char *address)
{
    const lh_host_t *host = ms->host;
    if (!address_ok(address)) {
        host->config_error(ctx, key, "give a user principal name such as maya@contoso.com",
                           "is not a mailbox address");
        return LH_CONFIG;
    }
    struct ms_mailbox *m = &ms->mailboxes[ms->mailbox_count];
    m->address = ms_lower_dup(address);
    char *encoded = m->address != NULL ? ms_url_encode(m->address) : NULL;
    size_t size = encoded != NULL ? strlen(encoded) + 8 : 0;
    m->path = encoded != NULL ? malloc(size) : NULL;
    m->sent = calloc(ms->budget, sizeof(*m->sent));
    if (m->path == NULL || m->sent == NULL) {
        free(encoded);
        free(m->address);
        free(m->path);
        free(m->sent);
        memset(m, 0, sizeof(*m));
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    snprintf(m->path, size, "/users/%s", encoded);
    free(encoded);
    ms_hash_key(m->address, NULL, m->key);
    for (size_t i = 0; i < ms->mailbox_count; i++) {
        if (strcmp(ms->mailboxes[i].address, m->address) == 0) {
            host->config_error(ctx, key, NULL, "mailbox %s is listed twice", m->address);
            free(m->address);
            free(m->path);
            free(m->sent);
            memset(m, 0, sizeof(*m));
            return LH_CONFIG;
        }
    }
    ms->mailbox_count++;
    return LH_OK;
}

static lh_status_t init_mailboxes(struct microsoft *ms, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = ms->host;
    const json_t *list = json_object_get(settings, "mailboxes");
    const char *single = lh_setting_string(settings, "mailbox", NULL);
    if (ms->app_only) {
        if (single != NULL) {
            host->config_error(ctx, "mailbox", "list them in `mailboxes`",
                               "is for auth: delegated");
            return LH_CONFIG;
        }
        if (json_array_size(list) == 0) {
            host->config_error(ctx, "mailboxes", NULL,
                               "auth: app needs at least one mailbox to read");
            return LH_CONFIG;
        }
    } else {
        if (list != NULL) {
            host->config_error(ctx, "mailboxes", "give the consenting user's `mailbox`",
                               "is for auth: app (one delegated instance reads one mailbox)");
            return LH_CONFIG;
        }
        if (single == NULL) {
            host->config_error(ctx, "mailbox", NULL, "auth: delegated needs the mailbox");
            return LH_CONFIG;
        }
    }
    size_t count = ms->app_only ? json_array_size(list) : 1;
    ms->mailboxes = calloc(count, sizeof(*ms->mailboxes));
    if (ms->mailboxes == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t result = LH_OK;
    for (size_t i = 0; i < count; i++) {
        char key[32];
        snprintf(key, sizeof(key), ms->app_only ? "mailboxes[%zu]" : "mailbox", i);
        const char *address = ms->app_only ? json_string_value(json_array_get(list, i)) : single;
        lh_status_t status = add_mailbox(ms, ctx, key, address);
        if (status == LH_RETRY) {
            return LH_RETRY;
        }
        result = status != LH_OK ? status : result;
    }
    return result;
}

/* Consumer mail domains are never anyone's organization. */
static bool free_mail_domain(const char *domain)
{
    static const char *const domains[] = {"outlook.com", "hotmail.com", "live.com", "msn.com",
                                          "gmail.com",   "yahoo.com",   NULL};
    for (size_t i = 0; domains[i] != NULL; i++) {
        if (ms_same(domain, domains[i])) {
            return true;
        }
    }
    return false;
}

static lh_status_t add_domain(struct microsoft *ms, const char *domain)
{
    for (size_t i = 0; i < ms->internal_domain_count; i++) {
        if (ms_same(ms->internal_domains[i], domain)) {
            return LH_OK;
        }
    }
    char *copy = ms_lower_dup(domain);
    if (copy == NULL) {
        return LH_RETRY;
    }
    ms->internal_domains[ms->internal_domain_count++] = copy;
    return LH_OK;
}

static lh_status_t init_domains(struct microsoft *ms, lh_ctx_t *ctx, const json_t *settings)
{
    const json_t *list = json_object_get(settings, "internal_domains");
    size_t count = list != NULL ? json_array_size(list) : ms->mailbox_count;
    ms->internal_domains = calloc(count + 1, sizeof(char *));
    if (ms->internal_domains == NULL) {
        ms->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    for (size_t i = 0; i < count; i++) {
        const char *domain = NULL;
        if (list != NULL) {
            domain = json_string_value(json_array_get(list, i));
            if (domain == NULL || domain[0] == '\0' || strchr(domain, '@') != NULL) {
                char key[40];
                snprintf(key, sizeof(key), "internal_domains[%zu]", i);
                ms->host->config_error(ctx, key, NULL, "expected a domain such as contoso.com");
                return LH_CONFIG;
            }
        } else if (i < ms->mailbox_count) {
            domain = strchr(ms->mailboxes[i].address, '@') + 1;
            if (free_mail_domain(domain)) {
                continue; /* every Outlook.com prospect would look internal */
            }
        }
        if (domain != NULL && add_domain(ms, domain) != LH_OK) {
            ms->host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
    }
    return LH_OK;
}

static char *base_without_slash(const char *base)
{
    size_t len = strlen(base);
    while (len > 0 && base[len - 1] == '/') {
        len--;
    }
    return strndup(base, len);
}

static lh_status_t init_endpoints(struct microsoft *ms, lh_ctx_t *ctx, const json_t *settings)
{
    const lh_host_t *host = ms->host;
    lh_status_t result = LH_OK;
    const char *graph = lh_setting_string(settings, "graph_api_base", MS_DEFAULT_GRAPH_BASE);
    const char *login = lh_setting_string(settings, "login_base", MS_DEFAULT_LOGIN_BASE);
    if (!url_ok(graph, false)) {
        host->config_error(ctx, "graph_api_base", NULL,
                           "must be a base URL like " MS_DEFAULT_GRAPH_BASE);
        result = LH_CONFIG;
    }
    if (!url_ok(login, false)) {
        host->config_error(ctx, "login_base", NULL,
                           "must be a base URL like " MS_DEFAULT_LOGIN_BASE);
        result = LH_CONFIG;
    }
    const char *tenant = lh_setting_string(settings, "tenant", "");
    bool tenant_ok = tenant[0] != '\0' && strlen(tenant) <= 128;
    for (const char *p = tenant; *p != '\0' && tenant_ok; p++) {
        tenant_ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_';
    }
    if (!tenant_ok) {
        host->config_error(ctx, "tenant", NULL,
                           "expected a tenant id (GUID) or domain such as contoso.onmicrosoft.com");
        result = LH_CONFIG;
    }
    const char *notify = lh_setting_string(settings, "notification_url", NULL);
    const char *state = lh_setting_string(settings, "client_state", NULL);
    if (notify != NULL && !url_ok(notify, true)) {
        host->config_error(ctx, "notification_url", NULL,
                           "must be the public https URL of /webhooks/%s",
                           host->instance_name(ctx));
        result = LH_CONFIG;
    }
    if (notify != NULL && state == NULL) {
        host->config_error(ctx, "client_state", "set a random secret of 16-128 characters",
                           "is required with notification_url: notifications are checked "
                           "against it");
        result = LH_CONFIG;
    }
    if (ms->app_only && json_object_get(settings, "client_secret") == NULL) {
        host->config_error(ctx, "client_secret", NULL,
                           "auth: app needs the app registration's client secret");
        result = LH_CONFIG;
    }
    if (result != LH_OK) {
        return result;
    }
    ms->graph_base = base_without_slash(graph);
    char *login_base = base_without_slash(login);
    size_t size = login_base != NULL ? strlen(login_base) + strlen(tenant) + 32 : 0;
    ms->token_url = login_base != NULL ? malloc(size) : NULL;
    if (ms->token_url != NULL) {
        snprintf(ms->token_url, size, "%s/%s/oauth2/v2.0/token", login_base, tenant);
    }
    free(login_base);
    ms->notification_url = notify != NULL ? strdup(notify) : NULL;
    ms->client_state = state != NULL && notify != NULL ? strdup(state) : NULL;
    if (ms->graph_base == NULL || ms->token_url == NULL ||
        (notify != NULL && (ms->notification_url == NULL || ms->client_state == NULL))) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return LH_OK;
}

static lh_status_t microsoft_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  struct microsoft **ms_out)
{
    *ms_out = NULL;
    struct microsoft *ms = calloc(1, sizeof(*ms));
    if (ms == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    ms->host = host;
    ms->app_only = strcmp(lh_setting_string(settings, "auth", "app"), "app") == 0;
    ms->mail = lh_setting_bool(settings, "mail", 1);
    ms->calendar = lh_setting_bool(settings, "calendar", 1);
    ms->window_past_ms = lh_setting_int(settings, "calendar_window_past", 30LL * 86400000);
    ms->window_future_ms = lh_setting_int(settings, "calendar_window_future", 90LL * 86400000);
    ms->backfill_ms = lh_setting_int(settings, "backfill", 14LL * 86400000);
    ms->page_size = (int)lh_setting_int(settings, "page_size", 50);
    ms->budget =
        (size_t)((double)lh_setting_int(settings, "request_budget", 10000) * MS_BUDGET_SHARE);
    ms->budget = ms->budget > 0 ? ms->budget : 1;
    ms->budget_window_ms = lh_setting_int(settings, "request_budget_window", 600000);
    lh_status_t statuses[3];
    statuses[0] = init_mailboxes(ms, ctx, settings);
    statuses[1] = statuses[0] == LH_RETRY ? LH_RETRY : init_domains(ms, ctx, settings);
    statuses[2] = init_endpoints(ms, ctx, settings);
    if (!ms->mail && !ms->calendar) {
        host->config_error(ctx, "mail", NULL, "mail and calendar are both off: nothing to read");
        statuses[2] = LH_CONFIG;
    }
    for (size_t i = 0; i < 3; i++) {
        if (statuses[i] != LH_OK) {
            microsoft_destroy(ms);
            return statuses[i] == LH_RETRY ? LH_RETRY : LH_CONFIG;
        }
    }
    /* Token URL, client id and secret come from the oauth_provider declaration. */
    ms->oauth =
        ms->app_only
            ? (lh_oauth2_t)LH_OAUTH2(.grant_type = "client_credentials", .scope = APP_SCOPE)
            : (lh_oauth2_t)LH_OAUTH2(.grant_type = "refresh_token", .scope = DELEGATED_SCOPES);
    *ms_out = ms;
    return LH_OK;
}

static lh_status_t microsoft_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct microsoft *ms = NULL;
    lh_status_t status = microsoft_load(ctx, host, settings, &ms);
    microsoft_destroy(ms);
    return status;
}

static lh_status_t microsoft_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                                  void **state_out)
{
    struct microsoft *ms = NULL;
    lh_status_t status = microsoft_load(ctx, host, settings, &ms);
    *state_out = ms;
    return status;
}

static const lh_oauth_provider_t microsoft_identity =
    LH_OAUTH_PROVIDER(.flags = LH_OAUTH_PKCE | LH_OAUTH_TOKEN_SCOPE,
                      .authorization_url = "{login_base}/{tenant}/oauth2/v2.0/authorize",
                      .token_url = "{login_base}/{tenant}/oauth2/v2.0/token",
                      .scopes = DELEGATED_SCOPES);

static const lh_plugin_t microsoft_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    /* webhook() reads only init()'s state: it never waits behind a poll's Graph calls */
    .flags = LH_PLUGIN_WEBHOOK_CONCURRENT,
    .name = "microsoft",
    .version = "1.0.0",
    .description = "Microsoft 365: Outlook mail and calendar through Microsoft Graph (delta "
                   "queries, change notifications), normalized to email and meeting events.",
    .config_schema = microsoft_schema,
    .event_types = emitted_types,
    .validate = microsoft_validate,
    .init = microsoft_init,
    .destroy = microsoft_destroy,
    .poll = ms_poll,
    .webhook = ms_webhook,
    .oauth_provider = &microsoft_identity,
};

LH_PLUGIN_DECLARE(microsoft_plugin)
