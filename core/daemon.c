/*
 * daemon.c - start-up and shutdown of the running daemon, and readiness.
 *
 * Start-up order matters: everything that can be checked offline (config, plugins,
 * settings, routes) is checked before the database is touched, so a typo fails fast with
 * the same messages `leadhubd check-config` prints.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"
#include "commands.h"
#include "daemon.h"
#include "daemon_internal.h"
#include "http_console.h"
#include "http_server.h"
#include "log.h"
#include "migrate.h"
#include "oauth_provider.h"
#include "seal.h"
#include "readiness.h"
#include "readiness_checker.h"
#include "schema_policy.h"
#include "store_pg.h"
#include "util.h"

struct instance *daemon_lookup_instance(struct daemon *daemon, const char *name, bool *swapping_out)
{
    struct instance *found = NULL;
    pthread_rwlock_rdlock(&daemon->instances_lock);
    for (size_t i = 0; i < daemon->instance_count && found == NULL; i++) {
        if (strcmp(daemon->instances[i]->name, name) == 0) {
            found = instance_acquire(daemon->instances[i]);
        }
    }
    /* under the same lock: a reload cannot finish between the two answers */
    if (swapping_out != NULL) {
        *swapping_out = found == NULL && json_object_get(daemon->swapping, name) != NULL;
    }
    pthread_rwlock_unlock(&daemon->instances_lock);
    return found;
}

struct instance *daemon_find_instance(struct daemon *daemon, const char *name)
{
    return daemon_lookup_instance(daemon, name, NULL);
}

int daemon_check_config(struct daemon *daemon, const struct config *config, json_t **settings,
                        struct router **router_out, struct scoring_plan **plan_out)
{
    struct diag_list diags = {0};
    *router_out = NULL;
    *plan_out = NULL;
    if (daemon->plugins.count == 0 && daemon->plugins.refused_count == 0) {
        binding_load_plugins(config, &daemon->plugins, &diags);
    }
    binding_check_instances(config, &daemon->plugins, false, settings, &diags);
    struct router *router = router_build(config, &daemon->plugins, &diags);
    struct scoring_plan *plan = scoring_plan_build(config, &daemon->plugins, &diags);
    diag_log(&diags);
    int rc = diag_error_count(&diags) > 0 ? EXIT_INVALID : 0;
    diag_list_free(&diags);
    if (rc != 0) {
        router_free(router);
        scoring_plan_free(plan);
        return rc;
    }
    *router_out = router;
    *plan_out = plan;
    return 0;
}

static void touch_leads(const int64_t *lead_ids, size_t count, void *arg)
{
    struct daemon *daemon = arg;
    pthread_mutex_lock(&daemon->scoring_mutex);
    scoring_touch(daemon->scoring, lead_ids, count);
    pthread_mutex_unlock(&daemon->scoring_mutex);
}

static void wake_destination(const char *destination, void *arg);

struct scoring *daemon_start_scoring(struct daemon *daemon, struct scoring_plan *plan)
{
    struct instance **scorers = calloc(plan->count + 1, sizeof(*scorers));
    if (scorers == NULL) {
        scoring_plan_free(plan);
        return NULL;
    }
    for (size_t i = 0; i < plan->count; i++) {
        const struct scorer_def *def = &plan->scorers[i];
        scorers[i] = instance_new(&def->instance, def->plugin, json_incref(def->settings),
                                  &daemon->services);
        if (scorers[i] != NULL) {
            instance_init(scorers[i]);
        }
    }
    struct scoring_options options = {
        .database_url = daemon->database_url,
        .metrics = daemon->metrics,
        .background = true,
        .on_deliveries = wake_destination,
        .on_deliveries_arg = daemon,
    };
    struct scoring *scoring = scoring_start(&options, plan, scorers);
    if (scoring != NULL) {
        scoring_set_router(scoring, daemon->router);
    }
    return scoring;
}

void daemon_start_instance(struct daemon *daemon, struct instance *instance)
{
    const lh_plugin_t *desc = instance->plugin->desc;
    /* an uninitialized source's poller waits, without the poll lock, for a retry */
    if ((desc->kind & LH_KIND_SOURCE) && desc->poll != NULL) {
        poller_add(daemon->poller, instance);
    }
    /* A sink whose init failed gets no lane: its deliveries wait in the outbox. */
    if ((desc->kind & LH_KIND_SINK) && atomic_load(&instance->initialized)) {
        dispatch_add(daemon->dispatcher, instance);
    }
}

