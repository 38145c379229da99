/*
 * test_loader.c - the plugin loader: what it accepts, and how it refuses each kind of broken
 * plugin (message, detail and hint) without calling the plugin. The fixtures are built
 * from tests/fixtures/plugins/, one .so per .c file; their callbacks abort() if called.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "testutil.h"
#include "util.h"

/* build/tests/fixtures/NAME.so, malloc'd. */
static char *fixture_path(const char *name)
{
    char *path = util_printf("%s/tests/fixtures/%s.so", tu_build_dir(), name);
    ck_assert_ptr_nonnull(path);
    ck_assert_msg(access(path, R_OK) == 0, "fixture %s is missing: run `make tests`", path);
    return path;
}

/* Copies the first `limit` bytes of src (all of it when limit is 0) to dir/name. */
static void copy_file(const char *src, const char *dir, const char *name, size_t limit)
{
    size_t len;
    char *data = util_read_file(src, 64 * 1024 * 1024, &len);
    ck_assert_msg(data != NULL, "read %s: %s", src, strerror(errno));
    char *dst = tu_path(dir, name);
    FILE *f = fopen(dst, "wb");
    ck_assert_msg(f != NULL, "fopen %s: %s", dst, strerror(errno));
    size_t n = limit != 0 && limit < len ? limit : len;
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
    free(dst);
    free(data);
}

static void assert_contains(const char *what, const char *text, const char *needle)
{
    ck_assert_msg(text != NULL, "%s is NULL, expected it to contain \"%s\"", what, needle);
    ck_assert_msg(strstr(text, needle) != NULL, "%s \"%s\" does not contain \"%s\"", what, text,
                  needle);
}

/* Loads fixture `name` into reg and checks it was refused, alone, under `refused_name`,
 * with a diagnostic about the file. Returns the refusal. */
static const struct plugin_refusal *refuse_fixture(struct plugin_registry *reg, const char *name,
                                                   const char *refused_name)
{
    char *path = fixture_path(name);
    ck_assert_int_eq(loader_load_file(reg, path), -1);
    ck_assert_uint_eq(reg->count, 0);
    ck_assert_uint_eq(reg->refused_count, 1);
    const struct plugin_refusal *r = &reg->refused[0];
    ck_assert_str_eq(r->path, path);
    ck_assert_str_eq(r->name, refused_name);
    ck_assert_int_eq(r->diag.severity, DIAG_ERROR);
    ck_assert_str_eq(r->diag.file, path);
    assert_contains("message", r->diag.message, path);
    ck_assert_ptr_nonnull(r->diag.detail);
    ck_assert_ptr_nonnull(r->diag.hint);
    ck_assert_ptr_eq(loader_find_refused(reg, refused_name), r);
    free(path);
    return r;
}

/* --- what is not a loadable object -------------------------------------------------- */

START_TEST(test_loader_refuses_text_file_with_ldd_hint)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "x.so", "this is not a shared object\n");
    char *path = tu_path(dir, "x.so");
    struct plugin_registry reg = {0};

    ck_assert_int_eq(loader_load_file(&reg, path), -1);

    ck_assert_uint_eq(reg.count, 0);
    ck_assert_uint_eq(reg.refused_count, 1);
    const struct plugin_refusal *r = &reg.refused[0];
    ck_assert_str_eq(r->name, "x");
    char *message = util_printf("could not load plugin %s", path);
    ck_assert_str_eq(r->diag.message, message);
    assert_contains("detail (dlerror)", r->diag.detail, path);
    char *hint = util_printf("check it with `ldd %s` and `file %s`: it must be a shared object "
                             "built for this machine, with its libraries installed",
                             path, path);
    ck_assert_str_eq(r->diag.hint, hint);
    free(hint);
    free(message);
    loader_free(&reg);
    free(path);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_loader_refuses_truncated_shared_object)
{
    char *dir = tu_tmpdir();
    char *source = fixture_path("valid_source");
    copy_file(source, dir, "cut.so", 200);
    char *path = tu_path(dir, "cut.so");
    struct plugin_registry reg = {0};

    ck_assert_int_eq(loader_load_file(&reg, path), -1);

    ck_assert_uint_eq(reg.count, 0);
    ck_assert_uint_eq(reg.refused_count, 1);
    ck_assert_str_eq(reg.refused[0].name, "cut");
    assert_contains("message", reg.refused[0].diag.message, "could not load plugin");
    ck_assert_ptr_nonnull(reg.refused[0].diag.detail);
    assert_contains("hint", reg.refused[0].diag.hint, "ldd");
    loader_free(&reg);
    free(path);
    free(source);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_loader_refuses_plugin_that_needs_daemon_symbols)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "undefined_symbol", "undefined_symbol");
    assert_contains("message", r->diag.message, "could not load plugin");
    assert_contains("detail", r->diag.detail, "diag_error_count");
    loader_free(&reg);
}
END_TEST

