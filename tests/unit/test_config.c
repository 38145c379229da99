/* test_config.c - config_load(): the main file and the connector instance files. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "config_testing.h"
#include "seal.h"
#include "testutil.h"
#include "util.h"

#define DB_LINE "database_url: postgres://leadhub@localhost/leadhub\n"

/* A temporary directory with leadhub.yaml holding `main_text` and an empty conf.d. */
struct fixture {
    char *dir;
    char *main;
};

static struct fixture setup_named(const char *name, const char *main_text)
{
    /* realpath: config->dir is canonical, and /tmp may be a symlink */
    char *made = tu_tmpdir();
    struct fixture f = {.dir = realpath(made, NULL)};
    ck_assert_ptr_nonnull(f.dir);
    free(made);
    tu_write_file(f.dir, name, main_text);
    tu_write_file(f.dir, "conf.d/.keep", "");
    f.main = tu_path(f.dir, name);
    return f;
}

static struct fixture setup(const char *main_text)
{
    return setup_named("leadhub.yaml", main_text);
}

static void teardown(struct fixture *f)
{
    tu_rmrf(f->dir);
    free(f->dir);
    free(f->main);
}

static struct config *load_ok(const char *path)
{
    struct diag_list diags = {0};
    struct config *config = NULL;
    int rc = config_load(path, &config, &diags);
    for (size_t i = 0; i < diags.count; i++) {
        char *line = diag_format_one(&diags.items[i]);
        fprintf(stderr, "unexpected: %s\n", line);
        free(line);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(config);
    ck_assert_uint_eq(diag_error_count(&diags), 0);
    diag_list_free(&diags);
    return config;
}

static void load_fails(const char *path, struct diag_list *diags)
{
    struct config *config = (struct config *)1;
    ck_assert_int_eq(config_load(path, &config, diags), -1);
    ck_assert_ptr_null(config);
    ck_assert_uint_ge(diag_error_count(diags), 1);
}

static char *in_dir(const struct fixture *f, const char *name)
{
    return tu_path(f->dir, name);
}

START_TEST(test_load_minimal_main_file_fills_every_default)
{
    struct fixture f = setup(DB_LINE);
    struct config *c = load_ok(f.main);
    char *conf_d = in_dir(&f, "conf.d");
    ck_assert_str_eq(c->file, f.main);
    ck_assert_str_eq(c->dir, f.dir);
    ck_assert_str_eq(c->database_url, "postgres://leadhub@localhost/leadhub");
    ck_assert_str_eq(c->listen_host, "127.0.0.1");
    ck_assert_int_eq(c->listen_port, 8080);
    ck_assert_uint_eq(c->plugin_path_count, 0);
    ck_assert_str_eq(c->connectors_dir, conf_d);
    ck_assert_int_eq(c->log_level, LOG_LEVEL_INFO);
    ck_assert_int_eq(c->shutdown_grace_ms, 10000);
    ck_assert_uint_eq(c->http_body_limit, 1048576);
    ck_assert_uint_eq(c->http_threads, 0);
    ck_assert_uint_eq(c->http_connection_limit, 4096);
    ck_assert_int_eq(c->http_timeout_ms, 30000);
    /* the budgets, sized for the example Kubernetes limits (512 Mi) */
    ck_assert_ptr_null(c->admin_listen_host);
    ck_assert_uint_eq(c->http.connections_per_address, 1024);
    ck_assert_int_eq(c->http.request_timeout_ms, 10000);
    ck_assert_uint_eq(c->http.unauthenticated_bytes, 32u << 20);
    ck_assert_uint_eq(c->http.unauthenticated_bytes_per_address, 8u << 20);
    ck_assert_int_eq(c->http.webhook_timeout_ms, 800);
    ck_assert_int_eq(c->http.commit_timeout_ms, 5000);
    ck_assert_int_eq(c->http.api_timeout_ms, 20000);
    ck_assert_uint_eq(c->http.webhook_workers, 0);
    ck_assert_uint_eq(c->http.api_workers, 4);
    ck_assert_uint_eq(c->ingest_writers, 2);
    ck_assert_uint_eq(c->ingest_batch_max, 1000);
    ck_assert_uint_eq(c->ingest_queue_max, 50000);
    ck_assert_uint_eq(c->token_count, 0);
    ck_assert(json_is_array(c->routes) && json_array_size(c->routes) == 0);
    ck_assert(json_is_array(c->scoring) && json_array_size(c->scoring) == 0);
    ck_assert_int_eq(c->delivery.max_attempts, 10);
    ck_assert_int_eq(c->delivery.backoff_base_ms, 1000);
    ck_assert_int_eq(c->delivery.concurrency, 4);
    ck_assert_uint_eq(c->instance_count, 0);
    /* beside this program, as beside leadhubd once installed */
    char *bin = util_exe_dir();
    char *console = util_printf("%s/../share/leadhub/console", bin);
    ck_assert_str_eq(c->console_dir, console);
    free(console);
    free(bin);
    free(conf_d);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_console_dir_resolves_from_the_main_file_and_refuses_empty)
{
    struct fixture f = setup(DB_LINE "console: {dir: ../site}\n");
    struct config *c = load_ok(f.main);
    char *site = in_dir(&f, "../site");
    ck_assert_str_eq(c->console_dir, site);
    free(site);
    config_free(c);
    teardown(&f);

    f = setup(DB_LINE "console: {dir: /srv/console}\n");
    c = load_ok(f.main);
    ck_assert_str_eq(c->console_dir, "/srv/console");
    config_free(c);
    teardown(&f);

    f = setup(DB_LINE "console: {dir: \"\"}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "empty path");
    ck_assert_str_eq(d->key, "console.dir");
    diag_list_free(&diags);
    teardown(&f);

    f = setup(DB_LINE "console: {directory: /x}\n");
    load_fails(f.main, &diags);
    tc_expect(&diags, "unknown key \"directory\"");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_every_main_key_is_read)
{
    setenv("LH_TEST_TOKEN", "tok-123-0f9e8d7c6b", 1);
    struct fixture f = setup(DB_LINE "listen: 0.0.0.0:9090\n"
                                     "plugin_path: [plugins, /opt/leadhub/plugins]\n"
                                     "connectors_dir: connectors\n"
                                     "log: {level: debug}\n"
                                     "shutdown_grace: 1m\n"
                                     "http:\n"
                                     "  body_limit: 2048\n"
                                     "  threads: 8\n"
                                     "  connection_limit: 100\n"
                                     "  timeout: 5s\n"
                                     "  connections_per_address: 50\n"
                                     "  request_timeout: 3s\n"
                                     "  unauthenticated_bytes: 1048576\n"
                                     "  unauthenticated_bytes_per_address: 65536\n"
                                     "  webhook_timeout: 2s\n"
                                     "  commit_timeout: 4s\n"
                                     "  api_timeout: 30s\n"
                                     "  webhook_workers: 6\n"
                                     "  api_workers: 3\n"
                                     "admin_listen: 127.0.0.1:9091\n"
                                     "ingest: {writers: 4, batch_max: 500, queue_max: 1000}\n"
                                     "api:\n"
                                     "  tokens:\n"
                                     "    - {name: ops, token: \"${LH_TEST_TOKEN}\", scopes: "
                                     "[read, admin]}\n"
                                     "routes:\n"
                                     "  - {from: linkedin, to: [hubspot]}\n"
                                     "scoring: [{plugin: rules}]\n"
                                     "delivery: {max_attempts: 5}\n");
    tu_write_file(f.dir, "connectors/.keep", "");
    struct config *c = load_ok(f.main);
    char *plugins = in_dir(&f, "plugins");
    char *connectors = in_dir(&f, "connectors");
    ck_assert_str_eq(c->listen_host, "0.0.0.0");
    ck_assert_int_eq(c->listen_port, 9090);
    ck_assert_uint_eq(c->plugin_path_count, 2);
    ck_assert_str_eq(c->plugin_path[0], plugins);
    ck_assert_str_eq(c->plugin_path[1], "/opt/leadhub/plugins");
    ck_assert_str_eq(c->connectors_dir, connectors);
    ck_assert_int_eq(c->log_level, LOG_LEVEL_DEBUG);
    ck_assert_int_eq(c->shutdown_grace_ms, 60000);
    ck_assert_uint_eq(c->http_body_limit, 2048);
    ck_assert_uint_eq(c->http_threads, 8);
    ck_assert_uint_eq(c->http_connection_limit, 100);
    ck_assert_int_eq(c->http_timeout_ms, 5000);
    ck_assert_uint_eq(c->http.connections_per_address, 50);
    ck_assert_int_eq(c->http.request_timeout_ms, 3000);
    ck_assert_uint_eq(c->http.unauthenticated_bytes, 1048576);
    ck_assert_uint_eq(c->http.unauthenticated_bytes_per_address, 65536);
    ck_assert_int_eq(c->http.webhook_timeout_ms, 2000);
    ck_assert_int_eq(c->http.commit_timeout_ms, 4000);
    ck_assert_int_eq(c->http.api_timeout_ms, 30000);
    ck_assert_uint_eq(c->http.webhook_workers, 6);
    ck_assert_uint_eq(c->http.api_workers, 3);
    ck_assert_str_eq(c->admin_listen_host, "127.0.0.1");
    ck_assert_int_eq(c->admin_listen_port, 9091);
    ck_assert_uint_eq(c->ingest_writers, 4);
    ck_assert_uint_eq(c->ingest_batch_max, 500);
    ck_assert_uint_eq(c->ingest_queue_max, 1000);
    ck_assert_uint_eq(c->token_count, 1);
    ck_assert_str_eq(c->tokens[0].name, "ops");
    ck_assert_str_eq(c->tokens[0].token, "tok-123-0f9e8d7c6b");
    ck_assert_uint_eq(c->tokens[0].scopes, CONFIG_SCOPE_READ | CONFIG_SCOPE_ADMIN);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c->routes, 0), "from")),
                     "linkedin");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c->scoring, 0), "plugin")),
                     "rules");
    ck_assert_int_eq(c->delivery.max_attempts, 5);
    ck_assert_int_eq(json_integer_value(json_object_get(c->lines, "routes[0].from")), 27);
    free(plugins);
    free(connectors);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_json_main_file_accepted)
{
    struct fixture f = setup_named("leadhub.json", "{\"database_url\": \"postgres://x/y\",\n"
                                                   " \"listen\": \":7000\",\n"
                                                   " \"http\": {\"threads\": 2}}\n");
    struct config *c = load_ok(f.main);
    ck_assert_str_eq(c->database_url, "postgres://x/y");
    ck_assert_str_eq(c->listen_host, "0.0.0.0");
    ck_assert_int_eq(c->listen_port, 7000);
    ck_assert_uint_eq(c->http_threads, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(c->lines, "http.threads")), 3);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_json_main_file_errors_name_the_line)
{
    struct fixture f = setup_named("leadhub.json", "{\"database_url\": \"postgres://x/y\",\n"
                                                   " \"http\": {\n"
                                                   "   \"threads\": 999}}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "must be at most 256, got 999");
    ck_assert_str_eq(d->file, f.main);
    ck_assert_int_eq(d->line, 3);
    ck_assert_str_eq(d->key, "http.threads");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_empty_main_file_takes_database_url_from_environment)
{
    setenv("DATABASE_URL", "postgres://from-env/db", 1);
    struct fixture f = setup("");
    struct config *c = load_ok(f.main);
    ck_assert_str_eq(c->database_url, "postgres://from-env/db");
    ck_assert_int_eq(c->listen_port, 8080);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_database_url_unset_is_an_error)
{
    unsetenv("DATABASE_URL");
    struct fixture f = setup("listen: 127.0.0.1:1\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d = tc_expect(&diags, "database_url is not set");
    ck_assert_str_eq(d->hint, "set database_url in the file or export DATABASE_URL");
    ck_assert_str_eq(d->file, f.main);
    ck_assert_str_eq(d->key, "database_url");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_database_url_reference_is_resolved)
{
    setenv("LH_TEST_DB", "postgres://ref/db", 1);
    struct fixture f = setup("database_url: ${LH_TEST_DB}\n");
    struct config *c = load_ok(f.main);
    ck_assert_str_eq(c->database_url, "postgres://ref/db");
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_unknown_main_key_lists_allowed_keys)
{
    struct fixture f = setup(DB_LINE "listn: :8080\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "unknown key \"listn\"");
    ck_assert_str_eq(d->file, f.main);
    ck_assert_int_eq(d->line, 2);
    ck_assert_str_eq(d->key, "listn");
    ck_assert_str_eq(d->hint, "did you mean \"listen\"? allowed keys: database_url, listen, "
                              "admin_listen, plugin_path, connectors_dir, log, shutdown_grace, "
                              "http, ingest, api, routes, scoring, delivery, secrets_key, oauth, "
                              "readiness, console");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_unknown_section_key_names_its_path)
{
    struct fixture f = setup(DB_LINE "http:\n  body_limt: 4096\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "unknown key \"body_limt\"");
    ck_assert_str_eq(d->key, "http.body_limt");
    ck_assert_int_eq(d->line, 3);
    ck_assert_ptr_nonnull(strstr(d->hint, "did you mean \"body_limit\"?"));
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_wrong_types_and_ranges_in_main_file)
{
    struct fixture f = setup(DB_LINE "shutdown_grace: 10\n"
                                     "log: {level: loud}\n"
                                     "ingest: {writers: 0}\n"
                                     "http: {body_limit: 100000000}\n"
                                     "routes: {a: 1}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diag_error_count(&diags), 5);
    const struct diag *d = tc_expect(&diags, "expected a duration, got 10");
    ck_assert_str_eq(d->hint, "write it with a unit, e.g. 30s");
    ck_assert_int_eq(d->line, 2);
    d = tc_expect(&diags, "got \"loud\"");
    ck_assert_str_eq(d->key, "log.level");
    ck_assert_str_eq(d->hint, "allowed values: debug, info, warn, error");
    ck_assert_str_eq(tc_expect(&diags, "must be at least 1, got 0")->key, "ingest.writers");
    ck_assert_str_eq(tc_expect(&diags, "must be at most 67108864")->key, "http.body_limit");
    ck_assert_str_eq(tc_expect(&diags, "expected a list, got a mapping")->key, "routes");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

/* Budgets that contradict each other are caught where they are written. */
START_TEST(test_load_http_budgets_that_cannot_work_are_refused)
{
    struct fixture f = setup(DB_LINE "http:\n"
                                     "  body_limit: 2000000\n"
                                     "  unauthenticated_bytes: 1000000\n"
                                     "  unauthenticated_bytes_per_address: 1500000\n"
                                     "admin_listen: nowhere\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "one address's share is larger than the whole");
    ck_assert_str_eq(d->key, "http.unauthenticated_bytes_per_address");
    d = tc_expect(&diags, "a webhook body of the largest size allowed could never be read");
    ck_assert_str_eq(d->key, "http.body_limit");
    d = tc_expect(&diags, "\"nowhere\" is not host:port");
    ck_assert_str_eq(d->key, "admin_listen");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_empty_sections_take_defaults)
{
    struct fixture f = setup(DB_LINE "http:\ningest:\nroutes:\n");
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->http_connection_limit, 4096);
    ck_assert_uint_eq(c->ingest_writers, 2);
    ck_assert(json_is_array(c->routes));
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_main_file_must_be_a_mapping)
{
    struct fixture f = setup("- a\n- b\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    tc_expect(&diags, "expected a mapping of keys at the top of the file, got a list");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_missing_main_file_is_an_error)
{
    struct diag_list diags = {0};
    load_fails("/nonexistent/leadhub.yaml", &diags);
    ck_assert_str_eq(tc_expect(&diags, "cannot read file")->file, "/nonexistent/leadhub.yaml");
    diag_list_free(&diags);
}
END_TEST

START_TEST(test_load_listen_forms)
{
    static const struct {
        const char *listen;
        const char *host;
        int port;
    } cases[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"[::1]:9000", "::1", 9000},
        {":8080", "0.0.0.0", 8080},
        {"localhost:0", "localhost", 0},
        {"0.0.0.0:65535", "0.0.0.0", 65535},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *text = util_printf(DB_LINE "listen: \"%s\"\n", cases[i].listen);
        struct fixture f = setup(text);
        struct config *c = load_ok(f.main);
        ck_assert_str_eq(c->listen_host, cases[i].host);
        ck_assert_int_eq(c->listen_port, cases[i].port);
        config_free(c);
        teardown(&f);
        free(text);
    }
}
END_TEST

START_TEST(test_load_listen_invalid_forms_are_refused)
{
    static const struct {
        const char *listen;
        const char *message;
    } cases[] = {
        {"8080", "\"8080\" is not host:port"},
        {"::1:8080", "\"::1:8080\" is not host:port"},
        {"[::1]8080", "\"[::1]8080\" is not host:port"},
        {"host:70000", "port \"70000\" is not a number from 0 to 65535"},
        {"host:", "port \"\" is not a number from 0 to 65535"},
        {"host:http", "port \"http\" is not a number"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *text = util_printf(DB_LINE "listen: \"%s\"\n", cases[i].listen);
        struct fixture f = setup(text);
        struct diag_list diags = {0};
        load_fails(f.main, &diags);
        const struct diag *d = tc_expect(&diags, cases[i].message);
        ck_assert_str_eq(d->key, "listen");
        ck_assert_int_eq(d->line, 2);
        ck_assert_ptr_nonnull(strstr(d->hint, "[::1]:8080"));
        diag_list_free(&diags);
        teardown(&f);
        free(text);
    }
}
END_TEST

START_TEST(test_load_relative_paths_resolve_against_the_main_file_directory)
{
    struct fixture f = setup(DB_LINE "plugin_path: [lib/plugins, ../shared]\n");
    tu_write_file(f.dir, "sub/.keep", "");
    /* Load through a relative path from another working directory. */
    char *old_cwd = getcwd(NULL, 0);
    ck_assert_int_eq(chdir(f.dir), 0);
    ck_assert_int_eq(chdir("sub"), 0);
    struct config *c = load_ok("../leadhub.yaml");
    ck_assert_int_eq(chdir(old_cwd), 0);
    char *plugins = in_dir(&f, "lib/plugins");
    char *shared = in_dir(&f, "../shared");
    char *conf_d = in_dir(&f, "conf.d");
    ck_assert_str_eq(c->file, "../leadhub.yaml");
    ck_assert_str_eq(c->dir, f.dir);
    ck_assert_str_eq(c->plugin_path[0], plugins);
    ck_assert_str_eq(c->plugin_path[1], shared);
    ck_assert_str_eq(c->connectors_dir, conf_d);
    free(plugins);
    free(shared);
    free(conf_d);
    free(old_cwd);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_missing_connectors_dir_is_an_error)
{
    struct fixture f = setup(DB_LINE "connectors_dir: nowhere\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "cannot read connectors_dir");
    ck_assert_ptr_nonnull(strstr(d->message, "/nowhere: No such file or directory"));
    ck_assert_str_eq(d->file, f.main);
    ck_assert_int_eq(d->line, 2);
    ck_assert_str_eq(d->key, "connectors_dir");
    ck_assert_ptr_nonnull(d->hint);
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_instances_sorted_by_file_name_with_defaults)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/b-crm.yaml", "name: crm\nplugin: hubspot\n");
    tu_write_file(f.dir, "conf.d/a-inbox.yml",
                  "name: inbox\n"
                  "plugin: gmail\n"
                  "enabled: false\n"
                  "poll_interval: 30s\n"
                  "settings:\n"
                  "  mailbox: sales@example.com\n"
                  "  secret: ${LH_TEST_UNRESOLVED}\n");
    unsetenv("LH_TEST_UNRESOLVED"); /* settings stay as written until validated */
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->instance_count, 2);
    const struct config_instance *inbox = &c->instances[0];
    char *inbox_file = in_dir(&f, "conf.d/a-inbox.yml");
    ck_assert_str_eq(inbox->name, "inbox");
    ck_assert_str_eq(inbox->plugin, "gmail");
    ck_assert(!inbox->enabled);
    ck_assert_int_eq(inbox->poll_interval_ms, 30000);
    ck_assert_str_eq(inbox->file, inbox_file);
    ck_assert_str_eq(json_string_value(json_object_get(inbox->settings, "secret")),
                     "${LH_TEST_UNRESOLVED}");
    ck_assert_int_eq(json_integer_value(json_object_get(inbox->lines, "settings.secret")), 7);
    const struct config_instance *crm = &c->instances[1];
    ck_assert_str_eq(crm->name, "crm");
    ck_assert(crm->enabled);
    ck_assert_int_eq(crm->poll_interval_ms, 300000);
    ck_assert(json_is_object(crm->settings) && json_object_size(crm->settings) == 0);
    ck_assert_ptr_eq(config_instance_find(c, "crm"), crm);
    ck_assert_ptr_null(config_instance_find(c, "nope"));
    free(inbox_file);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_json_instance_file)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/stripe.json",
                  "{\"name\": \"billing\", \"plugin\": \"stripe\",\n"
                  " \"settings\": {\"key\": \"${K}\"}}\n");
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->instance_count, 1);
    ck_assert_str_eq(c->instances[0].name, "billing");
    ck_assert_int_eq(json_integer_value(json_object_get(c->instances[0].lines, "settings.key")), 2);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_dotfiles_data_dirs_and_other_files_are_ignored)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/real.yaml", "name: real\nplugin: gmail\n");
    tu_write_file(f.dir, "conf.d/.hidden.yaml", "not: [valid\n");
    tu_write_file(f.dir, "conf.d/..data/other.yaml", "not: [valid\n");
    tu_write_file(f.dir, "conf.d/README.md", "# notes\n");
    tu_write_file(f.dir, "conf.d/old.yaml.bak", "not: [valid\n");
    tu_write_file(f.dir, "conf.d/dir.yaml/inside.yaml", "not: [valid\n");
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->instance_count, 1);
    ck_assert_str_eq(c->instances[0].name, "real");
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_symlinked_files_are_loaded_like_a_configmap_mount)
{
    struct fixture f = setup(DB_LINE);
    /* What Kubernetes creates: conf.d/x.yaml -> ..data/x.yaml, ..data -> ..2026_11_27 */
    tu_write_file(f.dir, "conf.d/..2026_11_27/inbox.yaml", "name: inbox\nplugin: gmail\n");
    char *data = in_dir(&f, "conf.d/..data");
    char *link = in_dir(&f, "conf.d/inbox.yaml");
    ck_assert_int_eq(symlink("..2026_11_27", data), 0);
    ck_assert_int_eq(symlink("..data/inbox.yaml", link), 0);
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->instance_count, 1);
    ck_assert_str_eq(c->instances[0].name, "inbox");
    ck_assert_str_eq(c->instances[0].file, link);
    config_free(c);
    free(data);
    free(link);
    teardown(&f);
}
END_TEST

