/*
 * host_http.c - the outbound HTTP client plugins use through host->http().
 *
 * The host owns libcurl so that every connector gets the same behaviour: timeouts,
 * redirects refused (a redirect could carry credentials elsewhere), TLS verified,
 * Retry-After understood, full-jitter backoff for idempotent retries (a provider's own
 * "should retry" header overriding the status when the plugin names it: retry_hint_header),
 * nothing secret in logs (no headers, no query strings), and metrics per instance.
 *
 * Each thread keeps one easy handle, reset before every request: libcurl keeps the
 * connections of a handle alive, so a connector calling one API reuses its connection.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "host_http.h"
#include "instance.h"
#include "log.h"
#include "metrics.h"
#include "sdk_abi.h"
#include "util.h"

#define HTTP_DEFAULT_TIMEOUT_MS 30000
#define HTTP_CONNECT_TIMEOUT_MS 10000
#define HTTP_MAX_BODY           (32u * 1024 * 1024)
#define HTTP_MAX_HEADERS        128
#define HTTP_MAX_ATTEMPTS       10
#define HTTP_BACKOFF_BASE_MS    500
#define HTTP_BACKOFF_CAP_MS     30000
/* A Retry-After longer than this is not slept through: the plugin gets the response and
 * hands the delay to the host's scheduler with LH_RETRY_AFTER. */
#define HTTP_RETRY_AFTER_SLEEP_MAX_MS 60000

static pthread_key_t handle_key;
static pthread_once_t handle_once = PTHREAD_ONCE_INIT;

static void handle_destroy(void *handle)
{
    curl_easy_cleanup(handle);
}

static void handle_key_create(void)
{
    pthread_key_create(&handle_key, handle_destroy);
}

static CURL *thread_handle(void)
{
    pthread_once(&handle_once, handle_key_create);
    CURL *handle = pthread_getspecific(handle_key);
    if (handle == NULL) {
        handle = curl_easy_init();
        if (handle != NULL && pthread_setspecific(handle_key, handle) != 0) {
            curl_easy_cleanup(handle);
            handle = NULL;
        }
    } else {
        curl_easy_reset(handle);
    }
    return handle;
}

struct receive {
    struct strbuf body;
    bool too_large;
    lh_header_t *headers;
    size_t header_count;
};

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    struct receive *r = arg;
    size_t n = size * count;
    if (r->body.len + n > HTTP_MAX_BODY) {
        r->too_large = true;
        return 0; /* aborts the transfer */
    }
    strbuf_append_len(&r->body, data, n);
    return r->body.failed ? 0 : n;
}

static void free_headers(lh_header_t *headers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free((char *)headers[i].name);
        free((char *)headers[i].value);
    }
    free(headers);
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    struct receive *r = arg;
    size_t n = size * count;
    /* a new status line (after 100 Continue): forget the previous response's headers */
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        free_headers(r->headers, r->header_count);
        r->headers = NULL;
        r->header_count = 0;
        return n;
    }
    const char *colon = memchr(data, ':', n);
    if (colon == NULL || r->header_count >= HTTP_MAX_HEADERS) {
        return n;
    }
    size_t name_len = (size_t)(colon - data);
    const char *value = colon + 1;
    size_t value_len = n - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len > 0 && (value[value_len - 1] == '\r' || value[value_len - 1] == '\n' ||
                             value[value_len - 1] == ' ')) {
        value_len--;
    }
    lh_header_t *headers = realloc(r->headers, (r->header_count + 1) * sizeof(*headers));
    if (headers == NULL) {
        return 0;
    }
    r->headers = headers;
    char *name = strndup(data, name_len);
    char *copy = strndup(value, value_len);
    if (name == NULL || copy == NULL) {
        free(name);
        free(copy);
        return 0;
    }
    for (char *p = name; *p != '\0'; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    r->headers[r->header_count].name = name;
    r->headers[r->header_count].value = copy;
    r->header_count++;
    return n;
}

