/*
 * test_plugin_settings.c - every plugin of the tree: what its init() refuses as settings
 * that cannot work (LH_CONFIG) is reported offline too, by its validate() (what
 * `leadhubd check-config` runs), and what validate() reports init() refuses: "valid" must
 * mean "the instance will start".
 *
 * Each plugin in build/plugins starts from settings that work (a table below: a plugin the
 * table lacks fails the test, so a new plugin cannot slip past), then each field of its
 * schema is given, one at a time, the values that break plugins (empty, a blank, an ftp://
 * URL, credentials in a URL, control characters, unknown list entries, JSON of the wrong
 * shape, each enum value, the range's ends, the field left out) plus hand-written cases
 * per plugin. Each case goes through the host's schema check as a file's settings would;
 * the ones the schema already refuses are refused offline by construction. The others are
 * handed to validate() offline and to init() directly, and the two must agree.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "config.h"
#include "instance.h"
#include "loader.h"
#include "metrics.h"
#include "testutil.h"
#include "util.h"

/* Settings that work, written as an instance file would give them. */
static const struct {
    const char *plugin;
    const char *settings;
    bool refuses_something; /* some single-field case must make init() refuse */
} bases[] = {
    {"webhook", "{\"secret\": \"${LHT_SECRET}\"}", false},
    {"http", "{\"url\": \"https://receiver.example/hook\", \"secret\": \"${LHT_SECRET}\"}", true},
    {"stripe", "{\"api_key\": \"${LHT_STRIPE_KEY}\", \"webhook_secret\": \"${LHT_SECRET}\"}", true},
    {"hubspot",
     "{\"auth\": \"private_app\", \"access_token\": \"${LHT_TOKEN}\", \"webhook_client_secret\": "
     "\"${LHT_SECRET}\", \"webhook_url\": \"https://hooks.example/webhooks/crm\"}",
     true},
    {"pipedrive",
     "{\"api_token\": \"${LHT_TOKEN}\", \"api_base\": \"https://acme.pipedrive.com\", "
     "\"customer_label_id\": 5}",
     true},
    {"rules",
     "{\"groups\": {\"fit\": {\"max\": 50}}, \"rules\": [{\"name\": \"senior\", \"group\": "
     "\"fit\", \"points\": 20, \"when\": {\"lead.title\": {\"min_seniority\": \"director\"}}}]}",
     true},
    {"google",
     "{\"mailbox\": \"maya.chen@leadhub-demo.com\", \"client_id\": \"1234.apps.googleusercontent."
     "com\", \"client_secret\": \"${LHT_SECRET}\", \"push_token\": \"${LHT_SECRET}\"}",
     true},
    {"linkedin_leadgen",
     "{\"client_id\": \"app\", \"client_secret\": \"${LHT_SECRET}\", \"ad_accounts\": "
     "[\"508974412\"], \"notification_url\": \"https://hooks.example/webhooks/li\"}",
     true},
    {"engagement", "{}", true},
    {"composite", "{\"parts\": [{\"scorer\": \"fit\", \"weight\": 1}]}", true},
    {"microsoft",
     "{\"tenant\": \"contoso.onmicrosoft.com\", \"client_id\": \"app\", \"client_secret\": "
     "\"${LHT_SECRET}\", \"auth\": \"app\", \"mailboxes\": [\"maya@contoso.example\"], "
     "\"notification_url\": \"https://hooks.example/webhooks/outlook\", \"client_state\": "
     "\"${LHT_SECRET}\"}",
     true},
};

