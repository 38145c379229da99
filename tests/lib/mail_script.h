/*
 * mail_script.h - one scripted sales conversation, provider-neutral, for the test that every
 * mail connector classifies the same mail the same way (issue: "the same scripted
 * conversation through the fake Google and the fake Graph yields the same event types for
 * the same people"). Each connector's test turns the messages into its fake provider's
 * shapes (Gmail: payload.headers and threadId; Graph: internetMessageHeaders, from/to and
 * conversationId, Sent Items vs Inbox), runs the real daemon, and compares the events it
 * stored with mail_script_expected.
 *
 * The mailbox is MAIL_SCRIPT_MAILBOX; MAIL_SCRIPT_INTERNAL_DOMAIN is its organization's.
 * The conversation: an outreach and a prospect's reply; an outreach answered by an
 * out-of-office; an outreach that bounced (a mailer-daemon report naming the recipient);
 * a newsletter.
 */
#ifndef LEADHUB_MAIL_SCRIPT_H
#define LEADHUB_MAIL_SCRIPT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define MAIL_SCRIPT_MAILBOX         "rep@ourco.example"
#define MAIL_SCRIPT_INTERNAL_DOMAIN "ourco.example"

struct mail_script_header {
    const char *name;
    const char *value;
};

struct mail_script_message {
    const char *id;     /* unique; its Message-ID is "<id@script.example>" */
    bool sent;          /* written by the mailbox (Sent) rather than received (Inbox) */
    const char *thread; /* the conversation it belongs to */
    const char *from_name, *from;
    const char *to_name, *to;
    const char *subject;
    const char *in_reply_to;              /* the id it answers, or NULL */
    struct mail_script_header headers[3]; /* more headers, ended by {NULL, NULL} */
};

/* In the order the mailbox saw them. */
extern const struct mail_script_message mail_script[];
extern const size_t mail_script_count;

/* What every connector stores: "type email" items, sorted by type then email, joined by
 * ", " (SQL: string_agg(type || ' ' || lead email, ', ' ORDER BY type, email)). */
extern const char *const mail_script_expected;
extern const size_t mail_script_expected_count;

/* The mail events instance `source` stored, in mail_script_expected's form, each with the
 * email of the lead it is attributed to (events.lead_id), so both connectors are compared
 * by one query: who the event is about, not only what its payload says ("(no lead)" for an
 * event attributed to nobody). Malloc'd ("" when there are none); aborts the test when the
 * query fails. */
char *mail_script_events(PGconn *db, const char *source);

#endif
