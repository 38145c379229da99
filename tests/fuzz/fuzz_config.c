/*
 * fuzz_config.c - libFuzzer target for the configuration front end (core/config_*.c,
 * core/router.c): the bytes of a file an operator writes.
 *
 * The first input byte chooses what the rest is:
 *   0  a main file in YAML: parsed, applied (every main key checked), its routes built
 *      against two instances and matched against a few events
 *   1  the same in JSON
 *   2  an instance's `settings` in YAML, validated against a schema that uses every
 *      field type (references resolved, defaults filled, secrets checked)
 *   3  the same in JSON
 * Properties beyond "no crash, no leak, no UB": a YAML document that parses has a JSON
 * form that parses back to the same tree; a parse or a validation that fails says why,
 * and one that succeeds reports no error.
 *
 * ${file:...} references may only name files under /tmp/leadhub-fuzz-config (made at
 * start): the fuzzer must not read whatever the machine holds, or block on a device.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "config.h"
#include "config_internal.h"
#include "config_yaml.h"
#include "loader.h"
#include "router.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_DIR "/tmp/leadhub-fuzz-config"

static const char *const source_types[] = {"lead.created", "meeting.scheduled", NULL};

static const lh_config_field_t every_type[] = {
    LH_FIELD(.name = "url", .type = LH_CONFIG_STRING, .flags = LH_FIELD_REQUIRED,
             .description = "u"),
    LH_FIELD(.name = "secret", .type = LH_CONFIG_SECRET, .description = "s"),
    LH_FIELD(.name = "count", .type = LH_CONFIG_INT, .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX,
             .default_value = "5", .min = 1, .max = 1000, .description = "c"),
    LH_FIELD(.name = "enabled", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description = "b"),
    LH_FIELD(.name = "ratio", .type = LH_CONFIG_DOUBLE,
             .flags = LH_FIELD_HAS_MIN | LH_FIELD_HAS_MAX, .default_value = "0.5", .min = 0,
             .max = 1, .description = "d"),
    LH_FIELD(.name = "timeout", .type = LH_CONFIG_DURATION, .flags = LH_FIELD_HAS_MIN,
             .default_value = "10s", .min = 100, .description = "t"),
    LH_FIELD(.name = "mode", .type = LH_CONFIG_ENUM,
             .enum_values = (const char *const[]){"fast", "safe", NULL}, .default_value = "safe",
             .description = "e"),
    LH_FIELD(.name = "scopes", .type = LH_CONFIG_LIST, .description = "l"),
    LH_FIELD(.name = "extra", .type = LH_CONFIG_JSON, .description = "j"),
    LH_FIELD_END,
};

static lh_status_t stub_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                             void **state_out)
{
    (void)ctx;
    (void)host;
    (void)settings;
    *state_out = NULL;
    return LH_OK;
}

static void stub_destroy(void *state)
{
    (void)state;
}

static lh_status_t stub_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    (void)state;
    (void)ctx;
    (void)request;
    return LH_OK;
}

static lh_status_t stub_deliver(void *state, lh_ctx_t *ctx, const lh_delivery_t *delivery)
{
    (void)state;
    (void)ctx;
    (void)delivery;
    return LH_OK;
}

static const lh_plugin_t source_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .name = "src",
    .version = "1.0.0",
    .description = "fuzz source",
    .config_schema = (const lh_config_field_t[]){LH_FIELD_END},
    .event_types = source_types,
    .init = stub_init,
    .destroy = stub_destroy,
    .webhook = stub_webhook,
};

static const lh_plugin_t sink_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SINK,
    .name = "snk",
    .version = "1.0.0",
    .description = "fuzz sink",
    .config_schema = (const lh_config_field_t[]){LH_FIELD_END},
    .init = stub_init,
    .destroy = stub_destroy,
    .deliver = stub_deliver,
};

static struct plugin registry_plugins[2] = {
    {.name = "src", .path = "src.so", .desc = &source_plugin},
    {.name = "snk", .path = "snk.so", .desc = &sink_plugin},
};

static const char *const sample_events[] = {
    ("{\"type\":\"lead.created\",\"source\":\"inbound\",\"source_id\":\"1\","
     "\"occurred_at\":\"2026-11-27T10:00:00.000Z\",\"lead\":{\"email\":\"a@b.example\","
     "\"company\":\"Acme\",\"attributes\":{\"score\":42,\"tags\":[\"x\",\"y\"]}}}"),
    ("{\"type\":\"meeting.scheduled\",\"source\":\"inbound\",\"source_id\":\"2\","
     "\"occurred_at\":\"2026-11-27T10:00:00.000Z\",\"meeting\":{\"external_id\":\"m\","
     "\"status\":\"scheduled\",\"attendees\":[{\"email\":\"c@d.example\"}]}}"),
    ("{\"type\":\"custom.thing\",\"source\":\"other\",\"source_id\":\"3\","
     "\"occurred_at\":\"2026-11-27T10:00:00.000Z\",\"data\":{\"amount\":1200,\"ok\":true}}"),
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    json_object_seed(1);
    setenv("FUZZ_SECRET", "s3cret", 1);
    setenv("FUZZ_EMPTY", "", 1);
    setenv("FUZZ_URL", "https://example.com/x", 1);
    mkdir(FILE_DIR, 0755);
    FILE *f = fopen(FILE_DIR "/secret", "w");
    if (f != NULL) {
        fputs("from-a-file\n", f);
        fclose(f);
    }
    return 0;
}

/* Only ${file:FILE_DIR/...} may be read. */
static bool file_references_allowed(const char *text, size_t len)
{
    static const char marker[] = "file:";
    static const char allowed[] = FILE_DIR "/";
    for (size_t i = 0; i + sizeof(marker) - 1 <= len; i++) {
        if (memcmp(text + i, marker, sizeof(marker) - 1) == 0) {
            size_t rest = len - i - (sizeof(marker) - 1);
            if (rest < sizeof(allowed) - 1 ||
                memcmp(text + i + sizeof(marker) - 1, allowed, sizeof(allowed) - 1) != 0 ||
                memmem(text + i, len - i, "..", 2) != NULL) {
                return false;
            }
        }
    }
    return true;
}

