/*
 * config.h - the main config file and the connector instance files.
 *
 * A main file (YAML via libyaml, or JSON when it ends in .json) plus one file per connector
 * instance in `connectors_dir`. String values may contain references, resolved at load:
 *   ${NAME}            the environment variable NAME (an error when unset)
 *   ${NAME:-fallback}  NAME, or fallback when unset or empty
 *   ${file:/path}      the file's contents, one trailing newline removed (mounted secrets)
 *   $${                a literal "${"
 * Every mistake becomes a diagnostic naming the file, line, key path and a hint.
 *
 * Instance settings are kept as written (references unresolved) until they are checked
 * against the plugin's schema by config_settings_validate(), which knows which fields are
 * secrets: a secret must come from a reference and is never printed.
 *
 * docs/config.md is the reference for every key. The pieces: config_yaml.c and
 * config_json.c (files to trees with line numbers), config_ref.c (references),
 * config_value.c and config_object.c (the schema engine shared by plugin settings and the
 * main file), config_schema.c, config_settings.c, config_main.c, config_instance.c.
 */
#ifndef LEADHUB_CONFIG_H
#define LEADHUB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "diag.h"
#include "leadhub.h"
#include "log.h"

/* API token scopes (bits). */
/* The first member of the host's own schema tables' positional initializers. */
#define CONFIG_FIELD_SIZE ((uint32_t)sizeof(lh_config_field_t))

#define CONFIG_SCOPE_READ  (1U << 0)
#define CONFIG_SCOPE_WRITE (1U << 1)
#define CONFIG_SCOPE_ADMIN (1U << 2)

/* console.dir's default, relative to the directory of leadhubd: where `make install` puts
 * the console beside the binary ($(PREFIX)/bin, $(PREFIX)/share/leadhub/console). */
#define CONFIG_CONSOLE_DIR_FROM_BIN "../share/leadhub/console"

/* The shortest api.tokens[].token accepted: no empty variable or placeholder. */
#define CONFIG_TOKEN_MIN_LENGTH 16

struct config_token {
    char *name;      /* for logs and metrics */
    char *token;     /* resolved secret: never print */
    unsigned scopes; /* CONFIG_SCOPE_* */
};

/* One connector instance file. */
struct config_instance {
    char *name;               /* [a-z0-9_-]+, unique across files */
    char *plugin;             /* plugin name as the descriptor declares it */
    bool enabled;             /* default true */
    int64_t poll_interval_ms; /* default 300000 (5m) */
    json_t *settings;         /* the `settings` object as written: references unresolved;
                                 owned; {} when absent */
    char *file;               /* path of the file that defined it */
    json_t *lines;            /* key path ("settings.secret") -> line number; owned */
};

struct seal_keyring;

struct config {
    char *file;                     /* the main file, as given */
    char *dir;                      /* its directory: relative paths in it resolve from here */
    char *database_url;             /* resolved; holds credentials: never print */
    char *listen_host;              /* from `listen` "host:port"; "0.0.0.0" for ":port" */
    int listen_port;                /* 0 picks a free port (tests) */
    char **plugin_path;             /* directories, made absolute against `dir` */
    size_t plugin_path_count;       /* 0 when the file has no plugin_path: the caller then
                                       searches loader_default_path() */
    char *connectors_dir;           /* made absolute against `dir` */
    char *console_dir;              /* console.dir, made absolute against `dir` */
    enum log_level log_level;       /* log.level, default info */
    int64_t shutdown_grace_ms;      /* shutdown_grace, default 10s */
    size_t http_body_limit;         /* http.body_limit bytes, default 1 MiB */
    unsigned http_threads;          /* http.threads, default 0 = one per CPU */
    unsigned http_connection_limit; /* http.connection_limit, default 4096 */
    int64_t http_timeout_ms;        /* http.timeout: no request under way, default 30s */
    char *admin_listen_host;        /* admin_listen, or NULL: one listener serves everything */
    int admin_listen_port;
    /* http: the budgets of connections and requests (docs/config.md) */
    struct config_http_limits {
        unsigned connections_per_address;         /* default 1024 */
        int64_t request_timeout_ms;               /* request line to body read; default 10s */
        size_t unauthenticated_bytes;             /* default 32 MiB */
        size_t unauthenticated_bytes_per_address; /* default 8 MiB */
        int64_t webhook_timeout_ms;               /* webhook callback; default 800ms */
        int64_t commit_timeout_ms;                /* waiting for a commit; default 5s */
        int64_t api_timeout_ms;                   /* a /v1 handler; default 20s */
        unsigned webhook_workers;                 /* 0: two per CPU, at least 4 */
        unsigned api_workers;                     /* default 4 */
    } http;
    unsigned ingest_writers;   /* ingest.writers: DB connections committing, default 2 */
    unsigned ingest_batch_max; /* ingest.batch_max: events per transaction, default 1000 */
    unsigned ingest_queue_max; /* ingest.queue_max: events waiting (then 503), default 50000 */
    bool readiness_require_connectors; /* readiness.connectors: require (default report) */
    struct config_token *tokens;       /* api.tokens */
    size_t token_count;
    json_t *routes;  /* `routes` as written (a list; [] when absent); owned */
    json_t *scoring; /* `scoring` as written (a list; [] when absent); owned */
    struct config_delivery {
        int64_t backoff_base_ms;     /* delivery.backoff_base, default 1s */
        int64_t backoff_cap_ms;      /* delivery.backoff_cap, default 10m */
        unsigned max_attempts;       /* delivery.max_attempts, default 10 */
        unsigned concurrency;        /* delivery.concurrency: workers per destination, default 4 */
        unsigned claim_batch;        /* delivery.claim_batch: claimed per transaction, default 50 */
        unsigned breaker_failures;   /* delivery.breaker_failures: failures in a row that open a
                                        destination's circuit, default 5 */
        int64_t breaker_cooldown_ms; /* delivery.breaker_cooldown, default 30s */
        int64_t max_hold_ms;         /* delivery.max_hold: holds in a row before a delivery is
                                        dead, default 3d */
    } delivery;
    struct seal_keyring *keyring;      /* secrets_key: the keys that seal tokens and secret state
                                          (seal.h); NULL when none is configured; owned */
    char *oauth_redirect_url;          /* oauth.redirect_url: /oauth/callback as browsers reach it,
                                          or NULL (no consent through the REST API) */
    struct config_instance *instances; /* sorted by file name */
    size_t instance_count;
    json_t *lines; /* main file key path -> line number; owned */
    /* Parts that did not check out, set only in a config with errors
       (config_load_partial()): what depends on them cannot be checked. */
    bool plugin_path_failed;   /* plugin_path had an error: plugins would be looked for
                                  in the wrong place */
    bool instances_incomplete; /* connectors_dir or an instance file had an error: some
                                  instances are missing */
};

