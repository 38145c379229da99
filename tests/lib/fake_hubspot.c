/* fake_hubspot.c - see fake_hubspot.h. */
#include <ctype.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crm_view.h"
#include "fake_hubspot.h"
#include "testutil.h"
#include "util.h"

#define SEARCH_CAP 10000

struct object {
    char id[24];
    json_t *properties; /* strings */
    int64_t created_ms;
    int64_t modified_ms;
    json_t *contacts; /* deals: associated contact ids; meetings: [{"id","type"}] */
    bool deleted;
    bool purged; /* deleted for good (GDPR delete): its properties gone, never restored */
};

struct collection {
    struct object *items;
    size_t count;
    size_t capacity;
    long long next_id;
};

struct failure {
    char *method; /* NULL: any */
    char *prefix;
    int status;
    char *body;
    char *header;
    int times;
    int skip;       /* matching requests to let through first */
    bool carry_out; /* the request is carried out first: only its answer is lost */
};

struct rejection {
    char *email;
    char *category;
    char *message;
    int times; /* 0: always */
};

struct fake_hubspot {
    struct MHD_Daemon *mhd;
    int port;
    pthread_mutex_t mutex;
    int64_t last_ms;
    struct collection contacts, deals, meetings;
    json_t *email_index; /* email -> index in contacts */
    json_t *allowed;     /* token -> true */
    json_t *issued;      /* token -> expiry ms */
    char *client_id, *client_secret, *refresh_token, *rotate_to;
    int expires_in;
    int revoked;      /* -1 no, else enum fake_hubspot_revocation */
    int token_count;  /* token requests */
    int issued_count; /* access tokens issued */
    int meeting_type;
    /* a rep's edit made right after the nth contacts search is answered (mid-pass) */
    char *edit_id, *edit_properties;
    size_t edit_after_search;
    size_t contact_searches;
    struct failure *failures;
    size_t failure_count;
    struct rejection *rejections;
    size_t rejection_count;
    bool whole_request;
    bool anonymous_upserts; /* upsert results without their emails, in reverse order */
    char *anonymous_email;  /* the upsert result of this email comes without it */
    struct fake_hubspot_request *received;
    size_t received_count;
    int64_t latency_ms;             /* each request is answered this long after it arrives */
    pthread_cond_t latency_changed; /* wakes the requests being held */
    size_t held;                    /* requests waiting out the latency now */
};

struct upload {
    char *uri;
    bool started;
    struct strbuf body;
};

/* A scripted answer. */
struct answer {
    int status;
    char *body;   /* malloc'd */
    char *header; /* malloc'd or NULL */
};

static int64_t now_ms(struct fake_hubspot *hs, int64_t wanted)
{
    int64_t t = wanted > 0 ? wanted : util_now_ms();
    if (wanted <= 0 && t <= hs->last_ms) {
        t = hs->last_ms + 1;
    }
    if (t > hs->last_ms) {
        hs->last_ms = t;
    }
    return t;
}

static void iso(int64_t ms, char *out)
{
    util_format_rfc3339(ms, out);
}

static struct object *collection_add(struct collection *c, long long first_id)
{
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 64;
        struct object *grown = realloc(c->items, capacity * sizeof(*grown));
        if (grown == NULL) {
            return NULL;
        }
        c->items = grown;
        c->capacity = capacity;
    }
    if (c->next_id == 0) {
        c->next_id = first_id;
    }
    struct object *o = &c->items[c->count++];
    memset(o, 0, sizeof(*o));
    snprintf(o->id, sizeof(o->id), "%lld", c->next_id++);
    o->properties = json_object();
    o->contacts = json_array();
    return o;
}

static struct object *collection_find(struct collection *c, const char *id)
{
    for (size_t i = 0; id != NULL && i < c->count; i++) {
        if (!c->items[i].deleted && strcmp(c->items[i].id, id) == 0) {
            return &c->items[i];
        }
    }
    return NULL;
}

static void collection_free(struct collection *c)
{
    for (size_t i = 0; i < c->count; i++) {
        json_decref(c->items[i].properties);
        json_decref(c->items[i].contacts);
    }
    free(c->items);
}

static char *lower(const char *text)
{
    char *copy = strdup(text);
    for (char *p = copy; p != NULL && *p; p++) {
        *p = (char)tolower((unsigned char)*p);
    }
    return copy;
}

static struct object *contact_by_email(struct fake_hubspot *hs, const char *email)
{
    char *key = lower(email);
    const json_t *index = json_object_get(hs->email_index, key);
    free(key);
    if (!json_is_integer(index)) {
        return NULL;
    }
    struct object *o = &hs->contacts.items[json_integer_value(index)];
    return o->deleted ? NULL : o;
}

/* The contact holding email among its additional addresses (hs_additional_emails,
 * separated by ';'), or NULL. */
static struct object *contact_by_additional_email(struct fake_hubspot *hs, const char *email)
{
    size_t len = strlen(email);
    for (size_t i = 0; i < hs->contacts.count; i++) {
        struct object *o = &hs->contacts.items[i];
        const char *list =
            json_string_value(json_object_get(o->properties, "hs_additional_emails"));
        for (const char *p = list; p != NULL && *p != '\0' && !o->deleted;) {
            const char *end = strchr(p, ';');
            size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
            if (n == len && strncasecmp(p, email, len) == 0) {
                return o;
            }
            p = end != NULL ? end + 1 : NULL;
        }
    }
    return NULL;
}

/* Sets the standard properties HubSpot keeps on every object. */
static void stamp(struct object *o, const char *modified_property, bool is_new)
{
    char text[32];
    iso(o->modified_ms, text);
    json_object_set_new(o->properties, modified_property, json_string(text));
    json_object_set_new(o->properties, "hs_object_id", json_string(o->id));
    if (is_new) {
        iso(o->created_ms, text);
        json_object_set_new(o->properties, "createdate", json_string(text));
    }
}

/* The contact is found by its (primary) email, and no longer by one it had before. */
static void index_email(struct fake_hubspot *hs, struct object *o)
{
    json_int_t position = o - hs->contacts.items;
    const char *email = json_string_value(json_object_get(o->properties, "email"));
    char *key = email != NULL ? lower(email) : NULL;
    const char *indexed;
    json_t *value;
    void *tmp;
    json_object_foreach_safe(hs->email_index, tmp, indexed, value)
    {
        if (json_integer_value(value) == position && (key == NULL || strcmp(indexed, key) != 0)) {
            json_object_del(hs->email_index, indexed);
        }
    }
    if (key != NULL) {
        json_object_set_new(hs->email_index, key, json_integer(position));
    }
    free(key);
}

/* {id, properties (all, or those in `wanted`), createdAt, updatedAt, archived}. NEW. */
static json_t *object_json(const struct object *o, const json_t *wanted, const char *modified)
{
    json_t *props = json_object();
    const char *name;
    json_t *value;
    json_object_foreach(o->properties, name, value)
    {
        bool keep = wanted == NULL || strcmp(name, "hs_object_id") == 0 ||
                    strcmp(name, "createdate") == 0 || strcmp(name, modified) == 0;
        size_t i;
        const json_t *w;
        json_array_foreach(wanted, i, w)
        {
            keep |= json_is_string(w) && strcmp(json_string_value(w), name) == 0;
        }
        if (keep) {
            json_object_set(props, name, value);
        }
    }
    /* asked-for properties a record lacks come back as null */
    size_t i;
    const json_t *w;
    json_array_foreach(wanted, i, w)
    {
        if (json_is_string(w) && json_object_get(props, json_string_value(w)) == NULL) {
            json_object_set_new(props, json_string_value(w), json_null());
        }
    }
    char created[32], updated[32];
    iso(o->created_ms, created);
    iso(o->modified_ms, updated);
    return json_pack("{s:s, s:o, s:s, s:s, s:b}", "id", o->id, "properties", props, "createdAt",
                     created, "updatedAt", updated, "archived", 0);
}

static struct answer reply(int status, json_t *body)
{
    struct answer a = {status, json_dumps(body, JSON_COMPACT), NULL};
    json_decref(body);
    return a;
}

static struct answer error_reply(int status, const char *category, const char *message)
{
    return reply(status, json_pack("{s:s, s:s, s:s, s:s}", "status", "error", "message", message,
                                   "correlationId", "0f9a2a9c-fake", "category", category));
}

/* HubSpot's 409 for a write that would give a second contact an address contact `id`
 * has (the body of its contacts API since 2023: the old message, plus errors[]). */
