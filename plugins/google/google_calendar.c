/*
 * google_calendar.c - the Calendar sync of one mailbox's calendars: events.list with
 * singleEvents=true (recurring meetings as their instances), the first pass bounded by
 * timeMin (now - backfill), then syncToken. Checkpoint calendar.<id>: {"sync_token",
 * "page_token", "resync"}: committed with each poll's events, so a walk resumes where it
 * stood. An expired token (410 fullSyncRequired) starts a full sync again with
 * showDeleted=true (cancellations made while the token was dead still arrive), whose
 * versions already stored are stored once (google_meeting.c's source ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "google.h"

#define PAGE_SIZE      250
#define PAGES_PER_POLL 20

/* calendar.<id> with what a checkpoint key may not hold replaced by '_'. */
static void checkpoint_key(const char *calendar_id, char *out, size_t size)
{
    snprintf(out, size, "calendar.%s", calendar_id);
    for (char *p = out + strlen("calendar."); *p != '\0'; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == ':' || *p == '-';
        if (!ok) {
            *p = '_';
        }
    }
}

static void rfc3339_utc(int64_t ms, char *out, size_t size)
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int list_url(const struct google *g, lh_ctx_t *ctx, const char *calendar_id,
                    const json_t *cursor, char *url, size_t size)
{
    char id[512], sync[1024], page[1024];
    if (google_url_escape(calendar_id, id, sizeof(id)) != 0) {
        return -1;
    }
    int n = snprintf(url, size, "%s/calendars/%s/events?singleEvents=true&maxResults=%d",
                     g->calendar_base, id, PAGE_SIZE);
    const char *sync_token = json_string_value(json_object_get(cursor, "sync_token"));
    const char *page_token = json_string_value(json_object_get(cursor, "page_token"));
    if (sync_token != NULL) {
        if (google_url_escape(sync_token, sync, sizeof(sync)) != 0) {
            return -1;
        }
        n += snprintf(url + n, size - (size_t)n, "&syncToken=%s", sync);
    } else {
        char since[32], escaped[64];
        rfc3339_utc(g->host->now_ms(ctx) - g->backfill_ms, since, sizeof(since));
        google_url_escape(since, escaped, sizeof(escaped));
        n += snprintf(url + n, size - (size_t)n, "&timeMin=%s", escaped);
        if (json_is_true(json_object_get(cursor, "resync"))) {
            /* after a 410: what was canceled while the token was dead must still arrive */
            n += snprintf(url + n, size - (size_t)n, "&showDeleted=true");
        }
    }
    if (page_token != NULL) {
        if (google_url_escape(page_token, page, sizeof(page)) != 0) {
            return -1;
        }
        n += snprintf(url + n, size - (size_t)n, "&pageToken=%s", page);
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static void emit_items(struct google *g, lh_ctx_t *ctx, const char *calendar_id, const json_t *body)
{
    const char *tz = json_string_value(json_object_get(body, "timeZone"));
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(body, "items"), i, item)
    {
        const char *skip = NULL;
        json_t *event = google_meeting_event(g, calendar_id, item, tz, &skip);
        if (event == NULL) {
            g->host->counter_add(ctx, "google_calendar_skipped_total", "reason",
                                 skip != NULL ? skip : "out_of_memory", 1);
            continue;
        }
        g->host->counter_add(ctx, "google_calendar_events_total", "type",
                             json_string_value(json_object_get(event, "type")), 1);
        g->host->emit(ctx, event); /* a refused one is counted by the host and skipped */
    }
}

/* Walks one calendar from its checkpoint; *held on a quota hold. */
static lh_status_t sync_calendar(struct google *g, lh_ctx_t *ctx, const char *calendar_id,
                                 bool *held)
{
    const lh_host_t *host = g->host;
    char key[160];
    checkpoint_key(calendar_id, key, sizeof(key));
    json_t *cursor = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &cursor);
    if (status != LH_OK) {
        return status;
    }
    if (!json_is_object(cursor)) {
        json_decref(cursor);
        cursor = json_object();
    }
    bool done = false;
    for (int pages = 0; pages < PAGES_PER_POLL && !done && !host->should_stop(ctx); pages++) {
        char url[GOOGLE_URL_MAX];
        if (list_url(g, ctx, calendar_id, cursor, url, sizeof(url)) != 0) {
            json_object_clear(cursor); /* unusable: a full sync */
            continue;
        }
        struct google_response r;
        status = google_get(g, ctx, url, GOOGLE_COST_CALENDAR, &r);
        if (status == LH_RETRY_AFTER) {
            *held = true;
            status = LH_OK;
            google_response_clear(&r);
            break;
        }
        if (status != LH_OK) {
            google_response_clear(&r);
            break;
        }
        if (r.http_status == 410) {
            /* the sync token expired: a full sync, stored once where it repeats */
            host->counter_add(ctx, "google_calendar_resyncs_total", "reason", "sync_token_gone", 1);
            host->log(ctx, LH_LOG_WARN, "Calendar sync token expired (%s): full sync", r.reason);
            json_object_clear(cursor);
            json_object_set_new(cursor, "resync", json_true());
            google_response_clear(&r);
            continue;
        }
        if (r.http_status != 200) {
            host->set_error(ctx, "Calendar answered %ld (%s)", r.http_status, r.reason);
            status = r.http_status == 404 ? LH_CONFIG : LH_RETRY;
            google_response_clear(&r);
            break;
        }
        emit_items(g, ctx, calendar_id, r.body);
        const char *next_page = json_string_value(json_object_get(r.body, "nextPageToken"));
        const char *next_sync = json_string_value(json_object_get(r.body, "nextSyncToken"));
        if (next_page != NULL) {
            json_object_set_new(cursor, "page_token", json_string(next_page));
        } else {
            json_object_clear(cursor);
            if (next_sync != NULL) {
                json_object_set_new(cursor, "sync_token", json_string(next_sync));
            }
            done = true;
        }
        google_response_clear(&r);
    }
    if (status == LH_OK) {
        if (!done && !*held) {
            host->poll_soon(ctx);
        }
        status = host->checkpoint_put(ctx, key, json_incref(cursor));
    }
    json_decref(cursor);
    return status;
}

lh_status_t google_calendar_poll(struct google *g, lh_ctx_t *ctx)
{
    bool held = false;
    for (size_t i = 0; i < g->calendar_id_count && !held; i++) {
        lh_status_t status = sync_calendar(g, ctx, g->calendar_ids[i], &held);
        if (status != LH_OK) {
            return status;
        }
    }
    return LH_OK;
}
