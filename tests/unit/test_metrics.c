/* test_metrics.c - the Prometheus registry renders the text exposition format exactly. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "testutil.h"

START_TEST(test_metrics_counters_render_with_help_type_and_escaped_labels)
{
    struct metrics *m = metrics_create();
    metrics_counter_add(m, "lh_requests_total", "Requests.", 1, "route", "/a", METRICS_END);
    metrics_counter_add(m, "lh_requests_total", "Requests.", 2, "route", "/a", METRICS_END);
    metrics_counter_add(m, "lh_requests_total", "Requests.", 1, "route", "q\"\\\n", METRICS_END);
    metrics_gauge_set(m, "lh_depth", "Depth.", 7, METRICS_END);
    metrics_gauge_set(m, "lh_depth", "Depth.", 3, METRICS_END);
    char *text = metrics_render(m);
    ck_assert_str_eq(text, "# HELP lh_depth Depth.\n"
                           "# TYPE lh_depth gauge\n"
                           "lh_depth 3\n"
                           "# HELP lh_requests_total Requests.\n"
                           "# TYPE lh_requests_total counter\n"
                           "lh_requests_total{route=\"/a\"} 3\n"
                           "lh_requests_total{route=\"q\\\"\\\\\\n\"} 1\n");
    ck_assert_int_eq(metrics_get(m, "lh_requests_total", "route", "/a", METRICS_END), 3);
    ck_assert_int_eq(metrics_get(m, "lh_missing", METRICS_END), 0);
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(test_metrics_long_label_values_count_as_one_series)
{
    /* keys past the inline buffer take the heap path; they must match like short ones */
    struct metrics *m = metrics_create();
    char value[1200];
    memset(value, 'v', sizeof(value) - 2);
    value[sizeof(value) - 2] = '"';
    value[sizeof(value) - 1] = '\0';
    metrics_counter_add(m, "lh_long_total", "Long.", 1, "a", value, "b", "x", METRICS_END);
    metrics_counter_add(m, "lh_long_total", "Long.", 1, "a", value, "b", "x", METRICS_END);
    metrics_counter_add(m, "lh_long_total", "Long.", 1, "a", value, "b", "y", METRICS_END);
    ck_assert_int_eq(metrics_get(m, "lh_long_total", "a", value, "b", "x", METRICS_END), 2);
    ck_assert_int_eq(metrics_get(m, "lh_long_total", "a", value, "b", "y", METRICS_END), 1);
    char *text = metrics_render(m);
    ck_assert_ptr_nonnull(strstr(text, "vvvv\\\"\",b=\"x\"} 2\n"));
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(test_metrics_histogram_buckets_are_cumulative_with_inf_sum_and_count)
{
    struct metrics *m = metrics_create();
    static const double buckets[] = {0.1, 1};
    metrics_observe(m, "lh_seconds", "Latency.", buckets, 2, 0.05, "op", "x", METRICS_END);
    metrics_observe(m, "lh_seconds", "Latency.", buckets, 2, 0.5, "op", "x", METRICS_END);
    metrics_observe(m, "lh_seconds", "Latency.", buckets, 2, 5, "op", "x", METRICS_END);
    char *text = metrics_render(m);
    ck_assert_str_eq(text, "# HELP lh_seconds Latency.\n"
                           "# TYPE lh_seconds histogram\n"
                           "lh_seconds_bucket{op=\"x\",le=\"0.1\"} 1\n"
                           "lh_seconds_bucket{op=\"x\",le=\"1\"} 2\n"
                           "lh_seconds_bucket{op=\"x\",le=\"+Inf\"} 3\n"
                           "lh_seconds_sum{op=\"x\"} 5.55\n"
                           "lh_seconds_count{op=\"x\"} 3\n");
    free(text);
    metrics_free(m);
}
END_TEST

START_TEST(test_metrics_many_series_survive_growth)
{
    struct metrics *m = metrics_create();
    char label[16];
    for (int i = 0; i < 2000; i++) {
        snprintf(label, sizeof(label), "i%d", i);
        metrics_counter_add(m, "lh_many_total", "Many.", i, "k", label, METRICS_END);
    }
    snprintf(label, sizeof(label), "i%d", 1234);
    ck_assert_int_eq(metrics_get(m, "lh_many_total", "k", label, METRICS_END), 1234);
    metrics_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, test_metrics_counters_render_with_help_type_and_escaped_labels);
    tcase_add_test(tc, test_metrics_long_label_values_count_as_one_series);
    tcase_add_test(tc, test_metrics_histogram_buckets_are_cumulative_with_inf_sum_and_count);
    tcase_add_test(tc, test_metrics_many_series_survive_growth);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
