/*
 * lh_test_internal.h - the fake host's state, shared by its files (lh_test_host.c: the
 * table's state services; lh_test_http.c: scripted HTTP; lh_test_calls.c: running
 * callbacks with the host's commit rules). Not installed.
 */
#ifndef LEADHUB_TEST_INTERNAL_H
#define LEADHUB_TEST_INTERNAL_H

#include <stdbool.h>

#include "leadhub-test.h"

/* Which callback is running: what the host allows depends on it. */
enum lh_test_call {
    LH_TEST_CALL_NONE = 0,
    LH_TEST_CALL_VALIDATE,
    LH_TEST_CALL_INIT,
    LH_TEST_CALL_POLL,
    LH_TEST_CALL_WEBHOOK,
    LH_TEST_CALL_DELIVER,
    LH_TEST_CALL_SCORE
};

struct lh_test_script {
    lh_test_answer_t answer; /* strings owned (copied) */
    int left;                /* answers left; -1 unlimited */
};

struct lh_test_logged_request {
    lh_test_request_t view;
    lh_header_t *headers; /* owned names and values */
};

/* The context handed to callbacks: one per fake host. */
struct lh_ctx {
    lh_test_t *t;
};

struct lh_test {
    const lh_plugin_t *plugin;
    char *instance;
    struct lh_ctx ctx;
    lh_host_t host;
    void *state;
    bool initialized;
    enum lh_test_call call;

    /* the last call */
    char *error;
    int64_t retry_after_ms;
    bool responded;
    int response_status;
    char *response_type;
    char *response_body;
    size_t response_len;
    char *config_errors;

    /* committed state */
    json_t *events;     /* array of normalized events */
    json_t *event_keys; /* "source\ntype\nsource_id" -> true */
    size_t duplicates;
    size_t refused;
    json_t *checkpoints;   /* key -> value */
    json_t *sealed;        /* key -> true */
    json_t *notifications; /* key -> {"value", "received_at", "seq"} */
    int64_t notification_seq;
    int poll_soon;
    json_t *identities; /* array of [lead_id, external_id] */
    json_t *metrics;    /* "name\nlabel" -> number */
    json_t *logs;       /* array of strings */
    size_t batch_size;

    /* staged by the running call, committed on LH_OK (poll, webhook) */
    json_t *staged_events;
    json_t *staged_checkpoints; /* key -> value */
    json_t *staged_sealed;      /* key -> true */
    json_t *staged_notifications;
    json_t *taken; /* key -> value taken in this poll */
    json_t *kept;  /* key -> true */
    int staged_poll_soon;

    /* clock, stopping, OAuth */
    int64_t now_ms;
    int stop_after;
    char *oauth_token;
    lh_status_t oauth_status;
    int oauth_invalidations;

    /* HTTP */
    struct lh_test_script *scripts;
    size_t script_count;
    struct lh_test_logged_request *requests;
    size_t request_count;
    size_t unanswered;

    int64_t delivery_seq;
    char *misuse;
};

/* lh_test_host.c */
void lh_test_fill_table(lh_host_t *host);
void lh_test_note_misuse(lh_test_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lh_test_begin_call(lh_test_t *t, enum lh_test_call call);
void lh_test_end_call(lh_test_t *t, lh_status_t status);
bool lh_test_key_valid(const char *key);

/* lh_test_http.c */
lh_status_t lh_test_http_request_fn(lh_ctx_t *ctx, const lh_http_request_t *request,
                                    lh_http_response_t *response);
void lh_test_http_response_free_fn(lh_http_response_t *response);
void lh_test_http_free(lh_test_t *t);

#endif
