/* test_config_schema.c - plugin schema well-formedness and its human description. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_testing.h"

static const char *const modes[] = {"fast", "safe", NULL};
static const char *const no_values[] = {NULL};
static const char *const twice[] = {"a", "a", NULL};

/* A schema of one field followed by the end marker. */
#define ONE_FIELD(...)                                                                             \
    (const lh_config_field_t[])                                                                    \
    {                                                                                              \
        {CONFIG_FIELD_SIZE, __VA_ARGS__}, LH_FIELD_END                                             \
    }

/* Expects config_schema_check to refuse schema with a message containing `needle`. */
static void expect_malformed(const lh_config_field_t *schema, const char *needle)
{
    char *error = NULL;
    ck_assert_int_eq(config_schema_check(schema, &error), -1);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strstr(error, needle) != NULL, "\"%s\" does not mention \"%s\"", error, needle);
    free(error);
}

START_TEST(test_schema_well_formed_passes)
{
    static const lh_config_field_t schema[] = {
        LH_FIELD("api_key", LH_CONFIG_SECRET, LH_FIELD_REQUIRED, NULL, 0, 0, NULL, "The API key."),
        LH_FIELD("base_url", LH_CONFIG_STRING, 0, "https://api.example.com", 0, 0, NULL,
                 "Base URL."),
        LH_FIELD("page_size", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "100", 1, 500,
                 NULL, "Items per page."),
        LH_FIELD("verbose", LH_CONFIG_BOOL, 0, "false", 0, 0, NULL, "Log more."),
        LH_FIELD("ratio", LH_CONFIG_DOUBLE, LH_FIELD_HAS_MAX, "0.5", 0, 1, NULL, "A ratio."),
        LH_FIELD("tolerance", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "5m", 1000, 0, NULL,
                 "Clock skew."),
        LH_FIELD("mode", LH_CONFIG_ENUM, 0, "safe", 0, 0, modes, "How to run."),
        LH_FIELD("labels", LH_CONFIG_LIST, LH_FIELD_HAS_MAX, "[a, b]", 0, 3, NULL, "Labels."),
        LH_FIELD("extra", LH_CONFIG_JSON, 0, "{x: 1}", 0, 0, NULL, "Anything."),
        LH_FIELD_END,
    };
    char *error = (char *)"untouched";
    ck_assert_int_eq(config_schema_check(schema, &error), 0);
    ck_assert_ptr_null(error);
}
END_TEST

START_TEST(test_schema_empty_passes_and_null_is_malformed)
{
    static const lh_config_field_t empty[] = {LH_FIELD_END};
    char *error = NULL;
    ck_assert_int_eq(config_schema_check(empty, &error), 0);
    ck_assert_ptr_null(error);
    expect_malformed(NULL, "the config schema is missing");
}
END_TEST

START_TEST(test_schema_invalid_name_is_malformed)
{
    expect_malformed(ONE_FIELD("Api-Key", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL, "d"),
                     "field 1: name \"Api-Key\" is not valid");
}
END_TEST

START_TEST(test_schema_duplicate_name_is_malformed)
{
    static const lh_config_field_t schema[] = {
        LH_FIELD("a", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL, "d"),
        LH_FIELD("a", LH_CONFIG_INT, 0, NULL, 0, 0, NULL, "d"),
        LH_FIELD_END,
    };
    expect_malformed(schema, "field \"a\": declared twice");
}
END_TEST

START_TEST(test_schema_unknown_type_is_malformed)
{
    expect_malformed(ONE_FIELD("a", (lh_config_type_t)42, 0, NULL, 0, 0, NULL, "d"),
                     "field \"a\": unknown type 42");
}
END_TEST

START_TEST(test_schema_unknown_flag_is_malformed)
{
    expect_malformed(ONE_FIELD("a", LH_CONFIG_STRING, 1U << 7, NULL, 0, 0, NULL, "d"),
                     "field \"a\": unknown flags 0x80");
}
END_TEST

START_TEST(test_schema_enum_without_values_is_malformed)
{
    expect_malformed(ONE_FIELD("mode", LH_CONFIG_ENUM, 0, NULL, 0, 0, NULL, "d"),
                     "field \"mode\": an enum needs enum_values");
    expect_malformed(ONE_FIELD("mode", LH_CONFIG_ENUM, 0, NULL, 0, 0, no_values, "d"),
                     "field \"mode\": an enum needs enum_values");
}
END_TEST

START_TEST(test_schema_enum_value_listed_twice_is_malformed)
{
    expect_malformed(ONE_FIELD("mode", LH_CONFIG_ENUM, 0, NULL, 0, 0, twice, "d"),
                     "field \"mode\": enum value \"a\" is listed twice");
}
END_TEST

