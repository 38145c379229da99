/*
 * google_message.c - one Gmail message (format=metadata) to its events, through the shared
 * classifier (plugins/common/mail_classify.h) and event builder (mail_event.h), so that a
 * conversation read from Gmail gives what the same one read from Outlook gives.
 *
 * "Did the mailbox take part in this thread?" (a reply, a bounce of its own mail) is asked
 * of Gmail only when the answer matters: threads.get (format=metadata, To/Cc/From) finds a
 * message labelled SENT. The answer is cached for the poll (thread_cache: threadId -> the
 * last SENT message's recipients, or false), and a SENT message seen in the poll answers it
 * for its thread without a call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google.h"
#include "mail_classify.h"
#include "mail_event.h"

/* Labels whose messages are not mail with a person. */
static const char *const skipped_labels[] = {"DRAFT", "SPAM", "TRASH", "CHAT", NULL};

static bool has_label(const json_t *message, const char *label)
{
    size_t i;
    const json_t *value;
    json_array_foreach(json_object_get(message, "labelIds"), i, value)
    {
        if (json_is_string(value) && strcmp(json_string_value(value), label) == 0) {
            return true;
        }
    }
    return false;
}

/* internalDate (epoch ms as a string) as RFC 3339 UTC; false when unreadable. */
static bool occurred_at(const json_t *message, char *out, size_t size)
{
    const char *text = json_string_value(json_object_get(message, "internalDate"));
    /* at most 9999-12-31T23:59:59.999Z: what the hub stores */
    if (text == NULL || text[0] < '0' || text[0] > '9' || strlen(text) > 15 ||
        strtoll(text, NULL, 10) > 253402300799999LL) {
        return false;
    }
    char *end = NULL;
    long long ms = strtoll(text, &end, 10);
    if (*end != '\0') {
        return false;
    }
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&seconds, &tm) == NULL) {
        return false;
    }
    size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    return n > 0 && (size_t)snprintf(out + n, size - n, ".%03dZ", (int)(ms % 1000)) < size - n;
}

/* The recipients of the SENT message `message` of a thread: its To and Cc, joined. */
static json_t *sent_recipients(const json_t *message)
{
    json_t *out = json_array();
    size_t i;
    const json_t *header;
    json_array_foreach(json_object_get(json_object_get(message, "payload"), "headers"), i, header)
    {
        const char *name = json_string_value(json_object_get(header, "name"));
        const char *value = json_string_value(json_object_get(header, "value"));
        if (name != NULL && value != NULL &&
            (strcasecmp(name, "To") == 0 || strcasecmp(name, "Cc") == 0)) {
            json_array_append_new(out, json_string(value));
        }
    }
    return out;
}

/*
 * What the mailbox sent in a thread, from the cache or threads.get: a NEW reference to an
 * array of the last SENT message's To/Cc values when it took part, json_false() when not.
 */
static lh_status_t thread_sent(struct google *g, lh_ctx_t *ctx, const char *thread_id,
                               json_t *cache, json_t **out)
{
    json_t *known = json_object_get(cache, thread_id);
    if (known != NULL) {
        *out = json_incref(known);
        return LH_OK;
    }
    char escaped[512];
    char url[GOOGLE_URL_MAX];
    if (google_url_escape(thread_id, escaped, sizeof(escaped)) != 0) {
        g->host->set_error(ctx, "a thread id is too long");
        return LH_PERMANENT;
    }
    snprintf(url, sizeof(url),
             "%s/gmail/v1/users/me/threads/%s?format=metadata&metadataHeaders=To"
             "&metadataHeaders=Cc&metadataHeaders=From",
             g->gmail_base, escaped);
    struct google_response r;
    lh_status_t status = google_get(g, ctx, url, GOOGLE_COST_THREADS_GET, &r);
    if (status != LH_OK) {
        google_response_clear(&r);
        return status;
    }
    json_t *answer = json_false();
    size_t i;
    const json_t *message;
    json_array_foreach(json_object_get(r.body, "messages"), i, message)
    {
        if (has_label(message, "SENT")) {
            json_decref(answer);
            answer = sent_recipients(message); /* the last one wins: the nearest */
        }
    }
    google_response_clear(&r);
    json_object_set(cache, thread_id, answer);
    *out = answer;
    return LH_OK;
}

