/*
 * test_mail_classify.c - what a message is from its headers (plugins/common/
 * mail_classify.h), the event it becomes, who bounced (mail_dsn.h), and the promise the
 * Google and Microsoft connectors rely on: the same conversation read through Gmail's
 * and Graph's shapes gives the same events.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "mail_classify.h"
#include "mail_dsn.h"
#include "testutil.h"
#include "util.h"

static const char *const own[] = {"rep@ourco.example", " Sam.Rep@OURCO.example "};
static const char *const internal[] = {"ourco.example", "@partner-staff.example"};
static const struct mail_mailbox mailbox = {own, 2, internal, 2};

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, v                                                                                       \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void classify(const struct mail_header *headers, size_t count,
                     struct mail_classification *out)
{
    ck_assert_int_eq(mail_classify(headers, count, &mailbox, out), 0);
}

/* The event, or "skip:<reason>". */
static const char *event_of(const struct mail_classification *c, bool in_thread, char *buffer,
                            size_t size)
{
    const char *reason = NULL;
    enum mail_event event = mail_event_decide(c, in_thread, &reason);
    if (event == MAIL_EVENT_SKIP) {
        ck_assert_ptr_nonnull(reason);
        snprintf(buffer, size, "skip:%s", reason);
        return buffer;
    }
    return mail_event_type(event);
}

static void assert_kind(const struct mail_header *headers, size_t count, enum mail_kind kind,
                        const char *reason)
{
    struct mail_classification c;
    classify(headers, count, &c);
    ck_assert_msg(c.kind == kind && strcmp(c.kind_reason, reason) == 0,
                  "kind %s (%s), expected %s (%s)", mail_kind_name(c.kind), c.kind_reason,
                  mail_kind_name(kind), reason);
    mail_classification_clear(&c);
}

/* --- people ----------------------------------------------------------------------------- */