START_TEST(test_load_dangling_symlink_is_an_error)
{
    struct fixture f = setup(DB_LINE);
    char *link = in_dir(&f, "conf.d/gone.yaml");
    ck_assert_int_eq(symlink("..data/gone.yaml", link), 0);
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_str_eq(tc_expect(&diags, "cannot read file: No such file or directory")->file, link);
    diag_list_free(&diags);
    free(link);
    teardown(&f);
}
END_TEST

START_TEST(test_load_duplicate_instance_names_across_files_name_both_files)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: inbox\nplugin: gmail\n");
    tu_write_file(f.dir, "conf.d/b.yaml", "plugin: outlook\nname: inbox\n");
    char *a = in_dir(&f, "conf.d/a.yaml");
    char *b = in_dir(&f, "conf.d/b.yaml");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diags.count, 1);
    const struct diag *d = tc_expect(&diags, "instance name \"inbox\" is already used by");
    ck_assert_ptr_nonnull(strstr(d->message, a));
    ck_assert_str_eq(d->file, b);
    ck_assert_int_eq(d->line, 2);
    ck_assert_str_eq(d->key, "name");
    diag_list_free(&diags);
    free(a);
    free(b);
    teardown(&f);
}
END_TEST

START_TEST(test_load_invalid_instance_name_is_refused)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "plugin: gmail\nname: Sales Inbox\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "instance name \"Sales Inbox\" is not valid");
    ck_assert_int_eq(d->line, 2);
    ck_assert_str_eq(d->key, "name");
    ck_assert_ptr_nonnull(strstr(d->hint, "a-z, 0-9, _ and -"));
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_invalid_plugin_name_is_refused)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: Hub-Spot\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_str_eq(tc_expect(&diags, "plugin name \"Hub-Spot\" is not valid")->key, "plugin");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_instance_unknown_key_lists_allowed_keys)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: gmail\npoll_intervall: 1m\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "unknown key \"poll_intervall\"");
    ck_assert_int_eq(d->line, 3);
    ck_assert_str_eq(d->hint, "did you mean \"poll_interval\"? allowed keys: name, plugin, "
                              "enabled, poll_interval, settings");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_empty_instance_file_reports_missing_name_and_plugin)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/empty.yaml", "");
    char *path = in_dir(&f, "conf.d/empty.yaml");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diags.count, 2);
    const struct diag *d = tc_expect(&diags, "missing required key \"name\"");
    ck_assert_str_eq(d->file, path);
    ck_assert_ptr_nonnull(d->hint);
    ck_assert_str_eq(tc_expect(&diags, "missing required key \"plugin\"")->file, path);
    diag_list_free(&diags);
    free(path);
    teardown(&f);
}
END_TEST

