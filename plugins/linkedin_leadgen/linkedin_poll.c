/*
 * linkedin_poll.c - the poll: notifications first, then one page of each owner's responses.
 *
 * 1. Pending notifications (recorded by the webhook): "lead:<id>" is fetched with
 *    GET /leadFormResponses/{id} and emitted; one LinkedIn no longer has (404) is dropped;
 *    "erase:<id>" emits lead.erased, which the hub turns into the erasure of the lead's
 *    personal fields (docs/events.md, "Erasure").
 * 2. Each owner (ad account) not held by a daily limit: one page of
 *    GET /leadFormResponses?q=owner&owner=(...)&submittedAtTimeRange=(start:F,end:T)&start=S
 *    within a walk whose window [F, T] is fixed when it begins: F is the high-water mark less
 *    the overlap (the backfill on a first poll), T the time it began. The page's events and
 *    the owner's cursor ("owner:<id>": the mark, the walk and its offset, the ids seen in the
 *    overlap) commit together, so a restart resumes at the next page: nothing skipped,
 *    nothing stored twice. When the walk ends the mark becomes T. More pages ask for a poll
 *    at once (poll_soon).
 *
 * A daily-limit 429 holds its owner until after 00:00 UTC (LinkedIn resets its counters
 * then and sends no Retry-After); the other owners go on. When every owner is held the poll
 * returns LH_RETRY_AFTER until the first hold ends: a hold, which the host shows as such and
 * never counts as a failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkedin.h"

#define NOTIFICATIONS_MAX 100
#define ACCOUNT_URN       "urn:li:sponsoredAccount:"

struct poll_counts {
    size_t emitted, skipped, filtered;
};

static bool form_wanted(const struct linkedin *li, const char *form_id)
{
    if (li->form_ids == NULL) {
        return true;
    }
    for (char **f = li->form_ids; *f != NULL; f++) {
        if (strcmp(*f, form_id) == 0) {
            return true;
        }
    }
    return false;
}

/* Maps and emits one response. Returns LH_OK (also for a response skipped and counted), or
 * the status of a form fetch that failed. */
static lh_status_t emit_response(struct linkedin *li, lh_ctx_t *ctx, const json_t *response,
                                 struct poll_counts *counts)
{
    const lh_host_t *host = li->host;
    char form_id[32], version[32];
    const json_t *form = NULL;
    if (linkedin_parse_versioned_form(
            json_string_value(json_object_get(response, "versionedLeadGenFormUrn")), form_id,
            version)) {
        if (!form_wanted(li, form_id)) {
            counts->filtered++;
            return LH_OK;
        }
        lh_status_t status = linkedin_form(li, ctx, form_id, version, &form);
        if (status != LH_OK) {
            return status;
        }
    }
    struct linkedin_map_options options = {.include_test_leads = li->include_test_leads};
    json_t *event = NULL;
    char detail[160];
    enum linkedin_map_result mapped =
        linkedin_map_response(response, form, &options, &event, detail);
    if (mapped == LINKEDIN_NO_MEMORY) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (mapped == LINKEDIN_INVALID) {
        host->log(ctx, LH_LOG_WARN, "skipped a response: %s", detail);
        host->counter_add(ctx, "linkedin_responses_total", "outcome", "invalid", 1);
        counts->skipped++;
        return LH_OK;
    }
    bool test = json_is_true(json_object_get(json_object_get(event, "data"), "test"));
    if (host->emit(ctx, event) != LH_OK) {
        /* one odd record must not hold back the page: counted, logged by the host */
        host->counter_add(ctx, "linkedin_responses_total", "outcome", "refused", 1);
        counts->skipped++;
        return LH_OK;
    }
    host->counter_add(ctx, "linkedin_responses_total", "outcome", test ? "test" : "emitted", 1);
    counts->emitted++;
    return LH_OK;
}

/* 1. The notifications the webhook recorded. erase_only: LinkedIn cannot be asked (a daily
 * limit): deletions, which need no call, are done; the leads to fetch stay pending. */