static struct answer conflict_reply(const char *id, const char *email)
{
    char *message = util_printf("Contact already exists. Existing ID: %s", id);
    char *detail =
        util_printf("A contact with email %s already exists. Existing ID: %s", email, id);
    json_t *body =
        json_pack("{s:s, s:[{s:s, s:s}], s:s, s:s, s:s, s:s}", "message", message, "errors",
                  "message", detail, "in", "email", "status", "error", "correlationId",
                  "b6881283-fake", "category", "OBJECT_ALREADY_EXISTS", "error", "CONTACT_EXISTS");
    free(message);
    free(detail);
    return reply(409, body);
}

/* HubSpot's contact deletes: the GDPR delete (POST .../gdpr-delete {"objectId": id},
 * permanent) and the ordinary one (DELETE .../contacts/{id}, archived, restorable): 204
 * without a body, 404 for a contact it does not have. By email (idProperty) is refused
 * here: HubSpot would blocklist an address it does not know, and leadhub never asks so. */
static struct answer contact_remove(struct fake_hubspot *hs, const char *id, bool permanent)
{
    struct object *o = collection_find(&hs->contacts, id);
    if (o == NULL) {
        return error_reply(404, "OBJECT_NOT_FOUND",
                           "Object not found.  objectId are usually "
                           "numeric.");
    }
    o->deleted = true;
    if (permanent) {
        o->purged = true;
        json_decref(o->properties);
        o->properties = json_object();
    }
    return (struct answer){204, strdup(""), NULL};
}

static struct answer contact_gdpr_delete(struct fake_hubspot *hs, const json_t *request)
{
    const char *id = json_string_value(json_object_get(request, "objectId"));
    if (id == NULL || json_object_get(request, "idProperty") != NULL) {
        return error_reply(400, "VALIDATION_ERROR", "the fake takes objectId as a contact id");
    }
    return contact_remove(hs, id, true);
}

/* --- OAuth ---------------------------------------------------------------------------- */

static char *form_value(const char *body, const char *key)
{
    size_t key_len = strlen(key);
    for (const char *p = body; p != NULL && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > key_len && strncmp(p, key, key_len) == 0 && p[key_len] == '=') {
            struct strbuf out = {0};
            for (size_t i = key_len + 1; i < len; i++) {
                if (p[i] == '%' && i + 2 < len) {
                    char hex[3] = {p[i + 1], p[i + 2], 0};
                    char c = (char)strtol(hex, NULL, 16);
                    strbuf_append_len(&out, &c, 1);
                    i += 2;
                } else if (p[i] == '+') {
                    strbuf_append_len(&out, " ", 1);
                } else {
                    strbuf_append_len(&out, &p[i], 1);
                }
            }
            return strbuf_take(&out);
        }
        p = end ? end + 1 : NULL;
    }
    return NULL;
}

#define TOKEN_LEN 320 /* HubSpot's access tokens run to 300 characters and more */

/* The nth access token the fake issues (1 for the first), into out (TOKEN_LEN + 1 bytes):
 * long, of the characters HubSpot's use, and different for every n. */
static void access_token_text(int n, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int used = snprintf(out, TOKEN_LEN + 1, "CJSP5qzkMxICAQEYu%06d", n);
    unsigned state = 2166136261u ^ (unsigned)n;
    for (int i = used; i < TOKEN_LEN; i++) {
        state = state * 16777619u + (unsigned)i;
        out[i] = alphabet[(state >> 7) % 64];
    }
    out[TOKEN_LEN] = '\0';
}

/* HubSpot's answer to a token request with a refused client: its own v1 shape
 * ({status, message, correlationId}, as for BAD_REFRESH_TOKEN), HTTP 400. */
static struct answer bad_client(const char *status, const char *message)
{
    return reply(400, json_pack("{s:s, s:s, s:s}", "status", status, "message", message,
                                "correlationId", "9b2e1f64-fake"));
}

/* The answer to a granted refresh: examples/hubspot/oauth.token.response.json (a copy in
 * plugins/hubspot/tests/fixtures) with this grant's values, plus the hub_id, user_id and
 * scopes newer versions of the endpoint add. NEW. */
static json_t *token_answer(struct fake_hubspot *hs, const char *token)
{
    char *path =
        util_printf("%s/plugins/hubspot/tests/fixtures/oauth.token.response.json", tu_source_dir());
    json_t *body = path != NULL ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    if (body == NULL) {
        return json_pack("{s:s}", "error", "the fake's token fixture is missing");
    }
    json_object_set_new(body, "refresh_token", json_string(hs->refresh_token));
    json_object_set_new(body, "access_token", json_string(token));
    json_object_set_new(body, "expires_in", json_integer(hs->expires_in));
    json_object_set_new(body, "hub_id", json_integer(44017236));
    json_object_set_new(body, "user_id", json_integer(71244960));
    json_object_set_new(body, "scopes",
                        json_pack("[s,s,s,s]", "crm.objects.contacts.read",
                                  "crm.objects.contacts.write", "crm.objects.deals.read", "oauth"));
    return body;
}

static struct answer token_endpoint(struct fake_hubspot *hs, const char *body)
{
    char *grant = form_value(body, "grant_type");
    char *id = form_value(body, "client_id");
    char *secret = form_value(body, "client_secret");
    char *refresh = form_value(body, "refresh_token");
    struct answer a;
    hs->token_count++;
    if (grant == NULL || strcmp(grant, "refresh_token") != 0) {
        a = reply(400, json_pack("{s:s, s:s}", "error", "unsupported_grant_type",
                                 "error_description", "grant_type must be refresh_token"));
    } else if (hs->client_id == NULL || id == NULL || strcmp(id, hs->client_id) != 0) {
        a = bad_client("BAD_CLIENT_ID", "missing or unknown client id");
    } else if (secret == NULL || strcmp(secret, hs->client_secret) != 0) {
        a = bad_client("BAD_CLIENT_SECRET", "missing or invalid client secret");
    } else if (hs->revoked == FAKE_HUBSPOT_INVALID_GRANT ||
               (hs->revoked < 0 && (refresh == NULL || strcmp(refresh, hs->refresh_token) != 0))) {
        a = reply(400, json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description",
                                 "refresh token is invalid or revoked"));
    } else if (hs->revoked == FAKE_HUBSPOT_BAD_REFRESH_TOKEN) {
        a = reply(400, json_pack("{s:s, s:s, s:s}", "status", "BAD_REFRESH_TOKEN", "message",
                                 "missing or invalid refresh token", "correlationId", "5d1c-fake"));
    } else {
        if (hs->rotate_to != NULL) {
            free(hs->refresh_token);
            hs->refresh_token = hs->rotate_to;
            hs->rotate_to = NULL;
        }
        char token[TOKEN_LEN + 1];
        access_token_text(++hs->issued_count, token);
        json_object_set_new(hs->issued, token,
                            json_integer(util_now_ms() + (int64_t)hs->expires_in * 1000));
        a = reply(200, token_answer(hs, token));
    }
    free(grant);
    free(id);
    free(secret);
    free(refresh);
    return a;
}

/* 0 when the request's bearer token is good, else the 401 answer in *a. */
static int check_token(struct fake_hubspot *hs, const char *authorization, struct answer *a)
{
    const char *token = authorization != NULL && strncmp(authorization, "Bearer ", 7) == 0
                            ? authorization + 7
                            : NULL;
    if (token != NULL && json_object_get(hs->allowed, token) != NULL) {
        return 0;
    }
    const json_t *expiry = token != NULL ? json_object_get(hs->issued, token) : NULL;
    if (expiry != NULL && json_integer_value(expiry) > util_now_ms()) {
        return 0;
    }
    *a = expiry != NULL
             ? error_reply(401, "EXPIRED_AUTHENTICATION",
                           "The OAuth token used to make this call expired.")
             : error_reply(401, "INVALID_AUTHENTICATION", "Authentication credentials not found.");
    return -1;
}

/* --- contacts ------------------------------------------------------------------------- */

static struct rejection *rejection_for(struct fake_hubspot *hs, const char *email)
{
    for (size_t i = 0; i < hs->rejection_count; i++) {
        struct rejection *r = &hs->rejections[i];
        if (strcasecmp(r->email, email) == 0 && r->times >= 0) {
            return r;
        }
    }
    if (strchr(email, '@') == NULL) {
        static struct rejection invalid = {NULL, "VALIDATION_ERROR", NULL, 0};
        return &invalid;
    }
    return NULL;
}

