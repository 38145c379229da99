/*
 * ms_subscription.c - change-notification subscriptions, one per mailbox and resource
 * (its messages, its events), kept alive by the poll: created when missing, expired (the
 * daemon was down past the expiry) or removed by Graph; renewed once half their life is
 * gone, or at once when Graph asks (reauthorizationRequired). Their ids and expiries live
 * in checkpoints ("sub.<mailbox>.<mail|cal>"), committed with the poll, so a restart or
 * another replica renews rather than duplicates. A subscription that cannot be made is
 * logged and counted; the poll goes on (it is the safety net) and tries again next time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microsoft.h"

static bool listed(const json_t *ids, const char *id)
{
    size_t i;
    const json_t *item;
    json_array_foreach(ids, i, item)
    {
        if (id != NULL && ms_same(json_string_value(item), id)) {
            return true;
        }
    }
    return false;
}

static lh_status_t remember(struct microsoft *ms, lh_ctx_t *ctx, const char *key, const char *id,
                            int64_t expires)
{
    json_t *value = json_pack("{s:s, s:I}", "id", id, "expires", (json_int_t)expires);
    if (value == NULL) {
        ms->host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    return ms->host->checkpoint_put(ctx, key, value);
}

/* POST /subscriptions; Graph validates notification_url (our webhook answers) first. */
static lh_status_t create(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                          enum ms_kind kind, const char *key, int64_t *wait_out)
{
    const lh_host_t *host = ms->host;
    int64_t expires = host->now_ms(ctx) + MS_SUBSCRIPTION_LIFETIME_MS;
    char expiry[32];
    ms_format_time(expires, expiry);
    char resource[512];
    snprintf(resource, sizeof(resource), "%s/%s", mailbox->path,
             kind == MS_MAIL ? "messages" : "events");
    json_t *request = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s}", "changeType", "created,updated,deleted",
        "notificationUrl", ms->notification_url, "lifecycleNotificationUrl", ms->notification_url,
        "resource", resource, "expirationDateTime", expiry, "clientState", ms->client_state);
    char *body = request != NULL ? json_dumps(request, JSON_COMPACT) : NULL;
    json_decref(request);
    size_t url_size = strlen(ms->graph_base) + 16;
    char *url = malloc(url_size);
    if (body == NULL || url == NULL) {
        free(body);
        free(url);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    snprintf(url, url_size, "%s/subscriptions", ms->graph_base);
    struct ms_call call = {.method = "POST", .url = url, .body = body};
    enum ms_outcome outcome = ms_api_call(ms, ctx, mailbox, &call);
    explicit_bzero(body, strlen(body)); /* it holds the client state */
    free(body);
    free(url);
    lh_status_t status = LH_OK;
    const char *id = json_string_value(json_object_get(call.json, "id"));
    if (outcome == MS_DONE && id != NULL) {
        int64_t granted =
            ms_parse_time(json_string_value(json_object_get(call.json, "expirationDateTime")));
        status = remember(ms, ctx, key, id, granted > 0 ? granted : expires);
        host->counter_add(ctx, "subscriptions_created_total", "resource",
                          kind == MS_MAIL ? "mail" : "calendar", 1);
        host->log(ctx, LH_LOG_INFO, "%s: subscribed to its %s", mailbox->address,
                  kind == MS_MAIL ? "messages" : "events");
    } else if (outcome == MS_WAIT) {
        *wait_out = call.wait_ms;
    } else if (outcome == MS_FAILED && (call.status == LH_AUTH || call.status == LH_CONFIG)) {
        status = call.status; /* the token or the permissions: the instance must say so */
    } else {
        host->counter_add(ctx, "subscription_failures_total", "resource",
                          kind == MS_MAIL ? "mail" : "calendar", 1);
        host->log(ctx, LH_LOG_WARN,
                  "%s: could not subscribe to its %s (HTTP %ld); polling "
                  "meanwhile",
                  mailbox->address, kind == MS_MAIL ? "messages" : "events", call.http_status);
    }
    json_decref(call.json);
    return status;
}

/* PATCH /subscriptions/{id} with a new expiry; a subscription Graph no longer has is made
 * again. */
