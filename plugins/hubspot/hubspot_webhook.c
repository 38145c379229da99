/*
 * hubspot_webhook.c - HubSpot's webhook requests: a JSON array of notifications (up to 100
 * in one request), signed with X-HubSpot-Signature-v3.
 *
 * Verification comes first, over the raw bytes, before any parsing:
 *   - X-HubSpot-Request-Timestamp (epoch ms) within 5 minutes of the daemon's clock;
 *   - X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret, method + URI + body +
 *     timestamp)), compared in constant time, against each configured secret.
 * The URI is the one HubSpot called: webhook_url (the public URL registered in HubSpot;
 * behind a proxy the daemon cannot know its scheme, host or path) plus the request's raw
 * query, with the escapes HubSpot's algorithm decodes decoded.
 *
 * A notification only says that an object changed, so the webhook fetches nothing (the
 * deferred-work pattern of sdk/leadhub.h): each contact and deal the batch names is
 * recorded once as a pending notification, "contact:<id>" / "deal:<id>" / "meeting:<id>"
 * (the generic object.* subscriptions of object type 0-47) with the latest
 * occurredAt the batch gives it, in the request's own transaction, and answered at once;
 * the commit asks the replica that polls the instance to poll now, and that poll fetches
 * them (hubspot_source.c). Deletions and merges of contacts are recorded as what they say
 * ("contact.deleted:<id>", "contact.merged:<id>"): the poll turns them into lead.deleted
 * and lead.merged without a fetch (hubspot_records.c). A redelivered notification records the same
 * value: it changes nothing. The webhook reads only what init() built, so it runs beside a poll
 * that waits on HubSpot (LH_PLUGIN_WEBHOOK_CONCURRENT).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strndup */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubspot.h"

#define SIGNATURE_LEN   44 /* base64 of 32 bytes */
#define METRIC_REJECTED "hubspot_webhook_rejected_total"

static int hex_digit(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

char *hubspot_signature_uri(const char *webhook_url, const char *query)
{
    static const char decoded[] = ":/?@!$'()*,;";
    size_t url_len = strlen(webhook_url);
    size_t query_len = query != NULL ? strlen(query) : 0;
    char *out = malloc(url_len + query_len + 2);
    if (out == NULL) {
        return NULL;
    }
    char *joined = malloc(url_len + query_len + 2);
    if (joined == NULL) {
        free(out);
        return NULL;
    }
    memcpy(joined, webhook_url, url_len);
    size_t len = url_len;
    if (query_len > 0) {
        joined[len++] = '?';
        memcpy(joined + len, query, query_len);
        len += query_len;
    }
    joined[len] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < len; i++) {
        if (joined[i] == '%' && i + 2 < len && hex_digit(joined[i + 1]) >= 0 &&
            hex_digit(joined[i + 2]) >= 0) {
            char c = (char)(hex_digit(joined[i + 1]) * 16 + hex_digit(joined[i + 2]));
            if (c != '\0' && strchr(decoded, c) != NULL) {
                out[used++] = c;
                i += 2;
                continue;
            }
        }
        out[used++] = joined[i];
    }
    out[used] = '\0';
    free(joined);
    return out;
}

/* Epoch milliseconds, digits only; -1 when malformed. */
static int64_t parse_timestamp(const char *text)
{
    size_t len = strlen(text);
    if (len == 0 || len > 15) {
        return -1;
    }
    int64_t value = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return -1;
        }
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

static lh_status_t reject(struct hubspot *hs, lh_ctx_t *ctx, const char *reason,
                          const char *message)
{
    hs->host->counter_add(ctx, METRIC_REJECTED, "reason", reason, 1);
    hs->host->set_error(ctx, "%s", message);
    return LH_AUTH;
}