static int parse(bool yaml, const char *text, size_t len, json_t **tree, json_t **lines,
                 struct diag_list *diags)
{
    return yaml ? config_yaml_parse(text, len, "fuzz.yaml", tree, lines, diags)
                : config_json_parse(text, len, "fuzz.json", tree, lines, diags);
}

/* A YAML tree written as JSON parses back to the same tree. */
static void check_json_round_trip(const json_t *tree)
{
    char *text = json_dumps(tree, JSON_ENCODE_ANY | JSON_COMPACT);
    if (text == NULL) {
        return; /* e.g. a real that is not finite: nothing to compare */
    }
    struct diag_list diags = {0};
    json_t *again = NULL;
    if (config_json_parse(text, strlen(text), "again.json", &again, NULL, &diags) != 0 ||
        !json_equal(again, tree)) {
        fprintf(stderr, "YAML tree does not survive JSON: %s\n", text);
        abort();
    }
    json_decref(again);
    diag_list_free(&diags);
    free(text);
}

static void count_destination(const char *route, const char *destination, void *arg)
{
    if (route == NULL || destination == NULL) {
        abort();
    }
    (*(size_t *)arg)++;
}

static void match_events(const struct router *router)
{
    for (size_t i = 0; i < sizeof(sample_events) / sizeof(sample_events[0]); i++) {
        json_t *event = json_loads(sample_events[i], 0, NULL);
        size_t seen = 0;
        size_t emitted = router_match(router, event, -1, count_destination, &seen);
        if (emitted != seen) {
            abort();
        }
        json_decref(event);
    }
}

static void main_file(const json_t *tree, const json_t *lines)
{
    struct diag_list diags = {0};
    struct config *config = calloc(1, sizeof(*config));
    if (config == NULL) {
        return;
    }
    config->file = strdup("fuzz.yaml");
    config->dir = strdup("/tmp");
    config->log_level = LOG_LEVEL_INFO;
    config->lines = json_incref((json_t *)lines);
    struct config_where where = {.file = config->file, .lines = config->lines};
    config_main_apply(config, tree, &where, &diags);
    if (diag_error_count(&diags) == 0 && config->routes != NULL) {
        /* two instances the routes can name */
        config->instances = calloc(2, sizeof(*config->instances));
        if (config->instances != NULL) {
            config->instance_count = 2;
            config->instances[0] = (struct config_instance){.name = strdup("inbound"),
                                                            .plugin = strdup("src"),
                                                            .enabled = true,
                                                            .settings = json_object(),
                                                            .file = strdup("inbound.yaml"),
                                                            .lines = json_object()};
            config->instances[1] = (struct config_instance){.name = strdup("out"),
                                                            .plugin = strdup("snk"),
                                                            .enabled = true,
                                                            .settings = json_object(),
                                                            .file = strdup("out.yaml"),
                                                            .lines = json_object()};
            struct plugin_registry registry = {.plugins = registry_plugins, .count = 2};
            struct router *router = router_build(config, &registry, &diags);
            if (router != NULL) {
                match_events(router);
                router_free(router);
            }
        }
    }
    diag_list_free(&diags);
    config_free(config);
}

static void settings_file(json_t *tree, json_t *lines)
{
    struct config_instance instance = {.name = "fuzz",
                                       .plugin = "p",
                                       .enabled = true,
                                       .settings = tree,
                                       .file = "fuzz.yaml",
                                       .lines = lines};
    struct diag_list diags = {0};
    json_t *settings = config_settings_validate(&instance, every_type, &diags);
    if (settings != NULL) {
        if (diag_error_count(&diags) != 0) {
            abort(); /* a result despite errors */
        }
        json_t *redacted = config_settings_redacted(settings, every_type);
        if (redacted == NULL && json_is_object(settings)) {
            abort();
        }
        json_decref(redacted);
        json_decref(settings);
    } else if (diag_error_count(&diags) == 0) {
        abort(); /* refused without saying why */
    }
    diag_list_free(&diags);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > CONFIG_PARSE_MAX_FILE) {
        return 0;
    }
    unsigned mode = data[0] % 4;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (!file_references_allowed(text, len)) {
        return 0;
    }
    bool yaml = mode == 0 || mode == 2;
    json_t *tree = NULL;
    json_t *lines = NULL;
    struct diag_list diags = {0};
    if (parse(yaml, text, len, &tree, &lines, &diags) != 0) {
        if (tree != NULL || lines != NULL || diag_error_count(&diags) == 0) {
            abort(); /* failure leaves no output and says why */
        }
        diag_list_free(&diags);
        return 0;
    }
    diag_list_free(&diags);
    if (yaml) {
        check_json_round_trip(tree);
    }
    if (mode < 2) {
        main_file(tree, lines);
    } else {
        settings_file(tree, lines);
    }
    json_decref(tree);
    json_decref(lines);
    return 0;
}