/* --- the entry point ------------------------------------------------------------------- */

START_TEST(test_loader_refuses_missing_entry_symbol_with_declare_hint)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "no_entry", "no_entry");
    assert_contains("message", r->diag.message, "has no entry point");
    assert_contains("detail", r->diag.detail, LH_ENTRY_SYMBOL);
    ck_assert_str_eq(r->diag.hint, "declare the plugin with LH_PLUGIN_DECLARE(descriptor)");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_entry_that_is_a_data_symbol)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "data_entry", "data_entry");
    assert_contains("message", r->diag.message, "not a function");
    assert_contains("detail", r->diag.detail, "data symbol");
    assert_contains("hint", r->diag.hint, "LH_PLUGIN_DECLARE");
    loader_free(&reg);
}
END_TEST

/* A library that links against a plugin "finds" that plugin's entry through dlsym(): it
 * must not be loaded as that plugin. */
START_TEST(test_loader_refuses_entry_borrowed_from_a_linked_library)
{
    char *dir = tu_tmpdir();
    tu_write_file(dir, "shim.c", "int shim_marker(void);\nint shim_marker(void) { return 1; }\n");
    char *relative = util_printf("%s/tests/fixtures", tu_build_dir());
    char *fixtures = realpath(relative, NULL);
    ck_assert_ptr_nonnull(fixtures);
    free(relative);
    char *build = util_printf("cd '%s' && cc -shared -fPIC -o shim.so shim.c -Wl,--no-as-needed "
                              "'%s/valid_source.so' -Wl,-rpath,'%s'",
                              dir, fixtures, fixtures);
    char *output = NULL;
    ck_assert_msg(tu_run(build, &output) == 0, "building the shim failed:\n%s", output);
    char *path = tu_path(dir, "shim.so");
    struct plugin_registry reg = {0};

    ck_assert_int_eq(loader_load_file(&reg, path), -1);

    ck_assert_uint_eq(reg.count, 0);
    ck_assert_uint_eq(reg.refused_count, 1);
    ck_assert_str_eq(reg.refused[0].name, "shim");
    assert_contains("message", reg.refused[0].diag.message, "no entry point of its own");
    assert_contains("detail", reg.refused[0].diag.detail, "valid_source.so");
    loader_free(&reg);
    free(path);
    free(output);
    free(build);
    free(fixtures);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_loader_refuses_entry_returning_null)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "null_entry", "null_entry");
    assert_contains("message", r->diag.message, "returned no descriptor");
    assert_contains("detail", r->diag.detail, LH_ENTRY_SYMBOL "() returned NULL");
    assert_contains("hint", r->diag.hint, "LH_PLUGIN_DECLARE(descriptor)");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_descriptor_pointer_outside_the_plugin)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "wild_descriptor", "wild_descriptor");
    assert_contains("message", r->diag.message, "returned an invalid descriptor");
    assert_contains("detail", r->diag.detail, "not in the plugin's own object");
    loader_free(&reg);
}
END_TEST

/* --- the ABI ------------------------------------------------------------------------- */

