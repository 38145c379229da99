/* cmd_reload.c - `leadhubd reload`: SIGHUP to the daemon that holds a pid file, and only it. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "pid_file.h"

static const char reload_usage[] =
    "Usage: leadhubd reload [--pid-file FILE]\n"
    "\n"
    "Asks the daemon that `leadhubd run --pid-file FILE` started to reload its configuration\n"
    "(SIGHUP): the process holding the file's lock, and no other leadhubd on the machine. A\n"
    "pid file left by a daemon that died names nobody and is refused. `make run` writes\n"
    ".run/leadhubd.pid and exports LEADHUB_PID_FILE in .run/env.\n"
    "\n"
    "Options:\n"
    "  -p, --pid-file FILE   the daemon's pid file (default: $LEADHUB_PID_FILE)\n"
    "  -h, --help            this help\n"
    "\n"
    "Exit codes: 0 the daemon was signalled (its log says whether the configuration was\n"
    "applied); 2 bad command line or no pid file named; 3 no running daemon holds the file.\n";

int cmd_reload(int argc, char **argv)
{
    static const struct option options[] = {
        {"pid-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = getenv("LEADHUB_PID_FILE");
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "p:h", options, NULL)) != -1) {
        switch (opt) {
        case 'p':
            path = optarg;
            break;
        case 'h':
            fputs(reload_usage, stdout);
            return EXIT_OK;
        default:
            fputs(reload_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "leadhubd reload: unexpected argument '%s'\n\n%s", argv[optind],
                reload_usage);
        return EXIT_USAGE;
    }
    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "leadhubd reload: which daemon? Give --pid-file FILE, or `. .run/env` "
                        "while `make run` runs (it sets LEADHUB_PID_FILE)\n");
        return EXIT_USAGE;
    }
    char *error = NULL;
    pid_t pid = pid_file_holder(path, &error);
    if (pid <= 0) {
        fprintf(stderr, "leadhubd reload: %s\n", error != NULL ? error : "?");
        free(error);
        return EXIT_RUNTIME;
    }
    if (kill(pid, SIGHUP) != 0) {
        fprintf(stderr, "leadhubd reload: cannot signal pid %d: %m\n", (int)pid);
        return EXIT_RUNTIME;
    }
    printf("reload requested of leadhubd pid %d (%s)\n", (int)pid, path);
    return EXIT_OK;
}
