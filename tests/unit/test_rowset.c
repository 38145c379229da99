/*
 * test_rowset.c - the JSON text of statement rows parses back to exactly what was
 * written: strings with quotes, backslashes and control characters, integers, JSON
 * values, absent (NULL) fields, no rows at all.
 */
#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rowset.h"
#include "testutil.h"

START_TEST(test_rowset_rows_parse_back_to_what_was_written)
{
    struct rowset rows = {0};
    json_t *payload = json_pack("{s:s,s:[i,b,n]}", "note", "a\"b\\c\n\x01", "list", 1, 1);
    rowset_row(&rows);
    rowset_string(&rows, "s", "q\"uote \\ back\tslash\r\n\x1f end");
    rowset_int(&rows, "n", -9007199254740993LL);
    rowset_int(&rows, "min", INT64_MIN);
    rowset_int(&rows, "zero", 0);
    rowset_double(&rows, "third", 100.0 / 3);
    rowset_json(&rows, "payload", payload);
    rowset_string(&rows, "absent", NULL);
    rowset_row(&rows);
    rowset_string(&rows, "s", "caf\xc3\xa9");
    const char *text = rowset_text(&rows);
    ck_assert_ptr_nonnull(text);

    json_error_t error;
    json_t *parsed = json_loads(text, 0, &error);
    ck_assert_msg(parsed != NULL, "%s: %s", text, error.text);
    ck_assert_uint_eq(json_array_size(parsed), 2);
    json_t *first = json_array_get(parsed, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "s")),
                     "q\"uote \\ back\tslash\r\n\x1f end");
    ck_assert(json_integer_value(json_object_get(first, "n")) == -9007199254740993LL);
    ck_assert(json_equal(json_object_get(first, "payload"), payload));
    ck_assert(json_integer_value(json_object_get(first, "min")) == INT64_MIN);
    ck_assert(json_integer_value(json_object_get(first, "zero")) == 0);
    ck_assert_ptr_null(json_object_get(first, "absent"));
    ck_assert(json_real_value(json_object_get(first, "third")) == 100.0 / 3);
    ck_assert_uint_eq(json_object_size(first), 6);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(parsed, 1), "s")),
                     "caf\xc3\xa9");
    /* asking again gives the same text */
    ck_assert_str_eq(rowset_text(&rows), text);
    json_decref(parsed);
    json_decref(payload);
    rowset_free(&rows);
}
END_TEST

START_TEST(test_rowset_without_rows_is_an_empty_array)
{
    struct rowset rows = {0};
    ck_assert_str_eq(rowset_text(&rows), "[]");
    rowset_free(&rows);
    rowset_row(&rows);
    ck_assert_str_eq(rowset_text(&rows), "[{}]");
    rowset_free(&rows);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rowset");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_rowset_rows_parse_back_to_what_was_written);
    tcase_add_test(tc, test_rowset_without_rows_is_an_empty_array);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
