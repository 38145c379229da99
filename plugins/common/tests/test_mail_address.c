/*
 * test_mail_address.c - RFC 5322 address lists (plugins/common/mail_address.h), RFC 2047
 * encoded words (mail_encoded_word.h) and the charsets behind them (mail_charset.h), on
 * header values as mail clients write them: the RFC's own examples, obsolete forms,
 * encoded names in several charsets, and broken input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_address.h"
#include "mail_charset.h"
#include "mail_encoded_word.h"
#include "testutil.h"
#include "text_buffer.h"
#include "text_utf8.h"

struct expected_address {
    const char *name; /* NULL: no display name */
    const char *address;
    const char *group; /* NULL: not in a group */
};

struct list_case {
    const char *value;
    size_t invalid;
    struct expected_address items[4];
};

static const struct list_case lists[] = {
    {"John Doe <john@example.com>", 0, {{"John Doe", "john@example.com", NULL}}},
    {"\"Doe, John\" <john@example.com>", 0, {{"Doe, John", "john@example.com", NULL}}},
    /* an unquoted comma in a display name, as some clients write it */
    {"Kowalski, Marek <marek@example.pl>", 0, {{"Kowalski, Marek", "marek@example.pl", NULL}}},
    {"john@example.com", 0, {{NULL, "john@example.com", NULL}}},
    {"<john@example.com>", 0, {{NULL, "john@example.com", NULL}}},
    /* the obsolete "address (Name)" form */
    {"john@example.com (John Doe)", 0, {{"John Doe", "john@example.com", NULL}}},
    {"\"John \\\"Johnny\\\" Doe\" <john@example.com>",
     0,
     {{"John \"Johnny\" Doe", "john@example.com", NULL}}},
    /* RFC 5322 appendix A.5: comments everywhere */
    {"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
     0,
     {{"Pete", "pete@silly.test", NULL}}},
    /* RFC 5322 appendix A.1.3: a group among mailboxes */
    {"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, Mary <mary@x.test>",
     0,
     {{"Ed Jones", "c@a.test", "A Group"},
      {NULL, "joe@where.test", "A Group"},
      {"John", "jdoe@one.test", "A Group"},
      {"Mary", "mary@x.test", NULL}}},
    {"undisclosed-recipients:;", 0, {{NULL, NULL, NULL}}},
    /* obsolete route, dropped */
    {"<@route.test,@other.test:user@example.com>", 0, {{NULL, "user@example.com", NULL}}},
    /* obsolete phrase with dots; domain lowercased, local part as written */
    {"John Q. Public <JOHN.Q.PUBLIC@EXAMPLE.COM>",
     0,
     {{"John Q. Public", "JOHN.Q.PUBLIC@example.com", NULL}}},
    {"\"john.doe\"@example.com", 0, {{NULL, "john.doe@example.com", NULL}}},
    {"\"john doe\"@example.com", 0, {{NULL, "\"john doe\"@example.com", NULL}}},
    {"\"a@b\"@example.com", 0, {{NULL, "\"a@b\"@example.com", NULL}}},
    {"john . doe @ example . com", 0, {{NULL, "john.doe@example.com", NULL}}},
    {"a@x.com, , b@y.com,", 0, {{NULL, "a@x.com", NULL}, {NULL, "b@y.com", NULL}}},
    {"Ann <ann@EXAMPLE.com.>", 0, {{"Ann", "ann@example.com", NULL}}},
    {"user@[192.0.2.1]", 0, {{NULL, "user@[192.0.2.1]", NULL}}},
    {"用户 <用户@例子.广告>", 0, {{"用户", "用户@例子.广告", NULL}}},
    {"\"john@example.com\" <john@example.com>",
     0,
     {{"john@example.com", "john@example.com", NULL}}},
    {"John <john@example.com", 0, {{"John", "john@example.com", NULL}}},
    {"a@b.com (x (y) z)", 0, {{"x (y) z", "a@b.com", NULL}}},
    /* RFC 2047 encoded words in display names */
    {"=?UTF-8?B?Sm9zw6kgTWFyw61hIEd1dGnDqXJyZXo=?= <jose@example.es>",
     0,
     {{"José María Gutiérrez", "jose@example.es", NULL}}},
    {"=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
     0,
     {{"André Pirard", "PIRARD@vm1.ulg.ac.be", NULL}}},
    {"=?utf-8?q?Marek?= =?utf-8?q?_Kowalski?= <m@example.pl>",
     0,
     {{"Marek Kowalski", "m@example.pl", NULL}}},
    {"\"=?UTF-8?B?SsO8cmdlbg==?=\" <j@example.de>", 0, {{"Jürgen", "j@example.de", NULL}}},
    {"=?KOI8-R?B?8NLJ18XU?= <r@example.ru>", 0, {{"Привет", "r@example.ru", NULL}}},
    {"=?UTF-8?B?###?= <x@example.com>", 0, {{"=?UTF-8?B?###?=", "x@example.com", NULL}}},
    /* unreadable members are counted, the rest kept */
    {"not an address, @example.com, john@, a@b@c, <>, ok@example.com",
     5,
     {{NULL, "ok@example.com", NULL}}},
    {"J\xF6rg <j@example.de>", 0, {{"J\xEF\xBF\xBDrg", "j@example.de", NULL}}},
    /* found by fuzzing: a domain literal that never closes swallowed the rest, controls
     * included */
    {"<jose@[example.es>, c.be>, \"x\x01\" <t@x.jp>", 2, {{"x", "t@x.jp", NULL}}},
    {"\"a\x01b\"@example.com, \"open@example.com", 2, {{NULL, NULL, NULL}}},
    {"\"John <john@example.com>", 1, {{NULL, NULL, NULL}}},
};