static lh_status_t renew(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                         enum ms_kind kind, const char *key, const char *id, int64_t *wait_out)
{
    const lh_host_t *host = ms->host;
    int64_t expires = host->now_ms(ctx) + MS_SUBSCRIPTION_LIFETIME_MS;
    char expiry[32];
    ms_format_time(expires, expiry);
    char body[96];
    snprintf(body, sizeof(body), "{\"expirationDateTime\":\"%s\"}", expiry);
    char *encoded = ms_url_encode(id);
    size_t url_size = strlen(ms->graph_base) + (encoded != NULL ? strlen(encoded) : 0) + 20;
    char *url = encoded != NULL ? malloc(url_size) : NULL;
    if (url == NULL) {
        free(encoded);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    snprintf(url, url_size, "%s/subscriptions/%s", ms->graph_base, encoded);
    free(encoded);
    struct ms_call call = {.method = "PATCH", .url = url, .body = body};
    enum ms_outcome outcome = ms_api_call(ms, ctx, mailbox, &call);
    free(url);
    lh_status_t status = LH_OK;
    if (outcome == MS_DONE) {
        int64_t granted =
            ms_parse_time(json_string_value(json_object_get(call.json, "expirationDateTime")));
        status = remember(ms, ctx, key, id, granted > 0 ? granted : expires);
        host->counter_add(ctx, "subscriptions_renewed_total", "resource",
                          kind == MS_MAIL ? "mail" : "calendar", 1);
    } else if (outcome == MS_NOT_FOUND) {
        status = create(ms, ctx, mailbox, kind, key, wait_out);
    } else if (outcome == MS_WAIT) {
        *wait_out = call.wait_ms;
    } else if (outcome == MS_FAILED && (call.status == LH_AUTH || call.status == LH_CONFIG)) {
        status = call.status;
    } else {
        host->counter_add(ctx, "subscription_failures_total", "resource",
                          kind == MS_MAIL ? "mail" : "calendar", 1);
        host->log(ctx, LH_LOG_WARN, "%s: could not renew a subscription (HTTP %ld)",
                  mailbox->address, call.http_status);
    }
    json_decref(call.json);
    return status;
}

lh_status_t ms_subscriptions_keep(struct microsoft *ms, lh_ctx_t *ctx, const json_t *reauthorize,
                                  const json_t *removed, int64_t *wait_out)
{
    const lh_host_t *host = ms->host;
    *wait_out = 0;
    if (ms->notification_url == NULL) {
        return LH_OK;
    }
    int64_t now = host->now_ms(ctx);
    for (size_t m = 0; m < ms->mailbox_count; m++) {
        struct ms_mailbox *mailbox = &ms->mailboxes[m];
        for (int k = 0; k < 2; k++) {
            enum ms_kind kind = (enum ms_kind)k;
            if ((kind == MS_MAIL && !ms->mail) || (kind == MS_CALENDAR && !ms->calendar)) {
                continue;
            }
            char key[64];
            snprintf(key, sizeof(key), "sub.%s.%s", mailbox->key, kind == MS_MAIL ? "mail" : "cal");
            json_t *stored = NULL;
            lh_status_t status = host->checkpoint_get(ctx, key, &stored);
            if (status != LH_OK) {
                return status;
            }
            const char *id = json_string_value(json_object_get(stored, "id"));
            int64_t expires = (int64_t)json_integer_value(json_object_get(stored, "expires"));
            int64_t wait = 0;
            if (id == NULL || expires <= now || listed(removed, id)) {
                /* never made, lapsed while nobody renewed it, or removed by Graph */
                status = create(ms, ctx, mailbox, kind, key, &wait);
            } else if (expires - now < MS_SUBSCRIPTION_RENEW_MS || listed(reauthorize, id)) {
                status = renew(ms, ctx, mailbox, kind, key, id, &wait);
            }
            json_decref(stored);
            if (status != LH_OK) {
                return status;
            }
            if (wait > 0 && (*wait_out == 0 || wait < *wait_out)) {
                *wait_out = wait;
            }
        }
    }
    return LH_OK;
}
