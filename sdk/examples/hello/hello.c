/*
 * hello.c - the smallest real leadhub plugin, and the subject of docs/sdk.md.
 *
 * A SOURCE connector with a webhook: POST /webhooks/{instance} with the body
 *
 *     {"email": "Ada@Example.com"}
 *
 * and it emits one lead.created event for ada@example.com. Everything a plugin needs is
 * here: a config schema, per-instance state built by init() and freed by destroy(), a
 * callback that parses borrowed input, hands a new event to the host, and reports failures
 * with a status and a reason instead of exiting.
 *
 * Build it out of tree, against the installed SDK only:
 *
 *     cc -shared -fPIC -fvisibility=hidden -Wl,--no-undefined -o hello.so hello.c \
 *        $(pkg-config --cflags --libs leadhub-sdk)
 *
 * -fvisibility=hidden keeps every symbol but the entry point private; -Wl,--no-undefined
 * fails the link if the plugin uses anything but libc and jansson. Then:
 *
 *     leadhubd plugins --plugin-path .          # lists it: hello  source  1.0.0  2.0
 *     leadhubd plugins info hello --plugin-path .
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r, strdup */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leadhub.h>

/*
 * The settings an instance file may give, checked by the host before init() is called:
 * unknown keys, wrong types and missing required fields never reach the plugin, and
 * defaults are filled in. `leadhubd plugins info hello` prints this table as docs.
 */
static const lh_config_field_t hello_schema[] = {
    LH_FIELD(.name = "company", .type = LH_CONFIG_STRING,
             .description = "Company recorded on every lead this instance creates.", ),
    LH_FIELD(.name = "lowercase_email", .type = LH_CONFIG_BOOL, .default_value = "true",
             .description =
                 "Lowercase the address before emitting it (leads are matched by email).", ),
    LH_FIELD_END,
};

/*
 * One instance's state. The host may run several instances of one .so (two web forms,
 * say), so everything lives here and nothing in globals. After init() the callbacks only
 * read it, which is what lets the descriptor promise LH_PLUGIN_REENTRANT below.
 */
struct hello {
    const lh_host_t *host; /* the host's function table: valid until destroy() */
    char *company;         /* settings.company, or NULL when not set */
    int lowercase_email;   /* settings.lowercase_email (default filled in by the host) */
};

/* destroy() frees what init() built; the SDK requires it to accept NULL. */
static void hello_destroy(void *state);

/*
 * Reads the settings into a new state. What the schema cannot say ("company, when given,
 * is not blank") is checked here and reported with config_error(), naming the setting:
 * validate() runs this offline (`leadhubd check-config` prints the file, line and key),
 * init() runs it to build the state, so the two can never disagree.
 */
