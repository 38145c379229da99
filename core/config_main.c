/*
 * config_main.c - the main config file. Its sections are described by the same field
 * tables as plugin settings and checked by the same engine (config_object.c); what a table
 * cannot say (host:port, scopes, unique token names, paths) is checked here.
 */
#include <stdlib.h>
#include <string.h>

#include "config_internal.h"
#include "config_object.h"
#include "config_suggest.h"
#include "config_value.h"
#include "seal.h"
#include "util.h"

#define NO_RANGE 0, 0

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* Top-level keys. Sections are JSON here and checked by their own table below. */
static const lh_config_field_t main_fields[] = {
    /* The default makes an absent key fall back to $DATABASE_URL; empty is caught below. */
    {CONFIG_FIELD_SIZE, "database_url", LH_CONFIG_STRING, 0, "${DATABASE_URL:-}", NO_RANGE, NULL,
     "PostgreSQL connection URL; holds credentials: printed only with its passwords masked."},
    {CONFIG_FIELD_SIZE, "listen", LH_CONFIG_STRING, 0, "127.0.0.1:8080", NO_RANGE, NULL,
     "Address of the HTTP server: host:port, [v6addr]:port, or :port for every interface."},
    {CONFIG_FIELD_SIZE, "admin_listen", LH_CONFIG_STRING, 0, "", NO_RANGE, NULL,
     "A second address for /metrics, /readyz and /v1, which `listen` then no longer serves "
     "(it keeps /webhooks and /healthz): only webhooks need face the internet. Empty: one "
     "port serves everything."},
    {CONFIG_FIELD_SIZE, "plugin_path", LH_CONFIG_LIST, 0, NULL, NO_RANGE, NULL,
     "Directories searched for plugins, relative ones from the main file's directory."},
    {CONFIG_FIELD_SIZE, "connectors_dir", LH_CONFIG_STRING, 0, "conf.d", NO_RANGE, NULL,
     "Directory holding one file per connector instance, relative to the main file's "
     "directory."},
    {CONFIG_FIELD_SIZE, "log", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL, "Logging: level."},
    {CONFIG_FIELD_SIZE, "shutdown_grace", LH_CONFIG_DURATION, 0, "10s", NO_RANGE, NULL,
     "How long a stop waits for work in flight."},
    {CONFIG_FIELD_SIZE, "http", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL, "The HTTP server."},
    {CONFIG_FIELD_SIZE, "ingest", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL, "Event ingestion."},
    {CONFIG_FIELD_SIZE, "api", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL, "REST API access: tokens."},
    {CONFIG_FIELD_SIZE, "routes", LH_CONFIG_JSON, 0, "[]", NO_RANGE, NULL, "Event routes."},
    {CONFIG_FIELD_SIZE, "scoring", LH_CONFIG_JSON, 0, "[]", NO_RANGE, NULL, "Lead scorers."},
    {CONFIG_FIELD_SIZE, "delivery", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "Delivery: retries, concurrency."},
    {CONFIG_FIELD_SIZE, "secrets_key", LH_CONFIG_SECRET, 0, NULL, NO_RANGE, NULL,
     "Key sealing OAuth tokens and secret state at rest: a reference to 32 random bytes in "
     "base64 (`openssl rand -base64 32`); a list while rotating, the new key first."},
    {CONFIG_FIELD_SIZE, "oauth", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "OAuth consent through the REST API."},
    {CONFIG_FIELD_SIZE, "readiness", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "What /readyz requires."},
    {CONFIG_FIELD_SIZE, "console", LH_CONFIG_JSON, 0, "{}", NO_RANGE, NULL,
     "The web console at /console/."},
    LH_FIELD_END,
};

static const char *const readiness_modes[] = {"report", "require", NULL};

static const lh_config_field_t readiness_fields[] = {
    {CONFIG_FIELD_SIZE, "connectors", LH_CONFIG_ENUM, 0, "report", NO_RANGE, readiness_modes,
     "report: a failed connector instance or scorer is shown and refuses its own webhooks, "
     "the process stays ready; require: it makes /readyz 503 too."},
    LH_FIELD_END,
};