START_TEST(test_mail_address_lists_as_mail_clients_write_them)
{
    const struct list_case *c = &lists[_i];
    struct mail_address_list list;
    ck_assert_int_eq(mail_address_list_parse(c->value, strlen(c->value), &list), 0);
    size_t expected = 0;
    while (expected < 4 && c->items[expected].address != NULL) {
        expected++;
    }
    ck_assert_msg(list.count == expected, "%s: %zu addresses, expected %zu", c->value, list.count,
                  expected);
    ck_assert_msg(list.invalid == c->invalid, "%s: %zu invalid, expected %zu", c->value,
                  list.invalid, c->invalid);
    for (size_t i = 0; i < expected; i++) {
        const struct mail_address *got = &list.items[i];
        const struct expected_address *want = &c->items[i];
        ck_assert_msg(strcmp(got->address, want->address) == 0, "%s: address \"%s\"", c->value,
                      got->address);
        ck_assert_msg(want->name == NULL ? got->name == NULL
                                         : got->name != NULL && strcmp(got->name, want->name) == 0,
                      "%s: name \"%s\"", c->value, got->name != NULL ? got->name : "(null)");
        ck_assert_msg(want->group == NULL
                          ? got->group == NULL
                          : got->group != NULL && strcmp(got->group, want->group) == 0,
                      "%s: group \"%s\"", c->value, got->group != NULL ? got->group : "(null)");
        ck_assert_str_eq(got->domain, strrchr(got->address, '@') + 1);
        ck_assert(text_utf8_valid(got->address, strlen(got->address)));
        ck_assert(got->name == NULL || text_utf8_valid(got->name, strlen(got->name)));
    }
    mail_address_list_clear(&list);
}
END_TEST

START_TEST(test_mail_address_length_limits_make_an_address_invalid)
{
    char local[80], value[400];
    memset(local, 'a', 65);
    local[65] = '\0';
    snprintf(value, sizeof(value), "%s@example.com", local);
    struct mail_address_list list;
    ck_assert_int_eq(mail_address_list_parse(value, strlen(value), &list), 0);
    ck_assert_uint_eq(list.count, 0);
    ck_assert_uint_eq(list.invalid, 1);
    mail_address_list_clear(&list);
    local[64] = '\0'; /* 64 bytes is the most a local part may have */
    snprintf(value, sizeof(value), "%s@example.com", local);
    ck_assert_int_eq(mail_address_list_parse(value, strlen(value), &list), 0);
    ck_assert_uint_eq(list.count, 1);
    mail_address_list_clear(&list);
}
END_TEST

