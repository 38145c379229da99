/*
 * fake_pipedrive.c - see fake_pipedrive.h. The server, credentials, rate limits and
 * faults; the records and the API's semantics are in fake_pipedrive_store.c, the
 * normalized view in fake_pipedrive_view.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fake_pipedrive_internal.h"
#include "util.h"

#define BURST_WINDOW_MS     2000
#define BURST_LIMIT_DEFAULT 80
#define DAILY_UNLIMITED     10000

/* The value of header `name` in fake_http's "name: value\n" list, malloc'd, or NULL. */
static char *header_value(const char *headers, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *line = headers; line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        if (len > name_len && strncasecmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *value = line + name_len + 1;
            while (*value == ' ') {
                value++;
            }
            return strndup(value, (size_t)(line + len - value));
        }
        line = end != NULL ? end + 1 : NULL;
    }
    return NULL;
}

/* 1 for an API-token request, 2 for an accepted bearer token, 0 when refused. */
static int authenticate(const struct fake_pipedrive *fp, const struct fake_request *request)
{
    char *token = header_value(request->headers, "x-api-token");
    int how = token != NULL && strcmp(token, fp->api_token) == 0 ? 1 : 0;
    free(token);
    if (how == 0 && fp->bearer != NULL && request->authorization != NULL &&
        strncmp(request->authorization, "Bearer ", 7) == 0 &&
        strcmp(request->authorization + 7, fp->bearer) == 0) {
        how = 2;
    }
    return how;
}

static bool is_write(const char *method)
{
    return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
           strcmp(method, "PATCH") == 0 || strcmp(method, "DELETE") == 0;
}

/* The first fault of this kind matching the request, its use counted; NULL when none. */
static struct fp_fault *take_fault(struct fake_pipedrive *fp, enum fp_fault_kind kind,
                                   const char *method, const char *url)
{
    for (size_t i = 0; i < fp->fault_count; i++) {
        struct fp_fault *f = &fp->faults[i];
        if (f->kind == kind && f->times > 0 &&
            (f->method == NULL || strcmp(f->method, method) == 0) &&
            strncmp(url, f->prefix, strlen(f->prefix)) == 0) {
            f->times--;
            return f;
        }
    }
    return NULL;
}

/* Counts the request in the burst window; false when it is over the limit. */
static bool within_burst(struct fake_pipedrive *fp, int64_t now)
{
    if (now - fp->window_start_ms >= BURST_WINDOW_MS) {
        fp->window_start_ms = now;
        fp->window_count = 0;
    }
    fp->window_count++;
    return fp->window_count <= fp->burst_limit;
}

/* The rate-limit headers every answer carries (and Retry-After), malloc'd. */
static char *rate_headers(const struct fake_pipedrive *fp, int64_t now, bool token_request,
                          int retry_after)
{
    int remaining = fp->burst_limit - fp->window_count;
    int64_t left_ms = BURST_WINDOW_MS - (now - fp->window_start_ms);
    long reset = (long)((left_ms + 999) / 1000);
    struct strbuf headers = {0};
    strbuf_appendf(&headers,
                   "x-ratelimit-limit: %d\nx-ratelimit-remaining: %d\n"
                   "x-ratelimit-reset: %ld",
                   fp->burst_limit, remaining > 0 ? remaining : 0, reset > 0 ? reset : 1);
    if (token_request) {
        strbuf_appendf(&headers, "\nx-daily-requests-left: %ld",
                       fp->daily_left >= 0 ? fp->daily_left : DAILY_UNLIMITED);
    }
    if (retry_after >= 0) {
        strbuf_appendf(&headers, "\nRetry-After: %d", retry_after);
    }
    return strbuf_take(&headers);
}

static struct fp_answer too_many(int retry_after)
{
    struct fp_answer a = fp_error(429, "Too many requests", "Slow down: see the rate limits");
    a.retry_after = retry_after;
    return a;
}

