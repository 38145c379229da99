/* http_client.c - see http_client.h. */
#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "http_client.h"
#include "leadhub.h"
#include "util.h"

static size_t collect(char *data, size_t size, size_t count, void *arg)
{
    strbuf_append_len(arg, data, size * count);
    return size * count;
}

int http_request(const char *method, const char *url, const char *const *headers, const char *body,
                 size_t body_len, struct http_result *out)
{
    memset(out, 0, sizeof(*out));
    CURL *curl = curl_easy_init();
    if (curl == NULL) {
        return -1;
    }
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        list = curl_slist_append(list, headers[i]);
    }
    struct strbuf response = {0}, header_text = {0};
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) {
        /* a HEAD answer carries the GET's Content-Length and no body: not one to wait for */
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &header_text);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)body_len);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
    }
    out->body = strbuf_take(&response);
    out->headers = strbuf_take(&header_text);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return code == CURLE_OK ? 0 : -1;
}

int http_get(const char *url, struct http_result *out)
{
    return http_request("GET", url, NULL, NULL, 0, out);
}

void http_result_free(struct http_result *result)
{
    free(result->body);
    free(result->headers);
    memset(result, 0, sizeof(*result));
}

void http_sign_webhook(const char *secret, long long timestamp, const char *body, char *out[2])
{
    char *signed_text = util_printf("%lld.%s", timestamp, body);
    unsigned char digest[32];
    crypto_hmac_sha256(secret, strlen(secret), signed_text, strlen(signed_text), digest);
    char hex[65];
    lh_hex_encode(digest, sizeof(digest), hex);
    out[0] = util_printf("X-Leadhub-Timestamp: %lld", timestamp);
    out[1] = util_printf("X-Leadhub-Signature: sha256=%s", hex);
    free(signed_text);
}

void http_post_many(const char *url, char *const *bodies, char **const *headers, size_t count,
                    size_t parallel, long *statuses, void (*on_progress)(size_t done, void *arg),
                    void *arg)
{
    CURLM *multi = curl_multi_init();
    struct curl_slist **lists = calloc(count + 1, sizeof(*lists));
    struct strbuf *sinks = calloc(count + 1, sizeof(*sinks)); /* response bodies, unused */
    size_t next = 0, running_count = 0, done = 0;
    memset(statuses, 0, count * sizeof(*statuses));
    while (done < count) {
        while (next < count && running_count < parallel) {
            CURL *curl = curl_easy_init();
            for (size_t h = 0; headers[next] != NULL && headers[next][h] != NULL; h++) {
                lists[next] = curl_slist_append(lists[next], headers[next][h]);
            }
            curl_easy_setopt(curl, CURLOPT_URL, url);
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, bodies[next]);
            curl_easy_setopt(curl, CURLOPT_HTTPHEADER, lists[next]);
            curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
            curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
            curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
            curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sinks[next]);
            curl_easy_setopt(curl, CURLOPT_PRIVATE, (void *)(uintptr_t)next);
            curl_multi_add_handle(multi, curl);
            next++;
            running_count++;
        }
        int still = 0;
        curl_multi_perform(multi, &still);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE) {
                continue;
            }
            CURL *curl = msg->easy_handle;
            void *private_data = NULL;
            curl_easy_getinfo(curl, CURLINFO_PRIVATE, &private_data);
            size_t index = (size_t)(uintptr_t)private_data;
            if (msg->data.result == CURLE_OK) {
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &statuses[index]);
            }
            curl_multi_remove_handle(multi, curl);
            curl_easy_cleanup(curl);
            running_count--;
            done++;
            if (on_progress != NULL) {
                on_progress(done, arg);
            }
        }
    }
    for (size_t i = 0; i < count; i++) {
        curl_slist_free_all(lists[i]);
        strbuf_free(&sinks[i]);
    }
    free(lists);
    free(sinks);
    curl_multi_cleanup(multi);
}
