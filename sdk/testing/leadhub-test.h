/*
 * leadhub-test.h - the fake host: unit tests of a plugin without a database or a daemon.
 *
 * A test builds one lh_test_t per instance from the plugin's descriptor, runs the plugin's
 * callbacks through it as the host would (settings checked by the host's own schema
 * validator, events by the host's own event validator, the same commit rules), scripts
 * the provider's HTTP answers and the clock, and asserts on what the plugin emitted,
 * saved and asked for:
 *
 *     lh_test_t *t = lh_test_new(&my_crm_plugin, "crm");
 *     ck_assert_int_eq(lh_test_init(t, "{\"token\": \"${CRM_TOKEN}\"}"), LH_OK);
 *     lh_test_http_script(t, LH_TEST_ANSWER(.method = "GET", .url_contains = "/persons",
 *                                           .status = 200, .body = "{\"data\": [...]}"));
 *     ck_assert_int_eq(lh_test_poll(t), LH_OK);
 *     ck_assert_uint_eq(lh_test_event_count(t), 2);
 *     ck_assert_str_eq(json_string_value(json_object_get(lh_test_event(t, 0), "type")),
 *                      "lead.created");
 *     ck_assert_ptr_null(lh_test_misuse(t));
 *     lh_test_free(t);
 *
 * Link: pkg-config --cflags --libs leadhub-test (the library holds the host's event and
 * settings validators, whose internal names begin util_, event_, config_, diag_, log_).
 * Not thread-safe: one lh_test_t is used by one thread, as a test does.
 *
 * OWNERSHIP: strings passed in are copied; json_t arguments marked STOLEN are taken; what
 * the getters return is borrowed from the lh_test_t and valid until the next call that
 * changes it or lh_test_free().
 */
#ifndef LEADHUB_TEST_H
#define LEADHUB_TEST_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "leadhub.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lh_test lh_test_t;

/* --- lifecycle ------------------------------------------------------------------------ */

/* lh_test_new - a fake host for one instance named `instance` of `plugin` (borrowed: keep
 * the descriptor alive). The clock starts at 2026-11-27T09:00:00Z. NULL when out of
 * memory. */
lh_test_t *lh_test_new(const lh_plugin_t *plugin, const char *instance);

/* lh_test_free - destroy() the instance when init() built one, free everything. */
void lh_test_free(lh_test_t *t);

/* lh_test_host - the complete host table the callbacks receive (every slot filled). */
const lh_host_t *lh_test_host(lh_test_t *t);

/* lh_test_state - the state init() returned, or NULL. */
void *lh_test_state(lh_test_t *t);

/* --- settings ------------------------------------------------------------------------- */

/*
 * lh_test_validate - what `leadhubd check-config` does with an instance's settings: the
 * host's schema check (unknown keys, types, ranges, defaults, ${ENV} references, secrets
 * only from references), then the plugin's validate().
 *   settings_json: the `settings` object as JSON, as written in the file.
 *   Returns: LH_OK; LH_CONFIG with the reports in lh_test_config_errors().
 */
lh_status_t lh_test_validate(lh_test_t *t, const char *settings_json);

/*
 * lh_test_init - lh_test_validate(), then init(), as the daemon starts an instance. A
 * previous instance is destroy()ed first. A failed init()'s state is destroy()ed.
 *   Returns: init()'s status (LH_CONFIG also for a schema or validate() refusal).
 */
lh_status_t lh_test_init(lh_test_t *t, const char *settings_json);

/* lh_test_config_errors - the reports of the last validate/init, one per line
 * ("key: message (hint)"), "" when none. */
const char *lh_test_config_errors(lh_test_t *t);

/* --- calls: each runs one callback as the host would ------------------------------------- */

/* lh_test_poll - poll(). On LH_OK its events, checkpoints and notification changes
 * commit; on any other status nothing does. */
lh_status_t lh_test_poll(lh_test_t *t);

/* lh_test_webhook - webhook() with a request as the host builds it (remote 127.0.0.1,
 * path /webhooks/<instance>). query may be NULL (""); body need not be NUL-terminated.
 * What the host refuses before the callback is refused here too: a GET without
 * LH_PLUGIN_WEBHOOK_GET (LH_PERMANENT and a misuse note), a POST carrying none of the
 * descriptor's webhook_signature_headers (LH_AUTH, webhook() not called). */
