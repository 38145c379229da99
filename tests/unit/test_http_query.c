/* test_http_query.c - query strings read from the raw request target: decoded, the first
 * of a name kept, and every name and value valid UTF-8 without a NUL, or the parameter
 * named. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "http_query.h"
#include "testutil.h"

static json_t *parsed(const char *query)
{
    json_t *out = NULL;
    char *bad = NULL;
    int rc = http_query_parse(query, &out, &bad);
    ck_assert_msg(rc == 0, "%s: refused (%s)", query, bad != NULL ? bad : "?");
    return out;
}

static void assert_refused(const char *query, const char *named)
{
    json_t *out = (json_t *)1;
    char *bad = NULL;
    ck_assert_int_eq(http_query_parse(query, &out, &bad), -1);
    ck_assert_ptr_null(out);
    ck_assert_msg(bad != NULL && strcmp(bad, named) == 0, "%s: named %s, expected %s", query,
                  bad != NULL ? bad : "nothing", named);
    free(bad);
}

START_TEST(test_http_query_decodes_names_and_values)
{
    json_t *q = parsed("email=ada%40example.com&company=Analytical+Engines&type=lead.*&x=a%2Bb");
    ck_assert_str_eq(json_string_value(json_object_get(q, "email")), "ada@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(q, "company")), "Analytical Engines");
    ck_assert_str_eq(json_string_value(json_object_get(q, "type")), "lead.*");
    ck_assert_str_eq(json_string_value(json_object_get(q, "x")), "a+b");
    json_decref(q);
    q = parsed("name=caf%C3%A9&%C3%A9t%C3%A9=1");
    ck_assert_str_eq(json_string_value(json_object_get(q, "name")), "caf\xc3\xa9");
    ck_assert_str_eq(json_string_value(json_object_get(q, "\xc3\xa9t\xc3\xa9")), "1");
    json_decref(q);
}
END_TEST

START_TEST(test_http_query_keeps_the_first_of_a_name_and_skips_empty_segments)
{
    json_t *q = parsed("a=1&&a=2&b&c=&=x&");
    ck_assert_str_eq(json_string_value(json_object_get(q, "a")), "1");
    ck_assert_str_eq(json_string_value(json_object_get(q, "b")), "");
    ck_assert_str_eq(json_string_value(json_object_get(q, "c")), "");
    /* a nameless value is kept under "": the unknown-parameter check names it */
    ck_assert_str_eq(json_string_value(json_object_get(q, "")), "x");
    ck_assert_uint_eq(json_object_size(q), 4);
    json_decref(q);
    q = parsed(NULL);
    ck_assert_uint_eq(json_object_size(q), 0);
    json_decref(q);
    q = parsed("");
    ck_assert_uint_eq(json_object_size(q), 0);
    json_decref(q);
}
END_TEST

START_TEST(test_http_query_leaves_a_percent_that_escapes_nothing)
{
    json_t *q = parsed("a=100%&b=%zz&c=%4");
    ck_assert_str_eq(json_string_value(json_object_get(q, "a")), "100%");
    ck_assert_str_eq(json_string_value(json_object_get(q, "b")), "%zz");
    ck_assert_str_eq(json_string_value(json_object_get(q, "c")), "%4");
    json_decref(q);
}
END_TEST

/* Dropping a parameter that does not decode would skip a filter (everything comes back),
 * or let an unknown name pass the unknown-parameter check. */
START_TEST(test_http_query_refuses_invalid_utf8_and_nul_naming_the_parameter)
{
    assert_refused("email=%FF", "email");
    assert_refused("limit=10&email=a%C0%AFb", "email");
    assert_refused("source=x%00y", "source");
    assert_refused("bogus%FF=1", "bogus%FF");
    assert_refused("a%00b=1", "a%00b");
    assert_refused("%ED%A0%80", "%ED%A0%80"); /* a surrogate, as a name without a value */
    /* raw bytes too, not only escapes */
    assert_refused("email=\xff", "email");
    assert_refused("n\xc3=1", "n?");
}
END_TEST

START_TEST(test_http_path_has_nul)
{
    ck_assert(http_path_has_nul("/webhooks/inbound%00evil"));
    ck_assert(http_path_has_nul("/v1/leads/1%00?x=1"));
    ck_assert(!http_path_has_nul("/webhooks/inbound?x=%00"));
    ck_assert(!http_path_has_nul("/webhooks/inbound%200"));
    ck_assert(!http_path_has_nul("/v1/leads"));
    ck_assert(!http_path_has_nul("%0"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_query");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_http_query_decodes_names_and_values);
    tcase_add_test(tc, test_http_query_keeps_the_first_of_a_name_and_skips_empty_segments);
    tcase_add_test(tc, test_http_query_leaves_a_percent_that_escapes_nothing);
    tcase_add_test(tc, test_http_query_refuses_invalid_utf8_and_nul_naming_the_parameter);
    tcase_add_test(tc, test_http_path_has_nul);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
