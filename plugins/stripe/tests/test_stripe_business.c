/*
 * test_stripe_business.c - what the business reads of Stripe, through the real daemon, a
 * real PostgreSQL, the fake Stripe (webhooks signed as Stripe signs them, and the Events
 * API for the poll) and the fake HubSpot as the CRM the payments are routed to:
 *
 *   - a subscription Checkout and its first invoice are one payment, not two;
 *   - a buyer paying by SEPA debit is known at checkout and paid when the money settles;
 *   - a trial's $0 invoice is no purchase, and the CRM does not call a trial user a customer;
 *   - a payment for a known lead from another address (an accounts department) marks the
 *     known lead a customer, in the hub and in the CRM, and makes no second customer;
 *   - a customer without an email leaves no blank lead and no dead delivery: what is about
 *     it waits, and goes once its email arrives;
 *   - scheduled cancellations, their withdrawal, refunds (partial, full) and the canceled
 *     subscription's last period are events;
 *   - a scripted month of activity: per customer, payments minus refunds stored by the hub
 *     equal what Stripe's own objects say, to the minor unit, zero-decimal yen included.
 *
 * Needs $LEADHUB_TEST_DATABASE_URL (scripts/run-tests.sh starts a throwaway server).
 */
#include <check.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon_harness.h"
#include "fake_hubspot.h"
#include "fake_stripe.h"
#include "http_client.h"
#include "stripe_builders.h"
#include "testdb.h"

#define HS_TOKEN       "pat-na1-business-7e2c"
#define API_TOKEN      "business-read-token-51a9"
#define INBOUND_SECRET "business-inbound-secret"

static struct fake_stripe *stripe;
static struct fake_hubspot *hubspot;
static struct test_daemon td;
static PGconn *db;
static long long now_s; /* the scenario's clock: events happen before it */

static void setup(void)
{
    setenv("ST_API_KEY", ST_API_KEY, 1);
    setenv("ST_WEBHOOK_SECRET", ST_WEBHOOK_SECRET, 1);
    setenv("LHTEST_HUBSPOT_TOKEN", HS_TOKEN, 1);
    setenv("LHTEST_API_TOKEN", API_TOKEN, 1);
    stripe = fake_stripe_start(ST_API_KEY);
    hubspot = fake_hubspot_start();
    ck_assert_ptr_nonnull(stripe);
    ck_assert_ptr_nonnull(hubspot);
    fake_hubspot_allow_token(hubspot, HS_TOKEN);
    now_s = (long long)time(NULL);
    db = NULL;
}

static void teardown(void)
{
    if (db != NULL) {
        PQfinish(db);
    }
    if (td.pid != 0) {
        int status = td_stop(&td);
        if (status != 0) {
            char *log = td_log(&td);
            fprintf(stderr, "daemon exit %d:\n%s\n", status, log);
            free(log);
        }
        ck_assert_int_eq(status, 0);
    }
    td_cleanup(&td);
    fake_hubspot_stop(hubspot);
    fake_stripe_stop(stripe);
}

/*
 * The daemon: `billing` (Stripe: webhooks, and the Events API reaching 30 days back),
 * `crm` (HubSpot) taking what Stripe says of customers and payments, `inbound` (the
 * business's own leads), a read token for the API.
 */
static void start_daemon(void)
{
    td_init(&td, NULL);
    td_webhook_instance(&td, "inbound", INBOUND_SECRET);
    char *base = fake_stripe_base_url(stripe);
    char *billing = util_printf("name: billing\nplugin: stripe\npoll_interval: 1h\nsettings:\n"
                                "  api_key: ${ST_API_KEY}\n  webhook_secret: ${ST_WEBHOOK_SECRET}\n"
                                "  api_base: %s\n  backfill: 30d\n",
                                base);
    td_connector(&td, "billing", billing);
    free(billing);
    free(base);
    char *crm_base = fake_hubspot_url(hubspot, "");
    char *crm = util_printf("name: crm\nplugin: hubspot\npoll_interval: 1h\nsettings:\n"
                            "  auth: private_app\n  access_token: ${LHTEST_HUBSPOT_TOKEN}\n"
                            "  api_base: %s\n  search_interval: 0s\n  pull: [deals]\n",
                            crm_base);
    td_connector(&td, "crm", crm);
    free(crm);
    free(crm_base);
    td.extra_main = strdup("routes:\n"
                           "  - name: billing-to-crm\n"
                           "    from: billing\n"
                           "    types: [customer.created, lead.updated, payment.succeeded]\n"
                           "    to: [crm]\n"
                           /* Stripe's events of one Checkout arrive together, in any order */
                           "    settle: 3s\n"
                           "delivery:\n"
                           "  backoff_base: 20ms\n"
                           "  backoff_cap: 200ms\n"
                           "  max_attempts: 3\n"
                           "api:\n"
                           "  tokens:\n"
                           "    - name: reader\n"
                           "      token: ${LHTEST_API_TOKEN}\n"
                           "      scopes: [read]\n");
    int rc = td_start(&td);
    if (rc != 0) {
        char *log = td_log(&td);
        ck_abort_msg("daemon did not become ready (%d):\n%s", rc, log);
    }
    db = testdb_connect(td.db_url);
}

