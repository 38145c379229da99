/* main.c - `leadhubd COMMAND ...`: dispatches to the subcommands in cmd_*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "leadhub.h"

const char *commands_default_config(void)
{
    const char *path = getenv("LEADHUB_CONFIG");
    return path != NULL && path[0] != '\0' ? path : COMMANDS_DEFAULT_CONFIG;
}

static const char usage_text[] =
    "leadhubd - the leadhub integration hub: connectors in, events stored, routed, scored\n"
    "\n"
    "Usage: leadhubd COMMAND [OPTIONS]\n"
    "\n"
    "Commands:\n"
    "  run            run the daemon (applies pending migrations first)\n"
    "  migrate        apply database migrations and exit\n"
    "  check-config   validate the configuration and every connector's settings offline\n"
    "  plugins        list the plugins on the plugin path; `plugins info NAME` documents one\n"
    "  replay         re-queue dead deliveries, or route past events through a new route\n"
    "  sync           poll a source instance now (through the replica that polls it)\n"
    "  rescore        recompute lead scores after a change of scorers\n"
    "  connect        give an instance OAuth access (consent in a browser; grant stored sealed)\n"
    "  reload         ask the daemon of a pid file to reload its configuration (SIGHUP)\n"
    "  new-plugin     write a plugin skeleton that builds and tests out of tree\n"
    "  version        print the version and the plugin ABI version\n"
    "\n"
    "Options common to commands:\n"
    "  -c, --config FILE   main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -h, --help          help for a command, e.g. `leadhubd run --help`\n"
    "\n"
    "Exit codes:\n"
    "  0  success (check-config: the configuration is valid)\n"
    "  1  invalid configuration or input; the diagnostics say where and how to fix it\n"
    "  2  bad command line\n"
    "  3  runtime failure: database unreachable, migration failed, port in use\n"
    "\n"
    "Docs: README.md and docs/ in the source tree.\n";

static int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs("Usage: leadhubd version\n"
              "\n"
              "Prints the daemon version and the plugin ABI it accepts: plugins of the same\n"
              "major and an equal or older minor. `leadhubd --version` is the same.\n"
              "\n"
              "Exit codes: 0 printed; 2 bad command line.\n",
              stdout);
        return EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "leadhubd version: unexpected argument '%s'\n", argv[1]);
        return EXIT_USAGE;
    }
    printf("leadhubd %s (plugin ABI %d.%d)\n", LEADHUB_VERSION, LH_ABI_MAJOR, LH_ABI_MINOR);
    return EXIT_OK;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"run", cmd_run},
    {"migrate", cmd_migrate},
    {"check-config", cmd_check_config},
    {"plugins", cmd_plugins},
    {"replay", cmd_replay},
    {"sync", cmd_sync},
    {"rescore", cmd_rescore},
    {"reload", cmd_reload},
    {"connect", cmd_connect},
    {"new-plugin", cmd_new_plugin},
    {"version", cmd_version},
};

int main(int argc, char **argv)
{
    /* jansson's process-wide settings, as sdk/leadhub.h promises plugins: set by the host
     * alone, here, before any thread starts and any plugin is loaded. The allocators stay
     * malloc/free, so either side may free what the other allocated through jansson; the
     * hash seed is random (from /dev/urandom), so that JSON a provider or an attacker sends
     * cannot choose keys that collide in every object. */
    json_set_alloc_funcs(malloc, free);
    json_object_seed(0);
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        return cmd_version(1, argv + 1);
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "leadhubd: unknown command '%s'\n\n", name);
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
