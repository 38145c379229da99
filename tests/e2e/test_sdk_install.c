/*
 * test_sdk_install.c - the SDK as a plugin author meets it: `make install` into a fresh
 * prefix, build sdk/examples/hello/hello.c outside the source tree with nothing but the
 * installed header and pkg-config, and have the installed leadhubd list it. Also: every
 * plugin the tree builds exports exactly one symbol.
 */
#include <check.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon_harness.h"
#include "leadhub.h"
#include "loader.h"
#include "testutil.h"
#include "util.h"

/* Rebuilding from the test must use the flags the tree was built with, or make would mix
 * sanitized and plain objects in one link. */
#if defined(__SANITIZE_ADDRESS__)
#define MAKE_SANITIZE " SANITIZE=1"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MAKE_SANITIZE " SANITIZE=1"
#endif
#endif
#ifndef MAKE_SANITIZE
#define MAKE_SANITIZE ""
#define SAN_CFLAGS    ""
#else
/* an out-of-tree program linking the installed (sanitized) fake host links the runtime */
#define SAN_CFLAGS " -fsanitize=address,undefined"
#endif
#ifdef __clang__
#define MAKE_CC "clang"
#else
#define MAKE_CC "cc"
#endif

/* Set up once for the test case (an unchecked fixture, in the parent process): tests
 * only read it. */
static struct {
    char *prefix;     /* the install prefix */
    char *plugin_dir; /* where hello.so was built, outside the source tree */
    int install_rc;   /* `make install` */
    char *install_output;
    int build_rc; /* compiling hello.c */
    char *build_output;
} sdk;

static char *absolute(const char *path)
{
    char *resolved = realpath(path, NULL);
    ck_assert_msg(resolved != NULL, "realpath %s", path);
    return resolved;
}

static void sdk_setup(void)
{
    char *source = absolute(tu_source_dir());
    char *build = absolute(tu_build_dir());
    sdk.prefix = tu_tmpdir();
    sdk.plugin_dir = tu_tmpdir();

    /* sanitized: the build under test is the sanitizer build, installed beside as
     * leadhubd-asan too (make install-asan, from the same objects) */
    char *install =
        util_printf("make -C '%s' --no-print-directory install PREFIX='%s' "
                    "BUILD='%s' CC=" MAKE_CC MAKE_SANITIZE "%s%s%s%s%s%s%s",
                    source, sdk.prefix, build, MAKE_SANITIZE[0] ? " && make -C '" : "",
                    MAKE_SANITIZE[0] ? source : "",
                    MAKE_SANITIZE[0] ? "' --no-print-directory install-asan PREFIX='" : "",
                    MAKE_SANITIZE[0] ? sdk.prefix : "", MAKE_SANITIZE[0] ? "' ASAN_BUILD='" : "",
                    MAKE_SANITIZE[0] ? build : "", MAKE_SANITIZE[0] ? "' CC=" MAKE_CC : "");
    sdk.install_rc = tu_run(install, &sdk.install_output);

    /* The author's command line: the installed SDK through pkg-config, nothing from the
     * source tree but the example's own file (copied out first). */
    char *compile = util_printf(
        "cp '%s/sdk/examples/hello/hello.c' '%s/' && cd '%s' && "
        "cc -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden -Wl,--no-undefined "
        "-o hello.so hello.c $(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags --libs "
        "leadhub-sdk)",
        source, sdk.plugin_dir, sdk.plugin_dir, sdk.prefix);
    sdk.build_rc = sdk.install_rc == 0 ? tu_run(compile, &sdk.build_output) : -1;

    free(compile);
    free(install);
    free(build);
    free(source);
}

static void sdk_teardown(void)
{
    tu_rmrf(sdk.plugin_dir);
    tu_rmrf(sdk.prefix);
    free(sdk.plugin_dir);
    free(sdk.prefix);
    free(sdk.install_output);
    free(sdk.build_output);
}

