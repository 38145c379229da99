/*
 * bench_daemon.c - the real leadhubd as a child process: a config dir in /tmp, exec, wait
 * for /readyz, SIGTERM; and what the kernel says about a process (RSS, peak RSS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "http_client.h"
#include "loadgen.h"
#include "util.h"

#define READY_TIMEOUT_MS 60000

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

static int write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fputs(content, f);
    return fclose(f) == 0 ? 0 : -1;
}

int bench_daemon_configure(struct bench_daemon *d, const char *build_dir, const char *db_url,
                           const char *secret, const char *sink_url, const char *extra_main)
{
    memset(d, 0, sizeof(*d));
    char template[] = "/tmp/leadhub-bench.XXXXXX";
    if (mkdtemp(template) == NULL) {
        fprintf(stderr, "bench: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    d->dir = strdup(template);
    d->config = util_printf("%s/leadhub.yaml", d->dir);
    d->log = util_printf("%s/daemon.log", d->dir);
    d->port = bench_free_port();
    char *confd = util_printf("%s/conf.d", d->dir);
    mkdir(confd, 0755);
    bool bare = secret == NULL;
    if (!bare) {
        setenv("LEADHUB_BENCH_SECRET", secret, 1);
    }
    /* bare: an empty plugin directory, no instances */
    char *plugins =
        bare ? util_printf("%s/no-plugins", d->dir) : util_printf("%s/plugins", build_dir);
    if (bare) {
        mkdir(plugins, 0755);
    }
    char *absolute_plugins = realpath(plugins, NULL);
    struct strbuf main_yaml = {0};
    strbuf_appendf(&main_yaml,
                   "database_url: \"%s\"\nlisten: 127.0.0.1:%d\nplugin_path: [\"%s\"]\n"
                   "connectors_dir: conf.d\nlog:\n  level: info\nshutdown_grace: 30s\n",
                   db_url, d->port, absolute_plugins != NULL ? absolute_plugins : plugins);
    if (sink_url != NULL) {
        strbuf_append(&main_yaml, "routes:\n  - name: bench\n    from: inbound\n"
                                  "    types: [\"*\"]\n    to: [out]\n");
    }
    if (extra_main != NULL) {
        strbuf_append(&main_yaml, extra_main);
    }
    int rc = write_file(d->config, strbuf_value(&main_yaml));
    char *inbound = util_printf("%s/inbound.yaml", confd);
    if (!bare) {
        rc |= write_file(inbound, "name: inbound\nplugin: webhook\nsettings:\n"
                                  "  secret: ${LEADHUB_BENCH_SECRET}\n");
    }
    if (sink_url != NULL) {
        char *out = util_printf("%s/out.yaml", confd);
        char *yaml = util_printf("name: out\nplugin: http\nsettings:\n  url: %s\n"
                                 "  secret: ${LEADHUB_BENCH_SECRET}\n  timeout: 10s\n",
                                 sink_url);
        rc |= write_file(out, yaml);
        free(yaml);
        free(out);
    }
    free(inbound);
    strbuf_free(&main_yaml);
    free(absolute_plugins);
    free(plugins);
    free(confd);
    return rc == 0 ? 0 : -1;
}

static void print_log_tail(const char *path)
{
    size_t len = 0;
    char *text = util_read_file(path, 16u * 1024 * 1024, &len);
    if (text == NULL) {
        return;
    }
    const char *tail = len > 4000 ? text + len - 4000 : text;
    fprintf(stderr, "--- %s (tail) ---\n%s\n---\n", path, tail);
    free(text);
}

int bench_daemon_start(struct bench_daemon *d, const char *build_dir)
{
    char *binary = util_printf("%s/leadhubd", build_dir);
    int64_t started = loadgen_now_us();
    pid_t pid = fork();
    if (pid < 0) {
        free(binary);
        return -1;
    }
    if (pid == 0) {
        int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execl(binary, "leadhubd", "run", "-c", d->config, (char *)NULL);
        fprintf(stderr, "exec %s: %s\n", binary, strerror(errno));
        _exit(127);
    }
    free(binary);
    d->pid = pid;
    char *url = util_printf("http://127.0.0.1:%d/readyz", d->port);
    int rc = -1;
    while ((loadgen_now_us() - started) / 1000 < READY_TIMEOUT_MS) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            d->pid = 0;
            fprintf(stderr, "bench: the daemon exited during start-up\n");
            break;
        }
        struct http_result result;
        if (http_get(url, &result) == 0 && result.status == 200) {
            d->ready_ms = (double)(loadgen_now_us() - started) / 1000.0;
            http_result_free(&result);
            rc = 0;
            break;
        }
        http_result_free(&result);
        struct timespec pause = {0, 2 * 1000000L};
        nanosleep(&pause, NULL);
    }
    free(url);
    if (rc != 0) {
        print_log_tail(d->log);
        if (d->pid != 0) {
            kill(d->pid, SIGKILL);
            waitpid(d->pid, NULL, 0);
            d->pid = 0;
        }
    }
    return rc;
}