START_TEST(test_mail_address_list_is_capped_and_the_rest_counted)
{
    size_t members = MAIL_ADDRESS_LIST_MAX + 25;
    char *value = malloc(members * 16);
    ck_assert_ptr_nonnull(value);
    size_t used = 0;
    for (size_t i = 0; i < members; i++) {
        used += (size_t)sprintf(value + used, "u%zu@x.test,", i);
    }
    struct mail_address_list list;
    ck_assert_int_eq(mail_address_list_parse(value, used, &list), 0);
    ck_assert_uint_eq(list.count, MAIL_ADDRESS_LIST_MAX);
    ck_assert_uint_eq(list.skipped, 25);
    ck_assert_str_eq(list.items[MAIL_ADDRESS_LIST_MAX - 1].address, "u999@x.test");
    mail_address_list_clear(&list);
    free(value);
}
END_TEST

START_TEST(test_mail_address_hostile_values_cost_linear_time_and_no_stack)
{
    size_t length = MAIL_ADDRESS_VALUE_MAX;
    char *value = malloc(length);
    ck_assert_ptr_nonnull(value);
    const char *patterns[] = {"(", "\"", "<", "=?", ":", "\\"};
    for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++) {
        size_t step = strlen(patterns[k]);
        for (size_t i = 0; i + step <= length; i += step) {
            memcpy(value + i, patterns[k], step);
        }
        struct mail_address_list list;
        ck_assert_int_eq(mail_address_list_parse(value, length, &list), 0);
        ck_assert_uint_eq(list.count, 0);
        mail_address_list_clear(&list);
    }
    free(value);
}
END_TEST

START_TEST(test_mail_address_value_beyond_the_limit_is_cut_at_a_comma)
{
    size_t length = MAIL_ADDRESS_VALUE_MAX + 4096;
    char *value = malloc(length + 1);
    ck_assert_ptr_nonnull(value);
    size_t used = 0;
    for (size_t i = 0; used + 40 < length; i++) {
        used += (size_t)sprintf(value + used, "\"Person %zu\" <person%zu@x.test>,", i, i);
    }
    struct mail_address_list list;
    ck_assert_int_eq(mail_address_list_parse(value, used, &list), 0);
    ck_assert_uint_eq(list.count, MAIL_ADDRESS_LIST_MAX);
    ck_assert_uint_ge(list.skipped, 1);
    ck_assert_uint_eq(list.invalid, 0); /* no address cut in half */
    mail_address_list_clear(&list);
    free(value);
}
END_TEST

START_TEST(test_mail_address_normalize_takes_one_bare_address)
{
    char *address = mail_address_normalize("  John@EXAMPLE.com ", 19);
    ck_assert_str_eq(address, "John@example.com");
    free(address);
    address = mail_address_normalize("Ann <ann@x.test>", 16);
    ck_assert_str_eq(address, "ann@x.test");
    free(address);
    ck_assert_ptr_null(mail_address_normalize("a@x.test, b@x.test", 18));
    ck_assert_ptr_null(mail_address_normalize("nobody", 6));
    ck_assert_ptr_null(mail_address_normalize("", 0));
}
END_TEST

START_TEST(test_mail_address_same_ignores_ascii_case)
{
    ck_assert(mail_address_same("John@Example.com", "john@example.com"));
    ck_assert(!mail_address_same("john@example.com", "john@example.org"));
    ck_assert(!mail_address_same("john@example.com", NULL));
}
END_TEST

