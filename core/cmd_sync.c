/*
 * cmd_sync.c - `leadhubd sync INSTANCE`: poll a source instance now.
 *
 * If a running replica polls the instance (it holds the instance's poll lease), the
 * command asks that replica through NOTIFY and waits for connector_status to show the poll
 * finished; otherwise it takes the lease itself and runs the poll in this process, with
 * the same code the daemon uses, committing events, checkpoints and deliveries together.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "binding.h"
#include "commands.h"
#include "config.h"
#include "ingest.h"
#include "log.h"
#include "poll_lease.h"
#include "poller.h"
#include "router.h"
#include "store_pg.h"
#include "util.h"

static const char sync_usage[] =
    "Usage: leadhubd sync INSTANCE [-c FILE] [--timeout DUR]\n"
    "\n"
    "Polls the source instance INSTANCE now. When a running leadhubd polls it, that replica\n"
    "is asked to (through PostgreSQL NOTIFY) and the command waits for the result; otherwise\n"
    "the poll runs here, exactly as the daemon would run it.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE     main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -t, --timeout DUR     how long to wait for a replica's poll (default 60s)\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit codes: 0 the poll succeeded (its outcome and new events are printed); 1 invalid\n"
    "configuration, or INSTANCE is not a polling source; 2 bad command line; 3 the poll\n"
    "failed, timed out, or the database is unreachable.\n";

static const char sql_status[] =
    "SELECT last_poll_finished_at >= $2::timestamptz, coalesce(last_poll_outcome, ''), "
    "coalesce(last_poll_events, 0), coalesce(last_error, ''), coalesce(owner, '') "
    "FROM connector_status WHERE instance = $1";

static PGresult *exec(PGconn *conn, const char *sql, int count, const char *const *params)
{
    PGresult *res = PQexecParams(conn, sql, count, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        fprintf(stderr, "leadhubd sync: %s", PQerrorMessage(conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Ask the replica that owns the instance, and wait for its poll. */
static int ask_owner(PGconn *conn, const char *name, int64_t timeout_ms)
{
    PGresult *res = exec(conn, "SELECT now()", 0, NULL);
    if (res == NULL) {
        return EXIT_RUNTIME;
    }
    char asked_at[64];
    snprintf(asked_at, sizeof(asked_at), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    char *channel = poller_sync_channel(name);
    const char *notify[] = {channel};
    res = exec(conn, "SELECT pg_notify($1, '')", 1, notify);
    free(channel);
    if (res == NULL) {
        return EXIT_RUNTIME;
    }
    PQclear(res);
    printf("%s is polled by a running leadhubd; asked it to poll now\n", name);
    int64_t deadline = util_monotonic_ms() + timeout_ms;
    const char *params[] = {name, asked_at};
    while (util_monotonic_ms() < deadline) {
        res = exec(conn, sql_status, 2, params);
        if (res == NULL) {
            return EXIT_RUNTIME;
        }
        if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
            const char *outcome = PQgetvalue(res, 0, 1);
            printf("%s: poll by %s: %s, %s new event(s)%s%s\n", name, PQgetvalue(res, 0, 4),
                   outcome, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3)[0] ? ": " : "",
                   PQgetvalue(res, 0, 3));
            int rc = strcmp(outcome, "ok") == 0 ? EXIT_OK : EXIT_RUNTIME;
            PQclear(res);
            return rc;
        }
        PQclear(res);
        struct timespec pause = {0, 250 * 1000000L};
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "leadhubd sync: no poll of %s finished within the timeout\n", name);
    return EXIT_RUNTIME;
}

/* This process's name as a poll owner. */
static void local_replica(char *out, size_t out_size)
{
    char host[64] = "localhost";
    gethostname(host, sizeof(host) - 1);
    snprintf(out, out_size, "sync@%s:%d", host, (int)getpid());
}

/* Run the poll here, holding the instance's lease. */
static int poll_here(PGconn *conn, const struct config *config, const struct config_instance *ci,
                     const struct plugin *plugin, json_t *settings, struct router *router,
                     const char *replica, const struct poll_lease *lease)
{
    atomic_bool stopping;
    atomic_init(&stopping, false);
    struct host_services services = {
        .stopping = &stopping, .database_url = config->database_url, .keyring = config->keyring};
    pthread_mutex_init(&services.store_mutex, NULL);
    services.metrics = metrics_create();
    struct ingest_options options = {.database_url = config->database_url,
                                     .writers = 1,
                                     .batch_max = config->ingest_batch_max,
                                     .queue_max = config->ingest_queue_max,
                                     .metrics = services.metrics};
    struct ingest *ingest = ingest_start(&options);
    struct instance *instance = instance_new(ci, plugin, settings, &services);
    int rc = EXIT_RUNTIME;
    if (ingest == NULL || instance == NULL) {
        fprintf(stderr, "leadhubd sync: out of memory\n");
        goto out;
    }
    ingest_set_router(ingest, router);
    services.ingest = ingest;
    if (instance_init(instance) != LH_OK) {
        fprintf(stderr, "leadhubd sync: %s: %s\n", ci->name,
                instance->last_error ? instance->last_error : "init failed");
        goto out;
    }
    struct poll_result result;
    poller_run_once(instance, ingest, conn, replica, lease, services.metrics, NULL, &result);
    printf("%s: polled here: %s, %u event(s), %u new%s%s\n", ci->name, result.outcome,
           result.events, result.new_events, result.error ? ": " : "",
           result.error ? result.error : "");
    rc = result.status == LH_OK ? EXIT_OK : EXIT_RUNTIME;
    poll_result_clear(&result);
out:
    instance_release(instance);
    ingest_stop(ingest);
    metrics_free(services.metrics);
    store_close(services.store);
    pthread_mutex_destroy(&services.store_mutex);
    return rc;
}

