/*
 * test_router.c - routes: checked against the instances and their plugins with messages
 * naming file, line and key; matched against events by source, type and conditions.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "router.h"
#include "testutil.h"
#include "util.h"

static char *dir;
static struct config *config;
static struct plugin_registry plugins;
static struct diag_list diags;

/* A config dir with sources `inbound`, `partner` (webhook), `pager` (paging_source) and
 * sinks `crm`, `archive`, `off` (disabled), and the given routes (YAML list body). */
static struct router *build(const char *routes_yaml)
{
    dir = tu_tmpdir();
    char *copy = util_printf("mkdir -p '%s/plugins' && cp '%s/plugins/webhook.so' "
                             "'%s/tests/fixtures/valid_sink.so' "
                             "'%s/tests/fixtures/paging_source.so' '%s/plugins/'",
                             dir, tu_build_dir(), tu_build_dir(), tu_build_dir(), dir);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    setenv("ROUTER_TEST_SECRET", "s", 1);
    char *main_yaml = util_printf("database_url: postgresql://localhost/x\n"
                                  "plugin_path: [plugins]\n"
                                  "routes:\n%s",
                                  routes_yaml);
    tu_write_file(dir, "leadhub.yaml", main_yaml);
    free(main_yaml);
    const char *webhook = "plugin: webhook\nsettings:\n  secret: ${ROUTER_TEST_SECRET}\n";
    char *inbound = util_printf("name: inbound\n%s", webhook);
    char *partner = util_printf("name: partner\n%s", webhook);
    tu_write_file(dir, "conf.d/inbound.yaml", inbound);
    tu_write_file(dir, "conf.d/partner.yaml", partner);
    free(inbound);
    free(partner);
    tu_write_file(dir, "conf.d/pager.yaml",
                  "name: pager\nplugin: paging_source\nsettings:\n  url: http://localhost/\n");
    tu_write_file(dir, "conf.d/crm.yaml", "name: crm\nplugin: valid_sink\n");
    tu_write_file(dir, "conf.d/archive.yaml", "name: archive\nplugin: valid_sink\n");
    tu_write_file(dir, "conf.d/off.yaml", "name: off\nplugin: valid_sink\nenabled: false\n");
    char *path = tu_path(dir, "leadhub.yaml");
    memset(&diags, 0, sizeof(diags));
    memset(&plugins, 0, sizeof(plugins));
    ck_assert_msg(config_load(path, &config, &diags) == 0, "config: %s",
                  diags.count ? diags.items[0].message : "?");
    free(path);
    binding_load_plugins(config, &plugins, &diags);
    ck_assert_uint_eq(plugins.count, 3);
    return router_build(config, &plugins, &diags);
}

static void teardown(void)
{
    diag_list_free(&diags);
    loader_free(&plugins);
    config_free(config);
    config = NULL;
    tu_rmrf(dir);
    free(dir);
}

/* The diagnostics joined, one per line, for assertions. */
static char *diag_text(void)
{
    struct strbuf sb = {0};
    for (size_t i = 0; i < diags.count; i++) {
        char *line = diag_format_one(&diags.items[i]);
        strbuf_appendf(&sb, "%s %s\n", diags.items[i].severity == DIAG_ERROR ? "E" : "W", line);
        free(line);
    }
    return strbuf_take(&sb);
}

static void assert_diag(const char *expected)
{
    char *text = diag_text();
    ck_assert_msg(strstr(text, expected) != NULL, "diagnostics lack \"%s\":\n%s", expected, text);
    free(text);
}

static void collect(const char *route, const char *destination, void *arg)
{
    strbuf_appendf(arg, "%s>%s ", route, destination);
}

static char *match(const struct router *router, const char *event_text)
{
    json_t *event = json_loads(event_text, 0, NULL);
    ck_assert_ptr_nonnull(event);
    struct strbuf sb = {0};
    router_match(router, event, -1, collect, &sb);
    json_decref(event);
    return strbuf_take(&sb);
}

