/*
 * test_linkedin_e2e.c - the real leadhubd with a `linkedin_leadgen` instance, a real
 * PostgreSQL, the fake OAuth server and the fake LinkedIn (tests/lib/fake_linkedin.h):
 * consent through `leadhubd connect`; the subscription made at the first poll after
 * LinkedIn's challenge; a signed notification (either reading of X-LI-Signature) becoming a
 * stored lead within a second of the poll it triggers; forms in two languages mapped; a test
 * lead flagged and not routed; a DELETED action erasing the lead; the daily limit holding
 * the poll until midnight UTC without dead letters; a restart mid-backfill resuming at the
 * next page.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connect_cli.h"
#include "daemon_harness.h"
#include "fake_http.h"
#include "fake_linkedin.h"
#include "fake_oauth.h"
#include "http_client.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define CLIENT_ID     "li-client-86fz"
#define CLIENT_SECRET "li-secret-Wq8vR2xT5nK0"
#define CRM_SECRET    "crm-sink-secret-5be1d0c9"
#define ADMIN_TOKEN   "linkedin-e2e-admin-token-0001"
#define SECRETS_KEY   "bGlua2VkaW4tZTJlLXNlY3JldHMta2V5LTMyYnl0ZSE="
#define ACCOUNT       "508974412"
#define EN_FORM_URN   "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:8843127,2)"
#define EN_ID         "7d1f3e2a-9c4b-4e8a-b5d6-0f2e1a3c9b47-3"
#define DAY_MS        (24LL * 3600 * 1000)

static struct fake_oauth *idp;
static struct fake_linkedin *li;
static struct fake_http *crm;
static struct test_daemon td;
static PGconn *db;

static void setup(void)
{
    setenv("LHTEST_LI_SECRET", CLIENT_SECRET, 1);
    setenv("LHTEST_CRM_SECRET", CRM_SECRET, 1);
    setenv("LHTEST_LI_ADMIN", ADMIN_TOKEN, 1);
    setenv("LHTEST_LI_KEY", SECRETS_KEY, 1);
    idp = fake_oauth_start(CLIENT_ID, CLIENT_SECRET);
    fake_oauth_require_pkce(idp, false); /* LinkedIn's web flow takes none */
    fake_oauth_refresh_lifetime(idp, 300 * 24 * 3600);
    li = fake_linkedin_start(idp, CLIENT_SECRET);
    crm = fake_http_start();
    fake_http_push(crm, (struct fake_response){200, "{}", NULL, 0});
    memset(&td, 0, sizeof(td));
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        ck_assert_int_eq(td_stop(&td), 0);
    }
    if (td.dir != NULL) {
        td_cleanup(&td);
    }
    fake_linkedin_stop(li);
    fake_http_stop(crm);
    fake_oauth_stop(idp);
}

static json_t *fixture(const char *name)
{
    char *path =
        util_printf("%s/plugins/linkedin_leadgen/tests/fixtures/%s", tu_source_dir(), name);
    json_error_t error;
    json_t *value = json_load_file(path, 0, &error);
    ck_assert_msg(value != NULL, "%s: %s", path, error.text);
    free(path);
    return value;
}

static int64_t now_ms(void)
{
    return util_now_ms();
}

/* A response of the English form: the example, with its own id and time. */
static json_t *en_response(const char *id, int64_t submitted_at, const char *email, bool test)
{
    json_t *r = fixture("response.en.json");
    json_object_set_new(r, "id", json_string(id));
    json_object_set_new(r, "submittedAt", json_integer(submitted_at));
    json_object_set_new(r, "testLead", json_boolean(test));
    json_t *answers = json_object_get(json_object_get(r, "formResponse"), "answers");
    json_object_set_new(
        json_object_get(json_object_get(json_array_get(answers, 2), "answerDetails"),
                        "textQuestionAnswer"),
        "answer", json_string(email));
    return r;
}

static void add_en_form(void)
{
    json_t *form = fixture("form.en.json");
    fake_linkedin_add_form(li, form);
    json_decref(form);
}

