/*
 * ms_mail.c - Outlook mail: the delta rounds of Sent Items and Inbox, and what a message
 * becomes. The decision is plugins/common's (mail_classify, mail_event_decide), the same as
 * for Gmail: this file only turns a Graph message into the headers those functions read
 * (internetMessageHeaders, which $select asks for; From/To/Cc/Bcc/Subject built from Graph's
 * fields where Graph leaves the headers out: the mailbox's own sent items, mail inside the
 * tenant) and answers "did the mailbox write in this conversation?" from the conversationIds
 * of its sent items, remembered in checkpoints.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_classify.h"
#include "microsoft.h"
#include "person_name.h"

#define TEXT_MAX 1024
#define SELECT                                                                                     \
    "id,internetMessageId,conversationId,subject,from,sender,toRecipients,ccRecipients,"           \
    "bccRecipients,receivedDateTime,sentDateTime,isDraft,internetMessageHeaders"

static bool has_header(const json_t *headers, const char *name)
{
    size_t i;
    const json_t *h;
    json_array_foreach(headers, i, h)
    {
        if (ms_same(json_string_value(json_object_get(h, "name")), name)) {
            return true;
        }
    }
    return false;
}

/* Appends `"name" <address>` (quoted, escaped) of a Graph recipient to a header value. */
static void append_address(char **value, size_t *len, const json_t *recipient)
{
    const json_t *email = json_object_get(recipient, "emailAddress");
    const char *address = json_string_value(json_object_get(email, "address"));
    const char *name = json_string_value(json_object_get(email, "name"));
    if (address == NULL || address[0] == '\0' || strpbrk(address, "<>\",\r\n") != NULL) {
        return;
    }
    size_t name_len = name != NULL ? strlen(name) : 0;
    size_t need = *len + 2 * name_len + strlen(address) + 8;
    char *grown = realloc(*value, need);
    if (grown == NULL) {
        return;
    }
    *value = grown;
    char *p = grown + *len;
    if (*len > 0) {
        *p++ = ',';
        *p++ = ' ';
    }
    /* Graph puts the address in `name` when there is no display name: leave it out */
    if (name_len > 0 && !ms_same(name, address)) {
        *p++ = '"';
        for (const char *n = name; *n != '\0'; n++) {
            if (*n == '\r' || *n == '\n') {
                *p++ = ' ';
                continue;
            }
            if (*n == '"' || *n == '\\') {
                *p++ = '\\';
            }
            *p++ = *n;
        }
        *p++ = '"';
        *p++ = ' ';
    }
    p += sprintf(p, "<%s>", address);
    *len = (size_t)(p - grown);
}

static void add_header(json_t *headers, const char *name, const char *value)
{
    if (value != NULL && value[0] != '\0' && !has_header(headers, name)) {
        json_array_append_new(headers, json_pack("{s:s, s:s}", "name", name, "value", value));
    }
}

static void add_address_header(json_t *headers, const char *name, const json_t *recipients)
{
    char *value = NULL;
    size_t len = 0;
    if (json_is_object(recipients)) {
        append_address(&value, &len, recipients);
    } else {
        size_t i;
        const json_t *r;
        json_array_foreach(recipients, i, r)
        {
            append_address(&value, &len, r);
        }
    }
    if (value != NULL) {
        value[len] = '\0';
        add_header(headers, name, value);
    }
    free(value);
}

json_t *ms_mail_headers(const json_t *message)
{
    json_t *headers = json_array();
    if (headers == NULL) {
        return NULL;
    }
    size_t i;
    const json_t *h;
    json_array_foreach(json_object_get(message, "internetMessageHeaders"), i, h)
    {
        if (json_is_string(json_object_get(h, "name")) &&
            json_is_string(json_object_get(h, "value"))) {
            json_array_append(headers, (json_t *)h);
        }
    }
    const json_t *from = json_object_get(message, "from");
    add_address_header(headers, "From", from != NULL ? from : json_object_get(message, "sender"));
    add_address_header(headers, "To", json_object_get(message, "toRecipients"));
    add_address_header(headers, "Cc", json_object_get(message, "ccRecipients"));
    add_address_header(headers, "Bcc", json_object_get(message, "bccRecipients"));
    add_header(headers, "Subject", json_string_value(json_object_get(message, "subject")));
    add_header(headers, "Message-ID",
               json_string_value(json_object_get(message, "internetMessageId")));
    return headers;
}

