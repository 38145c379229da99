/* cmd_run.c - `leadhubd run`: start the daemon, serve until SIGTERM/SIGINT, drain, exit. */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "commands.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "pid_file.h"

static const char run_usage[] =
    "Usage: leadhubd run [-c FILE] [--pid-file FILE]\n"
    "\n"
    "Runs the daemon in the foreground: loads the config and every connector file, loads the\n"
    "plugins, validates each instance's settings, applies pending database migrations,\n"
    "initializes the instances and serves HTTP (webhooks, /healthz, /readyz, /metrics).\n"
    "Logs are JSON lines on stdout.\n"
    "\n"
    "Options:\n"
    "  -c, --config FILE   main config file (default " COMMANDS_DEFAULT_CONFIG_TEXT ")\n"
    "  -p, --pid-file FILE write the pid there once serving, locked while it runs, removed\n"
    "                      at exit: `leadhubd reload --pid-file FILE` signals this daemon only\n"
    "  -h, --help          this help\n"
    "\n"
    "Signals:\n"
    "  SIGTERM, SIGINT     stop accepting, finish and commit requests in flight (up to\n"
    "                      shutdown_grace), exit 0\n"
    "  SIGHUP              reload the configuration: connector instances added, removed\n"
    "                      or changed start, stop or restart, routes apply to new events;\n"
    "                      an invalid configuration is refused and the running one stays\n"
    "\n"
    "Exit codes: 0 stopped cleanly; 1 invalid configuration or a plugin an instance needs was\n"
    "refused; 2 bad command line; 3 database unreachable, migration failed or port in use.\n";

/* More descriptors than the default 1024 soft limit: one per connection. */
static void raise_file_limit(void)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

int cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = commands_default_config();
    const char *pid_path = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:p:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'p':
            pid_path = optarg;
            break;
        case 'h':
            fputs(run_usage, stdout);
            return EXIT_OK;
        default:
            fputs(run_usage, stderr);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "leadhubd run: unexpected argument '%s'\n\n%s", argv[optind], run_usage);
        return EXIT_USAGE;
    }

    struct config *config = NULL;
    struct diag_list diags = {0};
    if (config_load(config_path, &config, &diags) != 0) {
        diag_log(&diags);
        diag_list_free(&diags);
        return EXIT_INVALID;
    }
    diag_log(&diags); /* warnings */
    diag_list_free(&diags);
    log_set_level(config->log_level);

    /* Signals are taken synchronously by this thread alone: block them before any
     * thread starts so that every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    /* A shell starting us in the background leaves SIGINT ignored, and an ignored signal
     * never reaches sigwait(): take the default back first. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_file_limit();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialize libcurl");
        config_free(config);
        return EXIT_RUNTIME;
    }

    struct daemon daemon;
    int pid_fd = -1;
    int rc = daemon_start(&daemon, config);
    if (rc == 0 && pid_path != NULL) {
        /* written once serving: a reload before then would find nothing to signal */
        char *error = NULL;
        pid_fd = pid_file_claim(pid_path, &error);
        if (pid_fd < 0) {
            log_error("%s", error);
            free(error);
            rc = EXIT_RUNTIME;
        }
    }
    if (rc == 0) {
        for (;;) {
            int sig = 0;
            if (sigwait(&signals, &sig) != 0) {
                continue;
            }
            if (sig == SIGHUP) {
                daemon_reload(&daemon, config_path);
                continue;
            }
            log_info("%s received: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
    daemon_stop(&daemon);
    pid_file_release(pid_fd, pid_path);
    curl_global_cleanup();
    if (rc == 0) {
        log_info("stopped");
    }
    return rc;
}
