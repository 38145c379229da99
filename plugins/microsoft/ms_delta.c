/*
 * ms_delta.c - one delta round of one mailbox resource (a mail folder, the calendar view),
 * the same for mail and calendar: GET the stored link (or the initial URL), hand each item
 * to the caller, store @odata.nextLink with the page's events, follow it, until
 * @odata.deltaLink, which is stored as the next round's start. Each page's cursor commits
 * with that page's events (the host's checkpoint_put), so a crash re-reads at most the page
 * it was in, and the store drops what it already has.
 *
 * 410 Gone, syncStateNotFound and resyncRequired mean the link died: the round starts again
 * from the initial URL; what comes again is stored once (events are idempotent by their
 * source_id), and nothing is skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "microsoft.h"

/* A link Graph handed out must point back into Graph: the token goes with it. */
static bool link_ok(const struct microsoft *ms, const char *link)
{
    size_t len = strlen(ms->graph_base);
    return link != NULL && strncmp(link, ms->graph_base, len) == 0 &&
           (link[len] == '/' || link[len] == '?');
}

static lh_status_t put_cursor(struct microsoft *ms, lh_ctx_t *ctx, const char *key,
                              const char *link, int64_t round_started)
{
    json_t *value =
        json_pack("{s:s, s:I}", "link", link, "round_started", (json_int_t)round_started);
    if (value == NULL) {
        ms->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return ms->host->checkpoint_put(ctx, key, value);
}

lh_status_t ms_delta_run(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                         struct ms_delta *delta)
{
    const lh_host_t *host = ms->host;
    delta->wait_ms = 0;
    delta->pages = 0;
    delta->items = 0;
    delta->resynced = false;
    json_t *cursor = NULL;
    lh_status_t status = host->checkpoint_get(ctx, delta->cursor_key, &cursor);
    if (status != LH_OK) {
        return status;
    }
    int64_t now = host->now_ms(ctx);
    const char *stored = json_string_value(json_object_get(cursor, "link"));
    int64_t round_started = (int64_t)json_integer_value(json_object_get(cursor, "round_started"));
    char *url = NULL;
    if (stored != NULL && link_ok(ms, stored) &&
        !(delta->kind == MS_CALENDAR && strstr(stored, "deltatoken") != NULL &&
          now - round_started > 86400000)) {
        url = strdup(stored);
    } else {
        /* the first round, a link from another graph_api_base, or a calendar window a day
         * old (the window is encoded in the token: a new round rolls it forward) */
        url = delta->initial_url(ms, mailbox, now, delta->arg);
        round_started = now;
    }
    json_decref(cursor);
    if (url == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    status = LH_OK;
    while (status == LH_OK) {
        if (host->should_stop(ctx)) {
            host->poll_soon(ctx); /* committed so far; the rest comes in the next poll */
            break;
        }
        struct ms_call call = {.url = url, .utc_times = delta->kind == MS_CALENDAR};
        enum ms_outcome outcome = ms_api_call(ms, ctx, mailbox, &call);
        if (outcome == MS_WAIT) {
            delta->wait_ms = call.wait_ms;
            break;
        }
        if (outcome == MS_RESYNC || outcome == MS_NOT_FOUND) {
            if (delta->resynced) {
                host->set_error(ctx, "Graph refused a fresh delta round of %s (%ld)",
                                mailbox->address, call.http_status);
                status = LH_RETRY;
                break;
            }
            host->log(ctx, LH_LOG_WARN, "%s: the delta link of %s expired (%ld): full resync",
                      mailbox->address, delta->kind == MS_MAIL ? "mail" : "the calendar",
                      call.http_status);
            delta->resynced = true;
            free(url);
            now = host->now_ms(ctx);
            round_started = now;
            url = delta->initial_url(ms, mailbox, now, delta->arg);
            if (url == NULL) {
                host->set_error(ctx, "out of memory");
                status = LH_RETRY;
            }
            continue;
        }
        if (outcome == MS_FAILED) {
            json_decref(call.json);
            status = call.status;
            break;
        }
        const json_t *items = json_object_get(call.json, "value");
        size_t i;
        const json_t *item;
        json_array_foreach(items, i, item)
        {
            status = delta->item(ms, ctx, mailbox, item, delta->arg);
            if (status != LH_OK) {
                break;
            }
            delta->items++;
        }
        const char *next = json_string_value(json_object_get(call.json, "@odata.nextLink"));
        const char *done = json_string_value(json_object_get(call.json, "@odata.deltaLink"));
        delta->pages++;
        if (status == LH_OK) {
            const char *link = next != NULL ? next : done;
            if (!link_ok(ms, link)) {
                host->set_error(ctx,
                                "a delta page of %s has neither a nextLink nor a deltaLink "
                                "into graph_api_base",
                                mailbox->address);
                status = LH_RETRY;
            } else {
                status = put_cursor(ms, ctx, delta->cursor_key, link, round_started);
                free(url);
                url = next != NULL ? strdup(next) : NULL;
                if (next != NULL && url == NULL) {
                    host->set_error(ctx, "out of memory");
                    status = LH_RETRY;
                }
            }
        }
        json_decref(call.json);
        if (url == NULL) {
            break; /* the deltaLink: this round is complete */
        }
    }
    free(url);
    return status;
}
