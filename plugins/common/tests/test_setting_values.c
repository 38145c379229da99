/*
 * test_setting_values.c - the setting checks connectors share (plugins/common/
 * setting_values.h): which base URLs and secrets are refused, and what an accepted value
 * becomes.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "setting_values.h"
#include "testutil.h"

START_TEST(test_setting_url_keeps_a_base_without_its_trailing_slashes)
{
    char *out = NULL;
    const char *reason = NULL;
    ck_assert_int_eq(setting_url("https://api.example.com/v2//", &out, &reason), SETTING_OK);
    ck_assert_str_eq(out, "https://api.example.com/v2");
    free(out);
    /* the host's own slash is not a trailing one to strip past */
    ck_assert_int_eq(setting_url("http://127.0.0.1:8080/", &out, &reason), SETTING_OK);
    ck_assert_str_eq(out, "http://127.0.0.1:8080");
    free(out);
}
END_TEST

START_TEST(test_setting_url_refuses_what_cannot_be_a_base)
{
    static const struct {
        const char *url;
        const char *reason;
    } refused[] = {
        {"ftp://api.example.com", "must start with https://"},
        {"api.example.com", "must start with https://"},
        {"https://", "must name a host"},
        {"https://user:pw@api.example.com", "without user:password@"},
        {"https://api.example.com/?q=1", "a query or a fragment"},
        {"https://api.example.com/#x", "a query or a fragment"},
        {"https://api.example.com/a b", "spaces"},
        {"https://api.example.com/\x01", "spaces"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char *out = NULL;
        const char *reason = NULL;
        ck_assert_int_eq(setting_url(refused[i].url, &out, &reason), SETTING_REFUSED);
        ck_assert_ptr_null(out);
        ck_assert_msg(reason != NULL && strstr(reason, refused[i].reason) != NULL, "%s: %s",
                      refused[i].url, reason != NULL ? reason : "(none)");
    }
    char *out = NULL;
    const char *reason = NULL;
    ck_assert_int_eq(setting_url(NULL, &out, &reason), SETTING_REFUSED);
}
END_TEST

START_TEST(test_setting_secret_takes_one_clean_string_or_nothing)
{
    char *out = NULL;
    const char *reason = NULL;
    ck_assert_int_eq(setting_secret(NULL, &out, &reason), SETTING_OK);
    ck_assert_ptr_null(out);
    json_t *good = json_string("pat-na1-0123");
    ck_assert_int_eq(setting_secret(good, &out, &reason), SETTING_OK);
    ck_assert_str_eq(out, "pat-na1-0123");
    free(out);
    json_t *bad[] = {json_pack("[s, s]", "a", "b"), json_string(""), json_integer(7),
                     json_string("line\nbreak"), json_stringn("nul\0inside", 10)};
    const char *reasons[] = {"not a list", "non-empty string", "non-empty string",
                             "control characters", "non-empty string"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        reason = NULL;
        ck_assert_int_eq(setting_secret(bad[i], &out, &reason), SETTING_REFUSED);
        ck_assert_ptr_null(out);
        ck_assert_msg(reason != NULL && strstr(reason, reasons[i]) != NULL, "case %zu: %s", i,
                      reason != NULL ? reason : "(none)");
        json_decref(bad[i]);
    }
    json_decref(good);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("setting_values");
    TCase *tc = tcase_create("setting_values");
    tcase_add_test(tc, test_setting_url_keeps_a_base_without_its_trailing_slashes);
    tcase_add_test(tc, test_setting_url_refuses_what_cannot_be_a_base);
    tcase_add_test(tc, test_setting_secret_takes_one_clean_string_or_nothing);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
