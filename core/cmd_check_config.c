/*
 * cmd_check_config.c - `leadhubd check-config`: every check `leadhubd run` makes before it
 * touches the database, offline: the main file, each connector file, the plugins they
 * name, each instance's and scorer's settings against its plugin's schema and its
 * plugin's validate().
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "commands.h"
#include "config.h"
#include "loader.h"
#include "router.h"
#include "scoring_plan.h"
#include "util.h"

static const char check_usage[] =
    "Usage: leadhubd check-config [-c FILE | FILE] [-q]\n"
    "\n"
    "Validates the configuration without starting anything or connecting to the database:\n"
    "the main file and every connector file in its connectors_dir (syntax, keys, types,\n"
    "ranges, ${ENV} and ${file:...} references), the plugins on the plugin path, each\n"
    "instance's and scorer's settings against its plugin's schema and the plugin's own\n"
    "offline checks (URLs, event types, secrets, rules; disabled instances included), and\n"
    "the routes against the instances (sources, sinks, event types they emit).\n"
    "Every problem is printed, as FILE:LINE: KEY: error: MESSAGE with a hint; errors in the\n"
    "main file do not stop the connector files from being checked. What could not be\n"
    "checked because of an error is named after the count.\n"
    "\n"
    "Options:\n"
    "  FILE                the main config file, the same as -c FILE\n"
    "  -c, --config FILE   main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -q, --quiet         print nothing when the configuration is valid\n"
    "  -h, --help          this help\n"
    "\n"
    "Exit codes: 0 valid (warnings may be printed); 1 invalid; 2 bad command line.\n";

int cmd_check_config(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = commands_default_config();
    bool path_given = false;
    int quiet = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:qh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            path_given = true;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(check_usage, stdout);
            return EXIT_OK;
        default:
            fputs(check_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc && path_given) {
        fprintf(stderr, "leadhubd check-config: name the main file once, as -c FILE or FILE\n");
        return EXIT_USAGE;
    }
    if (optind < argc) {
        path = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "leadhubd check-config: unexpected argument '%s'\n\n%s", argv[optind],
                check_usage);
        return EXIT_USAGE;
    }

    struct diag_list diags = {0};
    struct config *config = NULL;
    struct plugin_registry plugins = {0};
    const char *unchecked = NULL;
    /* Every problem is reported: what checked out is checked further even when other parts
     * of the configuration are broken, as far as it does not depend on them. */
    (void)config_load_partial(path, &config, &diags);
    if (config != NULL && config->plugin_path_failed) {
        unchecked = "instance settings, routes and scorers, until plugin_path is fixed";
    } else if (config != NULL) {
        binding_load_plugins(config, &plugins, &diags);
        binding_check_instances(config, &plugins, true, NULL, &diags);
        /* A route naming an instance whose file was refused would be a second, misleading
         * error about the same mistake. */
        if (config->instances_incomplete) {
            unchecked = "routes, until every connector file is valid";
        } else {
            router_free(router_build(config, &plugins, &diags));
        }
        scoring_plan_free(scoring_plan_build(config, &plugins, &diags));
    }
    diag_print(&diags, stderr);
    size_t errors = diag_error_count(&diags);
    size_t warnings = diag_warning_count(&diags);
    if (errors > 0) {
        fprintf(stderr, "%s: %zu error(s), %zu warning(s)\n", path, errors, warnings);
        if (unchecked != NULL) {
            fprintf(stderr, "  not checked: %s\n", unchecked);
        }
    } else if (!quiet && config != NULL) { /* NULL only with errors */
        printf("%s: valid (%zu connector instance(s), %zu route(s), %zu plugin(s), %zu "
               "warning(s))\n",
               path, config->instance_count, json_array_size(config->routes), plugins.count,
               warnings);
        for (size_t i = 0; i < config->instance_count; i++) {
            const struct config_instance *ci = &config->instances[i];
            printf("  %-24s %-16s %s\n", ci->name, ci->plugin,
                   ci->enabled ? "enabled" : "disabled");
        }
        size_t i;
        const json_t *scorer;
        json_array_foreach(config->scoring, i, scorer)
        {
            printf("  %-24s %-16s scorer\n", json_string_value(json_object_get(scorer, "name")),
                   json_string_value(json_object_get(scorer, "plugin")));
        }
    }
    loader_free(&plugins);
    config_free(config);
    diag_list_free(&diags);
    return errors > 0 ? EXIT_INVALID : EXIT_OK;
}
