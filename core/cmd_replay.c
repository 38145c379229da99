/*
 * cmd_replay.c - `leadhubd replay`: dead deliveries back into the queue, or past events
 * through a route added later. Works on the database directly, with or without a running
 * daemon: its delivery workers pick the rows up within a second.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "commands.h"
#include "config.h"
#include "replay.h"
#include "router.h"
#include "store_pg.h"
#include "util.h"

static const char replay_usage[] =
    "Usage: leadhubd replay [FILTERS] [--dry-run] [-c FILE | -d URL]\n"
    "       leadhubd replay --route NAME --since TIME [--until TIME] [--dry-run] [-c FILE]\n"
    "\n"
    "The first form puts dead deliveries back in the queue (status pending, attempt count\n"
    "reset), matching every filter given:\n"
    "  --id N              a delivery id (repeat for several)\n"
    "  --destination NAME  a sink instance (a name no sink of the config has is warned\n"
    "                      about on stderr; the replay still runs)\n"
    "  --type GLOB         the event's type, e.g. 'lead.*'\n"
    "  --since TIME        routed at or after TIME\n"
    "  --until TIME        routed before TIME\n"
    "  --all               every dead delivery (when no filter is given)\n"
    "\n"
    "The second form routes events that arrived in a time range through one route of the\n"
    "config, creating the deliveries that route would have made (a route added later does\n"
    "not resend history otherwise). Events that already have a delivery to a destination are\n"
    "not sent there again.\n"
    "\n"
    "TIME is an RFC 3339 time (2026-11-27T10:00:00Z) or a duration back from now (24h, 7d).\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE        main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -d, --database-url URL   the database, without a config (first form only)\n"
    "  -n, --dry-run            count what would be replayed; change nothing\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit codes: 0 done (the count is printed); 1 invalid configuration or route; 2 bad\n"
    "command line; 3 database unreachable.\n";

static const char sql_events_page[] =
    "SELECT id, lead_id, payload::text FROM events WHERE received_at >= $1::timestamptz "
    "AND ($2::timestamptz IS NULL OR received_at < $2::timestamptz) AND id > $3::bigint "
    "ORDER BY id LIMIT 1000";

static const char sql_route_insert[] =
    "INSERT INTO deliveries (event_id, destination, route, lead_id) "
    "SELECT r.event_id, r.destination, r.route, r.lead_id "
    "FROM jsonb_to_recordset($1::jsonb) AS r(event_id bigint, destination text, route text, "
    "lead_id bigint) ORDER BY r.event_id, r.destination "
    "ON CONFLICT ON CONSTRAINT deliveries_event_destination DO NOTHING RETURNING id";

/* What sql_route_insert would create: the rows without a delivery to their destination
 * yet (the constraint the insert skips on). */
static const char sql_route_count[] =
    "SELECT count(*) FROM jsonb_to_recordset($1::jsonb) AS r(event_id bigint, destination text) "
    "WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = r.event_id "
    "AND d.destination = r.destination)";

struct replay_options {
    const char *config_path;
    const char *database_url;
    struct strbuf ids; /* "{1,2,3}" */
    const char *destination;
    const char *type_glob;
    char since[32];
    char until[32];
    const char *route;
    bool all;
    bool dry_run;
};

/* RFC 3339, or a duration back from now, into an RFC 3339 string. */
static int parse_time(const char *text, char out[32])
{
    int64_t ms;
    if (util_parse_rfc3339(text, &ms) == 0) {
        util_format_rfc3339(ms, out);
        return 0;
    }
    if (util_parse_duration_ms(text, &ms) == 0) {
        util_format_rfc3339(util_now_ms() - ms, out);
        return 0;
    }
    return -1;
}

