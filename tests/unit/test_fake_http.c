/*
 * test_fake_http.c - the installed fake-provider server (sdk/testing/fake_http.h) beyond
 * its script: a stateful handler (a write applied, then a 500), recording a provider's
 * traffic into a fixture with its secrets scrubbed, and replaying that fixture.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"
#include "http_client.h"
#include "testutil.h"
#include "util.h"

/* A provider that stores what is POSTed, then fails the answer: the lost-answer case. */
struct store {
    pthread_mutex_t mutex;
    int records;
};

static int apply_then_fail(void *arg, const struct fake_request *request,
                           struct fake_response *answer)
{
    struct store *store = arg;
    if (strcmp(request->method, "POST") == 0) {
        pthread_mutex_lock(&store->mutex);
        store->records++;
        pthread_mutex_unlock(&store->mutex);
        *answer = (struct fake_response){500, strdup("{\"error\":\"internal\"}"), NULL, 0};
        return 1;
    }
    if (strncmp(request->url, "/records?email=", 15) == 0) {
        pthread_mutex_lock(&store->mutex);
        int found = store->records;
        pthread_mutex_unlock(&store->mutex);
        *answer = (struct fake_response){200, util_printf("{\"total\":%d}", found), NULL, 0};
        return 1;
    }
    return 0; /* routes and the queue answer the rest */
}

START_TEST(test_fake_http_handler_applies_a_write_then_fails_its_answer)
{
    struct fake_http *server = fake_http_start();
    ck_assert_ptr_nonnull(server);
    struct store store = {.records = 0};
    pthread_mutex_init(&store.mutex, NULL);
    fake_http_handler(server, apply_then_fail, &store);
    fake_http_route(server, "/other", (struct fake_response){204, "", NULL, 0}, 0);

    char *url = fake_http_url(server, "/records");
    struct http_result result = {0};
    ck_assert_int_eq(http_request("POST", url, NULL, "{\"email\":\"a@x.example\"}", 23, &result),
                     0);
    ck_assert_int_eq(result.status, 500);
    http_result_free(&result);
    free(url);
    /* ...yet the record is there: a client that looks before re-sending finds it */
    url = fake_http_url(server, "/records?email=a@x.example");
    ck_assert_int_eq(http_get(url, &result), 0);
    ck_assert_str_eq(result.body, "{\"total\":1}");
    http_result_free(&result);
    free(url);
    /* what the handler leaves goes to the routes */
    url = fake_http_url(server, "/other");
    ck_assert_int_eq(http_get(url, &result), 0);
    ck_assert_int_eq(result.status, 204);
    http_result_free(&result);
    free(url);
    ck_assert_uint_eq(fake_http_request_count(server), 3);
    fake_http_stop(server);
    pthread_mutex_destroy(&store.mutex);
}
END_TEST

