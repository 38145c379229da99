/*
 * test_make_run.c - the developer's daemon, as a new user drives it: scripts/run-daemon.sh
 * (what `make run` execs) with its own throwaway PostgreSQL, on a scratch copy of config/;
 * `leadhubd reload` signals that daemon and no other leadhubd on the machine; SIGINT or
 * SIGTERM to the script stops the daemon, then PostgreSQL.
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "reaper.h"
#include "testutil.h"
#include "util.h"

static char *run_dir;
static char *log_path;
static int port;
static struct test_daemon other;

static void setup(void)
{
    run_dir = tu_tmpdir();
    ck_assert_int_eq(chmod(run_dir, 0755), 0); /* PostgreSQL runs as `postgres` */
    log_path = tu_path(run_dir, "script.log");
    port = tu_free_port();
    memset(&other, 0, sizeof(other));
    reaper_start();
}

static void teardown(void)
{
    td_cleanup(&other);
    tu_rmrf(run_dir);
    free(run_dir);
    free(log_path);
    reaper_release();
}

/* The script in a process group of its own (the reaper can end it and its daemon). */
static pid_t spawn_script(void)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        char listen[32];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
        unsetenv("DATABASE_URL");
        unsetenv("LEADHUB_CONFIG");
        unsetenv("LEADHUB_PLUGIN_DIR");
        unsetenv("LEADHUB_PID_FILE");
        unsetenv("LEADHUB_SECRETS_KEY");
        setenv("LEADHUB_RUN_DIR", run_dir, 1);
        setenv("LEADHUB_LISTEN", listen, 1);
        setenv("BUILD", tu_build_dir(), 1);
        char *script = tu_path(tu_source_dir(), "scripts/run-daemon.sh");
        execl(script, script, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    reaper_watch_pid(-pid);
    char *cluster = tu_path(run_dir, "pg");
    reaper_watch_cluster(cluster);
    free(cluster);
    return pid;
}

static char *script_log(void)
{
    char *command = util_printf("cat '%s'", log_path);
    char *out = NULL;
    tu_run(command, &out);
    free(command);
    return out;
}

static long readyz_status(void)
{
    char *url = util_printf("http://127.0.0.1:%d/readyz", port);
    struct http_result r;
    http_get(url, &r);
    long status = r.status;
    http_result_free(&r);
    free(url);
    return status;
}

static bool script_ready(void *arg)
{
    (void)arg;
    return readyz_status() == 200;
}

static bool log_has(void *arg)
{
    char *log = script_log();
    bool found = log != NULL && strstr(log, (const char *)arg) != NULL;
    free(log);
    return found;
}