static void add(json_t *response)
{
    fake_linkedin_add_response(li, response);
    json_decref(response);
}

/* The instance file: `leads`, with `extra` settings lines appended. */
static void configure(const char *extra)
{
    char *oauth = fake_oauth_url(idp, "");
    char *api = fake_linkedin_api_base(li);
    char *crm_url = fake_http_url(crm, "/events");
    char *yaml = util_printf("name: leads\nplugin: linkedin_leadgen\npoll_interval: 1h\n"
                             "settings:\n  client_id: " CLIENT_ID "\n"
                             "  client_secret: ${LHTEST_LI_SECRET}\n"
                             "  ad_accounts: [\"" ACCOUNT "\"]\n  oauth_base: %s\n"
                             "  api_base: %s\n  notification_url: %s/webhooks/leads\n%s",
                             oauth, api, td.base_url, extra != NULL ? extra : "");
    td_connector(&td, "leads", yaml);
    free(yaml);
    yaml = util_printf("name: crm\nplugin: http\nsettings:\n  url: %s\n"
                       "  secret: ${LHTEST_CRM_SECRET}\n",
                       crm_url);
    td_connector(&td, "crm", yaml);
    free(yaml);
    free(td.extra_main);
    td.extra_main = strdup("secrets_key: ${LHTEST_LI_KEY}\n"
                           "api:\n  tokens:\n    - name: ops\n      token: ${LHTEST_LI_ADMIN}\n"
                           "      scopes: [read, write, admin]\n"
                           "routes:\n  - name: leads-to-crm\n    from: leads\n"
                           "    types: [lead.*]\n    to: [crm]\n");
    free(crm_url);
    free(api);
    free(oauth);
}

static void start(void)
{
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
    if (db == NULL) {
        db = testdb_connect(td.db_url);
    }
}

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static char *text(const char *sql)
{
    return testdb_text(db, sql);
}

static void assert_text(const char *sql, const char *expected)
{
    char *value = text(sql);
    ck_assert_msg(value != NULL && strcmp(value, expected) == 0, "%s\n  gave %s\n  expected %s",
                  sql, value != NULL ? value : "NULL", expected);
    free(value);
}

/* An admin request; the JSON answer (NEW). */
static json_t *admin(const char *method, const char *path, long *status_out)
{
    char *url = td_url(&td, path);
    const char *headers[] = {"Authorization: Bearer " ADMIN_TOKEN, NULL};
    struct http_result result;
    ck_assert_int_eq(http_request(method, url, headers, NULL, 0, &result), 0);
    free(url);
    if (status_out != NULL) {
        *status_out = result.status;
    }
    json_t *body = json_loads(result.body, 0, NULL);
    ck_assert_ptr_null(strstr(result.body, CLIENT_SECRET));
    ck_assert_ptr_null(strstr(result.body, "fake-oauth-"));
    http_result_free(&result);
    return body;
}

static void sync_now(void)
{
    long status = 0;
    json_decref(admin("POST", "/v1/connectors/leads/sync", &status));
    ck_assert_int_eq(status, 202);
}

/* `leadhubd connect leads --no-browser` through the fake's consent screen. */
static void consent(void)
{
    char *config = tu_path(td.dir, "leadhub.yaml");
    const char *args[] = {"leads", "-c", config, "--no-browser", "--timeout", "60s", NULL};
    struct connect_cli cli;
    char *url = connect_cli_start(&cli, args);
    ck_assert_msg(url != NULL, "connect printed no address: %s", strbuf_value(&cli.output));
    /* the scope the Lead Sync product needs, space-separated, and no PKCE */
    char *scope = fake_oauth_query_param(url, "scope");
    ck_assert_str_eq(scope, "r_marketing_leadgen_automation r_ads");
    free(scope);
    char *location = fake_oauth_browse(url, NULL);
    ck_assert_ptr_nonnull(location);
    connect_cli_paste(&cli, location);
    char *output = NULL;
    int rc = connect_cli_finish(&cli, &output);
    ck_assert_msg(rc == 0, "connect failed (%d): %s", rc, output);
    free(output);
    free(location);
    free(url);
    free(config);
}