START_TEST(test_router_matches_source_type_and_conditions)
{
    struct router *router = build("  - name: leads-to-crm\n"
                                  "    from: inbound\n"
                                  "    types: [lead.*]\n"
                                  "    where:\n"
                                  "      lead.email: {exists: true}\n"
                                  "      lead.company: {not_equals: Acme}\n"
                                  "    to: [crm]\n"
                                  "  - name: everything\n"
                                  "    from: \"*\"\n"
                                  "    types: [\"*\"]\n"
                                  "    to: [archive, crm]\n");
    ck_assert_ptr_nonnull(router);
    ck_assert_uint_eq(diag_error_count(&diags), 0);
    ck_assert_uint_eq(router_count(router), 2);

    char *got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\","
                              "\"lead\":{\"email\":\"a@b.c\",\"company\":\"Initech\"}}");
    /* crm once, named by the first route that sends it there */
    ck_assert_str_eq(got, "leads-to-crm>crm everything>archive ");
    free(got);
    got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\","
                        "\"lead\":{\"email\":\"a@b.c\",\"company\":\"Acme\"}}");
    ck_assert_str_eq(got, "everything>archive everything>crm ");
    free(got);
    got = match(router, "{\"type\":\"meeting.scheduled\",\"source\":\"partner\"}");
    ck_assert_str_eq(got, "everything>archive everything>crm ");
    free(got);
    ck_assert_int_eq(router_find(router, "everything"), 1);
    ck_assert_int_eq(router_find(router, "nope"), -1);
    router_free(router);
}
END_TEST

START_TEST(test_router_takes_no_event_its_source_marked_not_routable)
{
    struct router *router = build("  - name: everything\n"
                                  "    from: \"*\"\n"
                                  "    types: [\"*\"]\n"
                                  "    to: [crm]\n");
    ck_assert_ptr_nonnull(router);
    /* a LinkedIn test lead: stored, routed nowhere */
    char *got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\","
                              "\"data\":{\"test\":true,\"routable\":false}}");
    ck_assert_str_eq(got, "");
    free(got);
    /* only false says so: a test lead the source lets through is routed */
    got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\","
                        "\"data\":{\"test\":true,\"routable\":\"no\"}}");
    ck_assert_str_eq(got, "everything>crm ");
    free(got);
    router_free(router);
}
END_TEST

START_TEST(test_router_conditions_equals_in_and_matches)
{
    struct router *router = build("  - name: big-deals\n"
                                  "    from: \"*\"\n"
                                  "    types: [payment.succeeded, deal.*]\n"
                                  "    where:\n"
                                  "      data.currency: {in: [EUR, USD]}\n"
                                  "      data.amount: {equals: 500}\n"
                                  "      lead.email: {matches: \"*@ACME.com\"}\n"
                                  "    to: [crm]\n");
    ck_assert_ptr_nonnull(router);
    char *got = match(router, "{\"type\":\"payment.succeeded\",\"source\":\"inbound\","
                              "\"data\":{\"currency\":\"EUR\",\"amount\":500.0},"
                              "\"lead\":{\"email\":\"cfo@acme.com\"}}");
    ck_assert_str_eq(got, "big-deals>crm ");
    free(got);
    got = match(router, "{\"type\":\"payment.succeeded\",\"source\":\"inbound\","
                        "\"data\":{\"currency\":\"GBP\",\"amount\":500},"
                        "\"lead\":{\"email\":\"cfo@acme.com\"}}");
    ck_assert_str_eq(got, "");
    free(got);
    got = match(router, "{\"type\":\"payment.succeeded\",\"source\":\"inbound\","
                        "\"data\":{\"currency\":\"USD\",\"amount\":500},"
                        "\"lead\":{\"email\":\"cfo@other.com\"}}");
    ck_assert_str_eq(got, "");
    free(got);
    router_free(router);
}
END_TEST

START_TEST(test_router_refuses_unknown_and_wrong_kind_instances_with_lines)
{
    struct router *router = build("  - name: bad\n"
                                  "    from: crm\n"
                                  "    types: [lead.created]\n"
                                  "    to: [inbound, nobody]\n");
    ck_assert_ptr_null(router);
    assert_diag("E ");
    assert_diag("leadhub.yaml:5: routes[0].from: \"crm\" is not a source (its plugin valid_sink "
                "is a sink)");
    assert_diag("leadhub.yaml:7: routes[0].to[0]: \"inbound\" is not a sink");
    assert_diag("routes[0].to[1]: no connector instance named \"nobody\"");
}
END_TEST