START_TEST(test_schema_enum_values_on_other_type_is_malformed)
{
    expect_malformed(ONE_FIELD("name", LH_CONFIG_STRING, 0, NULL, 0, 0, modes, "d"),
                     "field \"name\": enum_values is only for enum fields");
}
END_TEST

START_TEST(test_schema_default_that_does_not_parse_is_malformed)
{
    expect_malformed(ONE_FIELD("tolerance", LH_CONFIG_DURATION, 0, "5x", 0, 0, NULL, "d"),
                     "field \"tolerance\": default \"5x\" is invalid: expected a duration");
    expect_malformed(ONE_FIELD("count", LH_CONFIG_INT, 0, "ten", 0, 0, NULL, "d"),
                     "field \"count\": default \"ten\" is invalid: expected an integer");
    expect_malformed(ONE_FIELD("on", LH_CONFIG_BOOL, 0, "yes", 0, 0, NULL, "d"),
                     "field \"on\": default \"yes\" is invalid: expected true or false");
    expect_malformed(ONE_FIELD("mode", LH_CONFIG_ENUM, 0, "slow", 0, 0, modes, "d"),
                     "field \"mode\": default \"slow\" is invalid");
    expect_malformed(ONE_FIELD("labels", LH_CONFIG_LIST, 0, "a", 0, 0, NULL, "d"),
                     "field \"labels\": default \"a\" is invalid: expected a list of strings");
}
END_TEST

START_TEST(test_schema_default_out_of_range_is_malformed)
{
    expect_malformed(ONE_FIELD("size", LH_CONFIG_INT, LH_FIELD_HAS_MAX, "600", 0, 500, NULL, "d"),
                     "field \"size\": default \"600\" is invalid: must be at most 500, got 600");
    expect_malformed(
        ONE_FIELD("wait", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN, "500ms", 1000, 0, NULL, "d"),
        "must be at least 1s, got 500ms");
}
END_TEST

START_TEST(test_schema_default_is_not_resolved)
{
    /* A default must not depend on the environment of the machine checking it. */
    setenv("LH_TEST_COUNT", "5", 1);
    expect_malformed(ONE_FIELD("count", LH_CONFIG_INT, 0, "${LH_TEST_COUNT}", 0, 0, NULL, "d"),
                     "expected an integer, got \"${LH_TEST_COUNT}\"");
}
END_TEST

START_TEST(test_schema_required_with_default_is_malformed)
{
    expect_malformed(ONE_FIELD("a", LH_CONFIG_STRING, LH_FIELD_REQUIRED, "x", 0, 0, NULL, "d"),
                     "field \"a\": a required field cannot have a default");
}
END_TEST

START_TEST(test_schema_secret_with_default_is_malformed_without_printing_it)
{
    char *error = NULL;
    ck_assert_int_eq(
        config_schema_check(ONE_FIELD("key", LH_CONFIG_SECRET, 0, "sk_live_123", 0, 0, NULL, "d"),
                            &error),
        -1);
    ck_assert_ptr_nonnull(strstr(error, "field \"key\": a secret cannot have a default"));
    ck_assert_ptr_null(strstr(error, "sk_live_123"));
    free(error);
}
END_TEST

START_TEST(test_schema_min_greater_than_max_is_malformed)
{
    expect_malformed(
        ONE_FIELD("n", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, NULL, 10, 5, NULL, "d"),
        "field \"n\": min 10 is greater than max 5");
}
END_TEST

START_TEST(test_schema_range_on_bool_is_malformed)
{
    expect_malformed(ONE_FIELD("b", LH_CONFIG_BOOL, LH_FIELD_HAS_MIN, NULL, 1, 0, NULL, "d"),
                     "field \"b\": min and max apply only to int, double, duration, list, "
                     "string and secret fields, not bool");
}
END_TEST

/* A string's and a secret's range is their length in bytes. */
START_TEST(test_schema_length_range_on_string_and_secret_is_well_formed)
{
    ck_assert_int_eq(
        config_schema_check(ONE_FIELD("s", LH_CONFIG_STRING, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX,
                                      NULL, 1, 64, NULL, "d"),
                            NULL),
        0);
    ck_assert_int_eq(
        config_schema_check(
            ONE_FIELD("k", LH_CONFIG_SECRET, LH_FIELD_HAS_MIN, NULL, 16, 0, NULL, "d"), NULL),
        0);
}
END_TEST

START_TEST(test_schema_missing_description_is_malformed)
{
    expect_malformed(ONE_FIELD("a", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL, NULL),
                     "field \"a\": the description is missing");
    expect_malformed(ONE_FIELD("a", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL, ""),
                     "field \"a\": the description is missing");
}
END_TEST

START_TEST(test_schema_check_reports_the_first_bad_field)
{
    static const lh_config_field_t schema[] = {
        LH_FIELD("good", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL, "d"),
        LH_FIELD("bad", LH_CONFIG_INT, 0, "x", 0, 0, NULL, "d"),
        LH_FIELD("worse", (lh_config_type_t)0, 0, NULL, 0, 0, NULL, "d"),
        LH_FIELD_END,
    };
    expect_malformed(schema, "field \"bad\"");
}
END_TEST