static const lh_config_field_t console_fields[] = {
    {CONFIG_FIELD_SIZE, "dir", LH_CONFIG_STRING, 0, NULL, NO_RANGE, NULL,
     "Directory of the console's built files, relative ones from the main file's directory "
     "(default: " CONFIG_CONSOLE_DIR_FROM_BIN " from leadhubd's own directory); read at start "
     "and on every reload."},
    LH_FIELD_END,
};

static const lh_config_field_t log_fields[] = {
    {CONFIG_FIELD_SIZE, "level", LH_CONFIG_ENUM, 0, "info", NO_RANGE, log_levels,
     "Lines below this level are dropped."},
    LH_FIELD_END,
};

static const lh_config_field_t http_fields[] = {
    {CONFIG_FIELD_SIZE, "body_limit", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "1048576",
     1024, 64.0 * 1024 * 1024, NULL, "Largest request body accepted, in bytes."},
    {CONFIG_FIELD_SIZE, "threads", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "0", 0, 256,
     NULL, "Server threads (they parse and answer; nothing waits on them); 0 is one per CPU."},
    {CONFIG_FIELD_SIZE, "connection_limit", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX,
     "4096", 1, 100000, NULL, "Most connections open at once."},
    {CONFIG_FIELD_SIZE, "connections_per_address", LH_CONFIG_INT,
     LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "1024", 1, 100000, NULL,
     "Most connections open at once from one source address (behind a proxy, every client "
     "shares the proxy's: raise it to connection_limit)."},
    {CONFIG_FIELD_SIZE, "timeout", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "30s", 1000, 0, NULL,
     "A connection with no request under way is closed this long after it opened or its "
     "last request ended."},
    {CONFIG_FIELD_SIZE, "request_timeout", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "10s", 100, 0,
     NULL,
     "A request must arrive whole (headers and body) within this long of its request line, "
     "however slowly its bytes trickle; its answer must be taken within as long again."},
    {CONFIG_FIELD_SIZE, "unauthenticated_bytes", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX,
     "33554432", 65536, 4.0 * 1024 * 1024 * 1024, NULL,
     "Most bytes of webhook bodies held before their signature is checked, all clients "
     "together; past it: 503 with Retry-After, connection closed."},
    {CONFIG_FIELD_SIZE, "unauthenticated_bytes_per_address", LH_CONFIG_INT,
     LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "8388608", 1024, 4.0 * 1024 * 1024 * 1024, NULL,
     "The same, for one source address: one client cannot take all of it."},
    {CONFIG_FIELD_SIZE, "webhook_timeout", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "800ms", 10, 0,
     NULL,
     "The longest a webhook callback may take (waiting for a worker included) before the "
     "host answers 503; a late result is dropped, and the provider retries."},
    {CONFIG_FIELD_SIZE, "commit_timeout", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "5s", 10, 0, NULL,
     "The longest a request waits for its events' commit before 503: a commit that lands "
     "later is answered as a duplicate on the provider's retry."},
    {CONFIG_FIELD_SIZE, "api_timeout", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "20s", 10, 0, NULL,
     "The longest a /v1 request may take (waiting for a worker included) before 503."},
    {CONFIG_FIELD_SIZE, "webhook_workers", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "0",
     0, 256, NULL,
     "Threads running webhook callbacks; 0 is two per CPU, at least 4. One connector "
     "instance never holds more than all but one of them (one, unless it is reentrant)."},
    {CONFIG_FIELD_SIZE, "api_workers", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "4", 1,
     256, NULL, "Threads running /v1 handlers, each with its own database connection."},
    LH_FIELD_END,
};

static const lh_config_field_t ingest_fields[] = {
    {CONFIG_FIELD_SIZE, "writers", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "2", 1, 32,
     NULL, "Database connections committing events."},
    {CONFIG_FIELD_SIZE, "batch_max", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "1000", 1,
     10000, NULL, "Most events in one transaction."},
    {CONFIG_FIELD_SIZE, "queue_max", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "50000",
     100, 1000000, NULL, "Most events waiting; past it, webhooks get 503."},
    LH_FIELD_END,
};

