/* test_util.c - RFC 3339 times format exactly and parse back, on both sides of 1970;
 * backoff ceilings double up to their cap. */
#include <check.h>
#include <stdint.h>

#include "testutil.h"
#include "util.h"

static void check_format(int64_t ms, const char *expected)
{
    char text[32];
    util_format_rfc3339(ms, text);
    ck_assert_str_eq(text, expected);
    int64_t back = 0;
    ck_assert_int_eq(util_parse_rfc3339(text, &back), 0);
    ck_assert(back == ms);
}

START_TEST(test_util_format_rfc3339_writes_utc_with_milliseconds)
{
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(1795773600123LL, "2026-11-27T10:00:00.123Z");
    check_format(951782400000LL, "2000-02-29T00:00:00.000Z");
    check_format(-1, "1969-12-31T23:59:59.999Z");
    check_format(253402300799999LL, "9999-12-31T23:59:59.999Z");
}
END_TEST

START_TEST(test_util_backoff_ceiling_doubles_from_base_up_to_the_cap)
{
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 0), 100);
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 1), 100);
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 2), 200);
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 4), 800);
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 5), 1000);
    /* no overflow however many attempts */
    ck_assert_int_eq(util_backoff_ceiling_ms(100, 1000, 4000000000U), 1000);
    /* a cap below the base wins */
    ck_assert_int_eq(util_backoff_ceiling_ms(500, 300, 1), 300);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("time");
    tcase_add_test(tc, test_util_format_rfc3339_writes_utc_with_milliseconds);
    tcase_add_test(tc, test_util_backoff_ceiling_doubles_from_base_up_to_the_cap);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
