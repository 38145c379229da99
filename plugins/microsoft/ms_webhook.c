/*
 * ms_webhook.c - POST /webhooks/{instance}, Graph's notification URL and lifecycle URL:
 *   - ?validationToken=...: the handshake of a subscription being created (or of the
 *     lifecycle URL): 200 text/plain with the decoded token, at once (Graph waits 10 s);
 *   - a changeNotificationCollection: each item's clientState checked in constant time
 *     (a mismatch is refused and counted), then recorded as a pending notification, and the
 *     answer is 202 (Graph waits 3 s): the poll runs the deltas. Change notifications of a
 *     subscription coalesce into one pending key; lifecycle events (reauthorizationRequired,
 *     subscriptionRemoved, missed) get their own, which the poll acts on.
 * No Graph call is made here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microsoft.h"

#define TOKEN_MAX           8192
#define SUBSCRIPTION_ID_MAX 64

/* Subscription ids are GUIDs: anything else is not Graph's, and cannot make a key. */
static bool id_ok(const char *id)
{
    size_t len = id != NULL ? strlen(id) : 0;
    if (len == 0 || len > SUBSCRIPTION_ID_MAX) {
        return false;
    }
    for (const char *p = id; *p != '\0'; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              *p == '-')) {
            return false;
        }
    }
    return true;
}

static bool state_matches(const char *given, const char *expected,
                          int (*equal)(const void *, const void *, size_t))
{
    size_t len = strlen(expected);
    /* the lengths differ only for a forgery; the comparison of equal lengths is the one
     * that must not leak how much matched */
    return given != NULL && strlen(given) == len && equal(given, expected, len);
}

json_t *ms_webhook_parse(const char *body, size_t body_len, const char *client_state,
                         int (*equal)(const void *, const void *, size_t), size_t *mismatched)
{
    *mismatched = 0;
    json_t *root = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, NULL);
    const json_t *items = json_object_get(root, "value");
    if (!json_is_array(items)) {
        json_decref(root);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    const json_t *item;
    json_array_foreach(items, i, item)
    {
        if (out == NULL) {
            break;
        }
        const char *id = json_string_value(json_object_get(item, "subscriptionId"));
        const char *state = json_string_value(json_object_get(item, "clientState"));
        if (!state_matches(state, client_state, equal)) {
            (*mismatched)++;
            continue;
        }
        if (!id_ok(id)) {
            continue;
        }
        const char *lifecycle = json_string_value(json_object_get(item, "lifecycleEvent"));
        char key[128];
        if (lifecycle != NULL) {
            if (!ms_same(lifecycle, "reauthorizationRequired") &&
                !ms_same(lifecycle, "subscriptionRemoved") && !ms_same(lifecycle, "missed")) {
                continue;
            }
            snprintf(key, sizeof(key), "life.%s.%s",
                     ms_same(lifecycle, "missed")                ? "missed"
                     : ms_same(lifecycle, "subscriptionRemoved") ? "removed"
                                                                 : "reauthorize",
                     id);
        } else {
            snprintf(key, sizeof(key), "sub.%s", id);
        }
        json_t *entry = json_pack("{s:s, s:s}", "key", key, "value", id);
        if (entry == NULL || json_array_append_new(out, entry) != 0) {
            json_decref(out);
            out = NULL;
        }
    }
    json_decref(root);
    return out;
}

lh_status_t ms_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    struct microsoft *ms = state;
    const lh_host_t *host = ms->host;
    if (ms->client_state == NULL) {
        host->set_error(ctx, "notifications are off for this instance (no notification_url)");
        return LH_PERMANENT;
    }
    char *token = malloc(TOKEN_MAX);
    if (token == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    long len = lh_query_param(request->query, "validationToken", token, TOKEN_MAX);
    if (len >= 0) {
        /* opaque, answered as text/plain only (never reflected as HTML) */
        host->respond(ctx, 200, "text/plain", token, (size_t)len);
        host->counter_add(ctx, "validations_total", NULL, NULL, 1);
        free(token);
        return LH_OK;
    }
    free(token);
    size_t mismatched = 0;
    json_t *notes = ms_webhook_parse((const char *)request->body, request->body_len,
                                     ms->client_state, host->digest_equal, &mismatched);
    if (notes == NULL) {
        host->set_error(ctx, "not a Graph notification collection");
        return LH_PERMANENT;
    }
    if (mismatched > 0) {
        host->counter_add(ctx, "client_state_mismatches_total", NULL, NULL, (double)mismatched);
        if (json_array_size(notes) == 0) {
            json_decref(notes);
            host->set_error(ctx, "clientState does not match");
            return LH_AUTH;
        }
    }
    size_t i;
    const json_t *note;
    lh_status_t status = LH_OK;
    json_array_foreach(notes, i, note)
    {
        const char *key = json_string_value(json_object_get(note, "key"));
        status = host->notification_put(ctx, key, json_incref(json_object_get(note, "value")));
        if (status != LH_OK) {
            break;
        }
        host->counter_add(ctx, "notifications_total", "kind",
                          strncmp(key, "life.", 5) == 0 ? "lifecycle" : "change", 1);
    }
    json_decref(notes);
    if (status == LH_OK) {
        host->respond(ctx, 202, "text/plain", "", 0);
    }
    return status;
}
