/*
 * test_console_browser.c - the web console in a real browser (Debian's Chromium, driven
 * by playwright-core: console/e2e/console.e2e.mjs) against the real daemon on a real
 * PostgreSQL, with the data seeded here through the API.
 *
 * This program owns the world: the daemon (serving console/dist at /console/), a sink
 * that refuses its first two deliveries and then takes everything (two dead deliveries,
 * the replay of one succeeds), a source whose provider answers 503 (a failing connector),
 * a source whose plugin declares an OAuth provider, with the fake authorization server of
 * tests/lib/fake_oauth.h (consent from the console, end to end), the `rules` scorer, and a
 * seed whose funnel it states below. The script gets the tokens
 * and those expectations in a JSON file, and checks what a person sees: signing in, the
 * funnel's numbers, the failing connector and its error, a replay seen through to done, a
 * score's explanation, a read-only token without admin actions, the keyboard, and every
 * call the console makes documented in docs/openapi.yaml. It writes screenshots of each
 * page at 1280 and 390 px wide (docs/console.md shows them).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "api_call.h"
#include "daemon_harness.h"
#include "fake_http.h"
#include "fake_oauth.h"
#include "testutil.h"
#include "util.h"

#define ADMIN_TOKEN "console-admin-token-6b1f0e"
#define READ_TOKEN  "console-viewer-token-93da4c"
#define WRITE_TOKEN "console-seeder-token-2e7a58"
#define SINK_SECRET "console-sink-secret-0c4d"
#define APP_ID      "console-app"
#define APP_SECRET  "console-app-secret-5e2b"
#define SEALING_KEY "Y29uc29sZS10ZXN0cy1zZWFsaW5nLWtleS0zMi1ieXQ="

#define HOUR_MS (3600LL * 1000)
#define DAY_MS  (24 * HOUR_MS)

static struct test_daemon td;
static struct fake_http *warehouse;
static struct fake_http *provider;
static struct fake_oauth *idp;    /* the consent source's provider */
static struct fake_http *mailapi; /* what it fetches once consented */
static struct openapi *spec;

static char *console_dir(void)
{
    const char *dir = getenv("LEADHUB_CONSOLE_DIST");
    return dir != NULL ? strdup(dir) : tu_path(tu_source_dir(), "console/dist");
}

/* One seeded event: `hours` before now. */
struct seed {
    const char *type;
    const char *source;
    const char *id;
    double hours_ago;
    const char *lead;  /* JSON of the lead */
    const char *extra; /* more members, with a leading comma, or "": a %s in it is the time
                          `starts_hours_ago` before now (a meeting's start) */
    double starts_hours_ago;
};

/*
 * The funnel of the last twelve weeks this implies (docs/api.md): five leads first seen
 * (webform 3, partner 2); replied: ada, grace; booked: ada (her meeting, in three days),
 * alan (who attends it), grace (a meeting yesterday) and kat (a meeting canceled since);
 * held: none; customers: grace. Old Tom was first seen 200 days ago: his recent reply
 * counts for nobody in the period.
 */
