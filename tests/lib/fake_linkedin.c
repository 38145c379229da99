/* fake_linkedin.c - see fake_linkedin.h. */
#include <check.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "fake_linkedin.h"
#include "http_client.h"
#include "util.h"

#define ACCOUNT_URN  "urn:li:sponsoredAccount:"
#define RESPONSE_URN "urn:li:leadGenFormResponse:"

struct upload {
    bool started;
    char *raw_uri;
    struct strbuf body;
};

struct fake_linkedin {
    struct MHD_Daemon *mhd;
    int port;
    struct fake_oauth *idp;
    char *client_secret;
    pthread_mutex_t mutex;
    json_t *forms;         /* id text -> form */
    json_t *responses;     /* id -> response */
    json_t *subscriptions; /* request bodies */
    char oldest[8];        /* "" : every version */
    bool daily_limit;
    bool forbidden;
    int finder_delay_ms;
    struct fake_request *received;
    int *statuses;
    size_t received_count;
    int next_subscription;
};

struct answer {
    int status;
    char *body;
    char *restli_id;
};

static struct answer error_answer(int status, const char *code, const char *message)
{
    json_t *body = json_pack("{s:i, s:s}", "status", status, "message", message);
    if (code != NULL) {
        json_object_set_new(body, "code", json_string(code));
    }
    if (status == 401) {
        json_object_set_new(body, "serviceErrorCode", json_integer(65600));
    }
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return (struct answer){status, text, NULL};
}

static struct answer json_answer(int status, const json_t *body)
{
    return (struct answer){status, json_dumps(body, JSON_COMPACT), NULL};
}

