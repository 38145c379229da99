/*
 * test_cli.c - `leadhubd` as a user types it: help and exit codes, check-config on good and
 * bad configurations, run refusing to start on what check-config would refuse, migrate.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "leadhub.h"
#include "migrations.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

/* This tree's plugin ABI, "2.1", as the commands print it. */
#define ABI_STR2(x) #x
#define ABI_STR(x)  ABI_STR2(x)
#define ABI_TEXT    ABI_STR(LH_ABI_MAJOR) "." ABI_STR(LH_ABI_MINOR)

/* Runs `leadhubd ARGS` from the source tree; returns the exit code, output in *out. */
static int leadhubd(const char *args, char **out)
{
    char *command = util_printf("cd '%s' && '%s' %s", tu_source_dir(), td_binary(), args);
    int rc = tu_run(command, out);
    free(command);
    return rc;
}

static void assert_contains(const char *text, const char *expected)
{
    ck_assert_msg(strstr(text, expected) != NULL, "output lacks \"%s\":\n%s", expected, text);
}

START_TEST(test_cli_help_and_exit_codes)
{
    char *out = NULL;
    ck_assert_int_eq(leadhubd("--help", &out), 0);
    assert_contains(out, "check-config");
    assert_contains(out, "Exit codes:");
    free(out);
    ck_assert_int_eq(leadhubd("frobnicate", &out), 2);
    assert_contains(out, "unknown command 'frobnicate'");
    free(out);
    ck_assert_int_eq(leadhubd("", &out), 2);
    free(out);
    const char *commands[] = {"run", "migrate", "check-config", "plugins", "connect", "version"};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char *args = util_printf("%s --help", commands[i]);
        ck_assert_msg(leadhubd(args, &out) == 0, "%s --help failed", commands[i]);
        assert_contains(out, "Usage: leadhubd");
        free(out);
        free(args);
    }
    ck_assert_int_eq(leadhubd("run --no-such-option", &out), 2);
    free(out);
    ck_assert_int_eq(leadhubd("version", &out), 0);
    assert_contains(out, "plugin ABI " ABI_TEXT);
    free(out);
}
END_TEST

/* The whole of a file, malloc'd; aborts the test when it cannot be read. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    struct strbuf sb = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        strbuf_append_len(&sb, chunk, n);
    }
    fclose(f);
    return strbuf_take(&sb);
}

/* One line (up to \n or the end), with runs of spaces squeezed and the ends trimmed. */
static char *squeezed_line(const char *line)
{
    struct strbuf sb = {0};
    for (const char *p = line; *p != '\0' && *p != '\n'; p++) {
        if (*p == ' ' && (sb.len == 0 || p[1] == ' ' || p[1] == '\n' || p[1] == '\0')) {
            continue;
        }
        strbuf_append_len(&sb, p, 1);
    }
    char *squeezed = strbuf_take(&sb);
    ck_assert_ptr_nonnull(squeezed);
    return squeezed;
}

/* Does a line of the synopsis give exactly this usage (then, maybe, its description)? */
static bool synopsis_has(const char *synopsis, const char *usage)
{
    size_t n = strlen(usage);
    for (const char *line = synopsis; line != NULL && *line != '\0';) {
        char *squeezed = squeezed_line(line);
        bool same =
            strncmp(squeezed, usage, n) == 0 &&
            (squeezed[n] == '\0' || (squeezed[n] == ' ' && strchr("[(-", squeezed[n + 1]) == NULL));
        free(squeezed);
        if (same) {
            return true;
        }
        line = strchr(line, '\n');
        line = line != NULL ? line + 1 : NULL;
    }
    return false;
}