static bool last_poll_is(void *arg)
{
    char *sql = util_printf("SELECT count(*) FROM connector_status WHERE instance = 'leads' AND "
                            "last_poll_outcome = '%s'",
                            (const char *)arg);
    bool yes = scalar(sql) > 0;
    free(sql);
    return yes;
}

static bool subscribed(void *arg)
{
    (void)arg;
    json_t *subscriptions = fake_linkedin_subscriptions(li);
    bool yes = json_array_size(subscriptions) > 0;
    json_decref(subscriptions);
    return yes;
}

/* Started, consented, polled once: subscribed to notifications. */
static void start_connected(const char *extra)
{
    td_init(&td, NULL);
    configure(extra);
    start();
    consent();
    /* the daemon looks for a new grant every 2 s after a refusal: ask until a poll has it */
    bool polled = false;
    for (int i = 0; i < 10 && !polled; i++) {
        sync_now();
        polled = td_wait_until(subscribed, NULL, 3000);
    }
    if (!polled || !td_wait_until(last_poll_is, "ok", 20000)) {
        char *log = td_log(&td);
        ck_abort_msg("the first poll did not subscribe:\n%s", log);
    }
}

static long events_of(const char *type)
{
    char *sql =
        util_printf("SELECT count(*) FROM events WHERE source = 'leads' AND type = '%s'", type);
    long n = scalar(sql);
    free(sql);
    return n;
}

struct wait_count {
    const char *type;
    long at_least;
};

static bool events_reach(void *arg)
{
    const struct wait_count *w = arg;
    return events_of(w->type) >= w->at_least;
}

static bool notifications_drained(void *arg)
{
    (void)arg;
    return scalar("SELECT count(*) FROM connector_notifications WHERE instance = 'leads'") == 0;
}

static char *webhook_url(void)
{
    return td_url(&td, "/webhooks/leads");
}

static long notify(const char *id, const char *action, enum fake_linkedin_reading reading)
{
    char *body = fake_linkedin_notification(id, EN_FORM_URN, ACCOUNT, action, 1765100000000LL);
    char *url = webhook_url();
    long status = fake_linkedin_post(li, url, body, reading);
    free(url);
    free(body);
    return status;
}

/* --- tests --------------------------------------------------------------------------- */

