/*
 * daemon_reload.c - SIGHUP. The new configuration is checked in full before anything
 * changes; then instances are compared by name: an unchanged one (same plugin, same
 * normalized settings, same poll interval) keeps running untouched, a removed or changed
 * one is retired (its poller and lane stop after the work in flight; requests holding it
 * finish with it), and an added or changed one starts. Until every instance is in place,
 * a webhook for one that goes or comes answers 503 with Retry-After, not 404. Resolved
 * secrets are part of the normalized settings, so a rotated ${file:} secret restarts its
 * instance too.
 *
 * Main-file settings that shape the process itself (database_url, listen, http, ingest,
 * delivery) are read at start only; a reload says so when they changed.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon_internal.h"
#include "log.h"
#include "seal.h"
#include "util.h"

/* The settings of the new config's instance `name`, if it exists and is enabled. */
static const struct config_instance *new_instance(const struct config *config, const char *name,
                                                  size_t *index_out)
{
    for (size_t i = 0; i < config->instance_count; i++) {
        if (config->instances[i].enabled && strcmp(config->instances[i].name, name) == 0) {
            *index_out = i;
            return &config->instances[i];
        }
    }
    return NULL;
}

static bool unchanged(const struct instance *instance, const struct config_instance *ci,
                      const json_t *settings)
{
    return strcmp(instance->plugin->name, ci->plugin) == 0 &&
           instance->poll_interval_ms == ci->poll_interval_ms &&
           json_equal(instance->settings, (json_t *)settings);
}

static void warn_restart_only(const struct config *old, const struct config *new)
{
    if (strcmp(old->database_url, new->database_url) != 0 ||
        strcmp(old->listen_host, new->listen_host) != 0 || old->listen_port != new->listen_port ||
        old->http_body_limit != new->http_body_limit ||
        old->ingest_writers != new->ingest_writers ||
        old->ingest_batch_max != new->ingest_batch_max ||
        memcmp(&old->delivery, &new->delivery, sizeof(old->delivery)) != 0) {
        log_warn("reload: database_url, listen, http, ingest and delivery settings apply at the "
                 "next restart");
    }
}

/* secrets_key is read at start only: sealed values of every instance depend on it. */
static void warn_keys_changed(const struct daemon *daemon, const struct config *new)
{
    char *running = seal_keyring_ids(daemon->keyring);
    char *wanted = seal_keyring_ids(new->keyring);
    if ((running == NULL) != (wanted == NULL) ||
        (running != NULL && wanted != NULL && strcmp(running, wanted) != 0)) {
        log_warn("reload: secrets_key applies at the next restart (restart every replica to "
                 "rotate the key)");
    }
    free(running);
    free(wanted);
}

static int reload(struct daemon *daemon, const char *config_path);

int daemon_reload(struct daemon *daemon, const char *config_path)
{
    /* no init retry swaps an instance while this one sorts and restarts them */
    pthread_mutex_lock(&daemon->control_mutex);
    int rc = reload(daemon, config_path);
    pthread_mutex_unlock(&daemon->control_mutex);
    return rc;
}