START_TEST(test_loader_refuses_bad_magic_showing_both_values_in_hex)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "bad_magic", "bad_magic");
    assert_contains("message", r->diag.message, "bad magic number");
    assert_contains("detail", r->diag.detail, "expected magic 0x4c48504c");
    assert_contains("detail", r->diag.detail, "found 0x12345678");
    assert_contains("hint", r->diag.hint, "LH_PLUGIN_HEADER");
    loader_free(&reg);
}
END_TEST

/* The fixture's descriptor is 8 bytes long: under ASan, reading past abi_minor fails. */
START_TEST(test_loader_refuses_other_abi_major_reporting_only_the_major)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "abi_major_3", "abi_major_3");
    assert_contains("message", r->diag.message, "incompatible plugin ABI");
    ck_assert_str_eq(r->diag.detail, "built for plugin ABI 3.x; this leadhubd supports ABI 2.x");
    assert_contains("hint", r->diag.hint, "upgrade leadhub, or rebuild the plugin");
    loader_free(&reg);
}
END_TEST

/* A real ABI 1.0 descriptor: refused as another major, with the way to port it. Its name
 * ("abi_major_1" in the descriptor) is not read: past abi_minor, ABI 1's layout differs. */
START_TEST(test_loader_refuses_abi_1_plugin_with_a_porting_hint)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "abi_major_1", "abi_major_1");
    assert_contains("message", r->diag.message, "was built for an incompatible plugin ABI");
    ck_assert_str_eq(r->diag.detail, "built for plugin ABI 1.x; this leadhubd supports ABI 2.x");
    char *port = util_printf("port the plugin to leadhub.h %d.%d", LH_ABI_MAJOR, LH_ABI_MINOR);
    assert_contains("hint", r->diag.hint, port);
    free(port);
    assert_contains("hint", r->diag.hint, "Porting a plugin from ABI 1");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_newer_abi_minor_with_upgrade_hint)
{
    struct plugin_registry reg = {0};
    /* the name is not read from a descriptor of a newer minor: the file name is used */
    const struct plugin_refusal *r = refuse_fixture(&reg, "abi_minor_newer", "abi_minor_newer");
    assert_contains("message", r->diag.message, "needs a newer leadhubd");
    char *needs = util_printf("needs plugin ABI 2.5; this leadhubd supports %d.%d", LH_ABI_MAJOR,
                              LH_ABI_MINOR);
    ck_assert_str_eq(r->diag.detail, needs);
    free(needs);
    ck_assert_str_eq(r->diag.hint, "upgrade leadhub, or build the plugin against an older SDK");
    loader_free(&reg);
}
END_TEST

/* The fixture's descriptor is 16 bytes long: under ASan, reading past struct_size fails. */
START_TEST(test_loader_refuses_descriptor_smaller_than_its_minor_requires)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "small_struct", "small_struct");
    assert_contains("message", r->diag.message, "truncated descriptor");
    /* the fixture claims this header's minor, whose descriptor is still 2.0's */
    char *detail = util_printf("struct_size is 16 bytes; a descriptor of plugin ABI %d.%d has at "
                               "least %zu",
                               LH_ABI_MAJOR, LH_ABI_MINOR,
                               offsetof(lh_plugin_t, score) + sizeof(void (*)(void)));
    ck_assert_str_eq(r->diag.detail, detail);
    assert_contains("hint", r->diag.hint, "LH_PLUGIN_HEADER");
    free(detail);
    loader_free(&reg);
}
END_TEST

/* --- identity ------------------------------------------------------------------------ */