START_TEST(test_router_refuses_bad_types_fields_operators_and_duplicate_names)
{
    struct router *router = build("  - name: r\n"
                                  "    from: inbound\n"
                                  "    types: [lead.exploded, \"Lead.*\"]\n"
                                  "    where:\n"
                                  "      lead.mail: {exists: true}\n"
                                  "      lead.email: {exsits: true}\n"
                                  "    to: [crm]\n"
                                  "  - name: r\n"
                                  "    from: inbound\n"
                                  "    types: [lead.created]\n"
                                  "    to: [crm]\n"
                                  "  - name: missing-to\n"
                                  "    from: inbound\n"
                                  "    types: [lead.created]\n");
    ck_assert_ptr_null(router);
    assert_diag("routes[0].types[0]: \"lead.exploded\" is not an event type");
    assert_diag("routes[0].types[1]: \"Lead.*\" is not an event type glob");
    assert_diag("routes[0].where.lead.mail: \"lead.mail\" is not a field of the event model");
    assert_diag("routes[0].where.lead.email.exsits: unknown operator \"exsits\"");
    assert_diag("routes[1].name: route name \"r\" is used twice");
    assert_diag("routes[2]");
}
END_TEST

START_TEST(test_router_warns_about_routes_that_can_carry_nothing)
{
    struct router *router = build("  - name: from-nowhere\n"
                                  "    from: \"linkedin*\"\n"
                                  "    types: [lead.created]\n"
                                  "    to: [crm]\n"
                                  "  - name: meetings-from-pager\n"
                                  "    from: pager\n"
                                  "    types: [meeting.*]\n"
                                  "    to: [off]\n"
                                  "  - name: from-an-internal-app\n"
                                  "    from: billing-app\n"
                                  "    types: [custom.order]\n"
                                  "    to: [crm]\n");
    ck_assert_ptr_nonnull(router); /* warnings only */
    ck_assert_uint_eq(diag_error_count(&diags), 0);
    assert_diag("W ");
    assert_diag("routes[0].from: \"linkedin*\" matches no enabled source instance");
    assert_diag("routes[1].types[0]: no source of this route emits an event of type \"meeting.*\"");
    assert_diag("routes[1].to[0]: \"off\" is disabled: its deliveries wait until it is enabled");
    assert_diag("leadhub.yaml:13: routes[2].from: no connector instance named \"billing-app\": "
                "the route carries only events posted to /v1/events with that source");
    /* and it does carry them */
    char *got = match(router, "{\"type\":\"custom.order\",\"source\":\"billing-app\"}");
    ck_assert_str_eq(got, "from-an-internal-app>crm ");
    free(got);
    router_free(router);
}
END_TEST

START_TEST(test_router_from_refuses_an_event_of_the_right_type_from_another_source)
{
    struct router *router = build("  - name: inbound-leads\n"
                                  "    from: inbound\n"
                                  "    types: [lead.*]\n"
                                  "    to: [crm]\n"
                                  "  - name: pager-meetings\n"
                                  "    from: \"pag*\"\n"
                                  "    types: [meeting.*]\n"
                                  "    to: [archive]\n");
    ck_assert_ptr_nonnull(router);
    /* the type matches each route; only the source decides */
    char *got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\","
                              "\"lead\":{\"email\":\"a@b.c\"}}");
    ck_assert_str_eq(got, "inbound-leads>crm ");
    free(got);
    got = match(router, "{\"type\":\"lead.created\",\"source\":\"partner\","
                        "\"lead\":{\"email\":\"a@b.c\"}}");
    ck_assert_str_eq(got, "");
    free(got);
    /* a name that merely starts like the source is another source */
    got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound-2\","
                        "\"lead\":{\"email\":\"a@b.c\"}}");
    ck_assert_str_eq(got, "");
    free(got);
    got = match(router, "{\"type\":\"meeting.scheduled\",\"source\":\"pager\"}");
    ck_assert_str_eq(got, "pager-meetings>archive ");
    free(got);
    got = match(router, "{\"type\":\"meeting.scheduled\",\"source\":\"inbound\"}");
    ck_assert_str_eq(got, "");
    free(got);
    router_free(router);
}
END_TEST