/* One email.* event about `address` (name: a display name or NULL). */
static json_t *mail_event(const struct ms_mailbox *mailbox, const json_t *message,
                          enum mail_event kind, const struct mail_classification *c,
                          const char *address, const char *name)
{
    const char *id = json_string_value(json_object_get(message, "internetMessageId"));
    if (id == NULL || id[0] == '\0') {
        id = json_string_value(json_object_get(message, "id"));
    }
    const char *when = json_string_value(
        json_object_get(message, kind == MAIL_EVENT_SENT ? "sentDateTime" : "receivedDateTime"));
    int64_t ms = ms_parse_time(when);
    if (ms < 0) {
        ms = ms_parse_time(json_string_value(json_object_get(
            message, kind == MAIL_EVENT_SENT ? "receivedDateTime" : "sentDateTime")));
    }
    if (id == NULL || ms < 0) {
        return NULL; /* ms_mail_map() checked both: out of memory is the only other way */
    }
    char occurred[32];
    ms_format_time(ms, occurred);
    char *sid =
        ms_source_id(mailbox->key, id,
                     kind == MAIL_EVENT_RECEIVED || kind == MAIL_EVENT_REPLIED ? NULL : address);
    json_t *lead = json_pack("{s:s}", "email", address);
    if (sid == NULL || lead == NULL) {
        free(sid);
        json_decref(lead);
        return NULL;
    }
    if (name != NULL) {
        person_name_set_lead(lead, name, strlen(name), TEXT_MAX);
    }
    json_t *data = json_pack("{s:s, s:s}", "mailbox", mailbox->address, "classified",
                             c->kind_reason != NULL ? c->kind_reason : "none");
    const char *subject = c->subject;
    if (data != NULL && subject != NULL && strlen(subject) <= TEXT_MAX) {
        json_object_set_new(data, "subject", json_string(subject));
    }
    const char *conversation = json_string_value(json_object_get(message, "conversationId"));
    if (data != NULL && conversation != NULL) {
        json_object_set_new(data, "conversation_id", json_string(conversation));
    }
    if (data != NULL && c->message_id != NULL) {
        json_object_set_new(data, "message_id", json_string(c->message_id));
    }
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:o, s:o*}", "type", mail_event_type(kind), "source_id", sid,
                  "occurred_at", occurred, "lead", lead, "data", data);
    free(sid);
    if (event != NULL) {
        json_t *raw = json_deep_copy(message);
        json_object_del(raw, "internetMessageHeaders"); /* bulky and kept nowhere else */
        json_object_set_new(event, "raw", raw != NULL ? raw : json_null());
    }
    return event;
}

static void push(json_t *events, json_t *event, bool *failed)
{
    if (event == NULL || json_array_append_new(events, event) != 0) {
        *failed = true;
    }
}

/* One event about `address`, unless the address is none the host takes (a quoted local
 * part with a space, a group): that person is skipped. */
static void push_about(json_t *events, const struct ms_mailbox *mailbox, const json_t *message,
                       enum mail_event kind, const struct mail_classification *c,
                       const char *address, const char *name, bool *failed)
{
    if (ms_address_ok(address)) {
        push(events, mail_event(mailbox, message, kind, c, address, name), failed);
    }
}

int ms_mail_map(const struct microsoft *ms, const struct ms_mailbox *mailbox, const json_t *message,
                const json_t *thread, json_t **events_out, const char **skip_reason_out,
                json_t **sent_to_out)
{
    *events_out = NULL;
    *sent_to_out = NULL;
    *skip_reason_out = NULL;
    if (json_is_true(json_object_get(message, "isDraft"))) {
        *events_out = json_array();
        *skip_reason_out = "draft";
        return *events_out != NULL ? 0 : -1;
    }
    const char *id = json_string_value(json_object_get(message, "internetMessageId"));
    if (id == NULL || id[0] == '\0') {
        id = json_string_value(json_object_get(message, "id"));
    }
    if (id == NULL || id[0] == '\0' ||
        (ms_parse_time(json_string_value(json_object_get(message, "receivedDateTime"))) < 0 &&
         ms_parse_time(json_string_value(json_object_get(message, "sentDateTime"))) < 0)) {
        *events_out = json_array();
        *skip_reason_out = "no_id_or_time";
        return *events_out != NULL ? 0 : -1;
    }
    json_t *headers = ms_mail_headers(message);
    json_t *events = json_array();
    const char *own[] = {mailbox->address};
    struct mail_mailbox box = {own, 1, (const char *const *)ms->internal_domains,
                               ms->internal_domain_count};
    struct mail_classification c;
    memset(&c, 0, sizeof(c));
    if (headers == NULL || events == NULL || mail_classify_json(headers, &box, &c) != 0) {
        json_decref(headers);
        json_decref(events);
        mail_classification_clear(&c);
        return -1;
    }
    json_decref(headers);
    bool failed = false;
    if (c.direction == MAIL_DIRECTION_SENT && c.counterpart_count > 0) {
        json_t *sent_to = json_array();
        for (size_t i = 0; sent_to != NULL && i < c.counterpart_count; i++) {
            json_array_append_new(sent_to, json_string(c.counterparts[i]->address));
        }
        *sent_to_out = sent_to;
        failed = sent_to == NULL;
    }
    const char *skip = NULL;
    enum mail_event kind = mail_event_decide(&c, thread != NULL, &skip);
    switch (kind) {
    case MAIL_EVENT_SKIP:
        *skip_reason_out = skip != NULL ? skip : "skipped";
        break;
    case MAIL_EVENT_RECEIVED:
    case MAIL_EVENT_REPLIED:
        push_about(events, mailbox, message, kind, &c, c.sender->address, c.sender->name, &failed);
        break;
    case MAIL_EVENT_SENT:
        for (size_t i = 0; i < c.counterpart_count; i++) {
            push_about(events, mailbox, message, kind, &c, c.counterparts[i]->address,
                       c.counterparts[i]->name, &failed);
        }
        break;
    case MAIL_EVENT_BOUNCED:
        if (c.bounced.count > 0) {
            for (size_t i = 0; i < c.bounced.count; i++) {
                push_about(events, mailbox, message, kind, &c, c.bounced.items[i].address, NULL,
                           &failed);
            }
        } else if (json_array_size(thread) > 0) {
            /* Exchange's reports carry no X-Failed-Recipients: the message that bounced is
             * the mailbox's last one in the conversation */
            size_t i;
            const json_t *to;
            json_array_foreach(thread, i, to)
            {
                push_about(events, mailbox, message, kind, &c, json_string_value(to), NULL,
                           &failed);
            }
        } else {
            *skip_reason_out = "bounce_unmatched";
        }
        break;
    }
    if (!failed && kind != MAIL_EVENT_SKIP && json_array_size(events) == 0) {
        *skip_reason_out = "bad_address";
    }
    mail_classification_clear(&c);
    if (failed) {
        json_decref(events);
        json_decref(*sent_to_out);
        *sent_to_out = NULL;
        return -1;
    }
    *events_out = events;
    return 0;
}

