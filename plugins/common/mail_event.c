/* mail_event.c - see mail_event.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail_event.h"
#include "person_name.h"

#define TEXT_MAX 1024 /* the host's limit for a lead's text fields */

bool mail_event_address_ok(const char *address)
{
    size_t len = address != NULL ? strlen(address) : 0;
    const char *at = len > 0 ? strchr(address, '@') : NULL;
    if (len == 0 || len > MAIL_ADDRESS_MAX || at == NULL || at == address || at[1] == '\0' ||
        strchr(at + 1, '@') != NULL) {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)address; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f || *p == ',' || *p == '<' || *p == '>') {
            return false;
        }
    }
    return true;
}

static int set_text(json_t *object, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0') {
        return 0;
    }
    return json_object_set_new(object, key, json_string(value));
}

static json_t *event_data(const struct mail_classification *c, const struct mail_event_source *s)
{
    json_t *data = json_object();
    if (data == NULL) {
        return NULL;
    }
    int rc = set_text(data, "mailbox", s->mailbox) | set_text(data, "provider_id", s->provider_id) |
             set_text(data, "thread_id", s->thread_id) |
             set_text(data, "message_id", c->message_id) |
             set_text(data, "in_reply_to", c->in_reply_to) | set_text(data, "subject", c->subject) |
             set_text(data, "kind", mail_kind_name(c->kind)) |
             set_text(data, "direction", mail_direction_name(c->direction)) |
             set_text(data, "snippet", s->snippet);
    if (rc != 0) {
        json_decref(data);
        return NULL;
    }
    return data;
}

#define SOURCE_ID_MAX   256 /* the hub's limit */
#define PROVIDER_ID_MAX 160

/* 64-bit FNV-1a: a stable short name for an address too long to spell out. */
static uint64_t fnv1a(const char *text)
{
    uint64_t hash = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        hash = (hash ^ *p) * 1099511628211ULL;
    }
    return hash;
}

/* One event about `who`; source_id is the provider id, with "/<address>" when `suffixed`
 * (an address that would pass the hub's 256 bytes is cut and ends "~<its hash>"). */
static int append_event(json_t *events, const char *type, const struct mail_address *who,
                        bool suffixed, const struct mail_classification *c,
                        const struct mail_event_source *s)
{
    char *source_id = NULL;
    json_t *event = NULL;
    int rc = -1;
    if (!mail_event_address_ok(who->address)) {
        return 0; /* the hub could not store it as a lead: no event about it */
    }
    size_t size = strlen(s->provider_id) + strlen(who->address) + 2;
    source_id = malloc(size);
    if (source_id == NULL) {
        goto out;
    }
    if (suffixed && size - 1 > SOURCE_ID_MAX) {
        int keep = (int)(SOURCE_ID_MAX - strlen(s->provider_id) - 1 - 17);
        snprintf(source_id, size, "%s/%.*s~%016llx", s->provider_id, keep, who->address,
                 (unsigned long long)fnv1a(who->address));
    } else if (suffixed) {
        snprintf(source_id, size, "%s/%s", s->provider_id, who->address);
    } else {
        snprintf(source_id, size, "%s", s->provider_id);
    }
    json_t *lead = json_pack("{s:s}", "email", who->address);
    json_t *data = event_data(c, s);
    event = json_pack("{s:s, s:s, s:s, s:o*, s:o*}", "type", type, "source_id", source_id,
                      "occurred_at", s->occurred_at, "lead", lead, "data", data);
    if (event == NULL || lead == NULL || data == NULL) {
        goto out;
    }
    if (who->name != NULL &&
        person_name_set_lead(lead, who->name, strlen(who->name), TEXT_MAX) < 0) {
        goto out;
    }
    rc = json_array_append(events, event);
out:
    json_decref(event);
    free(source_id);
    return rc;
}

json_t *mail_event_build(const struct mail_classification *classification, enum mail_event event,
                         const struct mail_address_list *bounced,
                         const struct mail_event_source *source)
{
    if (source == NULL || source->provider_id == NULL || source->occurred_at == NULL) {
        return NULL;
    }
    if (source->provider_id[0] == '\0' || strlen(source->provider_id) > PROVIDER_ID_MAX) {
        return json_array(); /* not an id a provider gives: no event can be keyed by it */
    }
    json_t *events = json_array();
    if (events == NULL) {
        return NULL;
    }
    const char *type = mail_event_type(event);
    int rc = 0;
    switch (event) {
    case MAIL_EVENT_SKIP:
        break;
    case MAIL_EVENT_RECEIVED:
    case MAIL_EVENT_REPLIED:
        if (classification->sender != NULL) {
            rc = append_event(events, type, classification->sender, false, classification, source);
        }
        break;
    case MAIL_EVENT_SENT:
        for (size_t i = 0; i < classification->counterpart_count && rc == 0; i++) {
            rc = append_event(events, type, classification->counterparts[i], true, classification,
                              source);
        }
        break;
    case MAIL_EVENT_BOUNCED: {
        const struct mail_address_list *who = bounced != NULL ? bounced : &classification->bounced;
        for (size_t i = 0; i < who->count && rc == 0; i++) {
            rc = append_event(events, type, &who->items[i], true, classification, source);
        }
        break;
    }
    }
    if (rc != 0) {
        json_decref(events);
        return NULL;
    }
    return events;
}
