/*
 * hubspot_source.c - poll(): contacts and deals changed since the watermark, through the
 * search API (POST /crm/v3/objects/{contacts,deals}/search), filtered by
 * lastmodifieddate / hs_lastmodifieddate >= a time, sorted ascending by it.
 *
 * Paging moves the time, not an offset. HubSpot's `after` is an offset into the sorted
 * results, and a record modified while a pass pages through them moves to the end,
 * shifting every later record one place back: the next offset skips one of them, older
 * than the watermark the pass ends with, and it would never be seen. So each page's query
 * starts at the modification time of the previous page's last record (with after 0): the
 * records at that very time come again, and are recognised (what was seen of each object
 * is kept: hubspot_changes.c) and emit nothing. Only when a whole page shares one time,
 * so that the time cannot move, does the next page use `after`, within that time.
 *
 * The cursor (checkpoint "contacts.cursor" / "deals.cursor", committed with the events of
 * its page) is {"since": where the pass started, "from": where its next query starts,
 * "after": an offset within `from`, or null}:
 *   - a page with a next page: from = its last record's time and after = null, or, when the
 *     whole page is at `from`, after = the next offset;
 *   - the last page: the pass is complete; since = from = the latest modification seen,
 *     less 10 s of overlap (the search index lags writes by seconds; what is seen again is
 *     recognised as unchanged), never below the pass's own since; after = null;
 *   - an offset at the search API's 10,000-result cap, which it cannot page past (over
 *     10,000 records sharing one millisecond): from moves 1 ms on, skipping the rest of
 *     them, counted and logged.
 * A cursor saved before "from" existed ({"since", "after"}) goes on from since.
 * Search requests are spaced by search_interval (HubSpot allows 5 per second for search),
 * without waiting: when the next search is not due, the poll ends there (its cursor is in
 * the batch) and the next poll goes on from it; the kind left out then goes first. A poll
 * fetches at most 100 pages of each kind; a failure after some pages keeps what they
 * brought (LH_OK) and the next poll goes on from the cursor.
 *
 * Before searching, a poll fetches what webhooks recorded (hubspot_webhook.c): the pending
 * notifications "contact:<id>" / "deal:<id>", read by id with batch reads and turned into
 * events as a search page would be (deletions and merges, "contact.deleted:<id>" /
 * "contact.merged:<id>", need no read: hubspot_records.c) (the same change, the same source_id:
 * seen both ways, stored once). They are removed with the poll's commit; a failed fetch fails the
 * poll, which leaves them pending for its retry. The search still runs after them: it is the safety
 * net for notifications HubSpot never sent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

struct search_kind {
    const char *object;     /* "contacts", "deals" */
    const char *label;      /* metric label: "contact", "deal" */
    const char *modified;   /* the property filtered and sorted on */
    const char *cursor_key; /* checkpoint */
};

static const struct search_kind contacts_kind = {"contacts", "contact", "lastmodifieddate",
                                                 "contacts.cursor"};
static const struct search_kind deals_kind = {"deals", "deal", "hs_lastmodifieddate",
                                              "deals.cursor"};
static const struct search_kind meetings_kind = {"meetings", "meeting", "hs_lastmodifieddate",
                                                 "meetings.cursor"};

/* True when search_interval has passed since the last search answer. A poll never waits
 * for it: sleeping would hold the instance, and its webhooks and deliveries behind it. */
static bool search_due(const struct hubspot *hs, lh_ctx_t *ctx)
{
    return hs->search_interval_ms <= 0 || hs->last_search_ms == 0 ||
           hs->host->now_ms(ctx) - hs->last_search_ms >= hs->search_interval_ms;
}

/* The search request for one page. NEW. */
static json_t *search_body(struct hubspot *hs, const struct search_kind *kind, int64_t since,
                           const char *after)
{
    char value[32];
    snprintf(value, sizeof(value), "%lld", (long long)since);
    json_t *properties = kind == &contacts_kind ? hubspot_contact_property_names(&hs->mapping)
                         : kind == &meetings_kind
                             ? hubspot_meeting_property_names()
                             : json_pack("[s,s,s,s,s,s]", "dealname", "dealstage", "pipeline",
                                         "amount", "hubspot_owner_id", "hs_lastmodifieddate");
    if (properties == NULL) {
        return NULL;
    }
    return json_pack("{s:[{s:[{s:s, s:s, s:s}]}], s:[{s:s, s:s}], s:o, s:i, s:s}", "filterGroups",
                     "filters", "propertyName", kind->modified, "operator", "GTE", "value", value,
                     "sorts", "propertyName", kind->modified, "direction", "ASCENDING",
                     "properties", properties, "limit", HUBSPOT_SEARCH_LIMIT, "after",
                     after != NULL ? after : "0");
}

