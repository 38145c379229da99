/* cmd_migrate.c - `leadhubd migrate`: apply pending migrations (or report the status). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "migrate.h"
#include "store_pg.h"

static const char migrate_usage[] =
    "Usage: leadhubd migrate [-c FILE | -d URL] [--status]\n"
    "\n"
    "Applies the database migrations this leadhubd carries that the database lacks, each in\n"
    "its own transaction, under an advisory lock (several replicas may run it at once).\n"
    "`leadhubd run` does the same at start.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE         take database_url from this config "
    "(default " COMMANDS_DEFAULT_CONFIG ")\n"
    "  -d, --database-url URL    use this database instead of reading a config\n"
    "      --status              print the current and latest schema versions; change nothing\n"
    "  -h, --help                this help\n"
    "\n"
    "Exit codes: 0 up to date; 1 invalid configuration; 2 bad command line; 3 database\n"
    "unreachable or a migration failed (it was rolled back; the message names it).\n";

int cmd_migrate(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"database-url", required_argument, NULL, 'd'},
        {"status", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = COMMANDS_DEFAULT_CONFIG;
    const char *url = NULL;
    int status_only = 0;
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
    int current = 0, latest = 0;
    if (status_only) {
        if (migrate_status(store_connection(store), &current, &latest) != 0) {
            fprintf(stderr, "leadhubd migrate: cannot read the schema version\n");
            goto out;
        }
        printf("schema version %d; this leadhubd knows up to %d%s\n", current, latest,
               current == latest ? " (up to date)" : "");
        rc = EXIT_OK;
        goto out;
    }
    int applied = 0;
    if (migrate_apply(store_connection(store), &applied, &error) != 0) {
        fprintf(stderr, "leadhubd migrate: %s\n", error);
        goto out;
    }
    migrate_status(store_connection(store), &current, &latest);
    printf("applied %d migration(s); schema version %d\n", applied, current);
    rc = EXIT_OK;
out:
    free(error);
    store_close(store);
    config_free(config);
    return rc;
}
