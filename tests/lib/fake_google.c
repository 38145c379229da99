/* fake_google.c - see fake_google.h. */
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "fake_google.h"
#include "util.h"

#define HISTORY_START 4821000ULL
#define PAGE_MAX      500
#define BODY_MAX      65536

struct fake_google {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mutex;
    char *address;
    char *refresh_token;
    bool revoked;
    json_t *live_tokens; /* object: token -> true */
    unsigned issued;
    json_t *messages; /* arrival order */
    unsigned long long history_id;
    unsigned long long oldest_history;
    size_t page_size;
    json_t *calendars; /* id -> array of events */
    unsigned long long calendar_version;
    unsigned sync_epoch;
    double quota_rate;
    bool quota_403;
    double quota_units;
    long long quota_at_ms;
    size_t quota_refusals;
    double spent;
    size_t throttle_next;
    json_t *requests; /* [[method, url]] */
    char *jwks;
    char *delegation_key; /* PEM public key */
    char *delegation_issuer;
};

struct upload {
    char *data;
    size_t len;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *google_error(int code, const char *reason, const char *message, const char *domain)
{
    json_t *e =
        json_pack("{s:{s:i, s:s, s:[{s:s, s:s, s:s}]}}", "error", "code", code, "message", message,
                  "errors", "message", message, "domain", domain, "reason", reason);
    char *text = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return text;
}

/* Query arguments, every value of repeated ones. */
struct args {
    json_t *all; /* name -> [values] */
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
    (void)kind;
    struct args *a = cls;
    json_t *list = json_object_get(a->all, key);
    if (list == NULL) {
        list = json_array();
        json_object_set_new(a->all, key, list);
    }
    json_array_append_new(list, json_string(value != NULL ? value : ""));
    return MHD_YES;
}

static const char *arg(const struct args *a, const char *name)
{
    return json_string_value(json_array_get(json_object_get(a->all, name), 0));
}

static size_t page_limit(const struct fake_google *g, const struct args *a, size_t fallback)
{
    const char *max = arg(a, "maxResults");
    size_t n = max != NULL ? (size_t)strtoul(max, NULL, 10) : fallback;
    n = n == 0 || n > PAGE_MAX ? fallback : n;
    return g->page_size > 0 && g->page_size < n ? g->page_size : n;
}

static size_t page_offset(const struct args *a)
{
    const char *token = arg(a, "pageToken");
    return token != NULL ? (size_t)strtoul(token + (strncmp(token, "p", 1) == 0), NULL, 10) : 0;
}

/* Quota cost of a request, Gmail's table; Calendar is not metered here. */
static double cost_of(const char *method, const char *url)
{
    if (strncmp(url, "/gmail/v1/users/me/", 19) != 0) {
        return 0;
    }
    const char *rest = url + 19;
    if (strncmp(rest, "messages/", 9) == 0) {
        return 5;
    }
    if (strncmp(rest, "messages", 8) == 0) {
        return 5;
    }
    if (strncmp(rest, "threads/", 8) == 0) {
        return 10;
    }
    if (strncmp(rest, "history", 7) == 0) {
        return 2;
    }
    if (strncmp(rest, "watch", 5) == 0 && strcmp(method, "POST") == 0) {
        return 100;
    }
    return 1;
}

/* Charges the meter; false when the budget is spent (the request is refused). */
static bool quota_charge(struct fake_google *g, double cost)
{
    if (cost <= 0) {
        return true;
    }
    if (g->quota_rate <= 0) {
        g->spent += cost;
        return true;
    }
    long long now = now_ms();
    g->quota_units += (double)(now - g->quota_at_ms) * g->quota_rate / 1000.0;
    if (g->quota_units > g->quota_rate) {
        g->quota_units = g->quota_rate; /* one second's worth: Google's per-minute limit
                                           enforced per second, stricter than Google */
    }
    g->quota_at_ms = now;
    if (g->quota_units < cost) {
        g->quota_refusals++;
        return false;
    }
    g->quota_units -= cost;
    g->spent += cost;
    return true;
}

static json_t *find_message(const struct fake_google *g, const char *id)
{
    size_t i;
    json_t *m;
    json_array_foreach(g->messages, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "id")), id) == 0) {
            return m;
        }
    }
    return NULL;
}

