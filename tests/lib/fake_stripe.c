/* fake_stripe.c - see fake_stripe.h. */
#include <microhttpd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fake_stripe.h"
#include "util.h"

#define PAGE_LIMIT_DEFAULT 10 /* Stripe's default `limit` */
#define PAGE_LIMIT_MAX     100
#define FILTER_TYPES_MAX   20 /* Stripe accepts at most 20 types[] */

struct scripted_failure {
    size_t request;
    int status;
    char *body;
    char *header_name;
    char *header_value;
};

struct fake_stripe {
    struct MHD_Daemon *mhd;
    int port;
    char *authorization; /* "Bearer <key>" */
    pthread_mutex_t mutex;
    json_t *events; /* newest first */
    size_t page_size;
    struct scripted_failure *failures;
    size_t failure_count;
    atomic_bool *stop_flag;
    size_t stop_at; /* request count at which stop_flag is set */
    struct fake_stripe_request *received;
    size_t received_count;
};

/* The parameters of one GET /v1/events. */
struct list_query {
    bool has_gt, has_gte, has_lt, has_lte;
    long long gt, gte, lt, lte;
    const char *types[FILTER_TYPES_MAX];
    size_t type_count;
    bool too_many_types;
    const char *type; /* `type=`, possibly "prefix.*" */
    const char *limit;
    const char *starting_after;
    const char *ending_before;
    const char *bad_param; /* an unknown parameter */
};

static char *stripe_error(const char *type, const char *code, const char *param,
                          const char *message)
{
    json_t *error = json_pack("{s:{s:s, s:s}}", "error", "type", type, "message", message);
    json_t *inner = json_object_get(error, "error");
    if (code != NULL) {
        json_object_set_new(inner, "code", json_string(code));
    }
    if (param != NULL) {
        json_object_set_new(inner, "param", json_string(param));
    }
    char *text = json_dumps(error, JSON_COMPACT);
    json_decref(error);
    return text;
}

static bool parse_number(const char *text, long long *out)
{
    char *end = NULL;
    *out = strtoll(text, &end, 10);
    return text[0] != '\0' && *end == '\0';
}

static enum MHD_Result on_argument(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct list_query *q = cls;
    value = value != NULL ? value : "";
    long long n = 0;
    if (strcmp(key, "created[gt]") == 0 && parse_number(value, &n)) {
        q->has_gt = true;
        q->gt = n;
    } else if (strcmp(key, "created[gte]") == 0 && parse_number(value, &n)) {
        q->has_gte = true;
        q->gte = n;
    } else if (strcmp(key, "created[lt]") == 0 && parse_number(value, &n)) {
        q->has_lt = true;
        q->lt = n;
    } else if (strcmp(key, "created[lte]") == 0 && parse_number(value, &n)) {
        q->has_lte = true;
        q->lte = n;
    } else if (strcmp(key, "types[]") == 0) {
        if (q->type_count < FILTER_TYPES_MAX) {
            q->types[q->type_count++] = value;
        } else {
            q->too_many_types = true;
        }
    } else if (strcmp(key, "type") == 0) {
        q->type = value;
    } else if (strcmp(key, "limit") == 0) {
        q->limit = value;
    } else if (strcmp(key, "starting_after") == 0) {
        q->starting_after = value;
    } else if (strcmp(key, "ending_before") == 0) {
        q->ending_before = value;
    } else if (strcmp(key, "delivery_success") != 0) {
        q->bad_param = key;
    }
    return MHD_YES;
}

static bool type_matches(const struct list_query *q, const char *type)
{
    if (q->type_count > 0) {
        for (size_t i = 0; i < q->type_count; i++) {
            if (strcmp(q->types[i], type) == 0) {
                return true;
            }
        }
        return false;
    }
    if (q->type != NULL) {
        size_t len = strlen(q->type);
        if (len >= 2 && strcmp(q->type + len - 2, ".*") == 0) {
            return strncmp(type, q->type, len - 1) == 0;
        }
        return strcmp(q->type, type) == 0;
    }
    return true;
}

