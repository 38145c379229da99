/*
 * fuzz_webhook.c - libFuzzer target for the `webhook` plugin's request path: headers,
 * signature check, body parse and emit through the real host table and event validator.
 * Built together with the plugin's own sources and the core library (no dlopen).
 *
 * The first input byte chooses how the rest is used:
 *   0  "<X-Leadhub-Timestamp>\n<X-Leadhub-Signature>\n<body>": headers as an attacker
 *      sends them (almost never a valid signature: the header parsers and refusals)
 *   1  "<body>", signed correctly with the current time: the authenticated path, every
 *      body a trusted sender could post (JSON parse, arrays, emit, validation)
 *   2  "<timestamp>\n<body>", signed correctly with that timestamp: clock-skew arithmetic
 *      on any digits
 * Properties: LH_OK means at least one valid event in the batch and no error; any other
 * status leaves a reason; a bad signature never reaches emit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const lh_plugin_t *leadhub_plugin_entry(void); /* plugins/webhook/webhook.c */

#define SECRET "fuzz-webhook-secret"

static struct plugin plugin;
static struct host_services services;
static struct instance instance;
static atomic_bool stopping;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    setenv("FUZZ_WEBHOOK_SECRET", SECRET, 1);
    plugin =
        (struct plugin){.name = "webhook", .path = "webhook.c", .desc = leadhub_plugin_entry()};
    struct config_instance config = {.name = "hooks",
                                     .plugin = "webhook",
                                     .enabled = true,
                                     .file = "hooks.yaml",
                                     .settings =
                                         json_pack("{s:s}", "secret", "${FUZZ_WEBHOOK_SECRET}")};
    struct diag_list diags = {0};
    json_t *settings = config_settings_validate(&config, plugin.desc->config_schema, &diags);
    json_decref(config.settings);
    if (settings == NULL) {
        diag_print(&diags, stderr);
        abort();
    }
    diag_list_free(&diags);
    services.metrics = metrics_create();
    atomic_init(&stopping, false);
    services.stopping = &stopping;
    pthread_mutex_init(&services.store_mutex, NULL);
    if (instance_setup(&instance, &config, &plugin, settings, &services) != 0 ||
        instance_init(&instance) != LH_OK) {
        fprintf(stderr, "fuzz_webhook: the instance did not start\n");
        abort();
    }
    return 0;
}

static char *sign(const char *timestamp, const uint8_t *body, size_t body_len)
{
    size_t ts_len = strlen(timestamp);
    unsigned char *text = malloc(ts_len + 1 + body_len + 1);
    if (text == NULL) {
        return NULL;
    }
    memcpy(text, timestamp, ts_len);
    text[ts_len] = '.';
    if (body_len > 0) {
        memcpy(text + ts_len + 1, body, body_len);
    }
    unsigned char digest[32];
    crypto_hmac_sha256(SECRET, strlen(SECRET), text, ts_len + 1 + body_len, digest);
    free(text);
    char *signature = malloc(sizeof("sha256=") + 64);
    if (signature != NULL) {
        memcpy(signature, "sha256=", 7);
        lh_hex_encode(digest, sizeof(digest), signature + 7);
    }
    return signature;
}

/* Splits off one line of at most 64 bytes; NULL when there is no newline in reach. */
static char *take_line(const uint8_t **data, size_t *size)
{
    size_t limit = *size < 64 ? *size : 64;
    const uint8_t *newline = memchr(*data, '\n', limit);
    if (newline == NULL) {
        return NULL;
    }
    size_t len = (size_t)(newline - *data);
    char *line = malloc(len + 1);
    if (line == NULL) {
        return NULL;
    }
    memcpy(line, *data, len);
    line[len] = '\0';
    if (memchr(line, '\0', len) != NULL) {
        line[0] = '\0'; /* a header value cannot hold NUL: MHD would have cut it */
    }
    *data += len + 1;
    *size -= len + 1;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    unsigned mode = data[0] % 3;
    data++;
    size--;
    char *timestamp = NULL;
    char *signature = NULL;
    if (mode == 0 || mode == 2) {
        timestamp = take_line(&data, &size);
        if (timestamp == NULL) {
            return 0;
        }
    } else {
        timestamp = malloc(24);
        if (timestamp == NULL) {
            return 0;
        }
        snprintf(timestamp, 24, "%lld", (long long)time(NULL));
    }
    signature = mode == 0 ? take_line(&data, &size) : sign(timestamp, data, size);
    if (signature == NULL) {
        free(timestamp);
        return 0;
    }
    /* the body as the HTTP server hands it over: NUL-terminated after body_len bytes */
    unsigned char *body = malloc(size + 1);
    if (body == NULL) {
        free(timestamp);
        free(signature);
        return 0;
    }
    if (size > 0) {
        memcpy(body, data, size);
    }
    body[size] = '\0';

    lh_header_t headers[] = {{"x-leadhub-timestamp", timestamp},
                             {"X-Leadhub-Signature", signature},
                             {"Content-Type", "application/json"}};
    lh_webhook_request_t request = {(uint32_t)sizeof(lh_webhook_request_t),
                                    "POST",
                                    "/webhooks/hooks",
                                    "",
                                    headers,
                                    3,
                                    body,
                                    size,
                                    "127.0.0.1"};
    struct ingest_batch batch = {0};
    struct lh_ctx ctx;
    ctx_init(&ctx, &instance, &batch);
    lh_status_t status = instance_webhook(&instance, &ctx, &request);
    if (status == LH_OK) {
        if (batch.event_count == 0 || ctx.error != NULL) {
            abort();
        }
    } else {
        if (ctx.error == NULL) {
            abort(); /* every refusal says why */
        }
        if (status == LH_AUTH && batch.event_count != 0) {
            abort(); /* unauthenticated input reached emit */
        }
    }
    ctx_clear(&ctx);
    ingest_batch_clear(&batch);
    free(body);
    free(signature);
    free(timestamp);
    return 0;
}