/* "a, b" of the enabled instances whose plugin polls, or NULL for none; malloc'd. */
static char *polling_instances(const struct config *config, const struct plugin_registry *plugins)
{
    struct strbuf sb = {0};
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        const struct plugin *plugin = loader_find(plugins, ci->plugin);
        if (ci->enabled && plugin != NULL && plugin->desc->poll != NULL) {
            strbuf_appendf(&sb, "%s%s", sb.len > 0 ? ", " : "", ci->name);
        }
    }
    return strbuf_take(&sb);
}

/* Why `sync NAME` cannot poll: no such instance, disabled, or its plugin does not poll. */
static void explain_not_polling(const struct config *config, const struct plugin_registry *plugins,
                                const char *name, const struct config_instance *ci,
                                const struct plugin *plugin, const char *path)
{
    char *polling = polling_instances(config, plugins);
    const char *list = polling != NULL && polling[0] != '\0' ? polling : "none";
    if (ci == NULL) {
        fprintf(stderr, "leadhubd sync: no instance named \"%s\" in %s\n", name, path);
    } else if (!ci->enabled) {
        fprintf(stderr, "leadhubd sync: instance \"%s\" is disabled (enabled: false in %s)\n", name,
                ci->file);
    } else if (plugin != NULL && plugin->desc->webhook != NULL) {
        fprintf(stderr,
                "leadhubd sync: instance \"%s\" exists but does not poll: its plugin %s takes "
                "events by webhook only (POST /webhooks/%s)\n",
                name, ci->plugin, name);
    } else {
        fprintf(stderr,
                "leadhubd sync: instance \"%s\" exists but does not poll: its plugin %s is a %s\n",
                name, ci->plugin, plugin != NULL ? loader_kind_name(plugin->desc->kind) : "?");
    }
    fprintf(stderr, "  instances that poll: %s\n", list);
    free(polling);
}

int cmd_sync(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = commands_default_config();
    int64_t timeout_ms = 60000;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:t:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            if (util_parse_duration_ms(optarg, &timeout_ms) != 0) {
                fprintf(stderr, "leadhubd sync: --timeout takes a duration such as 30s\n");
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(sync_usage, stdout);
            return EXIT_OK;
        default:
            fputs(sync_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "leadhubd sync: name one source instance\n\n%s", sync_usage);
        return EXIT_USAGE;
    }
    const char *name = argv[optind];

    struct diag_list diags = {0};
    struct config *config = NULL;
    struct plugin_registry plugins = {0};
    struct router *router = NULL;
    json_t **settings = NULL;
    PGconn *conn = NULL;
    int rc = EXIT_INVALID;
    log_set_stream(stderr);
    if (config_load(path, &config, &diags) != 0) {
        goto out;
    }
    binding_load_plugins(config, &plugins, &diags);
    settings = calloc(config->instance_count + 1, sizeof(*settings));
    if (settings == NULL) {
        goto out;
    }
    binding_check_instances(config, &plugins, false, settings, &diags);
    router = router_build(config, &plugins, &diags);
    if (diag_error_count(&diags) > 0 || router == NULL) {
        goto out;
    }
    size_t index = config->instance_count;
    for (size_t i = 0; i < config->instance_count; i++) {
        if (strcmp(config->instances[i].name, name) == 0) {
            index = i;
        }
    }
    const struct config_instance *ci =
        index < config->instance_count ? &config->instances[index] : NULL;
    const struct plugin *plugin = ci != NULL ? loader_find(&plugins, ci->plugin) : NULL;
    if (ci == NULL || !ci->enabled || plugin == NULL || plugin->desc->poll == NULL) {
        explain_not_polling(config, &plugins, name, ci, plugin, path);
        goto out;
    }
    char *why = NULL;
    conn = store_connect(config->database_url, &why);
    if (conn == NULL) {
        char *shown = store_redact_url(config->database_url);
        fprintf(stderr, "leadhubd sync: cannot connect to %s: %s\n", shown != NULL ? shown : "",
                why != NULL ? why : "?");
        free(why);
        free(shown);
        rc = EXIT_RUNTIME;
        goto out;
    }
    struct poll_lease lease;
    char replica[128];
    local_replica(replica, sizeof(replica));
    int taken = poll_lease_acquire(conn, name, replica, &lease, &why);
    if (taken < 0) {
        fprintf(stderr, "leadhubd sync: %s\n", why != NULL ? why : "cannot take the poll lease");
        free(why);
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (taken == 0) {
        rc = ask_owner(conn, name, timeout_ms);
        goto out;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = poll_here(conn, config, &config->instances[index], plugin, settings[index], router,
                   replica, &lease);
    settings[index] = NULL;
    curl_global_cleanup();
out:
    if (diag_error_count(&diags) > 0) {
        diag_print(&diags, stderr);
    }
    diag_list_free(&diags);
    if (conn != NULL) {
        PQfinish(conn); /* ends the session: the lock goes with it */
    }
    for (size_t i = 0; settings != NULL && i < config->instance_count; i++) {
        json_decref(settings[i]);
    }
    free(settings);
    router_free(router);
    loader_free(&plugins);
    config_free(config);
    return rc;
}