/* Hand-written cases, merged into a plugin's base (null removes a key). */
static const struct {
    const char *plugin;
    const char *patch;
} extra_cases[] = {
    {"http", "{\"url\": \"ftp://receiver.example/hook\"}"},
    {"http", "{\"headers\": {\"Authorization\": \"x\", \"X-Team\": \"sales\"}}"},
    {"http", "{\"headers\": {\"X-Team\": \"a\\nb\"}}"},
    {"http", "{\"bearer_token\": [\"${LHT_TOKEN}\", \"${LHT_SECRET}\"]}"},
    {"google", "{\"mailbox\": \"Maya <maya@a.example>, sam@b.example\"}"},
    {"google", "{\"gmail\": false, \"calendar\": false}"},
    {"google", "{\"pubsub_topic\": \"gmail-topic\"}"},
    {"google", "{\"calendar_push_url\": \"https://hooks.example/webhooks/maya\", "
               "\"push_token\": null}"},
    {"google", "{\"service_account_key\": \"${LHT_SECRET}\", \"client_id\": null}"},
    {"google", "{\"push_token\": [\"${LHT_SECRET}\", \"${LHT_TOKEN}\"]}"},
    {"stripe", "{\"event_types\": [\"invoice.paid\", \"charge.succeeded\"]}"},
    {"stripe", "{\"api_key\": \"${LHT_PUBLISHABLE}\"}"},
    {"stripe", "{\"stripe_version\": \"2024-06-20\\r\\nX: y\"}"},
    {"hubspot", "{\"auth\": \"oauth\"}"},
    {"hubspot",
     "{\"auth\": \"oauth\", \"access_token\": null, \"client_id\": \"app\", \"client_secret\": "
     "\"${LHT_SECRET}\", \"refresh_token\": \"${LHT_TOKEN}\"}"},
    {"hubspot", "{\"webhook_client_secret\": null}"},
    {"hubspot", "{\"webhook_url\": null}"},
    {"hubspot", "{\"property_map\": {\"title\": \"Job Title\"}}"},
    {"hubspot", "{\"property_map\": {\"email\": \"mail\"}}"},
    {"hubspot", "{\"pull\": [\"contacts\", \"tickets\"]}"},
    {"hubspot", "{\"score_properties\": {\"fit\": \"Fit Score\"}}"},
    {"pipedrive", "{\"auth\": \"oauth\"}"},
    {"pipedrive",
     "{\"auth\": \"oauth\", \"api_token\": null, \"client_id\": \"app\", \"client_secret\": "
     "\"${LHT_SECRET}\", \"refresh_token\": \"${LHT_TOKEN}\"}"},
    {"pipedrive", "{\"client_id\": \"app\"}"},
    {"pipedrive", "{\"field_map\": {\"title\": \"jobtitle\"}}"},
    {"pipedrive", "{\"field_map\": {\"email\": \"phone\"}}"},
    {"pipedrive", "{\"field_map\": {\"title\": \"0123456789abcdef0123456789abcdef01234567\", "
                  "\"company\": null}}"},
    {"pipedrive", "{\"field_map\": {\"first_name\": \"phone\"}}"},
    {"pipedrive", "{\"pull\": [\"persons\", \"leads\"]}"},
    {"pipedrive", "{\"score_fields\": {\"fit\": \"Fit Score\"}}"},
    {"pipedrive", "{\"api_base\": \"https://user:pw@acme.pipedrive.com\"}"},
    {"microsoft", "{\"auth\": \"delegated\"}"},
    {"microsoft",
     "{\"auth\": \"delegated\", \"mailboxes\": null, \"mailbox\": \"maya@contoso.example\"}"},
    {"microsoft", "{\"mailboxes\": [\"maya@contoso.example\", \"MAYA@contoso.example\"]}"},
    {"microsoft", "{\"mailboxes\": [\"not an address\"]}"},
    {"microsoft", "{\"client_state\": null}"},
    {"microsoft", "{\"notification_url\": \"ftp://hooks.example/x\"}"},
    {"microsoft", "{\"tenant\": \"contoso/../x\"}"},
    {"microsoft", "{\"client_secret\": null}"},
    {"microsoft", "{\"mail\": false, \"calendar\": false}"},
    {"microsoft", "{\"internal_domains\": [\"@x\"]}"},
    {"rules", "{\"rules\": [{\"name\": \"r\", \"points\": 1, \"when\": {\"lead.title\": "
              "{\"regex\": \"(vp|head\"}}}]}"},
    {"rules", "{\"rules\": [{\"name\": \"r\", \"points\": 1, \"group\": \"nope\", \"when\": {}}]}"},
    {"linkedin_leadgen",
     "{\"ad_accounts\": [\"508974412\", \"urn:li:sponsoredAccount:508974412\"]}"},
    {"linkedin_leadgen", "{\"ad_accounts\": [\"urn:li:organization:1\"]}"},
    {"linkedin_leadgen", "{\"form_ids\": [\"urn:li:leadGenForm:42\", \"form-7\"]}"},
    {"linkedin_leadgen", "{\"linkedin_version\": \"202513\"}"},
    {"linkedin_leadgen", "{\"api_base\": \"https://api.example/rest?x=1\"}"},
    {"engagement", "{\"weights\": {\"meeting.sheduled\": 10}}"},
    {"composite", "{\"parts\": [{\"scorer\": \"lead_score\", \"weight\": 1}]}"},
    {"composite", "{\"parts\": [{\"scorer\": \"fit\", \"weight\": 0}]}"},
};