static lh_status_t take_notifications(struct linkedin *li, lh_ctx_t *ctx,
                                      struct poll_counts *counts, bool erase_only)
{
    const lh_host_t *host = li->host;
    json_t *items = NULL;
    lh_status_t status = host->notifications_take(ctx, NOTIFICATIONS_MAX, &items);
    if (status != LH_OK) {
        return status;
    }
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        const char *key = json_string_value(json_object_get(item, "key"));
        const json_t *at = json_object_get(json_object_get(item, "value"), "occurred_at");
        if (key == NULL) {
            continue;
        }
        if (strncmp(key, "erase:", 6) == 0 && linkedin_response_id_valid(key + 6)) {
            int64_t when = json_is_integer(at) && json_integer_value(at) > 0
                               ? json_integer_value(at)
                               : host->now_ms(ctx);
            json_t *event = linkedin_erased_event(key + 6, when);
            if (event == NULL || host->emit(ctx, event) != LH_OK) {
                host->set_error(ctx, "could not record the deletion of response %s", key + 6);
                status = LH_RETRY;
                break;
            }
            counts->emitted++;
            continue;
        }
        if (strncmp(key, "lead:", 5) != 0 || !linkedin_response_id_valid(key + 5)) {
            continue; /* not a key this plugin writes: taken, and so removed */
        }
        if (erase_only) {
            status = host->notification_keep(ctx, key);
            if (status != LH_OK) {
                break;
            }
            continue;
        }
        char *encoded = linkedin_restli_encode(key + 5, NULL);
        char path[LINKEDIN_ID_MAX * 3 + 32];
        snprintf(path, sizeof(path), "/leadFormResponses/%s", encoded != NULL ? encoded : "");
        free(encoded);
        struct linkedin_answer answer;
        status = linkedin_call(li, ctx, "GET", path, NULL, &answer);
        if (status == LH_PERMANENT && answer.http_status == 404) {
            /* deleted since: its DELETED notification erases what the hub has */
            host->counter_add(ctx, "linkedin_responses_total", "outcome", "gone", 1);
            linkedin_answer_clear(&answer);
            status = LH_OK;
            continue;
        }
        if (status == LH_PERMANENT) {
            /* LinkedIn will never serve it (a 4xx): dropped, so that it cannot hold back
             * the notifications after it */
            host->log(ctx, LH_LOG_WARN,
                      "dropped the notification of response %s: LinkedIn "
                      "refuses it (%ld)",
                      key + 5, answer.http_status);
            host->counter_add(ctx, "linkedin_responses_total", "outcome", "refused", 1);
            linkedin_answer_clear(&answer);
            status = LH_OK;
            continue;
        }
        if (status == LH_OK) {
            status = emit_response(li, ctx, answer.body, counts);
        }
        linkedin_answer_clear(&answer);
        if (status != LH_OK) {
            break; /* the poll fails: every notification stays pending */
        }
    }
    if (status == LH_OK && !erase_only && json_array_size(items) == NOTIFICATIONS_MAX) {
        host->poll_soon(ctx);
    }
    json_decref(items);
    return status;
}

/* Subscribes an owner's lead notifications once per URL ("subscription:<id>"). A refusal
 * LinkedIn may change its mind about is logged (the poll is the safety net) and returns
 * LH_OK; a refused token or grant (LH_AUTH, LH_CONFIG) fails the poll. */
static lh_status_t subscribe(struct linkedin *li, lh_ctx_t *ctx, const struct linkedin_owner *owner)
{
    const lh_host_t *host = li->host;
    char key[64];
    snprintf(key, sizeof(key), "subscription:%s", owner->id);
    json_t *saved = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &saved);
    if (status != LH_OK) {
        return status;
    }
    const char *url = json_string_value(json_object_get(saved, "webhook"));
    bool current = url != NULL && strcmp(url, li->notification_url) == 0;
    json_decref(saved);
    if (current) {
        return LH_OK;
    }
    char urn[64];
    snprintf(urn, sizeof(urn), ACCOUNT_URN "%s", owner->id);
    json_t *request = json_pack("{s:s, s:{s:s}, s:s}", "webhook", li->notification_url, "owner",
                                "sponsoredAccount", urn, "leadType", "SPONSORED");
    char *body = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    if (body == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    struct linkedin_answer answer;
    status = linkedin_call(li, ctx, "POST", "/leadNotifications", body, &answer);
    free(body);
    if (status == LH_OK) {
        json_t *value =
            json_pack("{s:s, s:s?}", "webhook", li->notification_url, "id", answer.restli_id);
        host->checkpoint_put(ctx, key, value);
        host->log(ctx, LH_LOG_INFO, "lead notifications of account %s go to %s", owner->id,
                  li->notification_url);
        host->counter_add(ctx, "linkedin_subscriptions_total", "outcome", "created", 1);
    } else if (status == LH_AUTH || status == LH_CONFIG || status == LH_RETRY_AFTER) {
        linkedin_answer_clear(&answer);
        return status;
    } else {
        host->log(ctx, LH_LOG_WARN,
                  "could not subscribe the lead notifications of account %s (status %ld); "
                  "polling only until the next try",
                  owner->id, answer.http_status);
        host->counter_add(ctx, "linkedin_subscriptions_total", "outcome", "failed", 1);
    }
    linkedin_answer_clear(&answer);
    return LH_OK;
}