/* Signs and posts a Stripe event (borrowed) as Stripe does; returns the answer's body. */
static char *post_stripe(const json_t *event)
{
    char *body = json_dumps(event, JSON_COMPACT);
    char *signature = st_sign(ST_WEBHOOK_SECRET, (long long)time(NULL), body);
    char *header = util_printf("Stripe-Signature: %s", signature);
    const char *headers[] = {"Content-Type: application/json; charset=utf-8", header, NULL};
    char *url = td_url(&td, "/webhooks/billing");
    struct http_result r;
    http_request("POST", url, headers, body, strlen(body), &r);
    ck_assert_msg(r.status == 200, "%s: %ld %s", json_string_value(json_object_get(event, "id")),
                  r.status, r.body);
    char *answer = strdup(r.body);
    http_result_free(&r);
    free(url);
    free(header);
    free(signature);
    free(body);
    return answer;
}

/* Posts and frees a Stripe event (STOLEN). */
static void send_event(json_t *event)
{
    free(post_stripe(event));
    json_decref(event);
}

static long long day(double d)
{
    return now_s - 26LL * 86400 + (long long)(d * 86400);
}

static long scalar(const char *sql)
{
    return testdb_scalar(db, sql);
}

static char *text(const char *sql)
{
    return testdb_text(db, sql);
}

/* No delivery is waiting any more: every one is done, dead or held. */
static bool deliveries_settled(void *arg)
{
    (void)arg;
    return testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'pending' OR "
                             "(status = 'retrying' AND held_since IS NULL)") == 0;
}

static void wait_deliveries(void)
{
    ck_assert_msg(td_wait_until(deliveries_settled, NULL, 30000), "deliveries still pending");
}

/* The HubSpot contact with `email`, as its properties' JSON text, or NULL. */
static char *contact(const char *email)
{
    char *id = fake_hubspot_contact_id(hubspot, email);
    char *properties = id != NULL ? fake_hubspot_contact(hubspot, id) : NULL;
    free(id);
    return properties;
}

static bool is_customer(const char *email)
{
    char *properties = contact(email);
    bool customer =
        properties != NULL && strstr(properties, "\"lifecyclestage\":\"customer\"") != NULL;
    free(properties);
    return customer;
}

/* GET path with the read token; the answer's JSON (NEW). */
static json_t *api_get(const char *path)
{
    char *url = td_url(&td, path);
    const char *headers[] = {"Authorization: Bearer " API_TOKEN, NULL};
    struct http_result r;
    http_request("GET", url, headers, NULL, 0, &r);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    json_t *body = json_loads(r.body, 0, NULL);
    http_result_free(&r);
    free(url);
    return body;
}

/* ---- 1. one payment per payment ------------------------------------------------------ */

START_TEST(test_a_subscription_checkout_and_its_first_invoice_are_one_payment)
{
    start_daemon();
    /* Stripe sends both, in either order: first invoice.paid, then the Checkout */
    json_t *invoice = st_fixture("event.invoice.paid.json");
    json_t *checkout = st_fixture("event.checkout.session.completed.json");
    char *first = post_stripe(invoice);
    char *second = post_stripe(checkout);
    ck_assert_str_eq(first, "{\"accepted\":1,\"duplicates\":0}");
    /* the Checkout is stored as one; its payment is the invoice's, stored already */
    ck_assert_str_eq(second, "{\"accepted\":1,\"duplicates\":1}");
    free(first);
    free(second);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'payment.succeeded'"), 1);
    ck_assert_int_eq(scalar("SELECT sum((payload #>> '{data,amount}')::bigint) FROM events "
                            "WHERE type = 'payment.succeeded'"),
                     187500);
    /* and the other way round, for another subscription: the Checkout first */
    json_object_set_new(checkout, "id", json_string("evt_1QzW9aK8Lm2Np4QrCo2Ck3Out"));
    json_object_set_new(st_object(checkout), "invoice", json_string("in_1QzW9bK8Lm2Np4QrNv4Iv5Tw"));
    json_object_set_new(invoice, "id", json_string("evt_1QzW9cK8Lm2Np4QrIp6Pd7Nv"));
    json_object_set_new(st_object(invoice), "id", json_string("in_1QzW9bK8Lm2Np4QrNv4Iv5Tw"));
    send_event(json_incref(checkout));
    send_event(json_incref(invoice));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'payment.succeeded'"), 2);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'checkout.completed'"), 2);
    /* one delivery per payment to the CRM */
    wait_deliveries();
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries d JOIN events e ON e.id = "
                            "d.event_id WHERE e.type = 'payment.succeeded'"),
                     2);
    json_decref(invoice);
    json_decref(checkout);
}
END_TEST

