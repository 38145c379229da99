/* daemon_harness.c - see daemon_harness.h. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define READY_TIMEOUT_MS 30000

const char *td_binary(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/leadhubd", tu_build_dir());
    return path;
}

const char *td_next_binary(void)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/tests/leadhubd-next", tu_build_dir());
    return path;
}

static void write_main(struct test_daemon *td)
{
    char *extra =
        td->extra_plugin_dir != NULL ? util_printf(", \"%s\"", td->extra_plugin_dir) : strdup("");
    char *main_yaml = util_printf("database_url: \"%s\"\n"
                                  "listen: 127.0.0.1:%d\n"
                                  "plugin_path: [\"%s/plugins\"%s]\n"
                                  "connectors_dir: conf.d\n"
                                  "log:\n  level: %s\n"
                                  "shutdown_grace: 10s\n"
                                  "%s",
                                  td->db_url, td->port, tu_build_dir(), extra,
                                  td->log_level != NULL ? td->log_level : "debug",
                                  td->extra_main != NULL ? td->extra_main : "");
    free(extra);
    tu_write_file(td->dir, "leadhub.yaml", main_yaml);
    free(main_yaml);
}

void td_init(struct test_daemon *td, const char *db_url)
{
    memset(td, 0, sizeof(*td));
    td->dir = tu_tmpdir();
    if (db_url != NULL) {
        td->db_url = strdup(db_url);
    } else {
        td->db_url = testdb_create();
        td->own_db = true;
    }
    td->port = tu_free_port();
    snprintf(td->base_url, sizeof(td->base_url), "http://127.0.0.1:%d", td->port);
    td->log_path = tu_path(td->dir, "daemon.log");
    char *confd = tu_path(td->dir, "conf.d");
    ck_assert_int_eq(mkdir(confd, 0755), 0);
    free(confd);
}

void td_connector(struct test_daemon *td, const char *name, const char *yaml)
{
    char *file = util_printf("conf.d/%s.yaml", name);
    tu_write_file(td->dir, file, yaml);
    free(file);
}

void td_webhook_instance(struct test_daemon *td, const char *name, const char *secret)
{
    char env[128];
    snprintf(env, sizeof(env), "LHTEST_SECRET_%s", name);
    for (char *p = env; *p != '\0'; p++) {
        *p = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    }
    setenv(env, secret, 1);
    char *yaml = util_printf("name: %s\nplugin: webhook\nsettings:\n  secret: ${%s}\n", name, env);
    td_connector(td, name, yaml);
    free(yaml);
}

void td_spawn(struct test_daemon *td)
{
    write_main(td);
    char *config = tu_path(td->dir, "leadhub.yaml");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(td->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        const char *binary = td->binary != NULL ? td->binary : td_binary();
        execl(binary, "leadhubd", "run", "-c", config, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    free(config);
    td->pid = pid;
}

static int exit_status(int status)
{
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

int td_start(struct test_daemon *td)
{
    td_spawn(td);
    char *url = td_url(td, "/readyz");
    int64_t deadline = util_monotonic_ms() + READY_TIMEOUT_MS;
    int rc = -1;
    while (util_monotonic_ms() < deadline) {
        int status;
        pid_t done = waitpid(td->pid, &status, WNOHANG);
        if (done == td->pid) {
            td->pid = 0;
            rc = exit_status(status);
            break;
        }
        struct http_result result;
        if (http_get(url, &result) == 0 && result.status == 200) {
            http_result_free(&result);
            rc = 0;
            break;
        }
        http_result_free(&result);
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    free(url);
    return rc;
}

int td_wait(struct test_daemon *td)
{
    if (td->pid == 0) {
        return -1;
    }
    int status = 0;
    while (waitpid(td->pid, &status, 0) < 0 && errno == EINTR) {
    }
    td->pid = 0;
    return exit_status(status);
}

int td_stop(struct test_daemon *td)
{
    if (td->pid == 0) {
        return -1;
    }
    kill(td->pid, SIGTERM);
    return td_wait(td);
}

void td_kill(struct test_daemon *td)
{
    if (td->pid != 0) {
        kill(td->pid, SIGKILL);
        td_wait(td);
    }
}

char *td_log(const struct test_daemon *td)
{
    char *text = util_read_file(td->log_path, 64u * 1024 * 1024, NULL);
    return text != NULL ? text : strdup("");
}

char *td_url(const struct test_daemon *td, const char *path)
{
    return util_printf("%s%s", td->base_url, path);
}

int td_post(const struct test_daemon *td, const char *instance, const char *secret,
            const char *body, char **body_out)
{
    char *signature[2];
    http_sign_webhook(secret, (long long)time(NULL), body, signature);
    const char *headers[] = {signature[0], signature[1], "Content-Type: application/json", NULL};
    char *path = util_printf("/webhooks/%s", instance);
    char *url = td_url(td, path);
    struct http_result result;
    http_request("POST", url, headers, body, strlen(body), &result);
    int status = (int)result.status;
    if (body_out != NULL) {
        *body_out = result.body;
        result.body = NULL;
    }
    http_result_free(&result);
    free(url);
    free(path);
    free(signature[0]);
    free(signature[1]);
    return status;
}

void td_signal(const struct test_daemon *td, int sig)
{
    if (td->pid != 0) {
        kill(td->pid, sig);
    }
}

bool td_wait_until(bool (*done)(void *arg), void *arg, int64_t timeout_ms)
{
    int64_t deadline = util_monotonic_ms() + timeout_ms;
    while (!done(arg)) {
        if (util_monotonic_ms() >= deadline) {
            return done(arg);
        }
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return true;
}

void td_cleanup(struct test_daemon *td)
{
    td_kill(td);
    if (td->own_db) {
        testdb_drop(td->db_url);
    } else {
        free(td->db_url);
    }
    if (td->dir != NULL) {
        tu_rmrf(td->dir);
    }
    free(td->dir);
    free(td->log_path);
    free(td->extra_main);
    free(td->binary);
    free(td->extra_plugin_dir);
    memset(td, 0, sizeof(*td));
}