/* Checks the v3 signature; LH_OK, or LH_AUTH with the reason set and counted. */
static lh_status_t verify(struct hubspot *hs, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    const lh_host_t *host = hs->host;
    if (hs->webhook_secret_count == 0) {
        return reject(hs, ctx, "not_configured",
                      "webhooks are not enabled for this instance: set webhook_client_secret "
                      "and webhook_url");
    }
    const char *signature = lh_request_header(request, "X-HubSpot-Signature-v3");
    const char *timestamp_text = lh_request_header(request, "X-HubSpot-Request-Timestamp");
    if (signature == NULL) {
        if (lh_request_header(request, "X-HubSpot-Signature") != NULL) {
            return reject(hs, ctx, "legacy_signature",
                          "only X-HubSpot-Signature-v3 is accepted (v1 and v2 carry no "
                          "timestamp and can be replayed): use a webhook subscription of an "
                          "app that signs with v3");
        }
        return reject(hs, ctx, "missing_signature", "missing X-HubSpot-Signature-v3 header");
    }
    if (timestamp_text == NULL) {
        return reject(hs, ctx, "missing_timestamp", "missing X-HubSpot-Request-Timestamp header");
    }
    int64_t timestamp = parse_timestamp(timestamp_text);
    if (timestamp < 0) {
        return reject(hs, ctx, "malformed_timestamp",
                      "X-HubSpot-Request-Timestamp must be epoch milliseconds");
    }
    int64_t skew = host->now_ms(ctx) - timestamp;
    if (skew > HUBSPOT_WEBHOOK_WINDOW || -skew > HUBSPOT_WEBHOOK_WINDOW) {
        char message[160];
        snprintf(message, sizeof(message),
                 "X-HubSpot-Request-Timestamp is %lld s away from the server's clock (at "
                 "most 300 s): a replay, or a clock out of sync",
                 (long long)(skew / 1000));
        return reject(hs, ctx, "stale_timestamp", message);
    }
    if (strlen(signature) != SIGNATURE_LEN) {
        return reject(hs, ctx, "bad_signature",
                      "X-HubSpot-Signature-v3 must be the base64 of a SHA-256 HMAC");
    }
    char *uri = hubspot_signature_uri(hs->webhook_url, request->query);
    const char *method = request->method != NULL ? request->method : "POST";
    size_t method_len = strlen(method), uri_len = uri != NULL ? strlen(uri) : 0;
    size_t ts_len = strlen(timestamp_text);
    size_t source_len = method_len + uri_len + request->body_len + ts_len;
    char *source = uri != NULL ? malloc(source_len + 1) : NULL;
    if (source == NULL) {
        free(uri);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    memcpy(source, method, method_len);
    memcpy(source + method_len, uri, uri_len);
    if (request->body_len > 0) {
        memcpy(source + method_len + uri_len, request->body, request->body_len);
    }
    memcpy(source + method_len + uri_len + request->body_len, timestamp_text, ts_len);
    int matched = 0;
    for (size_t i = 0; i < hs->webhook_secret_count; i++) {
        unsigned char digest[32];
        char expected[SIGNATURE_LEN + 4];
        host->hmac_sha256(hs->webhook_secrets[i], strlen(hs->webhook_secrets[i]), source,
                          source_len, digest);
        host->base64_encode(digest, sizeof(digest), expected);
        /* every secret is tried, whatever matched: constant time */
        matched |= host->digest_equal(expected, signature, SIGNATURE_LEN);
    }
    free(source);
    free(uri);
    if (!matched) {
        return reject(hs, ctx, "bad_signature",
                      "X-HubSpot-Signature-v3 does not match (check webhook_client_secret and "
                      "that webhook_url is exactly the target URL registered in HubSpot)");
    }
    return LH_OK;
}

/* The record a merge kept: newObjectId (a merge may give the result a new id), else
 * primaryObjectId, else objectId. */
static bool merge_kept(const json_t *notification, char *id)
{
    return hubspot_id_from_json(json_object_get(notification, "newObjectId"), id) ||
           hubspot_id_from_json(json_object_get(notification, "primaryObjectId"), id) ||
           hubspot_id_from_json(json_object_get(notification, "objectId"), id);
}

/* The id of what a notification is about, for its object kind. */
static bool notification_object(const json_t *notification, const char *type, char *id)
{
    /* a merge's surviving record is the one to read */
    if (strstr(type, ".merge") != NULL) {
        return merge_kept(notification, id);
    }
    return hubspot_id_from_json(json_object_get(notification, "objectId"), id);
}

/* "contact", "deal", "meeting" (the generic object.* of type 0-47) or NULL for a
 * subscription type this connector does not fetch. */
static const char *notification_kind(const json_t *notification, const char *type)
{
    static const char *const changes[] = {".creation", ".propertyChange", ".restore", ".merge"};
    const char *dot = strchr(type, '.');
    if (dot == NULL) {
        return NULL;
    }
    bool change = false;
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        change |= strcmp(dot, changes[i]) == 0;
    }
    if (!change) {
        return NULL; /* deletions, association and privacy changes */
    }
    size_t prefix = (size_t)(dot - type);
    if (prefix == 7 && strncmp(type, "contact", 7) == 0) {
        return "contact";
    }
    if (prefix == 4 && strncmp(type, "deal", 4) == 0) {
        return "deal";
    }
    if (prefix == 6 && strncmp(type, "object", 6) == 0) {
        const char *object_type = json_string_value(json_object_get(notification, "objectTypeId"));
        if (object_type != NULL && strcmp(object_type, "0-1") == 0) {
            return "contact";
        }
        if (object_type != NULL && strcmp(object_type, "0-3") == 0) {
            return "deal";
        }
        if (object_type != NULL && strcmp(object_type, "0-47") == 0) {
            return "meeting";
        }
    }
    return NULL;
}