static void rejection_used(struct rejection *r)
{
    if (r->email != NULL && r->times > 0 && --r->times == 0) {
        r->times = -1;
    }
}

static char *rejection_message(const struct rejection *r, const char *email)
{
    if (r->message != NULL) {
        return strdup(r->message);
    }
    return util_printf("Property values were not valid: [{\"isValid\":false,\"message\":\"Email "
                       "address %s is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]",
                       email);
}

/* Duplicate ids in a batch: HubSpot refuses the whole request. */
static bool duplicate_ids(const json_t *inputs, bool ignore_case, char **which)
{
    json_t *seen = json_object();
    bool duplicate = false;
    size_t i;
    const json_t *input;
    json_array_foreach(inputs, i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        char *key = id != NULL ? (ignore_case ? lower(id) : strdup(id)) : NULL;
        if (key != NULL && json_object_get(seen, key) != NULL) {
            duplicate = true;
            *which = key;
            break;
        }
        if (key != NULL) {
            json_object_set_new(seen, key, json_true());
        }
        free(key);
    }
    json_decref(seen);
    return duplicate;
}

static json_t *batch_answer(json_t *results, json_t *errors)
{
    json_t *body =
        json_pack("{s:s, s:o, s:s, s:s}", "status", "COMPLETE", "results", results, "startedAt",
                  "2026-11-27T10:00:00.000Z", "completedAt", "2026-11-27T10:00:00.100Z");
    if (json_array_size(errors) > 0) {
        json_object_set_new(body, "numErrors", json_integer((json_int_t)json_array_size(errors)));
        json_object_set(body, "errors", errors);
    }
    json_decref(errors);
    return body;
}

static struct answer contacts_upsert(struct fake_hubspot *hs, const json_t *request)
{
    const json_t *inputs = json_object_get(request, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) > 100) {
        return error_reply(400, "VALIDATION_ERROR", "inputs: between 1 and 100 inputs");
    }
    char *duplicate = NULL;
    if (duplicate_ids(inputs, true, &duplicate)) {
        char *message = util_printf("Duplicate IDs found in batch input: [%s]. IDs must be "
                                    "unique",
                                    duplicate);
        struct answer a = error_reply(400, "VALIDATION_ERROR", message);
        free(message);
        free(duplicate);
        return a;
    }
    size_t i;
    const json_t *input;
    if (hs->whole_request) {
        json_array_foreach(inputs, i, input)
        {
            const char *email = json_string_value(json_object_get(input, "id"));
            struct rejection *r = email != NULL ? rejection_for(hs, email) : NULL;
            if (r != NULL) {
                char *message = rejection_message(r, email);
                struct answer a = error_reply(400, r->category, message);
                rejection_used(r);
                free(message);
                return a;
            }
        }
    }
    /* Upserts match the primary address alone: an input whose email is another contact's
     * additional address would create a second contact with it. HubSpot refuses the whole
     * request, naming the contact that holds it (as its batch create does). */
    json_array_foreach(inputs, i, input)
    {
        const char *email = json_string_value(json_object_get(input, "id"));
        struct object *holder = email != NULL && contact_by_email(hs, email) == NULL
                                    ? contact_by_additional_email(hs, email)
                                    : NULL;
        if (holder != NULL) {
            return conflict_reply(holder->id, email);
        }
    }
    json_t *results = json_array();
    json_t *errors = json_array();
    json_array_foreach(inputs, i, input)
    {
        const char *email = json_string_value(json_object_get(input, "id"));
        const char *id_property = json_string_value(json_object_get(input, "idProperty"));
        const json_t *properties = json_object_get(input, "properties");
        if (email == NULL || id_property == NULL || strcmp(id_property, "email") != 0 ||
            !json_is_object(properties)) {
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s, s:s, s:{s:[s?]}}", "status", "error",
                                            "category", "VALIDATION_ERROR", "message",
                                            "idProperty must be email", "context", "ids", email));
            continue;
        }
        struct rejection *r = rejection_for(hs, email);
        if (r != NULL) {
            char *message = rejection_message(r, email);
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:{s:[s]}}", "status", "error",
                                                    "category", r->category, "message", message,
                                                    "context", "ids", email));
            rejection_used(r);
            free(message);
            continue;
        }
        struct object *o = contact_by_email(hs, email);
        bool is_new = o == NULL;
        if (is_new) {
            o = collection_add(&hs->contacts, 80100);
            o->created_ms = now_ms(hs, 0);
        }
        json_object_update(o->properties, (json_t *)properties);
        char *key = lower(email);
        json_object_set_new(o->properties, "email", json_string(key));
        free(key);
        o->modified_ms = now_ms(hs, 0);
        stamp(o, "lastmodifieddate", is_new);
        index_email(hs, o);
        json_t *result = object_json(o, NULL, "lastmodifieddate");
        json_object_set_new(result, "new", json_boolean(is_new));
        json_array_append_new(results, result);
    }
    for (size_t k = 0; hs->anonymous_email != NULL && k < json_array_size(results); k++) {
        json_t *properties = json_object_get(json_array_get(results, k), "properties");
        const char *email = json_string_value(json_object_get(properties, "email"));
        if (email != NULL && strcasecmp(email, hs->anonymous_email) == 0) {
            json_object_del(properties, "email");
        }
    }
    if (hs->anonymous_upserts) {
        /* HubSpot promises neither the inputs' order nor, for every property, its value */
        json_t *reversed = json_array();
        for (size_t k = json_array_size(results); k > 0; k--) {
            json_t *result = json_array_get(results, k - 1);
            json_object_del(json_object_get(result, "properties"), "email");
            json_array_append(reversed, result);
        }
        json_decref(results);
        results = reversed;
    }
    int status = json_array_size(errors) > 0 ? 207 : 200;
    return reply(status, batch_answer(results, errors));
}

static struct answer batch_update(struct fake_hubspot *hs, struct collection *c,
                                  const char *modified, const json_t *request)
{
    const json_t *inputs = json_object_get(request, "inputs");
    if (!json_is_array(inputs) || json_array_size(inputs) > 100) {
        return error_reply(400, "VALIDATION_ERROR", "inputs: between 1 and 100 inputs");
    }
    json_t *results = json_array();
    json_t *errors = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(inputs, i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        struct object *o = collection_find(c, id);
        if (o == NULL) {
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s, s:s, s:{s:[s?]}}", "status", "error",
                                            "category", "OBJECT_NOT_FOUND", "message",
                                            "Object not found", "context", "ids", id));
            continue;
        }
        json_object_update(o->properties, json_object_get(input, "properties"));
        o->modified_ms = now_ms(hs, 0);
        stamp(o, modified, false);
        if (c == &hs->contacts) {
            index_email(hs, o);
        }
        json_array_append_new(results, object_json(o, NULL, modified));
    }
    return reply(json_array_size(errors) > 0 ? 207 : 200, batch_answer(results, errors));
}

static struct answer batch_read(struct fake_hubspot *hs, struct collection *c, const char *modified,
                                const char *kind, const json_t *request)
{
    const json_t *inputs = json_object_get(request, "inputs");
    const char *id_property = json_string_value(json_object_get(request, "idProperty"));
    const json_t *wanted = json_object_get(request, "properties");
    if (!json_is_array(inputs) || json_array_size(inputs) > 100) {
        return error_reply(400, "VALIDATION_ERROR", "inputs: between 1 and 100 inputs");
    }
    json_t *results = json_array();
    json_t *missing = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(inputs, i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        struct object *o = NULL;
        if (id != NULL && id_property != NULL && strcmp(id_property, "email") == 0) {
            o = c == &hs->contacts ? contact_by_email(hs, id) : NULL;
        } else {
            o = collection_find(c, id);
        }
        if (o == NULL) {
            json_array_append_new(missing, json_string(id != NULL ? id : ""));
            continue;
        }
        json_array_append_new(results,
                              object_json(o, json_is_array(wanted) ? wanted : NULL, modified));
    }
    json_t *errors = json_array();
    if (json_array_size(missing) > 0) {
        char *message = util_printf("Could not get some %s objects, they may be deleted or not "
                                    "exist. Check that ids are valid.",
                                    kind);
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:{s:o}}", "status", "error",
                                                "category", "OBJECT_NOT_FOUND", "message", message,
                                                "context", "ids", missing));
        free(message);
    } else {
        json_decref(missing);
    }
    return reply(json_array_size(errors) > 0 ? 207 : 200, batch_answer(results, errors));
}