static const struct seed seeds[] = {
    {"lead.created", "webform", "w-ada", 72,
     "{\"email\":\"ada@analytical.example\","
     "\"first_name\":\"Ada\",\"last_name\":\"Lovelace\",\"company\":\"Analytical Engines\","
     "\"title\":\"VP Engineering\"}",
     "", 0},
    {"lead.created", "webform", "w-grace", 60,
     "{\"email\":\"grace@navy.example\","
     "\"first_name\":\"Grace\",\"last_name\":\"Hopper\",\"company\":\"Navy\"}",
     "", 0},
    {"lead.created", "webform", "w-alan", 50,
     "{\"email\":\"alan@bletchley.example\","
     "\"first_name\":\"Alan\",\"last_name\":\"Turing\"}",
     "", 0},
    {"lead.created", "partner", "p-kat", 40,
     "{\"email\":\"kat@partner.example\","
     "\"first_name\":\"Katherine\",\"last_name\":\"Johnson\"}",
     "", 0},
    {"lead.created", "partner", "p-linus", 30, "{\"email\":\"linus@partner.example\"}", "", 0},
    {"lead.created", "webform", "w-tom", 200 * 24, "{\"email\":\"tom@archive.example\"}", "", 0},
    {"email.replied", "mailbox", "r-ada", 48, "{\"email\":\"ada@analytical.example\"}", "", 0},
    {"email.replied", "mailbox", "r-grace", 36, "{\"email\":\"grace@navy.example\"}", "", 0},
    {"email.replied", "mailbox", "r-tom", 20, "{\"email\":\"tom@archive.example\"}", "", 0},
    {"customer.created", "billing", "c-grace", 12, "{\"email\":\"grace@navy.example\"}",
     ",\"data\":{\"plan\":\"team\"}", 0},
    {"meeting.scheduled", "calendar", "m-grace", 49, "{\"email\":\"grace@navy.example\"}",
     ",\"meeting\":{\"external_id\":\"demo-grace\",\"title\":\"Demo for Navy\","
     "\"starts_at\":\"%s\"}",
     30},
    {"meeting.scheduled", "calendar", "m-kat", 39, "{\"email\":\"kat@partner.example\"}",
     ",\"meeting\":{\"external_id\":\"call-kat\",\"title\":\"Partner call\","
     "\"starts_at\":\"%s\"}",
     10},
    {"meeting.canceled", "calendar", "m-kat-canceled", 20, "{\"email\":\"kat@partner.example\"}",
     ",\"meeting\":{\"external_id\":\"call-kat\",\"title\":\"Partner call\","
     "\"starts_at\":\"%s\"}",
     10},
};

/* Ada's meeting, in three days, with Alan attending (posted once both leads exist). */
static const char meeting_format[] =
    "{\"type\":\"meeting.scheduled\",\"source\":\"calendar\",\"source_id\":\"m-ada\","
    "\"occurred_at\":\"%s\",\"lead\":{\"email\":\"ada@analytical.example\"},"
    "\"meeting\":{\"external_id\":\"intro-ada\",\"title\":\"Intro call with Ada\","
    "\"starts_at\":\"%s\",\"ends_at\":\"%s\",\"organizer\":{\"email\":\"sam@ourco.example\","
    "\"name\":\"Sam Rep\"},\"attendees\":[{\"email\":\"ada@analytical.example\","
    "\"response\":\"accepted\"},{\"email\":\"alan@bletchley.example\","
    "\"response\":\"accepted\"}]}}";

static void post(const char *body)
{
    struct api_answer a = api_call(&td, spec, "POST", "/v1/events", WRITE_TOKEN, body);
    ck_assert_msg(a.status == 201 || a.status == 207, "%ld: %s", a.status, a.body);
    ck_assert_msg(strstr(a.body, "\"status\":422") == NULL, "%s", a.body);
    api_answer_free(&a);
}

static void seed_everything(void)
{
    int64_t now = util_now_ms();
    struct strbuf events = {0};
    strbuf_append(&events, "[");
    for (size_t i = 0; i < UTIL_ARRAY_LEN(seeds); i++) {
        char at[32], starts[32];
        util_format_rfc3339(now - (int64_t)(seeds[i].hours_ago * (double)HOUR_MS), at);
        util_format_rfc3339(now - (int64_t)(seeds[i].starts_hours_ago * (double)HOUR_MS), starts);
        char *extra = util_printf(seeds[i].extra, starts);
        strbuf_appendf(&events,
                       "%s{\"type\":\"%s\",\"source\":\"%s\",\"source_id\":\"%s\","
                       "\"occurred_at\":\"%s\",\"lead\":%s%s}",
                       i ? "," : "", seeds[i].type, seeds[i].source, seeds[i].id, at, seeds[i].lead,
                       extra);
        free(extra);
    }
    strbuf_append(&events, "]");
    post(strbuf_value(&events));
    strbuf_free(&events);

    char at[32], starts[32], ends[32];
    util_format_rfc3339(now - 24 * HOUR_MS, at);
    util_format_rfc3339(now + 3 * DAY_MS, starts);
    util_format_rfc3339(now + 3 * DAY_MS + HOUR_MS / 2, ends);
    char *meeting = util_printf(meeting_format, at, starts, ends);
    post(meeting);
    free(meeting);
}