/* ---- 2. delayed payment methods -------------------------------------------------------- */

START_TEST(test_a_buyer_paying_by_sepa_debit_is_known_at_checkout_and_paid_when_it_settles)
{
    start_daemon();
    send_event(sb_event("evt_sepa_cus", "customer.created", day(1),
                        sb_customer("cus_Sepa1", "buchhaltung@rheinwerk.example", NULL), NULL));
    /* the Checkout completes unpaid: a SEPA debit takes days */
    send_event(sb_event("evt_sepa_cs", "checkout.session.completed", day(1),
                        sb_session("cs_test_sepa1", "payment", "cus_Sepa1",
                                   "buchhaltung@rheinwerk.example", "Jonas Becker", 240000, "eur",
                                   "unpaid", "sepa_debit", NULL, NULL, "pi_Sepa1", NULL),
                        NULL));
    long lead = scalar("SELECT id FROM leads WHERE email = 'buchhaltung@rheinwerk.example'");
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'checkout.completed'"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'payment.succeeded'"), 0);
    /* the money arrives */
    send_event(sb_event("evt_sepa_ok", "checkout.session.async_payment_succeeded", day(5),
                        sb_session("cs_test_sepa1", "payment", "cus_Sepa1",
                                   "buchhaltung@rheinwerk.example", "Jonas Becker", 240000, "eur",
                                   "paid", "sepa_debit", NULL, NULL, "pi_Sepa1", NULL),
                        NULL));
    char *sql = util_printf("SELECT count(*) FROM events WHERE type = 'payment.succeeded' AND "
                            "lead_id = %ld AND payload #>> '{data,amount}' = '240000' AND "
                            "payload #>> '{data,currency}' = 'eur' AND payment_key = 'pi_Sepa1'",
                            lead);
    ck_assert_int_eq(scalar(sql), 1);
    free(sql);
    wait_deliveries();
    ck_assert(is_customer("buchhaltung@rheinwerk.example"));
}
END_TEST

/* ---- 3. a trial is no purchase ------------------------------------------------------- */

START_TEST(test_a_trial_is_not_a_purchase_and_the_crm_does_not_make_it_a_customer)
{
    start_daemon();
    send_event(sb_event("evt_trial_cus", "customer.created", day(2),
                        sb_customer("cus_Trial1", "trial@startup.example", "Mia Wong"), NULL));
    send_event(sb_event(
        "evt_trial_sub", "customer.subscription.created", day(2),
        sb_subscription("sub_Trial1", "cus_Trial1", "trialing", day(2), 9900, "usd"), NULL));
    send_event(
        sb_event("evt_trial_cs", "checkout.session.completed", day(2),
                 sb_session("cs_test_trial1", "subscription", "cus_Trial1", "trial@startup.example",
                            "Mia Wong", 0, "usd", "no_payment_required", "card", "in_Trial0",
                            "sub_Trial1", NULL, NULL),
                 NULL));
    send_event(sb_event("evt_trial_inv", "invoice.paid", day(2),
                        sb_invoice("in_Trial0", "cus_Trial1", "trial@startup.example", 0, "usd",
                                   "subscription_create", "sub_Trial1", NULL, NULL, false),
                        NULL));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type = 'payment.succeeded'"), 0);
    ck_assert_int_eq(
        scalar("SELECT count(*) FROM events WHERE type = 'subscription.trial_started'"), 1);
    wait_deliveries();
    char *properties = contact("trial@startup.example");
    ck_assert_msg(properties != NULL, "the trial user is not in the CRM");
    ck_assert_msg(strstr(properties, "\"lifecyclestage\":\"customer\"") == NULL, "%s", properties);
    free(properties);
}
END_TEST

/* ---- 5. the payer pays for a known lead ---------------------------------------------- */

