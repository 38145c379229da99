/*
 * linkedin_webhook.c - what LinkedIn sends to /webhooks/{instance}:
 *
 *   GET ?challengeCode=<uuid>  endpoint validation (at subscription, then every 2 hours):
 *                              answered 200 application/json {"challengeCode",
 *                              "challengeResponse": hex(HMAC-SHA256(client_secret, code))}
 *                              at once, from init()'s state alone.
 *   POST (LEAD_ACTION)         one lead action, signed with X-LI-Signature. LinkedIn's text
 *                              reads two ways (docs/connectors/linkedin.md): either is
 *                              accepted, over the raw bytes, and the one that matched is
 *                              logged and counted so that it can be pinned later.
 *
 * A notification carries no answers: the webhook records what to fetch ("lead:<id>", or
 * "erase:<id>" for a DELETED) as a pending notification and returns; the commit asks for a
 * poll, which fetches (the deferred-work pattern of sdk/leadhub.h). A redelivery records the
 * same value again: nothing changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linkedin.h"

#define CHALLENGE_MAX   256
#define PREFIX          "hmacsha256="
#define RESPONSE_URN    "urn:li:leadGenFormResponse:"
#define ACCOUNT_URN     "urn:li:sponsoredAccount:"
#define METRIC_REJECTED "linkedin_webhook_rejected_total"

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* 64 hex digits into 32 bytes; false when the text is not that. */
static bool hex_decode(const char *text, size_t len, unsigned char out[32])
{
    if (len != 64) {
        return false;
    }
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (unsigned char)(hi * 16 + lo);
    }
    return true;
}

enum linkedin_signature_reading linkedin_signature_match(
    const char *secret, const char *header, const unsigned char *body, size_t body_len,
    void (*hmac)(const void *, size_t, const void *, size_t, unsigned char[32]),
    int (*equal)(const void *, const void *, size_t))
{
    if (secret == NULL || header == NULL) {
        return LINKEDIN_SIGNATURE_NONE;
    }
    size_t prefix_len = strlen(PREFIX);
    bool prefixed = strncasecmp(header, PREFIX, prefix_len) == 0;
    const char *hex = prefixed ? header + prefix_len : header;
    unsigned char sent[32];
    if (!hex_decode(hex, strlen(hex), sent)) {
        return LINKEDIN_SIGNATURE_NONE;
    }
    size_t secret_len = strlen(secret);
    /* reading B: HMAC over the body */
    unsigned char over_body[32];
    hmac(secret, secret_len, body, body_len, over_body);
    /* reading A: HMAC over "hmacsha256=" + body */
    unsigned char over_prefixed[32];
    unsigned char *message = malloc(prefix_len + body_len + 1);
    if (message == NULL) {
        return LINKEDIN_SIGNATURE_NONE;
    }
    memcpy(message, PREFIX, prefix_len);
    if (body_len > 0) {
        memcpy(message + prefix_len, body, body_len);
    }
    hmac(secret, secret_len, message, prefix_len + body_len, over_prefixed);
    free(message);
    /* both compared whatever the first gave: constant time */
    int b = equal(sent, over_body, 32);
    int a = equal(sent, over_prefixed, 32);
    if (a) {
        return LINKEDIN_SIGNATURE_PREFIXED_MESSAGE;
    }
    return b ? LINKEDIN_SIGNATURE_PREFIXED_HEADER : LINKEDIN_SIGNATURE_NONE;
}

int linkedin_notification_parse(const char *body, size_t len, struct linkedin_notification *out,
                                char detail[160])
{
    memset(out, 0, sizeof(*out));
    json_error_t error;
    json_t *root = json_loadb(body, len, 0, &error);
    if (root == NULL) {
        snprintf(detail, 160, "body is not JSON: %.100s (line %d, column %d)", error.text,
                 error.line, error.column);
        return -1;
    }
    int rc = -1;
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *urn = json_string_value(json_object_get(root, "leadGenFormResponse"));
    const char *action = json_string_value(json_object_get(root, "leadAction"));
    const json_t *occurred = json_object_get(root, "occurredAt");
    if (!json_is_object(root) || type == NULL || strcmp(type, "LEAD_ACTION") != 0) {
        snprintf(detail, 160, "not a LEAD_ACTION notification");
    } else if (urn == NULL || strncmp(urn, RESPONSE_URN, strlen(RESPONSE_URN)) != 0 ||
               !linkedin_response_id_valid(urn + strlen(RESPONSE_URN))) {
        snprintf(detail, 160, "leadGenFormResponse is not a urn:li:leadGenFormResponse");
    } else if (action == NULL ||
               (strcmp(action, "CREATED") != 0 && strcmp(action, "DELETED") != 0)) {
        snprintf(detail, 160, "leadAction must be CREATED or DELETED");
    } else {
        snprintf(out->response_id, sizeof(out->response_id), "%s", urn + strlen(RESPONSE_URN));
        out->deleted = strcmp(action, "DELETED") == 0;
        out->occurred_at = json_is_integer(occurred) && json_integer_value(occurred) > 0
                               ? json_integer_value(occurred)
                               : 0;
        const char *owner =
            json_string_value(json_object_get(json_object_get(root, "owner"), "sponsoredAccount"));
        if (!linkedin_parse_numeric_id(owner, ACCOUNT_URN, out->owner) || owner == NULL ||
            strncmp(owner, ACCOUNT_URN, strlen(ACCOUNT_URN)) != 0) {
            out->owner[0] = '\0';
        }
        rc = 0;
    }
    json_decref(root);
    return rc;
}

