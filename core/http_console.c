/* http_console.c - see http_console.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_files.h"
#include "http_console.h"

struct http_console {
    pthread_rwlock_t lock; /* HTTP threads read; a load swaps the set */
    struct console_files *files;
    char *missing; /* why nothing is served (no load succeeded yet), or NULL */
};

struct http_console *http_console_new(void)
{
    struct http_console *console = calloc(1, sizeof(*console));
    if (console == NULL) {
        return NULL;
    }
    pthread_rwlock_init(&console->lock, NULL);
    console->missing = strdup("the console is not installed");
    return console;
}

long http_console_load(struct http_console *console, const char *dir, char **error_out)
{
    struct console_files *files = console_files_load(dir, error_out);
    if (files == NULL) {
        return -1;
    }
    long count = (long)console_files_count(files);
    pthread_rwlock_wrlock(&console->lock);
    struct console_files *old = console->files;
    console->files = files;
    free(console->missing);
    console->missing = NULL;
    pthread_rwlock_unlock(&console->lock);
    console_files_free(old);
    return count;
}

void http_console_free(struct http_console *console)
{
    if (console == NULL) {
        return;
    }
    console_files_free(console->files);
    free(console->missing);
    pthread_rwlock_destroy(&console->lock);
    free(console);
}

static void add_security_headers(struct MHD_Response *response)
{
    MHD_add_response_header(response, "Content-Security-Policy", HTTP_CONSOLE_CSP);
    MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(response, "X-Frame-Options", "DENY");
    MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(response, "Cross-Origin-Opener-Policy", "same-origin");
    MHD_add_response_header(response, "Cross-Origin-Resource-Policy", "same-origin");
}

/* A short JSON error in the API's shape. */
static struct MHD_Response *error_response(const char *code, const char *message)
{
    char body[512];
    int len = snprintf(body, sizeof(body),
                       "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"details\":null}}", code,
                       message);
    if (len < 0 || (size_t)len >= sizeof(body)) {
        len = (int)strlen(strcpy(body, "{\"error\":{\"code\":\"not_found\",\"message\":\"\","
                                       "\"details\":null}}"));
    }
    struct MHD_Response *response =
        MHD_create_response_from_buffer((size_t)len, body, MHD_RESPMEM_MUST_COPY);
    if (response != NULL) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        add_security_headers(response);
    }
    return response;
}

/* Whether an If-None-Match header names `etag` (a list, or "*"). */
static bool etag_matches(const char *if_none_match, const char *etag)
{
    if (if_none_match == NULL) {
        return false;
    }
    if (strcmp(if_none_match, "*") == 0) {
        return true;
    }
    size_t len = strlen(etag);
    for (const char *p = strstr(if_none_match, etag); p != NULL; p = strstr(p + 1, etag)) {
        char after = p[len];
        if (after == '\0' || after == ',' || after == ' ') {
            return true;
        }
    }
    return false;
}

/* For HEAD too: MHD sends the headers of the GET answer, Content-Length included, and no
 * body. */
static struct MHD_Response *file_response(const struct console_file *file, bool not_modified,
                                          unsigned *status_out)
{
    struct MHD_Response *response =
        not_modified
            ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
            : MHD_create_response_from_buffer(file->len, file->data, MHD_RESPMEM_MUST_COPY);
    if (response == NULL) {
        return NULL;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, file->content_type);
    MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, file->etag);
    /* hashed names never change content; index.html names the current ones, so a browser
     * asks again (and gets 304 while it is unchanged) */
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                            file->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    add_security_headers(response);
    *status_out = not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    return response;
}

struct MHD_Response *http_console_response(struct http_console *console, const char *url,
                                           const char *method, const char *if_none_match,
                                           unsigned *status_out)
{
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0) {
        struct MHD_Response *response =
            error_response("method_not_allowed", "the console takes GET and HEAD");
        if (response != NULL) {
            MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        }
        *status_out = MHD_HTTP_METHOD_NOT_ALLOWED;
        return response;
    }
    const char *rest = url + strlen(HTTP_CONSOLE_PREFIX);
    if (*rest == '\0') {
        struct MHD_Response *response =
            MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (response != NULL) {
            MHD_add_response_header(response, MHD_HTTP_HEADER_LOCATION, HTTP_CONSOLE_PREFIX "/");
            add_security_headers(response);
        }
        *status_out = MHD_HTTP_PERMANENT_REDIRECT;
        return response;
    }
    const char *path = rest[1] == '\0' ? "index.html" : rest + 1; /* after "/console/" */
    struct MHD_Response *response = NULL;
    pthread_rwlock_rdlock(&console->lock);
    const struct console_file *file = console_files_find(console->files, path);
    if (file != NULL) {
        response = file_response(file, etag_matches(if_none_match, file->etag), status_out);
    } else {
        char message[160];
        snprintf(message, sizeof(message), "%s",
                 console->missing != NULL ? console->missing : "no such file in the console");
        response = error_response("not_found", message);
        *status_out = MHD_HTTP_NOT_FOUND;
    }
    pthread_rwlock_unlock(&console->lock);
    return response;
}