static void suite_setup(void)
{
    spec = api_spec_load();
    /* two refusals: the partner leads' deliveries die (one attempt each); then all taken */
    warehouse = fake_http_start();
    fake_http_route(warehouse, "/in",
                    (struct fake_response){500, "{\"error\":\"disk full\"}", NULL, 0}, 2);
    fake_http_route(warehouse, "/in", (struct fake_response){200, "{}", NULL, 0}, 0);
    provider = fake_http_start();
    fake_http_route(provider, "/leads*", (struct fake_response){503, "{}", NULL, 0}, 0);
    setenv("LHTEST_ADMIN_TOKEN", ADMIN_TOKEN, 1);
    setenv("LHTEST_READ_TOKEN", READ_TOKEN, 1);
    setenv("LHTEST_WRITE_TOKEN", WRITE_TOKEN, 1);
    setenv("LHTEST_SINK_SECRET", SINK_SECRET, 1);
    setenv("LHTEST_APP_SECRET", APP_SECRET, 1);
    setenv("LHTEST_SEALING_KEY", SEALING_KEY, 1);
    idp = fake_oauth_start(APP_ID, APP_SECRET);
    mailapi = fake_http_start();
    fake_http_push(mailapi, (struct fake_response){200, "{\"id\":\"item-1\"}", NULL, 0});

    td_init(&td, NULL);
    char *plugins = tu_path(td.dir, "plugins");
    char *copy = util_printf("mkdir -p '%s' && cp '%s/tests/fixtures/paging_source.so' "
                             "'%s/tests/fixtures/consent_source.so' '%s/'",
                             plugins, tu_build_dir(), tu_build_dir(), plugins);
    ck_assert_int_eq(tu_run(copy, NULL), 0);
    free(copy);
    td.extra_plugin_dir = plugins;
    char *url = fake_http_url(warehouse, "/in");
    char *yaml = util_printf("name: warehouse\nplugin: http\nsettings:\n  url: %s\n"
                             "  secret: ${LHTEST_SINK_SECRET}\n",
                             url);
    td_connector(&td, "warehouse", yaml);
    free(yaml);
    free(url);
    url = fake_http_url(provider, "/leads");
    yaml = util_printf("name: pager\nplugin: paging_source\npoll_interval: 1h\nsettings:\n"
                       "  url: %s\n",
                       url);
    td_connector(&td, "pager", yaml);
    free(yaml);
    free(url);
    char *base = fake_oauth_url(idp, "");
    char *items = fake_http_url(mailapi, "/items");
    yaml = util_printf("name: mail\nplugin: consent_source\npoll_interval: 1h\nsettings:\n"
                       "  oauth_base: %s\n  mailbox: ada@ourco.example\n  client_id: " APP_ID
                       "\n  client_secret: ${LHTEST_APP_SECRET}\n  api_url: %s\n",
                       base, items);
    td_connector(&td, "mail", yaml);
    free(yaml);
    free(items);
    free(base);
    char *dist = console_dir();
    td.extra_main = util_printf("console:\n  dir: %s\n"
                                "secrets_key: ${LHTEST_SEALING_KEY}\n"
                                "oauth:\n  redirect_url: %s/oauth/callback\n"
                                "api:\n  tokens:\n"
                                "    - {name: ops, token: \"${LHTEST_ADMIN_TOKEN}\", "
                                "scopes: [read, write, admin]}\n"
                                "    - {name: viewer, token: \"${LHTEST_READ_TOKEN}\", "
                                "scopes: [read]}\n"
                                "    - {name: seeder, token: \"${LHTEST_WRITE_TOKEN}\", "
                                "scopes: [write]}\n"
                                "scoring:\n"
                                "  - name: fit\n"
                                "    plugin: rules\n"
                                "    settings:\n"
                                "      rules:\n"
                                "        - name: senior_title\n"
                                "          points: 40\n"
                                "          when: {lead.title: {min_seniority: director}}\n"
                                "        - name: work_email\n"
                                "          points: 30\n"
                                "          when: {lead.email: {free_mail: false}}\n"
                                "        - name: replied_recently\n"
                                "          points: 30\n"
                                "          when: {events.email.replied: {at_least: 1, "
                                "within: 30d}}\n"
                                "    thresholds: {hot: 70, warm: 40}\n"
                                "routes:\n"
                                "  - {name: partner-leads, from: partner, types: [lead.created], "
                                "to: [warehouse]}\n"
                                "delivery:\n  max_attempts: 1\n",
                                dist, td.base_url);
    free(dist);
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not start (%d):\n%s", rc, log);
    }
    seed_everything();
}

