/* test_config_yaml.c - YAML and JSON config files into trees with line numbers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config_testing.h"
#include "config_yaml.h"
#include "testutil.h"

/* Parses YAML text, expecting success. The returned tree is a NEW reference. */
static json_t *parse_ok(const char *yaml, json_t **lines_out)
{
    struct diag_list diags = {0};
    json_t *tree = NULL;
    int rc = config_yaml_parse(yaml, strlen(yaml), "t.yaml", &tree, lines_out, &diags);
    if (rc != 0) {
        fprintf(stderr, "unexpected: %s\n", diags.count ? diags.items[0].message : "?");
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(diags.count, 0);
    diag_list_free(&diags);
    return tree;
}

/* Parses YAML text, expecting failure; the diagnostics are left in *diags. */
static void parse_fails(const char *yaml, struct diag_list *diags)
{
    json_t *tree = (json_t *)1, *lines = (json_t *)1;
    ck_assert_int_eq(config_yaml_parse(yaml, strlen(yaml), "t.yaml", &tree, &lines, diags), -1);
    ck_assert_ptr_null(tree);
    ck_assert_ptr_null(lines);
    ck_assert_uint_eq(diag_error_count(diags), 1);
    ck_assert_str_eq(diags->items[0].file, "t.yaml");
}

static int line_of(const json_t *lines, const char *path)
{
    const json_t *line = json_object_get(lines, path);
    ck_assert_msg(json_is_integer(line), "no line for %s", path);
    return (int)json_integer_value(line);
}

START_TEST(test_yaml_plain_scalars_follow_the_core_schema)
{
    json_t *tree = parse_ok("a: true\n"
                            "b: FALSE\n"
                            "c: ~\n"
                            "d:\n"
                            "e: null\n"
                            "f: 42\n"
                            "g: -7\n"
                            "h: 0x1f\n"
                            "i: 0o17\n"
                            "j: 2.5\n"
                            "k: 1e3\n"
                            "l: yes\n"
                            "m: off\n"
                            "n: hello world\n"
                            "o: 1_000\n",
                            NULL);
    ck_assert(json_is_true(json_object_get(tree, "a")));
    ck_assert(json_is_false(json_object_get(tree, "b")));
    ck_assert(json_is_null(json_object_get(tree, "c")));
    ck_assert(json_is_null(json_object_get(tree, "d")));
    ck_assert(json_is_null(json_object_get(tree, "e")));
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "f")), 42);
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "g")), -7);
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "h")), 31);
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "i")), 15);
    ck_assert(json_is_real(json_object_get(tree, "j")));
    ck_assert_double_eq(json_real_value(json_object_get(tree, "j")), 2.5);
    ck_assert_double_eq(json_real_value(json_object_get(tree, "k")), 1000.0);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "l")), "yes");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "m")), "off");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "n")), "hello world");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "o")), "1_000");
    json_decref(tree);
}
END_TEST

START_TEST(test_yaml_quoted_and_block_scalars_are_strings)
{
    json_t *tree = parse_ok("a: \"true\"\n"
                            "b: '42'\n"
                            "c: \"\"\n"
                            "d: |\n"
                            "  12\n",
                            NULL);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "a")), "true");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "b")), "42");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "c")), "");
    ck_assert_str_eq(json_string_value(json_object_get(tree, "d")), "12\n");
    json_decref(tree);
}
END_TEST

START_TEST(test_yaml_standard_tags_are_applied)
{
    json_t *tree = parse_ok("a: !!str 5\nb: !!float 3\nc: !!int \"8\"\nd: ! 9\n", NULL);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "a")), "5");
    ck_assert(json_is_real(json_object_get(tree, "b")));
    ck_assert_double_eq(json_real_value(json_object_get(tree, "b")), 3.0);
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "c")), 8);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "d")), "9");
    json_decref(tree);
}
END_TEST

START_TEST(test_yaml_empty_document_is_null)
{
    json_t *tree = parse_ok("", NULL);
    ck_assert(json_is_null(tree));
    json_decref(tree);
    tree = parse_ok("# only a comment\n", NULL);
    ck_assert(json_is_null(tree));
    json_decref(tree);
}
END_TEST

START_TEST(test_yaml_line_map_records_every_key_path)
{
    json_t *lines = NULL;
    json_t *tree = parse_ok("name: inbound\n"
                            "settings:\n"
                            "  secret: ${S}\n"
                            "routes:\n"
                            "  - from: a\n"
                            "    to:\n"
                            "      - b\n"
                            "      - c\n",
                            &lines);
    ck_assert_int_eq(line_of(lines, "name"), 1);
    ck_assert_int_eq(line_of(lines, "settings"), 2);
    ck_assert_int_eq(line_of(lines, "settings.secret"), 3);
    ck_assert_int_eq(line_of(lines, "routes[0]"), 5);
    ck_assert_int_eq(line_of(lines, "routes[0].from"), 5);
    ck_assert_int_eq(line_of(lines, "routes[0].to[1]"), 8);
    ck_assert_str_eq(
        json_string_value(json_array_get(
            json_object_get(json_array_get(json_object_get(tree, "routes"), 0), "to"), 1)),
        "c");
    json_decref(tree);
    json_decref(lines);
}
END_TEST