START_TEST(test_linkedin_e2e_notification_stores_the_lead_within_a_second_of_its_poll)
{
    start_connected(NULL);
    /* the subscription LinkedIn took after its challenge: owner level, our URL */
    json_t *subscriptions = fake_linkedin_subscriptions(li);
    ck_assert_uint_eq(json_array_size(subscriptions), 1);
    json_t *sub = json_array_get(subscriptions, 0);
    char *url = webhook_url();
    ck_assert_str_eq(json_string_value(json_object_get(sub, "webhook")), url);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(sub, "owner"), "sponsoredAccount")),
        "urn:li:sponsoredAccount:" ACCOUNT);
    ck_assert_str_eq(json_string_value(json_object_get(sub, "leadType")), "SPONSORED");
    json_decref(subscriptions);
    /* LinkedIn's refresh token counts down from the consent: the days left are shown */
    json_t *status = admin("GET", "/v1/connectors/leads", NULL);
    json_t *oauth = json_object_get(status, "oauth");
    json_int_t days = json_integer_value(json_object_get(oauth, "refresh_token_days_left"));
    ck_assert_msg(days == 299 || days == 300, "days left: %lld", (long long)days);
    ck_assert_str_eq(json_string_value(json_object_get(oauth, "state")), "granted");
    json_decref(status);
    /* LinkedIn's re-validation, every two hours */
    bool valid = false;
    ck_assert_int_eq(fake_linkedin_challenge(li, url, &valid), 200);
    ck_assert(valid);
    free(url);

    add_en_form();
    add(en_response(EN_ID, now_ms() - 60000, "hannah.okafor@brightline-freight.com", false));
    ck_assert_int_eq(notify(EN_ID, "CREATED", FAKE_LINKEDIN_READING_A), 200);
    /* stored within a second of the poll it triggered fetching the response */
    int64_t seen_at = 0;
    for (int i = 0; i < 4000 && seen_at == 0; i++) {
        if (events_of("lead.created") == 1) {
            seen_at = util_monotonic_ms();
        } else {
            usleep(5000);
        }
    }
    ck_assert_msg(seen_at != 0, "the notified lead was not stored");
    struct fake_request fetch =
        fake_linkedin_request(li, "GET", "/rest/leadFormResponses/" EN_ID, 0);
    ck_assert_msg(seen_at - fetch.at_ms < 1000, "stored %lld ms after the fetch",
                  (long long)(seen_at - fetch.at_ms));
    fprintf(stderr, "linkedin: notification fetched, stored %lld ms later\n",
            (long long)(seen_at - fetch.at_ms));
    ck_assert_ptr_nonnull(strstr(fetch.headers, "LinkedIn-Version: 202511"));
    ck_assert_ptr_nonnull(strstr(fetch.headers, "X-Restli-Protocol-Version: 2.0.0"));
    fake_http_request_free(&fetch);

    /* the lead, mapped by predefinedField; the custom question under its name */
    assert_text("SELECT concat_ws('|', email, first_name, last_name, company, title, phone, "
                "attributes->>'custom_question_0', attributes->>'consent_0') FROM leads",
                "hannah.okafor@brightline-freight.com|Hannah|Okafor|Brightline Freight|VP of "
                "Revenue Operations|+1 312 555 0147|11-50|true");
    /* where it came from, for attribution */
    assert_text("SELECT concat_ws('|', payload #>> '{data,campaign}', payload #>> "
                "'{data,creative}', payload #>> '{data,form,id}', payload #>> "
                "'{data,form,version}', payload #>> '{data,test}', payload #>> "
                "'{data,hidden_fields,utm_campaign}') "
                "FROM events WHERE type = 'lead.created'",
                "urn:li:sponsoredCampaign:312847756|urn:li:sponsoredCreative:601928374|"
                "8843127|2|false|q1-demo-push");
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries WHERE destination = 'crm'"), 1);

    /* the other reading of X-LI-Signature is accepted too, and each is logged */
    add(en_response("b2c3d4e5-0000-4000-8000-00000000000b-1", now_ms() - 30000,
                    "grace@navy.example", false));
    ck_assert_int_eq(
        notify("b2c3d4e5-0000-4000-8000-00000000000b-1", "CREATED", FAKE_LINKEDIN_READING_B), 200);
    struct wait_count two = {"lead.created", 2};
    ck_assert(td_wait_until(events_reach, &two, 10000));
    char *log = td_log(&td);
    ck_assert_ptr_nonnull(strstr(log, "matched reading prefixed_message"));
    ck_assert_ptr_nonnull(strstr(log, "matched reading prefixed_header"));
    ck_assert_ptr_null(strstr(log, CLIENT_SECRET));
    free(log);

    /* a response deleted before its poll (404) is dropped: it holds nothing back */
    ck_assert_int_eq(
        notify("0dead000-1111-4222-8333-444455556666-1", "CREATED", FAKE_LINKEDIN_READING_A), 200);
    ck_assert(td_wait_until(notifications_drained, NULL, 10000));

    /* a redelivery changes nothing; a forged one is refused before anything is recorded */
    ck_assert_int_eq(notify(EN_ID, "CREATED", FAKE_LINKEDIN_READING_A), 200);
    char *forged_body = fake_linkedin_notification(
        "c0ffee00-1111-4222-8333-444455556666-1", EN_FORM_URN, ACCOUNT, "CREATED", 1765100000000LL);
    char *forged =
        fake_linkedin_sign("not-the-client-secret", forged_body, FAKE_LINKEDIN_READING_A);
    char *header = util_printf("X-LI-Signature: %s", forged);
    const char *headers[] = {header, NULL};
    struct http_result r;
    url = webhook_url();
    http_request("POST", url, headers, forged_body, strlen(forged_body), &r);
    ck_assert_int_eq(r.status, 401);
    http_result_free(&r);
    free(url);
    free(header);
    free(forged);
    free(forged_body);
    ck_assert(td_wait_until(last_poll_is, "ok", 10000));
    sync_now();
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_notifications WHERE instance = "
                            "'leads' AND key LIKE '%c0ffee00%'"),
                     0);
    ck_assert_int_eq(events_of("lead.created"), 2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries"), 2);
}
END_TEST