static lh_status_t hello_load(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                              struct hello **hello_out)
{
    *hello_out = NULL;
    struct hello *hello = calloc(1, sizeof(*hello));
    if (hello == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY; /* transient: the host tries again later */
    }
    hello->host = host;
    /* settings is BORROWED: copy what must outlive this call */
    const char *company = lh_setting_string(settings, "company", NULL);
    if (company != NULL && strspn(company, " \t") == strlen(company)) {
        free(hello);
        host->config_error(ctx, "company", "leave it out, or name the company", "is blank");
        return LH_CONFIG;
    }
    if (company != NULL && (hello->company = strdup(company)) == NULL) {
        free(hello);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    hello->lowercase_email = lh_setting_bool(settings, "lowercase_email", 1);
    *hello_out = hello;
    return LH_OK;
}

/* validate() - the offline check: the state is built and thrown away. No I/O here. */
static lh_status_t hello_validate(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings)
{
    struct hello *hello = NULL;
    lh_status_t status = hello_load(ctx, host, settings, &hello);
    hello_destroy(hello);
    return status;
}

static lh_status_t hello_init(lh_ctx_t *ctx, const lh_host_t *host, const json_t *settings,
                              void **state_out)
{
    struct hello *hello = NULL;
    lh_status_t status = hello_load(ctx, host, settings, &hello);
    if (status != LH_OK) {
        return status;
    }
    *state_out = hello;
    host->log(ctx, LH_LOG_INFO, "ready to receive leads");
    return LH_OK;
}

/* destroy() frees what init() built; the SDK requires it to accept NULL. */
static void hello_destroy(void *state)
{
    struct hello *hello = state;
    if (hello == NULL) {
        return;
    }
    free(hello->company);
    free(hello);
}

/* Milliseconds since the epoch -> "2026-11-27T19:02:26Z" (RFC 3339, UTC). */
static void format_rfc3339(int64_t ms, char out[32])
{
    time_t seconds = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * webhook - one inbound request. request and its body are BORROWED for this call.
 * Returns LH_OK once the event is handed over (the host answers 2xx only after it is
 * committed), or LH_PERMANENT for a body that will never be valid (the host answers 400
 * with the reason given to set_error).
 */
static lh_status_t hello_webhook(void *state, lh_ctx_t *ctx, const lh_webhook_request_t *request)
{
    const struct hello *hello = state;
    const lh_host_t *host = hello->host;

    json_error_t error;
    json_t *body = json_loadb((const char *)request->body, request->body_len, 0, &error);
    if (body == NULL) {
        host->set_error(ctx, "the body is not JSON: %s", error.text);
        return LH_PERMANENT;
    }
    const char *email = json_string_value(json_object_get(body, "email"));
    if (email == NULL || strchr(email, '@') == NULL) {
        json_decref(body);
        /* the reason reaches the caller: say what is wrong, never echo secrets */
        host->set_error(ctx, "the body needs an \"email\" string holding an address");
        return LH_PERMANENT;
    }
    char *address = strdup(email);
    if (address == NULL) {
        json_decref(body);
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (hello->lowercase_email) {
        for (char *p = address; *p != '\0'; p++) {
            *p = (char)tolower((unsigned char)*p);
        }
    }

    char occurred_at[32];
    format_rfc3339(host->now_ms(ctx), occurred_at);

    /*
     * The normalized event (docs/events.md). source_id is the idempotency key with type:
     * posting the same address twice stores one event, not two. `source` is filled in by
     * the host. "O" adds a reference to body, so `raw` keeps the payload after we let go.
     */
    json_t *event =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:O}", "type", "lead.created", "source_id", address,
                  "occurred_at", occurred_at, "lead", "email", address, "raw", body);
    json_decref(body);
    free(address);
    if (event == NULL) {
        host->set_error(ctx, "out of memory");
        return LH_RETRY;
    }
    if (hello->company != NULL) {
        json_object_set_new(json_object_get(event, "lead"), "company", json_string(hello->company));
    }

    /* emit() STEALS the event, whatever it returns: no json_decref() after this. When the
     * host finds the event invalid it returns LH_PERMANENT with the reason already set, so
     * passing its status on is all there is to do. */
    return host->emit(ctx, event);
}

/*
 * The descriptor: what the host reads to decide whether it can use this plugin.
 * LH_PLUGIN_HEADER fills magic, ABI version and struct size; never write them by hand.
 */
static const lh_plugin_t hello_plugin = {
    LH_PLUGIN_HEADER,
    .kind = LH_KIND_SOURCE,
    .flags = LH_PLUGIN_REENTRANT, /* callbacks only read the state init() built */
    .name = "hello",
    .version = "1.0.0",
    .description = "Example source: a webhook that turns {\"email\": ...} into lead.created.",
    .config_schema = hello_schema,
    .validate = hello_validate, /* optional: offline checks beyond the schema */
    .init = hello_init,
    .destroy = hello_destroy,
    .webhook = hello_webhook, /* a SOURCE needs poll, webhook, or both */
};

/* Exports the one symbol the host looks for, leadhub_plugin_entry(), returning &hello_plugin. */
LH_PLUGIN_DECLARE(hello_plugin)