START_TEST(test_loader_refuses_missing_name_under_the_file_name)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "no_name", "no_name");
    assert_contains("message", r->diag.message, "has no name");
    assert_contains("hint", r->diag.hint, ".name");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_invalid_name_showing_it)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "bad_name", "bad_name");
    assert_contains("message", r->diag.message, "invalid name");
    assert_contains("detail", r->diag.detail, "\"Bad-Name\"");
    assert_contains("detail", r->diag.detail, "[a-z][a-z0-9_]*");
    assert_contains("hint", r->diag.hint, "lowercase letters, digits and underscores");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_missing_version_and_description_listing_both)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "no_version", "no_version");
    assert_contains("message", r->diag.message, "incomplete descriptor");
    ck_assert_str_eq(r->diag.detail, "missing: version, description");
    loader_free(&reg);
}
END_TEST

/* --- kind, flags, callbacks --------------------------------------------------------- */

START_TEST(test_loader_refuses_kind_zero)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "no_kind", "no_kind");
    assert_contains("message", r->diag.message, "invalid kind");
    assert_contains("detail", r->diag.detail, "kind is 0");
    assert_contains("hint", r->diag.hint, "LH_KIND_SOURCE");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_unknown_kind_bits)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "unknown_kind_bits", "unknown_kind_bits");
    assert_contains("message", r->diag.message, "invalid kind");
    assert_contains("detail", r->diag.detail, "unknown bits 0x20");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_scorer_combined_with_source)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "scorer_with_source", "scorer_with_source");
    assert_contains("message", r->diag.message, "invalid kind");
    assert_contains("detail", r->diag.detail, "LH_KIND_SCORER cannot be combined");
    assert_contains("hint", r->diag.hint, "two plugins");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_unknown_flags)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "unknown_flags", "unknown_flags");
    assert_contains("message", r->diag.message, "invalid flags");
    assert_contains("detail", r->diag.detail, "unknown bits 0x80");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_unknown_event_types)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "bad_event_types", "bad_event_types");
    assert_contains("message", r->diag.message, "invalid event_types");
    assert_contains("detail", r->diag.detail, "\"lead.exploded\" is not an event type");
    assert_contains("hint", r->diag.hint, "custom.<name>");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_source_without_poll_or_webhook_listing_what_is_missing)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "source_without_input", "source_without_input");
    assert_contains("message", r->diag.message, "lacks callbacks its kind requires");
    ck_assert_str_eq(r->diag.detail,
                     "a source plugin needs them; missing: destroy, poll or webhook");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_sink_without_deliver)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "sink_without_deliver", "sink_without_deliver");
    assert_contains("message", r->diag.message, "lacks callbacks its kind requires");
    ck_assert_str_eq(r->diag.detail, "a sink plugin needs them; missing: deliver or deliver_batch");
    assert_contains("hint", r->diag.hint, ".kind");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_scorer_without_score)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "scorer_without_score", "scorer_without_score");
    ck_assert_str_eq(r->diag.detail, "a scorer plugin needs them; missing: score");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_scorer_not_marked_reentrant)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "scorer_not_reentrant", "scorer_not_reentrant");
    assert_contains("message", r->diag.message, "is not marked reentrant");
    assert_contains("detail", r->diag.detail, "in parallel");
    assert_contains("hint", r->diag.hint, "LH_PLUGIN_REENTRANT");
    loader_free(&reg);
}
END_TEST

/* --- the config schema ---------------------------------------------------------------- */