/* Retry-After as seconds or an HTTP date; -1 when absent or unreadable. */
static int64_t parse_retry_after(const lh_header_t *headers, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(headers[i].name, "retry-after") != 0) {
            continue;
        }
        const char *value = headers[i].value;
        char *end = NULL;
        long long seconds = strtoll(value, &end, 10);
        if (end != value && *end == '\0' && seconds >= 0) {
            return seconds > 86400 ? 86400000LL : seconds * 1000;
        }
        time_t when = curl_getdate(value, NULL);
        if (when != (time_t)-1) {
            int64_t delay = (int64_t)when * 1000 - util_now_ms();
            return delay > 0 ? delay : 0;
        }
    }
    return -1;
}

/* "https://api.example.com/v1/events" without the query: queries may hold tokens. */
static void url_for_log(const char *url, char *out, size_t out_size)
{
    size_t len = strcspn(url, "?#");
    snprintf(out, out_size, "%.*s%s", (int)len, url, url[len] ? "?..." : "");
}

static bool sleep_unless_stopping(struct lh_ctx *ctx, int64_t ms)
{
    const lh_host_t *host = host_api_table();
    int64_t until = util_monotonic_ms() + ms;
    while (util_monotonic_ms() < until) {
        if (ctx != NULL && host->should_stop(ctx)) {
            return false;
        }
        int64_t slice = until - util_monotonic_ms();
        slice = slice > 100 ? 100 : slice;
        if (slice > 0) {
            struct timespec ts = {0, (long)slice * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return true;
}

/* One attempt, cut short at deadline_ms (monotonic; 0: none). Returns LH_OK with a
 * response, or LH_RETRY with *error_out set. */
static lh_status_t perform_once(const lh_http_request_t *request, int64_t deadline_ms,
                                lh_http_response_t *response, char **error_out)
{
    CURL *curl = thread_handle();
    if (curl == NULL) {
        *error_out = strdup("cannot create an HTTP client handle");
        return LH_RETRY;
    }
    struct curl_slist *headers = NULL;
    struct receive received = {{0}, false, NULL, 0};
    lh_status_t status = LH_RETRY;
    for (size_t i = 0; i < request->header_count; i++) {
        char *line = util_printf("%s: %s", request->headers[i].name, request->headers[i].value);
        struct curl_slist *grown = line != NULL ? curl_slist_append(headers, line) : NULL;
        free(line);
        if (grown == NULL) {
            *error_out = strdup("out of memory");
            goto out;
        }
        headers = grown;
    }
    int64_t timeout = request->timeout_ms > 0 ? request->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;
    if (deadline_ms > 0) {
        /* the call's own deadline (a webhook's answer) bounds its requests */
        int64_t left = deadline_ms - util_monotonic_ms();
        timeout = left < timeout ? (left > 1 ? left : 1) : timeout;
    }
    curl_easy_setopt(curl, CURLOPT_URL, request->url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout < HTTP_CONNECT_TIMEOUT_MS ? timeout : HTTP_CONNECT_TIMEOUT_MS));
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "leadhubd/" LEADHUB_VERSION);
    curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &received);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &received);
    const char *method = request->method != NULL ? request->method : "GET";
    if (request->body != NULL || strcmp(method, "POST") == 0) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body != NULL ? request->body : "");
    }
    /* libcurl sends a request again, unasked, when a reused connection dies before any
     * answer byte: a write the provider applied before the reset would be made twice. A
     * write the caller sends once (lh_http_write, or max_attempts 1) gets a connection of
     * its own, which libcurl never retries. */
    bool write_once =
        strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 && request->max_attempts <= 1;
    curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, write_once ? 1L : 0L);
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    }
    CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) {
        *error_out = received.too_large
                         ? util_printf("response body larger than %u bytes", HTTP_MAX_BODY)
                         : util_printf("%s", curl_easy_strerror(code));
        status = received.too_large ? LH_PERMANENT : LH_RETRY;
        goto out;
    }
    long code_http = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code_http);
    response->status = code_http;
    response->body_len = received.body.len;
    response->body = strbuf_take(&received.body);
    response->headers = received.headers;
    response->header_count = received.header_count;
    response->retry_after_ms = parse_retry_after(received.headers, received.header_count);
    received.headers = NULL;
    received.header_count = 0;
    status = response->body != NULL ? LH_OK : LH_RETRY;
    if (status != LH_OK) {
        *error_out = strdup("out of memory");
    }
