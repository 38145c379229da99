/*
 * google_gmail.c - the Gmail sync of one mailbox.
 *
 * The cursor (checkpoint gmail.cursor) is in one of two modes:
 *   full     messages.list, newest first, until a message older than cutoff_ms: the first
 *            run's backfill, and the resync after Google forgets a history id (404). The
 *            profile's historyId is taken *before* listing, so what arrives meanwhile is
 *            read by the history pass that follows.
 *   history  history.list from history_id (messageAdded), page by page; the response's
 *            historyId becomes the cursor after its last page.
 * page_token and skip (messages of that page already read) make both resumable: the cursor
 * commits with the events of each poll, so a restart, a quota hold or a deadline resumes
 * where the last commit stood. A message read twice (a resync over what the old cursor
 * had read, a page re-listed) gives the same events with the same source ids, stored once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"
#include "mail_address.h"

#define CURSOR_KEY      "gmail.cursor"
#define PAGE_SIZE       100
#define ALIASES_MAX_AGE (3600 * 1000) /* sendAs is read again after an hour */

static const char *const metadata_headers[] = {"From",
                                               "Sender",
                                               "To",
                                               "Cc",
                                               "Bcc",
                                               "Reply-To",
                                               "Subject",
                                               "Date",
                                               "Message-ID",
                                               "In-Reply-To",
                                               "References",
                                               "Auto-Submitted",
                                               "X-Autoreply",
                                               "X-Autorespond",
                                               "X-Autoresponder",
                                               "Precedence",
                                               "List-Id",
                                               "List-Unsubscribe",
                                               "X-Auto-Response-Suppress",
                                               "Content-Type",
                                               "X-Failed-Recipients",
                                               NULL};

/* One poll's walk. */
struct gmail_walk {
    json_t *cursor;       /* the cursor as it will be put */
    json_t *thread_cache; /* see google_message.c */
    size_t messages_read;
    bool held; /* a quota hold: commit and come back after the delay set */
};

static const char *cursor_string(const json_t *cursor, const char *key)
{
    return json_string_value(json_object_get(cursor, key));
}

static json_int_t cursor_int(const json_t *cursor, const char *key)
{
    return json_integer_value(json_object_get(cursor, key));
}

/* A call that failed with LH_RETRY_AFTER ends the walk as a hold, not a failure. */
static lh_status_t hold_or_fail(struct gmail_walk *walk, lh_status_t status)
{
    if (status == LH_RETRY_AFTER) {
        walk->held = true;
        return LH_OK;
    }
    return status;
}

/* Reads the mailbox's send-as addresses (its aliases), at most hourly. Not fatal: with
 * gmail.metadata alone Google refuses sendAs, and the mailbox address stays the only one. */
static lh_status_t refresh_aliases(struct google *g, lh_ctx_t *ctx)
{
    int64_t now = g->host->now_ms(ctx);
    if (g->aliases_at_ms != 0 && now - g->aliases_at_ms < ALIASES_MAX_AGE) {
        return LH_OK;
    }
    char url[GOOGLE_URL_MAX];
    snprintf(url, sizeof(url), "%s/gmail/v1/users/me/settings/sendAs", g->gmail_base);
    struct google_response r;
    lh_status_t status = google_get(g, ctx, url, 1, &r);
    if (status == LH_CONFIG && r.http_status == 403) {
        g->aliases_at_ms = now;
        g->host->log(ctx, LH_LOG_INFO,
                     "sendAs not readable with this consent (%s): the "
                     "mailbox address is its only own address",
                     r.reason);
        google_response_clear(&r);
        return LH_OK;
    }
    if (status != LH_OK || r.http_status != 200) {
        google_response_clear(&r);
        return status == LH_OK ? LH_OK : status;
    }
    const json_t *list = json_object_get(r.body, "sendAs");
    size_t n = json_array_size(list);
    char **aliases = n > 0 ? calloc(n, sizeof(*aliases)) : NULL;
    size_t count = 0;
    for (size_t i = 0; i < n && aliases != NULL; i++) {
        const char *email =
            json_string_value(json_object_get(json_array_get(list, i), "sendAsEmail"));
        char *normalized = email != NULL ? mail_address_normalize(email, strlen(email)) : NULL;
        if (normalized != NULL) {
            aliases[count++] = normalized;
        }
    }
    google_response_clear(&r);
    for (size_t i = 0; i < g->alias_count; i++) {
        free(g->aliases[i]);
    }
    free(g->aliases);
    g->aliases = aliases;
    g->alias_count = count;
    g->aliases_at_ms = now;
    return LH_OK;
}