lh_status_t lh_test_webhook(lh_test_t *t, const char *method, const char *query,
                            const lh_header_t *headers, size_t header_count, const char *body,
                            size_t body_len);

/*
 * lh_test_deliver - deliver() of an event, or deliver_batch() with one delivery when the
 * plugin has only that (its result, or the call's return when it left it LH_OK; its
 * message as the call's error).
 *   event_json: the event as a source emitted it; it is normalized as the host stores it
 *               (its `source` taken from the JSON, "source" when absent). An invalid event
 *               fails the test's call with LH_PERMANENT and a misuse note.
 *   lead_json:  delivery->lead, or NULL for none; its "id" is delivery->lead_id.
 *   attempt:    delivery->attempt (1 for the first).
 *   Notes: the delivery's id and idempotency key count up from 1 ("test-1", ...).
 */
lh_status_t lh_test_deliver(lh_test_t *t, const char *event_json, const char *lead_json,
                            int attempt);

/*
 * lh_test_deliver_batch - deliver_batch() of count events (as lh_test_deliver()), leads
 * NULL. results (count entries) receives each delivery's status as the host reads it: the
 * plugin's per-delivery result, or the call's return for those left LH_OK. messages
 * (count entries, may be NULL) receives the plugin's messages (free() them).
 */
lh_status_t lh_test_deliver_batch(lh_test_t *t, const char *const *events_json, size_t count,
                                  lh_status_t *results, char **messages);

/* lh_test_score - score() of a snapshot (the JSON the host hands a scorer). result_out:
 * NEW reference on LH_OK. */
lh_status_t lh_test_score(lh_test_t *t, const char *snapshot_json, json_t **result_out);

/* --- what the last call said ----------------------------------------------------------- */

/* lh_test_error - set_error()'s text in the last call, "" when none. */
const char *lh_test_error(lh_test_t *t);

/* lh_test_retry_after - set_retry_after()'s delay in the last call, -1 when none. */
int64_t lh_test_retry_after(lh_test_t *t);

/* lh_test_response - respond()'s answer in the last webhook call: 1 and the fields when it
 * was called, 0 otherwise. Any out pointer may be NULL. */
int lh_test_response(lh_test_t *t, int *status, const char **content_type, const char **body,
                     size_t *body_len);

/* --- events ---------------------------------------------------------------------------- */

/* lh_test_event_count / lh_test_event - the events committed so far, oldest first, as the
 * host stores them (normalized, `source` set). A duplicate of a stored one (same source,
 * type and source_id) is not added: lh_test_duplicate_count() counts those. */
size_t lh_test_event_count(lh_test_t *t);
const json_t *lh_test_event(lh_test_t *t, size_t index);
size_t lh_test_duplicate_count(lh_test_t *t);
/* lh_test_refused_count - emit() calls refused as invalid, over every call. */
size_t lh_test_refused_count(lh_test_t *t);
void lh_test_events_clear(lh_test_t *t);

/* --- checkpoints, notifications, identities ----------------------------------------------- */

/* lh_test_checkpoint - the committed value under key, or NULL. */
const json_t *lh_test_checkpoint(lh_test_t *t, const char *key);
/* lh_test_checkpoint_sealed - 1 when the value under key was put with
 * checkpoint_put_secret(). */
int lh_test_checkpoint_sealed(lh_test_t *t, const char *key);
/* lh_test_checkpoint_set - put a value as if a previous run had saved it. value: STOLEN. */
void lh_test_checkpoint_set(lh_test_t *t, const char *key, json_t *value);
size_t lh_test_checkpoint_count(lh_test_t *t);

/* lh_test_notification_add - a pending notification, as a webhook's commit leaves it.
 * value: STOLEN. */
void lh_test_notification_add(lh_test_t *t, const char *key, json_t *value);
/* lh_test_notification - the pending value under key, or NULL. */
const json_t *lh_test_notification(lh_test_t *t, const char *key);
size_t lh_test_notification_count(lh_test_t *t);
/* lh_test_poll_soon_count - polls asked for (poll_soon(), or a notification put from
 * webhook or deliver that changed something), committed ones only. */
int lh_test_poll_soon_count(lh_test_t *t);

/* lh_test_identity - the external id lead_identity_put() recorded last for lead_id, or
 * NULL; lh_test_identity_count - how many were recorded. */
const char *lh_test_identity(lh_test_t *t, int64_t lead_id);
size_t lh_test_identity_count(lh_test_t *t);

/* --- metrics, logs, batch size --------------------------------------------------------------- */