START_TEST(test_loader_refuses_null_schema_showing_an_empty_one)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "null_schema", "null_schema");
    assert_contains("message", r->diag.message, "declares no config schema");
    assert_contains("detail", r->diag.detail, "config_schema is NULL");
    assert_contains("hint", r->diag.hint, "{ LH_FIELD_END }");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_enum_field_without_values)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "bad_schema_enum", "bad_schema_enum");
    assert_contains("message", r->diag.message, "malformed config schema");
    assert_contains("detail", r->diag.detail, "mode");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_an_oauth_provider_naming_an_unknown_setting)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "bad_oauth_provider", "bad_oauth_provider");
    assert_contains("message", r->diag.message, "invalid OAuth provider");
    assert_contains("detail", r->diag.detail,
                    "oauth_provider.token_url: {tennant} names no setting");
    assert_contains("hint", r->diag.hint, "OAuth consent");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_default_that_does_not_parse)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "bad_schema_default", "bad_schema_default");
    assert_contains("message", r->diag.message, "malformed config schema");
    assert_contains("detail", r->diag.detail, "page_size");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_schema_declaring_a_field_twice)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "dup_field", "dup_field");
    assert_contains("message", r->diag.message, "malformed config schema");
    assert_contains("detail", r->diag.detail, "api_url");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_schema_field_written_without_its_size)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "unsized_schema", "unsized_schema");
    assert_contains("message", r->diag.message, "malformed config schema");
    assert_contains("detail", r->diag.detail, "field 1 has struct_size 0");
    assert_contains("hint", r->diag.hint, "LH_FIELD(");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_nonzero_reserved_field)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r = refuse_fixture(&reg, "reserved_set", "reserved_set");
    assert_contains("message", r->diag.message, "sets a reserved descriptor field");
    ck_assert_str_eq(r->diag.detail, "reserved is 0x40; it must be zero");
    assert_contains("hint", r->diag.hint, "leave .reserved unset");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_signature_header_that_is_not_a_header_name)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "bad_signature_headers", "bad_signature_headers");
    assert_contains("message", r->diag.message, "invalid webhook_signature_headers");
    ck_assert_str_eq(r->diag.detail, "entry 1 is not a header name");
    loader_free(&reg);
}
END_TEST

START_TEST(test_loader_refuses_webhook_get_without_a_webhook)
{
    struct plugin_registry reg = {0};
    const struct plugin_refusal *r =
        refuse_fixture(&reg, "get_without_webhook", "get_without_webhook");
    assert_contains("message", r->diag.message, "has invalid flags");
    assert_contains("detail", r->diag.detail, "LH_PLUGIN_WEBHOOK_GET");
    loader_free(&reg);
}
END_TEST

/* --- acceptance, duplicates, scanning ---------------------------------------------------- */

START_TEST(test_loader_accepts_valid_source)
{
    char *path = fixture_path("valid_source");
    struct plugin_registry reg = {0};

    ck_assert_int_eq(loader_load_file(&reg, path), 0);

    ck_assert_uint_eq(reg.count, 1);
    ck_assert_uint_eq(reg.refused_count, 0);
    const struct plugin *p = loader_find(&reg, "valid_source");
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p->name, "valid_source");
    ck_assert_str_eq(p->path, path);
    ck_assert_ptr_nonnull(p->handle);
    ck_assert_str_eq(p->desc->version, "1.2.3");
    ck_assert_uint_eq(p->desc->kind, LH_KIND_SOURCE);
    ck_assert_uint_eq(p->desc->abi_major, LH_ABI_MAJOR);
    ck_assert_uint_eq(p->desc->abi_minor, LH_ABI_MINOR);
    /* the host reads a copy of its own size, and the schema through its own copy */
    ck_assert_ptr_eq(p->desc, p->desc_copy);
    ck_assert_ptr_eq(p->desc->config_schema, p->schema);
    ck_assert_str_eq(p->schema[0].name, "endpoint");
    ck_assert_uint_eq(p->schema[0].struct_size, sizeof(lh_config_field_t));
    ck_assert_ptr_null(p->schema[1].name);
    /* what the HTTP layer reads to refuse unsigned POSTs early */
    ck_assert_ptr_nonnull(p->webhook_signature_headers);
    ck_assert_str_eq(p->webhook_signature_headers[0], "X-Fixture-Signature");
    ck_assert_ptr_null(p->webhook_signature_headers[1]);
    loader_free(&reg);
    free(path);
}
END_TEST