/* The value of raw query parameter name (not decoded), or NULL; malloc'd. */
static char *raw_param(const char *query, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *p = query; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
            return strndup(p + name_len + 1, len - name_len - 1);
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

static int hex_value(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes text (malloc'd), NULL on a malformed escape. */
static char *decode(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    size_t used = 0;
    for (size_t i = 0; text[i] != '\0'; i++) {
        if (text[i] == '%') {
            int hi = hex_value(text[i + 1]), lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[used++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[used++] = text[i];
        }
    }
    out[used] = '\0';
    return out;
}

static bool all_digits(const char *text)
{
    if (text == NULL || *text == '\0') {
        return false;
    }
    for (; *text != '\0'; text++) {
        if (*text < '0' || *text > '9') {
            return false;
        }
    }
    return true;
}

/*
 * owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A<digits>) as Rest.li 2.0 writes it:
 * the tuple's "(", ":" and ")" literal, the URN's ':' encoded. The account id, or NULL.
 */
static char *owner_account(const char *raw)
{
    static const char head[] = "(sponsoredAccount:";
    size_t len = raw != NULL ? strlen(raw) : 0;
    if (len < sizeof(head) || strncmp(raw, head, strlen(head)) != 0 || raw[len - 1] != ')') {
        return NULL;
    }
    char *inner = strndup(raw + strlen(head), len - strlen(head) - 1);
    /* a URN inside a tuple must have its ':' encoded: a literal one is a Rest.li error */
    char *decoded = strchr(inner, ':') == NULL ? decode(inner) : NULL;
    free(inner);
    if (decoded == NULL || strncmp(decoded, ACCOUNT_URN, strlen(ACCOUNT_URN)) != 0 ||
        !all_digits(decoded + strlen(ACCOUNT_URN))) {
        free(decoded);
        return NULL;
    }
    char *id = strdup(decoded + strlen(ACCOUNT_URN));
    free(decoded);
    return id;
}

static bool parse_range(const char *raw, long long *start, long long *end)
{
    if (raw == NULL) {
        return false;
    }
    char tail;
    return sscanf(raw, "(start:%lld,end:%lld%c", start, end, &tail) == 3 && tail == ')' &&
           raw[strlen(raw) - 1] == ')' && strchr(raw, '%') == NULL;
}

static int by_newest(const void *a, const void *b)
{
    const json_t *x = *(const json_t *const *)a, *y = *(const json_t *const *)b;
    json_int_t tx = json_integer_value(json_object_get(x, "submittedAt"));
    json_int_t ty = json_integer_value(json_object_get(y, "submittedAt"));
    if (tx != ty) {
        return tx > ty ? -1 : 1;
    }
    return strcmp(json_string_value(json_object_get(x, "id")),
                  json_string_value(json_object_get(y, "id")));
}

static struct answer finder(struct fake_linkedin *f, const char *query)
{
    char *q = raw_param(query, "q");
    char *owner_raw = raw_param(query, "owner");
    char *lead_type = raw_param(query, "leadType");
    char *range = raw_param(query, "submittedAtTimeRange");
    char *test_only = raw_param(query, "limitedToTestLeads");
    char *start_text = raw_param(query, "start");
    char *count_text = raw_param(query, "count");
    char *account = owner_account(owner_raw);
    long long from = 0, to = 0;
    struct answer a = {0};
    if (q == NULL || strcmp(q, "owner") != 0) {
        a = error_answer(400, "ILLEGAL_ARGUMENT", "q must be owner");
    } else if (account == NULL) {
        a = error_answer(400, "ILLEGAL_ARGUMENT",
                         "Invalid param. Please see errorDetails for more information.");
    } else if (lead_type == NULL || strcmp(lead_type, "(leadType:SPONSORED)") != 0) {
        a = error_answer(400, "ILLEGAL_ARGUMENT", "leadType must be (leadType:SPONSORED)");
    } else if (range != NULL && !parse_range(range, &from, &to)) {
        a = error_answer(400, "ILLEGAL_ARGUMENT", "submittedAtTimeRange is malformed");
    } else if (!all_digits(start_text != NULL ? start_text : "0") ||
               !all_digits(count_text != NULL ? count_text : "10")) {
        a = error_answer(400, "ILLEGAL_ARGUMENT", "start and count must be integers");
    } else if (f->forbidden) {
        a = error_answer(403, "ACCESS_DENIED",
                         "Not enough permissions to access: leadFormResponses.FINDER-owner");
    }
    if (a.status != 0) {
        goto out;
    }
    bool only_test = test_only != NULL && strcmp(test_only, "true") == 0;
    long long start = start_text != NULL ? strtoll(start_text, NULL, 10) : 0;
    long long count = count_text != NULL ? strtoll(count_text, NULL, 10) : 10;
    size_t n = json_object_size(f->responses);
    const json_t **matching = calloc(n + 1, sizeof(*matching));
    size_t m = 0;
    const char *key;
    json_t *r;
    json_object_foreach(f->responses, key, r)
    {
        const char *owner =
            json_string_value(json_object_get(json_object_get(r, "owner"), "sponsoredAccount"));
        json_int_t at = json_integer_value(json_object_get(r, "submittedAt"));
        bool test = json_is_true(json_object_get(r, "testLead"));
        if (owner == NULL || strncmp(owner, ACCOUNT_URN, strlen(ACCOUNT_URN)) != 0 ||
            strcmp(owner + strlen(ACCOUNT_URN), account) != 0 || (only_test && !test)) {
            continue;
        }
        if (range != NULL && (at < from || at > to)) {
            continue;
        }
        matching[m++] = r;
    }
    qsort(matching, m, sizeof(*matching), by_newest);
    json_t *elements = json_array();
    for (long long i = start; i < (long long)m && i < start + count; i++) {
        json_array_append(elements, (json_t *)matching[i]);
    }
    free(matching);
    json_t *body =
        json_pack("{s:{s:I, s:I, s:[], s:I}, s:o}", "paging", "start", (json_int_t)start, "count",
                  (json_int_t)count, "links", "total", (json_int_t)m, "elements", elements);
    a = json_answer(200, body);
    json_decref(body);
out:
    free(q);
    free(owner_raw);
    free(lead_type);
    free(range);
    free(test_only);
    free(start_text);
    free(count_text);
    free(account);
    return a;
}

/* LinkedIn validates a webhook before it takes a subscription. Called without the mutex. */
static bool challenge_passes(struct fake_linkedin *f, const char *webhook)
{
    bool valid = false;
    long status = fake_linkedin_challenge(f, webhook, &valid);
    return status == 200 && valid;
}

static struct answer subscribe(struct fake_linkedin *f, const char *body)
{
    json_t *request = json_loads(body, 0, NULL);
    const char *webhook = json_string_value(json_object_get(request, "webhook"));
    const char *owner =
        json_string_value(json_object_get(json_object_get(request, "owner"), "sponsoredAccount"));
    const char *lead_type = json_string_value(json_object_get(request, "leadType"));
    struct answer a = {0};
    if (webhook == NULL || owner == NULL || strncmp(owner, ACCOUNT_URN, strlen(ACCOUNT_URN)) != 0 ||
        lead_type == NULL) {
        a = error_answer(400, "ILLEGAL_ARGUMENT", "webhook, owner and leadType are required");
    } else {
        pthread_mutex_unlock(&f->mutex);
        bool passed = challenge_passes(f, webhook);
        pthread_mutex_lock(&f->mutex);
        if (!passed) {
            a = error_answer(400, "WEBHOOK_VALIDATION_FAILED",
                             "The webhook URL failed the challenge validation");
        } else {
            json_array_append(f->subscriptions, request);
            a = (struct answer){201, strdup(""), util_printf("%d", ++f->next_subscription)};
        }
    }
    json_decref(request);
    return a;
}

static struct answer route(struct fake_linkedin *f, struct MHD_Connection *connection,
                           const char *method, const char *raw, const char *body)
{
    const char *authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
    const char *version =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "LinkedIn-Version");
    const char *restli =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Restli-Protocol-Version");
    if (authorization == NULL || strncmp(authorization, "Bearer ", 7) != 0 ||
        !fake_oauth_token_alive(f->idp, authorization + 7)) {
        return error_answer(401, "INVALID_ACCESS_TOKEN", "Invalid access token");
    }
    if (version == NULL || strlen(version) != 6 || !all_digits(version)) {
        return error_answer(400, "VERSION_MISSING",
                            "A version must be present. Please specify "
                            "a version by adding the LinkedIn-Version "
                            "header.");
    }
    if (f->oldest[0] != '\0' && strcmp(version, f->oldest) < 0) {
        char *message = util_printf("Requested version %s is not active", version);
        struct answer a = error_answer(426, "NONEXISTENT_VERSION", message);
        free(message);
        return a;
    }
    if (restli == NULL || strcmp(restli, "2.0.0") != 0) {
        return error_answer(400, "ILLEGAL_ARGUMENT", "X-Restli-Protocol-Version 2.0.0 expected");
    }
    if (f->daily_limit) {
        return error_answer(429, NULL,
                            "Resource level throttle APPLICATION DAY limit for calls "
                            "to this resource is reached.");
    }
    const char *query = strchr(raw, '?');
    size_t path_len = query != NULL ? (size_t)(query - raw) : strlen(raw);
    char *path = strndup(raw, path_len);
    struct answer a = {0};
    if (strcmp(method, "GET") == 0 && strcmp(path, "/rest/leadFormResponses") == 0) {
        a = finder(f, query != NULL ? query + 1 : "");
    } else if (strcmp(method, "GET") == 0 && strncmp(path, "/rest/leadFormResponses/", 24) == 0) {
        char *id = decode(path + 24);
        const json_t *r = id != NULL ? json_object_get(f->responses, id) : NULL;
        a = r != NULL ? json_answer(200, r)
                      : error_answer(404, "NOT_FOUND", "leadFormResponse not found");
        free(id);
    } else if (strcmp(method, "GET") == 0 && strncmp(path, "/rest/leadForms/", 16) == 0) {
        const json_t *form = json_object_get(f->forms, path + 16);
        a = form != NULL ? json_answer(200, form)
                         : error_answer(404, "NOT_FOUND", "leadForm not found");
    } else if (strcmp(method, "POST") == 0 && strcmp(path, "/rest/leadNotifications") == 0) {
        a = subscribe(f, body);
    } else {
        a = error_answer(404, "NOT_FOUND", "no such resource");
    }
    free(path);
    return a;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    struct upload *upload = calloc(1, sizeof(*upload));
    if (upload != NULL) {
        upload->raw_uri = strdup(uri);
    }
    return upload;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    strbuf_appendf(cls, "%s: %s\n", key, value != NULL ? value : "");
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct fake_linkedin *f = cls;
    struct upload *upload = *con_cls;
    if (upload == NULL) {
        return MHD_NO;
    }
    if (!upload->started) {
        upload->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        strbuf_append_len(&upload->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *raw = upload->raw_uri != NULL ? upload->raw_uri : url;
    struct strbuf headers = {0};
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_header, &headers);
    pthread_mutex_lock(&f->mutex);
    int delay = strncmp(raw, "/rest/leadFormResponses?", 24) == 0 ? f->finder_delay_ms : 0;
    if (delay > 0) {
        pthread_mutex_unlock(&f->mutex);
        usleep((useconds_t)delay * 1000);
        pthread_mutex_lock(&f->mutex);
    }
    struct answer a = route(f, connection, method, raw, strbuf_value(&upload->body));
    struct fake_request *grown = realloc(f->received, (f->received_count + 1) * sizeof(*grown));
    int *statuses = realloc(f->statuses, (f->received_count + 1) * sizeof(*statuses));
    if (grown != NULL) {
        f->received = grown;
    }
    if (statuses != NULL) {
        f->statuses = statuses;
    }
    if (grown != NULL && statuses != NULL) {
        const char *auth =
            MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Authorization");
        f->statuses[f->received_count] = a.status;
        f->received[f->received_count++] =
            (struct fake_request){.method = strdup(method),
                                  .url = strdup(raw),
                                  .body = strdup(strbuf_value(&upload->body)),
                                  .authorization = auth != NULL ? strdup(auth) : NULL,
                                  .headers = strbuf_take(&headers),
                                  .at_ms = util_monotonic_ms()};
    }
    pthread_mutex_unlock(&f->mutex);
    strbuf_free(&headers);
    const char *body = a.body != NULL ? a.body : "";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "application/json");
    if (a.restli_id != NULL) {
        MHD_add_response_header(response, "x-restli-id", a.restli_id);
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)a.status, response);
    MHD_destroy_response(response);
    free(a.body);
    free(a.restli_id);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct upload *upload = *con_cls;
    if (upload != NULL) {
        strbuf_free(&upload->body);
        free(upload->raw_uri);
        free(upload);
        *con_cls = NULL;
    }
}

struct fake_linkedin *fake_linkedin_start(struct fake_oauth *idp, const char *client_secret)
{
    struct fake_linkedin *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    pthread_mutex_init(&f->mutex, NULL);
    f->idp = idp;
    f->client_secret = strdup(client_secret);
    f->forms = json_object();
    f->responses = json_object();
    f->subscriptions = json_array();
    f->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
                              NULL, NULL, on_request, f, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                              f, MHD_OPTION_URI_LOG_CALLBACK, on_uri, f, MHD_OPTION_END);
    ck_assert_ptr_nonnull(f->mhd);
    f->port = MHD_get_daemon_info(f->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return f;
}

void fake_linkedin_stop(struct fake_linkedin *f)
{
    if (f == NULL) {
        return;
    }
    MHD_stop_daemon(f->mhd);
    for (size_t i = 0; i < f->received_count; i++) {
        fake_http_request_free(&f->received[i]);
    }
    free(f->received);
    free(f->statuses);
    json_decref(f->forms);
    json_decref(f->responses);
    json_decref(f->subscriptions);
    free(f->client_secret);
    pthread_mutex_destroy(&f->mutex);
    free(f);
}

char *fake_linkedin_api_base(const struct fake_linkedin *f)
{
    return util_printf("http://127.0.0.1:%d/rest", f->port);
}

void fake_linkedin_add_form(struct fake_linkedin *f, const json_t *form)
{
    pthread_mutex_lock(&f->mutex);
    char *id = util_printf("%lld", (long long)json_integer_value(json_object_get(form, "id")));
    json_object_set_new(f->forms, id, json_deep_copy(form));
    free(id);
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_add_response(struct fake_linkedin *f, const json_t *response)
{
    pthread_mutex_lock(&f->mutex);
    json_object_set_new(f->responses, json_string_value(json_object_get(response, "id")),
                        json_deep_copy(response));
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_delete_response(struct fake_linkedin *f, const char *id)
{
    pthread_mutex_lock(&f->mutex);
    json_object_del(f->responses, id);
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_sunset_before(struct fake_linkedin *f, const char *oldest)
{
    pthread_mutex_lock(&f->mutex);
    snprintf(f->oldest, sizeof(f->oldest), "%s", oldest != NULL ? oldest : "");
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_daily_limit(struct fake_linkedin *f, bool reached)
{
    pthread_mutex_lock(&f->mutex);
    f->daily_limit = reached;
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_finder_delay(struct fake_linkedin *f, int delay_ms)
{
    pthread_mutex_lock(&f->mutex);
    f->finder_delay_ms = delay_ms;
    pthread_mutex_unlock(&f->mutex);
}

void fake_linkedin_forbid(struct fake_linkedin *f, bool forbidden)
{
    pthread_mutex_lock(&f->mutex);
    f->forbidden = forbidden;
    pthread_mutex_unlock(&f->mutex);
}

static bool matches(const struct fake_request *r, int status_answered, const char *method,
                    const char *path_prefix, int status)
{
    return strcmp(r->method, method) == 0 &&
           strncmp(r->url, path_prefix, strlen(path_prefix)) == 0 &&
           (status == 0 || status == status_answered);
}

size_t fake_linkedin_count(struct fake_linkedin *f, const char *method, const char *path_prefix,
                           int status)
{
    pthread_mutex_lock(&f->mutex);
    size_t n = 0;
    for (size_t i = 0; i < f->received_count; i++) {
        n += matches(&f->received[i], f->statuses[i], method, path_prefix, status);
    }
    pthread_mutex_unlock(&f->mutex);
    return n;
}

struct fake_request fake_linkedin_request(struct fake_linkedin *f, const char *method,
                                          const char *path_prefix, size_t nth)
{
    pthread_mutex_lock(&f->mutex);
    struct fake_request copy = {0};
    size_t seen = 0;
    for (size_t i = 0; i < f->received_count; i++) {
        if (matches(&f->received[i], f->statuses[i], method, path_prefix, 0) && seen++ == nth) {
            const struct fake_request *r = &f->received[i];
            copy = (struct fake_request){
                .method = strdup(r->method),
                .url = strdup(r->url),
                .body = strdup(r->body),
                .authorization = r->authorization != NULL ? strdup(r->authorization) : NULL,
                .headers = strdup(r->headers),
                .at_ms = r->at_ms};
            break;
        }
    }
    pthread_mutex_unlock(&f->mutex);
    ck_assert_msg(copy.method != NULL, "no request %zu %s %s", nth, method, path_prefix);
    return copy;
}

json_t *fake_linkedin_subscriptions(struct fake_linkedin *f)
{
    pthread_mutex_lock(&f->mutex);
    json_t *copy = json_deep_copy(f->subscriptions);
    pthread_mutex_unlock(&f->mutex);
    return copy;
}

char *fake_linkedin_notification(const char *response_id, const char *form_urn, const char *account,
                                 const char *action, long long occurred_at)
{
    json_t *body = json_pack(
        "{s:s, s:s, s:s, s:{s:s}, s:{s:s}, s:s, s:s, s:I}", "type", "LEAD_ACTION",
        "leadGenFormResponse", "", "leadGenForm", form_urn, "owner", "sponsoredAccount", "",
        "associatedEntity", "sponsoredCreative", "urn:li:sponsoredCreative:601928374", "leadType",
        "SPONSORED", "leadAction", action, "occurredAt", (json_int_t)occurred_at);
    char *urn = util_printf(RESPONSE_URN "%s", response_id);
    char *owner = util_printf(ACCOUNT_URN "%s", account);
    json_object_set_new(body, "leadGenFormResponse", json_string(urn));
    json_object_set_new(json_object_get(body, "owner"), "sponsoredAccount", json_string(owner));
    free(urn);
    free(owner);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return text;
}

char *fake_linkedin_sign(const char *secret, const char *body, enum fake_linkedin_reading reading)
{
    unsigned char digest[32];
    char hex[65];
    if (reading == FAKE_LINKEDIN_READING_A) {
        char *message = util_printf("hmacsha256=%s", body);
        crypto_hmac_sha256(secret, strlen(secret), message, strlen(message), digest);
        free(message);
    } else {
        crypto_hmac_sha256(secret, strlen(secret), body, strlen(body), digest);
    }
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return reading == FAKE_LINKEDIN_READING_A ? strdup(hex) : util_printf("hmacsha256=%s", hex);
}

long fake_linkedin_post(struct fake_linkedin *f, const char *webhook_url, const char *body,
                        enum fake_linkedin_reading reading)
{
    char *signature = fake_linkedin_sign(f->client_secret, body, reading);
    char *header = util_printf("X-LI-Signature: %s", signature);
    const char *headers[] = {"Content-Type: application/json", header, NULL};
    struct http_result result;
    http_request("POST", webhook_url, headers, body, strlen(body), &result);
    long status = result.status;
    http_result_free(&result);
    free(header);
    free(signature);
    return status;
}

long fake_linkedin_challenge(struct fake_linkedin *f, const char *webhook_url, bool *valid_out)
{
    unsigned char random[16];
    ck_assert_int_eq(crypto_random(random, sizeof(random)), 0);
    random[6] = (unsigned char)((random[6] & 0x0f) | 0x40); /* a type-4 UUID */
    random[8] = (unsigned char)((random[8] & 0x3f) | 0x80);
    char code[37];
    snprintf(code, sizeof(code),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", random[0],
             random[1], random[2], random[3], random[4], random[5], random[6], random[7], random[8],
             random[9], random[10], random[11], random[12], random[13], random[14], random[15]);
    char *url = util_printf("%s%schallengeCode=%s", webhook_url,
                            strchr(webhook_url, '?') != NULL ? "&" : "?", code);
    struct http_result result;
    http_request("GET", url, NULL, NULL, 0, &result);
    free(url);
    unsigned char digest[32];
    char hex[65];
    crypto_hmac_sha256(f->client_secret, strlen(f->client_secret), code, strlen(code), digest);
    for (size_t i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    json_t *answer = result.body != NULL ? json_loads(result.body, 0, NULL) : NULL;
    const char *echoed = json_string_value(json_object_get(answer, "challengeCode"));
    const char *response = json_string_value(json_object_get(answer, "challengeResponse"));
    *valid_out = result.headers != NULL && strcasestr(result.headers, "application/json") != NULL &&
                 echoed != NULL && strcmp(echoed, code) == 0 && response != NULL &&
                 strcmp(response, hex) == 0;
    json_decref(answer);
    long status = result.status;
    http_result_free(&result);
    return status;
}
