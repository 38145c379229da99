/* reaper.c - see reaper.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reaper.h"
#include "testutil.h"

static int reaper_fd = -1; /* the write end, in the test process */
static pid_t reaper_pid;

/* Lines are "pid N", "cluster DIR", "cluster " or "release". */
static void reaper_main(int fd, const char *source_dir)
{
    char line[4096];
    size_t used = 0;
    long pid = 0;
    char cluster[sizeof(line)] = "";
    for (;;) {
        ssize_t n = read(fd, line + used, sizeof(line) - 1 - used);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* the test process is gone */
        }
        used += (size_t)n;
        line[used] = '\0';
        char *newline;
        while ((newline = strchr(line, '\n')) != NULL) {
            *newline = '\0';
            if (strcmp(line, "release") == 0) {
                _exit(0);
            } else if (strncmp(line, "pid ", 4) == 0) {
                pid = strtol(line + 4, NULL, 10);
            } else if (strncmp(line, "cluster ", 8) == 0) {
                snprintf(cluster, sizeof(cluster), "%s", line + 8);
            }
            size_t rest = used - (size_t)(newline + 1 - line);
            memmove(line, newline + 1, rest + 1);
            used = rest;
        }
    }
    if (pid != 0) {
        kill((pid_t)pid, SIGKILL); /* negative: a process group */
    }
    if (cluster[0] != '\0') {
        execl(source_dir, source_dir, "stop", cluster, (char *)NULL);
    }
    _exit(0);
}

void reaper_start(void)
{
    int fds[2];
    if (reaper_fd >= 0 || pipe2(fds, O_CLOEXEC) != 0) {
        return;
    }
    /* resolved now: the reaper must not depend on the test process's state later */
    char script[4096];
    snprintf(script, sizeof(script), "%s/scripts/pg.sh", tu_source_dir());
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[1]);
        /* its own process group: the test's killers (Check's timeout) do not reach it */
        setpgid(0, 0);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        reaper_main(fds[0], script);
    }
    close(fds[0]);
    reaper_fd = fds[1];
    reaper_pid = pid;
}

static void tell(const char *text)
{
    if (reaper_fd < 0) {
        return;
    }
    size_t len = strlen(text);
    while (len > 0) {
        ssize_t n = write(reaper_fd, text, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        text += n;
        len -= (size_t)n;
    }
}

void reaper_watch_pid(pid_t pid)
{
    char line[32];
    snprintf(line, sizeof(line), "pid %ld\n", (long)pid);
    tell(line);
}

void reaper_watch_cluster(const char *dir)
{
    char line[4096];
    snprintf(line, sizeof(line), "cluster %s\n", dir != NULL ? dir : "");
    tell(line);
}

void reaper_release(void)
{
    if (reaper_fd < 0) {
        return;
    }
    tell("release\n");
    close(reaper_fd);
    reaper_fd = -1;
    waitpid(reaper_pid, NULL, 0);
}
