/*
 * google_watch.c - keeping Google's pushes coming, from the poll (webhooks call nobody):
 *
 *   Gmail     users.watch on `pubsub_topic`, renewed daily (Google stops after 7 days and
 *             recommends a daily call); checkpoint gmail.watch {"renewed_ms", "expiration"}.
 *   Calendar  events.watch per calendar to `calendar_push_url` with push_token as the
 *             channel token, ttl 7 days, replaced a day before it expires (channels do not
 *             renew) and the old one stopped; checkpoint calendar_watch.<id> {"id",
 *             "resource_id", "expiration"}.
 * A refusal (a topic without publish rights, a push URL Google will not call) is logged and
 * counted and tried again at the next renewal; the poll goes on: it is the safety net.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google.h"

#define DAY_MS              (24LL * 3600 * 1000)
#define CHANNEL_TTL_SECONDS 604800

static long long epoch_ms(const json_t *value)
{
    const char *text = json_string_value(value);
    return text != NULL ? strtoll(text, NULL, 10) : (long long)json_integer_value(value);
}

static void watch_failed(struct google *g, lh_ctx_t *ctx, const char *what,
                         const struct google_response *r)
{
    g->host->counter_add(ctx, "google_watch_failed_total", "api", what, 1);
    g->host->log(ctx, LH_LOG_WARN, "%s refused (HTTP %ld %s): pushes may stop; the poll goes on",
                 what, r->http_status, r->reason);
}

/* Renews Gmail's watch when a day old. A hold or a failure leaves it for the next poll. */
static lh_status_t gmail_watch(struct google *g, lh_ctx_t *ctx)
{
    const lh_host_t *host = g->host;
    json_t *state = NULL;
    if (host->checkpoint_get(ctx, "gmail.watch", &state) != LH_OK) {
        return LH_RETRY;
    }
    int64_t now = host->now_ms(ctx);
    long long renewed = json_integer_value(json_object_get(state, "renewed_ms"));
    json_decref(state);
    if (renewed > 0 && now - renewed < DAY_MS) {
        return LH_OK;
    }
    json_t *request = json_pack("{s:s, s:[s], s:s}", "topicName", g->pubsub_topic, "labelIds",
                                "INBOX", "labelFilterBehavior", "include");
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    char url[GOOGLE_URL_MAX];
    snprintf(url, sizeof(url), "%s/gmail/v1/users/me/watch", g->gmail_base);
    struct google_response r;
    lh_status_t status =
        body != NULL ? google_post_json(g, ctx, url, GOOGLE_COST_WATCH, body, &r) : LH_RETRY;
    free(body);
    if (status == LH_OK && r.http_status == 200) {
        host->counter_add(ctx, "google_watch_renewed_total", "api", "gmail", 1);
        status = host->checkpoint_put(
            ctx, "gmail.watch",
            json_pack("{s:I, s:I}", "renewed_ms", (json_int_t)now, "expiration",
                      (json_int_t)epoch_ms(json_object_get(r.body, "expiration"))));
    } else if (status == LH_OK || status == LH_PERMANENT || status == LH_CONFIG) {
        watch_failed(g, ctx, "users.watch", &r);
        status = host->checkpoint_put(ctx, "gmail.watch",
                                      json_pack("{s:I}", "renewed_ms", (json_int_t)now));
    }
    google_response_clear(&r);
    return status; /* LH_RETRY_AFTER: a hold, the caller stops here */
}

static void stop_channel(struct google *g, lh_ctx_t *ctx, const json_t *old)
{
    const char *id = json_string_value(json_object_get(old, "id"));
    const char *resource = json_string_value(json_object_get(old, "resource_id"));
    if (id == NULL || resource == NULL) {
        return;
    }
    json_t *request = json_pack("{s:s, s:s}", "id", id, "resourceId", resource);
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    char url[GOOGLE_URL_MAX];
    snprintf(url, sizeof(url), "%s/channels/stop", g->calendar_base);
    struct google_response r;
    if (body != NULL) {
        google_post_json(g, ctx, url, GOOGLE_COST_CALENDAR, body, &r); /* best effort */
        google_response_clear(&r);
    }
    free(body);
}

/* Opens a channel for one calendar when it has none or it ends within a day. */
static lh_status_t calendar_watch(struct google *g, lh_ctx_t *ctx, size_t index)
{
    const lh_host_t *host = g->host;
    const char *calendar_id = g->calendar_ids[index];
    char key[160];
    snprintf(key, sizeof(key), "calendar_watch.%zu", index);
    json_t *old = NULL;
    if (host->checkpoint_get(ctx, key, &old) != LH_OK) {
        return LH_RETRY;
    }
    int64_t now = host->now_ms(ctx);
    const char *old_calendar = json_string_value(json_object_get(old, "calendar"));
    long long expiration = json_integer_value(json_object_get(old, "expiration"));
    if (old_calendar != NULL && strcmp(old_calendar, calendar_id) == 0 &&
        expiration - now > DAY_MS) {
        json_decref(old);
        return LH_OK;
    }
    char channel_id[96];
    snprintf(channel_id, sizeof(channel_id), "leadhub-%zu-%lld", index, (long long)now);
    json_t *request =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "id", channel_id, "type", "web_hook", "address",
                  g->calendar_push_url, "token", g->push_token, "params", "ttl", "604800");
    char *body = json_dumps(request, JSON_COMPACT);
    json_decref(request);
    char escaped[512], url[GOOGLE_URL_MAX];
    google_url_escape(calendar_id, escaped, sizeof(escaped));
    snprintf(url, sizeof(url), "%s/calendars/%s/events/watch", g->calendar_base, escaped);
    struct google_response r;
    lh_status_t status =
        body != NULL ? google_post_json(g, ctx, url, GOOGLE_COST_CALENDAR, body, &r) : LH_RETRY;
    if (body != NULL) {
        explicit_bzero(body, strlen(body)); /* it held the push token */
        free(body);
    }
    if (status == LH_OK && r.http_status == 200) {
        host->counter_add(ctx, "google_watch_renewed_total", "api", "calendar", 1);
        stop_channel(g, ctx, old);
        status = host->checkpoint_put(
            ctx, key,
            json_pack("{s:s, s:s, s:s?, s:I}", "calendar", calendar_id, "id", channel_id,
                      "resource_id", json_string_value(json_object_get(r.body, "resourceId")),
                      "expiration", (json_int_t)epoch_ms(json_object_get(r.body, "expiration"))));
    } else if (status == LH_OK || status == LH_PERMANENT || status == LH_CONFIG) {
        watch_failed(g, ctx, "events.watch", &r);
        /* tried again in a day, not at every poll */
        status = host->checkpoint_put(ctx, key,
                                      json_pack("{s:s, s:I}", "calendar", calendar_id, "expiration",
                                                (json_int_t)(now + 2 * DAY_MS)));
    }
    google_response_clear(&r);
    json_decref(old);
    return status; /* LH_RETRY_AFTER: a hold, the caller stops here */
}

lh_status_t google_watch_renew(struct google *g, lh_ctx_t *ctx)
{
    lh_status_t status = LH_OK;
    if (g->gmail && g->pubsub_topic != NULL) {
        status = gmail_watch(g, ctx);
    }
    for (size_t i = 0; status == LH_OK && g->calendar && g->calendar_push_url != NULL &&
                       g->push_token != NULL && i < g->calendar_id_count;
         i++) {
        status = calendar_watch(g, ctx, i);
    }
    /* a hold (the budget, Google's quota) leaves the rest for the poll it brings back */
    return status == LH_RETRY_AFTER ? LH_OK : status;
}
