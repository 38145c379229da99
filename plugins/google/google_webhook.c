/*
 * google_webhook.c - pushes from Google, each only a hint that something changed:
 *
 *   Gmail via Pub/Sub   POST ?token=<push_token>, or with Pub/Sub's OIDC token
 *                       (Authorization: Bearer, checked by host->jwt_verify against Google's
 *                       keys for push_audience), body a PubsubMessage envelope whose
 *                       base64 `data` is {"emailAddress", "historyId"}: the mailbox's new
 *                       position. Recorded as notification `gmail` = {"history_id"}; the
 *                       poll reads history from its *stored* position, so several pushes
 *                       coalesce and a redelivery (the same value) changes nothing.
 *   Calendar channels   POST with an empty body and X-Goog-Channel-* headers; the channel
 *                       token must be push_token. `sync` (the channel's first message) is
 *                       answered and nothing recorded; `exists` / `not_exists` record
 *                       notification `calendar`.
 * Tokens are compared in constant time. No provider call here: the poll fetches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "google.h"
#include "mail_address.h"

#define TOKEN_MAX 512

/* Base64, standard or URL alphabet, padding optional; NULL when malformed (malloc'd,
 * NUL-terminated, *len_out bytes). */
static unsigned char *base64_decode_any(const char *text, size_t *len_out)
{
    size_t len = strlen(text);
    unsigned char *out = malloc(len / 4 * 3 + 4);
    if (out == NULL) {
        return NULL;
    }
    unsigned value = 0;
    int bits = 0;
    size_t used = 0;
    size_t i = 0;
    for (; i < len && text[i] != '='; i++) {
        int c = (unsigned char)text[i];
        int d = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '+' || c == '-' ? 62
                : c == '/' || c == '_' ? 63
                                       : -1;
        if (d < 0) {
            free(out);
            return NULL;
        }
        value = (value << 6) | (unsigned)d;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[used++] = (unsigned char)(value >> bits);
            value &= (1U << bits) - 1;
        }
    }
    for (; i < len; i++) {
        if (text[i] != '=') {
            free(out);
            return NULL; /* data after padding */
        }
    }
    if (bits >= 6) {
        free(out);
        return NULL; /* a lone sextet is not a byte */
    }
    out[used] = '\0';
    *len_out = used;
    return out;
}

static bool token_matches(const struct google *g, const char *given)
{
    size_t expected_len = strlen(g->push_token);
    return given != NULL && strlen(given) == expected_len &&
           g->host->digest_equal(given, g->push_token, expected_len);
}

static lh_status_t refuse(struct google *g, lh_ctx_t *ctx, lh_status_t status, const char *reason,
                          const char *text)
{
    g->host->counter_add(ctx, "google_webhook_rejected_total", "reason", reason, 1);
    g->host->set_error(ctx, "%s", text);
    return status;
}

static lh_status_t calendar_push(struct google *g, lh_ctx_t *ctx,
                                 const lh_webhook_request_t *request)
{
    if (!token_matches(g, lh_request_header(request, "X-Goog-Channel-Token"))) {
        return refuse(g, ctx, LH_AUTH, "bad_channel_token",
                      "X-Goog-Channel-Token does not match this instance's push_token");
    }
    const char *state = lh_request_header(request, "X-Goog-Resource-State");
    if (state == NULL) {
        return refuse(g, ctx, LH_PERMANENT, "malformed", "X-Goog-Resource-State is missing");
    }
    if (strcmp(state, "sync") == 0) {
        g->host->counter_add(ctx, "google_webhook_received_total", "kind", "calendar_sync", 1);
        return LH_OK; /* the channel's first message: nothing changed yet */
    }
    const char *number = lh_request_header(request, "X-Goog-Message-Number");
    g->host->counter_add(ctx, "google_webhook_received_total", "kind", "calendar", 1);
    return g->host->notification_put(ctx, "calendar", json_string(number != NULL ? number : state));
}

/* Pub/Sub's OIDC token (Authorization: Bearer): signed by Google for push_audience, and
 * by push_service_account when one is set. */
