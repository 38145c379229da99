/*
 * cmd_rescore.c - `leadhubd rescore`: recompute scores after a change of scorers or their
 * settings, through the same engine the daemon runs (changed scores written, crossings
 * emitted as lead.scored, unchanged scores untouched: running it twice changes nothing).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "binding.h"
#include "commands.h"
#include "cpu_quota.h"
#include "config.h"
#include "log.h"
#include "router.h"
#include "scoring.h"
#include "store_pg.h"
#include "util.h"

#define RESCORE_PAGE     1000
#define RESCORE_JOBS_MAX 32

static const char rescore_usage[] =
    "Usage: leadhubd rescore (--all | --since TIME) [--scorer NAME] [--jobs N] [-c FILE]\n"
    "\n"
    "Recomputes lead scores with the scorers of the config's `scoring` section, in order,\n"
    "exactly as the daemon does after new events: changed scores are written with their\n"
    "explanation and history, a threshold crossing emits one lead.scored event (routed like\n"
    "any event), unchanged scores write nothing. Progress is shown on a terminal.\n"
    "\n"
    "Options:\n"
    "  --all               every lead\n"
    "  --since TIME        leads updated, or with events received, since TIME (RFC 3339, or\n"
    "                      a duration back from now: 24h, 7d)\n"
    "  --scorer NAME       only this scorer (the others' stored scores feed a composite)\n"
    "  -j, --jobs N        workers, each with its own database connection (default: two\n"
    "                      per CPU, at most 8; 1 to 32)\n"
    "  -c, --config FILE   main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit codes: 0 done; 1 invalid configuration (a scorer refusing its settings included) or\n"
    "unknown scorer, nothing rescored; 2 bad command line; 3 the database failed.\n";

static const char sql_all[] = "SELECT id FROM leads WHERE id > $1::bigint ORDER BY id LIMIT 1000";

/* `--since`: the leads touched since then are found once, into a temporary table of the
 * paging connection, and paged from there. Paging the union itself evaluated all of it
 * again for every page of 1000. */
static const char sql_touched_table[] =
    "CREATE TEMPORARY TABLE rescore_touched (id bigint PRIMARY KEY)";

static const char sql_touched_fill[] =
    "INSERT INTO rescore_touched SELECT id FROM leads WHERE updated_at >= $1::timestamptz "
    "UNION SELECT lead_id FROM events WHERE received_at >= $1::timestamptz AND lead_id IS NOT "
    "NULL";

static const char sql_since[] =
    "SELECT id FROM rescore_touched WHERE id > $1::bigint ORDER BY id LIMIT 1000";

/*
 * The work shared by the rescore workers: pages of lead ids are handed out in id order
 * under the mutex, read through the paging connection; each worker scores its page on its
 * own connection (chunks lock their leads, so workers never score one lead at once).
 */
struct rescore_work {
    struct scoring *scoring;
    const char *database_url;
    struct store *paging; /* borrowed; used under the mutex only */
    const char *since;
    long only;
    bool terminal;
    int64_t started_ms;
    pthread_mutex_t mutex;
    long long last; /* the highest id handed out */
    bool done;      /* no more pages, or a failure */
    int rc;         /* EXIT_OK, or the first failure's code */
    struct scoring_stats stats;
};

/* The next page of ids into ids[]; 0 when there is none left. -1 on failure. Under the
 * mutex: pages go out in order and never twice. */
static long next_page(struct rescore_work *w, int64_t *ids)
{
    char after[24];
    snprintf(after, sizeof(after), "%lld", w->last);
    const char *params[] = {after};
    PGresult *page = NULL;
    char *error = NULL;
    if (store_exec(w->paging, w->since != NULL ? "rescore_since" : "rescore_all",
                   w->since != NULL ? sql_since : sql_all, 1, params, &page, &error) != STORE_OK) {
        fprintf(stderr, "\nleadhubd rescore: %s\n", error ? error : "?");
        free(error);
        return -1;
    }
    long n = PQntuples(page);
    for (long i = 0; i < n; i++) {
        ids[i] = strtoll(PQgetvalue(page, (int)i, 0), NULL, 10);
    }
    PQclear(page);
    if (n > 0) {
        w->last = ids[n - 1];
    }
    return n;
}

static void fail(struct rescore_work *w, const char *error)
{
    pthread_mutex_lock(&w->mutex);
    if (w->rc == EXIT_OK) {
        fprintf(stderr, "\nleadhubd rescore: %s\n", error ? error : "?");
        w->rc = EXIT_RUNTIME;
    }
    w->done = true;
    pthread_mutex_unlock(&w->mutex);
}