START_TEST(test_mail_domain_within_matches_the_domain_and_its_subdomains)
{
    ck_assert(mail_domain_within("example.com", "example.com"));
    ck_assert(mail_domain_within("eu.Example.COM", "example.com"));
    ck_assert(mail_domain_within("example.com.", "EXAMPLE.com"));
    ck_assert(mail_domain_within("a.b.example.com", "b.example.com"));
    ck_assert(!mail_domain_within("badexample.com", "example.com"));
    ck_assert(!mail_domain_within("example.com", "eu.example.com"));
    ck_assert(!mail_domain_within("example.com.evil.test", "example.com"));
    ck_assert(!mail_domain_within("example.com", ""));
    /* an IDN is compared as given: the U-label is not its A-label */
    ck_assert(mail_domain_within("shop.bücher.de", "bücher.de"));
    ck_assert(!mail_domain_within("xn--bcher-kva.de", "bücher.de"));
}
END_TEST

/* --- encoded words and charsets ------------------------------------------------------- */

static void assert_decoded(const char *text, const char *expected)
{
    char *decoded = mail_decode_words_dup(text, strlen(text));
    ck_assert_ptr_nonnull(decoded);
    ck_assert_msg(strcmp(decoded, expected) == 0, "%s -> \"%s\", expected \"%s\"", text, decoded,
                  expected);
    ck_assert(text_utf8_valid(decoded, strlen(decoded)));
    free(decoded);
}

START_TEST(test_mail_encoded_words_b_and_q_in_any_case)
{
    assert_decoded("Hello =?UTF-8?Q?W=C3=B6rld?=", "Hello Wörld");
    assert_decoded("=?utf-8?b?SsO8cmdlbg==?=", "Jürgen");
    assert_decoded("=?UTF-8?B?SsO8cmdlbg?=", "Jürgen"); /* padding left out */
    assert_decoded("=?UTF-8?Q?a_b?=", "a b");
    assert_decoded("=?UTF-8*de?Q?Gr=C3=BC=C3=9Fe?=", "Grüße"); /* RFC 2231 language */
    assert_decoded("plain text", "plain text");
}
END_TEST

START_TEST(test_mail_encoded_words_adjacent_ones_join_others_keep_their_spaces)
{
    assert_decoded("=?UTF-8?Q?a?=   =?UTF-8?Q?b?=", "ab");
    assert_decoded("=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab");
    assert_decoded("=?UTF-8?Q?a?= b =?UTF-8?Q?c?=", "a b c");
    /* a character split across two words (é is C3 A9) */
    assert_decoded("=?UTF-8?Q?Jos=C3?= =?UTF-8?Q?=A9?=", "José");
    assert_decoded("=?UTF-8?B?w6k=?==?UTF-8?Q?!?=", "é!");
    /* adjacent words in different charsets */
    assert_decoded("=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=", "éé");
}
END_TEST

START_TEST(test_mail_encoded_words_in_many_charsets)
{
    assert_decoded("=?ISO-8859-1?Q?Andr=E9?=", "André");
    assert_decoded("=?iso-8859-15?q?=A4uro?=", "€uro");
    assert_decoded("=?windows-1252?Q?=93Quoted=94?=", "“Quoted”");
    assert_decoded("=?ISO-8859-1?Q?=92?=", "’"); /* Latin-1 label, Windows byte */
    /* through iconv */
    assert_decoded("=?KOI8-R?B?8NLJ18XU?=", "Привет");
    assert_decoded("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト");
    assert_decoded("=?GB2312?B?1tDOxA==?=", "中文");
    assert_decoded("=?Shift_JIS?B?jlKTYw==?=", "山田");
    assert_decoded("=?ISO-8859-2?B?o/NkvA==?=", "Łódź");
    assert_decoded("=?EUC-KR?B?sei5zsHY?=", "김민준");
}
END_TEST