static lh_status_t oidc_check(struct google *g, lh_ctx_t *ctx, const char *bearer)
{
    static const char *const issuers[] = {"https://accounts.google.com", "accounts.google.com",
                                          NULL};
    json_t *claims = NULL;
    lh_status_t status =
        g->host->jwt_verify(ctx, bearer, g->oidc_certs_url, issuers, g->push_audience, &claims);
    if (status == LH_AUTH) {
        g->host->counter_add(ctx, "google_webhook_rejected_total", "reason", "bad_oidc_token", 1);
    } else if (status == LH_OK && g->push_service_account != NULL) {
        const char *email = json_string_value(json_object_get(claims, "email"));
        if (email == NULL || !json_is_true(json_object_get(claims, "email_verified")) ||
            !mail_address_same(email, g->push_service_account)) {
            status = refuse(g, ctx, LH_AUTH, "bad_oidc_account",
                            "the push's token was issued to another service account");
        }
    }
    json_decref(claims);
    return status;
}

/* A push is authentic by its OIDC token when push_audience is set and it carries one, else
 * by the URL's token. */
static lh_status_t push_authentic(struct google *g, lh_ctx_t *ctx,
                                  const lh_webhook_request_t *request)
{
    const char *authorization = lh_request_header(request, "Authorization");
    if (g->push_audience != NULL && authorization != NULL &&
        strncasecmp(authorization, "Bearer ", 7) == 0) {
        return oidc_check(g, ctx, authorization + 7);
    }
    char token[TOKEN_MAX];
    bool ok = g->push_token != NULL &&
              lh_query_param(request->query, "token", token, sizeof(token)) >= 0 &&
              token_matches(g, token);
    explicit_bzero(token, sizeof(token));
    if (!ok) {
        return refuse(g, ctx, LH_AUTH, "bad_push_token",
                      g->push_audience != NULL
                          ? "the push carries neither Google's OIDC token nor this instance's "
                            "push_token"
                          : "the push URL's token does not match this instance's push_token");
    }
    return LH_OK;
}

static lh_status_t gmail_push(struct google *g, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    lh_status_t authentic = push_authentic(g, ctx, request);
    if (authentic != LH_OK) {
        return authentic;
    }
    json_t *envelope = json_loadb((const char *)request->body, request->body_len, 0, NULL);
    const char *data =
        json_string_value(json_object_get(json_object_get(envelope, "message"), "data"));
    size_t len = 0;
    unsigned char *decoded = data != NULL ? base64_decode_any(data, &len) : NULL;
    json_t *notice = decoded != NULL ? json_loadb((const char *)decoded, len, 0, NULL) : NULL;
    const char *address = json_string_value(json_object_get(notice, "emailAddress"));
    const json_t *history_id = json_object_get(notice, "historyId");
    lh_status_t status;
    if (address == NULL || !(json_is_string(history_id) || json_is_integer(history_id))) {
        status = refuse(g, ctx, LH_PERMANENT, "malformed",
                        "not a Gmail Pub/Sub push: message.data must be base64 of "
                        "{\"emailAddress\", \"historyId\"}");
    } else if (!mail_address_same(address, g->mailbox)) {
        /* answered 200: a push for another mailbox would only be redelivered */
        g->host->counter_add(ctx, "google_webhook_ignored_total", "reason", "other_mailbox", 1);
        status = LH_OK;
    } else {
        g->host->counter_add(ctx, "google_webhook_received_total", "kind", "gmail", 1);
        json_t *value = json_is_string(history_id)
                            ? json_pack("{s:O}", "history_id", history_id)
                            : json_pack("{s:I}", "history_id", json_integer_value(history_id));
        status = g->host->notification_put(ctx, "gmail", value);
    }
    json_decref(notice);
    free(decoded);
    json_decref(envelope);
    return status;
}

lh_status_t google_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    struct google *g = state;
    if (g->push_token == NULL && g->push_audience == NULL) {
        return refuse(g, ctx, LH_AUTH, "push_not_configured",
                      "this instance takes no pushes: set push_token or push_audience");
    }
    if (lh_request_header(request, "X-Goog-Channel-ID") != NULL) {
        if (g->push_token == NULL) {
            return refuse(g, ctx, LH_AUTH, "push_not_configured",
                          "Calendar channels need push_token");
        }
        return calendar_push(g, ctx, request);
    }
    return gmail_push(g, ctx, request);
}