static const lh_config_field_t delivery_fields[] = {
    {CONFIG_FIELD_SIZE, "backoff_base", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "1s", 10, 0, NULL,
     "First retry delay ceiling; each retry doubles it (full jitter)."},
    {CONFIG_FIELD_SIZE, "backoff_cap", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "10m", 10, 0, NULL,
     "The longest a retry waits (a provider's Retry-After may ask longer, up to 1h)."},
    {CONFIG_FIELD_SIZE, "max_attempts", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "10", 1,
     1000, NULL, "Attempts before a delivery is dead (replayable with `leadhubd replay`)."},
    {CONFIG_FIELD_SIZE, "concurrency", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "4", 1,
     64, NULL,
     "Workers per destination: one slow or failing sink never takes the others' workers."},
    {CONFIG_FIELD_SIZE, "claim_batch", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "50", 1,
     1000, NULL, "Deliveries a worker claims per transaction."},
    {CONFIG_FIELD_SIZE, "breaker_failures", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "5",
     1, 10000, NULL, "Failed attempts in a row that open a destination's circuit."},
    {CONFIG_FIELD_SIZE, "breaker_cooldown", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "30s", 100, 0,
     NULL, "How long an open circuit waits before one trial delivery."},
    {CONFIG_FIELD_SIZE, "max_hold", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "3d",
     1000, 2592000000.0, NULL,
     "How long a delivery may be held (a rate limit, a Retry-After, data it waits for) before "
     "it is dead; holds spend no attempts."},
    LH_FIELD_END,
};

static const lh_config_field_t oauth_fields[] = {
    {CONFIG_FIELD_SIZE, "redirect_url", LH_CONFIG_STRING, 0, NULL, NO_RANGE, NULL,
     "This daemon's /oauth/callback as the admin's browser reaches it (https://.../oauth/"
     "callback), registered as a redirect URL of each provider's app."},
    LH_FIELD_END,
};

static const lh_config_field_t api_fields[] = {
    {CONFIG_FIELD_SIZE, "tokens", LH_CONFIG_JSON, 0, "[]", NO_RANGE, NULL,
     "Bearer tokens for /v1."},
    LH_FIELD_END,
};

static const lh_config_field_t token_fields[] = {
    {CONFIG_FIELD_SIZE, "name", LH_CONFIG_STRING, LH_FIELD_REQUIRED, NULL, NO_RANGE, NULL,
     "The token's name, for logs and metrics: [a-z][a-z0-9_]*, unique."},
    {CONFIG_FIELD_SIZE, "token", LH_CONFIG_SECRET, LH_FIELD_REQUIRED | LH_FIELD_HAS_MIN, NULL,
     CONFIG_TOKEN_MIN_LENGTH, 0, NULL, "The bearer token, from ${ENV_VAR} or ${file:/path}."},
    {CONFIG_FIELD_SIZE, "scopes", LH_CONFIG_LIST, LH_FIELD_HAS_MIN, "[read]", 1, 0, NULL,
     "What the token may do: read, write, admin."},
    LH_FIELD_END,
};

static const char *const scope_names[] = {"read", "write", "admin"};
static const unsigned scope_bits[] = {CONFIG_SCOPE_READ, CONFIG_SCOPE_WRITE, CONFIG_SCOPE_ADMIN};

/* A section's value as written, {} or [] when absent or empty (`http:` with nothing under
 * it is YAML null). NEW reference. */
static json_t *section_value(const json_t *tree, const char *name, bool list)
{
    json_t *value = json_object_get(tree, name);
    if (value == NULL || json_is_null(value)) {
        return list ? json_array() : json_object();
    }
    return json_incref(value);
}

static json_t *check_section(const json_t *tree, const char *name, const lh_config_field_t *fields,
                             const struct config_where *where, struct diag_list *diags)
{
    json_t *written = section_value(tree, name, false);
    if (written == NULL) {
        config_where_error(diags, where, name, NULL, NULL, "out of memory");
        return NULL;
    }
    json_t *result = config_object_normalize(written, fields, name, where, diags);
    json_decref(written);
    return result;
}