void daemon_run_instance(struct daemon *daemon, struct instance *instance)
{
    instance_init(instance);
    daemon_schedule_init_retry(daemon, instance);
    daemon_start_instance(daemon, instance);
}

void daemon_retire_instance(struct daemon *daemon, struct instance *instance)
{
    const lh_plugin_t *desc = instance->plugin->desc;
    if (desc->kind & LH_KIND_SOURCE) {
        poller_remove(daemon->poller, instance->name);
    }
    if (desc->kind & LH_KIND_SINK) {
        dispatch_remove(daemon->dispatcher, instance->name);
    }
}

/* An instance that takes OAuth consent, without a key to seal its grant with, will have
 * its consent refused: say so at start, not when an operator tries. */
void daemon_warn_unsealable(const struct daemon *daemon, const struct instance *instance)
{
    const lh_oauth_provider_t *provider = oauth_provider_of(instance->plugin->desc);
    const char *id_setting = provider != NULL && provider->client_id_setting != NULL
                                 ? provider->client_id_setting
                                 : "client_id";
    if (daemon->keyring == NULL && provider != NULL &&
        json_object_get(instance->settings, id_setting) != NULL) {
        log_write(LOG_LEVEL_WARN, instance->plugin->name, instance->name, NULL,
                  "this instance takes OAuth consent, and no secrets_key is configured to seal "
                  "its tokens with: consent is refused and rotated tokens are kept in memory "
                  "only; " SEAL_KEY_HINT);
    }
}

/* Creates the instances of `config` (settings validated, indexed like its instances). */
static int create_instances(struct daemon *daemon, const struct config *config, json_t **settings)
{
    daemon->instances = calloc(config->instance_count + 1, sizeof(*daemon->instances));
    if (daemon->instances == NULL) {
        log_error("out of memory");
        return EXIT_RUNTIME;
    }
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        if (!ci->enabled) {
            log_write(LOG_LEVEL_INFO, ci->plugin, ci->name, NULL, "instance disabled");
            continue;
        }
        struct instance *instance = instance_new(ci, loader_find(&daemon->plugins, ci->plugin),
                                                 settings[i], &daemon->services);
        settings[i] = NULL; /* taken, even on failure */
        if (instance == NULL) {
            log_error("out of memory");
            return EXIT_RUNTIME;
        }
        daemon->instances[daemon->instance_count++] = instance;
        daemon_warn_unsealable(daemon, instance);
    }
    return 0;
}

static int migrate_database(struct daemon *daemon)
{
    char *error = NULL;
    struct store *store = store_open(daemon->database_url, &error);
    if (store == NULL) {
        char *where = store_redact_url(daemon->database_url);
        log_error("cannot connect to the database %s: %s", where ? where : "", error);
        free(where);
        free(error);
        return EXIT_RUNTIME;
    }
    /* A contracting migration waits while older replicas serve (held back, not an error):
     * this release runs on the schema as long as schema_policy_judge() says so. */
    const struct schema_policy *policy = schema_policy_current();
    const struct migrate_options options = {.newer_is_fine = true};
    struct migrate_result result = {0};
    struct schema_state state;
    int rc = EXIT_RUNTIME;
    if (migrate_apply_policy(store_connection(store), policy, &options, &result, &error) != 0 ||
        migrate_read_schema(store_connection(store), policy, &state, &error) != 0) {
        log_error("%s", error != NULL ? error : "cannot read the schema version");
        goto out;
    }
    if (result.applied > 0) {
        log_info("applied %d database migration(s)", result.applied);
    }
    if (result.held_reason != NULL) {
        log_warn("%s", result.held_reason);
    }
    char *detail = NULL;
    if (!schema_policy_judge(policy, &state, &detail)) {
        log_error("cannot run on this database: %s", detail);
    } else {
        rc = 0;
    }
    free(detail);
out:
    free(error);
    free(result.held_reason);
    store_close(store);
    return rc;
}

static void wake_destination(const char *destination, void *arg)
{
    struct daemon *daemon = arg;
    dispatch_wake(daemon->dispatcher, destination);
}