START_TEST(test_a_payment_for_a_known_lead_from_another_address_marks_that_lead_the_customer)
{
    start_daemon();
    /* the lead the business knows, and sends to Checkout with its id */
    const char *lead_event = "{\"type\":\"lead.created\",\"source_id\":\"form-7\","
                             "\"occurred_at\":\"2026-11-01T10:00:00Z\",\"lead\":{\"email\":"
                             "\"priya@northwind.example\",\"first_name\":\"Priya\"}}";
    ck_assert_int_eq(td_post(&td, "inbound", INBOUND_SECRET, lead_event, NULL), 200);
    long lead = scalar("SELECT id FROM leads WHERE email = 'priya@northwind.example'");
    char reference[24];
    snprintf(reference, sizeof(reference), "%ld", lead);
    /* Stripe makes the customer from the accounts department's address first */
    send_event(sb_event("evt_nw_cus", "customer.created", day(3),
                        sb_customer("cus_Nw1", "ap@northwind.example", "Northwind Analytics Inc."),
                        NULL));
    send_event(sb_event("evt_nw_inv1", "invoice.paid", day(3),
                        sb_invoice("in_Nw1", "cus_Nw1", "ap@northwind.example", 187500, "usd",
                                   "subscription_create", "sub_Nw1", "ch_Nw1", "pi_Nw1", false),
                        NULL));
    send_event(sb_event("evt_nw_cs", "checkout.session.completed", day(3),
                        sb_session("cs_test_nw1", "subscription", "cus_Nw1", "ap@northwind.example",
                                   "Accounts Payable", 187500, "usd", "paid", "card", "in_Nw1",
                                   "sub_Nw1", NULL, reference),
                        NULL));
    /* a month later, the renewal, from the same address */
    send_event(sb_event("evt_nw_inv2", "invoice.paid", day(25),
                        sb_invoice("in_Nw2", "cus_Nw1", "ap@northwind.example", 187500, "usd",
                                   "subscription_cycle", "sub_Nw1", "ch_Nw2", "pi_Nw2", false),
                        NULL));
    /* in the hub: both payments are the known lead's, the payer's address one of its own */
    char *sql = util_printf("SELECT count(*) || '|' || sum((payload #>> '{data,amount}')::bigint) "
                            "FROM events WHERE type = 'payment.succeeded' AND lead_id = %ld",
                            lead);
    char *paid = text(sql);
    ck_assert_str_eq(paid, "2|375000");
    free(paid);
    free(sql);
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads"), 1);
    char *path = util_printf("/v1/leads/%ld", lead);
    json_t *detail = api_get(path);
    free(path);
    json_t *address = json_array_get(json_object_get(detail, "addresses"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(address, "email")), "ap@northwind.example");
    ck_assert_str_eq(json_string_value(json_object_get(detail, "email")),
                     "priya@northwind.example");
    json_decref(detail);
    /* in the CRM: the known lead is the customer; the payer's address is no contact at all */
    wait_deliveries();
    ck_assert(is_customer("priya@northwind.example"));
    char *payer = contact("ap@northwind.example");
    ck_assert_msg(payer == NULL, "the payer's address is a contact: %s", payer);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries WHERE status = 'dead'"), 0);
}
END_TEST

/* ---- 6. a customer without an email --------------------------------------------------- */

static bool no_delivery_held(void *arg)
{
    (void)arg;
    return testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE held_since IS NOT NULL") == 0 &&
           testdb_scalar(db, "SELECT count(*) FROM deliveries WHERE status = 'done'") == 3;
}

START_TEST(test_a_customer_without_an_email_leaves_no_blank_lead_and_its_deliveries_wait)
{
    start_daemon();
    /* created in the Dashboard without an email, and paying an invoice */
    send_event(sb_event("evt_ne_cus", "customer.created", day(4),
                        sb_customer("cus_NoMail1", NULL, NULL), NULL));
    send_event(sb_event("evt_ne_inv", "invoice.paid", day(4),
                        sb_invoice("in_NoMail1", "cus_NoMail1", NULL, 50000, "usd", "manual", NULL,
                                   "ch_NoMail1", "pi_NoMail1", false),
                        NULL));
    /* no lead row with nothing in it; the events wait without a lead */
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads"), 0);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE lead_id IS NULL"), 2);
    /* their CRM deliveries are held, saying why; none is dead */
    wait_deliveries();
    json_t *held = api_get("/v1/deliveries?status=held");
    ck_assert_uint_eq(json_array_size(json_object_get(held, "data")), 2);
    json_t *first = json_array_get(json_object_get(held, "data"), 0);
    ck_assert_ptr_nonnull(
        strstr(json_string_value(json_object_get(first, "hold_reason")), "the lead's email"));
    ck_assert_int_eq(json_integer_value(json_object_get(first, "attempts")), 0);
    json_decref(held);
    ck_assert_int_eq(scalar("SELECT count(*) FROM deliveries WHERE status = 'dead'"), 0);
    /* the email arrives: the lead is made, the events are its, the held deliveries go */
    json_t *customer = sb_customer("cus_NoMail1", "finance@late.example", NULL);
    send_event(
        sb_event("evt_ne_upd", "customer.updated", day(6), customer, json_pack("{s:n}", "email")));
    ck_assert_int_eq(scalar("SELECT count(*) FROM leads"), 1);
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE lead_id IS NULL"), 0);
    ck_assert_msg(td_wait_until(no_delivery_held, NULL, 30000), "held deliveries did not go");
    ck_assert(is_customer("finance@late.example"));
}
END_TEST