/* The outside addresses among header values (To/Cc of what the mailbox sent). */
static void outside_addresses(const struct google *g, const json_t *values,
                              struct mail_address_list *out)
{
    size_t i;
    const json_t *value;
    json_array_foreach(values, i, value)
    {
        struct mail_address_list list = {0};
        const char *text = json_string_value(value);
        if (mail_address_list_parse(text, strlen(text), &list) != 0) {
            mail_address_list_clear(&list);
            continue;
        }
        for (size_t k = 0; k < list.count; k++) {
            struct mail_address *a = &list.items[k];
            bool internal = google_is_own_address(g, a->address);
            for (size_t d = 0; d < g->internal_domain_count && !internal; d++) {
                internal = mail_domain_within(a->domain, g->internal_domains[d]);
            }
            struct mail_address *grown =
                internal ? NULL : realloc(out->items, (out->count + 1) * sizeof(*out->items));
            if (grown == NULL) {
                continue;
            }
            out->items = grown;
            out->items[out->count++] = *a; /* moved: the strings now belong to out */
            memset(a, 0, sizeof(*a));
        }
        mail_address_list_clear(&list);
    }
}

static void count_skip(struct google *g, lh_ctx_t *ctx, const char *reason)
{
    g->host->counter_add(ctx, "google_mail_skipped_total", "reason", reason, 1);
}

lh_status_t google_message_emit(struct google *g, lh_ctx_t *ctx, const json_t *message,
                                json_t *thread_cache)
{
    const lh_host_t *host = g->host;
    const char *id = json_string_value(json_object_get(message, "id"));
    const char *thread_id = json_string_value(json_object_get(message, "threadId"));
    char when[40];
    if (id == NULL || thread_id == NULL || !occurred_at(message, when, sizeof(when))) {
        count_skip(g, ctx, "malformed");
        return LH_OK;
    }
    for (size_t i = 0; skipped_labels[i] != NULL; i++) {
        if (has_label(message, skipped_labels[i])) {
            count_skip(g, ctx, "label");
            return LH_OK;
        }
    }
    const char *own[1 + 64];
    size_t own_count = 0;
    own[own_count++] = g->mailbox;
    for (size_t i = 0; i < g->alias_count && own_count < sizeof(own) / sizeof(own[0]); i++) {
        own[own_count++] = g->aliases[i];
    }
    struct mail_mailbox mailbox = {own, own_count, (const char *const *)g->internal_domains,
                                   g->internal_domain_count};
    struct mail_classification c;
    struct mail_address_list bounced = {0};
    json_t *sent = NULL;
    json_t *events = NULL;
    lh_status_t status = LH_OK;
    const json_t *headers = json_object_get(json_object_get(message, "payload"), "headers");
    if (!json_is_array(headers)) {
        count_skip(g, ctx, "malformed");
        return LH_OK;
    }
    if (mail_classify_json(headers, &mailbox, &c) != 0) {
        mail_classification_clear(&c);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    bool in_thread = false;
    if (c.kind == MAIL_KIND_PERSON && c.direction == MAIL_DIRECTION_SENT) {
        json_t *recipients = sent_recipients(message);
        json_object_set_new(thread_cache, thread_id, recipients);
    } else if (c.kind == MAIL_KIND_BOUNCE ||
               (c.kind == MAIL_KIND_PERSON && c.direction == MAIL_DIRECTION_RECEIVED &&
                c.is_reply)) {
        status = thread_sent(g, ctx, thread_id, thread_cache, &sent);
        if (status != LH_OK) {
            goto out;
        }
        in_thread = json_is_array(sent);
    }
    const char *skip_reason = NULL;
    enum mail_event event = mail_event_decide(&c, in_thread, &skip_reason);
    if (event == MAIL_EVENT_BOUNCED && c.bounced.count == 0) {
        /* the bounce does not say who (no X-Failed-Recipients): the mail it answers does */
        outside_addresses(g, sent, &bounced);
    }
    const char *snippet =
        g->include_snippet ? json_string_value(json_object_get(message, "snippet")) : NULL;
    struct mail_event_source source = {.provider_id = id,
                                       .thread_id = thread_id,
                                       .mailbox = g->mailbox,
                                       .occurred_at = when,
                                       .snippet = snippet};
    if (event == MAIL_EVENT_SKIP) {
        count_skip(g, ctx, skip_reason);
        goto out;
    }
    events = mail_event_build(&c, event, c.bounced.count > 0 ? NULL : &bounced, &source);
    if (events == NULL) {
        host->set_error(ctx, "out of memory");
        status = LH_RETRY;
        goto out;
    }
    if (json_array_size(events) == 0) {
        count_skip(g, ctx, "no_lead");
    }
    size_t i;
    json_t *item;
    json_array_foreach(events, i, item)
    {
        /* a refused event is counted by the host and skipped: one odd message must not
         * hold back the mailbox */
        host->emit(ctx, json_incref(item));
    }
    host->counter_add(ctx, "google_mail_events_total", "type", mail_event_type(event),
                      (double)json_array_size(events));
out:
    json_decref(events);
    json_decref(sent);
    mail_address_list_clear(&bounced);
    mail_classification_clear(&c);
    return status;
}