static void assert_example_built(void)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed (%d):\n%s", sdk.install_rc,
                  sdk.install_output);
    ck_assert_msg(sdk.build_rc == 0, "building hello.c failed (%d):\n%s", sdk.build_rc,
                  sdk.build_output != NULL ? sdk.build_output : "");
}

static void assert_contains(const char *text, const char *needle)
{
    ck_assert_msg(strstr(text, needle) != NULL, "expected \"%s\" in:\n%s", needle, text);
}

/* The defined dynamic symbols of a shared object, one per line, sorted. */
static char *exported_symbols(const char *path)
{
    char *command = util_printf("nm -D --defined-only '%s' | awk '{print $NF}' | sort", path);
    char *output = NULL;
    ck_assert_int_eq(tu_run(command, &output), 0);
    free(command);
    return output;
}

START_TEST(test_sdk_install_ships_header_daemon_and_pkg_config_file)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    const char *files[] = {"bin/leadhubd",
                           "include/leadhub.h",
                           "include/leadhub-helpers.h",
                           "include/leadhub/lh_cursor.h",
                           "include/leadhub/fake_http.h",
                           "include/leadhub-test.h",
                           "lib/libleadhub-test.a",
                           "lib/pkgconfig/leadhub-sdk.pc",
                           "lib/pkgconfig/leadhub-test.pc"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(files); i++) {
        char *path = tu_path(sdk.prefix, files[i]);
        ck_assert_msg(access(path, R_OK) == 0, "%s was not installed", path);
        free(path);
    }
    char *command = util_printf("export PKG_CONFIG_PATH='%s/lib/pkgconfig'; pkg-config --cflags "
                                "leadhub-sdk && pkg-config --variable=plugindir leadhub-sdk",
                                sdk.prefix);
    char *output = NULL;
    ck_assert_int_eq(tu_run(command, &output), 0);
    char *include_flag = util_printf("-I%s/include", sdk.prefix);
    char *plugindir = util_printf("%s/lib/leadhub/plugins", sdk.prefix);
    assert_contains(output, include_flag);
    assert_contains(output, plugindir);
    free(plugindir);
    free(include_flag);
    free(output);
    free(command);
}
END_TEST

/* The helpers as an author uses them: the installed header alone, strict ISO C without
 * _GNU_SOURCE, nothing to link but what pkg-config names. */
START_TEST(test_sdk_helpers_build_out_of_tree_with_strict_flags)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    char *dir = tu_tmpdir();
    tu_write_file(
        dir, "probe.c",
        "#include <stdio.h>\n"
        "#include <stdlib.h>\n"
        "#include <leadhub-helpers.h>\n"
        "int main(void)\n"
        "{\n"
        "    char when[LH_TIME_TEXT_SIZE], key[LH_KEY_SIZE];\n"
        "    lh_url_t url;\n"
        "    lh_url_init(&url, \"https://crm.example/v1\");\n"
        "    lh_url_add_path(&url, \"persons\");\n"
        "    lh_url_add_query(&url, \"since\", \"a b\");\n"
        "    char *text = lh_url_take(&url);\n"
        "    if (text == NULL || lh_time_normalize(\"Fri, 27 Nov 2026 10:00:00 +0100\",\n"
        "                                          NULL, when) != 0 ||\n"
        "        lh_key_hash_email(\"contact\", \"Ada@Example.com\", key, sizeof(key)) < 0) {\n"
        "        return 1;\n"
        "    }\n"
        "    printf(\"%s %s %s\\n\", text, when, key);\n"
        "    free(text);\n"
        "    return 0;\n"
        "}\n");
    char *command = util_printf(
        "cd '%s' && cc -std=c11 -pedantic -Wall -Wextra -Werror -Wshadow -Wconversion "
        "-Wno-sign-conversion -o probe probe.c "
        "$(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags --libs leadhub-sdk) && ./probe",
        dir, sdk.prefix);
    char *output = NULL;
    int rc = tu_run(command, &output);
    ck_assert_msg(rc == 0, "probe failed (%d):\n%s", rc, output);
    ck_assert_str_eq(output, "https://crm.example/v1/persons?since=a%20b "
                             "2026-11-27T09:00:00.000Z contact:b5fc85e55755f9e0d030a10ab4429b6b\n");
    free(output);
    free(command);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* The example's unit tests on the installed fake host, built as its comment says. */
