/* test_dispatch.c - the retry schedule: full jitter under a ceiling that doubles per
 * attempt up to the cap. */
#include <check.h>

#include "dispatch.h"
#include "testutil.h"

START_TEST(test_backoff_ceiling_doubles_per_attempt_up_to_the_cap)
{
    struct config_delivery policy = {.backoff_base_ms = 100, .backoff_cap_ms = 1000};
    unsigned seed = 42;
    const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (unsigned attempt = 1; attempt <= 7; attempt++) {
        int64_t lowest = INT64_MAX, highest = 0;
        for (int draw = 0; draw < 2000; draw++) {
            int64_t delay = dispatch_backoff_ms(&policy, attempt, &seed);
            ck_assert_int_ge(delay, 0);
            ck_assert_int_lt(delay, ceilings[attempt - 1]);
            lowest = delay < lowest ? delay : lowest;
            highest = delay > highest ? delay : highest;
        }
        /* full jitter: the whole range is used, not a fixed delay */
        ck_assert_int_lt(lowest, ceilings[attempt - 1] / 10);
        ck_assert_int_gt(highest, ceilings[attempt - 1] * 9 / 10);
    }
}
END_TEST

START_TEST(test_backoff_handles_caps_beyond_31_bits_of_milliseconds)
{
    struct config_delivery policy = {.backoff_base_ms = 1000,
                                     .backoff_cap_ms = 30LL * 24 * 3600 * 1000};
    unsigned seed = 7;
    int64_t highest = 0;
    for (int draw = 0; draw < 1000; draw++) {
        int64_t delay = dispatch_backoff_ms(&policy, 40, &seed);
        highest = delay > highest ? delay : highest;
    }
    ck_assert_int_gt(highest, 1LL << 31);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("backoff");
    tcase_add_test(tc, test_backoff_ceiling_doubles_per_attempt_up_to_the_cap);
    tcase_add_test(tc, test_backoff_handles_caps_beyond_31_bits_of_milliseconds);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