static int reload(struct daemon *daemon, const char *config_path)
{
    struct diag_list diags = {0};
    struct config *config = NULL;
    json_t **settings = NULL;
    size_t settings_count = 0;
    struct router *router = NULL;
    struct scoring_plan *plan = NULL;
    struct instance **kept = NULL;
    struct instance **retired = NULL;
    size_t kept_count = 0, retired_count = 0, started = 0;
    int rc = -1;

    log_info("SIGHUP: reloading %s", config_path);
    if (config_load(config_path, &config, &diags) != 0) {
        diag_log(&diags);
        log_error("reload refused: the configuration has errors; the running one stays");
        goto out;
    }
    diag_log(&diags);
    settings_count = config->instance_count;
    settings = calloc(settings_count + 1, sizeof(*settings));
    if (settings == NULL || daemon_check_config(daemon, config, settings, &router, &plan) != 0) {
        log_error("reload refused: the configuration has errors; the running one stays");
        goto out;
    }
    warn_restart_only(daemon->config, config);
    warn_keys_changed(daemon, config);

    /* Sort the running instances into kept and retired, under the write lock. */
    pthread_rwlock_wrlock(&daemon->instances_lock);
    kept = calloc(config->instance_count + 1, sizeof(*kept));
    retired = calloc(daemon->instance_count + 1, sizeof(*retired));
    if (kept == NULL || retired == NULL) {
        pthread_rwlock_unlock(&daemon->instances_lock);
        log_error("reload refused: out of memory");
        goto out;
    }
    bool *taken = calloc(config->instance_count + 1, sizeof(*taken));
    json_t *swapping = json_object(); /* what goes or comes: 503 meanwhile, never 404 */
    for (size_t i = 0; i < daemon->instance_count; i++) {
        struct instance *instance = daemon->instances[i];
        size_t index = 0;
        const struct config_instance *ci = new_instance(config, instance->name, &index);
        if (ci != NULL && taken != NULL && unchanged(instance, ci, settings[index])) {
            kept[kept_count++] = instance;
            taken[index] = true;
        } else {
            retired[retired_count++] = instance;
            json_object_set_new(swapping, instance->name, json_true());
        }
    }
    for (size_t i = 0; i < config->instance_count; i++) {
        if (config->instances[i].enabled && (taken == NULL || !taken[i])) {
            json_object_set_new(swapping, config->instances[i].name, json_true());
        }
    }
    struct instance **previous = daemon->instances;
    daemon->instances = kept;
    daemon->instance_count = kept_count;
    daemon->swapping = swapping;
    kept = NULL;
    pthread_rwlock_unlock(&daemon->instances_lock);
    free(previous);

    /* Stop what goes, after its work in flight; new requests no longer find it. */
    for (size_t i = 0; i < retired_count; i++) {
        log_write(LOG_LEVEL_INFO, retired[i]->plugin->name, retired[i]->name, NULL,
                  "reload: stopping the instance");
        daemon_retire_instance(daemon, retired[i]);
        instance_release(retired[i]);
    }
    /* The routes apply before new sinks start so that nothing routes to a ghost. */
    ingest_set_router(daemon->ingest, router);
    meeting_outcomes_set_router(daemon->meeting_outcomes, router);
    router_release(daemon->router);
    daemon->router = router;
    router = NULL;

    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        if (!ci->enabled || (taken != NULL && taken[i])) {
            continue;
        }
        struct instance *instance = instance_new(ci, loader_find(&daemon->plugins, ci->plugin),
                                                 settings[i], &daemon->services);
        settings[i] = NULL;
        if (instance == NULL) {
            log_error("reload: out of memory starting %s", ci->name);
            continue;
        }
        log_write(LOG_LEVEL_INFO, ci->plugin, ci->name, NULL, "reload: starting the instance");
        daemon_warn_unsealable(daemon, instance);
        daemon_run_instance(daemon, instance);
        pthread_rwlock_wrlock(&daemon->instances_lock);
        daemon->instances[daemon->instance_count++] = instance;
        pthread_rwlock_unlock(&daemon->instances_lock);
        started++;
    }
    free(taken);
    /* every instance is where it will stay: unknown names are 404 again */
    pthread_rwlock_wrlock(&daemon->instances_lock);
    json_decref(daemon->swapping);
    daemon->swapping = NULL;
    pthread_rwlock_unlock(&daemon->instances_lock);
    /* Scorers restart with the new plan; the old engine scores what it has pending. */
    struct scoring *scoring = daemon_start_scoring(daemon, plan);
    plan = NULL;
    if (scoring != NULL) {
        pthread_mutex_lock(&daemon->scoring_mutex);
        struct scoring *old_scoring = daemon->scoring;
        daemon->scoring = scoring;
        pthread_mutex_unlock(&daemon->scoring_mutex);
        scoring_stop(old_scoring);
    } else {
        log_error("reload: the scoring engine could not restart; the previous one stays");
    }
    daemon_load_console(daemon, config);
    pthread_rwlock_wrlock(&daemon->config_lock);
    struct config *old = daemon->config;
    daemon->config = config;
    pthread_rwlock_unlock(&daemon->config_lock);
    config = NULL;
    config_free(old);
    log_info("reload applied: %zu instance(s) kept, %zu stopped, %zu started", kept_count,
             retired_count, started);
    rc = 0;
out:
    /* slots not taken by a new instance (refused, or kept instances' copies) */
    for (size_t i = 0; settings != NULL && i < settings_count; i++) {
        json_decref(settings[i]);
    }
    free(settings);
    free(kept);
    free(retired);
    router_free(router);
    scoring_plan_free(plan);
    config_free(config);
    diag_list_free(&diags);
    return rc;
}