/* The profile's current historyId, or NULL (a status returned). */
static lh_status_t profile_history_id(struct google *g, lh_ctx_t *ctx, json_t **id_out)
{
    char url[GOOGLE_URL_MAX];
    snprintf(url, sizeof(url), "%s/gmail/v1/users/me/profile", g->gmail_base);
    struct google_response r;
    lh_status_t status = google_get(g, ctx, url, GOOGLE_COST_PROFILE, &r);
    if (status == LH_OK) {
        const json_t *id = json_object_get(r.body, "historyId");
        if (r.http_status != 200 || !json_is_string(id)) {
            g->host->set_error(ctx, "Gmail's profile has no historyId (HTTP %ld)", r.http_status);
            status = LH_RETRY;
        } else {
            *id_out = json_incref((json_t *)id);
        }
    }
    google_response_clear(&r);
    return status;
}

/* A full sync from now back to the backfill window: the cursor it starts from. */
static lh_status_t start_full(struct google *g, lh_ctx_t *ctx, struct gmail_walk *walk)
{
    json_t *history_id = NULL;
    lh_status_t status = profile_history_id(g, ctx, &history_id);
    if (status != LH_OK) {
        return status;
    }
    json_decref(walk->cursor);
    walk->cursor = json_pack("{s:s, s:o, s:n, s:i, s:I}", "mode", "full", "history_id", history_id,
                             "page_token", "skip", 0, "cutoff_ms",
                             (json_int_t)(g->host->now_ms(ctx) - g->backfill_ms));
    return walk->cursor != NULL ? LH_OK : LH_RETRY;
}

/* Reads one message and emits its events. A message gone meanwhile (404) is skipped. */
static lh_status_t read_message(struct google *g, lh_ctx_t *ctx, struct gmail_walk *walk,
                                const char *id, json_int_t cutoff_ms, bool *older_out)
{
    char escaped[512];
    if (google_url_escape(id, escaped, sizeof(escaped)) != 0) {
        return LH_OK; /* not an id Gmail gives: nothing to read */
    }
    char url[GOOGLE_URL_MAX];
    int n = snprintf(url, sizeof(url), "%s/gmail/v1/users/me/messages/%s?format=metadata",
                     g->gmail_base, escaped);
    for (size_t i = 0; metadata_headers[i] != NULL && n > 0 && (size_t)n < sizeof(url); i++) {
        n += snprintf(url + n, sizeof(url) - (size_t)n, "&metadataHeaders=%s", metadata_headers[i]);
    }
    struct google_response r;
    lh_status_t status = google_get(g, ctx, url, g->message_get_cost, &r);
    if (status == LH_OK && r.http_status == 404) {
        g->host->counter_add(ctx, "google_mail_skipped_total", "reason", "deleted", 1);
    } else if (status == LH_OK && r.http_status == 200) {
        const char *date = json_string_value(json_object_get(r.body, "internalDate"));
        if (cutoff_ms > 0 && date != NULL && strtoll(date, NULL, 10) < cutoff_ms) {
            *older_out = true; /* the backfill reached its window's start */
        } else {
            status = google_message_emit(g, ctx, r.body, walk->thread_cache);
        }
    } else if (status == LH_OK) {
        g->host->set_error(ctx, "messages.get answered %ld", r.http_status);
        status = LH_RETRY;
    }
    google_response_clear(&r);
    walk->messages_read++;
    return status;
}

/* Reads ids[skip..] of the current page; the cursor's skip follows. *older_out when the
 * backfill passed its window. */
