/*
 * test_cmd_plugins.c - `leadhubd plugins` and `leadhubd plugins info NAME` as ops and
 * plugin authors run them: what they print, and their exit codes, over the loader's
 * fixture plugins.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "leadhub.h"
#include "testutil.h"
#include "util.h"

/* This tree's plugin ABI, "2.1", as the commands print it. */
#define ABI_STR2(x) #x
#define ABI_STR(x)  ABI_STR2(x)
#define ABI_TEXT    ABI_STR(LH_ABI_MAJOR) "." ABI_STR(LH_ABI_MINOR)

/* Runs `build/leadhubd ARGS` (ARGS is a printf format) and returns its exit status;
 * *output_out gets stdout and stderr together. */
__attribute__((format(printf, 2, 3))) static int leadhubd(char **output_out, const char *fmt, ...)
{
    struct strbuf args = {0};
    va_list ap;
    va_start(ap, fmt);
    strbuf_appendv(&args, fmt, ap);
    va_end(ap);
    char *command = util_printf("'%s/leadhubd' %s", tu_build_dir(), strbuf_value(&args));
    ck_assert_ptr_nonnull(command);
    int rc = tu_run(command, output_out);
    free(command);
    strbuf_free(&args);
    return rc;
}

static char *fixtures_dir(void)
{
    char *dir = util_printf("%s/tests/fixtures", tu_build_dir());
    ck_assert_ptr_nonnull(dir);
    return dir;
}

static void assert_contains(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "expected \"%s\" in:\n%s", needle, text);
}

START_TEST(test_plugins_lists_accepted_plugins_with_kind_version_and_abi)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins --plugin-path '%s' 2>/dev/null", dir);

    ck_assert_int_eq(rc, EXIT_OK);
    assert_contains(output, "NAME");
    char *row = strstr(output, "\nvalid_sink ");
    ck_assert_msg(row != NULL, "no row for valid_sink in:\n%s", output);
    char name[64], kind[64], version[64], abi[64];
    ck_assert_int_eq(sscanf(row + 1, "%63s %63s %63s %63s", name, kind, version, abi), 4);
    ck_assert_str_eq(kind, "sink");
    ck_assert_str_eq(version, "0.9.0");
    ck_assert_str_eq(abi, ABI_TEXT);
    ck_assert_msg(strstr(output, "refused") == NULL, "refusals must go to stderr:\n%s", output);
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_reports_refused_files_on_stderr_with_their_reason)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins --plugin-path '%s' 2>&1 >/dev/null", dir);

    ck_assert_int_eq(rc, EXIT_OK);
    assert_contains(output, "refused");
    assert_contains(output, "abi_minor_newer: plugin ");
    assert_contains(output, "needs plugin ABI 2.5; this leadhubd supports " ABI_TEXT);
    assert_contains(output, "plugins info NAME");
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_with_empty_path_says_none_found)
{
    char *dir = tu_tmpdir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins --plugin-path '%s'", dir);

    ck_assert_int_eq(rc, EXIT_OK);
    assert_contains(output, "no plugins found");
    free(output);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_plugins_info_documents_callbacks_and_settings)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins info valid_scorer --plugin-path '%s'", dir);

    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    assert_contains(output, "name:        valid_scorer");
    assert_contains(output, "kind:        scorer");
    assert_contains(output, "version:     2.0.0");
    assert_contains(output, "ABI:         " ABI_TEXT);
    assert_contains(output, "callbacks:   init, destroy, score");
    assert_contains(output, "threshold");
    assert_contains(output, "Score that counts as hot.");
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_info_shows_the_oauth_provider_consent_uses)
{
    char *dir = fixtures_dir();
    char *output = NULL;
    int rc = leadhubd(&output, "plugins info consent_source --plugin-path '%s'", dir);
    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    assert_contains(output, "\noauth:       consent with `leadhubd connect INSTANCE`, PKCE, "
                            "scope sent with the code\n");
    assert_contains(output, "\n  authorize: {oauth_base}/{tenant}/authorize\n");
    assert_contains(output, "\n  parameter: login_hint={mailbox}\n");
    free(output);
    /* a plugin without one says nothing of it */
    rc = leadhubd(&output, "plugins info valid_source --plugin-path '%s'", dir);
    ck_assert_ptr_null(strstr(output, "oauth:"));
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_info_lists_the_event_types_a_source_declares)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins info paging_source --plugin-path '%s'", dir);
    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    assert_contains(output, "\nemits:       lead.created, lead.updated\n");
    free(output);

    /* a source that declares none may emit any type */
    rc = leadhubd(&output, "plugins info valid_source --plugin-path '%s'", dir);
    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    assert_contains(output, "\nemits:       any event type (the plugin declares none)\n");
    free(output);

    /* nothing to say for a plugin that is no source */
    rc = leadhubd(&output, "plugins info valid_sink --plugin-path '%s'", dir);
    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    ck_assert_msg(strstr(output, "emits:") == NULL, "%s", output);
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_info_on_unknown_name_fails_listing_available_ones)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins info hubspot --plugin-path '%s'", dir);

    ck_assert_int_eq(rc, EXIT_INVALID);
    assert_contains(output, "no plugin named \"hubspot\"");
    assert_contains(output, "available: challenge_source, consent_source, event_count_scorer, "
                            "flaky_init, notify_source, oauth_sink, ordered_sink, paging_source, "
                            "slow_webhook, valid_scorer, valid_sink, valid_source");
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_info_on_refused_plugin_prints_detail_and_hint)
{
    char *dir = fixtures_dir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins info abi_minor_newer --plugin-path '%s'", dir);

    ck_assert_int_eq(rc, EXIT_INVALID);
    assert_contains(output, "error: plugin ");
    assert_contains(output, "detail: needs plugin ABI 2.5; this leadhubd supports " ABI_TEXT);
    assert_contains(output, "hint: upgrade leadhub, or build the plugin against an older SDK");
    free(output);
    free(dir);
}
END_TEST