out:
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    strbuf_free(&received.body);
    free_headers(received.headers, received.header_count);
    return status;
}

static bool status_retryable(long status)
{
    return status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600);
}

/* The response header named by the request's retry_hint_header, or NULL when none. */
static const char *retry_hint_name(const lh_http_request_t *request)
{
    const char *name = request->retry_hint_header;
    return name != NULL && name[0] != '\0' ? name : NULL;
}

/* Whether to try again after an answer: by its status, unless the provider says otherwise
 * in the hint header (see lh_http_request_t.retry_hint_header). */
static bool answer_retryable(const lh_http_response_t *response, const char *hint_name)
{
    bool retry = status_retryable(response->status);
    const char *hint = hint_name != NULL && response->status >= 400
                           ? lh_response_header(response, hint_name)
                           : NULL;
    if (hint != NULL && strcasecmp(hint, "true") == 0) {
        retry = true;
    } else if (hint != NULL && strcasecmp(hint, "false") == 0) {
        retry = false;
    }
    return retry;
}

/* Full jitter: a uniform delay in [0, min(cap, base * 2^attempt)). */
static int64_t backoff_delay(int attempt, unsigned *seed)
{
    int64_t ceiling =
        util_backoff_ceiling_ms(HTTP_BACKOFF_BASE_MS, HTTP_BACKOFF_CAP_MS, (unsigned)attempt + 1);
    return (int64_t)(rand_r(seed) % (unsigned)ceiling);
}

lh_status_t host_http_perform(lh_ctx_t *ctx, const lh_http_request_t *request,
                              lh_http_response_t *response)
{
    memset(response, 0, sizeof(*response));
    response->struct_size = (uint32_t)sizeof(*response);
    response->retry_after_ms = -1;
    if (request == NULL || request->url == NULL ||
        (strncmp(request->url, "http://", 7) != 0 && strncmp(request->url, "https://", 8) != 0)) {
        if (ctx != NULL) {
            host_api_table()->set_error(ctx, "http: the URL must start with http:// or https://");
        }
        return LH_PERMANENT;
    }
    int attempts = request->max_attempts < 1 ? 1 : request->max_attempts;
    attempts = attempts > HTTP_MAX_ATTEMPTS ? HTTP_MAX_ATTEMPTS : attempts;
    const char *instance = ctx != NULL ? ctx->instance->name : "";
    const char *plugin = ctx != NULL ? ctx->instance->plugin->name : NULL;
    struct metrics *metrics = ctx != NULL ? ctx->instance->services->metrics : NULL;
    char shown_url[256];
    url_for_log(request->url, shown_url, sizeof(shown_url));
    unsigned seed = (unsigned)util_monotonic_ms() ^ (unsigned)(uintptr_t)response;
    const char *hint_name = retry_hint_name(request);

    lh_status_t status = LH_RETRY;
    for (int attempt = 1; attempt <= attempts; attempt++) {
        char *error = NULL;
        host_http_response_free(response);
        int64_t started = util_monotonic_ms();
        status =
            perform_once(request, ctx != NULL && ctx->deadline_cuts_http ? ctx->deadline_ms : 0,
                         response, &error);
        double seconds = (double)(util_monotonic_ms() - started) / 1000.0;
        char status_label[16];
        snprintf(status_label, sizeof(status_label), "%ld", response->status);
        metrics_counter_add(metrics, "leadhub_http_client_requests_total",
                            "Outbound HTTP requests made for plugins, by status (0: no response).",
                            1, "instance", instance, "status", status_label, METRICS_END);
        metrics_observe(metrics, "leadhub_http_client_request_seconds",
                        "Outbound HTTP request latency.", metrics_latency_buckets,
                        metrics_latency_bucket_count, seconds, "instance", instance, METRICS_END);
        log_write(LOG_LEVEL_DEBUG, plugin, instance, NULL, "http %s %s -> %ld (%.3fs)%s%s",
                  request->method ? request->method : "GET", shown_url, response->status, seconds,
                  error ? ": " : "", error ? error : "");

        bool retry =
            status == LH_RETRY || (status == LH_OK && answer_retryable(response, hint_name));
        if (!retry || attempt == attempts) {
            if (status != LH_OK && ctx != NULL) {
                host_api_table()->set_error(ctx, "http %s %s: %s",
                                            request->method ? request->method : "GET", shown_url,
                                            error ? error : "failed");
            }
            free(error);
            break;
        }
        free(error);
        int64_t delay = response->retry_after_ms >= 0 ? response->retry_after_ms
                                                      : backoff_delay(attempt - 1, &seed);
        if (delay > HTTP_RETRY_AFTER_SLEEP_MAX_MS) {
            break; /* too long to wait here: the plugin gets the 429/503 and its Retry-After */
        }
        if (!sleep_unless_stopping(ctx, delay)) {
            break;
        }
    }
    return status;
}