static void wake_meeting_outcomes(void *arg)
{
    struct daemon *daemon = arg;
    meeting_outcomes_wake(daemon->meeting_outcomes);
}

/* The writers found the database gone or back: /readyz says so now, not at the next tick.
 * (The checker starts after the writers: until then there is nothing to wake.) */
static void database_state(bool up, void *arg)
{
    (void)up;
    struct daemon *daemon = arg;
    readiness_wake(atomic_load(&daemon->readiness_ready) ? daemon->readiness : NULL);
}

static int start_workers(struct daemon *daemon)
{
    const struct config *config = daemon->config;
    struct ingest_options ingest_options = {
        .database_url = daemon->database_url,
        .writers = config->ingest_writers,
        .batch_max = config->ingest_batch_max,
        .queue_max = config->ingest_queue_max,
        .metrics = daemon->metrics,
        .on_deliveries = wake_destination,
        .on_deliveries_arg = daemon,
        .on_leads = touch_leads,
        .on_leads_arg = daemon,
        .on_meetings = wake_meeting_outcomes,
        .on_meetings_arg = daemon,
        .on_database_state = database_state,
        .on_database_state_arg = daemon,
        .refresh_statistics = true,
    };
    struct dispatch_options dispatch_options = {
        .database_url = daemon->database_url,
        .policy = config->delivery,
        .metrics = daemon->metrics,
    };
    daemon->dispatcher = dispatch_start(&dispatch_options);
    struct meeting_outcomes_options outcome_options = {
        .database_url = daemon->database_url,
        .metrics = daemon->metrics,
        .on_deliveries = wake_destination,
        .on_deliveries_arg = daemon,
    };
    daemon->meeting_outcomes = meeting_outcomes_start(&outcome_options);
    meeting_outcomes_set_router(daemon->meeting_outcomes, daemon->router);
    daemon->ingest = daemon->dispatcher != NULL && daemon->meeting_outcomes != NULL
                         ? ingest_start(&ingest_options)
                         : NULL;
    if (daemon->ingest == NULL) {
        log_error("cannot start the ingest and delivery workers");
        return EXIT_RUNTIME;
    }
    ingest_set_router(daemon->ingest, daemon->router);
    daemon->services.ingest = daemon->ingest;
    struct poller_options poller_options = {
        .database_url = daemon->database_url,
        .replica = daemon->replica,
        .ingest = daemon->ingest,
        .metrics = daemon->metrics,
    };
    daemon->poller = poller_start(&poller_options);
    if (daemon->poller == NULL) {
        log_error("cannot start the poller");
        return EXIT_RUNTIME;
    }
    return 0;
}

void daemon_load_console(struct daemon *daemon, const struct config *config)
{
    if (daemon->console == NULL && (daemon->console = http_console_new()) == NULL) {
        log_error("console: out of memory");
        return;
    }
    char *error = NULL;
    long files = http_console_load(daemon->console, config->console_dir, &error);
    if (files < 0) {
        /* the API and webhooks do not need it: say so and go on */
        log_warn("console: not served from %s: %s", config->console_dir, error);
        free(error);
        return;
    }
    log_info("console: %ld file(s) from %s served at /console/", files, config->console_dir);
}

