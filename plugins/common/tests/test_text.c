/*
 * test_text.c - the text helpers under the name and mail parsers (plugins/common/
 * text_utf8.h, text_buffer.h): strict UTF-8 decoding, repair, the character classes and
 * case folding the parsers rely on.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "text_buffer.h"
#include "text_utf8.h"

START_TEST(test_text_utf8_accepts_well_formed_and_refuses_the_rest)
{
    const char *good[] = {"",
                          "ascii",
                          "Gutiérrez",
                          "株式会社",
                          "\xF0\x9F\x9A\x80",
                          "\xEF\xBF\xBF",
                          "\xF4\x8F\xBF\xBF"};
    const char *bad[] = {
        "\x80",             /* continuation byte alone */
        "\xC3",             /* truncated */
        "\xC0\x80",         /* overlong NUL */
        "\xE0\x80\xAF",     /* overlong '/' */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xF4\x90\x80\x80", /* U+110000 */
        "\xF8\x88\x80\x80\x80",
        "\xFE",
        "a\xE2\x82", /* truncated at the end */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(text_utf8_valid(good[i], strlen(good[i])), "good %zu", i);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!text_utf8_valid(bad[i], strlen(bad[i])), "bad %zu", i);
    }
}
END_TEST

START_TEST(test_text_utf8_repair_replaces_each_bad_byte)
{
    struct text_buffer out = TEXT_BUFFER_INIT;
    ck_assert_int_eq(text_utf8_append_repaired(&out, "a\xC0\x80z\xE9", 5), 3);
    ck_assert_str_eq(out.data, "a\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD");
    ck_assert(text_utf8_valid(out.data, out.length));
    text_buffer_free(&out);
}
END_TEST

START_TEST(test_text_utf8_encode_refuses_surrogates_and_out_of_range)
{
    char encoded[4];
    ck_assert_uint_eq(text_utf8_encode(0xD800, encoded), 3);
    ck_assert(memcmp(encoded, "\xEF\xBF\xBD", 3) == 0);
    ck_assert_uint_eq(text_utf8_encode(0x110000, encoded), 3);
    ck_assert_uint_eq(text_utf8_encode(0x10FFFF, encoded), 4);
    ck_assert_uint_eq(text_utf8_encode(0x7F, encoded), 1);
}
END_TEST

START_TEST(test_text_scripts_and_classes)
{
    ck_assert_int_eq(text_script_of('A'), TEXT_SCRIPT_LATIN);
    ck_assert_int_eq(text_script_of(0x00E9), TEXT_SCRIPT_LATIN); /* é */
    ck_assert_int_eq(text_script_of(0x1EC5), TEXT_SCRIPT_LATIN); /* ễ */
    ck_assert_int_eq(text_script_of(0x0416), TEXT_SCRIPT_CYRILLIC);
    ck_assert_int_eq(text_script_of(0x03A9), TEXT_SCRIPT_GREEK);
    ck_assert_int_eq(text_script_of(0x05D3), TEXT_SCRIPT_HEBREW);
    ck_assert_int_eq(text_script_of(0x0645), TEXT_SCRIPT_ARABIC);
    ck_assert_int_eq(text_script_of(0x0930), TEXT_SCRIPT_DEVANAGARI);
    ck_assert_int_eq(text_script_of(0x0E2A), TEXT_SCRIPT_THAI);
    ck_assert_int_eq(text_script_of(0x682A), TEXT_SCRIPT_CJK);    /* 株 */
    ck_assert_int_eq(text_script_of(0x30C6), TEXT_SCRIPT_CJK);    /* テ */
    ck_assert_int_eq(text_script_of(0xAE40), TEXT_SCRIPT_HANGUL); /* 김 */
    ck_assert_int_eq(text_script_of(0x0B9A), TEXT_SCRIPT_OTHER);  /* Tamil */
    ck_assert_int_eq(text_script_of('7'), TEXT_SCRIPT_NONE);
    ck_assert_int_eq(text_script_of(0x0661), TEXT_SCRIPT_NONE);  /* Arabic-Indic one */
    ck_assert_int_eq(text_script_of(0x1F680), TEXT_SCRIPT_NONE); /* an emoji */
    ck_assert(text_is_digit(0x0967));
    ck_assert(text_is_mark(0x0301));
    ck_assert(text_is_space(0x3000));
    ck_assert(text_is_space(0x00A0));
    ck_assert(text_is_invisible(0x200B));
    ck_assert(text_is_control(0x85));
}
END_TEST

START_TEST(test_text_fold_pairs_cases_of_the_scripts_with_case)
{
    ck_assert_uint_eq(text_fold('G'), 'g');
    ck_assert_uint_eq(text_fold(0x00C9), 0x00E9); /* É */
    ck_assert_uint_eq(text_fold(0x0141), 0x0142); /* Ł */
    ck_assert_uint_eq(text_fold(0x0178), 0x00FF); /* Ÿ */
    ck_assert_uint_eq(text_fold(0x1EC4), 0x1EC5); /* Ễ */
    ck_assert_uint_eq(text_fold(0x0391), 0x03B1); /* Α */
    ck_assert_uint_eq(text_fold(0x0388), 0x03AD); /* Έ */
    ck_assert_uint_eq(text_fold(0x03C2), 0x03C3); /* final sigma */
    ck_assert_uint_eq(text_fold(0x041E), 0x043E); /* О */
    ck_assert_uint_eq(text_fold(0x0401), 0x0451); /* Ё */
    ck_assert_uint_eq(text_fold(0x0531), 0x0561); /* Ա */
    ck_assert_uint_eq(text_fold(0x682A), 0x682A);
    ck_assert(text_is_upper(0x041E));
    ck_assert(!text_is_upper(0x03C2));
    ck_assert(text_is_lower(0x043E));
    ck_assert(text_fold_equal("ООО", strlen("ООО"), "ооо"));
    ck_assert(!text_fold_equal("OOO", 3, "ооо")); /* Latin O is not Cyrillic О */
    ck_assert(text_ascii_equal("Content-Type", 12, "content-type"));
    ck_assert(text_ascii_prefix("Warning: x", 10, "WARNING:"));
}
END_TEST

START_TEST(test_text_buffer_grows_and_hands_over_its_string)
{
    struct text_buffer buffer = TEXT_BUFFER_INIT;
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(text_buffer_append_string(&buffer, "abc"), 0);
    }
    ck_assert_uint_eq(buffer.length, 3000);
    ck_assert_int_eq(text_buffer_append_codepoint(&buffer, 0x20AC), 0);
    char *text = text_buffer_take(&buffer);
    ck_assert_uint_eq(strlen(text), 3003);
    ck_assert_ptr_null(buffer.data);
    free(text);
    text = text_buffer_take(&buffer); /* an empty buffer gives "" */
    ck_assert_str_eq(text, "");
    free(text);
    text_buffer_free(&buffer);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, test_text_utf8_accepts_well_formed_and_refuses_the_rest);
    tcase_add_test(tc, test_text_utf8_repair_replaces_each_bad_byte);
    tcase_add_test(tc, test_text_utf8_encode_refuses_surrogates_and_out_of_range);
    tcase_add_test(tc, test_text_scripts_and_classes);
    tcase_add_test(tc, test_text_fold_pairs_cases_of_the_scripts_with_case);
    tcase_add_test(tc, test_text_buffer_grows_and_hands_over_its_string);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
