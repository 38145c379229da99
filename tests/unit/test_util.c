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

/* Years 0001 to 9999 once in UTC: what RFC 3339 writes and PostgreSQL stores. */
START_TEST(test_util_parse_rfc3339_refuses_times_outside_years_1_to_9999)
{
    int64_t ms = 42;
    ck_assert_int_eq(util_parse_rfc3339("0000-01-01T00:00:00Z", &ms), -2);
    ck_assert_int_eq(util_parse_rfc3339("0001-01-01T00:00:00+00:01", &ms), -2);
    ck_assert_int_eq(util_parse_rfc3339("9999-12-31T23:59:59-00:01", &ms), -2);
    ck_assert_int_eq(ms, 42); /* untouched */
    ck_assert_int_eq(util_parse_rfc3339("0001-01-01T00:00:00Z", &ms), 0);
    ck_assert(ms == UTIL_TIME_MIN_MS);
    ck_assert_int_eq(util_parse_rfc3339("0001-01-01T00:01:00+00:01", &ms), 0);
    ck_assert(ms == UTIL_TIME_MIN_MS);
    ck_assert_int_eq(util_parse_rfc3339("9999-12-31T23:59:59.999Z", &ms), 0);
    ck_assert(ms == UTIL_TIME_MAX_MS);
    /* malformed stays -1 */
    ck_assert_int_eq(util_parse_rfc3339("10000-01-01T00:00:00Z", &ms), -1);
}
END_TEST

START_TEST(test_util_utf8_valid)
{
    ck_assert(util_utf8_valid(""));
    ck_assert(util_utf8_valid("plain ascii"));
    ck_assert(util_utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
    ck_assert(!util_utf8_valid("\xff"));
    ck_assert(!util_utf8_valid("a\xc0\xaf"
                               "b"));                /* overlong '/' */
    ck_assert(!util_utf8_valid("\xed\xa0\x80"));     /* a surrogate */
    ck_assert(!util_utf8_valid("\xe2\x82"));         /* cut short */
    ck_assert(!util_utf8_valid("\xf4\x90\x80\x80")); /* past U+10FFFF */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    TCase *tc = tcase_create("time");
    tcase_add_test(tc, test_util_format_rfc3339_writes_utc_with_milliseconds);
    tcase_add_test(tc, test_util_backoff_ceiling_doubles_from_base_up_to_the_cap);
    tcase_add_test(tc, test_util_parse_rfc3339_refuses_times_outside_years_1_to_9999);
    tcase_add_test(tc, test_util_utf8_valid);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