/* The message as format=metadata shows it, with only the headers asked for. */
static json_t *metadata_view(const json_t *m, const json_t *wanted)
{
    json_t *view = json_deep_copy(m);
    json_t *headers = json_object_get(json_object_get(view, "payload"), "headers");
    if (json_array_size(wanted) > 0) {
        json_t *kept = json_array();
        size_t i;
        json_t *h;
        json_array_foreach(headers, i, h)
        {
            size_t k;
            json_t *w;
            json_array_foreach(wanted, k, w)
            {
                if (strcasecmp(json_string_value(w),
                               json_string_value(json_object_get(h, "name"))) == 0) {
                    json_array_append(kept, h);
                    break;
                }
            }
        }
        json_object_set_new(json_object_get(view, "payload"), "headers", kept);
    }
    return view;
}

static int by_date_desc(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a;
    const json_t *y = *(json_t *const *)b;
    long long dx = strtoll(json_string_value(json_object_get(x, "internalDate")), NULL, 10);
    long long dy = strtoll(json_string_value(json_object_get(y, "internalDate")), NULL, 10);
    return dx < dy ? 1 : dx > dy ? -1 : 0;
}

static char *list_messages(struct fake_google *g, const struct args *a)
{
    size_t n = json_array_size(g->messages);
    json_t **sorted = calloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++) {
        sorted[i] = json_array_get(g->messages, i);
    }
    qsort(sorted, n, sizeof(*sorted), by_date_desc);
    size_t offset = page_offset(a);
    size_t limit = page_limit(g, a, 100);
    json_t *out = json_object();
    json_t *list = json_array();
    for (size_t i = offset; i < n && i < offset + limit; i++) {
        json_array_append_new(list, json_pack("{s:O, s:O}", "id", json_object_get(sorted[i], "id"),
                                              "threadId", json_object_get(sorted[i], "threadId")));
    }
    json_object_set_new(out, "messages", list);
    if (offset + limit < n) {
        char next[32];
        snprintf(next, sizeof(next), "p%zu", offset + limit);
        json_object_set_new(out, "nextPageToken", json_string(next));
    }
    json_object_set_new(out, "resultSizeEstimate", json_integer((json_int_t)n));
    free(sorted);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

static char *list_history(struct fake_google *g, const struct args *a, int *status)
{
    const char *start_text = arg(a, "startHistoryId");
    if (start_text == NULL) {
        *status = 400;
        return google_error(400, "invalidArgument", "startHistoryId is required", "global");
    }
    unsigned long long start = strtoull(start_text, NULL, 10);
    if (start < g->oldest_history || start > g->history_id) {
        *status = 404;
        return google_error(404, "notFound", "Requested entity was not found.", "global");
    }
    json_t *records = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(g->messages, i, m)
    {
        unsigned long long id =
            strtoull(json_string_value(json_object_get(m, "historyId")), NULL, 10);
        if (id > start) {
            json_t *brief = json_pack("{s:O, s:O, s:O}", "id", json_object_get(m, "id"), "threadId",
                                      json_object_get(m, "threadId"), "labelIds",
                                      json_object_get(m, "labelIds"));
            json_array_append_new(records, json_pack("{s:O, s:[{s:O, s:O}], s:[{s:o}]}", "id",
                                                     json_object_get(m, "historyId"), "messages",
                                                     "id", json_object_get(m, "id"), "threadId",
                                                     json_object_get(m, "threadId"),
                                                     "messagesAdded", "message", brief));
        }
    }
    size_t offset = page_offset(a);
    size_t limit = page_limit(g, a, 100);
    json_t *page = json_array();
    for (size_t k = offset; k < json_array_size(records) && k < offset + limit; k++) {
        json_array_append(page, json_array_get(records, k));
    }
    char current[32];
    snprintf(current, sizeof(current), "%llu", g->history_id);
    json_t *out = json_pack("{s:o, s:s}", "history", page, "historyId", current);
    if (offset + limit < json_array_size(records)) {
        char next[32];
        snprintf(next, sizeof(next), "p%zu", offset + limit);
        json_object_set_new(out, "nextPageToken", json_string(next));
    }
    json_decref(records);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

static char *get_thread(struct fake_google *g, const char *id, const struct args *a, int *status)
{
    json_t *wanted = json_object_get(a->all, "metadataHeaders");
    json_t *messages = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(g->messages, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "threadId")), id) == 0) {
            json_array_append_new(messages, metadata_view(m, wanted));
        }
    }
    if (json_array_size(messages) == 0) {
        json_decref(messages);
        *status = 404;
        return google_error(404, "notFound", "Requested entity was not found.", "global");
    }
    json_t *out = json_pack("{s:s, s:o}", "id", id, "messages", messages);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

