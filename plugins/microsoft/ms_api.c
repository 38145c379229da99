/*
 * ms_api.c - one Graph request: a token from the host, the mailbox's request budget
 * (Graph's per-app-and-mailbox limit, kept on this side so that it is never hit), and the
 * answer mapped to what the poll does next. Requests of one instance never overlap (the
 * host runs one poll at a time and webhook() calls nothing), well under Graph's 4
 * concurrent requests per mailbox.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "microsoft.h"

int64_t ms_budget_wait(const struct microsoft *ms, const struct ms_mailbox *mailbox, int64_t now)
{
    if (mailbox == NULL || mailbox->sent_count < ms->budget) {
        return 0;
    }
    /* full: the oldest send leaves the window at oldest + window */
    int64_t oldest = mailbox->sent[mailbox->sent_head];
    int64_t wait = oldest + ms->budget_window_ms - now;
    return wait > 0 ? wait : 0;
}

/* Forgets sends that left the window. */
static void budget_expire(const struct microsoft *ms, struct ms_mailbox *mailbox, int64_t now)
{
    while (mailbox->sent_count > 0 &&
           mailbox->sent[mailbox->sent_head] + ms->budget_window_ms <= now) {
        mailbox->sent_head = (mailbox->sent_head + 1) % ms->budget;
        mailbox->sent_count--;
    }
}

/* Records a send at `now` (budget_expire() made room: the caller checked the wait). */
static void budget_spend(const struct microsoft *ms, struct ms_mailbox *mailbox, int64_t now)
{
    size_t tail = (mailbox->sent_head + mailbox->sent_count) % ms->budget;
    mailbox->sent[tail] = now;
    mailbox->sent_count++;
}

/* Graph's error code ({"error": {"code": ...}}), or NULL. */
static const char *error_code(const json_t *body)
{
    return json_string_value(json_object_get(json_object_get(body, "error"), "code"));
}

enum ms_outcome ms_api_call(struct microsoft *ms, lh_ctx_t *ctx, struct ms_mailbox *mailbox,
                            struct ms_call *call)
{
    const lh_host_t *host = ms->host;
    call->json = NULL;
    call->wait_ms = 0;
    call->status = LH_OK;
    call->http_status = 0;
    int64_t now = host->now_ms(ctx);
    if (mailbox != NULL) {
        budget_expire(ms, mailbox, now);
        call->wait_ms = ms_budget_wait(ms, mailbox, now);
        if (call->wait_ms > 0) {
            host->counter_add(ctx, "budget_waits_total", NULL, NULL, 1);
            return MS_WAIT;
        }
    }
    const char *token = NULL;
    lh_status_t status = host->oauth2_token(ctx, &ms->oauth, &token);
    if (status != LH_OK) {
        call->status = status; /* the host set the reason (invalid_grant, AADSTS7000222) */
        return MS_FAILED;
    }
    size_t auth_size = strlen(token) + 8;
    char *authorization = malloc(auth_size);
    if (authorization == NULL) {
        host->set_error(ctx, "out of memory");
        call->status = LH_RETRY;
        return MS_FAILED;
    }
    snprintf(authorization, auth_size, "Bearer %s", token);
    char prefer[64];
    snprintf(prefer, sizeof(prefer), "odata.maxpagesize=%d", ms->page_size);
    lh_header_t headers[5] = {
        {"Authorization", authorization}, {"Accept", "application/json"}, {"Prefer", prefer}};
    size_t header_count = 3;
    if (call->utc_times) {
        headers[header_count++] = (lh_header_t){"Prefer", "outlook.timezone=\"UTC\""};
    }
    if (call->body != NULL) {
        headers[header_count++] = (lh_header_t){"Content-Type", "application/json"};
    }
    lh_http_request_t request =
        LH_HTTP_REQUEST(.method = call->method != NULL ? call->method : "GET", .url = call->url,
                        .headers = headers, .header_count = header_count, .body = call->body,
                        .body_len = call->body != NULL ? strlen(call->body) : 0, .max_attempts = 1);
    lh_http_response_t response = LH_HTTP_RESPONSE_INIT;
    if (mailbox != NULL) {
        budget_spend(ms, mailbox, now);
    }
    status = host->http(ctx, &request, &response);
    explicit_bzero(authorization, auth_size);
    free(authorization);
    if (status != LH_OK) {
        host->http_response_free(&response);
        call->status = status; /* a transport failure: the host set the reason */
        return MS_FAILED;
    }
    call->http_status = response.status;
    call->json =
        response.body_len > 0 ? json_loadb(response.body, response.body_len, 0, NULL) : NULL;
    const char *code = error_code(call->json);
    long s = response.status;
    enum ms_outcome outcome = MS_FAILED;
    if (s >= 200 && s < 300) {
        outcome = MS_DONE;
    } else if (s == 410 || ms_same(code, "syncStateNotFound") || ms_same(code, "resyncRequired")) {
        host->counter_add(ctx, "delta_resyncs_total", NULL, NULL, 1);
        outcome = MS_RESYNC;
    } else if (s == 429 || s == 503 || s == 504) {
        call->wait_ms =
            response.retry_after_ms >= 0 ? response.retry_after_ms : MS_THROTTLE_DEFAULT_MS;
        host->counter_add(ctx, "throttled_total", "status", s == 429 ? "429" : "503", 1);
        outcome = MS_WAIT;
    } else if (s == 404) {
        outcome = MS_NOT_FOUND;
    } else if (s == 401) {
        host->oauth2_invalidate(ctx);
        host->set_error(ctx, "Graph refused the access token (401%s%.64s)", code ? ": " : "",
                        code ? code : "");
        call->status = LH_AUTH;
    } else if (s == 403) {
        host->set_error(ctx,
                        "Graph refused access (403%s%.64s): grant the app the permission this "
                        "feature needs (docs/connectors/microsoft.md) and admin consent",
                        code ? ": " : "", code ? code : "");
        call->status = LH_CONFIG;
    } else {
        host->set_error(ctx, "Graph answered %ld%s%.64s", s, code ? ": " : "", code ? code : "");
        call->status = s >= 500 ? LH_RETRY : LH_PERMANENT;
    }
    if (outcome != MS_DONE && outcome != MS_FAILED) {
        json_decref(call->json);
        call->json = NULL;
    }
    if (outcome == MS_DONE && call->json == NULL && response.body_len > 0) {
        host->set_error(ctx, "Graph answered %ld with a body that is not JSON", s);
        call->status = LH_RETRY;
        outcome = MS_FAILED;
    }
    host->http_response_free(&response);
    return outcome;
}