START_TEST(test_sdk_fake_host_runs_the_examples_unit_tests_out_of_tree)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    char *dir = tu_tmpdir();
    char *source = realpath(tu_source_dir(), NULL);
    ck_assert_ptr_nonnull(source);
    char *command = util_printf(
        "cp '%s/sdk/examples/hello/hello.c' '%s/sdk/examples/hello/test_hello.c' '%s/' && "
        "cd '%s' && " MAKE_CC " -std=c11 -Wall -Wextra -Werror" SAN_CFLAGS
        " -o test_hello test_hello.c hello.c "
        "$(PKG_CONFIG_PATH='%s/lib/pkgconfig' pkg-config --cflags --libs leadhub-test) && "
        "./test_hello",
        source, source, dir, dir, sdk.prefix);
    char *output = NULL;
    int rc = tu_run(command, &output);
    ck_assert_msg(rc == 0, "test_hello failed (%d):\n%s", rc, output);
    ck_assert_str_eq(output, "ok\n");
    free(output);
    free(command);
    free(source);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* `leadhubd new-plugin` in an empty folder, then `make && make test` there, against the
 * installed SDK alone: every kind builds, loads, and passes the tests it was written with;
 * the source+sink one also passes `make e2e` (leadhub-dev, a throwaway PostgreSQL). */
START_TEST(test_new_plugin_skeletons_build_and_pass_their_tests_out_of_tree)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    const char *kinds[][2] = {{"demo", "source+sink"},
                              {"demo_source", "source"},
                              {"demo_sink", "sink"},
                              {"demo_scorer", "scorer"}};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(kinds); i++) {
        char *dir = tu_tmpdir();
        char *command = util_printf(
            "cd '%s' && '%s/bin/leadhubd' new-plugin %s --kind %s && cd %s && "
            "export PKG_CONFIG_PATH='%s/lib/pkgconfig' && make CC=" MAKE_CC MAKE_SANITIZE
            " && make test CC=" MAKE_CC MAKE_SANITIZE " && "
            "'%s/bin/leadhubd' plugins --plugin-path . && nm -D --defined-only %s.so%s",
            dir, sdk.prefix, kinds[i][0], kinds[i][1], kinds[i][0], sdk.prefix, sdk.prefix,
            kinds[i][0],
            /* the CRM kind end to end too: its fake provider, PostgreSQL and the daemon
             * through leadhub-dev */
            i == 0 ? " && make e2e CC=" MAKE_CC MAKE_SANITIZE : "");
        char *output = NULL;
        int rc = tu_run(command, &output);
        ck_assert_msg(rc == 0, "%s (%s) failed (%d):\n%s", kinds[i][0], kinds[i][1], rc, output);
        ck_assert_msg(strstr(output, "\nok\n") != NULL, "no test verdict:\n%s", output);
        ck_assert_msg(i != 0 || strstr(output, "e2e ok\n") != NULL, "no e2e verdict:\n%s", output);
        char *listed = util_printf("%s ", kinds[i][0]);
        assert_contains(output, listed);
        assert_contains(output, kinds[i][1]);
        free(listed);
        free(output);
        free(command);
        tu_rmrf(dir);
        free(dir);
    }
}
END_TEST