/* ---- 7. cancellations, refunds, the last period ----------------------------------------- */

START_TEST(test_cancellations_refunds_and_the_last_period_are_events)
{
    start_daemon();
    send_event(sb_event("evt_c7_cus", "customer.created", day(5),
                        sb_customer("cus_Churn1", "ops@churn.example", NULL), NULL));
    json_t *sub = sb_subscription("sub_Churn1", "cus_Churn1", "active", day(5), 30000, "usd");
    /* set to end with the period paid for, then withdrawn, then set again */
    json_t *scheduled = json_deep_copy(sub);
    json_object_set_new(scheduled, "cancel_at_period_end", json_true());
    json_object_set_new(scheduled, "canceled_at", json_integer(day(10)));
    send_event(sb_event("evt_c7_sched", "customer.subscription.updated", day(10),
                        json_deep_copy(scheduled),
                        json_pack("{s:b,s:n}", "cancel_at_period_end", 0, "canceled_at")));
    send_event(sb_event(
        "evt_c7_unsched", "customer.subscription.updated", day(11), json_deep_copy(sub),
        json_pack("{s:b,s:I}", "cancel_at_period_end", 1, "canceled_at", (json_int_t)day(10))));
    send_event(sb_event("evt_c7_sched2", "customer.subscription.updated", day(12),
                        json_deep_copy(scheduled),
                        json_pack("{s:b,s:n}", "cancel_at_period_end", 0, "canceled_at")));
    /* a partial refund, then the rest */
    send_event(sb_event(
        "evt_c7_ref1", "charge.refunded", day(13),
        sb_charge("ch_Churn1", "cus_Churn1", 30000, 10000, "usd", "in_Churn1", "pi_Churn1"),
        json_pack("{s:i}", "amount_refunded", 0)));
    send_event(sb_event(
        "evt_c7_ref2", "charge.refunded", day(14),
        sb_charge("ch_Churn1", "cus_Churn1", 30000, 30000, "usd", "in_Churn1", "pi_Churn1"),
        json_pack("{s:i}", "amount_refunded", 10000)));
    /* the period ends: the subscription is gone */
    json_t *ended = json_deep_copy(scheduled);
    json_object_set_new(ended, "status", json_string("canceled"));
    json_object_set_new(ended, "ended_at", json_integer(day(35)));
    send_event(sb_event("evt_c7_end", "customer.subscription.deleted", day(20), ended, NULL));
    char *types = text("SELECT string_agg(type || coalesce(':' || (payload #>> '{data,amount}'), "
                       "''), ',' ORDER BY occurred_at, id) FROM events WHERE type LIKE "
                       "'subscription.%' OR type LIKE 'payment.%'");
    ck_assert_str_eq(types, "subscription.cancel_scheduled,subscription.cancel_unscheduled,"
                            "subscription.cancel_scheduled,payment.refunded:10000,"
                            "payment.refunded:20000,subscription.canceled");
    free(types);
    /* the end and the last period paid for are said */
    char *cancel_at =
        util_printf("SELECT count(*) FROM events WHERE type = 'subscription.cancel_scheduled' AND "
                    "(payload #>> '{data,cancel_at}')::timestamptz = to_timestamp(%lld)",
                    day(35));
    ck_assert_int_eq(scalar(cancel_at), 2);
    free(cancel_at);
    char *period = util_printf("SELECT count(*) FROM events WHERE type = 'subscription.canceled' "
                               "AND (payload #>> '{data,period_end}')::timestamptz = "
                               "to_timestamp(%lld)",
                               day(35));
    ck_assert_int_eq(scalar(period), 1);
    free(period);
    /* every one is the customer's */
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE lead_id IS NULL"), 0);
    json_decref(scheduled);
    json_decref(sub);
}
END_TEST