START_TEST(test_every_help_matches_docs_cli_md)
{
    char *path = tu_path(tu_source_dir(), "docs/cli.md");
    char *doc = read_text(path);
    char *open = strstr(doc, "```\n");
    ck_assert_ptr_nonnull(open);
    char *close = strstr(open + 4, "```");
    ck_assert_ptr_nonnull(close);
    *close = '\0';
    const char *synopsis = open + 4;
    const char *commands[] = {"run",          "migrate", "check-config", "plugins",
                              "plugins info", "replay",  "sync",         "rescore",
                              "reload",       "connect", "version",      "new-plugin"};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char *args = util_printf("%s --help", commands[i]);
        char *out = NULL;
        ck_assert_msg(leadhubd(args, &out) == 0, "%s failed", args);
        assert_contains(out, "Exit codes:");
        size_t usages = 0;
        for (const char *line = out; *line != '\0';) {
            size_t len = strcspn(line, "\n");
            ck_assert_msg(len <= 100, "%s: a line of %zu columns: %.*s", args, len, (int)len, line);
            const char *usage = NULL;
            if (strncmp(line, "Usage: leadhubd ", 16) == 0) {
                usage = line + 7;
            } else if (usages > 0 && strncmp(line, "       leadhubd ", 16) == 0) {
                usage = line + 7;
            }
            if (usage != NULL) {
                char *squeezed = squeezed_line(usage);
                ck_assert_msg(synopsis_has(synopsis, squeezed),
                              "docs/cli.md's synopsis lacks \"%s\" (from %s)", squeezed, args);
                free(squeezed);
                usages++;
            }
            line += len + (line[len] == '\n');
        }
        ck_assert_msg(usages > 0, "%s prints no usage line:\n%s", args, out);
        free(out);
        free(args);
    }
    free(doc);
    free(path);
}
END_TEST

START_TEST(test_check_config_accepts_the_example_configuration)
{
    char *out = NULL;
    /* without its environment, the example names what is missing */
    char *bare = util_printf("env -u DATABASE_URL -u LEADHUB_INBOUND_SECRET -u LEADHUB_API_TOKEN "
                             "-u LEADHUB_SECRETS_KEY "
                             "LEADHUB_PLUGIN_DIR='%s/plugins' '%s' check-config",
                             tu_build_dir(), td_binary());
    char *command = util_printf("cd '%s' && %s", tu_source_dir(), bare);
    ck_assert_int_eq(tu_run(command, &out), 1);
    assert_contains(out, "config/leadhub.yaml:3: database_url: error: environment variable "
                         "DATABASE_URL is not set");
    assert_contains(out, "secrets_key: error: environment variable LEADHUB_SECRETS_KEY is not set");
    free(out);
    free(command);
    free(bare);

    command = util_printf(
        "cd '%s' && DATABASE_URL=postgresql://localhost/x "
        "LEADHUB_INBOUND_SECRET=s3cret-s3cret-s3cret LEADHUB_API_TOKEN=t0ken-for-check-config "
        "LEADHUB_SECRETS_KEY=Y2hlY2stY29uZmlnLWtleS1vZi0zMi1ieXRlcy0hISE= "
        "LEADHUB_PLUGIN_DIR='%s/plugins' '%s' check-config",
        tu_source_dir(), tu_build_dir(), td_binary());
    ck_assert_int_eq(tu_run(command, &out), 0);
    assert_contains(out, "config/leadhub.yaml: valid (1 connector instance(s), 0 route(s)");
    assert_contains(out, "inbound");
    ck_assert_ptr_null(strstr(out, "s3cret-s3cret-s3cret"));
    ck_assert_ptr_null(strstr(out, "t0ken"));
    ck_assert_ptr_null(strstr(out, "Y2hlY2stY29uZmln"));
    free(out);
    free(command);
}
END_TEST