static bool has_integer(const json_t *array, json_int_t value)
{
    size_t i;
    const json_t *item;
    json_array_foreach(array, i, item)
    {
        if (json_is_integer(item) && json_integer_value(item) == value) {
            return true;
        }
    }
    return false;
}

void hubspot_notifications_clear(struct hubspot_notifications *notifications)
{
    json_decref(notifications->records);
    memset(notifications, 0, sizeof(*notifications));
}

/* Records kind:id with the later of its occurredAt and the one recorded; -1 when out of
 * memory. */
static int record(json_t *records, const char *kind, const char *id, const json_t *occurred_at)
{
    char key[HUBSPOT_ID_MAX + 16];
    snprintf(key, sizeof(key), "%s:%s", kind, id);
    json_int_t at = json_is_integer(occurred_at) && json_integer_value(occurred_at) > 0
                        ? json_integer_value(occurred_at)
                        : 0;
    const json_t *known = json_object_get(records, key);
    if (known != NULL && json_integer_value(json_object_get(known, "at")) >= at) {
        return 0;
    }
    return json_object_set_new(records, key, json_pack("{s:I}", "at", at));
}

/* occurredAt, or 0 when absent or not a positive integer. */
static json_int_t occurred_at(const json_t *notification)
{
    const json_t *at = json_object_get(notification, "occurredAt");
    return json_is_integer(at) && json_integer_value(at) > 0 ? json_integer_value(at) : 0;
}

/*
 * What a contact.deletion / contact.privacyDeletion / contact.merge (or the object.* of
 * type 0-1 alike) says of the records themselves, recorded for the poll to turn into lead.deleted /
 * lead.merged (hubspot_records.c): "contact.deleted:<id>" {"at", "privacy"} and, per record a merge
 * took away, "contact.merged:<id>" {"at", "into": the record kept}. Keyed by the record
 * gone, so that no two notifications overwrite each other's. 1 when recorded, 0 when the
 * notification is none of these, -1 when out of memory.
 */
static int record_contact_change(json_t *records, const json_t *notification, const char *type)
{
    char id[HUBSPOT_ID_MAX], key[HUBSPOT_ID_MAX + 24];
    json_int_t at = occurred_at(notification);
    /* the generic object.* subscriptions say the same of contacts (object type 0-1) */
    const char *object_type = json_string_value(json_object_get(notification, "objectTypeId"));
    if (strncmp(type, "object.", 7) == 0 && object_type != NULL &&
        strcmp(object_type, "0-1") == 0) {
        type = strcmp(type, "object.deletion") == 0          ? "contact.deletion"
               : strcmp(type, "object.privacyDeletion") == 0 ? "contact.privacyDeletion"
               : strcmp(type, "object.merge") == 0           ? "contact.merge"
                                                             : type;
    }
    bool privacy = strcmp(type, "contact.privacyDeletion") == 0;
    if (privacy || strcmp(type, "contact.deletion") == 0) {
        if (!hubspot_id_from_json(json_object_get(notification, "objectId"), id)) {
            return 0;
        }
        snprintf(key, sizeof(key), "contact.deleted:%s", id);
        return json_object_set_new(records, key,
                                   json_pack("{s:I, s:b}", "at", at, "privacy", privacy)) == 0
                   ? 1
                   : -1;
    }
    if (strcmp(type, "contact.merge") != 0) {
        return 0;
    }
    char kept[HUBSPOT_ID_MAX];
    if (!merge_kept(notification, kept)) {
        return 0;
    }
    /* the records taken away: mergedObjectIds, and the primary when the result is new */
    json_t *gone = json_array();
    json_array_extend(gone, json_object_get(notification, "mergedObjectIds"));
    json_array_append(gone, json_object_get(notification, "primaryObjectId"));
    size_t i;
    const json_t *item;
    int rc = gone != NULL ? 0 : -1;
    json_array_foreach(gone, i, item)
    {
        if (rc < 0 || !hubspot_id_from_json(item, id) || strcmp(id, kept) == 0) {
            continue;
        }
        snprintf(key, sizeof(key), "contact.merged:%s", id);
        rc = json_object_set_new(records, key, json_pack("{s:I, s:s}", "at", at, "into", kept)) == 0
                 ? 0
                 : -1;
    }
    json_decref(gone);
    return rc;
}

