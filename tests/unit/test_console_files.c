/*
 * test_console_files.c - the console's files are read into memory as the directory holds
 * them, and only they can be named: no path outside the directory, no link, no hidden
 * file; a directory too large or without index.html is refused with the reason.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console_files.h"
#include "testutil.h"
#include "util.h"

/* A console directory: index.html, hashed assets, a nested file; and next to it, a secret
 * that a path escaping the directory would reach. */
static char *make_site(char **outside_out)
{
    char *root = tu_tmpdir();
    tu_write_file(root, "secret.txt", "not for browsers");
    char *site = tu_path(root, "site");
    tu_write_file(site, "index.html", "<!doctype html><title>console</title>");
    tu_write_file(site, "assets/index-3f9a.js", "console.log(1)");
    tu_write_file(site, "assets/index-77b1.css", "body{}");
    tu_write_file(site, "icons/favicon.svg", "<svg/>");
    tu_write_file(site, ".env", "TOKEN=nope");
    tu_write_file(site, ".hidden/x.js", "nope");
    *outside_out = root;
    return site;
}

START_TEST(test_console_files_serve_what_the_directory_holds_with_types_and_validators)
{
    char *root = NULL;
    char *site = make_site(&root);
    char *error = NULL;
    struct console_files *files = console_files_load(site, &error);
    ck_assert_msg(files != NULL, "%s", error);
    ck_assert_uint_eq(console_files_count(files), 4);

    const struct console_file *index = console_files_find(files, "index.html");
    ck_assert_ptr_nonnull(index);
    ck_assert_str_eq((const char *)index->data, "<!doctype html><title>console</title>");
    ck_assert_uint_eq(index->len, strlen("<!doctype html><title>console</title>"));
    ck_assert_str_eq(index->content_type, "text/html; charset=utf-8");
    ck_assert(!index->immutable);

    const struct console_file *js = console_files_find(files, "assets/index-3f9a.js");
    ck_assert_ptr_nonnull(js);
    ck_assert_str_eq(js->content_type, "text/javascript; charset=utf-8");
    ck_assert(js->immutable);
    ck_assert_str_eq(console_files_find(files, "assets/index-77b1.css")->content_type,
                     "text/css; charset=utf-8");
    ck_assert_str_eq(console_files_find(files, "icons/favicon.svg")->content_type, "image/svg+xml");
    /* different contents, different validators; quoted, as HTTP wants them */
    ck_assert_str_ne(index->etag, js->etag);
    ck_assert_int_eq(index->etag[0], '"');
    ck_assert_int_eq(index->etag[strlen(index->etag) - 1], '"');
    console_files_free(files);
    tu_rmrf(root);
    free(site);
    free(root);
}
END_TEST

START_TEST(test_console_files_name_nothing_outside_the_directory_nor_hidden)
{
    char *root = NULL;
    char *site = make_site(&root);
    /* a link inside the directory to the file outside it */
    char *link = tu_path(site, "leak.txt");
    char *target = tu_path(root, "secret.txt");
    ck_assert_int_eq(symlink(target, link), 0);
    char *dir_link = tu_path(site, "up");
    ck_assert_int_eq(symlink(root, dir_link), 0);
    char *error = NULL;
    struct console_files *files = console_files_load(site, &error);
    ck_assert_msg(files != NULL, "%s", error);
    static const char *const refused[] = {
        "../secret.txt",
        "/secret.txt",
        "assets/../../secret.txt",
        "leak.txt",
        "up/secret.txt",
        "./index.html",
        "assets//index-3f9a.js",
        ".env",
        ".hidden/x.js",
        "assets/",
        "",
        "index.html/",
        "INDEX.HTML",
        "assets/index-3f9a.js%00",
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(refused); i++) {
        ck_assert_msg(console_files_find(files, refused[i]) == NULL, "%s was found", refused[i]);
    }
    ck_assert_uint_eq(console_files_count(files), 4);
    console_files_free(files);
    tu_rmrf(root);
    free(link);
    free(target);
    free(dir_link);
    free(site);
    free(root);
}
END_TEST

START_TEST(test_console_files_refuse_a_directory_without_index_or_missing)
{
    char *root = tu_tmpdir();
    tu_write_file(root, "assets/a.js", "1");
    char *error = NULL;
    ck_assert_ptr_null(console_files_load(root, &error));
    ck_assert_ptr_nonnull(strstr(error, "index.html"));
    free(error);
    char *missing = tu_path(root, "nope");
    ck_assert_ptr_null(console_files_load(missing, &error));
    ck_assert_ptr_nonnull(strstr(error, missing));
    free(error);
    free(missing);
    tu_rmrf(root);
    free(root);
}
END_TEST

START_TEST(test_console_files_refuse_more_than_their_budget)
{
    char *root = tu_tmpdir();
    tu_write_file(root, "index.html", "x");
    /* one file past the byte budget, made sparse so the test stays small on disk */
    char *big = tu_path(root, "big.bin");
    FILE *f = fopen(big, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(ftruncate(fileno(f), (off_t)CONSOLE_FILES_MAX_BYTES + 1), 0);
    fclose(f);
    char *error = NULL;
    ck_assert_ptr_null(console_files_load(root, &error));
    ck_assert_msg(strstr(error, "bytes") != NULL, "%s", error);
    free(error);
    unlink(big);
    /* and more files than it may hold */
    for (int i = 0; i < CONSOLE_FILES_MAX; i++) {
        char name[32];
        snprintf(name, sizeof(name), "f/%d.txt", i);
        tu_write_file(root, name, "1");
    }
    ck_assert_ptr_null(console_files_load(root, &error));
    ck_assert_msg(strstr(error, "files") != NULL, "%s", error);
    free(error);
    free(big);
    tu_rmrf(root);
    free(root);
}
END_TEST

START_TEST(test_console_content_types_follow_the_extension)
{
    ck_assert_str_eq(console_files_content_type("a/b.JS"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(console_files_content_type("x.woff2"), "font/woff2");
    ck_assert_str_eq(console_files_content_type("x.webmanifest"), "application/manifest+json");
    ck_assert_str_eq(console_files_content_type("js"), "application/octet-stream");
    ck_assert_str_eq(console_files_content_type("x.exe"), "application/octet-stream");
}
END_TEST

static Suite *console_files_suite(void)
{
    Suite *s = suite_create("console_files");
    TCase *tc = tcase_create("load");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_console_files_serve_what_the_directory_holds_with_types_and_validators);
    tcase_add_test(tc, test_console_files_name_nothing_outside_the_directory_nor_hidden);
    tcase_add_test(tc, test_console_files_refuse_a_directory_without_index_or_missing);
    tcase_add_test(tc, test_console_files_refuse_more_than_their_budget);
    tcase_add_test(tc, test_console_content_types_follow_the_extension);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(console_files_suite());
}
