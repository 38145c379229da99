/*
 * fuzz_google.c - libFuzzer target for what Google sends the connector: any bytes that parse
 * as a JSON object are read as
 *   {"message": <messages.get format=metadata>, "thread_sent": <To/Cc values or false>,
 *    "history": <history.list page>, "list": <messages.list page>,
 *    "event": <Calendar event>, "envelope": <Pub/Sub push body, any JSON>}
 * and each present member goes through its reader: google_message_emit() (classification,
 * names, RFC 2047), google_gmail_page_ids(), google_meeting_event() and google_webhook()
 * (base64 in both alphabets, the notification). Nothing may crash or leak, and every event
 * emitted must pass the host's own validation (core/event.c).
 *
 * Built by `make fuzz` with the plugin's files, the core library and plugins/common.
 * Seeds: corpus_google/.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../google.h"
#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct lh_ctx {
    int unused;
};

static void fz_log(lh_ctx_t *ctx, lh_log_level_t level, const char *fmt, ...)
{
    (void)ctx;
    (void)level;
    (void)fmt;
}

static void fz_set_error(lh_ctx_t *ctx, const char *fmt, ...)
{
    (void)ctx;
    (void)fmt;
}

static const char *fz_instance_name(lh_ctx_t *ctx)
{
    (void)ctx;
    return "fuzz";
}

static void fz_set_retry_after(lh_ctx_t *ctx, int64_t delay_ms)
{
    (void)ctx;
    (void)delay_ms;
}

static lh_status_t fz_emit(lh_ctx_t *ctx, json_t *event)
{
    (void)ctx;
    struct event_record record;
    char *error = NULL;
    if (event_validate(event, "fuzz", &record, &error) != 0) {
        fprintf(stderr, "the host refuses an emitted event: %s\n", error ? error : "?");
        abort();
    }
    event_record_clear(&record);
    return LH_OK;
}

static void fz_counter(lh_ctx_t *ctx, const char *name, const char *label, const char *value,
                       double delta)
{
    (void)ctx;
    (void)name;
    (void)label;
    (void)value;
    (void)delta;
}

static int64_t fz_now(lh_ctx_t *ctx)
{
    (void)ctx;
    return 1765100000000LL;
}

static int fz_equal(const void *a, const void *b, size_t len)
{
    return memcmp(a, b, len) == 0;
}

static lh_status_t fz_notification_put(lh_ctx_t *ctx, const char *key, json_t *value)
{
    (void)ctx;
    (void)key;
    json_decref(value);
    return LH_OK;
}

static lh_status_t fz_token(lh_ctx_t *ctx, const lh_oauth2_t *config, const char **token)
{
    (void)ctx;
    (void)config;
    (void)token;
    return LH_RETRY; /* no network: a thread check that is not cached fails the message */
}

static const lh_host_t host = {
    .struct_size = sizeof(lh_host_t),
    .abi_major = LH_ABI_MAJOR,
    .abi_minor = LH_ABI_MINOR,
    .log = fz_log,
    .instance_name = fz_instance_name,
    .set_error = fz_set_error,
    .set_retry_after = fz_set_retry_after,
    .emit = fz_emit,
    .counter_add = fz_counter,
    .now_ms = fz_now,
    .digest_equal = fz_equal,
    .notification_put = fz_notification_put,
    .oauth2_token = fz_token,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *input = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(input)) {
        json_decref(input);
        return 0;
    }
    static char *domains[] = {"leadhub-demo.com"};
    static char *aliases[] = {"alias@leadhub-demo.com"};
    static char *calendars[] = {"primary"};
    struct google g = {.host = &host,
                       .mailbox = "maya.chen@leadhub-demo.com",
                       .internal_domains = domains,
                       .internal_domain_count = 1,
                       .aliases = aliases,
                       .alias_count = 1,
                       .calendar_ids = calendars,
                       .calendar_id_count = 1,
                       .include_snippet = true,
                       .push_token = "push-token-3f9c1a7e5b2d4c68",
                       .gmail_base = "http://127.0.0.1:1",
                       .message_get_cost = 5};
    google_quota_init(&g.quota, 250, fz_now(NULL));
    g.quota.units = g.quota.capacity; /* a thread check gets as far as the token */
    struct lh_ctx ctx = {0};

    const json_t *message = json_object_get(input, "message");
    if (message != NULL) {
        json_t *cache = json_object();
        const json_t *sent = json_object_get(input, "thread_sent");
        const char *thread = json_string_value(json_object_get(message, "threadId"));
        if (thread != NULL && (json_is_array(sent) || json_is_false(sent))) {
            json_object_set(cache, thread, (json_t *)sent);
        }
        google_message_emit(&g, &ctx, message, cache);
        json_decref(cache);
    }
    json_decref(google_gmail_page_ids(json_object_get(input, "history"), true));
    json_decref(google_gmail_page_ids(json_object_get(input, "list"), false));
    const json_t *item = json_object_get(input, "event");
    if (item != NULL) {
        const char *skip = NULL;
        json_t *event = google_meeting_event(&g, "primary", item, "America/New_York", &skip);
        if (event != NULL) {
            fz_emit(&ctx, event);
        } else if (skip == NULL) {
            fprintf(stderr, "an event skipped without a reason\n");
            abort();
        }
    }
    const json_t *envelope = json_object_get(input, "envelope");
    if (envelope != NULL) {
        char *body = json_dumps(envelope, JSON_COMPACT | JSON_ENCODE_ANY);
        if (body != NULL) {
            lh_webhook_request_t request = {.struct_size = sizeof(request),
                                            .method = "POST",
                                            .path = "/webhooks/fuzz",
                                            .query = "token=push-token-3f9c1a7e5b2d4c68",
                                            .body = (const unsigned char *)body,
                                            .body_len = strlen(body)};
            google_webhook(&g, &ctx, &request);
            free(body);
        }
    }
    json_decref(input);
    return 0;
}