START_TEST(test_mail_classify_a_prospects_answer_is_a_reply_only_in_the_mailboxs_thread)
{
    struct mail_header headers[] = {
        H("From", "Ada Lovelace <ada@analytical.example>"),
        H("To", "Sam Rep <rep@ourco.example>"),
        H("Subject", "Re: Intro"),
        H("Message-ID", "<reply.m3@analytical.example>"),
        H("In-Reply-To", " <m1@ourco.example> "),
        H("References", "<m0@ourco.example> <m1@ourco.example>"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert_int_eq(c.kind, MAIL_KIND_PERSON);
    ck_assert_int_eq(c.direction, MAIL_DIRECTION_RECEIVED);
    ck_assert(c.is_reply);
    ck_assert_uint_eq(c.counterpart_count, 1);
    ck_assert_str_eq(c.counterparts[0]->address, "ada@analytical.example");
    ck_assert_str_eq(c.counterparts[0]->name, "Ada Lovelace");
    ck_assert_str_eq(c.message_id, "<reply.m3@analytical.example>");
    ck_assert_str_eq(c.in_reply_to, "<m1@ourco.example>");
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "email.replied");
    /* an answer to something the mailbox never took part in is only received */
    ck_assert_str_eq(event_of(&c, false, buffer, sizeof(buffer)), "email.received");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_a_new_message_in_a_known_thread_is_received_not_replied)
{
    struct mail_header headers[] = {
        H("From", "ada@analytical.example"),
        H("To", "rep@ourco.example"),
        H("Subject", "Intro"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert(!c.is_reply);
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "email.received");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_sent_by_the_mailbox_names_the_outside_recipients_once)
{
    struct mail_header headers[] = {
        H("From", "=?UTF-8?Q?Sam_Rep?= <SAM.REP@ourco.example>"), /* an alias, any case */
        H("To", "Ada Lovelace <ada@analytical.example>, Grace <grace@eu.ourco.example>"),
        H("Cc", "ADA@Analytical.example, Charles <charles@analytical.example>"),
        H("Bcc", "someone@partner-staff.example"),
        H("Subject", "Intro"),
        /* a sending tool adds these to the mailbox's own outreach: still the mailbox writing */
        H("List-Unsubscribe", "<mailto:unsubscribe@ourco.example>"),
        H("X-Auto-Response-Suppress", "OOF, AutoReply"),
        H("Precedence", "bulk"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert_int_eq(c.kind, MAIL_KIND_PERSON);
    ck_assert_int_eq(c.direction, MAIL_DIRECTION_SENT);
    ck_assert_uint_eq(c.counterpart_count, 2);
    ck_assert_str_eq(c.counterparts[0]->address, "ada@analytical.example");
    ck_assert_str_eq(c.counterparts[1]->address, "charles@analytical.example");
    char buffer[64];
    ck_assert_str_eq(event_of(&c, false, buffer, sizeof(buffer)), "email.sent");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_mail_among_internal_people_is_skipped_as_internal)
{
    struct mail_header from_colleague[] = {
        H("From", "Grace <grace@eu.ourco.example>"), H("To", "rep@ourco.example"),
        H("Cc", "ada@analytical.example"), /* a colleague's mail, not the mailbox's */
    };
    struct mail_header to_colleague[] = {
        H("From", "rep@ourco.example"),
        H("To", "grace@OURCO.EXAMPLE."),
    };
    struct mail_header to_self[] = {H("From", "rep@ourco.example"), H("To", "rep@ourco.example")};
    const struct mail_header *cases[] = {from_colleague, to_colleague, to_self};
    size_t counts[] = {COUNT(from_colleague), COUNT(to_colleague), COUNT(to_self)};
    for (size_t i = 0; i < 3; i++) {
        struct mail_classification c;
        classify(cases[i], counts[i], &c);
        ck_assert_int_eq(c.direction, MAIL_DIRECTION_INTERNAL);
        ck_assert_uint_eq(c.counterpart_count, 0);
        char buffer[64];
        ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "skip:internal");
        mail_classification_clear(&c);
    }
}
END_TEST

START_TEST(test_mail_classify_without_a_readable_sender_is_skipped)
{
    struct mail_header headers[] = {H("From", "undisclosed"), H("To", "rep@ourco.example")};
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert_int_eq(c.direction, MAIL_DIRECTION_UNKNOWN);
    ck_assert_ptr_null(c.sender);
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "skip:no_sender");
    mail_classification_clear(&c);
    /* Sender stands in when From has no address */
    struct mail_header with_sender[] = {H("From", "Ada"), H("Sender", "ada@analytical.example")};
    classify(with_sender, COUNT(with_sender), &c);
    ck_assert_str_eq(c.sender->address, "ada@analytical.example");
    ck_assert_int_eq(c.direction, MAIL_DIRECTION_RECEIVED);
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_header_names_ignore_case)
{
    struct mail_header headers[] = {
        H("FROM", "ada@analytical.example"),
        H("to", "rep@ourco.example"),
        H("in-reply-to", "<m1@ourco.example>"),
        H("AUTO-SUBMITTED", "Auto-Replied"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert(c.is_reply);
    ck_assert_int_eq(c.kind, MAIL_KIND_AUTO_REPLY);
    mail_classification_clear(&c);
}
END_TEST

/* --- automatic answers -------------------------------------------------------------- */

#define INBOUND H("From", "Ada <ada@analytical.example>"), H("To", "rep@ourco.example")

START_TEST(test_mail_classify_automatic_answers_by_their_headers)
{
    struct mail_header vacation[] = {INBOUND, H("Auto-Submitted", "auto-replied; owner-email=x")};
    struct mail_header generated[] = {INBOUND, H("Auto-Submitted", "auto-generated")};
    struct mail_header not_auto[] = {INBOUND, H("Auto-Submitted", "no")};
    struct mail_header x_autoreply[] = {INBOUND, H("X-Autoreply", "yes")};
    struct mail_header x_autoreply_no[] = {INBOUND, H("X-Autoreply", "no")};
    struct mail_header x_autorespond[] = {INBOUND, H("X-Autorespond", "Out of office")};
    struct mail_header precedence[] = {INBOUND, H("Precedence", "auto_reply")};
    struct mail_header suppress[] = {INBOUND, H("X-Auto-Response-Suppress", "All")};
    struct mail_header suppress_receipts[] = {INBOUND, H("X-Auto-Response-Suppress", "DR, RN")};
    struct mail_header receipt[] = {
        INBOUND, H("Content-Type", "multipart/report; report-type=disposition-notification")};
    assert_kind(vacation, COUNT(vacation), MAIL_KIND_AUTO_REPLY, "auto_submitted");
    assert_kind(generated, COUNT(generated), MAIL_KIND_AUTOMATED, "auto_submitted");
    assert_kind(not_auto, COUNT(not_auto), MAIL_KIND_PERSON, "none");
    assert_kind(x_autoreply, COUNT(x_autoreply), MAIL_KIND_AUTO_REPLY, "x_autoreply");
    assert_kind(x_autoreply_no, COUNT(x_autoreply_no), MAIL_KIND_PERSON, "none");
    assert_kind(x_autorespond, COUNT(x_autorespond), MAIL_KIND_AUTO_REPLY, "x_autoreply");
    assert_kind(precedence, COUNT(precedence), MAIL_KIND_AUTO_REPLY, "precedence");
    assert_kind(suppress, COUNT(suppress), MAIL_KIND_AUTOMATED, "x_auto_response_suppress");
    /* asking not to get delivery or read receipts says nothing about who wrote it */
    assert_kind(suppress_receipts, COUNT(suppress_receipts), MAIL_KIND_PERSON, "none");
    assert_kind(receipt, COUNT(receipt), MAIL_KIND_AUTOMATED, "read_receipt");
}
END_TEST

START_TEST(test_mail_classify_an_automatic_answer_is_never_a_reply)
{
    struct mail_header headers[] = {
        INBOUND,
        H("Subject", "Out of office"),
        H("Auto-Submitted", "auto-replied"),
        H("In-Reply-To", "<m1@ourco.example>"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert(c.is_reply);
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "skip:auto_reply");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_subjects_of_automatic_replies_are_a_weak_fallback)
{
    const char *automatic[] = {
        "Automatic reply: Intro",
        "Out of Office: Intro",
        "Auto-Reply: Intro",
        "AUTOREPLY : Intro",
        "=?UTF-8?B?QXV0b21hdGlzY2hlIEFudHdvcnQ6IElociBBbmdlYm90?=",
        "Réponse automatique : Votre offre",
        "Respuesta automática: Intro",
        "Автоответ: Intro",
        "自动回复：Intro",
    };
    const char *human[] = {
        "Re: out of office next week?",
        "Automatic replies are annoying",
        "Out of office",
        "Intro",
    };
    for (size_t i = 0; i < COUNT(automatic); i++) {
        struct mail_header headers[] = {INBOUND, H("Subject", automatic[i])};
        struct mail_classification c;
        classify(headers, COUNT(headers), &c);
        ck_assert_msg(c.kind == MAIL_KIND_AUTO_REPLY && strcmp(c.kind_reason, "subject") == 0,
                      "\"%s\": %s", automatic[i], mail_kind_name(c.kind));
        mail_classification_clear(&c);
    }
    for (size_t i = 0; i < COUNT(human); i++) {
        struct mail_header headers[] = {INBOUND, H("Subject", human[i])};
        struct mail_classification c;
        classify(headers, COUNT(headers), &c);
        ck_assert_msg(c.kind == MAIL_KIND_PERSON, "\"%s\": %s", human[i], mail_kind_name(c.kind));
        mail_classification_clear(&c);
    }
}
END_TEST

/* --- bounces ----------------------------------------------------------------------------- */

START_TEST(test_mail_classify_a_gmail_bounce_names_the_recipient)
{
    struct mail_header headers[] = {
        H("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"),
        H("To", "rep@ourco.example"),
        H("Subject", "Delivery Status Notification (Failure)"),
        H("X-Failed-Recipients", "ada@analytical.example, bob@Analytical.Example"),
        H("Content-Type", "multipart/report; boundary=\"0000\"; report-type=delivery-status"),
        H("In-Reply-To", "<m1@ourco.example>"),
    };
    struct mail_classification c;
    classify(headers, COUNT(headers), &c);
    ck_assert_int_eq(c.kind, MAIL_KIND_BOUNCE);
    ck_assert_str_eq(c.kind_reason, "x_failed_recipients");
    ck_assert_uint_eq(c.bounced.count, 2);
    ck_assert_str_eq(c.bounced.items[1].address, "bob@analytical.example");
    ck_assert_str_eq(c.in_reply_to, "<m1@ourco.example>");
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "email.bounced");
    /* a bounce of mail the mailbox never sent (forged in its name) says nothing */
    ck_assert_str_eq(event_of(&c, false, buffer, sizeof(buffer)), "skip:bounce_unmatched");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_bounces_by_sender_or_report_type)
{
    struct mail_header exchange[] = {
        H("From", "Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@x.test>"),
        H("To", "rep@ourco.example"),
        H("Subject", "Undeliverable: Re: delayed invoice"),
        H("Content-Type", "multipart/report; report-type=\"Delivery-Status\";\r\n boundary=\"b\""),
    };
    struct mail_header postmaster[] = {H("From", "postmaster@analytical.example"),
                                       H("To", "rep@ourco.example"),
                                       H("Subject", "Returned mail: see transcript for details")};
    struct mail_header daemon[] = {H("From", "MAILER-DAEMON@mx.example (Mail Delivery System)"),
                                   H("Subject", "Undelivered Mail Returned to Sender")};
    assert_kind(exchange, COUNT(exchange), MAIL_KIND_BOUNCE, "delivery_status");
    assert_kind(postmaster, COUNT(postmaster), MAIL_KIND_BOUNCE, "mailer_daemon");
    assert_kind(daemon, COUNT(daemon), MAIL_KIND_BOUNCE, "mailer_daemon");
    struct mail_classification c;
    classify(exchange, COUNT(exchange), &c);
    ck_assert_uint_eq(c.bounced.count, 0); /* the report's part says who: mail_dsn */
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_classify_a_delay_warning_is_no_bounce)
{
    struct mail_header gmail[] = {
        H("From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"),
        H("Subject", "Delivery Status Notification (Delay)"),
        H("Content-Type", "multipart/report; report-type=delivery-status; boundary=x"),
    };
    struct mail_header postfix[] = {H("From", "MAILER-DAEMON@mx.example"),
                                    H("Subject", "Delayed Mail (still being retried)")};
    struct mail_header exim[] = {H("From", "Mail Delivery System <Mailer-Daemon@mx.example>"),
                                 H("Subject", "Warning: message 1abc-0001 delayed 24 hours")};
    assert_kind(gmail, COUNT(gmail), MAIL_KIND_DELAY, "delivery_status");
    assert_kind(postfix, COUNT(postfix), MAIL_KIND_DELAY, "mailer_daemon");
    assert_kind(exim, COUNT(exim), MAIL_KIND_DELAY, "mailer_daemon");
    struct mail_classification c;
    classify(gmail, COUNT(gmail), &c);
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "skip:delivery_delay");
    mail_classification_clear(&c);
}
END_TEST

START_TEST(test_mail_dsn_gives_the_failed_recipients_only)
{
    const char *report = "Reporting-MTA: dns;mx4.example.org\r\n"
                         "Arrival-Date: Thu, 22 Feb 2011 23:34:45 +0900\r\n"
                         "\r\n"
                         "Final-Recipient: rfc822;mikeneko@example.co.jp\r\n"
                         "Action: failed\r\n"
                         "Status: 5.1.1\r\n"
                         "Diagnostic-Code: smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound\r\n"
                         "\r\n"
                         "Final-Recipient: rfc822; later@example.co.jp\r\n"
                         "Action: delayed\r\n"
                         "\r\n"
                         "original-recipient: RFC822;Folded@\r\n"
                         " Example.CO.JP\r\n"
                         "ACTION: Failed (permanent)\r\n"
                         "\r\n"
                         "Final-Recipient: x400; /G=A/S=B/\r\n"
                         "Action: failed\r\n"
                         "\r\n"
                         "Final-Recipient: rfc822;MIKENEKO@example.co.jp\r\n"
                         "Action: failed";
    struct mail_address_list failed;
    ck_assert_int_eq(mail_dsn_failed_recipients(report, strlen(report), &failed), 0);
    ck_assert_uint_eq(failed.count, 2);
    ck_assert_str_eq(failed.items[0].address, "mikeneko@example.co.jp");
    ck_assert_str_eq(failed.items[1].address, "Folded@example.co.jp");
    mail_address_list_clear(&failed);
    ck_assert_int_eq(mail_dsn_failed_recipients("", 0, &failed), 0);
    ck_assert_uint_eq(failed.count, 0);
    mail_address_list_clear(&failed);
}
END_TEST

/* --- lists ------------------------------------------------------------------------------- */

START_TEST(test_mail_classify_lists_and_newsletters_are_skipped)
{
    struct mail_header unsubscribe[] = {INBOUND, H("List-Unsubscribe", "<mailto:u@x.test>")};
    struct mail_header list_id[] = {INBOUND, H("List-Id", "Sales <sales.lists.example>")};
    struct mail_header bulk[] = {INBOUND, H("Precedence", "Bulk")};
    struct mail_header junk[] = {INBOUND, H("Precedence", " junk ")};
    struct mail_header empty_list_id[] = {INBOUND, H("List-Id", "  ")};
    assert_kind(unsubscribe, COUNT(unsubscribe), MAIL_KIND_LIST, "list_unsubscribe");
    assert_kind(list_id, COUNT(list_id), MAIL_KIND_LIST, "list_id");
    assert_kind(bulk, COUNT(bulk), MAIL_KIND_LIST, "precedence");
    assert_kind(junk, COUNT(junk), MAIL_KIND_LIST, "precedence");
    assert_kind(empty_list_id, COUNT(empty_list_id), MAIL_KIND_PERSON, "none");
    struct mail_classification c;
    classify(unsubscribe, COUNT(unsubscribe), &c);
    char buffer[64];
    ck_assert_str_eq(event_of(&c, true, buffer, sizeof(buffer)), "skip:list");
    mail_classification_clear(&c);
}
END_TEST

/* --- JSON, and both providers -------------------------------------------------------------- */

START_TEST(test_mail_classify_json_reads_name_value_pairs_and_ignores_the_rest)
{
    json_t *headers =
        json_loads("[{\"name\": \"From\", \"value\": \"ada@analytical.example\"},"
                   " {\"name\": \"To\"}, 7, null, {\"value\": \"x\"},"
                   " {\"name\": \"Auto-Submitted\", \"value\": \"auto-replied\\u0000\"},"
                   " {\"name\": \"To\", \"value\": \"rep@ourco.example\"}]",
                   JSON_ALLOW_NUL, NULL);
    ck_assert_ptr_nonnull(headers);
    struct mail_classification c;
    ck_assert_int_eq(mail_classify_json(headers, &mailbox, &c), 0);
    ck_assert_int_eq(c.direction, MAIL_DIRECTION_RECEIVED);
    ck_assert_int_eq(c.kind, MAIL_KIND_PERSON); /* the header with a NUL is ignored */
    mail_classification_clear(&c);
    json_decref(headers);
    json_t *object = json_object();
    ck_assert_int_eq(mail_classify_json(object, &mailbox, &c), -1);
    mail_classification_clear(&c);
    json_decref(object);
}
END_TEST

/* The events of a fixture's messages: headers at `path` in each message. */
static char *conversation_events(const char *file, const char *list, const char *const *path)
{
    char *name = util_printf("%s/plugins/common/tests/fixtures/%s", tu_source_dir(), file);
    json_error_t error;
    json_t *root = json_load_file(name, 0, &error);
    ck_assert_msg(root != NULL, "%s: %s", name, error.text);
    free(name);
    const char *addresses[3] = {json_string_value(json_object_get(root, "mailbox"))};
    size_t address_count = 1;
    size_t i;
    json_t *value;
    json_array_foreach(json_object_get(root, "aliases"), i, value)
    {
        addresses[address_count++] = json_string_value(value);
    }
    const char *domains[2] = {
        json_string_value(json_array_get(json_object_get(root, "internal_domains"), 0))};
    struct mail_mailbox box = {addresses, address_count, domains, 1};
    struct text {
        char data[512];
        size_t used;
    } events = {{0}, 0};
    json_t *message;
    json_array_foreach(json_object_get(root, list), i, message)
    {
        json_t *headers = message;
        for (size_t k = 0; path[k] != NULL; k++) {
            headers = json_object_get(headers, path[k]);
        }
        struct mail_classification c;
        ck_assert_int_eq(mail_classify_json(headers, &box, &c), 0);
        /* the scripted thread: everything after the outreach answers it, but the
         * newsletter (the last) */
        bool in_thread = i > 0 && i + 1 < json_array_size(json_object_get(root, list));
        char buffer[64];
        const char *event = event_of(&c, in_thread, buffer, sizeof(buffer));
        const char *who = c.kind == MAIL_KIND_BOUNCE && c.bounced.count > 0
                              ? c.bounced.items[0].address
                          : c.counterpart_count > 0 ? c.counterparts[0]->address
                                                    : "-";
        events.used +=
            (size_t)snprintf(events.data + events.used, sizeof(events.data) - events.used,
                             "%s%s %s", i > 0 ? ", " : "", event, who);
        mail_classification_clear(&c);
    }
    json_decref(root);
    return strdup(events.data);
}

START_TEST(test_mail_classify_gmail_and_graph_give_the_same_events_for_one_conversation)
{
    const char *gmail_path[] = {"payload", "headers", NULL};
    const char *graph_path[] = {"internetMessageHeaders", NULL};
    char *gmail = conversation_events("conversation.gmail.json", "messages", gmail_path);
    char *graph = conversation_events("conversation.graph.json", "value", graph_path);
    ck_assert_str_eq(gmail, "email.sent ada@analytical.example, "
                            "skip:auto_reply ada@analytical.example, "
                            "email.replied ada@analytical.example, "
                            "email.bounced charles@analytical.example, "
                            "skip:list news@analytical.example");
    ck_assert_str_eq(graph, gmail);
    free(gmail);
    free(graph);
}
END_TEST

START_TEST(test_mail_event_names)
{
    ck_assert_str_eq(mail_event_type(MAIL_EVENT_RECEIVED), "email.received");
    ck_assert_str_eq(mail_event_type(MAIL_EVENT_SENT), "email.sent");
    ck_assert_str_eq(mail_event_type(MAIL_EVENT_REPLIED), "email.replied");
    ck_assert_str_eq(mail_event_type(MAIL_EVENT_BOUNCED), "email.bounced");
    ck_assert_ptr_null(mail_event_type(MAIL_EVENT_SKIP));
    ck_assert_str_eq(mail_direction_name(MAIL_DIRECTION_SENT), "sent");
    ck_assert_str_eq(mail_kind_name(MAIL_KIND_DELAY), "delay");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mail_classify");
    TCase *people = tcase_create("people");
    tcase_add_test(people,
                   test_mail_classify_a_prospects_answer_is_a_reply_only_in_the_mailboxs_thread);
    tcase_add_test(people,
                   test_mail_classify_a_new_message_in_a_known_thread_is_received_not_replied);
    tcase_add_test(people,
                   test_mail_classify_sent_by_the_mailbox_names_the_outside_recipients_once);
    tcase_add_test(people, test_mail_classify_mail_among_internal_people_is_skipped_as_internal);
    tcase_add_test(people, test_mail_classify_without_a_readable_sender_is_skipped);
    tcase_add_test(people, test_mail_classify_header_names_ignore_case);
    suite_add_tcase(s, people);
    TCase *automatic = tcase_create("automatic");
    tcase_add_test(automatic, test_mail_classify_automatic_answers_by_their_headers);
    tcase_add_test(automatic, test_mail_classify_an_automatic_answer_is_never_a_reply);
    tcase_add_test(automatic, test_mail_classify_subjects_of_automatic_replies_are_a_weak_fallback);
    tcase_add_test(automatic, test_mail_classify_a_gmail_bounce_names_the_recipient);
    tcase_add_test(automatic, test_mail_classify_bounces_by_sender_or_report_type);
    tcase_add_test(automatic, test_mail_classify_a_delay_warning_is_no_bounce);
    tcase_add_test(automatic, test_mail_dsn_gives_the_failed_recipients_only);
    tcase_add_test(automatic, test_mail_classify_lists_and_newsletters_are_skipped);
    suite_add_tcase(s, automatic);
    TCase *providers = tcase_create("providers");
    tcase_add_test(providers, test_mail_classify_json_reads_name_value_pairs_and_ignores_the_rest);
    tcase_add_test(providers,
                   test_mail_classify_gmail_and_graph_give_the_same_events_for_one_conversation);
    tcase_add_test(providers, test_mail_event_names);
    suite_add_tcase(s, providers);
    return tu_run_suite(s);
}