static int on_request(void *arg, const struct fake_request *request, struct fake_response *out)
{
    struct fake_pipedrive *fp = arg;
    const char *url = request->url;
    const char *question = strchr(url, '?');
    char *path = question != NULL ? strndup(url, (size_t)(question - url)) : strdup(url);
    const char *query = question != NULL ? question + 1 : "";
    json_error_t error;
    json_t *body = request->body != NULL && request->body[0] != '\0'
                       ? json_loads(request->body, JSON_REJECT_DUPLICATES, &error)
                       : NULL;
    bool malformed = request->body != NULL && request->body[0] != '\0' && body == NULL;
    int64_t now = util_monotonic_ms();

    pthread_mutex_lock(&fp->mutex);
    int how = authenticate(fp, request);
    struct fp_answer answer = {0};
    struct fp_fault *fault = NULL;
    bool lose = false;
    int lose_status = 0;
    if (how == 0) {
        answer = fp_error(401, "unauthorized access", "Check the API token");
    } else if (!within_burst(fp, now)) {
        answer = too_many((int)((BURST_WINDOW_MS - (now - fp->window_start_ms) + 999) / 1000));
    } else if ((fault = take_fault(fp, FP_FAULT_RATE_LIMIT, request->method, url)) != NULL) {
        answer = too_many(fault->retry_after);
    } else if ((fault = take_fault(fp, FP_FAULT_FAIL, request->method, url)) != NULL) {
        answer = fp_error(fault->status, "Internal server error", NULL);
    } else if (how == 1 && is_write(request->method) && fp->daily_left == 0) {
        answer = too_many(fp->daily_retry_after);
    } else {
        if (how == 1 && is_write(request->method) && fp->daily_left > 0) {
            fp->daily_left--;
        }
        answer = fp_store_route(fp, request->method, path, query, body, malformed);
        fault = take_fault(fp, FP_FAULT_LOSE, request->method, url);
        if (fault != NULL) {
            lose = true;
            lose_status = fault->status;
        }
    }
    char *headers = rate_headers(fp, now, how == 1, answer.retry_after);
    int latency = fp->latency_ms;
    pthread_mutex_unlock(&fp->mutex);

    if (lose) {
        json_decref(answer.body);
        answer.body = lose_status == FAKE_RESET
                          ? NULL
                          : json_pack("{s:b, s:s}", "success", 0, "error", "Bad Gateway");
        answer.status = lose_status;
    }
    *out = (struct fake_response){
        .status = answer.status,
        .body = answer.body != NULL ? json_dumps(answer.body, JSON_COMPACT) : strdup(""),
        .header = headers,
        .delay_ms = latency,
    };
    json_decref(answer.body);
    json_decref(body);
    free(path);
    return 1;
}

struct fake_pipedrive *fake_pipedrive_start(const char *api_token)
{
    struct fake_pipedrive *fp = calloc(1, sizeof(*fp));
    if (fp == NULL) {
        return NULL;
    }
    pthread_mutex_init(&fp->mutex, NULL);
    fp->api_token = strdup(api_token);
    fp->burst_limit = BURST_LIMIT_DEFAULT;
    fp->daily_left = -1;
    fp->daily_retry_after = -1;
    fp->window_start_ms = util_monotonic_ms();
    fp_store_init(fp);
    fp->http = fake_http_start();
    if (fp->http == NULL) {
        fake_pipedrive_stop(fp);
        return NULL;
    }
    fake_http_handler(fp->http, on_request, fp);
    return fp;
}

void fake_pipedrive_stop(struct fake_pipedrive *fp)
{
    if (fp == NULL) {
        return;
    }
    fake_http_stop(fp->http);
    fp_store_free(fp);
    for (size_t i = 0; i < fp->fault_count; i++) {
        free(fp->faults[i].method);
        free(fp->faults[i].prefix);
    }
    free(fp->faults);
    free(fp->api_token);
    free(fp->bearer);
    pthread_mutex_destroy(&fp->mutex);
    free(fp);
}

char *fake_pipedrive_url(const struct fake_pipedrive *fp, const char *path)
{
    return fake_http_url(fp->http, path);
}

void fake_pipedrive_allow_bearer(struct fake_pipedrive *fp, const char *token)
{
    pthread_mutex_lock(&fp->mutex);
    free(fp->bearer);
    fp->bearer = token != NULL ? strdup(token) : NULL;
    pthread_mutex_unlock(&fp->mutex);
}

/* --- the rep ----------------------------------------------------------------------------- */

static long write_json(struct fake_pipedrive *fp, struct fp_table *table, long id,
                       const char *fields_json)
{
    json_t *fields = json_loads(fields_json, 0, NULL);
    if (fields == NULL) {
        return 0;
    }
    pthread_mutex_lock(&fp->mutex);
    long written = fp_store_write(fp, table, id, fields);
    pthread_mutex_unlock(&fp->mutex);
    json_decref(fields);
    return written;
}

long fake_pipedrive_person_add(struct fake_pipedrive *fp, const char *fields_json)
{
    return write_json(fp, &fp->persons, 0, fields_json);
}