/* ---- the revenue check: a month of Stripe activity ------------------------------------ */

/* What Stripe's own objects say each customer paid, net of refunds, by currency. */
struct ledger {
    json_t *by_customer; /* "email|currency" -> amount (integer) */
    json_t *events;      /* the Stripe events of the month, in the order they happened */
    unsigned next_id;
};

static void ledger_add(struct ledger *l, const char *email, const char *currency, long long amount)
{
    char *key = util_printf("%s|%s", email, currency);
    json_t *value = json_object_get(l->by_customer, key);
    json_object_set_new(l->by_customer, key,
                        json_integer((value != NULL ? json_integer_value(value) : 0) + amount));
    free(key);
}

/* Appends a Stripe event (object and previous STOLEN). */
static void happen(struct ledger *l, const char *type, double when, json_t *object,
                   json_t *previous)
{
    char id[40];
    snprintf(id, sizeof(id), "evt_month_%04u", l->next_id++);
    json_array_append_new(l->events, sb_event(id, type, day(when), object, previous));
}

/* A customer subscribing by card through Checkout: its first invoice paid (reported by the
 * Checkout and by invoice.paid, as Stripe does). */
static void subscribe(struct ledger *l, double when, const char *who, const char *email,
                      long long amount, const char *currency)
{
    char customer[48], sub[48], invoice[48], charge[48], session[48], intent[48];
    snprintf(customer, sizeof(customer), "cus_%s", who);
    snprintf(sub, sizeof(sub), "sub_%s", who);
    snprintf(invoice, sizeof(invoice), "in_%s1", who);
    snprintf(charge, sizeof(charge), "ch_%s1", who);
    snprintf(session, sizeof(session), "cs_test_%s", who);
    snprintf(intent, sizeof(intent), "pi_%s1", who);
    happen(l, "customer.created", when, sb_customer(customer, email, NULL), NULL);
    happen(l, "customer.subscription.created", when + 0.001,
           sb_subscription(sub, customer, "active", day(when), amount, currency), NULL);
    happen(l, "invoice.paid", when + 0.002,
           sb_invoice(invoice, customer, email, amount, currency, "subscription_create", sub,
                      charge, intent, false),
           NULL);
    happen(l, "checkout.session.completed", when + 0.003,
           sb_session(session, "subscription", customer, email, NULL, amount, currency, "paid",
                      "card", invoice, sub, NULL, NULL),
           NULL);
    ledger_add(l, email, currency, amount);
}

/* A one-off payment through Checkout in payment mode, by card or by SEPA debit (completed
 * unpaid, settled `settles` days later). */
static void pay_once(struct ledger *l, double when, const char *who, const char *email,
                     long long amount, const char *currency, const char *method, double settles)
{
    char customer[48], session[48], intent[48];
    snprintf(customer, sizeof(customer), "cus_%s", who);
    snprintf(session, sizeof(session), "cs_test_%s_%u", who, l->next_id);
    snprintf(intent, sizeof(intent), "pi_%s_%u", who, l->next_id);
    bool delayed = strcmp(method, "sepa_debit") == 0;
    happen(l, "checkout.session.completed", when,
           sb_session(session, "payment", customer, email, NULL, amount, currency,
                      delayed ? "unpaid" : "paid", method, NULL, NULL, intent, NULL),
           NULL);
    if (delayed) {
        happen(l, "checkout.session.async_payment_succeeded", when + settles,
               sb_session(session, "payment", customer, email, NULL, amount, currency, "paid",
                          method, NULL, NULL, intent, NULL),
               NULL);
    }
    ledger_add(l, email, currency, amount);
}

/* A refund of `amount` of a charge, `before` of it refunded already. */
static void refund(struct ledger *l, double when, const char *charge, const char *who,
                   const char *email, long long charged, long long before, long long amount,
                   const char *currency, const char *invoice, const char *intent)
{
    char customer[48];
    snprintf(customer, sizeof(customer), "cus_%s", who);
    happen(l, "charge.refunded", when,
           sb_charge(charge, customer, charged, before + amount, currency, invoice, intent),
           json_pack("{s:I}", "amount_refunded", (json_int_t)before));
    ledger_add(l, email, currency, -amount);
}

/* An invoice paid later in the month (an upgrade's proration, a renewal), optionally after
 * a failed collection attempt. */