static void suite_teardown(void)
{
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    fake_http_stop(warehouse);
    fake_http_stop(provider);
    fake_http_stop(mailapi);
    fake_oauth_stop(idp);
    openapi_free(spec);
}

/* --- waiting for the world to be as the browser should find it ------------------------------ */

static bool path_has(const char *path, size_t count)
{
    struct api_answer a = api_call(&td, NULL, "GET", path, READ_TOKEN, NULL);
    bool done = json_array_size(json_object_get(a.json, "data")) == count;
    api_answer_free(&a);
    return done;
}

static bool settled(void *arg)
{
    (void)arg;
    struct api_answer pager = api_call(&td, NULL, "GET", "/v1/connectors/pager", READ_TOKEN, NULL);
    bool failed = json_integer_value(json_object_get(pager.json, "consecutive_failures")) >= 1;
    api_answer_free(&pager);
    return failed && path_has("/v1/deliveries?destination=warehouse&status=dead", 2) &&
           path_has("/v1/leads?scorer=fit&band=hot&email=ada@analytical.example", 1);
}

/* What the script checks, as JSON: where, who, and the numbers the seed implies. */
static char *expectations(void)
{
    json_t *expect = json_pack(
        "{s:s,s:{s:s,s:s},s:{s:i,s:i,s:i,s:i,s:i},s:{s:i,s:i},s:{s:s,s:s,s:s},"
        "s:{s:s,s:i},s:{s:s,s:s,s:s},s:s,s:s}",
        "base", td.base_url, "tokens", "admin", ADMIN_TOKEN, "read", READ_TOKEN, "funnel", "leads",
        5, "replied", 2, "booked", 4, "held", 0, "customers", 1, "sources", "webform", 3, "partner",
        2, "failing", "name", "pager", "error", "page answered HTTP 503", "code", "poll_failing",
        "dead", "destination", "warehouse", "count", 2, "lead", "email", "ada@analytical.example",
        "rule", "senior_title", "points", "+40", "meeting", "Intro call with Ada", "consent",
        "mail");
    char *text = json_dumps(expect, JSON_INDENT(2));
    json_decref(expect);
    return text;
}

START_TEST(test_the_console_shows_the_hub_in_a_real_browser)
{
    ck_assert_msg(td_wait_until(settled, NULL, 60000),
                  "the seed did not settle (pager failing, two dead deliveries, Ada scored)");
    char *dir = tu_tmpdir();
    char *expect = expectations();
    tu_write_file(dir, "expect.json", expect);
    free(expect);
    const char *shots_env = getenv("LEADHUB_CONSOLE_SCREENSHOTS");
    char *shots = shots_env != NULL ? strdup(shots_env)
                                    : util_printf("%s/console-screenshots", tu_build_dir());
    char *command =
        util_printf("cd '%s/console' && node e2e/console.e2e.mjs --expect '%s/expect.json' "
                    "--screenshots '%s' 2>&1",
                    tu_source_dir(), dir, shots);
    char *output = NULL;
    int status = tu_run(command, &output);
    /* its steps, for the record of a passing run too */
    fputs(output != NULL ? output : "", stdout);
    if (status != 0) {
        char *log = td_log(&td);
        size_t len = strlen(log);
        printf("--- the daemon's log, last lines ---\n%s\n", log + (len > 8000 ? len - 8000 : 0));
        free(log);
    }
    fflush(stdout);
    ck_assert_msg(status == 0, "console.e2e.mjs failed (exit %d): its output is above", status);
    free(output);
    free(command);
    free(shots);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

static Suite *console_browser_suite(void)
{
    Suite *s = suite_create("console_browser");
    TCase *tc = tcase_create("browser");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_the_console_shows_the_hub_in_a_real_browser);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return tu_run_suite(console_browser_suite());
}