static char *sync_token(const struct fake_google *g)
{
    return util_printf("st-%u-%llu", g->sync_epoch, g->calendar_version);
}

static char *list_events(struct fake_google *g, const char *calendar, const struct args *a,
                         int *status)
{
    json_t *events = json_object_get(g->calendars, calendar);
    unsigned long long since = 0;
    bool incremental = false;
    const char *token = arg(a, "syncToken");
    if (token != NULL) {
        unsigned epoch = 0;
        if (sscanf(token, "st-%u-%llu", &epoch, &since) != 2 || epoch != g->sync_epoch) {
            *status = 410;
            json_t *e =
                json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:s}], s:i, s:s}}", "error", "errors",
                          "domain", "calendar", "reason", "fullSyncRequired", "message",
                          "Sync token is no longer valid, a full sync is required.", "locationType",
                          "parameter", "location", "syncToken", "code", 410, "message",
                          "Sync token is no longer valid, a full sync is required.");
            char *text = json_dumps(e, JSON_COMPACT);
            json_decref(e);
            return text;
        }
        incremental = true;
    }
    json_t *selected = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        unsigned long long v = (unsigned long long)json_integer_value(json_object_get(e, "_v"));
        bool cancelled = strcmp(json_string_value(json_object_get(e, "status")), "cancelled") == 0;
        const char *deleted = arg(a, "showDeleted");
        bool show_deleted = deleted != NULL && strcmp(deleted, "true") == 0;
        if (incremental ? v > since : (show_deleted || !cancelled)) {
            json_t *copy = json_deep_copy(e);
            json_object_del(copy, "_v");
            json_array_append_new(selected, copy);
        }
    }
    size_t offset = page_offset(a);
    size_t limit = page_limit(g, a, 250);
    json_t *page = json_array();
    for (size_t k = offset; k < json_array_size(selected) && k < offset + limit; k++) {
        json_array_append(page, json_array_get(selected, k));
    }
    json_t *out = json_pack("{s:s, s:s, s:s, s:o}", "kind", "calendar#events", "summary",
                            g->address, "timeZone", "America/New_York", "items", page);
    if (offset + limit < json_array_size(selected)) {
        char next[32];
        snprintf(next, sizeof(next), "p%zu", offset + limit);
        json_object_set_new(out, "nextPageToken", json_string(next));
    } else {
        char *t = sync_token(g);
        json_object_set_new(out, "nextSyncToken", json_string(t));
        free(t);
    }
    json_decref(selected);
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return text;
}

/* application/x-www-form-urlencoded value of name (malloc'd) or NULL. */
static char *form_value(const char *body, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *p = body; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            char *out = malloc(len + 1);
            size_t used = 0;
            for (size_t i = name_len + 1; i < len; i++) {
                if (p[i] == '%' && i + 2 < len + 1) {
                    char hex[3] = {p[i + 1], p[i + 2], 0};
                    out[used++] = (char)strtol(hex, NULL, 16);
                    i += 2;
                } else {
                    out[used++] = p[i] == '+' ? ' ' : p[i];
                }
            }
            out[used] = '\0';
            return out;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static unsigned char *b64url_decode(const char *text, size_t len, size_t *out_len)
{
    char *std = malloc(len + 4);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        std[n++] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    }
    size_t pad = 0;
    while (n % 4 != 0) {
        std[n++] = '=';
        pad++;
    }
    unsigned char *out = malloc(n + 1);
    int got = EVP_DecodeBlock(out, (const unsigned char *)std, (int)n);
    free(std);
    if (got < 0 || (size_t)got < pad) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)got - pad;
    return out;
}

static const char *text_or_empty(const json_t *value)
{
    const char *text = json_string_value(value);
    return text != NULL ? text : "";
}