START_TEST(test_load_instance_poll_interval_below_minimum)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: gmail\npoll_interval: 100ms\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "must be at least 1s, got 100ms");
    ck_assert_str_eq(d->key, "poll_interval");
    ck_assert_int_eq(d->line, 3);
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_instance_settings_must_be_a_mapping)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: gmail\nsettings: [x]\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "expected a mapping, got a list");
    ck_assert_str_eq(d->key, "settings");
    ck_assert_int_eq(d->line, 3);
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_syntax_error_in_instance_file_names_file_and_line)
{
    struct fixture f = setup(DB_LINE);
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: gmail\nsettings:\n  x: [1, 2\n");
    char *path = in_dir(&f, "conf.d/a.yaml");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "YAML syntax error");
    ck_assert_str_eq(d->file, path);
    ck_assert_int_eq(d->line, 5);
    diag_list_free(&diags);
    free(path);
    teardown(&f);
}
END_TEST

START_TEST(test_load_collects_errors_from_every_file_in_one_run)
{
    struct fixture f = setup(DB_LINE "colour: red\n");
    tu_write_file(f.dir, "conf.d/a.yaml", "name: a\nplugin: gmail\nsettings: {x: [1\n");
    tu_write_file(f.dir, "conf.d/b.yaml", "name: b\nplugin: gmail\nenabled: maybe\n");
    tu_write_file(f.dir, "conf.d/c.yaml", "name: c\nplugin: gmail\n");
    tu_write_file(f.dir, "conf.d/d.yaml", "name: c\nplugin: gmail\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diag_error_count(&diags), 4);
    tc_expect(&diags, "unknown key \"colour\"");
    tc_expect(&diags, "YAML syntax error");
    tc_expect(&diags, "expected true or false, got \"maybe\"");
    tc_expect(&diags, "instance name \"c\" is already used by");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_api_token_defaults_to_read_scope)
{
    setenv("LH_TEST_TOKEN", "tok-abc-5a4b3c2d1e", 1);
    struct fixture f = setup(DB_LINE "api:\n  tokens:\n    - name: dashboard\n"
                                     "      token: ${LH_TEST_TOKEN}\n");
    struct config *c = load_ok(f.main);
    ck_assert_uint_eq(c->token_count, 1);
    ck_assert_str_eq(c->tokens[0].token, "tok-abc-5a4b3c2d1e");
    ck_assert_uint_eq(c->tokens[0].scopes, CONFIG_SCOPE_READ);
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_api_token_literal_is_refused_without_leaking_it)
{
    struct fixture f = setup(DB_LINE "api:\n  tokens:\n    - name: dashboard\n"
                                     "      token: lh_tok_9f8e7d6c5b4a\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "a secret must come from a reference");
    ck_assert_str_eq(d->key, "api.tokens[0].token");
    ck_assert_int_eq(d->line, 5);
    tc_assert_not_printed(&diags, "lh_tok_9f8e7d6c5b4a");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_api_token_unknown_scope_and_duplicate_name)
{
    setenv("LH_TEST_TOKEN", "tok-abc-5a4b3c2d1e", 1);
    struct fixture f = setup(DB_LINE "api:\n  tokens:\n"
                                     "    - {name: ops, token: \"${LH_TEST_TOKEN}\"}\n"
                                     "    - {name: ops, token: \"${LH_TEST_TOKEN}\", "
                                     "scopes: [read, wirte]}\n"
                                     "    - {token: \"${LH_TEST_TOKEN}\"}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diag_error_count(&diags), 3);
    const struct diag *d = tc_expect(&diags, "unknown scope \"wirte\"");
    ck_assert_str_eq(d->key, "api.tokens[1].scopes[1]");
    ck_assert_str_eq(d->hint, "did you mean \"write\"? allowed scopes: read, write, admin");
    ck_assert_str_eq(tc_expect(&diags, "token name \"ops\" is used twice")->key,
                     "api.tokens[1].name");
    ck_assert_str_eq(tc_expect(&diags, "missing required key \"name\"")->key, "api.tokens[2].name");
    tc_assert_not_printed(&diags, "tok-abc-5a4b3c2d1e");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_api_token_empty_short_or_unsendable_is_refused_without_leaking_it)
{
    setenv("LH_TEST_EMPTY", "", 1);
    setenv("LH_TEST_SHORT", "changeme", 1);
    setenv("LH_TEST_SPACED", "a long token with spaces", 1);
    setenv("LH_TEST_GOOD", "0123456789abcdef", 1);
    struct fixture f = setup(DB_LINE "api:\n  tokens:\n"
                                     "    - {name: empty, token: \"${LH_TEST_EMPTY}\"}\n"
                                     "    - {name: short, token: \"${LH_TEST_SHORT}\"}\n"
                                     "    - {name: spaced, token: \"${LH_TEST_SPACED}\"}\n"
                                     "    - {name: good, token: \"${LH_TEST_GOOD}\"}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    /* 16 characters is enough; each of the others is named with the fix */
    ck_assert_uint_eq(diag_error_count(&diags), 3);
    const struct diag *d = tc_expect(&diags, "${LH_TEST_EMPTY} resolves to an empty value");
    ck_assert_str_eq(d->key, "api.tokens[0].token");
    d = tc_expect(&diags, "${LH_TEST_SHORT} resolves to 8 bytes; this secret needs at least 16");
    ck_assert_str_eq(d->key, "api.tokens[1].token");
    ck_assert_ptr_nonnull(strstr(d->hint, "openssl rand -hex 32"));
    ck_assert_str_eq(tc_expect(&diags, "a space or a control character")->key,
                     "api.tokens[2].token");
    tc_assert_not_printed(&diags, "changeme");
    tc_assert_not_printed(&diags, "with spaces");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_database_url_credentials_are_never_printed)
{
    struct fixture f = setup("database_url: postgres://leadhub:pa55word@db/leadhub\n"
                             "listen: nonsense\n"
                             "http: {threads: -1}\n");
    struct diag_list diags = {0};
    load_fails(f.main, &diags);
    ck_assert_uint_eq(diag_error_count(&diags), 2);
    tc_assert_not_printed(&diags, "pa55word");
    diag_list_free(&diags);
    teardown(&f);
}
END_TEST

START_TEST(test_load_secrets_key_one_or_a_list_builds_the_keyring)
{
    setenv("LH_TEST_KEY_NEW", "Zm9yIHRlc3RzIG9ubHk6IHRoaXJ0eS10d28gYnl0ZXM=", 1);
    setenv("LH_TEST_KEY_OLD", "q4Fq0wV0m0Xy1M3c8HcYl2qgkq7oR6y4mC3cW0b2bFQ=\n", 1);
    struct fixture none = setup(DB_LINE);
    struct config *c = load_ok(none.main);
    ck_assert_ptr_null(c->keyring);
    ck_assert_ptr_null(c->oauth_redirect_url);
    config_free(c);
    teardown(&none);

    struct fixture f =
        setup(DB_LINE "secrets_key: [\"${LH_TEST_KEY_NEW}\", "
                      "\"${LH_TEST_KEY_OLD}\"]\n"
                      "oauth: {redirect_url: https://hub.example.com/oauth/callback}\n");
    c = load_ok(f.main);
    ck_assert_ptr_nonnull(c->keyring);
    char *ids = seal_keyring_ids(c->keyring);
    ck_assert_uint_eq(strlen(ids), 2 * SEAL_KEY_ID_LEN + 2);
    ck_assert(strncmp(ids, seal_keyring_current_id(c->keyring), SEAL_KEY_ID_LEN) == 0);
    free(ids);
    ck_assert_str_eq(c->oauth_redirect_url, "https://hub.example.com/oauth/callback");
    config_free(c);
    teardown(&f);
}
END_TEST

START_TEST(test_load_secrets_key_literal_short_or_repeated_is_refused_without_leaking_it)
{
    setenv("LH_TEST_KEY_SHORT", "c2hvcnQta2V5", 1);
    setenv("LH_TEST_KEY_NEW", "Zm9yIHRlc3RzIG9ubHk6IHRoaXJ0eS10d28gYnl0ZXM=", 1);
    struct fixture literal = setup(DB_LINE "secrets_key: c2hvcnQta2V5aGVyZQ==\n");
    struct diag_list diags = {0};
    load_fails(literal.main, &diags);
    ck_assert_str_eq(tc_expect(&diags, "a secret must come from a reference")->key, "secrets_key");
    tc_assert_not_printed(&diags, "c2hvcnQta2V5aGVyZQ==");
    diag_list_free(&diags);
    teardown(&literal);

    struct fixture f = setup(DB_LINE "secrets_key:\n  - ${LH_TEST_KEY_NEW}\n"
                                     "  - ${LH_TEST_KEY_SHORT}\n");
    load_fails(f.main, &diags);
    const struct diag *d = tc_expect(&diags, "not a 32-byte key");
    ck_assert_str_eq(d->key, "secrets_key[1]");
    ck_assert_int_eq(d->line, 4);
    ck_assert_ptr_nonnull(strstr(d->hint, "openssl rand -base64 32"));
    tc_assert_not_printed(&diags, "c2hvcnQta2V5");
    tc_assert_not_printed(&diags, "Zm9yIHRlc3Rz");
    diag_list_free(&diags);
    teardown(&f);

    struct fixture twice = setup(DB_LINE "secrets_key: [\"${LH_TEST_KEY_NEW}\", "
                                         "\"${LH_TEST_KEY_NEW}\"]\n");
    load_fails(twice.main, &diags);
    ck_assert_str_eq(tc_expect(&diags, "the same key is given twice")->key, "secrets_key[1]");
    diag_list_free(&diags);
    teardown(&twice);
}
END_TEST

START_TEST(test_load_oauth_redirect_url_must_be_a_plain_http_url)
{
    const char *bad[] = {"/oauth/callback", "ftp://hub.example.com/cb",
                         "https://hub.example.com/cb?x=1", "https:///cb"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(bad); i++) {
        char *text = util_printf(DB_LINE "oauth:\n  redirect_url: \"%s\"\n", bad[i]);
        struct fixture f = setup(text);
        struct diag_list diags = {0};
        load_fails(f.main, &diags);
        const struct diag *d = tc_expect(&diags, "is not an http(s) URL");
        ck_assert_str_eq(d->key, "oauth.redirect_url");
        diag_list_free(&diags);
        teardown(&f);
        free(text);
    }
}
END_TEST

TC_RUN_SUITE("config", test_load_minimal_main_file_fills_every_default,
             test_load_console_dir_resolves_from_the_main_file_and_refuses_empty,
             test_load_every_main_key_is_read, test_load_json_main_file_accepted,
             test_load_json_main_file_errors_name_the_line,
             test_load_empty_main_file_takes_database_url_from_environment,
             test_load_database_url_unset_is_an_error, test_load_database_url_reference_is_resolved,
             test_load_unknown_main_key_lists_allowed_keys,
             test_load_unknown_section_key_names_its_path,
             test_load_wrong_types_and_ranges_in_main_file, test_load_empty_sections_take_defaults,
             test_load_http_budgets_that_cannot_work_are_refused,
             test_load_main_file_must_be_a_mapping, test_load_missing_main_file_is_an_error,
             test_load_listen_forms, test_load_listen_invalid_forms_are_refused,
             test_load_relative_paths_resolve_against_the_main_file_directory,
             test_load_missing_connectors_dir_is_an_error,
             test_load_instances_sorted_by_file_name_with_defaults, test_load_json_instance_file,
             test_load_dotfiles_data_dirs_and_other_files_are_ignored,
             test_load_symlinked_files_are_loaded_like_a_configmap_mount,
             test_load_dangling_symlink_is_an_error,
             test_load_duplicate_instance_names_across_files_name_both_files,
             test_load_invalid_instance_name_is_refused, test_load_invalid_plugin_name_is_refused,
             test_load_instance_unknown_key_lists_allowed_keys,
             test_load_empty_instance_file_reports_missing_name_and_plugin,
             test_load_instance_poll_interval_below_minimum,
             test_load_instance_settings_must_be_a_mapping,
             test_load_syntax_error_in_instance_file_names_file_and_line,
             test_load_collects_errors_from_every_file_in_one_run,
             test_load_api_token_defaults_to_read_scope,
             test_load_api_token_literal_is_refused_without_leaking_it,
             test_load_api_token_unknown_scope_and_duplicate_name,
             test_load_api_token_empty_short_or_unsendable_is_refused_without_leaking_it,
             test_load_database_url_credentials_are_never_printed,
             test_load_secrets_key_one_or_a_list_builds_the_keyring,
             test_load_secrets_key_literal_short_or_repeated_is_refused_without_leaking_it,
             test_load_oauth_redirect_url_must_be_a_plain_http_url)