int daemon_start(struct daemon *daemon, struct config *config)
{
    memset(daemon, 0, sizeof(*daemon));
    daemon->config = config;
    /* before any thread connects: every session the daemon opens gets it */
    store_set_statement_timeout(STORE_STATEMENT_TIMEOUT_MS);
    atomic_init(&daemon->stopping, false);
    atomic_init(&daemon->started, false);
    pthread_rwlock_init(&daemon->instances_lock, NULL);
    pthread_rwlock_init(&daemon->config_lock, NULL);
    pthread_mutex_init(&daemon->scoring_mutex, NULL);
    pthread_mutex_init(&daemon->gauges_mutex, NULL);
    pthread_mutex_init(&daemon->services.store_mutex, NULL);
    pthread_mutex_init(&daemon->control_mutex, NULL);
    pthread_mutex_init(&daemon->retry_mutex, NULL);
    pthread_cond_init(&daemon->retry_cond, NULL);
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(daemon->replica, sizeof(daemon->replica), "%s:%d", host, (int)getpid());
    daemon->database_url = strdup(config->database_url);
    daemon->keyring = config->keyring; /* taken: a reload cannot change it */
    config->keyring = NULL;
    daemon->services.keyring = daemon->keyring;
    daemon->shutdown_grace_ms = config->shutdown_grace_ms;
    daemon->metrics = metrics_create();
    json_t **settings = calloc(config->instance_count + 1, sizeof(*settings));
    if (daemon->database_url == NULL || daemon->metrics == NULL || settings == NULL) {
        free(settings);
        log_error("out of memory");
        return EXIT_RUNTIME;
    }
    daemon->services.metrics = daemon->metrics;
    daemon->services.stopping = &daemon->stopping;
    daemon->services.database_url = daemon->database_url;

    struct scoring_plan *plan = NULL;
    int rc = daemon_check_config(daemon, config, settings, &daemon->router, &plan);
    metrics_gauge_set(daemon->metrics, "leadhub_plugins_loaded", "Plugins loaded.",
                      (double)daemon->plugins.count, METRICS_END);
    metrics_gauge_set(daemon->metrics, "leadhub_plugins_refused", "Plugin files refused.",
                      (double)daemon->plugins.refused_count, METRICS_END);
    if (rc == 0) {
        rc = create_instances(daemon, config, settings);
    }
    for (size_t i = 0; i < config->instance_count; i++) {
        json_decref(settings[i]);
    }
    free(settings);
    if (rc != 0 || (rc = migrate_database(daemon)) != 0 || (rc = start_workers(daemon)) != 0) {
        scoring_plan_free(plan);
        return rc;
    }
    daemon->scoring = daemon_start_scoring(daemon, plan);
    if (daemon->scoring == NULL) {
        log_error("cannot start the scoring engine");
        return EXIT_RUNTIME;
    }
    daemon->control_seed = (unsigned)util_monotonic_ms() ^ (unsigned)getpid();
    pthread_mutex_lock(&daemon->control_mutex);
    for (size_t i = 0; i < daemon->instance_count; i++) {
        /* A failed init leaves the instance unready (see /readyz); the daemon serves the
         * others rather than refusing to start over one provider's outage, and tries a
         * transient failure again (daemon_retry.c). */
        daemon_run_instance(daemon, daemon->instances[i]);
    }
    pthread_mutex_unlock(&daemon->control_mutex);
    if (daemon_init_retry_start(daemon) != 0) {
        log_error("cannot start the init retry thread");
        return EXIT_RUNTIME;
    }

    daemon->readiness = readiness_start(daemon);
    if (daemon->readiness == NULL) {
        log_error("cannot start the readiness checker");
        return EXIT_RUNTIME;
    }
    atomic_store(&daemon->readiness_ready, true);
    daemon_load_console(daemon, config);
    char *error = NULL;
    daemon->http = http_server_start(daemon, &error);
    if (daemon->http == NULL) {
        log_error("%s", error);
        free(error);
        return EXIT_RUNTIME;
    }
    json_t *fields =
        json_pack("{s:s,s:i,s:I,s:I,s:I,s:s}", "host", config->listen_host, "port",
                  http_server_port(daemon->http), "instances", (json_int_t)daemon->instance_count,
                  "plugins", (json_int_t)daemon->plugins.count, "routes",
                  (json_int_t)router_count(daemon->router), "replica", daemon->replica);
    if (fields != NULL && config->admin_listen_host != NULL) {
        json_object_set_new(fields, "admin_host", json_string(config->admin_listen_host));
        json_object_set_new(fields, "admin_port",
                            json_integer(http_server_admin_port(daemon->http)));
    }
    log_write(LOG_LEVEL_INFO, NULL, NULL, fields, "leadhubd %s listening on %s:%d", LEADHUB_VERSION,
              config->listen_host, http_server_port(daemon->http));
    json_decref(fields);
    poller_open(daemon->poller); /* a first poll's callbacks find the webhooks answering */
    atomic_store(&daemon->started, true);
    readiness_refresh(daemon->readiness); /* no longer "starting", from now on */
    return 0;
}

/* leadhub_instance_up{instance}: 1 for an enabled instance that initialized, 0 for one that
 * did not, is disabled, or was removed by a reload. Called before /metrics renders. */