/*
 * config_load - read and check the main file and every instance file.
 *   path:  the main file.
 *   out:   on success (no errors in diags) a new config, freed with config_free();
 *          NULL otherwise.
 *   diags: errors and warnings are appended.
 *   Returns 0 when there are no errors, -1 otherwise.
 *   Notes: does not look at plugins; config_settings_validate() does that per instance.
 */
int config_load(const char *path, struct config **out, struct diag_list *diags);

/*
 * config_load_partial - config_load() for `check-config`, which reports every problem:
 * the config is returned as far as it checked out even when diags got errors, so that
 * the caller can go on checking what does not depend on the broken values
 * (plugin_path_failed and instances_incomplete say what does). Nothing may be started
 * from a config with errors.
 *   out: a new config (free with config_free()), or NULL when the main file could not be
 *        read or parsed at all.
 *   Returns 0 when there are no errors, -1 otherwise.
 */
int config_load_partial(const char *path, struct config **out, struct diag_list *diags);

void config_free(struct config *config);

/*
 * config_read_plugin_path - only the main file's plugin_path, references resolved and made
 * absolute: for commands that need nothing else (`leadhubd plugins`), so that they work
 * without the environment the rest of the file refers to.
 *   dirs_out: malloc'd array of malloc'd strings (count 0: the file names none).
 *   Returns 0, or -1 with errors in diags.
 */
int config_read_plugin_path(const char *path, char ***dirs_out, size_t *count_out,
                            struct diag_list *diags);

/* config_instance_find - the instance named `name`, or NULL. */
const struct config_instance *config_instance_find(const struct config *config, const char *name);

/*
 * config_settings_validate - check an instance's settings against a plugin's schema.
 * Unknown keys (the allowed ones listed in the hint), types, ranges, enums, required
 * fields; fills defaults; resolves references; secrets must come from references.
 *   Returns a NEW reference to the normalized settings (see leadhub.h for the form each
 *   type takes), or NULL when diags got errors.
 */
json_t *config_settings_validate(const struct config_instance *instance,
                                 const lh_config_field_t *schema, struct diag_list *diags);

/*
 * config_settings_redacted - a copy of normalized settings fit for printing: every
 * SECRET field's value replaced by "[redacted]". NEW reference.
 */
json_t *config_settings_redacted(const json_t *settings, const lh_config_field_t *schema);

/*
 * config_schema_check - is a plugin's declared schema well formed? (names, types, enum
 * values, defaults that parse, min <= max, no default on required or secret fields,
 * descriptions present).
 *   Returns 0, or -1 with *error_out set to a malloc'd explanation naming the field.
 */
int config_schema_check(const lh_config_field_t *schema, char **error_out);

/* config_schema_describe - the schema as documentation, for `leadhubd plugins info`. */
void config_schema_describe(const lh_config_field_t *schema, FILE *out);

/* config_type_name - "string", "int", "duration", ... */
const char *config_type_name(lh_config_type_t type);

#endif
