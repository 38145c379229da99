/* test_config_settings.c - instance settings against a plugin schema, and redaction. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_testing.h"
#include "config_yaml.h"
#include "testutil.h"
#include "util.h"

#define FILE_NAME "conf.d/inbound.yaml"
#define API_KEY   "sk_live_the_real_key_value"

static const char *const modes[] = {"fast", "safe", NULL};

static const lh_config_field_t schema[] = {
    LH_FIELD("api_key", LH_CONFIG_SECRET, LH_FIELD_REQUIRED, NULL, 0, 0, NULL,
             "The provider's API key."),
    LH_FIELD("base_url", LH_CONFIG_STRING, 0, "https://api.example.com", 0, 0, NULL, "Base URL."),
    LH_FIELD("page_size", LH_CONFIG_INT, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "100", 1, 500, NULL,
             "Items per page."),
    LH_FIELD("verbose", LH_CONFIG_BOOL, 0, "false", 0, 0, NULL, "Log more."),
    LH_FIELD("ratio", LH_CONFIG_DOUBLE, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "0.5", 0, 1, NULL,
             "A ratio."),
    LH_FIELD("tolerance", LH_CONFIG_DURATION, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, "5m", 1000,
             3600000, NULL, "Clock skew allowed."),
    LH_FIELD("mode", LH_CONFIG_ENUM, 0, "safe", 0, 0, modes, "How to run."),
    LH_FIELD("labels", LH_CONFIG_LIST, LH_FIELD_HAS_MAX, "[inbox]", 0, 2, NULL, "Labels to watch."),
    LH_FIELD("extra", LH_CONFIG_JSON, 0, NULL, 0, 0, NULL, "Passed through."),
    LH_FIELD("signing_secrets", LH_CONFIG_SECRET, LH_FIELD_HAS_MIN, NULL, 16, 0, NULL,
             "Webhook signing secrets."),
    LH_FIELD("region", LH_CONFIG_STRING, LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, NULL, 2, 8, NULL,
             "A region code."),
    LH_FIELD_END,
};

/* Validates the `settings` of an instance file written as yaml against schema. Returns the
 * normalized settings (NEW) or NULL; diagnostics are left in diags. */
static json_t *validate(const char *yaml, struct diag_list *diags)
{
    struct config_instance instance = {0};
    struct diag_list parse_diags = {0};
    json_t *tree = NULL;
    setenv("LH_TEST_API_KEY", API_KEY, 1);
    ck_assert_int_eq(
        config_yaml_parse(yaml, strlen(yaml), FILE_NAME, &tree, &instance.lines, &parse_diags), 0);
    json_t *settings = json_object_get(tree, "settings");
    instance.settings = settings != NULL ? json_incref(settings) : json_object();
    instance.file = strdup(FILE_NAME);
    instance.name = strdup("inbound");
    instance.plugin = strdup("test");
    json_decref(tree);
    json_t *result = config_settings_validate(&instance, schema, diags);
    json_decref(instance.settings);
    json_decref(instance.lines);
    free(instance.file);
    free(instance.name);
    free(instance.plugin);
    return result;
}

static json_t *validate_ok(const char *yaml)
{
    struct diag_list diags = {0};
    json_t *result = validate(yaml, &diags);
    for (size_t i = 0; i < diags.count; i++) {
        fprintf(stderr, "unexpected: %s\n", diags.items[i].message);
    }
    ck_assert_ptr_nonnull(result);
    ck_assert_uint_eq(diags.count, 0);
    return result;
}

/* Validation must fail; the diagnostics are checked to never carry the API key. */
static void validate_fails(const char *yaml, struct diag_list *diags)
{
    ck_assert_ptr_null(validate(yaml, diags));
    ck_assert_uint_ge(diag_error_count(diags), 1);
    for (size_t i = 0; i < diags->count; i++) {
        ck_assert_str_eq(diags->items[i].file, FILE_NAME);
    }
    tc_assert_not_printed(diags, API_KEY);
}