START_TEST(test_yaml_syntax_error_names_line_and_column)
{
    struct diag_list diags = {0};
    parse_fails("a: 1\nb: [1, 2\nc: 3\n", &diags);
    const struct diag *d = tc_expect(&diags, "YAML syntax error");
    ck_assert_int_eq(d->line, 3);
    ck_assert_ptr_nonnull(strstr(d->message, "line 3, column 2"));
    ck_assert_ptr_nonnull(strstr(d->message, "did not find expected ',' or ']'"));
    ck_assert_ptr_nonnull(d->hint);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_duplicate_key_names_key_and_both_lines)
{
    struct diag_list diags = {0};
    parse_fails("settings:\n  a: 1\n  b: 2\n  a: 3\n", &diags);
    const struct diag *d = tc_expect(&diags, "duplicate key \"a\"");
    ck_assert_int_eq(d->line, 4);
    ck_assert_str_eq(d->key, "settings.a");
    ck_assert_ptr_nonnull(strstr(d->message, "first on line 2, again on line 4"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_alias_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: &x 1\nb: *x\n", &diags);
    const struct diag *d = tc_expect(&diags, "anchors and aliases");
    ck_assert_int_eq(d->line, 1);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_merge_key_with_alias_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("base: {a: 1}\nother:\n  <<: *base\n", &diags);
    const struct diag *d = tc_expect(&diags, "anchors and aliases (*base)");
    ck_assert_int_eq(d->line, 3);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_unknown_tag_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: 1\nb: !secret xyz\n", &diags);
    const struct diag *d = tc_expect(&diags, "unsupported YAML tag !secret");
    ck_assert_int_eq(d->line, 2);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_unknown_tag_on_a_key_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("!env a: 1\n", &diags);
    tc_expect(&diags, "unsupported YAML tag !env on a key");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_bad_value_for_standard_tag_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: !!int abc\n", &diags);
    tc_expect(&diags, "\"abc\" is not a valid !!int value");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_second_document_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: 1\n---\nb: 2\n", &diags);
    const struct diag *d = tc_expect(&diags, "one YAML document");
    ck_assert_int_eq(d->line, 2);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_mapping_as_key_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("? {a: 1}\n: x\n", &diags);
    tc_expect(&diags, "a mapping cannot be used as a key");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_nesting_past_the_limit_is_refused)
{
    char text[2 * (CONFIG_PARSE_MAX_DEPTH + 1) + 1];
    size_t n = 0;
    for (int i = 0; i <= CONFIG_PARSE_MAX_DEPTH; i++) {
        text[n++] = '[';
    }
    for (int i = 0; i <= CONFIG_PARSE_MAX_DEPTH; i++) {
        text[n++] = ']';
    }
    text[n] = '\0';
    struct diag_list diags = {0};
    parse_fails(text, &diags);
    tc_expect(&diags, "nesting is deeper than 64 levels");
    diag_list_free(&diags);

    /* exactly at the limit is fine */
    text[CONFIG_PARSE_MAX_DEPTH] = ' ';
    text[CONFIG_PARSE_MAX_DEPTH + 1] = ' ';
    json_t *tree = parse_ok(text, NULL);
    ck_assert(json_is_array(tree));
    json_decref(tree);
}
END_TEST

START_TEST(test_yaml_nul_character_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: \"x\\0y\"\n", &diags);
    tc_expect(&diags, "NUL characters are not allowed");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_yaml_integer_overflow_is_refused)
{
    struct diag_list diags = {0};
    parse_fails("a: 99999999999999999999\n", &diags);
    tc_expect(&diags, "integer 99999999999999999999 is out of range");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_json_parses_with_line_map)
{
    const char *text = "{\n"
                       "  \"name\": \"x\",\n"
                       "  \"settings\": {\n"
                       "    \"a\\u0062\": [1,\n"
                       "      {\"c\": true}]\n"
                       "  }\n"
                       "}\n";
    struct diag_list diags = {0};
    json_t *tree = NULL, *lines = NULL;
    ck_assert_int_eq(config_json_parse(text, strlen(text), "t.json", &tree, &lines, &diags), 0);
    ck_assert_int_eq(line_of(lines, "name"), 2);
    ck_assert_int_eq(line_of(lines, "settings.ab"), 4);
    ck_assert_int_eq(line_of(lines, "settings.ab[1]"), 5);
    ck_assert_int_eq(line_of(lines, "settings.ab[1].c"), 5);
    ck_assert(json_is_true(json_object_get(
        json_array_get(json_object_get(json_object_get(tree, "settings"), "ab"), 1), "c")));
    json_decref(tree);
    json_decref(lines);
}
END_TEST

START_TEST(test_json_duplicate_key_names_both_lines)
{
    const char *text = "{\"a\": 1,\n \"b\": 2,\n \"a\": 3}";
    struct diag_list diags = {0};
    json_t *tree = NULL, *lines = NULL;
    ck_assert_int_eq(config_json_parse(text, strlen(text), "t.json", &tree, &lines, &diags), -1);
    ck_assert_ptr_null(tree);
    const struct diag *d =
        tc_expect(&diags, "duplicate key \"a\" (first on line 1, again on line 3)");
    ck_assert_int_eq(d->line, 3);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_json_syntax_error_names_line_and_column)
{
    const char *text = "{\n  \"a\": 1,\n  \"b\" 2\n}";
    struct diag_list diags = {0};
    json_t *tree = NULL;
    ck_assert_int_eq(config_json_parse(text, strlen(text), "t.json", &tree, NULL, &diags), -1);
    const struct diag *d = tc_expect(&diags, "JSON syntax error at line 3, column");
    ck_assert_int_eq(d->line, 3);
    ck_assert_str_eq(d->file, "t.json");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_json_nesting_past_the_limit_is_refused)
{
    char text[2 * (CONFIG_PARSE_MAX_DEPTH + 1) + 1];
    size_t n = 0;
    for (int i = 0; i <= CONFIG_PARSE_MAX_DEPTH; i++) {
        text[n++] = '[';
    }
    for (int i = 0; i <= CONFIG_PARSE_MAX_DEPTH; i++) {
        text[n++] = ']';
    }
    text[n] = '\0';
    struct diag_list diags = {0};
    json_t *tree = NULL;
    ck_assert_int_eq(config_json_parse(text, n, "t.json", &tree, NULL, &diags), -1);
    tc_expect(&diags, "nesting is deeper than 64 levels");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_parse_file_picks_json_by_suffix)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "a.json", "{\"on\": \"yes\", \"n\": 1}");
    char *path = tu_path(dir, "a.json");
    struct diag_list diags = {0};
    json_t *tree = NULL, *lines = NULL;
    ck_assert_int_eq(config_parse_file(path, &tree, &lines, &diags), 0);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "on")), "yes");
    ck_assert_int_eq(json_integer_value(json_object_get(tree, "n")), 1);
    json_decref(tree);
    json_decref(lines);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_parse_file_refuses_files_over_the_size_limit)
{
    char *dir = tu_tmpdir();
    char *big = malloc(CONFIG_PARSE_MAX_FILE + 2);
    ck_assert_ptr_nonnull(big);
    memset(big, '#', CONFIG_PARSE_MAX_FILE + 1);
    big[CONFIG_PARSE_MAX_FILE + 1] = '\0';
    tu_write_file(dir, "big.yaml", big);
    char *path = tu_path(dir, "big.yaml");
    struct diag_list diags = {0};
    json_t *tree = NULL;
    ck_assert_int_eq(config_parse_file(path, &tree, NULL, &diags), -1);
    const struct diag *d = tc_expect(&diags, "larger than 1024 KiB");
    ck_assert_str_eq(d->file, path);
    diag_list_free(&diags);
    free(big);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_parse_file_missing_file_names_the_reason)
{
    struct diag_list diags = {0};
    json_t *tree = NULL;
    ck_assert_int_eq(config_parse_file("/nonexistent/leadhub.yaml", &tree, NULL, &diags), -1);
    const struct diag *d = tc_expect(&diags, "No such file or directory");
    ck_assert_str_eq(d->file, "/nonexistent/leadhub.yaml");
    diag_list_free(&diags);
}
END_TEST

TC_RUN_SUITE("config_yaml", test_yaml_plain_scalars_follow_the_core_schema,
             test_yaml_quoted_and_block_scalars_are_strings, test_yaml_standard_tags_are_applied,
             test_yaml_empty_document_is_null, test_yaml_line_map_records_every_key_path,
             test_yaml_syntax_error_names_line_and_column,
             test_yaml_duplicate_key_names_key_and_both_lines, test_yaml_alias_is_refused,
             test_yaml_merge_key_with_alias_is_refused, test_yaml_unknown_tag_is_refused,
             test_yaml_unknown_tag_on_a_key_is_refused,
             test_yaml_bad_value_for_standard_tag_is_refused, test_yaml_second_document_is_refused,
             test_yaml_mapping_as_key_is_refused, test_yaml_nesting_past_the_limit_is_refused,
             test_yaml_nul_character_is_refused, test_yaml_integer_overflow_is_refused,
             test_json_parses_with_line_map, test_json_duplicate_key_names_both_lines,
             test_json_syntax_error_names_line_and_column,
             test_json_nesting_past_the_limit_is_refused, test_parse_file_picks_json_by_suffix,
             test_parse_file_refuses_files_over_the_size_limit,
             test_parse_file_missing_file_names_the_reason)
