/* test_config_ref.c - ${ENV}, ${ENV:-fallback}, ${file:/path} and $${ in config strings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config_ref.h"
#include "config_testing.h"
#include "testutil.h"
#include "util.h"

static const struct config_where where = {.file = "conf.d/x.yaml", .lines = NULL};

/* Resolves text expecting success; returns the malloc'd result. */
static char *resolve_info(const char *text, struct config_ref_info *info)
{
    struct diag_list diags = {0};
    char *out = NULL;
    int rc = config_ref_resolve(text, &where, "settings.k", &out, info, &diags);
    if (rc != 0) {
        fprintf(stderr, "unexpected: %s\n", diags.count ? diags.items[0].message : "?");
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(diags.count, 0);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Resolves text expecting success; returns the malloc'd result. */
static char *resolve_ok(const char *text, bool *single_out)
{
    struct config_ref_info info = {true, true};
    char *out = resolve_info(text, &info);
    if (single_out != NULL) {
        *single_out = info.single;
    }
    return out;
}

static void resolve_fails(const char *text, struct diag_list *diags)
{
    char *out = (char *)"untouched";
    ck_assert_int_eq(config_ref_resolve(text, &where, "settings.k", &out, NULL, diags), -1);
    ck_assert_ptr_null(out);
    ck_assert_uint_eq(diag_error_count(diags), 1);
    ck_assert_str_eq(diags->items[0].file, "conf.d/x.yaml");
    ck_assert_str_eq(diags->items[0].key, "settings.k");
}

START_TEST(test_ref_env_variable_is_substituted)
{
    setenv("LH_TEST_HOST", "api.example.com", 1);
    bool single = false;
    char *out = resolve_ok("${LH_TEST_HOST}", &single);
    ck_assert_str_eq(out, "api.example.com");
    ck_assert(single);
    free(out);
}
END_TEST

START_TEST(test_ref_mixed_text_and_references)
{
    setenv("LH_TEST_HOST", "api.example.com", 1);
    setenv("LH_TEST_PORT", "8443", 1);
    bool single = true;
    char *out = resolve_ok("https://${LH_TEST_HOST}:${LH_TEST_PORT}/v1", &single);
    ck_assert_str_eq(out, "https://api.example.com:8443/v1");
    ck_assert(!single);
    free(out);
}
END_TEST

START_TEST(test_ref_reference_with_surrounding_text_is_not_single)
{
    setenv("LH_TEST_KEY", "k", 1);
    bool single = true;
    char *out = resolve_ok("x${LH_TEST_KEY}", &single);
    ck_assert(!single);
    free(out);
    out = resolve_ok("${LH_TEST_KEY}${LH_TEST_KEY}", &single);
    ck_assert_str_eq(out, "kk");
    ck_assert(!single);
    free(out);
}
END_TEST

START_TEST(test_ref_plain_text_is_unchanged_and_not_single)
{
    bool single = true;
    char *out = resolve_ok("plain $text {with} $ signs", &single);
    ck_assert_str_eq(out, "plain $text {with} $ signs");
    ck_assert(!single);
    free(out);
}
END_TEST

START_TEST(test_ref_fallback_used_when_unset_or_empty)
{
    unsetenv("LH_TEST_UNSET");
    setenv("LH_TEST_EMPTY", "", 1);
    setenv("LH_TEST_SET", "value", 1);
    char *out = resolve_ok("${LH_TEST_UNSET:-fallback:with-dash}", NULL);
    ck_assert_str_eq(out, "fallback:with-dash");
    free(out);
    out = resolve_ok("${LH_TEST_EMPTY:-fb}", NULL);
    ck_assert_str_eq(out, "fb");
    free(out);
    out = resolve_ok("${LH_TEST_SET:-fb}", NULL);
    ck_assert_str_eq(out, "value");
    free(out);
    out = resolve_ok("${LH_TEST_UNSET:-}", NULL);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(test_ref_set_but_empty_variable_is_empty)
{
    setenv("LH_TEST_EMPTY", "", 1);
    char *out = resolve_ok("[${LH_TEST_EMPTY}]", NULL);
    ck_assert_str_eq(out, "[]");
    free(out);
}
END_TEST

START_TEST(test_ref_unset_variable_is_an_error_naming_it)
{
    unsetenv("LH_TEST_MISSING");
    struct diag_list diags = {0};
    resolve_fails("Bearer ${LH_TEST_MISSING}", &diags);
    const struct diag *d = tc_expect(&diags, "environment variable LH_TEST_MISSING is not set");
    ck_assert_ptr_nonnull(strstr(d->hint, "export LH_TEST_MISSING"));
    ck_assert_ptr_nonnull(strstr(d->hint, "${file:/path}"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_ref_file_contents_with_one_trailing_newline_removed)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "lf", "s3cret\n");
    tu_write_file(dir, "crlf", "s3cret\r\n");
    tu_write_file(dir, "two", "s3cret\n\n");
    tu_write_file(dir, "none", "s3cret");
    const char *names[] = {"lf", "crlf", "two", "none"};
    const char *expected[] = {"s3cret", "s3cret", "s3cret\n", "s3cret"};
    for (size_t i = 0; i < 4; i++) {
        char *text = util_printf("${file:%s/%s}", dir, names[i]);
        bool single = false;
        char *out = resolve_ok(text, &single);
        ck_assert_str_eq(out, expected[i]);
        ck_assert(single);
        free(out);
        free(text);
    }
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_ref_unreadable_file_names_path_and_reason)
{
    struct diag_list diags = {0};
    resolve_fails("${file:/nonexistent/secret}", &diags);
    const struct diag *d = tc_expect(&diags, "cannot read file \"/nonexistent/secret\"");
    ck_assert_ptr_nonnull(strstr(d->message, "No such file or directory"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_ref_relative_file_path_is_refused)
{
    struct diag_list diags = {0};
    resolve_fails("${file:secrets/key}", &diags);
    tc_expect(&diags, "the path in ${file:secrets/key} must be absolute");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_ref_file_over_64_kib_is_refused)
{
    char *dir = tu_tmpdir();
    char *big = malloc(CONFIG_REF_MAX_FILE + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, 'x', CONFIG_REF_MAX_FILE + 1);
    big[CONFIG_REF_MAX_FILE + 1] = '\0';
    tu_write_file(dir, "big", big);
    char *text = util_printf("${file:%s/big}", dir);
    struct diag_list diags = {0};
    resolve_fails(text, &diags);
    tc_expect(&diags, "is larger than 64 KiB");
    diag_list_free(&diags);
    free(text);
    free(big);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_ref_double_dollar_is_a_literal)
{
    setenv("LH_TEST_SET", "value", 1);
    bool single = true;
    char *out = resolve_ok("$${LH_TEST_SET} and ${LH_TEST_SET}", &single);
    ck_assert_str_eq(out, "${LH_TEST_SET} and value");
    ck_assert(!single);
    free(out);
    out = resolve_ok("$${NOT_A_REF", &single);
    ck_assert_str_eq(out, "${NOT_A_REF");
    ck_assert(!single);
    free(out);
}
END_TEST

/* A fallback may be another reference, resolved in its turn. */
START_TEST(test_ref_fallback_may_itself_be_a_reference)
{
    unsetenv("LH_TEST_UNSET");
    setenv("LH_TEST_SET", "value", 1);
    char *dir = tu_tmpdir();
    tu_write_file(dir, "key", "from-file\n");
    char *path = tu_path(dir, "key");
    char *text = util_printf("${LH_TEST_UNSET:-${file:%s}}", path);
    struct config_ref_info info = {false, true};
    char *out = resolve_info(text, &info);
    ck_assert_str_eq(out, "from-file");
    ck_assert(info.single);
    ck_assert(!info.literal_fallback);
    free(out);
    out = resolve_info("${LH_TEST_UNSET:-${LH_TEST_UNSET:-${LH_TEST_SET}}}", &info);
    ck_assert_str_eq(out, "value");
    ck_assert(info.single);
    ck_assert(!info.literal_fallback);
    free(out);
    free(text);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* What a secret may not hold: a literal anywhere down the fallbacks, used or not. */
START_TEST(test_ref_literal_fallback_is_flagged_whether_used_or_not)
{
    unsetenv("LH_TEST_UNSET");
    setenv("LH_TEST_SET", "value", 1);
    static const char *const literal[] = {"${LH_TEST_UNSET:-hunter2}", "${LH_TEST_SET:-hunter2}",
                                          "${LH_TEST_UNSET:-${LH_TEST_UNSET:-hunter2}}",
                                          "${LH_TEST_UNSET:-x${LH_TEST_SET}}"};
    for (size_t i = 0; i < sizeof(literal) / sizeof(literal[0]); i++) {
        struct config_ref_info info = {false, false};
        free(resolve_info(literal[i], &info));
        ck_assert_msg(info.literal_fallback, "%s", literal[i]);
    }
    struct config_ref_info info = {true, true};
    free(resolve_info("${LH_TEST_UNSET:-${LH_TEST_SET}}", &info));
    ck_assert(!info.literal_fallback);
    free(resolve_info("${LH_TEST_SET}", &info));
    ck_assert(!info.literal_fallback);
}
END_TEST

START_TEST(test_ref_unterminated_reference_is_an_error)
{
    struct diag_list diags = {0};
    resolve_fails("abc${NAME", &diags);
    tc_expect(&diags, "unterminated reference: \"${\" at character 4");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_ref_invalid_name_is_an_error_without_echoing_the_text)
{
    struct diag_list diags = {0};
    resolve_fails("${hunter2 is my password}", &diags);
    tc_expect(&diags, "invalid reference");
    tc_assert_not_printed(&diags, "hunter2");
    diag_list_free(&diags);
}
END_TEST

TC_RUN_SUITE("config_ref", test_ref_env_variable_is_substituted, test_ref_mixed_text_and_references,
             test_ref_reference_with_surrounding_text_is_not_single,
             test_ref_plain_text_is_unchanged_and_not_single,
             test_ref_fallback_used_when_unset_or_empty, test_ref_set_but_empty_variable_is_empty,
             test_ref_unset_variable_is_an_error_naming_it,
             test_ref_file_contents_with_one_trailing_newline_removed,
             test_ref_unreadable_file_names_path_and_reason, test_ref_relative_file_path_is_refused,
             test_ref_file_over_64_kib_is_refused, test_ref_double_dollar_is_a_literal,
             test_ref_fallback_may_itself_be_a_reference,
             test_ref_literal_fallback_is_flagged_whether_used_or_not,
             test_ref_unterminated_reference_is_an_error,
             test_ref_invalid_name_is_an_error_without_echoing_the_text)
