/*
 * fake_http_record.c - record a real provider's traffic through the fake server into a
 * fixture file with its secrets scrubbed, and replay such a fixture: a fake provider's
 * answers taken from the provider itself, without its credentials.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "fake_http.h"
#include "fake_http_internal.h"
#include "util.h"

#define SCRUBBED "[scrubbed]"

/* A name whose value is a secret: a header, a JSON key, a query parameter. */
static bool secret_name(const char *name, size_t len)
{
    static const char *const words[] = {"token",     "secret",        "password", "passwd", "key",
                                        "signature", "authorization", "cookie",   "code"};
    char lower[128];
    len = len < sizeof(lower) - 1 ? len : sizeof(lower) - 1;
    for (size_t i = 0; i < len; i++) {
        lower[i] = (char)tolower((unsigned char)name[i]);
    }
    lower[len] = '\0';
    for (size_t i = 0; i < UTIL_ARRAY_LEN(words); i++) {
        if (strstr(lower, words[i]) != NULL) {
            return true;
        }
    }
    return false;
}

/* A JSON value with every string under a secret-named key replaced. Stolen and returned. */
static json_t *scrub_json(json_t *value)
{
    const char *key;
    json_t *member;
    size_t i;
    if (json_is_object(value)) {
        json_object_foreach(value, key, member)
        {
            if (secret_name(key, strlen(key)) && json_is_string(member)) {
                json_object_set_new(value, key, json_string(SCRUBBED));
            } else {
                scrub_json(member);
            }
        }
    } else if (json_is_array(value)) {
        json_array_foreach(value, i, member)
        {
            scrub_json(member);
        }
    }
    return value;
}

/* A body as written to a fixture: JSON scrubbed, anything else as is. NEW string. */
static char *scrub_body(const char *body)
{
    json_t *json = body != NULL && *body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    if (json == NULL) {
        return strdup(body != NULL ? body : "");
    }
    char *text = json_dumps(scrub_json(json), JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(json);
    return text;
}

/* A path and query with secret-named parameters' values masked. NEW string. */
static char *scrub_url(const char *url)
{
    struct strbuf out = {0};
    const char *query = strchr(url, '?');
    if (query == NULL) {
        return strdup(url);
    }
    strbuf_append_len(&out, url, (size_t)(query - url) + 1);
    for (const char *p = query + 1; *p != '\0';) {
        size_t len = strcspn(p, "&");
        const char *equals = memchr(p, '=', len);
        if (equals != NULL && secret_name(p, (size_t)(equals - p))) {
            strbuf_append_len(&out, p, (size_t)(equals - p) + 1);
            strbuf_append(&out, SCRUBBED);
        } else {
            strbuf_append_len(&out, p, len);
        }
        p += len;
        if (*p == '&') {
            strbuf_append(&out, "&");
            p++;
        }
    }
    return strbuf_take(&out);
}

/* --- recording -------------------------------------------------------------------------- */

struct recorder {
    char *upstream;
    FILE *file;
    pthread_mutex_t mutex;
};

static size_t collect(char *data, size_t size, size_t count, void *arg)
{
    strbuf_append_len(arg, data, size * count);
    return size * count;
}

/* The upstream's Retry-After (the one header a replay needs to mean the same). */
static size_t collect_header(char *data, size_t size, size_t count, void *arg)
{
    char **retry_after = arg;
    size_t len = size * count;
    if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0 && *retry_after == NULL) {
        size_t start = 12;
        while (start < len && data[start] == ' ') {
            start++;
        }
        size_t end = len;
        while (end > start && (data[end - 1] == '\r' || data[end - 1] == '\n')) {
            end--;
        }
        *retry_after = util_printf("Retry-After: %.*s", (int)(end - start), data + start);
    }
    return len;
}

