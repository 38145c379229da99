/* loadcheck.c - see loadcheck.h. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loadcheck.h"
#include "util.h"

static void on_answer(const struct loadgen_answer *answer, void *arg)
{
    struct load_thread *load = arg;
    if (answer->status >= 200 && answer->status < 300) {
        atomic_fetch_add(&load->acked, answer->event_count);
        atomic_fetch_add(&load->duplicates, answer->duplicates);
    } else if (answer->status == 503) {
        atomic_fetch_add(&load->answered_503, 1);
    }
    if (!load->record_answers) {
        return;
    }
    pthread_mutex_lock(&load->mutex);
    if (load->answer_count == load->answer_capacity) {
        size_t capacity = load->answer_capacity ? load->answer_capacity * 2 : 4096;
        struct load_answer *grown = realloc(load->answers, capacity * sizeof(*grown));
        if (grown != NULL) {
            load->answers = grown;
            load->answer_capacity = capacity;
        }
    }
    if (load->answer_count < load->answer_capacity) {
        load->answers[load->answer_count++] =
            (struct load_answer){answer->status, answer->sent_us, answer->done_us};
    }
    pthread_mutex_unlock(&load->mutex);
}

static void *load_main(void *arg)
{
    struct load_thread *load = arg;
    load->rc = loadgen_run(&load->options, &load->result);
    atomic_store(&load->done, true);
    return NULL;
}

void load_thread_start(struct load_thread *load, const struct loadgen_options *options,
                       bool record_answers)
{
    memset(load, 0, sizeof(*load));
    load->options = *options;
    load->options.on_answer = on_answer;
    load->options.on_answer_arg = load;
    atomic_init(&load->done, false);
    atomic_init(&load->stop, false);
    load->options.stop = &load->stop;
    load->record_answers = record_answers;
    pthread_mutex_init(&load->mutex, NULL);
    ck_assert_int_eq(pthread_create(&load->thread, NULL, load_main, load), 0);
}

void load_thread_join(struct load_thread *load)
{
    pthread_join(load->thread, NULL);
    ck_assert_msg(load->rc == 0, "load %s: %s", load->options.id_prefix, load->result.error);
}

bool load_threads_finish(struct load_thread *loads, size_t count, atomic_bool *finish,
                         int64_t timeout_ms)
{
    atomic_store(finish, true);
    int64_t deadline = util_monotonic_ms() + timeout_ms;
    bool settled = false;
    while (!settled && util_monotonic_ms() < deadline) {
        settled = true;
        for (size_t i = 0; i < count; i++) {
            settled &= atomic_load(&loads[i].done);
        }
        if (!settled) {
            struct timespec pause = {0, 50 * 1000000L};
            nanosleep(&pause, NULL);
        }
    }
    for (size_t i = 0; i < count; i++) {
        atomic_store(&loads[i].stop, true);
    }
    for (size_t i = 0; i < count; i++) {
        load_thread_join(&loads[i]);
    }
    return settled;
}

void load_thread_free(struct load_thread *load)
{
    loadgen_result_free(&load->result);
    free(load->answers);
    pthread_mutex_destroy(&load->mutex);
}

uint64_t load_threads_acked(struct load_thread *loads, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        total += atomic_load(&loads[i].acked);
    }
    return total;
}

/* Per event of one load. */
struct tally {
    uint32_t *stored;
    uint32_t *deliveries;
    uint8_t *received;
    uint64_t max;
};

/* "<prefix>-<n>" -> n, or -1. */
static long long event_number(const char *prefix, const char *source_id)
{
    size_t len = strlen(prefix);
    if (strncmp(source_id, prefix, len) != 0 || source_id[len] != '-') {
        return -1;
    }
    char *end = NULL;
    long long n = strtoll(source_id + len + 1, &end, 10);
    return end != NULL && *end == '\0' && n >= 0 ? n : -1;
}

/* The tally a source_id belongs to (its number in *n), or NULL. */
static struct tally *tally_of(const char *source_id, struct load_thread *loads,
                              struct tally *tallies, size_t count, uint64_t *n)
{
    for (size_t l = 0; l < count; l++) {
        long long number = event_number(loads[l].options.id_prefix, source_id);
        if (number >= 0 && (uint64_t)number < tallies[l].max) {
            *n = (uint64_t)number;
            return &tallies[l];
        }
    }
    return NULL;
}