static void invoice_paid(struct ledger *l, double when, const char *invoice, const char *who,
                         const char *email, long long amount, const char *currency,
                         const char *reason, bool failed_first)
{
    char customer[48], sub[48];
    snprintf(customer, sizeof(customer), "cus_%s", who);
    snprintf(sub, sizeof(sub), "sub_%s", who);
    if (failed_first) {
        happen(
            l, "invoice.payment_failed", when - 1,
            sb_invoice(invoice, customer, email, amount, currency, reason, sub, NULL, NULL, true),
            NULL);
    }
    happen(l, "invoice.paid", when,
           sb_invoice(invoice, customer, email, amount, currency, reason, sub, NULL, NULL, false),
           NULL);
    ledger_add(l, email, currency, amount);
}

/* The month: subscriptions with trials and upgrades, SEPA and card checkouts, partial and
 * full refunds, a cancellation with a prorated refund, zero-decimal yen. */
static void script_month(struct ledger *l)
{
    /* Ada: card subscription, upgraded mid-month, part of the upgrade refunded */
    subscribe(l, 0, "Ada", "ada@lovelace.example", 20000, "usd");
    invoice_paid(l, 10, "in_Ada2", "Ada", "ada@lovelace.example", 5000, "usd",
                 "subscription_update", false);
    refund(l, 12, "ch_Ada2", "Ada", "ada@lovelace.example", 5000, 0, 2000, "usd", "in_Ada2", NULL);
    /* Bruno: SEPA debit, one-off, settles four days later */
    happen(l, "customer.created", 1, sb_customer("cus_Bruno", "bruno@lyon.example", NULL), NULL);
    pay_once(l, 1, "Bruno", "bruno@lyon.example", 240000, "eur", "sepa_debit", 4);
    /* Chen: a trial ($0 invoice), converted, set to cancel then kept */
    happen(l, "customer.created", 2, sb_customer("cus_Chen", "chen@trial.example", NULL), NULL);
    happen(l, "customer.subscription.created", 2.001,
           sb_subscription("sub_Chen", "cus_Chen", "trialing", day(2), 9900, "usd"), NULL);
    happen(l, "checkout.session.completed", 2.002,
           sb_session("cs_test_Chen", "subscription", "cus_Chen", "chen@trial.example", NULL, 0,
                      "usd", "no_payment_required", "card", "in_Chen0", "sub_Chen", NULL, NULL),
           NULL);
    happen(l, "invoice.paid", 2.003,
           sb_invoice("in_Chen0", "cus_Chen", "chen@trial.example", 0, "usd", "subscription_create",
                      "sub_Chen", NULL, NULL, false),
           NULL);
    happen(l, "customer.subscription.updated", 16,
           sb_subscription("sub_Chen", "cus_Chen", "active", day(2), 9900, "usd"),
           json_pack("{s:s}", "status", "trialing"));
    invoice_paid(l, 16.001, "in_Chen1", "Chen", "chen@trial.example", 9900, "usd",
                 "subscription_cycle", false);
    /* Daichi: yen, zero-decimal, paid by card and refunded in full */
    happen(l, "customer.created", 3, sb_customer("cus_Daichi", "daichi@tokyo.example", NULL), NULL);
    pay_once(l, 3, "Daichi", "daichi@tokyo.example", 50000, "jpy", "card", 0);
    refund(l, 8, "ch_Daichi1", "Daichi", "daichi@tokyo.example", 50000, 0, 50000, "jpy", NULL,
           NULL);
    /* Eve: subscribed, canceled at once with a prorated refund */
    subscribe(l, 4, "Eve", "eve@churn.example", 30000, "usd");
    json_t *gone = sb_subscription("sub_Eve", "cus_Eve", "canceled", day(4), 30000, "usd");
    json_object_set_new(gone, "canceled_at", json_integer(day(14)));
    json_object_set_new(gone, "ended_at", json_integer(day(14)));
    happen(l, "customer.subscription.deleted", 14, gone, NULL);
    refund(l, 14.001, "ch_Eve1", "Eve", "eve@churn.example", 30000, 0, 15000, "usd", "in_Eve1",
           "pi_Eve1");
    /* Farid: a one-off card payment in euros, then a renewal that failed once, then paid */
    happen(l, "customer.created", 6, sb_customer("cus_Farid", "farid@paris.example", NULL), NULL);
    pay_once(l, 6, "Farid", "farid@paris.example", 12000, "eur", "card", 0);
    invoice_paid(l, 21, "in_Farid2", "Farid", "farid@paris.example", 8000, "eur",
                 "subscription_cycle", true);
    /* Greta: two partial refunds of one charge */
    happen(l, "customer.created", 7, sb_customer("cus_Greta", "greta@oslo.example", NULL), NULL);
    pay_once(l, 7, "Greta", "greta@oslo.example", 10000, "usd", "card", 0);
    refund(l, 9, "ch_Greta1", "Greta", "greta@oslo.example", 10000, 0, 3000, "usd", NULL, NULL);
    refund(l, 11, "ch_Greta1", "Greta", "greta@oslo.example", 10000, 3000, 2000, "usd", NULL, NULL);
}

