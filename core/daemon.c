/*
 * daemon.c - start-up and shutdown of the running daemon, and readiness.
 *
 * Start-up order matters: everything that can be checked offline (config, plugins,
 * settings) is checked before the database is touched, so a typo fails fast with the
 * same messages `leadhubd check-config` prints.
 */
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "commands.h"
#include "daemon.h"
#include "http_server.h"
#include "log.h"
#include "migrate.h"
#include "store_pg.h"
#include "util.h"

#define HEALTH_CACHE_MS 1000

struct instance *daemon_find_instance(struct daemon *daemon, const char *name)
{
    for (size_t i = 0; i < daemon->instance_count; i++) {
        if (strcmp(daemon->instances[i].name, name) == 0) {
            return &daemon->instances[i];
        }
    }
    return NULL;
}

/*
 * Loads the plugins and binds every enabled instance to its plugin with validated
 * settings: the same checks as `leadhubd check-config`. A refused plugin that an instance
 * uses, an unknown plugin or invalid settings stop start-up (EXIT_INVALID).
 */
static int setup_instances(struct daemon *daemon)
{
    const struct config *config = daemon->config;
    struct diag_list diags = {0};
    int rc = EXIT_RUNTIME;
    json_t **settings = calloc(config->instance_count + 1, sizeof(*settings));
    daemon->instances = calloc(config->instance_count + 1, sizeof(*daemon->instances));
    if (settings == NULL || daemon->instances == NULL) {
        log_error("out of memory");
        goto out;
    }
    binding_load_plugins(config, &daemon->plugins, &diags);
    binding_check_instances(config, &daemon->plugins, false, settings, &diags);
    metrics_gauge_set(daemon->metrics, "leadhub_plugins_loaded", "Plugins loaded.",
                      (double)daemon->plugins.count, METRICS_END);
    metrics_gauge_set(daemon->metrics, "leadhub_plugins_refused", "Plugin files refused.",
                      (double)daemon->plugins.refused_count, METRICS_END);
    diag_log(&diags);
    if (diag_error_count(&diags) > 0) {
        rc = EXIT_INVALID;
        goto out;
    }
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        if (!ci->enabled) {
            log_write(LOG_LEVEL_INFO, ci->plugin, ci->name, NULL, "instance disabled");
            continue;
        }
        struct instance *instance = &daemon->instances[daemon->instance_count];
        if (instance_setup(instance, ci, loader_find(&daemon->plugins, ci->plugin), settings[i],
                           &daemon->services) != 0) {
            log_error("out of memory");
            goto out;
        }
        settings[i] = NULL; /* the instance owns them now */
        daemon->instance_count++;
    }
    rc = 0;
out:
    for (size_t i = 0; settings != NULL && i < config->instance_count; i++) {
        json_decref(settings[i]);
    }
    free(settings);
    diag_list_free(&diags);
    return rc;
}

static int migrate_database(struct daemon *daemon)
{
    char *error = NULL;
    struct store *store = store_open(daemon->config->database_url, &error);
    if (store == NULL) {
        char *where = store_redact_url(daemon->config->database_url);
        log_error("cannot connect to the database %s: %s", where ? where : "", error);
        free(where);
        free(error);
        return EXIT_RUNTIME;
    }
    int applied = 0;
    int rc = migrate_apply(store_connection(store), &applied, &error);
    if (rc != 0) {
        log_error("%s", error);
        free(error);
        store_close(store);
        return EXIT_RUNTIME;
    }
    if (applied > 0) {
        log_info("applied %d database migration(s)", applied);
    }
    store_close(store);
    return 0;
}

int daemon_start(struct daemon *daemon, struct config *config)
{
    memset(daemon, 0, sizeof(*daemon));
    daemon->config = config;
    atomic_init(&daemon->stopping, false);
    pthread_mutex_init(&daemon->health_mutex, NULL);
    pthread_mutex_init(&daemon->services.store_mutex, NULL);
    daemon->metrics = metrics_create();
    if (daemon->metrics == NULL) {
        log_error("out of memory");
        return EXIT_RUNTIME;
    }
    daemon->services.metrics = daemon->metrics;
    daemon->services.stopping = &daemon->stopping;
    daemon->services.database_url = config->database_url;

    int rc = setup_instances(daemon);
    if (rc != 0 || (rc = migrate_database(daemon)) != 0) {
        return rc;
    }
    struct ingest_options options = {
        .database_url = config->database_url,
        .writers = config->ingest_writers,
        .batch_max = config->ingest_batch_max,
        .queue_max = config->ingest_queue_max,
        .metrics = daemon->metrics,
    };
    daemon->ingest = ingest_start(&options);
    if (daemon->ingest == NULL) {
        log_error("cannot start the ingest writers");
        return EXIT_RUNTIME;
    }
    daemon->services.ingest = daemon->ingest;

    for (size_t i = 0; i < daemon->instance_count; i++) {
        /* A failed init leaves the instance unready (see /readyz); the daemon serves the
         * others rather than refusing to start over one provider's outage. */
        instance_init(&daemon->instances[i]);
    }

    char *error = NULL;
    daemon->http = http_server_start(daemon, &error);
    if (daemon->http == NULL) {
        log_error("%s", error);
        free(error);
        return EXIT_RUNTIME;
    }
    json_t *fields =
        json_pack("{s:s,s:i,s:I,s:I}", "host", config->listen_host, "port",
                  http_server_port(daemon->http), "instances", (json_int_t)daemon->instance_count,
                  "plugins", (json_int_t)daemon->plugins.count);
    log_write(LOG_LEVEL_INFO, NULL, NULL, fields, "leadhubd %s listening on %s:%d", LEADHUB_VERSION,
              config->listen_host, http_server_port(daemon->http));
    json_decref(fields);
    return 0;
}