START_TEST(test_plugins_help_exits_zero_and_documents_exit_codes)
{
    char *output = NULL;

    ck_assert_int_eq(leadhubd(&output, "plugins --help"), EXIT_OK);
    assert_contains(output, "--plugin-path DIR");
    assert_contains(output, "Exit codes:");
    free(output);
    ck_assert_int_eq(leadhubd(&output, "plugins info --help"), EXIT_OK);
    assert_contains(output, "Usage: leadhubd plugins info NAME");
    free(output);
}
END_TEST

START_TEST(test_plugins_bad_command_lines_exit_with_usage)
{
    char *output = NULL;

    ck_assert_int_eq(leadhubd(&output, "plugins --no-such-option"), EXIT_USAGE);
    assert_contains(output, "unknown option '--no-such-option'");
    free(output);
    ck_assert_int_eq(leadhubd(&output, "plugins --plugin-path"), EXIT_USAGE);
    assert_contains(output, "--plugin-path needs a value");
    free(output);
    ck_assert_int_eq(leadhubd(&output, "plugins info"), EXIT_USAGE);
    free(output);
    ck_assert_int_eq(leadhubd(&output, "plugins info a b"), EXIT_USAGE);
    assert_contains(output, "unexpected argument 'b'");
    free(output);
}
END_TEST

START_TEST(test_plugins_with_an_invalid_config_file_fails_with_its_diagnostics)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "leadhub.yaml", "plugin_path: [unclosed\n");
    char *config = tu_path(dir, "leadhub.yaml");
    char *output = NULL;

    int rc = leadhubd(&output, "plugins -c '%s'", config);

    ck_assert_int_eq(rc, EXIT_INVALID);
    assert_contains(output, config);
    assert_contains(output, "--plugin-path DIR");
    free(output);
    free(config);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A config directory whose plugin_path (relative to the file) holds valid_sink.so. */