int hubspot_notifications_parse(const char *body, size_t len, struct hubspot_notifications *out,
                                char **error_out)
{
    memset(out, 0, sizeof(*out));
    *error_out = NULL;
    json_error_t error;
    json_t *parsed = json_loadb(body, len, 0, &error);
    if (parsed == NULL) {
        char text[256];
        snprintf(text, sizeof(text), "body is not JSON: %s (line %d, column %d)", error.text,
                 error.line, error.column);
        *error_out = strdup(text);
        return -1;
    }
    if (!json_is_array(parsed)) {
        json_decref(parsed);
        *error_out = strdup("body must be a JSON array of HubSpot notifications");
        return -1;
    }
    out->records = json_object();
    json_t *event_ids = json_array();
    if (out->records == NULL || event_ids == NULL) {
        json_decref(parsed);
        json_decref(event_ids);
        hubspot_notifications_clear(out);
        *error_out = strdup("out of memory");
        return -1;
    }
    size_t i;
    const json_t *notification;
    json_array_foreach(parsed, i, notification)
    {
        out->count++;
        const char *type = json_string_value(json_object_get(notification, "subscriptionType"));
        const json_t *event_id = json_object_get(notification, "eventId");
        if (json_is_integer(event_id)) {
            json_int_t value = json_integer_value(event_id);
            if (has_integer(event_ids, value)) {
                out->duplicates++;
                continue;
            }
            json_array_append_new(event_ids, json_integer(value));
        }
        const char *kind = type != NULL ? notification_kind(notification, type) : NULL;
        char id[HUBSPOT_ID_MAX];
        int changed = type != NULL ? record_contact_change(out->records, notification, type) : 0;
        if (changed == 0 && (kind == NULL || !notification_object(notification, type, id))) {
            out->ignored++;
            continue;
        }
        /* a merge also has its kept record read again (the properties it took) */
        if (changed < 0 ||
            (kind != NULL && notification_object(notification, type, id) &&
             record(out->records, kind, id, json_object_get(notification, "occurredAt")) != 0)) {
            json_decref(parsed);
            json_decref(event_ids);
            hubspot_notifications_clear(out);
            *error_out = strdup("out of memory");
            return -1;
        }
    }
    json_decref(parsed);
    json_decref(event_ids);
    return 0;
}

lh_status_t hubspot_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    struct hubspot *hs = state;
    const lh_host_t *host = hs->host;
    lh_status_t status = verify(hs, ctx, request);
    if (status != LH_OK) {
        return status;
    }
    struct hubspot_notifications notifications;
    char *error = NULL;
    if (hubspot_notifications_parse((const char *)request->body, request->body_len, &notifications,
                                    &error) != 0) {
        host->counter_add(ctx, METRIC_REJECTED, "reason", "malformed_body", 1);
        host->set_error(ctx, "%s", error != NULL ? error : "malformed body");
        free(error);
        return LH_PERMANENT;
    }
    host->counter_add(ctx, "hubspot_webhook_notifications_total", "outcome", "received",
                      (double)notifications.count);
    if (notifications.duplicates > 0) {
        host->counter_add(ctx, "hubspot_webhook_notifications_total", "outcome", "duplicate",
                          (double)notifications.duplicates);
    }
    if (notifications.ignored > 0) {
        host->counter_add(ctx, "hubspot_webhook_notifications_total", "outcome", "ignored",
                          (double)notifications.ignored);
    }
    /* recorded in this request's transaction: the answer goes out once they are stored */
    const char *key;
    json_t *value;
    json_object_foreach(notifications.records, key, value)
    {
        status = host->notification_put(ctx, key, json_incref(value));
        if (status != LH_OK) {
            break;
        }
    }
    hubspot_notifications_clear(&notifications);
    return status;
}