bool fake_pipedrive_person_update(struct fake_pipedrive *fp, long id, const char *fields_json)
{
    return id > 0 && write_json(fp, &fp->persons, id, fields_json) == id;
}

long fake_pipedrive_org_add(struct fake_pipedrive *fp, const char *name)
{
    json_t *fields = json_pack("{s:s}", "name", name);
    pthread_mutex_lock(&fp->mutex);
    long id = fp_store_write(fp, &fp->organizations, 0, fields);
    pthread_mutex_unlock(&fp->mutex);
    json_decref(fields);
    return id;
}

long fake_pipedrive_deal_add(struct fake_pipedrive *fp, const char *fields_json)
{
    return write_json(fp, &fp->deals, 0, fields_json);
}

bool fake_pipedrive_deal_update(struct fake_pipedrive *fp, long id, const char *fields_json)
{
    return id > 0 && write_json(fp, &fp->deals, id, fields_json) == id;
}

void fake_pipedrive_clock_pin(struct fake_pipedrive *fp, time_t at)
{
    pthread_mutex_lock(&fp->mutex);
    fp->pinned_s = at;
    if (at > fp->last_s) {
        fp->last_s = at;
    }
    pthread_mutex_unlock(&fp->mutex);
}

/* --- accessors --------------------------------------------------------------------------- */

static bool holds_email(const json_t *person, const char *email)
{
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(person, "emails"), i, item)
    {
        const char *value = json_string_value(json_object_get(item, "value"));
        if (value != NULL && strcasecmp(value, email) == 0) {
            return true;
        }
    }
    return false;
}

size_t fake_pipedrive_persons_with_email(struct fake_pipedrive *fp, const char *email)
{
    size_t n = 0;
    pthread_mutex_lock(&fp->mutex);
    for (size_t i = 0; i < fp->persons.count; i++) {
        n += !fp->persons.items[i].deleted && holds_email(fp->persons.items[i].object, email);
    }
    pthread_mutex_unlock(&fp->mutex);
    return n;
}

long fake_pipedrive_person_id(struct fake_pipedrive *fp, const char *email)
{
    long id = 0;
    pthread_mutex_lock(&fp->mutex);
    for (size_t i = 0; i < fp->persons.count && id == 0; i++) {
        if (!fp->persons.items[i].deleted && holds_email(fp->persons.items[i].object, email)) {
            id = fp->persons.items[i].id;
        }
    }
    pthread_mutex_unlock(&fp->mutex);
    return id;
}

static size_t live_count(struct fake_pipedrive *fp, const struct fp_table *table)
{
    size_t n = 0;
    pthread_mutex_lock(&fp->mutex);
    for (size_t i = 0; i < table->count; i++) {
        n += !table->items[i].deleted;
    }
    pthread_mutex_unlock(&fp->mutex);
    return n;
}

size_t fake_pipedrive_person_count(struct fake_pipedrive *fp)
{
    return live_count(fp, &fp->persons);
}

size_t fake_pipedrive_activity_count(struct fake_pipedrive *fp)
{
    return live_count(fp, &fp->activities);
}

size_t fake_pipedrive_org_count(struct fake_pipedrive *fp)
{
    return live_count(fp, &fp->organizations);
}

static char *person_member(struct fake_pipedrive *fp, long id, const char *member)
{
    pthread_mutex_lock(&fp->mutex);
    const struct fp_record *r = fp_store_find(&fp->persons, id);
    const json_t *value = r == NULL        ? NULL
                          : member != NULL ? json_object_get(r->object, member)
                                           : r->object;
    char *text =
        value != NULL ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    pthread_mutex_unlock(&fp->mutex);
    return text;
}

char *fake_pipedrive_person(struct fake_pipedrive *fp, long id)
{
    return person_member(fp, id, NULL);
}

char *fake_pipedrive_person_labels(struct fake_pipedrive *fp, long id)
{
    return person_member(fp, id, "label_ids");
}