START_TEST(test_new_plugin_refuses_a_used_folder_a_bad_name_and_a_bad_kind)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    char *dir = tu_tmpdir();
    tu_write_file(dir, "demo/keep.txt", "mine\n");
    struct {
        const char *args;
        int rc;
        const char *says;
    } cases[] = {
        {"new-plugin demo --kind source", 1, "exists and is not empty"},
        {"new-plugin Demo --kind source", 2, "is not a plugin name"},
        {"new-plugin other --kind crm", 2, "--kind must be"},
        {"new-plugin --kind sink", 2, "NAME is missing"},
    };
    for (size_t i = 0; i < UTIL_ARRAY_LEN(cases); i++) {
        char *command =
            util_printf("cd '%s' && '%s/bin/leadhubd' %s", dir, sdk.prefix, cases[i].args);
        char *output = NULL;
        ck_assert_int_eq(tu_run(command, &output), cases[i].rc);
        assert_contains(output, cases[i].says);
        free(output);
        free(command);
    }
    /* nothing was written over the folder in use */
    char *command = util_printf("ls -A '%s/demo'", dir);
    char *output = NULL;
    ck_assert_int_eq(tu_run(command, &output), 0);
    ck_assert_str_eq(output, "keep.txt\n");
    free(output);
    free(command);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/*
 * The sanitizer recipe of docs/sdk.md: a plugin built out of tree with `make SANITIZE=1`
 * runs in the sanitizer-built daemon (`make install-asan`: bin/leadhubd-asan), which stops
 * cleanly on SIGTERM. Under `make asan` both are sanitized; under `make test` the same
 * steps run unsanitized (a sanitized .so cannot load into a plain daemon).
 */
START_TEST(test_sanitized_daemon_runs_an_out_of_tree_plugin_and_exits_cleanly)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    char *dir = tu_tmpdir();
    char *command = util_printf(
        "cd '%s' && '%s/bin/leadhubd' new-plugin sanprobe --kind source+sink && cd sanprobe && "
        "PKG_CONFIG_PATH='%s/lib/pkgconfig' make CC=" MAKE_CC MAKE_SANITIZE,
        dir, sdk.prefix, sdk.prefix);
    char *output = NULL;
    int rc = tu_run(command, &output);
    ck_assert_msg(rc == 0, "building sanprobe failed (%d):\n%s", rc, output);
    free(output);
    free(command);

    struct test_daemon td;
    td_init(&td, NULL);
    td.binary =
        util_printf("%s/bin/%s", sdk.prefix, MAKE_SANITIZE[0] ? "leadhubd-asan" : "leadhubd");
    td.extra_plugin_dir = tu_path(dir, "sanprobe");
    setenv("SANPROBE_TOKEN", "sanprobe-token-5b3d8f60", 1);
    /* a provider that refuses connections: the poll fails and is retried, as in life */
    char *closed = util_printf("http://127.0.0.1:%d/v1", tu_free_port());
    char *instance = util_printf("name: crm\nplugin: sanprobe\npoll_interval: 1s\nsettings:\n"
                                 "  base_url: %s\n  token: ${SANPROBE_TOKEN}\n",
                                 closed);
    td_connector(&td, "crm", instance);
    ck_assert_int_eq(td_start(&td), 0);
    int64_t started = util_monotonic_ms();
    ck_assert_int_eq(td_stop(&td), 0);
    /* stopped within the shutdown grace, not hung in a library's destructor */
    ck_assert_int_lt(util_monotonic_ms() - started, 15000);
    char *log = td_log(&td);
    ck_assert_msg(strstr(log, "AddressSanitizer") == NULL && strstr(log, "runtime error") == NULL,
                  "sanitizer report:\n%s", log);
    assert_contains(log, "sanprobe");
    free(log);
    free(instance);
    free(closed);
    td_cleanup(&td);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* leadhub-dev as installed, with the installed webhook plugin: a signed post is stored, a
 * wrongly signed one refused, and the session stops cleanly. */
