/* testutil.c - see testutil.h. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "util.h"

/* Absolute, because daemons under test resolve paths from their own config folder. */
const char *tu_build_dir(void)
{
    static char resolved[4096];
    if (resolved[0] == '\0') {
        const char *dir = getenv("LEADHUB_BUILD_DIR");
        if (realpath(dir != NULL && dir[0] != '\0' ? dir : "build", resolved) == NULL) {
            snprintf(resolved, sizeof(resolved), "%s", dir != NULL ? dir : "build");
        }
    }
    return resolved;
}

const char *tu_source_dir(void)
{
    const char *dir = getenv("LEADHUB_SOURCE_DIR");
    return dir != NULL && dir[0] != '\0' ? dir : ".";
}

char *tu_tmpdir(void)
{
    char template[] = "/tmp/leadhub-test.XXXXXX";
    char *dir = mkdtemp(template);
    ck_assert_msg(dir != NULL, "mkdtemp: %s", strerror(errno));
    /* the PostgreSQL server user may need to read files here */
    chmod(dir, 0755);
    return strdup(dir);
}

void tu_rmrf(const char *path)
{
    char *command = util_printf("rm -rf '%s'", path);
    if (command != NULL && system(command) != 0) {
        fprintf(stderr, "tu_rmrf: could not remove %s\n", path);
    }
    free(command);
}

char *tu_path(const char *dir, const char *name)
{
    char *path = util_printf("%s/%s", dir, name);
    ck_assert_ptr_nonnull(path);
    return path;
}

static void make_parents(char *path)
{
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0755);
            *p = '/';
        }
    }
}

void tu_write_file(const char *dir, const char *name, const char *content)
{
    char *path = tu_path(dir, name);
    make_parents(path);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
    ck_assert_int_eq(fputs(content, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    free(path);
}

int tu_run(const char *command, char **output_out)
{
    char *full = util_printf("(%s) 2>&1", command);
    ck_assert_ptr_nonnull(full);
    FILE *p = popen(full, "r");
    free(full);
    ck_assert_ptr_nonnull(p);
    struct strbuf out = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        strbuf_append_len(&out, chunk, n);
    }
    int status = pclose(p);
    if (output_out != NULL) {
        *output_out = strbuf_take(&out);
    } else {
        strbuf_free(&out);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

int tu_run_suite(Suite *suite)
{
    SRunner *runner = srunner_create(suite);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    close(fd);
    return ntohs(addr.sin_port);
}