/* --- search --------------------------------------------------------------------------- */

static int by_modified(const void *a, const void *b)
{
    const struct object *x = *(const struct object *const *)a;
    const struct object *y = *(const struct object *const *)b;
    if (x->modified_ms != y->modified_ms) {
        return x->modified_ms < y->modified_ms ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static struct answer search(struct collection *c, const char *modified, const json_t *request)
{
    const json_t *filter = json_array_get(
        json_object_get(json_array_get(json_object_get(request, "filterGroups"), 0), "filters"), 0);
    const char *property = json_string_value(json_object_get(filter, "propertyName"));
    const char *op = json_string_value(json_object_get(filter, "operator"));
    const char *value = json_string_value(json_object_get(filter, "value"));
    const json_t *sort = json_array_get(json_object_get(request, "sorts"), 0);
    json_int_t limit = json_integer_value(json_object_get(request, "limit"));
    const char *after_text = json_string_value(json_object_get(request, "after"));
    long long after = after_text != NULL ? atoll(after_text) : 0;
    const char *sort_property = json_string_value(json_object_get(sort, "propertyName"));
    const char *direction = json_string_value(json_object_get(sort, "direction"));
    if (property == NULL || strcmp(property, modified) != 0 || op == NULL ||
        strcmp(op, "GTE") != 0 || value == NULL || sort_property == NULL ||
        strcmp(sort_property, modified) != 0 || direction == NULL ||
        strcmp(direction, "ASCENDING") != 0) {
        return error_reply(400, "VALIDATION_ERROR",
                           "the fake only answers a GTE filter on the modification date, sorted "
                           "ascending by it");
    }
    if (limit < 1 || limit > 200) {
        return error_reply(400, "VALIDATION_ERROR", "limit must be between 1 and 200");
    }
    if (after >= SEARCH_CAP) {
        return error_reply(400, "VALIDATION_ERROR",
                           "Search results are limited to 10000 results: paging past it is not "
                           "possible");
    }
    int64_t since = atoll(value);
    struct object **matches = calloc(c->count + 1, sizeof(*matches));
    size_t total = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (!c->items[i].deleted && c->items[i].modified_ms >= since) {
            matches[total++] = &c->items[i];
        }
    }
    qsort(matches, total, sizeof(*matches), by_modified);
    json_t *results = json_array();
    const json_t *wanted = json_object_get(request, "properties");
    for (size_t i = (size_t)after; i < total && i < (size_t)after + (size_t)limit; i++) {
        json_array_append_new(results, object_json(matches[i], wanted, modified));
    }
    free(matches);
    json_t *body = json_pack("{s:I, s:o}", "total", (json_int_t)total, "results", results);
    if ((size_t)after + (size_t)limit < total) {
        char next[32];
        snprintf(next, sizeof(next), "%lld", after + (long long)limit);
        json_object_set_new(body, "paging", json_pack("{s:{s:s}}", "next", "after", next));
    }
    return reply(200, body);
}

/* --- meetings and associations --------------------------------------------------------- */

static struct answer meeting_create(struct fake_hubspot *hs, const json_t *request)
{
    const json_t *properties = json_object_get(request, "properties");
    if (!json_is_object(properties) || json_object_get(properties, "hs_timestamp") == NULL) {
        return error_reply(400, "VALIDATION_ERROR", "hs_timestamp is required");
    }
    struct object *o = collection_add(&hs->meetings, 51830467700LL);
    o->created_ms = o->modified_ms = now_ms(hs, 0);
    json_object_update(o->properties, (json_t *)properties);
    size_t i;
    const json_t *association;
    json_array_foreach(json_object_get(request, "associations"), i, association)
    {
        const char *to =
            json_string_value(json_object_get(json_object_get(association, "to"), "id"));
        const json_t *type = json_array_get(json_object_get(association, "types"), 0);
        json_array_append_new(
            o->contacts, json_pack("{s:s?, s:I}", "id", to, "type",
                                   json_integer_value(json_object_get(type, "associationTypeId"))));
    }
    stamp(o, "hs_lastmodifieddate", false);
    return reply(201, object_json(o, NULL, "hs_lastmodifieddate"));
}

static struct answer meeting_patch(struct fake_hubspot *hs, const char *id, const json_t *request)
{
    struct object *o = collection_find(&hs->meetings, id);
    if (o == NULL) {
        return error_reply(404, "OBJECT_NOT_FOUND", "resource not found");
    }
    json_object_update(o->properties, json_object_get(request, "properties"));
    o->modified_ms = now_ms(hs, 0);
    stamp(o, "hs_lastmodifieddate", false);
    return reply(200, object_json(o, NULL, "hs_lastmodifieddate"));
}

static struct answer associate_meetings(struct fake_hubspot *hs, const json_t *request)
{
    json_t *results = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(json_object_get(request, "inputs"), i, input)
    {
        const char *from = json_string_value(json_object_get(json_object_get(input, "from"), "id"));
        const char *to = json_string_value(json_object_get(json_object_get(input, "to"), "id"));
        const json_t *type = json_array_get(json_object_get(input, "types"), 0);
        struct object *o = collection_find(&hs->meetings, from);
        if (o == NULL || to == NULL) {
            continue;
        }
        json_array_append_new(
            o->contacts, json_pack("{s:s, s:I}", "id", to, "type",
                                   json_integer_value(json_object_get(type, "associationTypeId"))));
        json_array_append_new(results,
                              json_pack("{s:s, s:s}", "fromObjectId", from, "toObjectId", to));
    }
    return reply(201, batch_answer(results, json_array()));
}

static struct answer deal_associations(struct fake_hubspot *hs, const json_t *request)
{
    json_t *results = json_array();
    json_t *errors = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(json_object_get(request, "inputs"), i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        struct object *o = collection_find(&hs->deals, id);
        if (o == NULL || json_array_size(o->contacts) == 0) {
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:{s:[s?]}}", "status",
                                                    "error", "category", "NO_ASSOCIATIONS_FOUND",
                                                    "message", "No contacts are associated",
                                                    "context", "fromObjectId", id));
            continue;
        }
        json_t *to = json_array();
        size_t j;
        const json_t *contact;
        json_array_foreach(o->contacts, j, contact)
        {
            json_array_append_new(to, json_pack("{s:I, s:[{s:s, s:i, s:n}]}", "toObjectId",
                                                (json_int_t)atoll(json_string_value(contact)),
                                                "associationTypes", "category", "HUBSPOT_DEFINED",
                                                "typeId", 3, "label"));
        }
        json_array_append_new(results, json_pack("{s:{s:s}, s:o}", "from", "id", id, "to", to));
    }
    return reply(json_array_size(errors) > 0 ? 207 : 200, batch_answer(results, errors));
}

/* The contacts associated with each meeting (v4 batch read, meetings -> contacts): 207
 * NO_ASSOCIATIONS_FOUND for a meeting without any. */
static struct answer meeting_contacts(struct fake_hubspot *hs, const json_t *request)
{
    json_t *results = json_array();
    json_t *errors = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(json_object_get(request, "inputs"), i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        struct object *o = collection_find(&hs->meetings, id);
        if (o == NULL || json_array_size(o->contacts) == 0) {
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:{s:[s?]}}", "status",
                                                    "error", "category", "NO_ASSOCIATIONS_FOUND",
                                                    "message", "No contacts are associated",
                                                    "context", "fromObjectId", id));
            continue;
        }
        json_t *to = json_array();
        size_t j;
        const json_t *contact;
        json_array_foreach(o->contacts, j, contact)
        {
            json_array_append_new(
                to, json_pack("{s:I, s:[{s:s, s:i, s:n}]}", "toObjectId",
                              (json_int_t)atoll(json_string_value(json_object_get(contact, "id"))),
                              "associationTypes", "category", "HUBSPOT_DEFINED", "typeId", 200,
                              "label"));
        }
        json_array_append_new(results, json_pack("{s:{s:s}, s:o}", "from", "id", id, "to", to));
    }
    return reply(json_array_size(errors) > 0 ? 207 : 200, batch_answer(results, errors));
}

/* The meetings associated with each contact (v4 batch read, contacts -> meetings): 207
 * NO_ASSOCIATIONS_FOUND for a contact without any, as for deals. */