START_TEST(test_plugins_needs_only_the_plugin_path_of_the_config)
{
    /* the example config refers to DATABASE_URL; listing plugins must not need it */
    char *command = util_printf("cd '%s' && env -u DATABASE_URL -u LEADHUB_INBOUND_SECRET "
                                "LEADHUB_PLUGIN_DIR='%s/plugins' '%s' plugins",
                                tu_source_dir(), tu_build_dir(), td_binary());
    char *out = NULL;
    ck_assert_int_eq(tu_run(command, &out), 0);
    /* the webhook plugin's row, whatever the column widths */
    const char *row = strstr(out, "\nwebhook ");
    ck_assert_msg(row != NULL, "no webhook row in:\n%s", out);
    const char *end = strchr(row + 1, '\n');
    const char *kind = strstr(row, " source ");
    ck_assert_msg(kind != NULL && (end == NULL || kind < end), "webhook is not a source:\n%s", out);
    free(out);
    free(command);
}
END_TEST

static const char broken_main[] = "database_url: postgresql://localhost/x\n"
                                  "listen: 127.0.0.1:0\n"
                                  "plugin_path: [\"%s/plugins\"]\n";

/* A config dir with the given connector file; returns the dir. */
static char *config_with_connector(const char *connector_yaml)
{
    char *dir = tu_tmpdir();
    char *main_yaml = util_printf(broken_main, tu_build_dir());
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    tu_write_file(dir, "conf.d/hooks.yaml", connector_yaml);
    free(main_yaml);
    return dir;
}