START_TEST(test_linkedin_e2e_backfill_maps_two_languages_and_keeps_test_leads_from_routes)
{
    add_en_form();
    json_t *form = fixture("form.es.json");
    fake_linkedin_add_form(li, form);
    json_decref(form);
    json_t *es = fixture("response.es.json");
    json_object_set_new(es, "submittedAt", json_integer(now_ms() - 2 * DAY_MS));
    add(es);
    add(en_response(EN_ID, now_ms() - DAY_MS, "hannah.okafor@brightline-freight.com", false));
    add(en_response("d00d0000-aaaa-4bbb-8ccc-test00000001-1", now_ms() - DAY_MS + 1000,
                    "test.lead@linkedin.example", true));
    /* older than the backfill: never asked for */
    add(en_response("e1d0a000-aaaa-4bbb-8ccc-000000000040-1", now_ms() - 40 * DAY_MS,
                    "too.old@example.com", false));
    start_connected("  backfill: 30d\n");
    struct wait_count three = {"lead.created", 3};
    ck_assert(td_wait_until(events_reach, &three, 20000));

    /* Spanish: predefined fields, choices by their Spanish text, an unknown answer kept */
    assert_text("SELECT concat_ws('|', first_name, last_name, email, company, "
                "attributes->>'country', attributes->>'custom_question_0', "
                "attributes->>'custom_question_1', attributes->'custom_question_2', "
                "attributes #>> '{custom_question_3,dateQuestionAnswer,date,year}', "
                "attributes->>'consent_0') FROM leads WHERE email LIKE 'lucia%'",
                "Lucía|Fernández Ríos|lucia.fernandez@almacenes-iberia.es|Almacenes Iberia|"
                "España|De 11 a 50|En marzo, después de la feria|[\"CRM\", \"Correo\"]|2027|"
                "false");
    assert_text("SELECT concat_ws('|', payload #>> '{data,questions,custom_question_0}', "
                "payload #>> '{data,hidden_fields,utm_source}', payload #>> "
                "'{data,consents,0,text}') FROM events WHERE source_id = "
                "'a81c44d0-5e2b-4c7a-9f13-8b0d2e6c1a55-1'",
                "¿Cuántos comerciales tiene su equipo?|linkedin-es|Acepto recibir correos "
                "comerciales.");
    /* English, from the same poll */
    assert_text("SELECT attributes->>'custom_question_0' FROM leads WHERE email LIKE 'hannah%'",
                "11-50");
    /* the test lead: stored and flagged, routed nowhere; the real ones routed */
    assert_text("SELECT concat_ws('|', payload #>> '{data,test}', payload #>> "
                "'{data,routable}') FROM events WHERE source_id LIKE '%test00000001%'",
                "true|false");
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries d JOIN events e ON e.id = "
                            "d.event_id WHERE e.source_id LIKE '%test00000001%'"),
                     0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries"), 2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE source_id LIKE 'e1d0a000%'"), 0);
    /* one fetch per form version, whatever the number of its responses */
    ck_assert_uint_eq(fake_linkedin_count(li, "GET", "/rest/leadForms/8843127", 0), 1);

    /* the owner as Rest.li 2.0 writes it; LinkedIn refuses a URN whose ':' are not encoded */
    struct fake_request finder = fake_linkedin_request(li, "GET", "/rest/leadFormResponses?", 0);
    ck_assert_ptr_nonnull(
        strstr(finder.url, "owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A" ACCOUNT ")"));
    ck_assert_ptr_nonnull(strstr(finder.url, "leadType=(leadType:SPONSORED)"));
    ck_assert_ptr_nonnull(strstr(finder.url, "submittedAtTimeRange=(start:"));
    char *bad_url = strdup(finder.url);
    char *owner = strstr(bad_url, "urn%3Ali%3AsponsoredAccount%3A");
    memcpy(owner, "urn:li:sponsoredAccount:", strlen("urn:li:sponsoredAccount:"));
    memmove(owner + strlen("urn:li:sponsoredAccount:"),
            owner + strlen("urn%3Ali%3AsponsoredAccount%3A"),
            strlen(owner + strlen("urn%3Ali%3AsponsoredAccount%3A")) + 1);
    char *base = fake_linkedin_api_base(li);
    char *good = util_printf("%s%s", base, finder.url + strlen("/rest"));
    char *bad = util_printf("%s%s", base, bad_url + strlen("/rest"));
    char *auth = util_printf("Authorization: %s", finder.authorization);
    const char *headers[] = {auth, "LinkedIn-Version: 202511", "X-Restli-Protocol-Version: 2.0.0",
                             NULL};
    struct http_result r;
    http_request("GET", good, headers, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    http_result_free(&r);
    http_request("GET", bad, headers, NULL, 0, &r);
    ck_assert_int_eq(r.status, 400);
    http_result_free(&r);
    free(auth);
    free(bad);
    free(good);
    free(base);
    free(bad_url);
    fake_http_request_free(&finder);

    /* a member without a role on the account: a reason that says what is missing */
    fake_linkedin_forbid(li, true);
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "config", 20000));
    char *forbidden = text("SELECT last_error FROM connector_status WHERE instance = 'leads'");
    ck_assert_msg(strstr(forbidden, "403") != NULL &&
                      strstr(forbidden, "r_marketing_leadgen_automation") != NULL,
                  "%s", forbidden);
    free(forbidden);
    fake_linkedin_forbid(li, false);
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "ok", 20000));

    /* a sunset LinkedIn-Version says what to change */
    fake_linkedin_sunset_before(li, "203001");
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "config", 20000));
    char *error = text("SELECT last_error FROM connector_status WHERE instance = 'leads'");
    ck_assert_msg(strstr(error, "update linkedin_version") != NULL, "%s", error);
    free(error);
}
END_TEST

