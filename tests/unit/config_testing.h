/*
 * config_testing.h - helpers shared by the test_config*.c suites (header only: each suite
 * is its own program).
 */
#ifndef LEADHUB_CONFIG_TESTING_H
#define LEADHUB_CONFIG_TESTING_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "testutil.h"

/* The first diagnostic whose message contains `needle`, or NULL. */
static inline const struct diag *tc_find(const struct diag_list *diags, const char *needle)
{
    for (size_t i = 0; i < diags->count; i++) {
        if (strstr(diags->items[i].message, needle) != NULL) {
            return &diags->items[i];
        }
    }
    return NULL;
}

/* Like tc_find(), but the test fails (listing what there was) when nothing matches. */
static inline const struct diag *tc_expect(const struct diag_list *diags, const char *needle)
{
    const struct diag *d = tc_find(diags, needle);
    if (d == NULL) {
        for (size_t i = 0; i < diags->count; i++) {
            fprintf(stderr, "  diag %zu: %s\n", i, diags->items[i].message);
        }
    }
    ck_assert_msg(d != NULL, "no diagnostic mentions \"%s\" (%zu diagnostics)", needle,
                  diags->count);
    return d;
}

/* Everything a user could see of the diagnostics: diag_print()'s text plus diag_log()'s
 * fields are the same strings. malloc'd. */
static inline char *tc_printed(const struct diag_list *diags)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    diag_print(diags, f);
    ck_assert_int_eq(fclose(f), 0);
    return text;
}

/* Fails when `secret` appears anywhere in the printed diagnostics. */
static inline void tc_assert_not_printed(const struct diag_list *diags, const char *secret)
{
    char *text = tc_printed(diags);
    ck_assert_msg(strstr(text, secret) == NULL, "secret printed in:\n%s", text);
    free(text);
}

/* A suite with one test case holding every test given. */
#define TC_RUN_SUITE(name, ...)                                                                    \
    int main(void)                                                                                 \
    {                                                                                              \
        Suite *suite = suite_create(name);                                                         \
        TCase *tcase = tcase_create("all");                                                        \
        const TTest *tests[] = {__VA_ARGS__};                                                      \
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {                            \
            tcase_add_test(tcase, tests[i]);                                                       \
        }                                                                                          \
        suite_add_tcase(suite, tcase);                                                             \
        return tu_run_suite(suite);                                                                \
    }

#endif