START_TEST(test_check_config_names_file_line_key_and_hint)
{
    setenv("LHTEST_CLI_SECRET", "s3cret-s3cret-s3cret", 1);
    char *dir = config_with_connector("name: hooks\n"
                                      "plugin: webhook\n"
                                      "settings:\n"
                                      "  secret: ${LHTEST_CLI_SECRET}\n"
                                      "  tolerence: 5m\n");
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    assert_contains(out, "conf.d/hooks.yaml:5: settings.tolerence: error:");
    assert_contains(out, "tolerance");
    assert_contains(out, "1 error(s)");
    free(out);
    free(args);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_config_checks_connector_files_despite_errors_in_the_main_file)
{
    setenv("LHTEST_CLI_SECRET", "s3cret-s3cret-s3cret", 1);
    unsetenv("LHTEST_CLI_UNSET_URL");
    char *dir = tu_tmpdir();
    char *main_yaml = util_printf("database_url: ${LHTEST_CLI_UNSET_URL}\n"
                                  "plugin_path: [\"%s/plugins\"]\n",
                                  tu_build_dir());
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    tu_write_file(dir, "conf.d/hooks.yaml",
                  "name: hooks\nplugin: webhook\nsettings:\n"
                  "  secret: ${LHTEST_CLI_SECRET}\n  tolerence: 5m\n");
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    assert_contains(out, "leadhub.yaml:1: database_url: error: environment variable "
                         "LHTEST_CLI_UNSET_URL is not set");
    assert_contains(out, "conf.d/hooks.yaml:5: settings.tolerence: error: unknown key "
                         "\"tolerence\"");
    assert_contains(out, "did you mean \"tolerance\"?");
    assert_contains(out, "2 error(s)");
    ck_assert_ptr_null(strstr(out, "not checked"));
    ck_assert_ptr_null(strstr(out, "s3cret-s3cret-s3cret"));
    free(out);
    free(args);
    free(main_yaml);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_config_names_what_a_broken_plugin_path_leaves_unchecked)
{
    unsetenv("LHTEST_CLI_UNSET_DIR");
    char *dir = tu_tmpdir();
    tu_write_file(dir, "leadhub.yaml",
                  "database_url: postgresql://localhost/x\n"
                  "plugin_path: [\"${LHTEST_CLI_UNSET_DIR}\"]\n");
    /* the file itself is still read: its own keys are checked */
    tu_write_file(dir, "conf.d/hooks.yaml", "name: hooks\nplugin: webhook\nenabld: true\n");
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    assert_contains(out, "leadhub.yaml:2: plugin_path[0]: error: environment variable "
                         "LHTEST_CLI_UNSET_DIR is not set");
    assert_contains(out, "conf.d/hooks.yaml:3: enabld: error: unknown key \"enabld\"");
    assert_contains(out, "2 error(s)");
    assert_contains(out, "not checked: instance settings, routes and scorers, until "
                         "plugin_path is fixed");
    /* no guess at plugins from the wrong directories */
    ck_assert_ptr_null(strstr(out, "unknown plugin"));
    free(out);
    free(args);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_config_reports_unknown_plugin_with_the_ones_found)
{
    char *dir = config_with_connector("name: hooks\nplugin: webhok\n");
    char *args = util_printf("check-config -c '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    assert_contains(out, "hooks.yaml:2: plugin: error: unknown plugin \"webhok\"");
    assert_contains(out, "plugins found: ");
    assert_contains(out, "webhook");
    free(out);
    free(args);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_config_runs_each_scorers_own_checks)
{
    setenv("LHTEST_CLI_SECRET", "s3cret-s3cret-s3cret", 1);
    char *dir = config_with_connector("name: hooks\nplugin: webhook\n"
                                      "settings:\n  secret: ${LHTEST_CLI_SECRET}\n");
    /* a regex only the rules plugin can judge (its validate()), and a good scorer beside it */
    char *main_yaml = util_printf("%s"
                                  "scoring:\n"
                                  "  - name: activity\n"
                                  "    plugin: engagement\n"
                                  "  - name: fit\n"
                                  "    plugin: rules\n"
                                  "    settings:\n"
                                  "      rules:\n"
                                  "        - name: vp\n"
                                  "          points: 10\n"
                                  "          when:\n"
                                  "            lead.title: {regex: \"(vp|head\"}\n",
                                  broken_main);
    char *filled = util_printf(main_yaml, tu_build_dir());
    tu_write_file(dir, "leadhub.yaml", filled);
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    /* at the regex's own line and key, as the host's schema errors are */
    assert_contains(out, "leadhub.yaml:14: scoring[1].settings.rules[0].when.lead.title.regex: "
                         "error: \"(vp|head\" is not a valid regular expression");
    assert_contains(out, "1 error(s)");
    /* nothing of the scorers' start shows as log lines */
    ck_assert_ptr_null(strstr(out, "instance initialized"));
    free(out);
    free(args);
    free(filled);
    free(main_yaml);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A config dir with these connector files ({name, yaml} pairs); returns the dir. */
static char *config_with_connectors(const char *const files[][2], size_t count)
{
    char *dir = tu_tmpdir();
    char *main_yaml = util_printf(broken_main, tu_build_dir());
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    for (size_t i = 0; i < count; i++) {
        char *name = util_printf("conf.d/%s", files[i][0]);
        tu_write_file(dir, name, files[i][1]);
        free(name);
    }
    free(main_yaml);
    return dir;
}

/* What each plugin's init() would refuse at start, check-config refuses offline, at the
 * file, line and key, with a hint: "valid" means the instances will start. */
START_TEST(test_check_config_refuses_what_init_would_refuse)
{
    setenv("LHTEST_CLI_SECRET", "s3cret-s3cret-s3cret", 1);
    setenv("LHTEST_CLI_SHORT", "short-one", 1);
    setenv("LHTEST_CLI_EMPTY", "", 1);
    setenv("LHTEST_CLI_STRIPE", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", 1);
    const char *const files[][2] = {
        {"out.yaml", "name: out\nplugin: http\nsettings:\n"
                     "  url: ftp://receiver.example/events\n"
                     "  secret: ${LHTEST_CLI_SECRET}\n"},
        {"pay.yaml", "name: pay\nplugin: stripe\nsettings:\n"
                     "  api_key: ${LHTEST_CLI_STRIPE}\n"
                     "  event_types:\n"
                     "    - invoice.paid\n"
                     "    - charge.succeeded\n"},
        {"short.yaml", "name: short\nplugin: webhook\nsettings:\n"
                       "  secret: ${LHTEST_CLI_SHORT}\n"},
        {"empty.yaml", "name: empty\nplugin: webhook\nsettings:\n"
                       "  secret: ${LHTEST_CLI_EMPTY}\n"},
        {"literal.yaml", "name: literal\nplugin: webhook\nsettings:\n"
                         "  secret: ${LHTEST_CLI_UNSET:-hunter2hunter2hunter2}\n"},
    };
    unsetenv("LHTEST_CLI_UNSET");
    char *dir = config_with_connectors(files, sizeof(files) / sizeof(files[0]));
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 1);
    assert_contains(out, "conf.d/out.yaml:4: settings.url: error: must start with http:// or "
                         "https://");
    assert_contains(out, "conf.d/pay.yaml:7: settings.event_types[1]: error: "
                         "\"charge.succeeded\" is not a Stripe event type the plugin maps");
    assert_contains(out, "hint: types the plugin maps: customer.created");
    assert_contains(out, "conf.d/short.yaml:4: settings.secret: error: ${LHTEST_CLI_SHORT} "
                         "resolves to 9 bytes; this secret needs at least 16");
    assert_contains(out, "conf.d/empty.yaml:4: settings.secret: error: ${LHTEST_CLI_EMPTY} "
                         "resolves to an empty value");
    assert_contains(out, "conf.d/literal.yaml:4: settings.secret: error: a secret's fallback "
                         "must be a reference, not a literal value");
    assert_contains(out, "5 error(s)");
    ck_assert_ptr_null(strstr(out, "short-one"));
    ck_assert_ptr_null(strstr(out, "hunter2"));
    free(out);
    free(args);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_check_config_valid_lists_instances)
{
    setenv("LHTEST_CLI_SECRET", "s3cret-s3cret-s3cret", 1);
    char *dir = config_with_connector("name: hooks\nplugin: webhook\n"
                                      "settings:\n  secret: ${LHTEST_CLI_SECRET}\n");
    char *args = util_printf("check-config '%s/leadhub.yaml'", dir);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 0);
    assert_contains(out, "valid (1 connector instance(s)");
    assert_contains(out, "hooks");
    ck_assert_ptr_null(strstr(out, "s3cret-s3cret-s3cret"));
    free(out);
    free(args);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_run_refuses_invalid_config_with_exit_1)
{
    struct test_daemon td;
    td_init(&td, NULL);
    td_connector(&td, "hooks", "name: hooks\nplugin: webhook\nsettings:\n  secret: literal\n");
    ck_assert_int_eq(td_start(&td), 1);
    char *log = td_log(&td);
    assert_contains(log, "a secret must come from a reference");
    ck_assert_ptr_null(strstr(log, "literal\""));
    free(log);
    td_cleanup(&td);
}
END_TEST