START_TEST(test_fake_http_records_a_provider_with_secrets_scrubbed_and_replays_it)
{
    /* the "real" provider */
    struct fake_http *provider = fake_http_start();
    ck_assert_ptr_nonnull(provider);
    fake_http_route(
        provider, "/oauth/token",
        (struct fake_response){200,
                               "{\"access_token\":\"at-9f8e7d6c5b\",\"expires_in\":3600,"
                               "\"user\":{\"refresh_token\":\"rt-1a2b3c\",\"name\":\"Ada\"}}",
                               NULL, 0},
        0);
    fake_http_route(provider, "/v1/persons?limit=2&api_key=k-55aa77",
                    (struct fake_response){429, "{\"error\":\"slow down\"}", "Retry-After: 7", 0},
                    0);
    char *upstream = fake_http_url(provider, "");

    char *dir = tu_tmpdir();
    char *fixture = tu_path(dir, "provider.jsonl");
    struct fake_http *recorder = fake_http_start();
    ck_assert_int_eq(fake_http_record(recorder, upstream, fixture), 0);
    const char *auth[] = {"Authorization: Bearer secret-bearer-0042", NULL};
    char *url = fake_http_url(recorder, "/oauth/token");
    struct http_result result = {0};
    ck_assert_int_eq(
        http_request("POST", url, auth, "client_secret=cs-77&grant_type=x", 32, &result), 0);
    /* the client gets the provider's real answer */
    ck_assert_int_eq(result.status, 200);
    ck_assert_ptr_nonnull(strstr(result.body, "at-9f8e7d6c5b"));
    http_result_free(&result);
    free(url);
    url = fake_http_url(recorder, "/v1/persons?limit=2&api_key=k-55aa77");
    ck_assert_int_eq(http_get(url, &result), 0);
    ck_assert_int_eq(result.status, 429);
    http_result_free(&result);
    free(url);
    fake_http_stop(recorder);
    /* the provider saw the credentials: they were forwarded */
    struct fake_request seen = fake_http_request(provider, 0);
    ck_assert_str_eq(seen.authorization, "Bearer secret-bearer-0042");
    fake_http_request_free(&seen);

    /* the fixture holds none of them */
    char *text = util_read_file(fixture, 1 << 20, NULL);
    ck_assert_ptr_nonnull(text);
    const char *secrets[] = {"at-9f8e7d6c5b", "rt-1a2b3c", "secret-bearer-0042", "k-55aa77"};
    for (size_t i = 0; i < UTIL_ARRAY_LEN(secrets); i++) {
        ck_assert_msg(strstr(text, secrets[i]) == NULL, "%s recorded:\n%s", secrets[i], text);
    }
    ck_assert_msg(strstr(text, "Ada") != NULL, "the rest is kept:\n%s", text);
    ck_assert_ptr_nonnull(strstr(text, "Retry-After: 7"));
    free(text);

    /* replayed without the provider: same statuses and bodies (scrubbed), in order */
    fake_http_stop(provider);
    struct fake_http *replay = fake_http_start();
    ck_assert_int_eq(fake_http_replay(replay, fixture), 2);
    url = fake_http_url(replay, "/v1/persons?limit=2&api_key=another-key");
    ck_assert_int_eq(http_get(url, &result), 0);
    ck_assert_int_eq(result.status, 429);
    ck_assert_ptr_nonnull(strstr(result.headers, "Retry-After: 7"));
    http_result_free(&result);
    free(url);
    url = fake_http_url(replay, "/oauth/token");
    ck_assert_int_eq(http_request("POST", url, NULL, "x", 1, &result), 0);
    ck_assert_int_eq(result.status, 200);
    ck_assert_ptr_nonnull(strstr(result.body, "\"access_token\":\"[scrubbed]\""));
    http_result_free(&result);
    /* each line answers once: then the queue's default */
    ck_assert_int_eq(http_request("POST", url, NULL, "x", 1, &result), 0);
    ck_assert_int_eq(result.status, 200);
    ck_assert_str_eq(result.body, "{}");
    http_result_free(&result);
    free(url);
    fake_http_stop(replay);

    tu_write_file(dir, "broken.jsonl", "{\"method\": \"GET\"}\n");
    char *broken = tu_path(dir, "broken.jsonl");
    struct fake_http *refusing = fake_http_start();
    ck_assert_int_eq(fake_http_replay(refusing, broken), -1);
    fake_http_stop(refusing);
    free(broken);
    free(upstream);
    free(fixture);
    tu_rmrf(dir);
    free(dir);
}
END_TEST

/* A provider's answer often carries several headers that matter together (a 429 with
 * Retry-After and its rate-limit headers): each line of `header` is one. */
START_TEST(test_fake_http_answers_with_several_headers)
{
    struct fake_http *server = fake_http_start();
    ck_assert_ptr_nonnull(server);
    fake_http_push(server, (struct fake_response){429, "{}",
                                                  "Retry-After: 2\nx-ratelimit-remaining: 0\n"
                                                  "x-daily-requests-left:17",
                                                  0});
    char *url = fake_http_url(server, "/persons");
    struct http_result result = {0};
    ck_assert_int_eq(http_get(url, &result), 0);
    ck_assert_int_eq(result.status, 429);
    ck_assert_msg(strstr(result.headers, "Retry-After: 2\r\n") != NULL, "%s", result.headers);
    ck_assert_msg(strstr(result.headers, "x-ratelimit-remaining: 0\r\n") != NULL, "%s",
                  result.headers);
    ck_assert_msg(strstr(result.headers, "x-daily-requests-left: 17\r\n") != NULL, "%s",
                  result.headers);
    http_result_free(&result);
    free(url);
    fake_http_stop(server);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fake_http");
    TCase *tc = tcase_create("fake provider");
    tcase_add_test(tc, test_fake_http_handler_applies_a_write_then_fails_its_answer);
    tcase_add_test(tc, test_fake_http_records_a_provider_with_secrets_scrubbed_and_replays_it);
    tcase_add_test(tc, test_fake_http_answers_with_several_headers);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