static char *config_with_plugin_path(const char *config_dir)
{
    char *dir = fixtures_dir();
    char *sink = util_printf("cp '%s/valid_sink.so' '%s/plugs/'", dir, config_dir);
    tu_write_file(config_dir, "conf.d/.keep", "");
    tu_write_file(config_dir, "plugs/.keep", "");
    tu_write_file(config_dir, "leadhub.yaml",
                  "database_url: postgres://leadhub@localhost/leadhub\nplugin_path: [plugs]\n");
    ck_assert_int_eq(tu_run(sink, NULL), 0);
    free(sink);
    free(dir);
    return tu_path(config_dir, "leadhub.yaml");
}

START_TEST(test_plugins_takes_the_plugin_path_from_the_config_file)
{
    char *config_dir = tu_tmpdir();
    char *config = config_with_plugin_path(config_dir);
    char *output = NULL;

    int rc = leadhubd(&output, "plugins -c '%s'", config);

    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    char *plugs = tu_path(config_dir, "plugs");
    assert_contains(output, plugs);
    assert_contains(output, "\nvalid_sink ");
    free(plugs);
    free(output);
    free(config);
    tu_rmrf(config_dir);
    free(config_dir);
}
END_TEST

START_TEST(test_plugins_reads_config_leadhub_yaml_from_the_working_directory)
{
    char *cwd = tu_tmpdir();
    char *config_dir = tu_path(cwd, "config");
    char *config = config_with_plugin_path(config_dir);
    char *build = realpath(tu_build_dir(), NULL);
    ck_assert_ptr_nonnull(build);
    char *command = util_printf("cd '%s' && '%s/leadhubd' plugins", cwd, build);
    char *output = NULL;

    int rc = tu_run(command, &output);

    ck_assert_msg(rc == EXIT_OK, "exit %d:\n%s", rc, output);
    assert_contains(output, "\nvalid_sink ");
    free(output);
    free(command);
    free(build);
    free(config);
    free(config_dir);
    tu_rmrf(cwd);
    free(cwd);
}
END_TEST

START_TEST(test_plugins_path_option_overrides_the_config_file)
{
    char *config_dir = tu_tmpdir();
    char *config = config_with_plugin_path(config_dir);
    char *empty = tu_tmpdir();
    char *output = NULL;

    int rc = leadhubd(&output, "plugins -c '%s' --plugin-path '%s'", config, empty);

    ck_assert_int_eq(rc, EXIT_OK);
    assert_contains(output, "no plugins found");
    free(output);
    tu_rmrf(empty);
    free(empty);
    free(config);
    tu_rmrf(config_dir);
    free(config_dir);
}
END_TEST

static Suite *cmd_plugins_suite(void)
{
    Suite *s = suite_create("cmd plugins");
    TCase *tc = tcase_create("plugins");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_plugins_lists_accepted_plugins_with_kind_version_and_abi);
    tcase_add_test(tc, test_plugins_reports_refused_files_on_stderr_with_their_reason);
    tcase_add_test(tc, test_plugins_with_empty_path_says_none_found);
    tcase_add_test(tc, test_plugins_info_documents_callbacks_and_settings);
    tcase_add_test(tc, test_plugins_info_lists_the_event_types_a_source_declares);
    tcase_add_test(tc, test_plugins_info_shows_the_oauth_provider_consent_uses);
    tcase_add_test(tc, test_plugins_info_on_unknown_name_fails_listing_available_ones);
    tcase_add_test(tc, test_plugins_info_on_refused_plugin_prints_detail_and_hint);
    tcase_add_test(tc, test_plugins_help_exits_zero_and_documents_exit_codes);
    tcase_add_test(tc, test_plugins_bad_command_lines_exit_with_usage);
    tcase_add_test(tc, test_plugins_with_an_invalid_config_file_fails_with_its_diagnostics);
    tcase_add_test(tc, test_plugins_takes_the_plugin_path_from_the_config_file);
    tcase_add_test(tc, test_plugins_reads_config_leadhub_yaml_from_the_working_directory);
    tcase_add_test(tc, test_plugins_path_option_overrides_the_config_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(cmd_plugins_suite());
}