/* Probes the database (at most once per HEALTH_CACHE_MS). Called with health_mutex held. */
static void probe_database(struct daemon *daemon)
{
    int64_t now = util_monotonic_ms();
    if (daemon->health_checked_ms != 0 && now - daemon->health_checked_ms < HEALTH_CACHE_MS) {
        return;
    }
    daemon->health_checked_ms = now;
    free(daemon->health_database_detail);
    daemon->health_database_detail = NULL;
    daemon->health_database_ok = false;
    char *error = NULL;
    if (daemon->health_store == NULL) {
        daemon->health_store = store_open(daemon->config->database_url, &error);
    } else if (store_ensure(daemon->health_store, &error) != STORE_OK) {
        store_close(daemon->health_store);
        daemon->health_store = NULL;
    }
    if (daemon->health_store == NULL) {
        daemon->health_database_detail = util_printf("unreachable: %s", error ? error : "?");
        free(error);
        return;
    }
    int current = 0, latest = 0;
    if (migrate_status(store_connection(daemon->health_store), &current, &latest) != 0) {
        daemon->health_database_detail = strdup("unreachable: cannot read schema_migrations");
    } else if (current != latest) {
        daemon->health_database_detail =
            util_printf("schema at version %d, this leadhubd needs %d", current, latest);
    } else {
        daemon->health_database_ok = true;
        daemon->health_database_detail = strdup("ok");
    }
}

bool daemon_readiness(struct daemon *daemon, json_t **detail_out)
{
    json_t *detail = json_object();
    json_t *instances = json_object();
    bool ready = !atomic_load(&daemon->stopping);

    pthread_mutex_lock(&daemon->health_mutex);
    probe_database(daemon);
    /* The writers learn of an outage at once, the probe within a second: either will do. */
    bool writers_up = daemon->ingest == NULL || ingest_database_up(daemon->ingest);
    ready = ready && daemon->health_database_ok && writers_up;
    json_object_set_new(detail, "database",
                        json_string(!writers_up ? "unreachable: the last commit failed"
                                    : daemon->health_database_detail
                                        ? daemon->health_database_detail
                                        : "unknown"));
    pthread_mutex_unlock(&daemon->health_mutex);

    for (size_t i = 0; i < daemon->instance_count; i++) {
        const struct instance *instance = &daemon->instances[i];
        bool ok = atomic_load(&instance->initialized);
        ready = ready && ok;
        json_object_set_new(
            instances, instance->name,
            json_string(ok ? "ok"
                           : (instance->last_error ? instance->last_error : "not initialized")));
    }
    json_object_set_new(detail, "instances", instances);
    json_object_set_new(detail, "status", json_string(ready ? "ready" : "not_ready"));
    *detail_out = detail;
    return ready;
}

void daemon_stop(struct daemon *daemon)
{
    atomic_store(&daemon->stopping, true);
    if (daemon->http != NULL) {
        http_server_quiesce(daemon->http);
        unsigned left = http_server_wait_idle(daemon->http, daemon->config->shutdown_grace_ms);
        if (left > 0) {
            log_warn("%u request(s) still in flight after the shutdown grace period", left);
        }
    }
    /* Commits whatever is queued: every request still suspended gets its answer. */
    ingest_stop(daemon->ingest);
    daemon->ingest = NULL;
    http_server_stop(daemon->http);
    daemon->http = NULL;
    for (size_t i = 0; i < daemon->instance_count; i++) {
        instance_teardown(&daemon->instances[i]);
    }
    free(daemon->instances);
    daemon->instances = NULL;
    loader_free(&daemon->plugins);
    store_close(daemon->services.store);
    store_close(daemon->health_store);
    free(daemon->health_database_detail);
    pthread_mutex_destroy(&daemon->services.store_mutex);
    pthread_mutex_destroy(&daemon->health_mutex);
    metrics_free(daemon->metrics);
    config_free(daemon->config);
    memset(daemon, 0, sizeof(*daemon));
}