static struct answer contact_meetings(struct fake_hubspot *hs, const json_t *request)
{
    json_t *results = json_array();
    json_t *errors = json_array();
    size_t i;
    const json_t *input;
    json_array_foreach(json_object_get(request, "inputs"), i, input)
    {
        const char *id = json_string_value(json_object_get(input, "id"));
        json_t *to = json_array();
        for (size_t m = 0; id != NULL && m < hs->meetings.count; m++) {
            const struct object *o = &hs->meetings.items[m];
            size_t j;
            const json_t *contact;
            json_array_foreach(o->contacts, j, contact)
            {
                const char *contact_id = json_string_value(json_object_get(contact, "id"));
                if (!o->deleted && contact_id != NULL && strcmp(contact_id, id) == 0) {
                    /* contact -> meeting is the other direction's type id */
                    json_array_append_new(to, json_pack("{s:I, s:[{s:s, s:i, s:n}]}", "toObjectId",
                                                        (json_int_t)atoll(o->id),
                                                        "associationTypes", "category",
                                                        "HUBSPOT_DEFINED", "typeId", 199, "label"));
                    break;
                }
            }
        }
        if (json_array_size(to) == 0) {
            json_decref(to);
            json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:{s:[s?]}}", "status",
                                                    "error", "category", "NO_ASSOCIATIONS_FOUND",
                                                    "message", "No meetings are associated",
                                                    "context", "fromObjectId", id));
            continue;
        }
        json_array_append_new(results, json_pack("{s:{s:s}, s:o}", "from", "id", id, "to", to));
    }
    return reply(json_array_size(errors) > 0 ? 207 : 200, batch_answer(results, errors));
}

/* A rep edits a contact (the mutex held): properties change, lastmodifieddate moves. */
static void contact_edit(struct fake_hubspot *hs, const char *id, const char *properties_json,
                         int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, JSON_ALLOW_NUL, NULL);
    struct object *o = collection_find(&hs->contacts, id);
    if (o != NULL) {
        json_object_update(o->properties, properties);
        o->modified_ms = now_ms(hs, modified_ms);
        stamp(o, "lastmodifieddate", false);
        index_email(hs, o);
    }
    json_decref(properties);
}

/* --- dispatch ------------------------------------------------------------------------- */

static bool scripted_failure(struct fake_hubspot *hs, const char *method, const char *path,
                             bool carried_out, struct answer *a)
{
    for (size_t i = 0; i < hs->failure_count; i++) {
        struct failure *f = &hs->failures[i];
        if (f->times > 0 && f->carry_out == carried_out &&
            (f->method == NULL || strcmp(f->method, method) == 0) &&
            strncmp(path, f->prefix, strlen(f->prefix)) == 0) {
            if (f->skip > 0) {
                f->skip--;
                continue;
            }
            f->times--;
            a->status = f->status;
            a->body = strdup(f->body != NULL ? f->body : "");
            a->header = f->header != NULL ? strdup(f->header) : NULL;
            return true;
        }
    }
    return false;
}

static struct answer route_request(struct fake_hubspot *hs, const char *method, const char *path,
                                   const char *body, const char *authorization)
{
    struct answer a = {0};
    if (scripted_failure(hs, method, path, false, &a)) {
        return a;
    }
    if (strcmp(method, "POST") == 0 &&
        (strcmp(path, "/oauth/v1/token") == 0 || strcmp(path, "/oauth/v3/token") == 0)) {
        return token_endpoint(hs, body);
    }
    if (strncmp(path, "/crm/", 5) != 0) {
        return error_reply(404, "OBJECT_NOT_FOUND", "no such endpoint in the fake");
    }
    if (check_token(hs, authorization, &a) != 0) {
        return a;
    }
    json_t *request =
        body != NULL && body[0] != '\0' ? json_loads(body, JSON_ALLOW_NUL, NULL) : NULL;
    if (body != NULL && body[0] != '\0' && request == NULL) {
        return error_reply(400, "VALIDATION_ERROR", "Invalid input JSON");
    }
    bool post = strcmp(method, "POST") == 0;
    if (post && strcmp(path, "/crm/v3/objects/contacts/batch/upsert") == 0) {
        a = contacts_upsert(hs, request);
    } else if (post && strcmp(path, "/crm/v3/objects/contacts/batch/update") == 0) {
        a = batch_update(hs, &hs->contacts, "lastmodifieddate", request);
    } else if (post && strcmp(path, "/crm/v3/objects/contacts/batch/read") == 0) {
        a = batch_read(hs, &hs->contacts, "lastmodifieddate", "CONTACT", request);
    } else if (post && strcmp(path, "/crm/v3/objects/deals/batch/read") == 0) {
        a = batch_read(hs, &hs->deals, "hs_lastmodifieddate", "DEAL", request);
    } else if (post && strcmp(path, "/crm/v3/objects/contacts/gdpr-delete") == 0) {
        a = contact_gdpr_delete(hs, request);
    } else if (strcmp(method, "DELETE") == 0 &&
               strncmp(path, "/crm/v3/objects/contacts/", 25) == 0) {
        a = contact_remove(hs, path + 25, false);
    } else if (post && strcmp(path, "/crm/v3/objects/contacts/search") == 0) {
        a = search(&hs->contacts, "lastmodifieddate", request);
        if (++hs->contact_searches == hs->edit_after_search && hs->edit_id != NULL) {
            contact_edit(hs, hs->edit_id, hs->edit_properties, 0);
        }
    } else if (post && strcmp(path, "/crm/v3/objects/deals/search") == 0) {
        a = search(&hs->deals, "hs_lastmodifieddate", request);
    } else if (post && strcmp(path, "/crm/v3/objects/meetings") == 0) {
        a = meeting_create(hs, request);
    } else if (strcmp(method, "PATCH") == 0 &&
               strncmp(path, "/crm/v3/objects/meetings/", 25) == 0) {
        a = meeting_patch(hs, path + 25, request);
    } else if (strcmp(method, "GET") == 0 &&
               strcmp(path, "/crm/v4/associations/meetings/contacts/labels") == 0) {
        /* a labeled type first, so that taking the first would be wrong */
        a = reply(200, json_pack("{s:[{s:s, s:i, s:s}, {s:s, s:i, s:n}]}", "results", "category",
                                 "USER_DEFINED", "typeId", 77, "label", "Attendee", "category",
                                 "HUBSPOT_DEFINED", "typeId", hs->meeting_type, "label"));
    } else if (post && strcmp(path, "/crm/v4/associations/meetings/contacts/batch/create") == 0) {
        a = associate_meetings(hs, request);
    } else if (post && strcmp(path, "/crm/v4/associations/deals/contacts/batch/read") == 0) {
        a = deal_associations(hs, request);
    } else if (post && strcmp(path, "/crm/v3/objects/meetings/search") == 0) {
        a = search(&hs->meetings, "hs_lastmodifieddate", request);
    } else if (post && strcmp(path, "/crm/v4/associations/meetings/contacts/batch/read") == 0) {
        a = meeting_contacts(hs, request);
    } else if (post && strcmp(path, "/crm/v3/objects/meetings/batch/read") == 0) {
        a = batch_read(hs, &hs->meetings, "hs_lastmodifieddate", "MEETING", request);
    } else if (post && strcmp(path, "/crm/v4/associations/contacts/meetings/batch/read") == 0) {
        a = contact_meetings(hs, request);
    } else {
        a = error_reply(404, "OBJECT_NOT_FOUND", "no such endpoint in the fake");
    }
    json_decref(request);
    return a;
}

/* A request, and the answer that reaches the client: the one scripted to replace it when
 * its answer is to be lost (the work done all the same). */