static lh_status_t reject(struct linkedin *li, lh_ctx_t *ctx, const char *reason,
                          lh_status_t status, const char *message)
{
    li->host->counter_add(ctx, METRIC_REJECTED, "reason", reason, 1);
    li->host->set_error(ctx, "%s", message);
    return status;
}

static lh_status_t challenge(struct linkedin *li, lh_ctx_t *ctx,
                             const lh_webhook_request_t *request)
{
    const lh_host_t *host = li->host;
    char code[CHALLENGE_MAX + 1];
    long len = lh_query_param(request->query, "challengeCode", code, sizeof(code));
    if (len <= 0) {
        return reject(li, ctx, "bad_challenge", LH_PERMANENT,
                      "a GET must carry challengeCode (LinkedIn's endpoint validation)");
    }
    for (long i = 0; i < len; i++) {
        if ((unsigned char)code[i] < 0x21 || code[i] == '"' || code[i] == '\\' ||
            (unsigned char)code[i] >= 0x7f) {
            return reject(li, ctx, "bad_challenge", LH_PERMANENT,
                          "challengeCode must be printable ASCII");
        }
    }
    unsigned char digest[32];
    char hex[65];
    host->hmac_sha256(li->client_secret, strlen(li->client_secret), code, (size_t)len, digest);
    lh_hex_encode(digest, sizeof(digest), hex);
    char body[CHALLENGE_MAX + 128];
    int n = snprintf(body, sizeof(body), "{\"challengeCode\":\"%s\",\"challengeResponse\":\"%s\"}",
                     code, hex);
    host->respond(ctx, 200, "application/json", body, (size_t)n);
    host->counter_add(ctx, "linkedin_webhook_challenges_total", NULL, NULL, 1);
    return LH_OK;
}

static bool owner_known(const struct linkedin *li, const char *owner)
{
    for (size_t i = 0; i < li->owner_count; i++) {
        if (strcmp(li->owners[i].id, owner) == 0) {
            return true;
        }
    }
    return false;
}

lh_status_t linkedin_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    struct linkedin *li = state;
    const lh_host_t *host = li->host;
    if (request->method != NULL && strcmp(request->method, "GET") == 0) {
        return challenge(li, ctx, request);
    }
    enum linkedin_signature_reading reading = linkedin_signature_match(
        li->client_secret, lh_request_header(request, "X-LI-Signature"), request->body,
        request->body_len, host->hmac_sha256, host->digest_equal);
    if (reading == LINKEDIN_SIGNATURE_NONE) {
        return reject(li, ctx, "bad_signature", LH_AUTH,
                      "X-LI-Signature does not match the body (HMAC-SHA256 with the app's "
                      "client_secret, in either of LinkedIn's readings)");
    }
    const char *reading_name =
        reading == LINKEDIN_SIGNATURE_PREFIXED_MESSAGE ? "prefixed_message" : "prefixed_header";
    host->counter_add(ctx, "linkedin_signature_reading_total", "reading", reading_name, 1);
    host->log(ctx, LH_LOG_INFO, "X-LI-Signature matched reading %s", reading_name);
    struct linkedin_notification n;
    char detail[160];
    if (linkedin_notification_parse((const char *)request->body, request->body_len, &n, detail) !=
        0) {
        return reject(li, ctx, "malformed_body", LH_PERMANENT, detail);
    }
    if (n.owner[0] != '\0' && !owner_known(li, n.owner)) {
        /* a subscription of another instance of the app: not ours to fetch */
        host->counter_add(ctx, "linkedin_notifications_total", "outcome", "other_owner", 1);
        return LH_OK;
    }
    char key[128];
    snprintf(key, sizeof(key), "%s:%s", n.deleted ? "erase" : "lead", n.response_id);
    json_t *value = json_pack("{s:I}", "occurred_at", (json_int_t)n.occurred_at);
    host->counter_add(ctx, "linkedin_notifications_total", "outcome",
                      n.deleted ? "deleted" : "created", 1);
    return host->notification_put(ctx, key, value);
}