START_TEST(test_run_exits_3_when_another_daemon_holds_the_port)
{
    /* two replicas on one port would split requests at random: the second must refuse */
    struct test_daemon first, second;
    td_init(&first, NULL);
    ck_assert_int_eq(td_start(&first), 0);
    td_init(&second, first.db_url);
    second.port = first.port;
    snprintf(second.base_url, sizeof(second.base_url), "http://127.0.0.1:%d", second.port);
    /* not td_start(): its readiness check would reach the first daemon */
    td_spawn(&second);
    ck_assert_int_eq(td_wait(&second), 3);
    char *log = td_log(&second);
    assert_contains(log, "cannot listen on 127.0.0.1:");
    free(log);
    td_cleanup(&second);
    ck_assert_int_eq(td_stop(&first), 0);
    td_cleanup(&first);
}
END_TEST

START_TEST(test_run_stops_on_a_refused_plugin_an_instance_uses_and_skips_unused_ones)
{
    /* a second plugin directory holding one plugin built for a newer ABI minor */
    struct test_daemon td;
    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/abi_minor_newer.so' '%s/'",
                             plugins, tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    td_webhook_instance(&td, "inbound", "s3cret-s3cret-s3cret");
    char *yaml = util_printf("database_url: \"%s\"\nlisten: 127.0.0.1:%d\n"
                             "plugin_path: [\"%s/plugins\", \"%s\"]\n",
                             td.db_url, td.port, tu_build_dir(), plugins);
    tu_write_file(td.dir, "leadhub.yaml", yaml);
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *check = util_printf("'%s' check-config '%s'", td_binary(), config);
    char *out = NULL;

    /* nothing uses it: valid, with a warning */
    ck_assert_int_eq(tu_run(check, &out), 0);
    assert_contains(out, "needs plugin ABI 2.5");
    assert_contains(out, "no instance uses it: skipped");
    free(out);

    /* an instance uses it: check-config and run both refuse, with one clear line */
    td_connector(&td, "newer", "name: newer\nplugin: abi_minor_newer\n");
    ck_assert_int_eq(tu_run(check, &out), 1);
    assert_contains(out, "needs plugin ABI 2.5");
    assert_contains(out, "a connector instance uses this plugin");
    free(out);
    char *run = util_printf("'%s' run -c '%s'", td_binary(), config);
    ck_assert_int_eq(tu_run(run, &out), 1);
    assert_contains(out, "needs plugin ABI 2.5");
    free(out);

    free(run);
    free(check);
    free(config);
    free(yaml);
    free(copy);
    free(plugins);
    td_cleanup(&td);
}
END_TEST

