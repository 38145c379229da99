/* mail_script.c - see mail_script.h. */
#include "mail_script.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

const struct mail_script_message mail_script[] = {
    /* outreach, and the prospect's answer */
    {"outreach-ada",
     true,
     "thread-ada",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Ada Lovelace",
     "ada@analytical.example",
     "Leadhub for Analytical Engines",
     NULL,
     {{NULL, NULL}}},
    {"reply-ada",
     false,
     "thread-ada",
     "Lovelace, Ada",
     "ada@analytical.example",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Re: Leadhub for Analytical Engines",
     "outreach-ada",
     {{NULL, NULL}}},
    /* outreach answered by an out-of-office: no reply */
    {"outreach-bob",
     true,
     "thread-bob",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Bob Babbage",
     "bob@analytical.example",
     "Leadhub for Analytical Engines",
     NULL,
     {{NULL, NULL}}},
    {"ooo-bob",
     false,
     "thread-bob",
     "Bob Babbage",
     "bob@analytical.example",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Automatic reply: Leadhub for Analytical Engines",
     "outreach-bob",
     {{"Auto-Submitted", "auto-replied"}, {"X-Auto-Response-Suppress", "All"}, {NULL, NULL}}},
    /* outreach to an address that no longer exists, and the report */
    {"outreach-gone",
     true,
     "thread-gone",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Gone Person",
     "gone@defunct.example",
     "Leadhub for Defunct",
     NULL,
     {{NULL, NULL}}},
    {"bounce-gone",
     false,
     "thread-gone",
     "Mail Delivery Subsystem",
     "mailer-daemon@mx.ourco.example",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Undeliverable: Leadhub for Defunct",
     "outreach-gone",
     {{"X-Failed-Recipients", "gone@defunct.example"},
      {"Content-Type", "multipart/report; report-type=delivery-status; boundary=\"b1\""},
      {NULL, NULL}}},
    /* a newsletter */
    {"news-vendor",
     false,
     "thread-news",
     "Vendor News",
     "news@vendor.example",
     "Sam Rep",
     MAIL_SCRIPT_MAILBOX,
     "Our May news",
     NULL,
     {{"List-Unsubscribe", "<mailto:unsubscribe@vendor.example>"},
      {"Precedence", "bulk"},
      {NULL, NULL}}},
};

const size_t mail_script_count = sizeof(mail_script) / sizeof(mail_script[0]);

const char *const mail_script_expected =
    "email.bounced gone@defunct.example, email.replied ada@analytical.example, "
    "email.sent ada@analytical.example, email.sent bob@analytical.example, "
    "email.sent gone@defunct.example";

const size_t mail_script_expected_count = 5;

char *mail_script_events(PGconn *db, const char *source)
{
    const char *params[] = {source};
    PGresult *r = PQexecParams(
        db,
        "SELECT coalesce(string_agg(e.type || ' ' || coalesce(l.email, '(no lead)'), ', ' "
        "ORDER BY e.type, l.email), '') FROM events e LEFT JOIN leads l ON l.id = e.lead_id "
        "WHERE e.source = $1 AND e.type LIKE 'email.%'",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char *error = strdup(PQerrorMessage(db));
        PQclear(r);
        ck_abort_msg("mail_script_events: %s", error != NULL ? error : "out of memory");
    }
    char *text = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_ptr_nonnull(text);
    return text;
}