/* Waits for the script to exit; its status. */
static int wait_script(pid_t pid)
{
    int status = 0;
    pid_t done;
    do {
        done = waitpid(pid, &status, 0);
    } while (done < 0 && errno == EINTR);
    ck_assert_int_eq(done, pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_command(const char *command, char **out)
{
    return tu_run(command, out);
}

static bool pg_running(void)
{
    char *command = util_printf("'%s/scripts/pg.sh' url '%s/pg'", tu_source_dir(), run_dir);
    int rc = run_command(command, NULL);
    free(command);
    return rc == 0;
}

static void assert_stopped_cleanly(pid_t script, const char *how)
{
    ck_assert_int_eq(wait_script(script), 0);
    char *log = script_log();
    ck_assert_msg(strstr(log, "\"msg\":\"stopped\"") != NULL, "%s: the daemon did not drain:\n%s",
                  how, log);
    free(log);
    ck_assert_int_eq(readyz_status(), 0); /* nothing listens */
    ck_assert_msg(!pg_running(), "%s: PostgreSQL still runs", how);
    char *pid_file = tu_path(run_dir, "leadhubd.pid");
    ck_assert_int_ne(access(pid_file, F_OK), 0);
    free(pid_file);
    char *env = tu_path(run_dir, "env");
    ck_assert_int_ne(access(env, F_OK), 0);
    free(env);
}

START_TEST(test_make_run_reloads_only_its_daemon_and_stops_daemon_then_database)
{
    /* another leadhubd on the machine, which a reload must not touch */
    td_init(&other, NULL);
    ck_assert_int_eq(td_start(&other), 0);

    pid_t script = spawn_script();
    if (!td_wait_until(script_ready, NULL, 120000)) {
        char *log = script_log();
        ck_abort_msg("make run's daemon not ready; its output:\n%s", log);
    }
    /* it runs a scratch copy of the example configuration */
    char *scratch = tu_path(run_dir, "config/conf.d");
    tu_write_file(scratch, "outbound.yaml",
                  "name: outbound\nplugin: http\nsettings:\n  url: http://127.0.0.1:9/events\n"
                  "  secret: ${LEADHUB_INBOUND_SECRET}\n");
    free(scratch);
    char *tracked = tu_path(tu_source_dir(), "config/conf.d/outbound.yaml");
    ck_assert_int_ne(access(tracked, F_OK), 0);
    free(tracked);

    /* reload: the pid file names this daemon, as `. .run/env` would say */
    char *reload =
        util_printf("LEADHUB_PID_FILE='%s/leadhubd.pid' '%s' reload", run_dir, td_binary());
    char *out = NULL;
    ck_assert_int_eq(run_command(reload, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "reload requested of leadhubd pid"));
    free(out);
    ck_assert(
        td_wait_until(log_has, "reload applied: 1 instance(s) kept, 0 stopped, 1 started", 30000));
    char *other_log = td_log(&other);
    ck_assert_ptr_null(strstr(other_log, "SIGHUP"));
    free(other_log);

    /* a development key sealing tokens, made once, private, handed to a second terminal */
    char *key_path = tu_path(run_dir, "secrets_key");
    struct stat key_stat;
    ck_assert_int_eq(stat(key_path, &key_stat), 0);
    ck_assert_int_eq(key_stat.st_mode & 0777, 0600);
    char *key = util_read_file(key_path, 4096, NULL);
    ck_assert_ptr_nonnull(key);
    ck_assert_uint_eq(strcspn(key, "\n"), 44); /* base64 of 32 bytes */
    key[44] = '\0';
    char *env_path = tu_path(run_dir, "env");
    char *env_text = util_read_file(env_path, 65536, NULL);
    char *exported = util_printf("export LEADHUB_SECRETS_KEY='%s'", key);
    ck_assert_msg(env_text != NULL && strstr(env_text, exported) != NULL, "%s",
                  env_text ? env_text : "(no env)");
    free(exported);
    free(env_text);
    free(env_path);

    /* a second terminal: `. .run/env`, and the commands read the scratch copy by default */
    char *second = util_printf("cd '%s' && . '%s/env' && '%s' check-config", tu_source_dir(),
                               run_dir, td_binary());
    ck_assert_int_eq(run_command(second, &out), 0);
    ck_assert_msg(strstr(out, "outbound") != NULL,
                  "check-config did not read the scratch copy:\n%s", out);
    free(out);
    free(second);

    /* Ctrl-C: the daemon drains, then PostgreSQL stops */
    kill(script, SIGINT);
    assert_stopped_cleanly(script, "SIGINT");

    /* a pid file nobody holds is refused, even when it names a running leadhubd */
    char *stale = tu_path(run_dir, "leadhubd.pid");
    char *text = util_printf("%d\n", (int)other.pid);
    tu_write_file(run_dir, "leadhubd.pid", text);
    free(text);
    ck_assert_int_eq(run_command(reload, &out), 3);
    ck_assert_ptr_nonnull(strstr(out, "no running leadhubd holds it"));
    free(out);
    unlink(stale);
    free(stale);
    free(reload);

    /* again, stopped with SIGTERM (what `make` passes on when it is sent SIGTERM); what the
     * first run sealed, the second can open: the same key */
    script = spawn_script();
    ck_assert(td_wait_until(script_ready, NULL, 120000));
    char *again = util_read_file(key_path, 4096, NULL);
    ck_assert(again != NULL && strncmp(again, key, 44) == 0);
    free(again);
    free(key);
    free(key_path);
    kill(script, SIGTERM);
    assert_stopped_cleanly(script, "SIGTERM");
    other_log = td_log(&other);
    ck_assert_ptr_null(strstr(other_log, "SIGHUP"));
    free(other_log);
    ck_assert_int_eq(td_stop(&other), 0);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("make_run");
    TCase *tc = tcase_create("make_run");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_make_run_reloads_only_its_daemon_and_stops_daemon_then_database);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