static json_int_t int_of(const json_t *object, const char *key, json_int_t fallback)
{
    const json_t *value = json_object_get(object, key);
    return json_is_integer(value) ? json_integer_value(value) : fallback;
}

char *config_path_absolute(const char *dir, const char *path)
{
    return path[0] == '/' ? strdup(path) : util_printf("%s/%s", dir, path);
}

/* "host:port", "[::1]:port", ":port" (every IPv4 interface) of `key` into *host_out and
 * *port_out. */
static void apply_listen(const char *key, const char *text, char **host_out, int *port_out,
                         const struct config_where *where, struct diag_list *diags)
{
    const char *hint = "write host:port, e.g. 127.0.0.1:8080, [::1]:8080, or :8080 for every "
                       "interface";
    const char *host = text;
    size_t host_len = 0;
    const char *port = NULL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close != NULL && close[1] == ':') {
            host = text + 1;
            host_len = (size_t)(close - host);
            port = close + 2;
        }
    } else {
        const char *colon = strrchr(text, ':');
        if (colon != NULL && memchr(text, ':', (size_t)(colon - text)) == NULL) {
            host_len = (size_t)(colon - text);
            port = colon + 1;
        }
    }
    if (port == NULL || (text[0] == '[' && host_len == 0)) {
        config_where_error(diags, where, key, NULL, hint, "\"%s\" is not host:port", text);
        return;
    }
    size_t digits = strspn(port, "0123456789");
    long number = digits > 0 && digits <= 5 && port[digits] == '\0' ? strtol(port, NULL, 10) : -1;
    if (number < 0 || number > 65535) {
        config_where_error(diags, where, key, NULL, hint,
                           "port \"%s\" is not a number from 0 to 65535", port);
        return;
    }
    *host_out = host_len > 0 ? strndup(host, host_len) : strdup("0.0.0.0");
    *port_out = (int)number;
    if (*host_out == NULL) {
        config_where_error(diags, where, key, NULL, NULL, "out of memory");
    }
}

static void apply_paths(struct config *config, const json_t *top, const struct config_where *where,
                        struct diag_list *diags)
{
    const json_t *dirs = json_object_get(top, "plugin_path");
    if (json_is_array(dirs) && json_array_size(dirs) > 0) {
        config->plugin_path = calloc(json_array_size(dirs), sizeof(*config->plugin_path));
        if (config->plugin_path == NULL) {
            config_where_error(diags, where, "plugin_path", NULL, NULL, "out of memory");
            config->plugin_path_failed = true;
            return;
        }
        size_t index;
        const json_t *dir;
        json_array_foreach(dirs, index, dir)
        {
            const char *text = json_string_value(dir);
            if (text[0] == '\0') {
                char *key = config_key_index("plugin_path", index);
                config_where_error(diags, where, key != NULL ? key : "plugin_path", NULL,
                                   "remove the entry or name a directory", "empty path");
                free(key);
                config->plugin_path_failed = true;
                continue;
            }
            char *absolute = config_path_absolute(config->dir, text);
            if (absolute == NULL) {
                config_where_error(diags, where, "plugin_path", NULL, NULL, "out of memory");
                config->plugin_path_failed = true;
                return;
            }
            config->plugin_path[config->plugin_path_count++] = absolute;
        }
    }
    const json_t *connectors = json_object_get(top, "connectors_dir");
    if (json_is_string(connectors)) {
        if (json_string_value(connectors)[0] == '\0') {
            config_where_error(diags, where, "connectors_dir", NULL,
                               "name the directory, or remove the key for the default conf.d",
                               "empty path");
            return;
        }
        config->connectors_dir = config_path_absolute(config->dir, json_string_value(connectors));
        if (config->connectors_dir == NULL) {
            config_where_error(diags, where, "connectors_dir", NULL, NULL, "out of memory");
        }
    }
}