START_TEST(test_settings_defaults_filled_in_normalized_form)
{
    json_t *s = validate_ok("settings:\n  api_key: ${LH_TEST_API_KEY}\n");
    ck_assert_str_eq(json_string_value(json_object_get(s, "base_url")), "https://api.example.com");
    ck_assert(json_is_integer(json_object_get(s, "page_size")));
    ck_assert_int_eq(json_integer_value(json_object_get(s, "page_size")), 100);
    ck_assert(json_is_false(json_object_get(s, "verbose")));
    ck_assert(json_is_real(json_object_get(s, "ratio")));
    ck_assert_double_eq(json_real_value(json_object_get(s, "ratio")), 0.5);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "tolerance")), 300000);
    ck_assert_str_eq(json_string_value(json_object_get(s, "mode")), "safe");
    ck_assert_uint_eq(json_array_size(json_object_get(s, "labels")), 1);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "labels"), 0)), "inbox");
    /* absent without a default: absent */
    ck_assert_ptr_null(json_object_get(s, "extra"));
    ck_assert_ptr_null(json_object_get(s, "signing_secrets"));
    ck_assert_uint_eq(json_object_size(s), 8);
    json_decref(s);
}
END_TEST

START_TEST(test_settings_normalized_forms_per_type)
{
    setenv("LH_TEST_SIGN_A", "whsec_aaaaaaaaaaaaaaaa", 1);
    setenv("LH_TEST_SIGN_B", "whsec_bbbbbbbbbbbbbbbb", 1);
    json_t *s = validate_ok("settings:\n"
                            "  api_key: ${LH_TEST_API_KEY}\n"
                            "  base_url: http://localhost:9999\n"
                            "  page_size: 250\n"
                            "  verbose: true\n"
                            "  ratio: 1\n"
                            "  tolerance: 59m30s\n"
                            "  mode: fast\n"
                            "  labels: [a, b]\n"
                            "  extra: {nested: [1, \"${NOT_RESOLVED}\"]}\n"
                            "  signing_secrets: [\"${LH_TEST_SIGN_A}\", \"${LH_TEST_SIGN_B}\"]\n");
    ck_assert_str_eq(json_string_value(json_object_get(s, "api_key")), API_KEY);
    ck_assert_str_eq(json_string_value(json_object_get(s, "base_url")), "http://localhost:9999");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "page_size")), 250);
    ck_assert(json_is_true(json_object_get(s, "verbose")));
    ck_assert(json_is_real(json_object_get(s, "ratio")));
    ck_assert_double_eq(json_real_value(json_object_get(s, "ratio")), 1.0);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "tolerance")), 3570000);
    ck_assert_str_eq(json_string_value(json_object_get(s, "mode")), "fast");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "labels"), 1)), "b");
    json_t *extra = json_object_get(s, "extra");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(extra, "nested"), 1)),
                     "${NOT_RESOLVED}");
    json_t *secrets = json_object_get(s, "signing_secrets");
    ck_assert_uint_eq(json_array_size(secrets), 2);
    ck_assert_str_eq(json_string_value(json_array_get(secrets, 0)), "whsec_aaaaaaaaaaaaaaaa");
    ck_assert_str_eq(json_string_value(json_array_get(secrets, 1)), "whsec_bbbbbbbbbbbbbbbb");
    json_decref(s);
}
END_TEST

START_TEST(test_settings_references_resolved_in_string_int_duration_enum_and_list)
{
    setenv("LH_TEST_HOST", "crm.internal", 1);
    setenv("LH_TEST_PAGE", "42", 1);
    setenv("LH_TEST_WAIT", "90s", 1);
    setenv("LH_TEST_MODE", "fast", 1);
    setenv("LH_TEST_LABEL", "sales", 1);
    json_t *s = validate_ok("settings:\n"
                            "  api_key: ${LH_TEST_API_KEY}\n"
                            "  base_url: https://${LH_TEST_HOST}/api\n"
                            "  page_size: ${LH_TEST_PAGE}\n"
                            "  ratio: ${LH_TEST_RATIO:-0.25}\n"
                            "  tolerance: ${LH_TEST_WAIT}\n"
                            "  mode: ${LH_TEST_MODE}\n"
                            "  labels: [\"${LH_TEST_LABEL}\", \"$${literal}\"]\n");
    ck_assert_str_eq(json_string_value(json_object_get(s, "base_url")), "https://crm.internal/api");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "page_size")), 42);
    ck_assert_double_eq(json_real_value(json_object_get(s, "ratio")), 0.25);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "tolerance")), 90000);
    ck_assert_str_eq(json_string_value(json_object_get(s, "mode")), "fast");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "labels"), 0)), "sales");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s, "labels"), 1)),
                     "${literal}");
    json_decref(s);
}
END_TEST