START_TEST(test_mail_encoded_words_malformed_or_unknown_stay_as_written)
{
    assert_decoded("=?UTF-8?B?###?=", "=?UTF-8?B?###?=");
    assert_decoded("=?UTF-8?Q?=ZZ?=", "=?UTF-8?Q?=ZZ?=");
    assert_decoded("=?x-unknown?Q?abc?=", "=?x-unknown?Q?abc?=");
    assert_decoded("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
    assert_decoded("=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated");
    assert_decoded("=?UTF-8?Q?has space?=", "=?UTF-8?Q?has space?=");
    assert_decoded("=?../../etc/passwd?Q?x?=", "=?../../etc/passwd?Q?x?=");
    /* a word longer than MAIL_ENCODED_WORD_MAX is none */
    size_t length = MAIL_ENCODED_WORD_MAX + 40;
    char *text = malloc(length + 1);
    ck_assert_ptr_nonnull(text);
    memcpy(text, "=?UTF-8?Q?", 10);
    memset(text + 10, 'a', length - 12);
    memcpy(text + length - 2, "?=", 2);
    text[length] = '\0';
    assert_decoded(text, text);
    free(text);
}
END_TEST

START_TEST(test_mail_encoded_words_control_characters_become_spaces)
{
    assert_decoded("=?UTF-8?Q?A=00B=0D=0AC?=", "A B  C");
    assert_decoded("=?UTF-8?B?wp8=?=", " "); /* U+009F, a C1 control */
    assert_decoded("tab\there", "tab here");
    /* ill-formed UTF-8, encoded or raw, becomes U+FFFD */
    assert_decoded("=?UTF-8?Q?=FF?=", "\xEF\xBF\xBD");
    assert_decoded("raw \xE9", "raw \xEF\xBF\xBD");
}
END_TEST

START_TEST(test_mail_charset_list_is_closed)
{
    ck_assert(mail_charset_known("UTF-8", 5));
    ck_assert(mail_charset_known("windows-1251", 12));
    ck_assert(!mail_charset_known("UTF-7", 5));
    ck_assert(!mail_charset_known("ISO-2022-CN-EXT", 15));
    ck_assert(!mail_charset_known("UTF-8//TRANSLIT", 15));
    struct text_buffer out = TEXT_BUFFER_INIT;
    ck_assert_int_eq(mail_charset_to_utf8("UTF-7", 5, (const unsigned char *)"+AGE-", 5, &out), -1);
    ck_assert_uint_eq(out.length, 0);
    /* an undefined Windows-1252 byte and a bad Shift_JIS pair become U+FFFD */
    ck_assert_int_eq(mail_charset_to_utf8("cp1252", 6, (const unsigned char *)"a\x81z", 3, &out),
                     0);
    ck_assert_str_eq(out.data, "a\xEF\xBF\xBDz");
    text_buffer_reset(&out);
    ck_assert_int_eq(
        mail_charset_to_utf8("shift_jis", 9, (const unsigned char *)"\x81\x20x", 3, &out), 0);
    ck_assert(text_utf8_valid(out.data, out.length));
    ck_assert_ptr_nonnull(strstr(out.data, "x"));
    text_buffer_free(&out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mail_address");
    TCase *tc = tcase_create("addresses");
    tcase_add_loop_test(tc, test_mail_address_lists_as_mail_clients_write_them, 0,
                        (int)(sizeof(lists) / sizeof(lists[0])));
    tcase_add_test(tc, test_mail_address_length_limits_make_an_address_invalid);
    tcase_add_test(tc, test_mail_address_list_is_capped_and_the_rest_counted);
    tcase_add_test(tc, test_mail_address_hostile_values_cost_linear_time_and_no_stack);
    tcase_add_test(tc, test_mail_address_value_beyond_the_limit_is_cut_at_a_comma);
    tcase_add_test(tc, test_mail_address_normalize_takes_one_bare_address);
    tcase_add_test(tc, test_mail_address_same_ignores_ascii_case);
    tcase_add_test(tc, test_mail_domain_within_matches_the_domain_and_its_subdomains);
    suite_add_tcase(s, tc);
    TCase *words = tcase_create("encoded_words");
    tcase_add_test(words, test_mail_encoded_words_b_and_q_in_any_case);
    tcase_add_test(words, test_mail_encoded_words_adjacent_ones_join_others_keep_their_spaces);
    tcase_add_test(words, test_mail_encoded_words_in_many_charsets);
    tcase_add_test(words, test_mail_encoded_words_malformed_or_unknown_stay_as_written);
    tcase_add_test(words, test_mail_encoded_words_control_characters_become_spaces);
    tcase_add_test(words, test_mail_charset_list_is_closed);
    suite_add_tcase(s, words);
    return tu_run_suite(s);
}