/* The seen-set keeps ids whose submittedAt is within the overlap of the mark. */
static void prune_seen(json_t *seen, int64_t floor_ms)
{
    const char *id;
    json_t *at;
    void *tmp;
    json_object_foreach_safe(seen, tmp, id, at)
    {
        if (json_integer_value(at) < floor_ms) {
            json_object_del(seen, id);
        }
    }
}

/* 2. One page of one owner. *more_out: the walk has pages left. */
static lh_status_t pull_page(struct linkedin *li, lh_ctx_t *ctx, struct linkedin_owner *owner,
                             struct poll_counts *counts, bool *more_out)
{
    const lh_host_t *host = li->host;
    *more_out = false;
    char key[64];
    snprintf(key, sizeof(key), "owner:%s", owner->id);
    json_t *cursor = NULL;
    lh_status_t status = host->checkpoint_get(ctx, key, &cursor);
    if (status != LH_OK) {
        return status;
    }
    if (!json_is_object(cursor)) {
        json_decref(cursor);
        cursor = json_object();
    }
    int64_t now = host->now_ms(ctx);
    json_t *seen = json_object_get(cursor, "seen");
    if (!json_is_object(seen)) {
        json_object_set_new(cursor, "seen", json_object());
        seen = json_object_get(cursor, "seen");
    }
    json_t *walk = json_object_get(cursor, "walk");
    if (!json_is_object(walk)) {
        const json_t *hwm = json_object_get(cursor, "hwm");
        int64_t from =
            json_is_integer(hwm) ? json_integer_value(hwm) - li->overlap_ms : now - li->backfill_ms;
        if (from < now - LINKEDIN_RETENTION_MS) {
            from = now - LINKEDIN_RETENTION_MS;
        }
        walk = json_pack("{s:I, s:I, s:i}", "from", (json_int_t)(from > 0 ? from : 0), "to",
                         (json_int_t)now, "start", 0);
        json_object_set_new(cursor, "walk", walk);
    }
    json_int_t from = json_integer_value(json_object_get(walk, "from"));
    json_int_t to = json_integer_value(json_object_get(walk, "to"));
    json_int_t start = json_integer_value(json_object_get(walk, "start"));
    char path[512];
    snprintf(path, sizeof(path),
             "/leadFormResponses?q=owner&owner=%s&leadType=(leadType:SPONSORED)"
             "&limitedToTestLeads=false&submittedAtTimeRange=(start:%lld,end:%lld)"
             "&start=%lld&count=%d",
             owner->param, (long long)from, (long long)to, (long long)start, li->page_size);
    struct linkedin_answer answer;
    status = linkedin_call(li, ctx, "GET", path, NULL, &answer);
    if (status != LH_OK) {
        linkedin_answer_clear(&answer);
        json_decref(cursor);
        return status;
    }
    const json_t *elements = json_object_get(answer.body, "elements");
    size_t i;
    const json_t *response;
    json_array_foreach(elements, i, response)
    {
        const char *id = json_string_value(json_object_get(response, "id"));
        if (id != NULL && json_object_get(seen, id) != NULL) {
            continue; /* in the overlap, taken by an earlier walk */
        }
        status = emit_response(li, ctx, response, counts);
        if (status != LH_OK) {
            break;
        }
        const json_t *at = json_object_get(response, "submittedAt");
        if (id != NULL && json_is_integer(at)) {
            json_object_set_new(seen, id, json_integer(json_integer_value(at)));
        }
    }
    if (status == LH_OK) {
        size_t got = json_array_size(elements);
        const json_t *total = json_object_get(json_object_get(answer.body, "paging"), "total");
        json_int_t next = start + (json_int_t)got;
        if (got == 0 || !json_is_integer(total) || next >= json_integer_value(total)) {
            /* the walk is done: the window's end is the new mark */
            json_object_set_new(cursor, "hwm", json_integer(to));
            json_object_del(cursor, "walk");
            prune_seen(seen, to - li->overlap_ms);
        } else {
            json_object_set_new(walk, "start", json_integer(next));
            *more_out = true;
        }
        status = host->checkpoint_put(ctx, key, json_incref(cursor));
    }
    linkedin_answer_clear(&answer);
    json_decref(cursor);
    return status;
}