static void *rescore_worker(void *arg)
{
    struct rescore_work *w = arg;
    char *error = NULL;
    struct store *store = store_open(w->database_url, &error);
    int64_t *ids = malloc(RESCORE_PAGE * sizeof(*ids));
    if (store == NULL || ids == NULL) {
        fail(w, store == NULL ? error : "out of memory");
        goto out;
    }
    for (;;) {
        pthread_mutex_lock(&w->mutex);
        long n = w->done ? 0 : next_page(w, ids);
        if (n < RESCORE_PAGE) {
            w->done = true;
        }
        if (n < 0) {
            w->rc = EXIT_RUNTIME;
        }
        pthread_mutex_unlock(&w->mutex);
        if (n <= 0) {
            break;
        }
        struct scoring_stats stats = {0};
        if (scoring_run(w->scoring, store, ids, (size_t)n, w->only, &stats, &error) != 0) {
            fail(w, error);
            break;
        }
        pthread_mutex_lock(&w->mutex);
        w->stats.leads += stats.leads;
        w->stats.changed += stats.changed;
        w->stats.crossings += stats.crossings;
        w->stats.errors += stats.errors;
        if (w->terminal) {
            double seconds = (double)(util_monotonic_ms() - w->started_ms) / 1000.0;
            fprintf(stderr, "\rrescoring: %zu leads, %.0f/s, %zu changed   ", w->stats.leads,
                    seconds > 0 ? (double)w->stats.leads / seconds : 0.0, w->stats.changed);
        }
        pthread_mutex_unlock(&w->mutex);
    }
out:
    free(error);
    free(ids);
    store_close(store);
    return NULL;
}

/* Fills rescore_touched with the leads touched since `since`. Returns 0, or -1 (printed). */
static int find_touched(struct store *store, const char *since)
{
    const char *params[] = {since};
    char *error = NULL;
    if (store_exec(store, "rescore_touched_table", sql_touched_table, 0, NULL, NULL, &error) !=
            STORE_OK ||
        store_exec(store, "rescore_touched_fill", sql_touched_fill, 1, params, NULL, &error) !=
            STORE_OK) {
        fprintf(stderr, "leadhubd rescore: %s\n", error ? error : "?");
        free(error);
        return -1;
    }
    return 0;
}

/* Scores every lead (or those touched since `since`) with `jobs` workers, paging through
 * `store`; prints progress when stderr is a terminal, and a summary. */