START_TEST(test_settings_secret_from_file_reference)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "key", "from-a-file\n");
    char *yaml = util_printf("settings:\n  api_key: ${file:%s/key}\n", dir);
    json_t *s = validate_ok(yaml);
    ck_assert_str_eq(json_string_value(json_object_get(s, "api_key")), "from-a-file");
    json_decref(s);
    free(yaml);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_settings_unknown_key_lists_allowed_keys)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  colour: blue\n", &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d = tc_expect(&diags, "unknown key \"colour\"");
    ck_assert_str_eq(d->key, "settings.colour");
    ck_assert_int_eq(d->line, 3);
    ck_assert_str_eq(d->hint, "allowed keys: api_key, base_url, page_size, verbose, ratio, "
                              "tolerance, mode, labels, extra, signing_secrets, region");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_unknown_key_suggests_a_close_one)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerence: 5m\n", &diags);
    const struct diag *d = tc_expect(&diags, "unknown key \"tolerence\"");
    ck_assert_ptr_nonnull(strstr(d->hint, "did you mean \"tolerance\"?"));
    ck_assert_ptr_nonnull(strstr(d->hint, "allowed keys: api_key,"));
    diag_list_free(&diags);

    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  pgae_size: 5\n", &diags);
    d = tc_expect(&diags, "unknown key \"pgae_size\"");
    ck_assert_ptr_nonnull(strstr(d->hint, "did you mean \"page_size\"?"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_missing_required_names_key_with_description)
{
    struct diag_list diags = {0};
    validate_fails("name: inbound\nsettings:\n  base_url: http://x\n", &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d = tc_expect(&diags, "missing required key \"api_key\"");
    ck_assert_str_eq(d->key, "settings.api_key");
    ck_assert_int_eq(d->line, 2); /* the `settings` key's line */
    ck_assert_str_eq(d->hint, "The provider's API key.");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_string_refuses_numbers_and_booleans)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  base_url: 8080\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a string, got 8080");
    ck_assert_str_eq(d->key, "settings.base_url");
    ck_assert_int_eq(d->line, 3);
    ck_assert_str_eq(d->hint, "quote it to make it a string");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  base_url: true\n", &diags);
    tc_expect(&diags, "expected a string, got true");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_int_accepts_quoted_integer_and_refuses_real)
{
    json_t *s = validate_ok("settings:\n  api_key: ${LH_TEST_API_KEY}\n  page_size: \"7\"\n");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "page_size")), 7);
    json_decref(s);
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  page_size: 7.5\n", &diags);
    tc_expect(&diags, "expected an integer, got 7.5");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  page_size: seven\n", &diags);
    tc_expect(&diags, "expected an integer, got \"seven\"");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_int_from_reference_that_is_not_an_integer)
{
    setenv("LH_TEST_PAGE", "lots", 1);
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  page_size: ${LH_TEST_PAGE}\n",
                   &diags);
    tc_expect(&diags, "expected an integer, but \"${LH_TEST_PAGE}\" resolves to something else");
    tc_assert_not_printed(&diags, "lots"); /* resolved values are not echoed */
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_int_out_of_range_names_bound)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n\n  page_size: 501\n", &diags);
    const struct diag *d = tc_expect(&diags, "must be at most 500, got 501");
    ck_assert_str_eq(d->key, "settings.page_size");
    ck_assert_int_eq(d->line, 4);
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  page_size: 0\n", &diags);
    tc_expect(&diags, "must be at least 1, got 0");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_double_out_of_range)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  ratio: 1.5\n", &diags);
    tc_expect(&diags, "must be at most 1, got 1.5");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_bool_refuses_yes_with_hint)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  verbose: yes\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected true or false, got \"yes\"");
    ck_assert_ptr_nonnull(strstr(d->hint, "yes, no, on and off are strings"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_duration_without_unit_hints_the_unit)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerance: 30\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a duration, got 30");
    ck_assert_str_eq(d->hint, "write it with a unit, e.g. 30s");
    ck_assert_int_eq(d->line, 3);
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerance: \"30\"\n", &diags);
    d = tc_expect(&diags, "expected a duration, got \"30\"");
    ck_assert_str_eq(d->hint, "write it with a unit, e.g. 30s");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_bad_duration_is_refused)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerance: 5x\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a duration, got \"5x\"");
    ck_assert_str_eq(d->key, "settings.tolerance");
    ck_assert_ptr_nonnull(strstr(d->hint, "30s, 5m or 1h30m"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_duration_out_of_range_is_shown_as_durations)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerance: 2h\n", &diags);
    tc_expect(&diags, "must be at most 1h, got 2h");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  tolerance: 500ms\n", &diags);
    tc_expect(&diags, "must be at least 1s, got 500ms");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_enum_lists_allowed_values)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  mode: quick\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected one of the allowed values, got \"quick\"");
    ck_assert_str_eq(d->hint, "allowed values: fast, safe");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  mode: sfae\n", &diags);
    d = tc_expect(&diags, "got \"sfae\"");
    ck_assert_str_eq(d->hint, "did you mean \"safe\"? allowed values: fast, safe");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_list_refuses_a_single_string)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  labels: inbox\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a list of strings, got \"inbox\"");
    ck_assert_ptr_nonnull(strstr(d->hint, "[a, b]"));
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_list_item_must_be_a_string)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  labels:\n    - a\n    - 5\n",
                   &diags);
    const struct diag *d = tc_expect(&diags, "expected a string, got 5");
    ck_assert_str_eq(d->key, "settings.labels[1]");
    ck_assert_int_eq(d->line, 5);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_list_length_range)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  labels: [a, b, c]\n", &diags);
    tc_expect(&diags, "must have at most 2 items, got 3");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_null_value_is_an_error)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  base_url:\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a string, got null");
    ck_assert_str_eq(d->hint, "give it a value, or remove the key");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_literal_secret_refused_without_leaking_the_value)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: " API_KEY "\n", &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d =
        tc_expect(&diags, "a secret must come from a reference, not a literal value");
    ck_assert_str_eq(d->key, "settings.api_key");
    ck_assert_int_eq(d->line, 2);
    ck_assert_str_eq(d->hint, "write ${ENV_VAR} or ${file:/run/secrets/NAME}");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_secret_with_text_around_the_reference_is_refused)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: \"Bearer ${LH_TEST_API_KEY}\"\n", &diags);
    tc_expect(&diags, "a secret must come from a reference, not a literal value");
    diag_list_free(&diags);
}
END_TEST

