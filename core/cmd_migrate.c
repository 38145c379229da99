/* cmd_migrate.c - `leadhubd migrate`: apply pending migrations (or report the status). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "migrate.h"
#include "store_pg.h"

static const char migrate_usage[] =
    "Usage: leadhubd migrate [-c FILE | -d URL] [--status] [--force]\n"
    "\n"
    "Applies the database migrations this leadhubd carries that the database lacks, each in\n"
    "its own transaction, under an advisory lock (several replicas may run it at once).\n"
    "`leadhubd run` does the same at start.\n"
    "\n"
    "A contracting migration (one that older releases cannot run on) is held back while\n"
    "replicas of such a release are connected; the migrations before it are applied, and\n"
    "the command says which replicas it waits for. A schema newer than this leadhubd is\n"
    "fine when it declares this release compatible (a rollback): nothing is applied.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE         take database_url from this config\n"
    "                            (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -d, --database-url URL    use this database instead of reading a config\n"
    "      --status              print the schema version and whether this leadhubd runs on it;\n"
    "                            change nothing\n"
    "      --force               apply contracting migrations even while older replicas are\n"
    "                            connected (they then report the schema incompatible)\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit codes: 0 this leadhubd runs on the schema now (a migration may be held back);\n"
    "1 invalid configuration; 2 bad command line; 3 database unreachable, a migration failed\n"
    "(rolled back, named), or the schema is one this leadhubd cannot run on.\n";

int cmd_migrate(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"database-url", required_argument, NULL, 'd'},
        {"status", no_argument, NULL, 's'},       {"force", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *config_path = commands_default_config();
    const char *url = NULL;
    int status_only = 0;
    struct migrate_options migrate_options = {.newer_is_fine = true};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:d:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            url = optarg;
            break;
        case 's':
            status_only = 1;
            break;
        case 'f':
            migrate_options.force = true;
            break;
        case 'h':
            fputs(migrate_usage, stdout);
            return EXIT_OK;
        default:
            fputs(migrate_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "leadhubd migrate: unexpected argument '%s'\n\n%s", argv[optind],
                migrate_usage);
        return EXIT_USAGE;
    }

    struct config *config = NULL;
    if (url == NULL) {
        struct diag_list diags = {0};
        if (config_load(config_path, &config, &diags) != 0) {
            diag_print(&diags, stderr);
            diag_list_free(&diags);
            return EXIT_INVALID;
        }
        diag_list_free(&diags);
        url = config->database_url;
    }

    int rc = EXIT_RUNTIME;
    char *error = NULL;
    struct store *store = store_open(url, &error);
    if (store == NULL) {
        char *shown = store_redact_url(url);
        fprintf(stderr, "leadhubd migrate: cannot connect to %s: %s\n", shown ? shown : "",
                error ? error : "?");
        free(shown);
        goto out;
    }
    const struct schema_policy *policy = schema_policy_current();
    PGconn *conn = store_connection(store);
    struct migrate_result result = {0};
    if (!status_only &&
        migrate_apply_policy(conn, policy, &migrate_options, &result, &error) != 0) {
        fprintf(stderr, "leadhubd migrate: %s\n", error);
        goto out;
    }
    struct schema_state state;
    if (migrate_read_schema(conn, policy, &state, &error) != 0) {
        fprintf(stderr, "leadhubd migrate: cannot read the schema version: %s\n",
                error != NULL ? error : "?");
        goto out;
    }
    char *verdict = NULL;
    bool runs = schema_policy_judge(policy, &state, &verdict);
    int latest = schema_policy_latest(policy);
    if (status_only) {
        printf("schema version %d; this leadhubd knows up to %d%s; %s\n", state.current, latest,
               state.current == latest ? " (up to date)" : "", verdict);
    } else {
        printf("applied %d migration(s); schema version %d\n", result.applied, state.current);
        if (result.held_reason != NULL) {
            printf("%s\n", result.held_reason);
        }
        if (!runs) {
            fprintf(stderr, "leadhubd migrate: this leadhubd cannot run on the database: %s\n",
                    verdict);
        }
    }
    free(verdict);
    free(result.held_reason);
    rc = runs || status_only ? EXIT_OK : EXIT_RUNTIME;
out:
    free(error);
    store_close(store);
    config_free(config);
    return rc;
}