/* Values a string field is given. */
static const char *const string_values[] = {
    "\"\"",
    "\" \"",
    "\"x\"",
    "\"ftp://example.com/x\"",
    "\"https://\"",
    "\"https://user:pass@host.example\"",
    "\"https://host.example/path?x=1#frag\"",
    "\"not a url\"",
    "\"tab\\there\"",
    "\"ok_value\"",
};

/* Values a secret field is given (references: secrets come from nowhere else). */
static const char *const secret_values[] = {
    "\"${LHT_SECRET}\"",      "\"${LHT_SECRET_CONTROL}\"",
    "\"${LHT_PUBLISHABLE}\"", "[\"${LHT_SECRET}\", \"${LHT_TOKEN}\"]",
    "[\"${LHT_SECRET}\"]",    "[]",
};

static const char *const list_values[] = {
    "[]",
    "[\"\"]",
    "[\"unknown.type\"]",
    "[\"contacts\", \"bogus\"]",
    "[\"a\", \"a\"]",
    "[\"lead.created\"]",
    "[\"contacts\"]",
    "[\"deals\"]",
};

static const char *const json_values[] = {
    "{}",
    "[]",
    "\"x\"",
    "1",
    "{\"a\": 1}",
    "{\"email\": \"mail\"}",
    "{\"first_name\": null}",
    "[{\"scorer\": \"x\"}]",
    "{\"fit\": {\"max\": -1, \"min\": 5}}",
    "{\"lead.created\": \"ten\"}",
};

static void set_test_environment(void)
{
    setenv("LHT_SECRET", "a-signing-secret-of-28-bytes", 1);
    setenv("LHT_SECRET_CONTROL", "a-secret-with-a\nnewline-in-it", 1);
    setenv("LHT_TOKEN", "pat-na1-0a1b2c3d4e5f6a7b", 1);
    setenv("LHT_STRIPE_KEY", "sk_test_4eC39HqLyjWDarjtT1zdp7dc", 1);
    setenv("LHT_PUBLISHABLE", "pk_test_TYooMQauvdEDq54NiTphI7jx", 1);
}

struct walk {
    struct plugin_registry registry;
    struct host_services services;
    atomic_bool stopping;
    size_t cases;     /* cases that reached the plugin (passed the schema) */
    size_t refused;   /* of which init() refused */
    size_t by_schema; /* cases the schema refused offline already */
    char failures[4096];
};

static struct walk w;

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    set_test_environment();
    char *dir = util_printf("%s/plugins", tu_build_dir());
    char *dirs[] = {dir};
    loader_scan(&w.registry, dirs, 1);
    free(dir);
    w.services.metrics = metrics_create();
    atomic_init(&w.stopping, false);
    w.services.stopping = &w.stopping;
    pthread_mutex_init(&w.services.store_mutex, NULL);
}

static void teardown(void)
{
    pthread_mutex_destroy(&w.services.store_mutex);
    metrics_free(w.services.metrics);
    loader_free(&w.registry);
}

/* init() called directly, as no host would (without validate() first): its verdict. */
static lh_status_t init_directly(const struct plugin *plugin, const struct config_instance *ci,
                                 const json_t *settings, char **error_out)
{
    struct instance *instance =
        instance_new(ci, plugin, json_incref((json_t *)settings), &w.services);
    ck_assert_ptr_nonnull(instance);
    struct lh_ctx ctx;
    ctx_init(&ctx, instance, NULL);
    ctx.in_init = true;
    void *state = NULL;
    lh_status_t status = plugin->desc->init(&ctx, host_api_table(), settings, &state);
    plugin->desc->destroy(state);
    *error_out = ctx.error != NULL ? strdup(ctx.error) : NULL;
    ctx_clear(&ctx);
    instance_release(instance);
    return status;
}

