/*
 * test_crm_swap.c - the lock-in test: one scenario (leads, a lead's update, an address in
 * another case, meetings booked, moved and canceled, payments, one paid from a second
 * address) posted to a `webhook` instance "inbound" and routed to an instance "crm", run
 * through the real daemon twice, each time with a fresh database: once with "crm" a
 * `hubspot` instance on the fake HubSpot, once a `pipedrive` instance on the fake
 * Pipedrive. Only the instance file differs (CRMS below); the scenario and the main
 * configuration are shared. Both CRMs must end up holding the expected outcome, in the
 * CRM-neutral view each fake gives (crm_view.h): every lead present once, customers
 * marked, meetings recorded with their final state.
 */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_harness.h"
#include "fake_hubspot.h"
#include "fake_pipedrive.h"
#include "testdb.h"
#include "testutil.h"
#include "util.h"

#define INBOUND_SECRET    "crm-swap-inbound-secret"
#define CRM_TOKEN         "crm-swap-token-6e1b90"
#define CUSTOMER_LABEL_ID 5

/* --- the one thing that differs: the instance file ------------------------------------ */

static const char HUBSPOT_INSTANCE[] = "name: crm\n"
                                       "plugin: hubspot\n"
                                       "settings:\n"
                                       "  auth: private_app\n"
                                       "  access_token: ${LHTEST_CRM_TOKEN}\n"
                                       "  api_base: ${LHTEST_CRM_BASE}\n"
                                       "  search_interval: 0s\n";

static const char PIPEDRIVE_INSTANCE[] = "name: crm\n"
                                         "plugin: pipedrive\n"
                                         "settings:\n"
                                         "  auth: api_token\n"
                                         "  api_token: ${LHTEST_CRM_TOKEN}\n"
                                         "  api_base: ${LHTEST_CRM_BASE}\n"
                                         "  customer_label_id: 5\n";

/* --- shared: the main configuration and the scenario ----------------------------------- */

static const char MAIN_CONFIG[] = "routes:\n"
                                  "  - name: to-crm\n"
                                  "    from: inbound\n"
                                  "    types: [\"lead.*\", \"meeting.*\", \"payment.succeeded\"]\n"
                                  "    to: [crm]\n"
                                  "delivery:\n"
                                  "  backoff_base: 20ms\n"
                                  "  backoff_cap: 500ms\n"
                                  "  max_attempts: 8\n";

#define LEAD(id, type, lead)                                                                       \
    "{\"type\":\"" type "\",\"source_id\":\"" id "\",\"occurred_at\":\"2026-12-01T10:00:00Z\","    \
    "\"lead\":" lead "}"

/* Steps of events posted to "inbound"; each step's deliveries settle before the next (the
 * order a CRM sees one lead's events in is then the scenario's). */