START_TEST(test_router_exists_false_refuses_an_event_that_has_the_field)
{
    struct router *router = build("  - name: no-email-yet\n"
                                  "    from: \"*\"\n"
                                  "    types: [lead.*]\n"
                                  "    where:\n"
                                  "      lead.email: {exists: false}\n"
                                  "      lead.attributes.plan: {exists: false}\n"
                                  "    to: [crm]\n");
    ck_assert_ptr_nonnull(router);
    ck_assert_uint_eq(diag_error_count(&diags), 0);
    char *got = match(router, "{\"type\":\"lead.updated\",\"source\":\"inbound\","
                              "\"lead\":{\"external_id\":\"7\"}}");
    ck_assert_str_eq(got, "no-email-yet>crm ");
    free(got);
    /* null is absent */
    got = match(router, "{\"type\":\"lead.updated\",\"source\":\"inbound\","
                        "\"lead\":{\"external_id\":\"7\",\"email\":null}}");
    ck_assert_str_eq(got, "no-email-yet>crm ");
    free(got);
    got = match(router, "{\"type\":\"lead.updated\",\"source\":\"inbound\","
                        "\"lead\":{\"external_id\":\"7\",\"email\":\"a@b.c\"}}");
    ck_assert_str_eq(got, "");
    free(got);
    /* nested: present at depth three */
    got = match(router, "{\"type\":\"lead.updated\",\"source\":\"inbound\","
                        "\"lead\":{\"external_id\":\"7\",\"attributes\":{\"plan\":\"pro\"}}}");
    ck_assert_str_eq(got, "");
    free(got);
    /* present but falsy values are present */
    got = match(router, "{\"type\":\"lead.updated\",\"source\":\"inbound\","
                        "\"lead\":{\"external_id\":\"7\",\"attributes\":{\"plan\":false}}}");
    ck_assert_str_eq(got, "");
    free(got);
    router_free(router);
}
END_TEST

START_TEST(test_router_settle_delays_a_routes_deliveries_and_is_bounded)
{
    struct router *router = build("  - name: billing-to-crm\n"
                                  "    from: inbound\n"
                                  "    types: [\"*\"]\n"
                                  "    to: [crm]\n"
                                  "    settle: 90s\n"
                                  "  - name: plain\n"
                                  "    from: partner\n"
                                  "    types: [\"*\"]\n"
                                  "    to: [archive]\n");
    ck_assert_ptr_nonnull(router);
    ck_assert_int_eq(router_settle_ms(router, "billing-to-crm"), 90000);
    ck_assert_int_eq(router_settle_ms(router, "plain"), 0);
    ck_assert_int_eq(router_settle_ms(router, "no-such-route"), 0);
    router_free(router);
    teardown();
    router = build("  - name: too-long\n"
                   "    from: inbound\n"
                   "    types: [\"*\"]\n"
                   "    to: [crm]\n"
                   "    settle: 2h\n");
    ck_assert_ptr_null(router);
    assert_diag("routes[0].settle");
}
END_TEST

START_TEST(test_router_without_routes_routes_nothing)
{
    struct router *router = build("  []\n");
    ck_assert_ptr_nonnull(router);
    ck_assert_uint_eq(router_count(router), 0);
    char *got = match(router, "{\"type\":\"lead.created\",\"source\":\"inbound\"}");
    ck_assert_str_eq(got, "");
    free(got);
    router_free(router);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_router_matches_source_type_and_conditions);
    tcase_add_test(tc, test_router_takes_no_event_its_source_marked_not_routable);
    tcase_add_test(tc, test_router_conditions_equals_in_and_matches);
    tcase_add_test(tc, test_router_from_refuses_an_event_of_the_right_type_from_another_source);
    tcase_add_test(tc, test_router_exists_false_refuses_an_event_that_has_the_field);
    tcase_add_test(tc, test_router_refuses_unknown_and_wrong_kind_instances_with_lines);
    tcase_add_test(tc, test_router_refuses_bad_types_fields_operators_and_duplicate_names);
    tcase_add_test(tc, test_router_warns_about_routes_that_can_carry_nothing);
    tcase_add_test(tc, test_router_settle_delays_a_routes_deliveries_and_is_bounded);
    tcase_add_test(tc, test_router_without_routes_routes_nothing);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