static int parse_options(int argc, char **argv, struct replay_options *o)
{
    enum { OPT_ID = 256, OPT_DESTINATION, OPT_TYPE, OPT_SINCE, OPT_UNTIL, OPT_ROUTE, OPT_ALL };
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"database-url", required_argument, NULL, 'd'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {"id", required_argument, NULL, OPT_ID},
        {"destination", required_argument, NULL, OPT_DESTINATION},
        {"type", required_argument, NULL, OPT_TYPE},
        {"since", required_argument, NULL, OPT_SINCE},
        {"until", required_argument, NULL, OPT_UNTIL},
        {"route", required_argument, NULL, OPT_ROUTE},
        {"all", no_argument, NULL, OPT_ALL},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:nh", options, NULL)) != -1) {
        char *end = NULL;
        switch (opt) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'd':
            o->database_url = optarg;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'h':
            fputs(replay_usage, stdout);
            return -1;
        case OPT_ID: {
            long long id = strtoll(optarg, &end, 10);
            if (end == optarg || *end != '\0' || id <= 0) {
                fprintf(stderr, "leadhubd replay: --id takes a delivery id, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            strbuf_appendf(&o->ids, "%s%lld", o->ids.len ? "," : "{", id);
            break;
        }
        case OPT_DESTINATION:
            o->destination = optarg;
            break;
        case OPT_TYPE:
            o->type_glob = optarg;
            break;
        case OPT_SINCE:
        case OPT_UNTIL:
            if (parse_time(optarg, opt == OPT_SINCE ? o->since : o->until) != 0) {
                fprintf(stderr,
                        "leadhubd replay: '%s' is neither an RFC 3339 time nor a duration like "
                        "24h\n",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case OPT_ROUTE:
            o->route = optarg;
            break;
        case OPT_ALL:
            o->all = true;
            break;
        default:
            fputs(replay_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "leadhubd replay: unexpected argument '%s'\n\n%s", argv[optind],
                replay_usage);
        return EXIT_USAGE;
    }
    if (o->ids.len > 0) {
        strbuf_append(&o->ids, "}");
    }
    bool filtered = o->ids.len > 0 || o->destination != NULL || o->type_glob != NULL ||
                    o->since[0] != '\0' || o->until[0] != '\0';
    if (o->route != NULL) {
        if (o->since[0] == '\0' || o->ids.len > 0 || o->destination != NULL ||
            o->type_glob != NULL || o->all || o->database_url != NULL) {
            fprintf(stderr, "leadhubd replay: --route takes --since (and --until), and a config "
                            "for its routes; nothing else\n");
            return EXIT_USAGE;
        }
    } else if (!filtered && !o->all) {
        fprintf(stderr, "leadhubd replay: say what to replay (--id, --destination, --type, "
                        "--since, --until), or --all for every dead delivery\n");
        return EXIT_USAGE;
    }
    return 0;
}

static const char *or_null(const char *text)
{
    return text != NULL && text[0] != '\0' ? text : NULL;
}

static int requeue_dead(struct store *store, struct replay_options *o)
{
    long count = 0;
    char *error = NULL;
    struct replay_filter filter = {.ids = o->ids.len > 0 ? strbuf_value(&o->ids) : NULL,
                                   .destination = o->destination,
                                   .type_glob = o->type_glob,
                                   .since = or_null(o->since),
                                   .until = or_null(o->until)};
    if (replay_dead(store, &filter, o->dry_run, &count, &error) != STORE_OK) {
        fprintf(stderr, "leadhubd replay: %s\n", error ? error : "?");
        free(error);
        return EXIT_RUNTIME;
    }
    printf("%s %ld dead deliver%s\n", o->dry_run ? "would re-queue" : "re-queued", count,
           count == 1 ? "y" : "ies");
    return EXIT_OK;
}

struct route_rows {
    json_t *rows;
    int64_t event_id;
    const char *lead_id; /* text, or NULL */
};

static void add_row(const char *route, const char *destination, void *arg)
{
    struct route_rows *r = arg;
    json_t *row = json_pack("{s:I,s:s,s:s}", "event_id", (json_int_t)r->event_id, "destination",
                            destination, "route", route);
    if (row != NULL && r->lead_id != NULL) {
        json_object_set_new(row, "lead_id", json_integer(strtoll(r->lead_id, NULL, 10)));
    }
    json_array_append_new(r->rows, row);
}

static int replay_route(struct store *store, const struct router *router, long route,
                        struct replay_options *o)
{
    long long last_id = 0, events = 0, matched = 0, created = 0;
    for (;;) {
        char after[24];
        snprintf(after, sizeof(after), "%lld", last_id);
        const char *params[] = {o->since, or_null(o->until), after};
        PGresult *page = NULL;
        char *error = NULL;
        if (store_exec(store, "replay_events", sql_events_page, 3, params, &page, &error) !=
            STORE_OK) {
            fprintf(stderr, "leadhubd replay: %s\n", error ? error : "?");
            free(error);
            return EXIT_RUNTIME;
        }
        int n = PQntuples(page);
        struct route_rows rows = {.rows = json_array()};
        if (rows.rows == NULL) {
            fprintf(stderr, "leadhubd replay: out of memory\n");
            PQclear(page);
            return EXIT_RUNTIME;
        }
        for (int i = 0; i < n; i++) {
            json_t *event = store_json_loads(PQgetvalue(page, i, 2), 0, NULL);
            rows.event_id = strtoll(PQgetvalue(page, i, 0), NULL, 10);
            rows.lead_id = PQgetisnull(page, i, 1) ? NULL : PQgetvalue(page, i, 1);
            size_t before = json_array_size(rows.rows);
            if (event != NULL) {
                router_match(router, event, route, add_row, &rows);
            }
            matched += json_array_size(rows.rows) > before;
            json_decref(event);
            last_id = rows.event_id;
        }
        events += n;
        PQclear(page);
        if (json_array_size(rows.rows) > 0) {
            char *text = json_dumps(rows.rows, JSON_COMPACT);
            const char *insert[] = {text};
            PGresult *result = NULL;
            enum store_result stored =
                text == NULL ? STORE_UNAVAILABLE
                : o->dry_run ? store_exec(store, "replay_route_count", sql_route_count, 1, insert,
                                          &result, &error)
                             : store_exec(store, "replay_route_insert", sql_route_insert, 1, insert,
                                          &result, &error);
            if (stored != STORE_OK) {
                fprintf(stderr, "leadhubd replay: %s\n", error ? error : "out of memory");
                free(error);
                free(text);
                json_decref(rows.rows);
                return EXIT_RUNTIME;
            }
            created += o->dry_run ? strtoll(PQgetvalue(result, 0, 0), NULL, 10) : PQntuples(result);
            PQclear(result);
            free(text);
        }
        json_decref(rows.rows);
        if (n < 1000) {
            break;
        }
    }
    printf("route %s: %lld event(s) in range, %lld matched, %lld deliver%s %s\n", o->route, events,
           matched, created, created == 1 ? "y" : "ies", o->dry_run ? "would be made" : "made");
    return EXIT_OK;
}

/* "a, b" of the config's routes, or "none"; malloc'd (NULL when out of memory). */
static char *route_names(const struct config *config)
{
    struct strbuf sb = {0};
    size_t i;
    const json_t *route;
    json_array_foreach(config->routes, i, route)
    {
        const char *name = json_string_value(json_object_get(route, "name"));
        strbuf_appendf(&sb, "%s%s", i > 0 ? ", " : "", name != NULL ? name : "?");
    }
    if (sb.len == 0) {
        strbuf_append(&sb, "none");
    }
    return strbuf_take(&sb);
}

/*
 * A --destination that names no sink of the config is most likely a typo: say so, and
 * which sinks there are. Only a warning: dead deliveries may outlive the sink they were
 * routed to, and replaying them stays possible.
 */
static void warn_unknown_destination(const struct config *config, const char *destination)
{
    struct plugin_registry plugins = {0};
    struct diag_list ignored = {0}; /* a refused plugin is the business of check-config */
    struct strbuf sinks = {0};
    binding_load_plugins(config, &plugins, &ignored);
    const struct config_instance *named = NULL;
    const struct plugin *named_plugin = NULL; /* NULL: refused or missing, kind unknown */
    for (size_t i = 0; i < config->instance_count; i++) {
        const struct config_instance *ci = &config->instances[i];
        const struct plugin *plugin = loader_find(&plugins, ci->plugin);
        bool sink = plugin != NULL && (plugin->desc->kind & LH_KIND_SINK) != 0;
        if (strcmp(ci->name, destination) == 0) {
            named = ci;
            named_plugin = plugin;
        }
        if (sink) {
            strbuf_appendf(&sinks, "%s%s", sinks.len > 0 ? ", " : "", ci->name);
        }
    }
    const char *list = sinks.len > 0 ? strbuf_value(&sinks) : "none";
    if (named == NULL) {
        fprintf(stderr,
                "leadhubd replay: warning: no sink named \"%s\" in %s (sinks: %s); what is "
                "re-queued for it waits until a sink of that name is configured\n",
                destination, config->file, list);
    } else if (named_plugin != NULL && (named_plugin->desc->kind & LH_KIND_SINK) == 0) {
        fprintf(stderr,
                "leadhubd replay: warning: instance \"%s\" is not a sink: nothing is delivered "
                "to it (sinks: %s)\n",
                destination, list);
    }
    strbuf_free(&sinks);
    diag_list_free(&ignored);
    loader_free(&plugins);
}

int cmd_replay(int argc, char **argv)
{
    struct replay_options o = {.config_path = commands_default_config()};
    struct config *config = NULL;
    struct plugin_registry plugins = {0};
    struct router *router = NULL;
    struct store *store = NULL;
    struct diag_list diags = {0};
    int rc = parse_options(argc, argv, &o);
    if (rc != 0) {
        rc = rc < 0 ? EXIT_OK : rc;
        goto out;
    }
    const char *url = o.database_url;
    long route = -1;
    if (url == NULL) {
        if (config_load(o.config_path, &config, &diags) != 0) {
            rc = EXIT_INVALID;
            goto out;
        }
        url = config->database_url;
        if (o.route != NULL) {
            binding_load_plugins(config, &plugins, &diags);
            router = router_build(config, &plugins, &diags);
            if (router == NULL) {
                rc = EXIT_INVALID;
                goto out;
            }
            route = router_find(router, o.route);
            if (route < 0) {
                char *names = route_names(config);
                fprintf(stderr, "leadhubd replay: no route named \"%s\" in %s (routes: %s)\n",
                        o.route, o.config_path, names != NULL ? names : "?");
                free(names);
                rc = EXIT_INVALID;
                goto out;
            }
        } else if (o.destination != NULL) {
            warn_unknown_destination(config, o.destination);
        }
    }
    char *error = NULL;
    store = store_open(url, &error);
    if (store == NULL) {
        char *shown = store_redact_url(url);
        fprintf(stderr, "leadhubd replay: cannot connect to %s: %s\n", shown ? shown : "",
                error ? error : "?");
        free(shown);
        free(error);
        rc = EXIT_RUNTIME;
        goto out;
    }
    rc = o.route != NULL ? replay_route(store, router, route, &o) : requeue_dead(store, &o);
out:
    if (diag_error_count(&diags) > 0) {
        diag_print(&diags, stderr);
    }
    diag_list_free(&diags);
    store_close(store);
    router_free(router);
    loader_free(&plugins);
    config_free(config);
    strbuf_free(&o.ids);
    return rc;
}