static const struct step {
    const char *events; /* a JSON array */
    int count;          /* how many deliveries it makes */
} SCENARIO[] = {
    {"[" LEAD("l-ada", "lead.created",
              "{\"email\":\"ada@analytical.example\",\"first_name\":\"Ada\",\"last_name\":"
              "\"Lovelace\",\"company\":\"Analytical Engines\"}") "," //
     LEAD("l-grace", "lead.created",
          "{\"email\":\"grace@navy.example\",\"first_name\":\"Grace\",\"last_name\":"
          "\"Hopper\"}") "," LEAD("l-alan", "lead.created",
                                  "{\"email\":\"alan@bletchley.example\",\"first_name\":"
                                  "\"Alan\",\"last_name\":\"Turing\","
                                  "\"external_id\":\"cust-alan\"}") "," //
     LEAD("l-katherine", "lead.created",
          "{\"email\":\"katherine@nasa.example\",\"first_name\":\"Katherine\",\"last_name\":"
          "\"Johnson\",\"company\":\"NASA\"}") "," //
     LEAD("l-dorothy", "lead.created",
          "{\"email\":\"dorothy@nasa.example\",\"first_name\":\"Dorothy\",\"last_name\":"
          "\"Vaughan\",\"company\":\"NASA\"}") "," //
     LEAD("l-margaret", "lead.created",
          "{\"email\":\"margaret@apollo.example\",\"first_name\":\"Margaret\",\"last_name\":"
          "\"Hamilton\"}") "]",
     6},
    /* Ada marries; Grace again, her address in capitals: the same lead */
    {"[" LEAD("l-ada-2", "lead.updated",
              "{\"email\":\"ada@analytical.example\",\"last_name\":\"King\"}") "," //
     LEAD("l-grace-2", "lead.created",
          "{\"email\":\"GRACE@Navy.Example\",\"first_name\":\"Grace\",\"last_name\":\"Hopper\","
          "\"phone\":\"+1 555 0100\"}") "]",
     2},
    /* two meetings booked: one with a lead and a rep, one with two leads and a rep */
    {"[{\"type\":\"meeting.scheduled\",\"source_id\":\"m-intro-1\",\"occurred_at\":"
     "\"2026-12-02T09:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\"},\"meeting\":{"
     "\"external_id\":\"m-intro\",\"title\":\"Intro "
     "call\",\"starts_at\":\"2027-01-12T15:00:00Z\","
     "\"ends_at\":\"2027-01-12T15:30:00Z\",\"organizer\":{\"email\":\"rep@ourco.example\"},"
     "\"attendees\":[{\"email\":\"ada@analytical.example\",\"response\":\"accepted\"},"
     "{\"email\":\"rep@ourco.example\",\"response\":\"accepted\"}]}},"
     "{\"type\":\"meeting.scheduled\",\"source_id\":\"m-demo-1\",\"occurred_at\":"
     "\"2026-12-02T09:05:00Z\",\"lead\":{\"email\":\"grace@navy.example\"},\"meeting\":{"
     "\"external_id\":\"m-demo\",\"title\":\"Product demo\",\"starts_at\":"
     "\"2027-01-13T10:00:00Z\",\"ends_at\":\"2027-01-13T11:00:00Z\",\"organizer\":{\"email\":"
     "\"rep@ourco.example\"},\"attendees\":[{\"email\":\"grace@navy.example\"},"
     "{\"email\":\"katherine@nasa.example\"},{\"email\":\"rep@ourco.example\"}]}}]",
     2},
    /* the intro moves; the demo is called off */
    {"[{\"type\":\"meeting.rescheduled\",\"source_id\":\"m-intro-2\",\"occurred_at\":"
     "\"2026-12-03T09:00:00Z\",\"lead\":{\"email\":\"ada@analytical.example\"},\"meeting\":{"
     "\"external_id\":\"m-intro\",\"title\":\"Intro "
     "call\",\"starts_at\":\"2027-01-14T16:30:00Z\","
     "\"ends_at\":\"2027-01-14T17:00:00Z\",\"status\":\"rescheduled\"}},"
     "{\"type\":\"meeting.canceled\",\"source_id\":\"m-demo-2\",\"occurred_at\":"
     "\"2026-12-03T09:05:00Z\",\"lead\":{\"email\":\"grace@navy.example\"},\"meeting\":{"
     "\"external_id\":\"m-demo\",\"title\":\"Product demo\",\"starts_at\":"
     "\"2027-01-13T10:00:00Z\",\"ends_at\":\"2027-01-13T11:00:00Z\",\"status\":\"canceled\"}}]",
     2},
    /* Katherine pays; Alan's accounts department pays for him from its own address */
    {"[{\"type\":\"payment.succeeded\",\"source_id\":\"p-katherine\",\"occurred_at\":"
     "\"2026-12-04T09:00:00Z\",\"lead\":{\"email\":\"katherine@nasa.example\"},\"data\":{"
     "\"amount\":120000,\"currency\":\"eur\",\"payment\":\"in_katherine\"}},"
     "{\"type\":\"payment.succeeded\",\"source_id\":\"p-alan\",\"occurred_at\":"
     "\"2026-12-04T09:05:00Z\",\"lead\":{\"email\":\"accounts@bletchley.example\","
     "\"external_id\":\"cust-alan\"},\"data\":{\"amount\":9900,\"currency\":\"eur\","
     "\"payment\":\"in_alan\"}}]",
     2},
};