START_TEST(test_loader_accepts_sink_with_deliver_batch_and_reentrant_scorer)
{
    char *sink = fixture_path("valid_sink");
    char *scorer = fixture_path("valid_scorer");
    struct plugin_registry reg = {0};

    ck_assert_int_eq(loader_load_file(&reg, sink), 0);
    ck_assert_int_eq(loader_load_file(&reg, scorer), 0);

    ck_assert_uint_eq(reg.count, 2);
    ck_assert_uint_eq(reg.refused_count, 0);
    ck_assert_str_eq(loader_kind_name(loader_find(&reg, "valid_sink")->desc->kind), "sink");
    ck_assert_str_eq(loader_kind_name(loader_find(&reg, "valid_scorer")->desc->kind), "scorer");
    loader_free(&reg);
    free(scorer);
    free(sink);
}
END_TEST

START_TEST(test_loader_refuses_duplicate_name_naming_the_first_file)
{
    char *first_dir = tu_tmpdir();
    char *second_dir = tu_tmpdir();
    char *source = fixture_path("valid_source");
    copy_file(source, first_dir, "valid_source.so", 0);
    copy_file(source, second_dir, "other_file_name.so", 0);
    char *dirs[] = {first_dir, second_dir};
    struct plugin_registry reg = {0};

    ck_assert_uint_eq(loader_scan(&reg, dirs, 2), 1);

    ck_assert_uint_eq(reg.count, 1);
    char *first = tu_path(first_dir, "valid_source.so");
    char *second = tu_path(second_dir, "other_file_name.so");
    ck_assert_str_eq(reg.plugins[0].path, first);
    ck_assert_uint_eq(reg.refused_count, 1);
    const struct plugin_refusal *r = loader_find_refused(&reg, "valid_source");
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->path, second);
    assert_contains("message", r->diag.message, "has the name of another plugin");
    assert_contains("detail", r->diag.detail, first);
    assert_contains("hint", r->diag.hint, "remove one of the two files");
    loader_free(&reg);
    free(second);
    free(first);
    free(source);
    tu_rmrf(second_dir);
    tu_rmrf(first_dir);
    free(second_dir);
    free(first_dir);
}
END_TEST

