/*
 * test_console_serving.c - the daemon serves the console's files at /console/ over real
 * HTTP: from memory, with their content types, caching (hashed assets immutable,
 * index.html revalidated), validators, a strict Content-Security-Policy and nosniff; no
 * request reaches a file outside console.dir, however it is spelt; a reload picks up a new
 * build, and a broken one leaves the old in place; a missing console costs only /console/.
 *
 * Requests that must reach the daemon exactly as written (dot segments, encoded slashes)
 * go over a raw socket: an HTTP client library would normalize them first.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "http_client.h"
#include "http_console.h"
#include "testutil.h"
#include "util.h"

#define SECRET_MARKER "this-must-never-be-served-4e1b"

static const char index_v1[] =
    "<!doctype html><html><head><script type=\"module\" src=\"/console/assets/app-1a2b.js\">"
    "</script></head><body>v1</body></html>";

static struct test_daemon td;
static char *site;  /* console.dir */
static char *above; /* its parent: holds a file nothing may serve */

static void setup(void)
{
    td_init(&td, NULL);
    above = tu_tmpdir();
    tu_write_file(above, "secret.txt", SECRET_MARKER);
    tu_write_file(td.dir, "secret.txt", SECRET_MARKER);
    site = tu_path(above, "console");
    tu_write_file(site, "index.html", index_v1);
    tu_write_file(site, "assets/app-1a2b.js", "document.body.dataset.ok = '1';");
    tu_write_file(site, "assets/app-9f8e.css", "body{margin:0}");
    tu_write_file(site, "favicon.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    char *link = tu_path(site, "linked.txt");
    char *target = tu_path(above, "secret.txt");
    ck_assert_int_eq(symlink(target, link), 0);
    free(link);
    free(target);
    td.extra_main = util_printf("console:\n  dir: %s\n", site);
}

static void teardown(void)
{
    td_cleanup(&td);
    tu_rmrf(above);
    free(site);
    free(above);
}

/* A header's value in a raw header block (malloc'd), or NULL. */
static char *header_of(const char *headers, const char *name)
{
    size_t len = strlen(name);
    for (const char *line = headers; line != NULL && *line != '\0';) {
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *value = line + len + 1;
            while (*value == ' ') {
                value++;
            }
            return strndup(value, strcspn(value, "\r\n"));
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return NULL;
}

static void assert_header(const char *headers, const char *name, const char *expected)
{
    char *value = header_of(headers, name);
    ck_assert_msg(value != NULL && strcmp(value, expected) == 0, "%s: \"%s\", expected \"%s\"",
                  name, value != NULL ? value : "(none)", expected);
    free(value);
}

static struct http_result request(const char *method, const char *path, const char *header)
{
    char *url = td_url(&td, path);
    const char *headers[] = {header, NULL};
    struct http_result result;
    ck_assert_int_eq(http_request(method, url, headers, NULL, 0, &result), 0);
    free(url);
    return result;
}

/* Sends `path` byte for byte; returns the status, the whole answer in *answer_out. */
static long raw_get(const char *path, char **answer_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)td.port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    struct timeval timeout = {.tv_sec = 20};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    char *text =
        util_printf("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    free(text);
    struct strbuf answer = {0};
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        strbuf_append_len(&answer, buffer, (size_t)n);
    }
    close(fd);
    const char *got = strbuf_value(&answer);
    long status = strncmp(got, "HTTP/1.1 ", 9) == 0 ? strtol(got + 9, NULL, 10) : 0;
    *answer_out = strbuf_take(&answer);
    return status;
}

START_TEST(test_the_console_is_served_with_its_types_caching_and_security_headers)
{
    ck_assert_int_eq(td_start(&td), 0);

    struct http_result index = request("GET", "/console/", NULL);
    ck_assert_int_eq(index.status, 200);
    ck_assert_str_eq(index.body, index_v1);
    assert_header(index.headers, "Content-Type", "text/html; charset=utf-8");
    assert_header(index.headers, "Cache-Control", "no-cache");
    assert_header(index.headers, "Content-Security-Policy", HTTP_CONSOLE_CSP);
    assert_header(index.headers, "X-Content-Type-Options", "nosniff");
    assert_header(index.headers, "X-Frame-Options", "DENY");
    assert_header(index.headers, "Referrer-Policy", "no-referrer");
    /* no CORS: the console and the API share an origin */
    ck_assert_ptr_null(header_of(index.headers, "Access-Control-Allow-Origin"));
    /* the policy allows no inline script or style and nothing from elsewhere */
    ck_assert_ptr_null(strstr(HTTP_CONSOLE_CSP, "unsafe-inline"));
    ck_assert_ptr_null(strstr(HTTP_CONSOLE_CSP, "unsafe-eval"));
    ck_assert_ptr_null(strstr(HTTP_CONSOLE_CSP, "*"));
    char *etag = header_of(index.headers, "ETag");
    ck_assert_ptr_nonnull(etag);

    /* revalidation: unchanged, 304 without a body; another tag, the file */
    char *if_none_match = util_printf("If-None-Match: %s", etag);
    struct http_result again = request("GET", "/console/", if_none_match);
    ck_assert_int_eq(again.status, 304);
    ck_assert_str_eq(again.body, "");
    http_result_free(&again);
    again = request("GET", "/console/", "If-None-Match: \"0000000000000000\"");
    ck_assert_int_eq(again.status, 200);
    http_result_free(&again);
    free(if_none_match);

    struct http_result js = request("GET", "/console/assets/app-1a2b.js", NULL);
    ck_assert_int_eq(js.status, 200);
    ck_assert_str_eq(js.body, "document.body.dataset.ok = '1';");
    assert_header(js.headers, "Content-Type", "text/javascript; charset=utf-8");
    assert_header(js.headers, "Cache-Control", "public, max-age=31536000, immutable");
    assert_header(js.headers, "X-Content-Type-Options", "nosniff");
    http_result_free(&js);
    struct http_result css = request("GET", "/console/assets/app-9f8e.css", NULL);
    assert_header(css.headers, "Content-Type", "text/css; charset=utf-8");
    http_result_free(&css);
    struct http_result icon = request("GET", "/console/favicon.svg", NULL);
    assert_header(icon.headers, "Content-Type", "image/svg+xml");
    assert_header(icon.headers, "Cache-Control", "no-cache");
    http_result_free(&icon);

    /* HEAD: the headers of GET, its length, no body */
    struct http_result head = request("HEAD", "/console/index.html", NULL);
    ck_assert_int_eq(head.status, 200);
    ck_assert_str_eq(head.body, "");
    char *length = util_printf("%zu", strlen(index_v1));
    assert_header(head.headers, "Content-Length", length);
    free(length);
    http_result_free(&head);

    /* /console without its slash goes to it; other methods are refused */
    struct http_result bare = request("GET", "/console", NULL);
    ck_assert_int_eq(bare.status, 308);
    assert_header(bare.headers, "Location", "/console/");
    http_result_free(&bare);
    struct http_result post = request("POST", "/console/", NULL);
    ck_assert_int_eq(post.status, 405);
    assert_header(post.headers, "Allow", "GET, HEAD");
    assert_header(post.headers, "Content-Security-Policy", HTTP_CONSOLE_CSP);
    http_result_free(&post);
    struct http_result missing = request("GET", "/console/nope.js", NULL);
    ck_assert_int_eq(missing.status, 404);
    assert_header(missing.headers, "Content-Type", "application/json");
    http_result_free(&missing);
    /* a path that merely starts with the same letters is not the console's */
    struct http_result other = request("GET", "/consoles/index.html", NULL);
    ck_assert_int_eq(other.status, 404);
    ck_assert_ptr_null(strstr(other.body, "v1"));
    http_result_free(&other);

    /* counted under their own route */
    struct http_result metrics = request("GET", "/metrics", NULL);
    ck_assert_ptr_nonnull(strstr(metrics.body, "route=\"/console\",status=\"200\""));
    http_result_free(&metrics);

    free(etag);
    http_result_free(&index);
    ck_assert_int_eq(td_stop(&td), 0);
}
END_TEST

START_TEST(test_no_spelling_of_a_path_reaches_outside_the_console_directory)
{
    ck_assert_int_eq(td_start(&td), 0);
    static const char *const attempts[] = {
        "/console/../secret.txt",
        "/console/../../secret.txt",
        "/console/assets/../../secret.txt",
        "/console/%2e%2e/secret.txt",
        "/console/%2E%2E%2Fsecret.txt",
        "/console/..%2fsecret.txt",
        "/console/..%5csecret.txt",
        "/console/....//secret.txt",
        "/console//etc/passwd",
        "/console/%2fetc%2fpasswd",
        "/console/linked.txt",
        "/console/./index.html/../../secret.txt",
        "/console/%00../secret.txt",
        "/console/leadhub.yaml",
        "/console/../leadhub.yaml",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(attempts); i++) {
        char *answer = NULL;
        long status = raw_get(attempts[i], &answer);
        ck_assert_msg(status == 404 || status == 400, "%s: %ld\n%s", attempts[i], status, answer);
        ck_assert_msg(strstr(answer, SECRET_MARKER) == NULL, "%s served the secret", attempts[i]);
        ck_assert_msg(strstr(answer, "database_url") == NULL, "%s served the config", attempts[i]);
        free(answer);
    }
    /* and the daemon still serves what it should */
    char *answer = NULL;
    ck_assert_int_eq(raw_get("/console/assets/app-1a2b.js", &answer), 200);
    free(answer);
    ck_assert_int_eq(td_stop(&td), 0);
}
END_TEST

static bool index_says(void *arg)
{
    struct http_result index = request("GET", "/console/", NULL);
    bool found = index.status == 200 && strstr(index.body, (const char *)arg) != NULL;
    http_result_free(&index);
    return found;
}

static bool log_says(void *arg)
{
    char *log = td_log(&td);
    bool found = strstr(log, (const char *)arg) != NULL;
    free(log);
    return found;
}

START_TEST(test_a_reload_serves_a_new_build_and_keeps_the_old_when_the_new_is_broken)
{
    ck_assert_int_eq(td_start(&td), 0);
    ck_assert(index_says("v1"));
    tu_write_file(site, "index.html", "<!doctype html><body>v2</body>");
    tu_write_file(site, "assets/app-3c4d.js", "2");
    td_signal(&td, SIGHUP);
    ck_assert(td_wait_until(index_says, "v2", 20000));
    struct http_result js = request("GET", "/console/assets/app-3c4d.js", NULL);
    ck_assert_int_eq(js.status, 200);
    http_result_free(&js);

    /* a build half copied (no index.html yet): the running one stays, and the log says why */
    char *index = tu_path(site, "index.html");
    ck_assert_int_eq(unlink(index), 0);
    free(index);
    td_signal(&td, SIGHUP);
    ck_assert(td_wait_until(log_says, "no index.html", 20000));
    ck_assert(index_says("v2"));
    ck_assert_int_eq(td_stop(&td), 0);
}
END_TEST

START_TEST(test_without_a_console_only_its_path_is_missing)
{
    free(td.extra_main);
    char *missing = tu_path(above, "not-built");
    td.extra_main = util_printf("console:\n  dir: %s\n", missing);
    free(missing);
    ck_assert_int_eq(td_start(&td), 0);
    struct http_result index = request("GET", "/console/", NULL);
    ck_assert_int_eq(index.status, 404);
    ck_assert_ptr_nonnull(strstr(index.body, "not installed"));
    http_result_free(&index);
    struct http_result health = request("GET", "/healthz", NULL);
    ck_assert_int_eq(health.status, 200);
    http_result_free(&health);
    ck_assert(log_says("console: not served from"));
    ck_assert_int_eq(td_stop(&td), 0);
}
END_TEST

static Suite *console_serving_suite(void)
{
    Suite *s = suite_create("console_serving");
    TCase *tc = tcase_create("serving");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_the_console_is_served_with_its_types_caching_and_security_headers);
    tcase_add_test(tc, test_no_spelling_of_a_path_reaches_outside_the_console_directory);
    tcase_add_test(tc, test_a_reload_serves_a_new_build_and_keeps_the_old_when_the_new_is_broken);
    tcase_add_test(tc, test_without_a_console_only_its_path_is_missing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(console_serving_suite());
}