/* What either CRM must hold after the scenario (crm_view.h). */
static const char EXPECTED_VIEW[] =
    "[{\"company\":\"Analytical Engines\",\"customer\":false,\"email\":\"ada@analytical.example\","
    "\"meetings\":[{\"start\":\"2027-01-14T16:30:00Z\",\"status\":\"booked\",\"title\":"
    "\"Intro call\"}],\"name\":\"Ada King\"},"
    "{\"company\":null,\"customer\":true,\"email\":\"alan@bletchley.example\",\"meetings\":[],"
    "\"name\":\"Alan Turing\"},"
    "{\"company\":\"NASA\",\"customer\":false,\"email\":\"dorothy@nasa.example\",\"meetings\":[],"
    "\"name\":\"Dorothy Vaughan\"},"
    "{\"company\":null,\"customer\":false,\"email\":\"grace@navy.example\",\"meetings\":["
    "{\"start\":\"2027-01-13T10:00:00Z\",\"status\":\"canceled\",\"title\":\"Product demo\"}],"
    "\"name\":\"Grace Hopper\"},"
    "{\"company\":\"NASA\",\"customer\":true,\"email\":\"katherine@nasa.example\",\"meetings\":["
    "{\"start\":\"2027-01-13T10:00:00Z\",\"status\":\"canceled\",\"title\":\"Product demo\"}],"
    "\"name\":\"Katherine Johnson\"},"
    "{\"company\":null,\"customer\":false,\"email\":\"margaret@apollo.example\",\"meetings\":[],"
    "\"name\":\"Margaret Hamilton\"}]";

static const char *const LEAD_EMAILS[] = {"ada@analytical.example", "grace@navy.example",
                                          "alan@bletchley.example", "katherine@nasa.example",
                                          "dorothy@nasa.example",   "margaret@apollo.example"};

/* --- the CRMs ---------------------------------------------------------------------------- */

struct crm {
    const char *plugin;
    const char *instance; /* the instance file */
    void *(*start)(void);
    char *(*base_url)(void *fake);
    char *(*view)(void *fake);
    void (*stop)(void *fake);
};

static void *hubspot_start(void)
{
    struct fake_hubspot *fake = fake_hubspot_start();
    ck_assert_ptr_nonnull(fake);
    fake_hubspot_allow_token(fake, CRM_TOKEN);
    return fake;
}

static char *hubspot_base(void *fake)
{
    return fake_hubspot_url(fake, "");
}

static char *hubspot_view(void *fake)
{
    return fake_hubspot_crm_view(fake);
}

static void hubspot_stop(void *fake)
{
    fake_hubspot_stop(fake);
}

static void *pipedrive_start(void)
{
    struct fake_pipedrive *fake = fake_pipedrive_start(CRM_TOKEN);
    ck_assert_ptr_nonnull(fake);
    return fake;
}

static char *pipedrive_base(void *fake)
{
    return fake_pipedrive_url(fake, "");
}

static char *pipedrive_view(void *fake)
{
    return fake_pipedrive_crm_view(fake, CUSTOMER_LABEL_ID);
}

static void pipedrive_stop(void *fake)
{
    fake_pipedrive_stop(fake);
}

static const struct crm HUBSPOT = {"hubspot",    HUBSPOT_INSTANCE, hubspot_start,
                                   hubspot_base, hubspot_view,     hubspot_stop};
static const struct crm PIPEDRIVE = {"pipedrive",    PIPEDRIVE_INSTANCE, pipedrive_start,
                                     pipedrive_base, pipedrive_view,     pipedrive_stop};

/* --- running the scenario ---------------------------------------------------------------- */

struct settled {
    PGconn *db;
    long deliveries; /* made so far */
};

static bool deliveries_settled(void *arg)
{
    const struct settled *s = arg;
    return testdb_scalar(s->db, "SELECT count(*) FROM deliveries WHERE status IN ('done', "
                                "'dead')") >= s->deliveries &&
           testdb_scalar(s->db, "SELECT count(*) FROM deliveries WHERE status NOT IN ('done', "
                                "'dead')") == 0;
}

static char *daemon_log_tail(const struct test_daemon *td)
{
    char *log = td_log(td);
    size_t len = strlen(log);
    char *tail = strdup(len > 6000 ? log + len - 6000 : log);
    free(log);
    return tail;
}