/* Whether a jwt-bearer assertion is what Google accepts for this mailbox (mutex held). */
static bool assertion_ok(struct fake_google *g, const char *assertion)
{
    const char *dot1 = strchr(assertion, '.');
    const char *dot2 = dot1 != NULL ? strchr(dot1 + 1, '.') : NULL;
    if (dot2 == NULL || g->delegation_key == NULL) {
        return false;
    }
    size_t sig_len = 0, claims_len = 0;
    unsigned char *sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig_len);
    unsigned char *raw = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &claims_len);
    BIO *bio = BIO_new_mem_buf(g->delegation_key, -1);
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = sig != NULL && raw != NULL && key != NULL &&
              EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
              EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)assertion,
                               (size_t)(dot2 - assertion)) == 1;
    json_t *claims = ok ? json_loadb((const char *)raw, claims_len, 0, NULL) : NULL;
    char *aud = util_printf("http://127.0.0.1:%d/token", g->port);
    const char *scope = json_string_value(json_object_get(claims, "scope"));
    long long iat = json_integer_value(json_object_get(claims, "iat"));
    long long exp = json_integer_value(json_object_get(claims, "exp"));
    ok = ok && claims != NULL &&
         strcmp(text_or_empty(json_object_get(claims, "iss")), g->delegation_issuer) == 0 &&
         strcmp(text_or_empty(json_object_get(claims, "sub")), g->address) == 0 &&
         strcmp(text_or_empty(json_object_get(claims, "aud")), aud) == 0 && scope != NULL &&
         strstr(scope, "gmail") != NULL && exp > iat && exp - iat <= 3600 &&
         exp > (long long)time(NULL);
    free(aud);
    json_decref(claims);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    BIO_free(bio);
    free(raw);
    free(sig);
    return ok;
}

static char *issue_token(struct fake_google *g)
{
    char *token = util_printf("g-at-%u", ++g->issued);
    json_object_set_new(g->live_tokens, token, json_true());
    json_t *out = json_pack("{s:s, s:i, s:s}", "access_token", token, "expires_in", 3599,
                            "token_type", "Bearer");
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    free(token);
    return text;
}

static char *token_endpoint(struct fake_google *g, const char *body, int *status)
{
    char *grant = form_value(body, "grant_type");
    char *refresh = form_value(body, "refresh_token");
    char *text = NULL;
    if (grant != NULL && strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") == 0) {
        char *assertion = form_value(body, "assertion");
        if (assertion != NULL && !g->revoked && assertion_ok(g, assertion)) {
            text = issue_token(g);
        } else {
            *status = 400;
            text = strdup("{\"error\":\"invalid_grant\",\"error_description\":\"Invalid JWT "
                          "Signature.\"}");
        }
        free(assertion);
    } else if (grant == NULL || strcmp(grant, "refresh_token") != 0) {
        *status = 400;
        text = strdup("{\"error\":\"unsupported_grant_type\",\"error_description\":\"Invalid "
                      "grant_type\"}");
    } else if (g->revoked || refresh == NULL || strcmp(refresh, g->refresh_token) != 0) {
        *status = 400;
        text = strdup("{\"error\":\"invalid_grant\",\"error_description\":\"Token has been "
                      "expired or revoked.\"}");
    } else {
        char *token = util_printf("g-at-%u", ++g->issued);
        json_object_set_new(g->live_tokens, token, json_true());
        json_t *out =
            json_pack("{s:s, s:i, s:s, s:s}", "access_token", token, "expires_in", 3599, "scope",
                      "https://www.googleapis.com/auth/gmail.metadata "
                      "https://www.googleapis.com/auth/calendar.readonly",
                      "token_type", "Bearer");
        text = json_dumps(out, JSON_COMPACT);
        json_decref(out);
        free(token);
    }
    free(grant);
    free(refresh);
    return text;
}

static bool authorized(const struct fake_google *g, const char *authorization)
{
    return authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0 &&
           json_object_get(g->live_tokens, authorization + 7) != NULL;
}