static lh_status_t read_ids(struct google *g, lh_ctx_t *ctx, struct gmail_walk *walk,
                            const json_t *ids, bool *older_out)
{
    json_int_t cutoff = strcmp(cursor_string(walk->cursor, "mode"), "full") == 0
                            ? cursor_int(walk->cursor, "cutoff_ms")
                            : 0;
    for (size_t i = (size_t)cursor_int(walk->cursor, "skip"); i < json_array_size(ids); i++) {
        if (walk->messages_read >= GOOGLE_POLL_MESSAGES_MAX || g->host->should_stop(ctx)) {
            return LH_OK;
        }
        lh_status_t status = read_message(g, ctx, walk, json_string_value(json_array_get(ids, i)),
                                          cutoff, older_out);
        if (status != LH_OK) {
            walk->messages_read--;
            return hold_or_fail(walk, status);
        }
        json_object_set_new(walk->cursor, "skip", json_integer((json_int_t)i + 1));
        if (*older_out) {
            return LH_OK;
        }
    }
    return LH_OK;
}

/* The ids of messages.list's page, or of history's messagesAdded (each once). */
json_t *google_gmail_page_ids(const json_t *body, bool history)
{
    json_t *ids = json_array();
    json_t *seen = json_object();
    size_t i;
    const json_t *item;
    if (!history) {
        json_array_foreach(json_object_get(body, "messages"), i, item)
        {
            const char *id = json_string_value(json_object_get(item, "id"));
            if (id != NULL && json_object_get(seen, id) == NULL) {
                json_object_set_new(seen, id, json_true());
                json_array_append_new(ids, json_string(id));
            }
        }
    } else {
        json_array_foreach(json_object_get(body, "history"), i, item)
        {
            size_t k;
            const json_t *added;
            json_array_foreach(json_object_get(item, "messagesAdded"), k, added)
            {
                const char *id =
                    json_string_value(json_object_get(json_object_get(added, "message"), "id"));
                if (id != NULL && json_object_get(seen, id) == NULL) {
                    json_object_set_new(seen, id, json_true());
                    json_array_append_new(ids, json_string(id));
                }
            }
        }
    }
    json_decref(seen);
    return ids;
}