START_TEST(test_loader_scan_loads_in_file_name_order_and_ignores_other_files)
{
    char *dir = tu_tmpdir();
    char *source = fixture_path("valid_source");
    char *sink = fixture_path("valid_sink");
    copy_file(source, dir, "20-source.so", 0);
    copy_file(sink, dir, "10-sink.so", 0);
    copy_file(sink, dir, "10-sink.so.bak", 0);
    copy_file(sink, dir, ".hidden.so", 0);
    tu_write_file(dir, "README", "not a plugin\n");
    tu_write_file(dir, "directory.so/inside", "a directory is not a plugin\n");
    char *dirs[] = {dir};
    struct plugin_registry reg = {0};

    ck_assert_uint_eq(loader_scan(&reg, dirs, 1), 2);

    ck_assert_uint_eq(reg.count, 2);
    ck_assert_uint_eq(reg.refused_count, 0);
    ck_assert_str_eq(reg.plugins[0].name, "valid_sink");
    ck_assert_str_eq(reg.plugins[1].name, "valid_source");
    loader_free(&reg);
    free(sink);
    free(source);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_loader_scan_skips_missing_directories)
{
    char *dir = tu_tmpdir();
    char *sink = fixture_path("valid_sink");
    copy_file(sink, dir, "valid_sink.so", 0);
    char *missing = tu_path(dir, "does-not-exist");
    char *dirs[] = {missing, dir};
    struct plugin_registry reg = {0};

    ck_assert_uint_eq(loader_scan(&reg, dirs, 2), 1);

    ck_assert_uint_eq(reg.count, 1);
    ck_assert_uint_eq(reg.refused_count, 0);
    loader_free(&reg);
    free(missing);
    free(sink);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

START_TEST(test_loader_scan_counts_only_what_this_call_accepted)
{
    char *dir = tu_tmpdir();
    char *sink = fixture_path("valid_sink");
    char *bad = fixture_path("bad_magic");
    copy_file(sink, dir, "valid_sink.so", 0);
    copy_file(bad, dir, "bad_magic.so", 0);
    char *dirs[] = {dir};
    struct plugin_registry reg = {0};
    char *scorer = fixture_path("valid_scorer");
    ck_assert_int_eq(loader_load_file(&reg, scorer), 0);

    ck_assert_uint_eq(loader_scan(&reg, dirs, 1), 1);

    ck_assert_uint_eq(reg.count, 2);
    ck_assert_uint_eq(reg.refused_count, 1);
    ck_assert_str_eq(reg.refused[0].name, "bad_magic");
    loader_free(&reg);
    free(scorer);
    free(bad);
    free(sink);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A bare file name must not send dlopen() searching the library path. */
START_TEST(test_loader_opens_a_bare_file_name_in_the_working_directory)
{
    char *source = fixture_path("valid_source");
    char *dir = tu_tmpdir();
    copy_file(source, dir, "valid_source.so", 0);
    char cwd[PATH_MAX];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(dir), 0);
    struct plugin_registry reg = {0};

    int rc = loader_load_file(&reg, "valid_source.so");

    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(reg.plugins[0].path, "valid_source.so");
    loader_free(&reg);
    tu_rmrf(dir);
    free(dir);
    free(source);
}
END_TEST

START_TEST(test_loader_find_returns_null_for_unknown_names)
{
    char *sink = fixture_path("valid_sink");
    struct plugin_registry reg = {0};
    ck_assert_int_eq(loader_load_file(&reg, sink), 0);

    ck_assert_ptr_null(loader_find(&reg, "hubspot"));
    ck_assert_ptr_null(loader_find_refused(&reg, "valid_sink"));
    ck_assert_ptr_nonnull(loader_find(&reg, "valid_sink"));
    loader_free(&reg);
    free(sink);
}
END_TEST

START_TEST(test_loader_kind_names)
{
    ck_assert_str_eq(loader_kind_name(LH_KIND_SOURCE), "source");
    ck_assert_str_eq(loader_kind_name(LH_KIND_SINK), "sink");
    ck_assert_str_eq(loader_kind_name(LH_KIND_SOURCE | LH_KIND_SINK), "source+sink");
    ck_assert_str_eq(loader_kind_name(LH_KIND_SCORER), "scorer");
    ck_assert_str_eq(loader_kind_name(0), "invalid");
    ck_assert_str_eq(loader_kind_name(LH_KIND_SCORER | LH_KIND_SINK), "invalid");
}
END_TEST

START_TEST(test_loader_default_path_is_the_plugins_directory_next_to_the_executable)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    ck_assert_int_gt(n, 0);
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    char *plugins = tu_path(exe, "plugins");
    bool created = mkdir(plugins, 0755) == 0;
    char *expected = realpath(plugins, NULL);
    char **dirs = NULL;

    size_t count = loader_default_path(&dirs);

    if (created) {
        rmdir(plugins);
    }
    ck_assert_uint_ge(count, 1);
    ck_assert_str_eq(dirs[0], expected);
    for (size_t i = 0; i < count; i++) {
        free(dirs[i]);
    }
    free(dirs);
    free(expected);
    free(plugins);
}
END_TEST