static void apply_top(struct config *config, const json_t *top, const struct config_where *where,
                      struct diag_list *diags)
{
    const json_t *url = json_object_get(top, "database_url");
    if (json_is_string(url) && json_string_value(url)[0] == '\0') {
        config_where_error(diags, where, "database_url", NULL,
                           "set database_url in the file or export DATABASE_URL",
                           "database_url is not set");
    } else if (json_is_string(url)) {
        config->database_url = strdup(json_string_value(url));
        if (config->database_url == NULL) {
            config_where_error(diags, where, "database_url", NULL, NULL, "out of memory");
        }
    }
    const json_t *listen = json_object_get(top, "listen");
    if (json_is_string(listen)) {
        apply_listen("listen", json_string_value(listen), &config->listen_host,
                     &config->listen_port, where, diags);
    }
    const json_t *admin = json_object_get(top, "admin_listen");
    if (json_is_string(admin) && json_string_value(admin)[0] != '\0') {
        apply_listen("admin_listen", json_string_value(admin), &config->admin_listen_host,
                     &config->admin_listen_port, where, diags);
    }
    apply_paths(config, top, where, diags);
    config->shutdown_grace_ms = int_of(top, "shutdown_grace", 10000);

    /* routes and scoring are lists: their own modules check inside. */
    static const struct {
        const char *name;
        bool list;
    } kept[] = {{"routes", true}, {"scoring", true}};
    json_t **slots[] = {&config->routes, &config->scoring};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(kept); i++) {
        json_t *value = json_object_get(top, kept[i].name);
        if (value == NULL) {
            continue; /* already reported */
        }
        if (json_is_null(value)) {
            *slots[i] = kept[i].list ? json_array() : json_object();
        } else if (kept[i].list ? json_is_array(value) : json_is_object(value)) {
            *slots[i] = json_incref(value);
        } else {
            config_where_error(diags, where, kept[i].name, NULL, NULL, "expected %s, got %s",
                               kept[i].list ? "a list" : "a mapping", config_value_kind(value));
            continue;
        }
        if (*slots[i] == NULL) {
            config_where_error(diags, where, kept[i].name, NULL, NULL, "out of memory");
        }
    }
}

static unsigned token_scopes(const json_t *scopes, const char *prefix,
                             const struct config_where *where, struct diag_list *diags)
{
    unsigned bits = 0;
    size_t index;
    const json_t *scope;
    json_array_foreach(scopes, index, scope)
    {
        size_t s = 0;
        while (s < UTIL_ARRAY_LEN(scope_names) &&
               strcmp(json_string_value(scope), scope_names[s]) != 0) {
            s++;
        }
        if (s < UTIL_ARRAY_LEN(scope_names)) {
            bits |= scope_bits[s];
            continue;
        }
        char *key = util_printf("%s.scopes[%zu]", prefix, index);
        char *hint = config_suggest_hint(json_string_value(scope), scope_names,
                                         UTIL_ARRAY_LEN(scope_names), "allowed scopes");
        config_where_error(diags, where, key != NULL ? key : prefix, NULL, hint,
                           "unknown scope \"%s\"", json_string_value(scope));
        free(hint);
        free(key);
    }
    return bits;
}

/*
 * A bearer token a client can send: a space or control character cannot travel in an
 * Authorization header. (Empty, short and placeholder tokens are refused as every secret
 * is: the field's minimum length, config_value.c.) The message never shows the value.
 */
static void check_token_value(const char *value, const char *prefix,
                              const struct config_where *where, struct diag_list *diags)
{
    bool unsendable = false;
    for (const char *p = value; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        unsendable |= c <= ' ' || c == 0x7f;
    }
    if (!unsendable) {
        return;
    }
    char *key = config_key_join(prefix, "token");
    config_where_error(diags, where, key != NULL ? key : prefix, NULL,
                       "use a random value, e.g. from `openssl rand -hex 32`",
                       "the token holds a space or a control character, which an "
                       "Authorization header cannot carry");
    free(key);
}