/* lh_test_counter - the sum of counter_add() (or last gauge_set()) for name with
 * label_value (NULL: the series without a label). 0 when never touched. */
double lh_test_counter(lh_test_t *t, const char *name, const char *label_value);
/* lh_test_logged - 1 when a log line contains text. Lines also go to stderr when
 * $LH_TEST_LOG is set. */
int lh_test_logged(lh_test_t *t, const char *text);
/* lh_test_batch_size - what init() set with set_batch_size(), 100 by default. */
size_t lh_test_batch_size(lh_test_t *t);

/* --- clock, stopping, OAuth ----------------------------------------------------------------- */

void lh_test_clock_set(lh_test_t *t, int64_t now_ms);
void lh_test_clock_advance(lh_test_t *t, int64_t delta_ms);
int64_t lh_test_clock(lh_test_t *t);
/* lh_test_stop_after - should_stop() answers 0 for its next `calls` calls, then 1 (the
 * deadline passed); -1 (the default) never stops. */
void lh_test_stop_after(lh_test_t *t, int calls);

/* lh_test_oauth_token - what oauth2_token() answers: token (copied) with LH_OK, or the
 * status (LH_AUTH, LH_CONFIG, LH_RETRY) with token NULL. Default: LH_AUTH, no grant. */
void lh_test_oauth_token(lh_test_t *t, const char *token, lh_status_t status);
/* lh_test_oauth_invalidations - how many times oauth2_invalidate() was called. */
int lh_test_oauth_invalidations(lh_test_t *t);

/* --- HTTP ------------------------------------------------------------------------------------ */

/* One scripted answer. Requests take the first unused answer that matches them. */
typedef struct lh_test_answer {
    const char *method;          /* NULL: any method */
    const char *url_contains;    /* NULL: any URL */
    long status;                 /* the HTTP status */
    const char *headers;         /* "Name: value\n" lines, or NULL */
    const char *body;            /* NULL: "" */
    int64_t latency_ms;          /* the clock moves this much; past the request's timeout
                                    (30 s by default) the request times out */
    const char *transport_error; /* not NULL: no answer, the request fails with this reason
                                    ("connection reset by peer") */
    int times;                   /* how many requests it answers: 0 or 1 once, -1 all */
} lh_test_answer_t;

#define LH_TEST_ANSWER(...) ((lh_test_answer_t){__VA_ARGS__})

/*
 * lh_test_http_script - add an answer. host->http() then behaves as the host's: the
 * request's max_attempts, the retried statuses (transport errors, 408, 425, 429, 5xx),
 * retry_hint_header and Retry-After (moving the clock, not sleeping; over 60 s the answer
 * is handed back), response headers lowercased, retry_after_ms parsed. A request no answer
 * matches fails like a refused connection and is counted by lh_test_unanswered().
 */
void lh_test_http_script(lh_test_t *t, lh_test_answer_t answer);

/* A request the plugin made (each attempt is one). */
typedef struct lh_test_request {
    const char *method;
    const char *url;
    const lh_header_t *headers; /* as sent */
    size_t header_count;
    const char *body; /* NUL-terminated copy; body_len bytes */
    size_t body_len;
    int max_attempts;
    int64_t timeout_ms;
    const char *retry_hint_header;
} lh_test_request_t;

size_t lh_test_request_count(lh_test_t *t);
const lh_test_request_t *lh_test_request(lh_test_t *t, size_t index);
/* lh_test_request_header - the first header named name (case-insensitive), or NULL. */
const char *lh_test_request_header(const lh_test_request_t *request, const char *name);
/* lh_test_unanswered - requests that matched no scripted answer. */
size_t lh_test_unanswered(lh_test_t *t);
/* lh_test_answers_left - scripted answers not used up (-1 `times` answers not counted). */
size_t lh_test_answers_left(lh_test_t *t);

/* --- misuse ----------------------------------------------------------------------------------- */

/*
 * lh_test_misuse - the first thing the plugin did that the host refuses or forbids, or
 * NULL: emit() outside poll and webhook, I/O in validate(), a bad checkpoint key,
 * notifications_take() outside poll, respond() outside webhook, an HTTP request or response
 * without its struct_size... Every
 * test should end with ck_assert_ptr_null(lh_test_misuse(t)).
 */
const char *lh_test_misuse(lh_test_t *t);

#ifdef __cplusplus
}
#endif

#endif /* LEADHUB_TEST_H */