static int rescore_all(struct scoring *scoring, struct store *store, const char *database_url,
                       const char *since, long only, int jobs)
{
    if (since != NULL && find_touched(store, since) != 0) {
        return EXIT_RUNTIME;
    }
    struct rescore_work w = {.scoring = scoring,
                             .database_url = database_url,
                             .paging = store,
                             .since = since,
                             .only = only,
                             .terminal = isatty(STDERR_FILENO) != 0,
                             .started_ms = util_monotonic_ms(),
                             .rc = EXIT_OK};
    pthread_mutex_init(&w.mutex, NULL);
    pthread_t threads[RESCORE_JOBS_MAX];
    int started = 0;
    for (; started < jobs; started++) {
        if (pthread_create(&threads[started], NULL, rescore_worker, &w) != 0) {
            break;
        }
    }
    if (started == 0) {
        rescore_worker(&w); /* no thread to be had: this one does the work */
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_mutex_destroy(&w.mutex);
    if (w.terminal) {
        fputc('\n', stderr);
    }
    double seconds = (double)(util_monotonic_ms() - w.started_ms) / 1000.0;
    printf("rescored %zu lead(s) in %.1fs (%.0f/s): %zu score(s) changed, %zu threshold "
           "crossing(s), %zu scorer error(s)\n",
           w.stats.leads, seconds, seconds > 0 ? (double)w.stats.leads / seconds : 0.0,
           w.stats.changed, w.stats.crossings, w.stats.errors);
    return w.rc;
}

int cmd_rescore(int argc, char **argv)
{
    enum { OPT_ALL = 256, OPT_SINCE, OPT_SCORER };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"jobs", required_argument, NULL, 'j'},
        {"all", no_argument, NULL, OPT_ALL},
        {"since", required_argument, NULL, OPT_SINCE},
        {"scorer", required_argument, NULL, OPT_SCORER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = commands_default_config();
    const char *scorer = NULL;
    /* two per CPU the container may use: while one worker waits for the database, the
     * other scores */
    unsigned cpus = cpu_quota_cpus();
    int jobs = cpus > 4 ? 8 : 2 * (int)cpus;
    bool all = false;
    char since[32] = "";
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:j:h", options, NULL)) != -1) {
        int64_t ms;
        char *end = NULL;
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'j':
            jobs = (int)strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || jobs < 1 || jobs > RESCORE_JOBS_MAX) {
                fprintf(stderr, "leadhubd rescore: --jobs takes a number from 1 to %d\n",
                        RESCORE_JOBS_MAX);
                return EXIT_USAGE;
            }
            break;
        case OPT_ALL:
            all = true;
            break;
        case OPT_SINCE:
            if (util_parse_rfc3339(optarg, &ms) == 0) {
                util_format_rfc3339(ms, since);
            } else if (util_parse_duration_ms(optarg, &ms) == 0) {
                util_format_rfc3339(util_now_ms() - ms, since);
            } else {
                fprintf(stderr, "leadhubd rescore: --since takes an RFC 3339 time or a "
                                "duration such as 24h\n");
                return EXIT_USAGE;
            }
            break;
        case OPT_SCORER:
            scorer = optarg;
            break;
        case 'h':
            fputs(rescore_usage, stdout);
            return EXIT_OK;
        default:
            fputs(rescore_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc || all == (since[0] != '\0')) {
        fprintf(stderr, "leadhubd rescore: give exactly one of --all and --since TIME\n\n%s",
                rescore_usage);
        return EXIT_USAGE;
    }

    struct diag_list diags = {0};
    struct config *config = NULL;
    struct plugin_registry plugins = {0};
    struct router *router = NULL;
    struct scoring *scoring = NULL;
    struct store *store = NULL;
    struct host_services services = {0};
    atomic_bool stopping;
    atomic_init(&stopping, false);
    int rc = EXIT_INVALID;
    log_set_stream(stderr);
    pthread_mutex_init(&services.store_mutex, NULL);
    if (config_load(path, &config, &diags) != 0) {
        goto out;
    }
    binding_load_plugins(config, &plugins, &diags);
    router = router_build(config, &plugins, &diags);
    struct scoring_plan *plan = scoring_plan_build(config, &plugins, &diags);
    if (router == NULL || plan == NULL) {
        scoring_plan_free(plan);
        goto out;
    }
    if (plan->count == 0) {
        fprintf(stderr, "leadhubd rescore: the config's `scoring` section lists no scorer\n");
        scoring_plan_free(plan);
        goto out;
    }
    services.metrics = metrics_create();
    services.stopping = &stopping;
    services.database_url = config->database_url;
    struct instance **scorers = calloc(plan->count + 1, sizeof(*scorers));
    if (scorers == NULL) {
        scoring_plan_free(plan);
        fprintf(stderr, "leadhubd rescore: out of memory\n");
        rc = EXIT_RUNTIME;
        goto out;
    }
    /* Unlike the daemon, which runs the others, a rescore with a scorer that cannot start
     * would write scores (and crossings) that a fixed config then changes again: it stops. */
    bool init_failed = false;
    for (size_t i = 0; i < plan->count; i++) {
        const struct scorer_def *def = &plan->scorers[i];
        scorers[i] =
            instance_new(&def->instance, def->plugin, json_incref(def->settings), &services);
        if (scorers[i] == NULL || instance_init(scorers[i]) != LH_OK) {
            fprintf(stderr, "leadhubd rescore: scorer %s: %s\n", def->instance.name,
                    scorers[i] == NULL       ? "out of memory"
                    : scorers[i]->last_error ? scorers[i]->last_error
                                             : "init failed");
            init_failed = true;
        }
    }
    struct scoring_options engine = {.database_url = config->database_url,
                                     .metrics = services.metrics};
    scoring = scoring_start(&engine, plan, scorers); /* takes plan and scorers */
    if (scoring == NULL) {
        fprintf(stderr, "leadhubd rescore: out of memory\n");
        rc = EXIT_RUNTIME;
        goto out;
    }
    if (init_failed) {
        fprintf(stderr, "leadhubd rescore: nothing rescored: fix the scorer's settings "
                        "(`leadhubd check-config` shows them all)\n");
        goto out;
    }
    scoring_set_router(scoring, router);
    long only = -1;
    if (scorer != NULL && (only = scoring_find(scoring, scorer)) < 0) {
        fprintf(stderr, "leadhubd rescore: no scorer named \"%s\" in %s\n", scorer, path);
        goto out;
    }
    char *error = NULL;
    store = store_open(config->database_url, &error);
    if (store == NULL) {
        char *shown = store_redact_url(config->database_url);
        fprintf(stderr, "leadhubd rescore: cannot connect to %s: %s\n", shown ? shown : "",
                error ? error : "?");
        free(shown);
        free(error);
        rc = EXIT_RUNTIME;
        goto out;
    }
    rc = rescore_all(scoring, store, config->database_url, since[0] ? since : NULL, only, jobs);
out:
    if (diag_error_count(&diags) > 0) {
        diag_print(&diags, stderr);
    }
    diag_list_free(&diags);
    store_close(store);
    scoring_stop(scoring);
    router_free(router);
    loader_free(&plugins);
    store_close(services.store);
    metrics_free(services.metrics);
    pthread_mutex_destroy(&services.store_mutex);
    config_free(config);
    return rc;
}