static void count_stored(PGconn *db, struct load_thread *loads, struct tally *tallies, size_t count,
                         struct load_check *out)
{
    PGresult *result = PQexec(db, "SELECT source_id, count(*) FROM events GROUP BY source_id");
    ck_assert_msg(PQresultStatus(result) == PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    for (int row = 0; row < PQntuples(result); row++) {
        uint64_t n;
        struct tally *t = tally_of(PQgetvalue(result, row, 0), loads, tallies, count, &n);
        if (t == NULL) {
            out->unknown++;
        } else {
            t->stored[n] += (uint32_t)strtoul(PQgetvalue(result, row, 1), NULL, 10);
        }
    }
    PQclear(result);
}

static void count_deliveries(PGconn *db, const char *destination, struct load_thread *loads,
                             struct tally *tallies, size_t count, struct load_check *out)
{
    const char *params[] = {destination};
    PGresult *result = PQexecParams(db,
                                    "SELECT e.source_id, d.status FROM deliveries d "
                                    "JOIN events e ON e.id = d.event_id WHERE d.destination = $1",
                                    1, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(result) == PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
    for (int row = 0; row < PQntuples(result); row++) {
        uint64_t n;
        struct tally *t = tally_of(PQgetvalue(result, row, 0), loads, tallies, count, &n);
        const char *status = PQgetvalue(result, row, 1);
        if (t != NULL) {
            t->deliveries[n]++;
        }
        if (strcmp(status, "pending") == 0 || strcmp(status, "retrying") == 0) {
            out->open++;
        } else if (strcmp(status, "dead") == 0) {
            out->dead++;
        }
    }
    PQclear(result);
}

static void count_received(struct fake_http *receiver, struct load_thread *loads,
                           struct tally *tallies, size_t count, struct load_check *out)
{
    json_t *key_of = json_object();
    out->receiver_requests = fake_http_request_count(receiver);
    for (size_t i = 0; i < out->receiver_requests; i++) {
        struct fake_request req = fake_http_request(receiver, i);
        json_t *event = json_loads(req.body != NULL ? req.body : "", 0, NULL);
        const char *source_id = json_string_value(json_object_get(event, "source_id"));
        const char *key = strcasestr(req.headers != NULL ? req.headers : "", "Idempotency-Key: ");
        if (source_id != NULL && key != NULL) {
            key += strlen("Idempotency-Key: ");
            char *value = strndup(key, strcspn(key, "\n"));
            const char *seen = json_string_value(json_object_get(key_of, source_id));
            if (seen != NULL && strcmp(seen, value) != 0) {
                out->keys_consistent = false;
            }
            json_object_set_new(key_of, source_id, json_string(value));
            free(value);
            uint64_t n;
            struct tally *t = tally_of(source_id, loads, tallies, count, &n);
            if (t != NULL) {
                t->received[n] = 1;
            }
        }
        json_decref(event);
        fake_http_request_free(&req);
    }
    json_decref(key_of);
}

void load_check_run(PGconn *db, struct load_thread *loads, size_t count, const char *destination,
                    struct fake_http *receiver, struct load_check *out)
{
    memset(out, 0, sizeof(*out));
    out->keys_consistent = true;
    struct tally *tallies = calloc(count, sizeof(*tallies));
    ck_assert_ptr_nonnull(tallies);
    for (size_t l = 0; l < count; l++) {
        const struct loadgen_result *r = &loads[l].result;
        uint64_t max = r->events_started;
        tallies[l].max = max;
        tallies[l].stored = calloc(max + 1, sizeof(uint32_t));
        tallies[l].deliveries = calloc(max + 1, sizeof(uint32_t));
        tallies[l].received = calloc(max + 1, 1);
        ck_assert(tallies[l].stored && tallies[l].deliveries && tallies[l].received);
        out->started += max;
        out->resent += r->events_resent;
        out->duplicates += atomic_load(&loads[l].duplicates);
        for (uint64_t n = 0; n < max; n++) {
            uint8_t acked = r->acked != NULL && n < r->max_events ? r->acked[n] : 0;
            out->not_acked += acked == 0;
        }
    }
    count_stored(db, loads, tallies, count, out);
    if (destination != NULL) {
        count_deliveries(db, destination, loads, tallies, count, out);
    }
    if (receiver != NULL) {
        count_received(receiver, loads, tallies, count, out);
    }
    for (size_t l = 0; l < count; l++) {
        const struct loadgen_result *r = &loads[l].result;
        for (uint64_t n = 0; n < tallies[l].max; n++) {
            uint8_t acked = r->acked != NULL && n < r->max_events ? r->acked[n] : 0;
            out->acked_twice += acked > 1; /* only failures are resent: never twice */
            if (acked > 0 && tallies[l].stored[n] == 0) {
                out->lost++;
            }
            out->duplicated += tallies[l].stored[n] > 1;
            if (tallies[l].stored[n] > 0 && destination != NULL) {
                out->without_delivery += tallies[l].deliveries[n] == 0;
                out->extra_deliveries += tallies[l].deliveries[n] > 1;
            }
            if (tallies[l].stored[n] > 0 && receiver != NULL) {
                out->not_received += tallies[l].received[n] == 0;
            }
        }
        free(tallies[l].stored);
        free(tallies[l].deliveries);
        free(tallies[l].received);
    }
    free(tallies);
}

char *load_check_describe(const struct load_check *c)
{
    return util_printf("%llu events started, %llu never acknowledged; %llu sent again after a "
                       "kill, a reset or a 503, %llu of them already committed (their answer "
                       "was lost); lost %llu, duplicated %llu, unknown %llu; deliveries: missing "
                       "%llu, extra %llu, dead %llu, open %llu; receiver: %zu requests, %llu "
                       "events never arrived, keys %s",
                       (unsigned long long)c->started, (unsigned long long)c->not_acked,
                       (unsigned long long)c->resent, (unsigned long long)c->duplicates,
                       (unsigned long long)c->lost, (unsigned long long)c->duplicated,
                       (unsigned long long)c->unknown, (unsigned long long)c->without_delivery,
                       (unsigned long long)c->extra_deliveries, (unsigned long long)c->dead,
                       (unsigned long long)c->open, c->receiver_requests,
                       (unsigned long long)c->not_received,
                       c->keys_consistent ? "consistent" : "INCONSISTENT");
}