void daemon_refresh_gauges(struct daemon *daemon)
{
    static const char name[] = "leadhub_instance_up";
    static const char help[] = "1 when the connector instance is initialized and running here.";
    pthread_rwlock_rdlock(&daemon->config_lock);
    const struct config *config = daemon->config;
    json_t *now = json_object();
    for (size_t i = 0; i < config->instance_count && now != NULL; i++) {
        json_object_set_new(now, config->instances[i].name, json_false());
    }
    pthread_rwlock_unlock(&daemon->config_lock);
    pthread_rwlock_rdlock(&daemon->instances_lock);
    for (size_t i = 0; i < daemon->instance_count && now != NULL; i++) {
        struct instance *instance = daemon->instances[i];
        json_object_set_new(now, instance->name, json_boolean(atomic_load(&instance->initialized)));
    }
    pthread_rwlock_unlock(&daemon->instances_lock);
    if (now == NULL) {
        return;
    }
    pthread_mutex_lock(&daemon->gauges_mutex);
    const char *key;
    json_t *value;
    json_object_foreach(now, key, value)
    {
        metrics_gauge_set(daemon->metrics, name, help, json_is_true(value) ? 1 : 0, "instance", key,
                          METRICS_END);
    }
    /* names shown before and gone now keep a series: it says 0 */
    if (daemon->gauged_instances != NULL) {
        json_object_foreach(daemon->gauged_instances, key, value)
        {
            if (json_object_get(now, key) == NULL) {
                metrics_gauge_set(daemon->metrics, name, help, 0, "instance", key, METRICS_END);
                json_object_set_new(now, key, json_false());
            }
        }
    }
    json_decref(daemon->gauged_instances);
    daemon->gauged_instances = now;
    pthread_mutex_unlock(&daemon->gauges_mutex);
}

bool daemon_readiness(struct daemon *daemon, const struct readiness_probe *probe,
                      json_t **detail_out)
{
    json_t *detail = json_object();
    json_t *instances = json_object();
    struct readiness_facts facts = {
        .starting = !atomic_load(&daemon->started),
        .stopping = atomic_load(&daemon->stopping),
    };

    /* The writers learn of an outage at once, the probe within a second: either will do. */
    facts.writers_up = daemon->ingest == NULL || ingest_database_up(daemon->ingest);
    facts.database_reachable = probe->done && probe->reachable;
    facts.schema_compatible = probe->schema_compatible;
    json_object_set_new(detail, "database",
                        json_string(!facts.writers_up ? "unreachable: the last commit failed"
                                    : !probe->done    ? "unknown"
                                                      : probe->detail));

    pthread_rwlock_rdlock(&daemon->config_lock);
    facts.require_connectors = daemon->config->readiness_require_connectors;
    pthread_rwlock_unlock(&daemon->config_lock);

    json_t *polls = json_object();
    json_t *consent = json_object();
    pthread_rwlock_rdlock(&daemon->instances_lock);
    for (size_t i = 0; i < daemon->instance_count; i++) {
        struct instance *instance = daemon->instances[i];
        json_t *poll = instance_poll_status(instance);
        if (poll != NULL) {
            json_object_set_new(polls, instance->name, poll);
        }
        /* atomic: a refresh in progress holds the OAuth2 mutex */
        if (atomic_load(&instance->oauth2.state) == INSTANCE_TOKEN_NEEDS_CONSENT) {
            json_object_set_new(consent, instance->name,
                                json_pack("{s:s,s:s++}", "state", "needs_consent", "action",
                                          "run `leadhubd connect ", instance->name,
                                          "` (or POST /v1/connectors/{name}/connect)"));
        }
        bool ok = atomic_load(&instance->initialized);
        facts.instances_failed += !ok;
        json_object_set_new(
            instances, instance->name,
            json_string(ok ? "ok"
                           : (instance->last_error ? instance->last_error : "not initialized")));
    }
    pthread_rwlock_unlock(&daemon->instances_lock);
    json_object_set_new(detail, "instances", instances);
    bool scorers_ok = true;
    pthread_mutex_lock(&daemon->scoring_mutex);
    json_object_set_new(detail, "scorers", scoring_status(daemon->scoring, &scorers_ok));
    pthread_mutex_unlock(&daemon->scoring_mutex);
    facts.scorers_failed = scorers_ok ? 0 : 1;
    /* A poll failing (a revoked key, a provider outage) is shown, but does not take the
     * replica out of service: its webhooks and other connectors still work. */
    json_object_set_new(detail, "polls", polls);
    /* Likewise an instance whose OAuth grant is missing or was refused: only a person can
     * give it again (docs/cli.md, connect). */
    json_object_set_new(detail, "consent", consent);
    if (daemon->dispatcher != NULL) {
        json_object_set_new(detail, "deliveries", dispatch_status(daemon->dispatcher));
    }
    const char *reason = NULL;
    bool ready = readiness_decide(&facts, &reason);
    json_object_set_new(detail, "status", json_string(ready ? "ready" : "not_ready"));
    if (reason != NULL) {
        json_object_set_new(detail, "reason", json_string(reason));
    }
    *detail_out = detail;
    return ready;
}