/* Where a pass stands (see the top of the file). */
struct position {
    int64_t since;  /* where the pass started */
    int64_t from;   /* where its next query starts */
    char after[64]; /* an offset within `from`, or "" */
};

static lh_status_t put_cursor(struct hubspot *hs, lh_ctx_t *ctx, const struct search_kind *kind,
                              const struct position *at)
{
    /* s? packs a NULL after as JSON null */
    json_t *cursor =
        json_pack("{s:I, s:I, s:s?}", "since", (json_int_t)at->since, "from", (json_int_t)at->from,
                  "after", at->after[0] != '\0' ? at->after : NULL);
    if (cursor == NULL) {
        hs->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return hs->host->checkpoint_put(ctx, kind->cursor_key, cursor);
}

/* The `after` of paging.next as text ("" when there is no next page). */
static void next_after(const json_t *body, char *out, size_t size)
{
    const json_t *after =
        json_object_get(json_object_get(json_object_get(body, "paging"), "next"), "after");
    out[0] = '\0';
    if (json_is_string(after) && json_string_length(after) < size &&
        strlen(json_string_value(after)) == json_string_length(after)) {
        snprintf(out, size, "%s", json_string_value(after));
    } else if (json_is_integer(after)) {
        snprintf(out, size, "%lld", (long long)json_integer_value(after));
    }
}

/* True when after is an offset at or past the cap (HubSpot's `after` for search is the
 * offset of the next result). */
static bool past_cap(const char *after)
{
    char *end = NULL;
    long long offset = strtoll(after, &end, 10);
    return end != after && *end == '\0' && offset >= HUBSPOT_SEARCH_CAP;
}

/* The position a pass starts or resumes at: the saved cursor, or (first poll) now less
 * the backfill, saved at once. */
static lh_status_t load_position(struct hubspot *hs, lh_ctx_t *ctx, const struct search_kind *kind,
                                 struct position *at)
{
    const lh_host_t *host = hs->host;
    json_t *cursor = NULL;
    lh_status_t status = host->checkpoint_get(ctx, kind->cursor_key, &cursor);
    if (status != LH_OK) {
        return status;
    }
    memset(at, 0, sizeof(*at));
    at->since = at->from = host->now_ms(ctx) - hs->backfill_ms;
    const json_t *since = json_object_get(cursor, "since");
    const json_t *from = json_object_get(cursor, "from");
    if (json_is_integer(since)) {
        at->since = json_integer_value(since);
        at->from = json_is_integer(from) && json_integer_value(from) >= at->since
                       ? json_integer_value(from)
                       : at->since;
        const char *saved = json_string_value(json_object_get(cursor, "after"));
        if (saved != NULL && strlen(saved) < sizeof(at->after)) {
            snprintf(at->after, sizeof(at->after), "%s", saved);
        }
    } else if (cursor == NULL) {
        status = put_cursor(hs, ctx, kind, at);
    }
    json_decref(cursor);
    return status;
}

/*
 * Where the next page starts, after a page of a pass that goes on (a next page exists):
 * the time of its last record (page_latest), or, when the whole page was at `from`, the
 * next offset within that time.
 */
static void next_position(struct hubspot *hs, lh_ctx_t *ctx, const struct search_kind *kind,
                          int64_t page_latest, const char *next, struct position *at)
{
    const lh_host_t *host = hs->host;
    if (page_latest > at->from) {
        at->from = page_latest;
        at->after[0] = '\0';
        return;
    }
    if (!past_cap(next)) {
        snprintf(at->after, sizeof(at->after), "%s", next);
        return;
    }
    /* HUBSPOT_SEARCH_CAP records of one millisecond and more: paging cannot reach the rest */
    host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "search_cap_same_time", 1);
    host->counter_add(ctx, "hubspot_search_window_advanced_total", "object", kind->label, 1);
    host->log(ctx, LH_LOG_WARN, "more than %d %s share one modification time: moving past it",
              HUBSPOT_SEARCH_CAP, kind->object);
    at->from++;
    at->after[0] = '\0';
}