/* One api.tokens item, checked and appended to config->tokens. */
static void apply_token(struct config *config, const json_t *item, size_t index,
                        const struct config_where *where, struct diag_list *diags)
{
    char *prefix = config_key_index("api.tokens", index);
    json_t *token = NULL;
    if (prefix == NULL) {
        config_where_error(diags, where, "api.tokens", NULL, NULL, "out of memory");
        return;
    }
    size_t errors_before = diag_error_count(diags);
    token = config_object_normalize(item, token_fields, prefix, where, diags);
    if (token == NULL) {
        goto out;
    }
    char *name_key = config_key_join(prefix, "name");
    const char *name = json_string_value(json_object_get(token, "name"));
    if (name != NULL && !util_identifier_valid(name)) {
        config_where_error(diags, where, name_key, NULL,
                           "use lowercase letters, digits and _, starting with a letter",
                           "token name \"%s\" is not valid", name);
    }
    for (size_t i = 0; name != NULL && i < config->token_count; i++) {
        if (config->tokens[i].name != NULL && strcmp(config->tokens[i].name, name) == 0) {
            config_where_error(diags, where, name_key, NULL, "give each token its own name",
                               "token name \"%s\" is used twice", name);
        }
    }
    free(name_key);
    const json_t *secret = json_object_get(token, "token");
    if (json_is_array(secret)) {
        char *key = config_key_join(prefix, "token");
        config_where_error(diags, where, key, NULL, "write one ${ENV_VAR} or ${file:/path}",
                           "expected a single reference, not a list");
        free(key);
    } else if (json_is_string(secret)) {
        check_token_value(json_string_value(secret), prefix, where, diags);
    }
    const json_t *scopes = json_object_get(token, "scopes");
    unsigned bits = json_is_array(scopes) ? token_scopes(scopes, prefix, where, diags) : 0;
    if (diag_error_count(diags) > errors_before) {
        goto out;
    }
    struct config_token *slot = &config->tokens[config->token_count];
    slot->name = strdup(name);
    slot->token = strdup(json_string_value(secret));
    slot->scopes = bits;
    config->token_count++; /* config_free() frees a half-filled slot too */
    if (slot->name == NULL || slot->token == NULL) {
        config_where_error(diags, where, prefix, NULL, NULL, "out of memory");
    }
out:
    json_decref(token);
    free(prefix);
}

static void apply_api(struct config *config, const json_t *api, const struct config_where *where,
                      struct diag_list *diags)
{
    const json_t *tokens = json_object_get(api, "tokens");
    if (tokens == NULL || json_is_null(tokens)) {
        return;
    }
    if (!json_is_array(tokens)) {
        config_where_error(diags, where, "api.tokens", NULL,
                           "write a list of {name, token, scopes} mappings",
                           "expected a list, got %s", config_value_kind(tokens));
        return;
    }
    if (json_array_size(tokens) == 0) {
        return;
    }
    config->tokens = calloc(json_array_size(tokens), sizeof(*config->tokens));
    if (config->tokens == NULL) {
        config_where_error(diags, where, "api.tokens", NULL, NULL, "out of memory");
        return;
    }
    size_t index;
    const json_t *item;
    json_array_foreach(tokens, index, item)
    {
        apply_token(config, item, index, where, diags);
    }
}

/* secrets_key: one reference or a list, each to a 32-byte key; the keyring is built here so
 * that a bad key is a diagnostic at check-config, not a failure when a token arrives. */
