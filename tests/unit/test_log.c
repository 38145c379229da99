/* test_log.c - rate-limited log lines: a burst per window, the rest counted, and a summary
 * line saying how many were suppressed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "testutil.h"
#include "util.h"

static FILE *captured;

static void setup(void)
{
    captured = tmpfile();
    ck_assert_ptr_nonnull(captured);
    log_set_stream(captured);
    log_set_level(LOG_LEVEL_DEBUG);
}

static void teardown(void)
{
    log_set_stream(NULL);
    fclose(captured);
}

/* What was logged so far, malloc'd. */
static char *logged(void)
{
    long size = ftell(captured);
    char *text = calloc(1, (size_t)size + 1);
    rewind(captured);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, captured), (size_t)size);
    return text;
}

static size_t count_of(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

START_TEST(test_log_limited_writes_a_burst_then_a_summary_of_the_rest)
{
    struct log_limiter limiter = LOG_LIMITER_INIT(3, 200, "refusal lines");
    for (int i = 0; i < 10; i++) {
        log_limited(&limiter, LOG_LEVEL_INFO, NULL, NULL, "refused %d", i);
    }
    char *text = logged();
    ck_assert_uint_eq(count_of(text, "refused "), 3);
    ck_assert_uint_eq(log_limiter_suppressed(&limiter), 7);
    free(text);
    /* nothing more is said until the window is over */
    log_limiter_flush(&limiter);
    text = logged();
    ck_assert_ptr_null(strstr(text, "suppressed"));
    free(text);
    struct timespec pause = {0, 250 * 1000000L};
    nanosleep(&pause, NULL);
    log_limiter_flush(&limiter);
    text = logged();
    ck_assert_msg(strstr(text, "7 refusal lines suppressed in the last") != NULL, "%s", text);
    ck_assert_uint_eq(log_limiter_suppressed(&limiter), 0);
    free(text);
    /* a new window: lines again, and the summary only once */
    log_limited(&limiter, LOG_LEVEL_INFO, NULL, NULL, "refused again");
    log_limiter_flush(&limiter);
    text = logged();
    ck_assert_uint_eq(count_of(text, "suppressed"), 1);
    ck_assert_ptr_nonnull(strstr(text, "refused again"));
    free(text);
}
END_TEST

START_TEST(test_log_limited_says_what_was_suppressed_before_the_next_line)
{
    struct log_limiter limiter = LOG_LIMITER_INIT(1, 100, "noisy lines");
    log_limited(&limiter, LOG_LEVEL_WARN, NULL, NULL, "first");
    log_limited(&limiter, LOG_LEVEL_WARN, NULL, NULL, "second");
    log_limited(&limiter, LOG_LEVEL_WARN, NULL, NULL, "third");
    struct timespec pause = {0, 150 * 1000000L};
    nanosleep(&pause, NULL);
    ck_assert(log_limited(&limiter, LOG_LEVEL_WARN, NULL, NULL, "fourth"));
    char *text = logged();
    const char *summary = strstr(text, "2 noisy lines suppressed");
    const char *fourth = strstr(text, "fourth");
    ck_assert_ptr_nonnull(summary);
    ck_assert_ptr_nonnull(fourth);
    ck_assert(summary < fourth);
    ck_assert_ptr_null(strstr(text, "second"));
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("limited");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_log_limited_writes_a_burst_then_a_summary_of_the_rest);
    tcase_add_test(tc, test_log_limited_says_what_was_suppressed_before_the_next_line);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