START_TEST(test_loader_free_accepts_a_zeroed_registry)
{
    struct plugin_registry reg = {0};
    loader_free(&reg);
    loader_free(&reg);
    ck_assert_uint_eq(reg.count, 0);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *load = tcase_create("not loadable");
    tcase_add_test(load, test_loader_refuses_text_file_with_ldd_hint);
    tcase_add_test(load, test_loader_refuses_truncated_shared_object);
    tcase_add_test(load, test_loader_refuses_plugin_that_needs_daemon_symbols);
    suite_add_tcase(s, load);

    TCase *entry = tcase_create("entry");
    tcase_add_test(entry, test_loader_refuses_missing_entry_symbol_with_declare_hint);
    tcase_add_test(entry, test_loader_refuses_entry_that_is_a_data_symbol);
    tcase_add_test(entry, test_loader_refuses_entry_borrowed_from_a_linked_library);
    tcase_add_test(entry, test_loader_refuses_entry_returning_null);
    tcase_add_test(entry, test_loader_refuses_descriptor_pointer_outside_the_plugin);
    suite_add_tcase(s, entry);

    TCase *abi = tcase_create("abi");
    tcase_add_test(abi, test_loader_refuses_bad_magic_showing_both_values_in_hex);
    tcase_add_test(abi, test_loader_refuses_other_abi_major_reporting_only_the_major);
    tcase_add_test(abi, test_loader_refuses_abi_1_plugin_with_a_porting_hint);
    tcase_add_test(abi, test_loader_refuses_nonzero_reserved_field);
    tcase_add_test(abi, test_loader_refuses_newer_abi_minor_with_upgrade_hint);
    tcase_add_test(abi, test_loader_refuses_descriptor_smaller_than_its_minor_requires);
    suite_add_tcase(s, abi);

    TCase *identity = tcase_create("identity");
    tcase_add_test(identity, test_loader_refuses_missing_name_under_the_file_name);
    tcase_add_test(identity, test_loader_refuses_invalid_name_showing_it);
    tcase_add_test(identity, test_loader_refuses_missing_version_and_description_listing_both);
    suite_add_tcase(s, identity);

    TCase *kind = tcase_create("kind and callbacks");
    tcase_add_test(kind, test_loader_refuses_kind_zero);
    tcase_add_test(kind, test_loader_refuses_unknown_kind_bits);
    tcase_add_test(kind, test_loader_refuses_scorer_combined_with_source);
    tcase_add_test(kind, test_loader_refuses_unknown_flags);
    tcase_add_test(kind, test_loader_refuses_unknown_event_types);
    tcase_add_test(kind,
                   test_loader_refuses_source_without_poll_or_webhook_listing_what_is_missing);
    tcase_add_test(kind, test_loader_refuses_sink_without_deliver);
    tcase_add_test(kind, test_loader_refuses_scorer_without_score);
    tcase_add_test(kind, test_loader_refuses_scorer_not_marked_reentrant);
    tcase_add_test(kind, test_loader_refuses_signature_header_that_is_not_a_header_name);
    tcase_add_test(kind, test_loader_refuses_webhook_get_without_a_webhook);
    suite_add_tcase(s, kind);

    TCase *schema = tcase_create("schema");
    tcase_add_test(schema, test_loader_refuses_null_schema_showing_an_empty_one);
    tcase_add_test(schema, test_loader_refuses_enum_field_without_values);
    tcase_add_test(schema, test_loader_refuses_default_that_does_not_parse);
    tcase_add_test(schema, test_loader_refuses_an_oauth_provider_naming_an_unknown_setting);
    tcase_add_test(schema, test_loader_refuses_schema_declaring_a_field_twice);
    tcase_add_test(schema, test_loader_refuses_schema_field_written_without_its_size);
    suite_add_tcase(s, schema);

    TCase *scan = tcase_create("accept and scan");
    tcase_add_test(scan, test_loader_accepts_valid_source);
    tcase_add_test(scan, test_loader_accepts_sink_with_deliver_batch_and_reentrant_scorer);
    tcase_add_test(scan, test_loader_refuses_duplicate_name_naming_the_first_file);
    tcase_add_test(scan, test_loader_scan_loads_in_file_name_order_and_ignores_other_files);
    tcase_add_test(scan, test_loader_scan_skips_missing_directories);
    tcase_add_test(scan, test_loader_scan_counts_only_what_this_call_accepted);
    tcase_add_test(scan, test_loader_opens_a_bare_file_name_in_the_working_directory);
    tcase_add_test(scan, test_loader_find_returns_null_for_unknown_names);
    tcase_add_test(scan, test_loader_kind_names);
    tcase_add_test(scan, test_loader_default_path_is_the_plugins_directory_next_to_the_executable);
    tcase_add_test(scan, test_loader_free_accepts_a_zeroed_registry);
    suite_add_tcase(s, scan);
    return s;
}

int main(void)
{
    return tu_run_suite(loader_suite());
}