/* ${UNSET:-hunter2} is a literal secret in the file after all: refused, set or not. */
START_TEST(test_settings_secret_fallback_must_be_another_reference)
{
    unsetenv("LH_TEST_UNSET");
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_UNSET:-hunter2hunter2hunter2}\n", &diags);
    const struct diag *d = tc_expect(&diags, "a secret's fallback must be a reference");
    ck_assert_str_eq(d->key, "settings.api_key");
    ck_assert_ptr_nonnull(strstr(d->hint, "${A:-${B}}"));
    tc_assert_not_printed(&diags, "hunter2");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY:-hunter2hunter2hunter2}\n", &diags);
    tc_expect(&diags, "a secret's fallback must be a reference");
    diag_list_free(&diags);

    json_t *ok = validate_ok("settings:\n  api_key: ${LH_TEST_UNSET:-${LH_TEST_API_KEY}}\n");
    ck_assert_str_eq(json_string_value(json_object_get(ok, "api_key")), API_KEY);
    json_decref(ok);
}
END_TEST

START_TEST(test_settings_empty_secret_names_its_reference)
{
    setenv("LH_TEST_EMPTY", "", 1);
    unsetenv("LH_TEST_UNSET");
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_EMPTY}\n", &diags);
    const struct diag *d = tc_expect(&diags, "${LH_TEST_EMPTY} resolves to an empty value");
    ck_assert_str_eq(d->key, "settings.api_key");
    ck_assert_int_eq(d->line, 2);
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_UNSET:-${LH_TEST_EMPTY}}\n", &diags);
    tc_expect(&diags, "${LH_TEST_UNSET:-${LH_TEST_EMPTY}} resolves to an empty value");
    diag_list_free(&diags);
}
END_TEST