START_TEST(test_migrate_applies_and_reports_status)
{
    char *url = testdb_create();
    char *args = util_printf("migrate -d '%s'", url);
    char *out = NULL;
    ck_assert_int_eq(leadhubd(args, &out), 0);
    char *expected = util_printf("applied %zu migration(s); schema version %d", migration_count,
                                 migrations[migration_count - 1].version);
    assert_contains(out, expected);
    free(expected);
    free(out);
    ck_assert_int_eq(leadhubd(args, &out), 0);
    assert_contains(out, "applied 0 migration(s)");
    free(out);
    free(args);
    args = util_printf("migrate --status -d '%s'", url);
    ck_assert_int_eq(leadhubd(args, &out), 0);
    assert_contains(out, "(up to date)");
    free(out);
    free(args);
    ck_assert_int_eq(leadhubd("migrate -d postgresql://u:hunter2@127.0.0.1:1/x", &out), 3);
    assert_contains(out, "cannot connect");
    ck_assert_ptr_null(strstr(out, "hunter2"));
    free(out);
    testdb_drop(url);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_help_and_exit_codes);
    tcase_add_test(tc, test_every_help_matches_docs_cli_md);
    tcase_add_test(tc, test_check_config_accepts_the_example_configuration);
    tcase_add_test(tc, test_check_config_names_file_line_key_and_hint);
    tcase_add_test(tc, test_check_config_checks_connector_files_despite_errors_in_the_main_file);
    tcase_add_test(tc, test_check_config_names_what_a_broken_plugin_path_leaves_unchecked);
    tcase_add_test(tc, test_plugins_needs_only_the_plugin_path_of_the_config);
    tcase_add_test(tc, test_check_config_reports_unknown_plugin_with_the_ones_found);
    tcase_add_test(tc, test_check_config_runs_each_scorers_own_checks);
    tcase_add_test(tc, test_check_config_refuses_what_init_would_refuse);
    tcase_add_test(tc, test_check_config_valid_lists_instances);
    tcase_add_test(tc, test_run_refuses_invalid_config_with_exit_1);
    tcase_add_test(tc, test_run_exits_3_when_another_daemon_holds_the_port);
    tcase_add_test(tc, test_run_stops_on_a_refused_plugin_an_instance_uses_and_skips_unused_ones);
    tcase_add_test(tc, test_migrate_applies_and_reports_status);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