static void note_failure(const char *fmt, const char *plugin, const char *written,
                         const char *detail)
{
    size_t used = strlen(w.failures);
    if (used + 1 < sizeof(w.failures)) {
        snprintf(w.failures + used, sizeof(w.failures) - used, fmt, plugin, written,
                 detail != NULL ? detail : "");
    }
}

/* One case: the settings as written (NEW reference consumed). */
static void run_case(const struct plugin *plugin, json_t *written)
{
    struct config_instance ci = {.name = "walked",
                                 .plugin = (char *)plugin->name,
                                 .file = "conf.d/walked.yaml",
                                 .settings = written,
                                 .enabled = true};
    char *text = json_dumps(written, JSON_COMPACT | JSON_SORT_KEYS);
    struct diag_list schema_diags = {0};
    json_t *settings = config_settings_validate(&ci, plugin->desc->config_schema, &schema_diags);
    if (settings == NULL) {
        w.by_schema++; /* refused offline by the schema: init() never sees it */
        diag_list_free(&schema_diags);
        json_decref(written);
        free(text);
        return;
    }
    w.cases++;
    struct diag_list diags = {0};
    struct config_where where = {.file = ci.file, .lines = NULL};
    lh_status_t offline =
        instance_validate_offline(plugin, ci.name, settings, &where, "settings", &diags);
    char *error = NULL;
    lh_status_t init = init_directly(plugin, &ci, settings, &error);
    w.refused += init == LH_CONFIG;
    if (init == LH_CONFIG && offline == LH_OK) {
        note_failure("%s: init() refuses %s (\"%s\"), validate() reports nothing\n", plugin->name,
                     text, error);
    } else if (init == LH_OK && offline != LH_OK) {
        note_failure("%s: validate() refuses %s (\"%s\"), init() starts\n", plugin->name, text,
                     diags.count > 0 ? diags.items[0].message : "?");
    } else if (offline == LH_CONFIG && diags.count == 0) {
        note_failure("%s: validate() refuses %s without a diagnostic%s\n", plugin->name, text,
                     NULL);
    }
    /* every report names where: the file, and a key under settings */
    for (size_t i = 0; i < diags.count; i++) {
        if (diags.items[i].key == NULL || strncmp(diags.items[i].key, "settings", 8) != 0 ||
            diags.items[i].file == NULL) {
            note_failure("%s: a report for %s names no settings key: %s\n", plugin->name, text,
                         diags.items[i].message);
        }
    }
    free(error);
    diag_list_free(&diags);
    diag_list_free(&schema_diags);
    json_decref(settings);
    json_decref(written);
    free(text);
}

/* base with `key` set to the JSON text `value` (NULL: removed). NEW. */
static json_t *with(const json_t *base, const char *key, const char *value)
{
    json_t *copy = json_deep_copy(base);
    if (value == NULL) {
        json_object_del(copy, key);
        return copy;
    }
    json_t *parsed = json_loads(value, JSON_DECODE_ANY, NULL);
    ck_assert_msg(parsed != NULL, "bad test value %s", value);
    json_object_set_new(copy, key, parsed);
    return copy;
}

static void run_values(const struct plugin *plugin, const json_t *base, const char *key,
                       const char *const *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        run_case(plugin, with(base, key, values[i]));
    }
}

/* The range's ends and a step past each, as the file would write them. */
static void run_range(const struct plugin *plugin, const json_t *base,
                      const lh_config_field_t *field)
{
    double ends[4];
    size_t n = 0;
    if (field->flags & LH_FIELD_HAS_MIN) {
        ends[n++] = field->min;
        ends[n++] = field->min - 1;
    }
    if (field->flags & LH_FIELD_HAS_MAX) {
        ends[n++] = field->max;
        ends[n++] = field->max + 1;
    }
    for (size_t i = 0; i < n; i++) {
        char value[64];
        if (field->type == LH_CONFIG_DURATION) {
            snprintf(value, sizeof(value), "\"%.0fms\"", ends[i] < 0 ? 0 : ends[i]);
        } else if (field->type == LH_CONFIG_INT) {
            snprintf(value, sizeof(value), "%.0f", ends[i]);
        } else if (field->type == LH_CONFIG_DOUBLE) {
            snprintf(value, sizeof(value), "%.17g", ends[i]);
        } else {
            continue;
        }
        run_case(plugin, with(base, field->name, value));
    }
}