START_TEST(test_linkedin_e2e_deleted_action_erases_the_leads_personal_fields)
{
    start_connected(NULL);
    add_en_form();
    add(en_response(EN_ID, now_ms() - 60000, "hannah.okafor@brightline-freight.com", false));
    ck_assert_int_eq(notify(EN_ID, "CREATED", FAKE_LINKEDIN_READING_A), 200);
    struct wait_count one = {"lead.created", 1};
    ck_assert(td_wait_until(events_reach, &one, 10000));
    long lead = scalar("SELECT id FROM leads WHERE email = 'hannah.okafor@brightline-freight.com'");

    /* the member deleted the response (or asked LinkedIn to forget them) */
    fake_linkedin_delete_response(li, EN_ID);
    ck_assert_int_eq(notify(EN_ID, "DELETED", FAKE_LINKEDIN_READING_B), 200);
    struct wait_count erased = {"lead.erased", 1};
    ck_assert(td_wait_until(events_reach, &erased, 10000));
    char *sql =
        util_printf("SELECT concat_ws('|', coalesce(email, '-'), coalesce(first_name, '-'), "
                    "coalesce(last_name, '-'), coalesce(company, '-'), coalesce(title, "
                    "'-'), coalesce(phone, '-'), attributes ? 'erased_at', "
                    "(SELECT count(*) FROM jsonb_object_keys(attributes))) "
                    "FROM leads WHERE id = %ld",
                    lead);
    assert_text(sql, "-|-|-|-|-|-|t|1");
    free(sql);
    /* the events say what happened, no longer who: no raw payload, the lead by its id only */
    assert_text("SELECT string_agg(type || ' ' || (payload ? 'raw')::text || ' ' || "
                "(payload->'lead')::text, ', ' ORDER BY type) FROM events",
                "lead.created false {\"external_id\": \"" EN_ID "\"}, lead.erased false "
                "{\"external_id\": \"" EN_ID "\"}");
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE payload::text LIKE '%hannah%' OR "
                            "payload::text LIKE '%Okafor%'"),
                     0);
    /* routed, so the CRM's copy can be erased too */
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries d JOIN events e ON e.id = "
                            "d.event_id WHERE e.type = 'lead.erased'"),
                     1);
    /* a redelivered deletion changes nothing */
    ck_assert_int_eq(notify(EN_ID, "DELETED", FAKE_LINKEDIN_READING_B), 200);
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "ok", 10000));
    ck_assert_int_eq(events_of("lead.erased"), 1);
}
END_TEST