START_TEST(test_type_names)
{
    ck_assert_str_eq(config_type_name(LH_CONFIG_STRING), "string");
    ck_assert_str_eq(config_type_name(LH_CONFIG_INT), "int");
    ck_assert_str_eq(config_type_name(LH_CONFIG_BOOL), "bool");
    ck_assert_str_eq(config_type_name(LH_CONFIG_DOUBLE), "double");
    ck_assert_str_eq(config_type_name(LH_CONFIG_DURATION), "duration");
    ck_assert_str_eq(config_type_name(LH_CONFIG_ENUM), "enum");
    ck_assert_str_eq(config_type_name(LH_CONFIG_LIST), "list");
    ck_assert_str_eq(config_type_name(LH_CONFIG_JSON), "json");
    ck_assert_str_eq(config_type_name(LH_CONFIG_SECRET), "secret");
    ck_assert_str_eq(config_type_name((lh_config_type_t)99), "unknown");
}
END_TEST

static char *describe(const lh_config_field_t *schema)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(f);
    config_schema_describe(schema, f);
    ck_assert_int_eq(fclose(f), 0);
    return text;
}

START_TEST(test_describe_lists_each_field_with_type_default_range_and_description)
{
    static const lh_config_field_t schema[] = {
        LH_FIELD("api_key", LH_CONFIG_SECRET, LH_FIELD_REQUIRED, NULL, 0, 0, NULL, "The API key."),
        LH_FIELD("tolerance", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "5m", 1000,
                 3600000, NULL, "How far a webhook's timestamp may be from now."),
        LH_FIELD("mode", LH_CONFIG_ENUM, 0, "safe", 0, 0, modes, "How to run."),
        LH_FIELD("labels", LH_CONFIG_LIST, LH_FIELD_HAS_MIN, NULL, 1, 0, NULL, "Labels."),
        LH_FIELD_END,
    };
    char *text = describe(schema);
    ck_assert_str_eq(text, "api_key: secret, required\n"
                           "    The API key.\n"
                           "    from a reference only: ${ENV_VAR} or ${file:/path}; never printed\n"
                           "\n"
                           "tolerance: duration, optional, default 5m, min 1s, max 1h\n"
                           "    How far a webhook's timestamp may be from now.\n"
                           "    written with a unit: 250ms, 30s, 5m, 1h30m\n"
                           "\n"
                           "mode: enum, optional, default \"safe\"\n"
                           "    one of: fast, safe\n"
                           "    How to run.\n"
                           "\n"
                           "labels: list, optional, at least 1 item\n"
                           "    Labels.\n");
    free(text);
}
END_TEST

START_TEST(test_describe_wraps_long_descriptions)
{
    static const lh_config_field_t schema[] = {
        LH_FIELD("a", LH_CONFIG_STRING, 0, NULL, 0, 0, NULL,
                 "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen"),
        LH_FIELD_END,
    };
    char *text = describe(schema);
    ck_assert_str_eq(text, "a: string, optional\n"
                           "    one two three four five six seven eight nine ten eleven twelve "
                           "thirteen\n"
                           "    fourteen fifteen sixteen seventeen\n");
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        ck_assert_uint_le(strlen(line), 80);
    }
    free(text);
}
END_TEST

START_TEST(test_describe_empty_schema)
{
    static const lh_config_field_t schema[] = {LH_FIELD_END};
    char *text = describe(schema);
    ck_assert_str_eq(text, "(no settings)\n");
    free(text);
}
END_TEST

TC_RUN_SUITE("config_schema", test_schema_well_formed_passes,
             test_schema_empty_passes_and_null_is_malformed, test_schema_invalid_name_is_malformed,
             test_schema_duplicate_name_is_malformed, test_schema_unknown_type_is_malformed,
             test_schema_unknown_flag_is_malformed, test_schema_enum_without_values_is_malformed,
             test_schema_enum_value_listed_twice_is_malformed,
             test_schema_enum_values_on_other_type_is_malformed,
             test_schema_default_that_does_not_parse_is_malformed,
             test_schema_default_out_of_range_is_malformed, test_schema_default_is_not_resolved,
             test_schema_required_with_default_is_malformed,
             test_schema_secret_with_default_is_malformed_without_printing_it,
             test_schema_min_greater_than_max_is_malformed, test_schema_range_on_bool_is_malformed,
             test_schema_length_range_on_string_and_secret_is_well_formed,
             test_schema_missing_description_is_malformed,
             test_schema_check_reports_the_first_bad_field, test_type_names,
             test_describe_lists_each_field_with_type_default_range_and_description,
             test_describe_wraps_long_descriptions, test_describe_empty_schema)