/* Why the plugin's request cannot be sent, or NULL. */
static const char *request_refusal(const struct lh_ctx *ctx, const lh_http_request_t *request)
{
    if (ctx != NULL && (ctx->instance == NULL || ctx->validating)) {
        return "http: validate() may not use the network";
    }
    if (request == NULL || request->struct_size < SDK_HTTP_REQUEST_SIZE_2_0) {
        return "http: the request has no struct_size: write it with LH_HTTP_REQUEST()";
    }
    return NULL;
}

lh_status_t host_http_request(lh_ctx_t *ctx, const lh_http_request_t *request,
                              lh_http_response_t *response)
{
    /* A response without its size cannot even be cleared: its real size is unknown. */
    if (response == NULL || response->struct_size < SDK_HTTP_RESPONSE_SIZE_2_0) {
        if (ctx != NULL) {
            host_api_table()->set_error(ctx, "http: the response has no struct_size: declare it "
                                             "with LH_HTTP_RESPONSE_INIT");
        }
        return LH_PERMANENT;
    }
    uint32_t response_size = response->struct_size;
    lh_http_response_t full;
    lh_http_request_t own;
    const char *refusal = request_refusal(ctx, request);
    lh_status_t status = LH_PERMANENT;
    if (refusal != NULL) {
        memset(&full, 0, sizeof(full));
        full.retry_after_ms = -1;
        if (ctx != NULL) {
            host_api_table()->set_error(ctx, "%s", refusal);
        }
    } else {
        sdk_copy_in(&own, sizeof(own), request, SDK_HTTP_REQUEST_SIZE_2_0);
        status = host_http_perform(ctx, &own, &full);
    }
    /* Back into the plugin's struct, as much of it as it has. Every member that owns
     * memory belongs to 2.0, which any plugin's struct holds. */
    full.struct_size = response_size;
    memcpy(response, &full, response_size < sizeof(full) ? response_size : sizeof(full));
    return status;
}

void host_http_response_free(lh_http_response_t *response)
{
    if (response == NULL || response->struct_size < SDK_HTTP_RESPONSE_SIZE_2_0) {
        return;
    }
    uint32_t size = response->struct_size;
    free(response->body);
    free_headers(response->headers, response->header_count);
    response->body = NULL;
    response->body_len = 0;
    response->headers = NULL;
    response->header_count = 0;
    response->status = 0;
    response->retry_after_ms = -1;
    response->struct_size = size;
}