static bool ready_shows_hold(void *arg)
{
    (void)arg;
    char *url = td_url(&td, "/readyz");
    struct http_result r;
    bool yes = http_get(url, &r) == 0 && r.status == 200 && r.body != NULL &&
               strstr(r.body, "\"held_until\"") != NULL;
    http_result_free(&r);
    free(url);
    return yes;
}

START_TEST(test_linkedin_e2e_daily_limit_holds_the_poll_until_midnight_utc_without_dead_letters)
{
    start_connected(NULL);
    add_en_form();
    add(en_response(EN_ID, now_ms() - 60000, "hannah.okafor@brightline-freight.com", false));
    ck_assert_int_eq(notify(EN_ID, "CREATED", FAKE_LINKEDIN_READING_A), 200);
    struct wait_count one = {"lead.created", 1};
    ck_assert(td_wait_until(events_reach, &one, 10000));

    fake_linkedin_daily_limit(li, true);
    const char *second = "f00dbabe-1111-4222-8333-444455556666-2";
    add(en_response(second, now_ms() - 30000, "second@brightline-freight.com", false));
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "retry_after", 20000));
    size_t asked = fake_linkedin_count(li, "GET", "/rest/", 429);
    ck_assert_uint_ge(asked, 1);
    /* held until just after the next midnight UTC, shown as such */
    json_t *status = admin("GET", "/v1/connectors/leads", NULL);
    const char *held = json_string_value(json_object_get(status, "poll_held_until"));
    ck_assert_msg(held != NULL, "no poll_held_until");
    int64_t held_ms = 0;
    ck_assert_int_eq(util_parse_rfc3339(held, &held_ms), 0);
    int64_t midnight = (now_ms() / DAY_MS + 1) * DAY_MS;
    ck_assert_msg(held_ms >= midnight && held_ms <= midnight + 10 * 60 * 1000, "held until %s",
                  held);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(json_object_get(status, "last_poll"), "error")),
               "daily limit"));
    /* a hold, not a failure: the attention says so, and no failure is counted */
    char *attention = json_dumps(json_object_get(status, "attention"), JSON_COMPACT);
    ck_assert_msg(strstr(attention, "poll_held") != NULL &&
                      strstr(attention, "poll_failing") == NULL,
                  "%s", attention);
    free(attention);
    ck_assert_int_eq(json_integer_value(json_object_get(status, "consecutive_failures")), 0);
    json_decref(status);
    /* a lead notified during the hold is recorded and waits: nothing asked, nothing dead */
    ck_assert_int_eq(notify(second, "CREATED", FAKE_LINKEDIN_READING_A), 200);
    /* a deletion needs no call: a poll asked for during the hold erases at once */
    ck_assert_int_eq(notify(EN_ID, "DELETED", FAKE_LINKEDIN_READING_B), 200);
    sync_now();
    struct wait_count erased = {"lead.erased", 1};
    ck_assert(td_wait_until(events_reach, &erased, 10000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM connector_notifications WHERE instance = "
                            "'leads' AND key LIKE 'lead:f00dbabe%'"),
                     1);
    sync_now();
    ck_assert(td_wait_until(last_poll_is, "retry_after", 20000));
    ck_assert_uint_eq(fake_linkedin_count(li, "GET", "/rest/", 429), asked);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries WHERE status = 'dead'"), 0);
    ck_assert_int_eq(events_of("lead.created"), 1);
    /* ready all along; /readyz (its checker's last verdict) shows the hold too */
    ck_assert(td_wait_until(ready_shows_hold, NULL, 10000));
}
END_TEST