/* The schema's minimum for a secret is its length in bytes; each item of a list counts. */
START_TEST(test_settings_secret_shorter_than_its_minimum_is_refused_without_showing_it)
{
    setenv("LH_TEST_SHORT", "short-secret", 1);
    setenv("LH_TEST_LONG", "a-long-enough-signing-secret", 1);
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n"
                   "  signing_secrets: [\"${LH_TEST_LONG}\", \"${LH_TEST_SHORT}\"]\n",
                   &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d =
        tc_expect(&diags, "${LH_TEST_SHORT} resolves to 12 bytes; this secret needs at least 16");
    ck_assert_str_eq(d->key, "settings.signing_secrets[1]");
    ck_assert_ptr_nonnull(strstr(d->hint, "openssl rand -hex 32"));
    tc_assert_not_printed(&diags, "short-secret");
    diag_list_free(&diags);
    json_t *ok = validate_ok("settings:\n  api_key: ${LH_TEST_API_KEY}\n"
                             "  signing_secrets: ${LH_TEST_LONG}\n");
    json_decref(ok);
}
END_TEST

START_TEST(test_settings_placeholder_secrets_are_refused)
{
    static const char *const placeholders[] = {"CHANGE-ME",
                                               "changeme",
                                               "x",
                                               "xxxxxxxxxxxxxxxxxxxxxxxx",
                                               "<your api key>",
                                               "your-api-key-here",
                                               "CHANGE_ME_BEFORE_PRODUCTION",
                                               "Password",
                                               "TODO"};
    for (size_t i = 0; i < sizeof(placeholders) / sizeof(placeholders[0]); i++) {
        setenv("LH_TEST_PLACEHOLDER", placeholders[i], 1);
        struct diag_list diags = {0};
        validate_fails("settings:\n  api_key: ${LH_TEST_PLACEHOLDER}\n", &diags);
        const struct diag *d =
            tc_expect(&diags, "${LH_TEST_PLACEHOLDER} resolves to a placeholder, not a secret");
        ck_assert_str_eq(d->key, "settings.api_key");
        if (strlen(placeholders[i]) > 3) { /* "x" is in any text */
            tc_assert_not_printed(&diags, placeholders[i]);
        }
        diag_list_free(&diags);
    }
}
END_TEST

START_TEST(test_settings_string_length_range)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  region: eu-central-1\n", &diags);
    const struct diag *d = tc_expect(&diags, "must be at most 8 bytes long, got 12");
    ck_assert_str_eq(d->key, "settings.region");
    diag_list_free(&diags);
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  region: e\n", &diags);
    tc_expect(&diags, "must be at least 2 bytes long, got 1");
    diag_list_free(&diags);
    json_decref(validate_ok("settings:\n  api_key: ${LH_TEST_API_KEY}\n  region: eu\n"));
}
END_TEST

START_TEST(test_settings_secret_of_wrong_type_is_not_printed)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: 982451653\n", &diags);
    tc_expect(&diags, "expected a reference (or a list of them), got an integer");
    tc_assert_not_printed(&diags, "982451653");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_secret_list_checks_each_item)
{
    setenv("LH_TEST_SIGN_A", "whsec_aaaaaaaaaaaaaaaa", 1);
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_API_KEY}\n  signing_secrets:\n"
                   "    - ${LH_TEST_SIGN_A}\n    - whsec_literal_b\n",
                   &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d = tc_expect(&diags, "a secret must come from a reference");
    ck_assert_str_eq(d->key, "settings.signing_secrets[1]");
    ck_assert_int_eq(d->line, 5);
    tc_assert_not_printed(&diags, "whsec_literal_b");
    tc_assert_not_printed(&diags, "whsec_aaaaaaaaaaaaaaaa");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_missing_env_reference_is_named)
{
    unsetenv("LH_TEST_NOPE");
    struct diag_list diags = {0};
    validate_fails("settings:\n  api_key: ${LH_TEST_NOPE}\n", &diags);
    const struct diag *d = tc_expect(&diags, "environment variable LH_TEST_NOPE is not set");
    ck_assert_str_eq(d->key, "settings.api_key");
    ck_assert_int_eq(d->line, 2);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_every_mistake_is_reported_in_one_run)
{
    struct diag_list diags = {0};
    validate_fails("settings:\n"
                   "  api_key: literal\n"
                   "  page_size: 0\n"
                   "  tolerance: 30\n"
                   "  mode: slow\n"
                   "  colour: red\n",
                   &diags);
    ck_assert_uint_eq(diag_error_count(&diags), 5);
    ck_assert_int_eq(tc_expect(&diags, "unknown key \"colour\"")->line, 6);
    ck_assert_int_eq(tc_expect(&diags, "a secret must come from a reference")->line, 2);
    ck_assert_int_eq(tc_expect(&diags, "must be at least 1")->line, 3);
    ck_assert_int_eq(tc_expect(&diags, "expected a duration")->line, 4);
    ck_assert_int_eq(tc_expect(&diags, "got \"slow\"")->line, 5);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_must_be_a_mapping)
{
    struct diag_list diags = {0};
    validate_fails("settings: [a, b]\n", &diags);
    const struct diag *d = tc_expect(&diags, "expected a mapping, got a list");
    ck_assert_str_eq(d->key, "settings");
    ck_assert_int_eq(d->line, 1);
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_settings_without_schema_refuses_every_key)
{
    struct config_instance instance = {.file = (char *)FILE_NAME};
    instance.settings = json_pack("{s:i}", "anything", 1);
    struct diag_list diags = {0};
    ck_assert_ptr_null(config_settings_validate(&instance, NULL, &diags));
    const struct diag *d = tc_expect(&diags, "unknown key \"anything\"");
    ck_assert_str_eq(d->hint, "allowed keys: none");
    diag_list_free(&diags);
    json_decref(instance.settings);
}
END_TEST