START_TEST(test_leadhub_dev_runs_a_session_and_posts_signed_webhooks)
{
    ck_assert_msg(sdk.install_rc == 0, "make install failed:\n%s", sdk.install_output);
    char *dir = tu_tmpdir();
    tu_write_file(dir, "conf.d/inbound.yaml",
                  "name: inbound\nplugin: webhook\nsettings:\n  secret: ${DEV_INBOUND_SECRET}\n");
    char *command = util_printf(
        "cd '%s' && chmod 755 . && export DEV_INBOUND_SECRET=dev-secret-5b3d8f60a1 && "
        "dev='%s/bin/leadhub-dev' && \"$dev\" up --instances conf.d%s >/dev/null && "
        "echo '{\"type\":\"lead.created\",\"source_id\":\"f-1\",\"occurred_at\":"
        "\"2026-11-27T10:00:00Z\",\"lead\":{\"email\":\"Ada@Example.com\"}}' > ev.json && "
        "\"$dev\" post inbound ev.json --secret \"$DEV_INBOUND_SECRET\" && "
        "\"$dev\" post inbound ev.json --secret wrong-secret-0000 && "
        "\"$dev\" wait-events --source inbound --count 1 --timeout 60 && "
        "\"$dev\" down --clean",
        dir, sdk.prefix, MAKE_SANITIZE[0] ? " --asan" : "");
    char *output = NULL;
    int rc = tu_run(command, &output);
    ck_assert_msg(rc == 0, "leadhub-dev failed (%d):\n%s", rc, output);
    assert_contains(output, "200\n{\"accepted\":1");
    assert_contains(output, "401\n");
    assert_contains(output, "\"email\": \"ada@example.com\"");
    free(output);
    free(command);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_sdk_example_builds_out_of_tree_and_exports_only_its_entry)
{
    assert_example_built();
    char *path = tu_path(sdk.plugin_dir, "hello.so");
    char *symbols = exported_symbols(path);

    ck_assert_str_eq(symbols, LH_ENTRY_SYMBOL "\n");
    free(symbols);
    free(path);
}
END_TEST

START_TEST(test_installed_leadhubd_lists_the_example_with_kind_version_and_abi)
{
    assert_example_built();
    char *command =
        util_printf("'%s/bin/leadhubd' plugins --plugin-path '%s'", sdk.prefix, sdk.plugin_dir);
    char *output = NULL;

    int rc = tu_run(command, &output);

    ck_assert_msg(rc == 0, "leadhubd plugins exited %d:\n%s", rc, output);
    char *row = strstr(output, "\nhello ");
    ck_assert_msg(row != NULL, "no row for hello in:\n%s", output);
    char name[64], kind[64], version[64], abi[64], file[PATH_MAX];
    ck_assert_int_eq(sscanf(row + 1, "%63s %63s %63s %63s %4095s", name, kind, version, abi, file),
                     5);
    ck_assert_str_eq(kind, "source");
    ck_assert_str_eq(version, "1.0.0");
    char *expected_abi = util_printf("%d.%d", LH_ABI_MAJOR, LH_ABI_MINOR);
    ck_assert_str_eq(abi, expected_abi);
    free(expected_abi);
    char *expected_file = tu_path(sdk.plugin_dir, "hello.so");
    ck_assert_str_eq(file, expected_file);
    ck_assert_msg(strstr(output, "refused") == NULL, "unexpected refusal:\n%s", output);
    free(expected_file);
    free(output);
    free(command);
}
END_TEST

START_TEST(test_installed_leadhubd_documents_the_example_settings)
{
    assert_example_built();
    char *command = util_printf("'%s/bin/leadhubd' plugins info hello --plugin-path '%s'",
                                sdk.prefix, sdk.plugin_dir);
    char *output = NULL;

    int rc = tu_run(command, &output);

    ck_assert_msg(rc == 0, "leadhubd plugins info exited %d:\n%s", rc, output);
    assert_contains(output, "callbacks:   validate, init, destroy, webhook");
    assert_contains(output, "company");
    assert_contains(output, "lowercase_email");
    free(output);
    free(command);
}
END_TEST

/* With no --plugin-path and no config, an installed leadhubd looks in
 * PREFIX/lib/leadhub/plugins. */