void daemon_stop(struct daemon *daemon)
{
    atomic_store(&daemon->stopping, true);
    readiness_refresh(daemon->readiness); /* unready from now on, not within a tick */
    int64_t deadline = util_monotonic_ms() + daemon->shutdown_grace_ms;
    /* Stop claiming first: deliveries in flight finish while the rest drains, and nothing
     * new is sent by a daemon on its way out (what ingest still commits waits for the
     * next start, or another replica). */
    dispatch_quiesce(daemon->dispatcher);
    /* no instance starts any more (an init in progress finishes first) */
    daemon_init_retry_stop(daemon);
    if (daemon->http != NULL) {
        http_server_quiesce(daemon->http);
        unsigned left = http_server_wait_idle(daemon->http, daemon->shutdown_grace_ms);
        if (left > 0) {
            log_warn("%u request(s) still in flight after the shutdown grace period", left);
        }
    }
    int64_t left_ms = deadline - util_monotonic_ms();
    /* Polls go first: they commit through ingest. */
    bool clean = poller_stop(daemon->poller, left_ms > 0 ? left_ms : 0);
    /* No late worker submits to it any more; then it commits whatever is queued: every
     * request still suspended gets its answer. */
    http_server_detach_ingest(daemon->http);
    ingest_stop(daemon->ingest);
    daemon->ingest = NULL;
    /* The checker reads the scorers and the dispatcher: its thread ends before they are
     * freed (its last verdict, "stopping", stays readable until readiness_stop). */
    readiness_halt(daemon->readiness);
    /* Scores what ingest just committed, then stops. */
    scoring_stop(daemon->scoring);
    daemon->scoring = NULL;
    meeting_outcomes_stop(daemon->meeting_outcomes);
    daemon->meeting_outcomes = NULL;
    left_ms = deadline - util_monotonic_ms();
    clean &= dispatch_stop(daemon->dispatcher, left_ms > 0 ? left_ms : 0);
    left_ms = deadline - util_monotonic_ms();
    if (http_server_stop(daemon->http, left_ms > 0 ? left_ms : 0)) {
        daemon->http = NULL;
        /* no HTTP thread is left to read the console's files */
        http_console_free(daemon->console);
        daemon->console = NULL;
    } else {
        clean = false;
    }
    atomic_store(&daemon->readiness_ready, false);
    readiness_stop(daemon->readiness);
    daemon->readiness = NULL;
    if (!clean) {
        /* A sink or poll call outlived the grace period: its thread still uses its
         * instance, so nothing more is freed; the process exits around it. */
        return;
    }
    for (size_t i = 0; i < daemon->instance_count; i++) {
        instance_release(daemon->instances[i]);
    }
    free(daemon->instances);
    json_decref(daemon->swapping);
    router_release(daemon->router);
    loader_free(&daemon->plugins);
    store_close(daemon->services.store);
    json_decref(daemon->gauged_instances);
    free(daemon->database_url);
    seal_keyring_free(daemon->keyring);
    pthread_mutex_destroy(&daemon->services.store_mutex);
    pthread_cond_destroy(&daemon->retry_cond);
    pthread_mutex_destroy(&daemon->retry_mutex);
    pthread_mutex_destroy(&daemon->control_mutex);
    pthread_rwlock_destroy(&daemon->instances_lock);
    pthread_rwlock_destroy(&daemon->config_lock);
    pthread_mutex_destroy(&daemon->scoring_mutex);
    pthread_mutex_destroy(&daemon->gauges_mutex);
    metrics_free(daemon->metrics);
    config_free(daemon->config);
    memset(daemon, 0, sizeof(*daemon));
}