static int record_handler(void *arg, const struct fake_request *request,
                          struct fake_response *answer)
{
    struct recorder *recorder = arg;
    struct strbuf body = {0};
    char *retry_after = NULL;
    struct curl_slist *headers = NULL;
    /* every header but the ones the transport sets */
    for (const char *line = request->headers; line != NULL && *line != '\0';) {
        size_t len = strcspn(line, "\n");
        if (strncasecmp(line, "host:", 5) != 0 && strncasecmp(line, "content-length:", 15) != 0 &&
            strncasecmp(line, "connection:", 11) != 0) {
            char *header = strndup(line, len);
            headers = curl_slist_append(headers, header);
            free(header);
        }
        line += len + (line[len] == '\n');
    }
    char *url = util_printf("%s%s", recorder->upstream, request->url);
    CURL *curl = curl_easy_init();
    long status = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (curl != NULL) {
        curl_easy_setopt(curl, CURLOPT_URL, url);
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request->method);
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        if (request->body != NULL && *request->body) {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(request->body));
        }
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
        curl_easy_setopt(curl, CURLOPT_HEADERDATA, &retry_after);
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
        rc = curl_easy_perform(curl);
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(curl);
    }
    curl_slist_free_all(headers);
    free(url);
    if (rc != CURLE_OK) {
        /* the upstream did not answer: neither does the fake (nothing is recorded) */
        strbuf_free(&body);
        free(retry_after);
        *answer = (struct fake_response){FAKE_CLOSE, NULL, NULL, 0};
        return 1;
    }
    char *scrubbed_url = scrub_url(request->url);
    char *scrubbed_body = scrub_body(request->body);
    char *scrubbed_answer = scrub_body(strbuf_value(&body));
    json_t *line = json_pack("{s:s, s:s, s:s, s:i, s:s?, s:s}", "method", request->method, "url",
                             scrubbed_url, "body", scrubbed_body, "status", (int)status, "header",
                             retry_after, "answer", scrubbed_answer);
    char *text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
    if (text != NULL) {
        pthread_mutex_lock(&recorder->mutex);
        fprintf(recorder->file, "%s\n", text);
        fflush(recorder->file);
        pthread_mutex_unlock(&recorder->mutex);
    }
    free(text);
    json_decref(line);
    free(scrubbed_answer);
    free(scrubbed_body);
    free(scrubbed_url);
    /* the test's client gets the real answer; only the fixture is scrubbed */
    *answer = (struct fake_response){(int)status, strbuf_take(&body), retry_after, 0};
    return 1;
}

static void recorder_free(void *arg)
{
    struct recorder *recorder = arg;
    fclose(recorder->file);
    free(recorder->upstream);
    pthread_mutex_destroy(&recorder->mutex);
    free(recorder);
}

int fake_http_record(struct fake_http *server, const char *upstream_base, const char *path)
{
    struct recorder *recorder = calloc(1, sizeof(*recorder));
    if (recorder == NULL || (recorder->file = fopen(path, "a")) == NULL) {
        free(recorder);
        return -1;
    }
    recorder->upstream = strdup(upstream_base);
    size_t len = strlen(recorder->upstream);
    if (len > 0 && recorder->upstream[len - 1] == '/') {
        recorder->upstream[len - 1] = '\0';
    }
    pthread_mutex_init(&recorder->mutex, NULL);
    fake_http_own(server, record_handler, recorder, recorder_free);
    return 0;
}

/* --- replay ------------------------------------------------------------------------------ */

struct replayer {
    json_t *lines; /* the fixture's objects, each with "used" once taken */
    pthread_mutex_t mutex;
};

static int replay_handler(void *arg, const struct fake_request *request,
                          struct fake_response *answer)
{
    struct replayer *replayer = arg;
    char *url = scrub_url(request->url);
    int found = 0;
    pthread_mutex_lock(&replayer->mutex);
    size_t i;
    json_t *line;
    json_array_foreach(replayer->lines, i, line)
    {
        if (json_object_get(line, "used") == NULL &&
            strcmp(json_string_value(json_object_get(line, "method")), request->method) == 0 &&
            strcmp(json_string_value(json_object_get(line, "url")), url) == 0) {
            json_object_set_new(line, "used", json_true());
            const char *header = json_string_value(json_object_get(line, "header"));
            *answer =
                (struct fake_response){(int)json_integer_value(json_object_get(line, "status")),
                                       strdup(json_string_value(json_object_get(line, "answer"))),
                                       header != NULL ? strdup(header) : NULL, 0};
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&replayer->mutex);
    free(url);
    return found;
}

static void replayer_free(void *arg)
{
    struct replayer *replayer = arg;
    json_decref(replayer->lines);
    pthread_mutex_destroy(&replayer->mutex);
    free(replayer);
}

int fake_http_replay(struct fake_http *server, const char *path)
{
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        return -1;
    }
    struct replayer *replayer = calloc(1, sizeof(*replayer));
    json_t *lines = json_array();
    char *text = NULL;
    size_t size = 0;
    int count = 0;
    while (replayer != NULL && lines != NULL && getline(&text, &size, file) > 0) {
        json_t *line = json_loads(text, 0, NULL);
        if (!json_is_string(json_object_get(line, "method")) ||
            !json_is_string(json_object_get(line, "url")) ||
            !json_is_integer(json_object_get(line, "status")) ||
            !json_is_string(json_object_get(line, "answer"))) {
            json_decref(line);
            count = -1;
            break;
        }
        json_array_append_new(lines, line);
        count++;
    }
    free(text);
    fclose(file);
    if (replayer == NULL || lines == NULL || count < 0) {
        json_decref(lines);
        free(replayer);
        return -1;
    }
    replayer->lines = lines;
    pthread_mutex_init(&replayer->mutex, NULL);
    fake_http_own(server, replay_handler, replayer, replayer_free);
    return count;
}
