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
#define COMMANDS_DEFAULT_CONFIG "config/leadhub.yaml"

int cmd_run(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_sync(int argc, char **argv);
int cmd_rescore(int argc, char **argv);
int cmd_reload(int argc, char **argv);

#endif