static struct answer route(struct fake_hubspot *hs, const char *method, const char *path,
                           const char *body, const char *authorization)
{
    struct answer a = route_request(hs, method, path, body, authorization);
    struct answer lost = {0};
    if (a.status < 300 && scripted_failure(hs, method, path, true, &lost)) {
        free(a.body);
        free(a.header);
        a = lost;
    }
    return a;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *connection)
{
    (void)cls;
    (void)connection;
    struct upload *upload = calloc(1, sizeof(*upload));
    if (upload != NULL) {
        upload->uri = strdup(uri);
    }
    return upload;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)url;
    struct fake_hubspot *hs = cls;
    struct upload *upload = *con_cls;
    if (upload == NULL) {
        return MHD_NO;
    }
    if (!upload->started) {
        upload->started = true;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        strbuf_append_len(&upload->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    const char *authorization =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *body = strbuf_value(&upload->body);
    pthread_mutex_lock(&hs->mutex);
    struct fake_hubspot_request *grown =
        realloc(hs->received, (hs->received_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        hs->received = grown;
        hs->received[hs->received_count++] = (struct fake_hubspot_request){
            strdup(method), strdup(upload->uri), strdup(body != NULL ? body : ""),
            authorization != NULL ? strdup(authorization) : NULL, util_now_ms()};
    }
    /* a slow HubSpot: answered latency_ms after arrival, from the data of that moment */
    int64_t arrived = util_monotonic_ms();
    hs->held++;
    while (hs->latency_ms > 0 && util_monotonic_ms() - arrived < hs->latency_ms) {
        struct timespec deadline;
        util_deadline(hs->latency_ms - (util_monotonic_ms() - arrived), &deadline);
        pthread_cond_timedwait(&hs->latency_changed, &hs->mutex, &deadline);
    }
    hs->held--;
    struct answer a = route(hs, method, upload->uri, body != NULL ? body : "", authorization);
    pthread_mutex_unlock(&hs->mutex);
    const char *text = a.body != NULL ? a.body : "";
    struct MHD_Response *response =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(response, "Content-Type", "application/json;charset=utf-8");
    /* "Name: value" lines, separated by \n */
    char *saveptr = NULL;
    for (char *line = a.header != NULL ? strtok_r(a.header, "\n", &saveptr) : NULL; line != NULL;
         line = strtok_r(NULL, "\n", &saveptr)) {
        char *colon = strchr(line, ':');
        if (colon != NULL) {
            *colon = '\0';
            MHD_add_response_header(response, line, colon + 1 + (colon[1] == ' '));
        }
    }
    enum MHD_Result rc = MHD_queue_response(connection, (unsigned)a.status, response);
    MHD_destroy_response(response);
    free(a.body);
    free(a.header);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)connection;
    (void)toe;
    struct upload *upload = *con_cls;
    if (upload != NULL) {
        strbuf_free(&upload->body);
        free(upload->uri);
        free(upload);
        *con_cls = NULL;
    }
}

struct fake_hubspot *fake_hubspot_start(void)
{
    struct fake_hubspot *hs = calloc(1, sizeof(*hs));
    if (hs == NULL) {
        return NULL;
    }
    pthread_mutex_init(&hs->mutex, NULL);
    pthread_cond_init(&hs->latency_changed, NULL);
    hs->email_index = json_object();
    hs->allowed = json_object();
    hs->issued = json_object();
    hs->revoked = -1;
    hs->expires_in = 1800;
    hs->meeting_type = 200;
    hs->mhd =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, on_request, hs, MHD_OPTION_NOTIFY_COMPLETED, on_completed, hs,
                         MHD_OPTION_URI_LOG_CALLBACK, on_uri, hs, MHD_OPTION_END);
    if (hs->mhd == NULL) {
        fake_hubspot_stop(hs);
        return NULL;
    }
    hs->port = MHD_get_daemon_info(hs->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
    return hs;
}

void fake_hubspot_stop(struct fake_hubspot *hs)
{
    if (hs == NULL) {
        return;
    }
    fake_hubspot_latency(hs, 0); /* let held requests go, so that their threads end */
    if (hs->mhd != NULL) {
        MHD_stop_daemon(hs->mhd);
    }
    pthread_cond_destroy(&hs->latency_changed);
    collection_free(&hs->contacts);
    collection_free(&hs->deals);
    collection_free(&hs->meetings);
    json_decref(hs->email_index);
    json_decref(hs->allowed);
    json_decref(hs->issued);
    free(hs->client_id);
    free(hs->client_secret);
    free(hs->refresh_token);
    free(hs->rotate_to);
    free(hs->edit_id);
    free(hs->edit_properties);
    free(hs->anonymous_email);
    for (size_t i = 0; i < hs->failure_count; i++) {
        free(hs->failures[i].method);
        free(hs->failures[i].prefix);
        free(hs->failures[i].body);
        free(hs->failures[i].header);
    }
    free(hs->failures);
    for (size_t i = 0; i < hs->rejection_count; i++) {
        free(hs->rejections[i].email);
        free(hs->rejections[i].category);
        free(hs->rejections[i].message);
    }
    free(hs->rejections);
    for (size_t i = 0; i < hs->received_count; i++) {
        fake_hubspot_request_free(&hs->received[i]);
    }
    free(hs->received);
    pthread_mutex_destroy(&hs->mutex);
    free(hs);
}

char *fake_hubspot_access_token(int n)
{
    char *token = malloc(TOKEN_LEN + 1);
    if (token != NULL) {
        access_token_text(n, token);
    }
    return token;
}

char *fake_hubspot_url(const struct fake_hubspot *hs, const char *path)
{
    return util_printf("http://127.0.0.1:%d%s", hs->port, path);
}

void fake_hubspot_allow_token(struct fake_hubspot *hs, const char *token)
{
    pthread_mutex_lock(&hs->mutex);
    json_object_set_new(hs->allowed, token, json_true());
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_oauth_client(struct fake_hubspot *hs, const char *client_id,
                               const char *client_secret, const char *refresh_token, int expires_in)
{
    pthread_mutex_lock(&hs->mutex);
    free(hs->client_id);
    free(hs->client_secret);
    free(hs->refresh_token);
    hs->client_id = strdup(client_id);
    hs->client_secret = strdup(client_secret);
    hs->refresh_token = strdup(refresh_token);
    hs->expires_in = expires_in;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_oauth_rotate(struct fake_hubspot *hs, const char *new_refresh_token)
{
    pthread_mutex_lock(&hs->mutex);
    free(hs->rotate_to);
    hs->rotate_to = strdup(new_refresh_token);
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_oauth_revoke(struct fake_hubspot *hs, enum fake_hubspot_revocation style)
{
    pthread_mutex_lock(&hs->mutex);
    hs->revoked = (int)style;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_oauth_reinstall(struct fake_hubspot *hs, const char *refresh_token)
{
    pthread_mutex_lock(&hs->mutex);
    free(hs->refresh_token);
    hs->refresh_token = strdup(refresh_token);
    hs->revoked = -1;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_expire_tokens(struct fake_hubspot *hs)
{
    pthread_mutex_lock(&hs->mutex);
    const char *token;
    json_t *expiry;
    json_object_foreach(hs->issued, token, expiry)
    {
        json_integer_set(expiry, 0);
    }
    pthread_mutex_unlock(&hs->mutex);
}

char *fake_hubspot_contact_add(struct fake_hubspot *hs, const char *properties_json,
                               int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, JSON_ALLOW_NUL, NULL);
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_add(&hs->contacts, 80100);
    o->created_ms = o->modified_ms = now_ms(hs, modified_ms);
    json_object_update(o->properties, properties);
    stamp(o, "lastmodifieddate", true);
    index_email(hs, o);
    char *id = strdup(o->id);
    pthread_mutex_unlock(&hs->mutex);
    json_decref(properties);
    return id;
}

void fake_hubspot_contacts_add_many(struct fake_hubspot *hs, size_t n, int64_t first_ms)
{
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < n; i++) {
        struct object *o = collection_add(&hs->contacts, 80100);
        o->created_ms = o->modified_ms = now_ms(hs, first_ms + (int64_t)i);
        char email[64];
        snprintf(email, sizeof(email), "n%zu@bulk.example", i);
        json_object_set_new(o->properties, "email", json_string(email));
        stamp(o, "lastmodifieddate", true);
        index_email(hs, o);
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contact_update(struct fake_hubspot *hs, const char *id,
                                 const char *properties_json, int64_t modified_ms)
{
    pthread_mutex_lock(&hs->mutex);
    contact_edit(hs, id, properties_json, modified_ms);
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contact_delete(struct fake_hubspot *hs, const char *id)
{
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_find(&hs->contacts, id);
    if (o != NULL) {
        o->deleted = true;
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contact_restore(struct fake_hubspot *hs, const char *id)
{
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < hs->contacts.count; i++) {
        struct object *o = &hs->contacts.items[i];
        if (o->deleted && !o->purged && strcmp(o->id, id) == 0) {
            o->deleted = false;
            o->modified_ms = now_ms(hs, 0);
            stamp(o, "lastmodifieddate", false);
        }
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contact_merge(struct fake_hubspot *hs, const char *primary, const char *merged)
{
    pthread_mutex_lock(&hs->mutex);
    struct object *kept = collection_find(&hs->contacts, primary);
    struct object *gone = collection_find(&hs->contacts, merged);
    if (kept != NULL && gone != NULL && kept != gone) {
        /* the primary's values win; the merged email becomes an additional one */
        const char *key;
        json_t *value;
        json_object_foreach(gone->properties, key, value)
        {
            if (strcmp(key, "email") != 0 && json_object_get(kept->properties, key) == NULL) {
                json_object_set(kept->properties, key, value);
            }
        }
        const char *email = json_string_value(json_object_get(gone->properties, "email"));
        const char *extra =
            json_string_value(json_object_get(kept->properties, "hs_additional_emails"));
        if (email != NULL) {
            char *joined = extra != NULL && extra[0] != '\0' ? util_printf("%s;%s", extra, email)
                                                             : strdup(email);
            json_object_set_new(kept->properties, "hs_additional_emails", json_string(joined));
            free(joined);
        }
        gone->deleted = true;
        kept->modified_ms = now_ms(hs, 0);
        stamp(kept, "lastmodifieddate", false);
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contact_update_after_search(struct fake_hubspot *hs, const char *id,
                                              const char *properties_json, size_t nth)
{
    pthread_mutex_lock(&hs->mutex);
    free(hs->edit_id);
    free(hs->edit_properties);
    hs->edit_id = strdup(id);
    hs->edit_properties = strdup(properties_json);
    hs->edit_after_search = hs->contact_searches + nth;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_contacts_add_at(struct fake_hubspot *hs, size_t n, int64_t modified_ms)
{
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < n; i++) {
        struct object *o = collection_add(&hs->contacts, 80100);
        o->created_ms = o->modified_ms = modified_ms;
        char email[64];
        snprintf(email, sizeof(email), "same%zu@bulk.example", i);
        json_object_set_new(o->properties, "email", json_string(email));
        stamp(o, "lastmodifieddate", true);
        index_email(hs, o);
    }
    pthread_mutex_unlock(&hs->mutex);
}

char *fake_hubspot_contact(struct fake_hubspot *hs, const char *id)
{
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_find(&hs->contacts, id);
    char *text = o != NULL ? json_dumps(o->properties, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    pthread_mutex_unlock(&hs->mutex);
    return text;
}

const char *fake_hubspot_contact_state(struct fake_hubspot *hs, const char *id)
{
    const char *state = NULL;
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < hs->contacts.count; i++) {
        const struct object *o = &hs->contacts.items[i];
        if (strcmp(o->id, id) == 0) {
            state = o->purged ? "purged" : o->deleted ? "archived" : "live";
        }
    }
    pthread_mutex_unlock(&hs->mutex);
    return state;
}

char *fake_hubspot_contact_id(struct fake_hubspot *hs, const char *email)
{
    pthread_mutex_lock(&hs->mutex);
    struct object *o = contact_by_email(hs, email);
    char *id = o != NULL ? strdup(o->id) : NULL;
    pthread_mutex_unlock(&hs->mutex);
    return id;
}

size_t fake_hubspot_contact_count(struct fake_hubspot *hs)
{
    pthread_mutex_lock(&hs->mutex);
    size_t n = 0;
    for (size_t i = 0; i < hs->contacts.count; i++) {
        n += !hs->contacts.items[i].deleted;
    }
    pthread_mutex_unlock(&hs->mutex);
    return n;
}

char *fake_hubspot_deal_add(struct fake_hubspot *hs, const char *properties_json,
                            const char *contact_id, int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, JSON_ALLOW_NUL, NULL);
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_add(&hs->deals, 19347718200LL);
    o->created_ms = o->modified_ms = now_ms(hs, modified_ms);
    json_object_update(o->properties, properties);
    if (contact_id != NULL) {
        json_array_append_new(o->contacts, json_string(contact_id));
    }
    stamp(o, "hs_lastmodifieddate", true);
    char *id = strdup(o->id);
    pthread_mutex_unlock(&hs->mutex);
    json_decref(properties);
    return id;
}

void fake_hubspot_deal_update(struct fake_hubspot *hs, const char *id, const char *properties_json,
                              int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, JSON_ALLOW_NUL, NULL);
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_find(&hs->deals, id);
    if (o != NULL) {
        json_object_update(o->properties, properties);
        o->modified_ms = now_ms(hs, modified_ms);
        stamp(o, "hs_lastmodifieddate", false);
    }
    pthread_mutex_unlock(&hs->mutex);
    json_decref(properties);
}

size_t fake_hubspot_meeting_count(struct fake_hubspot *hs)
{
    pthread_mutex_lock(&hs->mutex);
    size_t n = 0;
    for (size_t i = 0; i < hs->meetings.count; i++) {
        n += !hs->meetings.items[i].deleted;
    }
    pthread_mutex_unlock(&hs->mutex);
    return n;
}

char *fake_hubspot_meeting(struct fake_hubspot *hs, size_t i)
{
    pthread_mutex_lock(&hs->mutex);
    char *text = NULL;
    if (i < hs->meetings.count) {
        const struct object *o = &hs->meetings.items[i];
        json_t *m = json_pack("{s:s, s:O, s:O, s:b}", "id", o->id, "properties", o->properties,
                              "contacts", o->contacts, "deleted", o->deleted);
        text = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(m);
    }
    pthread_mutex_unlock(&hs->mutex);
    return text;
}

char *fake_hubspot_meeting_add(struct fake_hubspot *hs, const char *properties_json,
                               const char *contact_id, int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, 0, NULL);
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_add(&hs->meetings, 51830467700LL);
    o->created_ms = o->modified_ms = now_ms(hs, modified_ms);
    json_object_update(o->properties, properties);
    if (contact_id != NULL) {
        json_array_append_new(o->contacts, json_pack("{s:s, s:i}", "id", contact_id, "type", 200));
    }
    stamp(o, "hs_lastmodifieddate", true);
    char *id = strdup(o->id);
    pthread_mutex_unlock(&hs->mutex);
    json_decref(properties);
    return id;
}

void fake_hubspot_meeting_update(struct fake_hubspot *hs, const char *id,
                                 const char *properties_json, int64_t modified_ms)
{
    json_t *properties = json_loads(properties_json, 0, NULL);
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_find(&hs->meetings, id);
    if (o != NULL) {
        json_object_update(o->properties, properties);
        o->modified_ms = now_ms(hs, modified_ms);
        stamp(o, "hs_lastmodifieddate", false);
    }
    pthread_mutex_unlock(&hs->mutex);
    json_decref(properties);
}

void fake_hubspot_meeting_delete(struct fake_hubspot *hs, const char *id)
{
    pthread_mutex_lock(&hs->mutex);
    struct object *o = collection_find(&hs->meetings, id);
    if (o != NULL) {
        o->deleted = true;
    }
    pthread_mutex_unlock(&hs->mutex);
}

/* hs_meeting_start_time: RFC 3339 or epoch ms, as HubSpot takes both; -1 when absent. */
static int64_t meeting_start_ms(const json_t *properties)
{
    const char *text = json_string_value(json_object_get(properties, "hs_meeting_start_time"));
    int64_t ms = -1;
    if (text != NULL && util_parse_rfc3339(text, &ms) != 0) {
        char *end = NULL;
        long long epoch = strtoll(text, &end, 10);
        ms = end != text && *end == '\0' ? (int64_t)epoch : -1;
    }
    return ms;
}

static const char *meeting_status(const json_t *properties)
{
    const char *outcome = json_string_value(json_object_get(properties, "hs_meeting_outcome"));
    static const char *const outcomes[][2] = {
        {"CANCELED", "canceled"}, {"COMPLETED", "held"}, {"NO_SHOW", "no_show"}};
    for (size_t i = 0; outcome != NULL && i < UTIL_ARRAY_LEN(outcomes); i++) {
        if (strcmp(outcome, outcomes[i][0]) == 0) {
            return outcomes[i][1];
        }
    }
    return "booked";
}

static bool meeting_has_contact(const struct object *meeting, const char *contact_id)
{
    size_t i;
    const json_t *association;
    json_array_foreach(meeting->contacts, i, association)
    {
        const char *id = json_string_value(json_object_get(association, "id"));
        if (id != NULL && strcmp(id, contact_id) == 0) {
            return true;
        }
    }
    return false;
}

char *fake_hubspot_crm_view(struct fake_hubspot *hs)
{
    json_t *persons = json_array();
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < hs->contacts.count; i++) {
        const struct object *contact = &hs->contacts.items[i];
        if (contact->deleted) {
            continue;
        }
        const json_t *p = contact->properties;
        const char *first = json_string_value(json_object_get(p, "firstname"));
        const char *last = json_string_value(json_object_get(p, "lastname"));
        char *name =
            first != NULL || last != NULL
                ? util_printf("%s%s%s", first != NULL ? first : "",
                              first != NULL && last != NULL ? " " : "", last != NULL ? last : "")
                : NULL;
        const char *stage = json_string_value(json_object_get(p, "lifecyclestage"));
        json_t *meetings = json_array();
        for (size_t k = 0; k < hs->meetings.count; k++) {
            const struct object *meeting = &hs->meetings.items[k];
            if (!meeting->deleted && meeting_has_contact(meeting, contact->id)) {
                const json_t *mp = meeting->properties;
                json_array_append_new(
                    meetings,
                    crm_view_meeting(json_string_value(json_object_get(mp, "hs_meeting_title")),
                                     meeting_start_ms(mp), meeting_status(mp)));
            }
        }
        json_array_append_new(
            persons, crm_view_person(json_string_value(json_object_get(p, "email")), name,
                                     json_string_value(json_object_get(p, "company")),
                                     stage != NULL && strcmp(stage, "customer") == 0, meetings));
        free(name);
    }
    pthread_mutex_unlock(&hs->mutex);
    return crm_view_finish(persons);
}

void fake_hubspot_meeting_association_type(struct fake_hubspot *hs, int type_id)
{
    pthread_mutex_lock(&hs->mutex);
    hs->meeting_type = type_id;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_fail(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                       int status, const char *body, const char *header, int times)
{
    fake_hubspot_fail_later(hs, method, path_prefix, 0, status, body, header, times);
}

void fake_hubspot_fail_later(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                             int skip, int status, const char *body, const char *header, int times)
{
    pthread_mutex_lock(&hs->mutex);
    struct failure *grown = realloc(hs->failures, (hs->failure_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        hs->failures = grown;
        hs->failures[hs->failure_count++] = (struct failure){
            method != NULL ? strdup(method) : NULL,
            strdup(path_prefix),
            status,
            body != NULL ? strdup(body) : NULL,
            header != NULL ? strdup(header) : NULL,
            times,
            skip,
            false,
        };
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_lose_answers(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                               int times)
{
    fake_hubspot_fail(hs, method, path_prefix, 504,
                      "<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in "
                      "time.</body></html>",
                      NULL, times);
    pthread_mutex_lock(&hs->mutex);
    hs->failures[hs->failure_count - 1].carry_out = true;
    pthread_mutex_unlock(&hs->mutex);
}

/* HubSpot's 429 body for a policy: the provider notes' example
 * (plugins/hubspot/tests/fixtures/error.429.ten_secondly.json) with that policy's name and
 * message. Malloc'd. */
static char *rate_limit_body(const char *policy)
{
    char *path = util_printf("%s/plugins/hubspot/tests/fixtures/error.429.ten_secondly.json",
                             tu_source_dir());
    json_t *body = path != NULL ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    if (body == NULL) {
        return NULL;
    }
    char *lowered = lower(policy);
    char *message = util_printf("You have reached your %s limit.", lowered);
    json_object_set_new(body, "policyName", json_string(policy));
    json_object_set_new(body, "message", json_string(message));
    char *text = json_dumps(body, JSON_COMPACT);
    free(message);
    free(lowered);
    json_decref(body);
    return text;
}

void fake_hubspot_rate_limit(struct fake_hubspot *hs, const char *method, const char *path_prefix,
                             const char *policy, int interval_ms, int times)
{
    char *body = rate_limit_body(policy);
    char *headers = NULL;
    if (strcmp(policy, "SECONDLY") != 0) {
        /* search answers carry no rate-limit headers; the others do */
        bool daily = strcmp(policy, "DAILY") == 0;
        headers = util_printf("X-HubSpot-RateLimit-Max: 100\nX-HubSpot-RateLimit-Remaining: "
                              "%d\nX-HubSpot-RateLimit-Interval-Milliseconds: %d\n"
                              "X-HubSpot-RateLimit-Daily: 250000\n"
                              "X-HubSpot-RateLimit-Daily-Remaining: %d",
                              daily ? 87 : 0, interval_ms, daily ? 0 : 241760);
    }
    fake_hubspot_fail(hs, method, path_prefix, 429, body, headers, times);
    free(body);
    free(headers);
}

void fake_hubspot_reject_email(struct fake_hubspot *hs, const char *email, const char *category,
                               const char *message, int times)
{
    pthread_mutex_lock(&hs->mutex);
    struct rejection *grown = realloc(hs->rejections, (hs->rejection_count + 1) * sizeof(*grown));
    if (grown != NULL) {
        hs->rejections = grown;
        hs->rejections[hs->rejection_count++] = (struct rejection){
            strdup(email), strdup(category), message != NULL ? strdup(message) : NULL, times};
    }
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_anonymous_upserts(struct fake_hubspot *hs, bool anonymous)
{
    pthread_mutex_lock(&hs->mutex);
    hs->anonymous_upserts = anonymous;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_anonymous_upsert_of(struct fake_hubspot *hs, const char *email)
{
    pthread_mutex_lock(&hs->mutex);
    free(hs->anonymous_email);
    hs->anonymous_email = email != NULL ? strdup(email) : NULL;
    pthread_mutex_unlock(&hs->mutex);
}

void fake_hubspot_reject_whole_request(struct fake_hubspot *hs, bool whole)
{
    pthread_mutex_lock(&hs->mutex);
    hs->whole_request = whole;
    pthread_mutex_unlock(&hs->mutex);
}

size_t fake_hubspot_request_count(struct fake_hubspot *hs)
{
    pthread_mutex_lock(&hs->mutex);
    size_t n = hs->received_count;
    pthread_mutex_unlock(&hs->mutex);
    return n;
}

static char *dup_or_null(const char *text)
{
    return text != NULL ? strdup(text) : NULL;
}

static struct fake_hubspot_request copy_request(const struct fake_hubspot_request *r)
{
    return (struct fake_hubspot_request){dup_or_null(r->method), dup_or_null(r->path),
                                         dup_or_null(r->body), dup_or_null(r->authorization),
                                         r->received_ms};
}

struct fake_hubspot_request fake_hubspot_request(struct fake_hubspot *hs, size_t i)
{
    struct fake_hubspot_request copy = {0};
    pthread_mutex_lock(&hs->mutex);
    if (i < hs->received_count) {
        copy = copy_request(&hs->received[i]);
    }
    pthread_mutex_unlock(&hs->mutex);
    return copy;
}

static bool request_matches(const struct fake_hubspot_request *r, const char *method,
                            const char *path_prefix)
{
    return (method == NULL || strcmp(r->method, method) == 0) &&
           strncmp(r->path, path_prefix, strlen(path_prefix)) == 0;
}

size_t fake_hubspot_count(struct fake_hubspot *hs, const char *method, const char *path_prefix)
{
    pthread_mutex_lock(&hs->mutex);
    size_t n = 0;
    for (size_t i = 0; i < hs->received_count; i++) {
        n += request_matches(&hs->received[i], method, path_prefix);
    }
    pthread_mutex_unlock(&hs->mutex);
    return n;
}

struct fake_hubspot_request fake_hubspot_find(struct fake_hubspot *hs, const char *method,
                                              const char *path_prefix, size_t nth)
{
    struct fake_hubspot_request copy = {0};
    pthread_mutex_lock(&hs->mutex);
    for (size_t i = 0; i < hs->received_count; i++) {
        if (request_matches(&hs->received[i], method, path_prefix) && nth-- == 0) {
            copy = copy_request(&hs->received[i]);
            break;
        }
    }
    pthread_mutex_unlock(&hs->mutex);
    return copy;
}

void fake_hubspot_request_free(struct fake_hubspot_request *r)
{
    free(r->method);
    free(r->path);
    free(r->body);
    free(r->authorization);
    memset(r, 0, sizeof(*r));
}

void fake_hubspot_latency(struct fake_hubspot *hs, int64_t latency_ms)
{
    pthread_mutex_lock(&hs->mutex);
    hs->latency_ms = latency_ms;
    pthread_cond_broadcast(&hs->latency_changed);
    pthread_mutex_unlock(&hs->mutex);
}

size_t fake_hubspot_held(struct fake_hubspot *hs)
{
    pthread_mutex_lock(&hs->mutex);
    size_t held = hs->held;
    pthread_mutex_unlock(&hs->mutex);
    return held;
}
