/*
 * commands.h - the `leadhubd` subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand) and returns the process exit code.
 */
#ifndef LEADHUB_COMMANDS_H
#define LEADHUB_COMMANDS_H

/* Exit codes, documented in `leadhubd --help` and docs/cli.md. */
enum exit_code {
    EXIT_OK = 0,      /* success; check-config: the configuration is valid */
    EXIT_INVALID = 1, /* invalid configuration or input (diagnostics printed) */
    EXIT_USAGE = 2,   /* bad command line */
    EXIT_RUNTIME = 3  /* runtime failure: database unreachable, migration failed, port busy */
};

/* Default main config file, relative to the working directory. */
#define COMMANDS_DEFAULT_CONFIG      "config/leadhub.yaml"
#define COMMANDS_DEFAULT_CONFIG_TEXT "$LEADHUB_CONFIG, else " COMMANDS_DEFAULT_CONFIG

/* commands_default_config - the config file when -c is not given: $LEADHUB_CONFIG when set
 * (`make run` exports the scratch copy it runs in .run/env), else COMMANDS_DEFAULT_CONFIG.
 * Not freed. */
const char *commands_default_config(void);

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_rescore(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_new_plugin(int argc, char **argv);

#endif