static bool event_matches(const struct list_query *q, const json_t *event)
{
    long long created = json_integer_value(json_object_get(event, "created"));
    const char *type = json_string_value(json_object_get(event, "type"));
    return (!q->has_gt || created > q->gt) && (!q->has_gte || created >= q->gte) &&
           (!q->has_lt || created < q->lt) && (!q->has_lte || created <= q->lte) &&
           type_matches(q, type != NULL ? type : "");
}

static long find_event(const json_t *events, const char *id)
{
    size_t i;
    const json_t *event;
    json_array_foreach(events, i, event)
    {
        if (strcmp(json_string_value(json_object_get(event, "id")), id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* Answers one list request (called with the mutex held): *status_out and a malloc'd body. */
static char *list_events(struct fake_stripe *stripe, const struct list_query *q, int *status_out)
{
    long long limit = PAGE_LIMIT_DEFAULT;
    if (q->bad_param != NULL) {
        *status_out = 400;
        char *message = util_printf("Received unknown parameter: %s", q->bad_param);
        char *body =
            stripe_error("invalid_request_error", "parameter_unknown", q->bad_param, message);
        free(message);
        return body;
    }
    if ((q->type_count > 0 && q->type != NULL) || q->too_many_types) {
        *status_out = 400;
        return stripe_error("invalid_request_error", "parameter_invalid", "types",
                            "Use either type or types (at most 20), not both.");
    }
    if (q->limit != NULL &&
        (!parse_number(q->limit, &limit) || limit < 1 || limit > PAGE_LIMIT_MAX)) {
        *status_out = 400;
        return stripe_error("invalid_request_error", "parameter_invalid_integer", "limit",
                            "This value must be between 1 and 100.");
    }
    if (stripe->page_size > 0 && (size_t)limit > stripe->page_size) {
        limit = (long long)stripe->page_size;
    }
    const char *cursor = q->starting_after != NULL ? q->starting_after : q->ending_before;
    long position = -1;
    if (cursor != NULL && (position = find_event(stripe->events, cursor)) < 0) {
        *status_out = 404;
        char *message = util_printf("No such event: '%s'", cursor);
        char *body =
            stripe_error("invalid_request_error", "resource_missing",
                         q->starting_after != NULL ? "starting_after" : "ending_before", message);
        free(message);
        return body;
    }
    json_t *page = json_array();
    bool has_more = false;
    size_t count = json_array_size(stripe->events);
    if (q->ending_before != NULL) {
        /* the matching events just newer than the cursor, still shown newest first */
        for (long i = position - 1; i >= 0; i--) {
            json_t *event = json_array_get(stripe->events, (size_t)i);
            if (!event_matches(q, event)) {
                continue;
            }
            if ((long long)json_array_size(page) == limit) {
                has_more = true;
                break;
            }
            json_array_insert(page, 0, event);
        }
    } else {
        for (size_t i = (size_t)(position + 1); i < count; i++) {
            json_t *event = json_array_get(stripe->events, i);
            if (!event_matches(q, event)) {
                continue;
            }
            if ((long long)json_array_size(page) == limit) {
                has_more = true;
                break;
            }
            json_array_append(page, event);
        }
    }
    json_t *list = json_pack("{s:s, s:o, s:b, s:s}", "object", "list", "data", page, "has_more",
                             has_more, "url", "/v1/events");
    char *body = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    *status_out = 200;
    return body;
}

static void record(struct fake_stripe *stripe, const char *url, struct MHD_Connection *connection,
                   int status)
{
    const char *auth =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *version =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Stripe-Version");
    struct fake_stripe_request *grown =
        realloc(stripe->received, (stripe->received_count + 1) * sizeof(*grown));
    if (grown == NULL) {
        return;
    }
    stripe->received = grown;
    stripe->received[stripe->received_count++] = (struct fake_stripe_request){
        .url = strdup(url),
        .authorization = auth != NULL ? strdup(auth) : NULL,
        .stripe_version = version != NULL ? strdup(version) : NULL,
        .status = status,
    };
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    return strdup(uri);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    struct fake_stripe *stripe = cls;
    const char *raw_uri = *con_cls != NULL ? *con_cls : url;
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* GETs only: a body is ignored */
        return MHD_YES;
    }
    const char *auth =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    struct list_query query = {0};
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, on_argument, &query);

    pthread_mutex_lock(&stripe->mutex);
    size_t number = stripe->received_count + 1;
    int status = 200;
    char *body = NULL;
    const char *header_name = NULL, *header_value = NULL;
    for (size_t i = 0; i < stripe->failure_count && body == NULL; i++) {
        if (stripe->failures[i].request == number) {
            status = stripe->failures[i].status;
            body = strdup(stripe->failures[i].body);
            header_name = stripe->failures[i].header_name;
            header_value = stripe->failures[i].header_value;
        }
    }
    if (body != NULL) {
        /* scripted */
    } else if (auth == NULL || strcmp(auth, stripe->authorization) != 0) {
        status = 401;
        body = stripe_error("invalid_request_error", NULL, NULL,
                            auth == NULL ? "You did not provide an API key."
                                         : "Invalid API Key provided: sk_test_********");
    } else if (strcmp(method, "GET") != 0 || strcmp(url, "/v1/events") != 0) {
        status = 404;
        body = stripe_error("invalid_request_error", NULL, NULL, "Unrecognized request URL.");
    } else {
        body = list_events(stripe, &query, &status);
    }
    record(stripe, raw_uri, connection, status);
    if (stripe->stop_flag != NULL && stripe->received_count >= stripe->stop_at) {
        atomic_store(stripe->stop_flag, true);
        stripe->stop_flag = NULL;
    }
    /* copy the scripted header: the script may be freed once the mutex is released */
    char *name_copy = header_name != NULL ? strdup(header_name) : NULL;
    char *value_copy = header_value != NULL ? strdup(header_value) : NULL;
    pthread_mutex_unlock(&stripe->mutex);

    struct MHD_Response *response = MHD_create_response_from_buffer(
        body != NULL ? strlen(body) : 0, body != NULL ? body : "", MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "application/json");
    MHD_add_response_header(response, "Request-Id", "req_fake");
    if (name_copy != NULL && value_copy != NULL) {
        MHD_add_response_header(response, name_copy, value_copy);
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)status, response);
    MHD_destroy_response(response);
    free(body);
    free(name_copy);
    free(value_copy);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    free(*con_cls);
    *con_cls = NULL;
}

struct fake_stripe *fake_stripe_start(const char *api_key)
{
    struct fake_stripe *stripe = calloc(1, sizeof(*stripe));
    if (stripe == NULL) {
        return NULL;
    }
    pthread_mutex_init(&stripe->mutex, NULL);
    stripe->authorization = util_printf("Bearer %s", api_key);
    stripe->events = json_array();
    stripe->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, stripe, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                         stripe, MHD_OPTION_URI_LOG_CALLBACK, on_uri, stripe, MHD_OPTION_END);
    if (stripe->mhd == NULL) {
        fake_stripe_stop(stripe);
        return NULL;
    }
    stripe->port = MHD_get_daemon_info(stripe->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return stripe;
}

void fake_stripe_stop(struct fake_stripe *stripe)
{
    if (stripe == NULL) {
        return;
    }
    if (stripe->mhd != NULL) {
        MHD_stop_daemon(stripe->mhd);
    }
    for (size_t i = 0; i < stripe->failure_count; i++) {
        free(stripe->failures[i].body);
        free(stripe->failures[i].header_name);
        free(stripe->failures[i].header_value);
    }
    free(stripe->failures);
    for (size_t i = 0; i < stripe->received_count; i++) {
        fake_stripe_request_free(&stripe->received[i]);
    }
    free(stripe->received);
    json_decref(stripe->events);
    free(stripe->authorization);
    pthread_mutex_destroy(&stripe->mutex);
    free(stripe);
}

char *fake_stripe_base_url(const struct fake_stripe *stripe)
{
    return util_printf("http://127.0.0.1:%d", stripe->port);
}

void fake_stripe_add_event(struct fake_stripe *stripe, const json_t *event)
{
    json_t *copy = json_deep_copy(event);
    long long created = json_integer_value(json_object_get(copy, "created"));
    pthread_mutex_lock(&stripe->mutex);
    size_t at = 0;
    size_t i;
    const json_t *existing;
    json_array_foreach(stripe->events, i, existing)
    {
        if (json_integer_value(json_object_get(existing, "created")) <= created) {
            break; /* newer first; among equals, the newcomer first */
        }
        at = i + 1;
    }
    json_array_insert_new(stripe->events, at, copy);
    pthread_mutex_unlock(&stripe->mutex);
}

void fake_stripe_remove_event(struct fake_stripe *stripe, const char *id)
{
    pthread_mutex_lock(&stripe->mutex);
    long at = find_event(stripe->events, id);
    if (at >= 0) {
        json_array_remove(stripe->events, (size_t)at);
    }
    pthread_mutex_unlock(&stripe->mutex);
}

void fake_stripe_set_page_size(struct fake_stripe *stripe, size_t n)
{
    pthread_mutex_lock(&stripe->mutex);
    stripe->page_size = n;
    pthread_mutex_unlock(&stripe->mutex);
}

void fake_stripe_fail(struct fake_stripe *stripe, size_t request, int status, const char *body,
                      const char *header)
{
    pthread_mutex_lock(&stripe->mutex);
    struct scripted_failure *grown =
        realloc(stripe->failures, (stripe->failure_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        stripe->failures = grown;
        struct scripted_failure *f = &stripe->failures[stripe->failure_count++];
        memset(f, 0, sizeof(*f));
        f->request = request;
        f->status = status;
        f->body = strdup(body != NULL ? body : "");
        const char *colon = header != NULL ? strchr(header, ':') : NULL;
        if (colon != NULL) {
            f->header_name = strndup(header, (size_t)(colon - header));
            f->header_value = strdup(colon + 1 + (colon[1] == ' '));
        }
    }
    pthread_mutex_unlock(&stripe->mutex);
}

void fake_stripe_stop_after(struct fake_stripe *stripe, size_t requests, atomic_bool *flag)
{
    pthread_mutex_lock(&stripe->mutex);
    stripe->stop_flag = flag;
    stripe->stop_at = stripe->received_count + requests;
    pthread_mutex_unlock(&stripe->mutex);
}

size_t fake_stripe_request_count(struct fake_stripe *stripe)
{
    pthread_mutex_lock(&stripe->mutex);
    size_t n = stripe->received_count;
    pthread_mutex_unlock(&stripe->mutex);
    return n;
}

static char *dup_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

struct fake_stripe_request fake_stripe_request(struct fake_stripe *stripe, size_t i)
{
    struct fake_stripe_request copy = {0};
    pthread_mutex_lock(&stripe->mutex);
    if (i < stripe->received_count) {
        const struct fake_stripe_request *r = &stripe->received[i];
        copy = (struct fake_stripe_request){dup_or_null(r->url), dup_or_null(r->authorization),
                                            dup_or_null(r->stripe_version), r->status};
    }
    pthread_mutex_unlock(&stripe->mutex);
    return copy;
}

void fake_stripe_request_free(struct fake_stripe_request *request)
{
    free(request->url);
    free(request->authorization);
    free(request->stripe_version);
    memset(request, 0, sizeof(*request));
}

json_t *fake_stripe_event(const char *id, const char *type, long long created, json_t *object)
{
    if (object == NULL) {
        object = json_pack("{s:s, s:s, s:s}", "id", "cus_fake", "object", "customer", "email",
                           "fake@example.com");
    }
    return json_pack("{s:s, s:s, s:s, s:I, s:b, s:{s:o}, s:i}", "id", id, "object", "event", "type",
                     type, "created", (json_int_t)created, "livemode", 0, "data", "object", object,
                     "pending_webhooks", 0);
}