static void apply_secrets_key(struct config *config, const json_t *top,
                              const struct config_where *where, struct diag_list *diags)
{
    const json_t *value = json_object_get(top, "secrets_key");
    if (value == NULL) {
        return;
    }
    size_t count = json_is_array(value) ? json_array_size(value) : 1;
    const char **keys = calloc(count + 1, sizeof(*keys));
    if (keys == NULL) {
        config_where_error(diags, where, "secrets_key", NULL, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < count; i++) {
        keys[i] = json_string_value(json_is_array(value) ? json_array_get(value, i) : value);
    }
    size_t bad = 0;
    const char *why = NULL;
    config->keyring = seal_keyring_new(keys, count, &bad, &why);
    if (config->keyring == NULL) {
        char *key = json_is_array(value) ? config_key_index("secrets_key", bad) : NULL;
        config_where_error(diags, where, key != NULL ? key : "secrets_key", NULL,
                           "make a key with `openssl rand -base64 32` and refer to it, e.g. "
                           "secrets_key: ${file:/run/secrets/leadhub_key}",
                           "%s", why);
        free(key);
    }
    free(keys);
}

/* oauth.redirect_url: an absolute http(s) URL without query or fragment. */
static void apply_oauth(struct config *config, const json_t *oauth,
                        const struct config_where *where, struct diag_list *diags)
{
    const char *url = json_string_value(json_object_get(oauth, "redirect_url"));
    if (url == NULL) {
        return;
    }
    bool scheme = strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0;
    const char *host = scheme ? strstr(url, "//") + 2 : url;
    if (!scheme || host[0] == '\0' || host[0] == '/' || strpbrk(url, "?# \t") != NULL) {
        config_where_error(diags, where, "oauth.redirect_url", NULL,
                           "write the full URL of this daemon's callback, e.g. "
                           "https://leadhub.example.com/oauth/callback",
                           "\"%.200s\" is not an http(s) URL without query or fragment", url);
        return;
    }
    config->oauth_redirect_url = strdup(url);
    if (config->oauth_redirect_url == NULL) {
        config_where_error(diags, where, "oauth.redirect_url", NULL, NULL, "out of memory");
    }
}

void config_main_apply(struct config *config, const json_t *tree, const struct config_where *where,
                       struct diag_list *diags)
{
    json_t *empty = json_is_null(tree) ? json_object() : NULL;
    json_t *top = NULL, *log = NULL, *http = NULL, *ingest = NULL, *api = NULL, *readiness = NULL;
    json_t *delivery = NULL, *oauth = NULL, *console = NULL;
    if (json_is_null(tree)) {
        if (empty == NULL) {
            config_where_error(diags, where, NULL, NULL, NULL, "out of memory");
            return;
        }
        tree = empty; /* an empty file: every default */
    }
    top = config_object_normalize(tree, main_fields, "", where, diags);
    if (top == NULL) {
        config->plugin_path_failed = true;
        goto out; /* not a mapping: nothing else to check */
    }
    apply_top(config, top, where, diags);
    /* A plugin_path that did not check out is left out of top: the default path would
     * stand in for it. */
    const json_t *written_path = json_object_get(tree, "plugin_path");
    if (written_path != NULL && !json_is_null(written_path) &&
        json_object_get(top, "plugin_path") == NULL) {
        config->plugin_path_failed = true;
    }

    log = check_section(tree, "log", log_fields, where, diags);
    const char *level = json_string_value(json_object_get(log, "level"));
    config->log_level = LOG_LEVEL_INFO;
    if (level != NULL) {
        log_level_parse(level, &config->log_level); /* the enum allows only valid names */
    }
    http = check_section(tree, "http", http_fields, where, diags);
    config->http_body_limit = (size_t)int_of(http, "body_limit", 1048576);
    config->http_threads = (unsigned)int_of(http, "threads", 0);
    config->http_connection_limit = (unsigned)int_of(http, "connection_limit", 4096);
    config->http_timeout_ms = int_of(http, "timeout", 30000);
    struct config_http_limits *h = &config->http;
    h->connections_per_address = (unsigned)int_of(http, "connections_per_address", 1024);
    h->request_timeout_ms = int_of(http, "request_timeout", 10000);
    h->unauthenticated_bytes = (size_t)int_of(http, "unauthenticated_bytes", 33554432);
    h->unauthenticated_bytes_per_address =
        (size_t)int_of(http, "unauthenticated_bytes_per_address", 8388608);
    h->webhook_timeout_ms = int_of(http, "webhook_timeout", 800);
    h->commit_timeout_ms = int_of(http, "commit_timeout", 5000);
    h->api_timeout_ms = int_of(http, "api_timeout", 20000);
    h->webhook_workers = (unsigned)int_of(http, "webhook_workers", 0);
    h->api_workers = (unsigned)int_of(http, "api_workers", 4);
    if (h->unauthenticated_bytes_per_address > h->unauthenticated_bytes) {
        config_where_error(diags, where, "http.unauthenticated_bytes_per_address", NULL,
                           "make it at most http.unauthenticated_bytes",
                           "one address's share is larger than the whole");
    }
    if (config->http_body_limit > h->unauthenticated_bytes_per_address) {
        config_where_error(diags, where, "http.body_limit", NULL,
                           "raise http.unauthenticated_bytes_per_address to at least body_limit, "
                           "or lower body_limit",
                           "a webhook body of the largest size allowed could never be read: "
                           "body_limit is larger than unauthenticated_bytes_per_address");
    }

    ingest = check_section(tree, "ingest", ingest_fields, where, diags);
    config->ingest_writers = (unsigned)int_of(ingest, "writers", 2);
    config->ingest_batch_max = (unsigned)int_of(ingest, "batch_max", 1000);
    config->ingest_queue_max = (unsigned)int_of(ingest, "queue_max", 50000);

    delivery = check_section(tree, "delivery", delivery_fields, where, diags);
    struct config_delivery *d = &config->delivery;
    d->backoff_base_ms = int_of(delivery, "backoff_base", 1000);
    d->backoff_cap_ms = int_of(delivery, "backoff_cap", 600000);
    d->max_attempts = (unsigned)int_of(delivery, "max_attempts", 10);
    d->concurrency = (unsigned)int_of(delivery, "concurrency", 4);
    d->claim_batch = (unsigned)int_of(delivery, "claim_batch", 50);
    d->breaker_failures = (unsigned)int_of(delivery, "breaker_failures", 5);
    d->breaker_cooldown_ms = int_of(delivery, "breaker_cooldown", 30000);
    d->max_hold_ms = int_of(delivery, "max_hold", 3LL * 24 * 3600 * 1000);
    if (d->backoff_cap_ms < d->backoff_base_ms) {
        config_where_error(diags, where, "delivery.backoff_cap", NULL,
                           "make backoff_cap at least backoff_base",
                           "backoff_cap is shorter than backoff_base");
    }

    api = check_section(tree, "api", api_fields, where, diags);
    if (api != NULL) {
        apply_api(config, api, where, diags);
    }
    apply_secrets_key(config, top, where, diags);
    oauth = check_section(tree, "oauth", oauth_fields, where, diags);
    if (oauth != NULL) {
        apply_oauth(config, oauth, where, diags);
    }

    readiness = check_section(tree, "readiness", readiness_fields, where, diags);
    const char *mode = json_string_value(json_object_get(readiness, "connectors"));
    config->readiness_require_connectors = mode != NULL && strcmp(mode, "require") == 0;

    console = check_section(tree, "console", console_fields, where, diags);
    const char *console_dir = json_string_value(json_object_get(console, "dir"));
    if (console_dir != NULL && console_dir[0] == '\0') {
        config_where_error(
            diags, where, "console.dir", NULL,
            "name the directory, or remove the key for the default (" CONFIG_CONSOLE_DIR_FROM_BIN
            " from leadhubd's directory)",
            "empty path");
    } else if (console != NULL) {
        /* the default follows the binary, wherever it was installed: a PREFIX given to
         * `make install` but not to the build still finds the files */
        char *bin = console_dir == NULL ? util_exe_dir() : NULL;
        config->console_dir = console_dir != NULL ? config_path_absolute(config->dir, console_dir)
                              : bin != NULL ? util_printf("%s/" CONFIG_CONSOLE_DIR_FROM_BIN, bin)
                                            : strdup("/usr/local/share/leadhub/console");
        free(bin);
        if (config->console_dir == NULL) {
            config_where_error(diags, where, "console.dir", NULL, NULL, "out of memory");
        }
    }
out:
    json_decref(empty);
    json_decref(top);
    json_decref(log);
    json_decref(http);
    json_decref(ingest);
    json_decref(delivery);
    json_decref(api);
    json_decref(oauth);
    json_decref(readiness);
    json_decref(console);
}