/* One kind's pass; *progress_out tells whether it committed any page to the batch,
 * *searched_out whether it sent any search (false: the first was not due yet). */
static lh_status_t poll_kind(struct hubspot *hs, lh_ctx_t *ctx, const struct search_kind *kind,
                             bool *progress_out, bool *searched_out)
{
    const lh_host_t *host = hs->host;
    struct position at;
    *progress_out = false;
    *searched_out = false;
    lh_status_t status = load_position(hs, ctx, kind, &at);
    int64_t latest = -1; /* the latest modification seen by this poll */
    bool progress = false;
    for (int page = 0; status == LH_OK && page < HUBSPOT_MAX_PAGES && !host->should_stop(ctx);
         page++) {
        if (!search_due(hs, ctx)) {
            /* the cursor of the last page is in the batch: the next poll goes on from it */
            host->log(ctx, LH_LOG_DEBUG,
                      "%s search not due yet (search_interval): %d page(s) this poll", kind->object,
                      page);
            break;
        }
        *searched_out = true;
        json_t *body = search_body(hs, kind, at.from, at.after[0] != '\0' ? at.after : NULL);
        if (body == NULL) {
            host->set_error(ctx, "out of memory");
            return LH_RETRY;
        }
        char path[64];
        snprintf(path, sizeof(path), "/crm/v3/objects/%s/search", kind->object);
        struct hubspot_response response;
        status = hubspot_call(hs, ctx, "POST", path, body, &response);
        hs->last_search_ms = host->now_ms(ctx);
        json_decref(body);
        const json_t *results = json_object_get(response.body, "results");
        if (status == LH_OK && !json_is_array(results)) {
            host->set_error(ctx, "HubSpot's %s search answer has no results array", kind->object);
            status = LH_RETRY;
        }
        if (status != LH_OK) {
            hubspot_response_clear(&response);
            if (progress && (status == LH_RETRY || status == LH_RETRY_AFTER)) {
                host->log(ctx, LH_LOG_WARN, "%s search stopped after %d pages: %s", kind->object,
                          page, response.reason[0] != '\0' ? response.reason : "no answer");
                return LH_OK; /* keep the pages fetched: the cursor follows them */
            }
            return status;
        }
        int64_t page_latest = -1; /* ascending: the time of the page's last record */
        status = kind == &contacts_kind   ? hubspot_emit_contacts(hs, ctx, results, &page_latest)
                 : kind == &meetings_kind ? hubspot_emit_meetings(hs, ctx, results, &page_latest)
                                          : hubspot_emit_deals(hs, ctx, results, &page_latest);
        char next[64];
        next_after(response.body, next, sizeof(next));
        hubspot_response_clear(&response);
        if (status != LH_OK) {
            return status;
        }
        progress = true;
        *progress_out = true;
        latest = page_latest > latest ? page_latest : latest;
        if (next[0] == '\0') {
            /* the pass is complete: the next starts a little before the latest change seen
             * (at least `from`, which an earlier page reached) */
            int64_t top = latest > at.from ? latest : at.from;
            if (top - HUBSPOT_SEARCH_OVERLAP > at.since) {
                at.since = top - HUBSPOT_SEARCH_OVERLAP;
            }
            at.from = at.since;
            at.after[0] = '\0';
            return put_cursor(hs, ctx, kind, &at);
        }
        next_position(hs, ctx, kind, page_latest, next, &at);
        status = put_cursor(hs, ctx, kind, &at);
    }
    return status;
}

/* Splits taken notifications by kind into ids to read; unknown keys are counted. */
static void sort_notified(struct hubspot *hs, lh_ctx_t *ctx, const json_t *items, json_t *contacts,
                          json_t *deals, json_t *meetings)
{
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *key = json_string_value(json_object_get(item, "key"));
        if (key != NULL && hubspot_record_change_key(key)) {
            continue; /* a deletion or merge: emitted as it is (hubspot_records.c) */
        }
        const char *colon = key != NULL ? strchr(key, ':') : NULL;
        size_t kind = colon != NULL ? (size_t)(colon - key) : 0;
        json_t *ids = kind == 7 && strncmp(key, "contact", 7) == 0   ? contacts
                      : kind == 4 && strncmp(key, "deal", 4) == 0    ? deals
                      : kind == 7 && strncmp(key, "meeting", 7) == 0 ? meetings
                                                                     : NULL;
        if (ids != NULL && hubspot_id_valid(colon + 1)) {
            json_array_append_new(ids, json_string(colon + 1));
        } else {
            hs->host->counter_add(ctx, HUBSPOT_METRIC_SKIPPED, "reason", "unknown_notification", 1);
        }
    }
}