/* Routes one request (mutex held). */
static char *route(struct fake_google *g, const char *method, const char *url, const char *body,
                   const char *authorization, const struct args *a, int *status)
{
    *status = 200;
    if (strcmp(url, "/token") == 0 && strcmp(method, "POST") == 0) {
        return token_endpoint(g, body, status);
    }
    if (strcmp(url, "/oauth2/v3/certs") == 0 && g->jwks != NULL) {
        return strdup(g->jwks);
    }
    if (!authorized(g, authorization)) {
        *status = 401;
        return google_error(401, "authError", "Invalid Credentials", "global");
    }
    if (g->throttle_next > 0) {
        g->throttle_next--;
        *status = 429;
        return google_error(429, "rateLimitExceeded", "Too many concurrent requests for user",
                            "usageLimits");
    }
    if (!quota_charge(g, cost_of(method, url))) {
        *status = g->quota_403 ? 403 : 429;
        return g->quota_403
                   ? google_error(403, "userRateLimitExceeded", "User Rate Limit Exceeded",
                                  "usageLimits")
                   : google_error(429, "rateLimitExceeded", "Quota exceeded", "usageLimits");
    }
    const char *gmail = "/gmail/v1/users/me/";
    if (strncmp(url, gmail, strlen(gmail)) == 0) {
        const char *rest = url + strlen(gmail);
        if (strcmp(rest, "profile") == 0) {
            json_t *out = json_pack("{s:s, s:I}", "emailAddress", g->address, "messagesTotal",
                                    (json_int_t)json_array_size(g->messages));
            char id[32];
            snprintf(id, sizeof(id), "%llu", g->history_id);
            json_object_set_new(out, "historyId", json_string(id));
            char *text = json_dumps(out, JSON_COMPACT);
            json_decref(out);
            return text;
        }
        if (strcmp(rest, "settings/sendAs") == 0) {
            json_t *out =
                json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "sendAs", "sendAsEmail", g->address,
                          "isPrimary", 1, "sendAsEmail", "alias@leadhub-demo.com", "isPrimary", 0);
            char *text = json_dumps(out, JSON_COMPACT);
            json_decref(out);
            return text;
        }
        if (strcmp(rest, "messages") == 0) {
            return list_messages(g, a);
        }
        if (strncmp(rest, "messages/", 9) == 0) {
            json_t *m = find_message(g, rest + 9);
            if (m == NULL) {
                *status = 404;
                return google_error(404, "notFound", "Requested entity was not found.", "global");
            }
            json_t *view = metadata_view(m, json_object_get(a->all, "metadataHeaders"));
            char *text = json_dumps(view, JSON_COMPACT);
            json_decref(view);
            return text;
        }
        if (strncmp(rest, "threads/", 8) == 0) {
            return get_thread(g, rest + 8, a, status);
        }
        if (strcmp(rest, "history") == 0) {
            return list_history(g, a, status);
        }
        if (strcmp(rest, "watch") == 0 && strcmp(method, "POST") == 0) {
            return util_printf("{\"historyId\":\"%llu\",\"expiration\":\"%lld\"}", g->history_id,
                               (long long)time(NULL) * 1000 + 7LL * 86400000);
        }
    }
    if (strcmp(url, "/calendar/v3/channels/stop") == 0 && strcmp(method, "POST") == 0) {
        *status = 204;
        return strdup("");
    }
    const char *calendar = "/calendar/v3/calendars/";
    if (strncmp(url, calendar, strlen(calendar)) == 0) {
        const char *id = url + strlen(calendar);
        const char *slash = strchr(id, '/');
        if (slash != NULL && strcmp(slash, "/events/watch") == 0 && strcmp(method, "POST") == 0) {
            json_t *request = json_loads(body, 0, NULL);
            const char *channel = json_string_value(json_object_get(request, "id"));
            const char *token = json_string_value(json_object_get(request, "token"));
            json_t *out = json_pack("{s:s, s:s?, s:s, s:s?, s:s}", "kind", "api#channel", "id",
                                    channel, "resourceId", "o3hgv1538sdjfh_Kq9sAIrYtEw", "token",
                                    token, "expiration", "4102444800000");
            json_decref(request);
            char *text = json_dumps(out, JSON_COMPACT);
            json_decref(out);
            return text;
        }
        if (slash != NULL && strcmp(slash, "/events") == 0) {
            char *cal = strndup(id, (size_t)(slash - id));
            char *text = list_events(g, cal, a, status);
            free(cal);
            return text;
        }
    }
    *status = 404;
    return google_error(404, "notFound", "Not Found", "global");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    struct fake_google *g = cls;
    struct upload *u = *con_cls;
    if (u == NULL) {
        u = calloc(1, sizeof(*u));
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (u->len + *upload_size < BODY_MAX) {
            char *grown = realloc(u->data, u->len + *upload_size + 1);
            if (grown != NULL) {
                u->data = grown;
                memcpy(u->data + u->len, upload, *upload_size);
                u->len += *upload_size;
                u->data[u->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct args a = {json_object()};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, on_arg, &a);
    const char *authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
    int status = 200;
    pthread_mutex_lock(&g->mutex);
    json_array_append_new(g->requests, json_pack("[s, s]", method, url));
    char *body = route(g, method, url, u->data != NULL ? u->data : "", authorization, &a, &status);
    pthread_mutex_unlock(&g->mutex);
    json_decref(a.all);
    struct MHD_Response *response = MHD_create_response_from_buffer(
        body != NULL ? strlen(body) : 0, body != NULL ? body : "", MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "application/json; charset=UTF-8");
    if (strcmp(url, "/oauth2/v3/certs") == 0) {
        MHD_add_response_header(response, "Cache-Control", "public, max-age=3600");
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)status, response);
    MHD_destroy_response(response);
    free(body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct upload *u = *con_cls;
    if (u != NULL) {
        free(u->data);
        free(u);
    }
    *con_cls = NULL;
}

struct fake_google *fake_google_start(const char *address, const char *refresh_token)
{
    struct fake_google *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        return NULL;
    }
    pthread_mutex_init(&g->mutex, NULL);
    g->address = strdup(address);
    g->refresh_token = strdup(refresh_token);
    g->live_tokens = json_object();
    g->messages = json_array();
    g->calendars = json_object();
    g->requests = json_array();
    g->history_id = HISTORY_START;
    g->oldest_history = HISTORY_START;
    g->quota_at_ms = now_ms();
    g->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, g, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                              g, MHD_OPTION_END);
    if (g->mhd == NULL) {
        fake_google_stop(g);
        return NULL;
    }
    g->port = MHD_get_daemon_info(g->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return g;
}

void fake_google_stop(struct fake_google *g)
{
    if (g == NULL) {
        return;
    }
    if (g->mhd != NULL) {
        MHD_stop_daemon(g->mhd);
    }
    json_decref(g->live_tokens);
    json_decref(g->messages);
    json_decref(g->calendars);
    json_decref(g->requests);
    free(g->address);
    free(g->refresh_token);
    free(g->jwks);
    free(g->delegation_key);
    free(g->delegation_issuer);
    pthread_mutex_destroy(&g->mutex);
    free(g);
}

char *fake_google_url(const struct fake_google *g, const char *path)
{
    return util_printf("http://127.0.0.1:%d%s", g->port, path);
}

unsigned long long fake_google_add_message(struct fake_google *g, const char *id,
                                           const char *thread_id, const char *labels,
                                           long long internal_date_ms, const char *headers)
{
    json_t *header_list = json_array();
    char *copy = strdup(headers);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(line, ':');
        if (colon != NULL) {
            *colon = '\0';
            const char *value = colon + 1 + (colon[1] == ' ');
            json_array_append_new(header_list,
                                  json_pack("{s:s, s:s}", "name", line, "value", value));
        }
    }
    free(copy);
    json_t *label_list = json_array();
    copy = strdup(labels);
    for (char *label = strtok_r(copy, ",", &save); label != NULL;
         label = strtok_r(NULL, ",", &save)) {
        json_array_append_new(label_list, json_string(label));
    }
    free(copy);
    pthread_mutex_lock(&g->mutex);
    g->history_id += 7; /* increasing, not contiguous */
    char history[32], date[32];
    snprintf(history, sizeof(history), "%llu", g->history_id);
    snprintf(date, sizeof(date), "%lld", internal_date_ms);
    json_array_append_new(
        g->messages, json_pack("{s:s, s:s, s:o, s:s, s:{s:s, s:o}, s:i, s:s, s:s}", "id", id,
                               "threadId", thread_id, "labelIds", label_list, "snippet",
                               "Hi Maya, we&#39;re evaluating pipeline tools", "payload",
                               "mimeType", "multipart/alternative", "headers", header_list,
                               "sizeEstimate", 6142, "historyId", history, "internalDate", date));
    unsigned long long result = g->history_id;
    pthread_mutex_unlock(&g->mutex);
    return result;
}