START_TEST(test_installed_leadhubd_finds_plugins_in_its_lib_directory_by_default)
{
    assert_example_built();
    char *empty_cwd = tu_tmpdir(); /* no config/leadhub.yaml here */
    char *command = util_printf("cp '%s/hello.so' '%s/lib/leadhub/plugins/' && cd '%s' && "
                                "'%s/bin/leadhubd' plugins",
                                sdk.plugin_dir, sdk.prefix, empty_cwd, sdk.prefix);
    char *output = NULL;

    int rc = tu_run(command, &output);

    ck_assert_msg(rc == 0, "leadhubd plugins exited %d:\n%s", rc, output);
    char *installed = util_printf("%s/lib/leadhub/plugins/hello.so", sdk.prefix);
    assert_contains(output, installed);
    free(installed);
    free(output);
    free(command);
    tu_rmrf(empty_cwd);
    free(empty_cwd);
}
END_TEST

/* --- the example's behaviour, through a minimal fake host ------------------------------ */

struct fake_call {
    json_t *emitted; /* the events emit() received (it steals them) */
    char error[256];
};

static struct fake_call *fake_call_of(lh_ctx_t *ctx)
{
    return (struct fake_call *)ctx;
}

static void fake_log(lh_ctx_t *ctx, lh_log_level_t level, const char *fmt, ...)
{
    (void)ctx, (void)level, (void)fmt;
}

static void fake_set_error(lh_ctx_t *ctx, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(fake_call_of(ctx)->error, sizeof(fake_call_of(ctx)->error), fmt, args);
    va_end(args);
}

static lh_status_t fake_emit(lh_ctx_t *ctx, json_t *event)
{
    json_array_append_new(fake_call_of(ctx)->emitted, event);
    return LH_OK;
}

static int64_t fake_now_ms(lh_ctx_t *ctx)
{
    (void)ctx;
    return 1796151746000; /* 2026-12-01T19:02:26Z */
}

static lh_status_t post_to_hello(const lh_plugin_t *desc, const char *settings_json,
                                 const char *body, struct fake_call *call)
{
    lh_host_t host = {.struct_size = sizeof(lh_host_t),
                      .abi_major = LH_ABI_MAJOR,
                      .abi_minor = LH_ABI_MINOR,
                      .log = fake_log,
                      .set_error = fake_set_error,
                      .emit = fake_emit,
                      .now_ms = fake_now_ms};
    json_t *settings = json_loads(settings_json, 0, NULL);
    ck_assert_ptr_nonnull(settings);
    void *state = NULL;
    ck_assert_int_eq(desc->init((lh_ctx_t *)call, &host, settings, &state), LH_OK);
    json_decref(settings);
    lh_webhook_request_t request = {.struct_size = sizeof(lh_webhook_request_t),
                                    .method = "POST",
                                    .path = "/webhooks/form",
                                    .query = "",
                                    .body = (const unsigned char *)body,
                                    .body_len = strlen(body),
                                    .remote_addr = "127.0.0.1"};
    lh_status_t status = desc->webhook(state, (lh_ctx_t *)call, &request);
    desc->destroy(state);
    return status;
}

START_TEST(test_sdk_example_emits_one_lead_created_per_webhook)
{
    assert_example_built();
    char *path = tu_path(sdk.plugin_dir, "hello.so");
    struct plugin_registry reg = {0};
    ck_assert_int_eq(loader_load_file(&reg, path), 0);
    struct fake_call call = {.emitted = json_array()};

    lh_status_t status = post_to_hello(reg.plugins[0].desc, "{\"company\": \"Acme\"}",
                                       "{\"email\": \"Ada@Example.com\"}", &call);

    ck_assert_int_eq(status, LH_OK);
    ck_assert_uint_eq(json_array_size(call.emitted), 1);
    json_t *event = json_array_get(call.emitted, 0);
    ck_assert_str_eq(json_string_value(json_object_get(event, "type")), "lead.created");
    ck_assert_str_eq(json_string_value(json_object_get(event, "source_id")), "ada@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(event, "occurred_at")),
                     "2026-12-01T19:02:26Z");
    json_t *lead = json_object_get(event, "lead");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "email")), "ada@example.com");
    ck_assert_str_eq(json_string_value(json_object_get(lead, "company")), "Acme");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(event, "raw"), "email")),
                     "Ada@Example.com");
    json_decref(call.emitted);
    loader_free(&reg);
    free(path);
}
END_TEST