static bool polled_twice(void *arg)
{
    (void)arg;
    return testdb_scalar(db, "SELECT coalesce(max(polls), 0) FROM connector_status WHERE "
                             "instance = 'billing'") >= 1;
}

START_TEST(test_a_month_of_stripe_activity_stores_each_customers_revenue_to_the_cent)
{
    struct ledger l = {.by_customer = json_object(), .events = json_array()};
    script_month(&l);
    /* Stripe holds every event for the poll ... */
    size_t i;
    json_t *event;
    json_array_foreach(l.events, i, event)
    {
        fake_stripe_add_event(stripe, event);
    }
    start_daemon();
    /* ... and delivers webhooks out of order, some of them twice */
    size_t count = json_array_size(l.events);
    unsigned seed = 20261207;
    for (size_t k = 0; k < count; k++) {
        size_t pick = (size_t)rand_r(&seed) % count;
        free(post_stripe(json_array_get(l.events, pick)));
        if (k % 3 == 0) {
            free(post_stripe(json_array_get(l.events, k)));
        }
    }
    /* the reconciliation poll brings whatever webhooks missed */
    char *config = tu_path(td.dir, "leadhub.yaml");
    char *command = util_printf("'%s' sync billing -c '%s' --timeout 30s", td_binary(), config);
    char *out = NULL;
    ck_assert_msg(tu_run(command, &out) == 0, "sync: %s", out);
    free(out);
    free(command);
    free(config);
    ck_assert(td_wait_until(polled_twice, NULL, 30000));
    ck_assert_int_eq(scalar("SELECT count(*) FROM events WHERE type IN ('payment.succeeded', "
                            "'payment.refunded') AND lead_id IS NULL"),
                     0);

    /* per customer and currency: payments minus refunds, as the hub stored them */
    PGresult *r = PQexec(db, "SELECT l.email || '|' || (e.payload #>> '{data,currency}'), "
                             "sum(CASE WHEN e.type = 'payment.succeeded' THEN 1 ELSE -1 END * "
                             "(e.payload #>> '{data,amount}')::bigint) FROM events e JOIN leads l "
                             "ON l.id = e.lead_id WHERE e.type IN ('payment.succeeded', "
                             "'payment.refunded') GROUP BY 1 ORDER BY 1");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    json_t *stored = json_object();
    for (int row = 0; row < PQntuples(r); row++) {
        json_object_set_new(stored, PQgetvalue(r, row, 0),
                            json_integer(strtoll(PQgetvalue(r, row, 1), NULL, 10)));
    }
    PQclear(r);
    char *expected = json_dumps(l.by_customer, JSON_SORT_KEYS | JSON_COMPACT);
    char *actual = json_dumps(stored, JSON_SORT_KEYS | JSON_COMPACT);
    ck_assert_msg(json_equal(stored, l.by_customer), "stored %s\nStripe says %s", actual, expected);
    free(expected);
    free(actual);
    /* the yen, to the yen: paid and refunded in full */
    ck_assert_int_eq(json_integer_value(json_object_get(stored, "daichi@tokyo.example|jpy")), 0);
    json_decref(stored);
    json_decref(l.by_customer);
    json_decref(l.events);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("stripe_business");
    TCase *tc = tcase_create("business");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_subscription_checkout_and_its_first_invoice_are_one_payment);
    tcase_add_test(tc,
                   test_a_buyer_paying_by_sepa_debit_is_known_at_checkout_and_paid_when_it_settles);
    tcase_add_test(tc, test_a_trial_is_not_a_purchase_and_the_crm_does_not_make_it_a_customer);
    tcase_add_test(
        tc, test_a_payment_for_a_known_lead_from_another_address_marks_that_lead_the_customer);
    tcase_add_test(tc,
                   test_a_customer_without_an_email_leaves_no_blank_lead_and_its_deliveries_wait);
    tcase_add_test(tc, test_cancellations_refunds_and_the_last_period_are_events);
    tcase_add_test(tc, test_a_month_of_stripe_activity_stores_each_customers_revenue_to_the_cent);
    suite_add_tcase(s, tc);
    int failed = tu_run_suite(s);
    curl_global_cleanup();
    return failed;
}