/* What the hub itself must hold after the scenario, whichever CRM it wrote to. */
static void assert_hub_tables(PGconn *db, const struct crm *crm)
{
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM leads"), 6);
    for (size_t i = 0; i < UTIL_ARRAY_LEN(LEAD_EMAILS); i++) {
        char *sql = util_printf("SELECT count(*) FROM leads WHERE email = '%s'", LEAD_EMAILS[i]);
        ck_assert_msg(testdb_scalar(db, sql) == 1, "%s: not one lead %s", crm->plugin,
                      LEAD_EMAILS[i]);
        free(sql);
    }
    char *failed = testdb_text(db, "SELECT coalesce(string_agg(e.source_id || ': ' || d.status || "
                                   "' ' || coalesce(d.last_error, ''), '; '), '') FROM deliveries "
                                   "d JOIN events e ON e.id = d.event_id WHERE d.status <> 'done'");
    ck_assert_msg(failed[0] == '\0', "%s: deliveries not done: %s", crm->plugin, failed);
    free(failed);
    ck_assert_int_eq(testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE destination = "
                                       "'crm'"),
                     14);
    char *meetings = testdb_text(db, "SELECT string_agg(external_id || '=' || status, ',' ORDER BY "
                                     "external_id) FROM meetings");
    ck_assert_str_eq(meetings, "m-demo=canceled,m-intro=rescheduled");
    free(meetings);
}

/* Runs the scenario with `crm` in a fresh database and daemon; the CRM's view (malloc'd). */
static char *run_scenario(const struct crm *crm)
{
    void *fake = crm->start();
    char *base = crm->base_url(fake);
    setenv("LHTEST_CRM_TOKEN", CRM_TOKEN, 1);
    setenv("LHTEST_CRM_BASE", base, 1);
    struct test_daemon td;
    td_init(&td, NULL);
    td.log_level = "info";
    td_webhook_instance(&td, "inbound", INBOUND_SECRET);
    td_connector(&td, "crm", crm->instance);
    td.extra_main = strdup(MAIN_CONFIG);
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("%s: the daemon did not start (%d):\n%s", crm->plugin, rc, log);
    }
    PGconn *db = testdb_connect(td.db_url);
    struct settled settled = {db, 0};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(SCENARIO); i++) {
        char *answer = NULL;
        int status = td_post(&td, "inbound", INBOUND_SECRET, SCENARIO[i].events, &answer);
        ck_assert_msg(status == 200, "%s: step %zu answered %d: %s", crm->plugin, i + 1, status,
                      answer);
        free(answer);
        settled.deliveries += SCENARIO[i].count;
        if (!td_wait_until(deliveries_settled, &settled, 60000)) {
            char *log = daemon_log_tail(&td);
            ck_abort_msg("%s: step %zu did not settle:\n%s", crm->plugin, i + 1, log);
        }
    }
    assert_hub_tables(db, crm);
    char *view = crm->view(fake);
    PQfinish(db);
    ck_assert_int_eq(td_stop(&td), 0);
    td_cleanup(&td);
    crm->stop(fake);
    free(base);
    return view;
}

static void assert_view(const struct crm *crm, const char *view)
{
    json_t *got = json_loads(view, 0, NULL);
    json_t *expected = json_loads(EXPECTED_VIEW, 0, NULL);
    ck_assert_ptr_nonnull(expected);
    ck_assert_msg(json_equal(got, expected), "%s holds:\n%s\nexpected:\n%s", crm->plugin, view,
                  EXPECTED_VIEW);
    json_decref(got);
    json_decref(expected);
}

/* The swap itself: the same scenario, the instance file of the other CRM, the same view. */
START_TEST(test_crm_swap_pipedrive_in_hubspot_place_holds_the_same)
{
    char *hubspot = run_scenario(&HUBSPOT);
    char *pipedrive = run_scenario(&PIPEDRIVE);
    json_t *a = json_loads(hubspot, 0, NULL);
    json_t *b = json_loads(pipedrive, 0, NULL);
    /* each holds the expected outcome (so two empty views cannot pass), and so the same */
    assert_view(&HUBSPOT, hubspot);
    assert_view(&PIPEDRIVE, pipedrive);
    ck_assert_msg(json_equal(a, b), "hubspot holds:\n%s\npipedrive holds:\n%s", hubspot, pipedrive);
    json_decref(a);
    json_decref(b);
    free(hubspot);
    free(pipedrive);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("crm_swap");
    TCase *tc = tcase_create("swap");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_crm_swap_pipedrive_in_hubspot_place_holds_the_same);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