static int decode_status(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool bench_daemon_exited(struct bench_daemon *d, int *status)
{
    int raw = 0;
    if (d->pid == 0 || waitpid(d->pid, &raw, WNOHANG) != d->pid) {
        return false;
    }
    d->pid = 0;
    *status = decode_status(raw);
    d->exit_status = *status;
    fprintf(stderr, "bench: the daemon exited %d by itself\n", *status);
    print_log_tail(d->log);
    return true;
}

int bench_daemon_stop(struct bench_daemon *d)
{
    if (d->pid == 0) {
        return d->exit_status;
    }
    kill(d->pid, SIGTERM);
    int status = 0;
    while (waitpid(d->pid, &status, 0) < 0 && errno == EINTR) {
    }
    d->pid = 0;
    int code = decode_status(status);
    if (code != 0) {
        fprintf(stderr, "bench: the daemon exited %d\n", code);
        print_log_tail(d->log);
    }
    return code;
}

void bench_daemon_cleanup(struct bench_daemon *d, bool keep)
{
    if (d->pid != 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, NULL, 0);
    }
    if (d->dir != NULL && !keep) {
        char *command = util_printf("rm -rf '%s'", d->dir);
        if (system(command) != 0) {
            fprintf(stderr, "bench: could not remove %s\n", d->dir);
        }
        free(command);
    }
    free(d->dir);
    free(d->config);
    free(d->log);
    memset(d, 0, sizeof(*d));
}

static long status_kb(pid_t pid, const char *field)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[256];
    long value = -1;
    size_t len = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            value = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return value;
}

int bench_proc_stat_field(long pid, int number, long long *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    char line[1024];
    int rc = -1;
    if (fgets(line, sizeof(line), f) != NULL && number >= 3) {
        /* the command (field 2) may hold spaces: fields 3 on start after the last ')' */
        const char *p = strrchr(line, ')');
        for (int field = 3; p != NULL && field <= number; field++) {
            p = strchr(p, ' ');
            p = p != NULL ? p + 1 : NULL;
            if (p != NULL && field == number) {
                char *end = NULL;
                long long value = strtoll(p, &end, 10);
                if (end != p) {
                    *out = value;
                    rc = 0;
                }
            }
        }
    }
    fclose(f);
    return rc;
}

double bench_process_cpu_seconds(pid_t pid)
{
    long long utime = 0, stime = 0;
    if (bench_proc_stat_field(pid, 14, &utime) != 0 ||
        bench_proc_stat_field(pid, 15, &stime) != 0) {
        return -1;
    }
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

double bench_daemon_metric(const struct bench_daemon *d, const char *metric)
{
    char *url = util_printf("http://127.0.0.1:%d/metrics", d->port);
    struct http_result result;
    double value = -1;
    if (http_get(url, &result) == 0 && result.status == 200 && result.body != NULL) {
        size_t len = strlen(metric);
        for (const char *line = result.body; line != NULL && *line != '\0';) {
            if (strncmp(line, metric, len) == 0 && (line[len] == ' ' || line[len] == '{')) {
                const char *space = strchr(line, ' ');
                if (line[len] == '{') {
                    const char *close = strchr(line, '}');
                    space = close != NULL ? strchr(close, ' ') : NULL;
                }
                if (space != NULL) {
                    value = strtod(space + 1, NULL);
                }
                break;
            }
            line = strchr(line, '\n');
            line = line != NULL ? line + 1 : NULL;
        }
    }
    http_result_free(&result);
    free(url);
    return value;
}

long bench_rss_kb(pid_t pid)
{
    return status_kb(pid, "VmRSS");
}

long bench_hwm_kb(pid_t pid)
{
    return status_kb(pid, "VmHWM");
}

int bench_run_command(char *const argv[], double *ms, long *maxrss_kb)
{
    int64_t started = loadgen_now_us();
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    struct rusage usage = {0};
    while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    *ms = (double)(loadgen_now_us() - started) / 1000.0;
    *maxrss_kb = usage.ru_maxrss;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