START_TEST(test_redacted_replaces_every_secret)
{
    setenv("LH_TEST_SIGN_A", "whsec_aaaaaaaaaaaaaaaa", 1);
    json_t *s = validate_ok("settings:\n  api_key: ${LH_TEST_API_KEY}\n"
                            "  signing_secrets: [\"${LH_TEST_SIGN_A}\"]\n");
    json_t *r = config_settings_redacted(s, schema);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(json_string_value(json_object_get(r, "api_key")), "[redacted]");
    ck_assert_str_eq(json_string_value(json_object_get(r, "signing_secrets")), "[redacted]");
    ck_assert_str_eq(json_string_value(json_object_get(r, "base_url")), "https://api.example.com");
    char *dump = json_dumps(r, 0);
    ck_assert_ptr_null(strstr(dump, API_KEY));
    ck_assert_ptr_null(strstr(dump, "whsec_aaaaaaaaaaaaaaaa"));
    free(dump);
    /* the original is untouched */
    ck_assert_str_eq(json_string_value(json_object_get(s, "api_key")), API_KEY);
    json_decref(r);
    json_decref(s);
}
END_TEST

TC_RUN_SUITE("config_settings", test_settings_defaults_filled_in_normalized_form,
             test_settings_normalized_forms_per_type,
             test_settings_references_resolved_in_string_int_duration_enum_and_list,
             test_settings_secret_from_file_reference, test_settings_unknown_key_lists_allowed_keys,
             test_settings_unknown_key_suggests_a_close_one,
             test_settings_missing_required_names_key_with_description,
             test_settings_string_refuses_numbers_and_booleans,
             test_settings_int_accepts_quoted_integer_and_refuses_real,
             test_settings_int_from_reference_that_is_not_an_integer,
             test_settings_int_out_of_range_names_bound, test_settings_double_out_of_range,
             test_settings_bool_refuses_yes_with_hint,
             test_settings_duration_without_unit_hints_the_unit,
             test_settings_bad_duration_is_refused,
             test_settings_duration_out_of_range_is_shown_as_durations,
             test_settings_enum_lists_allowed_values, test_settings_list_refuses_a_single_string,
             test_settings_list_item_must_be_a_string, test_settings_list_length_range,
             test_settings_null_value_is_an_error,
             test_settings_literal_secret_refused_without_leaking_the_value,
             test_settings_secret_with_text_around_the_reference_is_refused,
             test_settings_secret_of_wrong_type_is_not_printed,
             test_settings_secret_fallback_must_be_another_reference,
             test_settings_empty_secret_names_its_reference,
             test_settings_secret_shorter_than_its_minimum_is_refused_without_showing_it,
             test_settings_placeholder_secrets_are_refused, test_settings_string_length_range,
             test_settings_secret_list_checks_each_item,
             test_settings_missing_env_reference_is_named,
             test_settings_every_mistake_is_reported_in_one_run, test_settings_must_be_a_mapping,
             test_settings_without_schema_refuses_every_key, test_redacted_replaces_every_secret)
