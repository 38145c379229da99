/*
 * fake_pipedrive_internal.h - what the fake Pipedrive's files share: its records and the
 * store's operations (fake_pipedrive_store.c), called with fp->mutex held.
 */
#ifndef LEADHUB_FAKE_PIPEDRIVE_INTERNAL_H
#define LEADHUB_FAKE_PIPEDRIVE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fake_http.h"
#include "fake_pipedrive.h"

/* One person, organization, deal or activity. */
struct fp_record {
    long id;
    json_t *object;          /* as the API shows it, id and times included */
    time_t update_s;         /* update_time */
    int64_t created_ms;      /* wall clock: the search lag */
    size_t created_searches; /* searches answered before it was created */
    bool deleted;
};

struct fp_table {
    const char *kind; /* "person", "organization", ... */
    struct fp_record *items;
    size_t count;
    size_t capacity;
    long next_id;
};

/* A scripted fault: a 429, a failure, or an answer lost after the write. */
enum fp_fault_kind { FP_FAULT_RATE_LIMIT, FP_FAULT_FAIL, FP_FAULT_LOSE };

struct fp_fault {
    enum fp_fault_kind kind;
    char *method; /* NULL: any */
    char *prefix;
    int status;      /* FAIL: the status; LOSE: 502 or FAKE_RESET */
    int retry_after; /* RATE_LIMIT */
    int times;
};

struct fake_pipedrive {
    struct fake_http *http;
    pthread_mutex_t mutex;
    char *api_token;
    char *bearer; /* an accepted OAuth access token, or NULL */
    struct fp_table persons, organizations, deals, activities;
    json_t *stages;    /* array of stage objects */
    json_t *pipelines; /* array of pipeline objects */
    time_t last_s;     /* the last update_time given */
    time_t pinned_s;   /* every write at this second, or 0 */
    int search_lag_ms;
    int search_lag_searches;
    size_t searches; /* searches answered */
    int burst_limit;
    int64_t window_start_ms; /* the current 2-second window (monotonic) */
    int window_count;
    long daily_left; /* < 0: no budget */
    int daily_retry_after;
    int latency_ms;
    struct fp_fault *faults;
    size_t fault_count;
};

/* An answer in the making: status and body (NEW json, or NULL for an empty body). */
struct fp_answer {
    int status;
    json_t *body;
    int retry_after; /* >= 0: a Retry-After header */
};

/* The store (fake_pipedrive_store.c). */
void fp_store_init(struct fake_pipedrive *fp);
void fp_store_free(struct fake_pipedrive *fp);
/* Answers an API request (path without the query, query as received, parsed body or NULL
 * for a malformed one). */
struct fp_answer fp_store_route(struct fake_pipedrive *fp, const char *method, const char *path,
                                const char *query, const json_t *body, bool body_malformed);
/* A write as POST or PATCH would make it, for the rep's accessors: the record's id, or 0
 * when refused. */
long fp_store_write(struct fake_pipedrive *fp, struct fp_table *table, long id,
                    const json_t *fields);
struct fp_record *fp_store_find(struct fp_table *table, long id);
/* The update_time of a write now. */
time_t fp_store_tick(struct fake_pipedrive *fp);
/* "YYYY-MM-DDTHH:MM:SSZ" (out >= 24 bytes). */
void fp_format_time(time_t t, char *out);
/* A person's primary (else first) email, or NULL. */
const char *fp_person_email(const json_t *person);
/* Whether the participants of an activity name this person. */
bool fp_activity_has_person(const json_t *activity, long person_id);

/* The envelope of an error. */
struct fp_answer fp_error(int status, const char *message, const char *hint);

#endif