lh_status_t linkedin_poll(void *state, lh_ctx_t *ctx)
{
    struct linkedin *li = state;
    const lh_host_t *host = li->host;
    struct poll_counts counts = {0};
    int64_t now = host->now_ms(ctx);
    bool all_held = true;
    int64_t first_release = 0;
    for (size_t i = 0; i < li->owner_count; i++) {
        if (li->owners[i].held_until > now) {
            first_release = first_release == 0 || li->owners[i].held_until < first_release
                                ? li->owners[i].held_until
                                : first_release;
        } else {
            all_held = false;
            li->owners[i].held_until = 0;
        }
    }
    if (all_held) {
        /* nothing LinkedIn would answer before its day ends: deletions are done (they need
         * no call), the leads to fetch wait pending */
        lh_status_t erased = take_notifications(li, ctx, &counts, true);
        if (erased != LH_OK || counts.emitted > 0) {
            return erased;
        }
        host->set_retry_after(ctx, first_release - now);
        host->set_error(ctx, "LinkedIn's daily limit is reached for every account: held until "
                             "after 00:00 UTC");
        return LH_RETRY_AFTER;
    }
    li->daily_limit_hit = false;
    lh_status_t status = take_notifications(li, ctx, &counts, false);
    if (status == LH_RETRY_AFTER && li->daily_limit_hit) {
        /* the limit is the application's or the member's: every account waits for the day */
        host->set_retry_after(ctx, linkedin_next_midnight(now) - now);
    }
    if (status != LH_OK) {
        return status;
    }
    bool more = false;
    for (size_t i = 0; i < li->owner_count && !host->should_stop(ctx); i++) {
        struct linkedin_owner *owner = &li->owners[i];
        if (owner->held_until > now) {
            continue;
        }
        bool owner_more = false;
        li->daily_limit_hit = false;
        status = li->notification_url != NULL ? subscribe(li, ctx, owner) : LH_OK;
        if (status == LH_OK) {
            status = pull_page(li, ctx, owner, &counts, &owner_more);
        }
        if (status == LH_RETRY_AFTER && li->daily_limit_hit) {
            owner->held_until = linkedin_next_midnight(now);
            host->gauge_set(ctx, "linkedin_owner_held_until_seconds", "owner", owner->id,
                            (double)owner->held_until / 1000.0);
            host->log(ctx, LH_LOG_WARN,
                      "account %s reached LinkedIn's daily limit: held until after 00:00 UTC",
                      owner->id);
            continue; /* held; the other owners go on */
        }
        if (status != LH_OK) {
            return status;
        }
        more |= owner_more;
    }
    for (size_t i = 0; i < li->owner_count; i++) {
        if (li->owners[i].held_until <= now) {
            if (more) {
                host->poll_soon(ctx); /* the next page at once, in its own transaction */
            }
            host->log(ctx, LH_LOG_DEBUG, "poll: %zu emitted, %zu skipped, %zu filtered",
                      counts.emitted, counts.skipped, counts.filtered);
            return LH_OK;
        }
    }
    /* every owner reached the daily limit in this poll: a hold, nothing kept of it */
    host->set_retry_after(ctx, linkedin_next_midnight(now) - now);
    host->set_error(ctx, "LinkedIn's daily limit is reached for every account: held until "
                         "after 00:00 UTC");
    return LH_RETRY_AFTER;
}
