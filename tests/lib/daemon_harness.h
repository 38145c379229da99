/*
 * daemon_harness.h - the real leadhubd for end-to-end tests: a config directory in a
 * temporary folder, a fresh migrated database, the daemon started as a child process on a
 * free port, its log kept in a file, stopped with SIGTERM (its exit code checked) or
 * killed.
 */
#ifndef LEADHUB_DAEMON_HARNESS_H
#define LEADHUB_DAEMON_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

struct test_daemon {
    char *dir;    /* temporary config dir: leadhub.yaml, conf.d/ */
    char *db_url; /* the database it uses */
    bool own_db;  /* created (and dropped) by the harness */
    int port;
    char base_url[64];      /* http://127.0.0.1:PORT */
    pid_t pid;              /* 0 when not running */
    char *log_path;         /* stdout and stderr of the daemon */
    char *extra_main;       /* YAML appended to the main file */
    char *extra_plugin_dir; /* searched after build/plugins when set */
    const char *log_level;  /* log.level: "debug" unless set (a constant) */
    char *binary;           /* malloc'd leadhubd to run instead of td_binary(), or NULL */
};

/* Sets up a config dir and, when db_url is NULL, a fresh database. */
void td_init(struct test_daemon *td, const char *db_url);

/* Writes conf.d/<name>.yaml with `yaml` as its content. */
void td_connector(struct test_daemon *td, const char *name, const char *yaml);

/* Adds a `webhook` instance `name` whose secret comes from ${LHTEST_SECRET_<NAME>}. */
void td_webhook_instance(struct test_daemon *td, const char *name, const char *secret);

/* Starts the daemon; waits for /readyz 200 (or exit). Returns 0 when ready, else the exit
 * status of the daemon (or -1 on timeout). */
int td_start(struct test_daemon *td);

/* Starts without waiting for readiness. */
void td_spawn(struct test_daemon *td);

/* Waits for the daemon to exit; returns its exit status (128 + signal when killed). */
int td_wait(struct test_daemon *td);

/* SIGTERM and wait: returns the exit status. */
int td_stop(struct test_daemon *td);

/* SIGKILL and wait. */
void td_kill(struct test_daemon *td);

/* The daemon's log so far, malloc'd. */
char *td_log(const struct test_daemon *td);

/* "http://127.0.0.1:PORT" + path, malloc'd. */
char *td_url(const struct test_daemon *td, const char *path);

/* Stops the daemon if running, removes the directory, drops an own database. */
void td_cleanup(struct test_daemon *td);

/*
 * td_post - POST body to /webhooks/<instance>, signed with secret now. Returns the HTTP
 * status (0 when no answer came); the answer's body in *body_out when non-NULL.
 */
int td_post(const struct test_daemon *td, const char *instance, const char *secret,
            const char *body, char **body_out);

/* td_signal - send a signal to the running daemon. */
void td_signal(const struct test_daemon *td, int sig);

/* td_wait_until - poll `done(arg)` every 50 ms until it is true or timeout_ms passes;
 * returns its last value. */
bool td_wait_until(bool (*done)(void *arg), void *arg, int64_t timeout_ms);

/* Path of the daemon binary under test. */
const char *td_binary(void);

/* Path of the next release for the rolling-update test: this tree's leadhubd with the
 * fixture migrations of tests/fixtures/migrations/ after its own. */
const char *td_next_binary(void);

#endif