/* The URL of the current page of the cursor's mode. */
static int page_url(const struct google *g, const json_t *cursor, char *url, size_t size)
{
    char token[1024] = "";
    const char *page_token = cursor_string(cursor, "page_token");
    if (page_token != NULL) {
        char escaped[900];
        if (google_url_escape(page_token, escaped, sizeof(escaped)) != 0) {
            return -1;
        }
        snprintf(token, sizeof(token), "&pageToken=%s", escaped);
    }
    int n;
    if (strcmp(cursor_string(cursor, "mode"), "full") == 0) {
        n = snprintf(url, size, "%s/gmail/v1/users/me/messages?maxResults=%d%s", g->gmail_base,
                     PAGE_SIZE, token);
    } else {
        char start[64];
        if (google_url_escape(cursor_string(cursor, "history_id"), start, sizeof(start)) != 0) {
            return -1;
        }
        n = snprintf(url, size,
                     "%s/gmail/v1/users/me/history?startHistoryId=%s&historyTypes=messageAdded"
                     "&maxResults=%d%s",
                     g->gmail_base, start, PAGE_SIZE, token);
    }
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* One page of the walk; *done when the walk reached the present. */
static lh_status_t walk_page(struct google *g, lh_ctx_t *ctx, struct gmail_walk *walk, bool *done)
{
    bool full = strcmp(cursor_string(walk->cursor, "mode"), "full") == 0;
    char url[GOOGLE_URL_MAX];
    if (page_url(g, walk->cursor, url, sizeof(url)) != 0) {
        g->host->set_error(ctx, "the stored Gmail cursor is unusable; starting over");
        return start_full(g, ctx, walk);
    }
    struct google_response r;
    lh_status_t status =
        google_get(g, ctx, url, full ? GOOGLE_COST_MESSAGES_LIST : GOOGLE_COST_HISTORY_LIST, &r);
    if (status != LH_OK) {
        google_response_clear(&r);
        return hold_or_fail(walk, status);
    }
    if (!full && r.http_status == 404) {
        /* Google no longer knows the history id: a bounded full resync, whose overlap with
         * what the old cursor read is stored once (same source ids) */
        google_response_clear(&r);
        g->host->counter_add(ctx, "google_gmail_resyncs_total", "reason", "stale_history_id", 1);
        g->host->log(ctx, LH_LOG_WARN,
                     "Gmail forgot the stored history id: full resync over the backfill window");
        return hold_or_fail(walk, start_full(g, ctx, walk));
    }
    if (r.http_status != 200) {
        g->host->set_error(ctx, "Gmail answered %ld to %s", r.http_status,
                           full ? "messages.list" : "history.list");
        google_response_clear(&r);
        return LH_RETRY;
    }
    json_t *ids = google_gmail_page_ids(r.body, !full);
    bool older = false;
    status = read_ids(g, ctx, walk, ids, &older);
    bool page_done = status == LH_OK && !walk->held &&
                     (older || (size_t)cursor_int(walk->cursor, "skip") >= json_array_size(ids));
    if (page_done) {
        const char *next = json_string_value(json_object_get(r.body, "nextPageToken"));
        if (next != NULL && !older) {
            json_object_set_new(walk->cursor, "page_token", json_string(next));
            json_object_set_new(walk->cursor, "skip", json_integer(0));
        } else {
            /* the present: history from the profile's id (full) or the response's id */
            json_t *id = full ? json_incref(json_object_get(walk->cursor, "history_id"))
                              : json_incref(json_object_get(r.body, "historyId"));
            if (!json_is_string(id)) {
                json_decref(id);
                id = json_incref(json_object_get(walk->cursor, "history_id"));
            }
            json_decref(walk->cursor);
            walk->cursor = json_pack("{s:s, s:o, s:n, s:i}", "mode", "history", "history_id", id,
                                     "page_token", "skip", 0);
            *done = true;
            if (walk->cursor == NULL) {
                status = LH_RETRY;
            }
        }
    }
    json_decref(ids);
    google_response_clear(&r);
    return status;
}

static bool cursor_valid(const json_t *cursor)
{
    const char *mode = cursor_string(cursor, "mode");
    return mode != NULL && (strcmp(mode, "full") == 0 || strcmp(mode, "history") == 0) &&
           cursor_string(cursor, "history_id") != NULL &&
           json_is_integer(json_object_get(cursor, "skip"));
}

lh_status_t google_gmail_poll(struct google *g, lh_ctx_t *ctx)
{
    const lh_host_t *host = g->host;
    struct gmail_walk walk = {0};
    lh_status_t status = refresh_aliases(g, ctx);
    if (status != LH_OK) {
        return status == LH_RETRY_AFTER ? LH_OK : status; /* a hold: the delay is set */
    }
    status = host->checkpoint_get(ctx, CURSOR_KEY, &walk.cursor);
    if (status != LH_OK) {
        return status;
    }
    walk.thread_cache = json_object();
    if (walk.thread_cache == NULL) {
        status = LH_RETRY;
        goto out;
    }
    if (!cursor_valid(walk.cursor)) {
        status = start_full(g, ctx, &walk);
        if (status != LH_OK) {
            status = hold_or_fail(&walk, status);
            goto out;
        }
    }
    bool done = false;
    while (!done && !walk.held && walk.messages_read < GOOGLE_POLL_MESSAGES_MAX &&
           !host->should_stop(ctx)) {
        status = walk_page(g, ctx, &walk, &done);
        if (status != LH_OK) {
            goto out;
        }
    }
    if (!done && !walk.held) {
        host->poll_soon(ctx); /* more to read: commit this much, come back at once */
    }
    if (walk.cursor != NULL) {
        status = host->checkpoint_put(ctx, CURSOR_KEY, json_incref(walk.cursor));
    }
    host->counter_add(ctx, "google_gmail_messages_read_total", NULL, NULL,
                      (double)walk.messages_read);
out:
    json_decref(walk.thread_cache);
    json_decref(walk.cursor);
    return status;
}
