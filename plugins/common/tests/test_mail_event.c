/*
 * test_mail_event.c - the events a decided message becomes (mail_event.h): whom each is
 * about, its source id, the names the shared parser is sure of, and the addresses the hub
 * could not store left out.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_classify.h"
#include "mail_event.h"
#include "testutil.h"

static const char *const own[] = {"maya@ourco.example"};
static const char *const internal[] = {"ourco.example"};
static const struct mail_mailbox mailbox = {own, 1, internal, 1};

/* Classifies headers, decides with in_thread, builds; returns the events (NEW). */
static json_t *events_of(const struct mail_header *headers, size_t count, bool in_thread)
{
    struct mail_classification c;
    ck_assert_int_eq(mail_classify(headers, count, &mailbox, &c), 0);
    enum mail_event event = mail_event_decide(&c, in_thread, NULL);
    struct mail_event_source source = {.provider_id = "18f3c2a9b7d4e501",
                                       .thread_id = "18f3c2a9b7d4e501",
                                       .mailbox = "maya@ourco.example",
                                       .occurred_at = "2026-12-07T10:00:00.000Z"};
    json_t *events = mail_event_build(&c, event, NULL, &source);
    ck_assert_ptr_nonnull(events);
    mail_classification_clear(&c);
    return events;
}

static const char *member(const json_t *events, size_t i, const char *object, const char *key)
{
    const json_t *e = json_array_get(events, i);
    return json_string_value(json_object_get(object != NULL ? json_object_get(e, object) : e, key));
}

START_TEST(test_mail_event_a_reply_is_about_its_sender_named_as_the_parser_is_sure)
{
    const struct mail_header headers[] = {
        {"From", "\"Natarajan, Priya\" <Priya@Northwind.example>"},
        {"To", "maya@ourco.example"},
        {"Subject", "=?UTF-8?Q?Re:_D=C3=A9mo?="},
        {"In-Reply-To", "<a@ourco.example>"},
    };
    json_t *events = events_of(headers, 4, true);
    ck_assert_int_eq(json_array_size(events), 1);
    ck_assert_str_eq(member(events, 0, NULL, "type"), "email.replied");
    ck_assert_str_eq(member(events, 0, NULL, "source_id"), "18f3c2a9b7d4e501");
    ck_assert_str_eq(member(events, 0, "lead", "email"), "Priya@northwind.example");
    ck_assert_str_eq(member(events, 0, "lead", "first_name"), "Priya");
    ck_assert_str_eq(member(events, 0, "lead", "last_name"), "Natarajan");
    ck_assert_str_eq(member(events, 0, "data", "subject"), "Re: Démo");
    ck_assert_str_eq(member(events, 0, "data", "in_reply_to"), "<a@ourco.example>");
    ck_assert_ptr_null(member(events, 0, "data", "snippet"));
    json_decref(events);
    /* the same answer in a conversation the mailbox never joined is only received */
    events = events_of(headers, 4, false);
    ck_assert_str_eq(member(events, 0, NULL, "type"), "email.received");
    json_decref(events);
}
END_TEST

START_TEST(test_mail_event_sent_mail_makes_one_event_per_outside_recipient)
{
    const struct mail_header headers[] = {
        {"From", "Maya <maya@ourco.example>"},
        {"To", "a@one.example, colleague@ourco.example, \"john doe\"@two.example"},
        {"Cc", "Ana de la Cruz <ana@three.example>"},
    };
    json_t *events = events_of(headers, 3, false);
    /* the colleague is internal; a quoted local part with a space cannot be a lead */
    ck_assert_int_eq(json_array_size(events), 2);
    ck_assert_str_eq(member(events, 0, NULL, "source_id"), "18f3c2a9b7d4e501/a@one.example");
    ck_assert_str_eq(member(events, 1, NULL, "source_id"), "18f3c2a9b7d4e501/ana@three.example");
    ck_assert_str_eq(member(events, 1, "lead", "last_name"), "de la Cruz");
    ck_assert_str_eq(member(events, 1, NULL, "type"), "email.sent");
    json_decref(events);
}
END_TEST

START_TEST(test_mail_event_a_bounce_is_about_who_bounced_and_only_of_the_mailboxs_mail)
{
    const struct mail_header headers[] = {
        {"From", "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"},
        {"To", "maya@ourco.example"},
        {"X-Failed-Recipients", "gone@defunct.example"},
    };
    json_t *events = events_of(headers, 3, true);
    ck_assert_int_eq(json_array_size(events), 1);
    ck_assert_str_eq(member(events, 0, NULL, "type"), "email.bounced");
    ck_assert_str_eq(member(events, 0, "lead", "email"), "gone@defunct.example");
    ck_assert_str_eq(member(events, 0, NULL, "source_id"), "18f3c2a9b7d4e501/gone@defunct.example");
    json_decref(events);
    events = events_of(headers, 3, false); /* a bounce of mail forged in its name */
    ck_assert_int_eq(json_array_size(events), 0);
    json_decref(events);
}
END_TEST

START_TEST(test_mail_event_a_long_address_keeps_the_source_id_within_the_hubs_limit)
{
    /* a 64-byte local part and a 180-byte domain: 245 bytes, a valid address */
    char address[300];
    memset(address, 'x', 64);
    address[64] = '@';
    memset(address + 65, 'd', 172);
    memcpy(address + 237, ".example", 9);
    const struct mail_header headers[] = {{"From", "maya@ourco.example"}, {"To", address}};
    json_t *events = events_of(headers, 2, false);
    ck_assert_int_eq(json_array_size(events), 1);
    const char *id = member(events, 0, NULL, "source_id");
    ck_assert_uint_le(strlen(id), 256);
    ck_assert_ptr_nonnull(strchr(id, '~'));
    /* the same address gives the same id */
    json_t *again = events_of(headers, 2, false);
    ck_assert_str_eq(member(again, 0, NULL, "source_id"), id);
    json_decref(again);
    json_decref(events);
}
END_TEST

START_TEST(test_mail_event_address_ok_follows_what_the_hub_stores)
{
    ck_assert(mail_event_address_ok("a@b.example"));
    ck_assert(!mail_event_address_ok("\"a b\"@c.example"));
    ck_assert(!mail_event_address_ok("\"a@b\"@c.example"));
    ck_assert(!mail_event_address_ok("a,b@c.example"));
    ck_assert(!mail_event_address_ok("@c.example"));
    ck_assert(!mail_event_address_ok("a@"));
    ck_assert(!mail_event_address_ok(""));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mail_event");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, test_mail_event_a_reply_is_about_its_sender_named_as_the_parser_is_sure);
    tcase_add_test(tc, test_mail_event_sent_mail_makes_one_event_per_outside_recipient);
    tcase_add_test(tc, test_mail_event_a_bounce_is_about_who_bounced_and_only_of_the_mailboxs_mail);
    tcase_add_test(tc, test_mail_event_a_long_address_keeps_the_source_id_within_the_hubs_limit);
    tcase_add_test(tc, test_mail_event_address_ok_follows_what_the_hub_stores);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