static void walk_fields(const struct plugin *plugin, const json_t *base)
{
    for (const lh_config_field_t *field = plugin->desc->config_schema; field->name != NULL;
         field++) {
        switch (field->type) {
        case LH_CONFIG_STRING:
            run_values(plugin, base, field->name, string_values, UTIL_ARRAY_LEN(string_values));
            break;
        case LH_CONFIG_SECRET:
            run_values(plugin, base, field->name, secret_values, UTIL_ARRAY_LEN(secret_values));
            break;
        case LH_CONFIG_LIST:
            run_values(plugin, base, field->name, list_values, UTIL_ARRAY_LEN(list_values));
            break;
        case LH_CONFIG_JSON:
            run_values(plugin, base, field->name, json_values, UTIL_ARRAY_LEN(json_values));
            break;
        case LH_CONFIG_BOOL:
            run_case(plugin, with(base, field->name, "true"));
            run_case(plugin, with(base, field->name, "false"));
            break;
        case LH_CONFIG_ENUM:
            for (size_t i = 0; field->enum_values[i] != NULL; i++) {
                char *value = util_printf("\"%s\"", field->enum_values[i]);
                run_case(plugin, with(base, field->name, value));
                free(value);
            }
            break;
        default:
            run_range(plugin, base, field);
            break;
        }
        run_case(plugin, with(base, field->name, NULL));
    }
}

static void run_patch(const struct plugin *plugin, const json_t *base, const char *patch_text)
{
    json_t *patch = json_loads(patch_text, 0, NULL);
    ck_assert_msg(patch != NULL, "bad patch %s", patch_text);
    json_t *settings = json_deep_copy(base);
    const char *key;
    json_t *value;
    json_object_foreach(patch, key, value)
    {
        if (json_is_null(value)) {
            json_object_del(settings, key);
        } else {
            json_object_set(settings, key, value);
        }
    }
    json_decref(patch);
    run_case(plugin, settings);
}

START_TEST(test_every_settings_error_init_refuses_is_reported_offline)
{
    ck_assert_msg(w.registry.count >= UTIL_ARRAY_LEN(bases), "plugins not built in %s/plugins",
                  tu_build_dir());
    for (size_t p = 0; p < w.registry.count; p++) {
        const struct plugin *plugin = &w.registry.plugins[p];
        size_t b = 0;
        while (b < UTIL_ARRAY_LEN(bases) && strcmp(bases[b].plugin, plugin->name) != 0) {
            b++;
        }
        ck_assert_msg(b < UTIL_ARRAY_LEN(bases),
                      "plugin %s has no working settings in this test: add them to bases[]",
                      plugin->name);
        ck_assert_msg(plugin->desc->validate != NULL, "plugin %s has no validate()", plugin->name);
        json_t *base = json_loads(bases[b].settings, 0, NULL);
        ck_assert_ptr_nonnull(base);
        size_t refused_before = w.refused;
        /* the base itself must work both ways */
        run_case(plugin, json_deep_copy(base));
        ck_assert_msg(w.refused == refused_before, "%s: the base settings are refused",
                      plugin->name);
        walk_fields(plugin, base);
        for (size_t i = 0; i < UTIL_ARRAY_LEN(extra_cases); i++) {
            if (strcmp(extra_cases[i].plugin, plugin->name) == 0) {
                run_patch(plugin, base, extra_cases[i].patch);
            }
        }
        if (bases[b].refuses_something) {
            ck_assert_msg(w.refused > refused_before,
                          "%s: no case made init() refuse: the walk tests nothing there",
                          plugin->name);
        }
        json_decref(base);
    }
    fprintf(stderr, "%zu cases reached the plugins (init refused %zu), %zu refused by schemas\n",
            w.cases, w.refused, w.by_schema);
    ck_assert_msg(w.failures[0] == '\0', "validate() and init() disagree:\n%s", w.failures);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_settings");
    TCase *tc = tcase_create("walk");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_settings_error_init_refuses_is_reported_offline);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