/* The delta round of one folder ------------------------------------------------------- */

struct folder {
    const char *name; /* Graph's well-known folder name */
};

static char *mail_initial_url(struct microsoft *ms, struct ms_mailbox *mailbox, int64_t now,
                              void *arg)
{
    const struct folder *folder = arg;
    char since[32];
    ms_format_time(now - ms->backfill_ms, since);
    size_t size = strlen(ms->graph_base) + strlen(mailbox->path) + strlen(SELECT) + 160;
    char *url = malloc(size);
    if (url != NULL) {
        snprintf(url, size,
                 "%s%s/mailFolders/%s/messages/delta?$select=" SELECT
                 "&$filter=receivedDateTime+ge+%s",
                 ms->graph_base, mailbox->path, folder->name, since);
    }
    return url;
}

static lh_status_t conversation_key(const struct ms_mailbox *mailbox, const json_t *message,
                                    char key[64])
{
    const char *conversation = json_string_value(json_object_get(message, "conversationId"));
    if (conversation == NULL || conversation[0] == '\0') {
        return LH_PERMANENT;
    }
    char hash[17];
    ms_hash_key(mailbox->address, conversation, hash);
    snprintf(key, 64, "conv.%s.%s", mailbox->key, hash);
    return LH_OK;
}

static lh_status_t take_message(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                                const json_t *item, void *arg)
{
    (void)arg;
    const lh_host_t *host = ms->host;
    if (json_object_get(item, "@removed") != NULL) {
        return LH_OK; /* a deletion: what was stored stays stored */
    }
    char key[64];
    bool has_conversation = conversation_key(mailbox, item, key) == LH_OK;
    json_t *thread = NULL;
    if (has_conversation) {
        lh_status_t status = host->checkpoint_get(ctx, key, &thread);
        if (status != LH_OK) {
            return status;
        }
    }
    json_t *events = NULL, *sent_to = NULL;
    const char *skip = NULL;
    int rc = ms_mail_map(ms, mailbox, item, thread, &events, &skip, &sent_to);
    json_decref(thread);
    if (rc != 0) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    lh_status_t status = LH_OK;
    if (sent_to != NULL && has_conversation) {
        status = host->checkpoint_put(ctx, key, sent_to); /* stolen */
    } else {
        json_decref(sent_to);
    }
    if (skip != NULL) {
        host->counter_add(ctx, "messages_skipped_total", "reason", skip, 1);
    }
    size_t i;
    json_t *event;
    json_array_foreach(events, i, event)
    {
        if (status == LH_OK && host->emit(ctx, json_incref(event)) != LH_OK) {
            /* one odd message must not hold back the mailbox: counted, skipped */
            host->counter_add(ctx, "messages_skipped_total", "reason", "invalid", 1);
        }
    }
    json_decref(events);
    return status;
}

lh_status_t ms_mail_poll(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                         int64_t *wait_out)
{
    /* Sent Items first: a reply in Inbox then finds the conversation its mailbox wrote in */
    static const struct folder folders[] = {{"sentitems"}, {"inbox"}};
    *wait_out = 0;
    for (size_t f = 0; f < 2; f++) {
        char cursor_key[64];
        snprintf(cursor_key, sizeof(cursor_key), "mail.%s.%s", mailbox->key, folders[f].name);
        struct ms_delta delta = {.kind = MS_MAIL,
                                 .cursor_key = cursor_key,
                                 .initial_url = mail_initial_url,
                                 .item = take_message,
                                 .arg = (void *)&folders[f]};
        lh_status_t status = ms_delta_run(ms, ctx, mailbox, &delta);
        if (status != LH_OK) {
            return status;
        }
        if (delta.wait_ms > 0) {
            *wait_out = delta.wait_ms;
            return LH_OK;
        }
    }
    return LH_OK;
}