START_TEST(test_sdk_example_rejects_a_body_without_email_as_permanent)
{
    assert_example_built();
    char *path = tu_path(sdk.plugin_dir, "hello.so");
    struct plugin_registry reg = {0};
    ck_assert_int_eq(loader_load_file(&reg, path), 0);
    struct fake_call call = {.emitted = json_array()};

    lh_status_t status = post_to_hello(reg.plugins[0].desc, "{}", "{\"name\": \"Ada\"}", &call);

    ck_assert_int_eq(status, LH_PERMANENT);
    ck_assert_uint_eq(json_array_size(call.emitted), 0);
    assert_contains(call.error, "\"email\"");
    json_decref(call.emitted);
    loader_free(&reg);
    free(path);
}
END_TEST

/* --- the tree's own plugins -------------------------------------------------------------- */

START_TEST(test_every_built_plugin_exports_exactly_its_entry)
{
    char *pattern = util_printf("%s/plugins/*.so", tu_build_dir());
    glob_t found;
    int rc = glob(pattern, 0, NULL, &found);
    ck_assert_msg(rc == 0 || rc == GLOB_NOMATCH, "glob %s failed", pattern);
    for (size_t i = 0; rc == 0 && i < found.gl_pathc; i++) {
        char *symbols = exported_symbols(found.gl_pathv[i]);
        ck_assert_msg(strcmp(symbols, LH_ENTRY_SYMBOL "\n") == 0,
                      "%s must export only " LH_ENTRY_SYMBOL " (build it with "
                      "-fvisibility=hidden); it exports:\n%s",
                      found.gl_pathv[i], symbols);
        free(symbols);
    }
    if (rc == 0) {
        globfree(&found);
    }
    free(pattern);
}
END_TEST

static Suite *sdk_suite(void)
{
    Suite *s = suite_create("sdk install");
    TCase *installed = tcase_create("installed sdk");
    tcase_add_unchecked_fixture(installed, sdk_setup, sdk_teardown);
    tcase_set_timeout(installed, 600); /* make install may have to build the tree */
    tcase_add_test(installed, test_sdk_install_ships_header_daemon_and_pkg_config_file);
    tcase_add_test(installed, test_sdk_helpers_build_out_of_tree_with_strict_flags);
    tcase_add_test(installed, test_sdk_fake_host_runs_the_examples_unit_tests_out_of_tree);
    tcase_add_test(installed, test_new_plugin_skeletons_build_and_pass_their_tests_out_of_tree);
    tcase_add_test(installed, test_new_plugin_refuses_a_used_folder_a_bad_name_and_a_bad_kind);
    tcase_add_test(installed, test_sanitized_daemon_runs_an_out_of_tree_plugin_and_exits_cleanly);
    tcase_add_test(installed, test_leadhub_dev_runs_a_session_and_posts_signed_webhooks);
    tcase_add_test(installed, test_sdk_example_builds_out_of_tree_and_exports_only_its_entry);
    tcase_add_test(installed, test_installed_leadhubd_lists_the_example_with_kind_version_and_abi);
    tcase_add_test(installed, test_installed_leadhubd_documents_the_example_settings);
    tcase_add_test(installed,
                   test_installed_leadhubd_finds_plugins_in_its_lib_directory_by_default);
    tcase_add_test(installed, test_sdk_example_emits_one_lead_created_per_webhook);
    tcase_add_test(installed, test_sdk_example_rejects_a_body_without_email_as_permanent);
    suite_add_tcase(s, installed);

    TCase *tree = tcase_create("tree plugins");
    tcase_add_test(tree, test_every_built_plugin_exports_exactly_its_entry);
    suite_add_tcase(s, tree);
    return s;
}

int main(void)
{
    return tu_run_suite(sdk_suite());
}
