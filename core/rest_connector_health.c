/*
 * rest_connector_health.c - what needs attention on a connector instance, and
 * GET /v1/connectors/{name}/health: its status with the errors its recent dead and
 * retrying deliveries ended with.
 *
 * Attention is decided here, once, from a status entry (rest_connectors.c), so that every
 * client (the console's overview, a script, an alert) reads the same verdicts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rest_internal.h"
#include "util.h"

/* A source is lagging when no poll has succeeded for this many intervals (and at least
 * POLL_LAG_MIN_MS): one failed poll retries sooner, so a few intervals is already long. */
#define POLL_LAG_INTERVALS 3
#define POLL_LAG_MIN_MS    (10LL * 60 * 1000)

static void add(json_t *list, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add(json_t *list, const char *code, const char *fmt, ...)
{
    struct strbuf message = {0};
    va_list args;
    va_start(args, fmt);
    strbuf_appendv(&message, fmt, args);
    va_end(args);
    json_array_append_new(list,
                          json_pack("{s:s,s:s}", "code", code, "message", strbuf_value(&message)));
    strbuf_free(&message);
}

/* Milliseconds since an RFC 3339 field of `object`, or -1 when it is null or absent. */
static int64_t age_ms(const json_t *object, const char *field, int64_t now_ms)
{
    const char *text = json_string_value(json_object_get(object, field));
    int64_t at = 0;
    if (text == NULL || util_parse_rfc3339(text, &at) != 0) {
        return -1;
    }
    return now_ms > at ? now_ms - at : 0;
}

static void duration_text(int64_t ms, char *out, size_t size)
{
    /* whole minutes read better than util_format_duration's milliseconds here */
    util_format_duration(ms >= 60000 ? ms - ms % 60000 : ms - ms % 1000, out, size);
}

/* The poll verdicts of an enabled, running source. */
static void poll_attention(json_t *list, const json_t *entry, int64_t now_ms)
{
    const json_t *interval = json_object_get(entry, "poll_interval_seconds");
    const json_t *last = json_object_get(entry, "last_poll");
    if (!json_is_integer(interval) || !json_is_object(last)) {
        return; /* not a source, or never polled yet: nothing to judge */
    }
    /* A poll the provider holds (LinkedIn's daily limit, until midnight UTC) is waiting, not
     * failing: said once, with its end, and no lag counted meanwhile. */
    const char *held = json_string_value(json_object_get(entry, "poll_held_until"));
    int64_t held_until = 0;
    if (held != NULL && util_parse_rfc3339(held, &held_until) == 0 && held_until > now_ms) {
        const char *reason = json_string_value(json_object_get(last, "error"));
        add(list, "poll_held", "polls are held until %s by the provider%s%s", held,
            reason != NULL ? ": " : "", reason != NULL ? reason : "");
        return;
    }
    const char *outcome = json_string_value(json_object_get(last, "outcome"));
    if (outcome != NULL && strcmp(outcome, "ok") != 0) {
        const char *error = json_string_value(json_object_get(last, "error"));
        json_int_t failures = json_integer_value(json_object_get(entry, "consecutive_failures"));
        add(list, "poll_failing", "the last %lld poll%s failed (%s)%s%s",
            (long long)(failures > 0 ? failures : 1), failures > 1 ? "s" : "", outcome,
            error != NULL ? ": " : "", error != NULL ? error : "");
    }
    int64_t interval_ms = (int64_t)json_integer_value(interval) * 1000;
    int64_t limit_ms = interval_ms * POLL_LAG_INTERVALS;
    if (limit_ms < POLL_LAG_MIN_MS) {
        limit_ms = POLL_LAG_MIN_MS;
    }
    int64_t since_success = age_ms(entry, "last_success_at", now_ms);
    int64_t since_start = age_ms(last, "started_at", now_ms);
    char age[32], every[32];
    duration_text(interval_ms, every, sizeof(every));
    if (since_success > limit_ms) {
        duration_text(since_success, age, sizeof(age));
        add(list, "poll_lag", "no successful poll for %s (it polls every %s)", age, every);
    } else if (since_success < 0 && since_start > limit_ms) {
        duration_text(since_start, age, sizeof(age));
        add(list, "poll_lag", "no successful poll since polling began %s ago (it polls every %s)",
            age, every);
    }
}

json_t *rest_connector_attention(const json_t *entry, int64_t now_ms)
{
    json_t *list = json_array();
    if (list == NULL || !json_is_true(json_object_get(entry, "enabled"))) {
        return list; /* a disabled instance is the configuration's choice, not a fault */
    }
    const char *error = json_string_value(json_object_get(entry, "error"));
    const char *kind = json_string_value(json_object_get(entry, "kind"));
    if (!json_is_true(json_object_get(entry, "initialized"))) {
        if (kind != NULL && strcmp(kind, "scorer") == 0) {
            add(list, "not_running", "the scorer is failing%s%s", error != NULL ? ": " : "",
                error != NULL ? error : "");
        } else {
            add(list, "not_running", "not running on this replica: %s",
                error != NULL ? error : "not initialized");
        }
    }
    const char *token = json_string_value(json_object_get(entry, "token"));
    const json_t *oauth = json_object_get(entry, "oauth");
    const char *consent = json_string_value(json_object_get(oauth, "state"));
    const char *how = json_string_value(json_object_get(json_object_get(oauth, "action"), "cli"));
    /* the stored consent is the truth of every replica; this replica's token state only
     * learns of a new grant when it next needs a token */
    bool refused = consent != NULL ? strcmp(consent, "needs_consent") == 0
                                   : token != NULL && strcmp(token, "needs_consent") == 0;
    if (refused) {
        add(list, "needs_consent", "its OAuth grant needs consent again%s%s",
            how != NULL ? ": " : "", how != NULL ? how : "");
    } else if (token != NULL && strcmp(token, "failed") == 0) {
        add(list, "token_failed", "its OAuth2 token could not be refreshed");
    }
    /* consent_of() (rest_connectors.c) offers the action once the end is near */
    const json_t *days = json_object_get(oauth, "refresh_token_days_left");
    if (consent != NULL && strcmp(consent, "granted") == 0 && json_is_integer(days) &&
        how != NULL) {
        add(list, "consent_expiring",
            "its refresh token ends in %lld day%s: consent again "
            "before then: %s",
            (long long)json_integer_value(days), json_integer_value(days) == 1 ? "" : "s", how);
    }
    const char *circuit = json_string_value(json_object_get(entry, "circuit"));
    if (circuit != NULL && strcmp(circuit, "closed") != 0) {
        add(list, "circuit_open", "its delivery circuit is %s: deliveries to it are paused",
            strcmp(circuit, "open") == 0 ? "open" : "half open (one trial delivery)");
    }
    json_int_t dead =
        json_integer_value(json_object_get(json_object_get(entry, "deliveries"), "dead"));
    if (dead > 0) {
        add(list, "dead_deliveries", "%s%lld dead deliver%s to replay",
            dead >= 1000 ? "at least " : "", (long long)dead, dead == 1 ? "y" : "ies");
    }
    if (json_is_true(json_object_get(entry, "initialized"))) {
        poll_attention(list, entry, now_ms);
    }
    return list;
}

/*
 * The errors of the destination's most recent dead and retrying deliveries, grouped by
 * error: each status reads at most its newest 1000 rows backwards on deliveries_status_idx,
 * so the answer costs the same however many rows the outbox keeps.
 */
static const char sql_delivery_errors[] =
    "SELECT coalesce(json_agg(json_build_object('status', g.status, 'error', g.last_error, "
    "'count', g.n, 'last_at', g.last_at) ORDER BY g.n DESC, g.last_at DESC), '[]'::json) FROM "
    "(SELECT r.status, r.last_error, count(*) AS n, max(r.updated_at) AS last_at FROM ("
    "(SELECT d.status, d.last_error, d.updated_at FROM deliveries d WHERE d.status = 'dead' "
    "AND d.destination = $1 ORDER BY d.updated_at DESC LIMIT 1000) UNION ALL "
    "(SELECT d.status, d.last_error, d.updated_at FROM deliveries d WHERE d.status = 'retrying' "
    "AND d.destination = $1 ORDER BY d.updated_at DESC LIMIT 1000)) r "
    "GROUP BY r.status, r.last_error ORDER BY n DESC, last_at DESC LIMIT 20) g";

void rest_connector_health(const struct rest_request *request, struct rest_response *response,
                           const char *name)
{
    static const char *const allowed[] = {NULL};
    if (!rest_params_only(request, response, allowed)) {
        return;
    }
    json_t *list = util_instance_name_valid(name) ? rest_connector_status(request, response, name)
                                                  : json_array();
    if (list == NULL) {
        return;
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        rest_error(response, 404, "not_found", NULL, "no connector instance named %.64s", name);
        return;
    }
    const char *params[] = {name};
    /* index scans only, as the counts (rest_connectors.c): a bitmap scan would read every
     * dead delivery of the destination before the LIMIT applies */
    json_t *errors = rest_query_json_with(request->daemon, response, "rest_connector_errors",
                                          sql_delivery_errors, 1, params, true);
    if (errors == NULL) {
        json_decref(list);
        return;
    }
    rest_ok(
        response, 200,
        json_pack("{s:O,s:o}", "connector", json_array_get(list, 0), "delivery_errors", errors));
    json_decref(list);
}