static bool resumed_walk_done(void *arg)
{
    (void)arg;
    return events_of("lead.created") >= 23;
}

START_TEST(test_linkedin_e2e_restart_mid_backfill_resumes_without_gaps_or_duplicates)
{
    add_en_form();
    for (int i = 0; i < 23; i++) {
        char id[64], email[64];
        snprintf(id, sizeof(id), "5e5e5e5e-0000-4000-8000-%012d-1", i);
        snprintf(email, sizeof(email), "lead%02d@backfill.example", i);
        add(en_response(id, now_ms() - (int64_t)(i + 1) * DAY_MS / 2, email, false));
    }
    fake_linkedin_finder_delay(li, 250);
    start_connected("  backfill: 30d\n  page_size: 2\n");
    struct wait_count some = {"lead.created", 6};
    ck_assert(td_wait_until(events_reach, &some, 30000));
    td_kill(&td); /* mid-walk: whatever the poll held uncommitted is lost */
    long before = events_of("lead.created");
    ck_assert_int_lt(before, 23);
    size_t asked_before = fake_linkedin_count(li, "GET", "/rest/leadFormResponses?", 0);
    fake_linkedin_finder_delay(li, 0);
    start();
    ck_assert(td_wait_until(resumed_walk_done, NULL, 30000));
    ck_assert_int_eq(events_of("lead.created"), 23);
    ck_assert_int_eq(scalar("SELECT count(DISTINCT email) FROM leads"), 23);
    /* resumed at the page after the last one committed, in the same window */
    struct fake_request first = fake_linkedin_request(li, "GET", "/rest/leadFormResponses?", 0);
    struct fake_request resumed =
        fake_linkedin_request(li, "GET", "/rest/leadFormResponses?", asked_before);
    char *expected = util_printf("&start=%ld&", before);
    ck_assert_msg(strstr(resumed.url, expected) != NULL, "resumed with %s (%ld stored)",
                  resumed.url, before);
    char *window = strstr(first.url, "submittedAtTimeRange=");
    window = strndup(window, strcspn(window, "&"));
    ck_assert_ptr_nonnull(strstr(resumed.url, window));
    free(window);
    free(expected);
    fake_http_request_free(&first);
    fake_http_request_free(&resumed);
}
END_TEST

/* One case per test, so that CK_RUN_CASE=<name> runs one alone. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

int main(void)
{
    Suite *s = suite_create("linkedin_e2e");
    add_case(s, "notification",
             test_linkedin_e2e_notification_stores_the_lead_within_a_second_of_its_poll);
    add_case(s, "backfill",
             test_linkedin_e2e_backfill_maps_two_languages_and_keeps_test_leads_from_routes);
    add_case(s, "deleted", test_linkedin_e2e_deleted_action_erases_the_leads_personal_fields);
    add_case(s, "daily_limit",
             test_linkedin_e2e_daily_limit_holds_the_poll_until_midnight_utc_without_dead_letters);
    add_case(s, "restart",
             test_linkedin_e2e_restart_mid_backfill_resumes_without_gaps_or_duplicates);
    return tu_run_suite(s);
}
