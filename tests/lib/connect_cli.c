/* connect_cli.c - see connect_cli.h. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "connect_cli.h"
#include "daemon_harness.h"

/* Reads what is there within timeout_ms; false at end of output. */
static bool read_some(struct connect_cli *cli, int timeout_ms)
{
    struct pollfd p = {.fd = cli->out_fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) <= 0) {
        return true;
    }
    char chunk[4096];
    ssize_t n = read(cli->out_fd, chunk, sizeof(chunk));
    if (n <= 0) {
        return n < 0 && errno == EINTR;
    }
    strbuf_append_len(&cli->output, chunk, (size_t)n);
    return true;
}

/* The first line of the output that is an indented address, or NULL. */
static char *address_in(const char *output)
{
    const char *at = strstr(output, "\n  http");
    if (at == NULL) {
        return NULL;
    }
    at += 3;
    const char *end = strchr(at, '\n');
    return end != NULL ? strndup(at, (size_t)(end - at)) : NULL;
}

char *connect_cli_start(struct connect_cli *cli, const char *const *args)
{
    memset(cli, 0, sizeof(*cli));
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    cli->pid = fork();
    ck_assert_int_ge(cli->pid, 0);
    if (cli->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        dup2(out[1], STDERR_FILENO);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        const char *argv[32] = {"leadhubd", "connect"};
        size_t n = 2;
        for (size_t i = 0; args[i] != NULL && n < 31; i++) {
            argv[n++] = args[i];
        }
        argv[n] = NULL;
        execv(td_binary(), (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    cli->in_fd = in[1];
    cli->out_fd = out[0];
    int64_t deadline = util_monotonic_ms() + 30000;
    char *address = NULL;
    while ((address = address_in(strbuf_value(&cli->output))) == NULL &&
           util_monotonic_ms() < deadline) {
        if (!read_some(cli, 100)) {
            break;
        }
    }
    return address;
}

void connect_cli_paste(struct connect_cli *cli, const char *line)
{
    size_t len = strlen(line);
    ck_assert_int_eq(write(cli->in_fd, line, len), (ssize_t)len);
    ck_assert_int_eq(write(cli->in_fd, "\n", 1), 1);
}

int connect_cli_finish(struct connect_cli *cli, char **output_out)
{
    close(cli->in_fd);
    int64_t deadline = util_monotonic_ms() + 60000;
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(cli->pid, &status, WNOHANG)) == 0 && util_monotonic_ms() < deadline) {
        read_some(cli, 100);
    }
    if (done == 0) {
        kill(cli->pid, SIGKILL);
        waitpid(cli->pid, &status, 0);
    }
    struct pollfd p = {.fd = cli->out_fd, .events = POLLIN};
    while (poll(&p, 1, 0) > 0 && read_some(cli, 0)) {
        /* what the command wrote before it ended */
    }
    close(cli->out_fd);
    *output_out = strbuf_take(&cli->output);
    if (*output_out == NULL) {
        *output_out = strdup("");
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