/* Fetches what the pending notifications name. LH_OK, or the failure that leaves them
 * pending (the whole poll fails: the host retries it with backoff). */
static lh_status_t poll_notified(struct hubspot *hs, lh_ctx_t *ctx)
{
    const lh_host_t *host = hs->host;
    for (int round = 0; round < HUBSPOT_NOTIFIED_ROUNDS; round++) {
        json_t *items = NULL;
        lh_status_t status = host->notifications_take(ctx, HUBSPOT_NOTIFICATIONS, &items);
        if (status != LH_OK) {
            return status;
        }
        size_t taken = json_array_size(items);
        json_t *contacts = json_array();
        json_t *deals = json_array();
        json_t *meetings = json_array();
        if (contacts == NULL || deals == NULL || meetings == NULL) {
            status = LH_RETRY;
            host->set_error(ctx, "out of memory");
        } else {
            sort_notified(hs, ctx, items, contacts, deals, meetings);
            host->counter_add(ctx, "hubspot_webhook_notifications_total", "outcome", "fetched",
                              (double)taken);
        }
        if (status == LH_OK) {
            status = hubspot_emit_record_changes(hs, ctx, items);
        }
        if (status == LH_OK && json_array_size(contacts) > 0) {
            status = hubspot_fetch_contacts(hs, ctx, contacts);
        }
        if (status == LH_OK && json_array_size(deals) > 0) {
            status = hubspot_fetch_deals(hs, ctx, deals);
        }
        if (status == LH_OK && json_array_size(meetings) > 0) {
            status = hubspot_fetch_meetings(hs, ctx, meetings);
        }
        json_decref(contacts);
        json_decref(deals);
        json_decref(meetings);
        json_decref(items);
        if (status != LH_OK || taken < HUBSPOT_NOTIFICATIONS) {
            return status;
        }
        if (host->should_stop(ctx)) {
            break;
        }
    }
    /* more are pending than one poll takes: the next comes at once */
    return host->poll_soon(ctx);
}

static const struct search_kind *const all_kinds[3] = {&contacts_kind, &deals_kind, &meetings_kind};

lh_status_t hubspot_poll(void *state, lh_ctx_t *ctx)
{
    struct hubspot *hs = state;
    lh_status_t notified = poll_notified(hs, ctx);
    if (notified != LH_OK) {
        return notified;
    }
    /* in their order (contacts, deals, meetings), but starting with the kind left out
     * last time for want of a due search, so that a backlog of one kind never starves the
     * others */
    const struct search_kind *kinds[3];
    size_t count = 0;
    if (hs->pull_contacts) {
        kinds[count++] = &contacts_kind;
    }
    if (hs->pull_deals) {
        kinds[count++] = &deals_kind;
    }
    if (hs->pull_meetings) {
        kinds[count++] = &meetings_kind;
    }
    const struct search_kind *order[3];
    size_t first = 0;
    for (size_t i = 0; i < count; i++) {
        first = kinds[i] == all_kinds[hs->first_kind] ? i : first;
    }
    for (size_t i = 0; i < count; i++) {
        order[i] = kinds[(first + i) % count];
    }
    lh_status_t status = LH_OK;
    bool progress = false, first_searched = false;
    for (size_t i = 0; i < count && status == LH_OK; i++) {
        if (i > 0 && hs->host->should_stop(ctx)) {
            break;
        }
        bool kind_progress = false, searched = false;
        status = poll_kind(hs, ctx, order[i], &kind_progress, &searched);
        if ((status == LH_RETRY || status == LH_RETRY_AFTER) && progress) {
            /* keep the first kinds' pages: this one goes on from its cursor next time */
            hs->host->log(ctx, LH_LOG_WARN, "%s were not polled this time; %s were",
                          order[i]->object, order[0]->object);
            return LH_OK;
        }
        progress |= kind_progress;
        if (i == 0) {
            first_searched = searched;
        } else if (status == LH_OK && first_searched && !searched) {
            /* left out for want of a due search: it goes first next time. A poll that
             * searched nothing at all (too soon after the last) keeps the order. */
            for (int k = 0; k < 3; k++) {
                hs->first_kind = all_kinds[k] == order[i] ? k : hs->first_kind;
            }
            break;
        }
    }
    return status;
}