void fake_google_expire_history(struct fake_google *g)
{
    pthread_mutex_lock(&g->mutex);
    g->history_id += 7; /* a change that is no message: the profile moves on */
    g->oldest_history = g->history_id;
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_page_size(struct fake_google *g, size_t n)
{
    pthread_mutex_lock(&g->mutex);
    g->page_size = n;
    pthread_mutex_unlock(&g->mutex);
}

static json_t *calendar_events(struct fake_google *g, const char *calendar_id)
{
    json_t *events = json_object_get(g->calendars, calendar_id);
    if (events == NULL) {
        events = json_array();
        json_object_set_new(g->calendars, calendar_id, events);
    }
    return events;
}

/* Replaces the event with the same id, or appends; stamps version and updated. */
static void store_event(struct fake_google *g, const char *calendar_id, json_t *event)
{
    g->calendar_version++;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char updated[40];
    size_t n = strftime(updated, sizeof(updated), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(updated + n, sizeof(updated) - n, ".%03lluZ", g->calendar_version % 1000);
    json_object_set_new(event, "updated", json_string(updated));
    json_object_set_new(event, "_v", json_integer((json_int_t)g->calendar_version));
    json_t *events = calendar_events(g, calendar_id);
    const char *id = json_string_value(json_object_get(event, "id"));
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0) {
            json_array_remove(events, i);
            break;
        }
    }
    json_array_append_new(events, event);
}