char *fake_pipedrive_activities_of(struct fake_pipedrive *fp, long person_id)
{
    json_t *found = json_array();
    pthread_mutex_lock(&fp->mutex);
    for (size_t i = 0; i < fp->activities.count; i++) {
        const struct fp_record *r = &fp->activities.items[i];
        if (!r->deleted && fp_activity_has_person(r->object, person_id)) {
            json_array_append(found, r->object);
        }
    }
    pthread_mutex_unlock(&fp->mutex);
    char *text = json_dumps(found, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(found);
    return text;
}

/* --- faults ------------------------------------------------------------------------------ */

static void add_fault(struct fake_pipedrive *fp, struct fp_fault fault, const char *method,
                      const char *prefix)
{
    pthread_mutex_lock(&fp->mutex);
    struct fp_fault *grown = realloc(fp->faults, (fp->fault_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        fault.method = method != NULL ? strdup(method) : NULL;
        fault.prefix = strdup(prefix != NULL ? prefix : "");
        fp->faults = grown;
        fp->faults[fp->fault_count++] = fault;
    }
    pthread_mutex_unlock(&fp->mutex);
}

void fake_pipedrive_rate_limit(struct fake_pipedrive *fp, const char *method,
                               const char *path_prefix, int retry_after_s, int times)
{
    add_fault(fp,
              (struct fp_fault){
                  .kind = FP_FAULT_RATE_LIMIT, .retry_after = retry_after_s, .times = times},
              method, path_prefix);
}

void fake_pipedrive_fail(struct fake_pipedrive *fp, const char *method, const char *path_prefix,
                         int status, int times)
{
    add_fault(fp, (struct fp_fault){.kind = FP_FAULT_FAIL, .status = status, .times = times},
              method, path_prefix);
}

void fake_pipedrive_lose_answers(struct fake_pipedrive *fp, const char *method,
                                 const char *path_prefix, int times, enum fake_pipedrive_loss how)
{
    add_fault(fp,
              (struct fp_fault){.kind = FP_FAULT_LOSE,
                                .status = how == FAKE_PIPEDRIVE_LOSE_RESET ? FAKE_RESET : 502,
                                .times = times},
              method, path_prefix);
}

void fake_pipedrive_burst_limit(struct fake_pipedrive *fp, int limit)
{
    pthread_mutex_lock(&fp->mutex);
    fp->burst_limit = limit;
    pthread_mutex_unlock(&fp->mutex);
}

void fake_pipedrive_daily_budget(struct fake_pipedrive *fp, long left, int retry_after_s)
{
    pthread_mutex_lock(&fp->mutex);
    fp->daily_left = left;
    fp->daily_retry_after = retry_after_s;
    pthread_mutex_unlock(&fp->mutex);
}

void fake_pipedrive_latency(struct fake_pipedrive *fp, int latency_ms)
{
    pthread_mutex_lock(&fp->mutex);
    fp->latency_ms = latency_ms;
    pthread_mutex_unlock(&fp->mutex);
}

void fake_pipedrive_search_lag(struct fake_pipedrive *fp, int lag_ms, int lag_searches)
{
    pthread_mutex_lock(&fp->mutex);
    fp->search_lag_ms = lag_ms;
    fp->search_lag_searches = lag_searches;
    pthread_mutex_unlock(&fp->mutex);
}

/* --- requests ---------------------------------------------------------------------------- */

static bool request_matches(const struct fake_request *r, const char *method, const char *prefix)
{
    return r->url != NULL && (method == NULL || strcmp(r->method, method) == 0) &&
           strncmp(r->url, prefix, strlen(prefix)) == 0;
}

size_t fake_pipedrive_count(struct fake_pipedrive *fp, const char *method, const char *path_prefix)
{
    size_t n = 0;
    size_t total = fake_http_request_count(fp->http);
    for (size_t i = 0; i < total; i++) {
        struct fake_request r = fake_http_request(fp->http, i);
        n += request_matches(&r, method, path_prefix);
        fake_http_request_free(&r);
    }
    return n;
}

char *fake_pipedrive_find(struct fake_pipedrive *fp, const char *method, const char *path_prefix,
                          size_t nth, char **body_out)
{
    char *url = NULL;
    size_t total = fake_http_request_count(fp->http);
    for (size_t i = 0, seen = 0; i < total && url == NULL; i++) {
        struct fake_request r = fake_http_request(fp->http, i);
        if (request_matches(&r, method, path_prefix) && seen++ == nth) {
            url = r.url;
            r.url = NULL;
            if (body_out != NULL) {
                *body_out = r.body;
                r.body = NULL;
            }
        }
        fake_http_request_free(&r);
    }
    return url;
}

size_t fake_pipedrive_requests_containing(struct fake_pipedrive *fp, const char *text)
{
    size_t n = 0;
    size_t total = fake_http_request_count(fp->http);
    for (size_t i = 0; i < total; i++) {
        struct fake_request r = fake_http_request(fp->http, i);
        n += (r.url != NULL && strstr(r.url, text) != NULL) ||
             (r.body != NULL && strstr(r.body, text) != NULL);
        fake_http_request_free(&r);
    }
    return n;
}