void fake_google_put_event(struct fake_google *g, const char *calendar_id, json_t *event)
{
    pthread_mutex_lock(&g->mutex);
    if (json_object_get(event, "status") == NULL) {
        json_object_set_new(event, "status", json_string("confirmed"));
    }
    store_event(g, calendar_id, event);
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_cancel_event(struct fake_google *g, const char *calendar_id, const char *id)
{
    pthread_mutex_lock(&g->mutex);
    store_event(
        g, calendar_id,
        json_pack("{s:s, s:s, s:s}", "kind", "calendar#event", "id", id, "status", "cancelled"));
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_expire_sync_tokens(struct fake_google *g)
{
    pthread_mutex_lock(&g->mutex);
    g->sync_epoch++;
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_quota(struct fake_google *g, double units_per_second, bool forbidden_403)
{
    pthread_mutex_lock(&g->mutex);
    g->quota_rate = units_per_second;
    g->quota_403 = forbidden_403;
    g->quota_units = units_per_second;
    g->quota_at_ms = now_ms();
    pthread_mutex_unlock(&g->mutex);
}

size_t fake_google_quota_refusals(struct fake_google *g)
{
    pthread_mutex_lock(&g->mutex);
    size_t n = g->quota_refusals;
    pthread_mutex_unlock(&g->mutex);
    return n;
}

double fake_google_units_spent(struct fake_google *g)
{
    pthread_mutex_lock(&g->mutex);
    double n = g->spent;
    pthread_mutex_unlock(&g->mutex);
    return n;
}

void fake_google_throttle_next(struct fake_google *g, size_t n)
{
    pthread_mutex_lock(&g->mutex);
    g->throttle_next = n;
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_revoke(struct fake_google *g)
{
    pthread_mutex_lock(&g->mutex);
    g->revoked = true;
    json_object_clear(g->live_tokens);
    pthread_mutex_unlock(&g->mutex);
}

size_t fake_google_count(struct fake_google *g, const char *method, const char *prefix)
{
    pthread_mutex_lock(&g->mutex);
    size_t n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(g->requests, i, r)
    {
        const char *m = json_string_value(json_array_get(r, 0));
        const char *u = json_string_value(json_array_get(r, 1));
        if ((method == NULL || strcmp(m, method) == 0) && strncmp(u, prefix, strlen(prefix)) == 0) {
            n++;
        }
    }
    pthread_mutex_unlock(&g->mutex);
    return n;
}

void fake_google_set_jwks(struct fake_google *g, const char *jwks)
{
    pthread_mutex_lock(&g->mutex);
    free(g->jwks);
    g->jwks = strdup(jwks);
    pthread_mutex_unlock(&g->mutex);
}

void fake_google_delegation(struct fake_google *g, const char *public_key_pem, const char *issuer)
{
    pthread_mutex_lock(&g->mutex);
    free(g->delegation_key);
    free(g->delegation_issuer);
    g->delegation_key = strdup(public_key_pem);
    g->delegation_issuer = strdup(issuer);
    pthread_mutex_unlock(&g->mutex);
}
